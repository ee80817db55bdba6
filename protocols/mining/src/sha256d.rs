//! SHA-256 / SHA-256d and the single-block compression helpers the share
//! hashers are built from.
//!
//! A SHA-256 "state" is the eight 32-bit chaining words. Feeding whole
//! 64-byte blocks to [`compress`] starting from [`IV`] and then the padding
//! block(s) yields the digest; [`state_to_bytes`] turns the final state into
//! the 32 digest bytes. Caching the state after a fixed message prefix (a
//! "midstate") lets the share hashers skip that prefix on every share.

use sha2::digest::generic_array::GenericArray;
use sha2::{Digest, Sha256};

/// The SHA-256 chaining state (eight big-endian words).
pub type State = [u32; 8];

/// One 64-byte SHA-256 message block.
pub type Block = [u8; 64];

/// SHA-256 initial state (FIPS 180-4, 5.3.3).
pub const IV: State = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// The padding block that follows a message of exactly 64 bytes
/// (a merkle-node pair): `0x80`, zeros, bit length 512.
pub const PAD_AFTER_64: Block = {
    let mut b = [0u8; 64];
    b[0] = 0x80;
    b[62] = 0x02; // 512 = 0x0200
    b
};

/// Template for hashing a 32-byte digest again (the second SHA-256 of
/// SHA-256d): bytes 0..32 are the digest, then `0x80`, zeros, bit length 256.
pub const SECOND_HASH_TEMPLATE: Block = {
    let mut b = [0u8; 64];
    b[32] = 0x80;
    b[62] = 0x01; // 256 = 0x0100
    b
};

/// SHA-256d (double SHA-256) of `data`, bytes in Bitcoin's internal order.
pub fn sha256d(data: &[u8]) -> [u8; 32] {
    let first = Sha256::digest(data);
    Sha256::digest(first).into()
}

/// Single SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Applies one SHA-256 compression of `block` to `state` (portable entry:
/// `sha2::compress256`, which itself picks SHA-NI at run time when present).
#[inline]
pub fn compress(state: &mut State, block: &Block) {
    sha2::compress256(
        state,
        core::slice::from_ref(GenericArray::from_slice(block)),
    );
}

/// Serializes a state as the 32 digest bytes (big-endian words).
#[inline]
pub fn state_to_bytes(state: &State) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state.iter()) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// State after compressing every whole 64-byte block of `data` from [`IV`],
/// plus the number of bytes consumed (a multiple of 64).
pub fn midstate(data: &[u8]) -> (State, usize) {
    let mut state = IV;
    let mut chunks = data.chunks_exact(64);
    for chunk in chunks.by_ref() {
        let mut block = [0u8; 64];
        block.copy_from_slice(chunk);
        compress(&mut state, &block);
    }
    (state, data.len() - chunks.remainder().len())
}

/// Number of compressions SHA-256 needs for a `len`-byte message
/// (message + `0x80` + 8-byte length, rounded up to 64).
pub const fn blocks_for_len(len: usize) -> usize {
    (len + 9).div_ceil(64)
}

/// Second hash of SHA-256d from the first hash's final state, using the
/// caller's preformatted block (only bytes 0..32 are written).
#[inline]
pub fn second_hash(first: &State, scratch: &mut Block) -> [u8; 32] {
    scratch[..32].copy_from_slice(&state_to_bytes(first));
    let mut state = IV;
    compress(&mut state, scratch);
    state_to_bytes(&state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn known_answers() {
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // sha256d("hello"), a widely quoted value.
        assert_eq!(
            hex(&sha256d(b"hello")),
            "9595c9df90075148eb06860365df33584b75bff782a510c6cd4883a419833d50"
        );
    }

    #[test]
    fn manual_padding_matches_library() {
        for len in [0usize, 1, 55, 56, 63, 64, 65, 119, 120, 200] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let (mut state, used) = midstate(&data);
            let mut tail = data[used..].to_vec();
            tail.push(0x80);
            while tail.len() % 64 != 56 {
                tail.push(0);
            }
            tail.extend_from_slice(&((len as u64) * 8).to_be_bytes());
            assert_eq!(
                (used + tail.len()) / 64,
                blocks_for_len(len),
                "block count for {len}"
            );
            for chunk in tail.chunks_exact(64) {
                let mut b = [0u8; 64];
                b.copy_from_slice(chunk);
                compress(&mut state, &b);
            }
            assert_eq!(state_to_bytes(&state), sha256(&data));
            let mut scratch = SECOND_HASH_TEMPLATE;
            assert_eq!(second_hash(&state, &mut scratch), sha256d(&data));
        }
    }

    #[test]
    fn pad_after_64_is_standard_padding() {
        let data = [0x5au8; 64];
        let mut state = IV;
        compress(&mut state, &data);
        compress(&mut state, &PAD_AFTER_64);
        assert_eq!(state_to_bytes(&state), sha256(&data));
    }
}
