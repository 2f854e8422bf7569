//! `crier status` and `crier ledger list|show|resolve`.

use super::Status as Exit;
use super::env::Env;
use super::validate::DataFormat;
use crate::ledger::AnyLedger;
use crate::ledger::record::StateKind;
use crate::ledger::view::{self, Decision, ListFilter, OccurrenceLine};
use crate::ledger::{Ledger as _, LedgerWriter as _};
use anyhow::Context as _;
use chrono::SecondsFormat;
use std::io::Write as _;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[arg(long, value_enum, default_value_t = DataFormat::Human)]
    pub format: DataFormat,
}

#[derive(Debug, clap::Subcommand)]
pub enum LedgerCommand {
    /// Occurrences in the ledger, one per line.
    List(ListArgs),
    /// One occurrence with its whole history (by id, a unique prefix of it, or a TaskId).
    Show(ShowArgs),
    /// Record an operator's decision about an in-doubt (or failed) send.
    Resolve(ResolveArgs),
    /// Write the whole ledger as JSON lines (to FILE, or stdout); prints the record count and hash.
    Export(ExportArgs),
    /// Load an export into an empty ledger (also how a damaged ledger is restored); prints the
    /// record count and hash.
    Import(ImportArgs),
    /// Bring the ledger's schema up to this build's (a file ledger's records carry their schema
    /// version and need no migration).
    Migrate,
    /// Take the writer lock from a holder that hangs (like `terraform force-unlock`): its session
    /// is ended and it can never append again.
    Unlock(UnlockArgs),
}

#[derive(Debug, clap::Args)]
pub struct UnlockArgs {
    /// The app whose lock to take: its name in crier.yaml, or an sdkappid (another
    /// project's app). When no writer holds it but one holds the whole ledger, that lock is
    /// taken.
    pub app: String,
    /// Required: the holder loses its lock at once.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Where to write (default: stdout).
    pub file: Option<std::path::PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// An export (`crier ledger export FILE`).
    pub file: std::path::PathBuf,
    /// How long to wait for another process holding the ledger lock.
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub lock_timeout: String,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only these states (sent, in_doubt, deferred, …); repeatable.
    #[arg(long = "state")]
    pub states: Vec<StateKind>,
    #[arg(long)]
    pub campaign: Option<String>,
    #[arg(long)]
    pub app: Option<String>,
    #[arg(long, value_enum, default_value_t = DataFormat::Human)]
    pub format: DataFormat,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    pub id: String,
    #[arg(long, value_enum, default_value_t = DataFormat::Human)]
    pub format: DataFormat,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("decision").required(true).args(["sent", "not_sent"])))]
pub struct ResolveArgs {
    /// The occurrence id (or a unique prefix).
    pub id: String,
    /// It reached the provider.
    #[arg(long)]
    pub sent: bool,
    /// The provider's TaskId, when known (with --sent).
    #[arg(long, conflicts_with = "not_sent")]
    pub task_id: Option<String>,
    /// It never reached the provider: the next apply sends it again while within grace.
    #[arg(long)]
    pub not_sent: bool,
    /// A note kept with the decision.
    #[arg(long)]
    pub note: Option<String>,
    /// How long to wait for the ledger lock.
    #[arg(long, default_value = "60s")]
    pub lock_timeout: String,
}

fn line_text(l: &OccurrenceLine) -> String {
    // The detail names the TaskId when the state has one; say it once.
    let task = l
        .task_id
        .as_ref()
        .filter(|t| !l.detail.contains(t.as_str()))
        .map(|t| format!("  TaskId {t}"))
        .unwrap_or_default();
    format!("{:<18} {}  {}{task}", l.state.name(), l.id, l.detail)
}

/// `crier status`.
///
/// # Errors
/// An unreadable ledger or configuration.
pub fn status(env: &Env, args: &StatusArgs) -> anyhow::Result<Exit> {
    let settings = super::workspace::load_settings_only(env)?;
    let ledger = super::workspace::ledger_of(&settings)?;
    let rt = super::workspace::runtime()?;
    let read = rt
        .block_on(ledger.read())
        .context("cannot read the ledger")?;
    let locks = rt.block_on(ledger.locks())?;
    let st = view::status(&read.snapshot, locks, &read.warnings).with_apps(
        &read.snapshot,
        &settings,
        env.clock.now(),
    );
    let mut out = anstream::stdout();
    match args.format {
        DataFormat::Json => {
            let mut v = serde_json::to_value(&st)?;
            v["format_version"] = 1.into();
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        DataFormat::Human => {
            writeln!(out, "{} (seq {})", ledger.describe(), st.seq)?;
            let counts: Vec<String> = st
                .counts
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(k, n)| format!("{} {n}", k.name()))
                .collect();
            writeln!(
                out,
                "occurrences: {}",
                if counts.is_empty() {
                    "none".to_owned()
                } else {
                    counts.join(", ")
                }
            )?;
            for a in &st.last_applied {
                writeln!(
                    out,
                    "last apply of {}: {} (seq {}, {} campaign{})",
                    a.project,
                    a.at.to_rfc3339_opts(SecondsFormat::Secs, true),
                    a.seq,
                    a.campaigns,
                    if a.campaigns == 1 { "" } else { "s" }
                )?;
            }
            for a in &st.apps {
                writeln!(
                    out,
                    "app {} ({}): quota day {} ({}): used {} of {}{}, {} left{}",
                    a.app,
                    a.sdkappid,
                    a.quota_day,
                    a.quota_timezone,
                    a.used,
                    a.limit,
                    if a.used_by_others > 0 {
                        format!(" ({} by other projects)", a.used_by_others)
                    } else {
                        String::new()
                    },
                    a.left,
                    match (a.stopped, a.paused) {
                        (true, _) => "; STOPPED",
                        (false, true) => "; paused in crier.yaml",
                        (false, false) => "",
                    }
                )?;
                for s in &a.last_sends {
                    writeln!(
                        out,
                        "  {} {} {}{}",
                        s.at.to_rfc3339_opts(SecondsFormat::Secs, true),
                        s.id,
                        s.state.name(),
                        s.task_id
                            .as_ref()
                            .map(|t| format!(" TaskId {t}"))
                            .unwrap_or_default()
                    )?;
                }
            }
            for stop in &st.stops {
                writeln!(
                    out,
                    "STOPPED: app {} ({}) by {} at {}: {} (`crier resume {}`)",
                    stop.value.app,
                    stop.value.sdkappid,
                    stop.value.by,
                    stop.at.to_rfc3339_opts(SecondsFormat::Secs, true),
                    stop.value.reason,
                    stop.value.app
                )?;
            }
            if st.locks.is_empty() {
                writeln!(out, "lock: free")?;
            }
            for l in &st.locks {
                match l.sdkappid {
                    None => writeln!(out, "lock: held by {l}")?,
                    Some(app) => writeln!(out, "lock of app {app}: held by {l}")?,
                }
            }
            if !st.needs_decision.is_empty() {
                writeln!(
                    out,
                    "\nneeds a decision ({}): crier ledger resolve ID --sent [--task-id T] | --not-sent",
                    st.needs_decision.len()
                )?;
                for l in &st.needs_decision {
                    writeln!(out, "  {}", line_text(l))?;
                }
            }
            if !st.refused.is_empty() {
                writeln!(
                    out,
                    "\nrefused by the provider ({}): nothing was delivered; while within grace the next apply sends it again once the cause is fixed (key, admin, attribute names) or, for a request error, once the campaign changes; `crier plan` says which",
                    st.refused.len()
                )?;
                for l in &st.refused {
                    writeln!(out, "  {}", line_text(l))?;
                }
            }
            if !st.deferred.is_empty() {
                writeln!(
                    out,
                    "\ndeferred to a later quota day ({}):",
                    st.deferred.len()
                )?;
                for l in &st.deferred {
                    writeln!(out, "  {}", line_text(l))?;
                }
            }
            for w in &st.warnings {
                writeln!(out, "warning: {w}")?;
            }
        }
    }
    Ok(Exit::Done)
}

/// `crier ledger …`.
///
/// # Errors
/// An unreadable ledger, an unknown occurrence, a refused resolution, a lock timeout.
pub fn ledger(env: &Env, cmd: &LedgerCommand) -> anyhow::Result<Exit> {
    let settings = super::workspace::load_settings_only(env)?;
    let ledger = super::workspace::ledger_of(&settings)?;
    let rt = super::workspace::runtime()?;
    let mut out = anstream::stdout();
    match cmd {
        LedgerCommand::List(args) => {
            let read = rt
                .block_on(ledger.read_history())
                .context("cannot read the ledger")?;
            let filter = ListFilter {
                states: args.states.clone(),
                campaign: args.campaign.clone(),
                app: args.app.clone(),
            };
            let lines = view::list(&read.snapshot, &filter);
            match args.format {
                DataFormat::Json => writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"format_version": 1, "occurrences": lines})
                    )?
                )?,
                DataFormat::Human => {
                    for l in &lines {
                        writeln!(out, "{}", line_text(l))?;
                    }
                    if lines.is_empty() {
                        writeln!(out, "no occurrences")?;
                    }
                }
            }
        }
        LedgerCommand::Show(args) => {
            let read = rt
                .block_on(ledger.read_history())
                .context("cannot read the ledger")?;
            let o = match view::find(&read.snapshot, &args.id) {
                Ok(o) => o,
                Err(e) => view::find_by_task_id(&read.snapshot, &args.id).ok_or(e)?,
            };
            match args.format {
                DataFormat::Json => {
                    let v = serde_json::json!({"format_version": 1, "occurrence": OccurrenceLine::of(o), "msg_random": o.msg_random, "content_hash": o.content_hash, "request": o.request(), "history": o.history});
                    writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
                }
                DataFormat::Human => {
                    writeln!(
                        out,
                        "{}\n  app {}  state {}  attempts {}",
                        o.id,
                        o.app,
                        o.kind().name(),
                        o.attempts
                    )?;
                    if let Some(m) = o.msg_random {
                        writeln!(out, "  MsgRandom {m}")?;
                    }
                    if let Some(t) = &o.task_id {
                        writeln!(out, "  TaskId {t}")?;
                    }
                    writeln!(out, "history:")?;
                    for h in &o.history {
                        writeln!(
                            out,
                            "  #{:<5} {}  {}",
                            h.seq,
                            h.at.to_rfc3339_opts(SecondsFormat::Millis, true),
                            view::describe_state(&h.value)
                        )?;
                    }
                    if let Some(r) = o.request() {
                        writeln!(out, "request:\n  {r}")?;
                    }
                }
            }
        }
        LedgerCommand::Export(args) => {
            let export = rt
                .block_on(ledger.export())
                .context("cannot export the ledger")?;
            let summary = format!("exported {} records, {}", export.records(), export.hash);
            match &args.file {
                Some(file) => {
                    let path = env.cwd.join(file);
                    std::fs::write(&path, &export.bytes)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    writeln!(out, "{summary} to {}", path.display())?;
                }
                None => {
                    out.write_all(&export.bytes)?;
                    // The data is on stdout; the count and hash go to stderr.
                    writeln!(anstream::stderr(), "{summary}")?;
                }
            }
        }
        LedgerCommand::Import(args) => {
            let timeout = crate::duration::parse(&args.lock_timeout)
                .map_err(|e| anyhow::anyhow!("--lock-timeout: {e}"))?;
            let path = env.cwd.join(&args.file);
            let bytes =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let export = crate::ledger::Export::check(bytes)
                .with_context(|| format!("{} is not a ledger export", path.display()))?;
            rt.block_on(ledger.import(
                &export,
                &crate::cli::lock_holder(env.clock.now()),
                timeout.max(Duration::from_millis(1)),
            ))
            .with_context(|| format!("cannot import into the {}", ledger.describe()))?;
            writeln!(
                out,
                "imported {} records, {} into {}",
                export.records(),
                export.hash,
                ledger.describe()
            )?;
        }
        LedgerCommand::Migrate => {
            let done = rt.block_on(ledger.migrate())?;
            writeln!(out, "{done}")?;
        }
        LedgerCommand::Unlock(args) => {
            anyhow::ensure!(
                args.force,
                "`crier ledger unlock {}` needs --force: the holder loses its lock at once",
                args.app
            );
            match &ledger {
                AnyLedger::File(_) => anyhow::bail!(
                    "the {} is locked with flock, which the operating system releases when its holder ends, however it ends; to take it, end the holder (see `crier status` for its pid and host)",
                    ledger.describe()
                ),
                AnyLedger::Postgres(pg) => {
                    let sdkappid = match args.app.parse::<u64>() {
                        Ok(n) => n,
                        Err(_) => settings.apps.get(&args.app).map(|a| a.sdkappid).ok_or_else(|| {
                            anyhow::anyhow!(
                                "no app `{}` in {}: name one of its apps ({}) or give an sdkappid",
                                args.app,
                                settings.config_path.display(),
                                settings.apps.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
                            )
                        })?,
                    };
                    match rt.block_on(pg.force_unlock(sdkappid))? {
                        Some(held) => writeln!(
                            out,
                            "unlocked {} of the {}: ended the session of {held}; it can never append again",
                            held.sdkappid.map_or_else(
                                || "the whole-ledger lock".to_owned(),
                                |a| format!("the lock of app {a}")
                            ),
                            ledger.describe(),
                        )?,
                        None => writeln!(
                            out,
                            "no writer holds the lock of app {sdkappid} (or the whole {})",
                            ledger.describe()
                        )?,
                    }
                }
            }
        }
        LedgerCommand::Resolve(args) => {
            let timeout = crate::duration::parse(&args.lock_timeout)
                .map_err(|e| anyhow::anyhow!("--lock-timeout: {e}"))?;
            let now = env.clock.now();
            let mut writer = rt.block_on(ledger.lock(
                crate::cli::lock_holder(now),
                timeout.max(Duration::from_millis(1)),
                env.clock.as_ref(),
            ))?;
            let decision = if args.sent {
                Decision::Sent {
                    task_id: args.task_id.clone(),
                }
            } else {
                Decision::NotSent
            };
            let by = std::env::var("USER").unwrap_or_else(|_| "operator".to_owned());
            let body = view::resolution(
                writer.snapshot(),
                &args.id,
                decision,
                &by,
                args.note.clone(),
            )?;
            let record = rt.block_on(writer.append(now, body))?;
            writeln!(
                out,
                "recorded #{}: {}",
                record.seq,
                match &record.body {
                    crate::ledger::record::RecordBody::Occurrence(o) =>
                        format!("{} {}", o.key.id(), view::describe_state(&o.state)),
                    _ => String::new(),
                }
            )?;
        }
    }
    Ok(Exit::Done)
}
