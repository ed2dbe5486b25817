//! The learning read model: the pure computations behind
//! `GET /api/learning/performance`, `/improvements` and `/recommendations`.
//!
//! The daemon reads trades, decisions and versions from the store, passes
//! them in and caches the `serde_json::Value` that comes out (keys sorted,
//! `null` where undefined). Nothing here does I/O or reads the clock: `now`
//! is data. Metrics are the analytics [`Report`]'s (DESIGN section 11), and
//! trades are walked in exit order, so the same inputs give the same bytes.
//!
//! Weeks start on Monday 00:00 UTC; a trade counts in the week it exited.
//! Weekly series run from the first to the last week with a trade, empty
//! weeks included (`trades: 0`, rates `null`) so a chart's time axis is even.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde_json::{Value, json};
use siglearn_plugin_api::{MILLIS_PER_DAY, Timestamp};

use super::moments::mean;
use super::{Report, build_report, sort_in_exit_order, summarize};
use crate::store::DecisionsBySignal;
use crate::timestamp::format_utc_day;
use crate::trade::Trade;

/// The window of closed trades a performance view covers (`period=7d|30d|all`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    /// Trades that exited within this many days before `now`.
    Days(u32),
    /// Every closed trade.
    All,
}

/// A `period` that is neither a number of days nor `all`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("period {0:?} is not one of 7d, 30d, all (any whole number of days, such as 90d, works too)")]
pub struct ParsePeriodError(pub String);

impl FromStr for Period {
    type Err = ParsePeriodError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        if trimmed.eq_ignore_ascii_case("all") {
            return Ok(Period::All);
        }
        trimmed
            .strip_suffix('d')
            .and_then(|days| days.parse::<u32>().ok())
            .filter(|&days| days > 0)
            .map(Period::Days)
            .ok_or_else(|| ParsePeriodError(text.to_owned()))
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Days(days) => write!(f, "{days}d"),
            Period::All => f.write_str("all"),
        }
    }
}

impl Period {
    /// Whether a trade exiting at `exit` is in the period ending at `now`:
    /// `now - days <= exit <= now`.
    pub fn contains(self, exit: Timestamp, now: Timestamp) -> bool {
        match self {
            Period::Days(days) => {
                let start = now.saturating_add_millis(-i64::from(days).saturating_mul(MILLIS_PER_DAY));
                start <= exit && exit <= now
            }
            Period::All => true,
        }
    }
}

/// The body of `GET /api/learning/performance`: the closed trades that exited
/// in `period` before `now`.
///
/// `{period, overall, by_pattern, by_regime, by_indicator, by_head,
/// by_strategy, learning_progress}`: the first five as in the analytics
/// report; `by_strategy.<name>` is the summary of the trades the strategy took
/// plus `taken, skipped, no_decision, champion`, for every strategy with a
/// decision (counts cover the recorded decisions on the period's closed
/// signals); `learning_progress` is the weekly series (`week_start, trades,
/// win_rate, avg_pnl_pct, cumulative_pnl_pct`) of the champion's taken trades,
/// or of every trade without a champion.
pub fn performance(
    trades: &[Trade],
    decisions: &DecisionsBySignal,
    champion: Option<&str>,
    period: Period,
    now: Timestamp,
) -> Value {
    let mut ordered: Vec<&Trade> =
        trades.iter().filter(|trade| period.contains(trade.outcome.exit_ts, now)).collect();
    sort_in_exit_order(&mut ordered);
    let report = build_report(&ordered.iter().map(|&trade| trade.clone()).collect::<Vec<_>>(), 0);
    let ledgers = ledgers(&ordered, decisions);
    let progress = match champion {
        Some(name) => ledgers.get(name).map_or_else(Vec::new, |ledger| weekly(&ledger.taken)),
        None => weekly(&ordered),
    };
    let by_strategy: serde_json::Map<String, Value> = ledgers
        .iter()
        .map(|(&name, ledger)| {
            let mut entry = json!(summarize(&ledger.taken));
            entry["taken"] = json!(ledger.taken.len());
            entry["skipped"] = json!(ledger.skipped);
            entry["no_decision"] = json!(ledger.no_decision);
            entry["champion"] = json!(champion == Some(name));
            (name.to_owned(), entry)
        })
        .collect();
    let Report { overall, by_pattern, by_regime, by_indicator, by_head, .. } = report;
    json!({
        "period": period.to_string(),
        "overall": overall,
        "by_pattern": by_pattern,
        "by_regime": by_regime,
        "by_indicator": by_indicator,
        "by_head": by_head,
        "by_strategy": by_strategy,
        "learning_progress": progress,
    })
}

/// How one strategy decided on a set of closed signals.
#[derive(Default)]
struct Ledger<'a> {
    /// In the order of the trades given.
    taken: Vec<&'a Trade>,
    skipped: usize,
    /// Signals on which its `decide` failed.
    no_decision: usize,
}

/// The ledger of every strategy with a decision anywhere in `decisions`, over
/// the trades given in exit order.
fn ledgers<'a>(ordered: &[&'a Trade], decisions: &'a DecisionsBySignal) -> BTreeMap<&'a str, Ledger<'a>> {
    let mut ledgers: BTreeMap<&str, Ledger> =
        decisions.values().flatten().map(|(name, _)| (name.as_str(), Ledger::default())).collect();
    for &trade in ordered {
        for (name, verdict) in decisions.get(trade.signal.id.as_str()).into_iter().flatten() {
            let ledger = ledgers.entry(name.as_str()).or_default();
            match verdict {
                Some(verdict) if verdict.take => ledger.taken.push(trade),
                Some(_) => ledger.skipped += 1,
                None => ledger.no_decision += 1,
            }
        }
    }
    ledgers
}

/// The UTC day number of the Monday of `day`'s week (day 4, 1970-01-05, was one).
fn monday_of(day: i64) -> i64 {
    day - (day - 4).rem_euclid(7)
}

/// The weekly series of trades given in exit order, empty weeks included.
fn weekly(ordered: &[&Trade]) -> Vec<Value> {
    let mut weeks: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for trade in ordered {
        weeks.entry(monday_of(trade.outcome.exit_ts.utc_day())).or_default().push(trade.outcome.pnl_pct);
    }
    let (Some(&first), Some(&last)) = (weeks.keys().next(), weeks.keys().next_back()) else {
        return Vec::new();
    };
    let mut cumulative = 0.0;
    (first..=last)
        .step_by(7)
        .map(|monday| {
            let returns = weeks.get(&monday).map_or(&[][..], Vec::as_slice);
            // One return at a time, in exit order, so the end of the series
            // equals the equity curve of the analytics summary.
            cumulative = returns.iter().fold(cumulative, |sum, r| sum + r);
            let wins = returns.iter().filter(|&&r| r > 0.0).count();
            json!({
                "week_start": format_utc_day(monday),
                "trades": returns.len(),
                "win_rate": (!returns.is_empty()).then(|| wins as f64 / returns.len() as f64),
                "avg_pnl_pct": mean(returns),
                "cumulative_pnl_pct": cumulative,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use siglearn_plugin_api::{Side, Signal};

    use super::*;
    use crate::analytics::fixtures::{trade, with_signal};
    use crate::strategy::Verdict;

    const DAY: i64 = MILLIS_PER_DAY;
    /// 2024-01-01, a Monday, as a UTC day number.
    const JAN_1_2024: i64 = 19_723;

    /// A one-minute long trade, id `t000`..., exiting `i + 1` minutes into
    /// 2024-01-01 with return `r`, its signal changed by `edit`.
    fn nth(i: usize, r: f64, edit: impl FnOnce(&mut Signal)) -> Trade {
        let exit = JAN_1_2024 * DAY + (i as i64 + 1) * 60_000;
        with_signal(trade(&format!("t{i:03}"), Side::Long, exit - 60_000, exit, r), edit)
    }

    fn exiting_at(id: &str, exit_ms: i64, r: f64) -> Trade {
        trade(id, Side::Long, exit_ms - 1_000, exit_ms, r)
    }

    #[test]
    fn period_parses_days_and_all_and_names_the_accepted_forms() {
        assert_eq!("7d".parse(), Ok(Period::Days(7)));
        assert_eq!(" 30d ".parse(), Ok(Period::Days(30)));
        assert_eq!("ALL".parse(), Ok(Period::All));
        for bad in ["week", "7", "0d", "-3d", ""] {
            let err = bad.parse::<Period>().unwrap_err().to_string();
            assert!(err.contains("7d, 30d, all"), "{err}");
        }
        assert_eq!((Period::Days(7).to_string(), Period::All.to_string()), ("7d".into(), "all".into()));
    }

    #[test]
    fn performance_keeps_the_trades_that_exited_in_the_period() {
        let now = Timestamp(100 * DAY);
        let trades = [
            trade("entered-long-ago", Side::Long, 10 * DAY, 95 * DAY, 1.0),
            exiting_at("a-week-and-a-half-ago", 89 * DAY + DAY / 2, 2.0),
            exiting_at("two-months-ago", 40 * DAY, 3.0),
            exiting_at("after-now", 101 * DAY, 4.0),
        ];
        let decisions = DecisionsBySignal::new();
        let count =
            |period| performance(&trades, &decisions, None, period, now)["overall"]["total_trades"].clone();
        assert_eq!(count(Period::Days(7)), 1);
        assert_eq!(count(Period::Days(30)), 2);
        assert_eq!(count(Period::All), 4);
        assert_eq!(performance(&trades, &decisions, None, Period::Days(7), now)["period"], "7d");
    }

    #[test]
    fn by_strategy_counts_decisions_and_flags_the_champion() {
        let trades = [nth(1, 1.0, |_| {}), nth(2, -1.0, |_| {}), nth(3, 2.0, |_| {})];
        let verdict = |take| Some(Verdict { take, score: 0.0, size: 1.0 });
        let decisions: DecisionsBySignal = HashMap::from([
            ("t001".to_owned(), vec![("a".to_owned(), verdict(true)), ("b".to_owned(), verdict(false))]),
            ("t002".to_owned(), vec![("a".to_owned(), verdict(true)), ("b".to_owned(), None)]),
            ("t003".to_owned(), vec![("a".to_owned(), verdict(false)), ("b".to_owned(), verdict(true))]),
            ("still-open".to_owned(), vec![("c".to_owned(), verdict(true))]),
        ]);
        let json = performance(&trades, &decisions, Some("a"), Period::All, Timestamp(i64::MAX));
        let row = |name: &str| {
            let row = &json["by_strategy"][name];
            let count = |key: &str| row[key].as_u64().unwrap();
            (
                count("taken"),
                count("skipped"),
                count("no_decision"),
                count("total_trades"),
                row["champion"].clone(),
            )
        };
        assert_eq!(row("a"), (2, 1, 0, 2, json!(true)));
        assert_eq!(row("b"), (1, 1, 1, 1, json!(false)));
        assert_eq!(row("c"), (0, 0, 0, 0, json!(false)));
        assert_eq!(json["by_strategy"]["a"]["avg_pnl_pct"], 0.0);
        // Progress follows the champion's taken trades, or every trade without one.
        assert_eq!(json["learning_progress"][0]["trades"], 2);
        let all = performance(&trades, &decisions, None, Period::All, Timestamp(i64::MAX));
        assert_eq!(all["learning_progress"][0]["trades"], 3);
        assert_eq!(all["by_strategy"]["a"]["champion"], false);
    }

    #[test]
    fn weeks_start_on_monday_utc_and_empty_weeks_are_kept() {
        for offset in 0..7 {
            assert_eq!(format_utc_day(monday_of(JAN_1_2024 + offset)), "2024-01-01");
        }
        assert_eq!(format_utc_day(monday_of(JAN_1_2024 + 7)), "2024-01-08");
        assert_eq!(format_utc_day(monday_of(-1)), "1969-12-29");
        let sunday_night = (JAN_1_2024 + 7) * DAY - 1;
        let trades = [
            exiting_at("sunday", sunday_night, 1.0),
            exiting_at("monday", sunday_night + 1, -1.0),
            exiting_at("three-weeks-on", (JAN_1_2024 + 22) * DAY, 2.0),
        ];
        let json = performance(&trades, &HashMap::new(), None, Period::All, Timestamp(0));
        let weeks = json["learning_progress"].as_array().unwrap();
        let column = |key: &str| weeks.iter().map(|week| week[key].clone()).collect::<Vec<_>>();
        assert_eq!(
            column("week_start"),
            [json!("2024-01-01"), json!("2024-01-08"), json!("2024-01-15"), json!("2024-01-22")]
        );
        assert_eq!(column("trades"), [json!(1), json!(1), json!(0), json!(1)]);
        assert_eq!(column("win_rate"), [json!(1.0), json!(0.0), Value::Null, json!(1.0)]);
        assert_eq!(column("cumulative_pnl_pct"), [json!(1.0), json!(0.0), json!(0.0), json!(2.0)]);
    }
}
