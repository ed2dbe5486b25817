//! `siglearn report`: the report of a store.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::analytics::{Report, Trials, build_report, learning};
use crate::store::StoreReader;
use crate::trade::Trade;

#[derive(Debug, Args)]
pub(super) struct ReportArgs {
    /// The SQLite store written by `siglearn replay --db`.
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    report_out: Option<PathBuf>,
}

pub(super) fn run(args: ReportArgs) -> anyhow::Result<()> {
    let reader = StoreReader::open(&args.db)?;
    super::warn_out_of_range(&reader)?;
    let trades = reader.trades_rows()?;
    for bad in &trades.bad {
        errln!("warning: {bad}");
    }
    let trades = trades.read;
    // Signals the store holds open, those today's rules refuse included.
    let open = reader.open_signals_rows().map(|rows| rows.read.len() + rows.bad.len())?;
    let report = with_lineup(build_report(&trades, open), &reader, &trades)?;
    if let Some(path) = &args.report_out {
        std::fs::write(path, report.to_json_pretty() + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.json {
        outln!("{}", report.to_json_pretty());
    } else {
        if let Some(settings) = reader.settings()? {
            outln!("Store {} (outcomes decided with {settings})\n", args.db.display());
        }
        out!("{}", report.render_text());
    }
    Ok(())
}

/// The report with the selection figures of the strategies whose decisions
/// the store holds, deflated for them and their reload and retrain versions.
fn with_lineup(report: Report, reader: &StoreReader, trades: &[Trade]) -> anyhow::Result<Report> {
    let decisions = reader.all_decisions()?;
    let versions = Trials::versions_tried(&reader.versions_by_reason()?);
    let taken: Vec<&Trade> = trades.iter().collect();
    Ok(match learning::lineup_selection(&taken, &decisions, versions) {
        Some(selection) => report.with_lineup(selection),
        None => report,
    })
}
