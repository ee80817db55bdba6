//! Mining job tokens shared by a job declarator server (JDS) and a pool: self-authenticating
//! MACs, so the pool checks a `SetCustomMiningJob` token without asking the JDS.
//!
//! Both sides hold the same 32-byte [`TokenKey`]. Two kinds of token exist:
//!
//! * **allocation** tokens (`AllocateMiningJobToken.Success`): entitle a client to declare one
//!   job. Their MAC also covers a digest of the JDS's coinbase output policy, so tokens issued
//!   under another policy stop verifying when the policy changes;
//! * **declared-job** tokens (`DeclareMiningJob.Success.new_mining_job_token`): carry the
//!   [`super::custom::custom_job_commitment`] of the job the JDS accepted; the pool recomputes the
//!   commitment from `SetCustomMiningJob` and compares.
//!
//! Layout (all integers little-endian), at most 82 bytes, within `B0_255`:
//!
//! ```text
//! format (1) = 1 | kind (1) | id (8) | expires_at unix s (8) | [commitment (32)] | mac (32)
//! mac = HMAC-SHA256(key, "sv2-pool/jd-token/v1" || every byte before the mac [|| policy digest])
//! ```
//!
//! Tokens are bearer credentials bound to a short lifetime. Single use of allocation tokens is
//! the JDS's job (it remembers the ids it consumed until they expire).

use bitcoin::hashes::{hmac, sha256, Hash, HashEngine};
use thiserror::Error;

/// Format byte of every token this module mints.
const FORMAT: u8 = 1;
/// Domain separation of the MAC.
const MAC_TAG: &[u8] = b"sv2-pool/jd-token/v1";
/// MAC length.
const MAC_LEN: usize = 32;
/// Header: format, kind, id, expiry.
const HEADER_LEN: usize = 1 + 1 + 8 + 8;
/// Length of an allocation token.
pub const ALLOCATION_TOKEN_LEN: usize = HEADER_LEN + MAC_LEN;
/// Length of a declared-job token.
pub const DECLARED_TOKEN_LEN: usize = HEADER_LEN + 32 + MAC_LEN;

/// The two kinds of token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum TokenKind {
    /// From `AllocateMiningJobToken.Success`.
    Allocation = 1,
    /// From `DeclareMiningJob.Success`.
    DeclaredJob = 2,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TokenError {
    /// Wrong length or format byte.
    #[error("malformed token")]
    Malformed,
    /// A token of the other kind.
    #[error("expected a {expected:?} token")]
    WrongKind {
        /// The kind that was needed.
        expected: TokenKind,
    },
    /// The MAC does not verify (other key, other policy, or tampering).
    #[error("token MAC does not verify")]
    BadMac,
    /// The token expired.
    #[error("token expired at {expired_at} (now {now})")]
    Expired {
        /// Expiry, unix seconds.
        expired_at: u64,
        /// Current time, unix seconds.
        now: u64,
    },
}

/// A verified allocation token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocationToken {
    /// Token id (unique per JDS process, used for single-use bookkeeping).
    pub id: u64,
    /// Expiry, unix seconds.
    pub expires_at: u64,
}

/// A verified declared-job token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeclaredJobToken {
    /// Id of the allocation token the job was declared with.
    pub id: u64,
    /// Expiry, unix seconds.
    pub expires_at: u64,
    /// Commitment of the declared job.
    pub commitment: [u8; 32],
}

/// The shared MAC key.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenKey([u8; 32]);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(<secret>)")
    }
}

/// Constant-time equality of two byte strings of equal length.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl TokenKey {
    /// Key from 32 secret bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        TokenKey(bytes)
    }

    /// Key from 64 hex digits; `None` otherwise.
    pub fn from_hex(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.len() != 64 || !s.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(TokenKey(out))
    }

    fn mac(&self, body: &[u8], policy: Option<&[u8; 32]>) -> [u8; 32] {
        let mut e = hmac::HmacEngine::<sha256::Hash>::new(&self.0);
        e.input(MAC_TAG);
        e.input(body);
        if let Some(p) = policy {
            e.input(p);
        }
        hmac::Hmac::<sha256::Hash>::from_engine(e).to_byte_array()
    }

    fn mint(
        &self,
        kind: TokenKind,
        id: u64,
        expires_at: u64,
        extra: &[u8],
        policy: Option<&[u8; 32]>,
    ) -> Vec<u8> {
        let mut t = Vec::with_capacity(HEADER_LEN + extra.len() + MAC_LEN);
        t.push(FORMAT);
        t.push(kind as u8);
        t.extend_from_slice(&id.to_le_bytes());
        t.extend_from_slice(&expires_at.to_le_bytes());
        t.extend_from_slice(extra);
        let mac = self.mac(&t, policy);
        t.extend_from_slice(&mac);
        t
    }

    /// Checks length, format, kind, MAC and expiry; returns `(id, expires_at, body after the
    /// header)`.
    fn open<'a>(
        &self,
        token: &'a [u8],
        kind: TokenKind,
        len: usize,
        policy: Option<&[u8; 32]>,
        now: u64,
    ) -> Result<(u64, u64, &'a [u8]), TokenError> {
        let [format, k, ..] = token else {
            return Err(TokenError::Malformed);
        };
        if *format != FORMAT {
            return Err(TokenError::Malformed);
        }
        if *k != kind as u8 {
            return Err(TokenError::WrongKind { expected: kind });
        }
        if token.len() != len {
            return Err(TokenError::Malformed);
        }
        let (body, mac) = token.split_at(len - MAC_LEN);
        if !ct_eq(&self.mac(body, policy), mac) {
            return Err(TokenError::BadMac);
        }
        let word = |at: usize| -> Result<u64, TokenError> {
            body.get(at..at + 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
                .ok_or(TokenError::Malformed)
        };
        let id = word(2)?;
        let expires_at = word(10)?;
        if now >= expires_at {
            return Err(TokenError::Expired {
                expired_at: expires_at,
                now,
            });
        }
        Ok((id, expires_at, body.get(HEADER_LEN..).unwrap_or_default()))
    }

    /// Mints an allocation token bound to `policy` (a digest of the coinbase output rules).
    pub fn mint_allocation(&self, id: u64, expires_at: u64, policy: &[u8; 32]) -> Vec<u8> {
        self.mint(TokenKind::Allocation, id, expires_at, &[], Some(policy))
    }

    /// Verifies an allocation token minted under `policy`, at unix time `now`.
    pub fn verify_allocation(
        &self,
        token: &[u8],
        policy: &[u8; 32],
        now: u64,
    ) -> Result<AllocationToken, TokenError> {
        let (id, expires_at, _) = self.open(
            token,
            TokenKind::Allocation,
            ALLOCATION_TOKEN_LEN,
            Some(policy),
            now,
        )?;
        Ok(AllocationToken { id, expires_at })
    }

    /// Mints a declared-job token carrying `commitment`.
    pub fn mint_declared(&self, id: u64, expires_at: u64, commitment: &[u8; 32]) -> Vec<u8> {
        self.mint(TokenKind::DeclaredJob, id, expires_at, commitment, None)
    }

    /// Verifies a declared-job token at unix time `now`.
    pub fn verify_declared(&self, token: &[u8], now: u64) -> Result<DeclaredJobToken, TokenError> {
        let (id, expires_at, rest) =
            self.open(token, TokenKind::DeclaredJob, DECLARED_TOKEN_LEN, None, now)?;
        let commitment: [u8; 32] = rest.try_into().map_err(|_| TokenError::Malformed)?;
        Ok(DeclaredJobToken {
            id,
            expires_at,
            commitment,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> TokenKey {
        TokenKey::new([b; 32])
    }

    #[test]
    fn allocation_round_trip_and_policy_binding() {
        let k = key(1);
        let t = k.mint_allocation(7, 1_000, &[3; 32]);
        assert_eq!(t.len(), ALLOCATION_TOKEN_LEN);
        assert_eq!(
            k.verify_allocation(&t, &[3; 32], 999),
            Ok(AllocationToken {
                id: 7,
                expires_at: 1_000
            })
        );
        assert_eq!(
            k.verify_allocation(&t, &[4; 32], 999),
            Err(TokenError::BadMac)
        );
        assert_eq!(
            key(2).verify_allocation(&t, &[3; 32], 999),
            Err(TokenError::BadMac)
        );
        assert_eq!(
            k.verify_allocation(&t, &[3; 32], 1_000),
            Err(TokenError::Expired {
                expired_at: 1_000,
                now: 1_000
            })
        );
        assert_eq!(
            k.verify_declared(&t, 0),
            Err(TokenError::WrongKind {
                expected: TokenKind::DeclaredJob
            })
        );
    }

    #[test]
    fn declared_round_trip() {
        let k = key(9);
        let t = k.mint_declared(5, 2_000, &[0xcc; 32]);
        assert_eq!(t.len(), DECLARED_TOKEN_LEN);
        assert!(t.len() <= 255);
        let d = k.verify_declared(&t, 10).unwrap();
        assert_eq!(d.commitment, [0xcc; 32]);
        assert_eq!(d.id, 5);
        assert_eq!(
            k.verify_allocation(&t, &[0; 32], 10),
            Err(TokenError::WrongKind {
                expected: TokenKind::Allocation
            })
        );
    }

    #[test]
    fn every_bit_flip_and_truncation_is_refused() {
        let k = key(4);
        let t = k.mint_declared(1, u64::MAX, &[1; 32]);
        for i in 0..t.len() {
            for bit in 0..8 {
                let mut bad = t.clone();
                bad[i] ^= 1 << bit;
                assert!(k.verify_declared(&bad, 0).is_err(), "byte {i} bit {bit}");
            }
        }
        for cut in 0..t.len() {
            assert!(k.verify_declared(&t[..cut], 0).is_err());
        }
        let mut long = t.clone();
        long.push(0);
        assert_eq!(k.verify_declared(&long, 0), Err(TokenError::Malformed));
    }

    #[test]
    fn hex_keys() {
        let hex = "00".repeat(31) + "ff";
        let k = TokenKey::from_hex(&hex).unwrap();
        let mut expected = [0u8; 32];
        expected[31] = 0xff;
        assert_eq!(k, TokenKey::new(expected));
        assert!(TokenKey::from_hex("ff").is_none());
        assert!(TokenKey::from_hex(&"zz".repeat(32)).is_none());
        assert!(TokenKey::from_hex(&"é".repeat(32)).is_none());
        assert_eq!(format!("{k:?}"), "TokenKey(<secret>)");
    }
}
