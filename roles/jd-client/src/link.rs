//! An outgoing SV2 connection (to a pool or a job declarator server): TCP + Noise,
//! `SetupConnection`, then a reader task that forwards decoded messages as [`LinkEvent`]s and a
//! writer task fed by a bounded queue.

use std::time::Duration;

use bytes::BytesMut;
use sv2_codec::common::SetupConnection;
use sv2_codec::{CommonMessage, Frame, Message, Protocol};
use sv2_noise::secp256k1::XOnlyPublicKey;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Which upstream server a link talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// The pool (Mining protocol).
    Pool,
    /// The job declarator server (Job Declaration protocol).
    Jds,
}

/// Something that happened on a link.
#[derive(Debug)]
pub enum LinkEvent {
    /// A message arrived.
    Message {
        /// Epoch of the upstream the link belongs to.
        epoch: u64,
        /// Which server.
        peer: Peer,
        /// The message.
        msg: Message,
    },
    /// The link closed.
    Closed {
        /// Epoch of the upstream the link belongs to.
        epoch: u64,
        /// Which server.
        peer: Peer,
        /// Why.
        reason: String,
    },
}

/// Why a link could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// TCP connect failed or timed out.
    #[error("connect to {addr}: {detail}")]
    Connect {
        /// Address.
        addr: String,
        /// Error.
        detail: String,
    },
    /// Noise handshake failed (wrong authority key, bad certificate, timeout).
    #[error("handshake with {addr}: {detail}")]
    Handshake {
        /// Address.
        addr: String,
        /// Error.
        detail: String,
    },
    /// `SetupConnection` was refused or not answered.
    #[error("setup with {addr}: {detail}")]
    Setup {
        /// Address.
        addr: String,
        /// Error.
        detail: String,
    },
}

/// Queue depth of a link's writer.
const OUTBOX: usize = 1024;

/// A set-up connection. Dropping it stops both tasks (closing the connection).
#[derive(Debug)]
pub struct Link {
    tx: mpsc::Sender<Message>,
    tasks: [JoinHandle<()>; 2],
}

impl Link {
    /// Queues a message; false if the queue is full or the link is gone.
    pub fn send(&self, msg: impl Into<Message>) -> bool {
        self.tx.try_send(msg.into()).is_ok()
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The `SetupConnection` this client sends.
pub fn setup_message(protocol: Protocol, flags: u32, addr: &str) -> SetupConnection {
    let (host, port) = addr.rsplit_once(':').unwrap_or((addr, "0"));
    SetupConnection {
        protocol,
        min_version: 2,
        max_version: 2,
        flags,
        endpoint_host: host.chars().take(255).collect(),
        endpoint_port: port.parse().unwrap_or(0),
        vendor: "sv2-jd-client".into(),
        hardware_version: String::new(),
        firmware: env!("CARGO_PKG_VERSION").into(),
        device_id: String::new(),
    }
}

/// Connects, completes the handshake and `SetupConnection`, and starts the link's tasks.
pub async fn connect(
    addr: &str,
    authority: XOnlyPublicKey,
    peer: Peer,
    setup_flags: u32,
    epoch: u64,
    timeout: Duration,
    events: mpsc::Sender<LinkEvent>,
) -> Result<Link, LinkError> {
    let protocol = match peer {
        Peer::Pool => Protocol::Mining,
        Peer::Jds => Protocol::JobDeclaration,
    };
    let tcp = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| LinkError::Connect {
            addr: addr.to_owned(),
            detail: "timed out".into(),
        })?
        .map_err(|e| LinkError::Connect {
            addr: addr.to_owned(),
            detail: e.to_string(),
        })?;
    let _ = tcp.set_nodelay(true);
    let conn = sv2_noise::connect(tcp, authority, timeout)
        .await
        .map_err(|e| LinkError::Handshake {
            addr: addr.to_owned(),
            detail: e.to_string(),
        })?;
    let (mut reader, mut writer) = conn.into_split();
    reader.set_max_payload_len(sv2_codec::MAX_PAYLOAD_LEN);
    let setup_err = |detail: String| LinkError::Setup {
        addr: addr.to_owned(),
        detail,
    };
    let mut buf = BytesMut::new();
    Message::from(setup_message(protocol, setup_flags, addr))
        .encode_frame(&mut buf)
        .map_err(|e| setup_err(e.to_string()))?;
    writer
        .send(&buf[..])
        .await
        .map_err(|e| setup_err(e.to_string()))?;
    let reply = tokio::time::timeout(timeout, reader.recv())
        .await
        .map_err(|_| setup_err("no answer".into()))?
        .map_err(|e| setup_err(e.to_string()))?
        .ok_or_else(|| setup_err("closed".into()))?;
    let frame = Frame::from_bytes(reply).map_err(|e| setup_err(e.to_string()))?;
    match Message::from_frame(protocol, &frame) {
        Ok(Message::Common(CommonMessage::SetupConnectionSuccess(_))) => {}
        Ok(Message::Common(CommonMessage::SetupConnectionError(e))) => {
            return Err(setup_err(format!(
                "refused: {} (flags {:#x})",
                e.error_code, e.flags
            )))
        }
        Ok(other) => return Err(setup_err(format!("unexpected {}", other.name()))),
        Err(e) => return Err(setup_err(e.to_string())),
    }

    let (tx, mut rx) = mpsc::channel::<Message>(OUTBOX);
    let closed = events.clone();
    let reader_task = tokio::spawn(async move {
        let reason = loop {
            let bytes = match reader.recv().await {
                Ok(Some(b)) => b,
                Ok(None) => break "closed by peer".to_owned(),
                Err(e) => break e.to_string(),
            };
            let msg = match Frame::from_bytes(bytes)
                .map_err(|e| e.to_string())
                .and_then(|f| Message::from_frame(protocol, &f).map_err(|e| e.to_string()))
            {
                Ok(m) => m,
                Err(e) => break format!("bad frame: {e}"),
            };
            if events
                .send(LinkEvent::Message { epoch, peer, msg })
                .await
                .is_err()
            {
                return;
            }
        };
        let _ = closed
            .send(LinkEvent::Closed {
                epoch,
                peer,
                reason,
            })
            .await;
    });
    let writer_task = tokio::spawn(async move {
        let mut buf = BytesMut::new();
        while let Some(m) = rx.recv().await {
            buf.clear();
            if let Err(e) = m.encode_frame(&mut buf) {
                tracing::error!(error = %e, message = m.name(), "cannot encode a message");
                continue;
            }
            if writer.send(&buf[..]).await.is_err() {
                return;
            }
        }
    });
    Ok(Link {
        tx,
        tasks: [reader_task, writer_task],
    })
}
