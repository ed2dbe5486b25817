//! Continuing a store: the engine put back where an earlier run (a replay,
//! or the daemon before a restart or a crash) left it.
//!
//! The strategies themselves come back through
//! [`crate::strategy::resume_lineup`] (live versions, checkpoints and the
//! outcomes after them). This module restores the rest: the job schedule,
//! the closed trades (ledgers, retraining history, the day's counters), the
//! open signals with the verdicts they got, the weekly anchors, the promotion
//! tests and the promotions made.

use std::path::Path;

use anyhow::{Context, bail};

use crate::engine::Engine;
use crate::store::StoreReader;
use crate::strategy::Verdict;
use crate::versions::CHAMPION;

/// What a restore put back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    pub closed_trades: usize,
    pub open_signals: usize,
}

/// The store of an earlier run to continue, if `path` holds one. None of
/// `new_signals` may be in it already.
pub fn earlier_run<'a>(
    path: &Path,
    new_signals: impl Iterator<Item = &'a str>,
) -> anyhow::Result<Option<StoreReader>> {
    if !path.exists() {
        return Ok(None);
    }
    let reader = StoreReader::open(path)
        .with_context(|| format!("{} exists but is not a siglearn store", path.display()))?;
    if reader.signal_count()? == 0 {
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
/// recorded in `reader` stopped.
pub fn restore(engine: &mut Engine, reader: &StoreReader) -> anyhow::Result<Restored> {
    // The schedule first: the jobs count what came after their last runs.
    for (job, at) in reader.last_job_runs()? {
        engine.resume_job(job, at);
    }
    let names: Vec<String> = engine.strategy_names().iter().map(|n| n.to_string()).collect();
    let decisions = reader.all_decisions()?;
    let verdicts_of = |signal: &str| -> Vec<Option<Verdict>> {
        let given = decisions.get(signal);
        names
            .iter()
            .map(|name| given.and_then(|d| d.iter().find(|(s, _)| s == name)).and_then(|(_, v)| *v))
            .collect()
    };
    let trades = reader.trades()?;
    for trade in &trades {
        let verdicts = verdicts_of(trade.signal.id.as_str());
        engine.restore_closed(trade, &verdicts);
    }
    let open = reader.open_signals()?;
    let open_signals = open.len();
    for signal in open {
        let verdicts = verdicts_of(signal.id.as_str());
        engine.restore_open(signal, verdicts)?;
    }
    for name in &names {
        if let Some(anchor) = reader.anchor(name)? {
            engine.restore_anchor(name, anchor);
        }
    }
    if let Some((champion, tests)) = reader.tests()? {
        engine.restore_tests(&champion, tests);
    }
    let promotions = reader.alias_history(CHAMPION)?.into_iter().filter(|m| m.reason == "promote");
    engine.restore_promotions(promotions.filter_map(|m| serde_json::from_value(m.evidence).ok()).collect());
    Ok(Restored { closed_trades: trades.len(), open_signals })
}
