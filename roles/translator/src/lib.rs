//! `sv2-translator`: puts a fleet of Stratum V1 ASICs behind Noise-encrypted Stratum V2
//! extended channels.
//!
//! Each site runs one translator. Miners connect with their stock firmware
//! (`stratum+tcp://translator:3333`); the translator speaks SV2 to an ordered list of pools and
//! fails over between them while keeping the miners' sockets open.
//!
//! # Layout
//! A thin tokio shell ([`runtime`]) around sans-IO state machines that take messages and the
//! current time and return messages:
//! * [`downstream::Downstream`]: one SV1 miner (handshake, version rolling, vardiff, its jobs);
//! * [`upstream::UpstreamSession`]: one SV2 connection (setup, request ids, sequence numbers,
//!   acknowledgements) and [`channel::UpstreamChannel`]: one extended channel (prefix, target,
//!   future/active jobs);
//! * [`bridge::Bridge`]: the job mapper between them (notify construction, share validation
//!   and forwarding, aggregate hashrate, failover behaviour towards miners);
//! * [`failover::FailoverPolicy`]: which pool to try next and when.
//!
//! Supporting modules: [`config`] (TOML, validated with key + fix in every error),
//! [`extranonce`] (the coinbase layout), [`job`] (one job in SV1 form), [`worker`] (naming
//! rule), [`telemetry`] (logging, Prometheus metrics).
//!
//! # Channel modes
//! * `aggregate`: one extended channel for all miners. The pool sees one worker,
//!   `<site>.<aggregate_worker>`; its target follows the summed hashrate (`UpdateChannel`), so
//!   the share rate upstream stays bounded however many miners sit behind the translator.
//! * `per-miner`: one extended channel per miner, identity `<site>.<worker>`: the pool
//!   accounts every worker, at the cost of one job stream per miner.
//!
//! # Compared with the SRI translator (`translator_sv2` 0.6.0)
//! Where we match it:
//! * handshake order: `mining.configure` is optional, subscribe and authorize may come in
//!   either order, responses are sent at once, and jobs start only after both: first
//!   `mining.set_difficulty`, then `mining.notify`;
//! * version bits: the share version is `(job_version & !mask) | (version_bits & mask)` (BIP310)
//!   and the granted mask is the miner's request intersected with the BIP320 bits the pool
//!   allows (`1fffe000`);
//! * shares are validated locally and forwarded as `SubmitSharesExtended` only when they meet
//!   the upstream channel target; `SetNewPrevHash` maps to `clean_jobs = true`;
//! * aggregate and per-miner channel modes, an ordered upstream list with failover.
//!
//! Where we deliberately differ:
//! * **extranonce layout**: SRI sends `upstream prefix | local index` as `extranonce1` with
//!   `coinb1 = coinbase_tx_prefix`. We put the upstream prefix at the end of `coinb1` and give
//!   each miner a translator-local `extranonce1` (see [`extranonce`]). A `SetExtranoncePrefix`
//!   or a failover therefore never changes a miner's extranonce1; SRI must send
//!   `mining.set_extranonce` before the first job with a new prefix and disconnects miners that
//!   did not announce support. We send `mining.set_extranonce` only when a pool leaves fewer
//!   extranonce bytes than miners use (extranonce2 shrinks), and `client.reconnect` to miners
//!   that cannot take it;
//! * **difficulty changes**: SRI holds a new difficulty until the next job and sends them
//!   together; we send `mining.set_difficulty` at once followed by the current job under a
//!   fresh id, and accept shares at the easier of the job's and the current difficulty;
//! * **configure answers**: SRI answers `minimum-difficulty` with `false`; we honour it as a
//!   floor for the miner's vardiff and answer `true` (and answer `subscribe-extranonce`);
//! * **upstream identity**: aggregate channels are `<site>.<aggregate_worker>` (SRI:
//!   `<account>.translator-proxy`), per-miner channels `<site>.<worker>` (see [`worker`]);
//! * **failover**: SRI's fallback tears down its SV1 server state (`cleanup` on the fallback
//!   token) and bootstraps it again, so miners reconnect. We keep the SV1 sockets open: shares
//!   on the lost pool's jobs are still validated and answered (not forwarded), and the next
//!   pool's first job reaches every miner with `clean_jobs`. We send no keepalive jobs (the
//!   pool refreshes jobs itself); after a long outage miners are sent `client.reconnect` so
//!   their own backup pools take over.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod bridge;
pub mod channel;
pub mod config;
pub mod downstream;
pub mod extranonce;
pub mod failover;
pub mod job;
pub mod runtime;
pub mod telemetry;
pub mod upstream;
pub mod worker;

pub use config::{ChannelMode, ConfigError, Settings, TranslatorConfig};
pub use runtime::{start_translator, StartError, Status, TranslatorHandle};
