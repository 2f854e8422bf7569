//! The apply flow as a library call: `crier apply` runs it with the process environment and a
//! terminal reporter, `crier demo` in-process with an emulator.
//!
//! 1. With `CI=true`, refuse a file ledger unless `allow_ephemeral_ledger` (§4 "CI").
//! 2. Take the ledger's writer lock (waiting up to `lock_timeout`; the error names the holder).
//!    Taking it repairs a torn tail and turns intents without an outcome into `in_doubt`.
//! 3. Build the plan from the ledger as read under the lock, or check the plan file against it
//!    ([`super::stale`]) and refuse a stale one.
//! 4. Show the plan ([`Event::Plan`]); unless `auto_approve`, ask ([`Reporter::confirm`]); with
//!    nobody to ask, refuse with a hint. Nothing is recorded or sent before the answer.
//! 5. Record `skipped` and `missed` once; dispatch the due sends (and, with `retry_in_doubt`,
//!    the in-doubt ones, after [`RETRY_IN_DOUBT_WARNING`]).
//! 6. When every send of this run settled without failure, record the applied snapshot of the
//!    campaigns (only when it differs from the last one: an identical snapshot adds nothing).
//! 7. Release the lock (on drop of the writer, also on error or interruption).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;

use super::executor::{DispatchOptions, Executor, Lane};
use super::report::{ApplyReport, OccurrenceOutcome, Outcome};
use super::reporter::{Confirmation, Event, Reporter};
use super::retry::{RetryRules, in_doubt_sends};
use super::timer::{Cancel, Timer, TokioTimer};
use crate::api::client::{Client, ClientError, ClientOptions};
use crate::clock::Clock;
use crate::ledger::lock::LockHolder;
use crate::ledger::record::{
    CampaignSnapshot, OccurrenceRecord, OccurrenceState, RecordBody, SnapshotRecord,
};
use crate::ledger::{AppScope, Ledger, LedgerError, LedgerWriter, check_transition};
use crate::plan::Plan;
use crate::secrets::SecretProvider;
use crate::settings::Settings;
use crate::validate::Checked;

/// The §4 warning printed before `--retry-in-doubt` resends anything.
pub const RETRY_IN_DOUBT_WARNING: &str = "--retry-in-doubt resends in-doubt pushes with their recorded MsgRandom. The provider documents deduplication on MsgRandom only \"within the same second\" today (a 2020 text said 7 days): a push that did reach the provider earlier can be delivered twice. Check delivery first (the console's push records) and prefer `crier ledger resolve` when you can tell.";

/// How to apply.
#[derive(Clone)]
pub struct ApplyOptions {
    /// Do not ask for confirmation.
    pub auto_approve: bool,
    /// Resend in-doubt occurrences (same MsgRandom), after [`RETRY_IN_DOUBT_WARNING`].
    pub retry_in_doubt: bool,
    /// How long to wait for another apply's lock.
    pub lock_timeout: Duration,
    /// Allow a file ledger under `CI=true`.
    pub allow_ephemeral_ledger: bool,
    /// Campaigns whose WILL SEND AGAIN the operator acknowledged (`--send-again NAME`).
    pub send_again: Vec<String>,
    /// Who this process is, for the lock (read at the edge: `cli::lock_holder`).
    pub holder: LockHolder,
    /// Where this apply runs (the repository's commit, the CI run), recorded on every intent.
    pub origin: Option<crate::ledger::record::Origin>,
    /// The value of the `CI` environment variable, if set.
    pub ci: Option<String>,
    /// The plan's horizon (upcoming sends; only shown).
    pub horizon: Duration,
    pub dispatch: DispatchOptions,
    pub client: ClientOptions,
    /// Pacing and backoff waits.
    pub timer: Arc<dyn Timer>,
    /// Tripped by Ctrl-C: stop after the request in flight.
    pub cancel: Cancel,
    /// `CRIER_PAUSE=1` (read at the edge): this process sends and records nothing; the plan is
    /// shown and its pushes stay due.
    pub pause: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            auto_approve: false,
            retry_in_doubt: false,
            lock_timeout: Duration::from_secs(60),
            allow_ephemeral_ledger: false,
            send_again: Vec::new(),
            origin: None,
            holder: LockHolder {
                pid: 0,
                hostname: "unknown".into(),
                user: "unknown".into(),
                command: "crier (library)".into(),
                started_at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
                project: None,
                ci_run: None,
                ci_url: None,
            },
            ci: None,
            horizon: Duration::from_secs(7 * 86_400),
            dispatch: DispatchOptions::default(),
            client: ClientOptions::default(),
            timer: Arc::new(TokioTimer),
            cancel: Cancel::new(),
            pause: false,
        }
    }
}

/// What to apply: the validated campaign set, and optionally a plan file to execute exactly.
pub struct ApplyInput<'a> {
    pub settings: &'a Settings,
    pub checked: &'a [Checked<'a>],
    pub plan_file: Option<Plan>,
}

/// Why an apply did not run (nothing was sent in any of these cases, except a ledger failure
/// mid-run, after which the ledger tells what happened).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "CI=true and the ledger is a {ledger}: a fresh runner starts with an empty ledger and would resend everything within grace\nhint: use a shared ledger (ledger.postgres_url_env), or pass --allow-ephemeral-ledger if this runner keeps its ledger"
    )]
    CiRefusesFileLedger { ledger: String },
    #[error(transparent)]
    LedgerUrlUnset(#[from] crate::ledger::LedgerUrlUnset),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("the plan file is stale; make a new plan:\n  - {}", .0.join("\n  - "))]
    StalePlan(Vec<String>),
    #[error(
        "confirmation needed, but there is no terminal to ask; nothing was sent\nhint: review the plan (crier plan) and run `crier apply --auto-approve`, or apply a reviewed plan file"
    )]
    NoTerminal,
    #[error("apply cancelled: not confirmed; nothing was sent")]
    NotConfirmed,
}

/// Applies with the ledger named by `settings` (see the module documentation).
///
/// # Errors
/// [`ApplyError`]; the outcome of each send is in the returned report instead.
pub async fn apply(
    input: ApplyInput<'_>,
    options: &ApplyOptions,
    secrets: &dyn SecretProvider,
    clock: Arc<dyn Clock>,
    reporter: &dyn Reporter,
) -> Result<ApplyReport, ApplyError> {
    let ledger = crate::ledger::ledger_for(&input.settings.ledger, None)?;
    apply_with_ledger(&ledger, input, options, secrets, clock, reporter).await
}

/// Applies with an explicit ledger (one that says it is ephemeral is refused under `CI=true`
/// unless allowed).
///
/// # Errors
/// As [`apply`].
pub async fn apply_with_ledger<L: Ledger>(
    ledger: &L,
    input: ApplyInput<'_>,
    options: &ApplyOptions,
    secrets: &dyn SecretProvider,
    clock: Arc<dyn Clock>,
    reporter: &dyn Reporter,
) -> Result<ApplyReport, ApplyError> {
    if ledger.ephemeral()
        && crate::ledger::ci_refuses_file_ledger(
            options.ci.as_deref(),
            options.allow_ephemeral_ledger,
        )
    {
        return Err(ApplyError::CiRefusesFileLedger {
            ledger: ledger.describe(),
        });
    }
    let settings = input.settings;
    if options.pause {
        return paused(ledger, input, options, &*clock, reporter).await;
    }
    let mut writer = ledger
        .lock_apps(
            &lock_scope(settings, input.checked),
            LockHolder {
                started_at: clock.now(),
                project: Some(settings.project.clone()),
                ..options.holder.clone()
            },
            options.lock_timeout,
            &*clock,
        )
        .await?;
    for w in writer.warnings() {
        reporter.event(Event::Ledger(w));
    }
    let now = clock.now();
    let fresh = crate::plan::build(&crate::plan::Input {
        settings,
        checked: input.checked,
        ledger: writer.snapshot(),
        at: now,
        horizon: options.horizon,
    });
    // A saved plan is the approval: it was reviewed, WILL SEND AGAIN items included.
    let reviewed = input.plan_file.is_some();
    let plan = match input.plan_file {
        Some(file) => {
            let reasons = super::stale::reasons(
                &file,
                &fresh.campaign_hashes,
                writer.snapshot(),
                settings,
                now,
            );
            if !reasons.is_empty() {
                return Err(ApplyError::StalePlan(reasons));
            }
            file
        }
        None => fresh,
    };

    let mut report = ApplyReport {
        held: plan.held.clone(),
        ..ApplyReport::default()
    };
    let mut sends = plan.due.clone();
    let mut resending = false;
    if options.retry_in_doubt {
        let rules: HashMap<String, RetryRules> = input
            .checked
            .iter()
            .flat_map(|c| {
                let rules = RetryRules {
                    grace: c.grace,
                    quota_timezone: c.app.quota_timezone,
                    paused: c.app.paused || c.campaign.spec.paused,
                };
                c.names().map(move |n| (n.to_owned(), rules))
            })
            .collect();
        let projects: Vec<&str> = settings.project_names().collect();
        let (retries, left) = in_doubt_sends(writer.snapshot(), &projects, &rules);
        report.in_doubt_remaining = left.iter().map(|o| o.id.clone()).collect();
        report.outcomes.extend(left);
        resending = !retries.is_empty();
        sends.extend(retries);
        sends.sort_by(|a, b| (a.key.scheduled, &a.campaign).cmp(&(b.key.scheduled, &b.campaign)));
    } else {
        report.in_doubt_remaining = plan.in_doubt.iter().map(|d| d.id.clone()).collect();
    }

    hold_sends_again(&plan, reviewed, options, &mut sends, &mut report, reporter);
    reporter.event(Event::Plan(&plan));
    if resending {
        // Before the confirmation, so the operator decides knowing it.
        reporter.event(Event::Warning(RETRY_IN_DOUBT_WARNING));
    }
    let work = !sends.is_empty() || !plan.missed.is_empty() || !plan.skipped.is_empty();
    if work && !options.auto_approve && !reviewed {
        match reporter.confirm(&plan) {
            Confirmation::Yes => {}
            Confirmation::No => return Err(ApplyError::NotConfirmed),
            Confirmation::NoTerminal => return Err(ApplyError::NoTerminal),
        }
    }

    // Clients for the apps that send (a missing secret stops everything before any send).
    let mut clients: HashMap<String, Client> = HashMap::new();
    for send in &sends {
        if clients.contains_key(&send.app) {
            continue;
        }
        if let Some(app) = settings.apps.get(&send.app) {
            let client = Client::with_options(app, secrets, Arc::clone(&clock), options.client)?;
            clients.insert(send.app.clone(), client);
        }
    }
    let quiet_exceptions: std::collections::HashSet<String> = input
        .checked
        .iter()
        .filter(|c| {
            c.campaign
                .spec
                .policy_exceptions
                .as_ref()
                .is_some_and(|e| e.contains_key(crate::policy::QUIET_HOURS))
        })
        .flat_map(|c| c.names().map(str::to_owned))
        .collect();
    let lanes: HashMap<String, Lane<'_>> = clients
        .iter()
        .map(|(name, client)| {
            let app = &settings.apps[name];
            (
                name.clone(),
                Lane {
                    api: client,
                    min_interval: app.min_interval,
                    quota_timezone: app.quota_timezone,
                    paused: app.paused,
                    quiet_hours: settings
                        .policy
                        .quiet_hours
                        .filter(|q| q.level == crate::policy::Level::Deny)
                        .map(|q| (q, quiet_exceptions.clone())),
                },
            )
        })
        .collect();

    record_once(&mut writer, &plan, &*clock, reporter, &mut report).await?;
    let executor = Executor {
        lanes: &lanes,
        clock: &*clock,
        timer: &*options.timer,
        reporter,
        cancel: &options.cancel,
        options: options.dispatch,
        origin: options.origin.as_ref(),
    };
    let run = executor.run(&mut writer, &sends, &plan.quota).await?;
    report.interrupted = run.interrupted;
    let clean = !run.interrupted
        && run.outcomes.iter().all(|o| {
            matches!(
                o.outcome,
                Outcome::Sent { .. }
                    | Outcome::Deferred { .. }
                    | Outcome::Missed
                    | Outcome::Skipped { .. }
            )
        });
    report.outcomes.extend(run.outcomes);
    if clean {
        report.snapshot_written = write_snapshot(&mut writer, &plan, &*clock).await?;
    }
    report.ledger_seq = writer.current_seq();
    drop(writer);
    reporter.event(Event::Finished(&report));
    Ok(report)
}

/// Why a paused process sends nothing.
pub const PAUSE_REASON: &str = "CRIER_PAUSE=1 is set for this process: it sends and records nothing; the pushes stay due and go out from a process without it while within grace";

/// `CRIER_PAUSE=1`: the plan (fresh, or the plan file) is shown from a read of the ledger
/// (no lock, no record), and every push it would send is held.
async fn paused<L: Ledger>(
    ledger: &L,
    input: ApplyInput<'_>,
    options: &ApplyOptions,
    clock: &dyn Clock,
    reporter: &dyn Reporter,
) -> Result<ApplyReport, ApplyError> {
    let read = ledger.read().await?;
    let plan = match input.plan_file {
        Some(file) => file,
        None => crate::plan::build(&crate::plan::Input {
            settings: input.settings,
            checked: input.checked,
            ledger: &read.snapshot,
            at: clock.now(),
            horizon: options.horizon,
        }),
    };
    reporter.event(Event::Plan(&plan));
    reporter.event(Event::Warning(PAUSE_REASON));
    let mut report = ApplyReport {
        held: plan.held.clone(),
        ledger_seq: read.snapshot.seq,
        ..ApplyReport::default()
    };
    report.in_doubt_remaining = plan.in_doubt.iter().map(|d| d.id.clone()).collect();
    report
        .held
        .extend(plan.due.iter().map(|s| crate::plan::Held {
            id: s.id.clone(),
            app: s.app.clone(),
            campaign: s.campaign.clone(),
            state: crate::plan::HeldState::Stopped,
            error_code: None,
            reason: PAUSE_REASON.to_owned(),
        }));
    reporter.event(Event::Finished(&report));
    Ok(report)
}

/// WILL SEND AGAIN (a rename, a moved one-off, a project change: a push already delivered
/// under another key) is held unless acknowledged: `--auto-approve` never acknowledges it; a
/// reviewed plan file that lists it, or `--send-again NAME`, does.
fn hold_sends_again(
    plan: &Plan,
    reviewed: bool,
    options: &ApplyOptions,
    sends: &mut Vec<crate::plan::PlannedSend>,
    report: &mut ApplyReport,
    reporter: &dyn Reporter,
) {
    let again: HashMap<&str, &str> = plan
        .changes
        .created
        .iter()
        .chain(&plan.changes.updated)
        .filter_map(|c| c.sends_again.as_deref().map(|m| (c.campaign.as_str(), m)))
        .collect();
    for name in &options.send_again {
        if !again.contains_key(name.as_str()) {
            reporter.event(Event::Warning(&format!(
                "--send-again {name}: the plan has no WILL SEND AGAIN for campaign `{name}`; nothing to acknowledge"
            )));
        }
    }
    if reviewed {
        return;
    }
    sends.retain(|s| {
        let Some(message) = again.get(s.campaign.as_str()) else {
            return true;
        };
        if options.send_again.contains(&s.campaign) {
            return true;
        }
        report.held.push(crate::plan::Held {
            id: s.id.clone(),
            app: s.app.clone(),
            campaign: s.campaign.clone(),
            state: crate::plan::HeldState::WillSendAgain,
            error_code: None,
            reason: format!(
                "{message}. Held: --auto-approve never sends a push again. To send it, run `crier apply --send-again {0}`, or apply a reviewed plan file that lists it (`crier plan --out plan.json`, then `crier apply plan.json`); for a rename, add `previous_names: [OLD]` to `{0}` instead, so nothing is sent again",
                s.campaign
            ),
        });
        false
    });
}

/// Records the plan's `skipped` and `missed` occurrences (each once: the transition table
/// refuses a second record, and the plan lists only unrecorded ones).
async fn record_once<W: LedgerWriter>(
    writer: &mut W,
    plan: &Plan,
    clock: &dyn Clock,
    reporter: &dyn Reporter,
    report: &mut ApplyReport,
) -> Result<(), LedgerError> {
    let items = plan
        .skipped
        .iter()
        .map(|s| {
            (
                &s.key,
                &s.id,
                &s.app,
                &s.campaign,
                OccurrenceState::Skipped { why: s.why.clone() },
                Outcome::Skipped { why: s.why.clone() },
            )
        })
        .chain(plan.missed.iter().map(|m| {
            (
                &m.key,
                &m.id,
                &m.app,
                &m.campaign,
                OccurrenceState::Missed,
                Outcome::Missed,
            )
        }));
    for (key, id, app, campaign, state, outcome) in items {
        if check_transition(writer.snapshot().occurrence(key), id, &state).is_err() {
            continue;
        }
        writer
            .append(
                clock.now(),
                RecordBody::Occurrence(OccurrenceRecord {
                    key: key.clone(),
                    app: app.clone(),
                    state,
                }),
            )
            .await?;
        let outcome = OccurrenceOutcome {
            id: id.clone(),
            app: app.clone(),
            campaign: campaign.clone(),
            outcome,
        };
        reporter.event(Event::Outcome {
            outcome: &outcome,
            quota_left: None,
        });
        report.outcomes.push(outcome);
    }
    Ok(())
}

/// Records the plan's normalised campaigns as the applied snapshot, unless the last applied
/// snapshot of the project has exactly these hashes. Returns whether it wrote one.
async fn write_snapshot<W: LedgerWriter>(
    writer: &mut W,
    plan: &Plan,
    clock: &dyn Clock,
) -> Result<bool, LedgerError> {
    let unchanged = writer
        .snapshot()
        .applied
        .get(&plan.project)
        .is_some_and(|a| {
            a.snapshot.campaigns.len() == plan.campaign_hashes.len()
                && a.snapshot
                    .campaigns
                    .iter()
                    .all(|(name, c)| plan.campaign_hashes.get(name) == Some(&c.hash))
        });
    if unchanged {
        return Ok(false);
    }
    let campaigns: IndexMap<String, CampaignSnapshot> = plan
        .campaigns
        .iter()
        .map(|(name, campaign)| {
            (
                name.clone(),
                CampaignSnapshot {
                    hash: plan.campaign_hashes.get(name).cloned().unwrap_or_default(),
                    campaign: campaign.value(),
                },
            )
        })
        .collect();
    writer
        .append(
            clock.now(),
            RecordBody::Snapshot(SnapshotRecord {
                project: plan.project.clone(),
                campaigns,
            }),
        )
        .await?;
    Ok(true)
}

/// The apps an apply locks: those its campaigns send on (every app of `crier.yaml` when no
/// campaign names one), by sdkappid.
#[must_use]
pub fn lock_scope(settings: &Settings, checked: &[Checked]) -> AppScope {
    let mut scope: AppScope = checked
        .iter()
        .map(|c| (c.app.sdkappid, c.app.name.clone()))
        .collect();
    if scope.is_empty() {
        scope = settings
            .apps
            .values()
            .map(|a| (a.sdkappid, a.name.clone()))
            .collect();
    }
    scope
}
