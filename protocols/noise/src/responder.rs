//! Handshake responder (server side), sans-IO.
//!
//! ```text
//! let responder = Responder::new(&server_keys);
//! let (act2, transport) = responder.step_1(&act1, now)?; // send act2 (234 bytes)
//! ```

use noise_protocol::{patterns::noise_nx, HandshakeState};

use crate::cipher_state::CipherState;
use crate::error::HandshakeError;
use crate::keys::ServerKeys;
use crate::primitives::{ChaChaPoly, ResponderDh, Sha256};
use crate::transport::Transport;
use crate::{ACT1_SIZE, ACT2_SIZE};

type State = HandshakeState<ResponderDh, ChaChaPoly, Sha256>;

/// Server side of `Noise_NX`: answers the initiator's ephemeral key with its own ephemeral,
/// its encrypted static key and its encrypted certificate.
pub struct Responder<'k> {
    hs: State,
    keys: &'k ServerKeys,
}

impl std::fmt::Debug for Responder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder")
            .field("static", &self.keys.static_public_key())
            .finish_non_exhaustive()
    }
}

impl<'k> Responder<'k> {
    /// A new handshake using the server's static key and certificate source.
    pub fn new(keys: &'k ServerKeys) -> Self {
        let hs = State::new(
            noise_nx(),
            false,
            b"",
            Some(keys.static_key().clone()),
            None,
            None,
            None,
        );
        Self { hs, keys }
    }

    /// Processes act 1 (64 bytes) and returns act 2 (234 bytes) plus the transport. The
    /// certificate is taken from the [`ServerKeys`] at unix time `now`.
    pub fn step_1(
        mut self,
        act1: &[u8],
        now: u32,
    ) -> Result<([u8; ACT2_SIZE], Transport), HandshakeError> {
        if act1.len() != ACT1_SIZE {
            return Err(HandshakeError::Length {
                expected: ACT1_SIZE,
                got: act1.len(),
            });
        }
        self.hs.read_message(act1, &mut [])?;
        let cert = self.keys.certificate_at(now).to_bytes();
        let mut out = [0u8; ACT2_SIZE];
        self.hs.write_message(&cert, &mut out)?;
        let (c1, c2) = self.hs.get_ciphers();
        let (k1, n1) = c1.extract();
        let (k2, n2) = c2.extract();
        let mut h = [0u8; 32];
        h.copy_from_slice(self.hs.get_hash());
        // c1 carries initiator -> responder traffic, c2 the other direction.
        Ok((
            out,
            Transport::new(
                CipherState::new(&k2, n2),
                CipherState::new(&k1, n1),
                h,
                None,
            ),
        ))
    }
}
