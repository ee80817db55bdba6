//! Client-to-server requests (what miners send) and the server-side parser.

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::configure::{Configure, ConfigureParams};
use crate::encoding::{parse_u256_hex, HexSlice, HexU32};
use crate::error::{At, FieldError, Sv1Error};
use crate::id::Id;
use crate::json::{Envelope, Val};
use crate::params::{self, opt, opt_with, req};
use crate::serialize::Number;

/// `mining.subscribe`.
pub const SUBSCRIBE: &str = "mining.subscribe";
/// `mining.authorize`.
pub const AUTHORIZE: &str = "mining.authorize";
/// `mining.configure`.
pub const CONFIGURE: &str = "mining.configure";
/// `mining.extranonce.subscribe`.
pub const EXTRANONCE_SUBSCRIBE: &str = "mining.extranonce.subscribe";
/// `mining.suggest_difficulty`.
pub const SUGGEST_DIFFICULTY: &str = "mining.suggest_difficulty";
/// `mining.suggest_target`.
pub const SUGGEST_TARGET: &str = "mining.suggest_target";
/// `mining.submit`.
pub const SUBMIT: &str = "mining.submit";

/// Parameters of `mining.subscribe` (0, 1 or 2 parameters; extras ignored).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscribe {
    /// Miner software and version, e.g. `"bmminer/2.0.0"`.
    pub user_agent: Option<String>,
    /// Session (usually the previous extranonce1, hex) the miner wants to resume.
    pub session_id: Option<String>,
}

/// Parameters of `mining.authorize`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Authorize {
    /// Worker name (`account.worker`); empty when the miner sent no parameters.
    pub username: String,
    /// Password, when sent.
    pub password: Option<String>,
}

/// Parameters of `mining.submit`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Submit {
    /// Worker name.
    pub worker: String,
    /// Job id from `mining.notify`.
    pub job_id: String,
    /// Miner-chosen extranonce2 bytes.
    pub extranonce2: Vec<u8>,
    /// Block header time.
    pub ntime: u32,
    /// Header nonce.
    pub nonce: u32,
    /// Rolled version bits (sixth parameter, version-rolling miners only).
    pub version_bits: Option<u32>,
}

/// A request method with its typed parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMethod {
    /// `mining.subscribe`.
    Subscribe(Subscribe),
    /// `mining.authorize`.
    Authorize(Authorize),
    /// `mining.configure`.
    Configure(Configure),
    /// `mining.extranonce.subscribe`.
    ExtranonceSubscribe,
    /// `mining.suggest_difficulty`.
    SuggestDifficulty {
        /// Suggested share difficulty (finite, non-negative).
        difficulty: f64,
    },
    /// `mining.suggest_target`.
    SuggestTarget {
        /// Suggested share target, 32 big-endian bytes.
        target: [u8; 32],
    },
    /// `mining.submit`.
    Submit(Submit),
    /// Any other method, parameters kept as JSON (the server should answer
    /// with an error, code 20).
    Other {
        /// Method name as sent.
        method: String,
        /// Parameters as sent (always an array).
        params: Value,
    },
}

impl ClientMethod {
    /// The method name on the wire.
    pub fn name(&self) -> &str {
        match self {
            ClientMethod::Subscribe(_) => SUBSCRIBE,
            ClientMethod::Authorize(_) => AUTHORIZE,
            ClientMethod::Configure(_) => CONFIGURE,
            ClientMethod::ExtranonceSubscribe => EXTRANONCE_SUBSCRIBE,
            ClientMethod::SuggestDifficulty { .. } => SUGGEST_DIFFICULTY,
            ClientMethod::SuggestTarget { .. } => SUGGEST_TARGET,
            ClientMethod::Submit(_) => SUBMIT,
            ClientMethod::Other { method, .. } => method,
        }
    }

    fn from_params(method: &str, p: &[Val<'_>]) -> Result<Self, FieldError> {
        Ok(match method {
            SUBSCRIBE => ClientMethod::Subscribe(Subscribe {
                user_agent: opt_with(opt(p, 0), "user_agent", params::text)?,
                session_id: opt_with(opt(p, 1), "session_id", params::text)?,
            }),
            AUTHORIZE => ClientMethod::Authorize(Authorize {
                username: opt_with(opt(p, 0), "username", params::text)?.unwrap_or_default(),
                password: opt_with(opt(p, 1), "password", params::text)?,
            }),
            CONFIGURE => ClientMethod::Configure(Configure::from_params(p)?),
            EXTRANONCE_SUBSCRIBE => ClientMethod::ExtranonceSubscribe,
            SUGGEST_DIFFICULTY => ClientMethod::SuggestDifficulty {
                difficulty: params::non_negative_f64(req(p, 0, "difficulty")?).at("difficulty")?,
            },
            SUGGEST_TARGET => {
                let s = params::string(req(p, 0, "target")?).at("target")?;
                ClientMethod::SuggestTarget {
                    target: parse_u256_hex(s).at("target")?,
                }
            }
            SUBMIT => ClientMethod::Submit(Submit {
                worker: params::text(req(p, 0, "worker")?).at("worker")?,
                job_id: params::text(req(p, 1, "job_id")?).at("job_id")?,
                extranonce2: params::hex_bytes(req(p, 2, "extranonce2")?).at("extranonce2")?,
                ntime: params::hex_u32(req(p, 3, "ntime")?).at("ntime")?,
                nonce: params::hex_u32(req(p, 4, "nonce")?).at("nonce")?,
                // Some firmware sends "" in the sixth slot when it is not rolling.
                version_bits: opt_with(
                    opt(p, 5).filter(|v| !matches!(v, Val::Str(s) if s.is_empty())),
                    "version_bits",
                    params::hex_u32,
                )?,
            }),
            other => ClientMethod::Other {
                method: other.to_owned(),
                params: Value::Array(p.iter().map(Val::to_value).collect()),
            },
        })
    }
}

/// A request from a miner: id plus method.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRequest {
    /// Request id, echoed in the response.
    pub id: Id,
    /// Method and parameters.
    pub method: ClientMethod,
}

impl ClientRequest {
    /// A request with the given id.
    pub fn new(id: impl Into<Id>, method: ClientMethod) -> Self {
        ClientRequest {
            id: id.into(),
            method,
        }
    }
}

/// Parses one line sent by a miner (server side).
///
/// The line may carry surrounding whitespace (`\r\n`). Unknown methods parse
/// as [`ClientMethod::Other`]; a known method with unusable parameters is
/// [`Sv1Error::InvalidParams`], which carries the id so the server can reply
/// with an error instead of dropping the connection.
pub fn parse_client_line(line: &str) -> Result<ClientRequest, Sv1Error> {
    let env = Envelope::parse(line)?;
    let id = env.id()?;
    let method = match &env.method {
        Some(Val::Str(m)) => m.as_ref(),
        Some(_) => return Err(Sv1Error::InvalidMethod { id }),
        None if env.result.is_some() || env.error.is_some() => {
            return Err(Sv1Error::UnexpectedResponse { id })
        }
        None => return Err(Sv1Error::NotAMessage { id }),
    };
    match ClientMethod::from_params(method, env.params()) {
        Ok(method) => Ok(ClientRequest { id, method }),
        Err(FieldError { field, reason }) => Err(Sv1Error::InvalidParams {
            id,
            method: method.to_owned(),
            field,
            reason,
        }),
    }
}

struct ClientParams<'a>(&'a ClientMethod);

fn empty_seq<S: Serializer>(s: S) -> Result<S::Ok, S::Error> {
    s.serialize_seq(Some(0))?.end()
}

impl Serialize for ClientParams<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            ClientMethod::Subscribe(sub) => match (&sub.user_agent, &sub.session_id) {
                (None, None) => empty_seq(s),
                (ua, None) => (ua,).serialize(s),
                (ua, Some(session)) => (ua, session).serialize(s),
            },
            ClientMethod::Authorize(a) => match &a.password {
                None => (&a.username,).serialize(s),
                Some(p) => (&a.username, p).serialize(s),
            },
            ClientMethod::Configure(c) => ConfigureParams(c).serialize(s),
            ClientMethod::ExtranonceSubscribe => empty_seq(s),
            ClientMethod::SuggestDifficulty { difficulty } => (Number(*difficulty),).serialize(s),
            ClientMethod::SuggestTarget { target } => (HexSlice(target),).serialize(s),
            ClientMethod::Submit(x) => {
                let head = (
                    &x.worker,
                    &x.job_id,
                    HexSlice(&x.extranonce2),
                    HexU32(x.ntime),
                    HexU32(x.nonce),
                );
                match x.version_bits {
                    None => head.serialize(s),
                    Some(v) => (head.0, head.1, head.2, head.3, head.4, HexU32(v)).serialize(s),
                }
            }
            ClientMethod::Other { params, .. } => match params {
                Value::Array(_) => params.serialize(s),
                Value::Null => empty_seq(s),
                single => (single,).serialize(s),
            },
        }
    }
}

impl Serialize for ClientRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("method", self.method.name())?;
        m.serialize_entry("params", &ClientParams(&self.method))?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{HexError, ParamError};
    use crate::OutgoingMessage;

    #[test]
    fn submit_with_and_without_version_bits() {
        let r = parse_client_line(
            r#"{"params": ["slush.miner1", "bf", "00000001", "504e86ed", "b2957c02"], "id": 4, "method": "mining.submit"}"#,
        )
        .unwrap();
        assert_eq!(r.id, Id::from(4u64));
        let ClientMethod::Submit(s) = &r.method else {
            panic!("{r:?}")
        };
        assert_eq!(s.worker, "slush.miner1");
        assert_eq!(s.job_id, "bf");
        assert_eq!(s.extranonce2, vec![0, 0, 0, 1]);
        assert_eq!(s.ntime, 0x504e86ed);
        assert_eq!(s.nonce, 0xb2957c02);
        assert_eq!(s.version_bits, None);
        assert_eq!(
            r.to_line().unwrap(),
            "{\"id\":4,\"method\":\"mining.submit\",\"params\":[\"slush.miner1\",\"bf\",\"00000001\",\"504e86ed\",\"b2957c02\"]}\n"
        );

        let r = parse_client_line(
            r#"{"id":5,"method":"mining.submit","params":["w","1","ab","504E86ED","B2957C02","1fffe000"]}"#,
        )
        .unwrap();
        let ClientMethod::Submit(s) = r.method else {
            panic!()
        };
        assert_eq!(s.version_bits, Some(0x1fffe000));
        assert_eq!(s.nonce, 0xb2957c02);

        let r = parse_client_line(
            r#"{"id":6,"method":"mining.submit","params":["w","1","ab","504e86ed","b2957c02",""]}"#,
        )
        .unwrap();
        assert!(matches!(
            r.method,
            ClientMethod::Submit(Submit {
                version_bits: None,
                ..
            })
        ));
    }

    #[test]
    fn submit_errors_name_the_field_and_keep_the_id() {
        let e = parse_client_line(
            r#"{"id":9,"method":"mining.submit","params":["w","1","abc","0","0"]}"#,
        )
        .unwrap_err();
        match e {
            Sv1Error::InvalidParams {
                id,
                method,
                field,
                reason,
            } => {
                assert_eq!(id, Id::from(9u64));
                assert_eq!(method, SUBMIT);
                assert_eq!(field, "extranonce2");
                assert_eq!(reason, ParamError::Hex(HexError::OddLength));
            }
            e => panic!("{e:?}"),
        }
        let e =
            parse_client_line(r#"{"id":9,"method":"mining.submit","params":["w","1","ab","0"]}"#)
                .unwrap_err();
        assert!(matches!(
            e,
            Sv1Error::InvalidParams {
                field: "nonce",
                reason: ParamError::Missing,
                ..
            }
        ));
        assert_eq!(e.request_id(), Some(&Id::from(9u64)));
    }

    #[test]
    fn subscribe_shapes() {
        let p = |l: &str| match parse_client_line(l).unwrap().method {
            ClientMethod::Subscribe(s) => s,
            m => panic!("{m:?}"),
        };
        assert_eq!(
            p(r#"{"id":1,"method":"mining.subscribe","params":[]}"#),
            Subscribe::default()
        );
        assert_eq!(
            p(r#"{"id":1,"method":"mining.subscribe"}"#),
            Subscribe::default()
        );
        let s = p(r#"{"id":1,"method":"mining.subscribe","params":["cgminer/4.11.1"]}"#);
        assert_eq!(s.user_agent.as_deref(), Some("cgminer/4.11.1"));
        let s = p(
            r#"{"id":1,"method":"mining.subscribe","params":["a/1","08000002","stratum.example.com","3333"]}"#,
        );
        assert_eq!(s.session_id.as_deref(), Some("08000002"));
        let s = p(r#"{"id":1,"method":"mining.subscribe","params":["a/1",null]}"#);
        assert_eq!(s.session_id, None);
    }

    #[test]
    fn authorize_and_difficulty_shapes() {
        let r = parse_client_line(r#"{"id":2,"method":"mining.authorize","params":[]}"#).unwrap();
        assert_eq!(r.method, ClientMethod::Authorize(Authorize::default()));
        let r =
            parse_client_line(r#"{"id":2,"method":"mining.authorize","params":["u.w"]}"#).unwrap();
        assert_eq!(
            r.method,
            ClientMethod::Authorize(Authorize {
                username: "u.w".into(),
                password: None
            })
        );
        let r =
            parse_client_line(r#"{"id":3,"method":"mining.suggest_difficulty","params":["2048"]}"#)
                .unwrap();
        assert_eq!(
            r.method,
            ClientMethod::SuggestDifficulty { difficulty: 2048.0 }
        );
        let r = parse_client_line(r#"{"id":3,"method":"mining.suggest_difficulty","params":0.5}"#)
            .unwrap();
        assert_eq!(
            r.method,
            ClientMethod::SuggestDifficulty { difficulty: 0.5 }
        );
        assert!(
            parse_client_line(r#"{"id":3,"method":"mining.suggest_difficulty","params":[]}"#)
                .is_err()
        );
        let r = parse_client_line(
            r#"{"id":3,"method":"mining.suggest_target","params":["00000000ffff0000000000000000000000000000000000000000000000000000"]}"#,
        )
        .unwrap();
        let ClientMethod::SuggestTarget { target } = r.method else {
            panic!()
        };
        assert_eq!(&target[..6], &[0, 0, 0, 0, 0xff, 0xff]);
    }

    #[test]
    fn unknown_methods_and_non_requests() {
        let r =
            parse_client_line(r#"{"id":7,"method":"mining.get_transactions","params":["abc"]}"#)
                .unwrap();
        assert_eq!(
            r.method,
            ClientMethod::Other {
                method: "mining.get_transactions".into(),
                params: serde_json::json!(["abc"])
            }
        );
        assert!(matches!(
            parse_client_line(r#"{"id":7,"result":"cgminer/4.11.1","error":null}"#),
            Err(Sv1Error::UnexpectedResponse { .. })
        ));
        assert!(matches!(
            parse_client_line(r#"{"id":7}"#),
            Err(Sv1Error::NotAMessage { .. })
        ));
        assert!(matches!(
            parse_client_line(r#"{"id":7,"method":3}"#),
            Err(Sv1Error::InvalidMethod { .. })
        ));
        assert!(matches!(
            parse_client_line("GET / HTTP/1.1"),
            Err(Sv1Error::NotAnObject)
        ));
    }

    #[test]
    fn serialize_shapes() {
        let line = |m: ClientMethod| ClientRequest::new(1u64, m).to_line().unwrap();
        assert_eq!(
            line(ClientMethod::Subscribe(Subscribe::default())),
            "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n"
        );
        assert_eq!(
            line(ClientMethod::Subscribe(Subscribe {
                user_agent: None,
                session_id: Some("ab".into())
            })),
            "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[null,\"ab\"]}\n"
        );
        assert_eq!(
            line(ClientMethod::SuggestDifficulty { difficulty: 512.0 }),
            "{\"id\":1,\"method\":\"mining.suggest_difficulty\",\"params\":[512]}\n"
        );
        assert_eq!(
            line(ClientMethod::Authorize(Authorize {
                username: "u".into(),
                password: Some("x".into())
            })),
            "{\"id\":1,\"method\":\"mining.authorize\",\"params\":[\"u\",\"x\"]}\n"
        );
    }
}
