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
    // A stopped app sends no test either.
    let o = run(repo.binary(&["stop", "prod", "--reason", "freeze"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(repo.binary(&["send-test", "promo", "--to", "ana"])).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("app prod is stopped"), "{}", text(&o));
    assert_eq!(emu.pushes().len(), 2);
}
