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

/// What a plugin author does: copy the example plugin into a crate of their
/// own, build it, run the daemon with it beside the Rhai strategies, change
/// the learning rule and `cargo build` again.
#[test]
fn an_author_copies_the_example_plugin_changes_the_rule_and_the_daemon_picks_up_the_build() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().canonicalize().unwrap();
    let krate = dir.path().join("my-strategy");
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::fs::write(
        krate.join("Cargo.toml"),
        format!(
            "[package]\nname = \"my-strategy\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [lib]\nname = \"my_strategy\"\ncrate-type = [\"cdylib\"]\n\n\
             [dependencies]\nsiglearn-plugin-api = {{ path = {:?} }}\n\n[workspace]\n",
            repo.join("plugin-api")
        ),
    )
    .unwrap();
    std::fs::copy(repo.join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    let example = std::fs::read_to_string(repo.join("plugins/head-weights/src/lib.rs")).unwrap();
    let build = |source: &str| {
        std::fs::write(krate.join("src/lib.rs"), source).unwrap();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = std::process::Command::new(cargo)
            .current_dir(&krate)
            .env_remove("CARGO_TARGET_DIR")
            .args(["build", "--quiet"])
            .status()
            .unwrap();
        assert!(status.success(), "cargo build of the copied plugin failed");
    };
    build(&example);
    let library = krate.join("target/debug").join(library_file("my_strategy"));

    scripts(dir.path(), &["baseline", "head_weights"]);
    let config = write(
        dir.path(),
        "siglearn.toml",
        &format!(
            "[experiment]\nchampion = \"baseline\"\n\
             [[strategies]]\nname = \"baseline\"\nscript = \"scripts/baseline.rhai\"\n\
             [[strategies]]\nname = \"head_weights\"\nscript = \"scripts/head_weights.rhai\"\n\
             [[strategies]]\nname = \"mine\"\nplugin = {library:?}\n"
        ),
    );
    let daemon = Daemon::start(dir.path(), &["--config", &config]);
    let mine = |d: &serde_json::Value| d["strategies"]["mine"].clone();
    assert_eq!(mine(&daemon.get("/api/strategies").json())["version"], 1);

    // The new rule: never forget (every outcome counts the same).
    let changed = example.replace("1.0 - self.rate);", "1.0);");
    assert_ne!(changed, example, "the example's learning rule moved; update this test");
    build(&changed);
    let status = daemon.wait_for("/api/strategies", Duration::from_secs(60), |d| mine(d)["version"] == 2);
    assert!(mine(&status)["reload_error"].is_null(), "{status}");
    assert_eq!(mine(&status)["plugin"]["strategy"], "HeadWeights");

    // Compared A/B with the Rhai strategies on the same signals.
    let answer =
        daemon.post("/api/signals", &signal("a", "BTC", "2024-01-01T00:00:00Z", r#","heads":{"rsi":0.5}"#));
    assert_eq!(answer.status, 200);
    let experiments = daemon.get("/api/experiments").json();
    let names: Vec<&str> = experiments["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["strategy"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["baseline", "head_weights", "mine"]);
    let row = &experiments["strategies"][2];
    assert_eq!((row["version"].as_u64(), row["decisions"].as_u64()), (Some(2), Some(1)), "{experiments:#}");
    assert_eq!(daemon.stop().code(), Some(0));
}
