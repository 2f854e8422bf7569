//! Black-box tests of `crier plan`: snapshots of the three formats over the sample campaigns,
//! exit codes, plan files, the Markdown size cap.

use crate::support::cli::{Repo, stderr, stdout};
use crier::clock::ManualClock;
use crier::ledger::file::FileLedger;
use crier::ledger::record::{
    CampaignSnapshot, OccurrenceRecord, OccurrenceState, RecordBody, SnapshotRecord,
};
use crier::occurrence::OccurrenceKey;
use std::path::Path;
use std::time::Duration;

const AT: &str = "2026-12-05T10:10:00+08:00";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of the sample repository (crier.yaml + campaigns) in a temporary folder.
fn samples() -> Repo {
    let repo = Repo::new(&std::fs::read_to_string(root().join("crier.yaml")).unwrap());
    for e in std::fs::read_dir(root().join("campaigns")).unwrap() {
        let p = e.unwrap().path();
        repo.write(
            &format!("campaigns/{}", p.file_name().unwrap().to_string_lossy()),
            std::fs::read(&p).unwrap(),
        );
    }
    repo
}

fn plan(repo: &Repo, args: &[&str]) -> std::process::Output {
    repo.crier()
        .arg("plan")
        .args(["--at", AT])
        .args(args)
        .output()
        .unwrap()
}

fn json_plan(repo: &Repo) -> serde_json::Value {
    serde_json::from_slice(&plan(repo, &["--format", "json"]).stdout).unwrap()
}

fn writer(repo: &Repo) -> crier::ledger::file::FileWriter {
    let clock = ManualClock::new("2026-12-05T00:00:00Z".parse().unwrap());
    FileLedger::new(repo.path().join(".crier/ledger"))
        .lock_sync(
            &crier::cli::lock_holder(clock_now()),
            Duration::from_secs(5),
            &clock,
        )
        .unwrap()
}

fn clock_now() -> chrono::DateTime<chrono::Utc> {
    "2026-12-05T00:00:00Z".parse().unwrap()
}

/// Records the plan's campaigns as the applied snapshot, as a successful apply would.
fn apply_snapshot(repo: &Repo) {
    let p = json_plan(repo);
    let campaigns = p["campaigns"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, v)| {
            (
                name.clone(),
                CampaignSnapshot {
                    hash: p["campaign_hashes"][name].as_str().unwrap().to_owned(),
                    campaign: v.clone(),
                },
            )
        })
        .collect();
    let mut w = writer(repo);
    w.append_sync(
        clock_now(),
        RecordBody::Snapshot(SnapshotRecord {
            project: "crier-samples".into(),
            campaigns,
        }),
    )
    .unwrap();
}

#[test]
fn snapshots_of_the_three_formats_over_the_samples() {
    let repo = samples();
    let human = plan(&repo, &[]);
    assert_eq!(human.status.code(), Some(2), "{}", stderr(&human));
    insta::assert_snapshot!("plan_human", stdout(&human));
    insta::assert_snapshot!(
        "plan_markdown",
        stdout(&plan(&repo, &["--format", "markdown"]))
    );
    insta::assert_snapshot!("plan_json", stdout(&plan(&repo, &["--format", "json"])));
}

#[test]
fn exit_0_when_nothing_is_due_and_nothing_changed() {
    let repo = samples();
    apply_snapshot(&repo);
    let quiet_at = "2026-12-05T08:05:00+08:00";
    let o = repo
        .crier()
        .args(["plan", "--at", quiet_at])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o).contains(
            "Changes since the last apply: 0 to create, 0 to update, 0 to delete, 9 unchanged"
        ),
        "{}",
        stdout(&o)
    );
    // Upcoming occurrences alone do not make it 2.
    assert!(!stdout(&o).contains("Upcoming within 7d (0)"));
    // Editing only a description is a change, but not to future sends.
    let path = repo.path().join("campaigns/weekly-digest.yaml");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "description: Monday digest",
        "description: The Monday digest",
    );
    std::fs::write(&path, text).unwrap();
    let o = repo
        .crier()
        .args(["plan", "--at", quiet_at])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("no effect on sends: only the description changed"));
    // A real change makes it 2.
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("Your weekly digest is ready", "Your digest is ready");
    std::fs::write(&path, text).unwrap();
    let o = repo
        .crier()
        .args(["plan", "--at", quiet_at])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn in_doubt_sends_make_it_2_and_show_the_options() {
    let repo = samples();
    apply_snapshot(&repo);
    let key = OccurrenceKey {
        project: "crier-samples".into(),
        sdkappid: 1_400_000_000,
        campaign: "black-friday-vip".into(),
        scheduled: "2026-12-05T02:00:00Z".parse().unwrap(),
    };
    let mut w = writer(&repo);
    let occ = |state| {
        RecordBody::Occurrence(OccurrenceRecord {
            key: key.clone(),
            app: "prod".into(),
            state,
        })
    };
    w.append_sync(
        clock_now(),
        occ(OccurrenceState::Intent {
            msg_random: 5,
            perturbation: None,
            content_hash: "sha256:x".into(),
            request: serde_json::json!({}),
            attempt: 1,
            origin: None,
        }),
    )
    .unwrap();
    w.append_sync(
        clock_now(),
        occ(OccurrenceState::InDoubt {
            reason: "timed out after the request was written".into(),
        }),
    )
    .unwrap();
    drop(w);
    let o = repo
        .crier()
        .args(["plan", "--at", "2026-12-06T12:00:00+08:00"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let out = stdout(&o);
    assert!(
        out.contains("In doubt: the request may have reached the provider (1):"),
        "{out}"
    );
    assert!(
        out.contains(&format!("crier ledger resolve {} --not-sent", key.id())),
        "{out}"
    );
}

#[test]
fn invalid_campaigns_exit_1_with_diagnostics() {
    let repo = samples();
    repo.write("campaigns/bad.yaml", "version: 1\nname: bad\napp: prod\naudience: {all: true}\nschedule: {cron: \"0 10 L * *\"}\nmessage: {body: [{text: x}]}\n");
    let o = plan(&repo, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).starts_with("campaigns/bad.yaml:5:18: error: cron: `L`"),
        "{}",
        stdout(&o)
    );
    assert!(stderr(&o).contains("the campaign set is not valid"));
}

#[test]
fn plan_files_are_byte_identical_for_the_same_inputs_and_hold_no_secrets() {
    let repo = samples();
    for f in ["a.json", "b.json"] {
        let o = repo
            .crier()
            .env("CRIER_PROD_SECRET_KEY", "very-secret-key")
            .args(["plan", "--at", AT, "--format", "json", "--out", f])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
    }
    let a = std::fs::read(repo.path().join("a.json")).unwrap();
    assert_eq!(a, std::fs::read(repo.path().join("b.json")).unwrap());
    let text = String::from_utf8(a).unwrap();
    assert!(!text.contains("very-secret-key") && !text.to_lowercase().contains("usersig"));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["ledger_seq"], 0);
    let send = &v["due"][0];
    let body = send["body"].as_str().unwrap();
    assert_eq!(
        send["body_hash"],
        crier::plan::normalize::sha256(body.as_bytes())
    );
    assert!(
        v["campaign_hashes"]["black-friday-vip"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
}

#[test]
fn markdown_stays_under_one_comment() {
    let repo = Repo::new(&std::fs::read_to_string(root().join("crier.yaml")).unwrap());
    // Many campaigns with big bodies: the comment must be cut with a pointer to the JSON plan.
    for i in 0..40 {
        repo.write(
            &format!("campaigns/c{i}.yaml"),
            format!(
                "version: 1\nname: c{i}\napp: prod\naudience: {{all: true}}\nschedule: {{cron: \"0 */6 * * *\"}}\nmessage:\n  body:\n    - text: \"{}\"\n",
                "x".repeat(2000)
            ),
        );
    }
    let o = repo
        .crier()
        .args(["plan", "--at", AT, "--format", "markdown"])
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(out.len() < 65_536, "{} characters", out.len());
    assert!(
        out.trim_end()
            .ends_with("to fit one comment — see the JSON plan (`crier plan --format json`)_"),
        "{}",
        &out[out.len().saturating_sub(200)..]
    );
    assert!(out.starts_with(
        "<!-- crier-plan: crier-samples -->\n### crier plan — crier-samples\n\n**Verdict:** "
    ));
}

#[test]
fn bad_flags_are_errors() {
    let repo = samples();
    let o = repo
        .crier()
        .args(["plan", "--horizon", "a week"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--horizon: expected a number at `a week`"),
        "{}",
        stderr(&o)
    );
    let o = repo
        .crier()
        .args(["plan", "--at", "yesterday"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("error: --at:"), "{}", stderr(&o));
}
