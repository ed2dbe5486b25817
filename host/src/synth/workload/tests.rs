use std::collections::BTreeSet;

use super::*;
use crate::format::{ReadOptions, read_prices, read_signals};

/// Twenty hourly candles from 2024-01-01T00:00:00Z. Candle `j` closes at
/// `100 + j` (written `1jj.0`) and spans its close ± (j/2 + 1), so from
/// candle 1 on its true range is `j + 2` (the range beats the distance
/// to the previous close, one lower). The ATR of a signal entering at
/// candle `i` is then the mean of `i - 12 ..= i + 1`: `i - 5.5`.
fn hand_made(dir: &Path) -> Workload {
    let mut text = String::from("symbol,ts,open,high,low,close,volume\n");
    for j in 0..20 {
        let (close, half) = (100.0 + j as f64, j as f64 / 2.0 + 1.0);
        text += &format!(
            "TEST,2024-01-01T{j:02}:00:00Z,{close}.0,{},{},{close}.0,{}\n",
            close + half,
            close - half,
            j * 7
        );
    }
    std::fs::write(dir.join("TEST_1h.csv"), text).unwrap();
    Workload { scale: 2, signals: 300, seed: 1, ..Workload::new(dir, vec!["TEST_1h.csv".to_owned()]) }
}

fn rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(SIGNALS_HEADER.trim_end()));
    lines.map(|line| line.split(',').map(str::to_owned).collect()).collect()
}

/// `(copy, candle)` of a hand-made signal row, from its symbol and time.
fn copy_and_candle(row: &[String]) -> (i64, i64) {
    let copy: i64 = row[1].strip_prefix("TEST#").unwrap().parse().unwrap();
    let hours =
        (parse_timestamp(&row[3]).unwrap() - parse_timestamp("2024-01-01T00:00:00Z").unwrap()) / 3_600_000;
    (copy, hours - copy * 7 * 24)
}

fn demo() -> Workload {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo");
    let files = vec!["BTC-USDT_1m.csv".to_owned(), "ETH-USD_1d.csv".to_owned()];
    Workload { scale: 3, signals: 2000, ..Workload::new(data, files) }
}

fn build(workload: &Workload, dir: &Path) -> (CandlesWritten, SignalsWritten) {
    let candles = write_candles(workload, &dir.join("candles")).unwrap();
    let signals = write_signals(workload, &dir.join("signals.csv")).unwrap();
    (candles, signals)
}

/// Every file of `dir`, by name.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = walk(dir).into_iter().map(|path| (path.display().to_string(), path)).collect();
    files.sort();
    files
        .into_iter()
        .map(|(name, path)| (name.replace(&dir.display().to_string(), ""), std::fs::read(path).unwrap()))
        .collect()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .flat_map(|path| if path.is_dir() { walk(&path) } else { vec![path] })
        .collect()
}

#[test]
fn one_workload_always_gives_the_same_bytes_and_another_seed_other_signals() {
    let (first, second, third) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    build(&demo(), first.path());
    build(&demo(), second.path());
    assert_eq!(contents(first.path()), contents(second.path()));
    build(&Workload { seed: 8, ..demo() }, third.path());
    let signals = |dir: &tempfile::TempDir| std::fs::read(dir.path().join("signals.csv")).unwrap();
    assert_ne!(signals(&first), signals(&third));
    let candles = |dir: &tempfile::TempDir| contents(&dir.path().join("candles"));
    assert_eq!(candles(&first), candles(&third), "the seed draws signals only");
}

#[test]
fn siglearn_reads_every_candle_and_signal_without_a_complaint() {
    let dir = tempfile::tempdir().unwrap();
    let (candles, signals) = build(&demo(), dir.path());
    assert_eq!(candles.candles, 3 * (1440 + 788));
    let list = std::fs::read_to_string(dir.path().join("candles").join(CANDLE_LIST)).unwrap();
    assert_eq!(
        list,
        "BTC-USDT#1_1m.csv\nBTC-USDT#2_1m.csv\nBTC-USDT#3_1m.csv\nETH-USD#1_1d.csv\nETH-USD#2_1d.csv\nETH-USD#3_1d.csv\n"
    );
    let paths: Vec<PathBuf> = list.lines().map(|name| dir.path().join("candles").join(name)).collect();
    let (series, skipped) = read_prices(&paths, &[], ReadOptions::default()).unwrap();
    assert!(skipped.is_empty());
    assert_eq!(series.len(), 6);
    assert_eq!(series.iter().map(|one| one.prices.len() as u64).sum::<u64>(), candles.candles);
    let file = read_signals(&dir.path().join("signals.csv"), ReadOptions::default()).unwrap();
    assert!(file.skipped.is_empty());
    assert_eq!(file.signals.len(), 2000);
    assert_eq!(signals, SignalsWritten { signals: 2000, redrawn: 0 });
    let symbols: BTreeSet<&str> = file.signals.iter().map(|signal| signal.symbol.as_str()).collect();
    assert_eq!(symbols.len(), 6, "every copy gets signals: {symbols:?}");
}

#[test]
fn copies_move_every_candle_by_whole_shifts_and_keep_the_rest_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let workload = Workload { scale: 3, ..hand_made(dir.path()) };
    let written = write_candles(&workload, &dir.path().join("out")).unwrap();
    assert_eq!(written.files, ["TEST#1_1h.csv", "TEST#2_1h.csv", "TEST#3_1h.csv"]);
    assert_eq!(written.candles, 60);
    let source = std::fs::read_to_string(dir.path().join("TEST_1h.csv")).unwrap();
    for copy in 1..=3 {
        let text =
            std::fs::read_to_string(dir.path().join("out").join(format!("TEST#{copy}_1h.csv"))).unwrap();
        let (lines, source_lines): (Vec<&str>, Vec<&str>) =
            (text.lines().collect(), source.lines().collect());
        assert_eq!(lines.len(), 21);
        assert_eq!(lines[0], "symbol,ts,open,high,low,close,volume");
        for (j, (line, source_line)) in lines[1..].iter().zip(&source_lines[1..]).enumerate() {
            let day = 1 + 7 * copy;
            let tail = source_line.splitn(3, ',').nth(2).unwrap();
            assert_eq!(*line, format!("TEST#{copy},2024-01-{day:02}T{j:02}:00:00Z,{tail}"));
        }
    }
}

#[test]
fn a_signal_enters_at_the_previous_close_with_levels_one_atr_away() {
    let dir = tempfile::tempdir().unwrap();
    let workload = Workload { signals: 1000, atr: (1.0, 1.0), hold: (3, 5), ..hand_made(dir.path()) };
    write_signals(&workload, &dir.path().join("signals.csv")).unwrap();
    let rows = rows(&dir.path().join("signals.csv"));
    assert_eq!(rows.len(), 1000);
    let mut seen = BTreeSet::new();
    for (n, row) in rows.iter().enumerate() {
        assert_eq!(row[0], format!("S{:04}", n + 1));
        let (copy, i) = copy_and_candle(row);
        assert!((15..=19).contains(&i), "{row:?}");
        assert_eq!(row[4], format!("{}.0", 99 + i), "the close of candle i - 1, as written");
        // ATR i - 5.5 away: long TP 99 + i + (i - 5.5), SL 99 + i - (i - 5.5).
        let (far, near) = (format!("{}", 2.0 * i as f64 + 93.5), "104.5".to_owned());
        match row[2].as_str() {
            "long" => assert_eq!((&row[5], &row[6]), (&far, &near), "{row:?}"),
            "short" => assert_eq!((&row[5], &row[6]), (&near, &far), "{row:?}"),
            side => panic!("side {side}"),
        }
        assert!(["180", "240", "300"].contains(&row[7].as_str()), "3 to 5 hours: {row:?}");
        seen.insert((copy, i, row[2].clone(), row[7].clone()));
    }
    assert_eq!(seen.len(), 2 * 5 * 2 * 3, "every copy, candle, side and hold is drawn");
}

#[test]
fn distances_stay_within_the_atr_range_after_rounding() {
    let dir = tempfile::tempdir().unwrap();
    let workload = Workload { atr: (0.5, 3.0), ..hand_made(dir.path()) };
    write_signals(&workload, &dir.path().join("signals.csv")).unwrap();
    let (mut shortest, mut longest) = (f64::MAX, 0.0f64);
    for row in rows(&dir.path().join("signals.csv")) {
        let (_, i) = copy_and_candle(&row);
        let atr = i as f64 - 5.5;
        let [entry, take, stop] = [4, 5, 6].map(|column| row[column].parse::<f64>().unwrap());
        let sign = if row[2] == "long" { 1.0 } else { -1.0 };
        for distance in [sign * (take - entry), sign * (entry - stop)] {
            let multiple = distance / atr;
            assert!((0.5 - 1e-6..=3.0 + 1e-6).contains(&multiple), "{multiple} ATR: {row:?}");
            (shortest, longest) = (shortest.min(multiple), longest.max(multiple));
        }
        let hours: i64 = row[7].parse::<i64>().unwrap() / 60;
        assert!((10..=200).contains(&hours) && row[7].parse::<i64>().unwrap() % 60 == 0, "{row:?}");
    }
    assert!(shortest < 0.6 && longest > 2.9, "the whole range is used: {shortest}..{longest}");
}

#[test]
fn a_signal_siglearn_would_refuse_is_drawn_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("symbol,ts,open,high,low,close,volume\n");
    for j in 0..20 {
        // Odd candles close at 0: a signal entering after one is refused.
        let close = if j % 2 == 1 { "0" } else { "5" };
        text += &format!("ZERO,2024-01-01T{j:02}:00:00Z,5,6,0,{close},1\n");
    }
    std::fs::write(dir.path().join("ZERO_1h.csv"), text).unwrap();
    let workload = Workload { signals: 100, ..Workload::new(dir.path(), vec!["ZERO_1h.csv".to_owned()]) };
    let written = write_signals(&workload, &dir.path().join("signals.csv")).unwrap();
    assert!(written.redrawn > 20, "two entry candles in five are refused: {written:?}");
    let file = read_signals(&dir.path().join("signals.csv"), ReadOptions::default()).unwrap();
    assert_eq!(file.signals.len(), 100);
    assert!(file.signals.iter().all(|signal| signal.entry_price == 5.0));
}

#[test]
fn unusable_input_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("symbol,ts,open,high,low,close,volume\n");
    for j in 0..15 {
        text += &format!("SHORT,2024-01-01T{j:02}:00:00Z,1,1,1,1,1\n");
    }
    std::fs::write(dir.path().join("SHORT_1h.csv"), text).unwrap();
    let workload = Workload::new(dir.path(), vec!["SHORT_1h.csv".to_owned()]);
    let error = write_signals(&workload, &dir.path().join("signals.csv")).unwrap_err().to_string();
    assert!(error.contains("SHORT_1h.csv: 15 candles") && error.contains("at least 16"), "{error}");
    let bad = Workload { scale: 0, signals: 0, atr: (3.0, 1.0), hold: (0, 5), ..workload };
    let error = write_candles(&bad, dir.path()).unwrap_err().to_string();
    for part in ["scale", "signals", "atr (3, 1)", "hold (0, 5)"] {
        assert!(error.contains(part), "{part} in {error}");
    }
    let far = Workload { scale: 5300, ..Workload::new(dir.path(), vec!["SHORT_1h.csv".to_owned()]) };
    let error = write_candles(&far, dir.path()).unwrap_err().to_string();
    assert!(error.contains("scale 5300 x shift_days 7 moves the last copy over 50 years"), "{error}");
}

#[test]
fn levels_have_eight_significant_digits_written_positionally() {
    for (value, text) in [
        (0.099476612345, "0.099476612"),
        (17.917213456, "17.917213"),
        (123456789.0, "123456790"),
        (99999999.5, "100000000"),
        (100.0, "100"),
        (0.0000000015, "0.0000000015"),
        (-2.5, "-2.5"),
    ] {
        assert_eq!(eight_significant(value), text);
    }
}

#[test]
fn the_timeframe_comes_from_the_name_else_the_median_gap() {
    let at = |minutes: &[i64]| minutes.iter().map(|m| Timestamp(m * MILLIS_PER_MINUTE)).collect::<Vec<_>>();
    assert_eq!(timeframe_minutes("5m", &[]), Some(5));
    assert_eq!(timeframe_minutes("4h", &[]), Some(240));
    assert_eq!(timeframe_minutes("1d", &[]), Some(1440));
    assert_eq!(timeframe_minutes("daily", &at(&[0, 1, 2, 4])), Some(1), "gaps 1, 1, 2");
    assert_eq!(timeframe_minutes("daily", &at(&[0, 1, 4])), Some(2), "gaps 1 and 3");
    assert_eq!(timeframe_minutes("ticks", &at(&[0, 0, 0])), None);
}
