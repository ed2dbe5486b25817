//! Timestamps as text: the one place siglearn parses and formats instants.
//!
//! Input accepts ISO-8601 / RFC 3339 (`2018-01-10T04:55:00Z`, an offset such as
//! `+02:00`, fractional seconds, `T` or a space between date and time; no zone
//! means UTC; a bare date means midnight UTC) or epoch milliseconds
//! (`1515559500000`). Sub-millisecond digits are truncated. Output is always
//! ISO-8601 UTC ending in `Z`, with milliseconds only when they are not zero.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use siglearn_plugin_api::Timestamp;

/// Text that is not a timestamp siglearn understands.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error(
        "{0:?} looks like epoch seconds; siglearn reads epoch milliseconds (multiply by 1000) or ISO-8601"
    )]
    LooksLikeSeconds(String),
    #[error("{0:?} is not a timestamp: use ISO-8601 UTC like 2018-01-10T04:55:00Z, or epoch milliseconds")]
    Unrecognised(String),
}

/// Parses an ISO-8601 instant or epoch milliseconds.
pub fn parse_timestamp(text: &str) -> Result<Timestamp, TimestampError> {
    let text = text.trim();
    let digits = text.strip_prefix('-').unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let millis: i64 = text.parse().map_err(|_| TimestampError::Unrecognised(text.to_owned()))?;
        // Ten-digit values are what epoch *seconds* look like today; as
        // milliseconds they would all fall in the first months of 1970.
        if (100_000_000..10_000_000_000).contains(&millis) {
            return Err(TimestampError::LooksLikeSeconds(text.to_owned()));
        }
        return Ok(Timestamp(millis));
    }
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Ok(Timestamp(instant.timestamp_millis()));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(Timestamp(naive.and_utc().timestamp_millis()));
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        if let Some(midnight) = date.and_hms_opt(0, 0, 0) {
            return Ok(Timestamp(midnight.and_utc().timestamp_millis()));
        }
    }
    Err(TimestampError::Unrecognised(text.to_owned()))
}

/// Formats an instant as ISO-8601 UTC ending in `Z`.
pub fn format_timestamp(ts: Timestamp) -> String {
    match DateTime::<Utc>::from_timestamp_millis(ts.as_millis()) {
        Some(instant) => {
            let precision = if ts.as_millis().rem_euclid(1000) == 0 {
                SecondsFormat::Secs
            } else {
                SecondsFormat::Millis
            };
            instant.to_rfc3339_opts(precision, true)
        }
        // Beyond chrono's range (±262,000 years): only reachable from epoch
        // milliseconds, which are then written back as given.
        None => ts.as_millis().to_string(),
    }
}

/// Formats a duration in milliseconds in the largest whole unit: `1d`,
/// `4h`, `5m`, `30s`, else `250ms`.
pub fn format_duration(millis: i64) -> String {
    for (unit, size) in [("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)]
    {
        if millis != 0 && millis % size == 0 {
            return format!("{}{unit}", millis / size);
        }
    }
    format!("{millis}ms")
}

/// Formats a UTC day number (days since 1970-01-01) as `YYYY-MM-DD`.
pub fn format_utc_day(day: i64) -> String {
    let ts = Timestamp(day.saturating_mul(siglearn_plugin_api::MILLIS_PER_DAY));
    let text = format_timestamp(ts);
    text.split('T').next().unwrap_or(&text).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAN_10_2018_0455: i64 = 1_515_560_100_000;

    #[test]
    fn iso_with_z_and_epoch_millis_agree() {
        assert_eq!(parse_timestamp("2018-01-10T04:55:00Z"), Ok(Timestamp(JAN_10_2018_0455)));
        assert_eq!(parse_timestamp("1515560100000"), Ok(Timestamp(JAN_10_2018_0455)));
    }

    #[test]
    fn offsets_spaces_fractions_and_bare_dates_are_accepted() {
        assert_eq!(parse_timestamp("2018-01-10T06:55:00+02:00"), Ok(Timestamp(JAN_10_2018_0455)));
        assert_eq!(parse_timestamp("2018-01-10 04:55:00"), Ok(Timestamp(JAN_10_2018_0455)));
        assert_eq!(parse_timestamp("2018-01-10T04:55:00.250Z"), Ok(Timestamp(JAN_10_2018_0455 + 250)));
        assert_eq!(parse_timestamp("2018-01-10T04:55:00.2509Z"), Ok(Timestamp(JAN_10_2018_0455 + 250)));
        assert_eq!(parse_timestamp("1970-01-02"), Ok(Timestamp(86_400_000)));
    }

    #[test]
    fn epoch_seconds_are_refused_with_the_fix() {
        let err = parse_timestamp("1515560100").unwrap_err();
        assert!(err.to_string().contains("multiply by 1000"), "{err}");
    }

    #[test]
    fn garbage_is_refused() {
        assert!(matches!(parse_timestamp("yesterday"), Err(TimestampError::Unrecognised(_))));
        assert!(parse_timestamp("").is_err());
    }

    #[test]
    fn formatting_ends_in_z_and_round_trips() {
        assert_eq!(format_timestamp(Timestamp(JAN_10_2018_0455)), "2018-01-10T04:55:00Z");
        assert_eq!(format_timestamp(Timestamp(JAN_10_2018_0455 + 7)), "2018-01-10T04:55:00.007Z");
        for millis in [0, -1, 1, JAN_10_2018_0455 + 999, -86_400_001] {
            let ts = Timestamp(millis);
            assert_eq!(parse_timestamp(&format_timestamp(ts)), Ok(ts), "{millis}");
        }
        assert_eq!(format_utc_day(17_541), "2018-01-10");
    }

    #[test]
    fn durations_are_written_in_their_largest_whole_unit() {
        assert_eq!(format_duration(86_400_000), "1d");
        assert_eq!(format_duration(14 * 86_400_000), "2w");
        assert_eq!(format_duration(4 * 3_600_000), "4h");
        assert_eq!(format_duration(90_000), "90s");
        assert_eq!(format_duration(300_000), "5m");
        assert_eq!(format_duration(250), "250ms");
        assert_eq!(format_duration(0), "0ms");
    }
}
