//! Generator behaviour on a synthetic series built here: a zig-zag uptrend
//! (two bars up, one down) for 120 hourly bars, then a zig-zag crash.
//!
//! On clean trends the three mean-reversion heads vote against the other six,
//! so the mean vote stays near ±0.2; the tests use a threshold of 0.15.

use siglearn_plugin_api::Symbol;

use super::*;

const HOUR: i64 = 3_600_000;
const CRASH_FROM: usize = 120;

fn series() -> Vec<Bar> {
    let mut bars = Vec::new();
    let mut close: f64 = 100.0;
    for t in 0..200 {
        let step = match (t < CRASH_FROM, t % 3 == 2) {
            (true, false) => 1.0,
            (true, true) => -0.4,
            (false, false) => -2.5,
            (false, true) => 0.6,
        };
        let open = close;
        close += step;
        let volume = if step > 0.0 { 150.0 } else { 100.0 };
        let (high, low) = (open.max(close) + 0.3, open.min(close) - 0.3);
        bars.push(Bar { ts: Timestamp(t as i64 * HOUR), open, high, low, close, volume });
    }
    bars
}

fn symbol() -> Symbol {
    Symbol::new("TEST-USD")
}

fn config(threshold: f64) -> GeneratorConfig {
    GeneratorConfig { threshold, ..GeneratorConfig::default() }
}

/// The bar a signal was decided on: the one before its entry bar.
fn decided_on(signal: &Signal) -> usize {
    (signal.entry_ts.as_millis() / HOUR) as usize - 1
}

#[test]
fn uptrend_gives_longs_and_crash_gives_shorts() {
    let signals = generate(&symbol(), &series(), &config(0.15));
    let (up, down): (Vec<_>, Vec<_>) = signals.iter().partition(|signal| decided_on(signal) < CRASH_FROM);
    assert!(up.len() > 20 && up.iter().all(|signal| signal.side == Side::Long), "{up:?}");
    let settled: Vec<_> = down.iter().filter(|signal| decided_on(signal) >= CRASH_FROM + 10).collect();
    assert!(settled.len() > 20 && settled.iter().all(|signal| signal.side == Side::Short));
}

/// [`series`] with every open 0.1 above the previous close: a gap at each
/// bar, within the bar's range.
fn gapped() -> Vec<Bar> {
    series().into_iter().map(|bar| Bar { open: bar.open + 0.1, ..bar }).collect()
}

#[test]
fn every_field_follows_the_spec() {
    let bars = gapped();
    let config =
        GeneratorConfig { threshold: 0.15, tp_atr: 2.5, sl_atr: 1.5, hold_bars: 10, cooldown_bars: 0 };
    let signals = generate(&symbol(), &bars, &config);
    assert!(!signals.is_empty());

    // An independent pass over the same bars for ATR and earlier ATR% values.
    let mut set = IndicatorSet::new();
    let mut snapshots = Vec::new();
    let mut atr_pcts = Vec::new();
    for bar in &bars {
        snapshots.push(set.update(bar));
        atr_pcts.push(set.atr_pct());
    }

    for signal in &signals {
        assert_eq!(signal.validate(), Ok(()), "{signal:?}");
        let t = decided_on(signal);
        let at = snapshots[t].unwrap();
        assert_eq!(signal.entry_ts, bars[t + 1].ts);
        assert_eq!(signal.id.as_str(), format!("TEST-USD@{}", format_timestamp(bars[t + 1].ts)));
        // Filled at the open of the entry bar, not at the close decided on.
        assert_eq!(signal.entry_price, bars[t + 1].open);
        assert_ne!(signal.entry_price, bars[t].close);
        let sign = signal.side.sign();
        assert!((signal.take_profit.unwrap() - signal.entry_price - sign * 2.5 * at.atr).abs() < 1e-9);
        assert!((signal.entry_price - signal.stop_loss.unwrap() - sign * 1.5 * at.atr).abs() < 1e-9);
        assert_eq!(signal.max_hold_ms, Some(10 * HOUR));

        let mean = signal.heads.values().sum::<f64>() / 9.0;
        assert_eq!(signal.heads.len(), 9);
        assert!((signal.confidence.unwrap() - mean.abs()).abs() < 1e-12);
        assert_eq!(sign, mean.signum());

        let names: Vec<_> = signal.indicators.names().map(|name| &**name).collect();
        let mut expected = [
            "ema_gap_pct",
            "rsi",
            "macd_hist",
            "bb_pct_b",
            "stoch_k",
            "adx",
            "roc",
            "obv_slope",
            "donchian_pos",
            "atr_pct",
        ];
        expected.sort_unstable();
        assert_eq!(names, expected);

        let mut earlier: Vec<f64> = atr_pcts[t.saturating_sub(100)..t].iter().flatten().copied().collect();
        let high_vol = median(&mut earlier).is_some_and(|median| at.atr_pct() > median);
        let trend = if at.adx.adx >= 25.0 { "trend" } else { "range" };
        let vol = if high_vol { "high_vol" } else { "low_vol" };
        assert_eq!(signal.regime.as_deref(), Some(format!("{trend}_{vol}").as_str()));
    }
    // In the uptrend, the trend heads (EMA and ADX both near +1) agree most.
    assert_eq!(signals[0].pattern.as_deref(), Some("trend"));
}

#[test]
fn nothing_is_decided_before_every_indicator_has_warmed_up() {
    let bars = series();
    let signals = generate(&symbol(), &bars, &config(0.01));
    // MACD(12, 26, 9) is the last to warm up, on bar 34 (index 33).
    assert_eq!(decided_on(&signals[0]), 33);
    assert!(generate(&symbol(), &bars[..33], &config(0.01)).is_empty());
}

#[test]
fn the_last_bar_never_yields_a_signal() {
    let bars = series();
    // Bar 33 is the first warmed-up bar; as the last bar it has no next open.
    assert!(generate(&symbol(), &bars[..34], &config(0.01)).is_empty());
    let signals = generate(&symbol(), &bars, &config(0.01));
    assert!(signals.iter().all(|signal| signal.entry_ts <= bars[bars.len() - 1].ts));
}

#[test]
fn cooldown_skips_bars_after_each_signal() {
    let bars = series();
    let config = GeneratorConfig { threshold: 0.15, cooldown_bars: 5, ..GeneratorConfig::default() };
    let cooled = generate(&symbol(), &bars, &config);
    assert!(cooled.len() > 5);
    for pair in cooled.windows(2) {
        assert!(decided_on(&pair[1]) - decided_on(&pair[0]) >= 6, "{} {}", pair[0].id, pair[1].id);
    }
    let eager = generate(&symbol(), &bars, &GeneratorConfig { cooldown_bars: 0, ..config });
    assert!(eager.len() > cooled.len());
}

#[test]
fn hold_uses_the_median_gap_between_bars() {
    let mut bars = series();
    bars.remove(50); // one missing hour does not change the interval
    let signals = generate(&symbol(), &bars, &config(0.15));
    assert!(signals.iter().all(|signal| signal.max_hold_ms == Some(24 * HOUR)));
    let at = |gaps: &[i64]| {
        let mut ts = 0;
        let mut bars =
            vec![Bar { ts: Timestamp(0), open: 1.0, high: 1.0, low: 1.0, close: 1.0, volume: 0.0 }];
        for gap in gaps {
            ts += gap;
            bars.push(Bar { ts: Timestamp(ts), ..bars[0] });
        }
        bar_interval(&bars)
    };
    assert_eq!(at(&[60, 60, 300, 60]), Some(60));
    assert_eq!(at(&[60, 120]), Some(90));
    assert_eq!(at(&[]), None);
}

#[test]
fn exits_at_or_below_zero_are_skipped() {
    // A take-profit 100 ATRs below a crash-phase price is negative: no shorts.
    let config = GeneratorConfig { threshold: 0.15, tp_atr: 100.0, ..GeneratorConfig::default() };
    let signals = generate(&symbol(), &series(), &config);
    assert!(!signals.is_empty());
    assert!(signals.iter().all(|signal| signal.side == Side::Long && signal.validate().is_ok()));
}

#[test]
fn flat_prices_give_no_signals() {
    let flat: Vec<Bar> = (0..100)
        .map(|t| Bar { ts: Timestamp(t * HOUR), open: 5.0, high: 5.0, low: 5.0, close: 5.0, volume: 1.0 })
        .collect();
    assert!(generate(&symbol(), &flat, &config(0.01)).is_empty());
}

#[test]
fn same_input_gives_the_same_output() {
    let bars = series();
    assert_eq!(generate(&symbol(), &bars, &config(0.15)), generate(&symbol(), &bars, &config(0.15)));
}

#[test]
fn an_invalid_config_gives_no_signals() {
    let config = GeneratorConfig { hold_bars: 0, ..config(0.01) };
    assert!(config.validate().unwrap_err().contains("hold_bars"));
    assert!(generate(&symbol(), &series(), &config).is_empty());
}

/// Counts signals on the shared candle files (`symbol,ts,open,high,low,close,volume`).
/// Run with `cargo test -p siglearn --lib generate -- --ignored --nocapture`;
/// `SIGLEARN_DATA_DIR` overrides the directory.
#[test]
#[ignore = "reads the shared candle files, which are not part of the repository"]
fn count_signals_on_shared_candles() {
    let dir = std::env::var("SIGLEARN_DATA_DIR").unwrap_or_else(|_| "/work/shared/data".to_owned());
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|entry| entry.unwrap().path()).collect();
    files.sort();
    let thresholds = [0.35, 0.3, 0.25, 0.2, 0.15, 0.12, 0.11, 0.1];
    let mut totals = [0usize; 8];
    let (mut candles, mut dropped) = (0, 0);
    for path in files.iter().filter(|path| path.extension().is_some_and(|ext| ext == "csv")) {
        let text = std::fs::read_to_string(path).unwrap();
        let mut name = String::new();
        let mut bars = Vec::new();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split(',').collect();
            let number = |i: usize| fields.get(i).and_then(|field| field.trim().parse::<f64>().ok());
            let ts = fields.get(1).and_then(|field| crate::timestamp::parse_timestamp(field).ok());
            let parsed = (|| {
                let bar = Bar {
                    ts: ts?,
                    open: number(2)?,
                    high: number(3)?,
                    low: number(4)?,
                    close: number(5)?,
                    volume: number(6)?,
                };
                bar.validate().ok().map(|()| bar)
            })();
            candles += 1;
            match parsed {
                Some(bar) => bars.push(bar),
                None => dropped += 1,
            }
            name = fields[0].to_owned();
        }
        bars.sort_by_key(|bar| bar.ts);
        let symbol = Symbol::new(name.as_str());
        let counts = thresholds.map(|threshold| {
            let signals = generate(&symbol, &bars, &config(threshold));
            assert!(signals.iter().all(|signal| signal.validate().is_ok()));
            signals.len()
        });
        for (total, count) in totals.iter_mut().zip(counts) {
            *total += count;
        }
        println!("{:<28} {:>6} bars  {counts:?}", path.file_name().unwrap().to_string_lossy(), bars.len());
    }
    println!("thresholds {thresholds:?}");
    println!("all files: {candles} candles ({dropped} invalid, skipped), signals {totals:?}");
}
