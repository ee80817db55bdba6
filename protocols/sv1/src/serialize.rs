//! Shared serialization helpers: numbers the way pools write them, and the
//! one-line JSON form of every outgoing message.

use serde::{Serialize, Serializer};

use crate::client::ClientRequest;
use crate::error::Sv1Error;
use crate::server::{Notification, Response, ServerMessage};

/// Largest integer below which every integer is exactly representable in an f64.
const EXACT_INT_LIMIT: f64 = 9_007_199_254_740_992.0;

/// Writes an `f64` as a JSON integer when it is integral (`1024`, not
/// `1024.0`), as most pools do and as some firmware expects, otherwise as a float.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Number(pub(crate) f64);

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.is_finite() && v.fract() == 0.0 && v.abs() < EXACT_INT_LIMIT {
            if v >= 0.0 {
                s.serialize_u64(v as u64)
            } else {
                s.serialize_i64(v as i64)
            }
        } else {
            s.serialize_f64(v)
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A complete Stratum V1 message that can be written as one line.
///
/// Implemented for [`ClientRequest`], [`ServerMessage`], [`Response`],
/// [`Notification`] and references to them; the codecs accept any of these.
pub trait OutgoingMessage: Serialize + sealed::Sealed {
    /// The message as JSON followed by `\n`.
    fn to_line(&self) -> Result<String, Sv1Error> {
        let mut s = serde_json::to_string(self)?;
        s.push('\n');
        Ok(s)
    }
}

impl sealed::Sealed for ClientRequest {}
impl OutgoingMessage for ClientRequest {}
impl sealed::Sealed for ServerMessage {}
impl OutgoingMessage for ServerMessage {}
impl sealed::Sealed for Response {}
impl OutgoingMessage for Response {}
impl sealed::Sealed for Notification {}
impl OutgoingMessage for Notification {}
impl<T: OutgoingMessage> sealed::Sealed for &T {}
impl<T: OutgoingMessage> OutgoingMessage for &T {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_numbers_are_written_as_integers() {
        let w = |v: f64| serde_json::to_string(&Number(v)).unwrap();
        assert_eq!(w(1024.0), "1024");
        assert_eq!(w(-3.0), "-3");
        assert_eq!(w(0.5), "0.5");
        assert_eq!(w(0.001), "0.001");
        assert_eq!(w(1e300), "1e+300");
        assert_eq!(w(9_007_199_254_740_992.0), "9007199254740992.0");
    }
}
