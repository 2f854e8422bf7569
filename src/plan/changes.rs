//! The change view: current normalised campaigns against the last applied snapshot.

use super::model::{Change, Changes, FieldChange, PlannedSend};
use super::normalize::{Facts, Normalized, campaign_from_snapshot, leaves};
use super::review;
use super::{Input, delta};
use crate::ledger::fold::{AppliedSnapshot, Compacted, OccurrenceView};
use crate::occurrence::OccurrenceKey;
use crate::render::{Context, Renderer};
use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

fn without(v: &Value, key: &str) -> Value {
    let mut v = v.clone();
    if let Value::Object(m) = &mut v {
        m.remove(key);
    }
    v
}

/// Field-level differences between two values, by dotted path.
fn field_diff(old: &Value, new: &Value) -> Vec<FieldChange> {
    let old: BTreeMap<String, Value> = leaves(old).into_iter().collect();
    let new: BTreeMap<String, Value> = leaves(new).into_iter().collect();
    let paths: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    paths
        .into_iter()
        .filter(|p| old.get(*p) != new.get(*p))
        .map(|p| FieldChange {
            path: p.clone(),
            old: old.get(p).cloned(),
            new: new.get(p).cloned(),
        })
        .collect()
}

/// The request body of a normalised campaign's next occurrence at or after `at`.
fn next_request(
    input: &Input<'_>,
    renderer: &Renderer,
    v: &Value,
    app: &str,
    at: DateTime<Utc>,
) -> Option<Value> {
    let campaign = campaign_from_snapshot(v).ok()?;
    let facts = Facts::of(v);
    let schedule = facts.schedule()?;
    // A one-off whose time has passed still shows its request.
    let occ = schedule
        .first_at_or_after(at)
        .or_else(|| schedule.first())?;
    let key = OccurrenceKey {
        project: input.settings.project.clone(),
        sdkappid: facts.sdkappid,
        campaign: campaign.spec.name.0.clone(),
        scheduled: occ.at,
    };
    let ctx = Context {
        campaign: key.campaign.clone(),
        app: app.to_owned(),
        local: occ.local,
    };
    // Its names were checked when it was validated (an unknown one fails the render anyway).
    crate::render::render_checked(renderer, &campaign, &ctx, key.base_msg_random())
        .ok()
        .map(|r| r.request)
}

/// Delivered occurrences by campaign name (any project or sdkappid), indexed once. Another
/// project's occurrence only counts as "already sent" when it was the same push (see
/// [`same_push`]): two repositories sharing a ledger may both have a `welcome` campaign.
fn delivered_by_campaign<'l>(input: &'l Input<'_>) -> HashMap<&'l str, Vec<&'l OccurrenceView>> {
    let mut map: HashMap<&str, Vec<&OccurrenceView>> = HashMap::new();
    for o in input
        .ledger
        .occurrences
        .values()
        .filter(|o| o.kind().is_delivered())
    {
        map.entry(o.key.campaign.as_str()).or_default().push(o);
    }
    map
}

/// Whether the sends of campaign `name` repeat an occurrence already delivered under another key
/// (a renamed campaign, another sdkappid or project, a moved one-off).
fn sends_again(
    delivered: &HashMap<&str, Vec<&OccurrenceView>>,
    compacted: &Compacted,
    projects: &[&str],
    sources: &[&str],
    old: Option<&Facts>,
    new: &Facts,
    sends: &[&PlannedSend],
) -> Option<String> {
    for source in sources {
        let done: &[&OccurrenceView] = delivered.get(source).map_or(&[], Vec::as_slice);
        for s in sends {
            if let Some(prev) = done.iter().find(|o| {
                o.key.scheduled == s.key.scheduled
                    && o.key != s.key
                    && (projects.contains(&o.key.project.as_str()) || same_push(o, s))
            }) {
                return Some(format!(
                    "WILL SEND AGAIN: {} was already sent as {}; this change makes it a new occurrence",
                    s.id, prev.id
                ));
            }
        }
        // A one-off: moving `at` (or renaming it) re-sends a message that already went out.
        if new.is_once() && old.is_none_or(Facts::is_once) {
            let new_at = new.schedule().and_then(|s| s.first()).map(|o| o.at);
            // Sends settled long ago count too: a checkpoint keeps the last ones of each name.
            let left_out = compacted.delivered.get(*source).into_iter().flatten();
            if let Some(prev) = done
                .iter()
                .map(|o| &o.key)
                .chain(left_out.map(|d| &d.key))
                .find(|k| {
                    projects.contains(&k.project.as_str())
                        && (Some(k.scheduled) != new_at || k.sdkappid != new.sdkappid)
                })
            {
                return Some(format!(
                    "WILL SEND AGAIN: {source} was already sent at {}; the changed campaign is a new occurrence{}",
                    new.local(prev.scheduled),
                    new_at
                        .map(|a| format!(" at {}", new.local(a)))
                        .unwrap_or_default()
                ));
            }
        }
    }
    None
}

/// Whether a delivered occurrence of another project was this very push: the same request
/// (audience and message) for the same app at the same instant, MsgRandom aside (a project
/// renamed without `previous_projects`).
fn same_push(done: &OccurrenceView, send: &PlannedSend) -> bool {
    let strip = |mut v: Value| {
        if let Value::Object(m) = &mut v {
            m.remove("MsgRandom");
        }
        v
    };
    let Some(recorded) = done.request() else {
        return false;
    };
    let Ok(planned) = serde_json::from_str::<Value>(&send.body) else {
        return false;
    };
    done.key.sdkappid == send.key.sdkappid && strip(recorded.clone()) == strip(planned)
}

/// A sent one-off whose key the change keeps: the edit has no effect.
fn already_sent_once(input: &Input<'_>, name: &str, new: &Facts) -> Option<String> {
    if !new.is_once() {
        return None;
    }
    let at = new.schedule()?.first()?.at;
    let names = std::iter::once(name).chain(new.previous_names.iter().map(String::as_str));
    let keys: Vec<OccurrenceKey> = input
        .settings
        .project_names()
        .flat_map(|project| {
            names.clone().map(move |campaign| OccurrenceKey {
                project: project.to_owned(),
                sdkappid: new.sdkappid,
                campaign: campaign.to_owned(),
                scheduled: at,
            })
        })
        .collect();
    keys.iter()
        .find_map(|k| input.ledger.occurrence(k))
        .filter(|o| o.kind().is_delivered())
        .map(|o| (o.kind(), o.task_id.as_deref()))
        .or_else(|| {
            keys.iter()
                .find_map(|k| input.ledger.compacted_delivered(k))
                .map(|d| (d.state, d.task_id.as_deref()))
        })
        .map(|(kind, task_id)| {
            format!(
                "no effect: already sent{} ({})",
                if kind == crate::ledger::StateKind::Recalled {
                    " and recalled"
                } else {
                    ""
                },
                task_id.map_or_else(
                    || "resolved by an operator".to_owned(),
                    |t| format!("TaskId {t}")
                )
            )
        })
}

/// What one current campaign is to the applied snapshot.
enum Outcome {
    Created(Change),
    Updated(Change),
    Unchanged,
}

pub(super) fn diff(
    input: &Input<'_>,
    normalized: &BTreeMap<String, Normalized>,
    hashes: &BTreeMap<String, String>,
    applied: Option<&AppliedSnapshot>,
    due: &[PlannedSend],
    upcoming: &[PlannedSend],
) -> Changes {
    let mut by_campaign: HashMap<&str, Vec<&PlannedSend>> = HashMap::new();
    for s in due.iter().chain(upcoming) {
        by_campaign.entry(s.campaign.as_str()).or_default().push(s);
    }
    let sends_of = |name: &str| by_campaign.get(name).map_or(&[][..], Vec::as_slice);
    let delivered = delivered_by_campaign(input);
    let projects: Vec<&str> = input.settings.project_names().collect();
    let renderer = Renderer::new();
    let empty = indexmap::IndexMap::new();
    let old = applied.map_or(&empty, |a| &a.snapshot.campaigns);
    let mut changes = Changes {
        first_apply: applied.is_none(),
        ..Changes::default()
    };
    // Typed facts, read once per campaign of each side.
    // (In parallel: each campaign's facts, and below its change, depend on nothing else.)
    let current: Vec<(&String, &Normalized)> = normalized.iter().collect();
    // Beside `current`, by index: a list of 10,000 facts instead of a map of them.
    let facts: Vec<Facts> = current.par_iter().map(|(_, v)| v.facts()).collect();
    let previous: Vec<_> = old.iter().collect();
    let old_facts: HashMap<&str, Facts> = previous
        .par_iter()
        .map(|(n, v)| (n.as_str(), Facts::of(&v.campaign)))
        .collect();
    // Names a current campaign declares in `previous_names` were moved, not deleted.
    let moved: HashMap<&str, &str> = current
        .iter()
        .zip(&facts)
        .flat_map(|((name, _), f)| {
            f.previous_names
                .iter()
                .map(move |p| (p.as_str(), name.as_str()))
        })
        .collect();
    let deleted: Vec<&String> = old
        .keys()
        .filter(|n| !normalized.contains_key(*n) && !moved.contains_key(n.as_str()))
        .collect();
    let one = |name: &String, new: &Normalized, new_facts: &Facts| -> Outcome {
        let app = new_facts.app.as_str();
        let declared: Vec<&str> = new_facts
            .previous_names
            .iter()
            .map(String::as_str)
            .collect();
        let renamed = declared
            .iter()
            .find_map(|p| old.get(*p).map(|prev| (*p, prev)));
        match (old.get(name), renamed) {
            (None, None) => {
                let new = &new.value();
                // An undeclared rename: a deleted campaign with the same content. Its own
                // previous names hold its history too.
                let identity = |v: &Value| without(&without(v, "name"), "previous_names");
                let renamed_from: Vec<&str> = deleted
                    .iter()
                    .filter(|d| identity(&old[d.as_str()].campaign) == identity(new))
                    .map(|d| d.as_str())
                    .collect();
                let mut sources = renamed_from.clone();
                for r in &renamed_from {
                    sources.extend(
                        old_facts
                            .get(r)
                            .into_iter()
                            .flat_map(|f| f.previous_names.iter().map(String::as_str)),
                    );
                }
                sources.push(name);
                let after = next_request(input, &renderer, new, app, input.at);
                Outcome::Created(Change {
                    campaign: name.clone(),
                    fields: renamed_from
                        .iter()
                        .map(|f| FieldChange {
                            path: "name".into(),
                            old: Some(Value::from(*f)),
                            new: Some(Value::from(name.as_str())),
                        })
                        .collect(),
                    request: Vec::new(),
                    no_effect: None,
                    sends_again: sends_again(
                        &delivered,
                        &input.ledger.compacted,
                        &projects,
                        &sources,
                        None,
                        new_facts,
                        sends_of(name),
                    ),
                    dropped: Vec::new(),
                    schedule: review::schedule_view(None, new_facts, input.at).map(Box::new),
                    message: review::message_view(None, after.as_ref()).map(Box::new),
                    audience_change: None,
                    exceptions_added: review::exceptions_added(None, new_facts),
                })
            }
            (Some(prev), _) if prev.hash == hashes[name] => Outcome::Unchanged,
            (Some(prev), _) | (None, Some((_, prev))) => {
                let new = &new.value();
                // The applied campaign this one continues: itself, or the one it was renamed from.
                let prev_facts = old_facts
                    .get(name.as_str())
                    .or_else(|| renamed.and_then(|(p, _)| old_facts.get(p)));
                let mut sources: Vec<&str> = vec![name.as_str()];
                sources.extend(&declared);
                let mut fields = field_diff(&prev.campaign, new);
                let before = next_request(input, &renderer, &prev.campaign, app, input.at);
                let after = next_request(input, &renderer, new, app, input.at);
                let request = match (&before, &after) {
                    (Some(o), Some(n)) => field_diff(o, n),
                    _ => Vec::new(),
                };
                let sends_again = sends_again(
                    &delivered,
                    &input.ledger.compacted,
                    &projects,
                    &sources,
                    prev_facts,
                    new_facts,
                    sends_of(name),
                );
                if fields.is_empty() && request.is_empty() {
                    // Only the order of keys inside an `ext` mapping changed: the sent string changes.
                    fields.push(FieldChange {
                        path: "message.offline_push.ext (key order)".into(),
                        old: None,
                        new: None,
                    });
                }
                let moved_from = renamed.filter(|_| old.get(name).is_none()).map(|(p, _)| p);
                let rename_only = fields.iter().all(|f| {
                    matches!(f.path.as_str(), "name" | "description")
                        || f.path.starts_with("previous_names")
                });
                let mut no_effect = if !fields.is_empty()
                    && request.is_empty()
                    && fields.iter().all(|f| f.path == "description")
                {
                    Some("no effect on sends: only the description changed".to_owned())
                } else if sends_again.is_none() {
                    already_sent_once(input, name, new_facts)
                } else {
                    None
                };
                if let Some(from) = moved_from
                    && sends_again.is_none()
                    && (no_effect.is_some() || (rename_only && request.is_empty()))
                {
                    let renamed = format!(
                        "renamed from `{from}` (previous_names): it keeps that name's ledger history, so nothing is sent again"
                    );
                    no_effect = Some(match no_effect {
                        Some(n) => format!("{renamed}; {n}"),
                        None => renamed,
                    });
                }
                Outcome::Updated(Change {
                    campaign: name.clone(),
                    fields,
                    request,
                    no_effect,
                    sends_again,
                    dropped: Vec::new(),
                    schedule: review::schedule_view(prev_facts, new_facts, input.at).map(Box::new),
                    message: review::message_view(before.as_ref(), after.as_ref()).map(Box::new),
                    audience_change: match (
                        prev_facts.and_then(|f| f.audience.as_deref()),
                        new_facts.audience.as_deref(),
                    ) {
                        (Some(o), Some(n)) => super::audience::compare(o, n).map(Box::new),
                        _ => None,
                    },
                    exceptions_added: review::exceptions_added(prev_facts, new_facts),
                })
            }
        }
    };
    let mut outcomes: Vec<Outcome> = current
        .par_iter()
        .zip(&facts)
        .map(|((n, v), f)| one(n, v, f))
        .collect();
    // A first plan of many campaigns creates them all: the created changes are collected in the
    // outcomes' own buffer (an in-place collect), not pushed into a second list as large.
    changes.unchanged = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Unchanged))
        .count();
    changes.updated = outcomes
        .extract_if(.., |o| !matches!(o, Outcome::Created(_)))
        .filter_map(|o| match o {
            Outcome::Updated(c) => Some(c),
            Outcome::Created(_) | Outcome::Unchanged => None,
        })
        .collect();
    changes.created = outcomes
        .into_iter()
        .filter_map(|o| match o {
            Outcome::Created(c) => Some(c),
            Outcome::Updated(_) | Outcome::Unchanged => None,
        })
        .collect();
    changes.created.shrink_to_fit();
    for name in deleted {
        let prev = &old_facts[name.as_str()];
        let end = input.at + delta(input.horizon);
        let dropped = prev
            .schedule()
            .map(|s| {
                s.occurrences(input.at, end)
                    .map(|o| prev.local(o.at))
                    .collect()
            })
            .unwrap_or_default();
        changes.deleted.push(Change {
            campaign: name.clone(),
            fields: Vec::new(),
            request: Vec::new(),
            no_effect: None,
            sends_again: None,
            dropped,
            schedule: None,
            message: None,
            audience_change: None,
            exceptions_added: BTreeMap::new(),
        });
    }
    changes
}
