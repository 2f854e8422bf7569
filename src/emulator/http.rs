//! HTTP routing: the push-family APIs (any path under the base URL, always HTTP 200 with the
//! envelope) and the `/emulator/*` inspection endpoints; one log line per request, UserSig redacted.

use super::config::FaultSettings;
use super::service::{self, Call};
use super::state::{Shared, lock};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

/// Largest request body read (the API's own limit, 90056, is checked separately).
const MAX_READ_BYTES: usize = 4 * 1024 * 1024;

/// Put into every request by the connection loop: notifying it closes the connection at once.
#[derive(Clone, Debug)]
pub struct ConnKill(pub Arc<Notify>);

/// The `ErrorCode` of an API response, for the request log.
#[derive(Clone, Copy, Debug)]
struct LoggedCode(u32);

/// The emulator's router.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/emulator/pushes", get(pushes))
        .route("/emulator/stats", get(stats))
        .route("/emulator/reset", post(reset))
        .route("/emulator/faults", post(set_faults).get(get_faults))
        .route("/emulator/clock", post(set_clock).get(get_clock))
        .fallback(api)
        .layer(middleware::from_fn(log_request))
        .with_state(shared)
}

async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let uri = crate::secrets::redact_usersig(&req.uri().to_string());
    let start = Instant::now();
    let resp = next.run(req).await;
    let ms = start.elapsed().as_millis();
    match resp.extensions().get::<LoggedCode>() {
        Some(LoggedCode(code)) => tracing::info!("{method} {uri} -> ErrorCode {code} ({ms} ms)"),
        None => tracing::info!(
            "{method} {uri} -> HTTP {} ({ms} ms)",
            resp.status().as_u16()
        ),
    }
    resp
}

async fn api(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let kill = parts.extensions.get::<ConnKill>().cloned();
    let body = axum::body::to_bytes(body, MAX_READ_BYTES)
        .await
        .unwrap_or_else(|_| Bytes::from_static(b"\0"));
    let outcome = {
        let shared = Arc::clone(&shared);
        let call_path = parts.uri.path().to_owned();
        let query = parts.uri.query().map(str::to_owned);
        let is_post = parts.method == Method::POST;
        // Resolving a condition over a million users takes milliseconds: keep it off the reactor.
        tokio::task::spawn_blocking(move || {
            service::handle(
                &shared,
                Call {
                    is_post,
                    path: &call_path,
                    query: query.as_deref(),
                    body: &body,
                },
            )
        })
        .await
    };
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            tracing::error!("API handler failed: {e}");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
    };
    if !outcome.latency.is_zero() {
        tokio::time::sleep(outcome.latency).await;
    }
    if outcome.drop_response
        && let Some(ConnKill(kill)) = kill
    {
        let uri = crate::secrets::redact_usersig(&parts.uri.to_string());
        tracing::info!(
            "{} {uri} -> ErrorCode {} (response dropped)",
            parts.method,
            outcome.envelope.error_code
        );
        kill.notify_one();
        std::future::pending::<()>().await;
    }
    let code = outcome.envelope.error_code;
    let mut resp = Json(outcome.envelope).into_response();
    let headers = resp.headers_mut();
    headers.insert(header::SERVER, HeaderValue::from_static("crier-emulator"));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    resp.extensions_mut().insert(LoggedCode(code));
    resp
}

async fn pushes(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!({"pushes": shared.pushes()})).into_response()
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.stats()).into_response()
}

async fn reset(State(shared): State<Arc<Shared>>) -> Response {
    shared.reset();
    Json(json!({"reset": true})).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsPatch {
    fail_rate: Option<f64>,
    fail_code: Option<u32>,
    latency_ms: Option<u64>,
    drop_response_rate: Option<f64>,
}

fn bad_request(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": msg}))).into_response()
}

/// Applies a partial fault update; rates must be within 0..=1.
fn patch_faults(current: FaultSettings, p: &FaultsPatch) -> Result<FaultSettings, String> {
    let rate = |v: Option<f64>, old: f64, name: &str| match v {
        None => Ok(old),
        Some(r) if (0.0..=1.0).contains(&r) => Ok(r),
        Some(_) => Err(format!("{name} must be between 0 and 1")),
    };
    Ok(FaultSettings {
        fail_rate: rate(p.fail_rate, current.fail_rate, "fail_rate")?,
        fail_code: p.fail_code.unwrap_or(current.fail_code),
        latency_ms: p.latency_ms.unwrap_or(current.latency_ms),
        drop_response_rate: rate(
            p.drop_response_rate,
            current.drop_response_rate,
            "drop_response_rate",
        )?,
    })
}

async fn set_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let patch: FaultsPatch = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => return bad_request(e.to_string()),
    };
    let mut f = lock(&shared.faults);
    match patch_faults(f.settings, &patch) {
        Ok(s) => {
            f.settings = s;
            Json(s).into_response()
        }
        Err(e) => bad_request(e),
    }
}

async fn get_faults(State(shared): State<Arc<Shared>>) -> Response {
    Json(lock(&shared.faults).settings).into_response()
}

/// The largest clock shift `/emulator/clock` accepts (100 years): beyond it the emulator's
/// dates would leave chrono's range.
pub const MAX_CLOCK_OFFSET_SECONDS: u64 = 100 * 366 * 86_400;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    offset_seconds: i64,
}

fn clock_view(shared: &Shared) -> Response {
    let now = shared
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    Json(json!({"offset_seconds": shared.offset_seconds(), "now": now})).into_response()
}

async fn set_clock(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<ClockBody>(&body) {
        Ok(c) if c.offset_seconds.unsigned_abs() > MAX_CLOCK_OFFSET_SECONDS => {
            bad_request(format!(
                "offset_seconds {} is out of range: at most ±{MAX_CLOCK_OFFSET_SECONDS} (100 years)",
                c.offset_seconds
            ))
        }
        Ok(c) => {
            shared.set_offset_seconds(c.offset_seconds);
            clock_view(&shared)
        }
        Err(e) => bad_request(e.to_string()),
    }
}

async fn get_clock(State(shared): State<Arc<Shared>>) -> Response {
    clock_view(&shared)
}
