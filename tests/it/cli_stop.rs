//! The emergency stop through the binary: `crier stop` / `crier resume` recorded in the ledger
//! and obeyed by plan, status and apply; `CRIER_PAUSE=1` for one process. (A stop reaching an
//! apply that is already running, and another project on the same app, is in
//! `ledger_postgres`: a file ledger has one writer at a time.)

use std::time::Duration;

use crate::support::apply::{Repo, emulator_config, start_emulator};
use crate::support::cli::{run, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_app_sends_nothing_plan_and_status_say_who_and_why_and_resume_sends_it() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    repo.campaigns(2);
    let o = run(repo.binary(&["stop", "nope", "--reason", "x"])).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("no app `nope`"), "{}", text(&o));
    let o = run(repo.binary(&["stop", "prod", "--reason", "wrong link in the text"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("stopped app prod (1400000000)"),
        "{}",
        text(&o)
    );
    // A file ledger has one writer: the stop promises nothing about running applies.
    assert!(
        !text(&o).contains("applies already running"),
        "{}",
        text(&o)
    );
    let o = run(repo.binary(&["stop", "prod", "--reason", "again"])).await;
    assert!(text(&o).contains("is already stopped"), "{}", text(&o));
    let o = run(repo.binary(&["plan"])).await;
    let out = text(&o);
    assert!(
        out.contains("app prod is stopped (by ") && out.contains("wrong link in the text"),
        "{out}"
    );
    assert!(out.contains("`crier resume prod`"), "{out}");
    let o = run(repo.binary(&["status"])).await;
    assert!(
        text(&o).contains("STOPPED: app prod (1400000000) by "),
        "{}",
        text(&o)
    );
    let o = run(repo.binary(&["status", "--format", "json"])).await;
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["stops"][0]["reason"], "wrong link in the text");
    // Apply sends nothing, says why, and exits 0.
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("held (stopped)") && out.contains("wrong link"),
        "{out}"
    );
    assert!(emu.pushes().is_empty());
    // Resumed, the pushes still due go out.
    let o = run(repo.binary(&["resume", "prod"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("resumed app prod"), "{}", text(&o));
    let o = run(repo.binary(&["resume", "prod"])).await;
    assert!(text(&o).contains("is not stopped"), "{}", text(&o));
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(emu.pushes().len(), 2);
    // Status: today's quota of the app, and its last sends with their TaskIds.
    let o = run(repo.binary(&["status"])).await;
    let out = text(&o);
    assert!(!out.contains("STOPPED"), "{out}");
    let day = repo
        .now
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    assert!(
        out.contains(&format!(
            "app prod (1400000000): quota day {day} (Asia/Shanghai): used 2 of 100, 98 left"
        )),
        "{out}"
    );
    assert_eq!(out.matches(" sent TaskId ").count(), 2, "{out}");
    let o = run(repo.binary(&["status", "--format", "json"])).await;
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["apps"][0]["left"], 98);
    assert_eq!(json["apps"][0]["last_sends"].as_array().unwrap().len(), 2);
    assert_eq!(json["format_version"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crier_pause_stops_the_process_it_is_set_for_with_plan_files_and_retries_too() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    repo.campaigns(2);
    let paused = |args: &[&str]| {
        let mut c = repo.binary(args);
        c.env("CRIER_PAUSE", "1");
        c
    };
    let o = run(paused(&["apply", "--auto-approve"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("CRIER_PAUSE=1 is set for this process"),
        "{out}"
    );
    assert!(out.contains("held (stopped)"), "{out}");
    assert!(emu.pushes().is_empty());
    assert!(
        !repo.ledger_dir().join("ledger.jsonl").exists(),
        "nothing recorded"
    );
    // A reviewed plan file, and --retry-in-doubt: still nothing.
    let o = run(repo.binary(&["plan", "--out", "plan.json"])).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = run(paused(&["apply", "plan.json"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(paused(&["apply", "--auto-approve", "--retry-in-doubt"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(emu.pushes().is_empty());
    // `CRIER_PAUSE=0` is not a pause; without it the plan file is applied.
    let mut c = repo.binary(&["apply", "plan.json"]);
    c.env("CRIER_PAUSE", "0");
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(emu.pushes().len(), 2);
}
