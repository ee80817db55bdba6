//! Noise transport benches: ours (sv2-noise) vs SRI (noise_sv2 + codec_sv2) in the same run.
//!
//! * `noise_frame/{ours,sri}/{30,1024}`: encrypt + decrypt one SV2 frame (6-byte header +
//!   payload) through the full frame layer. 30 bytes is a SubmitSharesStandard payload.
//! * `noise_handshake/{ours,sri}`: a complete NX handshake (both sides, certificate signed by
//!   the authority and verified by the client).

use std::time::Duration;

use codec_sv2::{Decrypted, Handshake, NoiseDecoder, NoiseEncoder};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use framing_sv2::framing::SerializedFrame;
use sv2_noise::bytes::BytesMut;
use sv2_noise::secp256k1::{rand::thread_rng, Keypair, Secp256k1};
use sv2_noise::{unix_now, Initiator, Responder, ServerKeys};

const PAYLOAD_SIZES: [usize; 2] = [30, 1024];

fn authority() -> Keypair {
    Keypair::new(&Secp256k1::new(), &mut thread_rng())
}

fn frame(payload_len: usize) -> Vec<u8> {
    let mut f = vec![0x00, 0x80, 0x1a];
    f.extend_from_slice(&(payload_len as u32).to_le_bytes()[..3]);
    f.extend((0..payload_len).map(|i| i as u8));
    f
}

fn our_pair(auth: &Keypair) -> (sv2_noise::Transport, sv2_noise::Transport) {
    let keys = ServerKeys::from_authority(*auth, Duration::from_secs(3600));
    let mut init = Initiator::new(auth.x_only_public_key().0);
    let act1 = init.step_0().unwrap();
    let (act2, server) = Responder::new(&keys).step_1(&act1, unix_now()).unwrap();
    (init.step_2(&act2, unix_now()).unwrap(), server)
}

fn sri_handshakes(
    auth: &Keypair,
) -> (
    Handshake<noise_sv2::Initiator>,
    Handshake<noise_sv2::Responder>,
) {
    let pk = auth.x_only_public_key().0.serialize();
    let sk = auth.secret_bytes();
    (
        Handshake::initiator(noise_sv2::Initiator::from_raw_k(pk).unwrap()),
        Handshake::responder(
            noise_sv2::Responder::from_authority_kp(&pk, &sk, Duration::from_secs(3600)).unwrap(),
        ),
    )
}

fn sri_pair(auth: &Keypair) -> (codec_sv2::Transport, codec_sv2::Transport) {
    let (init, resp) = sri_handshakes(auth);
    let (act1, init) = init.step_0().unwrap();
    let (act2, server) = resp.step_1(act1.payload().try_into().unwrap()).unwrap();
    (
        init.step_2(act2.payload().try_into().unwrap()).unwrap(),
        server,
    )
}

fn bench_frames(c: &mut Criterion) {
    let auth = authority();
    let mut group = c.benchmark_group("noise_frame");
    for &len in &PAYLOAD_SIZES {
        let plain = frame(len);
        group.throughput(Throughput::Bytes(plain.len() as u64));

        let (mut client, mut server) = our_pair(&auth);
        let mut wire = BytesMut::with_capacity(4096);
        group.bench_with_input(BenchmarkId::new("ours", len), &plain, |b, plain| {
            b.iter(|| {
                client.encrypt_frame(plain, &mut wire).unwrap();
                let out = server.decrypt_frame(&mut wire).unwrap().unwrap();
                assert_eq!(out.len(), plain.len());
            })
        });

        let (client, server) = sri_pair(&auth);
        let (mut enc, _) = client.split();
        let (_, dec) = server.split();
        let mut dec = Some(dec);
        let mut encoder = NoiseEncoder::new();
        let mut decoder = NoiseDecoder::new();
        let mut scratch = plain.clone();
        group.bench_with_input(BenchmarkId::new("sri", len), &plain, |b, plain| {
            b.iter(|| {
                scratch.copy_from_slice(plain);
                let f = SerializedFrame::from_bytes(&mut scratch[..]).unwrap();
                let encrypted = encoder.encode_transport(f, &mut enc).unwrap();
                let wire: &[u8] = encrypted.as_ref();
                let mut state = dec.take().unwrap();
                let mut offset = 0;
                let out_len = loop {
                    let writable = decoder.writable();
                    let n = writable.len().min(wire.len() - offset);
                    writable[..n].copy_from_slice(&wire[offset..offset + n]);
                    offset += n;
                    match decoder.next_transport_frame(state).unwrap() {
                        Decrypted::Frame(frame, s) => {
                            dec = Some(s);
                            break frame.as_bytes().len();
                        }
                        Decrypted::Incomplete(_, s) => state = s,
                    }
                };
                assert_eq!(out_len, plain.len());
            })
        });
    }
    group.finish();
}

fn bench_handshake(c: &mut Criterion) {
    let auth = authority();
    let keys = ServerKeys::from_authority(auth, Duration::from_secs(3600));
    let auth_pk = auth.x_only_public_key().0;
    let mut group = c.benchmark_group("noise_handshake");
    group.bench_function("ours", |b| {
        b.iter(|| {
            let mut init = Initiator::new(auth_pk);
            let act1 = init.step_0().unwrap();
            let now = unix_now();
            let (act2, _server) = Responder::new(&keys).step_1(&act1, now).unwrap();
            init.step_2(&act2, now).unwrap()
        })
    });
    group.bench_function("sri", |b| {
        b.iter(|| {
            let (init, resp) = sri_handshakes(&auth);
            let (act1, init) = init.step_0().unwrap();
            let (act2, _server) = resp.step_1(act1.payload().try_into().unwrap()).unwrap();
            init.step_2(act2.payload().try_into().unwrap()).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_frames, bench_handshake);
criterion_main!(benches);
