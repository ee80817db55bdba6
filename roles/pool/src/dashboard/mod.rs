//! The pool's HTTP port: `/metrics` (Prometheus text: the recorder's metrics followed by the
//! treasury figures) and the read-only treasury dashboard (`/`), with its assets embedded in
//! the binary. The dashboard is limited to loopback clients unless `dashboard.token` is set,
//! in which case it needs `Authorization: Bearer <token>` or `?token=<token>` from anyone.
//! `/health` answers `200 ready` while the pool's node is usable and `503` with the reason
//! otherwise (for load balancers and orchestrators; open to every client, cheap).

pub mod page;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::task::JoinHandle;

use crate::accounting::unix_now;
use crate::template::NodeState;
use crate::treasury::config::DashboardConfig;
use crate::treasury::ledger::Ledger;

const STYLE: &str = include_str!("static/style.css");
const SCRIPT: &str = include_str!("static/app.js");

/// What the HTTP port serves.
#[derive(Clone)]
pub struct HttpState {
    /// The Prometheus recorder (its metrics are rendered on `/metrics`).
    pub prometheus: Option<PrometheusHandle>,
    /// The treasury ledger (dashboard and treasury metrics), if configured.
    pub ledger: Option<Arc<Ledger>>,
    /// Dashboard access settings.
    pub dashboard: DashboardConfig,
    /// What `/health` reports.
    pub readiness: Readiness,
}

/// The node state `/health` reports: attached once the pool runs (until then `starting`).
#[derive(Clone, Default)]
pub struct Readiness(Arc<std::sync::OnceLock<tokio::sync::watch::Receiver<NodeState>>>);

impl Readiness {
    /// Reports `state` from now on (the first call wins).
    pub fn attach(&self, state: tokio::sync::watch::Receiver<NodeState>) {
        let _ = self.0.set(state);
    }

    /// The current state (`Starting` before [`Readiness::attach`]).
    pub fn state(&self) -> NodeState {
        self.0.get().map_or(NodeState::Starting, |rx| *rx.borrow())
    }
}

/// The `/health` answer for a node state.
fn health(state: NodeState) -> Response<Full<Bytes>> {
    match state {
        NodeState::Ready => text(StatusCode::OK, "ready\n"),
        NodeState::Starting => text(StatusCode::SERVICE_UNAVAILABLE, "starting\n"),
        NodeState::Syncing => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "bitcoind is in initial block download\n",
        ),
        NodeState::Unreachable => text(StatusCode::SERVICE_UNAVAILABLE, "bitcoind unreachable\n"),
    }
}

/// Binds `addr` and serves until the returned task is aborted. Returns the bound address.
pub fn serve(addr: SocketAddr, state: HttpState) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let std_listener = std::net::TcpListener::bind(addr)?;
    std_listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(std_listener)?;
    let local = listener.local_addr()?;
    let state = Arc::new(state);
    let task = tokio::spawn(async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "http accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let state = state.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(handle(req, peer, &state).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), svc);
                let _ = tokio::time::timeout(std::time::Duration::from_secs(120), conn).await;
            });
        }
    });
    Ok((local, task))
}

fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    respond(status, "text/plain; charset=utf-8", body)
}

/// Constant-time comparison (the token must not leak through timing).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether the request may see the dashboard.
pub fn allowed(
    cfg: &DashboardConfig,
    peer: SocketAddr,
    authorization: Option<&str>,
    query: Option<&str>,
) -> bool {
    match cfg.token.as_deref().filter(|t| !t.is_empty()) {
        None => peer.ip().is_loopback(),
        Some(token) => {
            let bearer = authorization
                .and_then(|h| h.strip_prefix("Bearer "))
                .is_some_and(|t| same(t.trim().as_bytes(), token.as_bytes()));
            let param = query.is_some_and(|q| {
                q.split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .any(|(k, v)| k == "token" && same(v.as_bytes(), token.as_bytes()))
            });
            bearer || param
        }
    }
}

async fn blocking_page<F>(f: F) -> Response<Full<Bytes>>
where
    F: FnOnce() -> Result<Response<Full<Bytes>>, String> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "dashboard query failed");
            text(StatusCode::SERVICE_UNAVAILABLE, "ledger unavailable\n")
        }
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"),
    }
}

async fn handle(
    req: Request<Incoming>,
    peer: SocketAddr,
    state: &HttpState,
) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
    }
    let path = req.uri().path().to_owned();
    match path.as_str() {
        "/metrics" => {
            let prom = state.prometheus.clone();
            let ledger = state.ledger.clone();
            blocking_page(move || {
                let mut body = prom.map(|h| h.render()).unwrap_or_default();
                if let Some(l) = ledger {
                    body.push_str(
                        &crate::treasury::metrics::render(&l, unix_now())
                            .map_err(|e| e.to_string())?,
                    );
                }
                Ok(respond(
                    StatusCode::OK,
                    "text/plain; version=0.0.4; charset=utf-8",
                    body,
                ))
            })
            .await
        }
        "/health" => health(state.readiness.state()),
        "/dashboard/style.css" => respond(StatusCode::OK, "text/css; charset=utf-8", STYLE),
        "/dashboard/app.js" => respond(StatusCode::OK, "text/javascript; charset=utf-8", SCRIPT),
        "/" | "/dashboard" | "/dashboard/" => {
            if !state.dashboard.enabled {
                return text(StatusCode::NOT_FOUND, "dashboard disabled\n");
            }
            let auth = req
                .headers()
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            if !allowed(&state.dashboard, peer, auth, req.uri().query()) {
                return if state.dashboard.token.is_some() {
                    let mut r = text(StatusCode::UNAUTHORIZED, "token required\n");
                    r.headers_mut()
                        .insert("www-authenticate", HeaderValue::from_static("Bearer"));
                    r
                } else {
                    text(StatusCode::FORBIDDEN, "the dashboard is only served to loopback clients; set dashboard.token to open it\n")
                };
            }
            let Some(ledger) = state.ledger.clone() else {
                return text(StatusCode::NOT_FOUND, "no [treasury] ledger configured\n");
            };
            blocking_page(move || {
                let html = page::render(&ledger, unix_now()).map_err(|e| e.to_string())?;
                Ok(respond(StatusCode::OK, "text/html; charset=utf-8", html))
            })
            .await
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_rules() {
        let open = DashboardConfig {
            enabled: true,
            token: None,
        };
        let lo: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let remote: SocketAddr = "10.1.2.3:5000".parse().unwrap();
        assert!(allowed(&open, lo, None, None));
        assert!(!allowed(&open, remote, None, None));
        let tok = DashboardConfig {
            enabled: true,
            token: Some("s3cret".into()),
        };
        assert!(!allowed(&tok, lo, None, None));
        assert!(allowed(&tok, remote, Some("Bearer s3cret"), None));
        assert!(!allowed(&tok, remote, Some("Bearer s3cre"), None));
        assert!(allowed(&tok, remote, None, Some("a=1&token=s3cret")));
        assert!(!allowed(&tok, remote, None, Some("token=x")));
    }
}
