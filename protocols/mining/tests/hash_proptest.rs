//! Property tests: every fast path against naive SHA-256d and rust-bitcoin.

use bitcoin::consensus::deserialize;
use bitcoin::hashes::Hash as _;
use proptest::prelude::*;
use sv2_mining::hash::Backend;
use sv2_mining::header::BlockHeader;
use sv2_mining::merkle::{merkle_path_for_coinbase, merkle_root, merkle_root_from_path};
use sv2_mining::sha256d::sha256d;
use sv2_mining::share::{
    hash_extended_batch, ExtendedJobHasher, ExtendedShare, StandardJobHasher, StandardShare,
};
use sv2_mining::target::{hash_difficulty, Target};

fn backends() -> Vec<Backend> {
    let mut v = vec![Backend::portable()];
    v.extend(Backend::sha_ni());
    v
}

fn arb_header() -> impl Strategy<Value = BlockHeader> {
    (
        any::<u32>(),
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(version, prev_hash, merkle_root, ntime, nbits, nonce)| BlockHeader {
                version,
                prev_hash,
                merkle_root,
                ntime,
                nbits,
                nonce,
            },
        )
}

fn rust_bitcoin_hash(bytes: &[u8; 80]) -> [u8; 32] {
    let h: bitcoin::block::Header = deserialize(bytes).expect("80 bytes always decode");
    *AsRef::<[u8; 32]>::as_ref(&h.block_hash())
}

fn naive_extended(
    prefix: &[u8],
    en: &[u8],
    suffix: &[u8],
    path: &[[u8; 32]],
    header: &BlockHeader,
) -> [u8; 32] {
    let mut cb = prefix.to_vec();
    cb.extend_from_slice(en);
    cb.extend_from_slice(suffix);
    let root = merkle_root_from_path(&sha256d(&cb), path);
    let full = BlockHeader {
        merkle_root: root,
        ..*header
    };
    rust_bitcoin_hash(&full.to_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn header_hash_matches_rust_bitcoin(h in arb_header()) {
        let bytes = h.to_bytes();
        prop_assert_eq!(BlockHeader::from_bytes(&bytes), h);
        prop_assert_eq!(h.hash(), rust_bitcoin_hash(&bytes));
    }

    #[test]
    fn standard_hasher_matches_naive(
        h in arb_header(),
        shares in prop::collection::vec((0u32..4, any::<u32>(), any::<u32>()), 1..20),
    ) {
        for backend in backends() {
            let mut hasher = StandardJobHasher::new(h.prev_hash, h.merkle_root, h.nbits)
                .with_backend(backend);
            let batch: Vec<StandardShare> = shares
                .iter()
                .map(|(v, ntime, nonce)| StandardShare {
                    version: h.version ^ (v << 13),
                    ntime: *ntime,
                    nonce: *nonce,
                })
                .collect();
            let mut out = vec![[0u8; 32]; batch.len()];
            prop_assert_eq!(hasher.hash_batch(&batch, &mut out), batch.len());
            for (s, o) in batch.iter().zip(&out) {
                let full = BlockHeader { version: s.version, ntime: s.ntime, nonce: s.nonce, ..h };
                let expected = rust_bitcoin_hash(&full.to_bytes());
                prop_assert_eq!(*o, expected);
                prop_assert_eq!(hasher.hash(s.version, s.ntime, s.nonce), expected);
            }
        }
    }

    #[test]
    fn extended_hasher_matches_naive(
        h in arb_header(),
        prefix in prop::collection::vec(any::<u8>(), 0..200),
        suffix in prop::collection::vec(any::<u8>(), 0..300),
        path in prop::collection::vec(any::<[u8; 32]>(), 0..14),
        ens in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..33), 1..9),
    ) {
        for backend in backends() {
            let mut hasher =
                ExtendedJobHasher::new(&prefix, &suffix, &path, h.prev_hash, h.nbits)
                    .with_backend(backend);
            let shares: Vec<ExtendedShare> = ens
                .iter()
                .enumerate()
                .map(|(i, en)| ExtendedShare {
                    extranonce: en,
                    version: h.version,
                    ntime: h.ntime.wrapping_add(i as u32),
                    nonce: h.nonce ^ i as u32,
                })
                .collect();
            let mut out = vec![[0u8; 32]; shares.len()];
            prop_assert_eq!(hasher.hash_batch(&shares, &mut out), shares.len());
            for (s, o) in shares.iter().zip(&out) {
                let hdr = BlockHeader { ntime: s.ntime, nonce: s.nonce, ..h };
                let expected = naive_extended(&prefix, s.extranonce, &suffix, &path, &hdr);
                prop_assert_eq!(*o, expected);
                prop_assert_eq!(hasher.hash(s.extranonce, s.version, s.ntime, s.nonce), expected);
            }
        }
    }

    #[test]
    fn cross_job_batch_matches_single(
        prefixes in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..150), 1..4),
        depths in prop::collection::vec(0usize..6, 1..4),
        picks in prop::collection::vec((any::<prop::sample::Index>(), 0usize..3), 1..12),
    ) {
        let jobs: Vec<ExtendedJobHasher> = prefixes
            .iter()
            .zip(depths.iter().cycle())
            .map(|(p, d)| {
                let path: Vec<[u8; 32]> = (0..*d).map(|i| [i as u8; 32]).collect();
                ExtendedJobHasher::new(p, &[0x51; 90], &path, [1; 32], 0x1d00_ffff)
            })
            .collect();
        let ens: [&[u8]; 3] = [&[1, 2, 3, 4], &[5; 8], &[]];
        let items: Vec<(&ExtendedJobHasher, ExtendedShare)> = picks
            .iter()
            .enumerate()
            .map(|(i, (job, en))| {
                (
                    job.get(&jobs),
                    ExtendedShare { extranonce: ens[*en], version: 0x2000_0000, ntime: 7, nonce: i as u32 },
                )
            })
            .collect();
        let mut out = vec![[0u8; 32]; items.len()];
        prop_assert_eq!(hash_extended_batch(&items, &mut out), items.len());
        for ((job, s), o) in items.iter().zip(&out) {
            prop_assert_eq!(*o, job.hash_share(s));
        }
    }

    #[test]
    fn merkle_path_folds_to_root(leaves in prop::collection::vec(any::<[u8; 32]>(), 1..70)) {
        let path = merkle_path_for_coinbase(&leaves[1..]);
        prop_assert_eq!(merkle_root_from_path(&leaves[0], &path), merkle_root(&leaves));
        // rust-bitcoin's merkle implementation agrees.
        let theirs = bitcoin::merkle_tree::calculate_root(
            leaves.iter().map(|l| bitcoin::TxMerkleNode::from_byte_array(*l)),
        )
        .expect("non-empty");
        prop_assert_eq!(*AsRef::<[u8; 32]>::as_ref(&theirs), merkle_root(&leaves));
    }

    #[test]
    fn compact_round_trips_like_rust_bitcoin(
        bits in prop_oneof![
            any::<u32>(),
            (0u32..=34, 0u32..0x0100_0000).prop_map(|(e, m)| (e << 24) | m),
        ],
    ) {
        match Target::from_compact(bits) {
            Some(ours) if ours != Target::ZERO => {
                let theirs =
                    bitcoin::pow::Target::from_compact(bitcoin::CompactTarget::from_consensus(bits));
                prop_assert_eq!(ours.to_le_bytes(), theirs.to_le_bytes());
                prop_assert_eq!(ours.to_compact(), theirs.to_compact_lossy().to_consensus());
                prop_assert_eq!(Target::from_compact(ours.to_compact()), Some(ours));
            }
            Some(_) => {
                // Zero: an empty mantissa (Core drops bytes shifted out of a
                // small exponent before looking at the sign bit).
                let exponent = bits >> 24;
                let mut mantissa = bits & 0x007f_ffff;
                if exponent <= 3 {
                    mantissa >>= 8 * (3 - exponent);
                }
                prop_assert_eq!(mantissa, 0);
                prop_assert_eq!(Target::ZERO.to_compact(), 0);
            }
            None => {
                // Rejected encodings are negative or overflow 256 bits.
                let exponent = bits >> 24;
                let negative = bits & 0x0080_0000 != 0;
                prop_assert!(negative || exponent > 32, "{:#x}", bits);
            }
        }
    }

    #[test]
    fn target_order_and_is_met_by(a in any::<[u8; 32]>(), b in any::<[u8; 32]>()) {
        let (ta, tb) = (Target::from_le_bytes(a), Target::from_le_bytes(b));
        let ba = bitcoin::pow::Target::from_le_bytes(a);
        let bb = bitcoin::pow::Target::from_le_bytes(b);
        prop_assert_eq!(ta.cmp(&tb), ba.cmp(&bb));
        prop_assert_eq!(tb.is_met_by(&a), ba <= bb);
        prop_assert_eq!(Target::from_be_bytes(ta.to_be_bytes()), ta);
    }

    #[test]
    fn difficulty_round_trips(diff in 1e-6f64..1e15) {
        let t = Target::from_difficulty(diff);
        let back = t.difficulty();
        prop_assert!(((back - diff) / diff).abs() < 1e-9, "{} -> {}", diff, back);
        prop_assert!((hash_difficulty(&t.to_le_bytes()) - back).abs() <= back * 1e-15);
    }

    #[test]
    fn integer_difficulty_targets(diff in 1u64..u64::MAX) {
        let t = Target::from_difficulty(diff as f64);
        let back = t.difficulty();
        prop_assert!(((back - diff as f64) / diff as f64).abs() < 1e-12, "{} -> {}", diff, back);
        prop_assert!(t <= Target::DIFF1);
        prop_assert!(t > Target::ZERO);
    }
}
