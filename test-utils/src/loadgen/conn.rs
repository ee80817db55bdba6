//! One SV2 load connection: TCP (from a chosen source address) + Noise + `SetupConnection` +
//! one channel, then a loop that reads the pool's messages and, while the run is in its share
//! phase, submits shares at the connection's share of the target rate.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sv2_codec::bytes::{Bytes, BytesMut};
use sv2_codec::common::{mining_flags, SetupConnection};
use sv2_codec::{CodecError, CommonMessage, Frame, Message, Protocol};
use sv2_noise::secp256k1::XOnlyPublicKey;
use sv2_noise::{NoiseReader, NoiseWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{watch, Semaphore};

use super::addrs::{connect_from, SourcePlan};
use super::channel::{Channel, Event, MiningCost, NoShare};
use super::error::LoadError;
use super::fanout::FanoutClock;
use super::mix::{ShareMix, SmallRng};
use super::pending::PendingShares;
use super::stats::{add, dec, record_accepted, LoadStats, ShareKind};
use crate::miner::sv2::ChannelMode;

type Reader = NoiseReader<OwnedReadHalf>;
type Writer = NoiseWriter<OwnedWriteHalf>;

/// Most shares one connection sends per wake-up.
const MAX_BURST: u64 = 256;
/// Shortest interval between a connection's share wake-ups.
const MIN_TICK: Duration = Duration::from_millis(5);
/// Longest interval between a connection's share wake-ups.
const MAX_TICK: Duration = Duration::from_secs(1);

/// Phase of the whole run, broadcast to every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Connections open and stay idle (no shares).
    Idle,
    /// Submit shares, paced from this instant.
    Share(Instant),
    /// No new shares; answers to those in flight are still read.
    Drain,
    /// Close.
    Stop,
}

/// What every connection shares.
#[derive(Debug)]
pub struct ConnContext {
    /// Pool address.
    pub dest: SocketAddr,
    /// The pool's authority key.
    pub authority: XOnlyPublicKey,
    /// Source addresses.
    pub sources: SourcePlan,
    /// Standard or extended channels.
    pub mode: ChannelMode,
    /// `user_identity` prefix; connection `i` uses `"{user}-{i}"` when `numbered`.
    pub user: String,
    /// Give every connection its own worker name.
    pub numbered: bool,
    /// `nominal_hash_rate` of the open requests.
    pub nominal_hash_rate: f32,
    /// Timeout of TCP connect, of the handshake, and of each setup answer.
    pub setup_timeout: Duration,
    /// Bounds concurrent connection setups.
    pub setup_gate: Semaphore,
    /// Shares per second per connection (0: as fast as the window allows).
    pub rate_per_conn: f64,
    /// Share kinds.
    pub mix: ShareMix,
    /// Most unanswered shares per connection.
    pub window: usize,
    /// Most hashes spent looking for one share.
    pub hash_budget: u64,
    /// Shares left to send in the whole run.
    pub shares_left: AtomicU64,
    /// Counters.
    pub stats: Arc<LoadStats>,
    /// Fan-out record.
    pub fanout: Arc<FanoutClock>,
}

impl ConnContext {
    fn user(&self, index: usize) -> String {
        if self.numbered {
            format!("{}-{index}", self.user)
        } else {
            self.user.clone()
        }
    }

    /// Takes up to `n` shares from the run's budget.
    fn claim(&self, n: u64) -> u64 {
        let mut got = 0;
        let _ = self
            .shares_left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                got = left.min(n);
                Some(left - got)
            });
        got
    }

    /// Returns unused shares to the budget.
    fn unclaim(&self, n: u64) {
        add(&self.shares_left, n);
    }

    fn tick_period(&self) -> Duration {
        if self.rate_per_conn <= 0.0 || !self.rate_per_conn.is_finite() {
            return MIN_TICK;
        }
        Duration::try_from_secs_f64(1.0 / self.rate_per_conn)
            .unwrap_or(MAX_TICK)
            .clamp(MIN_TICK, MAX_TICK)
    }
}

/// Runs connection `index` until the phase becomes [`Phase::Stop`] or it fails. Failures are
/// counted in the stats; the connection is not reopened (the run reports them).
pub async fn run(ctx: Arc<ConnContext>, index: usize, phase: watch::Receiver<Phase>) {
    let mut conn = Conn {
        index,
        channel: Channel::new(ctx.mode),
        pending: PendingShares::new(),
        rng: SmallRng::new(index as u64),
        buf: BytesMut::with_capacity(128),
        ctx,
        phase,
        open: false,
    };
    let result = conn.session().await;
    let stats = &conn.ctx.stats;
    add(&stats.unanswered, conn.pending.clear() as u64);
    if conn.open {
        dec(&stats.channels_open);
    }
    match result {
        Ok(()) => {}
        Err(e) if conn.open => {
            add(&stats.disconnects, 1);
            stats.error(format_args!("connection {index}: {e}"));
        }
        Err(e) => {
            add(&stats.connect_failures, 1);
            stats.error(format_args!("connection {index}: {e}"));
        }
    }
}

struct Conn {
    index: usize,
    ctx: Arc<ConnContext>,
    phase: watch::Receiver<Phase>,
    channel: Channel,
    pending: PendingShares,
    rng: SmallRng,
    buf: BytesMut,
    open: bool,
}

fn encode_into(buf: &mut BytesMut, msg: &Message) -> Result<(), LoadError> {
    buf.clear();
    msg.encode_frame(buf)?;
    Ok(())
}

/// Decodes a Mining-protocol frame; `None` for message types this client does not know.
fn decode(frame: Bytes) -> Result<Option<Message>, LoadError> {
    let frame = Frame::from_bytes(frame)?;
    match Message::from_frame(Protocol::Mining, &frame) {
        Ok(m) => Ok(Some(m)),
        Err(CodecError::UnknownMessageType { .. } | CodecError::UnsupportedExtension { .. }) => {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

async fn next_message(reader: &mut Reader) -> Result<Message, LoadError> {
    loop {
        let frame = reader.recv().await?.ok_or(LoadError::Eof)?;
        if let Some(m) = decode(frame)? {
            return Ok(m);
        }
    }
}

impl Conn {
    async fn send(&mut self, writer: &mut Writer, msg: &Message) -> Result<(), LoadError> {
        encode_into(&mut self.buf, msg)?;
        writer.send(&self.buf[..]).await?;
        Ok(())
    }

    /// Connect, handshake, set up, open the channel; returns the split transport.
    async fn open(&mut self) -> Result<(Reader, Writer), LoadError> {
        let ctx = Arc::clone(&self.ctx);
        let timeout = ctx.setup_timeout;
        let _permit = ctx
            .setup_gate
            .acquire()
            .await
            .map_err(|_| LoadError::Config("setup gate closed".into()))?;
        let tcp = connect_from(ctx.sources.source(self.index), ctx.dest, timeout)
            .await
            .map_err(LoadError::Connect)?;
        let conn = sv2_noise::connect(tcp, ctx.authority, timeout).await?;
        let (mut reader, mut writer) = conn.into_split();
        let flags = match ctx.mode {
            ChannelMode::Standard => mining_flags::REQUIRES_STANDARD_JOBS,
            ChannelMode::Extended => 0,
        };
        let setup = Message::from(SetupConnection {
            protocol: Protocol::Mining,
            min_version: 2,
            max_version: 2,
            flags,
            endpoint_host: ctx.dest.ip().to_string(),
            endpoint_port: ctx.dest.port(),
            vendor: "sv2-loadgen".into(),
            hardware_version: "load".into(),
            firmware: concat!("sv2-loadgen/", env!("CARGO_PKG_VERSION")).into(),
            device_id: format!("load-{}", self.index),
        });
        self.send(&mut writer, &setup).await?;
        let reply = tokio::time::timeout(timeout, next_message(&mut reader))
            .await
            .map_err(|_| LoadError::Timeout("SetupConnection.Success"))??;
        match reply {
            Message::Common(CommonMessage::SetupConnectionSuccess(_)) => {}
            Message::Common(CommonMessage::SetupConnectionError(e)) => {
                return Err(LoadError::SetupRefused(e.error_code))
            }
            other => return Err(LoadError::Unexpected(other.name().into())),
        }
        add(&ctx.stats.connected, 1);
        let open = self
            .channel
            .open_request(&ctx.user(self.index), ctx.nominal_hash_rate);
        self.send(&mut writer, &open).await?;
        let opened = async {
            loop {
                match next_message(&mut reader).await? {
                    Message::Mining(m) => match self.channel.handle(m) {
                        Event::Opened => return Ok(()),
                        Event::OpenFailed(code) => return Err(LoadError::OpenRefused(code)),
                        _ => {}
                    },
                    other => return Err(LoadError::Unexpected(other.name().into())),
                }
            }
        };
        tokio::time::timeout(timeout, opened)
            .await
            .map_err(|_| LoadError::Timeout("OpenMiningChannel.Success"))??;
        Ok((reader, writer))
    }

    async fn session(&mut self) -> Result<(), LoadError> {
        let mut stop = self.phase.clone();
        let (mut reader, mut writer) = tokio::select! {
            r = self.open() => r?,
            _ = wait_stop(&mut stop) => return Ok(()),
        };
        self.open = true;
        add(&self.ctx.stats.channels_open, 1);
        add(&self.ctx.stats.channels_opened, 1);

        let mut phase = *self.phase.borrow_and_update();
        let mut sent: u64 = 0;
        let mut ticker = self.ticker(phase);
        loop {
            if phase == Phase::Stop {
                return Ok(());
            }
            let sharing = matches!(phase, Phase::Share(_));
            tokio::select! {
                biased;
                changed = self.phase.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    let next = *self.phase.borrow_and_update();
                    if next != phase {
                        phase = next;
                        sent = 0;
                        ticker = self.ticker(phase);
                    }
                }
                frame = reader.recv() => {
                    let frame = frame?.ok_or(LoadError::Eof)?;
                    let now = Instant::now();
                    let answered = self.on_frame(frame, now)?;
                    // Unpaced: answers free window space, fill it at once.
                    if answered && sharing && self.ctx.rate_per_conn <= 0.0 {
                        sent += self.send_due(&mut writer, phase, sent).await?;
                    }
                }
                _ = next_tick(&mut ticker), if sharing => {
                    sent += self.send_due(&mut writer, phase, sent).await?;
                }
            }
        }
    }

    fn ticker(&mut self, phase: Phase) -> Option<tokio::time::Interval> {
        let Phase::Share(start) = phase else {
            return None;
        };
        let period = self.ctx.tick_period();
        // Spread connections over the period so they do not all wake at once.
        let offset = period.mul_f64(self.rng.next_f64());
        let first = start.checked_add(offset).unwrap_or(start);
        let mut i = tokio::time::interval_at(first.into(), period);
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Some(i)
    }

    /// Handles one frame; returns whether it answered shares.
    fn on_frame(&mut self, frame: Bytes, now: Instant) -> Result<bool, LoadError> {
        let stats = &self.ctx.stats;
        let msg = match decode(frame)? {
            Some(Message::Mining(m)) => m,
            Some(Message::Common(CommonMessage::Reconnect(_))) => return Err(LoadError::Reconnect),
            Some(_) | None => return Ok(false),
        };
        match self.channel.handle(msg) {
            Event::NewTip { prev_hash, first } => {
                add(&stats.prev_hashes, 1);
                if !first {
                    self.ctx.fanout.arrived(prev_hash, now);
                }
            }
            Event::Job => add(&stats.jobs, 1),
            Event::Target => add(&stats.set_targets, 1),
            Event::Success { last_seq, count } => {
                add(&stats.acked, u64::from(count));
                let mut shard = stats.shard(self.index);
                let n = self
                    .pending
                    .on_success(last_seq, now, |k, l| record_accepted(&mut shard, k, l));
                drop(shard);
                add(&stats.accepted, n as u64);
                return Ok(true);
            }
            Event::Rejected { seq, code } => {
                add(&stats.rejected, 1);
                if let Some((kind, latency)) = self.pending.on_error(seq, now) {
                    let mut shard = stats.shard(self.index);
                    shard.verdicts.reject(kind, &code);
                    shard.reject_latency.record(latency);
                }
                return Ok(true);
            }
            Event::Closed(reason) => return Err(LoadError::Closed(reason)),
            Event::Opened | Event::OpenFailed(_) | Event::Nothing | Event::Ignored => {}
        }
        Ok(false)
    }

    /// Sends the shares due by now (pace, window and run budget permitting) in one flush;
    /// returns how many were sent.
    async fn send_due(
        &mut self,
        writer: &mut Writer,
        phase: Phase,
        sent: u64,
    ) -> Result<u64, LoadError> {
        let Phase::Share(start) = phase else {
            return Ok(0);
        };
        if !self.channel.has_job() {
            return Ok(0);
        }
        let ctx = Arc::clone(&self.ctx);
        let now = Instant::now();
        let due = if ctx.rate_per_conn > 0.0 {
            let target = now.saturating_duration_since(start).as_secs_f64() * ctx.rate_per_conn;
            (target as u64).saturating_sub(sent)
        } else {
            u64::MAX
        };
        let room = ctx.window.saturating_sub(self.pending.len()) as u64;
        if due > room && ctx.rate_per_conn > 0.0 {
            add(&ctx.stats.window_full, 1);
        }
        let wanted = due.min(room).min(MAX_BURST);
        let granted = ctx.claim(wanted);
        if granted == 0 {
            return Ok(0);
        }
        let mut cost = MiningCost::default();
        let mut by_kind = [0u64; 4];
        let mut n = 0;
        let mut failure = None;
        while n < granted {
            let kind = ctx.mix.pick(self.rng.next_f64());
            let made = match self.channel.make_share(kind, ctx.hash_budget, &mut cost) {
                Ok(m) => m,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            };
            let (seq, msg) = self.channel.submit(&made.fields);
            encode_into(&mut self.buf, &msg)?;
            writer.feed(&self.buf[..]).await?;
            self.pending.push(seq, made.kind, now);
            by_kind[made.kind.index()] += 1;
            n += 1;
        }
        ctx.unclaim(granted - n);
        if failure == Some(NoShare::Budget) {
            add(&ctx.stats.budget_exhausted, 1);
        }
        add(&ctx.stats.hashes, cost.hashes);
        add(&ctx.stats.blocks_skipped, cost.blocks_skipped);
        for k in ShareKind::ALL {
            add(&ctx.stats.sent[k.index()], by_kind[k.index()]);
        }
        if n > 0 {
            writer.flush().await?;
        }
        Ok(n)
    }
}

async fn next_tick(ticker: &mut Option<tokio::time::Interval>) {
    match ticker {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn wait_stop(phase: &mut watch::Receiver<Phase>) {
    loop {
        if *phase.borrow_and_update() == Phase::Stop {
            return;
        }
        if phase.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_known_and_skips_unknown_frames() {
        let mut buf = BytesMut::new();
        Message::from(sv2_codec::mining::SetTarget {
            channel_id: 1,
            maximum_target: [0xff; 32],
        })
        .encode_frame(&mut buf)
        .unwrap();
        assert!(matches!(decode(buf.freeze()), Ok(Some(Message::Mining(_)))));
        let unknown = Frame::new(0, false, 0x7e, Bytes::from_static(&[1, 2])).unwrap();
        assert!(matches!(decode(unknown.to_bytes().unwrap()), Ok(None)));
        assert!(decode(Bytes::from_static(&[1, 2, 3])).is_err());
    }
}
