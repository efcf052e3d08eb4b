//! Output files written whole or not at all.
//!
//! Every file the program writes (surfaces, layers, snapshots, rejects, charts, reports)
//! goes through [`AtomicFile`]: the bytes go to a unique temporary file beside the target
//! (`.NAME.PID.RANDOM.part`, so two runs writing one target never share it), which is
//! flushed, fsynced and renamed over the target, and the directory fsynced. A failure (a
//! full disk, a bad value) or a kill at any moment leaves the previous file as it was: the
//! temporary is removed on error, and one left by a killed run (its process gone) is
//! removed by the next write to the same target. The new file keeps the permissions of the
//! file it replaces (0644 for a new one unless a mode is given).
//!
//! A target that exists and is not a regular file (`/dev/null`, a pipe, a terminal) is
//! written in place: there is nothing to replace atomically.

use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Suffix of temporary files.
const PART: &str = ".part";

/// A file being written; [`AtomicFile::commit`] puts it in place, dropping it uncommitted
/// removes it.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Temp(io::BufWriter<tempfile::NamedTempFile>),
    Direct(io::BufWriter<std::fs::File>),
}

/// The directory holding `path` (`.` for a bare name).
fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Whether process `pid` is running (its `/proc` entry exists).
fn alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// Removes the temporaries of `target` left by runs that were killed (their process is
/// gone); those of running processes are left alone. Errors are ignored: a leftover is
/// untidy, not wrong.
pub fn remove_stale(target: &Path) {
    let Some(name) = target.file_name().map(|n| n.to_string_lossy().to_string()) else {
        return;
    };
    let prefix = format!(".{name}.");
    let Ok(entries) = std::fs::read_dir(dir_of(target)) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().to_string();
        let Some(rest) = file
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(PART))
        else {
            continue;
        };
        let pid = rest.split('.').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| p != std::process::id() && !alive(p)) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

impl AtomicFile {
    /// Starts writing `target`, keeping the permissions of the file there (0644 when new).
    ///
    /// # Errors
    /// The temporary file cannot be created (a missing or read-only directory).
    pub fn create(target: &Path) -> io::Result<AtomicFile> {
        AtomicFile::create_with_mode(target, None)
    }

    /// As [`AtomicFile::create`], with `mode` for a new file (an existing file's
    /// permissions still win).
    ///
    /// # Errors
    /// As [`AtomicFile::create`].
    pub fn create_with_mode(target: &Path, mode: Option<u32>) -> io::Result<AtomicFile> {
        let existing = std::fs::metadata(target).ok();
        if existing.as_ref().is_some_and(|m| !m.is_file()) {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(target)?;
            return Ok(AtomicFile {
                target: target.to_path_buf(),
                inner: Inner::Direct(io::BufWriter::new(f)),
            });
        }
        remove_stale(target);
        let perms = existing
            .map(|m| m.permissions())
            .unwrap_or_else(|| std::fs::Permissions::from_mode(mode.unwrap_or(0o644)));
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}.{}.", std::process::id()))
            .suffix(PART)
            .permissions(perms)
            .tempfile_in(dir_of(target))?;
        Ok(AtomicFile {
            target: target.to_path_buf(),
            inner: Inner::Temp(io::BufWriter::with_capacity(1 << 16, tmp)),
        })
    }

    /// The file being written to (the temporary; the target itself when written in place),
    /// for writers that need a path. Flush what was written through [`Write`] first.
    pub fn temp_path(&self) -> &Path {
        match &self.inner {
            Inner::Temp(w) => w.get_ref().path(),
            Inner::Direct(_) => &self.target,
        }
    }

    /// Flushes, fsyncs and renames the file over the target, then fsyncs the directory.
    ///
    /// # Errors
    /// Any write, sync or rename error (the temporary is removed, the target untouched).
    pub fn commit(self) -> io::Result<()> {
        match self.inner {
            Inner::Direct(mut w) => w.flush(),
            Inner::Temp(w) => {
                let tmp = w.into_inner().map_err(|e| e.into_error())?;
                tmp.as_file().sync_all()?;
                tmp.persist(&self.target).map_err(|e| e.error)?;
                if let Ok(d) = std::fs::File::open(dir_of(&self.target)) {
                    let _ = d.sync_all();
                }
                Ok(())
            }
        }
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Temp(w) => w.write(buf),
            Inner::Direct(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Inner::Temp(w) => w.flush(),
            Inner::Direct(w) => w.flush(),
        }
    }
}

/// An exclusive advisory lock on a target, held for the life of the value, so that two runs
/// writing one file take turns instead of interleaving (their outputs and reports would
/// otherwise describe different runs). The lock is on `.NAME.lock` beside the target, which
/// the holder removes as it releases the lock; a run that locked a removed lock file sees the
/// path no longer names it and tries again. The kernel releases the lock if the process dies
/// (the file is then left, and reused).
#[derive(Debug)]
pub struct TargetLock {
    held: Option<(std::fs::File, PathBuf)>,
}

impl TargetLock {
    /// Takes the lock on `target`, waiting for a run that holds it (saying so on stderr).
    /// A target that exists and is not a regular file (`/dev/null`, a pipe) is not locked.
    ///
    /// # Errors
    /// The lock file cannot be created or locked (a read-only directory).
    pub fn acquire(target: &Path) -> io::Result<TargetLock> {
        use std::os::unix::fs::MetadataExt;
        if let Ok(m) = std::fs::metadata(target) {
            if !m.is_file() {
                return Ok(TargetLock { held: None });
            }
        }
        let Some(name) = target.file_name() else {
            return Ok(TargetLock { held: None });
        };
        let path = dir_of(target).join(format!(".{}.lock", name.to_string_lossy()));
        let mut said = false;
        loop {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)?;
            match f.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    if !said {
                        eprintln!("waiting: another run is writing {}", target.display());
                        said = true;
                    }
                    f.lock()?;
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(e),
            }
            // The lock counts only if the path still names the file locked (the previous
            // holder removes it as it finishes).
            let mine = f.metadata()?;
            match std::fs::metadata(&path) {
                Ok(m) if m.ino() == mine.ino() && m.dev() == mine.dev() => {
                    return Ok(TargetLock {
                        held: Some((f, path)),
                    })
                }
                _ => continue,
            }
        }
    }
}

impl Drop for TargetLock {
    fn drop(&mut self) {
        if let Some((f, path)) = self.held.take() {
            // Removed while still locked, so no run can lock this file after it is gone.
            let _ = std::fs::remove_file(&path);
            drop(f);
        }
    }
}

/// Writes `bytes` to `target` atomically ([`AtomicFile`]).
///
/// # Errors
/// As [`AtomicFile::create`] and [`AtomicFile::commit`].
pub fn write_atomic(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = AtomicFile::create(target)?;
    f.write_all(bytes)?;
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn target_locks_take_turns_and_leave_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.hsnap");
        let first = TargetLock::acquire(&p).unwrap();
        assert!(dir.path().join(".out.hsnap.lock").exists());
        let (tx, rx) = std::sync::mpsc::channel();
        let p2 = p.clone();
        let t = std::thread::spawn(move || {
            let _second = TargetLock::acquire(&p2).unwrap();
            tx.send(()).unwrap();
        });
        // The second waits while the first is held...
        assert!(rx
            .recv_timeout(std::time::Duration::from_millis(300))
            .is_err());
        drop(first);
        // ...and gets the lock (on a new lock file) once it is released.
        rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        t.join().unwrap();
        assert!(listing(dir.path()).is_empty(), "{:?}", listing(dir.path()));
        // Devices are not locked.
        let _null = TargetLock::acquire(Path::new("/dev/null")).unwrap();
    }

    #[test]
    fn commit_replaces_and_drop_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        {
            let mut f = AtomicFile::create(&p).unwrap();
            f.write_all(b"half").unwrap();
            // Dropped before commit: a failed run.
        }
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "old");
        assert_eq!(listing(dir.path()), ["out.txt"], "no temporary left");
        write_atomic(&p, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "permissions kept");
        assert_eq!(listing(dir.path()), ["out.txt"]);
        // A new file gets the given mode.
        let q = dir.path().join("secret.json");
        let f = AtomicFile::create_with_mode(&q, Some(0o600)).unwrap();
        f.commit().unwrap();
        assert_eq!(
            std::fs::metadata(&q).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn stale_temporaries_of_dead_runs_go_and_live_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.asc");
        // A pid far above pid_max is never running; ours is.
        let dead = dir.path().join(".d.asc.4999999.abc123.part");
        let live = dir
            .path()
            .join(format!(".d.asc.{}.zz.part", std::process::id()));
        let other = dir.path().join(".e.asc.4999999.abc.part");
        for f in [&dead, &live, &other] {
            std::fs::write(f, "x").unwrap();
        }
        write_atomic(&p, b"ok").unwrap();
        assert!(!dead.exists());
        assert!(live.exists() && other.exists());
    }

    #[test]
    fn devices_are_written_in_place() {
        use std::os::unix::fs::FileTypeExt;
        let mut f = AtomicFile::create(Path::new("/dev/null")).unwrap();
        f.write_all(b"discarded").unwrap();
        f.commit().unwrap();
        assert!(std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device());
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("missing").join("x.txt");
        assert!(AtomicFile::create(&p).is_err());
    }
}
