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
}

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
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tmp.write(buf)
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
