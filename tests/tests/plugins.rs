//! Native strategy plugins in a replay and in the running daemon: the same
//! A/B as scripts, hot reload of a rebuilt library, and broken plugins
//! (panicking, wrong ABI) that never take the host down.

// Test helpers outside #[test] functions unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::daemon::{Daemon, scripts, signal};
use common::{json, out, replay, synth, write};
use siglearn::strategy::native::dev::{library_file, plugin};

/// Puts the library `name` at `to` the way a build does: written aside,
/// then renamed over the old file, so a reader never sees half a library.
fn install(name: &str, to: &Path) {
    let aside = to.with_extension("part");
    std::fs::copy(plugin(name), &aside).unwrap();
    std::fs::rename(&aside, to).unwrap();
}

#[test]
fn native_and_rhai_head_weights_never_disagree_in_the_ab_table() {
    let dir = tempfile::tempdir().unwrap();
    let (candles, signals) = synth(dir.path(), 800);
    let script = format!("{}/../scripts/head_weights.rhai", env!("CARGO_MANIFEST_DIR"));
    let library = plugin("head_weights_native");
    let config = write(
        dir.path(),
        "siglearn.toml",
        &format!(
            "[experiment]\nchampion = \"rhai\"\n\
             [[strategies]]\nname = \"rhai\"\nscript = {script:?}\nparams = {{ threshold = 0.05 }}\n\
             [[strategies]]\nname = \"native\"\nplugin = {:?}\nparams = {{ threshold = 0.05 }}\n",
            library.display()
        ),
    );
    let (ab, db) = (out(dir.path(), "ab.json"), out(dir.path(), "s.db"));
    replay(&candles, &signals, &config, &["--ab-out", &ab, "--db", &db]).unwrap();
    let table = json(&ab);
    let (rhai, native) = (&table["strategies"][0], &table["strategies"][1]);
    assert_eq!(native["strategy"], "native");
    assert_eq!(native["vs_champion"]["disagreements"], 0, "{table:#}");
    assert!(native["trades"].as_u64().unwrap() > 100, "both take signals: {table:#}");
    for column in ["decisions", "trades", "total_pnl_pct", "no_decisions", "failures"] {
        assert_eq!(rhai[column], native[column], "{column}");
    }
    // Weekly retraining deployed the same candidates, so the same versions.
    let reader = siglearn::store::StoreReader::open(Path::new(&db)).unwrap();
    let versions = |name: &str| -> Vec<(u32, serde_json::Value)> {
        reader.versions(name).unwrap().into_iter().map(|v| (v.version.0, v.state)).collect()
    };
    assert!(versions("rhai").len() > 1);
    assert_eq!(versions("rhai"), versions("native"), "same states, version for version");
}

#[test]
fn a_rebuilt_plugin_goes_live_and_broken_builds_never_take_the_daemon_down() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline"]);
    let folder = dir.path().join("plugins");
    std::fs::create_dir(&folder).unwrap();
    let file = folder.join(library_file("mine"));
    install("head_weights_native", &file);
    let daemon = Daemon::start(dir.path(), &[]);
    let mine = |d: &serde_json::Value| d["strategies"]["mine"].clone();
    let first = mine(&daemon.get("/api/strategies").json());
    assert_eq!((first["version"].as_u64(), first["running"].as_bool()), (Some(1), Some(true)), "{first}");

    // A rebuild (here: another plugin's library) goes live as version 2.
    install("test_panic", &file);
    let status = daemon.wait_for("/api/strategies", Duration::from_secs(20), |d| mine(d)["version"] == 2);
    assert!(mine(&status)["reload_error"].is_null(), "{status}");
    assert_ne!(mine(&status)["code_hash"], first["code_hash"]);

    // Its panics are reported as failures; the daemon answers and the
    // champion's decisions are published.
    let answer = daemon.post("/api/signals", &signal("p", "PANIC", "2024-01-01T00:00:00Z", ""));
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["decisions"][0]["strategy"], "baseline", "{}", answer.body);
    let experiments = daemon.get("/api/experiments").json();
    let row = experiments["strategies"].as_array().unwrap().iter().find(|r| r["strategy"] == "mine").unwrap();
    assert_eq!(row["no_decisions"], 1, "{experiments:#}");

    // A build for another ABI is refused; version 2 stays live.
    install("test_wrong_abi", &file);
    let status =
        daemon.wait_for("/api/strategies", Duration::from_secs(20), |d| !mine(d)["reload_error"].is_null());
    let error = mine(&status)["reload_error"]["message"].as_str().unwrap().to_owned();
    assert!(error.contains("plugin ABI 2") && error.contains("speaks plugin ABI 1"), "{error}");
    assert_eq!(mine(&status)["version"], 2);
    let answer = daemon.post("/api/signals", &signal("q", "BTC", "2024-01-01T00:00:00Z", ""));
    assert_eq!(answer.status, 200);

    // A rollback to version 1 runs the library version 1 ran, from the store
    // (the file on disk is the refused build).
    let rolled = daemon.post("/api/strategies/mine/rollback", r#"{"version":1}"#);
    assert_eq!(rolled.status, 200, "{}", rolled.body);
    let status = daemon.get("/api/strategies").json();
    assert_eq!(
        (mine(&status)["version"].as_u64(), &mine(&status)["code_hash"]),
        (Some(3), &first["code_hash"])
    );
    let answer = daemon.post("/api/signals", &signal("r", "PANIC", "2024-01-01T00:00:00Z", ""));
    assert_eq!(answer.status, 200);
    let experiments = daemon.get("/api/experiments").json();
    let row = experiments["strategies"].as_array().unwrap().iter().find(|r| r["strategy"] == "mine").unwrap();
    assert_eq!(row["no_decisions"], 1, "head_weights decides on PANIC signals: {experiments:#}");
    assert_eq!(daemon.stop().code(), Some(0));

    // A restart resumes version 3 from the store; the refused file on disk
    // is reported again, not run.
    let daemon = Daemon::start(dir.path(), &[]);
    let status = daemon.get("/api/strategies").json();
    assert_eq!(mine(&status)["version"], 3, "{status}");
    assert_eq!(mine(&status)["plugin"]["strategy"], "HeadWeights", "{status}");
    assert!(mine(&status)["reload_error"]["message"].as_str().unwrap().contains("plugin ABI 2"));
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn a_plugin_call_that_does_not_return_in_time_shows_in_health_and_is_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let folder = scripts(dir.path(), &["baseline"]);
    let config = write(
        dir.path(),
        "siglearn.toml",
        &format!(
            "[limits]\nhot_millis = 50\n[experiment]\nchampion = \"baseline\"\n\
             [[strategies]]\nname = \"baseline\"\nscript = {:?}\n\
             [[strategies]]\nname = \"slow\"\nplugin = {:?}\nparams = {{ sleep_ms = 1500 }}\n",
            folder.join("baseline.rhai"),
            plugin("test_slow")
        ),
    );
    let daemon = Daemon::start(dir.path(), &["--config", &config]);
    std::thread::scope(|scope| {
        let posting =
            scope.spawn(|| daemon.post("/api/signals", &signal("s", "BTC", "2024-01-01T00:00:00Z", "")));
        let health = daemon.wait_for("/healthz", Duration::from_secs(10), |h| h["status"] == "stalled");
        assert_eq!(daemon.get("/healthz").status, 503);
        assert_eq!(
            (health["status"].as_str(), health["stalled_plugin_calls"].as_u64()),
            (Some("stalled"), Some(1))
        );
        assert_eq!(posting.join().unwrap().status, 200);
    });
    assert_eq!(daemon.get("/healthz").status, 200, "healthy once the call returned");
    let experiments = daemon.get("/api/experiments").json();
    let row = experiments["strategies"].as_array().unwrap().iter().find(|r| r["strategy"] == "slow").unwrap();
    assert_eq!(row["no_decisions"], 1, "the late decision is discarded: {experiments:#}");
    let status = daemon.get("/api/strategies").json();
    let error = status["strategies"]["slow"]["last_error"]["message"].as_str().unwrap();
    assert!(error.contains("over its budget of 50 ms (limits.hot_millis)"), "{error}");
    assert_eq!(daemon.stop().code(), Some(0));
}
