//! Decisions: a strategy's verdict on one signal.

use serde::{Deserialize, Serialize};

use crate::{SignalId, StrategyId, VersionId};

/// Whether a strategy (at a given version) takes a signal, with its score and
/// position size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub strategy: StrategyId,
    pub version: VersionId,
    pub signal_id: SignalId,
    pub take: bool,
    pub score: f64,
    pub size: f64,
}
