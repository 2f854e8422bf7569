//! `crier apply`: the library flow ([`crate::dispatch::apply()`]) with the process environment
//! (`EnvSecrets`, the clock from `CRIER_NOW` or the system, `CI`), Ctrl-C handling, progress
//! bars on a terminal and the summary.

use super::Status;
use super::env::Env;
use super::workspace::{load_workspace, validated};
use crate::dispatch::{
    self, ApplyInput, ApplyOptions, ApplyReport, Cancel, Confirmation, Event, Outcome, Reporter,
};
use crate::duration::Human;
use crate::plan::Plan;
use anyhow::Context as _;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use owo_colors::OwoColorize as _;
use std::collections::BTreeMap;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// A plan file from `crier plan --out`: execute exactly that plan, or refuse it when stale.
    pub plan_file: Option<PathBuf>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// How long to wait for another apply holding the ledger lock.
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub lock_timeout: String,
    /// Resend in-doubt pushes with their recorded MsgRandom (may deliver twice: see the warning).
    #[arg(long)]
    pub retry_in_doubt: bool,
    /// With CI=true, allow a file ledger (an empty ledger on a fresh runner resends everything within grace).
    #[arg(long)]
    pub allow_ephemeral_ledger: bool,
    /// `json`: the summary as one JSON object on stdout (progress and the plan go to stderr).
    #[arg(long, value_enum, default_value_t = super::validate::DataFormat::Human)]
    pub format: super::validate::DataFormat,
    /// Acknowledge a WILL SEND AGAIN of this campaign: send its push again (repeatable).
    #[arg(long, value_name = "CAMPAIGN", value_delimiter = ',')]
    pub send_again: Vec<String>,
}

/// `crier apply`.
///
/// # Errors
/// Invalid campaigns, an unreadable plan file, and every [`dispatch::ApplyError`].
pub fn apply(env: &Env, args: &ApplyArgs) -> anyhow::Result<Status> {
    let ws = load_workspace(env, &[])?;
    let outcome = validated(&ws, "nothing was sent")?;
    let plan_file = match &args.plan_file {
        Some(path) => {
            let path = env.cwd.join(path);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read the plan file {}", path.display()))?;
            let plan: Plan = serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is not a plan file (write one with `crier plan --out FILE`)",
                    path.display()
                )
            })?;
            Some(plan)
        }
        None => None,
    };
    let lock_timeout = crate::duration::parse(&args.lock_timeout)
        .map_err(|e| anyhow::anyhow!("--lock-timeout: {e}"))?;
    let cancel = Cancel::new();
    let options = ApplyOptions {
        auto_approve: args.auto_approve,
        retry_in_doubt: args.retry_in_doubt,
        lock_timeout,
        allow_ephemeral_ledger: args.allow_ephemeral_ledger,
        send_again: args.send_again.clone(),
        holder: super::lock_holder(env.clock.now()),
        origin: Some(super::origin(&ws.settings.root)),
        ci: std::env::var("CI").ok(),
        cancel: cancel.clone(),
        pause: super::env::paused(),
        ..ApplyOptions::default()
    };
    let json = args.format == super::validate::DataFormat::Json;
    let color = super::report::colour_stdout() && !json;
    let mut reporter = TerminalReporter::new(color);
    // With --format json, stdout carries only the summary object; the plan goes to stderr.
    reporter.plan_to_stderr = json;
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime.block_on(async {
        let on_interrupt = cancel.clone();
        // Ctrl-C and SIGTERM (a CI cancel or timeout, Kubernetes, systemd) alike: finish or
        // record the request in flight, print the summary, exit non-zero.
        let mut interrupts = interrupt_signals()?;
        tokio::spawn(async move {
            if let Some(name) = interrupts.next().await {
                eprintln!(
                    "\ninterrupted ({name}): finishing the request in flight, recording it, then stopping (Ctrl-C again to quit at once)"
                );
                on_interrupt.cancel();
            }
            if interrupts.next().await.is_some() {
                // An intent without an outcome becomes in_doubt at the next lock: still safe.
                std::process::exit(130);
            }
        });
        let ledger = super::workspace::ledger_of(&ws.settings)?;
        dispatch::apply_with_ledger(
            &ledger,
            ApplyInput {
                settings: &ws.settings,
                checked: &outcome.checked,
                plan_file,
            },
            &options,
            &crate::secrets::EnvSecrets,
            std::sync::Arc::clone(&env.clock),
            &reporter,
        )
        .await
        .map_err(anyhow::Error::from)
    });
    reporter.clear();
    let report = report?;
    if json {
        let mut doc = serde_json::to_value(&report)?;
        doc["format_version"] = 1.into();
        doc["counts"] = serde_json::to_value(report.counts())?;
        doc["status"] = serde_json::to_value(report.status())?;
        doc["exit_code"] = report.status().code().into();
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", summary(&report, color));
    }
    Ok(report.status().into())
}

/// SIGINT (Ctrl-C) and SIGTERM, as one stream of signal names.
struct Interrupts {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Interrupts {
    async fn next(&mut self) -> Option<&'static str> {
        tokio::select! {
            s = self.int.recv() => s.map(|()| "SIGINT"),
            s = self.term.recv() => s.map(|()| "SIGTERM"),
        }
    }
}

fn interrupt_signals() -> anyhow::Result<Interrupts> {
    use tokio::signal::unix::{SignalKind, signal};
    Ok(Interrupts {
        int: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
        term: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
    })
}

/// The end-of-run summary: one line of counts, then what needs attention.
#[must_use]
pub fn summary(report: &ApplyReport, color: bool) -> String {
    let c = report.counts();
    let mut out = String::new();
    let headline = if report.interrupted {
        "Apply interrupted"
    } else {
        "Apply complete"
    };
    let headline = if color {
        headline.bold().to_string()
    } else {
        headline.to_owned()
    };
    let mut line = format!(
        "{headline}: {} sent, {} deferred, {} failed, {} in doubt, {} missed",
        c.sent, c.deferred, c.failed, c.in_doubt, c.missed
    );
    for (n, what) in [
        (c.skipped, "skipped"),
        (c.not_sent, "not sent (retried by the next apply)"),
        (c.not_attempted, "not attempted"),
        (c.stopped, "held by a stop"),
    ] {
        if n > 0 {
            line.push_str(&format!(", {n} {what}"));
        }
    }
    out.push_str(&line);
    out.push_str(".\n");
    for o in &report.outcomes {
        let detail = match &o.outcome {
            Outcome::Failed {
                error_code,
                error_info,
                ..
            } => format!("failed: ErrorCode {error_code}: {error_info}"),
            Outcome::InDoubt { reason } => format!(
                "in doubt: {reason}\n    decide: crier ledger resolve {} --sent|--not-sent, or crier apply --retry-in-doubt",
                o.id
            ),
            Outcome::NotSent { reason } => format!("not sent: {reason}"),
            Outcome::AppStopped { reason } => format!("not attempted: app {} {reason}", o.app),
            Outcome::Stopped { reason } => format!("held: {reason}"),
            Outcome::Refused { reason } => format!("refused: {reason}"),
            Outcome::LeftInDoubt { reason } => format!("still in doubt: {reason}"),
            Outcome::Interrupted => "not attempted: interrupted".to_owned(),
            Outcome::Deferred { quota_day, .. } => {
                format!("deferred: quota day {quota_day} of app {} is full", o.app)
            }
            Outcome::Sent { .. } | Outcome::Missed | Outcome::Skipped { .. } => continue,
        };
        out.push_str(&format!("  {}: {detail}\n", o.id));
    }
    for h in &report.held {
        out.push_str(&format!("  {}: held ({}): {}\n", h.id, h.state, h.reason));
    }
    let listed: std::collections::HashSet<&str> =
        report.outcomes.iter().map(|o| o.id.as_str()).collect();
    for id in report
        .in_doubt_remaining
        .iter()
        .filter(|id| !listed.contains(id.as_str()))
    {
        out.push_str(&format!(
            "  {id}: in doubt from an earlier run: crier ledger resolve {id} --sent|--not-sent, or crier apply --retry-in-doubt\n"
        ));
    }
    out
}

/// Progress bars on a terminal (stderr), plain lines otherwise; the plan on stdout.
pub(super) struct TerminalReporter {
    color: bool,
    /// Print the plan on stderr (stdout is kept for a JSON summary).
    pub(super) plan_to_stderr: bool,
    tty: bool,
    multi: MultiProgress,
    bars: Mutex<Option<(ProgressBar, ProgressBar)>>,
    quota: Mutex<BTreeMap<String, u32>>,
}

impl TerminalReporter {
    pub(super) fn new(color: bool) -> Self {
        let tty = std::io::stderr().is_terminal();
        let multi = MultiProgress::with_draw_target(if tty {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        Self {
            color,
            plan_to_stderr: false,
            tty,
            multi,
            bars: Mutex::new(None),
            quota: Mutex::new(BTreeMap::new()),
        }
    }

    /// A line above the bars (or on stderr without a terminal).
    fn line(&self, text: &str) {
        if self.tty
            && self
                .bars
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some()
        {
            let _ = self.multi.println(text);
        } else {
            eprintln!("{text}");
        }
    }

    fn status(&self, text: String) {
        if let Some((main, _)) = &*self.bars.lock().unwrap_or_else(PoisonError::into_inner) {
            main.set_message(text);
        }
    }

    pub(super) fn clear(&self) {
        if let Some((main, quota)) = self
            .bars
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            main.finish_and_clear();
            quota.finish_and_clear();
        }
    }

    fn outcome_line(&self, o: &dispatch::OccurrenceOutcome) -> String {
        let (mark, text) = match &o.outcome {
            Outcome::Sent { task_id, attempts } => (
                "✓",
                format!(
                    "sent {} TaskId {task_id}{}",
                    o.id,
                    if *attempts > 1 {
                        format!(" ({attempts} attempts)")
                    } else {
                        String::new()
                    }
                ),
            ),
            Outcome::Deferred { quota_day, .. } => (
                "…",
                format!("deferred {} (quota day {quota_day} full)", o.id),
            ),
            Outcome::Missed => ("·", format!("missed {} (past grace)", o.id)),
            Outcome::Skipped { why } => ("·", format!("skipped {} ({why})", o.id)),
            other => ("✗", format!("{} {}", other.name().replace('_', " "), o.id)),
        };
        if self.color {
            let mark = match mark {
                "✓" => mark.green().to_string(),
                "✗" => mark.red().to_string(),
                _ => mark.yellow().to_string(),
            };
            format!("{mark} {text}")
        } else {
            format!("{mark} {text}")
        }
    }
}

impl Reporter for TerminalReporter {
    fn event(&self, event: Event<'_>) {
        match event {
            Event::Plan(plan) => {
                let text = crate::plan::format::human(plan, self.color);
                let _ = if self.plan_to_stderr {
                    std::io::stderr().write_all(text.as_bytes())
                } else {
                    std::io::stdout().write_all(text.as_bytes())
                };
            }
            Event::Ledger(w) => self.line(&format!("warning: {w}")),
            Event::Warning(w) => {
                let text = format!("warning: {w}");
                self.line(&if self.color {
                    text.yellow().bold().to_string()
                } else {
                    text
                });
            }
            Event::Start { sends } => {
                if self.tty && sends > 0 {
                    let main = self.multi.add(ProgressBar::new(sends as u64));
                    main.set_style(
                        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {wide_msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_bar())
                            .progress_chars("=> "),
                    );
                    main.enable_steady_tick(Duration::from_millis(100));
                    let quota = self.multi.add(ProgressBar::new_spinner());
                    quota.set_style(
                        ProgressStyle::with_template("  {wide_msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    *self.bars.lock().unwrap_or_else(PoisonError::into_inner) = Some((main, quota));
                }
            }
            Event::Waiting {
                app,
                duration,
                reason,
            } => self.status(format!(
                "waiting {} ({}, app {app})",
                Human(duration),
                reason.describe()
            )),
            Event::Sending {
                id, app, attempt, ..
            } => self.status(format!(
                "sending {id} (app {app}{})",
                if attempt > 1 {
                    format!(", attempt {attempt}")
                } else {
                    String::new()
                }
            )),
            Event::Retrying { id, error } => self.line(&format!("  retrying {id}: {error}")),
            Event::Outcome {
                outcome,
                quota_left,
            } => {
                self.line(&self.outcome_line(outcome));
                let bars = self.bars.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some((main, quota)) = &*bars {
                    main.inc(1);
                    if let Some(left) = quota_left {
                        let mut q = self.quota.lock().unwrap_or_else(PoisonError::into_inner);
                        q.insert(outcome.app.clone(), left);
                        let text: Vec<String> =
                            q.iter().map(|(app, n)| format!("{app}: {n}")).collect();
                        quota.set_message(format!("quota left today: {}", text.join(", ")));
                    }
                }
            }
            Event::AppStopped { app, reason } => {
                self.line(&format!("app {app} stopped for this run: {reason}"));
            }
            Event::Finished(_) => self.clear(),
        }
    }

    fn confirm(&self, plan: &Plan) -> Confirmation {
        ask(&format!(
            "Do you want to perform these actions ({} to send now)?",
            plan.due.len()
        ))
    }
}

/// Asks on the terminal (stderr, stdin); only `yes` approves. No terminal: no answer.
pub(super) fn ask(question: &str) -> Confirmation {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Confirmation::NoTerminal;
    }
    let mut err = std::io::stderr();
    let _ = write!(
        err,
        "\n{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    );
    let _ = err.flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return Confirmation::No;
    }
    if answer.trim() == "yes" {
        Confirmation::Yes
    } else {
        Confirmation::No
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::OccurrenceOutcome;

    #[test]
    fn summary_counts_and_names_what_needs_attention() {
        let o = |id: &str, outcome| OccurrenceOutcome {
            id: id.into(),
            app: "prod".into(),
            campaign: "c".into(),
            outcome,
        };
        let report = ApplyReport {
            outcomes: vec![
                o(
                    "p/1/a@t",
                    Outcome::Sent {
                        task_id: "T".into(),
                        attempts: 1,
                    },
                ),
                o(
                    "p/1/b@t",
                    Outcome::InDoubt {
                        reason: "connection reset".into(),
                    },
                ),
                o("p/1/c@t", Outcome::Missed),
            ],
            in_doubt_remaining: vec!["p/1/old@t".into()],
            ..ApplyReport::default()
        };
        let text = summary(&report, false);
        assert!(
            text.starts_with(
                "Apply complete: 1 sent, 0 deferred, 0 failed, 1 in doubt, 1 missed.\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "  p/1/b@t: in doubt: connection reset\n    decide: crier ledger resolve p/1/b@t"
            ),
            "{text}"
        );
        assert!(
            text.contains("  p/1/old@t: in doubt from an earlier run"),
            "{text}"
        );
        assert!(!text.contains("p/1/a@t"), "{text}");
    }
}
