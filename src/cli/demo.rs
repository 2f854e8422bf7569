//! `crier demo`: see [`crate::demo`]. Runs everything in-process and prints each step.

use super::Status;
use super::apply::{TerminalReporter, summary};
use super::env::Env;
use super::workspace::{load_workspace, validated};
use crate::demo::{self, APPS, ATTRIBUTES, MIN_INTERVAL_MS, SAMPLES, SECRET_VAR, USERS};
use crate::dispatch::{self, ApplyInput, ApplyOptions};
use crate::emulator::{AppConfig, EmulatorConfig, UserSeed};
use crate::ledger::file::FileLedger;
use crate::ledger::view::{self, ListFilter};
use crate::secrets::MapSecrets;
use anyhow::Context as _;
use owo_colors::OwoColorize as _;
use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Keep the temporary folder (crier.yaml, campaigns, ledger) and print where it is.
    #[arg(long)]
    pub keep: bool,
}

fn step(color: bool, text: &str) -> String {
    if color {
        format!("\n{}\n", format!("== {text}").bold())
    } else {
        format!("\n== {text}\n")
    }
}

/// `crier demo`.
///
/// # Errors
/// A failure to set up the temporary folder or the emulator.
pub fn demo(env: &Env, args: &DemoArgs) -> anyhow::Result<Status> {
    let color = super::report::colour_stdout();
    let mut out = anstream::stdout();
    let now = env.clock.now();
    let dir = tempfile::Builder::new()
        .prefix("crier-demo-")
        .tempdir()
        .context("cannot create a temporary folder")?;
    let root = dir.path().to_path_buf();
    let secret = format!("{:032x}", fastrand::u128(..));
    let secrets = MapSecrets::default().with(SECRET_VAR, &secret);
    let samples: Vec<serde_json::Value> = SAMPLES
        .iter()
        .map(|(_, t)| crate::spec::yaml::parse(t).map(|d| d.value))
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("a sample does not parse: {}", e.message))?;
    let users = demo::users(&samples, USERS, 2026);

    let runtime = tokio::runtime::Runtime::new()?;
    let emulator = runtime.block_on(async {
        let apps = APPS
            .iter()
            .map(|(_, sdkappid)| {
                let mut a = AppConfig::new(*sdkappid, "administrator", &secret);
                a.attr_names = ATTRIBUTES.iter().map(|s| (*s).to_owned()).collect();
                a.min_interval = Duration::from_millis(MIN_INTERVAL_MS / 2);
                a.users = UserSeed::Records(users.clone());
                a
            })
            .collect();
        let mut config = EmulatorConfig::new(apps);
        config.clock = Arc::clone(&env.clock);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        crate::emulator::start(listener, config).await
    })?;
    write!(
        out,
        "{}",
        step(
            color,
            "crier demo: the emulator, a temporary repository, plan and apply"
        )
    )?;
    writeln!(
        out,
        "emulator   {} ({} apps, {USERS} generated users, {MIN_INTERVAL_MS}ms pacing instead of the provider's 1.1s)",
        emulator.base_url(),
        APPS.len()
    )?;
    writeln!(out, "repository {}", root.display())?;

    std::fs::write(root.join("crier.yaml"), demo::config(&emulator.base_url()))?;
    std::fs::create_dir_all(root.join("campaigns"))?;
    for (name, text) in SAMPLES {
        std::fs::write(
            root.join("campaigns").join(name),
            demo::move_to_now(text, now)?,
        )?;
    }
    writeln!(
        out,
        "campaigns  {} samples, schedules moved to now ({})",
        SAMPLES.len(),
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )?;

    let demo_env = Env {
        cwd: root.clone(),
        config: None,
        clock: Arc::clone(&env.clock),
    };
    let ws = load_workspace(&demo_env, &[]).context("the demo repository did not load")?;
    let outcome = validated(&ws, "the demo stops")?;
    writeln!(
        out,
        "validate   ok: {} campaigns valid",
        outcome.checked.len()
    )?;

    write!(out, "{}", step(color, "plan, then apply (auto-approved)"))?;
    let options = ApplyOptions {
        auto_approve: true,
        allow_ephemeral_ledger: true,
        ci: None,
        holder: super::lock_holder(demo_env.clock.now()),
        ..ApplyOptions::default()
    };
    let reporter = TerminalReporter::new(color);
    let report = runtime.block_on(dispatch::apply(
        ApplyInput {
            settings: &ws.settings,
            checked: &outcome.checked,
            plan_file: None,
        },
        &options,
        &secrets,
        Arc::clone(&env.clock),
        &reporter,
    ));
    reporter.clear();
    let report = report?;
    write!(out, "{}", summary(&report, color))?;

    write!(out, "{}", step(color, "the ledger (crier ledger list)"))?;
    let ledger = FileLedger::new(root.join(".crier/ledger")).read_sync()?;
    let lines = view::list(&ledger.snapshot, &ListFilter::default());
    let mut campaign_of: HashMap<(u64, u32), String> = HashMap::new();
    for l in &lines {
        writeln!(
            out,
            "{:<10} {}  MsgRandom {}  {}",
            l.state.name(),
            l.id,
            l.msg_random.unwrap_or_default(),
            l.task_id.as_deref().unwrap_or("")
        )?;
    }
    for o in ledger.snapshot.occurrences.values() {
        if let Some(m) = o.msg_random {
            campaign_of.insert((o.key.sdkappid, m), o.key.campaign.clone());
        }
    }

    write!(
        out,
        "{}",
        step(color, "what the emulator delivered (GET /emulator/pushes)")
    )?;
    for p in emulator.pushes() {
        let campaign = campaign_of
            .get(&(p.app, p.msg_random))
            .map_or("?", String::as_str);
        let sample = p
            .recipient_sample
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        writeln!(
            out,
            "{:<22} {:>4} of {USERS} users  e.g. {sample}{}  (TaskId {})",
            campaign,
            p.recipients,
            if p.recipients > 5 { ", …" } else { "" },
            p.task_id
        )?;
    }
    let stats = emulator.stats();
    writeln!(
        out,
        "\nemulator stats: {} accepted, {} deduplicated, rejected {:?}",
        stats.accepted, stats.deduplicated, stats.rejected
    )?;
    runtime.block_on(emulator.shutdown());
    if args.keep {
        let kept = dir.keep();
        writeln!(
            out,
            "\nkept {}: try `crier plan --config {}/crier.yaml` (the emulator has stopped)",
            kept.display(),
            kept.display()
        )?;
    } else {
        writeln!(
            out,
            "\nthe temporary folder is removed; run `crier demo --keep` to look at it"
        )?;
    }
    Ok(report.status().into())
}
