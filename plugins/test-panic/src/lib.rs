//! A strategy that panics: in `decide` on every signal of the symbol
//! `PANIC`, and in `learn` on every outcome of it. Other signals are taken.
//! Once it has decided a signal of the symbol `NOSNAPSHOT`, its state can no
//! longer be saved: `snapshot` fails. The host must report each failure as
//! an error and go on.

use siglearn_plugin_api::export_strategy;
use siglearn_plugin_api::plugin::{Error, OutcomeRef, SignalRef, Strategy, Verdict};
use siglearn_plugin_api::serde_json::{Value, json};

#[derive(Debug)]
pub struct Panicking {
    decided: u64,
    unsaveable: bool,
}

impl Strategy for Panicking {
    fn init(_params: &Value) -> Result<Self, Error> {
        Ok(Panicking { decided: 0, unsaveable: false })
    }

    fn decide(&mut self, signal: &SignalRef<'_>) -> Result<Verdict, Error> {
        assert!(signal.symbol() != "PANIC", "decide was told to panic on {}", signal.id());
        self.decided += 1;
        self.unsaveable |= signal.symbol() == "NOSNAPSHOT";
        Ok(Verdict::new(true, 1.0))
    }

    fn learn(&mut self, signal: &SignalRef<'_>, _outcome: &OutcomeRef<'_>) -> Result<(), Error> {
        assert!(signal.symbol() != "PANIC", "learn was told to panic on {}", signal.id());
        Ok(())
    }

    fn snapshot(&self) -> Result<Value, Error> {
        if self.unsaveable {
            return Err(Error::new("snapshot was told to fail after a NOSNAPSHOT signal"));
        }
        Ok(json!({ "decided": self.decided }))
    }

    fn restore(state: &Value) -> Result<Self, Error> {
        Ok(Panicking { decided: state["decided"].as_u64().unwrap_or(0), unsaveable: false })
    }
}

export_strategy!(Panicking);
