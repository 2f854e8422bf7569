//! `crier plan --base GIT_REF`: both sides read through git, each with its own crier.yaml.

use crate::support::cli::{CAMPAIGN, CONFIG, Repo, stderr, stdout};

fn committed_repo() -> Repo {
    let repo = Repo::new(CONFIG);
    repo.write(
        "campaigns/a.yaml",
        CAMPAIGN.replace("2026-12-01T10:00:00", "2026-12-03T10:00:00"),
    );
    repo.write(
        "campaigns/b.yaml",
        CAMPAIGN
            .replace("name: hello", "name: daily")
            .replace("at: \"2026-12-03T10:00:00\"", "cron: \"0 9 * * *\"")
            .replace("at: \"2026-12-01T10:00:00\"", "cron: \"0 9 * * *\""),
    );
    repo.git(&["init", "-q", "-b", "main"]);
    repo.git(&["add", "."]);
    repo.git(&["commit", "-q", "-m", "base"]);
    repo
}

#[test]
fn base_shows_the_change_view_and_upcoming_of_both_sides() {
    let repo = committed_repo();
    // Head: a changed text, a deleted cron campaign, a new campaign; and a changed crier.yaml.
    repo.write(
        "campaigns/a.yaml",
        CAMPAIGN
            .replace("2026-12-01T10:00:00", "2026-12-03T10:00:00")
            .replace("hi {{ campaign.name }}", "hello {{ campaign.name }}"),
    );
    std::fs::remove_file(repo.path().join("campaigns/b.yaml")).unwrap();
    repo.write(
        "campaigns/c.yaml",
        CAMPAIGN.replace("name: hello", "name: fresh"),
    );
    let o = repo
        .crier()
        .args([
            "plan",
            "--base",
            "HEAD",
            "--at",
            "2026-12-01T00:00:00+08:00",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("compared with HEAD"), "{out}");
    assert!(
        out.contains("Changes against HEAD: 1 to create, 1 to update, 1 to delete, 0 unchanged"),
        "{out}"
    );
    assert!(out.contains("  + fresh"), "{out}");
    assert!(
        out.contains(
            "      message.body[0].text: \"hi {{ campaign.name }}\" → \"hello {{ campaign.name }}\""
        ),
        "{out}"
    );
    assert!(
        out.contains("      request MsgBody[0].MsgContent.Text: \"hi hello\" → \"hello hello\""),
        "{out}"
    );
    assert!(out.contains("  - daily"), "{out}");
    assert!(
        out.contains("Upcoming at HEAD within 7d (8):"),
        "7 daily sends and one one-off at the base: {out}"
    );
    assert!(!out.contains("Due now (1)"), "{out}");
}

#[test]
fn an_unchanged_tree_exits_0_and_unknown_revisions_are_explained() {
    let repo = committed_repo();
    let o = repo
        .crier()
        .args([
            "plan",
            "--base",
            "main",
            "--at",
            "2026-12-01T00:00:00+08:00",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["base"], "main");
    assert_eq!(v["changes"]["unchanged"], 2);
    let o = repo
        .crier()
        .args(["plan", "--base", "origin/main"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o)
            .contains("unknown git revision `origin/main` (hint: CI checkouts are often shallow"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_project_rename_is_flagged() {
    let repo = committed_repo();
    repo.write("crier.yaml", CONFIG.replace("project: t", "project: t2"));
    let o = repo
        .crier()
        .args([
            "plan",
            "--base",
            "HEAD",
            "--at",
            "2026-12-01T00:00:00+08:00",
        ])
        .output()
        .unwrap();
    assert!(
        stdout(&o).contains("project changed from `t` to `t2`"),
        "{}",
        stdout(&o)
    );
}
