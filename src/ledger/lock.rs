//! The writer lock of the file ledger: an exclusive `flock` on `ledger.lock`
//! ([`std::fs::File::try_lock`]), holding a JSON description of the holder.
//!
//! - The operating system releases the lock when the holding process ends, however it ends, so
//!   a lock left by a killed process is recovered by the next locker with no stale-lock guessing
//!   (the stale holder text in the file is overwritten, and ignored while the lock is free).
//! - Locks belong to open file descriptions: two handles in one process exclude each other too.
//! - Local disk only: `flock` over NFS or other network file systems may be emulated, ignored or
//!   per-client; put a shared ledger in PostgreSQL instead.
#![allow(
    clippy::disallowed_methods,
    reason = "the file lock is a disk edge: it opens and stats ledger.lock and polls while waiting"
)]

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who holds (or wants) the writer lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    pub pid: u32,
    pub hostname: String,
    pub user: String,
    /// The command line, shortened to 200 characters.
    pub command: String,
    #[serde(with = "super::record::millis")]
    pub started_at: DateTime<Utc>,
    /// The campaign repository's `project`, when the holder applies one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The CI run (`github-actions:123`, `gitlab-ci:45`, `ci`) and its URL, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_run: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_url: Option<String>,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} ({}@{}, `{}`, since {}",
            self.pid,
            self.user,
            self.hostname,
            self.command,
            self.started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )?;
        if let Some(p) = &self.project {
            write!(f, ", project {p}")?;
        }
        match (&self.ci_run, &self.ci_url) {
            (Some(run), Some(url)) => write!(f, ", CI run {run} {url}")?,
            (Some(run), None) => write!(f, ", CI run {run}")?,
            (None, Some(url)) => write!(f, ", CI run {url}")?,
            (None, None) => {}
        }
        f.write_str(")")
    }
}

/// A lock held now, for `crier status` and `ledger unlock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldLock {
    /// The app whose lock it is (its sdkappid); `None`: the whole ledger (the file ledger's one
    /// lock, or a PostgreSQL writer that locked every app).
    pub sdkappid: Option<u64>,
    /// `None` while the holder has not yet described itself.
    pub holder: Option<LockHolder>,
    /// Seconds since the holder last showed it is alive (stores with heartbeats).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_age_secs: Option<u64>,
    /// The heartbeat is older than the lease: the holder hangs, and the next writer that
    /// needs this lock takes it over.
    pub stale: bool,
}

impl std::fmt::Display for HeldLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.holder {
            Some(h) => write!(f, "{h}")?,
            None => f.write_str("a holder that has not described itself yet")?,
        }
        if let Some(age) = self.heartbeat_age_secs {
            write!(f, "; heartbeat {age} s ago")?;
            if self.stale {
                f.write_str(", older than the lease: it hangs, and the next writer takes over")?;
            }
        }
        Ok(())
    }
}

impl HeldLock {
    /// The whole-ledger lock of a store without heartbeats, from its state.
    #[must_use]
    pub fn of_state(state: LockState) -> Vec<Self> {
        match state {
            LockState::Free => Vec::new(),
            LockState::Held(holder) => vec![Self {
                sdkappid: None,
                holder,
                heartbeat_age_secs: None,
                stale: false,
            }],
        }
    }
}

/// Lock failures.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the ledger at {path} is locked by {}; waited {}", holder.as_ref().map_or_else(|| "another process (holder unknown)".to_owned(), ToString::to_string), crate::duration::Human(*waited))]
    Timeout {
        path: PathBuf,
        holder: Option<Box<LockHolder>>,
        waited: Duration,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The held writer lock; released (and the holder text cleared) on drop.
#[derive(Debug)]
pub struct LockGuard {
    file: File,
    path: PathBuf,
}

impl LockGuard {
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the lock file at the path is still the one this guard locked. When someone
    /// removed or replaced it, another process can lock the new file: the holder must stop
    /// writing.
    #[must_use]
    pub fn still_named(&self) -> bool {
        names_same_file(&self.path, &self.file)
    }
}

/// Whether `path` names the same file (device and inode) as the open `file`.
#[must_use]
pub fn names_same_file(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Clear the holder text while still holding the lock, so the file never names a
        // process that is gone; the OS would release the lock on close anyway.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// How long to sleep between two attempts while waiting.
const POLL: Duration = Duration::from_millis(50);

fn open(path: &Path) -> Result<File, LockError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|source| LockError::Io {
            path: path.to_owned(),
            source,
        })
}

/// Takes the lock at `path` (creating the file), waiting up to `timeout`, then writes `holder`
/// into it. Blocks the calling thread while waiting.
///
/// # Errors
/// [`LockError::Timeout`] naming the current holder when the lock stayed busy; I/O errors.
pub fn acquire(
    path: &Path,
    holder: &LockHolder,
    timeout: Duration,
) -> Result<LockGuard, LockError> {
    let mut file = open(path)?;
    let start = Instant::now();
    loop {
        match file.try_lock() {
            // The lock protects only while the path still names the locked file: if it was
            // removed or replaced between our open and our lock, lock the file it names now.
            Ok(()) if names_same_file(path, &file) => break,
            Ok(()) => {
                file = open(path)?;
            }
            Err(TryLockError::WouldBlock) => {
                let waited = start.elapsed();
                if waited >= timeout {
                    return Err(LockError::Timeout {
                        path: path.to_owned(),
                        holder: read_holder(&mut file).map(Box::new),
                        waited,
                    });
                }
                std::thread::sleep(POLL.min(timeout - waited));
            }
            Err(TryLockError::Error(source)) => {
                return Err(LockError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        }
    }
    let io = |source| LockError::Io {
        path: path.to_owned(),
        source,
    };
    let text = serde_json::to_vec(holder).expect("a LockHolder always serialises");
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.write_all(&text).map_err(io)?;
    file.sync_data().map_err(io)?;
    Ok(LockGuard {
        file,
        path: path.to_owned(),
    })
}

/// Whether the lock at `path` is held and by whom, without waiting (for `crier status`).
/// A missing file is a free lock.
///
/// # Errors
/// I/O errors other than a missing file.
pub fn probe(path: &Path) -> Result<LockState, LockError> {
    // Read-only is enough for flock, so `crier status` works on a read-only checkout.
    let mut file = match OpenOptions::new().read(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LockState::Free),
        Err(source) => {
            return Err(LockError::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            Ok(LockState::Free)
        }
        Err(TryLockError::WouldBlock) => Ok(LockState::Held(read_holder(&mut file))),
        Err(TryLockError::Error(source)) => Err(LockError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Whether the writer lock is held, and by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "lock", content = "holder", rename_all = "snake_case")]
pub enum LockState {
    Free,
    /// Held; the holder is `None` while it has not yet described itself.
    Held(Option<LockHolder>),
}

fn read_holder(file: &mut File) -> Option<LockHolder> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(pid: u32) -> LockHolder {
        LockHolder {
            pid,
            hostname: "h".into(),
            user: "u".into(),
            command: "crier apply".into(),
            started_at: "2026-12-01T02:00:00Z".parse().unwrap(),
            project: None,
            ci_run: None,
            ci_url: None,
        }
    }

    #[test]
    fn a_second_handle_times_out_naming_the_holder_then_gets_it_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.lock");
        assert_eq!(probe(&path).unwrap(), LockState::Free);
        let guard = acquire(&path, &holder(1), Duration::ZERO).unwrap();
        assert_eq!(probe(&path).unwrap(), LockState::Held(Some(holder(1))));
        let err = acquire(&path, &holder(2), Duration::from_millis(120)).unwrap_err();
        match &err {
            LockError::Timeout {
                holder: h, waited, ..
            } => {
                assert_eq!(h.as_deref(), Some(&holder(1)));
                assert!(*waited >= Duration::from_millis(120));
            }
            LockError::Io { .. } => panic!("{err}"),
        }
        assert!(
            err.to_string()
                .contains("locked by pid 1 (u@h, `crier apply`"),
            "{err}"
        );
        drop(guard);
        assert_eq!(probe(&path).unwrap(), LockState::Free);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"",
            "released lock names nobody"
        );
        let _again = acquire(&path, &holder(2), Duration::ZERO).unwrap();
        assert_eq!(probe(&path).unwrap(), LockState::Held(Some(holder(2))));
    }

    #[test]
    fn a_waiter_gets_the_lock_when_the_holder_releases_it_in_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.lock");
        let guard = acquire(&path, &holder(1), Duration::ZERO).unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            drop(guard);
        });
        let start = Instant::now();
        let _got = acquire(&path, &holder(2), Duration::from_secs(5)).unwrap();
        assert!(start.elapsed() >= Duration::from_millis(90));
        releaser.join().unwrap();
    }

    #[test]
    fn stale_holder_text_in_a_free_lock_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.lock");
        std::fs::write(&path, serde_json::to_vec(&holder(99)).unwrap()).unwrap();
        assert_eq!(probe(&path).unwrap(), LockState::Free);
        let _g = acquire(&path, &holder(3), Duration::ZERO).unwrap();
        assert_eq!(probe(&path).unwrap(), LockState::Held(Some(holder(3))));
    }

    #[test]
    fn a_removed_or_replaced_lock_file_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.lock");
        let guard = acquire(&path, &holder(1), Duration::ZERO).unwrap();
        assert!(guard.still_named());
        std::fs::remove_file(&path).unwrap();
        assert!(!guard.still_named(), "removed");
        std::fs::write(&path, b"").unwrap();
        assert!(!guard.still_named(), "replaced");
    }
}
