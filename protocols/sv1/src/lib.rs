//! Stratum V1: typed JSON-RPC messages, a tolerant parser for what real
//! firmware sends, hex helpers, and `tokio_util` line codecs.
//!
//! Sans-IO: nothing here touches sockets. A pool or translator parses miner
//! lines with [`parse_client_line`] (or frames a stream with
//! [`Sv1ServerCodec`]) and answers with [`Response`] / [`Notification`]; a
//! miner or emulator does the reverse with [`parse_server_line`] /
//! [`Sv1ClientCodec`] and [`ClientRequest`].
//!
//! ```
//! use sv1::{parse_client_line, ClientMethod, OutgoingMessage, Response};
//!
//! let req = parse_client_line(
//!     r#"{"params": ["acct.rig1", "x"], "id": 2, "method": "mining.authorize"}"#,
//! ).unwrap();
//! let ClientMethod::Authorize(auth) = &req.method else { unreachable!() };
//! assert_eq!(auth.username, "acct.rig1");
//! let reply = Response::bool(req.id.clone(), true);
//! assert_eq!(reply.to_line().unwrap(), "{\"id\":2,\"result\":true,\"error\":null}\n");
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod client;
mod codec;
mod configure;
pub mod encoding;
mod error;
mod id;
mod json;
mod params;
mod serialize;
mod server;
mod stratum_error;

pub use client::{
    parse_client_line, Authorize, ClientMethod, ClientRequest, Submit, Subscribe, AUTHORIZE,
    CONFIGURE, EXTRANONCE_SUBSCRIBE, SUBMIT, SUBSCRIBE, SUGGEST_DIFFICULTY, SUGGEST_TARGET,
};
pub use codec::{Sv1ClientCodec, Sv1LineCodec, Sv1ServerCodec, DEFAULT_MAX_LINE_LEN};
pub use configure::{
    Configure, ConfigureExtension, ConfigureResult, MINIMUM_DIFFICULTY, SUBSCRIBE_EXTRANONCE,
    VERSION_ROLLING,
};
pub use encoding::{HexSlice, HexU32, PrevHash};
pub use error::{HexError, ParamError, Sv1Error};
pub use id::Id;
pub use serialize::OutgoingMessage;
pub use server::{
    parse_server_line, Notification, Notify, Reconnect, Response, ResponseResult, ServerMessage,
    SubscribeResult, MAX_EXTRANONCE2_SIZE, NOTIFY, RECONNECT, SET_DIFFICULTY, SET_EXTRANONCE,
    SET_VERSION_MASK, SHOW_MESSAGE,
};
pub use stratum_error::{ErrorCode, StratumError};
