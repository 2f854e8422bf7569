//! The one temporary-repository builder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use crier::clock::ManualClock;
use crier::dispatch::{ApplyError, ApplyInput, ApplyOptions, ApplyReport, RecordingReporter};
use crier::ledger::{FileLedger, LedgerSnapshot};
use crier::plan::Plan;

use super::apply::{ADMIN, APP, KEY_VAR, now, secrets, with_checked};

/// The one temporary campaign repository of the tests: a folder with `crier.yaml` and
/// `campaigns/`, the real binary run in it, and (for repositories made for an emulator) the
/// library flows of plan and apply.
pub struct Repo {
    pub dir: tempfile::TempDir,
    /// The time the repository's campaigns are due at (`for_emulator`), to the second.
    pub now: DateTime<Utc>,
}

impl Repo {
    /// A repository with this `crier.yaml`.
    pub fn new(config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("crier.yaml"), config).unwrap();
        std::fs::create_dir(dir.path().join("campaigns")).unwrap();
        Self { dir, now: now() }
    }

    /// Writes `rel` (creating folders).
    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.dir.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap();
        p
    }

    /// The real binary in the repository, without colours and without `CRIER_NOW`.
    pub fn crier(&self) -> assert_cmd::Command {
        let mut c = assert_cmd::Command::cargo_bin("crier").unwrap();
        c.current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("CRIER_NOW");
        c
    }

    /// The real binary as the apply tests run it: at the repository's `now` (`CRIER_NOW`), with
    /// the app's secret key, no colours, not in CI, no log filter, nothing on stdin.
    pub fn binary(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_crier"));
        c.args(args)
            .current_dir(self.dir.path())
            .env(
                "CRIER_NOW",
                self.now.to_rfc3339_opts(SecondsFormat::Secs, true),
            )
            .env(KEY_VAR, super::apply::KEY)
            .env("NO_COLOR", "1")
            .env_remove("CI")
            .env_remove("CRIER_LOG")
            .stdin(std::process::Stdio::null());
        c
    }

    /// Runs `git` in the repository (with a throwaway identity); panics when it fails.
    pub fn git(&self, args: &[&str]) {
        let o = std::process::Command::new("git")
            .current_dir(self.dir.path())
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.com",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// Makes the folder a git checkout (branch `main`) whose one commit holds every file.
    pub fn commit_all(&self) {
        self.git(&["init", "-q", "-b", "main"]);
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", "base"]);
    }

    /// A repository whose one app `prod` talks to `endpoint` (an emulator).
    pub fn for_emulator(endpoint: &str, min_interval: &str, daily_quota: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("crier.yaml"),
            format!(
                "project: rel
apps:
  prod:
    sdkappid: {APP}
    endpoint: {endpoint}
    admin: {ADMIN}
    secret_key_env: {KEY_VAR}
    min_interval: {min_interval}
    daily_quota: {daily_quota}
defaults: {{timezone: UTC, grace: 1h}}
"
            ),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("campaigns")).unwrap();
        Self { dir, now: now() }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn ledger_dir(&self) -> PathBuf {
        self.dir.path().join(".crier/ledger")
    }

    /// A one-off campaign `name` due at the repository's `now`, with `extra` top-level YAML.
    pub fn campaign(&self, name: &str, extra: &str) {
        let at = self.now.to_rfc3339_opts(SecondsFormat::Secs, true);
        std::fs::write(
            self.dir.path().join(format!("campaigns/{name}.yaml")),
            format!(
                "version: 1
name: {name}
audience: {{all: true}}
schedule: {{at: \"{at}\"}}
message:
  body:
    - text: \"hello from {{{{ campaign.name }}}}\"
{extra}"
            ),
        )
        .unwrap();
    }

    /// `n` campaigns `c00`, `c01`, … all due now.
    pub fn campaigns(&self, n: usize) {
        for i in 0..n {
            self.campaign(&format!("c{i:02}"), "");
        }
    }

    pub fn ledger(&self) -> LedgerSnapshot {
        FileLedger::new(self.ledger_dir())
            .read_sync()
            .unwrap()
            .snapshot
    }

    /// Loads the repository and plans it at `at` against the ledger as it is.
    pub fn plan(&self, at: DateTime<Utc>) -> Plan {
        with_checked(self.path(), |settings, checked| {
            crier::plan::build(&crier::plan::Input {
                settings,
                checked,
                ledger: &self.ledger(),
                at,
                horizon: Duration::from_secs(3600),
            })
        })
    }

    /// The library apply flow at the repository's `now`.
    pub async fn apply(
        &self,
        options: &ApplyOptions,
        plan_file: Option<Plan>,
        reporter: &RecordingReporter,
    ) -> Result<ApplyReport, ApplyError> {
        self.apply_at(self.now, options, plan_file, reporter).await
    }

    pub async fn apply_at(
        &self,
        at: DateTime<Utc>,
        options: &ApplyOptions,
        plan_file: Option<Plan>,
        reporter: &RecordingReporter,
    ) -> Result<ApplyReport, ApplyError> {
        let mut sources = crier::load::Sources::default();
        let (settings, _) =
            crier::load::load_settings(&self.path().join("crier.yaml"), self.path(), &mut sources)
                .unwrap_or_else(|d| panic!("{d:?}"));
        let (files, _) = crier::load::discover(&settings.campaigns_dir, self.path());
        let set = crier::load::load_campaigns(&files, self.path(), &mut sources);
        let out = crier::validate::validate(&settings, &set.campaigns, &set.unparsed, &set.names);
        assert!(
            !out.diagnostics
                .iter()
                .any(crier::diag::Diagnostic::is_error),
            "{:?}",
            out.diagnostics
        );
        crier::dispatch::apply(
            ApplyInput {
                settings: &settings,
                checked: &out.checked,
                plan_file,
            },
            options,
            &secrets(),
            Arc::new(ManualClock::new(at)),
            reporter,
        )
        .await
    }
}
