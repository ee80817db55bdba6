//! `Noise_NX_Secp256k1+EllSwift_ChaChaPoly_SHA256` for Stratum V2 (sv2-spec section 4),
//! wire-compatible with SRI's `noise_sv2` 2.x / `codec_sv2` 7.x.
//!
//! Layers, bottom-up:
//! * [`primitives`]: the Noise DH/cipher/hash functions plugged into the `noise-protocol` crate;
//! * [`certificate`]: the server certificate (`SIGNATURE_NOISE_MESSAGE`) and its checks;
//! * [`keys`]: SRI-compatible key encodings and the responder's [`ServerKeys`];
//! * [`Initiator`] / [`Responder`]: sans-IO handshake state machines producing a [`Transport`];
//! * [`frame`]: encryption of whole SV2 frames (22-byte header + chunked payload);
//! * [`stream`]: tokio [`connect`] / [`accept`] returning a [`NoiseConnection`].
//!
//! Handshake on the wire: act 1 is the initiator's 64-byte ElligatorSwift ephemeral key;
//! act 2 is 234 bytes: responder ephemeral (64) || encrypted static key (64 + 16) ||
//! encrypted certificate (74 + 16). There is no length prefix on either act.

#![deny(missing_docs)]

pub mod certificate;
pub mod cipher_state;
pub mod error;
pub mod frame;
pub mod initiator;
pub mod keys;
pub mod primitives;
pub mod responder;
pub mod stream;
pub mod transport;

pub use certificate::{CertificateError, SignatureNoiseMessage, CERTIFICATE_VERSION};
pub use cipher_state::{CipherError, CipherState};
pub use error::{HandshakeError, NoiseError};
pub use frame::{
    encrypted_frame_len, encrypted_payload_len, FrameDecryptor, FrameEncryptor, FrameError,
    DEFAULT_MAX_PAYLOAD_LEN, ENCRYPTED_HEADER_SIZE, MAX_PAYLOAD_LEN, SV2_FRAME_HEADER_SIZE,
};
pub use initiator::Initiator;
pub use keys::{
    decode_authority_keypair, decode_public_key, decode_secret_key, encode_public_key,
    encode_secret_key, CertificateSource, KeyError, ServerKeys,
};
pub use responder::Responder;
pub use stream::{
    accept, accept_with, connect, connect_with, unix_now, NoiseConnection, NoiseReader, NoiseWriter,
};
pub use transport::Transport;

/// Re-export of the secp256k1 version used in this API (`bitcoin`'s).
pub use bitcoin::secp256k1;
/// Re-export of the `bytes` crate whose `Bytes`/`BytesMut` appear in this API.
pub use bytes;

/// Size of handshake act 1 (initiator -> responder): one ElligatorSwift key.
pub const ACT1_SIZE: usize = primitives::ELLSWIFT_ENCODING_SIZE;
/// Size of handshake act 2 (responder -> initiator).
pub const ACT2_SIZE: usize = primitives::ELLSWIFT_ENCODING_SIZE
    + primitives::ELLSWIFT_ENCODING_SIZE
    + primitives::MAC_LEN
    + certificate::SIGNATURE_NOISE_MESSAGE_SIZE
    + primitives::MAC_LEN;

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use secp256k1::Keypair;
    use std::time::Duration;

    fn authority() -> Keypair {
        Keypair::from_secret_key(primitives::secp(), &keys::generate_secret_key())
    }

    #[test]
    fn act_sizes() {
        assert_eq!(ACT1_SIZE, 64);
        assert_eq!(ACT2_SIZE, 234);
    }

    #[test]
    fn handshake_and_frames_both_directions() {
        let auth = authority();
        let keys = ServerKeys::from_authority(auth, Duration::from_secs(60));
        let mut init = Initiator::new(auth.x_only_public_key().0);
        let act1 = init.step_0().unwrap();
        let (act2, mut server) = Responder::new(&keys).step_1(&act1, 1000).unwrap();
        let mut client = init.step_2(&act2, 1000).unwrap();
        assert_eq!(client.handshake_hash(), server.handshake_hash());
        assert_eq!(client.remote_static_key(), Some(keys.static_public_key()));

        let frame = [0u8, 0, 0x1b, 2, 0, 0, 0xaa, 0xbb];
        let mut wire = BytesMut::new();
        client.encrypt_frame(&frame, &mut wire).unwrap();
        assert_eq!(wire.len(), 22 + 2 + 16);
        assert_eq!(
            &server.decrypt_frame(&mut wire).unwrap().unwrap()[..],
            &frame
        );
        server.encrypt_frame(&frame, &mut wire).unwrap();
        assert_eq!(
            &client.decrypt_frame(&mut wire).unwrap().unwrap()[..],
            &frame
        );
    }

    #[test]
    fn out_of_order_and_bad_lengths() {
        let auth = authority();
        let keys = ServerKeys::from_authority(auth, Duration::from_secs(60));
        let init = Initiator::new(auth.x_only_public_key().0);
        assert_eq!(
            init.step_2(&[0; ACT2_SIZE], 0).unwrap_err(),
            HandshakeError::OutOfOrder
        );
        let mut init = Initiator::new(auth.x_only_public_key().0);
        init.step_0().unwrap();
        assert_eq!(init.step_0().unwrap_err(), HandshakeError::OutOfOrder);
        assert!(matches!(
            init.step_2(&[0; 233], 0),
            Err(HandshakeError::Length {
                expected: 234,
                got: 233
            })
        ));
        assert!(matches!(
            Responder::new(&keys).step_1(&[0; 65], 0),
            Err(HandshakeError::Length {
                expected: 64,
                got: 65
            })
        ));
    }

    #[test]
    fn certificate_problems_fail_the_handshake() {
        let auth = authority();
        let keys = ServerKeys::from_authority(auth, Duration::from_secs(60));
        // Wrong authority.
        let mut init = Initiator::new(authority().x_only_public_key().0);
        let (act2, _) = Responder::new(&keys)
            .step_1(&init.step_0().unwrap(), 1000)
            .unwrap();
        assert_eq!(
            init.step_2(&act2, 1000).unwrap_err(),
            HandshakeError::Certificate(CertificateError::BadSignature)
        );
        // Expired: certificate valid [1000, 1060], checked at 2000.
        let mut init = Initiator::new(auth.x_only_public_key().0);
        let (act2, _) = Responder::new(&keys)
            .step_1(&init.step_0().unwrap(), 1000)
            .unwrap();
        assert!(matches!(
            init.step_2(&act2, 2000),
            Err(HandshakeError::Certificate(
                CertificateError::Expired { .. }
            ))
        ));
    }

    #[test]
    fn every_single_bit_flip_in_act2_is_rejected() {
        let auth = authority();
        let keys = ServerKeys::from_authority(auth, Duration::from_secs(60));
        let mut init = Initiator::new(auth.x_only_public_key().0);
        let act1 = init.step_0().unwrap();
        let (act2, _) = Responder::new(&keys).step_1(&act1, 1000).unwrap();
        for i in 0..ACT2_SIZE {
            let mut bad = act2;
            bad[i] ^= 0x01;
            assert!(
                init.clone_for_test().step_2(&bad, 1000).is_err(),
                "byte {i}"
            );
        }
        assert!(init.step_2(&act2, 1000).is_ok());
    }
}
