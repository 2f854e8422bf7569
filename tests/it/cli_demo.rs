//! `crier demo`: the README's first command works with no configuration, secrets or network of
//! the user's, and writes nothing outside its temporary folder.

use std::process::Command;

#[test]
fn demo_sends_every_sample_once_and_leaves_nothing_behind() {
    let cwd = tempfile::tempdir().unwrap();
    let o = Command::new(assert_cmd::cargo::cargo_bin("crier"))
        .current_dir(cwd.path())
        .arg("demo")
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .env_remove("CRIER_NOW")
        .env_remove("CRIER_PROD_SECRET_KEY")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("validate   ok: 9 campaigns valid"), "{out}");
    assert!(
        out.contains("Summary: 9 to send now"),
        "the plan is shown first: {out}"
    );
    assert!(
        out.contains("Apply complete: 9 sent, 0 deferred, 0 failed, 0 in doubt, 0 missed."),
        "{out}"
    );
    assert!(
        out.contains("emulator stats: 9 accepted, 0 deduplicated, rejected {}"),
        "{out}"
    );
    assert!(
        out.contains("weekly-digest           300 of 300 users"),
        "an all-users push reaches everyone: {out}"
    );
    assert_eq!(out.matches("\nsent       crier-demo/").count(), 9, "{out}");
    assert_eq!(
        std::fs::read_dir(cwd.path()).unwrap().count(),
        0,
        "nothing is written into the working directory"
    );
    let repo_line = out
        .lines()
        .find_map(|l| l.strip_prefix("repository "))
        .unwrap();
    assert!(
        !std::path::Path::new(repo_line).exists(),
        "the temporary folder is removed"
    );
}

#[test]
fn demo_honours_a_fixed_clock() {
    let o = Command::new(assert_cmd::cargo::cargo_bin("crier"))
        .args(["demo", "--keep"])
        .env("NO_COLOR", "1")
        .env("CRIER_NOW", "2026-12-24T09:00:00+08:00")
        .env_remove("CI")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("schedules moved to now (2026-12-24T01:00:00Z)"),
        "{out}"
    );
    let kept = out
        .lines()
        .find_map(|l| l.strip_prefix("kept "))
        .and_then(|l| l.split(':').next())
        .unwrap();
    let ledger =
        std::fs::read_to_string(std::path::Path::new(kept).join(".crier/ledger/ledger.jsonl"))
            .unwrap();
    assert!(
        ledger.lines().count() > 18,
        "header, intents, outcomes, snapshot"
    );
    assert!(
        !ledger.to_lowercase().contains("usersig"),
        "no secrets in the ledger"
    );
    std::fs::remove_dir_all(kept).unwrap();
}
