//! `crier send-test NAME --to USER[,USER…]`: the campaign's rendered offline push to named
//! accounts through `v4/timpush/batch`, for a look on real phones; recorded in the ledger as a
//! test send, counted against no campaign's occurrences.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use super::Status as Exit;
use super::env::Env;
use super::validate::DataFormat;
use crate::api::client::{CallError, Client};
use crate::api::wire::{Api, limits, paths};
use crate::dispatch::timer::{Pacer, TokioTimer};
use crate::ledger::record::{RecordBody, TestSendRecord};
use crate::ledger::{AppScope, Ledger as _, LedgerWriter as _};

/// What `send-test` says about what the phone shows.
pub const PREVIEW_NOTE: &str = "batch carries OfflinePushInfo and no MsgBody: this previews the notification, not the chat message";

#[derive(Debug, clap::Args)]
pub struct SendTestArgs {
    /// The campaign.
    pub name: String,
    /// The accounts (UserIDs), comma-separated or repeated; at most 500.
    #[arg(long, value_delimiter = ',', required = true, value_name = "USER")]
    pub to: Vec<String>,
    /// Render the occurrence at or after this time (default: the next one, or the last one
    /// when all are past).
    #[arg(long)]
    pub at: Option<String>,
    /// The sender account (default: the app's admin).
    #[arg(long)]
    pub from: Option<String>,
    #[arg(long, value_enum, default_value_t = DataFormat::Human)]
    pub format: DataFormat,
}

/// The accounts, trimmed, without repeats, in order; at most the batch API's limit.
///
/// # Errors
/// None given, or more than the limit.
pub fn accounts(to: &[String]) -> anyhow::Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for a in to.iter().map(|a| a.trim()).filter(|a| !a.is_empty()) {
        if !out.iter().any(|o| o == a) {
            out.push(a.to_owned());
        }
    }
    anyhow::ensure!(!out.is_empty(), "--to names no account");
    anyhow::ensure!(
        out.len() <= limits::BATCH_MAX_ACCOUNTS,
        "--to names {} accounts; a test send reaches at most {} (the batch API's limit)",
        out.len(),
        limits::BATCH_MAX_ACCOUNTS
    );
    Ok(out)
}

/// `crier send-test`.
///
/// # Errors
/// An unknown or invalid campaign, no offline push, too many accounts, a stopped app, the
/// provider's refusal.
#[allow(
    clippy::disallowed_methods,
    reason = "a test send's MsgRandom is a fresh random number"
)]
pub fn send_test(env: &Env, args: &SendTestArgs) -> anyhow::Result<Exit> {
    let to = accounts(&args.to)?;
    let ws = super::workspace::load_workspace(env, &[])?;
    let outcome = ws.validation();
    let one =
        super::validate::render_occurrence(env, &ws, &outcome, &args.name, args.at.as_ref(), true)?;
    let app = one.checked.app;
    let Some(offline) = one.rendered.request.get("OfflinePushInfo").cloned() else {
        anyhow::bail!(
            "campaign `{}` has no offline_push: a test send shows the notification (OfflinePushInfo) on the phones; add offline_push to the campaign",
            args.name
        );
    };
    anyhow::ensure!(
        !app.paused,
        "app {} is paused in crier.yaml: nothing is sent for it, test sends included",
        app.name
    );
    let ledger = super::workspace::ledger_of(&ws.settings)?;
    let rt = tokio::runtime::Runtime::new()?;
    let now = env.clock.now();
    let mut writer = rt
        .block_on(ledger.lock_apps(
            &AppScope::new(),
            super::process::project_holder(&ws.settings.project, now),
            Duration::from_secs(30),
            env.clock.as_ref(),
        ))
        .context("cannot take the ledger to record the test send")?;
    if let Some(stop) = writer.snapshot().stop_of(app.sdkappid) {
        anyhow::bail!(
            "app {} is stopped ({}): nothing is sent for it, test sends included; `crier resume {}` first",
            app.name,
            stop.who_when_why(),
            app.name
        );
    }
    let msg_random = fastrand::u32(..);
    let body = serde_json::json!({
        "From_Account": args.from.clone().unwrap_or_else(|| app.admin.clone()),
        "To_Account": to,
        "MsgRandom": msg_random,
        "OfflinePushInfo": offline,
    });
    let body = serde_json::to_string(&body)?;
    let client = Client::new(app, &crate::secrets::EnvSecrets, Arc::clone(&env.clock))?;
    let timer = TokioTimer;
    let mut pacer = Pacer::for_api(&timer, Api::Batch);
    let result = rt.block_on(pacer.call(Api::Batch, || client.call(paths::BATCH, &body)));
    let (task_id, error_code, error_info) = match &result {
        Ok(reply) => (reply.task_id.clone(), None, None),
        Err(CallError::Api { code, info, .. }) => {
            (None, Some(i64::from(*code)), Some(info.clone()))
        }
        Err(e) => (None, None, Some(e.to_string())),
    };
    let record = rt
        .block_on(writer.append(
            env.clock.now(),
            RecordBody::TestSend(TestSendRecord {
                project: ws.settings.project.clone(),
                app: app.name.clone(),
                campaign: one.checked.name().to_owned(),
                to: to.clone(),
                msg_random,
                content_hash: crate::plan::normalize::sha256(body.as_bytes()),
                task_id: task_id.clone(),
                error_code,
                error_info: error_info.clone(),
            }),
        ))
        .context("cannot record the test send")?;
    let mut out = anstream::stdout();
    match args.format {
        DataFormat::Json => {
            let v = serde_json::json!({
                "format_version": 1,
                "campaign": one.checked.name(),
                "app": app.name,
                "to": to,
                "msg_random": msg_random,
                "task_id": task_id,
                "error_code": error_code,
                "error_info": error_info,
                "ledger_seq": record.seq,
                "note": PREVIEW_NOTE,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        DataFormat::Human => match &task_id {
            Some(t) => writeln!(
                out,
                "sent a test of {} to {} account{} ({}) through v4/timpush/batch: TaskId {t} (recorded at seq {})\nnote: {PREVIEW_NOTE}",
                one.checked.name(),
                to.len(),
                if to.len() == 1 { "" } else { "s" },
                to.join(", "),
                record.seq
            )?,
            None => writeln!(
                out,
                "the test send of {} was not accepted (recorded at seq {}): {}",
                one.checked.name(),
                record.seq,
                error_code.map_or_else(
                    || error_info.clone().unwrap_or_default(),
                    |c| format!("ErrorCode {c}: {}", error_info.clone().unwrap_or_default())
                )
            )?,
        },
    }
    Ok(if task_id.is_some() {
        Exit::Done
    } else {
        Exit::Failed
    })
}
