//! Hot reload: the folders holding strategy code are watched (the scripts
//! folder, the plugins folder, and the folder of every configured script or
//! library, such as a plugin's `target/release`). A strategy file that is
//! written, added or removed is compiled or opened (off the engine thread)
//! once that file has been quiet for the debounce time, and handed to the
//! engine, which swaps it in between two requests.
//!
//! Each file has its own quiet period, and paths that are no strategy file
//! (the store's `-wal`, an editor's swap file) are dropped as they arrive,
//! so writes elsewhere never hold a reload back. A file is loaded only when
//! it did not change while it was read; one that is no regular file (a
//! FIFO, a device) is that strategy's refused reload, never waited on
//! ([`crate::user_file::read`]), and one that failed for a passing reason
//! of the system (out of file descriptors) is tried again after a second,
//! then after twice as long each time, at most a minute apart, until it
//! loads. The way files really get replaced
//! is followed: a strategy file that is a symlink is watched at its target
//! (one added while running too: every change of the strategy files
//! resolves what to watch by the code that resolved it at start);
//! a folder that is removed and made again, moved away and replaced, or a
//! symlink to a folder that is pointed elsewhere, is watched again (its
//! parent folder is watched for that) and its files are read again; a
//! folder that cannot be watched is logged as a warning and shown by
//! `/healthz`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};
use siglearn_plugin_api::StrategyId;
use tokio::sync::mpsc;

use super::core::{Reload, Request};
use super::view::View;
use crate::strategy::script::Limits;
use crate::strategy::{Clash, native};

/// Keeps the watch alive; dropping it stops watching.
#[derive(Debug)]
pub(crate) struct Watching {
    seen: std_mpsc::Sender<Seen>,
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.seen.send(Seen::Stop);
    }
}

/// What the watcher thread is told.
#[derive(Debug)]
enum Seen {
    /// Something was written, made or removed at this path.
    Path(PathBuf),
    Stop,
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

/// Which strategy files a folder adopts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Adopt {
    Scripts,
    Plugins,
}

impl Adopt {
    /// The strategy `file` in this folder would be; hidden files (an
    /// editor's `.#x.rhai` lock, a `.x.rhai.swp`) are none.
    fn name(self, file: &Path) -> Option<String> {
        let stem = file.file_name()?.to_str()?;
        if stem.starts_with('.') {
            return None;
        }
        match self {
            Adopt::Scripts => file
                .extension()
                .is_some_and(|e| e == "rhai")
                .then(|| file.file_stem()?.to_str().map(str::to_owned))
                .flatten(),
            Adopt::Plugins => native::is_library(file).then(|| native::strategy_name(file)).flatten(),
        }
    }
}

/// Where things are now: resolved from the plan again whenever a folder or
/// link of it changes.
#[derive(Debug, Default, PartialEq)]
struct Layout {
    /// A canonical file path the watcher reports -> the path the strategy
    /// is loaded from (a link's target -> the link).
    routes: BTreeMap<PathBuf, PathBuf>,
    /// A canonical folder -> the folder as planned, and what it adopts.
    adopting: BTreeMap<PathBuf, (PathBuf, Adopt)>,
    /// Paths whose change means the layout must be resolved again: the
    /// planned folders as their parents see them, and links.
    moves: BTreeSet<PathBuf>,
    /// The folders to watch.
    folders: BTreeSet<PathBuf>,
    /// Planned folders that are not there.
    missing: BTreeSet<PathBuf>,
}

/// The plan, with absolute paths, and what it resolves to.
#[derive(Debug)]
struct Watched {
    files: Vec<(String, PathBuf)>,
    adopt: Vec<(PathBuf, Adopt)>,
    layout: Layout,
    /// Strategy files known to exist, so that only a removal of one of
    /// them stops a strategy.
    known: BTreeSet<PathBuf>,
    /// Planned folders that existed at some time: one of them missing is
    /// a problem (one that never existed, such as an unused plugins
    /// folder, is only awaited).
    existed: BTreeSet<PathBuf>,
}

/// `path` made absolute against the working folder, not resolved.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

impl Watched {
    fn new(plan: Plan) -> Self {
        let mut adopt = Vec::new();
        adopt.extend(plan.adopt_scripts.map(|f| (absolute(&f), Adopt::Scripts)));
        adopt.extend(plan.adopt_plugins.map(|f| (absolute(&f), Adopt::Plugins)));
        let mut watched = Watched {
            files: plan.files.into_iter().map(|(name, path)| (name, absolute(&path))).collect(),
            adopt,
            layout: Layout::default(),
            known: BTreeSet::new(),
            existed: BTreeSet::new(),
        };
        watched.settle_layout();
        watched.known = watched.present();
        watched
    }

    /// Resolves the layout again.
    fn settle_layout(&mut self) {
        self.layout = self.resolve();
        let planned = self
            .files
            .iter()
            .filter_map(|(_, f)| f.parent())
            .chain(self.adopt.iter().map(|(f, _)| f.as_path()));
        let there: Vec<PathBuf> = planned.filter(|f| f.is_dir()).map(Path::to_path_buf).collect();
        self.existed.extend(there);
    }

    /// Where the plan's folders, files and links are now.
    fn resolve(&self) -> Layout {
        let mut layout = Layout::default();
        let folder_of = |folder: &Path, layout: &mut Layout| -> Option<PathBuf> {
            // Its parent is watched too, to see it replaced, or appear.
            layout.moves.insert(canonical(folder));
            if let Some(parent) = folder.parent().and_then(|p| std::fs::canonicalize(p).ok()) {
                layout.folders.insert(parent);
            }
            let resolved = std::fs::canonicalize(folder).ok().filter(|f| f.is_dir());
            match &resolved {
                Some(resolved) => {
                    layout.moves.insert(resolved.clone());
                    layout.folders.insert(resolved.clone());
                }
                None => {
                    layout.missing.insert(folder.to_path_buf());
                }
            }
            resolved
        };
        let link = |load: &Path, layout: &mut Layout| {
            if is_link(load) {
                layout.moves.insert(canonical(load));
                if let Ok(target) = std::fs::canonicalize(load) {
                    if let Some(parent) = target.parent() {
                        layout.folders.insert(parent.to_path_buf());
                    }
                    layout.routes.insert(target, load.to_path_buf());
                }
            }
        };
        for (_, file) in &self.files {
            let Some(folder) = file.parent() else { continue };
            if let (Some(resolved), Some(name)) = (folder_of(folder, &mut layout), file.file_name()) {
                layout.routes.insert(resolved.join(name), file.clone());
            }
            link(file, &mut layout);
        }
        for (folder, adopt) in &self.adopt {
            let Some(resolved) = folder_of(folder, &mut layout) else { continue };
            layout.adopting.insert(resolved, (folder.clone(), *adopt));
            for file in files_of(folder, *adopt) {
                link(&file, &mut layout);
            }
        }
        layout
    }

    /// Every strategy file there is now, by the path it is loaded from.
    fn present(&self) -> BTreeSet<PathBuf> {
        let configured = self.files.iter().map(|(_, f)| f.clone()).filter(|f| f.exists());
        let adopted = self.adopt.iter().flat_map(|(folder, adopt)| files_of(folder, *adopt));
        configured.chain(adopted).collect()
    }

    /// What a reported path means.
    fn role(&self, path: &Path) -> Option<Role> {
        if self.layout.moves.contains(path) {
            return Some(Role::Moved);
        }
        if let Some(load) = self.layout.routes.get(path) {
            return Some(Role::File(load.clone()));
        }
        let (planned, adopt) = self.layout.adopting.get(path.parent()?)?;
        adopt.name(path)?;
        Some(Role::File(planned.join(path.file_name()?)))
    }

    /// The strategy a file (as loaded) belongs to.
    fn name_of(&self, load: &Path) -> Option<String> {
        if let Some((name, _)) = self.files.iter().find(|(_, f)| f == load) {
            return Some(name.clone());
        }
        let (_, adopt) = self.adopt.iter().find(|(folder, _)| Some(folder.as_path()) == load.parent())?;
        adopt.name(load)
    }

    /// The other files of the adopted folders that would be strategy
    /// `name` too (a `hw.rhai` beside a `libhw.so`).
    fn namesakes(&self, name: &str, load: &Path) -> Vec<PathBuf> {
        self.adopt
            .iter()
            .flat_map(|(folder, adopt)| {
                files_of(folder, *adopt).into_iter().filter(|f| adopt.name(f).as_deref() == Some(name))
            })
            .filter(|f| f != load)
            .collect()
    }

    /// The folders that should be there but are not, said for `/healthz`
    /// (one that never was, with its parent there, is only awaited).
    fn problems(&self) -> Vec<String> {
        self.layout
            .missing
            .iter()
            .filter_map(|folder| {
                let awaited = folder.parent().is_some_and(Path::is_dir);
                if !awaited {
                    Some(format!(
                        "{} and its parent folder do not exist, so it cannot be watched; its strategies \
                         do not hot-reload until the folder is back and the daemon restarts",
                        folder.display()
                    ))
                } else if self.existed.contains(folder) {
                    Some(format!(
                        "{} was removed; its strategies do not hot-reload until it is back (it is \
                         watched again when it appears)",
                        folder.display()
                    ))
                } else {
                    None
                }
            })
            .collect()
    }
}

/// The strategy files of `folder` that `adopt` takes, sorted.
fn files_of(folder: &Path, adopt: Adopt) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(folder) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .map(|e| folder.join(e.file_name()))
            .filter(|p| adopt.name(p).is_some())
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

/// What a changed path is to the watcher.
#[derive(Debug, PartialEq)]
enum Role {
    /// A strategy file, by the path it is loaded from.
    File(PathBuf),
    /// A planned folder or a link moved: resolve the layout again.
    Moved,
}

/// Starts watching as `plan` says.
pub(crate) fn start(
    plan: Plan,
    debounce: Duration,
    limits: Limits,
    requests: mpsc::Sender<Request>,
    view: Arc<RwLock<View>>,
) -> anyhow::Result<Option<Watching>> {
    let watched = Watched::new(plan);
    if watched.files.is_empty() && watched.adopt.is_empty() {
        tracing::warn!("no strategy code to watch; hot reload is off");
        return Ok(None);
    }
    let (seen, changes) = std_mpsc::channel();
    let events = seen.clone();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // Only writes count: reading a file to load it is an access event
        // too, and would reload it again and again.
        let written = |e: &notify::Event| e.kind.is_create() || e.kind.is_modify() || e.kind.is_remove();
        if let Some(event) = event.ok().filter(written) {
            for path in event.paths {
                let _ = events.send(Seen::Path(path));
            }
        }
    })?;
    let mut watcher = Watcher { watcher, watching: BTreeSet::new(), view, reported: Vec::new() };
    watcher.follow(&watched, true);
    std::thread::Builder::new().name("siglearn-watch".into()).spawn(move || {
        let mut settling = Settling {
            watched,
            watcher,
            debounce,
            limits,
            requests,
            due: BTreeMap::new(),
            retries: BTreeMap::new(),
        };
        settling.run(&changes);
    })?;
    Ok(Some(Watching { seen }))
}

/// The notify watcher and the folders it watches now.
struct Watcher {
    watcher: RecommendedWatcher,
    watching: BTreeSet<PathBuf>,
    view: Arc<RwLock<View>>,
    reported: Vec<String>,
}

impl Watcher {
    /// Watches the folders of `watched`'s layout, and reports the missing
    /// ones. `anew`: every folder is watched again (a folder made anew is
    /// another folder to the system); otherwise only the folders that
    /// joined the layout are added and those that left it dropped, so the
    /// folders watched all along miss nothing meanwhile.
    fn follow(&mut self, watched: &Watched, anew: bool) {
        let leaving: Vec<PathBuf> = if anew {
            std::mem::take(&mut self.watching).into_iter().collect()
        } else {
            self.watching.difference(&watched.layout.folders).cloned().collect()
        };
        for folder in leaving {
            let _ = self.watcher.unwatch(&folder);
            self.watching.remove(&folder);
        }
        let mut problems = watched.problems();
        let joining: Vec<&PathBuf> =
            watched.layout.folders.iter().filter(|f| !self.watching.contains(*f)).collect();
        for folder in joining {
            match self.watcher.watch(folder, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    tracing::debug!(folder = %folder.display(), "watching for strategy changes");
                    self.watching.insert(folder.clone());
                }
                Err(error) => problems.push(format!(
                    "{} cannot be watched ({error}); changes in it do not hot-reload (on Linux, a full \
                     fs.inotify.max_user_watches is a common cause)",
                    folder.display()
                )),
            }
        }
        if problems != self.reported {
            for problem in problems.iter().filter(|p| !self.reported.contains(p)) {
                tracing::warn!("hot reload: {problem}");
            }
            if problems.is_empty() {
                tracing::info!("hot reload: every strategy folder is watched again");
            }
            self.view.write().unwrap_or_else(|p| p.into_inner()).unwatched = problems.clone();
            self.reported = problems;
        }
    }
}

/// The size and time of a file, to tell whether it changed while read.
fn stamp(path: &Path) -> Option<(u64, SystemTime)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

/// The watcher thread: changed paths wait out their own quiet period, then
/// are loaded and sent to the engine.
struct Settling {
    watched: Watched,
    watcher: Watcher,
    debounce: Duration,
    limits: Limits,
    requests: mpsc::Sender<Request>,
    /// When each changed file (or a move, as `None`) is due.
    due: BTreeMap<Option<PathBuf>, Instant>,
    /// How many times in a row each file failed to load for a passing
    /// reason (out of file descriptors), which sets when it is tried again.
    retries: BTreeMap<PathBuf, u32>,
}

/// The wait before a file that failed to load for a passing reason is
/// tried again: a second after its first such failure, twice as long after
/// each one more, and at most a minute, so a shortage that lasts costs
/// one try a minute.
fn retry_wait(failures: u32) -> Duration {
    const FIRST: Duration = Duration::from_secs(1);
    const MOST: Duration = Duration::from_secs(60);
    FIRST.saturating_mul(1 << failures.min(6)).min(MOST)
}

impl Settling {
    fn run(&mut self, changes: &std_mpsc::Receiver<Seen>) {
        loop {
            // What is due goes first, however fast other events come in.
            if !self.settle() {
                return;
            }
            let next = self.due.values().min().copied();
            let seen = match next {
                None => changes.recv().map_err(|_| std_mpsc::RecvTimeoutError::Disconnected),
                Some(at) => changes.recv_timeout(at.saturating_duration_since(Instant::now())),
            };
            match seen {
                Ok(Seen::Path(path)) => {
                    if let Some(role) = self.watched.role(&path) {
                        let key = match role {
                            Role::File(load) => Some(load),
                            Role::Moved => None,
                        };
                        self.due.insert(key, Instant::now() + self.debounce);
                    }
                }
                Ok(Seen::Stop) | Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
                Err(std_mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// Handles what is due; false once the engine is gone.
    fn settle(&mut self) -> bool {
        let now = Instant::now();
        let due: Vec<Option<PathBuf>> =
            self.due.iter().filter(|(_, at)| **at <= now).map(|(key, _)| key.clone()).collect();
        for key in due {
            self.due.remove(&key);
            let sent = match key {
                Some(load) => self.file(&load),
                None => {
                    self.moved();
                    true
                }
            };
            if !sent {
                return false;
            }
        }
        true
    }

    /// A folder or link of the plan moved: watch where things are now and
    /// read every strategy file there again (one written meanwhile sent no
    /// event).
    fn moved(&mut self) {
        tracing::info!("a strategy folder or link changed; watching it again and reading its files");
        self.watched.settle_layout();
        self.watcher.follow(&self.watched, true);
        let files: BTreeSet<PathBuf> = self.watched.present().union(&self.watched.known).cloned().collect();
        for file in files {
            self.due.insert(Some(file), Instant::now() + self.debounce);
        }
    }

    /// A strategy file appeared or left while running: the layout is
    /// resolved again by the code that resolved it at start, so a file
    /// added as a symlink is watched at its target as one there at start
    /// is.
    fn appeared_or_left(&mut self) {
        let before = std::mem::take(&mut self.watched.layout);
        self.watched.settle_layout();
        if self.watched.layout != before {
            self.watcher.follow(&self.watched, false);
        }
    }

    /// Loads a changed file and sends it to the engine; false once the
    /// engine is gone.
    fn file(&mut self, load: &Path) -> bool {
        let Some(name) = self.watched.name_of(load) else { return true };
        let namesakes = self.watched.namesakes(&name, load);
        let reload = if load.exists() {
            if self.watched.known.insert(load.to_path_buf()) {
                self.appeared_or_left();
            }
            if !namesakes.is_empty() {
                // As at start: two files cannot be one strategy. The one
                // running stays live.
                let mut files = namesakes.clone();
                files.push(load.to_path_buf());
                let clash = Clash { name: name.clone(), files };
                let error = clash.error(load, "the running version stays live");
                Reload::Changed { name, path: load.to_path_buf(), compiled: Err(error) }
            } else {
                let before = stamp(load);
                let mut compiled = crate::strategy::open(StrategyId::new(name.as_str()), load, self.limits);
                if stamp(load) != before {
                    // Written while it was read: wait for it to be quiet again.
                    self.due.insert(Some(load.to_path_buf()), Instant::now() + self.debounce);
                    return true;
                }
                match &mut compiled {
                    // Out of file descriptors (or memory, or interrupted):
                    // nothing about the file; shown, and tried again later.
                    Err(error) if error.transient => {
                        let failures = self.retries.entry(load.to_path_buf()).or_insert(0);
                        let wait = retry_wait(*failures);
                        *failures = failures.saturating_add(1);
                        error.0.message.push_str(&format!(
                            " (a passing shortage of the system: tried again in {} s)",
                            wait.as_secs()
                        ));
                        self.due.insert(Some(load.to_path_buf()), Instant::now() + wait);
                    }
                    _ => {
                        self.retries.remove(load);
                    }
                }
                Reload::Changed { name, path: load.to_path_buf(), compiled }
            }
        } else if self.watched.known.remove(load) {
            self.appeared_or_left();
            match namesakes.as_slice() {
                // The namesake left alone is the strategy's file now.
                [other] => {
                    self.due.insert(Some(other.clone()), Instant::now());
                    return true;
                }
                _ => Reload::Removed { name },
            }
        } else {
            return true;
        };
        self.requests.blocking_send(Request::Reload(reload)).is_ok()
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
        let file = |folder: &Path, file: &str| Some(Role::File(absolute(folder).join(file)));
        assert_eq!(watched.role(&at(&target, "libmine.so")), file(&target, "libmine.so"));
        assert_eq!(watched.name_of(&absolute(&target).join("libmine.so")).as_deref(), Some("mine"));
        assert_eq!(watched.role(&at(&target, "libother.so")), None, "not adopted outside the plugins folder");
        assert_eq!(watched.role(&at(&plugins, "libfast.so")), file(&plugins, "libfast.so"));
        assert_eq!(watched.name_of(&absolute(&plugins).join("libfast.so")).as_deref(), Some("fast"));
        assert_eq!(watched.role(&at(&plugins, "notes.txt")), None);
        assert_eq!(watched.role(&at(&scripts, "new.rhai")), file(&scripts, "new.rhai"));
        assert_eq!(watched.role(&at(&scripts, "libx.so")), None, "scripts folder adopts scripts only");
        assert_eq!(watched.role(&at(&scripts, ".#new.rhai")), None, "an editor's lock file is no script");
        assert_eq!(watched.role(&at(&scripts, "siglearn.db-wal")), None);
        assert_eq!(watched.role(&scripts), Some(Role::Moved), "the folder itself, as its parent reports it");
        assert_eq!(watched.layout.folders.len(), 4, "the three folders and their parent");
    }

    #[cfg(unix)]
    #[test]
    fn a_linked_script_is_watched_at_its_target_and_a_missing_folder_from_its_parent() {
        let dir = tempfile::tempdir().unwrap();
        let (scripts, source) = (dir.path().join("scripts"), dir.path().join("src"));
        std::fs::create_dir(&scripts).unwrap();
        std::fs::create_dir(&source).unwrap();
        std::fs::write(source.join("x.rhai"), "fn decide(s) { true }").unwrap();
        std::os::unix::fs::symlink("../src/x.rhai", scripts.join("x.rhai")).unwrap();
        let watched = Watched::new(Plan {
            files: vec![],
            adopt_scripts: Some(scripts.clone()),
            adopt_plugins: Some(dir.path().join("plugins")),
        });
        let target = std::fs::canonicalize(source.join("x.rhai")).unwrap();
        assert_eq!(watched.role(&target), Some(Role::File(absolute(&scripts).join("x.rhai"))));
        let root = std::fs::canonicalize(dir.path()).unwrap();
        assert!(watched.layout.folders.contains(&root.join("src")), "{:?}", watched.layout.folders);
        assert!(watched.layout.folders.contains(&root), "the plugins folder is awaited in its parent");
        assert_eq!(watched.role(&root.join("plugins")), Some(Role::Moved));
        assert_eq!(watched.problems(), Vec::<String>::new(), "a plugins folder never made is only awaited");
        std::fs::rename(&scripts, dir.path().join("old")).unwrap();
        let mut watched = watched;
        watched.settle_layout();
        assert_eq!(watched.problems().len(), 1, "a scripts folder gone is a problem");
    }

    /// The watcher thread's state for `plan`, driven by hand: what it sends
    /// the engine arrives at the receiver.
    fn settling(plan: Plan, debounce: Duration) -> (Settling, mpsc::Receiver<Request>, Arc<RwLock<View>>) {
        let watched = Watched::new(plan);
        let notify = notify::recommended_watcher(|_: notify::Result<notify::Event>| {}).unwrap();
        let view = Arc::new(RwLock::new(View::new()));
        let mut watcher = Watcher {
            watcher: notify,
            watching: BTreeSet::new(),
            view: Arc::clone(&view),
            reported: Vec::new(),
        };
        watcher.follow(&watched, true);
        let (requests, receiver) = mpsc::channel(16);
        let limits = Limits::default();
        let due = BTreeMap::new();
        (
            Settling { watched, watcher, debounce, limits, requests, due, retries: BTreeMap::new() },
            receiver,
            view,
        )
    }

    /// What was sent to the engine so far, one line a request.
    fn sent(receiver: &mut mpsc::Receiver<Request>) -> Vec<String> {
        let mut sent = Vec::new();
        while let Ok(request) = receiver.try_recv() {
            match request {
                Request::Reload(Reload::Changed { name, path, compiled }) => {
                    let loaded = if compiled.is_ok() { "loads" } else { "fails" };
                    sent.push(format!("changed {name} {} {loaded}", path.display()));
                }
                Request::Reload(Reload::Removed { name }) => sent.push(format!("removed {name}")),
                other => panic!("not a reload: {other:?}"),
            }
        }
        sent
    }

    const SCRIPT: &str = "fn decide(signal) { true }";

    /// A scripts folder in `dir` holding `names` (`name.rhai`, each a script).
    fn scripts_folder(dir: &Path, names: &[&str]) -> PathBuf {
        let scripts = dir.join("scripts");
        std::fs::create_dir(&scripts).unwrap();
        for name in names {
            std::fs::write(scripts.join(format!("{name}.rhai")), SCRIPT).unwrap();
        }
        scripts
    }

    fn adopting(scripts: &Path) -> Plan {
        Plan { files: vec![], adopt_scripts: Some(scripts.to_path_buf()), adopt_plugins: None }
    }

    #[test]
    fn changed_files_are_loaded_and_sent_one_after_the_other_once_due() {
        let dir = tempfile::tempdir().unwrap();
        let scripts = scripts_folder(dir.path(), &["a", "b"]);
        let (mut settling, mut receiver, _) = settling(adopting(&scripts), Duration::ZERO);
        let (seen, changes) = std_mpsc::channel();
        let reported = std::fs::canonicalize(&scripts).unwrap();
        for file in ["a.rhai", "b.rhai"] {
            seen.send(Seen::Path(reported.join(file))).unwrap();
        }
        seen.send(Seen::Stop).unwrap();
        settling.run(&changes);
        let planned = absolute(&scripts);
        assert_eq!(
            sent(&mut receiver),
            [
                format!("changed a {} loads", planned.join("a.rhai").display()),
                format!("changed b {} loads", planned.join("b.rhai").display()),
            ]
        );
        assert!(settling.due.is_empty(), "{:?}", settling.due);
    }

    #[test]
    fn a_change_waits_out_its_quiet_time() {
        let dir = tempfile::tempdir().unwrap();
        let scripts = scripts_folder(dir.path(), &["a"]);
        // A quiet time no test run lasts: the change cannot be due before the stop.
        let hour = Duration::from_secs(3600);
        let (mut settling, mut receiver, _) = settling(adopting(&scripts), hour);
        let (seen, changes) = std_mpsc::channel();
        seen.send(Seen::Path(std::fs::canonicalize(&scripts).unwrap().join("a.rhai"))).unwrap();
        seen.send(Seen::Stop).unwrap();
        let before = Instant::now();
        settling.run(&changes);
        assert_eq!(sent(&mut receiver), Vec::<String>::new());
        let due: Vec<(&Option<PathBuf>, &Instant)> = settling.due.iter().collect();
        assert_eq!(due.len(), 1, "{due:?}");
        assert_eq!(due[0].0, &Some(absolute(&scripts).join("a.rhai")));
        assert!(*due[0].1 >= before + hour, "due after the quiet time");
    }

    #[test]
    fn a_folder_that_moved_has_every_file_read_again_after_the_quiet_time() {
        let dir = tempfile::tempdir().unwrap();
        let scripts = scripts_folder(dir.path(), &["a", "b"]);
        let hour = Duration::from_secs(3600);
        let (mut settling, mut receiver, _) = settling(adopting(&scripts), hour);
        let before = Instant::now();
        settling.moved();
        let planned = absolute(&scripts);
        let due: Vec<Option<PathBuf>> = settling.due.keys().cloned().collect();
        assert_eq!(due, [Some(planned.join("a.rhai")), Some(planned.join("b.rhai"))]);
        assert!(settling.due.values().all(|at| *at >= before + hour), "{:?}", settling.due);
        assert_eq!(sent(&mut receiver), Vec::<String>::new());
    }

    #[test]
    fn a_removed_file_stops_its_strategy_unless_a_namesake_is_left_to_be_it() {
        let dir = tempfile::tempdir().unwrap();
        let scripts = scripts_folder(dir.path(), &["a", "hw"]);
        let plugins = dir.path().join("plugins");
        std::fs::create_dir(&plugins).unwrap();
        std::fs::write(plugins.join("libhw.so"), "").unwrap();
        let plan = Plan {
            files: vec![],
            adopt_scripts: Some(scripts.clone()),
            adopt_plugins: Some(plugins.clone()),
        };
        let (mut settling, mut receiver, _) = settling(plan, Duration::ZERO);
        let (a, hw, libhw) = (
            absolute(&scripts).join("a.rhai"),
            absolute(&scripts).join("hw.rhai"),
            absolute(&plugins).join("libhw.so"),
        );
        assert_eq!(settling.watched.namesakes("hw", &hw), std::slice::from_ref(&libhw));
        assert_eq!(settling.watched.namesakes("hw", &libhw), std::slice::from_ref(&hw));
        assert_eq!(settling.watched.namesakes("a", &a), Vec::<PathBuf>::new());
        // Both files of hw there: neither is taken.
        assert!(settling.file(&hw));
        assert_eq!(sent(&mut receiver), [format!("changed hw {} fails", hw.display())]);
        std::fs::remove_file(&a).unwrap();
        assert!(settling.file(&a));
        assert_eq!(sent(&mut receiver), ["removed a"]);
        // hw.rhai gone: libhw.so alone is hw now, read at once; hw is not removed.
        std::fs::remove_file(&hw).unwrap();
        assert!(settling.file(&hw));
        assert_eq!(sent(&mut receiver), Vec::<String>::new());
        assert_eq!(settling.due.keys().cloned().collect::<Vec<_>>(), [Some(libhw)]);
    }

    #[cfg(unix)]
    #[test]
    fn a_file_added_as_a_link_while_running_is_watched_at_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let scripts = scripts_folder(dir.path(), &[]);
        let (mut settling, mut receiver, _) = settling(adopting(&scripts), Duration::ZERO);
        let source = dir.path().join("src");
        std::fs::create_dir(&source).unwrap();
        std::fs::write(source.join("x.rhai"), SCRIPT).unwrap();
        std::os::unix::fs::symlink("../src/x.rhai", scripts.join("x.rhai")).unwrap();
        let link = absolute(&scripts).join("x.rhai");
        assert!(settling.file(&link));
        assert_eq!(sent(&mut receiver), [format!("changed x {} loads", link.display())]);
        let target = std::fs::canonicalize(source.join("x.rhai")).unwrap();
        assert_eq!(settling.watched.role(&target), Some(Role::File(link)));
        let source = std::fs::canonicalize(&source).unwrap();
        assert!(settling.watcher.watching.contains(&source), "{:?}", settling.watcher.watching);
    }

    /// The reloads sent so far: each strategy's name and its error, if any.
    fn reloads(receiver: &mut mpsc::Receiver<Request>) -> Vec<(String, Option<String>)> {
        let mut sent = Vec::new();
        while let Ok(request) = receiver.try_recv() {
            match request {
                Request::Reload(Reload::Changed { name, compiled, .. }) => {
                    sent.push((name, compiled.err().map(|e| e.to_string())))
                }
                other => panic!("not a change: {other:?}"),
            }
        }
        sent
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_or_a_device_added_while_running_is_refused_as_that_file_and_the_others_still_reload() {
        let dir = tempfile::tempdir().unwrap();
        let scripts = scripts_folder(dir.path(), &["a"]);
        let made = std::process::Command::new("mkfifo").arg(scripts.join("direct.rhai")).status().unwrap();
        assert!(made.success());
        std::os::unix::fs::symlink("/dev/zero", scripts.join("zero.rhai")).unwrap();
        let (settling, mut receiver, _) = settling(adopting(&scripts), Duration::ZERO);
        let planned = absolute(&scripts);
        // On a thread of its own: a reader that opens the FIFO as a file
        // waits in open() for a writer that never comes.
        let (done, finished) = std_mpsc::channel();
        let files = planned.clone();
        std::thread::spawn(move || {
            let mut settling = settling;
            for file in ["direct.rhai", "zero.rhai", "a.rhai"] {
                assert!(settling.file(&files.join(file)));
            }
            let _ = done.send(());
        });
        assert!(finished.recv_timeout(Duration::from_secs(120)).is_ok(), "a reload waits on the FIFO");
        let sent = reloads(&mut receiver);
        let names: Vec<&str> = sent.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["direct", "zero", "a"]);
        let direct = sent[0].1.as_deref().expect("the FIFO is refused");
        assert!(
            direct.starts_with(&format!("strategy direct ({})", planned.join("direct.rhai").display()))
                && direct.contains("cannot read the script: it is a FIFO (named pipe), not a regular file")
                && direct.contains("put the file itself there, or move this one out"),
            "{direct}"
        );
        let zero = sent[1].1.as_deref().expect("the device is refused");
        assert!(zero.contains("it is a character device (such as /dev/zero), not a regular file"), "{zero}");
        assert_eq!(sent[2].1, None, "a.rhai still reloads");
    }

    #[cfg(unix)]
    #[test]
    fn a_reload_that_failed_for_want_of_file_descriptors_is_tried_again_later_until_it_loads() {
        let dir = tempfile::tempdir().unwrap();
        let scripts = scripts_folder(dir.path(), &["a"]);
        let (mut settling, mut receiver, _) = settling(adopting(&scripts), Duration::ZERO);
        let a = absolute(&scripts).join("a.rhai");
        // Two reads in a row find the process out of file descriptors.
        for (attempt, wait) in [(1, 1), (2, 2)] {
            crate::user_file::fail_next_read(libc::EMFILE);
            let before = Instant::now();
            assert!(settling.file(&a));
            let sent = reloads(&mut receiver);
            assert_eq!(sent.len(), 1, "attempt {attempt}: {sent:?}");
            let error = sent[0].1.as_deref().expect("refused, and shown");
            assert!(
                error.contains("Too many open files")
                    && error
                        .ends_with(&format!("(a passing shortage of the system: tried again in {wait} s)")),
                "{error}"
            );
            let due: Vec<(&Option<PathBuf>, &Instant)> = settling.due.iter().collect();
            assert_eq!(due.len(), 1, "{due:?}");
            assert_eq!(due[0].0, &Some(a.clone()));
            assert!(*due[0].1 >= before + Duration::from_secs(wait), "not before {wait} s: no busy loop");
        }
        assert_eq!(retry_wait(5), Duration::from_secs(32));
        assert_eq!(retry_wait(6), Duration::from_secs(60), "at most a minute");
        assert_eq!(retry_wait(u32::MAX), Duration::from_secs(60));
        // The try that was due: descriptors are back, and it loads.
        settling.due.clear();
        assert!(settling.file(&a));
        assert_eq!(reloads(&mut receiver), [("a".to_owned(), None)]);
        assert!(settling.due.is_empty() && settling.retries.is_empty(), "{:?}", settling.due);
        // A fault of the file itself is shown once and not tried again.
        std::fs::write(&a, [0xff, 0xfe]).unwrap();
        assert!(settling.file(&a));
        let sent = reloads(&mut receiver);
        assert!(sent[0].1.as_deref().is_some_and(|e| e.contains("not UTF-8")), "{sent:?}");
        assert!(settling.due.is_empty(), "{:?}", settling.due);
    }

    #[test]
    fn the_watcher_watches_the_layout_s_folders_and_shows_a_removed_one() {
        let dir = tempfile::tempdir().unwrap();
        let scripts = scripts_folder(dir.path(), &["a"]);
        let (mut settling, _receiver, view) = settling(adopting(&scripts), Duration::ZERO);
        assert!(!settling.watched.layout.folders.is_empty());
        assert_eq!(settling.watcher.watching, settling.watched.layout.folders);
        assert_eq!(view.read().unwrap().unwatched, Vec::<String>::new());
        std::fs::rename(&scripts, dir.path().join("old")).unwrap();
        settling.watched.settle_layout();
        settling.watcher.follow(&settling.watched, false);
        assert_eq!(settling.watcher.watching, settling.watched.layout.folders);
        let unwatched = view.read().unwrap().unwatched.clone();
        assert_eq!(unwatched.len(), 1, "{unwatched:?}");
        assert!(
            unwatched[0].starts_with(&format!("{} was removed", absolute(&scripts).display())),
            "{unwatched:?}"
        );
    }

    #[test]
    fn a_file_s_stamp_is_its_size_and_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.rhai");
        std::fs::write(&path, "12345").unwrap();
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        assert_eq!(stamp(&path), Some((5, modified)));
        assert_eq!(stamp(&dir.path().join("missing.rhai")), None);
    }

    #[test]
    fn a_plan_with_code_is_watched_until_its_watch_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let scripts = scripts_folder(dir.path(), &["a"]);
        let start_plan = |plan: Plan| {
            let (requests, receiver) = mpsc::channel(16);
            let view = Arc::new(RwLock::new(View::new()));
            let watching = start(plan, Duration::ZERO, Limits::default(), requests, view).unwrap();
            (watching, receiver)
        };
        assert!(start_plan(Plan::default()).0.is_none(), "nothing to watch");
        let files = Plan { files: vec![("a".into(), scripts.join("a.rhai"))], ..Plan::default() };
        let (watching, mut receiver) = start_plan(files);
        let watching = watching.expect("a configured file alone is watched");
        // Dropped, the watch stops its thread, which lets the engine's queue go.
        drop(watching);
        let (closed, done) = std_mpsc::channel();
        std::thread::spawn(move || {
            while receiver.blocking_recv().is_some() {}
            let _ = closed.send(());
        });
        assert!(done.recv_timeout(Duration::from_secs(120)).is_ok(), "the watcher thread did not stop");
    }
}
