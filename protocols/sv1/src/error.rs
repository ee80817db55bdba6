//! Error types: hex decoding, per-parameter failures and whole-message failures.

use crate::id::Id;
use crate::stratum_error::{ErrorCode, StratumError};

/// Why a hex string could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// The string holds no digits where a value was required.
    #[error("empty hex string")]
    Empty,
    /// A byte string with an odd number of digits.
    #[error("odd number of hex digits")]
    OddLength,
    /// A character outside `0-9a-fA-F`.
    #[error("invalid hex digit")]
    InvalidDigit,
    /// The decoded byte string has the wrong length.
    #[error("expected {expected} bytes, got {actual}")]
    WrongLength {
        /// Number of bytes the field must have.
        expected: usize,
        /// Number of bytes that were given.
        actual: usize,
    },
    /// A number with more significant digits than its type can hold.
    #[error("{digits} hex digits, at most {max} allowed")]
    TooLong {
        /// Digits given (after any `0x` prefix).
        digits: usize,
        /// Digits the type can hold.
        max: usize,
    },
}

/// Why one parameter (or result field) was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// A required parameter is absent or `null`.
    #[error("missing")]
    Missing,
    /// The JSON type cannot be interpreted as the expected kind of value.
    #[error("expected {0}")]
    WrongType(&'static str),
    /// A hex string did not decode.
    #[error("bad hex: {0}")]
    Hex(#[from] HexError),
    /// A number outside the accepted range (negative, non-finite, too big).
    #[error("out of range")]
    OutOfRange,
}

/// A parameter error together with the name of the parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) field: &'static str,
    pub(crate) reason: ParamError,
}

/// Attaches a field name to a [`ParamError`].
pub(crate) trait At<T> {
    /// Names the field the error belongs to.
    fn at(self, field: &'static str) -> Result<T, FieldError>;
}

impl<T> At<T> for Result<T, ParamError> {
    fn at(self, field: &'static str) -> Result<T, FieldError> {
        self.map_err(|reason| FieldError { field, reason })
    }
}

impl<T> At<T> for Result<T, HexError> {
    fn at(self, field: &'static str) -> Result<T, FieldError> {
        self.map_err(|e| FieldError {
            field,
            reason: ParamError::Hex(e),
        })
    }
}

/// Everything that can go wrong turning bytes into a Stratum V1 message.
///
/// Errors that occur after the message `id` is known carry it, so a server can
/// answer the offending request (see [`Sv1Error::request_id`] and
/// [`Sv1Error::to_stratum_error`]); [`Sv1Error::is_fatal`] says when the
/// connection should be closed instead.
#[derive(Debug, thiserror::Error)]
pub enum Sv1Error {
    /// The line is not valid JSON.
    #[error("malformed JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The line is JSON but not an object.
    #[error("message is not a JSON object")]
    NotAnObject,
    /// The `id` member is neither a number, a string nor null.
    #[error("message id must be a number, a string or null")]
    InvalidId,
    /// The `method` member is present but not a string.
    #[error("method must be a string (id {id})")]
    InvalidMethod {
        /// Id of the message.
        id: Id,
    },
    /// An object with neither `method` nor `result`/`error`.
    #[error("message has neither a method nor a result (id {id})")]
    NotAMessage {
        /// Id of the message.
        id: Id,
    },
    /// A response arrived where only requests are expected (server side), e.g.
    /// a miner answering `client.get_version`; [`crate::parse_server_line`]
    /// reads the same line as a [`crate::Response`] if the server wants it.
    #[error("expected a request, got a response (id {id})")]
    UnexpectedResponse {
        /// Id of the response.
        id: Id,
    },
    /// A known method with parameters that cannot be interpreted.
    #[error("invalid params for {method} (id {id}): {field}: {reason}")]
    InvalidParams {
        /// Id of the request.
        id: Id,
        /// Method name as sent.
        method: String,
        /// Parameter that was rejected.
        field: &'static str,
        /// Why it was rejected.
        reason: ParamError,
    },
    /// A response whose `result` or `error` has the expected shape but bad content.
    #[error("invalid response (id {id}): {field}: {reason}")]
    InvalidResult {
        /// Id of the response.
        id: Id,
        /// Result field that was rejected.
        field: &'static str,
        /// Why it was rejected.
        reason: ParamError,
    },
    /// The line is not valid UTF-8.
    #[error("line is not valid UTF-8")]
    InvalidUtf8,
    /// The peer sent more than the configured maximum without a newline.
    #[error("line longer than {limit} bytes")]
    LineTooLong {
        /// The configured maximum line length.
        limit: usize,
    },
    /// Transport failure (only produced by the codecs).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl Sv1Error {
    /// The id of the request this error belongs to, when it could be read and
    /// is not null: the server should answer it with [`Self::to_stratum_error`].
    pub fn request_id(&self) -> Option<&Id> {
        let id = match self {
            Sv1Error::InvalidMethod { id }
            | Sv1Error::NotAMessage { id }
            | Sv1Error::InvalidParams { id, .. } => id,
            _ => return None,
        };
        (!id.is_null()).then_some(id)
    }

    /// True when the byte stream itself is unusable (oversized line, I/O
    /// failure) and the connection should be closed; false when only one
    /// message was bad and the next line can still be read (with the typed
    /// codecs, such errors arrive inside the decoded item).
    pub fn is_fatal(&self) -> bool {
        matches!(self, Sv1Error::LineTooLong { .. } | Sv1Error::Io(_))
    }

    /// The Stratum error (code 20, "other/unknown") to send back for this failure.
    pub fn to_stratum_error(&self) -> StratumError {
        StratumError::new(ErrorCode::Other, self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_only_for_answerable_errors() {
        let e = Sv1Error::InvalidParams {
            id: Id::from(7u64),
            method: "mining.submit".into(),
            field: "nonce",
            reason: ParamError::Missing,
        };
        assert_eq!(e.request_id(), Some(&Id::from(7u64)));
        assert!(!e.is_fatal());
        assert_eq!(e.to_stratum_error().code, 20);
        assert!(e.to_stratum_error().message.contains("nonce"));

        let null_id = Sv1Error::NotAMessage { id: Id::Null };
        assert_eq!(null_id.request_id(), None);
        assert!(Sv1Error::LineTooLong { limit: 10 }.is_fatal());
        assert_eq!(Sv1Error::NotAnObject.request_id(), None);
    }
}
