//! Request bodies of `POST /api/signals` and `POST /api/prices`: a JSON
//! array, or JSON Lines (one object per line). A batch is all-or-nothing:
//! every bad item is listed (index, field, reason) and none is taken.

use serde::Deserialize;
use siglearn_plugin_api::{Bar, Names, Price, PriceUpdate, Signal, Symbol, Tick, Timestamp};

use super::Refusal;
use crate::format::{signal_from_json, signals_from_json_array};
use crate::timestamp::parse_timestamp;

/// The objects of a body: a JSON array, or one object per non-empty line.
fn objects(body: &[u8]) -> Result<Vec<serde_json::Value>, Refusal> {
    let text = std::str::from_utf8(body).map_err(|_| Refusal::bad_request("the body is not UTF-8 text"))?;
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Err(Refusal::bad_request("the body is empty; send a JSON array or JSON Lines"));
    }
    if trimmed.starts_with('[') {
        return serde_json::from_str(trimmed)
            .map_err(|e| Refusal::bad_request(format!("the body is not a JSON array of objects: {e}")));
    }
    let mut items = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
        let value = serde_json::from_str(line)
            .map_err(|e| Refusal::bad_request(format!("line {} is not a JSON object: {e}", n + 1)))?;
        items.push(value);
    }
    Ok(items)
}

/// The signals of a body, or every problem with them.
pub(crate) fn signals(body: &[u8]) -> Result<Vec<Signal>, Refusal> {
    let mut names = Names::default();
    // A valid array without a repeated id reads in one pass; otherwise each
    // item is read on its own so that every problem can be named.
    if let Some(signals) = std::str::from_utf8(body)
        .ok()
        .filter(|text| text.trim_start().starts_with('['))
        .and_then(|text| signals_from_json_array(text, &mut names))
    {
        let mut ids = std::collections::HashSet::with_capacity(signals.len());
        if signals.iter().all(|signal| ids.insert(signal.id.as_str())) {
            return Ok(signals);
        }
    }
    let mut signals = Vec::new();
    let mut problems = Vec::new();
    let mut first_index = std::collections::HashMap::new();
    for (index, value) in objects(body)?.into_iter().enumerate() {
        if let Some(id) = value.get("signal_id").and_then(|id| id.as_str()) {
            if let Some(first) = first_index.insert(id.to_owned(), index) {
                problems.push(serde_json::json!({
                    "index": index, "field": "signal_id",
                    "reason": format!("the same id as item {first} of this batch; signal ids are unique"),
                }));
            }
        }
        match signal_from_json(value, &mut names) {
            Ok(signal) => signals.push(signal),
            Err(bad) => problems.extend(bad.into_iter().map(
                |(field, reason)| serde_json::json!({ "index": index, "field": field, "reason": reason }),
            )),
        }
    }
    if problems.is_empty() { Ok(signals) } else { Err(Refusal::invalid("invalid signals", problems)) }
}

/// A price as posted: a bar (open, high, low, close, volume) or a tick (price).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PostedPrice {
    symbol: String,
    ts: serde_json::Value,
    open: Option<f64>,
    high: Option<f64>,
    low: Option<f64>,
    close: Option<f64>,
    volume: Option<f64>,
    price: Option<f64>,
}

impl PostedPrice {
    fn into_update(self) -> Result<PriceUpdate, (&'static str, String)> {
        if self.symbol.trim().is_empty() {
            return Err(("symbol", "missing value".to_owned()));
        }
        if self.symbol.len() > siglearn_plugin_api::MAX_NAME_BYTES {
            let (bytes, max) = (self.symbol.len(), siglearn_plugin_api::MAX_NAME_BYTES);
            return Err(("symbol", format!("symbol is {bytes} bytes long; the most is {max}")));
        }
        let ts = match &self.ts {
            serde_json::Value::Number(n) => {
                Timestamp(n.as_i64().ok_or(("ts", format!("{n} is not whole milliseconds")))?)
            }
            serde_json::Value::String(text) => parse_timestamp(text).map_err(|e| ("ts", e.to_string()))?,
            other => return Err(("ts", format!("{other} is not a time"))),
        };
        let price = match (self.price, self.open, self.high, self.low, self.close) {
            (Some(price), None, None, None, None) => Price::Tick(Tick { ts, price }),
            (None, Some(open), Some(high), Some(low), Some(close)) => {
                Price::Bar(Bar { ts, open, high, low, close, volume: self.volume.unwrap_or(0.0) })
            }
            _ => {
                return Err((
                    "price",
                    "send a tick (price) or a bar (open, high, low, close, optional volume), not both"
                        .to_owned(),
                ));
            }
        };
        price.validate().map_err(|e| (e.field(), e.to_string()))?;
        Ok(PriceUpdate { symbol: Symbol::new(self.symbol.as_str()), price })
    }
}

/// The price updates of a body, or every problem with them.
pub(crate) fn prices(body: &[u8]) -> Result<Vec<PriceUpdate>, Refusal> {
    let mut updates = Vec::new();
    let mut problems = Vec::new();
    for (index, value) in objects(body)?.into_iter().enumerate() {
        let parsed = serde_json::from_value::<PostedPrice>(value)
            .map_err(|e| ("-", e.to_string()))
            .and_then(PostedPrice::into_update);
        match parsed {
            Ok(update) => updates.push(update),
            Err((field, reason)) => {
                problems.push(serde_json::json!({ "index": index, "field": field, "reason": reason }))
            }
        }
    }
    if problems.is_empty() { Ok(updates) } else { Err(Refusal::invalid("invalid prices", problems)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNAL: &str = r#"{"signal_id":"a","symbol":"BTC","side":"long","entry_ts":"2024-01-01T00:00:00Z","entry_price":100,"take_profit":110,"stop_loss":95}"#;

    #[test]
    fn signals_come_as_an_array_or_as_json_lines() {
        let array = format!("[{SIGNAL}, {}]", SIGNAL.replace("\"a\"", "\"b\""));
        assert_eq!(signals(array.as_bytes()).unwrap().len(), 2);
        let lines = format!("{SIGNAL}\n\n{}\n", SIGNAL.replace("\"a\"", "\"b\""));
        assert_eq!(signals(lines.as_bytes()).unwrap().len(), 2);
    }

    #[test]
    fn every_bad_signal_is_listed_with_its_index_and_field() {
        let other = |id: &str| SIGNAL.replace("\"a\"", &format!("{id:?}"));
        let body = format!(
            "[{SIGNAL}, {}, {}]",
            other("b").replace("110", "90"),
            other("c").replace("\"long\"", "\"up\"")
        );
        let refusal = signals(body.as_bytes()).unwrap_err();
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
        let refusal = signals(body.as_bytes()).unwrap_err();
        let found: Vec<(u64, &str)> = refusal
            .details
            .iter()
            .map(|d| (d["index"].as_u64().unwrap(), d["field"].as_str().unwrap()))
            .collect();
        // Item 1: an unknown key is named first (its values are checked once the keys are right).
        assert_eq!(found, [(1, "x"), (2, "signal_id")]);
        let second = SIGNAL
            .replace("\"a\"", "\"b\"")
            .replace("110", "90")
            .replace("\"stop_loss\":95", "\"stop_loss\":95,\"confidence\":7");
        let refusal = signals(format!("[{SIGNAL}, {second}]").as_bytes()).unwrap_err();
        let fields: Vec<&str> = refusal.details.iter().map(|d| d["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["take_profit", "confidence"], "both problems of item 1 at once");
    }

    #[test]
    fn bars_and_ticks_are_told_apart_and_validated() {
        let body = r#"[{"symbol":"BTC","ts":0,"open":1,"high":2,"low":0.5,"close":1.5},{"symbol":"BTC","ts":"2024-01-01T00:00:01Z","price":1.6}]"#;
        let updates = prices(body.as_bytes()).unwrap();
        assert!(matches!(updates[0].price, Price::Bar(_)) && matches!(updates[1].price, Price::Tick(_)));
        let bad = r#"[{"symbol":"BTC","ts":0,"open":1,"high":0.9,"low":0.5,"close":1},{"symbol":"BTC","ts":0,"price":1,"open":1}]"#;
        let refusal = prices(bad.as_bytes()).unwrap_err();
        assert_eq!(refusal.details[0]["field"], "high");
        assert_eq!(refusal.details[1]["field"], "price");
    }

    #[test]
    fn a_body_that_is_not_json_is_a_bad_request() {
        assert_eq!(signals(b"hello").unwrap_err().status, 400);
        assert_eq!(signals(b"  ").unwrap_err().status, 400);
    }
}
