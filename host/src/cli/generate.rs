//! `siglearn generate`: signals from candles with the built-in generator.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use siglearn_plugin_api::Signal;

use super::{PriceArgs, progress, warn_skipped};
use crate::format::{self, Prices, Series};
use crate::generate::{GeneratorConfig, generate};

#[derive(Debug, Args)]
pub(super) struct GenerateArgs {
    #[command(flatten)]
    prices: PriceArgs,
    /// Where to write the signals (CSV).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[command(flatten)]
    generator: GeneratorArgs,
}

/// The generator's knobs as flags; defaults are the library's.
#[derive(Debug, Clone, Args)]
pub(super) struct GeneratorArgs {
    /// Emit a signal when the mean head vote reaches this size (0..1).
    #[arg(long, default_value_t = GeneratorConfig::default().threshold)]
    threshold: f64,
    /// Take-profit distance in ATRs.
    #[arg(long, default_value_t = GeneratorConfig::default().tp_atr)]
    tp_atr: f64,
    /// Stop-loss distance in ATRs.
    #[arg(long, default_value_t = GeneratorConfig::default().sl_atr)]
    sl_atr: f64,
    /// Longest holding time, in bars of the series.
    #[arg(long, default_value_t = GeneratorConfig::default().hold_bars)]
    hold_bars: u32,
    /// Bars to wait after a signal before the next one on the same symbol.
    #[arg(long, default_value_t = GeneratorConfig::default().cooldown_bars)]
    cooldown_bars: u32,
}

impl GeneratorArgs {
    pub(super) fn config(&self) -> anyhow::Result<GeneratorConfig> {
        let config = GeneratorConfig {
            threshold: self.threshold,
            tp_atr: self.tp_atr,
            sl_atr: self.sl_atr,
            hold_bars: self.hold_bars,
            cooldown_bars: self.cooldown_bars,
        };
        config.validate().map_err(anyhow::Error::msg)?;
        Ok(config)
    }
}

pub(super) fn run(args: GenerateArgs) -> anyhow::Result<()> {
    if args.prices.candles.is_empty() {
        bail!("no candles: pass --candles FILE...");
    }
    let config = args.generator.config()?;
    let (series, skipped) = format::read_prices(&args.prices.candles, &[], args.prices.read_options())
        .context("reading candles")?;
    warn_skipped(&skipped);
    let signals = generate_all(&series, &config)?;
    format::write_signals(&args.out, &signals)?;
    outln!("Wrote {} signals for {} symbols to {}", signals.len(), series.len(), args.out.display());
    if signals.is_empty() {
        errln!("warning: no mean vote reached --threshold {}; try a lower one", config.threshold);
    }
    Ok(())
}

/// Signals for every series, ordered by entry time then symbol.
pub(super) fn generate_all(series: &[Series], config: &GeneratorConfig) -> anyhow::Result<Vec<Signal>> {
    let bar = progress::bar(series.iter().map(|s| s.prices.len() as u64).sum(), "generate");
    let mut signals = Vec::new();
    for one in series {
        let Prices::Bars(bars) = &one.prices else {
            bail!("{} has ticks; the generator needs candles", one.source.display());
        };
        signals.extend(generate(&one.symbol, bars, config));
        bar.inc(bars.len() as u64);
    }
    bar.finish_and_clear();
    signals.sort_by(|a, b| (a.entry_ts, &a.symbol).cmp(&(b.entry_ts, &b.symbol)));
    Ok(signals)
}
