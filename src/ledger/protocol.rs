//! The ledger protocol every store shares: a store only keeps records durable and exclusive
//! (a file and its locks, or later a database); the rules live here, once.
//!
//! - Sequence numbers start at 1 (the header) and grow by exactly 1 per record.
//! - An occurrence record must follow the transition table ([`check_transition`]).
//! - No record carries a UserSig (checked on the encoded record, before the store sees it).
//! - Record times are kept to the millisecond.
//! - Opening a writer under the lock writes the header of an empty ledger, records a repair the
//!   store made, and turns every intent without an outcome into `in_doubt` (its writer is gone).
//! - After a failed append the writer refuses further appends: the store may end in a torn
//!   record that the next lock repairs.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use chrono::{DateTime, SubsecRound, Utc};

use super::checkpoint::{self, Checkpoint};
use super::fold::LedgerSnapshot;
use super::record::{
    OccurrenceRecord, OccurrenceState, Record, RecordBody, RepairRecord, SCHEMA_VERSION, StateKind,
};
use super::transition::check_transition;
use super::{LedgerError, LedgerWarning, LedgerWriter};

/// The reason recorded for an intent found without an outcome under the lock.
pub const NO_OUTCOME_REASON: &str = "no outcome was recorded for this attempt: the process that wrote the intent ended before it could record one";

/// What a store answered to an append.
#[derive(Debug)]
pub enum Appended {
    /// The record is durable.
    Durable,
    /// Nothing was written: other writers (holding other apps' locks) appended first; these are
    /// their records since the writer's last one, in order. The writer catches up and retries.
    Behind(Vec<Record>),
}

/// What a store does for a writer while it holds the store's lock.
pub trait StoreSession: Send {
    /// Makes `record` durable (and returns only then), after the store's own checks that it
    /// still holds its lock. `line` is the record's encoding, already checked for secrets. A
    /// store shared by writers of different apps answers [`Appended::Behind`] when the
    /// record's sequence number is taken.
    fn append(
        &mut self,
        record: &Record,
        line: &[u8],
    ) -> impl Future<Output = Result<Appended, LedgerError>> + Send;

    /// Records other writers made durable after `seq` (a store shared by writers of different
    /// apps; another's `crier stop` among them). A store with one writer has none.
    fn incoming(
        &mut self,
        seq: u64,
    ) -> impl Future<Output = Result<Vec<Record>, LedgerError>> + Send;

    /// Stores a checkpoint of the records up to `checkpoint.seq`, all durable; replaces the
    /// previous one. A checkpoint is a cache: the writer goes on when this fails.
    fn save_checkpoint(
        &mut self,
        checkpoint: &Checkpoint,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;

    /// Where the records are, for messages.
    fn describe(&self) -> String;
}

/// A ledger as a store read it: the snapshot, the checkpoint it started from (its sequence
/// number; 0 when the whole history was folded) and the last record folded.
#[derive(Debug, Clone, Default)]
pub struct Folded {
    pub snapshot: LedgerSnapshot,
    pub checkpoint: u64,
    pub last: Option<Record>,
}

impl Folded {
    /// Folds `records` (those after the checkpoint, or the whole history without one).
    #[must_use]
    pub fn of(checkpoint: Option<Checkpoint>, records: Vec<Record>) -> Self {
        let last = records.last().cloned();
        match checkpoint {
            Some(cp) => Self {
                checkpoint: cp.seq,
                snapshot: cp.resume(records),
                last,
            },
            None => Self {
                snapshot: LedgerSnapshot::fold_owned(records),
                checkpoint: 0,
                last,
            },
        }
    }

    /// Whether enough records were folded since the checkpoint that a new one is worth writing.
    #[must_use]
    pub fn wants_checkpoint(&self) -> bool {
        self.snapshot.seq.saturating_sub(self.checkpoint) >= checkpoint::EVERY
    }

    /// The checkpoint to store now, if [`Self::wants_checkpoint`].
    #[must_use]
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        let last = self.last.as_ref()?;
        (self.wants_checkpoint() && last.seq == self.snapshot.seq)
            .then(|| Checkpoint::of(&self.snapshot, last))
    }
}

/// The one writer type: a store session plus the shared rules and the snapshot so far.
#[derive(Debug)]
pub struct Writer<S> {
    session: S,
    /// The snapshot so far, with its last record and the last checkpoint's number.
    folded: Folded,
    /// The apps (sdkappids) whose occurrences this writer may record; `None`: every app (the
    /// whole ledger is locked).
    scope: Option<BTreeSet<u64>>,
    warnings: Vec<LedgerWarning>,
    poisoned: bool,
}

impl<S: StoreSession> Writer<S> {
    /// Opens a writer on the ledger as read under the lock. `repair` is a torn tail the store
    /// set aside while opening; `warnings` are the store's own; `scope` the apps whose locks
    /// the writer holds (`None`: the whole ledger): only their intents without an outcome are
    /// recorded `in_doubt` (another app's intent may be in flight under its own lock).
    ///
    /// # Errors
    /// An append that fails (see [`Self::append`]).
    pub async fn open(
        session: S,
        folded: Folded,
        repair: Option<RepairRecord>,
        mut warnings: Vec<LedgerWarning>,
        now: DateTime<Utc>,
        scope: Option<BTreeSet<u64>>,
    ) -> Result<Self, LedgerError> {
        let empty = folded.snapshot.seq == 0;
        let mut writer = Self {
            session,
            scope,
            folded,
            warnings: Vec::new(),
            poisoned: false,
        };
        if empty {
            writer.append(now, RecordBody::header()).await?;
        }
        if let Some(repair) = repair {
            writer.append(now, RecordBody::Repair(repair)).await?;
        }
        let dangling: Vec<(OccurrenceRecord, u64)> = writer
            .folded
            .snapshot
            .occurrences
            .values()
            .filter(|o| o.kind() == StateKind::Intent && writer.holds(o.key.sdkappid))
            .map(|o| {
                let record = OccurrenceRecord {
                    key: o.key.clone(),
                    app: o.app.clone(),
                    state: OccurrenceState::InDoubt {
                        reason: NO_OUTCOME_REASON.to_owned(),
                    },
                };
                (record, o.last_seq)
            })
            .collect();
        for (record, intent_seq) in dangling {
            warnings.push(LedgerWarning::IntentWithoutOutcome {
                id: record.key.id(),
                intent_seq,
            });
            writer.append(now, RecordBody::Occurrence(record)).await?;
        }
        writer.warnings = warnings;
        writer.save_checkpoint().await;
        Ok(writer)
    }

    /// Stores a checkpoint when enough records were folded since the last one; a failure only
    /// costs later readers time, so it is logged and the writer goes on.
    async fn save_checkpoint(&mut self) {
        let Some(cp) = self.folded.checkpoint() else {
            return;
        };
        if let Err(e) = self.session.save_checkpoint(&cp).await {
            tracing::debug!("no checkpoint stored at seq {}: {e}", cp.seq);
        }
        // Stored or not, the next one comes after as many records as a checkpoint covers.
        self.folded.checkpoint = cp.seq;
    }

    fn take_in(&mut self, record: &Record) {
        self.folded.snapshot.apply(record);
        self.folded.last = Some(record.clone());
    }

    /// Whether this writer holds the lock of the app `sdkappid`.
    fn holds(&self, sdkappid: u64) -> bool {
        self.scope.as_ref().is_none_or(|s| s.contains(&sdkappid))
    }

    /// Appends one record with the next sequence number; see the module documentation.
    ///
    /// # Errors
    /// A refused transition, a record carrying a UserSig, an occurrence of an app whose lock
    /// this writer does not hold, a store failure (after which the writer refuses further
    /// appends).
    pub async fn append(
        &mut self,
        at: DateTime<Utc>,
        body: RecordBody,
    ) -> Result<Record, LedgerError> {
        if self.poisoned {
            return Err(LedgerError::Poisoned {
                path: self.session.describe().into(),
            });
        }
        if let RecordBody::Occurrence(occ) = &body
            && !self.holds(occ.key.sdkappid)
        {
            return Err(LedgerError::NotLocked {
                ledger: self.session.describe(),
                id: occ.key.id(),
                sdkappid: occ.key.sdkappid,
            });
        }
        let mut record = Record {
            v: SCHEMA_VERSION,
            seq: 0,
            at: at.trunc_subsecs(3),
            body,
        };
        loop {
            if let RecordBody::Occurrence(occ) = &record.body {
                check_transition(
                    self.folded.snapshot.occurrence(&occ.key),
                    &occ.key.id(),
                    &occ.state,
                )?;
            }
            record.seq = self.folded.snapshot.seq + 1;
            let line =
                super::jsonl::encode(&record).map_err(|e| LedgerError::Backend(e.to_string()))?;
            let text = String::from_utf8_lossy(&line);
            if crate::secrets::carries_usersig(&text) {
                return Err(LedgerError::SecretInRecord {
                    what: format!("record {} of kind {}", record.seq, record.body.kind()),
                });
            }
            match self.session.append(&record, &line).await {
                Ok(Appended::Durable) => break,
                Ok(Appended::Behind(others)) => self.catch_up(&others)?,
                Err(e) => {
                    // A lost lock stops new sends but does not poison (the store keeps refusing
                    // what it must); any other failure may have left a torn record: no further
                    // appends.
                    if !matches!(e, LedgerError::LockLost { .. } | LedgerError::Fenced { .. }) {
                        self.poisoned = true;
                    }
                    return Err(e);
                }
            }
        }
        self.take_in(&record);
        self.save_checkpoint().await;
        Ok(record)
    }

    /// Takes in what other writers recorded since this writer's last record (before a send:
    /// a `crier stop` from another process, another project's pushes of a shared app).
    ///
    /// # Errors
    /// A store failure; a record of an app this writer holds written by another.
    pub async fn refresh(&mut self) -> Result<(), LedgerError> {
        let others = self.session.incoming(self.folded.snapshot.seq).await?;
        if others.is_empty() {
            return Ok(());
        }
        self.catch_up(&others)
    }

    /// Takes in other writers' records. None may touch an app this writer holds: that would
    /// mean two writers of one app, so the writer stops.
    fn catch_up(&mut self, others: &[Record]) -> Result<(), LedgerError> {
        let mut progressed = false;
        for r in others {
            if r.seq != self.folded.snapshot.seq + 1 {
                continue;
            }
            if let RecordBody::Occurrence(o) = &r.body
                && self.holds(o.key.sdkappid)
            {
                return Err(LedgerError::Fenced {
                    ledger: self.session.describe(),
                    detail: format!(
                        "record {} for {} was written by another writer of the same app",
                        r.seq,
                        o.key.id()
                    ),
                });
            }
            self.take_in(r);
            progressed = true;
        }
        if progressed {
            Ok(())
        } else {
            Err(LedgerError::Backend(format!(
                "{}: the store said this writer is behind but gave no record after seq {}",
                self.session.describe(),
                self.folded.snapshot.seq
            )))
        }
    }
}

/// The checkpoint an import stores with `records` (a whole ledger), when it is long enough to
/// want one.
#[must_use]
pub fn import_checkpoint(records: &[Record]) -> Option<Checkpoint> {
    let last = records.last()?;
    (last.seq >= checkpoint::EVERY).then(|| Checkpoint::of(&LedgerSnapshot::fold(records), last))
}

/// The first record of a new ledger (stores that create a ledger whole write it themselves).
#[must_use]
pub fn header(now: DateTime<Utc>) -> Record {
    Record {
        v: SCHEMA_VERSION,
        seq: 1,
        at: now.trunc_subsecs(3),
        body: RecordBody::header(),
    }
}

/// Runs a future that never waits (a file store's) to completion on this thread.
pub fn run_now<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

impl<S: StoreSession> LedgerWriter for Writer<S> {
    fn snapshot(&self) -> &LedgerSnapshot {
        &self.folded.snapshot
    }

    fn warnings(&self) -> &[LedgerWarning] {
        &self.warnings
    }

    async fn append(&mut self, at: DateTime<Utc>, body: RecordBody) -> Result<Record, LedgerError> {
        Writer::append(self, at, body).await
    }

    async fn refresh(&mut self) -> Result<(), LedgerError> {
        Writer::refresh(self).await
    }
}
