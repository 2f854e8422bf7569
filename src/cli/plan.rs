//! `crier plan`.

use super::Status;
use super::output::{Env, Workspace, load_workspace, print_diagnostics};
use crate::ledger::LedgerRead;
use crate::ledger::file::FileLedger;
use crate::settings::{LedgerSettings, Settings};
use anyhow::Context as _;
use clap::ValueEnum;
use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Human,
    Markdown,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The time to plan for (RFC 3339, or local in defaults.timezone). Default: now.
    #[arg(long)]
    pub at: Option<String>,
    /// How far ahead to list upcoming occurrences.
    #[arg(long, default_value = "7d")]
    pub horizon: String,
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,
    /// Also write the plan file (JSON) that `crier apply PLAN_FILE` executes.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Reads the ledger the settings name, without taking its lock.
///
/// # Errors
/// An unreadable or corrupt ledger, or a PostgreSQL ledger (not in this build yet).
pub fn read_ledger(settings: &Settings) -> anyhow::Result<LedgerRead> {
    match &settings.ledger {
        LedgerSettings::File { path } => FileLedger::new(path)
            .read_sync()
            .with_context(|| format!("cannot read the ledger in {}", path.display())),
        LedgerSettings::Postgres { url_env } => {
            anyhow::bail!(
                "the PostgreSQL ledger (ledger.postgres_url_env: {url_env}) is not supported by this build yet"
            )
        }
    }
}

/// The loaded workspace, the plan time and the horizon.
pub type Prepared = (
    Workspace,
    chrono::DateTime<chrono::Utc>,
    std::time::Duration,
);

/// Loads the workspace and reads `--at` and `--horizon`.
///
/// # Errors
/// Invalid campaigns (after printing them), an unreadable ledger, a bad `--at` or `--horizon`.
pub fn prepare(
    env: &Env,
    at: Option<&str>,
    horizon: &str,
) -> anyhow::Result<Result<Prepared, Status>> {
    let ws = match load_workspace(env, &[], false) {
        Ok(ws) => ws,
        Err(status) => return Ok(Err(status)),
    };
    let horizon = crate::duration::parse(horizon).map_err(|e| anyhow::anyhow!("--horizon: {e}"))?;
    let at = match at {
        Some(text) => {
            crate::schedule::parse_time(text, ws.settings.defaults.timezone)
                .context("--at")?
                .at
        }
        None => env.clock.now(),
    };
    Ok(Ok((ws, at, horizon)))
}

/// `crier plan`.
///
/// # Errors
/// See [`prepare`].
pub fn plan(env: &Env, args: &PlanArgs) -> anyhow::Result<Status> {
    let (ws, at, horizon) = match prepare(env, args.at.as_deref(), &args.horizon)? {
        Ok(x) => x,
        Err(status) => return Ok(status),
    };
    let outcome = crate::validate::validate(&ws.settings, &ws.set.campaigns, &ws.set.names);
    let mut diags = ws.config_warnings.clone();
    diags.extend(ws.set.diagnostics.iter().cloned());
    diags.extend(outcome.diagnostics.iter().cloned());
    if diags.iter().any(crate::diag::Diagnostic::is_error) {
        crate::diag::sort(&mut diags);
        diags.retain(crate::diag::Diagnostic::is_error);
        print_diagnostics(&diags, &ws.sources, false);
        anyhow::bail!(
            "the campaign set is not valid: fix the errors above (crier validate shows warnings too)"
        );
    }
    let ledger = read_ledger(&ws.settings)?;
    let mut err = anstream::stderr();
    for w in &ledger.warnings {
        writeln!(err, "warning: {w}")?;
    }
    let plan = crate::plan::build(&crate::plan::Input {
        settings: &ws.settings,
        checked: &outcome.checked,
        ledger: &ledger.snapshot,
        at,
        horizon,
    });
    let text = match args.format {
        PlanFormat::Human => {
            let color = std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            crate::plan::format::human(&plan, color)
        }
        PlanFormat::Markdown => crate::plan::format::markdown(&plan),
        PlanFormat::Json => crate::plan::format::json(&plan),
    };
    std::io::stdout().write_all(text.as_bytes())?;
    if let Some(out) = &args.out {
        let path = env.cwd.join(out);
        std::fs::write(&path, crate::plan::format::json(&plan))
            .with_context(|| format!("cannot write the plan file {}", path.display()))?;
        writeln!(err, "plan file written to {}", out.display())?;
    }
    Ok(if plan.has_pending_work() {
        Status::Pending
    } else {
        Status::Done
    })
}
