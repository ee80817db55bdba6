//! The SV2 listener side of a role: Noise server keys from the config's authority keys,
//! binding the listening socket, writing a batch of messages to a Noise connection.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use sv2_codec::common::SetupConnection;
use sv2_codec::{CommonMessage, Frame, Message, Protocol};
use sv2_noise::{NoiseReader, NoiseWriter, ServerKeys};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

/// Declares the section of a role's SV2 listener (`[server]`, `[downstream]`): `listen`, the
/// authority key pair its Noise certificates are signed with and `cert_validity_secs`
/// (default [`defaults::cert_validity_secs`](crate::defaults::cert_validity_secs)), followed
/// by the role's own fields, with `#[serde(deny_unknown_fields)]`. The calling crate must
/// depend on `serde` and name this crate `role_kit`. A macro for the reasons given at
/// [`bitcoind_section!`](crate::bitcoind_section).
#[macro_export]
macro_rules! listener_section {
    ($(#[$attr:meta])* $vis:vis struct $name:ident { $($fields:tt)* }) => {
        $(#[$attr])*
        #[derive(Debug, Clone, ::serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        $vis struct $name {
            /// SV2 listening address, `ip:port`.
            pub listen: ::std::net::SocketAddr,
            /// Authority public key (base58check, as printed by `sv2-keys authority`); clients
            /// pin it.
            pub authority_public_key: ::std::string::String,
            /// Authority secret key (base58check); each certificate is signed with it.
            pub authority_secret_key: ::std::string::String,
            /// Validity of the certificate presented to each client, seconds.
            #[serde(default = "role_kit::defaults::cert_validity_secs")]
            pub cert_validity_secs: u64,
            $($fields)*
        }
    };
}

/// Noise server keys signed by the authority of `section`'s `authority_public_key` and
/// `authority_secret_key`; certificates are valid `cert_validity_secs`. The error is a
/// ``config keys `...`: ... Fix: ...`` text.
pub fn server_keys(
    section: &str,
    public: &str,
    secret: &str,
    cert_validity_secs: u64,
) -> Result<ServerKeys, String> {
    let authority = sv2_noise::decode_authority_keypair(public, secret).map_err(|e| {
        format!(
            "config keys `{section}.authority_public_key` / `{section}.authority_secret_key`: {e}. Fix: generate a pair with `sv2-keys authority`"
        )
    })?;
    Ok(ServerKeys::from_authority(
        authority,
        Duration::from_secs(cert_validity_secs),
    ))
}

/// The listening socket could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {detail}")]
pub struct ListenError {
    /// Address asked for.
    pub addr: SocketAddr,
    /// The OS error.
    pub detail: String,
}

/// Binds `addr`; returns the listener and the address it is bound to (the port chosen for
/// port 0).
pub async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), ListenError> {
    let err = |e: std::io::Error| ListenError {
        addr,
        detail: e.to_string(),
    };
    let listener = TcpListener::bind(addr).await.map_err(err)?;
    let local = listener.local_addr().map_err(err)?;
    Ok((listener, local))
}

/// Why a batch of messages could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// A message could not be encoded.
    #[error("encode: {0}")]
    Codec(String),
    /// The connection failed.
    #[error("transport: {0}")]
    Transport(String),
}

/// Why a connection of an SV2 server (pool, job declarator server) ended.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// Handshake failed or timed out.
    #[error("handshake: {0}")]
    Handshake(String),
    /// No SetupConnection in time.
    #[error("no SetupConnection within the setup timeout")]
    SetupTimeout,
    /// The client asked for something the server does not serve.
    #[error("setup refused: {0}")]
    SetupRefused(&'static str),
    /// Transport error.
    #[error("transport: {0}")]
    Transport(String),
    /// Undecodable frame.
    #[error("bad frame: {0}")]
    Codec(String),
    /// The server decided to close (limits, protocol violation).
    #[error("closed by server: {0}")]
    Closed(String),
}

impl From<SendError> for ConnError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Codec(d) => ConnError::Codec(d),
            SendError::Transport(d) => ConnError::Transport(d),
        }
    }
}

/// Reads a client's first frame, which must arrive within `timeout` and be a
/// `SetupConnection` (decoded with `protocol`'s message set); anything else is
/// [`ConnError::SetupRefused`].
pub async fn read_setup<R: AsyncRead + Unpin>(
    reader: &mut NoiseReader<R>,
    timeout: Duration,
    protocol: Protocol,
) -> Result<SetupConnection, ConnError> {
    let first = tokio::time::timeout(timeout, reader.recv())
        .await
        .map_err(|_| ConnError::SetupTimeout)?
        .map_err(|e| ConnError::Transport(e.to_string()))?
        .ok_or(ConnError::SetupTimeout)?;
    let frame = Frame::from_bytes(first).map_err(|e| ConnError::Codec(e.to_string()))?;
    match Message::from_frame(protocol, &frame) {
        Ok(Message::Common(CommonMessage::SetupConnection(s))) => Ok(s),
        Ok(_) | Err(_) => Err(ConnError::SetupRefused(
            "first message is not SetupConnection",
        )),
    }
}

/// Encodes every message of `msgs` (emptying it) into `buf` frame by frame, feeds the frames
/// to `writer` and flushes once.
pub async fn send_all<W: AsyncWrite + Unpin>(
    writer: &mut NoiseWriter<W>,
    msgs: &mut Vec<Message>,
    buf: &mut BytesMut,
) -> Result<(), SendError> {
    for m in msgs.drain(..) {
        buf.clear();
        m.encode_frame(buf)
            .map_err(|e| SendError::Codec(e.to_string()))?;
        writer
            .feed(&buf[..])
            .await
            .map_err(|e| SendError::Transport(e.to_string()))?;
    }
    writer
        .flush()
        .await
        .map_err(|e| SendError::Transport(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::listener_section! {
        /// A section with one role field.
        struct Server {
            /// Tag.
            #[serde(default)]
            tag: String,
        }
    }

    #[test]
    fn listener_section_keys_and_defaults() {
        let s: Server = toml::from_str(
            "listen = \"127.0.0.1:1\"\nauthority_public_key = \"p\"\nauthority_secret_key = \"s\"",
        )
        .unwrap();
        assert_eq!(s.cert_validity_secs, 3600);
        assert_eq!((s.listen.port(), s.tag.as_str()), (1, ""));
        assert_eq!(
            (
                s.authority_public_key.as_str(),
                s.authority_secret_key.as_str()
            ),
            ("p", "s")
        );
        let e = toml::from_str::<Server>("listen = \"127.0.0.1:1\"\nbogus = 1").unwrap_err();
        assert!(
            e.message().ends_with(
                "expected one of `listen`, `authority_public_key`, `authority_secret_key`, `cert_validity_secs`, `tag`"
            ),
            "{}",
            e.message()
        );
    }

    #[test]
    fn bad_authority_keys_name_both_keys() {
        let Err(e) = server_keys("server", "x", "y", 60) else {
            panic!("bad keys accepted")
        };
        assert!(
            e.starts_with(
                "config keys `server.authority_public_key` / `server.authority_secret_key`:"
            ),
            "{e}"
        );
        assert!(
            e.ends_with("Fix: generate a pair with `sv2-keys authority`"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn bind_reports_the_bound_port() {
        let (_l, local) = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        assert_ne!(local.port(), 0);
        let e = bind(local).await.expect_err("port taken");
        assert!(e
            .to_string()
            .starts_with(&format!("cannot listen on {local}:")));
    }
}
