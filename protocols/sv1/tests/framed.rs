//! The codecs driven by `tokio_util::codec::Framed` over an in-memory pipe:
//! a miner (client codec) talks to a pool (server codec).

use futures::{SinkExt, StreamExt};
use sv1::{
    ClientMethod, ClientRequest, ConfigureResult, ErrorCode, Id, Notification, Notify, PrevHash,
    Response, ResponseResult, ServerMessage, Submit, Subscribe, SubscribeResult, Sv1ClientCodec,
    Sv1Error, Sv1ServerCodec,
};
use tokio::io::AsyncWriteExt;
use tokio_util::codec::{Framed, FramedRead};

/// Minimal pool logic: answers each request the way a real pool would.
fn answer(req: &ClientRequest) -> Vec<ServerMessage> {
    match &req.method {
        ClientMethod::Configure(c) => vec![Response::configure(
            req.id.clone(),
            match c.version_rolling() {
                Some((Some(mask), _)) => ConfigureResult::version_rolling(mask & 0x1fffe000),
                _ => ConfigureResult::default(),
            },
        )
        .into()],
        ClientMethod::Subscribe(_) => vec![
            Response::subscribe(
                req.id.clone(),
                SubscribeResult {
                    subscriptions: vec![("mining.notify".into(), "1".into())],
                    extranonce1: vec![0xf8, 0, 0x2c, 0x90],
                    extranonce2_size: 4,
                },
            )
            .into(),
            Notification::SetDifficulty { difficulty: 512.0 }.into(),
            Notification::Notify(Notify {
                job_id: "1".into(),
                prev_hash: PrevHash::from_header_bytes([7; 32]),
                coinb1: vec![1, 2, 3],
                coinb2: vec![4, 5],
                merkle_branch: vec![[9; 32]],
                version: 0x2000_0000,
                nbits: 0x1703_4219,
                ntime: 0x6626_85b8,
                clean_jobs: true,
            })
            .into(),
        ],
        ClientMethod::Authorize(_) => vec![Response::bool(req.id.clone(), true).into()],
        ClientMethod::Submit(s) if s.job_id == "1" => {
            vec![Response::bool(req.id.clone(), true).into()]
        }
        ClientMethod::Submit(_) => {
            vec![Response::error(req.id.clone(), ErrorCode::JobNotFound).into()]
        }
        _ => vec![Response::error(req.id.clone(), ErrorCode::Other).into()],
    }
}

#[tokio::test]
async fn miner_and_pool_over_a_pipe() {
    let (miner_io, pool_io) = tokio::io::duplex(64 * 1024);
    let pool = tokio::spawn(async move {
        let mut framed = Framed::new(pool_io, Sv1ServerCodec::new(4096));
        let mut seen = 0;
        while let Some(item) = framed.next().await {
            let reply: Vec<ServerMessage> = match item.expect("framing error") {
                Ok(req) => answer(&req),
                Err(e) => vec![Response::error(
                    e.request_id().cloned().unwrap_or_default(),
                    e.to_stratum_error(),
                )
                .into()],
            };
            for m in reply {
                framed.send(m).await.expect("send");
            }
            seen += 1;
        }
        seen
    });

    let mut miner = Framed::new(miner_io, Sv1ClientCodec::default());
    let submit = |id: u64, job: &str| {
        ClientRequest::new(
            id,
            ClientMethod::Submit(Submit {
                worker: "acct.rig".into(),
                job_id: job.into(),
                extranonce2: vec![0, 0, 0, 1],
                ntime: 0x662685b8,
                nonce: 0xdeadbeef,
                version_bits: Some(0x00c0_0000),
            }),
        )
    };
    let requests = vec![
        sv1::parse_client_line(
            r#"{"id": 1, "method": "mining.configure", "params": [["version-rolling"], {"version-rolling.mask": "ffffffff"}]}"#,
        )
        .unwrap(),
        ClientRequest::new(
            2u64,
            ClientMethod::Subscribe(Subscribe {
                user_agent: Some("cpuminer/0.1".into()),
                session_id: None,
            }),
        ),
        ClientRequest::new(
            3u64,
            ClientMethod::Authorize(sv1::Authorize {
                username: "acct.rig".into(),
                password: Some("x".into()),
            }),
        ),
        submit(4, "1"),
        submit(5, "stale"),
    ];
    for r in &requests {
        miner.send(r).await.unwrap();
    }
    let mut got = Vec::new();
    while got.len() < 7 {
        got.push(miner.next().await.unwrap().unwrap().unwrap());
    }
    let ServerMessage::Response(cfg) = &got[0] else {
        panic!("{got:?}")
    };
    assert!(
        matches!(&cfg.result, ResponseResult::Configure(c) if c.version_rolling_mask == Some(0x1fffe000))
    );
    assert!(
        matches!(&got[1], ServerMessage::Response(r) if matches!(&r.result, ResponseResult::Subscribe(s) if s.extranonce2_size == 4))
    );
    assert_eq!(
        got[2],
        Notification::SetDifficulty { difficulty: 512.0 }.into()
    );
    assert!(
        matches!(&got[3], ServerMessage::Notification(Notification::Notify(n)) if n.prev_hash.to_header_bytes() == [7; 32])
    );
    assert_eq!(got[4], Response::bool(Id::from(3u64), true).into());
    assert_eq!(got[5], Response::bool(Id::from(4u64), true).into());
    assert_eq!(
        got[6],
        Response::error(Id::from(5u64), ErrorCode::JobNotFound).into()
    );

    // A malformed line is answered with an error, not fatal; closing ends the pool loop.
    let mut io = miner.into_inner();
    io.write_all(b"{\"id\": 6, \"method\": \"mining.submit\", \"params\": [\"w\"]}\r\n")
        .await
        .unwrap();
    let mut miner = Framed::new(io, Sv1ClientCodec::default());
    let ServerMessage::Response(r) = miner.next().await.unwrap().unwrap().unwrap() else {
        panic!("expected a response")
    };
    assert_eq!(r.id, Id::from(6u64));
    assert_eq!(r.error.map(|e| e.code), Some(20));
    drop(miner);
    assert_eq!(pool.await.unwrap(), 6);
}

#[tokio::test]
async fn oversized_line_ends_the_stream() {
    let (mut tx, rx) = tokio::io::duplex(64);
    let writer = tokio::spawn(async move {
        tx.write_all(b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n")
            .await
            .unwrap();
        // A peer that never sends a newline.
        let junk = vec![b'a'; 10_000];
        let _ = tx.write_all(&junk).await;
    });
    let mut framed = FramedRead::new(rx, Sv1ServerCodec::new(1024));
    let first = framed.next().await.unwrap().unwrap().unwrap();
    assert_eq!(first.method, ClientMethod::Subscribe(Subscribe::default()));
    match framed.next().await {
        Some(Err(e @ Sv1Error::LineTooLong { limit: 1024 })) => assert!(e.is_fatal()),
        other => panic!("expected LineTooLong, got {other:?}"),
    }
    assert!(framed.next().await.is_none());
    drop(framed);
    writer.await.unwrap();
}
