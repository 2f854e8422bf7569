//! `crier apply` as a user runs it: the real binary against the in-process emulator; exit codes,
//! the no-terminal refusal, the CI rule, the lock holder, plan files, Ctrl-C, and no secrets
//! in the output.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::apply::{KEY, Repo, emulator_config, start_emulator};
use crate::support::cli::{run, text};
use crier::clock::ManualClock;
use crier::ledger::FileLedger;
use crier::ledger::lock::LockHolder;
use crier::ledger::record::StateKind;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_hint_ci_rule_and_no_secrets() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 2)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    repo.campaigns(3);

    // No terminal, no --auto-approve: exit 1 with a hint, nothing sent.
    let o = run(repo.binary(&["apply"])).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o)
            .contains("hint: review the plan (crier plan) and run `crier apply --auto-approve`"),
        "{}",
        text(&o)
    );
    assert!(emu.pushes().is_empty());

    // CI=true and a file ledger: refused.
    let mut c = repo.binary(&["apply", "--auto-approve"]);
    c.env("CI", "true");
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("--allow-ephemeral-ledger"),
        "{}",
        text(&o)
    );
    assert!(emu.pushes().is_empty());

    // The provider's quota is 2: two sent, one deferred: exit 2.
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains("Apply complete: 2 sent, 1 deferred, 0 failed, 0 in doubt, 0 missed."),
        "{out}"
    );
    assert!(out.contains("✓ sent rel/1400000000/c00@"), "{out}");
    assert!(!out.contains(KEY), "the secret key never appears");
    assert!(!out.to_lowercase().contains("usersig=") || out.contains("usersig=REDACTED"));
    assert_eq!(emu.pushes().len(), 2);

    // The provider said the quota day is full (90047): the next apply on the same quota day
    // does not ask again (it would cost one more refused request), it holds the deferral
    // until the next quota day and still exits 2.
    emu.reset();
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("held (deferred)"), "{out}");
    assert!(out.contains("retried on the next quota day"), "{out}");
    assert!(emu.pushes().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_apply_waits_then_names_the_lock_holder() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    repo.campaigns(1);
    let holder = LockHolder {
        pid: 777,
        hostname: "laptop".into(),
        user: "ana".into(),
        command: "crier apply".into(),
        started_at: repo.now,
        project: None,
        ci_run: None,
        ci_url: None,
    };
    let guard = FileLedger::new(repo.ledger_dir())
        .lock_sync(&holder, Duration::ZERO, &ManualClock::new(repo.now))
        .unwrap();
    let o = run(repo.binary(&["apply", "--auto-approve", "--lock-timeout", "300ms"])).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("is locked by pid 777 (ana@laptop, `crier apply`"),
        "{}",
        text(&o)
    );
    assert!(emu.pushes().is_empty());
    drop(guard);
    let o = run(repo.binary(&["apply", "--auto-approve", "--lock-timeout", "300ms"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewed_plan_file_is_applied_and_then_refused_as_stale() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    repo.campaigns(2);
    let o = run(repo.binary(&["plan", "--out", "reviewed.json", "--horizon", "1h"])).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = run(repo.binary(&["apply", "reviewed.json", "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(emu.pushes().len(), 2);
    let o = run(repo.binary(&["apply", "reviewed.json", "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("the plan file is stale"), "{}", text(&o));
    assert_eq!(emu.pushes().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_finishes_the_request_in_flight_records_it_and_releases_the_lock() {
    interrupted_by("INT").await;
}

/// SIGTERM (a CI cancel or timeout, Kubernetes, systemd) is handled like Ctrl-C.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_is_handled_like_ctrl_c() {
    interrupted_by("TERM").await;
}

async fn interrupted_by(signal: &str) {
    // 300 ms per answer and 50 ms pacing: 10 pushes take about 3.5 s.
    let mut config = emulator_config(Duration::from_millis(50), 100);
    config.faults.latency_ms = 300;
    let emu = start_emulator(config).await;
    let repo = Repo::for_emulator(&emu.base_url(), "50ms", 100);
    repo.campaigns(10);
    let child = repo
        .binary(&["apply", "--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Signal once the apply is sending (its handlers are installed before the first send), not
    // after a fixed wait: a loaded machine may take longer than that to start it.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while emu.pushes().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no push within 60 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let o = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "interrupted (SIG{signal}): finishing the request in flight"
        )),
        "{out}"
    );
    assert!(out.contains("Apply interrupted:"), "{out}");
    let read = FileLedger::new(repo.ledger_dir()).read_sync().unwrap();
    let sent = read
        .snapshot
        .occurrences
        .values()
        .filter(|o| o.kind() == StateKind::Sent)
        .count();
    assert!(
        read.snapshot
            .occurrences
            .values()
            .all(|o| o.kind() == StateKind::Sent),
        "the request in flight was recorded; nothing dangles"
    );
    assert!((1..10).contains(&sent), "{sent}");
    assert_eq!(emu.pushes().len(), sent);
    assert_eq!(
        FileLedger::new(repo.ledger_dir())
            .lock_state_sync()
            .unwrap(),
        crier::ledger::LockState::Free
    );
}
