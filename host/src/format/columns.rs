//! Header handling for CSV readers: columns are found by name, in any order.

use std::collections::HashMap;
use std::path::Path;

use super::FormatError;
use super::capped::Capped;

#[derive(Debug)]
pub(crate) struct Columns {
    index: HashMap<String, usize>,
    names: Vec<String>,
}

impl Columns {
    pub(crate) fn new(headers: &csv::StringRecord) -> Self {
        let names: Vec<String> = headers.iter().map(|name| name.trim().to_owned()).collect();
        let index = names.iter().enumerate().map(|(i, name)| (name.clone(), i)).collect();
        Columns { index, names }
    }

    pub(crate) fn get(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The position of a required column, or an error naming the expected header.
    pub(crate) fn require(&self, path: &Path, name: &str, expected: &str) -> Result<usize, FormatError> {
        self.get(name).ok_or_else(|| FormatError::Header {
            path: path.to_path_buf(),
            reason: if self.names.iter().all(String::is_empty) {
                format!("the file is empty; it must start with the header {expected}")
            } else {
                format!(
                    "no {name:?} column; the header must name the columns {expected} (found: {})",
                    self.names.join(",")
                )
            },
        })
    }

    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }
}

/// Opens a CSV reader and reads the header. Cells are not trimmed by the
/// reader (the csv crate copies every record to trim it): read them with
/// [`cell`], which trims the borrowed text instead.
pub(crate) fn reader(path: &Path) -> Result<(csv::Reader<Capped<std::fs::File>>, Columns), FormatError> {
    let file = super::open(path)?;
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::Headers).flexible(false).from_reader(file);
    let headers = reader.headers().map_err(|error| FormatError::Header {
        path: path.to_path_buf(),
        reason: format!("cannot read the header: {error}"),
    })?;
    let columns = Columns::new(headers);
    // Which of two columns of one name holds the values cannot be told.
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = columns.names().iter().find(|name| !name.is_empty() && !seen.insert(name.as_str())) {
        return Err(FormatError::Header {
            path: path.to_path_buf(),
            reason: format!("column {twice:?} appears twice; keep one"),
        });
    }
    Ok((reader, columns))
}

/// The cell at `column` of `row`, without the whitespace around it (what
/// `csv::Trim::All` would give, without copying the record).
pub(crate) fn cell(row: &csv::StringRecord, column: usize) -> Option<&str> {
    row.get(column).map(trim)
}

/// `text` without the whitespace around it, as [`str::trim`] gives it, but
/// returned at once when it starts and ends with a printable ASCII byte
/// (nearly every cell): no whitespace, Unicode's included, can be there.
fn trim(text: &str) -> &str {
    let plain = |byte: &u8| byte.is_ascii_graphic();
    match text.as_bytes() {
        [first, .., last] if plain(first) && plain(last) => text,
        [only] if plain(only) => text,
        _ => text.trim(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn cells_are_trimmed_as_str_trim_trims(text in "[ \t\u{a0}\u{2003}a-z0-9.,é-]{0,8}") {
            prop_assert_eq!(super::trim(&text), text.trim());
        }
    }

    #[test]
    fn unicode_spaces_and_tabs_at_either_end_are_trimmed() {
        for (text, trimmed) in [
            ("\u{a0}x", "x"),
            ("x\u{2003}", "x"),
            ("\tx", "x"),
            ("x ", "x"),
            ("x", "x"),
            ("", ""),
            (" ", ""),
            ("a b", "a b"),
        ] {
            assert_eq!(super::trim(text), trimmed, "{text:?}");
        }
    }
}
