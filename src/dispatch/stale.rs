//! When `apply PLAN_FILE` must refuse a plan file (§4 "Plan files"). Pure.
//!
//! A plan file is stale when
//! - a ledger record newer than the plan's `ledger_seq` touches one of its occurrences (due,
//!   missed, skipped or in doubt), or the quota day of one of its sends (a send, an intent or
//!   an in-doubt outcome of the same app recorded on that day);
//! - a campaign changed: its current normalised hash differs from the plan's, or a campaign was
//!   added or removed;
//! - one of its sends is now past grace.
//!
//! It is refused outright when it is not a plan of this format, of this project, or when a
//! request body does not match its recorded hash.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, NaiveDate, Utc};

use crate::ledger::LedgerSnapshot;
use crate::ledger::record::StateKind;
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
    ledger_reasons(file, ledger, settings, &mut out);
    campaign_reasons(file, current_hashes, &mut out);
    for send in file.due.iter().filter(|s| now > s.deadline) {
        out.push(format!(
            "{}: now past grace (deadline {})",
            send.id,
            send.deadline.to_rfc3339()
        ));
    }
    out
}

fn ledger_reasons(
    file: &Plan,
    ledger: &LedgerSnapshot,
    settings: &Settings,
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
    let days: BTreeSet<(&str, NaiveDate)> = file
        .due
        .iter()
        .map(|s| (s.app.as_str(), s.quota_day))
        .collect();
    for occ in ledger.touched_since(file.ledger_seq) {
        if ids.contains(occ.id.as_str()) {
            out.push(format!(
                "{}: the ledger recorded `{}` for it after the plan was made (seq {} > {})",
                occ.id,
                occ.kind(),
                occ.last_seq,
                file.ledger_seq
            ));
            continue;
        }
        let Some(tz) = settings.apps.get(&occ.app).map(|a| a.quota_timezone) else {
            continue;
        };
        let hit = occ
            .history
            .iter()
            .filter(|h| h.seq > file.ledger_seq)
            .filter(|h| {
                matches!(
                    h.value.kind(),
                    StateKind::Intent
                        | StateKind::Sent
                        | StateKind::InDoubt
                        | StateKind::ResolvedSent
                )
            })
            .map(|h| h.at.with_timezone(&tz).date_naive())
            .find(|day| days.contains(&(occ.app.as_str(), *day)));
        if let Some(day) = hit {
            out.push(format!(
                "quota day {day} of app `{}`: the ledger recorded a push ({}) after the plan was made",
                occ.app, occ.id
            ));
        }
    }
}

fn campaign_reasons(
    file: &Plan,
    current: &std::collections::BTreeMap<String, String>,
    out: &mut Vec<String>,
) {
    for (name, hash) in &file.campaign_hashes {
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
    for name in current
        .keys()
        .filter(|n| !file.campaign_hashes.contains_key(*n))
    {
        out.push(format!(
            "campaign `{name}` was added since the plan was made"
        ));
    }
}

#[cfg(test)]
mod tests;
