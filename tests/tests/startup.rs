//! `siglearn run` starting and restarting: which strategies a store and a
//! folder make, how versions continue, what a start refuses, and what a
//! store on read-only media still answers.

// Test helpers outside #[test] functions unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::daemon::{Daemon, bar, binary, scripts, signal};
use common::{siglearn, siglearn_error};
use siglearn::store::StoreReader;
use siglearn_plugin_api::VersionId;

const T0: &str = "2024-01-01T00:00:00Z";
const T1: &str = "2024-01-01T00:01:00Z";
const WAIT: Duration = Duration::from_secs(30);

fn strategy<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    &status["strategies"][name]
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("daemon.log")).unwrap()
}

#[test]
fn a_store_stopped_before_its_first_signal_or_after_prices_only_starts_again() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline", "head_weights"]);
    let daemon = Daemon::start(dir.path(), &[]);
    assert_eq!(strategy(&daemon.get("/api/strategies").json(), "head_weights")["version"], 1);
    assert_eq!(daemon.stop().code(), Some(0));
    // Started again with the versions of the first start and nothing else.
    let daemon = Daemon::start(dir.path(), &[]);
    assert_eq!(strategy(&daemon.get("/api/strategies").json(), "head_weights")["version"], 1);
    assert_eq!(daemon.post("/api/prices", &bar("BTC", T0, 100.0, 101.0, 99.0)).status, 200);
    assert_eq!(daemon.stop().code(), Some(0));
    // After prices only.
    let daemon = Daemon::start(dir.path(), &[]);
    let answer = daemon.post("/api/signals", &signal("a", "BTC", T0, ""));
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(daemon.post("/api/prices", &bar("BTC", T1, 100.0, 111.0, 99.0)).status, 200);
    assert_eq!(daemon.stop().code(), Some(0));
    let reader = StoreReader::open(&dir.path().join("siglearn.db")).unwrap();
    assert_eq!(reader.versions("baseline").unwrap().len(), 1, "one version 1, written once");
    assert_eq!(reader.trades().unwrap().len(), 1);
}

#[test]
fn a_script_removed_and_put_back_resumes_from_its_live_version() {
    let dir = tempfile::tempdir().unwrap();
    let folder = scripts(dir.path(), &["baseline"]);
    let picky = folder.join("picky.rhai");
    std::fs::write(&picky, "fn decide(signal) { false }").unwrap();
    let daemon = Daemon::start(dir.path(), &[]);
    let running = |want: bool, version: u64| {
        move |d: &serde_json::Value| {
            strategy(d, "picky")["running"] == want && strategy(d, "picky")["version"] == version
        }
    };
    // Deleted, then written anew with new code: the next version.
    std::fs::remove_file(&picky).unwrap();
    daemon.wait_for("/api/strategies", WAIT, running(false, 1));
    std::fs::write(&picky, "fn decide(signal) { signal.heads.len() > 0 }").unwrap();
    daemon.wait_for("/api/strategies", WAIT, running(true, 2));
    let answer = daemon.post("/api/signals", &signal("a", "BTC", T0, ""));
    assert_eq!(answer.status, 200, "the store writer still runs: {}", answer.body);
    // Moved out and back with the same bytes: it runs its live version again.
    let outside = dir.path().join("picky.rhai.moved");
    std::fs::rename(&picky, &outside).unwrap();
    daemon.wait_for("/api/strategies", WAIT, running(false, 2));
    std::fs::rename(&outside, &picky).unwrap();
    daemon.wait_for("/api/strategies", WAIT, running(true, 2));
    assert_eq!(daemon.post("/api/signals", &signal("b", "BTC", T0, "")).status, 200);
    assert_eq!(daemon.stop().code(), Some(0));

    // Restarted without it, then put back with new code: the store's live
    // version 2 continues as version 3.
    std::fs::remove_file(&picky).unwrap();
    let daemon = Daemon::start(dir.path(), &[]);
    assert!(strategy(&daemon.get("/api/strategies").json(), "picky").is_null());
    std::fs::write(&picky, "fn decide(signal) { signal.heads.len() > 1 }").unwrap();
    let status = daemon.wait_for("/api/strategies", WAIT, running(true, 3));
    let hash = strategy(&status, "picky")["code_hash"].as_str().unwrap().to_owned();
    assert_eq!(hash.len(), 64, "{status}");
    assert_eq!(daemon.post("/api/signals", &signal("c", "BTC", T0, "")).status, 200);
    assert_eq!(daemon.stop().code(), Some(0));
    let reader = StoreReader::open(&dir.path().join("siglearn.db")).unwrap();
    let versions: Vec<(u32, Option<u32>)> =
        reader.versions("picky").unwrap().iter().map(|v| (v.version.0, v.parent.map(|p| p.0))).collect();
    assert_eq!(versions, [(1, None), (2, Some(1)), (3, Some(2))]);
}

#[test]
fn a_learn_that_leaves_nan_is_refused_reported_and_the_learning_kept() {
    let dir = tempfile::tempdir().unwrap();
    let folder = scripts(dir.path(), &["baseline"]);
    std::fs::write(
        folder.join("learner.rhai"),
        r#"fn init(params) { this.n = 0; }
           fn decide(signal) { true }
           fn learn(signal, outcome) { this.n += 1; if signal.id == "bad" { this.w = 0.0 / 0.0; } }"#,
    )
    .unwrap();
    let daemon = Daemon::start(dir.path(), &[]);
    let batch = format!(
        "[{}, {}, {}]",
        signal("good1", "BTC", T0, ""),
        signal("bad", "BTC", T0, ""),
        signal("good2", "BTC", T0, "")
    );
    assert_eq!(daemon.post("/api/signals", &batch).status, 200);
    assert_eq!(daemon.post("/api/prices", &bar("BTC", T1, 100.0, 111.0, 99.0)).status, 200);
    let status = daemon.get("/api/strategies").json();
    let learner = strategy(&status, "learner");
    assert_eq!(learner["errors"], 1, "{status}");
    let error = &learner["last_error"];
    assert_eq!(
        (error["hook"].as_str(), error["signal_id"].as_str()),
        (Some("learn"), Some("bad")),
        "{error}"
    );
    assert!(error["message"].as_str().unwrap().contains("this.w is NaN"), "{error}");
    assert_eq!(daemon.stop().code(), Some(0));
    assert!(log(dir.path()).contains("this.w is NaN"), "a log line says so");
    let db = dir.path().join("siglearn.db");
    let stored: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM strategy_errors WHERE strategy = 'learner' AND hook = 'learn'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, 1);
    // The two good outcomes were learned and checkpointed; the bad one changed nothing.
    let (state, _) = StoreReader::open(&db).unwrap().snapshot("learner", VersionId(1)).unwrap().unwrap();
    assert_eq!(state, serde_json::json!({"n": 2}));
}

/// A Rhai script whose `learn` nests its state 200 maps deep.
const DEEP: &str = r#"fn decide(signal) { true }
fn learn(signal, outcome) { let x = #{}; for i in 0..200 { x = #{ a: x }; } this.deep = x; }"#;

#[test]
fn check_refuses_a_state_a_restart_could_not_read_and_one_unrestorable_strategy_stops_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    let deep = common::write(dir.path(), "deep.rhai", DEEP);
    let refused = siglearn_error(&["check", &deep]);
    assert!(refused.contains("nested") && refused.contains("at most 64"), "{refused}");

    // A store from before the limit, holding such a state for head_weights.
    scripts(dir.path(), &["baseline", "head_weights"]);
    let daemon = Daemon::start(dir.path(), &[]);
    assert_eq!(daemon.stop().code(), Some(0));
    let state = (0..200).fold(String::from("{}"), |inner, _| format!("{{\"a\":{inner}}}"));
    rusqlite::Connection::open(dir.path().join("siglearn.db"))
        .unwrap()
        .execute(
            "INSERT INTO snapshots (kind, strategy, version, state, outcomes_through, at) \
             VALUES ('state', 'head_weights', 1, ?1, 0, 0)",
            [&state],
        )
        .unwrap();
    let daemon = Daemon::start(dir.path(), &[]);
    let status = daemon.get("/api/strategies").json();
    assert_eq!(strategy(&status, "baseline")["running"], true, "{status}");
    let weights = strategy(&status, "head_weights");
    assert_eq!(weights["running"], false, "{status}");
    assert!(weights["reload_error"]["message"].as_str().unwrap().contains("recursion limit"), "{status}");
    let answer = daemon.post("/api/signals", &signal("a", "BTC", T0, ""));
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["decisions"][0]["strategy"], "baseline");
    assert_eq!(daemon.stop().code(), Some(0));
    assert!(log(dir.path()).contains("cannot be restored"));
}

#[test]
fn an_editor_lock_file_or_a_hidden_script_does_not_stop_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let folder = scripts(dir.path(), &["baseline"]);
    let daemon = Daemon::start(dir.path(), &[]);
    // Stopped right after it announced its address: SIGTERM is handled
    // from then on (systemd stopping a unit that just started).
    assert_eq!(daemon.stop().code(), Some(0));
    // What Emacs leaves while a buffer is modified: a symlink to nowhere.
    std::os::unix::fs::symlink("user@host.4242:1700000000", folder.join(".#baseline.rhai")).unwrap();
    std::fs::write(folder.join(".draft.rhai"), "fn decide(signal) {").unwrap();
    let daemon = Daemon::start(dir.path(), &[]);
    assert_eq!(daemon.get("/healthz").json()["strategies"], 1);
    assert_eq!(daemon.stop().code(), Some(0));
    let log = log(dir.path());
    assert!(log.contains(".#baseline.rhai") && log.contains("skipped"), "{log}");
}

#[test]
fn a_folder_that_is_named_but_does_not_exist_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline"]);
    std::fs::write(dir.path().join("siglearn.toml"), "[daemon]\nscripts = \"scirpts\"\n").unwrap();
    let refused = Daemon::try_start(dir.path(), &["--config", "siglearn.toml"], &[]).err().unwrap();
    assert!(refused.contains("daemon.scripts") && refused.contains("scirpts does not exist"), "{refused}");
    let refused = Daemon::try_start(dir.path(), &["--plugins", "plugnis"], &[]).err().unwrap();
    assert!(refused.contains("--plugins") && refused.contains("plugnis does not exist"), "{refused}");
    // The default plugins folder may be missing.
    let daemon = Daemon::start(dir.path(), &[]);
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn no_strategy_at_all_is_an_error_unless_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let refused = Daemon::try_start(dir.path(), &[], &[]).err().unwrap();
    assert!(refused.contains("no strategy to run") && refused.contains("allow_no_strategies"), "{refused}");
    std::fs::write(dir.path().join("siglearn.toml"), "[daemon]\nallow_no_strategies = true\n").unwrap();
    let daemon = Daemon::start(dir.path(), &["--config", "siglearn.toml"]);
    assert_eq!(daemon.get("/healthz").json()["strategies"], 0);
    assert_eq!(daemon.post("/api/signals", &signal("a", "BTC", T0, "")).status, 200);
    assert_eq!(daemon.stop().code(), Some(0));
}

/// The body of the first fenced block of `readme` whose first line (after
/// the fence) or preceding text holds `marker`.
fn block_after(readme: &str, marker: &str) -> String {
    let start = readme.find(marker).unwrap_or_else(|| panic!("README has no {marker:?}"));
    let inside = readme[..start].matches("```").count() % 2 == 1;
    let body = if inside {
        &readme[start..]
    } else {
        let rest = &readme[start..];
        let body = &rest[rest.find("```").unwrap()..];
        &body[body.find('\n').unwrap() + 1..]
    };
    body[..body.find("```").unwrap()].to_owned()
}

#[test]
fn the_readme_service_unit_and_its_config_start_a_daemon_with_its_strategies() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let unit = block_after(&readme, "### Running it as a service");
    let config = block_after(&readme, "# /etc/siglearn/siglearn.toml");
    let root = tempfile::tempdir().unwrap();
    let place = |text: &str| {
        text.replace("/etc/siglearn", root.path().join("etc").to_str().unwrap())
            .replace("/var/lib/siglearn", root.path().join("var").to_str().unwrap())
    };
    let setting = |key: &str| -> String {
        let line = unit.lines().find_map(|l| l.strip_prefix(key)).unwrap_or_else(|| panic!("no {key}"));
        place(line)
    };
    let workdir = PathBuf::from(setting("WorkingDirectory="));
    let exec = setting("ExecStart=");
    let args: Vec<&str> = exec.split_whitespace().skip_while(|a| *a != "run").skip(1).collect();
    // The folders the README tells to make, and the config as it shows it.
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    std::fs::create_dir_all(root.path().join("var/plugins")).unwrap();
    scripts(&root.path().join("var"), &["baseline", "head_weights"]);
    std::fs::write(root.path().join("etc/siglearn.toml"), place(&config)).unwrap();
    let daemon = Daemon::start(&workdir, &args);
    assert_eq!(daemon.get("/healthz").json()["strategies"], 2, "unit: {unit}\nconfig: {config}");
    assert_eq!(daemon.post("/api/signals", &signal("a", "BTC", T0, "")).status, 200);
    assert_eq!(daemon.stop().code(), Some(0));
    assert!(root.path().join("var/siglearn.db").is_file(), "the store is where the config says");
}

/// Makes a folder read-only for this process (as root, where permission bits
/// do not stop writes, with the immutable attribute), and undoes it on drop.
struct ReadOnly(PathBuf);

impl ReadOnly {
    fn make(folder: &Path) -> Option<ReadOnly> {
        use std::os::unix::fs::PermissionsExt;
        let guard = ReadOnly(folder.to_path_buf());
        std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o555)).unwrap();
        if !writable(folder) {
            return Some(guard);
        }
        let _ = std::process::Command::new("chattr").arg("+i").arg(folder).status();
        (!writable(folder)).then_some(guard)
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::process::Command::new("chattr").arg("-i").arg(&self.0).status();
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
    }
}

fn writable(folder: &Path) -> bool {
    let probe = folder.join("probe");
    let made = std::fs::write(&probe, "").is_ok();
    let _ = std::fs::remove_file(probe);
    made
}

/// `media/siglearn.db` in `dir`, written by a daemon running the baseline
/// script: one signal, closed by one bar. Returns the media folder.
fn store_in_media(dir: &Path) -> PathBuf {
    scripts(dir, &["baseline"]);
    let media = dir.join("media");
    std::fs::create_dir(&media).unwrap();
    let daemon = Daemon::start(dir, &["--db", "media/siglearn.db"]);
    assert_eq!(daemon.post("/api/signals", &signal("a", "BTC", T0, "")).status, 200);
    assert_eq!(daemon.post("/api/prices", &bar("BTC", T1, 100.0, 111.0, 99.0)).status, 200);
    assert_eq!(daemon.stop().code(), Some(0));
    media
}

#[test]
fn a_store_in_a_read_only_folder_is_read_and_a_write_says_the_folder_is_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let media = store_in_media(dir.path());
    let db = media.join("siglearn.db");
    let db = db.to_str().unwrap();
    let Some(_read_only) = ReadOnly::make(&media) else {
        eprintln!("cannot make a folder read-only here (no chattr as root); skipped");
        return;
    };
    siglearn(&["report", "--db", db]).unwrap();
    siglearn(&["strategies", "--db", db]).unwrap();
    siglearn(&["versions", "baseline", "--db", db]).unwrap();
    assert_eq!(StoreReader::open(Path::new(db)).unwrap().trades().unwrap().len(), 1);
    let refused = siglearn_error(&["rollback", "baseline", "1", "--db", db]);
    assert!(refused.contains("read-only"), "{refused}");
}

#[test]
fn a_write_to_a_store_named_relative_to_a_read_only_working_folder_says_the_folder_is_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let media = store_in_media(dir.path());
    let Some(_read_only) = ReadOnly::make(&media) else {
        eprintln!("cannot make a folder read-only here (no chattr as root); skipped");
        return;
    };
    // The store named by its bare file name, from inside the read-only folder.
    let refused = std::process::Command::new(binary())
        .current_dir(&media)
        .args(["rollback", "baseline", "1", "--db", "siglearn.db"])
        .env_remove("SIGLEARN_TOKEN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("read-only") && stderr.contains("writable folder"), "{stderr}");
}

#[test]
fn code_edited_while_the_daemon_was_stopped_is_deployed_on_probation_as_a_hot_reload_is() {
    let dir = tempfile::tempdir().unwrap();
    let folder = scripts(dir.path(), &["baseline", "head_weights"]);
    let daemon = Daemon::start(dir.path(), &[]);
    assert_eq!(daemon.post("/api/signals", &signal("a", "BTC", T0, "")).status, 200);
    assert_eq!(daemon.stop().code(), Some(0));

    // Edited while stopped: a worse rule, as a user might deploy by mistake.
    let path = folder.join("head_weights.rhai");
    let source = std::fs::read_to_string(&path).unwrap();
    let worse = source.replace("take: consensus > this.threshold", "take: consensus < this.threshold");
    assert_ne!(source, worse);
    std::fs::write(&path, &worse).unwrap();
    let daemon = Daemon::start(dir.path(), &[]);
    let status = daemon.get("/api/strategies").json();
    let weights = strategy(&status, "head_weights");
    // v1 was live; the new code is v2, with v1 in shadow for 7 days.
    assert_eq!(weights["version"], 2, "{status}");
    assert_eq!(weights["probation"]["shadow_version"], 1, "{status}");
    assert_eq!(strategy(&status, "baseline")["probation"], serde_json::Value::Null, "{status}");
    assert_eq!(daemon.stop().code(), Some(0));
    let text = log(dir.path());
    assert!(!text.contains("holds no saved probation"), "{text}");
    assert!(
        text.contains("its code changed since v1 ran; the new code is v2 (reload), on probation"),
        "{text}"
    );

    let reader = StoreReader::open(&dir.path().join("siglearn.db")).unwrap();
    let versions: Vec<(u32, Option<u32>, &str)> = reader
        .versions("head_weights")
        .unwrap()
        .iter()
        .map(|v| (v.version.0, v.parent.map(|p| p.0), v.reason.as_str()))
        .collect();
    assert_eq!(versions, [(1, None, "load"), (2, Some(1), "reload")]);
    let saved = reader.probations().unwrap();
    assert_eq!(saved.len(), 1);
    let (probation, _) = &saved[0];
    assert_eq!((probation.live_version, probation.shadow_version), (VersionId(2), VersionId(1)));
    assert_eq!(probation.until.as_millis() - versions_created(&reader, 2), 7 * 24 * 3_600_000);

    // Started again with the same file: the probation continues, nothing new.
    let daemon = Daemon::start(dir.path(), &[]);
    let status = daemon.get("/api/strategies").json();
    assert_eq!(strategy(&status, "head_weights")["version"], 2, "{status}");
    assert_eq!(strategy(&status, "head_weights")["probation"]["shadow_version"], 1, "{status}");
    assert_eq!(daemon.stop().code(), Some(0));
    assert!(log(dir.path()).contains("continues its probation"));
}

/// When version `n` of head_weights was made.
fn versions_created(reader: &StoreReader, n: u32) -> i64 {
    let versions = reader.versions("head_weights").unwrap();
    versions.iter().find(|v| v.version.0 == n).unwrap().created_at.as_millis()
}

#[test]
fn a_broken_strategy_at_a_fresh_stores_first_start_stops_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    let folder = scripts(dir.path(), &["baseline"]);
    std::fs::write(folder.join("broken.rhai"), "fn decide(signal) { true ").unwrap();
    // A new deployment: no store yet. Before, one bad file stopped the start
    // (exit 1), and under Restart=on-failure the service looped.
    let daemon = Daemon::try_start(dir.path(), &[], &[]).unwrap_or_else(|log| panic!("did not start: {log}"));
    let status = daemon.get("/api/strategies").json();
    assert_eq!(strategy(&status, "baseline")["running"], true, "{status}");
    let broken = strategy(&status, "broken");
    assert_eq!(broken["running"], false, "{status}");
    assert_eq!(broken["reload_error"]["source_path"], "scripts/broken.rhai", "{status}");
    assert!(broken["reload_error"]["message"].as_str().unwrap().contains("Expecting ';'"), "{status}");
    let answer = daemon.post("/api/signals", &signal("a", "BTC", T0, ""));
    assert_eq!(answer.status, 200, "{}", answer.body);
    // Fixed while running: it joins at version 1.
    std::fs::write(folder.join("broken.rhai"), "fn decide(signal) { true }").unwrap();
    let status = daemon.wait_for("/api/strategies", WAIT, |d| strategy(d, "broken")["running"] == true);
    assert_eq!(strategy(&status, "broken")["version"], 1, "{status}");
    assert_eq!(daemon.stop().code(), Some(0));

    // The same with the strategies listed in a config (no folder adoption):
    // the configured entry that did not load joins once its file loads.
    let dir = tempfile::tempdir().unwrap();
    let folder = scripts(dir.path(), &["baseline"]);
    std::fs::write(folder.join("zz.rhai"), "fn decide(x { ").unwrap();
    let config = dir.path().join("siglearn.toml");
    std::fs::write(
        &config,
        "[[strategies]]\nname = \"baseline\"\nscript = \"scripts/baseline.rhai\"\n\
         [[strategies]]\nname = \"zz\"\nscript = \"scripts/zz.rhai\"\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let daemon = Daemon::try_start(dir.path(), &["--config", config], &[])
        .unwrap_or_else(|log| panic!("did not start: {log}"));
    assert_eq!(strategy(&daemon.get("/api/strategies").json(), "zz")["running"], false);
    std::fs::write(folder.join("zz.rhai"), "fn decide(signal) { true }").unwrap();
    let status = daemon.wait_for("/api/strategies", WAIT, |d| strategy(d, "zz")["running"] == true);
    assert_eq!(strategy(&status, "zz")["version"], 1, "{status}");
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn a_name_clash_at_start_stops_only_that_strategy() {
    let dir = tempfile::tempdir().unwrap();
    let folder = scripts(dir.path(), &["baseline"]);
    let first = "fn decide(signal) { false }";
    std::fs::write(folder.join("hw.rhai"), first).unwrap();
    let daemon = Daemon::start(dir.path(), &[]);
    assert_eq!(strategy(&daemon.get("/api/strategies").json(), "hw")["version"], 1);
    assert_eq!(daemon.stop().code(), Some(0));

    // While stopped: hw gets a namesake in the plugins folder and new code,
    // and a new strategy comes as two files at once.
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    let library = plugins.join(format!("{}hw{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX));
    std::fs::write(&library, "not a library yet").unwrap();
    std::fs::write(folder.join("hw.rhai"), "fn decide(signal) { true }").unwrap();
    let other =
        plugins.join(format!("{}fresh{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX));
    std::fs::write(&other, "not a library").unwrap();
    std::fs::write(folder.join("fresh.rhai"), "fn decide(signal) { true }").unwrap();

    let daemon = Daemon::try_start(dir.path(), &[], &[]).unwrap_or_else(|log| panic!("did not start: {log}"));
    let status = daemon.get("/api/strategies").json();
    assert_eq!(strategy(&status, "baseline")["running"], true, "{status}");
    // hw runs its live version (the stored code: neither file holds it).
    let hw = strategy(&status, "hw");
    assert_eq!((hw["running"].as_bool(), hw["version"].as_u64()), (Some(true), Some(1)), "{status}");
    let message = hw["reload_error"]["message"].as_str().unwrap();
    assert!(
        message.contains("would both be the strategy \"hw\"")
            && message.contains("hw.rhai")
            && message.contains(library.file_name().unwrap().to_str().unwrap())
            && message.contains("rename one")
            && message.contains("live version v1 runs"),
        "{message}"
    );
    let fresh = strategy(&status, "fresh");
    assert_eq!(fresh["running"], false, "{status}");
    let message = fresh["reload_error"]["message"].as_str().unwrap();
    assert!(
        message.contains("would both be the strategy \"fresh\"") && message.contains("rename one"),
        "{message}"
    );
    let answer = daemon.post("/api/signals", &signal("a", "BTC", T0, ""));
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["decisions"][0]["strategy"], "baseline");

    // The namesakes go: each strategy takes its one file.
    std::fs::remove_file(&library).unwrap();
    let status = daemon.wait_for("/api/strategies", WAIT, |d| strategy(d, "hw")["version"] == 2);
    assert!(strategy(&status, "hw")["reload_error"].is_null(), "{status}");
    assert_eq!(
        strategy(&status, "hw")["probation"]["shadow_version"],
        1,
        "the new code is a deploy: {status}"
    );
    std::fs::remove_file(&other).unwrap();
    daemon.wait_for("/api/strategies", WAIT, |d| strategy(d, "fresh")["running"] == true);
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn a_strategy_whose_live_version_cannot_be_read_stops_alone_and_a_rollback_brings_it_back() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline", "head_weights"]);
    let db = dir.path().join("siglearn.db");
    let daemon = Daemon::start(dir.path(), &[]);
    // A second version, then its state damaged as an older siglearn could
    // leave it: nested 200 deep, past what JSON reading takes.
    let answer = daemon.post("/api/strategies/head_weights/rollback", r#"{"version":1}"#);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(daemon.stop().code(), Some(0));
    let deep = format!("{}1{}", r#"{"d":"#.repeat(200), "}".repeat(200));
    let conn = rusqlite::Connection::open(&db).unwrap();
    let damaged = conn
        .execute("UPDATE versions SET state = ?1 WHERE strategy = 'head_weights' AND n = 2", [deep])
        .unwrap();
    assert_eq!(damaged, 1);
    drop(conn);

    // The daemon starts and serves the other strategy; the damaged one is
    // out, its error naming the row and the fix.
    let daemon = Daemon::start(dir.path(), &[]);
    let status = daemon.get("/api/strategies").json();
    assert_eq!(strategy(&status, "baseline")["running"], true, "{status}");
    let damaged = strategy(&status, "head_weights");
    assert_eq!(damaged["running"], false, "{status}");
    let message = damaged["reload_error"]["message"].as_str().unwrap();
    assert!(
        message.contains("versions row strategy = 'head_weights' AND n = 2")
            && message.contains("column state")
            && message.contains("siglearn rollback"),
        "{message}"
    );
    let answer = daemon.post("/api/signals", &signal("a", "BTC", T0, ""));
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["decisions"][0]["strategy"], "baseline");
    assert!(log(dir.path()).contains("versions row strategy = 'head_weights' AND n = 2"));
    assert_eq!(daemon.stop().code(), Some(0));

    // The read commands list the rest; the README's fix works.
    let db = db.to_str().unwrap();
    siglearn(&["strategies", "--db", db]).unwrap();
    siglearn(&["versions", "--db", db, "head_weights"]).unwrap();
    let refused = siglearn_error(&["rollback", "--db", db, "head_weights", "2"]);
    assert!(refused.contains("v2 cannot be made live") && refused.contains("column state"), "{refused}");
    siglearn(&["rollback", "--db", db, "head_weights", "1"]).unwrap();
    let daemon = Daemon::start(dir.path(), &[]);
    let status = daemon.get("/api/strategies").json();
    let back = strategy(&status, "head_weights");
    assert_eq!(
        (&back["running"], &back["version"]),
        (&serde_json::json!(true), &serde_json::json!(3)),
        "{status}"
    );
    assert_eq!(daemon.stop().code(), Some(0));
    let reader = StoreReader::open(Path::new(db)).unwrap();
    let v3 = reader.versions_rows("head_weights").unwrap().read.pop().unwrap();
    assert_eq!(
        (v3.version, v3.parent, v3.metrics["from"].as_u64()),
        (VersionId(3), Some(VersionId(1)), Some(2))
    );
}

#[cfg(unix)]
#[test]
fn another_name_for_a_running_daemons_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline"]);
    let daemon = Daemon::start(dir.path(), &[]);
    let alias = dir.path().join("alias.db");
    std::os::unix::fs::symlink("siglearn.db", &alias).unwrap();
    let refused = siglearn_error(&["rollback", "--db", alias.to_str().unwrap(), "baseline", "1"]);
    assert!(refused.contains("daemon") && refused.contains(&daemon.base), "{refused}");
    // A second daemon on the symlink is refused too.
    let second = Daemon::try_start(dir.path(), &["--db", "alias.db"], &[]).err().unwrap();
    assert!(second.contains("holds the store"), "{second}");
    let hard = dir.path().join("hard.db");
    std::fs::hard_link(dir.path().join("siglearn.db"), &hard).unwrap();
    let refused = siglearn_error(&["promote", "--db", hard.to_str().unwrap(), "baseline", "1"]);
    assert!(refused.contains("hard links") && refused.contains("remove the other links"), "{refused}");
    std::fs::remove_file(&hard).unwrap();
    assert_eq!(daemon.stop().code(), Some(0));
}
