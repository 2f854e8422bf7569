//! Loading the campaign repository for a command: `crier.yaml`, the campaign set, validation.

use super::env::Env;
use super::report::Invalid;
use crate::diag::Diagnostic;
use crate::load::{self, CampaignSet, Sources};
use crate::settings::Settings;
use std::path::PathBuf;

/// The campaign repository as loaded: settings, campaigns, their texts, and warnings so far.
pub struct Workspace {
    pub settings: Settings,
    pub set: CampaignSet,
    pub sources: Sources,
    pub config_warnings: Vec<Diagnostic>,
}

impl Workspace {
    /// Every rule over the loaded campaigns (nothing printed; see [`validated`] for the
    /// commands that refuse to go on with errors).
    #[must_use]
    pub fn validation(&self) -> crate::validate::Validation<'_> {
        crate::validate::validate(
            &self.settings,
            &self.set.campaigns,
            &self.set.unparsed,
            &self.set.names,
        )
    }
}

/// Ends the life of a command's large values without freeing them one by one: the process exits
/// right after the command. Freeing 10,000 loaded campaigns took a seventh of `validate`'s time,
/// on one thread, after the work was done (BENCHMARKS.md). Only for values a command holds until
/// it returns (never in a loop, never in the library).
pub fn leak_at_exit<T>(value: T) {
    std::mem::forget(value);
}

/// Loads `crier.yaml` and the campaign set (the campaigns folder plus `extra` paths).
///
/// # Errors
/// [`Invalid`] with the configuration's diagnostics.
pub fn load_workspace(env: &Env, extra: &[PathBuf]) -> anyhow::Result<Workspace> {
    // The campaign schema compiles (about 3 ms) on the thread pool, which starts meanwhile,
    // while this thread reads crier.yaml and lists the campaign files.
    rayon::spawn(|| crate::schema::warm(crate::schema::Kind::Campaign));
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

/// Validates the whole set; on any error prints the errors (not the warnings: `crier validate`
/// shows those) and fails with `refusal`, which says what was not done.
///
/// # Errors
/// The set has errors.
pub fn validated<'w>(
    ws: &'w Workspace,
    refusal: &str,
) -> anyhow::Result<crate::validate::Validation<'w>> {
    let outcome = ws.validation();
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

/// The ledger `crier.yaml` names, its URL read from the environment here (the edge).
///
/// # Errors
/// `ledger.postgres_url_env` names a variable that is unset or empty.
pub fn ledger_of(settings: &Settings) -> anyhow::Result<crate::ledger::AnyLedger> {
    let url = match &settings.ledger {
        crate::settings::LedgerSettings::Postgres { url_env, .. } => std::env::var(url_env).ok(),
        crate::settings::LedgerSettings::File { .. } => None,
    };
    Ok(crate::ledger::ledger_for(&settings.ledger, url)?)
}

/// A runtime for a command's ledger calls (a PostgreSQL ledger's connections live on it).
///
/// # Errors
/// The runtime cannot start.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Reads the ledger the settings name, without taking its lock.
///
/// # Errors
/// An unreadable or corrupt ledger, an unset URL variable, an unreachable database.
pub fn read_ledger(settings: &Settings) -> anyhow::Result<crate::ledger::LedgerRead> {
    use crate::ledger::Ledger as _;
    let ledger = ledger_of(settings)?;
    runtime()?
        .block_on(ledger.read())
        .map_err(anyhow::Error::from)
        .map_err(|e| e.context(format!("cannot read the {}", ledger.describe())))
}
