//! The result of a completed handshake: the two transport cipher states, wrapped as a frame
//! encryptor and a frame decryptor (sans-IO).

use bitcoin::secp256k1::XOnlyPublicKey;
use bytes::{Bytes, BytesMut};

use crate::cipher_state::CipherState;
use crate::frame::{FrameDecryptor, FrameEncryptor, FrameError};

/// An established Noise session: encrypts outgoing and decrypts incoming SV2 frames.
#[derive(Debug)]
pub struct Transport {
    encryptor: FrameEncryptor,
    decryptor: FrameDecryptor,
    handshake_hash: [u8; 32],
    remote_static: Option<XOnlyPublicKey>,
}

impl Transport {
    pub(crate) fn new(
        send: CipherState,
        recv: CipherState,
        handshake_hash: [u8; 32],
        remote_static: Option<XOnlyPublicKey>,
    ) -> Self {
        Self {
            encryptor: FrameEncryptor::new(send),
            decryptor: FrameDecryptor::new(recv),
            handshake_hash,
            remote_static,
        }
    }

    /// Encrypts one plaintext SV2 frame (header + payload) and appends it to `out`.
    pub fn encrypt_frame(&mut self, frame: &[u8], out: &mut BytesMut) -> Result<(), FrameError> {
        self.encryptor.encrypt_frame(frame, out)
    }

    /// Decrypts the next complete frame at the front of `src` (see [`FrameDecryptor`]).
    pub fn decrypt_frame(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        self.decryptor.decrypt_frame(src)
    }

    /// Limits the size of payloads accepted from the peer.
    pub fn set_max_payload_len(&mut self, max: usize) {
        self.decryptor.set_max_payload_len(max);
    }

    /// The final Noise handshake hash `h` (identical on both ends; usable for channel binding).
    pub fn handshake_hash(&self) -> &[u8; 32] {
        &self.handshake_hash
    }

    /// The responder's static key as authenticated by its certificate (initiator side only).
    pub fn remote_static_key(&self) -> Option<XOnlyPublicKey> {
        self.remote_static
    }

    /// Splits into independently usable sending and receiving halves.
    pub fn split(self) -> (FrameEncryptor, FrameDecryptor) {
        (self.encryptor, self.decryptor)
    }
}
