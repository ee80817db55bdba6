//! Sans-IO state of the channels of one SV2 connection: which job each channel mines, under
//! which prev hash and target, and how found shares become `SubmitShares*` messages.
//!
//! Job rules (spec 5.3): a job with `min_ntime = None` is a *future* job, mined only once a
//! `SetNewPrevHash` names it; a job with `Some(min_ntime)` is mined at once on the current prev
//! hash. `SetNewPrevHash` invalidates every other job of the channel. Messages addressed to a
//! group channel apply to every member. The newest usable job is always the one mined; shares
//! of older jobs still valid under the same prev hash are still submitted.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

use sv2_codec::mining::{
    CloseChannel, NewExtendedMiningJob, NewMiningJob, OpenExtendedMiningChannel,
    OpenExtendedMiningChannelSuccess, OpenStandardMiningChannel, OpenStandardMiningChannelSuccess,
    SetExtranoncePrefix, SetNewPrevHash, SetTarget, SubmitSharesExtended, SubmitSharesStandard,
    UpdateChannel,
};
use sv2_codec::{Message, MiningMessage};
use sv2_mining::header::BIP320_VERSION_MASK;
use sv2_mining::target::{hash_difficulty, Target};

use super::ChannelMode;
use crate::miner::error::MinerError;
use crate::miner::hashpool::FoundShare;
use crate::miner::stats::{bump, drop_gauge, Stats};
use crate::miner::work::{JobTemplate, MerkleSource};

/// Jobs kept per channel (older ones are forgotten; a pool rarely keeps more alive).
pub(crate) const MAX_JOBS_PER_CHANNEL: usize = 32;
/// Largest extranonce (prefix plus miner part) SV2 allows.
const MAX_EXTRANONCE: usize = 32;

/// Identity of the job a share was found for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JobTag {
    /// The connection the job arrived on (channel and job ids repeat across connections).
    pub(crate) session: u64,
    /// Channel the job was sent for.
    pub(crate) channel_id: u32,
    /// Job id.
    pub(crate) job_id: u32,
    /// Prev-hash epoch of the channel when the job was activated.
    pub(crate) epoch: u64,
    /// Submit with `SubmitSharesExtended` (extended channel) rather than `Standard`.
    pub(crate) extended: bool,
}

/// A change the hashing threads must see.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Effect {
    /// New work (or none) and share target for a board.
    Work {
        /// Board of the channel.
        board: usize,
        /// The job to mine, `None` to idle.
        work: Option<(JobTag, JobTemplate)>,
        /// Share target.
        target: Target,
    },
    /// New share target for a board; its work continues.
    Target {
        /// Board of the channel.
        board: usize,
        /// Share target.
        target: Target,
    },
}

/// What to do with a found share.
#[derive(Debug, PartialEq)]
pub(crate) enum Submission {
    /// Send this message.
    Send {
        /// `SubmitSharesStandard` or `SubmitSharesExtended`.
        message: Message,
        /// Difficulty of the share's hash.
        difficulty: f64,
        /// The hash meets the job's network target.
        is_block: bool,
    },
    /// The job, prev hash or target changed since the share was found; drop it.
    Stale,
}

#[derive(Debug, Clone)]
struct StoredJob {
    job_id: u32,
    min_ntime: Option<u32>,
    version: u32,
    merkle: MerkleSource,
    version_rolling_allowed: bool,
}

#[derive(Debug, Clone, Copy)]
struct PrevHash {
    prev_hash: [u8; 32],
    nbits: u32,
    min_ntime: u32,
}

#[derive(Debug)]
struct Channel {
    board: usize,
    /// Rollable extranonce bytes (0 on standard channels).
    extranonce_size: Option<usize>,
    group: u32,
    target: Target,
    extranonce_prefix: Vec<u8>,
    jobs: VecDeque<StoredJob>,
    prev: Option<PrevHash>,
    epoch: u64,
    seq: u32,
    /// Board hash count and time of the last `UpdateChannel` (or of the first tick).
    rate_base: Option<(u64, Instant)>,
}

impl Channel {
    fn extended(&self) -> bool {
        self.extranonce_size.is_some()
    }
}

/// All channels of one connection.
#[derive(Debug)]
pub(crate) struct Channels {
    session: u64,
    mode: ChannelMode,
    version_rolling: bool,
    pending: HashMap<u32, usize>,
    channels: BTreeMap<u32, Channel>,
    next_epoch: u64,
    outstanding: u64,
    last_open_error: Option<String>,
}

/// Parameters of the channel open requests.
#[derive(Debug, Clone)]
pub(crate) struct OpenParams {
    pub(crate) user: String,
    pub(crate) nominal_hash_rate: f32,
    pub(crate) max_target: [u8; 32],
    pub(crate) min_extranonce_size: u16,
}

impl Channels {
    /// State for a connection whose pool allows version rolling iff `version_rolling`.
    pub(crate) fn new(mode: ChannelMode, version_rolling: bool) -> Self {
        Channels {
            session: crate::miner::next_session_id(),
            mode,
            version_rolling,
            pending: HashMap::new(),
            channels: BTreeMap::new(),
            next_epoch: 1,
            outstanding: 0,
            last_open_error: None,
        }
    }

    /// The open requests for `boards` channels (request id = board index).
    pub(crate) fn open_requests(&mut self, boards: usize, p: &OpenParams) -> Vec<Message> {
        (0..boards)
            .filter_map(|board| {
                let request_id = u32::try_from(board).ok()?;
                self.pending.insert(request_id, board);
                let nominal_hash_rate = p.nominal_hash_rate / boards as f32;
                Some(match self.mode {
                    ChannelMode::Standard => OpenStandardMiningChannel {
                        request_id,
                        user_identity: p.user.clone(),
                        nominal_hash_rate,
                        max_target: p.max_target,
                    }
                    .into(),
                    ChannelMode::Extended => OpenExtendedMiningChannel {
                        request_id,
                        user_identity: p.user.clone(),
                        nominal_hash_rate,
                        max_target: p.max_target,
                        min_extranonce_size: p.min_extranonce_size,
                    }
                    .into(),
                })
            })
            .collect()
    }

    /// Number of open channels.
    #[cfg(test)]
    pub(crate) fn open(&self) -> usize {
        self.channels.len()
    }

    /// Shares submitted on this connection that were neither accepted nor rejected yet.
    pub(crate) fn outstanding(&self) -> u64 {
        self.outstanding
    }

    /// Channel ids a message for `id` applies to: the channel itself, or a group's members.
    fn addressed(&self, id: u32) -> Vec<u32> {
        if self.channels.contains_key(&id) {
            vec![id]
        } else {
            self.channels
                .iter()
                .filter(|(_, c)| c.group == id)
                .map(|(cid, _)| *cid)
                .collect()
        }
    }

    /// Applies one Mining message from the pool.
    pub(crate) fn handle(
        &mut self,
        msg: MiningMessage,
        stats: &Stats,
    ) -> Result<Vec<Effect>, MinerError> {
        let mut fx = Vec::new();
        match msg {
            MiningMessage::OpenStandardMiningChannelSuccess(m) => {
                self.opened_standard(m, stats, &mut fx)?
            }
            MiningMessage::OpenExtendedMiningChannelSuccess(m) => {
                self.opened_extended(m, stats, &mut fx)?
            }
            MiningMessage::OpenMiningChannelError(m) => {
                if self.pending.remove(&m.request_id).is_none() {
                    bump(&stats.ignored_messages);
                } else {
                    bump(&stats.channel_open_errors);
                    tracing::warn!(code = %m.error_code, "channel open refused");
                    self.last_open_error = Some(m.error_code);
                    self.check_any_channel()?;
                }
            }
            MiningMessage::NewMiningJob(m) => self.new_standard_job(m, stats, &mut fx),
            MiningMessage::NewExtendedMiningJob(m) => self.new_extended_job(m, stats, &mut fx),
            MiningMessage::SetNewPrevHash(m) => self.set_new_prev_hash(m, stats, &mut fx),
            MiningMessage::SetTarget(m) => self.set_target(m, stats, &mut fx),
            MiningMessage::SetExtranoncePrefix(m) => self.set_extranonce_prefix(m, stats)?,
            MiningMessage::SubmitSharesSuccess(m) => {
                let n = u64::from(m.new_submits_accepted_count);
                stats
                    .shares_accepted
                    .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                stats
                    .accepted_work_sum
                    .fetch_add(m.new_shares_sum, std::sync::atomic::Ordering::Relaxed);
                self.outstanding = self.outstanding.saturating_sub(n);
            }
            MiningMessage::SubmitSharesError(m) => {
                stats.rejected(&m.error_code);
                self.outstanding = self.outstanding.saturating_sub(1);
            }
            MiningMessage::UpdateChannelError(m) => {
                tracing::warn!(channel = m.channel_id, code = %m.error_code, "UpdateChannel refused");
                bump(&stats.update_channel_errors);
            }
            MiningMessage::CloseChannel(m) => self.close(m, stats, &mut fx)?,
            MiningMessage::SetGroupChannel(m) => {
                for id in &m.channel_ids {
                    if let Some(c) = self.channels.get_mut(id) {
                        c.group = m.group_channel_id;
                    }
                }
            }
            other => {
                tracing::debug!(msg = other.name(), "ignoring message");
                bump(&stats.ignored_messages);
            }
        }
        Ok(fx)
    }

    fn check_any_channel(&self) -> Result<(), MinerError> {
        if self.pending.is_empty() && self.channels.is_empty() {
            return Err(MinerError::OpenChannelRejected(
                self.last_open_error.clone().unwrap_or_default(),
            ));
        }
        Ok(())
    }

    fn add_channel(
        &mut self,
        request_id: u32,
        channel_id: u32,
        channel: impl FnOnce(usize) -> Channel,
        stats: &Stats,
        fx: &mut Vec<Effect>,
    ) -> Result<(), MinerError> {
        let Some(board) = self.pending.remove(&request_id) else {
            bump(&stats.ignored_messages);
            return Ok(());
        };
        if self.channels.contains_key(&channel_id) {
            return Err(MinerError::Protocol(format!(
                "channel id {channel_id} assigned twice"
            )));
        }
        let ch = channel(board);
        stats.difficulty(ch.target.difficulty());
        bump(&stats.channels_opened);
        bump(&stats.open_channels);
        fx.push(Effect::Work {
            board,
            work: None,
            target: ch.target,
        });
        self.channels.insert(channel_id, ch);
        Ok(())
    }

    fn opened_standard(
        &mut self,
        m: OpenStandardMiningChannelSuccess,
        stats: &Stats,
        fx: &mut Vec<Effect>,
    ) -> Result<(), MinerError> {
        let ch = |board| Channel {
            board,
            extranonce_size: None,
            group: m.group_channel_id,
            target: Target::from_le_bytes(m.target),
            extranonce_prefix: m.extranonce_prefix.clone(),
            jobs: VecDeque::new(),
            prev: None,
            epoch: 0,
            seq: 0,
            rate_base: None,
        };
        self.add_channel(m.request_id, m.channel_id, ch, stats, fx)
    }

    fn opened_extended(
        &mut self,
        m: OpenExtendedMiningChannelSuccess,
        stats: &Stats,
        fx: &mut Vec<Effect>,
    ) -> Result<(), MinerError> {
        let size = usize::from(m.extranonce_size);
        if m.extranonce_prefix.len() + size > MAX_EXTRANONCE {
            return Err(MinerError::Protocol(format!(
                "extranonce prefix of {} bytes plus extranonce_size {size} exceeds {MAX_EXTRANONCE}",
                m.extranonce_prefix.len()
            )));
        }
        let ch = |board| Channel {
            board,
            extranonce_size: Some(size),
            group: m.group_channel_id,
            target: Target::from_le_bytes(m.target),
            extranonce_prefix: m.extranonce_prefix.clone(),
            jobs: VecDeque::new(),
            prev: None,
            epoch: 0,
            seq: 0,
            rate_base: None,
        };
        self.add_channel(m.request_id, m.channel_id, ch, stats, fx)
    }

    fn store_job(&mut self, channel_id: u32, job: StoredJob, fx: &mut Vec<Effect>) {
        let Some(ch) = self.channels.get_mut(&channel_id) else {
            return;
        };
        ch.jobs.retain(|j| j.job_id != job.job_id);
        if ch.jobs.len() >= MAX_JOBS_PER_CHANNEL {
            ch.jobs.pop_front();
        }
        let immediate = job.min_ntime.is_some();
        let job_id = job.job_id;
        ch.jobs.push_back(job);
        if immediate && ch.prev.is_some() {
            self.activate(channel_id, job_id, None, fx);
        }
    }

    /// Starts mining `job_id` on the channel; `ntime` overrides the job's `min_ntime`.
    fn activate(&mut self, channel_id: u32, job_id: u32, ntime: Option<u32>, fx: &mut Vec<Effect>) {
        let rolling = self.version_rolling;
        let Some(ch) = self.channels.get_mut(&channel_id) else {
            return;
        };
        let (Some(prev), Some(job)) = (ch.prev, ch.jobs.iter().find(|j| j.job_id == job_id)) else {
            return;
        };
        let template = JobTemplate {
            version: job.version,
            prev_hash: prev.prev_hash,
            nbits: prev.nbits,
            ntime: ntime.or(job.min_ntime).unwrap_or(prev.min_ntime),
            merkle: job.merkle.clone(),
            version_mask: if rolling && job.version_rolling_allowed {
                BIP320_VERSION_MASK
            } else {
                0
            },
        };
        let tag = JobTag {
            session: self.session,
            channel_id,
            job_id,
            epoch: ch.epoch,
            extended: ch.extended(),
        };
        fx.push(Effect::Work {
            board: ch.board,
            work: Some((tag, template)),
            target: ch.target,
        });
    }

    fn new_standard_job(&mut self, m: NewMiningJob, stats: &Stats, fx: &mut Vec<Effect>) {
        let ids = self.addressed(m.channel_id);
        if ids.is_empty() {
            bump(&stats.ignored_messages);
            return;
        }
        stats.job(m.job_id);
        for id in ids {
            if self.channels.get(&id).is_some_and(Channel::extended) {
                // Standard jobs are meaningless on extended channels.
                bump(&stats.ignored_messages);
                continue;
            }
            let job = StoredJob {
                job_id: m.job_id,
                min_ntime: m.min_ntime,
                version: m.version,
                merkle: MerkleSource::Fixed(m.merkle_root),
                version_rolling_allowed: true,
            };
            self.store_job(id, job, fx);
        }
    }

    fn new_extended_job(&mut self, m: NewExtendedMiningJob, stats: &Stats, fx: &mut Vec<Effect>) {
        let ids = self.addressed(m.channel_id);
        if ids.is_empty() {
            bump(&stats.ignored_messages);
            return;
        }
        stats.job(m.job_id);
        for id in ids {
            let Some(ch) = self.channels.get(&id) else {
                continue;
            };
            // A standard channel in a group rolls nothing: its prefix completes the coinbase.
            let mut prefix =
                Vec::with_capacity(m.coinbase_tx_prefix.len() + ch.extranonce_prefix.len());
            prefix.extend_from_slice(&m.coinbase_tx_prefix);
            prefix.extend_from_slice(&ch.extranonce_prefix);
            let job = StoredJob {
                job_id: m.job_id,
                min_ntime: m.min_ntime,
                version: m.version,
                merkle: MerkleSource::Coinbase {
                    prefix,
                    suffix: m.coinbase_tx_suffix.clone(),
                    path: m.merkle_path.clone(),
                    extranonce_len: ch.extranonce_size.unwrap_or(0),
                },
                version_rolling_allowed: m.version_rolling_allowed,
            };
            self.store_job(id, job, fx);
        }
    }

    fn set_new_prev_hash(&mut self, m: SetNewPrevHash, stats: &Stats, fx: &mut Vec<Effect>) {
        let ids = self.addressed(m.channel_id);
        if ids.is_empty() {
            bump(&stats.ignored_messages);
            return;
        }
        bump(&stats.prev_hash_changes);
        for id in ids {
            let epoch = self.next_epoch;
            self.next_epoch += 1;
            let Some(ch) = self.channels.get_mut(&id) else {
                continue;
            };
            ch.prev = Some(PrevHash {
                prev_hash: m.prev_hash,
                nbits: m.nbits,
                min_ntime: m.min_ntime,
            });
            ch.epoch = epoch;
            ch.jobs.retain(|j| j.job_id == m.job_id);
            if ch.jobs.is_empty() {
                // The named job is unknown: nothing valid to mine until a new job arrives.
                fx.push(Effect::Work {
                    board: ch.board,
                    work: None,
                    target: ch.target,
                });
            } else {
                self.activate(id, m.job_id, Some(m.min_ntime), fx);
            }
        }
    }

    fn set_target(&mut self, m: SetTarget, stats: &Stats, fx: &mut Vec<Effect>) {
        let ids = self.addressed(m.channel_id);
        if ids.is_empty() {
            bump(&stats.ignored_messages);
            return;
        }
        let target = Target::from_le_bytes(m.maximum_target);
        stats.difficulty(target.difficulty());
        for id in ids {
            if let Some(ch) = self.channels.get_mut(&id) {
                ch.target = target;
                fx.push(Effect::Target {
                    board: ch.board,
                    target,
                });
            }
        }
    }

    fn set_extranonce_prefix(
        &mut self,
        m: SetExtranoncePrefix,
        stats: &Stats,
    ) -> Result<(), MinerError> {
        let Some(ch) = self.channels.get_mut(&m.channel_id) else {
            bump(&stats.ignored_messages);
            return Ok(());
        };
        if m.extranonce_prefix.len() + ch.extranonce_size.unwrap_or(0) > MAX_EXTRANONCE {
            return Err(MinerError::Protocol(format!(
                "SetExtranoncePrefix of {} bytes leaves no room for {} extranonce bytes",
                m.extranonce_prefix.len(),
                ch.extranonce_size.unwrap_or(0)
            )));
        }
        // Applies to jobs received from now on.
        ch.extranonce_prefix = m.extranonce_prefix;
        Ok(())
    }

    fn close(
        &mut self,
        m: CloseChannel,
        stats: &Stats,
        fx: &mut Vec<Effect>,
    ) -> Result<(), MinerError> {
        let ids = self.addressed(m.channel_id);
        if ids.is_empty() {
            bump(&stats.ignored_messages);
            return Ok(());
        }
        for id in ids {
            if let Some(ch) = self.channels.remove(&id) {
                tracing::info!(channel = id, reason = %m.reason_code, "channel closed by the pool");
                bump(&stats.channels_closed);
                drop_gauge(&stats.open_channels);
                fx.push(Effect::Work {
                    board: ch.board,
                    work: None,
                    target: ch.target,
                });
            }
        }
        if self.channels.is_empty() && self.pending.is_empty() {
            return Err(MinerError::AllChannelsClosed(m.reason_code));
        }
        Ok(())
    }

    /// Turns a found share into a submission, or reports it stale.
    pub(crate) fn submission(&mut self, share: &FoundShare<JobTag>) -> Submission {
        let tag = share.work.tag;
        let Some(ch) = self.channels.get_mut(&tag.channel_id) else {
            return Submission::Stale;
        };
        let hash = &share.found.hash;
        let current = tag.session == self.session
            && ch.board == share.board
            && ch.epoch == tag.epoch
            && ch.jobs.iter().any(|j| j.job_id == tag.job_id)
            && ch.target.is_met_by(hash);
        if !current {
            return Submission::Stale;
        }
        let sequence_number = ch.seq;
        ch.seq = ch.seq.wrapping_add(1);
        self.outstanding += 1;
        let f = share.found;
        let message = if tag.extended {
            SubmitSharesExtended {
                channel_id: tag.channel_id,
                sequence_number,
                job_id: tag.job_id,
                nonce: f.nonce,
                ntime: f.ntime,
                version: f.version,
                extranonce: share.extranonce.clone(),
            }
            .into()
        } else {
            SubmitSharesStandard {
                channel_id: tag.channel_id,
                sequence_number,
                job_id: tag.job_id,
                nonce: f.nonce,
                ntime: f.ntime,
                version: f.version,
            }
            .into()
        };
        Submission::Send {
            message,
            difficulty: hash_difficulty(hash),
            is_block: share
                .work
                .template
                .block_target()
                .is_some_and(|t| t.is_met_by(hash)),
        }
    }

    /// `UpdateChannel` messages with each channel's hash rate measured since the previous
    /// call (channels seen for the first time only start their measurement).
    pub(crate) fn update_channels(
        &mut self,
        board_hashes: impl Fn(usize) -> u64,
        maximum_target: [u8; 32],
        now: Instant,
    ) -> Vec<Message> {
        let mut out = Vec::new();
        for (id, ch) in &mut self.channels {
            let hashes = board_hashes(ch.board);
            if let Some((base, since)) = ch.rate_base {
                let secs = now.saturating_duration_since(since).as_secs_f64();
                if secs > 0.0 {
                    let rate = hashes.saturating_sub(base) as f64 / secs;
                    out.push(
                        UpdateChannel {
                            channel_id: *id,
                            nominal_hash_rate: rate as f32,
                            maximum_target,
                        }
                        .into(),
                    );
                }
            }
            ch.rate_base = Some((hashes, now));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::miner::hashpool::Work;
    use crate::miner::work::Found;
    use std::sync::Arc;
    use sv2_codec::mining::{
        OpenMiningChannelError, SetGroupChannel, SubmitSharesError, SubmitSharesSuccess,
    };

    fn params() -> OpenParams {
        OpenParams {
            user: "site.worker".into(),
            nominal_hash_rate: 2e6,
            max_target: [0xff; 32],
            min_extranonce_size: 4,
        }
    }

    fn std_success(request_id: u32, channel_id: u32, group: u32) -> MiningMessage {
        MiningMessage::OpenStandardMiningChannelSuccess(OpenStandardMiningChannelSuccess {
            request_id,
            channel_id,
            target: [0xff; 32],
            extranonce_prefix: vec![1, 2, 3, 4],
            group_channel_id: group,
        })
    }

    fn job(channel_id: u32, job_id: u32, min_ntime: Option<u32>) -> MiningMessage {
        MiningMessage::NewMiningJob(NewMiningJob {
            channel_id,
            job_id,
            min_ntime,
            version: 0x2000_0000,
            merkle_root: [job_id as u8; 32],
        })
    }

    fn snph(channel_id: u32, job_id: u32) -> MiningMessage {
        MiningMessage::SetNewPrevHash(SetNewPrevHash {
            channel_id,
            job_id,
            prev_hash: [9; 32],
            min_ntime: 1000,
            nbits: 0x207f_ffff,
        })
    }

    fn work_of(fx: &[Effect]) -> Vec<(usize, Option<u32>)> {
        fx.iter()
            .filter_map(|e| match e {
                Effect::Work { board, work, .. } => {
                    Some((*board, work.as_ref().map(|(t, _)| t.job_id)))
                }
                Effect::Target { .. } => None,
            })
            .collect()
    }

    fn share(tag: JobTag, template: JobTemplate, board: usize) -> FoundShare<JobTag> {
        let h = template.header(&[], template.version, template.ntime, 7);
        FoundShare {
            board,
            work: Arc::new(Work::new(tag, template, 32)),
            extranonce: vec![],
            found: Found {
                version: h.version,
                ntime: h.ntime,
                nonce: 7,
                hash: h.hash(),
            },
        }
    }

    #[test]
    fn future_job_waits_for_prev_hash_then_immediate_jobs_replace_it() {
        let stats = Stats::default();
        let mut c = Channels::new(ChannelMode::Standard, true);
        let opens = c.open_requests(2, &params());
        assert_eq!(opens.len(), 2);
        assert!(
            matches!(&opens[1], Message::Mining(MiningMessage::OpenStandardMiningChannel(o)) if o.request_id == 1 && o.nominal_hash_rate == 1e6 && o.user_identity == "site.worker")
        );
        assert_eq!(
            work_of(&c.handle(std_success(0, 10, 99), &stats).unwrap()),
            vec![(0, None)]
        );
        assert!(c.handle(job(10, 1, None), &stats).unwrap().is_empty());
        let fx = c.handle(snph(10, 1), &stats).unwrap();
        assert_eq!(work_of(&fx), vec![(0, Some(1))]);
        let Effect::Work {
            work: Some((tag, t)),
            ..
        } = &fx[0]
        else {
            panic!()
        };
        assert_eq!(t.ntime, 1000);
        assert_eq!(t.version_mask, BIP320_VERSION_MASK);
        assert_eq!(t.merkle, MerkleSource::Fixed([1; 32]));
        let old = share(*tag, t.clone(), 0);
        // An immediate job takes over; shares of job 1 stay valid under the same prev hash.
        assert_eq!(
            work_of(&c.handle(job(10, 2, Some(1005)), &stats).unwrap()),
            vec![(0, Some(2))]
        );
        assert!(matches!(c.submission(&old), Submission::Send { .. }));
        // A new prev hash naming an unknown job idles the board and makes job 1 stale.
        assert_eq!(
            work_of(&c.handle(snph(10, 77), &stats).unwrap()),
            vec![(0, None)]
        );
        assert_eq!(c.submission(&old), Submission::Stale);
        let s = stats.snapshot();
        assert_eq!(
            (s.jobs_received, s.prev_hash_changes, s.channels_opened),
            (2, 2, 1)
        );
        assert_eq!(s.last_job_id.as_deref(), Some("2"));
    }

    #[test]
    fn submissions_carry_sequence_numbers_and_track_acks() {
        let stats = Stats::default();
        let mut c = Channels::new(ChannelMode::Standard, false);
        c.open_requests(1, &params());
        c.handle(std_success(0, 5, 0), &stats).unwrap();
        c.handle(job(5, 3, None), &stats).unwrap();
        let fx = c.handle(snph(5, 3), &stats).unwrap();
        let Effect::Work {
            work: Some((tag, t)),
            ..
        } = &fx[0]
        else {
            panic!()
        };
        assert_eq!(t.version_mask, 0);
        let s = share(*tag, t.clone(), 0);
        for seq in 0..3 {
            match c.submission(&s) {
                Submission::Send {
                    message: Message::Mining(MiningMessage::SubmitSharesStandard(m)),
                    is_block,
                    ..
                } => {
                    assert_eq!(
                        (m.channel_id, m.job_id, m.sequence_number, m.nonce),
                        (5, 3, seq, 7)
                    );
                    // nbits 0x207fffff is the regtest target: almost every hash is a block.
                    assert_eq!(is_block, t.block_target().unwrap().is_met_by(&s.found.hash));
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(c.outstanding(), 3);
        c.handle(
            MiningMessage::SubmitSharesSuccess(SubmitSharesSuccess {
                channel_id: 5,
                last_sequence_number: 1,
                new_submits_accepted_count: 2,
                new_shares_sum: 20,
            }),
            &stats,
        )
        .unwrap();
        c.handle(
            MiningMessage::SubmitSharesError(SubmitSharesError {
                channel_id: 5,
                sequence_number: 2,
                error_code: "duplicate-share".into(),
            }),
            &stats,
        )
        .unwrap();
        assert_eq!(c.outstanding(), 0);
        let snap = stats.snapshot();
        assert_eq!(
            (
                snap.shares_accepted,
                snap.accepted_work_sum,
                snap.rejected_for("duplicate-share")
            ),
            (2, 20, 1)
        );
        // A harder target makes the share stale.
        c.handle(
            MiningMessage::SetTarget(SetTarget {
                channel_id: 5,
                maximum_target: [0; 32],
            }),
            &stats,
        )
        .unwrap();
        assert_eq!(c.submission(&s), Submission::Stale);
        // A new connection reusing the same channel and job ids never submits old shares.
        let mut again = Channels::new(ChannelMode::Standard, false);
        again.open_requests(1, &params());
        again.handle(std_success(0, 5, 0), &stats).unwrap();
        again.handle(job(5, 3, None), &stats).unwrap();
        again.handle(snph(5, 3), &stats).unwrap();
        let mut old_share = s;
        let mut tag = old_share.work.tag;
        tag.epoch = again.channels[&5].epoch;
        old_share.work = Arc::new(Work::new(tag, old_share.work.template.clone(), 32));
        assert_eq!(again.submission(&old_share), Submission::Stale);
    }

    #[test]
    fn extended_jobs_embed_the_prefix_and_group_messages_fan_out() {
        let stats = Stats::default();
        let mut c = Channels::new(ChannelMode::Extended, true);
        c.open_requests(2, &params());
        for (req, id) in [(0, 1), (1, 2)] {
            c.handle(
                MiningMessage::OpenExtendedMiningChannelSuccess(OpenExtendedMiningChannelSuccess {
                    request_id: req,
                    channel_id: id,
                    target: [0xff; 32],
                    extranonce_size: 4,
                    extranonce_prefix: vec![0xa0 + id as u8; 2],
                    group_channel_id: 50,
                }),
                &stats,
            )
            .unwrap();
        }
        let ext = MiningMessage::NewExtendedMiningJob(NewExtendedMiningJob {
            channel_id: 50,
            job_id: 8,
            min_ntime: None,
            version: 0x2000_0000,
            version_rolling_allowed: false,
            merkle_path: vec![[3; 32]],
            coinbase_tx_prefix: vec![1, 1],
            coinbase_tx_suffix: vec![2, 2],
        });
        c.handle(ext, &stats).unwrap();
        let fx = c.handle(snph(50, 8), &stats).unwrap();
        assert_eq!(work_of(&fx), vec![(0, Some(8)), (1, Some(8))]);
        let Effect::Work {
            work: Some((tag, t)),
            ..
        } = &fx[1]
        else {
            panic!()
        };
        assert!(tag.extended);
        assert_eq!(tag.channel_id, 2);
        assert_eq!(t.version_mask, 0, "job forbids version rolling");
        assert_eq!(
            t.merkle,
            MerkleSource::Coinbase {
                prefix: vec![1, 1, 0xa2, 0xa2],
                suffix: vec![2, 2],
                path: vec![[3; 32]],
                extranonce_len: 4
            }
        );
        // Prefix change applies to later jobs only.
        c.handle(
            MiningMessage::SetExtranoncePrefix(SetExtranoncePrefix {
                channel_id: 1,
                extranonce_prefix: vec![7; 3],
            }),
            &stats,
        )
        .unwrap();
        assert!(c
            .handle(
                MiningMessage::SetExtranoncePrefix(SetExtranoncePrefix {
                    channel_id: 1,
                    extranonce_prefix: vec![7; 29]
                }),
                &stats
            )
            .is_err());
        // Group regrouping and closing the group closes every member.
        c.handle(
            MiningMessage::SetGroupChannel(SetGroupChannel {
                group_channel_id: 60,
                channel_ids: vec![1, 2],
            }),
            &stats,
        )
        .unwrap();
        let err = c
            .handle(
                MiningMessage::CloseChannel(CloseChannel {
                    channel_id: 60,
                    reason_code: "bye".into(),
                }),
                &stats,
            )
            .unwrap_err();
        assert!(matches!(err, MinerError::AllChannelsClosed(r) if r == "bye"));
        assert_eq!(stats.snapshot().channels_closed, 2);
    }

    #[test]
    fn open_errors_and_bad_successes() {
        let stats = Stats::default();
        let mut c = Channels::new(ChannelMode::Standard, true);
        c.open_requests(2, &params());
        c.handle(
            MiningMessage::OpenMiningChannelError(OpenMiningChannelError {
                request_id: 0,
                error_code: "unknown-user".into(),
            }),
            &stats,
        )
        .unwrap();
        let e = c
            .handle(
                MiningMessage::OpenMiningChannelError(OpenMiningChannelError {
                    request_id: 1,
                    error_code: "unknown-user".into(),
                }),
                &stats,
            )
            .unwrap_err();
        assert!(matches!(e, MinerError::OpenChannelRejected(code) if code == "unknown-user"));
        // Unknown request ids are ignored; duplicate channel ids are a violation.
        let mut c = Channels::new(ChannelMode::Standard, true);
        c.open_requests(2, &params());
        c.handle(std_success(9, 1, 0), &stats).unwrap();
        assert_eq!(c.open(), 0);
        c.handle(std_success(0, 1, 0), &stats).unwrap();
        assert!(c.handle(std_success(1, 1, 0), &stats).is_err());
        let mut c = Channels::new(ChannelMode::Extended, true);
        c.open_requests(1, &params());
        let too_big =
            MiningMessage::OpenExtendedMiningChannelSuccess(OpenExtendedMiningChannelSuccess {
                request_id: 0,
                channel_id: 1,
                target: [0xff; 32],
                extranonce_size: 30,
                extranonce_prefix: vec![0; 3],
                group_channel_id: 0,
            });
        assert!(c.handle(too_big, &stats).is_err());
    }

    /// Searches the first units of `template` for shares meeting `target` (about 1 in 16).
    fn mine(
        tag: JobTag,
        template: &JobTemplate,
        board: usize,
        target: &Target,
    ) -> Vec<FoundShare<JobTag>> {
        use crate::miner::work::{hash_range, unit_hasher, SearchSpace};
        let space = SearchSpace::new(template, 4);
        let work = Arc::new(Work::new(tag, template.clone(), 4));
        let mut out = Vec::new();
        for u in 0..32 {
            let unit = space.unit(template, u).unwrap();
            let mut hasher = unit_hasher(template, &unit);
            let mut found = Vec::new();
            hash_range(&mut hasher, &unit, 0, u64::MAX, target, &mut found);
            out.extend(found.into_iter().map(|f| FoundShare {
                board,
                work: Arc::clone(&work),
                extranonce: unit.extranonce.clone(),
                found: f,
            }));
        }
        assert!(out.len() > 4);
        out
    }

    #[test]
    fn found_shares_validate_with_the_pool_side_hashers() {
        use sv2_mining::header::version_rolling_ok;
        use sv2_mining::share::{ExtendedJobHasher, StandardJobHasher};
        let stats = Stats::default();
        let target = Target::from_difficulty(16.0 / 4_294_967_296.0);
        let prev = [9; 32];
        let nbits = 0x207f_ffff;

        // Standard channel: fixed merkle root, rolled versions.
        let mut c = Channels::new(ChannelMode::Standard, true);
        c.open_requests(1, &params());
        c.handle(
            MiningMessage::OpenStandardMiningChannelSuccess(OpenStandardMiningChannelSuccess {
                request_id: 0,
                channel_id: 4,
                target: target.to_le_bytes(),
                extranonce_prefix: vec![1; 8],
                group_channel_id: 0,
            }),
            &stats,
        )
        .unwrap();
        c.handle(job(4, 6, None), &stats).unwrap();
        let fx = c.handle(snph(4, 6), &stats).unwrap();
        let Effect::Work {
            work: Some((tag, t)),
            ..
        } = &fx[0]
        else {
            panic!()
        };
        let mut pool = StandardJobHasher::new(prev, [6; 32], nbits);
        let mut rolled = false;
        for share in mine(*tag, t, 0, &target) {
            let Submission::Send {
                message: Message::Mining(MiningMessage::SubmitSharesStandard(m)),
                ..
            } = c.submission(&share)
            else {
                panic!()
            };
            assert!(target.is_met_by(&pool.hash(m.version, m.ntime, m.nonce)));
            assert!(version_rolling_ok(
                0x2000_0000,
                m.version,
                BIP320_VERSION_MASK
            ));
            rolled |= m.version != 0x2000_0000;
        }
        assert!(rolled);

        // Extended channel: the miner's extranonce after the channel prefix.
        let mut c = Channels::new(ChannelMode::Extended, true);
        c.open_requests(1, &params());
        c.handle(
            MiningMessage::OpenExtendedMiningChannelSuccess(OpenExtendedMiningChannelSuccess {
                request_id: 0,
                channel_id: 2,
                target: target.to_le_bytes(),
                extranonce_size: 3,
                extranonce_prefix: vec![0xee; 5],
                group_channel_id: 0,
            }),
            &stats,
        )
        .unwrap();
        let (cb_prefix, cb_suffix, path) = (vec![0x01; 70], vec![0x02; 90], vec![[0x44; 32]; 5]);
        c.handle(
            MiningMessage::NewExtendedMiningJob(NewExtendedMiningJob {
                channel_id: 2,
                job_id: 1,
                min_ntime: None,
                version: 0x2000_0000,
                version_rolling_allowed: true,
                merkle_path: path.clone(),
                coinbase_tx_prefix: cb_prefix.clone(),
                coinbase_tx_suffix: cb_suffix.clone(),
            }),
            &stats,
        )
        .unwrap();
        let fx = c.handle(snph(2, 1), &stats).unwrap();
        let Effect::Work {
            work: Some((tag, t)),
            ..
        } = &fx[0]
        else {
            panic!()
        };
        let fixed = [cb_prefix.as_slice(), &[0xee; 5]].concat();
        let pool = ExtendedJobHasher::new(&fixed, &cb_suffix, &path, prev, nbits);
        let mut extranonces = std::collections::HashSet::new();
        for share in mine(*tag, t, 0, &target) {
            let Submission::Send {
                message: Message::Mining(MiningMessage::SubmitSharesExtended(m)),
                ..
            } = c.submission(&share)
            else {
                panic!()
            };
            assert_eq!(m.extranonce.len(), 3);
            let h = pool.hash_share(&sv2_mining::share::ExtendedShare {
                extranonce: &m.extranonce,
                version: m.version,
                ntime: m.ntime,
                nonce: m.nonce,
            });
            assert_eq!(h, share.found.hash);
            assert!(target.is_met_by(&h));
            extranonces.insert(m.extranonce.clone());
        }
        assert!(extranonces.len() > 1);
    }

    #[test]
    fn job_storage_is_bounded_and_update_channel_measures_rate() {
        let stats = Stats::default();
        let mut c = Channels::new(ChannelMode::Standard, true);
        c.open_requests(1, &params());
        c.handle(std_success(0, 1, 0), &stats).unwrap();
        for j in 0..100 {
            c.handle(job(1, j, None), &stats).unwrap();
        }
        assert_eq!(c.channels[&1].jobs.len(), MAX_JOBS_PER_CHANNEL);
        assert_eq!(
            c.channels[&1].jobs.front().map(|j| j.job_id),
            Some(100 - MAX_JOBS_PER_CHANNEL as u32)
        );
        let t0 = Instant::now();
        assert!(c.update_channels(|_| 1000, [0xff; 32], t0).is_empty());
        let msgs = c.update_channels(|_| 3000, [0xff; 32], t0 + std::time::Duration::from_secs(2));
        match &msgs[..] {
            [Message::Mining(MiningMessage::UpdateChannel(u))] => {
                assert_eq!(u.channel_id, 1);
                assert_eq!(u.nominal_hash_rate, 1000.0);
            }
            other => panic!("{other:?}"),
        }
    }
}
