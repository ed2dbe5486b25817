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
    if let Some(millis) = plain_utc_millis(text.as_bytes()).filter(|&millis| in_range(millis)) {
        return Ok(Timestamp(millis));
    }
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

/// The exact shape of most files, `YYYY-MM-DDTHH:MM:SSZ`, read without the
/// general parser; `None` for anything else (another shape, a date that does
/// not exist, a leap second), which the general parser then decides. Called
/// for every row of a price file, so it is kept to plain byte arithmetic.
fn plain_utc_millis(text: &[u8]) -> Option<i64> {
    let &[y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1, b'T', h0, h1, b':', n0, n1, b':', s0, s1, b'Z'] = text
    else {
        return None;
    };
    let digit = |b: u8| b.is_ascii_digit().then(|| i64::from(b - b'0'));
    let two = |a: u8, b: u8| Some(digit(a)? * 10 + digit(b)?);
    let year = two(y0, y1)? * 100 + two(y2, y3)?;
    let (month, day) = (two(m0, m1)?, two(d0, d1)?);
    let (hour, minute, second) = (two(h0, h1)?, two(n0, n1)?, two(s0, s1)?);
    let valid = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    valid.then(|| {
        days_from_civil(year, month, day) * MILLIS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1000
    })
}

/// Days in `month` (1 to 12) of a proleptic Gregorian `year`.
fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant,
/// "chrono-Compatible Low-Level Date Algorithms", `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian (year, month, day) of a day number since
/// 1970-01-01 (H. Hinnant, `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The first instant of year 10000: four-digit years are written by hand.
const YEAR_10000: i64 = 253_402_300_800_000;

/// Appends an instant as [`format_timestamp`] writes it, without allocating
/// for the years 1970 to 9999 (the trades file writes two a row).
pub fn write_timestamp(out: &mut Vec<u8>, ts: Timestamp) {
    let millis = ts.as_millis();
    if !(0..YEAR_10000).contains(&millis) {
        out.extend_from_slice(format_timestamp(ts).as_bytes());
        return;
    }
    let (year, month, day) = civil_from_days(millis / MILLIS_PER_DAY);
    let in_day = millis % MILLIS_PER_DAY;
    let (seconds, fraction) = (in_day / 1000, in_day % 1000);
    let digit = |value: i64| b'0' + (value % 10) as u8;
    out.extend_from_slice(&[digit(year / 1000), digit(year / 100), digit(year / 10), digit(year), b'-']);
    let mut two = |value: i64, after: u8| {
        out.extend_from_slice(&[b'0' + (value / 10) as u8, b'0' + (value % 10) as u8, after]);
    };
    two(month, b'-');
    two(day, b'T');
    two(seconds / 3600, b':');
    two(seconds / 60 % 60, b':');
    out.extend_from_slice(&[digit(seconds % 60 / 10), digit(seconds)]);
    if fraction != 0 {
        out.extend_from_slice(&[b'.', digit(fraction / 100), digit(fraction / 10), digit(fraction)]);
    }
    out.push(b'Z');
}

/// Formats an instant as ISO-8601 UTC ending in `Z`.
pub fn format_timestamp(ts: Timestamp) -> String {
    if (0..YEAR_10000).contains(&ts.as_millis()) {
        let mut out = Vec::with_capacity(24);
        write_timestamp(&mut out, ts);
        // Only ASCII digits and separators were written.
        return String::from_utf8(out).unwrap_or_default();
    }
    chrono_format(ts)
}

/// [`format_timestamp`] through chrono: the years it does not write by hand.
fn chrono_format(ts: Timestamp) -> String {
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

            #[test]
            fn hand_written_dates_agree_with_chrono(millis in 0..YEAR_10000, whole in any::<bool>()) {
                let millis = if whole { millis - millis % 1000 } else { millis };
                let text = by_chrono(millis);
                prop_assert_eq!(format_timestamp(Timestamp(millis)), text.clone());
                let mut written = b"x".to_vec();
                write_timestamp(&mut written, Timestamp(millis));
                prop_assert_eq!(&written[1..], text.as_bytes());
                if whole {
                    prop_assert_eq!(plain_utc_millis(text.as_bytes()), Some(millis));
                }
            }

            #[test]
            fn the_plain_shape_is_read_as_chrono_reads_it(text in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z") {
                let by_chrono = DateTime::parse_from_rfc3339(&text).ok().map(|t| t.timestamp_millis());
                // Where the hand-written reader answers, chrono agrees; a
                // leap second is the only text chrono reads that it leaves.
                match plain_utc_millis(text.as_bytes()) {
                    Some(millis) => prop_assert_eq!(Some(millis), by_chrono),
                    None => prop_assert!(by_chrono.is_none() || &text[17..19] == "60", "{}", text),
                }
            }
        }
    }

    /// chrono's RFC 3339 text of an instant: the twin the hand-written
    /// formatter is held against.
    fn by_chrono(millis: i64) -> String {
        let precision =
            if millis.rem_euclid(1000) == 0 { SecondsFormat::Secs } else { SecondsFormat::Millis };
        DateTime::<Utc>::from_timestamp_millis(millis).unwrap().to_rfc3339_opts(precision, true)
    }

    #[test]
    fn hand_written_dates_agree_with_chrono_at_the_calendar_edges() {
        // Leap days of 2000 (divisible by 400) and 2024, the non-leap 2100,
        // month ends, the first and last instants written by hand.
        for text in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T23:59:59Z",
            "2024-02-29T12:00:00Z",
            "2023-12-31T23:59:59Z",
            "2099-12-31T23:59:59Z",
            "9999-12-31T23:59:59Z",
        ] {
            let millis = DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis();
            assert_eq!(plain_utc_millis(text.as_bytes()), Some(millis), "{text}");
            assert_eq!(format_timestamp(Timestamp(millis)), by_chrono(millis), "{text}");
        }
        // Dates that do not exist and leap seconds are left to chrono.
        for text in [
            "2100-02-29T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-00-10T00:00:00Z",
            "2024-01-00T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2016-12-31T23:59:60Z",
            "2024-01-01t00:00:00Z",
            "2024-01-01T00:00:00z",
            "2024-01-01T0a:00:00Z",
        ] {
            assert_eq!(plain_utc_millis(text.as_bytes()), None, "{text}");
        }
        assert_eq!(parse_timestamp("2100-02-29T00:00:00Z").map_err(|_| ()), Err(()));
        assert_eq!(format_timestamp(Timestamp(YEAR_10000)), by_chrono(YEAR_10000));
        assert_eq!(format_timestamp(Timestamp(-1)), by_chrono(-1));
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
