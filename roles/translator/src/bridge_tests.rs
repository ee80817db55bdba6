//! Bridge tests without sockets: SV1 lines in, SV2 messages in, everything that comes out
//! checked, shares mined the way a miner does it (from the `mining.notify` line).

use super::*;
use sv1::{
    parse_client_line, parse_server_line, ConfigureResult, Id, Notify, ResponseResult,
    ServerMessage, SubscribeResult,
};
use sv2_codec::common::{mining_flags, SetupConnectionSuccess};
use sv2_codec::mining::{
    NewExtendedMiningJob, OpenExtendedMiningChannelSuccess, OpenMiningChannelError,
    SetExtranoncePrefix, SetNewPrevHash, SetTarget, SubmitSharesError, SubmitSharesExtended,
};
use sv2_codec::{CommonMessage, MiningMessage};
use sv2_mining::merkle::merkle_root_from_path;
use sv2_mining::sha256d::sha256d;
use sv2_mining::share::ExtendedJobHasher;

const NBITS: u32 = 0x1703_4219;
const EASY: f64 = 1e-7;

fn settings(mode: ChannelMode) -> BridgeSettings {
    BridgeSettings {
        site: "fra1".into(),
        password: None,
        mode,
        aggregate_identity: "fra1.translator".into(),
        en1_len: 2,
        en2_len: 4,
        version_mask: 0x1fff_e000,
        vardiff: VardiffConfig {
            target_share_interval_ms: 10_000,
            min_difficulty: 1e-9,
            max_difficulty: 1e12,
            ..VardiffConfig::default()
        },
        initial_difficulty: EASY,
        setup_timeout_ms: 30_000,
        max_invalid_per_minute: 20,
        max_malformed_lines: 3,
        max_consecutive_rejects: 5,
        update_interval_ms: 30_000,
        release_after_ms: Some(600_000),
    }
}

fn coinbase_parts() -> (Vec<u8>, Vec<u8>) {
    let mut prefix = vec![2, 0, 0, 0, 1];
    prefix.extend_from_slice(&[0u8; 32]);
    prefix.extend_from_slice(&[0xff; 4]);
    prefix.push(4 + 16);
    prefix.extend_from_slice(&[3, 0x10, 0x27, 0x00]);
    let mut suffix = vec![0xff, 0xff, 0xff, 0xff, 1];
    suffix.extend_from_slice(&5_000_000_000u64.to_le_bytes());
    suffix.extend_from_slice(&[1, 0x51, 0, 0, 0, 0]);
    (prefix, suffix)
}

fn future_job(channel_id: u32, job_id: u32) -> NewExtendedMiningJob {
    let (prefix, suffix) = coinbase_parts();
    NewExtendedMiningJob {
        channel_id,
        job_id,
        min_ntime: None,
        version: 0x2000_0000,
        version_rolling_allowed: true,
        merkle_path: vec![[0x11; 32], [0x22; 32]],
        coinbase_tx_prefix: prefix,
        coinbase_tx_suffix: suffix,
    }
}

fn prev_hash(channel_id: u32, job_id: u32, seed: u8) -> SetNewPrevHash {
    SetNewPrevHash {
        channel_id,
        job_id,
        prev_hash: [seed; 32],
        min_ntime: 1_700_000_000,
        nbits: NBITS,
    }
}

/// A bridge plus a clock and helpers.
struct H {
    b: Bridge,
    now: u64,
}

/// Everything one call produced, split by destination.
#[derive(Default, Debug)]
struct Out {
    miners: Vec<(MinerId, ServerMessage, Bytes)>,
    closed: Vec<MinerId>,
    upstream: Vec<Message>,
    abandoned: Vec<String>,
    accepting: Vec<bool>,
}

impl Out {
    fn to(&self, id: MinerId) -> Vec<&ServerMessage> {
        self.miners
            .iter()
            .filter(|(m, _, _)| *m == id)
            .map(|(_, s, _)| s)
            .collect()
    }

    fn notifies(&self, id: MinerId) -> Vec<Notify> {
        self.to(id)
            .into_iter()
            .filter_map(|m| match m {
                ServerMessage::Notification(Notification::Notify(n)) => Some(n.clone()),
                _ => None,
            })
            .collect()
    }

    fn response(&self, id: MinerId) -> &Response {
        self.to(id)
            .into_iter()
            .find_map(|m| match m {
                ServerMessage::Response(r) => Some(r),
                _ => None,
            })
            .expect("a response")
    }

    fn submits(&self) -> Vec<SubmitSharesExtended> {
        self.upstream
            .iter()
            .filter_map(|m| match m {
                Message::Mining(MiningMessage::SubmitSharesExtended(s)) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }
}

fn split(actions: Vec<Action>) -> Out {
    let mut o = Out::default();
    for a in actions {
        match a {
            Action::ToMiner(id, bytes) => {
                let text = std::str::from_utf8(&bytes).expect("utf-8");
                assert!(text.ends_with('\n'), "one line per message");
                let msg = parse_server_line(text).expect("valid SV1 line");
                o.miners.push((id, msg, bytes));
            }
            Action::CloseMiner(id) => o.closed.push(id),
            Action::ToUpstream(m) => o.upstream.push(m),
            Action::AbandonUpstream(r) => o.abandoned.push(r),
            Action::RedirectUpstream { .. } => {}
            Action::Accepting(on) => o.accepting.push(on),
        }
    }
    o
}

impl H {
    fn new(mode: ChannelMode) -> H {
        H {
            b: Bridge::new(settings(mode)).unwrap(),
            now: 1_000,
        }
    }

    fn with(s: BridgeSettings) -> H {
        H {
            b: Bridge::new(s).unwrap(),
            now: 1_000,
        }
    }

    fn up(&mut self, m: impl Into<Message>) -> Out {
        let mut out = Vec::new();
        self.b.upstream_message(m.into(), self.now, &mut out);
        split(out)
    }

    fn line(&mut self, id: MinerId, text: &str) -> Out {
        let mut out = Vec::new();
        self.b
            .miner_line(id, parse_client_line(text), self.now, &mut out);
        split(out)
    }

    fn tick(&mut self, advance_ms: u64) -> Out {
        self.now += advance_ms;
        let mut out = Vec::new();
        self.b.tick(self.now, &mut out);
        split(out)
    }

    /// Connects the upstream, answers setup, returns the OpenExtendedMiningChannel(s).
    fn connect_upstream(&mut self, setup_flags: u32) -> Out {
        let mut out = Vec::new();
        self.b
            .upstream_connected("pool.test", 34254, self.now, &mut out);
        let o = split(out);
        assert!(matches!(
            o.upstream.as_slice(),
            [Message::Common(CommonMessage::SetupConnection(_))]
        ));
        self.up(SetupConnectionSuccess {
            used_version: 2,
            flags: setup_flags,
        })
    }

    fn open_success(&mut self, open: &Message, channel_id: u32, prefix: Vec<u8>, size: u16) -> Out {
        let Message::Mining(MiningMessage::OpenExtendedMiningChannel(o)) = open else {
            panic!("expected an open, got {open:?}")
        };
        self.up(OpenExtendedMiningChannelSuccess {
            request_id: o.request_id,
            channel_id,
            target: [0xff; 32],
            extranonce_size: size,
            extranonce_prefix: prefix,
            group_channel_id: 0,
        })
    }

    /// Future job + prev hash on `channel_id`: the clean notify output.
    fn new_block(&mut self, channel_id: u32, job_id: u32, seed: u8) -> Out {
        let o = self.up(future_job(channel_id, job_id));
        assert!(o.miners.is_empty(), "future jobs wait for their prev hash");
        self.up(prev_hash(channel_id, job_id, seed))
    }

    fn connect_miner(&mut self, id: MinerId) {
        assert!(self.b.miner_connected(id, self.now));
    }

    /// configure (version rolling) + subscribe + authorize; returns (subscribe result, out).
    fn handshake(&mut self, id: MinerId, user: &str, rolling: bool) -> (SubscribeResult, Out) {
        if rolling {
            let o = self.line(
                id,
                r#"{"id":1,"method":"mining.configure","params":[["version-rolling"],{"version-rolling.mask":"1fffe000","version-rolling.min-bit-count":16}]}"#,
            );
            let ResponseResult::Configure(c) = &o.response(id).result else {
                panic!("configure result expected")
            };
            assert_eq!(c.version_rolling, Some(true));
            assert_eq!(c.version_rolling_mask, Some(0x1fff_e000));
        }
        let o = self.line(
            id,
            r#"{"id":2,"method":"mining.subscribe","params":["bmminer/2.0.0"]}"#,
        );
        let ResponseResult::Subscribe(sub) = o.response(id).result.clone() else {
            panic!("subscribe result expected")
        };
        let o = self.line(
            id,
            &format!(r#"{{"id":3,"method":"mining.authorize","params":["{user}","x"]}}"#),
        );
        assert_eq!(o.response(id).result, ResponseResult::Bool(true));
        (sub, o)
    }
}

/// The header hash an SV1 miner computes from a notify.
fn miner_hash(
    n: &Notify,
    en1: &[u8],
    en2: &[u8],
    version: u32,
    ntime: u32,
    nonce: u32,
) -> [u8; 32] {
    let mut coinbase = n.coinb1.clone();
    coinbase.extend_from_slice(en1);
    coinbase.extend_from_slice(en2);
    coinbase.extend_from_slice(&n.coinb2);
    let root = merkle_root_from_path(&sha256d(&coinbase), &n.merkle_branch);
    let mut h = [0u8; 80];
    h[0..4].copy_from_slice(&version.to_le_bytes());
    h[4..36].copy_from_slice(&n.prev_hash.to_header_bytes());
    h[36..68].copy_from_slice(&root);
    h[68..72].copy_from_slice(&ntime.to_le_bytes());
    h[72..76].copy_from_slice(&n.nbits.to_le_bytes());
    h[76..80].copy_from_slice(&nonce.to_le_bytes());
    sha256d(&h)
}

/// A nonce whose hash meets (`hit`) or misses the difficulty.
fn find_nonce(n: &Notify, en1: &[u8], en2: &[u8], version: u32, difficulty: f64, hit: bool) -> u32 {
    let t = Target::from_difficulty(difficulty);
    (0u32..)
        .find(|nonce| t.is_met_by(&miner_hash(n, en1, en2, version, n.ntime, *nonce)) == hit)
        .expect("a nonce")
}

fn submit_line(
    id: u64,
    job: &str,
    en2: &[u8],
    ntime: u32,
    nonce: u32,
    vbits: Option<u32>,
) -> String {
    let v = vbits.map_or(String::new(), |b| format!(",\"{b:08x}\""));
    format!(
        r#"{{"id":{id},"method":"mining.submit","params":["fra1.rig1","{job}","{}","{ntime:08x}","{nonce:08x}"{v}]}}"#,
        hex::encode(en2)
    )
}

fn rejected_code(o: &Out, id: MinerId) -> Option<i64> {
    o.response(id).error.as_ref().map(|e| e.code)
}

/// Aggregate setup with one open channel (id 9, prefix 8 bytes, 8 rollable) and a block.
fn aggregate_ready() -> (H, Out) {
    let mut h = H::new(ChannelMode::Aggregate);
    let o = h.connect_upstream(0);
    assert_eq!(o.upstream.len(), 1);
    let open = o.upstream[0].clone();
    let Message::Mining(MiningMessage::OpenExtendedMiningChannel(req)) = &open else {
        panic!()
    };
    assert_eq!(req.user_identity, "fra1.translator");
    assert_eq!(
        req.min_extranonce_size, 4,
        "extranonce1 + the smallest extranonce2"
    );
    assert_eq!(req.max_target, [0xff; 32]);
    h.open_success(&open, 9, vec![0xc0; 8], 8);
    let o = h.new_block(9, 1, 0xaa);
    (h, o)
}

#[test]
fn handshake_order_and_first_job() {
    let (mut h, _) = aggregate_ready();
    h.connect_miner(1);
    let (sub, o) = h.handshake(1, "acct.rig1", true);
    assert_eq!(sub.extranonce1.len(), 2);
    assert_eq!(sub.extranonce2_size, 4);
    let msgs = o.to(1);
    // authorize response, then set_difficulty, then the job with clean_jobs.
    assert!(matches!(msgs[0], ServerMessage::Response(_)));
    assert!(matches!(
        msgs[1],
        ServerMessage::Notification(Notification::SetDifficulty { difficulty }) if *difficulty == EASY
    ));
    let ServerMessage::Notification(Notification::Notify(n)) = msgs[2] else {
        panic!("notify expected, got {:?}", msgs[2])
    };
    assert!(n.clean_jobs);
    assert_eq!(n.nbits, NBITS);
    assert_eq!(n.prev_hash.to_header_bytes(), [0xaa; 32]);
    // coinb1 = coinbase_tx_prefix | channel prefix; coinb2 = 2 padding bytes | suffix.
    let (prefix, suffix) = coinbase_parts();
    let mut coinb1 = prefix;
    coinb1.extend_from_slice(&[0xc0; 8]);
    assert_eq!(n.coinb1, coinb1);
    let mut coinb2 = vec![0, 0];
    coinb2.extend_from_slice(&suffix);
    assert_eq!(n.coinb2, coinb2);
    assert_eq!(h.b.ready_count(), 1);
    assert!(h.b.mining());
}

#[test]
fn valid_share_is_answered_and_forwarded_with_the_right_extranonce() {
    let (mut h, _) = aggregate_ready();
    h.connect_miner(1);
    let (sub, o) = h.handshake(1, "acct.rig1", true);
    let n = &o.notifies(1)[0];
    let en2 = [1, 2, 3, 4];
    let version = 0x2000_0000 | 0x0056_a000;
    let nonce = find_nonce(n, &sub.extranonce1, &en2, version, EASY, true);
    let o = h.line(
        1,
        &submit_line(
            10,
            &n.job_id,
            &en2,
            n.ntime,
            nonce,
            Some(version & 0x1fff_e000),
        ),
    );
    assert_eq!(o.response(1).result, ResponseResult::Bool(true));
    assert!(o.response(1).error.is_none());
    let subs = o.submits();
    assert_eq!(
        subs.len(),
        1,
        "the channel target is MAX: every share goes up"
    );
    let s = &subs[0];
    assert_eq!(s.channel_id, 9);
    assert_eq!(s.job_id, 1);
    assert_eq!(s.version, version);
    assert_eq!(s.nonce, nonce);
    let mut en = sub.extranonce1.clone();
    en.extend_from_slice(&en2);
    en.extend_from_slice(&[0, 0]);
    assert_eq!(s.extranonce, en);
    // The pool's check of the forwarded share gives the hash the miner found.
    let (prefix, suffix) = coinbase_parts();
    let mut fixed = prefix;
    fixed.extend_from_slice(&[0xc0; 8]);
    let mut pool = ExtendedJobHasher::new(&fixed, &suffix, &n.merkle_branch, [0xaa; 32], NBITS);
    assert_eq!(
        pool.hash(&s.extranonce, s.version, s.ntime, s.nonce),
        miner_hash(n, &sub.extranonce1, &en2, version, n.ntime, nonce)
    );
    assert_eq!(h.b.counters().forwarded, 1);
    assert_eq!(h.b.miner(1).unwrap().counters().accepted, 1);

    // The same share again is a duplicate.
    let o = h.line(
        1,
        &submit_line(
            11,
            &n.job_id,
            &en2,
            n.ntime,
            nonce,
            Some(version & 0x1fff_e000),
        ),
    );
    assert_eq!(rejected_code(&o, 1), Some(22));
    assert!(o.submits().is_empty());
}

#[test]
fn local_rejections_carry_stratum_codes() {
    let (mut h, _) = aggregate_ready();
    h.connect_miner(1);
    // Submitting before subscribing.
    let o = h.line(1, &submit_line(5, "1", &[0; 4], 0, 0, None));
    assert_eq!(rejected_code(&o, 1), Some(25));
    let (sub, o) = h.handshake(1, "rig1", false);
    let n = o.notifies(1)[0].clone();
    let en1 = sub.extranonce1;
    // Unknown job.
    let o = h.line(1, &submit_line(6, "ffff", &[0; 4], n.ntime, 0, None));
    assert_eq!(rejected_code(&o, 1), Some(21));
    // Wrong extranonce2 size.
    let o = h.line(1, &submit_line(7, &n.job_id, &[0; 3], n.ntime, 0, None));
    assert_eq!(rejected_code(&o, 1), Some(20));
    // ntime before the job / far in the future.
    let o = h.line(1, &submit_line(8, &n.job_id, &[0; 4], n.ntime - 1, 0, None));
    assert_eq!(rejected_code(&o, 1), Some(20));
    let o = h.line(
        1,
        &submit_line(9, &n.job_id, &[0; 4], n.ntime + 8000, 0, None),
    );
    assert_eq!(rejected_code(&o, 1), Some(20));
    // Above the target: set a real difficulty first.
    let o = h.line(
        1,
        r#"{"id":10,"method":"mining.suggest_difficulty","params":[1000]}"#,
    );
    let n2 = o.notifies(1)[0].clone();
    assert!(!n2.clean_jobs);
    assert_ne!(n2.job_id, n.job_id, "re-sent under a fresh id");
    let miss = find_nonce(&n2, &en1, &[9; 4], 0x2000_0000, 1000.0, false);
    let o = h.line(
        1,
        &submit_line(11, &n2.job_id, &[9; 4], n2.ntime, miss, None),
    );
    assert_eq!(rejected_code(&o, 1), Some(23));
    // Unknown methods get an error, not a disconnection.
    let o = h.line(
        1,
        r#"{"id":12,"method":"mining.get_transactions","params":[]}"#,
    );
    assert_eq!(rejected_code(&o, 1), Some(20));
    assert!(o.closed.is_empty());
    assert_eq!(h.b.counters().shares_rejected, 6);
}

#[test]
fn version_bits_outside_the_grant_do_not_reach_the_header() {
    let (mut h, _) = aggregate_ready();
    h.connect_miner(1);
    let (sub, o) = h.handshake(1, "rig1", true);
    let n = o.notifies(1)[0].clone();
    // The miner rolled bit 0 (not allowed): the header keeps the job's bit 0, the hash
    // differs from what the miner computed, and the share fails the (real) target.
    let d = 1e-5;
    let o = h.line(
        1,
        r#"{"id":10,"method":"mining.suggest_difficulty","params":[0.00001]}"#,
    );
    let n = o.notifies(1).first().cloned().unwrap_or(n);
    let bad_version = 0x2000_0001;
    let nonce = find_nonce(&n, &sub.extranonce1, &[0; 4], bad_version, d, true);
    let o = h.line(
        1,
        &submit_line(11, &n.job_id, &[0; 4], n.ntime, nonce, Some(bad_version)),
    );
    assert_eq!(rejected_code(&o, 1), Some(23));
}

#[test]
fn upstream_target_filters_what_is_forwarded() {
    let (mut h, _) = aggregate_ready();
    // A demanding upstream target: shares below it stay local.
    h.up(SetTarget {
        channel_id: 9,
        maximum_target: Target::from_difficulty(1e6).to_le_bytes(),
    });
    h.connect_miner(1);
    let (sub, o) = h.handshake(1, "rig1", true);
    let n = &o.notifies(1)[0];
    let nonce = find_nonce(n, &sub.extranonce1, &[5; 4], 0x2000_0000, EASY, true);
    let o = h.line(
        1,
        &submit_line(10, &n.job_id, &[5; 4], n.ntime, nonce, None),
    );
    assert_eq!(o.response(1).result, ResponseResult::Bool(true));
    assert!(o.submits().is_empty());
    assert_eq!(h.b.counters().shares_accepted, 1);
    assert_eq!(h.b.counters().forwarded, 0);
}

#[test]
fn one_notify_line_for_every_miner_and_clean_jobs_on_a_new_block() {
    let (mut h, _) = aggregate_ready();
    for id in 1..=3 {
        h.connect_miner(id);
        h.handshake(id, &format!("acct.rig{id}"), id != 2);
    }
    let o = h.new_block(9, 2, 0xbb);
    let lines: Vec<&Bytes> = o.miners.iter().map(|(_, _, b)| b).collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines.windows(2).all(|w| w[0] == w[1]),
        "the same serialized line"
    );
    for id in 1..=3 {
        let n = &o.notifies(id)[0];
        assert!(n.clean_jobs);
        assert_eq!(n.prev_hash.to_header_bytes(), [0xbb; 32]);
    }
    // A job on the same tip: not clean.
    let mut j = future_job(9, 3);
    j.min_ntime = Some(1_700_000_030);
    let o = h.up(j);
    let n = &o.notifies(1)[0];
    assert!(!n.clean_jobs);
    assert_eq!(n.ntime, 1_700_000_030);
    // Shares on the previous block's job are stale now.
    let o = h.line(1, &submit_line(20, "2", &[0; 4], 1_700_000_000, 0, None));
    assert_eq!(rejected_code(&o, 1), Some(21));
}

#[test]
fn miners_arriving_before_the_pool_get_work_when_it_comes() {
    let mut h = H::new(ChannelMode::Aggregate);
    h.connect_miner(1);
    let (_, o) = h.handshake(1, "rig1", true);
    assert!(o.notifies(1).is_empty());
    let o = h.connect_upstream(0);
    let open = o.upstream[0].clone();
    h.open_success(&open, 4, vec![1, 2, 3, 4], 8);
    let o = h.new_block(4, 1, 0x01);
    assert_eq!(o.notifies(1).len(), 1);
    assert!(o.notifies(1)[0].clean_jobs);
}

#[test]
fn vardiff_change_sends_difficulty_then_the_job_again() {
    let mut s = settings(ChannelMode::Aggregate);
    s.vardiff.target_share_interval_ms = 1_000;
    let mut h = H::with(s);
    let o = h.connect_upstream(0);
    let open = o.upstream[0].clone();
    h.open_success(&open, 9, vec![0xc0; 8], 8);
    h.new_block(9, 1, 0xaa);
    h.connect_miner(1);
    let (sub, o) = h.handshake(1, "rig1", true);
    let mut n = o.notifies(1)[0].clone();
    let mut changed = None;
    let mut en2 = 0u32;
    // Far more shares than one per second: vardiff raises the difficulty.
    'outer: for _ in 0..400 {
        for _ in 0..20 {
            en2 += 1;
            let e = en2.to_be_bytes();
            let d = h.b.miner(1).unwrap().difficulty();
            let nonce = find_nonce(&n, &sub.extranonce1, &e, 0x2000_0000, d, true);
            let o = h.line(1, &submit_line(50, &n.job_id, &e, n.ntime, nonce, None));
            assert_eq!(o.response(1).result, ResponseResult::Bool(true));
        }
        let o = h.tick(100);
        if let Some(d) = o.to(1).iter().find_map(|m| match m {
            ServerMessage::Notification(Notification::SetDifficulty { difficulty }) => {
                Some(*difficulty)
            }
            _ => None,
        }) {
            let msgs = o.to(1);
            assert!(matches!(
                msgs[0],
                ServerMessage::Notification(Notification::SetDifficulty { .. })
            ));
            let ServerMessage::Notification(Notification::Notify(again)) = msgs[1] else {
                panic!("the job is re-sent after set_difficulty")
            };
            assert_ne!(again.job_id, n.job_id);
            assert!(!again.clean_jobs);
            assert_eq!(again.coinb1, n.coinb1);
            changed = Some((d, again.clone()));
            break 'outer;
        }
    }
    let (d, again) = changed.expect("vardiff raised the difficulty");
    assert!(d > EASY);
    // A share at the old (easier) difficulty on the old job id is still accepted...
    en2 += 1;
    let e = en2.to_be_bytes();
    let nonce = find_nonce(&n, &sub.extranonce1, &e, 0x2000_0000, EASY, true);
    let o = h.line(1, &submit_line(60, &n.job_id, &e, n.ntime, nonce, None));
    assert_eq!(o.response(1).result, ResponseResult::Bool(true));
    // ...and on the new id the new difficulty applies.
    n = again;
    let miss = find_nonce(&n, &sub.extranonce1, &e, 0x2000_0000, d, false);
    let o = h.line(1, &submit_line(61, &n.job_id, &e, n.ntime, miss, None));
    assert_eq!(rejected_code(&o, 1), Some(23));
}

#[test]
fn failover_keeps_miners_and_their_extranonce1() {
    let (mut h, _) = aggregate_ready();
    h.connect_miner(1);
    let (sub, o) = h.handshake(1, "rig1", true);
    let n1 = o.notifies(1)[0].clone();
    h.b.upstream_lost(h.now);
    assert!(!h.b.mining());
    // Work on the lost pool's job is still answered, but not forwarded.
    let nonce = find_nonce(&n1, &sub.extranonce1, &[1; 4], 0x2000_0000, EASY, true);
    let o = h.line(
        1,
        &submit_line(10, &n1.job_id, &[1; 4], n1.ntime, nonce, None),
    );
    assert_eq!(o.response(1).result, ResponseResult::Bool(true));
    assert!(o.submits().is_empty());
    assert_eq!(h.b.counters().unforwarded, 1);
    // A second pool: new channel, new prefix, same extranonce sizes.
    let o = h.connect_upstream(0);
    let open = o.upstream[0].clone();
    h.open_success(&open, 1, vec![0x5e; 6], 8);
    let o = h.new_block(1, 77, 0xcc);
    let msgs = o.to(1);
    assert_eq!(
        msgs.len(),
        1,
        "no set_extranonce, no reconnect: only the job"
    );
    let n2 = o.notifies(1)[0].clone();
    assert!(n2.clean_jobs);
    assert!(n2.coinb1.ends_with(&[0x5e; 6]));
    assert!(h.b.mining());
    // The old job is gone; the new one forwards to the new channel.
    let o = h.line(
        1,
        &submit_line(11, &n1.job_id, &[2; 4], n1.ntime, nonce, None),
    );
    assert_eq!(rejected_code(&o, 1), Some(21));
    let nonce = find_nonce(&n2, &sub.extranonce1, &[3; 4], 0x2000_0000, EASY, true);
    let o = h.line(
        1,
        &submit_line(12, &n2.job_id, &[3; 4], n2.ntime, nonce, None),
    );
    assert_eq!(o.response(1).result, ResponseResult::Bool(true));
    let subs = o.submits();
    assert_eq!(subs.len(), 1);
    assert_eq!((subs[0].channel_id, subs[0].job_id), (1, 77));
    assert_eq!(&subs[0].extranonce[..2], &sub.extranonce1[..]);
}

#[test]
fn smaller_extranonce_upstream_sends_set_extranonce_or_reconnect() {
    let (mut h, _) = aggregate_ready();
    h.connect_miner(1);
    h.connect_miner(2);
    h.line(
        1,
        r#"{"id":1,"method":"mining.extranonce.subscribe","params":[]}"#,
    );
    let (sub1, _) = h.handshake(1, "rig1", true);
    h.handshake(2, "rig2", true);
    h.b.upstream_lost(h.now);
    let o = h.connect_upstream(0);
    let open = o.upstream[0].clone();
    // Only 5 bytes: 2 for extranonce1, 3 left for extranonce2.
    h.open_success(&open, 2, vec![7; 4], 5);
    assert_eq!(h.b.extranonce2_len(), 3);
    let o = h.new_block(2, 1, 0xdd);
    let m1 = o.to(1);
    let ServerMessage::Notification(Notification::SetExtranonce {
        extranonce1,
        extranonce2_size,
    }) = m1[0]
    else {
        panic!("set_extranonce first, got {:?}", m1[0])
    };
    assert_eq!(extranonce1, &sub1.extranonce1);
    assert_eq!(*extranonce2_size, 3);
    assert!(matches!(
        m1[1],
        ServerMessage::Notification(Notification::Notify(_))
    ));
    // Miner 2 cannot take a new extranonce: reconnect and close.
    assert!(matches!(
        o.to(2)[..],
        [ServerMessage::Notification(Notification::Reconnect(_))]
    ));
    assert_eq!(o.closed, vec![2]);
    // Miner 1 mines with 3 bytes; the share carries no padding upstream.
    let n = o.notifies(1)[0].clone();
    let nonce = find_nonce(&n, &sub1.extranonce1, &[1, 2, 3], 0x2000_0000, EASY, true);
    let o = h.line(
        1,
        &submit_line(9, &n.job_id, &[1, 2, 3], n.ntime, nonce, None),
    );
    assert_eq!(o.response(1).result, ResponseResult::Bool(true));
    assert_eq!(o.submits()[0].extranonce.len(), 5);
    // New miners subscribe with the smaller size.
    h.connect_miner(3);
    let (sub3, _) = h.handshake(3, "rig3", false);
    assert_eq!(sub3.extranonce2_size, 3);
}

#[test]
fn unusable_pool_is_abandoned() {
    let mut h = H::new(ChannelMode::Aggregate);
    let o = h.connect_upstream(0);
    let open = o.upstream[0].clone();
    let o = h.open_success(&open, 1, vec![7; 4], 3);
    assert_eq!(o.abandoned.len(), 1, "{o:?}");
    assert!(o.abandoned[0].contains("extranonce"));

    let mut h = H::new(ChannelMode::Aggregate);
    let o = h.connect_upstream(0);
    let Message::Mining(MiningMessage::OpenExtendedMiningChannel(req)) = &o.upstream[0] else {
        panic!()
    };
    let o = h.up(OpenMiningChannelError {
        request_id: req.request_id,
        error_code: "unknown-user".into(),
    });
    assert!(o.abandoned[0].contains("unknown-user"));
    assert!(!h.b.upstream_ready());
}

#[test]
fn repeated_upstream_rejections_fail_over() {
    let (mut h, _) = aggregate_ready();
    for seq in 1..=4 {
        let o = h.up(SubmitSharesError {
            channel_id: 9,
            sequence_number: seq,
            error_code: "stale-share".into(),
        });
        assert!(o.abandoned.is_empty());
    }
    let o = h.up(SubmitSharesError {
        channel_id: 9,
        sequence_number: 5,
        error_code: "invalid-share".into(),
    });
    assert_eq!(o.abandoned.len(), 1);
    assert_eq!(h.b.counters().upstream_rejected, 5);
}

#[test]
fn fixed_version_pool_withdraws_version_rolling() {
    let mut h = H::new(ChannelMode::Aggregate);
    h.connect_miner(1);
    h.handshake(1, "rig1", true);
    let o = h.connect_upstream(mining_flags::SUCCESS_REQUIRES_FIXED_VERSION);
    assert!(matches!(
        o.to(1)[..],
        [ServerMessage::Notification(Notification::SetVersionMask {
            mask: 0
        })]
    ));
    assert_eq!(h.b.miner(1).unwrap().version_mask(), 0);
    // A miner configuring now is refused version rolling.
    h.connect_miner(2);
    let o = h.line(
        2,
        r#"{"id":1,"method":"mining.configure","params":[["version-rolling"],{"version-rolling.mask":"1fffe000"}]}"#,
    );
    let ResponseResult::Configure(ConfigureResult {
        version_rolling, ..
    }) = &o.response(2).result
    else {
        panic!()
    };
    assert_eq!(*version_rolling, Some(false));
}

#[test]
fn set_extranonce_prefix_only_changes_coinb1() {
    let (mut h, _) = aggregate_ready();
    h.connect_miner(1);
    h.handshake(1, "rig1", true);
    let o = h.up(SetExtranoncePrefix {
        channel_id: 9,
        extranonce_prefix: vec![0xee; 9],
    });
    assert!(o.miners.is_empty());
    let mut j = future_job(9, 5);
    j.min_ntime = Some(1_700_000_010);
    let o = h.up(j);
    let msgs = o.to(1);
    assert_eq!(
        msgs.len(),
        1,
        "no set_extranonce needed: 7 bytes still fit 2 + 4"
    );
    let n = &o.notifies(1)[0];
    assert!(n.coinb1.ends_with(&[0xee; 9]));
    assert_eq!(&n.coinb2[..1], &[0], "one padding byte left");
    assert_eq!(h.b.extranonce2_len(), 4);
}

#[test]
fn garbage_and_bad_params() {
    let (mut h, _) = aggregate_ready();
    h.connect_miner(1);
    h.connect_miner(2);
    h.handshake(2, "rig2", true);
    // Bad parameters of a known method: an error answer, the connection stays.
    let o = h.line(
        1,
        r#"{"id":4,"method":"mining.submit","params":["w","1","abc","0","0"]}"#,
    );
    assert_eq!(rejected_code(&o, 1), Some(20));
    assert!(o.closed.is_empty());
    // Garbage: the third line closes.
    let mut out = Vec::new();
    for text in ["GET / HTTP/1.1", "\u{1}\u{2}", "{not json"] {
        h.b.miner_line(1, parse_client_line(text), h.now, &mut out);
    }
    let o = split(out);
    assert_eq!(o.closed, vec![1]);
    // Nothing more is sent to a closing miner, the other miner is unaffected.
    let o = h.new_block(9, 2, 0x02);
    assert!(o.to(1).is_empty());
    assert_eq!(o.notifies(2).len(), 1);
    let mut out = Vec::new();
    h.b.miner_disconnected(1, "closed_by_translator", &mut out);
    assert_eq!(h.b.miner_count(), 1);
}

#[test]
fn invalid_share_cutoff() {
    let (mut h, _) = aggregate_ready();
    h.connect_miner(1);
    h.handshake(1, "rig1", false);
    let mut closed = false;
    for i in 0..25 {
        let o = h.line(1, &submit_line(i, "dead", &[0; 4], 0, 0, None));
        if o.closed == vec![1] {
            closed = true;
            assert!(i >= 20);
            break;
        }
    }
    assert!(closed);
}

#[test]
fn password_is_checked() {
    let mut s = settings(ChannelMode::Aggregate);
    s.password = Some("s3cret".into());
    let mut h = H::with(s);
    h.connect_miner(1);
    h.line(1, r#"{"id":2,"method":"mining.subscribe","params":[]}"#);
    let o = h.line(
        1,
        r#"{"id":3,"method":"mining.authorize","params":["a.b","wrong"]}"#,
    );
    assert_eq!(rejected_code(&o, 1), Some(24));
    assert!(o.to(1).len() == 1, "no job for an unauthorized miner");
    let o = h.line(
        1,
        r#"{"id":4,"method":"mining.authorize","params":["a.b","s3cret"]}"#,
    );
    assert_eq!(o.response(1).result, ResponseResult::Bool(true));
}

#[test]
fn setup_timeout_closes_idle_handshakes() {
    let (mut h, _) = aggregate_ready();
    h.connect_miner(1);
    h.connect_miner(2);
    h.handshake(2, "rig2", false);
    assert!(h.tick(10_000).closed.is_empty());
    let o = h.tick(25_000);
    assert_eq!(o.closed, vec![1]);
}

#[test]
fn aggregate_hashrate_goes_upstream() {
    let mut s = settings(ChannelMode::Aggregate);
    s.initial_difficulty = 100_000.0;
    let mut h = H::with(s);
    let o = h.connect_upstream(0);
    let Message::Mining(MiningMessage::OpenExtendedMiningChannel(req)) = &o.upstream[0] else {
        panic!()
    };
    assert_eq!(req.nominal_hash_rate, 0.0, "no miners yet");
    let open = o.upstream[0].clone();
    h.open_success(&open, 9, vec![0xc0; 8], 8);
    h.new_block(9, 1, 0xaa);
    for id in 1..=10 {
        h.connect_miner(id);
        h.handshake(id, "rig", false);
    }
    let o = h.tick(6_000);
    let updates: Vec<_> = o
        .upstream
        .iter()
        .filter_map(|m| match m {
            Message::Mining(MiningMessage::UpdateChannel(u)) => Some(u.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(updates.len(), 1);
    let expected = h.b.total_hashrate();
    assert!(expected > 0.0);
    assert_eq!(updates[0].channel_id, 9);
    assert!((f64::from(updates[0].nominal_hash_rate) / expected - 1.0).abs() < 1e-3);
    // Unchanged total: nothing more, even after the periodic interval.
    let o = h.tick(40_000);
    assert!(o.upstream.is_empty());
}

#[test]
fn long_outage_releases_miners_and_refuses_new_ones() {
    let (mut h, _) = aggregate_ready();
    h.connect_miner(1);
    h.handshake(1, "rig1", true);
    h.b.upstream_lost(h.now);
    assert!(h.tick(300_000).closed.is_empty());
    let o = h.tick(300_001);
    assert_eq!(o.accepting, vec![false]);
    assert_eq!(o.closed, vec![1]);
    // (vardiff may have lowered the difficulty of the silent miner first)
    assert!(matches!(
        o.to(1).last(),
        Some(ServerMessage::Notification(Notification::Reconnect(_)))
    ));
    // Back: the first job re-opens the door.
    let o = h.connect_upstream(0);
    let open = o.upstream[0].clone();
    h.open_success(&open, 3, vec![1; 8], 8);
    let o = h.new_block(3, 1, 0x09);
    assert_eq!(o.accepting, vec![true]);
}

#[test]
fn shutdown_sends_reconnect_to_everyone() {
    let (mut h, _) = aggregate_ready();
    h.connect_miner(1);
    h.connect_miner(2);
    h.handshake(1, "rig1", true);
    let mut out = Vec::new();
    h.b.shutdown(&mut out);
    let o = split(out);
    assert_eq!(o.closed.len(), 2);
    for id in [1, 2] {
        assert!(matches!(
            o.to(id)[..],
            [ServerMessage::Notification(Notification::Reconnect(_))]
        ));
    }
}

#[test]
fn per_miner_channels() {
    let mut h = H::new(ChannelMode::PerMiner);
    let o = h.connect_upstream(0);
    assert!(o.upstream.is_empty(), "no channel without miners");
    h.connect_miner(1);
    h.connect_miner(2);
    let (sub1, o1) = h.handshake(1, "acct.rig1", true);
    let (_, o2) = h.handshake(2, "rig2", true);
    let open1 = o1.upstream[0].clone();
    let open2 = o2.upstream[0].clone();
    for (open, who) in [(&open1, "fra1.rig1"), (&open2, "fra1.rig2")] {
        let Message::Mining(MiningMessage::OpenExtendedMiningChannel(r)) = open else {
            panic!()
        };
        assert_eq!(r.user_identity, who);
    }
    h.open_success(&open1, 11, vec![1; 8], 8);
    h.open_success(&open2, 12, vec![2; 8], 8);
    let o = h.new_block(11, 1, 0x0a);
    assert_eq!(o.notifies(1).len(), 1);
    assert!(o.to(2).is_empty(), "jobs of a channel go to its miner only");
    let n = o.notifies(1)[0].clone();
    assert!(n.coinb1.ends_with(&[1; 8]));
    let nonce = find_nonce(&n, &sub1.extranonce1, &[4; 4], 0x2000_0000, EASY, true);
    let o = h.line(1, &submit_line(7, &n.job_id, &[4; 4], n.ntime, nonce, None));
    assert_eq!(o.submits()[0].channel_id, 11);
    // Miner 2 cannot use miner 1's job id.
    h.new_block(12, 1, 0x0b);
    let o = h.line(2, &submit_line(8, &n.job_id, &[4; 4], n.ntime, nonce, None));
    assert!(o.submits().is_empty());
    // Disconnecting closes its channel upstream.
    let mut out = Vec::new();
    h.b.miner_disconnected(1, "eof", &mut out);
    let o = split(out);
    assert!(matches!(
        o.upstream[..],
        [Message::Mining(MiningMessage::CloseChannel(CloseChannel {
            channel_id: 11,
            ..
        }))]
    ));
    // Failover re-opens a channel for the remaining miner.
    h.b.upstream_lost(h.now);
    let o = h.connect_upstream(0);
    assert_eq!(o.upstream.len(), 1);
}

#[test]
fn late_answers_are_closed_and_ids_are_kept() {
    let mut h = H::new(ChannelMode::PerMiner);
    h.connect_upstream(0);
    h.connect_miner(1);
    let (_, o) = h.handshake(1, "rig1", false);
    let open = o.upstream[0].clone();
    let mut out = Vec::new();
    h.b.miner_disconnected(1, "eof", &mut out);
    let o = h.open_success(&open, 5, vec![1; 8], 8);
    assert!(matches!(
        o.upstream[..],
        [Message::Mining(MiningMessage::CloseChannel(_))]
    ));
    // Request ids echo the JSON id exactly.
    h.connect_miner(2);
    let o = h.line(
        2,
        r#"{"id":"abc","method":"mining.extranonce.subscribe","params":[]}"#,
    );
    assert_eq!(o.response(2).id, Id::from("abc"));
}

#[test]
fn jobs_addressed_to_a_group_reach_every_member_with_its_own_prefix() {
    let mut h = H::new(ChannelMode::PerMiner);
    h.connect_upstream(0);
    let mut opens = Vec::new();
    for id in 1..=2 {
        h.connect_miner(id);
        let (_, o) = h.handshake(id, &format!("rig{id}"), true);
        opens.push(o.upstream[0].clone());
    }
    for (i, open) in opens.iter().enumerate() {
        let Message::Mining(MiningMessage::OpenExtendedMiningChannel(o)) = open else {
            panic!()
        };
        h.up(OpenExtendedMiningChannelSuccess {
            request_id: o.request_id,
            channel_id: 20 + i as u32,
            target: [0xff; 32],
            extranonce_size: 8,
            extranonce_prefix: vec![i as u8 + 1; 8],
            group_channel_id: 100,
        });
    }
    let o = h.new_block(100, 1, 0x33);
    for id in 1..=2u32 {
        let n = &o.notifies(id)[0];
        assert!(n.clean_jobs);
        assert!(n.coinb1.ends_with(&[id as u8; 8]));
    }
}

#[test]
fn a_miner_leaving_before_its_first_job_closes_its_channel() {
    let mut h = H::new(ChannelMode::PerMiner);
    h.connect_upstream(0);
    h.connect_miner(1);
    let (_, o) = h.handshake(1, "rig1", false);
    let open = o.upstream[0].clone();
    h.open_success(&open, 31, vec![1; 8], 8);
    let mut out = Vec::new();
    h.b.miner_disconnected(1, "eof", &mut out);
    let o = split(out);
    assert!(matches!(
        o.upstream[..],
        [Message::Mining(MiningMessage::CloseChannel(CloseChannel {
            channel_id: 31,
            ..
        }))]
    ));
    // Jobs for the closed channel are ignored.
    let o = h.new_block(31, 1, 0x01);
    assert!(o.miners.is_empty());
    assert!(h.b.channels.is_empty());
}

#[test]
fn memory_per_idle_miner_stays_small() {
    // The per-miner state the bridge keeps (the runtime adds one task with a 512-byte read
    // buffer and a 64-slot queue).
    let size = std::mem::size_of::<Downstream>();
    assert!(size <= 1024, "Downstream is {size} bytes");
    let (mut h, _) = aggregate_ready();
    h.connect_miner(1);
    h.handshake(1, "rig1", true);
    let m = h.b.miner(1).unwrap();
    assert!(m.last_job().is_some());
}

#[test]
fn true_answers_are_the_bytes_serde_writes() {
    let ids: Vec<Id> = vec![
        Id::from(0u64),
        Id::from(1u64),
        Id::from(4183u64),
        Id::from(u64::MAX),
        Id::from(-3i64),
        Id::Number(serde_json::Number::from_f64(2.5).unwrap()),
        Id::from("7"),
        Id::from("quote\"and\\slash"),
        Id::Null,
    ];
    for id in ids {
        let fast = true_line(id.clone()).unwrap();
        let slow = Response::bool(id.clone(), true).to_line().unwrap();
        assert_eq!(&fast[..], slow.as_bytes(), "{id:?}");
    }
    // Ids exactly as firmware sends them, parsed then answered.
    for raw in [
        "0",
        "12",
        "18446744073709551615",
        "1.0",
        "1e3",
        "-1",
        "\"a\"",
    ] {
        let req = parse_client_line(&format!(
            r#"{{"id":{raw},"method":"mining.extranonce.subscribe","params":[]}}"#
        ))
        .unwrap();
        let fast = true_line(req.id.clone()).unwrap();
        let slow = Response::bool(req.id, true).to_line().unwrap();
        assert_eq!(&fast[..], slow.as_bytes(), "{raw}");
    }
}
