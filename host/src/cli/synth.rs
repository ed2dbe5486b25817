//! `siglearn synth`: candles and signals with a planted edge, to check that
//! a learning strategy learns the right thing.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use siglearn_plugin_api::Timestamp;

use crate::format;
use crate::synth::{SynthConfig, synthesize};
use crate::timestamp::parse_timestamp;

#[derive(Debug, Args)]
pub(super) struct SynthArgs {
    /// Where to write the signals (CSV).
    #[arg(long, value_name = "FILE")]
    signals_out: PathBuf,
    /// Where to write the candles (CSV).
    #[arg(long, value_name = "FILE")]
    candles_out: PathBuf,
    /// Seed of every random draw; the same seed gives the same files.
    #[arg(long, default_value_t = SynthConfig::default().seed)]
    seed: u64,
    /// Number of symbols (SYN1, SYN2, ...).
    #[arg(long, default_value_t = SynthConfig::default().symbols)]
    symbols: usize,
    /// Signals per symbol.
    #[arg(long, default_value_t = SynthConfig::default().signals_per_symbol)]
    signals_per_symbol: usize,
    /// Model heads voting on each signal (h1..hH).
    #[arg(long, default_value_t = SynthConfig::default().heads)]
    heads: usize,
    /// How many heads carry information about the outcome (chosen by the seed).
    #[arg(long, default_value_t = SynthConfig::default().informative_heads)]
    informative_heads: usize,
    /// Indicators attached to each signal (x1..xN).
    #[arg(long, default_value_t = SynthConfig::default().indicators)]
    indicators: usize,
    /// How many indicators carry information (chosen by the seed).
    #[arg(long, default_value_t = SynthConfig::default().informative_indicators)]
    informative_indicators: usize,
    /// How strongly informative votes move the take-profit chance:
    /// P(TP) = clamp(0.35 + edge * z, 0.05, 0.95), z = mean informative vote along the side.
    #[arg(long, default_value_t = SynthConfig::default().edge)]
    edge: f64,
    /// Length of one bar in minutes.
    #[arg(long, default_value_t = SynthConfig::default().bar_minutes)]
    bar_minutes: i64,
    /// Open time of the first bar, ISO-8601 or epoch milliseconds [default: 2024-01-01T00:00:00Z].
    #[arg(long, value_name = "TIME", value_parser = parse_start)]
    start: Option<Timestamp>,
}

fn parse_start(text: &str) -> Result<Timestamp, String> {
    parse_timestamp(text).map_err(|error| error.to_string())
}

impl SynthArgs {
    fn config(&self) -> anyhow::Result<SynthConfig> {
        let defaults = SynthConfig::default();
        let config = SynthConfig {
            seed: self.seed,
            symbols: self.symbols,
            signals_per_symbol: self.signals_per_symbol,
            heads: self.heads,
            informative_heads: self.informative_heads,
            indicators: self.indicators,
            informative_indicators: self.informative_indicators,
            edge: self.edge,
            bar_minutes: self.bar_minutes,
            start: self.start.unwrap_or(defaults.start),
        };
        config.validate().map_err(anyhow::Error::msg)?;
        Ok(config)
    }
}

pub(super) fn run(args: SynthArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let synth = synthesize(&config);
    // Data past the range every reader takes would be refused by `replay`:
    // refused here, before anything is written.
    let last_bar =
        synth.series.iter().filter_map(|s| s.prices.get(s.prices.len().checked_sub(1)?)).map(|p| p.ts());
    let last_exit = synth.signals.iter().map(|s| s.entry_ts + s.max_hold_ms.unwrap_or(0));
    if let Some(last) = last_bar.chain(last_exit).max().filter(|&last| last >= crate::timestamp::END) {
        let over = last.as_millis() - crate::timestamp::END.as_millis();
        let day = 86_400_000;
        let latest_start = Timestamp(config.start.as_millis() - (over / day + 1) * day);
        anyhow::bail!(
            "the synthetic data would run to {}, past {} where siglearn stops reading times; \
             give --start {} or earlier (or fewer signals per symbol)",
            crate::timestamp::format_timestamp(last),
            crate::timestamp::format_timestamp(crate::timestamp::END),
            crate::timestamp::format_timestamp(latest_start)
        );
    }
    format::write_candles(&args.candles_out, &synth.series).context("writing candles")?;
    format::write_signals(&args.signals_out, &synth.signals).context("writing signals")?;
    let candles: usize = synth.series.iter().map(|s| s.prices.len()).sum();
    let wins = synth.planted_win.iter().filter(|&&win| win).count();
    outln!(
        "Wrote {} candles of {} symbols to {} and {} signals to {}",
        candles,
        synth.series.len(),
        args.candles_out.display(),
        synth.signals.len(),
        args.signals_out.display()
    );
    outln!("Informative heads:      {}", list(&synth.informative_heads));
    outln!("Noise heads:            {}", list(&synth.noise_heads));
    outln!("Informative indicators: {}", list(&synth.informative_indicators));
    outln!("Noise indicators:       {}", list(&synth.noise_indicators));
    outln!(
        "Planted: {wins} take-profits, {} stop-losses ({:.1}% wins, seed {})",
        synth.signals.len() - wins,
        100.0 * wins as f64 / synth.signals.len().max(1) as f64,
        config.seed
    );
    outln!(
        "Check it: siglearn replay --candles {} --signals {}",
        args.candles_out.display(),
        args.signals_out.display()
    );
    Ok(())
}

/// Names separated by commas, or `(none)`.
fn list(names: &[String]) -> String {
    if names.is_empty() { "(none)".to_owned() } else { names.join(", ") }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use siglearn_plugin_api::OutcomeKind;

    use super::*;
    use crate::engine::{Engine, EngineConfig};
    use crate::format::ReadOptions;
    use crate::replay::replay;

    /// Parses `synth` flags the way the command line does.
    #[derive(Debug, Parser)]
    struct Command {
        #[command(flatten)]
        args: SynthArgs,
    }

    #[test]
    fn synthetic_data_that_would_run_past_2100_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let (candles, signals) = (dir.path().join("c.csv"), dir.path().join("s.csv"));
        let flags = |start: &str| {
            Command::parse_from([
                "synth".as_ref(),
                "--candles-out".as_ref(),
                candles.as_os_str(),
                "--signals-out".as_ref(),
                signals.as_os_str(),
                "--start".as_ref(),
                std::ffi::OsStr::new(start),
            ])
            .args
        };
        let error = run(flags("2099-12-31")).unwrap_err().to_string();
        assert!(error.contains("past 2100-01-01") && error.contains("give --start"), "{error}");
        assert!(!candles.exists() && !signals.exists());
        // The start it suggests is taken, and what it writes reads back.
        let suggested = error.split("give --start ").nth(1).unwrap().split(' ').next().unwrap().to_owned();
        run(flags(&suggested)).unwrap();
        let (series, _) =
            format::read_prices(std::slice::from_ref(&candles), &[], ReadOptions::default()).unwrap();
        assert!(!series.is_empty());
        format::read_signals(&signals, ReadOptions::default()).unwrap();
    }

    #[test]
    fn synth_writes_candles_and_signals_that_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let (candles, signals) = (dir.path().join("c.csv"), dir.path().join("s.csv"));
        let command = Command::parse_from([
            "synth".as_ref(),
            "--candles-out".as_ref(),
            candles.as_os_str(),
            "--signals-out".as_ref(),
            signals.as_os_str(),
            "--signals-per-symbol=50".as_ref(),
            "--symbols=2".as_ref(),
            "--start=2020-06-01".as_ref(),
        ]);
        run(command.args).unwrap();
        let (series, _) = format::read_prices(&[candles], &[], ReadOptions::default()).unwrap();
        let file = format::read_signals(&signals, ReadOptions::default()).unwrap();
        assert_eq!((series.len(), file.signals.len()), (2, 100));
        assert_eq!(series[0].prices.get(0).unwrap().ts(), parse_timestamp("2020-06-01").unwrap());
        // The files decide the same clean outcomes as the data in memory.
        let result =
            replay(&mut Engine::new(EngineConfig::default()), &series, file.signals, None, |_| {}).unwrap();
        assert!(result.open.is_empty());
        assert_eq!(result.trades.len(), 100);
        assert!(
            result.trades.iter().all(|t| !t.outcome.ambiguous && t.outcome.kind != OutcomeKind::TimeExit)
        );
    }

    #[test]
    fn synth_refuses_a_bad_config_naming_the_fields() {
        let command =
            Command::parse_from(["synth", "--candles-out=c", "--signals-out=s", "--heads=2", "--edge=3"]);
        let message = run(command.args).unwrap_err().to_string();
        assert!(message.contains("informative_heads") && message.contains("edge"), "{message}");
    }
}
