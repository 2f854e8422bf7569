//! `--retry-in-doubt`: in-doubt occurrences of the ledger become sends again, with the
//! MsgRandom and the request recorded in their intent (never re-rendered: the retry must be the
//! request that may already have been delivered, so the provider can deduplicate it).
//! Pure: the caller passes the graces and the time.

use std::collections::HashMap;
use std::time::Duration;

use chrono::SecondsFormat;
use chrono_tz::Tz;

use super::report::{OccurrenceOutcome, Outcome};
use crate::ledger::LedgerSnapshot;
use crate::plan::PlannedSend;
use crate::plan::normalize::sha256;

/// What a retry needs to know about a campaign that still exists.
#[derive(Debug, Clone, Copy)]
pub struct RetryRules {
    pub grace: Duration,
    pub quota_timezone: Tz,
    /// The campaign or its app is paused: nothing is resent.
    pub paused: bool,
}

/// The in-doubt occurrences of `projects` (the project and its previous names; `campaigns`
/// holds every current and previous campaign name): resendable ones as [`PlannedSend`]s, the others as
/// [`Outcome::LeftInDoubt`] with the reason (campaign gone, no recorded request).
/// Past-grace ones are returned as sends; the executor's grace re-check leaves them in doubt.
#[must_use]
pub fn in_doubt_sends(
    snapshot: &LedgerSnapshot,
    projects: &[&str],
    campaigns: &HashMap<String, RetryRules>,
) -> (Vec<PlannedSend>, Vec<OccurrenceOutcome>) {
    let mut sends = Vec::new();
    let mut left = Vec::new();
    for view in snapshot
        .occurrences
        .values()
        .filter(|v| projects.contains(&v.key.project.as_str()) && v.needs_decision())
    {
        let leave = |reason: &str| OccurrenceOutcome {
            id: view.id.clone(),
            app: view.app.clone(),
            campaign: view.key.campaign.clone(),
            outcome: Outcome::LeftInDoubt {
                reason: reason.to_owned(),
            },
        };
        let Some(rules) = campaigns.get(&view.key.campaign) else {
            left.push(leave(
                "its campaign no longer exists; resolve it with `crier ledger resolve`",
            ));
            continue;
        };
        if rules.paused {
            left.push(leave("its campaign or app is paused; nothing is resent"));
            continue;
        }
        let (Some(msg_random), Some(request)) = (view.msg_random, view.request()) else {
            left.push(leave("no recorded request to resend"));
            continue;
        };
        let body = request.to_string();
        sends.push(PlannedSend {
            key: view.key.clone(),
            id: view.id.clone(),
            app: view.app.clone(),
            campaign: view.key.campaign.clone(),
            local: view
                .key
                .scheduled
                .to_rfc3339_opts(SecondsFormat::Secs, true),
            deadline: view.key.scheduled + crate::duration::to_delta(rules.grace),
            msg_random,
            perturbation: None,
            content_hash: view.content_hash.clone().unwrap_or_default().into(),
            body_hash: sha256(body.as_bytes()),
            body,
            quota_day: view
                .key
                .scheduled
                .with_timezone(&rules.quota_timezone)
                .date_naive(),
            over_quota: false,
            previous_attempts: view.attempts,
            retry: None,
            dst: None,
        });
    }
    (sends, left)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::record::{OccurrenceRecord, OccurrenceState, Record, RecordBody};
    use crate::occurrence::OccurrenceKey;

    fn key(campaign: &str) -> OccurrenceKey {
        OccurrenceKey {
            project: "shop".into(),
            sdkappid: 1,
            campaign: campaign.into(),
            scheduled: "2026-12-01T02:00:00Z".parse().unwrap(),
        }
    }

    fn rec(seq: u64, campaign: &str, state: OccurrenceState) -> Record {
        Record {
            v: 1,
            seq,
            at: "2026-12-01T02:00:01Z".parse().unwrap(),
            body: RecordBody::Occurrence(OccurrenceRecord {
                key: key(campaign),
                app: "prod".into(),
                state,
            }),
        }
    }

    fn intent(msg_random: u32) -> OccurrenceState {
        OccurrenceState::Intent {
            msg_random,
            perturbation: None,
            content_hash: "sha256:x".into(),
            request: serde_json::json!({"From_Account":"a","MsgRandom":msg_random,"Text":"héllo"}),
            attempt: 1,
            origin: None,
        }
    }

    #[test]
    fn in_doubt_becomes_a_resend_of_the_recorded_request() {
        let in_doubt = OccurrenceState::InDoubt {
            reason: "reset".into(),
        };
        let snapshot = LedgerSnapshot::fold(&[
            rec(1, "a", intent(7)),
            rec(2, "a", in_doubt.clone()),
            rec(3, "gone", intent(8)),
            rec(4, "gone", in_doubt),
            rec(5, "sent", intent(9)),
            rec(
                6,
                "sent",
                OccurrenceState::Sent {
                    task_id: "t".into(),
                },
            ),
        ]);
        let rules = RetryRules {
            paused: false,
            grace: Duration::from_secs(900),
            quota_timezone: chrono_tz::Asia::Shanghai,
        };
        let campaigns: HashMap<String, RetryRules> =
            [("a".to_owned(), rules), ("sent".to_owned(), rules)].into();
        let (sends, left) = in_doubt_sends(&snapshot, &["shop"], &campaigns);
        assert_eq!(sends.len(), 1);
        let s = &sends[0];
        assert_eq!(s.msg_random, 7);
        assert_eq!(
            s.body,
            r#"{"From_Account":"a","MsgRandom":7,"Text":"héllo"}"#
        );
        assert_eq!(s.body_hash, sha256(s.body.as_bytes()));
        assert_eq!(
            s.deadline,
            "2026-12-01T02:15:00Z"
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap()
        );
        assert_eq!(s.quota_day.to_string(), "2026-12-01");
        assert_eq!(s.previous_attempts, 1);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].campaign, "gone");
        let (none, _) = in_doubt_sends(&snapshot, &["other-project"], &campaigns);
        assert!(none.is_empty());
    }
}
