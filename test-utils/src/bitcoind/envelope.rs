//! JSON-RPC envelopes as Bitcoin Core speaks them: the legacy 1.0 style (errors change the
//! HTTP status, `result` and `error` always present) and 2.0 (always HTTP 200, exactly one of
//! `result`/`error`, requests without `id` are notifications).

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Which envelope a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `"jsonrpc":"1.0"` or no version member.
    Legacy,
    /// `"jsonrpc":"2.0"`.
    V2,
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RpcError {
    /// Error code (Core's RPCErrorCode).
    pub code: i32,
    /// Human-readable message.
    pub message: String,
}

/// Core's error codes used by the stand-in.
pub mod codes {
    /// Request body is not JSON.
    pub const PARSE_ERROR: i32 = -32700;
    /// Request is not a valid JSON-RPC request object.
    pub const INVALID_REQUEST: i32 = -32600;
    /// Unknown method.
    pub const METHOD_NOT_FOUND: i32 = -32601;
    /// Generic error (also: wrong number of parameters, with the help text).
    pub const MISC_ERROR: i32 = -1;
    /// A parameter has the wrong JSON type.
    pub const TYPE_ERROR: i32 = -3;
    /// Unknown block or transaction.
    pub const INVALID_ADDRESS_OR_KEY: i32 = -5;
    /// Invalid, missing or duplicate parameter.
    pub const INVALID_PARAMETER: i32 = -8;
    /// Node is still in initial block download.
    pub const CLIENT_IN_INITIAL_DOWNLOAD: i32 = -10;
    /// Block/transaction decoding failed.
    pub const DESERIALIZATION_ERROR: i32 = -22;
    /// Transaction verification failed (e.g. missing inputs).
    pub const VERIFY_ERROR: i32 = -25;
    /// Transaction rejected by the mempool policy or consensus checks.
    pub const VERIFY_REJECTED: i32 = -26;
    /// Transaction already confirmed (outputs already in the UTXO set).
    pub const VERIFY_ALREADY_IN_UTXO_SET: i32 = -27;
}

impl RpcError {
    /// An error with `code` and `message`.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Positional or named parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Params {
    /// `"params": [...]` (or absent / null: empty).
    Positional(Vec<Value>),
    /// `"params": {...}`.
    Named(Map<String, Value>),
}

/// A parsed request.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Envelope version.
    pub version: Version,
    /// The `id` member; `None` when absent (a notification under 2.0).
    pub id: Option<Value>,
    /// Method name.
    pub method: String,
    /// Parameters.
    pub params: Params,
}

/// A request that could not be parsed into a [`Call`]: the reply still needs its id and version.
#[derive(Debug, Clone, PartialEq)]
pub struct BadRequest {
    /// Envelope version (as far as it could be read).
    pub version: Version,
    /// The id, if present.
    pub id: Option<Value>,
    /// The error to send back.
    pub error: RpcError,
}

/// Reads one request object.
pub fn parse_call(request: Value) -> Result<Call, BadRequest> {
    let Value::Object(mut obj) = request else {
        return Err(BadRequest {
            version: Version::Legacy,
            id: None,
            error: RpcError::new(codes::INVALID_REQUEST, "Invalid Request object"),
        });
    };
    let version = match obj.get("jsonrpc") {
        Some(Value::String(v)) if v == "2.0" => Version::V2,
        _ => Version::Legacy,
    };
    let id = obj.remove("id");
    let fail = |id: Option<Value>, message: &str| BadRequest {
        version,
        id,
        error: RpcError::new(codes::INVALID_REQUEST, message),
    };
    let method = match obj.remove("method") {
        Some(Value::String(m)) => m,
        None => return Err(fail(id, "Missing method")),
        Some(_) => return Err(fail(id, "Method must be a string")),
    };
    let params = match obj.remove("params") {
        None | Some(Value::Null) => Params::Positional(Vec::new()),
        Some(Value::Array(a)) => Params::Positional(a),
        Some(Value::Object(o)) => Params::Named(o),
        Some(_) => return Err(fail(id, "Params must be an array or object")),
    };
    Ok(Call {
        version,
        id,
        method,
        params,
    })
}

#[derive(Serialize)]
struct LegacyReply<'a> {
    result: Option<&'a RawValue>,
    error: Option<&'a RpcError>,
    id: &'a Value,
}

#[derive(Serialize)]
struct V2Reply<'a> {
    jsonrpc: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a RpcError>,
    id: &'a Value,
}

/// The reply object for one call.
pub fn reply_value(
    version: Version,
    id: Option<&Value>,
    outcome: &Result<Box<RawValue>, RpcError>,
) -> Box<RawValue> {
    let null = Value::Null;
    let id = id.unwrap_or(&null);
    let (result, error) = match outcome {
        Ok(raw) => (Some(raw.as_ref()), None),
        Err(e) => (None, Some(e)),
    };
    let text = match version {
        Version::Legacy => serde_json::to_string(&LegacyReply { result, error, id }),
        Version::V2 => serde_json::to_string(&V2Reply {
            jsonrpc: "2.0",
            result,
            error,
            id,
        }),
    };
    // Serializing these plain structs cannot fail; fall back to a generic error object if it ever did.
    let text = text.unwrap_or_else(|_| {
        r#"{"result":null,"error":{"code":-32603,"message":"Internal error"},"id":null}"#.to_owned()
    });
    RawValue::from_string(text).unwrap_or_else(|_| null_raw())
}

/// The JSON `null` token.
pub fn null_raw() -> Box<RawValue> {
    RawValue::NULL.to_owned()
}

/// HTTP status for a single (non-batch) reply: legacy errors map to 500, 404 (unknown method)
/// or 400 (invalid request); 2.0 replies are always 200.
pub fn http_status(version: Version, outcome: &Result<Box<RawValue>, RpcError>) -> u16 {
    match (version, outcome) {
        (Version::V2, _) | (_, Ok(_)) => 200,
        (Version::Legacy, Err(e)) if e.code == codes::METHOD_NOT_FOUND => 404,
        (Version::Legacy, Err(e)) if e.code == codes::INVALID_REQUEST => 400,
        (Version::Legacy, Err(_)) => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(v: &str) -> Box<RawValue> {
        RawValue::from_string(v.to_owned()).unwrap()
    }

    #[test]
    fn legacy_and_v2_shapes() {
        let id = json!("t1");
        let ok = Ok(raw("\"abc\""));
        assert_eq!(
            reply_value(Version::Legacy, Some(&id), &ok).get(),
            r#"{"result":"abc","error":null,"id":"t1"}"#
        );
        assert_eq!(
            reply_value(Version::V2, Some(&id), &ok).get(),
            r#"{"jsonrpc":"2.0","result":"abc","id":"t1"}"#
        );
        let err = Err(RpcError::new(-22, "Block decode failed"));
        assert_eq!(
            reply_value(Version::Legacy, Some(&id), &err).get(),
            r#"{"result":null,"error":{"code":-22,"message":"Block decode failed"},"id":"t1"}"#
        );
        assert_eq!(
            reply_value(Version::V2, Some(&id), &err).get(),
            r#"{"jsonrpc":"2.0","error":{"code":-22,"message":"Block decode failed"},"id":"t1"}"#
        );
        assert_eq!(http_status(Version::Legacy, &err), 500);
        assert_eq!(http_status(Version::V2, &err), 200);
        assert_eq!(
            http_status(
                Version::Legacy,
                &Err(RpcError::new(codes::METHOD_NOT_FOUND, "x"))
            ),
            404
        );
    }

    #[test]
    fn parse_variants() {
        let c = parse_call(json!({"jsonrpc":"2.0","id":1,"method":"m","params":{"a":1}})).unwrap();
        assert_eq!(c.version, Version::V2);
        assert!(matches!(c.params, Params::Named(_)));
        let c = parse_call(json!({"method":"m"})).unwrap();
        assert_eq!(c.version, Version::Legacy);
        assert_eq!(c.id, None);
        assert_eq!(c.params, Params::Positional(vec![]));
        assert_eq!(
            parse_call(json!({"id":1,"method":5}))
                .unwrap_err()
                .error
                .code,
            codes::INVALID_REQUEST
        );
        assert_eq!(
            parse_call(json!({"id":1,"method":"m","params":5}))
                .unwrap_err()
                .error
                .code,
            codes::INVALID_REQUEST
        );
        assert_eq!(
            parse_call(json!([1])).unwrap_err().error.code,
            codes::INVALID_REQUEST
        );
    }
}
