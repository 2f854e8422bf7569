//! What `crier status` and `crier ledger list|show|resolve` need, as values (the CLI prints
//! them). Pure, except [`resolve`], which appends through a writer.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::fold::{LedgerSnapshot, OccurrenceView};
use super::lock::{HeldLock, LockState};
use super::record::{OccurrenceRecord, OccurrenceState, Record, RecordBody, StateKind};
use super::{LedgerError, LedgerWarning, LedgerWriter};

/// Which occurrences `crier ledger list` shows. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub states: Vec<StateKind>,
    pub campaign: Option<String>,
    pub app: Option<String>,
}

impl ListFilter {
    #[must_use]
    pub fn matches(&self, o: &OccurrenceView) -> bool {
        (self.states.is_empty() || self.states.contains(&o.kind()))
            && self.campaign.as_ref().is_none_or(|c| *c == o.key.campaign)
            && self.app.as_ref().is_none_or(|a| *a == o.app)
    }
}

/// One occurrence on one line: what list and status show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OccurrenceLine {
    pub id: String,
    pub app: String,
    pub campaign: String,
    #[serde(with = "super::record::millis")]
    pub scheduled: DateTime<Utc>,
    pub state: StateKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_random: Option<u32>,
    pub attempts: u32,
    #[serde(with = "super::record::millis")]
    pub updated_at: DateTime<Utc>,
    /// The state's details in words (`ErrorCode 90033: …`, `quota day 2026-12-01`, a reason).
    pub detail: String,
}

impl OccurrenceLine {
    #[must_use]
    pub fn of(o: &OccurrenceView) -> Self {
        Self {
            id: o.id.clone(),
            app: o.app.clone(),
            campaign: o.key.campaign.clone(),
            scheduled: o.key.scheduled,
            state: o.kind(),
            task_id: o.task_id.clone(),
            msg_random: o.msg_random,
            attempts: o.attempts,
            updated_at: o.updated_at(),
            detail: describe_state(&o.state),
        }
    }
}

/// A state's details in words, for one line of output.
#[must_use]
pub fn describe_state(state: &OccurrenceState) -> String {
    match state {
        OccurrenceState::Intent {
            msg_random,
            attempt,
            ..
        } => {
            format!("attempt {attempt} started (MsgRandom {msg_random}), no outcome recorded yet")
        }
        OccurrenceState::Sent { task_id } => format!("TaskId {task_id}"),
        OccurrenceState::Failed {
            error_code,
            error_info,
        } => format!("ErrorCode {error_code}: {error_info}"),
        OccurrenceState::InDoubt { reason } => reason.clone(),
        OccurrenceState::NotSent { reason } => format!("not sent: {reason}"),
        OccurrenceState::Deferred { quota_day } => format!("quota day {quota_day} full"),
        OccurrenceState::Missed => "past grace, never sent".to_owned(),
        OccurrenceState::Skipped { why } => why.clone(),
        OccurrenceState::ResolvedSent { task_id, by, note } => {
            let task = task_id
                .as_ref()
                .map_or_else(|| "no TaskId".to_owned(), |t| format!("TaskId {t}"));
            with_note(format!("sent per {by}, {task}"), note.as_deref())
        }
        OccurrenceState::ResolvedNotSent { by, note } => {
            with_note(format!("not sent per {by}"), note.as_deref())
        }
        OccurrenceState::Recalled { task_id, .. } => format!("TaskId {task_id} recalled"),
    }
}

fn with_note(text: String, note: Option<&str>) -> String {
    match note {
        Some(n) if !n.is_empty() => format!("{text}: {n}"),
        _ => text,
    }
}

/// `crier ledger list`: matching occurrences by scheduled time, then campaign name.
#[must_use]
pub fn list(snapshot: &LedgerSnapshot, filter: &ListFilter) -> Vec<OccurrenceLine> {
    let mut out: Vec<&OccurrenceView> = snapshot
        .occurrences
        .values()
        .filter(|o| filter.matches(o))
        .collect();
    out.sort_by(|a, b| {
        (a.key.scheduled, &a.key.campaign, &a.id).cmp(&(b.key.scheduled, &b.key.campaign, &b.id))
    });
    out.into_iter().map(OccurrenceLine::of).collect()
}

/// An occurrence id that names no single occurrence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FindError {
    #[error("no occurrence `{0}` in the ledger (see `crier ledger list`)")]
    NotFound(String),
    #[error("`{query}` matches {} occurrences: {}", candidates.len(), candidates.join(", "))]
    Ambiguous {
        query: String,
        candidates: Vec<String>,
    },
}

/// `crier ledger show ID`: the occurrence whose id is `query`, or the only one whose id starts
/// with it (`shop/1400000000/sale@2026-12-01` when one occurrence of that day exists).
///
/// # Errors
/// [`FindError`] when none or several match.
pub fn find<'a>(
    snapshot: &'a LedgerSnapshot,
    query: &str,
) -> Result<&'a OccurrenceView, FindError> {
    let query = query.trim();
    if let Some(o) = snapshot.occurrences.get(query) {
        return Ok(o);
    }
    let found: Vec<&OccurrenceView> = snapshot
        .occurrences
        .values()
        .filter(|o| o.id.starts_with(query))
        .collect();
    match found.as_slice() {
        [one] if !query.is_empty() => Ok(one),
        [] => Err(FindError::NotFound(query.to_owned())),
        many => Err(FindError::Ambiguous {
            query: query.to_owned(),
            candidates: many.iter().take(5).map(|o| o.id.clone()).collect(),
        }),
    }
}

/// `crier recall --task-id T`: the occurrence whose TaskId is `task_id`.
#[must_use]
pub fn find_by_task_id<'a>(
    snapshot: &'a LedgerSnapshot,
    task_id: &str,
) -> Option<&'a OccurrenceView> {
    snapshot
        .occurrences
        .values()
        .find(|o| o.task_id.as_deref() == Some(task_id))
}

/// `crier status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusView {
    /// The sequence number of the last record.
    pub seq: u64,
    /// Occurrences per latest state (every state listed, zeros included).
    pub counts: BTreeMap<StateKind, usize>,
    /// In-doubt occurrences and intents without an outcome: an operator decides.
    pub needs_decision: Vec<OccurrenceLine>,
    /// Refused by the provider (`failed`, with the error code in the detail): nothing was
    /// delivered; due again within grace once the cause is fixed.
    pub refused: Vec<OccurrenceLine>,
    /// Deferred to a later quota day.
    pub deferred: Vec<OccurrenceLine>,
    /// The latest applied snapshot per project.
    pub last_applied: Vec<AppliedLine>,
    /// Whether any lock is held, and the first holder (kept for format version 1).
    pub lock: LockState,
    /// Every lock held now: the whole ledger's, or each app's (by sdkappid) with its holder,
    /// since when, and its heartbeat on a shared ledger.
    pub locks: Vec<HeldLock>,
    /// The apps under `crier stop` now: who, when, why.
    pub stops: Vec<super::fold::Stamped<super::record::StopRecord>>,
    /// Per app of this `crier.yaml`: today's quota (every project on a shared ledger) and the
    /// last sends ([`StatusView::with_apps`]).
    pub apps: Vec<AppToday>,
    /// Warnings from reading the ledger (a torn tail), as text.
    pub warnings: Vec<String>,
}

/// One project's latest applied snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedLine {
    pub project: String,
    pub seq: u64,
    #[serde(with = "super::record::millis")]
    pub at: DateTime<Utc>,
    pub campaigns: usize,
}

impl StatusView {
    /// True when an occurrence awaits an operator's decision (the CLI picks the exit code).
    #[must_use]
    pub fn needs_attention(&self) -> bool {
        !self.needs_decision.is_empty()
    }

    /// Adds each app's quota day at `now` and its last sends.
    #[must_use]
    pub fn with_apps(
        mut self,
        snapshot: &LedgerSnapshot,
        settings: &crate::settings::Settings,
        now: DateTime<Utc>,
    ) -> Self {
        let mine: Vec<&str> = settings.project_names().collect();
        self.apps = settings
            .apps
            .values()
            .map(|app| {
                let day = now.with_timezone(&app.quota_timezone).date_naive();
                let used = snapshot
                    .used_per_day(app.sdkappid, app.quota_timezone, app.daily_quota)
                    .get(&day)
                    .copied()
                    .unwrap_or(0);
                let by_others = snapshot
                    .others_per_day(app.sdkappid, app.quota_timezone, &mine)
                    .get(&day)
                    .copied()
                    .unwrap_or(0)
                    .min(used);
                let mut sends: Vec<(&super::fold::OccurrenceView, DateTime<Utc>)> =
                    snapshot.accepted_pushes(app.sdkappid).collect();
                sends.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.id.cmp(&b.0.id)));
                AppToday {
                    app: app.name.clone(),
                    sdkappid: app.sdkappid,
                    quota_timezone: app.quota_timezone.name().to_owned(),
                    quota_day: day,
                    used,
                    used_by_others: by_others,
                    limit: app.daily_quota,
                    left: app.daily_quota.saturating_sub(used),
                    stopped: snapshot.stop_of(app.sdkappid).is_some(),
                    paused: app.paused,
                    last_sends: sends
                        .iter()
                        .take(LAST_SENDS)
                        .map(|(o, at)| LastSend {
                            id: o.id.clone(),
                            project: o.key.project.clone(),
                            at: *at,
                            task_id: o.task_id.clone(),
                            state: o.kind(),
                        })
                        .collect(),
                }
            })
            .collect();
        self
    }
}

/// How many of an app's last sends `status` shows.
pub const LAST_SENDS: usize = 5;

/// One app today, for `crier status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppToday {
    pub app: String,
    pub sdkappid: u64,
    pub quota_timezone: String,
    /// Today in the app's quota time zone.
    pub quota_day: chrono::NaiveDate,
    /// Pushes accepted (or possibly accepted) today, every project's.
    pub used: u32,
    /// Of `used`, other projects' (a shared ledger).
    pub used_by_others: u32,
    pub limit: u32,
    pub left: u32,
    /// Under `crier stop`.
    pub stopped: bool,
    /// `paused: true` in crier.yaml.
    pub paused: bool,
    /// The latest sends, newest first.
    pub last_sends: Vec<LastSend>,
}

/// A recent send of an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastSend {
    pub id: String,
    pub project: String,
    #[serde(with = "super::record::millis")]
    pub at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    pub state: StateKind,
}

/// Builds `crier status` from a read of the ledger and the locks held.
#[must_use]
pub fn status(
    snapshot: &LedgerSnapshot,
    locks: Vec<HeldLock>,
    warnings: &[LedgerWarning],
) -> StatusView {
    let mut counts: BTreeMap<StateKind, usize> = StateKind::ALL.iter().map(|k| (*k, 0)).collect();
    for (kind, n) in snapshot.counts() {
        *counts.entry(kind).or_default() += usize::try_from(n).unwrap_or(usize::MAX);
    }
    let all = list(snapshot, &ListFilter::default());
    StatusView {
        seq: snapshot.seq,
        counts,
        needs_decision: all
            .iter()
            .filter(|l| matches!(l.state, StateKind::InDoubt | StateKind::Intent))
            .cloned()
            .collect(),
        refused: all
            .iter()
            .filter(|l| l.state == StateKind::Failed)
            .cloned()
            .collect(),
        deferred: all
            .iter()
            .filter(|l| l.state == StateKind::Deferred)
            .cloned()
            .collect(),
        last_applied: snapshot
            .applied
            .iter()
            .map(|(project, a)| AppliedLine {
                project: project.clone(),
                seq: a.seq,
                at: a.at,
                campaigns: a.snapshot.campaigns.len(),
            })
            .collect(),
        lock: locks
            .first()
            .map_or(LockState::Free, |l| LockState::Held(l.holder.clone())),
        locks,
        stops: snapshot.stops.values().cloned().collect(),
        apps: Vec::new(),
        warnings: warnings.iter().map(ToString::to_string).collect(),
    }
}

/// An operator's decision about an undecided occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// `--sent [--task-id T]`
    Sent { task_id: Option<String> },
    /// `--not-sent`
    NotSent,
}

/// Why a resolution was refused.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Find(#[from] FindError),
    #[error(
        "{id} is `{state}`: only in_doubt, failed or an intent without outcome can be resolved"
    )]
    NotUndecided { id: String, state: StateKind },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// The record that resolves `query` with `decision` by operator `by` (pure).
///
/// # Errors
/// [`ResolveError`] when the occurrence is unknown, ambiguous, or not awaiting a decision.
pub fn resolution(
    snapshot: &LedgerSnapshot,
    query: &str,
    decision: Decision,
    by: &str,
    note: Option<String>,
) -> Result<RecordBody, ResolveError> {
    let o = find(snapshot, query)?;
    if !matches!(
        o.kind(),
        StateKind::InDoubt | StateKind::Failed | StateKind::Intent
    ) {
        return Err(ResolveError::NotUndecided {
            id: o.id.clone(),
            state: o.kind(),
        });
    }
    let by = by.to_owned();
    let state = match decision {
        Decision::Sent { task_id } => OccurrenceState::ResolvedSent { task_id, by, note },
        Decision::NotSent => OccurrenceState::ResolvedNotSent { by, note },
    };
    Ok(RecordBody::Occurrence(OccurrenceRecord {
        key: o.key.clone(),
        app: o.app.clone(),
        state,
    }))
}

/// `crier ledger resolve`: checks and appends the resolution through a writer (lock held).
///
/// # Errors
/// [`ResolveError`].
pub async fn resolve<W: LedgerWriter>(
    writer: &mut W,
    query: &str,
    decision: Decision,
    by: &str,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<Record, ResolveError> {
    let body = resolution(writer.snapshot(), query, decision, by, note)?;
    Ok(writer.append(now, body).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::record::SCHEMA_VERSION;
    use crate::occurrence::OccurrenceKey;

    fn key(campaign: &str, day: u32) -> OccurrenceKey {
        OccurrenceKey {
            project: "shop".into(),
            sdkappid: 1_400_000_000,
            campaign: campaign.into(),
            scheduled: format!("2026-12-{day:02}T02:00:00Z").parse().unwrap(),
        }
    }

    fn snapshot(entries: &[(&str, u32, OccurrenceState)]) -> LedgerSnapshot {
        let records: Vec<Record> = entries
            .iter()
            .enumerate()
            .map(|(i, (c, d, s))| Record {
                v: SCHEMA_VERSION,
                seq: i as u64 + 1,
                at: "2026-12-01T02:00:00Z".parse().unwrap(),
                body: RecordBody::Occurrence(OccurrenceRecord {
                    key: key(c, *d),
                    app: "prod".into(),
                    state: s.clone(),
                }),
            })
            .collect();
        LedgerSnapshot::fold(&records)
    }

    fn intent() -> OccurrenceState {
        OccurrenceState::Intent {
            msg_random: 1,
            perturbation: None,
            content_hash: "sha256:0".into(),
            request: serde_json::json!({}),
            attempt: 1,
            origin: None,
        }
    }

    fn sample() -> LedgerSnapshot {
        snapshot(&[
            ("b", 1, intent()),
            (
                "b",
                1,
                OccurrenceState::Sent {
                    task_id: "T1".into(),
                },
            ),
            ("a", 1, intent()),
            (
                "a",
                1,
                OccurrenceState::InDoubt {
                    reason: "timeout".into(),
                },
            ),
            (
                "a",
                2,
                OccurrenceState::Deferred {
                    quota_day: "2026-12-02".parse().unwrap(),
                },
            ),
            ("c", 3, intent()),
        ])
    }

    #[test]
    fn list_sorts_and_filters() {
        let s = sample();
        let all = list(&s, &ListFilter::default());
        assert_eq!(
            all.iter()
                .map(|l| (l.campaign.as_str(), l.state))
                .collect::<Vec<_>>(),
            [
                ("a", StateKind::InDoubt),
                ("b", StateKind::Sent),
                ("a", StateKind::Deferred),
                ("c", StateKind::Intent),
            ]
        );
        assert_eq!(all[1].detail, "TaskId T1");
        let filter = ListFilter {
            states: vec![StateKind::Sent, StateKind::Deferred],
            ..ListFilter::default()
        };
        assert_eq!(list(&s, &filter).len(), 2);
        let filter = ListFilter {
            campaign: Some("a".into()),
            ..ListFilter::default()
        };
        assert_eq!(list(&s, &filter).len(), 2);
        let filter = ListFilter {
            app: Some("other".into()),
            ..ListFilter::default()
        };
        assert!(list(&s, &filter).is_empty());
    }

    #[test]
    fn find_by_id_or_unique_prefix() {
        let s = sample();
        let id = key("a", 2).id();
        assert_eq!(find(&s, &id).unwrap().id, id);
        assert_eq!(find(&s, "shop/1400000000/c@").unwrap().key.campaign, "c");
        assert!(
            matches!(find(&s, "shop/1400000000/a@"), Err(FindError::Ambiguous { candidates, .. }) if candidates.len() == 2)
        );
        assert!(matches!(find(&s, "nope"), Err(FindError::NotFound(_))));
        assert!(find(&s, "").is_err());
        assert_eq!(find_by_task_id(&s, "T1").unwrap().key.campaign, "b");
        assert!(find_by_task_id(&s, "T2").is_none());
    }

    #[test]
    fn status_counts_and_lists_what_needs_a_decision() {
        let st = status(&sample(), Vec::new(), &[]);
        assert_eq!(st.seq, 6);
        assert_eq!(st.counts[&StateKind::Sent], 1);
        assert_eq!(st.counts[&StateKind::InDoubt], 1);
        assert_eq!(st.counts[&StateKind::Missed], 0);
        assert_eq!(
            st.needs_decision
                .iter()
                .map(|l| l.campaign.as_str())
                .collect::<Vec<_>>(),
            ["a", "c"]
        );
        assert_eq!(st.deferred.len(), 1);
        assert!(st.needs_attention());
        let json = serde_json::to_value(&st).unwrap();
        assert_eq!(json["lock"], serde_json::json!({"lock": "free"}));
        assert_eq!(json["counts"]["in_doubt"], 1);
    }

    #[test]
    fn resolution_only_for_undecided_occurrences() {
        let s = sample();
        let body = resolution(
            &s,
            &key("a", 1).id(),
            Decision::Sent {
                task_id: Some("T9".into()),
            },
            "ops",
            None,
        )
        .unwrap();
        match body {
            RecordBody::Occurrence(o) => {
                assert_eq!(
                    o.state,
                    OccurrenceState::ResolvedSent {
                        task_id: Some("T9".into()),
                        by: "ops".into(),
                        note: None
                    }
                );
                assert_eq!(o.key, key("a", 1));
            }
            other => panic!("{other:?}"),
        }
        assert!(resolution(&s, &key("c", 3).id(), Decision::NotSent, "ops", None).is_ok());
        let err = resolution(&s, &key("b", 1).id(), Decision::NotSent, "ops", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} is `sent`: only in_doubt, failed or an intent without outcome can be resolved",
                key("b", 1).id()
            )
        );
    }
}
