//! The `crier emulator` command line (spec §5) and its conversion into an [`EmulatorConfig`].

use super::config::{self, AppConfig, EmulatorConfig, FaultSettings, UserSeed};
use crate::secrets::SecretProvider;
use anyhow::{Context as _, bail};
use std::path::PathBuf;
use std::time::Duration;

fn parse_duration(s: &str) -> Result<Duration, String> {
    crate::duration::parse(s)
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let r: f64 = s.parse().map_err(|_| format!("{s} is not a number"))?;
    if (0.0..=1.0).contains(&r) {
        Ok(r)
    } else {
        Err("a rate is between 0 and 1".into())
    }
}

/// `crier emulator`.
#[derive(Debug, Clone, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// The app's SDKAppID (one app; or use --config).
    #[arg(long, required_unless_present = "config", conflicts_with = "config")]
    pub sdkappid: Option<u64>,
    /// The app admin identifier.
    #[arg(long, default_value = "admin", conflicts_with = "config")]
    pub admin: String,
    /// The environment variable holding the app's secret key.
    #[arg(long, required_unless_present = "config", conflicts_with = "config")]
    pub secret_key_env: Option<String>,
    /// emulator.yaml describing several apps.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Users as JSON lines: {"id":"u1","tags":["a"],"attrs":{"city":"Shenzhen"}}.
    #[arg(long, conflicts_with = "generate_users")]
    pub users: Option<PathBuf>,
    /// Generate N users u1..uN with random tags and attributes.
    #[arg(long, value_name = "N")]
    pub generate_users: Option<u32>,
    /// Seed for --generate-users.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// The app's attribute names.
    #[arg(long, value_delimiter = ',', conflicts_with = "config")]
    pub attr_names: Vec<String>,
    /// Pushes per quota day.
    #[arg(long, default_value_t = 100, conflicts_with = "config")]
    pub daily_quota: u32,
    /// Two accepted pushes of an app must be more than this apart (90024).
    #[arg(long, default_value = "1s", value_parser = parse_duration, conflicts_with = "config")]
    pub min_interval: Duration,
    /// Where the quota day starts and ends.
    #[arg(long, default_value = "Asia/Shanghai", conflicts_with = "config")]
    pub quota_timezone: chrono_tz::Tz,
    /// A repeated MsgRandom inside this window answers the first TaskId and delivers nothing.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub dedup_window: Duration,
    /// Turn off the per-second limits of the attribute, tag, batch, revoke and statistics APIs.
    #[arg(long)]
    pub no_rate_limits: bool,
    /// Serve HTTPS with a generated certificate.
    #[arg(long)]
    pub tls_self_signed: bool,
    /// Where to write the CA certificate to trust (default: a file in the temp dir).
    #[arg(long, requires = "tls_self_signed")]
    pub cert_out: Option<PathBuf>,
    /// Probability of answering with --fail-code instead of processing a call.
    #[arg(long, value_name = "P", default_value = "0", value_parser = parse_rate)]
    pub fail_rate: f64,
    /// The error code of injected failures.
    #[arg(long, value_name = "CODE", default_value_t = crate::api::wire::codes::INTERNAL_ERROR)]
    pub fail_code: u32,
    /// Delay every API response by this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency: u64,
    /// Probability of processing a call and then closing the connection without a response.
    #[arg(long, value_name = "P", default_value = "0", value_parser = parse_rate)]
    pub drop_response_rate: f64,
}

impl EmulatorArgs {
    fn user_seed(&self) -> anyhow::Result<UserSeed> {
        Ok(match (&self.users, self.generate_users) {
            (Some(path), _) => UserSeed::Records(config::read_users_file(path)?),
            (None, Some(count)) => UserSeed::Generate {
                count,
                seed: self.seed,
            },
            (None, None) => UserSeed::Empty,
        })
    }

    /// The configuration these flags describe; the secret keys come from `secrets`.
    ///
    /// # Errors
    /// A missing secret, an unreadable config or users file.
    pub fn to_config(&self, secrets: &dyn SecretProvider) -> anyhow::Result<EmulatorConfig> {
        let apps = if let Some(path) = &self.config {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let base = path.parent().unwrap_or_else(|| std::path::Path::new("."));
            let mut apps = config::parse_config_file(&text, base, secrets)?;
            let seed = self.user_seed()?;
            for app in &mut apps {
                if matches!(app.users, UserSeed::Empty) {
                    app.users = seed.clone();
                }
            }
            apps
        } else {
            let (Some(sdkappid), Some(var)) = (self.sdkappid, &self.secret_key_env) else {
                bail!("--sdkappid and --secret-key-env are required without --config");
            };
            let key = secrets
                .get(var)
                .ok_or_else(|| config::ConfigError::MissingSecret(var.clone()))?;
            let mut app = AppConfig::new(sdkappid, &self.admin, &key);
            app.attr_names.clone_from(&self.attr_names);
            app.daily_quota = self.daily_quota;
            app.min_interval = self.min_interval;
            app.quota_timezone = self.quota_timezone;
            app.users = self.user_seed()?;
            vec![app]
        };
        let mut cfg = EmulatorConfig::new(apps);
        cfg.dedup_window = self.dedup_window;
        cfg.rate_limits = !self.no_rate_limits;
        cfg.tls_self_signed = self.tls_self_signed;
        cfg.cert_out.clone_from(&self.cert_out);
        cfg.faults = FaultSettings {
            fail_rate: self.fail_rate,
            fail_code: self.fail_code,
            latency_ms: self.latency,
            drop_response_rate: self.drop_response_rate,
        };
        cfg.fault_seed = fastrand::u64(..);
        Ok(cfg)
    }
}

/// Starts the emulator `crier emulator` describes (the CLI prints its address and waits for
/// Ctrl-C).
///
/// # Errors
/// Bad configuration, the address cannot be bound, TLS setup failed.
pub async fn start_cli(
    args: &EmulatorArgs,
    secrets: &dyn SecretProvider,
) -> anyhow::Result<super::EmulatorHandle> {
    let mut config = args.to_config(secrets)?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    if config.tls_self_signed && config.cert_out.is_none() {
        let port = listener.local_addr()?.port();
        config.cert_out = Some(std::env::temp_dir().join(format!("crier-emulator-{port}-ca.pem")));
    }
    super::start(listener, config).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::MapSecrets;
    use clap::Parser as _;

    #[derive(clap::Parser)]
    struct Cmd {
        #[command(flatten)]
        args: EmulatorArgs,
    }

    fn parse(argv: &[&str]) -> Result<EmulatorArgs, clap::Error> {
        Cmd::try_parse_from(std::iter::once("emulator").chain(argv.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn flags_become_a_config() {
        let args = parse(&[
            "--sdkappid",
            "1400000000",
            "--admin",
            "root",
            "--secret-key-env",
            "K",
            "--generate-users",
            "50",
            "--seed",
            "4",
            "--attr-names",
            "city,level",
            "--daily-quota",
            "3",
            "--min-interval",
            "1100ms",
            "--quota-timezone",
            "UTC",
            "--dedup-window",
            "7d",
            "--no-rate-limits",
            "--fail-rate",
            "0.5",
            "--fail-code",
            "70169",
            "--latency",
            "20",
            "--drop-response-rate",
            "0.1",
        ])
        .unwrap();
        let cfg = args
            .to_config(&MapSecrets::default().with("K", "key"))
            .unwrap();
        let app = &cfg.apps[0];
        assert_eq!(
            (app.sdkappid, app.admin.as_str(), app.secret_key.expose()),
            (1_400_000_000, "root", "key")
        );
        assert_eq!(app.attr_names, vec!["city", "level"]);
        assert_eq!(
            (app.daily_quota, app.min_interval),
            (3, Duration::from_millis(1100))
        );
        assert!(matches!(
            app.users,
            UserSeed::Generate { count: 50, seed: 4 }
        ));
        assert_eq!(cfg.dedup_window, Duration::from_secs(7 * 86_400));
        assert!(!cfg.rate_limits);
        assert_eq!(
            cfg.faults,
            FaultSettings {
                fail_rate: 0.5,
                fail_code: 70169,
                latency_ms: 20,
                drop_response_rate: 0.1
            }
        );
    }

    #[test]
    fn defaults_follow_the_contract() {
        let args = parse(&["--sdkappid", "1", "--secret-key-env", "K"]).unwrap();
        assert_eq!(args.listen, "127.0.0.1:0");
        let cfg = args
            .to_config(&MapSecrets::default().with("K", "key"))
            .unwrap();
        assert_eq!(cfg.dedup_window, Duration::from_secs(1));
        assert_eq!(cfg.apps[0].min_interval, Duration::from_secs(1));
        assert_eq!(cfg.apps[0].daily_quota, 100);
        assert_eq!(cfg.apps[0].quota_timezone, chrono_tz::Asia::Shanghai);
        assert!(cfg.rate_limits && !cfg.tls_self_signed);
    }

    #[test]
    fn a_missing_secret_names_its_variable_and_bad_flags_are_refused() {
        let args = parse(&["--sdkappid", "1", "--secret-key-env", "CRIER_X"]).unwrap();
        let err = args
            .to_config(&MapSecrets::default().with("CRIER_X", ""))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the secret key variable CRIER_X is unset or empty"
        );
        assert!(
            parse(&["--secret-key-env", "K"]).is_err(),
            "sdkappid required without --config"
        );
        assert!(
            parse(&[
                "--sdkappid",
                "1",
                "--secret-key-env",
                "K",
                "--fail-rate",
                "1.5"
            ])
            .is_err()
        );
        assert!(
            parse(&[
                "--sdkappid",
                "1",
                "--secret-key-env",
                "K",
                "--users",
                "a",
                "--generate-users",
                "3"
            ])
            .is_err()
        );
        assert!(parse(&["--config", "e.yaml", "--sdkappid", "1"]).is_err());
        assert!(
            parse(&[
                "--sdkappid",
                "1",
                "--secret-key-env",
                "K",
                "--cert-out",
                "x.pem"
            ])
            .is_err(),
            "needs TLS"
        );
    }

    #[test]
    fn config_file_apps_take_the_cli_users_when_they_have_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("emulator.yaml");
        std::fs::write(
            &path,
            "apps:\n  - {sdkappid: 7, admin: a, secret_key_env: K}\n",
        )
        .unwrap();
        let args = parse(&["--config", path.to_str().unwrap(), "--generate-users", "9"]).unwrap();
        let cfg = args
            .to_config(&MapSecrets::default().with("K", "key"))
            .unwrap();
        assert!(matches!(
            cfg.apps[0].users,
            UserSeed::Generate { count: 9, seed: 0 }
        ));
    }
}
