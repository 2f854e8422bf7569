//! How the dispatcher tells its caller what is going on, so that the library never prints:
//! the CLI draws progress bars from these events, the demo and tests record them.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::report::{ApplyReport, OccurrenceOutcome};
use crate::ledger::LedgerWarning;
use crate::plan::Plan;

/// Why the dispatcher waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// `min_interval` since the app's previous response.
    Pacing,
    /// Backoff before retrying a transient failure.
    Backoff,
    /// 90024: the provider says the interval was too short.
    Interval,
    /// 70050: too many UserSig failures, wait a minute.
    UserSigLockout,
}

impl WaitReason {
    #[must_use]
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Pacing => "pacing",
            Self::Backoff => "backoff before a retry",
            Self::Interval => "the provider asked for a longer interval (90024)",
            Self::UserSigLockout => "too many UserSig failures (70050)",
        }
    }
}

/// Something worth showing.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// The plan about to be executed (shown before the confirmation).
    Plan(&'a Plan),
    /// A ledger warning (a repaired torn tail, an intent turned in-doubt).
    Ledger(&'a LedgerWarning),
    /// A warning to show prominently (e.g. the §4 deduplication warning of `--retry-in-doubt`).
    Warning(&'a str),
    /// Dispatch begins: this many sends are queued.
    Start { sends: usize },
    /// A wait before the next request.
    Waiting {
        app: &'a str,
        duration: Duration,
        reason: WaitReason,
    },
    /// A request is about to leave (its intent is durable).
    Sending {
        id: &'a str,
        app: &'a str,
        campaign: &'a str,
        attempt: u32,
    },
    /// An attempt failed and will be retried.
    Retrying { id: &'a str, error: &'a str },
    /// An occurrence is settled for this run; `quota_left` is the app's remaining quota on
    /// the send's quota day as far as this run knows.
    Outcome {
        outcome: &'a OccurrenceOutcome,
        quota_left: Option<u32>,
    },
    /// An app stopped sending for the rest of this run.
    AppStopped { app: &'a str, reason: &'a str },
    /// The run is over.
    Finished(&'a ApplyReport),
}

/// The answer to "send these?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    Yes,
    No,
    /// Nobody can be asked (no terminal): refuse, with a hint about `--auto-approve`.
    NoTerminal,
}

/// Receives events; asks for confirmation.
pub trait Reporter: Send + Sync {
    fn event(&self, event: Event<'_>);

    /// Asks whether to execute `plan`. The default: nobody can be asked.
    fn confirm(&self, _plan: &Plan) -> Confirmation {
        Confirmation::NoTerminal
    }
}

/// Ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullReporter;

impl Reporter for NullReporter {
    fn event(&self, _event: Event<'_>) {}
}

/// Keeps a one-line description of every event; for tests and the demo.
#[derive(Debug, Default)]
pub struct RecordingReporter {
    lines: Mutex<Vec<String>>,
    answer: Option<Confirmation>,
}

impl RecordingReporter {
    /// A recorder that answers `answer` when asked to confirm.
    #[must_use]
    pub fn answering(answer: Confirmation) -> Self {
        Self {
            lines: Mutex::new(Vec::new()),
            answer: Some(answer),
        }
    }

    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn push(&self, line: String) {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line);
    }
}

impl Reporter for RecordingReporter {
    fn event(&self, event: Event<'_>) {
        let line = match event {
            Event::Plan(p) => format!("plan: {} due", p.due.len()),
            Event::Ledger(w) => format!("ledger: {w}"),
            Event::Warning(w) => format!("warning: {w}"),
            Event::Start { sends } => format!("start: {sends}"),
            Event::Waiting {
                app,
                duration,
                reason,
            } => format!(
                "wait {app} {}ms {}",
                duration.as_millis(),
                reason.describe()
            ),
            Event::Sending { id, attempt, .. } => format!("send {id} attempt {attempt}"),
            Event::Retrying { id, error } => format!("retry {id}: {error}"),
            Event::Outcome { outcome, .. } => {
                format!("{} {}", outcome.outcome.name(), outcome.id)
            }
            Event::AppStopped { app, reason } => format!("stop {app}: {reason}"),
            Event::Finished(r) => format!("finished: {:?}", r.status()),
        };
        self.push(line);
    }

    fn confirm(&self, plan: &Plan) -> Confirmation {
        self.push(format!("confirm: {} due", plan.due.len()));
        self.answer.unwrap_or(Confirmation::NoTerminal)
    }
}
