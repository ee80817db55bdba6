//! The SV2 miner's IO: connection setup, the message loop, share submission, reconnection.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use sv2_codec::bytes::{Bytes, BytesMut};
use sv2_codec::common::mining_flags::{
    SUCCESS_REQUIRES_EXTENDED_CHANNELS, SUCCESS_REQUIRES_FIXED_VERSION,
};
use sv2_codec::common::SetupConnection;
use sv2_codec::{CodecError, CommonMessage, Frame, Message, Protocol};
use sv2_noise::{NoiseReader, NoiseWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

use super::channels::{Channels, Effect, JobTag, OpenParams, Submission};
use super::{ChannelMode, Sv2MinerConfig};
use crate::miner::error::MinerError;
use crate::miner::handle::StopSignal;
use crate::miner::hashpool::{FoundShare, HashPool, Work, FOUND_CAPACITY};
use crate::miner::stats::{bump, drop_gauge, Stats};
use crate::miner::util::{connect_tcp, reconnect_target, saturating_after, split_host_port};

/// Found shares sent in one write batch at most.
const SUBMIT_BATCH: usize = 64;

type Reader = NoiseReader<OwnedReadHalf>;
type Writer = NoiseWriter<OwnedWriteHalf>;

/// How a connection ended without error.
enum End {
    /// Stop requested, or the duration / share limit reached.
    Done,
    /// The pool asked to reconnect to this address.
    Reconnect(String),
}

/// Hashing threads plus the receiving end of their shares; lives across reconnections.
pub(super) struct Engine {
    pool: HashPool<JobTag>,
    found: mpsc::Receiver<FoundShare<JobTag>>,
    stats: Arc<Stats>,
}

/// Keeps the open-connection gauge right however a session ends.
struct ConnectionGauge(Arc<Stats>);

impl Drop for ConnectionGauge {
    fn drop(&mut self) {
        drop_gauge(&self.0.open_connections);
        self.0.open_channels.store(0, Ordering::Relaxed);
    }
}

impl Engine {
    pub(super) fn start(config: &Sv2MinerConfig, stats: Arc<Stats>) -> Result<Self, MinerError> {
        let (tx, found) = mpsc::channel(FOUND_CAPACITY);
        let pool = HashPool::start(config.channels, config.threads, tx, Arc::clone(&stats))?;
        Ok(Engine { pool, found, stats })
    }

    pub(super) async fn run(
        mut self,
        config: Sv2MinerConfig,
        mut stop: StopSignal,
    ) -> Result<(), MinerError> {
        let deadline = config.duration.map(|d| saturating_after(Instant::now(), d));
        let mut addr = config.pool.clone();
        let result = loop {
            let r = self.session(&config, &addr, &mut stop, deadline).await;
            self.pool.clear();
            match r {
                Ok(End::Done) => break Ok(()),
                Ok(End::Reconnect(to)) => {
                    tracing::info!(%to, "pool requested reconnection");
                    bump(&self.stats.reconnects);
                    addr = to;
                }
                Err(e) => {
                    tracing::warn!(error = %e, %addr, "connection ended");
                    self.stats.error(&e);
                    bump(&self.stats.connection_failures);
                    let Some(delay) = config.reconnect_delay else {
                        break Err(e);
                    };
                    let retry_at = saturating_after(Instant::now(), delay);
                    if deadline.is_some_and(|d| d <= retry_at) {
                        break Ok(());
                    }
                    tokio::select! {
                        _ = stop.wait() => break Ok(()),
                        _ = sleep_until(retry_at) => {}
                    }
                }
            }
        };
        // Threads blocked on a full share channel wake up once the receiver is gone.
        let Engine { pool, found, .. } = self;
        drop(found);
        let _ = tokio::task::spawn_blocking(move || pool.shutdown()).await;
        result
    }

    fn limit_reached(&self, config: &Sv2MinerConfig, deadline: Option<Instant>) -> bool {
        deadline.is_some_and(|d| Instant::now() >= d)
            || config
                .max_shares
                .is_some_and(|m| self.stats.shares_submitted.load(Ordering::Relaxed) >= m)
    }

    async fn session(
        &mut self,
        config: &Sv2MinerConfig,
        addr: &str,
        stop: &mut StopSignal,
        deadline: Option<Instant>,
    ) -> Result<End, MinerError> {
        if stop.is_stopped() || self.limit_reached(config, deadline) {
            return Ok(End::Done);
        }
        let setup = async {
            let tcp = connect_tcp(addr, config.connect_timeout).await?;
            let conn = sv2_noise::connect(tcp, config.authority_key, config.setup_timeout).await?;
            let (mut reader, mut writer) = conn.into_split();
            let (host, port) = split_host_port(addr)?;
            let setup = SetupConnection {
                protocol: Protocol::Mining,
                min_version: 2,
                max_version: 2,
                flags: config.setup_flags(),
                endpoint_host: host,
                endpoint_port: port,
                vendor: config.vendor.clone(),
                hardware_version: config.hardware_version.clone(),
                firmware: config.firmware.clone(),
                device_id: config.device_id.clone(),
            };
            send(&mut writer, setup).await?;
            let reply =
                tokio::time::timeout(config.setup_timeout, next_message(&mut reader, &self.stats))
                    .await
                    .map_err(|_| MinerError::Timeout("SetupConnection.Success"))??;
            match reply {
                Message::Common(CommonMessage::SetupConnectionSuccess(s)) => {
                    Ok((reader, writer, s))
                }
                Message::Common(CommonMessage::SetupConnectionError(e)) => {
                    Err(MinerError::SetupRejected {
                        code: e.error_code,
                        flags: e.flags,
                    })
                }
                other => Err(MinerError::Protocol(format!(
                    "expected SetupConnection.Success, got {}",
                    other.name()
                ))),
            }
        };
        let (mut reader, mut writer, success) = tokio::select! {
            _ = stop.wait() => return Ok(End::Done),
            r = setup => r?,
        };
        bump(&self.stats.connections);
        bump(&self.stats.open_connections);
        let _gauge = ConnectionGauge(Arc::clone(&self.stats));
        tracing::info!(addr, flags = success.flags, "connected");

        if config.mode == ChannelMode::Standard
            && success.flags & SUCCESS_REQUIRES_EXTENDED_CHANNELS != 0
        {
            return Err(MinerError::OpenChannelRejected(
                "the pool only accepts extended channels".into(),
            ));
        }
        let fixed_version = success.flags & SUCCESS_REQUIRES_FIXED_VERSION != 0;
        let mut channels = Channels::new(config.mode, config.version_rolling && !fixed_version);
        let params = OpenParams {
            user: config.user.clone(),
            nominal_hash_rate: config.nominal_hash_rate,
            max_target: config.max_target,
            min_extranonce_size: config.min_extranonce_size,
        };
        for m in channels.open_requests(self.pool.boards(), &params) {
            feed(&mut writer, m).await?;
        }
        writer.flush().await?;

        let mut updates = config.update_channel_interval.map(|d| {
            let mut i = tokio::time::interval_at(saturating_after(Instant::now(), d), d);
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        });
        // Set once the duration or share limit is reached: wait this long for acks.
        let mut draining: Option<Instant> = None;
        loop {
            if draining.is_none() && self.limit_reached(config, deadline) {
                self.pool.clear();
                draining = Some(saturating_after(Instant::now(), config.drain_timeout));
            }
            if let Some(until) = draining {
                if channels.outstanding() == 0 || Instant::now() >= until {
                    return Ok(End::Done);
                }
            }
            let wake_at = draining.or(deadline);
            tokio::select! {
                biased;
                _ = stop.wait() => return Ok(End::Done),
                _ = sleep_until(wake_at.unwrap_or_else(Instant::now)), if wake_at.is_some() => {}
                frame = reader.recv() => {
                    let Some(frame) = frame? else {
                        return Err(MinerError::ConnectionClosed);
                    };
                    let Some(msg) = decode(frame, &self.stats)? else { continue };
                    match msg {
                        Message::Mining(m) => {
                            let effects = channels.handle(m, &self.stats)?;
                            self.apply(config, effects);
                        }
                        Message::Common(CommonMessage::Reconnect(r)) => {
                            return Ok(End::Reconnect(reconnect_target(addr, Some(&r.new_host), Some(r.new_port))));
                        }
                        Message::Common(CommonMessage::ChannelEndpointChanged(c)) => {
                            tracing::info!(channel = c.channel_id, "channel endpoint changed");
                        }
                        other => {
                            tracing::debug!(msg = other.name(), "ignoring message");
                            bump(&self.stats.ignored_messages);
                        }
                    }
                }
                share = self.found.recv(), if draining.is_none() => {
                    let Some(first) = share else { return Ok(End::Done) };
                    self.submit(config, &mut channels, &mut writer, first).await?;
                }
                _ = tick(&mut updates), if updates.is_some() => {
                    let msgs = channels.update_channels(|b| self.pool.board_hashes(b), config.max_target, std::time::Instant::now());
                    for m in msgs {
                        bump(&self.stats.update_channels_sent);
                        feed(&mut writer, m).await?;
                    }
                    writer.flush().await?;
                }
            }
        }
    }

    fn apply(&self, config: &Sv2MinerConfig, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Work {
                    board,
                    work,
                    target,
                } => {
                    let work =
                        work.map(|(tag, template)| Work::new(tag, template, config.nonce_bits));
                    self.pool.set_work_and_target(board, work, target);
                }
                Effect::Target { board, target } => self.pool.set_target(board, target),
            }
        }
    }

    /// Submits `first` and whatever else is already waiting, in one flush.
    async fn submit(
        &mut self,
        config: &Sv2MinerConfig,
        channels: &mut Channels,
        writer: &mut Writer,
        first: FoundShare<JobTag>,
    ) -> Result<(), MinerError> {
        let mut next = Some(first);
        let mut batch = 0;
        while let Some(share) = next.take() {
            if config
                .max_shares
                .is_some_and(|m| self.stats.shares_submitted.load(Ordering::Relaxed) >= m)
            {
                break;
            }
            match channels.submission(&share) {
                Submission::Send {
                    message,
                    difficulty,
                    is_block,
                } => {
                    self.stats.submitted(difficulty, is_block);
                    if is_block {
                        tracing::info!(
                            job = share.work.tag.job_id,
                            "share meets the network target"
                        );
                    }
                    feed(writer, message).await?;
                }
                Submission::Stale => bump(&self.stats.shares_stale_dropped),
            }
            batch += 1;
            if batch < SUBMIT_BATCH {
                next = self.found.try_recv().ok();
            }
        }
        writer.flush().await?;
        Ok(())
    }
}

async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

fn encode(msg: impl Into<Message>) -> Result<BytesMut, MinerError> {
    let msg: Message = msg.into();
    let mut buf = BytesMut::new();
    msg.encode_frame(&mut buf)?;
    Ok(buf)
}

async fn send(writer: &mut Writer, msg: impl Into<Message>) -> Result<(), MinerError> {
    writer.send(encode(msg)?).await?;
    Ok(())
}

async fn feed(writer: &mut Writer, msg: impl Into<Message>) -> Result<(), MinerError> {
    writer.feed(encode(msg)?).await?;
    Ok(())
}

/// Decodes a frame of the Mining protocol; `None` for messages this miner does not know
/// (unknown types, extensions), which the spec asks receivers to ignore.
fn decode(frame: Bytes, stats: &Stats) -> Result<Option<Message>, MinerError> {
    let frame = Frame::from_bytes(frame)?;
    match Message::from_frame(Protocol::Mining, &frame) {
        Ok(m) => Ok(Some(m)),
        Err(CodecError::UnknownMessageType { .. } | CodecError::UnsupportedExtension { .. }) => {
            bump(&stats.ignored_messages);
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// The next known message, skipping ignorable ones.
async fn next_message(reader: &mut Reader, stats: &Stats) -> Result<Message, MinerError> {
    loop {
        let frame = reader.recv().await?.ok_or(MinerError::ConnectionClosed)?;
        if let Some(m) = decode(frame, stats)? {
            return Ok(m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sv2_codec::mining::SubmitSharesStandard;
    use sv2_codec::Sv2Message;

    #[test]
    fn decode_skips_unknown_and_extension_frames_but_fails_on_garbage() {
        let stats = Stats::default();
        let unknown = Frame::new(0, false, 0x7e, Bytes::from_static(&[1, 2])).unwrap();
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&unknown.header.to_bytes());
        buf.extend_from_slice(&unknown.payload);
        assert!(decode(buf.freeze(), &stats).unwrap().is_none());
        let ext = Frame::new(0x10, true, 0x1b, Bytes::from_static(&[0; 24])).unwrap();
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&ext.header.to_bytes());
        buf.extend_from_slice(&ext.payload);
        assert!(decode(buf.freeze(), &stats).unwrap().is_none());
        assert_eq!(stats.snapshot().ignored_messages, 2);
        // A known message with a truncated payload is an error.
        let short = Frame::new(
            0,
            true,
            SubmitSharesStandard::MSG_TYPE,
            Bytes::from_static(&[0; 5]),
        )
        .unwrap();
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&short.header.to_bytes());
        buf.extend_from_slice(&short.payload);
        assert!(decode(buf.freeze(), &stats).is_err());
        assert!(decode(Bytes::from_static(&[1, 2]), &stats).is_err());
    }
}
