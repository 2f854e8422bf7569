//! `crier validate` and `crier render`.

use super::Status;
use super::env::Env;
use super::report::print_diagnostics;
use super::workspace::load_workspace;
use crate::diag::Diagnostic;
use crate::render::Renderer;
use crate::validate::Validation;
use anyhow::Context as _;
use chrono::SecondsFormat;
use clap::ValueEnum;
use std::io::Write as _;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    Human,
    Json,
    Github,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Campaign files or folders to report on (default: the whole campaigns folder). Set-wide
    /// rules always see the whole set.
    pub paths: Vec<PathBuf>,
    /// Output format; `github` prints workflow annotations.
    #[arg(long, value_enum, default_value_t = ValidateFormat::Human)]
    pub format: ValidateFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DataFormat {
    Human,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// The campaign's name.
    pub name: String,
    /// The first occurrence at or after this time (RFC 3339, or local in defaults.timezone). Default: now.
    #[arg(long)]
    pub at: Option<String>,
    #[arg(long, value_enum, default_value_t = DataFormat::Human)]
    pub format: DataFormat,
}

/// `crier validate`.
///
/// # Errors
/// Only for failures outside the campaign files (printed by the caller).
pub fn validate(env: &Env, args: &ValidateArgs) -> anyhow::Result<Status> {
    let github = args.format == ValidateFormat::Github;
    let ws = load_workspace(env, &args.paths)?;
    let outcome = ws.validation();
    let mut diags: Vec<Diagnostic> = ws.config_warnings.clone();
    diags.extend(ws.set.diagnostics.iter().cloned());
    diags.extend(outcome.diagnostics);
    if !args.paths.is_empty() {
        let scope: Vec<PathBuf> = args
            .paths
            .iter()
            .map(|p| std::path::absolute(env.cwd.join(p)).unwrap_or_else(|_| p.clone()))
            .collect();
        // Diagnostics about campaign files outside the given paths are left out; everything else
        // (crier.yaml, unreadable folders) is always shown.
        let campaign_files: std::collections::HashSet<&std::path::Path> = ws
            .set
            .names
            .iter()
            .map(|(_, f, _)| f.as_ref())
            .chain(ws.set.campaigns.iter().map(|c| c.file.as_ref()))
            .collect();
        diags.retain(|d| {
            let abs =
                std::path::absolute(env.cwd.join(&d.file)).unwrap_or_else(|_| d.file.to_path_buf());
            scope.iter().any(|s| abs.starts_with(s)) || !campaign_files.contains(d.file.as_ref())
        });
    }
    crate::diag::sort(&mut diags);
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    let files = ws.set.names.len().max(ws.set.campaigns.len());
    let mut out = anstream::stdout();
    match args.format {
        ValidateFormat::Json => {
            let report = serde_json::json!({
                "format_version": 1,
                "valid": errors == 0,
                "campaigns": ws.set.campaigns.len(),
                "errors": errors,
                "warnings": warnings,
                "diagnostics": diags.iter().map(Diagnostic::to_json).collect::<Vec<_>>(),
            });
            let text = serde_json::to_string_pretty(&report)?;
            writeln!(out, "{}", crate::secrets::redact_usersig(&text))?;
        }
        ValidateFormat::Human | ValidateFormat::Github => {
            print_diagnostics(&diags, &ws.sources, github);
            let summary = if errors == 0 {
                let w = if warnings == 0 {
                    String::new()
                } else {
                    format!(", {warnings} warning{}", plural(warnings))
                };
                format!(
                    "ok: {} campaign{} valid{w}",
                    outcome.checked.len(),
                    plural(outcome.checked.len())
                )
            } else {
                format!(
                    "{errors} error{}, {warnings} warning{} in {files} campaign file{}",
                    plural(errors),
                    plural(warnings),
                    plural(files)
                )
            };
            if !github || errors == 0 {
                writeln!(out, "{summary}")?;
            }
        }
    }
    super::workspace::leak_at_exit(outcome.checked);
    super::workspace::leak_at_exit(ws);
    Ok(if errors == 0 {
        Status::Done
    } else {
        Status::Failed
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `crier render NAME [--at TIME]`.
///
/// # Errors
/// An unknown campaign, an invalid one, or no occurrence at or after the time.
/// One occurrence of a campaign, rendered exactly as apply would send it.
pub(super) struct RenderedOccurrence<'o, 'w> {
    pub checked: &'o crate::validate::Checked<'w>,
    pub occurrence: crate::schedule::Occurrence,
    pub key: crate::occurrence::OccurrenceKey,
    pub choice: crate::ledger::MsgRandomChoice,
    pub rendered: crate::render::Rendered,
}

/// Finds the campaign `name` (or says why not: unknown, with the closest name, or invalid,
/// with its own errors) and renders its first occurrence at or after `at_text` (now if
/// none; with `or_last` and no `at_text`, the last one when none is left), with the
/// MsgRandom the plan would pick.
///
/// # Errors
/// As described, a time that does not parse, no occurrence, a failed render.
pub(super) fn render_occurrence<'o, 'w>(
    env: &Env,
    ws: &'w super::workspace::Workspace,
    outcome: &'o Validation<'w>,
    name: &str,
    at_text: Option<&String>,
    or_last: bool,
) -> anyhow::Result<RenderedOccurrence<'o, 'w>> {
    let Some(checked) = outcome.checked.iter().find(|c| c.name() == name) else {
        // The campaign's file: the one that names it, or (when it does not parse far enough to
        // have a name) the one whose file name is the campaign's.
        let named_by = |f: &std::path::Path| {
            ws.set
                .names
                .iter()
                .any(|(n, file, _)| n == name && **file == *f)
                || f.file_stem().is_some_and(|s| s == name)
        };
        let own: Vec<Diagnostic> = outcome
            .diagnostics
            .iter()
            .chain(&ws.set.diagnostics)
            .filter(|d| d.is_error() && named_by(&d.file))
            .cloned()
            .collect();
        if own.is_empty() {
            let known: Vec<String> = ws.set.names.iter().map(|(n, _, _)| n.clone()).collect();
            let mut message = format!("no campaign named `{}`", name);
            if let Some(close) = crate::schema::closest(name, &known) {
                message.push_str(&format!("; did you mean `{close}`?"));
            }
            message.push_str(&format!(
                " (campaigns: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
            let broken: std::collections::BTreeSet<String> = ws
                .set
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| d.file.display().to_string())
                .collect();
            if !broken.is_empty() {
                message.push_str(&format!(
                    "; files that could not be read as campaigns: {} (crier validate shows why)",
                    broken.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
            anyhow::bail!(message);
        }
        return Err(super::report::Invalid {
            summary: format!("campaign `{}` is not valid; fix the errors above", name),
            diagnostics: own,
            sources: ws.sources.clone(),
        }
        .into());
    };
    let at = match at_text {
        Some(text) => {
            crate::schedule::parse_time(text, checked.zone) // local times in the campaign's zone (spec §4)
                .context("--at")?
                .at
        }
        None => env.clock.now(),
    };
    // A campaign whose occurrences are all past (a one-off after its time) still has a look:
    // its last one, for the commands that show a push rather than send it on schedule.
    let last = || {
        let first = checked.schedule.first()?;
        checked
            .schedule
            .occurrences(first.at, at)
            .take(100_000)
            .last()
    };
    let occurrence = checked
        .schedule
        .first_at_or_after(at)
        .or_else(|| (or_last && at_text.is_none()).then(last).flatten())
        .with_context(|| {
            format!(
                "campaign `{}` has no occurrence at or after {}",
                name,
                at.to_rfc3339_opts(SecondsFormat::Secs, true)
            )
        })?;
    // The MsgRandom apply would send: the recorded one, or the base value moved past a
    // collision with the app's last 7 days, exactly as the plan picks it (from the ledger as
    // it is now; an absent ledger is empty).
    let snapshot = super::workspace::read_ledger(&ws.settings)
        .context("cannot read the ledger for the MsgRandom")?
        .snapshot;
    let keys = checked.keys(&ws.settings, occurrence.at);
    let key = keys
        .iter()
        .find(|k| snapshot.occurrence(k).is_some())
        .cloned()
        .unwrap_or_else(|| checked.key(&ws.settings.project, occurrence.at));
    let choice = crate::ledger::pick_msg_random(
        &key,
        snapshot.msg_randoms_of(key.sdkappid),
        env.clock.now(),
    );
    let ctx = checked.context(occurrence.local);
    let rendered = crate::render::render(&Renderer::new(), checked.campaign, &ctx, choice.value)
        .map_err(|e| {
            anyhow::anyhow!(
                "rendering failed: {}",
                e.iter()
                    .map(|e| e.message.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })?;
    Ok(RenderedOccurrence {
        checked,
        occurrence,
        key,
        choice,
        rendered,
    })
}

pub fn render(env: &Env, args: &RenderArgs) -> anyhow::Result<Status> {
    let ws = load_workspace(env, &[])?;
    let outcome = ws.validation();
    let RenderedOccurrence {
        checked,
        occurrence,
        key,
        choice,
        rendered,
    } = render_occurrence(env, &ws, &outcome, &args.name, args.at.as_ref(), false)?;
    let url = crate::api::client::display_url(checked.app, crate::api::wire::paths::PUSH);
    let mut out = anstream::stdout();
    match args.format {
        DataFormat::Human => {
            writeln!(
                out,
                "# {} at {} ({})",
                checked.name(),
                occurrence.local.to_rfc3339_opts(SecondsFormat::Secs, false),
                occurrence.local.format("%Z")
            )?;
            if let Some(note) = occurrence.dst {
                writeln!(out, "# note: {note}")?;
            }
            if choice.reused {
                writeln!(
                    out,
                    "# MsgRandom {} as recorded in the ledger",
                    choice.value
                )?;
            } else if choice.perturbation.is_some() {
                writeln!(
                    out,
                    "# MsgRandom {} (the base value collides with another push of the app in the last 7 days)",
                    choice.value
                )?;
            }
            writeln!(
                out,
                "# the real UserSig and a fresh random are added when the request is sent"
            )?;
            writeln!(out, "POST {url}")?;
            writeln!(out, "{}", rendered.body)?;
        }
        DataFormat::Json => {
            let doc = serde_json::json!({
                "format_version": 1,
                "campaign": checked.name(),
                "app": checked.app.name,
                "occurrence": {
                    "scheduled": occurrence.at.to_rfc3339_opts(SecondsFormat::Secs, true),
                    "local": occurrence.local.to_rfc3339_opts(SecondsFormat::Secs, false),
                    "key": key.id(),
                },
                "method": "POST",
                "url": url,
                "body_bytes": rendered.body.len(),
                "body": rendered.request,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
    }
    Ok(Status::Done)
}
