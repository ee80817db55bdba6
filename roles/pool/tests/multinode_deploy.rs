//! The multi-node deployment files in `deploy/` stay consistent with the code: the compose pool
//! config is a valid config once its placeholders are filled (with a node id per node), and
//! every metric the Grafana dashboard and the Prometheus alert rules query is one the pool or
//! the translator exports.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pool::config::PoolConfig;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every Rust source under `dir`, concatenated.
fn sources(dir: &Path, out: &mut String) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
        }
    }
}

/// Metric names (`pool_*`, `treasury_*`, `translator_*`) mentioned in `text`, without the
/// histogram suffixes Prometheus adds.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let rest = &text[i..];
        if starts_word
            && ["pool_", "treasury_", "translator_"]
                .iter()
                .any(|p| rest.starts_with(p))
        {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let mut name = rest[..len].to_owned();
            for suffix in ["_bucket", "_sum", "_count"] {
                if let Some(base) = name.strip_suffix(suffix) {
                    name = base.to_owned();
                }
            }
            out.insert(name);
            i += len;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn compose_pool_config_is_valid_once_filled_in() {
    let text = read("deploy/compose/pool.toml")
        .replace(
            "REPLACE_WITH_AUTHORITY_PUBLIC_KEY",
            "9auqWEzQDVyd2oe1JVGFLMLHZtCo2FFqZwtKA5gd9xbuEu7PH72",
        )
        .replace(
            "REPLACE_WITH_AUTHORITY_SECRET_KEY",
            "mkDLTBBRxdBv998612qipDYoTK3YUrqLe8uWw7gu3iXbSrn2n",
        )
        .replace(
            "REPLACE_WITH_TREASURY_ADDRESS",
            "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
        );
    let cfg = PoolConfig::parse(&text).expect("compose/pool.toml is valid");
    assert_eq!(
        cfg.metrics.listen, "0.0.0.0:9184",
        "Prometheus must reach it"
    );
    // A second node differs only in its node id.
    let node2 = PoolConfig::parse(&text.replace("node_id = 0", "node_id = 2")).expect("node 2");
    assert_eq!(node2.server.node_id, 2);
    // With its placeholders the file refuses to start (nobody runs the example keys by mistake).
    assert!(PoolConfig::parse(&read("deploy/compose/pool.toml")).is_err());
}

#[test]
fn dashboards_and_alerts_query_exported_metrics() {
    let mut code = String::new();
    for dir in ["roles/pool/src", "roles/translator/src"] {
        sources(&repo().join(dir), &mut code);
    }
    let dashboard = read("deploy/grafana/dashboards/sv2-pool.json");
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).expect("dashboard JSON");
    assert!(parsed["panels"].as_array().is_some_and(|p| p.len() > 10));
    let mut used = metric_names(&dashboard);
    used.extend(metric_names(&read("deploy/prometheus/sv2-pool.rules.yml")));
    for required in [
        "pool_site_hashrate",
        "pool_hashrate",
        "pool_shares_accepted_total",
        "pool_shares_rejected_total",
        "pool_blocks_found_total",
        "treasury_balance_sats",
        "treasury_site_uptime_ratio",
    ] {
        assert!(used.contains(required), "the dashboard shows {required}");
    }
    // Names are in the sources either literally or as the translator's constants.
    let missing: Vec<&String> = used
        .iter()
        .filter(|m| !code.contains(&format!("\"{m}\"")) && !code.contains(&format!("{m}{{")))
        .collect();
    assert!(
        missing.is_empty(),
        "queried but never exported: {missing:?}"
    );
    // HAProxy's health check asks the pool's readiness endpoint.
    let haproxy = read("deploy/haproxy/haproxy.cfg");
    assert!(haproxy.contains("http-check send meth GET uri /health"));
    assert!(haproxy.contains("http-check expect status 200"));
}

#[test]
fn metric_names_are_extracted_without_suffixes() {
    let names = metric_names(
        "rate(pool_x_total[5m]) histogram_quantile(0.9, pool_y_seconds_bucket) my_pool_z treasury_a{b=\"c\"}",
    );
    let want: BTreeSet<String> = ["pool_x_total", "pool_y_seconds", "treasury_a"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(names, want);
}
