//! The command line: clap definitions, settings resolution, output. The only module that prints.
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_macros,
    reason = "cli is the process edge: it reads the environment, argv, files and the clock, and is the only module that prints"
)]

mod apply;
mod delivery;
mod demo;
mod doctor;
mod env;
mod init;
mod ledger;
mod plan;
mod preview;
mod process;
mod recall;
mod report;
mod send_test;
mod stop;
mod validate;
mod workspace;

pub use process::{lock_holder, origin};

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Declarative push campaigns for Tencent Cloud Chat.
#[derive(Debug, Parser)]
#[command(name = "crier", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Path to crier.yaml (default: ./crier.yaml).
    ///
    /// `crier schema --config` (no PATH) prints the schema of crier.yaml instead (spec §3).
    #[arg(long, global = true, value_name = "PATH", num_args = 0..=1)]
    pub config: Option<Option<PathBuf>>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole main job on a fresh machine: emulator in-process, sample campaigns, plan, apply.
    Demo(demo::DemoArgs),
    /// Check every campaign: schema, API limits, templates, schedules, the whole set.
    Validate(validate::ValidateArgs),
    /// What `apply` would do: due, missed, in-doubt and upcoming pushes, quota, changes.
    Plan(plan::PlanArgs),
    /// Send what is due, paced and within quota, recording every step in the ledger.
    Apply(apply::ApplyArgs),
    /// Print the exact request of a campaign's first occurrence at or after a time.
    Render(validate::RenderArgs),
    /// What was sent, when, with which TaskId; in-doubt and deferred sends; the lock holder.
    Status(ledger::StatusArgs),
    /// Inspect the ledger and record operators' decisions.
    #[command(subcommand)]
    Ledger(ledger::LedgerCommand),
    /// Check the setup against the provider: config, secrets, UserSig, attribute names,
    /// ledger, clock.
    Doctor(doctor::DoctorArgs),
    /// Send a campaign's notification to named accounts (v4/timpush/batch) to look at it on
    /// real phones; recorded as a test send.
    SendTest(send_test::SendTestArgs),
    /// Recall a sent push (v4/timpush/revoke, within 24 h), replacing its notification.
    Recall(recall::RecallArgs),
    /// Delivery statistics of the recorded pushes (all_member_push_statistics).
    Report(delivery::ReportArgs),
    /// Write one self-contained HTML page drawing each campaign's push on phones and in the
    /// chat (before and after with --base), for a CI artifact.
    Preview(preview::PreviewArgs),
    /// Emergency stop of an app, recorded in the ledger: no apply sends on it (running ones
    /// included on a shared ledger) until `crier resume`.
    Stop(stop::StopArgs),
    /// Lift an app's emergency stop.
    Resume(stop::ResumeArgs),
    /// Print a UserSig for the configured admin (the one command that shows a secret).
    Usersig(UsersigArgs),
    /// Run a local server that behaves like the push API family.
    Emulator(crate::emulator::EmulatorArgs),
    /// Print the JSON Schema of campaign files (or of crier.yaml with --config).
    Schema(SchemaArgs),
    /// Print shell completions.
    Completions(CompletionsArgs),
    /// Create crier.yaml, an example campaign, schema copies and a .gitignore entry.
    Init(InitArgs),
}

#[derive(Debug, clap::Args)]
pub struct UsersigArgs {
    /// The app (default: the only one configured).
    #[arg(long)]
    pub app: Option<String>,
    /// How long the UserSig is valid.
    #[arg(long, default_value = "1d")]
    pub expire: String,
}

#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// Print the schema of crier.yaml instead of the campaign schema.
    #[arg(long = "config-schema")]
    pub config_schema: bool,
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: Shell,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The folder to initialise (default: the current directory).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

/// What a command wants the process to exit with (Terraform's -detailed-exitcode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 0: nothing to do, or all done.
    Done,
    /// 2: work pending.
    Pending,
    /// 1: an error that was already reported.
    Failed,
}

impl From<crate::dispatch::ExitStatus> for Status {
    fn from(s: crate::dispatch::ExitStatus) -> Self {
        match s {
            crate::dispatch::ExitStatus::Done => Self::Done,
            crate::dispatch::ExitStatus::Deferred => Self::Pending,
            crate::dispatch::ExitStatus::Failed => Self::Failed,
        }
    }
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> Self {
        match s {
            Status::Done => Self::SUCCESS,
            Status::Pending => Self::from(2),
            Status::Failed => Self::FAILURE,
        }
    }
}

/// Parses the arguments, runs one command, and turns the outcome into the exit code.
#[must_use]
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` are answers, not errors; every usage error exits 1,
            // never 2, which means "work pending" (spec §3).
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // The one logger of the process. Without CRIER_LOG only crier's own warnings (and the
    // emulator's request log): libraries (rustls, hyper) report through crier's errors, never
    // as stray log lines.
    let default_filter = if matches!(cli.command, Command::Emulator(_)) {
        "crier=info"
    } else {
        "crier=warn"
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CRIER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let report = report_of(&cli.command);
    match run(cli) {
        Ok(status) => status.into(),
        // The reader went away (`crier status | head`): nothing to say, and nowhere to say it.
        Err(e) if is_broken_pipe(&e) => ExitCode::FAILURE,
        Err(e) => {
            report::print_failure(&e, report);
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// How the command reports failures: JSON when it was asked for JSON (errors included).
fn report_of(command: &Command) -> report::Report {
    use report::Report;
    use validate::{DataFormat, ValidateFormat};
    let data = |f: DataFormat| {
        if f == DataFormat::Json {
            Report::Json
        } else {
            Report::Human
        }
    };
    match command {
        Command::Validate(a) => match a.format {
            ValidateFormat::Json => Report::Json,
            ValidateFormat::Github => Report::Github,
            ValidateFormat::Human => Report::Human,
        },
        Command::Plan(a) if a.format == plan::PlanFormat::Json => Report::Json,
        Command::Apply(a) => data(a.format),
        Command::Render(a) => data(a.format),
        Command::Status(a) => data(a.format),
        Command::Doctor(a) => data(a.format),
        Command::SendTest(a) => data(a.format),
        Command::Recall(a) => data(a.format),
        Command::Report(a) => data(a.format),
        Command::Ledger(ledger::LedgerCommand::List(a)) => data(a.format),
        Command::Ledger(ledger::LedgerCommand::Show(a)) => data(a.format),
        _ => Report::Human,
    }
}

fn run(cli: Cli) -> anyhow::Result<Status> {
    let schema_of_config = matches!(cli.config, Some(None));
    anyhow::ensure!(
        !schema_of_config || matches!(cli.command, Command::Schema(_)),
        "--config needs a PATH (to crier.yaml)"
    );
    let env = env::Env::from_process(cli.config.flatten())?;
    match cli.command {
        Command::Demo(args) => demo::demo(&env, &args),
        Command::Validate(args) => validate::validate(&env, &args),
        Command::Plan(args) => plan::plan(&env, &args),
        Command::Apply(args) => apply::apply(&env, &args),
        Command::Render(args) => validate::render(&env, &args),
        Command::Status(args) => ledger::status(&env, &args),
        Command::Ledger(cmd) => ledger::ledger(&env, &cmd),
        Command::Doctor(args) => doctor::doctor(&env, &args),
        Command::SendTest(args) => send_test::send_test(&env, &args),
        Command::Recall(args) => recall::recall(&env, &args),
        Command::Report(args) => delivery::report(&env, &args),
        Command::Preview(args) => preview::preview(&env, &args),
        Command::Stop(args) => {
            stop::stop_or_resume(&env, &args.app, Some(&args.reason), &args.lock_timeout)
        }
        Command::Resume(args) => stop::stop_or_resume(&env, &args.app, None, &args.lock_timeout),
        Command::Usersig(args) => {
            let settings = workspace::load_settings_only(&env)?;
            let expire = crate::duration::parse(&args.expire)
                .map_err(|e| anyhow::anyhow!("--expire: {e}"))?;
            let sig = crate::usersig_cmd::usersig_for(
                &settings,
                args.app.as_deref(),
                expire,
                &crate::secrets::EnvSecrets,
                env.clock.now(),
            )?;
            println!("{sig}");
            Ok(Status::Done)
        }
        Command::Emulator(args) => {
            // Prints `listening on http(s)://ADDR` as the first line of stdout and, with
            // `--tls-self-signed`, `ca_file: PATH` as the second; runs until Ctrl-C.
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                let handle = crate::emulator::start_cli(&args, &crate::secrets::EnvSecrets).await?;
                let mut out = std::io::stdout().lock();
                writeln!(out, "listening on {}", handle.base_url())?;
                if let Some(path) = handle.cert_path() {
                    writeln!(out, "ca_file: {}", path.display())?;
                }
                out.flush()?;
                drop(out);
                tokio::signal::ctrl_c()
                    .await
                    .context("waiting for Ctrl-C")?;
                handle.shutdown().await;
                anyhow::Ok(())
            })?;
            Ok(Status::Done)
        }
        Command::Schema(args) => {
            let text = if args.config_schema || schema_of_config {
                crate::schema::CONFIG_SCHEMA
            } else {
                crate::schema::CAMPAIGN_SCHEMA
            };
            print!("{text}");
            Ok(Status::Done)
        }
        Command::Completions(args) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let shell = match args.shell {
                Shell::Bash => clap_complete::Shell::Bash,
                Shell::Zsh => clap_complete::Shell::Zsh,
                Shell::Fish => clap_complete::Shell::Fish,
            };
            clap_complete::generate(shell, &mut cmd, "crier", &mut std::io::stdout());
            Ok(Status::Done)
        }
        Command::Init(args) => init::init(&env, &args.dir),
    }
}

#[cfg(test)]
mod pipe_tests {
    #[test]
    fn a_closed_reader_is_told_apart_from_other_failures() {
        let pipe = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("writing the plan");
        assert!(super::is_broken_pipe(&pipe));
        let other = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::NotFound));
        assert!(!super::is_broken_pipe(&other));
    }
}
