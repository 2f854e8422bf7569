//! `crier plan`: the reviewable dry run. [`build`] is a pure function of (campaign set, settings,
//! ledger snapshot, time) that returns a [`Plan`] value; the CLI prints it, `apply` executes it.

pub mod audience;
mod changes;
pub mod format;
pub mod model;
pub mod normalize;
mod policy;
pub mod review;
mod warnings;

pub use model::{
    AudienceChange, AudienceDirection, Change, Changes, FieldChange, Held, HeldState, InDoubt,
    MessageView, Missed, NextOccurrence, Plan, PlannedSend, QuotaDay, ReadMessage, ScheduleView,
    Skipped, Warning,
};

use crate::api::errors::{RefusalRetry, refusal_retry};
use crate::duration::to_delta as delta;
use crate::ledger::fold::LedgerSnapshot;
use crate::ledger::msg_random::MsgRandomPool;
use crate::ledger::record::StateKind;
use crate::render::Renderer;
use crate::schedule::Occurrence;
use crate::settings::Settings;
use crate::validate::Checked;
use chrono::{DateTime, SecondsFormat, Utc};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// What a plan is built from.
pub struct Input<'a> {
    pub settings: &'a Settings,
    pub checked: &'a [Checked<'a>],
    pub ledger: &'a LedgerSnapshot,
    pub at: DateTime<Utc>,
    pub horizon: Duration,
}

/// States after which an occurrence is never sent again by `apply`. `not_sent` (apply gave up
/// before the request left) and `resolved_not_sent` (an operator says it never arrived) are not
/// settled: the occurrence is due again while within grace, and missed after.
///
/// `failed` is not settled either (a definite refusal delivered nothing): see [`Refused`].
const fn settled(kind: StateKind) -> bool {
    matches!(
        kind,
        StateKind::Sent
            | StateKind::Missed
            | StateKind::Skipped
            | StateKind::ResolvedSent
            | StateKind::Recalled
    )
}

/// What one occurrence is, before MsgRandoms are picked (see [`build`]).
enum Step<'c> {
    Held(Held),
    Skipped(Skipped),
    Missed(Missed),
    /// To send or render: its id and base MsgRandom computed already.
    Pending(Pending<'c, Unpicked>),
}

/// Names the lifetimes of [`build`]'s classifying closure.
fn classifier<'c, F>(f: F) -> F
where
    F: Fn(&'c Checked<'c>) -> (Vec<Step<'c>>, Option<Warning>) + Sync,
{
    f
}

/// An occurrence to render: which campaign, when, and its MsgRandom, picked in order (`C`), or
/// what the pick needs, computed in parallel before ([`Unpicked`]).
struct Pending<'c, C = crate::ledger::msg_random::MsgRandomChoice> {
    checked: &'c Checked<'c>,
    occ: Occurrence,
    key: crate::occurrence::OccurrenceKey,
    choice: C,
    upcoming: bool,
    /// The provider refused an earlier attempt.
    refused: Option<Refused>,
}

/// What picking an occurrence's MsgRandom needs: its id and base value.
struct Unpicked {
    id: String,
    base: u32,
}

impl<'c> Pending<'c, Unpicked> {
    /// The occurrence with its MsgRandom picked from its app's pool.
    fn pick(self, pool: &mut MsgRandomPool) -> Pending<'c> {
        let Self {
            checked,
            occ,
            key,
            choice: Unpicked { id, base },
            upcoming,
            refused,
        } = self;
        Pending {
            checked,
            occ,
            key,
            choice: pool.pick_known(id, base),
            upcoming,
            refused,
        }
    }
}

/// An earlier attempt of an occurrence that the provider refused (`failed`): nothing was
/// delivered, so it is due again within grace, at once for a configuration or credential
/// error, and for a request error only when the rendered request is no longer the one refused.
struct Refused {
    error_code: i64,
    error_info: String,
    retry: RefusalRetry,
    /// `body_hash` of the refused request.
    refused_body: Option<String>,
}

impl Refused {
    fn of(view: &crate::ledger::fold::OccurrenceView) -> Option<Self> {
        let crate::ledger::record::OccurrenceState::Failed {
            error_code,
            error_info,
        } = &view.state
        else {
            return None;
        };
        let retry =
            u32::try_from(*error_code).map_or(RefusalRetry::WhenContentChanges, refusal_retry);
        Some(Self {
            error_code: *error_code,
            error_info: error_info.clone(),
            retry,
            refused_body: view.content_hash.clone(),
        })
    }
}

/// Renders one pending occurrence into a [`PlannedSend`], or says why it cannot be sent.
fn render_send(
    input: &Input<'_>,
    prepared: Option<&crate::render::Prepared<'_, '_>>,
    hashes: &HashMap<&str, std::sync::Arc<str>>,
    once: &HashMap<&str, RenderedOnce>,
    p: Pending<'_>,
) -> Result<PlannedSend, Warning> {
    let c = p.checked;
    let id = p.key.id();
    let ctx = c.context(p.occ.local);
    // Validation already checked every template's names; rendering needs no second check.
    // A message that does not read the occurrence was rendered once for all of them.
    let message = match (once.get(c.name()), prepared) {
        (Some(r), _) => r.clone(),
        (None, Some(prepared)) => crate::render::render_prepared(prepared, &ctx),
        (None, None) => unreachable!("a campaign not rendered once has its templates prepared"),
    };
    let rendered = message
        .map(|m| crate::render::with_msg_random(c.campaign, m, p.choice.value))
        .map_err(|errors| {
            let why: Vec<String> = errors.into_iter().map(|e| e.message).collect();
            Warning {
                kind: "render-error".into(),
                campaign: Some(c.name().to_owned()),
                message: format!(
                    "{id} cannot be rendered and will not be sent: {}",
                    why.join("; ")
                ),
            }
        })?;
    if rendered.body.len() > crate::render::MAX_BODY_BYTES {
        return Err(Warning {
            kind: "body-too-large".into(),
            campaign: Some(c.name().to_owned()),
            message: format!(
                "{id} renders to {} bytes, over the API's {} (90056); it will not be sent",
                rendered.body.len(),
                crate::render::MAX_BODY_BYTES
            ),
        });
    }
    let previous_attempts = input.ledger.occurrence(&p.key).map_or(0, |v| v.attempts);
    Ok(PlannedSend {
        id,
        app: c.app.name.clone(),
        campaign: c.name().to_owned(),
        local: p.occ.local.to_rfc3339_opts(SecondsFormat::Secs, false),
        deadline: p.occ.at + delta(c.grace),
        msg_random: p.choice.value,
        perturbation: p.choice.perturbation,
        content_hash: hashes.get(c.name()).cloned().unwrap_or_default(),
        body_hash: normalize::sha256(rendered.body.as_bytes()),
        body: rendered.body,
        // A due send counts on the day it goes out (now, if it is late), an upcoming one on its own.
        quota_day: p
            .occ
            .at
            .max(input.at)
            .with_timezone(&c.app.quota_timezone)
            .date_naive(),
        over_quota: false,
        previous_attempts,
        retry: None,
        dst: p.occ.dst.map(|d| d.to_string()),
        key: p.key,
    })
}

/// A campaign's message rendered once for every occurrence (it does not read the occurrence).
type RenderedOnce = Result<crate::spec::campaign::MessageSpec, Vec<crate::render::RenderError>>;

/// Renders, once each, the messages of the pending campaigns that do not depend on the
/// occurrence (in parallel), so a frequent schedule does not render the same text each time.
fn render_once<'c>(pending: &[Pending<'c>], renderer: &Renderer) -> HashMap<&'c str, RenderedOnce> {
    let mut firsts: BTreeMap<&'c str, &Pending<'c>> = BTreeMap::new();
    for p in pending {
        firsts.entry(p.checked.name()).or_insert(p);
    }
    firsts
        .into_par_iter()
        .filter(|(_, p)| !crate::render::depends_on_occurrence(p.checked.campaign))
        .map(|(name, p)| {
            let ctx = p.checked.context(p.occ.local);
            (
                name,
                crate::render::render_message_checked(renderer, p.checked.campaign, &ctx),
            )
        })
        .collect()
}

/// A rendered send of an occurrence the provider refused before: retried (with the reason
/// shown), or held when the refusal was about the request and the request did not change.
fn retry_of(mut send: PlannedSend, refused: Option<Refused>) -> Rendered {
    let Some(r) = refused else {
        return Rendered::Ready(send);
    };
    let code = r.error_code;
    if r.retry == RefusalRetry::WhenContentChanges
        && r.refused_body.as_deref() == Some(send.body_hash.as_str())
    {
        return Rendered::Held(Held {
            id: send.id,
            app: send.app,
            campaign: send.campaign.clone(),
            state: HeldState::Failed,
            error_code: Some(code),
            reason: format!(
                "the provider refused this request (ErrorCode {code}: {}); nothing was delivered. It is due again once the campaign `{}` changes, while within grace (until {}); to send it again unchanged: crier ledger resolve {} --not-sent",
                r.error_info,
                send.campaign,
                send.deadline.to_rfc3339_opts(SecondsFormat::Secs, true),
                send.key.id(),
            ),
        });
    }
    send.retry = Some(match r.retry {
        RefusalRetry::WhenFixed => format!(
            "retry: the provider refused the last attempt with ErrorCode {code} ({}), a configuration or credential error that delivered nothing; sent again now that it may be fixed",
            r.error_info
        ),
        RefusalRetry::WhenContentChanges => format!(
            "retry: the provider refused the last attempt with ErrorCode {code} ({}); the campaign changed since",
            r.error_info
        ),
    });
    Rendered::Ready(send)
}

/// What became of one pending occurrence (short-lived, one per occurrence: no boxing).
#[expect(
    clippy::large_enum_variant,
    reason = "built and consumed once per occurrence"
)]
enum Rendered {
    Ready(PlannedSend),
    /// Refused before with the same request: not sent again.
    Held(Held),
    /// Cannot be rendered or sent.
    Unsendable(Warning),
}

fn in_doubt_entries(input: &Input<'_>) -> Vec<InDoubt> {
    input
        .ledger
        .occurrences
        .values()
        .filter(|o| {
            input.settings.project_names().any(|p| p == o.key.project) && o.needs_decision()
        })
        .map(|o| {
            let reason = match &o.state {
                crate::ledger::record::OccurrenceState::InDoubt { reason } => reason.clone(),
                _ => "an intent was recorded but no outcome".to_owned(),
            };
            InDoubt {
                id: o.id.clone(),
                app: o.app.clone(),
                campaign: o.key.campaign.clone(),
                msg_random: o.msg_random,
                reason,
                since: o.updated_at(),
                options: vec![
                    format!("check the provider (the console's push records) and record it: crier ledger resolve {} --sent [--task-id T]", o.id),
                    format!("or, if it never arrived: crier ledger resolve {} --not-sent", o.id),
                    "or resend with the same MsgRandom: crier apply --retry-in-doubt (the provider deduplicates only within a short window: a late retry can deliver twice)".to_owned(),
                ],
            }
        })
        .collect()
}

/// Marks the sends that do not fit their app's daily quota, and sums each quota day.
fn forecast_quota(
    input: &Input<'_>,
    due: &mut [PlannedSend],
    upcoming: &mut [PlannedSend],
) -> Vec<QuotaDay> {
    let mut days: BTreeMap<(String, chrono::NaiveDate), QuotaDay> = BTreeMap::new();
    let mine: Vec<&str> = input.settings.project_names().collect();
    for app in input.settings.apps.values() {
        let used = input
            .ledger
            .used_per_day(app.sdkappid, app.quota_timezone, app.daily_quota);
        let others = input
            .ledger
            .others_per_day(app.sdkappid, app.quota_timezone, &mine);
        for (day, used) in used {
            days.insert(
                (app.name.clone(), day),
                QuotaDay {
                    app: app.name.clone(),
                    day,
                    daily_quota: app.daily_quota,
                    used,
                    used_by_others: others.get(&day).copied().unwrap_or(0).min(used),
                    planned: 0,
                    deferred: Vec::new(),
                },
            );
        }
    }
    for send in due.iter_mut().chain(upcoming.iter_mut()) {
        let Some(app) = input.settings.apps.get(&send.app) else {
            continue;
        };
        let entry = days
            .entry((send.app.clone(), send.quota_day))
            .or_insert_with(|| QuotaDay {
                app: send.app.clone(),
                day: send.quota_day,
                daily_quota: app.daily_quota,
                used: 0,
                used_by_others: 0,
                planned: 0,
                deferred: Vec::new(),
            });
        if entry.used + entry.planned >= entry.daily_quota {
            send.over_quota = true;
            entry.deferred.push(send.id.clone());
        }
        entry.planned += 1;
    }
    let today = |app: &str| {
        input
            .settings
            .apps
            .get(app)
            .map(|a| input.at.with_timezone(&a.quota_timezone).date_naive())
    };
    days.into_values()
        .filter(|d| d.planned > 0 || (d.used > 0 && today(&d.app) == Some(d.day)))
        .collect()
}

/// Builds the plan. Pure: no I/O, no clock.
#[must_use]
pub fn build(input: &Input<'_>) -> Plan {
    build_with(input, normalize_all(input.checked, input.settings))
}

/// The normalised form of every checked campaign, by name (in parallel: each depends on its
/// campaign alone).
#[must_use]
pub fn normalize_all(
    checked: &[Checked<'_>],
    settings: &Settings,
) -> BTreeMap<String, normalize::Normalized> {
    checked
        .par_iter()
        .map(|c| {
            (
                c.name().to_owned(),
                normalize::Normalized::of(&normalize::normalize(c, settings)),
            )
        })
        .collect()
}

/// [`build`] from the campaigns' normalised forms computed beforehand ([`normalize_all`] of
/// `input.checked`): past that point a plan reads of each campaign's generic document only its
/// `message`, so a caller may let the rest go first ([`crate::spec::Campaign::keep_only_message`]).
#[must_use]
pub fn build_with(input: &Input<'_>, normalized: BTreeMap<String, normalize::Normalized>) -> Plan {
    debug_assert!(
        normalized.len() == input.checked.len()
            && input
                .checked
                .iter()
                .all(|c| normalized.contains_key(c.name())),
        "the normalised campaigns are those of input.checked"
    );
    let settings = input.settings;
    let at = input.at;
    let hashes: BTreeMap<String, String> = normalized
        .par_iter()
        .map(|(name, campaign)| (name.clone(), campaign.hash()))
        .collect();
    let applied = settings
        .project_names()
        .find_map(|p| input.ledger.applied.get(p));
    let mut warnings = Vec::new();
    let mut held = Vec::new();
    let full_days = input.ledger.provider_full_days();
    let mut pools: HashMap<u64, MsgRandomPool> = HashMap::new();
    let (mut pending, mut missed, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    let mut ordered: Vec<&Checked<'_>> = input.checked.iter().collect();
    ordered.sort_by(|a, b| a.name().cmp(b.name()));
    let horizon_end = at + delta(input.horizon);
    // Each campaign's occurrences are classified in parallel; MsgRandoms are then picked in
    // order (campaign by name, then time), as every pick avoids the ones before it.
    let classify = classifier(|c| {
        let mut steps = Vec::new();
        let first_applied = applied
            .and_then(|a| c.names().find_map(|n| a.first_applied.get(n)))
            .copied();
        let due_from = at - delta(c.grace);
        // Everything scheduled before the last successful apply's own due window was settled by
        // it (sent, missed or skipped), so the walk back stops there, not at first_applied.
        let look_back = match (first_applied, applied) {
            (Some(first), Some(a)) => first.max(a.at - delta(c.grace)).min(due_from),
            _ => due_from,
        };
        let paused = if c.app.paused {
            Some("app paused")
        } else if c.campaign.spec.paused {
            Some("campaign paused")
        } else {
            None
        };
        let mut paused_upcoming = 0usize;
        for occ in c.schedule.occurrences(look_back, horizon_end) {
            // A renamed campaign (or project) owns its old names' occurrences: the first key
            // with a ledger record is the occurrence's key, else its own.
            let keys = c.keys(settings, occ.at);
            let (key, view) = keys
                .iter()
                .find_map(|k| input.ledger.occurrence(k).map(|v| (k.clone(), Some(v))))
                .unwrap_or_else(|| (c.key(&settings.project, occ.at), None));
            let state = view.map(|v| v.kind());
            if state
                .is_some_and(|s| settled(s) || matches!(s, StateKind::InDoubt | StateKind::Intent))
            {
                continue;
            }
            let deadline = occ.at + delta(c.grace);
            let upcoming = occ.at > at;
            let refused = view.and_then(Refused::of);
            if refused.is_some() && (at > deadline || paused.is_some()) {
                // Refused and now past grace (or paused): it stays `failed`, never missed.
                continue;
            }
            let today = at.with_timezone(&c.app.quota_timezone).date_naive();
            if state == Some(StateKind::Deferred)
                && full_days.contains(&(c.app.sdkappid, today))
                && at <= deadline
                && paused.is_none()
            {
                let day = today;
                steps.push(Step::Held(Held {
                    id: key.id(),
                    app: c.app.name.clone(),
                    campaign: c.name().to_owned(),
                    state: HeldState::Deferred,
                    error_code: Some(90047),
                    reason: format!(
                        "the provider answered 90047 (daily quota used up) on quota day {day}; retried on the next quota day, while within grace (until {})",
                        deadline.to_rfc3339_opts(SecondsFormat::Secs, true)
                    ),
                }));
                continue;
            }
            let recordable = at <= deadline || first_applied.is_some_and(|f| occ.at >= f);
            if let Some(why) = paused {
                // Paused at its time: skipped (recorded once by apply), never missed or sent.
                if upcoming {
                    paused_upcoming += 1;
                } else if recordable {
                    steps.push(Step::Skipped(Skipped {
                        id: key.id(),
                        app: c.app.name.clone(),
                        campaign: c.name().to_owned(),
                        why: why.to_owned(),
                        key,
                    }));
                }
                continue;
            }
            if upcoming || at <= deadline {
                let (id, base) = (key.id(), key.base_msg_random());
                steps.push(Step::Pending(Pending {
                    checked: c,
                    occ,
                    key,
                    choice: Unpicked { id, base },
                    upcoming,
                    refused,
                }));
            } else if recordable {
                steps.push(Step::Missed(Missed {
                    id: key.id(),
                    app: c.app.name.clone(),
                    campaign: c.name().to_owned(),
                    deadline,
                    key,
                }));
            }
        }
        let warning = paused.filter(|_| paused_upcoming > 0).map(|why| Warning {
            kind: "paused".into(),
            campaign: Some(c.name().to_owned()),
            message: format!("{} ({why}): {paused_upcoming} occurrences within the horizon will be skipped, not sent", c.name()),
        });
        (steps, warning)
    });
    let classified: Vec<(Vec<Step<'_>>, Option<Warning>)> =
        ordered.par_iter().map(|c| classify(c)).collect();
    // Sized exactly: tens of thousands of occurrences are pending in a plan of many campaigns.
    pending.reserve_exact(
        classified
            .iter()
            .flat_map(|(steps, _)| steps)
            .filter(|step| matches!(step, Step::Pending(_)))
            .count(),
    );
    for (steps, warning) in classified {
        for step in steps {
            match step {
                Step::Held(h) => held.push(h),
                Step::Skipped(s) => skipped.push(s),
                Step::Missed(m) => missed.push(m),
                Step::Pending(p) => {
                    let sdkappid = p.checked.app.sdkappid;
                    let pool = pools.entry(sdkappid).or_insert_with(|| {
                        MsgRandomPool::new(input.ledger.msg_randoms_of(sdkappid), at)
                    });
                    pending.push(p.pick(pool));
                }
            }
        }
        warnings.extend(warning);
    }
    // The picks are made: their indexes (every id of the app, twice) are not needed any more.
    drop(pools);
    let renderer = Renderer::new();
    let once = render_once(&pending, &renderer);
    // Each campaign's content hash once, shared by its sends.
    let shared_hashes: HashMap<&str, std::sync::Arc<str>> = hashes
        .iter()
        .map(|(name, hash)| (name.as_str(), std::sync::Arc::from(hash.as_str())))
        .collect();
    // Pending occurrences come campaign by campaign: each job of the thread pool keeps the
    // templates of the campaign it rendered last, so a campaign's templates are compiled once
    // for its run of occurrences; the results land in one list of the exact size (an indexed
    // collect), not in per-job lists joined afterwards.
    let mut rendered: Vec<(bool, Rendered)> = pending
        .into_par_iter()
        .map_init(
            || None::<(&str, crate::render::Prepared<'_, '_>)>,
            |last, mut p| {
                let c = p.checked;
                let prepared = if once.contains_key(c.name()) {
                    None
                } else {
                    if last.as_ref().is_none_or(|(name, _)| *name != c.name()) {
                        let prepared = renderer
                            .prepare_checked(c.campaign.message_source(), &c.campaign.spec.vars);
                        *last = Some((c.name(), prepared));
                    }
                    last.as_ref().map(|(_, prepared)| prepared)
                };
                let refused = p.refused.take();
                let upcoming = p.upcoming;
                let r = match render_send(input, prepared, &shared_hashes, &once, p) {
                    Ok(send) => retry_of(send, refused),
                    Err(w) => Rendered::Unsendable(w),
                };
                (upcoming, r)
            },
        )
        .collect();
    // A plan of many campaigns keeps tens of thousands of upcoming sends: the few other results
    // leave the list first, then the upcoming sends are collected in the list's own buffer
    // (an in-place collect), never copied into a second list of the same size.
    let mut due = Vec::new();
    for (_, r) in rendered.extract_if(.., |(is_upcoming, r)| {
        !(*is_upcoming && matches!(r, Rendered::Ready(_)))
    }) {
        match r {
            Rendered::Ready(send) => due.push(send),
            Rendered::Held(h) => held.push(h),
            Rendered::Unsendable(w) => warnings.push(w),
        }
    }
    let mut upcoming: Vec<PlannedSend> = rendered
        .into_iter()
        .filter_map(|(_, r)| match r {
            Rendered::Ready(send) => Some(send),
            Rendered::Held(_) | Rendered::Unsendable(_) => None,
        })
        .collect();
    held.sort_by(|a, b| a.id.cmp(&b.id));
    let by_schedule = |a: &PlannedSend, b: &PlannedSend| {
        (a.key.scheduled, &a.campaign).cmp(&(b.key.scheduled, &b.campaign))
    };
    // No two sends share an instant and a campaign (one occurrence each), so an unstable sort
    // gives the one order, without a stable sort's buffer of half the list.
    due.sort_unstable_by(by_schedule);
    upcoming.sort_unstable_by(by_schedule);
    // An app under `crier stop`: its due pushes are held, not skipped.
    due.retain(|send| {
        let Some(stop) = input.ledger.stop_of(send.key.sdkappid) else {
            return true;
        };
        held.push(stopped(send, stop));
        false
    });
    held.sort_by(|a, b| a.id.cmp(&b.id));
    let quota = forecast_quota(input, &mut due, &mut upcoming);
    let changes = changes::diff(input, &normalized, &hashes, applied, &due, &upcoming);
    warnings.extend(warnings::collect(
        input,
        &normalized,
        &changes,
        &due,
        &upcoming,
    ));
    let due_before = due.len();
    let policy = policy::judge(input, &warnings, &mut due, &upcoming, &mut held);
    held.sort_by(|a, b| a.id.cmp(&b.id));
    // Sends that policy holds take no quota: forecast again without them.
    let quota = if due.len() == due_before {
        quota
    } else {
        for s in due.iter_mut().chain(upcoming.iter_mut()) {
            s.over_quota = false;
        }
        forecast_quota(input, &mut due, &mut upcoming)
    };
    Plan {
        format_version: model::FORMAT_VERSION,
        project: settings.project.clone(),
        at,
        horizon_seconds: input.horizon.as_secs(),
        ledger_seq: input.ledger.seq,
        campaign_hashes: hashes,
        campaigns: normalized,
        due,
        missed,
        skipped,
        in_doubt: in_doubt_entries(input),
        held,
        upcoming,
        quota,
        changes,
        warnings,
        policy,
        base: None,
        base_upcoming: Vec::new(),
        base_quota: Vec::new(),
        ledger_unknown: false,
    }
}

/// `plan --base`: the change view of `head` against `base` (read from another revision), the
/// upcoming sends of both, and the quota days of both (before → after). Both inputs should carry
/// the same ledger snapshot (the shared ledger when readable, else empty). The base's normalised campaigns stand in for the applied snapshot;
/// `head.ledger` (the shared ledger when readable, else empty) gives what was already sent and
/// the quota used; nothing is due. `ledger_read` false: the caller could not read the shared
/// ledger, so the plan says that quota used and WILL SEND AGAIN are not known.
#[must_use]
pub fn compare(head: &Input<'_>, base: &Input<'_>, base_name: &str, ledger_read: bool) -> Plan {
    let base_plan = build(base);
    // The shared ledger as it is (when the caller could read it): what was already sent is not
    // upcoming, the quota counts what was used, and WILL SEND AGAIN sees the deliveries.
    let mut ledger = head.ledger.clone();
    let first_applied = base_plan
        .campaigns
        .keys()
        .map(|n| (n.clone(), head.at))
        .collect();
    let campaigns = base_plan
        .campaigns
        .iter()
        .map(|(n, v)| {
            (
                n.clone(),
                crate::ledger::record::CampaignSnapshot {
                    hash: base_plan.campaign_hashes[n].clone(),
                    campaign: v.value(),
                },
            )
        })
        .collect();
    ledger.applied.insert(
        head.settings.project.clone(),
        crate::ledger::fold::AppliedSnapshot {
            seq: 0,
            at: head.at,
            snapshot: crate::ledger::record::SnapshotRecord {
                project: base.settings.project.clone(),
                campaigns,
            },
            first_applied,
        },
    );
    let mut plan = build(&Input {
        ledger: &ledger,
        ..*head
    });
    if base.settings.project != head.settings.project
        && !head
            .settings
            .previous_projects
            .contains(&base.settings.project)
    {
        let message = format!(
            "WILL SEND AGAIN: project changed from `{}` to `{}`: every occurrence gets a new key, so anything already sent is sent again; add `previous_projects: [{}]` to crier.yaml to keep its ledger history",
            base.settings.project, head.settings.project, base.settings.project
        );
        plan.changes.project = Some(message.clone());
        plan.warnings.push(Warning {
            kind: "project-changed".into(),
            campaign: None,
            message,
        });
    }
    // Only the change view and the upcoming sends: what is due depends on a ledger.
    plan.upcoming.splice(0..0, plan.due.drain(..));
    plan.missed.clear();
    plan.skipped.clear();
    plan.in_doubt.clear();
    plan.held.clear();
    plan.ledger_seq = head.ledger.seq;
    plan.base = Some(base_name.to_owned());
    plan.base_upcoming = base_plan
        .due
        .into_iter()
        .chain(base_plan.upcoming)
        .collect();
    plan.base_quota = base_plan.quota;
    plan.ledger_unknown = !ledger_read;
    plan
}

#[cfg(test)]
mod tests;

/// A due push of a stopped app, held with the stop's who, when and why.
fn stopped(
    send: &PlannedSend,
    stop: &crate::ledger::fold::Stamped<crate::ledger::record::StopRecord>,
) -> Held {
    Held {
        id: send.id.clone(),
        app: send.app.clone(),
        campaign: send.campaign.clone(),
        state: HeldState::Stopped,
        error_code: None,
        reason: format!(
            "app {} is stopped ({}); it stays due and goes out after `crier resume {}` while within grace (until {})",
            send.app,
            stop.who_when_why(),
            send.app,
            send.deadline.to_rfc3339_opts(SecondsFormat::Secs, true)
        ),
    }
}
