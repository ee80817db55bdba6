//! Handshake initiator (client side), sans-IO.
//!
//! ```text
//! let mut initiator = Initiator::new(authority_pubkey);
//! let act1 = initiator.step_0()?;             // send these 64 bytes
//! let transport = initiator.step_2(&act2, now)?; // after receiving the 234-byte reply
//! ```

use bitcoin::secp256k1::{ellswift::ElligatorSwift, PublicKey, XOnlyPublicKey};
use noise_protocol::{patterns::noise_nx, HandshakeState};

use crate::certificate::SignatureNoiseMessage;
use crate::cipher_state::CipherState;
use crate::error::HandshakeError;
use crate::primitives::{ChaChaPoly, InitiatorDh, Sha256};
use crate::transport::Transport;
use crate::{ACT1_SIZE, ACT2_SIZE};

type State = HandshakeState<InitiatorDh, ChaChaPoly, Sha256>;

/// Client side of `Noise_NX`: sends its ephemeral key, then authenticates the server's
/// static key through the certificate signed by the configured authority.
pub struct Initiator {
    hs: State,
    authority: XOnlyPublicKey,
    sent_act1: bool,
}

impl std::fmt::Debug for Initiator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Initiator")
            .field("authority", &self.authority)
            .field("sent_act1", &self.sent_act1)
            .finish_non_exhaustive()
    }
}

impl Initiator {
    /// A new handshake that will only accept servers certified by `authority`.
    pub fn new(authority: XOnlyPublicKey) -> Self {
        let hs = State::new(noise_nx(), true, b"", None, None, None, None);
        Self {
            hs,
            authority,
            sent_act1: false,
        }
    }

    /// Duplicates the handshake state so tests can replay act 2 variants against the same
    /// ephemeral key. Never exposed: two transports from one handshake would reuse nonces.
    #[cfg(test)]
    pub(crate) fn clone_for_test(&self) -> Self {
        Self {
            hs: self.hs.clone(),
            authority: self.authority,
            sent_act1: self.sent_act1,
        }
    }

    /// Act 1 (`-> e`): returns the 64-byte ElligatorSwift ephemeral key to send.
    pub fn step_0(&mut self) -> Result<[u8; ACT1_SIZE], HandshakeError> {
        if self.sent_act1 {
            return Err(HandshakeError::OutOfOrder);
        }
        let mut out = [0u8; ACT1_SIZE];
        self.hs.write_message(&[], &mut out)?;
        self.sent_act1 = true;
        Ok(out)
    }

    /// Act 2 (`<- e, ee, s, es` + certificate): processes the responder's 234-byte reply,
    /// verifies the certificate at unix time `now`, and returns the transport.
    pub fn step_2(mut self, act2: &[u8], now: u32) -> Result<Transport, HandshakeError> {
        if !self.sent_act1 {
            return Err(HandshakeError::OutOfOrder);
        }
        if act2.len() != ACT2_SIZE {
            return Err(HandshakeError::Length {
                expected: ACT2_SIZE,
                got: act2.len(),
            });
        }
        let mut payload = [0u8; crate::certificate::SIGNATURE_NOISE_MESSAGE_SIZE];
        self.hs.read_message(act2, &mut payload)?;
        let rs = self.hs.get_rs().ok_or(HandshakeError::Decrypt)?;
        let server_static = PublicKey::from_ellswift(ElligatorSwift::from_array(rs))
            .x_only_public_key()
            .0;
        let cert = SignatureNoiseMessage::from_bytes(&payload)?;
        cert.verify(&server_static, &self.authority, now)?;
        let (c1, c2) = self.hs.get_ciphers();
        let (k1, n1) = c1.extract();
        let (k2, n2) = c2.extract();
        let mut h = [0u8; 32];
        h.copy_from_slice(self.hs.get_hash());
        Ok(Transport::new(
            CipherState::new(&k1, n1),
            CipherState::new(&k2, n2),
            h,
            Some(server_static),
        ))
    }
}
