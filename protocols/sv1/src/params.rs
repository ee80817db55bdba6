//! Lenient readers for positional parameters.
//!
//! Firmware is inconsistent about JSON types: numbers arrive as strings,
//! booleans as `0`/`1`, optional parameters as `null` or not at all. These
//! helpers accept every form that has a single obvious meaning and reject the rest.

use std::borrow::Cow;

use crate::encoding::{parse_hex_bytes, parse_u32_hex};
use crate::error::{At, FieldError, ParamError};
use crate::json::{Num, Val};

/// Parameter `i`, treating `null` as absent.
pub(crate) fn opt<'v, 'a>(p: &'v [Val<'a>], i: usize) -> Option<&'v Val<'a>> {
    match p.get(i) {
        None | Some(Val::Null) => None,
        Some(v) => Some(v),
    }
}

/// Parameter `i`, which must be present and not `null`.
pub(crate) fn req<'v, 'a>(
    p: &'v [Val<'a>],
    i: usize,
    field: &'static str,
) -> Result<&'v Val<'a>, FieldError> {
    opt(p, i).ok_or(ParamError::Missing).at(field)
}

/// A string; numbers and booleans are accepted and rendered as text.
pub(crate) fn text(v: &Val<'_>) -> Result<String, ParamError> {
    match v {
        Val::Str(s) => Ok(s.as_ref().to_owned()),
        Val::Num(Num::U(u)) => Ok(u.to_string()),
        Val::Num(Num::I(i)) => Ok(i.to_string()),
        Val::Num(Num::F(f)) => Ok(f.to_string()),
        Val::Bool(b) => Ok(b.to_string()),
        _ => Err(ParamError::WrongType("a string")),
    }
}

/// A strict string (no conversion), borrowed.
pub(crate) fn string<'v>(v: &'v Val<'_>) -> Result<&'v str, ParamError> {
    match v {
        Val::Str(s) => Ok(s.as_ref()),
        _ => Err(ParamError::WrongType("a string")),
    }
}

/// A big-endian hex `u32` given as a string.
pub(crate) fn hex_u32(v: &Val<'_>) -> Result<u32, ParamError> {
    Ok(parse_u32_hex(
        string(v).map_err(|_| ParamError::WrongType("a hex string"))?,
    )?)
}

/// A hex `u32` given as a string, or as a plain JSON integer.
pub(crate) fn hex_or_int_u32(v: &Val<'_>) -> Result<u32, ParamError> {
    match v {
        Val::Num(Num::U(u)) => u32::try_from(*u).map_err(|_| ParamError::OutOfRange),
        Val::Num(_) => Err(ParamError::OutOfRange),
        _ => hex_u32(v),
    }
}

/// A hex byte string.
pub(crate) fn hex_bytes(v: &Val<'_>) -> Result<Vec<u8>, ParamError> {
    Ok(parse_hex_bytes(
        string(v).map_err(|_| ParamError::WrongType("a hex string"))?,
    )?)
}

/// A finite, non-negative number given as a JSON number or a decimal string.
pub(crate) fn non_negative_f64(v: &Val<'_>) -> Result<f64, ParamError> {
    let f = match v {
        Val::Num(Num::U(u)) => *u as f64,
        Val::Num(Num::I(_)) => return Err(ParamError::OutOfRange),
        Val::Num(Num::F(f)) => *f,
        Val::Str(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| ParamError::WrongType("a number"))?,
        _ => return Err(ParamError::WrongType("a number")),
    };
    if f.is_finite() && f >= 0.0 {
        Ok(f)
    } else {
        Err(ParamError::OutOfRange)
    }
}

/// A finite, strictly positive number (a difficulty).
pub(crate) fn positive_f64(v: &Val<'_>) -> Result<f64, ParamError> {
    let f = non_negative_f64(v)?;
    if f > 0.0 {
        Ok(f)
    } else {
        Err(ParamError::OutOfRange)
    }
}

/// A non-negative integer given as a JSON number (integral) or a decimal string.
pub(crate) fn unsigned(v: &Val<'_>) -> Result<u64, ParamError> {
    match v {
        Val::Num(Num::U(u)) => Ok(*u),
        Val::Num(Num::I(_)) => Err(ParamError::OutOfRange),
        Val::Num(Num::F(f)) => {
            if f.fract() == 0.0 && *f >= 0.0 && *f < 18_446_744_073_709_551_616.0 {
                Ok(*f as u64)
            } else {
                Err(ParamError::OutOfRange)
            }
        }
        Val::Str(s) => s
            .trim()
            .parse::<u64>()
            .map_err(|_| ParamError::WrongType("an integer")),
        _ => Err(ParamError::WrongType("an integer")),
    }
}

/// A signed integer given as a JSON number (integral) or a decimal string.
pub(crate) fn signed(v: &Val<'_>) -> Result<i64, ParamError> {
    match v {
        Val::Num(Num::U(u)) => i64::try_from(*u).map_err(|_| ParamError::OutOfRange),
        Val::Num(Num::I(i)) => Ok(*i),
        Val::Num(Num::F(f)) => {
            if f.fract() == 0.0 && f.abs() < 9_223_372_036_854_775_808.0 {
                Ok(*f as i64)
            } else {
                Err(ParamError::OutOfRange)
            }
        }
        Val::Str(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| ParamError::WrongType("an integer")),
        _ => Err(ParamError::WrongType("an integer")),
    }
}

/// A boolean; also `0`/`1` and the strings `"true"`/`"false"`/`"1"`/`"0"`.
pub(crate) fn boolean(v: &Val<'_>) -> Result<bool, ParamError> {
    match v {
        Val::Bool(b) => Ok(*b),
        Val::Num(Num::U(0)) => Ok(false),
        Val::Num(Num::U(1)) => Ok(true),
        Val::Str(s) => match s.trim() {
            t if t.eq_ignore_ascii_case("true") || t == "1" => Ok(true),
            t if t.eq_ignore_ascii_case("false") || t == "0" => Ok(false),
            _ => Err(ParamError::WrongType("a boolean")),
        },
        _ => Err(ParamError::WrongType("a boolean")),
    }
}

/// An array of values (`null` is an empty array).
pub(crate) fn array<'v, 'a>(v: &'v Val<'a>) -> Result<&'v [Val<'a>], ParamError> {
    match v {
        Val::Arr(items) => Ok(items),
        Val::Null => Ok(&[]),
        _ => Err(ParamError::WrongType("an array")),
    }
}

/// An object's members (`null` is an empty object).
pub(crate) fn object<'v, 'a>(v: &'v Val<'a>) -> Result<&'v [(Cow<'a, str>, Val<'a>)], ParamError> {
    match v {
        Val::Obj(members) => Ok(members),
        Val::Null => Ok(&[]),
        _ => Err(ParamError::WrongType("an object")),
    }
}

/// Applies `f` to an optional parameter.
pub(crate) fn opt_with<T>(
    v: Option<&Val<'_>>,
    field: &'static str,
    f: impl FnOnce(&Val<'_>) -> Result<T, ParamError>,
) -> Result<Option<T>, FieldError> {
    v.map(f).transpose().at(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Val<'_> {
        Val::Str(Cow::Borrowed(x))
    }

    #[test]
    fn lenient_numbers() {
        assert_eq!(non_negative_f64(&s(" 1024 ")), Ok(1024.0));
        assert_eq!(non_negative_f64(&Val::Num(Num::F(0.5))), Ok(0.5));
        assert_eq!(non_negative_f64(&s("NaN")), Err(ParamError::OutOfRange));
        assert_eq!(non_negative_f64(&s("inf")), Err(ParamError::OutOfRange));
        assert_eq!(
            non_negative_f64(&Val::Num(Num::I(-1))),
            Err(ParamError::OutOfRange)
        );
        assert_eq!(
            positive_f64(&Val::Num(Num::U(0))),
            Err(ParamError::OutOfRange)
        );
        assert_eq!(unsigned(&s("16")), Ok(16));
        assert_eq!(unsigned(&Val::Num(Num::F(2.0))), Ok(2));
        assert_eq!(
            unsigned(&Val::Num(Num::F(2.5))),
            Err(ParamError::OutOfRange)
        );
        assert_eq!(
            unsigned(&Val::Num(Num::F(1e30))),
            Err(ParamError::OutOfRange)
        );
        assert_eq!(signed(&s("-21")), Ok(-21));
        assert_eq!(
            signed(&Val::Num(Num::U(u64::MAX))),
            Err(ParamError::OutOfRange)
        );
        assert_eq!(
            hex_or_int_u32(&Val::Num(Num::U(0x1fffe000))),
            Ok(0x1fffe000)
        );
        assert_eq!(
            hex_or_int_u32(&Val::Num(Num::U(1 << 40))),
            Err(ParamError::OutOfRange)
        );
        assert_eq!(hex_or_int_u32(&s("1fffe000")), Ok(0x1fffe000));
    }

    #[test]
    fn lenient_booleans_and_text() {
        assert_eq!(boolean(&s("TRUE")), Ok(true));
        assert_eq!(boolean(&Val::Num(Num::U(0))), Ok(false));
        assert!(boolean(&Val::Num(Num::U(2))).is_err());
        assert_eq!(text(&Val::Num(Num::U(12))), Ok("12".into()));
        assert!(text(&Val::Arr(vec![])).is_err());
        assert!(hex_u32(&Val::Num(Num::U(1))).is_err());
    }

    #[test]
    fn optional_and_required() {
        let p = [s("a"), Val::Null];
        assert!(opt(&p, 1).is_none());
        assert!(opt(&p, 5).is_none());
        assert_eq!(
            req(&p, 1, "x").unwrap_err(),
            FieldError {
                field: "x",
                reason: ParamError::Missing
            }
        );
        assert_eq!(opt_with(opt(&p, 0), "a", text).unwrap(), Some("a".into()));
    }
}
