//! Jobs on a cron schedule, evaluated against the engine's clock.
//!
//! The clock is event time in a replay and wall time in the daemon, so a
//! replay of a year fires the 365 daily jobs the daemon would have. A job's
//! runs are the instants its cron expression names (UTC); [`Schedule::due`]
//! hands out every run at or before the current time, oldest first, so a
//! replay that jumps over a weekend still runs Saturday's and Sunday's daily
//! jobs, each at its own instant.
//!
//! No run is ever later than the end of the accepted range of instants
//! ([`crate::timestamp::END`], 2100-01-01): inputs cannot reach past it, and a
//! clock that somehow did (a store written by an older version) would
//! otherwise enumerate every day until the year 262,000.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use croner::Cron;
use serde::{Deserialize, Serialize};
use siglearn_plugin_api::Timestamp;

/// The scheduled jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Daily learning: every strategy's `daily(summary)`, a daily report, a state snapshot.
    Daily,
    /// Weekly walk-forward retraining.
    Weekly,
    /// Hourly metrics.
    Hourly,
}

impl JobKind {
    pub const ALL: [JobKind; 3] = [JobKind::Daily, JobKind::Weekly, JobKind::Hourly];

    pub const fn as_str(self) -> &'static str {
        match self {
            JobKind::Daily => "daily",
            JobKind::Weekly => "weekly",
            JobKind::Hourly => "hourly",
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        JobKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| format!("{text:?} is not a job"))
    }
}

/// One run of a job, with what it found and did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JobRun {
    pub job: JobKind,
    /// The instant the schedule named (not when it was noticed).
    pub scheduled_at: Timestamp,
    /// The strategy the run was about, if it was about one.
    pub strategy: Option<siglearn_plugin_api::StrategyId>,
    pub figures: serde_json::Value,
}

/// Cron expressions of the jobs (five fields, UTC); `"off"` disables a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScheduleConfig {
    /// Default `0 0 * * *`: every day at 00:00 UTC.
    pub daily: String,
    /// Default `0 2 * * 0`: Sundays at 02:00 UTC.
    pub weekly: String,
    /// Default `0 * * * *`: every hour on the hour.
    pub hourly: String,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig { daily: "0 0 * * *".into(), weekly: "0 2 * * 0".into(), hourly: "0 * * * *".into() }
    }
}

impl ScheduleConfig {
    fn expression(&self, kind: JobKind) -> &str {
        match kind {
            JobKind::Daily => &self.daily,
            JobKind::Weekly => &self.weekly,
            JobKind::Hourly => &self.hourly,
        }
    }
}

#[derive(Clone, Debug)]
struct Job {
    kind: JobKind,
    cron: Option<Cron>,
    next: Option<Timestamp>,
}

/// The jobs and when each runs next.
#[derive(Clone, Debug)]
pub struct Schedule {
    jobs: Vec<Job>,
}

impl Schedule {
    /// Parses every expression, reporting every bad one at once.
    pub fn new(config: &ScheduleConfig) -> Result<Self, Vec<String>> {
        let mut jobs = Vec::new();
        let mut problems = Vec::new();
        for kind in JobKind::ALL {
            let text = config.expression(kind).trim();
            let cron = if text.eq_ignore_ascii_case("off") {
                None
            } else {
                match Cron::from_str(text) {
                    Ok(cron) => Some(cron),
                    Err(error) => {
                        problems.push(format!(
                            "schedule.{kind}: {text:?} is not a cron expression ({error}); \
                             use five fields like \"0 0 * * *\", or \"off\""
                        ));
                        None
                    }
                }
            };
            jobs.push(Job { kind, cron, next: None });
        }
        if problems.is_empty() { Ok(Schedule { jobs }) } else { Err(problems) }
    }

    /// Counts runs from `now`: each job's first run is its first instant after it.
    pub fn start(&mut self, now: Timestamp) {
        for job in &mut self.jobs {
            job.next = next_after(job.cron.as_ref(), now);
        }
    }

    /// Continues a job whose last run was at `last_run`.
    pub fn resume(&mut self, kind: JobKind, last_run: Timestamp) {
        for job in self.jobs.iter_mut().filter(|job| job.kind == kind) {
            job.next = next_after(job.cron.as_ref(), last_run);
        }
    }

    /// After downtime: every job whose run was missed by `now` runs once, at
    /// its latest missed instant, and continues after `now`.
    pub fn catch_up(&mut self, now: Timestamp, out: &mut Vec<(Timestamp, JobKind)>) {
        let now = now.min(crate::timestamp::END);
        for job in &mut self.jobs {
            if job.next.is_some_and(|next| next <= now) {
                if let Some(latest) = latest_at_or_before(job.cron.as_ref(), now) {
                    out.push((latest, job.kind));
                }
                job.next = next_after(job.cron.as_ref(), now);
            }
        }
        out.sort_by_key(|&(at, kind)| (at, kind));
    }

    /// Whether [`Schedule::start`] or [`Schedule::resume`] has run.
    pub fn is_started(&self) -> bool {
        self.jobs.iter().any(|job| job.next.is_some())
    }

    /// Appends every run due at or before `now` to `out`, oldest first (ties
    /// in the order daily, weekly, hourly), and moves each job past them.
    ///
    /// The hourly job hands out only one of several missed runs, stamped
    /// with the latest of them: they would record the same figures, and
    /// enumerating the hours of a long quiet stretch (a replay of daily
    /// bars) costs more than the replay.
    pub fn due(&mut self, now: Timestamp, out: &mut Vec<(Timestamp, JobKind)>) {
        let now = now.min(crate::timestamp::END);
        // One hourly run for a quiet stretch, at the latest missed instant:
        // the next one is then the first after it, as a resumed schedule
        // (which continues after the last stamp) computes.
        for job in self.jobs.iter_mut().filter(|job| job.kind == JobKind::Hourly) {
            if let Some(next) = job.next.filter(|&next| next <= now) {
                job.next =
                    Some(latest_at_or_before(job.cron.as_ref(), now).map_or(next, |latest| latest.max(next)));
            }
        }
        loop {
            let earliest = self
                .jobs
                .iter_mut()
                .filter(|job| job.next.is_some_and(|next| next <= now))
                .min_by_key(|job| (job.next, job.kind));
            let Some(job) = earliest else { break };
            let Some(at) = job.next else { break };
            out.push((at, job.kind));
            job.next = next_after(job.cron.as_ref(), at);
        }
    }
}

/// The first instant of `cron` strictly after `after`, if any.
fn next_after(cron: Option<&Cron>, after: Timestamp) -> Option<Timestamp> {
    let cron = cron?;
    let from = DateTime::<Utc>::from_timestamp_millis(after.as_millis())?;
    cron.find_next_occurrence(&from, false).ok().map(|next| Timestamp(next.timestamp_millis()))
}

/// The last instant of `cron` at or before `at`, if any.
fn latest_at_or_before(cron: Option<&Cron>, at: Timestamp) -> Option<Timestamp> {
    let cron = cron?;
    let from = DateTime::<Utc>::from_timestamp_millis(at.as_millis())?;
    cron.find_previous_occurrence(&from, true).ok().map(|previous| Timestamp(previous.timestamp_millis()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::{format_timestamp, parse_timestamp};

    fn at(text: &str) -> Timestamp {
        parse_timestamp(text).unwrap()
    }

    fn runs(schedule: &mut Schedule, until: &str) -> Vec<String> {
        let mut out = Vec::new();
        schedule.due(at(until), &mut out);
        out.into_iter().map(|(ts, kind)| format!("{kind}@{}", format_timestamp(ts))).collect()
    }

    #[test]
    fn job_names_read_back_and_others_are_refused() {
        for kind in JobKind::ALL {
            assert_eq!(kind.as_str().parse::<JobKind>(), Ok(kind));
        }
        assert!("yearly".parse::<JobKind>().unwrap_err().contains("\"yearly\" is not a job"));
    }

    #[test]
    fn a_schedule_is_started_by_start_or_resume_only() {
        let mut schedule = Schedule::new(&ScheduleConfig::default()).unwrap();
        assert!(!schedule.is_started());
        schedule.resume(JobKind::Daily, at("2024-01-01T00:00:00Z"));
        assert!(schedule.is_started());
        let mut fresh = Schedule::new(&ScheduleConfig::default()).unwrap();
        fresh.start(at("2024-01-01T00:00:00Z"));
        assert!(fresh.is_started());
    }

    #[test]
    fn defaults_fire_daily_at_midnight_weekly_on_sunday_and_hourly() {
        let mut schedule = Schedule::new(&ScheduleConfig::default()).unwrap();
        // 2024-01-06 is a Saturday.
        schedule.start(at("2024-01-06T22:30:00Z"));
        // Several missed hours give one hourly run, the latest.
        assert_eq!(
            runs(&mut schedule, "2024-01-07T02:00:00Z"),
            ["daily@2024-01-07T00:00:00Z", "weekly@2024-01-07T02:00:00Z", "hourly@2024-01-07T02:00:00Z"]
        );
        assert!(runs(&mut schedule, "2024-01-07T02:59:59Z").is_empty());
        assert_eq!(runs(&mut schedule, "2024-01-07T03:00:00Z"), ["hourly@2024-01-07T03:00:00Z"]);
    }

    #[test]
    fn a_jump_in_time_runs_every_missed_instant_in_order() {
        let config = ScheduleConfig { hourly: "off".into(), ..ScheduleConfig::default() };
        let mut schedule = Schedule::new(&config).unwrap();
        schedule.start(at("2024-01-01T00:00:00Z"));
        let fired = runs(&mut schedule, "2024-01-04T00:00:00Z");
        assert_eq!(
            fired,
            ["daily@2024-01-02T00:00:00Z", "daily@2024-01-03T00:00:00Z", "daily@2024-01-04T00:00:00Z"]
        );
    }

    #[test]
    fn resuming_continues_after_the_last_run() {
        let config =
            ScheduleConfig { hourly: "off".into(), weekly: "off".into(), ..ScheduleConfig::default() };
        let mut schedule = Schedule::new(&config).unwrap();
        schedule.resume(JobKind::Daily, at("2024-01-02T00:00:00Z"));
        assert_eq!(runs(&mut schedule, "2024-01-03T12:00:00Z"), ["daily@2024-01-03T00:00:00Z"]);
    }

    #[test]
    fn after_downtime_each_missed_job_runs_once_at_its_latest_instant() {
        let mut schedule = Schedule::new(&ScheduleConfig::default()).unwrap();
        for kind in JobKind::ALL {
            schedule.resume(kind, at("2024-01-01T00:00:00Z"));
        }
        let mut out = Vec::new();
        schedule.catch_up(at("2024-01-20T05:30:00Z"), &mut out);
        let fired: Vec<String> =
            out.iter().map(|(ts, kind)| format!("{kind}@{}", format_timestamp(*ts))).collect();
        assert_eq!(
            fired,
            ["weekly@2024-01-14T02:00:00Z", "daily@2024-01-20T00:00:00Z", "hourly@2024-01-20T05:00:00Z"]
        );
        assert_eq!(runs(&mut schedule, "2024-01-20T06:00:00Z"), ["hourly@2024-01-20T06:00:00Z"]);
    }

    #[test]
    fn bad_expressions_are_all_reported() {
        let config =
            ScheduleConfig { daily: "every day".into(), hourly: "61 * * * *".into(), ..Default::default() };
        let problems = Schedule::new(&config).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("schedule.daily:"), "{problems:?}");
    }

    #[test]
    fn no_run_is_later_than_the_end_of_the_accepted_range() {
        let mut schedule = Schedule::new(&ScheduleConfig::default()).unwrap();
        schedule.start(at("2099-12-25T00:00:00Z"));
        let mut out = Vec::new();
        schedule.due(Timestamp(i64::MAX), &mut out);
        // Daily runs 12-26 .. 2100-01-01 (7), Sundays 12-27 (1), the first hourly (1).
        assert_eq!(out.len(), 9, "{out:?}");
        assert_eq!(out.last().map(|&(ts, _)| ts), Some(crate::timestamp::END));
        out.clear();
        schedule.due(Timestamp(i64::MAX), &mut out);
        assert!(out.is_empty(), "{out:?}");
    }
}
