//! Tokio adapters: run the handshake over a socket, then exchange encrypted SV2 frames.
//!
//! [`connect`] / [`accept`] take a `TcpStream` (TCP_NODELAY is switched on: SV2 messages are
//! small and latency-sensitive); [`connect_with`] / [`accept_with`] take any pair of
//! `AsyncRead`/`AsyncWrite` halves (in-memory pipes in tests, for instance). The returned
//! [`NoiseConnection`] offers `recv`/`send`, or splits into a [`NoiseReader`] (a `Stream` of
//! plaintext frames) and a [`NoiseWriter`] (a `Sink` of plaintext frames) that can live in
//! different tasks. Frames are `bytes::Bytes` holding the 6-byte SV2 header and the payload.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bitcoin::secp256k1::XOnlyPublicKey;
use bytes::Bytes;
use futures::{Sink, SinkExt, Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::error::NoiseError;
use crate::frame::{FrameDecryptor, FrameEncryptor, FrameError};
use crate::initiator::Initiator;
use crate::keys::ServerKeys;
use crate::responder::Responder;
use crate::transport::Transport;
use crate::{ACT1_SIZE, ACT2_SIZE};

/// Current unix time in seconds, saturated to `u32` (the certificate field width).
pub fn unix_now() -> u32 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    u32::try_from(secs).unwrap_or(u32::MAX)
}

/// Client side: handshakes over `tcp`, accepting only a server certified by `authority`.
/// The whole handshake must finish within `timeout`.
pub async fn connect(
    tcp: TcpStream,
    authority: XOnlyPublicKey,
    timeout: Duration,
) -> Result<NoiseConnection, NoiseError> {
    tcp.set_nodelay(true)?;
    let (r, w) = tcp.into_split();
    connect_with(r, w, authority, timeout).await
}

/// Server side: handshakes over `tcp` with the given static key and certificate source.
/// The whole handshake must finish within `timeout`.
pub async fn accept(
    tcp: TcpStream,
    keys: &ServerKeys,
    timeout: Duration,
) -> Result<NoiseConnection, NoiseError> {
    tcp.set_nodelay(true)?;
    let (r, w) = tcp.into_split();
    accept_with(r, w, keys, timeout).await
}

/// [`connect`] over arbitrary read/write halves.
pub async fn connect_with<R, W>(
    mut reader: R,
    mut writer: W,
    authority: XOnlyPublicKey,
    timeout: Duration,
) -> Result<NoiseConnection<R, W>, NoiseError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let handshake = async {
        let mut initiator = Initiator::new(authority);
        let act1 = initiator.step_0()?;
        writer.write_all(&act1).await?;
        writer.flush().await?;
        let mut act2 = [0u8; ACT2_SIZE];
        reader.read_exact(&mut act2).await?;
        Ok::<_, NoiseError>(initiator.step_2(&act2, unix_now())?)
    };
    let transport = tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| NoiseError::Timeout)??;
    Ok(NoiseConnection::new(reader, writer, transport))
}

/// [`accept`] over arbitrary read/write halves.
pub async fn accept_with<R, W>(
    mut reader: R,
    mut writer: W,
    keys: &ServerKeys,
    timeout: Duration,
) -> Result<NoiseConnection<R, W>, NoiseError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let handshake = async {
        let mut act1 = [0u8; ACT1_SIZE];
        reader.read_exact(&mut act1).await?;
        let (act2, transport) = Responder::new(keys).step_1(&act1, unix_now())?;
        writer.write_all(&act2).await?;
        writer.flush().await?;
        Ok::<_, NoiseError>(transport)
    };
    let transport = tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| NoiseError::Timeout)??;
    Ok(NoiseConnection::new(reader, writer, transport))
}

fn frame_to_noise(e: FrameError) -> NoiseError {
    match e {
        FrameError::Io(io) => NoiseError::Io(io),
        other => NoiseError::Frame(other),
    }
}

/// An established encrypted connection.
#[derive(Debug)]
pub struct NoiseConnection<R = OwnedReadHalf, W = OwnedWriteHalf> {
    reader: NoiseReader<R>,
    writer: NoiseWriter<W>,
    handshake_hash: [u8; 32],
    remote_static: Option<XOnlyPublicKey>,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> NoiseConnection<R, W> {
    /// Wraps socket halves and a completed handshake's [`Transport`].
    pub fn new(reader: R, writer: W, transport: Transport) -> Self {
        let handshake_hash = *transport.handshake_hash();
        let remote_static = transport.remote_static_key();
        let (enc, dec) = transport.split();
        Self {
            reader: NoiseReader {
                inner: FramedRead::new(reader, dec),
            },
            writer: NoiseWriter {
                inner: FramedWrite::new(writer, enc),
            },
            handshake_hash,
            remote_static,
        }
    }

    /// Receives the next plaintext frame; `Ok(None)` when the peer closed cleanly between
    /// frames.
    pub async fn recv(&mut self) -> Result<Option<Bytes>, NoiseError> {
        self.reader.recv().await
    }

    /// Encrypts and sends one plaintext frame (header + payload), flushing it.
    pub async fn send<T: AsRef<[u8]>>(&mut self, frame: T) -> Result<(), NoiseError> {
        self.writer.send(frame).await
    }

    /// Limits the payload size accepted from the peer.
    pub fn set_max_payload_len(&mut self, max: usize) {
        self.reader.set_max_payload_len(max);
    }

    /// The final handshake hash (same value on both ends).
    pub fn handshake_hash(&self) -> &[u8; 32] {
        &self.handshake_hash
    }

    /// The server's certified static key (client side only).
    pub fn remote_static_key(&self) -> Option<XOnlyPublicKey> {
        self.remote_static
    }

    /// Splits into halves usable from different tasks.
    pub fn into_split(self) -> (NoiseReader<R>, NoiseWriter<W>) {
        (self.reader, self.writer)
    }
}

/// Receiving half: a `Stream` of decrypted frames (header + payload).
#[derive(Debug)]
pub struct NoiseReader<R> {
    inner: FramedRead<R, FrameDecryptor>,
}

impl<R: AsyncRead + Unpin> NoiseReader<R> {
    /// Receives the next frame; `Ok(None)` on clean end of stream. A stream truncated inside
    /// a frame yields an I/O error.
    pub async fn recv(&mut self) -> Result<Option<Bytes>, NoiseError> {
        self.inner.next().await.transpose().map_err(frame_to_noise)
    }

    /// Limits the payload size accepted from the peer.
    pub fn set_max_payload_len(&mut self, max: usize) {
        self.inner.decoder_mut().set_max_payload_len(max);
    }
}

impl<R: AsyncRead + Unpin> Stream for NoiseReader<R> {
    type Item = Result<Bytes, NoiseError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.inner)
            .poll_next(cx)
            .map(|o| o.map(|r| r.map_err(frame_to_noise)))
    }
}

/// Sending half: a `Sink` of plaintext frames (header + payload).
#[derive(Debug)]
pub struct NoiseWriter<W> {
    inner: FramedWrite<W, FrameEncryptor>,
}

impl<W: AsyncWrite + Unpin> NoiseWriter<W> {
    /// Encrypts and sends one frame, flushing it to the socket.
    pub async fn send<T: AsRef<[u8]>>(&mut self, frame: T) -> Result<(), NoiseError> {
        SinkExt::send(&mut self.inner, frame)
            .await
            .map_err(frame_to_noise)
    }

    /// Encrypts one frame into the write buffer without flushing (batching); call
    /// [`Self::flush`] afterwards. The buffer is flushed automatically when it grows large.
    pub async fn feed<T: AsRef<[u8]>>(&mut self, frame: T) -> Result<(), NoiseError> {
        SinkExt::feed(&mut self.inner, frame)
            .await
            .map_err(frame_to_noise)
    }

    /// Flushes buffered frames.
    pub async fn flush(&mut self) -> Result<(), NoiseError> {
        SinkExt::<&[u8]>::flush(&mut self.inner)
            .await
            .map_err(frame_to_noise)
    }

    /// Flushes and shuts down the write side of the socket.
    pub async fn close(&mut self) -> Result<(), NoiseError> {
        SinkExt::<&[u8]>::close(&mut self.inner)
            .await
            .map_err(frame_to_noise)
    }
}

impl<W: AsyncWrite + Unpin, T: AsRef<[u8]>> Sink<T> for NoiseWriter<W> {
    type Error = NoiseError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), NoiseError>> {
        Sink::<T>::poll_ready(Pin::new(&mut self.inner), cx).map_err(frame_to_noise)
    }

    fn start_send(mut self: Pin<&mut Self>, item: T) -> Result<(), NoiseError> {
        Pin::new(&mut self.inner)
            .start_send(item)
            .map_err(frame_to_noise)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), NoiseError>> {
        Sink::<T>::poll_flush(Pin::new(&mut self.inner), cx).map_err(frame_to_noise)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), NoiseError>> {
        Sink::<T>::poll_close(Pin::new(&mut self.inner), cx).map_err(frame_to_noise)
    }
}
