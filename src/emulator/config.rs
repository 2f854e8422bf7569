//! The emulator's configuration: apps, users, limits and faults, and the `emulator.yaml` format.
//!
//! ```yaml
//! apps:
//!   - sdkappid: 1400000000
//!     admin: admin
//!     secret_key_env: CRIER_PROD_SECRET_KEY
//!     attr_names: [level, city]        # optional, default none
//!     daily_quota: 100                 # optional
//!     min_interval: 1s                 # optional
//!     quota_timezone: Asia/Shanghai    # optional
//!     users: users.jsonl               # optional, relative to this file
//!     generate_users: 1000             # optional, instead of users
//!     seed: 7                          # optional, with generate_users
//! ```

use super::users::{UserRecord, parse_users_jsonl};
use crate::clock::{Clock, SystemClock};
use crate::secrets::SecretProvider;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A secret key that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    #[must_use]
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(REDACTED)")
    }
}

/// Where an app's users come from.
#[derive(Debug, Clone, Default)]
pub enum UserSeed {
    #[default]
    Empty,
    Records(Vec<UserRecord>),
    Generate {
        count: u32,
        seed: u64,
    },
}

/// One emulated app.
#[derive(Debug, Clone)]
pub struct AppConfig {
    pub sdkappid: u64,
    pub admin: String,
    pub secret_key: SecretKey,
    pub attr_names: Vec<String>,
    pub daily_quota: u32,
    pub min_interval: Duration,
    pub quota_timezone: chrono_tz::Tz,
    pub users: UserSeed,
}

impl AppConfig {
    /// An app with the provider's defaults: quota 100/day, interval 1 s, Asia/Shanghai, no users.
    #[must_use]
    pub fn new(sdkappid: u64, admin: &str, secret_key: &str) -> Self {
        Self {
            sdkappid,
            admin: admin.to_owned(),
            secret_key: SecretKey::new(secret_key),
            attr_names: Vec::new(),
            daily_quota: 100,
            min_interval: Duration::from_secs(1),
            quota_timezone: chrono_tz::Asia::Shanghai,
            users: UserSeed::Empty,
        }
    }
}

/// Injected faults; all off by default.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, Deserialize)]
pub struct FaultSettings {
    pub fail_rate: f64,
    pub fail_code: u32,
    pub latency_ms: u64,
    pub drop_response_rate: f64,
}

impl Default for FaultSettings {
    fn default() -> Self {
        Self {
            fail_rate: 0.0,
            fail_code: crate::api::wire::codes::INTERNAL_ERROR,
            latency_ms: 0,
            drop_response_rate: 0.0,
        }
    }
}

/// Everything the emulator needs to start.
#[derive(Clone)]
pub struct EmulatorConfig {
    pub apps: Vec<AppConfig>,
    /// A repeated MsgRandom of the same app inside this window is a duplicate.
    pub dedup_window: Duration,
    /// Per-second limits of the attribute/tag (100/s), batch (30/s), revoke and statistics (1/s) APIs.
    pub rate_limits: bool,
    pub faults: FaultSettings,
    /// Seed of the fault dice (for reproducible tests).
    pub fault_seed: u64,
    /// Serve HTTPS with a generated certificate.
    pub tls_self_signed: bool,
    /// Where to write the CA certificate (PEM) that signs the served certificate.
    pub cert_out: Option<PathBuf>,
    /// The base clock; the emulator adds the `/emulator/clock` offset.
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("apps", &self.apps)
            .field("dedup_window", &self.dedup_window)
            .field("rate_limits", &self.rate_limits)
            .field("faults", &self.faults)
            .field("tls_self_signed", &self.tls_self_signed)
            .field("cert_out", &self.cert_out)
            .finish_non_exhaustive()
    }
}

impl EmulatorConfig {
    /// Plain HTTP, rate limits on, dedup window 1 s, no faults, the system clock.
    #[must_use]
    pub fn new(apps: Vec<AppConfig>) -> Self {
        Self {
            apps,
            dedup_window: Duration::from_secs(1),
            rate_limits: true,
            faults: FaultSettings::default(),
            fault_seed: 0,
            tls_self_signed: false,
            cert_out: None,
            clock: Arc::new(SystemClock),
        }
    }
}

/// An `emulator.yaml` problem.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("emulator config: {0}")]
    Yaml(String),
    #[error("emulator config: {0}")]
    Invalid(String),
    #[error("the secret key variable {0} is unset or empty")]
    MissingSecret(String),
    #[error("users file {path}: {message}")]
    Users { path: String, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    apps: Vec<FileApp>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileApp {
    sdkappid: u64,
    admin: String,
    secret_key_env: String,
    #[serde(default)]
    attr_names: Vec<String>,
    daily_quota: Option<u32>,
    min_interval: Option<String>,
    quota_timezone: Option<String>,
    users: Option<PathBuf>,
    generate_users: Option<u32>,
    seed: Option<u64>,
}

fn yaml_to_json(y: &saphyr::Yaml<'_>) -> Result<serde_json::Value, ConfigError> {
    use saphyr::{Scalar, Yaml};
    use serde_json::Value;
    Ok(match y {
        Yaml::Value(Scalar::Null) => Value::Null,
        Yaml::Value(Scalar::Boolean(b)) => Value::Bool(*b),
        Yaml::Value(Scalar::Integer(i)) => Value::from(*i),
        Yaml::Value(Scalar::FloatingPoint(f)) => Value::from(f.into_inner()),
        Yaml::Value(Scalar::String(s)) => Value::String(s.to_string()),
        Yaml::Sequence(items) => {
            Value::Array(items.iter().map(yaml_to_json).collect::<Result<_, _>>()?)
        }
        Yaml::Mapping(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                let key = match k {
                    Yaml::Value(Scalar::String(s)) => s.to_string(),
                    Yaml::Value(Scalar::Integer(i)) => i.to_string(),
                    _ => return Err(ConfigError::Yaml("mapping keys must be strings".into())),
                };
                out.insert(key, yaml_to_json(v)?);
            }
            Value::Object(out)
        }
        Yaml::Tagged(_, inner) => yaml_to_json(inner)?,
        Yaml::Representation(s, _, _) => Value::String(s.to_string()),
        Yaml::Alias(_) | Yaml::BadValue => {
            return Err(ConfigError::Yaml("unsupported YAML node".into()));
        }
    })
}

/// Parses `emulator.yaml` text (JSON is YAML too). Relative `users` paths resolve from `base_dir`.
///
/// # Errors
/// Bad YAML, unknown keys, a missing secret, an unreadable users file.
pub fn parse_config_file(
    text: &str,
    base_dir: &Path,
    secrets: &dyn SecretProvider,
) -> Result<Vec<AppConfig>, ConfigError> {
    use saphyr::LoadableYamlNode as _;
    let docs = saphyr::Yaml::load_from_str(text).map_err(|e| ConfigError::Yaml(e.to_string()))?;
    let doc = docs
        .first()
        .ok_or_else(|| ConfigError::Yaml("the file is empty".into()))?;
    let value = yaml_to_json(doc)?;
    let file: FileConfig =
        serde_json::from_value(value).map_err(|e| ConfigError::Invalid(e.to_string()))?;
    if file.apps.is_empty() {
        return Err(ConfigError::Invalid(
            "apps must list at least one app".into(),
        ));
    }
    file.apps
        .into_iter()
        .map(|a| resolve_app(a, base_dir, secrets))
        .collect()
}

fn resolve_app(
    a: FileApp,
    base_dir: &Path,
    secrets: &dyn SecretProvider,
) -> Result<AppConfig, ConfigError> {
    let key = secrets
        .get(&a.secret_key_env)
        .ok_or_else(|| ConfigError::MissingSecret(a.secret_key_env.clone()))?;
    let mut app = AppConfig::new(a.sdkappid, &a.admin, &key);
    app.attr_names = a.attr_names;
    if let Some(q) = a.daily_quota {
        app.daily_quota = q;
    }
    if let Some(m) = a.min_interval {
        app.min_interval = crate::duration::parse(&m)
            .map_err(|e| ConfigError::Invalid(format!("min_interval: {e}")))?;
    }
    if let Some(tz) = a.quota_timezone {
        app.quota_timezone = tz
            .parse()
            .map_err(|_| ConfigError::Invalid(format!("unknown quota_timezone {tz}")))?;
    }
    app.users = match (a.users, a.generate_users) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::Invalid(
                "users and generate_users exclude each other".into(),
            ));
        }
        (Some(p), None) => UserSeed::Records(read_users_file(&base_dir.join(p))?),
        (None, Some(count)) => UserSeed::Generate {
            count,
            seed: a.seed.unwrap_or(0),
        },
        (None, None) => UserSeed::Empty,
    };
    Ok(app)
}

/// Reads a JSON-lines users file.
///
/// # Errors
/// Unreadable file or a bad line.
pub fn read_users_file(path: &Path) -> Result<Vec<UserRecord>, ConfigError> {
    let err = |message: String| ConfigError::Users {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    parse_users_jsonl(&text).map_err(|e| err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::MapSecrets;

    #[test]
    fn parses_several_apps_with_defaults() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("u.jsonl"),
            "{\"id\":\"a\",\"tags\":[\"x\"]}\n",
        )
        .unwrap();
        let secrets = MapSecrets::default()
            .with("K1", "s3cr3t-one")
            .with("K2", "two");
        let apps = parse_config_file(
            "apps:\n  - sdkappid: 1400000001\n    admin: admin\n    secret_key_env: K1\n    attr_names: [city]\n    users: u.jsonl\n    min_interval: 1100ms\n    quota_timezone: UTC\n  - {sdkappid: 1400000002, admin: root, secret_key_env: K2, generate_users: 10, seed: 3, daily_quota: 5}\n",
            dir.path(),
            &secrets,
        )
        .unwrap();
        assert_eq!(apps.len(), 2);
        assert_eq!(apps[0].secret_key.expose(), "s3cr3t-one");
        assert_eq!(apps[0].min_interval, Duration::from_millis(1100));
        assert_eq!(apps[0].quota_timezone, chrono_tz::UTC);
        assert!(matches!(&apps[0].users, UserSeed::Records(r) if r[0].id == "a"));
        assert_eq!(apps[1].daily_quota, 5);
        assert!(matches!(
            apps[1].users,
            UserSeed::Generate { count: 10, seed: 3 }
        ));
        assert_eq!(apps[1].min_interval, Duration::from_secs(1));
        assert!(
            !format!("{:?}", apps[0]).contains("s3cr3t"),
            "the secret never prints"
        );
    }

    #[test]
    fn missing_secret_and_unknown_keys_are_errors() {
        let secrets = MapSecrets::default();
        let e = parse_config_file(
            "apps:\n  - {sdkappid: 1, admin: a, secret_key_env: NOPE}\n",
            Path::new("."),
            &secrets,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the secret key variable NOPE is unset or empty"
        );
        let e = parse_config_file("apps: []\nextra: 1\n", Path::new("."), &secrets).unwrap_err();
        assert!(e.to_string().contains("extra"), "{e}");
    }
}
