//! `siglearn report`: the report of a store.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::analytics::build_report;
use crate::store::StoreReader;

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
    let reader =
        StoreReader::open(&args.db).with_context(|| format!("reading store {}", args.db.display()))?;
    let trades = reader.trades()?;
    let open = reader.open_signals()?.len();
    let report = build_report(&trades, open);
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
