//! The job mapper between SV1 miners and SV2 channels, sans-IO.
//!
//! [`Bridge`] owns every [`Downstream`] (one per SV1 connection), the upstream
//! [`UpstreamSession`] and its [`UpstreamChannel`]s. The runtime feeds it miner lines,
//! upstream messages, connection events and timer ticks, each with the current time in
//! milliseconds, and carries out the [`Action`]s it returns. Nothing here touches a socket.
//!
//! # Message flow
//! * Miner handshake: `mining.configure` → `mining.subscribe` → `mining.authorize` (subscribe
//!   and authorize in either order). Each request is answered at once; once both subscribe
//!   and authorize succeeded the miner gets `mining.set_difficulty` and then the newest job as
//!   `mining.notify` with `clean_jobs = true`.
//! * Jobs: `NewExtendedMiningJob` + `SetNewPrevHash` become one `mining.notify` line,
//!   serialized once and sent to every miner of the channel (`clean_jobs` on a new tip).
//! * Difficulty: per-miner vardiff; a change is sent as `mining.set_difficulty` followed by the
//!   current job again under a fresh job id, so firmware that applies a difficulty only with the
//!   next notify switches at once. A share must meet the easier of the difficulty in force
//!   when its job was sent and the current one, and is credited at that difficulty.
//! * Shares: validated locally (job, extranonce2 size, ntime window, BIP310 version bits,
//!   target, duplicates) with `sv2-mining`'s [`sv2_mining::share::ExtendedJobHasher`], answered
//!   at once, and forwarded as `SubmitSharesExtended` only when the hash meets the upstream
//!   channel's target.
//! * Upstream target: `UpdateChannel` carries the summed hashrate of the channel's miners
//!   (periodically, and promptly when it doubles or halves), so the pool sets a target giving a
//!   bounded share rate whatever the number of miners.
//!
//! # Upstream changes (failover, `SetExtranoncePrefix`)
//! Miners stay connected. Channels of a lost connection are *detached*: shares on their jobs
//! still validate and are answered, but are not forwarded (counted as unforwarded). When the
//! new connection's channel delivers its first job, miners switch to it with `clean_jobs`.
//! Miners keep their extranonce1 (it is ours, not the pool's, see [`crate::extranonce`]); only
//! when a pool leaves fewer extranonce bytes than miners use does extranonce2 shrink: miners
//! that announced `mining.set_extranonce` support get it before the next job, the others get
//! `client.reconnect` (they come back and subscribe with the new size). Without any upstream
//! for `release_miners_after`, miners are sent `client.reconnect` and new connections are
//! refused, so firmware can switch to its own backup pools.

use std::collections::HashMap;

use bytes::Bytes;
use sv1::{
    ClientMethod, ClientRequest, ErrorCode, Notification, OutgoingMessage, Reconnect, Response,
    StratumError, Submit, Sv1Error,
};
use sv2_codec::mining::CloseChannel;
use sv2_codec::Message;
use sv2_mining::extranonce::ExtranonceError;
use sv2_mining::target::Target;
use sv2_mining::vardiff::VardiffConfig;

use crate::channel::{ChannelError, JobReady, UpstreamChannel};
use crate::config::{ChannelMode, Settings};
use crate::downstream::{Downstream, MinerId, MinerJob};
use crate::extranonce::{usable_extranonce2, MinerExtranonces};
use crate::job::ShareParts;
use crate::telemetry as t;
use crate::upstream::{UpstreamEvent, UpstreamSession};
use crate::worker::upstream_identity;

/// How far past the job's ntime a share's ntime may be (the pool allows 7200 s).
pub const MAX_NTIME_AHEAD_SECS: u32 = 7_000;
/// Jobs of the current tip kept per channel.
pub const MAX_JOBS_PER_CHANNEL: usize = 8;
/// Shortest interval between two `UpdateChannel` messages of one channel.
pub const MIN_UPDATE_INTERVAL_MS: u64 = 5_000;
/// Interval of per-miner metric updates.
pub const METRICS_INTERVAL_MS: u64 = 5_000;

/// What the bridge needs from the configuration.
#[derive(Debug, Clone)]
pub struct BridgeSettings {
    /// Site id.
    pub site: String,
    /// Password miners must present.
    pub password: Option<String>,
    /// Channel mode.
    pub mode: ChannelMode,
    /// `user_identity` of the aggregate channel.
    pub aggregate_identity: String,
    /// extranonce1 bytes.
    pub en1_len: usize,
    /// Wanted extranonce2 bytes.
    pub en2_len: usize,
    /// Version bits miners may roll at most.
    pub version_mask: u32,
    /// Per-miner vardiff.
    pub vardiff: VardiffConfig,
    /// Starting difficulty.
    pub initial_difficulty: f64,
    /// Time to finish subscribe + authorize.
    pub setup_timeout_ms: u64,
    /// Rejected shares per minute before disconnection.
    pub max_invalid_per_minute: u32,
    /// Malformed lines before disconnection.
    pub max_malformed_lines: u32,
    /// Consecutive upstream rejections before giving up on a pool.
    pub max_consecutive_rejects: u32,
    /// Interval of `UpdateChannel` messages.
    pub update_interval_ms: u64,
    /// Time without upstream before miners are released.
    pub release_after_ms: Option<u64>,
}

impl BridgeSettings {
    /// From validated [`Settings`].
    pub fn from_settings(s: &Settings) -> Self {
        let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        BridgeSettings {
            site: s.site.clone(),
            password: s.password.clone(),
            mode: s.mode,
            aggregate_identity: upstream_identity(&s.site, &s.aggregate_worker),
            en1_len: s.extranonce1_size,
            en2_len: s.extranonce2_size,
            version_mask: s.version_mask,
            vardiff: s.vardiff.clone(),
            initial_difficulty: s.initial_difficulty,
            setup_timeout_ms: s.limits.setup_timeout_ms,
            max_invalid_per_minute: s.limits.max_invalid_per_minute,
            max_malformed_lines: s.limits.max_malformed_lines,
            max_consecutive_rejects: s.failover.max_consecutive_rejects,
            update_interval_ms: ms(s.update_channel_interval),
            release_after_ms: s.failover.release_miners_after.map(ms),
        }
    }
}

/// Something the runtime must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Write one line to a miner.
    ToMiner(MinerId, Bytes),
    /// Close a miner's connection once the lines queued before are written.
    CloseMiner(MinerId),
    /// Send a message to the pool.
    ToUpstream(Message),
    /// Drop the pool connection and fail over (reason for logs).
    AbandonUpstream(String),
    /// The pool asked us to reconnect to `host:port` (empty / 0: same as now).
    RedirectUpstream {
        /// Host.
        host: String,
        /// Port.
        port: u16,
    },
    /// Accept (true) or refuse (false) new miner connections.
    Accepting(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Aggregate,
    Miner(MinerId),
}

#[derive(Debug)]
struct Slot {
    chan: UpstreamChannel,
    owner: Owner,
}

#[derive(Debug)]
struct Upstream {
    session: UpstreamSession,
}

/// Totals since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BridgeCounters {
    /// Shares accepted locally.
    pub shares_accepted: u64,
    /// Shares rejected locally.
    pub shares_rejected: u64,
    /// Shares forwarded upstream.
    pub forwarded: u64,
    /// Upstream-worthy shares that could not be forwarded (no upstream).
    pub unforwarded: u64,
    /// Shares meeting the network target.
    pub block_candidates: u64,
    /// Shares the pool acknowledged.
    pub upstream_accepted: u64,
    /// Shares the pool rejected.
    pub upstream_rejected: u64,
}

/// The bridge; see the module documentation.
#[derive(Debug)]
pub struct Bridge {
    s: BridgeSettings,
    miners: HashMap<MinerId, Downstream>,
    extranonces: MinerExtranonces,
    en2_len: usize,
    upstream_mask: u32,
    upstream: Option<Upstream>,
    channels: HashMap<u32, Slot>,
    by_upstream: HashMap<u32, u32>,
    groups: HashMap<u32, Vec<u32>>,
    pending: HashMap<u32, Owner>,
    aggregate: Option<u32>,
    next_local: u32,
    next_job_id: u32,
    last_update_ms: Option<u64>,
    last_update_hashrate: f64,
    down_since_ms: Option<u64>,
    released: bool,
    last_metrics_ms: u64,
    counters: BridgeCounters,
    share_metrics: ShareMetrics,
}

/// Counters of the share path, registered once (no key lookup per share).
#[derive(Debug, Clone)]
struct ShareMetrics {
    accepted: metrics::Counter,
    forwarded: metrics::Counter,
    unforwarded: metrics::Counter,
    block_candidates: metrics::Counter,
}

impl ShareMetrics {
    fn register() -> Self {
        ShareMetrics {
            accepted: metrics::counter!(t::SHARES, "result" => "accepted", "reason" => "ok"),
            forwarded: metrics::counter!(t::FORWARDED),
            unforwarded: metrics::counter!(t::UNFORWARDED),
            block_candidates: metrics::counter!(t::BLOCK_CANDIDATES),
        }
    }
}

fn line<M: OutgoingMessage>(m: &M) -> Option<Bytes> {
    match m.to_line() {
        Ok(s) => Some(Bytes::from(s)),
        Err(e) => {
            tracing::error!(error = %e, "cannot serialize an SV1 message");
            None
        }
    }
}

/// The answer to an accepted share or request, `{"id":N,"result":true,"error":null}`: written
/// directly for the usual unsigned integer ids (the bytes `serde_json` would produce), through
/// serde for any other id.
fn true_line(id: sv1::Id) -> Option<Bytes> {
    if let sv1::Id::Number(n) = &id {
        if let Some(v) = n.as_u64() {
            const HEAD: &[u8] = b"{\"id\":";
            const TAIL: &[u8] = b",\"result\":true,\"error\":null}\n";
            let mut digits = [0u8; 20];
            let mut at = digits.len();
            let mut rest = v;
            loop {
                at -= 1;
                if let Some(d) = digits.get_mut(at) {
                    *d = b'0' + (rest % 10) as u8;
                }
                rest /= 10;
                if rest == 0 {
                    break;
                }
            }
            let digits = digits.get(at..).unwrap_or_default();
            let mut buf = Vec::with_capacity(HEAD.len() + digits.len() + TAIL.len());
            buf.extend_from_slice(HEAD);
            buf.extend_from_slice(digits);
            buf.extend_from_slice(TAIL);
            return Some(Bytes::from(buf));
        }
    }
    line(&Response::bool(id, true))
}

fn error_line(id: sv1::Id, code: ErrorCode, message: &str) -> Option<Bytes> {
    line(&Response::error(id, StratumError::new(code, message)))
}

fn reconnect_line() -> Option<Bytes> {
    line(&Notification::Reconnect(Reconnect::default()))
}

fn reason_label(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::Other => "other",
        ErrorCode::JobNotFound => "job_not_found",
        ErrorCode::Duplicate => "duplicate",
        ErrorCode::LowDifficulty => "low_difficulty",
        ErrorCode::Unauthorized => "unauthorized",
        ErrorCode::NotSubscribed => "not_subscribed",
    }
}

impl Bridge {
    /// A bridge with no miner and no upstream.
    pub fn new(s: BridgeSettings) -> Result<Self, ExtranonceError> {
        let extranonces = MinerExtranonces::new(s.en1_len, s.en2_len)?;
        Ok(Bridge {
            en2_len: s.en2_len,
            upstream_mask: s.version_mask,
            extranonces,
            s,
            miners: HashMap::new(),
            upstream: None,
            channels: HashMap::new(),
            by_upstream: HashMap::new(),
            groups: HashMap::new(),
            pending: HashMap::new(),
            aggregate: None,
            next_local: 1,
            next_job_id: 1,
            last_update_ms: None,
            last_update_hashrate: 0.0,
            down_since_ms: Some(0),
            released: false,
            last_metrics_ms: 0,
            counters: BridgeCounters::default(),
            share_metrics: ShareMetrics::register(),
        })
    }

    /// Connected miners.
    pub fn miner_count(&self) -> usize {
        self.miners.len()
    }

    /// Miners receiving jobs.
    pub fn ready_count(&self) -> usize {
        self.miners.values().filter(|m| m.is_ready()).count()
    }

    /// One miner's state.
    pub fn miner(&self, id: MinerId) -> Option<&Downstream> {
        self.miners.get(&id)
    }

    /// Totals since start.
    pub fn counters(&self) -> BridgeCounters {
        self.counters
    }

    /// True once the pool accepted `SetupConnection`.
    pub fn upstream_ready(&self) -> bool {
        self.upstream.as_ref().is_some_and(|u| u.session.is_ready())
    }

    /// True when miners have an attached channel with work.
    pub fn mining(&self) -> bool {
        match self.s.mode {
            ChannelMode::Aggregate => self
                .aggregate
                .and_then(|l| self.channels.get(&l))
                .is_some_and(|s| !s.chan.is_detached() && s.chan.latest().is_some()),
            ChannelMode::PerMiner => self
                .channels
                .values()
                .any(|s| !s.chan.is_detached() && s.chan.latest().is_some()),
        }
    }

    /// Extranonce2 size given to miners now.
    pub fn extranonce2_len(&self) -> usize {
        self.en2_len
    }

    /// Sum of the miners' hashrate estimates, H/s.
    pub fn total_hashrate(&self) -> f64 {
        self.miners
            .values()
            .filter(|m| m.is_ready())
            .map(Downstream::hashrate)
            .sum()
    }

    fn next_job_id(&mut self) -> u32 {
        let id = self.next_job_id;
        self.next_job_id = self.next_job_id.wrapping_add(1).max(1);
        id
    }

    fn channel_of(&self, m: &Downstream) -> Option<u32> {
        match self.s.mode {
            ChannelMode::Aggregate => self.aggregate,
            ChannelMode::PerMiner => m.channel(),
        }
    }

    // ----- miners -------------------------------------------------------------------------

    /// A miner connected. False if no extranonce1 is left (the caller closes the socket).
    pub fn miner_connected(&mut self, id: MinerId, now_ms: u64) -> bool {
        match self.extranonces.allocate() {
            Ok(en1) => {
                self.miners
                    .insert(id, Downstream::new(id, en1, self.en2_len, now_ms));
                metrics::gauge!(t::MINERS_CONNECTED).set(self.miners.len() as f64);
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "no extranonce1 left for a new miner");
                metrics::counter!(t::MINERS_REFUSED, "reason" => "extranonce_exhausted")
                    .increment(1);
                false
            }
        }
    }

    /// A miner's connection ended (`reason` for logs and metrics).
    pub fn miner_disconnected(&mut self, id: MinerId, reason: &'static str, out: &mut Vec<Action>) {
        let Some(m) = self.miners.remove(&id) else {
            return;
        };
        self.extranonces.release(m.extranonce1());
        tracing::debug!(
            miner = id,
            worker = m.worker().unwrap_or("-"),
            reason,
            "miner disconnected"
        );
        metrics::counter!(t::MINERS_DISCONNECTED, "reason" => reason).increment(1);
        metrics::gauge!(t::MINERS_CONNECTED).set(self.miners.len() as f64);
        // Every channel of this miner (its current one, one opened but without a job yet,
        // one of a lost connection) goes; attached ones are closed upstream. A channel still
        // being opened is closed when the pool's answer arrives.
        let owned: Vec<u32> = self
            .channels
            .iter()
            .filter(|(_, s)| s.owner == Owner::Miner(id))
            .map(|(l, _)| *l)
            .collect();
        for local in owned {
            for members in self.groups.values_mut() {
                members.retain(|l| *l != local);
            }
            if let Some(slot) = self.channels.remove(&local) {
                if !slot.chan.is_detached() {
                    self.by_upstream.remove(&slot.chan.channel_id());
                    out.push(Action::ToUpstream(Message::from(CloseChannel {
                        channel_id: slot.chan.channel_id(),
                        reason_code: "miner-disconnected".into(),
                    })));
                }
            }
        }
    }

    /// One line from a miner: a parsed request or the reason it could not be parsed.
    pub fn miner_line(
        &mut self,
        id: MinerId,
        req: Result<ClientRequest, Sv1Error>,
        now_ms: u64,
        out: &mut Vec<Action>,
    ) {
        let Some(m) = self.miners.get_mut(&id) else {
            return;
        };
        if m.is_closing() {
            return;
        }
        let req = match req {
            Ok(r) => r,
            Err(Sv1Error::UnexpectedResponse { .. }) => return, // a reply to us; nothing to do
            Err(e) => {
                if let Some(rid) = e.request_id() {
                    if let Some(l) = line(&Response::error(rid.clone(), e.to_stratum_error())) {
                        out.push(Action::ToMiner(id, l));
                    }
                }
                let cut = match &e {
                    // A known method with bad parameters: a bad share, not garbage.
                    Sv1Error::InvalidParams { .. } => {
                        m.on_rejected(now_ms, self.s.max_invalid_per_minute)
                    }
                    _ => m.on_malformed(self.s.max_malformed_lines),
                };
                if cut {
                    tracing::info!(miner = id, error = %e, "disconnecting a miner sending garbage");
                    self.close(id, out);
                }
                return;
            }
        };
        let rid = req.id;
        match req.method {
            ClientMethod::Configure(c) => {
                let started = m.is_ready();
                let result = m.configure(&c, self.upstream_mask);
                if let Some(l) = line(&Response::configure(rid, result)) {
                    out.push(Action::ToMiner(id, l));
                }
                if started && c.minimum_difficulty().is_some() {
                    if let Some(d) = m.restart_vardiff(&self.s.vardiff, now_ms) {
                        self.send_difficulty(id, d, out);
                    }
                }
            }
            ClientMethod::Subscribe(sub) => {
                let result = m.subscribe(sub.user_agent.as_deref());
                if let Some(l) = line(&Response::subscribe(rid, result)) {
                    out.push(Action::ToMiner(id, l));
                }
                self.maybe_start(id, now_ms, out);
            }
            ClientMethod::Authorize(a) => {
                match m.authorize(
                    &a.username,
                    a.password.as_deref(),
                    self.s.password.as_deref(),
                ) {
                    Ok(worker) => {
                        tracing::info!(miner = id, worker, "miner authorized");
                        if let Some(l) = true_line(rid) {
                            out.push(Action::ToMiner(id, l));
                        }
                        self.maybe_start(id, now_ms, out);
                    }
                    Err(e) => {
                        tracing::info!(miner = id, username = %a.username, "authorization refused");
                        if let Some(l) = line(&Response::error(rid, e)) {
                            out.push(Action::ToMiner(id, l));
                        }
                        if m.on_rejected(now_ms, self.s.max_invalid_per_minute) {
                            self.close(id, out);
                        }
                    }
                }
            }
            ClientMethod::ExtranonceSubscribe => {
                m.extranonce_subscribe();
                if let Some(l) = true_line(rid) {
                    out.push(Action::ToMiner(id, l));
                }
            }
            ClientMethod::SuggestDifficulty { difficulty } => {
                let change = m.suggest_difficulty(difficulty, now_ms);
                if let Some(l) = true_line(rid) {
                    out.push(Action::ToMiner(id, l));
                }
                if let Some(d) = change {
                    self.send_difficulty(id, d, out);
                }
            }
            ClientMethod::SuggestTarget { target } => {
                let d = Target::from_be_bytes(target).difficulty();
                let change = m.suggest_difficulty(d, now_ms);
                if let Some(l) = true_line(rid) {
                    out.push(Action::ToMiner(id, l));
                }
                if let Some(d) = change {
                    self.send_difficulty(id, d, out);
                }
            }
            ClientMethod::Submit(s) => self.submit(id, rid, &s, now_ms, out),
            ClientMethod::Other { method, .. } => {
                tracing::debug!(miner = id, %method, "unsupported method");
                if !rid.is_null() {
                    if let Some(l) = error_line(rid, ErrorCode::Other, "unsupported method") {
                        out.push(Action::ToMiner(id, l));
                    }
                }
            }
        }
    }

    fn close(&mut self, id: MinerId, out: &mut Vec<Action>) {
        if let Some(m) = self.miners.get_mut(&id) {
            if !m.is_closing() {
                m.mark_closing();
                out.push(Action::CloseMiner(id));
            }
        }
    }

    fn send_reconnect_and_close(&mut self, id: MinerId, out: &mut Vec<Action>) {
        if self.miners.get(&id).is_some_and(|m| !m.is_closing()) {
            if let Some(l) = reconnect_line() {
                out.push(Action::ToMiner(id, l));
            }
            self.close(id, out);
        }
    }

    /// Subscribed + authorized: first difficulty, then a job (or a channel in per-miner mode).
    fn maybe_start(&mut self, id: MinerId, now_ms: u64, out: &mut Vec<Action>) {
        let Some(m) = self.miners.get_mut(&id) else {
            return;
        };
        let Some(d) = m.start(&self.s.vardiff, self.s.initial_difficulty, now_ms) else {
            return;
        };
        metrics::gauge!(t::MINERS_READY).increment(1.0);
        if let Some(l) = line(&Notification::SetDifficulty { difficulty: d }) {
            out.push(Action::ToMiner(id, l));
        }
        match self.s.mode {
            ChannelMode::Aggregate => {
                if let Some(local) = self.aggregate {
                    self.send_current_job(id, local, true, false, out);
                }
            }
            ChannelMode::PerMiner => self.open_miner_channel(id, out),
        }
    }

    /// Sends the channel's newest job to one miner: under its own key (`alias` false) or a
    /// fresh id (after a difficulty change).
    fn send_current_job(
        &mut self,
        id: MinerId,
        local: u32,
        clean: bool,
        alias: bool,
        out: &mut Vec<Action>,
    ) {
        let job_id = if alias {
            Some(self.next_job_id())
        } else {
            None
        };
        let Some(slot) = self.channels.get(&local) else {
            return;
        };
        if !alias && slot.chan.is_detached() {
            return; // a newcomer waits for the next pool
        }
        let Some(job) = slot.chan.latest() else {
            return;
        };
        let key = job.key();
        let en2 = job.extranonce2_len();
        let sv1_id = job_id.unwrap_or(key);
        let Ok(l) = job.notify_line(format!("{sv1_id:x}"), clean) else {
            return;
        };
        let Some(m) = self.miners.get_mut(&id) else {
            return;
        };
        if m.extranonce2_len() != en2 && !fix_extranonce(m, en2, out) {
            return;
        }
        m.record_job(
            MinerJob {
                id: sv1_id,
                key,
                channel: local,
                difficulty: m.difficulty(),
            },
            clean,
        );
        out.push(Action::ToMiner(id, l));
    }

    /// `mining.set_difficulty` and the current job again under a fresh id.
    fn send_difficulty(&mut self, id: MinerId, d: f64, out: &mut Vec<Action>) {
        let Some(m) = self.miners.get(&id) else {
            return;
        };
        if !m.is_ready() {
            return;
        }
        if let Some(l) = line(&Notification::SetDifficulty { difficulty: d }) {
            out.push(Action::ToMiner(id, l));
        }
        if let Some(local) = self.channel_of(m) {
            self.send_current_job(id, local, false, true, out);
        }
    }

    fn submit(
        &mut self,
        id: MinerId,
        rid: sv1::Id,
        s: &Submit,
        now_ms: u64,
        out: &mut Vec<Action>,
    ) {
        let verdict = self.check_share(id, s, now_ms, out);
        let Some(m) = self.miners.get_mut(&id) else {
            return;
        };
        match verdict {
            Ok(()) => {
                self.counters.shares_accepted += 1;
                self.share_metrics.accepted.increment(1);
                if let Some(l) = true_line(rid) {
                    out.push(Action::ToMiner(id, l));
                }
            }
            Err((code, msg)) => {
                self.counters.shares_rejected += 1;
                metrics::counter!(t::SHARES, "result" => "rejected", "reason" => reason_label(code))
                    .increment(1);
                tracing::debug!(miner = id, job = %s.job_id, reason = msg, "share rejected");
                if let Some(l) = error_line(rid, code, msg) {
                    out.push(Action::ToMiner(id, l));
                }
                if m.on_rejected(now_ms, self.s.max_invalid_per_minute) {
                    tracing::info!(miner = id, "too many invalid shares: disconnecting");
                    metrics::counter!(t::MINERS_DISCONNECTED, "reason" => "invalid_shares")
                        .increment(1);
                    self.close(id, out);
                }
            }
        }
    }

    fn check_share(
        &mut self,
        id: MinerId,
        s: &Submit,
        now_ms: u64,
        out: &mut Vec<Action>,
    ) -> Result<(), (ErrorCode, &'static str)> {
        let m = self
            .miners
            .get_mut(&id)
            .ok_or((ErrorCode::Other, "unknown miner"))?;
        if !m.is_subscribed() {
            return Err((ErrorCode::NotSubscribed, "not subscribed"));
        }
        if !m.is_authorized() {
            return Err((ErrorCode::Unauthorized, "not authorized"));
        }
        let entry = m
            .find_job(&s.job_id)
            .ok_or((ErrorCode::JobNotFound, "job not found (stale)"))?;
        let slot = self
            .channels
            .get_mut(&entry.channel)
            .ok_or((ErrorCode::JobNotFound, "job not found (stale)"))?;
        let upstream_target = slot.chan.target();
        let detached = slot.chan.is_detached();
        let channel_id = slot.chan.channel_id();
        let job = slot
            .chan
            .job_mut(entry.key)
            .ok_or((ErrorCode::JobNotFound, "job not found (stale)"))?;
        if s.extranonce2.len() != job.extranonce2_len() {
            return Err((ErrorCode::Other, "wrong extranonce2 size"));
        }
        if s.ntime < job.ntime() || s.ntime > job.ntime().saturating_add(MAX_NTIME_AHEAD_SECS) {
            return Err((ErrorCode::Other, "ntime out of range"));
        }
        let version = job.share_version(s.version_bits, m.version_mask());
        let en1 = *m.extranonce1();
        let parts = ShareParts {
            extranonce1: en1.as_bytes(),
            extranonce2: &s.extranonce2,
            version,
            ntime: s.ntime,
            nonce: s.nonce,
        };
        let hash = job
            .hash(&parts)
            .ok_or((ErrorCode::Other, "wrong extranonce size"))?;
        let (target, credited) = m.share_target(&entry);
        if !target.is_met_by(&hash) {
            return Err((ErrorCode::LowDifficulty, "low difficulty share"));
        }
        let mut fp = [0u8; 8];
        fp.copy_from_slice(hash.get(..8).unwrap_or(&[0; 8]));
        let fingerprint = u64::from_le_bytes(fp);
        if m.is_duplicate(fingerprint) {
            return Err((ErrorCode::Duplicate, "duplicate share"));
        }
        m.on_accepted(now_ms, credited, fingerprint);

        if upstream_target.is_met_by(&hash) {
            let session = self
                .upstream
                .as_mut()
                .map(|u| &mut u.session)
                .filter(|s| s.is_ready());
            match session {
                Some(session) if !detached => {
                    let mut buf = [0u8; 32];
                    let extranonce = job
                        .share_extranonce(parts.extranonce1, parts.extranonce2, &mut buf)
                        .map(<[u8]>::to_vec)
                        .unwrap_or_default();
                    out.push(Action::ToUpstream(session.submit(
                        channel_id,
                        job.upstream_job_id(),
                        s.nonce,
                        s.ntime,
                        version,
                        extranonce,
                    )));
                    self.counters.forwarded += 1;
                    self.share_metrics.forwarded.increment(1);
                }
                _ => {
                    self.counters.unforwarded += 1;
                    self.share_metrics.unforwarded.increment(1);
                }
            }
        }
        if job.network_target().is_met_by(&hash) {
            self.counters.block_candidates += 1;
            self.share_metrics.block_candidates.increment(1);
            let mut shown = hash;
            shown.reverse();
            let shown = sv1::encoding::bytes_hex(&shown);
            tracing::info!(miner = id, worker = m.worker().unwrap_or("-"), hash = %shown, "block candidate");
        }
        Ok(())
    }

    // ----- upstream -----------------------------------------------------------------------

    /// A new pool connection is up (Noise done): sends `SetupConnection`. Any previous
    /// connection counts as lost.
    pub fn upstream_connected(
        &mut self,
        host: &str,
        port: u16,
        now_ms: u64,
        out: &mut Vec<Action>,
    ) {
        self.upstream_lost(now_ms);
        let session = UpstreamSession::new();
        out.push(Action::ToUpstream(session.setup_connection(
            host,
            port,
            &self.s.site,
        )));
        self.upstream = Some(Upstream { session });
        metrics::gauge!(t::UPSTREAM_STATE).set(1.0);
    }

    /// The pool connection is gone: its channels are detached (see the module docs).
    pub fn upstream_lost(&mut self, now_ms: u64) {
        if self.upstream.take().is_none() {
            return;
        }
        for slot in self.channels.values_mut() {
            slot.chan.detach();
        }
        self.by_upstream.clear();
        self.groups.clear();
        self.pending.clear();
        if self.down_since_ms.is_none() {
            self.down_since_ms = Some(now_ms);
        }
        metrics::gauge!(t::UPSTREAM_STATE).set(0.0);
    }

    fn abandon(&mut self, reason: String, now_ms: u64, out: &mut Vec<Action>) {
        tracing::warn!(%reason, "giving up on the upstream");
        out.push(Action::AbandonUpstream(reason));
        self.upstream_lost(now_ms);
    }

    /// One message from the pool.
    pub fn upstream_message(&mut self, msg: Message, now_ms: u64, out: &mut Vec<Action>) {
        let Some(up) = self.upstream.as_mut() else {
            return;
        };
        let ev = match up.session.on_message(msg) {
            Ok(ev) => ev,
            Err(v) => return self.abandon(v.to_string(), now_ms, out),
        };
        match ev {
            UpstreamEvent::SetupDone { version_rolling } => {
                let mask = if version_rolling {
                    self.s.version_mask
                } else {
                    0
                };
                self.set_upstream_mask(mask, out);
                metrics::gauge!(t::UPSTREAM_STATE).set(2.0);
                self.open_channels(out);
            }
            UpstreamEvent::SetupRefused(code) => {
                self.abandon(format!("SetupConnection refused: {code}"), now_ms, out)
            }
            UpstreamEvent::Opened(s) => self.on_opened(s, now_ms, out),
            UpstreamEvent::OpenFailed { request_id, code } => {
                match self.pending.remove(&request_id) {
                    Some(Owner::Aggregate) => {
                        self.abandon(format!("aggregate channel refused: {code}"), now_ms, out)
                    }
                    Some(Owner::Miner(mid)) => {
                        tracing::warn!(miner = mid, %code, "pool refused the miner's channel");
                        self.show_and_close(mid, &format!("pool refused the channel: {code}"), out);
                    }
                    None => {}
                }
            }
            UpstreamEvent::Job(j) => {
                let locals = self.locals_for(j.channel_id);
                if locals.is_empty() {
                    tracing::debug!(channel = j.channel_id, "job for an unknown channel");
                }
                for local in locals {
                    let key = self.next_job_id();
                    let (en1, en2) = (self.s.en1_len, self.en2_len);
                    let Some(slot) = self.channels.get_mut(&local) else {
                        continue;
                    };
                    match slot.chan.on_new_job(j.clone(), key, en1, en2) {
                        Ok(Some(ready)) => self.distribute(local, ready, out),
                        Ok(None) => {}
                        Err(e) => self.channel_failed(local, e, now_ms, out),
                    }
                }
            }
            UpstreamEvent::PrevHash(p) => {
                for local in self.locals_for(p.channel_id) {
                    let key = self.next_job_id();
                    let (en1, en2) = (self.s.en1_len, self.en2_len);
                    let Some(slot) = self.channels.get_mut(&local) else {
                        continue;
                    };
                    match slot.chan.on_prev_hash(&p, key, en1, en2) {
                        Ok(Some(ready)) => self.distribute(local, ready, out),
                        Ok(None) => {}
                        Err(e) => self.channel_failed(local, e, now_ms, out),
                    }
                }
            }
            UpstreamEvent::Target(st) => {
                for local in self.locals_for(st.channel_id) {
                    if let Some(slot) = self.channels.get_mut(&local) {
                        slot.chan.set_target(st.maximum_target);
                        tracing::debug!(
                            channel = st.channel_id,
                            difficulty = slot.chan.target().difficulty(),
                            "upstream target"
                        );
                    }
                }
            }
            UpstreamEvent::Prefix(p) => {
                let Some(&local) = self.by_upstream.get(&p.channel_id) else {
                    return;
                };
                let Some(slot) = self.channels.get_mut(&local) else {
                    return;
                };
                if let Err(e) = slot.chan.set_prefix(p.extranonce_prefix) {
                    return self.channel_failed(local, e, now_ms, out);
                }
                let rollable = slot.chan.rollable_len();
                let owner = slot.owner;
                self.fit_extranonce2(rollable, owner, now_ms, out);
            }
            UpstreamEvent::SharesAccepted { count, .. } => {
                self.counters.upstream_accepted += u64::from(count);
                metrics::counter!(t::UPSTREAM_SHARES, "result" => "accepted", "reason" => "ok")
                    .increment(u64::from(count));
            }
            UpstreamEvent::ShareRejected { code, .. } => {
                self.counters.upstream_rejected += 1;
                let label = match code.as_str() {
                    "stale-share"
                    | "invalid-job-id"
                    | "difficulty-too-low"
                    | "duplicate-share"
                    | "invalid-share"
                    | "bad-extranonce-size"
                    | "invalid-channel-id" => code.clone(),
                    _ => "other".to_owned(),
                };
                metrics::counter!(t::UPSTREAM_SHARES, "result" => "rejected", "reason" => label)
                    .increment(1);
                tracing::debug!(%code, "share rejected upstream");
                let streak = self
                    .upstream
                    .as_ref()
                    .map_or(0, |u| u.session.reject_streak());
                if streak >= self.s.max_consecutive_rejects {
                    self.abandon(
                        format!("{streak} consecutive share rejections ({code})"),
                        now_ms,
                        out,
                    );
                }
            }
            UpstreamEvent::ChannelClosed { channel_id, reason } => {
                let Some(local) = self.by_upstream.remove(&channel_id) else {
                    return;
                };
                let owner = self.channels.get(&local).map(|s| s.owner);
                if let Some(slot) = self.channels.get_mut(&local) {
                    slot.chan.detach();
                }
                match owner {
                    Some(Owner::Aggregate) => self.abandon(
                        format!("pool closed the aggregate channel: {reason}"),
                        now_ms,
                        out,
                    ),
                    Some(Owner::Miner(mid)) => {
                        tracing::info!(miner = mid, %reason, "pool closed the miner's channel");
                        self.send_reconnect_and_close(mid, out);
                    }
                    None => {}
                }
            }
            UpstreamEvent::Redirect { host, port } => {
                tracing::info!(%host, port, "pool asks to reconnect elsewhere");
                out.push(Action::RedirectUpstream { host, port });
            }
            UpstreamEvent::Ignored(what) => tracing::debug!(what, "ignored upstream message"),
        }
    }

    /// Local channels a message addressed to `channel_id` applies to: the channel itself, or
    /// every member of a group channel.
    fn locals_for(&self, channel_id: u32) -> Vec<u32> {
        match self.by_upstream.get(&channel_id) {
            Some(l) => vec![*l],
            None => self.groups.get(&channel_id).cloned().unwrap_or_default(),
        }
    }

    fn set_upstream_mask(&mut self, mask: u32, out: &mut Vec<Action>) {
        if mask == self.upstream_mask {
            return;
        }
        self.upstream_mask = mask;
        for (id, m) in self.miners.iter_mut() {
            if let Some(new) = m.update_version_mask(mask) {
                if let Some(l) = line(&Notification::SetVersionMask { mask: new }) {
                    out.push(Action::ToMiner(*id, l));
                }
            }
        }
    }

    fn open_channels(&mut self, out: &mut Vec<Action>) {
        match self.s.mode {
            ChannelMode::Aggregate => {
                let total = self.total_hashrate();
                let min_en = self.min_extranonce_size();
                let Some(up) = self.upstream.as_mut() else {
                    return;
                };
                let (rid, msg) = up
                    .session
                    .open_channel(&self.s.aggregate_identity, total, min_en);
                self.pending.insert(rid, Owner::Aggregate);
                self.last_update_hashrate = total;
                out.push(Action::ToUpstream(msg));
            }
            ChannelMode::PerMiner => {
                let ids: Vec<MinerId> = self
                    .miners
                    .iter()
                    .filter(|(_, m)| m.is_ready())
                    .map(|(id, _)| *id)
                    .collect();
                for id in ids {
                    self.open_miner_channel(id, out);
                }
            }
        }
    }

    /// `min_extranonce_size` asked of the pool: extranonce1 plus the smallest usable
    /// extranonce2. A pool leaving more gets the configured extranonce2 (rest padded).
    fn min_extranonce_size(&self) -> u16 {
        (self.s.en1_len + crate::extranonce::MIN_EXTRANONCE2_SIZE) as u16
    }

    fn open_miner_channel(&mut self, id: MinerId, out: &mut Vec<Action>) {
        let Some(m) = self.miners.get(&id) else {
            return;
        };
        let Some(worker) = m.worker() else {
            return;
        };
        let identity = upstream_identity(&self.s.site, worker);
        let hashrate = m.hashrate();
        let min_en = self.min_extranonce_size();
        let Some(up) = self.upstream.as_mut().filter(|u| u.session.is_ready()) else {
            return;
        };
        let (rid, msg) = up.session.open_channel(&identity, hashrate, min_en);
        self.pending.insert(rid, Owner::Miner(id));
        out.push(Action::ToUpstream(msg));
    }

    fn on_opened(
        &mut self,
        s: sv2_codec::mining::OpenExtendedMiningChannelSuccess,
        now_ms: u64,
        out: &mut Vec<Action>,
    ) {
        let close = |out: &mut Vec<Action>, reason: &str| {
            out.push(Action::ToUpstream(Message::from(CloseChannel {
                channel_id: s.channel_id,
                reason_code: reason.into(),
            })))
        };
        let Some(owner) = self.pending.remove(&s.request_id) else {
            close(out, "unknown-request");
            return;
        };
        if let Owner::Miner(mid) = owner {
            if self.miners.get(&mid).is_none_or(|m| m.is_closing()) {
                close(out, "miner-disconnected");
                return;
            }
        }
        let Some(chan) = UpstreamChannel::open(&s, MAX_JOBS_PER_CHANNEL) else {
            close(out, "extranonce-too-large");
            return self.owner_failed(
                owner,
                "channel extranonce exceeds 32 bytes".into(),
                now_ms,
                out,
            );
        };
        let rollable = chan.rollable_len();
        tracing::info!(channel = s.channel_id, extranonce_prefix = %sv1::encoding::bytes_hex(chan.prefix()), rollable, difficulty = chan.target().difficulty(), "upstream channel open");
        let local = self.next_local;
        self.next_local = self.next_local.wrapping_add(1).max(1);
        self.channels.insert(local, Slot { chan, owner });
        self.by_upstream.insert(s.channel_id, local);
        if s.group_channel_id != 0 {
            self.groups
                .entry(s.group_channel_id)
                .or_default()
                .push(local);
        }
        self.fit_extranonce2(rollable, owner, now_ms, out);
    }

    /// Makes extranonce2 fit a channel leaving `rollable` bytes (shrinking it if needed).
    fn fit_extranonce2(
        &mut self,
        rollable: usize,
        owner: Owner,
        now_ms: u64,
        out: &mut Vec<Action>,
    ) {
        match usable_extranonce2(rollable, self.s.en1_len, self.en2_len) {
            Some(en2) if en2 < self.en2_len => {
                tracing::warn!(
                    from = self.en2_len,
                    to = en2,
                    "upstream leaves fewer extranonce bytes: shrinking extranonce2"
                );
                self.en2_len = en2;
            }
            Some(_) => {}
            None => self.owner_failed(
                owner,
                format!(
                    "upstream leaves {rollable} extranonce bytes, miners need at least {}",
                    self.s.en1_len + crate::extranonce::MIN_EXTRANONCE2_SIZE
                ),
                now_ms,
                out,
            ),
        }
    }

    fn owner_failed(&mut self, owner: Owner, reason: String, now_ms: u64, out: &mut Vec<Action>) {
        match owner {
            Owner::Aggregate => self.abandon(reason, now_ms, out),
            Owner::Miner(mid) => self.show_and_close(mid, &reason, out),
        }
    }

    fn channel_failed(&mut self, local: u32, e: ChannelError, now_ms: u64, out: &mut Vec<Action>) {
        let Some(owner) = self.channels.get(&local).map(|s| s.owner) else {
            return;
        };
        tracing::warn!(error = %e, "upstream channel error");
        self.owner_failed(owner, format!("channel error: {e}"), now_ms, out);
    }

    fn show_and_close(&mut self, id: MinerId, text: &str, out: &mut Vec<Action>) {
        if let Some(l) = line(&Notification::ShowMessage {
            message: text.to_owned(),
        }) {
            out.push(Action::ToMiner(id, l));
        }
        self.close(id, out);
    }

    /// Hands a new job to the channel's miners.
    fn distribute(&mut self, local: u32, ready: JobReady, out: &mut Vec<Action>) {
        let Some(owner) = self.channels.get(&local).map(|s| s.owner) else {
            return;
        };
        // The first job of a new channel makes it the one its miners work on.
        match owner {
            Owner::Aggregate => {
                if self.aggregate != Some(local) {
                    self.aggregate = Some(local);
                    self.channels
                        .retain(|k, s| *k == local || s.owner != Owner::Aggregate);
                }
            }
            Owner::Miner(mid) => {
                let Some(m) = self.miners.get_mut(&mid) else {
                    return;
                };
                if m.channel() != Some(local) {
                    if let Some(old) = m.channel() {
                        self.channels.remove(&old);
                    }
                    m.set_channel(Some(local));
                }
            }
        }
        if self.down_since_ms.take().is_some() && self.released {
            self.released = false;
            out.push(Action::Accepting(true));
        }
        let Some(job) = self
            .channels
            .get(&local)
            .and_then(|s| s.chan.job(ready.key))
        else {
            return;
        };
        let en2 = job.extranonce2_len();
        let Ok(l) = job.notify_line(format!("{:x}", ready.key), ready.clean) else {
            return;
        };
        let targets: Vec<MinerId> = match owner {
            Owner::Aggregate => self
                .miners
                .iter()
                .filter(|(_, m)| m.is_ready())
                .map(|(id, _)| *id)
                .collect(),
            Owner::Miner(mid) => vec![mid],
        };
        for id in targets {
            let Some(m) = self.miners.get_mut(&id) else {
                continue;
            };
            if !m.is_ready() {
                continue;
            }
            if m.extranonce2_len() != en2 && !fix_extranonce(m, en2, out) {
                continue;
            }
            m.record_job(
                MinerJob {
                    id: ready.key,
                    key: ready.key,
                    channel: local,
                    difficulty: m.difficulty(),
                },
                ready.clean,
            );
            out.push(Action::ToMiner(id, l.clone()));
        }
        if ready.clean && owner == Owner::Aggregate {
            self.extranonces.on_new_prev_hash();
        }
    }

    // ----- timer --------------------------------------------------------------------------

    /// Periodic work (call about once a second): setup timeouts, vardiff, `UpdateChannel`,
    /// releasing miners after a long upstream outage, metrics.
    pub fn tick(&mut self, now_ms: u64, out: &mut Vec<Action>) {
        let ids: Vec<MinerId> = self.miners.keys().copied().collect();
        for id in ids {
            let Some(m) = self.miners.get_mut(&id) else {
                continue;
            };
            if m.is_closing() {
                continue;
            }
            if m.is_ready() {
                if let Some(d) = m.poll_vardiff(now_ms) {
                    tracing::debug!(miner = id, difficulty = d, "vardiff");
                    self.send_difficulty(id, d, out);
                }
            } else if now_ms.saturating_sub(m.connected_ms()) > self.s.setup_timeout_ms {
                tracing::info!(miner = id, "no subscribe/authorize in time: disconnecting");
                metrics::counter!(t::MINERS_DISCONNECTED, "reason" => "setup_timeout").increment(1);
                self.close(id, out);
            }
        }
        self.update_channels(now_ms, out);
        self.release_if_down(now_ms, out);
        if now_ms.saturating_sub(self.last_metrics_ms) >= METRICS_INTERVAL_MS {
            self.last_metrics_ms = now_ms;
            self.export_metrics();
        }
    }

    fn update_channels(&mut self, now_ms: u64, out: &mut Vec<Action>) {
        if !self.upstream_ready() {
            return;
        }
        let since = self
            .last_update_ms
            .map_or(u64::MAX, |t| now_ms.saturating_sub(t));
        if since < MIN_UPDATE_INTERVAL_MS {
            return;
        }
        let periodic = since >= self.s.update_interval_ms;
        match self.s.mode {
            ChannelMode::Aggregate => {
                let Some(chan_id) = self
                    .aggregate
                    .and_then(|l| self.channels.get(&l))
                    .filter(|s| !s.chan.is_detached())
                    .map(|s| s.chan.channel_id())
                else {
                    return;
                };
                let total = self.total_hashrate();
                let last = self.last_update_hashrate;
                let ratio = if last > 0.0 {
                    total / last
                } else if total > 0.0 {
                    f64::INFINITY
                } else {
                    1.0
                };
                let big = !(0.5..=2.0).contains(&ratio);
                let some = !(0.9..=1.1).contains(&ratio);
                if big || (periodic && some) {
                    if let Some(up) = self.upstream.as_ref() {
                        out.push(Action::ToUpstream(
                            up.session.update_channel(chan_id, total),
                        ));
                    }
                    self.last_update_hashrate = total;
                    self.last_update_ms = Some(now_ms);
                }
            }
            ChannelMode::PerMiner => {
                if !periodic {
                    return;
                }
                self.last_update_ms = Some(now_ms);
                let Some(up) = self.upstream.as_ref() else {
                    return;
                };
                for m in self.miners.values() {
                    let Some(slot) = m.channel().and_then(|l| self.channels.get(&l)) else {
                        continue;
                    };
                    if !slot.chan.is_detached() && m.is_ready() {
                        out.push(Action::ToUpstream(
                            up.session
                                .update_channel(slot.chan.channel_id(), m.hashrate()),
                        ));
                    }
                }
            }
        }
    }

    fn release_if_down(&mut self, now_ms: u64, out: &mut Vec<Action>) {
        let (Some(after), Some(since)) = (self.s.release_after_ms, self.down_since_ms) else {
            return;
        };
        if self.released || now_ms.saturating_sub(since) < after {
            return;
        }
        self.released = true;
        tracing::warn!(
            miners = self.miners.len(),
            "no upstream for too long: releasing miners to their backup pools"
        );
        out.push(Action::Accepting(false));
        let ids: Vec<MinerId> = self.miners.keys().copied().collect();
        for id in ids {
            metrics::counter!(t::MINERS_DISCONNECTED, "reason" => "no_upstream").increment(1);
            self.send_reconnect_and_close(id, out);
        }
    }

    fn export_metrics(&self) {
        let mut total = 0.0;
        let mut ready = 0usize;
        for m in self.miners.values().filter(|m| m.is_ready()) {
            let h = m.hashrate();
            total += h;
            ready += 1;
            metrics::gauge!(
                t::MINER_HASHRATE,
                "worker" => m.worker().unwrap_or("-").to_owned(),
                "extranonce1" => sv1::encoding::bytes_hex(m.extranonce1().as_bytes())
            )
            .set(h);
        }
        metrics::gauge!(t::HASHRATE).set(total);
        metrics::gauge!(t::MINERS_READY).set(ready as f64);
        metrics::gauge!(t::MINERS_CONNECTED).set(self.miners.len() as f64);
    }

    /// Shutting down: every miner is told to reconnect (to us after a restart, or to its
    /// backup pool) and closed.
    pub fn shutdown(&mut self, out: &mut Vec<Action>) {
        let ids: Vec<MinerId> = self.miners.keys().copied().collect();
        for id in ids {
            self.send_reconnect_and_close(id, out);
        }
    }
}

/// Gives a miner a new extranonce2 size: `mining.set_extranonce` if it supports it, otherwise
/// `client.reconnect` and close. Returns true if the miner keeps receiving jobs.
fn fix_extranonce(m: &mut Downstream, en2: usize, out: &mut Vec<Action>) -> bool {
    let id = m.id();
    if m.accepts_set_extranonce() {
        if let Some(l) = line(&Notification::SetExtranonce {
            extranonce1: m.extranonce1().as_bytes().to_vec(),
            extranonce2_size: en2,
        }) {
            out.push(Action::ToMiner(id, l));
        }
        m.set_extranonce2_len(en2);
        true
    } else {
        if let Some(l) = reconnect_line() {
            out.push(Action::ToMiner(id, l));
        }
        if !m.is_closing() {
            m.mark_closing();
            out.push(Action::CloseMiner(id));
        }
        false
    }
}

#[cfg(test)]
#[path = "bridge_tests.rs"]
mod tests;
