//! A replay split in two and continued gives exactly the store of one run:
//! the same versions with the same states, the same job runs with the same
//! figures, the same A/B table, on real candles of two timeframes and at
//! any split point.
//!
//! The split is in event time: the first part holds what was known before
//! the cut (signals entered before it, bars closed before it), the second
//! the rest, as a replay stopped at the cut and continued would see them.

// Test helpers outside #[test] functions unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{json, out, siglearn, split_at, write};
use siglearn::schedule::JobKind;
use siglearn::store::StoreReader;
use siglearn::timestamp::{format_timestamp, parse_timestamp};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// The window of real candles used: 2018-01-01 to 2018-03-01.
const FROM: &str = "2018-01-01T00:00:00Z";
const TO: &str = "2018-03-01T00:00:00Z";
/// (file in host/data/demo, bar length): an hourly and a daily series.
const SERIES: [(&str, i64); 2] = [("BTC-USD_1h.csv", HOUR), ("ETH-USD_1d.csv", DAY)];

const TAKE_ALL: &str = "fn decide(signal) { true }";
/// Writes the day it was told about, and counts what it learned: a daily
/// version every day there was something new.
const DAILY: &str = r#"
fn init(params) { this.seen = 0; }
fn decide(signal) { signal.heads.get("macd", 0.0) * signal.side_sign > 0.0 }
fn learn(signal, outcome) { this.seen += 1; }
fn daily(summary) { this.day = summary.date; this.signals = summary.signals; this.trades = summary.trades; }
"#;

fn millis(text: &str) -> i64 {
    parse_timestamp(text).unwrap().as_millis()
}

/// The window's candles, one file per series, and the generator's signals
/// on them; with the lineup's config. Returns (candle files, signals, config).
fn inputs(dir: &Path) -> (Vec<String>, String, String) {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../host/data/demo");
    let mut files = Vec::new();
    for (name, _) in SERIES {
        let text = std::fs::read_to_string(demo.join(name)).unwrap();
        let mut lines = text.lines();
        let mut kept = format!("{}\n", lines.next().unwrap());
        for line in lines.filter(|line| {
            let ts = line.split(',').nth(1).unwrap();
            (FROM..TO).contains(&ts)
        }) {
            kept.push_str(line);
            kept.push('\n');
        }
        files.push(write(dir, name, &kept));
    }
    let signals = out(dir, "signals.csv");
    let mut args = vec!["generate", "--candles"];
    args.extend(files.iter().map(String::as_str));
    args.extend(["--out", &signals]);
    siglearn(&args).unwrap();
    let shipped = |name: &str| {
        std::fs::read_to_string(format!("{}/../scripts/{name}.rhai", env!("CARGO_MANIFEST_DIR"))).unwrap()
    };
    let config = common::lineup(
        dir,
        &[
            ("all", TAKE_ALL),
            ("daily", DAILY),
            ("head_weights", &shipped("head_weights")),
            ("pattern_filter", &shipped("pattern_filter")),
        ],
        "[retrain]\ntrain_days = 14\nmin_train_trades = 5\nmin_validation_signals = 5\n",
    );
    (files, signals, config)
}

/// Everything a store says about the strategies: versions, job runs.
fn contents(db: &str) -> serde_json::Value {
    let reader = StoreReader::open(Path::new(db)).unwrap();
    let mut strategies = serde_json::Map::new();
    for name in ["all", "daily", "head_weights", "pattern_filter"] {
        let versions: Vec<serde_json::Value> = reader
            .versions(name)
            .unwrap()
            .into_iter()
            .map(|v| {
                serde_json::json!([
                    v.version.0,
                    v.parent.map(|p| p.0),
                    v.reason.as_str(),
                    v.state,
                    v.created_at.as_millis()
                ])
            })
            .collect();
        strategies.insert(name.to_owned(), versions.into());
    }
    let mut jobs = serde_json::Map::new();
    for job in [JobKind::Daily, JobKind::Weekly, JobKind::Hourly] {
        let runs: Vec<serde_json::Value> = reader
            .job_runs(job)
            .unwrap()
            .into_iter()
            .map(|run| serde_json::json!([run.scheduled_at.as_millis(), run.strategy, run.figures]))
            .collect();
        jobs.insert(job.as_str().to_owned(), runs.into());
    }
    serde_json::json!({ "strategies": strategies, "jobs": jobs, "trades": reader.trades().unwrap().len() })
}

/// How the candles are split at the cut.
#[derive(Clone, Copy, Debug)]
enum Split {
    /// By open time, as a user splits files: at an instant where every
    /// series' bars end (midnight for hourly and daily bars) this is the
    /// same as splitting by close.
    ByOpen,
    /// By close: a bar goes to the first part when it closed before the cut.
    ByClose,
}

/// Replays the window whole and split at `cut`, and compares.
fn split_equals_whole(cut: &str, how: Split) {
    let dir = tempfile::tempdir().unwrap();
    let (files, signals, config) = inputs(dir.path());
    let (whole_db, whole_ab) = (out(dir.path(), "whole.db"), out(dir.path(), "whole.json"));
    let mut args = vec!["replay", "--signals", &signals, "--config", &config, "--db", &whole_db];
    args.extend(["--ab-out", &whole_ab, "--candles"]);
    args.extend(files.iter().map(String::as_str));
    siglearn(&args).unwrap();

    let (signals_1, signals_2) = split_at(dir.path(), &signals, "entry_ts", cut);
    let mut parts = (Vec::new(), Vec::new());
    for (file, (_, interval)) in files.iter().zip(SERIES) {
        let bar_cut = match how {
            Split::ByOpen => cut.to_owned(),
            Split::ByClose => format_timestamp(siglearn_plugin_api::Timestamp(millis(cut) - interval)),
        };
        let (one, two) = split_at(dir.path(), file, "ts", &bar_cut);
        parts.0.push(one);
        parts.1.push(two);
    }
    let (split_db, split_ab) = (out(dir.path(), "split.db"), out(dir.path(), "split.json"));
    for (candles, signals, ab) in [(&parts.0, &signals_1, None), (&parts.1, &signals_2, Some(&split_ab))] {
        let mut args = vec!["replay", "--signals", signals, "--config", &config, "--db", &split_db];
        if let Some(ab) = ab {
            args.extend(["--ab-out", ab]);
        }
        args.push("--candles");
        args.extend(candles.iter().map(String::as_str));
        // Bar lengths are given: a part may hold a single daily bar.
        args.extend(["--bar-interval", "BTC-USD=1h", "--bar-interval", "ETH-USD=1d"]);
        siglearn(&args).unwrap();
    }
    let (whole, split) = (contents(&whole_db), contents(&split_db));
    for (section, name) in [("jobs", "daily"), ("jobs", "weekly"), ("jobs", "hourly")]
        .into_iter()
        .chain(["all", "daily", "head_weights", "pattern_filter"].map(|s| ("strategies", s)))
    {
        let (a, b) = (&whole[section][name], &split[section][name]);
        if a != b {
            let (a, b) = (a.as_array().unwrap(), b.as_array().unwrap());
            let first = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
            panic!(
                "split at {cut}: {section}.{name} differs at row {first} ({} rows whole, {} split):\n  whole: {}\n  split: {}",
                a.len(),
                b.len(),
                a.get(first).map_or("-".into(), |v| v.to_string()),
                b.get(first).map_or("-".into(), |v| v.to_string()),
            );
        }
    }
    assert_eq!(whole["trades"], split["trades"]);
    assert_eq!(json(&whole_ab), json(&split_ab), "split at {cut}: the A/B tables differ");
}

/// The reported case: a cut at midnight UTC, where a signal enters exactly
/// at 00:00:00Z and the daily job of that instant runs before it; the files
/// split by open time, as a user would.
#[test]
fn a_replay_split_at_midnight_and_continued_equals_one_run() {
    split_equals_whole("2018-02-01T00:00:00Z", Split::ByOpen);
}

/// A cut inside a daily bar: split by open time, the first part would hold
/// a bar that closes after the second part's first signals. The
/// continuation refuses it, naming the fix, instead of quietly differing.
#[test]
fn a_continuation_that_starts_before_the_stored_run_ended_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (files, signals, config) = inputs(dir.path());
    let cut = "2018-02-01T12:00:00Z";
    let (signals_1, signals_2) = split_at(dir.path(), &signals, "entry_ts", cut);
    let (parts_1, parts_2): (Vec<String>, Vec<String>) =
        files.iter().map(|file| split_at(dir.path(), file, "ts", cut)).unzip();
    let db = out(dir.path(), "split.db");
    for (candles, signals, ok) in [(&parts_1, &signals_1, true), (&parts_2, &signals_2, false)] {
        let mut args = vec!["replay", "--signals", signals, "--config", &config, "--db", &db, "--candles"];
        args.extend(candles.iter().map(String::as_str));
        let result = siglearn(&args);
        if ok {
            result.unwrap();
        } else {
            let error = format!("{:#}", result.unwrap_err());
            assert!(error.contains("2018-02-02T00:00:00Z") && error.contains("closed"), "{error}");
        }
    }
}

/// Cuts inside the window at hours drawn once at random (and the one that
/// found a fault in the hourly job's stamps, 2018-02-07T11:30Z), half an hour
/// into a bar, so every series is split by its close; fixed, so that the
/// test is the same on every run.
#[test]
fn a_replay_split_anywhere_and_continued_equals_one_run() {
    for hour in [24 * 8 + 5, 24 * 37 + 11, 24 * 20 + 17, 24 * 45 + 2, 24 * 51 + 23] {
        let cut = format_timestamp(siglearn_plugin_api::Timestamp(millis(FROM) + hour * HOUR + 30 * 60_000));
        split_equals_whole(&cut, Split::ByClose);
    }
}

/// A script changed between two parts of a replay is a deploy, as a hot
/// reload of the same file would be: a `reload` version that runs on
/// probation beside the stored live version, and is rolled back when the
/// probation's test finds it worse.
#[test]
fn worse_code_between_two_parts_goes_on_probation_and_is_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let (candles, signals) = common::synth(dir.path(), 1500);
    let shipped = |name: &str| {
        std::fs::read_to_string(format!("{}/../scripts/{name}.rhai", env!("CARGO_MANIFEST_DIR"))).unwrap()
    };
    let config = common::lineup(
        dir.path(),
        &[("baseline", &shipped("baseline")), ("hw", &shipped("head_weights"))],
        "",
    );
    // Part one to the cut; part two the ten days after it.
    let (cut, end) = ("2024-08-01T00:00:00Z", "2024-08-11T00:00:00Z");
    let (signals_1, rest) = split_at(dir.path(), &signals, "entry_ts", cut);
    let (signals_2, _) = split_at(dir.path(), &rest, "entry_ts", end);
    let (candles_1, rest) = split_at(dir.path(), &candles, "ts", cut);
    let (candles_2, _) = split_at(dir.path(), &rest, "ts", end);
    let db = out(dir.path(), "run.db");
    common::replay(&candles_1, &signals_1, &config, &["--db", &db]).unwrap();
    let live = StoreReader::open(Path::new(&db)).unwrap().versions("hw").unwrap().pop().unwrap();

    // hw now takes the signals its heads vote against.
    let script = dir.path().join("hw.rhai");
    let source = std::fs::read_to_string(&script).unwrap();
    let worse = source.replace("take: consensus > this.threshold", "take: consensus < this.threshold");
    assert_ne!(source, worse);
    std::fs::write(&script, worse).unwrap();
    common::replay(&candles_2, &signals_2, &config, &["--db", &db]).unwrap();

    let versions = StoreReader::open(Path::new(&db)).unwrap().versions("hw").unwrap();
    let reload = versions.iter().find(|v| v.version.0 == live.version.0 + 1).unwrap();
    assert_eq!((reload.reason.as_str(), reload.parent), ("reload", Some(live.version)));
    assert_eq!(reload.created_at.as_millis(), millis(cut), "deployed where the second part starts");
    assert_ne!(reload.code_hash, live.code_hash);
    let rollbacks: Vec<_> = versions.iter().filter(|v| v.reason.as_str() == "rollback").collect();
    assert_eq!(rollbacks.len(), 1, "{versions:#?}");
    let rollback = rollbacks[0];
    assert_eq!(rollback.parent, Some(live.version), "back to the version the deploy replaced");
    assert_eq!(rollback.code_hash, live.code_hash);
    assert_eq!(rollback.metrics["probation"]["verdict"], "worse", "{}", rollback.metrics);
    // The 7-day window ends at the close of the last hourly bar inside it.
    assert_eq!(rollback.created_at.as_millis(), millis(cut) + 7 * DAY);
    assert_eq!(versions.last().unwrap().code_hash, live.code_hash, "the old code stays live");
}
