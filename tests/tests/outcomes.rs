//! A replay whose every outcome was worked out by hand from the rules in
//! DESIGN section 4: take-profit, stop-loss, a gap through the stop, an
//! ambiguous bar under each policy, a time exit and signals left open.

// Test helpers outside #[test] functions unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use common::{csv_rows, json, out, siglearn, siglearn_error, write};

/// One-minute bars of GOLD from 00:00 to 00:06.
const CANDLES: &str = "symbol,ts,open,high,low,close,volume
GOLD,2024-01-01T00:00:00Z,100,101,99,100,1
GOLD,2024-01-01T00:01:00Z,100,104,99.5,103,1
GOLD,2024-01-01T00:02:00Z,103,106,102,105,1
GOLD,2024-01-01T00:03:00Z,97,98,96,97,1
GOLD,2024-01-01T00:04:00Z,97,103,94,100,1
GOLD,2024-01-01T00:05:00Z,100,100.5,99.5,100,1
GOLD,2024-01-01T00:06:00Z,100,101,99,100,1
";

const SIGNALS: &str =
    "signal_id,symbol,side,entry_ts,entry_price,take_profit,stop_loss,max_hold_minutes,pattern
tp,GOLD,long,2024-01-01T00:01:00Z,100,105,98,,trend
sl,GOLD,short,2024-01-01T00:01:00Z,100,95,105,,trend
gap,GOLD,long,2024-01-01T00:02:00Z,103,110,100,,breakout
amb,GOLD,long,2024-01-01T00:04:00Z,97,102,95,,breakout
time,GOLD,short,2024-01-01T00:04:00Z,100,80,120,2,
open,GOLD,long,2024-01-01T00:05:00Z,100,200,50,,
late,GOLD,long,2024-01-01T00:10:00Z,100,200,50,,
";

struct Expected {
    id: &'static str,
    outcome: &'static str,
    exit_ts: &'static str,
    exit_price: f64,
    pnl_pct: f64,
    ambiguous: bool,
    mfe_pct: f64,
    mae_pct: f64,
    holding_minutes: f64,
}

fn replay(policy: &str) -> (Vec<std::collections::HashMap<String, String>>, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let candles = write(dir.path(), "candles.csv", CANDLES);
    let signals = write(dir.path(), "signals.csv", SIGNALS);
    let (trades, report) = (out(dir.path(), "trades.csv"), out(dir.path(), "report.json"));
    siglearn(&[
        "replay",
        "--candles",
        &candles,
        "--signals",
        &signals,
        "--ambiguity",
        policy,
        "--trades-out",
        &trades,
        "--report-out",
        &report,
    ])
    .unwrap();
    (csv_rows(&trades), json(&report))
}

fn check(rows: &[std::collections::HashMap<String, String>], expected: &[Expected]) {
    let ids: Vec<&str> = rows.iter().map(|row| row["signal_id"].as_str()).collect();
    let want: Vec<&str> = expected.iter().map(|e| e.id).collect();
    assert_eq!(ids, want, "trades in exit order, ties by id");
    for (row, e) in rows.iter().zip(expected) {
        let number = |column: &str| row[column].parse::<f64>().unwrap();
        assert_eq!(row["outcome"], e.outcome, "{}", e.id);
        assert_eq!(row["exit_ts"], e.exit_ts, "{}", e.id);
        assert_eq!(number("exit_price"), e.exit_price, "{}", e.id);
        assert_eq!(number("pnl_pct"), e.pnl_pct, "{}", e.id);
        assert_eq!(row["ambiguous"], e.ambiguous.to_string(), "{}", e.id);
        assert_eq!(number("mfe_pct"), e.mfe_pct, "{} mfe", e.id);
        assert_eq!(number("mae_pct"), e.mae_pct, "{} mae", e.id);
        assert_eq!(number("holding_minutes"), e.holding_minutes, "{}", e.id);
    }
}

fn long_pnl(entry: f64, exit: f64) -> f64 {
    (exit / entry - 1.0) * 100.0
}

fn short_pnl(entry: f64, exit: f64) -> f64 {
    (entry - exit) / entry * 100.0
}

#[test]
fn every_rule_gives_the_hand_computed_trade() {
    let (rows, report) = replay("stop_first");
    check(
        &rows,
        &[
            // 00:01 bar reaches neither level; 00:02 bar's high 106 passes TP
            // 105. Excursion: the 00:01 bar (high 104, low 99.5) plus the
            // closing bar's open 103 and the exit 105.
            Expected {
                id: "sl",
                outcome: "SL_HIT",
                exit_ts: "2024-01-01T00:02:00Z",
                exit_price: 105.0,
                pnl_pct: short_pnl(100.0, 105.0),
                ambiguous: false,
                mfe_pct: (1.0 - 99.5 / 100.0) * 100.0,
                mae_pct: (105.0 / 100.0 - 1.0) * 100.0,
                holding_minutes: 1.0,
            },
            Expected {
                id: "tp",
                outcome: "TP_HIT",
                exit_ts: "2024-01-01T00:02:00Z",
                exit_price: 105.0,
                pnl_pct: long_pnl(100.0, 105.0),
                ambiguous: false,
                mfe_pct: (105.0 / 100.0 - 1.0) * 100.0,
                mae_pct: (1.0 - 99.5 / 100.0) * 100.0,
                holding_minutes: 1.0,
            },
            // The 00:03 bar opens at 97, below the stop at 100: filled at the open.
            Expected {
                id: "gap",
                outcome: "SL_HIT",
                exit_ts: "2024-01-01T00:03:00Z",
                exit_price: 97.0,
                pnl_pct: long_pnl(103.0, 97.0),
                ambiguous: false,
                mfe_pct: (106.0 / 103.0 - 1.0) * 100.0,
                mae_pct: (1.0 - 97.0 / 103.0) * 100.0,
                holding_minutes: 1.0,
            },
            // The 00:04 bar spans both 95 and 102: stop first, flagged.
            Expected {
                id: "amb",
                outcome: "SL_HIT",
                exit_ts: "2024-01-01T00:04:00Z",
                exit_price: 95.0,
                pnl_pct: long_pnl(97.0, 95.0),
                ambiguous: true,
                mfe_pct: 0.0,
                mae_pct: (1.0 - 95.0 / 97.0) * 100.0,
                holding_minutes: 0.0,
            },
            // Deadline 00:06: the 00:06 bar closes it at its open.
            Expected {
                id: "time",
                outcome: "TIME_EXIT",
                exit_ts: "2024-01-01T00:06:00Z",
                exit_price: 100.0,
                pnl_pct: 0.0,
                ambiguous: false,
                mfe_pct: (1.0 - 94.0 / 100.0) * 100.0,
                mae_pct: (103.0 / 100.0 - 1.0) * 100.0,
                holding_minutes: 2.0,
            },
        ],
    );
    assert_eq!(report["open_signals"], 2);
    let overall = &report["overall"];
    assert_eq!((overall["total_trades"].as_u64(), overall["wins"].as_u64()), (Some(5), Some(1)));
    assert_eq!(overall["losses"], 3, "the time exit at 0 is neither a win nor a loss");
    assert_eq!(overall["win_rate"], 0.2);
    assert_eq!(report["by_pattern"]["breakout"]["total_trades"], 2);
    assert_eq!(report["by_pattern"]["(none)"]["total_trades"], 1);
}

#[test]
fn the_ambiguity_policy_decides_the_ambiguous_bar_only() {
    let (stop_first, _) = replay("stop_first");
    let (take_first, _) = replay("take_first");
    let (nearest, _) = replay("nearest_first");
    let find = |rows: &[std::collections::HashMap<String, String>], id: &str| {
        rows.iter().find(|row| row["signal_id"] == id).unwrap().clone()
    };
    let amb = find(&take_first, "amb");
    assert_eq!(
        (amb["outcome"].as_str(), amb["exit_price"].as_str(), amb["ambiguous"].as_str()),
        ("TP_HIT", "102", "true")
    );
    // Open 97: the stop at 95 is 2 away, the target at 102 is 5 away.
    assert_eq!(find(&nearest, "amb")["outcome"], "SL_HIT");
    for id in ["tp", "sl", "gap", "time"] {
        assert_eq!(find(&stop_first, id), find(&take_first, id), "{id}");
    }
}

#[test]
fn fees_are_taken_from_every_trade() {
    let dir = tempfile::tempdir().unwrap();
    let candles = write(dir.path(), "candles.csv", CANDLES);
    let signals = write(dir.path(), "signals.csv", SIGNALS);
    let trades = out(dir.path(), "trades.csv");
    siglearn(&[
        "replay",
        "--candles",
        &candles,
        "--signals",
        &signals,
        "--fee-pct",
        "0.1",
        "--trades-out",
        &trades,
    ])
    .unwrap();
    let rows = csv_rows(&trades);
    let tp = rows.iter().find(|row| row["signal_id"] == "tp").unwrap();
    assert_eq!(tp["pnl_pct"].parse::<f64>().unwrap(), long_pnl(100.0, 105.0) - 0.2);
}

#[test]
fn ticks_exit_at_the_tick_price() {
    let dir = tempfile::tempdir().unwrap();
    let ticks = write(
        dir.path(),
        "ticks.csv",
        "symbol,ts,price\nT,2024-01-01T00:00:00Z,100\nT,2024-01-01T00:00:00.500Z,103\nT,2024-01-01T00:00:01Z,106.25\n",
    );
    let signals = write(
        dir.path(),
        "signals.csv",
        "signal_id,symbol,side,entry_ts,entry_price,take_profit,stop_loss,max_hold_minutes\n\
         a,T,long,2024-01-01T00:00:00Z,100,105,95,\n",
    );
    let trades = out(dir.path(), "trades.csv");
    siglearn(&["replay", "--ticks", &ticks, "--signals", &signals, "--trades-out", &trades]).unwrap();
    let rows = csv_rows(&trades);
    assert_eq!(
        (rows[0]["exit_price"].as_str(), rows[0]["exit_ts"].as_str()),
        ("106.25", "2024-01-01T00:00:01Z")
    );
    assert_eq!(rows[0]["holding_minutes"].parse::<f64>().unwrap(), 1.0 / 60.0);
}

#[test]
fn a_replay_refuses_a_bad_signal_naming_every_bad_field_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let candles = write(dir.path(), "candles.csv", CANDLES);
    // Line 2: a side that is neither, a 200-byte id, a 70-byte symbol, a
    // negative entry, confidence 2 and a vote of 5. Line 3: a hold of over
    // ten years, a take-profit below a long's entry and confidence -1.
    let signals = write(
        dir.path(),
        "signals.csv",
        &format!(
            "signal_id,symbol,side,entry_ts,entry_price,take_profit,stop_loss,max_hold_minutes,confidence,head.rsi\n\
             {},{},up,2024-01-01T00:01:00Z,-1,105,98,,2,5\n\
             b,GOLD,long,2024-01-01T00:01:00Z,100,95,98,6000000,-1,\n",
            "i".repeat(200),
            "G".repeat(70)
        ),
    );
    let error = siglearn_error(&["replay", "--candles", &candles, "--signals", &signals]);
    for (line, field) in [
        (2, "side"),
        (2, "signal_id"),
        (2, "symbol"),
        (2, "entry_price"),
        (2, "confidence"),
        (2, "head.rsi"),
        (3, "max_hold_minutes"),
        (3, "take_profit"),
        (3, "confidence"),
    ] {
        assert!(error.contains(&format!("signals.csv:{line}: {field}: ")), "line {line} {field}: {error}");
    }
    assert!(error.contains("2 bad row(s)"), "{error}");
    assert_eq!(error.matches("signals.csv:").count(), 9, "nothing else listed: {error}");
}
