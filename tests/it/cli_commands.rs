//! Black-box tests of `render`, `schema`, `completions`, `init` and the sample campaigns.

use crate::support::cli::{CAMPAIGN, CONFIG, Repo, stderr, stdout};
use std::path::Path;

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn crier_at_root() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("crier").unwrap();
    c.current_dir(repo_root()).env("NO_COLOR", "1");
    c
}

#[test]
fn the_sample_campaigns_validate_and_every_one_renders() {
    let o = crier_at_root()
        .args(["validate", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["errors"], 0);
    let count = report["campaigns"].as_u64().unwrap();
    assert!(count >= 8, "at least 8 sample campaigns, found {count}");
    let mut kinds = std::collections::BTreeSet::new();
    let mut audiences = std::collections::BTreeSet::new();
    let mut schedules = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(repo_root().join("campaigns")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema=../schema/campaign.schema.json"),
            "{}",
            path.display()
        );
        let name = text
            .lines()
            .find_map(|l| l.strip_prefix("name: "))
            .unwrap()
            .to_owned();
        let o = crier_at_root()
            .args([
                "render",
                &name,
                "--at",
                "2026-11-27T00:00:00Z",
                "--format",
                "json",
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let body = &doc["body"];
        for el in body["MsgBody"].as_array().unwrap() {
            kinds.insert(el["MsgType"].as_str().unwrap().to_owned());
        }
        audiences.insert(match body.get("Condition") {
            None => "all".to_owned(),
            Some(c) => c
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join("+"),
        });
        schedules.insert(if text.contains("cron:") { "cron" } else { "at" });
    }
    let all_kinds = [
        "TIMTextElem",
        "TIMCustomElem",
        "TIMLocationElem",
        "TIMFaceElem",
        "TIMSoundElem",
        "TIMImageElem",
        "TIMFileElem",
        "TIMVideoFileElem",
    ];
    assert_eq!(kinds, all_kinds.iter().map(|s| (*s).to_owned()).collect());
    for form in [
        "all",
        "TagsOr+TagsAnd",
        "TagsOr+TagsNot",
        "AttrsAnd",
        "AttrsOr",
    ] {
        assert!(
            audiences.contains(form),
            "no sample with audience {form}: {audiences:?}"
        );
    }
    assert_eq!(schedules.len(), 2);
}

#[test]
fn render_prints_the_url_without_the_usersig_and_the_exact_body() {
    let repo = Repo::new(CONFIG);
    repo.write("campaigns/a.yaml", CAMPAIGN);
    let o = repo
        .crier()
        .args(["render", "hello", "--at", "2026-11-30T00:00:00"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "# hello at 2026-12-01T10:00:00+08:00 (CST)");
    assert_eq!(
        lines[2],
        "POST https://adminapisgp.im.qcloud.com/v4/timpush/push?sdkappid=1400000000&identifier=administrator&usersig=REDACTED&contenttype=json"
    );
    let key = crier::occurrence::OccurrenceKey {
        project: "t".into(),
        sdkappid: 1_400_000_000,
        campaign: "hello".into(),
        scheduled: "2026-12-01T02:00:00Z".parse().unwrap(),
    };
    assert_eq!(
        lines[3],
        format!(
            r#"{{"MsgRandom":{},"OnlineOnlyFlag":0,"MsgBody":[{{"MsgType":"TIMTextElem","MsgContent":{{"Text":"hi hello"}}}}]}}"#,
            key.base_msg_random()
        )
    );
    assert_eq!(lines.len(), 4);
}

#[test]
fn render_after_the_last_occurrence_and_unknown_names_fail() {
    let repo = Repo::new(CONFIG);
    repo.write("campaigns/a.yaml", CAMPAIGN);
    let o = repo
        .crier()
        .args(["render", "hello", "--at", "2027-01-01T00:00:00Z"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "error: campaign `hello` has no occurrence at or after 2027-01-01T00:00:00Z\n"
    );
    let o = repo.crier().args(["render", "nope"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "error: no campaign named `nope` (campaigns: hello)\n"
    );
}

#[test]
fn render_uses_crier_now_by_default() {
    let repo = Repo::new(CONFIG);
    repo.write(
        "campaigns/a.yaml",
        CAMPAIGN.replace("at: \"2026-12-01T10:00:00\"", "cron: \"0 9 * * *\""),
    );
    let o = repo
        .crier()
        .env("CRIER_NOW", "2026-12-24T12:00:00+08:00")
        .args(["render", "hello"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("# hello at 2026-12-25T09:00:00+08:00 (CST)\n"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn render_refuses_an_invalid_campaign_with_its_diagnostics() {
    let repo = Repo::new(CONFIG);
    repo.write(
        "campaigns/a.yaml",
        CAMPAIGN.replace("{{ campaign.name }}", "{{ nope }}"),
    );
    let o = repo.crier().args(["render", "hello"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).starts_with("campaigns/a.yaml:7:13: error: unknown template variable `nope`"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        stderr(&o),
        "error: campaign `hello` is not valid; fix the errors above\n"
    );
}

#[test]
fn schema_prints_the_committed_files() {
    let o = crier_at_root().arg("schema").output().unwrap();
    assert_eq!(
        stdout(&o),
        std::fs::read_to_string(repo_root().join("schema/campaign.schema.json")).unwrap()
    );
    for args in [["schema", "--config"], ["schema", "--config-schema"]] {
        let o = crier_at_root().args(args).output().unwrap();
        assert_eq!(
            stdout(&o),
            std::fs::read_to_string(repo_root().join("schema/crier.schema.json")).unwrap()
        );
    }
    let o = crier_at_root()
        .args(["validate", "--config"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "error: --config needs a PATH (to crier.yaml)\n");
}

#[test]
fn completions_for_each_shell() {
    for (shell, marker) in [
        ("bash", "_crier()"),
        ("zsh", "#compdef crier"),
        ("fish", "complete -c crier"),
    ] {
        let o = crier_at_root()
            .args(["completions", shell])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0));
        let out = stdout(&o);
        assert!(
            out.contains(marker) && out.contains("validate"),
            "{shell}: {}",
            &out[..out.len().min(200)]
        );
    }
    let o = crier_at_root()
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "a usage error exits 1, never 2 (work pending)"
    );
}

#[test]
fn init_creates_a_valid_repository_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        assert_cmd::Command::cargo_bin("crier")
            .unwrap()
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .args(args)
            .output()
            .unwrap()
    };
    std::fs::write(dir.path().join(".gitignore"), "target/").unwrap();
    let o = run(&["init"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for f in [
        "crier.yaml",
        "campaigns/welcome-weekly.yaml",
        "campaigns/try-the-emulator.yaml",
        "schema/campaign.schema.json",
        "schema/crier.schema.json",
    ] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".gitignore")).unwrap(),
        "target/\n.crier/\n"
    );
    let o = run(&["validate"]);
    assert_eq!(stdout(&o), "ok: 2 campaigns valid\n");
    let o = run(&["init"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("crier.yaml already exists; crier init never overwrites a file"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn validate_json_and_github_formats() {
    let repo = Repo::new(CONFIG);
    repo.write(
        "campaigns/a.yaml",
        CAMPAIGN.replace("all: true", "tags: {any: [\"\"]}"),
    );
    let o = repo
        .crier()
        .args(["validate", "--format", "github"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "::error file=campaigns/a.yaml,line=3,col=25::empty tag: the API refuses empty tags (90040)\n"
    );
    let o = repo
        .crier()
        .args(["validate", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["valid"], false);
    assert_eq!(v["diagnostics"][0]["line"], 3);
}

#[test]
fn validate_paths_limit_the_report_but_not_the_set() {
    let repo = Repo::new(CONFIG);
    repo.write("campaigns/a.yaml", CAMPAIGN);
    repo.write("campaigns/b.yaml", CAMPAIGN);
    repo.write(
        "campaigns/c.yaml",
        CAMPAIGN
            .replace("name: hello", "name: other")
            .replace("all: true", "tags: {any: [\"\"]}"),
    );
    let o = repo
        .crier()
        .args(["validate", "campaigns/a.yaml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.starts_with("campaigns/a.yaml:2:7: error: duplicate campaign name `hello` (also in campaigns/b.yaml:2:7)"), "{out}");
    assert!(!out.contains("c.yaml:3"), "c.yaml is out of scope: {out}");
}

#[test]
fn colour_only_on_request() {
    let repo = Repo::new(CONFIG);
    repo.write(
        "campaigns/a.yaml",
        CAMPAIGN.replace("all: true", "tags: {any: [\"\"]}"),
    );
    let o = repo
        .crier()
        .env_remove("NO_COLOR")
        .env("CLICOLOR_FORCE", "1")
        .arg("validate")
        .output()
        .unwrap();
    assert!(stdout(&o).contains("\u{1b}["), "forced colour");
    let o = repo
        .crier()
        .env("CLICOLOR_FORCE", "1")
        .arg("validate")
        .output()
        .unwrap();
    assert!(!stdout(&o).contains("\u{1b}["), "NO_COLOR wins");
}

#[test]
fn render_reads_a_local_at_in_the_campaigns_own_zone() {
    // voice-greeting runs 08:00 Europe/Berlin on weekdays: 08:30 in Berlin is past that day's.
    let o = crier_at_root()
        .args(["render", "voice-greeting", "--at", "2026-12-07T08:30:00"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("# voice-greeting at 2026-12-08T08:00:00+01:00"),
        "{}",
        stdout(&o)
    );
}
