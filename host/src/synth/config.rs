//! Settings of the planted-edge generator and the rules that make them valid.

use siglearn_plugin_api::Timestamp;

/// The most signals one call may plant, over all symbols; far above any
/// test's needs, low enough that a typo does not exhaust memory.
const MAX_SIGNALS: usize = 10_000_000;

/// What [`synthesize`](super::synthesize) plants.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthConfig {
    /// The seed of every random draw: one seed, one data set. Default 1.
    pub seed: u64,
    /// Number of symbols (`SYN1`, `SYN2`, ...). Default 4.
    pub symbols: usize,
    /// Signals planted on each symbol. Default 1500.
    pub signals_per_symbol: usize,
    /// Model heads voting on each signal (`h1..hH`). Default 9.
    pub heads: usize,
    /// How many of the heads carry information about the outcome; at most
    /// `heads`. Default 3.
    pub informative_heads: usize,
    /// Indicators attached to each signal (`x1..xN`). Default 6.
    pub indicators: usize,
    /// How many of the indicators carry information; at most `indicators`.
    /// Default 2.
    pub informative_indicators: usize,
    /// How strongly informative evidence moves the take-profit probability:
    /// `P(TP) = clamp(0.35 + edge · z, 0.05, 0.95)`, z in [-1, 1]. In [0, 1];
    /// 0 plants no edge at all. Default 0.25.
    pub edge: f64,
    /// Length of one bar in minutes. Default 60.
    pub bar_minutes: i64,
    /// Open time of every symbol's first bar. Default 2024-01-01T00:00:00Z.
    pub start: Timestamp,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 1,
            symbols: 4,
            signals_per_symbol: 1500,
            heads: 9,
            informative_heads: 3,
            indicators: 6,
            informative_indicators: 2,
            edge: 0.25,
            bar_minutes: 60,
            // 2024-01-01T00:00:00Z
            start: Timestamp(1_704_067_200_000),
        }
    }
}

impl SynthConfig {
    /// Checks every setting and reports all problems at once, each naming
    /// its field and the accepted range.
    pub fn validate(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if self.symbols == 0 {
            problems.push("symbols is 0; it must be at least 1".to_owned());
        }
        if self.signals_per_symbol == 0 {
            problems.push("signals_per_symbol is 0; it must be at least 1".to_owned());
        }
        if self.symbols.saturating_mul(self.signals_per_symbol) > MAX_SIGNALS {
            problems.push(format!(
                "symbols × signals_per_symbol is {} × {}; at most {MAX_SIGNALS} signals can be planted",
                self.symbols, self.signals_per_symbol
            ));
        }
        if self.heads == 0 {
            problems.push("heads is 0; it must be at least 1".to_owned());
        }
        // More than a signal may carry would be refused, row by row, by the
        // replay the data is made for.
        for (name, count) in [("heads", self.heads), ("indicators", self.indicators)] {
            if count > siglearn_plugin_api::MAX_VALUES {
                problems.push(format!(
                    "{name} is {count}; a signal carries at most {} (use that many or fewer)",
                    siglearn_plugin_api::MAX_VALUES
                ));
            }
        }
        if self.informative_heads > self.heads {
            problems.push(format!(
                "informative_heads is {}; it must be at most heads ({})",
                self.informative_heads, self.heads
            ));
        }
        if self.informative_indicators > self.indicators {
            problems.push(format!(
                "informative_indicators is {}; it must be at most indicators ({})",
                self.informative_indicators, self.indicators
            ));
        }
        if !(0.0..=1.0).contains(&self.edge) {
            problems.push(format!("edge is {}; it must be between 0 and 1", self.edge));
        }
        // A week per bar is far beyond any use, and keeps timestamps of long
        // runs clear of overflow.
        if !(1..=10_080).contains(&self.bar_minutes) {
            problems.push(format!(
                "bar_minutes is {}; it must be between 1 and 10080 (a week)",
                self.bar_minutes
            ));
        }
        if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(SynthConfig::default().validate(), Ok(()));
    }

    #[test]
    fn heads_and_indicators_are_at_most_what_a_signal_may_carry() {
        let most = SynthConfig { heads: 256, indicators: 256, ..SynthConfig::default() };
        assert_eq!(most.validate(), Ok(()));
        let over = SynthConfig { heads: 257, indicators: 1_000_000, ..SynthConfig::default() };
        let error = over.validate().unwrap_err();
        assert!(
            error.contains("heads is 257; a signal carries at most 256")
                && error.contains("indicators is 1000000; a signal carries at most 256"),
            "{error}"
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let bad = |config: SynthConfig| config.validate().unwrap_err();
        let base = SynthConfig::default;
        assert!(bad(SynthConfig { symbols: 0, ..base() }).starts_with("symbols"));
        assert!(bad(SynthConfig { signals_per_symbol: 0, ..base() }).starts_with("signals_per_symbol"));
        assert!(bad(SynthConfig { signals_per_symbol: usize::MAX, ..base() }).starts_with("symbols ×"));
        assert!(bad(SynthConfig { heads: 0, informative_heads: 0, ..base() }).starts_with("heads"));
        assert!(bad(SynthConfig { informative_heads: 10, ..base() }).starts_with("informative_heads"));
        assert!(
            bad(SynthConfig { informative_indicators: 7, ..base() }).starts_with("informative_indicators")
        );
        assert!(bad(SynthConfig { edge: f64::NAN, ..base() }).starts_with("edge"));
        assert!(bad(SynthConfig { edge: -0.1, ..base() }).starts_with("edge"));
        assert!(bad(SynthConfig { bar_minutes: 0, ..base() }).starts_with("bar_minutes"));
    }

    #[test]
    fn all_problems_are_reported_together() {
        let config = SynthConfig { symbols: 0, edge: 2.0, bar_minutes: -5, ..SynthConfig::default() };
        let message = config.validate().unwrap_err();
        for field in ["symbols", "edge", "bar_minutes"] {
            assert!(message.contains(field), "{message}");
        }
    }

    #[test]
    fn zero_informative_heads_and_indicators_are_allowed() {
        let config = SynthConfig {
            informative_heads: 0,
            indicators: 0,
            informative_indicators: 0,
            ..Default::default()
        };
        assert_eq!(config.validate(), Ok(()));
    }
}
