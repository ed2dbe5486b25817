//! Hot reload against the real daemon, with files changed the way editors,
//! deploy tools and people change them: libraries copied in slowly, folders
//! replaced, symlinks, a store writing beside the scripts, name clashes,
//! scripts that print without end, and a broken edit undone.

// Test helpers outside #[test] functions unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::daemon::{Daemon, binary, scripts, signal};
use common::write;
use siglearn::strategy::native::dev::{library_file, plugin};

const T0: &str = "2024-01-01T00:00:00Z";
const WAIT: Duration = Duration::from_secs(30);

/// The status of strategy `name` in an `/api/strategies` answer.
fn status(answer: &serde_json::Value, name: &str) -> serde_json::Value {
    answer["strategies"][name].clone()
}

/// Polls `/api/strategies` until strategy `name` has `version`.
fn wait_version(daemon: &Daemon, name: &str, version: u64) -> serde_json::Value {
    daemon.wait_for("/api/strategies", WAIT, |d| status(d, name)["version"] == version)
}

/// Puts library `name` at `to` as a build should: written aside, renamed in.
fn install(name: &str, to: &Path) {
    let aside = to.with_extension("part");
    std::fs::copy(plugin(name), &aside).unwrap();
    std::fs::rename(&aside, to).unwrap();
}

/// Writes `text` to `path` the way editors that save atomically do.
fn save_atomically(path: &Path, text: &str) {
    let aside = path.with_extension("rhai.tmp");
    std::fs::write(&aside, text).unwrap();
    std::fs::rename(&aside, path).unwrap();
}

#[test]
fn a_library_still_being_copied_is_a_reload_error_and_never_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline"]);
    let folder = dir.path().join("plugins");
    std::fs::create_dir(&folder).unwrap();
    let file = folder.join(library_file("mine"));
    install("head_weights_native", &file);
    let daemon = Daemon::start(dir.path(), &[]);
    assert_eq!(status(&daemon.get("/api/strategies").json(), "mine")["version"], 1);

    // A copy in place (scp, rsync --inplace) that has written its first part.
    let whole = std::fs::read(plugin("test_panic")).unwrap();
    let part = (whole.len() / 2).min(200_000);
    std::fs::write(&file, &whole[..part]).unwrap();
    let answer = daemon.wait_for("/api/strategies", WAIT, |d| !status(d, "mine")["reload_error"].is_null());
    let mine = status(&answer, "mine");
    let message = mine["reload_error"]["message"].as_str().unwrap();
    assert!(message.contains("not a whole library"), "{message}");
    assert_eq!(mine["version"], 1, "the running library stays live");
    assert_eq!(daemon.post("/api/signals", &signal("a", "BTC", T0, "")).status, 200);

    // The copy ends: the whole library goes live.
    std::fs::write(&file, &whole).unwrap();
    let answer = wait_version(&daemon, "mine", 2);
    assert!(status(&answer, "mine")["reload_error"].is_null(), "{answer}");
    assert_eq!(daemon.stop().code(), Some(0));

    // `siglearn check` on a cut library says so and exits 1.
    let cut = dir.path().join(library_file("cut"));
    std::fs::write(&cut, &whole[..whole.len() - 1]).unwrap();
    let output = std::process::Command::new(binary()).arg("check").arg(&cut).output().unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("not a whole library"), "{text}");
}

#[test]
fn a_scripts_folder_removed_and_made_again_is_watched_again_and_its_loss_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let folder = scripts(dir.path(), &["baseline"]);
    let daemon = Daemon::start(dir.path(), &[]);
    assert_eq!(daemon.get("/healthz").json()["unwatched_folders"], serde_json::json!([]));

    std::fs::remove_dir_all(&folder).unwrap();
    let health = daemon
        .wait_for("/healthz", WAIT, |h| h["unwatched_folders"].as_array().is_some_and(|a| !a.is_empty()));
    assert!(health["unwatched_folders"][0].as_str().unwrap().contains("was removed"), "{health}");

    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("baseline.rhai"), "fn decide(signal) { false }").unwrap();
    wait_version(&daemon, "baseline", 2);
    daemon.wait_for("/healthz", WAIT, |h| h["unwatched_folders"] == serde_json::json!([]));
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    assert!(log.contains("WARN") && log.contains("was removed"), "{log}");
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn a_scripts_folder_swapped_by_rename_is_read_and_watched_again() {
    let dir = tempfile::tempdir().unwrap();
    let folder = scripts(dir.path(), &["baseline"]);
    std::fs::write(folder.join("picky.rhai"), "fn decide(signal) { false }").unwrap();
    let daemon = Daemon::start(dir.path(), &[]);

    // A deploy tool builds the new folder beside it and swaps the two.
    let next = dir.path().join("scripts.new");
    std::fs::create_dir(&next).unwrap();
    std::fs::copy(folder.join("baseline.rhai"), next.join("baseline.rhai")).unwrap();
    std::fs::write(next.join("picky.rhai"), "fn decide(signal) { true }").unwrap();
    std::fs::rename(&folder, dir.path().join("scripts.old")).unwrap();
    std::fs::rename(&next, &folder).unwrap();
    let answer = wait_version(&daemon, "picky", 2);
    assert_eq!(status(&answer, "baseline")["version"], 1, "unchanged code is no new version: {answer}");

    // Edits in the new folder go live.
    save_atomically(&folder.join("picky.rhai"), "fn decide(signal) { signal.heads.len() > 0 }");
    wait_version(&daemon, "picky", 3);
    assert_eq!(daemon.stop().code(), Some(0));
}

#[cfg(unix)]
#[test]
fn a_scripts_folder_symlink_pointed_at_a_new_release_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let releases = dir.path().join("releases");
    for (release, picky) in [("v1", "false"), ("v2", "true")] {
        let folder = releases.join(release);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("baseline.rhai"), "fn decide(signal) { true }").unwrap();
        std::fs::write(folder.join("picky.rhai"), format!("fn decide(signal) {{ {picky} }}")).unwrap();
    }
    std::os::unix::fs::symlink("releases/v1", dir.path().join("scripts")).unwrap();
    let daemon = Daemon::start(dir.path(), &[]);
    assert_eq!(status(&daemon.get("/api/strategies").json(), "picky")["version"], 1);

    // The link is replaced atomically, as deploy tools do (ln -sfn + mv -T).
    std::os::unix::fs::symlink("releases/v2", dir.path().join("scripts.next")).unwrap();
    std::fs::rename(dir.path().join("scripts.next"), dir.path().join("scripts")).unwrap();
    wait_version(&daemon, "picky", 2);

    // The new release is the one watched.
    std::fs::write(releases.join("v2/picky.rhai"), "fn decide(signal) { signal.heads.len() > 0 }").unwrap();
    wait_version(&daemon, "picky", 3);
    assert_eq!(daemon.stop().code(), Some(0));
}

#[cfg(unix)]
#[test]
fn a_symlinked_script_reloads_when_its_target_is_edited() {
    let dir = tempfile::tempdir().unwrap();
    let folder = scripts(dir.path(), &["baseline"]);
    let source = dir.path().join("src");
    std::fs::create_dir(&source).unwrap();
    std::fs::write(source.join("x.rhai"), "fn decide(signal) { false }").unwrap();
    std::os::unix::fs::symlink("../src/x.rhai", folder.join("x.rhai")).unwrap();
    let daemon = Daemon::start(dir.path(), &[]);
    assert_eq!(status(&daemon.get("/api/strategies").json(), "x")["version"], 1);

    // Edited through the link (written in place at the target)...
    std::fs::write(folder.join("x.rhai"), "fn decide(signal) { true }").unwrap();
    wait_version(&daemon, "x", 2);
    // ... and saved atomically by an editor working on the target.
    save_atomically(&source.join("x.rhai"), "fn decide(signal) { signal.heads.len() > 0 }");
    wait_version(&daemon, "x", 3);
    assert_eq!(daemon.stop().code(), Some(0));
}

#[cfg(unix)]
#[test]
fn a_symlinked_script_added_while_running_reloads_when_its_target_is_edited() {
    let dir = tempfile::tempdir().unwrap();
    let folder = scripts(dir.path(), &["baseline"]);
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("iw.rhai"), "fn decide(signal) { false }").unwrap();
    let daemon = Daemon::start(dir.path(), &[]);

    // Linked in while running, as at start: watched at its target.
    std::os::unix::fs::symlink("../elsewhere/iw.rhai", folder.join("iw.rhai")).unwrap();
    wait_version(&daemon, "iw", 1);
    std::fs::write(elsewhere.join("iw.rhai"), "fn decide(signal) { true }").unwrap();
    wait_version(&daemon, "iw", 2);
    save_atomically(&elsewhere.join("iw.rhai"), "fn decide(signal) { signal.heads.len() > 0 }");
    wait_version(&daemon, "iw", 3);
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn store_writes_beside_a_script_never_hold_its_reload_back() {
    let dir = tempfile::tempdir().unwrap();
    let folder = scripts(dir.path(), &["baseline"]);
    std::fs::write(folder.join("picky.rhai"), "fn decide(signal) { false }").unwrap();
    write(dir.path(), "siglearn.toml", "[daemon]\nreload_debounce_ms = 300\n");
    // The store in the scripts folder, as a systemd layout may have it.
    let daemon = Daemon::start(dir.path(), &["--config", "siglearn.toml", "--db", "scripts/siglearn.db"]);
    let stop = AtomicBool::new(false);
    let posted = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        // Intake without a pause: every batch writes the store's WAL.
        scope.spawn(|| {
            while !stop.load(Ordering::SeqCst) {
                let n = posted.fetch_add(1, Ordering::SeqCst);
                assert_eq!(daemon.post("/api/signals", &signal(&format!("s{n}"), "BTC", T0, "")).status, 200);
            }
        });
        daemon.wait_for("/api/signals", WAIT, |s| s["count"].as_u64().is_some_and(|n| n > 5));
        std::fs::write(folder.join("picky.rhai"), "fn decide(signal) { true }").unwrap();
        let reloaded =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wait_version(&daemon, "picky", 2)));
        let still_posting = !stop.swap(true, Ordering::SeqCst);
        assert!(reloaded.is_ok(), "the edit never went live while signals came in");
        assert!(still_posting);
    });
    assert!(posted.load(Ordering::SeqCst) > 5);
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn writes_closer_together_than_the_debounce_are_one_reload_of_the_last() {
    let dir = tempfile::tempdir().unwrap();
    // The only strategy, so the champion, whose decisions are published.
    let folder = scripts(dir.path(), &[]);
    std::fs::write(folder.join("picky.rhai"), "fn decide(signal) { #{ take: true, score: 0 } }").unwrap();
    write(dir.path(), "siglearn.toml", "[daemon]\nreload_debounce_ms = 5000\n");
    let daemon = Daemon::start(dir.path(), &["--config", "siglearn.toml"]);
    // Five saves, 50 ms apart: far inside one 5 s quiet period.
    for score in 1..=5 {
        std::fs::write(
            folder.join("picky.rhai"),
            format!("fn decide(signal) {{ #{{ take: true, score: {score} }} }}"),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_version(&daemon, "picky", 2);
    let answer = daemon.post("/api/signals", &signal("a", "BTC", T0, ""));
    assert_eq!(answer.json()["decisions"][0]["score"], 5.0, "{}", answer.body);
    let health = daemon.get("/metrics").body;
    assert!(health.contains("siglearn_reloads_total 1"), "{health}");
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn a_script_named_like_a_running_plugin_is_refused_and_the_plugin_stays_live() {
    let dir = tempfile::tempdir().unwrap();
    let folder = scripts(dir.path(), &["baseline"]);
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    install("head_weights_native", &plugins.join(library_file("hw")));
    let daemon = Daemon::start(dir.path(), &[]);
    let first = status(&daemon.get("/api/strategies").json(), "hw");
    assert_eq!(
        (first["version"].as_u64(), first["plugin"]["strategy"].as_str()),
        (Some(1), Some("HeadWeights"))
    );

    std::fs::write(folder.join("hw.rhai"), "fn decide(signal) { true }").unwrap();
    let answer = daemon.wait_for("/api/strategies", WAIT, |d| !status(d, "hw")["reload_error"].is_null());
    let hw = status(&answer, "hw");
    let message = hw["reload_error"]["message"].as_str().unwrap();
    assert!(message.contains("would both be the strategy \"hw\""), "{message}");
    assert_eq!((hw["version"].as_u64(), &hw["code_hash"]), (Some(1), &first["code_hash"]), "{hw}");
    assert_eq!(hw["plugin"]["strategy"], "HeadWeights");

    // The script goes: the clash is over and the plugin runs on.
    std::fs::remove_file(folder.join("hw.rhai")).unwrap();
    let answer = daemon.wait_for("/api/strategies", WAIT, |d| status(d, "hw")["reload_error"].is_null());
    let hw = status(&answer, "hw");
    assert_eq!((hw["version"].as_u64(), hw["running"].as_bool()), (Some(1), Some(true)), "{hw}");
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn a_printing_script_logs_a_bounded_number_of_lines_per_call() {
    let dir = tempfile::tempdir().unwrap();
    let folder = scripts(dir.path(), &["baseline"]);
    std::fs::write(
        folder.join("loud.rhai"),
        "fn decide(signal) { for i in 0..500 { print(`flood ${i}`); } true }",
    )
    .unwrap();
    let daemon = Daemon::start(dir.path(), &[]);
    for n in 0..5 {
        assert_eq!(daemon.post("/api/signals", &signal(&format!("s{n}"), "BTC", T0, "")).status, 200);
    }
    assert_eq!(daemon.stop().code(), Some(0));
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    // 5 calls of decide, 20 lines each (limits.print_lines), then one line
    // saying how many of the 500 were dropped.
    assert_eq!(log.lines().filter(|l| l.contains("flood ")).count(), 5 * 20);
    assert_eq!(log.matches("480 more printed line(s) of this call dropped").count(), 5, "{log}");
}

#[test]
fn a_reload_error_clears_when_the_live_code_is_written_back() {
    let dir = tempfile::tempdir().unwrap();
    let folder = scripts(dir.path(), &["baseline"]);
    let good = "fn decide(signal) { false }";
    std::fs::write(folder.join("picky.rhai"), good).unwrap();
    let daemon = Daemon::start(dir.path(), &[]);
    std::fs::write(folder.join("picky.rhai"), "fn decide(signal) {\n  let x = ;\n}\n").unwrap();
    daemon.wait_for("/api/strategies", WAIT, |d| !status(d, "picky")["reload_error"].is_null());
    // Undo: the file is the live code again.
    std::fs::write(folder.join("picky.rhai"), good).unwrap();
    let answer = daemon.wait_for("/api/strategies", WAIT, |d| status(d, "picky")["reload_error"].is_null());
    assert_eq!(status(&answer, "picky")["version"], 1, "no new version for the same code");
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn a_plugins_folder_made_after_start_is_watched() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline"]);
    let daemon = Daemon::start(dir.path(), &[]);
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    install("head_weights_native", &plugins.join(library_file("fresh")));
    let answer = daemon.wait_for("/api/strategies", WAIT, |d| status(d, "fresh")["running"] == true);
    assert_eq!(status(&answer, "fresh")["plugin"]["strategy"], "HeadWeights", "{answer}");
    assert_eq!(daemon.stop().code(), Some(0));
}
#[test]
fn a_stack_overflow_names_the_line_and_column_of_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let folder = scripts(dir.path(), &["baseline"]);
    std::fs::write(
        folder.join("deep.rhai"),
        "fn down(n) {\n    down(n + 1)\n}\nfn decide(signal) {\n  down(0)\n}\n",
    )
    .unwrap();
    let daemon = Daemon::start(dir.path(), &[]);
    assert_eq!(daemon.post("/api/signals", &signal("a", "BTC", T0, "")).status, 200);
    let error = status(&daemon.get("/api/strategies").json(), "deep")["last_error"].clone();
    assert!(error["message"].as_str().unwrap().contains("Stack overflow"), "{error}");
    assert_eq!((error["line"].as_u64(), error["position"].as_u64()), (Some(2), Some(5)), "{error}");
    assert_eq!(daemon.stop().code(), Some(0));
}
