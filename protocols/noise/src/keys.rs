//! Key encodings shared with SRI configs, and the responder's key material.
//!
//! Encodings (compatible with SRI's `key_utils`, so config files are interchangeable):
//! * public key: base58check of `[1, 0] || x-only key (32 bytes)` (version 1, u16 LE prefix),
//!   e.g. `9auqWEzQDVyd2oe1JVGFLMLHZtCo2FFqZwtKA5gd9xbuEu7PH72`;
//! * secret key: base58check of the 32 raw secret bytes, no prefix.
//!
//! A responder proves its identity with a certificate over its static key. Two models:
//! * [`CertificateSource::Authority`] (SRI's model): the server holds the authority secret and
//!   signs a fresh certificate, valid from "now" for a configured duration, at each handshake;
//! * [`CertificateSource::Preissued`]: the authority secret stays offline; `sv2-keys certificate`
//!   issues a static key + certificate once and the server is configured with both.

use std::time::Duration;

use bitcoin::base58;
use bitcoin::secp256k1::{rand::thread_rng, Keypair, SecretKey, XOnlyPublicKey};

use crate::certificate::{CertificateError, SignatureNoiseMessage};
use crate::primitives::{secp, EllSwiftKeypair};

/// Version prefix of base58check-encoded public keys.
pub const PUBLIC_KEY_VERSION: u16 = 1;

/// Errors decoding a key string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not valid base58check (bad character or checksum).
    #[error("invalid base58check: {0}")]
    Base58(String),
    /// Decoded payload has the wrong length.
    #[error("decoded key has {0} bytes, expected {1}")]
    Length(usize, usize),
    /// Public key version prefix is not 1.
    #[error("unsupported public key version {0}")]
    Version(u16),
    /// The bytes are not a valid secp256k1 key.
    #[error("invalid secp256k1 key")]
    InvalidKey,
    /// The configured public key does not belong to the configured secret key.
    #[error("public key does not match the secret key")]
    Mismatch,
    /// The configured certificate is malformed or not signed for this key by the authority.
    #[error("certificate: {0}")]
    Certificate(#[from] CertificateError),
}

/// Encodes an x-only public key as base58check(`[1, 0]` || key).
pub fn encode_public_key(key: &XOnlyPublicKey) -> String {
    let mut bytes = [0u8; 34];
    bytes[..2].copy_from_slice(&PUBLIC_KEY_VERSION.to_le_bytes());
    bytes[2..].copy_from_slice(&key.serialize());
    base58::encode_check(&bytes)
}

/// Decodes [`encode_public_key`] output.
pub fn decode_public_key(s: &str) -> Result<XOnlyPublicKey, KeyError> {
    let bytes = base58::decode_check(s.trim()).map_err(|e| KeyError::Base58(e.to_string()))?;
    if bytes.len() != 34 {
        return Err(KeyError::Length(bytes.len(), 34));
    }
    let version = u16::from_le_bytes([bytes[0], bytes[1]]);
    if version != PUBLIC_KEY_VERSION {
        return Err(KeyError::Version(version));
    }
    XOnlyPublicKey::from_slice(&bytes[2..]).map_err(|_| KeyError::InvalidKey)
}

/// Encodes a secret key as base58check of its 32 bytes.
pub fn encode_secret_key(key: &SecretKey) -> String {
    base58::encode_check(&key.secret_bytes())
}

/// Decodes [`encode_secret_key`] output.
pub fn decode_secret_key(s: &str) -> Result<SecretKey, KeyError> {
    let bytes = base58::decode_check(s.trim()).map_err(|e| KeyError::Base58(e.to_string()))?;
    if bytes.len() != 32 {
        return Err(KeyError::Length(bytes.len(), 32));
    }
    SecretKey::from_slice(&bytes).map_err(|_| KeyError::InvalidKey)
}

/// The x-only public key of `secret`.
pub fn public_key_of(secret: &SecretKey) -> XOnlyPublicKey {
    secret.x_only_public_key(secp()).0
}

/// Generates a random secret key.
pub fn generate_secret_key() -> SecretKey {
    SecretKey::new(&mut thread_rng())
}

/// Decodes an SRI-style `authority_public_key` / `authority_secret_key` pair and checks that
/// they belong together.
pub fn decode_authority_keypair(public: &str, secret: &str) -> Result<Keypair, KeyError> {
    let public = decode_public_key(public)?;
    let secret = decode_secret_key(secret)?;
    if public_key_of(&secret) != public {
        return Err(KeyError::Mismatch);
    }
    Ok(Keypair::from_secret_key(secp(), &secret))
}

/// Where the responder's certificate comes from.
#[derive(Debug, Clone)]
pub enum CertificateSource {
    /// Sign a fresh certificate at each handshake, valid `[now, now + validity_secs]`.
    Authority {
        /// The authority keypair.
        keypair: Keypair,
        /// Certificate lifetime in seconds.
        validity_secs: u32,
    },
    /// Send this pre-issued certificate (checked against the static key when configured).
    Preissued(SignatureNoiseMessage),
}

/// Everything a responder needs: its static key and the certificate source.
#[derive(Debug, Clone)]
pub struct ServerKeys {
    static_key: EllSwiftKeypair,
    static_public: XOnlyPublicKey,
    certificate: CertificateSource,
}

impl ServerKeys {
    /// SRI model: holds the authority keypair and signs a certificate per handshake. The
    /// static key is generated here, once, and reused for every connection.
    pub fn from_authority(authority: Keypair, cert_validity: Duration) -> Self {
        let validity_secs = u32::try_from(cert_validity.as_secs()).unwrap_or(u32::MAX);
        Self::with_source(
            &generate_secret_key(),
            CertificateSource::Authority {
                keypair: authority,
                validity_secs,
            },
        )
    }

    /// Pre-issued model: the static secret and a certificate the authority signed for it.
    /// The signature is checked against `authority` now (not the time window, which is checked
    /// by clients at each handshake), so a mismatched config fails at startup.
    pub fn with_certificate(
        static_secret: &SecretKey,
        certificate: SignatureNoiseMessage,
        authority: &XOnlyPublicKey,
    ) -> Result<Self, CertificateError> {
        certificate.verify_signature(&public_key_of(static_secret), authority)?;
        Ok(Self::with_source(
            static_secret,
            CertificateSource::Preissued(certificate),
        ))
    }

    /// [`Self::from_authority`] from SRI-style config strings (`authority_public_key`,
    /// `authority_secret_key`, `cert_validity_sec`).
    pub fn from_authority_strings(
        authority_public: &str,
        authority_secret: &str,
        cert_validity: Duration,
    ) -> Result<Self, KeyError> {
        let authority = decode_authority_keypair(authority_public, authority_secret)?;
        Ok(Self::from_authority(authority, cert_validity))
    }

    /// [`Self::with_certificate`] from the strings `sv2-keys certificate` prints
    /// (`authority_public_key`, `server_secret_key`, `server_certificate`).
    pub fn from_preissued_strings(
        authority_public: &str,
        server_secret: &str,
        certificate_hex: &str,
    ) -> Result<Self, KeyError> {
        let authority = decode_public_key(authority_public)?;
        let secret = decode_secret_key(server_secret)?;
        let cert = SignatureNoiseMessage::from_hex(certificate_hex)?;
        Ok(Self::with_certificate(&secret, cert, &authority)?)
    }

    fn with_source(static_secret: &SecretKey, certificate: CertificateSource) -> Self {
        Self {
            static_key: EllSwiftKeypair::from_secret(static_secret),
            static_public: public_key_of(static_secret),
            certificate,
        }
    }

    /// The server's static x-only public key (the one certificates are issued for).
    pub fn static_public_key(&self) -> XOnlyPublicKey {
        self.static_public
    }

    /// The certificate source.
    pub fn certificate_source(&self) -> &CertificateSource {
        &self.certificate
    }

    /// The certificate to present at unix time `now`.
    pub fn certificate_at(&self, now: u32) -> SignatureNoiseMessage {
        match &self.certificate {
            CertificateSource::Authority {
                keypair,
                validity_secs,
            } => SignatureNoiseMessage::sign(
                keypair,
                &self.static_public,
                now,
                now.saturating_add(*validity_secs),
            ),
            CertificateSource::Preissued(cert) => *cert,
        }
    }

    pub(crate) fn static_key(&self) -> &EllSwiftKeypair {
        &self.static_key
    }
}

/// Issues a static key and a certificate for it (what `sv2-keys certificate` does).
pub fn issue_certificate(
    authority: &Keypair,
    valid_from: u32,
    validity: Duration,
) -> (SecretKey, SignatureNoiseMessage) {
    let static_secret = generate_secret_key();
    let not_valid_after =
        valid_from.saturating_add(u32::try_from(validity.as_secs()).unwrap_or(u32::MAX));
    let cert = SignatureNoiseMessage::sign(
        authority,
        &public_key_of(&static_secret),
        valid_from,
        not_valid_after,
    );
    (static_secret, cert)
}

#[cfg(test)]
mod tests {
    use super::*;

    // From SRI's pool/translator example configs.
    const SRI_AUTHORITY_PUBLIC: &str = "9auqWEzQDVyd2oe1JVGFLMLHZtCo2FFqZwtKA5gd9xbuEu7PH72";
    const SRI_AUTHORITY_SECRET: &str = "mkDLTBBRxdBv998612qipDYoTK3YUrqLe8uWw7gu3iXbSrn2n";

    #[test]
    fn sri_example_keys_decode_and_match() {
        let kp = decode_authority_keypair(SRI_AUTHORITY_PUBLIC, SRI_AUTHORITY_SECRET).unwrap();
        assert_eq!(
            encode_public_key(&kp.x_only_public_key().0),
            SRI_AUTHORITY_PUBLIC
        );
        assert_eq!(encode_secret_key(&kp.secret_key()), SRI_AUTHORITY_SECRET);
    }

    #[test]
    fn spec_test_vector() {
        // sv2-spec 4.7.1
        let raw = [
            118, 99, 112, 0, 151, 156, 28, 17, 175, 12, 48, 11, 205, 140, 127, 228, 134, 16, 252,
            233, 185, 193, 30, 61, 174, 227, 90, 224, 176, 138, 116, 85,
        ];
        let key = XOnlyPublicKey::from_slice(&raw).unwrap();
        let s = "9bXiEd8boQVhq7WddEcERUL5tyyJVFYdU8th3HfbNXK3Yw6GRXh";
        assert_eq!(encode_public_key(&key), s);
        assert_eq!(decode_public_key(s).unwrap(), key);
    }

    #[test]
    fn random_keys_roundtrip() {
        for _ in 0..16 {
            let sk = generate_secret_key();
            let pk = public_key_of(&sk);
            assert_eq!(decode_secret_key(&encode_secret_key(&sk)).unwrap(), sk);
            assert_eq!(decode_public_key(&encode_public_key(&pk)).unwrap(), pk);
        }
    }

    #[test]
    fn malformed_keys_are_rejected() {
        // Flipped last character breaks the checksum.
        let mut bad = SRI_AUTHORITY_PUBLIC.to_string();
        bad.pop();
        bad.push('3');
        assert!(matches!(decode_public_key(&bad), Err(KeyError::Base58(_))));
        // A secret key string is the wrong length for a public key and vice versa.
        assert!(matches!(
            decode_public_key(SRI_AUTHORITY_SECRET),
            Err(KeyError::Length(32, 34))
        ));
        assert!(matches!(
            decode_secret_key(SRI_AUTHORITY_PUBLIC),
            Err(KeyError::Length(34, 32))
        ));
        // Version 2 prefix.
        let mut v2 = [0u8; 34];
        v2[0] = 2;
        v2[2..].copy_from_slice(&decode_public_key(SRI_AUTHORITY_PUBLIC).unwrap().serialize());
        assert_eq!(
            decode_public_key(&base58::encode_check(&v2)),
            Err(KeyError::Version(2))
        );
        // All-zero secret is not a valid key.
        assert_eq!(
            decode_secret_key(&base58::encode_check(&[0u8; 32])),
            Err(KeyError::InvalidKey)
        );
        assert!(decode_public_key("").is_err());
        assert!(decode_secret_key("0OIl").is_err());
    }

    #[test]
    fn mismatched_authority_pair_is_rejected() {
        let other = encode_secret_key(&generate_secret_key());
        assert_eq!(
            decode_authority_keypair(SRI_AUTHORITY_PUBLIC, &other).unwrap_err(),
            KeyError::Mismatch
        );
    }

    #[test]
    fn preissued_certificate_must_match_static_key() {
        let authority = Keypair::from_secret_key(secp(), &generate_secret_key());
        let auth_pk = authority.x_only_public_key().0;
        let (static_secret, cert) = issue_certificate(&authority, 100, Duration::from_secs(50));
        assert_eq!(cert.valid_from, 100);
        assert_eq!(cert.not_valid_after, 150);
        let keys = ServerKeys::with_certificate(&static_secret, cert, &auth_pk).unwrap();
        assert_eq!(keys.static_public_key(), public_key_of(&static_secret));
        assert_eq!(keys.certificate_at(12345), cert);
        let other_static = generate_secret_key();
        assert!(ServerKeys::with_certificate(&other_static, cert, &auth_pk).is_err());
    }

    #[test]
    fn server_keys_from_config_strings() {
        let keys = ServerKeys::from_authority_strings(
            SRI_AUTHORITY_PUBLIC,
            SRI_AUTHORITY_SECRET,
            Duration::from_secs(3600),
        )
        .unwrap();
        let auth = decode_public_key(SRI_AUTHORITY_PUBLIC).unwrap();
        keys.certificate_at(500)
            .verify(&keys.static_public_key(), &auth, 500)
            .unwrap();
        assert_eq!(
            ServerKeys::from_authority_strings(
                SRI_AUTHORITY_PUBLIC,
                &encode_secret_key(&generate_secret_key()),
                Duration::from_secs(1)
            )
            .unwrap_err(),
            KeyError::Mismatch
        );

        let authority =
            decode_authority_keypair(SRI_AUTHORITY_PUBLIC, SRI_AUTHORITY_SECRET).unwrap();
        let (secret, cert) = issue_certificate(&authority, 10, Duration::from_secs(10));
        let keys = ServerKeys::from_preissued_strings(
            SRI_AUTHORITY_PUBLIC,
            &encode_secret_key(&secret),
            &cert.to_hex(),
        )
        .unwrap();
        assert_eq!(keys.certificate_at(0), cert);
        assert!(matches!(
            ServerKeys::from_preissued_strings(
                SRI_AUTHORITY_PUBLIC,
                &encode_secret_key(&generate_secret_key()),
                &cert.to_hex(),
            ),
            Err(KeyError::Certificate(CertificateError::BadSignature))
        ));
    }

    #[test]
    fn authority_model_signs_fresh_certificates() {
        let authority = Keypair::from_secret_key(secp(), &generate_secret_key());
        let keys = ServerKeys::from_authority(authority, Duration::from_secs(3600));
        let cert = keys.certificate_at(1_000_000);
        assert_eq!(cert.valid_from, 1_000_000);
        assert_eq!(cert.not_valid_after, 1_003_600);
        cert.verify(
            &keys.static_public_key(),
            &authority.x_only_public_key().0,
            1_000_001,
        )
        .unwrap();
    }
}
