//! `crier stop APP --reason TEXT` and `crier resume APP`: the emergency stop, recorded in the
//! ledger. Every apply of the app checks it before each send: on a shared (PostgreSQL) ledger
//! that includes applies already running, in every project sharing the app, because the stop
//! is written without the app's lock.

use std::io::Write as _;
use std::time::Duration;

use anyhow::Context as _;

use super::Status as Exit;
use super::env::Env;
use crate::ledger::record::{RecordBody, ResumeRecord, StopRecord};
use crate::ledger::{AnyLedger, AppScope, Ledger as _, LedgerWriter as _};

#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// The app to stop (its name in crier.yaml).
    pub app: String,
    /// Why: shown by plan, status and every apply that holds a push.
    #[arg(long)]
    pub reason: String,
    /// How long to wait for the ledger (a file ledger has one writer at a time).
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub lock_timeout: String,
}

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// The app to resume (its name in crier.yaml).
    pub app: String,
    /// How long to wait for the ledger (a file ledger has one writer at a time).
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub lock_timeout: String,
}

/// Who is stopping or resuming: the operator's user name, and the CI run when there is one.
fn operator(holder: &crate::ledger::LockHolder) -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "operator".to_owned());
    match &holder.ci_run {
        Some(run) => format!("{user}@{} ({run})", holder.hostname),
        None => format!("{user}@{}", holder.hostname),
    }
}

/// `crier stop` (`reason` given) or `crier resume` (`reason` none).
///
/// # Errors
/// An unknown app, an unreachable or locked ledger.
pub fn stop_or_resume(
    env: &Env,
    app_name: &str,
    reason: Option<&str>,
    lock_timeout: &str,
) -> anyhow::Result<Exit> {
    let settings = super::workspace::load_settings_only(env)?;
    let app = settings.apps.get(app_name).ok_or_else(|| {
        anyhow::anyhow!(
            "no app `{app_name}` in {}: its apps are {}",
            settings.config_path.display(),
            settings
                .apps
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let timeout =
        crate::duration::parse(lock_timeout).map_err(|e| anyhow::anyhow!("--lock-timeout: {e}"))?;
    let ledger = super::workspace::ledger_of(&settings)?;
    let rt = super::workspace::runtime()?;
    let now = env.clock.now();
    let holder = super::process::project_holder(&settings.project, now);
    let by = operator(&holder);
    // No app lock: a running apply holds it, and must see the stop before its next send.
    let mut writer = match rt.block_on(ledger.lock_apps(
        &AppScope::new(),
        holder,
        timeout.max(Duration::from_millis(1)),
        env.clock.as_ref(),
    )) {
        Ok(w) => w,
        Err(e) if matches!(ledger, AnyLedger::File(_)) => {
            return Err(anyhow::Error::new(e).context(format!(
                "cannot {} app {app_name}: a file ledger has one writer at a time, and an apply holds it; stop that apply (Ctrl-C), or use a shared ledger (ledger.postgres_url_env), where `crier stop` reaches running applies",
                if reason.is_some() { "stop" } else { "resume" }
            )));
        }
        Err(e) => return Err(anyhow::Error::new(e).context("cannot take the ledger")),
    };
    let current = writer.snapshot().stop_of(app.sdkappid).cloned();
    let mut out = anstream::stdout();
    match (reason, current) {
        (Some(_), Some(stop)) => {
            writeln!(
                out,
                "app {app_name} ({}) is already stopped ({}); nothing recorded",
                app.sdkappid,
                stop.who_when_why()
            )?;
        }
        (Some(reason), None) => {
            anyhow::ensure!(!reason.trim().is_empty(), "--reason must say why");
            let record = rt
                .block_on(writer.append(
                    now,
                    RecordBody::Stop(StopRecord {
                        sdkappid: app.sdkappid,
                        app: app_name.to_owned(),
                        project: settings.project.clone(),
                        by,
                        reason: reason.trim().to_owned(),
                    }),
                ))
                .context("cannot record the stop")?;
            writeln!(
                out,
                "stopped app {app_name} ({}) at seq {} of the {}: every apply of this app sends nothing until `crier resume {app_name}`{}; held pushes stay due and go out after the resume while within grace",
                app.sdkappid,
                record.seq,
                ledger.describe(),
                if ledger.ephemeral() {
                    ""
                } else {
                    " (in every project on this ledger, applies already running included, before their next send)"
                }
            )?;
        }
        (None, None) => {
            writeln!(out, "app {app_name} ({}) is not stopped", app.sdkappid)?;
        }
        (None, Some(stop)) => {
            let record = rt
                .block_on(writer.append(
                    now,
                    RecordBody::Resume(ResumeRecord {
                        sdkappid: app.sdkappid,
                        app: app_name.to_owned(),
                        project: settings.project.clone(),
                        by,
                    }),
                ))
                .context("cannot record the resume")?;
            writeln!(
                out,
                "resumed app {app_name} ({}) at seq {} (it was stopped {}); the next apply sends what is due within grace",
                app.sdkappid,
                record.seq,
                stop.who_when_why()
            )?;
        }
    }
    Ok(Exit::Done)
}
