//! A library built against a future plugin ABI: its entry point returns a
//! header whose version is one above the host's. The host must refuse it,
//! naming both versions, without reading past the header.

#![allow(unsafe_code)] // `no_mangle` is an unsafe attribute.

use siglearn_plugin_api::plugin::ffi::{ABI_VERSION, BuildInfo, Header};

static HEADER: Header = Header { abi_version: ABI_VERSION + 1, build: BuildInfo::current("FromTheFuture") };

/// The entry point the siglearn host looks up.
#[unsafe(no_mangle)]
pub extern "C" fn siglearn_strategy_entry() -> *const Header {
    &HEADER
}
