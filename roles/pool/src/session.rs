//! Sans-IO state of one mining connection: its channels, their jobs, share validation,
//! vardiff and batched acknowledgements. The connection task feeds it decoded messages,
//! new jobs and timer ticks, and sends what it returns.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sv2_codec::mining::{
    error_codes, CloseChannel, NewExtendedMiningJob, NewMiningJob, OpenExtendedMiningChannel,
    OpenExtendedMiningChannelSuccess, OpenMiningChannelError, OpenStandardMiningChannel,
    OpenStandardMiningChannelSuccess, SetNewPrevHash, SetTarget, SubmitSharesError,
    SubmitSharesExtended, SubmitSharesStandard, SubmitSharesSuccess, UpdateChannel,
    UpdateChannelError,
};
use sv2_codec::{Message, MiningMessage};
use sv2_mining::extranonce::{ExtranonceAllocator, PrefixId};
use sv2_mining::header::version_rolling_ok;
use sv2_mining::merkle::merkle_root_from_path;
use sv2_mining::sha256d::sha256d;
use sv2_mining::share::{ExtendedJobHasher, StandardJobHasher};
use sv2_mining::target::Target;
use sv2_mining::vardiff::{Vardiff, VardiffConfig};

use crate::accounting::{WorkAggregator, WorkerId};
use crate::block::BlockSolution;
use crate::jobs::PoolJob;

/// Per-session settings derived from the config.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// BIP320 bits miners may roll.
    pub version_mask: u32,
    /// Vardiff configuration (target interval and bounds).
    pub vardiff: VardiffConfig,
    /// Starting difficulty when the client gives no usable nominal hashrate.
    pub initial_difficulty: f64,
    /// Channels per connection.
    pub max_channels: u32,
    /// Ack every this many accepted shares...
    pub ack_batch: u32,
    /// ...or after this many ms.
    pub ack_interval_ms: u64,
    /// Invalid shares per minute before the connection is closed.
    pub max_invalid_per_minute: u32,
    /// Seconds a share's ntime may be ahead of the job's ntime.
    pub max_ntime_ahead_secs: u32,
}

/// Channel ids and extranonce prefixes, unique across all connections of this pool node.
pub struct ChannelAllocator {
    next_channel_id: AtomicU32,
    extranonce: Mutex<ExtranonceAllocator>,
}

impl ChannelAllocator {
    /// New allocator around an extranonce layout.
    pub fn new(extranonce: ExtranonceAllocator) -> Self {
        ChannelAllocator {
            next_channel_id: AtomicU32::new(1),
            extranonce: Mutex::new(extranonce),
        }
    }

    fn channel_id(&self) -> u32 {
        self.next_channel_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Call on every new tip so released prefixes may be reused.
    pub fn on_new_prev_hash(&self) {
        if let Ok(mut a) = self.extranonce.lock() {
            a.on_new_prev_hash();
        }
    }
}

enum JobHasher {
    Standard(StandardJobHasher),
    Extended(ExtendedJobHasher),
}

struct ChannelJob {
    job: Arc<PoolJob>,
    hasher: JobHasher,
}

#[derive(PartialEq, Eq, Hash)]
struct ShareKey {
    job_id: u32,
    nonce: u32,
    ntime: u32,
    version: u32,
    extranonce: [u8; 32],
}

struct Channel {
    id: u32,
    extended: bool,
    /// Channel extranonce prefix (full extranonce for standard channels).
    prefix: Vec<u8>,
    prefix_id: PrefixId,
    rollable_len: usize,
    worker: WorkerId,
    target: Target,
    max_target: Target,
    difficulty: f64,
    vardiff: Vardiff,
    jobs: HashMap<u32, ChannelJob>,
    /// Job ids below this belong to an earlier prev hash.
    first_current_job: u32,
    next_job_id: u32,
    seen: HashSet<ShareKey>,
    ack_count: u32,
    ack_sum: u64,
    ack_last_seq: u32,
    ack_since: Option<Instant>,
}

/// State of one mining connection.
pub struct MiningSession {
    settings: SessionSettings,
    allocator: Arc<ChannelAllocator>,
    work: Arc<WorkAggregator>,
    setup_flags: u32,
    channels: HashMap<u32, Channel>,
    epoch: Instant,
    invalid_window_start: Instant,
    invalid_in_window: u32,
    current_tip: Option<[u8; 32]>,
}

fn millis_since(epoch: Instant, now: Instant) -> u64 {
    now.saturating_duration_since(epoch).as_millis() as u64
}

/// Difficulty for a nominal hashrate at the configured share interval, within bounds.
fn difficulty_for(settings: &SessionSettings, nominal_hash_rate: f32) -> f64 {
    let hr = nominal_hash_rate as f64;
    let d = if hr.is_finite() && hr > 0.0 {
        sv2_mining::vardiff::difficulty_for_hashrate(hr, settings.vardiff.target_share_interval_ms)
    } else {
        settings.initial_difficulty
    };
    d.clamp(
        settings.vardiff.min_difficulty,
        settings.vardiff.max_difficulty,
    )
}

impl MiningSession {
    /// New session for a connection that sent SetupConnection with `setup_flags`.
    pub fn new(
        settings: SessionSettings,
        allocator: Arc<ChannelAllocator>,
        work: Arc<WorkAggregator>,
        setup_flags: u32,
    ) -> Self {
        let now = Instant::now();
        MiningSession {
            settings,
            allocator,
            work,
            setup_flags,
            channels: HashMap::new(),
            epoch: now,
            invalid_window_start: now,
            invalid_in_window: 0,
            current_tip: None,
        }
    }

    /// Number of open channels.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// Setup flags the client sent.
    pub fn setup_flags(&self) -> u32 {
        self.setup_flags
    }

    /// Releases every channel's resources (connection closed).
    pub fn close(&mut self) {
        let ids: Vec<PrefixId> = self.channels.drain().map(|(_, ch)| ch.prefix_id).collect();
        for id in ids {
            self.release_prefix(id);
        }
    }

    fn release_prefix(&self, id: PrefixId) {
        if let Ok(mut a) = self.allocator.extranonce.lock() {
            a.release(id);
        }
        metrics::gauge!("pool_channels").decrement(1.0);
    }

    /// A new job from the template source: sends it to every channel.
    pub fn on_job(&mut self, job: &Arc<PoolJob>, out: &mut Vec<Message>) {
        let new_tip = self.current_tip != Some(job.prev_hash);
        self.current_tip = Some(job.prev_hash);
        let ids: Vec<u32> = self.channels.keys().copied().collect();
        for id in ids {
            if let Some(ch) = self.channels.get_mut(&id) {
                send_job(ch, job, new_tip, out);
            }
        }
    }

    /// Timer: flushes pending acknowledgements, runs vardiff.
    pub fn on_tick(&mut self, now: Instant, out: &mut Vec<Message>) {
        let now_ms = millis_since(self.epoch, now);
        let interval = self.settings.ack_interval_ms;
        for ch in self.channels.values_mut() {
            if ch.ack_count > 0
                && ch.ack_since.is_some_and(|t| {
                    now.saturating_duration_since(t).as_millis() as u64 >= interval
                })
            {
                out.push(ack(ch));
            }
            if let Some(d) = ch.vardiff.poll(now_ms) {
                let t = Target::from_difficulty(d).min(ch.max_target);
                if t != ch.target {
                    ch.target = t;
                    ch.difficulty = t.difficulty();
                    out.push(Message::from(SetTarget {
                        channel_id: ch.id,
                        maximum_target: t.to_le_bytes(),
                    }));
                    metrics::counter!("pool_set_target_total").increment(1);
                }
            }
        }
    }

    /// Handles one message from the client. `Err(reason)` means the connection must close.
    pub fn on_message(
        &mut self,
        msg: Message,
        job: Option<&Arc<PoolJob>>,
        now: Instant,
        out: &mut Vec<Message>,
        solutions: &mut Vec<BlockSolution>,
    ) -> Result<(), String> {
        let Message::Mining(m) = msg else {
            return Err(format!("unexpected {} on a mining connection", msg.name()));
        };
        match m {
            MiningMessage::OpenStandardMiningChannel(req) => self.open_standard(req, job, now, out),
            MiningMessage::OpenExtendedMiningChannel(req) => self.open_extended(req, job, now, out),
            MiningMessage::SubmitSharesStandard(s) => {
                self.submit_standard(s, now, out, solutions);
                self.check_invalid_rate(now)
            }
            MiningMessage::SubmitSharesExtended(s) => {
                self.submit_extended(s, now, out, solutions);
                self.check_invalid_rate(now)
            }
            MiningMessage::UpdateChannel(u) => {
                self.update_channel(u, out);
                Ok(())
            }
            MiningMessage::CloseChannel(c) => {
                if let Some(ch) = self.channels.remove(&c.channel_id) {
                    tracing::debug!(channel = ch.id, reason = %c.reason_code, "channel closed by client");
                    self.release_prefix(ch.prefix_id);
                }
                Ok(())
            }
            other => Err(format!(
                "unexpected {} from a client",
                Message::from(other).name()
            )),
        }
    }

    fn check_invalid_rate(&mut self, now: Instant) -> Result<(), String> {
        if now
            .saturating_duration_since(self.invalid_window_start)
            .as_secs()
            >= 60
        {
            self.invalid_window_start = now;
            self.invalid_in_window = 0;
        }
        if self.invalid_in_window > self.settings.max_invalid_per_minute {
            metrics::counter!("pool_connections_cut_total", "reason" => "invalid_shares")
                .increment(1);
            return Err("too many invalid shares".into());
        }
        Ok(())
    }

    fn can_open(&self, request_id: u32, out: &mut Vec<Message>) -> bool {
        if self.channels.len() as u32 >= self.settings.max_channels {
            out.push(Message::from(OpenMiningChannelError {
                request_id,
                error_code: "max-channels-reached".into(),
            }));
            return false;
        }
        true
    }

    fn new_channel(
        &mut self,
        extended: bool,
        min_rollable: usize,
        identity: &str,
        nominal_hash_rate: f32,
        max_target: [u8; 32],
        now: Instant,
    ) -> Result<Channel, &'static str> {
        let max_target = Target::from_le_bytes(max_target);
        let difficulty = difficulty_for(&self.settings, nominal_hash_rate);
        let mut target = Target::from_difficulty(difficulty);
        if target > max_target {
            target = max_target;
        }
        if max_target < Target::from_difficulty(self.settings.vardiff.max_difficulty) {
            return Err(error_codes::MAX_TARGET_OUT_OF_RANGE);
        }
        let prefix = {
            let mut a = self
                .allocator
                .extranonce
                .lock()
                .map_err(|_| "internal-error")?;
            if extended {
                a.allocate_extended(min_rollable)
                    .map_err(|_| error_codes::MIN_EXTRANONCE_SIZE_TOO_LARGE)?
            } else {
                a.allocate_standard()
                    .map_err(|_| "extranonce-space-exhausted")?
            }
        };
        let vardiff = Vardiff::new(
            self.settings.vardiff.clone(),
            target.difficulty(),
            millis_since(self.epoch, now),
        )
        .map_err(|_| "internal-error")?;
        metrics::gauge!("pool_channels").increment(1.0);
        Ok(Channel {
            id: self.allocator.channel_id(),
            extended,
            prefix: prefix.prefix,
            prefix_id: prefix.id,
            rollable_len: prefix.rollable_len,
            worker: WorkerId::parse(identity),
            target,
            max_target,
            difficulty: target.difficulty(),
            vardiff,
            jobs: HashMap::new(),
            first_current_job: 1,
            next_job_id: 1,
            seen: HashSet::new(),
            ack_count: 0,
            ack_sum: 0,
            ack_last_seq: 0,
            ack_since: None,
        })
    }

    fn open_standard(
        &mut self,
        req: OpenStandardMiningChannel,
        job: Option<&Arc<PoolJob>>,
        now: Instant,
        out: &mut Vec<Message>,
    ) -> Result<(), String> {
        if !self.can_open(req.request_id, out) {
            return Ok(());
        }
        let mut ch = match self.new_channel(
            false,
            0,
            &req.user_identity,
            req.nominal_hash_rate,
            req.max_target,
            now,
        ) {
            Ok(c) => c,
            Err(code) => {
                out.push(Message::from(OpenMiningChannelError {
                    request_id: req.request_id,
                    error_code: code.into(),
                }));
                return Ok(());
            }
        };
        tracing::info!(channel = ch.id, worker = %ch.worker.full(), difficulty = ch.difficulty, "standard channel opened");
        metrics::counter!("pool_channels_opened_total", "kind" => "standard").increment(1);
        out.push(Message::from(OpenStandardMiningChannelSuccess {
            request_id: req.request_id,
            channel_id: ch.id,
            target: ch.target.to_le_bytes(),
            extranonce_prefix: ch.prefix.clone(),
            group_channel_id: 0,
        }));
        if let Some(job) = job {
            send_job(&mut ch, job, true, out);
        }
        self.channels.insert(ch.id, ch);
        Ok(())
    }

    fn open_extended(
        &mut self,
        req: OpenExtendedMiningChannel,
        job: Option<&Arc<PoolJob>>,
        now: Instant,
        out: &mut Vec<Message>,
    ) -> Result<(), String> {
        if !self.can_open(req.request_id, out) {
            return Ok(());
        }
        let mut ch = match self.new_channel(
            true,
            req.min_extranonce_size as usize,
            &req.user_identity,
            req.nominal_hash_rate,
            req.max_target,
            now,
        ) {
            Ok(c) => c,
            Err(code) => {
                out.push(Message::from(OpenMiningChannelError {
                    request_id: req.request_id,
                    error_code: code.into(),
                }));
                return Ok(());
            }
        };
        tracing::info!(channel = ch.id, worker = %ch.worker.full(), difficulty = ch.difficulty, extranonce_size = ch.rollable_len, "extended channel opened");
        metrics::counter!("pool_channels_opened_total", "kind" => "extended").increment(1);
        out.push(Message::from(OpenExtendedMiningChannelSuccess {
            request_id: req.request_id,
            channel_id: ch.id,
            target: ch.target.to_le_bytes(),
            extranonce_size: ch.rollable_len as u16,
            extranonce_prefix: ch.prefix.clone(),
            group_channel_id: 0,
        }));
        if let Some(job) = job {
            send_job(&mut ch, job, true, out);
        }
        self.channels.insert(ch.id, ch);
        Ok(())
    }

    fn update_channel(&mut self, u: UpdateChannel, out: &mut Vec<Message>) {
        let Some(ch) = self.channels.get_mut(&u.channel_id) else {
            out.push(Message::from(UpdateChannelError {
                channel_id: u.channel_id,
                error_code: error_codes::INVALID_CHANNEL_ID.into(),
            }));
            return;
        };
        let max_target = Target::from_le_bytes(u.maximum_target);
        if max_target < Target::from_difficulty(self.settings.vardiff.max_difficulty) {
            out.push(Message::from(UpdateChannelError {
                channel_id: u.channel_id,
                error_code: error_codes::MAX_TARGET_OUT_OF_RANGE.into(),
            }));
            return;
        }
        ch.max_target = max_target;
        let d = difficulty_for(&self.settings, u.nominal_hash_rate);
        let t = Target::from_difficulty(d).min(max_target);
        if t != ch.target {
            ch.target = t;
            ch.difficulty = t.difficulty();
            ch.vardiff.set_difficulty(ch.difficulty, 0);
            out.push(Message::from(SetTarget {
                channel_id: ch.id,
                maximum_target: t.to_le_bytes(),
            }));
        }
    }

    fn reject(&mut self, channel_id: u32, seq: u32, code: &'static str, out: &mut Vec<Message>) {
        metrics::counter!("pool_shares_rejected_total", "reason" => code).increment(1);
        self.invalid_in_window += 1;
        if let Some(ch) = self.channels.get(&channel_id) {
            self.work.rejected(&ch.worker);
        }
        out.push(Message::from(SubmitSharesError {
            channel_id,
            sequence_number: seq,
            error_code: code.into(),
        }));
    }

    fn submit_standard(
        &mut self,
        s: SubmitSharesStandard,
        now: Instant,
        out: &mut Vec<Message>,
        solutions: &mut Vec<BlockSolution>,
    ) {
        let started = Instant::now();
        let mask = self.settings.version_mask;
        let max_ahead = self.settings.max_ntime_ahead_secs;
        let verdict = match self.channels.get_mut(&s.channel_id) {
            None => Err(error_codes::INVALID_CHANNEL_ID),
            Some(ch) if ch.extended => Err(error_codes::INVALID_CHANNEL_ID),
            Some(ch) => validate(
                ch,
                ShareInput {
                    job_id: s.job_id,
                    nonce: s.nonce,
                    ntime: s.ntime,
                    version: s.version,
                    extranonce: &[],
                    seq: s.sequence_number,
                },
                mask,
                max_ahead,
                now,
                solutions,
            ),
        };
        self.finish(s.channel_id, s.sequence_number, verdict, now, out);
        metrics::histogram!("pool_share_validation_seconds")
            .record(started.elapsed().as_secs_f64());
    }

    fn submit_extended(
        &mut self,
        s: SubmitSharesExtended,
        now: Instant,
        out: &mut Vec<Message>,
        solutions: &mut Vec<BlockSolution>,
    ) {
        let started = Instant::now();
        let mask = self.settings.version_mask;
        let max_ahead = self.settings.max_ntime_ahead_secs;
        let verdict = match self.channels.get_mut(&s.channel_id) {
            None => Err(error_codes::INVALID_CHANNEL_ID),
            Some(ch) if !ch.extended => Err(error_codes::INVALID_CHANNEL_ID),
            Some(ch) if s.extranonce.len() != ch.rollable_len => {
                Err(error_codes::BAD_EXTRANONCE_SIZE)
            }
            Some(ch) => validate(
                ch,
                ShareInput {
                    job_id: s.job_id,
                    nonce: s.nonce,
                    ntime: s.ntime,
                    version: s.version,
                    extranonce: &s.extranonce,
                    seq: s.sequence_number,
                },
                mask,
                max_ahead,
                now,
                solutions,
            ),
        };
        self.finish(s.channel_id, s.sequence_number, verdict, now, out);
        metrics::histogram!("pool_share_validation_seconds")
            .record(started.elapsed().as_secs_f64());
    }

    fn finish(
        &mut self,
        channel_id: u32,
        seq: u32,
        verdict: Result<(), &'static str>,
        now: Instant,
        out: &mut Vec<Message>,
    ) {
        match verdict {
            Err(code) => self.reject(channel_id, seq, code, out),
            Ok(()) => {
                let batch = self.settings.ack_batch;
                if let Some(ch) = self.channels.get_mut(&channel_id) {
                    metrics::counter!("pool_shares_accepted_total").increment(1);
                    self.work.accepted(&ch.worker, ch.difficulty);
                    ch.vardiff
                        .on_share(millis_since(self.epoch, now), ch.difficulty);
                    ch.ack_count += 1;
                    ch.ack_sum = ch.ack_sum.saturating_add(ch.difficulty.max(1.0) as u64);
                    ch.ack_last_seq = seq;
                    if ch.ack_since.is_none() {
                        ch.ack_since = Some(now);
                    }
                    if ch.ack_count >= batch {
                        out.push(ack(ch));
                    }
                }
            }
        }
    }
}

struct ShareInput<'a> {
    job_id: u32,
    nonce: u32,
    ntime: u32,
    version: u32,
    extranonce: &'a [u8],
    seq: u32,
}

fn validate(
    ch: &mut Channel,
    s: ShareInput<'_>,
    mask: u32,
    max_ahead: u32,
    _now: Instant,
    solutions: &mut Vec<BlockSolution>,
) -> Result<(), &'static str> {
    let _ = s.seq;
    let Some(cj) = ch.jobs.get_mut(&s.job_id) else {
        return Err(if s.job_id != 0 && s.job_id < ch.first_current_job {
            error_codes::STALE_SHARE
        } else {
            error_codes::INVALID_JOB_ID
        });
    };
    if !version_rolling_ok(cj.job.version, s.version, mask) {
        return Err(error_codes::INVALID_SHARE);
    }
    if s.ntime < cj.job.min_ntime || s.ntime > cj.job.ntime.saturating_add(max_ahead) {
        return Err(error_codes::INVALID_SHARE);
    }
    let mut en = [0u8; 32];
    let n = s.extranonce.len().min(32);
    en[..n].copy_from_slice(&s.extranonce[..n]);
    let key = ShareKey {
        job_id: s.job_id,
        nonce: s.nonce,
        ntime: s.ntime,
        version: s.version,
        extranonce: en,
    };
    if ch.seen.contains(&key) {
        return Err(error_codes::DUPLICATE_SHARE);
    }
    let hash = match &mut cj.hasher {
        JobHasher::Standard(h) => h.hash(s.version, s.ntime, s.nonce),
        JobHasher::Extended(h) => h.hash(s.extranonce, s.version, s.ntime, s.nonce),
    };
    if !ch.target.is_met_by(&hash) {
        return Err(error_codes::DIFFICULTY_TOO_LOW);
    }
    ch.seen.insert(key);
    if cj.job.network_target.is_met_by(&hash) {
        let (header, merkle_root) = match &cj.hasher {
            JobHasher::Standard(h) => (h.header(s.version, s.ntime, s.nonce), h.merkle_root()),
            JobHasher::Extended(h) => {
                let hd = h.header(s.extranonce, s.version, s.ntime, s.nonce);
                let root = hd.merkle_root;
                (hd, root)
            }
        };
        let _ = merkle_root;
        let mut extranonce = ch.prefix.clone();
        extranonce.extend_from_slice(s.extranonce);
        solutions.push(BlockSolution {
            job: cj.job.clone(),
            header: header.to_bytes(),
            extranonce,
            hash,
            finder: ch.worker.clone(),
        });
    }
    Ok(())
}

fn ack(ch: &mut Channel) -> Message {
    let m = Message::from(SubmitSharesSuccess {
        channel_id: ch.id,
        last_sequence_number: ch.ack_last_seq,
        new_submits_accepted_count: ch.ack_count,
        new_shares_sum: ch.ack_sum,
    });
    ch.ack_count = 0;
    ch.ack_sum = 0;
    ch.ack_since = None;
    m
}

/// Sends `job` to one channel: as a future job followed by SetNewPrevHash on a new tip, or as
/// an immediately active job otherwise.
fn send_job(ch: &mut Channel, job: &Arc<PoolJob>, new_tip: bool, out: &mut Vec<Message>) {
    let job_id = ch.next_job_id;
    ch.next_job_id = ch.next_job_id.wrapping_add(1).max(1);
    if new_tip {
        ch.jobs.clear();
        ch.seen.clear();
        ch.first_current_job = job_id;
    }
    let hasher = if ch.extended {
        let mut fixed = job.coinbase.prefix.clone();
        fixed.extend_from_slice(&ch.prefix);
        out.push(Message::from(NewExtendedMiningJob {
            channel_id: ch.id,
            job_id,
            min_ntime: if new_tip { None } else { Some(job.ntime) },
            version: job.version,
            version_rolling_allowed: true,
            merkle_path: job.merkle_path.clone(),
            coinbase_tx_prefix: job.coinbase.prefix.clone(),
            coinbase_tx_suffix: job.coinbase.suffix.clone(),
        }));
        JobHasher::Extended(ExtendedJobHasher::new(
            &fixed,
            &job.coinbase.suffix,
            &job.merkle_path,
            job.prev_hash,
            job.nbits,
        ))
    } else {
        let mut coinbase = Vec::with_capacity(
            job.coinbase.prefix.len() + ch.prefix.len() + job.coinbase.suffix.len(),
        );
        coinbase.extend_from_slice(&job.coinbase.prefix);
        coinbase.extend_from_slice(&ch.prefix);
        coinbase.extend_from_slice(&job.coinbase.suffix);
        let root = merkle_root_from_path(&sha256d(&coinbase), &job.merkle_path);
        out.push(Message::from(NewMiningJob {
            channel_id: ch.id,
            job_id,
            min_ntime: if new_tip { None } else { Some(job.ntime) },
            version: job.version,
            merkle_root: root,
        }));
        JobHasher::Standard(StandardJobHasher::new(job.prev_hash, root, job.nbits))
    };
    if new_tip {
        out.push(Message::from(SetNewPrevHash {
            channel_id: ch.id,
            job_id,
            prev_hash: job.prev_hash,
            min_ntime: job.ntime,
            nbits: job.nbits,
        }));
    }
    ch.jobs.insert(
        job_id,
        ChannelJob {
            job: job.clone(),
            hasher,
        },
    );
    // Keep a bounded number of same-tip jobs.
    if ch.jobs.len() > 16 {
        if let Some(oldest) = ch.jobs.keys().min().copied() {
            ch.jobs.remove(&oldest);
        }
    }
}

/// Closes a channel from the pool side.
pub fn close_channel_message(channel_id: u32, reason: &str) -> Message {
    Message::from(CloseChannel {
        channel_id,
        reason_code: reason.into(),
    })
}
