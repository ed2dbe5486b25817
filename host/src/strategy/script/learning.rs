//! Learning primitives: per-name updates of a state map from a signal's
//! head votes or indicator values, done natively.
//!
//! A script loop over nine heads that reads and writes a state map costs
//! about 100 Rhai operations per name (tens of microseconds per outcome);
//! each primitive below is one operation. They take the state map as the
//! receiver (`this.tally.record(...)`), which Rhai passes by reference, so
//! no map is copied. Values stay plain JSON (numbers and two-number arrays),
//! so the state remains inspectable and versionable.
//!
//! | primitive | does |
//! |---|---|
//! | `m.dot(v, default)` | Σ `v[n] · m[n]` over the names of `v` (a `Values` or a map); `default` for names `m` lacks |
//! | `m.sum()` | the sum of `m`'s numbers |
//! | `m.record(v, direction, keep)` | a per-name tally `[hits, misses]`: for each name with `a = v[n] · direction ≠ 0`, both fade by `keep`, then `hits += max(a, 0)`, `misses += max(-a, 0)` |
//! | `m.log_odds(lo, hi)` | from a tally, a new map `n → clamp(logit((hits + 1) / (hits + misses + 2)), lo, hi)` |
//! | `m.observe(v, alpha)` | running `[mean, variance]` per name, exponentially weighted; a new name starts at `[x, 0]` |
//! | `m.zscores(v, sign, clip)` | from running stats, a new map `n → sign · clamp((x − mean) / √variance, −clip, clip)` for the names seen before (0 while the variance is 0) |
//! | `m.ewma_product(z, y, alpha)` | `m[n] += alpha · (z[n] · y − m[n])` for every name of the map `z` (a missing `m[n]` counts as 0) |
//!
//! With `direction = side_sign · (win ? 1 : −1)`, `record` counts a head as
//! right when its vote agreed with a winner's side or opposed a loser's.

use rhai::{Array, Dynamic, Engine, FLOAT, Map};

use super::types::ScriptValues;

fn number(value: &Dynamic) -> Option<f64> {
    value.as_float().ok().or_else(|| value.as_int().ok().map(|i| i as f64))
}

/// The two numbers of a `[a, b]` entry.
fn pair(value: &Dynamic) -> Option<(f64, f64)> {
    let array = value.read_lock::<Array>()?;
    match array.as_slice() {
        [a, b] => Some((number(a)?, number(b)?)),
        _ => None,
    }
}

fn pair_value(a: f64, b: f64) -> Dynamic {
    Dynamic::from_array(vec![Dynamic::from_float(a), Dynamic::from_float(b)])
}

fn dot_values(map: &mut Map, values: ScriptValues, default: FLOAT) -> FLOAT {
    values
        .values()
        .iter()
        .map(|(name, value)| value * map.get(name).and_then(number).unwrap_or(default))
        .sum()
}

fn dot_map(map: &mut Map, other: Map, default: FLOAT) -> FLOAT {
    other
        .iter()
        .filter_map(|(name, value)| {
            Some(number(value)? * map.get(name.as_str()).and_then(number).unwrap_or(default))
        })
        .sum()
}

fn sum(map: &mut Map) -> FLOAT {
    map.values().filter_map(number).sum()
}

fn record(tally: &mut Map, values: ScriptValues, direction: FLOAT, keep: FLOAT) {
    for (name, value) in values.values().iter() {
        let agreement = value * direction;
        if agreement == 0.0 {
            continue;
        }
        let (hits, misses) = tally.get(name).and_then(pair).unwrap_or((0.0, 0.0));
        let (hits, misses) = (hits * keep + agreement.max(0.0), misses * keep + (-agreement).max(0.0));
        tally.insert(name.into(), pair_value(hits, misses));
    }
}

fn log_odds(tally: &mut Map, lo: FLOAT, hi: FLOAT) -> Map {
    tally
        .iter()
        .filter_map(|(name, entry)| {
            let (hits, misses) = pair(entry)?;
            let p = (hits + 1.0) / (hits + misses + 2.0);
            Some((name.clone(), Dynamic::from_float((p / (1.0 - p)).ln().max(lo).min(hi))))
        })
        .collect()
}

fn observe(stats: &mut Map, values: ScriptValues, alpha: FLOAT) {
    for (name, x) in values.values().iter() {
        let entry = match stats.get(name).and_then(pair) {
            None => pair_value(x, 0.0),
            Some((mean, variance)) => {
                let d = x - mean;
                pair_value(mean + alpha * d, (1.0 - alpha) * (variance + alpha * d * d))
            }
        };
        stats.insert(name.into(), entry);
    }
}

fn zscores(stats: &mut Map, values: ScriptValues, sign: FLOAT, clip: FLOAT) -> Map {
    values
        .values()
        .iter()
        .filter_map(|(name, x)| {
            let (mean, variance) = stats.get(name).and_then(pair)?;
            let z =
                if variance > 0.0 { ((x - mean) / variance.sqrt()).max(-clip).min(clip) * sign } else { 0.0 };
            Some((name.into(), Dynamic::from_float(z)))
        })
        .collect()
}

fn ewma_product(map: &mut Map, z: Map, y: FLOAT, alpha: FLOAT) {
    for (name, value) in &z {
        let Some(z) = number(value) else { continue };
        let old = map.get(name.as_str()).and_then(number).unwrap_or(0.0);
        map.insert(name.clone(), Dynamic::from_float(old + alpha * (z * y - old)));
    }
}

pub(crate) fn register(engine: &mut Engine) {
    engine
        .register_fn("dot", dot_values)
        .register_fn("dot", dot_map)
        .register_fn("sum", sum)
        .register_fn("record", record)
        .register_fn("log_odds", log_odds)
        .register_fn("observe", observe)
        .register_fn("zscores", zscores)
        .register_fn("ewma_product", ewma_product);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use siglearn_plugin_api::{Signal, Values};

    use super::*;
    use crate::strategy::fixture;

    fn values(pairs: &[(&str, f64)]) -> ScriptValues {
        let signal =
            Signal { heads: pairs.iter().copied().collect::<Values>(), ..(*fixture::signal()).clone() };
        ScriptValues::heads(Arc::new(signal))
    }

    fn get(map: &Map, name: &str) -> Option<(f64, f64)> {
        map.get(name).and_then(pair)
    }

    #[test]
    fn record_fades_then_counts_agreement_as_hits_and_disagreement_as_misses() {
        let mut tally = Map::new();
        record(&mut tally, values(&[("a", 0.5), ("b", -0.25), ("c", 0.0)]), 1.0, 0.9);
        assert_eq!(
            (get(&tally, "a"), get(&tally, "b"), get(&tally, "c")),
            (Some((0.5, 0.0)), Some((0.0, 0.25)), None)
        );
        record(&mut tally, values(&[("a", 1.0)]), -1.0, 0.5);
        assert_eq!(get(&tally, "a"), Some((0.25, 1.0)));
        let weights = log_odds(&mut tally, 0.05, 5.0);
        let expected = ((0.25f64 + 1.0) / 3.25 / (1.0 - 1.25 / 3.25)).ln().max(0.05);
        assert_eq!(number(&weights["a"]), Some(expected));
    }

    #[test]
    fn observe_and_zscores_standardise_by_the_running_stats() {
        let mut stats = Map::new();
        observe(&mut stats, values(&[("x", 10.0)]), 0.5);
        assert_eq!(get(&stats, "x"), Some((10.0, 0.0)));
        let z = zscores(&mut stats, values(&[("x", 11.0), ("new", 1.0)]), 1.0, 4.0);
        assert_eq!((number(&z["x"]), z.contains_key("new")), (Some(0.0), false));
        observe(&mut stats, values(&[("x", 14.0)]), 0.5);
        assert_eq!(get(&stats, "x"), Some((12.0, 0.5 * (0.0 + 0.5 * 16.0))));
        let z = zscores(&mut stats, values(&[("x", 16.0)]), -1.0, 1.0);
        assert_eq!(number(&z["x"]), Some(-1.0), "clipped, then signed");
    }

    #[test]
    fn dot_sum_and_ewma_product() {
        let mut weights: Map = [("a".into(), Dynamic::from_float(2.0)), ("b".into(), Dynamic::from_int(1))]
            .into_iter()
            .collect();
        assert_eq!(dot_values(&mut weights, values(&[("a", 0.5), ("z", 1.0)]), 0.25), 1.0 + 0.25);
        assert_eq!(sum(&mut weights), 3.0);
        let z: Map = [("a".into(), Dynamic::from_float(2.0))].into_iter().collect();
        assert_eq!(dot_map(&mut weights, z.clone(), 0.0), 4.0);
        let mut ic = Map::new();
        ewma_product(&mut ic, z, 0.5, 0.1);
        assert_eq!(number(&ic["a"]), Some(0.1 * 1.0));
    }
}
