//! The outcome monitor: watches signals and decides each one's outcome from
//! prices, with exactly the rules of DESIGN section 4 (see [`rules`]).
//!
//! Signals enter with [`Monitor::watch`] and wait, pending, until a price of
//! their symbol at or after their entry_ts arrives. Prices enter with
//! [`Monitor::on_price`]; every signal they close leaves as a [`Trade`].
//! The monitor is indexed per symbol and side ([`book`]): a price touches only
//! the signals it activates or closes, O(k log n), never every open signal.
//! [`NaiveMonitor`] is its twin that scans every signal on every price; tests
//! and benchmarks compare the two.

mod book;
#[cfg(test)]
pub(crate) mod fixtures;
mod naive;
mod path;
mod rules;

use std::collections::HashMap;
use std::sync::Arc;

use siglearn_plugin_api::{Price, Signal, SignalId, Symbol, Timestamp};

use crate::trade::Trade;
use book::{Book, SlotIx};
pub use naive::NaiveMonitor;
pub use rules::AmbiguityPolicy;
use rules::{Excursion, Levels};

/// How outcomes are decided.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MonitorConfig {
    /// Which exit a bar reaching both levels gives.
    pub ambiguity: AmbiguityPolicy,
    /// Fee per side in percent; a trade pays it twice.
    pub fee_pct: f64,
}

/// A symbol's index in the monitor, handed out by [`Monitor::symbol`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SymbolIx(u32);

/// A price or signal the monitor cannot accept.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MonitorError {
    #[error("signal {0} is already being watched")]
    DuplicateSignal(SignalId),
    #[error(
        "price for {symbol} at {ts:?} arrived after one at {last:?}; prices of a symbol must come in time order"
    )]
    OutOfOrder { symbol: Symbol, ts: Timestamp, last: Timestamp },
}

#[derive(Debug)]
struct Watched {
    signal: Arc<Signal>,
    levels: Levels,
    /// Arrival order; outcomes closed by one price come out in this order.
    seq: u64,
    /// The path index of the first price the signal was watched through;
    /// `None` while pending.
    start: Option<u64>,
}

/// The indexed outcome monitor.
#[derive(Debug)]
pub struct Monitor {
    config: MonitorConfig,
    symbols: HashMap<Symbol, SymbolIx>,
    names: Vec<Symbol>,
    books: Vec<Book>,
    slots: Vec<Option<Watched>>,
    free: Vec<SlotIx>,
    by_id: HashMap<SignalId, SlotIx>,
    next_seq: u64,
    scratch: Vec<SlotIx>,
}

impl Monitor {
    pub fn new(config: MonitorConfig) -> Self {
        Monitor {
            config,
            symbols: HashMap::new(),
            names: Vec::new(),
            books: Vec::new(),
            slots: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            next_seq: 0,
            scratch: Vec::new(),
        }
    }

    pub fn config(&self) -> MonitorConfig {
        self.config
    }

    /// The index of `symbol`, registering it on first use.
    pub fn symbol(&mut self, symbol: &Symbol) -> SymbolIx {
        if let Some(&ix) = self.symbols.get(symbol) {
            return ix;
        }
        let ix = SymbolIx(self.books.len() as u32);
        self.symbols.insert(symbol.clone(), ix);
        self.names.push(symbol.clone());
        self.books.push(Book::default());
        ix
    }

    /// Starts watching a validated signal.
    pub fn watch(&mut self, signal: Arc<Signal>) -> Result<(), MonitorError> {
        if self.by_id.contains_key(&signal.id) {
            return Err(MonitorError::DuplicateSignal(signal.id.clone()));
        }
        let symbol = self.symbol(&signal.symbol);
        let seq = self.next_seq;
        self.next_seq += 1;
        let watched = Watched { levels: Levels::of(&signal), signal, seq, start: None };
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as SlotIx
            }
        };
        self.books[symbol.0 as usize].add_pending(&watched.levels, seq, slot);
        self.by_id.insert(watched.signal.id.clone(), slot);
        self.slots[slot as usize] = Some(watched);
        Ok(())
    }

    /// Applies one price of `symbol`; every signal it closes is appended to
    /// `closed`, in the order the signals arrived.
    pub fn on_price(
        &mut self,
        symbol: SymbolIx,
        price: &Price,
        closed: &mut Vec<Trade>,
    ) -> Result<(), MonitorError> {
        let book = &mut self.books[symbol.0 as usize];
        let ts = price.ts();
        if let Some(last) = book.last_ts.filter(|&last| ts < last) {
            return Err(MonitorError::OutOfOrder { symbol: self.names[symbol.0 as usize].clone(), ts, last });
        }
        book.last_ts = Some(ts);
        if book.touched_by(price) {
            let slots = &mut self.slots;
            let scratch = &mut self.scratch;
            scratch.clear();
            book.take_due(ts, scratch);
            let start = book.path.next_index();
            for &slot in scratch.iter() {
                if let Some(watched) = slots[slot as usize].as_mut() {
                    watched.start = Some(start);
                    book.activate(slot, &watched.levels, start);
                }
            }
            scratch.clear();
            book.triggered(price, scratch);
            scratch.sort_unstable_by_key(|&slot| slots[slot as usize].as_ref().map_or(u64::MAX, |w| w.seq));
            scratch.dedup();
            for &slot in scratch.iter() {
                let Some(watched) = slots[slot as usize].take() else { continue };
                self.free.push(slot);
                self.by_id.remove(&watched.signal.id);
                let start = watched.start.unwrap_or(start);
                book.deactivate(slot, &watched.levels, start);
                // Every candidate closes: the indexes hold exactly the
                // conditions under which `evaluate` returns an exit.
                let Some(exit) = rules::evaluate(&watched.levels, price, self.config.ambiguity) else {
                    debug_assert!(false, "indexed candidate {} did not close", watched.signal.id);
                    continue;
                };
                let mut seen = Excursion::at(watched.levels.entry_price);
                book.path.widen_since(&mut seen, start);
                let outcome =
                    rules::close(&watched.signal, &watched.levels, exit, price, seen, self.config.fee_pct);
                closed.push(Trade { signal: watched.signal, outcome });
            }
            book.refresh();
        }
        if book.has_active() {
            book.path.push(price.high(), price.low());
        }
        book.last_price = Some(price.close());
        Ok(())
    }

    /// The clock reached `now` (live use): every signal whose deadline has
    /// passed closes with TIME_EXIT at the symbol's last price, stamped at
    /// its deadline, whether or not a new price arrived; a signal no price
    /// came for since its entry too, at the last price before it. Signals of
    /// a symbol that never had a price stay open.
    pub fn on_clock(&mut self, now: Timestamp, closed: &mut Vec<Trade>) {
        for book in &mut self.books {
            let Some(last_price) = book.last_price else { continue };
            self.scratch.clear();
            book.expired(now, &mut self.scratch);
            book.take_expired_pending(now, &mut self.scratch);
            if self.scratch.is_empty() {
                continue;
            }
            let slots = &mut self.slots;
            self.scratch
                .sort_unstable_by_key(|&slot| slots[slot as usize].as_ref().map_or(u64::MAX, |w| w.seq));
            for &slot in self.scratch.iter() {
                let Some(watched) = slots[slot as usize].take() else { continue };
                self.free.push(slot);
                self.by_id.remove(&watched.signal.id);
                let start = watched.start.unwrap_or_else(|| book.path.next_index());
                if watched.start.is_some() {
                    book.deactivate(slot, &watched.levels, start);
                }
                let Some(deadline) = watched.levels.deadline else { continue };
                let at_deadline = Price::Tick(siglearn_plugin_api::Tick { ts: deadline, price: last_price });
                let Some(exit) = rules::evaluate(&watched.levels, &at_deadline, self.config.ambiguity) else {
                    continue;
                };
                let mut seen = Excursion::at(watched.levels.entry_price);
                book.path.widen_since(&mut seen, start);
                let outcome = rules::close(
                    &watched.signal,
                    &watched.levels,
                    exit,
                    &at_deadline,
                    seen,
                    self.config.fee_pct,
                );
                closed.push(Trade { signal: watched.signal, outcome });
            }
            book.refresh();
        }
    }

    /// How many signals are watched (pending or active).
    pub fn open_count(&self) -> usize {
        self.by_id.len()
    }

    /// The signals still open, in arrival order.
    pub fn open_signals(&self) -> Vec<Arc<Signal>> {
        let mut open: Vec<&Watched> = self.slots.iter().flatten().collect();
        open.sort_unstable_by_key(|watched| watched.seq);
        open.into_iter().map(|watched| Arc::clone(&watched.signal)).collect()
    }

    /// The last price time of `symbol`, if the monitor has seen it.
    pub fn last_ts_of(&self, symbol: &Symbol) -> Option<Timestamp> {
        self.symbols.get(symbol).and_then(|ix| self.books[ix.0 as usize].last_ts)
    }

    /// Whether `signal` is being watched (pending or active).
    pub fn watches(&self, signal: &SignalId) -> bool {
        self.by_id.contains_key(signal)
    }

    /// The last price time seen for `symbol`, if any.
    pub fn last_ts(&self, symbol: SymbolIx) -> Option<Timestamp> {
        self.books[symbol.0 as usize].last_ts
    }
}

#[cfg(test)]
mod tests;
