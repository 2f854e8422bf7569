//! Resolved settings: `crier.yaml` with every default filled in and every path made absolute.
//!
//! Commands take these values, never the raw file. Building them from YAML lives in
//! [`crate::spec::config`].

use chrono_tz::Tz;
use indexmap::IndexMap;
use std::path::PathBuf;
use std::time::Duration;

/// The provider's regions and their REST domains (reference §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Region {
    China,
    Singapore,
    Seoul,
    Tokyo,
    Frankfurt,
    SiliconValley,
    Jakarta,
    India,
    Riyadh,
}

impl Region {
    pub const ALL: [Self; 9] = [
        Self::China,
        Self::Singapore,
        Self::Seoul,
        Self::Tokyo,
        Self::Frankfurt,
        Self::SiliconValley,
        Self::Jakarta,
        Self::India,
        Self::Riyadh,
    ];

    /// The REST API domain of the region.
    #[must_use]
    pub const fn domain(self) -> &'static str {
        match self {
            Self::China => "console.tim.qq.com",
            Self::Singapore => "adminapisgp.im.qcloud.com",
            Self::Seoul => "adminapikr.im.qcloud.com",
            Self::Tokyo => "adminapijpn.im.qcloud.com",
            Self::Frankfurt => "adminapiger.im.qcloud.com",
            Self::SiliconValley => "adminapiusa.im.qcloud.com",
            Self::Jakarta => "adminapiidn.im.qcloud.com",
            Self::India => "adminapiind.im.qcloud.com",
            Self::Riyadh => "adminapiksa.im.qcloud.com",
        }
    }

    /// The name used in `crier.yaml`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::China => "china",
            Self::Singapore => "singapore",
            Self::Seoul => "seoul",
            Self::Tokyo => "tokyo",
            Self::Frankfurt => "frankfurt",
            Self::SiliconValley => "silicon-valley",
            Self::Jakarta => "jakarta",
            Self::India => "india",
            Self::Riyadh => "riyadh",
        }
    }
}

/// Where an app's API lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Region(Region),
    /// An explicit base URL such as `http://127.0.0.1:8080` (no trailing slash).
    Url(String),
}

impl Endpoint {
    /// The base URL, `https://domain` for a region.
    #[must_use]
    pub fn base_url(&self) -> String {
        match self {
            Self::Region(r) => format!("https://{}", r.domain()),
            Self::Url(u) => u.trim_end_matches('/').to_owned(),
        }
    }
}

/// One app of `crier.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub struct AppSettings {
    /// The key under `apps`.
    pub name: String,
    pub sdkappid: u64,
    pub endpoint: Endpoint,
    /// The App admin identifier the requests are signed for.
    pub admin: String,
    /// The environment variable that holds the secret key.
    pub secret_key_env: String,
    /// The app's attribute names (validation of attrs audiences).
    pub attributes: Vec<String>,
    pub daily_quota: u32,
    pub quota_timezone: Tz,
    pub min_interval: Duration,
    /// An extra CA certificate (PEM) to trust, absolute.
    pub ca_file: Option<PathBuf>,
    pub reach_estimate: Option<u64>,
    pub paused: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaults {
    pub timezone: Tz,
    pub grace: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerSettings {
    /// The embedded default: a folder holding `ledger.jsonl` and its lock (absolute).
    File { path: PathBuf },
    /// A shared PostgreSQL ledger; the URL is read from this environment variable. A lock
    /// holder silent for longer than `lease` hangs, and the next writer takes its lock over.
    Postgres { url_env: String, lease: Duration },
}

/// `crier.yaml`, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The `crier.yaml` file (absolute).
    pub config_path: PathBuf,
    /// The folder that holds it; relative paths resolve from here.
    pub root: PathBuf,
    pub project: String,
    /// Names this project had before (`previous_projects`): their ledger history is this
    /// project's, so renaming the project sends nothing again.
    pub previous_projects: Vec<String>,
    pub apps: IndexMap<String, AppSettings>,
    pub defaults: Defaults,
    /// The campaigns folder (absolute).
    pub campaigns_dir: PathBuf,
    pub ledger: LedgerSettings,
    /// `policy`: the review gates.
    pub policy: crate::policy::Policy,
}

impl Settings {
    /// This project's name, then its previous names.
    pub fn project_names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.project.as_str())
            .chain(self.previous_projects.iter().map(String::as_str))
    }

    /// The app a campaign names, or the only app when it names none.
    #[must_use]
    pub fn app_for(&self, name: Option<&str>) -> Option<&AppSettings> {
        match name {
            Some(n) => self.apps.get(n),
            None if self.apps.len() == 1 => self.apps.values().next(),
            None => None,
        }
    }
}

pub const DEFAULT_DAILY_QUOTA: u32 = 100;
pub const DEFAULT_QUOTA_TIMEZONE: Tz = chrono_tz::Asia::Shanghai;
pub const DEFAULT_MIN_INTERVAL: Duration = Duration::from_millis(1100);
pub const DEFAULT_GRACE: Duration = Duration::from_secs(15 * 60);
/// The longest grace: a push more than 30 days late is not the push anyone reviewed, and the
/// ledger's checkpoints keep every occurrence within 40 days of the last apply whole
/// ([`crate::ledger::fold::RETENTION`]).
pub const MAX_GRACE: Duration = Duration::from_secs(30 * 24 * 3600);

/// The error for a grace over [`MAX_GRACE`], or `None`.
#[must_use]
pub fn grace_too_long(what: &str, grace: Duration) -> Option<String> {
    (grace > MAX_GRACE).then(|| {
        format!(
            "{what} {} is longer than 30d: a push that late is not the one reviewed; use at most 30d",
            crate::duration::Human(grace)
        )
    })
}
pub const DEFAULT_TIMEZONE: Tz = chrono_tz::Asia::Shanghai;
pub const DEFAULT_CAMPAIGNS_DIR: &str = "campaigns";
pub const DEFAULT_LEDGER_PATH: &str = ".crier/ledger";
