//! SV2 server certificates (`SIGNATURE_NOISE_MESSAGE`).
//!
//! The responder sends, encrypted in handshake act 2, a 74-byte message
//! `version u16 LE || valid_from u32 LE || not_valid_after u32 LE || signature [64]`. The
//! signature is a BIP340 Schnorr signature by the pool's authority key over
//! `SHA-256(version || valid_from || not_valid_after || server_static_xonly_pubkey)`.
//! The initiator rebuilds that digest with the static key it received during the handshake
//! and checks the signature against the authority key it was configured with.

use bitcoin::secp256k1::{schnorr::Signature, Keypair, Message, XOnlyPublicKey};
use sha2::{Digest, Sha256};

use crate::primitives::secp;

/// The only certificate format version defined so far.
pub const CERTIFICATE_VERSION: u16 = 0;
/// Serialized size of a [`SignatureNoiseMessage`].
pub const SIGNATURE_NOISE_MESSAGE_SIZE: usize = 74;
/// Clock skew tolerated on both ends of the validity window, in seconds (same as SRI).
pub const CLOCK_SKEW_LEEWAY_SECS: u32 = 10;

/// Why a certificate was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// The serialized certificate is not exactly 74 bytes.
    #[error("certificate must be {SIGNATURE_NOISE_MESSAGE_SIZE} bytes, got {0}")]
    Length(usize),
    /// The certificate text is not valid hex.
    #[error("certificate is not valid hex")]
    Hex,
    /// Unknown certificate format version.
    #[error("unsupported certificate version {0}")]
    UnsupportedVersion(u16),
    /// `now` is before `valid_from` (beyond the leeway).
    #[error("certificate not valid before {valid_from} (now {now})")]
    NotYetValid {
        /// Start of the validity window.
        valid_from: u32,
        /// The time it was checked at.
        now: u32,
    },
    /// `now` is after `not_valid_after` (beyond the leeway).
    #[error("certificate expired at {not_valid_after} (now {now})")]
    Expired {
        /// End of the validity window.
        not_valid_after: u32,
        /// The time it was checked at.
        now: u32,
    },
    /// The signature does not verify under the configured authority key for this server key.
    #[error("certificate signature does not verify under the authority key")]
    BadSignature,
}

/// The certificate body sent by the responder in handshake act 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureNoiseMessage {
    /// Certificate format version ([`CERTIFICATE_VERSION`]).
    pub version: u16,
    /// Start of validity, unix seconds.
    pub valid_from: u32,
    /// End of validity (inclusive), unix seconds.
    pub not_valid_after: u32,
    /// BIP340 Schnorr signature by the authority key.
    pub signature: [u8; 64],
}

/// The digest the authority signs: `SHA-256(version || valid_from || not_valid_after || server_key)`.
pub fn certificate_digest(
    version: u16,
    valid_from: u32,
    not_valid_after: u32,
    server_static: &XOnlyPublicKey,
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(version.to_le_bytes());
    h.update(valid_from.to_le_bytes());
    h.update(not_valid_after.to_le_bytes());
    h.update(server_static.serialize());
    h.finalize().into()
}

impl SignatureNoiseMessage {
    /// Signs a version-0 certificate for `server_static`, valid over
    /// `[valid_from, not_valid_after]`.
    pub fn sign(
        authority: &Keypair,
        server_static: &XOnlyPublicKey,
        valid_from: u32,
        not_valid_after: u32,
    ) -> Self {
        let digest = certificate_digest(
            CERTIFICATE_VERSION,
            valid_from,
            not_valid_after,
            server_static,
        );
        let sig = secp().sign_schnorr(&Message::from_digest(digest), authority);
        Self {
            version: CERTIFICATE_VERSION,
            valid_from,
            not_valid_after,
            signature: *sig.as_ref(),
        }
    }

    /// Serializes to the 74-byte wire form.
    pub fn to_bytes(&self) -> [u8; SIGNATURE_NOISE_MESSAGE_SIZE] {
        let mut out = [0u8; SIGNATURE_NOISE_MESSAGE_SIZE];
        out[0..2].copy_from_slice(&self.version.to_le_bytes());
        out[2..6].copy_from_slice(&self.valid_from.to_le_bytes());
        out[6..10].copy_from_slice(&self.not_valid_after.to_le_bytes());
        out[10..].copy_from_slice(&self.signature);
        out
    }

    /// Parses the 74-byte wire form (no semantic checks; see [`Self::verify`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CertificateError> {
        let b: &[u8; SIGNATURE_NOISE_MESSAGE_SIZE] = bytes
            .try_into()
            .map_err(|_| CertificateError::Length(bytes.len()))?;
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&b[10..]);
        Ok(Self {
            version: u16::from_le_bytes([b[0], b[1]]),
            valid_from: u32::from_le_bytes([b[2], b[3], b[4], b[5]]),
            not_valid_after: u32::from_le_bytes([b[6], b[7], b[8], b[9]]),
            signature,
        })
    }

    /// Lower-case hex of the wire form (148 characters), the format `sv2-keys` prints.
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_bytes())
    }

    /// Parses [`Self::to_hex`] output.
    pub fn from_hex(s: &str) -> Result<Self, CertificateError> {
        let bytes = hex::decode(s.trim()).map_err(|_| CertificateError::Hex)?;
        Self::from_bytes(&bytes)
    }

    /// Checks the version, the validity window at `now` (± [`CLOCK_SKEW_LEEWAY_SECS`]) and
    /// the authority's signature over this certificate for `server_static`.
    pub fn verify(
        &self,
        server_static: &XOnlyPublicKey,
        authority: &XOnlyPublicKey,
        now: u32,
    ) -> Result<(), CertificateError> {
        self.check_time(now)?;
        self.verify_signature(server_static, authority)
    }

    /// Checks the version and the validity window only.
    pub fn check_time(&self, now: u32) -> Result<(), CertificateError> {
        if self.version != CERTIFICATE_VERSION {
            return Err(CertificateError::UnsupportedVersion(self.version));
        }
        if now < self.valid_from.saturating_sub(CLOCK_SKEW_LEEWAY_SECS) {
            return Err(CertificateError::NotYetValid {
                valid_from: self.valid_from,
                now,
            });
        }
        if now > self.not_valid_after.saturating_add(CLOCK_SKEW_LEEWAY_SECS) {
            return Err(CertificateError::Expired {
                not_valid_after: self.not_valid_after,
                now,
            });
        }
        Ok(())
    }

    /// Checks the version and the authority's signature only (not the validity window).
    pub fn verify_signature(
        &self,
        server_static: &XOnlyPublicKey,
        authority: &XOnlyPublicKey,
    ) -> Result<(), CertificateError> {
        if self.version != CERTIFICATE_VERSION {
            return Err(CertificateError::UnsupportedVersion(self.version));
        }
        let digest = certificate_digest(
            self.version,
            self.valid_from,
            self.not_valid_after,
            server_static,
        );
        let sig =
            Signature::from_slice(&self.signature).map_err(|_| CertificateError::BadSignature)?;
        secp()
            .verify_schnorr(&sig, &Message::from_digest(digest), authority)
            .map_err(|_| CertificateError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::secp256k1::{rand::thread_rng, SecretKey};

    fn keypair() -> Keypair {
        Keypair::from_secret_key(secp(), &SecretKey::new(&mut thread_rng()))
    }

    #[test]
    fn valid_certificate_verifies() {
        let authority = keypair();
        let server = keypair().x_only_public_key().0;
        let cert = SignatureNoiseMessage::sign(&authority, &server, 1000, 2000);
        let auth_pk = authority.x_only_public_key().0;
        assert_eq!(cert.verify(&server, &auth_pk, 1500), Ok(()));
        // Leeway at both edges.
        assert_eq!(cert.verify(&server, &auth_pk, 990), Ok(()));
        assert_eq!(cert.verify(&server, &auth_pk, 2010), Ok(()));
    }

    #[test]
    fn wrong_authority_is_rejected() {
        let cert_signer = keypair();
        let server = keypair().x_only_public_key().0;
        let cert = SignatureNoiseMessage::sign(&cert_signer, &server, 1000, 2000);
        let other = keypair().x_only_public_key().0;
        assert_eq!(
            cert.verify(&server, &other, 1500),
            Err(CertificateError::BadSignature)
        );
    }

    #[test]
    fn certificate_for_another_server_key_is_rejected() {
        let authority = keypair();
        let server = keypair().x_only_public_key().0;
        let impostor = keypair().x_only_public_key().0;
        let cert = SignatureNoiseMessage::sign(&authority, &server, 1000, 2000);
        assert_eq!(
            cert.verify(&impostor, &authority.x_only_public_key().0, 1500),
            Err(CertificateError::BadSignature)
        );
    }

    #[test]
    fn expired_and_not_yet_valid_are_rejected() {
        let authority = keypair();
        let server = keypair().x_only_public_key().0;
        let auth_pk = authority.x_only_public_key().0;
        let cert = SignatureNoiseMessage::sign(&authority, &server, 1000, 2000);
        assert_eq!(
            cert.verify(&server, &auth_pk, 2011),
            Err(CertificateError::Expired {
                not_valid_after: 2000,
                now: 2011
            })
        );
        assert_eq!(
            cert.verify(&server, &auth_pk, 989),
            Err(CertificateError::NotYetValid {
                valid_from: 1000,
                now: 989
            })
        );
    }

    #[test]
    fn tampered_fields_break_the_signature() {
        let authority = keypair();
        let server = keypair().x_only_public_key().0;
        let auth_pk = authority.x_only_public_key().0;
        let cert = SignatureNoiseMessage::sign(&authority, &server, 1000, 2000);
        let mut longer = cert;
        longer.not_valid_after = 9000;
        assert_eq!(
            longer.verify(&server, &auth_pk, 1500),
            Err(CertificateError::BadSignature)
        );
        let mut bad_sig = cert;
        bad_sig.signature[5] ^= 1;
        assert_eq!(
            bad_sig.verify(&server, &auth_pk, 1500),
            Err(CertificateError::BadSignature)
        );
        let mut v1 = cert;
        v1.version = 1;
        assert_eq!(
            v1.verify(&server, &auth_pk, 1500),
            Err(CertificateError::UnsupportedVersion(1))
        );
    }

    #[test]
    fn wire_and_hex_roundtrip() {
        let authority = keypair();
        let server = keypair().x_only_public_key().0;
        let cert = SignatureNoiseMessage::sign(&authority, &server, 0x01020304, 0x0a0b0c0d);
        let bytes = cert.to_bytes();
        assert_eq!(&bytes[..10], &[0, 0, 4, 3, 2, 1, 0x0d, 0x0c, 0x0b, 0x0a]);
        assert_eq!(SignatureNoiseMessage::from_bytes(&bytes), Ok(cert));
        assert_eq!(SignatureNoiseMessage::from_hex(&cert.to_hex()), Ok(cert));
        assert_eq!(
            SignatureNoiseMessage::from_bytes(&bytes[..73]),
            Err(CertificateError::Length(73))
        );
        assert_eq!(
            SignatureNoiseMessage::from_hex("zz"),
            Err(CertificateError::Hex)
        );
    }
}
