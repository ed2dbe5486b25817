//! `siglearn run`: the engine live, behind HTTP, on the wall clock.
//!
//! tokio stays at the edges: the HTTP server ([`api`]), a one-second clock
//! tick and the signal handler run on it. The engine and the store writer run
//! on their own threads ([`core`]); handlers talk to the engine through a
//! bounded channel, so when the engine falls behind, requests wait for room
//! (back-pressure) instead of piling up in memory. The script folder is
//! watched ([`watch`]); a changed script is compiled off the engine thread
//! and swapped in between two requests, so no signal or outcome is lost or
//! seen twice across a reload.
//!
//! On start the daemon continues its store exactly as a continued replay
//! does (strategies from their checkpoints plus the outcomes after them, open
//! signals, tests, the schedule, each missed job once). SIGINT or SIGTERM
//! stops intake, lets the engine finish what it was given, checkpoints,
//! commits and exits 0. The daemon is its store's only writer: it holds the
//! store's lock from start to stop and writes its address into the lock
//! file, so a command-line write is refused with the endpoint to use.

pub mod api;
mod core;
mod failures;
mod intake;
mod known;
mod serve;
mod view;
mod watch;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Serialize;
use siglearn_plugin_api::{SignalId, StrategyId, VersionId};
use tokio::sync::{mpsc, oneshot};

use crate::config::{Config, StrategyConfig};
use crate::engine::{Effect, Engine, LineupSpec};
use crate::schedule::Schedule;
use crate::store::{Command, Store, StoreReader};
use crate::strategy::{Clash, StrategyError, native, start_lineup};
use core::{Core, Request, wall_now};
use known::{KnownIds, RecentBars};
use view::{StrategyStatus, View};

/// The most items one batch (`POST /api/signals`, `POST /api/prices`) may hold.
pub(crate) const MAX_BATCH: usize = 100_000;
/// Bad items a refusal lists in full; the others are counted.
pub(crate) const MAX_LISTED: usize = 100;
/// The longest reason a refusal lists for one problem: a reason that quotes
/// the input (a long string of the wrong type) is cut there.
const MAX_REASON: usize = 300;

/// Why a request was refused: an HTTP status and a JSON body naming the
/// problem and, for a batch, its bad items (the first [`MAX_LISTED`] in
/// full, with how many there are in all).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refusal {
    #[serde(skip)]
    pub status: u16,
    pub error: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<serde_json::Value>,
    /// For a batch: how many items and problems there are in all.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub counts: Option<Counts>,
}

/// How many bad items and problems a batch has, and how many bad items
/// its refusal leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub bad_items: usize,
    pub problems: usize,
    pub left_out_items: usize,
}

/// The problems of a batch's items, in memory bounded whatever the batch:
/// every problem of the first [`MAX_LISTED`] bad items is kept (reasons cut
/// at [`MAX_REASON`] bytes), the rest are only counted. Problems are pushed
/// in item order.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    listed: Vec<serde_json::Value>,
    bad_items: usize,
    problems: usize,
    last_index: Option<usize>,
}

impl Problems {
    /// Records a problem with `field` of item `index`.
    pub(crate) fn push(&mut self, index: usize, field: &str, reason: impl std::fmt::Display) {
        if self.last_index != Some(index) {
            self.last_index = Some(index);
            self.bad_items += 1;
        }
        self.problems += 1;
        if self.bad_items <= MAX_LISTED {
            let (field, reason) = (clip(field.to_owned()), clip(reason.to_string()));
            self.listed.push(serde_json::json!({ "index": index, "field": field, "reason": reason }));
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.problems == 0
    }

    /// Problems so far.
    pub(crate) fn len(&self) -> usize {
        self.problems
    }

    /// The refusal listing these problems: `error`, and when items were
    /// left out, how many.
    pub(crate) fn refusal(self, status: u16, error: &str) -> Refusal {
        let left_out_items = self.bad_items.saturating_sub(MAX_LISTED);
        let error = if left_out_items == 0 {
            error.to_owned()
        } else {
            format!(
                "{error} ({} bad items, {} problems; the first {MAX_LISTED} items are listed, {left_out_items} left out)",
                self.bad_items, self.problems
            )
        };
        Refusal {
            status,
            error,
            details: self.listed,
            counts: Some(Counts { bad_items: self.bad_items, problems: self.problems, left_out_items }),
        }
    }
}

/// `text` cut to [`MAX_REASON`] bytes: a message that quotes the input
/// (serde quotes a value of the wrong type) stays short.
pub(crate) fn clip(mut text: String) -> String {
    if text.len() > MAX_REASON {
        let cut = (0..=MAX_REASON).rev().find(|&at| text.is_char_boundary(at)).unwrap_or(0);
        text.truncate(cut);
        text.push_str("... (cut)");
    }
    text
}

impl Refusal {
    pub(crate) fn with(status: u16, error: impl Into<String>) -> Self {
        Refusal { status, error: error.into(), details: Vec::new(), counts: None }
    }
    pub(crate) fn bad_request(error: impl Into<String>) -> Self {
        Self::with(400, error)
    }
    /// A batch refused for the items `problems` lists (422).
    pub(crate) fn invalid(error: &str, problems: Problems) -> Self {
        problems.refusal(422, error)
    }
    pub(crate) fn not_found(error: impl Into<String>) -> Self {
        Self::with(404, error)
    }
    pub(crate) fn conflict(error: impl Into<String>) -> Self {
        Self::with(409, error)
    }
    pub(crate) fn internal(error: impl Into<String>) -> Self {
        Self::with(500, error)
    }
    pub(crate) fn unavailable() -> Self {
        Self::with(503, "the engine is shutting down")
    }
}

/// The champion's decision on a posted signal, as the response publishes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Published {
    pub signal_id: SignalId,
    /// The champion, if there is one.
    pub strategy: Option<StrategyId>,
    pub version: Option<VersionId>,
    /// `None` when there is no champion or it failed to decide.
    pub take: Option<bool>,
    pub score: Option<f64>,
    pub size: Option<f64>,
}

impl Published {
    fn of(signal: &SignalId, champion: Option<&StrategyId>, effects: &[Effect]) -> Self {
        let decision = effects.iter().find_map(|effect| match effect {
            Effect::Decided(d) if Some(&d.strategy) == champion => Some(d),
            _ => None,
        });
        Published {
            signal_id: signal.clone(),
            strategy: champion.cloned(),
            version: decision.map(|d| d.version),
            take: decision.map(|d| d.take),
            score: decision.map(|d| d.score),
            size: decision.map(|d| d.size),
        }
    }
}

/// The token writes need: `SIGLEARN_TOKEN`, else the config's.
fn token(config: &Config) -> Option<String> {
    std::env::var("SIGLEARN_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .or_else(|| config.daemon.token.clone())
}

/// The files of `folder` that `keep` accepts, sorted. Hidden entries (an
/// editor's `.#x.rhai` lock, `.x.rhai.swp`) and entries that are not
/// readable files (a broken symlink, a folder, no permission) are skipped
/// with a warning: they are never strategies.
fn files_in(folder: &Path, keep: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(folder) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| keep(p))
            .filter(|path| match unusable(path) {
                Some(why) => {
                    tracing::warn!(file = %path.display(), "skipped: {why}");
                    false
                }
                None => true,
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

/// Why a strategy-looking entry of a folder is not a strategy, if it is not.
fn unusable(path: &Path) -> Option<String> {
    if path.file_name().and_then(|n| n.to_str()).is_none_or(|n| n.starts_with('.')) {
        return Some("a hidden file (an editor's lock or swap file) is not a strategy".to_owned());
    }
    match std::fs::metadata(path) {
        Err(error) => Some(format!("cannot be read ({error}); a broken symlink?")),
        Ok(meta) if !meta.is_file() => Some("not a regular file".to_owned()),
        Ok(_) => std::fs::File::open(path).err().map(|error| format!("cannot be read ({error})")),
    }
}

/// The strategies: the configured ones, or every `*.rhai` of the scripts
/// folder and every library of the plugins folder (sorted by name;
/// `baseline` is champion when present).
fn strategies(config: &mut Config) -> anyhow::Result<(bool, Vec<Clash>)> {
    if !config.strategies.is_empty() {
        return Ok((false, Vec::new()));
    }
    let scripts = files_in(&config.daemon.scripts, |p| p.extension().is_some_and(|e| e == "rhai"))
        .into_iter()
        .filter_map(|path| Some((path.file_stem()?.to_str()?.to_owned(), path)));
    let plugins = files_in(&config.daemon.plugins, native::is_library)
        .into_iter()
        .filter_map(|path| Some((native::strategy_name(&path)?, path)));
    let mut found: Vec<(String, PathBuf)> = scripts.chain(plugins).collect();
    found.sort();
    // Two files that would be one strategy stop only that strategy.
    let clashes = Clash::take_from(&mut found);
    for (name, path) in found {
        config.strategies.push(StrategyConfig { name, path, params: serde_json::json!({}), enabled: true });
    }
    if config.experiment.champion.is_none() && config.strategies.iter().any(|s| s.name == "baseline") {
        config.experiment.champion = Some("baseline".into());
    }
    Ok((true, clashes))
}

/// Runs the daemon until SIGINT or SIGTERM.
pub fn run(mut config: Config) -> anyhow::Result<()> {
    let listen: SocketAddr =
        config.daemon.listen.parse().with_context(|| format!("daemon.listen {:?}", config.daemon.listen))?;
    let token = token(&config);
    if !listen.ip().is_loopback() && token.is_none() {
        bail!(
            "refusing to listen on {listen} without a token: writes would be open to the network; \
             set SIGLEARN_TOKEN or daemon.token (or listen on 127.0.0.1)"
        );
    }
    let given = config.clone();
    let (adopt_new_scripts, clashes) = strategies(&mut config)?;
    let problems = config.validate();
    if !problems.is_empty() {
        bail!("the configuration has {} problem(s):\n  - {}", problems.len(), problems.join("\n  - "));
    }
    if config.enabled_strategies().next().is_none()
        && clashes.is_empty()
        && !config.daemon.allow_no_strategies
    {
        bail!(
            "no strategy to run: no [[strategies]] are configured, {} holds no *.rhai script and {} no plugin \
             library; add one (or fix daemon.scripts / --scripts), or set daemon.allow_no_strategies = true \
             to run for outcomes only",
            config.daemon.scripts.display(),
            config.daemon.plugins.display()
        );
    }
    let db = config.daemon.db.clone();
    let (core, view) = start_engine(&config, &clashes, given, &db, adopt_new_scripts)?;
    let (requests, receiver) = mpsc::channel(config.daemon.queue);
    let engine_thread = std::thread::Builder::new()
        .name("siglearn-engine".into())
        .spawn(move || core.run(receiver))
        .context("cannot start the engine thread")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let plan = watch::Plan {
        files: config.strategies.iter().map(|s| (s.name.clone(), s.path.clone())).collect(),
        adopt_scripts: adopt_new_scripts.then(|| config.daemon.scripts.clone()),
        adopt_plugins: adopt_new_scripts.then(|| config.daemon.plugins.clone()),
    };
    let state = api::AppState::new(requests.clone(), Arc::clone(&view), token, db.clone(), &config);
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let bound = listener.local_addr()?;
        // Handlers first: a SIGTERM right after the address is announced
        // (systemd stopping a unit that just started) must stop cleanly.
        let stop = stop_signal()?;
        // The lock file names the daemon, so that a CLI write is told where to go.
        if let Err(error) = crate::store::announce(&db, &format!("http://{bound}")) {
            tracing::warn!(%error, "cannot write the address into the store's lock file; the lock still holds");
        }
        // Watching starts before the address is announced, so a file written
        // as soon as the daemon answers is seen.
        let _watcher = watch::start(
            plan,
            Duration::from_millis(config.daemon.reload_debounce_ms),
            config.limits,
            requests.clone(),
            Arc::clone(&view),
        )?;
        // Stdout closed or full (`run | true`, `> /dev/full`): the line is
        // lost and the daemon serves on; the store's lock file names the
        // address too.
        {
            use std::io::Write as _;
            let _ = writeln!(std::io::stdout(), "siglearn listening on http://{bound}");
        }
        tracing::info!(%bound, db = %db.display(), "siglearn daemon started");
        let ticker = tokio::spawn(tick(requests.clone()));
        if let Ok(limits) = std::fs::read_to_string("/proc/self/limits") {
            if let Some(warning) = serve::open_file_warning(config.daemon.max_connections, &limits) {
                tracing::warn!("{warning}");
            }
        }
        let counters = state.http_counters();
        serve::serve(listener, api::router(state), serve::Serving::new(&config.daemon), counters, stop).await;
        ticker.abort();
        tracing::info!("stopping: intake closed, finishing queued work");
        let (reply, done) = oneshot::channel();
        requests
            .send(Request::Shutdown { reply })
            .await
            .map_err(|_| anyhow::anyhow!("the engine thread is gone"))?;
        done.await
            .map_err(|_| anyhow::anyhow!("the engine thread stopped without answering"))?
            .map_err(anyhow::Error::msg)
    });
    engine_thread.join().map_err(|_| anyhow::anyhow!("the engine thread panicked"))?;
    result?;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// The engine, continued from the store when it holds an earlier run.
/// The store is opened first: its write lock keeps every other writer out.
fn start_engine(
    config: &Config,
    clashes: &[Clash],
    given: Config,
    db: &Path,
    adopt_new_scripts: bool,
) -> anyhow::Result<(Core, Arc<RwLock<View>>)> {
    let store = Store::open(db, &config.engine().monitor)
        .with_context(|| format!("opening store {}", db.display()))?;
    let (engine, problems, failed) = build_engine(config, clashes, db, &store)?;
    let known = KnownIds::load(StoreReader::open(db)?)?;
    tracing::debug!(bytes = known.memory(), "the ids of the stored signals are loaded");
    let mut view = View::new();
    view.open_signals = engine.open_count();
    view.strategies = statuses(config, &engine, problems, failed);
    let view = Arc::new(RwLock::new(view));
    let core = Core {
        engine,
        store,
        db: db.to_path_buf(),
        limits: config.limits,
        known,
        bars: RecentBars::default(),
        view: Arc::clone(&view),
        checkpoint_every: Duration::from_secs(config.daemon.snapshot_minutes * 60),
        adopt_new_scripts,
        config: given,
        broken: None,
        failure_log: Default::default(),
    };
    Ok((core, view))
}

/// The engine as a start would build it from the store now, and the status
/// of its strategies: how the daemon forgets what a failed commit left in
/// memory. `given` is the configuration before the folders were scanned.
pub(crate) fn rebuild(
    given: &Config,
    db: &Path,
    store: &Store,
) -> anyhow::Result<(Engine, std::collections::BTreeMap<String, StrategyStatus>)> {
    let mut config = given.clone();
    let (_, clashes) = strategies(&mut config)?;
    let (engine, problems, failed) = build_engine(&config, &clashes, db, store)?;
    let statuses = statuses(&config, &engine, problems, failed);
    Ok((engine, statuses))
}

/// The lineup continued from the store (or loaded fresh), its versions
/// recorded, and the scripts that did not load or could not be restored.
fn build_engine(
    config: &Config,
    clashes: &[Clash],
    db: &Path,
    store: &Store,
) -> anyhow::Result<(Engine, Vec<StrategyError>, Vec<StrategyError>)> {
    let mut engine_config = config.engine();
    engine_config.clock_exits = true;
    let now = wall_now();
    let earlier = crate::restore::earlier_run(db, std::iter::empty())?;
    if let Some(found) = earlier.as_ref().map(|reader| reader.out_of_range()).transpose()? {
        if found.count > 0 {
            tracing::warn!(store = %db.display(), "{found}");
        }
    }
    let lineup = start_lineup(config, clashes, earlier.as_ref(), now).map_err(|errors| {
        let listing: Vec<String> = errors.iter().map(|e| format!("  - {e}")).collect();
        anyhow::anyhow!("cannot load the strategies:\n{}", listing.join("\n"))
    })?;
    let mut commands: Vec<Command> = lineup.versions.iter().cloned().map(Command::InsertVersion).collect();
    commands.extend(lineup.alias.clone().map(Command::MoveAlias));
    store.commit(commands)?;
    let schedule =
        Schedule::new(&config.schedule).map_err(|problems| anyhow::anyhow!(problems.join("; ")))?;
    let mut problems = lineup.problems.clone();
    for problem in &problems {
        tracing::error!(error = %problem, "the script does not load; its live version from the store runs instead");
    }
    let failed = lineup.failed.clone();
    for error in &failed {
        tracing::error!(%error, "the strategy cannot be restored or loaded and does not run; the others do");
        store.send(Command::InsertStrategyError { error: error.clone(), at: now })?;
    }
    let champion = lineup.champion;
    let mut engine = Engine::with_lineup(
        engine_config,
        LineupSpec { members: lineup.members, champion, schedule: Some(schedule) },
    );
    if let Some(reader) = &earlier {
        let restored = crate::restore::restore(&mut engine, reader, config.limits)?;
        tracing::info!(closed = restored.closed_trades, open = restored.open_signals, "continued the store");
        for (strategy, version) in &restored.probations {
            tracing::info!(%strategy, version = version.0, "continues its probation");
        }
        for problem in &restored.problems {
            tracing::error!(error = %problem, "a row of the store cannot be read; the strategy runs without it");
        }
        problems.extend(restored.problems.iter().cloned());
        for (strategy, version) in &restored.cut_probations {
            tracing::warn!(
                %strategy,
                version = version.0,
                "was on probation at the restart but the store holds no saved probation; it stays live without a shadow"
            );
        }
        // Code changed while the daemon was stopped: deployed as a hot reload.
        let deployed = crate::restore::deploy(&mut engine, lineup.deploys, now);
        store.commit(deployed.commands)?;
        for deploy in &deployed.deploys {
            tracing::info!("{deploy}");
        }
        for problem in deployed.refused {
            tracing::error!(error = %problem, "the new code does not take over the state; the live version runs instead");
            problems.push(problem);
        }
    }
    Ok((engine, problems, failed))
}

/// What `/api/strategies` shows of each strategy of `engine`.
fn statuses(
    config: &Config,
    engine: &Engine,
    problems: Vec<StrategyError>,
    failed: Vec<StrategyError>,
) -> std::collections::BTreeMap<String, StrategyStatus> {
    let mut statuses = std::collections::BTreeMap::new();
    for (i, (name, version, retired)) in engine.versions().into_iter().enumerate() {
        let script =
            config.strategies.iter().find(|s| s.name == name.as_str()).map(|s| s.path.display().to_string());
        statuses.insert(
            name.to_string(),
            StrategyStatus {
                version: version.0,
                champion: engine.champion() == Some(i),
                running: !retired,
                script: script.unwrap_or_default(),
                code_hash: engine.code_hash(name.as_str()).unwrap_or_default().to_owned(),
                plugin: engine.plugin_build(name.as_str()).cloned(),
                ..StrategyStatus::default()
            },
        );
    }
    for probation in engine.probations() {
        if let Some(status) = statuses.get_mut(probation.strategy.as_str()) {
            status.probation = Some(view::ProbationStatus {
                shadow_version: probation.shadow_version.0,
                until: probation.until.0,
            });
        }
    }
    for problem in problems {
        if let Some(status) = statuses.get_mut(problem.strategy.as_str()) {
            status.reload_error = Some(problem);
        }
    }
    for error in failed {
        let script = config
            .strategies
            .iter()
            .find(|s| s.name == error.strategy.as_str())
            .map(|s| s.path.display().to_string());
        let status = statuses.entry(error.strategy.to_string()).or_default();
        status.running = false;
        status.script = script.unwrap_or_default();
        status.errors += 1;
        status.last_error = Some(error.clone());
        status.reload_error = Some(error);
    }
    statuses
}

/// Moves the engine clock once a second: jobs and time exits run on it.
async fn tick(requests: mpsc::Sender<Request>) {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        interval.tick().await;
        if requests.send(Request::Tick { now: wall_now() }).await.is_err() {
            return;
        }
    }
}

/// A future that resolves on SIGINT or SIGTERM; the handlers are installed
/// when this returns, not when the future is first polled.
#[cfg(unix)]
fn stop_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
    })
}

/// A future that resolves on Ctrl-C.
#[cfg(not(unix))]
fn stop_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// A read-only store connection for a handler.
pub(crate) fn reader(db: &Path) -> Result<StoreReader, Refusal> {
    StoreReader::open(db).map_err(|e| Refusal::internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DaemonConfig;

    #[test]
    fn a_refusal_lists_the_first_bad_items_in_full_and_counts_every_one() {
        let mut problems = Problems::default();
        for index in 0..250 {
            problems.push(index, "a", "short");
            problems.push(index, "b", "x".repeat(10_000));
        }
        let refusal = problems.refusal(422, "invalid");
        assert_eq!(refusal.counts, Some(Counts { bad_items: 250, problems: 500, left_out_items: 150 }));
        assert_eq!(refusal.details.len(), 2 * MAX_LISTED);
        assert_eq!(refusal.details.last().unwrap()["index"], MAX_LISTED - 1);
        assert!(refusal.details[1]["reason"].as_str().unwrap().len() < 400, "a long reason is cut");
        assert!(refusal.error.contains("150 left out"), "{}", refusal.error);
        let json = serde_json::to_value(&refusal).unwrap();
        assert_eq!((json["bad_items"].as_u64(), json["left_out_items"].as_u64()), (Some(250), Some(150)));
    }

    #[test]
    fn hidden_and_unreadable_entries_of_a_folder_are_not_strategies() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path();
        std::fs::write(folder.join("a.rhai"), "fn decide(signal) { true }").unwrap();
        std::fs::write(folder.join(".hidden.rhai"), "fn decide(signal) { true }").unwrap();
        std::fs::create_dir(folder.join("dir.rhai")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("user@host.1234:1700000000", folder.join(".#a.rhai")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("gone.rhai", folder.join("dangling.rhai")).unwrap();
        let found = files_in(folder, |p| p.extension().is_some_and(|e| e == "rhai"));
        assert_eq!(found, [folder.join("a.rhai")]);
    }

    #[test]
    fn without_strategies_the_daemon_refuses_to_start_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.daemon.listen = "127.0.0.1:0".into();
        config.daemon.db = dir.path().join("s.db");
        config.daemon.scripts = dir.path().join("scripts");
        config.daemon.plugins = dir.path().join("plugins");
        let error = run(config).unwrap_err().to_string();
        assert!(error.contains("no strategy to run") && error.contains("allow_no_strategies"), "{error}");
        assert!(!dir.path().join("s.db").exists(), "refused before anything was written");
    }

    #[test]
    fn problems_are_counted_and_a_reason_is_cut_past_300_bytes() {
        let mut problems = Problems::default();
        assert!(problems.is_empty());
        assert_eq!(problems.len(), 0);
        problems.push(0, "a", "x");
        problems.push(0, "b", "y");
        problems.push(3, "c", "z");
        assert!(!problems.is_empty());
        assert_eq!(problems.len(), 3);
        let refusal = Refusal::invalid("invalid", problems);
        assert_eq!((refusal.status, refusal.error.as_str()), (422, "invalid"));
        assert_eq!(refusal.counts, Some(Counts { bad_items: 2, problems: 3, left_out_items: 0 }));
        assert_eq!(refusal.details.len(), 3);
        let conflict = Refusal::conflict("taken");
        assert_eq!((conflict.status, conflict.error.as_str(), conflict.counts), (409, "taken", None));
        // 300 bytes stay whole; one more is cut back to 300, at a character's edge.
        assert_eq!(clip("x".repeat(300)), "x".repeat(300));
        assert_eq!(clip("x".repeat(301)), format!("{}... (cut)", "x".repeat(300)));
        assert_eq!(clip(format!("x{}", "é".repeat(150))), format!("x{}... (cut)", "é".repeat(149)));
    }

    /// A scripts folder with `scripts` and a plugins folder with `plugins`
    /// (empty files) in `dir`, and a config using them, listening where
    /// nothing can (a port already taken, kept by the returned listener).
    fn folders(dir: &Path, scripts: &[&str], plugins: &[&str]) -> (Config, std::net::TcpListener) {
        let mut config = Config::default();
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        config.daemon.listen = busy.local_addr().unwrap().to_string();
        config.daemon.db = dir.join("s.db");
        config.daemon.scripts = dir.join("scripts");
        config.daemon.plugins = dir.join("plugins");
        std::fs::create_dir(&config.daemon.scripts).unwrap();
        std::fs::create_dir(&config.daemon.plugins).unwrap();
        for name in scripts {
            std::fs::write(config.daemon.scripts.join(name), "fn decide(signal) { true }").unwrap();
        }
        for name in plugins {
            std::fs::write(config.daemon.plugins.join(name), "").unwrap();
        }
        (config, busy)
    }

    #[test]
    fn without_configured_strategies_the_folders_give_them_by_name_with_clashes_apart() {
        let dir = tempfile::tempdir().unwrap();
        let (mut config, _busy) =
            folders(dir.path(), &["zeta.rhai", "baseline.rhai", "hw.rhai"], &["libhw.so", "libfast.so"]);
        let (scripts, plugins) = (config.daemon.scripts.clone(), config.daemon.plugins.clone());
        let (adopt, clashes) = strategies(&mut config).unwrap();
        assert!(adopt, "new files of the folders are adopted");
        assert_eq!(
            clashes,
            [Clash { name: "hw".into(), files: vec![plugins.join("libhw.so"), scripts.join("hw.rhai")] }]
        );
        let found: Vec<(&str, &Path)> =
            config.strategies.iter().map(|s| (s.name.as_str(), s.path.as_path())).collect();
        let expected = [
            ("baseline", scripts.join("baseline.rhai")),
            ("fast", plugins.join("libfast.so")),
            ("zeta", scripts.join("zeta.rhai")),
        ];
        assert_eq!(found, expected.iter().map(|(n, p)| (*n, p.as_path())).collect::<Vec<_>>());
        assert_eq!(config.experiment.champion.as_deref(), Some("baseline"));
        // Configured strategies are the lineup: the folders are not read.
        let before = config.clone();
        assert_eq!(strategies(&mut config).unwrap(), (false, Vec::new()));
        assert_eq!(config, before);
    }

    #[test]
    fn a_start_shows_every_strategy_and_checkpoints_as_often_as_configured() {
        let dir = tempfile::tempdir().unwrap();
        let (mut config, _busy) = folders(dir.path(), &["a.rhai", "hw.rhai"], &["libhw.so"]);
        config.daemon.snapshot_minutes = 7;
        let given = config.clone();
        let (adopt, clashes) = strategies(&mut config).unwrap();
        let db = config.daemon.db.clone();
        let (core, view) = start_engine(&config, &clashes, given, &db, adopt).unwrap();
        assert_eq!(core.checkpoint_every, Duration::from_secs(7 * 60));
        let view = view.read().unwrap();
        assert_eq!(view.strategies.keys().collect::<Vec<_>>(), ["a", "hw"]);
        let a = &view.strategies["a"];
        let script = config.daemon.scripts.join("a.rhai").display().to_string();
        assert_eq!((a.version, a.champion, a.running, &a.script, a.errors), (1, true, true, &script, 0));
        // hw.rhai beside libhw.so: a new strategy that does not run, with no file of its own.
        let hw = &view.strategies["hw"];
        assert_eq!((hw.champion, hw.running, hw.script.as_str(), hw.errors), (false, false, "", 1));
        let error = hw.last_error.as_ref().expect("why hw does not run");
        assert!(error.message.contains("would both be the strategy \"hw\""), "{error}");
        assert_eq!(hw.reload_error.as_ref(), Some(error));
    }

    #[test]
    fn a_strategy_a_clash_or_leave_to_run_without_any_passes_the_empty_lineup_check() {
        // Each start gets past the check, to the listening address, which is taken.
        let cases: [(&[&str], &[&str], bool); 3] =
            [(&["a.rhai"], &[], false), (&["hw.rhai"], &["libhw.so"], false), (&[], &[], true)];
        for (scripts, plugins, allow) in cases {
            let dir = tempfile::tempdir().unwrap();
            let (mut config, busy) = folders(dir.path(), scripts, plugins);
            config.daemon.allow_no_strategies = allow;
            let error = run(config).unwrap_err().to_string();
            let address = busy.local_addr().unwrap();
            assert_eq!(error, format!("cannot listen on {address}"), "{scripts:?} {plugins:?} {allow}");
        }
    }

    /// Builds what `run` builds from `config` before it serves, with one
    /// script, and stops it again: the engine (its script limits and
    /// checkpoint interval), the queue, the server's limits and router.
    fn start_and_stop(mut config: Config) {
        let dir = tempfile::tempdir().unwrap();
        let (mut config_in, _busy) = folders(dir.path(), &["a.rhai"], &[]);
        config_in.outcomes = config.outcomes;
        config_in.experiment = config.experiment.clone();
        config_in.retrain = config.retrain;
        config_in.limits = config.limits;
        config_in.daemon = DaemonConfig { db: config_in.daemon.db.clone(), ..config.daemon.clone() };
        config_in.daemon.scripts = dir.path().join("scripts");
        config_in.daemon.plugins = dir.path().join("plugins");
        config = config_in;
        let given = config.clone();
        let (adopt, clashes) = strategies(&mut config).unwrap();
        let db = config.daemon.db.clone();
        let (core, view) = start_engine(&config, &clashes, given, &db, adopt).unwrap();
        let (requests, receiver) = mpsc::channel(config.daemon.queue);
        let engine = std::thread::spawn(move || core.run(receiver));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let state = api::AppState::new(requests.clone(), view, None, db, &config);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let (serving, counters) = (serve::Serving::new(&config.daemon), state.http_counters());
            serve::serve(listener, api::router(state), serving, counters, async {}).await;
            let (reply, done) = oneshot::channel();
            requests.send(Request::Shutdown { reply }).await.unwrap();
            done.await.unwrap().unwrap();
        });
        engine.join().unwrap();
    }

    #[test]
    fn every_numeric_key_at_any_extreme_is_a_config_error_naming_it_or_a_daemon_that_starts() {
        let mut keys: Vec<(&str, String, String)> = Config::default()
            .ranges()
            .into_iter()
            .map(|r| (r.key, r.least.to_string(), r.most.to_string()))
            .collect();
        keys.push(("outcomes.fee_pct", "0".into(), "49.99".into()));
        keys.push(("experiment.alpha", "0.0001".into(), "0.9999".into()));
        let mut started = 0;
        for (key, least, most) in keys {
            let (section, name) = key.split_once('.').unwrap();
            let one_over = most.parse::<u64>().map(|m| (m + 1).to_string()).unwrap_or_else(|_| "50".into());
            let extremes = [
                "0",
                "-1",
                &least,
                &most,
                &one_over,
                "9223372036854775807",
                "18446744073709551615",
                "1e308",
                "-1e308",
                "nan",
                "inf",
                "-inf",
            ];
            for value in extremes {
                let text = format!("[{section}]\n{name} = {value}\n");
                let problems = match Config::parse(&text) {
                    Ok(config) => config.validate(),
                    Err(problems) => problems,
                };
                if problems.is_empty() {
                    start_and_stop(Config::parse(&text).unwrap());
                    started += 1;
                } else {
                    assert!(problems.iter().all(|p| p.contains(name)), "{key} = {value}: {problems:?}");
                }
            }
            // Each range's ends are within it (another rule, hot_operations
            // at most job_operations, may still refuse one).
            for value in [&least, &most] {
                let config = Config::parse(&format!("[{section}]\n{name} = {value}\n")).unwrap();
                let problems = config.validate();
                let own: Vec<&String> =
                    problems.iter().filter(|p| p.starts_with(key) && p.contains("range")).collect();
                assert!(own.is_empty(), "{key} = {value}: {problems:?}");
            }
        }
        assert!(started >= 40, "only {started} accepted values were started");
    }
}
