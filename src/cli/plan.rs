//! `crier plan`.

use super::Status;
use super::env::Env;
use super::workspace::{Workspace, load_workspace, validated};
use anyhow::Context as _;
use clap::ValueEnum;
use std::io::Write as _;
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
    #[arg(long, value_name = "FILE", conflicts_with = "base")]
    pub out: Option<PathBuf>,
    /// Compare with another git revision (its own crier.yaml and campaigns): only the change
    /// view and the upcoming sends of both sides.
    #[arg(long, value_name = "GIT_REF")]
    pub base: Option<String>,
}

/// The base side of `plan --base`: settings and campaigns read from `rev` through git.
pub(super) struct BaseSide {
    pub settings: crate::settings::Settings,
    pub campaigns: Vec<crate::spec::Campaign>,
    pub names: Vec<(
        String,
        std::sync::Arc<std::path::Path>,
        crate::spec::NamePlace,
    )>,
}

pub(super) fn load_base(head: &crate::settings::Settings, rev: &str) -> anyhow::Result<BaseSide> {
    use std::sync::Arc;
    let root = crate::git::toplevel(&head.root)?;
    crate::git::verify(&root, rev)?;
    let rel = |p: &std::path::Path| -> anyhow::Result<String> {
        Ok(p.strip_prefix(&root)
            .with_context(|| {
                format!(
                    "{} is outside the git work tree {}",
                    p.display(),
                    root.display()
                )
            })?
            .to_string_lossy()
            .into_owned())
    };
    let config_rel = rel(&head.config_path)?;
    let text = crate::git::show(&root, rev, &config_rel)?
        .with_context(|| format!("{config_rel} does not exist at {rev}"))?;
    let file: Arc<std::path::Path> =
        Arc::from(std::path::Path::new(&format!("{rev}:{config_rel}")));
    let (settings, diags) = crate::spec::config::parse(&text, &head.config_path, &file);
    let Some(settings) = settings else {
        let first = diags
            .iter()
            .find(|d| d.is_error())
            .map(crate::diag::Diagnostic::headline)
            .unwrap_or_default();
        anyhow::bail!("crier.yaml at {rev} is not valid: {first}");
    };
    let mut campaigns = Vec::new();
    let mut names = Vec::new();
    let mut err = anstream::stderr();
    for f in crate::git::list(&root, rev, &rel(&settings.campaigns_dir)?)? {
        if !crate::load::is_campaign_file(std::path::Path::new(&f)) {
            continue;
        }
        let Some(text) = crate::git::show(&root, rev, &f)? else {
            continue;
        };
        let file: Arc<std::path::Path> = Arc::from(std::path::Path::new(&format!("{rev}:{f}")));
        let parsed = crate::spec::parse_campaign(&file, &text);
        for (name, place) in &parsed.names {
            names.push((name.clone(), Arc::clone(&file), place.clone()));
        }
        match parsed.campaign {
            Some(c) => campaigns.push(c),
            None => writeln!(
                err,
                "warning: {} is not valid; it is left out of the comparison",
                file.display()
            )?,
        }
    }
    Ok(BaseSide {
        settings,
        campaigns,
        names,
    })
}

pub use super::workspace::read_ledger;

/// The longest `--horizon`.
const MAX_HORIZON: std::time::Duration = std::time::Duration::from_secs(366 * 86_400);

/// The loaded workspace, the plan time and the horizon.
pub type Prepared = (
    Workspace,
    chrono::DateTime<chrono::Utc>,
    std::time::Duration,
);

/// Loads the workspace and reads `--at` and `--horizon`.
///
/// # Errors
/// An invalid `crier.yaml`, an unreadable ledger, a bad `--at` or `--horizon`.
pub fn prepare(env: &Env, at: Option<&str>, horizon: &str) -> anyhow::Result<Prepared> {
    let ws = load_workspace(env, &[])?;
    let horizon = crate::duration::parse(horizon).map_err(|e| anyhow::anyhow!("--horizon: {e}"))?;
    anyhow::ensure!(horizon <= MAX_HORIZON, "--horizon: at most 366d");
    let at = match at {
        Some(text) => {
            crate::schedule::parse_time(text, ws.settings.defaults.timezone)
                .context("--at")?
                .at
        }
        None => env.clock.now(),
    };
    Ok((ws, at, horizon))
}

fn print_plan(plan: &crate::plan::Plan, format: PlanFormat) -> anyhow::Result<()> {
    let text = match format {
        PlanFormat::Human => {
            let color = super::report::colour_stdout();
            crate::plan::format::human(plan, color)
        }
        PlanFormat::Markdown => crate::plan::format::markdown(plan),
        PlanFormat::Json => crate::plan::format::json(plan),
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(())
}

/// `crier plan`.
///
/// # Errors
/// See [`prepare`].
pub fn plan(env: &Env, args: &PlanArgs) -> anyhow::Result<Status> {
    let (mut ws, at, horizon) = prepare(env, args.at.as_deref(), &args.horizon)?;
    let outcome = validated(&ws, "no plan was made (crier validate shows warnings too)")?;
    if let Some(rev) = &args.base {
        let base = load_base(&ws.settings, rev)?;
        let base_outcome =
            crate::validate::validate(&base.settings, &base.campaigns, &[], &base.names);
        // The shared ledger (a read-only role is enough) makes quota used and WILL SEND AGAIN
        // right; without it (a fork's pull request, a fresh checkout) the view still works.
        let (shared, ledger_read) = match read_ledger(&ws.settings) {
            Ok(read) => (read.snapshot, true),
            Err(e) => {
                writeln!(
                    anstream::stderr(),
                    "warning: {e:#}; the comparison goes on without the ledger (quota used and WILL SEND AGAIN of earlier sends are not shown)"
                )?;
                (crate::ledger::fold::LedgerSnapshot::default(), false)
            }
        };
        let head = crate::plan::Input {
            settings: &ws.settings,
            checked: &outcome.checked,
            ledger: &shared,
            at,
            horizon,
        };
        let base_input = crate::plan::Input {
            settings: &base.settings,
            checked: &base_outcome.checked,
            // The same ledger: the quota before the change counts what was used too.
            ledger: &shared,
            at,
            horizon,
        };
        let plan = crate::plan::compare(&head, &base_input, rev, ledger_read);
        print_plan(&plan, args.format)?;
        return Ok(if plan.blocked_by_policy() {
            Status::Failed
        } else if plan.changes.affects_future_sends() {
            Status::Pending
        } else {
            Status::Done
        });
    }
    let ledger = read_ledger(&ws.settings)?;
    let mut err = anstream::stderr();
    for w in &ledger.warnings {
        writeln!(err, "warning: {w}")?;
    }
    // Normalised, the campaigns' generic documents are read no further but for their
    // `message`: the rest goes before the sends are rendered (BENCHMARKS.md, plan memory).
    let normalized = crate::plan::normalize_all(&outcome.checked, &ws.settings);
    let detached: Vec<crate::validate::Detached> = outcome
        .checked
        .into_iter()
        .map(|c| c.detach(&ws.set.campaigns))
        .collect();
    for campaign in &mut ws.set.campaigns {
        campaign.keep_only_message();
    }
    let checked: Vec<crate::validate::Checked<'_>> = detached
        .into_iter()
        .map(|d| d.attach(&ws.set.campaigns, &ws.settings))
        .collect();
    let plan = crate::plan::build_with(
        &crate::plan::Input {
            settings: &ws.settings,
            checked: &checked,
            ledger: &ledger.snapshot,
            at,
            horizon,
        },
        normalized,
    );
    let text = match args.format {
        PlanFormat::Human => {
            let color = super::report::colour_stdout();
            crate::plan::format::human(&plan, color)
        }
        PlanFormat::Markdown => crate::plan::format::markdown(&plan),
        PlanFormat::Json => crate::plan::format::json(&plan),
    };
    std::io::stdout().write_all(text.as_bytes())?;
    if let Some(out) = &args.out {
        let path = env.cwd.join(out);
        write_plan_file(&path, &plan)
            .with_context(|| format!("cannot write the plan file {}", path.display()))?;
        writeln!(err, "plan file written to {}", out.display())?;
    }
    let status = if plan.blocked_by_policy() {
        Status::Failed
    } else if plan.has_pending_work() {
        Status::Pending
    } else {
        Status::Done
    };
    super::workspace::leak_at_exit(plan);
    super::workspace::leak_at_exit(ledger);
    super::workspace::leak_at_exit(checked);
    super::workspace::leak_at_exit(ws);
    Ok(status)
}

/// Writes the plan file: the bytes of [`crate::plan::format::json`], streamed to the file
/// instead of built in memory first (the plan of 10,000 campaigns is about 55 MB of text).
fn write_plan_file(path: &std::path::Path, plan: &crate::plan::Plan) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    crate::plan::format::write_json(&mut out, plan)?;
    out.flush()?;
    Ok(())
}
