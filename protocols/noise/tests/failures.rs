//! Failure paths of the async layer: timeouts, truncated and garbage handshakes, wrong or
//! expired certificates, tampered and oversized transport frames.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use sv2_noise::secp256k1::{rand::thread_rng, Keypair, Secp256k1, SecretKey};
use sv2_noise::{
    accept, accept_with, connect, connect_with, unix_now, CertificateError, CipherError,
    FrameError, HandshakeError, Initiator, NoiseError, ServerKeys, SignatureNoiseMessage,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const LONG: Duration = Duration::from_secs(10);
const SHORT: Duration = Duration::from_millis(300);

fn authority() -> Keypair {
    Keypair::new(&Secp256k1::new(), &mut thread_rng())
}

fn server_keys(auth: Keypair) -> ServerKeys {
    ServerKeys::from_authority(auth, Duration::from_secs(3600))
}

fn frame(payload_len: usize) -> Vec<u8> {
    let mut f = vec![0x00, 0x00, 0x1b];
    f.extend_from_slice(&(payload_len as u32).to_le_bytes()[..3]);
    f.resize(6 + payload_len, 0xab);
    f
}

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (server, _) = l.accept().await.unwrap();
    (client, server)
}

#[tokio::test]
async fn connect_times_out_when_server_is_silent() {
    let (client, _server) = tcp_pair().await;
    let start = Instant::now();
    let err = connect(client, authority().x_only_public_key().0, SHORT)
        .await
        .unwrap_err();
    assert!(matches!(err, NoiseError::Timeout), "{err:?}");
    assert!(start.elapsed() < LONG);
}

#[tokio::test]
async fn accept_times_out_when_client_is_silent_or_stalls() {
    let keys = server_keys(authority());
    let (_client, server) = tcp_pair().await;
    let err = accept(server, &keys, SHORT).await.unwrap_err();
    assert!(matches!(err, NoiseError::Timeout), "{err:?}");

    // Half an act 1, then nothing.
    let (mut client, server) = tcp_pair().await;
    client.write_all(&[7u8; 32]).await.unwrap();
    let err = accept(server, &keys, SHORT).await.unwrap_err();
    assert!(matches!(err, NoiseError::Timeout), "{err:?}");
}

#[tokio::test]
async fn truncated_act1_is_an_io_error() {
    let keys = server_keys(authority());
    let (mut client, server) = tcp_pair().await;
    client.write_all(&[1u8; 10]).await.unwrap();
    drop(client);
    let err = accept(server, &keys, LONG).await.unwrap_err();
    match err {
        NoiseError::Io(e) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn truncated_act2_is_an_io_error() {
    let auth = authority();
    let keys = server_keys(auth);
    let (client, mut server) = tcp_pair().await;
    let fake_server = tokio::spawn(async move {
        let mut act1 = [0u8; 64];
        server.read_exact(&mut act1).await.unwrap();
        let (act2, _) = sv2_noise::Responder::new(&keys)
            .step_1(&act1, unix_now())
            .unwrap();
        server.write_all(&act2[..100]).await.unwrap();
    });
    let err = connect(client, auth.x_only_public_key().0, LONG)
        .await
        .unwrap_err();
    match err {
        NoiseError::Io(e) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof),
        other => panic!("unexpected {other:?}"),
    }
    fake_server.await.unwrap();
}

#[tokio::test]
async fn garbage_act2_is_a_handshake_error() {
    let (client, mut server) = tcp_pair().await;
    let fake_server = tokio::spawn(async move {
        let mut act1 = [0u8; 64];
        server.read_exact(&mut act1).await.unwrap();
        server.write_all(&[0x5a; 234]).await.unwrap();
        server
    });
    let err = connect(client, authority().x_only_public_key().0, LONG)
        .await
        .unwrap_err();
    assert!(
        matches!(err, NoiseError::Handshake(HandshakeError::Decrypt)),
        "{err:?}"
    );
    drop(fake_server.await.unwrap());
}

#[tokio::test]
async fn wrong_authority_over_tcp() {
    let keys = server_keys(authority());
    let (client, server) = tcp_pair().await;
    let srv = tokio::spawn(async move { accept(server, &keys, LONG).await.map(|_| ()) });
    let err = connect(client, authority().x_only_public_key().0, LONG)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            NoiseError::Handshake(HandshakeError::Certificate(CertificateError::BadSignature))
        ),
        "{err:?}"
    );
    // The server finished its side; it only learns of the rejection when the client hangs up.
    srv.await.unwrap().unwrap();
}

#[tokio::test]
async fn expired_preissued_certificate_over_tcp() {
    let auth = authority();
    let static_secret = SecretKey::new(&mut thread_rng());
    let static_pk = static_secret.x_only_public_key(&Secp256k1::new()).0;
    let now = unix_now();
    let cert = SignatureNoiseMessage::sign(&auth, &static_pk, now - 7200, now - 3600);
    let keys =
        ServerKeys::with_certificate(&static_secret, cert, &auth.x_only_public_key().0).unwrap();
    let (client, server) = tcp_pair().await;
    let srv = tokio::spawn(async move { accept(server, &keys, LONG).await.map(|_| ()) });
    let err = connect(client, auth.x_only_public_key().0, LONG)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            NoiseError::Handshake(HandshakeError::Certificate(
                CertificateError::Expired { .. }
            ))
        ),
        "{err:?}"
    );
    srv.await.unwrap().unwrap();
}

#[tokio::test]
async fn our_connect_and_accept_over_tcp_with_split_halves() {
    let auth = authority();
    let keys = server_keys(auth);
    let (client, server) = tcp_pair().await;
    let srv = tokio::spawn(async move {
        let conn = accept(server, &keys, LONG).await.unwrap();
        assert_eq!(conn.remote_static_key(), None);
        let (mut rx, mut tx) = conn.into_split();
        // Reader and writer in different tasks.
        let writer = tokio::spawn(async move {
            for len in [0usize, 30, 100_000] {
                tx.send(frame(len)).await.unwrap();
            }
            tx.close().await.unwrap();
        });
        let mut got = Vec::new();
        while let Some(f) = rx.recv().await.unwrap() {
            got.push(f.len());
        }
        writer.await.unwrap();
        got
    });
    let conn = connect(client, auth.x_only_public_key().0, LONG)
        .await
        .unwrap();
    let (mut rx, mut tx) = conn.into_split();
    for len in [5usize, 70_000] {
        tx.feed(frame(len)).await.unwrap();
    }
    tx.flush().await.unwrap();
    let mut lens = Vec::new();
    while let Some(f) = rx.recv().await.unwrap() {
        lens.push(f.len() - 6);
    }
    assert_eq!(lens, vec![0, 30, 100_000]);
    tx.close().await.unwrap();
    assert_eq!(srv.await.unwrap(), vec![11, 70_006]);
}

/// A hand-driven client (sans-IO initiator over a raw duplex pipe) against our `accept_with`,
/// so the test can put arbitrary bytes on the wire after the handshake.
async fn raw_client_and_server(
    max_payload: usize,
) -> (
    tokio::io::DuplexStream,
    sv2_noise::Transport,
    sv2_noise::NoiseConnection<
        tokio::io::ReadHalf<tokio::io::DuplexStream>,
        tokio::io::WriteHalf<tokio::io::DuplexStream>,
    >,
) {
    let auth = authority();
    let keys = server_keys(auth);
    let (mut client, server) = tokio::io::duplex(1 << 20);
    let (sr, sw) = tokio::io::split(server);
    let srv = tokio::spawn(async move {
        let mut c = accept_with(sr, sw, &keys, LONG).await.unwrap();
        c.set_max_payload_len(max_payload);
        c
    });
    let mut init = Initiator::new(auth.x_only_public_key().0);
    client.write_all(&init.step_0().unwrap()).await.unwrap();
    let mut act2 = [0u8; 234];
    client.read_exact(&mut act2).await.unwrap();
    let transport = init.step_2(&act2, unix_now()).unwrap();
    (client, transport, srv.await.unwrap())
}

#[tokio::test]
async fn tampered_frame_is_rejected_by_the_reader() {
    let (mut client, mut t, mut server) = raw_client_and_server(1 << 20).await;
    let mut wire = BytesMut::new();
    t.encrypt_frame(&frame(30), &mut wire).unwrap();
    t.encrypt_frame(&frame(30), &mut wire).unwrap();
    // First frame intact, second one altered in its payload.
    wire[22 + 46 + 30] ^= 0x40;
    client.write_all(&wire).await.unwrap();
    assert_eq!(server.recv().await.unwrap().unwrap().len(), 36);
    let err = server.recv().await.unwrap_err();
    assert!(
        matches!(
            err,
            NoiseError::Frame(FrameError::Cipher(CipherError::Decrypt))
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn oversized_frame_is_rejected_by_the_reader() {
    let (mut client, mut t, mut server) = raw_client_and_server(1000).await;
    let mut wire = BytesMut::new();
    t.encrypt_frame(&frame(1001), &mut wire).unwrap();
    client.write_all(&wire).await.unwrap();
    let err = server.recv().await.unwrap_err();
    assert!(
        matches!(
            err,
            NoiseError::Frame(FrameError::PayloadTooLarge {
                len: 1001,
                max: 1000
            })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn eof_between_frames_is_clean_and_inside_a_frame_is_an_error() {
    let (mut client, mut t, mut server) = raw_client_and_server(1 << 20).await;
    let mut wire = BytesMut::new();
    t.encrypt_frame(&frame(10), &mut wire).unwrap();
    client.write_all(&wire).await.unwrap();
    drop(client);
    assert!(server.recv().await.unwrap().is_some());
    assert!(server.recv().await.unwrap().is_none());

    let (mut client, mut t, mut server) = raw_client_and_server(1 << 20).await;
    let mut wire = BytesMut::new();
    t.encrypt_frame(&frame(10), &mut wire).unwrap();
    client.write_all(&wire[..30]).await.unwrap();
    drop(client);
    assert!(matches!(server.recv().await, Err(NoiseError::Io(_))));
}

#[tokio::test]
async fn connect_with_over_duplex_roundtrip() {
    let auth = authority();
    let keys = server_keys(auth);
    let (a, b) = tokio::io::duplex(4096);
    let (ar, aw) = tokio::io::split(a);
    let (br, bw) = tokio::io::split(b);
    let (client, server) = tokio::join!(
        connect_with(ar, aw, auth.x_only_public_key().0, LONG),
        accept_with(br, bw, &keys, LONG)
    );
    let (mut client, mut server) = (client.unwrap(), server.unwrap());
    assert_eq!(client.handshake_hash(), server.handshake_hash());
    assert_eq!(client.remote_static_key(), Some(keys.static_public_key()));
    // Larger than the pipe buffer: requires concurrent read and write.
    let big = frame(50_000);
    let (sent, got) = tokio::join!(client.send(&big), server.recv());
    sent.unwrap();
    assert_eq!(&got.unwrap().unwrap()[..], &big[..]);
}
