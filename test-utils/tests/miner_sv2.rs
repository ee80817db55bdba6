//! The SV2 CPU miner against a minimal SV2 server written here with sv2-noise `accept` and
//! sv2-codec: setup, channel opening, jobs, prev hash, targets, and shares checked with
//! sv2-mining's pool-side hashers.

use std::collections::HashSet;
use std::time::Duration;

use bitcoin::ScriptBuf;
use sv2_codec::bytes::BytesMut;
use sv2_codec::common::mining_flags::{REQUIRES_STANDARD_JOBS, REQUIRES_VERSION_ROLLING};
use sv2_codec::common::{Reconnect, SetupConnectionSuccess};
use sv2_codec::mining::{
    CloseChannel, NewExtendedMiningJob, NewMiningJob, OpenExtendedMiningChannelSuccess,
    OpenStandardMiningChannelSuccess, SetNewPrevHash, SetTarget, SubmitSharesError,
    SubmitSharesSuccess,
};
use sv2_codec::{CommonMessage, Frame, Message, MiningMessage, Protocol};
use sv2_mining::coinbase::{CoinbaseBuilder, CoinbaseParts, Payout};
use sv2_mining::header::{version_rolling_ok, BIP320_VERSION_MASK};
use sv2_mining::share::{ExtendedJobHasher, StandardJobHasher};
use sv2_mining::target::Target;
use sv2_noise::secp256k1::{Keypair, Secp256k1, SecretKey};
use sv2_noise::{NoiseConnection, ServerKeys};
use test_utils::miner::sv2::{spawn, ChannelMode, Sv2MinerConfig};
use test_utils::miner::MinerError;
use tokio::net::TcpListener;

const TIMEOUT: Duration = Duration::from_secs(30);
const PREV_HASH: [u8; 32] = [0x5a; 32];
/// Regtest compact target: nearly every hash is a block.
const REGTEST_BITS: u32 = 0x207f_ffff;
/// Difficulty-1 compact target: no CPU share is a block.
const DIFF1_BITS: u32 = 0x1d00_ffff;
const NTIME: u32 = 1_700_000_000;

/// A share target about one hash in `n` meets.
fn one_in(n: u64) -> Target {
    Target::from_difficulty(n as f64 / 4_294_967_296.0)
}

struct Pool {
    listener: TcpListener,
    keys: ServerKeys,
    config: Sv2MinerConfig,
}

async fn pool() -> Pool {
    let secret = SecretKey::from_slice(&[0x42; 32]).unwrap();
    let authority = Keypair::from_secret_key(&Secp256k1::new(), &secret);
    let keys = ServerKeys::from_authority(authority, Duration::from_secs(3600));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let config = Sv2MinerConfig::new(addr, authority.x_only_public_key().0, "site.worker");
    Pool {
        listener,
        keys,
        config,
    }
}

struct Conn(NoiseConnection);

impl Conn {
    async fn accept(p: &Pool) -> Conn {
        let (tcp, _) = tokio::time::timeout(TIMEOUT, p.listener.accept())
            .await
            .expect("miner did not connect")
            .unwrap();
        Conn(sv2_noise::accept(tcp, &p.keys, TIMEOUT).await.unwrap())
    }

    async fn recv(&mut self) -> Message {
        let bytes = tokio::time::timeout(TIMEOUT, self.0.recv())
            .await
            .expect("miner went quiet")
            .unwrap()
            .expect("miner closed the connection");
        let frame = Frame::from_bytes(bytes).unwrap();
        Message::from_frame(Protocol::Mining, &frame).unwrap()
    }

    async fn send(&mut self, m: impl Into<Message>) {
        let mut buf = BytesMut::new();
        m.into().encode_frame(&mut buf).unwrap();
        self.0.send(&buf).await.unwrap();
    }

    /// Reads SetupConnection, checks it and answers Success with `flags`.
    async fn setup(&mut self, expected_flags: u32, flags: u32) {
        let Message::Common(CommonMessage::SetupConnection(s)) = self.recv().await else {
            panic!("expected SetupConnection")
        };
        assert_eq!(s.protocol, Protocol::Mining);
        assert_eq!((s.min_version, s.max_version), (2, 2));
        assert_eq!(s.flags, expected_flags);
        assert_eq!(s.endpoint_host, "127.0.0.1");
        assert!(s.firmware.starts_with("sv2-cpuminer/"));
        self.send(SetupConnectionSuccess {
            used_version: 2,
            flags,
        })
        .await;
    }

    async fn next_mining(&mut self) -> MiningMessage {
        match self.recv().await {
            Message::Mining(m) => m,
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn coinbase(extranonce_len: usize) -> CoinbaseParts {
    CoinbaseBuilder::new(840_000, 312_500_000, extranonce_len)
        .pool_tag(b"/test-pool/".to_vec())
        .payout(ScriptBuf::from_bytes(vec![0x51]), Payout::Remainder(1))
        .build()
        .unwrap()
}

const PATH: [[u8; 32]; 2] = [[0x11; 32], [0x22; 32]];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_channel_with_version_rolling_submits_valid_shares() {
    let p = pool().await;
    let mut cfg = p.config.clone();
    cfg.max_shares = Some(8);
    cfg.nominal_hash_rate = 5e6;
    let miner = spawn(cfg).unwrap();
    let mut c = Conn::accept(&p).await;
    c.setup(REQUIRES_STANDARD_JOBS | REQUIRES_VERSION_ROLLING, 0)
        .await;
    let MiningMessage::OpenStandardMiningChannel(open) = c.next_mining().await else {
        panic!()
    };
    assert_eq!(open.user_identity, "site.worker");
    assert_eq!(open.nominal_hash_rate, 5e6);
    assert_eq!(open.max_target, [0xff; 32]);
    let target = one_in(64);
    let prefix = vec![0, 0, 0, 1, 0, 0, 0, 9];
    c.send(OpenStandardMiningChannelSuccess {
        request_id: open.request_id,
        channel_id: 7,
        target: target.to_le_bytes(),
        extranonce_prefix: prefix.clone(),
        group_channel_id: 1,
    })
    .await;
    // The pool derives the standard job's merkle root from its coinbase and the prefix.
    let cb = coinbase(8);
    let root = ExtendedJobHasher::new(&cb.prefix, &cb.suffix, &PATH, PREV_HASH, REGTEST_BITS)
        .merkle_root(&prefix);
    let version = 0x2000_0000;
    c.send(NewMiningJob {
        channel_id: 7,
        job_id: 1,
        min_ntime: None,
        version,
        merkle_root: root,
    })
    .await;
    c.send(SetNewPrevHash {
        channel_id: 7,
        job_id: 1,
        prev_hash: PREV_HASH,
        min_ntime: NTIME,
        nbits: REGTEST_BITS,
    })
    .await;
    let mut hasher = StandardJobHasher::new(PREV_HASH, root, REGTEST_BITS);
    let block_target = Target::from_compact(REGTEST_BITS).unwrap();
    let mut versions = HashSet::new();
    let mut blocks = 0;
    for seq in 0..8 {
        let MiningMessage::SubmitSharesStandard(s) = c.next_mining().await else {
            panic!()
        };
        assert_eq!((s.channel_id, s.job_id, s.sequence_number), (7, 1, seq));
        assert!(s.ntime >= NTIME);
        assert!(version_rolling_ok(version, s.version, BIP320_VERSION_MASK));
        let hash = hasher.hash(s.version, s.ntime, s.nonce);
        assert!(target.is_met_by(&hash), "share {seq} above target");
        blocks += u64::from(block_target.is_met_by(&hash));
        versions.insert(s.version);
        c.send(SubmitSharesSuccess {
            channel_id: 7,
            last_sequence_number: seq,
            new_submits_accepted_count: 1,
            new_shares_sum: 64,
        })
        .await;
    }
    assert!(versions.len() > 1, "version bits were rolled");
    let stats = tokio::time::timeout(TIMEOUT, miner.join())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stats.shares_submitted, 8);
    assert_eq!(stats.shares_accepted, 8);
    assert_eq!(stats.accepted_work_sum, 8 * 64);
    assert_eq!(stats.blocks_found, blocks);
    assert_eq!(stats.last_job_id.as_deref(), Some("1"));
    assert_eq!((stats.connections, stats.channels_opened), (1, 1));
    assert_eq!((stats.open_connections, stats.open_channels), (0, 0));
    assert!((stats.difficulty - target.difficulty()).abs() < 1e-12);
    assert!(stats.hashes >= 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_channel_rolls_extranonce_and_follows_targets_and_jobs() {
    let p = pool().await;
    let mut cfg = p.config.clone();
    cfg.mode = ChannelMode::Extended;
    cfg.version_rolling = false;
    cfg.min_extranonce_size = 6;
    cfg.threads = 2;
    // 64 nonces per header template: the extranonce rolls every 64 hashes.
    cfg.nonce_bits = 6;
    let miner = spawn(cfg).unwrap();
    let mut c = Conn::accept(&p).await;
    c.setup(0, 0).await;
    let MiningMessage::OpenExtendedMiningChannel(open) = c.next_mining().await else {
        panic!()
    };
    assert_eq!(open.min_extranonce_size, 6);
    let en_prefix = vec![0xaa, 0xbb];
    let easy = one_in(32);
    c.send(OpenExtendedMiningChannelSuccess {
        request_id: open.request_id,
        channel_id: 3,
        target: easy.to_le_bytes(),
        extranonce_size: 6,
        extranonce_prefix: en_prefix.clone(),
        group_channel_id: 0,
    })
    .await;
    let cb = coinbase(8);
    let job = |job_id, min_ntime| NewExtendedMiningJob {
        channel_id: 3,
        job_id,
        min_ntime,
        version: 0x2000_0000,
        version_rolling_allowed: true,
        merkle_path: PATH.to_vec(),
        coinbase_tx_prefix: cb.prefix.clone(),
        coinbase_tx_suffix: cb.suffix.clone(),
    };
    c.send(job(1, None)).await;
    c.send(SetNewPrevHash {
        channel_id: 3,
        job_id: 1,
        prev_hash: PREV_HASH,
        min_ntime: NTIME,
        nbits: DIFF1_BITS,
    })
    .await;
    let fixed_prefix = [cb.prefix.as_slice(), &en_prefix].concat();
    let pool_hasher =
        ExtendedJobHasher::new(&fixed_prefix, &cb.suffix, &PATH, PREV_HASH, DIFF1_BITS);
    let mut extranonces = HashSet::new();
    let mut seq = 0;
    let mut check = |s: &sv2_codec::mining::SubmitSharesExtended, target: &Target| {
        assert_eq!(s.channel_id, 3);
        assert_eq!(s.sequence_number, seq);
        seq += 1;
        assert_eq!(s.extranonce.len(), 6);
        assert_eq!(s.version, 0x2000_0000, "version rolling is off");
        let hash = pool_hasher.hash_share(&sv2_mining::share::ExtendedShare {
            extranonce: &s.extranonce,
            version: s.version,
            ntime: s.ntime,
            nonce: s.nonce,
        });
        assert!(target.is_met_by(&hash));
        // The full coinbase assembles with the full extranonce.
        let full = [en_prefix.as_slice(), &s.extranonce].concat();
        assert!(cb.full_transaction(&full).is_ok());
        extranonces.insert(s.extranonce.clone());
    };
    for _ in 0..12 {
        let MiningMessage::SubmitSharesExtended(s) = c.next_mining().await else {
            panic!()
        };
        assert_eq!(s.job_id, 1);
        check(&s, &easy);
    }
    // Harder target, then an immediate job 2: every job-2 share meets the new target.
    let hard = one_in(256);
    c.send(SetTarget {
        channel_id: 3,
        maximum_target: hard.to_le_bytes(),
    })
    .await;
    c.send(job(2, Some(NTIME + 5))).await;
    let mut job2 = 0;
    while job2 < 6 {
        let MiningMessage::SubmitSharesExtended(s) = c.next_mining().await else {
            panic!()
        };
        if s.job_id == 2 {
            assert!(s.ntime >= NTIME + 5);
            check(&s, &hard);
            job2 += 1;
        } else {
            // Found before the new target and job were seen.
            assert_eq!(s.job_id, 1);
            check(&s, &easy);
        }
    }
    assert!(extranonces.len() > 3, "extranonce rolled");
    // A rejection is counted by reason.
    c.send(SubmitSharesError {
        channel_id: 3,
        sequence_number: 0,
        error_code: "stale-share".into(),
    })
    .await;
    let stats = miner
        .wait_for(TIMEOUT, |s| s.shares_rejected == 1)
        .await
        .expect("rejection counted");
    assert_eq!(stats.rejected_for("stale-share"), 1);
    assert_eq!(stats.blocks_found, 0);
    assert_eq!(stats.jobs_received, 2);
    assert_eq!(stats.last_job_id.as_deref(), Some("2"));
    miner.stop_and_join().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_channels_share_one_connection() {
    let p = pool().await;
    let mut cfg = p.config.clone();
    cfg.channels = 3;
    cfg.threads = 2;
    cfg.version_rolling = false;
    cfg.update_channel_interval = Some(Duration::from_millis(200));
    let miner = spawn(cfg).unwrap();
    let mut c = Conn::accept(&p).await;
    c.setup(REQUIRES_STANDARD_JOBS, 0).await;
    let target = one_in(1 << 14);
    let mut roots = Vec::new();
    for i in 0..3u32 {
        let MiningMessage::OpenStandardMiningChannel(open) = c.next_mining().await else {
            panic!()
        };
        let channel_id = 100 + i;
        c.send(OpenStandardMiningChannelSuccess {
            request_id: open.request_id,
            channel_id,
            target: target.to_le_bytes(),
            extranonce_prefix: vec![i as u8; 4],
            group_channel_id: 1,
        })
        .await;
        let root = [0x30 + i as u8; 32];
        roots.push(root);
        // Standard jobs derived from one group job share its id.
        c.send(NewMiningJob {
            channel_id,
            job_id: 10,
            min_ntime: None,
            version: 0x2000_0000,
            merkle_root: root,
        })
        .await;
    }
    // One prev hash for the whole group channel.
    c.send(SetNewPrevHash {
        channel_id: 1,
        job_id: 10,
        prev_hash: PREV_HASH,
        min_ntime: NTIME,
        nbits: DIFF1_BITS,
    })
    .await;
    let mut per_channel = [0u32; 3];
    let mut updates = 0;
    while per_channel.iter().any(|n| *n < 3) || updates < 3 {
        match c.next_mining().await {
            MiningMessage::SubmitSharesStandard(s) => {
                let i = (s.channel_id - 100) as usize;
                assert_eq!(s.job_id, 10);
                assert_eq!(s.sequence_number, per_channel[i]);
                per_channel[i] += 1;
                let hash = StandardJobHasher::new(PREV_HASH, roots[i], DIFF1_BITS)
                    .hash(s.version, s.ntime, s.nonce);
                assert!(target.is_met_by(&hash));
            }
            MiningMessage::UpdateChannel(u) => {
                assert!((100..103).contains(&u.channel_id));
                assert!(u.nominal_hash_rate >= 0.0);
                updates += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let s = miner.stats();
    assert_eq!(s.channels_opened, 3);
    assert!(s.update_channels_sent >= 3);
    // Closing every channel ends the miner with an error.
    c.send(CloseChannel {
        channel_id: 1,
        reason_code: "maintenance".into(),
    })
    .await;
    let err = tokio::time::timeout(TIMEOUT, miner.join())
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, MinerError::AllChannelsClosed(r) if r == "maintenance"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_moves_the_miner_to_another_server() {
    let p1 = pool().await;
    let p2 = pool().await;
    let port2 = p2.listener.local_addr().unwrap().port();
    let mut cfg = p1.config.clone();
    cfg.version_rolling = false;
    let miner = spawn(cfg).unwrap();
    let mut c = Conn::accept(&p1).await;
    c.setup(REQUIRES_STANDARD_JOBS, 0).await;
    let _ = c.next_mining().await;
    c.send(Reconnect {
        new_host: String::new(),
        new_port: port2,
    })
    .await;
    // Same authority key, other port: the miner sets up again there.
    let mut c2 = Conn::accept(&p2).await;
    c2.setup(REQUIRES_STANDARD_JOBS, 0).await;
    let MiningMessage::OpenStandardMiningChannel(open) = c2.next_mining().await else {
        panic!()
    };
    assert_eq!(open.user_identity, "site.worker");
    let s = miner
        .wait_for(TIMEOUT, |s| s.connections == 2)
        .await
        .unwrap();
    assert_eq!(s.reconnects, 1);
    miner.stop_and_join().await.unwrap();
}

#[tokio::test]
async fn refused_setup_and_wrong_authority_are_errors() {
    let p = pool().await;
    let miner = spawn(p.config.clone()).unwrap();
    let mut c = Conn::accept(&p).await;
    let _ = c.recv().await;
    c.send(sv2_codec::common::SetupConnectionError {
        flags: REQUIRES_STANDARD_JOBS,
        error_code: "unsupported-feature-flags".into(),
    })
    .await;
    let err = tokio::time::timeout(TIMEOUT, miner.join())
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(err, MinerError::SetupRejected { ref code, flags } if code == "unsupported-feature-flags" && flags == 1),
        "{err}"
    );

    // A server certified by another authority is refused during the handshake.
    let other = pool().await;
    let mut cfg = other.config.clone();
    cfg.authority_key = Keypair::from_secret_key(
        &Secp256k1::new(),
        &SecretKey::from_slice(&[0x43; 32]).unwrap(),
    )
    .x_only_public_key()
    .0;
    let miner = spawn(cfg).unwrap();
    let (tcp, _) = other.listener.accept().await.unwrap();
    let _server = sv2_noise::accept(tcp, &other.keys, TIMEOUT).await;
    let err = tokio::time::timeout(TIMEOUT, miner.join())
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, MinerError::Noise(_)), "{err}");
}
