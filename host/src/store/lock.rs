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

/// The path of the lock file of the store at `store`.
fn lock_path(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
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
    store: PathBuf,
}

impl WriteLock {
    /// Takes the lock of the store at `store`, or says who holds it.
    pub fn acquire(store: &Path) -> Result<Self, StoreError> {
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
        Ok(WriteLock { _file: file, store: store.to_path_buf() })
    }
}

impl WriteLock {
    /// The store it locks.
    pub fn store(&self) -> &Path {
        &self.store
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
    use crate::store::Store;

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

    #[test]
    fn a_lock_file_left_by_a_dead_process_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let stale = Holder { pid: 999_999, command: "siglearn run".into(), address: Some("http://x".into()) };
        std::fs::write(lock_path(&db), serde_json::to_string(&stale).unwrap()).unwrap();
        Store::open(&db, &MonitorConfig::default()).unwrap().close().unwrap();
    }
}
