//! TCP listener and per-connection tasks: Noise handshake, `SetupConnection` for the Job
//! Declaration protocol, then the [`Session`] driven by frames and deadlines.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use sv2_codec::common::{error_codes, SetupConnectionError, SetupConnectionSuccess};
use sv2_codec::{Frame, Message, Protocol};
use sv2_noise::ServerKeys;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::session::{Context, JdsStats, Session};

/// Why a connection ended.
pub use role_kit::net::ConnError;

struct Slot(Arc<AtomicU32>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
        metrics::gauge!("jds_connections").decrement(1.0);
    }
}

/// Accepts connections until `shutdown` turns true; open connections close then too.
pub async fn serve(
    listener: TcpListener,
    ctx: Arc<Context>,
    keys: Arc<ServerKeys>,
    mut shutdown: watch::Receiver<bool>,
) {
    let live = Arc::new(AtomicU32::new(0));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (tcp, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if live.load(Ordering::Relaxed) >= ctx.cfg.limits.max_connections {
            metrics::counter!("jds_connections_refused_total").increment(1);
            continue;
        }
        live.fetch_add(1, Ordering::Relaxed);
        metrics::gauge!("jds_connections").increment(1.0);
        let slot = Slot(live.clone());
        let (ctx, keys, stop) = (ctx.clone(), keys.clone(), shutdown.clone());
        tokio::spawn(async move {
            let _slot = slot;
            match handle(tcp, peer, ctx, keys, stop).await {
                Ok(()) => tracing::debug!(%peer, "connection closed"),
                Err(e) => tracing::info!(%peer, error = %e, "connection closed"),
            }
        });
    }
}

async fn send<W: tokio::io::AsyncWrite + Unpin>(
    writer: &mut sv2_noise::NoiseWriter<W>,
    msgs: &mut Vec<Message>,
    buf: &mut BytesMut,
) -> Result<(), ConnError> {
    Ok(role_kit::net::send_all(writer, msgs, buf).await?)
}

async fn handle(
    tcp: TcpStream,
    peer: SocketAddr,
    ctx: Arc<Context>,
    keys: Arc<ServerKeys>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), ConnError> {
    let _ = tcp.set_nodelay(true);
    let limits = &ctx.cfg.limits;
    let conn = sv2_noise::accept(
        tcp,
        &keys,
        Duration::from_secs(limits.handshake_timeout_secs),
    )
    .await
    .map_err(|e| ConnError::Handshake(e.to_string()))?;
    let (mut reader, mut writer) = conn.into_split();
    reader.set_max_payload_len(limits.max_frame_bytes);
    let mut buf = BytesMut::with_capacity(1024);

    let setup = role_kit::net::read_setup(
        &mut reader,
        Duration::from_secs(limits.setup_timeout_secs),
        Protocol::JobDeclaration,
    )
    .await?;
    let refusal = if setup.protocol != Protocol::JobDeclaration {
        Some(error_codes::UNSUPPORTED_PROTOCOL)
    } else if setup.negotiate_version(2, 2).is_none() {
        Some(error_codes::PROTOCOL_VERSION_MISMATCH)
    } else {
        None
    };
    if let Some(code) = refusal {
        let mut out = vec![Message::from(SetupConnectionError {
            flags: 0,
            error_code: code.to_owned(),
        })];
        let _ = send(&mut writer, &mut out, &mut buf).await;
        return Err(ConnError::SetupRefused(code));
    }
    let mut out = vec![Message::from(SetupConnectionSuccess {
        used_version: 2,
        flags: 0,
    })];
    send(&mut writer, &mut out, &mut buf).await?;
    JdsStats::bump(&ctx.stats.connections);
    tracing::info!(%peer, vendor = %setup.vendor, flags = setup.flags, "job declarator client connected");

    let mut session = Session::new(ctx.clone());
    loop {
        let deadline = session.next_deadline();
        let timer = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            frame = reader.recv() => {
                let bytes = match frame {
                    Ok(Some(b)) => b,
                    Ok(None) => return Ok(()),
                    Err(e) => return Err(ConnError::Transport(e.to_string())),
                };
                let frame = Frame::from_bytes(bytes).map_err(|e| ConnError::Codec(e.to_string()))?;
                let msg = match Message::from_frame(Protocol::JobDeclaration, &frame) {
                    Ok(Message::JobDeclaration(m)) => m,
                    Ok(other) => return Err(ConnError::Closed(format!("unexpected {}", other.name()))),
                    Err(e) => return Err(ConnError::Codec(e.to_string())),
                };
                let result = session.on_message(msg, &mut out).await;
                send(&mut writer, &mut out, &mut buf).await?;
                result.map_err(ConnError::Closed)?;
            }
            () = timer => {
                session.on_timeout(std::time::Instant::now(), &mut out);
                send(&mut writer, &mut out, &mut buf).await?;
            }
            _ = stop.changed() => return Ok(()),
        }
    }
}
