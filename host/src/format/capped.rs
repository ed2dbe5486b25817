//! Input files read with a bound on the length of a line, so that a file
//! that is not lines at all (`/dev/zero`, a binary file, a symlink to a
//! device) is refused instead of read into memory until the process is
//! out of it. The bound is far above any row siglearn reads (a signal with
//! 256 heads and 256 indicators is some 20 KB).

use std::io::{self, Read, Seek, SeekFrom};

/// The longest line a data file may hold, in bytes.
pub(super) const MAX_LINE_BYTES: usize = 1 << 20;

/// A reader that fails, and keeps failing, once more than `limit` bytes
/// come without a line break.
#[derive(Debug)]
pub(crate) struct Capped<R> {
    inner: R,
    limit: usize,
    since_break: usize,
    failed: bool,
}

impl<R> Capped<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self::with_limit(inner, MAX_LINE_BYTES)
    }

    fn with_limit(inner: R, limit: usize) -> Self {
        Capped { inner, limit, since_break: 0, failed: false }
    }

    fn too_long(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "a line is longer than {} bytes: this is not a CSV or JSON Lines file (check the path)",
                self.limit
            ),
        )
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failed {
            return Err(self.too_long());
        }
        let n = self.inner.read(buf)?;
        let read = &buf[..n];
        // Each line of this read, the first continuing the last read's.
        let (mut run, mut start) = (self.since_break, 0);
        for at in memchr::memchr_iter(b'\n', read).chain([n]) {
            run += at - start;
            if run > self.limit {
                self.failed = true;
                return Err(self.too_long());
            }
            if at < n {
                (run, start) = (0, at + 1);
            }
        }
        self.since_break = run;
        Ok(n)
    }
}

impl<R: Seek> Seek for Capped<R> {
    /// Seeks are to the start of a row (a csv position), so the count of a
    /// line starts again.
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.since_break = 0;
        self.inner.seek(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &[u8], limit: usize, chunk: usize) -> io::Result<Vec<u8>> {
        /// Hands out at most `chunk` bytes a read, as a pipe may.
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(self.1);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut out = Vec::new();
        Capped::with_limit(Trickle(text, chunk), limit).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn lines_up_to_the_limit_pass_whatever_the_reads_and_one_byte_more_fails() {
        for chunk in [1, 2, 3, 7, 64] {
            // Lines of 4 bytes and their breaks: at a limit of 4, all pass.
            let text = b"abcd\nefgh\n\nijkl";
            assert_eq!(read_all(text, 4, chunk).unwrap(), text, "chunk {chunk}");
            // A line of 5 bytes: refused, wherever the reads cut it.
            let error = read_all(b"ab\nabcde\nx", 4, chunk).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidData, "chunk {chunk}");
            assert!(error.to_string().contains("longer than 4 bytes"), "{error}");
        }
    }

    #[test]
    fn an_endless_line_is_refused_once_past_the_limit_and_stays_refused() {
        let mut zeros = Capped::with_limit(io::repeat(0), 1000);
        let mut buf = [0u8; 300];
        let mut read = 0;
        let error = loop {
            match zeros.read(&mut buf) {
                Ok(n) => read += n,
                Err(error) => break error,
            }
        };
        assert_eq!(read, 900, "three reads of 300 pass, the fourth passes the limit");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(zeros.read(&mut buf).is_err(), "still refused");
    }
}
