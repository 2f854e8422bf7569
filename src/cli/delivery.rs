//! `crier report [NAME] [--since 7d]`: delivery statistics of the recorded TaskIds through
//! `v4/timpush/all_member_push_statistics` (at most 5 TaskIDs a call, one call a second,
//! 30 days back; the field is spelled `TaskID` there).

use std::io::Write as _;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::Serialize;

use super::Status as Exit;
use super::env::Env;
use super::validate::DataFormat;
use crate::api::client::Client;
use crate::api::wire::{Api, limits, paths};
use crate::dispatch::timer::{Pacer, TokioTimer};
use crate::ledger::fold::OccurrenceView;
use crate::ledger::record::StateKind;

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Only this campaign's pushes.
    pub name: Option<String>,
    /// How far back (at most 30d: the provider keeps statistics for 30 days).
    #[arg(long, default_value = "7d", value_name = "DURATION")]
    pub since: String,
    #[arg(long, value_enum, default_value_t = DataFormat::Human)]
    pub format: DataFormat,
}

/// One push's statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub campaign: String,
    pub id: String,
    pub app: String,
    pub task_id: String,
    #[serde(with = "crate::ledger::record::millis")]
    pub sent_at: DateTime<Utc>,
    pub recalled: bool,
    pub total: Option<u64>,
    pub sent: Option<u64>,
    pub delivered: Option<u64>,
    pub clicks: Option<u64>,
}

/// The pushes to report: this project's occurrences with a TaskId, sent since `from`.
#[must_use]
pub fn selected<'s>(
    occurrences: impl Iterator<Item = &'s OccurrenceView>,
    projects: &[&str],
    campaign: Option<&str>,
    from: DateTime<Utc>,
) -> Vec<(&'s OccurrenceView, DateTime<Utc>)> {
    let mut out: Vec<(&OccurrenceView, DateTime<Utc>)> = occurrences
        .filter(|o| projects.contains(&o.key.project.as_str()))
        .filter(|o| campaign.is_none_or(|c| o.key.campaign == c))
        .filter(|o| {
            matches!(
                o.kind(),
                StateKind::Sent | StateKind::ResolvedSent | StateKind::Recalled
            ) && o.task_id.is_some()
        })
        .filter_map(|o| {
            let at = o
                .history
                .iter()
                .rev()
                .find(|h| matches!(h.value.kind(), StateKind::Sent | StateKind::Intent))
                .map_or(o.key.scheduled, |h| h.at);
            (at >= from).then_some((o, at))
        })
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.id.cmp(&b.0.id)));
    out
}

/// `crier report`.
///
/// # Errors
/// A bad `--since`, an unreadable ledger, the provider's refusal.
pub fn report(env: &Env, args: &ReportArgs) -> anyhow::Result<Exit> {
    let since = crate::duration::parse(&args.since).map_err(|e| anyhow::anyhow!("--since: {e}"))?;
    let max = TimeDelta::days(limits::STATISTICS_MAX_DAYS);
    let mut back = TimeDelta::from_std(since).unwrap_or(max);
    let mut notes = Vec::new();
    if back > max {
        notes.push(format!(
            "--since {} reaches past the provider's {} days of statistics: reporting the last {} days",
            args.since,
            limits::STATISTICS_MAX_DAYS,
            limits::STATISTICS_MAX_DAYS
        ));
        back = max;
    }
    let settings = super::workspace::load_settings_only(env)?;
    let read = super::workspace::read_ledger(&settings)?;
    let now = env.clock.now();
    let from = now - back;
    let projects: Vec<&str> = settings.project_names().collect();
    let chosen = selected(
        read.snapshot.occurrences.values(),
        &projects,
        args.name.as_deref(),
        from,
    );
    let mut rows: Vec<Row> = chosen
        .iter()
        .map(|(o, at)| Row {
            campaign: o.key.campaign.clone(),
            id: o.id.clone(),
            app: o.app.clone(),
            task_id: o.task_id.clone().unwrap_or_default(),
            sent_at: *at,
            recalled: o.kind() == StateKind::Recalled,
            total: None,
            sent: None,
            delivered: None,
            clicks: None,
        })
        .collect();
    let rt = tokio::runtime::Runtime::new()?;
    let timer = TokioTimer;
    let mut pacer = Pacer::for_api(&timer, Api::Statistics);
    let mut calls = 0usize;
    for app in settings.apps.values() {
        let ids: Vec<String> = rows
            .iter()
            .filter(|r| r.app == app.name)
            .map(|r| r.task_id.clone())
            .collect();
        if ids.is_empty() {
            continue;
        }
        let client = Client::new(app, &crate::secrets::EnvSecrets, Arc::clone(&env.clock))?;
        for chunk in ids.chunks(limits::STATISTICS_MAX_TASKS) {
            let body = serde_json::json!({
                "StartTime": from.timestamp(),
                // An hour ahead: a push just sent still counts when the provider's clock is
                // a little ahead of this one.
                "EndTime": (now + TimeDelta::hours(1)).timestamp(),
                "TaskID": chunk,
            })
            .to_string();
            let reply =
                rt.block_on(pacer.call(Api::Statistics, || client.call(paths::STATISTICS, &body)))?;
            calls += 1;
            for result in reply
                .raw
                .get("Results")
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(task) = result.get("TaskID").and_then(serde_json::Value::as_str) else {
                    continue;
                };
                let n = |k: &str| result.get(k).and_then(serde_json::Value::as_u64);
                for row in rows.iter_mut().filter(|r| r.task_id == task) {
                    row.total = n("TotalCount");
                    row.sent = n("SentCount");
                    row.delivered = n("DeliveredCount");
                    row.clicks = n("ClickCount");
                }
            }
        }
    }
    let mut out = anstream::stdout();
    match args.format {
        DataFormat::Json => {
            let v = serde_json::json!({
                "format_version": 1,
                "from": from.to_rfc3339_opts(SecondsFormat::Secs, true),
                "until": now.to_rfc3339_opts(SecondsFormat::Secs, true),
                "calls": calls,
                "notes": notes,
                "pushes": rows,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        DataFormat::Human => {
            for n in &notes {
                writeln!(out, "note: {n}")?;
            }
            if rows.is_empty() {
                writeln!(
                    out,
                    "no sent pushes{} since {}",
                    args.name
                        .as_ref()
                        .map(|n| format!(" of {n}"))
                        .unwrap_or_default(),
                    from.to_rfc3339_opts(SecondsFormat::Secs, true)
                )?;
                return Ok(Exit::Done);
            }
            let cell = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
            writeln!(
                out,
                "{:<20} {:<20} {:>9} {:>9} {:>9} {:>7}  TaskId",
                "campaign", "sent at", "total", "sent", "delivered", "clicks"
            )?;
            for r in &rows {
                writeln!(
                    out,
                    "{:<20} {:<20} {:>9} {:>9} {:>9} {:>7}  {}{}",
                    r.campaign,
                    r.sent_at.to_rfc3339_opts(SecondsFormat::Secs, true),
                    cell(r.total),
                    cell(r.sent),
                    cell(r.delivered),
                    cell(r.clicks),
                    r.task_id,
                    if r.recalled { " (recalled)" } else { "" }
                )?;
            }
            writeln!(
                out,
                "{} push{} since {}, {calls} statistics call{} (at most {} TaskIDs a call, one a second)",
                rows.len(),
                if rows.len() == 1 { "" } else { "es" },
                from.to_rfc3339_opts(SecondsFormat::Secs, true),
                if calls == 1 { "" } else { "s" },
                limits::STATISTICS_MAX_TASKS
            )?;
        }
    }
    Ok(Exit::Done)
}
