//! `crier preview`: the self-contained page of how each push looks, before and after a change,
//! checked as text and, where Debian's Chromium is installed (`.ci/run` installs it), rendered
//! by the real browser headless: a non-blank screenshot and a DOM holding the cut texts.

use std::path::Path;
use std::process::Command;

use crate::support::apply::Repo;
use crate::support::cli::{run, text};
use chrono::SecondsFormat;

fn campaign(repo: &Repo, title: &str) {
    let at = (repo.now + chrono::TimeDelta::hours(2)).to_rfc3339_opts(SecondsFormat::Secs, true);
    repo.write(
        "campaigns/sale.yaml",
        format!(
            "version: 1\nname: sale\naudience: {{tags: {{any: [vip]}}}}\nschedule: {{at: \"{at}\"}}\nmessage:\n  body:\n    - text: \"<b>30%</b> off today\"\n    - location: {{desc: \"Futian store\", latitude: 22.5431, longitude: 114.0579}}\n  offline_push:\n    title: \"{title}\"\n    desc: \"Everything must go 😀\"\n    translations:\n      zh-Hans: {{title: \"促销\", desc: \"全部清仓\"}}\n"
        ),
    );
}

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

fn headless(browser: &str, profile: &Path) -> Command {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_draws_each_vendors_cut_before_and_after_and_chromium_renders_it() {
    let repo = Repo::for_emulator("http://127.0.0.1:9", "1100ms", 100);
    campaign(&repo, "Black Friday: everything half price");
    repo.commit_all();
    let new_title = "Black Friday weekend: every single thing in the shop at half price";
    campaign(&repo, new_title);
    let o = run(repo.binary(&["preview", "--base", "HEAD", "--out", "preview"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("index.html (1 campaign)"), "{}", text(&o));
    let path = repo.path().join("preview/index.html");
    let html = std::fs::read_to_string(&path).unwrap();
    let vivo = format!("{}...", crier::render::vendors::cut(new_title, 40));
    let meizu = format!("{}...", crier::render::vendors::cut(new_title, 32));
    for needle in [
        vivo.as_str(),
        meizu.as_str(),
        "Black Friday: everything half price",
        "&lt;b&gt;30%&lt;/b&gt; off today",
        "[Location]",
        "促销",
        "class=\"side after\"",
        "class=\"side before\"",
    ] {
        assert!(html.contains(needle), "{needle}\n{html}");
    }
    for forbidden in ["src=", "<link", "<script", "url("] {
        assert!(
            !html.contains(forbidden),
            "no network resource: {forbidden}"
        );
    }
    let Some(browser) = chromium() else {
        eprintln!("skipped: Chromium is not installed (.ci/run installs Debian's chromium)");
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let shot = repo.path().join("shot.png");
    let o = headless(browser, profile.path())
        .arg("--window-size=1280,1400")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", path.display()))
        .output()
        .unwrap();
    assert!(shot.exists(), "{}", String::from_utf8_lossy(&o.stderr));
    // A blank page of the same size, as the floor: the preview's picture holds far more.
    let blank_page = repo.write("blank.html", "<!doctype html><html><body></body></html>");
    let blank = repo.path().join("blank.png");
    headless(browser, profile.path())
        .arg("--window-size=1280,1400")
        .arg(format!("--screenshot={}", blank.display()))
        .arg(format!("file://{}", blank_page.display()))
        .output()
        .unwrap();
    let (page_bytes, blank_bytes) = (
        std::fs::metadata(&shot).unwrap().len(),
        std::fs::metadata(&blank).unwrap().len(),
    );
    assert!(
        page_bytes > 4 * blank_bytes,
        "a drawn page ({page_bytes} bytes) against a blank one ({blank_bytes})"
    );
    assert_eq!(&std::fs::read(&shot).unwrap()[1..4], b"PNG");
    // The DOM the browser built holds the cut texts.
    let o = headless(browser, profile.path())
        .arg("--dump-dom")
        .arg(format!("file://{}", path.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&o.stdout);
    assert!(dom.contains(&vivo) && dom.contains(&meizu), "{dom}");
    assert!(dom.contains("data-vendor=\"vivo\""), "{dom}");
}
