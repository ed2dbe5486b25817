//! Building this workspace's plugins, for tests and benchmarks: one
//! `cargo build --release` of every plugin package per process, into
//! `target/plugins` (a target folder of its own, so it never waits on the
//! build that is running the tests).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Each plugin of `plugins/`: (package, library name).
pub const PLUGINS: [(&str, &str); 4] = [
    ("siglearn-head-weights", "head_weights_native"),
    ("siglearn-test-panic", "test_panic"),
    ("siglearn-test-slow", "test_slow"),
    ("siglearn-test-wrong-abi", "test_wrong_abi"),
];

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new("."))
}

/// The file name of library `name` on this platform (`libname.so`, ...).
pub fn library_file(name: &str) -> String {
    format!("{}{name}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX)
}

/// Builds every plugin (once per process) and returns the path of the
/// library `name` (see [`PLUGINS`]).
///
/// # Panics
/// When cargo fails: this is for tests and benchmarks only.
pub fn plugin(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let folder = BUILT.get_or_init(|| {
        let target = workspace().join("target").join("plugins");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut command = std::process::Command::new(cargo);
        command.current_dir(workspace()).args(["build", "--release", "--quiet", "--target-dir"]).arg(&target);
        for (package, _) in PLUGINS {
            command.args(["-p", package]);
        }
        match command.status() {
            Ok(status) if status.success() => Ok(target.join("release")),
            Ok(status) => Err(format!("cargo build of the plugins failed ({status})")),
            Err(e) => Err(format!("cannot run cargo: {e}")),
        }
    });
    match folder {
        Ok(folder) => folder.join(library_file(name)),
        Err(message) => panic!("{message}"),
    }
}
