//! One SV1 miner, sans-IO: handshake state (configure / subscribe / authorize), negotiated
//! version-rolling mask, extranonces, difficulty (per-miner vardiff), the jobs it was sent,
//! and its misbehaviour counters. The [`crate::bridge::Bridge`] feeds it requests and the
//! time and turns its answers into lines.
//!
//! Memory per idle miner is a few hundred bytes: the vardiff controller, at most
//! [`MAX_MINER_JOBS`] job references and [`RECENT_SHARES`] share fingerprints.

use std::collections::VecDeque;

use sv1::{Configure, ConfigureResult, StratumError, SubscribeResult};
use sv2_mining::target::Target;
use sv2_mining::vardiff::{Vardiff, VardiffConfig, HASHES_PER_DIFF1};

use crate::extranonce::Extranonce1;
use crate::worker::{password_matches, worker_name};

/// Identifier of a miner connection inside the translator.
pub type MinerId = u32;

/// Jobs a miner can still submit shares on (older ones answer "job not found").
pub const MAX_MINER_JOBS: usize = 8;
/// Accepted-share fingerprints kept for duplicate detection.
pub const RECENT_SHARES: usize = 16;

/// A job as sent to this miner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinerJob {
    /// The SV1 job id sent (hex on the wire).
    pub id: u32,
    /// Key of the job in its channel.
    pub key: u32,
    /// Local id of the channel holding the job.
    pub channel: u32,
    /// Difficulty in force for this miner when the job was sent.
    pub difficulty: f64,
}

/// Per-miner share counters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MinerCounters {
    /// Shares accepted locally.
    pub accepted: u64,
    /// Shares rejected locally.
    pub rejected: u64,
    /// Sum of accepted share difficulties.
    pub work: f64,
}

/// State of one SV1 miner.
#[derive(Debug, Clone)]
pub struct Downstream {
    id: MinerId,
    en1: Extranonce1,
    en2_len: u8,
    subscribed: bool,
    authorized: bool,
    extranonce_subscribe: bool,
    /// Mask the miner asked for in `mining.configure`, if it negotiated version rolling.
    vr_requested: Option<u32>,
    vr_min_bits: u32,
    vr_mask: u32,
    min_difficulty: Option<f64>,
    suggested: Option<f64>,
    worker: Option<Box<str>>,
    user_agent: Option<Box<str>>,
    difficulty: f64,
    vardiff: Option<Vardiff>,
    jobs: VecDeque<MinerJob>,
    recent: [u64; RECENT_SHARES],
    recent_next: usize,
    connected_ms: u64,
    invalid_window_start_ms: u64,
    invalid_in_window: u32,
    malformed: u32,
    channel: Option<u32>,
    closing: bool,
    counters: MinerCounters,
}

/// Rounds a difficulty as sent to firmware: integers from 1 up (what pools send), otherwise
/// kept as is.
pub fn round_difficulty(d: f64) -> f64 {
    if d >= 1.0 {
        d.floor()
    } else {
        d
    }
}

impl Downstream {
    /// A miner that just connected, with its extranonce1 and current extranonce2 size.
    pub fn new(id: MinerId, en1: Extranonce1, en2_len: usize, now_ms: u64) -> Self {
        Downstream {
            id,
            en1,
            en2_len: en2_len.min(usize::from(u8::MAX)) as u8,
            subscribed: false,
            authorized: false,
            extranonce_subscribe: false,
            vr_requested: None,
            vr_min_bits: 0,
            vr_mask: 0,
            min_difficulty: None,
            suggested: None,
            worker: None,
            user_agent: None,
            difficulty: 0.0,
            vardiff: None,
            jobs: VecDeque::new(),
            recent: [0; RECENT_SHARES],
            recent_next: 0,
            connected_ms: now_ms,
            invalid_window_start_ms: now_ms,
            invalid_in_window: 0,
            malformed: 0,
            channel: None,
            closing: false,
            counters: MinerCounters::default(),
        }
    }

    /// The miner's id.
    pub fn id(&self) -> MinerId {
        self.id
    }

    /// Its extranonce1.
    pub fn extranonce1(&self) -> &Extranonce1 {
        &self.en1
    }

    /// Extranonce2 bytes it rolls.
    pub fn extranonce2_len(&self) -> usize {
        usize::from(self.en2_len)
    }

    /// Changes the extranonce2 size (after `mining.set_extranonce`).
    pub fn set_extranonce2_len(&mut self, len: usize) {
        self.en2_len = len.min(usize::from(u8::MAX)) as u8;
    }

    /// True after `mining.subscribe`.
    pub fn is_subscribed(&self) -> bool {
        self.subscribed
    }

    /// True after a successful `mining.authorize`.
    pub fn is_authorized(&self) -> bool {
        self.authorized
    }

    /// Subscribed and authorized: the miner receives jobs.
    pub fn is_ready(&self) -> bool {
        self.subscribed && self.authorized && self.vardiff.is_some() && !self.closing
    }

    /// True if the miner announced `mining.set_extranonce` support.
    pub fn accepts_set_extranonce(&self) -> bool {
        self.extranonce_subscribe
    }

    /// Negotiated version-rolling mask (0 without version rolling).
    pub fn version_mask(&self) -> u32 {
        self.vr_mask
    }

    /// True if the miner negotiated version rolling.
    pub fn rolls_version(&self) -> bool {
        self.vr_requested.is_some()
    }

    /// Worker name (after authorize).
    pub fn worker(&self) -> Option<&str> {
        self.worker.as_deref()
    }

    /// Firmware user agent from `mining.subscribe`.
    pub fn user_agent(&self) -> Option<&str> {
        self.user_agent.as_deref()
    }

    /// Difficulty currently in force.
    pub fn difficulty(&self) -> f64 {
        self.difficulty
    }

    /// When the miner connected.
    pub fn connected_ms(&self) -> u64 {
        self.connected_ms
    }

    /// Local channel this miner has (per-miner mode).
    pub fn channel(&self) -> Option<u32> {
        self.channel
    }

    /// Sets the miner's own channel (per-miner mode).
    pub fn set_channel(&mut self, channel: Option<u32>) {
        self.channel = channel;
    }

    /// The translator decided to disconnect it; it gets nothing more.
    pub fn mark_closing(&mut self) {
        self.closing = true;
    }

    /// True once [`Self::mark_closing`] was called.
    pub fn is_closing(&self) -> bool {
        self.closing
    }

    /// Share counters.
    pub fn counters(&self) -> MinerCounters {
        self.counters
    }

    /// `mining.configure`: version rolling is granted on `miner mask & upstream_mask`
    /// (refused if that leaves fewer bits than the miner's `min-bit-count`); minimum
    /// difficulty is recorded as a floor; `subscribe-extranonce` enables
    /// `mining.set_extranonce`; other extensions are answered `false`.
    pub fn configure(&mut self, c: &Configure, upstream_mask: u32) -> ConfigureResult {
        let mut result = ConfigureResult::default();
        for ext in &c.extensions {
            match ext {
                sv1::ConfigureExtension::VersionRolling {
                    mask,
                    min_bit_count,
                } => {
                    let requested = mask.unwrap_or(u32::MAX);
                    let granted = requested & upstream_mask;
                    let min_bits = min_bit_count.unwrap_or(0);
                    if upstream_mask != 0 && granted.count_ones() >= min_bits {
                        self.vr_requested = Some(requested);
                        self.vr_min_bits = min_bits;
                        self.vr_mask = granted;
                        result.version_rolling = Some(true);
                        result.version_rolling_mask = Some(granted);
                    } else {
                        self.vr_requested = None;
                        self.vr_mask = 0;
                        result.version_rolling = Some(false);
                    }
                }
                sv1::ConfigureExtension::MinimumDifficulty { value } => {
                    match value.filter(|v| v.is_finite() && *v > 0.0) {
                        Some(v) => {
                            self.min_difficulty = Some(v);
                            result.minimum_difficulty = Some(true);
                        }
                        None => result.minimum_difficulty = Some(false),
                    }
                }
                sv1::ConfigureExtension::SubscribeExtranonce => {
                    self.extranonce_subscribe = true;
                    result.subscribe_extranonce = Some(true);
                }
                sv1::ConfigureExtension::Other { name, .. } => {
                    result
                        .other
                        .insert(name.clone(), serde_json::Value::Bool(false));
                }
            }
        }
        result
    }

    /// The upstream's allowed mask changed: returns the new mask to announce with
    /// `mining.set_version_mask` if this miner's grant changed.
    pub fn update_version_mask(&mut self, upstream_mask: u32) -> Option<u32> {
        let requested = self.vr_requested?;
        let granted = requested & upstream_mask;
        let granted = if granted.count_ones() >= self.vr_min_bits {
            granted
        } else {
            0
        };
        (granted != self.vr_mask).then(|| {
            self.vr_mask = granted;
            granted
        })
    }

    /// `mining.extranonce.subscribe`.
    pub fn extranonce_subscribe(&mut self) {
        self.extranonce_subscribe = true;
    }

    /// `mining.subscribe`: the subscription result with this miner's extranonces.
    pub fn subscribe(&mut self, user_agent: Option<&str>) -> SubscribeResult {
        self.subscribed = true;
        if let Some(ua) = user_agent {
            self.user_agent = Some(ua.chars().take(64).collect::<String>().into_boxed_str());
        }
        let sub_id = sv1::encoding::bytes_hex(self.en1.as_bytes());
        SubscribeResult {
            subscriptions: vec![
                (sv1::SET_DIFFICULTY.to_owned(), sub_id.clone()),
                (sv1::NOTIFY.to_owned(), sub_id),
            ],
            extranonce1: self.en1.as_bytes().to_vec(),
            extranonce2_size: self.extranonce2_len(),
        }
    }

    /// `mining.authorize`: checks the password (if one is configured) and derives the worker
    /// name (see [`crate::worker`]). Returns the worker name.
    pub fn authorize(
        &mut self,
        username: &str,
        password: Option<&str>,
        required_password: Option<&str>,
    ) -> Result<&str, StratumError> {
        if let Some(expected) = required_password {
            if !password_matches(expected, password) {
                return Err(StratumError::new(
                    sv1::ErrorCode::Unauthorized,
                    "wrong password",
                ));
            }
        }
        let fallback = format!("miner-{}", sv1::encoding::bytes_hex(self.en1.as_bytes()));
        let worker = worker_name(username, &fallback);
        self.authorized = true;
        Ok(&**self.worker.insert(worker.into_boxed_str()))
    }

    /// `mining.suggest_difficulty` / `suggest_target`: before the first job it sets the
    /// starting difficulty; afterwards it returns the difficulty to switch to (clamped).
    pub fn suggest_difficulty(&mut self, d: f64, now_ms: u64) -> Option<f64> {
        if !(d.is_finite() && d > 0.0) {
            return None;
        }
        self.suggested = Some(d);
        let v = self.vardiff.as_mut()?;
        let floor = self.min_difficulty.unwrap_or(0.0);
        let want = round_difficulty(d.max(floor));
        v.set_difficulty(want, now_ms);
        let got = round_difficulty(v.difficulty());
        (got != self.difficulty).then(|| {
            self.difficulty = got;
            got
        })
    }

    fn vardiff_config(&self, base: &VardiffConfig) -> VardiffConfig {
        let mut cfg = base.clone();
        if let Some(floor) = self.min_difficulty {
            cfg.min_difficulty = floor.clamp(base.min_difficulty, base.max_difficulty);
        }
        cfg
    }

    /// Subscribed and authorized: starts vardiff and returns the first difficulty to send.
    /// `None` while the handshake is incomplete (or already started).
    pub fn start(&mut self, base: &VardiffConfig, initial: f64, now_ms: u64) -> Option<f64> {
        if !(self.subscribed && self.authorized) || self.vardiff.is_some() || self.closing {
            return None;
        }
        let cfg = self.vardiff_config(base);
        let start = self.suggested.unwrap_or(initial);
        let v = Vardiff::new(cfg, start, now_ms).ok()?;
        self.difficulty = round_difficulty(v.difficulty());
        self.vardiff = Some(v);
        if let Some(v) = self.vardiff.as_mut() {
            v.set_difficulty(self.difficulty, now_ms);
        }
        Some(self.difficulty)
    }

    /// Re-applies a `minimum-difficulty` floor that arrived after [`Self::start`]; returns the
    /// new difficulty if it changed.
    pub fn restart_vardiff(&mut self, base: &VardiffConfig, now_ms: u64) -> Option<f64> {
        self.vardiff.as_ref()?;
        let cfg = self.vardiff_config(base);
        let v = Vardiff::new(cfg, self.difficulty, now_ms).ok()?;
        let d = round_difficulty(v.difficulty());
        self.vardiff = Some(v);
        (d != self.difficulty).then(|| {
            self.difficulty = d;
            d
        })
    }

    /// Vardiff evaluation; the new difficulty to send, if it changed.
    pub fn poll_vardiff(&mut self, now_ms: u64) -> Option<f64> {
        let v = self.vardiff.as_mut()?;
        let proposed = v.poll(now_ms)?;
        let d = round_difficulty(proposed);
        if d == self.difficulty {
            return None;
        }
        v.set_difficulty(d, now_ms);
        self.difficulty = d;
        Some(d)
    }

    /// Hashrate estimate (H/s): vardiff's estimate, or the rate the current difficulty implies.
    pub fn hashrate(&self) -> f64 {
        let Some(v) = &self.vardiff else {
            return 0.0;
        };
        v.hashrate_estimate().unwrap_or_else(|| {
            let interval_s = v.config().target_share_interval_ms as f64 / 1000.0;
            self.difficulty * HASHES_PER_DIFF1 / interval_s.max(0.001)
        })
    }

    /// Records a job sent to the miner; `clean` forgets the earlier ones.
    pub fn record_job(&mut self, job: MinerJob, clean: bool) {
        if clean {
            self.jobs.clear();
            self.recent = [0; RECENT_SHARES];
        }
        while self.jobs.len() >= MAX_MINER_JOBS {
            self.jobs.pop_front();
        }
        self.jobs.push_back(job);
    }

    /// The job a submitted SV1 job id refers to.
    pub fn find_job(&self, job_id: &str) -> Option<MinerJob> {
        let id = sv1::encoding::parse_u32_hex(job_id).ok()?;
        self.jobs.iter().rev().find(|j| j.id == id).copied()
    }

    /// The most recent job sent.
    pub fn last_job(&self) -> Option<MinerJob> {
        self.jobs.back().copied()
    }

    /// The target a share on `job` must meet: the easier of the job's difficulty and the
    /// current one (firmware differs on when a new difficulty applies).
    pub fn share_target(&self, job: &MinerJob) -> (Target, f64) {
        let d = if self.difficulty > 0.0 {
            job.difficulty.min(self.difficulty)
        } else {
            job.difficulty
        };
        (Target::from_difficulty(d), d)
    }

    /// Duplicate detection: true if `fingerprint` was accepted recently (on the current tip).
    pub fn is_duplicate(&self, fingerprint: u64) -> bool {
        fingerprint != 0 && self.recent.contains(&fingerprint)
    }

    /// An accepted share credited at `difficulty`.
    pub fn on_accepted(&mut self, now_ms: u64, difficulty: f64, fingerprint: u64) {
        if let Some(slot) = self.recent.get_mut(self.recent_next) {
            *slot = fingerprint;
        }
        self.recent_next = (self.recent_next + 1) % RECENT_SHARES;
        self.counters.accepted += 1;
        self.counters.work += difficulty;
        if let Some(v) = self.vardiff.as_mut() {
            v.on_share(now_ms, difficulty);
        }
    }

    /// A rejected share; true when the miner exceeded `max_per_minute` rejections.
    pub fn on_rejected(&mut self, now_ms: u64, max_per_minute: u32) -> bool {
        self.counters.rejected += 1;
        if now_ms.saturating_sub(self.invalid_window_start_ms) >= 60_000 {
            self.invalid_window_start_ms = now_ms;
            self.invalid_in_window = 0;
        }
        self.invalid_in_window = self.invalid_in_window.saturating_add(1);
        self.invalid_in_window > max_per_minute
    }

    /// A line that is not a Stratum request; true when `limit` such lines were seen.
    pub fn on_malformed(&mut self, limit: u32) -> bool {
        self.malformed = self.malformed.saturating_add(1);
        self.malformed >= limit.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extranonce::MinerExtranonces;
    use sv1::ConfigureExtension;

    fn miner() -> Downstream {
        let mut e = MinerExtranonces::new(2, 4).unwrap();
        e.allocate().unwrap();
        Downstream::new(1, e.allocate().unwrap(), 4, 0)
    }

    fn cfg() -> VardiffConfig {
        VardiffConfig {
            min_difficulty: 16.0,
            max_difficulty: 1e9,
            ..VardiffConfig::default()
        }
    }

    #[test]
    fn handshake_and_subscribe_result() {
        let mut m = miner();
        assert!(!m.is_ready());
        let s = m.subscribe(Some("bmminer/2.0.0"));
        assert_eq!(s.extranonce1, vec![0, 1]);
        assert_eq!(s.extranonce2_size, 4);
        assert_eq!(s.subscriptions[1].0, "mining.notify");
        assert_eq!(m.user_agent(), Some("bmminer/2.0.0"));
        assert!(m.start(&cfg(), 1024.0, 0).is_none(), "not authorized yet");
        assert_eq!(m.authorize("acct.rig9", Some("x"), None).unwrap(), "rig9");
        assert_eq!(m.start(&cfg(), 1024.0, 0), Some(1024.0));
        assert!(m.is_ready());
        assert!(m.start(&cfg(), 1024.0, 0).is_none(), "only once");
        m.mark_closing();
        assert!(!m.is_ready());
    }

    #[test]
    fn empty_username_gets_a_unique_name_and_password_is_checked() {
        let mut m = miner();
        assert_eq!(m.authorize("", None, None).unwrap(), "miner-0001");
        let mut m = miner();
        let e = m
            .authorize("a.b", Some("nope"), Some("secret"))
            .unwrap_err();
        assert_eq!(e.kind(), Some(sv1::ErrorCode::Unauthorized));
        assert!(!m.is_authorized());
        assert!(m.authorize("a.b", Some("secret"), Some("secret")).is_ok());
    }

    #[test]
    fn configure_negotiation() {
        let mut m = miner();
        let c = Configure {
            extensions: vec![
                ConfigureExtension::VersionRolling {
                    mask: Some(0xffff_ffff),
                    min_bit_count: Some(2),
                },
                ConfigureExtension::MinimumDifficulty {
                    value: Some(2048.0),
                },
                ConfigureExtension::SubscribeExtranonce,
                ConfigureExtension::Other {
                    name: "info".into(),
                    params: Default::default(),
                },
            ],
        };
        let r = m.configure(&c, 0x1fff_e000);
        assert_eq!(r.version_rolling, Some(true));
        assert_eq!(r.version_rolling_mask, Some(0x1fff_e000));
        assert_eq!(r.minimum_difficulty, Some(true));
        assert_eq!(r.subscribe_extranonce, Some(true));
        assert_eq!(r.other.get("info"), Some(&serde_json::Value::Bool(false)));
        assert!(m.accepts_set_extranonce());
        assert_eq!(m.version_mask(), 0x1fff_e000);

        // A narrower upstream grant is announced; the miner's request is remembered.
        assert_eq!(m.update_version_mask(0x0000_e000), Some(0x0000_e000));
        assert_eq!(m.update_version_mask(0x0000_e000), None);
        // Below min-bit-count: rolling is withdrawn (mask 0).
        assert_eq!(m.update_version_mask(0x0000_2000), Some(0));

        // The minimum difficulty is a floor for vardiff.
        m.subscribe(None);
        m.authorize("w", None, None).unwrap();
        assert_eq!(m.start(&cfg(), 100.0, 0), Some(2048.0));

        // A miner asking for bits the pool does not allow, with a large minimum.
        let mut m = miner();
        let r = m.configure(
            &Configure {
                extensions: vec![ConfigureExtension::VersionRolling {
                    mask: Some(0x0000_0003),
                    min_bit_count: Some(1),
                }],
            },
            0x1fff_e000,
        );
        assert_eq!(r.version_rolling, Some(false));
        assert_eq!(m.version_mask(), 0);
        assert!(!m.rolls_version());
    }

    #[test]
    fn suggested_difficulty() {
        let mut m = miner();
        m.subscribe(None);
        m.authorize("w", None, None).unwrap();
        // Before start: becomes the starting difficulty.
        assert_eq!(m.suggest_difficulty(500.5, 0), None);
        assert_eq!(m.start(&cfg(), 1024.0, 0), Some(500.0));
        // After start: a switch.
        assert_eq!(m.suggest_difficulty(8192.0, 10), Some(8192.0));
        assert_eq!(m.suggest_difficulty(8192.0, 10), None);
        assert_eq!(m.suggest_difficulty(f64::NAN, 10), None);
        // Clamped to the configured minimum.
        assert_eq!(m.suggest_difficulty(1.0, 20), Some(16.0));
    }

    #[test]
    fn job_ring_and_targets() {
        let mut m = miner();
        m.subscribe(None);
        m.authorize("w", None, None).unwrap();
        m.start(&cfg(), 1024.0, 0).unwrap();
        for i in 0..20u32 {
            m.record_job(
                MinerJob {
                    id: i,
                    key: i,
                    channel: 1,
                    difficulty: 1024.0,
                },
                false,
            );
        }
        assert!(m.find_job("0").is_none(), "evicted");
        assert_eq!(m.find_job("13").unwrap().id, 0x13);
        assert!(m.find_job("zz").is_none());
        m.record_job(
            MinerJob {
                id: 99,
                key: 99,
                channel: 1,
                difficulty: 4096.0,
            },
            true,
        );
        assert!(m.find_job("13").is_none(), "clean_jobs forgets");
        let j = m.find_job("63").unwrap();
        // Current difficulty 1024 < job's 4096: the easier one applies.
        let (t, d) = m.share_target(&j);
        assert_eq!(d, 1024.0);
        assert_eq!(t, Target::from_difficulty(1024.0));
    }

    #[test]
    fn duplicates_and_cutoffs() {
        let mut m = miner();
        assert!(!m.is_duplicate(42));
        m.on_accepted(0, 1.0, 42);
        assert!(m.is_duplicate(42));
        assert_eq!(m.counters().accepted, 1);
        for i in 0..5 {
            assert!(!m.on_rejected(i, 5));
        }
        assert!(m.on_rejected(10, 5));
        // A new minute starts a new window.
        assert!(!m.on_rejected(70_000, 5));
        assert!(!m.on_malformed(3));
        assert!(!m.on_malformed(3));
        assert!(m.on_malformed(3));
        assert_eq!(round_difficulty(1234.9), 1234.0);
        assert_eq!(round_difficulty(0.25), 0.25);
    }

    #[test]
    fn vardiff_raises_difficulty_for_a_fast_miner() {
        let mut m = miner();
        m.subscribe(None);
        m.authorize("w", None, None).unwrap();
        let base = VardiffConfig {
            min_difficulty: 1.0,
            ..VardiffConfig::default()
        };
        m.start(&base, 1.0, 0).unwrap();
        // 100 shares per second at difficulty 1, far above one per 6 s.
        let mut raised = None;
        for t in 1..=2000u64 {
            m.on_accepted(t * 10, m.difficulty(), t);
            if let Some(d) = m.poll_vardiff(t * 10) {
                raised = Some(d);
                break;
            }
        }
        let d = raised.expect("vardiff reacts");
        assert!(d > 10.0, "{d}");
        assert_eq!(m.difficulty(), d);
        assert!(m.hashrate() > 0.0);
    }
}
