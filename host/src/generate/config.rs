//! Settings of the built-in generator and the rules that make them valid.

/// How the built-in generator turns head votes into signals.
#[derive(Clone, Debug, PartialEq)]
pub struct GeneratorConfig {
    /// Minimum |mean vote| for a signal, in (0, 1]. Default 0.15.
    ///
    /// The three mean-reversion heads usually vote against the trend and
    /// momentum heads, so the mean rarely goes far from 0: on 292k real
    /// candles 0.35 yields about 10 signals, 0.2 about 12k, 0.15 about 41k
    /// and 0.1 about 100k (see the ignored `count_signals_on_shared_candles`
    /// test). 0.15 gives roughly one signal per seven bars.
    pub threshold: f64,
    /// Take-profit distance from entry, in ATRs. Default 2.
    pub tp_atr: f64,
    /// Stop-loss distance from entry, in ATRs. Default 1.
    pub sl_atr: f64,
    /// Longest hold, in bars of the series' median interval. Default 24.
    pub hold_bars: u32,
    /// Bars skipped after each signal. Default 0.
    pub cooldown_bars: u32,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self { threshold: 0.15, tp_atr: 2.0, sl_atr: 1.0, hold_bars: 24, cooldown_bars: 0 }
    }
}

impl GeneratorConfig {
    /// Checks every setting and reports all problems at once, each naming
    /// its field and the accepted range.
    pub fn validate(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            problems.push(format!("threshold is {}; it must be above 0 and at most 1", self.threshold));
        }
        for (field, value) in [("tp_atr", self.tp_atr), ("sl_atr", self.sl_atr)] {
            if !(value.is_finite() && value > 0.0) {
                problems.push(format!("{field} is {value}; it must be a finite number of ATRs above 0"));
            }
        }
        if self.hold_bars == 0 {
            problems.push("hold_bars is 0; it must be at least 1".to_owned());
        }
        if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(GeneratorConfig::default().validate(), Ok(()));
    }

    #[test]
    fn each_bad_field_is_named() {
        let bad = |config: GeneratorConfig| config.validate().unwrap_err();
        let base = GeneratorConfig::default;
        assert!(bad(GeneratorConfig { threshold: 0.0, ..base() }).starts_with("threshold"));
        assert!(bad(GeneratorConfig { threshold: f64::NAN, ..base() }).starts_with("threshold"));
        assert!(bad(GeneratorConfig { threshold: 1.5, ..base() }).starts_with("threshold"));
        assert!(bad(GeneratorConfig { tp_atr: -1.0, ..base() }).starts_with("tp_atr"));
        assert!(bad(GeneratorConfig { sl_atr: f64::INFINITY, ..base() }).starts_with("sl_atr"));
        assert!(bad(GeneratorConfig { hold_bars: 0, ..base() }).starts_with("hold_bars"));
    }

    #[test]
    fn all_problems_are_reported_together() {
        let config =
            GeneratorConfig { threshold: 2.0, sl_atr: 0.0, hold_bars: 0, ..GeneratorConfig::default() };
        let message = config.validate().unwrap_err();
        for field in ["threshold", "sl_atr", "hold_bars"] {
            assert!(message.contains(field), "{message}");
        }
    }
}
