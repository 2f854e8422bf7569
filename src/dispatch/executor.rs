//! The executor: sends a plan's due pushes one by one, in order, recording every step in the
//! ledger before it is taken.
//!
//! Per send: app stopped (`crier stop`, a fatal error, `paused`)? → quota (forecast, or a 90047
//! earlier in this run) → pacing wait → grace re-check → the ledger refreshed (another
//! process's `crier stop`) → MsgRandom and body confirmed against the ledger → durable `intent` →
//! request → outcome recorded (`sent`, `in_doubt`, `failed`, `deferred`, `not_sent`), with the
//! §4 error classes deciding retries and waits.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::report::{OccurrenceOutcome, Outcome};
use super::reporter::{Event, Reporter, WaitReason};
use super::timer::{BoxFuture, Cancel, Timer};
use crate::api::client::{ApiReply, CallError, Client};
use crate::api::errors::{ErrorClass, RESIGN_ATTEMPTS, RetryPolicy, WAIT_A_MINUTE, classify};
use crate::clock::Clock;
use crate::ledger::record::{OccurrenceRecord, OccurrenceState, RecordBody, StateKind};
use crate::ledger::{LedgerError, LedgerWriter, check_transition, pick_msg_random};
use crate::plan::{PlannedSend, QuotaDay};

/// Why an accepted push without a TaskId is recorded in doubt.
const NO_TASK_ID: &str = "the provider answered ErrorCode 0 without a TaskId: the push was probably accepted, but cannot be confirmed, recalled or reported; check the provider's console";

/// The push API of one app, as the executor needs it ([`Client`] in production, a fake in
/// unit tests).
pub trait PushApi: std::marker::Send + Sync {
    /// POSTs one push body (`v4/timpush/push`), byte-exact.
    fn push<'a>(&'a self, body: &'a str) -> BoxFuture<'a, Result<ApiReply, CallError>>;
    /// Forgets the cached UserSig (70001, 70052).
    fn invalidate_usersig(&self);
}

impl PushApi for Client {
    fn push<'a>(&'a self, body: &'a str) -> BoxFuture<'a, Result<ApiReply, CallError>> {
        Box::pin(self.call(crate::api::wire::paths::PUSH, body))
    }

    fn invalidate_usersig(&self) {
        Client::invalidate_usersig(self);
    }
}

/// One app as the executor sees it.
pub struct Lane<'a> {
    pub api: &'a dyn PushApi,
    /// The next push starts at least this long after the previous response.
    pub min_interval: Duration,
    /// Where the provider's quota day starts and ends.
    pub quota_timezone: Tz,
    /// `paused: true` in crier.yaml: nothing is sent for this app (a plan file made before the
    /// pause, or an in-doubt retry, included).
    pub paused: bool,
    /// `policy.quiet_hours` at `deny`, checked again just before each send (grace or a quota
    /// deferral can move a send into them), with the campaigns excepted from it.
    pub quiet_hours: Option<(crate::policy::QuietHours, std::collections::HashSet<String>)>,
}

/// Retry and wait settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatchOptions {
    /// Backoff of transient failures (not-sent requests, 91000 and the other retry codes);
    /// `max_attempts` also bounds the waits of 90024 and 70050.
    pub retry: RetryPolicy,
    /// The wait after 70050 (a minute; tests shorten it).
    pub wait_a_minute: Duration,
}

impl Default for DispatchOptions {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::DEFAULT,
            wait_a_minute: WAIT_A_MINUTE,
        }
    }
}

/// What [`Executor::run`] returns.
#[derive(Debug, Default)]
pub struct RunOutcome {
    pub outcomes: Vec<OccurrenceOutcome>,
    pub interrupted: bool,
}

/// Everything the executor needs besides the ledger writer and the sends.
pub struct Executor<'a> {
    /// By app name.
    pub lanes: &'a HashMap<String, Lane<'a>>,
    /// Wall clock: grace, quota days, record times.
    pub clock: &'a dyn Clock,
    /// Monotonic time and waits: pacing, backoff.
    pub timer: &'a dyn Timer,
    pub reporter: &'a dyn Reporter,
    pub cancel: &'a Cancel,
    pub options: DispatchOptions,
    /// Where this apply runs (commit, CI run), recorded on every intent.
    pub origin: Option<&'a crate::ledger::record::Origin>,
}

#[derive(Default)]
struct AppState {
    /// The earliest instant the next request may start.
    ready_at: Option<Instant>,
    /// Why the app stopped for the rest of this run.
    stopped: Option<String>,
    /// Quota days the provider said are full (90047).
    full_days: HashSet<NaiveDate>,
    /// Quota left per day, as far as this run knows.
    quota_left: HashMap<NaiveDate, u32>,
}

/// How one attempt loop ended.
enum Settle {
    Done(Outcome),
    /// Cancelled during a wait; the attempt was closed as `not_sent`.
    Interrupted(Outcome),
}

impl Executor<'_> {
    /// Sends `sends` in order. `quota` seeds the quota-left figures shown in progress.
    ///
    /// # Errors
    /// A ledger write failed: the run stops at once (an intent without an outcome becomes
    /// `in_doubt` at the next lock).
    pub async fn run<W: LedgerWriter>(
        &self,
        writer: &mut W,
        sends: &[PlannedSend],
        quota: &[QuotaDay],
    ) -> Result<RunOutcome, LedgerError> {
        let mut apps: HashMap<String, AppState> = HashMap::new();
        for q in quota {
            apps.entry(q.app.clone())
                .or_default()
                .quota_left
                .insert(q.day, q.daily_quota.saturating_sub(q.used));
        }
        let mut out = RunOutcome::default();
        self.reporter.event(Event::Start { sends: sends.len() });
        for send in sends {
            let outcome = if out.interrupted || self.cancel.is_cancelled() {
                out.interrupted = true;
                Outcome::Interrupted
            } else {
                let state = apps.entry(send.app.clone()).or_default();
                match self.one(writer, send, state).await? {
                    Settle::Done(o) => o,
                    Settle::Interrupted(o) => {
                        out.interrupted = true;
                        o
                    }
                }
            };
            let quota_left = apps
                .get(&send.app)
                .and_then(|s| s.quota_left.get(&send.quota_day))
                .copied();
            let outcome = OccurrenceOutcome {
                id: send.id.clone(),
                app: send.app.clone(),
                campaign: send.campaign.clone(),
                outcome,
            };
            self.reporter.event(Event::Outcome {
                outcome: &outcome,
                quota_left,
            });
            out.outcomes.push(outcome);
        }
        Ok(out)
    }

    fn today(&self, lane: &Lane<'_>) -> NaiveDate {
        self.clock
            .now()
            .with_timezone(&lane.quota_timezone)
            .date_naive()
    }

    /// Appends `state` for `send` if the transition table allows it; `Ok(false)` if not.
    /// Records that this attempt gave up before its request was written: `not_sent`, or (for a
    /// retry of an in-doubt send) back to `in_doubt`, which the ledger then keeps.
    async fn not_sent<W: LedgerWriter>(
        &self,
        writer: &mut W,
        send: &PlannedSend,
        reason: String,
    ) -> Result<Outcome, LedgerError> {
        let recorded = self
            .record(
                writer,
                send,
                OccurrenceState::NotSent {
                    reason: reason.clone(),
                },
            )
            .await?;
        Ok(if recorded {
            Outcome::NotSent { reason }
        } else {
            Outcome::LeftInDoubt { reason }
        })
    }

    async fn record<W: LedgerWriter>(
        &self,
        writer: &mut W,
        send: &PlannedSend,
        state: OccurrenceState,
    ) -> Result<bool, LedgerError> {
        let current = writer.snapshot().occurrence(&send.key);
        if check_transition(current, &send.id, &state).is_err() {
            // A retry of an in-doubt send that ends without a delivery answer goes back to
            // in_doubt: an earlier attempt may have been delivered (the ledger refuses the rest).
            let retry_open =
                current.is_some_and(|v| v.in_doubt_unresolved() && v.kind() == StateKind::Intent);
            if retry_open {
                let reason = format!(
                    "a retry of an in-doubt send ended without an answer ({})",
                    crate::ledger::view::describe_state(&state)
                );
                let body = RecordBody::Occurrence(OccurrenceRecord {
                    key: send.key.clone(),
                    app: send.app.clone(),
                    state: OccurrenceState::InDoubt { reason },
                });
                writer.append(self.clock.now(), body).await?;
            }
            return Ok(false);
        }
        let body = RecordBody::Occurrence(OccurrenceRecord {
            key: send.key.clone(),
            app: send.app.clone(),
            state,
        });
        writer.append(self.clock.now(), body).await?;
        Ok(true)
    }

    /// The first request of an app in this run keeps `min_interval` after the last push the
    /// ledger says it accepted (a previous apply may have just sent one).
    fn initial_ready_at<W: LedgerWriter>(
        &self,
        writer: &W,
        send: &PlannedSend,
        lane: &Lane<'_>,
    ) -> Instant {
        let last = writer
            .snapshot()
            .accepted_pushes(send.key.sdkappid)
            .map(|(_, at)| at)
            .max();
        let now = self.timer.now();
        let Some(last) = last else { return now };
        let since = (self.clock.now() - last).to_std().unwrap_or(Duration::ZERO);
        now + lane.min_interval.saturating_sub(since)
    }

    async fn one<W: LedgerWriter>(
        &self,
        writer: &mut W,
        send: &PlannedSend,
        state: &mut AppState,
    ) -> Result<Settle, LedgerError> {
        let Some(lane) = self.lanes.get(&send.app) else {
            return Ok(Settle::Done(Outcome::Refused {
                reason: format!("app `{}` is not configured", send.app),
            }));
        };
        if let Some(reason) = &state.stopped {
            return Ok(Settle::Done(Outcome::AppStopped {
                reason: reason.clone(),
            }));
        }
        if lane.paused {
            return Ok(Settle::Done(Outcome::AppStopped {
                reason: format!("app `{}` is paused in crier.yaml", send.app),
            }));
        }
        if let Some(stop) = stop_of(writer, send) {
            return Ok(Settle::Done(stop));
        }
        if let Some(refusal) = self.refusal(writer, send) {
            return Ok(Settle::Done(Outcome::Refused { reason: refusal }));
        }
        // Quota: the plan's forecast, or a full day the provider reported in this run.
        let today = self.today(lane);
        let full_day = if send.over_quota {
            Some((send.quota_day, true))
        } else if state.full_days.contains(&today) {
            Some((today, false))
        } else {
            None
        };
        if let Some((quota_day, forecast)) = full_day {
            let state = OccurrenceState::Deferred { quota_day };
            return Ok(Settle::Done(if self.record(writer, send, state).await? {
                Outcome::Deferred {
                    quota_day,
                    forecast,
                }
            } else {
                Outcome::LeftInDoubt {
                    reason: format!("quota day {quota_day} is full; not retried"),
                }
            }));
        }
        let ready_at = *state
            .ready_at
            .get_or_insert_with(|| self.initial_ready_at(writer, send, lane));
        if !self
            .wait_until(&send.app, ready_at, WaitReason::Pacing)
            .await
        {
            return Ok(Settle::Interrupted(Outcome::Interrupted));
        }
        if let Some(late) = self.past_grace(writer, send, None).await? {
            return Ok(Settle::Done(late));
        }
        // The emergency stop: another process (or project) may have stopped the app while
        // this run waited; the ledger is the one place that says so.
        writer.refresh().await?;
        if let Some(stop) = stop_of(writer, send) {
            return Ok(Settle::Done(stop));
        }
        if let Some((q, excepted)) = &lane.quiet_hours
            && !excepted.contains(&send.campaign)
            && q.contains(self.clock.now())
        {
            return Ok(Settle::Done(Outcome::Stopped {
                reason: format!(
                    "policy quiet_hours (deny): it is now in the quiet hours ({}); it stays due and goes out after them while within grace",
                    q.describe()
                ),
            }));
        }
        self.attempts(writer, send, lane, state).await
    }

    /// Checks the item against the ledger before its first intent: MsgRandom and body hash.
    fn refusal<W: LedgerWriter>(&self, writer: &W, send: &PlannedSend) -> Option<String> {
        let body_hash = crate::plan::normalize::sha256(send.body.as_bytes());
        if body_hash != send.body_hash {
            return Some(format!(
                "the request body does not match its hash ({} ≠ {}); re-plan",
                body_hash, send.body_hash
            ));
        }
        let snapshot = writer.snapshot();
        let choice = pick_msg_random(
            &send.key,
            snapshot.msg_randoms_of(send.key.sdkappid),
            self.clock.now(),
        );
        (choice.value != send.msg_random).then(|| {
            format!(
                "the ledger gives MsgRandom {} where the plan has {}; re-plan",
                choice.value, send.msg_random
            )
        })
    }

    /// Grace re-check: past the deadline, records `missed` (closing an open attempt as
    /// `not_sent` first) and returns the outcome; `None` while within grace.
    async fn past_grace<W: LedgerWriter>(
        &self,
        writer: &mut W,
        send: &PlannedSend,
        open_attempt: Option<&str>,
    ) -> Result<Option<Outcome>, LedgerError> {
        if self.clock.now() <= send.deadline {
            return Ok(None);
        }
        if let Some(reason) = open_attempt {
            let closed = OccurrenceState::NotSent {
                reason: format!("{reason}; past grace before the next retry"),
            };
            self.record(writer, send, closed).await?;
        }
        Ok(Some(
            if self.record(writer, send, OccurrenceState::Missed).await? {
                Outcome::Missed
            } else {
                Outcome::LeftInDoubt {
                    reason: format!(
                        "past grace (deadline {}); not retried",
                        send.deadline
                            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ),
                }
            },
        ))
    }

    /// Waits until `at` (cancellable); `false` when cancelled.
    async fn wait_until(&self, app: &str, at: Instant, reason: WaitReason) -> bool {
        let wait = at.saturating_duration_since(self.timer.now());
        if wait.is_zero() {
            return !self.cancel.is_cancelled();
        }
        self.reporter.event(Event::Waiting {
            app,
            duration: wait,
            reason,
        });
        self.cancel.sleep(self.timer, wait).await
    }

    async fn wait(&self, app: &str, d: Duration, reason: WaitReason) -> bool {
        self.wait_until(app, self.timer.now() + d, reason).await
    }

    /// The attempt loop of one send.
    async fn attempts<W: LedgerWriter>(
        &self,
        writer: &mut W,
        send: &PlannedSend,
        lane: &Lane<'_>,
        state: &mut AppState,
    ) -> Result<Settle, LedgerError> {
        let policy = self.options.retry;
        let mut tries: u32 = 0;
        let mut resigns: u32 = 0;
        loop {
            tries += 1;
            let (attempt, perturbation) = match writer.snapshot().occurrence(&send.key) {
                Some(view) => (view.attempts + 1, None),
                None => (1, send.perturbation.clone()),
            };
            let request = serde_json::from_str(&send.body)
                .map_err(|e| LedgerError::Backend(format!("{}: body is not JSON: {e}", send.id)))?;
            let intent = OccurrenceState::Intent {
                msg_random: send.msg_random,
                perturbation,
                content_hash: send.body_hash.clone(),
                request,
                attempt,
                origin: self.origin.cloned(),
            };
            if !self.record(writer, send, intent).await? {
                return Ok(Settle::Done(Outcome::Refused {
                    reason: "the ledger refuses a new attempt for this occurrence".into(),
                }));
            }
            self.reporter.event(Event::Sending {
                id: &send.id,
                app: &send.app,
                campaign: &send.campaign,
                attempt,
            });
            let result = lane.api.push(&send.body).await;
            let responded = self.timer.now();
            // The retry decision: (reason, wait before the next try) or a settled outcome.
            let (reason, wait, wait_reason) = match result {
                Ok(reply) => {
                    // Accepted. Without a TaskId there is nothing to recall or report it by:
                    // whether it was really delivered cannot be told, so it is in doubt.
                    let (recorded, outcome) = match reply.task_id {
                        Some(task_id) => (
                            OccurrenceState::Sent {
                                task_id: task_id.clone(),
                            },
                            Outcome::Sent {
                                task_id,
                                attempts: tries,
                            },
                        ),
                        None => {
                            let reason = NO_TASK_ID.to_owned();
                            (
                                OccurrenceState::InDoubt {
                                    reason: reason.clone(),
                                },
                                Outcome::InDoubt { reason },
                            )
                        }
                    };
                    self.record(writer, send, recorded).await?;
                    state.ready_at = Some(responded + lane.min_interval);
                    if let Some(left) = state.quota_left.get_mut(&send.quota_day) {
                        *left = left.saturating_sub(1);
                    }
                    return Ok(Settle::Done(outcome));
                }
                Err(CallError::MaybeSent { reason, .. }) => {
                    self.record(
                        writer,
                        send,
                        OccurrenceState::InDoubt {
                            reason: reason.clone(),
                        },
                    )
                    .await?;
                    // It may have been accepted: keep the interval after it too.
                    state.ready_at = Some(responded + lane.min_interval);
                    return Ok(Settle::Done(Outcome::InDoubt { reason }));
                }
                Err(CallError::NotSent {
                    reason,
                    retryable: false,
                    ..
                }) => {
                    // No retry can help (the server's certificate was refused): nothing was
                    // written; stop this app for the run and say why once.
                    let why = format!(
                        "the server's certificate was refused (see {}); no retry can change that",
                        send.id
                    );
                    state.stopped = Some(format!("stopped: {why}"));
                    self.reporter.event(Event::AppStopped {
                        app: &send.app,
                        reason: &why,
                    });
                    return Ok(Settle::Done(self.not_sent(writer, send, reason).await?));
                }
                Err(CallError::NotSent { reason, .. }) => {
                    let delay = policy.delay(tries, self.timer.jitter());
                    (reason, delay, WaitReason::Backoff)
                }
                Err(CallError::Api { code, info, .. }) => {
                    let text = format!("ErrorCode {code}: {info}");
                    match classify(code) {
                        ErrorClass::Retry => (
                            text,
                            policy.delay(tries, self.timer.jitter()),
                            WaitReason::Backoff,
                        ),
                        ErrorClass::ResignThenRetry if resigns < RESIGN_ATTEMPTS => {
                            resigns += 1;
                            lane.api.invalidate_usersig();
                            (text, Some(Duration::ZERO), WaitReason::Backoff)
                        }
                        ErrorClass::WaitMinuteThenRetry => (
                            text,
                            (tries < policy.max_attempts).then_some(self.options.wait_a_minute),
                            WaitReason::UserSigLockout,
                        ),
                        ErrorClass::WaitThenRetry => (
                            text,
                            (tries < policy.max_attempts).then_some(lane.min_interval),
                            WaitReason::Interval,
                        ),
                        ErrorClass::DeferToNextQuotaDay => {
                            let quota_day = self.today(lane);
                            state.full_days.insert(quota_day);
                            state.quota_left.insert(quota_day, 0);
                            self.record(writer, send, OccurrenceState::Deferred { quota_day })
                                .await?;
                            return Ok(Settle::Done(Outcome::Deferred {
                                quota_day,
                                forecast: false,
                            }));
                        }
                        ErrorClass::FatalForApp | ErrorClass::ResignThenRetry => {
                            let why = format!("{text} ({})", ErrorClass::FatalForApp.describe());
                            state.stopped = Some(format!("stopped after {why} on {}", send.id));
                            self.reporter.event(Event::AppStopped {
                                app: &send.app,
                                reason: &why,
                            });
                            return self.fail(writer, send, code, info, true).await;
                        }
                        ErrorClass::FatalForRequest => {
                            return self.fail(writer, send, code, info, false).await;
                        }
                    }
                }
            };
            let Some(wait) = wait else {
                let reason = format!("{reason} (gave up after {tries} attempts)");
                return Ok(Settle::Done(self.not_sent(writer, send, reason).await?));
            };
            // The answer was definite (nothing was delivered): record it before waiting, so a
            // kill during the wait leaves a closed attempt, never an intent that reads in doubt.
            let closed = self
                .not_sent(writer, send, format!("{reason}; retrying"))
                .await?;
            self.reporter.event(Event::Retrying {
                id: &send.id,
                error: &reason,
            });
            if !self.wait(&send.app, wait, wait_reason).await {
                return Ok(Settle::Interrupted(match closed {
                    Outcome::NotSent { .. } => Outcome::NotSent {
                        reason: format!("{reason}; interrupted before the retry"),
                    },
                    other => other,
                }));
            }
            if let Some(late) = self.past_grace(writer, send, None).await? {
                return Ok(Settle::Done(late));
            }
        }
    }

    async fn fail<W: LedgerWriter>(
        &self,
        writer: &mut W,
        send: &PlannedSend,
        code: u32,
        info: String,
        fatal_for_app: bool,
    ) -> Result<Settle, LedgerError> {
        let recorded = self
            .record(
                writer,
                send,
                OccurrenceState::Failed {
                    error_code: i64::from(code),
                    error_info: info.clone(),
                },
            )
            .await?;
        Ok(Settle::Done(if recorded {
            Outcome::Failed {
                error_code: i64::from(code),
                error_info: info,
                fatal_for_app,
            }
        } else {
            Outcome::LeftInDoubt {
                reason: format!(
                    "the retry was refused with ErrorCode {code}: {info}; an earlier attempt may have been delivered"
                ),
            }
        }))
    }
}

#[cfg(test)]
mod tests;

/// The outcome of a send whose app is under `crier stop`, if it is.
fn stop_of<W: LedgerWriter>(writer: &W, send: &PlannedSend) -> Option<Outcome> {
    writer
        .snapshot()
        .stop_of(send.key.sdkappid)
        .map(|stop| Outcome::Stopped {
            reason: format!(
                "app {} is stopped ({}); it stays due: `crier resume {}`",
                send.app,
                stop.who_when_why(),
                send.app
            ),
        })
}
