//! SV1 load generator: thousands of Antminer-like connections from one process.
//!
//! Each connection performs the full handshake, follows the pool's notifications like the
//! hashing miner does, and submits shares as a Poisson process at the rate its
//! `simulated_hashrate` implies at the current difficulty: `hashrate / (difficulty * 2^32)`
//! shares per second (capped by `max_share_rate`). Connections do not hash continuously; when
//! shares are due, the connection searches for them with at most `hash_budget` hashes each:
//!
//! * if the pool's difficulty is low enough (`difficulty * 2^32` well below the budget), real
//!   shares meeting the target are found and submitted — valid-share throughput therefore
//!   needs a low difficulty set by the server;
//! * otherwise the connection submits a header that does not meet the target (counted in
//!   [`MinerStats::shares_submitted_below_target`](crate::miner::MinerStats)); the pool should
//!   reject it as low difficulty. When the expected cost exceeds 16 budgets no hashing is
//!   attempted at all.
//!
//! Cost per share is kept small so that one core drives a translator at full speed: a
//! connection wakes at most every [`MIN_WAKE`] and sends every share due by then with one
//! write; at low difficulty (at most [`INLINE_EXPECTED`] hashes per share) the search runs on
//! the connection's own task through a [`cursor`](super::cursor) that keeps every share a
//! slice of nonces held (at the load tests' difficulty three hashes in four are shares);
//! submits are written without a JSON serializer and the usual acknowledgements are read
//! without a JSON parser (see [`wire`](super::wire)). Harder searches run on the blocking
//! pool, one per core at a time. A connection never hashes a header twice, even when a job
//! is sent again.
//!
//! Load mode is meant for connection-count, memory and message-rate tests of a pool. It is
//! bounded: at most [`MAX_LOAD_CONNECTIONS`] connections, opened at `connect_rate` per second,
//! for at most [`MAX_LOAD_DURATION`].

use std::sync::Arc;
use std::time::Duration;

use bitcoin::secp256k1::rand::{thread_rng, Rng};
use futures::{SinkExt, StreamExt};
use sv1::{Id, Response, ServerMessage};
use sv2_mining::target::{hash_difficulty, Target};
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};
use tokio_util::codec::FramedRead;

use super::cursor::Cursor;
use super::session::{open, Writer};
use super::state::{Handshake, Sv1Effect, Sv1State, Sv1Tag};
use super::wire::{json_string, AckCodec, Incoming, SubmitLine};
use super::{MAX_RECONNECT_WAIT, VERSION_ROLLING_MASK};
use crate::miner::error::MinerError;
use crate::miner::handle::{MinerHandle, StopSignal};
use crate::miner::stats::{bump, Stats, StatsHandle};
use crate::miner::util::{
    exponential_delay, reconnect_target, saturating_after, split_host_port, HASHES_PER_DIFF1,
};
use crate::miner::work::{hash_range, unit_hasher, Found, JobTemplate, SearchSpace};

/// Most connections one load generator opens.
pub const MAX_LOAD_CONNECTIONS: usize = 100_000;
/// Longest a load run may last.
pub const MAX_LOAD_DURATION: Duration = Duration::from_secs(24 * 3600);
/// Nonces per header template in load mode (small units keep each search short).
const LOAD_NONCE_BITS: u32 = 12;
/// Nonces hashed between checks for a share while searching.
const SEARCH_SLICE: u64 = super::cursor::SEARCH_SLICE;
/// Shortest time between two share batches of one connection.
pub const MIN_WAKE: Duration = Duration::from_millis(5);
/// Shares one connection sends per wake-up at most.
const MAX_BATCH: usize = 256;
/// Expected hashes per share up to which the search runs on the connection's task.
pub const INLINE_EXPECTED: f64 = 64.0;
/// How far the share schedule may fall behind before the backlog is dropped.
const MAX_BACKLOG: Duration = Duration::from_secs(1);
/// How long a connection waits for answers to its submits after the run's deadline.
const LOAD_DRAIN: Duration = Duration::from_secs(1);
/// Beyond this many budgets of expected hashes, no search is attempted.
const HOPELESS_BUDGETS: f64 = 16.0;

/// Configuration of [`spawn_load`]; build with [`Sv1LoadConfig::new`].
#[derive(Debug, Clone)]
pub struct Sv1LoadConfig {
    /// Pool address, `host:port`.
    pub pool: String,
    /// Connections to open (at most [`MAX_LOAD_CONNECTIONS`]).
    pub connections: usize,
    /// Hash rate each connection pretends to have, in h/s.
    pub simulated_hashrate: f64,
    /// Worker name; with `numbered_workers`, connection `i` uses `"{user}-{i}"`.
    pub user: String,
    /// Give every connection its own worker name.
    pub numbered_workers: bool,
    /// Password for `mining.authorize`.
    pub password: String,
    /// User agent sent in `mining.subscribe`.
    pub user_agent: String,
    /// Negotiate version rolling like Antminers do.
    pub version_rolling: bool,
    /// How long the run lasts (at most [`MAX_LOAD_DURATION`]).
    pub duration: Duration,
    /// Connections opened per second while ramping up.
    pub connect_rate: f64,
    /// Most hashes spent looking for one share.
    pub hash_budget: u64,
    /// Upper bound on each connection's share rate (shares per second).
    pub max_share_rate: f64,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Time allowed for subscribe and authorize to be answered.
    pub setup_timeout: Duration,
    /// Delay before a failed or dropped connection is opened again.
    pub reconnect_delay: Duration,
}

impl Sv1LoadConfig {
    /// Defaults: 1 Th/s per connection, 60 s, 500 connections per second ramp-up, a 2^16
    /// hash budget, at most 10 shares per second per connection.
    pub fn new(pool: impl Into<String>, user: impl Into<String>, connections: usize) -> Self {
        Sv1LoadConfig {
            pool: pool.into(),
            connections,
            simulated_hashrate: 1e12,
            user: user.into(),
            numbered_workers: false,
            password: "x".into(),
            user_agent: "bmminer/2.0.0".into(),
            version_rolling: true,
            duration: Duration::from_secs(60),
            connect_rate: 500.0,
            hash_budget: 1 << 16,
            max_share_rate: 10.0,
            connect_timeout: Duration::from_secs(10),
            setup_timeout: Duration::from_secs(20),
            reconnect_delay: Duration::from_secs(1),
        }
    }

    fn validate(&self) -> Result<(), MinerError> {
        split_host_port(&self.pool)?;
        if self.connections == 0 || self.connections > MAX_LOAD_CONNECTIONS {
            return Err(MinerError::Config(format!(
                "connections must be in 1..={MAX_LOAD_CONNECTIONS}"
            )));
        }
        if self.duration.is_zero() || self.duration > MAX_LOAD_DURATION {
            return Err(MinerError::Config("duration must be in (0, 24h]".into()));
        }
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !positive(self.connect_rate) || !positive(self.max_share_rate) {
            return Err(MinerError::Config(
                "connect_rate and max_share_rate must be positive".into(),
            ));
        }
        if !self.simulated_hashrate.is_finite() || self.simulated_hashrate < 0.0 {
            return Err(MinerError::Config(
                "simulated hash rate must be finite and >= 0".into(),
            ));
        }
        if self.hash_budget == 0 {
            return Err(MinerError::Config("hash_budget must be positive".into()));
        }
        Ok(())
    }

    fn handshake(&self, i: usize) -> Handshake {
        Handshake {
            user: if self.numbered_workers {
                format!("{}-{i}", self.user)
            } else {
                self.user.clone()
            },
            password: self.password.clone(),
            user_agent: self.user_agent.clone(),
            version_rolling: self.version_rolling.then_some(VERSION_ROLLING_MASK),
            minimum_difficulty: None,
            extranonce_subscribe: false,
        }
    }

    /// Share rate of one connection at `difficulty`.
    fn share_rate(&self, difficulty: f64) -> f64 {
        let rate = self.simulated_hashrate / (difficulty.max(f64::MIN_POSITIVE) * HASHES_PER_DIFF1);
        rate.min(self.max_share_rate)
    }
}

/// Starts the load generator on the current tokio runtime. It ends after `duration` (or on
/// `stop()`); connection errors are counted, not fatal.
pub fn spawn_load(config: Sv1LoadConfig) -> Result<MinerHandle, MinerError> {
    config.validate()?;
    let stats = Arc::new(Stats::default());
    let config = Arc::new(config);
    let task_stats = Arc::clone(&stats);
    MinerHandle::spawn(StatsHandle(stats), move |stop| {
        run_load(config, task_stats, stop)
    })
}

async fn run_load(
    config: Arc<Sv1LoadConfig>,
    stats: Arc<Stats>,
    mut stop: StopSignal,
) -> Result<(), MinerError> {
    let start = Instant::now();
    let deadline = saturating_after(start, config.duration);
    let mut tasks = JoinSet::new();
    // Share searches run on the blocking pool; keep at most one per core in flight.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let searches = Arc::new(Semaphore::new(cores));
    let step = Duration::try_from_secs_f64(1.0 / config.connect_rate).unwrap_or(Duration::MAX);
    for i in 0..config.connections {
        let at = saturating_after(
            start,
            step.saturating_mul(u32::try_from(i).unwrap_or(u32::MAX)),
        );
        if at >= deadline {
            break;
        }
        tokio::select! {
            _ = stop.wait() => break,
            _ = sleep_until(at) => {}
        }
        let conn = Connection {
            index: i,
            searches: Arc::clone(&searches),
            config: Arc::clone(&config),
            stats: Arc::clone(&stats),
            stop: stop.clone(),
            deadline,
        };
        tasks.spawn(conn.run());
        // Reap finished connections as we go so the set does not hold dead tasks.
        while tasks.try_join_next().is_some() {}
    }
    tokio::select! {
        _ = stop.wait() => {}
        _ = sleep_until(deadline) => {}
    }
    // Connections see the same stop signal and deadline; give them a moment to close.
    let drained = tokio::time::timeout(Duration::from_secs(5), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        // Aborted connections could not release their gauges themselves.
        stats
            .open_connections
            .store(0, std::sync::atomic::Ordering::Relaxed);
        stats
            .open_channels
            .store(0, std::sync::atomic::Ordering::Relaxed);
    }
    Ok(())
}

struct Connection {
    index: usize,
    searches: Arc<Semaphore>,
    config: Arc<Sv1LoadConfig>,
    stats: Arc<Stats>,
    stop: StopSignal,
    deadline: Instant,
}

/// The job a connection submits shares for (the search position is the connection's
/// [`Cursor`]).
struct LoadWork {
    tag: Sv1Tag,
    template: JobTemplate,
    space: SearchSpace,
    /// The job id as a JSON string, for submit lines.
    job_json: String,
    block: Option<Target>,
}

type LoadReader = FramedRead<OwnedReadHalf, AckCodec>;

/// Result of looking for one share.
struct Candidate {
    extranonce2: Vec<u8>,
    found: Found,
    next_unit: u64,
    /// Hashes spent searching.
    hashes: u64,
}

impl Connection {
    async fn run(mut self) {
        let mut addr = self.config.pool.clone();
        loop {
            if self.stop.is_stopped() || Instant::now() >= self.deadline {
                return;
            }
            let wait = match self.session(&addr).await {
                Ok(None) => return,
                Ok(Some((to, wait))) => {
                    bump(&self.stats.reconnects);
                    addr = to;
                    wait
                }
                Err(e) => {
                    tracing::debug!(conn = self.index, error = %e, "load connection ended");
                    self.stats.error(&e);
                    bump(&self.stats.connection_failures);
                    self.config.reconnect_delay
                }
            };
            tokio::select! {
                _ = self.stop.wait() => return,
                _ = sleep_until(self.deadline) => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One connection lifetime; `Some` asks to reconnect to an address after a wait.
    async fn session(&mut self, addr: &str) -> Result<Option<(String, Duration)>, MinerError> {
        let (reader, mut writer) = tokio::select! {
            _ = self.stop.wait() => return Ok(None),
            _ = sleep_until(self.deadline) => return Ok(None),
            r = open(addr, self.config.connect_timeout) => r?,
        };
        // Nothing was read yet: the socket goes to the load mode's own decoder.
        let mut reader = FramedRead::with_capacity(reader.into_inner(), AckCodec::default(), 1024);
        let mask = self.config.version_rolling.then_some(VERSION_ROLLING_MASK);
        let user = self.config.handshake(self.index).user;
        let mut state = Sv1State::new(&user, mask);
        let r = self.drive(addr, &mut state, &mut reader, &mut writer).await;
        state.close(&self.stats);
        r
    }

    fn schedule(&self, state: &Sv1State) -> Option<Instant> {
        let rate = self.config.share_rate(state.difficulty());
        let delay = exponential_delay(rate, thread_rng().gen::<f64>());
        Instant::now().checked_add(delay)
    }

    async fn drive(
        &mut self,
        addr: &str,
        state: &mut Sv1State,
        reader: &mut LoadReader,
        writer: &mut Writer,
    ) -> Result<Option<(String, Duration)>, MinerError> {
        for req in state.handshake(&self.config.handshake(self.index)) {
            writer.feed(req).await?;
        }
        SinkExt::<sv1::ClientRequest>::flush(writer).await?;
        let setup_deadline = saturating_after(Instant::now(), self.config.setup_timeout);
        // After the deadline no new shares; answers to those in flight are awaited briefly.
        let drain_until = saturating_after(self.deadline, LOAD_DRAIN);
        let mut work: Option<LoadWork> = None;
        let mut cursor = Cursor::default();
        let user_json = json_string(state.user());
        let mut target = Target::from_difficulty(1.0);
        let mut next_share: Option<Instant> = None;
        let mut last_wake = Instant::now();
        loop {
            let sharing = Instant::now() < self.deadline;
            if !sharing && state.outstanding() == 0 {
                return Ok(None);
            }
            let due = next_share
                .filter(|_| work.is_some() && sharing)
                .map(|at| at.max(saturating_after(last_wake, MIN_WAKE)));
            tokio::select! {
                biased;
                _ = self.stop.wait() => return Ok(None),
                _ = sleep_until(drain_until) => return Ok(None),
                _ = sleep_until(self.deadline), if sharing => {}
                _ = sleep_until(setup_deadline), if !state.ready() => {
                    return Err(MinerError::Timeout("mining.subscribe / mining.authorize"));
                }
                item = reader.next() => {
                    let msg = match item {
                        None => return Err(MinerError::ConnectionClosed),
                        Some(Err(framing)) => return Err(framing.into()),
                        Some(Ok(Incoming::Ack(id))) => {
                            ServerMessage::Response(Response::bool(Id::from(id), true))
                        }
                        Some(Ok(Incoming::Message(Err(_)))) => {
                            bump(&self.stats.ignored_messages);
                            continue;
                        }
                        Some(Ok(Incoming::Message(Ok(msg)))) => msg,
                    };
                    for effect in state.handle(msg, &self.stats)? {
                        match effect {
                            Sv1Effect::Work(w, t) => {
                                target = t;
                                work = w.map(|(tag, template)| {
                                    let same = work.as_ref().is_some_and(|old| old.template == template);
                                    if !same {
                                        cursor.new_job();
                                    }
                                    LoadWork {
                                        space: SearchSpace::new(&template, LOAD_NONCE_BITS),
                                        job_json: json_string(&tag.job_id),
                                        block: template.block_target(),
                                        tag,
                                        template,
                                    }
                                });
                                if next_share.is_none() {
                                    next_share = self.schedule(state);
                                }
                            }
                            Sv1Effect::Target(t) => {
                                target = t;
                                // Memoryless: redraw the wait at the new rate.
                                next_share = self.schedule(state);
                            }
                            Sv1Effect::Reconnect { host, port, wait_secs } => {
                                let wait = Duration::from_secs(wait_secs).min(MAX_RECONNECT_WAIT);
                                return Ok(Some((reconnect_target(addr, host.as_deref(), port), wait)));
                            }
                        }
                    }
                }
                _ = sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                    let now = Instant::now();
                    last_wake = now;
                    let Some(w) = work.as_ref() else { continue };
                    let expected = state.difficulty() * HASHES_PER_DIFF1;
                    if expected > INLINE_EXPECTED {
                        next_share = self.schedule(state);
                        let searches = Arc::clone(&self.searches);
                        let (template, space, first, budget) =
                            (w.template.clone(), w.space, cursor.next_unit(), self.config.hash_budget);
                        let search = async move {
                            let permit = searches
                                .acquire_owned()
                                .await
                                .map_err(|_| MinerError::Task("search semaphore closed".into()))?;
                            find_share(permit, template, space, first, target, budget, expected).await
                        };
                        let cand = tokio::select! {
                            biased;
                            _ = self.stop.wait() => return Ok(None),
                            // Out of time while queued for a search: no more shares.
                            _ = sleep_until(self.deadline) => continue,
                            r = search => r?,
                        };
                        cursor.skip_to(cand.next_unit);
                        self.stats.hashes.fetch_add(cand.hashes, std::sync::atomic::Ordering::Relaxed);
                        let Some(w) = work.as_ref() else { continue };
                        if !state.job_valid(&w.tag.job_id) {
                            continue;
                        }
                        let valid = target.is_met_by(&cand.found.hash);
                        let sub = state.submission_unchecked(&w.tag, &w.template, &cand.extranonce2, &cand.found);
                        self.stats.submitted(sub.difficulty, sub.is_block && valid);
                        if !valid {
                            bump(&self.stats.shares_submitted_below_target);
                        }
                        writer.send(sub.request).await?;
                        continue;
                    }
                    if !state.is_current(&w.tag) {
                        next_share = self.schedule(state);
                        continue;
                    }
                    let mut at = next_share.unwrap_or(now);
                    if now.saturating_duration_since(at) > MAX_BACKLOG {
                        at = now;
                    }
                    let rate = self.config.share_rate(state.difficulty());
                    let mask = state.version_mask();
                    let mut sent = 0usize;
                    let mut hashes = 0u64;
                    while at <= now && sent < MAX_BATCH {
                        let share = cursor
                            .next_share(&w.template, &w.space, &target, self.config.hash_budget)
                            .ok_or(MinerError::Protocol("job search space exhausted".into()))?;
                        hashes += share.hashes;
                        let f = share.found;
                        let valid = target.is_met_by(&f.hash);
                        let is_block = valid && w.block.is_some_and(|b| b.is_met_by(&f.hash));
                        self.stats.submitted(hash_difficulty(&f.hash), is_block);
                        if !valid {
                            bump(&self.stats.shares_submitted_below_target);
                        }
                        SubmitLine {
                            id: state.register_submit(),
                            user_json: &user_json,
                            job_json: &w.job_json,
                            extranonce2: cursor.extranonce2(),
                            ntime: f.ntime,
                            nonce: f.nonce,
                            version_bits: mask.map(|m| f.version & m),
                        }
                        .write(writer.write_buffer_mut());
                        sent += 1;
                        let delay = exponential_delay(rate, thread_rng().gen::<f64>());
                        at = at.checked_add(delay).unwrap_or(self.deadline);
                    }
                    next_share = Some(at);
                    self.stats.hashes.fetch_add(hashes, std::sync::atomic::Ordering::Relaxed);
                    SinkExt::<sv1::ClientRequest>::flush(writer).await?;
                }
            }
        }
    }
}

/// Looks for a share meeting `target` with at most `budget` hashes (none when `expected`
/// hashes per share exceed [`HOPELESS_BUDGETS`] budgets); falls back to an unchecked header.
async fn find_share(
    permit: OwnedSemaphorePermit,
    template: JobTemplate,
    space: SearchSpace,
    first_unit: u64,
    target: Target,
    budget: u64,
    expected: f64,
) -> Result<Candidate, MinerError> {
    let search = expected <= budget as f64 * HOPELESS_BUDGETS;
    let search_fn = move || -> Option<Candidate> {
        let _permit = permit;
        let mut unit_index = first_unit;
        let mut spent = 0u64;
        let mut fallback = None;
        let mut found = Vec::new();
        loop {
            let unit = space.unit(&template, unit_index)?;
            unit_index += 1;
            if fallback.is_none() {
                let version = *unit.versions.first()?;
                let hash = template
                    .header(&unit.extranonce, version, unit.ntime, unit.nonce_start)
                    .hash();
                fallback = Some(Candidate {
                    extranonce2: unit.extranonce.clone(),
                    found: Found {
                        version,
                        ntime: unit.ntime,
                        nonce: unit.nonce_start,
                        hash,
                    },
                    next_unit: unit_index,
                    hashes: 0,
                });
            }
            if !search || spent >= budget {
                let mut c = fallback?;
                c.next_unit = unit_index;
                c.hashes = spent;
                return Some(c);
            }
            let mut hasher = unit_hasher(&template, &unit);
            let lanes = unit.versions.len() as u64;
            let mut offset = 0;
            // Small slices: stop soon after the first share.
            while offset < unit.nonce_count && spent < budget {
                let n = SEARCH_SLICE.min((budget - spent).div_ceil(lanes));
                spent += hash_range(&mut hasher, &unit, offset, n, &target, &mut found);
                offset += n;
                if let Some(f) = found.first() {
                    return Some(Candidate {
                        extranonce2: unit.extranonce,
                        found: *f,
                        next_unit: unit_index,
                        hashes: spent,
                    });
                }
            }
        }
    };
    tokio::task::spawn_blocking(search_fn)
        .await
        .map_err(|e| MinerError::Task(e.to_string()))?
        .ok_or(MinerError::Protocol("job search space exhausted".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::miner::work::MerkleSource;

    fn template() -> JobTemplate {
        JobTemplate {
            version: 0x2000_0000,
            prev_hash: [1; 32],
            nbits: 0x1d00_ffff,
            ntime: 1000,
            merkle: MerkleSource::Coinbase {
                prefix: vec![1, 2, 3],
                suffix: vec![4],
                path: vec![[5; 32]],
                extranonce_len: 4,
            },
            version_mask: VERSION_ROLLING_MASK,
        }
    }

    fn permit() -> OwnedSemaphorePermit {
        Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap()
    }

    #[tokio::test]
    async fn easy_targets_give_valid_shares_hard_ones_a_fallback() {
        let t = template();
        let space = SearchSpace::new(&t, LOAD_NONCE_BITS);
        // One share per ~256 hashes.
        let easy = Target::from_difficulty(1.0 / (1u64 << 24) as f64);
        let c = find_share(permit(), t.clone(), space, 0, easy, 1 << 14, 256.0)
            .await
            .unwrap();
        assert!(easy.is_met_by(&c.found.hash));
        let h = t.header(
            &c.extranonce2,
            c.found.version,
            c.found.ntime,
            c.found.nonce,
        );
        assert_eq!(h.hash(), c.found.hash);
        assert_eq!(c.next_unit, 1);
        assert!(c.hashes > 0 && c.hashes <= 1 << 14);
        // Difficulty 1 with a tiny budget: no search, a fallback from the next unit.
        let hard = Target::from_difficulty(1.0);
        let c = find_share(permit(), t.clone(), space, 7, hard, 16, HASHES_PER_DIFF1)
            .await
            .unwrap();
        assert!(!hard.is_met_by(&c.found.hash));
        assert_eq!(c.next_unit, 8);
        assert_eq!(c.extranonce2, vec![0, 0, 0, 7]);
        assert_eq!(c.hashes, 0);
        // Within reach but unlucky: the budget bounds the work.
        let c = find_share(permit(), t, space, 0, hard, 64, 64.0)
            .await
            .unwrap();
        assert_eq!(c.next_unit, 2);
        assert_eq!(c.hashes, 64);
    }

    #[test]
    fn config_bounds_and_rates() {
        let mut c = Sv1LoadConfig::new("127.0.0.1:3333", "site.worker", 10);
        assert!(c.validate().is_ok());
        c.connections = MAX_LOAD_CONNECTIONS + 1;
        assert!(c.validate().is_err());
        c.connections = 10;
        c.duration = Duration::ZERO;
        assert!(c.validate().is_err());
        c.duration = Duration::from_secs(1);
        c.simulated_hashrate = 2f64.powi(32);
        assert_eq!(c.share_rate(1.0), 1.0);
        assert_eq!(c.share_rate(1e-9), c.max_share_rate);
        c.numbered_workers = true;
        assert_eq!(c.handshake(3).user, "site.worker-3");
    }
}
