//! Rows of the store that cannot be read, and reads that set them aside.
//!
//! A row damaged by hand or written by an older siglearn (a state nested
//! deeper than JSON reading allows, text that is not JSON, a number stored
//! as text) belongs, as a rule, to one strategy. A read over many
//! strategies' rows ([`read_rows`] into [`Rows`]) sets such a row aside,
//! named, and reads the others; a read that needs every row
//! ([`Rows::all`]) fails naming the first bad one ([`StoreError::BadRow`]).
//! Either way the caller can stop only the strategy the row belongs to.
//! A [`BadRow`] names the store, the table, the row (as the SQL condition
//! that finds it), the column, why, and the fix.

use std::path::{Path, PathBuf};

use rusqlite::types::FromSql;
use rusqlite::{Params, Row, Statement};
use siglearn_plugin_api::VersionId;

use super::StoreError;

/// A row of the store that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRow {
    pub store: PathBuf,
    pub table: &'static str,
    /// The row, as the SQL condition that finds it: `strategy = 'a' AND n = 2`.
    pub key: String,
    /// The strategy it belongs to, when that much can be read.
    pub strategy: Option<String>,
    /// For a row of `versions`: its number.
    pub version: Option<VersionId>,
    pub column: String,
    pub reason: String,
}

impl BadRow {
    /// What to do about it, with the daemon stopped.
    fn fix(&self) -> String {
        let db = self.store.display();
        let strategy = self.strategy.as_deref().unwrap_or("STRATEGY");
        let delete = format!("sqlite3 {db} \"DELETE FROM {} WHERE {}\"", self.table, self.key);
        match self.table {
            "versions" => format!(
                "roll {strategy} back to a version that reads, with the daemon stopped (`siglearn rollback \
                 --db {db} {strategy} N`; `siglearn versions --db {db} {strategy}` lists them), or set the \
                 column to valid JSON; do not delete the row (later versions are numbered after it)"
            ),
            "snapshots" => format!(
                "delete the row with the daemon stopped ({delete}): the strategy then restarts from an \
                 older checkpoint or its version's own state"
            ),
            "probations" => format!(
                "delete the row with the daemon stopped ({delete}): the deploy then stays live without \
                 its shadow"
            ),
            "experiment" => {
                format!("delete the row with the daemon stopped ({delete}): that promotion test starts again")
            }
            // An open signal: without it, no outcome is decided for it.
            "signals" if self.key.starts_with("id = ") => format!(
                "it stays stored and open but is not watched; with the daemon stopped, set the column \
                 to a value siglearn accepts today, or drop the signal and its decisions \
                 (sqlite3 {db} \"DELETE FROM decisions WHERE signal_{key}; DELETE FROM signals WHERE {key}\")",
                key = self.key
            ),
            // A closed trade: its signal's columns come with it, and dropping
            // the outcome alone would leave an open signal nobody watches.
            "outcomes" if self.key.starts_with("signal_id = ") => format!(
                "the closed trade is left out of reports, ledgers and the learning views; with the \
                 daemon stopped, set the column (of the signal or its outcome) to a value that reads, \
                 or drop the trade with its signal and decisions (sqlite3 {db} \"DELETE FROM outcomes \
                 WHERE {key}; DELETE FROM decisions WHERE {key}; DELETE FROM signals WHERE {id}\")",
                key = self.key,
                id = &self.key["signal_".len()..]
            ),
            "aliases" => format!(
                "name the champion again: `siglearn promote --db {db} NAME N` with the daemon stopped, or \
                 POST /api/strategies/NAME/promote while it runs"
            ),
            _ => format!(
                "set the column to a valid value, or delete the row, with the daemon stopped ({delete})"
            ),
        }
    }
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the {} row {} of {} cannot be read (column {}: {}); fix: {}",
            self.table,
            self.key,
            self.store.display(),
            self.column,
            self.reason,
            self.fix()
        )
    }
}

/// The rows a read could read, and those it set aside.
#[derive(Debug)]
pub struct Rows<T> {
    pub read: Vec<T>,
    pub bad: Vec<BadRow>,
}

impl<T> Rows<T> {
    /// Every row, or the error naming the first that cannot be read.
    pub fn all(self) -> Result<Vec<T>, StoreError> {
        match self.bad.into_iter().next() {
            Some(bad) => Err(StoreError::BadRow(Box::new(bad))),
            None => Ok(self.read),
        }
    }
}

/// A cell that cannot be read: its column, and why.
#[derive(Debug)]
pub(super) struct BadCell {
    column: String,
    reason: String,
}

impl BadCell {
    pub(super) fn new(column: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        BadCell { column: column.into(), reason: reason.to_string() }
    }
}

/// Column `i` of `row`.
pub(super) fn cell<T: FromSql>(row: &Row<'_>, i: usize) -> Result<T, BadCell> {
    row.get(i).map_err(|error| bad_cell(row, i, error))
}

/// Column `i` of `row`, a JSON text.
pub(super) fn json_cell<T: serde::de::DeserializeOwned>(row: &Row<'_>, i: usize) -> Result<T, BadCell> {
    let text: String = cell(row, i)?;
    serde_json::from_str(&text).map_err(|error| bad_cell(row, i, error))
}

/// Column `i` of `row`, a text `T` parses.
pub(super) fn parsed_cell<T: std::str::FromStr>(row: &Row<'_>, i: usize) -> Result<T, BadCell>
where
    T::Err: std::fmt::Display,
{
    let text: String = cell(row, i)?;
    text.parse().map_err(|error| bad_cell(row, i, error))
}

fn bad_cell(row: &Row<'_>, i: usize, reason: impl std::fmt::Display) -> BadCell {
    let column = row.as_ref().column_name(i).map_or_else(|_| format!("#{i}"), str::to_owned);
    BadCell { column, reason: reason.to_string() }
}

/// How a row is named: the condition that finds it, and whose it is.
#[derive(Debug, Default)]
pub(super) struct RowKey {
    pub(super) key: String,
    pub(super) strategy: Option<String>,
    pub(super) version: Option<VersionId>,
}

/// The rows of `statement` for `params`, each read with `read` and named
/// with `key`; a row `read` cannot read is set aside as a [`BadRow`] of
/// `table` in the store at `store`. Only a failure of the query itself
/// (I/O, a missing table) is an error.
pub(super) fn read_rows<T>(
    store: &Path,
    table: &'static str,
    statement: &mut Statement<'_>,
    params: impl Params,
    key: impl Fn(&Row<'_>) -> RowKey,
    read: impl Fn(&Row<'_>) -> Result<T, BadCell>,
) -> Result<Rows<T>, StoreError> {
    let mut rows = statement.query(params)?;
    let mut found = Rows { read: Vec::new(), bad: Vec::new() };
    while let Some(row) = rows.next()? {
        match read(row) {
            Ok(value) => found.read.push(value),
            Err(BadCell { column, reason }) => {
                let RowKey { key, strategy, version } = key(row);
                found.bad.push(BadRow {
                    store: store.to_path_buf(),
                    table,
                    key,
                    strategy,
                    version,
                    column,
                    reason,
                });
            }
        }
    }
    Ok(found)
}

/// `text` as an SQL string literal.
pub(super) fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The key of a row whose primary key is the text column `column` (at
/// index `i`), which is also the strategy's name when `strategy`.
pub(super) fn text_key(row: &Row<'_>, column: &str, i: usize, strategy: bool) -> RowKey {
    match row.get::<_, String>(i) {
        Ok(value) => RowKey {
            key: format!("{column} = {}", quoted(&value)),
            strategy: strategy.then_some(value),
            version: None,
        },
        Err(_) => RowKey { key: format!("typeof({column}) <> 'text'"), ..RowKey::default() },
    }
}
