//! Checkpoints: a compacted [`LedgerSnapshot`] kept beside the records, so that a read folds
//! only the records written after it and the cost of `plan`, `status` and `apply` stays what
//! the last weeks hold, however long the history grows. Pure: the stores keep the bytes.
//!
//! A checkpoint is a cache, never the truth:
//! - it names the last record it folded in (sequence number and a hash of that record), and a
//!   store uses it only while it still holds that very record at that number; otherwise (a
//!   restored ledger, a checkpoint of another ledger, an unknown format) the reader folds the
//!   whole history, as without one;
//! - it is written after the records it covers are durable, by a writer (under the lock),
//!   every [`EVERY`] records, and when an import or a first full read found a long history;
//! - losing it costs time, never a record: the records stay whole, and `crier ledger list|show`
//!   and `export` read them all.

use serde::{Deserialize, Serialize};

use super::fold::{LedgerSnapshot, RETENTION};
use super::record::Record;

/// The checkpoint format this build writes and reads; any other is ignored.
pub const FORMAT: u32 = 1;

/// A writer stores a checkpoint when this many records were written since the last one.
pub const EVERY: u64 = 1000;

/// A compacted snapshot as of record `seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub format: u32,
    /// The crier that wrote it (for people reading the store).
    pub crier_version: String,
    /// The last record folded in.
    pub seq: u64,
    /// [`record_hash`] of that record.
    pub record_hash: String,
    pub snapshot: LedgerSnapshot,
}

/// `sha256:…` of a record's canonical line (decoded and encoded again, so the same record
/// hashes the same in every store).
#[must_use]
pub fn record_hash(record: &Record) -> String {
    let line = super::jsonl::encode(record).unwrap_or_default();
    crate::plan::normalize::sha256(&line)
}

impl Checkpoint {
    /// The checkpoint of `snapshot`, whose last record is `last`: a compacted copy.
    #[must_use]
    pub fn of(snapshot: &LedgerSnapshot, last: &Record) -> Self {
        let mut snapshot = snapshot.clone();
        snapshot.compact(RETENTION);
        Self {
            format: FORMAT,
            crier_version: env!("CARGO_PKG_VERSION").to_owned(),
            seq: last.seq,
            record_hash: record_hash(last),
            snapshot,
        }
    }

    /// The stored form.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A stored checkpoint of this format; `None` for anything else (it is then ignored).
    #[must_use]
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let cp: Self = serde_json::from_slice(bytes).ok()?;
        (cp.format == FORMAT && cp.snapshot.seq == cp.seq).then_some(cp)
    }

    /// The stored checkpoint `bytes`, when `line` (the store's line at its sequence number) is
    /// the record it covers; `None` otherwise (it is then ignored). What every store checks.
    #[must_use]
    pub fn verified(bytes: &[u8], line: &[u8]) -> Option<Self> {
        let cp = Self::decode(bytes)?;
        let record = super::jsonl::parse_from(line).ok()?.pop()?;
        cp.covers(&record).then_some(cp)
    }

    /// Whether the store's record at [`Self::seq`] is the one this checkpoint folded in.
    #[must_use]
    pub fn covers(&self, record: &Record) -> bool {
        record.seq == self.seq && record_hash(record) == self.record_hash
    }

    /// The snapshot with `tail` (the records after [`Self::seq`], in order) folded in.
    #[must_use]
    pub fn resume(self, tail: Vec<Record>) -> LedgerSnapshot {
        let mut snapshot = self.snapshot;
        for record in tail {
            snapshot.apply(&record);
        }
        snapshot
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::record::{OccurrenceRecord, OccurrenceState, RecordBody, SCHEMA_VERSION};
    use crate::occurrence::OccurrenceKey;
    use chrono::{DateTime, TimeDelta, Utc};

    fn t0() -> DateTime<Utc> {
        "2026-01-01T02:00:00Z".parse().unwrap()
    }

    fn occ(seq: u64, at: DateTime<Utc>, day: i64, state: OccurrenceState) -> Record {
        Record {
            v: SCHEMA_VERSION,
            seq,
            at,
            body: RecordBody::Occurrence(OccurrenceRecord {
                key: OccurrenceKey {
                    project: "shop".into(),
                    sdkappid: 1_400_000_000,
                    campaign: "daily".into(),
                    scheduled: t0() + TimeDelta::days(day),
                },
                app: "prod".into(),
                state,
            }),
        }
    }

    /// A year of one push a day: an intent and a sent each.
    fn year() -> Vec<Record> {
        let mut records = vec![Record {
            v: SCHEMA_VERSION,
            seq: 1,
            at: t0(),
            body: RecordBody::header(),
        }];
        for day in 0..365 {
            let at = t0() + TimeDelta::days(day);
            let seq = records.len() as u64 + 1;
            records.push(occ(
                seq,
                at,
                day,
                OccurrenceState::Intent {
                    msg_random: u32::try_from(day).unwrap(),
                    perturbation: None,
                    content_hash: format!("sha256:{day}"),
                    request: serde_json::json!({"MsgRandom": day}),
                    attempt: 1,
                    origin: None,
                },
            ));
            records.push(occ(
                seq + 1,
                at + TimeDelta::seconds(1),
                day,
                OccurrenceState::Sent {
                    task_id: format!("task-{day}"),
                },
            ));
        }
        records
    }

    #[test]
    fn a_checkpoint_keeps_the_recent_weeks_and_counts_the_rest() {
        let records = year();
        let full = LedgerSnapshot::fold(&records);
        let cp = Checkpoint::of(&full, records.last().unwrap());
        // The last record is day 364's `sent` (+1 s): days 324..=364 have a record within 40
        // days of it and stay whole; the older ones are counted.
        assert_eq!(cp.snapshot.occurrences.len(), 41);
        assert_eq!(cp.snapshot.counts(), full.counts());
        assert_eq!(cp.snapshot.counts()[&crate::ledger::StateKind::Sent], 365);
        // The last two sends left out are still known as delivered.
        let delivered: Vec<_> = cp.snapshot.delivered_keys("daily").collect();
        assert_eq!(delivered.len(), 43);
        // MsgRandoms older than the retention are gone; the last week's are all there.
        let uses = cp.snapshot.msg_randoms_of(1_400_000_000);
        assert_eq!(uses.len(), 40);
        assert!(uses.iter().all(|u| u.value >= 325));
    }

    #[test]
    fn a_checkpoint_round_trips_and_resumes_to_the_same_view() {
        let records = year();
        let (head, tail) = records.split_at(600);
        let cp = Checkpoint::of(&LedgerSnapshot::fold(head), head.last().unwrap());
        let stored = Checkpoint::decode(&cp.encode()).expect("decodes");
        assert_eq!(stored, cp);
        assert!(stored.covers(&head[599]));
        assert!(!stored.covers(&head[598]));
        let resumed = stored.resume(tail.to_vec());
        let mut direct = LedgerSnapshot::fold(&records);
        // The resumed view equals the full fold compacted as of the checkpoint.
        let mut expect = LedgerSnapshot::fold(head);
        expect.compact(RETENTION);
        for r in tail {
            expect.apply(r);
        }
        assert_eq!(resumed, expect);
        // And answers like the full history for what is recent.
        direct.compact(RETENTION);
        assert_eq!(resumed.seq, direct.seq);
        assert_eq!(resumed.counts(), LedgerSnapshot::fold(&records).counts());
        let recent = |s: &LedgerSnapshot| {
            s.occurrences
                .values()
                .filter(|o| o.key.scheduled > t0() + TimeDelta::days(320))
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(recent(&resumed), recent(&LedgerSnapshot::fold(&records)));
    }

    #[test]
    fn another_format_or_garbage_is_ignored() {
        assert!(Checkpoint::decode(b"not json").is_none());
        assert!(Checkpoint::decode(br#"{"format": 99}"#).is_none());
    }

    #[test]
    fn occurrences_that_need_a_decision_are_never_left_out() {
        let mut records = year();
        let seq = records.len() as u64 + 1;
        records.push(occ(
            seq,
            t0() + TimeDelta::days(1),
            -30,
            OccurrenceState::InDoubt {
                reason: "timeout".into(),
            },
        ));
        // An in-doubt occurrence scheduled a month before everything else.
        let cp = Checkpoint::of(&LedgerSnapshot::fold(&records), records.last().unwrap());
        assert!(
            cp.snapshot
                .occurrences
                .values()
                .any(|o| o.kind() == crate::ledger::StateKind::InDoubt)
        );
    }
}
