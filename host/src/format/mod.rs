//! The file formats siglearn reads and writes, and how bad input is reported.
//!
//! Readers validate every row (DESIGN section 3) and collect what is wrong
//! with the file, line, field and reason. By default a file with any bad row
//! is refused, listing the rows; with `skip_invalid` the bad rows are skipped
//! and counted. Structural problems (unsorted candles, duplicate timestamps,
//! one symbol in two files, a missing column) always refuse the input.

mod capped;
mod cell;
mod columns;
pub mod json;
mod prices;
mod signals;
mod trades;

/// Generators shared by the readers' fuzz tests.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    /// A CSV cell of the kinds a file may hold in any column.
    pub(super) fn any_cell() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|x| x.to_string()),
            (0.01f64..500.0).prop_map(|x| x.to_string()),
            "20[0-9]{2}-0[1-9]-[0-2][0-9]T[0-2][0-9]:[0-5][0-9]:00Z",
            "(long|short|buy|sell|up)",
            "[A-Za-z0-9 ,\"\\-]{0,12}",
        ]
    }
}

use std::fmt;
use std::path::{Path, PathBuf};

pub use cell::FieldProblem;
pub use prices::{
    FileRows, Prices, Series, most_common_gap, price_from_json, read_prices, scan_prices, write_candles,
};
#[cfg(test)]
pub(crate) use prices::{Hold, read_prices_on};
pub use signals::{SignalFile, read_signals, signal_from_json, signals_from_json_array, write_signals};
pub use trades::{TRADES_HEADER, write_trades};

/// How readers treat bad rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Skip and count bad rows instead of refusing the file.
    pub skip_invalid: bool,
}

/// One bad row: where it is and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub path: PathBuf,
    pub line: u64,
    pub field: String,
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}: {}", self.path.display(), self.line, self.field, self.reason)
    }
}

/// Bad rows found in one or more files, with the first few of their
/// problems kept to show (a row may have several, each its own line).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowErrors {
    /// Bad rows.
    pub count: usize,
    /// Problems of those rows, at least one a row.
    pub problems: usize,
    pub examples: Vec<RowError>,
}

impl RowErrors {
    /// How many problems are kept to show.
    const SHOWN: usize = 20;

    /// One bad row with one problem.
    pub(crate) fn push(&mut self, error: RowError) {
        self.push_row(vec![error]);
    }

    /// One bad row with every problem it has.
    pub(crate) fn push_row(&mut self, errors: Vec<RowError>) {
        self.count += 1;
        self.problems += errors.len();
        let room = Self::SHOWN.saturating_sub(self.examples.len());
        self.examples.extend(errors.into_iter().take(room));
    }

    pub(crate) fn absorb(&mut self, other: RowErrors) {
        self.count += other.count;
        self.problems += other.problems;
        let room = Self::SHOWN.saturating_sub(self.examples.len());
        self.examples.extend(other.examples.into_iter().take(room));
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

impl fmt::Display for RowErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for error in &self.examples {
            writeln!(f, "  {error}")?;
        }
        if self.problems > self.examples.len() {
            writeln!(f, "  ... and {} more problem(s)", self.problems - self.examples.len())?;
        }
        Ok(())
    }
}

/// Input siglearn cannot use.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{}: {reason}", path.display())]
    Header { path: PathBuf, reason: String },
    #[error("{} bad row(s):\n{errors}fix these rows, or pass --skip-invalid to skip and count them", errors.count)]
    InvalidRows { errors: RowErrors },
    #[error(
        "{}:{line}: {symbol} at {ts} is not after the previous row ({previous}); \
         sort the file by ts, one row per bar",
        path.display()
    )]
    Unsorted { path: PathBuf, line: u64, symbol: String, ts: String, previous: String },
    #[error(
        "{}:{line}: {symbol} has a second row at {ts} (first on line {first_line}); remove the duplicate",
        path.display()
    )]
    DuplicateTimestamp { path: PathBuf, line: u64, symbol: String, ts: String, first_line: u64 },
    #[error(
        "symbol {symbol} is in both {} and {}; each symbol must come from one file \
         (merge them, or rename the symbol in one)",
        first.display(), second.display()
    )]
    SymbolInTwoFiles { symbol: String, first: PathBuf, second: PathBuf },
    #[error("{}: no data rows", path.display())]
    Empty { path: PathBuf },
    #[error(
        "{} changed while the replay was reading it ({what}); leave price files alone until the replay ends",
        path.display()
    )]
    Changed { path: PathBuf, what: String },
}

/// Collects the bad rows of one file and decides, at the end, whether the
/// file is refused.
#[derive(Debug)]
pub(crate) struct Rejects<'a> {
    path: &'a Path,
    errors: RowErrors,
}

impl<'a> Rejects<'a> {
    pub(crate) fn new(path: &'a Path) -> Self {
        Rejects { path, errors: RowErrors::default() }
    }

    /// A bad row with one problem.
    pub(crate) fn add(&mut self, line: u64, field: impl Into<String>, reason: impl Into<String>) {
        let field: String = field.into();
        self.add_all(line, [(field, reason.into())]);
    }

    /// A bad row with every problem it has, as (field, reason).
    pub(crate) fn add_all<F: Into<String>>(
        &mut self,
        line: u64,
        problems: impl IntoIterator<Item = (F, String)>,
    ) {
        let path = self.path;
        self.errors.push_row(
            problems
                .into_iter()
                .map(|(field, reason)| RowError {
                    path: path.to_path_buf(),
                    line,
                    field: field.into(),
                    reason,
                })
                .collect(),
        );
    }

    /// The bad rows, or the refusal of the whole input.
    pub(crate) fn finish(self, options: ReadOptions) -> Result<RowErrors, FormatError> {
        if self.errors.is_empty() || options.skip_invalid {
            Ok(self.errors)
        } else {
            Err(FormatError::InvalidRows { errors: self.errors })
        }
    }
}

/// Opens a data file for reading, its lines bounded (see [`capped`]).
pub(crate) fn open(path: &Path) -> Result<capped::Capped<std::fs::File>, FormatError> {
    let file =
        std::fs::File::open(path).map_err(|source| FormatError::Io { path: path.to_path_buf(), source })?;
    Ok(capped::Capped::new(file))
}

/// A CSV reading error that ends the reading of the file: one from reading
/// it (an I/O error, a line past the bound), not a bad row; reading on
/// would meet the same error again.
pub(crate) fn fatal(path: &Path, error: csv::Error) -> Result<csv::Error, FormatError> {
    if !error.is_io_error() {
        return Ok(error);
    }
    match error.into_kind() {
        csv::ErrorKind::Io(source) => Err(FormatError::Io { path: path.to_path_buf(), source }),
        _ => unreachable!("is_io_error"),
    }
}

/// Parses a number cell; the error quotes the cell (at most 60 characters).
pub(crate) fn parse_f64(text: &str) -> Result<f64, String> {
    let quoted = || match text.char_indices().nth(60) {
        Some((end, _)) => format!("{:?}...", &text[..end]),
        None => format!("{text:?}"),
    };
    let value: f64 = text.trim().parse().map_err(|_| format!("{} is not a number", quoted()))?;
    if value.is_finite() { Ok(value) } else { Err(format!("{} is not a finite number", quoted())) }
}
