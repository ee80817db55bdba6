//! Sans-IO state of one SV1 connection, shared by the hashing miner and the load generator:
//! the handshake an Antminer performs, the pool's notifications, and request/response
//! bookkeeping.

use std::collections::{BTreeMap, VecDeque};

use sv1::{
    Authorize, ClientMethod, ClientRequest, Configure, ConfigureExtension, Id, Notification,
    Notify, Response, ResponseResult, ServerMessage, Subscribe,
};
use sv2_mining::header::version_rolling_ok;
use sv2_mining::target::{hash_difficulty, Target};

use super::job::{job_template, submit_request};
use crate::miner::error::MinerError;
use crate::miner::stats::{bump, drop_gauge, Stats};
use crate::miner::work::{Found, JobTemplate};

/// Job ids kept valid for submission (older ones are dropped, as pools do).
const MAX_VALID_JOBS: usize = 16;
/// Requests kept waiting for a response at most (the oldest are forgotten beyond that).
const MAX_PENDING: usize = 4096;

/// What the handshake sends.
#[derive(Debug, Clone)]
pub(crate) struct Handshake {
    pub(crate) user: String,
    pub(crate) password: String,
    pub(crate) user_agent: String,
    /// Request version rolling with this mask (`min-bit-count` 16).
    pub(crate) version_rolling: Option<u32>,
    /// Request the `minimum-difficulty` extension with this value.
    pub(crate) minimum_difficulty: Option<f64>,
    /// Send `mining.extranonce.subscribe` after authorizing.
    pub(crate) extranonce_subscribe: bool,
}

/// The job a share belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sv1Tag {
    /// The connection the job arrived on (job ids repeat across connections).
    pub(crate) session: u64,
    /// `mining.notify` job id.
    pub(crate) job_id: String,
    /// The job's version (rolled versions may differ only under the mask).
    pub(crate) job_version: u32,
}

/// A change the hashing side must see.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Sv1Effect {
    /// New work (or none) with its share target.
    Work(Option<(Sv1Tag, JobTemplate)>, Target),
    /// New share target; work continues.
    Target(Target),
    /// The pool asked to reconnect (`client.reconnect`).
    Reconnect {
        /// Host (None: same).
        host: Option<String>,
        /// Port (None: same).
        port: Option<u16>,
        /// Seconds to wait first.
        wait_secs: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Configure,
    Subscribe,
    Authorize,
    ExtranonceSubscribe,
    Submit,
}

/// A share ready to send.
#[derive(Debug)]
pub(crate) struct Sv1Submission {
    /// The `mining.submit` request.
    pub(crate) request: ClientRequest,
    /// Difficulty of the share's hash.
    pub(crate) difficulty: f64,
    /// The hash meets the job's network target.
    pub(crate) is_block: bool,
}

/// One connection's protocol state.
#[derive(Debug)]
pub(crate) struct Sv1State {
    session: u64,
    user: String,
    requested_mask: Option<u32>,
    next_id: u64,
    pending: BTreeMap<u64, Pending>,
    outstanding_submits: u64,
    subscription: Option<(Vec<u8>, usize)>,
    next_extranonce: Option<(Vec<u8>, usize)>,
    authorized: bool,
    mask: Option<u32>,
    difficulty: f64,
    target: Target,
    notify: Option<Notify>,
    valid_jobs: VecDeque<String>,
    last_prev_hash: Option<[u8; 32]>,
}

impl Sv1State {
    /// Fresh state; difficulty 1 until the pool says otherwise.
    pub(crate) fn new(user: &str, version_rolling: Option<u32>) -> Self {
        Sv1State {
            session: crate::miner::next_session_id(),
            user: user.to_owned(),
            requested_mask: version_rolling,
            next_id: 1,
            pending: BTreeMap::new(),
            outstanding_submits: 0,
            subscription: None,
            next_extranonce: None,
            authorized: false,
            mask: None,
            difficulty: 1.0,
            target: Target::from_difficulty(1.0),
            notify: None,
            valid_jobs: VecDeque::new(),
            last_prev_hash: None,
        }
    }

    fn request(&mut self, kind: Pending, method: ClientMethod) -> ClientRequest {
        let id = self.next_id;
        self.next_id += 1;
        self.pending.insert(id, kind);
        while self.pending.len() > MAX_PENDING {
            if let Some((_, Pending::Submit)) = self.pending.pop_first() {
                self.outstanding_submits = self.outstanding_submits.saturating_sub(1);
            }
        }
        ClientRequest::new(id, method)
    }

    /// The opening requests, in the order Antminer firmware sends them: `mining.configure`
    /// (when an extension is requested), `mining.subscribe`, `mining.authorize`, then
    /// `mining.extranonce.subscribe` if asked for.
    pub(crate) fn handshake(&mut self, h: &Handshake) -> Vec<ClientRequest> {
        let mut out = Vec::new();
        let mut extensions = Vec::new();
        if let Some(mask) = h.version_rolling {
            extensions.push(ConfigureExtension::VersionRolling {
                mask: Some(mask),
                min_bit_count: Some(16),
            });
        }
        if let Some(value) = h.minimum_difficulty {
            extensions.push(ConfigureExtension::MinimumDifficulty { value: Some(value) });
        }
        if !extensions.is_empty() {
            out.push(self.request(
                Pending::Configure,
                ClientMethod::Configure(Configure { extensions }),
            ));
        }
        out.push(self.request(
            Pending::Subscribe,
            ClientMethod::Subscribe(Subscribe {
                user_agent: Some(h.user_agent.clone()),
                session_id: None,
            }),
        ));
        out.push(self.request(
            Pending::Authorize,
            ClientMethod::Authorize(Authorize {
                username: h.user.clone(),
                password: Some(h.password.clone()),
            }),
        ));
        if h.extranonce_subscribe {
            out.push(self.request(
                Pending::ExtranonceSubscribe,
                ClientMethod::ExtranonceSubscribe,
            ));
        }
        out
    }

    /// Subscribed and authorized: shares can be submitted.
    pub(crate) fn ready(&self) -> bool {
        self.authorized && self.subscription.is_some()
    }

    /// The current share difficulty.
    pub(crate) fn difficulty(&self) -> f64 {
        self.difficulty
    }

    /// The negotiated version-rolling mask, if any.
    pub(crate) fn version_mask(&self) -> Option<u32> {
        self.mask
    }

    /// The worker name sent with submits.
    pub(crate) fn user(&self) -> &str {
        &self.user
    }

    /// True while shares for the job of `tag` are still accepted on this connection.
    pub(crate) fn is_current(&self, tag: &Sv1Tag) -> bool {
        tag.session == self.session && self.job_valid(&tag.job_id)
    }

    /// Submits sent and not answered yet.
    pub(crate) fn outstanding(&self) -> u64 {
        self.outstanding_submits
    }

    /// The work for the latest job, if the connection is ready and has one.
    pub(crate) fn current_work(&self) -> Option<(Sv1Tag, JobTemplate)> {
        let n = self.notify.as_ref()?;
        let (en1, size) = self.subscription.as_ref()?;
        if !self.authorized {
            return None;
        }
        let template = job_template(n, en1, *size, self.mask.unwrap_or(0));
        Some((
            Sv1Tag {
                session: self.session,
                job_id: n.job_id.clone(),
                job_version: n.version,
            },
            template,
        ))
    }

    fn work_effect(&self) -> Sv1Effect {
        Sv1Effect::Work(self.current_work(), self.target)
    }

    /// Applies one message from the pool.
    pub(crate) fn handle(
        &mut self,
        msg: ServerMessage,
        stats: &Stats,
    ) -> Result<Vec<Sv1Effect>, MinerError> {
        match msg {
            ServerMessage::Response(r) => self.response(r, stats),
            ServerMessage::Notification(n) => Ok(self.notification(n, stats)),
        }
    }

    fn response(&mut self, r: Response, stats: &Stats) -> Result<Vec<Sv1Effect>, MinerError> {
        let id = match &r.id {
            Id::Number(_) => r.id.as_u64(),
            Id::String(s) => s.parse().ok(),
            Id::Null => None,
        };
        let Some(kind) = id.and_then(|id| self.pending.remove(&id)) else {
            bump(&stats.ignored_messages);
            return Ok(Vec::new());
        };
        let mut fx = Vec::new();
        match kind {
            Pending::Configure => {
                let mask = match (&r.result, self.requested_mask) {
                    (ResponseResult::Configure(c), Some(requested))
                        if r.error.is_none() && c.version_rolling == Some(true) =>
                    {
                        Some(c.version_rolling_mask.unwrap_or(requested) & requested)
                    }
                    _ => None,
                };
                self.mask = mask;
                tracing::debug!(?mask, "version rolling negotiated");
                if self.ready() {
                    fx.push(self.work_effect());
                }
            }
            Pending::Subscribe => match (&r.result, &r.error) {
                (ResponseResult::Subscribe(s), None) => {
                    self.subscription = Some((s.extranonce1.clone(), s.extranonce2_size));
                    bump(&stats.connections);
                    bump(&stats.open_connections);
                    if self.ready() {
                        fx.push(self.work_effect());
                    }
                }
                (_, e) => {
                    return Err(MinerError::SubscribeRejected(e.as_ref().map_or_else(
                        || "unexpected result".into(),
                        |e| format!("{}: {}", e.code, e.message),
                    )))
                }
            },
            Pending::Authorize => {
                if r.is_success() {
                    self.authorized = true;
                    bump(&stats.channels_opened);
                    bump(&stats.open_channels);
                    if self.ready() {
                        fx.push(self.work_effect());
                    }
                } else {
                    bump(&stats.channel_open_errors);
                    return Err(MinerError::Unauthorized(self.user.clone()));
                }
            }
            Pending::ExtranonceSubscribe => {}
            Pending::Submit => {
                self.outstanding_submits = self.outstanding_submits.saturating_sub(1);
                if r.is_success() {
                    bump(&stats.shares_accepted);
                } else {
                    let reason = match &r.error {
                        Some(e) => format!("{}: {}", e.code, e.message),
                        None => "rejected".to_owned(),
                    };
                    stats.rejected(&reason);
                }
            }
        }
        Ok(fx)
    }

    fn notification(&mut self, n: Notification, stats: &Stats) -> Vec<Sv1Effect> {
        match n {
            Notification::Notify(n) => {
                stats.job(&n.job_id);
                let prev = n.prev_hash.to_header_bytes();
                if self.last_prev_hash != Some(prev) {
                    bump(&stats.prev_hash_changes);
                    self.last_prev_hash = Some(prev);
                }
                let mut clean = n.clean_jobs;
                if let Some(next) = self.next_extranonce.take() {
                    // Jobs built on the old extranonce1 are gone with it.
                    self.subscription = Some(next);
                    clean = true;
                }
                if clean {
                    self.valid_jobs.clear();
                }
                self.valid_jobs.retain(|j| *j != n.job_id);
                if self.valid_jobs.len() >= MAX_VALID_JOBS {
                    self.valid_jobs.pop_front();
                }
                self.valid_jobs.push_back(n.job_id.clone());
                self.notify = Some(n);
                if self.ready() {
                    return vec![self.work_effect()];
                }
            }
            Notification::SetDifficulty { difficulty } => {
                self.difficulty = difficulty;
                self.target = Target::from_difficulty(difficulty);
                stats.difficulty(difficulty);
                return vec![Sv1Effect::Target(self.target)];
            }
            Notification::SetExtranonce {
                extranonce1,
                extranonce2_size,
            } => {
                // Used from the next mining.notify on.
                self.next_extranonce = Some((extranonce1, extranonce2_size));
            }
            Notification::SetVersionMask { mask } => {
                if let Some(requested) = self.requested_mask {
                    self.mask = Some(mask & requested);
                    if self.ready() {
                        return vec![self.work_effect()];
                    }
                }
            }
            Notification::Reconnect(r) => {
                return vec![Sv1Effect::Reconnect {
                    host: r.host,
                    port: r.port,
                    wait_secs: r.wait_secs.unwrap_or(0),
                }];
            }
            Notification::ShowMessage { message } => {
                tracing::info!(%message, "pool message");
            }
            Notification::Other { method, .. } => {
                tracing::debug!(%method, "ignoring notification");
                bump(&stats.ignored_messages);
            }
        }
        Vec::new()
    }

    /// Turns a found header into `mining.submit`, or `None` if its job, target or version
    /// mask changed meanwhile.
    pub(crate) fn submission(
        &mut self,
        tag: &Sv1Tag,
        template: &JobTemplate,
        extranonce2: &[u8],
        found: &Found,
    ) -> Option<Sv1Submission> {
        let fresh = self.ready()
            && tag.session == self.session
            && self.valid_jobs.contains(&tag.job_id)
            && self.target.is_met_by(&found.hash)
            && version_rolling_ok(tag.job_version, found.version, self.mask.unwrap_or(0));
        if !fresh {
            return None;
        }
        Some(self.submission_unchecked(tag, template, extranonce2, found))
    }

    /// Like [`Sv1State::submission`] without the target check (load mode sends shares the
    /// difficulty was too high to find); the job must still be valid.
    pub(crate) fn submission_unchecked(
        &mut self,
        tag: &Sv1Tag,
        template: &JobTemplate,
        extranonce2: &[u8],
        found: &Found,
    ) -> Sv1Submission {
        let id = self.register_submit();
        let request = submit_request(id, &self.user, &tag.job_id, extranonce2, found, self.mask);
        Sv1Submission {
            request,
            difficulty: hash_difficulty(&found.hash),
            is_block: template
                .block_target()
                .is_some_and(|t| t.is_met_by(&found.hash)),
        }
    }

    /// Allocates the id of a `mining.submit` about to be sent and waits for its answer (the
    /// bookkeeping of [`Sv1State::submission_unchecked`], for callers writing the line
    /// themselves).
    pub(crate) fn register_submit(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.pending.insert(id, Pending::Submit);
        self.outstanding_submits += 1;
        while self.pending.len() > MAX_PENDING {
            if let Some((_, Pending::Submit)) = self.pending.pop_first() {
                self.outstanding_submits = self.outstanding_submits.saturating_sub(1);
            }
        }
        id
    }

    /// Releases the connection and channel gauges this connection holds in `stats`.
    pub(crate) fn close(&self, stats: &Stats) {
        if self.subscription.is_some() {
            drop_gauge(&stats.open_connections);
        }
        if self.authorized {
            drop_gauge(&stats.open_channels);
        }
    }

    /// True if shares for `job_id` would still be accepted.
    pub(crate) fn job_valid(&self, job_id: &str) -> bool {
        self.valid_jobs.iter().any(|j| j == job_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sv1::{parse_server_line, OutgoingMessage, PrevHash, StratumError, SubscribeResult};

    fn handshake() -> Handshake {
        Handshake {
            user: "site.worker".into(),
            password: "x".into(),
            user_agent: "bmminer/2.0.0".into(),
            version_rolling: Some(0x1fff_e000),
            minimum_difficulty: Some(512.0),
            extranonce_subscribe: true,
        }
    }

    fn notify(job: &str, clean: bool) -> ServerMessage {
        Notification::Notify(Notify {
            job_id: job.into(),
            prev_hash: PrevHash::from_header_bytes([5; 32]),
            coinb1: vec![1, 2],
            coinb2: vec![3],
            merkle_branch: vec![],
            version: 0x2000_0000,
            nbits: 0x207f_ffff,
            ntime: 100,
            clean_jobs: clean,
        })
        .into()
    }

    fn line(s: &str) -> ServerMessage {
        parse_server_line(s).unwrap()
    }

    fn found_for(t: &JobTemplate, en2: &[u8], version: u32) -> Found {
        let h = t.header(en2, version, t.ntime, 1);
        Found {
            version,
            ntime: t.ntime,
            nonce: 1,
            hash: h.hash(),
        }
    }

    #[test]
    fn antminer_handshake_lines() {
        let mut s = Sv1State::new("site.worker", Some(0x1fff_e000));
        let lines: Vec<String> = s
            .handshake(&handshake())
            .iter()
            .map(|r| r.to_line().unwrap())
            .collect();
        assert_eq!(lines[0], "{\"id\":1,\"method\":\"mining.configure\",\"params\":[[\"version-rolling\",\"minimum-difficulty\"],{\"version-rolling.mask\":\"1fffe000\",\"version-rolling.min-bit-count\":16,\"minimum-difficulty.value\":512}]}\n");
        assert_eq!(
            lines[1],
            "{\"id\":2,\"method\":\"mining.subscribe\",\"params\":[\"bmminer/2.0.0\"]}\n"
        );
        assert_eq!(
            lines[2],
            "{\"id\":3,\"method\":\"mining.authorize\",\"params\":[\"site.worker\",\"x\"]}\n"
        );
        assert_eq!(
            lines[3],
            "{\"id\":4,\"method\":\"mining.extranonce.subscribe\",\"params\":[]}\n"
        );
    }

    #[test]
    fn session_flow_work_and_submissions() {
        let stats = Stats::default();
        let mut s = Sv1State::new("site.worker", Some(0x1fff_e000));
        s.handshake(&handshake());
        assert!(s.handle(line(r#"{"id":1,"result":{"version-rolling":true,"version-rolling.mask":"00ffe000"},"error":null}"#), &stats).unwrap().is_empty());
        assert_eq!(s.version_mask(), Some(0x00ff_e000));
        s.handle(line(r#"{"id":2,"result":[[["mining.notify","ae6812eb4cd7735a302a8a9dd95cf71f"]],"08000002",4],"error":null}"#), &stats).unwrap();
        // Notify before authorization: stored, no work yet.
        assert!(s.handle(notify("j1", true), &stats).unwrap().is_empty());
        let fx = s
            .handle(line(r#"{"id":3,"result":true,"error":null}"#), &stats)
            .unwrap();
        let [Sv1Effect::Work(Some((tag, t)), target)] = &fx[..] else {
            panic!("{fx:?}")
        };
        assert_eq!(tag.job_id, "j1");
        assert_eq!(*target, Target::from_difficulty(1.0));
        assert_eq!(t.version_mask, 0x00ff_e000);
        let MerkleSourceCheck(prefix) = MerkleSourceCheck::of(t);
        assert_eq!(prefix, vec![1, 2, 8, 0, 0, 2]);
        // Difficulty so low every hash is a share.
        let fx = s
            .handle(
                Notification::SetDifficulty { difficulty: 1e-12 }.into(),
                &stats,
            )
            .unwrap();
        assert!(matches!(fx[..], [Sv1Effect::Target(_)]));
        let en2 = [0, 0, 0, 9];
        let f = found_for(t, &en2, t.rolled_version(3));
        let sub = s.submission(tag, t, &en2, &f).unwrap();
        assert_eq!(sub.request.to_line().unwrap(), format!("{{\"id\":5,\"method\":\"mining.submit\",\"params\":[\"site.worker\",\"j1\",\"00000009\",\"00000064\",\"00000001\",\"{:08x}\"]}}\n", f.version & 0x00ff_e000));
        // A version outside the negotiated mask is never submitted.
        let bad = found_for(t, &en2, t.version ^ 0x1000_0000);
        assert!(s.submission(tag, t, &en2, &bad).is_none());
        s.handle(line(r#"{"id":5,"result":true,"error":null}"#), &stats)
            .unwrap();
        let sub = s.submission(tag, t, &en2, &f).unwrap();
        assert_eq!(s.outstanding(), 1);
        let rej = Response::error(
            sub.request.id.clone(),
            StratumError::new(sv1::ErrorCode::Duplicate, "Duplicate share"),
        );
        s.handle(rej.into(), &stats).unwrap();
        assert_eq!(s.outstanding(), 0);
        // Non-clean notify keeps j1 valid; clean drops it.
        s.handle(notify("j2", false), &stats).unwrap();
        assert!(s.job_valid("j1") && s.job_valid("j2"));
        s.handle(notify("j3", true), &stats).unwrap();
        assert!(!s.job_valid("j1"));
        assert!(s.submission(tag, t, &en2, &f).is_none());
        let snap = stats.snapshot();
        assert_eq!((snap.shares_accepted, snap.shares_rejected), (1, 1));
        assert_eq!(snap.rejected_for("22: Duplicate share"), 1);
        assert_eq!(
            (
                snap.connections,
                snap.channels_opened,
                snap.jobs_received,
                snap.prev_hash_changes
            ),
            (1, 1, 3, 1)
        );
        assert_eq!(snap.last_job_id.as_deref(), Some("j3"));
    }

    struct MerkleSourceCheck(Vec<u8>);
    impl MerkleSourceCheck {
        fn of(t: &JobTemplate) -> Self {
            match &t.merkle {
                crate::miner::work::MerkleSource::Coinbase {
                    prefix,
                    extranonce_len: 4,
                    ..
                } => MerkleSourceCheck(prefix.clone()),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn extranonce_and_mask_changes_and_reconnect() {
        let stats = Stats::default();
        let mut s = Sv1State::new("w", Some(0x1fff_e000));
        let mut h = handshake();
        h.minimum_difficulty = None;
        h.extranonce_subscribe = false;
        s.handshake(&h);
        // Configure refused: no rolling.
        s.handle(
            line(r#"{"id":1,"result":null,"error":[20,"Method not found",null]}"#),
            &stats,
        )
        .unwrap();
        assert_eq!(s.version_mask(), None);
        s.handle(
            Response::subscribe(
                Id::from(2u64),
                SubscribeResult {
                    subscriptions: vec![],
                    extranonce1: vec![1],
                    extranonce2_size: 2,
                },
            )
            .into(),
            &stats,
        )
        .unwrap();
        s.handle(Response::bool(Id::String("3".into()), true).into(), &stats)
            .unwrap();
        let fx = s.handle(notify("a", false), &stats).unwrap();
        let [Sv1Effect::Work(Some((_, t)), _)] = &fx[..] else {
            panic!()
        };
        assert_eq!(t.version_mask, 0);
        // set_version_mask turns rolling on within the requested mask.
        let fx = s
            .handle(
                Notification::SetVersionMask { mask: 0xffff_ffff }.into(),
                &stats,
            )
            .unwrap();
        let [Sv1Effect::Work(Some((_, t)), _)] = &fx[..] else {
            panic!()
        };
        assert_eq!(t.version_mask, 0x1fff_e000);
        // set_extranonce applies at the next notify, which also invalidates older jobs.
        s.handle(
            Notification::SetExtranonce {
                extranonce1: vec![7, 7],
                extranonce2_size: 3,
            }
            .into(),
            &stats,
        )
        .unwrap();
        assert!(s.job_valid("a"));
        let fx = s.handle(notify("b", false), &stats).unwrap();
        let [Sv1Effect::Work(Some((_, t)), _)] = &fx[..] else {
            panic!()
        };
        assert_eq!(t.merkle.extranonce_len(), 3);
        assert!(!s.job_valid("a"));
        let fx = s
            .handle(
                line(r#"{"id":null,"method":"client.reconnect","params":["other",3334,5]}"#),
                &stats,
            )
            .unwrap();
        assert_eq!(
            fx,
            vec![Sv1Effect::Reconnect {
                host: Some("other".into()),
                port: Some(3334),
                wait_secs: 5
            }]
        );
        // Unknown response ids and notifications are counted and ignored.
        s.handle(line(r#"{"id":99,"result":true,"error":null}"#), &stats)
            .unwrap();
        s.handle(
            line(r#"{"id":null,"method":"mining.ping","params":[]}"#),
            &stats,
        )
        .unwrap();
        assert_eq!(stats.snapshot().ignored_messages, 2);
    }

    #[test]
    fn shares_of_a_previous_connection_are_never_submitted() {
        let stats = Stats::default();
        let ready = |s: &mut Sv1State| {
            s.handshake(&Handshake {
                version_rolling: None,
                minimum_difficulty: None,
                extranonce_subscribe: false,
                ..handshake()
            });
            s.handle(
                Response::subscribe(
                    Id::from(1u64),
                    SubscribeResult {
                        subscriptions: vec![],
                        extranonce1: vec![1],
                        extranonce2_size: 2,
                    },
                )
                .into(),
                &stats,
            )
            .unwrap();
            s.handle(Response::bool(Id::from(2u64), true).into(), &stats)
                .unwrap();
            s.handle(
                Notification::SetDifficulty { difficulty: 1e-12 }.into(),
                &stats,
            )
            .unwrap();
            s.handle(notify("same", true), &stats).unwrap();
            s.current_work().unwrap()
        };
        let mut first = Sv1State::new("w", None);
        let (tag, t) = ready(&mut first);
        let f = found_for(&t, &[0, 1], t.version);
        assert!(first.submission(&tag, &t, &[0, 1], &f).is_some());
        let mut second = Sv1State::new("w", None);
        ready(&mut second);
        assert!(second.submission(&tag, &t, &[0, 1], &f).is_none());
    }

    #[test]
    fn refused_subscribe_or_authorize_end_the_connection() {
        let stats = Stats::default();
        let mut s = Sv1State::new("w", None);
        s.handshake(&Handshake {
            version_rolling: None,
            minimum_difficulty: None,
            extranonce_subscribe: false,
            ..handshake()
        });
        assert!(matches!(
            s.handle(
                line(r#"{"id":1,"result":null,"error":[25,"Not subscribed",null]}"#),
                &stats
            ),
            Err(MinerError::SubscribeRejected(_))
        ));
        assert!(
            matches!(s.handle(line(r#"{"id":2,"result":false,"error":null}"#), &stats), Err(MinerError::Unauthorized(u)) if u == "w")
        );
        assert_eq!(stats.snapshot().channel_open_errors, 1);
    }
}
