//! The three Noise primitives of `Noise_NX_Secp256k1+EllSwift_ChaChaPoly_SHA256`, expressed
//! through the `noise-protocol` crate's traits.
//!
//! * [`ChaChaPoly`]: ChaCha20-Poly1305 (IETF), nonce = 4 zero bytes || 64-bit LE counter.
//! * [`Sha256`]: SHA-256 (HMAC/HKDF come from the trait's provided methods).
//! * [`InitiatorDh`] / [`ResponderDh`]: BIP324 ElligatorSwift x-only ECDH. The BIP324 hash of
//!   the shared point covers both parties' 64-byte encodings in (initiator, responder) order, so
//!   the result depends on which side computes it; one DH type per role encodes that.

use std::sync::OnceLock;

use bitcoin::secp256k1::{
    ellswift::{ElligatorSwift, ElligatorSwiftParty},
    rand::{thread_rng, RngCore},
    All, Secp256k1, SecretKey,
};
use chacha20poly1305::{AeadInPlace, ChaCha20Poly1305, KeyInit, Tag};
use noise_protocol::{Cipher, Hash, U8Array, DH};
use sha2::Digest;

/// Size of an ElligatorSwift-encoded public key.
pub const ELLSWIFT_ENCODING_SIZE: usize = 64;
/// Size of a Poly1305 authentication tag.
pub const MAC_LEN: usize = 16;

/// Process-wide secp256k1 context (signing + verification), created on first use.
pub(crate) fn secp() -> &'static Secp256k1<All> {
    static CTX: OnceLock<Secp256k1<All>> = OnceLock::new();
    CTX.get_or_init(Secp256k1::new)
}

/// The 12-byte ChaChaPoly nonce for counter `n`: 32 zero bits then `n` little-endian.
pub(crate) fn nonce_bytes(n: u64) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&n.to_le_bytes());
    nonce
}

/// ChaCha20-Poly1305 as a Noise cipher function.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChaChaPoly;

impl Cipher for ChaChaPoly {
    type Key = [u8; 32];

    fn name() -> &'static str {
        "ChaChaPoly"
    }

    fn encrypt(k: &Self::Key, nonce: u64, ad: &[u8], plaintext: &[u8], out: &mut [u8]) {
        debug_assert_eq!(out.len(), plaintext.len() + MAC_LEN);
        let (body, tag_out) = out.split_at_mut(plaintext.len().min(out.len()));
        body.copy_from_slice(&plaintext[..body.len()]);
        let tag = aead_seal(k, nonce, ad, body);
        let n = tag_out.len().min(MAC_LEN);
        tag_out[..n].copy_from_slice(&tag[..n]);
    }

    fn encrypt_in_place(
        k: &Self::Key,
        nonce: u64,
        ad: &[u8],
        in_out: &mut [u8],
        plaintext_len: usize,
    ) -> usize {
        debug_assert!(in_out.len() >= plaintext_len + MAC_LEN);
        let Some(region) = in_out.get_mut(..plaintext_len + MAC_LEN) else {
            return 0;
        };
        let (body, tag_out) = region.split_at_mut(plaintext_len);
        let tag = aead_seal(k, nonce, ad, body);
        tag_out.copy_from_slice(&tag);
        plaintext_len + MAC_LEN
    }

    fn decrypt(
        k: &Self::Key,
        nonce: u64,
        ad: &[u8],
        ciphertext: &[u8],
        out: &mut [u8],
    ) -> Result<(), ()> {
        let Some(body_len) = ciphertext.len().checked_sub(MAC_LEN) else {
            return Err(());
        };
        if out.len() != body_len {
            return Err(());
        }
        let (body, tag) = ciphertext.split_at(body_len);
        out.copy_from_slice(body);
        aead_open(k, nonce, ad, out, tag)
    }

    fn decrypt_in_place(
        k: &Self::Key,
        nonce: u64,
        ad: &[u8],
        in_out: &mut [u8],
        ciphertext_len: usize,
    ) -> Result<usize, ()> {
        let body_len = ciphertext_len.checked_sub(MAC_LEN).ok_or(())?;
        let region = in_out.get_mut(..ciphertext_len).ok_or(())?;
        let (body, tag) = region.split_at_mut(body_len);
        aead_open(k, nonce, ad, body, tag)?;
        Ok(body_len)
    }
}

fn aead_seal(k: &[u8; 32], nonce: u64, ad: &[u8], body: &mut [u8]) -> Tag {
    let aead = ChaCha20Poly1305::new(k.into());
    // Only fails for messages longer than ChaCha20's 256 GiB keystream, which the handshake
    // (the only user of this path) never approaches; the zero tag then fails verification.
    aead.encrypt_in_place_detached(&nonce_bytes(nonce).into(), ad, body)
        .unwrap_or_default()
}

fn aead_open(k: &[u8; 32], nonce: u64, ad: &[u8], body: &mut [u8], tag: &[u8]) -> Result<(), ()> {
    if tag.len() != MAC_LEN {
        return Err(());
    }
    let aead = ChaCha20Poly1305::new(k.into());
    aead.decrypt_in_place_detached(&nonce_bytes(nonce).into(), ad, body, Tag::from_slice(tag))
        .map_err(|_| ())
}

/// SHA-256 as a Noise hash function.
#[derive(Debug, Clone, Default)]
pub struct Sha256(sha2::Sha256);

impl Hash for Sha256 {
    type Block = [u8; 64];
    type Output = [u8; 32];

    fn name() -> &'static str {
        "SHA256"
    }

    fn input(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn result(&mut self) -> Self::Output {
        std::mem::take(&mut self.0).finalize().into()
    }
}

/// A secp256k1 secret key together with the ElligatorSwift encoding of its public key.
///
/// The encoding is randomized at key generation (many 64-byte strings encode the same point),
/// and the ECDH hash covers the exact bytes sent on the wire, so the two travel together.
/// Layout when viewed as bytes: secret (32) || ellswift encoding (64).
#[derive(Clone)]
pub struct EllSwiftKeypair([u8; 96]);

impl std::fmt::Debug for EllSwiftKeypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EllSwiftKeypair")
            .field("public", &hex_short(self.encoding()))
            .finish_non_exhaustive()
    }
}

fn hex_short(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        + ".."
}

impl EllSwiftKeypair {
    /// Generates a fresh random keypair with a randomized ElligatorSwift encoding.
    pub fn generate() -> Self {
        Self::from_secret(&SecretKey::new(&mut thread_rng()))
    }

    /// Builds the keypair for `secret`, choosing a random ElligatorSwift encoding.
    pub fn from_secret(secret: &SecretKey) -> Self {
        let mut aux = [0u8; 32];
        thread_rng().fill_bytes(&mut aux);
        let encoding = ElligatorSwift::from_seckey(secp(), *secret, Some(aux)).to_array();
        let mut bytes = [0u8; 96];
        bytes[..32].copy_from_slice(&secret.secret_bytes());
        bytes[32..].copy_from_slice(&encoding);
        Self(bytes)
    }

    /// The 32-byte secret key.
    pub fn secret_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(&self.0[..32]);
        out
    }

    /// The 64-byte ElligatorSwift encoding of the public key.
    pub fn encoding(&self) -> &[u8] {
        &self.0[32..]
    }

    fn encoding_array(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(&self.0[32..]);
        out
    }
}

impl U8Array for EllSwiftKeypair {
    fn new() -> Self {
        Self([0u8; 96])
    }

    fn new_with(x: u8) -> Self {
        Self([x; 96])
    }

    fn from_slice(data: &[u8]) -> Self {
        debug_assert_eq!(data.len(), 96);
        let mut bytes = [0u8; 96];
        let n = data.len().min(96);
        bytes[..n].copy_from_slice(&data[..n]);
        Self(bytes)
    }

    fn len() -> usize {
        96
    }

    fn as_slice(&self) -> &[u8] {
        &self.0
    }

    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

impl Drop for EllSwiftKeypair {
    fn drop(&mut self) {
        // Best effort: overwrite the secret half before the memory is released; `black_box`
        // makes the compiler assume the zeroed bytes are observed, so the stores stay.
        self.0[..32].fill(0);
        std::hint::black_box(&self.0);
    }
}

fn xdh(
    key: &EllSwiftKeypair,
    theirs: &[u8; 64],
    party: ElligatorSwiftParty,
) -> Result<[u8; 32], ()> {
    let secret = SecretKey::from_slice(&key.0[..32]).map_err(|_| ())?;
    let ours = ElligatorSwift::from_array(key.encoding_array());
    let theirs = ElligatorSwift::from_array(*theirs);
    let (a, b) = match party {
        ElligatorSwiftParty::A => (ours, theirs),
        ElligatorSwiftParty::B => (theirs, ours),
    };
    Ok(ElligatorSwift::shared_secret(a, b, secret, party, None).to_secret_bytes())
}

/// ElligatorSwift ECDH as computed by the handshake initiator (BIP324 party A).
#[derive(Debug, Clone, Copy, Default)]
pub struct InitiatorDh;

/// ElligatorSwift ECDH as computed by the handshake responder (BIP324 party B).
#[derive(Debug, Clone, Copy, Default)]
pub struct ResponderDh;

macro_rules! impl_dh {
    ($ty:ty, $party:expr) => {
        impl DH for $ty {
            type Key = EllSwiftKeypair;
            type Pubkey = [u8; 64];
            type Output = [u8; 32];

            fn name() -> &'static str {
                "Secp256k1+EllSwift"
            }

            fn genkey() -> Self::Key {
                EllSwiftKeypair::generate()
            }

            fn pubkey(k: &Self::Key) -> Self::Pubkey {
                k.encoding_array()
            }

            fn dh(k: &Self::Key, pk: &Self::Pubkey) -> Result<Self::Output, ()> {
                xdh(k, pk, $party)
            }
        }
    };
}

impl_dh!(InitiatorDh, ElligatorSwiftParty::A);
impl_dh!(ResponderDh, ElligatorSwiftParty::B);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_name_hash_matches_sri_constant() {
        // noise_sv2::NOISE_HASHED_PROTOCOL_NAME_CHACHA
        let expected: [u8; 32] = [
            46, 180, 120, 129, 32, 142, 158, 238, 31, 102, 159, 103, 198, 110, 231, 14, 169, 234,
            136, 9, 13, 80, 63, 232, 48, 220, 75, 200, 62, 41, 191, 16,
        ];
        let name = format!(
            "Noise_NX_{}_{}_{}",
            InitiatorDh::name(),
            ChaChaPoly::name(),
            Sha256::name()
        );
        assert_eq!(name, "Noise_NX_Secp256k1+EllSwift_ChaChaPoly_SHA256");
        assert_eq!(Sha256::hash(name.as_bytes()), expected);
    }

    #[test]
    fn both_roles_derive_the_same_secret() {
        let i = EllSwiftKeypair::generate();
        let r = EllSwiftKeypair::generate();
        let a = InitiatorDh::dh(&i, &ResponderDh::pubkey(&r)).unwrap();
        let b = ResponderDh::dh(&r, &InitiatorDh::pubkey(&i)).unwrap();
        assert_eq!(a, b);
        // Role matters: the same side computing as the other role gets a different hash.
        let wrong = InitiatorDh::dh(&r, &InitiatorDh::pubkey(&i)).unwrap();
        assert_ne!(a, wrong);
    }

    #[test]
    fn encodings_are_randomized_but_decode_to_the_same_point() {
        let sk = SecretKey::new(&mut thread_rng());
        let a = EllSwiftKeypair::from_secret(&sk);
        let b = EllSwiftKeypair::from_secret(&sk);
        assert_ne!(a.encoding(), b.encoding());
        let pa = bitcoin::secp256k1::PublicKey::from_ellswift(ElligatorSwift::from_array(
            a.encoding_array(),
        ));
        let pb = bitcoin::secp256k1::PublicKey::from_ellswift(ElligatorSwift::from_array(
            b.encoding_array(),
        ));
        assert_eq!(pa.x_only_public_key().0, pb.x_only_public_key().0);
        assert_eq!(a.secret_bytes(), sk.secret_bytes());
    }

    #[test]
    fn cipher_roundtrip_and_tamper_detection() {
        let k = [7u8; 32];
        let pt = b"hello noise";
        let mut ct = vec![0u8; pt.len() + MAC_LEN];
        ChaChaPoly::encrypt(&k, 3, b"ad", pt, &mut ct);
        let mut out = vec![0u8; pt.len()];
        ChaChaPoly::decrypt(&k, 3, b"ad", &ct, &mut out).unwrap();
        assert_eq!(&out, pt);
        assert!(ChaChaPoly::decrypt(&k, 4, b"ad", &ct, &mut out).is_err());
        ct[0] ^= 1;
        assert!(ChaChaPoly::decrypt(&k, 3, b"ad", &ct, &mut out).is_err());
        assert!(ChaChaPoly::decrypt(&k, 3, b"ad", &ct[..10], &mut out).is_err());
    }

    #[test]
    fn in_place_variants_agree_with_copying_ones() {
        let k = [9u8; 32];
        let pt = [42u8; 40];
        let mut ct = [0u8; 56];
        ChaChaPoly::encrypt(&k, 0, &[], &pt, &mut ct);
        let mut buf = [0u8; 60];
        buf[..40].copy_from_slice(&pt);
        assert_eq!(ChaChaPoly::encrypt_in_place(&k, 0, &[], &mut buf, 40), 56);
        assert_eq!(&buf[..56], &ct[..]);
        assert_eq!(
            ChaChaPoly::decrypt_in_place(&k, 0, &[], &mut buf, 56),
            Ok(40)
        );
        assert_eq!(&buf[..40], &pt[..]);
        assert!(ChaChaPoly::decrypt_in_place(&k, 0, &[], &mut buf, 8).is_err());
    }
}
