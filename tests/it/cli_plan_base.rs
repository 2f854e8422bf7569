//! `crier plan --base GIT_REF`: both sides read through git, each with its own crier.yaml.

use crate::support::cli::{CAMPAIGN, CONFIG, Repo, stderr, stdout};

fn committed_repo() -> Repo {
    let repo = Repo::new(CONFIG);
    repo.write(
        "campaigns/a.yaml",
        CAMPAIGN.replace("2026-12-01T10:00:00", "2026-12-03T10:00:00"),
    );
    repo.write(
        "campaigns/b.yaml",
        CAMPAIGN
            .replace("name: hello", "name: daily")
            .replace("at: \"2026-12-03T10:00:00\"", "cron: \"0 9 * * *\"")
            .replace("at: \"2026-12-01T10:00:00\"", "cron: \"0 9 * * *\""),
    );
    repo.commit_all();
    repo
}

#[test]
fn base_shows_the_change_view_and_upcoming_of_both_sides() {
    let repo = committed_repo();
    // Head: a changed text, a deleted cron campaign, a new campaign; and a changed crier.yaml.
    repo.write(
        "campaigns/a.yaml",
        CAMPAIGN
            .replace("2026-12-01T10:00:00", "2026-12-03T10:00:00")
            .replace("hi {{ campaign.name }}", "hello {{ campaign.name }}"),
    );
    std::fs::remove_file(repo.path().join("campaigns/b.yaml")).unwrap();
    repo.write(
        "campaigns/c.yaml",
        CAMPAIGN.replace("name: hello", "name: fresh"),
    );
    let o = repo
        .crier()
        .args([
            "plan",
            "--base",
            "HEAD",
            "--at",
            "2026-12-01T00:00:00+08:00",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("compared with HEAD"), "{out}");
    assert!(
        out.contains("Changes against HEAD: 1 to create, 1 to update, 1 to delete, 0 unchanged"),
        "{out}"
    );
    assert!(out.contains("  + fresh"), "{out}");
    assert!(
        out.contains(
            "      message.body[0].text: \"hi {{ campaign.name }}\" → \"hello {{ campaign.name }}\""
        ),
        "{out}"
    );
    assert!(
        out.contains("      request MsgBody[0].MsgContent.Text: \"hi hello\" → \"hello hello\""),
        "{out}"
    );
    assert!(out.contains("  - daily"), "{out}");
    assert!(
        out.contains("Upcoming at HEAD within 7d (8):"),
        "7 daily sends and one one-off at the base: {out}"
    );
    assert!(!out.contains("Due now (1)"), "{out}");
}

#[test]
fn an_unchanged_tree_exits_0_and_unknown_revisions_are_explained() {
    let repo = committed_repo();
    let o = repo
        .crier()
        .args([
            "plan",
            "--base",
            "main",
            "--at",
            "2026-12-01T00:00:00+08:00",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["base"], "main");
    assert_eq!(v["changes"]["unchanged"], 2);
    let o = repo
        .crier()
        .args(["plan", "--base", "origin/main"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o)
            .contains("unknown git revision `origin/main` (hint: CI checkouts are often shallow"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_project_rename_is_flagged() {
    let repo = committed_repo();
    repo.write("crier.yaml", CONFIG.replace("project: t", "project: t2"));
    let o = repo
        .crier()
        .args([
            "plan",
            "--base",
            "HEAD",
            "--at",
            "2026-12-01T00:00:00+08:00",
        ])
        .output()
        .unwrap();
    assert!(
        stdout(&o).contains("project changed from `t` to `t2`"),
        "{}",
        stdout(&o)
    );
}

/// A campaign `name` on `cron` in Asia/Shanghai with one text element and an offline push.
fn cron_campaign(name: &str, cron: &str, text: &str, extra: &str) -> String {
    format!(
        "version: 1\nname: {name}\naudience: {{tags: {{any: [vip]}}}}\nschedule: {{cron: \"{cron}\", timezone: Asia/Shanghai}}\nmessage:\n  body:\n    - text: \"{text}\"\n  offline_push: {{title: \"Title of {name}\", desc: \"Read me\"}}\n{extra}"
    )
}

fn plan_base(repo: &Repo, format: &str) -> std::process::Output {
    repo.crier()
        .args([
            "plan",
            "--base",
            "HEAD",
            "--at",
            "2026-12-05T12:00:00+08:00",
            "--format",
            format,
        ])
        .output()
        .unwrap()
}

#[test]
fn the_review_view_shows_the_changed_campaign_in_words_and_only_it() {
    let repo = Repo::new(CONFIG);
    for name in ["alpha", "beta", "gamma", "delta"] {
        repo.write(
            &format!("campaigns/{name}.yaml"),
            cron_campaign(name, "0 9 * * *", "Good morning", ""),
        );
    }
    repo.write(
        "campaigns/digest.yaml",
        cron_campaign("digest", "0 10 * * MON", "Your weekly digest is ready", ""),
    );
    repo.commit_all();
    // One sentence and the schedule change.
    repo.write(
        "campaigns/digest.yaml",
        cron_campaign("digest", "0 10 * * MON-FRI", "Your digest is ready", ""),
    );
    let o = plan_base(&repo, "markdown");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let md = stdout(&o);
    assert!(md.contains("#### ~ Update `digest`"), "{md}");
    assert!(
        md.contains(
            "- schedule: every Monday at 10:00 Asia/Shanghai → every weekday at 10:00 Asia/Shanghai"
        ),
        "{md}"
    );
    assert!(
        md.contains("  - next: 2026-12-07 10:00 Asia/Shanghai (2026-12-07 02:00 UTC), 2026-12-08 10:00 Asia/Shanghai (2026-12-08 02:00 UTC)"),
        "{md}"
    );
    assert!(
        md.contains("  - body[0]: \"Your weekly digest is ready\" → \"Your digest is ready\""),
        "{md}"
    );
    assert!(
        md.contains("  - title: \"Title of digest\" (unchanged)"),
        "{md}"
    );
    // The body once, the four other weekdays collapsed; unchanged campaigns counted only.
    assert_eq!(md.matches("Request body:").count(), 1, "{md}");
    assert!(
        md.contains("- the same body for 4 more occurrences (MsgRandom aside)"),
        "{md}"
    );
    for name in ["alpha", "beta", "gamma", "delta"] {
        assert!(
            !md.contains(&format!("`{name}`")),
            "{name} is unchanged: {md}"
        );
    }
    assert!(
        md.contains("28 upcoming sends of unchanged campaigns not listed; 29 upcoming sends at HEAD (all in the JSON plan)."),
        "{md}"
    );
    insta::assert_snapshot!("review_one_change", md);
    // The same in JSON and in the terminal.
    let v: serde_json::Value = serde_json::from_slice(&plan_base(&repo, "json").stdout).unwrap();
    let u = &v["changes"]["updated"][0];
    assert_eq!(
        u["schedule"]["words"],
        "every weekday at 10:00 Asia/Shanghai"
    );
    assert_eq!(
        u["schedule"]["before"],
        "every Monday at 10:00 Asia/Shanghai"
    );
    assert_eq!(u["schedule"]["next"][0]["utc"], "2026-12-07T02:00:00Z");
    assert_eq!(
        u["message"]["before"]["elements"][0],
        "Your weekly digest is ready"
    );
    assert_eq!(u["message"]["after"]["elements"][0], "Your digest is ready");
    assert_eq!(u["message"]["after"]["title"], "Title of digest");
    let human = stdout(&plan_base(&repo, "human"));
    assert!(
        human.contains("      schedule: every Monday at 10:00 Asia/Shanghai → every weekday at 10:00 Asia/Shanghai"),
        "{human}"
    );
    assert!(
        human.contains(
            "      message body[0]: \"Your weekly digest is ready\" → \"Your digest is ready\""
        ),
        "{human}"
    );
}

#[test]
fn bodies_that_differ_by_occurrence_are_shown_by_their_difference() {
    let repo = Repo::new(CONFIG);
    commit_all_with_readme(&repo);
    repo.write(
        "campaigns/daily.yaml",
        cron_campaign("daily", "0 9 * * *", "Deals of {{ occurrence.date }}", ""),
    );
    let md = stdout(&plan_base(&repo, "markdown"));
    assert!(md.contains("#### + Create `daily`"), "{md}");
    assert!(md.contains("  - body[0]: \"Deals of 2026-12-06\""), "{md}");
    assert_eq!(md.matches("Request body:").count(), 1, "{md}");
    assert!(
        md.contains("- 2026-12-07T09:00:00+08:00: `MsgBody[0].MsgContent.Text: \"Deals of 2026-12-06\" → \"Deals of 2026-12-07\"`"),
        "{md}"
    );
    assert!(!md.contains("the same body"), "{md}");
}

/// A repository whose base commit has no campaign.
fn commit_all_with_readme(repo: &Repo) {
    repo.write("README.md", "campaigns\n");
    repo.commit_all();
}

#[test]
fn quota_before_and_after_the_change_and_days_it_puts_over() {
    let config = format!("{CONFIG}    daily_quota: 3\n");
    let repo = Repo::new(&config);
    repo.write(
        "campaigns/one.yaml",
        cron_campaign("one", "0 9 * * *", "one", ""),
    );
    repo.commit_all();
    for name in ["two", "three", "four"] {
        repo.write(
            &format!("campaigns/{name}.yaml"),
            cron_campaign(name, "0 9 * * *", name, ""),
        );
    }
    let md = stdout(&plan_base(&repo, "markdown"));
    assert!(
        md.contains("quota: OVER on prod 2026-12-06 (new), prod 2026-12-07 (new)"),
        "{md}"
    );
    assert!(
        md.contains("| quota | day | limit | before (used + planned) | after | |"),
        "{md}"
    );
    assert!(
        md.contains("| prod | 2026-12-06 | 3 | 0 + 1 = 1 | 0 + 4 = 4 | **over: 1 deferred** (within it before) |"),
        "{md}"
    );
    let v: serde_json::Value = serde_json::from_slice(&plan_base(&repo, "json").stdout).unwrap();
    assert_eq!(v["base_quota"][0]["planned"], 1);
    assert_eq!(v["quota"][0]["planned"], 4);
    let human = stdout(&plan_base(&repo, "human"));
    assert!(
        human.contains("  prod 2026-12-06: 0 + 1 → 0 + 4 of 3; OVER: 1 deferred"),
        "{human}"
    );
}

#[test]
fn an_exception_added_by_the_change_is_called_out_in_the_verdict() {
    let config = format!("{CONFIG}policy:\n  all_users: deny\n");
    let repo = Repo::new(&config);
    let all = |name: &str, why: &str| {
        cron_campaign(name, "0 9 * * *", "hi", "").replace("{tags: {any: [vip]}}", "{all: true}")
            + &format!("policy_exceptions: {{all_users: \"{why}\"}}\n")
    };
    repo.write("campaigns/old.yaml", all("old", "New year, approved"));
    repo.write(
        "campaigns/sale.yaml",
        cron_campaign("sale", "0 9 * * *", "hi", ""),
    );
    repo.commit_all();
    repo.write(
        "campaigns/sale.yaml",
        all("sale", "Black Friday, approved by the marketing lead"),
    );
    let o = plan_base(&repo, "markdown");
    let md = stdout(&o);
    assert!(
        md.contains("; EXCEPTIONS ADDED by this change: sale all_users"),
        "{md}"
    );
    assert!(
        md.contains("- `sale` all_users: \"Black Friday, approved by the marketing lead\""),
        "{md}"
    );
    assert!(
        !md.contains("EXCEPTIONS ADDED by this change: old") && !md.contains("- `old` all_users"),
        "an exception the base had is not new: {md}"
    );
    let v: serde_json::Value = serde_json::from_slice(&plan_base(&repo, "json").stdout).unwrap();
    assert_eq!(
        v["changes"]["updated"][0]["exceptions_added"]["all_users"],
        "Black Friday, approved by the marketing lead"
    );
}

#[test]
fn two_hundred_changed_campaigns_fit_one_comment_keeping_verdict_quota_and_warnings() {
    let repo = Repo::new(CONFIG);
    let big = "x".repeat(1500);
    let write_all = |word: &str| {
        for i in 0..200 {
            repo.write(
                &format!("campaigns/c{i:03}.yaml"),
                cron_campaign(
                    &format!("c{i:03}"),
                    "0 9 * * *",
                    &format!("{word} {big}"),
                    "",
                )
                .replace("{tags: {any: [vip]}}", "{all: true}"),
            );
        }
    };
    write_all("before");
    repo.commit_all();
    write_all("after");
    let o = plan_base(&repo, "markdown");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let md = stdout(&o);
    assert!(
        md.chars().count() < 65_536,
        "{} characters",
        md.chars().count()
    );
    assert!(
        md.starts_with("<!-- crier-plan: t -->\n### crier plan — t\n\n**Verdict:** 0 created, 200 changed, 0 deleted (0 unchanged) against HEAD"),
        "{}",
        &md[..300]
    );
    assert!(md.contains("| quota | day | limit | before (used + planned) | after | |"));
    assert!(md.contains("- :warning: "), "the warnings are kept");
    // Every change keeps at least its line; the first ones are shown in full.
    for i in 0..200 {
        let name = format!("~ Update `c{i:03}`");
        assert!(
            md.contains(&format!("#### {name}"))
                || md.contains(&format!("- {name}: `message.body[0].text`")),
            "c{i:03}"
        );
    }
    assert!(md.contains("#### ~ Update `c000`\n\n- audience: **ALL USERS**\n- schedule: every day at 09:00 Asia/Shanghai"));
    assert!(md.contains("<details><summary>Request body:"));
    assert!(
        md.trim_end().ends_with(
            "shortened to fit one comment — see the JSON plan (`crier plan --format json`)_"
        ),
        "{}",
        &md[md.len() - 300..]
    );
    let v: serde_json::Value = serde_json::from_slice(&plan_base(&repo, "json").stdout).unwrap();
    assert_eq!(v["changes"]["updated"].as_array().unwrap().len(), 200);
}

#[test]
fn without_a_readable_ledger_the_verdict_says_quota_used_and_sends_again_are_not_known() {
    const UNSET: &str = "CRIER_TEST_UNSET_LEDGER_URL";
    let config = format!("{CONFIG}ledger: {{postgres_url_env: {UNSET}}}\n");
    let repo = Repo::new(&config);
    repo.write(
        "campaigns/one.yaml",
        cron_campaign("one", "0 9 * * *", "one", ""),
    );
    repo.commit_all();
    repo.write(
        "campaigns/one.yaml",
        cron_campaign("one", "0 9 * * *", "two", ""),
    );
    let run = |format: &str| {
        let o = repo
            .crier()
            .env_remove(UNSET)
            .args([
                "plan",
                "--base",
                "HEAD",
                "--at",
                "2026-12-05T12:00:00+08:00",
                "--format",
                format,
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("the comparison goes on without the ledger"),
            "{}",
            stderr(&o)
        );
        stdout(&o)
    };
    let md = run("markdown");
    assert!(
        md.contains("**Verdict:** 0 created, 1 changed, 0 deleted (0 unchanged) against HEAD; ledger not read: quota used and WILL SEND AGAIN are not known; "),
        "{md}"
    );
    assert!(md.contains("horizon 7d, ledger not read."), "{md}");
    let human = run("human");
    assert!(
        human.contains("Verdict: 0 created, 1 changed, 0 deleted (0 unchanged) against HEAD; ledger not read: quota used and WILL SEND AGAIN are not known; "),
        "{human}"
    );
    let v: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    assert_eq!(v["ledger_unknown"], true);
    // With a readable ledger (the default file ledger) none of it is said.
    repo.write("crier.yaml", CONFIG);
    let md = stdout(&plan_base(&repo, "markdown"));
    assert!(!md.contains("ledger not read"), "{md}");
    let v: serde_json::Value = serde_json::from_slice(&plan_base(&repo, "json").stdout).unwrap();
    assert!(v.get("ledger_unknown").is_none(), "{v}");
}

#[test]
fn an_audience_change_is_said_widened_narrowed_or_replaced_before_and_after() {
    let repo = Repo::new(CONFIG);
    for name in ["wide", "narrow", "other", "same"] {
        repo.write(
            &format!("campaigns/{name}.yaml"),
            cron_campaign(name, "0 9 * * *", "hi", ""),
        );
    }
    repo.commit_all();
    let with = |name: &str, audience: &str| {
        repo.write(
            &format!("campaigns/{name}.yaml"),
            cron_campaign(name, "0 9 * * *", "hi", "").replace("{tags: {any: [vip]}}", audience),
        );
    };
    with("wide", "{tags: {any: [vip, gold]}}");
    with("narrow", "{tags: {any: [vip], none: [churned]}}");
    with("other", "{attrs: {all: {city: Shenzhen}}}");
    // The same users, written differently: no audience change.
    with("same", "{tags: {any: [vip, vip]}}");
    let md = stdout(&plan_base(&repo, "markdown"));
    assert!(
        md.contains("#### ~ Update `wide`\n\n- audience WIDENED: users with any of vip → users with any of vip, gold\n  - tags.any now also reaches gold\n"),
        "{md}"
    );
    assert!(
        md.contains("- audience NARROWED: users with any of vip → users with any of vip and with none of churned\n  - tags.none now also excludes churned\n"),
        "{md}"
    );
    assert!(
        md.contains("- audience REPLACED: users with any of vip → users whose city = Shenzhen (all of these)\n  - the audience is now by attributes instead of tags\n"),
        "{md}"
    );
    assert!(
        md.contains("#### ~ Update `same`\n\n- audience: users with any of vip, vip\n"),
        "{md}"
    );
    // The widened-audience warning follows the same rule: widened and replaced, not narrowed.
    assert!(
        md.contains("- :warning: wide: audience widened: tags.any now also reaches gold"),
        "{md}"
    );
    assert!(
        md.contains("- :warning: other: audience replaced: the audience is now by attributes instead of tags"),
        "{md}"
    );
    assert!(!md.contains(":warning: narrow:"), "{md}");
    let human = stdout(&plan_base(&repo, "human"));
    assert!(
        human.contains("  ~ wide\n      audience WIDENED: users with any of vip → users with any of vip, gold (tags.any now also reaches gold)\n"),
        "{human}"
    );
    let v: serde_json::Value = serde_json::from_slice(&plan_base(&repo, "json").stdout).unwrap();
    let change = |name: &str| {
        v["changes"]["updated"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["campaign"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        change("wide")["audience_change"],
        serde_json::json!({
            "direction": "widened",
            "before": "users with any of vip",
            "after": "users with any of vip, gold",
            "why": ["tags.any now also reaches gold"]
        })
    );
    assert_eq!(change("narrow")["audience_change"]["direction"], "narrowed");
    assert_eq!(change("other")["audience_change"]["direction"], "replaced");
    assert!(change("same").get("audience_change").is_none());
}

#[test]
fn one_sentence_changed_in_two_hundred_campaigns_is_a_short_comment_about_that_campaign() {
    let repo = Repo::new(CONFIG);
    for i in 0..200 {
        let name = format!("c{i:03}");
        repo.write(
            &format!("campaigns/{name}.yaml"),
            cron_campaign(&name, "0 9 * * *", &format!("Hello from {name}."), ""),
        );
    }
    repo.commit_all();
    repo.write(
        "campaigns/c042.yaml",
        cron_campaign("c042", "0 9 * * *", "Hello again from c042.", ""),
    );
    let o = plan_base(&repo, "markdown");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let md = stdout(&o);
    // Small: well under one screen of summary before the one section.
    assert!(
        md.chars().count() < 3_500,
        "{} characters:\n{md}",
        md.chars().count()
    );
    let summary = &md[..md.find("\n#### ").expect("one section")];
    assert!(summary.lines().count() < 30, "{summary}");
    // Only the changed campaign is named: one section, no other campaign in a list.
    assert_eq!(md.matches("\n#### ").count(), 1, "{md}");
    assert!(md.contains("\n#### ~ Update `c042`\n"), "{md}");
    for i in (0..200).filter(|i| *i >= 10 && *i != 42) {
        assert!(
            !md.contains(&format!("c{i:03}")),
            "c{i:03} is unchanged:\n{md}"
        );
    }
    assert!(
        md.contains("**Verdict:** 0 created, 1 changed, 0 deleted (199 unchanged) against HEAD"),
        "{md}"
    );
    // In words and as it will look: the audience, the schedule, the message before → after.
    assert!(md.contains("- audience: users with any of vip\n"), "{md}");
    assert!(
        md.contains("- schedule: every day at 09:00 Asia/Shanghai\n"),
        "{md}"
    );
    assert!(
        md.contains("  - body[0]: \"Hello from c042.\" → \"Hello again from c042.\"\n"),
        "{md}"
    );
    assert!(
        md.contains("  - title: \"Title of c042\" (unchanged)\n"),
        "{md}"
    );
    assert_eq!(md.matches("Request body:").count(), 1, "{md}");
    // Its quota effect: each day before → after; the days over quota were so before it.
    assert!(
        md.contains(
            "| prod | 2026-12-06 | 100 | 0 + 200 = 200 | 0 + 200 = 200 | **over: 100 deferred** |"
        ),
        "{md}"
    );
    assert!(
        md.contains("quota: OVER on prod 2026-12-06, prod 2026-12-07, prod 2026-12-08, prod 2026-12-09, prod 2026-12-10 and 2 more, no more than before this change;"),
        "{md}"
    );
    // No table of zeros, and warnings about many campaigns name a few and count the rest.
    assert!(!md.contains("| 0 |"), "{md}");
    assert!(
        md.contains("grace under 1h for c000, c001, c002, c003, c004, c005, c006, c007, c008, c009 and 190 more: "),
        "{md}"
    );
}
