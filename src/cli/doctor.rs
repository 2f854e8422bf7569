//! `crier doctor`: one line per check, with a hint when it fails; exit 0 when every check
//! passes (warnings allowed), 1 otherwise. The checks talk to the provider (a cheap read,
//! `get_attr_name`), the ledger and the clock; the verdicts are small pure functions below.

use std::io::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use owo_colors::OwoColorize as _;
use serde::Serialize;

use super::Status as Exit;
use super::env::Env;
use super::validate::DataFormat;
use crate::api::client::{CallError, Client};
use crate::api::wire::paths;
use crate::ledger::{AnyLedger, Ledger as _};
use crate::settings::AppSettings;

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    #[arg(long, value_enum, default_value_t = DataFormat::Human)]
    pub format: DataFormat,
}

/// How far the local clock may be from the provider's (HTTP `Date` has one-second steps).
pub const CLOCK_TOLERANCE_SECS: i64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub check: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    pub verdict: Verdict,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Check {
    fn new(check: &'static str, app: Option<&str>, verdict: Verdict, detail: String) -> Self {
        Self {
            check,
            app: app.map(str::to_owned),
            verdict,
            detail,
            hint: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// The provider's attribute names against `crier.yaml`'s: `None` when equal as sets, else the
/// difference in words.
#[must_use]
pub fn attribute_difference(configured: &[String], provider: &[String]) -> Option<String> {
    let missing: Vec<&str> = configured
        .iter()
        .filter(|a| !provider.contains(a))
        .map(String::as_str)
        .collect();
    let extra: Vec<&str> = provider
        .iter()
        .filter(|a| !configured.contains(a))
        .map(String::as_str)
        .collect();
    if missing.is_empty() && extra.is_empty() {
        return None;
    }
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!(
            "in crier.yaml but not at the provider: {}",
            missing.join(", ")
        ));
    }
    if !extra.is_empty() {
        parts.push(format!(
            "at the provider but not in crier.yaml: {}",
            extra.join(", ")
        ));
    }
    Some(parts.join("; "))
}

/// The attribute names of a `get_attr_name` answer (`AttrNames: {"0": "sex", …}`), by index.
#[must_use]
pub fn attr_names(raw: &serde_json::Value) -> Vec<String> {
    let Some(names) = raw.get("AttrNames").and_then(serde_json::Value::as_object) else {
        return Vec::new();
    };
    let mut pairs: Vec<(u32, String)> = names
        .iter()
        .filter_map(|(k, v)| Some((k.parse().ok()?, v.as_str()?.to_owned())))
        .collect();
    pairs.sort();
    pairs.into_iter().map(|(_, v)| v).collect()
}

/// The local clock against the provider's `Date`.
#[must_use]
pub fn clock_verdict(local: DateTime<Utc>, provider: DateTime<Utc>) -> (Verdict, String) {
    let skew = (local - provider).num_seconds();
    let detail = format!(
        "the local clock is {}s {} the provider's",
        skew.abs(),
        if skew >= 0 { "ahead of" } else { "behind" }
    );
    if skew.abs() <= CLOCK_TOLERANCE_SECS {
        (Verdict::Pass, detail)
    } else {
        (Verdict::Fail, detail)
    }
}

/// `crier doctor`.
///
/// # Errors
/// An unreadable `crier.yaml` (nothing else can be checked without it).
#[allow(
    clippy::disallowed_methods,
    reason = "doctor compares the system clock itself with the provider's"
)]
pub fn doctor(env: &Env, args: &DoctorArgs) -> anyhow::Result<Exit> {
    let ws = super::workspace::load_workspace(env, &[])?;
    let settings = &ws.settings;
    let mut checks = Vec::new();
    checks.push(Check::new(
        "config",
        None,
        Verdict::Pass,
        format!(
            "{} is valid ({} app{})",
            crate::diag::display_path(&settings.config_path, &env.cwd).display(),
            settings.apps.len(),
            if settings.apps.len() == 1 { "" } else { "s" }
        ),
    ));
    let outcome = ws.validation();
    let errors = ws
        .set
        .diagnostics
        .iter()
        .chain(&outcome.diagnostics)
        .filter(|d| d.is_error())
        .count();
    checks.push(if errors == 0 {
        Check::new(
            "campaigns",
            None,
            Verdict::Pass,
            format!("{} campaigns valid", outcome.checked.len()),
        )
    } else {
        Check::new(
            "campaigns",
            None,
            Verdict::Fail,
            format!("{errors} errors in the campaign files"),
        )
        .hint("crier validate")
    });
    checks.push(match std::env::var("CRIER_NOW") {
        Ok(v) if !v.is_empty() => Check::new(
            "clock_override",
            None,
            Verdict::Fail,
            format!("CRIER_NOW={v} fixes crier's clock (for tests only)"),
        )
        .hint("unset CRIER_NOW"),
        _ => Check::new(
            "clock_override",
            None,
            Verdict::Pass,
            "CRIER_NOW is not set".to_owned(),
        ),
    });
    let rt = super::workspace::runtime()?;
    for app in settings.apps.values() {
        rt.block_on(check_app(app, env, &mut checks));
    }
    rt.block_on(check_ledger(settings, &mut checks));

    let failed = checks.iter().any(|c| c.verdict == Verdict::Fail);
    let mut out = anstream::stdout();
    match args.format {
        DataFormat::Json => {
            let v = serde_json::json!({
                "format_version": 1,
                "ok": !failed,
                "checks": checks,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        DataFormat::Human => {
            for c in &checks {
                let mark = match c.verdict {
                    Verdict::Pass => "ok  ".green().to_string(),
                    Verdict::Warn => "warn".yellow().to_string(),
                    Verdict::Fail => "FAIL".red().bold().to_string(),
                };
                let what = match &c.app {
                    Some(app) => format!("{} (app {app})", c.check),
                    None => c.check.to_owned(),
                };
                writeln!(out, "{mark} {what}: {}", c.detail)?;
                if let Some(h) = &c.hint {
                    writeln!(out, "     hint: {h}")?;
                }
            }
            writeln!(
                out,
                "\n{}",
                if failed {
                    "doctor: some checks failed"
                } else {
                    "doctor: all checks passed"
                }
            )?;
        }
    }
    Ok(if failed { Exit::Failed } else { Exit::Done })
}

#[allow(
    clippy::disallowed_methods,
    reason = "doctor compares the system clock itself with the provider's"
)]
async fn check_app(app: &AppSettings, env: &Env, checks: &mut Vec<Check>) {
    let name = Some(app.name.as_str());
    let client = match Client::new(app, &crate::secrets::EnvSecrets, Arc::clone(&env.clock)) {
        Ok(c) => {
            checks.push(Check::new(
                "secret",
                name,
                Verdict::Pass,
                format!("{} is set", app.secret_key_env),
            ));
            c
        }
        Err(e) => {
            let missing = matches!(e, crate::api::client::ClientError::MissingSecret(_));
            let check = Check::new(
                if missing { "secret" } else { "client" },
                name,
                Verdict::Fail,
                e.to_string().lines().next().unwrap_or_default().to_owned(),
            );
            checks.push(if missing {
                check.hint(format!(
                    "export {}=<the app's secret key from the Chat console>",
                    app.secret_key_env
                ))
            } else {
                check
            });
            return;
        }
    };
    match client.call(paths::GET_ATTR_NAME, "{}").await {
        Ok(reply) => {
            checks.push(Check::new(
                "usersig",
                name,
                Verdict::Pass,
                format!(
                    "the provider accepted a UserSig of admin `{}` (sdkappid {})",
                    app.admin, app.sdkappid
                ),
            ));
            let provider = attr_names(&reply.raw);
            checks.push(match attribute_difference(&app.attributes, &provider) {
                None => Check::new(
                    "attributes",
                    name,
                    Verdict::Pass,
                    format!(
                        "the provider's attribute names match crier.yaml ({})",
                        if provider.is_empty() {
                            "none".to_owned()
                        } else {
                            provider.join(", ")
                        }
                    ),
                ),
                Some(diff) => Check::new("attributes", name, Verdict::Fail, diff).hint(
                    "make apps.<app>.attributes in crier.yaml the app's attribute names (the Chat console, or v4/timpush/set_attr_name): a condition on an unknown attribute is refused (90033)",
                ),
            });
            checks.push(match reply.date {
                Some(date) => {
                    let (verdict, detail) = clock_verdict(Utc::now(), date);
                    let c = Check::new("clock", name, verdict, detail);
                    if verdict == Verdict::Pass {
                        c
                    } else {
                        c.hint("synchronise the clock (NTP): schedules, grace and quota days follow it")
                    }
                }
                None => Check::new(
                    "clock",
                    name,
                    Verdict::Warn,
                    "the provider's answer had no Date header to compare with".to_owned(),
                ),
            });
        }
        Err(CallError::Api { code, info, .. }) => {
            checks.push(
                Check::new(
                    "usersig",
                    name,
                    Verdict::Fail,
                    format!("the provider refused the call: ErrorCode {code}: {info}"),
                )
                .hint(format!(
                    "check sdkappid {}, admin `{}` and the secret key in {} (the Chat console, Basic Information)",
                    app.sdkappid, app.admin, app.secret_key_env
                )),
            );
        }
        Err(e) => {
            checks.push(
                Check::new(
                    "usersig",
                    name,
                    Verdict::Fail,
                    format!("cannot reach the provider: {e}"),
                )
                .hint("check the endpoint or region in crier.yaml and the network"),
            );
        }
    }
}

async fn check_ledger(settings: &crate::settings::Settings, checks: &mut Vec<Check>) {
    let ledger = match super::workspace::ledger_of(settings) {
        Ok(l) => l,
        Err(e) => {
            checks.push(Check::new("ledger", None, Verdict::Fail, e.to_string()));
            return;
        }
    };
    match ledger.read().await {
        Ok(read) => checks.push(Check::new(
            "ledger",
            None,
            Verdict::Pass,
            format!("{}: {} records", ledger.describe(), read.snapshot.seq),
        )),
        Err(e) => {
            checks.push(Check::new(
                "ledger",
                None,
                Verdict::Fail,
                format!("{}: {e}", ledger.describe()),
            ));
            return;
        }
    }
    if let AnyLedger::Postgres(pg) = &ledger {
        match pg.schema_state().await {
            Ok((have, know)) if have == know => checks.push(Check::new(
                "ledger_schema",
                None,
                Verdict::Pass,
                format!("schema version {have}, current"),
            )),
            Ok((have, know)) if have < know => checks.push(
                Check::new(
                    "ledger_schema",
                    None,
                    Verdict::Warn,
                    format!("schema version {have}; this crier migrates it to {know}"),
                )
                .hint("crier ledger migrate (apply also migrates when its role may)"),
            ),
            Ok((have, know)) => checks.push(Check::new(
                "ledger_schema",
                None,
                Verdict::Fail,
                format!("schema version {have} is newer than this crier knows ({know}): install a newer crier"),
            )),
            Err(e) => checks.push(Check::new("ledger_schema", None, Verdict::Fail, e.to_string())),
        }
    }
    match ledger.locks().await {
        Ok(locks) if locks.is_empty() => checks.push(Check::new(
            "locks",
            None,
            Verdict::Pass,
            "no lock is held".to_owned(),
        )),
        Ok(locks) => {
            for l in locks {
                let what = l
                    .sdkappid
                    .map_or_else(|| "the ledger".to_owned(), |a| format!("app {a}"));
                let c = Check::new(
                    "locks",
                    None,
                    if l.stale {
                        Verdict::Warn
                    } else {
                        Verdict::Pass
                    },
                    format!("{what} is locked by {l}"),
                );
                checks.push(if l.stale {
                    c.hint("the next apply takes it over; `crier ledger unlock APP --force` does so now")
                } else {
                    c
                });
            }
        }
        Err(e) => checks.push(Check::new("locks", None, Verdict::Fail, e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_names_are_compared_as_sets_and_the_difference_is_named() {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            attribute_difference(&s(&["city", "level"]), &s(&["level", "city"])),
            None
        );
        assert_eq!(
            attribute_difference(&s(&["level", "city"]), &s(&["level", "sex"])).unwrap(),
            "in crier.yaml but not at the provider: city; at the provider but not in crier.yaml: sex"
        );
        let raw = serde_json::json!({"AttrNames": {"1": "city", "0": "sex", "10": "x"}});
        assert_eq!(attr_names(&raw), s(&["sex", "city", "x"]));
        assert!(attr_names(&serde_json::json!({})).is_empty());
    }

    #[test]
    fn the_clock_is_sane_within_five_seconds() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let (v, d) = clock_verdict(t("2026-12-01T00:00:04Z"), t("2026-12-01T00:00:00Z"));
        assert_eq!(
            (v, d.as_str()),
            (
                Verdict::Pass,
                "the local clock is 4s ahead of the provider's"
            )
        );
        let (v, d) = clock_verdict(t("2026-12-01T00:00:00Z"), t("2026-12-01T00:01:00Z"));
        assert_eq!(
            (v, d.as_str()),
            (
                Verdict::Fail,
                "the local clock is 60s behind the provider's"
            )
        );
    }
}
