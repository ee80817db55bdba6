//! One SV2 connection to a pool, sans-IO: `SetupConnection`, channel-open request ids, share
//! sequence numbers and acknowledgement accounting. Messages come in decoded and leave as
//! [`Message`]s; the caller owns the socket.

use sv2_codec::common::{mining_flags, SetupConnection};
use sv2_codec::mining::{
    NewExtendedMiningJob, OpenExtendedMiningChannel, OpenExtendedMiningChannelSuccess,
    SetExtranoncePrefix, SetNewPrevHash, SetTarget, SubmitSharesExtended, UpdateChannel,
};
use sv2_codec::{CommonMessage, Message, MiningMessage, Protocol};

/// SV2 protocol version spoken.
pub const PROTOCOL_VERSION: u16 = 2;

/// What a message from the pool means for the translator.
#[derive(Debug, Clone, PartialEq)]
pub enum UpstreamEvent {
    /// `SetupConnection.Success`; `version_rolling` is false when the pool requires fixed
    /// versions.
    SetupDone {
        /// Whether miners may roll version bits.
        version_rolling: bool,
    },
    /// `SetupConnection.Error`.
    SetupRefused(String),
    /// `OpenExtendedMiningChannel.Success`.
    Opened(OpenExtendedMiningChannelSuccess),
    /// `OpenMiningChannel.Error`.
    OpenFailed {
        /// Request id of the refused open.
        request_id: u32,
        /// Error code.
        code: String,
    },
    /// `NewExtendedMiningJob`.
    Job(NewExtendedMiningJob),
    /// Mining `SetNewPrevHash`.
    PrevHash(SetNewPrevHash),
    /// `SetTarget`.
    Target(SetTarget),
    /// `SetExtranoncePrefix`.
    Prefix(SetExtranoncePrefix),
    /// `SubmitShares.Success`.
    SharesAccepted {
        /// Channel.
        channel_id: u32,
        /// Shares acknowledged.
        count: u32,
        /// Sum of their difficulties.
        work: u64,
    },
    /// `SubmitShares.Error`.
    ShareRejected {
        /// Channel.
        channel_id: u32,
        /// Sequence number of the share.
        sequence_number: u32,
        /// Error code.
        code: String,
    },
    /// `CloseChannel` from the pool.
    ChannelClosed {
        /// Channel.
        channel_id: u32,
        /// Reason code.
        reason: String,
    },
    /// `Reconnect`: go to another host (empty) / port (0) of the same pool.
    Redirect {
        /// New host, empty for the current one.
        host: String,
        /// New port, 0 for the current one.
        port: u16,
    },
    /// A message with nothing to do (logged by the caller).
    Ignored(&'static str),
}

/// The pool sent something a pool must not send at this point.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("protocol violation: {0}")]
pub struct ProtocolViolation(pub String);

/// Share acknowledgement counters of one connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpstreamCounters {
    /// Shares sent.
    pub submitted: u64,
    /// Shares acknowledged as accepted.
    pub accepted: u64,
    /// Shares rejected.
    pub rejected: u64,
    /// Sum of accepted share difficulties reported by the pool.
    pub accepted_work: u64,
}

/// State of one SV2 connection.
#[derive(Debug, Clone)]
pub struct UpstreamSession {
    ready: bool,
    version_rolling: bool,
    next_request_id: u32,
    next_sequence: u32,
    reject_streak: u32,
    counters: UpstreamCounters,
}

impl Default for UpstreamSession {
    fn default() -> Self {
        Self::new()
    }
}

impl UpstreamSession {
    /// A session waiting for `SetupConnection.Success`.
    pub fn new() -> Self {
        UpstreamSession {
            ready: false,
            version_rolling: false,
            next_request_id: 1,
            next_sequence: 1,
            reject_streak: 0,
            counters: UpstreamCounters::default(),
        }
    }

    /// The first message on the connection: Mining protocol, version 2, version rolling.
    pub fn setup_connection(&self, host: &str, port: u16, device_id: &str) -> Message {
        Message::from(SetupConnection {
            protocol: Protocol::Mining,
            min_version: PROTOCOL_VERSION,
            max_version: PROTOCOL_VERSION,
            flags: mining_flags::REQUIRES_VERSION_ROLLING,
            endpoint_host: truncate(host, 255),
            endpoint_port: port,
            vendor: "sv2-translator".into(),
            hardware_version: "sv1-fleet".into(),
            firmware: env!("CARGO_PKG_VERSION").into(),
            device_id: truncate(device_id, 255),
        })
    }

    /// True once the pool accepted `SetupConnection`.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// Whether miners may roll version bits on this connection.
    pub fn version_rolling(&self) -> bool {
        self.version_rolling
    }

    /// Consecutive share rejections since the last acceptance.
    pub fn reject_streak(&self) -> u32 {
        self.reject_streak
    }

    /// Counters since the connection started.
    pub fn counters(&self) -> UpstreamCounters {
        self.counters
    }

    /// `OpenExtendedMiningChannel` for `identity`; returns its request id with the message.
    pub fn open_channel(
        &mut self,
        identity: &str,
        nominal_hash_rate: f64,
        min_extranonce_size: u16,
    ) -> (u32, Message) {
        let request_id = self.next_request_id;
        self.next_request_id = self.next_request_id.wrapping_add(1).max(1);
        let msg = Message::from(OpenExtendedMiningChannel {
            request_id,
            user_identity: truncate(identity, 255),
            nominal_hash_rate: hashrate_f32(nominal_hash_rate),
            max_target: [0xff; 32],
            min_extranonce_size,
        });
        (request_id, msg)
    }

    /// `UpdateChannel` with a new nominal hashrate.
    pub fn update_channel(&self, channel_id: u32, nominal_hash_rate: f64) -> Message {
        Message::from(UpdateChannel {
            channel_id,
            nominal_hash_rate: hashrate_f32(nominal_hash_rate),
            maximum_target: [0xff; 32],
        })
    }

    /// `SubmitSharesExtended` with the next sequence number.
    pub fn submit(
        &mut self,
        channel_id: u32,
        job_id: u32,
        nonce: u32,
        ntime: u32,
        version: u32,
        extranonce: Vec<u8>,
    ) -> Message {
        let sequence_number = self.next_sequence;
        self.next_sequence = self.next_sequence.wrapping_add(1);
        self.counters.submitted += 1;
        Message::from(SubmitSharesExtended {
            channel_id,
            sequence_number,
            job_id,
            nonce,
            ntime,
            version,
            extranonce,
        })
    }

    /// Interprets one message from the pool.
    pub fn on_message(&mut self, msg: Message) -> Result<UpstreamEvent, ProtocolViolation> {
        if !self.ready {
            return match msg {
                Message::Common(CommonMessage::SetupConnectionSuccess(s)) => {
                    if s.used_version != PROTOCOL_VERSION {
                        return Err(ProtocolViolation(format!(
                            "pool chose protocol version {}",
                            s.used_version
                        )));
                    }
                    self.ready = true;
                    self.version_rolling =
                        s.flags & mining_flags::SUCCESS_REQUIRES_FIXED_VERSION == 0;
                    Ok(UpstreamEvent::SetupDone {
                        version_rolling: self.version_rolling,
                    })
                }
                Message::Common(CommonMessage::SetupConnectionError(e)) => {
                    Ok(UpstreamEvent::SetupRefused(e.error_code))
                }
                other => Err(ProtocolViolation(format!(
                    "{} before SetupConnection.Success",
                    other.name()
                ))),
            };
        }
        match msg {
            Message::Mining(m) => self.on_mining(m),
            Message::Common(CommonMessage::Reconnect(r)) => Ok(UpstreamEvent::Redirect {
                host: r.new_host,
                port: r.new_port,
            }),
            Message::Common(CommonMessage::ChannelEndpointChanged(c)) => {
                Ok(UpstreamEvent::ChannelClosed {
                    channel_id: c.channel_id,
                    reason: "channel-endpoint-changed".into(),
                })
            }
            other => Err(ProtocolViolation(format!(
                "unexpected {} from a pool",
                other.name()
            ))),
        }
    }

    fn on_mining(&mut self, m: MiningMessage) -> Result<UpstreamEvent, ProtocolViolation> {
        Ok(match m {
            MiningMessage::OpenExtendedMiningChannelSuccess(s) => UpstreamEvent::Opened(s),
            MiningMessage::OpenMiningChannelError(e) => UpstreamEvent::OpenFailed {
                request_id: e.request_id,
                code: e.error_code,
            },
            MiningMessage::NewExtendedMiningJob(j) => UpstreamEvent::Job(j),
            MiningMessage::SetNewPrevHash(p) => UpstreamEvent::PrevHash(p),
            MiningMessage::SetTarget(t) => UpstreamEvent::Target(t),
            MiningMessage::SetExtranoncePrefix(p) => UpstreamEvent::Prefix(p),
            MiningMessage::SubmitSharesSuccess(s) => {
                self.reject_streak = 0;
                self.counters.accepted += u64::from(s.new_submits_accepted_count);
                self.counters.accepted_work =
                    self.counters.accepted_work.saturating_add(s.new_shares_sum);
                UpstreamEvent::SharesAccepted {
                    channel_id: s.channel_id,
                    count: s.new_submits_accepted_count,
                    work: s.new_shares_sum,
                }
            }
            MiningMessage::SubmitSharesError(e) => {
                self.reject_streak = self.reject_streak.saturating_add(1);
                self.counters.rejected += 1;
                UpstreamEvent::ShareRejected {
                    channel_id: e.channel_id,
                    sequence_number: e.sequence_number,
                    code: e.error_code,
                }
            }
            MiningMessage::CloseChannel(c) => UpstreamEvent::ChannelClosed {
                channel_id: c.channel_id,
                reason: c.reason_code,
            },
            MiningMessage::UpdateChannelError(_) => UpstreamEvent::Ignored("UpdateChannel.Error"),
            MiningMessage::SetGroupChannel(_) => UpstreamEvent::Ignored("SetGroupChannel"),
            MiningMessage::OpenStandardMiningChannelSuccess(_) | MiningMessage::NewMiningJob(_) => {
                return Err(ProtocolViolation(
                    "standard-channel message on a translator connection".into(),
                ))
            }
            other => {
                return Err(ProtocolViolation(format!(
                    "unexpected {} from a pool",
                    Message::from(other).name()
                )))
            }
        })
    }
}

/// A hashrate as the `f32` of SV2 messages (finite, non-negative).
fn hashrate_f32(h: f64) -> f32 {
    if h.is_finite() && h > 0.0 {
        (h.min(f64::from(f32::MAX))) as f32
    } else {
        0.0
    }
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sv2_codec::common::{Reconnect, SetupConnectionError, SetupConnectionSuccess};
    use sv2_codec::mining::{SubmitSharesError, SubmitSharesSuccess};

    #[test]
    fn setup_then_mining_messages() {
        let mut s = UpstreamSession::new();
        let setup = s.setup_connection("pool", 34254, "fra1");
        let Message::Common(CommonMessage::SetupConnection(sc)) = &setup else {
            panic!()
        };
        assert_eq!(sc.protocol, Protocol::Mining);
        assert_eq!(sc.flags, mining_flags::REQUIRES_VERSION_ROLLING);
        assert_eq!((sc.min_version, sc.max_version), (2, 2));
        // Nothing but the setup answer is accepted first.
        assert!(s.on_message(Message::from(SetTarget::default())).is_err());
        let ev = s
            .on_message(Message::from(SetupConnectionSuccess {
                used_version: 2,
                flags: 0,
            }))
            .unwrap();
        assert_eq!(
            ev,
            UpstreamEvent::SetupDone {
                version_rolling: true
            }
        );
        assert!(s.is_ready());
        let (id1, _) = s.open_channel("fra1.translator", 1e15, 6);
        let (id2, m) = s.open_channel("fra1.translator", f64::NAN, 6);
        assert_ne!(id1, id2);
        let Message::Mining(MiningMessage::OpenExtendedMiningChannel(o)) = m else {
            panic!()
        };
        assert_eq!(o.nominal_hash_rate, 0.0);
        assert_eq!(o.min_extranonce_size, 6);
    }

    #[test]
    fn fixed_version_and_refusal() {
        let mut s = UpstreamSession::new();
        let ev = s
            .on_message(Message::from(SetupConnectionSuccess {
                used_version: 2,
                flags: mining_flags::SUCCESS_REQUIRES_FIXED_VERSION,
            }))
            .unwrap();
        assert_eq!(
            ev,
            UpstreamEvent::SetupDone {
                version_rolling: false
            }
        );
        let mut s = UpstreamSession::new();
        let ev = s
            .on_message(Message::from(SetupConnectionError {
                flags: 0,
                error_code: "unsupported-feature-flags".into(),
            }))
            .unwrap();
        assert_eq!(
            ev,
            UpstreamEvent::SetupRefused("unsupported-feature-flags".into())
        );
        let mut s = UpstreamSession::new();
        assert!(s
            .on_message(Message::from(SetupConnectionSuccess {
                used_version: 3,
                flags: 0
            }))
            .is_err());
    }

    #[test]
    fn acknowledgements_and_streaks() {
        let mut s = UpstreamSession::new();
        s.on_message(Message::from(SetupConnectionSuccess {
            used_version: 2,
            flags: 0,
        }))
        .unwrap();
        let m = s.submit(3, 4, 5, 6, 7, vec![1, 2]);
        let Message::Mining(MiningMessage::SubmitSharesExtended(x)) = m else {
            panic!()
        };
        assert_eq!(x.sequence_number, 1);
        let m = s.submit(3, 4, 5, 6, 7, vec![1, 2]);
        let Message::Mining(MiningMessage::SubmitSharesExtended(y)) = m else {
            panic!()
        };
        assert_eq!(y.sequence_number, 2);
        for seq in 1..=3 {
            s.on_message(Message::from(SubmitSharesError {
                channel_id: 3,
                sequence_number: seq,
                error_code: "stale-share".into(),
            }))
            .unwrap();
        }
        assert_eq!(s.reject_streak(), 3);
        let ev = s
            .on_message(Message::from(SubmitSharesSuccess {
                channel_id: 3,
                last_sequence_number: 4,
                new_submits_accepted_count: 2,
                new_shares_sum: 10,
            }))
            .unwrap();
        assert_eq!(
            ev,
            UpstreamEvent::SharesAccepted {
                channel_id: 3,
                count: 2,
                work: 10
            }
        );
        assert_eq!(s.reject_streak(), 0);
        assert_eq!(
            s.counters(),
            UpstreamCounters {
                submitted: 2,
                accepted: 2,
                rejected: 3,
                accepted_work: 10
            }
        );
        let ev = s
            .on_message(Message::from(Reconnect {
                new_host: "b.pool".into(),
                new_port: 0,
            }))
            .unwrap();
        assert_eq!(
            ev,
            UpstreamEvent::Redirect {
                host: "b.pool".into(),
                port: 0
            }
        );
        assert!(s
            .on_message(Message::from(
                sv2_codec::mining::OpenExtendedMiningChannel::default()
            ))
            .is_err());
    }

    #[test]
    fn truncation_keeps_utf8() {
        assert_eq!(truncate("ab", 5), "ab");
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(hashrate_f32(1e300), f32::MAX);
        assert_eq!(hashrate_f32(-1.0), 0.0);
    }
}
