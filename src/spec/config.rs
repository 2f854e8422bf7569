//! `crier.yaml` (spec §2): typed file and its resolution into [`Settings`].

use crate::diag::Diagnostic;
use crate::duration;
use crate::settings::{
    AppSettings, DEFAULT_CAMPAIGNS_DIR, DEFAULT_DAILY_QUOTA, DEFAULT_GRACE, DEFAULT_LEDGER_PATH,
    DEFAULT_MIN_INTERVAL, DEFAULT_QUOTA_TIMEZONE, DEFAULT_TIMEZONE, Defaults, Endpoint,
    LedgerSettings, Region, Settings,
};
use crate::spec::campaign::{DurationText, Name, from_value};
use crate::spec::yaml::Document;
use chrono_tz::Tz;
use indexmap::IndexMap;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigSpec {
    pub project: Name,
    #[serde(default)]
    pub previous_projects: Vec<Name>,
    pub apps: IndexMap<String, AppSpec>,
    #[serde(default)]
    pub defaults: DefaultsSpec,
    #[serde(default)]
    pub campaigns: Option<String>,
    #[serde(default)]
    pub ledger: LedgerSpec,
    #[serde(default)]
    pub policy: PolicySpec,
}

/// `policy`: each rule `warn` or `deny`, absent = off.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    pub all_users: Option<crate::policy::Level>,
    pub widened_audience: Option<crate::policy::Level>,
    pub quiet_hours: Option<QuietHoursSpec>,
    pub max_all_user_pushes_per_day: Option<MaxPerDaySpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursSpec {
    pub from: String,
    pub to: String,
    pub timezone: Option<String>,
    pub level: crate::policy::Level,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaxPerDaySpec {
    pub limit: u32,
    pub level: crate::policy::Level,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawApp")]
pub struct AppSpec {
    pub sdkappid: u64,
    pub endpoint: Endpoint,
    pub admin: String,
    pub secret_key_env: String,
    pub attributes: Vec<String>,
    pub daily_quota: Option<u32>,
    pub quota_timezone: Option<String>,
    pub min_interval: Option<DurationText>,
    pub ca_file: Option<String>,
    pub reach_estimate: Option<u64>,
    pub paused: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    sdkappid: u64,
    region: Option<Region>,
    endpoint: Option<String>,
    admin: String,
    secret_key_env: String,
    #[serde(default)]
    attributes: Vec<String>,
    daily_quota: Option<u32>,
    quota_timezone: Option<String>,
    min_interval: Option<DurationText>,
    ca_file: Option<String>,
    reach_estimate: Option<u64>,
    #[serde(default)]
    paused: bool,
}

impl TryFrom<RawApp> for AppSpec {
    type Error = &'static str;
    fn try_from(r: RawApp) -> Result<Self, Self::Error> {
        let endpoint = match (r.region, r.endpoint) {
            (Some(region), None) => Endpoint::Region(region),
            (None, Some(url)) => Endpoint::Url(url),
            _ => return Err("an app needs exactly one of `region` and `endpoint`"),
        };
        Ok(Self {
            sdkappid: r.sdkappid,
            endpoint,
            admin: r.admin,
            secret_key_env: r.secret_key_env,
            attributes: r.attributes,
            daily_quota: r.daily_quota,
            quota_timezone: r.quota_timezone,
            min_interval: r.min_interval,
            ca_file: r.ca_file,
            reach_estimate: r.reach_estimate,
            paused: r.paused,
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultsSpec {
    pub timezone: Option<String>,
    pub grace: Option<DurationText>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerSpec {
    pub path: Option<String>,
    pub postgres_url_env: Option<String>,
    pub lease: Option<DurationText>,
}

/// `policy`, resolved: times parsed (`HH:MM`), the quiet hours' zone (default: the defaults').
fn resolve_policy(
    spec: &PolicySpec,
    default_zone: Option<Tz>,
    file: &Arc<Path>,
    doc: &Document,
    diags: &mut Vec<Diagnostic>,
) -> crate::policy::Policy {
    let quiet_hours = spec.quiet_hours.as_ref().and_then(|q| {
        let time = |text: &str, field: &str, diags: &mut Vec<Diagnostic>| {
            let t = chrono::NaiveTime::parse_from_str(text, "%H:%M");
            if t.is_err() {
                diags.push(Diagnostic::error(
                    file,
                    doc.positions.node(&format!("/policy/quiet_hours/{field}")),
                    format!("policy.quiet_hours.{field} `{text}` is not a time of day (HH:MM, like 22:00)"),
                ));
            }
            t.ok()
        };
        let from = time(&q.from, "from", diags);
        let to = time(&q.to, "to", diags);
        let zone = match &q.timezone {
            Some(name) => zone(name, file, doc, "/policy/quiet_hours/timezone", diags),
            None => default_zone,
        };
        Some(crate::policy::QuietHours {
            from: from?,
            to: to?,
            timezone: zone?,
            level: q.level,
        })
    });
    crate::policy::Policy {
        all_users: spec.all_users,
        widened_audience: spec.widened_audience,
        quiet_hours,
        max_all_user_pushes_per_day: spec
            .max_all_user_pushes_per_day
            .as_ref()
            .map(|m| (m.limit, m.level)),
    }
}

/// A zone name, or a diagnostic at `pointer`.
fn zone(
    name: &str,
    file: &Arc<Path>,
    doc: &Document,
    pointer: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Tz> {
    match crate::schedule::parse_zone(name) {
        Ok(tz) => {
            if let Some(w) = crate::schedule::zone_warning(tz) {
                diags.push(Diagnostic::warning(file, doc.positions.node(pointer), w));
            }
            Some(tz)
        }
        Err(e @ crate::schedule::ScheduleError::ZoneAbbreviation { .. }) => {
            diags.push(Diagnostic::error(
                file,
                doc.positions.node(pointer),
                e.to_string(),
            ));
            None
        }
        Err(e) => {
            let mut message = e.to_string();
            if !message.contains("did you mean") {
                message.push_str(" (use an IANA name such as Asia/Shanghai or Europe/Berlin)");
            }
            diags.push(Diagnostic::error(
                file,
                doc.positions.node(pointer),
                message,
            ));
            None
        }
    }
}

/// Resolves a checked `crier.yaml` into settings. `config_path` is absolute; `file` is how
/// diagnostics name it.
///
/// # Errors
/// Every problem found (unknown zones, sub-second warnings are not errors).
pub fn resolve(
    spec: ConfigSpec,
    doc: &Document,
    config_path: &Path,
    file: &Arc<Path>,
) -> (Option<Settings>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let root = config_path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let timezone = spec
        .defaults
        .timezone
        .as_deref()
        .map_or(Some(DEFAULT_TIMEZONE), |n| {
            zone(n, file, doc, "/defaults/timezone", &mut diags)
        });
    let mut apps = IndexMap::new();
    for (name, app) in spec.apps {
        let ptr = format!("/apps/{}", crate::spec::yaml::escape_pointer_segment(&name));
        let quota_timezone = app
            .quota_timezone
            .as_deref()
            .map_or(Some(DEFAULT_QUOTA_TIMEZONE), |n| {
                zone(n, file, doc, &format!("{ptr}/quota_timezone"), &mut diags)
            });
        let min_interval = app.min_interval.map_or(DEFAULT_MIN_INTERVAL, |d| d.value);
        if min_interval < Duration::from_secs(1) {
            diags.push(Diagnostic::warning(
                file,
                doc.positions.node(&format!("{ptr}/min_interval")),
                format!(
                    "min_interval {} is under 1s: the provider refuses pushes 1s apart or closer (90024); use this only with the emulator",
                    duration::Human(min_interval)
                ),
            ));
        }
        for (i, attr) in app.attributes.iter().enumerate() {
            if attr.len() > 50 {
                diags.push(Diagnostic::error(
                    file,
                    doc.positions.node(&format!("{ptr}/attributes/{i}")),
                    format!(
                        "attribute name `{attr}` is {} bytes; the provider allows at most 50",
                        attr.len()
                    ),
                ));
            }
        }
        let Some(quota_timezone) = quota_timezone else {
            continue;
        };
        apps.insert(
            name.clone(),
            AppSettings {
                name,
                sdkappid: app.sdkappid,
                endpoint: app.endpoint,
                admin: app.admin,
                secret_key_env: app.secret_key_env,
                attributes: app.attributes,
                daily_quota: app.daily_quota.unwrap_or(DEFAULT_DAILY_QUOTA),
                quota_timezone,
                min_interval,
                ca_file: app.ca_file.map(|f| root.join(f)),
                reach_estimate: app.reach_estimate,
                paused: app.paused,
            },
        );
    }
    if let Some(message) = spec
        .defaults
        .grace
        .as_ref()
        .and_then(|g| crate::settings::grace_too_long("defaults.grace", g.value))
    {
        diags.push(Diagnostic::error(
            file,
            doc.positions.node("/defaults/grace"),
            message,
        ));
    }
    let lease = spec
        .ledger
        .lease
        .map_or(crate::ledger::postgres::DEFAULT_LEASE, |d| d.value);
    if lease < Duration::from_secs(1) {
        diags.push(Diagnostic::error(
            file,
            doc.positions.node("/ledger/lease"),
            format!(
                "ledger.lease {} is under 1s: a holder renews it every quarter of the lease, so a busy runner would lose its locks",
                duration::Human(lease)
            ),
        ));
    }
    let policy = resolve_policy(&spec.policy, timezone, file, doc, &mut diags);
    let ledger = match spec.ledger.postgres_url_env {
        Some(url_env) => LedgerSettings::Postgres { url_env, lease },
        None => LedgerSettings::File {
            path: root.join(spec.ledger.path.as_deref().unwrap_or(DEFAULT_LEDGER_PATH)),
        },
    };
    let settings = timezone
        .filter(|_| !diags.iter().any(Diagnostic::is_error))
        .map(|timezone| Settings {
            config_path: config_path.to_path_buf(),
            campaigns_dir: root.join(spec.campaigns.as_deref().unwrap_or(DEFAULT_CAMPAIGNS_DIR)),
            root: root.clone(),
            project: spec.project.0,
            previous_projects: spec.previous_projects.into_iter().map(|n| n.0).collect(),
            apps,
            defaults: Defaults {
                timezone,
                grace: spec.defaults.grace.map_or(DEFAULT_GRACE, |g| g.value),
            },
            ledger,
            policy,
        });
    (settings, diags)
}

/// Parses and resolves `crier.yaml` text: YAML, schema, types, settings.
///
/// # Errors
/// Returns the diagnostics; settings are `None` when any is an error.
#[must_use]
pub fn parse(
    text: &str,
    config_path: &Path,
    file: &Arc<Path>,
) -> (Option<Settings>, Vec<Diagnostic>) {
    let doc = match crate::spec::yaml::parse(text) {
        Ok(doc) => doc,
        Err(e) => return (None, vec![Diagnostic::error(file, e.pos, e.message)]),
    };
    if !doc.value.is_object() {
        return (
            None,
            vec![Diagnostic::error(
                file,
                doc.positions.node(""),
                "crier.yaml must be a mapping with at least `project` and `apps`",
            )],
        );
    }
    let schema_errors = crate::schema::check(crate::schema::Kind::Config, &doc);
    if !schema_errors.is_empty() {
        return (
            None,
            schema_errors
                .into_iter()
                .map(|e| Diagnostic::error(file, e.pos, e.message))
                .collect(),
        );
    }
    match from_value::<ConfigSpec>(&doc.value) {
        Ok(spec) => resolve(spec, &doc, config_path, file),
        Err(e) => (
            None,
            vec![Diagnostic::error(
                file,
                doc.positions.node(&e.pointer),
                e.message,
            )],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> (Option<Settings>, Vec<String>) {
        let file: Arc<Path> = Arc::from(Path::new("crier.yaml"));
        let (s, d) = parse(text, Path::new("/repo/crier.yaml"), &file);
        (s, d.iter().map(Diagnostic::headline).collect())
    }

    #[test]
    fn defaults_are_resolved_and_paths_are_absolute() {
        let (s, d) = run(
            "project: shop\napps:\n  prod: {sdkappid: 1400000000, region: riyadh, admin: admin, secret_key_env: K, ca_file: certs/ca.pem}\n",
        );
        assert!(d.is_empty(), "{d:?}");
        let s = s.unwrap();
        let app = &s.apps["prod"];
        assert_eq!(app.daily_quota, 100);
        assert_eq!(app.min_interval, Duration::from_millis(1100));
        assert_eq!(app.quota_timezone, chrono_tz::Asia::Shanghai);
        assert_eq!(app.endpoint.base_url(), "https://adminapiksa.im.qcloud.com");
        assert_eq!(
            app.ca_file.as_deref(),
            Some(Path::new("/repo/certs/ca.pem"))
        );
        assert_eq!(s.campaigns_dir, Path::new("/repo/campaigns"));
        assert_eq!(
            s.ledger,
            LedgerSettings::File {
                path: "/repo/.crier/ledger".into()
            }
        );
        assert_eq!(s.defaults.grace, Duration::from_secs(900));
    }

    #[test]
    fn bad_zones_and_short_intervals() {
        let (s, d) = run(
            "project: shop\ndefaults: {timezone: Mars/Base}\napps:\n  prod: {sdkappid: 1, endpoint: \"http://127.0.0.1:1\", admin: a, secret_key_env: K, min_interval: 200ms}\n",
        );
        assert!(s.is_none());
        assert_eq!(
            d,
            [
                "crier.yaml:2:22: error: unknown time zone `Mars/Base` (use an IANA name such as Asia/Shanghai or Europe/Berlin)",
                "crier.yaml:4:98: warning: min_interval 200ms is under 1s: the provider refuses pushes 1s apart or closer (90024); use this only with the emulator",
            ]
        );
    }

    #[test]
    fn missing_project_is_located() {
        let (s, d) =
            run("apps:\n  prod: {sdkappid: 1, region: china, admin: a, secret_key_env: K}\n");
        assert!(s.is_none());
        assert_eq!(
            d,
            ["crier.yaml:1:1: error: missing required key `project` in (top level)"]
        );
    }

    #[test]
    fn postgres_wins_over_path() {
        let (s, _) = run(
            "project: shop\napps:\n  p: {sdkappid: 1, region: china, admin: a, secret_key_env: K}\nledger: {path: x, postgres_url_env: DB}\n",
        );
        assert_eq!(
            s.unwrap().ledger,
            LedgerSettings::Postgres {
                url_env: "DB".into(),
                lease: Duration::from_secs(120),
            }
        );
    }

    #[test]
    fn a_lease_is_read_and_one_under_a_second_is_refused() {
        let (s, d) = run(
            "project: shop\napps:\n  p: {sdkappid: 1, region: china, admin: a, secret_key_env: K}\nledger: {postgres_url_env: DB, lease: 30s}\n",
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            s.unwrap().ledger,
            LedgerSettings::Postgres {
                url_env: "DB".into(),
                lease: Duration::from_secs(30),
            }
        );
        let (_, d) = run(
            "project: shop\napps:\n  p: {sdkappid: 1, region: china, admin: a, secret_key_env: K}\nledger: {postgres_url_env: DB, lease: 500ms}\n",
        );
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].starts_with("crier.yaml:4:") && d[0].contains("ledger.lease 500ms is under 1s"),
            "{}",
            d[0]
        );
    }
}
