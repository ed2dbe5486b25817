//! The A/B table: each strategy's results, and against the champion the
//! paired per-signal difference with its anytime-valid interval.
//!
//! Per-strategy figures use the metric conventions of DESIGN section 11 over
//! the trades the strategy took (a fixed stake per trade). The comparison
//! with the champion is the promotion test's: the mean of the challenger's
//! return minus the champion's over the signals where they disagreed, since
//! the last promotion.
//!
//! Beside the Sharpe ratio each row shows its probabilistic and deflated
//! Sharpe ratios, and the table the lineup's probability of backtest
//! overfitting with the number of trials they account for
//! ([`crate::analytics::selection`]).

use serde::Serialize;

use super::sequential::Verdict;
use crate::analytics::pbo::DEFAULT_PARTITIONS;
use crate::analytics::{Selection, Trials, summarize};
use crate::engine::{Engine, Promotion};
use crate::timestamp::format_timestamp;
use crate::trade::Trade;

/// One strategy's line.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AbRow {
    pub strategy: String,
    pub version: u32,
    pub champion: bool,
    /// Signals it decided on, and failed to decide on.
    pub decisions: u64,
    pub no_decisions: u64,
    /// Failures of its other hooks.
    pub failures: u64,
    /// Closed trades among the signals it took.
    pub trades: usize,
    pub win_rate: Option<f64>,
    pub avg_pnl_pct: Option<f64>,
    pub total_pnl_pct: f64,
    pub profit_factor: Option<f64>,
    pub sharpe_per_trade: Option<f64>,
    /// Annualised Sharpe ratio of its daily P&L.
    pub sharpe_daily: Option<f64>,
    /// Probability that its true daily Sharpe ratio is above 0.
    pub psr: Option<f64>,
    /// Probability that it is above the best of `selection.trials.total`
    /// zero-skill trials: below 0.95, its Sharpe ratio is consistent with
    /// selection luck.
    pub dsr: Option<f64>,
    pub max_drawdown_pct: Option<f64>,
    /// Against the champion; `None` for the champion itself.
    pub vs_champion: Option<Paired>,
}

/// A challenger against the champion, since the last promotion.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Paired {
    /// Closed signals both decided on.
    pub signals: u64,
    /// Signals where their returns differed.
    pub disagreements: u64,
    /// Mean of (challenger - champion) return per disagreement, percent.
    pub mean_difference_pct: Option<f64>,
    /// Anytime-valid confidence interval of that mean.
    pub ci_low_pct: Option<f64>,
    pub ci_high_pct: Option<f64>,
    /// `better`, `worse` or `undecided`.
    pub verdict: &'static str,
}

/// The table of a lineup.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AbTable {
    pub champion: Option<String>,
    pub strategies: Vec<AbRow>,
    pub promotions: Vec<Promotion>,
    /// Trials, the deflation and the lineup's PBO.
    pub selection: Selection,
}

impl AbTable {
    /// The table of the engine's lineup as it stands, its DSR deflated for
    /// the lineup's strategies only: add the versions with [`Self::with_versions`].
    pub fn of(engine: &Engine) -> AbTable {
        let lineup = engine.lineup();
        let ledgers: Vec<(String, Vec<&Trade>)> =
            lineup.seats.iter().map(|seat| (seat.name().to_string(), seat.taken.iter().collect())).collect();
        let trials = Trials::new(lineup.seats.len(), 0, 0);
        let selection = Selection::of(&ledgers, trials, DEFAULT_PARTITIONS);
        let champion = lineup.champion;
        let strategies = lineup
            .seats
            .iter()
            .enumerate()
            .filter(|(_, seat)| !seat.retired)
            .map(|(i, seat)| {
                let taken: Vec<&Trade> = seat.taken.iter().collect();
                let summary = summarize(&taken);
                let vs_champion = (champion.is_some() && champion != Some(i)).then(|| {
                    let test = &lineup.tests[i];
                    let interval = test.interval();
                    Paired {
                        signals: test.signals(),
                        disagreements: test.disagreements(),
                        mean_difference_pct: test.mean_difference(),
                        ci_low_pct: interval.map(|(low, _)| low),
                        ci_high_pct: interval.map(|(_, high)| high),
                        verdict: match test.verdict() {
                            Verdict::ChallengerBetter => "better",
                            Verdict::ChallengerWorse => "worse",
                            Verdict::Undecided => "undecided",
                        },
                    }
                });
                AbRow {
                    strategy: seat.name().to_string(),
                    version: seat.member.version.0,
                    champion: champion == Some(i),
                    decisions: seat.decisions,
                    no_decisions: seat.no_decisions,
                    failures: seat.failures,
                    trades: summary.total_trades,
                    win_rate: summary.win_rate,
                    avg_pnl_pct: summary.avg_pnl_pct,
                    total_pnl_pct: taken.iter().map(|t| t.outcome.pnl_pct).sum(),
                    profit_factor: summary.profit_factor,
                    sharpe_per_trade: summary.sharpe_per_trade,
                    sharpe_daily: summary.sharpe_daily,
                    psr: summary.psr_daily,
                    dsr: selection.strategies.get(seat.name().as_str()).and_then(|figures| figures.dsr),
                    max_drawdown_pct: summary.max_drawdown_pct,
                    vs_champion,
                }
            })
            .collect();
        AbTable {
            champion: champion.map(|c| lineup.seats[c].name().to_string()),
            strategies,
            promotions: engine.promotions().to_vec(),
            selection,
        }
    }

    /// The table deflated for `versions` more trials: the versions made by a
    /// reload or a retrain so far (see [`Trials::counts`]).
    pub fn with_versions(mut self, versions: usize) -> AbTable {
        let trials = self.selection.trials;
        self.selection =
            self.selection.with_trials(Trials::new(trials.strategies, versions, trials.parameter_sets));
        for row in &mut self.strategies {
            row.dsr = self.selection.strategies.get(&row.strategy).and_then(|figures| figures.dsr);
        }
        self
    }

    /// The line under the rows: what the DSR was deflated for, and the PBO.
    fn selection_line(&self) -> String {
        let Selection { trials, pbo, pbo_note, .. } = &self.selection;
        let pbo = match (pbo, pbo_note) {
            (Some(pbo), _) => format!(
                "PBO {:.3} (CSCV, S={} over {} days, {} splits)",
                pbo.probability, pbo.partitions, pbo.blocks, pbo.splits
            ),
            (None, Some(note)) => format!("PBO - ({note})"),
            (None, None) => "PBO -".to_owned(),
        };
        format!(
            "  PSR = P(true daily Sharpe > 0); DSR deflated for {} trials ({} strategies, {} reload/retrain \
             versions, {} parameter sets); {pbo}\n",
            trials.total, trials.strategies, trials.versions, trials.parameter_sets
        )
    }

    /// The table as JSON.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// The table for a terminal.
    pub fn render_text(&self) -> String {
        let mut out = String::from("A/B\n");
        let number =
            |value: Option<f64>, digits: usize| value.map_or("-".to_owned(), |v| format!("{v:.digits$}"));
        out.push_str(&format!(
            "  {:<20} {:>4} {:>7} {:>6} {:>8} {:>9} {:>6} {:>7} {:>6} {:>6} {:>8}  {}\n",
            "strategy",
            "ver",
            "trades",
            "win%",
            "avg%",
            "total%",
            "PF",
            "sharpe",
            "PSR",
            "DSR",
            "maxDD%",
            "vs champion: diff%/block [CS] n"
        ));
        for row in &self.strategies {
            let name = if row.champion { format!("{} *", row.strategy) } else { row.strategy.clone() };
            let versus = match &row.vs_champion {
                None => "champion".to_owned(),
                Some(p) => format!(
                    "{} [{}, {}] n={} {}",
                    number(p.mean_difference_pct, 3),
                    number(p.ci_low_pct, 3),
                    number(p.ci_high_pct, 3),
                    p.disagreements,
                    p.verdict
                ),
            };
            out.push_str(&format!(
                "  {:<20} {:>4} {:>7} {:>6} {:>8} {:>9.2} {:>6} {:>7} {:>6} {:>6} {:>8}  {}\n",
                name,
                row.version,
                row.trades,
                number(row.win_rate.map(|w| w * 100.0), 1),
                number(row.avg_pnl_pct, 4),
                row.total_pnl_pct,
                number(row.profit_factor, 2),
                number(row.sharpe_per_trade, 3),
                number(row.psr, 3),
                number(row.dsr, 3),
                number(row.max_drawdown_pct, 2),
                versus
            ));
            if row.no_decisions + row.failures > 0 {
                out.push_str(&format!(
                    "  {:<20} {} failed decisions, {} failed hooks (see the errors above or the store)\n",
                    "", row.no_decisions, row.failures
                ));
            }
        }
        out.push_str(&self.selection_line());
        for p in &self.promotions {
            out.push_str(&format!(
                "  promoted {} over {} at {} after {} disagreements: {} [{}, {}]\n",
                p.to,
                p.from,
                format_timestamp(p.at),
                p.disagreements,
                number(p.mean_difference_pct, 3),
                number(p.interval_pct.map(|i| i.0), 3),
                number(p.interval_pct.map(|i| i.1), 3),
            ));
        }
        out
    }
}
