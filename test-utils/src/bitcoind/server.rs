//! The HTTP/1.1 side: accept loop (which can be taken down and brought back on the same port),
//! Basic auth, cookie file, stalls, and turning HTTP requests into JSON-RPC calls.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use super::envelope::{codes, http_status, parse_call, reply_value, RpcError, Version};
use super::methods::dispatch;
use super::shared::Shared;

/// User name that goes with the cookie password.
pub const COOKIE_USER: &str = "__cookie__";

/// Largest request body accepted (a 4 MWU block is at most 8 MB of hex).
const MAX_BODY: usize = 32 * 1024 * 1024;

/// Commands from the handle to the accept loop.
#[derive(Debug)]
pub enum Command {
    /// Close (true) or reopen (false) the listener; the reply says when it is done.
    SetDown(bool, oneshot::Sender<std::io::Result<()>>),
}

/// Writes `<dir>/.cookie` with `__cookie__:<64 hex chars>`; returns the path and the password.
pub fn write_cookie(dir: &Path) -> std::io::Result<(PathBuf, String)> {
    use bitcoin::secp256k1::rand::RngCore;
    let mut secret = [0u8; 32];
    bitcoin::secp256k1::rand::thread_rng().fill_bytes(&mut secret);
    let password = hex::encode(secret);
    std::fs::create_dir_all(dir)?;
    let path = dir.join(".cookie");
    std::fs::write(&path, format!("{COOKIE_USER}:{password}"))?;
    Ok((path, password))
}

/// Runs until the command channel closes: accepts connections while up, drops the listener
/// and every open connection while down.
pub async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut commands: mpsc::Receiver<Command>,
) {
    let addr = listener.local_addr().ok();
    let mut listener = Some(listener);
    let mut connections: JoinSet<()> = JoinSet::new();
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                None => break,
                Some(Command::SetDown(true, reply)) => {
                    listener = None;
                    connections.abort_all();
                    while connections.join_next().await.is_some() {}
                    let _ = reply.send(Ok(()));
                }
                Some(Command::SetDown(false, reply)) => {
                    let result = match (&listener, addr) {
                        (Some(_), _) => Ok(()),
                        (None, Some(addr)) => TcpListener::bind(addr).await.map(|l| listener = Some(l)),
                        (None, None) => Err(std::io::Error::other("listener address unknown")),
                    };
                    let _ = reply.send(result);
                }
            },
            accepted = accept(listener.as_ref()) => match accepted {
                Ok(stream) => {
                    let shared = Arc::clone(&shared);
                    connections.spawn(serve_connection(stream, shared));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "bitcoind stand-in: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
}

async fn accept(listener: Option<&TcpListener>) -> std::io::Result<TcpStream> {
    match listener {
        Some(l) => l.accept().await.map(|(stream, _)| stream),
        None => std::future::pending().await,
    }
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |req| {
        let shared = Arc::clone(&shared);
        async move { Ok::<_, Infallible>(handle(&shared, req).await) }
    });
    let result = http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .await;
    if let Err(e) = result {
        tracing::debug!(error = %e, "bitcoind stand-in: connection ended with an error");
    }
}

fn plain(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=ISO-8859-1"),
    );
    response
}

fn json(status: u16, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn authorized(shared: &Shared, req: &Request<Incoming>) -> bool {
    let Some(value) = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(encoded) = value.strip_prefix("Basic ") else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(decoded) = String::from_utf8(decoded) else {
        return false;
    };
    let Some((user, password)) = decoded.split_once(':') else {
        return false;
    };
    shared.credentials.accepts(user, password)
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    shared.wait_unstalled().await;
    let path = req.uri().path();
    if path != "/" && !path.starts_with("/wallet/") {
        return plain(StatusCode::NOT_FOUND, "");
    }
    if req.method() != Method::POST {
        return plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "JSONRPC server handles only POST requests",
        );
    }
    if !authorized(shared, &req) {
        tokio::time::sleep(shared.auth_failure_delay).await;
        let mut response = plain(StatusCode::UNAUTHORIZED, "");
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"jsonrpc\""),
        );
        return response;
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return plain(StatusCode::BAD_REQUEST, ""),
    };
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => {
            let outcome = Err(RpcError::new(codes::PARSE_ERROR, "Parse error"));
            let reply = reply_value(Version::Legacy, None, &outcome);
            return json(
                http_status(Version::Legacy, &outcome),
                format!("{}\n", reply.get()),
            );
        }
    };
    match parsed {
        Value::Array(requests) => {
            let mut replies: Vec<Box<RawValue>> = Vec::with_capacity(requests.len());
            for request in requests {
                if let Some((_, reply)) = run_one(shared, request).await {
                    replies.push(reply);
                }
            }
            let body = serde_json::to_string(&replies).unwrap_or_else(|_| "[]".to_owned());
            json(200, format!("{body}\n"))
        }
        single => match run_one(shared, single).await {
            Some((status, reply)) => json(status, format!("{}\n", reply.get())),
            None => {
                let mut response = Response::new(Full::new(Bytes::new()));
                *response.status_mut() = StatusCode::NO_CONTENT;
                response
            }
        },
    }
}

/// Runs one request object; `None` for a JSON-RPC 2.0 notification (no reply).
async fn run_one(shared: &Shared, request: Value) -> Option<(u16, Box<RawValue>)> {
    let (version, id, outcome) = match parse_call(request) {
        Ok(call) => {
            let outcome = dispatch(shared, &call).await;
            (call.version, call.id, outcome)
        }
        Err(bad) => (bad.version, bad.id, Err(bad.error)),
    };
    if version == Version::V2 && id.is_none() {
        return None;
    }
    Some((
        http_status(version, &outcome),
        reply_value(version, id.as_ref(), &outcome),
    ))
}
