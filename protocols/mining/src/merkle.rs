//! Bitcoin transaction merkle trees: full roots, the coinbase branch a pool
//! sends in jobs, and folding that branch back into a root.
//!
//! All hashes are in Bitcoin's internal byte order. Odd levels duplicate
//! their last node, as Bitcoin does.

use crate::sha256d::{compress, state_to_bytes, Block, IV, PAD_AFTER_64, SECOND_HASH_TEMPLATE};

/// SHA-256d of the 64-byte concatenation `left || right` (one merkle node),
/// in exactly three compressions.
#[inline]
pub fn hash_pair(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut block: Block = [0u8; 64];
    block[..32].copy_from_slice(left);
    block[32..].copy_from_slice(right);
    let mut state = IV;
    compress(&mut state, &block);
    compress(&mut state, &PAD_AFTER_64);
    let mut second = SECOND_HASH_TEMPLATE;
    second[..32].copy_from_slice(&state_to_bytes(&state));
    let mut out = IV;
    compress(&mut out, &second);
    state_to_bytes(&out)
}

/// Merkle branch for the coinbase (index 0) given every other txid in block
/// order: the sibling hashes from the leaf level up to the root's children.
/// Empty when the coinbase is the only transaction.
pub fn merkle_path_for_coinbase(txids_without_coinbase: &[[u8; 32]]) -> Vec<[u8; 32]> {
    let mut path = Vec::new();
    // `level` holds the nodes to the right of the coinbase's ancestor.
    let mut level: Vec<[u8; 32]> = txids_without_coinbase.to_vec();
    while let Some((first, rest)) = level.split_first() {
        path.push(*first);
        let mut next = Vec::with_capacity(rest.len().div_ceil(2));
        for pair in rest.chunks(2) {
            match pair {
                [a, b] => next.push(hash_pair(a, b)),
                [a] => next.push(hash_pair(a, a)),
                _ => {}
            }
        }
        level = next;
    }
    path
}

/// Folds a coinbase branch (from [`merkle_path_for_coinbase`]) into the root.
pub fn merkle_root_from_path(coinbase_txid: &[u8; 32], path: &[[u8; 32]]) -> [u8; 32] {
    path.iter()
        .fold(*coinbase_txid, |node, sibling| hash_pair(&node, sibling))
}

/// Merkle root of a full txid list (coinbase first). The root of a single
/// transaction is its txid; an empty list gives all zeros.
pub fn merkle_root(txids: &[[u8; 32]]) -> [u8; 32] {
    match txids {
        [] => [0u8; 32],
        [only] => *only,
        [_, ..] => {
            let mut level: Vec<[u8; 32]> = txids.to_vec();
            while level.len() > 1 {
                let mut next = Vec::with_capacity(level.len().div_ceil(2));
                for pair in level.chunks(2) {
                    match pair {
                        [a, b] => next.push(hash_pair(a, b)),
                        [a] => next.push(hash_pair(a, a)),
                        _ => {}
                    }
                }
                level = next;
            }
            level.first().copied().unwrap_or([0u8; 32])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sha256d::sha256d;

    fn leaf(i: u32) -> [u8; 32] {
        sha256d(&i.to_le_bytes())
    }

    #[test]
    fn hash_pair_is_sha256d_of_concat() {
        let (a, b) = (leaf(1), leaf(2));
        let mut cat = [0u8; 64];
        cat[..32].copy_from_slice(&a);
        cat[32..].copy_from_slice(&b);
        assert_eq!(hash_pair(&a, &b), sha256d(&cat));
    }

    #[test]
    fn small_trees() {
        assert_eq!(merkle_root(&[]), [0u8; 32]);
        assert_eq!(merkle_root(&[leaf(0)]), leaf(0));
        assert_eq!(
            merkle_root(&[leaf(0), leaf(1)]),
            hash_pair(&leaf(0), &leaf(1))
        );
        let three = merkle_root(&[leaf(0), leaf(1), leaf(2)]);
        let expected = hash_pair(
            &hash_pair(&leaf(0), &leaf(1)),
            &hash_pair(&leaf(2), &leaf(2)),
        );
        assert_eq!(three, expected);
        assert!(merkle_path_for_coinbase(&[]).is_empty());
    }

    #[test]
    fn path_folds_back_to_root_for_all_sizes() {
        for n in 1..=40u32 {
            let txids: Vec<[u8; 32]> = (0..n).map(leaf).collect();
            let path = merkle_path_for_coinbase(&txids[1..]);
            let expected_depth = if n == 1 {
                0
            } else {
                (n as f64).log2().ceil() as usize
            };
            assert_eq!(path.len(), expected_depth, "depth for {n} txs");
            assert_eq!(
                merkle_root_from_path(&txids[0], &path),
                merkle_root(&txids),
                "root for {n} txs"
            );
        }
    }
}
