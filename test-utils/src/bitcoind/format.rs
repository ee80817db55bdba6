//! Number and hash formatting the way Bitcoin Core writes its RPC replies.
//!
//! Core prints floating point values with 16 significant digits (so
//! `4.656542373906925e-10`, `1`, `4.530989925125371e-07`) and BTC amounts
//! with exactly eight decimals (`0.00000100`). `serde_json` would print
//! `1.0` and `1e-6`, so these values are written as raw JSON tokens.

use bitcoin::pow::{CompactTarget, Target, Work};
use serde::ser::Error as _;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

/// A floating point number written like Core writes doubles (16 significant digits, `%g` style).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CoreFloat(pub f64);

impl Serialize for CoreFloat {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(format_g16(self.0)).map_err(S::Error::custom)?;
        raw.serialize(serializer)
    }
}

/// A BTC amount given in satoshis, written as a decimal with eight places (`0.00000100`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BtcAmount(pub i64);

impl Serialize for BtcAmount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(format_btc(self.0)).map_err(S::Error::custom)?;
        raw.serialize(serializer)
    }
}

/// Formats `v` like C++ `ostream << setprecision(16) << v`: 16 significant digits,
/// trailing zeros removed, scientific notation with a two-digit exponent when the
/// decimal exponent is below -4 or at least 16. Non-finite values become `null`.
pub fn format_g16(v: f64) -> String {
    const PRECISION: i32 = 16;
    if !v.is_finite() {
        return "null".to_owned();
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    // Round to 16 significant digits first: the exponent of the rounded value decides the style.
    let sci = format!("{:.*e}", (PRECISION - 1) as usize, v);
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return sci;
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..PRECISION).contains(&exp) {
        let mantissa = trim_fraction(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    } else {
        let decimals = (PRECISION - 1 - exp).max(0) as usize;
        trim_fraction(&format!("{v:.decimals$}")).to_owned()
    }
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Formats satoshis as BTC with eight decimals, as Core's amount values.
pub fn format_btc(sats: i64) -> String {
    let sign = if sats < 0 { "-" } else { "" };
    let abs = sats.unsigned_abs();
    format!("{sign}{}.{:08}", abs / 100_000_000, abs % 100_000_000)
}

/// Core's difficulty for a compact target: the mainnet minimum target divided by this target,
/// computed from the compact form in floating point.
pub fn difficulty_from_bits(bits: CompactTarget) -> f64 {
    let bits = bits.to_consensus();
    let mut shift = (bits >> 24) & 0xff;
    let mantissa = bits & 0x00ff_ffff;
    if mantissa == 0 {
        return 0.0;
    }
    let mut diff = f64::from(0x0000_ffffu32) / f64::from(mantissa);
    while shift < 29 {
        diff *= 256.0;
        shift += 1;
    }
    while shift > 29 {
        diff /= 256.0;
        shift -= 1;
    }
    diff
}

/// The compact target as the 8-hex-digit string Core prints for `bits`.
pub fn bits_hex(bits: CompactTarget) -> String {
    format!("{:08x}", bits.to_consensus())
}

/// The full 256-bit target of `bits` as 64 big-endian hex digits.
pub fn target_hex(bits: CompactTarget) -> String {
    hex::encode(Target::from_compact(bits).to_be_bytes())
}

/// Chain work as 64 big-endian hex digits.
pub fn work_hex(work: Work) -> String {
    hex::encode(work.to_be_bytes())
}

/// Why a compact target cannot be used as a proof-of-work target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompactError {
    /// The sign bit is set with a non-zero mantissa.
    Negative,
    /// The value does not fit in 256 bits.
    Overflow,
    /// The target is zero.
    Zero,
}

/// Decodes a compact target the way consensus does, rejecting negative, overflowing and zero values.
pub fn decode_compact(bits: CompactTarget) -> Result<Target, CompactError> {
    let raw = bits.to_consensus();
    let size = raw >> 24;
    let word = raw & 0x007f_ffff;
    if word != 0 && raw & 0x0080_0000 != 0 {
        return Err(CompactError::Negative);
    }
    if word != 0 && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32)) {
        return Err(CompactError::Overflow);
    }
    let target = Target::from_compact(bits);
    if target == Target::ZERO {
        return Err(CompactError::Zero);
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g16_matches_core_literals() {
        assert_eq!(
            format_g16(difficulty_from_bits(CompactTarget::from_consensus(
                0x207fffff
            ))),
            "4.656542373906925e-10"
        );
        assert_eq!(format_g16(1.0), "1");
        assert_eq!(format_g16(0.0), "0");
        assert_eq!(format_g16(4.530989925125371e-07), "4.530989925125371e-07");
        assert_eq!(format_g16(0.5), "0.5");
        assert_eq!(format_g16(123456.25), "123456.25");
        assert_eq!(format_g16(1e20), "1e+20");
        assert_eq!(format_g16(-2.5e-9), "-2.5e-09");
        assert_eq!(format_g16(0.0001), "0.0001");
        assert_eq!(format_g16(f64::NAN), "null");
    }

    #[test]
    fn btc_amounts_have_eight_decimals() {
        assert_eq!(format_btc(100), "0.00000100");
        assert_eq!(format_btc(1), "0.00000001");
        assert_eq!(format_btc(5_000_046_326), "50.00046326");
        assert_eq!(format_btc(-150_000_000), "-1.50000000");
    }

    #[test]
    fn raw_numbers_serialize_as_tokens() {
        let v = serde_json::to_string(&(CoreFloat(1.0), BtcAmount(100))).unwrap();
        assert_eq!(v, "[1,0.00000100]");
    }

    #[test]
    fn regtest_target_and_bits() {
        let bits = CompactTarget::from_consensus(0x207fffff);
        assert_eq!(bits_hex(bits), "207fffff");
        assert_eq!(target_hex(bits), format!("7fffff{}", "0".repeat(58)));
        assert_eq!(decode_compact(bits), Ok(Target::MAX_ATTAINABLE_REGTEST));
    }

    #[test]
    fn compact_edge_cases_are_rejected() {
        assert_eq!(
            decode_compact(CompactTarget::from_consensus(0x04923456)),
            Err(CompactError::Negative)
        );
        assert_eq!(
            decode_compact(CompactTarget::from_consensus(0xff123456)),
            Err(CompactError::Overflow)
        );
        assert_eq!(
            decode_compact(CompactTarget::from_consensus(0x22000100)),
            Err(CompactError::Overflow)
        );
        assert_eq!(
            decode_compact(CompactTarget::from_consensus(0x20000000)),
            Err(CompactError::Zero)
        );
        assert!(decode_compact(CompactTarget::from_consensus(0x1d00ffff)).is_ok());
    }
}
