//! A closed trade: a signal together with the outcome the monitor decided.

use std::sync::Arc;

use siglearn_plugin_api::{Outcome, Signal};

/// A signal and its outcome. The signal is shared, not copied: the engine,
/// the store and the reports all hold the same allocation.
#[derive(Clone, Debug, PartialEq)]
pub struct Trade {
    pub signal: Arc<Signal>,
    pub outcome: Outcome,
}
