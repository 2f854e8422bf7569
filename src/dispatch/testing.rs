//! Unit-test fixtures: a real campaign repository in a temporary folder (so settings, checked
//! campaigns and plans are the real thing), a scripted push API, and a ledger.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};

use super::executor::PushApi;
use super::timer::BoxFuture;
use crate::api::client::{ApiReply, CallError};
use crate::ledger::LedgerSnapshot;
use crate::load::{self, CampaignSet, Sources};
use crate::plan::Plan;
use crate::settings::Settings;
use crate::validate::Checked;

/// Two apps (prod, other), pacing 1 s, quota `QUOTA`, zone UTC, grace 15m.
pub fn config(quota: u32) -> String {
    format!(
        "project: shop
apps:
  prod:
    sdkappid: 1400000000
    endpoint: http://127.0.0.1:9
    admin: admin
    secret_key_env: K
    min_interval: 1s
    daily_quota: {quota}
    quota_timezone: UTC
  other:
    sdkappid: 1400000001
    endpoint: http://127.0.0.1:9
    admin: admin
    secret_key_env: K
    min_interval: 1s
    quota_timezone: UTC
defaults: {{timezone: UTC, grace: 15m}}
ledger: {{path: ledger}}
"
    )
}

/// A one-off campaign of `app` at `at` (naive, UTC).
pub fn campaign(name: &str, app: &str, at: &str) -> String {
    format!(
        "version: 1
name: {name}
app: {app}
audience: {{all: true}}
schedule: {{at: \"{at}\"}}
message:
  body:
    - text: \"hi from {{{{ campaign.name }}}}\"
"
    )
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub settings: Settings,
    pub set: CampaignSet,
}

impl Fixture {
    pub fn new(config: &str, campaigns: &[String]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("crier.yaml"), config).unwrap();
        std::fs::create_dir(dir.path().join("campaigns")).unwrap();
        for (i, c) in campaigns.iter().enumerate() {
            std::fs::write(dir.path().join(format!("campaigns/c{i}.yaml")), c).unwrap();
        }
        let mut sources = Sources::default();
        let (settings, _) =
            load::load_settings(&dir.path().join("crier.yaml"), dir.path(), &mut sources)
                .unwrap_or_else(|d| panic!("{d:?}"));
        let (files, _) = load::discover(&settings.campaigns_dir, dir.path());
        let set = load::load_campaigns(&files, dir.path(), &mut sources);
        assert!(set.diagnostics.is_empty(), "{:?}", set.diagnostics);
        Self { dir, settings, set }
    }

    pub fn checked(&self) -> Vec<Checked<'_>> {
        let out = crate::validate::validate(
            &self.settings,
            &self.set.campaigns,
            &self.set.unparsed,
            &self.set.names,
        );
        assert!(
            !out.diagnostics
                .iter()
                .any(crate::diag::Diagnostic::is_error),
            "{:?}",
            out.diagnostics
        );
        out.checked
    }

    pub fn ledger_dir(&self) -> PathBuf {
        self.dir.path().join("ledger")
    }

    pub fn plan(&self, ledger: &LedgerSnapshot, at: DateTime<Utc>) -> Plan {
        let checked = self.checked();
        crate::plan::build(&crate::plan::Input {
            settings: &self.settings,
            checked: &checked,
            ledger,
            at,
            horizon: std::time::Duration::from_secs(3600),
        })
    }
}

/// A lock holder for tests.
pub fn holder(now: DateTime<Utc>) -> crate::ledger::lock::LockHolder {
    crate::ledger::lock::LockHolder {
        pid: 1,
        hostname: "test-host".into(),
        user: "tester".into(),
        command: "crier apply".into(),
        started_at: now,
        project: None,
        ci_run: None,
        ci_url: None,
    }
}

pub fn ok(n: usize) -> Result<ApiReply, CallError> {
    Ok(ApiReply {
        action_status: "OK".into(),
        error_code: 0,
        error_info: String::new(),
        task_id: Some(format!("task-{n}")),
        raw: serde_json::json!({}),
        date: None,
    })
}

pub fn api_error(code: u32) -> Result<ApiReply, CallError> {
    Err(CallError::Api {
        path: crate::api::wire::paths::PUSH.into(),
        code,
        info: format!("error {code}"),
    })
}

pub fn not_sent() -> Result<ApiReply, CallError> {
    Err(CallError::NotSent {
        path: crate::api::wire::paths::PUSH.into(),
        reason: "connection refused".into(),
        retryable: true,
    })
}

pub fn maybe_sent() -> Result<ApiReply, CallError> {
    Err(CallError::MaybeSent {
        path: crate::api::wire::paths::PUSH.into(),
        reason: "connection reset".into(),
    })
}

/// Answers from a script, then `ok`; remembers every body.
#[derive(Default)]
pub struct FakeApi {
    pub script: Mutex<VecDeque<Result<ApiReply, CallError>>>,
    pub bodies: Mutex<Vec<String>>,
    pub invalidated: AtomicU32,
    #[allow(clippy::type_complexity)]
    pub on_call: Option<Box<dyn Fn(usize) + std::marker::Send + Sync>>,
}

impl FakeApi {
    pub fn scripted(script: Vec<Result<ApiReply, CallError>>) -> Self {
        Self {
            script: Mutex::new(script.into()),
            ..Self::default()
        }
    }

    pub fn calls(&self) -> usize {
        self.bodies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn invalidations(&self) -> u32 {
        self.invalidated.load(Ordering::SeqCst)
    }
}

impl PushApi for FakeApi {
    fn push<'a>(&'a self, body: &'a str) -> BoxFuture<'a, Result<ApiReply, CallError>> {
        let n = {
            let mut bodies = self.bodies.lock().unwrap_or_else(PoisonError::into_inner);
            bodies.push(body.to_owned());
            bodies.len()
        };
        if let Some(f) = &self.on_call {
            f(n);
        }
        let answer = self
            .script
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
            .unwrap_or_else(|| ok(n));
        Box::pin(std::future::ready(answer))
    }

    fn invalidate_usersig(&self) {
        self.invalidated.fetch_add(1, Ordering::SeqCst);
    }
}
