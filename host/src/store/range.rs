//! Instants a store holds outside the accepted range
//! ([`crate::timestamp::EARLIEST`] to [`crate::timestamp::END`]), which an
//! older version could write (nanoseconds read as milliseconds, `i64::MIN`).
//!
//! Every instant a [`super::StoreReader`] hands on lies in the range: a
//! signal, outcome, job run, snapshot, saved test or probation stamped
//! outside it is set aside in the query itself ([`in_range`]), so no report,
//! restore or daemon sees it (one such stamp would make every per-day figure
//! span millions of years). Version and alias rows are the strategies'
//! history and their numbering, so they are kept, with that time read as
//! 1970-01-01 ([`stamp_or_earliest`]). [`out_of_range`] lists them all, for
//! the warning that names each row and the fix. Nothing is deleted.

use rusqlite::Connection;
use siglearn_plugin_api::Timestamp;

use super::StoreError;

/// How many rows [`super::StoreReader::out_of_range`] names; the rest are counted.
const LISTED_OUT_OF_RANGE: usize = 10;

/// A row left out of every read, and its fix.
const SET_ASIDE: &str =
    "set aside; fix: delete that row, or re-run the replay that wrote the store into a new --db file";
/// A row kept for its numbering (versions, alias moves), and its fix.
const KEPT: &str = "kept, its time read as 1970-01-01; fix: set it to the time in epoch milliseconds (do not delete the row)";

/// Each column of a store that holds an instant: (table, how a row is
/// named, column, what a reader does with a row stamped outside the range
/// and the fix).
const STAMPED_COLUMNS: &[(&str, &str, &str, &str)] = &[
    ("signals", "'signal ' || quote(id)", "entry_ts", SET_ASIDE),
    ("outcomes", "'outcome of signal ' || quote(signal_id)", "exit_ts", SET_ASIDE),
    ("outcomes", "'outcome of signal ' || quote(signal_id)", "known_ts", SET_ASIDE),
    ("versions", "'version ' || strategy || ' v' || n", "created_at", KEPT),
    ("alias_history", "'alias move ' || id", "moved_at", KEPT),
    ("job_runs", "'job run ' || id || ' (' || job || ')'", "scheduled_at", SET_ASIDE),
    ("snapshots", "'snapshot ' || id || ' (' || kind || ' of ' || strategy || ')'", "at", SET_ASIDE),
    ("experiment", "'promotion test of ' || strategy", "updated_at", SET_ASIDE),
    ("probations", "'probation of ' || strategy", "saved_at", SET_ASIDE),
];

/// The rows of a store stamped outside the accepted range.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutOfRange {
    /// How many there are.
    pub count: u64,
    /// The first few of them, each named in a line with its fix.
    pub listed: Vec<String>,
}

impl std::fmt::Display for OutOfRange {
    /// What a command prints (or the daemon logs) as its warning.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} row(s) of the store are stamped outside the accepted range (an older version wrote them) \
             and are left out of reports, restores and the daemon:",
            self.count
        )?;
        for line in &self.listed {
            write!(f, "\n  - {line}")?;
        }
        let more = self.count.saturating_sub(self.listed.len() as u64);
        if more > 0 {
            write!(f, "\n  - and {more} more")?;
        }
        Ok(())
    }
}

/// The rows stamped outside the accepted range, each of [`STAMPED_COLUMNS`].
pub(super) fn out_of_range(conn: &Connection) -> Result<OutOfRange, StoreError> {
    let mut found = OutOfRange::default();
    for &(table, name, column, treatment) in STAMPED_COLUMNS {
        let present: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
            [table, column],
            |row| row.get(0),
        )?;
        if !present {
            continue;
        }
        let outside = format!("{column} IS NOT NULL AND NOT {}", in_range(column));
        let count: i64 =
            conn.query_row(&format!("SELECT COUNT(*) FROM {table} WHERE {outside}"), [], |row| row.get(0))?;
        found.count += count.unsigned_abs();
        let room = LISTED_OUT_OF_RANGE.saturating_sub(found.listed.len());
        if room == 0 || count == 0 {
            continue;
        }
        let mut statement = conn.prepare(&format!(
            "SELECT {name}, CAST({column} AS TEXT) FROM {table} WHERE {outside} LIMIT {room}"
        ))?;
        let rows = statement.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
        for row in rows {
            let (row, value) = row?;
            found.listed.push(format!(
                "{row}: {table}.{column} = {value} is outside 1970-01-01..2100-01-01 in epoch milliseconds, \
                 {treatment}"
            ));
        }
    }
    Ok(found)
}

/// SQL that holds when `column` is an instant in the accepted range.
pub(super) fn in_range(column: &str) -> String {
    format!("({column} BETWEEN {} AND {})", crate::timestamp::EARLIEST.0, crate::timestamp::END.0 - 1)
}

/// SQL that holds for a closed signal (`s` joined with its outcome `o`)
/// whose every instant is in the accepted range.
pub(super) fn closed_in_range() -> String {
    format!(
        "{} AND {} AND (o.known_ts IS NULL OR {})",
        in_range("s.entry_ts"),
        in_range("o.exit_ts"),
        in_range("o.known_ts")
    )
}

/// A stored instant, or 1970-01-01 for one outside the accepted range (a
/// row kept for what else it holds; [`super::StoreReader::out_of_range`] names it).
pub(super) fn stamp_or_earliest(millis: i64) -> Timestamp {
    let stamp = Timestamp(millis);
    if (crate::timestamp::EARLIEST..crate::timestamp::END).contains(&stamp) {
        stamp
    } else {
        crate::timestamp::EARLIEST
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use siglearn_plugin_api::Side;

    use super::*;
    use crate::monitor::MonitorConfig;
    use crate::store::{Command, Store, StoreReader};
    use crate::versions::{VersionReason, VersionRecord};

    /// 2024-05-01T10:00:00Z in nanoseconds, as an older version could write it.
    const NANOS: i64 = 1_714_557_600_000_000_000;

    fn version(n: u32, created_at: i64) -> Command {
        Command::InsertVersion(VersionRecord::bare("s", n, VersionReason::Load, Timestamp(created_at)))
    }

    #[test]
    fn rows_stamped_outside_the_range_are_counted_the_first_ten_named_and_versions_kept_as_1970() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = Store::open(&path, &MonitorConfig::default()).unwrap();
        let mut commands: Vec<Command> = (0..12)
            .map(|i| {
                let mut signal = crate::monitor::fixtures::signal(&format!("n{i:02}"), Side::Long);
                signal.entry_ts = Timestamp(NANOS);
                Command::InsertSignal(Arc::new(signal))
            })
            .collect();
        commands.push(Command::InsertSignal(Arc::new(crate::monitor::fixtures::signal("ok", Side::Long))));
        commands.push(version(1, 60_000));
        commands.push(version(2, -1));
        store.commit(commands).unwrap();
        store.close().unwrap();

        let reader = StoreReader::open(&path).unwrap();
        let found = reader.out_of_range().unwrap();
        // 12 signals and version 2; the first ten rows (signals) named.
        assert_eq!(found.count, 13);
        assert_eq!(found.listed.len(), 10);
        assert!(
            found.listed[0].starts_with("signal 'n00': signals.entry_ts = 1714557600000000000"),
            "{found}"
        );
        let text = found.to_string();
        assert!(text.starts_with("13 row(s)"), "{text}");
        assert!(text.ends_with("\n  - and 3 more"), "{text}");
        // Set aside: only the signal in range is open; versions kept, v2 read as 1970.
        let open: Vec<String> = reader.open_signals().unwrap().iter().map(|s| s.id.to_string()).collect();
        assert_eq!(open, ["ok"]);
        let created: Vec<Timestamp> = reader.versions("s").unwrap().iter().map(|v| v.created_at).collect();
        assert_eq!(created, [Timestamp(60_000), Timestamp(0)]);
    }

    #[test]
    fn a_warning_that_names_every_row_says_no_more() {
        let all = OutOfRange { count: 2, listed: vec!["a".into(), "b".into()] };
        assert!(all.to_string().ends_with("\n  - a\n  - b"), "{all}");
        let none = OutOfRange::default();
        assert!(!none.to_string().contains("more"), "{none}");
    }
}
