//! Conversions between the hex forms Stratum V1 uses and raw values.
//!
//! * `version`, `nbits`, `ntime`, `nonce` and version-rolling masks/bits are
//!   32-bit numbers written as big-endian hex (`"20000000"`, `"1a02b098"`):
//!   [`parse_u32_hex`] / [`HexU32`].
//! * `coinb1`, `coinb2`, extranonces and merkle-branch entries are byte
//!   strings written in order: [`parse_hex_bytes`] / [`HexSlice`]. Merkle
//!   branch entries are in the internal (hashing) byte order, unswapped.
//! * The previous block hash uses stratum's peculiar word-swapped form:
//!   [`PrevHash`].

use std::fmt;

use serde::{Serialize, Serializer};

use crate::error::HexError;

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

fn strip_0x(s: &str) -> &str {
    s.strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s)
}

fn digit(c: u8) -> Result<u8, HexError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(HexError::InvalidDigit),
    }
}

/// Parses a big-endian hex `u32` (`"1a02b098"` -> `0x1a02b098`).
///
/// Accepts an optional `0x` prefix, either case, and fewer than 8 digits
/// (some firmware drops leading zeros of nonces); extra leading zeros are allowed.
pub fn parse_u32_hex(s: &str) -> Result<u32, HexError> {
    let digits = strip_0x(s).as_bytes();
    if digits.is_empty() {
        return Err(HexError::Empty);
    }
    let significant = digits
        .iter()
        .position(|&c| c != b'0')
        .map_or(&[][..], |i| digits.get(i..).unwrap_or(&[]));
    if significant.len() > 8 {
        // Validate before reporting length so garbage is reported as garbage.
        for &c in significant {
            digit(c)?;
        }
        return Err(HexError::TooLong {
            digits: significant.len(),
            max: 8,
        });
    }
    let mut v: u32 = 0;
    for &c in digits {
        v = (v << 4) | u32::from(digit(c)?);
    }
    Ok(v)
}

/// Formats a `u32` as 8 lowercase big-endian hex digits (`0x20000000` -> `"20000000"`).
pub fn u32_hex(v: u32) -> String {
    HexU32(v).to_string()
}

/// Decodes a hex byte string (even number of digits, either case, may be empty).
pub fn parse_hex_bytes(s: &str) -> Result<Vec<u8>, HexError> {
    let b = s.as_bytes();
    if b.len() % 2 != 0 {
        return Err(HexError::OddLength);
    }
    let mut out = Vec::with_capacity(b.len() / 2);
    for pair in b.chunks_exact(2) {
        if let [hi, lo] = pair {
            out.push((digit(*hi)? << 4) | digit(*lo)?);
        }
    }
    Ok(out)
}

/// Decodes a hex byte string that must be exactly `N` bytes long.
pub fn parse_hex_array<const N: usize>(s: &str) -> Result<[u8; N], HexError> {
    let b = s.as_bytes();
    if b.len() % 2 != 0 {
        return Err(HexError::OddLength);
    }
    if b.len() != 2 * N {
        return Err(HexError::WrongLength {
            expected: N,
            actual: b.len() / 2,
        });
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        if let [hi, lo] = pair {
            *o = (digit(*hi)? << 4) | digit(*lo)?;
        }
    }
    Ok(out)
}

/// Parses a big-endian hex 256-bit number (a share target) into 32 big-endian bytes.
///
/// Up to 64 digits, optional `0x`; shorter strings are left-padded with zeros.
pub fn parse_u256_hex(s: &str) -> Result<[u8; 32], HexError> {
    let digits = strip_0x(s).as_bytes();
    if digits.is_empty() {
        return Err(HexError::Empty);
    }
    if digits.len() > 64 {
        return Err(HexError::TooLong {
            digits: digits.len(),
            max: 64,
        });
    }
    let mut out = [0u8; 32];
    // Fill nibbles from the least significant end.
    for (i, &c) in digits.iter().rev().enumerate() {
        let d = digit(c)?;
        if let Some(byte) = out.get_mut(31 - i / 2) {
            *byte |= if i % 2 == 0 { d } else { d << 4 };
        }
    }
    Ok(out)
}

/// Encodes bytes as lowercase hex.
pub fn bytes_hex(b: &[u8]) -> String {
    HexSlice(b).to_string()
}

/// Displays / serializes a `u32` as 8 lowercase big-endian hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HexU32(pub u32);

impl fmt::Display for HexU32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl Serialize for HexU32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Displays / serializes a byte slice as lowercase hex without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HexSlice<'a>(pub &'a [u8]);

impl fmt::Display for HexSlice<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 128];
        for chunk in self.0.chunks(64) {
            let mut n = 0;
            for (&b, out) in chunk.iter().zip(buf.chunks_exact_mut(2)) {
                if let [hi, lo] = out {
                    *hi = HEX_DIGITS[usize::from(b >> 4)];
                    *lo = HEX_DIGITS[usize::from(b & 0x0f)];
                }
                n += 2;
            }
            let text = buf.get(..n).unwrap_or(&[]);
            // Only ASCII hex digits were written.
            f.write_str(std::str::from_utf8(text).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

impl Serialize for HexSlice<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A previous-block hash, stored in internal (block header) byte order.
///
/// Three spellings exist:
/// * header order: the 32 bytes exactly as they sit in the 80-byte header;
/// * display order (block explorers, `bitcoind` RPC): header order reversed;
/// * stratum order (`mining.notify`): header order with each of the eight
///   4-byte words byte-reversed — equivalently, display order with the
///   *words* (not bytes) in reverse sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PrevHash(pub [u8; 32]);

fn swap_words(b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (o, i) in out.chunks_exact_mut(4).zip(b.chunks_exact(4)) {
        o.copy_from_slice(i);
        o.reverse();
    }
    out
}

impl PrevHash {
    /// From the 32 bytes as they appear in the block header.
    pub fn from_header_bytes(b: [u8; 32]) -> Self {
        PrevHash(b)
    }

    /// The 32 bytes as they appear in the block header.
    pub fn to_header_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// From stratum's word-swapped byte order.
    pub fn from_stratum_bytes(b: [u8; 32]) -> Self {
        PrevHash(swap_words(&b))
    }

    /// In stratum's word-swapped byte order.
    pub fn to_stratum_bytes(&self) -> [u8; 32] {
        swap_words(&self.0)
    }

    /// Parses the 64-digit hex string of a `mining.notify` prevhash.
    pub fn from_stratum_hex(s: &str) -> Result<Self, HexError> {
        parse_hex_array::<32>(s).map(Self::from_stratum_bytes)
    }

    /// The 64-digit hex string used in `mining.notify`.
    pub fn to_stratum_hex(&self) -> String {
        bytes_hex(&self.to_stratum_bytes())
    }

    /// Parses the display (block explorer / RPC) hex form.
    pub fn from_display_hex(s: &str) -> Result<Self, HexError> {
        let mut b = parse_hex_array::<32>(s)?;
        b.reverse();
        Ok(PrevHash(b))
    }

    /// The display (block explorer / RPC) hex form.
    pub fn to_display_hex(&self) -> String {
        let mut b = self.0;
        b.reverse();
        bytes_hex(&b)
    }
}

impl fmt::Display for PrevHash {
    /// Display order, like a block explorer.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut b = self.0;
        b.reverse();
        fmt::Display::fmt(&HexSlice(&b), f)
    }
}

/// Serializes a [`PrevHash`] in stratum order.
pub(crate) struct StratumPrevHash<'a>(pub(crate) &'a PrevHash);

impl Serialize for StratumPrevHash<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&HexSlice(&self.0.to_stratum_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u32_hex_forms() {
        assert_eq!(parse_u32_hex("1a02b098"), Ok(0x1a02b098));
        assert_eq!(parse_u32_hex("1A02B098"), Ok(0x1a02b098));
        assert_eq!(parse_u32_hex("0x20000000"), Ok(0x2000_0000));
        assert_eq!(parse_u32_hex("ff"), Ok(0xff));
        assert_eq!(parse_u32_hex("000000000001"), Ok(1));
        assert_eq!(parse_u32_hex("00000000"), Ok(0));
        assert_eq!(parse_u32_hex(""), Err(HexError::Empty));
        assert_eq!(parse_u32_hex("0x"), Err(HexError::Empty));
        assert_eq!(
            parse_u32_hex("1ffffffff"),
            Err(HexError::TooLong { digits: 9, max: 8 })
        );
        assert_eq!(parse_u32_hex("12g4"), Err(HexError::InvalidDigit));
        assert_eq!(parse_u32_hex("12345678z"), Err(HexError::InvalidDigit));
        assert_eq!(parse_u32_hex(" 1234"), Err(HexError::InvalidDigit));
        assert_eq!(u32_hex(0x20000000), "20000000");
        assert_eq!(u32_hex(0xab), "000000ab");
    }

    #[test]
    fn byte_hex_forms() {
        assert_eq!(parse_hex_bytes(""), Ok(vec![]));
        assert_eq!(parse_hex_bytes("00ff10Ab"), Ok(vec![0, 0xff, 0x10, 0xab]));
        assert_eq!(parse_hex_bytes("abc"), Err(HexError::OddLength));
        assert_eq!(parse_hex_bytes("zz"), Err(HexError::InvalidDigit));
        assert_eq!(bytes_hex(&[0, 0xff, 0x10, 0xab]), "00ff10ab");
        let long: Vec<u8> = (0..=255u8).collect();
        assert_eq!(bytes_hex(&long), hex::encode(&long));
        assert_eq!(parse_hex_array::<2>("beef"), Ok([0xbe, 0xef]));
        assert_eq!(
            parse_hex_array::<2>("be"),
            Err(HexError::WrongLength {
                expected: 2,
                actual: 1
            })
        );
    }

    #[test]
    fn u256_forms() {
        let t = parse_u256_hex("ffff").unwrap();
        assert_eq!(&t[30..], &[0xff, 0xff]);
        assert!(t[..30].iter().all(|&b| b == 0));
        let t = parse_u256_hex("0x1ff").unwrap();
        assert_eq!(&t[30..], &[0x01, 0xff]);
        let full = "00000000ffff0000000000000000000000000000000000000000000000000000";
        let t = parse_u256_hex(full).unwrap();
        assert_eq!(bytes_hex(&t), full);
        assert!(matches!(
            parse_u256_hex(&"1".repeat(65)),
            Err(HexError::TooLong { .. })
        ));
        assert_eq!(parse_u256_hex("x1"), Err(HexError::InvalidDigit));
    }

    /// Block 881,423's header holds the hash of block 881,422. Its display
    /// form is what explorers show; the stratum form is what pools send.
    #[test]
    fn prevhash_three_spellings() {
        let display = "00000000000000000001543bc4d2b5e1434cb64af8995e21fe15ca708a6ac9e3";
        let stratum = "8a6ac9e3fe15ca70f8995e21434cb64ac4d2b5e10001543b0000000000000000";
        let header = parse_hex_array::<32>(
            "e3c96a8a70ca15fe215e99f84ab64c43e1b5d2c43b5401000000000000000000",
        )
        .unwrap();
        let a = PrevHash::from_display_hex(display).unwrap();
        let b = PrevHash::from_stratum_hex(stratum).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_header_bytes(), header);
        assert_eq!(a.to_stratum_hex(), stratum);
        assert_eq!(a.to_display_hex(), display);
        assert_eq!(a.to_string(), display);
        assert_eq!(PrevHash::from_stratum_bytes(a.to_stratum_bytes()), a);
    }
}
