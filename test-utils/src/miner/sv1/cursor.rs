//! The load mode's share search: a cursor through a connection's search space that hashes a
//! small slice of nonces at a time and keeps every share the slice held, so that at a low
//! share target a share costs about one hash and a unit's merkle root is computed once for
//! thousands of shares.
//!
//! The cursor survives job changes: its unit counter never goes back, so a job sent again
//! (same header template under the same or a new job id) never makes the connection hash, and
//! submit, a header twice.

use std::collections::VecDeque;

use sv2_mining::share::StandardJobHasher;
use sv2_mining::target::Target;

use crate::miner::work::{hash_range, unit_hasher, Found, JobTemplate, SearchSpace, Unit};

/// Nonces hashed per slice (times the version lanes of the unit).
pub(crate) const SEARCH_SLICE: u64 = 16;

/// The unit being searched.
struct Open {
    unit: Unit,
    hasher: StandardJobHasher,
    /// Nonces of the unit already hashed.
    offset: u64,
}

/// A share to submit: its header fields and the extranonce2 it was hashed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Share {
    /// Header fields and hash.
    pub(crate) found: Found,
    /// Hashes spent to get it (0 when it came from an earlier slice).
    pub(crate) hashes: u64,
}

/// Search position of one connection; see the module docs.
#[derive(Default)]
pub(crate) struct Cursor {
    next_unit: u64,
    open: Option<Open>,
    found: VecDeque<Found>,
    scratch: Vec<Found>,
}

impl Cursor {
    /// The index of the next unit to open.
    pub(crate) fn next_unit(&self) -> u64 {
        self.next_unit
    }

    /// Continues at unit `index` (after a search elsewhere); shares kept are dropped.
    pub(crate) fn skip_to(&mut self, index: u64) {
        self.next_unit = self.next_unit.max(index);
        self.open = None;
        self.found.clear();
    }

    /// The job changed: shares kept (for the old header template) are dropped, the unit
    /// counter goes on.
    pub(crate) fn new_job(&mut self) {
        self.open = None;
        self.found.clear();
    }

    /// Extranonce2 of the shares returned by [`Cursor::next_share`] (the open unit's).
    pub(crate) fn extranonce2(&self) -> &[u8] {
        self.open.as_ref().map_or(&[], |o| &o.unit.extranonce)
    }

    /// The next share meeting `target`, hashing at most `budget` hashes for it; past the
    /// budget, the next header unchecked (it may be below the target). `None` when the
    /// search space has no unit at all.
    pub(crate) fn next_share(
        &mut self,
        template: &JobTemplate,
        space: &SearchSpace,
        target: &Target,
        budget: u64,
    ) -> Option<Share> {
        let mut spent = 0u64;
        loop {
            while let Some(f) = self.found.pop_front() {
                if target.is_met_by(&f.hash) {
                    return Some(Share {
                        found: f,
                        hashes: spent,
                    });
                }
            }
            if self
                .open
                .as_ref()
                .is_none_or(|o| o.offset >= o.unit.nonce_count)
            {
                let unit = match space.unit(template, self.next_unit) {
                    Some(u) => u,
                    None => {
                        // The space is exhausted (or shrank): start over.
                        self.next_unit = 0;
                        space.unit(template, 0)?
                    }
                };
                self.next_unit += 1;
                let hasher = unit_hasher(template, &unit);
                self.open = Some(Open {
                    unit,
                    hasher,
                    offset: 0,
                });
            }
            let o = self.open.as_mut()?;
            if spent >= budget {
                let version = *o.unit.versions.first()?;
                let nonce = o.unit.nonce_start.wrapping_add(o.offset as u32);
                let hash = template
                    .header(&o.unit.extranonce, version, o.unit.ntime, nonce)
                    .hash();
                o.offset += 1;
                return Some(Share {
                    found: Found {
                        version,
                        ntime: o.unit.ntime,
                        nonce,
                        hash,
                    },
                    hashes: spent,
                });
            }
            let lanes = o.unit.versions.len().max(1) as u64;
            let n = SEARCH_SLICE
                .min(o.unit.nonce_count - o.offset)
                .min((budget - spent).div_ceil(lanes));
            spent += hash_range(
                &mut o.hasher,
                &o.unit,
                o.offset,
                n,
                target,
                &mut self.scratch,
            );
            o.offset += n;
            self.found.extend(self.scratch.drain(..));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::miner::sv1::VERSION_ROLLING_MASK;
    use crate::miner::work::MerkleSource;
    use std::collections::HashSet;

    fn template(ntime: u32) -> JobTemplate {
        JobTemplate {
            version: 0x2000_0000,
            prev_hash: [1; 32],
            nbits: 0x1d00_ffff,
            ntime,
            merkle: MerkleSource::Coinbase {
                prefix: vec![1, 2, 3],
                suffix: vec![4],
                path: vec![[5; 32]],
                extranonce_len: 4,
            },
            version_mask: VERSION_ROLLING_MASK,
        }
    }

    #[test]
    fn easy_targets_cost_about_one_hash_per_share_and_never_repeat() {
        let t = template(1000);
        let space = SearchSpace::new(&t, 6);
        // Three hashes in four are shares.
        let easy = Target::from_difficulty(1.0 / (1u64 << 32) as f64 * 1.33);
        let mut c = Cursor::default();
        let mut seen = HashSet::new();
        let mut hashes = 0;
        for _ in 0..2000 {
            let s = c.next_share(&t, &space, &easy, 1 << 16).unwrap();
            assert!(easy.is_met_by(&s.found.hash));
            let h = t.header(
                c.extranonce2(),
                s.found.version,
                s.found.ntime,
                s.found.nonce,
            );
            assert_eq!(h.hash(), s.found.hash, "extranonce2 is the share's");
            assert!(seen.insert(s.found.hash), "no header twice");
            hashes += s.hashes;
        }
        assert!(hashes < 2000 * 2, "{hashes} hashes for 2000 shares");
        // The same job again (or a new id for the same template): the search goes on.
        c.new_job();
        for _ in 0..500 {
            let s = c.next_share(&t, &space, &easy, 1 << 16).unwrap();
            assert!(
                seen.insert(s.found.hash),
                "no header twice after a repeated job"
            );
        }
    }

    #[test]
    fn hard_targets_fall_back_to_unchecked_headers_after_the_budget() {
        let t = template(1000);
        let space = SearchSpace::new(&t, 12);
        let hard = Target::from_difficulty(1.0);
        let mut c = Cursor::default();
        let s = c.next_share(&t, &space, &hard, 64).unwrap();
        assert!(!hard.is_met_by(&s.found.hash));
        assert_eq!(s.hashes, 64);
        c.skip_to(7);
        let s = c.next_share(&t, &space, &hard, 0).unwrap();
        assert_eq!(c.extranonce2(), &[0, 0, 0, 7]);
        assert_eq!(s.hashes, 0);
        assert_eq!(c.next_unit(), 8);
    }
}
