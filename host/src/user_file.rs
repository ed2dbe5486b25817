//! Files in places a user controls: the strategy code and config siglearn
//! reads, and the files it keeps for itself beside a store.
//!
//! [`read`] is the one way code and config files are read. A folder such
//! as `scripts/` may hold anything, so the file is opened without blocking
//! (`O_NONBLOCK`: a FIFO opened for reading otherwise waits in `open` for a
//! writer, forever), the opened handle must be a regular file (a FIFO, a
//! socket or a device such as `/dev/zero`, directly or through a symlink,
//! is refused), and at most its [`Kind`]'s limit is read (`/dev/zero` or a
//! wrong file of gigabytes never fills memory). The error names the file
//! and the fix, and says whether trying again may succeed
//! ([`ReadError::is_transient`]: out of file descriptors, interrupted), so
//! that a hot reload is retried rather than left refused.
//!
//! [`open_own`] opens a file siglearn keeps for itself in a user's folder
//! (a store's lock file) without following a symlink planted in its place:
//! a `s.db.lock -> victim` would otherwise have siglearn overwrite the
//! victim. SQLite opens its own files (`-wal`, `-shm`, the store resolved
//! once) with `O_NOFOLLOW` already.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

/// What a file read by [`read`] is, which bounds its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A Rhai script: 4 MiB, some hundred times the largest shipped one.
    Script,
    /// A plugin library: 256 MiB, room for a debug build with symbols.
    Library,
    /// A TOML config: 1 MiB.
    Config,
}

impl Kind {
    /// The most bytes a file of this kind may have.
    pub const fn max_bytes(self) -> u64 {
        const MIB: u64 = 1 << 20;
        match self {
            Kind::Script => 4 * MIB,
            Kind::Library => 256 * MIB,
            Kind::Config => MIB,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::Script => "script",
            Kind::Library => "plugin library",
            Kind::Config => "config file",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.noun())
    }
}

/// Why a file could not be read, without its path (for messages that name
/// the file already).
#[derive(Debug)]
pub enum Problem {
    Io(std::io::Error),
    /// What it is instead (`a FIFO (named pipe)`, ...).
    NotRegular(&'static str),
    /// More than `max` bytes.
    TooLarge {
        max: u64,
    },
    NotUtf8,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Io(error) => write!(f, "{error}"),
            Problem::NotRegular(what) => write!(
                f,
                "it is {what}, not a regular file; code and config are read only from regular files \
                 (a symlink to one is fine): put the file itself there, or move this one out"
            ),
            Problem::TooLarge { max } => write!(
                f,
                "it is larger than {} MiB, the most siglearn reads of such a file; check that it is \
                 the right file",
                max >> 20
            ),
            Problem::NotUtf8 => write!(f, "it is not UTF-8 text; save it as UTF-8"),
        }
    }
}

/// A code or config file that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the {kind} {}: {problem}", path.display())]
pub struct ReadError {
    pub path: PathBuf,
    pub kind: Kind,
    pub problem: Problem,
}

impl ReadError {
    /// Whether the read failed for a passing reason of the system (out of
    /// file descriptors or memory, interrupted), so that reading again
    /// later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(&self.problem, Problem::Io(error) if transient(error))
    }
}

/// Whether `error` is a passing shortage or interruption rather than
/// something about the file.
pub fn transient(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    if matches!(error.kind(), ErrorKind::Interrupted | ErrorKind::WouldBlock | ErrorKind::OutOfMemory) {
        return true;
    }
    #[cfg(unix)]
    if let Some(code) = error.raw_os_error() {
        return [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM, libc::EAGAIN, libc::EINTR]
            .contains(&code);
    }
    false
}

/// Reads the code or config file at `path`: a regular file (or a symlink
/// to one) of at most `kind`'s [`Kind::max_bytes`].
pub fn read(path: &Path, kind: Kind) -> Result<Vec<u8>, ReadError> {
    let fail = |problem| ReadError { path: path.to_path_buf(), kind, problem };
    #[cfg(test)]
    if let Some(code) = INJECTED.take() {
        return Err(fail(Problem::Io(std::io::Error::from_raw_os_error(code))));
    }
    let file = open_nonblocking(path).map_err(|e| fail(Problem::Io(e)))?;
    let meta = file.metadata().map_err(|e| fail(Problem::Io(e)))?;
    if !meta.is_file() {
        return Err(fail(Problem::NotRegular(describe(&meta.file_type()))));
    }
    let max = kind.max_bytes();
    if meta.len() > max {
        return Err(fail(Problem::TooLarge { max }));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // One byte past the limit tells a file that grew while read.
    file.take(max + 1).read_to_end(&mut bytes).map_err(|e| fail(Problem::Io(e)))?;
    if bytes.len() as u64 > max {
        return Err(fail(Problem::TooLarge { max }));
    }
    Ok(bytes)
}

/// [`read`], as UTF-8 text.
pub fn read_text(path: &Path, kind: Kind) -> Result<String, ReadError> {
    String::from_utf8(read(path, kind)?).map_err(|_| ReadError {
        path: path.to_path_buf(),
        kind,
        problem: Problem::NotUtf8,
    })
}

#[cfg(test)]
thread_local! {
    /// An OS error the next [`read`] on this thread fails with.
    static INJECTED: std::cell::Cell<Option<i32>> = const { std::cell::Cell::new(None) };
}

/// Has the next [`read`] on this thread fail with the OS error `code`, as
/// if the system had run out of file descriptors (`libc::EMFILE`).
#[cfg(test)]
pub(crate) fn fail_next_read(code: i32) {
    INJECTED.set(Some(code));
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

/// What a file that is not a regular file is, for a message.
fn describe(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_char_device() {
            return "a character device (such as /dev/zero)";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() { "a folder" } else { "not a plain file" }
}

/// A file siglearn keeps for itself that is not one: a symlink or anything
/// but a regular file with one name stands where it would be.
#[derive(Debug, thiserror::Error)]
pub enum OwnFileError {
    #[error(
        "{p} is {what}, where siglearn keeps a file of its own; siglearn neither follows nor \
         overwrites it (a planted link would have it write over the link's target): remove {p} \
         (siglearn makes the file again)",
        p = path.display()
    )]
    Planted { path: PathBuf, what: &'static str },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

impl OwnFileError {
    /// The OS error, if that is what it was.
    pub fn io(&self) -> Option<&std::io::Error> {
        match self {
            OwnFileError::Io { source, .. } => Some(source),
            OwnFileError::Planted { .. } => None,
        }
    }
}

/// Opens, for reading and writing, the file siglearn keeps for itself at
/// `path` (created if missing, never truncated here), refusing a symlink in
/// its place (`O_NOFOLLOW`), and anything but a regular file with one name
/// (a hard link to another file would be written through as well).
pub fn open_own(path: &Path) -> Result<File, OwnFileError> {
    let planted = |what| OwnFileError::Planted { path: path.to_path_buf(), what };
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|source| {
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            planted("a symlink")
        } else {
            OwnFileError::Io { path: path.to_path_buf(), source }
        }
    })?;
    let meta = file.metadata().map_err(|source| OwnFileError::Io { path: path.to_path_buf(), source })?;
    if !meta.is_file() {
        return Err(planted(describe(&meta.file_type())));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() > 1 {
            return Err(planted("a hard link to another file"));
        }
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_is_read_whole_up_to_its_kind_s_limit_and_refused_past_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.toml");
        let max = Kind::Config.max_bytes() as usize;
        std::fs::write(&path, vec![b'#'; max]).unwrap();
        assert_eq!(read(&path, Kind::Config).unwrap().len(), max);
        std::fs::write(&path, vec![b'#'; max + 1]).unwrap();
        let error = read(&path, Kind::Config).unwrap_err();
        assert!(matches!(error.problem, Problem::TooLarge { max: 1_048_576 }), "{error:?}");
        let message = error.to_string();
        assert!(
            message.contains(&path.display().to_string())
                && message.contains("larger than 1 MiB")
                && message.contains("check that it is the right file"),
            "{message}"
        );
        assert!(!error.is_transient());
    }

    #[test]
    fn a_script_may_have_4_mib_and_a_plugin_library_256_mib() {
        let dir = tempfile::tempdir().unwrap();
        // Sparse files: the sizes are set, not written.
        let script = dir.path().join("a.rhai");
        let file = File::create(&script).unwrap();
        file.set_len(4_194_304).unwrap(); // 4 x 2^20
        assert_eq!(read(&script, Kind::Script).unwrap().len(), 4_194_304);
        file.set_len(4_194_305).unwrap();
        let error = read(&script, Kind::Script).unwrap_err();
        assert!(matches!(error.problem, Problem::TooLarge { max: 4_194_304 }), "{error:?}");
        assert!(error.to_string().contains("larger than 4 MiB"), "{error}");
        // Refused by its size before a byte is read.
        let library = dir.path().join("a.so");
        File::create(&library).unwrap().set_len(268_435_457).unwrap(); // 256 x 2^20, and one
        let error = read(&library, Kind::Library).unwrap_err();
        assert!(matches!(error.problem, Problem::TooLarge { max: 268_435_456 }), "{error:?}");
        assert!(
            error.to_string().contains("cannot read the plugin library")
                && error.to_string().contains("larger than 256 MiB"),
            "{error}"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_file_longer_than_its_stated_size_is_refused_past_the_limit_not_cut_at_it() {
        // A file in /proc states a size of 0 and holds more, as a file that
        // grows while it is read does: the limit is found by reading one byte
        // past it. /proc/kallsyms holds megabytes where the kernel lists its
        // symbols; a system where it does not (a sandbox) has no such file
        // to test with.
        let path = Path::new("/proc/kallsyms");
        let Ok(whole) = std::fs::read(path) else { return };
        if whole.len() as u64 <= Kind::Config.max_bytes() {
            return;
        }
        let error = read(path, Kind::Config).unwrap_err();
        assert!(matches!(error.problem, Problem::TooLarge { max: 1_048_576 }), "{error:?}");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_or_a_link_to_a_device_is_refused_without_waiting_or_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("direct.rhai");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        // No writer ever opens it: a blocking open would never return.
        let error = read(&fifo, Kind::Script).unwrap_err();
        assert!(matches!(error.problem, Problem::NotRegular("a FIFO (named pipe)")), "{error:?}");
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("cannot read the script {}: it is a FIFO", fifo.display()))
                && message.contains("put the file itself there"),
            "{message}"
        );
        let zero = dir.path().join("zero.rhai");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let error = read_text(&zero, Kind::Script).unwrap_err();
        assert!(matches!(error.problem, Problem::NotRegular("a character device (such as /dev/zero)")));
        let folder = dir.path().join("folder.so");
        std::fs::create_dir(&folder).unwrap();
        assert!(matches!(read(&folder, Kind::Library).unwrap_err().problem, Problem::NotRegular("a folder")));
    }

    #[cfg(unix)]
    #[test]
    fn a_config_that_is_a_fifo_is_refused_naming_it_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("siglearn.toml");
        assert!(std::process::Command::new("mkfifo").arg(&path).status().unwrap().success());
        // On a thread of its own: a reader that opened the FIFO as a file
        // would wait in open() for ever.
        let (done, finished) = std::sync::mpsc::channel();
        let config = path.clone();
        std::thread::spawn(move || {
            let _ = done.send(crate::config::Config::load(&config).map(|_| ()).map_err(|e| e.to_string()));
        });
        let loaded = finished.recv_timeout(std::time::Duration::from_secs(120));
        let error = loaded.expect("the config read waits on the FIFO").unwrap_err();
        assert!(
            error.contains(&path.display().to_string())
                && error.contains("cannot read it: it is a FIFO (named pipe), not a regular file"),
            "{error}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn running_out_of_file_descriptors_is_transient_and_a_missing_file_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.rhai");
        std::fs::write(&path, "fn decide(s) { true }").unwrap();
        fail_next_read(libc::EMFILE);
        let error = read_text(&path, Kind::Script).unwrap_err();
        assert!(error.is_transient(), "{error}");
        assert!(error.to_string().contains("Too many open files"), "{error}");
        assert_eq!(read_text(&path, Kind::Script).unwrap(), "fn decide(s) { true }", "only the next read");
        let missing = read(&dir.path().join("missing.rhai"), Kind::Script).unwrap_err();
        assert!(!missing.is_transient(), "{missing}");
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert!(matches!(read_text(&path, Kind::Script).unwrap_err().problem, Problem::NotUtf8));
    }

    #[cfg(unix)]
    #[test]
    fn an_own_file_is_never_opened_through_a_planted_symlink_or_hard_link() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "IMPORTANT DATA").unwrap();
        let lock = dir.path().join("s.db.lock");
        std::os::unix::fs::symlink("victim.txt", &lock).unwrap();
        let error = open_own(&lock).unwrap_err();
        assert!(matches!(error, OwnFileError::Planted { what: "a symlink", .. }), "{error:?}");
        assert!(error.to_string().contains(&format!("remove {}", lock.display())), "{error}");
        std::fs::remove_file(&lock).unwrap();
        std::fs::hard_link(&victim, &lock).unwrap();
        let error = open_own(&lock).unwrap_err();
        assert!(matches!(error, OwnFileError::Planted { what: "a hard link to another file", .. }));
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "IMPORTANT DATA");
        std::fs::remove_file(&lock).unwrap();
        open_own(&lock).unwrap();
        assert!(std::fs::symlink_metadata(&lock).unwrap().is_file(), "made when missing");
    }

    #[cfg(unix)]
    #[test]
    fn an_own_file_that_cannot_be_opened_gives_the_os_error_and_a_planted_one_none() {
        let dir = tempfile::tempdir().unwrap();
        let error = open_own(&dir.path().join("missing").join("s.db.lock")).unwrap_err();
        assert_eq!(error.io().map(std::io::Error::kind), Some(std::io::ErrorKind::NotFound), "{error:?}");
        let lock = dir.path().join("s.db.lock");
        std::os::unix::fs::symlink("victim.txt", &lock).unwrap();
        let error = open_own(&lock).unwrap_err();
        assert!(error.io().is_none(), "{error:?}");
    }
}
