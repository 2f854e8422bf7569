//! Black-box tests of `crier usersig` and `crier emulator` through the real binary.

use crate::support::cli::{CONFIG, Repo, stderr, stdout};
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

#[test]
fn usersig_prints_a_verifiable_sig_for_the_admin() {
    let repo = Repo::new(CONFIG);
    let o = repo
        .crier()
        .env("CRIER_PROD_SECRET_KEY", "k3y")
        .env("CRIER_NOW", "2026-12-01T00:00:00Z")
        .args(["usersig", "--expire", "2h"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let sig = stdout(&o).trim().to_owned();
    let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
        .unwrap()
        .timestamp();
    let doc =
        crier::api::usersig::verify(&sig, "administrator", 1_400_000_000, "k3y", now).unwrap();
    assert_eq!((doc.time, doc.expire), (now, 7200));
    assert!(
        crier::api::usersig::verify(&sig, "administrator", 1_400_000_000, "k3y", now + 7201)
            .is_err()
    );
}

#[test]
fn usersig_names_a_missing_variable_and_unknown_apps() {
    let repo = Repo::new(CONFIG);
    let o = repo
        .crier()
        .env_remove("CRIER_PROD_SECRET_KEY")
        .arg("usersig")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("CRIER_PROD_SECRET_KEY"),
        "{}",
        stderr(&o)
    );
    let o = repo
        .crier()
        .env("CRIER_PROD_SECRET_KEY", "")
        .arg("usersig")
        .output()
        .unwrap();
    assert!(
        stderr(&o).contains("CRIER_PROD_SECRET_KEY"),
        "empty counts as missing: {}",
        stderr(&o)
    );
    let o = repo
        .crier()
        .env("CRIER_PROD_SECRET_KEY", "k")
        .args(["usersig", "--app", "nope"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("nope") && stderr(&o).contains("prod"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn emulator_subcommand_listens_and_answers() {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("crier"))
        .args([
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--sdkappid",
            "1400000000",
            "--admin",
            "administrator",
            "--secret-key-env",
            "EMU_KEY",
            "--generate-users",
            "20",
            "--seed",
            "3",
        ])
        .env("EMU_KEY", "emu-secret")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {first:?}"))
        .to_owned();
    crier::api::client::install_crypto_provider();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let stats: serde_json::Value = rt.block_on(async {
        let c = reqwest::Client::new();
        let sig = crier::api::usersig::generate(1_400_000_000, "administrator", "emu-secret", chrono::Utc::now().timestamp(), 3600, None);
        let url = format!("{addr}/v4/timpush/push?usersig={sig}&identifier=administrator&sdkappid=1400000000&random=1&contenttype=json");
        let r: serde_json::Value = c
            .post(url)
            .body(r#"{"MsgRandom":1,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"x"}}]}"#)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["ErrorCode"], 0, "{r}");
        c.get(format!("{addr}/emulator/stats")).send().await.unwrap().json().await.unwrap()
    });
    assert_eq!(stats["accepted"], 1);
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        !log.contains("emu-secret"),
        "the key never appears in the log"
    );
}

#[test]
fn emulator_without_its_secret_names_the_variable() {
    let o = assert_cmd::Command::cargo_bin("crier")
        .unwrap()
        .args([
            "emulator",
            "--sdkappid",
            "1",
            "--admin",
            "a",
            "--secret-key-env",
            "NOT_SET_ANYWHERE_42",
        ])
        .env_remove("NOT_SET_ANYWHERE_42")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("NOT_SET_ANYWHERE_42"), "{}", stderr(&o));
}
