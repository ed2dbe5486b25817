//! `siglearn.toml`: one strict, optional configuration file.
//!
//! Every key has a default, so no file is needed; unknown keys are errors;
//! every problem in a file (unknown keys, bad values, missing scripts, an
//! unknown champion, a folder it names that does not exist) is reported at
//! once. Every relative path of a file (scripts, plugins, and the `db`,
//! `scripts` and `plugins` of `[daemon]`, set or left at their defaults) is
//! relative to the file's folder, wherever siglearn is started from.
//! `siglearn.example.toml` at the top of the repository shows every key.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::engine::{EngineConfig, RetrainConfig};
use crate::experiment::sequential::SequentialConfig;
use crate::monitor::{AmbiguityPolicy, MonitorConfig};
use crate::schedule::{Schedule, ScheduleConfig};
use crate::strategy::script::Limits;

/// The whole configuration.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Config {
    pub outcomes: OutcomesConfig,
    pub experiment: ExperimentConfig,
    pub strategies: Vec<StrategyConfig>,
    pub schedule: ScheduleConfig,
    pub retrain: RetrainConfig,
    pub limits: Limits,
    pub daemon: DaemonConfig,
}

/// How `siglearn run` serves.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct DaemonConfig {
    /// Address and port to listen on (port 0: any free port).
    pub listen: String,
    /// The SQLite store, relative to the config file.
    pub db: PathBuf,
    /// The folder of strategy scripts, watched for changes; without
    /// `[[strategies]]`, every `*.rhai` in it is a strategy.
    pub scripts: PathBuf,
    /// The folder of plugin libraries, watched the same way; without
    /// `[[strategies]]`, every `*.so` (`.dylib`, `.dll`) in it is a strategy
    /// named after its file (`libmine.so`: `mine`).
    pub plugins: PathBuf,
    /// Bearer token for writes; required when listening beyond loopback.
    /// `SIGLEARN_TOKEN` overrides it.
    pub token: Option<String>,
    /// How often strategy states are checkpointed, in minutes.
    pub snapshot_minutes: u64,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Quiet time after a script change before it is reloaded, in ms.
    pub reload_debounce_ms: u64,
    /// Requests that may wait for the engine before senders wait too.
    pub queue: usize,
    /// Start even when there is no strategy at all (outcomes only); without
    /// it, an empty lineup is an error, as it usually means a wrong folder.
    pub allow_no_strategies: bool,
    /// How far ahead of the wall clock a posted price or signal may be
    /// stamped, in minutes; later ones are refused (422).
    pub future_tolerance_minutes: u64,
    /// Time a client has to send a request's line and headers, in ms,
    /// counted from when the daemon starts waiting for them (so it is also
    /// how long an idle kept-alive connection stays open); then the
    /// connection is closed.
    pub header_read_timeout_ms: u64,
    /// Time a client has to send a whole request body, in ms, counted from
    /// when its handler starts reading it; then 408 and the connection is
    /// closed.
    pub body_read_timeout_ms: u64,
    /// Connections served at once. Past it, the newest few (the health
    /// reserve) are served `GET /healthz` only, with a short header
    /// timeout, each new one closing the oldest of them.
    pub max_connections: usize,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            listen: "127.0.0.1:7878".into(),
            db: "siglearn.db".into(),
            scripts: "scripts".into(),
            plugins: "plugins".into(),
            token: None,
            snapshot_minutes: 5,
            max_body_bytes: 16 * 1024 * 1024,
            reload_debounce_ms: 50,
            queue: 256,
            allow_no_strategies: false,
            future_tolerance_minutes: 5,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 60_000,
            max_connections: 512,
        }
    }
}

impl std::fmt::Debug for DaemonConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaemonConfig")
            .field("listen", &self.listen)
            .field("db", &self.db)
            .field("scripts", &self.scripts)
            .field("plugins", &self.plugins)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("snapshot_minutes", &self.snapshot_minutes)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("reload_debounce_ms", &self.reload_debounce_ms)
            .field("queue", &self.queue)
            .field("allow_no_strategies", &self.allow_no_strategies)
            .field("future_tolerance_minutes", &self.future_tolerance_minutes)
            .field("header_read_timeout_ms", &self.header_read_timeout_ms)
            .field("body_read_timeout_ms", &self.body_read_timeout_ms)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl DaemonConfig {
    /// [`DaemonConfig::future_tolerance_minutes`] in milliseconds.
    pub fn future_tolerance_ms(&self) -> i64 {
        i64::try_from(self.future_tolerance_minutes)
            .unwrap_or(i64::MAX)
            .saturating_mul(siglearn_plugin_api::MILLIS_PER_MINUTE)
    }
}

/// How outcomes are decided.
#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct OutcomesConfig {
    pub ambiguity: AmbiguityPolicy,
    pub fee_pct: f64,
}

/// The A/B experiment between the strategies.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default)]
pub struct ExperimentConfig {
    /// The strategy that starts as champion (default: the first enabled one).
    pub champion: Option<String>,
    pub alpha: f64,
    pub min_blocks: u64,
    pub planned_blocks: u64,
    pub block_minutes: u64,
    /// Days a deployed version (reload, retraining) runs beside the version
    /// it replaced, which takes over again if the new one proves worse; 0
    /// turns probation off.
    pub probation_days: u32,
}

impl Default for ExperimentConfig {
    fn default() -> Self {
        let test = SequentialConfig::default();
        ExperimentConfig {
            champion: None,
            alpha: test.alpha,
            min_blocks: test.min_blocks,
            planned_blocks: test.planned_blocks,
            block_minutes: test.block_minutes,
            probation_days: 7,
        }
    }
}

impl ExperimentConfig {
    pub fn test(&self) -> SequentialConfig {
        SequentialConfig {
            alpha: self.alpha,
            min_blocks: self.min_blocks,
            planned_blocks: self.planned_blocks,
            block_minutes: self.block_minutes,
        }
    }
}

/// One strategy of the lineup.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct StrategyConfig {
    pub name: String,
    /// The Rhai script (`script = "..."`) or plugin library (`plugin =
    /// "...so"`), relative to the config file; the file's ending decides
    /// which it is.
    #[serde(rename = "script", alias = "plugin")]
    pub path: PathBuf,
    /// Passed to the strategy's `init(params)`.
    #[serde(default = "empty_table")]
    pub params: serde_json::Value,
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn empty_table() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

fn enabled() -> bool {
    true
}

/// The keys set in the `[daemon]` table of `text` (already parsed once, so
/// it parses).
fn explicit_daemon_keys(text: &str) -> Vec<String> {
    let table: toml::Table = toml::from_str(text).unwrap_or_default();
    match table.get("daemon") {
        Some(toml::Value::Table(daemon)) => daemon.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// The `[[strategies]]` entries that can be read, each checked key by key
/// as [`section`] does; an entry without its name or file is left out, with
/// the problem.
fn strategies(value: toml::Value, problems: &mut Vec<String>) -> Vec<StrategyConfig> {
    let toml::Value::Array(entries) = value else {
        problems.push(format!(
            "strategies = {}: it must be a list of [[strategies]] tables with name and script (or plugin)",
            shown(&value)
        ));
        return Vec::new();
    };
    let mut read = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let path = format!("strategies[{i}]");
        let keys: Vec<String> = entry.as_table().map(|t| t.keys().cloned().collect()).unwrap_or_default();
        let has = |key: &str| keys.iter().any(|k| k == key);
        // The keys an entry needs, so that each other key can be read on its own.
        let mut needed = toml::Table::new();
        needed.insert("name".to_owned(), toml::Value::String("x".to_owned()));
        needed.insert("script".to_owned(), toml::Value::String("x.rhai".to_owned()));
        let before = problems.len();
        if entry.is_table() && !has("name") {
            problems.push(format!("{path}.name is missing; give every strategy a name"));
        }
        if entry.is_table() && !has("script") && !has("plugin") {
            problems
                .push(format!("{path} has no file; set script = \"name.rhai\" or plugin = \"libname.so\""));
        }
        if has("script") && has("plugin") {
            problems.push(format!("{path} sets both script and plugin; keep one"));
        }
        let strategy: Option<StrategyConfig> = section(&path, entry, &needed, problems);
        if problems.len() == before {
            read.extend(strategy);
        }
    }
    read
}

/// One table `path` read as a `T` key by key: each key is read alone, on top
/// of `needed` (the keys a `T` cannot do without), so that an unknown key or
/// a value of the wrong type is named without hiding any other; then the
/// keys that could be read are read together.
fn section<T: serde::de::DeserializeOwned>(
    path: &str,
    value: toml::Value,
    needed: &toml::Table,
    problems: &mut Vec<String>,
) -> Option<T> {
    let toml::Value::Table(table) = value else {
        problems.push(format!("{path} = {}: it must be a table, [{path}] with its keys", shown(&value)));
        return None;
    };
    let mut good = needed.clone();
    for (key, value) in table {
        let mut one = needed.clone();
        if key == "plugin" {
            one.remove("script");
        }
        one.insert(key.clone(), value.clone());
        let mut unknown = false;
        let read: Result<T, _> = serde_ignored::deserialize(toml::Value::Table(one), |_| unknown = true);
        match read {
            _ if unknown => problems.push(unknown_key(&format!("{path}.{key}"), &value)),
            Err(error) => problems.push(format!("{path}.{key} = {}: {}", shown(&value), type_error(&error))),
            Ok(_) => {
                if key == "plugin" {
                    good.remove("script");
                }
                good.insert(key, value);
            }
        }
    }
    match serde_ignored::deserialize(toml::Value::Table(good), |_| {}) {
        Ok(read) => Some(read),
        Err(error) => {
            problems.push(format!("{path}: {}", type_error(&error)));
            None
        }
    }
}

fn unknown_key(key: &str, value: &toml::Value) -> String {
    format!(
        "unknown key {key} = {}; remove it or fix its name (siglearn.example.toml shows every key)",
        shown(value)
    )
}

/// A TOML value as a problem quotes it: on one line, at most 60 characters.
fn shown(value: &toml::Value) -> String {
    let text = match value {
        toml::Value::Table(_) => "a table".to_owned(),
        other => other.to_string().replace('\n', " "),
    };
    match text.char_indices().nth(60) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text,
    }
}

/// serde's complaint about a value, on one line and in the words of the
/// file (a whole number, not a u64).
fn type_error(error: &toml::de::Error) -> String {
    let mut text = error.message().split_whitespace().collect::<Vec<_>>().join(" ");
    for (rust, words) in [
        ("expected u64", "expected a whole number, 0 or more"),
        ("expected u32", "expected a whole number, 0 or more"),
        ("expected usize", "expected a whole number, 0 or more"),
        ("expected f64", "expected a number"),
        ("expected a boolean", "expected true or false"),
    ] {
        text = text.replace(rust, words);
    }
    text
}

/// The problem with a folder the user named (`what`: the key or flag), if
/// it is not an existing folder.
pub fn missing_folder(what: &str, folder: &Path) -> Option<String> {
    if folder.is_dir() {
        return None;
    }
    let absolute = std::path::absolute(folder).unwrap_or_else(|_| folder.to_path_buf());
    Some(if folder.exists() {
        format!("{what} {} is not a folder", absolute.display())
    } else {
        format!(
            "{what} {} does not exist; create it or fix the path (relative paths in a config file are \
             relative to the file's folder)",
            absolute.display()
        )
    })
}

/// A configuration that cannot be used, with every problem found.
#[derive(Debug, thiserror::Error)]
#[error("{}: {} problem(s):\n{}", path.display(), problems.len(), bullets(problems))]
pub struct ConfigError {
    pub path: PathBuf,
    pub problems: Vec<String>,
}

/// A numeric key's value and the values it may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// `section.key`.
    pub key: &'static str,
    pub value: u64,
    pub least: u64,
    pub most: u64,
    /// What the value counts (`ms`, `requests`).
    pub unit: &'static str,
    /// Why the range ends where it does.
    pub why: &'static str,
}

impl Range {
    /// The problem of a value out of range: the key, the value, the range
    /// and why it ends there.
    fn problem(&self) -> String {
        let Range { key, value, least, most, unit, why } = *self;
        format!("{key} is {value} {unit}, out of range; use {least} to {most} ({why})")
    }
}

/// Ten years in days: the longest duration a key may give.
const TEN_YEARS_DAYS: u64 = 3650;

/// One bullet a problem; the lines of a longer one (a TOML syntax error
/// with its caret) stay indented under it.
fn bullets(problems: &[String]) -> String {
    let bullet = |p: &String| format!("  - {}", p.trim_end().replace('\n', "\n    "));
    problems.iter().map(bullet).collect::<Vec<_>>().join("\n")
}

impl Config {
    /// Reads, parses and checks `path`; script paths come back resolved.
    /// Every problem is reported at once: unknown keys, values of the wrong
    /// type, values out of range, missing files and folders.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let fail = |problems: Vec<String>| ConfigError { path: path.to_path_buf(), problems };
        let text = crate::user_file::read_text(path, crate::user_file::Kind::Config)
            .map_err(|e| fail(vec![format!("cannot read it: {}", e.problem)]))?;
        let (mut config, mut problems) = Config::read(&text).map_err(fail)?;
        let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        // The folders the file names itself must exist; left at their
        // defaults, a missing scripts or plugins folder only means none.
        let named = explicit_daemon_keys(&text);
        for strategy in &mut config.strategies {
            if strategy.path.is_relative() {
                strategy.path = base.join(&strategy.path);
            }
        }
        for folder in [&mut config.daemon.db, &mut config.daemon.scripts, &mut config.daemon.plugins] {
            if folder.is_relative() {
                *folder = base.join(&*folder);
            }
        }
        problems.extend(config.validate());
        let daemon = &config.daemon;
        for (key, folder) in [("scripts", &daemon.scripts), ("plugins", &daemon.plugins)] {
            if named.iter().any(|k| k == key) {
                problems.extend(missing_folder(&format!("daemon.{key}"), folder));
            }
        }
        if let Some(folder) = daemon.db.parent().filter(|p| !p.as_os_str().is_empty()) {
            problems.extend(missing_folder("daemon.db's folder", folder));
        }
        if problems.is_empty() { Ok(config) } else { Err(fail(problems)) }
    }

    /// Parses TOML text; the error lists every unknown key and every value
    /// of the wrong type (not the range checks of [`Config::validate`]).
    pub fn parse(text: &str) -> Result<Config, Vec<String>> {
        let (config, problems) = Config::read(text)?;
        if problems.is_empty() { Ok(config) } else { Err(problems) }
    }

    /// Parses TOML text key by key: the configuration with every key that
    /// could be read, and a problem for each that could not (unknown, or of
    /// the wrong type), which keeps its default so that it hides no other
    /// problem. Only text that is not TOML at all is an error.
    fn read(text: &str) -> Result<(Config, Vec<String>), Vec<String>> {
        let table: toml::Table = toml::from_str(text).map_err(|e| vec![e.to_string()])?;
        let mut config = Config::default();
        let mut problems = Vec::new();
        let none = toml::Table::new();
        for (key, value) in table {
            let problems = &mut problems;
            match key.as_str() {
                "outcomes" => config.outcomes = section(&key, value, &none, problems).unwrap_or_default(),
                "experiment" => config.experiment = section(&key, value, &none, problems).unwrap_or_default(),
                "schedule" => config.schedule = section(&key, value, &none, problems).unwrap_or_default(),
                "retrain" => config.retrain = section(&key, value, &none, problems).unwrap_or_default(),
                "limits" => config.limits = section(&key, value, &none, problems).unwrap_or_default(),
                "daemon" => config.daemon = section(&key, value, &none, problems).unwrap_or_default(),
                "strategies" => config.strategies = strategies(value, problems),
                _ => problems.push(unknown_key(&key, &value)),
            }
        }
        Ok((config, problems))
    }
    /// Every numeric key with its value and accepted range (the floats
    /// `outcomes.fee_pct` and `experiment.alpha` are checked on their own,
    /// NaN and infinities refused). README's configuration reference lists
    /// the same ranges.
    pub fn ranges(&self) -> Vec<Range> {
        let (d, l, r, e) = (&self.daemon, &self.limits, &self.retrain, &self.experiment);
        let size = |value: usize| u64::try_from(value).unwrap_or(u64::MAX);
        const TEN_YEARS_MINUTES: u64 = TEN_YEARS_DAYS * 24 * 60;
        const TEN_YEARS_MS: u64 = TEN_YEARS_DAYS * 86_400_000;
        const DAY_MS: u64 = 86_400_000;
        const HOUR_MS: u64 = 3_600_000;
        let ten_years = "ten years at most, so that no sum of times overflows";
        let range = |key, value, least, most, unit, why| Range { key, value, least, most, unit, why };
        vec![
            range(
                "experiment.min_blocks",
                e.min_blocks,
                2,
                1_000_000,
                "blocks",
                "a variance needs two; a million is beyond any run",
            ),
            range(
                "experiment.planned_blocks",
                e.planned_blocks,
                1,
                1_000_000,
                "blocks",
                "a million is beyond any run",
            ),
            range("experiment.block_minutes", e.block_minutes, 1, 366 * 1440, "minutes", "a year at most"),
            range(
                "experiment.probation_days",
                u64::from(e.probation_days),
                0,
                TEN_YEARS_DAYS,
                "days",
                ten_years,
            ),
            range("retrain.train_days", u64::from(r.train_days), 1, TEN_YEARS_DAYS, "days", ten_years),
            range(
                "retrain.min_train_trades",
                u64::from(r.min_train_trades),
                0,
                100_000_000,
                "trades",
                "more than any store holds",
            ),
            range(
                "retrain.min_validation_signals",
                u64::from(r.min_validation_signals),
                0,
                100_000_000,
                "signals",
                "more than any store holds",
            ),
            range(
                "limits.hot_operations",
                l.hot_operations,
                1,
                1_000_000_000_000,
                "operations",
                "a call must end",
            ),
            range(
                "limits.job_operations",
                l.job_operations,
                1,
                1_000_000_000_000,
                "operations",
                "a call must end",
            ),
            range("limits.hot_millis", l.hot_millis, 1, DAY_MS, "ms", "a day at most"),
            range("limits.job_millis", l.job_millis, 1, DAY_MS, "ms", "a day at most"),
            range(
                "limits.call_levels",
                size(l.call_levels),
                1,
                64,
                "levels",
                "deeper calls can overflow the thread's stack; 64 is Rhai's own limit in a release build",
            ),
            range(
                "limits.string_size",
                size(l.string_size),
                1,
                16 * 1024 * 1024,
                "bytes",
                "0 would mean no limit to Rhai",
            ),
            range(
                "limits.array_size",
                size(l.array_size),
                1,
                10_000_000,
                "elements",
                "0 would mean no limit to Rhai",
            ),
            range(
                "limits.map_size",
                size(l.map_size),
                1,
                10_000_000,
                "entries",
                "0 would mean no limit to Rhai",
            ),
            range("limits.print_lines", l.print_lines, 0, 1_000_000, "lines", "the log must stay readable"),
            range("daemon.snapshot_minutes", d.snapshot_minutes, 1, TEN_YEARS_MINUTES, "minutes", ten_years),
            range(
                "daemon.max_body_bytes",
                size(d.max_body_bytes),
                1,
                1 << 30,
                "bytes",
                "a body is held in memory; 1 GiB at most",
            ),
            range("daemon.reload_debounce_ms", d.reload_debounce_ms, 0, TEN_YEARS_MS, "ms", ten_years),
            range(
                "daemon.queue",
                size(d.queue),
                1,
                1_000_000,
                "requests",
                "each waiting request is held in memory",
            ),
            range(
                "daemon.future_tolerance_minutes",
                d.future_tolerance_minutes,
                0,
                TEN_YEARS_MINUTES,
                "minutes",
                ten_years,
            ),
            range(
                "daemon.header_read_timeout_ms",
                d.header_read_timeout_ms,
                1,
                HOUR_MS,
                "ms",
                "an hour at most; a slow client holds a connection this long",
            ),
            range(
                "daemon.body_read_timeout_ms",
                d.body_read_timeout_ms,
                1,
                HOUR_MS,
                "ms",
                "an hour at most; a slow client holds a connection this long",
            ),
            range(
                "daemon.max_connections",
                size(d.max_connections),
                1,
                1_000_000,
                "connections",
                "keep it below the open-file limit (ulimit -n)",
            ),
        ]
    }

    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !(self.outcomes.fee_pct.is_finite() && (0.0..50.0).contains(&self.outcomes.fee_pct)) {
            problems.push(format!("outcomes.fee_pct is {}; use a percent in [0, 50)", self.outcomes.fee_pct));
        }
        problems.extend(self.experiment.test().problems().into_iter().map(|p| format!("experiment.{p}")));
        if let Err(schedule) = Schedule::new(&self.schedule) {
            problems.extend(schedule);
        }
        problems.extend(self.limits.validate());
        if self.daemon.listen.parse::<std::net::SocketAddr>().is_err() {
            problems.push(format!(
                "daemon.listen {:?} is not an address like 127.0.0.1:7878",
                self.daemon.listen
            ));
        }
        if self.daemon.token.as_ref().is_some_and(|t| t.trim().is_empty()) {
            problems.push("daemon.token is empty; remove it or set a secret".to_owned());
        }
        // One range a numeric key: a value no library can panic on or
        // allocate without bound from. A key another check already named
        // (a sub-section's own rules) is not named twice.
        for range in self.ranges() {
            let named =
                problems.iter().any(|p| p.starts_with(range.key) && p[range.key.len()..].starts_with(' '));
            if !named && !(range.least..=range.most).contains(&range.value) {
                problems.push(range.problem());
            }
        }
        let mut names = BTreeSet::new();
        for (i, strategy) in self.strategies.iter().enumerate() {
            let name = &strategy.name;
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !valid {
                problems.push(format!(
                    "strategies[{i}].name {name:?}: use letters, digits, '_', '-' or '.' (it names files and rows)"
                ));
            }
            if !names.insert(name.as_str()) {
                problems.push(format!("strategies[{i}].name {name:?} is used twice"));
            }
            if !strategy.path.is_file() {
                problems.push(format!("strategies[{i}] {} does not exist", strategy.path.display()));
            } else if !(strategy.path.extension().is_some_and(|e| e == "rhai")
                || crate::strategy::native::is_library(&strategy.path))
            {
                problems.push(format!(
                    "strategies[{i}] {}: a strategy is a Rhai script (.rhai) or a plugin library (.so, .dylib, .dll)",
                    strategy.path.display()
                ));
            }
            if !strategy.params.is_object() {
                problems.push(format!("strategies[{i}].params must be a table"));
            }
        }
        if let Some(champion) = &self.experiment.champion {
            if !self.strategies.iter().any(|s| &s.name == champion && s.enabled) {
                problems.push(format!("experiment.champion {champion:?} is not an enabled strategy"));
            }
        }
        problems
    }

    /// The enabled strategies, in file order.
    pub fn enabled_strategies(&self) -> impl Iterator<Item = &StrategyConfig> {
        self.strategies.iter().filter(|s| s.enabled)
    }

    /// The index, among the enabled strategies, of the champion.
    pub fn champion_index(&self) -> Option<usize> {
        let enabled: Vec<&StrategyConfig> = self.enabled_strategies().collect();
        match &self.experiment.champion {
            Some(name) => enabled.iter().position(|s| &s.name == name),
            None => (!enabled.is_empty()).then_some(0),
        }
    }

    /// The engine settings this configuration asks for (a replay's: the
    /// daemon turns clock exits on).
    pub fn engine(&self) -> EngineConfig {
        EngineConfig {
            monitor: MonitorConfig { ambiguity: self.outcomes.ambiguity, fee_pct: self.outcomes.fee_pct },
            promotion: self.experiment.test(),
            retrain: self.retrain,
            probation_ms: i64::from(self.experiment.probation_days) * siglearn_plugin_api::MILLIS_PER_DAY,
            clock_exits: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_the_file_names_must_exist_but_a_default_one_need_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("siglearn.toml");
        std::fs::write(&path, "").unwrap();
        Config::load(&path).unwrap();
        std::fs::write(&path, "[daemon]\nscripts = \"scirpts\"\nplugins = \"plugins\"\ndb = \"data/s.db\"\n")
            .unwrap();
        let error = Config::load(&path).unwrap_err();
        assert_eq!(error.problems.len(), 3, "{error}");
        for needle in ["daemon.scripts", "scirpts does not exist", "daemon.plugins", "daemon.db's folder"] {
            assert!(error.to_string().contains(needle), "{needle} missing from {error}");
        }
        std::fs::create_dir(dir.path().join("scirpts")).unwrap();
        std::fs::create_dir(dir.path().join("plugins")).unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        Config::load(&path).unwrap();
    }

    #[test]
    fn paths_set_or_defaulted_resolve_from_the_file_s_folder() {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        std::fs::create_dir_all(etc.join("lib")).unwrap();
        let path = etc.join("siglearn.toml");
        std::fs::write(&path, "[daemon]\nplugins = \"lib\"\n").unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.daemon.plugins, etc.join("lib"));
        assert_eq!(config.daemon.scripts, etc.join("scripts"));
        assert_eq!(config.daemon.db, etc.join("siglearn.db"));
        let absolute = dir.path().join("var");
        std::fs::create_dir(&absolute).unwrap();
        std::fs::write(&path, format!("[daemon]\ndb = {:?}\n", absolute.join("s.db"))).unwrap();
        assert_eq!(Config::load(&path).unwrap().daemon.db, absolute.join("s.db"));
    }

    #[test]
    fn no_file_means_every_default() {
        let config = Config::parse("").unwrap();
        assert_eq!(config, Config::default());
        assert!(config.validate().is_empty());
        assert_eq!(config.engine().monitor.ambiguity, AmbiguityPolicy::StopFirst);
    }

    #[test]
    fn every_unknown_key_is_reported_at_once() {
        let problems = Config::parse(
            "[outcomes]\nambiguty = \"take_first\"\n[schedule]\ndaly = \"0 0 * * *\"\n\
             [[strategies]]\nname = \"a\"\nscript = \"a.rhai\"\nparms = {}\n",
        )
        .unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("outcomes.ambiguty"), "{problems:?}");
        assert!(problems[2].contains("strategies[0].parms"), "{problems:?}");
    }

    #[test]
    fn every_bad_value_is_reported_at_once() {
        let mut config = Config::parse(
            "[outcomes]\nfee_pct = -1\n[experiment]\nalpha = 2.0\nchampion = \"nobody\"\n\
             [schedule]\ndaily = \"every day\"\n\
             [[strategies]]\nname = \"a b\"\nscript = \"missing.rhai\"\n\
             [[strategies]]\nname = \"a b\"\nscript = \"missing.rhai\"\n",
        )
        .unwrap();
        config.limits.hot_operations = 0;
        let problems = config.validate();
        for needle in [
            "fee_pct",
            "experiment.alpha",
            "schedule.daily",
            "hot_operations",
            "used twice",
            "does not exist",
            "nobody",
        ] {
            assert!(problems.iter().any(|p| p.contains(needle)), "{needle} missing from {problems:?}");
        }
    }

    #[test]
    fn unknown_keys_type_errors_and_range_errors_are_reported_together_one_line_each() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("siglearn.toml");
        std::fs::write(
            &path,
            "[outcomes]\nambiguty = \"take_first\"\n[experiment]\nalpha = 2.0\nmin_blocks = -1\nblock_minutes = 0\n",
        )
        .unwrap();
        let error = Config::load(&path).unwrap_err();
        // Each problem: its section.key, the value given, and what to write instead.
        let expected = [
            ("unknown key outcomes.ambiguty = \"take_first\"", "remove it or fix its name"),
            ("experiment.alpha must be between 0 and 1 exclusive", "got 2"),
            ("experiment.min_blocks = -1", "expected a whole number, 0 or more"),
            ("experiment.block_minutes must be from 1 to 527040", "got 0"),
        ];
        assert_eq!(error.problems.len(), expected.len(), "{error}");
        for (start, fix) in expected {
            let problem = error.problems.iter().find(|p| p.starts_with(start));
            let problem = problem.unwrap_or_else(|| panic!("no problem starts with {start:?}: {error}"));
            assert!(problem.contains(fix) && !problem.contains('\n'), "{problem:?}");
        }
        let shown = error.to_string();
        assert_eq!(shown.lines().count(), 1 + expected.len(), "{shown}");
    }

    #[test]
    fn a_strategy_entry_with_a_bad_key_is_named_by_its_index() {
        let problems = Config::parse(
            "[[strategies]]\nname = \"a\"\nscript = \"a.rhai\"\nenabled = \"yes\"\n\
             [[strategies]]\nscript = \"b.rhai\"\n[[strategies]]\nname = \"c\"\nplugin = \"libc.so\"\n",
        )
        .unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("strategies[0].enabled = \"yes\": "), "{problems:?}");
        assert!(problems[1].starts_with("strategies[1].name is missing"), "{problems:?}");
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let config = Config::parse("[daemon]\ntoken = \"hunter2\"\n").unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2") && shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let problems = Config::parse("[outcomes\nfee_pct = 1").unwrap_err();
        assert!(problems[0].contains("line 1"), "{problems:?}");
        // Shown under its bullet: the caret lines are indented, not new bullets.
        let shown = ConfigError { path: "s.toml".into(), problems }.to_string();
        let lines: Vec<&str> = shown.lines().collect();
        assert!(lines[1].starts_with("  - ") && lines.len() > 2, "{shown}");
        assert!(lines[2..].iter().all(|line| line.starts_with("    ")), "{shown}");
    }

    #[test]
    fn the_champion_defaults_to_the_first_enabled_strategy() {
        let config = Config::parse(
            "[[strategies]]\nname = \"off\"\nscript = \"x\"\nenabled = false\n\
             [[strategies]]\nname = \"a\"\nscript = \"x\"\n[[strategies]]\nname = \"b\"\nscript = \"x\"\n",
        )
        .unwrap();
        assert_eq!(config.champion_index(), Some(0));
        let names: Vec<&str> = config.enabled_strategies().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn a_strategy_file_must_be_a_script_or_a_library() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "").unwrap();
        std::fs::write(dir.path().join("libfast.so"), "").unwrap();
        let path = dir.path().join("siglearn.toml");
        std::fs::write(
            &path,
            "[[strategies]]\nname = \"a\"\nplugin = \"notes.txt\"\n[[strategies]]\nname = \"b\"\nplugin = \"libfast.so\"\n",
        )
        .unwrap();
        let error = Config::load(&path).unwrap_err();
        assert_eq!(error.problems.len(), 1, "{error}");
        assert!(
            error.problems[0].contains("notes.txt: a strategy is a Rhai script (.rhai) or a plugin library")
        );
    }

    #[test]
    fn script_paths_are_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("scripts")).unwrap();
        std::fs::write(dir.path().join("scripts/a.rhai"), "fn decide(signal) { true }").unwrap();
        let path = dir.path().join("siglearn.toml");
        std::fs::write(
            &path,
            "[[strategies]]\nname = \"a\"\nscript = \"scripts/a.rhai\"\nparams = { threshold = 0.4 }\n",
        )
        .unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.strategies[0].path, dir.path().join("scripts/a.rhai"));
        assert_eq!(config.strategies[0].params, serde_json::json!({"threshold": 0.4}));
    }

    #[test]
    fn durations_longer_than_ten_years_are_refused_by_name() {
        let config = Config::parse(
            "[daemon]\nsnapshot_minutes = 9223372036854775807\nfuture_tolerance_minutes = 6000000\n\
             [experiment]\nprobation_days = 4000\n[retrain]\ntrain_days = 3651\n",
        )
        .unwrap();
        let problems = config.validate().join("\n");
        for name in [
            "daemon.snapshot_minutes",
            "daemon.future_tolerance_minutes",
            "experiment.probation_days",
            "retrain.train_days",
        ] {
            assert!(problems.contains(&format!("{name} is ")), "{name}: {problems}");
        }
        assert!(problems.contains("ten years at most"), "{problems}");
        assert_eq!(Config::default().daemon.future_tolerance_ms(), 5 * 60_000);
    }

    #[test]
    fn the_limits_section_is_read() {
        let config = Config::parse("[limits]\nhot_operations = 7\nmap_size = 9\n").unwrap();
        assert_eq!(config.limits.hot_operations, 7);
        assert_eq!(config.limits.map_size, 9);
        assert_eq!(config.limits.job_operations, Limits::default().job_operations);
    }

    #[test]
    fn durations_of_exactly_ten_years_are_accepted_and_one_more_is_not() {
        // Ten years are 3650 days: 3650 * 24 * 60 = 5_256_000 minutes and
        // 3650 * 86_400_000 = 315_360_000_000 ms.
        let at_most = "[daemon]\nsnapshot_minutes = 5256000\nfuture_tolerance_minutes = 5256000\n\
                       reload_debounce_ms = 315360000000\n[experiment]\nprobation_days = 3650\n\
                       [retrain]\ntrain_days = 3650\n";
        let config = Config::parse(at_most).unwrap();
        assert_eq!(config.validate(), Vec::<String>::new());
        let one_more = "[daemon]\nsnapshot_minutes = 5256001\nfuture_tolerance_minutes = 5256001\n\
                        reload_debounce_ms = 315360000001\n[experiment]\nprobation_days = 3651\n\
                        [retrain]\ntrain_days = 3651\n";
        let problems = Config::parse(one_more).unwrap().validate();
        let why = "(ten years at most, so that no sum of times overflows)";
        let expected = [
            format!("experiment.probation_days is 3651 days, out of range; use 0 to 3650 {why}"),
            format!("retrain.train_days is 3651 days, out of range; use 1 to 3650 {why}"),
            format!("daemon.snapshot_minutes is 5256001 minutes, out of range; use 1 to 5256000 {why}"),
            format!(
                "daemon.reload_debounce_ms is 315360000001 ms, out of range; use 0 to 315360000000 {why}"
            ),
            format!(
                "daemon.future_tolerance_minutes is 5256001 minutes, out of range; use 0 to 5256000 {why}"
            ),
        ];
        assert_eq!(problems, expected);
    }

    #[test]
    fn a_plugin_entry_without_a_name_has_only_that_problem() {
        // The placeholder script the entry is read with gives way to its
        // plugin; the only problem is the missing name.
        let problems = Config::parse("[[strategies]]\nplugin = \"libx.so\"\n").unwrap_err();
        assert_eq!(problems, ["strategies[0].name is missing; give every strategy a name"]);
    }

    #[test]
    fn a_queue_too_large_for_a_semaphore_is_a_config_error_naming_key_value_range_and_fix() {
        // Trial 11b: this queue panicked in tokio's semaphore (exit 101).
        let config = Config::parse("[daemon]\nqueue = 9223372036854775807\n").unwrap();
        assert_eq!(
            config.validate(),
            ["daemon.queue is 9223372036854775807 requests, out of range; use 1 to 1000000 \
              (each waiting request is held in memory)"]
        );
    }

    #[test]
    fn limits_rhai_reads_as_no_limit_or_a_stack_overflow_are_refused() {
        // Rhai takes a size of 0 as "no limit"; 65 call levels are past Rhai's own release default.
        let config =
            Config::parse("[limits]\nstring_size = 0\narray_size = 0\nmap_size = 0\ncall_levels = 65\n")
                .unwrap();
        let problems = config.validate();
        let keys: Vec<&str> = problems.iter().map(|p| p.split(' ').next().unwrap()).collect();
        assert_eq!(
            keys,
            ["limits.call_levels", "limits.string_size", "limits.array_size", "limits.map_size"]
        );
        assert!(
            problems[0].starts_with("limits.call_levels is 65 levels, out of range; use 1 to 64"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_key_another_check_names_is_named_once() {
        // Limits and the sequential test check their own zeros; the range says nothing more.
        let config = Config::parse("[limits]\nhot_operations = 0\n[experiment]\nmin_blocks = 1\n").unwrap();
        let problems = config.validate();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().all(|p| !p.contains("out of range")), "{problems:?}");
    }

    #[test]
    fn the_default_of_every_numeric_key_is_within_its_range() {
        for range in Config::default().ranges() {
            assert!((range.least..=range.most).contains(&range.value), "{range:?}");
        }
    }
}
