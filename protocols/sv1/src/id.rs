//! JSON-RPC message ids, which miners send as numbers, strings or null.

use std::fmt;

use serde::{Serialize, Serializer};
use serde_json::Number;

/// The `id` of a Stratum V1 message.
///
/// Kept exactly as received so a reply echoes it byte-for-byte in meaning:
/// firmware matches replies by id and some send strings (`"1"`) rather than numbers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Id {
    /// `null` (or absent): notifications.
    #[default]
    Null,
    /// A JSON number (usually a small non-negative integer).
    Number(Number),
    /// A JSON string.
    String(String),
}

impl Id {
    /// True for [`Id::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Id::Null)
    }

    /// The id as an unsigned integer, if it is a non-negative integral number.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Id::Number(n) => n.as_u64(),
            _ => None,
        }
    }
}

impl From<u64> for Id {
    fn from(v: u64) -> Self {
        Id::Number(v.into())
    }
}

impl From<u32> for Id {
    fn from(v: u32) -> Self {
        Id::Number(v.into())
    }
}

impl From<i64> for Id {
    fn from(v: i64) -> Self {
        Id::Number(v.into())
    }
}

impl From<&str> for Id {
    fn from(v: &str) -> Self {
        Id::String(v.to_owned())
    }
}

impl From<String> for Id {
    fn from(v: String) -> Self {
        Id::String(v)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Null => f.write_str("null"),
            Id::Number(n) => write!(f, "{n}"),
            Id::String(s) => write!(f, "{s:?}"),
        }
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Id::Null => s.serialize_unit(),
            Id::Number(n) => n.serialize(s),
            Id::String(v) => s.serialize_str(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_each_form() {
        assert_eq!(serde_json::to_string(&Id::Null).unwrap(), "null");
        assert_eq!(serde_json::to_string(&Id::from(42u64)).unwrap(), "42");
        assert_eq!(serde_json::to_string(&Id::from(-3i64)).unwrap(), "-3");
        assert_eq!(
            serde_json::to_string(&Id::from("a\"b")).unwrap(),
            r#""a\"b""#
        );
    }

    #[test]
    fn accessors_and_display() {
        assert_eq!(Id::from(5u32).as_u64(), Some(5));
        assert_eq!(Id::from("5").as_u64(), None);
        assert!(Id::default().is_null());
        assert_eq!(Id::from("x").to_string(), "\"x\"");
        assert_eq!(Id::from(9u64).to_string(), "9");
    }
}
