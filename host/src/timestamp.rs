//! Timestamps as text: the one place siglearn parses and formats instants.
//!
//! Input accepts ISO-8601 / RFC 3339 (`2018-01-10T04:55:00Z`, an offset such as
//! `+02:00`, fractional seconds, `T` or a space between date and time; no zone
//! means UTC; a bare date means midnight UTC) or epoch milliseconds
//! (`1515559500000`), as text or as a JSON number. Sub-millisecond digits are
//! truncated. Output is always ISO-8601 UTC ending in `Z`, with milliseconds
//! only when they are not zero.
//!
//! Every instant read from outside (CSV cells, JSON bodies, command-line
//! options) lies in one sane range, [`EARLIEST`] (1970-01-01) up to but not
//! including [`END`] (2100-01-01). Numbers that are epoch seconds,
//! microseconds or nanoseconds are refused with the fix (multiply by 1000,
//! divide by 1000, divide by 1,000,000): read as milliseconds they would be
//! 1970 or tens of thousands of years ahead, and every per-day figure would
//! span that. Durations are bounded the same way ([`MAX_HOLD_MS`]).

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use siglearn_plugin_api::{MILLIS_PER_DAY, Timestamp};

/// The first instant siglearn reads: 1970-01-01T00:00:00Z.
pub const EARLIEST: Timestamp = Timestamp(0);
/// The end of the sane range, 2100-01-01T00:00:00Z (excluded).
pub const END: Timestamp = Timestamp(4_102_444_800_000);
/// The longest hold a signal may ask for: ten years of 365 days.
pub const MAX_HOLD_MS: i64 = 3650 * MILLIS_PER_DAY;

/// The UTC days (since 1970-01-01) of the accepted range. Series with one
/// entry per day or week (the daily P&L, the weekly win rates) cover only
/// these, so a stamp written by an older version (microseconds read as
/// milliseconds) cannot make them millions of entries long.
pub fn accepted_days() -> std::ops::Range<i64> {
    EARLIEST.utc_day()..END.utc_day()
}

/// Text or a number that is not a timestamp siglearn understands.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error(
        "{0:?} looks like epoch seconds; siglearn reads epoch milliseconds (multiply by 1000) or ISO-8601"
    )]
    LooksLikeSeconds(String),
    #[error(
        "{0:?} looks like epoch microseconds; siglearn reads epoch milliseconds (divide by 1000) or ISO-8601"
    )]
    LooksLikeMicros(String),
    #[error(
        "{0:?} looks like epoch nanoseconds; siglearn reads epoch milliseconds (divide by 1,000,000) or ISO-8601"
    )]
    LooksLikeNanos(String),
    #[error(
        "{0:?} is outside the accepted range 1970-01-01T00:00:00Z to 2100-01-01T00:00:00Z (epoch milliseconds 0 to 4102444800000)"
    )]
    OutOfRange(String),
    #[error("{0:?} is not a timestamp: use ISO-8601 UTC like 2018-01-10T04:55:00Z, or epoch milliseconds")]
    Unrecognised(String),
}

/// Parses an ISO-8601 instant or epoch milliseconds in the sane range.
pub fn parse_timestamp(text: &str) -> Result<Timestamp, TimestampError> {
    let text = text.trim();
    let digits = text.strip_prefix('-').unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<i64>() {
            Ok(millis) => checked_millis(millis, text),
            // More digits than an i64 holds: far beyond any unit's range.
            Err(_) => Err(TimestampError::OutOfRange(text.to_owned())),
        };
    }
    let millis = if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        Some(instant.timestamp_millis())
    } else {
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
            .into_iter()
            .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
            .or_else(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
            .map(|naive| naive.and_utc().timestamp_millis())
    };
    match millis {
        Some(millis) if in_range(millis) => Ok(Timestamp(millis)),
        Some(_) => Err(TimestampError::OutOfRange(text.to_owned())),
        None => Err(TimestampError::Unrecognised(text.to_owned())),
    }
}

/// Reads a JSON value as an instant: a string as [`parse_timestamp`] does,
/// a whole number as epoch milliseconds under the same rules.
pub fn timestamp_from_json(value: &serde_json::Value) -> Result<Timestamp, TimestampError> {
    match value {
        serde_json::Value::String(text) => parse_timestamp(text),
        serde_json::Value::Number(number) => match (number.as_i64(), number.as_u64()) {
            (Some(millis), _) => checked_millis(millis, &number.to_string()),
            (None, Some(_)) => Err(TimestampError::OutOfRange(number.to_string())),
            (None, None) => Err(TimestampError::Unrecognised(number.to_string())),
        },
        other => Err(TimestampError::Unrecognised(other.to_string())),
    }
}

/// Epoch milliseconds in the sane range; other units are named.
fn checked_millis(millis: i64, text: &str) -> Result<Timestamp, TimestampError> {
    // Ten-digit values are what epoch *seconds* look like today; as
    // milliseconds they would all fall in the first months of 1970.
    if (100_000_000..10_000_000_000).contains(&millis) {
        return Err(TimestampError::LooksLikeSeconds(text.to_owned()));
    }
    if in_range(millis) {
        return Ok(Timestamp(millis));
    }
    // Scaled down, a plausible millisecond instant (past the seconds window).
    let plausible = |scaled: i64| scaled >= 10_000_000_000 && in_range(scaled);
    if plausible(millis / 1000) {
        return Err(TimestampError::LooksLikeMicros(text.to_owned()));
    }
    if plausible(millis / 1_000_000) {
        return Err(TimestampError::LooksLikeNanos(text.to_owned()));
    }
    Err(TimestampError::OutOfRange(text.to_owned()))
}

fn in_range(millis: i64) -> bool {
    (EARLIEST.as_millis()..END.as_millis()).contains(&millis)
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
        for millis in [0, 1, JAN_10_2018_0455 + 999, END.as_millis() - 1] {
            let ts = Timestamp(millis);
            assert_eq!(parse_timestamp(&format_timestamp(ts)), Ok(ts), "{millis}");
        }
        assert_eq!(format_utc_day(17_541), "2018-01-10");
        assert_eq!(format_timestamp(END), "2100-01-01T00:00:00Z");
    }

    /// 2024-05-01T10:00:00Z in every unit a feed may use.
    const SECONDS: i64 = 1_714_557_600;

    #[test]
    fn micro_and_nanoseconds_are_refused_with_the_fix_as_text_and_as_json() {
        let micros = (SECONDS * 1_000_000).to_string();
        let nanos = (SECONDS * 1_000_000_000).to_string();
        for (text, fix) in [
            (SECONDS.to_string(), "multiply by 1000"),
            (micros, "divide by 1000)"),
            (nanos, "divide by 1,000,000"),
        ] {
            let from_text = parse_timestamp(&text).unwrap_err().to_string();
            assert!(from_text.contains(fix), "{from_text}");
            let number: serde_json::Value = serde_json::from_str(&text).unwrap();
            let from_json = timestamp_from_json(&number).unwrap_err().to_string();
            assert!(from_json.contains(fix), "{from_json}");
        }
        let millis = serde_json::json!(SECONDS * 1000);
        assert_eq!(timestamp_from_json(&millis), Ok(Timestamp(SECONDS * 1000)));
    }

    #[test]
    fn instants_outside_1970_to_2100_are_refused_in_every_form() {
        for text in [
            "-1",
            "-9223372036854775808",
            "9223372036854775807",
            "99999999999999999999999",
            "4102444800000",
            "1969-12-31T23:59:59Z",
            "2100-01-01",
            "9999-12-31T00:00:00Z",
        ] {
            let error = parse_timestamp(text).unwrap_err();
            assert!(matches!(error, TimestampError::OutOfRange(_)), "{text}: {error}");
            assert!(error.to_string().contains("1970-01-01T00:00:00Z to 2100-01-01"), "{error}");
        }
        for json in ["-9223372036854775808", "18446744073709551615", "-1"] {
            let value: serde_json::Value = serde_json::from_str(json).unwrap();
            assert!(matches!(timestamp_from_json(&value), Err(TimestampError::OutOfRange(_))), "{json}");
        }
        for json in ["1.5e12", "1714557600000.5", "true", "null", "[]"] {
            let value: serde_json::Value = serde_json::from_str(json).unwrap();
            assert!(matches!(timestamp_from_json(&value), Err(TimestampError::Unrecognised(_))), "{json}");
        }
        assert_eq!(parse_timestamp("2099-12-31T23:59:59.999Z"), Ok(Timestamp(END.as_millis() - 1)));
    }

    mod fuzz {
        use proptest::prelude::*;

        use super::*;

        /// A text or JSON instant that was read: inside the range, and
        /// written back it reads the same; a refusal is a clear message.
        fn judged(result: Result<Timestamp, TimestampError>) -> Result<(), TestCaseError> {
            match result {
                Ok(ts) => {
                    prop_assert!((EARLIEST..END).contains(&ts), "{ts:?} is outside the range");
                    prop_assert_eq!(parse_timestamp(&format_timestamp(ts)), Ok(ts));
                }
                Err(error) => prop_assert!(error.to_string().len() > 20, "{error}"),
            }
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

            #[test]
            fn any_text_is_an_instant_in_range_or_a_clear_refusal(text in "\\PC{0,40}") {
                judged(parse_timestamp(&text))?;
            }

            #[test]
            fn date_like_text_is_an_instant_in_range_or_a_clear_refusal(
                text in "[+-]?[0-9]{1,6}-[0-9]{1,2}-[0-9]{1,2}([T ][0-9]{1,2}:[0-9]{1,2}(:[0-9]{1,2}(\\.[0-9]{1,12})?)?)?(Z|[+-][0-9]{2}:[0-9]{2})?",
            ) {
                judged(parse_timestamp(&text))?;
            }

            #[test]
            fn any_number_is_an_instant_in_range_or_a_clear_refusal(millis in any::<i64>(), big in any::<u64>(), float in any::<f64>()) {
                judged(parse_timestamp(&millis.to_string()))?;
                judged(timestamp_from_json(&serde_json::json!(millis)))?;
                judged(timestamp_from_json(&serde_json::json!(big)))?;
                judged(timestamp_from_json(&serde_json::json!(float)))?;
                let in_range = (EARLIEST.as_millis()..END.as_millis()).contains(&millis);
                let seconds_window = (100_000_000..10_000_000_000).contains(&millis);
                prop_assert_eq!(parse_timestamp(&millis.to_string()).is_ok(), in_range && !seconds_window);
            }
        }
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
