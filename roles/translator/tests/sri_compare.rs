//! Side by side with SRI's translator (`translator_sv2` 0.6.0, installed by `.ci/run`): the
//! same SV1 client talks to both, in front of the same pool, and the documented behaviour is
//! compared:
//! * message order: configure / subscribe / authorize answered in order, then
//!   `mining.set_difficulty` before the first `mining.notify`, which has `clean_jobs`;
//! * extranonce handling: both describe the same coinbase; SRI puts the pool's extranonce
//!   prefix at the start of `extranonce1`, we put it at the end of `coinb1` (documented
//!   difference), so `coinb1 | extranonce1 | extranonce2 | coinb2` has the same length;
//! * the same `mining.submit` (with version bits) is accepted by both.

mod common;

use common::{authority, mining_translator, start_pool, RawMiner};
use sv1::{Notification, ServerMessage};

/// What a client sees from connecting to its first job.
#[derive(Debug)]
struct Session {
    /// Kinds in arrival order: "response:<id>", "set_difficulty", "notify:clean", ...
    kinds: Vec<String>,
    extranonce1: Vec<u8>,
    extranonce2_size: usize,
    coinb1: Vec<u8>,
    coinb2: Vec<u8>,
}

fn kind(m: &ServerMessage) -> String {
    match m {
        ServerMessage::Response(r) => format!("response:{}", r.id),
        ServerMessage::Notification(Notification::Notify(n)) => {
            format!("notify:{}", if n.clean_jobs { "clean" } else { "update" })
        }
        ServerMessage::Notification(n) => n.name().trim_start_matches("mining.").to_owned(),
    }
}

/// configure, subscribe, authorize as firmware sends them (without waiting between them),
/// then everything up to and including the first notify.
async fn session(m: &mut RawMiner) -> Session {
    m.request(
        "mining.configure",
        serde_json::json!([["version-rolling"], {"version-rolling.mask": "1fffe000", "version-rolling.min-bit-count": 2}]),
    )
    .await;
    m.request("mining.subscribe", serde_json::json!(["bmminer/2.0.0"]))
        .await;
    m.user = "cmp.rig1".into();
    m.request("mining.authorize", serde_json::json!(["cmp.rig1", "x"]))
        .await;
    let mut kinds = Vec::new();
    let mut sub = None;
    loop {
        let msg = m.next().await.expect("messages until the first job");
        kinds.push(kind(&msg));
        match msg {
            ServerMessage::Response(r) => match r.result {
                sv1::ResponseResult::Subscribe(s) => sub = Some(s),
                sv1::ResponseResult::Configure(c) => m.mask = c.version_rolling_mask.unwrap_or(0),
                _ => {}
            },
            ServerMessage::Notification(Notification::Notify(n)) => {
                let s = sub.clone().expect("subscribe answered before the job");
                m.subscription = Some(s.clone());
                return Session {
                    kinds,
                    extranonce1: s.extranonce1,
                    extranonce2_size: s.extranonce2_size,
                    coinb1: n.coinb1,
                    coinb2: n.coinb2,
                };
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_observable_behaviour_as_sri_where_documented() {
    let Some(bin) = test_utils::sri::binary() else {
        return;
    };
    let kp = authority();
    let env = start_pool("127.0.0.1:0", &kp).await;
    let key = sv2_noise::encode_public_key(&env.authority);

    // SRI's translator in front of the pool.
    let sri_proc =
        test_utils::sri::start(&bin, "sri-cmp", env.pool.local_addr, &key, "cmp.sri").await;
    let sri_addr = sri_proc.addr;

    // Ours in front of the same pool.
    let t = mining_translator("cmp", &env).await;

    let mut sri = RawMiner::connect(sri_addr).await;
    let theirs = session(&mut sri).await;
    let mut me = RawMiner::connect(t.local_addr).await;
    let ours = session(&mut me).await;

    // Message order.
    let expected = [
        "response:1",
        "response:2",
        "response:3",
        "set_difficulty",
        "notify:clean",
    ];
    assert_eq!(ours.kinds, expected, "ours");
    assert_eq!(theirs.kinds, expected, "SRI: {theirs:?}");

    // Extranonce handling: the same coinbase, the pool prefix on either side of coinb1's end.
    let total =
        |s: &Session| s.coinb1.len() + s.extranonce1.len() + s.extranonce2_size + s.coinb2.len();
    assert_eq!(total(&ours), total(&theirs), "same coinbase length");
    assert_eq!(ours.extranonce2_size, theirs.extranonce2_size);
    assert!(
        ours.coinb1.starts_with(&theirs.coinb1),
        "our coinb1 is SRI's plus the pool's prefix"
    );
    let moved = ours.coinb1.len() - theirs.coinb1.len();
    assert!(moved >= 1, "the pool prefix sits in our coinb1");
    assert!(
        theirs.extranonce1.len() > moved,
        "SRI's extranonce1 carries the pool prefix and its local index"
    );
    assert_eq!(ours.extranonce1.len(), 2, "ours is only the local index");

    // The same submit (rolled version bits) is accepted by both.
    for m in [&mut sri, &mut me] {
        m.mine_accepted_share(0x0012_e000).await;
    }
    sri_proc.stop().await;
    t.shutdown().await;
}
