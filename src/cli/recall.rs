//! `crier recall NAME --at TIME | --id LEDGER_ID | --task-id T`: withdraws a sent push through
//! `v4/timpush/revoke` within 24 hours of the send, replacing the notification with the
//! campaign's `recall:` block (or `--title`/`--desc`); shown and confirmed like an apply, and
//! recorded as `recalled`.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

use super::Status as Exit;
use super::env::Env;
use super::validate::DataFormat;
use crate::api::client::{CallError, Client};
use crate::api::wire::{Api, codes, limits, paths};
use crate::dispatch::reporter::Confirmation;
use crate::dispatch::timer::{Pacer, TokioTimer};
use crate::ledger::fold::OccurrenceView;
use crate::ledger::record::{OccurrenceRecord, OccurrenceState, RecordBody, StateKind};
use crate::ledger::{AppScope, Ledger as _, LedgerWriter as _, view};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["at", "id", "task_id"])))]
pub struct RecallArgs {
    /// The campaign whose push to recall.
    pub name: String,
    /// The occurrence's scheduled time (in the campaign's zone unless it has an offset).
    #[arg(long)]
    pub at: Option<String>,
    /// The occurrence's ledger id (or a unique prefix).
    #[arg(long)]
    pub id: Option<String>,
    /// The push's TaskId.
    #[arg(long = "task-id")]
    pub task_id: Option<String>,
    /// The replacement notification's title (default: the campaign's `recall.title`).
    #[arg(long)]
    pub title: Option<String>,
    /// The replacement notification's text (default: the campaign's `recall.desc`).
    #[arg(long)]
    pub desc: Option<String>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    #[arg(long, value_enum, default_value_t = DataFormat::Human)]
    pub format: DataFormat,
}

/// When the push of an occurrence started (its `sent` record, else its last intent).
fn sent_at(o: &OccurrenceView) -> Option<DateTime<Utc>> {
    let of = |k: StateKind| {
        o.history
            .iter()
            .rev()
            .find(|h| h.value.kind() == k)
            .map(|h| h.at)
    };
    of(StateKind::Sent).or_else(|| of(StateKind::Intent))
}

/// The occurrence to recall, checked: it belongs to the campaign, was sent, is not recalled,
/// and is within the provider's 24 hours.
///
/// # Errors
/// Why it cannot be recalled.
pub fn recallable<'s>(
    found: &'s OccurrenceView,
    names: &[&str],
    now: DateTime<Utc>,
) -> anyhow::Result<(&'s OccurrenceView, String, DateTime<Utc>)> {
    anyhow::ensure!(
        names.contains(&found.key.campaign.as_str()),
        "{} is an occurrence of campaign `{}`, not of `{}`",
        found.id,
        found.key.campaign,
        names.first().copied().unwrap_or_default()
    );
    match found.kind() {
        StateKind::Sent | StateKind::ResolvedSent => {}
        StateKind::Recalled => anyhow::bail!(
            "{} was already recalled (TaskId {})",
            found.id,
            found.task_id.as_deref().unwrap_or("?")
        ),
        other => anyhow::bail!(
            "{} is `{}`, not sent: there is nothing to recall",
            found.id,
            other.name()
        ),
    }
    let Some(task) = found.task_id.clone() else {
        anyhow::bail!(
            "{} was resolved as sent without a TaskId: the provider recalls by TaskId; resolve it again with --task-id, or recall it in the console",
            found.id
        );
    };
    let at = sent_at(found).unwrap_or(found.key.scheduled);
    anyhow::ensure!(
        now - at <= TimeDelta::hours(limits::RECALL_WINDOW_HOURS),
        "{} was sent at {}, more than {} hours ago: the provider recalls a push only within {} hours of its start (90052)",
        found.id,
        at.to_rfc3339_opts(SecondsFormat::Secs, true),
        limits::RECALL_WINDOW_HOURS,
        limits::RECALL_WINDOW_HOURS
    );
    Ok((found, task, at))
}

/// `crier recall`.
///
/// # Errors
/// No such push, not recallable, no replacement notification, no confirmation, the
/// provider's refusal.
pub fn recall(env: &Env, args: &RecallArgs) -> anyhow::Result<Exit> {
    let ws = super::workspace::load_workspace(env, &[])?;
    let outcome = ws.validation();
    let checked = outcome.checked.iter().find(|c| c.name() == args.name);
    let names: Vec<&str> = match checked {
        Some(c) => c.names().collect(),
        None => vec![args.name.as_str()],
    };
    let read = super::workspace::read_ledger(&ws.settings)?;
    let snapshot = &read.snapshot;
    let projects: Vec<&str> = ws.settings.project_names().collect();
    let found: &OccurrenceView = if let Some(id) = &args.id {
        view::find(snapshot, id)?
    } else if let Some(task) = &args.task_id {
        view::find_by_task_id(snapshot, task)
            .with_context(|| format!("no push with TaskId {task} in the ledger"))?
    } else {
        let text = args.at.as_deref().unwrap_or_default();
        let zone = checked.map_or(ws.settings.defaults.timezone, |c| c.zone);
        let at = crate::schedule::parse_time(text, zone).context("--at")?.at;
        snapshot
            .occurrences
            .values()
            .find(|o| {
                o.key.scheduled == at
                    && names.contains(&o.key.campaign.as_str())
                    && projects.contains(&o.key.project.as_str())
            })
            .with_context(|| {
                format!(
                    "no occurrence of `{}` scheduled at {} in the ledger",
                    args.name,
                    at.to_rfc3339_opts(SecondsFormat::Secs, true)
                )
            })?
    };
    let now = env.clock.now();
    let (found, task, started) = recallable(found, &names, now)?;
    let spec = checked.and_then(|c| c.campaign.spec.recall.as_ref());
    let title = args
        .title
        .clone()
        .or_else(|| spec.and_then(|r| r.title.clone()));
    let desc = args
        .desc
        .clone()
        .or_else(|| spec.and_then(|r| r.desc.clone()));
    anyhow::ensure!(
        title.is_some() || desc.is_some(),
        "no replacement notification for the recall: add a `recall:` block (title, desc) to campaign `{}`, or pass --title and --desc (the provider refuses a recall without one: 90053)",
        args.name
    );
    let mut offline = serde_json::Map::new();
    if let Some(t) = &title {
        offline.insert("Title".into(), t.clone().into());
    }
    if let Some(d) = &desc {
        offline.insert("Desc".into(), d.clone().into());
    }
    if let Some(ext) = spec.and_then(|r| r.ext.clone()) {
        offline.insert("Ext".into(), ext.into());
    }
    let body = serde_json::json!({"TaskId": task, "OfflinePushInfo": offline});
    let app = ws
        .settings
        .apps
        .get(&found.app)
        .or_else(|| {
            ws.settings
                .apps
                .values()
                .find(|a| a.sdkappid == found.key.sdkappid)
        })
        .with_context(|| format!("app `{}` of {} is not in crier.yaml", found.app, found.id))?;
    let mut err = anstream::stderr();
    writeln!(
        err,
        "Recall {} (app {}, TaskId {task}, sent at {}): undelivered sends stop, delivered unread messages are withdrawn, and notifications already shown become:\n  {}",
        found.id,
        app.name,
        started.to_rfc3339_opts(SecondsFormat::Secs, true),
        serde_json::Value::Object(offline.clone())
    )?;
    if !args.auto_approve {
        match super::apply::ask("Do you want to recall this push?") {
            Confirmation::Yes => {}
            Confirmation::No => anyhow::bail!("recall cancelled: nothing was sent"),
            Confirmation::NoTerminal => {
                anyhow::bail!("no terminal to confirm the recall: pass --auto-approve")
            }
        }
    }
    let rt = tokio::runtime::Runtime::new()?;
    let ledger = super::workspace::ledger_of(&ws.settings)?;
    let scope: AppScope = [(app.sdkappid, app.name.clone())].into_iter().collect();
    let mut writer = rt
        .block_on(ledger.lock_apps(
            &scope,
            super::process::project_holder(&ws.settings.project, now),
            Duration::from_secs(60),
            env.clock.as_ref(),
        ))
        .context("cannot take the app's lock to record the recall")?;
    let id = found.id.clone();
    let key = found.key.clone();
    let app_name = found.app.clone();
    // Under the lock, the ledger may have moved on.
    if let Some(now_view) = writer.snapshot().occurrence(&key) {
        recallable(now_view, &names, now)?;
    }
    let client = Client::new(app, &crate::secrets::EnvSecrets, Arc::clone(&env.clock))?;
    let timer = TokioTimer;
    let mut pacer = Pacer::for_api(&timer, Api::Revoke);
    let text = serde_json::to_string(&body)?;
    let result = rt.block_on(pacer.call(Api::Revoke, || client.call(paths::REVOKE, &text)));
    let already =
        matches!(&result, Err(CallError::Api { code, .. }) if *code == codes::RECALL_ALREADY_DONE);
    if let Err(e) = &result
        && !already
    {
        anyhow::bail!("the provider refused the recall of {id}: {e}");
    }
    let record = rt
        .block_on(writer.append(
            env.clock.now(),
            RecordBody::Occurrence(OccurrenceRecord {
                key,
                app: app_name,
                state: OccurrenceState::Recalled {
                    task_id: task.clone(),
                    request: Some(body.clone()),
                },
            }),
        ))
        .context("cannot record the recall")?;
    let mut out = anstream::stdout();
    match args.format {
        DataFormat::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "format_version": 1,
                "id": id,
                "task_id": task,
                "already_recalled": already,
                "offline_push": offline,
                "ledger_seq": record.seq,
            }))?
        )?,
        DataFormat::Human => writeln!(
            out,
            "{} {id} (TaskId {task}); recorded as recalled at seq {}",
            if already {
                "the provider says this push was already recalled (90050):"
            } else {
                "recalled"
            },
            record.seq
        )?,
    }
    Ok(Exit::Done)
}
