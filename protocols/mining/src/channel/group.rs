//! Group channel (server side): standard channels addressed together.
//!
//! A job for the group is one `NewExtendedMiningJob` (sent to a proxy, which derives each
//! device's `NewMiningJob`) and, equivalently, one standard job per member with that member's
//! merkle root, all under the same job id. Members must share the full extranonce length, since
//! the broadcast coinbase prefix fixes the scriptSig length.

use super::core::JobIds;
use super::{
    ChainTip, ChannelError, JobTemplate, NewExtendedJob, NewPrevHash, NewStandardJob, ShareError,
    ShareOutcome, StandardChannel, SubmitStandard,
};
use crate::target::Target;
use std::collections::{BTreeMap, VecDeque};

/// A job created for the whole group.
#[derive(Debug, Clone)]
pub struct GroupJob {
    /// The broadcast `NewExtendedMiningJob` (channel id = group id).
    pub extended: NewExtendedJob,
    /// Each member's `NewMiningJob`, for connections that require standard jobs.
    pub standard: Vec<NewStandardJob>,
}

/// A group of standard channels; see the module documentation.
#[derive(Debug, Clone)]
pub struct GroupChannel {
    id: u32,
    full_extranonce_len: usize,
    members: BTreeMap<u32, StandardChannel>,
    job_ids: JobIds,
    tip: Option<ChainTip>,
    /// Template of the active group job, kept for members joining later.
    active: Option<(u32, JobTemplate)>,
    /// Templates of pending future group jobs.
    future: VecDeque<(u32, JobTemplate)>,
    max_future: usize,
}

impl GroupChannel {
    /// New empty group whose members use full extranonces of `full_extranonce_len` bytes,
    /// remembering at most `max_future_jobs` future jobs.
    pub fn new(group_id: u32, full_extranonce_len: usize, max_future_jobs: usize) -> Self {
        GroupChannel {
            id: group_id,
            full_extranonce_len,
            members: BTreeMap::new(),
            job_ids: JobIds::new(),
            tip: None,
            active: None,
            future: VecDeque::new(),
            max_future: max_future_jobs.max(1),
        }
    }

    /// Group channel id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Full extranonce length of every member.
    pub fn full_extranonce_len(&self) -> usize {
        self.full_extranonce_len
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the group has no member.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Member channel ids, ascending.
    pub fn member_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.members.keys().copied()
    }

    /// A member channel.
    pub fn channel(&self, channel_id: u32) -> Option<&StandardChannel> {
        self.members.get(&channel_id)
    }

    /// A member channel, mutably (targets, `UpdateChannel`).
    pub fn channel_mut(&mut self, channel_id: u32) -> Option<&mut StandardChannel> {
        self.members.get_mut(&channel_id)
    }

    /// Current chain tip.
    pub fn chain_tip(&self) -> Option<&ChainTip> {
        self.tip.as_ref()
    }

    /// Adds a channel. It receives the group's chain tip and current jobs; returns its
    /// `NewMiningJob`s (future jobs first, then the active one).
    pub fn add_channel(
        &mut self,
        mut channel: StandardChannel,
    ) -> Result<Vec<NewStandardJob>, ChannelError> {
        let id = channel.id();
        if self.members.contains_key(&id) || id == self.id {
            return Err(ChannelError::DuplicateChannel(id));
        }
        if channel.extranonce_prefix().len() != self.full_extranonce_len {
            return Err(ChannelError::ExtranonceLenMismatch {
                coinbase: self.full_extranonce_len,
                channel: channel.extranonce_prefix().len(),
            });
        }
        let mut jobs = Vec::new();
        if let Some(tip) = self.tip {
            channel.set_chain_tip(tip)?;
        }
        for (job_id, template) in &self.future {
            jobs.push(channel.install_job(*job_id, template)?);
        }
        if let Some((job_id, template)) = &self.active {
            jobs.push(channel.install_job(*job_id, template)?);
        }
        self.members.insert(id, channel);
        Ok(jobs)
    }

    /// Removes a channel (closed), returning it.
    pub fn remove_channel(&mut self, channel_id: u32) -> Option<StandardChannel> {
        self.members.remove(&channel_id)
    }

    /// Sets the chain tip of the group and its members without activating a job.
    pub fn set_chain_tip(&mut self, tip: ChainTip) -> Result<(), ChannelError> {
        tip.network_target()?;
        for m in self.members.values_mut() {
            m.set_chain_tip(tip)?;
        }
        self.tip = Some(tip);
        self.active = None;
        self.future.clear();
        Ok(())
    }

    /// New prev hash for `template_id`: activates the future group job built from it in every
    /// member and returns the group's `SetNewPrevHash`; `None` if the group had no such job.
    pub fn on_new_prev_hash(
        &mut self,
        template_id: u64,
        tip: ChainTip,
    ) -> Result<Option<NewPrevHash>, ChannelError> {
        tip.network_target()?;
        for m in self.members.values_mut() {
            m.on_new_prev_hash(template_id, tip)?;
        }
        self.tip = Some(tip);
        let found = self
            .future
            .iter()
            .position(|(_, t)| t.template_id == template_id)
            .and_then(|i| self.future.remove(i));
        self.future.clear();
        match found {
            Some((job_id, mut template)) => {
                template.future = false;
                self.active = Some((job_id, template));
                Ok(Some(NewPrevHash {
                    channel_id: self.id,
                    job_id,
                    prev_hash: tip.prev_hash,
                    min_ntime: tip.min_ntime,
                    nbits: tip.nbits,
                }))
            }
            None => {
                self.active = None;
                Ok(None)
            }
        }
    }

    /// Creates a group job from `template` and installs it in every member.
    pub fn new_job(&mut self, template: &JobTemplate) -> Result<GroupJob, ChannelError> {
        if template.coinbase.extranonce_len != self.full_extranonce_len {
            return Err(ChannelError::ExtranonceLenMismatch {
                coinbase: template.coinbase.extranonce_len,
                channel: self.full_extranonce_len,
            });
        }
        let min_ntime = if template.future {
            None
        } else {
            Some(self.tip.ok_or(ChannelError::NoChainTip)?.min_ntime)
        };
        let job_id = self.job_ids.peek();
        let mut standard = Vec::with_capacity(self.members.len());
        for m in self.members.values_mut() {
            standard.push(m.install_job(job_id, template)?);
        }
        self.job_ids.advance();
        if template.future {
            self.future.push_back((job_id, template.clone()));
            if self.future.len() > self.max_future {
                self.future.pop_front();
            }
        } else {
            self.active = Some((job_id, template.clone()));
        }
        Ok(GroupJob {
            extended: NewExtendedJob {
                channel_id: self.id,
                job_id,
                min_ntime,
                version: template.version,
                version_rolling_allowed: true,
                merkle_path: template.merkle_path.clone(),
                coinbase: template.coinbase.clone(),
            },
            standard,
        })
    }

    /// Validates a member's share; `invalid-channel-id` if the channel is not in the group.
    pub fn validate_share(&mut self, share: &SubmitStandard, now_ms: u64) -> ShareOutcome {
        match self.members.get_mut(&share.channel_id) {
            Some(m) => m.validate_share(share, now_ms),
            None => ShareOutcome::Rejected(ShareError::InvalidChannelId),
        }
    }

    /// Runs every member's vardiff; returns `(channel_id, new target)` for changed members.
    pub fn poll_vardiff(&mut self, now_ms: u64) -> Vec<(u32, Target)> {
        self.members
            .iter_mut()
            .filter_map(|(id, m)| m.poll_vardiff(now_ms).map(|t| (*id, t)))
            .collect()
    }
}
