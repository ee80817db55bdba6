//! Sans-IO state of one mining connection: its channels (from `sv2_mining::channel`), the
//! messages jobs become, share verdicts, vardiff and batched acknowledgements. The connection
//! task feeds it decoded messages, new jobs and timer ticks, and sends what it returns.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sv2_codec::mining::{
    error_codes, CloseChannel, NewExtendedMiningJob, NewMiningJob, OpenExtendedMiningChannel,
    OpenExtendedMiningChannelSuccess, OpenMiningChannelError, OpenStandardMiningChannel,
    OpenStandardMiningChannelSuccess, SetNewPrevHash, SetTarget, SubmitSharesError,
    SubmitSharesExtended, SubmitSharesStandard, SubmitSharesSuccess, UpdateChannel,
    UpdateChannelError,
};
use sv2_codec::{Message, MiningMessage};
use sv2_mining::channel::{
    ChainTip, ChannelConfig, ExtendedChannel, GroupChannel, NewExtendedJob, NewPrevHash,
    NewStandardJob, ShareOutcome, StandardChannel, SubmitExtended, SubmitStandard,
};
use sv2_mining::extranonce::{ExtranonceAllocator, PrefixId};
use sv2_mining::target::Target;
use sv2_mining::vardiff::HASHES_PER_DIFF1;

use crate::accounting::{WorkAggregator, WorkerId};
use crate::block::BlockSolution;
use crate::jobs::PoolJob;

/// Per-session settings derived from the config.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// Channel policy (version mask, ntime bounds, vardiff) for every channel.
    pub channel: ChannelConfig,
    /// Starting difficulty when the client gives no usable nominal hashrate.
    pub initial_difficulty: f64,
    /// Hardest difficulty the pool will ask for (bounds a client's max_target).
    pub max_difficulty: f64,
    /// Channels per connection.
    pub max_channels: u32,
    /// Ack every this many accepted shares...
    pub ack_batch: u32,
    /// ...or after this many ms.
    pub ack_interval_ms: u64,
    /// Invalid shares per minute before the connection is closed.
    pub max_invalid_per_minute: u32,
    /// Accepts custom jobs (`SetCustomMiningJob`) carrying job declarator tokens; `None`
    /// refuses work selection.
    pub custom_jobs: Option<Arc<crate::custom_jobs::CustomJobVerifier>>,
    /// Sees every accepted share (a job declarator client forwards them to its pool).
    pub share_observer: Option<Arc<dyn ShareObserver>>,
    /// Receives the blocks found on custom jobs, for the treasury to credit once they are in
    /// the best chain (the job declarator client and server submit them).
    pub declared_blocks: Option<tokio::sync::mpsc::Sender<crate::accounting::DeclaredBlock>>,
}

/// An accepted share with everything needed to submit it again elsewhere.
#[derive(Debug, Clone)]
pub struct ObservedShare {
    /// Channel it was submitted on.
    pub channel_id: u32,
    /// Worker of the channel.
    pub worker: WorkerId,
    /// Template of the job (the [`PoolJob::template_id`]).
    pub template_id: u64,
    /// Full extranonce placed in the coinbase (channel prefix + miner part).
    pub extranonce: Vec<u8>,
    /// Header version.
    pub version: u32,
    /// Header time.
    pub ntime: u32,
    /// Header nonce.
    pub nonce: u32,
    /// Header hash, internal byte order.
    pub hash: [u8; 32],
}

/// Receives accepted shares (see [`SessionSettings::share_observer`]). Called on the
/// connection task: implementations must not block.
pub trait ShareObserver: Send + Sync + std::fmt::Debug {
    /// One accepted share.
    fn accepted(&self, share: ObservedShare);
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

enum Kind {
    Standard(Box<StandardChannel>),
    Extended(Box<ExtendedChannel>),
    /// A standard channel living in the connection's group channel.
    Grouped,
}

struct Channel {
    id: u32,
    kind: Kind,
    prefix_id: PrefixId,
    worker: WorkerId,
    ack_count: u32,
    ack_sum: u64,
    ack_last_seq: u32,
    ack_since: Option<Instant>,
    /// Height of the latest custom job on this channel (work selection), 0 if none.
    custom_height: u64,
}

impl Channel {
    /// A new channel of `kind`, for the worker named by `identity`, with nothing acknowledged.
    fn new(id: u32, kind: Kind, prefix_id: PrefixId, identity: &str) -> Self {
        Channel {
            id,
            kind,
            prefix_id,
            worker: WorkerId::parse(identity),
            ack_count: 0,
            ack_sum: 0,
            ack_last_seq: 0,
            ack_since: None,
            custom_height: 0,
        }
    }

    fn id(&self) -> u32 {
        self.id
    }
}

/// How many recent pool jobs a session keeps to resolve block candidates to templates.
const RECENT_JOBS: usize = 16;

/// State of one mining connection.
pub struct MiningSession {
    settings: SessionSettings,
    allocator: Arc<ChannelAllocator>,
    work: Arc<WorkAggregator>,
    setup_flags: u32,
    channels: HashMap<u32, Channel>,
    recent_jobs: VecDeque<Arc<PoolJob>>,
    /// Standard channels of a client that did not set REQUIRES_STANDARD_JOBS share one group
    /// channel: one NewExtendedMiningJob per job for all of them.
    group: Option<Box<GroupChannel>>,
    invalid_window_start: Instant,
    invalid_in_window: u32,
    /// Verdicts of the share batch being handled (kept to reuse its allocation).
    outcomes: Vec<ShareOutcome>,
}

/// The channel's view of a `SubmitSharesExtended` (borrows its extranonce).
fn extended_submit(s: &SubmitSharesExtended) -> SubmitExtended<'_> {
    SubmitExtended {
        channel_id: s.channel_id,
        sequence_number: s.sequence_number,
        job_id: s.job_id,
        nonce: s.nonce,
        ntime: s.ntime,
        version: s.version,
        extranonce: &s.extranonce,
    }
}

/// Unix time in milliseconds (channels check ntime against it).
fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn tip_of(job: &PoolJob) -> ChainTip {
    ChainTip {
        prev_hash: job.prev_hash,
        min_ntime: job.ntime,
        nbits: job.nbits,
    }
}

fn standard_job_msg(j: NewStandardJob) -> Message {
    Message::from(NewMiningJob {
        channel_id: j.channel_id,
        job_id: j.job_id,
        min_ntime: j.min_ntime,
        version: j.version,
        merkle_root: j.merkle_root,
    })
}

fn extended_job_msg(j: NewExtendedJob) -> Message {
    Message::from(NewExtendedMiningJob {
        channel_id: j.channel_id,
        job_id: j.job_id,
        min_ntime: j.min_ntime,
        version: j.version,
        version_rolling_allowed: j.version_rolling_allowed,
        merkle_path: j.merkle_path.to_vec(),
        coinbase_tx_prefix: j.coinbase.prefix.clone(),
        coinbase_tx_suffix: j.coinbase.suffix.clone(),
    })
}

fn prev_hash_msg(p: NewPrevHash) -> Message {
    Message::from(SetNewPrevHash {
        channel_id: p.channel_id,
        job_id: p.job_id,
        prev_hash: p.prev_hash,
        min_ntime: p.min_ntime,
        nbits: p.nbits,
    })
}

/// Sends `job` to one channel: a future job followed by SetNewPrevHash on a new tip (or a
/// channel's first job), an immediately active job otherwise.
fn send_job(ch: &mut Channel, job: &PoolJob, new_tip: bool, out: &mut Vec<Message>) {
    let mut template = job.channel_template.clone();
    template.future = new_tip;
    let tip = tip_of(job);
    let result = match &mut ch.kind {
        Kind::Standard(c) => c.new_job(&template).map(|j| {
            out.push(standard_job_msg(j));
            if new_tip {
                c.on_new_prev_hash(job.template_id, tip)
            } else {
                Ok(None)
            }
        }),
        Kind::Extended(c) => c.new_job(&template).map(|j| {
            out.push(extended_job_msg(j));
            if new_tip {
                c.on_new_prev_hash(job.template_id, tip)
            } else {
                Ok(None)
            }
        }),
        // Jobs reach grouped channels through the group (see `send_group_job`).
        Kind::Grouped => Ok(Ok(None)),
    };
    match result {
        Ok(Ok(Some(p))) => out.push(prev_hash_msg(p)),
        Ok(Ok(None)) => {}
        Ok(Err(e)) | Err(e) => {
            metrics::counter!("pool_job_errors_total").increment(1);
            tracing::error!(channel = ch.id(), error = %e, "cannot give the channel a job");
        }
    }
}

/// Sends `job` to a group channel: one NewExtendedMiningJob addressed to the group (and a
/// SetNewPrevHash on a new tip); every member gets the job installed for validation.
fn send_group_job(g: &mut GroupChannel, job: &PoolJob, new_tip: bool, out: &mut Vec<Message>) {
    let mut template = job.channel_template.clone();
    template.future = new_tip;
    let result = g.new_job(&template).map(|gj| {
        out.push(extended_job_msg(gj.extended));
        if new_tip {
            g.on_new_prev_hash(job.template_id, tip_of(job))
        } else {
            Ok(None)
        }
    });
    match result {
        Ok(Ok(Some(p))) => out.push(prev_hash_msg(p)),
        Ok(Ok(None)) => {}
        Ok(Err(e)) | Err(e) => {
            metrics::counter!("pool_job_errors_total").increment(1);
            tracing::error!(group = g.id(), error = %e, "cannot give the group channel a job");
        }
    }
}

impl MiningSession {
    /// New session for a connection that sent SetupConnection with `setup_flags`.
    pub fn new(
        settings: SessionSettings,
        allocator: Arc<ChannelAllocator>,
        work: Arc<WorkAggregator>,
        setup_flags: u32,
    ) -> Self {
        MiningSession {
            settings,
            allocator,
            work,
            setup_flags,
            channels: HashMap::new(),
            recent_jobs: VecDeque::new(),
            group: None,
            invalid_window_start: Instant::now(),
            invalid_in_window: 0,
            outcomes: Vec::new(),
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

    /// Whether the client selects its own work (`REQUIRES_WORK_SELECTION`): it gets no pool
    /// jobs and sets custom jobs on its extended channels.
    pub fn work_selection(&self) -> bool {
        self.setup_flags & sv2_codec::common::mining_flags::REQUIRES_WORK_SELECTION != 0
    }

    fn set_custom_job(&mut self, m: sv2_codec::mining::SetCustomMiningJob, out: &mut Vec<Message>) {
        use crate::custom_jobs::error_codes as codes;
        let refuse = |code: &str| {
            Message::from(sv2_codec::mining::SetCustomMiningJobError {
                channel_id: m.channel_id,
                request_id: m.request_id,
                error_code: code.to_owned(),
            })
        };
        let verifier = match (&self.settings.custom_jobs, self.work_selection()) {
            (Some(v), true) => v.clone(),
            _ => {
                out.push(refuse(codes::JD_NOT_SUPPORTED));
                return;
            }
        };
        let pool_job = self.recent_jobs.back().cloned();
        let Some(Channel {
            kind: Kind::Extended(c),
            custom_height,
            ..
        }) = self.channels.get_mut(&m.channel_id)
        else {
            out.push(refuse(codes::INVALID_CHANNEL_ID));
            return;
        };
        let now = unix_ms() / 1000;
        let (reply, height) = verifier.set_custom_job(&m, c, pool_job.as_deref(), now);
        if let Some(h) = height {
            *custom_height = h;
        }
        out.push(reply);
    }

    /// Reports an accepted share to the observer, if any.
    fn observe(&self, s: &SubmitExtended<'_>, outcome: &ShareOutcome) {
        let (channel_id, job_id, miner_extranonce) = (s.channel_id, s.job_id, s.extranonce);
        let (Some(observer), Some(accepted)) = (&self.settings.share_observer, outcome.accepted())
        else {
            return;
        };
        let Some(ch) = self.channels.get(&channel_id) else {
            return;
        };
        let found = match &ch.kind {
            Kind::Standard(c) => c
                .jobs()
                .valid()
                .find(|j| j.job_id() == job_id)
                .map(|j| (j.template_id(), c.extranonce_prefix().to_vec())),
            Kind::Extended(c) => c.jobs().valid().find(|j| j.job_id() == job_id).map(|j| {
                let mut e = j.extranonce_prefix().to_vec();
                e.extend_from_slice(miner_extranonce);
                (j.template_id(), e)
            }),
            Kind::Grouped => self.group.as_deref().and_then(|g| {
                let c = g.channel(channel_id)?;
                c.jobs()
                    .valid()
                    .find(|j| j.job_id() == job_id)
                    .map(|j| (j.template_id(), c.extranonce_prefix().to_vec()))
            }),
        };
        let Some((template_id, extranonce)) = found else {
            return;
        };
        observer.accepted(ObservedShare {
            channel_id,
            worker: ch.worker.clone(),
            template_id,
            extranonce,
            version: s.version,
            ntime: s.ntime,
            nonce: s.nonce,
            hash: accepted.hash,
        });
    }

    /// Releases every channel's resources (connection closed).
    pub fn close(&mut self) {
        self.group = None;
        let ids: Vec<PrefixId> = self.channels.drain().map(|(_, ch)| ch.prefix_id).collect();
        for id in ids {
            self.release_prefix(id);
        }
    }

    /// Gives a closed channel's extranonce prefix back.
    fn release_prefix(&self, id: PrefixId) {
        self.free_prefix(id);
        metrics::gauge!("pool_channels").decrement(1.0);
    }

    fn free_prefix(&self, id: PrefixId) {
        if let Ok(mut a) = self.allocator.extranonce.lock() {
            a.release(id);
        }
    }

    /// Answers an open request that failed after its prefix was allocated: the prefix goes
    /// back and the client gets `OpenMiningChannel.Error` with `code`.
    fn refuse_open(
        &self,
        request_id: u32,
        prefix_id: PrefixId,
        code: &str,
        out: &mut Vec<Message>,
    ) {
        self.free_prefix(prefix_id);
        out.push(Message::from(OpenMiningChannelError {
            request_id,
            error_code: code.into(),
        }));
    }

    fn remember(&mut self, job: &Arc<PoolJob>) {
        if self
            .recent_jobs
            .back()
            .is_some_and(|j| j.template_id == job.template_id)
        {
            return;
        }
        self.recent_jobs.push_back(job.clone());
        while self.recent_jobs.len() > RECENT_JOBS {
            self.recent_jobs.pop_front();
        }
    }

    fn job_for_template(&self, template_id: u64) -> Option<Arc<PoolJob>> {
        self.recent_jobs
            .iter()
            .rev()
            .find(|j| j.template_id == template_id)
            .cloned()
    }

    /// A new job from the template source: sends it to every channel.
    pub fn on_job(&mut self, job: &Arc<PoolJob>, out: &mut Vec<Message>) {
        let new_tip = self
            .recent_jobs
            .back()
            .is_none_or(|j| j.prev_hash != job.prev_hash);
        self.remember(job);
        if self.work_selection() {
            // The client brings its own jobs; the pool's tip only retires outdated ones.
            for ch in self.channels.values_mut() {
                if let Kind::Extended(c) = &mut ch.kind {
                    crate::custom_jobs::follow_pool_tip(c, job, ch.custom_height);
                }
            }
            return;
        }
        for ch in self.channels.values_mut() {
            send_job(ch, job, new_tip, out);
        }
        if let Some(g) = self.group.as_deref_mut() {
            send_group_job(g, job, new_tip, out);
        }
    }

    /// When the oldest pending acknowledgement falls due (`share_ack_interval_ms` after the
    /// first share it covers), or `None` when nothing waits: the connection arms its ack timer
    /// only then, so an idle connection is not woken for acknowledgements.
    pub fn ack_deadline(&self) -> Option<Instant> {
        let interval = Duration::from_millis(self.settings.ack_interval_ms);
        self.channels
            .values()
            .filter(|ch| ch.ack_count > 0)
            .filter_map(|ch| ch.ack_since)
            .min()
            .map(|t| t + interval)
    }

    /// How often [`MiningSession::poll_vardiff`] should run: a quarter of the target share
    /// interval, between 100 ms and 2 s; `None` with a fixed difficulty (no timer at all).
    pub fn vardiff_poll_interval(&self) -> Option<Duration> {
        let vardiff = self.settings.channel.vardiff.as_ref()?;
        let quarter = vardiff.target_share_interval_ms / 4;
        Some(Duration::from_millis(quarter.clamp(100, 2_000)))
    }

    /// Ack timer: sends the acknowledgements that are due at `now`.
    pub fn flush_due_acks(&mut self, now: Instant, out: &mut Vec<Message>) {
        let interval = self.settings.ack_interval_ms;
        for ch in self.channels.values_mut() {
            if ch.ack_count > 0
                && ch.ack_since.is_some_and(|t| {
                    now.saturating_duration_since(t).as_millis() as u64 >= interval
                })
            {
                out.push(ack(ch));
            }
        }
    }

    /// Vardiff timer: sends SetTarget (and a fresh job) to every channel whose difficulty
    /// changed.
    pub fn poll_vardiff(&mut self, out: &mut Vec<Message>) {
        let now_ms = unix_ms();
        let current = self.recent_jobs.back().cloned();
        let work_selection = self.work_selection();
        for ch in self.channels.values_mut() {
            let changed = match &mut ch.kind {
                Kind::Standard(c) => c.poll_vardiff(now_ms),
                Kind::Extended(c) => c.poll_vardiff(now_ms),
                Kind::Grouped => None,
            };
            if let Some(t) = changed {
                out.push(Message::from(SetTarget {
                    channel_id: ch.id(),
                    maximum_target: t.to_le_bytes(),
                }));
                metrics::counter!("pool_set_target_total").increment(1);
                // A target applies to jobs sent after it: follow with a fresh job (custom
                // jobs set later by the client get it).
                if let Some(job) = current.as_ref().filter(|_| !work_selection) {
                    send_job(ch, job, false, out);
                }
            }
        }
        if let Some(g) = self.group.as_deref_mut() {
            let changed = g.poll_vardiff(now_ms);
            for (id, t) in &changed {
                out.push(Message::from(SetTarget {
                    channel_id: *id,
                    maximum_target: t.to_le_bytes(),
                }));
                metrics::counter!("pool_set_target_total").increment(1);
            }
            if !changed.is_empty() {
                if let Some(job) = &current {
                    send_group_job(g, job, false, out);
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
        if let Some(job) = job {
            self.remember(job);
        }
        match m {
            MiningMessage::OpenStandardMiningChannel(req) => {
                self.open_standard(req, job, out);
                Ok(())
            }
            MiningMessage::OpenExtendedMiningChannel(req) => {
                self.open_extended(req, job, out);
                Ok(())
            }
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
            MiningMessage::SetCustomMiningJob(m) => {
                self.set_custom_job(m, out);
                Ok(())
            }
            MiningMessage::CloseChannel(c) => {
                if let Some(g) = self.group.as_deref_mut() {
                    g.remove_channel(c.channel_id);
                }
                if let Some(ch) = self.channels.remove(&c.channel_id) {
                    tracing::debug!(channel = c.channel_id, reason = %c.reason_code, "channel closed by client");
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

    /// Handles messages received together (drained from `msgs`), in order, with the same
    /// replies, acknowledgements, metrics, work accounting, observer calls and block
    /// solutions as [`Self::on_message`] on each: every maximal run of two or more consecutive
    /// `SubmitSharesExtended` on one extended channel is validated as one batch
    /// ([`ExtendedChannel::validate_shares`]), everything else goes through `on_message`.
    /// Stops at the first `Err(reason)` (the connection must close); the rest is dropped.
    pub fn on_messages(
        &mut self,
        msgs: &mut Vec<Message>,
        job: Option<&Arc<PoolJob>>,
        now: Instant,
        out: &mut Vec<Message>,
        solutions: &mut Vec<BlockSolution>,
    ) -> Result<(), String> {
        let mut msgs = msgs.drain(..).peekable();
        let mut run: Vec<SubmitSharesExtended> = Vec::new();
        while let Some(msg) = msgs.next() {
            let Some(channel_id) = self.extended_submit_channel(&msg) else {
                self.on_message(msg, job, now, out, solutions)?;
                continue;
            };
            if msgs
                .peek()
                .and_then(|m| self.extended_submit_channel(m))
                .is_none_or(|next| next != channel_id)
            {
                self.on_message(msg, job, now, out, solutions)?;
                continue;
            }
            run.clear();
            let mut next = Some(msg);
            while let Some(m) = next.take() {
                if let Message::Mining(MiningMessage::SubmitSharesExtended(s)) = m {
                    run.push(s);
                }
                if msgs
                    .peek()
                    .and_then(|m| self.extended_submit_channel(m))
                    .is_some_and(|next| next == channel_id)
                {
                    next = msgs.next();
                }
            }
            if let Some(job) = job {
                self.remember(job);
            }
            self.submit_extended_run(channel_id, &run, now, out, solutions)?;
        }
        Ok(())
    }

    /// The channel of a `SubmitSharesExtended` on an open extended channel of this session.
    fn extended_submit_channel(&self, msg: &Message) -> Option<u32> {
        let Message::Mining(MiningMessage::SubmitSharesExtended(s)) = msg else {
            return None;
        };
        match self.channels.get(&s.channel_id) {
            Some(Channel {
                kind: Kind::Extended(_),
                ..
            }) => Some(s.channel_id),
            _ => None,
        }
    }

    /// `submit_extended` and the invalid-share check for each of `run` (shares on the
    /// extended channel `channel_id`), with one batch validation.
    fn submit_extended_run(
        &mut self,
        channel_id: u32,
        run: &[SubmitSharesExtended],
        now: Instant,
        out: &mut Vec<Message>,
        solutions: &mut Vec<BlockSolution>,
    ) -> Result<(), String> {
        let started = Instant::now();
        let shares: Vec<SubmitExtended<'_>> = run.iter().map(extended_submit).collect();
        let mut outcomes = std::mem::take(&mut self.outcomes);
        outcomes.clear();
        match self.channels.get_mut(&channel_id) {
            Some(Channel {
                kind: Kind::Extended(c),
                ..
            }) => c.validate_shares(&shares, unix_ms(), &mut outcomes),
            _ => outcomes.extend(run.iter().map(|_| {
                ShareOutcome::Rejected(sv2_mining::channel::ShareError::InvalidChannelId)
            })),
        }
        let validation = started.elapsed().div_f64(run.len().max(1) as f64);
        let mut result = Ok(());
        for (s, outcome) in shares.iter().zip(outcomes.drain(..)) {
            let started = Instant::now();
            self.conclude(s, outcome, now, out, solutions);
            metrics::histogram!("pool_share_validation_seconds")
                .record((validation + started.elapsed()).as_secs_f64());
            result = self.check_invalid_rate(now);
            if result.is_err() {
                break;
            }
        }
        outcomes.clear();
        self.outcomes = outcomes;
        result
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

    /// Nominal hashrate to start vardiff from: the client's, or the one the configured
    /// initial difficulty implies at the target share interval.
    fn start_hashrate(&self, nominal: f32) -> f64 {
        let hr = nominal as f64;
        if hr.is_finite() && hr > 0.0 {
            return hr;
        }
        let interval_s = self
            .settings
            .channel
            .vardiff
            .as_ref()
            .map(|v| v.target_share_interval_ms as f64 / 1000.0)
            .unwrap_or(5.0);
        self.settings.initial_difficulty * HASHES_PER_DIFF1 / interval_s
    }

    /// Allocates an id and prefix; on failure returns the OpenMiningChannel.Error code.
    fn admit(
        &mut self,
        request_id: u32,
        max_target: [u8; 32],
        extended: Option<usize>,
        out: &mut Vec<Message>,
    ) -> Option<(u32, sv2_mining::extranonce::AllocatedPrefix, Target)> {
        let refuse = |out: &mut Vec<Message>, code: &str| {
            metrics::counter!("pool_channel_open_errors_total").increment(1);
            out.push(Message::from(OpenMiningChannelError {
                request_id,
                error_code: code.into(),
            }));
        };
        if self.channels.len() as u32 >= self.settings.max_channels {
            refuse(out, "max-channels-reached");
            return None;
        }
        let max_target = Target::from_le_bytes(max_target);
        if max_target < Target::from_difficulty(self.settings.max_difficulty) {
            refuse(out, error_codes::MAX_TARGET_OUT_OF_RANGE);
            return None;
        }
        let prefix = {
            let Ok(mut a) = self.allocator.extranonce.lock() else {
                refuse(out, "internal-error");
                return None;
            };
            match extended {
                Some(min) => a.allocate_extended(min),
                None => a.allocate_standard(),
            }
        };
        match prefix {
            Ok(p) => Some((self.allocator.channel_id(), p, max_target)),
            Err(_) => {
                refuse(
                    out,
                    if extended.is_some() {
                        error_codes::MIN_EXTRANONCE_SIZE_TOO_LARGE
                    } else {
                        "extranonce-space-exhausted"
                    },
                );
                None
            }
        }
    }

    fn install(
        &mut self,
        kind: Kind,
        prefix_id: PrefixId,
        identity: &str,
        job: Option<&Arc<PoolJob>>,
        out: &mut Vec<Message>,
    ) {
        let id = match &kind {
            Kind::Standard(c) => c.id(),
            Kind::Extended(c) => c.id(),
            Kind::Grouped => return,
        };
        let mut ch = Channel::new(id, kind, prefix_id, identity);
        if let Some(job) = job {
            if self.work_selection() {
                if let Kind::Extended(c) = &mut ch.kind {
                    crate::custom_jobs::follow_pool_tip(c, job, 0);
                }
            } else {
                send_job(&mut ch, job, true, out);
            }
        }
        metrics::gauge!("pool_channels").increment(1.0);
        self.channels.insert(ch.id(), ch);
    }

    fn open_standard(
        &mut self,
        req: OpenStandardMiningChannel,
        job: Option<&Arc<PoolJob>>,
        out: &mut Vec<Message>,
    ) {
        if self.work_selection() {
            out.push(Message::from(OpenMiningChannelError {
                request_id: req.request_id,
                error_code: "standard-channels-not-supported-for-custom-work".into(),
            }));
            return;
        }
        let Some((id, prefix, max_target)) = self.admit(req.request_id, req.max_target, None, out)
        else {
            return;
        };
        let hr = self.start_hashrate(req.nominal_hash_rate);
        match StandardChannel::new(
            id,
            prefix.prefix.clone(),
            hr,
            max_target,
            self.settings.channel.clone(),
            unix_ms(),
        ) {
            Ok(c)
                if self.setup_flags & sv2_codec::common::mining_flags::REQUIRES_STANDARD_JOBS
                    == 0 =>
            {
                self.open_grouped(c, req, prefix, job, out);
            }
            Ok(c) => {
                tracing::info!(channel = id, worker = %req.user_identity, difficulty = c.target().difficulty(), "standard channel opened");
                metrics::counter!("pool_channels_opened_total", "kind" => "standard").increment(1);
                out.push(Message::from(OpenStandardMiningChannelSuccess {
                    request_id: req.request_id,
                    channel_id: id,
                    target: c.target().to_le_bytes(),
                    extranonce_prefix: prefix.prefix,
                    group_channel_id: 0,
                }));
                self.install(
                    Kind::Standard(Box::new(c)),
                    prefix.id,
                    &req.user_identity,
                    job,
                    out,
                );
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot open standard channel");
                let code = error_codes::MAX_TARGET_OUT_OF_RANGE;
                self.refuse_open(req.request_id, prefix.id, code, out);
            }
        }
    }

    /// A standard channel of a client that accepts extended jobs: it joins the connection's
    /// group channel (created with the first member).
    fn open_grouped(
        &mut self,
        c: StandardChannel,
        req: OpenStandardMiningChannel,
        prefix: sv2_mining::extranonce::AllocatedPrefix,
        job: Option<&Arc<PoolJob>>,
        out: &mut Vec<Message>,
    ) {
        let id = c.id();
        let target = c.target();
        let created = self.group.is_none();
        if created {
            let gid = self.allocator.channel_id();
            self.group = Some(Box::new(GroupChannel::new(
                gid,
                prefix.prefix.len(),
                self.settings.channel.max_future_jobs,
            )));
        }
        let Some(g) = self.group.as_deref_mut() else {
            return;
        };
        if let Err(e) = g.add_channel(c) {
            tracing::warn!(error = %e, "cannot add channel to the group");
            self.refuse_open(req.request_id, prefix.id, "internal-error", out);
            return;
        }
        tracing::info!(channel = id, group = g.id(), worker = %req.user_identity, difficulty = target.difficulty(), "standard channel opened in group");
        metrics::counter!("pool_channels_opened_total", "kind" => "grouped").increment(1);
        out.push(Message::from(OpenStandardMiningChannelSuccess {
            request_id: req.request_id,
            channel_id: id,
            target: target.to_le_bytes(),
            extranonce_prefix: prefix.prefix,
            group_channel_id: g.id(),
        }));
        if created {
            if let Some(job) = job {
                send_group_job(g, job, true, out);
            }
        }
        metrics::gauge!("pool_channels").increment(1.0);
        self.channels.insert(
            id,
            Channel::new(id, Kind::Grouped, prefix.id, &req.user_identity),
        );
    }

    fn open_extended(
        &mut self,
        req: OpenExtendedMiningChannel,
        job: Option<&Arc<PoolJob>>,
        out: &mut Vec<Message>,
    ) {
        let min = req.min_extranonce_size as usize;
        let Some((id, prefix, max_target)) =
            self.admit(req.request_id, req.max_target, Some(min), out)
        else {
            return;
        };
        let hr = self.start_hashrate(req.nominal_hash_rate);
        match ExtendedChannel::new(
            id,
            prefix.prefix.clone(),
            prefix.rollable_len,
            hr,
            max_target,
            self.settings.channel.clone(),
            unix_ms(),
        ) {
            Ok(c) => {
                tracing::info!(channel = id, worker = %req.user_identity, difficulty = c.target().difficulty(), extranonce_size = prefix.rollable_len, "extended channel opened");
                metrics::counter!("pool_channels_opened_total", "kind" => "extended").increment(1);
                out.push(Message::from(OpenExtendedMiningChannelSuccess {
                    request_id: req.request_id,
                    channel_id: id,
                    target: c.target().to_le_bytes(),
                    extranonce_size: prefix.rollable_len as u16,
                    extranonce_prefix: prefix.prefix,
                    group_channel_id: 0,
                }));
                self.install(
                    Kind::Extended(Box::new(c)),
                    prefix.id,
                    &req.user_identity,
                    job,
                    out,
                );
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot open extended channel");
                let code = error_codes::MAX_TARGET_OUT_OF_RANGE;
                self.refuse_open(req.request_id, prefix.id, code, out);
            }
        }
    }

    fn update_channel(&mut self, u: UpdateChannel, out: &mut Vec<Message>) {
        let max_difficulty = self.settings.max_difficulty;
        let hr = self.start_hashrate(u.nominal_hash_rate);
        let current = self.recent_jobs.back().cloned();
        let work_selection = self.work_selection();
        let Some(ch) = self.channels.get_mut(&u.channel_id) else {
            out.push(Message::from(UpdateChannelError {
                channel_id: u.channel_id,
                error_code: error_codes::INVALID_CHANNEL_ID.into(),
            }));
            return;
        };
        let max_target = Target::from_le_bytes(u.maximum_target);
        if max_target < Target::from_difficulty(max_difficulty) {
            out.push(Message::from(UpdateChannelError {
                channel_id: u.channel_id,
                error_code: error_codes::MAX_TARGET_OUT_OF_RANGE.into(),
            }));
            return;
        }
        let group = self.group.as_deref_mut();
        let changed = match (&mut ch.kind, group) {
            (Kind::Standard(c), _) => c.update_channel(hr, max_target, unix_ms()),
            (Kind::Extended(c), _) => c.update_channel(hr, max_target, unix_ms()),
            (Kind::Grouped, Some(g)) => match g.channel_mut(u.channel_id) {
                Some(c) => c.update_channel(hr, max_target, unix_ms()),
                None => Ok(None),
            },
            (Kind::Grouped, None) => Ok(None),
        };
        match changed {
            Ok(Some(t)) => {
                out.push(Message::from(SetTarget {
                    channel_id: u.channel_id,
                    maximum_target: t.to_le_bytes(),
                }));
                if let Some(job) = current.as_ref().filter(|_| !work_selection) {
                    if matches!(ch.kind, Kind::Grouped) {
                        if let Some(g) = self.group.as_deref_mut() {
                            send_group_job(g, job, false, out);
                        }
                    } else {
                        send_job(ch, job, false, out);
                    }
                }
            }
            Ok(None) => {}
            Err(_) => out.push(Message::from(UpdateChannelError {
                channel_id: u.channel_id,
                error_code: error_codes::MAX_TARGET_OUT_OF_RANGE.into(),
            })),
        }
    }

    fn submit_standard(
        &mut self,
        s: SubmitSharesStandard,
        now: Instant,
        out: &mut Vec<Message>,
        solutions: &mut Vec<BlockSolution>,
    ) {
        let started = Instant::now();
        let share = SubmitStandard {
            channel_id: s.channel_id,
            sequence_number: s.sequence_number,
            job_id: s.job_id,
            nonce: s.nonce,
            ntime: s.ntime,
            version: s.version,
        };
        let outcome = match self.channels.get_mut(&s.channel_id) {
            Some(Channel {
                kind: Kind::Standard(c),
                ..
            }) => c.validate_share(&share, unix_ms()),
            Some(Channel {
                kind: Kind::Grouped,
                ..
            }) => match self.group.as_deref_mut() {
                Some(g) => g.validate_share(&share, unix_ms()),
                None => ShareOutcome::Rejected(sv2_mining::channel::ShareError::InvalidChannelId),
            },
            _ => ShareOutcome::Rejected(sv2_mining::channel::ShareError::InvalidChannelId),
        };
        self.conclude(&share.as_extended(), outcome, now, out, solutions);
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
        let share = extended_submit(&s);
        let outcome = match self.channels.get_mut(&s.channel_id) {
            Some(Channel {
                kind: Kind::Extended(c),
                ..
            }) => c.validate_share(&share, unix_ms()),
            _ => ShareOutcome::Rejected(sv2_mining::channel::ShareError::InvalidChannelId),
        };
        self.conclude(&share, outcome, now, out, solutions);
        metrics::histogram!("pool_share_validation_seconds")
            .record(started.elapsed().as_secs_f64());
    }

    /// A share's verdict to the share observer, then its reply, acknowledgement and
    /// accounting. `s` holds the submitted fields (a standard share's with no extranonce).
    fn conclude(
        &mut self,
        s: &SubmitExtended<'_>,
        outcome: ShareOutcome,
        now: Instant,
        out: &mut Vec<Message>,
        solutions: &mut Vec<BlockSolution>,
    ) {
        self.observe(s, &outcome);
        self.finish(
            s.channel_id,
            s.sequence_number,
            outcome,
            now,
            out,
            solutions,
        );
    }

    fn finish(
        &mut self,
        channel_id: u32,
        seq: u32,
        outcome: ShareOutcome,
        now: Instant,
        out: &mut Vec<Message>,
        solutions: &mut Vec<BlockSolution>,
    ) {
        let (accepted, candidate) = match outcome {
            ShareOutcome::Rejected(e) => {
                let code = e.error_code();
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
                return;
            }
            ShareOutcome::Accepted(a) => (a, None),
            ShareOutcome::BlockFound(b) => (b.share.clone(), Some(b)),
        };
        let Some(ch) = self.channels.get_mut(&channel_id) else {
            return;
        };
        metrics::counter!("pool_shares_accepted_total").increment(1);
        self.work.accepted(&ch.worker, accepted.difficulty);
        if let Some(b) = candidate {
            let worker = ch.worker.clone();
            match self.job_for_template(b.template_id) {
                Some(job) => solutions.push(BlockSolution {
                    job,
                    header: b.header.to_bytes(),
                    extranonce: b.extranonce.clone(),
                    hash: accepted.hash,
                    finder: worker,
                }),
                None if crate::custom_jobs::is_custom_template(b.template_id) => {
                    // Only the job declarator client and server hold the transactions.
                    metrics::counter!("pool_custom_job_blocks_total").increment(1);
                    let hash = crate::block::display_hash(&accepted.hash);
                    tracing::info!(
                        %hash,
                        finder = %worker.full(),
                        "block found on a custom job: the job declarator client and server submit it"
                    );
                    if let Some(tx) = &self.settings.declared_blocks {
                        let found = crate::accounting::DeclaredBlock {
                            hash,
                            finder: worker,
                            time: crate::accounting::unix_now(),
                        };
                        // Kept on disk before the share is acknowledged (crash safety).
                        self.work.journal_declared(&found);
                        if tx.try_send(found).is_err() {
                            metrics::counter!("pool_declared_blocks_dropped_total").increment(1);
                            tracing::error!("declared block queue full: not recorded");
                        }
                    }
                }
                None => {
                    metrics::counter!("pool_solutions_dropped_total").increment(1);
                    tracing::error!(
                        template = b.template_id,
                        "block candidate for a forgotten template"
                    );
                }
            }
        }
        let Some(ch) = self.channels.get_mut(&channel_id) else {
            return;
        };
        ch.ack_count += 1;
        ch.ack_sum = ch
            .ack_sum
            .saturating_add(accepted.difficulty.max(1.0).round() as u64);
        ch.ack_last_seq = seq;
        if ch.ack_since.is_none() {
            ch.ack_since = Some(now);
        }
        if ch.ack_count >= self.settings.ack_batch {
            out.push(ack(ch));
        }
    }
}

fn ack(ch: &mut Channel) -> Message {
    let m = Message::from(SubmitSharesSuccess {
        channel_id: ch.id(),
        last_sequence_number: ch.ack_last_seq,
        new_submits_accepted_count: ch.ack_count,
        new_shares_sum: ch.ack_sum,
    });
    ch.ack_count = 0;
    ch.ack_sum = 0;
    ch.ack_since = None;
    m
}

/// Closes a channel from the pool side.
pub fn close_channel_message(channel_id: u32, reason: &str) -> Message {
    Message::from(CloseChannel {
        channel_id,
        reason_code: reason.into(),
    })
}

#[cfg(test)]
mod batch_tests {
    //! `on_messages` answers exactly as `on_message` on each message in order; open requests
    //! past the limits are refused.

    use super::*;
    use crate::jobs::{build_job, CoinbaseSettings, PayoutScript};
    use crate::template::TemplateUpdate;
    use bitcoin::hashes::Hash;
    use bitcoin::ScriptBuf;
    use node_rpc::types::BlockTemplate;
    use sv2_codec::mining::OpenExtendedMiningChannel;

    /// Records accepted shares.
    #[derive(Debug, Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl ShareObserver for Recorder {
        fn accepted(&self, share: ObservedShare) {
            if let Ok(mut v) = self.0.lock() {
                v.push(format!("{share:?}"));
            }
        }
    }

    fn job() -> Arc<PoolJob> {
        let now = unix_ms() / 1000;
        let template = BlockTemplate {
            version: 0x2000_0000,
            rules: Vec::new(),
            previousblockhash: bitcoin::BlockHash::from_byte_array([3; 32]),
            transactions: Vec::new(),
            coinbasevalue: 50_0000_0000,
            longpollid: None,
            target: [0; 32],
            mintime: now - 600,
            curtime: now,
            // About one hash in 256 is a block.
            bits: 0x2000_ffff,
            height: 100,
            default_witness_commitment: None,
            sigoplimit: 0,
            weightlimit: 0,
        };
        let update = TemplateUpdate {
            id: 1,
            template: Arc::new(template),
            new_tip: true,
            received_at: Instant::now(),
        };
        let settings = CoinbaseSettings {
            pool_tag: b"/batch/".to_vec(),
            extranonce_len: 16,
            payouts: vec![PayoutScript {
                script: ScriptBuf::from_bytes(vec![0x51]),
                weight: 1,
                account: "pool".into(),
            }],
        };
        Arc::new(build_job(&update, &settings).unwrap())
    }

    fn session(max_invalid: u32, recorder: Arc<Recorder>) -> (MiningSession, Arc<WorkAggregator>) {
        // About one hash in 16 meets the share target.
        let difficulty = 16.0 / 4_294_967_296.0;
        let settings = SessionSettings {
            channel: ChannelConfig {
                vardiff: None,
                fixed_difficulty: difficulty,
                ..Default::default()
            },
            initial_difficulty: difficulty,
            max_difficulty: 1e12,
            max_channels: 8,
            ack_batch: 4,
            ack_interval_ms: 100,
            max_invalid_per_minute: max_invalid,
            custom_jobs: None,
            share_observer: Some(recorder),
            declared_blocks: None,
        };
        let alloc = ExtranonceAllocator::new(vec![0], 3, 16).unwrap();
        let work = Arc::new(WorkAggregator::new());
        let s = MiningSession::new(
            settings,
            Arc::new(ChannelAllocator::new(alloc)),
            work.clone(),
            0,
        );
        (s, work)
    }

    fn open(request_id: u32) -> Message {
        Message::from(OpenExtendedMiningChannel {
            request_id,
            user_identity: format!("worker{request_id}"),
            nominal_hash_rate: 0.0,
            max_target: [0xff; 32],
            min_extranonce_size: 8,
        })
    }

    /// A pseudo-random mix of shares on two extended channels (valid, duplicate, unknown
    /// job, unknown channel, bad extranonce size, bad version, ntime too low), with an
    /// `UpdateChannel` now and then.
    fn messages(job_id: u32, ntime: u32, seed: u64, n: usize) -> Vec<Message> {
        let mut x = seed | 1;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        (0..n as u32)
            .map(|i| {
                let r = next();
                if r % 41 == 0 {
                    return Message::from(UpdateChannel {
                        channel_id: 1 + (r as u32 / 7) % 2,
                        nominal_hash_rate: 1e6,
                        maximum_target: [0xff; 32],
                    });
                }
                let channel_id = match r % 53 {
                    0 => 9,
                    _ => 1 + ((r >> 8) % 7 == 0) as u32,
                };
                let extranonce_len = if (r >> 12) % 29 == 0 { 11 } else { 12 };
                let extranonce = vec![((r >> 16) % 3) as u8; extranonce_len];
                Message::from(SubmitSharesExtended {
                    channel_id,
                    sequence_number: i,
                    job_id: if (r >> 20) % 31 == 0 { 77 } else { job_id },
                    nonce: ((r >> 24) % 400) as u32,
                    ntime: if (r >> 34) % 37 == 0 { 1 } else { ntime },
                    version: if (r >> 40) % 23 == 0 {
                        0xe000_0000
                    } else {
                        0x2000_0000
                    },
                    extranonce,
                })
            })
            .collect()
    }

    /// Runs the scenario one message at a time and in batches of `cuts`; returns what each
    /// produced.
    fn run(max_invalid: u32, seed: u64, cuts: &[usize]) -> [Vec<String>; 2] {
        let job = job();
        let now = Instant::now();
        let mut results = Vec::new();
        for batched in [false, true] {
            let recorder = Arc::new(Recorder::default());
            let (mut s, work) = session(max_invalid, recorder.clone());
            let mut out = Vec::new();
            let mut solutions = Vec::new();
            for id in 1..=2 {
                s.on_message(open(id), Some(&job), now, &mut out, &mut solutions)
                    .unwrap();
            }
            let job_id = out
                .iter()
                .find_map(|m| match m {
                    Message::Mining(MiningMessage::NewExtendedMiningJob(j)) => Some(j.job_id),
                    _ => None,
                })
                .unwrap();
            let mut msgs = messages(job_id, job.ntime, seed, 600);
            let mut closed = None;
            if batched {
                let mut cut = cuts.iter().cycle();
                while !msgs.is_empty() {
                    let n = (*cut.next().unwrap()).min(msgs.len());
                    let rest = msgs.split_off(n);
                    let r = s.on_messages(&mut msgs, Some(&job), now, &mut out, &mut solutions);
                    assert!(msgs.is_empty());
                    msgs = rest;
                    if let Err(e) = r {
                        closed = Some(e);
                        break;
                    }
                }
            } else {
                for m in msgs {
                    if let Err(e) = s.on_message(m, Some(&job), now, &mut out, &mut solutions) {
                        closed = Some(e);
                        break;
                    }
                }
            }
            let mut r: Vec<String> = out.iter().map(|m| format!("{m:?}")).collect();
            r.push(format!("closed: {closed:?}"));
            r.push(format!("solutions: {}", solutions.len()));
            // Pending acks and work records come out in hash map order.
            let mut flushed = Vec::new();
            s.flush_due_acks(now + Duration::from_secs(1), &mut flushed);
            let mut tail: Vec<String> = flushed.iter().map(|m| format!("{m:?}")).collect();
            // Window bounds are wall-clock seconds: compare what was counted, not when.
            tail.extend(work.drain().iter().map(|w| {
                format!(
                    "{} shares {} difficulty {} rejected {}",
                    w.worker.full(),
                    w.shares,
                    w.difficulty_sum,
                    w.rejected
                )
            }));
            tail.sort();
            r.extend(tail);
            r.extend(
                solutions
                    .iter()
                    .map(|b| format!("{:?}", (&b.header, &b.extranonce, b.hash))),
            );
            r.extend(recorder.0.lock().unwrap().iter().cloned());
            results.push(r);
        }
        let [a, b]: [Vec<String>; 2] = results.try_into().unwrap();
        [a, b]
    }

    #[test]
    fn open_requests_beyond_the_limits_are_refused_and_the_session_stays_usable() {
        let job = job();
        let (mut s, _) = session(100, Arc::new(Recorder::default()));
        let (mut out, mut solutions) = (Vec::new(), Vec::new());
        let now = Instant::now();
        let too_hard = Message::from(OpenExtendedMiningChannel {
            request_id: 100,
            user_identity: "w".into(),
            nominal_hash_rate: 0.0,
            max_target: [0; 32],
            min_extranonce_size: 8,
        });
        s.on_message(too_hard, Some(&job), now, &mut out, &mut solutions)
            .unwrap();
        // max_channels is 8: the ninth is refused.
        for id in 1..=9 {
            s.on_message(open(id), Some(&job), now, &mut out, &mut solutions)
                .unwrap();
        }
        let answers: Vec<(u32, String)> = out
            .iter()
            .filter_map(|m| match m {
                Message::Mining(MiningMessage::OpenMiningChannelError(e)) => {
                    Some((e.request_id, e.error_code.clone()))
                }
                Message::Mining(MiningMessage::OpenExtendedMiningChannelSuccess(o)) => {
                    Some((o.request_id, "ok".to_string()))
                }
                _ => None,
            })
            .collect();
        let mut expected = vec![(100, "max-target-out-of-range".to_string())];
        expected.extend((1..=8).map(|id| (id, "ok".to_string())));
        expected.push((9, "max-channels-reached".to_string()));
        assert_eq!(answers, expected);
    }

    #[test]
    fn batches_answer_like_single_messages() {
        // The job's times (hence the hashes) follow the clock: which verdicts a seed yields
        // varies between runs, so their presence is checked over all seeds.
        let mut blocks = 0;
        let mut all = String::new();
        for seed in [1u64, 7, 42, 1234, 99, 5, 31337, 8] {
            let [single, batched] = run(100_000, seed, &[1, 64, 5, 17, 2, 33]);
            assert!(single.len() > 200);
            assert_eq!(single, batched, "seed {seed}");
            all.push_str(&single.join("\n"));
            blocks += single
                .iter()
                .filter_map(|l| l.strip_prefix("solutions: ")?.parse::<usize>().ok())
                .sum::<usize>();
        }
        assert!(all.contains("SubmitSharesSuccess"), "no success");
        assert!(all.contains("SubmitSharesError"), "no error");
        assert!(all.contains("duplicate-share"), "no duplicate");
        assert!(blocks > 0, "no block found");
    }

    #[test]
    fn batches_close_at_the_same_share() {
        for seed in 1..=12u64 {
            for max_invalid in [3, 8, 20] {
                let [single, batched] = run(max_invalid, seed, &[64, 9]);
                assert!(single.iter().any(|l| l.contains("too many invalid shares")));
                assert_eq!(single, batched, "seed {seed}, max_invalid {max_invalid}");
            }
        }
    }
}
