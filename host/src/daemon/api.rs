//! The HTTP API (DESIGN section 10): intake, reads, the learning read model,
//! strategies and experiments, metrics and health.
//!
//! Every 4xx has a JSON body `{ "error": ..., "details": [...] }` naming the
//! problem and, for a batch, every bad item with its index and field. Writes
//! need `Authorization: Bearer <token>` whenever a token is set (always when
//! listening beyond loopback). Reads of the store open their own read-only
//! connection; the learning endpoints serve a read model recomputed in the
//! background when outcomes change, so a read never waits for a scan.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use siglearn_plugin_api::{Symbol, Timestamp, VersionId};
use tokio::sync::{mpsc, oneshot};

use super::core::{Request, wall_now};
use super::view::View;
use super::{Refusal, intake, reader};
use crate::analytics::Trials;
use crate::analytics::learning::{self, Period};
use crate::config::Config;
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
        _config: &Config,
    ) -> Self {
        let learning = Arc::new(LearningCache::default());
        AppState { requests, view, token: token.map(Arc::from), db, learning }
    }
}

/// A refusal as a response.
struct ApiError(Refusal);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(self.0)).into_response()
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        ApiError(refusal)
    }
}

type Reply = Result<axum::Json<serde_json::Value>, ApiError>;

/// The router of every endpoint.
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
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
        .fallback(|| async { ApiError(Refusal::not_found("no such endpoint; see the README for the API")) })
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

/// Refuses a write without the right bearer token, when one is set.
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &state.token else { return Ok(()) };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if given == Some(&**token) {
        Ok(())
    } else {
        Err(ApiError(Refusal::with(401, "writes need the header Authorization: Bearer <token>")))
    }
}

fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        let status = rejection.status().as_u16();
        ApiError(Refusal::with(
            status,
            format!("cannot read the body: {rejection} (the limit is daemon.max_body_bytes)"),
        ))
    })
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

async fn post_signals(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Reply {
    authorize(&state, &headers)?;
    let signals = intake::signals(&body(raw)?)?;
    let published = ask(&state, |reply| Request::Signals { signals, reply }).await??;
    Ok(axum::Json(serde_json::json!({ "accepted": published.len(), "decisions": published })))
}

async fn post_prices(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Reply {
    authorize(&state, &headers)?;
    let updates = intake::prices(&body(raw)?)?;
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

async fn list_signals(
    State(state): State<AppState>,
    query: Result<Query<SignalQuery>, axum::extract::rejection::QueryRejection>,
) -> Reply {
    let Query(query) = query.map_err(|e| {
        ApiError(Refusal::bad_request(format!("{e}; the parameters are status=active|closed, symbol, limit")))
    })?;
    let limit = query.limit.unwrap_or(100).min(10_000);
    match query.status.as_deref().unwrap_or("active") {
        "active" => {
            let symbol = query.symbol.map(|s| Symbol::new(s.as_str()));
            let open = ask(&state, |reply| Request::Active { symbol, reply }).await?;
            let shown: Vec<_> = open.iter().take(limit as usize).map(|s| &**s).collect();
            Ok(axum::Json(serde_json::json!({ "status": "active", "count": open.len(), "signals": shown })))
        }
        "closed" => {
            let db = state.db.clone();
            let trades = blocking(move || {
                reader(&db)?
                    .recent_trades(limit, query.symbol.as_deref())
                    .map_err(|e| Refusal::internal(e.to_string()))
            })
            .await?;
            let shown: Vec<_> = trades.iter().map(trade_json).collect();
            Ok(axum::Json(serde_json::json!({ "status": "closed", "count": shown.len(), "signals": shown })))
        }
        other => Err(ApiError(Refusal::bad_request(format!("status {other:?} is not active or closed")))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutcomeQuery {
    symbol: Option<String>,
    limit: Option<u32>,
}

async fn list_outcomes(
    State(state): State<AppState>,
    query: Result<Query<OutcomeQuery>, axum::extract::rejection::QueryRejection>,
) -> Reply {
    let Query(query) = query
        .map_err(|e| ApiError(Refusal::bad_request(format!("{e}; the parameters are symbol, limit"))))?;
    let limit = query.limit.unwrap_or(100).min(10_000);
    let db = state.db.clone();
    let trades = blocking(move || {
        reader(&db)?
            .recent_trades(limit, query.symbol.as_deref())
            .map_err(|e| Refusal::internal(e.to_string()))
    })
    .await?;
    let outcomes: Vec<_> = trades
        .iter()
        .map(|t| serde_json::json!({
            "signal_id": t.signal.id, "symbol": t.signal.symbol, "side": t.signal.side,
            "kind": t.outcome.kind, "exit_ts": format_timestamp(t.outcome.exit_ts), "exit_price": t.outcome.exit_price,
            "pnl_pct": t.outcome.pnl_pct, "ambiguous": t.outcome.ambiguous,
        }))
        .collect();
    Ok(axum::Json(serde_json::json!({ "count": outcomes.len(), "outcomes": outcomes })))
}

async fn strategies(State(state): State<AppState>) -> Reply {
    let view = state.view.read().map_err(|_| ApiError(Refusal::internal("the view is unavailable")))?;
    Ok(axum::Json(serde_json::json!({ "strategies": &view.strategies })))
}

async fn versions(State(state): State<AppState>, Path(name): Path<String>) -> Reply {
    let db = state.db.clone();
    blocking(move || {
        let reader = reader(&db)?;
        let history = reader.versions(&name).map_err(|e| Refusal::internal(e.to_string()))?;
        if history.is_empty() {
            return Err(Refusal::not_found(format!("no strategy {name:?}")));
        }
        let moves: Vec<_> = reader
            .alias_history(CHAMPION)
            .map_err(|e| Refusal::internal(e.to_string()))?
            .into_iter()
            .filter(|m| m.strategy.as_str() == name)
            .collect();
        Ok(axum::Json(serde_json::json!({ "strategy": name, "versions": history, "champion_moves": moves })))
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionBody {
    version: u32,
}

fn version_body(raw: &[u8]) -> Result<VersionId, ApiError> {
    serde_json::from_slice::<VersionBody>(raw)
        .map(|b| VersionId(b.version))
        .map_err(|e| ApiError(Refusal::bad_request(format!("the body must be {{\"version\": N}}: {e}"))))
}

async fn rollback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Reply {
    authorize(&state, &headers)?;
    let version = version_body(&body(raw)?)?;
    let record = ask(&state, |reply| Request::Rollback { strategy: name, version, reply }).await??;
    Ok(axum::Json(serde_json::json!({ "live": record })))
}

async fn promote(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Reply {
    authorize(&state, &headers)?;
    let version = version_body(&body(raw)?)?;
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
/// for it), so a supervisor can restart the daemon.
async fn healthz(State(state): State<AppState>) -> Response {
    let Ok(view) = state.view.read() else {
        return ApiError(Refusal::internal("the view is unavailable")).into_response();
    };
    let stalled = crate::strategy::native::stalled_calls();
    let status = if stalled == 0 { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = axum::Json(serde_json::json!({
        "status": if stalled == 0 { "ok" } else { "stalled" },
        "stalled_plugin_calls": stalled,
        "uptime_s": view.started.elapsed().as_secs(),
        "open_signals": view.open_signals,
        "strategies": view.strategies.len(),
    }));
    (status, body).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.view.read().map(|v| v.prometheus()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn dashboard() -> Html<&'static str> {
    Html(include_str!("dashboard.html"))
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

/// Everything the learning endpoints show, from the store as it is.
fn learn_from(reader: &StoreReader, now: Timestamp) -> Result<Learned, Refusal> {
    let internal = |e: crate::store::StoreError| Refusal::internal(e.to_string());
    let outcomes = reader.outcome_count().map_err(internal)?;
    let trades = reader.trades().map_err(internal)?;
    let decisions = reader.all_decisions().map_err(internal)?;
    let champion = reader.alias(CHAMPION).map_err(internal)?.map(|(name, _)| name);
    let mut versions = Vec::new();
    for latest in reader.latest_versions().map_err(internal)? {
        let name = latest.strategy.to_string();
        versions.push((name.clone(), reader.versions(&name).map_err(internal)?));
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
