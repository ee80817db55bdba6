//! Metrics setup (`metrics` with a Prometheus recorder); the HTTP port serving `/metrics` and
//! the dashboard is [`crate::dashboard`]. Logging is set up by `role_kit::cli::init_logging`.

use std::net::SocketAddr;

pub use role_kit::cli::MetricsError;

static RECORDER: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
    std::sync::OnceLock::new();

/// Installs the global Prometheus recorder (no listener of its own) with histogram buckets
/// suited to the pool's latencies, once per process; later calls return the same handle.
pub fn install_recorder() -> Result<metrics_exporter_prometheus::PrometheusHandle, MetricsError> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    if let Some(h) = RECORDER.get() {
        return Ok(h.clone());
    }
    let err = |detail: String| MetricsError {
        addr: "(recorder)".into(),
        detail,
    };
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("_seconds".into()),
            &[
                0.000_001, 0.000_005, 0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01,
                0.05, 0.1, 0.5, 1.0, 5.0,
            ],
        )
        .map_err(|e| err(e.to_string()))?
        .install_recorder()
        .map_err(|e| err(e.to_string()))?;
    Ok(RECORDER.get_or_init(|| handle).clone())
}

/// Installs the recorder and serves `/metrics` at `addr` (no ledger, no dashboard). Must be
/// called inside a tokio runtime.
pub fn init_metrics(addr: SocketAddr) -> Result<(), MetricsError> {
    init_http(
        addr,
        None,
        crate::treasury::config::DashboardConfig::default(),
        crate::dashboard::Readiness::default(),
    )
    .map(|_| ())
}

/// Installs the recorder and serves `/metrics` plus, with a ledger, the treasury figures and
/// the dashboard at `addr`, and `/health` from `readiness`. Returns the bound address. Must be
/// called inside a tokio runtime.
pub fn init_http(
    addr: SocketAddr,
    ledger: Option<std::sync::Arc<crate::treasury::Ledger>>,
    dashboard: crate::treasury::config::DashboardConfig,
    readiness: crate::dashboard::Readiness,
) -> Result<SocketAddr, MetricsError> {
    let handle = install_recorder()?;
    let (local, _task) = crate::dashboard::serve(
        addr,
        crate::dashboard::HttpState {
            prometheus: Some(handle),
            ledger,
            dashboard,
            readiness,
        },
    )
    .map_err(|e| MetricsError {
        addr: addr.to_string(),
        detail: e.to_string(),
    })?;
    Ok(local)
}
