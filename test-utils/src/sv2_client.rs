//! A raw SV2 peer over the real Noise transport for the roles' end-to-end tests: send any
//! message, receive and decode the next one. `send`/`recv` and the helpers panic on failure
//! (this is test code); `try_send`/`try_recv`/`next_message` return errors for peers that must
//! outlive a broken connection (the stand-in's template provider, crash tests).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use sv2_codec::common::{SetupConnection, SetupConnectionSuccess};
use sv2_codec::mining::{
    NewMiningJob, OpenExtendedMiningChannel, OpenExtendedMiningChannelSuccess,
    OpenStandardMiningChannel, OpenStandardMiningChannelSuccess, SetNewPrevHash,
};
use sv2_codec::{CommonMessage, Frame, Message, MiningMessage, Protocol};
use sv2_noise::secp256k1::XOnlyPublicKey;
use tokio::net::TcpStream;

/// How long [`Client::recv`] waits before failing the test (a hang guard, not a speed check).
const RECV_WAIT: Duration = Duration::from_secs(20);

/// A raw SV2 client speaking one subprotocol.
pub struct Client {
    /// The Noise connection, for tests that write or read raw frames.
    pub conn: sv2_noise::NoiseConnection,
    protocol: Protocol,
    buf: BytesMut,
}

impl Client {
    /// Wraps an established Noise connection (either side) speaking `protocol`.
    pub fn from_connection(conn: sv2_noise::NoiseConnection, protocol: Protocol) -> Client {
        Client {
            conn,
            protocol,
            buf: BytesMut::new(),
        }
    }

    /// Connects to `addr` and completes the Noise handshake against `key`.
    pub async fn connect_only(addr: SocketAddr, key: XOnlyPublicKey, protocol: Protocol) -> Client {
        let tcp = TcpStream::connect(addr).await.expect("tcp");
        let conn = sv2_noise::connect(tcp, key, Duration::from_secs(5))
            .await
            .expect("handshake");
        Client::from_connection(conn, protocol)
    }

    /// Connects, completes the handshake and a SetupConnection with `flags` (expects
    /// success).
    pub async fn connect(
        addr: SocketAddr,
        key: XOnlyPublicKey,
        protocol: Protocol,
        flags: u32,
    ) -> Client {
        let mut c = Client::connect_only(addr, key, protocol).await;
        c.setup(flags).await;
        c
    }

    /// Sends [`setup_connection`] for this client's protocol with `flags`; expects
    /// SetupConnection.Success with version 2.
    pub async fn setup(&mut self, flags: u32) -> SetupConnectionSuccess {
        self.send(setup_connection(self.protocol, flags)).await;
        match self.recv().await {
            Message::Common(CommonMessage::SetupConnectionSuccess(s)) => {
                assert_eq!(s.used_version, 2);
                s
            }
            other => panic!("expected SetupConnection.Success, got {other:?}"),
        }
    }

    /// Sends a message.
    pub async fn send(&mut self, m: impl Into<Message>) {
        if let Err(e) = self.try_send(m).await {
            panic!("{e}");
        }
    }

    /// Sends a message; the error says whether encoding or sending failed.
    pub async fn try_send(&mut self, m: impl Into<Message>) -> Result<(), String> {
        self.buf.clear();
        m.into()
            .encode_frame(&mut self.buf)
            .map_err(|e| format!("encode: {e}"))?;
        self.conn
            .send(&self.buf[..])
            .await
            .map_err(|e| format!("send: {e}"))
    }

    /// Next message (panics after 20 s or when the connection ends).
    pub async fn recv(&mut self) -> Message {
        match self.try_recv(RECV_WAIT).await {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        }
    }

    /// Next message within `wait`; an error when none comes, the connection ends or the
    /// frame does not decode.
    pub async fn try_recv(&mut self, wait: Duration) -> Result<Message, String> {
        tokio::time::timeout(wait, self.next_message())
            .await
            .map_err(|_| format!("no message within {wait:?}"))??
            .ok_or_else(|| "connection closed".to_owned())
    }

    /// Next message, however long it takes; `None` when the peer closed the connection.
    pub async fn next_message(&mut self) -> Result<Option<Message>, String> {
        let Some(bytes) = self
            .conn
            .recv()
            .await
            .map_err(|e| format!("transport: {e}"))?
        else {
            return Ok(None);
        };
        let frame = Frame::from_bytes(bytes).map_err(|e| format!("frame: {e}"))?;
        Message::from_frame(self.protocol, &frame)
            .map(Some)
            .map_err(|e| format!("decode: {e}"))
    }

    /// Next message that `f` accepts, skipping others.
    pub async fn recv_until<T>(&mut self, mut f: impl FnMut(Message) -> Option<T>) -> T {
        loop {
            if let Some(t) = f(self.recv().await) {
                return t;
            }
        }
    }

    /// Opens a standard channel (request id 1, no maximum target) for `identity` and returns
    /// the success; panics with the error code if the pool refuses.
    pub async fn open_standard(
        &mut self,
        identity: &str,
        nominal_hash_rate: f32,
    ) -> OpenStandardMiningChannelSuccess {
        self.send(OpenStandardMiningChannel {
            request_id: 1,
            user_identity: identity.into(),
            nominal_hash_rate,
            max_target: [0xff; 32],
        })
        .await;
        self.recv_until(|m| match m {
            Message::Mining(MiningMessage::OpenStandardMiningChannelSuccess(s)) => Some(s),
            Message::Mining(MiningMessage::OpenMiningChannelError(e)) => {
                panic!("standard channel refused: {}", e.error_code)
            }
            _ => None,
        })
        .await
    }

    /// Opens an extended channel (request id 1, no maximum target) for `identity` and returns
    /// the success; panics with the error code if the pool refuses.
    pub async fn open_extended(
        &mut self,
        identity: &str,
        min_extranonce_size: u16,
    ) -> OpenExtendedMiningChannelSuccess {
        self.send(OpenExtendedMiningChannel {
            request_id: 1,
            user_identity: identity.into(),
            nominal_hash_rate: 0.0,
            max_target: [0xff; 32],
            min_extranonce_size,
        })
        .await;
        self.recv_until(|m| match m {
            Message::Mining(MiningMessage::OpenExtendedMiningChannelSuccess(s)) => Some(s),
            Message::Mining(MiningMessage::OpenMiningChannelError(e)) => {
                panic!("extended channel refused: {}", e.error_code)
            }
            _ => None,
        })
        .await
    }

    /// Reads until a standard job and the SetNewPrevHash that activates it have arrived
    /// (a new tip: future job first, then the prev hash naming it).
    pub async fn next_standard_job(&mut self) -> (NewMiningJob, SetNewPrevHash) {
        let mut job = None;
        loop {
            match self.recv().await {
                Message::Mining(MiningMessage::NewMiningJob(j)) => job = Some(j),
                Message::Mining(MiningMessage::SetNewPrevHash(p)) => {
                    let j = job.take().expect("a job before its prev hash");
                    assert_eq!(p.job_id, j.job_id, "the prev hash names the last job");
                    return (j, p);
                }
                _ => {}
            }
        }
    }

    /// Whether the peer closed the connection within `within`.
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        match tokio::time::timeout(within, self.conn.recv()).await {
            Ok(Ok(None)) | Ok(Err(_)) => true,
            Ok(Ok(Some(_))) | Err(_) => false,
        }
    }
}

/// A SetupConnection (version 2 only) for `protocol` with `flags`, from a CPU test device.
pub fn setup_connection(protocol: Protocol, flags: u32) -> SetupConnection {
    SetupConnection {
        protocol,
        min_version: 2,
        max_version: 2,
        flags,
        endpoint_host: "127.0.0.1".into(),
        endpoint_port: 0,
        vendor: "e2e".into(),
        hardware_version: "cpu".into(),
        firmware: "test".into(),
        device_id: "t1".into(),
    }
}
