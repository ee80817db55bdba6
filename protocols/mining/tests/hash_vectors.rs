//! Real mainnet blocks as known-answer vectors for the hash core: headers,
//! compact targets, merkle trees, and both share hashers on every backend.

use bitcoin::consensus::{deserialize, serialize};
use sv2_mining::hash::Backend;
use sv2_mining::header::{version_rolling_ok, BlockHeader, BIP320_VERSION_MASK};
use sv2_mining::merkle::{merkle_path_for_coinbase, merkle_root, merkle_root_from_path};
use sv2_mining::sha256d::sha256d;
use sv2_mining::share::{ExtendedJobHasher, StandardJobHasher};
use sv2_mining::target::Target;

/// (height, 80-byte header hex, block hash as displayed by explorers).
const HEADERS: &[(u32, &str, &str)] = &[
    (
        0,
        "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c",
        "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
    ),
    (
        1,
        "010000006fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000982051fd1e4ba744bbbe680e1fee14677ba1a3c3540bf7b1cdb606e857233e0e61bc6649ffff001d01e36299",
        "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048",
    ),
    (
        170,
        "0100000055bd840a78798ad0da853f68974f3d183e2bd1db6a842c1feecf222a00000000ff104ccb05421ab93e63f8c3ce5c2c2e9dbb37de2764b3a3175c8166562cac7d51b96a49ffff001d283e9e70",
        "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee",
    ),
    (
        125_552,
        "0100000081cd02ab7e569e8bcd9317e2fe99f2de44d49ab2b8851ba4a308000000000000e320b6c2fffc8d750423db8b1eb942ae710e951ed797f7affc8892b0f1fc122bc7f5d74df2b9441a42a14695",
        "00000000000000001e8d6829a8a21adc5d38d0a473b144b6765798e61f98bd1d",
    ),
    (
        // Version 0x341d6000: BIP320 bits rolled on top of 0x20000000.
        800_000,
        "00601d3455bb9fbd966b3ea2dc42d0c22722e4c0c1729fad172101000000000000000000\
         55087fab0c8f3f89f8bcfd4df26c504d81b0a88e04907161838c0c53001af09135edbd64943805175e955e06",
        "00000000000000000002a7c4c1e48d76c5a37902165a270156b7a8d72728a054",
    ),
];

/// Full serialized blocks (header, tx count, transactions).
const BLOCKS: &[(u32, &str)] = &[
    (0, "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c0101000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000"),
    (1, "010000006fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000982051fd1e4ba744bbbe680e1fee14677ba1a3c3540bf7b1cdb606e857233e0e61bc6649ffff001d01e362990101000000010000000000000000000000000000000000000000000000000000000000000000ffffffff0704ffff001d0104ffffffff0100f2052a0100000043410496b538e853519c726a2c91e61ec11600ae1390813a627c66fb8be7947be63c52da7589379515d4e0a604f8141781e62294721166bf621e73a82cbf2342c858eeac00000000"),
    (170, "0100000055bd840a78798ad0da853f68974f3d183e2bd1db6a842c1feecf222a00000000ff104ccb05421ab93e63f8c3ce5c2c2e9dbb37de2764b3a3175c8166562cac7d51b96a49ffff001d283e9e700201000000010000000000000000000000000000000000000000000000000000000000000000ffffffff0704ffff001d0102ffffffff0100f2052a01000000434104d46c4968bde02899d2aa0963367c7a6ce34eec332b32e42e5f3407e052d64ac625da6f0718e7b302140434bd725706957c092db53805b821a85b23a7ac61725bac000000000100000001c997a5e56e104102fa209c6a852dd90660a20b2d9c352423edce25857fcd3704000000004847304402204e45e16932b8af514961a1d3a1a25fdf3f4f7732e9d624c6c61548ab5fb8cd410220181522ec8eca07de4860a4acdd12909d831cc56cbbac4622082221a8768d1d0901ffffffff0200ca9a3b00000000434104ae1a62fe09c5f51b13905f07f06b99a2f7159b2225f374cd378d71302fa28414e7aab37397f554a7df5f142c21c1b7303b8a0626f1baded5c72a704f7e6cd84cac00286bee0000000043410411db93e1dcdb8a016b49840f8c53bc1eb68a382e97b1482ecad7b148a6909a5cb2e0eaddfb84ccf9744464f82e160bfa9b8b64f9d4c03f999b8643f656b412a3ac00000000"),
];

fn backends() -> Vec<Backend> {
    let mut v = vec![Backend::portable()];
    v.extend(Backend::sha_ni());
    v
}

fn display_to_internal(display_hex: &str) -> [u8; 32] {
    let mut b: [u8; 32] = hex::decode(display_hex)
        .expect("test vector hex")
        .try_into()
        .expect("32 bytes");
    b.reverse();
    b
}

fn header_bytes(hex_str: &str) -> [u8; 80] {
    hex::decode(hex_str)
        .expect("test vector hex")
        .try_into()
        .expect("80 bytes")
}

#[test]
fn real_headers_hash_to_their_block_hash() {
    for (height, hex_str, display) in HEADERS {
        let bytes = header_bytes(hex_str);
        let expected = display_to_internal(display);
        let header = BlockHeader::from_bytes(&bytes);
        assert_eq!(header.to_bytes(), bytes, "round trip at {height}");
        assert_eq!(header.hash(), expected, "naive hash at {height}");
        assert_eq!(sha256d(&bytes), expected);

        // Independent oracle: rust-bitcoin's header type.
        let theirs: bitcoin::block::Header = deserialize(&bytes).expect("valid header");
        let their_hash: [u8; 32] = *AsRef::<[u8; 32]>::as_ref(&theirs.block_hash());
        assert_eq!(their_hash, expected, "rust-bitcoin at {height}");

        for backend in backends() {
            let mut std_hasher =
                StandardJobHasher::new(header.prev_hash, header.merkle_root, header.nbits)
                    .with_backend(backend);
            // Twice: cache miss, then cache hit.
            for _ in 0..2 {
                assert_eq!(
                    std_hasher.hash(header.version, header.ntime, header.nonce),
                    expected,
                    "standard hasher ({}) at {height}",
                    backend.name()
                );
            }
            assert_eq!(std_hasher.cache_stats(), (1, 1));
        }
    }
}

#[test]
fn real_blocks_meet_their_compact_target() {
    for (height, hex_str, display) in HEADERS {
        let header = BlockHeader::from_bytes(&header_bytes(hex_str));
        let target = Target::from_compact(header.nbits).expect("valid nBits");
        assert!(
            target.is_met_by(&display_to_internal(display)),
            "PoW at {height}"
        );
        assert_eq!(
            target.to_compact(),
            header.nbits,
            "compact round trip at {height}"
        );

        let theirs = bitcoin::pow::Target::from_compact(bitcoin::CompactTarget::from_consensus(
            header.nbits,
        ));
        assert_eq!(
            target.to_le_bytes(),
            theirs.to_le_bytes(),
            "target at {height}"
        );
        let rel =
            (target.difficulty() - theirs.difficulty_float()).abs() / theirs.difficulty_float();
        assert!(rel < 1e-12, "difficulty at {height}");

        // A hash one above the target fails; the target itself passes.
        assert!(target.is_met_by(&target.to_le_bytes()));
    }
    // Mainnet difficulty at block 125552 was about 244112.
    let d = Target::from_compact(0x1a44_b9f2)
        .expect("valid")
        .difficulty();
    assert!((d - 244_112.487_774_8).abs() < 1e-3, "{d}");
}

#[test]
fn block_800000_version_is_bip320_rolled() {
    let header = BlockHeader::from_bytes(&header_bytes(HEADERS[4].1));
    assert_eq!(header.version, 0x341d_6000);
    assert!(version_rolling_ok(
        0x2000_0000,
        header.version,
        BIP320_VERSION_MASK
    ));
    assert!(!version_rolling_ok(
        0x2000_0000,
        header.version,
        0x0000_e000
    ));
}

#[test]
fn real_blocks_merkle_and_extended_hasher() {
    for (height, block_hex) in BLOCKS {
        let raw = hex::decode(block_hex).expect("test vector hex");
        let block: bitcoin::Block = deserialize(&raw).expect("valid block");
        let txids: Vec<[u8; 32]> = block
            .txdata
            .iter()
            .map(|tx| *AsRef::<[u8; 32]>::as_ref(&tx.compute_txid()))
            .collect();
        let header_raw: [u8; 80] = serialize(&block.header).try_into().expect("80 bytes");
        let header = BlockHeader::from_bytes(&header_raw);
        assert_eq!(merkle_root(&txids), header.merkle_root, "root at {height}");

        let path = merkle_path_for_coinbase(txids.get(1..).unwrap_or(&[]));
        let Some(coinbase_txid) = txids.first() else {
            panic!("block {height} has no coinbase");
        };
        assert_eq!(
            merkle_root_from_path(coinbase_txid, &path),
            header.merkle_root
        );

        // Split the coinbase around an "extranonce" inside its scriptSig
        // (bytes 42..46 of these legacy coinbases) and hash it as a share.
        let coinbase = serialize(&block.txdata[0]);
        assert_eq!(sha256d(&coinbase), *coinbase_txid);
        let (prefix, rest) = coinbase.split_at(42);
        let (extranonce, suffix) = rest.split_at(4);
        for backend in backends() {
            let mut hasher =
                ExtendedJobHasher::new(prefix, suffix, &path, header.prev_hash, header.nbits)
                    .with_backend(backend);
            assert_eq!(hasher.coinbase_txid(extranonce), *coinbase_txid);
            assert_eq!(hasher.merkle_root(extranonce), header.merkle_root);
            assert_eq!(
                hasher.hash(extranonce, header.version, header.ntime, header.nonce),
                header.hash(),
                "extended hasher ({}) at {height}",
                backend.name()
            );
        }
    }
}

#[test]
fn block_170_known_txids() {
    let coinbase =
        display_to_internal("b1fea52486ce0c62bb442b530a3f0132b826c74e473d1f2c220bfa78111c5082");
    let spend =
        display_to_internal("f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16");
    let root =
        display_to_internal("7dac2c5666815c17a3b36427de37bb9d2e2c5ccec3f8633eb91a4205cb4c10ff");
    assert_eq!(merkle_root(&[coinbase, spend]), root);
    assert_eq!(merkle_path_for_coinbase(&[spend]), vec![spend]);
}
