//! Continuing a store: the engine put back where an earlier run (a replay,
//! or the daemon before a restart or a crash) left it.
//!
//! The strategies themselves come back through
//! [`crate::strategy::resume_lineup`] (live versions, checkpoints and the
//! outcomes after them). This module restores the rest: the job schedule,
//! the closed trades (ledgers, retraining history, the day's counters), the
//! open signals with the verdicts they got, the weekly anchors, the promotion
//! tests and the promotions made.
//!
//! Probations continue from the last save: the shadow's code is the stored
//! code of its version, its state the saved one with the outcomes committed
//! after the save learned again. Its decisions on signals that arrived
//! after the save were lost, so those signals do not count in its test. A
//! deploy still in its window without a saved probation (a store from before
//! probations were saved) stays live without one, and
//! [`Restored::cut_probations`] names it.
//!
//! A row of one strategy that cannot be read (a decision, a saved test,
//! probation or promotion) costs that strategy what the row held, never the restore of
//! the others: it is set aside and named in [`Restored::problems`]. A
//! strategy whose live version cannot be read is not in the lineup at all
//! (see [`crate::strategy::resume_lineup`]).
//!
//! Code that changed since the run stopped (a script edited while the
//! daemon was down, or between two parts of a replay) is a deploy like a
//! hot reload: the lineup resumes the live version, and [`deploy`] then
//! deploys the new code over it, on probation against it.

use std::path::Path;

use anyhow::bail;

use siglearn_plugin_api::{Timestamp, VersionId};

use crate::engine::{Effect, Engine};
use crate::store::{BadRow, Command, StoreReader};
use crate::strategy::script::Limits;
use crate::strategy::{Strategy, StrategyError, Verdict};
use crate::versions::{CHAMPION, VersionReason};

/// What a restore put back.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Restored {
    pub closed_trades: usize,
    pub open_signals: usize,
    /// Probations that continue: (strategy, version on probation).
    pub probations: Vec<(String, VersionId)>,
    /// Deploys (reload, retraining) still within their probation window at
    /// the last event stored: they stay live without a shadow.
    pub cut_probations: Vec<(String, VersionId)>,
    /// Rows of a strategy that could not be read, each with what it cost
    /// the strategy and the fix; the strategy runs without what they held.
    pub problems: Vec<StrategyError>,
}

/// The problem of the strategy `bad` belongs to: what the row cost it
/// (`lost`), and the row with its fix.
fn unreadable(bad: BadRow, lost: &str) -> StrategyError {
    let strategy = bad.strategy.clone().unwrap_or_else(|| bad.table.to_owned());
    StrategyError::new(
        siglearn_plugin_api::StrategyId::new(strategy),
        std::path::PathBuf::new(),
        format!("{lost}: {bad}"),
    )
}

/// The store of an earlier run to continue, if `path` holds one (any
/// signal, version or job run: a run stopped before its first signal, or
/// after prices only, is continued too). None of `new_signals` may be in it
/// already.
pub fn earlier_run<'a>(
    path: &Path,
    new_signals: impl Iterator<Item = &'a str>,
) -> anyhow::Result<Option<StoreReader>> {
    if !path.exists() {
        return Ok(None);
    }
    // The reader's refusal names the path and what the file is.
    let reader = StoreReader::open(path)?;
    if !reader.holds_run()? {
        return Ok(None);
    }
    let known = reader.known_signals(new_signals)?;
    if !known.is_empty() {
        let shown: Vec<&str> = known.iter().take(5).map(String::as_str).collect();
        bail!(
            "{} of these signals are already in {} (e.g. {}); a continued replay takes only new signals \
             (or use a new --db file)",
            known.len(),
            path.display(),
            shown.join(", ")
        );
    }
    Ok(Some(reader))
}

/// Puts `engine` (whose lineup came from `resume_lineup`) back where the run
/// recorded in `reader` stopped; shadows on probation run under `limits`.
pub fn restore(engine: &mut Engine, reader: &StoreReader, limits: Limits) -> anyhow::Result<Restored> {
    // The schedule first: the jobs count what came after their last runs.
    for (job, at) in reader.last_job_runs()? {
        engine.resume_job(job, at);
    }
    let names: Vec<String> = engine.strategy_names().iter().map(|n| n.to_string()).collect();
    let (decisions, bad) = reader.all_decisions_rows()?;
    let mut problems: Vec<StrategyError> =
        bad.into_iter().map(|bad| unreadable(bad, "a decision of it is forgotten (read as none)")).collect();
    let verdicts_of = |signal: &str| -> Vec<Option<Verdict>> {
        let given = decisions.get(signal);
        names
            .iter()
            .map(|name| given.and_then(|d| d.iter().find(|(s, _)| s == name)).and_then(|(_, v)| *v))
            .collect()
    };
    // In the order the engine closed them, each with the time it was learned,
    // so that ledgers and retraining windows are those of an unbroken run.
    let trades = reader.trades_as_closed_rows()?;
    problems.extend(trades.bad.into_iter().map(|bad| unreadable(bad, "a closed trade is not learned again")));
    let trades = trades.read;
    for (trade, known_at) in &trades {
        let verdicts = verdicts_of(trade.signal.id.as_str());
        engine.restore_closed(trade, &verdicts, *known_at);
    }
    // An open signal today's rules refuse (an older version took it) is
    // set aside, named, rather than stopping the restart of everything.
    let open = reader.open_signals_rows()?;
    problems.extend(open.bad.into_iter().map(|bad| unreadable(bad, "an open signal is not watched")));
    let open = open.read;
    let open_signals = open.len();
    let open_entries: Vec<Timestamp> = open.iter().map(|s| s.entry_ts).collect();
    for signal in open {
        let verdicts = verdicts_of(signal.id.as_str());
        engine.restore_open(signal, verdicts)?;
    }
    for name in &names {
        // One strategy's unreadable anchor costs it its next retraining
        // start, not the restart of all.
        match reader.anchor(name) {
            Ok(Some(anchor)) => engine.restore_anchor(name, anchor),
            Ok(None) => {}
            Err(error) => tracing::error!(strategy = %name, %error, "its retraining anchor does not restore"),
        }
    }
    // The live version of each strategy that runs; one that cannot be read
    // kept its strategy out of the lineup, and concerns it only.
    let live = reader.latest_versions_rows()?.read;
    for record in live.into_iter().filter(|record| names.contains(&record.strategy.to_string())) {
        engine.restore_versioned(record.strategy.as_str(), record.state);
    }
    let (tests, bad) = reader.tests()?;
    problems.extend(bad.into_iter().map(|bad| unreadable(bad, "its promotion test starts again")));
    if let Some((champion, tests)) = tests {
        engine.restore_tests(&champion, tests);
    }
    let moves = reader.alias_history_rows(CHAMPION)?;
    problems.extend(moves.bad.into_iter().map(|bad| unreadable(bad, "a promotion of it is forgotten")));
    let promotions = moves.read.into_iter().filter(|m| m.reason == "promote");
    engine.restore_promotions(promotions.filter_map(|m| serde_json::from_value(m.evidence).ok()).collect());
    let saved_probations = reader.probations_rows()?;
    problems.extend(
        saved_probations
            .bad
            .into_iter()
            .map(|bad| unreadable(bad, "its deploy stays live without its shadow")),
    );
    let mut probations = Vec::new();
    for (saved, through) in saved_probations.read {
        let name = saved.strategy.to_string();
        let live = saved.live_version;
        match resume_probation(engine, reader, saved, through, limits) {
            Ok(()) => probations.push((name, live)),
            Err(error) => tracing::warn!(strategy = %name, %error, "a saved probation does not continue"),
        }
    }
    let last_event = trades.iter().map(|(_, known_at)| *known_at).chain(open_entries).max();
    let mut cut_probations = Vec::new();
    if let (Some(last_event), window) = (last_event, engine.probation_window_ms()) {
        for name in &names {
            // Older versions that cannot be read do not matter here.
            let versions = reader.versions_rows(name)?.read;
            let Some(newest) = versions.last() else { continue };
            let deployed = matches!(newest.reason, VersionReason::Reload | VersionReason::Retrain);
            let resumed = probations.iter().any(|(n, v)| n == name && *v == newest.version);
            if window > 0 && deployed && !resumed && newest.created_at + window > last_event {
                cut_probations.push((name.clone(), newest.version));
            }
        }
    }
    Ok(Restored { closed_trades: trades.len(), open_signals, probations, cut_probations, problems })
}

/// New code deployed at a resume: the strategy, its new version, and the
/// version it replaced, in shadow until `until` (`None`: probation is off).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deploy {
    pub strategy: String,
    pub version: VersionId,
    pub replaced: VersionId,
    pub until: Option<Timestamp>,
}

impl std::fmt::Display for Deploy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (strategy, version, replaced) = (&self.strategy, self.version, self.replaced);
        write!(f, "{strategy}: its code changed since {replaced} ran; the new code is {version} (reload)")?;
        match self.until {
            Some(until) => write!(
                f,
                ", on probation until {} against {replaced}, which runs in shadow and goes live again if \
                 the new code proves worse",
                crate::timestamp::format_timestamp(until)
            ),
            None => write!(f, ", live without probation (probation_days = 0)"),
        }
    }
}

/// What deploying the new code of a resumed lineup did.
#[derive(Debug, Default)]
pub struct Deployed {
    pub deploys: Vec<Deploy>,
    /// New code that would not take over the live state (`migrate`
    /// failed): the live version runs on, and this says why.
    pub refused: Vec<StrategyError>,
    /// The rows to write: the new versions and the probations.
    pub commands: Vec<Command>,
}

/// Deploys `new_code` (the [`crate::strategy::Lineup::deploys`] of a
/// resumed lineup) over the live versions `engine` runs, at `now`, once
/// [`restore`] has put the run back: each through
/// [`Engine::deploy`], exactly as a hot reload of the same file while
/// running would have, so the new code is a `reload` version on probation
/// against the stored live version.
pub fn deploy(engine: &mut Engine, new_code: Vec<Box<dyn Strategy>>, now: Timestamp) -> Deployed {
    let mut deployed = Deployed::default();
    let mut effects = Vec::new();
    for new in new_code {
        let name = new.name().to_string();
        let replaced = engine.versions().into_iter().find(|(n, _, _)| n.as_str() == name).map(|(_, v, _)| v);
        let first = effects.len();
        match (engine.deploy(new, now, &mut effects), replaced) {
            (Ok(version), Some(replaced)) if version != replaced => {
                let until = effects[first..].iter().find_map(|effect| match effect {
                    Effect::ProbationStarted { until, .. } => Some(*until),
                    _ => None,
                });
                deployed.deploys.push(Deploy { strategy: name, version, replaced, until });
            }
            (Ok(_), _) => {}
            (Err(error), _) => deployed.refused.push(error),
        }
    }
    for effect in &effects {
        Command::of_effect(effect, now, &mut deployed.commands);
    }
    if !deployed.deploys.is_empty() {
        deployed.commands.push(Command::SaveProbations { probations: engine.probations(), at: now });
    }
    deployed
}

/// Rebuilds a saved probation's shadow and hands it to the engine.
fn resume_probation(
    engine: &mut Engine,
    reader: &StoreReader,
    mut saved: crate::engine::SavedProbation,
    through: i64,
    limits: Limits,
) -> anyhow::Result<()> {
    let name = saved.strategy.clone();
    let versions = reader.versions_rows(name.as_str())?;
    if let Some(bad) = versions.bad.into_iter().find(|bad| bad.version == Some(saved.shadow_version)) {
        bail!("its shadow cannot be read: {bad}");
    }
    let Some(record) = versions.read.iter().find(|v| v.version == saved.shadow_version) else {
        bail!("its shadow {} is not in the store", saved.shadow_version);
    };
    let Some(code) = reader.code(&record.code_hash)? else {
        bail!("the code of its shadow {} is not stored", saved.shadow_version);
    };
    let source = std::path::PathBuf::from(format!("{name} {} (stored)", saved.shadow_version));
    let mut shadow = code.build(name, &source, limits)?;
    shadow.set_state(&saved.state)?;
    for trade in reader.trades_committed_after(through)? {
        let _ = shadow.learn(&trade.signal, &trade.outcome);
        saved.taken.retain(|(id, _)| *id != trade.signal.id);
    }
    engine.resume_probation(saved, shadow).map_err(anyhow::Error::msg)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::monitor::MonitorConfig;
    use crate::store::{Command, Store};
    use crate::strategy::Code;
    use crate::versions::VersionRecord;

    #[test]
    fn an_open_signal_todays_rules_refuse_is_set_aside_named_and_the_others_are_watched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = Store::open(&path, &MonitorConfig::default()).unwrap();
        let mut commands: Vec<Command> = ["s1", "s2", "s3", "c1", "c2"]
            .map(|id| {
                let signal = crate::monitor::fixtures::signal(id, siglearn_plugin_api::Side::Long);
                Command::InsertSignal(Arc::new(signal))
            })
            .into();
        // c1 and c2 closed.
        for id in ["c1", "c2"] {
            let outcome = siglearn_plugin_api::Outcome {
                signal_id: siglearn_plugin_api::SignalId::new(id),
                kind: siglearn_plugin_api::OutcomeKind::TpHit,
                exit_ts: Timestamp(60_000),
                exit_price: 110.0,
                pnl_pct: 10.0,
                holding_ms: 60_000,
                ambiguous: false,
                mfe_pct: 10.0,
                mae_pct: 0.0,
            };
            commands.push(Command::InsertOutcome { outcome, known_at: Timestamp(120_000) });
        }
        store.commit(commands).unwrap();
        store.close().unwrap();
        // As an older version could have stored them: a newline in s2's
        // pattern (refused today), s3's heads not JSON.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute("UPDATE signals SET pattern = 'p' || char(10) || 'FORGED' WHERE id = 's2'", []).unwrap();
        conn.execute("UPDATE signals SET heads = 'not json' WHERE id = 's3'", []).unwrap();
        // A closed one: its price stored as text.
        conn.execute("UPDATE signals SET entry_price = 'abc' WHERE id = 'c2'", []).unwrap();
        drop(conn);
        let reader = earlier_run(&path, std::iter::empty()).unwrap().unwrap();
        let mut engine = Engine::new(crate::engine::EngineConfig::default());
        let restored = restore(&mut engine, &reader, Limits::default()).unwrap();
        assert_eq!((restored.open_signals, engine.open_count()), (1, 1), "s1 is watched again");
        assert_eq!(restored.closed_trades, 1, "c1 is learned again");
        let problems: Vec<String> = restored.problems.iter().map(ToString::to_string).collect();
        let [price, pattern, heads] = &problems[..] else { panic!("{problems:?}") };
        // The report reads the same store: c1, and c2 set aside, named.
        let trades = reader.trades_rows().unwrap();
        assert_eq!((trades.read.len(), trades.bad.len()), (1, 1));
        for (problem, expected) in [
            (price, "outcomes row signal_id = 'c2'"),
            (price, "a closed trade is not learned again"),
            (
                price,
                "DELETE FROM outcomes WHERE signal_id = 'c2'; DELETE FROM decisions WHERE signal_id = 'c2'; \
                 DELETE FROM signals WHERE id = 'c2'",
            ),
            (pattern, "signals row id = 's2'"),
            (pattern, "column pattern: pattern contains a control character"),
            (pattern, "DELETE FROM decisions WHERE signal_id = 's2'; DELETE FROM signals WHERE id = 's2'"),
            (heads, "signals row id = 's3'"),
            (heads, "an open signal is not watched"),
        ] {
            assert!(problem.contains(expected), "{expected:?} not in {problem}");
        }
    }

    #[test]
    fn a_store_that_holds_versions_but_no_signal_is_continued() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        assert!(earlier_run(&path, std::iter::empty()).unwrap().is_none(), "no file: a new store");
        let store = Store::open(&path, &MonitorConfig::default()).unwrap();
        store.flush().unwrap();
        assert!(earlier_run(&path, std::iter::empty()).unwrap().is_none(), "an empty store starts afresh");
        store
            .send(Command::InsertVersion(VersionRecord {
                code: Some(Code::Script(Arc::from("fn decide(signal) { true }"))),
                ..VersionRecord::bare("a", 1, VersionReason::Load, Timestamp(0))
            }))
            .unwrap();
        store.close().unwrap();
        // A run stopped before its first signal wrote its versions: starting
        // afresh would write version 1 again.
        assert!(earlier_run(&path, std::iter::empty()).unwrap().is_some());
    }

    #[test]
    fn a_strategy_whose_live_version_cannot_be_read_stays_out_and_the_others_restore() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut config = crate::config::Config::default();
        for name in ["a", "b", "c"] {
            let script = dir.path().join(format!("{name}.rhai"));
            std::fs::write(&script, "fn init(params) { this.n = 0; } fn decide(signal) { true }").unwrap();
            config.strategies.push(crate::config::StrategyConfig {
                name: name.to_owned(),
                path: script,
                params: serde_json::json!({}),
                enabled: true,
            });
        }
        // A first run: every strategy's version 1, a champion, a test of b.
        let first = crate::strategy::start_lineup(&config, &[], None, Timestamp(0)).unwrap();
        let store = Store::open(&path, &MonitorConfig::default()).unwrap();
        let mut commands: Vec<Command> = first.versions.into_iter().map(Command::InsertVersion).collect();
        commands.extend(first.alias.map(Command::MoveAlias));
        let test = crate::experiment::sequential::PairedTest::new(Default::default());
        commands.push(Command::SaveTests {
            champion: siglearn_plugin_api::StrategyId::new("a"),
            tests: vec![(siglearn_plugin_api::StrategyId::new("b"), test)],
            at: Timestamp(0),
        });
        let signal = crate::monitor::fixtures::signal("s1", siglearn_plugin_api::Side::Long);
        commands.push(Command::InsertSignal(Arc::new(signal.clone())));
        for name in ["a", "b"] {
            commands.push(Command::InsertDecision(siglearn_plugin_api::Decision {
                strategy: siglearn_plugin_api::StrategyId::new(name),
                version: VersionId(1),
                signal_id: signal.id.clone(),
                take: true,
                score: 1.0,
                size: 1.0,
            }));
        }
        store.commit(commands).unwrap();
        store.close().unwrap();
        // c's live state nested 200 deep (an older siglearn wrote it), b's
        // saved test not JSON, b's decision's score not a number.
        let conn = rusqlite::Connection::open(&path).unwrap();
        let deep = format!("{}1{}", r#"{"d":"#.repeat(200), "}".repeat(200));
        conn.execute("UPDATE versions SET state = ?1 WHERE strategy = 'c'", [deep]).unwrap();
        conn.execute("UPDATE experiment SET test = 'not json' WHERE strategy = 'b'", []).unwrap();
        conn.execute("UPDATE decisions SET score = 'high' WHERE strategy = 'b'", []).unwrap();
        drop(conn);

        let reader = earlier_run(&path, std::iter::empty()).unwrap().unwrap();
        let lineup = crate::strategy::start_lineup(&config, &[], Some(&reader), Timestamp(1)).unwrap();
        let running: Vec<String> = lineup.members.iter().map(|m| m.strategy.name().to_string()).collect();
        assert_eq!(running, ["a", "b"]);
        assert_eq!(lineup.failed.len(), 1);
        let failure = lineup.failed[0].to_string();
        assert!(
            failure.contains("versions row strategy = 'c' AND n = 1")
                && failure.contains("siglearn rollback"),
            "{failure}"
        );
        let mut engine = Engine::with_lineup(
            config.engine(),
            crate::engine::LineupSpec { members: lineup.members, champion: lineup.champion, schedule: None },
        );
        let restored = restore(&mut engine, &reader, config.limits).unwrap();
        assert_eq!(engine.champion(), Some(0), "a stays champion");
        let problems: Vec<(String, String)> =
            restored.problems.iter().map(|p| (p.strategy.to_string(), p.to_string())).collect();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!((problems[0].0.as_str(), problems[1].0.as_str()), ("b", "b"));
        assert!(
            problems[0].1.contains("decisions row strategy = 'b' AND signal_id = 's1'")
                && problems[0].1.contains("column score"),
            "{}",
            problems[0].1
        );
        assert!(
            problems[1].1.contains("promotion test starts again") && problems[1].1.contains("experiment row")
        );
        assert_eq!(restored.open_signals, 1, "the signal is watched again");
    }
}
