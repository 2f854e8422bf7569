//! The plan as text: human (optionally coloured), Markdown for one pull-request comment, JSON.
//! Pure: returns strings; the CLI prints them.

use super::model::{
    Change, FieldChange, MessageView, Plan, PlannedSend, ReadMessage, ScheduleView,
};
use std::collections::HashMap;
use std::fmt::Write as _;

/// GitHub's comment limit is 65,536 characters; stay under it with room for a footer.
pub const MARKDOWN_LIMIT: usize = 65_000;

/// Stable, pretty JSON (maps are ordered; no secrets are in a plan).
#[must_use]
pub fn json(plan: &Plan) -> String {
    let mut out = Vec::new();
    write_json(&mut out, plan).expect("a plan always serialises into memory");
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// [`json`] into `out` as it is produced (a plan file of many sends is never held whole).
///
/// # Errors
/// The writer's errors.
pub fn write_json(mut out: impl std::io::Write, plan: &Plan) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut out, plan)?;
    out.write_all(b"\n")
}

fn short(v: Option<&serde_json::Value>) -> String {
    match v {
        None => "(absent)".to_owned(),
        Some(v) => {
            let s = v.to_string();
            if s.chars().count() > 120 {
                format!("{}…", s.chars().take(120).collect::<String>())
            } else {
                s
            }
        }
    }
}

fn field_line(f: &FieldChange) -> String {
    format!(
        "{}: {} → {}",
        f.path,
        short(f.old.as_ref()),
        short(f.new.as_ref())
    )
}

/// An instant to the second (RFC 3339, UTC).
fn secs(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `1 campaign is` / `3 campaigns are`.
fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The first `max` items, then "and N more", so one line stays readable.
fn capped_list(items: &[String], max: usize) -> String {
    if items.len() <= max {
        return items.join(", ");
    }
    format!("{} and {} more", items[..max].join(", "), items.len() - max)
}

fn horizon(plan: &Plan) -> String {
    crate::duration::Human(std::time::Duration::from_secs(plan.horizon_seconds)).to_string()
}

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\u{1b}[{code}m{s}\u{1b}[0m")
        } else {
            s.to_owned()
        }
    }
    fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }
    fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }
    fn red(&self, s: &str) -> String {
        self.paint("31;1", s)
    }
}

fn change_lines(out: &mut String, st: &Style, plan: &Plan, sign: &str, c: &Change) {
    let head = match sign {
        "+" => st.green(&format!("  + {}", c.campaign)),
        "-" => st.red(&format!("  - {}", c.campaign)),
        _ => st.yellow(&format!("  ~ {}", c.campaign)),
    };
    let _ = writeln!(out, "{head}");
    if let Some((line, why)) = audience_line(plan, c, false).filter(|_| sign != "-") {
        let _ = match why {
            Some(why) => writeln!(out, "      {} ({why})", st.yellow(&line)),
            None => writeln!(out, "      {line}"),
        };
    }
    if let Some(v) = &c.schedule {
        let (words, next) = schedule_lines(v);
        let _ = writeln!(out, "      schedule: {words}");
        let _ = writeln!(
            out,
            "        next: {}",
            next.as_deref()
                .unwrap_or("no occurrence at or after the plan time")
        );
    }
    if let Some(m) = &c.message {
        for line in message_lines(m) {
            let _ = writeln!(out, "      message {line}");
        }
    }
    for (rule, why) in &c.exceptions_added {
        let _ = writeln!(
            out,
            "      {}",
            st.red(&format!("policy exception added: {rule}: \"{why}\""))
        );
    }
    for f in &c.fields {
        let _ = writeln!(out, "      {}", field_line(f));
    }
    for f in &c.request {
        let _ = writeln!(out, "      request {}", field_line(f));
    }
    if let Some(n) = &c.no_effect {
        let _ = writeln!(out, "      ({n})");
    }
    if let Some(a) = &c.sends_again {
        let _ = writeln!(out, "      {}", st.red(a));
    }
    if !c.dropped.is_empty() {
        let _ = writeln!(out, "      no longer happens: {}", c.dropped.join(", "));
    }
}

fn send_line(s: &PlannedSend) -> String {
    let mut line = format!(
        "{}  {}  {}  app {}  MsgRandom {}",
        s.key.scheduled.format("%Y-%m-%d %H:%MZ"),
        s.campaign,
        s.local,
        s.app,
        s.msg_random
    );
    if s.previous_attempts > 0 {
        let _ = write!(line, "  (attempt {})", s.previous_attempts + 1);
    }
    if s.over_quota {
        line.push_str("  [over quota: deferred]");
    }
    line
}

/// The plan for a terminal.
#[must_use]
pub fn human(plan: &Plan, color: bool) -> String {
    let st = Style { color };
    let mut out = String::new();
    let context = match &plan.base {
        Some(base) => format!("(horizon {}), compared with {base}", horizon(plan)),
        None => format!(
            "(horizon {}, ledger seq {})",
            horizon(plan),
            plan.ledger_seq
        ),
    };
    let _ = writeln!(
        out,
        "{} for project {} at {} {context}",
        st.bold("Plan"),
        plan.project,
        secs(plan.at)
    );
    let _ = writeln!(out, "{} {}", st.bold("Verdict:"), verdict(plan));
    let c = &plan.changes;
    let _ = writeln!(out);
    if c.first_apply {
        let _ = writeln!(
            out,
            "{}: no applied snapshot yet; {} new",
            st.bold("Changes"),
            plural(c.created.len(), "campaign is", "campaigns are")
        );
    } else {
        let label = plan.base.as_ref().map_or_else(
            || "Changes since the last apply".to_owned(),
            |b| format!("Changes against {b}"),
        );
        let _ = writeln!(
            out,
            "{}: {} to create, {} to update, {} to delete, {} unchanged",
            st.bold(&label),
            c.created.len(),
            c.updated.len(),
            c.deleted.len(),
            c.unchanged
        );
        if let Some(p) = &c.project {
            let _ = writeln!(out, "  {}", st.red(p));
        }
        for ch in &c.created {
            change_lines(&mut out, &st, plan, "+", ch);
        }
        for ch in &c.updated {
            change_lines(&mut out, &st, plan, "~", ch);
        }
        for ch in &c.deleted {
            change_lines(&mut out, &st, plan, "-", ch);
        }
    }
    if plan.base.is_none() {
        let _ = writeln!(out, "\n{} ({}):", st.bold("Due now"), plan.due.len());
    }
    for s in &plan.due {
        let _ = writeln!(out, "  → {}", send_line(s));
        if let Some(why) = &s.retry {
            let _ = writeln!(out, "    {}", st.yellow(why));
        }
        let _ = writeln!(out, "    {}", s.body);
    }
    if !plan.missed.is_empty() {
        let _ = writeln!(
            out,
            "\n{} ({}):",
            st.yellow("Missed: past grace, never sent"),
            plan.missed.len()
        );
        for m in &plan.missed {
            let _ = writeln!(out, "  {}  (grace ended {})", m.id, secs(m.deadline));
        }
    }
    if !plan.skipped.is_empty() {
        let _ = writeln!(out, "\n{} ({}):", st.yellow("Skipped"), plan.skipped.len());
        for s in &plan.skipped {
            let _ = writeln!(out, "  {}  ({})", s.id, s.why);
        }
    }
    if !plan.in_doubt.is_empty() {
        let _ = writeln!(
            out,
            "\n{} ({}):",
            st.red("In doubt: the request may have reached the provider"),
            plan.in_doubt.len()
        );
        for d in &plan.in_doubt {
            let _ = writeln!(out, "  {}  since {}: {}", d.id, secs(d.since), d.reason);
            for o in &d.options {
                let _ = writeln!(out, "      - {o}");
            }
        }
    }
    if !plan.held.is_empty() {
        let _ = writeln!(
            out,
            "\n{} ({}):",
            st.yellow("Held: within grace, not sent by this apply"),
            plan.held.len()
        );
        for h in &plan.held {
            let _ = writeln!(out, "  {}  ({}): {}", h.id, h.state, h.reason);
        }
    }
    let base_title = plan.base.as_ref().map(|b| format!("Upcoming at {b}"));
    let upcoming = [
        (Some("Upcoming".to_owned()), &plan.upcoming),
        (base_title, &plan.base_upcoming),
    ];
    for (title, sends) in upcoming {
        let Some(title) = title else { continue };
        let _ = writeln!(
            out,
            "\n{} within {} ({}):",
            st.bold(&title),
            horizon(plan),
            sends.len()
        );
        for s in sends {
            let _ = writeln!(out, "  {}", send_line(s));
        }
    }
    if plan.base.is_some() {
        let rows = quota_rows(plan);
        if !rows.is_empty() {
            let _ = writeln!(
                out,
                "\n{}:",
                st.bold("Quota (used + planned, before → after)")
            );
        }
        for r in &rows {
            let before = r
                .before
                .map_or_else(|| "-".to_owned(), |(u, p)| format!("{u} + {p}"));
            let line = format!(
                "  {} {}: {before} → {} + {} of {}",
                r.app, r.day, r.used, r.planned, r.limit
            );
            let _ = writeln!(
                out,
                "{}",
                if r.over() {
                    st.red(&format!("{line}; OVER: {} deferred", r.deferred))
                } else {
                    line
                }
            );
        }
    } else if !plan.quota.is_empty() {
        let _ = writeln!(out, "\n{}:", st.bold("Quota"));
        for q in &plan.quota {
            let _ = writeln!(
                out,
                "  {} {}: used {}{} + planned {} of {}{}",
                q.app,
                q.day,
                q.used,
                if q.used_by_others > 0 {
                    format!(" ({} by other projects)", q.used_by_others)
                } else {
                    String::new()
                },
                q.planned,
                q.daily_quota,
                if q.deferred.is_empty() {
                    String::new()
                } else {
                    st.red(&format!("; deferred: {}", capped_list(&q.deferred, 5)))
                }
            );
        }
    }
    if !plan.warnings.is_empty() {
        let _ = writeln!(
            out,
            "\n{} ({}):",
            st.yellow("Warnings"),
            plan.warnings.len()
        );
        for w in &plan.warnings {
            let _ = writeln!(out, "  ! {}", w.message);
        }
    }
    let phones = phone_lines(plan);
    if !phones.is_empty() {
        let _ = writeln!(out, "\n{}:", st.bold("On phones (vendors that cut)"));
        for line in phones {
            let _ = writeln!(out, "  {line}");
        }
    }
    if !plan.policy.is_empty() {
        let _ = writeln!(out, "\n{} ({}):", st.bold("Policy"), plan.policy.len());
        for line in policy_lines(plan) {
            let _ = writeln!(out, "  {line}");
        }
    }
    let _ = writeln!(out, "\n{}", summary(plan));
    out
}

/// Per campaign with a send in the plan (its first), each offline-push field a vendor cuts:
/// `sale title (45 UTF-16 units): vivo (40) "…...", Meizu (32) "…..."`.
fn phone_lines(plan: &Plan) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for send in plan.due.iter().chain(&plan.upcoming) {
        if !seen.insert(send.campaign.as_str()) {
            continue;
        }
        let Ok(request) = serde_json::from_str::<serde_json::Value>(&send.body) else {
            continue;
        };
        let cuts = crate::render::vendors::cuts_of_request(&request);
        for field in ["title", "desc"] {
            let of: Vec<&crate::render::vendors::Cut> =
                cuts.iter().filter(|c| c.field == field).collect();
            let Some(first) = of.first() else { continue };
            out.push(format!(
                "{} {field} ({} UTF-16 units): {}",
                send.campaign,
                first.units,
                of.iter()
                    .map(|c| format!("{} ({}) \"{}\"", c.vendor, c.limit, c.shown_short()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    out
}

/// A normalised audience in words: **ALL USERS**, or who the tags and attributes reach
/// (`users tagged VIP and any of Stock A, Stock B, and none of churned`).
#[must_use]
pub fn audience_in_words(audience: &serde_json::Value) -> String {
    audience_words(audience, true)
}

/// [`audience_in_words`], ALL USERS in bold only in `markdown`.
fn audience_words(audience: &serde_json::Value, markdown: bool) -> String {
    <crate::spec::campaign::Audience as serde::Deserialize>::deserialize(audience).map_or_else(
        |_| audience.to_string(),
        |a| loud(&super::audience::words(&a), markdown),
    )
}

/// ALL USERS in bold (in markdown), loudly; other audiences as they are.
fn loud(words: &str, markdown: bool) -> String {
    if markdown && words == "ALL USERS" {
        "**ALL USERS**".to_owned()
    } else {
        words.to_owned()
    }
}

/// The audience of a created or changed campaign: in words, or how it changed (widened,
/// narrowed, replaced) before → after, with why.
fn audience_line(plan: &Plan, ch: &Change, markdown: bool) -> Option<(String, Option<String>)> {
    if let Some(a) = &ch.audience_change {
        return Some((
            format!(
                "audience {}: {} → {}",
                a.direction.as_str().to_uppercase(),
                loud(&a.before, markdown),
                loud(&a.after, markdown)
            ),
            Some(a.why.join("; ")),
        ));
    }
    let campaign = plan.campaigns.get(&ch.campaign)?.value();
    let audience = campaign.get("audience")?;
    Some((
        format!("audience: {}", audience_words(audience, markdown)),
        None,
    ))
}

/// The verdict's words for `plan --base` without a readable ledger.
pub const LEDGER_UNKNOWN: &str = "ledger not read: quota used and WILL SEND AGAIN are not known";

/// One line: what changed, what it sends, the quota and the policy, for the top of a review.
#[must_use]
pub fn verdict(plan: &Plan) -> String {
    let c = &plan.changes;
    let mut parts = vec![format!(
        "{} created, {} changed, {} deleted ({} unchanged)",
        c.created.len(),
        c.updated.len(),
        c.deleted.len(),
        c.unchanged
    )];
    if let Some(base) = &plan.base {
        parts[0].push_str(&format!(" against {base}"));
    }
    if plan.ledger_unknown {
        parts.push(LEDGER_UNKNOWN.to_owned());
    }
    parts.push(format!(
        "{} to send now, {} upcoming",
        plan.due.len(),
        plan.upcoming.len()
    ));
    let rows = quota_rows(plan);
    let over: Vec<String> = rows
        .iter()
        .filter(|r| r.over())
        .map(|r| {
            let new = match r.before {
                Some((u, p)) if plan.base.is_some() && u + p <= r.limit => " (new)",
                _ => "",
            };
            format!("{} {}{new}", r.app, r.day)
        })
        .collect();
    // With --base, days the change leaves as over as they were are not this change's doing.
    let none_new = plan.base.is_some()
        && rows
            .iter()
            .filter(|r| r.over())
            .all(|r| r.before.is_some_and(|(u, p)| r.used + r.planned <= u + p));
    parts.push(if over.is_empty() {
        "quota: every day fits".to_owned()
    } else if none_new {
        format!(
            "quota: OVER on {}, no more than before this change",
            capped_list(&over, 5)
        )
    } else {
        format!("quota: OVER on {}", capped_list(&over, 5))
    });
    let blocking = plan.policy.iter().filter(|f| f.blocks()).count();
    let excepted = plan.policy.iter().filter(|f| f.exception.is_some()).count();
    let warned = plan.policy.len() - blocking - excepted;
    parts.push(if plan.policy.is_empty() {
        "policy: no finding".to_owned()
    } else {
        format!("policy: {blocking} blocking, {warned} warnings, {excepted} excepted")
    });
    let added: Vec<String> = exceptions_added(plan)
        .into_iter()
        .map(|(campaign, rule, _)| format!("{campaign} {rule}"))
        .collect();
    if !added.is_empty() {
        parts.push(format!(
            "EXCEPTIONS ADDED by this change: {}",
            capped_list(&added, 5)
        ));
    }
    parts.join("; ")
}

/// One line per policy finding: the rule, its level, what it found, and the exception if any.
fn policy_lines(plan: &Plan) -> Vec<String> {
    plan.policy
        .iter()
        .map(|f| {
            let level = match f.level {
                crate::policy::Level::Deny => "deny",
                crate::policy::Level::Warn => "warn",
            };
            match &f.exception {
                Some(why) => format!(
                    "{} {} ({level}, excepted: \"{why}\"): {}",
                    f.campaign, f.rule, f.message
                ),
                None if f.blocks() => {
                    format!("{} {} (deny, NOT SENT): {}", f.campaign, f.rule, f.message)
                }
                None => format!("{} {} ({level}): {}", f.campaign, f.rule, f.message),
            }
        })
        .collect()
}

/// One line: what apply would do.
#[must_use]
pub fn summary(plan: &Plan) -> String {
    let mut parts = vec![format!("{} to send now", plan.due.len())];
    for (n, what) in [
        (plan.in_doubt.len(), "in doubt"),
        (plan.held.len(), "held"),
        (plan.missed.len(), "missed"),
        (plan.skipped.len(), "skipped"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    parts.push(format!("{} upcoming", plan.upcoming.len()));
    let deferred: usize = plan.quota.iter().map(|q| q.deferred.len()).sum();
    if deferred > 0 {
        parts.push(format!("{deferred} over quota"));
    }
    format!("Summary: {}.", parts.join(", "))
}

/// A code fence longer than any run of backticks in `text`, so the text cannot close it.
fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

/// WILL SEND AGAIN lines shown in the comment's header; the rest are counted.
const HEADER_AGAIN_LINES: usize = 20;

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The plan as one pull-request comment, centred on what changed: the verdict, the quota, the
/// policy and the warnings first, then the due sends and one section per created, changed or
/// deleted campaign, request bodies folded and identical ones collapsed. Unchanged campaigns
/// are counted, never listed. Always under [`MARKDOWN_LIMIT`] characters: sections are
/// shortened, then cut, with a pointer to the JSON plan.
#[must_use]
pub fn markdown(plan: &Plan) -> String {
    let mut head = markdown_head(plan);
    let mut items: Vec<Item> = Vec::new();
    if !plan.due.is_empty() {
        items.push(Item::same(format!(
            "\n#### Due now ({})\n\n",
            plan.due.len()
        )));
        for sends in by_campaign(&plan.due) {
            let first = sends[0];
            let title = format!(
                "**`{}`** (app {}): {}\n\n",
                md_escape(&first.campaign),
                md_escape(&first.app),
                plural(sends.len(), "send", "sends")
            );
            items.push(Item {
                full: format!("{title}{}", bodies_md(&sends)),
                short: title.clone(),
                tiny: title,
            });
        }
    }
    let c = &plan.changes;
    let sections = c
        .created
        .iter()
        .map(|ch| ("+ Create", ch))
        .chain(c.updated.iter().map(|ch| ("~ Update", ch)))
        .chain(c.deleted.iter().map(|ch| ("- Delete", ch)));
    let sends_of = SendsOf::new(plan);
    for (kind, ch) in sections {
        items.push(change_section(plan, &sends_of, kind, ch));
    }
    let listed: std::collections::BTreeSet<&str> = c
        .created
        .iter()
        .chain(&c.updated)
        .map(|ch| ch.campaign.as_str())
        .collect();
    let unlisted = plan
        .upcoming
        .iter()
        .filter(|s| !listed.contains(s.campaign.as_str()))
        .count();
    if unlisted > 0 || !plan.base_upcoming.is_empty() {
        let mut parts = Vec::new();
        if unlisted > 0 {
            parts.push(format!(
                "{} of unchanged campaigns not listed",
                plural(unlisted, "upcoming send", "upcoming sends")
            ));
        }
        if let Some(base) = plan
            .base
            .as_ref()
            .filter(|_| !plan.base_upcoming.is_empty())
        {
            parts.push(format!(
                "{} at {}",
                plural(plan.base_upcoming.len(), "upcoming send", "upcoming sends"),
                md_escape(base)
            ));
        }
        let note = format!("\n{} (all in the JSON plan).\n", parts.join("; "));
        items.push(Item::same(note));
    }
    // The head is kept whole unless it alone is too long (thousands of warnings).
    let footer_room = 200;
    if head.len() + footer_room > MARKDOWN_LIMIT {
        let mut cut = head.len();
        while cut > 0 && (cut + footer_room > MARKDOWN_LIMIT || !head.is_char_boundary(cut)) {
            cut -= 1;
        }
        if let Some(nl) = head[..cut].rfind('\n') {
            head.truncate(nl + 1);
        }
        let _ = writeln!(
            head,
            "\n_Cut to fit one comment, with {} more — see the JSON plan (`crier plan --format json`)_",
            plural(items.len(), "section", "sections")
        );
        return head;
    }
    let mut out = head;
    let (mut shortened, mut cut) = (0usize, 0usize);
    // Each part in full while the rest still fits as one line each; else shortened; else one line.
    let tiny: Vec<usize> = items.iter().map(|i| i.tiny.len()).collect();
    for (i, item) in items.iter().enumerate() {
        let rest: usize = tiny[i + 1..].iter().sum();
        let fits =
            |text: &str, rest: usize| out.len() + text.len() + rest + footer_room <= MARKDOWN_LIMIT;
        let chosen = if fits(&item.full, rest) {
            &item.full
        } else if fits(&item.short, rest) {
            &item.short
        } else if fits(&item.tiny, 0) {
            &item.tiny
        } else {
            cut = items.len() - i;
            break;
        };
        shortened += usize::from(*chosen != item.full);
        out.push_str(chosen);
    }
    if shortened + cut > 0 {
        let mut what = Vec::new();
        if shortened > 0 {
            what.push(format!(
                "{} shortened",
                plural(shortened, "section", "sections")
            ));
        }
        if cut > 0 {
            what.push(format!("{} left out", plural(cut, "section", "sections")));
        }
        let _ = writeln!(
            out,
            "\n_{} to fit one comment — see the JSON plan (`crier plan --format json`)_",
            what.join(", ")
        );
    }
    out
}

/// A part of the comment below its head: in full, or shortened when the comment is too long.
struct Item {
    full: String,
    short: String,
    /// One line, when even the short forms do not fit.
    tiny: String,
}

impl Item {
    fn same(text: String) -> Self {
        Self {
            full: text.clone(),
            short: text.clone(),
            tiny: text,
        }
    }
}

/// The part of the comment that is always kept: marker, verdict, counts, quota, policy, WILL
/// SEND AGAIN, warnings, sends in doubt and held.
fn markdown_head(plan: &Plan) -> String {
    let mut head = String::new();
    // The hidden marker the CI recipes find the comment by, to update it in place.
    let _ = writeln!(head, "<!-- crier-plan: {} -->", plan.project);
    let _ = writeln!(head, "### crier plan — {}\n", md_escape(&plan.project));
    let _ = writeln!(head, "**Verdict:** {}\n", md_escape(&verdict(plan)));
    let ledger = if plan.ledger_unknown {
        "ledger not read".to_owned()
    } else {
        format!("ledger seq {}", plan.ledger_seq)
    };
    let _ = writeln!(
        head,
        "Plan at `{}`, horizon {}, {ledger}.\n",
        secs(plan.at),
        horizon(plan),
    );
    let c = &plan.changes;
    let _ = writeln!(head, "| | count |\n|---|---:|");
    for (label, n) in [
        ("Due now", plan.due.len()),
        ("In doubt", plan.in_doubt.len()),
        ("Held (refused or deferred)", plan.held.len()),
        ("Missed", plan.missed.len()),
        ("Skipped (paused)", plan.skipped.len()),
        ("Upcoming", plan.upcoming.len()),
        ("Created", c.created.len()),
        ("Updated", c.updated.len()),
        ("Deleted", c.deleted.len()),
        ("Unchanged", c.unchanged),
        ("Warnings", plan.warnings.len()),
    ] {
        // Only what there is: a review of one change is not a table of zeros.
        if n > 0 {
            let _ = writeln!(head, "| {label} | {n} |");
        }
    }
    if let Some(p) = &c.project {
        let _ = writeln!(head, "\n> **{}**", md_escape(p));
    }
    let phones = phone_lines(plan);
    if !phones.is_empty() {
        let _ = writeln!(head, "\n**On phones** (vendors that cut):\n");
        for line in phones.iter().take(20) {
            let _ = writeln!(head, "- {}", md_escape(line));
        }
        if phones.len() > 20 {
            let _ = writeln!(head, "- … {} more: see `crier validate`", phones.len() - 20);
        }
    }
    quota_md(&mut head, plan);
    // Policy findings are part of the verdict: never folded away.
    if !plan.policy.is_empty() {
        let _ = writeln!(head, "\n**Policy** ({}):\n", plan.policy.len());
        for line in policy_lines(plan) {
            let _ = writeln!(head, "- {}", md_escape(&line));
        }
    }
    let added = exceptions_added(plan);
    if !added.is_empty() {
        let _ = writeln!(head, "\n**Policy exceptions added by this change:**\n");
        for (campaign, rule, reason) in &added {
            let _ = writeln!(
                head,
                "- `{}` {rule}: \"{}\"",
                md_escape(campaign),
                md_escape(reason)
            );
        }
    }
    let again: Vec<&Change> = c
        .created
        .iter()
        .chain(&c.updated)
        .filter(|ch| ch.sends_again.is_some())
        .collect();
    for ch in again.iter().take(HEADER_AGAIN_LINES) {
        let _ = writeln!(
            head,
            "\n> **{}**: {}",
            md_escape(&ch.campaign),
            md_escape(ch.sends_again.as_deref().unwrap_or_default())
        );
    }
    if again.len() > HEADER_AGAIN_LINES {
        let _ = writeln!(
            head,
            "\n> **WILL SEND AGAIN** for {} more campaigns — see the JSON plan",
            again.len() - HEADER_AGAIN_LINES
        );
    }
    if !plan.warnings.is_empty() || !plan.in_doubt.is_empty() || !plan.held.is_empty() {
        head.push('\n');
    }
    for w in &plan.warnings {
        let _ = writeln!(head, "- :warning: {}", md_escape(&w.message));
    }
    for d in &plan.in_doubt {
        let _ = writeln!(
            head,
            "- **In doubt** `{}`: {}",
            md_escape(&d.id),
            md_escape(&d.reason)
        );
    }
    for h in &plan.held {
        let _ = writeln!(
            head,
            "- **Held** `{}` ({}): {}",
            md_escape(&h.id),
            h.state,
            md_escape(&h.reason)
        );
    }
    head
}

/// The quota table: used + planned per app and day, before → after the change with `--base`.
fn quota_md(head: &mut String, plan: &Plan) {
    let rows = quota_rows(plan);
    if rows.is_empty() {
        return;
    }
    if plan.base.is_some() {
        let _ = writeln!(
            head,
            "\n| quota | day | limit | before (used + planned) | after | |\n|---|---|---:|---:|---:|---|"
        );
    } else {
        let _ = writeln!(
            head,
            "\n| quota | day | used | planned | limit | |\n|---|---|---:|---:|---:|---|"
        );
    }
    for r in &rows {
        let others = if r.others > 0 {
            format!(" ({} other projects)", r.others)
        } else {
            String::new()
        };
        let flag = if r.over() {
            let was = match r.before {
                Some(b) if b.0 + b.1 <= r.limit => " (within it before)",
                _ => "",
            };
            format!("**over: {} deferred**{was}", r.deferred)
        } else {
            String::new()
        };
        match r.before {
            Some((bu, bp)) if plan.base.is_some() => {
                let _ = writeln!(
                    head,
                    "| {} | {} | {} | {bu} + {bp} = {} | {}{others} + {} = {} | {flag} |",
                    md_escape(&r.app),
                    r.day,
                    r.limit,
                    bu + bp,
                    r.used,
                    r.planned,
                    r.used + r.planned
                );
            }
            _ => {
                let _ = writeln!(
                    head,
                    "| {} | {} | {}{others} | {} | {} | {flag} |",
                    md_escape(&r.app),
                    r.day,
                    r.used,
                    r.planned,
                    r.limit
                );
            }
        }
    }
}

/// One app and quota day: after the change (`used`, `planned`), and before it with `--base`.
struct QuotaRow {
    app: String,
    day: chrono::NaiveDate,
    limit: u32,
    used: u32,
    others: u32,
    planned: u32,
    deferred: usize,
    /// (used, planned) at the base.
    before: Option<(u32, u32)>,
}

impl QuotaRow {
    const fn over(&self) -> bool {
        self.used + self.planned > self.limit
    }
}

fn quota_rows(plan: &Plan) -> Vec<QuotaRow> {
    let mut rows: std::collections::BTreeMap<(String, chrono::NaiveDate), QuotaRow> = plan
        .quota
        .iter()
        .map(|q| {
            (
                (q.app.clone(), q.day),
                QuotaRow {
                    app: q.app.clone(),
                    day: q.day,
                    limit: q.daily_quota,
                    used: q.used,
                    others: q.used_by_others,
                    planned: q.planned,
                    deferred: q.deferred.len(),
                    before: plan.base.as_ref().map(|_| (q.used, 0)),
                },
            )
        })
        .collect();
    for b in &plan.base_quota {
        let row = rows
            .entry((b.app.clone(), b.day))
            .or_insert_with(|| QuotaRow {
                app: b.app.clone(),
                day: b.day,
                limit: b.daily_quota,
                used: b.used,
                others: b.used_by_others,
                planned: 0,
                deferred: 0,
                before: None,
            });
        row.before = Some((b.used, b.planned));
    }
    rows.into_values().collect()
}

/// `(campaign, rule, reason)` of every policy exception the change adds.
fn exceptions_added(plan: &Plan) -> Vec<(&str, &str, &str)> {
    let c = &plan.changes;
    c.created
        .iter()
        .chain(&c.updated)
        .flat_map(|ch| {
            ch.exceptions_added
                .iter()
                .map(|(rule, why)| (ch.campaign.as_str(), rule.as_str(), why.as_str()))
        })
        .collect()
}

/// Sends grouped by campaign, in the order each campaign first appears.
fn by_campaign(sends: &[PlannedSend]) -> Vec<Vec<&PlannedSend>> {
    let mut groups: Vec<Vec<&PlannedSend>> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for s in sends {
        let i = *index.entry(s.campaign.as_str()).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[i].push(s);
    }
    groups
}

/// A plan's sends by campaign, indexed once: a comment of thousands of changed campaigns looks
/// each one's sends up instead of scanning every send per campaign.
struct SendsOf<'p> {
    /// The upcoming sends of each campaign, in plan order.
    upcoming: HashMap<&'p str, Vec<&'p PlannedSend>>,
    /// Each campaign's first send, due ones first.
    first: HashMap<&'p str, &'p PlannedSend>,
}

impl<'p> SendsOf<'p> {
    fn new(plan: &'p Plan) -> Self {
        let mut upcoming: HashMap<&str, Vec<&PlannedSend>> = HashMap::new();
        for s in &plan.upcoming {
            upcoming.entry(s.campaign.as_str()).or_default().push(s);
        }
        let mut first = HashMap::new();
        for s in plan.due.iter().chain(&plan.upcoming) {
            first.entry(s.campaign.as_str()).or_insert(s);
        }
        Self { upcoming, first }
    }
}

/// Occurrences whose differences are listed under a body; the rest are counted.
const LISTED_DIFFERENCES: usize = 10;

/// The first send's exact request body, folded; later sends with the same body (MsgRandom
/// aside) counted, the others shown by how they differ from it.
fn bodies_md(sends: &[&PlannedSend]) -> String {
    let Some(first) = sends.first() else {
        return String::new();
    };
    let fence = fence_for(&first.body);
    let mut s = format!(
        "<details><summary>Request body: {} (app {}){}</summary>\n\n{fence}json\n{}\n{fence}\n\n</details>\n\n",
        md_escape(&first.local),
        md_escape(&first.app),
        if first.over_quota {
            " — over quota, deferred"
        } else {
            ""
        },
        first.body
    );
    let mut same = 0usize;
    let mut differ = Vec::new();
    for other in &sends[1..] {
        let d = super::review::body_diff(&first.body, &other.body);
        if d.is_empty() {
            same += 1;
        } else {
            differ.push((other, d));
        }
    }
    if same > 0 {
        let _ = writeln!(
            s,
            "- the same body for {} (MsgRandom aside)",
            plural(same, "more occurrence", "more occurrences")
        );
    }
    for (other, d) in differ.iter().take(LISTED_DIFFERENCES) {
        let mut fields: Vec<String> = d
            .iter()
            .take(3)
            .map(|f| format!("`{}`", md_escape(&field_line(f))))
            .collect();
        if d.len() > 3 {
            fields.push(format!("{} more", plural(d.len() - 3, "field", "fields")));
        }
        let _ = writeln!(
            s,
            "- {}{}: {}",
            md_escape(&other.local),
            if other.over_quota {
                " (over quota, deferred)"
            } else {
                ""
            },
            fields.join("; ")
        );
    }
    if differ.len() > LISTED_DIFFERENCES {
        let _ = writeln!(
            s,
            "- {} that differ: see the JSON plan",
            plural(
                differ.len() - LISTED_DIFFERENCES,
                "more occurrence",
                "more occurrences"
            )
        );
    }
    if same > 0 || !differ.is_empty() {
        s.push('\n');
    }
    s
}

/// A string as a reviewer reads it in one line: JSON-quoted (newlines escaped), capped.
fn quoted(s: Option<&str>) -> String {
    match s {
        None => "(none)".to_owned(),
        Some(s) => {
            let capped: String = s.chars().take(200).collect();
            let mut q = serde_json::Value::from(capped).to_string();
            if s.chars().count() > 200 {
                q.push('…');
            }
            q
        }
    }
}

/// The message lines of a change: `title: "a" → "b"`, `desc: "x" (unchanged)`, `body[0]: …`.
fn message_lines(m: &MessageView) -> Vec<String> {
    let (b, a) = (m.before.as_ref(), m.after.as_ref());
    let pair = |label: String, old: Option<&str>, new: Option<&str>| -> Option<String> {
        if old.is_none() && new.is_none() {
            return None;
        }
        Some(if b.is_none() {
            format!("{label}: {}", quoted(new))
        } else if a.is_none() {
            format!("{label}: {} (before)", quoted(old))
        } else if old == new {
            format!("{label}: {} (unchanged)", quoted(new))
        } else {
            format!("{label}: {} → {}", quoted(old), quoted(new))
        })
    };
    let mut out = Vec::new();
    out.extend(pair(
        "title".into(),
        b.and_then(|r| r.title.as_deref()),
        a.and_then(|r| r.title.as_deref()),
    ));
    out.extend(pair(
        "desc".into(),
        b.and_then(|r| r.desc.as_deref()),
        a.and_then(|r| r.desc.as_deref()),
    ));
    let n = b
        .map_or(0, |r| r.elements.len())
        .max(a.map_or(0, |r| r.elements.len()));
    for i in 0..n {
        out.extend(pair(format!("body[{i}]"), element(b, i), element(a, i)));
    }
    out
}

fn element(r: Option<&ReadMessage>, i: usize) -> Option<&str> {
    r.and_then(|r| r.elements.get(i)).map(String::as_str)
}

/// The schedule lines of a change: in words (with what it was), then the next occurrences.
fn schedule_lines(v: &ScheduleView) -> (String, Option<String>) {
    let words = match &v.before {
        Some(before) => format!("{before} → {}", v.words),
        None => v.words.clone(),
    };
    let next = (!v.next.is_empty()).then(|| {
        v.next
            .iter()
            .map(|n| format!("{} ({})", n.local, n.utc.format("%Y-%m-%d %H:%M UTC")))
            .collect::<Vec<_>>()
            .join(", ")
    });
    (words, next)
}

/// One created, changed or deleted campaign's section, and its short form.
fn change_section(plan: &Plan, sends_of: &SendsOf<'_>, kind: &str, ch: &Change) -> Item {
    let title = format!("\n#### {kind} `{}`\n\n", md_escape(&ch.campaign));
    let mut lines: Vec<String> = Vec::new();
    if let Some((line, why)) = audience_line(plan, ch, true).filter(|_| !kind.starts_with('-')) {
        lines.push(format!("- {}", md_escape(&line)));
        if let Some(why) = why {
            lines.push(format!("  - {}", md_escape(&why)));
        }
    }
    let mut next_line = None;
    if let Some(v) = &ch.schedule {
        let (words, next) = schedule_lines(v);
        lines.push(format!("- schedule: {}", md_escape(&words)));
        next_line = Some(match next {
            Some(n) => format!("  - next: {}", md_escape(&n)),
            None => "  - no occurrence at or after the plan time".to_owned(),
        });
    }
    let short_head = lines.clone();
    lines.extend(next_line);
    if let Some(m) = &ch.message {
        let msg = message_lines(m);
        if !msg.is_empty() {
            lines.push("- message (next occurrence):".to_owned());
            lines.extend(msg.iter().map(|l| format!("  - {}", md_escape(l))));
        }
    }
    for (rule, why) in &ch.exceptions_added {
        lines.push(format!(
            "- **policy exception added**: {rule}: \"{}\"",
            md_escape(why)
        ));
    }
    let fields: Vec<String> = ch
        .fields
        .iter()
        .map(|f| format!("- `{}`", md_escape(&field_line(f))))
        .chain(
            ch.request
                .iter()
                .map(|f| format!("- request `{}`", md_escape(&field_line(f)))),
        )
        .collect();
    lines.extend(fields.iter().cloned());
    let mut notes = Vec::new();
    if let Some(n) = &ch.no_effect {
        notes.push(format!("- {}", md_escape(n)));
    }
    if let Some(a) = &ch.sends_again {
        notes.push(format!("- **{}**", md_escape(a)));
    }
    if !ch.dropped.is_empty() {
        notes.push(format!(
            "- no longer happens: {}",
            md_escape(&capped_list(&ch.dropped, 10))
        ));
    }
    lines.extend(notes.iter().cloned());
    let mut full = title.clone();
    for l in &lines {
        let _ = writeln!(full, "{l}");
    }
    full.push('\n');
    let sends: &[&PlannedSend] = sends_of
        .upcoming
        .get(ch.campaign.as_str())
        .map_or(&[], Vec::as_slice);
    if let Some(condition) = sends_of
        .first
        .get(ch.campaign.as_str())
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s.body).ok())
        .and_then(|b| b.get("Condition").cloned())
    {
        let text = serde_json::to_string_pretty(&condition).unwrap_or_default();
        let fence = fence_for(&text);
        let _ = write!(
            full,
            "<details><summary>Condition</summary>\n\n{fence}json\n{text}\n{fence}\n\n</details>\n\n"
        );
    }
    full.push_str(&bodies_md(sends));
    let mut short = title;
    for l in short_head.iter().chain(fields.iter().take(5)).chain(&notes) {
        let _ = writeln!(short, "{l}");
    }
    if fields.len() > 5 {
        let _ = writeln!(
            short,
            "- … {} more",
            plural(fields.len() - 5, "field", "fields")
        );
    }
    let paths: Vec<String> = ch
        .fields
        .iter()
        .map(|f| format!("`{}`", md_escape(&f.path)))
        .collect();
    let tiny = format!(
        "- {kind} `{}`{}{}\n",
        md_escape(&ch.campaign),
        if paths.is_empty() { "" } else { ": " },
        capped_list(&paths, 3)
    );
    Item { full, short, tiny }
}

#[cfg(test)]
mod audience_tests {
    use super::audience_in_words;

    #[test]
    fn audiences_read_as_words() {
        let w = |v: serde_json::Value| audience_in_words(&v);
        assert_eq!(w(serde_json::json!({"all": true})), "**ALL USERS**");
        assert_eq!(
            w(
                serde_json::json!({"tags": {"all": ["VIP"], "any": ["Stock A", "Stock B"], "none": ["churned"]}})
            ),
            "users tagged VIP and with any of Stock A, Stock B and with none of churned"
        );
        assert_eq!(
            w(serde_json::json!({"attrs": {"all": {"city": "Shenzhen", "level": "Platinum"}}})),
            "users whose city = Shenzhen, level = Platinum (all of these)"
        );
    }
}
