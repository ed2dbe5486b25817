//! head_weights as a native strategy: a weighted vote of the signal's model
//! heads, each head's weight learned from how often its vote called the
//! outcome. The algorithm, state and params are those of
//! `scripts/head_weights.rhai`, step for step and in the same order of
//! floating-point operations, so the two make the same decisions and can
//! take over each other's state.
//!
//! Heads are kept in a vector sorted by name, the order in which a signal
//! lists its votes, so `decide` is one merge of two sorted lists.

use siglearn_plugin_api::export_strategy;
use siglearn_plugin_api::plugin::{Error, HistoryRef, OutcomeRef, SignalRef, Strategy, Verdict};
use siglearn_plugin_api::serde_json::{Map, Value, json};

/// One head's tally and the weight it gives.
#[derive(Clone, Debug, PartialEq)]
struct Head {
    name: String,
    hits: f64,
    misses: f64,
    weight: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HeadWeights {
    rate: f64,
    threshold: f64,
    min_weight: f64,
    max_weight: f64,
    /// Sorted by name.
    heads: Vec<Head>,
    /// The sum of the weights, in name order.
    total: f64,
}

const PARAMS: [&str; 4] = ["rate", "threshold", "min_weight", "max_weight"];

fn number(object: &Map<String, Value>, name: &str, fallback: f64) -> Result<f64, Error> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(fallback),
        Some(value) => {
            value.as_f64().ok_or_else(|| Error::new(format!("param {name} must be a number, not {value}")))
        }
    }
}

impl HeadWeights {
    fn with_params(params: &Value) -> Result<Self, Error> {
        let object =
            params.as_object().ok_or_else(|| Error::new(format!("params must be a map, not {params}")))?;
        if let Some(unknown) = object.keys().find(|name| !PARAMS.contains(&name.as_str())) {
            return Err(Error::new(format!("unknown param {unknown}; the params are {PARAMS:?}")));
        }
        let strategy = HeadWeights {
            rate: number(object, "rate", 0.05)?,
            threshold: number(object, "threshold", 0.0)?,
            min_weight: number(object, "min_weight", 0.05)?,
            max_weight: number(object, "max_weight", 5.0)?,
            heads: Vec::new(),
            total: 0.0,
        };
        if !(strategy.rate >= 0.0 && strategy.rate < 1.0) {
            return Err("param rate must lie in [0, 1)".into());
        }
        if strategy.min_weight.is_nan() || strategy.min_weight <= 0.0 {
            return Err("param min_weight must be above 0".into());
        }
        if strategy.max_weight.is_nan() || strategy.min_weight > strategy.max_weight {
            return Err("param min_weight must not exceed max_weight".into());
        }
        Ok(strategy)
    }

    /// Fades and counts each voting head's agreement with the outcome
    /// (`direction` is the side sign for a winner, its opposite for a
    /// loser), and reweighs each head it changed: the log-odds of the hit
    /// rate under a Beta(1, 1) prior, clamped. Then the total, in name order.
    /// Votes and heads are both sorted by name: one merge.
    fn record(&mut self, signal: &SignalRef<'_>, direction: f64, keep: f64) {
        let mut at = 0;
        for (name, vote) in signal.heads().iter() {
            let agreement = vote * direction;
            if agreement == 0.0 {
                continue;
            }
            while at < self.heads.len() && self.heads[at].name.as_str() < name {
                at += 1;
            }
            if at == self.heads.len() || self.heads[at].name != name {
                let head = Head { name: name.to_owned(), hits: 0.0, misses: 0.0, weight: 0.0 };
                self.heads.insert(at, head);
            }
            let head = &mut self.heads[at];
            head.hits = head.hits * keep + agreement.max(0.0);
            head.misses = head.misses * keep + (-agreement).max(0.0);
            let p = (head.hits + 1.0) / (head.hits + head.misses + 2.0);
            head.weight = (p / (1.0 - p)).ln().max(self.min_weight).min(self.max_weight);
        }
        self.total = self.heads.iter().map(|h| h.weight).sum();
    }

    fn direction(signal: &SignalRef<'_>, outcome: &OutcomeRef<'_>) -> f64 {
        if outcome.is_win() { signal.side_sign() } else { -signal.side_sign() }
    }
}

impl Strategy for HeadWeights {
    const RETRAIN: bool = true;
    const PARAMS: bool = true;

    fn init(params: &Value) -> Result<Self, Error> {
        Self::with_params(params)
    }

    fn decide(&mut self, signal: &SignalRef<'_>) -> Result<Verdict, Error> {
        let votes = signal.heads();
        let mean = if self.total > 0.0 {
            // Σ vote · weight over the signal's heads in name order, a head
            // without a weight counting 0: a merge of two sorted lists.
            let mut weights = self.heads.iter().peekable();
            let dot: f64 = votes
                .iter()
                .map(|(name, vote)| {
                    // Equality first: most heads are in both lists.
                    while let Some(head) = weights.peek() {
                        if head.name == name {
                            return vote * head.weight;
                        }
                        if head.name.as_str() > name {
                            break;
                        }
                        weights.next();
                    }
                    0.0
                })
                .sum();
            dot / self.total
        } else if !votes.is_empty() {
            votes.sum() / votes.len() as f64
        } else {
            0.0
        };
        let consensus = mean * signal.side_sign();
        Ok(Verdict::new(consensus > self.threshold, consensus))
    }

    fn learn(&mut self, signal: &SignalRef<'_>, outcome: &OutcomeRef<'_>) -> Result<(), Error> {
        self.record(signal, Self::direction(signal, outcome), 1.0 - self.rate);
        Ok(())
    }

    fn retrain(&self, history: &[HistoryRef<'_>]) -> Result<Self, Error> {
        let mut candidate = HeadWeights { heads: Vec::new(), total: 0.0, ..self.clone() };
        for item in history {
            candidate.record(item.signal(), Self::direction(item.signal(), item.outcome()), 1.0);
        }
        Ok(candidate)
    }

    fn params() -> Option<Value> {
        Some(json!({ "rate": [0.005, 0.2], "threshold": [-0.2, 0.4] }))
    }

    /// The state in the layout of the Rhai script's `this`.
    fn snapshot(&self) -> Result<Value, Error> {
        let weights: Map<String, Value> =
            self.heads.iter().map(|h| (h.name.clone(), json!(h.weight))).collect();
        let tally: Map<String, Value> =
            self.heads.iter().map(|h| (h.name.clone(), json!([h.hits, h.misses]))).collect();
        Ok(json!({
            "rate": self.rate,
            "threshold": self.threshold,
            "min_weight": self.min_weight,
            "max_weight": self.max_weight,
            "weights": weights,
            "tally": tally,
            "total": self.total,
        }))
    }

    fn restore(state: &Value) -> Result<Self, Error> {
        let field = |name: &str| {
            state
                .get(name)
                .and_then(Value::as_f64)
                .ok_or_else(|| Error::new(format!("the state has no number {name}")))
        };
        let mut heads = Vec::new();
        let tally = state.get("tally").and_then(Value::as_object).ok_or("the state has no tally map")?;
        let weights =
            state.get("weights").and_then(Value::as_object).ok_or("the state has no weights map")?;
        for (name, entry) in tally {
            let pair =
                entry.as_array().and_then(|pair| Some((pair.first()?.as_f64()?, pair.get(1)?.as_f64()?)));
            let (hits, misses) =
                pair.ok_or_else(|| Error::new(format!("tally.{name} is not [hits, misses]")))?;
            let weight = weights
                .get(name)
                .and_then(Value::as_f64)
                .ok_or_else(|| Error::new(format!("weights.{name} is missing")))?;
            heads.push(Head { name: name.clone(), hits, misses, weight });
        }
        heads.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(HeadWeights {
            rate: field("rate")?,
            threshold: field("threshold")?,
            min_weight: field("min_weight")?,
            max_weight: field("max_weight")?,
            heads,
            total: field("total")?,
        })
    }
}

export_strategy!(HeadWeights);
