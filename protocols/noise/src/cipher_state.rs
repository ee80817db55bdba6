//! Transport-phase Noise `CipherState`: one ChaCha20-Poly1305 key plus a 64-bit nonce counter,
//! encrypting in place with zero-length associated data.

use chacha20poly1305::{AeadInPlace, ChaCha20Poly1305, KeyInit, Tag};

use crate::primitives::{nonce_bytes, MAC_LEN};

/// Errors of a single AEAD operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    /// Authentication failed: the ciphertext or its tag was altered, or the nonces diverged.
    #[error("AEAD authentication failed")]
    Decrypt,
    /// The nonce counter reached 2^64-1, which Noise reserves; the session must be replaced.
    #[error("nonce space exhausted")]
    NonceExhausted,
    /// The buffer is shorter than an authentication tag.
    #[error("ciphertext shorter than a MAC")]
    TooShort,
}

/// A Noise `CipherState` (key `k`, nonce `n`) for the transport phase.
pub struct CipherState {
    aead: ChaCha20Poly1305,
    n: u64,
}

impl std::fmt::Debug for CipherState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CipherState")
            .field("n", &self.n)
            .finish_non_exhaustive()
    }
}

impl CipherState {
    /// Creates a cipher state from a 32-byte key and a starting nonce.
    pub fn new(key: &[u8; 32], n: u64) -> Self {
        Self {
            aead: ChaCha20Poly1305::new(key.into()),
            n,
        }
    }

    /// The nonce the next operation will use.
    pub fn nonce(&self) -> u64 {
        self.n
    }

    fn next_nonce(&self) -> Result<[u8; 12], CipherError> {
        if self.n == u64::MAX {
            return Err(CipherError::NonceExhausted);
        }
        Ok(nonce_bytes(self.n))
    }

    /// Encrypts `buf` in place and returns the 16-byte tag to append after it.
    pub fn encrypt_detached(&mut self, buf: &mut [u8]) -> Result<[u8; MAC_LEN], CipherError> {
        let nonce = self.next_nonce()?;
        let tag = self
            .aead
            .encrypt_in_place_detached(&nonce.into(), &[], buf)
            // Only a > 256 GiB message can fail; treat it like an exhausted key.
            .map_err(|_| CipherError::NonceExhausted)?;
        self.n += 1;
        Ok(tag.into())
    }

    /// Decrypts `buf` in place, checking it against `tag`. On failure the nonce is not
    /// advanced and `buf` contents are unspecified.
    pub fn decrypt_detached(&mut self, buf: &mut [u8], tag: &[u8]) -> Result<(), CipherError> {
        if tag.len() != MAC_LEN {
            return Err(CipherError::TooShort);
        }
        let nonce = self.next_nonce()?;
        self.aead
            .decrypt_in_place_detached(&nonce.into(), &[], buf, Tag::from_slice(tag))
            .map_err(|_| CipherError::Decrypt)?;
        self.n += 1;
        Ok(())
    }

    /// Encrypts `plaintext` into a new vector holding ciphertext || tag.
    pub fn encrypt_to_vec(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, CipherError> {
        let mut out = Vec::with_capacity(plaintext.len() + MAC_LEN);
        out.extend_from_slice(plaintext);
        let tag = self.encrypt_detached(&mut out)?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Decrypts a ciphertext || tag message into a new vector.
    pub fn decrypt_to_vec(&mut self, message: &[u8]) -> Result<Vec<u8>, CipherError> {
        let body_len = message
            .len()
            .checked_sub(MAC_LEN)
            .ok_or(CipherError::TooShort)?;
        let (body, tag) = message.split_at(body_len);
        let mut out = body.to_vec();
        self.decrypt_detached(&mut out, tag)?;
        Ok(out)
    }

    #[cfg(test)]
    pub(crate) fn set_nonce(&mut self, n: u64) {
        self.n = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_advances_nonces_in_lockstep() {
        let mut a = CipherState::new(&[1; 32], 0);
        let mut b = CipherState::new(&[1; 32], 0);
        for i in 0..3u8 {
            let ct = a.encrypt_to_vec(&[i; 10]).unwrap();
            assert_eq!(ct.len(), 26);
            assert_eq!(b.decrypt_to_vec(&ct).unwrap(), vec![i; 10]);
        }
        assert_eq!(a.nonce(), 3);
        assert_eq!(b.nonce(), 3);
    }

    #[test]
    fn failed_decrypt_does_not_advance_nonce() {
        let mut a = CipherState::new(&[1; 32], 0);
        let mut b = CipherState::new(&[1; 32], 0);
        let mut ct = a.encrypt_to_vec(b"abc").unwrap();
        ct[1] ^= 0x80;
        assert_eq!(b.decrypt_to_vec(&ct), Err(CipherError::Decrypt));
        assert_eq!(b.nonce(), 0);
        assert_eq!(b.decrypt_to_vec(&ct[..5]), Err(CipherError::TooShort));
    }

    #[test]
    fn reserved_nonce_is_never_used() {
        let mut a = CipherState::new(&[1; 32], 0);
        a.set_nonce(u64::MAX - 1);
        assert!(a.encrypt_to_vec(b"x").is_ok());
        assert_eq!(a.encrypt_to_vec(b"x"), Err(CipherError::NonceExhausted));
        assert_eq!(a.decrypt_to_vec(&[0; 20]), Err(CipherError::NonceExhausted));
    }
}
