//! The types scripts see: `Signal`, `Outcome` and `Values` (a signal's
//! heads or indicators), registered with getters over the shared Rust values.
//! Nothing is copied into a Rhai map per call; a getter reads the field it is
//! asked for.

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, ImmutableString, Map};
use siglearn_plugin_api::{Outcome, Signal, Values};

/// A signal as a script sees it.
#[derive(Clone, Debug)]
pub(crate) struct ScriptSignal(pub(crate) Arc<Signal>);

/// An outcome as a script sees it.
#[derive(Clone, Debug)]
pub(crate) struct ScriptOutcome(pub(crate) Arc<Outcome>);

/// Which named values of a signal a [`ScriptValues`] reads.
#[derive(Clone, Copy, Debug)]
enum Which {
    Heads,
    Indicators,
}

/// A signal's head votes or indicator values: `v["rsi"]`, `v.len()`,
/// `v.names()`, `for name in v { ... }`.
#[derive(Clone, Debug)]
pub(crate) struct ScriptValues {
    signal: Arc<Signal>,
    which: Which,
}

impl ScriptValues {
    /// The head votes of `signal`.
    #[cfg(test)]
    pub(crate) fn heads(signal: Arc<Signal>) -> Self {
        ScriptValues { signal, which: Which::Heads }
    }

    pub(crate) fn values(&self) -> &Values {
        match self.which {
            Which::Heads => &self.signal.heads,
            Which::Indicators => &self.signal.indicators,
        }
    }
}

impl IntoIterator for ScriptValues {
    type Item = ImmutableString;
    type IntoIter = std::vec::IntoIter<ImmutableString>;

    fn into_iter(self) -> Self::IntoIter {
        self.values().iter().map(|(name, _)| ImmutableString::from(name)).collect::<Vec<_>>().into_iter()
    }
}

fn optional_f64(value: Option<f64>) -> Dynamic {
    value.map_or(Dynamic::UNIT, Dynamic::from_float)
}

fn optional_str(value: Option<&str>) -> Dynamic {
    value.map_or(Dynamic::UNIT, |text| Dynamic::from(ImmutableString::from(text)))
}

pub(crate) fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<ScriptSignal>("Signal")
        .register_get("id", |s: &mut ScriptSignal| ImmutableString::from(s.0.id.as_str()))
        .register_get("symbol", |s: &mut ScriptSignal| ImmutableString::from(s.0.symbol.as_str()))
        .register_get("side", |s: &mut ScriptSignal| ImmutableString::from(s.0.side.as_str()))
        .register_get("is_long", |s: &mut ScriptSignal| s.0.side == siglearn_plugin_api::Side::Long)
        .register_get("side_sign", |s: &mut ScriptSignal| s.0.side.sign())
        .register_get("entry_ts", |s: &mut ScriptSignal| s.0.entry_ts.as_millis())
        .register_get("entry_price", |s: &mut ScriptSignal| s.0.entry_price)
        .register_get("take_profit", |s: &mut ScriptSignal| optional_f64(s.0.take_profit))
        .register_get("stop_loss", |s: &mut ScriptSignal| optional_f64(s.0.stop_loss))
        .register_get("max_hold_minutes", |s: &mut ScriptSignal| {
            optional_f64(s.0.max_hold_ms.map(|ms| ms as f64 / 60_000.0))
        })
        .register_get("confidence", |s: &mut ScriptSignal| optional_f64(s.0.confidence))
        .register_get("pattern", |s: &mut ScriptSignal| optional_str(s.0.pattern.as_deref()))
        .register_get("regime", |s: &mut ScriptSignal| optional_str(s.0.regime.as_deref()))
        .register_get("heads", |s: &mut ScriptSignal| ScriptValues {
            signal: Arc::clone(&s.0),
            which: Which::Heads,
        })
        .register_get("indicators", |s: &mut ScriptSignal| ScriptValues {
            signal: Arc::clone(&s.0),
            which: Which::Indicators,
        })
        .register_fn("to_string", |s: &mut ScriptSignal| format!("Signal({})", s.0.id))
        .register_fn("to_debug", |s: &mut ScriptSignal| format!("Signal({})", s.0.id));

    engine
        .register_type_with_name::<ScriptValues>("Values")
        .register_indexer_get(|v: &mut ScriptValues, name: &str| optional_f64(v.values().get(name)))
        .register_fn("get", |v: &mut ScriptValues, name: &str, default: f64| {
            v.values().get(name).unwrap_or(default)
        })
        .register_fn("contains", |v: &mut ScriptValues, name: &str| v.values().get(name).is_some())
        .register_fn("len", |v: &mut ScriptValues| v.values().len() as i64)
        .register_fn("names", |v: &mut ScriptValues| -> Array {
            v.values().iter().map(|(name, _)| Dynamic::from(ImmutableString::from(name))).collect()
        })
        .register_fn("values", |v: &mut ScriptValues| -> Array {
            v.values().values().map(Dynamic::from_float).collect()
        })
        .register_fn("to_map", |v: &mut ScriptValues| -> Map {
            v.values().iter().map(|(name, value)| (name.into(), Dynamic::from_float(value))).collect()
        })
        .register_fn("sum", |v: &mut ScriptValues| v.values().values().sum::<f64>())
        .register_iterator::<ScriptValues>();

    engine
        .register_type_with_name::<ScriptOutcome>("Outcome")
        .register_get("signal_id", |o: &mut ScriptOutcome| ImmutableString::from(o.0.signal_id.as_str()))
        .register_get("kind", |o: &mut ScriptOutcome| ImmutableString::from(o.0.kind.as_str()))
        .register_get("is_win", |o: &mut ScriptOutcome| o.0.pnl_pct > 0.0)
        .register_get("pnl_pct", |o: &mut ScriptOutcome| o.0.pnl_pct)
        .register_get("exit_price", |o: &mut ScriptOutcome| o.0.exit_price)
        .register_get("exit_ts", |o: &mut ScriptOutcome| o.0.exit_ts.as_millis())
        .register_get("holding_minutes", |o: &mut ScriptOutcome| o.0.holding_minutes())
        .register_get("ambiguous", |o: &mut ScriptOutcome| o.0.ambiguous)
        .register_get("mfe_pct", |o: &mut ScriptOutcome| o.0.mfe_pct)
        .register_get("mae_pct", |o: &mut ScriptOutcome| o.0.mae_pct)
        .register_fn("to_string", |o: &mut ScriptOutcome| format!("Outcome({} {})", o.0.signal_id, o.0.kind))
        .register_fn("to_debug", |o: &mut ScriptOutcome| format!("Outcome({} {})", o.0.signal_id, o.0.kind));
}
