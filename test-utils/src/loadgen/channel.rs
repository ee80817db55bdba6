//! Sans-IO state of one load-generator channel: follows the pool's jobs, chain tips and
//! targets, and makes shares of each [`ShareKind`] on demand.
//!
//! Shares are mined for real with `sv2_mining`'s hashers: a valid share is a nonce whose hash
//! meets the channel target but not the network target (a block would make the pool submit
//! it; with the stand-in's easy targets that would be a large fraction of all hashes, so block
//! hashes are skipped and counted), an invalid share ("bad nonce") one whose hash misses the
//! target. Every nonce is used once per channel, so valid shares are never accidental
//! duplicates; when the 2^32 nonces run out, ntime is rolled by one second.

use std::collections::HashMap;

use sv2_codec::mining::{
    OpenExtendedMiningChannel, OpenStandardMiningChannel, SubmitSharesExtended,
    SubmitSharesStandard,
};
use sv2_codec::{Message, MiningMessage};
use sv2_mining::share::{ExtendedJobHasher, StandardJobHasher};
use sv2_mining::target::Target;

use super::stats::ShareKind;
use crate::miner::sv2::ChannelMode;

/// Most future jobs remembered (the pool sends one per new tip).
const MAX_FUTURE_JOBS: usize = 8;

/// What the pool said, as far as the connection loop cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Nothing to act on.
    Nothing,
    /// The channel opened.
    Opened,
    /// The pool refused to open the channel.
    OpenFailed(String),
    /// A new chain tip; `first` is the tip the channel started on.
    NewTip {
        /// Previous block hash (internal byte order).
        prev_hash: [u8; 32],
        /// The channel's first tip (not a fan-out sample).
        first: bool,
    },
    /// A job arrived.
    Job,
    /// The share target changed.
    Target,
    /// `SubmitShares.Success`.
    Success {
        /// Sequence number of the last accepted share.
        last_seq: u32,
        /// `new_submits_accepted_count`.
        count: u32,
    },
    /// `SubmitShares.Error`.
    Rejected {
        /// Sequence number of the rejected share.
        seq: u32,
        /// Error code.
        code: String,
    },
    /// The pool closed the channel.
    Closed(String),
    /// A message for another channel, or one this client ignores.
    Ignored,
}

#[derive(Debug, Clone)]
enum JobContent {
    Standard {
        merkle_root: [u8; 32],
    },
    Extended {
        coinbase_prefix: Vec<u8>,
        coinbase_suffix: Vec<u8>,
        merkle_path: Vec<[u8; 32]>,
    },
}

#[derive(Debug, Clone)]
struct JobDef {
    version: u32,
    content: JobContent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tip {
    prev_hash: [u8; 32],
    min_ntime: u32,
    nbits: u32,
}

#[derive(Debug, Clone)]
enum JobHasher {
    Standard(Box<StandardJobHasher>),
    Extended(Box<ExtendedJobHasher>),
}

#[derive(Debug, Clone)]
struct ActiveJob {
    job_id: u32,
    version: u32,
    min_ntime: u32,
    hasher: JobHasher,
    network: Target,
}

/// The header fields of one share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareFields {
    /// Job id.
    pub job_id: u32,
    /// Nonce.
    pub nonce: u32,
    /// Block time.
    pub ntime: u32,
    /// Block version.
    pub version: u32,
}

/// A share ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Made {
    /// What it is (the requested kind, or `Valid` when that kind is not possible yet).
    pub kind: ShareKind,
    /// Its fields.
    pub fields: ShareFields,
}

/// Why no share could be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoShare {
    /// No job yet.
    NoJob,
    /// The hash budget ran out before a valid share was found (target too hard).
    Budget,
}

/// Work counters of one [`Channel::make_share`] call.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MiningCost {
    /// Hashes computed.
    pub hashes: u64,
    /// Hashes meeting the network target, skipped.
    pub blocks_skipped: u64,
}

/// One channel of a load-generator connection.
#[derive(Debug)]
pub struct Channel {
    mode: ChannelMode,
    id: Option<u32>,
    target: Target,
    extranonce_prefix: Vec<u8>,
    extranonce: Vec<u8>,
    future: HashMap<u32, JobDef>,
    tip: Option<Tip>,
    active: Option<ActiveJob>,
    stale_job: Option<u32>,
    last_valid: Option<ShareFields>,
    next_seq: u32,
    nonce: u32,
    ntime_roll: u32,
}

impl Channel {
    /// A channel about to be opened.
    pub fn new(mode: ChannelMode) -> Self {
        Channel {
            mode,
            id: None,
            target: Target::ZERO,
            extranonce_prefix: Vec::new(),
            extranonce: Vec::new(),
            future: HashMap::new(),
            tip: None,
            active: None,
            stale_job: None,
            last_valid: None,
            next_seq: 0,
            nonce: 0,
            ntime_roll: 0,
        }
    }

    /// The open request (`max_target` all ones: any target the pool likes).
    pub fn open_request(&self, user: &str, nominal_hash_rate: f32) -> Message {
        match self.mode {
            ChannelMode::Standard => Message::from(OpenStandardMiningChannel {
                request_id: 1,
                user_identity: user.to_owned(),
                nominal_hash_rate,
                max_target: [0xff; 32],
            }),
            ChannelMode::Extended => Message::from(OpenExtendedMiningChannel {
                request_id: 1,
                user_identity: user.to_owned(),
                nominal_hash_rate,
                max_target: [0xff; 32],
                min_extranonce_size: 4,
            }),
        }
    }

    /// Channel id once opened.
    pub fn id(&self) -> Option<u32> {
        self.id
    }

    /// Current share target.
    pub fn target(&self) -> Target {
        self.target
    }

    /// True once a job on a known tip can be mined.
    pub fn has_job(&self) -> bool {
        self.active.is_some()
    }

    fn ours(&self, channel_id: u32) -> bool {
        self.id == Some(channel_id)
    }

    /// Applies one message from the pool.
    pub fn handle(&mut self, msg: MiningMessage) -> Event {
        use MiningMessage as M;
        match msg {
            M::OpenStandardMiningChannelSuccess(s) if self.id.is_none() => {
                self.id = Some(s.channel_id);
                self.target = Target::from_le_bytes(s.target);
                self.extranonce_prefix = s.extranonce_prefix;
                Event::Opened
            }
            M::OpenExtendedMiningChannelSuccess(s) if self.id.is_none() => {
                self.id = Some(s.channel_id);
                self.target = Target::from_le_bytes(s.target);
                self.extranonce_prefix = s.extranonce_prefix;
                // Bounded by the field type (u16) and checked again by the pool.
                self.extranonce = vec![0; usize::from(s.extranonce_size).min(32)];
                Event::Opened
            }
            M::OpenMiningChannelError(e) if self.id.is_none() => Event::OpenFailed(e.error_code),
            M::NewMiningJob(j) if self.ours(j.channel_id) => {
                let def = JobDef {
                    version: j.version,
                    content: JobContent::Standard {
                        merkle_root: j.merkle_root,
                    },
                };
                self.job(j.job_id, j.min_ntime, def)
            }
            M::NewExtendedMiningJob(j) if self.ours(j.channel_id) => {
                let def = JobDef {
                    version: j.version,
                    content: JobContent::Extended {
                        coinbase_prefix: j.coinbase_tx_prefix,
                        coinbase_suffix: j.coinbase_tx_suffix,
                        merkle_path: j.merkle_path,
                    },
                };
                self.job(j.job_id, j.min_ntime, def)
            }
            M::SetNewPrevHash(p) if self.ours(p.channel_id) => {
                let first = self.tip.is_none();
                let tip = Tip {
                    prev_hash: p.prev_hash,
                    min_ntime: p.min_ntime,
                    nbits: p.nbits,
                };
                let changed = self.tip.is_none_or(|t| t.prev_hash != p.prev_hash);
                self.tip = Some(tip);
                if changed {
                    self.stale_job = self.active.as_ref().map(|a| a.job_id);
                    self.last_valid = None;
                    self.nonce = 0;
                    self.ntime_roll = 0;
                }
                match self.future.remove(&p.job_id) {
                    Some(def) => self.activate(p.job_id, p.min_ntime, &def),
                    None => self.active = None,
                }
                self.future.clear();
                if changed {
                    Event::NewTip {
                        prev_hash: p.prev_hash,
                        first,
                    }
                } else {
                    Event::Job
                }
            }
            M::SetTarget(t) if self.ours(t.channel_id) => {
                self.target = Target::from_le_bytes(t.maximum_target);
                Event::Target
            }
            M::SetExtranoncePrefix(s) if self.ours(s.channel_id) => {
                // Applies to jobs sent from now on.
                self.extranonce_prefix = s.extranonce_prefix;
                Event::Nothing
            }
            M::SubmitSharesSuccess(s) if self.ours(s.channel_id) => Event::Success {
                last_seq: s.last_sequence_number,
                count: s.new_submits_accepted_count,
            },
            M::SubmitSharesError(e) if self.ours(e.channel_id) => Event::Rejected {
                seq: e.sequence_number,
                code: e.error_code,
            },
            M::CloseChannel(c) if self.ours(c.channel_id) => Event::Closed(c.reason_code),
            _ => Event::Ignored,
        }
    }

    fn job(&mut self, job_id: u32, min_ntime: Option<u32>, def: JobDef) -> Event {
        match min_ntime {
            None => {
                if self.future.len() >= MAX_FUTURE_JOBS {
                    self.future.clear();
                }
                self.future.insert(job_id, def);
            }
            // An immediately valid job on the current tip replaces the one being mined.
            Some(t) if self.tip.is_some() => self.activate(job_id, t, &def),
            Some(_) => {}
        }
        Event::Job
    }

    fn activate(&mut self, job_id: u32, min_ntime: u32, def: &JobDef) {
        let Some(tip) = self.tip else {
            return;
        };
        let hasher = match &def.content {
            JobContent::Standard { merkle_root } => JobHasher::Standard(Box::new(
                StandardJobHasher::new(tip.prev_hash, *merkle_root, tip.nbits),
            )),
            JobContent::Extended {
                coinbase_prefix,
                coinbase_suffix,
                merkle_path,
            } => {
                let mut fixed = Vec::with_capacity(coinbase_prefix.len() + 32);
                fixed.extend_from_slice(coinbase_prefix);
                fixed.extend_from_slice(&self.extranonce_prefix);
                JobHasher::Extended(Box::new(ExtendedJobHasher::new(
                    &fixed,
                    coinbase_suffix,
                    merkle_path,
                    tip.prev_hash,
                    tip.nbits,
                )))
            }
        };
        let network = Target::from_compact(tip.nbits).unwrap_or(Target::ZERO);
        self.active = Some(ActiveJob {
            job_id,
            version: def.version,
            min_ntime: min_ntime.max(tip.min_ntime),
            hasher,
            network,
        });
    }

    /// Hashes nonces from the channel's cursor until `accept` likes one, at most `budget`.
    fn search(
        &mut self,
        budget: u64,
        cost: &mut MiningCost,
        mut accept: impl FnMut(&[u8; 32], &Target, &Target) -> Option<bool>,
    ) -> Option<ShareFields> {
        let a = self.active.as_mut()?;
        for _ in 0..budget {
            let nonce = self.nonce;
            let ntime = a.min_ntime.saturating_add(self.ntime_roll);
            self.nonce = self.nonce.wrapping_add(1);
            if self.nonce == 0 {
                self.ntime_roll = self.ntime_roll.saturating_add(1);
            }
            let hash = match &mut a.hasher {
                JobHasher::Standard(h) => h.hash(a.version, ntime, nonce),
                JobHasher::Extended(h) => h.hash(&self.extranonce, a.version, ntime, nonce),
            };
            cost.hashes += 1;
            match accept(&hash, &self.target, &a.network) {
                Some(true) => {
                    return Some(ShareFields {
                        job_id: a.job_id,
                        nonce,
                        ntime,
                        version: a.version,
                    })
                }
                Some(false) => cost.blocks_skipped += 1,
                None => {}
            }
        }
        None
    }

    fn mine_valid(&mut self, budget: u64, cost: &mut MiningCost) -> Option<ShareFields> {
        self.search(budget, cost, |h, target, network| {
            if network.is_met_by(h) {
                Some(false)
            } else if target.is_met_by(h) {
                Some(true)
            } else {
                None
            }
        })
    }

    fn mine_invalid(&mut self, budget: u64, cost: &mut MiningCost) -> Option<ShareFields> {
        if self.target == Target::MAX {
            return None;
        }
        self.search(budget, cost, |h, target, network| {
            (!target.is_met_by(h) && !network.is_met_by(h)).then_some(true)
        })
    }

    /// Makes a share of `kind` (falling back to a valid share when that kind is not possible:
    /// no previous tip for a stale share, no valid share yet to duplicate, a target every hash
    /// meets for a bad nonce), spending at most `budget` hashes.
    pub fn make_share(
        &mut self,
        kind: ShareKind,
        budget: u64,
        cost: &mut MiningCost,
    ) -> Result<Made, NoShare> {
        let (job_id, version, min_ntime) = match &self.active {
            Some(a) => (a.job_id, a.version, a.min_ntime),
            None => return Err(NoShare::NoJob),
        };
        let special = match kind {
            ShareKind::Valid => None,
            ShareKind::Invalid => self.mine_invalid(budget, cost),
            ShareKind::Stale => self.stale_job.map(|old| {
                let nonce = self.nonce;
                self.nonce = self.nonce.wrapping_add(1);
                ShareFields {
                    job_id: old,
                    nonce,
                    ntime: min_ntime,
                    version,
                }
            }),
            ShareKind::Duplicate => self.last_valid.filter(|v| v.job_id == job_id),
        };
        if let Some(fields) = special {
            return Ok(Made { kind, fields });
        }
        let fields = self.mine_valid(budget, cost).ok_or(NoShare::Budget)?;
        self.last_valid = Some(fields);
        Ok(Made {
            kind: ShareKind::Valid,
            fields,
        })
    }

    /// The submit message for `fields` with the next sequence number.
    pub fn submit(&mut self, fields: &ShareFields) -> (u32, Message) {
        self.next_seq = self.next_seq.wrapping_add(1);
        let seq = self.next_seq;
        let channel_id = self.id.unwrap_or(0);
        let msg = match self.mode {
            ChannelMode::Standard => Message::from(SubmitSharesStandard {
                channel_id,
                sequence_number: seq,
                job_id: fields.job_id,
                nonce: fields.nonce,
                ntime: fields.ntime,
                version: fields.version,
            }),
            ChannelMode::Extended => Message::from(SubmitSharesExtended {
                channel_id,
                sequence_number: seq,
                job_id: fields.job_id,
                nonce: fields.nonce,
                ntime: fields.ntime,
                version: fields.version,
                extranonce: self.extranonce.clone(),
            }),
        };
        (seq, msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sv2_codec::mining::{
        NewExtendedMiningJob, NewMiningJob, OpenExtendedMiningChannelSuccess,
        OpenStandardMiningChannelSuccess, SetNewPrevHash, SetTarget, SubmitSharesError,
        SubmitSharesSuccess,
    };
    use sv2_mining::target::Target;

    /// Network target 2^240 (block 1 in 65 536 hashes), share target 3/4 of all hashes.
    const NBITS: u32 = 0x1f00_ffff;

    fn share_target() -> Target {
        let mut b = [0xff; 32];
        b[31] = 0xbf;
        Target::from_le_bytes(b)
    }

    fn open_standard() -> Channel {
        let mut c = Channel::new(ChannelMode::Standard);
        let ev = c.handle(MiningMessage::OpenStandardMiningChannelSuccess(
            OpenStandardMiningChannelSuccess {
                request_id: 1,
                channel_id: 7,
                target: share_target().to_le_bytes(),
                extranonce_prefix: vec![1, 2, 3],
                group_channel_id: 0,
            },
        ));
        assert_eq!(ev, Event::Opened);
        c
    }

    fn std_job(job_id: u32, min_ntime: Option<u32>) -> MiningMessage {
        MiningMessage::NewMiningJob(NewMiningJob {
            channel_id: 7,
            job_id,
            min_ntime,
            version: 0x2000_0000,
            merkle_root: [job_id as u8; 32],
        })
    }

    fn prev_hash(job_id: u32, tip: u8) -> MiningMessage {
        MiningMessage::SetNewPrevHash(SetNewPrevHash {
            channel_id: 7,
            job_id,
            prev_hash: [tip; 32],
            min_ntime: 1_700_000_000,
            nbits: NBITS,
        })
    }

    #[test]
    fn standard_shares_of_every_kind_verify() {
        let mut c = open_standard();
        let mut cost = MiningCost::default();
        assert_eq!(
            c.make_share(ShareKind::Valid, 100, &mut cost),
            Err(NoShare::NoJob)
        );
        assert_eq!(c.handle(std_job(1, None)), Event::Job);
        assert!(!c.has_job());
        assert_eq!(
            c.handle(prev_hash(1, 0xaa)),
            Event::NewTip {
                prev_hash: [0xaa; 32],
                first: true
            }
        );
        assert!(c.has_job());
        let net = Target::from_compact(NBITS).unwrap();
        let check = |f: &ShareFields, tip: u8, root: u8| {
            let mut h = StandardJobHasher::new([tip; 32], [root; 32], NBITS);
            h.hash(f.version, f.ntime, f.nonce)
        };
        let mut nonces = std::collections::HashSet::new();
        for _ in 0..200 {
            let m = c.make_share(ShareKind::Valid, 1000, &mut cost).unwrap();
            assert_eq!(m.kind, ShareKind::Valid);
            let h = check(&m.fields, 0xaa, 1);
            assert!(share_target().is_met_by(&h) && !net.is_met_by(&h));
            assert!(nonces.insert(m.fields.nonce), "every nonce once");
        }
        let bad = c.make_share(ShareKind::Invalid, 1000, &mut cost).unwrap();
        assert_eq!(bad.kind, ShareKind::Invalid);
        assert!(!share_target().is_met_by(&check(&bad.fields, 0xaa, 1)));
        // No previous tip yet: a stale share falls back to a valid one.
        let s = c.make_share(ShareKind::Stale, 1000, &mut cost).unwrap();
        assert_eq!(s.kind, ShareKind::Valid);
        let d = c.make_share(ShareKind::Duplicate, 1000, &mut cost).unwrap();
        assert_eq!(d.kind, ShareKind::Duplicate);
        assert_eq!(d.fields, s.fields);
        assert!(cost.hashes >= 202);

        // New tip: job 1 becomes stale, job 2 is mined.
        c.handle(std_job(2, None));
        assert_eq!(
            c.handle(prev_hash(2, 0xbb)),
            Event::NewTip {
                prev_hash: [0xbb; 32],
                first: false
            }
        );
        let s = c.make_share(ShareKind::Stale, 1000, &mut cost).unwrap();
        assert_eq!((s.kind, s.fields.job_id), (ShareKind::Stale, 1));
        // The duplicate source was from the old tip: a valid share instead.
        let d = c.make_share(ShareKind::Duplicate, 1000, &mut cost).unwrap();
        assert_eq!((d.kind, d.fields.job_id), (ShareKind::Valid, 2));
        assert!(share_target().is_met_by(&check(&d.fields, 0xbb, 2)));
        // An immediate job on the same tip replaces job 2.
        c.handle(std_job(3, Some(1_700_000_100)));
        let v = c.make_share(ShareKind::Valid, 1000, &mut cost).unwrap();
        assert_eq!((v.fields.job_id, v.fields.ntime), (3, 1_700_000_100));
        assert!(share_target().is_met_by(&check(&v.fields, 0xbb, 3)));

        let (seq, msg) = c.submit(&v.fields);
        assert_eq!(seq, 1);
        match msg {
            Message::Mining(MiningMessage::SubmitSharesStandard(s)) => {
                assert_eq!((s.channel_id, s.job_id, s.nonce), (7, 3, v.fields.nonce))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(c.submit(&v.fields).0, 2);
    }

    #[test]
    fn answers_targets_and_foreign_channels() {
        let mut c = open_standard();
        let ok = c.handle(MiningMessage::SubmitSharesSuccess(SubmitSharesSuccess {
            channel_id: 7,
            last_sequence_number: 9,
            new_submits_accepted_count: 4,
            new_shares_sum: 4,
        }));
        assert_eq!(
            ok,
            Event::Success {
                last_seq: 9,
                count: 4
            }
        );
        let err = c.handle(MiningMessage::SubmitSharesError(SubmitSharesError {
            channel_id: 7,
            sequence_number: 3,
            error_code: "stale-share".into(),
        }));
        assert_eq!(
            err,
            Event::Rejected {
                seq: 3,
                code: "stale-share".into()
            }
        );
        let foreign = c.handle(MiningMessage::SubmitSharesError(SubmitSharesError {
            channel_id: 8,
            sequence_number: 3,
            error_code: "x".into(),
        }));
        assert_eq!(foreign, Event::Ignored);
        c.handle(MiningMessage::SetTarget(SetTarget {
            channel_id: 7,
            maximum_target: Target::MAX.to_le_bytes(),
        }));
        assert_eq!(c.target(), Target::MAX);
        c.handle(std_job(1, None));
        c.handle(prev_hash(1, 0xaa));
        // Every hash meets the target: a bad nonce is impossible, a valid share is sent.
        let mut cost = MiningCost::default();
        let m = c.make_share(ShareKind::Invalid, 100, &mut cost).unwrap();
        assert_eq!(m.kind, ShareKind::Valid);
        // A target no hash meets exhausts the budget.
        c.handle(MiningMessage::SetTarget(SetTarget {
            channel_id: 7,
            maximum_target: Target::ZERO.to_le_bytes(),
        }));
        let mut cost = MiningCost::default();
        assert_eq!(
            c.make_share(ShareKind::Valid, 50, &mut cost),
            Err(NoShare::Budget)
        );
        assert_eq!(cost.hashes, 50);
    }

    #[test]
    fn extended_shares_verify_with_the_extranonce() {
        let mut c = Channel::new(ChannelMode::Extended);
        c.handle(MiningMessage::OpenExtendedMiningChannelSuccess(
            OpenExtendedMiningChannelSuccess {
                request_id: 1,
                channel_id: 7,
                target: share_target().to_le_bytes(),
                extranonce_size: 8,
                extranonce_prefix: vec![9; 7],
                group_channel_id: 0,
            },
        ));
        let prefix = vec![0x01, 0x00, 0x00, 0x00, 0x01, 0x42];
        let suffix = vec![0xff, 0xff, 0xff, 0xff, 0x00];
        let path = vec![[3u8; 32], [4u8; 32]];
        c.handle(MiningMessage::NewExtendedMiningJob(NewExtendedMiningJob {
            channel_id: 7,
            job_id: 5,
            min_ntime: None,
            version: 0x2000_0000,
            version_rolling_allowed: true,
            merkle_path: path.clone(),
            coinbase_tx_prefix: prefix.clone(),
            coinbase_tx_suffix: suffix.clone(),
        }));
        c.handle(prev_hash(5, 0xcc));
        let mut cost = MiningCost::default();
        let m = c.make_share(ShareKind::Valid, 1000, &mut cost).unwrap();
        let mut fixed = prefix.clone();
        fixed.extend_from_slice(&[9; 7]);
        let mut h = ExtendedJobHasher::new(&fixed, &suffix, &path, [0xcc; 32], NBITS);
        let hash = h.hash(&[0; 8], m.fields.version, m.fields.ntime, m.fields.nonce);
        assert!(share_target().is_met_by(&hash));
        match c.submit(&m.fields).1 {
            Message::Mining(MiningMessage::SubmitSharesExtended(s)) => {
                assert_eq!(s.extranonce, vec![0; 8]);
                assert_eq!(s.job_id, 5);
            }
            other => panic!("{other:?}"),
        }
    }
}
