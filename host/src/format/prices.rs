//! Candle and tick files.
//!
//! Candles: `symbol,ts,open,high,low,close,volume` (ts = bar open time;
//! `volume` may be left out and is then 0; other columns are ignored).
//! Ticks: `symbol,ts,price`. A file may hold several symbols; each symbol's
//! rows must be sorted by ts with no duplicate ts (ticks may share a ts), and
//! each symbol must come from exactly one file. [`write_candles`] writes the
//! candle format back, so that generated prices can be read like any others.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use siglearn_plugin_api::{Bar, MAX_NAME_BYTES, Price, PriceUpdate, Symbol, Tick, Timestamp, check_name};

use super::cell::{Cell, FieldProblem, cut, shown};
use super::columns::{self, Columns};
use super::{FormatError, ReadOptions, Rejects, RowErrors, parse_f64};
use crate::timestamp::{format_timestamp, parse_timestamp};

/// The prices of one symbol, in time order.
#[derive(Clone, Debug, PartialEq)]
pub enum Prices {
    Bars(Vec<Bar>),
    Ticks(Vec<Tick>),
    /// Prices left in their file ([`scan_prices`]): checked by a first
    /// reading, read again ([`FileRows`]) as a replay reaches them, so a
    /// replay holds only the prices near its clock.
    InFile(InFile),
}

/// What the first reading of a series left in its file learned about it.
#[derive(Clone, Debug, PartialEq)]
pub struct InFile {
    /// Ticks rather than bars.
    pub ticks: bool,
    /// How many prices the series has.
    pub len: usize,
    /// The time of its first price.
    pub first: Timestamp,
    /// [`most_common_gap`] of its bars.
    pub usual_gap: Option<i64>,
    /// The file as it was read, so that a change before the second
    /// reading is noticed.
    pub(crate) stamp: FileStamp,
}

/// A file's length and modification time.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FileStamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl FileStamp {
    fn of(metadata: &std::fs::Metadata) -> Self {
        FileStamp { len: metadata.len(), modified: metadata.modified().ok() }
    }
}

impl Prices {
    pub fn len(&self) -> usize {
        match self {
            Prices::Bars(bars) => bars.len(),
            Prices::Ticks(ticks) => ticks.len(),
            Prices::InFile(file) => file.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th price; `None` past the end, and for prices left in their
    /// file (read those with [`FileRows`]).
    pub fn get(&self, i: usize) -> Option<Price> {
        match self {
            Prices::Bars(bars) => bars.get(i).copied().map(Price::Bar),
            Prices::Ticks(ticks) => ticks.get(i).copied().map(Price::Tick),
            Prices::InFile(_) => None,
        }
    }

    /// The time of the first price.
    pub fn first_ts(&self) -> Option<Timestamp> {
        match self {
            Prices::InFile(file) => (file.len > 0).then_some(file.first),
            held => held.get(0).map(|price| price.ts()),
        }
    }

    /// [`most_common_gap`] of the bars; `None` for ticks.
    pub fn usual_gap(&self) -> Option<i64> {
        match self {
            Prices::Bars(bars) => most_common_gap(bars),
            Prices::Ticks(_) => None,
            Prices::InFile(file) => file.usual_gap,
        }
    }

    /// Whether the prices are ticks rather than bars.
    pub fn are_ticks(&self) -> bool {
        match self {
            Prices::Bars(_) => false,
            Prices::Ticks(_) => true,
            Prices::InFile(file) => file.ticks,
        }
    }
}

/// One symbol's price series and the file it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub symbol: Symbol,
    pub source: PathBuf,
    pub prices: Prices,
    /// The length of one bar in milliseconds: a bar opened at `ts` is known
    /// (closed) at `ts + interval_ms`. Read as [`most_common_gap`] of the
    /// bars, or set by the user; `None` for a single bar, whose interval
    /// cannot be told from the file. Ticks take effect at their own time
    /// and have `Some(0)`.
    pub interval_ms: Option<i64>,
}

impl Series {
    /// A series whose bar interval is read from its bars.
    pub fn new(symbol: Symbol, source: PathBuf, prices: Prices) -> Self {
        let interval_ms = if prices.are_ticks() { Some(0) } else { prices.usual_gap() };
        Series { symbol, source, prices, interval_ms }
    }
}

/// The most common gap between consecutive bars in milliseconds (the
/// shortest of equally common ones); `None` for fewer than two bars.
///
/// The mode rather than the mean or the median: a daily stock series has
/// weekend gaps of three days and a minute series missing minutes, but the
/// gap that occurs most often is the bar's own length.
pub fn most_common_gap(bars: &[Bar]) -> Option<i64> {
    let mut gaps: Vec<i64> =
        bars.windows(2).map(|pair| pair[1].ts - pair[0].ts).filter(|&gap| gap > 0).collect();
    gaps.sort_unstable();
    let mut best: Option<(usize, i64)> = None;
    for run in gaps.chunk_by(|a, b| a == b) {
        if best.is_none_or(|(count, _)| run.len() > count) {
            best = Some((run.len(), run[0]));
        }
    }
    best.map(|(_, gap)| gap)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Candles,
    Ticks,
}

const CANDLE_HEADER: &str = "symbol,ts,open,high,low,close,volume";
const TICK_HEADER: &str = "symbol,ts,price";

/// Reads candle and tick files into one series per symbol, in order of first
/// appearance. Returns the skipped rows when `options.skip_invalid` is set.
///
/// Files are read on as many threads as the machine has cores; the result,
/// and the first error when there is one, are those of reading the files
/// one after the other in the order given.
pub fn read_prices(
    candle_files: &[PathBuf],
    tick_files: &[PathBuf],
    options: ReadOptions,
) -> Result<(Vec<Series>, RowErrors), FormatError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    read_prices_on(candle_files, tick_files, options, threads, Hold::All)
}

/// Checks candle and tick files as [`read_prices`] does, with the same
/// series, errors and skipped rows, holding the prices of the first files
/// (in the order given) while their sizes add up to at most `hold_bytes`,
/// and leaving those of the others in their files ([`Prices::InFile`]): a
/// replay reads them again as its clock reaches them, so its memory does
/// not grow with the history. Prices of anything but a regular file (a
/// pipe, a process substitution) cannot be read twice and are held.
pub fn scan_prices(
    candle_files: &[PathBuf],
    tick_files: &[PathBuf],
    options: ReadOptions,
    hold_bytes: u64,
) -> Result<(Vec<Series>, RowErrors), FormatError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    read_prices_on(candle_files, tick_files, options, threads, Hold::UpTo(hold_bytes))
}

/// Which files' prices a reading keeps in memory.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Hold {
    /// Every file's.
    All,
    /// Those of the first files while their sizes add up to at most this
    /// many bytes, and of files that cannot be read a second time.
    UpTo(u64),
}

/// [`read_prices`] on at most `threads` threads, holding the prices `hold` says.
pub(crate) fn read_prices_on(
    candle_files: &[PathBuf],
    tick_files: &[PathBuf],
    options: ReadOptions,
    threads: usize,
    hold: Hold,
) -> Result<(Vec<Series>, RowErrors), FormatError> {
    let files: Vec<(&PathBuf, Kind)> = candle_files
        .iter()
        .map(|p| (p, Kind::Candles))
        .chain(tick_files.iter().map(|p| (p, Kind::Ticks)))
        .collect();
    let mut held_bytes: u64 = 0;
    let holds: Vec<bool> = files
        .iter()
        .map(|(path, _)| match hold {
            Hold::All => true,
            Hold::UpTo(budget) => {
                // A file that cannot be read is reported by `read_file`.
                let size = std::fs::metadata(path).map_or(0, |metadata| metadata.len());
                held_bytes = held_bytes.saturating_add(size);
                held_bytes <= budget
            }
        })
        .collect();
    let jobs: Vec<((&PathBuf, Kind), bool)> = files.iter().copied().zip(holds).collect();
    let read = in_parallel(&jobs, threads, |&((path, kind), hold)| read_file(path, kind, options, hold));
    let mut all: Vec<Series> = Vec::new();
    let mut owner: HashMap<Symbol, PathBuf> = HashMap::new();
    let mut skipped = RowErrors::default();
    for (&(path, _), one) in files.iter().zip(read) {
        let (series, rejected) = one?;
        skipped.absorb(rejected);
        for one in series {
            if let Some(first) = owner.get(&one.symbol) {
                return Err(FormatError::SymbolInTwoFiles {
                    symbol: one.symbol.to_string(),
                    first: first.clone(),
                    second: path.clone(),
                });
            }
            owner.insert(one.symbol.clone(), path.clone());
            all.push(one);
        }
    }
    Ok((all, skipped))
}

/// `work` applied to every item on up to `threads` threads (each takes the
/// next item not yet taken), the results in the items' order.
fn in_parallel<T: Sync, R: Send>(items: &[T], threads: usize, work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(work).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let take = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(item) = items.get(i) else { return done };
            done.push((i, work(item)));
        }
    };
    let mut results: Vec<(usize, R)> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(take)).collect();
        let mut results = take();
        for helper in helpers {
            results.extend(helper.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        results
    });
    results.sort_unstable_by_key(|&(i, _)| i);
    results.into_iter().map(|(_, result)| result).collect()
}

/// Writes the bars of `series` to one candle file, symbol after symbol, with
/// floats in their shortest form that reads back to the same f64. A series
/// of ticks is refused: the candle format has no place for them.
pub fn write_candles(path: &Path, series: &[Series]) -> Result<(), FormatError> {
    let fail = |source: std::io::Error| FormatError::Write { path: path.to_path_buf(), source };
    let file = std::fs::File::create(path).map_err(fail)?;
    let mut out = csv::Writer::from_writer(std::io::BufWriter::new(file));
    out.write_record(CANDLE_HEADER.split(',')).map_err(|e| fail(e.into()))?;
    for one in series {
        let Prices::Bars(bars) = &one.prices else {
            return Err(fail(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{} holds ticks; only bars can be written as candles", one.symbol),
            )));
        };
        for bar in bars {
            out.write_record([
                one.symbol.as_str(),
                &format_timestamp(bar.ts),
                &bar.open.to_string(),
                &bar.high.to_string(),
                &bar.low.to_string(),
                &bar.close.to_string(),
                &bar.volume.to_string(),
            ])
            .map_err(|e| fail(e.into()))?;
        }
    }
    let mut inner = out.into_inner().map_err(|e| fail(e.into_error()))?;
    inner.flush().map_err(fail)
}

/// The keys of a price posted as JSON: a bar or a tick.
const JSON_KEYS: [&str; 8] = ["symbol", "ts", "open", "high", "low", "close", "volume", "price"];

/// Reads one price update from a JSON object (as the daemon receives
/// them): a bar (`open`, `high`, `low`, `close`, optional `volume`) or a
/// tick (`price`), with `symbol` and `ts`. The error lists every problem as
/// (field, reason): unknown keys, missing keys, values of the wrong type and
/// values that break a rule of a bar or tick, all at once.
pub fn price_from_json(value: &serde_json::Value) -> Result<PriceUpdate, Vec<FieldProblem>> {
    let Some(object) = value.as_object() else {
        return Err(vec![("-".to_owned(), format!("{} is not a JSON object", shown(value)))]);
    };
    let mut problems: Vec<FieldProblem> = Vec::new();
    let cell = |key: &str| object.get(key).map_or(Cell::Absent, Cell::Json);
    let mut fail = |field: &str, reason: String| problems.push((field.to_owned(), reason));
    let symbol = match cell("symbol").text("a string") {
        Ok(Some(symbol)) if !symbol.trim().is_empty() => symbol,
        Ok(_) => {
            fail("symbol", "missing value; every price needs its symbol".to_owned());
            ""
        }
        Err(reason) => {
            fail("symbol", reason);
            ""
        }
    };
    if let Err(error) = check_name("symbol", symbol, MAX_NAME_BYTES) {
        fail("symbol", error.to_string());
    }
    // Which shape the item has is told by the keys it sets; a value that
    // cannot be read stands in as NaN, which the price rules refuse, and
    // that problem is not listed twice.
    let set = |key: &str| !cell(key).is_absent();
    let mut number = |field: &str| match cell(field).number() {
        Ok(value) => value.unwrap_or(f64::NAN),
        Err(reason) => {
            fail(field, reason);
            f64::NAN
        }
    };
    let bar = ["open", "high", "low", "close"];
    let price = if set("price") && !bar.iter().any(|&key| set(key)) {
        Some(Price::Tick(Tick { ts: Timestamp(0), price: number("price") }))
    } else if !set("price") && bar.iter().all(|&key| set(key)) {
        let [open, high, low, close] = bar.map(&mut number);
        let volume = if set("volume") { number("volume") } else { 0.0 };
        Some(Price::Bar(Bar { ts: Timestamp(0), open, high, low, close, volume }))
    } else {
        fail(
            "price",
            "send a tick (price) or a bar (open, high, low, close, optional volume), not both".to_owned(),
        );
        None
    };
    if let Some(price) = &price {
        for error in price.problems() {
            if !problems.iter().any(|(field, _)| field == error.field()) {
                problems.push((error.field().to_owned(), error.to_string()));
            }
        }
    }
    let ts = match cell("ts").instant() {
        Ok(Some(ts)) => Some(ts),
        Ok(None) => {
            problems.push(("ts".to_owned(), "missing value; every price needs its ts".to_owned()));
            None
        }
        Err(reason) => {
            problems.push(("ts".to_owned(), reason));
            None
        }
    };
    for key in object.keys().filter(|key| !JSON_KEYS.contains(&key.as_str())) {
        let key = cut(key);
        problems.push((
            key.clone(),
            format!(
                "unknown field {key:?}; remove it or fix its name (the fields are {})",
                JSON_KEYS.join(", ")
            ),
        ));
    }
    match (price, ts) {
        (Some(price), Some(ts)) if problems.is_empty() => {
            let price = match price {
                Price::Bar(bar) => Price::Bar(Bar { ts, ..bar }),
                Price::Tick(tick) => Price::Tick(Tick { ts, ..tick }),
            };
            Ok(PriceUpdate { symbol: Symbol::new(symbol), price })
        }
        _ => Err(problems),
    }
}

/// Rows of one symbol while a file is read.
struct Growing {
    symbol: Symbol,
    prices: Prices,
    last: Option<(Timestamp, u64)>,
    count: usize,
    first: Timestamp,
    gaps: GapCounts,
}

/// The gaps between consecutive bars, counted as they are read: the mode
/// of [`most_common_gap`] without holding the bars. Bars of one length come
/// in runs, so a run is counted before it is looked up.
#[derive(Default)]
struct GapCounts {
    counts: HashMap<i64, usize>,
    run: Option<(i64, usize)>,
}

impl GapCounts {
    fn add(&mut self, gap: i64) {
        if gap <= 0 {
            return;
        }
        match &mut self.run {
            Some((length, count)) if *length == gap => *count += 1,
            _ => {
                self.flush();
                self.run = Some((gap, 1));
            }
        }
    }

    fn flush(&mut self) {
        if let Some((gap, count)) = self.run.take() {
            *self.counts.entry(gap).or_default() += count;
        }
    }

    /// The most common gap, the shortest of equally common ones.
    fn mode(mut self) -> Option<i64> {
        self.flush();
        self.counts.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0))).map(|(gap, _)| gap)
    }
}

fn read_file(
    path: &Path,
    kind: Kind,
    options: ReadOptions,
    hold: bool,
) -> Result<(Vec<Series>, RowErrors), FormatError> {
    let metadata =
        std::fs::metadata(path).map_err(|source| FormatError::Io { path: path.to_path_buf(), source })?;
    let hold = hold || !metadata.is_file();
    let stamp = FileStamp::of(&metadata);
    let (mut reader, columns) = columns::reader(path)?;
    let layout = Layout::new(path, &columns, kind)?;
    let mut rejects = Rejects::new(path);
    let mut growing: Vec<Growing> = Vec::new();
    let mut by_symbol: HashMap<String, usize> = HashMap::new();
    let mut last_slot = usize::MAX;
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(error) => {
                let error = super::fatal(path, error)?;
                let line = error.position().map_or(line, csv::Position::line);
                rejects.add(line, "-", format!("unreadable row: {error}"));
                continue;
            }
        }
        let line = record.position().map_or(line, csv::Position::line);
        let (symbol, price) = match layout.parse(&record) {
            Ok(parsed) => parsed,
            Err(problems) => {
                rejects.add_all(line, problems);
                continue;
            }
        };
        // Most files hold one symbol: the row's symbol is compared with the
        // previous row's before it is looked up.
        let same = growing.get(last_slot).is_some_and(|series| series.symbol.as_str() == symbol);
        let known = if same { Some(&last_slot) } else { by_symbol.get(symbol) };
        let slot = match known {
            Some(&slot) => slot,
            None => {
                by_symbol.insert(symbol.to_owned(), growing.len());
                let prices =
                    if kind == Kind::Candles { Prices::Bars(Vec::new()) } else { Prices::Ticks(Vec::new()) };
                growing.push(Growing {
                    symbol: Symbol::new(symbol),
                    prices,
                    last: None,
                    count: 0,
                    first: price.ts(),
                    gaps: GapCounts::default(),
                });
                growing.len() - 1
            }
        };
        last_slot = slot;
        let series = &mut growing[slot];
        let ts = price.ts();
        if let Some((previous, first_line)) = series.last {
            if ts == previous && kind == Kind::Candles {
                return Err(FormatError::DuplicateTimestamp {
                    path: path.to_path_buf(),
                    line,
                    symbol: symbol.to_owned(),
                    ts: format_timestamp(ts),
                    first_line,
                });
            }
            if ts < previous {
                return Err(FormatError::Unsorted {
                    path: path.to_path_buf(),
                    line,
                    symbol: symbol.to_owned(),
                    ts: format_timestamp(ts),
                    previous: format_timestamp(previous),
                });
            }
            if !hold && kind == Kind::Candles {
                series.gaps.add(ts - previous);
            }
        }
        series.last = Some((ts, line));
        series.count += 1;
        if hold {
            match (&mut series.prices, price) {
                (Prices::Bars(bars), Price::Bar(bar)) => bars.push(bar),
                (Prices::Ticks(ticks), Price::Tick(tick)) => ticks.push(tick),
                _ => unreachable!("a file holds one kind of price"),
            }
        }
    }
    let rejected = rejects.finish(options)?;
    if growing.is_empty() {
        return Err(FormatError::Empty { path: path.to_path_buf() });
    }
    let series = growing
        .into_iter()
        .map(|grown| {
            let prices = if hold {
                grown.prices
            } else {
                Prices::InFile(InFile {
                    ticks: kind == Kind::Ticks,
                    len: grown.count,
                    first: grown.first,
                    usual_gap: grown.gaps.mode(),
                    stamp: stamp.clone(),
                })
            };
            Series::new(grown.symbol, path.to_path_buf(), prices)
        })
        .collect();
    Ok((series, rejected))
}

/// The prices of a file left in it ([`Prices::InFile`]), read a second time
/// in file order. Rows the first reading refused (skipped and counted with
/// `--skip-invalid`) are skipped again; a file changed since the first
/// reading is refused.
#[derive(Debug)]
pub struct FileRows {
    path: PathBuf,
    reader: csv::Reader<super::capped::Capped<std::fs::File>>,
    layout: Layout,
    record: csv::StringRecord,
}

impl FileRows {
    /// Opens `path` again, holding the series `file` describes (one of its series).
    pub fn open(path: &Path, file: &InFile) -> Result<Self, FormatError> {
        let metadata =
            std::fs::metadata(path).map_err(|source| FormatError::Io { path: path.to_path_buf(), source })?;
        if FileStamp::of(&metadata) != file.stamp {
            return Err(FormatError::Changed {
                path: path.to_path_buf(),
                what: "its size or modification time is not what it was at the first reading".into(),
            });
        }
        let (reader, columns) = columns::reader(path)?;
        let kind = if file.ticks { Kind::Ticks } else { Kind::Candles };
        let layout = Layout::new(path, &columns, kind)?;
        Ok(FileRows { path: path.to_path_buf(), reader, layout, record: csv::StringRecord::new() })
    }

    /// Opens `path` again at `at`, a [`FileRows::position`] of an earlier
    /// reading of it (closed to keep the number of open files down).
    pub fn reopen(path: &Path, file: &InFile, at: &csv::Position) -> Result<Self, FormatError> {
        let mut rows = FileRows::open(path, file)?;
        rows.reader
            .seek(at.clone())
            .map_err(|error| FormatError::Io { path: path.to_path_buf(), source: error.into() })?;
        Ok(rows)
    }

    /// Where the next row starts.
    pub fn position(&self) -> csv::Position {
        self.reader.position().clone()
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next good row's price; `None` at the end of the file. Its
    /// symbol is [`FileRows::symbol`].
    pub fn next_price(&mut self) -> Result<Option<Price>, FormatError> {
        loop {
            match self.reader.read_record(&mut self.record) {
                Ok(false) => return Ok(None),
                Ok(true) => {}
                // Reading the file failed: it will fail again.
                Err(error) if error.is_io_error() => super::fatal(&self.path, error).map(drop)?,
                // Refused, or skipped and counted, by the first reading.
                Err(_) => continue,
            }
            if let Ok((_, price)) = self.layout.parse(&self.record) {
                return Ok(Some(price));
            }
        }
    }

    /// The symbol of the row [`FileRows::next_price`] read last.
    pub fn symbol(&self) -> &str {
        columns::cell(&self.record, self.layout.symbol).unwrap_or("")
    }
}

/// Where each field of a row is.
#[derive(Debug)]
struct Layout {
    kind: Kind,
    symbol: usize,
    ts: usize,
    /// open, high, low, close for candles; price for ticks.
    prices: Vec<(usize, &'static str)>,
    volume: Option<usize>,
}

type FieldError = (&'static str, String);

impl Layout {
    fn new(path: &Path, columns: &Columns, kind: Kind) -> Result<Self, FormatError> {
        let expected = if kind == Kind::Candles { CANDLE_HEADER } else { TICK_HEADER };
        let names: &[&'static str] =
            if kind == Kind::Candles { &["open", "high", "low", "close"] } else { &["price"] };
        let mut prices = Vec::new();
        for &name in names {
            prices.push((columns.require(path, name, expected)?, name));
        }
        Ok(Layout {
            kind,
            symbol: columns.require(path, "symbol", expected)?,
            ts: columns.require(path, "ts", expected)?,
            prices,
            volume: if kind == Kind::Candles { columns.get("volume") } else { None },
        })
    }

    /// The symbol and price of a row, or every problem with it: each cell
    /// is read on its own, and the rules of a bar are checked on the cells
    /// that could be read.
    fn parse<'r>(&self, record: &'r csv::StringRecord) -> Result<(&'r str, Price), Vec<FieldError>> {
        let cell = |i: usize| columns::cell(record, i).unwrap_or("");
        let mut problems = Vec::new();
        let symbol = cell(self.symbol);
        if symbol.is_empty() {
            problems.push(("symbol", "missing value; every row needs its symbol".to_owned()));
        } else if let Err(error) = check_name("symbol", symbol, MAX_NAME_BYTES) {
            problems.push(("symbol", error.to_string()));
        }
        let ts = parse_timestamp(cell(self.ts)).unwrap_or_else(|error| {
            problems.push(("ts", error.to_string()));
            Timestamp(0)
        });
        // A cell that is not a number stands in as NaN, which the price
        // rules refuse; that problem is not listed twice.
        let mut number = |field: &'static str, text: &str| {
            parse_f64(text).unwrap_or_else(|reason| {
                problems.push((field, reason));
                f64::NAN
            })
        };
        let mut values = [0.0; 4];
        for (value, &(i, name)) in values.iter_mut().zip(&self.prices) {
            *value = number(name, cell(i));
        }
        let price = match self.kind {
            Kind::Candles => {
                let volume = match self.volume {
                    Some(i) if !cell(i).is_empty() => number("volume", cell(i)),
                    _ => 0.0,
                };
                let [open, high, low, close] = values;
                Price::Bar(Bar { ts, open, high, low, close, volume })
            }
            Kind::Ticks => Price::Tick(Tick { ts, price: values[0] }),
        };
        for error in price.problems() {
            if !problems.iter().any(|(field, _)| *field == error.field()) {
                problems.push((error.field(), error.to_string()));
            }
        }
        if problems.is_empty() { Ok((symbol, price)) } else { Err(problems) }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::{Just, prop_oneof};

    use super::*;
    use std::io::Write;

    fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::File::create(&path).unwrap().write_all(text.as_bytes()).unwrap();
        path
    }

    const HEADER: &str = "symbol,ts,open,high,low,close,volume\n";

    #[test]
    fn candles_with_iso_and_epoch_times_are_read_per_symbol() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(
            &dir,
            "c.csv",
            &format!(
                "{HEADER}A,2020-01-01T00:00:00Z,1,2,0.5,1.5,10\nB,1577836800000,5,6,4,5,0\nA,2020-01-01T00:01:00Z,1.5,2,1,1,3\n"
            ),
        );
        let (series, skipped) = read_prices(&[path], &[], ReadOptions::default()).unwrap();
        assert!(skipped.is_empty());
        assert_eq!(series.len(), 2);
        assert_eq!((series[0].symbol.as_str(), series[0].prices.len()), ("A", 2));
        assert_eq!(series[1].prices.get(0).unwrap().ts(), Timestamp(1_577_836_800_000));
    }

    #[test]
    fn cells_are_read_without_the_spaces_around_them_held_or_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(
            &dir,
            "c.csv",
            &format!(
                "{HEADER} A ,\t2020-01-01T00:00:00Z , 1 , 2,0.5 ,1.5, 10\nA,2020-01-01T00:01:00Z,1.5,2,1,1,3\n"
            ),
        );
        let first = Bar {
            ts: Timestamp(1_577_836_800_000),
            open: 1.0,
            high: 2.0,
            low: 0.5,
            close: 1.5,
            volume: 10.0,
        };
        let (series, skipped) =
            read_prices(std::slice::from_ref(&path), &[], ReadOptions::default()).unwrap();
        assert!(skipped.is_empty());
        let [held] = &series[..] else { panic!("{series:?}") };
        assert_eq!(held.symbol.as_str(), "A", "one series: ' A ' is A");
        let Prices::Bars(bars) = &held.prices else { panic!("{:?}", held.prices) };
        assert_eq!(bars[0], first);
        // Read again from the file: the same symbol and bar.
        let (series, _) = scan_prices(std::slice::from_ref(&path), &[], ReadOptions::default(), 0).unwrap();
        let Prices::InFile(in_file) = &series[0].prices else { panic!("{:?}", series[0].prices) };
        let mut rows = FileRows::open(&path, in_file).unwrap();
        assert_eq!(rows.next_price().unwrap(), Some(Price::Bar(first)));
        assert_eq!(rows.symbol(), "A");
    }

    #[test]
    fn a_header_naming_a_column_twice_is_refused_in_price_and_signal_files() {
        let dir = tempfile::tempdir().unwrap();
        let candles = file(
            &dir,
            "c.csv",
            "symbol,ts,open,high,low,close,close\nA,2020-01-01T00:00:00Z,1,2,0.5,1.5,1\n",
        );
        let error = read_prices(&[candles], &[], ReadOptions::default()).unwrap_err().to_string();
        assert!(
            error.contains("c.csv") && error.contains("column \"close\" appears twice; keep one"),
            "{error}"
        );
        let signals = file(
            &dir,
            "s.csv",
            "signal_id,symbol,side,entry_ts,entry_price,take_profit,stop_loss,side\na,A,long,2020-01-01T00:00:00Z,1,2,0.5,short\n",
        );
        let error = crate::format::read_signals(&signals, ReadOptions::default()).unwrap_err().to_string();
        assert!(
            error.contains("s.csv") && error.contains("column \"side\" appears twice; keep one"),
            "{error}"
        );
    }

    #[test]
    fn a_file_that_is_not_lines_is_refused_naming_it_not_read_into_memory() {
        let dir = tempfile::tempdir().unwrap();
        let endless = "x".repeat((1 << 20) + 1);
        let in_header = file(&dir, "h.csv", &endless);
        let in_a_row =
            file(&dir, "r.csv", &format!("{HEADER}A,2020-01-01T00:00:00Z,1,2,0.5,1.5,10\n{endless}"));
        for (path, name) in [(in_header, "h.csv"), (in_a_row, "r.csv")] {
            let skip = ReadOptions { skip_invalid: true };
            let error = read_prices(&[path], &[], skip).unwrap_err().to_string();
            assert!(error.contains(name) && error.contains("a line is longer than 1048576 bytes"), "{error}");
        }
        let signals = file(
            &dir,
            "s.csv",
            &format!(
                "signal_id,symbol,side,entry_ts,entry_price,take_profit,stop_loss,max_hold_minutes\n{endless}"
            ),
        );
        let lines = file(&dir, "s.jsonl", &endless);
        for (path, name) in [(signals, "s.csv"), (lines, "s.jsonl")] {
            let error = crate::format::read_signals(&path, ReadOptions { skip_invalid: true })
                .unwrap_err()
                .to_string();
            assert!(error.contains(name) && error.contains("a line is longer than 1048576 bytes"), "{error}");
        }
    }

    #[test]
    fn bad_rows_are_listed_with_line_and_field_and_refuse_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(
            &dir,
            "c.csv",
            &format!(
                "{HEADER}A,2020-01-01T00:00:00Z,1,2,0.5,1.5,10\nA,2020-01-01T00:01:00Z,NaN,2,1,1,3\nA,2020-01-01T00:02:00Z,1,0.9,1,1,3\nA,2020-01-01T00:03:00Z,1,2\n"
            ),
        );
        let err = read_prices(std::slice::from_ref(&path), &[], ReadOptions::default()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("c.csv:3: open:"), "{text}");
        assert!(text.contains("c.csv:4: high: high is below open or close"), "{text}");
        assert!(text.contains("c.csv:5: -: unreadable row"), "{text}");
        assert!(text.contains("--skip-invalid"), "{text}");
        let (series, skipped) = read_prices(&[path], &[], ReadOptions { skip_invalid: true }).unwrap();
        assert_eq!((series[0].prices.len(), skipped.count), (1, 3));
    }

    #[test]
    fn every_bad_cell_of_a_price_row_is_listed_at_once() {
        let dir = tempfile::tempdir().unwrap();
        // Line 2: no symbol, epoch seconds, an open that is not a number and
        // a negative volume; line 3: low above the close and high below the open.
        let path = file(&dir, "c.csv", &format!("{HEADER},1714557600,abc,2,0.5,1,-3\nA,0,3,2.5,1.5,1,0\n"));
        let text = read_prices(&[path], &[], ReadOptions::default()).unwrap_err().to_string();
        for expected in [
            "c.csv:2: symbol: missing value",
            "c.csv:2: ts: \"1714557600\" looks like epoch seconds",
            "c.csv:2: open: \"abc\" is not a number",
            "c.csv:2: volume: volume is -3",
            "c.csv:3: low: low is above open or close",
            "c.csv:3: high: high is below open or close",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from {text}");
        }
        assert!(text.starts_with("2 bad row(s)"), "{text}");
    }

    #[test]
    fn a_posted_price_lists_unknown_keys_and_wrong_types_beside_its_other_problems() {
        let item = serde_json::json!({"symbol": 5, "ts": 1714557600, "open": "1", "high": 2, "low": 0.5,
            "close": 1, "colour": "red"});
        let problems = price_from_json(&item).unwrap_err();
        let found: Vec<(&str, &str)> = problems.iter().map(|(f, r)| (f.as_str(), r.as_str())).collect();
        assert_eq!(
            found.iter().map(|p| p.0).collect::<Vec<_>>(),
            ["symbol", "open", "ts", "colour"],
            "{found:#?}"
        );
        for (piece, (_, reason)) in [
            "5 is not a string",
            "\"1\" is not a number",
            "looks like epoch seconds",
            "unknown field \"colour\"",
        ]
        .iter()
        .zip(&found)
        {
            assert!(reason.contains(piece), "{reason:?} lacks {piece:?}");
        }
        // Read: every rule of a bar, once the values are numbers.
        let bar = serde_json::json!({"symbol": "A", "ts": 0, "open": 3, "high": 2.5, "low": 1.5, "close": 1, "volume": -1});
        let fields: Vec<String> = price_from_json(&bar).unwrap_err().into_iter().map(|p| p.0).collect();
        assert_eq!(fields, ["volume", "low", "high"]);
        let tick = serde_json::json!({"symbol": "A", "ts": "2024-05-01T10:00:00Z", "price": 1.5});
        let update = price_from_json(&tick).unwrap();
        assert_eq!(update.price, Price::Tick(Tick { ts: Timestamp(1_714_557_600_000), price: 1.5 }));
    }

    #[test]
    fn unsorted_and_duplicate_candles_are_refused_even_when_skipping() {
        let dir = tempfile::tempdir().unwrap();
        let skip = ReadOptions { skip_invalid: true };
        let unsorted = file(
            &dir,
            "u.csv",
            &format!("{HEADER}A,2020-01-01T00:01:00Z,1,1,1,1,1\nA,2020-01-01T00:00:00Z,1,1,1,1,1\n"),
        );
        let err = read_prices(&[unsorted], &[], skip).unwrap_err();
        assert!(matches!(err, FormatError::Unsorted { line: 3, .. }), "{err}");
        let duplicate = file(
            &dir,
            "d.csv",
            &format!("{HEADER}A,2020-01-01T00:01:00Z,1,1,1,1,1\nA,2020-01-01T00:01:00Z,1,1,1,1,1\n"),
        );
        let err = read_prices(&[duplicate], &[], skip).unwrap_err();
        assert!(matches!(err, FormatError::DuplicateTimestamp { line: 3, first_line: 2, .. }), "{err}");
    }

    #[test]
    fn files_read_in_parallel_report_the_first_bad_file_in_the_order_given() {
        let dir = tempfile::tempdir().unwrap();
        let good = file(&dir, "good.csv", &format!("{HEADER}A,2020-01-01T00:00:00Z,1,1,1,1,1\n"));
        let unsorted = file(
            &dir,
            "unsorted.csv",
            &format!("{HEADER}B,2020-01-01T00:01:00Z,1,1,1,1,1\nB,2020-01-01T00:00:00Z,1,1,1,1,1\n"),
        );
        let missing = dir.path().join("missing.csv");
        let again = file(&dir, "again.csv", &format!("{HEADER}A,2020-01-01T00:00:00Z,1,1,1,1,1\n"));
        for threads in [1, 2, 4] {
            let files = [good.clone(), unsorted.clone(), missing.clone(), again.clone()];
            let err =
                read_prices_on(&files, &[], ReadOptions::default(), threads, Hold::UpTo(0)).unwrap_err();
            assert!(
                matches!(&err, FormatError::Unsorted { path, .. } if path == &unsorted),
                "{threads}: {err}"
            );
            let files = [good.clone(), again.clone(), missing.clone()];
            let err =
                read_prices_on(&files, &[], ReadOptions::default(), threads, Hold::UpTo(0)).unwrap_err();
            assert!(matches!(err, FormatError::SymbolInTwoFiles { .. }), "{threads}: {err}");
        }
    }

    #[test]
    fn a_symbol_in_two_files_is_refused_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        let one = file(&dir, "one.csv", &format!("{HEADER}A,2020-01-01T00:00:00Z,1,1,1,1,1\n"));
        let two = file(&dir, "two.csv", "symbol,ts,price\nA,2020-01-01T00:00:00Z,1\n");
        let err = read_prices(&[one], &[two], ReadOptions::default()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("one.csv") && text.contains("two.csv"), "{text}");
    }

    #[test]
    fn ticks_may_share_a_timestamp() {
        let dir = tempfile::tempdir().unwrap();
        let ticks = file(&dir, "t.csv", "symbol,ts,price\nA,1000,1.5\nA,1000,1.6\nA,1001,1.4\n");
        let (series, _) = read_prices(&[], &[ticks], ReadOptions::default()).unwrap();
        assert_eq!(
            series[0].prices,
            Prices::Ticks(vec![
                Tick { ts: Timestamp(1000), price: 1.5 },
                Tick { ts: Timestamp(1000), price: 1.6 },
                Tick { ts: Timestamp(1001), price: 1.4 },
            ])
        );
    }

    #[test]
    fn a_missing_column_names_the_expected_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(&dir, "c.csv", "symbol,time,open,high,low,close\nA,1,1,1,1,1\n");
        let text = read_prices(&[path], &[], ReadOptions::default()).unwrap_err().to_string();
        assert!(text.contains("no \"ts\" column") && text.contains(CANDLE_HEADER), "{text}");
    }

    #[test]
    fn an_empty_file_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(&dir, "c.csv", "");
        let text = read_prices(&[path], &[], ReadOptions::default()).unwrap_err().to_string();
        assert!(text.contains("c.csv: the file is empty"), "{text}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let err =
            read_prices(&[PathBuf::from("/nonexistent/c.csv")], &[], ReadOptions::default()).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/c.csv"), "{err}");
    }

    #[test]
    fn written_candles_read_back_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        let bar = |ms: i64, open: f64| Bar {
            ts: Timestamp(ms),
            open,
            high: open + 0.1 + 0.2,
            low: open / 3.0,
            close: open * 1.000_000_1,
            volume: 1e-7,
        };
        let series = vec![
            Series::new(
                Symbol::new("A"),
                path.clone(),
                Prices::Bars(vec![bar(1_704_067_200_000, 100.0), bar(1_704_067_260_500, 7.123)]),
            ),
            Series::new(
                Symbol::new("B"),
                path.clone(),
                Prices::Bars(vec![bar(1_704_067_200_000, 0.000_123)]),
            ),
        ];
        write_candles(&path, &series).unwrap();
        let (read, skipped) = read_prices(std::slice::from_ref(&path), &[], ReadOptions::default()).unwrap();
        assert!(skipped.is_empty());
        assert_eq!(read, series);
    }

    #[test]
    fn ticks_are_not_written_as_candles() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        let ticks = Series::new(
            Symbol::new("T"),
            path.clone(),
            Prices::Ticks(vec![Tick { ts: Timestamp(0), price: 1.0 }]),
        );
        let err = write_candles(&path, &[ticks]).unwrap_err();
        assert!(err.to_string().contains("T holds ticks"), "{err}");
    }

    #[test]
    fn the_bar_interval_is_the_most_common_gap() {
        let bars = |days: &[i64]| -> Vec<Bar> {
            days.iter()
                .map(|&d| Bar {
                    ts: Timestamp(d * 86_400_000),
                    open: 1.0,
                    high: 1.0,
                    low: 1.0,
                    close: 1.0,
                    volume: 0.0,
                })
                .collect()
        };
        // Weekdays with a weekend gap: one day, not the mean 1.4 days.
        assert_eq!(most_common_gap(&bars(&[0, 1, 2, 3, 4, 7, 8])), Some(86_400_000));
        // Equally common gaps: the shorter.
        assert_eq!(most_common_gap(&bars(&[0, 2, 3])), Some(86_400_000));
        assert_eq!(most_common_gap(&bars(&[0])), None);
        assert_eq!(most_common_gap(&[]), None);
    }

    #[test]
    fn read_series_carry_their_interval() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(
            &dir,
            "c.csv",
            &format!(
                "{HEADER}A,2020-01-01T00:00:00Z,1,1,1,1,0\nA,2020-01-01T00:05:00Z,1,1,1,1,0\nB,2020-01-01,1,1,1,1,0\n"
            ),
        );
        let (series, _) = read_prices(&[path], &[], ReadOptions::default()).unwrap();
        assert_eq!(series[0].interval_ms, Some(300_000));
        assert_eq!(series[1].interval_ms, None);
    }

    #[test]
    fn an_empty_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(&dir, "c.csv", HEADER);
        assert!(matches!(read_prices(&[path], &[], ReadOptions::default()), Err(FormatError::Empty { .. })));
    }

    #[test]
    fn microsecond_and_nanosecond_stamps_are_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let micros = file(&dir, "us.csv", &format!("{HEADER}A,1577836800000000,1,2,0.5,1.5,10\n"));
        let text = read_prices(&[micros], &[], ReadOptions::default()).unwrap_err().to_string();
        assert!(text.contains("us.csv:2: ts:") && text.contains("(divide by 1000)"), "{text}");
        let nanos = file(&dir, "ns.csv", &format!("{HEADER}A,1577836800000000000,1,2,0.5,1.5,10\n"));
        let text = read_prices(&[nanos], &[], ReadOptions::default()).unwrap_err().to_string();
        assert!(text.contains("(divide by 1,000,000)"), "{text}");
    }

    mod fuzz {
        use proptest::prelude::*;

        use super::*;
        use crate::format::fuzz::any_cell;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

            #[test]
            fn any_candle_rows_give_valid_bars_or_errors_naming_file_and_line(
                rows in prop::collection::vec(prop::collection::vec(any_cell(), 6..=7), 1..6),
            ) {
                let dir = tempfile::tempdir().unwrap();
                let mut text = HEADER.to_owned();
                for row in &rows {
                    let quoted: Vec<String> = row.iter().map(|cell| format!("\"{}\"", cell.replace('"', "\"\""))).collect();
                    text.push_str(&quoted.join(","));
                    text.push('\n');
                }
                let path = file(&dir, "c.csv", &text);
                match read_prices(&[path], &[], ReadOptions::default()) {
                    Ok((series, _)) => for one in &series {
                        for i in 0..one.prices.len() {
                            let price = one.prices.get(i).unwrap();
                            prop_assert!(price.validate().is_ok());
                            prop_assert!((crate::timestamp::EARLIEST..crate::timestamp::END).contains(&price.ts()));
                        }
                    },
                    Err(error) => prop_assert!(error.to_string().contains("c.csv"), "{error}"),
                }
            }
        }
    }

    #[test]
    fn the_first_files_are_held_while_their_sizes_fit_the_budget_and_pipes_always() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = ["A", "B", "C"]
            .iter()
            .map(|symbol| {
                file(
                    &dir,
                    &format!("{symbol}.csv"),
                    &format!("{HEADER}{symbol},2020-01-01T00:00:00Z,1,1,1,1,1\n"),
                )
            })
            .collect();
        let size = |path: &PathBuf| std::fs::metadata(path).unwrap().len();
        let held = |budget: u64| -> Vec<bool> {
            let (series, _) =
                read_prices_on(&files, &[], ReadOptions::default(), 2, Hold::UpTo(budget)).unwrap();
            series.iter().map(|s| !matches!(s.prices, Prices::InFile(_))).collect()
        };
        let (a, b) = (size(&files[0]), size(&files[1]));
        assert_eq!(held(0), [false, false, false]);
        assert_eq!(held(a - 1), [false, false, false]);
        assert_eq!(held(a), [true, false, false]);
        assert_eq!(held(a + b), [true, true, false]);
        assert_eq!(held(u64::MAX), [true, true, true]);
        #[cfg(unix)]
        {
            // A pipe cannot be read twice: held whatever the budget.
            let fifo = dir.path().join("fifo.csv");
            assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
            let writer = {
                let fifo = fifo.clone();
                std::thread::spawn(move || {
                    std::fs::write(fifo, format!("{HEADER}P,2020-01-01T00:00:00Z,1,1,1,1,1\n")).unwrap()
                })
            };
            let (series, _) = read_prices_on(&[fifo], &[], ReadOptions::default(), 1, Hold::UpTo(0)).unwrap();
            writer.join().unwrap();
            assert!(matches!(series[0].prices, Prices::Bars(_)));
        }
    }

    proptest::proptest! {
        /// The gaps counted as bars are read give the mode of the held bars.
        #[test]
        fn gaps_counted_while_reading_give_the_most_common_gap_of_the_bars(
            steps in proptest::collection::vec(prop_oneof![Just(60_000i64), Just(120_000), 1..5i64], 0..60),
        ) {
            let mut ts = 0;
            let bars: Vec<Bar> = steps
                .iter()
                .map(|&step| {
                    ts += step;
                    Bar { ts: Timestamp(ts), open: 1.0, high: 1.0, low: 1.0, close: 1.0, volume: 0.0 }
                })
                .collect();
            let mut counts = GapCounts::default();
            for pair in bars.windows(2) {
                counts.add(pair[1].ts - pair[0].ts);
            }
            proptest::prop_assert_eq!(counts.mode(), most_common_gap(&bars));
        }
    }

    #[test]
    fn repeated_timestamps_are_no_gap() {
        let bar =
            |ms: i64| Bar { ts: Timestamp(ms), open: 1.0, high: 1.0, low: 1.0, close: 1.0, volume: 0.0 };
        // Gaps 0, 0 and 60 s: the only gap is 60 s, however often a time repeats.
        let bars = [bar(0), bar(0), bar(0), bar(60_000)];
        assert_eq!(most_common_gap(&bars), Some(60_000));
        assert_eq!(most_common_gap(&[bar(0), bar(0)]), None);
        // Gaps of 1, 2 and 2 minutes: 2 minutes, the gap that occurs twice.
        let bars = [bar(0), bar(60_000), bar(180_000), bar(300_000)];
        assert_eq!(most_common_gap(&bars), Some(120_000));
    }

    #[test]
    fn a_posted_bar_carries_its_time_and_an_empty_volume_cell_is_zero() {
        let bar = serde_json::json!({"symbol": "A", "ts": "2024-05-01T10:00:00Z", "open": 1, "high": 2,
            "low": 0.5, "close": 1.5, "volume": 3});
        let update = price_from_json(&bar).unwrap();
        let expected =
            Bar { ts: Timestamp(1_714_557_600_000), open: 1.0, high: 2.0, low: 0.5, close: 1.5, volume: 3.0 };
        assert_eq!((update.symbol.as_str(), update.price), ("A", Price::Bar(expected)));
        let dir = tempfile::tempdir().unwrap();
        let path = file(&dir, "c.csv", &format!("{HEADER}A,1714557600000,1,2,0.5,1.5,\n"));
        let (series, skipped) = read_prices(&[path], &[], ReadOptions::default()).unwrap();
        assert!(skipped.is_empty());
        assert_eq!(series[0].prices, Prices::Bars(vec![Bar { volume: 0.0, ..expected }]));
    }

    #[test]
    fn a_posted_price_needs_a_symbol_of_at_most_64_bytes_that_is_not_blank() {
        let tick =
            |symbol: &str| serde_json::json!({"symbol": symbol, "ts": "2024-05-01T10:00:00Z", "price": 1.5});
        let missing = ("symbol".to_owned(), "missing value; every price needs its symbol".to_owned());
        assert_eq!(price_from_json(&tick("  ")).unwrap_err(), [missing]);
        let longest = "S".repeat(64);
        assert_eq!(price_from_json(&tick(&longest)).unwrap().symbol.as_str(), longest);
        assert_eq!(
            price_from_json(&tick(&"S".repeat(65))).unwrap_err(),
            [("symbol".to_owned(), "symbol is 65 bytes long; the most is 64".to_owned())]
        );
    }

    #[test]
    fn a_posted_price_is_a_tick_or_a_whole_bar_and_any_other_problem_refuses_it() {
        let not_both = (
            "price".to_owned(),
            "send a tick (price) or a bar (open, high, low, close, optional volume), not both".to_owned(),
        );
        let both = serde_json::json!({"symbol": "A", "ts": 0, "price": 1, "open": 1, "high": 1, "low": 1,
            "close": 1});
        assert_eq!(price_from_json(&both).unwrap_err(), std::slice::from_ref(&not_both));
        let half_bar = serde_json::json!({"symbol": "A", "ts": 0, "open": 1, "high": 1});
        assert_eq!(price_from_json(&half_bar).unwrap_err(), [not_both]);
        // A readable tick with one unknown key is refused for that key alone.
        let extra = serde_json::json!({"symbol": "A", "ts": 0, "price": 1, "colour": "red"});
        let problems = price_from_json(&extra).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "colour", "{problems:?}");
    }
}
