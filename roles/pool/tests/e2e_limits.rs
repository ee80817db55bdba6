//! Limits against misbehaving clients: channels per connection, invalid-share cut-off,
//! connections per IP.

mod common;

use std::time::Duration;

use common::{start, Client};
use sv2_codec::mining::{OpenStandardMiningChannel, SubmitSharesStandard};
use sv2_codec::{Message, MiningMessage};

const CFG: &str = "initial_difficulty = 0.00001\nmin_difficulty = 0.000001\n#tables\n[limits]\nmax_channels_per_connection = 2\nmax_invalid_shares_per_minute = 5\nmax_connections_per_ip = 3\n";

fn open(i: u32) -> OpenStandardMiningChannel {
    OpenStandardMiningChannel {
        request_id: i,
        user_identity: format!("lim.w{i}"),
        nominal_hash_rate: 0.0,
        max_target: [0xff; 32],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_limit_invalid_cutoff_and_per_ip_limit() {
    let env = start(0, CFG).await;
    let mut c = Client::connect(&env).await;
    c.setup(common::STANDARD_JOBS).await;
    let mut opened = Vec::new();
    for i in 1..=3 {
        c.send(open(i)).await;
        let r = c
            .recv_until(|m| match m {
                Message::Mining(MiningMessage::OpenStandardMiningChannelSuccess(s)) => {
                    Some(Ok(s.channel_id))
                }
                Message::Mining(MiningMessage::OpenMiningChannelError(e)) => {
                    Some(Err(e.error_code))
                }
                _ => None,
            })
            .await;
        opened.push(r);
    }
    assert!(opened[0].is_ok() && opened[1].is_ok());
    assert_eq!(opened[2], Err("max-channels-reached".to_string()));

    // Invalid shares beyond the per-minute cut-off close the connection.
    let channel_id = *opened[0].as_ref().expect("opened");
    // The pool may cut the connection while shares are still being sent: a failed send ends
    // the loop.
    let mut buf = bytes::BytesMut::new();
    for seq in 0..20u32 {
        buf.clear();
        Message::from(SubmitSharesStandard {
            channel_id,
            sequence_number: seq,
            job_id: 999_999,
            nonce: seq,
            ntime: 0,
            version: 0x2000_0000,
        })
        .encode_frame(&mut buf)
        .expect("encode");
        if c.conn.send(&buf[..]).await.is_err() {
            break;
        }
    }
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match c.conn.recv().await {
                Ok(Some(_)) => continue,
                _ => return,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "connection not cut after invalid shares");

    // At most 3 connections from 127.0.0.1. The cut connection above is released when its
    // task ends, which can trail the close seen by the client: retry briefly.
    let mut kept = Vec::new();
    for _ in 0..3 {
        let mut ok = None;
        for _ in 0..50 {
            let tcp = tokio::net::TcpStream::connect(env.pool.local_addr)
                .await
                .expect("tcp");
            if let Ok(conn) = sv2_noise::connect(tcp, env.authority, Duration::from_secs(3)).await {
                ok = Some(conn);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        kept.push(ok.expect("connection within the per-IP limit"));
    }
    let tcp = tokio::net::TcpStream::connect(env.pool.local_addr)
        .await
        .expect("tcp accept");
    let r = sv2_noise::connect(tcp, env.authority, Duration::from_secs(3)).await;
    assert!(
        r.is_err(),
        "a fourth connection from the same IP must be refused"
    );
}
