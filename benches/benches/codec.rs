//! SV2 message codec benches: ours (sv2-codec) next to SRI (framing_sv2 / binary_sv2 /
//! mining_sv2 / parsers-style decoding) for the hot Mining messages.
//!
//! Groups `codec_<message>` with four functions each:
//! * `ours_encode`: `Sv2Message::encode_frame` (header + payload) into a reused `BytesMut`.
//! * `sri_encode`: `MessageFrame::from_message` + `EncodableFrame::encode_into` into a reused,
//!   correctly sized `Vec` (SRI consumes the message, so its cost includes a clone of the
//!   borrowed SRI struct).
//! * `ours_decode`: `Header::parse` + `Message::decode(Protocol::Mining, ..)` from a complete
//!   frame, producing an owned message.
//! * `ours_decode_typed`: `M::decode_payload` of the payload when the type is already known
//!   from the header (what a role's hot path can call), producing an owned message.
//! * `sri_decode`: `Header::from_bytes` + `binary_sv2::from_bytes` into the borrowed SRI
//!   struct (zero-copy; SRI needs `&mut [u8]`, the copy into a fresh buffer is done in
//!   untimed setup).
//!
//! Messages: SubmitSharesStandard (24-byte payload), SubmitSharesExtended (8-byte extranonce),
//! NewExtendedMiningJob (12-level merkle path, 100-byte coinbase prefix and suffix).
//! After the run, the ours/SRI ratios of criterion's mean estimates are printed.

use std::hint::black_box;
use std::path::PathBuf;

use binary_sv2::{Seq0255, Sv2Option, B032, B064K, U256};
use criterion::{BatchSize, Criterion};
use framing_sv2::framing::{EncodableFrame, MessageFrame};
use framing_sv2::header::Header as SriHeader;
use sv2_codec::bytes::BytesMut;
use sv2_codec::framing::Header;
use sv2_codec::{mining, Message, Protocol, Sv2Message};

const HEADER: usize = sv2_codec::HEADER_LEN;

fn share_standard() -> mining::SubmitSharesStandard {
    mining::SubmitSharesStandard {
        channel_id: 7,
        sequence_number: 123_456,
        job_id: 42,
        nonce: 0xDEAD_BEEF,
        ntime: 1_700_000_000,
        version: 0x2000_0000,
    }
}

fn share_extended() -> mining::SubmitSharesExtended {
    mining::SubmitSharesExtended {
        channel_id: 7,
        sequence_number: 123_456,
        job_id: 42,
        nonce: 0xDEAD_BEEF,
        ntime: 1_700_000_000,
        version: 0x2000_0000,
        extranonce: vec![0xA5; 8],
    }
}

fn extended_job() -> mining::NewExtendedMiningJob {
    mining::NewExtendedMiningJob {
        channel_id: 7,
        job_id: 42,
        min_ntime: None,
        version: 0x2000_0000,
        version_rolling_allowed: true,
        merkle_path: (0u8..12).map(|i| [i; 32]).collect(),
        coinbase_tx_prefix: (0..100).map(|i| i as u8).collect(),
        coinbase_tx_suffix: (0..100).map(|i| (i * 3) as u8).collect(),
    }
}

fn frame_bytes<M: Sv2Message>(m: &M) -> Vec<u8> {
    let mut buf = BytesMut::new();
    m.encode_frame(&mut buf).unwrap();
    buf.to_vec()
}

/// Times the four functions of one message. `sri` builds the SRI struct borrowing from `ours`;
/// `sri_decode` decodes an SRI payload.
fn bench_message<'a, M, S>(
    c: &mut Criterion,
    group: &str,
    ours: &'a M,
    sri: S,
    sri_decode: fn(&mut [u8]),
) where
    M: Sv2Message,
    S: Clone + binary_sv2::GetSize + Into<binary_sv2::encodable::EncodableField<'a>>,
{
    let wire = frame_bytes(ours);
    let mut g = c.benchmark_group(group);

    let mut buf = BytesMut::with_capacity(1024);
    g.bench_function("ours_encode", |b| {
        b.iter(|| {
            buf.clear();
            black_box(ours).encode_frame(&mut buf).unwrap();
            black_box(buf.len())
        })
    });

    let mut out = vec![0u8; wire.len()];
    MessageFrame::from_message(sri.clone(), M::MSG_TYPE, 0, M::CHANNEL_MSG)
        .unwrap()
        .encode_into(&mut out)
        .unwrap();
    assert_eq!(
        out, wire,
        "{group}: SRI and ours must produce the same frame"
    );
    g.bench_function("sri_encode", |b| {
        b.iter(|| {
            let frame =
                MessageFrame::from_message(black_box(&sri).clone(), M::MSG_TYPE, 0, M::CHANNEL_MSG)
                    .unwrap();
            frame.encode_into(&mut out).unwrap();
            black_box(out[0])
        })
    });

    g.bench_function("ours_decode", |b| {
        b.iter(|| {
            let bytes = black_box(&wire[..]);
            let header = Header::parse(bytes).unwrap();
            let payload = &bytes[HEADER..HEADER + header.payload_len()];
            black_box(Message::decode(Protocol::Mining, &header, payload).unwrap())
        })
    });

    g.bench_function("ours_decode_typed", |b| {
        b.iter(|| {
            let bytes = black_box(&wire[..]);
            black_box(M::decode_payload(&bytes[HEADER..]).unwrap())
        })
    });
    g.bench_function("sri_decode", |b| {
        b.iter_batched_ref(
            || wire.clone(),
            |bytes| {
                let header = SriHeader::from_bytes(bytes).unwrap();
                let len = header.payload_length();
                sri_decode(&mut bytes[HEADER..HEADER + len]);
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let std_share = share_standard();
    let sri_std = mining_sv2::SubmitSharesStandard {
        channel_id: std_share.channel_id,
        sequence_number: std_share.sequence_number,
        job_id: std_share.job_id,
        nonce: std_share.nonce,
        ntime: std_share.ntime,
        version: std_share.version,
    };
    bench_message(
        c,
        "codec_submit_shares_standard",
        &std_share,
        sri_std,
        |p| {
            black_box(binary_sv2::from_bytes::<mining_sv2::SubmitSharesStandard>(p).unwrap());
        },
    );

    let ext_share = share_extended();
    let sri_ext = mining_sv2::SubmitSharesExtended {
        channel_id: ext_share.channel_id,
        sequence_number: ext_share.sequence_number,
        job_id: ext_share.job_id,
        nonce: ext_share.nonce,
        ntime: ext_share.ntime,
        version: ext_share.version,
        extranonce: B032::try_from(&ext_share.extranonce[..]).unwrap(),
    };
    bench_message(
        c,
        "codec_submit_shares_extended",
        &ext_share,
        sri_ext,
        |p| {
            black_box(binary_sv2::from_bytes::<mining_sv2::SubmitSharesExtended>(p).unwrap());
        },
    );

    let job = extended_job();
    let sri_job = mining_sv2::NewExtendedMiningJob {
        channel_id: job.channel_id,
        job_id: job.job_id,
        min_ntime: Sv2Option::new(job.min_ntime),
        version: job.version,
        version_rolling_allowed: job.version_rolling_allowed,
        merkle_path: Seq0255::new(job.merkle_path.iter().map(U256::from).collect()).unwrap(),
        coinbase_tx_prefix: B064K::try_from(&job.coinbase_tx_prefix[..]).unwrap(),
        coinbase_tx_suffix: B064K::try_from(&job.coinbase_tx_suffix[..]).unwrap(),
    };
    bench_message(c, "codec_new_extended_mining_job", &job, sri_job, |p| {
        black_box(binary_sv2::from_bytes::<mining_sv2::NewExtendedMiningJob>(p).unwrap());
    });
}

/// Where criterion stores its estimates for this run.
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("criterion")
}

/// Mean time in ns of one benchmark, from criterion's `estimates.json`.
fn mean_ns(group: &str, function: &str) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(function)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

fn print_ratios() {
    println!("\nours vs SRI (criterion mean estimates; ratio < 1 means ours is faster):");
    println!(
        "{:<32} {:>13} {:>10} {:>10} {:>8}",
        "group", "op", "ours ns", "sri ns", "ratio"
    );
    for group in [
        "codec_submit_shares_standard",
        "codec_submit_shares_extended",
        "codec_new_extended_mining_job",
    ] {
        for (op, sri_op) in [
            ("encode", "encode"),
            ("decode", "decode"),
            ("decode_typed", "decode"),
        ] {
            let ours = mean_ns(group, &format!("ours_{op}"));
            let sri = mean_ns(group, &format!("sri_{sri_op}"));
            if let (Some(o), Some(s)) = (ours, sri) {
                println!("{group:<32} {op:>13} {o:>10.1} {s:>10.1} {:>8.3}", o / s);
            }
        }
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
    print_ratios();
}
