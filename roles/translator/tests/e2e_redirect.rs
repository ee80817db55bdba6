//! SV2 `Reconnect`: a pool front end answers SetupConnection, then redirects the translator
//! to the real pool (same authority key); the translator follows it and mining continues.

mod common;

use std::time::Duration;

use common::{authority, settings, start_pool, start_translator, RawMiner};
use sv2_codec::bytes::BytesMut;
use sv2_codec::common::{Reconnect, SetupConnectionSuccess};
use sv2_codec::{CommonMessage, Frame, Message, Protocol};
use tokio::net::TcpListener;

async fn send(conn: &mut sv2_noise::NoiseConnection, m: impl Into<Message>) {
    let mut buf = BytesMut::new();
    m.into().encode_frame(&mut buf).expect("encode");
    conn.send(&buf[..]).await.expect("send");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_a_pool_redirect() {
    let kp = authority();
    let real = start_pool("127.0.0.1:0", &kp).await;
    let keys = sv2_noise::ServerKeys::from_authority(kp, Duration::from_secs(3600));
    let front = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let front_addr = front.local_addr().expect("addr");
    let real_port = real.pool.local_addr.port();
    let redirector = tokio::spawn(async move {
        let (tcp, _) = front.accept().await.expect("translator connects");
        let mut conn = sv2_noise::accept(tcp, &keys, Duration::from_secs(5))
            .await
            .expect("handshake");
        let first = conn.recv().await.expect("transport").expect("a frame");
        let frame = Frame::from_bytes(first).expect("frame");
        assert!(matches!(
            Message::from_frame(Protocol::Mining, &frame),
            Ok(Message::Common(CommonMessage::SetupConnection(_)))
        ));
        send(
            &mut conn,
            SetupConnectionSuccess {
                used_version: 2,
                flags: 0,
            },
        )
        .await;
        // The channel open request arrives; instead of answering, redirect.
        let _ = conn.recv().await;
        send(
            &mut conn,
            Reconnect {
                new_host: "127.0.0.1".into(),
                new_port: real_port,
            },
        )
        .await;
        // The translator leaves this connection.
        loop {
            match tokio::time::timeout(Duration::from_secs(10), conn.recv()).await {
                Ok(Ok(Some(_))) => continue,
                Ok(_) => return true,
                Err(_) => return false,
            }
        }
    });

    let t = start_translator(settings(
        "siteR",
        "aggregate",
        &[(front_addr.to_string(), real.authority)],
        "",
        "",
    ))
    .await;
    t.wait_for(Duration::from_secs(20), |s| {
        s.mining && s.upstream == Some(0)
    })
    .await
    .expect("mining on the pool the redirect named");
    assert!(
        redirector.await.expect("redirector task"),
        "the redirected connection was closed"
    );
    let mut m = RawMiner::connect(t.local_addr).await;
    m.handshake("acct.redirected").await;
    m.mine_accepted_share(0).await;
    common::eventually(Duration::from_secs(20), "block on the real pool", || {
        !real.standin.submitted_blocks().is_empty()
    })
    .await;
    t.shutdown().await;
}
