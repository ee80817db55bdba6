//! Coinbase building, splitting, parsing and block assembly.

mod support;

use bitcoin::consensus::encode::{deserialize, serialize};
use bitcoin::hashes::Hash;
use bitcoin::{
    absolute::LockTime, transaction::Version, Block, ScriptBuf, Sequence, Transaction, TxOut,
    Witness,
};
use proptest::prelude::*;
use support::{sample_tx, witness_commitment};
use sv2_mining::coinbase::{
    assemble_block, assemble_block_bytes, bip34_height_script, parse_coinbase, CoinbaseBuilder,
    CoinbaseError, Payout, WITNESS_COMMITMENT_HEADER,
};
use sv2_mining::header::BlockHeader;
use sv2_mining::merkle::{merkle_path_for_coinbase, merkle_root_from_path};
use sv2_mining::sha256d::sha256d;

fn p2wpkh(tag: u8) -> ScriptBuf {
    let mut s = vec![0x00, 0x14];
    s.extend_from_slice(&[tag; 20]);
    ScriptBuf::from_bytes(s)
}

fn commitment_script(commitment: [u8; 32]) -> ScriptBuf {
    let mut s = WITNESS_COMMITMENT_HEADER.to_vec();
    s.extend_from_slice(&commitment);
    ScriptBuf::from_bytes(s)
}

fn pool_builder(height: u32, extranonce_len: usize) -> CoinbaseBuilder {
    CoinbaseBuilder::new(height, 312_500_000 + 12_345, extranonce_len)
        .pool_tag(b"/sv2-pool/".to_vec())
        .payout(p2wpkh(1), Payout::Fixed(1_000_000))
        .payout(p2wpkh(2), Payout::Remainder(1))
        .witness_commitment(commitment_script([0x42; 32]))
}

#[test]
fn parts_decode_and_txid_is_sha256d_of_concatenation() {
    let parts = pool_builder(840_000, 16).build().unwrap();
    let extranonce: Vec<u8> = (0u8..16).collect();
    let bytes = parts.serialize_with(&extranonce).unwrap();
    let tx: Transaction = deserialize(&bytes).unwrap();
    assert!(tx.is_coinbase());
    assert_eq!(tx.compute_txid().to_byte_array(), sha256d(&bytes));
    assert_eq!(serialize(&tx), bytes);

    let script = tx.input[0].script_sig.as_bytes();
    assert!(script.starts_with(&bip34_height_script(840_000)));
    assert!(script.ends_with(&extranonce));
    assert_eq!(script[script.len() - 17], 16, "extranonce push opcode");
    // The extranonce starts exactly where the prefix ends.
    assert_eq!(
        &bytes[parts.prefix.len()..parts.prefix.len() + 16],
        &extranonce[..]
    );
    assert_eq!(tx.input[0].sequence, Sequence::MAX);
    assert_eq!(tx.lock_time, LockTime::ZERO);
    assert_eq!(tx.version, Version::TWO);

    let values: Vec<u64> = tx.output.iter().map(|o| o.value.to_sat()).collect();
    assert_eq!(values, vec![1_000_000, 312_512_345 - 1_000_000, 0]);
    assert!(parts.has_witness_commitment);
}

#[test]
fn full_transaction_carries_witness_reserved_value() {
    let parts = pool_builder(100, 8).build().unwrap();
    let tx = parts.full_transaction(&[9; 8]).unwrap();
    assert_eq!(tx.input[0].witness.len(), 1);
    assert_eq!(tx.input[0].witness.nth(0), Some(&[0u8; 32][..]));
    // The txid ignores the witness; the wtxid does not.
    let stripped = parts.serialize_with(&[9; 8]).unwrap();
    assert_eq!(tx.compute_txid().to_byte_array(), sha256d(&stripped));
    assert_ne!(serialize(&tx), stripped);

    // Without a commitment there is no witness.
    let plain = CoinbaseBuilder::new(100, 50, 8)
        .payout(p2wpkh(3), Payout::Remainder(1))
        .build()
        .unwrap();
    assert!(!plain.has_witness_commitment);
    assert!(plain.full_transaction(&[0; 8]).unwrap().input[0]
        .witness
        .is_empty());
}

#[test]
fn extranonce_length_is_enforced() {
    let parts = pool_builder(100, 8).build().unwrap();
    assert!(matches!(
        parts.serialize_with(&[0; 7]),
        Err(CoinbaseError::ExtranonceLength {
            expected: 8,
            got: 7
        })
    ));
    assert!(parts.full_transaction(&[0; 9]).is_err());
}

#[test]
fn bip34_heights_through_the_whole_coinbase() {
    for height in [
        1u32, 2, 15, 16, 17, 127, 128, 32_767, 32_768, 8_388_607, 8_388_608, 16_777_216,
    ] {
        let parts = CoinbaseBuilder::new(height, 5_000_000_000, 4)
            .payout(p2wpkh(1), Payout::Remainder(1))
            .build()
            .unwrap();
        let parsed = parse_coinbase(&parts.prefix, &[1, 2, 3, 4], &parts.suffix).unwrap();
        assert_eq!(parsed.height, Some(height));
        let script = parsed.tx.input[0].script_sig.clone();
        // Cross-check with the bitcoin crate's own minimal integer push.
        let expected = bitcoin::script::Builder::new()
            .push_int(i64::from(height))
            .into_script();
        assert!(script.as_bytes().starts_with(expected.as_bytes()));
        if height >= 1 << 23 {
            assert_eq!(script.as_bytes()[0], 4, "4-byte push from 2^23");
        }
        if height <= 16 {
            assert_eq!(script.as_bytes()[0], 0x50 + height as u8);
        }
    }
}

#[test]
fn script_sig_limits() {
    // 4 (height push) + 1 + 70 (tag) + 1 + 32 (extranonce) = 108 > 100
    let e = CoinbaseBuilder::new(840_000, 1, 32)
        .pool_tag(vec![b'x'; 70])
        .payout(p2wpkh(1), Payout::Remainder(1))
        .build()
        .unwrap_err();
    assert!(matches!(e, CoinbaseError::ScriptSigTooLong(108)));
    // Exactly 100 is fine: 4 + 1 + 62 + 1 + 32.
    let parts = CoinbaseBuilder::new(840_000, 1, 32)
        .pool_tag(vec![b'x'; 62])
        .payout(p2wpkh(1), Payout::Remainder(1))
        .build()
        .unwrap();
    let tx = parts.full_transaction(&[0; 32]).unwrap();
    assert_eq!(tx.input[0].script_sig.len(), 100);
    assert!(matches!(
        CoinbaseBuilder::new(1, 1, 0).build(),
        Err(CoinbaseError::InvalidExtranonceLen(0))
    ));
    assert!(matches!(
        CoinbaseBuilder::new(1, 1, 76).build(),
        Err(CoinbaseError::InvalidExtranonceLen(76))
    ));
    assert!(matches!(
        CoinbaseBuilder::new(1, 1, 4).pool_tag(vec![0; 76]).build(),
        Err(CoinbaseError::PoolTagTooLong(76))
    ));
}

#[test]
fn template_script_prefix_is_checked() {
    // Bitcoin Core pads heights <= 16 with OP_0: `OP_2 OP_0` for height 2.
    let parts = CoinbaseBuilder::new(2, 10, 4)
        .template_script_prefix(vec![0x52, 0x00])
        .payout(p2wpkh(1), Payout::Remainder(1))
        .build()
        .unwrap();
    let parsed = parse_coinbase(&parts.prefix, &[0; 4], &parts.suffix).unwrap();
    assert_eq!(parsed.height, Some(2));
    assert!(parsed.tx.input[0]
        .script_sig
        .as_bytes()
        .starts_with(&[0x52, 0x00]));

    for bad in [vec![0x53, 0x00], vec![0x01, 0x02], vec![0x52; 9]] {
        let e = CoinbaseBuilder::new(2, 10, 4)
            .template_script_prefix(bad)
            .payout(p2wpkh(1), Payout::Remainder(1))
            .build()
            .unwrap_err();
        assert!(matches!(e, CoinbaseError::InvalidTemplatePrefix(_)));
    }
}

#[test]
fn sequence_lock_time_and_version_are_configurable() {
    let parts = CoinbaseBuilder::new(900_000, 10, 4)
        .payout(p2wpkh(1), Payout::Remainder(1))
        .sequence(0xffff_fffe)
        .lock_time(899_999)
        .version(1)
        .build()
        .unwrap();
    let tx = parts.full_transaction(&[0; 4]).unwrap();
    assert_eq!(tx.input[0].sequence, Sequence(0xffff_fffe));
    assert_eq!(tx.lock_time.to_consensus_u32(), 899_999);
    assert_eq!(tx.version, Version::ONE);
}

/// Known-answer vector: the split SRI's pool (channels_sv2 8.0.0 job factory test) produces for a
/// regtest template at height 2 with pool tag `Sv2/Stratum V2 SRI Pool//`, a 32-byte extranonce,
/// one P2WPKH payout of 50 BTC and the template's witness commitment output.
#[test]
fn matches_sri_known_vector() {
    let commitment_output_bytes = hex::decode(
        "0000000000000000266a24aa21a9ede2f61c3f71d1defd3fa999dfa36953755c690689799962b48bebd836974e8cf9",
    )
    .unwrap();
    let template_output: TxOut = deserialize(&commitment_output_bytes).unwrap();
    let payout =
        ScriptBuf::from_bytes(hex::decode("0014ebe1b7dcc293ccaa0ee743a86f89df8258c208fc").unwrap());
    let parts = CoinbaseBuilder::new(2, 5_000_000_000, 32)
        .template_script_prefix(vec![0x52, 0x00])
        .pool_tag(b"Sv2/Stratum V2 SRI Pool//".to_vec())
        .payout(payout, Payout::Fixed(5_000_000_000))
        .template_outputs([template_output])
        .build()
        .unwrap();
    let expected_prefix = hex::decode(concat!(
        "0200000001",
        "0000000000000000000000000000000000000000000000000000000000000000ffffffff",
        "3d5200195376322f5374726174756d2056322053524920506f6f6c2f2f20"
    ))
    .unwrap();
    let expected_suffix = hex::decode(concat!(
        "ffffffff0200f2052a010000001600 14ebe1b7dcc293ccaa0ee743a86f89df8258c208fc",
        "0000000000000000266a24aa21a9ede2f61c3f71d1defd3fa999dfa36953755c690689799962b48bebd836974e8cf9",
        "00000000"
    )
    .replace(' ', ""))
    .unwrap();
    assert_eq!(parts.prefix, expected_prefix);
    assert_eq!(parts.suffix, expected_suffix);
    assert!(parts.has_witness_commitment);
}

#[test]
fn assembled_block_is_consistent() {
    let txs: Vec<Transaction> = (1..=5).map(|i| sample_tx(i, i % 2 == 1)).collect();
    let raw: Vec<Vec<u8>> = txs.iter().map(serialize).collect();

    // The witness commitment as a template would give it: witness root over wtxids (coinbase = 0)
    // hashed with the all-zero reserved value.
    let parts = CoinbaseBuilder::new(840_001, 312_500_000, 12)
        .pool_tag(b"/pool/".to_vec())
        .payout(p2wpkh(7), Payout::Remainder(1))
        .witness_commitment(witness_commitment(&txs))
        .build()
        .unwrap();
    let extranonce = [0xab; 12];
    let coinbase = parts.full_transaction(&extranonce).unwrap();
    let coinbase_txid = sha256d(&parts.serialize_with(&extranonce).unwrap());

    let txids: Vec<[u8; 32]> = txs
        .iter()
        .map(|t| t.compute_txid().to_byte_array())
        .collect();
    let path = merkle_path_for_coinbase(&txids);
    let root = merkle_root_from_path(&coinbase_txid, &path);
    let header = BlockHeader {
        version: 0x2000_0000,
        prev_hash: [0x11; 32],
        merkle_root: root,
        ntime: 1_700_000_000,
        nbits: 0x1703_4219,
        nonce: 12345,
    };
    let header_bytes = header.to_bytes();

    let block: Block = assemble_block(&header_bytes, &coinbase, &raw).unwrap();
    assert_eq!(block.txdata.len(), 6);
    assert!(block.check_merkle_root());
    assert!(block.check_witness_commitment());
    assert_eq!(block.block_hash().to_byte_array(), header.hash());
    let bytes = assemble_block_bytes(&header_bytes, &coinbase, &raw);
    assert_eq!(bytes, serialize(&block));

    // Corrupt transaction bytes are a typed error, not a panic.
    let bad = vec![vec![0u8, 1, 2]];
    assert!(matches!(
        assemble_block(&header_bytes, &coinbase, &bad),
        Err(CoinbaseError::Decode(_))
    ));
}

#[test]
fn parse_checks_required_outputs() {
    let parts = pool_builder(840_000, 8).build().unwrap();
    let parsed = parse_coinbase(&parts.prefix, &[0; 8], &parts.suffix).unwrap();
    assert_eq!(parsed.height, Some(840_000));
    assert!(parsed.has_witness_commitment());
    assert_eq!(parsed.total_output_value(), 312_512_345);
    parsed
        .check_pays(&[(p2wpkh(1), 1_000_000), (p2wpkh(2), 300_000_000)])
        .unwrap();
    // Two requirements for the same script add up.
    let e = parsed
        .check_pays(&[(p2wpkh(1), 600_000), (p2wpkh(1), 600_000)])
        .unwrap_err();
    assert!(matches!(
        e,
        CoinbaseError::Underpaid {
            required: 1_200_000,
            paid: 1_000_000,
            ..
        }
    ));
    let e = parsed.check_pays(&[(p2wpkh(9), 1)]).unwrap_err();
    assert!(matches!(e, CoinbaseError::Underpaid { paid: 0, .. }));
}

#[test]
fn parse_rejects_malformed_coinbases() {
    let parts = pool_builder(840_000, 8).build().unwrap();
    let full = parts.serialize_with(&[0; 8]).unwrap();

    // Extranonce placed over the outputs: prefix extends into the suffix area.
    let split = full.len() - 20;
    assert!(matches!(
        parse_coinbase(&full[..split], &full[split..split + 8], &full[split + 8..]),
        Err(CoinbaseError::ExtranonceOutsideScriptSig)
    ));
    // Prefix ending before the scriptSig.
    assert!(matches!(
        parse_coinbase(&full[..10], &full[10..18], &full[18..]),
        Err(CoinbaseError::ExtranonceOutsideScriptSig)
    ));
    // Segwit serialization.
    let witness_bytes = serialize(&parts.full_transaction(&[0; 8]).unwrap());
    assert!(matches!(
        parse_coinbase(&witness_bytes, &[], &[]),
        Err(CoinbaseError::HasWitness)
    ));
    // Not a coinbase: spends a real outpoint.
    let tx = sample_tx(3, false);
    assert!(matches!(
        parse_coinbase(&serialize(&tx), &[], &[]),
        Err(CoinbaseError::NotCoinbase)
    ));
    // scriptSig of one byte.
    let mut short = parts.full_transaction(&[0; 8]).unwrap();
    short.input[0].witness = Witness::new();
    short.input[0].script_sig = ScriptBuf::from_bytes(vec![0x51]);
    assert!(matches!(
        parse_coinbase(&serialize(&short), &[], &[]),
        Err(CoinbaseError::ScriptSigTooShort(1))
    ));
    // Truncated.
    assert!(matches!(
        parse_coinbase(&full[..full.len() - 1], &[], &[]),
        Err(CoinbaseError::Decode(_))
    ));
}

proptest! {
    #[test]
    fn parse_never_panics(prefix in proptest::collection::vec(any::<u8>(), 0..120),
                          extranonce in proptest::collection::vec(any::<u8>(), 0..40),
                          suffix in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_coinbase(&prefix, &extranonce, &suffix);
    }

    #[test]
    fn roundtrip_any_layout(height in 1u32..10_000_000,
                            tag in proptest::collection::vec(any::<u8>(), 0..30),
                            extranonce in proptest::collection::vec(any::<u8>(), 1..33),
                            fixed in 0u64..1_000_000,
                            extra in 0u64..1_000_000_000) {
        let parts = CoinbaseBuilder::new(height, fixed + extra, extranonce.len())
            .pool_tag(tag)
            .payout(p2wpkh(1), Payout::Fixed(fixed))
            .payout(p2wpkh(2), Payout::Remainder(3))
            .build()
            .unwrap();
        let bytes = parts.serialize_with(&extranonce).unwrap();
        let tx: Transaction = deserialize(&bytes).unwrap();
        prop_assert_eq!(tx.compute_txid().to_byte_array(), sha256d(&bytes));
        let parsed = parse_coinbase(&parts.prefix, &extranonce, &parts.suffix).unwrap();
        prop_assert_eq!(parsed.height, Some(height));
        prop_assert_eq!(parsed.total_output_value(), fixed + extra);
    }
}
