//! The one place a Rhai engine for strategies is built and hardened.
//!
//! Limits: operations, call depth, expression depth, string, array and map
//! sizes, variables, printed lines, no modules, no `eval`. Each call also gets a budget of
//! operations and wall time, checked from Rhai's progress callback: tight for
//! the per-signal hooks (`decide`, `learn`), generous for jobs. Operation
//! budgets are deterministic; the time budget is the one guard that depends
//! on the machine, a safety net set far above what a normal call takes. A
//! replay turns time budgets off ([`Limits::without_time_budgets`]) so that
//! its output never depends on how fast or loaded the machine is; a hit of
//! either budget names which one it was.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rhai::module_resolvers::DummyModuleResolver;
use rhai::{Dynamic, Engine};
use serde::Deserialize;

use super::{helpers, learning, types};

/// Resource limits of strategy scripts.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Operations one `decide` or `learn` call may run.
    pub hot_operations: u64,
    /// Operations one `init`, `daily`, `retrain`, `params` or `migrate` call may run.
    pub job_operations: u64,
    /// Wall time one `decide` or `learn` call may take, in milliseconds.
    pub hot_millis: u64,
    /// Wall time one job hook call may take, in milliseconds.
    pub job_millis: u64,
    /// Deepest function-call nesting.
    pub call_levels: usize,
    /// Longest string, in bytes.
    pub string_size: usize,
    /// Most elements of one array.
    pub array_size: usize,
    /// Most entries of one object map.
    pub map_size: usize,
    /// Whether the wall-time budgets apply (the daemon); a replay runs on
    /// operation budgets alone. Not a configuration key.
    #[serde(skip)]
    pub time_budgets: bool,
    /// Lines one hook call may `print` (or `debug`) to the log; the rest are
    /// counted and said in one line when the call returns.
    pub print_lines: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            hot_operations: 100_000,
            job_operations: 50_000_000,
            hot_millis: 250,
            job_millis: 30_000,
            call_levels: 32,
            string_size: 64 * 1024,
            array_size: 100_000,
            map_size: 100_000,
            time_budgets: true,
            print_lines: 20,
        }
    }
}

impl Limits {
    /// These limits with the wall-time budgets off: operation budgets alone
    /// decide, so results are the same on any machine.
    pub fn without_time_budgets(self) -> Self {
        Limits { time_budgets: false, ..self }
    }

    /// The wall-time budgets in ms, hot and job: as configured, or never
    /// (`u64::MAX`) when time budgets are off. Script and plugin calls both
    /// read their budgets here.
    pub fn time_budget_millis(&self) -> (u64, u64) {
        match self.time_budgets {
            true => (self.hot_millis, self.job_millis),
            false => (u64::MAX, u64::MAX),
        }
    }

    /// Every problem with the limits, or none.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, value) in [
            ("hot_operations", self.hot_operations),
            ("job_operations", self.job_operations),
            ("hot_millis", self.hot_millis),
            ("job_millis", self.job_millis),
        ] {
            if value == 0 {
                problems.push(format!("limits.{name} must be above 0"));
            }
        }
        if self.hot_operations > self.job_operations {
            problems.push("limits.hot_operations must not exceed limits.job_operations".to_owned());
        }
        problems
    }
}

/// Which budget a call runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Budget {
    Hot,
    Job,
}

/// The longest printed line logged whole, in bytes; a longer one is cut.
pub const PRINT_LINE_BYTES: usize = 1024;

/// The budget of the call in progress, shared with the progress, print and
/// debug callbacks.
#[derive(Debug)]
pub(crate) struct CallBudget {
    started: Instant,
    operations: AtomicU64,
    deadline_nanos: AtomicU64,
    /// Lines this call may still print.
    prints_left: AtomicU64,
    /// Lines this call printed past its allowance.
    prints_dropped: AtomicU64,
}

impl CallBudget {
    fn new() -> Self {
        CallBudget {
            started: Instant::now(),
            operations: AtomicU64::new(0),
            deadline_nanos: AtomicU64::new(0),
            prints_left: AtomicU64::new(0),
            prints_dropped: AtomicU64::new(0),
        }
    }

    /// Arms the budget for the next call.
    pub(crate) fn arm(&self, limits: &Limits, budget: Budget) {
        let (hot_millis, job_millis) = limits.time_budget_millis();
        let (operations, millis) = match budget {
            Budget::Hot => (limits.hot_operations, hot_millis),
            Budget::Job => (limits.job_operations, job_millis),
        };
        let deadline = match millis {
            u64::MAX => u64::MAX,
            millis => u64::try_from((self.started.elapsed() + Duration::from_millis(millis)).as_nanos())
                .unwrap_or(u64::MAX),
        };
        self.operations.store(operations, Ordering::Relaxed);
        self.deadline_nanos.store(deadline, Ordering::Relaxed);
        self.prints_left.store(limits.print_lines, Ordering::Relaxed);
        self.prints_dropped.store(0, Ordering::Relaxed);
    }

    /// `text` as it may be logged, or `None` when the call has printed
    /// all it may (counted).
    fn print<'t>(&self, text: &'t str) -> Option<std::borrow::Cow<'t, str>> {
        let allowed =
            self.prints_left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok();
        if !allowed {
            self.prints_dropped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        if text.len() <= PRINT_LINE_BYTES {
            return Some(text.into());
        }
        let mut cut = PRINT_LINE_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        Some(format!("{}... ({} more bytes cut)", &text[..cut], text.len() - cut).into())
    }

    /// How many lines the last call printed past its allowance.
    pub(crate) fn prints_dropped(&self) -> u64 {
        self.prints_dropped.load(Ordering::Relaxed)
    }

    /// `Some(budget)` once the call has used up one of its budgets.
    fn exceeded(&self, operations: u64) -> Option<Exceeded> {
        if operations > self.operations.load(Ordering::Relaxed) {
            return Some(Exceeded::Operations);
        }
        // Reading the clock costs more than an operation: look every 1024.
        let deadline = self.deadline_nanos.load(Ordering::Relaxed);
        if operations % 1024 == 0 && deadline != u64::MAX {
            let now = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            if now > deadline {
                return Some(Exceeded::Time);
            }
        }
        None
    }
}

/// Which budget of a call ran out: the progress callback stops the call
/// with it, and [`Limits::exceeded`] says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exceeded {
    Operations,
    Time,
}

impl Limits {
    /// What a call of `hook` under `budget` says when it runs out of it:
    /// the budget (`operation budget exceeded` / `time budget exceeded`),
    /// the hook, the limit, and the key that raises it.
    pub(crate) fn exceeded(
        &self,
        exceeded: Exceeded,
        budget: Budget,
        hook: impl std::fmt::Display,
    ) -> String {
        let (what, key, value, unit) = match (exceeded, budget) {
            (Exceeded::Operations, Budget::Hot) => {
                ("operation", "hot_operations", self.hot_operations, "operations")
            }
            (Exceeded::Operations, Budget::Job) => {
                ("operation", "job_operations", self.job_operations, "operations")
            }
            (Exceeded::Time, Budget::Hot) => ("time", "hot_millis", self.hot_millis, "ms of wall time"),
            (Exceeded::Time, Budget::Job) => ("time", "job_millis", self.job_millis, "ms of wall time"),
        };
        format!(
            "{what} budget exceeded ({value} {unit}) in {hook}; simplify the hook, or raise limits.{key} \
             (the [limits] section of the config)"
        )
    }
}

/// A hardened engine with siglearn's types and helpers registered, and the
/// budget its progress callback enforces.
pub(crate) fn build(limits: &Limits, strategy: &str) -> (Engine, Arc<CallBudget>) {
    let mut engine = Engine::new();
    engine
        .set_max_operations(limits.job_operations.max(limits.hot_operations))
        .set_max_call_levels(limits.call_levels)
        .set_max_expr_depths(64, 32)
        .set_max_string_size(limits.string_size)
        .set_max_array_size(limits.array_size)
        .set_max_map_size(limits.map_size)
        .set_max_variables(1_000)
        .set_max_functions(1_000)
        .set_max_modules(0)
        .set_module_resolver(DummyModuleResolver::new())
        .set_strict_variables(true)
        .disable_symbol("eval");
    let budget = Arc::new(CallBudget::new());
    let watched = Arc::clone(&budget);
    engine.on_progress(move |operations| watched.exceeded(operations).map(Dynamic::from));
    let (name, printing) = (strategy.to_owned(), Arc::clone(&budget));
    engine.on_print(move |text| {
        if let Some(text) = printing.print(text) {
            tracing::info!(strategy = %name, "{text}");
        }
    });
    let (name, printing) = (strategy.to_owned(), Arc::clone(&budget));
    engine.on_debug(move |text, _, position| {
        if let Some(text) = printing.print(text) {
            tracing::debug!(strategy = %name, %position, "{text}");
        }
    });
    types::register(&mut engine);
    helpers::register(&mut engine);
    learning::register(&mut engine);
    (engine, budget)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_budget_names_itself_and_untimed_calls_never_read_the_clock() {
        let budget = CallBudget::new();
        let limits = Limits::default();
        budget.arm(&limits, Budget::Hot);
        assert_eq!(budget.exceeded(limits.hot_operations + 1), Some(Exceeded::Operations));
        // A deadline already passed: the time budget, named as such.
        budget.deadline_nanos.store(0, Ordering::Relaxed);
        assert_eq!(budget.exceeded(1024), Some(Exceeded::Time));
        // Without time budgets the deadline is never, however late it is.
        budget.arm(&limits.without_time_budgets(), Budget::Hot);
        assert_eq!(budget.deadline_nanos.load(Ordering::Relaxed), u64::MAX);
        assert_eq!(budget.exceeded(1024), None);
    }

    #[test]
    fn a_call_prints_its_allowance_then_counts_and_long_lines_are_cut() {
        let budget = CallBudget::new();
        let limits = Limits { print_lines: 2, ..Limits::default() };
        budget.arm(&limits, Budget::Hot);
        assert_eq!(budget.print("one").as_deref(), Some("one"));
        // 1,023 ASCII bytes, then a 2-byte character across the 1,024 mark.
        let long = format!("{}é{}", "a".repeat(1023), "b".repeat(10));
        let cut = budget.print(&long).unwrap();
        assert_eq!(cut, format!("{}... (12 more bytes cut)", "a".repeat(1023)));
        assert_eq!(budget.print("three"), None);
        assert_eq!(budget.print("four"), None);
        assert_eq!(budget.prints_dropped(), 2);
        // The next call starts afresh.
        budget.arm(&limits, Budget::Job);
        assert_eq!((budget.print("again").as_deref(), budget.prints_dropped()), (Some("again"), 0));
    }
}
