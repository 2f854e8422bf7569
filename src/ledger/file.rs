//! The embedded file ledger: a folder (`ledger.path`, default `.crier/ledger`) holding
//!
//! - `ledger.jsonl`: the records, one JSON object per line ([`super::jsonl`]);
//! - `ledger.lock`: the writer lock and its holder ([`super::lock`]);
//! - `ledger.jsonl.torn`: bytes of torn last lines set aside by repairs (only after a crash),
//!   one JSON line each: `{"at","offset","bytes","text" (lossy UTF-8),"base64" (exact)}`;
//! - `ledger.checkpoint`: the last [`Checkpoint`] (a cache, see [`super::checkpoint`]): a first
//!   line `{"offset","line_len"}` saying where in `ledger.jsonl` the record it covers ends,
//!   then the checkpoint. Readers use it only while that record is still there, unchanged.
//!
//! Local disk only: `flock` on NFS and other network file systems is not reliable.
//!
//! The blocking methods (`*_sync`) do the work; the [`Ledger`] implementation calls them,
//! moving only the lock wait to a blocking thread (file appends are short, synced writes).
#![allow(
    clippy::disallowed_methods,
    reason = "the file ledger is the ledger's disk edge; its lock waits poll the monotonic clock"
)]

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};

use super::checkpoint::Checkpoint;
use super::jsonl;
use super::lock::{self, HeldLock, LockGuard, LockHolder, LockState};
use super::protocol::{Appended, Folded, StoreSession, Writer, run_now};
use super::record::{Record, RecordBody, RepairRecord, StateKind};
use super::{Ledger, LedgerError, LedgerRead, LedgerWarning};
use crate::clock::Clock;

/// The records file in the ledger folder.
pub const RECORDS_FILE: &str = "ledger.jsonl";
/// The lock file in the ledger folder.
pub const LOCK_FILE: &str = "ledger.lock";
/// Where repairs put torn bytes.
pub const TORN_FILE: &str = "ledger.jsonl.torn";
/// The last checkpoint.
pub const CHECKPOINT_FILE: &str = "ledger.checkpoint";

/// Where the record a checkpoint covers ends in `ledger.jsonl`, and its line's length.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct Position {
    offset: u64,
    line_len: u64,
}

/// A ledger file as read: the records folded (through the checkpoint when it holds), the torn
/// last line if any (its offset from the start of the file), and the last complete line's
/// length.
struct FileRead {
    folded: Folded,
    torn: Option<jsonl::TornTail>,
    last_line_len: u64,
}

pub use super::protocol::NO_OUTCOME_REASON;

/// The embedded ledger in one folder.
#[derive(Debug, Clone)]
pub struct FileLedger {
    dir: PathBuf,
}

impl FileLedger {
    /// The ledger in `dir` (nothing is created until a writer takes the lock).
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    #[must_use]
    pub fn records_path(&self) -> PathBuf {
        self.dir.join(RECORDS_FILE)
    }

    #[must_use]
    pub fn lock_path(&self) -> PathBuf {
        self.dir.join(LOCK_FILE)
    }

    #[must_use]
    pub fn torn_path(&self) -> PathBuf {
        self.dir.join(TORN_FILE)
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LedgerError + '_ {
        move |source| LedgerError::Io {
            path: path.to_owned(),
            source,
        }
    }

    #[must_use]
    pub fn checkpoint_path(&self) -> PathBuf {
        self.dir.join(CHECKPOINT_FILE)
    }

    /// See [`Ledger::read`].
    ///
    /// # Errors
    /// I/O errors, and a ledger that cannot be read safely ([`jsonl::ParseError`]).
    pub fn read_sync(&self) -> Result<LedgerRead, LedgerError> {
        self.read_with(true)
    }

    /// See [`Ledger::read_history`].
    ///
    /// # Errors
    /// As [`Self::read_sync`].
    pub fn read_history_sync(&self) -> Result<LedgerRead, LedgerError> {
        self.read_with(false)
    }

    fn read_with(&self, checkpoint: bool) -> Result<LedgerRead, LedgerError> {
        let path = self.records_path();
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LedgerRead::default()),
            Err(e) => return Err(Self::io(&path)(e)),
        };
        let read = self.read_file(&mut file, checkpoint)?;
        let warnings = read
            .torn
            .iter()
            .map(|t| LedgerWarning::TornTailIgnored {
                path: path.clone(),
                offset: t.offset,
                bytes: t.bytes.len() as u64,
            })
            .collect();
        Ok(LedgerRead {
            snapshot: read.folded.snapshot,
            warnings,
        })
    }

    /// Reads the open records file: from the checkpoint on when `checkpoint` and it holds, else
    /// whole.
    fn read_file(&self, file: &mut File, checkpoint: bool) -> Result<FileRead, LedgerError> {
        let path = self.records_path();
        let len = file.metadata().map_err(Self::io(&path))?.len();
        let start = if checkpoint {
            self.load_checkpoint(file, len)
        } else {
            None
        };
        let (offset, after) = start
            .as_ref()
            .map_or((0, 0), |(cp, pos)| (pos.offset, cp.seq));
        file.seek(SeekFrom::Start(offset))
            .map_err(Self::io(&path))?;
        let mut bytes = Vec::with_capacity(usize::try_from(len - offset).unwrap_or(0));
        file.read_to_end(&mut bytes).map_err(Self::io(&path))?;
        let parsed = jsonl::parse_after(&bytes, after).map_err(|source| LedgerError::Parse {
            path: path.clone(),
            source,
        })?;
        let good = parsed.torn.as_ref().map_or(bytes.len(), |t| {
            usize::try_from(t.offset).unwrap_or(bytes.len())
        });
        // Nothing after the checkpoint: its record is still the last line.
        let last_line_len = if good == 0 {
            start.as_ref().map_or(0, |(_, pos)| pos.line_len)
        } else {
            jsonl::last_line_len(&bytes[..good])
        };
        let torn = parsed.torn.map(|t| jsonl::TornTail {
            offset: t.offset + offset,
            bytes: t.bytes,
        });
        Ok(FileRead {
            folded: Folded::of(start.map(|(cp, _)| cp), parsed.records),
            torn,
            last_line_len,
        })
    }

    /// The checkpoint, when it covers the record that ends at its offset in `file` (`len`
    /// bytes long); anything else (none, unreadable, another ledger's) is ignored.
    fn load_checkpoint(&self, file: &File, len: u64) -> Option<(Checkpoint, Position)> {
        let bytes = std::fs::read(self.checkpoint_path()).ok()?;
        let split = bytes.iter().position(|&b| b == b'\n')?;
        let pos: Position = serde_json::from_slice(&bytes[..split]).ok()?;
        if pos.offset > len || pos.line_len == 0 || pos.line_len > pos.offset {
            return None;
        }
        let mut line = vec![0; usize::try_from(pos.line_len).ok()?];
        file.read_exact_at(&mut line, pos.offset - pos.line_len)
            .ok()?;
        Checkpoint::verified(&bytes[split + 1..], &line).map(|cp| (cp, pos))
    }

    /// Stores `cp`, whose record ends at `pos` (a synced temporary file renamed into place).
    fn store_checkpoint(&self, cp: &Checkpoint, pos: Position) -> Result<(), LedgerError> {
        let mut bytes =
            serde_json::to_vec(&pos).map_err(|e| LedgerError::Backend(e.to_string()))?;
        bytes.push(b'\n');
        bytes.extend(cp.encode());
        let tmp = self.dir.join(format!("{CHECKPOINT_FILE}.new"));
        self.write_whole(&tmp, &self.checkpoint_path(), &bytes)
    }

    /// See [`Ledger::lock_state`].
    ///
    /// # Errors
    /// I/O errors.
    pub fn lock_state_sync(&self) -> Result<LockState, LedgerError> {
        Ok(lock::probe(&self.lock_path())?)
    }

    /// See [`Ledger::lock`]; blocks the thread while waiting.
    ///
    /// # Errors
    /// A timeout naming the holder, I/O errors, an unreadable ledger.
    pub fn lock_sync(
        &self,
        holder: &LockHolder,
        timeout: Duration,
        clock: &dyn Clock,
    ) -> Result<FileWriter, LedgerError> {
        std::fs::create_dir_all(&self.dir).map_err(Self::io(&self.dir))?;
        let guard = lock::acquire(&self.lock_path(), holder, timeout)?;
        self.open_writer(guard, clock, timeout)
    }

    fn open_writer(
        &self,
        guard: LockGuard,
        clock: &dyn Clock,
        timeout: Duration,
    ) -> Result<FileWriter, LedgerError> {
        let path = self.records_path();
        let now = clock.now();
        if !path.exists() {
            self.create_with_header(now)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(Self::io(&path))?;
        // The records file is locked too, for as long as the writer lives: if `ledger.lock` is
        // removed or replaced under a holder, a second process can take the new lock file but
        // never this one, so two writers can never interleave records.
        lock_records(&file, &path, timeout)?;
        let read = self.read_file(&mut file, true)?;
        let mut warnings = Vec::new();
        let mut repair = None;
        let mut len = file.metadata().map_err(Self::io(&path))?.len();
        if let Some(torn) = &read.torn {
            self.set_aside(torn, now)?;
            file.set_len(torn.offset).map_err(Self::io(&path))?;
            file.sync_data().map_err(Self::io(&path))?;
            len = torn.offset;
            let bytes = torn.bytes.len() as u64;
            warnings.push(LedgerWarning::TornTailRepaired {
                path: path.clone(),
                offset: torn.offset,
                bytes,
                moved_to: self.torn_path(),
            });
            repair = Some(RepairRecord {
                offset: torn.offset,
                bytes,
                moved_to: TORN_FILE.to_owned(),
            });
        }
        let session = FileSession {
            guard,
            file,
            path,
            ledger: self.clone(),
            len,
            last_line_len: read.last_line_len,
            replaced: false,
        };
        run_now(Writer::open(
            session,
            read.folded,
            repair,
            warnings,
            now,
            None,
        ))
    }

    /// Creates `ledger.jsonl` holding only its header, atomically (a synced temporary file
    /// renamed into place, then the folder synced), so a crash can never leave a ledger whose
    /// first line is torn: such a file is refused, never read as empty.
    fn create_with_header(&self, now: DateTime<Utc>) -> Result<(), LedgerError> {
        let path = self.records_path();
        let tmp = self.dir.join(format!("{RECORDS_FILE}.new"));
        let header = super::protocol::header(now);
        let line = jsonl::encode(&header).map_err(|e| LedgerError::Backend(e.to_string()))?;
        self.write_whole(&tmp, &path, &line)
    }

    /// Writes `bytes` as the file `path` in one step: a synced temporary file `tmp` renamed
    /// into place, then the folder synced. A crash leaves the old state or the new one.
    fn write_whole(&self, tmp: &Path, path: &Path, bytes: &[u8]) -> Result<(), LedgerError> {
        let mut out = File::create(tmp).map_err(Self::io(tmp))?;
        out.write_all(bytes)
            .and_then(|()| out.sync_data())
            .map_err(Self::io(tmp))?;
        drop(out);
        std::fs::rename(tmp, path).map_err(Self::io(path))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(Self::io(&self.dir))
    }

    /// Appends the torn bytes to `ledger.jsonl.torn` and syncs it, before anything is truncated.
    fn set_aside(&self, torn: &jsonl::TornTail, now: DateTime<Utc>) -> Result<(), LedgerError> {
        let path = self.torn_path();
        let entry = serde_json::json!({
            "at": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "offset": torn.offset,
            "bytes": torn.bytes.len(),
            "text": String::from_utf8_lossy(&torn.bytes),
            "base64": base64::engine::general_purpose::STANDARD.encode(&torn.bytes),
        });
        let mut line = entry.to_string();
        line.push('\n');
        let mut out = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(Self::io(&path))?;
        out.write_all(line.as_bytes()).map_err(Self::io(&path))?;
        out.sync_data().map_err(Self::io(&path))
    }
}

/// An export of a ledger: its records as JSON lines (the file ledger's format), their count and
/// the SHA-256 of the bytes, which `export` and `import` both print so a round trip is checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    pub bytes: Vec<u8>,
    /// `sha256:…` of `bytes`.
    pub hash: String,
    /// The records of `bytes`, as read when checked (an import writes them without reading
    /// the text again).
    parsed: Vec<Record>,
}

impl Export {
    /// Checks an export's text: a whole ledger (header first, consecutive sequence numbers, no
    /// torn tail, no record of a newer schema, no UserSig).
    ///
    /// # Errors
    /// Why it cannot be imported.
    pub fn check(bytes: Vec<u8>) -> Result<Self, LedgerError> {
        let text = jsonl::parse(&bytes).map_err(|source| LedgerError::Parse {
            path: PathBuf::from("<export>"),
            source,
        })?;
        if let Some(torn) = &text.torn {
            return Err(LedgerError::Backend(format!(
                "the export ends in an unfinished line ({} bytes at offset {}); it is not a whole ledger",
                torn.bytes.len(),
                torn.offset
            )));
        }
        if crate::secrets::carries_usersig(&String::from_utf8_lossy(&bytes)) {
            return Err(LedgerError::SecretInRecord {
                what: "the export".into(),
            });
        }
        Ok(Self {
            hash: crate::plan::normalize::sha256(&bytes),
            bytes,
            parsed: text.records,
        })
    }

    /// How many records it holds.
    #[must_use]
    pub fn records(&self) -> usize {
        self.parsed.len()
    }

    /// Its records, in order.
    #[must_use]
    pub fn parsed(&self) -> &[Record] {
        &self.parsed
    }
}

impl FileLedger {
    /// The whole ledger as an [`Export`] (a torn last line is left out, as readers do).
    ///
    /// # Errors
    /// I/O errors and a ledger that cannot be read safely.
    pub fn export_sync(&self) -> Result<Export, LedgerError> {
        let path = self.records_path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(Self::io(&path)(e)),
        };
        let text = jsonl::parse(&bytes).map_err(|source| LedgerError::Parse {
            path: path.clone(),
            source,
        })?;
        let mut out = Vec::with_capacity(bytes.len());
        for r in &text.records {
            out.extend(jsonl::encode(r).map_err(|e| LedgerError::Backend(e.to_string()))?);
        }
        Export::check(out)
    }

    /// Imports an export into this ledger, which must be empty (no records file, or an empty
    /// one): the records are written whole (a synced temporary file renamed into place) under
    /// the writer lock. Also how an operator restores a damaged ledger (after moving it aside).
    ///
    /// # Errors
    /// A ledger that is not empty, an export that is not a whole ledger, lock and I/O errors.
    pub fn import_sync(
        &self,
        export: &Export,
        holder: &LockHolder,
        timeout: Duration,
    ) -> Result<(), LedgerError> {
        std::fs::create_dir_all(&self.dir).map_err(Self::io(&self.dir))?;
        let _guard = lock::acquire(&self.lock_path(), holder, timeout)?;
        let path = self.records_path();
        match std::fs::metadata(&path) {
            Ok(m) if m.len() > 0 => {
                return Err(LedgerError::Backend(format!(
                    "{} is not empty: import only into an empty ledger (move the file aside first to restore one)",
                    path.display()
                )));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Self::io(&path)(e)),
        }
        let tmp = self.dir.join(format!("{RECORDS_FILE}.import"));
        // A checkpoint left by the ledger moved aside must not be taken for this one's.
        match std::fs::remove_file(self.checkpoint_path()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Self::io(&self.checkpoint_path())(e)),
        }
        self.write_whole(&tmp, &path, &export.bytes)?;
        // A long history gets its checkpoint now, so the first plan need not fold it all.
        if let Some(cp) = super::protocol::import_checkpoint(export.parsed()) {
            self.store_checkpoint(
                &cp,
                Position {
                    offset: export.bytes.len() as u64,
                    line_len: jsonl::last_line_len(&export.bytes),
                },
            )?;
        }
        Ok(())
    }
}

/// The writer of a [`FileLedger`]: the shared protocol over a [`FileSession`].
pub type FileWriter = Writer<FileSession>;

/// What the file ledger holds while a writer lives: the lock, the open (and locked) records file.
#[derive(Debug)]
pub struct FileSession {
    guard: LockGuard,
    file: File,
    path: PathBuf,
    ledger: FileLedger,
    /// The length of the records file: where the last durable record ends.
    len: u64,
    /// The length of that record's line.
    last_line_len: u64,
    /// The records file was removed or replaced under this writer: it writes nothing more.
    replaced: bool,
}

impl StoreSession for FileSession {
    async fn append(&mut self, record: &Record, line: &[u8]) -> Result<Appended, LedgerError> {
        // The records file's own lock keeps other writers out even when `ledger.lock` was
        // removed or replaced; but such a holder must not start a new send: an intent is
        // refused, outcomes of requests already made are still recorded (the truth).
        if self.replaced || !lock::names_same_file(&self.path, &self.file) {
            self.replaced = true;
            return Err(LedgerError::LockLost {
                path: self.path.clone(),
            });
        }
        let is_intent = matches!(
            &record.body,
            RecordBody::Occurrence(o) if o.state.kind() == StateKind::Intent
        );
        if is_intent && !self.guard.still_named() {
            return Err(LedgerError::LockLost {
                path: self.guard.path().to_owned(),
            });
        }
        self.file
            .write_all(line)
            .and_then(|()| self.file.sync_data())
            .map_err(|source| LedgerError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.len += line.len() as u64;
        self.last_line_len = line.len() as u64;
        Ok(Appended::Durable)
    }

    async fn save_checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<(), LedgerError> {
        self.ledger.store_checkpoint(
            checkpoint,
            Position {
                offset: self.len,
                line_len: self.last_line_len,
            },
        )
    }

    /// One writer at a time: nobody else appends while the lock is held.
    async fn incoming(&mut self, _seq: u64) -> Result<Vec<Record>, LedgerError> {
        Ok(Vec::new())
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

impl Writer<FileSession> {
    /// See [`LedgerWriter::append`]; `at` is kept to the millisecond.
    ///
    /// # Errors
    /// A refused transition, a record carrying a UserSig, I/O errors (after which the writer
    /// refuses further appends: the file may end in a torn line that the next lock repairs).
    pub fn append_sync(
        &mut self,
        at: DateTime<Utc>,
        body: RecordBody,
    ) -> Result<Record, LedgerError> {
        run_now(self.append(at, body))
    }
}

/// Takes an exclusive lock on the open records file, waiting up to `timeout`.
fn lock_records(file: &File, path: &Path, timeout: Duration) -> Result<(), LedgerError> {
    let start = std::time::Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) => {
                if start.elapsed() >= timeout {
                    return Err(LedgerError::RecordsLocked {
                        path: path.to_owned(),
                    });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(LedgerError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        }
    }
}

impl Ledger for FileLedger {
    type Writer = FileWriter;

    fn describe(&self) -> String {
        format!("file ledger at {}", self.dir.display())
    }

    fn ephemeral(&self) -> bool {
        true
    }

    async fn read(&self) -> Result<LedgerRead, LedgerError> {
        self.read_sync()
    }

    async fn read_history(&self) -> Result<LedgerRead, LedgerError> {
        self.read_history_sync()
    }

    async fn current_seq(&self) -> Result<u64, LedgerError> {
        Ok(self.read_sync()?.snapshot.seq)
    }

    async fn locks(&self) -> Result<Vec<HeldLock>, LedgerError> {
        Ok(HeldLock::of_state(self.lock_state_sync()?))
    }

    async fn lock(
        &self,
        holder: LockHolder,
        timeout: Duration,
        clock: &dyn Clock,
    ) -> Result<FileWriter, LedgerError> {
        std::fs::create_dir_all(&self.dir).map_err(Self::io(&self.dir))?;
        let lock_path = self.lock_path();
        let guard =
            tokio::task::spawn_blocking(move || lock::acquire(&lock_path, &holder, timeout))
                .await
                .map_err(|e| LedgerError::Backend(format!("lock waiter failed: {e}")))??;
        self.open_writer(guard, clock, timeout)
    }

    /// One lock for the whole file: the apps do not matter.
    async fn lock_apps(
        &self,
        _apps: &super::AppScope,
        holder: LockHolder,
        timeout: Duration,
        clock: &dyn Clock,
    ) -> Result<FileWriter, LedgerError> {
        self.lock(holder, timeout, clock).await
    }
}
