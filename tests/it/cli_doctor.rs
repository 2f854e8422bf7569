//! `crier doctor` through the binary against the emulator: every check passing, then each
//! failing check with its hint.

use std::time::Duration;

use crate::support::apply::{KEY_VAR, Repo, emulator_config, start_emulator};
use crate::support::cli::{run, text};

fn doctor(repo: &Repo, args: &[&str]) -> std::process::Command {
    let mut all = vec!["doctor"];
    all.extend_from_slice(args);
    let mut c = repo.binary(&all);
    c.env_remove("CRIER_NOW");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_a_good_setup_and_names_each_failing_check_with_a_hint() {
    let mut config = emulator_config(Duration::from_millis(5), 100);
    config.apps[0].attr_names = vec!["level".into(), "city".into()];
    let emu = start_emulator(config).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    let path = repo.path().join("crier.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap().replace(
        "    daily_quota: 100\n",
        "    daily_quota: 100\n    attributes: [city, level]\n",
    );
    std::fs::write(&path, yaml).unwrap();
    repo.campaigns(1);
    let o = run(doctor(&repo, &[])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    for line in [
        "ok   config: crier.yaml is valid (1 app)",
        "ok   campaigns: 1 campaigns valid",
        "ok   clock_override: CRIER_NOW is not set",
        &format!("ok   secret (app prod): {KEY_VAR} is set"),
        "ok   usersig (app prod): the provider accepted a UserSig of admin `admin`",
        "ok   attributes (app prod): the provider's attribute names match crier.yaml (level, city)",
        "ok   clock (app prod): the local clock is",
        "ok   ledger: file ledger at",
        "ok   locks: no lock is held",
        "doctor: all checks passed",
    ] {
        assert!(out.contains(line), "{line}\n{out}");
    }
    // JSON, with its format version.
    let o = run(doctor(&repo, &["--format", "json"])).await;
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["ok"], true);
    assert!(json["checks"].as_array().unwrap().len() >= 9);

    // Attribute names that differ: the difference, and how to fix it.
    let yaml = std::fs::read_to_string(&path)
        .unwrap()
        .replace("attributes: [city, level]", "attributes: [city, sex]");
    std::fs::write(&path, yaml).unwrap();
    let o = run(doctor(&repo, &[])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("FAIL attributes (app prod): in crier.yaml but not at the provider: sex; at the provider but not in crier.yaml: level")
            && out.contains("hint: make apps.<app>.attributes"),
        "{out}"
    );

    // A wrong key: the provider refuses the UserSig.
    let mut c = doctor(&repo, &[]);
    c.env(KEY_VAR, "not-the-key");
    let o = run(c).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("FAIL usersig (app prod): the provider refused the call: ErrorCode ")
            && out.contains("hint: check sdkappid 1400000000, admin `admin` and the secret key"),
        "{out}"
    );

    // No key at all.
    let mut c = doctor(&repo, &[]);
    c.env_remove(KEY_VAR);
    let o = run(c).await;
    let out = text(&o);
    assert!(
        out.contains("FAIL secret (app prod):")
            && out.contains(&format!("hint: export {KEY_VAR}=")),
        "{out}"
    );

    // A fixed clock.
    let o = run(repo.binary(&["doctor"])).await;
    let out = text(&o);
    assert!(
        out.contains("FAIL clock_override: CRIER_NOW=") && out.contains("hint: unset CRIER_NOW"),
        "{out}"
    );
    // No push was ever sent by doctor.
    assert!(emu.pushes().is_empty());
}
