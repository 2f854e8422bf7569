//! Helpers shared by the black-box tests: temporary repositories and the real binary.

pub const CONFIG: &str = "\
project: t
apps:
  prod:
    sdkappid: 1400000000
    region: singapore
    admin: administrator
    secret_key_env: CRIER_PROD_SECRET_KEY
    attributes: [level, city]
";

pub const CAMPAIGN: &str = "\
version: 1
name: hello
audience: {all: true}
schedule: {at: \"2026-12-01T10:00:00\"}
message:
  body:
    - text: \"hi {{ campaign.name }}\"
";

pub use super::repo::Repo;

pub fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// stdout then stderr, as one text.
pub fn text(o: &std::process::Output) -> String {
    stdout(o) + &stderr(o)
}

/// Runs a command off the async runtime (an in-process emulator must keep answering).
pub async fn run(mut c: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}
