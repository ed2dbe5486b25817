//! The plain-text rendering of a [`Report`] for a terminal: an overall block
//! of `label  value` lines, then one compact table per breakdown.
//!
//! Undefined values print as `-`. Rates print as percentages; returns with 4
//! decimals because a typical trade moves well under 1%; ratios with 2 or 3.

use siglearn_plugin_api::printable;

use super::{Report, Selection, Summary, Trials};

impl Report {
    /// The report as aligned plain text, ending with a newline.
    pub fn render_text(&self) -> String {
        let mut out = overall_block(&self.overall, self.open_signals);
        let groups = [
            (
                "By symbol",
                "symbol",
                self.by_symbol.iter().map(|(key, s)| (key.to_string(), s)).collect::<Vec<_>>(),
            ),
            ("By side", "side", self.by_side.iter().map(|(key, s)| (key.to_string(), s)).collect()),
            ("By pattern", "pattern", self.by_pattern.iter().map(|(key, s)| (key.clone(), s)).collect()),
            ("By regime", "regime", self.by_regime.iter().map(|(key, s)| (key.clone(), s)).collect()),
        ];
        for (title, key, rows) in groups {
            let header = [key, "trades", "win%", "avg%", "PF", "maxDD%", "sharpe/trade"];
            let rows = rows.into_iter().map(|(key, summary)| summary_row(key, summary)).collect();
            table(&mut out, title, &header, rows);
        }
        let heads = self.by_head.iter().map(|(head, stats)| {
            vec![
                head.clone(),
                stats.agree.count.to_string(),
                percent(stats.agree.win_rate),
                stats.disagree.count.to_string(),
                percent(stats.disagree.win_rate),
                number(stats.edge_pct, 4),
                interval(stats.edge_ci_low, stats.edge_ci_high, 4),
                number(stats.p_value, 3),
            ]
        });
        let header = [
            "head",
            "agree n",
            "agree win%",
            "disagree n",
            "disagree win%",
            "edge%",
            "95% CI (clustered)",
            "p",
        ];
        table(&mut out, "By head", &header, heads.collect());
        let indicators = self.by_indicator.iter().map(|(name, stats)| {
            vec![
                name.clone(),
                stats.n.to_string(),
                number(stats.ic, 3),
                interval(stats.ci_low, stats.ci_high, 3),
                number(stats.design_effect, 2),
                number(stats.p_value, 3),
            ]
        });
        let header = ["indicator", "n", "IC", "95% CI (clustered)", "deff", "p"];
        table(&mut out, "By indicator", &header, indicators.collect());
        if let Some(lineup) = &self.lineup {
            lineup_block(&mut out, lineup);
        }
        out
    }
}

/// Each strategy's PSR and DSR, then the trials and the PBO.
fn lineup_block(out: &mut String, lineup: &Selection) {
    let rows = lineup.strategies.iter().map(|(name, figures)| {
        vec![
            name.clone(),
            figures.days.to_string(),
            number(figures.sharpe_per_day, 4),
            number(figures.psr, 3),
            number(figures.dsr, 3),
        ]
    });
    let header = ["strategy", "days", "sharpe/day", "PSR", "DSR"];
    table(
        out,
        "Selection (PSR: P[true Sharpe > 0]; DSR: the same against the luck of N trials)",
        &header,
        rows.collect(),
    );
    let Trials { strategies, versions, parameter_sets, total } = lineup.trials;
    out.push_str(&format!(
        "  N = {total} trials ({strategies} strategies, {versions} reload/retrain versions, {parameter_sets} \
         parameter sets); variance of their daily Sharpe ratios {}\n",
        number(lineup.sharpe_variance, 5)
    ));
    match (&lineup.pbo, &lineup.pbo_note) {
        (Some(pbo), _) => out.push_str(&format!(
            "  PBO {:.3}: CSCV over {} days in {} partitions ({} splits)\n",
            pbo.probability, pbo.blocks, pbo.partitions, pbo.splits
        )),
        (None, Some(note)) => out.push_str(&format!("  PBO -: {note}\n")),
        (None, None) => out.push_str("  PBO -\n"),
    }
}

/// `[low, high]`, or `-` when undefined.
fn interval(low: Option<f64>, high: Option<f64>, digits: usize) -> String {
    match (low, high) {
        (Some(low), Some(high)) => format!("[{low:.digits$}, {high:.digits$}]"),
        _ => "-".to_owned(),
    }
}

fn overall_block(summary: &Summary, open_signals: usize) -> String {
    let lines = [
        ("trades", summary.total_trades.to_string()),
        ("wins", summary.wins.to_string()),
        ("losses", summary.losses.to_string()),
        ("win rate %", percent(summary.win_rate)),
        ("avg pnl %", number(summary.avg_pnl_pct, 4)),
        ("expectancy %", number(summary.expectancy_pct, 4)),
        ("profit factor", number(summary.profit_factor, 2)),
        ("max drawdown %", number(summary.max_drawdown_pct, 4)),
        ("best streak", summary.best_streak.to_string()),
        ("worst streak", summary.worst_streak.to_string()),
        ("sharpe / trade", number(summary.sharpe_per_trade, 3)),
        ("sharpe daily", number(summary.sharpe_daily, 2)),
        ("sortino daily", number(summary.sortino_daily, 2)),
        ("PSR daily", number(summary.psr_daily, 3)),
        ("open signals", open_signals.to_string()),
    ];
    let width = lines.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    let mut out = String::from("Overall\n");
    for (label, value) in lines {
        out.push_str(&format!("  {label:<width$}  {value}\n"));
    }
    out
}

fn summary_row(key: String, summary: &Summary) -> Vec<String> {
    vec![
        key,
        summary.total_trades.to_string(),
        percent(summary.win_rate),
        number(summary.avg_pnl_pct, 4),
        number(summary.profit_factor, 2),
        number(summary.max_drawdown_pct, 2),
        number(summary.sharpe_per_trade, 3),
    ]
}

/// Appends a titled table: the first column left-aligned, the others right.
/// A name a store took before such names were refused may hold a control
/// character: it is shown escaped (`\u{1b}`), never sent to the terminal.
fn table(out: &mut String, title: &str, header: &[&str], rows: Vec<Vec<String>>) {
    out.push_str(&format!("\n{title}\n"));
    if rows.is_empty() {
        out.push_str("  (none)\n");
        return;
    }
    let rows: Vec<Vec<String>> =
        rows.into_iter().map(|row| row.iter().map(|cell| printable(cell).into_owned()).collect()).collect();
    let header: Vec<String> = header.iter().map(|cell| (*cell).to_owned()).collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|column| {
            let cells = rows.iter().chain([&header]).filter_map(|row| row.get(column));
            cells.map(|cell| cell.chars().count()).max().unwrap_or(0)
        })
        .collect();
    for row in [&header].into_iter().chain(&rows) {
        let mut line = String::from(" ");
        for (column, (cell, &width)) in row.iter().zip(&widths).enumerate() {
            if column == 0 {
                line.push_str(&format!(" {cell:<width$}"));
            } else {
                line.push_str(&format!("  {cell:>width$}"));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

fn number(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_owned(), |value| format!("{value:.decimals$}"))
}

/// A rate in [0, 1] as a percentage with 1 decimal.
fn percent(rate: Option<f64>) -> String {
    number(rate.map(|rate| rate * 100.0), 1)
}

#[cfg(test)]
mod tests {
    use siglearn_plugin_api::Side;

    use crate::analytics::build_report;
    use crate::analytics::fixtures::{trade, with_signal};

    #[test]
    fn an_empty_report_prints_dashes_and_empty_sections() {
        let text = build_report(&[], 2).render_text();
        assert!(text.starts_with("Overall\n  trades          0\n"), "{text}");
        assert!(text.contains("  win rate %      -\n"), "{text}");
        assert!(text.contains("  open signals    2\n"), "{text}");
        assert!(text.contains("\nBy symbol\n  (none)\n"), "{text}");
        assert!(text.ends_with("\nBy indicator\n  (none)\n"), "{text}");
    }

    #[test]
    fn tables_align_columns_and_round_numbers() {
        let trades = [
            with_signal(trade("a", Side::Long, 0, 1_000, 1.5), |signal| {
                signal.heads.insert("trend", 1.0);
                signal.indicators.insert("rsi", 30.0);
            }),
            trade("b", Side::Short, 0, 2_000, -0.5),
        ];
        let text = build_report(&trades, 0).render_text();
        let expected_side = "\nBy side\n  side   trades   win%     avg%    PF  maxDD%  sharpe/trade\n  \
                             long        1  100.0   1.5000     -    0.00             -\n  \
                             short       1    0.0  -0.5000  0.00    0.50             -\n";
        assert!(text.contains(expected_side), "{text}");
        assert!(
            text.contains(
                "  trend        1       100.0           0              -      -                   -  -\n"
            ),
            "{text}"
        );
        assert!(text.contains("  rsi        1   -                   -     -  -\n"), "{text}");
    }

    #[test]
    fn a_name_holding_control_characters_is_printed_escaped() {
        let trades = [with_signal(trade("a", Side::Long, 0, 1_000, 1.5), |signal| {
            signal.symbol = siglearn_plugin_api::Symbol::new("EVIL\u{1b}[2J");
            signal.pattern = Some("pat\u{1b}]0;pwned\u{7}\rOVER".to_owned());
            signal.heads.insert("h\n", 1.0);
        })];
        let text = build_report(&trades, 0).render_text();
        assert!(!text.contains(['\u{1b}', '\u{7}', '\r']), "{text:?}");
        assert!(text.contains("\n  EVIL\\u{1b}[2J       1  100.0"), "{text}");
        assert!(text.contains("\n  pat\\u{1b}]0;pwned\\u{7}\\u{d}OVER "), "{text}");
        assert!(text.contains("\n  h\\u{a} "), "a newline in a name starts no line: {text}");
    }
}
