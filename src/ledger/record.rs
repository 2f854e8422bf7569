//! The ledger's record types: what one line of `ledger.jsonl` (or one PostgreSQL row) holds.
//!
//! A record is a JSON object with the common fields `v` (schema version), `seq` (monotonic
//! sequence number), `at` (UTC, milliseconds) and `kind`, followed by the fields of its kind:
//!
//! ```json
//! {"v":1,"seq":1,"at":"2026-12-01T01:59:00.000Z","kind":"header","format":"crier-ledger","created_by":"crier 0.1.0"}
//! {"v":1,"seq":7,"at":"2026-12-01T02:00:01.123Z","kind":"occurrence","key":{"project":"shop","sdkappid":1400000000,"campaign":"sale","scheduled":"2026-12-01T02:00:00Z"},"app":"prod","state":"intent","msg_random":123,"content_hash":"sha256:…","request":{…},"attempt":1}
//! {"v":1,"seq":8,"at":"2026-12-01T02:00:01.456Z","kind":"occurrence","key":{…},"app":"prod","state":"sent","task_id":"…"}
//! ```
//!
//! Field names and tags are part of the on-disk format: renaming one is a schema change.

use chrono::{DateTime, NaiveDate, Utc};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::occurrence::OccurrenceKey;

/// The schema version this build writes and the newest it reads.
pub const SCHEMA_VERSION: u32 = 1;

/// The `format` of the header record.
pub const FORMAT_NAME: &str = "crier-ledger";

/// One record of the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Schema version of this record.
    pub v: u32,
    /// Sequence number: 1 for the first record, +1 for each next one.
    pub seq: u64,
    /// When it was written (caller's clock), millisecond precision.
    #[serde(with = "millis")]
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub body: RecordBody,
}

/// What a record says, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecordBody {
    /// The first record of every ledger.
    Header { format: String, created_by: String },
    /// A step in the life of one occurrence.
    Occurrence(OccurrenceRecord),
    /// The normalised campaigns applied by a successful apply.
    Snapshot(SnapshotRecord),
    /// A `crier send-test` push to named accounts; counts against no campaign.
    TestSend(TestSendRecord),
    /// Bytes of a torn last line were set aside (a crash mid-write).
    Repair(RepairRecord),
    /// `crier stop APP`: the emergency stop; nothing is sent for the app until `crier resume`.
    Stop(StopRecord),
    /// `crier resume APP`: lifts the app's stop.
    Resume(ResumeRecord),
}

impl RecordBody {
    /// The record's `kind` tag (`header`, `occurrence`, …), for messages and the database.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Header { .. } => "header",
            Self::Occurrence(_) => "occurrence",
            Self::Snapshot(_) => "snapshot",
            Self::TestSend(_) => "test_send",
            Self::Repair(_) => "repair",
            Self::Stop(_) => "stop",
            Self::Resume(_) => "resume",
        }
    }
}

impl RecordBody {
    /// The header a new ledger starts with.
    #[must_use]
    pub fn header() -> Self {
        Self::Header {
            format: FORMAT_NAME.to_owned(),
            created_by: concat!("crier ", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// A state change of one occurrence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OccurrenceRecord {
    pub key: OccurrenceKey,
    /// The app's name in `crier.yaml` (the key holds its sdkappid).
    pub app: String,
    #[serde(flatten)]
    pub state: OccurrenceState,
}

/// Where an apply ran: the campaign repository's commit (when it is a git checkout) and the CI
/// run (GitHub Actions, GitLab CI, or a generic `CI`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_run: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_url: Option<String>,
}

/// The §4 states of an occurrence, tagged by `state`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum OccurrenceState {
    /// About to send: written (and synced) before the request leaves.
    Intent {
        msg_random: u32,
        /// Present when the base MsgRandom collided and was moved (§4).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        perturbation: Option<Perturbation>,
        /// `sha256:<hex>` of the canonical request body.
        content_hash: String,
        /// The rendered request body (never a URL, never a UserSig).
        request: serde_json::Value,
        /// 1 for the first attempt of this occurrence, +1 for each retry.
        attempt: u32,
        /// Where the send came from, for the audit trail: the campaign repository's commit and
        /// the CI run (absent in records written before it existed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<Origin>,
    },
    /// The provider accepted the push.
    Sent { task_id: String },
    /// The provider refused the push (final).
    Failed { error_code: i64, error_info: String },
    /// The request may have reached the provider; an operator (or `--retry-in-doubt`) decides.
    InDoubt { reason: String },
    /// Not delivered, and known not to be: the request was never written (DNS, connect, TLS),
    /// or the provider refused it with a transient error, and `apply` gave up retrying. A later
    /// apply sends it again (same MsgRandom) while within grace.
    NotSent { reason: String },
    /// The quota day is full; retried while within grace.
    Deferred { quota_day: NaiveDate },
    /// Past grace, never sent.
    Missed,
    /// The campaign or the app was paused at its time.
    Skipped { why: String },
    /// An operator says it was sent.
    ResolvedSent {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task_id: Option<String>,
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// An operator says it was not sent.
    ResolvedNotSent {
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// `crier recall` withdrew the push.
    Recalled {
        task_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request: Option<serde_json::Value>,
    },
}

impl OccurrenceState {
    #[must_use]
    pub fn kind(&self) -> StateKind {
        match self {
            Self::Intent { .. } => StateKind::Intent,
            Self::Sent { .. } => StateKind::Sent,
            Self::Failed { .. } => StateKind::Failed,
            Self::InDoubt { .. } => StateKind::InDoubt,
            Self::NotSent { .. } => StateKind::NotSent,
            Self::Deferred { .. } => StateKind::Deferred,
            Self::Missed => StateKind::Missed,
            Self::Skipped { .. } => StateKind::Skipped,
            Self::ResolvedSent { .. } => StateKind::ResolvedSent,
            Self::ResolvedNotSent { .. } => StateKind::ResolvedNotSent,
            Self::Recalled { .. } => StateKind::Recalled,
        }
    }
}

/// The name of a state, without its data; for filters and counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateKind {
    Intent,
    Sent,
    Failed,
    InDoubt,
    NotSent,
    Deferred,
    Missed,
    Skipped,
    ResolvedSent,
    ResolvedNotSent,
    Recalled,
}

impl StateKind {
    pub const ALL: [Self; 11] = [
        Self::Intent,
        Self::Sent,
        Self::Failed,
        Self::InDoubt,
        Self::NotSent,
        Self::Deferred,
        Self::Missed,
        Self::Skipped,
        Self::ResolvedSent,
        Self::ResolvedNotSent,
        Self::Recalled,
    ];

    /// The name used in the ledger and on the command line (`in_doubt`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Intent => "intent",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::InDoubt => "in_doubt",
            Self::NotSent => "not_sent",
            Self::Deferred => "deferred",
            Self::Missed => "missed",
            Self::Skipped => "skipped",
            Self::ResolvedSent => "resolved_sent",
            Self::ResolvedNotSent => "resolved_not_sent",
            Self::Recalled => "recalled",
        }
    }

    /// True when the push reached (or is taken to have reached) the provider.
    #[must_use]
    pub const fn is_delivered(self) -> bool {
        matches!(self, Self::Sent | Self::ResolvedSent | Self::Recalled)
    }
}

impl std::fmt::Display for StateKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown state name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown state `{0}` (expected one of: intent, sent, failed, in_doubt, not_sent, deferred, missed, skipped, resolved_sent, resolved_not_sent, recalled)"
)]
pub struct UnknownState(pub String);

impl std::str::FromStr for StateKind {
    type Err = UnknownState;

    /// Accepts `in_doubt` and `in-doubt`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|k| k.name() == wanted)
            .ok_or_else(|| UnknownState(s.to_owned()))
    }
}

/// How a MsgRandom was moved off its base value because of a collision (§4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Perturbation {
    /// The value derived from the occurrence key.
    pub base: u32,
    /// How many times 1 was added (wrapping) to reach the value used.
    pub steps: u32,
    /// The occurrences whose MsgRandoms were in the way, by id.
    pub collided_with: Vec<String>,
}

/// The campaigns a successful apply applied, normalised with every default resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotRecord {
    pub project: String,
    /// Campaign name → its hash and normalised form, in name order.
    pub campaigns: IndexMap<String, CampaignSnapshot>,
}

/// One campaign in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignSnapshot {
    /// `sha256:<hex>` of the normalised campaign.
    pub hash: String,
    /// The normalised campaign as JSON.
    pub campaign: serde_json::Value,
}

/// A test send to named accounts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestSendRecord {
    pub project: String,
    pub app: String,
    pub campaign: String,
    pub to: Vec<String>,
    pub msg_random: u32,
    pub content_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_info: Option<String>,
}

/// The emergency stop of one app (by sdkappid: every project sharing the app stops).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopRecord {
    pub sdkappid: u64,
    /// The app's name in the `crier.yaml` of the project that stopped it.
    pub app: String,
    pub project: String,
    /// Who stopped it (the operator's user name, and the CI run when there is one).
    pub by: String,
    pub reason: String,
}

/// A stop lifted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeRecord {
    pub sdkappid: u64,
    pub app: String,
    pub project: String,
    pub by: String,
}

/// A torn last line was moved aside before writing resumed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairRecord {
    /// Byte offset in `ledger.jsonl` where the torn bytes began.
    pub offset: u64,
    /// How many bytes were set aside.
    pub bytes: u64,
    /// Where they went (the file name, relative to the ledger folder).
    pub moved_to: String,
}

/// `at` as RFC 3339 UTC with milliseconds (`2026-12-01T02:00:01.123Z`).
pub(crate) mod millis {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> OccurrenceKey {
        OccurrenceKey {
            project: "shop".into(),
            sdkappid: 1_400_000_000,
            campaign: "sale".into(),
            scheduled: "2026-12-01T02:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn an_intent_record_has_the_documented_shape() {
        let record = Record {
            v: SCHEMA_VERSION,
            seq: 7,
            at: "2026-12-01T02:00:01.123Z".parse().unwrap(),
            body: RecordBody::Occurrence(OccurrenceRecord {
                key: key(),
                app: "prod".into(),
                state: OccurrenceState::Intent {
                    msg_random: 123,
                    perturbation: None,
                    content_hash: "sha256:ab".into(),
                    request: serde_json::json!({"MsgRandom": 123}),
                    attempt: 1,
                    origin: None,
                },
            }),
        };
        let line = serde_json::to_string(&record).unwrap();
        assert_eq!(
            line,
            r#"{"v":1,"seq":7,"at":"2026-12-01T02:00:01.123Z","kind":"occurrence","key":{"project":"shop","sdkappid":1400000000,"campaign":"sale","scheduled":"2026-12-01T02:00:00Z"},"app":"prod","state":"intent","msg_random":123,"content_hash":"sha256:ab","request":{"MsgRandom":123},"attempt":1}"#
        );
        let back: Record = serde_json::from_str(&line).unwrap();
        assert_eq!(back, record);
    }

    #[test]
    fn every_state_round_trips() {
        let states = [
            OccurrenceState::Sent {
                task_id: "t1".into(),
            },
            OccurrenceState::Failed {
                error_code: 90_033,
                error_info: "attr".into(),
            },
            OccurrenceState::InDoubt {
                reason: "timeout".into(),
            },
            OccurrenceState::NotSent {
                reason: "connect refused".into(),
            },
            OccurrenceState::Deferred {
                quota_day: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            },
            OccurrenceState::Missed,
            OccurrenceState::Skipped {
                why: "campaign paused".into(),
            },
            OccurrenceState::ResolvedSent {
                task_id: None,
                by: "ops".into(),
                note: Some("seen".into()),
            },
            OccurrenceState::ResolvedNotSent {
                by: "ops".into(),
                note: None,
            },
            OccurrenceState::Recalled {
                task_id: "t1".into(),
                request: None,
            },
        ];
        for (i, state) in states.into_iter().enumerate() {
            let kind = state.kind();
            let record = Record {
                v: SCHEMA_VERSION,
                seq: i as u64 + 1,
                at: "2026-12-01T02:00:01Z".parse().unwrap(),
                body: RecordBody::Occurrence(OccurrenceRecord {
                    key: key(),
                    app: "prod".into(),
                    state,
                }),
            };
            let line = serde_json::to_string(&record).unwrap();
            assert!(line.contains(&format!(r#""state":"{kind}""#)), "{line}");
            assert_eq!(serde_json::from_str::<Record>(&line).unwrap(), record);
        }
    }

    #[test]
    fn other_kinds_round_trip() {
        let mut campaigns = IndexMap::new();
        campaigns.insert(
            "sale".to_owned(),
            CampaignSnapshot {
                hash: "sha256:00".into(),
                campaign: serde_json::json!({"name": "sale"}),
            },
        );
        let bodies = [
            RecordBody::header(),
            RecordBody::Snapshot(SnapshotRecord {
                project: "shop".into(),
                campaigns,
            }),
            RecordBody::TestSend(TestSendRecord {
                project: "shop".into(),
                app: "prod".into(),
                campaign: "sale".into(),
                to: vec!["u1".into()],
                msg_random: 5,
                content_hash: "sha256:01".into(),
                task_id: Some("t".into()),
                error_code: None,
                error_info: None,
            }),
            RecordBody::Repair(RepairRecord {
                offset: 10,
                bytes: 3,
                moved_to: "ledger.jsonl.torn".into(),
            }),
        ];
        for body in bodies {
            let record = Record {
                v: 1,
                seq: 1,
                at: "2026-12-01T02:00:01.5Z".parse().unwrap(),
                body,
            };
            let line = serde_json::to_string(&record).unwrap();
            assert!(
                line.contains(r#""at":"2026-12-01T02:00:01.500Z""#),
                "{line}"
            );
            assert_eq!(serde_json::from_str::<Record>(&line).unwrap(), record);
        }
    }

    #[test]
    fn state_names_parse_with_either_separator() {
        assert_eq!("in_doubt".parse::<StateKind>().unwrap(), StateKind::InDoubt);
        assert_eq!(
            "resolved-not-sent".parse::<StateKind>().unwrap(),
            StateKind::ResolvedNotSent
        );
        assert!("done".parse::<StateKind>().is_err());
        let delivered: Vec<StateKind> = StateKind::ALL
            .into_iter()
            .filter(|k| k.is_delivered())
            .collect();
        assert_eq!(
            delivered,
            [
                StateKind::Sent,
                StateKind::ResolvedSent,
                StateKind::Recalled
            ]
        );
        for kind in StateKind::ALL {
            assert_eq!(kind.name().parse::<StateKind>().unwrap(), kind);
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.name());
        }
    }
}
