//! One symbol's active and pending signals, indexed by what can close them.
//!
//! Five ordered sets answer "which signals does this price close?" without
//! looking at the others: long stops (closed by a low at or below them, so
//! taken from the top), long targets (closed by a high at or above, taken
//! from the bottom), short stops, short targets, and deadlines. A cached
//! [`Band`] holds the nearest level of each set, so a price that closes
//! nothing costs six comparisons.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use siglearn_plugin_api::{Price, Side, Timestamp};

use super::path::PricePath;
use super::rules::Levels;

/// Index of a watched signal in the monitor's slot table.
pub(crate) type SlotIx = u32;

/// Signals ordered by one of their price levels.
type LevelSet = BTreeSet<(Level, SlotIx)>;

/// An f64 price level with a total order (levels are validated finite).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Level(pub(crate) f64);

impl Eq for Level {}

impl PartialOrd for Level {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Level {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The nearest trigger of each index; a price outside all of them closes
/// nothing and activates nothing.
#[derive(Clone, Copy, Debug)]
struct Band {
    next_entry: Timestamp,
    next_deadline: Timestamp,
    long_stop: f64,
    long_take: f64,
    short_stop: f64,
    short_take: f64,
}

impl Band {
    const EMPTY: Band = Band {
        next_entry: Timestamp(i64::MAX),
        next_deadline: Timestamp(i64::MAX),
        long_stop: f64::NEG_INFINITY,
        long_take: f64::INFINITY,
        short_stop: f64::INFINITY,
        short_take: f64::NEG_INFINITY,
    };

    #[inline]
    fn touched_by(&self, price: &Price) -> bool {
        let (ts, high, low) = (price.ts(), price.high(), price.low());
        ts >= self.next_entry
            || ts >= self.next_deadline
            || low <= self.long_stop
            || high >= self.long_take
            || high >= self.short_stop
            || low <= self.short_take
    }
}

#[derive(Debug)]
pub(crate) struct Book {
    /// Signals whose entry_ts is still ahead of this symbol's prices, with
    /// their deadlines.
    pending: BTreeMap<(Timestamp, u64, SlotIx), Option<Timestamp>>,
    /// Pending signals by deadline (deadline, seq, slot, entry_ts), for
    /// exits the clock triggers.
    pending_deadlines: BTreeSet<(Timestamp, u64, SlotIx, Timestamp)>,
    long_stops: LevelSet,
    long_takes: LevelSet,
    short_stops: LevelSet,
    short_takes: LevelSet,
    deadlines: BTreeSet<(Timestamp, SlotIx)>,
    /// How many active signals started at each path index: the first key is
    /// the oldest price any open signal still needs.
    starts: BTreeMap<u64, u32>,
    band: Band,
    pub(crate) path: PricePath,
    pub(crate) last_ts: Option<Timestamp>,
    /// The last traded price (a bar's close or a tick), for exits the clock
    /// triggers.
    pub(crate) last_price: Option<f64>,
}

impl Default for Book {
    fn default() -> Self {
        Book {
            pending: BTreeMap::new(),
            pending_deadlines: BTreeSet::new(),
            long_stops: BTreeSet::new(),
            long_takes: BTreeSet::new(),
            short_stops: BTreeSet::new(),
            short_takes: BTreeSet::new(),
            deadlines: BTreeSet::new(),
            starts: BTreeMap::new(),
            band: Band::EMPTY,
            path: PricePath::default(),
            last_ts: None,
            last_price: None,
        }
    }
}

impl Book {
    /// True when `price` may activate or close a signal of this book.
    #[inline]
    pub(crate) fn touched_by(&self, price: &Price) -> bool {
        self.band.touched_by(price)
    }

    pub(crate) fn add_pending(&mut self, levels: &Levels, seq: u64, slot: SlotIx) {
        self.pending.insert((levels.entry_ts, seq, slot), levels.deadline);
        if let Some(deadline) = levels.deadline {
            self.pending_deadlines.insert((deadline, seq, slot, levels.entry_ts));
        }
        self.band.next_entry = self.band.next_entry.min(levels.entry_ts);
    }

    /// Removes and returns the pending signals whose entry_ts is at or
    /// before `ts`, in entry order.
    pub(crate) fn take_due(&mut self, ts: Timestamp, due: &mut Vec<SlotIx>) {
        while let Some((&(entry_ts, seq, slot), &deadline)) = self.pending.first_key_value() {
            if entry_ts > ts {
                break;
            }
            self.pending.remove(&(entry_ts, seq, slot));
            if let Some(deadline) = deadline {
                self.pending_deadlines.remove(&(deadline, seq, slot, entry_ts));
            }
            due.push(slot);
        }
    }

    /// Removes and returns the pending signals (no price since their entry)
    /// whose deadline is at or before `now`, in deadline order.
    pub(crate) fn take_expired_pending(&mut self, now: Timestamp, out: &mut Vec<SlotIx>) {
        while let Some(&(deadline, seq, slot, entry_ts)) = self.pending_deadlines.first() {
            if deadline > now {
                break;
            }
            self.pending_deadlines.remove(&(deadline, seq, slot, entry_ts));
            self.pending.remove(&(entry_ts, seq, slot));
            out.push(slot);
        }
    }

    pub(crate) fn activate(&mut self, slot: SlotIx, levels: &Levels, start: u64) {
        let (stops, takes) = self.sets_of(levels.side);
        if let Some(stop) = levels.stop_loss {
            stops.insert((Level(stop), slot));
        }
        if let Some(take) = levels.take_profit {
            takes.insert((Level(take), slot));
        }
        if let Some(deadline) = levels.deadline {
            self.deadlines.insert((deadline, slot));
        }
        *self.starts.entry(start).or_insert(0) += 1;
    }

    /// Collects every active signal that `price` closes (possibly twice; the
    /// caller deduplicates).
    pub(crate) fn triggered(&self, price: &Price, out: &mut Vec<SlotIx>) {
        let (ts, high, low) = (price.ts(), price.high(), price.low());
        out.extend(self.deadlines.iter().take_while(|(deadline, _)| *deadline <= ts).map(|&(_, slot)| slot));
        out.extend(
            self.long_stops.iter().rev().take_while(|(level, _)| level.0 >= low).map(|&(_, slot)| slot),
        );
        out.extend(self.long_takes.iter().take_while(|(level, _)| level.0 <= high).map(|&(_, slot)| slot));
        out.extend(self.short_stops.iter().take_while(|(level, _)| level.0 <= high).map(|&(_, slot)| slot));
        out.extend(
            self.short_takes.iter().rev().take_while(|(level, _)| level.0 >= low).map(|&(_, slot)| slot),
        );
    }

    /// Active signals whose deadline is at or before `now`.
    pub(crate) fn expired(&self, now: Timestamp, out: &mut Vec<SlotIx>) {
        out.extend(self.deadlines.iter().take_while(|(deadline, _)| *deadline <= now).map(|&(_, slot)| slot));
    }

    /// Removes a closed signal from every index.
    pub(crate) fn deactivate(&mut self, slot: SlotIx, levels: &Levels, start: u64) {
        let (stops, takes) = self.sets_of(levels.side);
        if let Some(stop) = levels.stop_loss {
            stops.remove(&(Level(stop), slot));
        }
        if let Some(take) = levels.take_profit {
            takes.remove(&(Level(take), slot));
        }
        if let Some(deadline) = levels.deadline {
            self.deadlines.remove(&(deadline, slot));
        }
        if let Some(count) = self.starts.get_mut(&start) {
            *count -= 1;
            if *count == 0 {
                self.starts.remove(&start);
            }
        }
    }

    /// True while some signal is active, i.e. the price path is needed.
    pub(crate) fn has_active(&self) -> bool {
        !self.starts.is_empty()
    }

    /// Recomputes the cached band after the indexes changed, and drops price
    /// history no open signal needs any more.
    pub(crate) fn refresh(&mut self) {
        self.band = Band {
            next_entry: self.pending.first_key_value().map_or(Band::EMPTY.next_entry, |(&(ts, _, _), _)| ts),
            next_deadline: self.deadlines.first().map_or(Band::EMPTY.next_deadline, |&(ts, _)| ts),
            long_stop: self.long_stops.last().map_or(Band::EMPTY.long_stop, |(level, _)| level.0),
            long_take: self.long_takes.first().map_or(Band::EMPTY.long_take, |(level, _)| level.0),
            short_stop: self.short_stops.first().map_or(Band::EMPTY.short_stop, |(level, _)| level.0),
            short_take: self.short_takes.last().map_or(Band::EMPTY.short_take, |(level, _)| level.0),
        };
        let oldest_needed = self.starts.keys().next().copied().unwrap_or(self.path.next_index());
        self.path.forget_before(oldest_needed);
    }

    fn sets_of(&mut self, side: Side) -> (&mut LevelSet, &mut LevelSet) {
        match side {
            Side::Long => (&mut self.long_stops, &mut self.long_takes),
            Side::Short => (&mut self.short_stops, &mut self.short_takes),
        }
    }
}
