//! The one way a command writes a file named by the user (`--output`, the
//! trail's manifest, and any later `--output`/`--output-dir` file): SPEC §9
//! "no output destroys data".
//!
//! ```ignore
//! let mut out = outfile::create(&path, args.force, db_url)?; // checks, temp file
//! out.write_all(...)?;                                         // io::Write
//! out.commit()?;                                               // rename into place
//! ```
//!
//! - An existing file (or symlink, even a dangling one) at `path` is refused
//!   unless `force`.
//! - The bytes go to a fresh temporary file (O_EXCL) in the same directory,
//!   renamed over `path` at `commit`: a symlink planted at `path` is replaced,
//!   never followed, and a failed command leaves no half-written output.
//!   Dropped without `commit`, the temporary file is removed.
//! - The open SQLite database and its `-wal`/`-shm`/`-journal` files are never
//!   an output, with or without `force` (canonical path and inode compared).

use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A file being written; invisible at its final path until [`OutputFile::commit`].
pub struct OutputFile {
    tmp: std::io::BufWriter<tempfile::NamedTempFile>,
    path: PathBuf,
    force: bool,
    /// Bytes written through (some may still be in `tmp`'s buffer).
    written_bytes: u64,
    /// Bytes whose write-back to disk has been started.
    write_back_bytes: u64,
    /// Bytes written out and dropped from the page cache (Linux).
    dropped_bytes: u64,
    write_back_every_bytes: u64,
}

/// Bytes between two starts of the kernel's write-back of the temporary
/// file. `commit` syncs the file before renaming it; left to the end, that
/// sync wrote a 1.2 GB trail out all at once (2.5 s of the 1M-voucher trail's
/// 7 s, ADR 0005). Started as the file grows, the disk writes while the
/// trail is still being made, and the sync waits for the last piece only.
/// One step later the piece is waited for and dropped from the page cache
/// ([`OutputFile::start_write_back`]).
const WRITE_BACK_EVERY_BYTES: u64 = 32 << 20;

/// Checks `path` and opens a temporary file beside it. `db_url` is the
/// command's `--db` (only a `sqlite:` one names files that must be protected).
pub fn create(path: &Path, force: bool, db_url: &str) -> Result<OutputFile> {
    let shown = crate::escape::path(path);
    refuse_database(path, db_url, &shown)?;
    if !force && std::fs::symlink_metadata(path).is_ok() {
        bail!("{shown} already exists; pass --force to replace it");
    }
    let file_name = path
        .file_name()
        .with_context(|| format!("{shown}: not a file name"))?;
    let dir = parent_dir(path);
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", file_name.to_string_lossy()))
        .suffix(".tmp")
        .tempfile_in(&dir)
        .with_context(|| format!("creating a temporary file beside {shown}"))?;
    Ok(OutputFile {
        tmp: std::io::BufWriter::new(tmp),
        path: path.to_path_buf(),
        force,
        written_bytes: 0,
        write_back_bytes: 0,
        dropped_bytes: 0,
        write_back_every_bytes: WRITE_BACK_EVERY_BYTES,
    })
}

impl OutputFile {
    /// Flushes and syncs the bytes, then renames them to the final path.
    /// Without `force` the rename refuses a file that appeared meanwhile.
    pub fn commit(self) -> Result<()> {
        let shown = crate::escape::path(&self.path);
        let tmp = self
            .tmp
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("writing {shown}"))?;
        tmp.as_file()
            .sync_all()
            .with_context(|| format!("writing {shown}"))?;
        let persisted = if self.force {
            tmp.persist(&self.path).map(drop)
        } else {
            tmp.persist_noclobber(&self.path).map(drop)
        };
        persisted.map_err(|e| match e.error.kind() {
            std::io::ErrorKind::AlreadyExists => {
                anyhow::anyhow!("{shown} already exists; pass --force to replace it")
            }
            _ => anyhow::Error::new(e.error).context(format!("writing {shown}")),
        })
    }

    /// Starts the write-back of what reached the file since the last start:
    /// a hint to the kernel (Linux), not a sync; `commit` still syncs all.
    /// The piece started one step before is waited for and dropped from
    /// the page cache: a 1.3 GB trail (12 GB at 10M vouchers) then holds
    /// two steps of cache, not its whole length, and evicts nothing the
    /// ledger's own reads need; and on a virtual machine every new page the
    /// kernel takes for the cache is first touched at a cost (3.1–3.6 s of
    /// system time for a 1M trail, against about 1 s with pages it reused,
    /// ADR 0005 decision 20). Dropping clean pages loses nothing: they are
    /// on disk, and `commit` still syncs.
    fn start_write_back(&mut self) {
        let on_file_bytes = self.written_bytes - self.tmp.buffer().len() as u64;
        let (drop, start) =
            write_back_ranges(self.dropped_bytes, self.write_back_bytes, on_file_bytes);
        let file = self.tmp.get_ref().as_file();
        write_back::wait_and_drop(file, drop.start, drop.end - drop.start);
        write_back::start(file, start.start, start.end - start.start);
        self.dropped_bytes = drop.end;
        self.write_back_bytes = start.end;
    }
}

/// The byte ranges of one write-back step: the one started at the step
/// before, to wait for and drop, and the one reaching the file's end, to
/// start. Dropped <= started <= on the file, always.
fn write_back_ranges(
    dropped_bytes: u64,
    started_bytes: u64,
    on_file_bytes: u64,
) -> (std::ops::Range<u64>, std::ops::Range<u64>) {
    assert!(
        dropped_bytes <= started_bytes && started_bytes <= on_file_bytes,
        "write-back ranges out of order: {dropped_bytes} {started_bytes} {on_file_bytes}"
    );
    (dropped_bytes..started_bytes, started_bytes..on_file_bytes)
}

#[cfg(target_os = "linux")]
mod write_back {
    use std::os::fd::AsRawFd;

    /// Waits for the range's write-back (starting it for any page dirtied
    /// since) and tells the kernel its pages are not needed: clean pages
    /// leave the page cache. Both are hints; an error is left to the sync
    /// at `commit`.
    pub(super) fn wait_and_drop(file: &std::fs::File, offset_bytes: u64, len_bytes: u64) {
        let (Ok(offset), Ok(len)) = (i64::try_from(offset_bytes), i64::try_from(len_bytes)) else {
            return;
        };
        if len == 0 {
            return;
        }
        let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
            | libc::SYNC_FILE_RANGE_WRITE
            | libc::SYNC_FILE_RANGE_WAIT_AFTER;
        // SAFETY: plain system calls on a file descriptor `file` owns and
        // keeps open for the calls; no memory is passed.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), offset, len, flags);
            libc::posix_fadvise(file.as_raw_fd(), offset, len, libc::POSIX_FADV_DONTNEED);
        }
    }

    /// `sync_file_range(SYNC_FILE_RANGE_WRITE)`: queues the range's dirty
    /// pages for writing and returns. An error is left to the sync at
    /// `commit`, which reports any failure to write.
    pub(super) fn start(file: &std::fs::File, offset_bytes: u64, len_bytes: u64) {
        let (Ok(offset), Ok(len)) = (i64::try_from(offset_bytes), i64::try_from(len_bytes)) else {
            return;
        };
        // SAFETY: a plain system call on a file descriptor `file` owns and
        // keeps open for the call; no memory is passed.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod write_back {
    /// No early write-back here: `commit`'s sync writes it all.
    pub(super) fn start(_file: &std::fs::File, _offset_bytes: u64, _len_bytes: u64) {}
    /// Nor any page dropped.
    pub(super) fn wait_and_drop(_file: &std::fs::File, _offset_bytes: u64, _len_bytes: u64) {}
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.tmp.write(buf)?;
        self.written_bytes += n as u64;
        if self.written_bytes - self.write_back_bytes >= self.write_back_every_bytes {
            self.start_write_back();
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.tmp.flush()
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `dir/name` with `dir` resolved (symlinks, `..`); the name itself is not
/// followed, since the output replaces that directory entry.
fn canonical_entry(path: &Path) -> Option<PathBuf> {
    let dir = std::fs::canonicalize(parent_dir(path)).ok()?;
    Some(dir.join(path.file_name()?))
}

/// Refuses `path` when it is the SQLite database of `db_url` or one of its
/// companion files, by name or by inode (a hard link or symlink to it).
fn refuse_database(path: &Path, db_url: &str, shown: &str) -> Result<()> {
    let Some(db_path) = fundledger_store::sqlite_path(db_url) else {
        return Ok(());
    };
    let db_path = Path::new(db_path);
    let Some(out) = canonical_entry(path) else {
        return Ok(()); // no such directory: creating the temp file will say so
    };
    let protected: Vec<PathBuf> = ["", "-wal", "-shm", "-journal"]
        .iter()
        .filter_map(|suffix| {
            let mut name = db_path.file_name()?.to_os_string();
            name.push(suffix);
            canonical_entry(&db_path.with_file_name(name))
        })
        .collect();
    let same_inode = |p: &Path| match (std::fs::metadata(path), std::fs::metadata(p)) {
        (Ok(a), Ok(b)) => same_file(&a, &b),
        _ => false,
    };
    if protected.iter().any(|p| *p == out || same_inode(p)) {
        bail!(
            "{shown} is the open database (or its -wal/-shm file); refusing to write over it, even with --force"
        );
    }
    Ok(())
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Write-back started every few bytes, over writes that leave bytes in
    /// the buffer and writes that bypass it: the file holds every byte, in
    /// order, and the write-back never ran past the file's end (asserted).
    #[test]
    fn write_back_as_the_file_grows_keeps_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.csv");
        let mut out = create(&p, false, "sqlite:x.db").unwrap();
        out.write_back_every_bytes = 5000;
        let mut want = Vec::new();
        for (i, len) in [1, 7000, 3, 20_000, 8191, 100, 65_536, 1]
            .iter()
            .enumerate()
        {
            let piece = vec![b'a' + i as u8; *len];
            out.write_all(&piece).unwrap();
            want.extend_from_slice(&piece);
        }
        let started = out.write_back_bytes;
        assert!(
            started > 90_000,
            "write-back started at {started} of {}",
            want.len()
        );
        // Written out and dropped from the page cache up to the step
        // before: every byte is still there.
        let dropped = out.dropped_bytes;
        assert!(
            dropped > 20_000 && dropped < started,
            "dropped {dropped}, started {started}"
        );
        out.commit().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), want);
    }

    fn check_ranges(dropped: u64, started: u64, on_file: u64, expected: (Range, Range)) {
        assert_eq!(write_back_ranges(dropped, started, on_file), expected);
    }
    type Range = std::ops::Range<u64>;

    #[test]
    fn each_step_drops_the_piece_started_at_the_step_before() {
        check_ranges(0, 0, 32, (0..0, 0..32));
        check_ranges(0, 32, 70, (0..32, 32..70));
        check_ranges(32, 70, 70, (32..70, 70..70));
        check_ranges(70, 70, 70, (70..70, 70..70));
    }

    #[test]
    #[should_panic(expected = "write-back ranges out of order")]
    fn a_step_behind_what_was_dropped_is_a_bug() {
        write_back_ranges(40, 32, 70);
    }

    fn write_through(path: &Path, force: bool, db: &str, text: &str) -> Result<()> {
        let mut out = create(path, force, db)?;
        out.write_all(text.as_bytes())?;
        out.commit()
    }

    #[test]
    fn refuses_existing_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.csv");
        write_through(&p, false, "sqlite:x.db", "one").unwrap();
        let err = write_through(&p, false, "sqlite:x.db", "two").unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "one");
        write_through(&p, true, "sqlite:x.db", "two").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
        // Only the output is left: no temporary file behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_symlink_is_replaced_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let precious = dir.path().join("precious.txt");
        std::fs::write(&precious, "keep").unwrap();
        let p = dir.path().join("out.csv");
        std::os::unix::fs::symlink(&precious, &p).unwrap();
        assert!(write_through(&p, false, "sqlite:x.db", "evil").is_err());
        write_through(&p, true, "sqlite:x.db", "new").unwrap();
        assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep");
        assert!(!std::fs::symlink_metadata(&p).unwrap().is_symlink());
    }

    #[test]
    fn the_database_and_its_companions_are_never_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ledger.db");
        std::fs::write(&db, "db").unwrap();
        let url = format!("sqlite:{}", db.display());
        for name in ["ledger.db", "ledger.db-wal", "ledger.db-shm"] {
            let err = write_through(&dir.path().join(name), true, &url, "x").unwrap_err();
            assert!(err.to_string().contains("open database"), "{name}: {err}");
        }
        // Through another spelling of the directory, and through a hard link.
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let err = write_through(&sub.join("../ledger.db"), true, &url, "x").unwrap_err();
        assert!(err.to_string().contains("open database"), "{err}");
        std::fs::hard_link(&db, dir.path().join("alias.db")).unwrap();
        let err = write_through(&dir.path().join("alias.db"), true, &url, "x").unwrap_err();
        assert!(err.to_string().contains("open database"), "{err}");
        assert_eq!(std::fs::read_to_string(&db).unwrap(), "db");
    }
}
