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
//!
//! A row, a line and an item the daemon receives are all read by one parse
//! ([`signal_from_json`] for JSON): each field on its own, then the rules
//! of a valid signal, so that a bad one lists every problem at once.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use siglearn_plugin_api::{
    MAX_VALUES, MILLIS_PER_MINUTE, Names, Side, Signal, SignalError, SignalId, Symbol, Timestamp, Values,
};

use super::cell::{Cell, FieldProblem, cut, shown};
use super::columns::{self, Columns};
use super::{FormatError, ReadOptions, Rejects, RowErrors};
use crate::timestamp::{MAX_HOLD_MS, format_timestamp, timestamp_from_json};

/// The columns a signals CSV must have, then those it may have: the first
/// eight of [`FIELDS`] and the rest.
const REQUIRED: &[&str] = FIELDS.split_at(8).0;
const OPTIONAL: &[&str] = FIELDS.split_at(8).1;

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
    let mut parsed = Parsed::default();
    let is_json_lines = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e == "ndjson");
    if is_json_lines {
        read_json_lines(path, &mut rejects, &mut parsed)?;
    } else {
        read_csv(path, &mut rejects, &mut parsed)?;
    }
    // A second use of an id is a bad row, naming the line of the first.
    let Parsed { mut signals, mut lines } = parsed;
    let mut first_line: foldhash::HashMap<&str, u64> =
        foldhash::HashMap::with_capacity_and_hasher(signals.len(), Default::default());
    let mut keep = vec![true; signals.len()];
    for ((signal, &line), keep) in signals.iter().zip(&lines).zip(&mut keep) {
        if let Some(&first) = first_line.get(signal.id.as_str()) {
            rejects.add(line, "signal_id", format!("{} is already used on line {first}", signal.id));
            *keep = false;
        } else {
            first_line.insert(signal.id.as_str(), line);
        }
    }
    drop(first_line);
    if keep.contains(&false) {
        let mut kept = keep.iter().copied();
        signals.retain(|_| kept.next().unwrap_or(true));
        let mut kept = keep.iter().copied();
        lines.retain(|_| kept.next().unwrap_or(true));
    }
    let skipped = rejects.finish(options)?;
    if signals.is_empty() && skipped.is_empty() {
        return Err(FormatError::Empty { path: path.to_path_buf() });
    }
    Ok(SignalFile { path: path.to_path_buf(), signals, lines, skipped })
}

/// One signal of a JSON array as serde reads it in one pass: the daemon's
/// fast path for a batch that is all valid. Any problem sends the batch
/// through [`Item`], which names every one.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    signal_id: String,
    symbol: String,
    side: String,
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

impl Record {
    /// The signal when it is valid; `None` says "read it with [`Item`]".
    fn into_valid_signal(self, names: &mut Names) -> Option<Signal> {
        let signal = Signal {
            id: SignalId::new(self.signal_id),
            symbol: Symbol::new(self.symbol.as_str()),
            side: self.side.parse().ok()?,
            entry_ts: timestamp_from_json(&self.entry_ts).ok()?,
            entry_price: self.entry_price,
            take_profit: self.take_profit,
            stop_loss: self.stop_loss,
            max_hold_ms: self.max_hold_minutes.map(hold_ms).transpose().ok()?,
            confidence: self.confidence,
            pattern: self.pattern.filter(|p| !p.is_empty()),
            regime: self.regime.filter(|r| !r.is_empty()),
            heads: names.share(self.heads),
            indicators: names.share(self.indicators),
        };
        signal.validate().is_ok().then_some(signal)
    }
}

/// Every field of a signal but its heads and indicators, in the order their
/// problems are listed.
const FIELDS: [&str; 11] = [
    "signal_id",
    "symbol",
    "side",
    "entry_ts",
    "entry_price",
    "take_profit",
    "stop_loss",
    "max_hold_minutes",
    "confidence",
    "pattern",
    "regime",
];

/// The keys of a JSON signal beyond [`FIELDS`].
const JSON_LISTS: [&str; 2] = ["heads", "indicators"];

/// One signal (a CSV row or a JSON object) taken apart into its fields,
/// none of them read yet. [`Item::into_signal`] reads each field on its own
/// and then checks the rules of a valid signal, so that every problem is
/// named at once; the CSV and JSON Lines readers and the daemon's intake
/// all read signals through it.
#[derive(Debug)]
struct Item<'a> {
    /// The cell of each of [`FIELDS`], in that order.
    cells: [Cell<'a>; FIELDS.len()],
    /// Each head's and each indicator's name and cell.
    heads: Vec<(Arc<str>, Cell<'a>)>,
    indicators: Vec<(Arc<str>, Cell<'a>)>,
    /// Problems found while taking the item apart: not an object, unknown
    /// keys, `heads` that is not an object.
    problems: Vec<FieldProblem>,
}

/// The problems of one item while its fields are read.
struct Problems(Vec<FieldProblem>);

impl Problems {
    /// The value of a field, or `None` with its problem recorded (a
    /// required field that is absent is one).
    fn take<T>(&mut self, field: &str, required: bool, read: Result<Option<T>, String>) -> Option<T> {
        match read {
            Ok(None) if required => {
                self.0.push((field.to_owned(), format!("missing value; every signal needs {field}")));
                None
            }
            Ok(value) => value,
            Err(reason) => {
                self.0.push((field.to_owned(), reason));
                None
            }
        }
    }

    fn has(&self, field: &str) -> bool {
        self.0.iter().any(|(name, _)| name == field)
    }

    /// The values of heads or indicators (`field` `heads` or `indicators`,
    /// each named `prefix` `head.` or `ind.` and its name): each cell that
    /// is not a number is a problem of its own. Past [`MAX_VALUES`] of them
    /// only their count is, so a problem list stays as short as a signal.
    fn values(&mut self, field: &str, prefix: &str, cells: Vec<(Arc<str>, Cell<'_>)>) -> Values {
        if cells.len() > MAX_VALUES {
            let count = cells.len();
            self.0.push((field.to_owned(), format!("{field} has {count} entries; the most is {MAX_VALUES}")));
            return Values::new();
        }
        let mut values = Vec::with_capacity(cells.len());
        for (name, cell) in cells {
            let field = format!("{prefix}{}", cut(&name));
            if let Some(value) = self.take(&field, false, cell.number()) {
                values.push((name, value));
            }
        }
        values.into_iter().collect()
    }
}

impl<'a> Item<'a> {
    fn new() -> Self {
        Item {
            cells: [Cell::Absent; FIELDS.len()],
            heads: Vec::new(),
            indicators: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// A JSON object with the JSON Lines keys; head and indicator names are
    /// shared through `names`.
    fn from_json(value: &'a serde_json::Value, names: &mut Names) -> Self {
        let mut item = Item::new();
        let Some(object) = value.as_object() else {
            item.problems.push(("-".to_owned(), format!("{} is not a JSON object", shown(value))));
            return item;
        };
        for (cell, field) in item.cells.iter_mut().zip(FIELDS) {
            *cell = object.get(field).map_or(Cell::Absent, Cell::Json);
        }
        for (key, list) in [("heads", &mut item.heads), ("indicators", &mut item.indicators)] {
            match object.get(key) {
                None | Some(serde_json::Value::Null) => {}
                Some(serde_json::Value::Object(values)) => {
                    list.extend(values.iter().map(|(name, value)| (names.get(name), Cell::Json(value))));
                }
                Some(other) => item.problems.push((
                    key.to_owned(),
                    format!("{} is not an object of numbers like {{\"rsi\": 0.4}}", shown(other)),
                )),
            }
        }
        let known = |key: &str| FIELDS.contains(&key) || JSON_LISTS.contains(&key);
        for key in object.keys().filter(|key| !known(key)) {
            let key = cut(key);
            item.problems.push((
                key.clone(),
                format!(
                    "unknown field {key:?}; remove it or fix its name (the fields are {}, {})",
                    FIELDS.join(", "),
                    JSON_LISTS.join(", ")
                ),
            ));
        }
        item
    }

    /// The valid signal, or every problem with it: each field that cannot
    /// be read, then each rule of a valid signal that a readable field
    /// breaks. A rule between fields (a level on the wrong side of the
    /// entry, no exit at all) is checked only when the fields it needs
    /// could be read, so no problem is a consequence of another.
    fn into_signal(self, names: &mut Names) -> Result<Signal, Vec<FieldProblem>> {
        let [
            id,
            symbol,
            side,
            entry_ts,
            entry_price,
            take_profit,
            stop_loss,
            max_hold,
            confidence,
            pattern,
            regime,
        ] = self.cells;
        let mut problems = Problems(self.problems);
        let id = problems.take("signal_id", true, id.text("a string"));
        let symbol = problems.take("symbol", true, symbol.text("a string"));
        let side = side.text("\"long\" or \"short\"").and_then(|side| {
            side.map(|s| s.parse::<Side>().map_err(|e| format!("{e}; use long or short"))).transpose()
        });
        let side = problems.take("side", true, side);
        let entry_ts = problems.take("entry_ts", true, entry_ts.instant());
        let entry_price = problems.take("entry_price", true, entry_price.number());
        let take_profit = problems.take("take_profit", false, take_profit.number());
        let stop_loss = problems.take("stop_loss", false, stop_loss.number());
        let max_hold = max_hold.number().and_then(|minutes| minutes.map(hold_ms).transpose());
        let max_hold_ms = problems.take("max_hold_minutes", false, max_hold);
        let confidence = problems.take("confidence", false, confidence.number());
        let pattern = problems.take("pattern", false, pattern.text("a string"));
        let regime = problems.take("regime", false, regime.text("a string"));
        let heads = problems.values("heads", "head.", self.heads);
        let indicators = problems.values("indicators", "ind.", self.indicators);
        // A field that could not be read stands in as a value its own rule
        // refuses (an empty id, a NaN price), and that problem is not listed twice.
        let signal = Signal {
            id: SignalId::new(id.unwrap_or_default()),
            // One allocation per symbol, shared by its signals.
            symbol: Symbol::new(names.get(symbol.unwrap_or_default())),
            side: side.unwrap_or(Side::Long),
            entry_ts: entry_ts.unwrap_or(Timestamp(0)),
            entry_price: entry_price.unwrap_or(f64::NAN),
            take_profit,
            stop_loss,
            max_hold_ms,
            confidence,
            pattern: pattern.filter(|p| !p.is_empty()).map(str::to_owned),
            regime: regime.filter(|r| !r.is_empty()).map(str::to_owned),
            heads,
            indicators,
        };
        let unread = |problems: &Problems, error: &SignalError| match error {
            SignalError::WrongSide { .. } => problems.has("side") || problems.has("entry_price"),
            SignalError::NoExit => problems.has("take_profit") || problems.has("stop_loss"),
            _ => false,
        } || problems.has(&error.field());
        for error in signal.problems() {
            if !unread(&problems, &error) {
                problems.0.push((error.field(), error.to_string()));
            }
        }
        if problems.0.is_empty() { Ok(signal) } else { Err(problems.0) }
    }
}

/// A hold in minutes as milliseconds: positive and at most ten years.
fn hold_ms(minutes: f64) -> Result<i64, String> {
    if !(minutes.is_finite() && minutes > 0.0) {
        return Err(format!("{minutes} is not a positive number of minutes; use one, or leave it empty"));
    }
    let millis = (minutes * MILLIS_PER_MINUTE as f64).round();
    if millis > MAX_HOLD_MS as f64 {
        return Err(format!(
            "{minutes} minutes is longer than ten years ({} minutes); use a shorter hold",
            MAX_HOLD_MS / MILLIS_PER_MINUTE
        ));
    }
    Ok(millis as i64)
}

fn read_json_lines(path: &Path, rejects: &mut Rejects<'_>, parsed: &mut Parsed) -> Result<(), FormatError> {
    let reader = BufReader::new(super::open(path)?);
    let mut names = Names::default();
    for (n, line) in reader.lines().enumerate() {
        let line_no = n as u64 + 1;
        let text = line.map_err(|source| FormatError::Io { path: path.to_path_buf(), source })?;
        if text.trim().is_empty() {
            continue;
        }
        let read = super::json::from_str(&text)
            .map_err(|error| match error.is_data() {
                true => vec![("-".to_owned(), error.to_string())],
                false => vec![("-".to_owned(), format!("the line is not JSON: {error}"))],
            })
            .and_then(|value| signal_from_json(value, &mut names));
        match read {
            Ok(signal) => parsed.push(line_no, signal),
            Err(problems) => rejects.add_all(line_no, problems),
        }
    }
    Ok(())
}

/// Reads a JSON array of signals in one pass; `None` when any item is not a
/// valid signal (the caller then reads them one by one with
/// [`signal_from_json`] to say what is wrong).
pub fn signals_from_json_array(text: &str, names: &mut Names) -> Option<Vec<Signal>> {
    let records: Vec<Record> = serde_json::from_str(text).ok()?;
    records.into_iter().map(|record| record.into_valid_signal(names)).collect()
}

/// Reads one signal from a JSON object with the JSON Lines keys (as the
/// daemon receives them and JSON Lines files hold them). The error lists
/// every problem as (field, reason): unknown keys, missing keys, values of
/// the wrong type and values that break a rule, all at once.
pub fn signal_from_json(value: serde_json::Value, names: &mut Names) -> Result<Signal, Vec<FieldProblem>> {
    Item::from_json(&value, names).into_signal(names)
}

/// The CSV columns of a signals file.
struct CsvLayout {
    /// The column of each of [`FIELDS`], in that order.
    fixed: [Option<usize>; FIELDS.len()],
    /// Name (shared by every row) and position of each `head.*` column.
    heads: Vec<(Arc<str>, usize)>,
    indicators: Vec<(Arc<str>, usize)>,
}

impl CsvLayout {
    fn new(path: &Path, columns: &Columns) -> Result<Self, FormatError> {
        let expected = REQUIRED.join(",");
        let mut fixed = [None; FIELDS.len()];
        for (slot, name) in fixed.iter_mut().zip(FIELDS) {
            *slot = match REQUIRED.contains(&name) {
                true => Some(columns.require(path, name, &expected)?),
                false => columns.get(name),
            };
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
        Ok(CsvLayout { fixed, heads, indicators })
    }

    /// The fields of one row, to be read by [`Item::into_signal`].
    fn item<'r>(&self, row: &'r csv::StringRecord) -> Item<'r> {
        let cell = |i: usize| columns::cell(row, i).map_or(Cell::Absent, Cell::Text);
        let mut item = Item::new();
        for (slot, column) in item.cells.iter_mut().zip(self.fixed) {
            *slot = column.map_or(Cell::Absent, cell);
        }
        item.heads = self.heads.iter().map(|(name, i)| (Arc::clone(name), cell(*i))).collect();
        item.indicators = self.indicators.iter().map(|(name, i)| (Arc::clone(name), cell(*i))).collect();
        item
    }
}

/// The signals of a file as read, with the line of each.
#[derive(Default)]
struct Parsed {
    signals: Vec<Signal>,
    lines: Vec<u64>,
}

impl Parsed {
    fn push(&mut self, line: u64, signal: Signal) {
        self.signals.push(signal);
        self.lines.push(line);
    }
}

fn read_csv(path: &Path, rejects: &mut Rejects<'_>, parsed: &mut Parsed) -> Result<(), FormatError> {
    let (mut reader, columns) = columns::reader(path)?;
    let layout = CsvLayout::new(path, &columns)?;
    let mut names = Names::default();
    let mut row = csv::StringRecord::new();
    loop {
        let next_line = reader.position().line();
        match reader.read_record(&mut row) {
            Ok(false) => break,
            Ok(true) => {}
            Err(error) => {
                let error = super::fatal(path, error)?;
                rejects.add(
                    error.position().map_or(next_line, csv::Position::line),
                    "-",
                    format!("unreadable row: {error}"),
                );
                continue;
            }
        }
        let line = row.position().map_or(next_line, csv::Position::line);
        match layout.item(&row).into_signal(&mut names) {
            Ok(signal) => parsed.push(line, signal),
            Err(problems) => rejects.add_all(line, problems),
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
    let mut header: Vec<String> = FIELDS.iter().map(|s| (*s).to_owned()).collect();
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
    fn csv_cells_are_read_without_the_spaces_around_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(
            &dir,
            "s.csv",
            &format!(
                "{HEADER}, pattern ,head.rsi\n a ,\tBTC , short , 2020-01-01T00:00:00Z,100 , 90, 105 , 60 , trend , 0.5 \n"
            ),
        );
        let file = read_signals(&path, ReadOptions::default()).unwrap();
        let [a] = &file.signals[..] else { panic!("{:?}", file.signals) };
        assert_eq!((a.id.as_str(), a.symbol.as_str(), a.side), ("a", "BTC", Side::Short));
        assert_eq!(
            (a.entry_ts, a.entry_price, a.take_profit, a.stop_loss),
            (Timestamp(1_577_836_800_000), 100.0, Some(90.0), Some(105.0))
        );
        assert_eq!((a.max_hold_ms, a.pattern.as_deref()), (Some(3_600_000), Some("trend")));
        assert_eq!(a.heads, Values::from([("rsi", 0.5)]));
    }

    #[test]
    fn a_json_line_naming_a_key_twice_is_a_bad_row_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let good = r#"{"signal_id":"a","symbol":"BTC","side":"long","entry_ts":"2024-01-01T00:00:00Z","entry_price":100,"take_profit":110,"stop_loss":95}"#;
        let twice =
            good.replace(r#""side":"long","#, r#""side":"long","side":"short","#).replace("\"a\"", "\"b\"");
        let path = file(&dir, "s.jsonl", &format!("{good}\n{twice}\n"));
        let error = read_signals(&path, ReadOptions::default()).unwrap_err().to_string();
        assert!(error.contains("s.jsonl:2") && error.contains("\"side\" appears twice"), "{error}");
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

    /// The fields and reasons of every problem of each line of a file refused.
    fn problems_by_line(path: &Path) -> Vec<(u64, String, String)> {
        match read_signals(path, ReadOptions::default()) {
            Err(FormatError::InvalidRows { errors }) => {
                assert_eq!(errors.problems, errors.examples.len(), "every problem shown");
                errors.examples.into_iter().map(|e| (e.line, e.field, e.reason)).collect()
            }
            other => panic!("expected bad rows, got {other:?}"),
        }
    }

    /// Checks that line `line` has exactly the problems `expected` (field,
    /// and a piece of the reason naming the value or the rule), in any order.
    fn assert_problems(found: &[(u64, String, String)], line: u64, expected: &[(&str, &str)]) {
        let mut on_line: Vec<(&str, &str)> =
            found.iter().filter(|p| p.0 == line).map(|p| (p.1.as_str(), p.2.as_str())).collect();
        on_line.sort();
        let mut fields: Vec<&str> = on_line.iter().map(|p| p.0).collect();
        fields.dedup();
        let mut wanted: Vec<&str> = expected.iter().map(|e| e.0).collect();
        wanted.sort();
        assert_eq!(fields, wanted, "line {line}: {on_line:#?}");
        assert_eq!(on_line.len(), expected.len(), "one problem a field on line {line}: {on_line:#?}");
        for (field, piece) in expected {
            let reason = on_line.iter().find(|p| p.0 == *field).unwrap().1;
            assert!(reason.contains(piece), "line {line}, {field}: {reason:?} lacks {piece:?}");
        }
    }

    #[test]
    fn every_bad_field_of_a_row_or_line_is_listed_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let (id, symbol) = ("i".repeat(200), "S".repeat(70));
        // Row 2: six problems, one a field; row 3: three; row 4: a number
        // that is not one, beside a rule broken by another field.
        let csv = file(
            &dir,
            "s.csv",
            &format!(
                "{HEADER},confidence,head.rsi\n\
                 {id},{symbol},up,2024-05-01T10:00:00Z,-1,110,95,,2,5\n\
                 b,BTC,long,2024-05-01T10:00:00Z,100,90,95,6000000,-1,\n\
                 c,BTC,long,2024-05-01T10:00:00Z,abc,110,95,,2,\n"
            ),
        );
        let jsonl = file(
            &dir,
            "s.jsonl",
            &format!(
                "{{\"signal_id\":\"{id}\",\"symbol\":\"{symbol}\",\"side\":\"up\",\"entry_ts\":\"2024-05-01T10:00:00Z\",\
                 \"entry_price\":-1,\"take_profit\":110,\"stop_loss\":95,\"confidence\":2,\"heads\":{{\"rsi\":5}}}}\n\
                 {{\"signal_id\":\"b\",\"symbol\":\"BTC\",\"side\":\"long\",\"entry_ts\":\"2024-05-01T10:00:00Z\",\
                 \"entry_price\":100,\"take_profit\":90,\"stop_loss\":95,\"max_hold_minutes\":6000000,\"confidence\":-1}}\n\
                 {{\"signal_id\":\"c\",\"symbol\":\"BTC\",\"side\":\"long\",\"entry_ts\":\"2024-05-01T10:00:00Z\",\
                 \"entry_price\":\"abc\",\"take_profit\":110,\"stop_loss\":95,\"confidence\":2,\"colour\":1}}\n"
            ),
        );
        let first = [
            ("signal_id", "200 bytes long; the most is 128"),
            ("symbol", "70 bytes long; the most is 64"),
            ("side", "\"up\""),
            ("entry_price", "-1"),
            ("confidence", "confidence 2 is outside [0, 1]"),
            ("head.rsi", "vote 5 of head \"rsi\" is outside [-1, 1]"),
        ];
        let second = [
            ("max_hold_minutes", "6000000 minutes is longer than ten years"),
            ("take_profit", "take_profit 90 is on the wrong side"),
            ("confidence", "confidence -1 is outside [0, 1]"),
        ];
        let csv_found = problems_by_line(&csv);
        assert_problems(&csv_found, 2, &first);
        assert_problems(&csv_found, 3, &second);
        assert_problems(&csv_found, 4, &[("entry_price", "\"abc\" is not a number"), ("confidence", "2")]);
        let json_found = problems_by_line(&jsonl);
        assert_problems(&json_found, 1, &first);
        assert_problems(&json_found, 2, &second);
        assert_problems(
            &json_found,
            3,
            &[
                ("entry_price", "\"abc\" is not a number"),
                ("confidence", "2"),
                ("colour", "unknown field \"colour\""),
            ],
        );
    }

    #[test]
    fn a_json_signal_lists_every_problem_and_reads_a_valid_one_as_the_one_pass_reader_does() {
        let mut names = Names::default();
        let bad = serde_json::json!({"signal_id": 7, "symbol": "BTC", "side": "long", "entry_ts": true,
            "entry_price": 100, "stop_loss": 95, "heads": {"rsi": "high"}, "indicators": [1]});
        let problems = signal_from_json(bad, &mut names).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(fields, ["indicators", "signal_id", "entry_ts", "head.rsi"], "{problems:#?}");
        // Past the most heads a signal may have, one problem says how many.
        let many: serde_json::Map<String, serde_json::Value> =
            (0..10_000).map(|i| (format!("h{i}"), serde_json::Value::from("x"))).collect();
        let crowded = serde_json::json!({"signal_id": "a", "symbol": "BTC", "side": "long", "entry_ts": 0,
            "entry_price": 100, "stop_loss": 95, "heads": many});
        let problems = signal_from_json(crowded, &mut names).unwrap_err();
        assert_eq!(problems, [("heads".to_owned(), "heads has 10000 entries; the most is 256".to_owned())]);
        let good = r#"{"signal_id":"a","symbol":"BTC","side":"sell","entry_ts":1714557600000,"entry_price":100,
            "take_profit":90,"stop_loss":null,"max_hold_minutes":60,"pattern":"","heads":{"rsi":-0.5}}"#;
        let one = signal_from_json(serde_json::from_str(good).unwrap(), &mut names).unwrap();
        let array = signals_from_json_array(&format!("[{good}]"), &mut names).unwrap();
        assert_eq!(array, std::slice::from_ref(&one));
        assert_eq!(
            (one.side, one.max_hold_ms, one.stop_loss, one.pattern),
            (Side::Short, Some(3_600_000), None, None)
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

    /// A JSON signal with every required field and an exit (a stop loss),
    /// with `changes` set on top.
    fn json_signal(changes: serde_json::Value) -> serde_json::Value {
        let mut signal = serde_json::json!({"signal_id": "a", "symbol": "BTC", "side": "long",
            "entry_ts": "2024-05-01T10:00:00Z", "entry_price": 100, "stop_loss": 95});
        let object = signal.as_object_mut().unwrap();
        for (key, value) in changes.as_object().unwrap() {
            object.insert(key.clone(), value.clone());
        }
        signal
    }

    fn json_problems(changes: serde_json::Value) -> Vec<FieldProblem> {
        signal_from_json(json_signal(changes), &mut Names::default()).unwrap_err()
    }

    fn problem(field: &str, reason: &str) -> FieldProblem {
        (field.to_owned(), reason.to_owned())
    }

    #[test]
    fn a_required_field_left_out_or_null_is_missing_and_an_optional_one_may_be() {
        let mut names = Names::default();
        let mut no_id = json_signal(serde_json::json!({}));
        no_id.as_object_mut().unwrap().remove("signal_id");
        assert_eq!(
            signal_from_json(no_id, &mut names).unwrap_err(),
            [problem("signal_id", "missing value; every signal needs signal_id")]
        );
        // A JSON null is absent too, for text, time and number fields alike.
        for field in ["symbol", "side", "entry_ts", "entry_price"] {
            assert_eq!(
                json_problems(serde_json::json!({ field: null })),
                [problem(field, &format!("missing value; every signal needs {field}"))],
            );
        }
        // Optional fields left out or null: a valid signal without them.
        let signal = signal_from_json(
            json_signal(serde_json::json!({"take_profit": null, "confidence": null, "pattern": null})),
            &mut names,
        )
        .unwrap();
        assert_eq!((signal.take_profit, signal.confidence, signal.pattern), (None, None, None));
        assert_eq!((signal.stop_loss, signal.max_hold_ms), (Some(95.0), None));
    }

    #[test]
    fn a_hold_of_zero_or_fewer_minutes_is_refused_as_not_positive() {
        for (minutes, shown) in [(serde_json::json!(0), "0"), (serde_json::json!(-5), "-5")] {
            assert_eq!(
                json_problems(serde_json::json!({ "max_hold_minutes": minutes })),
                [problem(
                    "max_hold_minutes",
                    &format!("{shown} is not a positive number of minutes; use one, or leave it empty")
                )],
            );
        }
        let mut names = Names::default();
        let half = signal_from_json(json_signal(serde_json::json!({"max_hold_minutes": 0.5})), &mut names);
        assert_eq!(half.unwrap().max_hold_ms, Some(30_000));
    }

    #[test]
    fn exactly_the_most_heads_are_accepted_and_one_more_is_refused() {
        let heads = |count: usize| -> serde_json::Map<String, serde_json::Value> {
            (0..count).map(|i| (format!("h{i}"), serde_json::Value::from(0.5))).collect()
        };
        let mut names = Names::default();
        let signal =
            signal_from_json(json_signal(serde_json::json!({ "heads": heads(256) })), &mut names).unwrap();
        assert_eq!(signal.heads.len(), 256);
        assert_eq!(
            json_problems(serde_json::json!({ "indicators": heads(257) })),
            [problem("indicators", "indicators has 257 entries; the most is 256")]
        );
    }

    #[test]
    fn a_regime_and_a_pattern_are_kept_and_empty_ones_are_none_on_both_json_paths() {
        let mut names = Names::default();
        let set = json_signal(serde_json::json!({"pattern": "trend", "regime": "range_low_vol"}));
        let empty = json_signal(serde_json::json!({"pattern": "", "regime": ""}));
        let array = format!("[{set},{empty}]");
        let fast = signals_from_json_array(&array, &mut names).unwrap();
        let slow = [set, empty].map(|value| signal_from_json(value, &mut names).unwrap());
        for [set, empty] in [[&fast[0], &fast[1]], [&slow[0], &slow[1]]] {
            assert_eq!(
                (set.pattern.as_deref(), set.regime.as_deref()),
                (Some("trend"), Some("range_low_vol"))
            );
            assert_eq!((empty.pattern.as_deref(), empty.regime.as_deref()), (None, None));
        }
    }

    #[test]
    fn a_rule_between_fields_is_not_listed_when_a_field_it_needs_is_unread() {
        // An unread side: its levels are not checked against a guessed side.
        let problems = json_problems(serde_json::json!({"side": "up", "take_profit": 90, "stop_loss": 110}));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "side", "{problems:?}");
        // An unread take_profit or stop_loss, and no other exit: the signal
        // is not also said to have no exit.
        for level in ["take_profit", "stop_loss"] {
            let mut item = json_signal(serde_json::json!({ level: "abc" }));
            let object = item.as_object_mut().unwrap();
            if level == "take_profit" {
                object.remove("stop_loss");
            }
            assert_eq!(
                signal_from_json(item, &mut Names::default()).unwrap_err(),
                [problem(level, "\"abc\" is not a number; write it without quotes")]
            );
        }
        // Read, the same levels are on the wrong side, and no exit is one.
        let wrong = json_problems(serde_json::json!({"side": "short", "take_profit": 110}));
        let fields: Vec<&str> = wrong.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(fields, ["take_profit", "stop_loss"], "{wrong:?}");
        let mut none = json_signal(serde_json::json!({}));
        none.as_object_mut().unwrap().remove("stop_loss");
        let problems = signal_from_json(none, &mut Names::default()).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "max_hold_minutes", "{problems:?}");
    }

    #[test]
    fn empty_csv_cells_are_absent_and_a_missing_required_one_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(
            &dir,
            "s.csv",
            &format!("{HEADER},pattern\na,,long,,100,,95,,\nb,BTC,long,2024-05-01,100,,95,,\n"),
        );
        match read_signals(&path, ReadOptions { skip_invalid: true }) {
            Ok(read) => {
                assert_eq!(read.lines, [3]);
                assert_eq!((read.signals[0].take_profit, read.signals[0].pattern.as_deref()), (None, None));
                let reasons: Vec<(&str, &str)> =
                    read.skipped.examples.iter().map(|e| (e.field.as_str(), e.reason.as_str())).collect();
                assert_eq!(
                    reasons,
                    [
                        ("symbol", "missing value; every signal needs symbol"),
                        ("entry_ts", "missing value; every signal needs entry_ts"),
                    ]
                );
            }
            Err(error) => panic!("{error}"),
        }
    }
}
