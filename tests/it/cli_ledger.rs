//! Black-box tests of `crier status` and `crier ledger list|show|resolve`.

use crate::support::cli::{CAMPAIGN, CONFIG, Repo, stderr, stdout};
use crier::clock::ManualClock;
use crier::ledger::file::FileLedger;
use crier::ledger::record::{OccurrenceRecord, OccurrenceState, RecordBody};
use crier::occurrence::OccurrenceKey;
use std::time::Duration;

fn key(campaign: &str) -> OccurrenceKey {
    OccurrenceKey {
        project: "t".into(),
        sdkappid: 1_400_000_000,
        campaign: campaign.into(),
        scheduled: "2026-12-01T02:00:00Z".parse().unwrap(),
    }
}

/// A repository whose ledger holds one sent and one in-doubt occurrence.
fn repo() -> Repo {
    let repo = Repo::new(CONFIG);
    repo.write("campaigns/a.yaml", CAMPAIGN);
    let now = "2026-12-01T02:00:01Z".parse().unwrap();
    let clock = ManualClock::new(now);
    let mut w = FileLedger::new(repo.path().join(".crier/ledger"))
        .lock_sync(
            &crier::cli::lock_holder(now),
            Duration::from_secs(5),
            &clock,
        )
        .unwrap();
    for (campaign, outcome) in [
        (
            "sent-one",
            OccurrenceState::Sent {
                task_id: "task-123".into(),
            },
        ),
        (
            "doubtful",
            OccurrenceState::InDoubt {
                reason: "connection closed without a response".into(),
            },
        ),
    ] {
        let occ = |state| {
            RecordBody::Occurrence(OccurrenceRecord {
                key: key(campaign),
                app: "prod".into(),
                state,
            })
        };
        let intent = OccurrenceState::Intent {
            msg_random: 42,
            perturbation: None,
            content_hash: "sha256:x".into(),
            request: serde_json::json!({"MsgRandom": 42}),
            attempt: 1,
            origin: None,
        };
        w.append_sync(now, occ(intent)).unwrap();
        w.append_sync(now, occ(outcome)).unwrap();
    }
    repo
}

#[test]
fn status_lists_what_needs_a_decision() {
    let repo = repo();
    let o = repo.crier().arg("status").output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("occurrences: sent 1, in_doubt 1"), "{out}");
    assert!(out.contains("lock: free"), "{out}");
    assert!(
        out.contains(&format!("in_doubt           {}", key("doubtful").id())),
        "{out}"
    );
    let o = repo
        .crier()
        .args(["status", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["needs_decision"][0]["id"], key("doubtful").id());
}

#[test]
fn list_filters_and_show_by_prefix_or_task_id() {
    let repo = repo();
    let o = repo
        .crier()
        .args(["ledger", "list", "--state", "sent"])
        .output()
        .unwrap();
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("TaskId task-123"));
    let o = repo
        .crier()
        .args(["ledger", "show", "task-123"])
        .output()
        .unwrap();
    assert!(
        stdout(&o).starts_with(&key("sent-one").id()),
        "{}",
        stdout(&o)
    );
    let o = repo
        .crier()
        .args(["ledger", "show", "t/1400000000/doub"])
        .output()
        .unwrap();
    assert!(
        stdout(&o).contains("MsgRandom 42") && stdout(&o).contains("history:"),
        "{}",
        stdout(&o)
    );
    let o = repo
        .crier()
        .args(["ledger", "show", "nothing-like-this"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn resolve_records_the_decision_once() {
    let repo = repo();
    let id = key("doubtful").id();
    let o = repo
        .crier()
        .args([
            "ledger",
            "resolve",
            &id,
            "--not-sent",
            "--note",
            "checked the console",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("recorded #6:"), "{}", stdout(&o));
    let o = repo.crier().arg("status").output().unwrap();
    assert!(!stdout(&o).contains("needs a decision"), "{}", stdout(&o));
    let o = repo
        .crier()
        .args(["ledger", "resolve", &id, "--sent"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("only in_doubt, failed or an intent without outcome can be resolved"),
        "{}",
        stderr(&o)
    );
    let o = repo
        .crier()
        .args(["ledger", "resolve", &id, "--not-sent", "--task-id", "x"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "clap refuses --task-id without --sent: a usage error exits 1"
    );
}

#[test]
fn unlock_of_a_file_ledger_explains_that_the_os_releases_it() {
    let repo = Repo::new(CONFIG);
    let o = repo
        .crier()
        .args(["ledger", "unlock", "prod", "--force"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("the operating system releases when its holder ends"),
        "{}",
        stderr(&o)
    );
}

/// A ledger of 700 days of daily sends (1,401 records, so a checkpoint at record 1,000):
/// `status` reads it through the checkpoint and counts every send; `ledger list|show` read the
/// whole history, the sends of long ago included.
#[test]
fn status_counts_a_long_history_read_through_its_checkpoint_and_list_shows_all_of_it() {
    let repo = Repo::new(CONFIG);
    repo.write("campaigns/a.yaml", CAMPAIGN);
    let now: chrono::DateTime<chrono::Utc> = "2026-12-01T02:00:01Z".parse().unwrap();
    let clock = ManualClock::new(now);
    let ledger = FileLedger::new(repo.path().join(".crier/ledger"));
    let mut w = ledger
        .lock_sync(
            &crier::cli::lock_holder(now),
            Duration::from_secs(5),
            &clock,
        )
        .unwrap();
    let first = now - chrono::TimeDelta::days(700);
    for day in 0..700 {
        let at = first + chrono::TimeDelta::days(day);
        let occ = |state| {
            RecordBody::Occurrence(OccurrenceRecord {
                key: OccurrenceKey {
                    scheduled: at,
                    ..key("daily")
                },
                app: "prod".into(),
                state,
            })
        };
        let n = u32::try_from(day).unwrap();
        let intent = OccurrenceState::Intent {
            msg_random: n,
            perturbation: None,
            content_hash: "sha256:x".into(),
            request: serde_json::json!({"MsgRandom": n}),
            attempt: 1,
            origin: None,
        };
        w.append_sync(at, occ(intent)).unwrap();
        w.append_sync(
            at,
            occ(OccurrenceState::Sent {
                task_id: format!("task-{n}"),
            }),
        )
        .unwrap();
    }
    drop(w);
    assert!(
        repo.path()
            .join(".crier/ledger/ledger.checkpoint")
            .is_file()
    );
    let o = repo.crier().arg("status").output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("occurrences: sent 700"),
        "{}",
        stdout(&o)
    );
    let o = repo
        .crier()
        .args(["ledger", "list", "--state", "sent"])
        .output()
        .unwrap();
    assert_eq!(stdout(&o).lines().count(), 700, "{}", stdout(&o));
    let o = repo
        .crier()
        .args(["ledger", "show", "task-0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("history:"), "{}", stdout(&o));
    // A checkpoint that is not this ledger's (garbage here) is ignored: same answers.
    repo.write(
        ".crier/ledger/ledger.checkpoint",
        "{\"offset\": 5, \"line_len\": 3}\nnot a checkpoint",
    );
    let o = repo.crier().arg("status").output().unwrap();
    assert!(
        stdout(&o).contains("occurrences: sent 700"),
        "{}",
        stdout(&o)
    );
}
