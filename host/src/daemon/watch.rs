//! Hot reload: the folders holding strategy code are watched (the scripts
//! folder, the plugins folder, and the folder of every configured script or
//! library, such as a plugin's `target/release`). A file that is written,
//! added or removed is compiled or opened (off the engine thread) once its
//! folder has been quiet for the debounce time, and handed to the engine,
//! which swaps it in between two requests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};
use siglearn_plugin_api::StrategyId;
use tokio::sync::mpsc;

use super::core::{Reload, Request};
use crate::strategy::native;
use crate::strategy::script::Limits;

/// Keeps the watch alive; dropping it stops watching.
#[derive(Debug)]
pub(crate) struct Watching {
    _watcher: RecommendedWatcher,
}

/// What to watch.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// The code file of each running strategy, by name.
    pub(crate) files: Vec<(String, PathBuf)>,
    /// A new `*.rhai` here becomes a strategy named after its file.
    pub(crate) adopt_scripts: Option<PathBuf>,
    /// A new library here becomes a strategy named after its file.
    pub(crate) adopt_plugins: Option<PathBuf>,
}

/// `path` with its folder made absolute and canonical (the form the watcher
/// reports), or as it is when the folder does not exist.
fn canonical(path: &Path) -> PathBuf {
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    match (std::fs::canonicalize(folder), path.file_name()) {
        (Ok(folder), Some(file)) => folder.join(file),
        _ => path.to_path_buf(),
    }
}

/// The files to react to, and the folders they are in.
#[derive(Debug)]
struct Watched {
    files: BTreeMap<PathBuf, String>,
    adopt_scripts: Option<PathBuf>,
    adopt_plugins: Option<PathBuf>,
}

impl Watched {
    fn new(plan: Plan) -> Self {
        let folder =
            |f: Option<PathBuf>| f.filter(|f| f.is_dir()).and_then(|f| std::fs::canonicalize(f).ok());
        Watched {
            files: plan.files.into_iter().map(|(name, path)| (canonical(&path), name)).collect(),
            adopt_scripts: folder(plan.adopt_scripts),
            adopt_plugins: folder(plan.adopt_plugins),
        }
    }

    fn folders(&self) -> BTreeSet<PathBuf> {
        let mut folders: BTreeSet<PathBuf> = self
            .files
            .keys()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .filter(|f| f.is_dir())
            .collect();
        folders.extend(self.adopt_scripts.iter().chain(&self.adopt_plugins).cloned());
        folders
    }

    /// The strategy a changed file belongs to, if any.
    fn name_of(&self, path: &Path) -> Option<String> {
        if let Some(name) = self.files.get(path) {
            return Some(name.clone());
        }
        let folder = path.parent()?;
        if self.adopt_scripts.as_deref() == Some(folder) && path.extension().is_some_and(|e| e == "rhai") {
            return path.file_stem()?.to_str().map(str::to_owned);
        }
        if self.adopt_plugins.as_deref() == Some(folder) && native::is_library(path) {
            return native::strategy_name(path);
        }
        None
    }
}

/// Starts watching as `plan` says.
pub(crate) fn start(
    plan: Plan,
    debounce: Duration,
    limits: Limits,
    requests: mpsc::Sender<Request>,
) -> anyhow::Result<Option<Watching>> {
    let watched = Watched::new(plan);
    let folders = watched.folders();
    if folders.is_empty() {
        tracing::warn!("no folder of strategy code exists; hot reload is off");
        return Ok(None);
    }
    let (events, changes) = std_mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // Only writes count: reading a file to load it is an access event
        // too, and would reload it again and again.
        let written = |e: &notify::Event| e.kind.is_create() || e.kind.is_modify() || e.kind.is_remove();
        if let Some(event) = event.ok().filter(written) {
            for path in event.paths {
                let _ = events.send(path);
            }
        }
    })?;
    for folder in &folders {
        watcher.watch(folder, RecursiveMode::NonRecursive)?;
        tracing::info!(folder = %folder.display(), "watching for strategy changes");
    }
    std::thread::Builder::new().name("siglearn-watch".into()).spawn(move || {
        debounce_loop(&watched, &changes, debounce, limits, &requests);
    })?;
    Ok(Some(Watching { _watcher: watcher }))
}

/// Collects changed files until their folders are quiet, then reloads them.
fn debounce_loop(
    watched: &Watched,
    changes: &std_mpsc::Receiver<PathBuf>,
    debounce: Duration,
    limits: Limits,
    requests: &mpsc::Sender<Request>,
) {
    while let Ok(first) = changes.recv() {
        let mut changed: BTreeMap<PathBuf, String> = BTreeMap::new();
        let mut add = |path: PathBuf| {
            if let Some(name) = watched.name_of(&path) {
                changed.insert(path, name);
            }
        };
        add(first);
        while let Ok(path) = changes.recv_timeout(debounce) {
            add(path);
        }
        for (path, name) in changed {
            let reload = if path.exists() {
                let compiled = crate::strategy::open(StrategyId::new(name.as_str()), &path, limits);
                Reload::Changed { name, path, compiled }
            } else {
                Reload::Removed { name }
            };
            if requests.blocking_send(Request::Reload(reload)).is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_matched_to_configured_files_and_adopted_only_in_their_folders() {
        let dir = tempfile::tempdir().unwrap();
        let (scripts, plugins, target) =
            (dir.path().join("scripts"), dir.path().join("plugins"), dir.path().join("target"));
        for folder in [&scripts, &plugins, &target] {
            std::fs::create_dir(folder).unwrap();
        }
        let watched = Watched::new(Plan {
            files: vec![("mine".into(), target.join("libmine.so"))],
            adopt_scripts: Some(scripts.clone()),
            adopt_plugins: Some(plugins.clone()),
        });
        let at = |folder: &Path, file: &str| std::fs::canonicalize(folder).unwrap().join(file);
        assert_eq!(watched.name_of(&at(&target, "libmine.so")).as_deref(), Some("mine"));
        assert_eq!(
            watched.name_of(&at(&target, "libother.so")),
            None,
            "not adopted outside the plugins folder"
        );
        assert_eq!(watched.name_of(&at(&plugins, "libfast.so")).as_deref(), Some("fast"));
        assert_eq!(watched.name_of(&at(&plugins, "notes.txt")), None);
        assert_eq!(watched.name_of(&at(&scripts, "new.rhai")).as_deref(), Some("new"));
        assert_eq!(watched.name_of(&at(&scripts, "libx.so")), None, "scripts folder adopts scripts only");
        assert_eq!(watched.folders().len(), 3);
    }
}
