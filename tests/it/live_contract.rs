//! The live contract suite, opt-in: the same black-box scenarios as against the emulator, run
//! against a real test app of the provider when `CRIER_LIVE_SDKAPPID`, `CRIER_LIVE_ADMIN` and
//! `CRIER_LIVE_SECRET_KEY` are set (skipped otherwise, and never in CI here: there is no
//! network). They reach only a test tag (`CRIER_LIVE_TAG`, default `crier-live-test`) and the
//! named test accounts of `CRIER_LIVE_ACCOUNTS` (comma-separated, at least three), never all
//! users. `CRIER_LIVE_REGION` picks the region (default `singapore`).
//!
//! What it settles that the reference leaves open (its §9): whether `TagsNot` means "none of"
//! or "not all of" the tags, read from the reach of one push in `crier report`.

use std::process::Command;

use crate::support::cli::text;
use chrono::{SecondsFormat, Utc};

struct Live {
    sdkappid: String,
    admin: String,
    key: String,
    region: String,
    tag: String,
    accounts: Vec<String>,
}

fn live() -> Option<Live> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let (Some(sdkappid), Some(admin), Some(key)) = (
        var("CRIER_LIVE_SDKAPPID"),
        var("CRIER_LIVE_ADMIN"),
        var("CRIER_LIVE_SECRET_KEY"),
    ) else {
        eprintln!(
            "skipped: the live contract suite needs CRIER_LIVE_SDKAPPID, CRIER_LIVE_ADMIN and CRIER_LIVE_SECRET_KEY (a test app of the provider)"
        );
        return None;
    };
    Some(Live {
        sdkappid,
        admin,
        key,
        region: var("CRIER_LIVE_REGION").unwrap_or_else(|| "singapore".to_owned()),
        tag: var("CRIER_LIVE_TAG").unwrap_or_else(|| "crier-live-test".to_owned()),
        accounts: var("CRIER_LIVE_ACCOUNTS")
            .map(|a| a.split(',').map(|s| s.trim().to_owned()).collect())
            .unwrap_or_default(),
    })
}

/// A repository for the live app, and the binary run in it with the key (no `CRIER_NOW`).
fn repo(l: &Live) -> (tempfile::TempDir, impl Fn(&[&str]) -> std::process::Output) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("crier.yaml"),
        format!(
            "project: crier-live\napps:\n  live:\n    sdkappid: {}\n    region: {}\n    admin: {}\n    secret_key_env: CRIER_LIVE_SECRET_KEY\ndefaults: {{timezone: UTC, grace: 1h}}\n",
            l.sdkappid, l.region, l.admin
        ),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("campaigns")).unwrap();
    let root = dir.path().to_owned();
    let key = l.key.clone();
    let run = move |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_crier"))
            .args(args)
            .current_dir(&root)
            .env("CRIER_LIVE_SECRET_KEY", &key)
            .env_remove("CRIER_NOW")
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    (dir, run)
}

/// A one-off due now to `audience` (a tags condition: never all users); returns its time.
fn campaign(dir: &std::path::Path, name: &str, audience: &str) -> String {
    assert!(
        audience.contains("tags"),
        "the live suite pushes to test tags only"
    );
    let at = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
    std::fs::write(
        dir.join(format!("campaigns/{name}.yaml")),
        format!(
            "version: 1\nname: {name}\naudience: {audience}\nschedule: {{at: \"{at}\"}}\nmessage:\n  body:\n    - text: \"crier live contract test ({name})\"\n  offline_push:\n    title: \"crier test\"\n    desc: \"a test of crier's live contract suite\"\nrecall:\n  title: \"crier test\"\n  desc: \"withdrawn by the test\"\n"
        ),
    )
    .unwrap();
    at
}

#[test]
fn live_doctor_send_test_apply_report_and_recall_on_a_test_tag() {
    let Some(l) = live() else { return };
    let (dir, crier) = repo(&l);
    let o = crier(&["doctor"]);
    assert!(
        text(&o).contains("ok   usersig (app live)"),
        "the provider accepts crier's UserSig: {}",
        text(&o)
    );
    let at = campaign(
        dir.path(),
        "live-tag",
        &format!("{{tags: {{any: [{}]}}}}", l.tag),
    );
    if !l.accounts.is_empty() {
        let o = crier(&["send-test", "live-tag", "--to", &l.accounts.join(",")]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    let o = crier(&["apply", "--auto-approve"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = crier(&["report", "live-tag", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = crier(&["recall", "live-tag", "--at", &at, "--auto-approve"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// Three test accounts tagged {T, A}, {T, A, B} and {T}; one push to `tags: {all: [T], none:
/// [A, B]}`. "None of" reaches one account, "not all of" two.
#[tokio::test]
async fn live_what_tags_none_means() {
    let Some(l) = live() else { return };
    if l.accounts.len() < 3 {
        eprintln!("skipped: CRIER_LIVE_ACCOUNTS needs three test accounts");
        return;
    }
    let (dir, crier) = repo(&l);
    let (a, b) = (format!("{}-a", l.tag), format!("{}-b", l.tag));
    let (settings, _) = crier::load::load_settings(
        &dir.path().join("crier.yaml"),
        dir.path(),
        &mut crier::load::Sources::default(),
    )
    .unwrap();
    let app = settings.apps.values().next().unwrap();
    let secrets = crier::secrets::MapSecrets(
        [("CRIER_LIVE_SECRET_KEY".to_owned(), l.key.clone())]
            .into_iter()
            .collect(),
    );
    let client = crier::api::client::Client::new(
        app,
        &secrets,
        std::sync::Arc::new(crier::clock::SystemClock),
    )
    .unwrap();
    let tags = serde_json::json!({"UserTags": [
        {"To_Account": l.accounts[0], "Tags": [l.tag, a]},
        {"To_Account": l.accounts[1], "Tags": [l.tag, a, b]},
        {"To_Account": l.accounts[2], "Tags": [l.tag]},
    ]});
    client
        .call(crier::api::wire::paths::ADD_TAG, &tags.to_string())
        .await
        .unwrap();
    campaign(
        dir.path(),
        "live-tags-none",
        &format!("{{tags: {{all: [{}], none: [{a}, {b}]}}}}", l.tag),
    );
    let o = crier(&["apply", "--auto-approve"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Statistics settle within minutes at the provider.
    std::thread::sleep(std::time::Duration::from_secs(120));
    let o = crier(&["report", "live-tags-none", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let total = json["pushes"][0]["total"].as_u64().unwrap_or_default();
    eprintln!(
        "TagsNot reached {total} of the 3 test accounts: {}",
        match total {
            1 => "\"none of\" (the emulator's reading)",
            2 => "\"not all of\": the emulator must change",
            _ => "neither reading: look at the push in the console",
        }
    );
    assert_eq!(total, 1, "the emulator reads TagsNot as \"none of\"");
}
