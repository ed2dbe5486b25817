//! Numeric helpers for scripts, on top of Rhai's own math (`abs`, `sqrt`,
//! `exp`, `ln`, `log`, `tanh`, `floor`, `min`, `max`, ...).
//!
//! | helper | meaning |
//! |---|---|
//! | `clamp(x, lo, hi)` | `x` limited to `[lo, hi]` |
//! | `sigmoid(x)` | `1 / (1 + e^-x)` |
//! | `logit(p)` | `ln(p / (1 - p))`, `p` clamped to `[1e-9, 1 - 1e-9]` |
//! | `ewma(prev, x, alpha)` | `prev + alpha * (x - prev)` |
//! | `sign(x)` | `-1`, `0` or `1` |
//! | `beta_mean(wins, losses, a, b)` | posterior mean of a win rate with a Beta(a, b) prior |
//! | `beta_lower(wins, losses, a, b)` | a conservative (about 5%) lower bound of that win rate |
//!
//! Every helper takes floats or integers.

use rhai::{Engine, FLOAT, INT};

fn clamp(x: FLOAT, lo: FLOAT, hi: FLOAT) -> FLOAT {
    x.max(lo).min(hi)
}

fn sigmoid(x: FLOAT) -> FLOAT {
    1.0 / (1.0 + (-x).exp())
}

fn logit(p: FLOAT) -> FLOAT {
    let p = clamp(p, 1e-9, 1.0 - 1e-9);
    (p / (1.0 - p)).ln()
}

fn ewma(previous: FLOAT, x: FLOAT, alpha: FLOAT) -> FLOAT {
    previous + alpha * (x - previous)
}

fn sign(x: FLOAT) -> FLOAT {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

fn beta_mean(wins: FLOAT, losses: FLOAT, a: FLOAT, b: FLOAT) -> FLOAT {
    (wins + a) / (wins + losses + a + b)
}

/// Normal approximation of the Beta posterior's 5% quantile, floored at 0.
fn beta_lower(wins: FLOAT, losses: FLOAT, a: FLOAT, b: FLOAT) -> FLOAT {
    let (alpha, beta) = (wins + a, losses + b);
    let n = alpha + beta;
    let mean = alpha / n;
    let std = (alpha * beta / (n * n * (n + 1.0))).sqrt();
    (mean - 1.645 * std).max(0.0)
}

/// Registers each helper for float arguments and, so that `clamp(x, 0, 1)`
/// works, for integer bounds too.
pub(crate) fn register(engine: &mut Engine) {
    engine
        .register_fn("clamp", clamp)
        .register_fn("clamp", |x: FLOAT, lo: INT, hi: INT| clamp(x, lo as FLOAT, hi as FLOAT))
        .register_fn("clamp", |x: INT, lo: INT, hi: INT| x.max(lo).min(hi))
        .register_fn("sigmoid", sigmoid)
        .register_fn("sigmoid", |x: INT| sigmoid(x as FLOAT))
        .register_fn("logit", logit)
        .register_fn("ewma", ewma)
        .register_fn("ewma", |previous: FLOAT, x: INT, alpha: FLOAT| ewma(previous, x as FLOAT, alpha))
        .register_fn("ewma", |previous: INT, x: FLOAT, alpha: FLOAT| ewma(previous as FLOAT, x, alpha))
        .register_fn("sign", sign)
        .register_fn("sign", |x: INT| x.signum())
        .register_fn("beta_mean", beta_mean)
        .register_fn("beta_mean", |w: INT, l: INT, a: FLOAT, b: FLOAT| {
            beta_mean(w as FLOAT, l as FLOAT, a, b)
        })
        .register_fn("beta_lower", beta_lower)
        .register_fn("beta_lower", |w: INT, l: INT, a: FLOAT, b: FLOAT| {
            beta_lower(w as FLOAT, l as FLOAT, a, b)
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_compute_their_definitions() {
        assert_eq!(clamp(2.0, 0.0, 1.0), 1.0);
        assert_eq!(sigmoid(0.0), 0.5);
        assert!((logit(sigmoid(1.5)) - 1.5).abs() < 1e-12);
        assert_eq!(ewma(1.0, 3.0, 0.25), 1.5);
        assert_eq!((sign(-2.0), sign(0.0)), (-1.0, 0.0));
        assert_eq!(beta_mean(3.0, 1.0, 1.0, 1.0), 4.0 / 6.0);
        assert!(beta_lower(30.0, 10.0, 1.0, 1.0) < beta_mean(30.0, 10.0, 1.0, 1.0));
        assert_eq!(beta_lower(0.0, 50.0, 1.0, 1.0), 0.0);
    }
}
