//! Shared helpers for the apply and reliability tests: an in-process emulator, a temporary
//! campaign repository pointing at it, and the library apply flow.
#![allow(dead_code, reason = "each test file uses a different subset")]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use crier::api::client::ClientOptions;
use crier::api::errors::RetryPolicy;
use crier::clock::ManualClock;
use crier::dispatch::{
    ApplyError, ApplyInput, ApplyOptions, ApplyReport, DispatchOptions, RecordingReporter,
};
use crier::emulator::{self, AppConfig, EmulatorConfig, EmulatorHandle};
use crier::ledger::{FileLedger, LedgerSnapshot};
use crier::plan::Plan;
use crier::secrets::MapSecrets;

pub const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
pub const KEY_VAR: &str = "CRIER_TEST_SECRET_KEY";
pub const APP: u64 = 1_400_000_000;
pub const ADMIN: &str = "admin";

/// An emulator app: the given interval and quota.
pub fn emulator_config(min_interval: Duration, daily_quota: u32) -> EmulatorConfig {
    let mut app = AppConfig::new(APP, ADMIN, KEY);
    app.min_interval = min_interval;
    app.daily_quota = daily_quota;
    EmulatorConfig::new(vec![app])
}

pub async fn start_emulator(config: EmulatorConfig) -> EmulatorHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    emulator::start(listener, config).await.unwrap()
}

/// Changes the emulator's faults at run time (`POST /emulator/faults`).
pub async fn set_faults(emu: &EmulatorHandle, faults: serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/emulator/faults", emu.base_url()))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{:?}", resp.text().await);
}

/// Now, to the second (the time every test repository is planned at).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// A temporary campaign repository whose one app talks to `endpoint`.
pub struct Repo {
    pub dir: tempfile::TempDir,
    pub now: DateTime<Utc>,
}

impl Repo {
    pub fn new(endpoint: &str, min_interval: &str, daily_quota: u32) -> Self {
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

fn with_checked<R>(
    root: &Path,
    f: impl FnOnce(&crier::settings::Settings, &[crier::validate::Checked<'_>]) -> R,
) -> R {
    let mut sources = crier::load::Sources::default();
    let (settings, _) =
        crier::load::load_settings(&root.join("crier.yaml"), root, &mut sources).unwrap();
    let (files, _) = crier::load::discover(&settings.campaigns_dir, root);
    let set = crier::load::load_campaigns(&files, root, &mut sources);
    let out = crier::validate::validate(&settings, &set.campaigns, &set.unparsed, &set.names);
    f(&settings, &out.checked)
}

pub fn secrets() -> MapSecrets {
    MapSecrets::default().with(KEY_VAR, KEY)
}

/// Auto-approved, not in CI, short backoff.
pub fn options() -> ApplyOptions {
    ApplyOptions {
        auto_approve: true,
        ci: None,
        // The plan's 7-day default renders every upcoming occurrence; an hour is enough here.
        horizon: Duration::from_secs(3600),
        dispatch: DispatchOptions {
            retry: RetryPolicy {
                max_attempts: 8,
                base_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(40),
            },
            wait_a_minute: Duration::from_millis(20),
        },
        client: ClientOptions {
            timeout: Duration::from_secs(5),
            ..ClientOptions::default()
        },
        ..ApplyOptions::default()
    }
}

/// The MsgRandom of a body the emulator received.
pub fn body_msg_random(body: &serde_json::Value) -> u32 {
    u32::try_from(body["MsgRandom"].as_u64().unwrap()).unwrap()
}

/// The campaign a body came from (the text says `hello from NAME`).
pub fn body_campaign(body: &serde_json::Value) -> String {
    body["MsgBody"][0]["MsgContent"]["Text"]
        .as_str()
        .unwrap()
        .trim_start_matches("hello from ")
        .to_owned()
}
