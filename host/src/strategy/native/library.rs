//! Loading a plugin library and calling through its vtable: the host's only
//! `unsafe` code.
//!
//! A library is copied to a path of its own before it is opened, so a file
//! rebuilt in place really loads as new code (the dynamic loader would hand
//! back the copy it already has for a path it knows). The header is read
//! and checked before anything else. A [`Library`] lives in an `Arc`; every
//! [`Instance`] made from it holds a clone, so the code stays mapped until
//! the last instance from it is dropped, whatever was reloaded meanwhile.
//! Before that, the bytes are checked to be a whole library (headers,
//! segments and sections within the file): a file still being written is
//! refused with an error, never mapped half.

#![allow(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use siglearn_plugin_api::plugin::Verdict;
use siglearn_plugin_api::plugin::ffi::{
    self, ABI_VERSION, DailyRef, ENTRY_SYMBOL, Header, HistoryRef, OutcomeRef, RBuffer, RSlice, SignalRef,
    SignalScratch, VTable,
};
use siglearn_plugin_api::{Outcome, Signal};

/// Libraries loaded now, across the process.
static LOADED: AtomicUsize = AtomicUsize::new(0);

/// How many plugin libraries are loaded now.
pub fn loaded_libraries() -> usize {
    LOADED.load(Ordering::SeqCst)
}

/// What a plugin says about its build.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Build {
    pub abi_version: u32,
    pub plugin_api_version: String,
    pub rustc_version: String,
    /// The Rust type the library exports.
    pub strategy: String,
}

impl std::fmt::Display for Build {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (plugin ABI {}, siglearn-plugin-api {}, {})",
            self.strategy, self.abi_version, self.plugin_api_version, self.rustc_version
        )
    }
}

/// An open plugin library.
pub struct Library {
    /// Points into `library`'s data, which stays mapped as long as `self`.
    vtable: &'static VTable,
    build: Build,
    library: Option<libloading::Library>,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library").field("build", &self.build).finish_non_exhaustive()
    }
}

impl Drop for Library {
    fn drop(&mut self) {
        if let Some(library) = self.library.take() {
            let _ = library.close();
            LOADED.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// A copy of a library's bytes in a new folder of its own, with a random
/// name and readable by this user only: nobody else can swap the file
/// between writing and opening it.
fn private_copy(file_name: &str, bytes: &[u8]) -> std::io::Result<(tempfile::TempDir, PathBuf)> {
    let folder = tempfile::Builder::new().prefix("siglearn-plugin-").tempdir()?;
    let path = folder.path().join(file_name);
    std::fs::write(&path, bytes)?;
    Ok((folder, path))
}

/// Checks that `bytes` hold a whole library: its headers parse, and every
/// segment and section they name lies within the bytes. The loader maps
/// segments from the file, so a library cut short (still being copied,
/// a truncated download) would fault the process (SIGBUS) when touched
/// instead of failing to open.
pub(crate) fn check_whole(bytes: &[u8]) -> Result<(), String> {
    use object::{Object as _, ObjectSection as _, ObjectSegment as _};
    let incomplete = |what: String| {
        format!(
            "the file is not a whole library ({what}; it has {} bytes): it may still be being \
             written; copy a library to a temporary name beside it and rename it into place",
            bytes.len()
        )
    };
    if object::FileKind::parse(bytes).is_err() {
        // Not an object file at all: the loader refuses it with its reason,
        // without mapping anything.
        return Ok(());
    }
    let file = object::File::parse(bytes).map_err(|e| incomplete(e.to_string()))?;
    let length = bytes.len() as u64;
    let within = |(offset, size): (u64, u64)| offset.checked_add(size).is_some_and(|end| end <= length);
    for segment in file.segments() {
        let range = segment.file_range();
        if !within(range) {
            return Err(incomplete(format!("a segment ends at byte {}", range.0.saturating_add(range.1))));
        }
    }
    for section in file.sections() {
        if let Some(range) = section.file_range().filter(|r| !within(*r)) {
            let name = section.name().unwrap_or("?");
            return Err(incomplete(format!(
                "section {name} ends at byte {}",
                range.0.saturating_add(range.1)
            )));
        }
    }
    Ok(())
}

/// Why a library was not opened.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    /// For a passing reason of the system (out of file descriptors while
    /// copying it): opening it again later may work.
    pub transient: bool,
}

impl From<String> for Refusal {
    fn from(message: String) -> Self {
        Refusal { message, transient: false }
    }
}

impl Refusal {
    /// The private copy could not be made.
    fn copy_failed(error: &std::io::Error) -> Self {
        Refusal {
            message: format!("cannot copy the library to load it: {error}"),
            transient: crate::user_file::transient(error),
        }
    }
}

impl Library {
    /// Opens the library whose file `file_name` held `bytes`, once
    /// [`check_whole`] has found them whole.
    pub fn open(file_name: &str, bytes: &[u8]) -> Result<Arc<Library>, Refusal> {
        check_whole(bytes)?;
        let (folder, copy) = private_copy(file_name, bytes).map_err(|e| Refusal::copy_failed(&e))?;
        let opened = Self::open_copy(&copy).map_err(Refusal::from);
        // Once open, the loader has mapped the file and the copy can go (the
        // folder is removed here). On Windows an open library cannot be
        // removed, so its folder is left in the temp folder.
        if cfg!(windows) && opened.is_ok() {
            let _ = folder.keep();
        }
        opened
    }

    fn open_copy(copy: &Path) -> Result<Arc<Library>, String> {
        // SAFETY: opening a library runs its initialisers. Plugins are trusted
        // code by contract (README, "Native plugins"); nothing else is loaded here.
        let library =
            unsafe { libloading::Library::new(copy) }.map_err(|e| format!("cannot load it: {e}"))?;
        // SAFETY: the entry symbol's type is fixed by the plugin ABI (ffi::ENTRY_SYMBOL);
        // a library that exports the name with another type is not a plugin.
        let entry = unsafe { library.get::<extern "C" fn() -> *const Header>(ENTRY_SYMBOL.as_bytes()) }
            .map_err(|_| {
                format!(
                    "it does not export {ENTRY_SYMBOL}, so it is not a siglearn strategy plugin \
                     (end the plugin with export_strategy!(YourType))"
                )
            })?;
        let header = entry();
        // (On an error below, `library` is dropped and unloaded.)
        if header.is_null() {
            return Err(format!("its {ENTRY_SYMBOL} returned nothing"));
        }
        // SAFETY: every ABI version starts its vtable with a `Header`, which
        // lives in the library's static data while the library is loaded.
        let header: &'static Header = unsafe { &*header };
        let build = Build {
            abi_version: header.abi_version,
            plugin_api_version: header.build.plugin_api_version.as_str().to_owned(),
            rustc_version: header.build.rustc_version.as_str().to_owned(),
            strategy: header.build.strategy.as_str().to_owned(),
        };
        if build.abi_version != ABI_VERSION {
            return Err(format!(
                "it was built for plugin ABI {} (siglearn-plugin-api {}, {}), but this siglearn speaks \
                 plugin ABI {ABI_VERSION} (siglearn-plugin-api {}); rebuild the plugin against \
                 siglearn-plugin-api {}",
                build.abi_version,
                build.plugin_api_version,
                build.rustc_version,
                env!("CARGO_PKG_VERSION"),
                env!("CARGO_PKG_VERSION"),
            ));
        }
        if !header.build.panic_unwind {
            return Err(format!(
                "{} was built with panic = \"abort\": a panic in it would end siglearn; build it with \
                 the default panic = \"unwind\"",
                build.strategy
            ));
        }
        // SAFETY: ABI version 1 is checked: the header is the first field
        // of a `VTable` of this very layout, in the library's static data.
        let vtable = unsafe { &*std::ptr::from_ref(header).cast::<VTable>() };
        LOADED.fetch_add(1, Ordering::SeqCst);
        Ok(Arc::new(Library { vtable, build, library: Some(library) }))
    }

    pub fn build(&self) -> &Build {
        &self.build
    }

    /// Whether the strategy has the hook with this `HOOK_*` bit.
    pub fn has(&self, hook: u32) -> bool {
        self.vtable.hooks & hook != 0
    }

    /// The parameter space (JSON bytes), if the strategy declares one.
    pub(super) fn params(&self) -> Result<Option<Vec<u8>>, CallError> {
        let mut out = Owned::new(self.vtable);
        let mut error = Owned::new(self.vtable);
        // SAFETY: both slots are valid and writable; what is written is freed by `Owned`.
        let status = unsafe { (self.vtable.params)(&mut out.buffer, &mut error.buffer) };
        check(status, &error)?;
        Ok((!out.buffer.bytes().is_empty()).then(|| out.buffer.bytes().to_vec()))
    }
}

/// A failed call into a plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct CallError {
    pub(super) panicked: bool,
    pub(super) message: String,
}

/// A buffer the plugin may fill, freed by the plugin's allocator on drop.
struct Owned {
    buffer: RBuffer,
    free: unsafe extern "C" fn(RBuffer),
}

impl Owned {
    fn new(vtable: &VTable) -> Self {
        Owned { buffer: RBuffer::EMPTY, free: vtable.free_buffer }
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        if self.buffer.is_unallocated() {
            return;
        }
        let buffer = std::mem::replace(&mut self.buffer, RBuffer::EMPTY);
        // SAFETY: the buffer is empty or was filled in by this library, and
        // is freed once, by the library that allocated it.
        unsafe { (self.free)(buffer) };
    }
}

fn check(status: u32, error: &Owned) -> Result<(), CallError> {
    let message = || String::from_utf8_lossy(error.buffer.bytes()).into_owned();
    match status {
        ffi::OK => Ok(()),
        ffi::ERROR => Err(CallError { panicked: false, message: message() }),
        ffi::PANIC => Err(CallError { panicked: true, message: message() }),
        other => Err(CallError {
            panicked: false,
            message: format!("the plugin returned an unknown status {other}"),
        }),
    }
}

/// Which constructor makes an instance.
#[derive(Clone, Copy, Debug)]
pub(super) enum Make {
    /// `init(params)`.
    Init,
    /// From a saved state.
    Restore,
    /// From the state of other code.
    Migrate,
}

/// One strategy instance living in a plugin.
pub(super) struct Instance {
    library: Arc<Library>,
    instance: ffi::Instance,
    scratch: SignalScratch,
}

// SAFETY: `Strategy: Send` is required of every plugin type, so its instance
// may move to another thread; the pointer is used by one owner at a time.
unsafe impl Send for Instance {}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance").field("library", &self.library).finish_non_exhaustive()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: the instance was made by this library, is dropped once, and
        // the library stays loaded (`self.library`) until after this call.
        unsafe { (self.library.vtable.drop)(self.instance) };
    }
}

impl Instance {
    /// A new instance from JSON bytes (params or a state).
    pub(super) fn make(library: &Arc<Library>, how: Make, json: &[u8]) -> Result<Instance, CallError> {
        let vtable = library.vtable;
        let make = match how {
            Make::Init => vtable.init,
            Make::Restore => vtable.restore,
            Make::Migrate => vtable.migrate,
        };
        let mut instance: ffi::Instance = std::ptr::null_mut();
        let mut error = Owned::new(vtable);
        // SAFETY: the bytes are lent for the call; both slots are valid and writable.
        let status = unsafe { make(RSlice::new(json), &mut instance, &mut error.buffer) };
        check(status, &error)?;
        if instance.is_null() {
            return Err(CallError { panicked: false, message: "the plugin made no instance".to_owned() });
        }
        Ok(Instance { library: Arc::clone(library), instance, scratch: SignalScratch::default() })
    }

    pub(super) fn decide(&mut self, signal: &Signal) -> Result<Verdict, CallError> {
        let vtable = self.library.vtable;
        let instance = self.instance;
        let mut error = Owned::new(vtable);
        let mut verdict = Verdict::new(false, 0.0);
        let status = self.scratch.with(signal, |view| {
            // SAFETY: a live instance; the view and both slots are valid for the call.
            unsafe { (vtable.decide)(instance, view, &mut verdict, &mut error.buffer) }
        });
        check(status, &error).map(|()| verdict)
    }

    pub(super) fn learn(&mut self, signal: &Signal, outcome: &Outcome) -> Result<(), CallError> {
        let vtable = self.library.vtable;
        let instance = self.instance;
        let mut error = Owned::new(vtable);
        let outcome = OutcomeRef::new(outcome);
        let status = self.scratch.with(signal, |view| {
            // SAFETY: a live instance; the views and the slot are valid for the call.
            unsafe { (vtable.learn)(instance, view, &outcome, &mut error.buffer) }
        });
        check(status, &error)
    }

    pub(super) fn daily(&mut self, summary: &DailyRef<'_>) -> Result<(), CallError> {
        let mut error = Owned::new(self.library.vtable);
        // SAFETY: a live instance; the summary and the slot are valid for the call.
        let status = unsafe { (self.library.vtable.daily)(self.instance, summary, &mut error.buffer) };
        check(status, &error)
    }

    /// A candidate state (JSON bytes) trained on `history`: (signal, outcome, taken).
    pub(super) fn retrain(&mut self, history: &[(&Signal, &Outcome, bool)]) -> Result<Vec<u8>, CallError> {
        let names: Vec<(Vec<ffi::NamedValue<'_>>, Vec<ffi::NamedValue<'_>>)> = history
            .iter()
            .map(|(signal, _, _)| {
                (
                    ffi::NamedValue::all(&signal.heads).collect(),
                    ffi::NamedValue::all(&signal.indicators).collect(),
                )
            })
            .collect();
        let items: Vec<HistoryRef<'_>> = history
            .iter()
            .zip(&names)
            .map(|((signal, outcome, taken), (heads, indicators))| {
                HistoryRef::new(SignalRef::new(signal, heads, indicators), OutcomeRef::new(outcome), *taken)
            })
            .collect();
        let mut out = Owned::new(self.library.vtable);
        let mut error = Owned::new(self.library.vtable);
        // SAFETY: a live instance; the history is lent for the call; both slots are valid.
        let status = unsafe {
            (self.library.vtable.retrain)(
                self.instance,
                RSlice::new(&items),
                &mut out.buffer,
                &mut error.buffer,
            )
        };
        check(status, &error)?;
        Ok(out.buffer.bytes().to_vec())
    }

    /// The state as JSON bytes.
    pub(super) fn snapshot(&self) -> Result<Vec<u8>, CallError> {
        let mut out = Owned::new(self.library.vtable);
        let mut error = Owned::new(self.library.vtable);
        // SAFETY: a live instance; both slots are valid and writable.
        let status =
            unsafe { (self.library.vtable.snapshot)(self.instance, &mut out.buffer, &mut error.buffer) };
        check(status, &error)?;
        Ok(out.buffer.bytes().to_vec())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_copy_that_failed_for_want_of_file_descriptors_is_a_refusal_that_may_pass_and_a_full_disk_is_not() {
        let refusal = Refusal::copy_failed(&std::io::Error::from_raw_os_error(libc::EMFILE));
        assert!(refusal.transient);
        assert!(
            refusal.message.starts_with("cannot copy the library to load it: Too many open files"),
            "{}",
            refusal.message
        );
        assert!(!Refusal::copy_failed(&std::io::Error::from_raw_os_error(libc::ENOSPC)).transient);
        assert!(!Refusal::from("cannot load it: bad ELF".to_owned()).transient);
    }
}
