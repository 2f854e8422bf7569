//! What a dispatch did: one outcome per occurrence, counts, and the §3 exit status.

use chrono::NaiveDate;
use serde::Serialize;

/// What happened to one occurrence in this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Accepted by the provider (recorded `sent`).
    Sent { task_id: String, attempts: u32 },
    /// The quota day is full (recorded `deferred`): by the plan's forecast (no request was
    /// made) or by the provider's 90047.
    Deferred {
        quota_day: NaiveDate,
        forecast: bool,
    },
    /// The provider refused it for good (recorded `failed`).
    Failed {
        error_code: i64,
        error_info: String,
        fatal_for_app: bool,
    },
    /// The request may have reached the provider (recorded `in_doubt`).
    InDoubt { reason: String },
    /// Not delivered; retrying gave up (recorded `not_sent`); a later apply retries.
    NotSent { reason: String },
    /// Past grace, never sent (recorded `missed`).
    Missed,
    /// Campaign or app paused (recorded `skipped`).
    Skipped { why: String },
    /// Not attempted, nothing recorded: its app stopped on a fatal error earlier in this run.
    AppStopped { reason: String },
    /// Not attempted, nothing recorded: the app is under `crier stop` (seen before this send),
    /// or `CRIER_PAUSE=1` is set; it stays due and goes out after the resume within grace.
    Stopped { reason: String },
    /// Not attempted, nothing recorded: the run was interrupted (Ctrl-C).
    Interrupted,
    /// Not attempted, nothing recorded: an in-doubt send that may not be retried (past grace,
    /// or its campaign is gone); it stays `in_doubt` for an operator.
    LeftInDoubt { reason: String },
    /// Not attempted, nothing recorded: the item disagrees with the ledger (e.g. its
    /// MsgRandom or body hash); re-plan.
    Refused { reason: String },
}

impl Outcome {
    /// A short name for summaries (`sent`, `deferred`, …).
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Sent { .. } => "sent",
            Self::Deferred { .. } => "deferred",
            Self::Failed { .. } => "failed",
            Self::InDoubt { .. } => "in_doubt",
            Self::NotSent { .. } => "not_sent",
            Self::Missed => "missed",
            Self::Skipped { .. } => "skipped",
            Self::AppStopped { .. } => "app_stopped",
            Self::Stopped { .. } => "stopped",
            Self::Interrupted => "interrupted",
            Self::LeftInDoubt { .. } => "left_in_doubt",
            Self::Refused { .. } => "refused",
        }
    }
}

/// One occurrence's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OccurrenceOutcome {
    pub id: String,
    pub app: String,
    pub campaign: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub sent: usize,
    pub deferred: usize,
    pub failed: usize,
    pub in_doubt: usize,
    pub not_sent: usize,
    pub missed: usize,
    pub skipped: usize,
    /// Not attempted: app stopped, interrupted, refused, or in doubt and not retried.
    pub not_attempted: usize,
    /// Held by an emergency stop (`crier stop`, `CRIER_PAUSE=1`): not an error.
    pub stopped: usize,
}

/// §3 exit status of an apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitStatus {
    /// 0: every due send settled.
    Done,
    /// 2: sends deferred by quota remain.
    Deferred,
    /// 1: a failure or an in-doubt send.
    Failed,
}

impl ExitStatus {
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::Done => 0,
            Self::Deferred => 2,
            Self::Failed => 1,
        }
    }
}

/// What an apply did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    /// In dispatch order: recorded missed and skipped first, then the sends.
    pub outcomes: Vec<OccurrenceOutcome>,
    /// Ctrl-C stopped the run.
    pub interrupted: bool,
    /// In-doubt occurrences left for an operator (not retried in this run), by id.
    pub in_doubt_remaining: Vec<String>,
    /// Occurrences within grace this run did not send, and why (refused with an unchanged
    /// request, or deferred by the provider until the next quota day).
    pub held: Vec<crate::plan::Held>,
    /// Whether this run recorded a new applied snapshot of the campaigns.
    pub snapshot_written: bool,
    /// The ledger's sequence number at the end.
    pub ledger_seq: u64,
}

impl ApplyReport {
    #[must_use]
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for o in &self.outcomes {
            match o.outcome {
                Outcome::Sent { .. } => c.sent += 1,
                Outcome::Deferred { .. } => c.deferred += 1,
                Outcome::Failed { .. } => c.failed += 1,
                Outcome::InDoubt { .. } => c.in_doubt += 1,
                Outcome::NotSent { .. } => c.not_sent += 1,
                Outcome::Missed => c.missed += 1,
                Outcome::Skipped { .. } => c.skipped += 1,
                Outcome::Stopped { .. } => c.stopped += 1,
                Outcome::AppStopped { .. }
                | Outcome::Interrupted
                | Outcome::LeftInDoubt { .. }
                | Outcome::Refused { .. } => c.not_attempted += 1,
            }
        }
        c
    }

    /// §3: 1 on any failure or in-doubt send (new or left over) or an interruption; else 2
    /// when quota deferrals remain (of this run, or held from an earlier one) or a WILL SEND
    /// AGAIN waits for an acknowledgement; else 0.
    #[must_use]
    pub fn status(&self) -> ExitStatus {
        let c = self.counts();
        if self.interrupted
            || c.failed + c.in_doubt + c.not_sent + c.not_attempted > 0
            || !self.in_doubt_remaining.is_empty()
        {
            ExitStatus::Failed
        } else if c.deferred > 0 || self.held.iter().any(|h| h.state.is_pending()) {
            ExitStatus::Deferred
        } else {
            ExitStatus::Done
        }
    }

    /// The outcomes of one kind, for tests and summaries.
    pub fn of(&self, name: &str) -> impl Iterator<Item = &OccurrenceOutcome> {
        let name = name.to_owned();
        self.outcomes
            .iter()
            .filter(move |o| o.outcome.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(outcome: Outcome) -> OccurrenceOutcome {
        OccurrenceOutcome {
            id: "p/1/c@t".into(),
            app: "prod".into(),
            campaign: "c".into(),
            outcome,
        }
    }

    #[test]
    fn exit_status_follows_section_3() {
        let sent = o(Outcome::Sent {
            task_id: "t".into(),
            attempts: 1,
        });
        let deferred = o(Outcome::Deferred {
            quota_day: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            forecast: true,
        });
        let mut r = ApplyReport {
            outcomes: vec![sent.clone(), o(Outcome::Missed)],
            ..ApplyReport::default()
        };
        assert_eq!(r.status(), ExitStatus::Done);
        assert_eq!(ApplyReport::default().status().code(), 0);
        r.outcomes.push(deferred);
        assert_eq!(r.status(), ExitStatus::Deferred);
        assert_eq!(r.status().code(), 2);
        r.outcomes.push(o(Outcome::InDoubt { reason: "x".into() }));
        assert_eq!(r.status(), ExitStatus::Failed);
        let left = ApplyReport {
            outcomes: vec![sent],
            in_doubt_remaining: vec!["a".into()],
            ..ApplyReport::default()
        };
        assert_eq!(left.status().code(), 1);
        let interrupted = ApplyReport {
            interrupted: true,
            ..ApplyReport::default()
        };
        assert_eq!(interrupted.status(), ExitStatus::Failed);
        let c = r.counts();
        assert_eq!((c.sent, c.deferred, c.in_doubt, c.missed), (1, 1, 1, 1));
        assert_eq!(r.of("deferred").count(), 1);
    }
}
