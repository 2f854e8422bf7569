//! The fold: records in, [`LedgerSnapshot`] out. Pure: no I/O, no clock. (The transition table
//! a writer enforces is [`super::transition`].)

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::record::{
    OccurrenceRecord, OccurrenceState, Record, RecordBody, RepairRecord, SnapshotRecord, StateKind,
    StopRecord, TestSendRecord,
};
use crate::occurrence::OccurrenceKey;

/// Everything the ledger knows, folded from its records.
///
/// A snapshot read through a checkpoint is *compacted* ([`Self::compact`]): occurrences settled
/// long before the last apply are left out of `occurrences` and counted in `compacted`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LedgerSnapshot {
    /// The sequence number of the last record (0 for an empty ledger).
    pub seq: u64,
    /// The time of the last record.
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
    /// Every occurrence recorded, by [`OccurrenceKey::id`], but those [`Self::compact`] left out.
    pub occurrences: BTreeMap<String, OccurrenceView>,
    /// The latest applied snapshot per project.
    pub applied: BTreeMap<String, AppliedSnapshot>,
    /// MsgRandoms used by occurrence intents, per sdkappid, in record order.
    pub msg_randoms: BTreeMap<u64, Vec<MsgRandomUse>>,
    /// Test sends, in record order.
    pub test_sends: Vec<Stamped<TestSendRecord>>,
    /// Repairs of torn tails, in record order.
    pub repairs: Vec<Stamped<RepairRecord>>,
    /// The apps stopped now (`crier stop`, not yet resumed), by sdkappid.
    pub stops: BTreeMap<u64, Stamped<StopRecord>>,
    /// What [`Self::compact`] left out.
    #[serde(default)]
    pub compacted: Compacted,
}

/// The settled occurrences a compaction left out of a snapshot, in summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compacted {
    /// How many, by latest state.
    pub counts: BTreeMap<StateKind, u64>,
    /// Per campaign name, the last two delivered occurrences of each (project, sdkappid), so a
    /// moved or renamed one-off is still known as sent ([`LedgerSnapshot::delivered_keys`]).
    pub delivered: BTreeMap<String, Vec<DeliveredKey>>,
    /// Per project, the instant before which settled occurrences may have been left out.
    pub before: BTreeMap<String, DateTime<Utc>>,
}

impl Compacted {
    /// Keeps the last two delivered occurrences per (campaign, project, sdkappid).
    fn remember_delivered(&mut self, d: DeliveredKey) {
        let list = self.delivered.entry(d.key.campaign.clone()).or_default();
        list.push(d);
        list.sort_by(|a, b| {
            (&a.key.project, a.key.sdkappid, a.key.scheduled).cmp(&(
                &b.key.project,
                b.key.sdkappid,
                b.key.scheduled,
            ))
        });
        let mut kept: Vec<DeliveredKey> = Vec::with_capacity(list.len());
        for d in list.drain(..).rev() {
            let same = kept
                .iter()
                .filter(|k| k.key.project == d.key.project && k.key.sdkappid == d.key.sdkappid)
                .count();
            if same < 2 {
                kept.push(d);
            }
        }
        kept.reverse();
        *list = kept;
    }
}

/// A delivered occurrence a compaction left out: its key, state and TaskId.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveredKey {
    pub key: OccurrenceKey,
    pub state: StateKind,
    pub task_id: Option<String>,
}

/// How long settled occurrences stay whole in a compacted snapshot, counted back from the
/// project's last applied snapshot (or the last record, when earlier). Longer than every window
/// a command looks back over: grace (at most 30 days), the 7-day MsgRandom rule, `report`'s
/// 30 days, `recall`'s 24 hours.
pub const RETENTION: TimeDelta = TimeDelta::days(40);

/// A record's payload with its sequence number and time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamped<T> {
    pub seq: u64,
    #[serde(with = "super::record::millis")]
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub value: T,
}

impl Stamped<StopRecord> {
    /// `by ana@host at 2026-12-01T02:00:00Z: wrong link`, for every message about a stop.
    #[must_use]
    pub fn who_when_why(&self) -> String {
        format!(
            "by {} at {}: {}",
            self.value.by,
            self.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            self.value.reason
        )
    }
}

/// One occurrence: its latest state and its whole history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OccurrenceView {
    pub id: String,
    pub key: OccurrenceKey,
    pub app: String,
    /// The latest state.
    pub state: OccurrenceState,
    /// The MsgRandom of the latest intent, if any.
    pub msg_random: Option<u32>,
    /// The content hash of the latest intent, if any.
    pub content_hash: Option<String>,
    /// The TaskId from `sent`, `resolved_sent` or `recalled`, if any.
    pub task_id: Option<String>,
    /// How many intents were recorded (each is one attempt).
    pub attempts: u32,
    /// Sequence number of the latest record of this occurrence (plan files compare it).
    pub last_seq: u64,
    /// Every record of this occurrence, oldest first.
    pub history: Vec<Stamped<OccurrenceState>>,
}

impl OccurrenceView {
    #[must_use]
    pub fn kind(&self) -> StateKind {
        self.state.kind()
    }

    /// When the latest record was written.
    #[must_use]
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.history.last().map_or(self.key.scheduled, |h| h.at)
    }

    /// The rendered request of the latest intent, if any.
    #[must_use]
    pub fn request(&self) -> Option<&serde_json::Value> {
        self.history.iter().rev().find_map(|h| match &h.value {
            OccurrenceState::Intent { request, .. } => Some(request),
            _ => None,
        })
    }

    /// True when an operator (or `--retry-in-doubt`) must decide: the request may have reached
    /// the provider (`in_doubt`), or an intent has no outcome (its writer ended mid-send).
    #[must_use]
    pub fn needs_decision(&self) -> bool {
        matches!(self.kind(), StateKind::InDoubt | StateKind::Intent)
    }

    /// An earlier attempt may have reached the provider: the history has an `in_doubt` that no
    /// operator decision followed. Such an occurrence may only end `sent`, `in_doubt` or by an
    /// operator's decision; anything that says "not delivered" would be a guess.
    #[must_use]
    pub fn in_doubt_unresolved(&self) -> bool {
        for h in self.history.iter().rev() {
            match h.value.kind() {
                StateKind::InDoubt => return true,
                StateKind::ResolvedSent | StateKind::ResolvedNotSent => return false,
                _ => {}
            }
        }
        false
    }
}

/// The latest applied snapshot of one project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppliedSnapshot {
    pub seq: u64,
    #[serde(with = "super::record::millis")]
    pub at: DateTime<Utc>,
    pub snapshot: SnapshotRecord,
    /// Per campaign of this snapshot: when it first appeared in an applied snapshot, counting
    /// from the start of its current unbroken presence (a campaign dropped by one snapshot and
    /// added again later starts over). Missed and skipped are only recorded after this instant.
    pub first_applied: BTreeMap<String, DateTime<Utc>>,
}

/// One use of a MsgRandom: the value, the occurrence and the time of its intent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MsgRandomUse {
    pub value: u32,
    pub occurrence: String,
    #[serde(with = "super::record::millis")]
    pub at: DateTime<Utc>,
}

impl LedgerSnapshot {
    /// Folds records, oldest first.
    #[must_use]
    pub fn fold<'a>(records: impl IntoIterator<Item = &'a Record>) -> Self {
        let mut snapshot = Self::default();
        for record in records {
            snapshot.apply(record);
        }
        snapshot
    }

    /// Adds one record (the incremental step of [`Self::fold`]).
    pub fn apply(&mut self, record: &Record) {
        self.seq = self.seq.max(record.seq);
        self.at = self.at.max(Some(record.at));
        match &record.body {
            RecordBody::Header { .. } => {}
            RecordBody::Occurrence(occ) => self.apply_occurrence(record.seq, record.at, occ),
            RecordBody::Snapshot(snap) => self.apply_snapshot(record.seq, record.at, snap),
            RecordBody::TestSend(test) => {
                self.test_sends.push(Stamped {
                    seq: record.seq,
                    at: record.at,
                    value: test.clone(),
                });
            }
            RecordBody::Repair(repair) => {
                self.repairs.push(Stamped {
                    seq: record.seq,
                    at: record.at,
                    value: repair.clone(),
                });
            }
            RecordBody::Stop(stop) => {
                self.stops.insert(
                    stop.sdkappid,
                    Stamped {
                        seq: record.seq,
                        at: record.at,
                        value: stop.clone(),
                    },
                );
            }
            RecordBody::Resume(resume) => {
                self.stops.remove(&resume.sdkappid);
            }
        }
    }

    /// The stop of the app `sdkappid`, when it is stopped now.
    #[must_use]
    pub fn stop_of(&self, sdkappid: u64) -> Option<&Stamped<StopRecord>> {
        self.stops.get(&sdkappid)
    }

    fn apply_occurrence(&mut self, seq: u64, at: DateTime<Utc>, occ: &OccurrenceRecord) {
        self.apply_state(seq, at, &occ.key, &occ.app, occ.state.clone());
    }

    /// Adds one occurrence state, taking it (the view keeps one copy as its latest state and
    /// moves the other into the history).
    fn apply_state(
        &mut self,
        seq: u64,
        at: DateTime<Utc>,
        key: &OccurrenceKey,
        app: &str,
        state: OccurrenceState,
    ) {
        let view = match self.occurrences.entry(key.id()) {
            std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::btree_map::Entry::Vacant(v) => {
                let id = v.key().clone();
                v.insert(OccurrenceView {
                    id,
                    key: key.clone(),
                    app: app.to_owned(),
                    // Overwritten just below; a cheap placeholder rather than a third copy.
                    state: OccurrenceState::Missed,
                    msg_random: None,
                    content_hash: None,
                    task_id: None,
                    attempts: 0,
                    last_seq: seq,
                    history: Vec::new(),
                })
            }
        };
        if view.app != app {
            app.clone_into(&mut view.app);
        }
        view.last_seq = seq;
        match &state {
            OccurrenceState::Intent {
                msg_random,
                content_hash,
                ..
            } => {
                view.msg_random = Some(*msg_random);
                view.content_hash = Some(content_hash.clone());
                view.attempts += 1;
                self.msg_randoms
                    .entry(key.sdkappid)
                    .or_default()
                    .push(MsgRandomUse {
                        value: *msg_random,
                        occurrence: view.id.clone(),
                        at,
                    });
            }
            OccurrenceState::Sent { task_id } | OccurrenceState::Recalled { task_id, .. } => {
                view.task_id = Some(task_id.clone());
            }
            OccurrenceState::ResolvedSent {
                task_id: Some(task_id),
                ..
            } => {
                view.task_id = Some(task_id.clone());
            }
            _ => {}
        }
        view.state = state.clone();
        view.history.push(Stamped {
            seq,
            at,
            value: state,
        });
    }

    /// [`Self::fold`] of records the caller no longer needs: states are moved, not copied.
    #[must_use]
    pub fn fold_owned(records: Vec<Record>) -> Self {
        let mut snapshot = Self::default();
        for record in records {
            match record.body {
                RecordBody::Occurrence(occ) => {
                    snapshot.seq = snapshot.seq.max(record.seq);
                    snapshot.at = snapshot.at.max(Some(record.at));
                    snapshot.apply_state(record.seq, record.at, &occ.key, &occ.app, occ.state);
                }
                _ => snapshot.apply(&record),
            }
        }
        snapshot
    }

    fn apply_snapshot(&mut self, seq: u64, at: DateTime<Utc>, snap: &SnapshotRecord) {
        let previous = self.applied.get(&snap.project);
        let first_applied = snap
            .campaigns
            .keys()
            .map(|name| {
                let since = previous
                    .and_then(|p| p.first_applied.get(name))
                    .copied()
                    .unwrap_or(at);
                (name.clone(), since)
            })
            .collect();
        self.applied.insert(
            snap.project.clone(),
            AppliedSnapshot {
                seq,
                at,
                snapshot: snap.clone(),
                first_applied,
            },
        );
    }

    /// Leaves out the occurrences settled long ago, keeping a summary ([`Compacted`]): what a
    /// checkpoint stores, so that reading the ledger costs what the last weeks hold, not its
    /// whole history. An occurrence is left out when its latest state is settled (anything but
    /// an intent or `in_doubt`) and both its scheduled time and its last record are older than
    /// `retention` before its project's last applied snapshot (or the last record, if earlier).
    ///
    /// What stays is everything a plan, an apply or `status` looks at: every occurrence within
    /// grace of the last apply (grace is at most 30 days), the MsgRandoms of the last week, the
    /// last sends. `crier ledger list|show` read the whole history instead.
    pub fn compact(&mut self, retention: TimeDelta) {
        let Some(last) = self.at else {
            return;
        };
        let horizon = |project: &str| {
            let since = self.applied.get(project).map_or(last, |a| a.at.min(last));
            since - retention
        };
        let mut horizons: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
        let mut left_out = Vec::new();
        for (id, o) in &self.occurrences {
            let h = *horizons
                .entry(o.key.project.clone())
                .or_insert_with(|| horizon(&o.key.project));
            if !o.needs_decision() && o.updated_at() < h && o.key.scheduled < h {
                left_out.push(id.clone());
            }
        }
        for id in left_out {
            let Some(o) = self.occurrences.remove(&id) else {
                continue;
            };
            *self.compacted.counts.entry(o.kind()).or_default() += 1;
            if o.kind().is_delivered() {
                self.compacted.remember_delivered(DeliveredKey {
                    state: o.kind(),
                    key: o.key,
                    task_id: o.task_id,
                });
            }
        }
        for (project, h) in horizons {
            let before = self.compacted.before.entry(project).or_insert(h);
            *before = (*before).max(h);
        }
        let week_ago = last - retention;
        for uses in self.msg_randoms.values_mut() {
            uses.retain(|u| u.at >= week_ago);
        }
        self.msg_randoms.retain(|_, uses| !uses.is_empty());
        self.test_sends.retain(|t| t.at >= week_ago);
        self.repairs.retain(|r| r.at >= week_ago);
    }

    /// How many occurrences are in each state: those in the snapshot and those a compaction
    /// left out.
    #[must_use]
    pub fn counts(&self) -> BTreeMap<StateKind, u64> {
        let mut counts = self.compacted.counts.clone();
        for o in self.occurrences.values() {
            *counts.entry(o.kind()).or_default() += 1;
        }
        counts
    }

    /// The keys of the delivered occurrences of campaign `name` (any project or sdkappid): every
    /// one in the snapshot, and the last two of each project and sdkappid a compaction left out.
    pub fn delivered_keys<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a OccurrenceKey> {
        self.occurrences
            .values()
            .filter(move |o| o.key.campaign == name && o.kind().is_delivered())
            .map(|o| &o.key)
            .chain(
                self.compacted
                    .delivered
                    .get(name)
                    .into_iter()
                    .flatten()
                    .map(|d| &d.key),
            )
    }

    /// A delivered occurrence a compaction left out, by key (see [`Compacted::delivered`]).
    #[must_use]
    pub fn compacted_delivered(&self, key: &OccurrenceKey) -> Option<&DeliveredKey> {
        self.compacted
            .delivered
            .get(&key.campaign)?
            .iter()
            .find(|d| &d.key == key)
    }

    /// The occurrence with this id.
    #[must_use]
    pub fn occurrence(&self, key: &OccurrenceKey) -> Option<&OccurrenceView> {
        self.occurrences.get(&key.id())
    }

    /// The quota days the provider said were full (90047 answered to an intent), per sdkappid:
    /// nothing more is sent on them (asking again costs one more refused request).
    #[must_use]
    pub fn provider_full_days(&self) -> std::collections::BTreeSet<(u64, chrono::NaiveDate)> {
        let mut days = std::collections::BTreeSet::new();
        for o in self.occurrences.values() {
            for pair in o.history.windows(2) {
                if let (OccurrenceState::Intent { .. }, OccurrenceState::Deferred { quota_day }) =
                    (&pair[0].value, &pair[1].value)
                {
                    days.insert((o.key.sdkappid, *quota_day));
                }
            }
        }
        days
    }

    /// Pushes of one app per quota day (midnight to midnight in `tz`), over every project: the
    /// accepted ones, the ones that may have been (in doubt, or an intent without outcome), and
    /// a day the provider said is full (90047) counts as `daily_quota`. The quota forecast and
    /// the plan-file staleness check both count with this.
    #[must_use]
    pub fn used_per_day(
        &self,
        sdkappid: u64,
        tz: chrono_tz::Tz,
        daily_quota: u32,
    ) -> BTreeMap<chrono::NaiveDate, u32> {
        let mut days = self.pushes_per_day(sdkappid, tz, |_| true);
        for (app, full) in self.provider_full_days() {
            if app == sdkappid {
                let used = days.entry(full).or_default();
                *used = (*used).max(daily_quota);
            }
        }
        days
    }

    /// Of [`Self::used_per_day`], the pushes of projects other than `mine` (a shared ledger:
    /// other repositories on the same app), per quota day.
    #[must_use]
    pub fn others_per_day(
        &self,
        sdkappid: u64,
        tz: chrono_tz::Tz,
        mine: &[&str],
    ) -> BTreeMap<chrono::NaiveDate, u32> {
        self.pushes_per_day(sdkappid, tz, |p| !mine.contains(&p))
    }

    /// Accepted (or possibly accepted) pushes of one app per quota day, of the projects
    /// `project` keeps.
    fn pushes_per_day(
        &self,
        sdkappid: u64,
        tz: chrono_tz::Tz,
        project: impl Fn(&str) -> bool,
    ) -> BTreeMap<chrono::NaiveDate, u32> {
        let mut days: BTreeMap<chrono::NaiveDate, u32> = BTreeMap::new();
        let day = |at: DateTime<Utc>| at.with_timezone(&tz).date_naive();
        for (o, at) in self.accepted_pushes(sdkappid) {
            if project(&o.key.project) {
                *days.entry(day(at)).or_default() += 1;
            }
        }
        for o in self
            .occurrences
            .values()
            .filter(|o| o.key.sdkappid == sdkappid && o.needs_decision() && project(&o.key.project))
        {
            *days.entry(day(o.updated_at())).or_default() += 1;
        }
        days
    }

    /// The MsgRandoms of one app (sdkappid), in record order.
    #[must_use]
    pub fn msg_randoms_of(&self, sdkappid: u64) -> &[MsgRandomUse] {
        self.msg_randoms.get(&sdkappid).map_or(&[], Vec::as_slice)
    }

    /// Occurrences with a record newer than `seq` (a plan file's sequence number).
    pub fn touched_since(&self, seq: u64) -> impl Iterator<Item = &OccurrenceView> {
        self.occurrences.values().filter(move |o| o.last_seq > seq)
    }

    /// The pushes of one app the provider accepted, with the time the acceptance was recorded
    /// (`sent`), or for `resolved_sent` the time of its last intent; for quota accounting.
    pub fn accepted_pushes(
        &self,
        sdkappid: u64,
    ) -> impl Iterator<Item = (&OccurrenceView, DateTime<Utc>)> {
        self.occurrences
            .values()
            .filter(move |o| o.key.sdkappid == sdkappid)
            .filter_map(|o| {
                let sent_at = o.history.iter().rev().find_map(|h| match h.value {
                    OccurrenceState::Sent { .. } => Some(h.at),
                    _ => None,
                });
                let intent_at = || {
                    o.history.iter().rev().find_map(|h| match h.value {
                        OccurrenceState::Intent { .. } => Some(h.at),
                        _ => None,
                    })
                };
                match o.kind() {
                    StateKind::Sent | StateKind::Recalled => sent_at.or_else(intent_at),
                    StateKind::ResolvedSent => intent_at().or(sent_at),
                    _ => None,
                }
                .map(|at| (o, at))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::record::{CampaignSnapshot, SCHEMA_VERSION};
    use crate::ledger::transition::{TransitionError, check_transition};
    use chrono::NaiveDate;
    use indexmap::IndexMap;

    fn key(campaign: &str) -> OccurrenceKey {
        OccurrenceKey {
            project: "shop".into(),
            sdkappid: 1_400_000_000,
            campaign: campaign.into(),
            scheduled: "2026-12-01T02:00:00Z".parse().unwrap(),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        format!("2026-12-01T{s}Z").parse().unwrap()
    }

    fn intent(msg_random: u32, attempt: u32) -> OccurrenceState {
        OccurrenceState::Intent {
            msg_random,
            perturbation: None,
            content_hash: format!("sha256:{attempt}"),
            request: serde_json::json!({"MsgRandom": msg_random}),
            attempt,
            origin: None,
        }
    }

    fn occ(seq: u64, t: &str, campaign: &str, state: OccurrenceState) -> Record {
        Record {
            v: SCHEMA_VERSION,
            seq,
            at: at(t),
            body: RecordBody::Occurrence(OccurrenceRecord {
                key: key(campaign),
                app: "prod".into(),
                state,
            }),
        }
    }

    fn snapshot(seq: u64, t: &str, names: &[&str]) -> Record {
        let campaigns: IndexMap<_, _> = names
            .iter()
            .map(|n| {
                (
                    (*n).to_owned(),
                    CampaignSnapshot {
                        hash: format!("sha256:{n}"),
                        campaign: serde_json::json!({"name": n}),
                    },
                )
            })
            .collect();
        Record {
            v: SCHEMA_VERSION,
            seq,
            at: at(t),
            body: RecordBody::Snapshot(SnapshotRecord {
                project: "shop".into(),
                campaigns,
            }),
        }
    }

    #[test]
    fn folding_owned_records_gives_the_same_snapshot() {
        let records = vec![
            Record {
                v: SCHEMA_VERSION,
                seq: 1,
                at: at("02:00:00"),
                body: RecordBody::header(),
            },
            occ(2, "02:00:01", "a", intent(7, 1)),
            snapshot(3, "02:00:02", &["a"]),
            occ(
                4,
                "02:00:03",
                "a",
                OccurrenceState::Sent {
                    task_id: "t".into(),
                },
            ),
            occ(5, "02:00:04", "b", intent(8, 1)),
        ];
        assert_eq!(
            LedgerSnapshot::fold_owned(records.clone()),
            LedgerSnapshot::fold(&records)
        );
    }

    #[test]
    fn empty_fold_is_the_default() {
        let s = LedgerSnapshot::fold(&[]);
        assert_eq!(s.seq, 0);
        assert!(s.occurrences.is_empty());
    }

    #[test]
    fn intent_then_sent_keeps_history_msg_random_and_task_id() {
        let records = [
            Record {
                v: 1,
                seq: 1,
                at: at("01:00:00"),
                body: RecordBody::header(),
            },
            occ(2, "02:00:01", "sale", intent(77, 1)),
            occ(
                3,
                "02:00:02",
                "sale",
                OccurrenceState::Sent {
                    task_id: "task-1".into(),
                },
            ),
        ];
        let s = LedgerSnapshot::fold(&records);
        assert_eq!(s.seq, 3);
        let v = s.occurrence(&key("sale")).unwrap();
        assert_eq!(v.kind(), StateKind::Sent);
        assert_eq!(v.msg_random, Some(77));
        assert_eq!(v.task_id.as_deref(), Some("task-1"));
        assert_eq!(v.attempts, 1);
        assert_eq!(v.last_seq, 3);
        assert_eq!(v.history.iter().map(|h| h.seq).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(v.request(), Some(&serde_json::json!({"MsgRandom": 77})));
        assert!(!v.needs_decision());
        // `crier ledger show --format json` prints the view: history entries carry their state.
        let json = serde_json::to_value(v).unwrap();
        assert_eq!(
            json["history"][1],
            serde_json::json!({"seq": 3, "at": "2026-12-01T02:00:02.000Z", "state": "sent", "task_id": "task-1"})
        );
        assert_eq!(json["state"]["state"], "sent");
        assert_eq!(
            s.msg_randoms_of(1_400_000_000),
            [MsgRandomUse {
                value: 77,
                occurrence: key("sale").id(),
                at: at("02:00:01")
            }]
        );
        assert_eq!(
            s.accepted_pushes(1_400_000_000)
                .map(|(_, t)| t)
                .collect::<Vec<_>>(),
            [at("02:00:02")]
        );
    }

    #[test]
    fn failed_in_doubt_and_dangling_intent_states() {
        let records = [
            occ(1, "02:00:01", "a", intent(1, 1)),
            occ(
                2,
                "02:00:02",
                "a",
                OccurrenceState::Failed {
                    error_code: 90_033,
                    error_info: "bad attr".into(),
                },
            ),
            occ(3, "02:00:03", "b", intent(2, 1)),
            occ(
                4,
                "02:00:04",
                "b",
                OccurrenceState::InDoubt {
                    reason: "timeout".into(),
                },
            ),
            occ(5, "02:00:05", "c", intent(3, 1)),
        ];
        let s = LedgerSnapshot::fold(&records);
        let a = s.occurrence(&key("a")).unwrap();
        assert_eq!(
            a.state,
            OccurrenceState::Failed {
                error_code: 90_033,
                error_info: "bad attr".into()
            }
        );
        assert!(!a.needs_decision());
        assert!(s.occurrence(&key("b")).unwrap().needs_decision());
        assert!(s.occurrence(&key("c")).unwrap().needs_decision());
        assert_eq!(s.accepted_pushes(1_400_000_000).count(), 0);
        assert_eq!(
            s.touched_since(3)
                .map(|o| o.key.campaign.as_str())
                .collect::<Vec<_>>(),
            ["b", "c"]
        );
    }

    #[test]
    fn retry_counts_attempts_and_resolution_sets_task_id() {
        let records = [
            occ(1, "02:00:01", "a", intent(9, 1)),
            occ(
                2,
                "02:00:02",
                "a",
                OccurrenceState::InDoubt {
                    reason: "reset".into(),
                },
            ),
            occ(3, "02:10:00", "a", intent(9, 2)),
            occ(
                4,
                "02:10:01",
                "a",
                OccurrenceState::InDoubt {
                    reason: "reset".into(),
                },
            ),
            occ(
                5,
                "03:00:00",
                "a",
                OccurrenceState::ResolvedSent {
                    task_id: Some("T".into()),
                    by: "ops".into(),
                    note: None,
                },
            ),
        ];
        let s = LedgerSnapshot::fold(&records);
        let a = s.occurrence(&key("a")).unwrap();
        assert_eq!(a.attempts, 2);
        assert_eq!(a.kind(), StateKind::ResolvedSent);
        assert_eq!(a.task_id.as_deref(), Some("T"));
        assert_eq!(s.msg_randoms_of(1_400_000_000).len(), 2);
        assert_eq!(
            s.accepted_pushes(1_400_000_000)
                .map(|(_, t)| t)
                .collect::<Vec<_>>(),
            [at("02:10:00")]
        );
    }

    #[test]
    fn deferred_missed_skipped_and_recalled_are_latest_states() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let records = [
            occ(
                1,
                "02:00:00",
                "a",
                OccurrenceState::Deferred { quota_day: day },
            ),
            occ(2, "02:20:00", "a", OccurrenceState::Missed),
            occ(
                3,
                "02:00:00",
                "b",
                OccurrenceState::Skipped {
                    why: "app paused".into(),
                },
            ),
            occ(4, "02:00:01", "c", intent(5, 1)),
            occ(
                5,
                "02:00:02",
                "c",
                OccurrenceState::Sent {
                    task_id: "t".into(),
                },
            ),
            occ(
                6,
                "05:00:00",
                "c",
                OccurrenceState::Recalled {
                    task_id: "t".into(),
                    request: None,
                },
            ),
        ];
        let s = LedgerSnapshot::fold(&records);
        assert_eq!(s.occurrence(&key("a")).unwrap().kind(), StateKind::Missed);
        assert_eq!(s.occurrence(&key("a")).unwrap().history.len(), 2);
        assert_eq!(s.occurrence(&key("b")).unwrap().kind(), StateKind::Skipped);
        let c = s.occurrence(&key("c")).unwrap();
        assert_eq!(c.kind(), StateKind::Recalled);
        assert_eq!(c.task_id.as_deref(), Some("t"));
        assert_eq!(
            s.accepted_pushes(1_400_000_000)
                .map(|(_, t)| t)
                .collect::<Vec<_>>(),
            [at("02:00:02")]
        );
    }

    #[test]
    fn snapshots_keep_the_latest_and_when_each_campaign_first_appeared() {
        let records = [
            snapshot(1, "01:00:00", &["a", "b"]),
            snapshot(2, "02:00:00", &["a", "c"]),
            snapshot(3, "03:00:00", &["a", "b", "c"]),
        ];
        let s = LedgerSnapshot::fold(&records);
        let applied = &s.applied["shop"];
        assert_eq!(applied.seq, 3);
        assert_eq!(
            applied.snapshot.campaigns.keys().collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(applied.first_applied["a"], at("01:00:00"));
        assert_eq!(
            applied.first_applied["b"],
            at("03:00:00"),
            "b was dropped at seq 2, so it starts over"
        );
        assert_eq!(applied.first_applied["c"], at("02:00:00"));
    }

    #[test]
    fn transitions_follow_the_table() {
        let id = key("a").id();
        let fold = |states: &[OccurrenceState]| {
            let records: Vec<_> = states
                .iter()
                .enumerate()
                .map(|(i, s)| occ(i as u64 + 1, "02:00:00", "a", s.clone()))
                .collect();
            LedgerSnapshot::fold(&records)
        };
        let sent = OccurrenceState::Sent {
            task_id: "t".into(),
        };
        let in_doubt = OccurrenceState::InDoubt { reason: "x".into() };
        // A first intent, then its outcome.
        assert!(check_transition(None, &id, &intent(1, 1)).is_ok());
        assert!(check_transition(None, &id, &sent).is_err());
        let s = fold(&[intent(1, 1)]);
        assert!(check_transition(s.occurrence(&key("a")), &id, &sent).is_ok());
        // Never an intent after a send: that would be a second push.
        let s = fold(&[intent(1, 1), sent.clone()]);
        assert_eq!(
            check_transition(s.occurrence(&key("a")), &id, &intent(1, 2)),
            Err(TransitionError::NotAllowed {
                id: id.clone(),
                from: Some(StateKind::Sent),
                to: StateKind::Intent
            })
        );
        assert!(
            check_transition(
                s.occurrence(&key("a")),
                &id,
                &OccurrenceState::Recalled {
                    task_id: "t".into(),
                    request: None
                }
            )
            .is_ok()
        );
        assert!(check_transition(s.occurrence(&key("a")), &id, &OccurrenceState::Missed).is_err());
        // A retry after in_doubt reuses the MsgRandom and counts the attempt.
        let s = fold(&[intent(1, 1), in_doubt.clone()]);
        let v = s.occurrence(&key("a"));
        assert!(check_transition(v, &id, &intent(1, 2)).is_ok());
        assert!(matches!(
            check_transition(v, &id, &intent(2, 2)),
            Err(TransitionError::MsgRandomChanged {
                recorded: 1,
                got: 2,
                ..
            })
        ));
        assert!(matches!(
            check_transition(v, &id, &intent(1, 1)),
            Err(TransitionError::AttemptOutOfOrder { .. })
        ));
        assert!(
            check_transition(
                v,
                &id,
                &OccurrenceState::ResolvedNotSent {
                    by: "o".into(),
                    note: None
                }
            )
            .is_ok()
        );
        // Failed is a definite refusal, not final: a new attempt (same MsgRandom) may follow.
        let s = fold(&[
            intent(1, 1),
            OccurrenceState::Failed {
                error_code: 90_001,
                error_info: String::new(),
            },
        ]);
        assert!(check_transition(s.occurrence(&key("a")), &id, &intent(1, 2)).is_ok());
        assert!(check_transition(s.occurrence(&key("a")), &id, &intent(2, 2)).is_err());
        assert!(check_transition(s.occurrence(&key("a")), &id, &OccurrenceState::Missed).is_err());
        // Missed is recorded once.
        let s = fold(&[OccurrenceState::Missed]);
        assert!(check_transition(s.occurrence(&key("a")), &id, &OccurrenceState::Missed).is_err());
        // An operator's "not sent" lets the next apply send it.
        let s = fold(&[
            intent(1, 1),
            in_doubt,
            OccurrenceState::ResolvedNotSent {
                by: "o".into(),
                note: None,
            },
        ]);
        assert!(check_transition(s.occurrence(&key("a")), &id, &intent(1, 2)).is_ok());
    }

    #[test]
    fn not_sent_closes_an_attempt_and_lets_a_later_apply_retry() {
        let id = key("a").id();
        let not_sent = OccurrenceState::NotSent {
            reason: "connect refused".into(),
        };
        assert!(
            check_transition(None, &id, &not_sent).is_err(),
            "needs an intent"
        );
        let s = LedgerSnapshot::fold(&[occ(1, "02:00:00", "a", intent(4, 1))]);
        assert!(check_transition(s.occurrence(&key("a")), &id, &not_sent).is_ok());
        let s = LedgerSnapshot::fold(&[
            occ(1, "02:00:00", "a", intent(4, 1)),
            occ(2, "02:00:01", "a", not_sent.clone()),
        ]);
        let v = s.occurrence(&key("a"));
        assert!(!v.unwrap().needs_decision());
        assert_eq!(s.accepted_pushes(1_400_000_000).count(), 0);
        // A later apply retries with the same MsgRandom and the next attempt number.
        assert!(check_transition(v, &id, &intent(4, 2)).is_ok());
        assert!(check_transition(v, &id, &intent(5, 2)).is_err());
        // Or records it missed (past grace) or deferred (quota), but never as sent.
        assert!(check_transition(v, &id, &OccurrenceState::Missed).is_ok());
        assert!(
            check_transition(
                v,
                &id,
                &OccurrenceState::Deferred {
                    quota_day: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
                }
            )
            .is_ok()
        );
        assert!(
            check_transition(
                v,
                &id,
                &OccurrenceState::Sent {
                    task_id: "t".into()
                }
            )
            .is_err()
        );
        assert!(check_transition(v, &id, &not_sent).is_err());
    }
}
