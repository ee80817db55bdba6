//! The error member of Stratum V1 responses: `[code, "message", null]`.

use serde::ser::SerializeTuple;
use serde::{Serialize, Serializer};

/// The error codes miners understand (from the original Stratum documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 20: other / unknown error.
    Other,
    /// 21: job not found (stale share).
    JobNotFound,
    /// 22: duplicate share.
    Duplicate,
    /// 23: share above target (low difficulty).
    LowDifficulty,
    /// 24: worker not authorized.
    Unauthorized,
    /// 25: connection not subscribed.
    NotSubscribed,
}

impl ErrorCode {
    /// The numeric code sent on the wire.
    pub fn code(self) -> i64 {
        match self {
            ErrorCode::Other => 20,
            ErrorCode::JobNotFound => 21,
            ErrorCode::Duplicate => 22,
            ErrorCode::LowDifficulty => 23,
            ErrorCode::Unauthorized => 24,
            ErrorCode::NotSubscribed => 25,
        }
    }

    /// The code for a wire number, if it is one of the standard ones.
    pub fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            20 => ErrorCode::Other,
            21 => ErrorCode::JobNotFound,
            22 => ErrorCode::Duplicate,
            23 => ErrorCode::LowDifficulty,
            24 => ErrorCode::Unauthorized,
            25 => ErrorCode::NotSubscribed,
            _ => return None,
        })
    }

    /// The conventional message text for this code.
    pub fn default_message(self) -> &'static str {
        match self {
            ErrorCode::Other => "Other/Unknown",
            ErrorCode::JobNotFound => "Job not found",
            ErrorCode::Duplicate => "Duplicate share",
            ErrorCode::LowDifficulty => "Low difficulty share",
            ErrorCode::Unauthorized => "Unauthorized worker",
            ErrorCode::NotSubscribed => "Not subscribed",
        }
    }
}

/// An error carried in a response; serialized as `[code, "message", null]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StratumError {
    /// Numeric code (see [`ErrorCode`] for the standard ones).
    pub code: i64,
    /// Human-readable text.
    pub message: String,
}

impl StratumError {
    /// An error with a standard code and custom text.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        StratumError {
            code: code.code(),
            message: message.into(),
        }
    }

    /// An error with a standard code and its conventional text.
    pub fn from_code(code: ErrorCode) -> Self {
        Self::new(code, code.default_message())
    }

    /// The standard code, if `code` is one.
    pub fn kind(&self) -> Option<ErrorCode> {
        ErrorCode::from_code(self.code)
    }
}

impl From<ErrorCode> for StratumError {
    fn from(code: ErrorCode) -> Self {
        StratumError::from_code(code)
    }
}

impl Serialize for StratumError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(3)?;
        t.serialize_element(&self.code)?;
        t.serialize_element(&self.message)?;
        t.serialize_element(&())?;
        t.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for c in [
            ErrorCode::Other,
            ErrorCode::JobNotFound,
            ErrorCode::Duplicate,
            ErrorCode::LowDifficulty,
            ErrorCode::Unauthorized,
            ErrorCode::NotSubscribed,
        ] {
            assert_eq!(ErrorCode::from_code(c.code()), Some(c));
            assert_eq!(StratumError::from(c).kind(), Some(c));
        }
        assert_eq!(ErrorCode::from_code(-1), None);
    }

    #[test]
    fn wire_form() {
        let e = StratumError::from_code(ErrorCode::JobNotFound);
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"[21,"Job not found",null]"#
        );
    }
}
