//! What the daemon has taken, so that a retry is recognised and a
//! duplicate refused before anything of its batch is applied, in bounded
//! memory: the signal ids the store holds ([`KnownIds`]) and the bars taken
//! lately ([`RecentBars`]).
//!
//! A set of every id would grow without end (about 50 bytes an id). Instead
//! a scalable Bloom filter (about 1.2 bytes an id) answers "surely new" for
//! all but about 1% of new ids, and a "maybe" is settled by one primary-key
//! lookup in the store. Every acknowledged batch is committed before the
//! next one is checked, so the store is the truth for everything before the
//! batch at hand.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};

use siglearn_plugin_api::{Bar, Price, PriceUpdate, SignalId, Symbol, Timestamp};

use super::{MAX_BATCH, Problems, Refusal};
use crate::store::{StoreError, StoreReader};
use crate::timestamp::format_timestamp;

/// Ids the first filter holds before a larger one is added.
const FIRST_CAPACITY: u64 = 1 << 20;
/// The false-positive rate of the first filter; each next one halves it, so
/// the whole stays under twice this.
const FIRST_ERROR: f64 = 0.01;

/// One Bloom filter of a fixed capacity.
#[derive(Debug)]
struct Bloom {
    bits: Vec<u64>,
    hashes: u32,
    capacity: u64,
    len: u64,
}

impl Bloom {
    fn new(capacity: u64, error: f64) -> Self {
        let ln2 = std::f64::consts::LN_2;
        let bits = (-(capacity as f64) * error.ln() / (ln2 * ln2)).ceil().max(64.0) as u64;
        let hashes = ((bits as f64 / capacity as f64) * ln2).round().clamp(1.0, 30.0) as u32;
        Bloom { bits: vec![0; bits.div_ceil(64) as usize], hashes, capacity, len: 0 }
    }

    /// The bit positions of an id (double hashing of two 64-bit hashes).
    fn positions(&self, (h1, h2): (u64, u64)) -> impl Iterator<Item = usize> + use<> {
        let m = self.bits.len() as u64 * 64;
        (0..u64::from(self.hashes)).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2 | 1)) % m) as usize)
    }

    fn insert(&mut self, hashes: (u64, u64)) {
        for bit in self.positions(hashes) {
            self.bits[bit / 64] |= 1 << (bit % 64);
        }
        self.len += 1;
    }

    fn may_contain(&self, hashes: (u64, u64)) -> bool {
        self.positions(hashes).all(|bit| self.bits[bit / 64] & (1 << (bit % 64)) != 0)
    }
}

/// Two independent 64-bit hashes of an id, the same in every run.
fn hashes(id: &str) -> (u64, u64) {
    let hash = |seed: u64| {
        let mut hasher = std::hash::BuildHasherDefault::<std::hash::DefaultHasher>::default().build_hasher();
        hasher.write_u64(seed);
        hasher.write(id.as_bytes());
        hasher.finish()
    };
    (hash(0x5167_1ea2), hash(0x0b10_0f11))
}

/// A scalable Bloom filter: when the newest filter is full, a next one
/// twice as large with half the error rate is added.
#[derive(Debug)]
struct Filters(Vec<Bloom>);

impl Filters {
    fn new() -> Self {
        Filters(vec![Bloom::new(FIRST_CAPACITY, FIRST_ERROR)])
    }

    fn insert(&mut self, hashes: (u64, u64)) {
        let newest = self.0.len() - 1;
        if self.0[newest].len >= self.0[newest].capacity {
            let error = FIRST_ERROR * 0.5f64.powi(self.0.len() as i32);
            let next = Bloom::new(self.0[newest].capacity * 2, error);
            self.0.push(next);
        }
        if let Some(newest) = self.0.last_mut() {
            newest.insert(hashes);
        }
    }

    fn may_contain(&self, hashes: (u64, u64)) -> bool {
        self.0.iter().any(|filter| filter.may_contain(hashes))
    }
}

/// The ids of the signals in the store (see the module docs).
#[derive(Debug)]
pub(crate) struct KnownIds {
    filters: Filters,
    store: StoreReader,
    /// "Maybe" answers the store had to settle.
    pub(crate) lookups: u64,
}

impl KnownIds {
    /// Every id `store` holds.
    pub(crate) fn load(store: StoreReader) -> Result<Self, StoreError> {
        let mut filters = Filters::new();
        store.each_signal_id(|id| filters.insert(hashes(id)))?;
        Ok(KnownIds { filters, store, lookups: 0 })
    }

    /// Records an id the store now holds (or is about to commit).
    pub(crate) fn insert(&mut self, id: &SignalId) {
        self.filters.insert(hashes(id.as_str()));
    }

    /// Whether the store holds `id`.
    pub(crate) fn contains(&mut self, id: &SignalId) -> Result<bool, StoreError> {
        if !self.filters.may_contain(hashes(id.as_str())) {
            return Ok(false);
        }
        self.lookups += 1;
        Ok(!self.store.known_signals(std::iter::once(id.as_str()))?.is_empty())
    }

    /// The store the ids are settled in.
    pub(crate) fn store(&self) -> &StoreReader {
        &self.store
    }

    /// Bytes the filters take.
    pub(crate) fn memory(&self) -> usize {
        self.filters.0.iter().map(|filter| filter.bits.len() * 8).sum()
    }
}

/// The last [`MAX_BATCH`] bars taken (about 10 MB at most), so that a
/// retry of any one batch is recognised: a bar of a symbol at a time it
/// already has a bar for is the same bar sent again (a no-op, answered as
/// taken) or another bar for that time (refused with 409). Past the window
/// a bar sent again is refused as out of time order. Prices follow the
/// rules of the price files: a symbol's bars come in time order, one per
/// time; ticks in time order, several may share one.
///
/// The store keeps the same bars and each symbol's last price time
/// (written with the batch that took them, see [`RecentBars::command`]),
/// and [`RecentBars::load`] reads them back before the first batch after a
/// start, so the rules hold across a restart.
#[derive(Debug, Default)]
pub(crate) struct RecentBars {
    bars: HashMap<(Symbol, Timestamp), Bar>,
    order: VecDeque<(Symbol, Timestamp)>,
    /// Each symbol's last price time taken, as the store has it.
    last: HashMap<Symbol, Timestamp>,
    /// Whether the store's bars were read.
    loaded: bool,
}

/// What a batch's fresh prices add to what is remembered: its bars and
/// each symbol's last price time.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Taken {
    bars: Vec<(Symbol, Bar)>,
    last: Vec<(Symbol, Timestamp)>,
}

impl RecentBars {
    /// Reads what the store remembers of the prices taken before this
    /// start; once, before the first batch.
    pub(crate) fn load(&mut self, db: &std::path::Path) -> Result<(), StoreError> {
        if self.loaded {
            return Ok(());
        }
        let stored = crate::store::recent_prices(db)?;
        self.remember(stored.bars);
        self.last.extend(stored.last);
        self.loaded = true;
        Ok(())
    }

    /// The bars and last price times of the fresh updates of a batch.
    pub(crate) fn taken(updates: &[PriceUpdate]) -> Taken {
        let mut last: HashMap<&Symbol, Timestamp> = HashMap::new();
        for update in updates {
            let ts = last.entry(&update.symbol).or_insert(update.price.ts());
            *ts = (*ts).max(update.price.ts());
        }
        let last = last.into_iter().map(|(symbol, ts)| (symbol.clone(), ts)).collect();
        Taken { bars: Self::bars_of(updates), last }
    }

    /// The store command that keeps `taken`, to commit with the batch's
    /// effects; none when the batch took nothing (it was all retries).
    pub(crate) fn command(taken: &Taken) -> Option<crate::store::Command> {
        (!taken.last.is_empty()).then(|| crate::store::Command::RememberPrices {
            bars: taken.bars.clone(),
            last: taken.last.clone(),
            keep: MAX_BATCH,
        })
    }

    /// Records a batch's prices once they are committed.
    pub(crate) fn remember_taken(&mut self, taken: Taken) {
        for (symbol, ts) in taken.last {
            let last = self.last.entry(symbol).or_insert(ts);
            *last = (*last).max(ts);
        }
        self.remember(taken.bars);
    }

    /// The updates of a batch to apply, in order, without the bars taken
    /// before; or why the batch is refused (409 when every problem is a bar
    /// taken with other values, else 422). `last` is a symbol's last price
    /// time before the batch.
    pub(crate) fn fresh(
        &self,
        updates: Vec<PriceUpdate>,
        last: impl Fn(&Symbol) -> Option<Timestamp>,
    ) -> Result<Vec<PriceUpdate>, Refusal> {
        let mut problems = Problems::default();
        let mut conflicts = 0;
        let mut fresh = Vec::with_capacity(updates.len());
        let mut latest: HashMap<Symbol, Timestamp> = HashMap::new();
        for (index, update) in updates.into_iter().enumerate() {
            let (symbol, ts) = (&update.symbol, update.price.ts());
            let before =
                latest.get(symbol).copied().or_else(|| last(symbol).max(self.last.get(symbol).copied()));
            let taken = match update.price {
                Price::Bar(_) => self.bars.get(&(symbol.clone(), ts)),
                Price::Tick(_) => None,
            };
            match (taken, update.price) {
                (Some(taken), Price::Bar(bar)) if *taken == bar => continue,
                (Some(taken), _) => {
                    conflicts += 1;
                    let last = before.map_or_else(String::new, |before| {
                        format!(" (its last price is at {})", format_timestamp(before))
                    });
                    let reason = format!(
                        "{symbol} already has a bar at {} with other values (open {}, high {}, low {}, close {}, \
                         volume {}){last}; a bar is taken once: send it unchanged (a retry) or not at all",
                        format_timestamp(ts),
                        taken.open,
                        taken.high,
                        taken.low,
                        taken.close,
                        taken.volume
                    );
                    problems.push(index, "ts", reason);
                    continue;
                }
                (None, price) => {
                    let bar = matches!(price, Price::Bar(_));
                    if let Some(before) = before.filter(|&before| ts < before || (bar && ts == before)) {
                        let reason = format!(
                            "{symbol} at {} is {} its last price at {}; prices of a symbol come in time \
                             order, one bar per time: send only prices after {}",
                            format_timestamp(ts),
                            if ts == before { "at the time of" } else { "before" },
                            format_timestamp(before),
                            format_timestamp(before)
                        );
                        problems.push(index, "ts", reason);
                    }
                }
            }
            latest.insert(symbol.clone(), ts);
            if problems.is_empty() {
                fresh.push(update);
            }
        }
        match problems.len() {
            0 => Ok(fresh),
            n if n == conflicts => {
                Err(problems
                    .refusal(409, "bars already taken with other values; none of the batch was taken"))
            }
            _ => Err(Refusal::invalid("prices out of order; none of the batch was taken", problems)),
        }
    }

    /// The bars of `updates`, to [`remember`](Self::remember) once they are committed.
    pub(crate) fn bars_of(updates: &[PriceUpdate]) -> Vec<(Symbol, Bar)> {
        updates
            .iter()
            .filter_map(|update| match update.price {
                Price::Bar(bar) => Some((update.symbol.clone(), bar)),
                Price::Tick(_) => None,
            })
            .collect()
    }

    /// Records bars taken (committed), forgetting the oldest past the window.
    pub(crate) fn remember(&mut self, bars: Vec<(Symbol, Bar)>) {
        for (symbol, bar) in bars {
            let key = (symbol, bar.ts);
            if self.bars.insert(key.clone(), bar).is_none() {
                self.order.push_back(key);
            }
            while self.order.len() > MAX_BATCH {
                if let Some(oldest) = self.order.pop_front() {
                    self.bars.remove(&oldest);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(symbol: &str, minute: i64, close: f64) -> PriceUpdate {
        let ts = Timestamp(minute * 60_000);
        PriceUpdate {
            symbol: Symbol::new(symbol),
            price: Price::Bar(Bar { ts, open: 100.0, high: 110.0, low: 90.0, close, volume: 0.0 }),
        }
    }

    fn tick(symbol: &str, minute: i64) -> PriceUpdate {
        let ts = Timestamp(minute * 60_000);
        PriceUpdate {
            symbol: Symbol::new(symbol),
            price: Price::Tick(siglearn_plugin_api::Tick { ts, price: 100.0 }),
        }
    }

    #[test]
    fn a_bar_taken_is_dropped_when_sent_again_and_another_bar_at_its_time_conflicts() {
        let mut recent = RecentBars::default();
        recent.remember(RecentBars::bars_of(&[bar("BTC", 1, 100.0), bar("BTC", 2, 100.0)]));
        let last = |_: &Symbol| Some(Timestamp(2 * 60_000));
        // A retry of the batch, and one with a new bar after it: only the new one is fresh.
        assert_eq!(recent.fresh(vec![bar("BTC", 1, 100.0), bar("BTC", 2, 100.0)], last).unwrap(), []);
        let fresh = recent.fresh(vec![bar("BTC", 2, 100.0), bar("BTC", 3, 100.0)], last).unwrap();
        assert_eq!(fresh, [bar("BTC", 3, 100.0)]);
        // Another bar at a time taken: 409, naming the item.
        let refusal = recent.fresh(vec![bar("BTC", 3, 100.0), bar("BTC", 1, 101.0)], last).unwrap_err();
        assert_eq!((refusal.status, refusal.details[0]["index"].as_u64()), (409, Some(1)));
        // A bar at or before the last price that was never taken: out of order (422).
        for minute in [0, 2] {
            let unknown = RecentBars::default();
            let refusal = unknown.fresh(vec![bar("BTC", minute, 100.0)], last).unwrap_err();
            assert_eq!(refusal.status, 422, "minute {minute}");
        }
        // Two bars at one time in one batch: the second is out of order; ticks may share a time.
        let refusal = recent.fresh(vec![bar("ETH", 5, 1.0), bar("ETH", 5, 1.0)], |_| None).unwrap_err();
        assert_eq!((refusal.status, refusal.details[0]["index"].as_u64()), (422, Some(1)));
        assert_eq!(recent.fresh(vec![tick("ETH", 5), tick("ETH", 5)], |_| None).unwrap().len(), 2);
        assert_eq!(recent.fresh(vec![tick("BTC", 2)], last).unwrap().len(), 1);
    }

    #[test]
    fn the_bars_remembered_are_the_last_max_batch_taken() {
        let mut recent = RecentBars::default();
        let bars: Vec<PriceUpdate> = (0..=MAX_BATCH as i64).map(|minute| bar("BTC", minute, 100.0)).collect();
        recent.remember(RecentBars::bars_of(&bars));
        assert_eq!(recent.bars.len(), MAX_BATCH);
        let last = |_: &Symbol| Some(Timestamp(MAX_BATCH as i64 * 60_000));
        assert_eq!(recent.fresh(vec![bar("BTC", 1, 100.0)], last).unwrap(), [], "still remembered");
        assert_eq!(recent.fresh(vec![bar("BTC", 0, 100.0)], last).unwrap_err().status, 422, "forgotten");
    }

    #[test]
    fn a_filter_never_forgets_and_errs_about_as_rarely_as_sized() {
        let mut bloom = Bloom::new(100_000, 0.01);
        for i in 0..100_000 {
            bloom.insert(hashes(&format!("in-{i}")));
        }
        assert!((0..100_000).all(|i| bloom.may_contain(hashes(&format!("in-{i}")))), "no false negatives");
        let false_positives = (0..100_000).filter(|i| bloom.may_contain(hashes(&format!("out-{i}")))).count();
        assert!(false_positives < 1_500, "{false_positives} false positives in 100,000 (sized for 1%)");
        assert!(bloom.bits.len() * 8 < 130_000, "about 1.2 bytes an id");
    }

    #[test]
    fn the_store_settles_a_maybe_and_the_filters_grow_past_their_capacity() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let store = crate::store::Store::open(&db, &crate::monitor::MonitorConfig::default()).unwrap();
        let signal = crate::strategy::fixture::signal();
        store.send(crate::store::Command::InsertSignal(signal.clone())).unwrap();
        store.close().unwrap();
        let mut known = KnownIds::load(StoreReader::open(&db).unwrap()).unwrap();
        assert!(known.contains(&signal.id).unwrap(), "an id of the store");
        assert_eq!(known.lookups, 1, "confirmed by the store");
        // In the filter but not in the store (a batch not committed): the store says no.
        let pending = SignalId::new("pending");
        known.insert(&pending);
        assert!(!known.contains(&pending).unwrap());
        assert!(!known.contains(&SignalId::new("never-seen")).unwrap());
        let before = known.memory();
        for i in 0..FIRST_CAPACITY + 1 {
            known.filters.insert(hashes(&i.to_string()));
        }
        assert_eq!(known.filters.0.len(), 2);
        assert!(known.memory() > before);
    }

    #[test]
    fn what_a_batch_took_is_read_back_from_the_store_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let store = crate::store::Store::open(&db, &crate::monitor::MonitorConfig::default()).unwrap();
        let batch = [bar("BTC", 1, 100.0), bar("BTC", 2, 100.0), tick("ETH", 3), tick("ETH", 5)];
        let taken = RecentBars::taken(&batch);
        let command = RecentBars::command(&taken).unwrap();
        store.commit(vec![command]).unwrap();
        assert!(RecentBars::command(&RecentBars::taken(&[])).is_none(), "a batch of retries writes nothing");
        store.close().unwrap();
        // A new process: nothing in memory until the store is read.
        let mut recent = RecentBars::default();
        recent.load(&db).unwrap();
        assert_eq!(recent.fresh(vec![bar("BTC", 1, 100.0)], |_| None).unwrap(), [], "a retry");
        assert_eq!(recent.fresh(vec![bar("BTC", 2, 101.0)], |_| None).unwrap_err().status, 409);
        assert_eq!(
            recent.fresh(vec![bar("BTC", 0, 100.0)], |_| None).unwrap_err().status,
            422,
            "before minute 2"
        );
        assert_eq!(recent.fresh(vec![tick("ETH", 4)], |_| None).unwrap_err().status, 422, "before minute 5");
        assert_eq!(recent.fresh(vec![tick("ETH", 5)], |_| None).unwrap().len(), 1, "ticks may share a time");
    }

    #[test]
    fn the_store_keeps_the_newest_bars_of_its_window_and_each_symbols_latest_time() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let store = crate::store::Store::open(&db, &crate::monitor::MonitorConfig::default()).unwrap();
        let keep = |updates: &[PriceUpdate]| {
            let Taken { bars, last } = RecentBars::taken(updates);
            crate::store::Command::RememberPrices { bars, last, keep: 2 }
        };
        store.commit(vec![keep(&[bar("BTC", 1, 100.0), bar("BTC", 2, 100.0)])]).unwrap();
        store.commit(vec![keep(&[bar("BTC", 3, 100.0), tick("BTC", 3)])]).unwrap();
        store.close().unwrap();
        let stored = crate::store::recent_prices(&db).unwrap();
        let minutes: Vec<i64> = stored.bars.iter().map(|(_, bar)| bar.ts.as_millis() / 60_000).collect();
        assert_eq!(minutes, [2, 3], "the oldest bar left the window of 2");
        assert_eq!(stored.last, [(Symbol::new("BTC"), Timestamp(3 * 60_000))]);
    }
}
