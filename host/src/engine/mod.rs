//! The deterministic core: typed events in, typed effects out.
//!
//! The engine never reads the wall clock, never does I/O and never spawns:
//! `siglearn replay` feeds it from files with event time, the daemon from
//! HTTP with wall time, and both get the same effects for the same events.
//! An event the engine refuses changes nothing.

use std::sync::Arc;

use siglearn_plugin_api::{PriceError, PriceUpdate, Signal, SignalError, SignalId, Symbol, Timestamp};

use crate::monitor::{Monitor, MonitorConfig, MonitorError};
use crate::trade::Trade;

/// Something that happened, as the engine sees it.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A new signal: it enters the book and is watched from its entry_ts.
    Signal(Signal),
    /// A bar or tick: it may close signals of its symbol.
    Price(PriceUpdate),
    /// Time passed (event time in replay, wall time in the daemon).
    Clock(Timestamp),
}

/// What the engine did in response to an event.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// A signal was accepted and is now watched.
    SignalAccepted(Arc<Signal>),
    /// A signal closed.
    Closed(Trade),
}

/// How the engine decides outcomes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EngineConfig {
    pub monitor: MonitorConfig,
}

/// An event the engine refused; nothing changed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EngineError {
    #[error("signal {id}: {source}")]
    InvalidSignal { id: SignalId, source: SignalError },
    #[error("price of {symbol}: {source}")]
    InvalidPrice { symbol: Symbol, source: PriceError },
    #[error(transparent)]
    Monitor(#[from] MonitorError),
}

/// The synchronous engine.
#[derive(Debug)]
pub struct Engine {
    monitor: Monitor,
    clock: Option<Timestamp>,
    closed: Vec<Trade>,
}

impl Engine {
    pub fn new(config: EngineConfig) -> Self {
        Engine { monitor: Monitor::new(config.monitor), clock: None, closed: Vec::new() }
    }

    /// Applies one event, appending its effects to `effects`.
    pub fn handle(&mut self, event: Event, effects: &mut Vec<Effect>) -> Result<(), EngineError> {
        match event {
            Event::Signal(signal) => {
                signal
                    .validate()
                    .map_err(|source| EngineError::InvalidSignal { id: signal.id.clone(), source })?;
                let signal = Arc::new(signal);
                self.monitor.watch(Arc::clone(&signal))?;
                effects.push(Effect::SignalAccepted(signal));
            }
            Event::Price(update) => {
                update
                    .price
                    .validate()
                    .map_err(|source| EngineError::InvalidPrice { symbol: update.symbol.clone(), source })?;
                let symbol = self.monitor.symbol(&update.symbol);
                self.monitor.on_price(symbol, &update.price, &mut self.closed)?;
                self.advance(update.price.ts());
                effects.extend(self.closed.drain(..).map(Effect::Closed));
            }
            Event::Clock(now) => self.advance(now),
        }
        Ok(())
    }

    /// The latest time the engine has seen, from prices or the clock.
    pub fn now(&self) -> Option<Timestamp> {
        self.clock
    }

    /// Signals still open, in arrival order.
    pub fn open_signals(&self) -> Vec<Arc<Signal>> {
        self.monitor.open_signals()
    }

    /// How many signals are open.
    pub fn open_count(&self) -> usize {
        self.monitor.open_count()
    }

    fn advance(&mut self, ts: Timestamp) {
        self.clock = Some(self.clock.map_or(ts, |now| now.max(ts)));
    }
}

#[cfg(test)]
mod tests {
    use siglearn_plugin_api::{Bar, OutcomeKind, Price, Side};

    use super::*;
    use crate::monitor::fixtures::signal;

    fn bar(ts: i64, open: f64, high: f64, low: f64) -> Event {
        Event::Price(PriceUpdate {
            symbol: Symbol::new("BTC"),
            price: Price::Bar(Bar { ts: Timestamp(ts), open, high, low, close: open, volume: 0.0 }),
        })
    }

    #[test]
    fn a_signal_is_accepted_then_closed_by_a_price() {
        let mut engine = Engine::new(EngineConfig::default());
        let mut effects = Vec::new();
        engine.handle(Event::Signal(signal("s", Side::Long)), &mut effects).unwrap();
        engine.handle(bar(0, 100.0, 111.0, 99.0), &mut effects).unwrap();
        assert!(matches!(&effects[0], Effect::SignalAccepted(s) if s.id.as_str() == "s"));
        assert!(matches!(&effects[1], Effect::Closed(t) if t.outcome.kind == OutcomeKind::TpHit));
        assert_eq!(engine.now(), Some(Timestamp(0)));
    }

    #[test]
    fn invalid_events_are_refused_and_change_nothing() {
        let mut engine = Engine::new(EngineConfig::default());
        let mut effects = Vec::new();
        let wrong = Signal { take_profit: Some(50.0), ..signal("s", Side::Long) };
        let err = engine.handle(Event::Signal(wrong), &mut effects).unwrap_err();
        assert!(matches!(err, EngineError::InvalidSignal { .. }), "{err}");
        let err = engine.handle(bar(0, f64::NAN, 1.0, 1.0), &mut effects).unwrap_err();
        assert!(err.to_string().contains("open"), "{err}");
        assert!(effects.is_empty());
        assert_eq!((engine.open_count(), engine.now()), (0, None));
    }

    #[test]
    fn the_clock_only_moves_forward() {
        let mut engine = Engine::new(EngineConfig::default());
        let mut effects = Vec::new();
        engine.handle(Event::Clock(Timestamp(10)), &mut effects).unwrap();
        engine.handle(Event::Clock(Timestamp(5)), &mut effects).unwrap();
        assert_eq!(engine.now(), Some(Timestamp(10)));
    }
}
