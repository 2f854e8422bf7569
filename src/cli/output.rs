//! Shared pieces of the command line: the process environment, loading, colours, `init`.

use super::Status;
use crate::clock::{Clock, ManualClock, SystemClock};
use crate::diag::{Diagnostic, Severity};
use crate::load::{self, CampaignSet, Sources};
use crate::settings::Settings;
use anyhow::Context as _;
use owo_colors::OwoColorize as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `CRIER_NOW`: fixes crier's clock (RFC 3339). For tests only.
pub const NOW_VAR: &str = "CRIER_NOW";

/// What every command gets from the process: working directory, `--config`, the clock.
pub struct Env {
    pub cwd: PathBuf,
    pub config: Option<PathBuf>,
    pub clock: Arc<dyn Clock>,
}

impl Env {
    /// Reads the working directory and `CRIER_NOW`.
    ///
    /// # Errors
    /// An unreadable working directory or a malformed `CRIER_NOW`.
    pub fn from_process(config: Option<PathBuf>) -> anyhow::Result<Self> {
        let cwd = std::env::current_dir().context("cannot read the working directory")?;
        let clock: Arc<dyn Clock> = match std::env::var(NOW_VAR) {
            Ok(v) if !v.is_empty() => {
                let at = chrono::DateTime::parse_from_rfc3339(&v)
                    .with_context(|| format!("{NOW_VAR}=`{v}` is not an RFC 3339 time"))?;
                // Said on every command: a fake clock outside tests sends real pushes at the
                // wrong time without a word otherwise.
                let _ = writeln!(
                    anstream::stderr(),
                    "{} {NOW_VAR}={v} fixes crier's clock (for tests only): schedules, grace and quota days use it, and apply really sends; unset it outside tests",
                    "warning:".yellow().bold()
                );
                Arc::new(ManualClock::new(at.to_utc()))
            }
            _ => Arc::new(SystemClock),
        };
        Ok(Self { cwd, config, clock })
    }

    #[must_use]
    pub fn config_path(&self) -> PathBuf {
        load::config_path(self.config.as_deref(), &self.cwd)
    }
}

/// The campaign repository as loaded: settings, campaigns, their texts, and warnings so far.
pub struct Workspace {
    pub settings: Settings,
    pub set: CampaignSet,
    pub sources: Sources,
    pub config_warnings: Vec<Diagnostic>,
}

/// How a command reports diagnostics and failures: located text, GitHub annotations, or JSON
/// (on stdout, errors included, for `--format json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Report {
    #[default]
    Human,
    Github,
    Json,
}

/// A failure found in the user's files: the diagnostics and a one-line summary. `cli::main`
/// prints it in the command's [`Report`] format.
#[derive(Debug, thiserror::Error)]
#[error("{summary}")]
pub struct Invalid {
    pub summary: String,
    pub diagnostics: Vec<Diagnostic>,
    pub sources: Sources,
}

/// Loads `crier.yaml` and the campaign set (the campaigns folder plus `extra` paths).
///
/// # Errors
/// [`Invalid`] with the configuration's diagnostics.
pub fn load_workspace(env: &Env, extra: &[PathBuf]) -> anyhow::Result<Workspace> {
    let mut sources = Sources::default();
    let (settings, config_warnings) =
        match load::load_settings(&env.config_path(), &env.cwd, &mut sources) {
            Ok(ok) => ok,
            Err(diagnostics) => {
                return Err(Invalid {
                    summary: format!(
                        "{} is not valid",
                        crate::diag::display_path(&env.config_path(), &env.cwd).display()
                    ),
                    diagnostics,
                    sources,
                }
                .into());
            }
        };
    let (mut files, mut diags) = load::discover(&settings.campaigns_dir, &env.cwd);
    let (given, given_diags) = load::expand_paths(extra, &env.cwd);
    diags.extend(given_diags);
    for f in given {
        let f = std::path::absolute(&f).unwrap_or(f);
        if !files.contains(&f) {
            files.push(f);
        }
    }
    let mut set = load::load_campaigns(&files, &env.cwd, &mut sources);
    set.diagnostics.extend(diags);
    Ok(Workspace {
        settings,
        set,
        sources,
        config_warnings,
    })
}

/// Loads `crier.yaml` alone (for commands that need no campaigns); prints its diagnostics
/// when it is not valid.
///
/// # Errors
/// `crier.yaml` is missing or not valid.
pub fn load_settings_only(env: &Env) -> anyhow::Result<Settings> {
    let mut sources = Sources::default();
    match load::load_settings(&env.config_path(), &env.cwd, &mut sources) {
        Ok((settings, _)) => Ok(settings),
        Err(diagnostics) => Err(Invalid {
            summary: format!(
                "{} is not valid",
                crate::diag::display_path(&env.config_path(), &env.cwd).display()
            ),
            diagnostics,
            sources,
        }
        .into()),
    }
}

/// Whether to colour stdout: a terminal, and `NO_COLOR` unset or empty.
#[must_use]
pub fn colour_stdout() -> bool {
    use std::io::IsTerminal as _;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Validates the whole set; on any error prints the errors (not the warnings: `crier validate`
/// shows those) and fails with `refusal`, which says what was not done.
///
/// # Errors
/// The set has errors.
pub fn validated<'w>(
    ws: &'w Workspace,
    refusal: &str,
) -> anyhow::Result<crate::validate::Outcome<'w>> {
    let outcome = crate::validate::validate(
        &ws.settings,
        &ws.set.campaigns,
        &ws.set.unparsed,
        &ws.set.names,
    );
    let mut errors: Vec<Diagnostic> = ws
        .config_warnings
        .iter()
        .chain(&ws.set.diagnostics)
        .chain(&outcome.diagnostics)
        .filter(|d| d.is_error())
        .cloned()
        .collect();
    if !errors.is_empty() {
        crate::diag::sort(&mut errors);
        return Err(Invalid {
            summary: format!("the campaign set is not valid: fix the errors above; {refusal}"),
            diagnostics: errors,
            sources: ws.sources.clone(),
        }
        .into());
    }
    Ok(outcome)
}

pub fn error_label() -> String {
    format!("{}", "error:".red().bold())
}

fn severity_label(s: Severity) -> String {
    match s {
        Severity::Error => format!("{}", "error".red().bold()),
        Severity::Warning => format!("{}", "warning".yellow().bold()),
    }
}

/// Prints a failure in the command's format: JSON on stdout (`{"format_version", "error",
/// "diagnostics"}`), or the diagnostics (text or annotations) on stdout and `error: …` on stderr.
pub fn print_failure(e: &anyhow::Error, report: Report) {
    let message = crate::secrets::redact_usersig(&chain_text(e));
    let invalid = e.downcast_ref::<Invalid>();
    if report == Report::Json {
        let doc = serde_json::json!({
            "format_version": 1,
            "error": message,
            "diagnostics": invalid
                .map(|i| i.diagnostics.iter().map(Diagnostic::to_json).collect::<Vec<_>>())
                .unwrap_or_default(),
        });
        let doc: serde_json::Value =
            serde_json::from_str(&crate::secrets::redact_usersig(&doc.to_string())).unwrap_or(doc);
        let mut out = anstream::stdout();
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        );
        return;
    }
    if let Some(i) = invalid {
        print_diagnostics(&i.diagnostics, &i.sources, report == Report::Github);
    }
    let mut err = anstream::stderr();
    let _ = writeln!(err, "{} {message}", error_label());
}

/// An error and its causes, each said once: a cause whose text its parent already shows (an
/// error that prints its source) is not repeated.
#[must_use]
pub fn chain_text(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Prints diagnostics to stdout: GitHub annotations, or the located text with source lines.
pub fn print_diagnostics(diags: &[Diagnostic], sources: &Sources, github: bool) {
    // A UserSig typed into a file (an `endpoint` URL, a text) is never echoed back.
    let redact = crate::secrets::redact_usersig;
    let mut out = anstream::stdout();
    for d in diags {
        if github {
            let _ = writeln!(out, "{}", redact(&d.github_annotation()));
            continue;
        }
        let text = redact(&d.render(sources.get(&d.file)));
        // Colour only the severity word of the headline.
        let plain = format!(": {}: ", d.severity.as_str());
        let coloured = format!(": {}: ", severity_label(d.severity));
        let _ = write!(out, "{}", text.replacen(&plain, &coloured, 1));
    }
}

const EXAMPLE_CONFIG: &str = "\
# yaml-language-server: $schema=schema/crier.schema.json
project: my-project
apps:
  prod:
    sdkappid: 1400000000
    region: singapore
    admin: administrator
    secret_key_env: CRIER_PROD_SECRET_KEY
    attributes: [level, city]
    daily_quota: 100
    quota_timezone: Asia/Shanghai
    min_interval: 1100ms
  # A local `crier emulator` to try things on (see the README): nothing reaches real phones.
  local:
    sdkappid: 1400000001
    endpoint: http://127.0.0.1:8080
    admin: administrator
    secret_key_env: CRIER_LOCAL_SECRET_KEY
    attributes: [level, city]
defaults:
  timezone: Asia/Shanghai
  grace: 15m
campaigns: campaigns
ledger:
  path: .crier/ledger
";

const EXAMPLE_CAMPAIGN: &str = "\
# yaml-language-server: $schema=../schema/campaign.schema.json
version: 1
name: welcome-weekly
description: Weekly hello to VIP users
app: prod
audience:
  tags:
    all: [vip]
schedule:
  cron: \"0 10 * * MON\"
  timezone: Asia/Shanghai
  grace: 30m
vars:
  greeting: Hello
message:
  body:
    - text: \"{{ greeting }}! New offers for {{ occurrence.weekday }} {{ occurrence.date }}.\"
  offline_push:
    title: New offers
    desc: \"{{ greeting }}, see what is new this week\"
";

/// A one-off due when `crier init` ran, on the local emulator app: `crier apply` sends it at
/// once, so a newcomer sees a push delivered. `{AT}` is replaced by init's time.
const TRY_CAMPAIGN: &str = "\
# yaml-language-server: $schema=../schema/campaign.schema.json
# A one-off that is due right after `crier init`, on the `local` app (a `crier emulator` on
# 127.0.0.1:8080, see the README), so `crier apply` has something to send at once.
# Delete this file before you use a real app.
version: 1
name: try-the-emulator
app: local
audience:
  tags:
    any: [vip, new]
schedule:
  at: \"{AT}\"
  timezone: Asia/Shanghai
  grace: 2h
message:
  body:
    - text: \"Hello from crier, {{ occurrence.weekday }} {{ occurrence.date }}\"
  offline_push:
    title: Hello from crier
    desc: Your first push, sent to the local emulator
";

/// `crier init`: writes the starter files, never overwriting one.
///
/// # Errors
/// A file that already exists, or a write failure.
pub fn init(env: &Env, dir: &Path) -> anyhow::Result<Status> {
    let root = env.cwd.join(dir);
    let at = env
        .clock
        .now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%dT%H:%M:00")
        .to_string();
    let try_campaign = TRY_CAMPAIGN.replace("{AT}", &at);
    let files: [(&str, &str); 5] = [
        ("crier.yaml", EXAMPLE_CONFIG),
        ("campaigns/welcome-weekly.yaml", EXAMPLE_CAMPAIGN),
        ("campaigns/try-the-emulator.yaml", &try_campaign),
        (
            "schema/campaign.schema.json",
            crate::schema::CAMPAIGN_SCHEMA,
        ),
        ("schema/crier.schema.json", crate::schema::CONFIG_SCHEMA),
    ];
    for (name, _) in &files {
        let path = root.join(name);
        anyhow::ensure!(
            !path.exists(),
            "{} already exists; crier init never overwrites a file",
            path.display()
        );
    }
    let mut out = anstream::stdout();
    for (name, text) in files {
        let path = root.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        let _ = writeln!(out, "created {name}");
    }
    let gitignore = root.join(".gitignore");
    let existing = std::fs::read_to_string(&gitignore).unwrap_or_default();
    if !existing
        .lines()
        .any(|l| l.trim() == ".crier/" || l.trim() == ".crier")
    {
        let mut text = existing;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(".crier/\n");
        std::fs::write(&gitignore, text)
            .with_context(|| format!("cannot write {}", gitignore.display()))?;
        let _ = writeln!(out, "added .crier/ to .gitignore");
    }
    let _ = writeln!(
        out,
        "next: try it on a local emulator (nothing reaches real phones):\n  export CRIER_LOCAL_SECRET_KEY=any-local-key\n  crier emulator --listen 127.0.0.1:8080 --sdkappid 1400000001 --admin administrator --secret-key-env CRIER_LOCAL_SECRET_KEY --generate-users 1000 --seed 1 --attr-names level,city &\n  crier plan && crier apply\nthen set up `prod` in crier.yaml (export CRIER_PROD_SECRET_KEY) and delete campaigns/try-the-emulator.yaml"
    );
    Ok(Status::Done)
}
