//! Shared helpers for the apply and reliability tests: an in-process emulator, a temporary
//! campaign repository pointing at it, and the library apply flow.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use crier::api::client::ClientOptions;
use crier::api::errors::RetryPolicy;
use crier::dispatch::{ApplyOptions, DispatchOptions};
use crier::emulator::{self, AppConfig, EmulatorConfig, EmulatorHandle};
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

pub(super) fn with_checked<R>(
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

pub use super::repo::Repo;

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

/// The campaign a body came from (the text says `hello from NAME`).
/// What the emulator delivered: how many pushes, and the campaigns they came from, sorted and
/// without repeats (so `all == names.len()` means nothing was delivered twice).
pub fn delivered(emu: &EmulatorHandle) -> (usize, Vec<String>) {
    let mut names: Vec<String> = emu
        .pushes()
        .iter()
        .map(|p| body_campaign(&p.body))
        .collect();
    names.sort();
    let all = names.len();
    names.dedup();
    (all, names)
}

pub fn body_campaign(body: &serde_json::Value) -> String {
    body["MsgBody"][0]["MsgContent"]["Text"]
        .as_str()
        .unwrap()
        .trim_start_matches("hello from ")
        .to_owned()
}
