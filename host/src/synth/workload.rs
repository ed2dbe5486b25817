//! The big replay workload (issue 12), built without Python: `scale`
//! time-shifted copies of real candle files and `signals` random, valid
//! signals over them, by the recipe of `make_candles.py` and
//! `make_signals.py` in `../shared/bench` (whose numba peer reads the same
//! files).
//!
//! [`write_candles`] reads one source file at a time and writes its copies:
//! copy `k` (1 to `scale`) of `ETH-BTC_5m.csv` is `ETH-BTC#k_5m.csv`, symbol
//! `ETH-BTC#k`, every `ts` moved `k × shift_days` later; prices and volumes
//! are copied as text. Whole weeks keep candles on their timeframe grid and
//! weekend gaps on weekends. The names go to `candle_files.txt`.
//!
//! [`write_signals`] draws the signals one after the other and writes each
//! row as it is drawn, in id order: a copy uniformly, then a candle `i`
//! uniformly among those with 15 candles before it. The signal enters at
//! candle `i`'s open time at the close of candle `i - 1` (its text, as
//! written), with ATR = the mean true range of candles `i - 14 ..= i - 1`,
//! at least 0.01 % of the entry. Long or short 50/50; TP and SL distances
//! ATR × U(`atr`), each capped at 90 % of the entry; levels rounded to 8
//! significant digits; max hold = timeframe × U{`hold`} candles. A draw that
//! siglearn would refuse (a zero close, say) is drawn again, from the same
//! stream. A copy differs from its source only by the shift, so only each
//! source's open times, closes and ATRs are kept (about 40 bytes a source
//! candle), never the copies.
//!
//! The draws come from the generator of [`super::rng`], not numpy: which
//! signals are drawn differs from the Python files, but one [`Workload`]
//! always gives the same bytes, on every machine.

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use siglearn_plugin_api::{MILLIS_PER_DAY, MILLIS_PER_MINUTE, Timestamp};

use super::rng::Rng;
use crate::format::parse_f64;
use crate::timestamp::{MAX_HOLD_MS, parse_timestamp, write_timestamp};

/// Candles in a signal's ATR window.
const ATR_LEN: usize = 14;
/// Columns of a candle file, read by name and written in this order.
const CANDLE_COLUMNS: [&str; 7] = ["symbol", "ts", "open", "high", "low", "close", "volume"];
const SIGNALS_HEADER: &str =
    "signal_id,symbol,side,entry_ts,entry_price,take_profit,stop_loss,max_hold_minutes\n";
/// The list of written candle files, one name a line.
pub const CANDLE_LIST: &str = "candle_files.txt";
/// Draws of one signal before giving up: only input where almost every
/// candle gives a signal siglearn refuses gets there.
const MAX_DRAWS: u32 = 1000;
/// The furthest a copy may move, fifty years: copies of candles from before
/// 2050 stay before 2100, the end of the dates siglearn reads.
const MAX_SHIFT_DAYS: u64 = 50 * 365;
/// Output buffers: large writes, few system calls.
const BUFFER_BYTES: usize = 1 << 20;

/// What to build: the source files, how many copies, how many signals and
/// how they are drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    /// Folder of the source candle files.
    pub data_dir: PathBuf,
    /// Source files in `data_dir`, each named `NAME_TIMEFRAME.csv`
    /// (`ETH-BTC_5m.csv`) and holding one symbol.
    pub files: Vec<String>,
    /// Copies of each source file. Default 10.
    pub scale: u32,
    /// Days between one copy and the next. Default 7.
    pub shift_days: u32,
    /// Signals to draw. Default 1,000,000.
    pub signals: usize,
    /// The seed of every draw. Default 7.
    pub seed: u64,
    /// TP and SL distances are ATR × U(`atr.0`, `atr.1`). Default (0.5, 3).
    pub atr: (f64, f64),
    /// Max hold in candles, uniform over `hold.0 ..= hold.1`. Default (10, 200).
    pub hold: (u32, u32),
}

impl Workload {
    /// The default workload over `files` of `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>, files: Vec<String>) -> Self {
        Workload {
            data_dir: data_dir.into(),
            files,
            scale: 10,
            shift_days: 7,
            signals: 1_000_000,
            seed: 7,
            atr: (0.5, 3.0),
            hold: (10, 200),
        }
    }

    /// The default workload over the files named in `list` (one a line,
    /// like `candle_files.txt`), in `data_dir`.
    pub fn from_list(data_dir: impl Into<PathBuf>, list: &Path) -> Result<Self, WorkloadError> {
        let text = std::fs::read_to_string(list)
            .map_err(|source| WorkloadError::Read { path: list.to_path_buf(), source })?;
        let files = text.lines().map(str::trim).filter(|line| !line.is_empty()).map(str::to_owned).collect();
        Ok(Workload::new(data_dir, files))
    }

    /// Every problem of the settings at once.
    pub fn validate(&self) -> Result<(), WorkloadError> {
        let mut problems = Vec::new();
        if self.files.is_empty() {
            problems.push("no source candle files".to_owned());
        }
        if self.scale == 0 {
            problems.push("scale must be at least 1".to_owned());
        }
        if u64::from(self.scale) * u64::from(self.shift_days) > MAX_SHIFT_DAYS {
            problems.push(format!(
                "scale {} x shift_days {} moves the last copy over 50 years; siglearn reads dates before 2100",
                self.scale, self.shift_days
            ));
        }
        if self.signals == 0 {
            problems.push("signals must be at least 1".to_owned());
        }
        let (low, high) = self.atr;
        if !(low.is_finite() && high.is_finite() && 0.0 < low && low <= high) {
            problems.push(format!("atr ({low}, {high}): need 0 < LO <= HI"));
        }
        let (shortest, longest) = self.hold;
        if !(1 <= shortest && shortest <= longest) {
            problems.push(format!("hold ({shortest}, {longest}): need 1 <= LO <= HI candles"));
        }
        if problems.is_empty() { Ok(()) } else { Err(WorkloadError::Invalid(problems)) }
    }

    fn shift_ms(&self, copy: u32) -> i64 {
        i64::from(copy) * i64::from(self.shift_days) * MILLIS_PER_DAY
    }
}

/// Why a workload cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// Every problem of the settings.
    #[error("invalid workload: {}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    /// A source file siglearn's recipe cannot use as a whole.
    #[error("{}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    /// A row of a source file that cannot be read.
    #[error("{}:{line}: {reason}", path.display())]
    Row { path: PathBuf, line: u64, reason: String },
    /// Draw after draw gave a signal siglearn would refuse.
    #[error(
        "signal {number}: {MAX_DRAWS} draws in a row gave signals siglearn would refuse; \
         check the source closes (zero?) and the hold range (over ten years?)"
    )]
    NoValidSignal { number: usize },
}

/// What [`write_candles`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CandlesWritten {
    /// The candle files, in the order of `candle_files.txt`.
    pub files: Vec<String>,
    /// Candles in all of them.
    pub candles: u64,
}

/// What [`write_signals`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignalsWritten {
    /// Signals written.
    pub signals: usize,
    /// Draws thrown away because siglearn would refuse the signal.
    pub redrawn: usize,
}

/// Writes `scale` shifted copies of every source file into `out_dir`, and
/// their names into `out_dir/candle_files.txt`: source by source, copy 1
/// to `scale`.
pub fn write_candles(workload: &Workload, out_dir: &Path) -> Result<CandlesWritten, WorkloadError> {
    workload.validate()?;
    std::fs::create_dir_all(out_dir)
        .map_err(|source| WorkloadError::Write { path: out_dir.to_path_buf(), source })?;
    let mut written = CandlesWritten { files: Vec::new(), candles: 0 };
    let mut symbols = HashSet::new();
    for name in &workload.files {
        let source = Source::read(&workload.data_dir, name)?;
        if !symbols.insert(source.symbol.clone()) {
            return Err(WorkloadError::File {
                path: source.path,
                reason: format!(
                    "{} is in an earlier file too; its copies would overwrite those",
                    source.symbol
                ),
            });
        }
        for copy in 1..=workload.scale {
            let name = format!("{}#{copy}_{}.csv", source.symbol, source.timeframe);
            write_copy(&source, copy, workload.shift_ms(copy), &out_dir.join(&name))?;
            written.candles += source.ts.len() as u64;
            written.files.push(name);
        }
    }
    let list = out_dir.join(CANDLE_LIST);
    let text: String = written.files.iter().map(|name| format!("{name}\n")).collect();
    std::fs::write(&list, text).map_err(|source| WorkloadError::Write { path: list, source })?;
    Ok(written)
}

/// Draws `workload.signals` signals over the copies [`write_candles`]
/// writes and writes them to `path` as a siglearn signals CSV.
pub fn write_signals(workload: &Workload, path: &Path) -> Result<SignalsWritten, WorkloadError> {
    workload.validate()?;
    let sources = workload
        .files
        .iter()
        .map(|name| Source::read(&workload.data_dir, name).and_then(Entries::new))
        .collect::<Result<Vec<_>, _>>()?;
    let fail = |source: std::io::Error| WorkloadError::Write { path: path.to_path_buf(), source };
    let mut out = BufWriter::with_capacity(BUFFER_BYTES, std::fs::File::create(path).map_err(fail)?);
    out.write_all(SIGNALS_HEADER.as_bytes()).map_err(fail)?;
    let mut rng = Rng::new(workload.seed, 0);
    let width = workload.signals.to_string().len();
    let mut redrawn = 0;
    let mut line = Vec::with_capacity(128);
    for number in 1..=workload.signals {
        let mut draws = 1;
        let drawn = loop {
            if let Some(drawn) = draw(&mut rng, &sources, workload) {
                break drawn;
            }
            if draws == MAX_DRAWS {
                return Err(WorkloadError::NoValidSignal { number });
            }
            draws += 1;
            redrawn += 1;
        };
        line.clear();
        drawn.write_row(number, width, workload, &mut line);
        out.write_all(&line).map_err(fail)?;
    }
    out.flush().map_err(fail)?;
    Ok(SignalsWritten { signals: workload.signals, redrawn })
}

/// One copy of `source`: symbol `SYMBOL#copy`, times moved by `shift_ms`.
fn write_copy(source: &Source, copy: u32, shift_ms: i64, path: &Path) -> Result<(), WorkloadError> {
    let fail = |source: std::io::Error| WorkloadError::Write { path: path.to_path_buf(), source };
    let mut out = BufWriter::with_capacity(BUFFER_BYTES, std::fs::File::create(path).map_err(fail)?);
    let symbol = format!("{}#{copy}", source.symbol);
    let mut line = Vec::with_capacity(128);
    line.extend_from_slice(CANDLE_COLUMNS.join(",").as_bytes());
    line.push(b'\n');
    out.write_all(&line).map_err(fail)?;
    for (i, &ts) in source.ts.iter().enumerate() {
        line.clear();
        line.extend_from_slice(symbol.as_bytes());
        line.push(b',');
        write_timestamp(&mut line, ts + shift_ms);
        line.push(b',');
        line.extend_from_slice(source.values.get(i).as_bytes());
        line.push(b'\n');
        out.write_all(&line).map_err(fail)?;
    }
    out.flush().map_err(fail)
}

/// Strings back to back in one buffer: a column of a file in one allocation.
#[derive(Debug, Default)]
struct Texts {
    text: String,
    ends: Vec<usize>,
}

impl Texts {
    /// Adds one string made of `parts` joined by commas.
    fn push<'a>(&mut self, parts: impl IntoIterator<Item = &'a str>) {
        for (n, part) in parts.into_iter().enumerate() {
            if n > 0 {
                self.text.push(',');
            }
            self.text.push_str(part);
        }
        self.ends.push(self.text.len());
    }

    fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }
}

/// One source candle file, whole: held while its copies are written or
/// its entries taken.
#[derive(Debug)]
struct Source {
    path: PathBuf,
    symbol: String,
    /// The file name's timeframe, `5m` of `ETH-BTC_5m.csv`.
    timeframe: String,
    ts: Vec<Timestamp>,
    /// Each row's `open,high,low,close,volume`, as written in the file.
    values: Texts,
    /// Each row's close, as written.
    closes: Texts,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
}

impl Source {
    fn read(dir: &Path, name: &str) -> Result<Self, WorkloadError> {
        let path = dir.join(name);
        let file_error = |reason: String| WorkloadError::File { path: path.clone(), reason };
        let timeframe = name
            .strip_suffix(".csv")
            .and_then(|stem| stem.rsplit_once('_'))
            .map(|(_, timeframe)| timeframe.to_owned())
            .filter(|timeframe| !timeframe.is_empty())
            .ok_or_else(|| file_error("name it NAME_TIMEFRAME.csv, like ETH-BTC_5m.csv".to_owned()))?;
        let read_error = |error: csv::Error| {
            let reason = error.to_string();
            match error.into_kind() {
                csv::ErrorKind::Io(source) => WorkloadError::Read { path: path.clone(), source },
                _ => file_error(reason),
            }
        };
        let mut reader = csv::Reader::from_path(&path).map_err(read_error)?;
        let header = reader.headers().map_err(read_error)?.clone();
        let mut at = [0; CANDLE_COLUMNS.len()];
        for (slot, column) in at.iter_mut().zip(CANDLE_COLUMNS) {
            *slot = header.iter().position(|name| name == column).ok_or_else(|| {
                file_error(format!("no {column} column; the header needs {}", CANDLE_COLUMNS.join(",")))
            })?;
        }
        let mut source = Source {
            path: path.clone(),
            symbol: String::new(),
            timeframe,
            ts: Vec::new(),
            values: Texts::default(),
            closes: Texts::default(),
            high: Vec::new(),
            low: Vec::new(),
            close: Vec::new(),
        };
        let mut record = csv::StringRecord::new();
        while reader.read_record(&mut record).map_err(read_error)? {
            let line = record.position().map_or(0, csv::Position::line);
            let row_error = |reason: String| WorkloadError::Row { path: path.clone(), line, reason };
            let cell = |column: usize| record.get(at[column]).unwrap_or("");
            if source.ts.is_empty() {
                source.symbol = cell(0).to_owned();
            } else if cell(0) != source.symbol {
                return Err(row_error(format!(
                    "symbol {} after {}: one symbol per file, please",
                    cell(0),
                    source.symbol
                )));
            }
            let ts = parse_timestamp(cell(1)).map_err(|e| row_error(format!("ts: {e}")))?;
            if source.ts.last().is_some_and(|&last| ts <= last) {
                return Err(row_error(format!("ts {} is not after the previous row's; sort by ts", cell(1))));
            }
            source.ts.push(ts);
            let number = |column: usize| {
                parse_f64(cell(column)).map_err(|e| row_error(format!("{}: {e}", CANDLE_COLUMNS[column])))
            };
            source.high.push(number(3)?);
            source.low.push(number(4)?);
            source.close.push(number(5)?);
            source.values.push((2..CANDLE_COLUMNS.len()).map(cell));
            source.closes.push([cell(5)]);
        }
        if source.ts.is_empty() {
            return Err(file_error("no candles".to_owned()));
        }
        Ok(source)
    }
}

/// What signals need of one source file.
#[derive(Debug)]
struct Entries {
    symbol: String,
    /// The length of a candle.
    minutes: i64,
    ts: Vec<Timestamp>,
    closes: Texts,
    close: Vec<f64>,
    /// `atr[i]`: the mean true range of candles `i - 14 ..= i - 1`; 0 up to
    /// candle 14, where no signal enters.
    atr: Vec<f64>,
}

impl Entries {
    fn new(source: Source) -> Result<Self, WorkloadError> {
        let file_error = |reason: String| WorkloadError::File { path: source.path.clone(), reason };
        if source.ts.len() <= ATR_LEN + 1 {
            return Err(file_error(format!(
                "{} candles; a signal needs {} before it, so at least {} are needed",
                source.ts.len(),
                ATR_LEN + 1,
                ATR_LEN + 2
            )));
        }
        let minutes = timeframe_minutes(&source.timeframe, &source.ts).ok_or_else(|| {
            file_error("candles less than a minute apart; the max hold is in whole minutes".to_owned())
        })?;
        let true_range: Vec<f64> = (0..source.ts.len())
            .map(|j| {
                let range = source.high[j] - source.low[j];
                let Some(&previous) = j.checked_sub(1).and_then(|p| source.close.get(p)) else {
                    return range;
                };
                range.max((source.high[j] - previous).abs()).max((source.low[j] - previous).abs())
            })
            .collect();
        let atr = (0..source.ts.len())
            .map(|i| {
                if i <= ATR_LEN {
                    0.0
                } else {
                    true_range[i - ATR_LEN..i].iter().sum::<f64>() / ATR_LEN as f64
                }
            })
            .collect();
        Ok(Entries {
            symbol: source.symbol,
            minutes,
            ts: source.ts,
            closes: source.closes,
            close: source.close,
            atr,
        })
    }
}

/// Minutes of a candle: from the file name's timeframe (`5m`, `1h`, `1d`),
/// else the median gap between candles, rounded down; `None` under a minute.
fn timeframe_minutes(timeframe: &str, ts: &[Timestamp]) -> Option<i64> {
    let unit = match timeframe.as_bytes().last() {
        Some(b'm') => Some(1),
        Some(b'h') => Some(60),
        Some(b'd') => Some(1440),
        _ => None,
    };
    let count = timeframe.get(..timeframe.len().saturating_sub(1)).and_then(|n| n.parse::<i64>().ok());
    if let (Some(unit), Some(count)) = (unit, count) {
        return Some(count * unit).filter(|&minutes| minutes > 0);
    }
    let mut gaps: Vec<i64> = ts.windows(2).map(|pair| pair[1] - pair[0]).collect();
    gaps.sort_unstable();
    let middle = gaps.len() / 2;
    let twice_median = if gaps.len() % 2 == 1 { 2 * gaps[middle] } else { gaps[middle - 1] + gaps[middle] };
    Some(twice_median / (2 * MILLIS_PER_MINUTE)).filter(|&minutes| minutes > 0)
}

/// One signal, drawn and valid.
#[derive(Debug)]
struct Drawn<'a> {
    source: &'a Entries,
    copy: u32,
    /// The candle the signal enters at.
    candle: usize,
    long: bool,
    take_profit: String,
    stop_loss: String,
    hold_minutes: i64,
}

/// Draws one signal; `None` when siglearn would refuse it.
fn draw<'a>(rng: &mut Rng, sources: &'a [Entries], workload: &Workload) -> Option<Drawn<'a>> {
    let scale = workload.scale as usize;
    let file = rng.int(0, sources.len() * scale - 1);
    let (source, copy) = (&sources[file / scale], (file % scale) as u32 + 1);
    let candle = rng.int(ATR_LEN + 1, source.ts.len() - 1);
    let long = rng.chance(0.5);
    let (take_multiple, stop_multiple) =
        (rng.uniform(workload.atr.0, workload.atr.1), rng.uniform(workload.atr.0, workload.atr.1));
    let hold = rng.int(workload.hold.0 as usize, workload.hold.1 as usize) as i64;

    let entry = source.close[candle - 1];
    let atr = source.atr[candle].max(entry * 1e-4);
    let take_distance = (atr * take_multiple).min(0.9 * entry);
    let stop_distance = (atr * stop_multiple).min(0.9 * entry);
    let sign = if long { 1.0 } else { -1.0 };
    let take_profit = eight_significant(entry + sign * take_distance);
    let stop_loss = eight_significant(entry - sign * stop_distance);
    let hold_minutes = hold * source.minutes;

    let (take, stop) = (take_profit.parse::<f64>().ok()?, stop_loss.parse::<f64>().ok()?);
    let sides = if long { stop < entry && entry < take } else { take < entry && entry < stop };
    let valid =
        entry > 0.0 && take > 0.0 && stop > 0.0 && sides && hold_minutes * MILLIS_PER_MINUTE <= MAX_HOLD_MS;
    valid.then_some(Drawn { source, copy, candle, long, take_profit, stop_loss, hold_minutes })
}

impl Drawn<'_> {
    /// The signal's CSV row, id `S` + `number` padded to `width` digits.
    fn write_row(&self, number: usize, width: usize, workload: &Workload, line: &mut Vec<u8>) {
        let source = self.source;
        let side = if self.long { "long" } else { "short" };
        // Writing to a Vec cannot fail.
        let _ = write!(line, "S{number:0width$},{}#{},{side},", source.symbol, self.copy);
        write_timestamp(line, source.ts[self.candle] + workload.shift_ms(self.copy));
        let _ = writeln!(
            line,
            ",{},{},{},{}",
            source.closes.get(self.candle - 1),
            self.take_profit,
            self.stop_loss,
            self.hold_minutes
        );
    }
}

/// `value` rounded to 8 significant digits and written positionally
/// without trailing zeros (`123456790`, `0.099476612`, `100`), as numpy's
/// `format_float_positional(value, precision=8, unique=False,
/// fractional=False, trim="-")` writes it.
fn eight_significant(value: f64) -> String {
    // Rust writes the exactly rounded digits: `1.2345679e-3`.
    let scientific = format!("{:.7e}", value.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if value < 0.0 { "-" } else { "" };
    let (whole, fraction) = if exponent >= 7 {
        (format!("{digits}{}", "0".repeat(exponent as usize - 7)), String::new())
    } else if exponent >= 0 {
        let (whole, fraction) = digits.split_at(exponent as usize + 1);
        (whole.to_owned(), fraction.to_owned())
    } else {
        ("0".to_owned(), format!("{}{digits}", "0".repeat((-exponent - 1) as usize)))
    };
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() { format!("{sign}{whole}") } else { format!("{sign}{whole}.{fraction}") }
}

#[cfg(test)]
mod tests;
