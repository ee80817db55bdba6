//! Custom jobs from job declarator clients (`SetCustomMiningJob` on connections that set
//! `REQUIRES_WORK_SELECTION`).
//!
//! # Trust model: tokens, not round trips
//!
//! The job declarator server (`sv2-jd-server`, a separate process next to the pool) checks a
//! declared job — its coinbase pays the pool, its transactions are known and valid on the
//! current tip — and answers `DeclareMiningJob.Success` with a token that is a MAC, under a key
//! shared by the JDS and the pool (`[job_declaration] token_secret`), over an expiry and the
//! job's commitment (`sv2_mining::channel::custom`). The pool accepts `SetCustomMiningJob` only
//! when the token verifies, has not expired, and the commitment recomputed from the message's
//! fields (version, coinbase, the channel's extranonce length, merkle path, prev hash, nbits)
//! equals the token's. No call to the JDS is needed, so the JDS can restart or be scaled
//! without the pool noticing, and a stolen token is useless for any other job.
//!
//! The pool then validates every share against the declared job like any other extended job.
//! It cannot assemble blocks found on custom jobs (it never sees their transactions): the job
//! declarator client and server submit them; the pool only records the event.
//!
//! # Chain tips
//!
//! A custom job names its prev hash, which the JDS vouched for. It may be ahead of the pool's
//! own template source for a moment after a new block. The pool refuses custom jobs for a
//! height below the one it is mining (`stale-chain-tip`), and when its own tip moves past the
//! custom jobs' height their shares become stale.

use std::sync::atomic::{AtomicU64, Ordering};

use sv2_codec::mining::{SetCustomMiningJob, SetCustomMiningJobError, SetCustomMiningJobSuccess};
use sv2_codec::Message;
use sv2_mining::channel::custom::{custom_job_commitment, custom_job_template, CoinbaseSplit};
use sv2_mining::channel::jd_token::TokenKey;
use sv2_mining::channel::{ChainTip, ExtendedChannel, MAX_FUTURE_BLOCK_TIME_SECS};
use sv2_mining::target::Target;

use crate::jobs::PoolJob;

/// Template ids of custom jobs have this bit set, so they never collide with the template
/// source's ids (which count up from 1).
pub const CUSTOM_TEMPLATE_BIT: u64 = 1 << 63;

/// `SetCustomMiningJob.Error` codes (as SRI names them).
pub mod error_codes {
    /// The connection did not negotiate work selection, or the pool does not accept custom jobs.
    pub const JD_NOT_SUPPORTED: &str = "jd-not-supported";
    /// No extended channel with that id on this connection.
    pub const INVALID_CHANNEL_ID: &str = "invalid-channel-id";
    /// The token is malformed, expired, from another key, or for another job.
    pub const INVALID_MINING_JOB_TOKEN: &str = "invalid-mining-job-token";
    /// The job builds on a tip older than the pool's.
    pub const STALE_CHAIN_TIP: &str = "stale-chain-tip";
    /// `min_ntime` too far in the future or before the pool's minimum for that height.
    pub const INVALID_MIN_NTIME: &str = "invalid-min-ntime";
    /// `nbits` is not a valid compact target.
    pub const INVALID_NBITS: &str = "invalid-nbits";
    /// The coinbase fields do not form a valid coinbase for this channel.
    pub const INVALID_COINBASE_TX: &str = "invalid-coinbase-tx";
}

/// Whether a template id belongs to a custom job.
pub fn is_custom_template(template_id: u64) -> bool {
    template_id & CUSTOM_TEMPLATE_BIT != 0
}

/// Checks custom jobs against tokens of the job declarator server.
pub struct CustomJobVerifier {
    key: TokenKey,
    next_template: AtomicU64,
}

impl std::fmt::Debug for CustomJobVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomJobVerifier").finish_non_exhaustive()
    }
}

/// A custom job that passed every check, ready for [`ExtendedChannel::add_custom_job`].
#[derive(Debug, Clone)]
pub struct CheckedCustomJob {
    /// The channel job template (custom template id).
    pub template: sv2_mining::channel::JobTemplate,
    /// The chain tip the job names.
    pub tip: ChainTip,
    /// Height of the block the job mines.
    pub height: u64,
}

impl CustomJobVerifier {
    /// Verifier for tokens minted under `key`.
    pub fn new(key: TokenKey) -> Self {
        CustomJobVerifier {
            key,
            next_template: AtomicU64::new(1),
        }
    }

    /// Checks `msg` for a channel whose full extranonce is `full_extranonce_len` bytes, given
    /// the pool's current job (if any) and the time; returns the error code to send otherwise.
    pub fn check(
        &self,
        msg: &SetCustomMiningJob,
        full_extranonce_len: usize,
        pool_job: Option<&PoolJob>,
        now_unix: u64,
    ) -> Result<CheckedCustomJob, &'static str> {
        let token = self
            .key
            .verify_declared(&msg.token, now_unix)
            .map_err(|e| {
                tracing::debug!(error = %e, "custom job token refused");
                error_codes::INVALID_MINING_JOB_TOKEN
            })?;
        let split = CoinbaseSplit {
            tx_version: msg.coinbase_tx_version,
            script_head: msg.coinbase_prefix.clone(),
            extranonce_len: full_extranonce_len,
            sequence: msg.coinbase_tx_input_n_sequence,
            outputs: msg.coinbase_tx_outputs.clone(),
            locktime: msg.coinbase_tx_locktime,
        };
        split
            .validate()
            .map_err(|_| error_codes::INVALID_COINBASE_TX)?;
        let commitment = custom_job_commitment(
            msg.version,
            &split,
            &msg.merkle_path,
            &msg.prev_hash,
            msg.nbits,
        );
        if commitment != token.commitment {
            // Another job than the one declared (or another channel extranonce size).
            return Err(error_codes::INVALID_MINING_JOB_TOKEN);
        }
        if Target::from_compact(msg.nbits).is_none_or(|t| t == Target::ZERO) {
            return Err(error_codes::INVALID_NBITS);
        }
        let height = u64::from(split.height().ok_or(error_codes::INVALID_COINBASE_TX)?);
        if u64::from(msg.min_ntime) > now_unix + u64::from(MAX_FUTURE_BLOCK_TIME_SECS) {
            return Err(error_codes::INVALID_MIN_NTIME);
        }
        if let Some(job) = pool_job {
            if height < job.height {
                return Err(error_codes::STALE_CHAIN_TIP);
            }
            if height == job.height
                && job.prev_hash == msg.prev_hash
                && msg.min_ntime < job.min_ntime
            {
                return Err(error_codes::INVALID_MIN_NTIME);
            }
        }
        let id = CUSTOM_TEMPLATE_BIT
            | (self.next_template.fetch_add(1, Ordering::Relaxed) & !CUSTOM_TEMPLATE_BIT);
        let template = custom_job_template(id, msg.version, &split, &msg.merkle_path)
            .map_err(|_| error_codes::INVALID_COINBASE_TX)?;
        Ok(CheckedCustomJob {
            template,
            tip: ChainTip {
                prev_hash: msg.prev_hash,
                min_ntime: msg.min_ntime,
                nbits: msg.nbits,
            },
            height,
        })
    }

    /// Handles `SetCustomMiningJob` for `channel`; returns the reply and, on success, the
    /// height of the job.
    pub fn set_custom_job(
        &self,
        msg: &SetCustomMiningJob,
        channel: &mut ExtendedChannel,
        pool_job: Option<&PoolJob>,
        now_unix: u64,
    ) -> (Message, Option<u64>) {
        let error = |code: &str| {
            metrics::counter!("pool_custom_jobs_rejected_total", "reason" => code.to_owned())
                .increment(1);
            Message::from(SetCustomMiningJobError {
                channel_id: msg.channel_id,
                request_id: msg.request_id,
                error_code: code.to_owned(),
            })
        };
        let checked = match self.check(msg, channel.full_extranonce_len(), pool_job, now_unix) {
            Ok(c) => c,
            Err(code) => return (error(code), None),
        };
        match channel.add_custom_job(&checked.template, checked.tip) {
            Ok(job_id) => {
                metrics::counter!("pool_custom_jobs_total").increment(1);
                tracing::debug!(
                    channel = msg.channel_id,
                    job_id,
                    height = checked.height,
                    "custom job set"
                );
                (
                    Message::from(SetCustomMiningJobSuccess {
                        channel_id: msg.channel_id,
                        request_id: msg.request_id,
                        job_id,
                    }),
                    Some(checked.height),
                )
            }
            Err(e) => {
                tracing::debug!(error = %e, "custom job refused by the channel");
                (error(error_codes::INVALID_COINBASE_TX), None)
            }
        }
    }
}

/// The pool's own template source moved to `job`: a work-selection channel whose custom jobs
/// mine a lower height than `job` gets the pool's tip, which makes those jobs stale.
/// `custom_height` is the height of the channel's latest custom job (0 if none).
pub fn follow_pool_tip(channel: &mut ExtendedChannel, job: &PoolJob, custom_height: u64) {
    if job.height <= custom_height {
        return;
    }
    if channel
        .chain_tip()
        .is_some_and(|t| t.prev_hash == job.prev_hash)
    {
        return;
    }
    let tip = ChainTip {
        prev_hash: job.prev_hash,
        min_ntime: job.min_ntime,
        nbits: job.nbits,
    };
    if let Err(e) = channel.set_chain_tip(tip) {
        tracing::warn!(error = %e, "cannot move a work-selection channel to the pool's tip");
    }
}

/// The token key from `[job_declaration]`: `token_secret` (64 hex digits) or the contents of
/// `token_secret_file`.
pub fn key_from_config(
    cfg: &crate::config::JobDeclarationConfig,
) -> Result<TokenKey, crate::config::ConfigError> {
    role_kit::config::hex_secret(
        "job_declaration",
        "token_secret",
        cfg.token_secret.as_deref(),
        cfg.token_secret_file.as_deref(),
        "generate one with `openssl rand -hex 32` and give the same to sv2-jd-server",
        TokenKey::from_hex,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::ScriptBuf;
    use sv2_mining::channel::ChannelConfig;
    use sv2_mining::coinbase::{CoinbaseBuilder, Payout};

    const NOW: u64 = 1_700_000_000;

    fn declared_message(key: &TokenKey, height: u32) -> SetCustomMiningJob {
        let parts = CoinbaseBuilder::new(height, 5_000_000_000, 16)
            .payout(ScriptBuf::from_bytes(vec![0x51]), Payout::Remainder(1))
            .build()
            .unwrap();
        let split = CoinbaseSplit::from_parts(&parts).unwrap();
        let path = vec![[3u8; 32]];
        let commitment = custom_job_commitment(0x2000_0000, &split, &path, &[4; 32], 0x207f_ffff);
        SetCustomMiningJob {
            channel_id: 9,
            request_id: 1,
            token: key.mint_declared(1, NOW + 60, &commitment),
            version: 0x2000_0000,
            prev_hash: [4; 32],
            min_ntime: NOW as u32,
            nbits: 0x207f_ffff,
            coinbase_tx_version: split.tx_version,
            coinbase_prefix: split.script_head.clone(),
            coinbase_tx_input_n_sequence: split.sequence,
            coinbase_tx_outputs: split.outputs.clone(),
            coinbase_tx_locktime: split.locktime,
            merkle_path: path,
        }
    }

    fn channel(rollable: usize) -> ExtendedChannel {
        ExtendedChannel::new(
            9,
            vec![1; 16 - rollable],
            rollable,
            1e6,
            Target::MAX,
            ChannelConfig::default(),
            NOW * 1000,
        )
        .unwrap()
    }

    fn code(m: &Message) -> Option<String> {
        match m {
            Message::Mining(sv2_codec::MiningMessage::SetCustomMiningJobError(e)) => {
                Some(e.error_code.clone())
            }
            _ => None,
        }
    }

    #[test]
    fn declared_job_is_set_on_the_channel() {
        let key = TokenKey::new([1; 32]);
        let v = CustomJobVerifier::new(key.clone());
        let msg = declared_message(&key, 500);
        let mut ch = channel(8);
        let (reply, height) = v.set_custom_job(&msg, &mut ch, None, NOW);
        assert_eq!(height, Some(500));
        match reply {
            Message::Mining(sv2_codec::MiningMessage::SetCustomMiningJobSuccess(s)) => {
                assert_eq!((s.channel_id, s.request_id), (9, 1));
                assert!(ch.jobs().active().is_some_and(|j| j.job_id() == s.job_id));
                assert!(is_custom_template(
                    ch.jobs().active().unwrap().template_id()
                ));
            }
            other => panic!("expected success, got {other:?}"),
        }
        assert_eq!(ch.chain_tip().map(|t| t.prev_hash), Some([4; 32]));
    }

    #[test]
    fn anything_but_the_declared_job_is_refused() {
        let key = TokenKey::new([1; 32]);
        let v = CustomJobVerifier::new(key.clone());
        let good = declared_message(&key, 500);
        let cases: Vec<(SetCustomMiningJob, &str)> = vec![
            (
                SetCustomMiningJob {
                    coinbase_tx_outputs: {
                        // Same shape, another payee.
                        let mut o = good.coinbase_tx_outputs.clone();
                        if let Some(last) = o.last_mut() {
                            *last ^= 1;
                        }
                        o
                    },
                    ..good.clone()
                },
                error_codes::INVALID_MINING_JOB_TOKEN,
            ),
            (
                SetCustomMiningJob {
                    prev_hash: [5; 32],
                    ..good.clone()
                },
                error_codes::INVALID_MINING_JOB_TOKEN,
            ),
            (
                SetCustomMiningJob {
                    merkle_path: vec![],
                    ..good.clone()
                },
                error_codes::INVALID_MINING_JOB_TOKEN,
            ),
            (
                SetCustomMiningJob {
                    token: TokenKey::new([2; 32]).mint_declared(1, NOW + 60, &[0; 32]),
                    ..good.clone()
                },
                error_codes::INVALID_MINING_JOB_TOKEN,
            ),
            (
                SetCustomMiningJob {
                    token: good.token[..10].to_vec(),
                    ..good.clone()
                },
                error_codes::INVALID_MINING_JOB_TOKEN,
            ),
            (
                SetCustomMiningJob {
                    coinbase_tx_outputs: vec![0],
                    ..good.clone()
                },
                error_codes::INVALID_COINBASE_TX,
            ),
            (
                SetCustomMiningJob {
                    min_ntime: (NOW + 3 * 3600) as u32,
                    ..good.clone()
                },
                error_codes::INVALID_MIN_NTIME,
            ),
        ];
        for (msg, expected) in cases {
            let mut ch = channel(8);
            let (reply, height) = v.set_custom_job(&msg, &mut ch, None, NOW);
            assert_eq!(code(&reply).as_deref(), Some(expected));
            assert_eq!(height, None);
            assert!(ch.jobs().active().is_none());
        }
        // Expired token.
        let mut ch = channel(8);
        let (reply, _) = v.set_custom_job(&good, &mut ch, None, NOW + 61);
        assert_eq!(
            code(&reply).as_deref(),
            Some(error_codes::INVALID_MINING_JOB_TOKEN)
        );
        // A channel with another extranonce size cannot take a job declared for 16 bytes.
        let mut ch = ExtendedChannel::new(
            9,
            vec![1; 4],
            8,
            1e6,
            Target::MAX,
            ChannelConfig::default(),
            NOW * 1000,
        )
        .unwrap();
        let (reply, _) = v.set_custom_job(&good, &mut ch, None, NOW);
        assert_eq!(
            code(&reply).as_deref(),
            Some(error_codes::INVALID_MINING_JOB_TOKEN)
        );
    }
}
