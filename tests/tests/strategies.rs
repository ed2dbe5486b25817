//! Strategies in a replay: decisions, failures, A/B promotion, jobs,
//! versions, and continuing a store.

// Test helpers outside #[test] functions unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use common::{json, lineup, out, replay, siglearn, split_at, synth};
use siglearn::store::StoreReader;

const TAKE_ALL: &str = "fn decide(signal) { true }";
/// Takes a signal when the informative head h1 agrees with its side.
const FOLLOW_H1: &str = r#"
fn init(params) { this.seen = 0; }
fn decide(signal) { signal.heads.get("h1", 0.0) * signal.side_sign > 0.0 }
fn learn(signal, outcome) { this.seen += 1; }
fn daily(summary) { this.day = summary.date; }
"#;

#[test]
fn a_broken_script_never_takes_the_run_down() {
    let dir = tempfile::tempdir().unwrap();
    let (candles, signals) = synth(dir.path(), 100);
    let config = lineup(
        dir.path(),
        &[
            ("all", TAKE_ALL),
            ("throws", r#"fn decide(signal) { if signal.heads["h2"] > 0.5 { throw "no"; } true }"#),
            ("loops", "fn decide(signal) { true } fn learn(signal, outcome) { loop {} }"),
        ],
        "",
    );
    let ab = out(dir.path(), "ab.json");
    replay(&candles, &signals, &config, &["--ab-out", &ab]).unwrap();
    let table = json(&ab);
    let rows = table["strategies"].as_array().unwrap();
    let throws = rows.iter().find(|r| r["strategy"] == "throws").unwrap();
    let loops = rows.iter().find(|r| r["strategy"] == "loops").unwrap();
    assert!(throws["no_decisions"].as_u64().unwrap() > 10, "{throws}");
    assert_eq!(throws["decisions"].as_u64().unwrap() + throws["no_decisions"].as_u64().unwrap(), 400);
    assert_eq!(loops["failures"], 400, "every learn call hits the budget: {loops}");
    assert_eq!(loops["decisions"], 400, "and deciding still works");
}

#[test]
fn the_same_replay_with_strategies_twice_gives_byte_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let (candles, signals) = synth(dir.path(), 150);
    let config = lineup(dir.path(), &[("all", TAKE_ALL), ("h1", FOLLOW_H1)], "");
    let mut files = Vec::new();
    for run in 0..2 {
        let (trades, report, ab) = (
            out(dir.path(), &format!("t{run}")),
            out(dir.path(), &format!("r{run}")),
            out(dir.path(), &format!("a{run}")),
        );
        replay(
            &candles,
            &signals,
            &config,
            &["--trades-out", &trades, "--report-out", &report, "--ab-out", &ab],
        )
        .unwrap();
        files.push([trades, report, ab].map(|path| std::fs::read(path).unwrap()));
    }
    assert!(files[0] == files[1]);
}

#[test]
fn a_planted_edge_is_promoted_and_the_move_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (candles, signals) = synth(dir.path(), 400);
    let config = lineup(dir.path(), &[("all", TAKE_ALL), ("h1", FOLLOW_H1)], "");
    let (ab, db) = (out(dir.path(), "ab.json"), out(dir.path(), "s.db"));
    replay(&candles, &signals, &config, &["--db", &db, "--ab-out", &ab]).unwrap();
    let table = json(&ab);
    assert_eq!(table["champion"], "h1", "{table:#}");
    let promotion = &table["promotions"][0];
    assert_eq!((promotion["from"].as_str(), promotion["to"].as_str()), (Some("all"), Some("h1")));
    assert!(promotion["interval_pct"][0].as_f64().unwrap() > 0.0, "promoted only on evidence: {promotion}");
    assert!(promotion["disagreements"].as_u64().unwrap() >= 30);
    let reader = StoreReader::open(std::path::Path::new(&db)).unwrap();
    let moves = reader.alias_history("champion").unwrap();
    assert_eq!(moves.iter().map(|m| m.reason.as_str()).collect::<Vec<_>>(), ["config", "promote"]);
    assert_eq!(reader.alias("champion").unwrap().map(|(name, _)| name), Some("h1".to_owned()));
}

#[test]
fn identical_strategies_are_never_promoted() {
    let dir = tempfile::tempdir().unwrap();
    let (candles, signals) = synth(dir.path(), 400);
    let config = lineup(dir.path(), &[("a", FOLLOW_H1), ("b", FOLLOW_H1)], "");
    let ab = out(dir.path(), "ab.json");
    replay(&candles, &signals, &config, &["--ab-out", &ab]).unwrap();
    let table = json(&ab);
    assert_eq!(table["promotions"].as_array().unwrap().len(), 0);
    assert_eq!(table["strategies"][1]["vs_champion"]["disagreements"], 0);
}

#[test]
fn identical_strategies_have_equal_psr_a_dsr_for_their_trials_and_a_pbo_of_one() {
    let dir = tempfile::tempdir().unwrap();
    let (candles, signals) = synth(dir.path(), 400);
    let config = lineup(dir.path(), &[("a", FOLLOW_H1), ("b", FOLLOW_H1)], "");
    let (ab, report) = (out(dir.path(), "ab.json"), out(dir.path(), "report.json"));
    replay(&candles, &signals, &config, &["--ab-out", &ab, "--report-out", &report]).unwrap();
    let (table, report) = (json(&ab), json(&report));
    let rows = table["strategies"].as_array().unwrap();
    assert!(rows[0]["psr"].as_f64().is_some(), "{table:#}");
    assert_eq!((&rows[0]["psr"], &rows[0]["dsr"]), (&rows[1]["psr"], &rows[1]["dsr"]));
    let selection = &table["selection"];
    let trials = &selection["trials"];
    assert_eq!(trials["strategies"], 2);
    assert_eq!(trials["total"].as_u64(), Some(2 + trials["versions"].as_u64().unwrap()));
    // Equal Sharpe ratios: no spread, so SR₀ = 0 and the DSR is the PSR.
    assert_eq!((selection["sharpe_variance"].as_f64(), &rows[0]["dsr"]), (Some(0.0), &rows[0]["psr"]));
    // Identical columns: every split's in-sample pick sits at the median.
    assert_eq!(selection["pbo"]["probability"], 1.0, "{selection:#}");
    assert_eq!(report["lineup"], *selection, "report.json carries the same figures");
}

#[test]
fn the_report_of_a_store_shows_the_same_lineup_figures_as_the_replay() {
    let dir = tempfile::tempdir().unwrap();
    let (candles, signals) = synth(dir.path(), 200);
    let config = lineup(dir.path(), &[("h1", FOLLOW_H1), ("all", TAKE_ALL)], "");
    let (db, replayed, stored) =
        (out(dir.path(), "s.db"), out(dir.path(), "r.json"), out(dir.path(), "s.json"));
    replay(&candles, &signals, &config, &["--db", &db, "--report-out", &replayed]).unwrap();
    siglearn(&["report", "--db", &db, "--report-out", &stored]).unwrap();
    let (replayed, stored) = (json(&replayed), json(&stored));
    assert!(replayed["lineup"]["strategies"]["h1"]["psr"].as_f64().is_some(), "{replayed:#}");
    assert_eq!(replayed["lineup"], stored["lineup"]);
}

#[test]
fn jobs_fire_in_event_time_and_versions_follow_state_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (candles, signals) = synth(dir.path(), 100);
    let config = lineup(dir.path(), &[("all", TAKE_ALL), ("h1", FOLLOW_H1)], "");
    let db = out(dir.path(), "s.db");
    replay(&candles, &signals, &config, &["--db", &db]).unwrap();
    let reader = StoreReader::open(std::path::Path::new(&db)).unwrap();
    let h1 = reader.versions("h1").unwrap();
    let all = reader.versions("all").unwrap();
    assert_eq!(all.len(), 1, "a strategy whose state never changes keeps version 1");
    assert!(h1.len() > 10, "h1 writes the date every day: {} versions", h1.len());
    assert!(h1.iter().skip(1).all(|v| matches!(v.reason.as_str(), "daily" | "promote")));
    // Daily versions are stamped at midnight UTC: event time, not wall time.
    let daily: Vec<_> = h1.iter().filter(|v| v.reason.as_str() == "daily").collect();
    assert!(daily.iter().all(|v| v.created_at.as_millis() % 86_400_000 == 0));
    assert!(
        daily.windows(2).all(|w| w[1].created_at.as_millis() - w[0].created_at.as_millis() == 86_400_000)
    );
    let days = reader.last_job_runs().unwrap();
    assert!(days.iter().any(|(job, _)| job.as_str() == "weekly"), "{days:?}");
}

#[test]
fn a_replay_split_in_two_and_continued_equals_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let (candles, signals) = synth(dir.path(), 300);
    // head_weights decides by what it learned: a state that lost the
    // outcomes after its last checkpoint would decide differently.
    let learner = shipped("head_weights");
    let config = lineup(dir.path(), &[("all", TAKE_ALL), ("h1", FOLLOW_H1), ("learner", &learner)], "");
    let whole = out(dir.path(), "whole.json");
    replay(&candles, &signals, &config, &["--ab-out", &whole, "--db", &out(dir.path(), "whole.db")]).unwrap();
    // Split signals and candles at the entry time of the 60th percentile signal.
    let mut entries: Vec<String> = std::fs::read_to_string(&signals)
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| line.split(',').nth(3).unwrap().to_owned())
        .collect();
    entries.sort();
    let cut = entries[entries.len() * 6 / 10].clone();
    let (signals_1, signals_2) = split_at(dir.path(), &signals, "entry_ts", &cut);
    let (candles_1, candles_2) = split_at(dir.path(), &candles, "ts", &cut);
    let (db, resumed) = (out(dir.path(), "split.db"), out(dir.path(), "resumed.json"));
    replay(&candles_1, &signals_1, &config, &["--db", &db]).unwrap();
    replay(&candles_2, &signals_2, &config, &["--db", &db, "--ab-out", &resumed]).unwrap();
    assert_eq!(std::fs::read_to_string(&whole).unwrap(), std::fs::read_to_string(&resumed).unwrap());
    let (one, two) = (
        StoreReader::open(std::path::Path::new(&out(dir.path(), "whole.db"))).unwrap(),
        StoreReader::open(std::path::Path::new(&db)).unwrap(),
    );
    assert_eq!(one.versions("h1").unwrap().len(), two.versions("h1").unwrap().len());
    assert_eq!(one.trades().unwrap().len(), two.trades().unwrap().len());
}

#[test]
fn a_rollback_is_continued_by_the_next_replay() {
    let dir = tempfile::tempdir().unwrap();
    let (candles, signals) = synth(dir.path(), 100);
    let config = lineup(dir.path(), &[("all", TAKE_ALL), ("h1", FOLLOW_H1)], "");
    let db = out(dir.path(), "s.db");
    replay(&candles, &signals, &config, &["--db", &db]).unwrap();
    siglearn(&["rollback", "h1", "1", "--db", &db]).unwrap();
    let reader = StoreReader::open(std::path::Path::new(&db)).unwrap();
    let live = reader.versions("h1").unwrap().pop().unwrap();
    assert_eq!((live.reason.as_str(), live.parent.map(|p| p.0)), ("rollback", Some(1)));
    assert_eq!(live.state, serde_json::json!({ "seen": 0 }));
    let error = format!("{:#}", siglearn(&["rollback", "h1", "9999", "--db", &db]).unwrap_err());
    assert!(error.contains("no version 9999"), "{error}");
}

#[test]
fn check_reports_a_good_script_and_fails_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let good = common::write(dir.path(), "good.rhai", FOLLOW_H1);
    siglearn(&["check", &good]).unwrap();
    let bad = common::write(dir.path(), "bad.rhai", "fn decide(signal) {\n  signal.heads[\"rsi\"] +\n}\n");
    let error = format!("{:#}", siglearn(&["check", &bad]).unwrap_err());
    assert!(error.contains("bad.rhai:3"), "{error}");
    let arity = common::write(dir.path(), "arity.rhai", "fn decide(signal) { true } fn learn(outcome) {}");
    let error = format!("{:#}", siglearn(&["check", &arity]).unwrap_err());
    assert!(error.contains("learn(signal, outcome)"), "{error}");
}

#[test]
fn a_config_with_problems_lists_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let (candles, signals) = synth(dir.path(), 20);
    let config = common::write(
        dir.path(),
        "siglearn.toml",
        "[experiment]\nchampion = \"ghost\"\nalpah = 0.1\n[[strategies]]\nname = \"a\"\nscript = \"missing.rhai\"\n",
    );
    let error = format!("{:#}", replay(&candles, &signals, &config, &[]).unwrap_err());
    assert!(error.contains("experiment.alpah"), "{error}");
    let config = common::write(
        dir.path(),
        "siglearn.toml",
        "[experiment]\nchampion = \"ghost\"\n[[strategies]]\nname = \"a\"\nscript = \"missing.rhai\"\n",
    );
    let error = format!("{:#}", replay(&candles, &signals, &config, &[]).unwrap_err());
    assert!(
        error.contains("2 problem(s)") && error.contains("ghost") && error.contains("missing.rhai"),
        "{error}"
    );
}

fn shipped(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../scripts/{name}.rhai", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn head_weights_finds_the_planted_heads_and_beats_baseline_out_of_sample() {
    let dir = tempfile::tempdir().unwrap();
    let (candles, signals) = synth(dir.path(), 1500);
    let planted = siglearn::synth::synthesize(&siglearn::synth::SynthConfig::default());
    let (baseline, head_weights) = (shipped("baseline"), shipped("head_weights"));
    let config = lineup(dir.path(), &[("baseline", &baseline), ("head_weights", &head_weights)], "");
    let db = out(dir.path(), "s.db");
    replay(&candles, &signals, &config, &["--db", &db]).unwrap();
    let reader = StoreReader::open(std::path::Path::new(&db)).unwrap();

    // The learned weights rank every informative head above every noise head.
    let state = reader.versions("head_weights").unwrap().pop().unwrap().state;
    let weight = |head: &String| state["weights"][head.as_str()].as_f64().unwrap();
    let weakest_informative = planted.informative_heads.iter().map(weight).fold(f64::INFINITY, f64::min);
    let strongest_noise = planted.noise_heads.iter().map(weight).fold(f64::NEG_INFINITY, f64::max);
    assert!(weakest_informative > strongest_noise, "{:#}", state["weights"]);

    // Out of sample: every decision used only earlier outcomes; compare the
    // second half, after the weights had time to form.
    let decisions = reader.all_decisions().unwrap();
    let mut trades = reader.trades().unwrap();
    trades.sort_by_key(|t| t.signal.entry_ts);
    let second_half = &trades[trades.len() / 2..];
    let earned = |strategy: &str| -> f64 {
        second_half
            .iter()
            .filter(|t| {
                decisions[t.signal.id.as_str()]
                    .iter()
                    .any(|(s, v)| s == strategy && v.is_some_and(|v| v.take))
            })
            .map(|t| t.outcome.pnl_pct)
            .sum()
    };
    let (learned, everything) = (earned("head_weights"), earned("baseline"));
    assert!(learned > everything + 50.0, "head_weights {learned:.1}% vs baseline {everything:.1}%");
}

#[test]
fn the_example_config_runs_the_shipped_strategies() {
    let dir = tempfile::tempdir().unwrap();
    let (candles, signals) = synth(dir.path(), 150);
    let config = format!("{}/../siglearn.example.toml", env!("CARGO_MANIFEST_DIR"));
    let ab = out(dir.path(), "ab.json");
    replay(&candles, &signals, &config, &["--ab-out", &ab]).unwrap();
    let table = json(&ab);
    let names: Vec<&str> =
        table["strategies"].as_array().unwrap().iter().map(|r| r["strategy"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["baseline", "adaptive_threshold", "head_weights", "pattern_filter", "indicator_weights"]
    );
    let failures: u64 = table["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["no_decisions"].as_u64().unwrap() + r["failures"].as_u64().unwrap())
        .sum();
    assert_eq!(failures, 0, "{table:#}");
}

#[test]
fn weekly_retraining_deploys_a_candidate_only_when_the_gate_finds_it_beat_the_live_strategy() {
    let dir = tempfile::tempdir().unwrap();
    let (candles, signals) = synth(dir.path(), 600);
    // `improves` takes nothing until retraining teaches it to follow h1;
    // `worsens` follows h1 and retraining would make it take nothing.
    let improves = r#"
        fn init(params) { this.mode = "none"; }
        fn decide(signal) { this.mode == "h1" && signal.heads.get("h1", 0.0) * signal.side_sign > 0.0 }
        fn retrain(history) { this.mode = "h1"; }
    "#;
    let worsens = r#"
        fn init(params) { this.mode = "h1"; }
        fn decide(signal) { this.mode == "h1" && signal.heads.get("h1", 0.0) * signal.side_sign > 0.0 }
        fn retrain(history) { this.mode = "none"; }
    "#;
    let config = lineup(dir.path(), &[("improves", improves), ("worsens", worsens)], "");
    let db = out(dir.path(), "s.db");
    replay(&candles, &signals, &config, &["--db", &db]).unwrap();
    let reader = StoreReader::open(std::path::Path::new(&db)).unwrap();
    let weekly = reader.job_runs(siglearn::schedule::JobKind::Weekly).unwrap();
    for name in ["improves", "worsens"] {
        let judged: Vec<&serde_json::Value> = weekly
            .iter()
            .filter(|run| run.strategy.as_ref().is_some_and(|s| s.as_str() == name))
            .map(|run| &run.figures)
            .filter(|figures| figures.get("deployed").is_some())
            .collect();
        assert!(judged.len() > 5, "{name}: {} judged weeks", judged.len());
        for figures in &judged {
            let better =
                figures["candidate_pnl_pct"].as_f64().unwrap() > figures["current_pnl_pct"].as_f64().unwrap();
            let gate = &figures["gate"];
            let passed = gate["p_value"].as_f64().unwrap() <= gate["alpha"].as_f64().unwrap();
            assert_eq!(figures["deployed"], passed, "deployed exactly when the gate passed: {figures}");
            assert!(!passed || better, "the gate passes only a candidate that earned more: {figures}");
        }
        let deployed = judged.iter().filter(|f| f["deployed"] == true).count();
        let versions = reader.versions(name).unwrap();
        let retrains: Vec<_> = versions.iter().filter(|v| v.reason.as_str() == "retrain").collect();
        assert_eq!(retrains.len(), deployed, "{name}: one retrain version per deployment");
    }
    // Dropping the informative head is never deployed.
    assert!(reader.versions("worsens").unwrap().iter().all(|v| v.reason.as_str() != "retrain"));
    // The first deployment of `improves` is the candidate that follows h1.
    let first =
        reader.versions("improves").unwrap().into_iter().find(|v| v.reason.as_str() == "retrain").unwrap();
    assert_eq!(first.state["mode"], "h1");
}

#[test]
fn a_restart_during_probation_continues_it_with_its_shadow() {
    let dir = tempfile::tempdir().unwrap();
    let (candles, signals) = synth(dir.path(), 600);
    // Retraining turns it from taking nothing to taking everything.
    let improves = r#"
        fn init(params) { this.mode = "none"; }
        fn decide(signal) { this.mode == "all" }
        fn retrain(history) { this.mode = "all"; }
    "#;
    let restored = |probation_days: u32, name: &str| {
        let config_path = lineup(dir.path(), &[("improves", improves)], "");
        let text = std::fs::read_to_string(&config_path).unwrap();
        let text =
            text.replace("[experiment]\n", &format!("[experiment]\nprobation_days = {probation_days}\n"));
        std::fs::write(&config_path, &text).unwrap();
        let whole = out(dir.path(), &format!("{name}-whole.db"));
        replay(&candles, &signals, &config_path, &["--db", &whole]).unwrap();
        let reader = StoreReader::open(std::path::Path::new(&whole)).unwrap();
        let versions = reader.versions("improves").unwrap();
        let deploy =
            versions.iter().find(|v| v.reason.as_str() == "retrain").expect("a retraining deploy").clone();
        // Stop a day into the deploy's probation, then continue the store.
        let cut =
            siglearn::timestamp::format_timestamp(deploy.created_at + siglearn_plugin_api::MILLIS_PER_DAY);
        let (signals_1, _) = split_at(dir.path(), &signals, "entry_ts", &cut);
        let (candles_1, _) = split_at(dir.path(), &candles, "ts", &cut);
        let db = out(dir.path(), &format!("{name}-cut.db"));
        replay(&candles_1, &signals_1, &config_path, &["--db", &db]).unwrap();
        let config = siglearn::config::Config::load(std::path::Path::new(&config_path)).unwrap();
        let reader = StoreReader::open(std::path::Path::new(&db)).unwrap();
        let now = deploy.created_at + siglearn_plugin_api::MILLIS_PER_DAY;
        let lineup = siglearn::strategy::resume_lineup(&config, &reader, now).unwrap();
        let mut engine = siglearn::engine::Engine::with_lineup(
            config.engine(),
            siglearn::engine::LineupSpec {
                members: lineup.members,
                champion: lineup.champion,
                schedule: None,
            },
        );
        let restored = siglearn::restore::restore(&mut engine, &reader, config.limits).unwrap();
        assert_eq!(engine.versions()[0].1, deploy.version, "the deploy stays live");
        assert!(restored.cut_probations.is_empty(), "{:?}", restored.cut_probations);
        (restored.probations, engine.probations(), deploy)
    };
    let (continued, running, deploy) = restored(7, "on");
    assert_eq!(continued, [("improves".to_owned(), deploy.version)]);
    let probation = &running[0];
    assert_eq!(probation.shadow_version, deploy.parent.unwrap(), "the version it replaced is the shadow");
    assert_eq!(probation.until, deploy.created_at + 7 * siglearn_plugin_api::MILLIS_PER_DAY);
    assert_eq!(probation.state["mode"], "none", "the shadow keeps the replaced version's state");
    let (continued, running, _) = restored(0, "off");
    assert!(continued.is_empty() && running.is_empty(), "{continued:?}");
}
