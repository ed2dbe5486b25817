//! The planted data as a spec: valid, reproducible, decided by the monitor
//! exactly as planted, and informative only where it says so.

use std::collections::HashMap;

use siglearn_plugin_api::OutcomeKind;

use super::*;
use crate::analytics::build_report;
use crate::engine::{Engine, EngineConfig};
use crate::replay::{ReplayResult, replay};

fn replayed(synth: &Synth) -> ReplayResult {
    replay(&mut Engine::new(EngineConfig::default()), &synth.series, synth.signals.clone(), None, |_| {})
        .unwrap()
}

fn bars(series: &Series) -> &[Bar] {
    match &series.prices {
        Prices::Bars(bars) => bars,
        Prices::Ticks(_) | Prices::InFile(_) => panic!("synthetic series are candles held in memory"),
    }
}

#[test]
fn a_seed_always_gives_the_same_data() {
    let config = SynthConfig { signals_per_symbol: 200, ..SynthConfig::default() };
    assert_eq!(synthesize(&config), synthesize(&config));
    let other = synthesize(&SynthConfig { seed: 2, ..config.clone() });
    assert_ne!(other.signals, synthesize(&config).signals);
}

#[test]
fn an_invalid_config_plants_nothing() {
    let synth = synthesize(&SynthConfig { symbols: 0, ..SynthConfig::default() });
    assert!(synth.series.is_empty() && synth.signals.is_empty() && synth.informative_heads.is_empty());
}

#[test]
fn candles_are_valid_sorted_and_signals_pass_validation() {
    let config = SynthConfig::default();
    let synth = synthesize(&config);
    assert_eq!(synth.series.len(), config.symbols);
    assert_eq!(synth.signals.len(), config.symbols * config.signals_per_symbol);
    assert_eq!(synth.planted_win.len(), synth.signals.len());
    for series in &synth.series {
        let bars = bars(series);
        assert_eq!(bars[0].ts, config.start);
        for bar in bars {
            assert_eq!(bar.validate(), Ok(()), "{} at {:?}", series.symbol, bar.ts);
        }
        assert!(bars.windows(2).all(|pair| pair[0].ts < pair[1].ts), "{}", series.symbol);
    }
    for signal in &synth.signals {
        assert_eq!(signal.validate(), Ok(()), "{}", signal.id);
        assert_eq!((signal.heads.len(), signal.indicators.len()), (config.heads, config.indicators));
    }
    assert!(synth.signals.windows(2).all(|pair| pair[0].entry_ts <= pair[1].entry_ts));
}

#[test]
fn each_signal_enters_at_a_bar_open() {
    let synth = synthesize(&SynthConfig { signals_per_symbol: 300, ..SynthConfig::default() });
    let opens: HashMap<(&str, i64), f64> = synth
        .series
        .iter()
        .flat_map(|series| bars(series).iter().map(|bar| ((series.symbol.as_str(), bar.ts.0), bar.open)))
        .collect();
    for signal in &synth.signals {
        assert_eq!(opens.get(&(signal.symbol.as_str(), signal.entry_ts.0)), Some(&signal.entry_price));
    }
}

#[test]
fn a_replay_decides_exactly_the_planted_outcomes() {
    let synth = synthesize(&SynthConfig::default());
    let result = replayed(&synth);
    assert!(result.open.is_empty(), "{} signals left open", result.open.len());
    assert_eq!(result.trades.len(), synth.signals.len());
    let planted: HashMap<&str, bool> =
        synth.signals.iter().zip(&synth.planted_win).map(|(s, &win)| (s.id.as_str(), win)).collect();
    for trade in &result.trades {
        let expected =
            if planted[trade.signal.id.as_str()] { OutcomeKind::TpHit } else { OutcomeKind::SlHit };
        assert_eq!(trade.outcome.kind, expected, "{}", trade.signal.id);
        assert!(!trade.outcome.ambiguous, "{}", trade.signal.id);
        let level =
            if expected == OutcomeKind::TpHit { trade.signal.take_profit } else { trade.signal.stop_loss };
        assert_eq!(
            Some(trade.outcome.exit_price),
            level,
            "{} exits at its level, not a gap",
            trade.signal.id
        );
    }
}

#[test]
fn informative_names_are_a_seeded_choice_that_partitions_the_names() {
    let synth = synthesize(&SynthConfig::default());
    assert_eq!(synth.informative_heads.len(), 3);
    assert_eq!(synth.noise_heads.len(), 6);
    assert_ne!(synth.informative_heads, ["h1", "h2", "h3"]);
    let mut all: Vec<&String> = synth.informative_heads.iter().chain(&synth.noise_heads).collect();
    all.sort_by_key(|name| name[1..].parse::<usize>().unwrap());
    assert_eq!(all, (1..=9).map(|i| format!("h{i}")).collect::<Vec<_>>().iter().collect::<Vec<_>>());
    assert_eq!((synth.informative_indicators.len(), synth.noise_indicators.len()), (2, 4));
}

/// Win rate (in percentage points) when the head agrees with the side minus
/// when it disagrees, from the report of the replayed trades.
fn head_edges(synth: &Synth) -> HashMap<String, f64> {
    let result = replayed(synth);
    let report = build_report(&result.trades, result.open.len());
    report
        .by_head
        .into_iter()
        .map(|(head, stats)| {
            let edge = stats.agree.win_rate.unwrap() - stats.disagree.win_rate.unwrap();
            (head, 100.0 * edge)
        })
        .collect()
}

#[test]
fn informative_heads_move_the_win_rate_and_noise_heads_do_not() {
    let synth = synthesize(&SynthConfig::default());
    let edges = head_edges(&synth);
    for head in &synth.informative_heads {
        assert!(edges[head] > 10.0, "informative {head}: {:.1} points", edges[head]);
    }
    for head in &synth.noise_heads {
        assert!(edges[head].abs() < 3.0, "noise {head}: {:.1} points", edges[head]);
    }
}

#[test]
fn signals_whose_informative_heads_agree_win_more_often() {
    let synth = synthesize(&SynthConfig::default());
    let (mut agree, mut disagree) = ((0, 0), (0, 0));
    for (signal, &win) in synth.signals.iter().zip(&synth.planted_win) {
        let z: f64 = synth.informative_heads.iter().filter_map(|h| signal.heads.get(h)).sum::<f64>()
            * signal.side.sign();
        let group = if z > 0.0 { &mut agree } else { &mut disagree };
        group.0 += usize::from(win);
        group.1 += 1;
    }
    let rate = |(wins, n): (usize, usize)| 100.0 * wins as f64 / n as f64;
    assert!(rate(agree) - rate(disagree) > 20.0, "{:.1} vs {:.1}", rate(agree), rate(disagree));
}

#[test]
fn without_edge_no_head_is_informative() {
    let synth = synthesize(&SynthConfig { edge: 0.0, ..SynthConfig::default() });
    for (head, edge) in head_edges(&synth) {
        assert!(edge.abs() < 3.0, "{head}: {edge:.1} points");
    }
}

#[test]
fn informative_indicators_have_a_positive_ic_and_noise_indicators_none() {
    let synth = synthesize(&SynthConfig::default());
    let result = replayed(&synth);
    let by_indicator = build_report(&result.trades, 0).by_indicator;
    for name in &synth.informative_indicators {
        let stats = &by_indicator[name];
        assert!(stats.ci_low.unwrap() > 0.05, "informative {name}: {stats:?}");
    }
    for name in &synth.noise_indicators {
        let stats = &by_indicator[name];
        assert!(stats.ic.unwrap().abs() < 0.05, "noise {name}: {stats:?}");
    }
}
