//! Malformed input of every kind gives a located diagnostic and exit 1, never a panic or a hang.

use crate::support::cli::{CAMPAIGN, CONFIG, Repo, stderr, stdout};

fn validate(repo: &Repo) -> (i32, String, String) {
    let o = repo
        .crier()
        .arg("validate")
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    (o.status.code().unwrap_or(-1), stdout(&o), stderr(&o))
}

#[test]
fn binary_bytes_are_located() {
    let repo = Repo::new(CONFIG);
    repo.write(
        "campaigns/bin.yaml",
        b"version: 1\nname: x\n\x00\x9f\x92\x96 zz\n",
    );
    let (code, out, err) = validate(&repo);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.starts_with(
            "campaigns/bin.yaml:3:2: error: file is not valid UTF-8 text (binary data?)"
        ),
        "{out}"
    );
}

#[test]
fn a_nul_byte_in_valid_utf8_is_a_yaml_error() {
    let repo = Repo::new(CONFIG);
    repo.write("campaigns/nul.yaml", b"version: 1\nname: \"a\x00b\"\n");
    let (code, out, _) = validate(&repo);
    assert_eq!(code, 1);
    assert!(out.starts_with("campaigns/nul.yaml:2:"), "{out}");
}

#[test]
fn a_huge_file_is_refused() {
    let repo = Repo::new(CONFIG);
    let mut big = CAMPAIGN.to_owned();
    big.push_str(&format!("# {}\n", "x".repeat(2 * 1024 * 1024)));
    repo.write("campaigns/big.yaml", big);
    let (code, out, _) = validate(&repo);
    assert_eq!(code, 1);
    assert!(
        out.starts_with("campaigns/big.yaml:1:1: error: file is larger than 1048576 bytes (1 MiB)"),
        "{out}"
    );
}

#[test]
fn deep_nesting_and_alias_bombs_do_not_hang() {
    let repo = Repo::new(CONFIG);
    repo.write(
        "campaigns/deep.yaml",
        format!("a: {}{}\n", "[".repeat(50_000), "]".repeat(50_000)),
    );
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        bomb.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            vec![format!("*a{}", i - 1); 10].join(", ")
        ));
    }
    repo.write("campaigns/bomb.yaml", bomb);
    let (code, out, _) = validate(&repo);
    assert_eq!(code, 1);
    assert!(
        out.contains("campaigns/bomb.yaml:")
            && out.contains("aliases expand to more than 100000 nodes"),
        "{out}"
    );
    assert!(out.contains("campaigns/deep.yaml:1:"), "{out}");
}

#[test]
fn missing_crier_yaml_names_the_path_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let o = assert_cmd::Command::cargo_bin("crier")
        .unwrap()
        .current_dir(dir.path())
        .arg("validate")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.starts_with("crier.yaml:1:1: error: cannot read file: no such file or directory"),
        "{out}"
    );
    assert!(
        out.contains("hint: run `crier init` to create one, or pass --config PATH"),
        "{out}"
    );
}

#[test]
fn invalid_crier_yaml_is_located() {
    let repo = Repo::new("project: t\napps: [oops\n");
    let (code, out, _) = validate(&repo);
    assert_eq!(code, 1);
    assert!(
        out.starts_with("crier.yaml:3:1: error: invalid YAML:"),
        "{out}"
    );
    let repo =
        Repo::new("apps:\n  prod: {sdkappid: 1, region: china, admin: a, secret_key_env: K}\n");
    let (code, out, _) = validate(&repo);
    assert_eq!(code, 1);
    assert!(
        out.starts_with("crier.yaml:1:1: error: missing required key `project` in (top level)"),
        "{out}"
    );
}

#[test]
fn unreadable_campaigns_folder_is_reported() {
    let repo = Repo::new(&CONFIG.replace(
        "attributes: [level, city]\n",
        "attributes: [level, city]\ncampaigns: notadir\n",
    ));
    repo.write("notadir", "just a file");
    let (code, out, _) = validate(&repo);
    assert_eq!(code, 1);
    assert!(
        out.starts_with("notadir:1:1: error: cannot read directory:"),
        "{out}"
    );
}

#[test]
fn config_given_with_relative_paths_resolves_from_its_folder() {
    let repo = Repo::new(CONFIG);
    repo.write("campaigns/a.yaml", CAMPAIGN);
    let o = assert_cmd::Command::cargo_bin("crier")
        .unwrap()
        .current_dir(std::env::temp_dir())
        .args(["validate", "--config"])
        .arg(repo.path().join("crier.yaml"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(stdout(&o), "ok: 1 campaign valid\n");
}

#[test]
fn a_grace_over_30_days_is_located_in_the_campaign_and_in_crier_yaml() {
    let repo = Repo::new(CONFIG);
    repo.write(
        "campaigns/late.yaml",
        CAMPAIGN.replace(
            "schedule: {at: \"2026-12-01T10:00:00\"}",
            "schedule: {at: \"2026-12-01T10:00:00\", grace: 45d}",
        ),
    );
    let (code, out, err) = validate(&repo);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.starts_with("campaigns/late.yaml:4:")
            && out.contains("error: schedule.grace 45d is longer than 30d"),
        "{out}"
    );
    let repo = Repo::new(&format!("{CONFIG}defaults:\n  grace: 31d\n"));
    repo.write("campaigns/a.yaml", CAMPAIGN);
    let (code, out, err) = validate(&repo);
    assert_eq!(code, 1, "{out}{err}");
    let all = format!("{out}{err}");
    assert!(
        all.contains("crier.yaml:10:10: error: defaults.grace 31d is longer than 30d"),
        "{all}"
    );
}
