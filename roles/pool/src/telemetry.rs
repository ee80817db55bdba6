//! Logging (`tracing`) and metrics (`metrics` with a Prometheus endpoint) setup.

use std::net::SocketAddr;

/// Installs the global tracing subscriber; `RUST_LOG` overrides `default_filter`.
pub fn init_logging(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}

/// Errors starting the metrics endpoint.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the Prometheus endpoint on {addr}: {detail}")]
pub struct MetricsError {
    /// Address that was requested.
    pub addr: String,
    /// What failed.
    pub detail: String,
}

/// Starts the Prometheus exporter's HTTP listener at `addr` (serves `/metrics`) and registers
/// histogram buckets suited to the pool's latencies.
pub fn init_metrics(addr: SocketAddr) -> Result<(), MetricsError> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets_for_metric(
            Matcher::Suffix("_seconds".into()),
            &[
                0.000_001, 0.000_005, 0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01,
                0.05, 0.1, 0.5, 1.0, 5.0,
            ],
        )
        .map_err(|e| MetricsError {
            addr: addr.to_string(),
            detail: e.to_string(),
        })?
        .install()
        .map_err(|e| MetricsError {
            addr: addr.to_string(),
            detail: e.to_string(),
        })
}
