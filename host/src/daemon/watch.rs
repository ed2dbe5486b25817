//! Hot reload: the scripts folder is watched; a script that is written,
//! added or removed is compiled (off the engine thread) once the folder has
//! been quiet for the debounce time, and handed to the engine, which swaps
//! it in between two requests.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};
use siglearn_plugin_api::StrategyId;
use tokio::sync::mpsc;

use super::core::{Reload, Request};
use crate::strategy::script::{Limits, ScriptStrategy};

/// Keeps the watch alive; dropping it stops watching.
#[derive(Debug)]
pub(crate) struct Watching {
    _watcher: RecommendedWatcher,
}

/// Watches `folder`. `scripts` maps each running strategy to its script;
/// with `adopt`, any other `*.rhai` appearing there becomes a strategy named
/// after its file.
pub(crate) fn start(
    folder: &Path,
    scripts: Vec<(String, PathBuf)>,
    adopt: bool,
    debounce: Duration,
    limits: Limits,
    requests: mpsc::Sender<Request>,
) -> anyhow::Result<Option<Watching>> {
    if !folder.is_dir() {
        tracing::warn!(folder = %folder.display(), "the scripts folder does not exist; hot reload is off");
        return Ok(None);
    }
    let by_file: BTreeMap<OsString, String> = scripts
        .into_iter()
        .filter_map(|(name, path)| Some((path.file_name()?.to_os_string(), name)))
        .collect();
    let (events, changes) = std_mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // Only writes count: reading the script to compile it is an access
        // event too, and would reload it again and again.
        let written = |e: &notify::Event| e.kind.is_create() || e.kind.is_modify() || e.kind.is_remove();
        if let Some(event) = event.ok().filter(written) {
            for path in event.paths {
                let _ = events.send(path);
            }
        }
    })?;
    watcher.watch(folder, RecursiveMode::NonRecursive)?;
    let folder = folder.to_path_buf();
    std::thread::Builder::new().name("siglearn-watch".into()).spawn(move || {
        debounce_loop(&folder, &changes, &by_file, adopt, debounce, limits, &requests);
    })?;
    tracing::info!("watching the scripts folder for changes");
    Ok(Some(Watching { _watcher: watcher }))
}

/// Collects changed scripts until the folder is quiet, then reloads them.
fn debounce_loop(
    folder: &Path,
    changes: &std_mpsc::Receiver<PathBuf>,
    by_file: &BTreeMap<OsString, String>,
    adopt: bool,
    debounce: Duration,
    limits: Limits,
    requests: &mpsc::Sender<Request>,
) {
    let name_of = |path: &Path| -> Option<String> {
        if path.extension().is_none_or(|e| e != "rhai") {
            return None;
        }
        let file = path.file_name()?;
        by_file
            .get(file)
            .cloned()
            .or_else(|| adopt.then(|| path.file_stem()?.to_str().map(str::to_owned)).flatten())
    };
    while let Ok(first) = changes.recv() {
        let mut changed: BTreeSet<(String, OsString)> = BTreeSet::new();
        let mut add = |path: PathBuf| {
            if let (Some(name), Some(file)) = (name_of(&path), path.file_name()) {
                changed.insert((name, file.to_os_string()));
            }
        };
        add(first);
        while let Ok(path) = changes.recv_timeout(debounce) {
            add(path);
        }
        for (name, file) in changed {
            let path = folder.join(file);
            let reload = if path.exists() {
                Reload::Changed {
                    compiled: ScriptStrategy::from_file(StrategyId::new(name.as_str()), &path, limits)
                        .map(Box::new),
                    name,
                }
            } else {
                Reload::Removed { name }
            };
            if requests.blocking_send(Request::Reload(reload)).is_err() {
                return;
            }
        }
    }
}
