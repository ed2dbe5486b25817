//! `GET /api/learning/performance`: the period's closed trades, each
//! strategy's ledger and the champion's weekly progress.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use siglearn_plugin_api::Timestamp;

use super::period::Period;
use super::weekly::weekly;
use crate::analytics::pbo::DEFAULT_PARTITIONS;
use crate::analytics::{Report, Selection, Trials, build_report, sort_in_exit_order, summarize};
use crate::store::DecisionsBySignal;
use crate::trade::Trade;

/// The body of `GET /api/learning/performance`: the closed trades that exited
/// in `period` before `now`.
///
/// `{period, overall, by_pattern, by_regime, by_indicator, by_head,
/// by_strategy, selection, learning_progress}`: the first five as in the
/// analytics report; `by_strategy.<name>` is the summary of the trades the
/// strategy took (with `psr_daily`) plus `dsr, taken, skipped, no_decision,
/// champion`, for every strategy with a decision (counts cover the recorded
/// decisions on the period's closed signals); `selection` is the report's
/// `lineup` (trials, PBO) over those ledgers, deflated for the strategies and
/// `versions_tried` more trials, `null` without strategies;
/// `learning_progress` is the weekly series (`week_start, trades, win_rate,
/// avg_pnl_pct, cumulative_pnl_pct`) of the champion's taken trades, or of
/// every trade without a champion.
pub fn performance(
    trades: &[Trade],
    decisions: &DecisionsBySignal,
    champion: Option<&str>,
    period: Period,
    now: Timestamp,
    versions_tried: usize,
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
    let selection = selection_of(&ledgers, versions_tried);
    let by_strategy: serde_json::Map<String, Value> = ledgers
        .iter()
        .map(|(&name, ledger)| {
            let mut entry = json!(summarize(&ledger.taken));
            let figures = selection.as_ref().and_then(|selection| selection.strategies.get(name));
            entry["dsr"] = json!(figures.and_then(|figures| figures.dsr));
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
        "selection": selection,
        "learning_progress": progress,
    })
}

/// The selection figures of the strategies that decided on `trades` (any
/// order), deflated for them and `versions_tried` more trials; `None` without
/// a recorded decision.
pub fn lineup_selection(
    trades: &[&Trade],
    decisions: &DecisionsBySignal,
    versions_tried: usize,
) -> Option<Selection> {
    let mut ordered = trades.to_vec();
    sort_in_exit_order(&mut ordered);
    selection_of(&ledgers(&ordered, decisions), versions_tried)
}

fn selection_of(ledgers: &BTreeMap<&str, Ledger<'_>>, versions_tried: usize) -> Option<Selection> {
    if ledgers.is_empty() {
        return None;
    }
    let taken: Vec<(String, Vec<&Trade>)> =
        ledgers.iter().map(|(name, ledger)| ((*name).to_owned(), ledger.taken.clone())).collect();
    Some(Selection::of(&taken, Trials::new(taken.len(), versions_tried, 0), DEFAULT_PARTITIONS))
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use siglearn_plugin_api::Side;

    use super::super::fixtures::{DAY, JAN_1_2024, exiting_at, nth};
    use super::super::weekly::monday_of;
    use super::*;
    use crate::analytics::fixtures::trade;
    use crate::strategy::Verdict;
    use crate::timestamp::format_utc_day;

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
        let count = |period| {
            performance(&trades, &decisions, None, period, now, 0)["overall"]["total_trades"].clone()
        };
        assert_eq!(count(Period::Days(7)), 1);
        assert_eq!(count(Period::Days(30)), 2);
        assert_eq!(count(Period::All), 4);
        assert_eq!(performance(&trades, &decisions, None, Period::Days(7), now, 0)["period"], "7d");
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
        let json = performance(&trades, &decisions, Some("a"), Period::All, Timestamp(i64::MAX), 0);
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
        // Three strategies decided and two more versions were tried: N = 5.
        let tried = performance(&trades, &decisions, Some("a"), Period::All, Timestamp(i64::MAX), 2);
        assert_eq!(
            tried["selection"]["trials"],
            json!({"strategies": 3, "versions": 2, "parameter_sets": 0, "total": 5})
        );
        assert!(
            tried["by_strategy"]["a"].get("dsr").is_some()
                && tried["by_strategy"]["a"].get("psr_daily").is_some()
        );
        let all = performance(&trades, &decisions, None, Period::All, Timestamp(i64::MAX), 0);
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
        let json = performance(&trades, &HashMap::new(), None, Period::All, Timestamp(0), 0);
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

    #[test]
    fn weeks_outside_1970_to_2100_stay_out_of_the_weekly_series() {
        // An exit an older version read from nanoseconds: ~20 billion days on.
        let trades = [
            exiting_at("in-range", JAN_1_2024 * DAY, 1.0),
            exiting_at("nanoseconds", 1_714_557_600_000_000_000, 2.0),
        ];
        let json = performance(&trades, &HashMap::new(), None, Period::All, Timestamp(i64::MAX), 0);
        let weeks = json["learning_progress"].as_array().unwrap();
        assert_eq!(weeks.len(), 1, "{weeks:?}");
        assert_eq!(weeks[0]["week_start"], "2024-01-01");
    }
}
