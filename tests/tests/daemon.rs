//! `siglearn run` as a process: intake, outcomes, the learning API, reload,
//! crash and restart, bad input and auth, all over HTTP on port 0.

// Test helpers outside #[test] functions unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::daemon::{Daemon, bar, scripts, signal};
use siglearn::store::StoreReader;

const T0: &str = "2024-01-01T00:00:00Z";
const T1: &str = "2024-01-01T00:01:00Z";

#[test]
fn signals_and_prices_in_outcomes_and_figures_out() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline", "head_weights"]);
    let daemon = Daemon::start(dir.path(), &[]);
    let batch =
        format!("[{}, {}]", signal("a", "BTC", T0, ""), signal("b", "BTC", T0, r#","heads":{"rsi":0.5}"#));
    let answer = daemon.post("/api/signals", &batch);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let published = answer.json();
    assert_eq!(published["accepted"], 2);
    assert_eq!(published["decisions"][0]["strategy"], "baseline", "the champion's decision is published");
    assert_eq!(published["decisions"][0]["take"], true);
    let active = daemon.get("/api/signals?status=active").json();
    assert_eq!(active["count"], 2);
    // JSON Lines work as well as arrays.
    let answer = daemon.post(
        "/api/prices",
        &format!("{}\n{}\n", bar("BTC", T0, 100.0, 101.0, 99.0), bar("BTC", T1, 100.0, 111.0, 99.0)),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["open_signals"], 0);
    let outcomes = daemon.get("/api/outcomes").json();
    assert_eq!(outcomes["count"], 2);
    assert_eq!(outcomes["outcomes"][0]["kind"], "TP_HIT");
    let closed = daemon.get("/api/signals?status=closed&symbol=BTC").json();
    assert_eq!(closed["count"], 2);
    let experiments = daemon.get("/api/experiments").json();
    assert_eq!(experiments["champion"], "baseline");
    assert_eq!(experiments["strategies"][0]["trades"], 2);
    // Two strategies loaded, nothing reloaded or retrained: two trials; one
    // day of P&L is too short for a PBO, and the table says why.
    assert_eq!(experiments["selection"]["trials"]["total"], 2, "{experiments:#}");
    assert!(experiments["selection"]["pbo_note"].as_str().unwrap().contains("days"), "{experiments:#}");
    assert!(experiments["strategies"][0].get("dsr").is_some());
    let health = daemon.get("/healthz").json();
    assert_eq!((health["status"].as_str(), health["strategies"].as_u64()), (Some("ok"), Some(2)));
    let metrics = daemon.get("/metrics");
    assert!(metrics.body.contains("siglearn_outcomes_total 2"), "{}", metrics.body);
    assert!(daemon.get("/").body.contains("<title>siglearn</title>"));
    // The learning read model catches up with the outcomes.
    let performance = daemon.wait_for("/api/learning/performance?period=all", Duration::from_secs(10), |p| {
        p["overall"]["total_trades"] == 2
    });
    assert_eq!(performance["overall"]["wins"], 2);
    assert_eq!(performance["selection"]["trials"]["strategies"], 2, "{performance:#}");
    assert_eq!(daemon.get("/api/learning/improvements").status, 200);
    assert_eq!(daemon.get("/api/learning/recommendations").status, 200);
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn bad_input_gets_a_json_4xx_naming_the_problem_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline"]);
    std::fs::write(dir.path().join("siglearn.toml"), "[daemon]\nmax_body_bytes = 4096\n").unwrap();
    let daemon = Daemon::start(
        dir.path(),
        &["--config", "siglearn.toml", "--scripts", "scripts", "--db", "siglearn.db"],
    );
    let not_json = daemon.post("/api/signals", "hello");
    assert_eq!(not_json.status, 400);
    assert!(not_json.json()["error"].as_str().unwrap().contains("JSON"));
    let batch = format!(
        "[{}, {}, {}]",
        signal("ok", "BTC", T0, ""),
        signal("wrong", "BTC", T0, "").replace("110", "90"),
        signal("nan", "BTC", T0, "").replace("\"entry_price\":100", "\"entry_price\":\"x\"")
    );
    let invalid = daemon.post("/api/signals", &batch);
    assert_eq!(invalid.status, 422);
    let details = invalid.json()["details"].clone();
    assert_eq!(details.as_array().unwrap().len(), 2, "{details}");
    assert_eq!((details[0]["index"].as_u64(), details[0]["field"].as_str()), (Some(1), Some("take_profit")));
    assert_eq!(
        daemon.get("/api/signals").json()["count"],
        0,
        "all or nothing: the good signal was not taken"
    );
    assert_eq!(daemon.post("/api/signals", &signal("a", "BTC", T0, "")).status, 200);
    let changed = daemon.post(
        "/api/signals",
        &signal("a", "BTC", T0, "").replace("\"entry_price\":100", "\"entry_price\":101"),
    );
    assert_eq!(changed.status, 409, "{}", changed.body);
    assert_eq!(changed.json()["details"][0]["field"], "entry_price");
    assert_eq!(daemon.post("/api/prices", &bar("BTC", T1, 100.0, 101.0, 99.0)).status, 200);
    let late = daemon.post("/api/prices", &bar("BTC", T0, 100.0, 101.0, 99.0));
    assert_eq!(late.status, 422);
    assert!(late.json()["details"][0]["reason"].as_str().unwrap().contains("time order"));
    let huge = daemon.post("/api/signals", &"x".repeat(10_000));
    assert_eq!(huge.status, 413);
    assert!(huge.json()["error"].as_str().unwrap().contains("max_body_bytes"));
    let missing = daemon.get("/api/nothing");
    assert_eq!(missing.status, 404);
    assert!(missing.json()["error"].is_string());
    assert_eq!(daemon.get("/api/learning/performance?period=1y").status, 400);
    assert_eq!(daemon.post("/api/strategies/nobody/rollback", r#"{"version":1}"#).status, 404);
}

#[test]
fn writes_need_the_token_and_open_listening_needs_one() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline"]);
    let refused = Daemon::try_start(dir.path(), &["--listen", "0.0.0.0:0"], &[]).err().unwrap();
    assert!(refused.contains("without a token"), "{refused}");
    let daemon = Daemon::try_start(dir.path(), &[], &[("SIGLEARN_TOKEN", "s3cret")]).unwrap();
    let anonymous = daemon.post("/api/signals", &signal("a", "BTC", T0, ""));
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.json()["error"].as_str().unwrap().contains("Bearer"));
    assert_eq!(daemon.post_with("/api/signals", &signal("a", "BTC", T0, ""), Some("wrong")).status, 401);
    assert_eq!(daemon.post_with("/api/signals", &signal("a", "BTC", T0, ""), Some("s3cret")).status, 200);
    // The scheme is case-insensitive (RFC 9110, 11.1); the token is not.
    for (value, status) in
        [("bearer s3cret", 200), ("BEARER  s3cret", 200), ("bearer S3CRET", 401), ("Basic s3cret", 401)]
    {
        let answer =
            daemon.post_headers("/api/signals", &signal("a", "BTC", T0, ""), &[("Authorization", value)]);
        assert_eq!(answer.status, status, "{value}: {}", answer.body);
    }
    assert_eq!(daemon.get("/api/signals").status, 200, "reads stay open");
}

#[test]
fn a_script_edit_goes_live_and_a_broken_one_leaves_the_old_version_running() {
    let dir = tempfile::tempdir().unwrap();
    let folder = scripts(dir.path(), &["baseline"]);
    std::fs::write(folder.join("picky.rhai"), "fn decide(signal) { false }").unwrap();
    let daemon = Daemon::start(dir.path(), &[]);
    let version = |d: &serde_json::Value| d["strategies"]["picky"]["version"].as_u64().unwrap();
    assert_eq!(version(&daemon.get("/api/strategies").json()), 1);
    std::fs::write(folder.join("picky.rhai"), "fn decide(signal) { signal.heads.len() > 0 }").unwrap();
    let status = daemon.wait_for("/api/strategies", Duration::from_secs(10), |d| version(d) == 2);
    assert!(status["strategies"]["picky"]["reload_error"].is_null());
    // The reload is on probation against the version it replaced.
    assert_eq!(status["strategies"]["picky"]["probation"]["shadow_version"], 1, "{status}");
    std::fs::write(folder.join("picky.rhai"), "fn decide(signal) {\n  let x = ;\n}\n").unwrap();
    let status = daemon.wait_for("/api/strategies", Duration::from_secs(10), |d| {
        !d["strategies"]["picky"]["reload_error"].is_null()
    });
    let error = &status["strategies"]["picky"]["reload_error"];
    assert_eq!((error["line"].as_u64(), version(&status)), (Some(2), 2), "{error}");
    // The old version keeps deciding.
    let answer = daemon.post("/api/signals", &signal("h", "BTC", T0, r#","heads":{"rsi":0.5}"#));
    assert_eq!(answer.status, 200);
    // A new script joins; no signal is lost across the reloads.
    std::fs::write(folder.join("fresh.rhai"), "fn decide(signal) { true }").unwrap();
    daemon.wait_for("/api/strategies", Duration::from_secs(10), |d| {
        d["strategies"]["fresh"]["running"] == true
    });
    assert_eq!(daemon.get("/api/signals").json()["count"], 1);
}

#[test]
fn after_kill_9_every_acknowledged_signal_and_outcome_is_there_once() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline", "head_weights"]);
    let daemon = Daemon::start(dir.path(), &[]);
    let mut acknowledged = Vec::new();
    for batch in 0..20 {
        let signals: Vec<String> = (0..50)
            .map(|i| signal(&format!("s{batch}-{i}"), "ETH", T0, r#","heads":{"rsi":0.3,"macd":-0.2}"#))
            .collect();
        let answer = daemon.post("/api/signals", &format!("[{}]", signals.join(",")));
        assert_eq!(answer.status, 200);
        acknowledged.extend((0..50).map(|i| format!("s{batch}-{i}")));
    }
    // Half of them close: a bar touches the target.
    assert_eq!(daemon.post("/api/prices", &bar("ETH", T0, 100.0, 101.0, 99.0)).status, 200);
    daemon.crash();
    let reader = StoreReader::open(&dir.path().join("siglearn.db")).unwrap();
    assert_eq!(reader.signal_count().unwrap(), acknowledged.len() as u64);
    drop(reader);
    let daemon = Daemon::start(dir.path(), &[]);
    let active = daemon.get("/api/signals?status=active&limit=1000").json();
    assert_eq!(active["count"], 1000, "every acknowledged signal is watched again");
    assert_eq!(daemon.post("/api/prices", &bar("ETH", T1, 100.0, 111.0, 99.0)).status, 200);
    let reader = StoreReader::open(&dir.path().join("siglearn.db")).unwrap();
    assert_eq!(reader.trades().unwrap().len(), 1000, "each closes exactly once");
    let decisions = reader.all_decisions().unwrap();
    assert!(decisions.values().all(|d| d.len() == 2), "one decision per strategy and signal");
    let again = daemon.post("/api/signals", &signal("s0-0", "ETH", T0, ""));
    assert_eq!(again.status, 409, "ids survive the crash: {}", again.body);
    assert_eq!(again.json()["details"][0]["field"], "heads", "{}", again.body);
    assert_eq!(daemon.stop().code(), Some(0));
    let reader = StoreReader::open(&dir.path().join("siglearn.db")).unwrap();
    assert!(
        reader.snapshot("head_weights", siglearn_plugin_api::VersionId(1)).unwrap().is_some(),
        "checkpointed on stop"
    );
}

#[test]
fn the_clock_closes_a_signal_at_its_deadline_without_a_new_price() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline"]);
    let daemon = Daemon::start(dir.path(), &[]);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let entry = now - 120_000;
    let body = format!(
        r#"{{"signal_id":"t","symbol":"SOL","side":"long","entry_ts":{entry},"entry_price":100,"take_profit":110,"stop_loss":90,"max_hold_minutes":1}}"#
    );
    assert_eq!(daemon.post("/api/signals", &body).status, 200);
    let price = format!(r#"{{"symbol":"SOL","ts":{},"price":101.5}}"#, entry + 10_000);
    assert_eq!(daemon.post("/api/prices", &price).status, 200);
    let outcomes = daemon.wait_for("/api/outcomes", Duration::from_secs(10), |o| o["count"] == 1);
    let outcome = &outcomes["outcomes"][0];
    assert_eq!((outcome["kind"].as_str(), outcome["exit_price"].as_f64()), (Some("TIME_EXIT"), Some(101.5)));
}

#[test]
fn a_probation_continues_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let folder = scripts(dir.path(), &["baseline"]);
    std::fs::write(folder.join("picky.rhai"), "fn decide(signal) { false }").unwrap();
    let daemon = Daemon::start(dir.path(), &[]);
    std::fs::write(folder.join("picky.rhai"), "fn decide(signal) { signal.heads.len() > 0 }").unwrap();
    let status = daemon
        .wait_for("/api/strategies", Duration::from_secs(10), |d| d["strategies"]["picky"]["version"] == 2);
    let probation = status["strategies"]["picky"]["probation"].clone();
    assert_eq!(probation["shadow_version"], 1, "{status}");
    assert_eq!(daemon.post("/api/signals", &signal("a", "BTC", T0, r#","heads":{"rsi":0.5}"#)).status, 200);
    assert_eq!(daemon.stop().code(), Some(0));

    let daemon = Daemon::start(dir.path(), &[]);
    let status = daemon.get("/api/strategies").json();
    assert_eq!(status["strategies"]["picky"]["version"], 2);
    assert_eq!(status["strategies"]["picky"]["probation"], probation, "the same probation, same window");
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    assert!(log.contains("continues its probation"), "{log}");
    // A signal id accepted before the restart still names that signal only.
    let again = daemon.post("/api/signals", &signal("a", "BTC", T0, r#","heads":{"rsi":0.6}"#));
    assert_eq!((again.status, again.json()["details"][0]["field"].as_str()), (409, Some("heads")));
    assert_eq!(daemon.stop().code(), Some(0));
}

/// Milliseconds since the epoch now, plus `ahead_ms`.
fn wall_ms(ahead_ms: i64) -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    i64::try_from(now.as_millis()).unwrap() + ahead_ms
}

#[test]
fn items_stamped_ahead_of_the_wall_clock_or_in_other_units_are_refused_by_item_and_field() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline"]);
    let daemon = Daemon::start(dir.path(), &[]);
    let minute = 60_000;
    let year_ahead = wall_ms(365 * 24 * 60 * minute);
    let prices = format!(
        r#"[{{"symbol":"BTC","ts":{},"price":100}}, {{"symbol":"BTC","ts":{year_ahead},"price":101}}]"#,
        wall_ms(-minute)
    );
    let refused = daemon.post("/api/prices", &prices);
    assert_eq!(refused.status, 422, "{}", refused.body);
    let details = refused.json()["details"].clone();
    assert_eq!(details.as_array().unwrap().len(), 1, "{details}");
    assert_eq!((details[0]["index"].as_u64(), details[0]["field"].as_str()), (Some(1), Some("ts")));
    assert!(details[0]["reason"].as_str().unwrap().contains("future_tolerance_minutes"), "{details}");
    let ahead = signal("ahead", "BTC", T0, "").replace(&format!("\"{T0}\""), &year_ahead.to_string());
    let refused = daemon.post("/api/signals", &ahead);
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(refused.json()["details"][0]["field"], "entry_ts");
    // Epoch seconds, microseconds and i64::MIN as JSON numbers: 422 with the fix.
    for (number, fix) in [
        ("1714557600", "multiply by 1000"),
        ("1714557600000000", "divide by 1000)"),
        ("-9223372036854775808", "outside the accepted range"),
    ] {
        let body = signal("units", "BTC", T0, "").replace(&format!("\"{T0}\""), number);
        let refused = daemon.post("/api/signals", &body);
        assert_eq!(refused.status, 422, "{number}: {}", refused.body);
        assert!(refused.json()["details"][0]["reason"].as_str().unwrap().contains(fix), "{}", refused.body);
    }
    // Within the tolerance (default 5 minutes) is accepted.
    let soon = format!(r#"{{"symbol":"BTC","ts":{},"price":100}}"#, wall_ms(minute));
    assert_eq!(daemon.post("/api/prices", &soon).status, 200);
    assert_eq!(daemon.get("/api/signals").json()["count"], 0);
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn a_script_changed_between_runs_is_one_more_trial_and_versions_page_past_the_last_one() {
    let dir = tempfile::tempdir().unwrap();
    let folder = scripts(dir.path(), &["baseline", "head_weights"]);
    let daemon = Daemon::start(dir.path(), &[]);
    let trials = |daemon: &Daemon| daemon.get("/api/experiments").json()["selection"]["trials"].clone();
    // README, selection: trials = strategies + reload/retrain versions + parameter sets.
    assert_eq!((trials(&daemon)["versions"].as_u64(), trials(&daemon)["total"].as_u64()), (Some(0), Some(2)));
    let promoted = daemon.post("/api/strategies/head_weights/promote", r#"{"version":1}"#);
    assert_eq!(promoted.status, 200, "{}", promoted.body);
    assert_eq!(daemon.get("/api/experiments").json()["champion"], "head_weights");
    assert_eq!(daemon.stop().code(), Some(0));
    // New code found at a restart is a `reload` version: one more trial.
    let script = folder.join("baseline.rhai");
    let code = std::fs::read_to_string(&script).unwrap();
    std::fs::write(&script, format!("{code}\n// changed between runs\n")).unwrap();
    let daemon = Daemon::start(dir.path(), &[]);
    assert_eq!((trials(&daemon)["versions"].as_u64(), trials(&daemon)["total"].as_u64()), (Some(1), Some(3)));
    // A page after the last version is empty, not a missing strategy.
    let past = daemon.get("/api/strategies/baseline/versions?after=99");
    assert_eq!(past.status, 200, "{}", past.body);
    assert_eq!(
        (past.json()["versions"].as_array().map(Vec::len), past.json()["next"].is_null()),
        (Some(0), true)
    );
    assert_eq!(daemon.get("/api/strategies/nothing/versions").status, 404);
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn decide_failures_are_logged_a_few_per_strategy_per_minute() {
    let dir = tempfile::tempdir().unwrap();
    let folder = scripts(dir.path(), &["baseline"]);
    std::fs::write(folder.join("broken.rhai"), "fn decide(signal) { throw \"boom\"; }").unwrap();
    let daemon = Daemon::start(dir.path(), &[]);
    let batch: Vec<String> = (0..20).map(|i| signal(&format!("s{i}"), "BTC", T0, "")).collect();
    let answer = daemon.post("/api/signals", &format!("[{}]", batch.join(",")));
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(daemon.stop().code(), Some(0));
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    let logged = log.lines().filter(|line| line.contains("strategy failed") && line.contains("boom")).count();
    // 5 per minute: 20 failures give 5 lines, or 10 if a minute turned meanwhile.
    assert!((5..=10).contains(&logged), "{logged} lines:\n{log}");
    assert!(!log.contains('\u{1b}'), "no colour codes in a log file");
}
