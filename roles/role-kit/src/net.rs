//! The SV2 listener side of a role: Noise server keys from the config's authority keys,
//! binding the listening socket, writing a batch of messages to a Noise connection.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use sv2_codec::Message;
use sv2_noise::{NoiseWriter, ServerKeys};
use tokio::io::AsyncWrite;
use tokio::net::TcpListener;

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
