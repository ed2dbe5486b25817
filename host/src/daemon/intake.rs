//! Request bodies of `POST /api/signals` and `POST /api/prices`: a JSON
//! array, or JSON Lines (one object per line). A batch is all-or-nothing:
//! every bad item is listed (index, field, reason) and none is taken.
//!
//! Instants are read by [`crate::timestamp`] (one parser, one range); an
//! item stamped later than `latest` (the wall clock plus
//! `daemon.future_tolerance_minutes`) is refused, since the daemon's jobs run
//! on the wall clock and a stamp from the future would run them early.

use serde::de::{Error as _, SeqAccess, Visitor};
use siglearn_plugin_api::{Names, PriceUpdate, Signal, Timestamp};

use super::{MAX_BATCH, Problems, Refusal};
use crate::format::json::Strict;
use crate::format::{price_from_json, signal_from_json, signals_from_json_array};
use crate::timestamp::format_timestamp;

/// The refusal of a batch of more than [`MAX_BATCH`] items.
fn too_many() -> Refusal {
    Refusal::with(
        413,
        format!("the batch holds more than {MAX_BATCH} items; send at most {MAX_BATCH} items a request"),
    )
}

/// The most JSON values (scalars, arrays and objects, at any depth) one item
/// may hold: a signal holds at most a dozen fields and 256 heads and 256
/// indicators. An item is read into memory only once it is known to be
/// within this, so that no item costs many times its size.
const MAX_ITEM_VALUES: usize = 16 + 2 * siglearn_plugin_api::MAX_VALUES;

/// Counts the values of one item as it is read, keeping none of them, and
/// fails past [`MAX_ITEM_VALUES`].
struct Count<'a>(&'a mut usize);

impl Count<'_> {
    fn tick<E: serde::de::Error>(&mut self) -> Result<(), E> {
        *self.0 += 1;
        if *self.0 > MAX_ITEM_VALUES {
            return Err(E::custom(format_args!(
                "the item holds more than {MAX_ITEM_VALUES} values (a signal has at most 256 heads and 256 \
                 indicators); send it without what siglearn does not read"
            )));
        }
        Ok(())
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Count<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Count<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: serde::de::Error>(mut self, _: bool) -> Result<(), E> {
        self.tick()
    }
    fn visit_i64<E: serde::de::Error>(mut self, _: i64) -> Result<(), E> {
        self.tick()
    }
    fn visit_u64<E: serde::de::Error>(mut self, _: u64) -> Result<(), E> {
        self.tick()
    }
    fn visit_f64<E: serde::de::Error>(mut self, _: f64) -> Result<(), E> {
        self.tick()
    }
    fn visit_str<E: serde::de::Error>(mut self, _: &str) -> Result<(), E> {
        self.tick()
    }
    fn visit_unit<E: serde::de::Error>(mut self) -> Result<(), E> {
        self.tick()
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.tick()?;
        while seq.next_element_seed(Count(&mut *self.0))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.tick()?;
        while map.next_key::<serde::de::IgnoredAny>()?.is_some() {
            map.next_value_seed(Count(&mut *self.0))?;
        }
        Ok(())
    }
}

/// What is wrong with the shape of a JSON array body, found without keeping
/// any of it: more than [`MAX_BATCH`] items, or an item of more than
/// [`MAX_ITEM_VALUES`] values.
struct Shape<'a> {
    too_many: &'a mut bool,
    item: &'a mut usize,
}

impl<'de> Visitor<'de> for Shape<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            let mut values = 0;
            if seq.next_element_seed(Count(&mut values))?.is_none() {
                return Ok(());
            }
            *self.item += 1;
            if *self.item > MAX_BATCH {
                *self.too_many = true;
                return Err(A::Error::custom("too many items"));
            }
        }
    }
}

/// Checks the shape of a body before any of it is read into memory: at
/// most [`MAX_BATCH`] items (else 413), each of at most [`MAX_ITEM_VALUES`]
/// values (else 422, naming the item). Syntax errors are left to the
/// reading that follows, which names them.
fn shape(body: &[u8], what: &str) -> Result<(), Refusal> {
    let Ok(text) = std::str::from_utf8(body) else { return Ok(()) };
    let trimmed = text.trim_start();
    let too_big = |index: usize, error: serde_json::Error| {
        let mut problems = Problems::default();
        problems.push(index, "-", error);
        Refusal::invalid(&format!("invalid {what}"), problems)
    };
    if trimmed.starts_with('[') {
        let (mut too_many_items, mut item) = (false, 0);
        let mut reader = serde_json::Deserializer::from_str(trimmed);
        let read = serde::Deserializer::deserialize_seq(
            &mut reader,
            Shape { too_many: &mut too_many_items, item: &mut item },
        );
        return match read {
            _ if too_many_items => Err(too_many()),
            Err(error) if error.is_data() => Err(too_big(item, error)),
            _ => Ok(()),
        };
    }
    let lines = text.lines().filter(|line| !line.trim().is_empty());
    for (index, line) in lines.enumerate() {
        if index == MAX_BATCH {
            return Err(too_many());
        }
        let mut values = 0;
        let mut reader = serde_json::Deserializer::from_str(line);
        if let Err(error) = serde::de::DeserializeSeed::deserialize(Count(&mut values), &mut reader) {
            if error.is_data() {
                return Err(too_big(index, error));
            }
        }
    }
    Ok(())
}

/// Hands each item of a JSON array to a callback as it is read, so that
/// the parsed items of a body are never all in memory at once.
struct Items<'a, F> {
    each: &'a mut F,
}

impl<'de, F: FnMut(usize, serde_json::Value)> Visitor<'de> for Items<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some(Strict(value)) = seq.next_element()? {
            (self.each)(index, value);
            index += 1;
        }
        Ok(())
    }
}

/// Calls `each` with every object of a body (a JSON array, or one object
/// per non-empty line) and its index, one at a time. The body's [`shape`]
/// was checked first.
fn each_object(body: &[u8], mut each: impl FnMut(usize, serde_json::Value)) -> Result<(), Refusal> {
    let text = std::str::from_utf8(body).map_err(|_| Refusal::bad_request("the body is not UTF-8 text"))?;
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Err(Refusal::bad_request("the body is empty; send a JSON array or JSON Lines"));
    }
    if trimmed.starts_with('[') {
        let mut reader = serde_json::Deserializer::from_str(trimmed);
        let read = serde::Deserializer::deserialize_seq(&mut reader, Items { each: &mut each })
            .and_then(|()| reader.end());
        return read
            .map_err(|e| Refusal::bad_request(format!("the body is not a JSON array of objects: {e}")));
    }
    let lines = text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty());
    for (index, (n, line)) in lines.enumerate() {
        let value = crate::format::json::from_str(line).map_err(|e| match e.is_data() {
            true => Refusal::bad_request(format!("line {}: {e}", n + 1)),
            false => Refusal::bad_request(format!("line {} is not a JSON object: {e}", n + 1)),
        })?;
        each(index, value);
    }
    Ok(())
}

/// Why an item stamped `ts` is refused, when that is later than `latest`.
fn ahead(ts: Timestamp, latest: Timestamp) -> Option<String> {
    (ts > latest).then(|| {
        format!(
            "{} is ahead of the daemon's clock by more than daemon.future_tolerance_minutes (latest \
             accepted: {}); check the sender's clock and time zone",
            format_timestamp(ts),
            format_timestamp(latest)
        )
    })
}

/// The signals of a body, or its problems (see [`Problems`]); none may be
/// stamped after `latest`.
pub(crate) fn signals(body: &[u8], latest: Timestamp) -> Result<Vec<Signal>, Refusal> {
    shape(body, "signals")?;
    let mut names = Names::default();
    // A valid array without a repeated id reads in one pass; otherwise each
    // item is read on its own so that every problem can be named.
    if let Some(signals) = std::str::from_utf8(body)
        .ok()
        .filter(|text| text.trim_start().starts_with('['))
        .and_then(|text| signals_from_json_array(text, &mut names))
    {
        let mut ids = std::collections::HashSet::with_capacity(signals.len());
        let unique = signals.iter().all(|signal| ids.insert(signal.id.as_str()));
        if unique && signals.iter().all(|signal| signal.entry_ts <= latest) {
            return Ok(signals);
        }
    }
    let mut signals = Vec::new();
    let mut problems = Problems::default();
    let mut first_index = std::collections::HashMap::new();
    each_object(body, |index, value| {
        if let Some(id) = value.get("signal_id").and_then(|id| id.as_str()) {
            if let Some(first) = first_index.insert(id.to_owned(), index) {
                let reason = format!("the same id as item {first} of this batch; signal ids are unique");
                problems.push(index, "signal_id", reason);
            }
        }
        match signal_from_json(value, &mut names) {
            Ok(signal) => {
                if let Some(reason) = ahead(signal.entry_ts, latest) {
                    problems.push(index, "entry_ts", reason);
                }
                // Once the batch is refused, only its problems are counted.
                if problems.is_empty() {
                    signals.push(signal);
                }
            }
            Err(bad) => {
                for (field, reason) in bad {
                    problems.push(index, &field, reason);
                }
            }
        }
    })?;
    if problems.is_empty() { Ok(signals) } else { Err(Refusal::invalid("invalid signals", problems)) }
}

/// The price updates of a body, or its problems (see [`Problems`]); none
/// may be stamped after `latest`.
pub(crate) fn prices(body: &[u8], latest: Timestamp) -> Result<Vec<PriceUpdate>, Refusal> {
    shape(body, "prices")?;
    let mut updates = Vec::new();
    let mut problems = Problems::default();
    each_object(body, |index, value| match price_from_json(&value) {
        Ok(update) => {
            if let Some(reason) = ahead(update.price.ts(), latest) {
                problems.push(index, "ts", reason);
            }
            if problems.is_empty() {
                updates.push(update);
            }
        }
        Err(bad) => {
            for (field, reason) in bad {
                problems.push(index, &field, reason);
            }
        }
    })?;
    if problems.is_empty() { Ok(updates) } else { Err(Refusal::invalid("invalid prices", problems)) }
}

#[cfg(test)]
mod tests {
    use siglearn_plugin_api::Price;

    use super::*;

    /// Far ahead of every instant these tests post.
    const LATEST: Timestamp = crate::timestamp::END;

    const SIGNAL: &str = r#"{"signal_id":"a","symbol":"BTC","side":"long","entry_ts":"2024-01-01T00:00:00Z","entry_price":100,"take_profit":110,"stop_loss":95}"#;

    #[test]
    fn a_key_named_twice_in_an_item_is_refused_not_read_as_its_last_value() {
        // The id twice (an array body and JSON Lines), the side twice, a
        // head twice, a price's close twice: each refused, naming the key.
        let twice_id = SIGNAL.replace(r#""signal_id":"a","#, r#""signal_id":"a","signal_id":"b","#);
        let twice_side = SIGNAL.replace(r#""side":"long","#, r#""side":"long","side":"short","#);
        let twice_head =
            SIGNAL.replace(r#""stop_loss":95}"#, r#""stop_loss":95,"heads":{"rsi":1,"rsi":-1}}"#);
        for (body, key) in [
            (format!("[{twice_id}]"), "signal_id"),
            (format!("{SIGNAL}\n{twice_id}\n"), "signal_id"),
            (format!("[{twice_side}]"), "side"),
            (format!("[{twice_head}]"), "rsi"),
        ] {
            let refusal = signals(body.as_bytes(), LATEST).unwrap_err();
            let text = serde_json::to_string(&refusal).unwrap();
            assert!(text.contains(&format!(r#"\"{key}\" appears twice"#)), "{body}: {text}");
        }
        let price = r#"[{"symbol":"BTC","ts":0,"open":1,"high":2,"low":0.5,"close":1.5,"close":0.6}]"#;
        let text = serde_json::to_string(&prices(price.as_bytes(), LATEST).unwrap_err()).unwrap();
        assert!(text.contains(r#"\"close\" appears twice"#), "{text}");
    }

    #[test]
    fn signals_come_as_an_array_or_as_json_lines() {
        let array = format!("[{SIGNAL}, {}]", SIGNAL.replace("\"a\"", "\"b\""));
        assert_eq!(signals(array.as_bytes(), LATEST).unwrap().len(), 2);
        let lines = format!("{SIGNAL}\n\n{}\n", SIGNAL.replace("\"a\"", "\"b\""));
        assert_eq!(signals(lines.as_bytes(), LATEST).unwrap().len(), 2);
    }

    #[test]
    fn every_bad_signal_is_listed_with_its_index_and_field() {
        let other = |id: &str| SIGNAL.replace("\"a\"", &format!("{id:?}"));
        let body = format!(
            "[{SIGNAL}, {}, {}]",
            other("b").replace("110", "90"),
            other("c").replace("\"long\"", "\"up\"")
        );
        let refusal = signals(body.as_bytes(), LATEST).unwrap_err();
        assert_eq!(refusal.status, 422);
        assert_eq!(refusal.details.len(), 2);
        assert_eq!(
            (refusal.details[0]["index"].as_u64(), refusal.details[0]["field"].as_str()),
            (Some(1), Some("take_profit"))
        );
        assert_eq!(refusal.details[1]["field"], "side");
    }

    #[test]
    fn every_field_of_every_item_and_every_repeated_id_is_listed() {
        let body = format!(
            "[{SIGNAL}, {}, {SIGNAL}]",
            SIGNAL
                .replace("\"a\"", "\"b\"")
                .replace("110", "90")
                .replace("\"stop_loss\":95", "\"stop_loss\":95,\"confidence\":7,\"x\":1"),
        );
        let refusal = signals(body.as_bytes(), LATEST).unwrap_err();
        let found: Vec<(u64, &str)> = refusal
            .details
            .iter()
            .map(|d| (d["index"].as_u64().unwrap(), d["field"].as_str().unwrap()))
            .collect();
        // Item 1: the unknown key beside the bad values; item 2: the repeated id.
        assert_eq!(found, [(1, "x"), (1, "take_profit"), (1, "confidence"), (2, "signal_id")]);
        let second = SIGNAL
            .replace("\"a\"", "\"b\"")
            .replace("110", "90")
            .replace("\"stop_loss\":95", "\"stop_loss\":95,\"confidence\":7");
        let refusal = signals(format!("[{SIGNAL}, {second}]").as_bytes(), LATEST).unwrap_err();
        let fields: Vec<&str> = refusal.details.iter().map(|d| d["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["take_profit", "confidence"], "both problems of item 1 at once");
    }

    #[test]
    fn bars_and_ticks_are_told_apart_and_validated() {
        let body = r#"[{"symbol":"BTC","ts":0,"open":1,"high":2,"low":0.5,"close":1.5},{"symbol":"BTC","ts":"2024-01-01T00:00:01Z","price":1.6}]"#;
        let updates = prices(body.as_bytes(), LATEST).unwrap();
        assert!(matches!(updates[0].price, Price::Bar(_)) && matches!(updates[1].price, Price::Tick(_)));
        let bad = r#"[{"symbol":"BTC","ts":0,"open":1,"high":0.9,"low":0.5,"close":1},{"symbol":"BTC","ts":0,"price":1,"open":1}]"#;
        let refusal = prices(bad.as_bytes(), LATEST).unwrap_err();
        assert_eq!(refusal.details[0]["field"], "high");
        assert_eq!(refusal.details[1]["field"], "price");
    }

    #[test]
    fn every_bad_field_of_a_price_is_listed_at_once() {
        // Item 0: an empty symbol, epoch seconds and a negative open; item 1:
        // a bar whose low is above its close and whose high is below its open.
        let bad = r#"[{"symbol":" ","ts":1714557600,"open":-1,"high":2,"low":0.5,"close":1},
                      {"symbol":"BTC","ts":0,"open":3,"high":2.5,"low":1.5,"close":1}]"#;
        let refusal = prices(bad.as_bytes(), LATEST).unwrap_err();
        let listed: Vec<(u64, &str)> = refusal
            .details
            .iter()
            .map(|d| (d["index"].as_u64().unwrap(), d["field"].as_str().unwrap()))
            .collect();
        assert_eq!(listed, [(0, "symbol"), (0, "open"), (0, "ts"), (1, "low"), (1, "high")], "{refusal:?}");
    }

    #[test]
    fn a_batch_of_more_than_max_batch_items_is_refused_naming_the_limit() {
        let array = format!("[{}]", vec!["{}"; MAX_BATCH + 1].join(","));
        let lines = vec![r#"{"symbol":"BTC","ts":0,"price":1}"#; MAX_BATCH + 1].join("\n");
        for refusal in
            [signals(array.as_bytes(), LATEST).unwrap_err(), prices(lines.as_bytes(), LATEST).unwrap_err()]
        {
            assert_eq!(refusal.status, 413);
            assert!(refusal.error.contains("100000"), "{}", refusal.error);
        }
        let at_most = vec![r#"{"symbol":"BTC","ts":0,"price":1}"#; MAX_BATCH].join("\n");
        assert_eq!(prices(at_most.as_bytes(), LATEST).unwrap().len(), MAX_BATCH);
    }

    #[test]
    fn an_item_of_more_values_than_a_signal_can_hold_is_refused_naming_it() {
        // 600 heads: more than a signal may have, in an array and in JSON Lines.
        let heads: Vec<String> = (0..600).map(|i| format!(r#""h{i}":0.5"#)).collect();
        let big = SIGNAL
            .replace("\"stop_loss\":95", &format!("\"stop_loss\":95,\"heads\":{{{}}}", heads.join(",")));
        let nested = format!(r#"{{"symbol":"BTC","ts":0,"price":[{}]}}"#, vec!["1"; 10_000].join(","));
        for (body, index) in [(format!("[{SIGNAL}, {big}]"), 1), (format!("{SIGNAL}\n{big}"), 1)] {
            let refusal = signals(body.as_bytes(), LATEST).unwrap_err();
            assert_eq!(
                (refusal.status, refusal.details[0]["index"].as_u64()),
                (422, Some(index)),
                "{refusal:?}"
            );
            assert!(refusal.details[0]["reason"].as_str().unwrap().contains("256 heads"), "{refusal:?}");
        }
        assert_eq!(prices(nested.as_bytes(), LATEST).unwrap_err().status, 422);
        // 256 heads are a signal's right.
        let most = SIGNAL.replace(
            "\"stop_loss\":95",
            &format!("\"stop_loss\":95,\"heads\":{{{}}}", heads[..256].join(",")),
        );
        assert_eq!(signals(most.as_bytes(), LATEST).unwrap().len(), 1);
    }

    #[test]
    fn a_body_that_is_not_json_is_a_bad_request() {
        assert_eq!(signals(b"hello", LATEST).unwrap_err().status, 400);
        assert_eq!(signals(b"  ", LATEST).unwrap_err().status, 400);
    }

    /// 2024-05-01T10:00:00Z in seconds, and the same instant in ms, µs and ns.
    const SECONDS: i64 = 1_714_557_600;

    #[test]
    fn json_numbers_in_other_units_or_out_of_range_are_refused_naming_the_fix() {
        let cases = [
            (SECONDS.to_string(), "multiply by 1000"),
            ((SECONDS * 1_000_000).to_string(), "divide by 1000)"),
            ((SECONDS * 1_000_000_000).to_string(), "divide by 1,000,000"),
            (i64::MIN.to_string(), "1970-01-01T00:00:00Z to 2100-01-01"),
        ];
        for (number, fix) in cases {
            let signal = SIGNAL.replace("\"2024-01-01T00:00:00Z\"", &number);
            let refusal = signals(format!("[{signal}]").as_bytes(), LATEST).unwrap_err();
            assert_eq!((refusal.status, refusal.details[0]["field"].as_str()), (422, Some("entry_ts")));
            assert!(refusal.details[0]["reason"].as_str().unwrap().contains(fix), "{refusal:?}");
            let price = format!(r#"{{"symbol":"BTC","ts":{number},"price":1}}"#);
            let refusal = prices(price.as_bytes(), LATEST).unwrap_err();
            assert_eq!(refusal.details[0]["field"], "ts");
            assert!(refusal.details[0]["reason"].as_str().unwrap().contains(fix), "{refusal:?}");
        }
        let millis = SIGNAL.replace("\"2024-01-01T00:00:00Z\"", &(SECONDS * 1000).to_string());
        assert_eq!(signals(millis.as_bytes(), LATEST).unwrap()[0].entry_ts, Timestamp(SECONDS * 1000));
    }

    #[test]
    fn items_stamped_after_the_latest_accepted_instant_are_refused_by_index_and_field() {
        // SIGNAL enters at 2024-01-01T00:00:00Z = 1704067200000 ms.
        let entry = Timestamp(1_704_067_200_000);
        let later = SIGNAL.replace("\"a\"", "\"b\"").replace("2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z");
        for body in [format!("[{SIGNAL}, {later}]"), format!("{SIGNAL}\n{later}\n")] {
            assert_eq!(signals(body.as_bytes(), entry + 1000).unwrap().len(), 2);
            let refusal = signals(body.as_bytes(), entry).unwrap_err();
            assert_eq!(refusal.status, 422);
            assert_eq!(refusal.details.len(), 1, "{refusal:?}");
            assert_eq!(
                (refusal.details[0]["index"].as_u64(), refusal.details[0]["field"].as_str()),
                (Some(1), Some("entry_ts"))
            );
            assert!(refusal.details[0]["reason"].as_str().unwrap().contains("future_tolerance_minutes"));
        }
        let body = r#"[{"symbol":"BTC","ts":"2024-01-01T00:00:00Z","price":1},{"symbol":"BTC","ts":"2024-01-01T00:00:00.001Z","price":1}]"#;
        assert_eq!(prices(body.as_bytes(), entry + 1).unwrap().len(), 2);
        let refusal = prices(body.as_bytes(), entry).unwrap_err();
        assert_eq!((refusal.details.len(), refusal.details[0]["index"].as_u64()), (1, Some(1)));
        assert_eq!(refusal.details[0]["field"], "ts");
    }

    /// The refusal of an item for holding too many values (field "-"), if that is why.
    fn too_big(refusal: &Refusal) -> bool {
        refusal.details.iter().any(|d| {
            d["field"] == "-" && d["reason"].as_str().is_some_and(|r| r.contains("values (a signal has"))
        })
    }

    #[test]
    fn a_signal_with_every_field_and_256_heads_and_256_indicators_is_taken() {
        // The largest signal there is: every field, and as many heads and
        // indicators as a signal may have.
        let map = |prefix: &str| {
            let pairs: Vec<String> = (0..256).map(|i| format!(r#""{prefix}{i}":0.5"#)).collect();
            format!("{{{}}}", pairs.join(","))
        };
        let full = SIGNAL.replace(
            "\"stop_loss\":95",
            &format!(
                r#""stop_loss":95,"max_hold_minutes":60,"confidence":0.5,"pattern":"p","regime":"r","heads":{},"indicators":{}"#,
                map("h"),
                map("i")
            ),
        );
        for body in [format!("[{full}]"), full.clone()] {
            assert_eq!(signals(body.as_bytes(), LATEST).unwrap().len(), 1);
        }
    }

    #[test]
    fn values_of_every_kind_count_towards_the_limit_of_an_item() {
        // 600 values of one kind in a key siglearn does not read: refused for
        // their number before anything else is looked at, in an array and in JSON Lines.
        for value in ["true", "-1", "1", "0.5", "\"s\"", "null", "[]", "{}"] {
            let many = vec![value; 600].join(",");
            let item = format!(r#"{{"symbol":"BTC","ts":0,"price":1,"x":[{many}]}}"#);
            for body in [format!("[{item}]"), item.clone()] {
                let refusal = prices(body.as_bytes(), LATEST).unwrap_err();
                assert!(too_big(&refusal), "600 x {value}: {refusal:?}");
            }
        }
    }

    #[test]
    fn an_item_of_exactly_max_item_values_passes_the_size_check_and_one_more_does_not() {
        // The object, symbol, ts and the array are 4 values; the array's numbers the rest.
        let item = |numbers: usize| {
            format!(r#"{{"symbol":"BTC","ts":0,"price":[{}]}}"#, vec!["1"; numbers].join(","))
        };
        let at_most = prices(item(MAX_ITEM_VALUES - 4).as_bytes(), LATEST).unwrap_err();
        assert!(!too_big(&at_most), "refused for its price, not its size: {at_most:?}");
        assert_eq!(at_most.details[0]["field"], "price");
        let over = prices(item(MAX_ITEM_VALUES - 3).as_bytes(), LATEST).unwrap_err();
        assert!(too_big(&over), "{over:?}");
    }

    #[test]
    fn an_array_of_exactly_max_batch_items_is_taken() {
        let tick = r#"{"symbol":"BTC","ts":0,"price":1}"#;
        let array = format!("[{}]", vec![tick; MAX_BATCH].join(","));
        assert_eq!(prices(array.as_bytes(), LATEST).unwrap().len(), MAX_BATCH);
    }

    #[test]
    fn an_array_that_is_not_json_is_a_bad_request() {
        for body in ["[{", "[1,]", r#"[{"symbol":"BTC"} x]"#] {
            assert_eq!(prices(body.as_bytes(), LATEST).unwrap_err().status, 400, "{body}");
            assert_eq!(signals(body.as_bytes(), LATEST).unwrap_err().status, 400, "{body}");
        }
    }

    #[test]
    fn a_valid_array_is_refused_for_a_repeated_id_or_for_any_item_ahead_of_the_clock() {
        let refusal = signals(format!("[{SIGNAL}, {SIGNAL}]").as_bytes(), LATEST).unwrap_err();
        assert_eq!(
            (refusal.details[0]["index"].as_u64(), refusal.details[0]["field"].as_str()),
            (Some(1), Some("signal_id"))
        );
        // SIGNAL enters at 2024-01-01T00:00:00Z = 1704067200000 ms: every item ahead.
        let refusal = signals(format!("[{SIGNAL}]").as_bytes(), Timestamp(1_704_067_199_999)).unwrap_err();
        assert_eq!(
            (refusal.details[0]["index"].as_u64(), refusal.details[0]["field"].as_str()),
            (Some(0), Some("entry_ts"))
        );
    }

    mod fuzz {
        use proptest::prelude::*;

        use super::*;

        /// A JSON value of the kinds a client may send in any field.
        fn any_value() -> impl Strategy<Value = serde_json::Value> {
            prop_oneof![
                Just(serde_json::Value::Null),
                any::<bool>().prop_map(serde_json::Value::from),
                any::<i64>().prop_map(serde_json::Value::from),
                any::<u64>().prop_map(serde_json::Value::from),
                any::<f64>().prop_map(serde_json::Value::from),
                (-10.0f64..200.0).prop_map(serde_json::Value::from),
                "\\PC{0,24}".prop_map(serde_json::Value::from),
                "20[0-9]{2}-0[1-9]-[0-2][0-9]T[0-2][0-9]:00:00Z".prop_map(serde_json::Value::from),
            ]
        }

        /// An object with some of the keys of a signal or a price (and a
        /// stray one now and then), each with any value.
        fn any_object() -> impl Strategy<Value = serde_json::Value> {
            let keys = prop::sample::subsequence(
                vec![
                    "signal_id",
                    "symbol",
                    "side",
                    "entry_ts",
                    "entry_price",
                    "take_profit",
                    "stop_loss",
                    "max_hold_minutes",
                    "confidence",
                    "heads",
                    "ts",
                    "price",
                    "open",
                    "high",
                    "low",
                    "close",
                    "volume",
                    "colour",
                ],
                0..=18,
            );
            (keys, prop::collection::vec(any_value(), 18)).prop_map(|(keys, values)| {
                serde_json::Value::Object(
                    keys.into_iter().zip(values).map(|(key, value)| (key.to_owned(), value)).collect(),
                )
            })
        }

        /// A refusal says what is wrong, and for a batch which item and field.
        fn clear(refusal: &Refusal) -> Result<(), TestCaseError> {
            prop_assert!(matches!(refusal.status, 400 | 422), "{refusal:?}");
            prop_assert!(!refusal.error.is_empty());
            for detail in &refusal.details {
                prop_assert!(detail["index"].is_u64() && detail["field"].is_string(), "{detail}");
                prop_assert!(!detail["reason"].as_str().unwrap_or_default().is_empty(), "{detail}");
            }
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            #[test]
            fn any_body_gives_valid_items_or_a_clear_refusal(
                objects in prop::collection::vec(any_object(), 0..4),
                lines in any::<bool>(),
                latest in 0i64..crate::timestamp::END.as_millis(),
            ) {
                let body = if lines {
                    objects.iter().map(|o| o.to_string()).collect::<Vec<_>>().join("\n")
                } else {
                    serde_json::Value::Array(objects).to_string()
                };
                let latest = Timestamp(latest);
                match signals(body.as_bytes(), latest) {
                    Ok(signals) => for signal in signals {
                        prop_assert!(signal.validate().is_ok());
                        prop_assert!((crate::timestamp::EARLIEST..=latest).contains(&signal.entry_ts));
                        prop_assert!(signal.max_hold_ms.is_none_or(|hold| hold <= crate::timestamp::MAX_HOLD_MS));
                    },
                    Err(refusal) => clear(&refusal)?,
                }
                match prices(body.as_bytes(), latest) {
                    Ok(updates) => for update in updates {
                        prop_assert!(update.price.validate().is_ok());
                        prop_assert!((crate::timestamp::EARLIEST..=latest).contains(&update.price.ts()));
                    },
                    Err(refusal) => clear(&refusal)?,
                }
            }

            #[test]
            fn any_bytes_give_a_clear_refusal_or_items(body in prop::collection::vec(any::<u8>(), 0..200)) {
                let latest = crate::timestamp::END;
                if let Err(refusal) = signals(&body, latest) {
                    clear(&refusal)?;
                }
                if let Err(refusal) = prices(&body, latest) {
                    clear(&refusal)?;
                }
            }
        }
    }
}
