//! What the benches share: a campaign repository of one-offs due now against an in-process
//! emulator, and the release binary run in it.
#![allow(dead_code, reason = "each bench uses part of it")]

use std::path::Path;
use std::process::Command;

use chrono::Utc;
use crier::emulator::{AppConfig, EmulatorConfig, EmulatorHandle};

/// The secret key of the benches' emulated app.
pub const KEY: &str = "bench-secret-key-0123456789abcdef";

/// A repository beside an in-process emulator serving `app` (sdkappid 1400000000, admin
/// `admin`, key [`KEY`]), with `pushes` one-offs due now (named `{prefix}NNNN`).
pub struct DueNow {
    pub emu: EmulatorHandle,
    pub repo: tempfile::TempDir,
    /// The real time the one-offs are due at (the emulator checks UserSigs against its own
    /// clock, so benches run at the real time, not a fixed one in the past).
    pub now: String,
}

impl DueNow {
    /// `app_yaml`: extra lines of the app in `crier.yaml` (indented four spaces); `ledger`: the
    /// `ledger:` line.
    pub async fn start(
        root: &Path,
        app: AppConfig,
        app_yaml: &str,
        ledger: &str,
        pushes: usize,
        prefix: &str,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let emu = crier::emulator::start(listener, EmulatorConfig::new(vec![app]))
            .await
            .unwrap();
        let repo = tempfile::tempdir_in(root).unwrap();
        std::fs::write(
            repo.path().join("crier.yaml"),
            format!(
                "project: bench\napps:\n  prod:\n    sdkappid: 1400000000\n    endpoint: {}\n    admin: admin\n    secret_key_env: BENCH_KEY\n{app_yaml}defaults: {{timezone: UTC, grace: 1h}}\n{ledger}\n",
                emu.base_url()
            ),
        )
        .unwrap();
        std::fs::create_dir(repo.path().join("campaigns")).unwrap();
        let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        for i in 0..pushes {
            std::fs::write(
                repo.path().join(format!("campaigns/{prefix}{i:04}.yaml")),
                format!(
                    "version: 1\nname: {prefix}{i:04}\naudience: {{all: true}}\nschedule: {{at: \"{now}\"}}\nmessage:\n  body:\n    - text: \"hello {i}\"\n"
                ),
            )
            .unwrap();
        }
        Self { emu, repo, now }
    }

    /// `crier ARGS` (the release binary) in the repository, at [`Self::now`], with the key.
    pub fn crier(&self, args: &[&str]) -> Command {
        let mut cmd = crier_in(self.repo.path(), args, &self.now, None);
        cmd.env("BENCH_KEY", KEY);
        cmd
    }
}

/// `crier ARGS` (the release binary) in `repo` at `now`, without colours or `CI`, with the
/// PostgreSQL ledger's URL when given.
pub fn crier_in(repo: &Path, args: &[&str], now: &str, url: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_crier"));
    cmd.args(args)
        .current_dir(repo)
        .env("CRIER_NOW", now)
        .env("NO_COLOR", "1")
        .env_remove("CI");
    if let Some(url) = url {
        cmd.env("CRIER_LEDGER_URL", url);
    }
    cmd
}
