//! One field of an item as it arrives (a CSV cell or a JSON value) and how
//! its problems are quoted: what the signal and price readers share so that
//! they read fields one by one and name every bad one.

use siglearn_plugin_api::{Timestamp, printable};

use super::parse_f64;
use crate::timestamp::{parse_timestamp, timestamp_from_json};

/// A problem with one field of an item: the field (CSV column or JSON key,
/// `head.<name>` and `ind.<name>` for a vote or an indicator) and what is
/// wrong with it, naming the value and the fix.
pub type FieldProblem = (String, String);

/// One field of an item as it arrived: a CSV cell or a JSON value. An empty
/// cell and a JSON `null` both mean absent.
#[derive(Clone, Copy, Debug)]
pub(super) enum Cell<'a> {
    Absent,
    Text(&'a str),
    Json(&'a serde_json::Value),
}

impl<'a> Cell<'a> {
    pub(super) fn is_absent(self) -> bool {
        matches!(self, Cell::Absent | Cell::Text("") | Cell::Json(serde_json::Value::Null))
    }

    pub(super) fn number(self) -> Result<Option<f64>, String> {
        match self {
            _ if self.is_absent() => Ok(None),
            Cell::Text(text) => parse_f64(text).map(Some),
            Cell::Json(serde_json::Value::Number(number)) => {
                number.as_f64().map(Some).ok_or_else(|| format!("{number} is not a finite number"))
            }
            Cell::Json(other) => Err(format!("{} is not a number; write it without quotes", shown(other))),
            Cell::Absent => Ok(None),
        }
    }

    /// The text of the cell; `expected` says what it should be when it is not text.
    pub(super) fn text(self, expected: &str) -> Result<Option<&'a str>, String> {
        match self {
            _ if self.is_absent() => Ok(None),
            Cell::Text(text) => Ok(Some(text)),
            Cell::Json(serde_json::Value::String(text)) => Ok(Some(text.as_str())),
            Cell::Json(other) => Err(format!("{} is not {expected}", shown(other))),
            Cell::Absent => Ok(None),
        }
    }

    pub(super) fn instant(self) -> Result<Option<Timestamp>, String> {
        let read = match self {
            _ if self.is_absent() => return Ok(None),
            Cell::Text(text) => parse_timestamp(text),
            Cell::Json(value) => timestamp_from_json(value),
            Cell::Absent => return Ok(None),
        };
        read.map(Some).map_err(|e| e.to_string())
    }
}

/// A JSON value as an error message quotes it: at most 60 characters.
pub(super) fn shown(value: &serde_json::Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(60) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text,
    }
}

/// A name as a field of an error names it: at most 64 characters, any
/// control character escaped (see [`printable`]).
pub(super) fn cut(name: &str) -> String {
    printable(&name.chars().take(64).collect::<String>()).into_owned()
}
