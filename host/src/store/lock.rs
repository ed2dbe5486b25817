//! The write lock of a store: one writing process at a time.
//!
//! Whoever opens a [`super::Store`] (the daemon, `replay --db`, `rollback`,
//! `promote`) takes an exclusive lock on the store file itself, and on the
//! file `<store>.lock` beside it, and holds both until the store is closed.
//! The locks are the operating system's (`flock` on Unix, `LockFileEx` on
//! Windows, through the `fs4` crate): they end with the process, however
//! the process ends, so a daemon killed with `kill -9` leaves no stale lock
//! behind, and the files left over are simply taken by the next writer.
//! The lock file says who holds it (pid, command and, for a daemon, its
//! address), so that a refused writer can be told what to do.
//!
//! The lock on the store file is what excludes: a lock file can be deleted
//! while its holder runs (a tmp cleaner, an operator removing "a stale
//! lock"), and the next writer would make a new one and take it, but the
//! store cannot be deleted away from itself. SQLite locks with POSIX
//! `fcntl` byte-range locks, which on Linux are independent of `flock`
//! (flock(2): "there is no interaction between the types of lock placed by
//! flock() and fcntl(2)"), so the store's `flock` leaves SQLite's readers
//! and writer alone. That holds on Linux (and Android) only: on the BSDs
//! and macOS the two kinds of lock interact (the same man page), and on
//! Windows `LockFileEx` would bar SQLite's own reads, so there the lock
//! file alone excludes, as before. (Over NFS Linux emulates `flock` with
//! `fcntl` locks too; a store there is not supported anyway, as SQLite's
//! write-ahead log needs shared memory.) The store file's handle stays open
//! until the store's connection is closed: closing a handle of a file
//! drops every POSIX lock the process holds on it, SQLite's too
//! (<https://sqlite.org/howtocorrupt.html>, section 2.2), so the lock is
//! the last thing a [`super::Store`] drops.
//!
//! A store that does not exist yet is locked when the writer makes it
//! ([`WriteLock::hold_store`], before SQLite opens it: an empty file is an
//! empty database to SQLite); until then the lock file excludes alone.
//!
//! A store has one name: the lock is taken beside the file a symlink
//! points to (SQLite itself opens the file a symlink points to), and a store
//! file with more than one hard link is refused, by writers and readers
//! alike, since its lock and its write-ahead log would follow the name
//! used, not the file ([`one_name`]). The lock file is siglearn's own: it is
//! never opened through a symlink or a hard link planted in its place
//! ([`crate::user_file::open_own`]).

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

/// An exclusive hold on a store (its file, once it exists, and its lock
/// file), released when dropped. A command that writes a store takes it
/// before it reads anything from the store to decide, so a store another
/// process writes is refused with the holder named, whatever else is wrong,
/// and nothing read can change under it.
#[derive(Debug)]
pub struct WriteLock {
    /// The store file, locked ([`WriteLock::hold_store`]); `None` until it
    /// exists, and where its lock would bar SQLite (see the module's notes).
    store_file: Option<File>,
    /// The lock file, locked, naming the holder.
    _lock_file: File,
    /// The store's path as given.
    store: PathBuf,
    /// Its one path ([`resolve`]).
    file: PathBuf,
}

/// Whether the store file itself is locked here (see the module's notes).
const LOCKS_STORE_FILE: bool = cfg!(any(target_os = "linux", target_os = "android"));

impl WriteLock {
    /// Takes the lock of the store at `store`, or says who holds it. A
    /// store file with another name (a hard link) is refused, and so is a
    /// symlink or hard link in the place of its lock file.
    pub fn acquire(store: &Path) -> Result<Self, StoreError> {
        one_name(store)?;
        let file = resolve(store);
        let mut lock = None;
        // The store's own lock first: the one that holds whatever happened
        // to the lock file.
        if LOCKS_STORE_FILE && file.exists() {
            lock = Some(lock_store(store, &file, false)?);
        }
        let path = lock_path(store);
        let mut lock_file = open_lock_file(&path)?;
        let failed = |source| StoreError::Lock { path: path.clone(), source };
        if !fs4::fs_std::FileExt::try_lock_exclusive(&lock_file).map_err(failed)? {
            return Err(StoreError::Held { path: store.to_path_buf(), holder: read_holder(&mut lock_file) });
        }
        write_holder(&mut lock_file, &Holder::this_process(None)).map_err(failed)?;
        // Checked again under the lock: a link made since is refused too.
        one_name(store)?;
        Ok(WriteLock { store_file: lock, _lock_file: lock_file, store: store.to_path_buf(), file })
    }

    /// Locks the store file too, making it (empty) if it does not exist
    /// yet; a no-op once it is locked. Called by the writer before SQLite
    /// opens the store: another writer that got past the lock file meanwhile
    /// (it was deleted) is refused here, before it writes anything.
    pub(super) fn hold_store(&mut self) -> Result<(), StoreError> {
        if LOCKS_STORE_FILE && self.store_file.is_none() {
            self.store_file = Some(lock_store(&self.store, &self.file, true)?);
        }
        Ok(())
    }

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

/// Opens the store file `file` (the one path of `store`) and locks it; with
/// `create`, an empty file is made when there is none (SQLite reads an
/// empty file as an empty database, and makes it a store). Never through a
/// symlink (`file` is resolved) and never waiting on a FIFO.
fn lock_store(store: &Path, file: &Path, create: bool) -> Result<File, StoreError> {
    let failed = |source| StoreError::Lock { path: file.to_path_buf(), source };
    let opened = match open_store_file(file) {
        Err(error) if create && error.kind() == std::io::ErrorKind::NotFound => {
            make_store_file(file).or_else(|error| match error.kind() {
                // Made by another writer meanwhile: lock theirs.
                std::io::ErrorKind::AlreadyExists => open_store_file(file),
                _ => Err(error),
            })
        }
        other => other,
    }
    .map_err(failed)?;
    if !opened.metadata().map_err(failed)?.is_file() {
        return Err(StoreError::NotAStore {
            path: store.to_path_buf(),
            what: "not a regular file, so not a siglearn store",
        });
    }
    // A flock belongs to an open file, which a child process forked by this
    // one shares until it runs its program (whatever O_CLOEXEC says): a lock
    // just released can look held for that moment. A few short tries ride
    // it out; a real second writer is still refused, 0.2 s later.
    for attempt in 0..20 {
        if fs4::fs_std::FileExt::try_lock_exclusive(&opened).map_err(failed)? {
            return Ok(opened);
        }
        if attempt < 19 {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    Err(StoreError::Held { path: store.to_path_buf(), holder: holder_of(store) })
}

#[cfg(unix)]
fn open_store_file(file: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // Read-only is enough for flock, and leaves a read-only store to the
    // writer's own clearer refusal.
    OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(file)
}

#[cfg(not(unix))]
fn open_store_file(file: &Path) -> std::io::Result<File> {
    File::open(file)
}

#[cfg(unix)]
fn make_store_file(file: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // SQLite's own mode for a new database (SQLITE_DEFAULT_FILE_PERMISSIONS).
    OpenOptions::new().write(true).create_new(true).mode(0o644).open(file)
}

#[cfg(not(unix))]
fn make_store_file(file: &Path) -> std::io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(file)
}

/// Adds the daemon's address to the lock file of the store at `store`,
/// which this process holds.
pub fn announce(store: &Path, address: &str) -> Result<(), StoreError> {
    let path = lock_path(store);
    let mut file = open_lock_file(&path)?;
    write_holder(&mut file, &Holder::this_process(Some(address.to_owned())))
        .map_err(|source| StoreError::Lock { path: path.clone(), source })
}

/// Opens the lock file at `path` ([`crate::user_file::open_own`]: never
/// through a symlink or hard link planted there).
fn open_lock_file(path: &Path) -> Result<File, StoreError> {
    crate::user_file::open_own(path).map_err(|error| match error {
        crate::user_file::OwnFileError::Io { source, .. } => {
            StoreError::Lock { path: path.to_path_buf(), source }
        }
        planted => StoreError::Planted(planted),
    })
}

fn write_holder(file: &mut File, holder: &Holder) -> std::io::Result<()> {
    let text = serde_json::to_string(holder).map_err(std::io::Error::other)?;
    file.set_len(0)?;
    file.rewind()?;
    file.write_all(text.as_bytes())?;
    file.flush()
}

/// The holder the lock file of the store at `store` names, read without
/// following a symlink; `None` without one.
fn holder_of(store: &Path) -> Option<Holder> {
    let path = lock_path(store);
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let mut file = options.open(path).ok().filter(|f| f.metadata().is_ok_and(|m| m.is_file()))?;
    read_holder(&mut file)
}

/// The holder a lock file names; `None` while the holder has not written it
/// yet, or for a file written by something else.
fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = String::new();
    file.rewind().ok()?;
    Read::take(&mut *file, 4096).read_to_string(&mut text).ok()?;
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

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn a_deleted_lock_file_lets_no_second_writer_in_and_readers_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let first = Store::open(&db, &MonitorConfig::default()).unwrap();
        announce(&db, "http://127.0.0.1:7878").unwrap();
        // A tmp cleaner, or an operator removing "a stale lock".
        std::fs::remove_file(lock_path(&db)).unwrap();
        for refused in [Store::open_existing(&db), Store::open(&db, &MonitorConfig::default())] {
            let refused = refused.unwrap_err();
            assert!(matches!(refused, StoreError::Held { .. }), "{refused:?}");
            assert!(refused.to_string().contains("holds the write lock of the store"), "{refused}");
        }
        // The refused writers made a new lock file, but the store is still
        // the first writer's, and a reader reads it beside that writer.
        assert!(!StoreReader::open(&db).unwrap().holds_run().unwrap());
        first.close().unwrap();
        Store::open_existing(&db).unwrap().close().unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_planted_as_the_lock_file_is_refused_and_its_target_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "IMPORTANT DATA").unwrap();
        let lock = dir.path().join("s.db.lock");
        std::os::unix::fs::symlink("victim.txt", &lock).unwrap();
        let refused = Store::open(&db, &MonitorConfig::default()).unwrap_err();
        assert!(matches!(refused, StoreError::Planted(_)), "{refused:?}");
        let message = refused.to_string();
        assert!(
            message.starts_with(&format!("{} is a symlink", lock.display()))
                && message.contains(&format!("remove {}", lock.display())),
            "{message}"
        );
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "IMPORTANT DATA");
        std::fs::remove_file(&lock).unwrap();
        Store::open(&db, &MonitorConfig::default()).unwrap().close().unwrap();
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

    #[cfg(unix)]
    #[test]
    fn a_store_that_is_a_fifo_is_refused_as_not_a_store_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        assert!(std::process::Command::new("mkfifo").arg(&db).status().unwrap().success());
        // On a thread of its own: opening the FIFO to read it as a file
        // would wait in open() for a writer, for ever.
        let (done, finished) = std::sync::mpsc::channel();
        let fifo = db.clone();
        std::thread::spawn(move || {
            let _ = done.send(WriteLock::acquire(&fifo).map(|_| ()).map_err(|e| e.to_string()));
        });
        let acquired = finished.recv_timeout(std::time::Duration::from_secs(120));
        let error = acquired.expect("the lock waits on the FIFO").unwrap_err();
        assert!(error.contains("not a regular file, so not a siglearn store"), "{error}");
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn a_symlink_planted_as_the_lock_file_of_a_held_store_names_no_holder() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let first = Store::open(&db, &MonitorConfig::default()).unwrap();
        // The lock file replaced by a link to a file naming someone else.
        let planted = Holder { pid: 4242, command: "planted".into(), address: Some("http://planted".into()) };
        let decoy = dir.path().join("decoy.json");
        std::fs::write(&decoy, serde_json::to_string(&planted).unwrap()).unwrap();
        std::fs::remove_file(lock_path(&db)).unwrap();
        std::os::unix::fs::symlink("decoy.json", lock_path(&db)).unwrap();
        // The store's own lock refuses the second writer, and the holder is
        // read from the lock file only, never through a link.
        match Store::open_existing(&db).unwrap_err() {
            StoreError::Held { holder, .. } => assert_eq!(holder, None),
            other => panic!("expected Held, got {other:?}"),
        }
        first.close().unwrap();
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
