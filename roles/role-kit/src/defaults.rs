//! Default values of config keys that several roles share, as functions for
//! `#[serde(default = "role_kit::defaults::...")]` and for the roles' `Default` impls. Each
//! names the keys it is the default of; a role whose default differs keeps its own.

/// `cert_validity_secs` of an SV2 listener's section: certificates are valid an hour.
pub fn cert_validity_secs() -> u64 {
    3600
}

/// `bitcoind.rpc_timeout_secs`: timeout of ordinary RPC calls.
pub fn rpc_timeout_secs() -> u64 {
    10
}

/// `bitcoind.min_fee_refresh_secs` of the roles that build templates (pool, job declarator
/// client).
pub fn min_fee_refresh_secs() -> u64 {
    30
}

/// `bitcoind.poll_interval_ms` of the job declaration roles (server and client).
pub fn jd_poll_interval_ms() -> u64 {
    500
}

/// `share_interval_secs` of the SV2 roles serving miners (pool, job declarator client):
/// vardiff aims at one share per channel every 5 s.
pub fn share_interval_secs() -> f64 {
    5.0
}

/// `initial_difficulty` of the SV2 roles serving miners.
pub fn initial_difficulty() -> f64 {
    1024.0
}

/// `min_difficulty` of the SV2 roles serving miners.
pub fn min_difficulty() -> f64 {
    0.001
}

/// `max_difficulty` of the SV2 roles serving miners.
pub fn max_difficulty() -> f64 {
    1e15
}

/// `version_rolling_mask`: every BIP320 bit, hex.
pub fn version_rolling_mask() -> String {
    "1fffe000".into()
}

/// `share_ack_batch`: one `SubmitShares.Success` per this many accepted shares...
pub fn share_ack_batch() -> u32 {
    16
}

/// ...or `share_ack_interval_ms` after the first unacknowledged one.
pub fn share_ack_interval_ms() -> u64 {
    100
}

/// `limits.handshake_timeout_secs` of the SV2 servers (pool, job declarator server).
pub fn handshake_timeout_secs() -> u64 {
    10
}

/// `limits.setup_timeout_secs` of the SV2 servers.
pub fn setup_timeout_secs() -> u64 {
    10
}
