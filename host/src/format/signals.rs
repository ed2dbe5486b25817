//! Signal files: CSV or JSON Lines (chosen by the `.jsonl` / `.ndjson`
//! extension), and the CSV writer `siglearn generate` uses.
//!
//! CSV columns: `signal_id,symbol,side,entry_ts,entry_price,take_profit,stop_loss,max_hold_minutes`
//! (all required in the header; the last three may be empty cells), optional
//! `confidence,pattern,regime`, and any number of `head.<name>` (votes in
//! [-1, 1]) and `ind.<name>` (indicator values) columns. An empty cell means
//! absent. Any other column is refused, so a typo never silently drops data.
//! JSON Lines: one object per line with the same keys, plus `heads` and
//! `indicators` objects; `entry_ts` is a string or epoch milliseconds.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use siglearn_plugin_api::{MILLIS_PER_MINUTE, Names, Side, Signal, SignalId, Symbol, Values};

use super::columns::{self, Columns};
use super::{FormatError, ReadOptions, Rejects, RowErrors, parse_f64};
use crate::timestamp::{MAX_HOLD_MS, format_timestamp, timestamp_from_json};

const REQUIRED: [&str; 8] = [
    "signal_id",
    "symbol",
    "side",
    "entry_ts",
    "entry_price",
    "take_profit",
    "stop_loss",
    "max_hold_minutes",
];
const OPTIONAL: [&str; 3] = ["confidence", "pattern", "regime"];

/// The valid signals of one file, each with the line it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalFile {
    pub path: PathBuf,
    pub signals: Vec<Signal>,
    pub lines: Vec<u64>,
    /// Rows skipped under `skip_invalid`.
    pub skipped: RowErrors,
}

/// Reads and validates a signals file. Duplicate ids are bad rows.
pub fn read_signals(path: &Path, options: ReadOptions) -> Result<SignalFile, FormatError> {
    let mut rejects = Rejects::new(path);
    let mut parsed = Vec::new();
    let is_json_lines = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e == "ndjson");
    if is_json_lines {
        read_json_lines(path, &mut rejects, &mut parsed)?;
    } else {
        read_csv(path, &mut rejects, &mut parsed)?;
    }
    let mut first_line: HashMap<SignalId, u64> = HashMap::new();
    let (mut signals, mut lines) = (Vec::with_capacity(parsed.len()), Vec::with_capacity(parsed.len()));
    for (line, signal) in parsed {
        if let Some(first) = first_line.get(&signal.id) {
            rejects.add(line, "signal_id", format!("{} is already used on line {first}", signal.id));
            continue;
        }
        first_line.insert(signal.id.clone(), line);
        signals.push(signal);
        lines.push(line);
    }
    let skipped = rejects.finish(options)?;
    if signals.is_empty() && skipped.is_empty() {
        return Err(FormatError::Empty { path: path.to_path_buf() });
    }
    Ok(SignalFile { path: path.to_path_buf(), signals, lines, skipped })
}

/// One signal as written in a file, before validation.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    signal_id: String,
    symbol: String,
    side: String,
    /// Text or epoch milliseconds, read by [`timestamp_from_json`].
    #[serde(default)]
    entry_ts: serde_json::Value,
    entry_price: f64,
    take_profit: Option<f64>,
    stop_loss: Option<f64>,
    max_hold_minutes: Option<f64>,
    confidence: Option<f64>,
    pattern: Option<String>,
    regime: Option<String>,
    #[serde(default)]
    heads: Values,
    #[serde(default)]
    indicators: Values,
}

type FieldError = (String, String);

impl Record {
    /// The valid signal, or the first problem with it.
    fn into_signal(self) -> Result<Signal, FieldError> {
        let signal = self.into_parsed()?;
        signal.validate().map_err(|e| (e.field(), e.to_string()))?;
        Ok(signal)
    }

    /// The signal, parsed but not validated.
    fn into_parsed(self) -> Result<Signal, FieldError> {
        let side: Side =
            self.side.parse().map_err(|e: siglearn_plugin_api::ParseSideError| field("side", e))?;
        let entry_ts = timestamp_from_json(&self.entry_ts).map_err(|e| field("entry_ts", e))?;
        let max_hold_ms = match self.max_hold_minutes {
            None => None,
            Some(minutes) if minutes.is_finite() && minutes > 0.0 => {
                let millis = (minutes * MILLIS_PER_MINUTE as f64).round();
                if millis > MAX_HOLD_MS as f64 {
                    return Err(field(
                        "max_hold_minutes",
                        format!(
                            "{minutes} minutes is longer than ten years ({} minutes); use a shorter hold",
                            MAX_HOLD_MS / MILLIS_PER_MINUTE
                        ),
                    ));
                }
                Some(millis as i64)
            }
            Some(minutes) => {
                return Err(field(
                    "max_hold_minutes",
                    format!("{minutes} is not a positive number of minutes"),
                ));
            }
        };
        let signal = Signal {
            id: SignalId::new(self.signal_id),
            symbol: Symbol::new(self.symbol.as_str()),
            side,
            entry_ts,
            entry_price: self.entry_price,
            take_profit: self.take_profit,
            stop_loss: self.stop_loss,
            max_hold_ms,
            confidence: self.confidence,
            pattern: self.pattern.filter(|p| !p.is_empty()),
            regime: self.regime.filter(|r| !r.is_empty()),
            heads: self.heads,
            indicators: self.indicators,
        };
        Ok(signal)
    }
}

fn field(name: &str, reason: impl ToString) -> FieldError {
    (name.to_owned(), reason.to_string())
}

fn read_json_lines(
    path: &Path,
    rejects: &mut Rejects<'_>,
    parsed: &mut Vec<(u64, Signal)>,
) -> Result<(), FormatError> {
    let reader = BufReader::new(super::open(path)?);
    let mut names = Names::default();
    for (n, line) in reader.lines().enumerate() {
        let line_no = n as u64 + 1;
        let text = line.map_err(|source| FormatError::Io { path: path.to_path_buf(), source })?;
        if text.trim().is_empty() {
            continue;
        }
        let mut record: Record = match serde_json::from_str(&text) {
            Ok(record) => record,
            Err(error) => {
                rejects.add(line_no, json_field(&error.to_string()), error.to_string());
                continue;
            }
        };
        record.heads = names.share(std::mem::take(&mut record.heads));
        record.indicators = names.share(std::mem::take(&mut record.indicators));
        match record.into_signal() {
            Ok(signal) => parsed.push((line_no, signal)),
            Err((name, reason)) => rejects.add(line_no, name, reason),
        }
    }
    Ok(())
}

/// Reads a JSON array of signals in one pass; `None` when any item is not a
/// valid signal (the caller then reads them one by one to say which).
pub fn signals_from_json_array(text: &str, names: &mut Names) -> Option<Vec<Signal>> {
    let records: Vec<Record> = serde_json::from_str(text).ok()?;
    records
        .into_iter()
        .map(|mut record| {
            record.heads = names.share(std::mem::take(&mut record.heads));
            record.indicators = names.share(std::mem::take(&mut record.indicators));
            record.into_signal().ok()
        })
        .collect()
}

/// Reads one signal from a JSON object with the JSON Lines keys (as the
/// daemon receives them); the error lists every problem as (field, reason):
/// each key of the wrong type, unknown or missing, else every invalid value.
pub fn signal_from_json(
    value: serde_json::Value,
    names: &mut Names,
) -> Result<Signal, Vec<(String, String)>> {
    let problems = key_problems(&value);
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut record: Record = serde_json::from_value(value).map_err(|e| {
        let message = e.to_string();
        vec![(json_field(&message), message)]
    })?;
    record.heads = names.share(std::mem::take(&mut record.heads));
    record.indicators = names.share(std::mem::take(&mut record.indicators));
    let signal = record.into_parsed().map_err(|problem| vec![problem])?;
    let problems: Vec<(String, String)> =
        signal.problems().iter().map(|e| (e.field(), e.to_string())).collect();
    if problems.is_empty() { Ok(signal) } else { Err(problems) }
}

/// A key of a JSON signal: its name, whether it is required, the test of
/// its value, and what that test expects.
type KeyCheck<'a> = (&'a str, bool, &'a dyn Fn(&serde_json::Value) -> bool, &'a str);

/// Every key of a JSON signal that cannot be read: not an object, keys
/// unknown or missing, values of the wrong type.
fn key_problems(value: &serde_json::Value) -> Vec<(String, String)> {
    use serde_json::Value;
    let Some(object) = value.as_object() else {
        return vec![("-".to_owned(), format!("{} is not a JSON object", shown(value)))];
    };
    let mut problems = Vec::new();
    let number = |v: &Value| v.is_number();
    let text = |v: &Value| v.is_string();
    let optional_number = |v: &Value| v.is_number() || v.is_null();
    let optional_text = |v: &Value| v.is_string() || v.is_null();
    let time = |v: &Value| v.is_string() || v.as_i64().is_some();
    let values = |v: &Value| v.is_null() || v.as_object().is_some_and(|o| o.values().all(Value::is_number));
    let keys: [KeyCheck<'_>; 13] = [
        ("signal_id", true, &text, "a string"),
        ("symbol", true, &text, "a string"),
        ("side", true, &text, "\"long\" or \"short\""),
        ("entry_ts", true, &time, "an ISO-8601 string or epoch milliseconds"),
        ("entry_price", true, &number, "a number"),
        ("take_profit", false, &optional_number, "a number"),
        ("stop_loss", false, &optional_number, "a number"),
        ("max_hold_minutes", false, &optional_number, "a number"),
        ("confidence", false, &optional_number, "a number"),
        ("pattern", false, &optional_text, "a string"),
        ("regime", false, &optional_text, "a string"),
        ("heads", false, &values, "an object of numbers"),
        ("indicators", false, &values, "an object of numbers"),
    ];
    for (key, required, valid, expected) in keys {
        match object.get(key) {
            None if required => problems.push((key.to_owned(), "missing value".to_owned())),
            None => {}
            Some(value) if !valid(value) => {
                problems.push((key.to_owned(), format!("{} is not {expected}", shown(value))));
            }
            Some(_) => {}
        }
    }
    for key in object.keys().filter(|key| !keys.iter().any(|(known, ..)| known == key)) {
        let shown: String = key.chars().take(64).collect();
        problems.push((
            shown.clone(),
            format!("unknown field {shown:?}; the fields are {}", keys.map(|k| k.0).join(", ")),
        ));
    }
    problems
}

/// A JSON value as an error message quotes it: at most 60 characters.
fn shown(value: &serde_json::Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(60) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text,
    }
}

/// The key a serde_json error is about, when its message names one.
fn json_field(message: &str) -> String {
    message.split('`').nth(1).map_or_else(|| "-".to_owned(), str::to_owned)
}

/// The CSV columns of a signals file.
struct CsvLayout {
    fixed: HashMap<&'static str, usize>,
    /// Name (shared by every row) and position of each `head.*` column.
    heads: Vec<(Arc<str>, usize)>,
    indicators: Vec<(Arc<str>, usize)>,
}

impl CsvLayout {
    fn new(path: &Path, columns: &Columns) -> Result<Self, FormatError> {
        let expected = REQUIRED.join(",");
        let mut fixed = HashMap::new();
        for name in REQUIRED {
            fixed.insert(name, columns.require(path, name, &expected)?);
        }
        for name in OPTIONAL {
            if let Some(i) = columns.get(name) {
                fixed.insert(name, i);
            }
        }
        let (mut heads, mut indicators) = (Vec::new(), Vec::new());
        for (i, name) in columns.names().iter().enumerate() {
            if let Some(head) = name.strip_prefix("head.").filter(|h| !h.is_empty()) {
                heads.push((Arc::from(head), i));
            } else if let Some(indicator) = name.strip_prefix("ind.").filter(|h| !h.is_empty()) {
                indicators.push((Arc::from(indicator), i));
            } else if !REQUIRED.contains(&name.as_str()) && !OPTIONAL.contains(&name.as_str()) {
                return Err(FormatError::Header {
                    path: path.to_path_buf(),
                    reason: format!(
                        "column {name:?} is not a signal field; known columns are {expected},{} \
                         plus head.<name> and ind.<name>",
                        OPTIONAL.join(",")
                    ),
                });
            }
        }
        let mut seen = BTreeSet::new();
        if let Some(twice) = columns.names().iter().find(|name| !seen.insert(name.as_str())) {
            return Err(FormatError::Header {
                path: path.to_path_buf(),
                reason: format!("column {twice:?} appears twice; keep one"),
            });
        }
        Ok(CsvLayout { fixed, heads, indicators })
    }

    fn record(&self, row: &csv::StringRecord) -> Result<Record, FieldError> {
        let text = |name: &str| self.fixed.get(name).and_then(|&i| row.get(i)).unwrap_or("");
        let optional = |name: &'static str| -> Result<Option<f64>, FieldError> {
            match text(name) {
                "" => Ok(None),
                cell => parse_f64(cell).map(Some).map_err(|reason| field(name, reason)),
            }
        };
        let required_text = |name: &'static str| -> Result<String, FieldError> {
            match text(name) {
                "" => Err(field(name, "missing value")),
                cell => Ok(cell.to_owned()),
            }
        };
        let named = |columns: &[(Arc<str>, usize)], prefix: &str| -> Result<Values, FieldError> {
            let mut values = Vec::with_capacity(columns.len());
            for (name, i) in columns {
                match row.get(*i).unwrap_or("") {
                    "" => {}
                    cell => {
                        let value = parse_f64(cell).map_err(|reason| (format!("{prefix}{name}"), reason))?;
                        values.push((Arc::clone(name), value));
                    }
                }
            }
            Ok(values.into_iter().collect())
        };
        Ok(Record {
            signal_id: required_text("signal_id")?,
            symbol: required_text("symbol")?,
            side: required_text("side")?,
            entry_ts: serde_json::Value::String(required_text("entry_ts")?),
            entry_price: optional("entry_price")?.ok_or_else(|| field("entry_price", "missing value"))?,
            take_profit: optional("take_profit")?,
            stop_loss: optional("stop_loss")?,
            max_hold_minutes: optional("max_hold_minutes")?,
            confidence: optional("confidence")?,
            pattern: Some(text("pattern").to_owned()),
            regime: Some(text("regime").to_owned()),
            heads: named(&self.heads, "head.")?,
            indicators: named(&self.indicators, "ind.")?,
        })
    }
}

fn read_csv(
    path: &Path,
    rejects: &mut Rejects<'_>,
    parsed: &mut Vec<(u64, Signal)>,
) -> Result<(), FormatError> {
    let (mut reader, columns) = columns::reader(path)?;
    let layout = CsvLayout::new(path, &columns)?;
    let mut row = csv::StringRecord::new();
    loop {
        let next_line = reader.position().line();
        match reader.read_record(&mut row) {
            Ok(false) => break,
            Ok(true) => {}
            Err(error) => {
                rejects.add(
                    error.position().map_or(next_line, csv::Position::line),
                    "-",
                    format!("unreadable row: {error}"),
                );
                continue;
            }
        }
        let line = row.position().map_or(next_line, csv::Position::line);
        match layout.record(&row).and_then(Record::into_signal) {
            Ok(signal) => parsed.push((line, signal)),
            Err((name, reason)) => rejects.add(line, name, reason),
        }
    }
    Ok(())
}

/// Writes signals as CSV: the fixed columns, then one `head.<name>` and one
/// `ind.<name>` column for every name any signal uses, sorted by name.
pub fn write_signals(path: &Path, signals: &[Signal]) -> Result<(), FormatError> {
    let fail = |source: std::io::Error| FormatError::Write { path: path.to_path_buf(), source };
    let heads: BTreeSet<&str> = signals.iter().flat_map(|s| s.heads.names().map(|n| &**n)).collect();
    let indicators: BTreeSet<&str> =
        signals.iter().flat_map(|s| s.indicators.names().map(|n| &**n)).collect();
    let file = std::fs::File::create(path).map_err(fail)?;
    let mut out = csv::Writer::from_writer(std::io::BufWriter::new(file));
    let mut header: Vec<String> = REQUIRED.iter().chain(&OPTIONAL).map(|s| (*s).to_owned()).collect();
    header.extend(heads.iter().map(|h| format!("head.{h}")));
    header.extend(indicators.iter().map(|i| format!("ind.{i}")));
    out.write_record(&header).map_err(|e| fail(e.into()))?;
    let number = |value: Option<f64>| value.map_or_else(String::new, |v| v.to_string());
    let mut row: Vec<String> = Vec::with_capacity(header.len());
    for signal in signals {
        row.clear();
        row.extend([
            signal.id.to_string(),
            signal.symbol.to_string(),
            signal.side.to_string(),
            format_timestamp(signal.entry_ts),
            signal.entry_price.to_string(),
            number(signal.take_profit),
            number(signal.stop_loss),
            number(signal.max_hold_ms.map(|ms| ms as f64 / MILLIS_PER_MINUTE as f64)),
            number(signal.confidence),
            signal.pattern.clone().unwrap_or_default(),
            signal.regime.clone().unwrap_or_default(),
        ]);
        row.extend(heads.iter().map(|h| number(signal.heads.get(h))));
        row.extend(indicators.iter().map(|i| number(signal.indicators.get(i))));
        out.write_record(&row).map_err(|e| fail(e.into()))?;
    }
    let mut inner = out.into_inner().map_err(|e| fail(e.into_error()))?;
    inner.flush().map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "signal_id,symbol,side,entry_ts,entry_price,take_profit,stop_loss,max_hold_minutes";

    fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn csv_signals_read_heads_indicators_and_empty_cells() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(
            &dir,
            "s.csv",
            &format!(
                "{HEADER},confidence,pattern,head.rsi,head.macd,ind.atr\n\
                 a,BTC,long,2020-01-01T00:00:00Z,100,110,95,60,0.7,trend,0.5,,1.25\n\
                 b,BTC,short,2020-01-01T00:05:00Z,100,,105,,,,-1,1,\n"
            ),
        );
        let file = read_signals(&path, ReadOptions::default()).unwrap();
        let [a, b] = &file.signals[..] else { panic!("{:?}", file.signals) };
        assert_eq!(file.lines, [2, 3]);
        assert_eq!(
            (a.max_hold_ms, a.confidence, a.pattern.as_deref()),
            (Some(3_600_000), Some(0.7), Some("trend"))
        );
        assert_eq!(a.heads, Values::from([("rsi", 0.5)]));
        assert_eq!(a.indicators, Values::from([("atr", 1.25)]));
        assert!(
            Arc::ptr_eq(a.heads.names().next().unwrap(), b.heads.names().nth(1).unwrap()),
            "one name per column"
        );
        assert_eq!((b.take_profit, b.pattern.as_deref(), b.heads.len()), (None, None, 2));
    }

    #[test]
    fn wrong_side_levels_nan_and_duplicates_are_reported_per_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(
            &dir,
            "s.csv",
            &format!(
                "{HEADER}\na,BTC,long,2020-01-01,100,90,95,\nb,BTC,long,2020-01-01,NaN,110,95,\n\
                 c,BTC,long,2020-01-01,100,110,95,\nc,BTC,long,2020-01-01,100,110,95,\nd,BTC,up,2020-01-01,100,110,95,\n"
            ),
        );
        let text = read_signals(&path, ReadOptions::default()).unwrap_err().to_string();
        assert!(text.contains("s.csv:2: take_profit: take_profit 90 is on the wrong side"), "{text}");
        assert!(text.contains("s.csv:3: entry_price:"), "{text}");
        assert!(text.contains("s.csv:5: signal_id: c is already used on line 4"), "{text}");
        assert!(text.contains("s.csv:6: side:"), "{text}");
        let skipped = read_signals(&path, ReadOptions { skip_invalid: true }).unwrap();
        assert_eq!((skipped.signals.len(), skipped.skipped.count), (1, 4));
    }

    #[test]
    fn unknown_columns_are_refused_naming_the_known_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path =
            file(&dir, "s.csv", &format!("{HEADER},confidnce\na,BTC,long,2020-01-01,100,110,95,,0.5\n"));
        let text = read_signals(&path, ReadOptions::default()).unwrap_err().to_string();
        assert!(text.contains("\"confidnce\"") && text.contains("head.<name>"), "{text}");
    }

    #[test]
    fn json_lines_carry_the_same_signal() {
        let dir = tempfile::tempdir().unwrap();
        let csv = file(
            &dir,
            "s.csv",
            &format!("{HEADER},head.rsi,ind.atr\na,BTC,long,1577836800000,100,110,95,90,0.5,2\n"),
        );
        let jsonl = file(
            &dir,
            "s.jsonl",
            "{\"signal_id\":\"a\",\"symbol\":\"BTC\",\"side\":\"long\",\"entry_ts\":\"2020-01-01T00:00:00Z\",\
             \"entry_price\":100,\"take_profit\":110,\"stop_loss\":95,\"max_hold_minutes\":90,\
             \"heads\":{\"rsi\":0.5},\"indicators\":{\"atr\":2}}\n\n",
        );
        let from_csv = read_signals(&csv, ReadOptions::default()).unwrap();
        let from_json = read_signals(&jsonl, ReadOptions::default()).unwrap();
        assert_eq!(from_csv.signals, from_json.signals);
    }

    #[test]
    fn json_lines_errors_name_the_line_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(
            &dir,
            "s.jsonl",
            "{\"signal_id\":\"a\",\"symbol\":\"BTC\",\"side\":\"long\",\"entry_ts\":0,\"entry_price\":100,\"stop_loss\":95,\"colour\":1}\n",
        );
        let text = read_signals(&path, ReadOptions::default()).unwrap_err().to_string();
        assert!(text.contains("s.jsonl:1: colour:"), "{text}");
    }

    #[test]
    fn written_signals_read_back_identically() {
        let dir = tempfile::tempdir().unwrap();
        let source = file(
            &dir,
            "s.csv",
            &format!(
                "{HEADER},confidence,pattern,regime,head.rsi,ind.atr\n\
                 \"a,1\",BTC,long,2020-01-01T00:00:00.123Z,0.1,0.30000000000000004,0.05,7.5,0.123456789,trend,range_low_vol,-0.25,1e-7\n\
                 b,ETH,short,2020-01-02T00:00:00Z,2000,1900,2100,,,,,,\n"
            ),
        );
        let first = read_signals(&source, ReadOptions::default()).unwrap();
        let copy = dir.path().join("copy.csv");
        write_signals(&copy, &first.signals).unwrap();
        assert_eq!(read_signals(&copy, ReadOptions::default()).unwrap().signals, first.signals);
    }

    #[test]
    fn csv_and_json_lines_refuse_other_units_far_dates_and_decade_long_holds() {
        let dir = tempfile::tempdir().unwrap();
        // 2024-05-01T10:00:00Z in µs and ns; a hold of 10 years + 1 day in minutes.
        let path = file(
            &dir,
            "s.csv",
            &format!(
                "{HEADER}\na,BTC,long,1714557600000000,100,110,95,\nb,BTC,long,1714557600000000000,100,110,95,\n\
                 c,BTC,long,2150-01-01,100,110,95,\nd,BTC,long,2024-05-01,100,110,95,{}\ne,BTC,long,2024-05-01,100,110,95,5256000\n",
                3651 * 24 * 60
            ),
        );
        let text = read_signals(&path, ReadOptions::default()).unwrap_err().to_string();
        assert!(text.contains("s.csv:2: entry_ts:") && text.contains("(divide by 1000)"), "{text}");
        assert!(text.contains("s.csv:3: entry_ts:") && text.contains("(divide by 1,000,000)"), "{text}");
        assert!(text.contains("s.csv:4: entry_ts:") && text.contains("outside the accepted range"), "{text}");
        assert!(
            text.contains("s.csv:5: max_hold_minutes:") && text.contains("longer than ten years"),
            "{text}"
        );
        assert!(!text.contains("s.csv:6:"), "a hold of exactly ten years is accepted: {text}");
        let jsonl = file(
            &dir,
            "s.jsonl",
            "{\"signal_id\":\"a\",\"symbol\":\"BTC\",\"side\":\"long\",\"entry_ts\":-9223372036854775808,\"entry_price\":100,\"stop_loss\":95}\n",
        );
        let text = read_signals(&jsonl, ReadOptions::default()).unwrap_err().to_string();
        assert!(
            text.contains("s.jsonl:1: entry_ts:") && text.contains("outside the accepted range"),
            "{text}"
        );
    }

    mod fuzz {
        use proptest::prelude::*;

        use super::*;
        use crate::format::fuzz::any_cell;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

            #[test]
            fn any_signal_rows_give_valid_signals_or_errors_naming_file_and_line(
                rows in prop::collection::vec(prop::collection::vec(any_cell(), 8..=10), 1..6),
            ) {
                let dir = tempfile::tempdir().unwrap();
                let mut text = format!("{HEADER},confidence,head.rsi\n");
                for row in &rows {
                    let quoted: Vec<String> = row.iter().map(|cell| format!("\"{}\"", cell.replace('"', "\"\""))).collect();
                    text.push_str(&quoted.join(","));
                    text.push('\n');
                }
                let path = file(&dir, "s.csv", &text);
                match read_signals(&path, ReadOptions::default()) {
                    Ok(read) => for signal in &read.signals {
                        prop_assert!(signal.validate().is_ok());
                        prop_assert!((crate::timestamp::EARLIEST..crate::timestamp::END).contains(&signal.entry_ts));
                        prop_assert!(signal.max_hold_ms.is_none_or(|hold| hold <= crate::timestamp::MAX_HOLD_MS));
                    },
                    Err(error) => prop_assert!(error.to_string().contains("s.csv"), "{error}"),
                }
            }
        }
    }
}
