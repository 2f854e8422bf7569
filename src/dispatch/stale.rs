//! When `apply PLAN_FILE` must refuse a plan file (§4 "Plan files"). Pure.
//!
//! A plan file is stale when
//! - a ledger record newer than the plan's `ledger_seq` touches one of its occurrences (due,
//!   missed, skipped or in doubt);
//! - after newer records of other occurrences, a quota day of its sends can no longer hold
//!   them (pushes recorded that day, a 90047 counting as a full day, + the plan's >
//!   `daily_quota`; counted as the quota forecast counts them),
//!   or pacing `min_interval` after the latest recorded push would start one of its sends past
//!   its grace (other pushes on the same day alone do not make it stale);
//! - a campaign it sends, misses or skips changed or was removed (other campaigns may change);
//! - one of its sends is now past grace.
//!
//! It is refused outright when it is not a plan of this format, of this project, or when a
//! request body does not match its recorded hash.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, NaiveDate, Utc};

use crate::ledger::LedgerSnapshot;
use crate::plan::Plan;
use crate::plan::model::FORMAT_VERSION;
use crate::plan::normalize::sha256;
use crate::settings::Settings;

/// Every reason `file` may not be executed now; empty when it may.
///
/// `current_hashes` are the hashes of the campaigns as they are now (a fresh plan's
/// `campaign_hashes`), `ledger` the ledger as read under the writer lock.
#[must_use]
pub fn reasons(
    file: &Plan,
    current_hashes: &std::collections::BTreeMap<String, String>,
    ledger: &LedgerSnapshot,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut out = Vec::new();
    if file.format_version != FORMAT_VERSION {
        out.push(format!(
            "the plan file has format_version {}, this crier reads {FORMAT_VERSION}",
            file.format_version
        ));
        return out;
    }
    if file.project != settings.project {
        out.push(format!(
            "the plan file is for project `{}`, crier.yaml says `{}`",
            file.project, settings.project
        ));
        return out;
    }
    for send in &file.due {
        if sha256(send.body.as_bytes()) != send.body_hash {
            out.push(format!(
                "{}: the request body does not match its body_hash (the file was edited)",
                send.id
            ));
        }
    }
    ledger_reasons(file, ledger, settings, now, &mut out);
    campaign_reasons(file, current_hashes, &mut out);
    for send in file.due.iter().filter(|s| now > s.deadline) {
        out.push(format!(
            "{}: now past grace (deadline {})",
            send.id,
            send.deadline
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }
    out
}

fn ledger_reasons(
    file: &Plan,
    ledger: &LedgerSnapshot,
    settings: &Settings,
    now: DateTime<Utc>,
    out: &mut Vec<String>,
) {
    let ids: HashSet<&str> = file
        .due
        .iter()
        .map(|s| s.id.as_str())
        .chain(file.missed.iter().map(|m| m.id.as_str()))
        .chain(file.skipped.iter().map(|s| s.id.as_str()))
        .chain(file.in_doubt.iter().map(|d| d.id.as_str()))
        .collect();
    let mut newer_push = false;
    for occ in ledger.touched_since(file.ledger_seq) {
        if ids.contains(occ.id.as_str()) {
            out.push(format!(
                "{}: the ledger recorded `{}` for it after the plan was made (seq {} > {})",
                occ.id,
                occ.kind(),
                occ.last_seq,
                file.ledger_seq
            ));
        }
        newer_push |= occ.history.iter().any(|h| h.seq > file.ledger_seq);
    }
    if newer_push {
        capacity_reasons(file, ledger, settings, now, out);
    }
}

/// After newer pushes of other occurrences: does each quota day still hold the plan's sends,
/// and can pacing after the latest push still start each send within its grace?
fn capacity_reasons(
    file: &Plan,
    ledger: &LedgerSnapshot,
    settings: &Settings,
    now: DateTime<Utc>,
    out: &mut Vec<String>,
) {
    let mut planned: BTreeMap<(&str, NaiveDate), u32> = BTreeMap::new();
    for s in file.due.iter().filter(|s| !s.over_quota) {
        *planned.entry((s.app.as_str(), s.quota_day)).or_default() += 1;
    }
    for ((app_name, day), n) in planned {
        let Some(app) = settings.apps.get(app_name) else {
            continue;
        };
        let used = ledger
            .used_per_day(app.sdkappid, app.quota_timezone, app.daily_quota)
            .get(&day)
            .copied()
            .unwrap_or(0);
        if used.saturating_add(n) > app.daily_quota {
            out.push(format!(
                "quota day {day} of app `{app_name}`: {used} pushes are recorded now, so the plan's {n} no longer fit the daily quota of {}",
                app.daily_quota
            ));
        }
    }
    let mut by_app: BTreeMap<&str, Vec<&crate::plan::PlannedSend>> = BTreeMap::new();
    for s in &file.due {
        by_app.entry(s.app.as_str()).or_default().push(s);
    }
    for (app_name, sends) in by_app {
        let Some(app) = settings.apps.get(app_name) else {
            continue;
        };
        let Some(last) = ledger.accepted_pushes(app.sdkappid).map(|(_, at)| at).max() else {
            continue;
        };
        let step = crate::duration::to_delta(app.min_interval);
        let mut start = now.max(last + step);
        for s in sends {
            if start > s.deadline {
                out.push(format!(
                    "{}: paced {} after the push recorded at {}, it could not start before its deadline {}",
                    s.id,
                    crate::duration::Human(app.min_interval),
                    last.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    s.deadline.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ));
                break;
            }
            start += step;
        }
    }
}

/// Only campaigns the plan acts on (sends, misses or skips) can make it stale: a campaign it
/// does not touch may change, appear or go without changing what the plan does.
fn campaign_reasons(
    file: &Plan,
    current: &std::collections::BTreeMap<String, String>,
    out: &mut Vec<String>,
) {
    let acted: BTreeSet<&str> = file
        .due
        .iter()
        .map(|s| s.campaign.as_str())
        .chain(file.missed.iter().map(|m| m.campaign.as_str()))
        .chain(file.skipped.iter().map(|s| s.campaign.as_str()))
        .collect();
    for (name, hash) in file
        .campaign_hashes
        .iter()
        .filter(|(n, _)| acted.contains(n.as_str()))
    {
        match current.get(name) {
            None => out.push(format!(
                "campaign `{name}` was removed since the plan was made"
            )),
            Some(now) if now != hash => {
                out.push(format!("campaign `{name}` changed since the plan was made"));
            }
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests;
