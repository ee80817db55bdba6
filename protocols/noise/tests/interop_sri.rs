//! Interoperability with SRI's `noise_sv2` 2.0 handshake and `codec_sv2` 7.0 frame encryption,
//! in both directions, over in-memory buffers and over loopback TCP.

use std::time::Duration;

use bytes::BytesMut;
use codec_sv2::{Decrypted, Handshake, NoiseDecoder, NoiseEncoder};
use framing_sv2::framing::SerializedFrame;
use sv2_noise::secp256k1::{Keypair, Secp256k1, SecretKey};
use sv2_noise::{
    decode_public_key, unix_now, Initiator, Responder, ServerKeys, SignatureNoiseMessage, Transport,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SRI_AUTHORITY_PUBLIC: &str = "9auqWEzQDVyd2oe1JVGFLMLHZtCo2FFqZwtKA5gd9xbuEu7PH72";
const SRI_AUTHORITY_SECRET: &str = "mkDLTBBRxdBv998612qipDYoTK3YUrqLe8uWw7gu3iXbSrn2n";
const TIMEOUT: Duration = Duration::from_secs(10);

/// Payload sizes around the 65519-byte chunk boundary, plus empty and typical share sizes.
const PAYLOAD_SIZES: [usize; 8] = [0, 1, 30, 1024, 65519, 65520, 131_038, 200_000];

fn authority() -> Keypair {
    Keypair::new(
        &Secp256k1::new(),
        &mut sv2_noise::secp256k1::rand::thread_rng(),
    )
}

fn raw(kp: &Keypair) -> ([u8; 32], [u8; 32]) {
    (kp.x_only_public_key().0.serialize(), kp.secret_bytes())
}

fn sri_responder(kp: &Keypair) -> Handshake<noise_sv2::Responder> {
    let (pk, sk) = raw(kp);
    Handshake::responder(
        noise_sv2::Responder::from_authority_kp(&pk, &sk, Duration::from_secs(3600)).unwrap(),
    )
}

fn sri_initiator(kp: &Keypair) -> Handshake<noise_sv2::Initiator> {
    Handshake::initiator(noise_sv2::Initiator::from_raw_k(raw(kp).0).unwrap())
}

fn frame(msg_type: u8, payload_len: usize) -> Vec<u8> {
    let mut f = vec![0x00, 0x00, msg_type];
    f.extend_from_slice(&(payload_len as u32).to_le_bytes()[..3]);
    f.extend((0..payload_len).map(|i| (i * 7 % 256) as u8));
    f
}

fn sri_encrypt(state: &mut codec_sv2::TransportEncryptState, f: &[u8]) -> Vec<u8> {
    let frame = SerializedFrame::from_bytes(f.to_vec()).unwrap();
    let out = NoiseEncoder::new().encode_transport(frame, state).unwrap();
    AsRef::<[u8]>::as_ref(&out).to_vec()
}

/// Feeds `wire` into SRI's decoder until one frame comes out.
fn sri_decrypt(
    decoder: &mut NoiseDecoder,
    mut state: codec_sv2::TransportDecryptState,
    wire: &[u8],
) -> (Vec<u8>, codec_sv2::TransportDecryptState) {
    let mut offset = 0;
    loop {
        let writable = decoder.writable();
        let n = writable.len().min(wire.len() - offset);
        writable[..n].copy_from_slice(&wire[offset..offset + n]);
        offset += n;
        match decoder.next_transport_frame(state).unwrap() {
            Decrypted::Frame(frame, s) => {
                assert_eq!(offset, wire.len(), "SRI consumed a different length");
                return (frame.as_bytes().to_vec(), s);
            }
            Decrypted::Incomplete(_, s) => {
                assert!(n > 0 || offset < wire.len(), "SRI wants more than we sent");
                state = s;
            }
        }
    }
}

/// Exchanges frames of every size in both directions between our transport and SRI's.
fn exchange_with_sri(ours: &mut Transport, sri: codec_sv2::Transport) {
    let (mut sri_enc, mut sri_dec) = sri.split();
    let mut decoder = NoiseDecoder::new();
    for (i, &len) in PAYLOAD_SIZES.iter().enumerate() {
        let f = frame(i as u8, len);
        // ours -> SRI
        let mut wire = BytesMut::new();
        ours.encrypt_frame(&f, &mut wire).unwrap();
        let (got, s) = sri_decrypt(&mut decoder, sri_dec, &wire);
        sri_dec = s;
        assert_eq!(got, f, "ours -> SRI, payload {len}");
        // SRI -> ours
        let wire = sri_encrypt(&mut sri_enc, &f);
        assert_eq!(wire.len(), sv2_noise::encrypted_frame_len(len));
        let mut buf = BytesMut::from(&wire[..]);
        let got = ours.decrypt_frame(&mut buf).unwrap().unwrap();
        assert_eq!(&got[..], &f[..], "SRI -> ours, payload {len}");
        assert!(buf.is_empty());
    }
}

#[test]
fn our_initiator_with_sri_responder() {
    let auth = authority();
    let mut ours = Initiator::new(auth.x_only_public_key().0);
    let act1 = ours.step_0().unwrap();
    let (act2, sri_transport) = sri_responder(&auth).step_1(act1).unwrap();
    assert_eq!(act2.payload().len(), sv2_noise::ACT2_SIZE);
    let mut transport = ours.step_2(act2.payload(), unix_now()).unwrap();
    exchange_with_sri(&mut transport, sri_transport);
}

#[test]
fn sri_initiator_with_our_responder_authority_model() {
    let auth = authority();
    let keys = ServerKeys::from_authority(auth, Duration::from_secs(3600));
    let (act1, sri) = sri_initiator(&auth).step_0().unwrap();
    let (act2, mut transport) = Responder::new(&keys)
        .step_1(act1.payload(), unix_now())
        .unwrap();
    let sri_transport = sri.step_2(act2).unwrap();
    exchange_with_sri(&mut transport, sri_transport);
}

#[test]
fn sri_initiator_with_our_responder_preissued_certificate() {
    let auth = authority();
    let static_secret = SecretKey::new(&mut sv2_noise::secp256k1::rand::thread_rng());
    let static_pk = static_secret.x_only_public_key(&Secp256k1::new()).0;
    let now = unix_now();
    let cert = SignatureNoiseMessage::sign(&auth, &static_pk, now - 60, now + 3600);
    let keys =
        ServerKeys::with_certificate(&static_secret, cert, &auth.x_only_public_key().0).unwrap();
    let (act1, sri) = sri_initiator(&auth).step_0().unwrap();
    let (act2, mut transport) = Responder::new(&keys)
        .step_1(act1.payload(), unix_now())
        .unwrap();
    exchange_with_sri(&mut transport, sri.step_2(act2).unwrap());
}

#[test]
fn sri_example_config_keys_work_across_implementations() {
    // Our initiator configured with the key string from SRI's translator config, against an
    // SRI responder configured with the matching pool config pair.
    let pk = decode_public_key(SRI_AUTHORITY_PUBLIC).unwrap();
    let kp =
        sv2_noise::decode_authority_keypair(SRI_AUTHORITY_PUBLIC, SRI_AUTHORITY_SECRET).unwrap();
    let mut ours = Initiator::new(pk);
    let (act2, sri_transport) = sri_responder(&kp).step_1(ours.step_0().unwrap()).unwrap();
    let mut transport = ours.step_2(act2.payload(), unix_now()).unwrap();
    exchange_with_sri(&mut transport, sri_transport);
}

#[test]
fn sri_initiator_rejects_our_responder_under_another_authority() {
    let keys = ServerKeys::from_authority(authority(), Duration::from_secs(3600));
    let (act1, sri) = sri_initiator(&authority()).step_0().unwrap();
    let (act2, _) = Responder::new(&keys)
        .step_1(act1.payload(), unix_now())
        .unwrap();
    assert!(sri.step_2(act2).is_err());
}

#[test]
fn our_initiator_rejects_sri_responder_under_another_authority() {
    let mut ours = Initiator::new(authority().x_only_public_key().0);
    let (act2, _) = sri_responder(&authority())
        .step_1(ours.step_0().unwrap())
        .unwrap();
    assert!(matches!(
        ours.step_2(act2.payload(), unix_now()),
        Err(sv2_noise::HandshakeError::Certificate(
            sv2_noise::CertificateError::BadSignature
        ))
    ));
}

#[test]
fn our_initiator_rejects_expired_sri_certificate() {
    // SRI signs [now, now + 3600]; checking two hours later must fail.
    let auth = authority();
    let mut ours = Initiator::new(auth.x_only_public_key().0);
    let (act2, _) = sri_responder(&auth).step_1(ours.step_0().unwrap()).unwrap();
    assert!(matches!(
        ours.step_2(act2.payload(), unix_now() + 7200),
        Err(sv2_noise::HandshakeError::Certificate(
            sv2_noise::CertificateError::Expired { .. }
        ))
    ));
}

// ---------------------------------------------------------------------------------------
// Loopback TCP

async fn listener() -> (TcpListener, std::net::SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

/// SRI responder driving a raw socket: handshake, then echo `count` frames back.
async fn sri_echo_server(mut sock: TcpStream, auth: Keypair, count: usize) {
    let mut act1 = [0u8; 64];
    sock.read_exact(&mut act1).await.unwrap();
    let (act2, transport) = sri_responder(&auth).step_1(act1).unwrap();
    sock.write_all(act2.payload()).await.unwrap();
    let (mut enc, mut dec) = transport.split();
    let mut decoder = NoiseDecoder::new();
    for _ in 0..count {
        let frame = loop {
            let want = decoder.writable_len();
            let mut tmp = vec![0u8; want];
            sock.read_exact(&mut tmp).await.unwrap();
            decoder.writable().copy_from_slice(&tmp);
            match decoder.next_transport_frame(dec).unwrap() {
                Decrypted::Frame(f, s) => {
                    dec = s;
                    break f.as_bytes().to_vec();
                }
                Decrypted::Incomplete(_, s) => dec = s,
            }
        };
        let wire = sri_encrypt(&mut enc, &frame);
        sock.write_all(&wire).await.unwrap();
    }
}

#[tokio::test]
async fn tcp_our_connect_to_sri_responder() {
    let auth = authority();
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (sock, _) = l.accept().await.unwrap();
        sri_echo_server(sock, auth, PAYLOAD_SIZES.len()).await;
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut conn = sv2_noise::connect(tcp, auth.x_only_public_key().0, TIMEOUT)
        .await
        .unwrap();
    for (i, &len) in PAYLOAD_SIZES.iter().enumerate() {
        let f = frame(i as u8, len);
        conn.send(&f).await.unwrap();
        let got = conn.recv().await.unwrap().unwrap();
        assert_eq!(&got[..], &f[..], "payload {len}");
    }
    server.await.unwrap();
}

#[tokio::test]
async fn tcp_sri_initiator_to_our_accept() {
    let auth = authority();
    let keys = ServerKeys::from_authority(auth, Duration::from_secs(3600));
    let (l, addr) = listener().await;
    // Our server echoes every frame, using split halves in two tasks joined by a channel.
    let server = tokio::spawn(async move {
        let (sock, _) = l.accept().await.unwrap();
        let conn = sv2_noise::accept(sock, &keys, TIMEOUT).await.unwrap();
        let (mut rx, mut tx) = conn.into_split();
        let (chan_tx, mut chan_rx) = tokio::sync::mpsc::channel(4);
        let reader = tokio::spawn(async move {
            while let Some(f) = rx.recv().await.unwrap() {
                chan_tx.send(f).await.unwrap();
            }
        });
        while let Some(f) = chan_rx.recv().await {
            tx.send(f).await.unwrap();
        }
        reader.await.unwrap();
    });

    let mut sock = TcpStream::connect(addr).await.unwrap();
    let (act1, sri) = sri_initiator(&auth).step_0().unwrap();
    sock.write_all(act1.payload()).await.unwrap();
    let mut act2 = [0u8; 234];
    sock.read_exact(&mut act2).await.unwrap();
    let (mut enc, mut dec) = sri.step_2(act2).unwrap().split();
    let mut decoder = NoiseDecoder::new();
    for (i, &len) in PAYLOAD_SIZES.iter().enumerate() {
        let f = frame(i as u8, len);
        sock.write_all(&sri_encrypt(&mut enc, &f)).await.unwrap();
        let mut wire = vec![0u8; sv2_noise::encrypted_frame_len(len)];
        sock.read_exact(&mut wire).await.unwrap();
        let (got, s) = sri_decrypt(&mut decoder, dec, &wire);
        dec = s;
        assert_eq!(got, f, "payload {len}");
    }
    drop(sock);
    server.await.unwrap();
}
