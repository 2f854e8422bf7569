//! `offline_push.translations` end to end: every string a template, sent as the provider's
//! `MultiLanguageContent` in source order, accepted and recorded by the emulator.

use std::time::Duration;

use crate::support::apply::{Repo, emulator_config, start_emulator};
use crate::support::cli::{run, text};
use chrono::SecondsFormat;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn translations_become_multi_language_content_in_source_order() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    let at = repo.now.to_rfc3339_opts(SecondsFormat::Secs, true);
    repo.write(
        "campaigns/sale.yaml",
        format!(
            "version: 1
name: sale
audience: {{all: true}}
schedule: {{at: \"{at}\"}}
vars: {{discount: 30}}
message:
  body:
    - text: \"{{{{ discount }}}}% off\"
  offline_push:
    title: \"Sale\"
    desc: \"{{{{ discount }}}}% off\"
    translations:
      zh-Hans: {{title: \"促销\", desc: \"{{{{ discount }}}}% 折扣\"}}
      en: {{title: \"Sale\"}}
      pt-BR: {{desc: \"{{{{ discount }}}}% de desconto\"}}
"
        ),
    );
    let o = run(repo.binary(&["validate"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(repo.binary(&["render", "sale", "--format", "json"])).await;
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let expected = serde_json::json!([
        {"Language": "zh-Hans", "Title": "促销", "Desc": "30% 折扣"},
        {"Language": "en", "Title": "Sale"},
        {"Language": "pt-BR", "Desc": "30% de desconto"},
    ]);
    assert_eq!(
        json["body"]["OfflinePushInfo"]["MultiLanguageContent"],
        expected
    );
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let pushes = emu.pushes();
    assert_eq!(pushes.len(), 1);
    assert_eq!(
        pushes[0].body["OfflinePushInfo"]["MultiLanguageContent"],
        expected
    );
    // The canonical body keeps the reference's order: Title, Desc, then MultiLanguageContent.
    let o = run(repo.binary(&["render", "sale"])).await;
    let out = text(&o);
    let title = out.find("\"Title\":\"Sale\"").unwrap();
    let multi = out.find("\"MultiLanguageContent\"").unwrap();
    assert!(title < multi, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_view_shows_which_vendors_cut_the_notification() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    let at = repo.now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let title = "T".repeat(45);
    repo.write(
        "campaigns/sale.yaml",
        format!(
            "version: 1\nname: sale\naudience: {{all: true}}\nschedule: {{at: \"{at}\"}}\nmessage:\n  body:\n    - text: hi\n  offline_push:\n    title: \"{title}\"\n"
        ),
    );
    let o = run(repo.binary(&["plan", "--format", "markdown"])).await;
    let out = text(&o);
    assert!(
        out.contains("**On phones** (vendors that cut)")
            && out.contains(&format!(
                "sale title (45 UTF-16 units): vivo (40) \"…{}...\", Meizu (32) \"…{}...\"",
                "T".repeat(16),
                "T".repeat(16)
            )),
        "{out}"
    );
    assert!(
        !out.contains("Huawei (60)"),
        "only the vendors that cut: {out}"
    );
    let o = run(repo.binary(&["plan"])).await;
    assert!(
        text(&o).contains("On phones (vendors that cut):"),
        "{}",
        text(&o)
    );
}
