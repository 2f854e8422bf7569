//! Policy gates through the binary: each rule with and without its exception.

use std::time::Duration;

use crate::support::apply::{Repo, emulator_config, start_emulator};
use crate::support::cli::{run, text};
use chrono::{SecondsFormat, TimeDelta};

fn with_policy(repo: &Repo, policy: &str) {
    let path = repo.path().join("crier.yaml");
    let config = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{config}policy:\n{policy}")).unwrap();
}

/// A one-off at `at` to `audience`, with optional extra top-level YAML.
fn campaign(
    repo: &Repo,
    name: &str,
    at: chrono::DateTime<chrono::Utc>,
    audience: &str,
    extra: &str,
) {
    let at = at.to_rfc3339_opts(SecondsFormat::Secs, true);
    repo.write(
        &format!("campaigns/{name}.yaml"),
        format!(
            "version: 1\nname: {name}\naudience: {audience}\nschedule: {{at: \"{at}\"}}\nmessage:\n  body:\n    - text: \"hello from {name}\"\n{extra}"
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_users_deny_blocks_until_a_reasoned_exception_and_warn_only_warns() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    with_policy(&repo, "  all_users: deny\n");
    campaign(&repo, "sale", repo.now, "{all: true}", "");
    let o = run(repo.binary(&["validate"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("campaigns/sale.yaml:3:") && out.contains("policy all_users (deny): this campaign pushes to ALL USERS; to send it anyway, add `policy_exceptions: {all_users: \"<why>\"}`"),
        "{out}"
    );
    let o = run(repo.binary(&["plan"])).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(emu.pushes().is_empty());
    // With a reasoned exception: sent, and the review shows the exception.
    campaign(
        &repo,
        "sale",
        repo.now,
        "{all: true}",
        "policy_exceptions: {all_users: \"Black Friday, approved by the marketing lead\"}\n",
    );
    let o = run(repo.binary(&["plan", "--format", "markdown"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains("sale all_users (deny, excepted: \"Black Friday, approved by the marketing lead\"): pushes to ALL USERS"),
        "{out}"
    );
    assert!(
        out.contains("**Verdict:** 1 created, 0 changed, 0 deleted (0 unchanged); 1 to send now, 0 upcoming; quota: every day fits; policy: 0 blocking, 0 warnings, 1 excepted"),
        "{out}"
    );
    let o = run(repo.binary(&["plan", "--format", "json"])).await;
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["policy"][0]["rule"], "all_users");
    assert_eq!(
        json["policy"][0]["exception"],
        "Black Friday, approved by the marketing lead"
    );
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(emu.pushes().len(), 1);
    // An exception for a rule crier.yaml does not have does nothing, and says so.
    campaign(
        &repo,
        "other",
        repo.now,
        "{tags: {any: [vip]}}",
        "policy_exceptions: {quiet_hours: \"night owls\"}\n",
    );
    let o = run(repo.binary(&["validate"])).await;
    assert!(
        text(&o)
            .contains("crier.yaml's policy has no `quiet_hours` rule: this exception does nothing"),
        "{}",
        text(&o)
    );
    // warn: a warning, not an error.
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    with_policy(&repo, "  all_users: warn\n");
    campaign(&repo, "sale", repo.now, "{all: true}", "");
    let o = run(repo.binary(&["validate"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("warning: policy all_users (warn)"),
        "{}",
        text(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_hours_are_checked_by_validate_and_again_by_apply_before_each_send() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    let hm = |t: chrono::DateTime<chrono::Utc>| t.format("%H:%M").to_string();
    // The quiet hours begin five minutes ago; a push scheduled ten minutes ago is still in grace.
    with_policy(
        &repo,
        &format!(
            "  quiet_hours: {{from: \"{}\", to: \"{}\", timezone: UTC, level: deny}}\n",
            hm(repo.now - TimeDelta::minutes(5)),
            hm(repo.now + TimeDelta::minutes(60))
        ),
    );
    campaign(
        &repo,
        "late",
        repo.now - TimeDelta::minutes(10),
        "{all: true}",
        "",
    );
    campaign(
        &repo,
        "inside",
        repo.now + TimeDelta::minutes(20),
        "{all: true}",
        "",
    );
    let o = run(repo.binary(&["validate"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("campaigns/inside.yaml:4:")
            && out.contains("policy quiet_hours (deny): the occurrence at")
            && !out.contains("campaigns/late.yaml:"),
        "{out}"
    );
    std::fs::remove_file(repo.path().join("campaigns/inside.yaml")).unwrap();
    // Apply runs now, inside the quiet hours: the push is held, still due, nothing sent.
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("policy quiet_hours (deny): it is now in the quiet hours"),
        "{out}"
    );
    assert!(emu.pushes().is_empty());
    // Excepted, it goes out.
    campaign(
        &repo,
        "late",
        repo.now - TimeDelta::minutes(10),
        "{all: true}",
        "policy_exceptions: {quiet_hours: \"an outage notice cannot wait\"}\n",
    );
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(emu.pushes().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_user_pushes_per_day_and_widened_audiences_are_judged_by_the_plan() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    with_policy(
        &repo,
        "  max_all_user_pushes_per_day: {limit: 1, level: deny}\n  widened_audience: deny\n",
    );
    campaign(&repo, "a", repo.now, "{all: true}", "");
    campaign(&repo, "b", repo.now, "{all: true}", "");
    campaign(&repo, "c", repo.now, "{tags: {any: [vip]}}", "");
    let o = run(repo.binary(&["plan"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("b max_all_user_pushes_per_day (deny, NOT SENT): rel/1400000000/b@")
            && out.contains("would be all-user push 2 of app prod"),
        "{out}"
    );
    // The held push takes no quota in the forecast: a and c only.
    let day = repo
        .now
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    assert!(
        out.contains(&format!("prod {day}: used 0 + planned 2 of 100")),
        "{out}"
    );
    let o = run(repo.binary(&["apply", "--auto-approve"])).await;
    let out = text(&o);
    assert!(out.contains("held (policy)"), "{out}");
    let sent: Vec<String> = emu
        .pushes()
        .iter()
        .map(|p| crate::support::apply::body_campaign(&p.body))
        .collect();
    assert_eq!(sent.len(), 2, "a and c: {sent:?}");
    assert!(!sent.contains(&"b".to_owned()));
    // c widened from a tag to all users, against the applied snapshot: held.
    let later = repo.now + TimeDelta::minutes(30);
    std::fs::remove_file(repo.path().join("campaigns/b.yaml")).unwrap();
    campaign(&repo, "c", later, "{tags: {any: [vip, new]}}", "");
    let mut c = repo.binary(&["plan"]);
    c.env(
        "CRIER_NOW",
        later.to_rfc3339_opts(SecondsFormat::Secs, true),
    );
    let o = run(c).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("c widened_audience (deny, NOT SENT)"), "{out}");
    // The review view says who the changed campaign reaches, in words, and how it changed.
    let mut c = repo.binary(&["plan", "--format", "markdown"]);
    c.env(
        "CRIER_NOW",
        later.to_rfc3339_opts(SecondsFormat::Secs, true),
    );
    let o = run(c).await;
    assert!(
        text(&o).contains(
            "- audience WIDENED: users with any of vip → users with any of vip, new\n  - tags.any now also reaches new\n"
        ),
        "{}",
        text(&o)
    );
}
