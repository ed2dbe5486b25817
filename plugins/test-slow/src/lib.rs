//! A strategy whose `decide` runs past any sane budget: it sleeps for
//! `sleep_ms` (default 400) before taking the signal. The host must discard
//! the late decision, report the overrun and go on.

use std::time::Duration;

use siglearn_plugin_api::export_strategy;
use siglearn_plugin_api::plugin::{Error, SignalRef, Strategy, Verdict};
use siglearn_plugin_api::serde_json::{Value, json};

#[derive(Debug)]
pub struct Slow {
    sleep_ms: u64,
}

impl Strategy for Slow {
    fn init(params: &Value) -> Result<Self, Error> {
        Ok(Slow { sleep_ms: params["sleep_ms"].as_u64().unwrap_or(400) })
    }

    fn decide(&mut self, _signal: &SignalRef<'_>) -> Result<Verdict, Error> {
        std::thread::sleep(Duration::from_millis(self.sleep_ms));
        Ok(Verdict::new(true, 1.0))
    }

    fn snapshot(&self) -> Result<Value, Error> {
        Ok(json!({ "sleep_ms": self.sleep_ms }))
    }

    fn restore(state: &Value) -> Result<Self, Error> {
        Self::init(state)
    }
}

export_strategy!(Slow);
