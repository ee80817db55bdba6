//! Extranonce allocation: no collisions across channels, node ids and translator downstreams.

use proptest::prelude::*;
use std::collections::{HashMap, HashSet};
use sv2_mining::extranonce::{AllocatedPrefix, ExtranonceAllocator, ExtranonceError, PrefixId};

/// Two prefixes overlap when one is a prefix of the other: their search spaces intersect.
fn overlap(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

fn assert_disjoint(prefixes: &[Vec<u8>]) {
    for (i, a) in prefixes.iter().enumerate() {
        for b in &prefixes[i + 1..] {
            assert!(!overlap(a, b), "{a:02x?} overlaps {b:02x?}");
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Extended,
    Standard,
    Release(usize),
    NewPrevHash,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Extended),
        2 => Just(Op::Standard),
        3 => any::<usize>().prop_map(Op::Release),
        1 => Just(Op::NewPrevHash),
    ]
}

proptest! {
    /// Random allocate/release/prev-hash sequences on a tiny counter space: live prefixes never
    /// overlap, and a released counter is never handed out again before a prev hash change.
    #[test]
    fn live_prefixes_never_collide(ops in proptest::collection::vec(op(), 1..400),
                                   node in 0u64..4) {
        let mut alloc = ExtranonceAllocator::for_pool(node, 1, 1, 2, 8).unwrap();
        let mut live: HashMap<PrefixId, AllocatedPrefix> = HashMap::new();
        let mut released_this_epoch: HashSet<PrefixId> = HashSet::new();
        for op in ops {
            match op {
                Op::Extended | Op::Standard => {
                    let r = if matches!(op, Op::Extended) {
                        alloc.allocate_extended(2)
                    } else {
                        alloc.allocate_standard()
                    };
                    match r {
                        Ok(p) => {
                            prop_assert_eq!(p.total_len(), 8);
                            prop_assert_eq!(p.prefix[0], node as u8);
                            prop_assert!(!released_this_epoch.contains(&p.id),
                                "counter reused before prev hash change");
                            prop_assert!(live.insert(p.id, p).is_none());
                        }
                        Err(ExtranonceError::Exhausted) => {
                            prop_assert!(live.len() + released_this_epoch.len() >= 256);
                        }
                        Err(e) => prop_assert!(false, "unexpected error {e}"),
                    }
                }
                Op::Release(i) => {
                    if !live.is_empty() {
                        let mut ids: Vec<PrefixId> = live.keys().copied().collect();
                        ids.sort();
                        let id = ids[i % ids.len()];
                        live.remove(&id);
                        prop_assert!(alloc.release(id));
                        prop_assert!(!alloc.release(id));
                        released_this_epoch.insert(id);
                    }
                }
                Op::NewPrevHash => {
                    alloc.on_new_prev_hash();
                    released_this_epoch.clear();
                }
            }
            prop_assert_eq!(alloc.live_count(), live.len());
            let prefixes: Vec<Vec<u8>> = live.values().map(|p| p.prefix.clone()).collect();
            for (i, a) in prefixes.iter().enumerate() {
                for b in &prefixes[i + 1..] {
                    prop_assert!(!overlap(a, b));
                }
            }
        }
    }

    /// Pool -> several translators -> SV1 downstreams, each translator subdividing the extended
    /// prefix it received: every miner's full prefix is disjoint from every other.
    #[test]
    fn nested_subdivision_is_disjoint(translators in 1usize..6,
                                      miners in proptest::collection::vec(1usize..40, 1..6),
                                      standard in 0usize..5,
                                      node in 0u64..=255) {
        let mut pool = ExtranonceAllocator::for_pool(node, 1, 2, 6, 16).unwrap();
        let mut all: Vec<Vec<u8>> = Vec::new();
        for _ in 0..standard {
            all.push(pool.allocate_standard().unwrap().prefix);
        }
        for t in 0..translators {
            let upstream = pool.allocate_extended(6).unwrap();
            prop_assert_eq!(upstream.rollable_len, 13);
            let mut sub =
                ExtranonceAllocator::subdivide(&upstream.prefix, upstream.rollable_len, 2).unwrap();
            prop_assert_eq!(sub.total_len(), 16);
            for _ in 0..miners[t % miners.len()] {
                let m = sub.allocate_extended(4).unwrap();
                prop_assert!(m.prefix.starts_with(&upstream.prefix));
                prop_assert_eq!(m.rollable_len, 11);
                prop_assert_eq!(m.total_len(), 16);
                all.push(m.prefix);
            }
        }
        assert_disjoint(&all);
    }
}

#[test]
fn multi_node_pools_never_overlap() {
    let mut prefixes = Vec::new();
    for node in 0..4u64 {
        let mut a = ExtranonceAllocator::for_pool(node, 2, 4, 8, 32).unwrap();
        for _ in 0..50 {
            prefixes.push(a.allocate_extended(8).unwrap().prefix);
            prefixes.push(a.allocate_standard().unwrap().prefix);
        }
    }
    assert_disjoint(&prefixes);
}

#[test]
fn translator_reuses_downstream_slots_only_after_prev_hash() {
    let upstream = [7u8, 0, 0, 1];
    let mut sub = ExtranonceAllocator::subdivide(&upstream, 4, 1).unwrap();
    let first = sub.allocate_extended(3).unwrap();
    assert_eq!(first.prefix, vec![7, 0, 0, 1, 0]);
    sub.release(first.id);
    for _ in 0..255 {
        let p = sub.allocate_extended(3).unwrap();
        assert_ne!(p.id, first.id);
    }
    assert_eq!(sub.allocate_extended(3), Err(ExtranonceError::Exhausted));
    sub.on_new_prev_hash();
    let again = sub.allocate_extended(3).unwrap();
    assert_eq!(again.prefix, first.prefix);
    assert_eq!(
        sub.allocate_extended(4),
        Err(ExtranonceError::NotEnoughRollable {
            requested: 4,
            available: 3
        })
    );
}
