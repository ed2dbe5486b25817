//! The HTTP API (DESIGN section 10): intake, reads, the learning read model,
//! strategies and experiments, metrics and health.
//!
//! Every 4xx has a JSON body `{ "error": ..., "details": [...] }` naming the
//! problem and, for a batch, the first bad items with their index and field
//! and how many there are in all (see [`super::Problems`]). Every
//! write (`POST`) passes one guard, [`guard`]: a JSON content type (so no
//! plain HTML form can send one), no foreign `Origin`, one `Host` and,
//! when listening on loopback, only loopback names in it and in a request
//! line of absolute form (against DNS rebinding), and
//! `Authorization: Bearer <token>` whenever a token is set (always when
//! listening beyond loopback), compared in constant time. Lists are paged
//! (`limit`, and `after` = the `next` of the previous page). Reads of the
//! store open their own read-only connection; the learning endpoints serve
//! a read model recomputed in the background when outcomes change, so a
//! read never waits for a scan. Every answer carries `nosniff`; the
//! dashboard's policy runs its own script only.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Query, Request as HttpRequest, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use siglearn_plugin_api::{Symbol, Timestamp, VersionId};
use tokio::sync::{mpsc, oneshot};

use super::core::{Request, wall_now};
use super::serve::HttpCounters;
use super::view::View;
use super::{Refusal, clip, intake, reader};
use crate::analytics::Trials;
use crate::analytics::learning::{self, Period};
use crate::config::Config;
use crate::schedule::JobKind;
use crate::store::StoreReader;
use crate::timestamp::format_timestamp;
use crate::trade::Trade;
use crate::versions::CHAMPION;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    requests: mpsc::Sender<Request>,
    view: Arc<RwLock<View>>,
    token: Option<Arc<str>>,
    db: PathBuf,
    learning: Arc<LearningCache>,
    /// How far ahead of the wall clock a posted item may be stamped, in ms.
    future_tolerance_ms: i64,
    /// Whether the daemon listens on loopback only: then a write must name
    /// a loopback host.
    loopback: bool,
    /// `daemon.max_body_bytes`.
    max_body_bytes: usize,
    /// `daemon.body_read_timeout_ms`.
    body_timeout: Duration,
    /// What the server refuses before the API sees a request.
    http: Arc<HttpCounters>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("db", &self.db)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl AppState {
    pub(crate) fn new(
        requests: mpsc::Sender<Request>,
        view: Arc<RwLock<View>>,
        token: Option<String>,
        db: PathBuf,
        config: &Config,
    ) -> Self {
        let learning = Arc::new(LearningCache::default());
        let future_tolerance_ms = config.daemon.future_tolerance_ms();
        let loopback = config
            .daemon
            .listen
            .parse::<std::net::SocketAddr>()
            .is_ok_and(|address| address.ip().is_loopback());
        AppState {
            requests,
            view,
            token: token.map(Arc::from),
            db,
            learning,
            future_tolerance_ms,
            loopback,
            max_body_bytes: config.daemon.max_body_bytes,
            body_timeout: Duration::from_millis(config.daemon.body_read_timeout_ms),
            http: Arc::default(),
        }
    }

    /// The counters the server keeps for `/metrics`.
    pub(crate) fn http_counters(&self) -> Arc<HttpCounters> {
        Arc::clone(&self.http)
    }
}

/// A refusal as a response.
struct ApiError(Refusal);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut refusal = self.0;
        // Every refusal lists what to fix, even when it is one thing.
        if refusal.details.is_empty() {
            refusal.details.push(serde_json::json!({ "reason": refusal.error }));
        }
        (status, axum::Json(refusal)).into_response()
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        ApiError(refusal)
    }
}

type Reply = Result<axum::Json<serde_json::Value>, ApiError>;

/// The router of every endpoint.
pub fn router(state: AppState) -> Router {
    let refresher = state.clone();
    tokio::spawn(async move { refresh_learning(refresher).await });
    Router::new()
        .route("/", get(dashboard))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/signals", get(list_signals).post(post_signals))
        .route("/api/prices", post(post_prices))
        .route("/api/outcomes", get(list_outcomes))
        .route("/api/learning/performance", get(performance))
        .route("/api/learning/improvements", get(improvements))
        .route("/api/learning/recommendations", get(recommendations))
        .route("/api/strategies", get(strategies))
        .route("/api/strategies/{name}/versions", get(versions))
        .route("/api/strategies/{name}/rollback", post(rollback))
        .route("/api/strategies/{name}/promote", post(promote))
        .route("/api/experiments", get(experiments))
        .route("/api/jobs", get(job_runs))
        .fallback(|| async { ApiError(Refusal::not_found("no such endpoint; see the README for the API")) })
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), writes))
        .with_state(state)
}

/// The endpoints that take a batch; `siglearn_refused_batches_total`
/// counts every answer of theirs that is not a success, whatever the reason.
const BATCHES: [&str; 2] = ["/api/signals", "/api/prices"];

/// Every write passes [`guard`]; every refused batch is counted; a 4xx
/// the router answers itself (a method an endpoint does not take, a bad
/// path) gets the JSON body of every other refusal.
async fn writes(State(state): State<AppState>, request: HttpRequest, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let response = if method == Method::POST {
        match guard(&state, request.headers(), request.uri()) {
            Ok(()) => next.run(request).await,
            Err(refusal) => refusal.into_response(),
        }
    } else {
        next.run(request).await
    };
    if method == Method::POST && BATCHES.contains(&path.as_str()) && !response.status().is_success() {
        state.view.write().unwrap_or_else(|p| p.into_inner()).counters.refused_batches += 1;
    }
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let mut response = if response.status().is_client_error() && !json {
        let status = response.status();
        let reason = status.canonical_reason().unwrap_or("refused").to_lowercase();
        let error = format!("{method} {path}: {reason}; see the README for the endpoints and their methods");
        ApiError(Refusal::with(status.as_u16(), error)).into_response()
    } else {
        response
    };
    // No answer is ever read as another type, framed, or allowed to load
    // anything (the dashboard sets its own policy).
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, header::HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    response
}

/// Refuses a write that a web page could have sent on a user's behalf, or
/// without the right bearer token when one is set.
fn guard(state: &AppState, headers: &HeaderMap, uri: &axum::http::Uri) -> Result<(), ApiError> {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let media =
        text(header::CONTENT_TYPE).and_then(|v| v.split(';').next()).map(|v| v.trim().to_ascii_lowercase());
    if !matches!(media.as_deref(), Some("application/json" | "application/x-ndjson")) {
        return Err(ApiError(Refusal {
            details: vec![
                serde_json::json!({ "field": "Content-Type", "reason": format!("{:?} is not accepted", media.unwrap_or_default()) }),
            ],
            ..Refusal::with(
                415,
                "writes need the header Content-Type: application/json (or application/x-ndjson for JSON Lines)",
            )
        }));
    }
    // One Host: of two, one could pass the check and the other be used.
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = hosts.next().and_then(|v| v.to_str().ok()).unwrap_or_default();
    if hosts.next().is_some() {
        return Err(ApiError(Refusal {
            details: vec![serde_json::json!({ "field": "Host", "reason": "sent more than once" })],
            ..Refusal::bad_request("a request has one Host header; send it once")
        }));
    }
    // A target in absolute form names the host too, and passes the same check.
    let target = uri.authority().map(|authority| authority.as_str());
    for (field, name) in [("Host", Some(host)), ("request target", target)] {
        let Some(name) = name else { continue };
        if state.loopback && !is_loopback_host(name) {
            return Err(forbidden(
                field,
                format!("{name:?} is not a loopback name"),
                "the daemon listens on loopback: writes must be sent to localhost, 127.0.0.1 or [::1]",
            ));
        }
    }
    if let Some(origin) = text(header::ORIGIN) {
        if !same_daemon(origin, host) {
            return Err(forbidden(
                "Origin",
                format!("{origin:?} is not this daemon ({host})"),
                "writes from another site's page are refused; send them from a program (no Origin header) \
                 or from this daemon's own origin",
            ));
        }
    }
    let Some(token) = &state.token else { return Ok(()) };
    let given = text(header::AUTHORIZATION).and_then(bearer).unwrap_or_default();
    // Constant time: how long the comparison takes says nothing about how
    // much of a guess was right.
    if bool::from(subtle::ConstantTimeEq::ct_eq(given.as_bytes(), token.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError(Refusal {
            details: vec![
                serde_json::json!({ "field": "Authorization", "reason": "missing or wrong token" }),
            ],
            ..Refusal::with(401, "writes need the header Authorization: Bearer <token>")
        }))
    }
}

/// The token of an `Authorization: Bearer <token>` value; the scheme is
/// case-insensitive (RFC 9110, 11.1) and may be followed by several spaces.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim_start_matches(' '))
}

fn forbidden(field: &str, reason: String, error: &str) -> ApiError {
    ApiError(Refusal {
        details: vec![serde_json::json!({ "field": field, "reason": reason })],
        ..Refusal::with(403, error)
    })
}

/// The name (lower case, an IPv6 address in brackets) and port of a
/// `Host` value: `uri-host [":" port]` (RFC 9110, 7.2), so no user info
/// (`localhost:80@evil` names the host `evil`); `None` when it is not one.
fn host_and_port(host: &str) -> Option<(String, Option<u16>)> {
    let authority: axum::http::uri::Authority = host.parse().ok()?;
    let text = authority.as_str();
    if text.contains('@') {
        return None;
    }
    // The host is then where the text starts; a port after it must be a number.
    let port = match text.get(authority.host().len()..)? {
        "" => None,
        rest => Some(rest.strip_prefix(':')?.parse::<u16>().ok()?),
    };
    Some((authority.host().to_ascii_lowercase(), port))
}

/// Whether a `Host` header names this machine: localhost, 127.x.x.x or
/// [::1], with any port.
fn is_loopback_host(host: &str) -> bool {
    host_and_port(host).is_some_and(|(name, _)| is_loopback_name(&name))
}

fn is_loopback_name(name: &str) -> bool {
    let name = name.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).unwrap_or(name);
    name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether a request's `Origin` is the daemon it was sent to (`host`): the
/// same name and port, or, on loopback, another loopback name for the same
/// port (`http://localhost:7878` for `127.0.0.1:7878`). A missing port is
/// the scheme's default.
fn same_daemon(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else { return false };
    let default = match scheme.to_ascii_lowercase().as_str() {
        "http" => 80,
        "https" => 443,
        _ => return false,
    };
    let (Some((origin_name, origin_port)), Some((host_name, host_port))) =
        (host_and_port(authority), host_and_port(host))
    else {
        return false;
    };
    let ports = origin_port.unwrap_or(default) == host_port.unwrap_or(default);
    ports && (origin_name == host_name || (is_loopback_name(&origin_name) && is_loopback_name(&host_name)))
}

/// The most items one page of a list holds, and how many when not asked.
const MAX_PAGE: u32 = 1000;
const DEFAULT_PAGE: u32 = 100;

/// The page size asked for, checked.
fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit.unwrap_or(DEFAULT_PAGE) {
        0 => Err(ApiError(Refusal::bad_request(format!("limit must be 1 to {MAX_PAGE}")))),
        limit if limit > MAX_PAGE => Err(ApiError(Refusal {
            details: vec![
                serde_json::json!({ "field": "limit", "reason": format!("{limit} is above {MAX_PAGE}") }),
            ],
            ..Refusal::bad_request(format!("limit must be 1 to {MAX_PAGE}; page with after=<next>"))
        })),
        limit => Ok(limit),
    }
}

/// A request body read whole: at most `daemon.max_body_bytes`, within
/// `daemon.body_read_timeout_ms`; a refusal says which went wrong, or how
/// the body is not well-formed HTTP.
struct Body(Bytes);

impl FromRequest<AppState> for Body {
    type Rejection = ApiError;

    async fn from_request(request: HttpRequest, state: &AppState) -> Result<Self, ApiError> {
        let read = axum::body::to_bytes(request.into_body(), state.max_body_bytes);
        match tokio::time::timeout(state.body_timeout, read).await {
            Ok(Ok(bytes)) => Ok(Body(bytes)),
            Ok(Err(error)) => Err(ApiError(unreadable(&error, state.max_body_bytes))),
            Err(_) => Err(ApiError(Refusal::with(
                408,
                format!(
                    "the body did not arrive within daemon.body_read_timeout_ms ({} ms); send it faster, \
                     or in smaller batches",
                    state.body_timeout.as_millis()
                ),
            ))),
        }
    }
}

/// Why a body could not be read: over the size limit (413), cut short by
/// the client, or not well-formed (a bad chunk, say) (400).
fn unreadable(error: &axum::Error, max_body_bytes: usize) -> Refusal {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut incomplete = false;
    while let Some(at) = cause {
        if at.is::<http_body_util::LengthLimitError>() {
            return Refusal::with(
                413,
                format!(
                    "the body is larger than daemon.max_body_bytes ({max_body_bytes} bytes); send smaller batches"
                ),
            );
        }
        incomplete |= at.downcast_ref::<hyper::Error>().is_some_and(hyper::Error::is_incomplete_message);
        cause = at.source();
    }
    if incomplete {
        return Refusal::bad_request(
            "the body ended before its Content-Length or last chunk: the connection closed mid-body",
        );
    }
    // The innermost cause names the fault (hyper's outer one only says "error reading a body").
    let mut innermost: &(dyn std::error::Error + 'static) = error;
    while let Some(inner) = innermost.source() {
        innermost = inner;
    }
    Refusal::bad_request(clip(format!(
        "the body is not well-formed HTTP ({innermost}); check its Content-Length or chunked encoding"
    )))
}

/// Sends a request to the engine and waits for its answer.
async fn ask<T>(
    state: &AppState,
    request: impl FnOnce(oneshot::Sender<T>) -> Request,
) -> Result<T, ApiError> {
    let (reply, answer) = oneshot::channel();
    state.requests.send(request(reply)).await.map_err(|_| ApiError(Refusal::unavailable()))?;
    answer.await.map_err(|_| ApiError(Refusal::unavailable()))
}

/// Runs blocking store work off the executor.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Refusal> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError(Refusal::internal(e.to_string())))?
        .map_err(ApiError)
}

async fn post_signals(State(state): State<AppState>, Body(raw): Body) -> Reply {
    let signals = intake::signals(&raw, wall_now() + state.future_tolerance_ms)?;
    let published = ask(&state, |reply| Request::Signals { signals, reply }).await??;
    Ok(axum::Json(serde_json::json!({ "accepted": published.len(), "decisions": published })))
}

async fn post_prices(State(state): State<AppState>, Body(raw): Body) -> Reply {
    let updates = intake::prices(&raw, wall_now() + state.future_tolerance_ms)?;
    let applied = ask(&state, |reply| Request::Prices { updates, reply }).await??;
    let open = state.view.read().map(|v| v.open_signals).unwrap_or_default();
    Ok(axum::Json(serde_json::json!({ "accepted": applied, "open_signals": open })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignalQuery {
    status: Option<String>,
    symbol: Option<String>,
    limit: Option<u32>,
    after: Option<String>,
}

fn trade_json(trade: &Trade) -> serde_json::Value {
    serde_json::json!({
        "signal": &*trade.signal,
        "outcome": {
            "kind": trade.outcome.kind, "exit_ts": format_timestamp(trade.outcome.exit_ts),
            "exit_price": trade.outcome.exit_price, "pnl_pct": trade.outcome.pnl_pct,
            "holding_minutes": trade.outcome.holding_minutes(), "ambiguous": trade.outcome.ambiguous,
            "mfe_pct": trade.outcome.mfe_pct, "mae_pct": trade.outcome.mae_pct,
        }
    })
}

/// A cursor of a list in recording order (a row number).
fn row_cursor(after: Option<&str>) -> Result<Option<i64>, ApiError> {
    after
        .map(|text| {
            text.parse::<i64>().map_err(|_| {
                ApiError(Refusal {
                    details: vec![serde_json::json!({ "field": "after", "reason": format!("{text:?} is not a cursor") })],
                    ..Refusal::bad_request("after must be the `next` of the previous page")
                })
            })
        })
        .transpose()
}

/// The `next` cursor of a page of `limit` that came back with `shown` items.
fn next_cursor<T: serde::Serialize>(shown: usize, limit: u32, last: Option<T>) -> serde_json::Value {
    match last {
        Some(last) if shown == limit as usize => serde_json::json!(last),
        _ => serde_json::Value::Null,
    }
}

async fn list_signals(
    State(state): State<AppState>,
    query: Result<Query<SignalQuery>, axum::extract::rejection::QueryRejection>,
) -> Reply {
    let Query(query) = query.map_err(|e| {
        ApiError(Refusal::bad_request(format!(
            "{e}; the parameters are status=active|closed, symbol, limit, after"
        )))
    })?;
    let limit = page_limit(query.limit)?;
    match query.status.as_deref().unwrap_or("active") {
        "active" => {
            let symbol = query.symbol.map(|s| Symbol::new(s.as_str()));
            let open = ask(&state, |reply| Request::Active { symbol, reply }).await?;
            // Active signals are in arrival order; the cursor is a signal id.
            let start = match &query.after {
                Some(after) => match open.iter().position(|s| s.id.as_str() == after) {
                    Some(at) => at + 1,
                    None => {
                        return Err(ApiError(Refusal::bad_request(format!(
                            "after={after:?} is no active signal (closed since?); start again without after"
                        ))));
                    }
                },
                None => 0,
            };
            let shown: Vec<_> = open.iter().skip(start).take(limit as usize).map(|s| &**s).collect();
            let more = start + shown.len() < open.len();
            let next = if more { shown.last().map(|s| serde_json::json!(s.id)) } else { None };
            Ok(axum::Json(serde_json::json!({
                "status": "active", "count": open.len(), "signals": shown, "next": next,
            })))
        }
        "closed" => {
            let db = state.db.clone();
            let before = row_cursor(query.after.as_deref())?;
            let trades = blocking(move || {
                reader(&db)?
                    .recent_trades(limit, query.symbol.as_deref(), before)
                    .map_err(|e| Refusal::internal(e.to_string()))
            })
            .await?;
            let shown: Vec<_> = trades.iter().map(|(_, trade)| trade_json(trade)).collect();
            let next = next_cursor(trades.len(), limit, trades.last().map(|(cursor, _)| cursor.to_string()));
            Ok(axum::Json(serde_json::json!({
                "status": "closed", "count": shown.len(), "signals": shown, "next": next,
            })))
        }
        other => Err(ApiError(Refusal::bad_request(format!("status {other:?} is not active or closed")))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutcomeQuery {
    symbol: Option<String>,
    limit: Option<u32>,
    after: Option<String>,
}

async fn list_outcomes(
    State(state): State<AppState>,
    query: Result<Query<OutcomeQuery>, axum::extract::rejection::QueryRejection>,
) -> Reply {
    let Query(query) = query.map_err(|e| {
        ApiError(Refusal::bad_request(format!("{e}; the parameters are symbol, limit, after")))
    })?;
    let limit = page_limit(query.limit)?;
    let before = row_cursor(query.after.as_deref())?;
    let db = state.db.clone();
    let trades = blocking(move || {
        reader(&db)?
            .recent_trades(limit, query.symbol.as_deref(), before)
            .map_err(|e| Refusal::internal(e.to_string()))
    })
    .await?;
    let outcomes: Vec<_> = trades
        .iter()
        .map(|(_, t)| serde_json::json!({
            "signal_id": t.signal.id, "symbol": t.signal.symbol, "side": t.signal.side,
            "kind": t.outcome.kind, "exit_ts": format_timestamp(t.outcome.exit_ts), "exit_price": t.outcome.exit_price,
            "pnl_pct": t.outcome.pnl_pct, "ambiguous": t.outcome.ambiguous,
        }))
        .collect();
    let next = next_cursor(trades.len(), limit, trades.last().map(|(cursor, _)| cursor.to_string()));
    Ok(axum::Json(serde_json::json!({ "count": outcomes.len(), "outcomes": outcomes, "next": next })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobQuery {
    job: Option<String>,
    limit: Option<u32>,
    after: Option<String>,
}

/// Job runs, newest first.
async fn job_runs(
    State(state): State<AppState>,
    query: Result<Query<JobQuery>, axum::extract::rejection::QueryRejection>,
) -> Reply {
    let Query(query) = query.map_err(|e| {
        ApiError(Refusal::bad_request(format!(
            "{e}; the parameters are job=daily|weekly|hourly, limit, after"
        )))
    })?;
    let limit = page_limit(query.limit)?;
    let before = row_cursor(query.after.as_deref())?;
    let job = query.job.as_deref().map(|job| job.parse::<JobKind>()).transpose().map_err(|e| {
        ApiError(Refusal::bad_request(format!("job: {e}; the jobs are daily, weekly, hourly")))
    })?;
    let db = state.db.clone();
    let runs = blocking(move || {
        reader(&db)?.recent_job_runs(job, limit, before).map_err(|e| Refusal::internal(e.to_string()))
    })
    .await?;
    let next = next_cursor(runs.len(), limit, runs.last().map(|(cursor, _)| cursor.to_string()));
    let shown: Vec<_> = runs.into_iter().map(|(_, run)| run).collect();
    Ok(axum::Json(serde_json::json!({ "count": shown.len(), "runs": shown, "next": next })))
}

async fn strategies(State(state): State<AppState>) -> Reply {
    let view = state.view.read().map_err(|_| ApiError(Refusal::internal("the view is unavailable")))?;
    Ok(axum::Json(serde_json::json!({ "strategies": &view.strategies })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionQuery {
    limit: Option<u32>,
    after: Option<u32>,
}

/// A strategy's versions, oldest first, a page at a time (`after` = a
/// version number).
async fn versions(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Result<Query<VersionQuery>, axum::extract::rejection::QueryRejection>,
) -> Reply {
    let Query(query) = query.map_err(|e| {
        ApiError(Refusal::bad_request(format!("{e}; the parameters are limit, after (a version number)")))
    })?;
    let limit = page_limit(query.limit)?;
    let db = state.db.clone();
    blocking(move || {
        let reader = reader(&db)?;
        let history = reader
            .versions_page(&name, query.after.unwrap_or(0), limit)
            .map_err(|e| Refusal::internal(e.to_string()))?;
        if history.is_empty()
            && reader.versions_page(&name, 0, 1).map_err(|e| Refusal::internal(e.to_string()))?.is_empty()
        {
            return Err(Refusal::not_found(format!("no strategy {name:?}")));
        }
        let next = next_cursor(history.len(), limit, history.last().map(|v| v.version.0));
        let moves: Vec<_> = reader
            .alias_history(CHAMPION)
            .map_err(|e| Refusal::internal(e.to_string()))?
            .into_iter()
            .filter(|m| m.strategy.as_str() == name)
            .collect();
        Ok(axum::Json(serde_json::json!({
            "strategy": name, "versions": history, "champion_moves": moves, "next": next,
        })))
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionBody {
    version: u32,
}

fn version_body(raw: &[u8]) -> Result<VersionId, ApiError> {
    serde_json::from_slice::<VersionBody>(raw).map(|b| VersionId(b.version)).map_err(|e| {
        ApiError(Refusal::bad_request(format!(
            "the body must be {{\"version\": N}}: {}",
            clip(e.to_string())
        )))
    })
}

async fn rollback(State(state): State<AppState>, Path(name): Path<String>, Body(raw): Body) -> Reply {
    let version = version_body(&raw)?;
    let record = ask(&state, |reply| Request::Rollback { strategy: name, version, reply }).await??;
    Ok(axum::Json(serde_json::json!({ "live": record })))
}

async fn promote(State(state): State<AppState>, Path(name): Path<String>, Body(raw): Body) -> Reply {
    let version = version_body(&raw)?;
    let alias = ask(&state, |reply| Request::Promote { strategy: name, version, reply }).await??;
    Ok(axum::Json(serde_json::json!({ "champion": alias })))
}

async fn experiments(State(state): State<AppState>) -> Reply {
    let db = state.db.clone();
    let tried = blocking(move || trial_versions(&reader(&db)?)).await?;
    let table = ask(&state, |reply| Request::Experiments { reply }).await?.with_versions(tried);
    Ok(axum::Json(serde_json::to_value(table).map_err(|e| ApiError(Refusal::internal(e.to_string())))?))
}

/// 200 when serving; 503 while a plugin call is stalled (the engine waits
/// for it), so a supervisor can restart the daemon, or while the store
/// cannot be written (the daemon recovers by itself when it can).
async fn healthz(State(state): State<AppState>) -> Response {
    let Ok(view) = state.view.read() else {
        return ApiError(Refusal::internal("the view is unavailable")).into_response();
    };
    let stalled = crate::strategy::native::stalled_calls();
    let (status, word) = match (&view.store_error, stalled) {
        (Some(_), _) => (StatusCode::SERVICE_UNAVAILABLE, "store_unwritable"),
        (None, 0) => (StatusCode::OK, "ok"),
        (None, _) => (StatusCode::SERVICE_UNAVAILABLE, "stalled"),
    };
    let body = axum::Json(serde_json::json!({
        "status": word,
        "store_error": view.store_error,
        "stalled_plugin_calls": stalled,
        "uptime_s": view.started.elapsed().as_secs(),
        "open_signals": view.open_signals,
        "strategies": view.strategies.len(),
        "unwatched_folders": view.unwatched,
    }));
    (status, body).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let mut text = state.view.read().map(|v| v.prometheus()).unwrap_or_default();
    text.push_str(&state.http.prometheus());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// The dashboard: one page whose one script and one style sheet are inline.
const DASHBOARD: &str = include_str!("dashboard.html");

/// The dashboard, with a policy that lets the browser run its own script
/// and style only (by hash): no inline event handler, no other origin, no
/// framing. The page puts every value from the API in as text; this is the
/// second wall should that ever slip.
async fn dashboard() -> Response {
    static POLICY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let policy = POLICY.get_or_init(|| dashboard_policy(DASHBOARD));
    let mut response = Html(DASHBOARD).into_response();
    if let Ok(value) = header::HeaderValue::from_str(policy) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// The Content-Security-Policy of `page`: its `<script>` and `<style>`
/// allowed by their SHA-256, everything else from this origin only.
fn dashboard_policy(page: &str) -> String {
    let hash = |tag: &str| {
        let inner =
            page.split(&format!("<{tag}>")).nth(1).and_then(|rest| rest.split(&format!("</{tag}>")).next());
        let digest = <sha2::Sha256 as sha2::Digest>::digest(inner.unwrap_or_default().as_bytes());
        format!("'sha256-{}'", base64(&digest))
    };
    format!(
        "default-src 'self'; script-src {}; style-src {}; img-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'",
        hash("script"),
        hash("style")
    )
}

/// Standard base64 with padding (RFC 4648, section 4), for the hashes of a policy.
fn base64(bytes: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)
}

// ---------------------------------------------------------------------------
// The learning read model.

/// The learning endpoints' answers, computed from the store.
#[derive(Debug, Default)]
struct LearningCache {
    computed: RwLock<Option<Learned>>,
    computing: tokio::sync::Mutex<()>,
}

#[derive(Debug, Clone)]
struct Learned {
    outcomes: u64,
    performance: BTreeMap<String, serde_json::Value>,
    improvements: serde_json::Value,
    recommendations: serde_json::Value,
}

const PERIODS: [&str; 3] = ["7d", "30d", "all"];

/// The stored versions that count as trials of their own (reload, retrain).
fn trial_versions(reader: &StoreReader) -> Result<usize, Refusal> {
    let internal = |e: crate::store::StoreError| Refusal::internal(e.to_string());
    Ok(Trials::versions_tried(&reader.versions_by_reason().map_err(internal)?))
}

/// Everything the learning endpoints show, from the store as it is. A row
/// of one strategy that cannot be read (a store damaged by hand, or written
/// by an older version) is left out and logged, as the daemon's start
/// leaves out that strategy: the others are still shown.
fn learn_from(reader: &StoreReader, now: Timestamp) -> Result<Learned, Refusal> {
    let internal = |e: crate::store::StoreError| Refusal::internal(e.to_string());
    let set_aside = |bad: &[crate::store::BadRow]| {
        for row in bad {
            tracing::warn!(%row, "left out of the learning views");
        }
    };
    let outcomes = reader.outcome_count().map_err(internal)?;
    let trades = reader.trades_rows().map_err(internal)?;
    set_aside(&trades.bad);
    let trades = trades.read;
    let (decisions, bad) = reader.all_decisions_rows().map_err(internal)?;
    set_aside(&bad);
    let champion = match reader.alias(CHAMPION) {
        Ok(champion) => champion.map(|(name, _)| name),
        Err(crate::store::StoreError::BadRow(row)) => {
            set_aside(std::slice::from_ref(&row));
            None
        }
        Err(error) => return Err(internal(error)),
    };
    let live = reader.latest_versions_rows().map_err(internal)?;
    set_aside(&live.bad);
    let mut versions = Vec::new();
    for latest in live.read {
        let name = latest.strategy.to_string();
        let records = reader.versions_rows(&name).map_err(internal)?;
        set_aside(&records.bad);
        versions.push((name, records.read));
    }
    let tried = versions
        .iter()
        .flat_map(|(_, records)| records)
        .filter(|record| Trials::counts(record.reason))
        .count();
    let mut performance = BTreeMap::new();
    for period in PERIODS {
        let parsed: Period =
            period.parse().map_err(|e: learning::ParsePeriodError| Refusal::internal(e.to_string()))?;
        performance.insert(
            period.to_owned(),
            learning::performance(&trades, &decisions, champion.as_deref(), parsed, now, tried),
        );
    }
    Ok(Learned {
        outcomes,
        performance,
        improvements: learning::improvements(&trades, &versions, now),
        recommendations: learning::recommendations(&trades),
    })
}

/// Recomputes the read model whenever outcomes changed, at most every two seconds.
async fn refresh_learning(state: AppState) {
    let mut interval = tokio::time::interval(Duration::from_secs(2));
    loop {
        interval.tick().await;
        if state.requests.is_closed() {
            return;
        }
        let outcomes = state.view.read().map(|v| v.counters.outcomes).unwrap_or(0);
        let stale = state
            .learning
            .computed
            .read()
            .map(|c| c.as_ref().is_none_or(|l| l.outcomes < outcomes))
            .unwrap_or(true);
        if stale {
            let _ = compute(&state).await;
        }
    }
}

/// Computes the read model (once at a time) and keeps it.
async fn compute(state: &AppState) -> Result<Learned, ApiError> {
    let _only_one = state.learning.computing.lock().await;
    let db = state.db.clone();
    let learned = blocking(move || learn_from(&reader(&db)?, wall_now())).await?;
    if let Ok(mut slot) = state.learning.computed.write() {
        *slot = Some(learned.clone());
    }
    Ok(learned)
}

async fn learned(state: &AppState) -> Result<Learned, ApiError> {
    let cached = state.learning.computed.read().ok().and_then(|c| c.clone());
    match cached {
        Some(learned) => Ok(learned),
        None => compute(state).await,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PeriodQuery {
    period: Option<String>,
}

async fn performance(
    State(state): State<AppState>,
    query: Result<Query<PeriodQuery>, axum::extract::rejection::QueryRejection>,
) -> Reply {
    let Query(query) = query
        .map_err(|e| ApiError(Refusal::bad_request(format!("{e}; the parameter is period=7d|30d|all"))))?;
    let period = query.period.unwrap_or_else(|| "all".to_owned());
    if !PERIODS.contains(&period.as_str()) {
        return Err(ApiError(Refusal::bad_request(format!("period {period:?} is not one of 7d, 30d, all"))));
    }
    let learned = learned(&state).await?;
    Ok(axum::Json(learned.performance.get(&period).cloned().unwrap_or_default()))
}

async fn improvements(State(state): State<AppState>) -> Reply {
    Ok(axum::Json(learned(&state).await?.improvements))
}

async fn recommendations(State(state): State<AppState>) -> Reply {
    Ok(axum::Json(learned(&state).await?.recommendations))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_learning_views_leave_out_a_strategys_unreadable_rows_and_show_the_others() {
        use crate::store::{Command, Store};
        use crate::versions::{AliasMove, VersionReason, VersionRecord};
        use siglearn_plugin_api::StrategyId;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = Store::open(&path, &Default::default()).unwrap();
        let version = |name: &str, n| {
            Command::InsertVersion(VersionRecord::bare(name, n, VersionReason::Load, Timestamp(0)))
        };
        store
            .commit(vec![
                version("a", 1),
                version("a", 2),
                version("b", 1),
                Command::MoveAlias(AliasMove {
                    alias: CHAMPION.into(),
                    strategy: StrategyId::new("a"),
                    version: VersionId(2),
                    reason: "config".into(),
                    evidence: serde_json::Value::Null,
                    moved_at: Timestamp(0),
                }),
            ])
            .unwrap();
        store.close().unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute("UPDATE versions SET state = '{not json' WHERE strategy = 'a' AND n = 2", []).unwrap();
        conn.execute("UPDATE aliases SET version = 'two'", []).unwrap();
        drop(conn);
        let learned = learn_from(&StoreReader::open(&path).unwrap(), Timestamp(86_400_000)).unwrap();
        let shown = serde_json::to_string(&learned.improvements).unwrap();
        assert!(shown.contains("\"b\""), "{shown}");
    }

    #[test]
    fn only_loopback_names_are_loopback_hosts() {
        for host in ["localhost:7878", "LOCALHOST", "127.0.0.1:1", "127.1.2.3", "[::1]:7878", "[::1]"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:7878",
            "localhost.evil.example",
            "10.0.0.1:7878",
            "",
            "[::2]:1",
            "localhost:80@evil",
            "localhost@evil.example",
            "localhost:port",
            "localhost:99999",
            "localhost/evil",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn an_origin_is_this_daemon_under_its_own_name_or_another_loopback_name_for_its_port() {
        for (origin, host) in [
            ("http://localhost:7878", "localhost:7878"),
            ("http://LOCALHOST:7878", "localhost:7878"),
            ("http://localhost:7878", "127.0.0.1:7878"),
            ("http://[::1]:7878", "127.0.0.1:7878"),
            ("http://127.0.0.1", "127.0.0.1:80"),
            ("https://daemon.example", "daemon.example:443"),
            ("http://daemon.example:7878", "daemon.example:7878"),
        ] {
            assert!(same_daemon(origin, host), "{origin} {host}");
        }
        for (origin, host) in [
            ("http://localhost:3000", "localhost:7878"),
            ("http://evil.example:7878", "localhost:7878"),
            ("http://evil.example:7878", "daemon.example:7878"),
            ("http://127.0.0.1", "127.0.0.1:7878"),
            ("https://localhost:7878", "localhost:80"),
            ("null", "localhost:7878"),
            ("file://localhost:7878", "localhost:7878"),
            ("http://localhost:7878@evil.example", "localhost:7878"),
            ("http://localhost:7878", "localhost:80@evil"),
        ] {
            assert!(!same_daemon(origin, host), "{origin} {host}");
        }
    }

    #[test]
    fn the_bearer_scheme_is_read_in_any_case_and_nothing_else_passes() {
        for value in ["Bearer tok", "bearer tok", "BEARER tok", "bEaReR  tok"] {
            assert_eq!(bearer(value), Some("tok"), "{value}");
        }
        for value in ["Basic tok", "Bearertok", "Bearer", "tok", "Bearerx tok"] {
            assert_ne!(bearer(value), Some("tok"), "{value}");
        }
    }

    #[test]
    fn base64_encodes_the_rfc_4648_test_vectors() {
        // RFC 4648, section 10.
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
        }
    }

    #[test]
    fn the_dashboard_policy_allows_its_own_script_by_hash_and_no_inline_handler() {
        // The SHA-256 of "alert(1)" in base64, as the CSP specification's examples compute it:
        // printf 'alert(1)' | openssl dgst -sha256 -binary | base64
        let policy = dashboard_policy("<style>x</style><script>alert(1)</script>");
        assert!(
            policy.contains("script-src 'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"),
            "{policy}"
        );
        assert!(!policy.contains("unsafe-inline") && policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(policy.starts_with("default-src 'self'"), "{policy}");
    }

    #[test]
    fn a_page_is_1_to_1000_items() {
        assert_eq!(page_limit(None).ok(), Some(DEFAULT_PAGE));
        assert_eq!(page_limit(Some(MAX_PAGE)).ok(), Some(MAX_PAGE));
        assert!(page_limit(Some(0)).is_err() && page_limit(Some(MAX_PAGE + 1)).is_err());
        assert_eq!(page_limit(Some(7)).ok(), Some(7), "a size in range is taken as asked");
        let too_many = page_limit(Some(1001)).err().map(|e| e.0);
        assert_eq!(too_many.map(|r| (r.status, r.details[0]["field"].clone())), Some((400, "limit".into())));
    }

    /// The state of a daemon with no engine and no store: enough for the guard.
    fn state(token: Option<&str>, loopback: bool) -> AppState {
        let (requests, _) = mpsc::channel(1);
        AppState {
            requests,
            view: Arc::new(RwLock::new(View::new())),
            token: token.map(Arc::from),
            db: PathBuf::new(),
            learning: Arc::default(),
            future_tolerance_ms: 0,
            loopback,
            max_body_bytes: 64,
            body_timeout: Duration::from_secs(10),
            http: Arc::default(),
        }
    }

    /// What the guard says of a POST with these headers to `target`: the
    /// status and the field of the first detail of a refusal.
    fn guarded(state: &AppState, target: &str, pairs: &[(&str, &str)]) -> Result<(), (u16, String)> {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            let name = header::HeaderName::from_bytes(name.as_bytes()).unwrap();
            headers.append(name, header::HeaderValue::from_str(value).unwrap());
        }
        let uri: axum::http::Uri = target.parse().unwrap();
        guard(state, &headers, &uri).map_err(|ApiError(refusal)| {
            let field = refusal.details.first().and_then(|d| d["field"].as_str()).unwrap_or("<none>");
            (refusal.status, field.to_owned())
        })
    }

    const JSON: (&str, &str) = ("content-type", "application/json");
    const LOCAL: (&str, &str) = ("host", "localhost:7878");

    #[test]
    fn the_guard_takes_a_json_write_to_a_loopback_name_from_a_program_or_its_own_page() {
        let open = state(None, true);
        assert_eq!(guarded(&open, "/api/signals", &[JSON, LOCAL]), Ok(()));
        assert_eq!(
            guarded(&open, "/api/signals", &[("content-type", "application/x-ndjson"), LOCAL]),
            Ok(())
        );
        assert_eq!(
            guarded(&open, "/api/signals", &[JSON, LOCAL, ("origin", "http://localhost:7878")]),
            Ok(())
        );
        assert_eq!(
            guarded(&open, "http://127.0.0.1:7878/api/signals", &[JSON, ("host", "127.0.0.1:7878")]),
            Ok(())
        );
        // Listening beyond loopback, any name will do.
        assert_eq!(guarded(&state(None, false), "/api/signals", &[JSON, ("host", "evil.example")]), Ok(()));
    }

    /// A target, headers, and the status and field of the refusal.
    type Refused<'a> = (&'a str, &'a [(&'a str, &'a str)], (u16, &'a str));

    #[test]
    fn the_guard_refuses_each_kind_of_write_naming_the_field_to_fix() {
        let open = state(None, true);
        let refusals: [Refused; 7] = [
            ("/api/signals", &[("content-type", "text/plain"), LOCAL], (415, "Content-Type")),
            ("/api/signals", &[LOCAL], (415, "Content-Type")),
            ("/api/signals", &[JSON, LOCAL, ("host", "localhost")], (400, "Host")),
            ("/api/signals", &[JSON, ("host", "evil.example:7878")], (403, "Host")),
            ("/api/signals", &[JSON, ("host", "localhost:80@evil")], (403, "Host")),
            ("http://evil.example/api/signals", &[JSON, LOCAL], (403, "request target")),
            ("/api/signals", &[JSON, LOCAL, ("origin", "http://evil.example")], (403, "Origin")),
        ];
        for (target, pairs, (status, field)) in refusals {
            assert_eq!(guarded(&open, target, pairs), Err((status, field.to_owned())), "{target} {pairs:?}");
        }
    }

    #[test]
    fn with_a_token_set_only_a_write_bearing_it_passes_the_guard() {
        let closed = state(Some("s3cret"), true);
        assert_eq!(
            guarded(&closed, "/api/signals", &[JSON, LOCAL, ("authorization", "Bearer s3cret")]),
            Ok(())
        );
        for pairs in [&[JSON, LOCAL][..], &[JSON, LOCAL, ("authorization", "Bearer s3cre")]] {
            assert_eq!(
                guarded(&closed, "/api/signals", pairs),
                Err((401, "Authorization".to_owned())),
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn a_cursor_is_a_row_number_and_anything_else_is_refused_naming_after() {
        assert_eq!(row_cursor(None).ok(), Some(None));
        assert_eq!(row_cursor(Some("42")).ok(), Some(Some(42)));
        assert_eq!(row_cursor(Some("-7")).ok(), Some(Some(-7)));
        let refused = row_cursor(Some("x")).err().map(|e| e.0);
        assert_eq!(refused.map(|r| (r.status, r.details[0]["field"].clone())), Some((400, "after".into())));
    }

    #[test]
    fn only_a_full_page_has_a_next_cursor_and_it_is_its_last_item() {
        assert_eq!(next_cursor(3, 3, Some("row9")), serde_json::json!("row9"));
        assert_eq!(next_cursor(2, 3, Some("row9")), serde_json::Value::Null, "a short page is the last");
        assert_eq!(next_cursor(0, 3, None::<u32>), serde_json::Value::Null);
    }

    fn run<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
    }

    fn read(response: Response) -> (StatusCode, HeaderMap, Bytes) {
        let (parts, body) = response.into_parts();
        (parts.status, parts.headers, run(axum::body::to_bytes(body, usize::MAX)).unwrap())
    }

    #[test]
    fn a_refusal_without_details_answers_its_status_with_its_error_as_the_one_detail() {
        let (status, _, body) = read(ApiError(Refusal::with(409, "taken")).into_response());
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body, serde_json::json!({ "error": "taken", "details": [{ "reason": "taken" }] }));
    }

    #[test]
    fn health_is_503_store_unwritable_while_the_store_cannot_be_written() {
        let state = state(None, true);
        state.view.write().unwrap().store_error = Some("disk full".to_owned());
        let (status, _, body) = read(run(healthz(State(state))));
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            (&body["status"], &body["store_error"]),
            (&"store_unwritable".into(), &"disk full".into())
        );
    }

    #[test]
    fn the_dashboard_is_the_page_with_its_own_policy() {
        let (status, headers, body) = read(run(dashboard()));
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, DASHBOARD.as_bytes());
        let policy =
            headers.get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(policy.starts_with("default-src 'self'; script-src 'sha256-"), "{policy}");
    }

    /// `POST /api/signals` served on a free port by the daemon's server,
    /// over `state` (no engine: a body that can be read goes no further).
    async fn intake(state: AppState) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let router = Router::new()
            .route("/api/signals", post(post_signals))
            .layer(middleware::from_fn_with_state(state.clone(), writes))
            .with_state(state);
        let serving = super::super::serve::Serving {
            header_timeout: Duration::from_secs(10),
            max_connections: 8,
            reserve: 1,
        };
        let counters = Arc::default();
        tokio::spawn(super::super::serve::serve(listener, router, serving, counters, std::future::pending()));
        address
    }

    /// The answer to `head` (the request line and headers, the blank line
    /// left out) and `body`, read until the server closes; an hour on the
    /// paused clock means it never does. The status, the JSON body, and how
    /// long the answer took.
    async fn posted(state: AppState, head: &str, body: &str) -> (u16, serde_json::Value, Duration) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = intake(state).await;
        let mut client = tokio::net::TcpStream::connect(address).await.unwrap();
        let started = tokio::time::Instant::now();
        let request = format!(
            "POST /api/signals HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n{head}\r\n\r\n{body}"
        );
        client.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(3600), client.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "no answer within an hour");
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        let json = answer.split_once("\r\n\r\n").map(|(_, json)| json).unwrap_or_default();
        (status, serde_json::from_str(json).unwrap_or_default(), started.elapsed())
    }

    fn refused_batches(state: &AppState) -> u64 {
        state.view.read().unwrap().counters.refused_batches
    }

    #[tokio::test(start_paused = true)]
    async fn a_malformed_chunked_body_is_a_400_naming_the_encoding_not_the_size_limit_and_counted() {
        let state = state(None, true);
        let (status, json, _) =
            posted(state.clone(), "Transfer-Encoding: chunked", "zz\r\n[]\r\n0\r\n\r\n").await;
        let error = json["error"].as_str().unwrap_or_default();
        assert_eq!(status, 400, "{json}");
        assert!(
            error.starts_with("the body is not well-formed HTTP (") && error.contains("chunk"),
            "{error}"
        );
        assert!(!error.contains("max_body_bytes"), "{error}");
        assert_eq!(json["details"][0]["reason"], error);
        assert_eq!(refused_batches(&state), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_over_the_limit_is_a_413_naming_the_key_and_its_value() {
        // The test state's limit is 64 bytes; 65 is one over.
        let state = state(None, true);
        let (status, json, _) = posted(state.clone(), "Content-Length: 65", &"x".repeat(65)).await;
        assert_eq!(status, 413, "{json}");
        assert_eq!(
            json["error"],
            "the body is larger than daemon.max_body_bytes (64 bytes); send smaller batches"
        );
        assert_eq!(refused_batches(&state), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_arriving_is_a_408_once_the_body_timeout_elapses_and_the_connection_closes() {
        // The test state's body timeout is 10 s; 10 of the 50 announced bytes arrive.
        let state = state(None, true);
        let (status, json, after) = posted(state.clone(), "Content-Length: 50", "[{\"signal_").await;
        assert_eq!(status, 408, "{json}");
        assert!(
            json["error"].as_str().unwrap_or_default().contains("daemon.body_read_timeout_ms (10000 ms)")
        );
        assert!(after >= Duration::from_secs(10) && after < Duration::from_secs(11), "{after:?}");
        assert_eq!(refused_batches(&state), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn metrics_show_what_the_server_counted_with_the_state_s_counters() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let state = state(None, true);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let counters = state.http_counters();
        let router = Router::new().route("/metrics", get(metrics)).with_state(state);
        let serving = super::super::serve::Serving {
            header_timeout: Duration::from_secs(10),
            max_connections: 8,
            reserve: 1,
        };
        tokio::spawn(super::super::serve::serve(listener, router, serving, counters, std::future::pending()));
        let exchange = |request: &'static str| async move {
            let mut client = tokio::net::TcpStream::connect(address).await.unwrap();
            client.write_all(request.as_bytes()).await.unwrap();
            let mut answer = Vec::new();
            let read = tokio::time::timeout(Duration::from_secs(3600), client.read_to_end(&mut answer)).await;
            assert!(read.is_ok(), "no answer within an hour");
            String::from_utf8_lossy(&answer).into_owned()
        };
        // Two lengths: the server refuses it (a bare 400) before any route.
        let refused = exchange(
            "POST /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
        )
        .await;
        assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");
        let shown = exchange("GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await;
        assert!(shown.starts_with("HTTP/1.1 200"), "{shown}");
        assert!(shown.lines().any(|line| line == "siglearn_http_malformed_requests_total 1"), "{shown}");
    }
}
