//! Extranonce prefix allocation.
//!
//! The full extranonce of a channel is `total_len` bytes, laid out as
//!
//! ```text
//! | fixed bytes | counter (counter_len bytes, big-endian) | rollable (rest) |
//! ```
//!
//! * On a pool, the fixed bytes are the pool node id (for multi-node pools, each node gets a
//!   distinct id so their channels never overlap), the counter identifies the channel, and the
//!   rollable bytes are left to the downstream (a mining device rolls them, a translator splits
//!   them further among its own downstreams).
//! * On a translator/proxy, the fixed bytes are the extranonce prefix received from upstream and
//!   the counter identifies a downstream miner ([`ExtranonceAllocator::subdivide`]).
//!
//! Extended channels get `fixed || counter` and roll the remaining bytes. Standard channels get a
//! prefix of the full length, `fixed || counter || zero padding`, since they cannot roll an
//! extranonce. Both kinds share one counter space, so no two live prefixes overlap.
//!
//! # Reuse of freed prefixes
//!
//! A released counter is not reused right away: a miner could keep submitting old work on the
//! same job content under a new channel that received the same prefix. Released counters are
//! quarantined until [`ExtranonceAllocator::on_new_prev_hash`] is called (after which every job
//! that could have used them is stale), and fresh counters are preferred over recycled ones.

use std::collections::{HashSet, VecDeque};
use thiserror::Error;

/// Largest full extranonce size the protocol can carry (`extranonce_prefix` is `B0_32`).
pub const MAX_EXTRANONCE_LEN: usize = 32;
/// Largest counter width supported (a `u64`).
pub const MAX_COUNTER_LEN: usize = 8;

/// Errors from extranonce allocation.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ExtranonceError {
    /// The layout does not fit in the total length or exceeds protocol limits.
    #[error("invalid extranonce layout: {0}")]
    InvalidLayout(&'static str),
    /// The channel asks for more rollable bytes than this allocator leaves.
    #[error("requested {requested} rollable extranonce bytes, only {available} available")]
    NotEnoughRollable {
        /// Requested minimum.
        requested: usize,
        /// What this allocator leaves after the prefix.
        available: usize,
    },
    /// All counter values are in use or quarantined.
    #[error("extranonce prefix space exhausted")]
    Exhausted,
}

/// Identifier of an allocated prefix, needed to release it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PrefixId(u64);

impl PrefixId {
    /// The counter value encoded in the prefix.
    pub fn value(self) -> u64 {
        self.0
    }
}

/// An allocated extranonce prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllocatedPrefix {
    /// Handle for [`ExtranonceAllocator::release`].
    pub id: PrefixId,
    /// The prefix bytes (`extranonce_prefix` in SV2 messages, `extranonce1` in SV1).
    pub prefix: Vec<u8>,
    /// Bytes left for the downstream to roll or split (`extranonce_size` in
    /// `OpenExtendedMiningChannel.Success`, `extranonce2_size` in SV1); 0 for standard channels.
    pub rollable_len: usize,
}

impl AllocatedPrefix {
    /// Full extranonce length: prefix plus rollable part.
    pub fn total_len(&self) -> usize {
        self.prefix.len() + self.rollable_len
    }
}

/// Allocator of unique extranonce prefixes; see the module documentation.
#[derive(Debug, Clone)]
pub struct ExtranonceAllocator {
    fixed: Vec<u8>,
    counter_len: usize,
    total_len: usize,
    /// Number of counter values (`256^counter_len`, saturating).
    capacity: u64,
    /// Next never-used counter value.
    next_fresh: u64,
    live: HashSet<u64>,
    /// Released before the latest prev hash change: safe to reuse, oldest first.
    reusable: VecDeque<u64>,
    /// Released since the latest prev hash change.
    quarantined: Vec<u64>,
}

impl ExtranonceAllocator {
    /// Allocator whose prefixes start with `fixed`, followed by a `counter_len`-byte counter,
    /// for a full extranonce of `total_len` bytes.
    pub fn new(
        fixed: Vec<u8>,
        counter_len: usize,
        total_len: usize,
    ) -> Result<Self, ExtranonceError> {
        if total_len > MAX_EXTRANONCE_LEN {
            return Err(ExtranonceError::InvalidLayout(
                "total length exceeds 32 bytes",
            ));
        }
        if counter_len == 0 || counter_len > MAX_COUNTER_LEN {
            return Err(ExtranonceError::InvalidLayout(
                "counter length must be 1..=8 bytes",
            ));
        }
        if fixed.len() + counter_len > total_len {
            return Err(ExtranonceError::InvalidLayout(
                "fixed bytes and counter exceed total length",
            ));
        }
        let capacity = if counter_len >= 8 {
            u64::MAX
        } else {
            1u64 << (8 * counter_len)
        };
        Ok(ExtranonceAllocator {
            fixed,
            counter_len,
            total_len,
            capacity,
            next_fresh: 0,
            live: HashSet::new(),
            reusable: VecDeque::new(),
            quarantined: Vec::new(),
        })
    }

    /// Pool-side allocator: `node_id` (big-endian, `node_id_len` bytes, 0 for single-node pools)
    /// followed by a `channel_counter_len`-byte channel counter, leaving at least
    /// `min_downstream_len` rollable bytes (space reserved for translators to subdivide) in a
    /// full extranonce of `total_len` bytes.
    pub fn for_pool(
        node_id: u64,
        node_id_len: usize,
        channel_counter_len: usize,
        min_downstream_len: usize,
        total_len: usize,
    ) -> Result<Self, ExtranonceError> {
        if node_id_len > 8 {
            return Err(ExtranonceError::InvalidLayout(
                "node id longer than 8 bytes",
            ));
        }
        if node_id_len < 8 && node_id >> (8 * node_id_len) != 0 {
            return Err(ExtranonceError::InvalidLayout(
                "node id does not fit in node_id_len",
            ));
        }
        let fixed = node_id.to_be_bytes()[8 - node_id_len..].to_vec();
        let a = Self::new(fixed, channel_counter_len, total_len)?;
        if a.rollable_len() < min_downstream_len {
            return Err(ExtranonceError::InvalidLayout(
                "layout leaves less than min_downstream_len rollable bytes",
            ));
        }
        Ok(a)
    }

    /// Translator-side allocator splitting an upstream extended channel (`upstream_prefix` plus
    /// `upstream_rollable` bytes) among downstream miners, each identified by a
    /// `downstream_counter_len`-byte counter after the upstream prefix.
    pub fn subdivide(
        upstream_prefix: &[u8],
        upstream_rollable: usize,
        downstream_counter_len: usize,
    ) -> Result<Self, ExtranonceError> {
        Self::new(
            upstream_prefix.to_vec(),
            downstream_counter_len,
            upstream_prefix.len() + upstream_rollable,
        )
    }

    /// Rollable bytes left to an extended channel's downstream.
    pub fn rollable_len(&self) -> usize {
        self.total_len - self.fixed.len() - self.counter_len
    }

    /// Full extranonce length of every channel from this allocator.
    pub fn total_len(&self) -> usize {
        self.total_len
    }

    /// The fixed bytes every prefix starts with.
    pub fn fixed_prefix(&self) -> &[u8] {
        &self.fixed
    }

    /// Number of prefixes currently allocated.
    pub fn live_count(&self) -> usize {
        self.live.len()
    }

    /// Prefix for an extended channel that needs at least `min_rollable` bytes.
    pub fn allocate_extended(
        &mut self,
        min_rollable: usize,
    ) -> Result<AllocatedPrefix, ExtranonceError> {
        let available = self.rollable_len();
        if min_rollable > available {
            return Err(ExtranonceError::NotEnoughRollable {
                requested: min_rollable,
                available,
            });
        }
        let id = self.next_counter()?;
        let prefix = self.encode(id, false);
        Ok(AllocatedPrefix {
            id: PrefixId(id),
            prefix,
            rollable_len: available,
        })
    }

    /// Prefix for a standard channel: covers the full extranonce, nothing left to roll.
    pub fn allocate_standard(&mut self) -> Result<AllocatedPrefix, ExtranonceError> {
        let id = self.next_counter()?;
        let prefix = self.encode(id, true);
        Ok(AllocatedPrefix {
            id: PrefixId(id),
            prefix,
            rollable_len: 0,
        })
    }

    /// Releases a prefix (channel closed). Returns false if it was not allocated.
    /// The counter becomes reusable after the next [`Self::on_new_prev_hash`].
    pub fn release(&mut self, id: PrefixId) -> bool {
        if self.live.remove(&id.0) {
            self.quarantined.push(id.0);
            true
        } else {
            false
        }
    }

    /// The chain tip changed: every job built before is stale, so prefixes released before now
    /// can be handed out again.
    pub fn on_new_prev_hash(&mut self) {
        self.reusable.extend(self.quarantined.drain(..));
    }

    fn next_counter(&mut self) -> Result<u64, ExtranonceError> {
        let id = if self.next_fresh < self.capacity {
            let id = self.next_fresh;
            self.next_fresh += 1;
            id
        } else {
            self.reusable
                .pop_front()
                .ok_or(ExtranonceError::Exhausted)?
        };
        self.live.insert(id);
        Ok(id)
    }

    fn encode(&self, id: u64, full: bool) -> Vec<u8> {
        let len = if full {
            self.total_len
        } else {
            self.fixed.len() + self.counter_len
        };
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&self.fixed);
        out.extend_from_slice(&id.to_be_bytes()[8 - self.counter_len..]);
        out.resize(len, 0);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_lengths() {
        let mut a = ExtranonceAllocator::for_pool(3, 1, 4, 8, 16).unwrap();
        assert_eq!(a.rollable_len(), 11);
        let e = a.allocate_extended(8).unwrap();
        assert_eq!(e.prefix, vec![3, 0, 0, 0, 0]);
        assert_eq!(e.total_len(), 16);
        let s = a.allocate_standard().unwrap();
        assert_eq!(s.prefix.len(), 16);
        assert_eq!(&s.prefix[..5], &[3, 0, 0, 0, 1]);
        assert!(s.prefix[5..].iter().all(|b| *b == 0));
        assert_eq!(s.rollable_len, 0);
        assert_eq!(
            a.allocate_extended(12),
            Err(ExtranonceError::NotEnoughRollable {
                requested: 12,
                available: 11
            })
        );
    }

    #[test]
    fn invalid_layouts() {
        assert!(ExtranonceAllocator::new(vec![], 0, 8).is_err());
        assert!(ExtranonceAllocator::new(vec![], 9, 16).is_err());
        assert!(ExtranonceAllocator::new(vec![0; 30], 4, 32).is_err());
        assert!(ExtranonceAllocator::new(vec![], 4, 33).is_err());
        assert!(ExtranonceAllocator::for_pool(256, 1, 4, 0, 16).is_err());
        assert!(ExtranonceAllocator::for_pool(1, 1, 4, 12, 16).is_err());
    }

    #[test]
    fn quarantine_until_new_prev_hash() {
        let mut a = ExtranonceAllocator::new(vec![], 1, 4).unwrap();
        let all: Vec<_> = (0..256).map(|_| a.allocate_extended(0).unwrap()).collect();
        assert_eq!(a.allocate_extended(0), Err(ExtranonceError::Exhausted));
        assert!(a.release(all[7].id));
        assert!(!a.release(all[7].id));
        assert_eq!(a.allocate_extended(0), Err(ExtranonceError::Exhausted));
        a.on_new_prev_hash();
        let again = a.allocate_standard().unwrap();
        assert_eq!(again.id, all[7].id);
        assert_eq!(a.live_count(), 256);
    }
}
