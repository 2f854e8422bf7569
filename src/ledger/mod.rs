//! The run ledger: an append-only, schema-versioned record of every step `apply` takes, written
//! durably before the step it guards, so that a push is sent at most once.
//!
//! - [`record`]: the record types (one JSON object per record; stable, readable by a person).
//! - [`fold`]: records → [`LedgerSnapshot`] (pure).
//! - [`transition`]: the occurrence state-transition table a writer enforces (pure).
//! - [`msg_random`]: MsgRandom from the occurrence key with the 7-day collision rule (pure).
//! - [`jsonl`]: the `ledger.jsonl` encoding and torn-tail detection (pure).
//! - [`lock`]: the writer lock (`flock` on `ledger.lock`, holder description inside).
//! - [`protocol`]: the rules every store shares (sequence numbers, transitions, the UserSig
//!   refusal, the header, dangling intents), over a small store interface.
//! - [`file`]: the embedded file ledger's store (with [`lock`], the only modules here that
//!   touch the disk).
//! - [`view`]: what `crier status` and `crier ledger list|show|resolve` show and do.
//!
//! # The trait
//!
//! [`Ledger`] is implemented by the file ledger here and by the PostgreSQL ledger later. Its
//! methods return `impl Future + Send` (async functions in traits), so the trait is not
//! dyn-compatible: the dispatcher and commands are generic over `L: Ledger`, and the CLI picks
//! one implementation at start-up (an enum over both that forwards each method, once the
//! second one exists). That keeps both implementations free of boxed futures and lets a writer
//! be an associated type: appending is only possible through a [`LedgerWriter`], which exists
//! only while its writer lock is held.
//!
//! # Invariants
//!
//! - Append-only: records are never rewritten; the only truncation is the removal of a torn
//!   last line (a crash mid-write), whose bytes are first copied to `ledger.jsonl.torn` and
//!   synced, and which is then recorded by a `repair` record.
//! - [`LedgerWriter::append`] returns only after the record is on disk (`sync_data`); the
//!   caller performs the step (sends the push) only after it returns.
//! - Sequence numbers start at 1 (the header) and grow by exactly 1 per record.
//! - No clock reads: times come from the caller (`at`, `now`, a [`Clock`]).
//! - No secrets: a record whose text contains a UserSig is refused.
//! - Local disk only: the file lock (`flock`) is unreliable on NFS and other network file
//!   systems; use the PostgreSQL ledger to share one between machines.

pub mod checkpoint;
pub mod file;
pub mod fold;
pub mod jsonl;
pub mod lock;
pub mod msg_random;
pub mod postgres;
pub mod protocol;
pub mod record;
pub mod transition;
pub mod view;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::clock::Clock;

pub use file::{Export, FileLedger, FileWriter};
pub use fold::{LedgerSnapshot, MsgRandomUse, OccurrenceView};
pub use lock::{HeldLock, LockHolder, LockState};
pub use msg_random::{MsgRandomChoice, pick_msg_random};
pub use record::{OccurrenceRecord, OccurrenceState, Record, RecordBody, StateKind};
pub use transition::{TransitionError, check_transition};

/// A ledger: read it any time; append only through a writer, which holds the writer lock.
pub trait Ledger: Send + Sync {
    /// Appends records while it lives; dropping it releases the lock.
    type Writer: LedgerWriter;

    /// Where the ledger is, for messages (`file ledger at /repo/.crier/ledger`).
    fn describe(&self) -> String;

    /// Whether this ledger lives with the process (a file on the runner): under `CI=true` such
    /// a ledger starts empty on a fresh runner, so `apply` refuses it (§4 "CI").
    fn ephemeral(&self) -> bool;

    /// Reads the ledger without taking the lock: the last checkpoint and the records after it
    /// ([`checkpoint`]), so occurrences settled long before the last apply are only counted
    /// ([`LedgerSnapshot::compact`]); what plans, applies and `status` need is all there. A
    /// torn last line is reported as a warning and left out (only a writer repairs it). A
    /// ledger that does not exist yet reads as empty.
    fn read(&self) -> impl Future<Output = Result<LedgerRead, LedgerError>> + Send;

    /// Like [`Self::read`], folding the whole history (for `crier ledger list|show`).
    fn read_history(&self) -> impl Future<Output = Result<LedgerRead, LedgerError>> + Send;

    /// The sequence number of the last record (0 when empty); plan files carry it.
    fn current_seq(&self) -> impl Future<Output = Result<u64, LedgerError>> + Send;

    /// The locks held now, and by whom (for `crier status`): the whole ledger's, or each app's.
    fn locks(&self) -> impl Future<Output = Result<Vec<HeldLock>, LedgerError>> + Send;

    /// Takes the writer lock, waiting up to `timeout`; creates the ledger when it does not
    /// exist. Under the lock it repairs a torn tail and records every intent that has no
    /// outcome as `in_doubt` (its writer is gone), reporting both as warnings of the writer.
    ///
    /// The error names the current holder when the wait times out.
    fn lock(
        &self,
        holder: LockHolder,
        timeout: Duration,
        clock: &dyn Clock,
    ) -> impl Future<Output = Result<Self::Writer, LedgerError>> + Send;

    /// Like [`Self::lock`], for the apps in `apps` only: a store shared by several writers
    /// locks each app (by sdkappid, in ascending order, so two writers cannot deadlock), and
    /// writers of different apps append side by side; the writer may record occurrences of
    /// these apps only. A store with one lock takes the whole ledger.
    fn lock_apps(
        &self,
        apps: &AppScope,
        holder: LockHolder,
        timeout: Duration,
        clock: &dyn Clock,
    ) -> impl Future<Output = Result<Self::Writer, LedgerError>> + Send;
}

/// The apps a writer locks, by sdkappid, with their names in this `crier.yaml` (for messages);
/// ordered, which is the order every writer takes them in.
pub type AppScope = std::collections::BTreeMap<u64, String>;

/// The one way to append: exists only while the writer lock is held.
pub trait LedgerWriter: Send {
    /// Everything recorded so far, including this writer's own appends.
    fn snapshot(&self) -> &LedgerSnapshot;

    /// What happened while taking the lock (repairs, intents turned in-doubt).
    fn warnings(&self) -> &[LedgerWarning];

    /// Appends one record with the next sequence number and returns it once it is durable.
    /// An occurrence record must follow [`check_transition`].
    fn append(
        &mut self,
        at: DateTime<Utc>,
        body: RecordBody,
    ) -> impl Future<Output = Result<Record, LedgerError>> + Send;

    /// Takes in what other writers of a shared store recorded since (a `crier stop` among
    /// them); the executor calls it before each send.
    fn refresh(&mut self) -> impl Future<Output = Result<(), LedgerError>> + Send;

    /// The sequence number of the last record.
    fn current_seq(&self) -> u64 {
        self.snapshot().seq
    }
}

/// The result of [`Ledger::read`].
#[derive(Debug, Clone, Default)]
pub struct LedgerRead {
    pub snapshot: LedgerSnapshot,
    pub warnings: Vec<LedgerWarning>,
}

/// Something the operator should know; the CLI prints these as warnings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "warning", rename_all = "snake_case")]
pub enum LedgerWarning {
    /// A read without the lock found an unfinished last line and left it out.
    TornTailIgnored {
        path: PathBuf,
        offset: u64,
        bytes: u64,
    },
    /// A writer moved an unfinished last line aside.
    TornTailRepaired {
        path: PathBuf,
        offset: u64,
        bytes: u64,
        moved_to: PathBuf,
    },
    /// An intent had no outcome (its process ended mid-send); it is now `in_doubt`.
    IntentWithoutOutcome { id: String, intent_seq: u64 },
    /// A holder was silent for longer than the lease: its session was ended and its lock taken.
    StaleLockTaken {
        lock: String,
        holder: Option<LockHolder>,
        silent_secs: u64,
        lease_secs: u64,
    },
}

impl std::fmt::Display for LedgerWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TornTailIgnored {
                path,
                offset,
                bytes,
            } => write!(
                f,
                "{}: the last line is incomplete ({bytes} bytes at offset {offset}: a crash mid-write, or a write in progress); left out of this view, the next apply repairs it",
                path.display()
            ),
            Self::TornTailRepaired {
                path,
                offset,
                bytes,
                moved_to,
            } => write!(
                f,
                "{}: repaired a torn last line (a crash mid-write): {bytes} bytes at offset {offset} moved to {}",
                path.display(),
                moved_to.display()
            ),
            Self::IntentWithoutOutcome { id, intent_seq } => write!(
                f,
                "{id}: the intent recorded at seq {intent_seq} has no outcome (the process ended mid-send); recorded as in_doubt: `crier ledger resolve` or `apply --retry-in-doubt`"
            ),
            Self::StaleLockTaken {
                lock,
                holder,
                silent_secs,
                lease_secs,
            } => write!(
                f,
                "{lock}: took the lock over from {}, silent for {silent_secs} s (the lease is {lease_secs} s: it hangs or lost its network); its session was ended and it can never append again",
                holder.as_ref().map_or_else(
                    || "a holder that never described itself".to_owned(),
                    ToString::to_string
                )
            ),
        }
    }
}

/// Ledger failures.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        source: jsonl::ParseError,
    },
    #[error(transparent)]
    Lock(#[from] lock::LockError),
    #[error("refusing to record: {0}")]
    Transition(#[from] TransitionError),
    #[error("refusing to record a UserSig in the ledger ({what})")]
    SecretInRecord { what: String },
    #[error(
        "{path}: a write failed earlier in this run; take the lock again to check and repair the ledger"
    )]
    Poisoned { path: PathBuf },
    #[error(
        "{path} was removed or replaced while this process held the writer lock; it stopped writing, so that no second writer can interleave records (never delete ledger.lock while an apply runs)"
    )]
    LockLost { path: PathBuf },
    #[error(
        "{path} is held by another writer although its lock file was free: someone removed or replaced ledger.lock while an apply held it; wait for that apply to end (never delete ledger.lock)"
    )]
    RecordsLocked { path: PathBuf },
    #[error("{ledger}: {id} belongs to app {sdkappid}, whose lock this writer does not hold")]
    NotLocked {
        ledger: String,
        id: String,
        sdkappid: u64,
    },
    /// The store refused a write because the writer's lock was taken from it (forced, or its
    /// holder was declared dead): it must stop before its next step.
    #[error(
        "{ledger}: this writer lost its lock ({detail}); it stopped before its next step and writes nothing more"
    )]
    Fenced { ledger: String, detail: String },
    /// A store operation failed; the store's own error is the source.
    #[error("{ledger}: {what}")]
    Store {
        ledger: String,
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A refusal or failure the store explains in words (no underlying error to keep).
    #[error("{0}")]
    Backend(String),
}

/// The ledger `crier.yaml` names cannot be opened: its variable is unset or empty. Never a
/// silent fall-back to the file ledger (spec §2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "ledger.postgres_url_env names {url_env}, which is not set or empty; crier never falls back to the file ledger\nhint: export {url_env}=postgres://USER@HOST:5432/DB (add ?sslmode=disable for a local server without TLS)"
)]
pub struct LedgerUrlUnset {
    pub url_env: String,
}

/// The ledger the settings name, with `url` the value of `ledger.postgres_url_env`'s variable
/// (read at the edge).
///
/// # Errors
/// [`LedgerUrlUnset`] when the settings name PostgreSQL and `url` is unset or empty.
pub fn ledger_for(
    settings: &crate::settings::LedgerSettings,
    url: Option<String>,
) -> Result<AnyLedger, LedgerUrlUnset> {
    match settings {
        crate::settings::LedgerSettings::File { path } => {
            Ok(AnyLedger::File(FileLedger::new(path)))
        }
        crate::settings::LedgerSettings::Postgres { url_env, lease } => match url {
            Some(u) if !u.trim().is_empty() => Ok(AnyLedger::Postgres(
                postgres::PgLedger::new(u.trim(), url_env).with_lease(*lease),
            )),
            _ => Err(LedgerUrlUnset {
                url_env: url_env.clone(),
            }),
        },
    }
}

/// Either store, chosen at start-up; forwards every method.
#[derive(Debug, Clone)]
pub enum AnyLedger {
    File(FileLedger),
    Postgres(postgres::PgLedger),
}

/// The writer of an [`AnyLedger`].
#[derive(Debug)]
pub enum AnyWriter {
    File(FileWriter),
    Postgres(postgres::PgWriter),
}

impl LedgerWriter for AnyWriter {
    fn snapshot(&self) -> &LedgerSnapshot {
        match self {
            Self::File(w) => w.snapshot(),
            Self::Postgres(w) => w.snapshot(),
        }
    }

    fn warnings(&self) -> &[LedgerWarning] {
        match self {
            Self::File(w) => w.warnings(),
            Self::Postgres(w) => w.warnings(),
        }
    }

    async fn append(&mut self, at: DateTime<Utc>, body: RecordBody) -> Result<Record, LedgerError> {
        match self {
            Self::File(w) => LedgerWriter::append(w, at, body).await,
            Self::Postgres(w) => LedgerWriter::append(w, at, body).await,
        }
    }

    async fn refresh(&mut self) -> Result<(), LedgerError> {
        match self {
            Self::File(w) => w.refresh().await,
            Self::Postgres(w) => w.refresh().await,
        }
    }
}

impl Ledger for AnyLedger {
    type Writer = AnyWriter;

    fn describe(&self) -> String {
        match self {
            Self::File(l) => l.describe(),
            Self::Postgres(l) => l.describe(),
        }
    }

    fn ephemeral(&self) -> bool {
        match self {
            Self::File(l) => l.ephemeral(),
            Self::Postgres(l) => l.ephemeral(),
        }
    }

    async fn read(&self) -> Result<LedgerRead, LedgerError> {
        match self {
            Self::File(l) => l.read().await,
            Self::Postgres(l) => l.read().await,
        }
    }

    async fn read_history(&self) -> Result<LedgerRead, LedgerError> {
        match self {
            Self::File(l) => l.read_history().await,
            Self::Postgres(l) => l.read_history().await,
        }
    }

    async fn current_seq(&self) -> Result<u64, LedgerError> {
        match self {
            Self::File(l) => l.current_seq().await,
            Self::Postgres(l) => l.current_seq().await,
        }
    }

    async fn locks(&self) -> Result<Vec<HeldLock>, LedgerError> {
        match self {
            Self::File(l) => l.locks().await,
            Self::Postgres(l) => l.locks().await,
        }
    }

    async fn lock(
        &self,
        holder: LockHolder,
        timeout: Duration,
        clock: &dyn Clock,
    ) -> Result<AnyWriter, LedgerError> {
        match self {
            Self::File(l) => l.lock(holder, timeout, clock).await.map(AnyWriter::File),
            Self::Postgres(l) => l
                .lock(holder, timeout, clock)
                .await
                .map(AnyWriter::Postgres),
        }
    }

    async fn lock_apps(
        &self,
        apps: &AppScope,
        holder: LockHolder,
        timeout: Duration,
        clock: &dyn Clock,
    ) -> Result<AnyWriter, LedgerError> {
        match self {
            Self::File(l) => l
                .lock_apps(apps, holder, timeout, clock)
                .await
                .map(AnyWriter::File),
            Self::Postgres(l) => l
                .lock_apps(apps, holder, timeout, clock)
                .await
                .map(AnyWriter::Postgres),
        }
    }
}

impl AnyLedger {
    /// The whole ledger as an export (JSON lines, the file ledger's format).
    ///
    /// # Errors
    /// An unreadable ledger.
    pub async fn export(&self) -> Result<Export, LedgerError> {
        match self {
            Self::File(l) => l.export_sync(),
            Self::Postgres(l) => Export::check(l.export_bytes().await?),
        }
    }

    /// Loads an export into this (empty) ledger.
    ///
    /// # Errors
    /// A ledger that is not empty, lock and store errors.
    pub async fn import(
        &self,
        export: &Export,
        holder: &LockHolder,
        timeout: Duration,
    ) -> Result<(), LedgerError> {
        match self {
            Self::File(l) => l.import_sync(export, holder, timeout),
            Self::Postgres(l) => l.import_records(export.parsed()).await,
        }
    }

    /// Creates or upgrades the store's schema; a description of what was done.
    ///
    /// # Errors
    /// A newer schema than this build knows, store errors.
    pub async fn migrate(&self) -> Result<String, LedgerError> {
        match self {
            Self::File(l) => Ok(format!(
                "{}: nothing to migrate (records carry their schema version {}); the file ledger has no schema of its own",
                l.describe(),
                record::SCHEMA_VERSION
            )),
            Self::Postgres(l) => {
                let (from, to) = l.migrate().await?;
                Ok(if from == to {
                    format!("{}: schema version {to}, up to date", l.describe())
                } else {
                    format!(
                        "{}: schema migrated from version {from} to {to}",
                        l.describe()
                    )
                })
            }
        }
    }
}

/// §4 CI rule: with `CI=true`, `apply` refuses a file ledger unless `--allow-ephemeral-ledger`
/// (an empty ledger on a fresh runner would resend everything within grace). `ci` is the value
/// of the `CI` variable; `true` (any case) and `1` count as set.
#[must_use]
pub fn ci_refuses_file_ledger(ci: Option<&str>, allow_ephemeral_ledger: bool) -> bool {
    let in_ci = ci.is_some_and(|v| v.trim().eq_ignore_ascii_case("true") || v.trim() == "1");
    in_ci && !allow_ephemeral_ledger
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_rule() {
        assert!(ci_refuses_file_ledger(Some("true"), false));
        assert!(ci_refuses_file_ledger(Some("TRUE"), false));
        assert!(!ci_refuses_file_ledger(Some("true"), true));
        assert!(!ci_refuses_file_ledger(Some("false"), false));
        assert!(!ci_refuses_file_ledger(None, false));
    }

    #[test]
    fn warnings_read_well() {
        let w = LedgerWarning::TornTailRepaired {
            path: "/l/ledger.jsonl".into(),
            offset: 10,
            bytes: 4,
            moved_to: "/l/ledger.jsonl.torn".into(),
        };
        assert_eq!(
            w.to_string(),
            "/l/ledger.jsonl: repaired a torn last line (a crash mid-write): 4 bytes at offset 10 moved to /l/ledger.jsonl.torn"
        );
    }
}
