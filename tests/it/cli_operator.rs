//! The operator's commands through the binary against the emulator: `send-test` (batch),
//! `recall` (revoke) and `report` (statistics).

use std::time::Duration;

use crate::support::apply::{Repo, emulator_config, start_emulator};
use crate::support::cli::{run, text};
use chrono::SecondsFormat;

/// A one-off due now with an offline push and a recall block.
fn promo(repo: &Repo, name: &str) {
    let at = repo.now.to_rfc3339_opts(SecondsFormat::Secs, true);
    repo.write(
        &format!("campaigns/{name}.yaml"),
        format!(
            "version: 1
name: {name}
audience: {{all: true}}
schedule: {{at: \"{at}\"}}
message:
  body:
    - text: \"hello from {name}\"
  offline_push:
    title: \"Sale\"
    desc: \"{{{{ campaign.name }}}}: 20% off\"
recall:
  title: \"Sale cancelled\"
  desc: \"This offer was withdrawn\"
"
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_test_previews_the_notification_on_named_accounts_and_records_it() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    promo(&repo, "promo");
    repo.campaign("plain", "");
    // No offline push: nothing to preview.
    let o = run(repo.binary(&["send-test", "plain", "--to", "u1"])).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("has no offline_push"), "{}", text(&o));
    // More than 500 accounts: refused before any call.
    let many: Vec<String> = (0..501).map(|i| format!("u{i}")).collect();
    let o = run(repo.binary(&["send-test", "promo", "--to", &many.join(",")])).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("--to names 501 accounts; a test send reaches at most 500"),
        "{}",
        text(&o)
    );
    assert!(emu.pushes().is_empty());
    // Two accounts (one repeated): one batch call with the rendered OfflinePushInfo.
    let o = run(repo.binary(&["send-test", "promo", "--to", "ana, bo,ana"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains(
            "sent a test of promo to 2 accounts (ana, bo) through v4/timpush/batch: TaskId batch_"
        ) && out.contains("this previews the notification, not the chat message"),
        "{out}"
    );
    let pushes = emu.pushes();
    assert_eq!(pushes.len(), 1);
    assert!(
        pushes[0].path.ends_with("timpush/batch"),
        "{}",
        pushes[0].path
    );
    assert_eq!(
        pushes[0].body["To_Account"],
        serde_json::json!(["ana", "bo"])
    );
    assert_eq!(pushes[0].body["OfflinePushInfo"]["Desc"], "promo: 20% off");
    assert_eq!(pushes[0].body["From_Account"], "admin");
    assert!(pushes[0].body.get("MsgBody").is_none());
    // Recorded as a test send; the campaign's occurrence is untouched (apply still sends it).
    let ledger = std::fs::read_to_string(repo.ledger_dir().join("ledger.jsonl")).unwrap();
    assert!(ledger.contains("\"kind\":\"test_send\""), "{ledger}");
    let o = run(repo.binary(&["plan"])).await;
    assert!(text(&o).contains("promo"), "{}", text(&o));
    // JSON.
    let o = run(repo.binary(&["send-test", "promo", "--to", "ana", "--format", "json"])).await;
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["format_version"], 1);
    assert!(json["task_id"].as_str().unwrap().starts_with("batch_"));
    // A one-off whose time has passed can still be tried on a phone: its own occurrence.
    let mut c = repo.binary(&["send-test", "promo", "--to", "ana"]);
    let later = repo.now + chrono::TimeDelta::hours(2);
    c.env(
        "CRIER_NOW",
        later.to_rfc3339_opts(SecondsFormat::Secs, true),
    );
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // A stopped app sends no test either.
    let o = run(repo.binary(&["stop", "prod", "--reason", "freeze"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(repo.binary(&["send-test", "promo", "--to", "ana"])).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("app prod is stopped"), "{}", text(&o));
    assert_eq!(emu.pushes().len(), 3);
}

async fn shift_emulator_clock(emu: &crier::emulator::EmulatorHandle, seconds: i64) {
    crier::api::client::install_crypto_provider();
    let resp = reqwest::Client::new()
        .post(format!("{}/emulator/clock", emu.base_url()))
        .json(&serde_json::json!({"offset_seconds": seconds}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{:?}", resp.text().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_withdraws_a_sent_push_within_24_hours_and_records_it() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    promo(&repo, "promo");
    repo.campaign("plain", "");
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let at = repo.now.to_rfc3339_opts(SecondsFormat::Secs, true);
    // Without a terminal, only --auto-approve confirms.
    let o = run(repo.binary(&["recall", "promo", "--at", &at])).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("pass --auto-approve"), "{}", text(&o));
    assert!(emu.pushes().iter().all(|p| p.recalled_at.is_none()));
    // No recall block and no --title/--desc: refused before any call (the provider's 90053).
    let o = run(repo.binary(&["recall", "plain", "--at", &at, "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("no replacement notification"),
        "{}",
        text(&o)
    );
    // The push of promo, withdrawn with the campaign's recall block.
    let o = run(repo.binary(&["recall", "promo", "--at", &at, "--auto-approve"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("recalled rel/1400000000/promo@") && out.contains("Sale cancelled"),
        "{out}"
    );
    let recalled: Vec<_> = emu
        .pushes()
        .into_iter()
        .filter(|p| p.recalled_at.is_some())
        .collect();
    assert_eq!(recalled.len(), 1);
    assert_eq!(
        crate::support::apply::body_campaign(&recalled[0].body),
        "promo"
    );
    let o = run(repo.binary(&["status"])).await;
    assert!(text(&o).contains("recalled 1"), "{}", text(&o));
    let o = run(repo.binary(&["ledger", "show", &format!("rel/1400000000/promo@{at}")])).await;
    assert!(text(&o).contains("recalled"), "{}", text(&o));
    // Twice: already recalled.
    let o = run(repo.binary(&["recall", "promo", "--at", &at, "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("already recalled"), "{}", text(&o));
    // By TaskId, with --title/--desc; a TaskId the ledger does not know is refused.
    let o = run(repo.binary(&["recall", "plain", "--task-id", "nope", "--auto-approve"])).await;
    assert!(
        text(&o).contains("no push with TaskId nope"),
        "{}",
        text(&o)
    );
    let plain_task = emu
        .pushes()
        .into_iter()
        .find(|p| crate::support::apply::body_campaign(&p.body) == "plain")
        .unwrap()
        .task_id;
    // Past 24 h at the provider (its clock moved), within them here: the provider's 90052.
    shift_emulator_clock(&emu, 24 * 3600 + 1800).await;
    let mut c = repo.binary(&[
        "recall",
        "plain",
        "--task-id",
        &plain_task,
        "--title",
        "Oops",
        "--desc",
        "Sorry",
        "--auto-approve",
    ]);
    let later = repo.now + chrono::TimeDelta::hours(23) + chrono::TimeDelta::minutes(59);
    c.env(
        "CRIER_NOW",
        later.to_rfc3339_opts(SecondsFormat::Secs, true),
    );
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("ErrorCode 90052"), "{}", text(&o));
    // Past 24 h here too: refused before any call.
    let mut c = repo.binary(&[
        "recall",
        "plain",
        "--task-id",
        &plain_task,
        "--title",
        "Oops",
        "--auto-approve",
    ]);
    let later = repo.now + chrono::TimeDelta::hours(25);
    c.env(
        "CRIER_NOW",
        later.to_rfc3339_opts(SecondsFormat::Secs, true),
    );
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("more than 24 hours ago"), "{}", text(&o));
    // Back in the window, by TaskId with --title: recalled.
    shift_emulator_clock(&emu, 0).await;
    let o = run(repo.binary(&[
        "recall",
        "plain",
        "--task-id",
        &plain_task,
        "--title",
        "Oops",
        "--desc",
        "Sorry",
        "--auto-approve",
    ]))
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_of_a_task_id_the_provider_does_not_know_is_its_90049() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    promo(&repo, "promo");
    // The push's answer is lost: in doubt; the operator resolves it with a wrong TaskId.
    crier::api::client::install_crypto_provider();
    crate::support::apply::set_faults(&emu, serde_json::json!({"drop_response_rate": 1.0})).await;
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    crate::support::apply::set_faults(&emu, serde_json::json!({"drop_response_rate": 0.0})).await;
    let at = repo.now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let id = format!("rel/1400000000/promo@{at}");
    let o = run(repo.binary(&[
        "ledger",
        "resolve",
        &id,
        "--sent",
        "--task-id",
        "bogus-task",
    ]))
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(repo.binary(&["recall", "promo", "--id", &id, "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("ErrorCode 90049"), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_asks_the_statistics_of_every_recorded_push_five_task_ids_a_call_one_call_a_second()
{
    let mut config = emulator_config(Duration::from_millis(5), 100);
    config.apps[0].users = crier::emulator::UserSeed::Generate {
        count: 1000,
        seed: 7,
    };
    let emu = start_emulator(config).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    let o = run(repo.binary(&["report"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("no sent pushes since"), "{}", text(&o));
    repo.campaigns(7);
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let started = std::time::Instant::now();
    let o = run(repo.binary(&["report", "--format", "json"])).await;
    let elapsed = started.elapsed();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["calls"], 2, "7 TaskIDs: 5 and 2");
    assert!(elapsed >= Duration::from_millis(900), "one call a second");
    let pushes = json["pushes"].as_array().unwrap();
    assert_eq!(pushes.len(), 7);
    for p in pushes {
        let total = p["total"].as_u64().unwrap();
        assert_eq!(total, 1000, "{p}");
        assert_eq!(p["delivered"].as_u64().unwrap(), 900);
    }
    // One campaign, as a table.
    let o = run(repo.binary(&["report", "c03"])).await;
    let out = text(&o);
    assert!(out.contains("c03") && !out.contains("c04"), "{out}");
    assert!(
        out.contains("1 push since") && out.contains("1 statistics call"),
        "{out}"
    );
    // More than 30 days back: the provider's limit, said.
    let o = run(repo.binary(&["report", "--since", "45d"])).await;
    assert!(
        text(&o).contains("reaches past the provider's 30 days"),
        "{}",
        text(&o)
    );
    assert!(!emu.stats().rejected.contains_key("90018"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_recalled_elsewhere_is_the_providers_90050_and_is_recorded_as_recalled() {
    let emu = crate::support::emulator::start(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base, "5ms", 100);
    promo(&repo, "promo");
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let task = emu.handle.pushes()[0].task_id.clone();
    // Recalled in the console, so the ledger does not know.
    let r = emu
        .call(
            "v4/timpush/revoke",
            &serde_json::json!({"TaskId": task, "OfflinePushInfo": {"Title": "x"}}),
        )
        .await;
    assert_eq!(r["ErrorCode"], 0, "{r}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let o = run(repo.binary(&["recall", "promo", "--task-id", &task, "--auto-approve"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("already recalled (90050)"), "{out}");
    let o = run(repo.binary(&["status"])).await;
    assert!(text(&o).contains("recalled 1"), "{}", text(&o));
}
