//! A coarse clock for plugin budgets, and a watchdog for plugin calls that
//! do not return.
//!
//! Reading `Instant::now()` twice per call would cost more than a native
//! `decide` itself (about 30 ns each on a virtual machine), while budgets
//! are whole milliseconds. So one thread, started with the first plugin,
//! advances a millisecond counter, and a call reads it (one atomic load)
//! before and after. The same thread looks at every call in progress each
//! 100 ms: native code cannot be interrupted, so a call that runs past its
//! budget without returning is reported (once, in the log and in
//! [`stalled_calls`]) while the engine waits for it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use crate::strategy::Hook;

/// Milliseconds since the clock started.
static NOW_MS: AtomicU64 = AtomicU64::new(0);

/// Every strategy's call slot, for the watchdog.
fn slots() -> &'static Mutex<Vec<Weak<CallSlot>>> {
    static SLOTS: OnceLock<Mutex<Vec<Weak<CallSlot>>>> = OnceLock::new();
    SLOTS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Starts the clock thread once per process.
fn start() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let origin = Instant::now();
        let spawned = std::thread::Builder::new().name("siglearn-plugin-clock".into()).spawn(move || {
            let mut last_scan = 0;
            loop {
                std::thread::sleep(Duration::from_millis(1));
                let now = u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX);
                NOW_MS.store(now, Ordering::Relaxed);
                if now - last_scan >= 100 {
                    last_scan = now;
                    scan(now);
                }
            }
        });
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot start the plugin clock; plugin budgets are not checked");
        }
    });
}

/// The coarse time, in ms.
pub(super) fn now_ms() -> u64 {
    NOW_MS.load(Ordering::Relaxed)
}

/// Plugin calls running past their budget now (none when all is well).
pub fn stalled_calls() -> u64 {
    stalled(now_ms()).len() as u64
}

/// The slots whose call started before `now` minus its budget and is still
/// running, with the call's start and hook.
fn stalled(now: u64) -> Vec<(Arc<CallSlot>, u64, u64, Hook)> {
    let all: Vec<Arc<CallSlot>> =
        slots().lock().unwrap_or_else(|p| p.into_inner()).iter().filter_map(Weak::upgrade).collect();
    all.into_iter()
        .filter_map(|slot| {
            let running = slot.running.load(Ordering::Relaxed);
            let (since, hook) =
                (running.checked_sub(1)? >> 3, HOOKS[((running - 1) & 7) as usize % HOOKS.len()]);
            (now.saturating_sub(since) > slot.budget(hook)).then_some((slot, running, since, hook))
        })
        .collect()
}

/// What one strategy is running: `0` when idle, else the start time in ms
/// shifted left 3 bits with the hook in the low bits, plus one.
#[derive(Debug)]
pub(super) struct CallSlot {
    strategy: String,
    running: AtomicU64,
    budgets: [u64; 2],
    /// The `running` value last reported as stalled.
    reported: AtomicU64,
}

const HOOKS: [Hook; 7] = Hook::ALL;

impl CallSlot {
    /// A slot for `strategy`, with its hot and job budgets in ms.
    pub(super) fn new(strategy: &str, hot_ms: u64, job_ms: u64) -> Arc<CallSlot> {
        start();
        let slot = Arc::new(CallSlot {
            strategy: strategy.to_owned(),
            running: AtomicU64::new(0),
            budgets: [hot_ms, job_ms],
            reported: AtomicU64::new(0),
        });
        let mut all = slots().lock().unwrap_or_else(|p| p.into_inner());
        all.retain(|w| w.strong_count() > 0);
        all.push(Arc::downgrade(&slot));
        slot
    }

    /// Runs `call` as `hook`, visible to the watchdog while it runs, and
    /// how long it took, in ms.
    #[inline]
    pub(super) fn run<T>(&self, hook: Hook, call: impl FnOnce() -> T) -> (T, u64) {
        let started = now_ms();
        self.enter(hook, started);
        let result = call();
        self.leave();
        (result, now_ms() - started)
    }

    /// Marks `hook` as running since `now`.
    fn enter(&self, hook: Hook, now: u64) {
        let code = HOOKS.iter().position(|h| *h == hook).unwrap_or(0) as u64;
        self.running.store(((now << 3) | code) + 1, Ordering::Relaxed);
    }

    /// Marks the call as returned.
    fn leave(&self) {
        self.running.store(0, Ordering::Relaxed);
    }

    /// The budget of `hook`, in ms.
    pub(super) fn budget(&self, hook: Hook) -> u64 {
        if matches!(hook, Hook::Decide | Hook::Learn) { self.budgets[0] } else { self.budgets[1] }
    }
}

/// Reports every call that is past its budget and still running, once.
fn scan(now: u64) {
    for (slot, running, since, hook) in stalled(now) {
        if slot.reported.swap(running, Ordering::Relaxed) != running {
            tracing::error!(
                strategy = %slot.strategy,
                %hook,
                running_ms = now - since,
                budget_ms = slot.budget(hook),
                "a plugin call is past its budget and has not returned; native code cannot be \
                 interrupted, so the engine waits for it (fix or remove the plugin and restart)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_past_its_budget_is_seen_as_stalled_until_it_returns() {
        // Times far past the real clock, so the clock thread's own scans
        // never find this slot stalled.
        let t = 1_u64 << 40;
        let slot = CallSlot::new("stuck", 5, 50);
        slot.enter(Hook::Learn, t);
        scan(t + 4);
        assert_eq!(slot.reported.load(Ordering::Relaxed), 0, "within budget");
        scan(t + 10);
        assert_ne!(slot.reported.load(Ordering::Relaxed), 0, "reported once");
        assert!(stalled(t + 10).iter().any(|(s, ..)| Arc::ptr_eq(s, &slot)));
        slot.leave();
        assert!(!stalled(t + 10).iter().any(|(s, ..)| Arc::ptr_eq(s, &slot)), "returned");
        slot.enter(Hook::Retrain, t + 1_000);
        assert_eq!(slot.budget(Hook::Retrain), 50);
        assert_eq!((slot.running.load(Ordering::Relaxed) - 1) >> 3, t + 1_000);
        slot.leave();
    }
}
