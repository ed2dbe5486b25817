//! The signal ids the store holds, so that a duplicate is refused before
//! anything of its batch is applied, in bounded memory.
//!
//! A set of every id would grow without end (about 50 bytes an id). Instead
//! a scalable Bloom filter (about 1.2 bytes an id) answers "surely new" for
//! all but about 1% of new ids, and a "maybe" is settled by one primary-key
//! lookup in the store. Every acknowledged batch is committed before the
//! next one is checked, so the store is the truth for everything before the
//! batch at hand.

use std::hash::{BuildHasher, Hasher};

use siglearn_plugin_api::SignalId;

use crate::store::{StoreError, StoreReader};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
