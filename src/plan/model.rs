//! The plan: a value that `plan` prints and `apply` executes. Built by a pure function of
//! (campaign set, settings, ledger snapshot, time); serialised as the plan file (`--out`).

use crate::ledger::record::Perturbation;
use crate::occurrence::OccurrenceKey;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The plan file's format version.
pub const FORMAT_VERSION: u32 = 1;

/// Everything `apply` would do at `at`, and what a reviewer needs to know about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub project: String,
    /// The time the plan is for (`--at`, default now).
    pub at: DateTime<Utc>,
    /// How far ahead `upcoming` looks, in seconds.
    pub horizon_seconds: u64,
    /// The ledger's sequence number the plan was built from (plan files are stale after a newer
    /// record touches one of their occurrences or quota days).
    pub ledger_seq: u64,
    /// `sha256:…` of every normalised campaign, by name: a plan file is stale when one changed.
    pub campaign_hashes: BTreeMap<String, String>,
    /// The normalised campaigns, by name: what `apply` records as the applied snapshot.
    pub campaigns: BTreeMap<String, super::normalize::Normalized>,
    /// Sends due now, in dispatch order (scheduled instant, then campaign name).
    pub due: Vec<PlannedSend>,
    /// Occurrences past grace that were never sent (recorded once as `missed` by apply).
    pub missed: Vec<Missed>,
    /// Occurrences of paused campaigns or apps that are due now (recorded once as `skipped`).
    pub skipped: Vec<Skipped>,
    /// Sends the ledger cannot settle: the request may have reached the provider.
    pub in_doubt: Vec<InDoubt>,
    /// Occurrences within grace that this apply will not send, and why: refused by the
    /// provider with an unchanged request, or deferred by the provider (90047) until the next
    /// quota day.
    #[serde(default)]
    pub held: Vec<Held>,
    /// Occurrences after `at` within the horizon, with their rendered requests.
    pub upcoming: Vec<PlannedSend>,
    /// Per app and quota day: used + planned against the daily quota.
    pub quota: Vec<QuotaDay>,
    /// Changes since the last applied snapshot.
    pub changes: Changes,
    pub warnings: Vec<Warning>,
    /// Policy findings (`crier.yaml` `policy`), excepted ones included; a blocking one holds
    /// its sends.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy: Vec<crate::policy::Finding>,
    /// `plan --base REV`: the revision the changes are compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// `plan --base REV`: the upcoming sends of the base revision.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub base_upcoming: Vec<PlannedSend>,
    /// `plan --base REV`: the quota days of the base revision (used + planned before the change),
    /// to compare with `quota` (after).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub base_quota: Vec<QuotaDay>,
    /// `plan --base REV` without a readable ledger: the quota used and WILL SEND AGAIN of
    /// earlier sends are not known (the plan counts nothing as used or sent).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ledger_unknown: bool,
}

/// One push the plan would send (or, in `upcoming`, will send later).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedSend {
    pub key: OccurrenceKey,
    /// `key.id()`.
    pub id: String,
    pub app: String,
    pub campaign: String,
    /// The scheduled instant in the campaign's zone (RFC 3339 with offset).
    pub local: String,
    /// The last instant this may still be sent (scheduled + grace); apply re-checks it.
    pub deadline: DateTime<Utc>,
    pub msg_random: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perturbation: Option<Perturbation>,
    /// `sha256:…` of the normalised campaign this was rendered from (shared by the campaign's
    /// sends).
    pub content_hash: std::sync::Arc<str>,
    /// The exact request body (compact JSON), the bytes that are sent.
    pub body: String,
    /// `sha256:…` of `body`.
    pub body_hash: String,
    /// The provider's quota day (in the app's quota zone) this send counts against.
    pub quota_day: NaiveDate,
    /// The quota forecast says this one would be deferred to a later day.
    pub over_quota: bool,
    /// Earlier attempts in the ledger (0 for a first send; > 0 for a deferred or retried one).
    pub previous_attempts: u32,
    /// A DST note about this occurrence, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst: Option<String>,
    /// Why an occurrence the provider refused before is sent again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<String>,
}

/// Why an occurrence within grace is held (serialised as `failed`, `deferred`,
/// `will_send_again`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeldState {
    /// The provider refused the same request (`failed`).
    Failed,
    /// The provider said the app's quota day is full (90047): until the next quota day.
    Deferred,
    /// Apply holds a push already delivered under another key until it is acknowledged.
    WillSendAgain,
    /// A `deny` policy finding without an exception: never sent.
    Policy,
    /// The app is stopped (`crier stop`, or `CRIER_PAUSE=1` for one process): the push stays
    /// due and goes out after the resume while within grace.
    Stopped,
}

impl HeldState {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Failed => "failed",
            Self::Deferred => "deferred",
            Self::WillSendAgain => "will_send_again",
            Self::Policy => "policy",
            Self::Stopped => "stopped",
        }
    }

    /// Whether apply exits 2 for it: work is pending (a later quota day, an acknowledgement).
    #[must_use]
    pub const fn is_pending(self) -> bool {
        matches!(self, Self::Deferred | Self::WillSendAgain)
    }
}

impl std::fmt::Display for HeldState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for HeldState {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// An occurrence within grace that the plan does not send, with the reason and the way out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    pub id: String,
    pub app: String,
    pub campaign: String,
    pub state: HeldState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i64>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missed {
    pub key: OccurrenceKey,
    pub id: String,
    pub app: String,
    pub campaign: String,
    pub deadline: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub key: OccurrenceKey,
    pub id: String,
    pub app: String,
    pub campaign: String,
    /// `campaign paused` or `app paused`.
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InDoubt {
    pub id: String,
    pub app: String,
    pub campaign: String,
    pub msg_random: Option<u32>,
    pub reason: String,
    pub since: DateTime<Utc>,
    /// What the operator can do, one line each.
    pub options: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaDay {
    pub app: String,
    pub day: NaiveDate,
    pub daily_quota: u32,
    /// Pushes the ledger says were accepted (or may have been) that day.
    pub used: u32,
    /// Of `used`, those of other projects on the same app (a shared ledger).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub used_by_others: u32,
    /// Pushes this plan (due + upcoming) puts on that day.
    pub planned: u32,
    /// Ids of planned sends that would not fit and be deferred.
    pub deferred: Vec<String>,
}

/// What changed since the last applied snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Changes {
    /// There is no applied snapshot yet: everything is new.
    pub first_apply: bool,
    pub created: Vec<Change>,
    pub updated: Vec<Change>,
    pub deleted: Vec<Change>,
    pub unchanged: usize,
    /// `plan --base`: the project was renamed without `previous_projects`, so every occurrence
    /// gets a new key (WILL SEND AGAIN for everything already sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub campaign: String,
    /// Field-level differences of the normalised campaign: (dotted path, old, new).
    pub fields: Vec<FieldChange>,
    /// Differences of the next rendered request (for updates), same shape.
    pub request: Vec<FieldChange>,
    /// The change has no effect on future sends (only `description`, or a sent one-off).
    pub no_effect: Option<String>,
    /// The change creates a new occurrence for something already sent.
    pub sends_again: Option<String>,
    /// For deletions: the future occurrences that will no longer happen (within the horizon).
    pub dropped: Vec<String>,
    /// For creations and updates: the schedule in words, its next occurrences, and what it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Box<ScheduleView>>,
    /// For creations and updates: the next occurrence's message as it will be read, before and
    /// after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Box<MessageView>>,
    /// For updates that change who the campaign reaches: widened, narrowed or replaced, with
    /// the audience before → after in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience_change: Option<Box<AudienceChange>>,
    /// `policy_exceptions` this change adds (or rewords): rule → reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exceptions_added: BTreeMap<String, String>,
}

/// How an edit changed who a campaign reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudienceChange {
    pub direction: AudienceDirection,
    /// The audience before, in words (`users with any of vip`, `ALL USERS`).
    pub before: String,
    /// The audience after, in words.
    pub after: String,
    /// Why, one reason per list that changed (`tags.any now also reaches gold`).
    pub why: Vec<String>,
}

/// Whether the new audience reaches a superset (widened), a subset (narrowed) or neither
/// (replaced) of the users the old one reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AudienceDirection {
    Widened,
    Narrowed,
    Replaced,
}

impl AudienceDirection {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Widened => "widened",
            Self::Narrowed => "narrowed",
            Self::Replaced => "replaced",
        }
    }

    /// The new audience can reach users the old one could not (the `widened_audience` policy).
    #[must_use]
    pub const fn reaches_more(self) -> bool {
        matches!(self, Self::Widened | Self::Replaced)
    }
}

/// A schedule as a reviewer reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleView {
    /// `every weekday at 10:00 Asia/Shanghai` (or the cron expression when it cannot be said
    /// exactly).
    pub words: String,
    /// The schedule before the change, in words, when it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// The next few occurrences at or after the plan time.
    pub next: Vec<NextOccurrence>,
}

/// One occurrence, in the schedule's zone and in UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextOccurrence {
    /// `2026-12-07 10:00 Asia/Shanghai`.
    pub local: String,
    pub utc: DateTime<Utc>,
}

/// The next occurrence's message as read (before is absent for a created campaign).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageView {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<ReadMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<ReadMessage>,
}

/// What a person reads of a request: the offline push's title and description, and each
/// `MsgBody` element (text as is, other elements as `[image]`, `[voice message, 6 s]`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
    pub elements: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<serde_json::Value>,
}

/// A warning a reviewer needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// A stable kind, e.g. `audience-widened`, `interval-conflict`, `dst`, `at-in-past`,
    /// `fan-out`, `body-near-limit`, `short-grace`, `short-interval`, `will-send-again`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    pub message: String,
}

impl Plan {
    /// A `deny` policy finding without an exception: `plan` exits 1 (its sends are held).
    #[must_use]
    pub fn blocked_by_policy(&self) -> bool {
        self.policy.iter().any(crate::policy::Finding::blocks)
    }

    /// Terraform's detailed exit code: work pending (2) when anything is due or in doubt, or a
    /// change affects future sends; upcoming occurrences alone do not count.
    #[must_use]
    pub fn has_pending_work(&self) -> bool {
        !self.due.is_empty()
            || !self.in_doubt.is_empty()
            || !self.missed.is_empty()
            || !self.skipped.is_empty()
            || self.changes.affects_future_sends()
    }
}

impl Changes {
    /// Whether any change alters what will be sent.
    #[must_use]
    pub fn affects_future_sends(&self) -> bool {
        !self.created.is_empty()
            || !self.deleted.is_empty()
            || self.project.is_some()
            || self
                .updated
                .iter()
                .any(|c| c.no_effect.is_none() || c.sends_again.is_some())
    }
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero(n: &u32) -> bool {
    *n == 0
}
