//! Server-to-client messages (responses and notifications) and the client-side parser.

use serde::ser::{SerializeMap, SerializeSeq, SerializeTuple};
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::configure::ConfigureResult;
use crate::encoding::{HexSlice, HexU32, PrevHash, StratumPrevHash};
use crate::error::{At, FieldError, ParamError, Sv1Error};
use crate::id::Id;
use crate::json::{Envelope, Val};
use crate::params::{self, opt, opt_with, req};
use crate::serialize::Number;
use crate::stratum_error::StratumError;

/// `mining.notify`.
pub const NOTIFY: &str = "mining.notify";
/// `mining.set_difficulty`.
pub const SET_DIFFICULTY: &str = "mining.set_difficulty";
/// `mining.set_extranonce`.
pub const SET_EXTRANONCE: &str = "mining.set_extranonce";
/// `mining.set_version_mask`.
pub const SET_VERSION_MASK: &str = "mining.set_version_mask";
/// `client.reconnect`.
pub const RECONNECT: &str = "client.reconnect";
/// `client.show_message`.
pub const SHOW_MESSAGE: &str = "client.show_message";

/// Largest extranonce2 size accepted from a pool; bounds what a miner allocates.
pub const MAX_EXTRANONCE2_SIZE: usize = 32;

/// Parameters of `mining.notify`: one job.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Notify {
    /// Job id, echoed in `mining.submit`.
    pub job_id: String,
    /// Previous block hash (sent in stratum's word-swapped form).
    pub prev_hash: PrevHash,
    /// Coinbase transaction up to the extranonces.
    pub coinb1: Vec<u8>,
    /// Coinbase transaction after the extranonces.
    pub coinb2: Vec<u8>,
    /// Merkle path from the coinbase to the root, internal byte order.
    pub merkle_branch: Vec<[u8; 32]>,
    /// Block version.
    pub version: u32,
    /// Compact target of the block (`nbits`).
    pub nbits: u32,
    /// Block time.
    pub ntime: u32,
    /// True when previous jobs must be abandoned.
    pub clean_jobs: bool,
}

impl Notify {
    fn from_params(p: &[Val<'_>]) -> Result<Self, FieldError> {
        let prev = params::string(req(p, 1, "prev_hash")?).at("prev_hash")?;
        let mut merkle_branch = Vec::new();
        if let Some(v) = opt(p, 4) {
            for item in params::array(v).at("merkle_branch")? {
                let s = params::string(item).at("merkle_branch")?;
                merkle_branch.push(crate::encoding::parse_hex_array::<32>(s).at("merkle_branch")?);
            }
        }
        Ok(Notify {
            job_id: params::text(req(p, 0, "job_id")?).at("job_id")?,
            prev_hash: PrevHash::from_stratum_hex(prev).at("prev_hash")?,
            coinb1: params::hex_bytes(req(p, 2, "coinb1")?).at("coinb1")?,
            coinb2: params::hex_bytes(req(p, 3, "coinb2")?).at("coinb2")?,
            merkle_branch,
            version: params::hex_u32(req(p, 5, "version")?).at("version")?,
            nbits: params::hex_u32(req(p, 6, "nbits")?).at("nbits")?,
            ntime: params::hex_u32(req(p, 7, "ntime")?).at("ntime")?,
            clean_jobs: opt_with(opt(p, 8), "clean_jobs", params::boolean)?.unwrap_or(false),
        })
    }
}

/// Parameters of `client.reconnect`; all optional (empty means "same server").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reconnect {
    /// Host to connect to.
    pub host: Option<String>,
    /// Port to connect to.
    pub port: Option<u16>,
    /// Seconds to wait before reconnecting.
    pub wait_secs: Option<u64>,
}

/// A server-to-client method call (`id` null, no reply expected).
///
/// Ids on such calls are ignored by the parser: none of the modelled
/// methods expects an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Notification {
    /// `mining.notify`.
    Notify(Notify),
    /// `mining.set_difficulty`.
    SetDifficulty {
        /// Share difficulty for subsequent jobs (finite, positive).
        difficulty: f64,
    },
    /// `mining.set_extranonce`.
    SetExtranonce {
        /// New extranonce1.
        extranonce1: Vec<u8>,
        /// New extranonce2 size in bytes (at most [`MAX_EXTRANONCE2_SIZE`]).
        extranonce2_size: usize,
    },
    /// `mining.set_version_mask`.
    SetVersionMask {
        /// Bits the miner may roll from now on.
        mask: u32,
    },
    /// `client.reconnect`.
    Reconnect(Reconnect),
    /// `client.show_message`.
    ShowMessage {
        /// Text to show to the operator.
        message: String,
    },
    /// Any other method, parameters kept as JSON.
    Other {
        /// Method name as sent.
        method: String,
        /// Parameters as sent (always an array).
        params: Value,
    },
}

impl Notification {
    /// The method name on the wire.
    pub fn name(&self) -> &str {
        match self {
            Notification::Notify(_) => NOTIFY,
            Notification::SetDifficulty { .. } => SET_DIFFICULTY,
            Notification::SetExtranonce { .. } => SET_EXTRANONCE,
            Notification::SetVersionMask { .. } => SET_VERSION_MASK,
            Notification::Reconnect(_) => RECONNECT,
            Notification::ShowMessage { .. } => SHOW_MESSAGE,
            Notification::Other { method, .. } => method,
        }
    }

    fn from_params(method: &str, p: &[Val<'_>]) -> Result<Self, FieldError> {
        Ok(match method {
            NOTIFY => Notification::Notify(Notify::from_params(p)?),
            SET_DIFFICULTY => Notification::SetDifficulty {
                difficulty: params::positive_f64(req(p, 0, "difficulty")?).at("difficulty")?,
            },
            SET_EXTRANONCE => Notification::SetExtranonce {
                extranonce1: params::hex_bytes(req(p, 0, "extranonce1")?).at("extranonce1")?,
                extranonce2_size: extranonce2_size(req(p, 1, "extranonce2_size")?)
                    .at("extranonce2_size")?,
            },
            SET_VERSION_MASK => Notification::SetVersionMask {
                mask: params::hex_or_int_u32(req(p, 0, "mask")?).at("mask")?,
            },
            RECONNECT => Notification::Reconnect(Reconnect {
                host: opt_with(opt(p, 0), "host", params::text)?,
                port: opt_with(opt(p, 1), "port", |v| {
                    params::unsigned(v)
                        .and_then(|n| u16::try_from(n).map_err(|_| ParamError::OutOfRange))
                })?,
                wait_secs: opt_with(opt(p, 2), "wait", params::unsigned)?,
            }),
            SHOW_MESSAGE => Notification::ShowMessage {
                message: opt_with(opt(p, 0), "message", params::text)?.unwrap_or_default(),
            },
            other => Notification::Other {
                method: other.to_owned(),
                params: Value::Array(p.iter().map(Val::to_value).collect()),
            },
        })
    }
}

fn extranonce2_size(v: &Val<'_>) -> Result<usize, ParamError> {
    let n = params::unsigned(v)?;
    usize::try_from(n)
        .ok()
        .filter(|n| *n <= MAX_EXTRANONCE2_SIZE)
        .ok_or(ParamError::OutOfRange)
}

/// The result of `mining.subscribe`:
/// `[[["mining.set_difficulty", id], ["mining.notify", id]], extranonce1, extranonce2_size]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubscribeResult {
    /// `(method, subscription id)` pairs.
    pub subscriptions: Vec<(String, String)>,
    /// Extranonce1 assigned to this connection.
    pub extranonce1: Vec<u8>,
    /// Bytes of extranonce2 the miner must supply (at most [`MAX_EXTRANONCE2_SIZE`]).
    pub extranonce2_size: usize,
}

impl SubscribeResult {
    fn looks_like(items: &[Val<'_>]) -> bool {
        matches!(
            items,
            [
                Val::Arr(_) | Val::Null,
                Val::Str(_),
                Val::Num(_) | Val::Str(_),
                ..
            ]
        )
    }

    fn from_items(items: &[Val<'_>]) -> Result<Self, FieldError> {
        let subs = match opt(items, 0) {
            Some(v) => params::array(v).at("subscriptions")?,
            None => &[],
        };
        let pair = |v: &[Val<'_>]| -> Result<(String, String), FieldError> {
            Ok((
                params::text(req(v, 0, "subscriptions")?).at("subscriptions")?,
                params::text(req(v, 1, "subscriptions")?).at("subscriptions")?,
            ))
        };
        let subscriptions = if matches!(subs.first(), Some(Val::Str(_))) {
            // A single flat pair: ["mining.notify", "id"].
            vec![pair(subs)?]
        } else {
            subs.iter()
                .map(|v| pair(params::array(v).at("subscriptions")?))
                .collect::<Result<_, _>>()?
        };
        Ok(SubscribeResult {
            subscriptions,
            extranonce1: params::hex_bytes(req(items, 1, "extranonce1")?).at("extranonce1")?,
            extranonce2_size: extranonce2_size(req(items, 2, "extranonce2_size")?)
                .at("extranonce2_size")?,
        })
    }
}

impl Serialize for SubscribeResult {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Subs<'a>(&'a [(String, String)]);
        impl Serialize for Subs<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0.len()))?;
                for (m, id) in self.0 {
                    seq.serialize_element(&(m, id))?;
                }
                seq.end()
            }
        }
        let mut t = s.serialize_tuple(3)?;
        t.serialize_element(&Subs(&self.subscriptions))?;
        t.serialize_element(&HexSlice(&self.extranonce1))?;
        t.serialize_element(&self.extranonce2_size)?;
        t.end()
    }
}

/// The `result` member of a response, typed by its shape.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseResult {
    /// `null` (usual with an error).
    Null,
    /// `true`/`false`: authorize, submit, extranonce.subscribe, suggest_*.
    Bool(bool),
    /// The `mining.subscribe` result.
    Subscribe(SubscribeResult),
    /// The `mining.configure` result map.
    Configure(ConfigureResult),
    /// Anything else (e.g. a `client.get_version` string), as sent.
    Other(Value),
}

/// A response to a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Id of the request answered.
    pub id: Id,
    /// The result.
    pub result: ResponseResult,
    /// The error, if the request failed.
    pub error: Option<StratumError>,
}

impl Response {
    /// A successful `true`/`false` response.
    pub fn bool(id: Id, value: bool) -> Self {
        Response {
            id,
            result: ResponseResult::Bool(value),
            error: None,
        }
    }

    /// A successful `mining.subscribe` response.
    pub fn subscribe(id: Id, result: SubscribeResult) -> Self {
        Response {
            id,
            result: ResponseResult::Subscribe(result),
            error: None,
        }
    }

    /// A successful `mining.configure` response.
    pub fn configure(id: Id, result: ConfigureResult) -> Self {
        Response {
            id,
            result: ResponseResult::Configure(result),
            error: None,
        }
    }

    /// An error response (`"result": null`).
    pub fn error(id: Id, error: impl Into<StratumError>) -> Self {
        Response {
            id,
            result: ResponseResult::Null,
            error: Some(error.into()),
        }
    }

    /// True when there is no error and the result is not `false`.
    pub fn is_success(&self) -> bool {
        self.error.is_none() && !matches!(self.result, ResponseResult::Bool(false))
    }

    fn from_parts(
        result: Option<&Val<'_>>,
        error: Option<&Val<'_>>,
    ) -> Result<(ResponseResult, Option<StratumError>), FieldError> {
        let error = match error {
            None | Some(Val::Null) | Some(Val::Bool(false)) => None,
            Some(v) => Some(parse_error(v)?),
        };
        let result = match result {
            None | Some(Val::Null) => ResponseResult::Null,
            Some(Val::Bool(b)) => ResponseResult::Bool(*b),
            Some(Val::Arr(items)) if SubscribeResult::looks_like(items) => {
                ResponseResult::Subscribe(SubscribeResult::from_items(items)?)
            }
            Some(Val::Obj(members)) => {
                ResponseResult::Configure(ConfigureResult::from_members(members)?)
            }
            Some(other) => ResponseResult::Other(other.to_value()),
        };
        Ok((result, error))
    }
}

/// Reads `[code, "message", data]`, `{"code":..,"message":..}`, a bare
/// message string or a bare code.
fn parse_error(v: &Val<'_>) -> Result<StratumError, FieldError> {
    let other = crate::stratum_error::ErrorCode::Other.code();
    match v {
        Val::Arr(items) => Ok(StratumError {
            code: opt_with(opt(items, 0), "error.code", params::signed)?.unwrap_or(other),
            message: opt_with(opt(items, 1), "error.message", params::text)?.unwrap_or_default(),
        }),
        Val::Obj(_) => Ok(StratumError {
            code: opt_with(
                v.member("code").filter(|c| **c != Val::Null),
                "error.code",
                params::signed,
            )?
            .unwrap_or(other),
            message: opt_with(
                v.member("message").filter(|c| **c != Val::Null),
                "error.message",
                params::text,
            )?
            .unwrap_or_default(),
        }),
        Val::Str(s) => Ok(StratumError {
            code: other,
            message: s.as_ref().to_owned(),
        }),
        Val::Num(_) => Ok(StratumError {
            code: params::signed(v).at("error.code")?,
            message: String::new(),
        }),
        Val::Bool(_) | Val::Null => Ok(StratumError {
            code: other,
            message: String::new(),
        }),
    }
}

/// Anything a server sends.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage {
    /// A response to one of the client's requests.
    Response(Response),
    /// A method call from the server.
    Notification(Notification),
}

impl From<Response> for ServerMessage {
    fn from(r: Response) -> Self {
        ServerMessage::Response(r)
    }
}

impl From<Notification> for ServerMessage {
    fn from(n: Notification) -> Self {
        ServerMessage::Notification(n)
    }
}

/// Parses one line sent by a pool (client / miner side).
///
/// Lines with a `method` are notifications; lines with `result` or `error`
/// are responses, whose result is typed by its shape (see [`ResponseResult`]).
pub fn parse_server_line(line: &str) -> Result<ServerMessage, Sv1Error> {
    let env = Envelope::parse(line)?;
    let id = env.id()?;
    match &env.method {
        Some(Val::Str(method)) => match Notification::from_params(method, env.params()) {
            Ok(n) => Ok(ServerMessage::Notification(n)),
            Err(FieldError { field, reason }) => Err(Sv1Error::InvalidParams {
                id,
                method: method.as_ref().to_owned(),
                field,
                reason,
            }),
        },
        Some(_) => Err(Sv1Error::InvalidMethod { id }),
        None if env.result.is_some() || env.error.is_some() => {
            match Response::from_parts(env.result.as_ref(), env.error.as_ref()) {
                Ok((result, error)) => Ok(ServerMessage::Response(Response { id, result, error })),
                Err(FieldError { field, reason }) => {
                    Err(Sv1Error::InvalidResult { id, field, reason })
                }
            }
        }
        None => Err(Sv1Error::NotAMessage { id }),
    }
}

struct Branches<'a>(&'a [[u8; 32]]);

impl Serialize for Branches<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for b in self.0 {
            seq.serialize_element(&HexSlice(b))?;
        }
        seq.end()
    }
}

struct NotificationParams<'a>(&'a Notification);

impl Serialize for NotificationParams<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Notification::Notify(n) => (
                &n.job_id,
                StratumPrevHash(&n.prev_hash),
                HexSlice(&n.coinb1),
                HexSlice(&n.coinb2),
                Branches(&n.merkle_branch),
                HexU32(n.version),
                HexU32(n.nbits),
                HexU32(n.ntime),
                n.clean_jobs,
            )
                .serialize(s),
            Notification::SetDifficulty { difficulty } => (Number(*difficulty),).serialize(s),
            Notification::SetExtranonce {
                extranonce1,
                extranonce2_size,
            } => (HexSlice(extranonce1), extranonce2_size).serialize(s),
            Notification::SetVersionMask { mask } => (HexU32(*mask),).serialize(s),
            Notification::Reconnect(r) => {
                let len = if r.wait_secs.is_some() {
                    3
                } else if r.port.is_some() {
                    2
                } else {
                    usize::from(r.host.is_some())
                };
                let mut seq = s.serialize_seq(Some(len))?;
                if len >= 1 {
                    seq.serialize_element(&r.host)?;
                }
                if len >= 2 {
                    seq.serialize_element(&r.port)?;
                }
                if len >= 3 {
                    seq.serialize_element(&r.wait_secs)?;
                }
                seq.end()
            }
            Notification::ShowMessage { message } => (message,).serialize(s),
            Notification::Other { params, .. } => match params {
                Value::Array(_) => params.serialize(s),
                Value::Null => s.serialize_seq(Some(0))?.end(),
                single => (single,).serialize(s),
            },
        }
    }
}

impl Serialize for Notification {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("id", &())?;
        m.serialize_entry("method", self.name())?;
        m.serialize_entry("params", &NotificationParams(self))?;
        m.end()
    }
}

impl Serialize for ResponseResult {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ResponseResult::Null => s.serialize_unit(),
            ResponseResult::Bool(b) => s.serialize_bool(*b),
            ResponseResult::Subscribe(r) => r.serialize(s),
            ResponseResult::Configure(r) => r.serialize(s),
            ResponseResult::Other(v) => v.serialize(s),
        }
    }
}

impl Serialize for Response {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("result", &self.result)?;
        m.serialize_entry("error", &self.error)?;
        m.end()
    }
}

impl Serialize for ServerMessage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ServerMessage::Response(r) => r.serialize(s),
            ServerMessage::Notification(n) => n.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stratum_error::ErrorCode;
    use crate::OutgoingMessage;

    fn notification(line: &str) -> Notification {
        match parse_server_line(line).unwrap() {
            ServerMessage::Notification(n) => n,
            m => panic!("{m:?}"),
        }
    }

    fn response(line: &str) -> Response {
        match parse_server_line(line).unwrap() {
            ServerMessage::Response(r) => r,
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn subscribe_result_shapes() {
        let r = response(
            r#"{"id":1,"result":[[["mining.set_difficulty","b4b6693b72a50c7116db18d6497cac52"],["mining.notify","ae6812eb4cd7735a302a8a9dd95cf71f"]],"08000002",4],"error":null}"#,
        );
        let ResponseResult::Subscribe(s) = &r.result else {
            panic!("{r:?}")
        };
        assert_eq!(s.subscriptions.len(), 2);
        assert_eq!(s.subscriptions[1].0, "mining.notify");
        assert_eq!(s.extranonce1, vec![8, 0, 0, 2]);
        assert_eq!(s.extranonce2_size, 4);
        assert!(r.is_success());
        // Flat pair and null subscriptions, size as a string.
        let r = response(r#"{"id":1,"result":[["mining.notify","x"],"ab","8"],"error":null}"#);
        let ResponseResult::Subscribe(s) = &r.result else {
            panic!()
        };
        assert_eq!(s.subscriptions, vec![("mining.notify".into(), "x".into())]);
        assert_eq!(s.extranonce2_size, 8);
        let r = response(r#"{"id":1,"result":[null,"ab",2],"error":null}"#);
        assert!(matches!(&r.result, ResponseResult::Subscribe(s) if s.subscriptions.is_empty()));
        // Unbounded extranonce2 sizes are refused.
        assert!(matches!(
            parse_server_line(r#"{"id":1,"result":[[],"ab",1000000],"error":null}"#),
            Err(Sv1Error::InvalidResult {
                field: "extranonce2_size",
                ..
            })
        ));
    }

    #[test]
    fn error_shapes() {
        let e = |l: &str| response(l).error.unwrap();
        assert_eq!(
            e(r#"{"id":4,"result":null,"error":[21,"Job not found",null]}"#).kind(),
            Some(ErrorCode::JobNotFound)
        );
        let x =
            e(r#"{"id":4,"result":false,"error":{"code":23,"message":"Low difficulty share"}}"#);
        assert_eq!((x.code, x.message.as_str()), (23, "Low difficulty share"));
        let x = e(r#"{"id":4,"result":null,"error":"Stale"}"#);
        assert_eq!((x.code, x.message.as_str()), (20, "Stale"));
        let x = e(r#"{"id":4,"result":null,"error":[24,"Unauthorized","Traceback..."]}"#);
        assert_eq!(x.code, 24);
        assert!(response(r#"{"id":4,"result":true,"error":false}"#)
            .error
            .is_none());
        let r = response(r#"{"id":4,"result":false,"error":null}"#);
        assert!(!r.is_success());
    }

    #[test]
    fn other_notifications() {
        assert_eq!(
            notification(r#"{"id":null,"method":"mining.set_difficulty","params":["1024"]}"#),
            Notification::SetDifficulty { difficulty: 1024.0 }
        );
        assert!(
            parse_server_line(r#"{"id":null,"method":"mining.set_difficulty","params":[0]}"#)
                .is_err()
        );
        assert_eq!(
            notification(r#"{"id":null,"method":"mining.set_extranonce","params":["08000002",4]}"#),
            Notification::SetExtranonce {
                extranonce1: vec![8, 0, 0, 2],
                extranonce2_size: 4
            }
        );
        assert_eq!(
            notification(r#"{"id":null,"method":"mining.set_version_mask","params":["1fffe000"]}"#),
            Notification::SetVersionMask { mask: 0x1fffe000 }
        );
        assert_eq!(
            notification(
                r#"{"id":5,"method":"client.reconnect","params":["pool.example.com","3333",10]}"#
            ),
            Notification::Reconnect(Reconnect {
                host: Some("pool.example.com".into()),
                port: Some(3333),
                wait_secs: Some(10)
            })
        );
        assert_eq!(
            notification(r#"{"id":null,"method":"client.reconnect","params":[]}"#),
            Notification::Reconnect(Reconnect::default())
        );
        assert!(parse_server_line(
            r#"{"id":null,"method":"client.reconnect","params":["h",70000]}"#
        )
        .is_err());
        assert_eq!(
            notification(r#"{"id":null,"method":"client.show_message","params":["maintenance"]}"#),
            Notification::ShowMessage {
                message: "maintenance".into()
            }
        );
        assert!(matches!(
            notification(r#"{"id":9,"method":"client.get_version","params":[]}"#),
            Notification::Other { .. }
        ));
    }

    #[test]
    fn serialize_shapes() {
        let r = Response::error(Id::from(4u64), ErrorCode::LowDifficulty);
        assert_eq!(
            r.to_line().unwrap(),
            "{\"id\":4,\"result\":null,\"error\":[23,\"Low difficulty share\",null]}\n"
        );
        assert_eq!(
            Response::bool(Id::from("a"), true).to_line().unwrap(),
            "{\"id\":\"a\",\"result\":true,\"error\":null}\n"
        );
        let sub = Response::subscribe(
            Id::from(1u64),
            SubscribeResult {
                subscriptions: vec![("mining.notify".into(), "1".into())],
                extranonce1: vec![0xab, 0xcd],
                extranonce2_size: 4,
            },
        );
        assert_eq!(
            sub.to_line().unwrap(),
            "{\"id\":1,\"result\":[[[\"mining.notify\",\"1\"]],\"abcd\",4],\"error\":null}\n"
        );
        let reconnect = Notification::Reconnect(Reconnect {
            host: None,
            port: Some(3333),
            wait_secs: None,
        });
        assert_eq!(
            reconnect.to_line().unwrap(),
            "{\"id\":null,\"method\":\"client.reconnect\",\"params\":[null,3333]}\n"
        );
        assert_eq!(
            Notification::SetDifficulty { difficulty: 0.25 }
                .to_line()
                .unwrap(),
            "{\"id\":null,\"method\":\"mining.set_difficulty\",\"params\":[0.25]}\n"
        );
    }
}
