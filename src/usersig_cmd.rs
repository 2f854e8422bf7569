//! `crier usersig [--app NAME] [--expire 1d]`: a UserSig for an app's configured admin.
//!
//! Pure apart from the injected secret provider: the caller passes the time. This is the one
//! command whose output is a secret; the caller prints it on stdout and nowhere else.

use crate::api::client::{MissingSecret, secret_key};
use crate::api::usersig;
use crate::settings::{AppSettings, Settings};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The default validity of `crier usersig` (`--expire`).
pub const DEFAULT_EXPIRE: Duration = Duration::from_secs(86_400);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsersigError {
    #[error("crier.yaml configures no apps")]
    NoApps,
    #[error("several apps are configured; choose one with --app (one of: {})", .known.join(", "))]
    AppRequired { known: Vec<String> },
    #[error("unknown app `{name}`; crier.yaml configures: {}", .known.join(", "))]
    UnknownApp { name: String, known: Vec<String> },
    #[error("--expire must be at least 1s")]
    ExpireTooShort,
    #[error(transparent)]
    MissingSecret(#[from] MissingSecret),
}

/// Picks the app: the named one, or the only one when none is named.
///
/// # Errors
/// An unknown name, or several apps and none named; both list the configured names.
pub fn choose_app<'a>(
    settings: &'a Settings,
    app: Option<&str>,
) -> Result<&'a AppSettings, UsersigError> {
    let known = || settings.apps.keys().cloned().collect::<Vec<_>>();
    match app {
        Some(name) => settings
            .apps
            .get(name)
            .ok_or_else(|| UsersigError::UnknownApp {
                name: name.to_owned(),
                known: known(),
            }),
        None => match settings.apps.values().collect::<Vec<_>>().as_slice() {
            [] => Err(UsersigError::NoApps),
            [only] => Ok(only),
            _ => Err(UsersigError::AppRequired { known: known() }),
        },
    }
}

/// A UserSig for the chosen app's admin, valid from `now` for `expire` (whole seconds).
///
/// # Errors
/// See [`choose_app`]; an `expire` under one second; the app's secret key variable unset or
/// empty (the error names it).
pub fn usersig_for(
    settings: &Settings,
    app: Option<&str>,
    expire: Duration,
    secrets: &dyn crate::secrets::SecretProvider,
    now: DateTime<Utc>,
) -> Result<String, UsersigError> {
    let app = choose_app(settings, app)?;
    let expire_secs = i64::try_from(expire.as_secs()).unwrap_or(i64::MAX);
    if expire_secs < 1 {
        return Err(UsersigError::ExpireTooShort);
    }
    let key = secret_key(app, secrets)?;
    Ok(usersig::generate(
        app.sdkappid,
        &app.admin,
        key.expose(),
        now.timestamp(),
        expire_secs,
        None,
    ))
}

#[cfg(test)]
mod tests {
    use super::{DEFAULT_EXPIRE, UsersigError, choose_app, usersig_for};
    use crate::api::usersig::verify;
    use crate::secrets::MapSecrets;
    use crate::settings::{AppSettings, Defaults, Endpoint, LedgerSettings, Region, Settings};
    use chrono::{DateTime, Utc};
    use std::path::PathBuf;
    use std::time::Duration;

    const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";

    fn app(name: &str, sdkappid: u64) -> AppSettings {
        AppSettings {
            name: name.to_owned(),
            sdkappid,
            endpoint: Endpoint::Region(Region::Singapore),
            admin: format!("{name}-admin"),
            secret_key_env: format!("CRIER_{}_SECRET_KEY", name.to_uppercase()),
            attributes: vec![],
            daily_quota: 100,
            quota_timezone: chrono_tz::Asia::Shanghai,
            min_interval: Duration::from_millis(1100),
            ca_file: None,
            reach_estimate: None,
            paused: false,
        }
    }

    fn settings(apps: &[AppSettings]) -> Settings {
        Settings {
            previous_projects: Vec::new(),
            config_path: PathBuf::from("/p/crier.yaml"),
            root: PathBuf::from("/p"),
            project: "shop".to_owned(),
            apps: apps.iter().map(|a| (a.name.clone(), a.clone())).collect(),
            defaults: Defaults {
                timezone: chrono_tz::Asia::Shanghai,
                grace: Duration::from_secs(900),
            },
            campaigns_dir: PathBuf::from("/p/campaigns"),
            ledger: LedgerSettings::File {
                path: PathBuf::from("/p/.crier/ledger"),
            },
            policy: crate::policy::Policy::default(),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn signs_for_the_only_app_admin() {
        let s = settings(&[app("prod", 1_400_000_000)]);
        let secrets = MapSecrets::default().with("CRIER_PROD_SECRET_KEY", KEY);
        let sig = usersig_for(&s, None, DEFAULT_EXPIRE, &secrets, now()).unwrap();
        let doc = verify(
            &sig,
            "prod-admin",
            1_400_000_000,
            KEY,
            1_700_000_000 + 86_400,
        )
        .unwrap();
        assert_eq!((doc.time, doc.expire), (1_700_000_000, 86_400));
        assert_eq!(
            verify(
                &sig,
                "prod-admin",
                1_400_000_000,
                KEY,
                1_700_000_000 + 86_401
            )
            .unwrap_err()
            .code(),
            70001
        );
    }

    #[test]
    fn signs_for_the_named_app_with_its_expire() {
        let s = settings(&[app("prod", 1_400_000_000), app("staging", 1_400_000_001)]);
        let secrets = MapSecrets::default().with("CRIER_STAGING_SECRET_KEY", "k2");
        let sig = usersig_for(
            &s,
            Some("staging"),
            Duration::from_secs(3600),
            &secrets,
            now(),
        )
        .unwrap();
        let doc = verify(&sig, "staging-admin", 1_400_000_001, "k2", 1_700_000_000).unwrap();
        assert_eq!(doc.expire, 3600);
    }

    #[test]
    fn app_choice_errors_list_the_names() {
        let s = settings(&[app("prod", 1), app("staging", 2)]);
        let e = choose_app(&s, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "several apps are configured; choose one with --app (one of: prod, staging)"
        );
        let e = choose_app(&s, Some("dev")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown app `dev`; crier.yaml configures: prod, staging"
        );
        assert_eq!(
            choose_app(&settings(&[]), None).unwrap_err(),
            UsersigError::NoApps
        );
        assert_eq!(choose_app(&s, Some("staging")).unwrap().sdkappid, 2);
    }

    #[test]
    fn missing_or_empty_secret_names_the_variable() {
        let s = settings(&[app("prod", 1)]);
        for secrets in [
            MapSecrets::default(),
            MapSecrets::default().with("CRIER_PROD_SECRET_KEY", ""),
        ] {
            let e = usersig_for(&s, None, DEFAULT_EXPIRE, &secrets, now()).unwrap_err();
            let text = e.to_string();
            assert!(
                matches!(e, UsersigError::MissingSecret(ref m) if m.var == "CRIER_PROD_SECRET_KEY")
            );
            assert!(
                text.contains("environment variable CRIER_PROD_SECRET_KEY is unset or empty"),
                "{text}"
            );
            assert!(
                text.contains("hint: export CRIER_PROD_SECRET_KEY="),
                "{text}"
            );
        }
    }

    #[test]
    fn expire_must_be_a_second_or_more() {
        let s = settings(&[app("prod", 1)]);
        let secrets = MapSecrets::default().with("CRIER_PROD_SECRET_KEY", KEY);
        let e = usersig_for(&s, None, Duration::from_millis(999), &secrets, now()).unwrap_err();
        assert_eq!(e, UsersigError::ExpireTooShort);
    }
}
