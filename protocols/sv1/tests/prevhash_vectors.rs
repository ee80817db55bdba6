//! Byte-order test vectors from real blocks.
//!
//! The prevhash word swap is easy to get subtly wrong, so these tests check
//! it the only way that cannot be fooled: by rebuilding a real block header
//! from stratum messages and hashing it to the block's real hash.

use sha2::{Digest, Sha256};
use sv1::encoding::parse_hex_array;
use sv1::{
    parse_client_line, parse_server_line, ClientMethod, Notification, PrevHash, ResponseResult,
    ServerMessage,
};

fn sha256d(data: &[u8]) -> [u8; 32] {
    Sha256::digest(Sha256::digest(data)).into()
}

fn notify(line: &str) -> sv1::Notify {
    match parse_server_line(line).unwrap() {
        ServerMessage::Notification(Notification::Notify(n)) => n,
        m => panic!("{m:?}"),
    }
}

/// Big-endian 256-bit target from compact `nbits`.
fn target_from_nbits(nbits: u32) -> [u8; 32] {
    let exponent = (nbits >> 24) as usize;
    let mantissa = (nbits & 0x00ff_ffff).to_be_bytes();
    let mut t = [0u8; 32];
    // The mantissa's three bytes end at byte `exponent` counted from the least significant end.
    for (i, b) in mantissa[1..].iter().enumerate() {
        let pos = 32 + i;
        if let Some(slot) = pos.checked_sub(exponent).and_then(|p| t.get_mut(p)) {
            *slot = *b;
        }
    }
    t
}

/// Block 881,423 (mined 2025-01-30 by the 256 Foundation's pool). The notify is the job
/// as the pool would have sent it: coinbase (non-witness serialization) split around a
/// 4-byte extranonce1 `04830cee` and the winning 4-byte extranonce2 `220cf1ad`.
const SUBSCRIBE_881423: &str = r#"{"id":1,"result":[[["mining.set_difficulty","1"],["mining.notify","1"]],"04830cee",4],"error":null}"#;
const NOTIFY_881423: &str = r#"{"id":null,"method":"mining.notify","params":["6a4","8a6ac9e3fe15ca70f8995e21434cb64ac4d2b5e10001543b0000000000000000","01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff3d030f730d000469c19a67","9a67b6600000000000000a41706f6c6c6f192f6d696e65642062792032353620466f756e646174696f6e2fffffffff0275aac01200000000160014c64b1b9283ba1ea86bb9e7b696b0c8f68dad04000000000000000000266a24aa21a9edb395560ab72068c2afb1d7e6c7db26b813482089d2c4d2471b9036c5e826140600000000",["4282357ab0a2f4e8e562c8c5eae1d63b559068f9072374b72e26b88ac841908f","c2bbae90d06f8025ade3516ca2e42d79318b6e56fccb9609df85a654a8341068","cbb30084acbcb5ce6d5436e853bc612466df0c00702be6f51d47072f1a5d0480","bb092e533f70b79246fc9e4bdc9b81ac8332e56f2651e3b237a150d6d807b081","0d32959988733447cb340326a1fe4d3c2cff5d636e32a4e08c3fc5a234f6f6bc","8ba3477940924a90067cff3dd30bc46916cf4c2f73fb6229b8f8197b83b6ddb9","3fe97cc5dec1cddd66c9d3780888c145c12418590cd983c4871b1bf03fabbf9e","bd1c6a3bcd0ebaa0eca54d9c802540f312c7705435601d776b4f59bb52cff67d","8638c10190b8f4f558bafdbb57f46226c349a83f229f431143ae75e425fb5cbd","6d6f4eae41cccb21a7c97ac496d9f89b8a4f772389b76f7691519dda38264221","82dad7a1e2613af0e61f77f03d6208c83e72f917dade4235cc35e37ee3ad6e3f"],"20000000","17029a8a","679ac169",true]}"#;
const SUBMIT_881423: &str = r#"{"params": ["foundation.telehash", "6a4", "220cf1ad", "679ac169", "ff05fb02", "0e596000"], "id": 4183, "method": "mining.submit"}"#;
/// The hash of block 881,422, as block explorers show it.
const PREV_881423_DISPLAY: &str =
    "00000000000000000001543bc4d2b5e1434cb64af8995e21fe15ca708a6ac9e3";
const HASH_881423_DISPLAY: &str =
    "0000000000000000000269d52c24ea451225613aab095d90d771d4e29aa96cdd";

#[test]
fn block_881423_header_rebuilt_from_stratum_messages() {
    let ServerMessage::Response(sub) = parse_server_line(SUBSCRIBE_881423).unwrap() else {
        panic!()
    };
    let ResponseResult::Subscribe(sub) = sub.result else {
        panic!()
    };
    let job = notify(NOTIFY_881423);
    let ClientMethod::Submit(share) = parse_client_line(SUBMIT_881423).unwrap().method else {
        panic!()
    };
    assert_eq!(share.job_id, job.job_id);
    assert_eq!(share.extranonce2.len(), sub.extranonce2_size);

    // The prev hash decodes to block 881,422's real hash.
    assert_eq!(
        job.prev_hash,
        PrevHash::from_display_hex(PREV_881423_DISPLAY).unwrap()
    );
    assert_eq!(job.prev_hash.to_display_hex(), PREV_881423_DISPLAY);

    // Coinbase -> txid -> merkle root.
    let mut coinbase = job.coinb1.clone();
    coinbase.extend_from_slice(&sub.extranonce1);
    coinbase.extend_from_slice(&share.extranonce2);
    coinbase.extend_from_slice(&job.coinb2);
    let mut root = sha256d(&coinbase);
    for branch in &job.merkle_branch {
        let mut pair = [0u8; 64];
        pair[..32].copy_from_slice(&root);
        pair[32..].copy_from_slice(branch);
        root = sha256d(&pair);
    }

    // Version rolling per BIP 310 with the usual mask.
    let mask = 0x1fff_e000u32;
    let version = (job.version & !mask) | (share.version_bits.unwrap() & mask);
    assert_eq!(version, 0x2e59_6000);

    let mut header = Vec::with_capacity(80);
    header.extend_from_slice(&version.to_le_bytes());
    header.extend_from_slice(&job.prev_hash.to_header_bytes());
    header.extend_from_slice(&root);
    header.extend_from_slice(&share.ntime.to_le_bytes());
    header.extend_from_slice(&job.nbits.to_le_bytes());
    header.extend_from_slice(&share.nonce.to_le_bytes());
    let mut hash = sha256d(&header);
    hash.reverse();
    assert_eq!(hex::encode(hash), HASH_881423_DISPLAY);
}

/// A notify captured from solo.ckpool.org for height 840,361: its prev hash
/// must decode to a hash that meets the (unchanged) network target, which
/// only the word-swapped interpretation does.
#[test]
fn ckpool_notify_prev_hash_meets_target() {
    let line = r#"{"params":["64851638000ea04d","6a2be50e9bfb43f4973d1b2a84fc5fa27a11730b000209b00000000000000000","01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff3503a9d20c0004b8852666047a773e130c","0a636b706f6f6c112f736f6c6f2e636b706f6f6c2e6f72672fffffffff03c432eb1b000000001976a914c987a18977a2139835193b3df2eea097f834966888ac76dc91000000000016001451ed61d2f6aa260cc72cdf743e4e436a82c010270000000000000000266a24aa21a9ed5c2c1c347c20b2c0818daeda78f4d407f55b405e5652265bbc0b5ab948c615cb00000000",[],"20000000","17034219","662685b8",true],"id":null,"method":"mining.notify"}"#;
    let job = notify(line);
    // BIP 34 height push in coinb1: 03 a9d20c -> 840,361.
    let height_push = &job.coinb1[42..46];
    assert_eq!(height_push[0], 3);
    let height = u32::from_le_bytes([height_push[1], height_push[2], height_push[3], 0]);
    assert_eq!(height, 840_361);

    let display = job.prev_hash.to_display_hex();
    assert_eq!(
        display,
        "0000000000000000000209b07a11730b84fc5fa2973d1b2a9bfb43f46a2be50e"
    );
    let prev_be: [u8; 32] = parse_hex_array(&display).unwrap();
    let target = target_from_nbits(job.nbits);
    assert!(prev_be <= target, "prev hash above target");

    // Reading the stratum bytes as a plain reversed hash would not meet it.
    let mut naive =
        parse_hex_array::<32>("6a2be50e9bfb43f4973d1b2a84fc5fa27a11730b000209b00000000000000000")
            .unwrap();
    naive.reverse();
    assert!(naive > target);
}

#[test]
fn target_helper_matches_known_value() {
    // Difficulty-1 target.
    assert_eq!(
        hex::encode(target_from_nbits(0x1d00ffff)),
        "00000000ffff0000000000000000000000000000000000000000000000000000"
    );
}
