//! The naive twin of the indexed monitor: every price looks at every open
//! signal and widens each one's excursion as it goes. It is slow on purpose
//! and obviously right, so the property tests and benchmarks compare the
//! indexed monitor against it.

use std::sync::Arc;

use siglearn_plugin_api::{Price, Signal, Symbol};

use super::MonitorConfig;
use super::rules::{self, Excursion, Levels};
use crate::trade::Trade;

#[derive(Debug)]
struct Open {
    signal: Arc<Signal>,
    levels: Levels,
    /// `None` until the first price at or after entry_ts.
    seen: Option<Excursion>,
}

/// A linear-scan outcome monitor with the same rules as [`super::Monitor`].
#[derive(Debug, Default)]
pub struct NaiveMonitor {
    config: MonitorConfig,
    open: Vec<Open>,
}

impl NaiveMonitor {
    pub fn new(config: MonitorConfig) -> Self {
        NaiveMonitor { config, open: Vec::new() }
    }

    /// Starts watching a validated signal.
    pub fn watch(&mut self, signal: Arc<Signal>) {
        self.open.push(Open { levels: Levels::of(&signal), signal, seen: None });
    }

    /// Applies one price; closed signals are appended to `closed` in arrival order.
    pub fn on_price(&mut self, symbol: &Symbol, price: &Price, closed: &mut Vec<Trade>) {
        let config = self.config;
        self.open.retain_mut(|open| {
            if &open.signal.symbol != symbol {
                return true;
            }
            if open.seen.is_none() && price.ts() >= open.levels.entry_ts {
                open.seen = Some(Excursion::at(open.levels.entry_price));
            }
            let Some(seen) = open.seen.as_mut() else { return true };
            match rules::evaluate(&open.levels, price, config.ambiguity) {
                Some(exit) => {
                    let outcome =
                        rules::close(&open.signal, &open.levels, exit, price, *seen, config.fee_pct);
                    closed.push(Trade { signal: Arc::clone(&open.signal), outcome });
                    false
                }
                None => {
                    seen.include(price.high(), price.low());
                    true
                }
            }
        });
    }

    /// How many signals are open (pending or active).
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// The signals still open, in arrival order.
    pub fn open_signals(&self) -> Vec<Arc<Signal>> {
        self.open.iter().map(|open| Arc::clone(&open.signal)).collect()
    }
}
