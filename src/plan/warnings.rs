//! Warnings a reviewer needs (issue: audience widened, serialised sends, DST, past one-offs,
//! fan-out time, bodies near the limit, short grace, sub-second intervals, sends again).

use super::model::{Changes, PlannedSend, Warning};
use super::{Input, delta};
use chrono::DateTime;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Above this share of the 10,240-byte limit a body gets a warning.
const NEAR_LIMIT_BYTES: usize = crate::render::MAX_BODY_BYTES * 9 / 10;
/// Delivery rate with `OnlineOnlyFlag` 0 (reference §3.1).
const FAN_OUT_USERS_PER_SECOND: u64 = 200;
/// Interval conflicts listed one by one per app; the rest are summed up.
const SHOWN_CONFLICTS: usize = 5;
/// Campaigns named in the short-grace note; the rest are counted.
const SHOWN_SHORT_GRACE: usize = 10;
/// Graces below this get the "CI schedulers run late" note.
const LATE_CI: Duration = Duration::from_secs(3600);

fn warn(kind: &str, campaign: Option<&str>, message: String) -> Warning {
    Warning {
        kind: kind.to_owned(),
        campaign: campaign.map(str::to_owned),
        message,
    }
}

/// The first `max` names, then "and N more", so that a warning stays one readable line in a
/// repository of hundreds of campaigns.
fn shown(names: &[&str], max: usize) -> String {
    if names.len() > max {
        format!("{} and {} more", names[..max].join(", "), names.len() - max)
    } else {
        names.join(", ")
    }
}

fn human(d: Duration) -> String {
    crate::duration::Human(Duration::from_secs(d.as_secs().max(1))).to_string()
}

pub(super) fn collect(
    input: &Input<'_>,
    normalized: &BTreeMap<String, super::normalize::Normalized>,
    changes: &Changes,
    due: &[PlannedSend],
    upcoming: &[PlannedSend],
) -> Vec<Warning> {
    let mut out = Vec::new();
    let sends: Vec<&PlannedSend> = due.iter().chain(upcoming).collect();
    // The one audience rule (`audience::compare`, in the change view): an edit that can reach
    // users the old audience could not, widened or replaced.
    for c in &changes.updated {
        if let Some(a) = &c.audience_change
            && a.direction.reaches_more()
        {
            out.push(warn(
                "audience-widened",
                Some(&c.campaign),
                format!(
                    "{}: audience {}: {}",
                    c.campaign,
                    a.direction.as_str(),
                    a.why.join("; ")
                ),
            ));
        }
    }
    let checked_by_name: std::collections::HashMap<&str, _> =
        input.checked.iter().map(|k| (k.name(), k)).collect();
    for c in changes.created.iter().chain(&changes.updated) {
        if let Some(again) = &c.sends_again {
            out.push(warn(
                "will-send-again",
                Some(&c.campaign),
                format!("{}: {again}", c.campaign),
            ));
        }
        // A one-off within grace is simply due; only one that can no longer be sent (past its
        // grace, not sent yet) deserves a word.
        if c.no_effect.is_none()
            && let Some(new) = normalized.get(&c.campaign)
            && let facts = new.facts()
            && facts.is_once()
            && let Some(first) = facts.schedule().and_then(|s| s.first())
            && let Some(checked) = checked_by_name.get(c.campaign.as_str())
            && first.at + delta(checked.grace) < input.at
        {
            out.push(warn(
                "at-in-past",
                Some(&c.campaign),
                format!(
                    "{}: the one-off `at` ({}) is past its grace ({}) at the plan time: it will not be sent",
                    c.campaign,
                    first.local.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
                    crate::duration::Human(checked.grace)
                ),
            ));
        }
    }
    // Serialised sends: per app, each push starts at least min_interval after the previous one.
    // Said once per app, with the campaigns concerned and the longest wait.
    let mut last_start: BTreeMap<&str, DateTime<chrono::Utc>> = BTreeMap::new();
    let mut conflicts: BTreeMap<&str, (usize, Duration, BTreeSet<&str>)> = BTreeMap::new();
    // Per campaign: DST notes and near-limit bodies, each said once with a count.
    let mut dst: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut near: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for s in &sends {
        let Some(app) = input.settings.apps.get(&s.app) else {
            continue;
        };
        let mut start = s.key.scheduled;
        if let Some(prev) = last_start.get(s.app.as_str()) {
            let earliest = *prev + delta(app.min_interval);
            if earliest > start {
                let wait = (earliest - start).to_std().unwrap_or_default();
                let entry = conflicts.entry(s.app.as_str()).or_default();
                entry.0 += 1;
                entry.1 = entry.1.max(wait);
                entry.2.insert(s.campaign.as_str());
                start = earliest;
            }
        }
        last_start.insert(s.app.as_str(), start);
        if let Some(note) = &s.dst {
            *dst.entry((s.campaign.as_str(), note.as_str())).or_default() += 1;
        }
        if s.body.len() > NEAR_LIMIT_BYTES {
            let e = near.entry(s.campaign.as_str()).or_default();
            e.0 += 1;
            e.1 = e.1.max(s.body.len());
        }
    }
    for ((campaign, note), n) in dst {
        let times = if n == 1 {
            String::new()
        } else {
            format!(" ({n} occurrences)")
        };
        out.push(warn(
            "dst",
            Some(campaign),
            format!("{campaign}: {note}{times}"),
        ));
    }
    for (campaign, (n, largest)) in near {
        out.push(warn(
            "body-near-limit",
            Some(campaign),
            format!(
                "{campaign}: {} up to {largest} bytes, near the API's {}-byte limit",
                if n == 1 {
                    "the body is".to_owned()
                } else {
                    format!("{n} bodies are")
                },
                crate::render::MAX_BODY_BYTES
            ),
        ));
    }
    for (app_name, (n, longest, campaigns)) in conflicts {
        let interval = input
            .settings
            .apps
            .get(app_name)
            .map(|a| crate::duration::Human(a.min_interval).to_string())
            .unwrap_or_default();
        let names: Vec<&str> = campaigns.iter().copied().collect();
        let shown = shown(&names, SHOWN_CONFLICTS);
        out.push(warn(
            "interval-conflict",
            (campaigns.len() == 1).then(|| names[0]),
            format!(
                "app {app_name}: {n} {} due within min_interval ({interval}) of the one before and {} serialised, starting up to {} late ({shown})",
                if n == 1 { "send is" } else { "sends are" },
                if n == 1 { "is" } else { "are" },
                crate::duration::Human(longest)
            ),
        ));
    }
    let with_sends: BTreeSet<&str> = sends.iter().map(|s| s.campaign.as_str()).collect();
    let mut fan_out_done = BTreeSet::new();
    for c in input.checked {
        if !with_sends.contains(c.name()) {
            continue;
        }
        if let Some(reach) = c.app.reach_estimate
            && !c.campaign.spec.message.online_only
            && matches!(
                c.campaign.spec.audience,
                crate::spec::campaign::Audience::All(_)
            )
            && fan_out_done.insert(c.name())
        {
            let secs = reach / FAN_OUT_USERS_PER_SECOND;
            out.push(warn(
                "fan-out",
                Some(c.name()),
                format!(
                    "{}: online_only is false, so delivery runs at {FAN_OUT_USERS_PER_SECOND} users/s: about {} for app {}'s {reach} users",
                    c.name(),
                    human(Duration::from_secs(secs)),
                    c.app.name
                ),
            ));
        }
    }
    let short: Vec<&str> = input
        .checked
        .iter()
        .filter(|c| c.grace < LATE_CI && with_sends.contains(c.name()))
        .map(Checked::name)
        .collect();
    if !short.is_empty() {
        out.push(warn(
            "short-grace",
            None,
            format!(
                "grace under 1h for {}: CI schedulers often start late (GitHub Actions cron can lag by much more); an occurrence not sent within its grace is missed, never sent",
                shown(&short, SHOWN_SHORT_GRACE)
            ),
        ));
    }
    for app in input.settings.apps.values() {
        if app.min_interval < Duration::from_secs(1) && sends.iter().any(|s| s.app == app.name) {
            out.push(warn(
                "short-interval",
                None,
                format!(
                    "app {}: min_interval {} is under 1s; the provider refuses pushes 1s apart or closer (90024): use this only with the emulator",
                    app.name,
                    crate::duration::Human(app.min_interval)
                ),
            ));
        }
    }
    out
}

use crate::validate::Checked;
