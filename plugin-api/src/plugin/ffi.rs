//! The C ABI between the host and a native strategy, and the only module of
//! plugin-api with `unsafe` code.
//!
//! What crosses: `#[repr(C)]` borrowed views of a signal, an outcome, a day
//! summary and a training history, built by the host for the length of one
//! call (no JSON and no allocation on the per-call path); byte slices the
//! host lends (params, states); [`RBuffer`]s the plugin allocates (states,
//! error messages) and frees again through [`VTable::free_buffer`]. A plugin
//! exports one symbol, [`ENTRY_SYMBOL`], returning a `'static` [`VTable`]
//! whose [`Header`] comes first and never changes layout, so any host can
//! read the ABI version and build of any plugin before trusting the rest.
//!
//! Every thunk runs the strategy inside `catch_unwind`: a panic becomes the
//! status [`PANIC`] with its message, and never unwinds into the host.

#![allow(unsafe_code)]

use std::ffi::c_void;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{Error, Strategy, Verdict};
use crate::{Outcome, OutcomeKind, Side, Signal};

/// The version of this ABI. A host loads only plugins built against the
/// same version; it changes whenever a type below changes layout.
pub const ABI_VERSION: u32 = 1;

/// The one symbol a plugin exports: `extern "C" fn() -> *const VTable`.
pub const ENTRY_SYMBOL: &str = "siglearn_strategy_entry";

/// The call succeeded.
pub const OK: u32 = 0;
/// The strategy returned an error; the error buffer holds its message.
pub const ERROR: u32 = 1;
/// The strategy panicked; the error buffer holds the panic message.
pub const PANIC: u32 = 2;

/// Bit of [`VTable::hooks`]: the strategy has a `daily` hook.
pub const HOOK_DAILY: u32 = 1;
/// Bit of [`VTable::hooks`]: the strategy has a `retrain` hook.
pub const HOOK_RETRAIN: u32 = 1 << 1;
/// Bit of [`VTable::hooks`]: the strategy declares a parameter space.
pub const HOOK_PARAMS: u32 = 1 << 2;

/// A borrowed UTF-8 string.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RStr<'a> {
    ptr: *const u8,
    len: usize,
    _borrow: PhantomData<&'a str>,
}

impl<'a> RStr<'a> {
    /// Borrows `text`; the only way to make an `RStr`.
    pub const fn new(text: &'a str) -> Self {
        RStr { ptr: text.as_ptr(), len: text.len(), _borrow: PhantomData }
    }

    pub fn as_str(&self) -> &'a str {
        // SAFETY: `new` is the only constructor, so ptr/len come from a
        // `&'a str` that outlives `'a`: valid, initialised UTF-8.
        unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(self.ptr, self.len)) }
    }
}

impl std::fmt::Debug for RStr<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A borrowed slice.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RSlice<'a, T> {
    ptr: *const T,
    len: usize,
    _borrow: PhantomData<&'a [T]>,
}

impl<T> std::fmt::Debug for RSlice<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RSlice(len {})", self.len)
    }
}

impl<'a, T> RSlice<'a, T> {
    /// Borrows `items`; the only way to make an `RSlice`.
    pub const fn new(items: &'a [T]) -> Self {
        RSlice { ptr: items.as_ptr(), len: items.len(), _borrow: PhantomData }
    }

    pub fn as_slice(&self) -> &'a [T] {
        // SAFETY: `new` is the only constructor, so ptr/len come from a
        // `&'a [T]` that outlives `'a`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// An optional value; `value` is meaningless when `is_some` is false.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ROption<T> {
    is_some: bool,
    value: T,
}

impl<T: Copy> ROption<T> {
    fn new(value: Option<T>, none: T) -> Self {
        match value {
            Some(value) => ROption { is_some: true, value },
            None => ROption { is_some: false, value: none },
        }
    }

    fn get(&self) -> Option<T> {
        self.is_some.then_some(self.value)
    }
}

/// One named value (a head vote or an indicator value).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NamedValue<'a> {
    pub name: RStr<'a>,
    pub value: f64,
}

impl<'a> NamedValue<'a> {
    /// The values of `values`, in their (name) order.
    pub fn all(values: &'a crate::Values) -> impl ExactSizeIterator<Item = NamedValue<'a>> + 'a {
        values.iter().map(|(name, value)| NamedValue { name: RStr::new(name), value })
    }
}

/// A signal's head votes or indicator values, sorted by name.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ValuesRef<'a>(RSlice<'a, NamedValue<'a>>);

impl<'a> ValuesRef<'a> {
    pub fn len(&self) -> usize {
        self.0.len
    }

    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }

    /// `(name, value)` pairs in name order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&'a str, f64)> + 'a {
        self.0.as_slice().iter().map(|v| (v.name.as_str(), v.value))
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        let items = self.0.as_slice();
        items.binary_search_by(|v| v.name.as_str().cmp(name)).ok().map(|i| items[i].value)
    }

    /// The sum of the values, in name order.
    pub fn sum(&self) -> f64 {
        self.iter().map(|(_, value)| value).sum()
    }
}

impl std::fmt::Debug for ValuesRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Space for the named values of one signal as the ABI lays them out,
/// reused from call to call so that lending a signal allocates nothing.
#[derive(Debug, Default)]
pub struct SignalScratch {
    heads: Vec<NamedValue<'static>>,
    indicators: Vec<NamedValue<'static>>,
}

/// Fills a recycled (empty) vector with the values of `values`.
fn lend<'a>(values: &'a crate::Values, spare: Vec<NamedValue<'static>>) -> Vec<NamedValue<'a>> {
    let mut out: Vec<NamedValue<'a>> = spare;
    out.extend(NamedValue::all(values));
    out
}

/// Gives a lent vector's allocation back for the next call, empty:
/// collecting an emptied `IntoIter` into a vector of the same layout reuses
/// its allocation, and only the borrow's lifetime changes.
#[allow(clippy::unnecessary_filter_map)] // `filter` could not change the lifetime
fn recycle(lent: Vec<NamedValue<'_>>) -> Vec<NamedValue<'static>> {
    lent.into_iter().filter_map(|_| None).collect()
}

impl SignalScratch {
    /// Lends `signal` as a [`SignalRef`] to `call`.
    pub fn with<R>(&mut self, signal: &Signal, call: impl FnOnce(&SignalRef<'_>) -> R) -> R {
        let heads = lend(&signal.heads, std::mem::take(&mut self.heads));
        let indicators = lend(&signal.indicators, std::mem::take(&mut self.indicators));
        let result = call(&SignalRef::new(signal, &heads, &indicators));
        self.heads = recycle(heads);
        self.indicators = recycle(indicators);
        result
    }
}

/// A signal as a plugin sees it, borrowed for one call.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct SignalRef<'a> {
    id: RStr<'a>,
    symbol: RStr<'a>,
    /// +1 long, -1 short.
    side: i32,
    entry_ts: i64,
    entry_price: f64,
    take_profit: ROption<f64>,
    stop_loss: ROption<f64>,
    max_hold_ms: ROption<i64>,
    confidence: ROption<f64>,
    pattern: ROption<RStr<'a>>,
    regime: ROption<RStr<'a>>,
    heads: ValuesRef<'a>,
    indicators: ValuesRef<'a>,
}

impl<'a> SignalRef<'a> {
    /// Borrows `signal`, with its head votes and indicator values already
    /// laid out (see [`SignalScratch`]).
    pub fn new(signal: &'a Signal, heads: &'a [NamedValue<'a>], indicators: &'a [NamedValue<'a>]) -> Self {
        let text = |value: &'a Option<String>| ROption::new(value.as_deref().map(RStr::new), RStr::new(""));
        SignalRef {
            id: RStr::new(signal.id.as_str()),
            symbol: RStr::new(signal.symbol.as_str()),
            side: signal.side.sign() as i32,
            entry_ts: signal.entry_ts.as_millis(),
            entry_price: signal.entry_price,
            take_profit: ROption::new(signal.take_profit, 0.0),
            stop_loss: ROption::new(signal.stop_loss, 0.0),
            max_hold_ms: ROption::new(signal.max_hold_ms, 0),
            confidence: ROption::new(signal.confidence, 0.0),
            pattern: text(&signal.pattern),
            regime: text(&signal.regime),
            heads: ValuesRef(RSlice::new(heads)),
            indicators: ValuesRef(RSlice::new(indicators)),
        }
    }

    pub fn id(&self) -> &'a str {
        self.id.as_str()
    }

    pub fn symbol(&self) -> &'a str {
        self.symbol.as_str()
    }

    pub fn side(&self) -> Side {
        if self.side >= 0 { Side::Long } else { Side::Short }
    }

    /// +1.0 for long, -1.0 for short.
    pub fn side_sign(&self) -> f64 {
        if self.side >= 0 { 1.0 } else { -1.0 }
    }

    /// Entry time, ms since the Unix epoch (UTC).
    pub fn entry_ts(&self) -> i64 {
        self.entry_ts
    }

    pub fn entry_price(&self) -> f64 {
        self.entry_price
    }

    pub fn take_profit(&self) -> Option<f64> {
        self.take_profit.get()
    }

    pub fn stop_loss(&self) -> Option<f64> {
        self.stop_loss.get()
    }

    pub fn max_hold_ms(&self) -> Option<i64> {
        self.max_hold_ms.get()
    }

    pub fn confidence(&self) -> Option<f64> {
        self.confidence.get()
    }

    pub fn pattern(&self) -> Option<&'a str> {
        self.pattern.get().map(|text| text.as_str())
    }

    pub fn regime(&self) -> Option<&'a str> {
        self.regime.get().map(|text| text.as_str())
    }

    /// Head votes in `[-1, 1]`, by head name.
    pub fn heads(&self) -> ValuesRef<'a> {
        self.heads
    }

    /// Indicator values, by indicator name.
    pub fn indicators(&self) -> ValuesRef<'a> {
        self.indicators
    }
}

impl std::fmt::Debug for SignalRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalRef")
            .field("id", &self.id())
            .field("symbol", &self.symbol())
            .field("side", &self.side())
            .field("heads", &self.heads)
            .finish_non_exhaustive()
    }
}

/// An outcome as a plugin sees it, borrowed for one call.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct OutcomeRef<'a> {
    signal_id: RStr<'a>,
    /// 0 take-profit, 1 stop-loss, 2 time exit.
    kind: u32,
    exit_ts: i64,
    exit_price: f64,
    pnl_pct: f64,
    holding_ms: i64,
    ambiguous: bool,
    mfe_pct: f64,
    mae_pct: f64,
}

impl<'a> OutcomeRef<'a> {
    pub fn new(outcome: &'a Outcome) -> Self {
        OutcomeRef {
            signal_id: RStr::new(outcome.signal_id.as_str()),
            kind: match outcome.kind {
                OutcomeKind::TpHit => 0,
                OutcomeKind::SlHit => 1,
                OutcomeKind::TimeExit => 2,
            },
            exit_ts: outcome.exit_ts.as_millis(),
            exit_price: outcome.exit_price,
            pnl_pct: outcome.pnl_pct,
            holding_ms: outcome.holding_ms,
            ambiguous: outcome.ambiguous,
            mfe_pct: outcome.mfe_pct,
            mae_pct: outcome.mae_pct,
        }
    }

    pub fn signal_id(&self) -> &'a str {
        self.signal_id.as_str()
    }

    pub fn kind(&self) -> OutcomeKind {
        match self.kind {
            0 => OutcomeKind::TpHit,
            1 => OutcomeKind::SlHit,
            _ => OutcomeKind::TimeExit,
        }
    }

    /// True when the trade made money (`pnl_pct > 0`).
    pub fn is_win(&self) -> bool {
        self.pnl_pct > 0.0
    }

    pub fn exit_ts(&self) -> i64 {
        self.exit_ts
    }

    pub fn exit_price(&self) -> f64 {
        self.exit_price
    }

    /// Return in percent of the entry price, after fees.
    pub fn pnl_pct(&self) -> f64 {
        self.pnl_pct
    }

    pub fn holding_ms(&self) -> i64 {
        self.holding_ms
    }

    pub fn ambiguous(&self) -> bool {
        self.ambiguous
    }

    pub fn mfe_pct(&self) -> f64 {
        self.mfe_pct
    }

    pub fn mae_pct(&self) -> f64 {
        self.mae_pct
    }
}

impl std::fmt::Debug for OutcomeRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutcomeRef")
            .field("signal_id", &self.signal_id())
            .field("kind", &self.kind())
            .field("pnl_pct", &self.pnl_pct)
            .finish_non_exhaustive()
    }
}

/// What the daily job tells a strategy about the day that ended.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DailyRef<'a> {
    date: RStr<'a>,
    pub signals: u64,
    pub taken: u64,
    pub trades: u64,
    pub wins: u64,
    pub pnl_pct: f64,
    pub win_rate: f64,
}

impl<'a> DailyRef<'a> {
    pub fn new(
        date: &'a str,
        signals: u64,
        taken: u64,
        trades: u64,
        wins: u64,
        pnl_pct: f64,
        win_rate: f64,
    ) -> Self {
        DailyRef { date: RStr::new(date), signals, taken, trades, wins, pnl_pct, win_rate }
    }

    /// The UTC day, `YYYY-MM-DD`.
    pub fn date(&self) -> &'a str {
        self.date.as_str()
    }
}

/// One closed signal of a retraining window.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct HistoryRef<'a> {
    signal: SignalRef<'a>,
    outcome: OutcomeRef<'a>,
    taken: bool,
}

impl<'a> HistoryRef<'a> {
    pub fn new(signal: SignalRef<'a>, outcome: OutcomeRef<'a>, taken: bool) -> Self {
        HistoryRef { signal, outcome, taken }
    }

    pub fn signal(&self) -> &SignalRef<'a> {
        &self.signal
    }

    pub fn outcome(&self) -> &OutcomeRef<'a> {
        &self.outcome
    }

    /// Whether this strategy took the signal.
    pub fn taken(&self) -> bool {
        self.taken
    }
}

/// Bytes a plugin allocated and hands to the host, which gives them back
/// through [`VTable::free_buffer`] (the allocator that made them frees them).
#[repr(C)]
#[derive(Debug)]
pub struct RBuffer {
    ptr: *mut u8,
    len: usize,
    capacity: usize,
}

impl RBuffer {
    /// No bytes; freeing it is a no-op.
    pub const EMPTY: RBuffer = RBuffer { ptr: std::ptr::null_mut(), len: 0, capacity: 0 };

    fn from_vec(bytes: Vec<u8>) -> Self {
        let mut bytes = std::mem::ManuallyDrop::new(bytes);
        RBuffer { ptr: bytes.as_mut_ptr(), len: bytes.len(), capacity: bytes.capacity() }
    }

    /// True when nothing was allocated (freeing it is a no-op).
    pub fn is_unallocated(&self) -> bool {
        self.ptr.is_null()
    }

    /// The bytes. Only meaningful for a buffer a plugin filled in, while it
    /// has not been freed.
    pub fn bytes(&self) -> &[u8] {
        if self.ptr.is_null() {
            return &[];
        }
        // SAFETY: a non-null buffer was made by `from_vec` in the plugin and
        // is not freed while borrowed: ptr/len describe its initialised bytes.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// What a plugin says about its build; read before anything else.
#[repr(C)]
#[derive(Debug)]
pub struct BuildInfo {
    /// The version of siglearn-plugin-api the plugin was built with.
    pub plugin_api_version: RStr<'static>,
    /// `rustc --version` of the compiler that built it.
    pub rustc_version: RStr<'static>,
    /// The type exported (`export_strategy!(HeadWeights)`: "HeadWeights").
    pub strategy: RStr<'static>,
    /// False when built with `panic = "abort"`: a panic would then end the
    /// host instead of becoming an error, so the host refuses the plugin.
    pub panic_unwind: bool,
}

impl BuildInfo {
    /// The build info of code compiled with this crate.
    pub const fn current(strategy: &'static str) -> Self {
        BuildInfo {
            plugin_api_version: RStr::new(env!("CARGO_PKG_VERSION")),
            rustc_version: RStr::new(env!("SIGLEARN_RUSTC_VERSION")),
            strategy: RStr::new(strategy),
            panic_unwind: cfg!(panic = "unwind"),
        }
    }
}

/// The part of every vtable that never changes layout, whatever the ABI
/// version: a host reads this, and only this, before checking the version.
#[repr(C)]
#[derive(Debug)]
pub struct Header {
    pub abi_version: u32,
    pub build: BuildInfo,
}

// SAFETY: a header holds `&'static str` views and plain values; nothing in it
// is ever written after construction.
unsafe impl Sync for Header {}

/// A strategy instance inside the plugin, opaque to the host.
pub type Instance = *mut c_void;

/// Makes an instance from JSON bytes (params, a state or an old state).
pub type CreateFn =
    unsafe extern "C" fn(json: RSlice<'_, u8>, out: *mut Instance, error: *mut RBuffer) -> u32;

/// The functions of a strategy, as [`export_strategy!`](crate::export_strategy)
/// generates them. Every function taking an [`Instance`] needs one made by
/// `init`, `restore` or `migrate` and not yet dropped; every buffer written
/// to `out` or `error` is the caller's to free with `free_buffer`.
#[repr(C)]
#[derive(Debug)]
pub struct VTable {
    pub header: Header,
    /// `HOOK_*` bits.
    pub hooks: u32,
    /// `init(params)`: params as a JSON object.
    pub init: CreateFn,
    /// An instance holding a state saved by `snapshot`.
    pub restore: CreateFn,
    /// An instance taking over the state of another build of the strategy.
    pub migrate: CreateFn,
    pub drop: unsafe extern "C" fn(instance: Instance),
    pub decide: unsafe extern "C" fn(
        instance: Instance,
        signal: *const SignalRef<'_>,
        out: *mut Verdict,
        error: *mut RBuffer,
    ) -> u32,
    pub learn: unsafe extern "C" fn(
        instance: Instance,
        signal: *const SignalRef<'_>,
        outcome: *const OutcomeRef<'_>,
        error: *mut RBuffer,
    ) -> u32,
    pub daily:
        unsafe extern "C" fn(instance: Instance, summary: *const DailyRef<'_>, error: *mut RBuffer) -> u32,
    /// A candidate state (JSON) trained on `history`; the instance is unchanged.
    pub retrain: unsafe extern "C" fn(
        instance: Instance,
        history: RSlice<'_, HistoryRef<'_>>,
        out: *mut RBuffer,
        error: *mut RBuffer,
    ) -> u32,
    /// The parameter space (JSON), or an empty buffer when there is none.
    pub params: unsafe extern "C" fn(out: *mut RBuffer, error: *mut RBuffer) -> u32,
    /// The state as JSON.
    pub snapshot: unsafe extern "C" fn(instance: Instance, out: *mut RBuffer, error: *mut RBuffer) -> u32,
    pub free_buffer: unsafe extern "C" fn(buffer: RBuffer),
}

// SAFETY: see `Header`; the rest are function pointers.
unsafe impl Sync for VTable {}

impl VTable {
    /// The vtable of `S`; `name` is how the type is spelled in the macro.
    pub const fn of<S: Strategy>(name: &'static str) -> VTable {
        let mut hooks = 0;
        if S::DAILY {
            hooks |= HOOK_DAILY;
        }
        if S::RETRAIN {
            hooks |= HOOK_RETRAIN;
        }
        if S::PARAMS {
            hooks |= HOOK_PARAMS;
        }
        VTable {
            header: Header { abi_version: ABI_VERSION, build: BuildInfo::current(name) },
            hooks,
            init: init::<S>,
            restore: restore::<S>,
            migrate: migrate::<S>,
            drop: drop_instance::<S>,
            decide: decide::<S>,
            learn: learn::<S>,
            daily: daily::<S>,
            retrain: retrain::<S>,
            params: params::<S>,
            snapshot: snapshot::<S>,
            free_buffer,
        }
    }
}

/// Runs `body` so that nothing unwinds out of it: an error or a panic
/// becomes a status and a message in `error`.
fn guarded(error: *mut RBuffer, body: impl FnOnce() -> Result<(), Error>) -> u32 {
    let (status, message) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return OK,
        Ok(Err(failure)) => (ERROR, failure.to_string()),
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|text| (*text).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            // Dropping a payload can itself panic; it must not escape.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            (PANIC, message)
        }
    };
    if !error.is_null() {
        // SAFETY: the host passes a valid, writable slot for the message.
        unsafe { error.write(RBuffer::from_vec(message.into_bytes())) };
    }
    status
}

fn json(bytes: RSlice<'_, u8>) -> Result<serde_json::Value, Error> {
    serde_json::from_slice(bytes.as_slice())
        .map_err(|e| Error::new(format!("the host sent JSON that does not parse: {e}")))
}

fn create<S: Strategy>(
    bytes: RSlice<'_, u8>,
    out: *mut Instance,
    error: *mut RBuffer,
    make: impl FnOnce(&serde_json::Value) -> Result<S, Error>,
) -> u32 {
    guarded(error, || {
        let strategy = make(&json(bytes)?)?;
        let instance = Box::into_raw(Box::new(strategy)).cast::<c_void>();
        // SAFETY: the host passes a valid, writable slot for the instance.
        unsafe { out.write(instance) };
        Ok(())
    })
}

unsafe extern "C" fn init<S: Strategy>(json: RSlice<'_, u8>, out: *mut Instance, error: *mut RBuffer) -> u32 {
    create(json, out, error, S::init)
}

unsafe extern "C" fn restore<S: Strategy>(
    json: RSlice<'_, u8>,
    out: *mut Instance,
    error: *mut RBuffer,
) -> u32 {
    create(json, out, error, S::restore)
}

unsafe extern "C" fn migrate<S: Strategy>(
    json: RSlice<'_, u8>,
    out: *mut Instance,
    error: *mut RBuffer,
) -> u32 {
    create(json, out, error, S::migrate)
}

/// The strategy behind an instance.
///
/// # Safety
/// `instance` was made by `create::<S>` and is neither dropped nor borrowed
/// elsewhere for `'a`.
unsafe fn strategy<'a, S>(instance: Instance) -> &'a mut S {
    // SAFETY: as the function's contract says.
    unsafe { &mut *instance.cast::<S>() }
}

unsafe extern "C" fn drop_instance<S: Strategy>(instance: Instance) {
    let _ = guarded(std::ptr::null_mut(), || {
        // SAFETY: the host drops each instance it made exactly once.
        drop(unsafe { Box::from_raw(instance.cast::<S>()) });
        Ok(())
    });
}

unsafe extern "C" fn decide<S: Strategy>(
    instance: Instance,
    signal: *const SignalRef<'_>,
    out: *mut Verdict,
    error: *mut RBuffer,
) -> u32 {
    guarded(error, || {
        // SAFETY: a live instance (VTable contract) and a signal lent for this call.
        let (strategy, signal) = unsafe { (strategy::<S>(instance), &*signal) };
        let verdict = strategy.decide(signal)?;
        // SAFETY: the host passes a valid, writable slot for the verdict.
        unsafe { out.write(verdict) };
        Ok(())
    })
}

unsafe extern "C" fn learn<S: Strategy>(
    instance: Instance,
    signal: *const SignalRef<'_>,
    outcome: *const OutcomeRef<'_>,
    error: *mut RBuffer,
) -> u32 {
    guarded(error, || {
        // SAFETY: a live instance (VTable contract) and views lent for this call.
        let (strategy, signal, outcome) = unsafe { (strategy::<S>(instance), &*signal, &*outcome) };
        strategy.learn(signal, outcome)
    })
}

unsafe extern "C" fn daily<S: Strategy>(
    instance: Instance,
    summary: *const DailyRef<'_>,
    error: *mut RBuffer,
) -> u32 {
    guarded(error, || {
        // SAFETY: a live instance (VTable contract) and a summary lent for this call.
        let (strategy, summary) = unsafe { (strategy::<S>(instance), &*summary) };
        strategy.daily(summary)
    })
}

fn write_json(out: *mut RBuffer, value: &serde_json::Value) -> Result<(), Error> {
    let bytes = serde_json::to_vec(value).map_err(|e| Error::new(format!("the state is not JSON: {e}")))?;
    // SAFETY: the host passes a valid, writable slot for the buffer.
    unsafe { out.write(RBuffer::from_vec(bytes)) };
    Ok(())
}

unsafe extern "C" fn retrain<S: Strategy>(
    instance: Instance,
    history: RSlice<'_, HistoryRef<'_>>,
    out: *mut RBuffer,
    error: *mut RBuffer,
) -> u32 {
    guarded(error, || {
        // SAFETY: a live instance (VTable contract).
        let strategy = unsafe { strategy::<S>(instance) };
        let candidate = strategy.retrain(history.as_slice())?;
        write_json(out, &candidate.snapshot()?)
    })
}

unsafe extern "C" fn params<S: Strategy>(out: *mut RBuffer, error: *mut RBuffer) -> u32 {
    guarded(error, || match S::params() {
        Some(space) => write_json(out, &space),
        None => Ok(()),
    })
}

unsafe extern "C" fn snapshot<S: Strategy>(
    instance: Instance,
    out: *mut RBuffer,
    error: *mut RBuffer,
) -> u32 {
    guarded(error, || {
        // SAFETY: a live instance (VTable contract).
        let strategy = unsafe { strategy::<S>(instance) };
        write_json(out, &strategy.snapshot()?)
    })
}

unsafe extern "C" fn free_buffer(buffer: RBuffer) {
    if buffer.ptr.is_null() {
        return;
    }
    // SAFETY: a non-null buffer was made by `RBuffer::from_vec` in this
    // library, so these are the parts of a Vec from this allocator, freed once.
    drop(unsafe { Vec::from_raw_parts(buffer.ptr, buffer.len, buffer.capacity) });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Values;

    struct Counter(u64);

    impl Strategy for Counter {
        const RETRAIN: bool = true;

        fn init(params: &serde_json::Value) -> Result<Self, Error> {
            params["start"].as_u64().map(Counter).ok_or_else(|| "params need a start".into())
        }

        fn decide(&mut self, signal: &SignalRef<'_>) -> Result<Verdict, Error> {
            assert!(signal.symbol() != "PANIC", "told to panic");
            self.0 += 1;
            Ok(Verdict::new(signal.heads().get("b") == Some(-0.5), signal.heads().sum()))
        }

        fn snapshot(&self) -> Result<serde_json::Value, Error> {
            Ok(serde_json::json!({ "start": self.0 }))
        }

        fn restore(state: &serde_json::Value) -> Result<Self, Error> {
            Self::init(state)
        }
    }

    fn signal(symbol: &str) -> Signal {
        Signal {
            id: "s".into(),
            symbol: symbol.into(),
            side: Side::Long,
            entry_ts: crate::Timestamp(0),
            entry_price: 100.0,
            take_profit: Some(110.0),
            stop_loss: None,
            max_hold_ms: None,
            confidence: Some(0.7),
            pattern: None,
            regime: Some("trend".into()),
            heads: Values::from([("c", 0.25), ("a", 1.0), ("b", -0.5)]),
            indicators: Values::default(),
        }
    }

    /// Calls the vtable the way the host does.
    fn call(vtable: &VTable, instance: Instance, signal: &Signal) -> (u32, Verdict, String) {
        let mut scratch = SignalScratch::default();
        let mut verdict = Verdict::new(false, 0.0);
        let mut error = RBuffer::EMPTY;
        // SAFETY: a live instance; the view and both slots live through the call.
        let status =
            scratch.with(signal, |view| unsafe { (vtable.decide)(instance, view, &mut verdict, &mut error) });
        let message = String::from_utf8_lossy(error.bytes()).into_owned();
        // SAFETY: the buffer was filled by this vtable and is freed once.
        unsafe { (vtable.free_buffer)(error) };
        (status, verdict, message)
    }

    #[test]
    fn the_vtable_runs_a_strategy_and_turns_errors_and_panics_into_statuses() {
        let vtable = VTable::of::<Counter>("Counter");
        assert_eq!(vtable.header.abi_version, ABI_VERSION);
        assert_eq!(
            (vtable.header.build.strategy.as_str(), vtable.header.build.panic_unwind),
            ("Counter", true)
        );
        assert_eq!(vtable.hooks, HOOK_RETRAIN);

        let mut instance: Instance = std::ptr::null_mut();
        let mut error = RBuffer::EMPTY;
        // SAFETY: the params are lent for the call; both slots are valid.
        let status = unsafe { (vtable.init)(RSlice::new(b"{}"), &mut instance, &mut error) };
        assert_eq!((status, error.bytes()), (ERROR, &b"params need a start"[..]));
        // SAFETY: as above; the error buffer is freed once.
        unsafe { (vtable.free_buffer)(std::mem::replace(&mut error, RBuffer::EMPTY)) };
        // SAFETY: as above.
        let status = unsafe { (vtable.init)(RSlice::new(br#"{"start": 5}"#), &mut instance, &mut error) };
        assert_eq!(status, OK);

        let (status, verdict, _) = call(&vtable, instance, &signal("BTC"));
        assert_eq!((status, verdict), (OK, Verdict { take: true, score: 0.75, size: 1.0 }));
        let (status, _, message) = call(&vtable, instance, &signal("PANIC"));
        assert_eq!((status, message.as_str()), (PANIC, "told to panic"));

        let mut state = RBuffer::EMPTY;
        // SAFETY: a live instance; both slots are valid.
        assert_eq!(unsafe { (vtable.snapshot)(instance, &mut state, &mut error) }, OK);
        assert_eq!(state.bytes(), br#"{"start":6}"#, "the panicking call did not count");
        // SAFETY: each buffer and the instance are released once.
        unsafe {
            (vtable.free_buffer)(state);
            (vtable.drop)(instance);
        }
    }

    #[test]
    fn a_signal_is_lent_with_its_values_sorted_and_the_scratch_keeps_its_room() {
        let mut scratch = SignalScratch::default();
        let long = signal("BTC");
        scratch.with(&long, |view| {
            let names: Vec<&str> = view.heads().iter().map(|(name, _)| name).collect();
            assert_eq!(names, ["a", "b", "c"]);
            assert_eq!((view.heads().get("c"), view.heads().get("z")), (Some(0.25), None));
            assert_eq!(
                (view.take_profit(), view.stop_loss(), view.regime()),
                (Some(110.0), None, Some("trend"))
            );
            assert_eq!((view.side_sign(), view.confidence()), (1.0, Some(0.7)));
        });
        let room = scratch.heads.capacity();
        assert!(room >= 3);
        scratch.with(&long, |_| ());
        assert_eq!(scratch.heads.capacity(), room, "no new allocation per call");
    }
}
