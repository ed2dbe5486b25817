//! Named numbers carried by a signal: head votes and indicator readings.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Numbers by name, sorted by name, each name at most once.
///
/// Names are shared `Arc<str>`: every signal read from one file points at
/// the same name allocation per column (see [`Names`]), so a signal costs one
/// allocation for all its votes instead of one per name. Serialises as a JSON
/// object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Values(Vec<(Arc<str>, f64)>);

impl Values {
    pub const fn new() -> Self {
        Values(Vec::new())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.binary_search_by(|(key, _)| (**key).cmp(name)).ok().map(|i| self.0[i].1)
    }

    /// Sets `name` to `value`, returning the value it replaced.
    pub fn insert(&mut self, name: impl Into<Arc<str>>, value: f64) -> Option<f64> {
        let name = name.into();
        match self.0.binary_search_by(|(key, _)| key.cmp(&name)) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (name, value));
                None
            }
        }
    }

    /// `(name, value)` pairs in name order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, f64)> + '_ {
        self.0.iter().map(|(name, value)| (&**name, *value))
    }

    /// The shared names, in order.
    pub fn names(&self) -> impl ExactSizeIterator<Item = &Arc<str>> + '_ {
        self.0.iter().map(|(name, _)| name)
    }

    /// The values, in name order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = f64> + '_ {
        self.0.iter().map(|(_, value)| *value)
    }
}

impl<N: Into<Arc<str>>> FromIterator<(N, f64)> for Values {
    /// Collects pairs in any order; of repeated names the last one wins.
    fn from_iter<I: IntoIterator<Item = (N, f64)>>(pairs: I) -> Self {
        let mut values: Vec<(Arc<str>, f64)> =
            pairs.into_iter().map(|(name, value)| (name.into(), value)).collect();
        // Stable, so that equal names keep their order and the last wins below.
        values.sort_by(|a, b| a.0.cmp(&b.0));
        let mut deduped: Vec<(Arc<str>, f64)> = Vec::with_capacity(values.len());
        for (name, value) in values {
            match deduped.last_mut() {
                Some(last) if last.0 == name => last.1 = value,
                _ => deduped.push((name, value)),
            }
        }
        Values(deduped)
    }
}

impl<N: Into<Arc<str>>, const K: usize> From<[(N, f64); K]> for Values {
    fn from(pairs: [(N, f64); K]) -> Self {
        pairs.into_iter().collect()
    }
}

impl<'a> IntoIterator for &'a Values {
    type Item = (&'a str, f64);
    type IntoIter =
        std::iter::Map<std::slice::Iter<'a, (Arc<str>, f64)>, fn(&'a (Arc<str>, f64)) -> (&'a str, f64)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(name, value)| (&**name, *value))
    }
}

impl Serialize for Values {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(&**name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Values {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValuesVisitor;

        impl<'de> Visitor<'de> for ValuesVisitor {
            type Value = Values;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of names to numbers")
            }

            /// A name given twice is refused: which value was meant cannot be told.
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Values, A::Error> {
                let mut pairs: Vec<(Arc<str>, f64)> = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((name, value)) = map.next_entry::<String, f64>()? {
                    pairs.push((name.into(), value));
                }
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
                if let Some(twice) = pairs.windows(2).find(|pair| pair[0].0 == pair[1].0) {
                    return Err(serde::de::Error::custom(format!(
                        "the name {:?} appears twice; keep one",
                        twice[0].0
                    )));
                }
                Ok(Values(pairs))
            }
        }

        deserializer.deserialize_map(ValuesVisitor)
    }
}

/// Hands out one shared `Arc<str>` per distinct name, so that values read
/// from many rows share their name allocations.
#[derive(Debug, Default)]
pub struct Names(HashMap<Box<str>, Arc<str>>);

impl Names {
    /// The shared allocation of `name`.
    pub fn get(&mut self, name: &str) -> Arc<str> {
        if let Some(shared) = self.0.get(name) {
            return Arc::clone(shared);
        }
        let shared: Arc<str> = Arc::from(name);
        self.0.insert(name.into(), Arc::clone(&shared));
        shared
    }

    /// `values` with every name replaced by its shared allocation.
    pub fn share(&mut self, values: Values) -> Values {
        Values(values.0.into_iter().map(|(name, value)| (self.get(&name), value)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_stay_sorted_and_unique() {
        let mut values = Values::from([("rsi", 0.5), ("adx", -0.2), ("rsi", 0.7)]);
        assert_eq!(values.iter().collect::<Vec<_>>(), [("adx", -0.2), ("rsi", 0.7)]);
        assert_eq!(values.insert("macd", 0.1), None);
        assert_eq!(values.insert("adx", 0.3), Some(-0.2));
        assert_eq!(values.names().map(|n| &**n).collect::<Vec<_>>(), ["adx", "macd", "rsi"]);
        assert_eq!((values.get("macd"), values.get("obv")), (Some(0.1), None));
    }

    #[test]
    fn a_name_given_twice_in_json_is_refused() {
        let error = serde_json::from_str::<Values>(r#"{"rsi": 0.1, "adx": 2, "rsi": 0.9}"#).unwrap_err();
        assert!(error.to_string().contains("\"rsi\" appears twice"), "{error}");
        let read = serde_json::from_str::<Values>(r#"{"rsi": 0.1, "adx": 2}"#).unwrap();
        assert_eq!(read.iter().collect::<Vec<_>>(), [("adx", 2.0), ("rsi", 0.1)]);
    }

    #[test]
    fn values_round_trip_as_a_json_object() {
        let values = Values::from([("b", 1.0 / 3.0), ("a", -1e-300)]);
        let text = serde_json::to_string(&values).unwrap();
        assert!(text.starts_with("{\"a\":"), "{text}");
        assert_eq!(serde_json::from_str::<Values>(&text).unwrap(), values);
    }

    #[test]
    fn names_share_one_allocation() {
        let mut names = Names::default();
        let (a, b) = (names.get("rsi"), names.get("rsi"));
        assert!(Arc::ptr_eq(&a, &b));
        let shared = names.share(Values::from([("rsi", 1.0)]));
        assert!(Arc::ptr_eq(shared.names().next().unwrap(), &a));
    }
}
