//! The learning read model: the pure computations behind
//! `GET /api/learning/performance`, `/improvements` and `/recommendations`,
//! one file per endpoint.
//!
//! The daemon reads trades, decisions and versions from the store, passes
//! them in and caches the `serde_json::Value` that comes out (keys sorted,
//! `null` where undefined). Nothing here does I/O or reads the clock: `now`
//! is data. Metrics are the analytics [`Report`](super::Report)'s (DESIGN
//! section 11), and trades are walked in exit order, so the same inputs give
//! the same bytes.
//!
//! Weeks start on Monday 00:00 UTC; a trade counts in the week it exited.
//! Weekly series run from the first to the last week with a trade, empty
//! weeks included (`trades: 0`, rates `null`) so a chart's time axis is even.
//!
//! Recommendations speak only with evidence: at least [`MIN_EVIDENCE`] trades
//! in each group compared and a 95% interval that excludes "no effect".

#[cfg(test)]
mod fixtures;
mod improvements;
mod performance;
mod period;
mod recommendations;
mod weekly;

pub use improvements::improvements;
pub use performance::{lineup_selection, performance};
pub use period::{ParsePeriodError, Period};
pub use recommendations::{FALSE_DISCOVERY_RATE, MIN_EVIDENCE, recommendations};

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::{Value, json};
    use siglearn_plugin_api::Timestamp;

    use super::*;

    #[test]
    fn empty_inputs_give_nulls_and_empty_lists() {
        let now = Timestamp(0);
        let json = performance(&[], &HashMap::new(), Some("a"), Period::Days(7), now, 0);
        assert_eq!(
            (json["overall"]["total_trades"].clone(), json["overall"]["win_rate"].clone()),
            (json!(0), Value::Null)
        );
        assert_eq!((json["by_strategy"].clone(), json["learning_progress"].clone()), (json!({}), json!([])));
        let json = improvements(&[], &[], now);
        assert_eq!(json["win_rate_trend"], json!({"weekly": [], "slope_per_week": null, "n": 0}));
        assert_eq!(
            (json["threshold_history"].clone(), json["weight_history"].clone()),
            (json!({}), json!({}))
        );
        assert_eq!(json["version_history"], json!([]));
        let empty_groups = json!({"patterns": [], "regimes": []});
        assert_eq!(
            recommendations(&[]),
            json!({
                "underperforming_indicators": [], "strong_patterns": empty_groups, "weak_patterns": empty_groups,
                "optimal_threshold": null, "suggested_weight_changes": [],
            })
        );
    }
}
