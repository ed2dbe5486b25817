//! What the daemon shows without asking the engine: counters and the
//! status of each strategy, kept up to date by the engine thread after every
//! request and read by `/healthz`, `/metrics` and `/api/strategies`.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use crate::engine::Effect;
use crate::strategy::StrategyError;

/// Totals since the daemon started.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Counters {
    pub(crate) signals: u64,
    pub(crate) prices: u64,
    pub(crate) outcomes: u64,
    pub(crate) decisions: u64,
    pub(crate) no_decisions: u64,
    pub(crate) strategy_errors: u64,
    pub(crate) versions: u64,
    pub(crate) promotions: u64,
    pub(crate) probation_rollbacks: u64,
    pub(crate) reloads: u64,
    pub(crate) failed_reloads: u64,
    pub(crate) jobs: BTreeMap<String, u64>,
    pub(crate) refused_batches: u64,
}

/// A deploy on probation, as `/api/strategies` shows it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ProbationStatus {
    pub(crate) shadow_version: u32,
    pub(crate) until: i64,
}

/// One strategy as `/api/strategies` shows it.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct StrategyStatus {
    pub(crate) version: u32,
    pub(crate) champion: bool,
    pub(crate) running: bool,
    pub(crate) script: String,
    pub(crate) code_hash: String,
    /// A plugin's build (ABI, plugin-api and rustc versions); None for a script.
    pub(crate) plugin: Option<crate::strategy::native::Build>,
    pub(crate) decisions: u64,
    pub(crate) errors: u64,
    /// The deploy on probation, if any: the version it replaced runs in
    /// shadow until `until` (ms) or an earlier verdict.
    pub(crate) probation: Option<ProbationStatus>,
    /// The newest failure of a hook.
    pub(crate) last_error: Option<StrategyError>,
    /// A reload that failed: the old version stays live until the script
    /// compiles again.
    pub(crate) reload_error: Option<StrategyError>,
}

/// The shared read model.
#[derive(Debug)]
pub(crate) struct View {
    pub(crate) started: Instant,
    pub(crate) counters: Counters,
    pub(crate) open_signals: usize,
    pub(crate) strategies: BTreeMap<String, StrategyStatus>,
    /// Strategy folders hot reload cannot watch now, and why.
    pub(crate) unwatched: Vec<String>,
    /// Why the store cannot be written, while it cannot.
    pub(crate) store_error: Option<String>,
}

impl View {
    pub(crate) fn new() -> Self {
        View {
            started: Instant::now(),
            counters: Counters::default(),
            open_signals: 0,
            strategies: BTreeMap::new(),
            unwatched: Vec::new(),
            store_error: None,
        }
    }

    /// Counts what an engine effect says.
    pub(crate) fn note(&mut self, effect: &Effect) {
        let counters = &mut self.counters;
        match effect {
            Effect::SignalAccepted(_) => counters.signals += 1,
            Effect::Decided(decision) => {
                counters.decisions += 1;
                if let Some(status) = self.strategies.get_mut(decision.strategy.as_str()) {
                    status.decisions += 1;
                }
            }
            Effect::NoDecision { error, .. } | Effect::StrategyFailed(error) => {
                if matches!(effect, Effect::NoDecision { .. }) {
                    counters.no_decisions += 1;
                }
                counters.strategy_errors += 1;
                if let Some(status) = self.strategies.get_mut(error.strategy.as_str()) {
                    status.errors += 1;
                    status.last_error = Some(error.clone());
                }
            }
            Effect::Closed(_) => counters.outcomes += 1,
            Effect::VersionCreated(record) => {
                counters.versions += 1;
                if let Some(status) = self.strategies.get_mut(record.strategy.as_str()) {
                    status.version = record.version.0;
                    status.code_hash = record.code_hash.clone();
                }
            }
            Effect::AliasMoved(alias) => {
                counters.promotions += u64::from(alias.reason == "promote");
                for (name, status) in &mut self.strategies {
                    status.champion = name == alias.strategy.as_str();
                }
            }
            Effect::JobRan(run) => *counters.jobs.entry(run.job.as_str().to_owned()).or_default() += 1,
            Effect::ProbationStarted { strategy, shadow_version, until } => {
                if let Some(status) = self.strategies.get_mut(strategy.as_str()) {
                    status.probation =
                        Some(ProbationStatus { shadow_version: shadow_version.0, until: until.0 });
                }
            }
            Effect::ProbationEnded { evidence, rolled_back } => {
                counters.probation_rollbacks += u64::from(*rolled_back);
                if let Some(status) = self.strategies.get_mut(evidence.strategy.as_str()) {
                    status.probation = None;
                }
                tracing::info!(
                    strategy = %evidence.strategy,
                    verdict = evidence.verdict,
                    disagreements = evidence.disagreements,
                    rolled_back,
                    "probation ended"
                );
            }
            Effect::Anchored { .. } => {}
        }
    }

    /// The Prometheus text exposition of the counters.
    pub(crate) fn prometheus(&self) -> String {
        let c = &self.counters;
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            out.push_str(&format!("# HELP siglearn_{name} {help}\n# TYPE siglearn_{name} {kind}\n{value}\n"));
        };
        for (name, help, value) in [
            ("signals_total", "Signals accepted.", c.signals),
            ("prices_total", "Price updates applied.", c.prices),
            ("outcomes_total", "Signals closed.", c.outcomes),
            ("decisions_total", "Strategy decisions.", c.decisions),
            ("no_decisions_total", "Failed strategy decisions.", c.no_decisions),
            ("strategy_errors_total", "Failed strategy hooks.", c.strategy_errors),
            ("versions_total", "Strategy versions created.", c.versions),
            ("promotions_total", "Champion promotions by the sequential test.", c.promotions),
            ("probation_rollbacks_total", "Deploys rolled back after probation.", c.probation_rollbacks),
            ("reloads_total", "Script reloads that went live.", c.reloads),
            ("failed_reloads_total", "Script reloads refused.", c.failed_reloads),
            ("refused_batches_total", "Request batches refused as invalid.", c.refused_batches),
        ] {
            metric(name, "counter", help, format!("siglearn_{name} {value}"));
        }
        let jobs: Vec<String> =
            c.jobs.iter().map(|(job, n)| format!("siglearn_job_runs_total{{job=\"{job}\"}} {n}")).collect();
        metric("job_runs_total", "counter", "Scheduled job runs.", jobs.join("\n"));
        metric(
            "plugin_libraries_loaded",
            "gauge",
            "Native plugin libraries loaded (an old build stays loaded while anything from it runs).",
            format!("siglearn_plugin_libraries_loaded {}", crate::strategy::native::loaded_libraries()),
        );
        metric(
            "plugin_stalled_calls",
            "gauge",
            "Plugin calls past their budget that have not returned (the engine waits for them).",
            format!("siglearn_plugin_stalled_calls {}", crate::strategy::native::stalled_calls()),
        );
        metric(
            "open_signals",
            "gauge",
            "Signals being watched.",
            format!("siglearn_open_signals {}", self.open_signals),
        );
        let versions: Vec<String> = self
            .strategies
            .iter()
            .map(|(name, s)| {
                format!(
                    "siglearn_strategy_version{{strategy=\"{name}\",champion=\"{}\"}} {}",
                    s.champion, s.version
                )
            })
            .collect();
        metric("strategy_version", "gauge", "Live version of each strategy.", versions.join("\n"));
        metric(
            "uptime_seconds",
            "gauge",
            "Seconds since the daemon started.",
            format!("siglearn_uptime_seconds {:.0}", self.started.elapsed().as_secs_f64()),
        );
        out
    }
}
