//! The write lock of a store: one writing process at a time.
//!
//! Whoever opens a [`super::Store`] (the daemon, `replay --db`, `rollback`,
//! `promote`) takes an exclusive lock on the file `<store>.lock` beside it
//! and holds it until the store is closed. The lock is the operating
//! system's (`flock` on Unix, `LockFileEx` on Windows, through the `fs4`
//! crate): it ends with the process, however the process ends, so a daemon killed with `kill -9`
//! leaves no stale lock behind, and the file left over is simply taken by
//! the next writer. The file says who holds it (pid, command and, for a
//! daemon, its address), so that a refused writer can be told what to do.
//!
//! A store has one name: the lock is taken beside the file a symlink
//! points to (SQLite itself opens the file a symlink points to), and a store
//! file with more than one hard link is refused, by writers and readers
//! alike, since its lock and its write-ahead log would follow the name
//! used, not the file ([`one_name`]).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::StoreError;

/// Who holds a store's write lock, as its lock file says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    /// The command line's first words, e.g. `siglearn run`.
    pub command: String,
    /// A daemon's HTTP address, e.g. `http://127.0.0.1:7878`.
    pub address: Option<String>,
}

impl Holder {
    fn this_process(address: Option<String>) -> Self {
        let mut words = std::env::args();
        let program = words
            .next()
            .and_then(|p| Path::new(&p).file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default();
        let command = std::iter::once(program).chain(words.next()).collect::<Vec<_>>().join(" ");
        Holder { pid: std::process::id(), command, address }
    }
}

/// The path of the lock file of the store at `store`: beside the file
/// itself, whatever name leads to it.
fn lock_path(store: &Path) -> PathBuf {
    let mut name = resolve(store).into_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

/// How many symlinks in a row [`resolve`] follows (Linux's own limit).
const MAX_SYMLINKS: usize = 40;

/// The one path of the store at `store`: symlinks to the file followed,
/// even one whose target does not exist yet (a new store), and its folder
/// made absolute and free of symlinks. Two names for one file give one
/// path, so one lock. A path whose folder does not exist stays as given
/// (opening it fails, naming it).
pub(super) fn resolve(store: &Path) -> PathBuf {
    let mut path = store.to_path_buf();
    for _ in 0..MAX_SYMLINKS {
        let Ok(target) = std::fs::read_link(&path) else { break };
        path = match path.parent() {
            Some(folder) => folder.join(target),
            None => target,
        };
    }
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(folder), path.file_name()) {
        (Ok(folder), Some(name)) => folder.join(name),
        _ => path,
    }
}

/// Refuses a store file with more than one name (hard link): SQLite keeps
/// a store's write-ahead log, its index and the lock beside the name it was
/// opened under, so a writer under one name and a writer (or reader) under
/// another do not see each other and can corrupt the store (see
/// <https://sqlite.org/howtocorrupt.html>, "Multiple links to the same
/// file"). A missing file passes (a new store has one name).
pub(super) fn one_name(store: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(meta) = std::fs::metadata(store) {
            if meta.is_file() && meta.nlink() > 1 {
                return Err(StoreError::Linked { path: store.to_path_buf(), links: meta.nlink() });
            }
        }
    }
    Ok(())
}

/// The refusal to open a store someone else writes.
pub(super) fn held_message(store: &Path, holder: Option<&Holder>) -> String {
    let store = store.display();
    match holder {
        Some(Holder { pid, address: Some(address), .. }) => format!(
            "a siglearn daemon (pid {pid}, {address}) holds the store {store}: it is the store's only writer; \
             make the change through its HTTP API ({address}/api/...), or stop the daemon first"
        ),
        Some(Holder { pid, command, .. }) => format!(
            "another siglearn process (pid {pid}, `{command}`) is writing the store {store}; \
             wait for it to finish, or use another store"
        ),
        None => format!(
            "another process holds the write lock of the store {store}; wait for it to finish, or use another store"
        ),
    }
}

/// An exclusive hold on a store's lock file, released when dropped. A
/// command that writes a store takes it before it reads anything from the
/// store to decide, so a store another process writes is refused with the
/// holder named, whatever else is wrong, and nothing read can change under it.
#[derive(Debug)]
pub struct WriteLock {
    _file: File,
    /// The store's path as given.
    store: PathBuf,
    /// Its one path ([`resolve`]).
    file: PathBuf,
}

impl WriteLock {
    /// Takes the lock of the store at `store`, or says who holds it. A
    /// store file with another name (a hard link) is refused.
    pub fn acquire(store: &Path) -> Result<Self, StoreError> {
        one_name(store)?;
        let path = lock_path(store);
        let failed = |source| StoreError::Lock { path: path.clone(), source };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(failed)?;
        if !fs4::fs_std::FileExt::try_lock_exclusive(&file).map_err(failed)? {
            return Err(StoreError::Held { path: store.to_path_buf(), holder: read_holder(&mut file) });
        }
        write_holder(&mut file, &Holder::this_process(None)).map_err(failed)?;
        // Checked again under the lock: a link made since is refused too.
        one_name(store)?;
        Ok(WriteLock { _file: file, store: store.to_path_buf(), file: resolve(store) })
    }
}

impl WriteLock {
    /// The store it locks, as given.
    pub fn store(&self) -> &Path {
        &self.store
    }

    /// The store's file by its one path ([`resolve`]): what the writer
    /// opens, so that what is locked is what is written, whatever name was
    /// given.
    pub fn file(&self) -> &Path {
        &self.file
    }
}

/// Adds the daemon's address to the lock file of the store at `store`,
/// which this process holds.
pub fn announce(store: &Path, address: &str) -> Result<(), StoreError> {
    let path = lock_path(store);
    let failed = |source| StoreError::Lock { path: path.clone(), source };
    let mut file = OpenOptions::new().write(true).open(&path).map_err(failed)?;
    write_holder(&mut file, &Holder::this_process(Some(address.to_owned()))).map_err(failed)
}

fn write_holder(file: &mut File, holder: &Holder) -> std::io::Result<()> {
    let text = serde_json::to_string(holder).map_err(std::io::Error::other)?;
    file.set_len(0)?;
    file.rewind()?;
    file.write_all(text.as_bytes())?;
    file.flush()
}

/// The holder a lock file names; `None` while the holder has not written it
/// yet, or for a file written by something else.
fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::MonitorConfig;
    use crate::store::{Store, StoreReader};

    #[test]
    fn a_second_writer_is_refused_with_the_holder_named_until_the_first_closes() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let first = Store::open(&db, &MonitorConfig::default()).unwrap();
        announce(&db, "http://127.0.0.1:7878").unwrap();
        let refused = Store::open_existing(&db).unwrap_err();
        match &refused {
            StoreError::Held { holder: Some(holder), .. } => {
                assert_eq!(holder.pid, std::process::id());
                assert_eq!(holder.address.as_deref(), Some("http://127.0.0.1:7878"));
            }
            other => panic!("expected Held, got {other:?}"),
        }
        let message = refused.to_string();
        assert!(message.contains("daemon") && message.contains("http://127.0.0.1:7878/api/"), "{message}");
        first.close().unwrap();
        // Closed: the lock is free again; the file left behind does not block.
        Store::open_existing(&db).unwrap().close().unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn another_name_for_a_held_store_is_refused_a_symlink_naming_the_holder_a_hard_link_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let first = Store::open(&db, &MonitorConfig::default()).unwrap();
        announce(&db, "http://127.0.0.1:7878").unwrap();
        // A symlink is the same store: the holder is named, as for the path itself.
        let alias = dir.path().join("alias.db");
        std::os::unix::fs::symlink("s.db", &alias).unwrap();
        for refused in [Store::open_existing(&alias), Store::open(&alias, &MonitorConfig::default())] {
            match refused.unwrap_err() {
                StoreError::Held { holder: Some(holder), .. } => {
                    assert_eq!(holder.address.as_deref(), Some("http://127.0.0.1:7878"))
                }
                other => panic!("expected Held, got {other:?}"),
            }
        }
        // A hard link: a second name SQLite would keep a second log for.
        let hard = dir.path().join("hard.db");
        std::fs::hard_link(&db, &hard).unwrap();
        let refused = Store::open_existing(&hard).unwrap_err();
        assert!(matches!(refused, StoreError::Linked { links: 2, .. }), "{refused:?}");
        let message = refused.to_string();
        assert!(
            message.contains(&hard.display().to_string())
                && message.contains("hard link")
                && message.contains("remove the other links"),
            "{message}"
        );
        // Readers too, under either name, while the file has two.
        assert!(matches!(StoreReader::open(&hard), Err(StoreError::Linked { .. })));
        assert!(matches!(StoreReader::open(&alias), Err(StoreError::Linked { .. })));
        std::fs::remove_file(&hard).unwrap();
        StoreReader::open(&alias).unwrap();
        first.close().unwrap();
        Store::open_existing(&alias).unwrap().close().unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_to_a_store_not_yet_created_locks_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("new.db");
        let alias = dir.path().join("alias.db");
        std::os::unix::fs::symlink("new.db", &alias).unwrap();
        let first = Store::open(&alias, &MonitorConfig::default()).unwrap();
        assert!(target.is_file(), "the store is created where the symlink points");
        let refused = Store::open(&target, &MonitorConfig::default()).unwrap_err();
        assert!(matches!(refused, StoreError::Held { .. }), "{refused:?}");
        first.close().unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_store_path_resolves_to_an_absolute_path_through_its_folders_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().canonicalize().unwrap().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink("real", dir.path().join("linked")).unwrap();
        // A folder reached through a symlink: the folder's own path.
        assert_eq!(resolve(&dir.path().join("linked").join("s.db")), real.join("s.db"));
        // A bare file name: in the current folder, made absolute.
        let here = std::env::current_dir().unwrap().canonicalize().unwrap();
        assert_eq!(resolve(Path::new("s.db")), here.join("s.db"));
    }

    #[test]
    fn a_lock_file_left_by_a_dead_process_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let stale = Holder { pid: 999_999, command: "siglearn run".into(), address: Some("http://x".into()) };
        std::fs::write(lock_path(&db), serde_json::to_string(&stale).unwrap()).unwrap();
        Store::open(&db, &MonitorConfig::default()).unwrap().close().unwrap();
    }
}
