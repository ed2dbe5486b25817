//! Every series' prices in stream order, a window of prices at a time.
//!
//! A price is known at its time plus its series' interval (a bar at its
//! close, a tick at its time), and the stream orders prices by (known time,
//! series, position in the series). Each series is in time order, so a
//! k-way merge gives the stream: a heap holds each series' next price by
//! (known time, series), and the smallest is taken and replaced by the next
//! of its series. The merged prices are handed out in windows of a fixed
//! count; only the windows near the replay's clock are in memory, plus what
//! is read ahead of each file (more for a file holding several symbols one
//! after the other).
//!
//! Series held in memory are walked in place; series left in their file
//! ([`Prices::InFile`]) are read again with [`FileRows`], one reader per
//! file, opened when the stream first needs it and closed when its series
//! end. At most [`MAX_OPEN_FILES`] are open at once (systems allow a
//! process 256 or 1024 by default): past that, the reader used longest ago
//! is closed and reopened where it stopped when it is needed again.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use siglearn_plugin_api::{Price, Timestamp};

use super::ReplayError;
use crate::format::{FileRows, FormatError, Prices, Series};

/// One price of the stream: (known time, series, price).
pub(super) type Item = (Timestamp, u32, Price);

/// Prices a window holds.
const WINDOW_PRICES: usize = 1 << 15;

/// Rows read from a file at a time, for one of its series.
const READ_AHEAD: usize = 256;

/// Price files open at once.
const MAX_OPEN_FILES: usize = 128;

pub(super) struct PriceStream<'s> {
    series: &'s [Series],
    cursors: Vec<Cursor>,
    feeds: Vec<Feed>,
    /// The next price of every series that has one, by (known time, series);
    /// `None` until the first window.
    heap: Option<BinaryHeap<Reverse<(Timestamp, u32)>>>,
    /// Prices a window holds.
    window: usize,
    /// Files open now, and the most allowed.
    open: usize,
    max_open: usize,
    /// Counts reads, to tell which open file was used longest ago.
    clock: u64,
    /// Each file opened: (the feed closed to make room, the feed opened).
    #[cfg(test)]
    opened: Vec<(Option<usize>, usize)>,
}

/// Where a series stands.
struct Cursor {
    /// Added to a price's time to give the time it is known.
    interval: i64,
    /// Held in memory: the next price to give.
    next: usize,
    /// Left in its file: the prices read and not yet given, the number of
    /// rows still to read, and the feed that reads them.
    pending: VecDeque<Price>,
    left: usize,
    feed: Option<usize>,
}

/// The second reading of one file.
struct Feed {
    /// Index of the file's first series.
    first: usize,
    /// The reader while the file is open; opened when first needed.
    rows: Option<FileRows>,
    /// Where a reader closed to make room stopped.
    paused: Option<csv::Position>,
    /// When the reader was last used ([`PriceStream::clock`]).
    used: u64,
    /// The file's series: (symbol, series index).
    series: Vec<(String, u32)>,
}

impl<'s> PriceStream<'s> {
    /// The stream of `series`; refused when a series' bar interval is unknown.
    pub(super) fn new(series: &'s [Series]) -> Result<Self, ReplayError> {
        let mut cursors = Vec::with_capacity(series.len());
        let mut feeds: Vec<Feed> = Vec::new();
        for (s, one) in series.iter().enumerate() {
            let Some(interval) = one.interval_ms else {
                return Err(ReplayError::UnknownInterval {
                    symbol: one.symbol.clone(),
                    file: one.source.clone(),
                });
            };
            let (left, feed) = match &one.prices {
                Prices::InFile(file) => {
                    // Series of one file are given in the file's order of first appearance.
                    let same_file = feeds.iter().position(|feed| series[feed.first].source == one.source);
                    let feed = same_file.unwrap_or_else(|| {
                        feeds.push(Feed { first: s, rows: None, paused: None, used: 0, series: Vec::new() });
                        feeds.len() - 1
                    });
                    feeds[feed].series.push((one.symbol.as_str().to_owned(), s as u32));
                    (file.len, Some(feed))
                }
                _ => (0, None),
            };
            cursors.push(Cursor { interval, next: 0, pending: VecDeque::new(), left, feed });
        }
        Ok(PriceStream {
            series,
            cursors,
            feeds,
            heap: None,
            window: WINDOW_PRICES,
            open: 0,
            max_open: MAX_OPEN_FILES,
            clock: 0,
            #[cfg(test)]
            opened: Vec::new(),
        })
    }

    /// The next window's prices into `out` (cleared first), in stream
    /// order; `false` when every price has been given.
    pub(super) fn next_window(&mut self, out: &mut Vec<Item>) -> Result<bool, ReplayError> {
        out.clear();
        let mut heap = match self.heap.take() {
            Some(heap) => heap,
            None => {
                let mut heap = BinaryHeap::with_capacity(self.series.len());
                for s in 0..self.series.len() {
                    self.read_ahead(s)?;
                    if let Some(known) = self.peek(s) {
                        heap.push(Reverse((known, s as u32)));
                    }
                }
                heap
            }
        };
        while out.len() < self.window {
            let Some(Reverse((known, s))) = heap.pop() else { break };
            let s = s as usize;
            let price = self.take(s);
            out.push((known, s as u32, price));
            self.read_ahead(s)?;
            if let Some(next) = self.peek(s) {
                heap.push(Reverse((next, s as u32)));
            }
        }
        self.heap = Some(heap);
        Ok(!out.is_empty())
    }

    /// When the next price of series `s` is known.
    fn peek(&self, s: usize) -> Option<Timestamp> {
        let cursor = &self.cursors[s];
        let price = match &self.series[s].prices {
            Prices::InFile(_) => cursor.pending.front().copied(),
            held => held.get(cursor.next),
        };
        price.map(|price| price.ts() + cursor.interval)
    }

    /// Takes the next price of series `s` (which [`PriceStream::peek`] saw).
    fn take(&mut self, s: usize) -> Price {
        let cursor = &mut self.cursors[s];
        let price = match &self.series[s].prices {
            Prices::InFile(_) => cursor.pending.pop_front(),
            held => {
                cursor.next += 1;
                held.get(cursor.next - 1)
            }
        };
        price.unwrap_or_else(|| unreachable!("a series is in the heap only with a next price"))
    }

    /// Reads the file of series `s` (if it is left in one) when the series
    /// has no price waiting: up to [`READ_AHEAD`] of its rows.
    fn read_ahead(&mut self, s: usize) -> Result<(), ReplayError> {
        let Some(f) = self.cursors[s].feed else { return Ok(()) };
        if !self.cursors[s].pending.is_empty() {
            return Ok(());
        }
        // Until the series has a price waiting (however far that is in a
        // file of several symbols), then on to a batch of its rows, and
        // about as many of each other symbol of the file.
        let limit = READ_AHEAD * self.feeds[f].series.len();
        let mut read = 0;
        loop {
            let cursor = &self.cursors[s];
            let waiting = cursor.pending.len();
            if cursor.left == 0 || waiting >= READ_AHEAD || (waiting > 0 && read >= limit) {
                break;
            }
            self.read_row(f)?;
            read += 1;
        }
        Ok(())
    }

    /// Reads one row of feed `f` into the waiting prices of its series.
    fn read_row(&mut self, f: usize) -> Result<(), ReplayError> {
        if self.feeds[f].rows.is_none() {
            self.open_feed(f)?;
        }
        self.clock += 1;
        let feed = &mut self.feeds[f];
        feed.used = self.clock;
        let path = &self.series[feed.first].source;
        let Some(rows) = feed.rows.as_mut() else { unreachable!("opened above") };
        let changed = |what: String| ReplayError::Prices(FormatError::Changed { path: path.clone(), what });
        let Some(price) = rows.next_price()? else {
            return Err(changed("it ended before the rows the first reading found".into()));
        };
        let symbol = rows.symbol();
        let Some(&(_, s)) = feed.series.iter().find(|(name, _)| name == symbol) else {
            return Err(changed(format!("it has rows of {symbol}, which the first reading did not find")));
        };
        let cursor = &mut self.cursors[s as usize];
        if cursor.left == 0 {
            return Err(changed(format!("it has more rows of {symbol} than the first reading found")));
        }
        cursor.left -= 1;
        cursor.pending.push_back(price);
        // A file whose series are all read is closed.
        if feed.series.iter().all(|&(_, s)| self.cursors[s as usize].left == 0) {
            feed.rows = None;
            self.open -= 1;
        }
        Ok(())
    }

    /// Opens the file of feed `f` (again, where it stopped, if it was
    /// closed to make room), closing the one used longest ago first when
    /// too many are open.
    fn open_feed(&mut self, f: usize) -> Result<(), ReplayError> {
        let mut closed = None;
        if self.open >= self.max_open {
            let oldest = (0..self.feeds.len())
                .filter(|&g| self.feeds[g].rows.is_some())
                .min_by_key(|&g| self.feeds[g].used)
                .unwrap_or_else(|| unreachable!("files are open"));
            let feed = &mut self.feeds[oldest];
            feed.paused = feed.rows.take().map(|rows| rows.position());
            self.open -= 1;
            closed = Some(oldest);
        }
        #[cfg(test)]
        self.opened.push((closed, f));
        #[cfg(not(test))]
        let _ = closed;
        let feed = &mut self.feeds[f];
        let one = &self.series[feed.first];
        let Prices::InFile(file) = &one.prices else {
            unreachable!("a feed reads series left in their file")
        };
        feed.rows = Some(match feed.paused.take() {
            Some(at) => FileRows::reopen(&one.source, file, &at)?,
            None => FileRows::open(&one.source, file)?,
        });
        self.open += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use proptest::prelude::*;
    use siglearn_plugin_api::{Bar, Symbol, Tick};

    use super::*;
    use crate::format::{Hold, ReadOptions, read_prices_on};

    /// The stream, a window of `window` prices at a time.
    fn streamed(series: &[Series], window: usize) -> Result<Vec<Item>, ReplayError> {
        streamed_with(series, window, MAX_OPEN_FILES)
    }

    /// [`streamed`] with at most `max_open` files open at once.
    fn streamed_with(series: &[Series], window: usize, max_open: usize) -> Result<Vec<Item>, ReplayError> {
        let mut stream = PriceStream::new(series)?;
        stream.window = window;
        stream.max_open = max_open;
        let (mut all, mut one) = (Vec::new(), Vec::new());
        while stream.next_window(&mut one)? {
            assert!(one.len() <= window);
            all.append(&mut one);
        }
        Ok(all)
    }

    /// The twin: every price of every series at once, sorted by (known
    /// time, series, position).
    fn sorted_at_once(series: &[Series]) -> Vec<Item> {
        let mut all = Vec::new();
        for (s, one) in series.iter().enumerate() {
            let interval = one.interval_ms.unwrap();
            for i in 0..one.prices.len() {
                let price = one.prices.get(i).unwrap();
                all.push(((price.ts() + interval, s as u32, i), price));
            }
        }
        all.sort_by_key(|&(key, _)| key);
        all.into_iter().map(|((known, s, _), price)| (known, s, price)).collect()
    }

    fn bar(ts: i64, close: f64) -> Bar {
        Bar { ts: Timestamp(ts), open: close, high: close, low: close, close, volume: 0.0 }
    }

    /// Series of bars of several lengths, with gaps, and of ticks sharing
    /// times: `(interval, steps)` each; interval 0 makes ticks.
    fn arbitrary_series() -> impl Strategy<Value = Vec<Series>> {
        prop::collection::vec(
            (prop::sample::select(vec![0i64, 1, 3, 5]), prop::collection::vec(0..4i64, 1..40)),
            1..6,
        )
        .prop_map(|specs| {
            specs
                .into_iter()
                .enumerate()
                .map(|(k, (interval, steps))| {
                    let symbol = Symbol::new(format!("S{k}"));
                    let mut ts = k as i64;
                    let prices = if interval == 0 {
                        Prices::Ticks(
                            steps
                                .iter()
                                .enumerate()
                                .map(|(i, &step)| {
                                    ts += step;
                                    Tick { ts: Timestamp(ts), price: 1.0 + i as f64 }
                                })
                                .collect(),
                        )
                    } else {
                        Prices::Bars(
                            steps
                                .iter()
                                .enumerate()
                                .map(|(i, &step)| {
                                    ts += interval * (step + 1);
                                    bar(ts, 1.0 + i as f64)
                                })
                                .collect(),
                        )
                    };
                    let mut one = Series::new(symbol, PathBuf::from("(test)"), prices);
                    one.interval_ms = Some(interval);
                    one
                })
                .collect()
        })
    }

    proptest! {
        /// Whatever the window, the stream is every price in (known time,
        /// series, position) order: ties of one instant by series, ticks
        /// of one series sharing a time in their order.
        #[test]
        fn the_windows_one_after_the_other_are_every_price_in_stream_order(
            series in arbitrary_series(),
            window in 1..20usize,
        ) {
            prop_assert_eq!(streamed(&series, window).unwrap(), sorted_at_once(&series));
        }
    }

    use std::path::PathBuf;

    fn candles(dir: &std::path::Path, name: &str, rows: &[(&str, i64, f64)]) -> PathBuf {
        let path = dir.join(name);
        let mut file = std::fs::File::create(&path).unwrap();
        writeln!(file, "symbol,ts,open,high,low,close,volume").unwrap();
        for (symbol, ts, close) in rows {
            writeln!(file, "{symbol},{ts},{close},{close},{close},{close},1").unwrap();
        }
        path
    }

    #[test]
    fn prices_left_in_their_files_stream_as_the_held_ones_do() {
        let dir = tempfile::tempdir().unwrap();
        let hour = 3_600_000;
        let t0 = 1_700_000_000_000 - 1_700_000_000_000 % hour;
        // A file of two symbols one after the other (the first longer than
        // any read-ahead), one of two symbols interleaved, one bad row
        // skipped by both readings.
        let grouped: Vec<(&str, i64, f64)> = (0..3000)
            .map(|i| ("A", t0 + i * hour, 1.0 + i as f64))
            .chain((0..300).map(|i| ("B", t0 + i * 2 * hour, 2.0 + i as f64)))
            .collect();
        let mut interleaved: Vec<(&str, i64, f64)> = Vec::new();
        for i in 0..500 {
            interleaved.push(("C", t0 + i * 60_000, 3.0 + i as f64));
            interleaved.push(("D", t0 + i * 60_000, 4.0 + i as f64));
        }
        interleaved.insert(17, ("C", t0 + 8 * 60_000 + 1, f64::NAN));
        let files = [
            candles(dir.path(), "grouped.csv", &grouped),
            candles(dir.path(), "interleaved.csv", &interleaved),
        ];
        let skip = ReadOptions { skip_invalid: true };
        let (held, held_skipped) = read_prices_on(&files, &[], skip, 2, Hold::All).unwrap();
        let (in_files, in_files_skipped) = read_prices_on(&files, &[], skip, 2, Hold::UpTo(0)).unwrap();
        assert!(in_files.iter().all(|s| matches!(s.prices, Prices::InFile(_))));
        assert_eq!((held_skipped.count, in_files_skipped.count), (1, 1));
        for (a, b) in held.iter().zip(&in_files) {
            assert_eq!(
                (&a.symbol, a.interval_ms, a.prices.len()),
                (&b.symbol, b.interval_ms, b.prices.len())
            );
            assert_eq!(a.prices.first_ts(), b.prices.first_ts());
            assert_eq!(a.prices.usual_gap(), b.prices.usual_gap());
        }
        let expected = sorted_at_once(&held);
        assert_eq!(expected.len(), 3000 + 300 + 1000);
        for window in [1, 7, 64, 4096] {
            assert_eq!(streamed(&in_files, window).unwrap(), expected, "window {window}");
        }
        // One file open at a time: each is closed and reopened where it
        // stopped, again and again.
        assert_eq!(streamed_with(&in_files, 64, 1).unwrap(), expected);
    }

    /// Files of one symbol each, `rows` bars, those of file k at hours k,
    /// k + files, k + 2 files... after a start (their times interleave),
    /// read again from their files.
    fn interleaved_files(dir: &std::path::Path, files: i64, rows: i64) -> Vec<Series> {
        let (hour, t0) = (3_600_000, 1_700_000_000_000);
        let paths: Vec<PathBuf> = (0..files)
            .map(|k| {
                let name = format!("F{k}");
                let bars: Vec<(&str, i64, f64)> =
                    (0..rows).map(|i| (name.as_str(), t0 + (k + i * files) * hour, 1.0)).collect();
                candles(dir, &format!("f{k}.csv"), &bars)
            })
            .collect();
        read_prices_on(&paths, &[], ReadOptions::default(), 1, Hold::UpTo(0)).unwrap().0
    }

    #[test]
    fn a_file_of_one_symbol_is_read_a_batch_of_rows_ahead_and_no_more() {
        let dir = tempfile::tempdir().unwrap();
        let series = interleaved_files(dir.path(), 1, 1000);
        let mut stream = PriceStream::new(&series).unwrap();
        stream.window = 1;
        let mut window = Vec::new();
        let mut waiting = Vec::new();
        while stream.next_window(&mut window).unwrap() {
            waiting.push(stream.cursors[0].pending.len());
        }
        // 256 rows read at first, one given each window; when the last
        // waiting one is given, the next 256 are read in the same window
        // (the last time 232: 1000 = 3 x 256 + 232); none after the end.
        let mut expected: Vec<usize> = Vec::new();
        for refill in [READ_AHEAD, READ_AHEAD, 1000 - 3 * READ_AHEAD] {
            expected.extend((1..READ_AHEAD).rev());
            expected.push(refill);
        }
        expected.extend((1..1000 - 3 * READ_AHEAD).rev());
        expected.push(0);
        assert_eq!(waiting, expected);
    }

    #[test]
    fn the_file_closed_to_make_room_is_the_one_used_longest_ago() {
        let dir = tempfile::tempdir().unwrap();
        // Three files of 600 rows, at most two open. Worked by hand: each
        // reading takes 256 rows (the last 88); a file's rows run out in
        // the order 0, 1, 2, 0, 1, 2, 0, 1, 2, and the one closed each time
        // is the open one read longest ago, not the first open one.
        let series = interleaved_files(dir.path(), 3, 600);
        let mut stream = PriceStream::new(&series).unwrap();
        stream.max_open = 2;
        let mut all = Vec::new();
        let mut window = Vec::new();
        while stream.next_window(&mut window).unwrap() {
            all.append(&mut window);
        }
        assert_eq!(all.len(), 1800);
        assert_eq!(
            stream.opened,
            [
                (None, 0),
                (None, 1),
                (Some(0), 2),
                (Some(1), 0),
                (Some(2), 1),
                (Some(0), 2),
                (Some(1), 0),
                (None, 1)
            ]
        );
    }

    #[test]
    fn a_price_file_changed_before_its_second_reading_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let rows: Vec<(&str, i64, f64)> =
            (0..50).map(|i| ("A", 1_700_000_000_000 + i * 60_000, 1.0)).collect();
        let path = candles(dir.path(), "a.csv", &rows);
        let (series, _) =
            read_prices_on(std::slice::from_ref(&path), &[], ReadOptions::default(), 1, Hold::UpTo(0))
                .unwrap();
        let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        writeln!(file, "A,{},1,1,1,1,1", 1_700_000_000_000i64 + 50 * 60_000).unwrap();
        drop(file);
        let error = streamed(&series, 16).unwrap_err().to_string();
        assert!(error.contains("a.csv changed while the replay was reading it"), "{error}");
    }
}
