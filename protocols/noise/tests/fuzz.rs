//! Property tests: arbitrary bytes fed to every input path never panic, never authenticate,
//! and valid traffic survives arbitrary segmentation.

use std::time::Duration;

use bytes::BytesMut;
use proptest::prelude::*;
use sv2_noise::secp256k1::{rand::thread_rng, Keypair, Secp256k1};
use sv2_noise::{
    accept_with, CipherState, FrameDecryptor, FrameEncryptor, HandshakeError, Initiator,
    NoiseError, Responder, ServerKeys, SignatureNoiseMessage, ACT1_SIZE,
};
use tokio::io::AsyncWriteExt;

fn keys() -> (Keypair, ServerKeys) {
    let auth = Keypair::new(&Secp256k1::new(), &mut thread_rng());
    (
        auth,
        ServerKeys::from_authority(auth, Duration::from_secs(3600)),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_act2_is_rejected(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let (auth, _) = keys();
        let mut init = Initiator::new(auth.x_only_public_key().0);
        init.step_0().unwrap();
        let res = init.step_2(&bytes, 1_700_000_000);
        prop_assert!(res.is_err());
        if bytes.len() != 234 {
            let is_length_error = matches!(res, Err(HandshakeError::Length { .. }));
            prop_assert!(is_length_error);
        }
    }

    #[test]
    fn random_act1_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let (_, keys) = keys();
        let res = Responder::new(&keys).step_1(&bytes, 1_700_000_000);
        // Every 64-byte string is a valid ElligatorSwift encoding, so only the length matters.
        prop_assert_eq!(res.is_ok(), bytes.len() == ACT1_SIZE);
    }

    #[test]
    fn random_certificate_bytes_never_verify(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        let (auth, keys) = keys();
        if let Ok(cert) = SignatureNoiseMessage::from_bytes(&bytes) {
            prop_assert!(cert
                .verify(&keys.static_public_key(), &auth.x_only_public_key().0, cert.valid_from)
                .is_err());
        } else {
            prop_assert_ne!(bytes.len(), 74);
        }
    }

    #[test]
    fn random_transport_bytes_never_yield_a_frame(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 0..10)
    ) {
        let mut dec = FrameDecryptor::new(CipherState::new(&[3; 32], 0));
        let mut buf = BytesMut::new();
        for c in chunks {
            buf.extend_from_slice(&c);
            match dec.decrypt_frame(&mut buf) {
                Ok(None) | Err(_) => {}
                Ok(Some(f)) => prop_assert!(false, "forged frame accepted: {:?}", f),
            }
        }
    }

    #[test]
    fn frames_survive_arbitrary_segmentation(
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..3000), 1..6),
        cuts in proptest::collection::vec(1usize..500, 1..40),
    ) {
        let key = [11u8; 32];
        let mut enc = FrameEncryptor::new(CipherState::new(&key, 0));
        let mut dec = FrameDecryptor::new(CipherState::new(&key, 0));
        let frames: Vec<Vec<u8>> = payloads
            .iter()
            .map(|p| {
                let mut f = vec![1, 0, 0x1f];
                f.extend_from_slice(&(p.len() as u32).to_le_bytes()[..3]);
                f.extend_from_slice(p);
                f
            })
            .collect();
        let mut wire = BytesMut::new();
        for f in &frames {
            enc.encrypt_frame(f, &mut wire).unwrap();
        }
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut cut = cuts.iter().cycle();
        while !wire.is_empty() {
            let n = (*cut.next().unwrap()).min(wire.len());
            buf.extend_from_slice(&wire.split_to(n));
            while let Some(f) = dec.decrypt_frame(&mut buf).unwrap() {
                out.push(f.to_vec());
            }
        }
        prop_assert_eq!(out, frames);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Arbitrary bytes from a "client" socket: the server either fails the handshake or
    /// completes it (any 64 bytes form a valid act 1) and then rejects the rest as transport
    /// data. Never panics, never delivers a frame.
    #[test]
    fn random_client_bytes_against_accept(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let delivered = rt.block_on(async move {
            let (_, keys) = keys();
            let (mut client, server) = tokio::io::duplex(4096);
            let (r, w) = tokio::io::split(server);
            client.write_all(&bytes).await.unwrap();
            client.shutdown().await.unwrap();
            let srv = accept_with(r, w, &keys, Duration::from_secs(5)).await;
            let mut conn = match srv {
                Err(NoiseError::Io(_)) => {
                    assert!(bytes.len() < ACT1_SIZE);
                    return false;
                }
                Err(e) => panic!("unexpected handshake error {e:?}"),
                Ok(c) => c,
            };
            matches!(conn.recv().await, Ok(Some(_)))
        });
        prop_assert!(!delivered);
    }
}
