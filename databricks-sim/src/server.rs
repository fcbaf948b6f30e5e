//! HTTPS listeners: one per workspace, faults applied before routing, every request recorded.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

use crate::Shared;
use crate::faults::{FaultKind, take_fault};
use crate::state::RequestRecord;

/// Routing state: the shared world plus which workspace this port is.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub shared: Arc<Shared>,
    pub workspace: String,
    pub port: u16,
}

impl Ctx {
    /// The shared world, locked for this request.
    pub fn world(&self) -> std::sync::MutexGuard<'_, crate::state::World> {
        self.shared.world.lock().expect("world lock")
    }
}

/// Filled in by handlers so the request log can name the principal and the SQL.
#[derive(Clone, Default)]
pub(crate) struct PrincipalSlot(pub Arc<Mutex<Notes>>);

#[derive(Default)]
pub(crate) struct Notes {
    pub principal: Option<String>,
    pub sql: Option<String>,
}

/// A statement failure injected by a fault, for the statement handler to apply.
#[derive(Clone, Debug)]
pub(crate) struct InjectedFailure {
    pub error_code: String,
    pub message: String,
}

/// Signals the connection to be dropped without a response.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fault: connection dropped")
    }
}
impl std::error::Error for DropConnection {}

/// Accepts TLS connections until shutdown.
pub(crate) async fn serve(
    listener: TcpListener,
    ctx: Ctx,
    router: Router,
    tls: Arc<rustls::ServerConfig>,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        let ctx = ctx.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                handle(ctx.clone(), router.clone(), req)
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(tls), service);
            tokio::select! {
                _ = conn => {}
                _ = shutdown.changed() => {}
            }
        });
    }
}

// Long: faults, routing and logging of one request belong together, in request order.
async fn handle(
    ctx: Ctx,
    router: Router,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, DropConnection> {
    let start_ms = crate::state::now_millis();
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let admin = path.starts_with("/_sim/");
    let fault = if admin {
        None
    } else {
        let mut world = ctx.world();
        world
            .workspaces
            .get_mut(&ctx.workspace)
            .and_then(|w| take_fault(&mut w.faults, &method, &path))
    };
    let record = |status: u16, notes: Notes| {
        if admin {
            return;
        }
        tracing::info!(workspace = %ctx.workspace, %method, %path, status, "request");
        ctx.shared
            .world
            .lock()
            .expect("world lock")
            .requests
            .push(RequestRecord {
                workspace: ctx.workspace.clone(),
                method: method.clone(),
                path: path.clone(),
                status,
                principal: notes.principal,
                sql: notes.sql,
                start_ms,
                finish_ms: crate::state::now_millis(),
            });
    };
    let mut injected = None;
    match fault {
        Some(FaultKind::Latency { millis }) => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
        }
        Some(FaultKind::Status {
            status,
            retry_after,
            error_code,
            message,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut resp = crate::api::error(status, &error_code, &message);
            if let Some(ra) = retry_after
                && let Ok(v) = HeaderValue::from_str(&ra)
            {
                resp.headers_mut().insert("retry-after", v);
            }
            record(status.as_u16(), Notes::default());
            return Ok(resp);
        }
        Some(FaultKind::Body {
            status,
            retry_after,
            body,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut resp = crate::api::respond(status, body);
            if let Some(ra) = retry_after
                && let Ok(v) = HeaderValue::from_str(&ra)
            {
                resp.headers_mut().insert("retry-after", v);
            }
            record(status.as_u16(), Notes::default());
            return Ok(resp);
        }
        Some(FaultKind::Padded { body, item, bytes }) => {
            let resp = axum::http::Response::builder()
                .status(StatusCode::OK)
                .header(axum::http::header::CONTENT_TYPE, "application/json")
                .body(axum::body::Body::from(padded(&body, &item, bytes)))
                .expect("valid response");
            record(200, Notes::default());
            return Ok(resp);
        }
        Some(FaultKind::DropConnection) => {
            record(0, Notes::default());
            return Err(DropConnection);
        }
        Some(FaultKind::StatementFailed {
            error_code,
            message,
        }) => {
            injected = Some(InjectedFailure {
                error_code,
                message,
            })
        }
        None => {}
    }
    let slot = PrincipalSlot::default();
    let mut req = req.map(Body::new);
    req.extensions_mut().insert(slot.clone());
    req.extensions_mut().insert(ctx.clone());
    if let Some(f) = injected {
        req.extensions_mut().insert(f);
    }
    let resp: Result<Response<Body>, Infallible> = router.oneshot(req).await;
    let resp = resp.unwrap_or_else(|never| match never {});
    let notes = std::mem::take(&mut *slot.0.lock().expect("slot lock"));
    record(resp.status().as_u16(), notes);
    Ok(resp)
}

/// The body of a [`FaultKind::Padded`] fault, built once per distinct fault (a test sends the
/// same large answer many times; building megabytes per request would only slow the
/// simulator down).
fn padded(body: &serde_json::Value, item: &serde_json::Value, bytes: usize) -> bytes::Bytes {
    type Cache = std::collections::HashMap<(String, String, usize), bytes::Bytes>;
    static CACHE: std::sync::OnceLock<std::sync::Mutex<Cache>> = std::sync::OnceLock::new();
    let key = (body.to_string(), item.to_string(), bytes);
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .expect("not poisoned");
    cache
        .entry(key)
        .or_insert_with_key(|(text, item, bytes)| {
            let room = bytes.saturating_sub(text.len()) / (item.len() + 1);
            let mut pad = String::with_capacity(*bytes);
            pad.push('[');
            for i in 0..room {
                if i > 0 {
                    pad.push(',');
                }
                pad.push_str(item);
            }
            pad.push(']');
            bytes::Bytes::from(text.replacen("\"PAD\"", &pad, 1))
        })
        .clone()
}
