//! The apply flow over real HTTP against the in-process emulator: confirmation, CI rule, lock,
//! plan files, snapshots, missed and skipped records.

use std::time::Duration;

use crate::support::apply::{Repo, emulator_config, options, start_emulator};
use chrono::TimeDelta;
use crier::clock::ManualClock;
use crier::dispatch::{ApplyError, Confirmation, ExitStatus, RecordingReporter};
use crier::ledger::lock::LockHolder;
use crier::ledger::record::{RecordBody, StateKind};
use crier::ledger::{FileLedger, LedgerError};

#[tokio::test]
async fn applies_once_records_a_snapshot_and_a_second_apply_has_nothing_to_do() {
    let emu = start_emulator(emulator_config(Duration::from_millis(10), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "10ms", 100);
    repo.campaigns(3);
    let reporter = RecordingReporter::default();
    let report = repo.apply(&options(), None, &reporter).await.unwrap();
    assert_eq!(report.status(), ExitStatus::Done);
    assert_eq!(report.counts().sent, 3);
    assert!(report.snapshot_written);
    let pushes = emu.pushes();
    assert_eq!(pushes.len(), 3);
    let ledger = repo.ledger();
    for push in &pushes {
        let occ = ledger
            .occurrences
            .values()
            .find(|o| o.task_id.as_deref() == Some(push.task_id.as_str()))
            .expect("every accepted push is recorded with its TaskId");
        assert_eq!(occ.kind(), StateKind::Sent);
        assert_eq!(occ.msg_random, Some(push.msg_random));
        assert_eq!(
            occ.request(),
            Some(&push.body),
            "the recorded request is what arrived"
        );
    }
    assert_eq!(ledger.applied["rel"].snapshot.campaigns.len(), 3);
    // The plan now shows no change, and a second apply sends nothing and writes no snapshot.
    let plan = repo.plan(repo.now);
    assert!(plan.due.is_empty());
    assert!(!plan.changes.affects_future_sends(), "{:?}", plan.changes);
    let again = repo
        .apply(&options(), None, &RecordingReporter::default())
        .await
        .unwrap();
    assert_eq!(again.status(), ExitStatus::Done);
    assert!(again.outcomes.is_empty());
    assert!(!again.snapshot_written);
    assert_eq!(emu.pushes().len(), 3);
    let lines = reporter.lines();
    assert!(lines.iter().any(|l| l == "start: 3"), "{lines:?}");
    assert_eq!(lines.last().unwrap(), "finished: Done");
}

#[tokio::test]
async fn without_a_terminal_or_auto_approve_nothing_is_sent() {
    let emu = start_emulator(emulator_config(Duration::from_millis(10), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "10ms", 100);
    repo.campaigns(2);
    let mut opts = options();
    opts.auto_approve = false;
    let err = repo
        .apply(&opts, None, &RecordingReporter::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ApplyError::NoTerminal), "{err}");
    assert!(err.to_string().contains("--auto-approve"), "{err}");
    let no = repo
        .apply(&opts, None, &RecordingReporter::answering(Confirmation::No))
        .await
        .unwrap_err();
    assert!(matches!(no, ApplyError::NotConfirmed));
    assert!(emu.pushes().is_empty());
    assert!(repo.ledger().occurrences.is_empty());
    // Answering yes sends.
    let yes = RecordingReporter::answering(Confirmation::Yes);
    let report = repo.apply(&opts, None, &yes).await.unwrap();
    assert_eq!(report.counts().sent, 2);
    assert!(yes.lines().iter().any(|l| l == "confirm: 2 due"));
}

#[tokio::test]
async fn ci_refuses_a_file_ledger_unless_allowed() {
    let emu = start_emulator(emulator_config(Duration::from_millis(10), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "10ms", 100);
    repo.campaigns(1);
    let mut opts = options();
    opts.ci = Some("true".into());
    let err = repo
        .apply(&opts, None, &RecordingReporter::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApplyError::CiRefusesFileLedger { .. }),
        "{err}"
    );
    assert!(emu.pushes().is_empty());
    assert!(!repo.ledger_dir().join("ledger.jsonl").exists());
    opts.allow_ephemeral_ledger = true;
    let report = repo
        .apply(&opts, None, &RecordingReporter::default())
        .await
        .unwrap();
    assert_eq!(report.counts().sent, 1);
}

#[tokio::test]
async fn a_held_lock_times_out_naming_its_holder() {
    let emu = start_emulator(emulator_config(Duration::from_millis(10), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "10ms", 100);
    repo.campaigns(1);
    let holder = LockHolder {
        pid: 4242,
        hostname: "ci-runner".into(),
        user: "ops".into(),
        command: "crier apply".into(),
        started_at: repo.now,
        project: None,
        ci_run: None,
        ci_url: None,
    };
    let clock = ManualClock::new(repo.now);
    let guard = FileLedger::new(repo.ledger_dir())
        .lock_sync(&holder, Duration::ZERO, &clock)
        .unwrap();
    let mut opts = options();
    opts.lock_timeout = Duration::from_millis(200);
    let err = repo
        .apply(&opts, None, &RecordingReporter::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApplyError::Ledger(LedgerError::Lock(_))),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("locked by pid 4242 (ops@ci-runner"),
        "{err}"
    );
    drop(guard);
    let report = repo
        .apply(&opts, None, &RecordingReporter::default())
        .await
        .unwrap();
    assert_eq!(report.counts().sent, 1);
}

#[tokio::test]
async fn a_plan_file_is_executed_exactly_or_refused_when_stale() {
    let emu = start_emulator(emulator_config(Duration::from_millis(10), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "10ms", 100);
    repo.campaigns(2);
    let reviewed = repo.plan(repo.now);
    // Round-trip through the file format.
    let file: crier::plan::Plan =
        serde_json::from_str(&crier::plan::format::json(&reviewed)).unwrap();

    // A campaign edited after the review: refused, nothing sent.
    repo.campaign("c01", "description: edited\n");
    let err = repo
        .apply(
            &options(),
            Some(file.clone()),
            &RecordingReporter::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ApplyError::StalePlan(r) if r == &["campaign `c01` changed since the plan was made"]),
        "{err}"
    );
    assert!(emu.pushes().is_empty());

    // Restored: the file executes, sending exactly its bodies.
    repo.campaign("c01", "");
    let report = repo
        .apply(
            &options(),
            Some(file.clone()),
            &RecordingReporter::default(),
        )
        .await
        .unwrap();
    assert_eq!(report.counts().sent, 2);
    let bodies: Vec<String> = emu.pushes().iter().map(|p| p.body.to_string()).collect();
    let planned: Vec<&str> = file.due.iter().map(|s| s.body.as_str()).collect();
    assert_eq!(bodies, planned);

    // The same file again: the ledger moved on, so it is stale.
    let err = repo
        .apply(&options(), Some(file), &RecordingReporter::default())
        .await
        .unwrap_err();
    let ApplyError::StalePlan(reasons) = err else {
        panic!("{err}")
    };
    assert!(
        reasons[0].contains("the ledger recorded `sent` for it"),
        "{reasons:?}"
    );
    assert_eq!(emu.pushes().len(), 2);

    // A plan file past grace is refused.
    repo.campaign("late", "");
    let late = repo.plan(repo.now);
    let err = repo
        .apply_at(
            repo.now + TimeDelta::hours(2),
            &options(),
            Some(late),
            &RecordingReporter::default(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("now past grace"), "{err}");
}

#[tokio::test]
async fn skipped_and_missed_are_recorded_once() {
    let emu = start_emulator(emulator_config(Duration::from_millis(10), 100)).await;
    // A minutely cron needs 1,440 pushes a day: validation refuses it under a smaller quota.
    let repo = Repo::for_emulator(&emu.base_url(), "10ms", 1440);
    repo.campaign("paused", "paused: true\n");
    // A cron campaign every minute, grace 1h by default.
    std::fs::write(
        repo.path().join("campaigns/minutely.yaml"),
        "version: 1
name: minutely
audience: {all: true}
schedule: {cron: \"* * * * *\", timezone: UTC, grace: 1m}
message:
  body:
    - text: \"tick\"
",
    )
    .unwrap();
    let report = repo
        .apply(&options(), None, &RecordingReporter::default())
        .await
        .unwrap();
    assert_eq!(report.of("skipped").count(), 1);
    assert!(report.snapshot_written);
    let first = report.counts().sent;
    assert!(first >= 1, "{report:?}");
    // Ten minutes later: the minutes in between are missed (after the snapshot), recorded once.
    let later = repo.now + TimeDelta::minutes(10);
    let report = repo
        .apply_at(later, &options(), None, &RecordingReporter::default())
        .await
        .unwrap();
    let missed = report.of("missed").count();
    assert!((7..=10).contains(&missed), "{report:?}");
    assert_eq!(report.of("skipped").count(), 0, "skipped once only");
    let again = repo
        .apply_at(later, &options(), None, &RecordingReporter::default())
        .await
        .unwrap();
    assert_eq!(again.of("missed").count(), 0);
    let ledger = repo.ledger();
    let missed_records = ledger
        .occurrences
        .values()
        .filter(|o| o.kind() == StateKind::Missed)
        .map(|o| o.history.len())
        .collect::<Vec<_>>();
    assert_eq!(missed_records.len(), missed);
    assert!(missed_records.iter().all(|n| *n == 1));
    assert!(
        !FileLedger::new(repo.ledger_dir())
            .read_sync()
            .unwrap()
            .snapshot
            .applied
            .is_empty()
    );
    let snapshots = std::fs::read_to_string(repo.ledger_dir().join("ledger.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| {
            matches!(
                serde_json::from_str::<crier::ledger::Record>(l)
                    .unwrap()
                    .body,
                RecordBody::Snapshot(_)
            )
        })
        .count();
    assert_eq!(
        snapshots, 1,
        "an unchanged campaign set is not recorded again"
    );
}
