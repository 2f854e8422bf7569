//! The plan as text: human (optionally coloured), Markdown for one pull-request comment, JSON.
//! Pure: returns strings; the CLI prints them.

use super::model::{Change, FieldChange, Plan, PlannedSend};
use std::fmt::Write as _;

/// GitHub's comment limit is 65,536 characters; stay under it with room for a footer.
pub const MARKDOWN_LIMIT: usize = 65_000;

/// Stable, pretty JSON (maps are ordered; no secrets are in a plan).
#[must_use]
pub fn json(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(plan).expect("a plan always serialises");
    s.push('\n');
    s
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

fn change_lines(out: &mut String, st: &Style, sign: &str, c: &Change) {
    let head = match sign {
        "+" => st.green(&format!("  + {}", c.campaign)),
        "-" => st.red(&format!("  - {}", c.campaign)),
        _ => st.yellow(&format!("  ~ {}", c.campaign)),
    };
    let _ = writeln!(out, "{head}");
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
            change_lines(&mut out, &st, "+", ch);
        }
        for ch in &c.updated {
            change_lines(&mut out, &st, "~", ch);
        }
        for ch in &c.deleted {
            change_lines(&mut out, &st, "-", ch);
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
    if !plan.quota.is_empty() {
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
    let list = |v: Option<&serde_json::Value>| -> Option<String> {
        let items: Vec<String> = v?
            .as_array()?
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect();
        (!items.is_empty()).then(|| items.join(", "))
    };
    let pairs = |v: Option<&serde_json::Value>| -> Option<String> {
        let items: Vec<String> = v?
            .as_object()?
            .iter()
            .map(|(k, x)| {
                format!(
                    "{k} = {}",
                    x.as_str().map_or_else(|| x.to_string(), str::to_owned)
                )
            })
            .collect();
        (!items.is_empty()).then(|| items.join(", "))
    };
    if audience.get("all").and_then(serde_json::Value::as_bool) == Some(true) {
        return "**ALL USERS**".to_owned();
    }
    if let Some(t) = audience.get("tags") {
        let mut parts = Vec::new();
        if let Some(all) = list(t.get("all")) {
            parts.push(format!("tagged {all}"));
        }
        if let Some(any) = list(t.get("any")) {
            parts.push(format!("with any of {any}"));
        }
        if let Some(none) = list(t.get("none")) {
            parts.push(format!("with none of {none}"));
        }
        return format!("users {}", parts.join(" and "));
    }
    if let Some(a) = audience.get("attrs") {
        let mut parts = Vec::new();
        if let Some(all) = pairs(a.get("all")) {
            parts.push(format!("whose {all} (all of these)"));
        }
        if let Some(any) = pairs(a.get("any")) {
            parts.push(format!("with any of {any}"));
        }
        return format!("users {}", parts.join(" and "));
    }
    audience.to_string()
}

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
    parts.push(format!(
        "{} to send now, {} upcoming",
        plan.due.len(),
        plan.upcoming.len()
    ));
    let over: Vec<String> = plan
        .quota
        .iter()
        .filter(|q| q.used + q.planned > q.daily_quota)
        .map(|q| format!("{} {}", q.app, q.day))
        .collect();
    parts.push(if over.is_empty() {
        "quota: every day fits".to_owned()
    } else {
        format!("quota: OVER on {}", over.join(", "))
    });
    let blocking = plan.policy.iter().filter(|f| f.blocks()).count();
    let excepted = plan.policy.iter().filter(|f| f.exception.is_some()).count();
    let warned = plan.policy.len() - blocking - excepted;
    parts.push(if plan.policy.is_empty() {
        "policy: no finding".to_owned()
    } else {
        format!("policy: {blocking} blocking, {warned} warnings, {excepted} excepted")
    });
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

/// The plan as one pull-request comment: a summary table first, details folded, always under
/// [`MARKDOWN_LIMIT`] characters.
#[must_use]
pub fn markdown(plan: &Plan) -> String {
    let mut head = String::new();
    // The hidden marker the CI recipes find the comment by, to update it in place.
    let _ = writeln!(head, "<!-- crier-plan: {} -->", plan.project);
    let _ = writeln!(head, "### crier plan — {}\n", md_escape(&plan.project));
    let _ = writeln!(head, "**Verdict:** {}\n", md_escape(&verdict(plan)));
    let _ = writeln!(
        head,
        "Plan at `{}`, horizon {}, ledger seq {}.\n",
        secs(plan.at),
        horizon(plan),
        plan.ledger_seq
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
        let _ = writeln!(head, "| {label} | {n} |");
    }
    let again: Vec<&Change> = c
        .created
        .iter()
        .chain(&c.updated)
        .filter(|ch| ch.sends_again.is_some())
        .collect();
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
    // Quota per app and day: what a reviewer must not miss is a day over its quota.
    if !plan.quota.is_empty() {
        let _ = writeln!(
            head,
            "\n| quota | day | used | planned | limit | |\n|---|---|---:|---:|---:|---|"
        );
        for q in &plan.quota {
            let over = q.used + q.planned > q.daily_quota;
            let _ = writeln!(
                head,
                "| {} | {} | {}{} | {} | {} | {} |",
                md_escape(&q.app),
                q.day,
                q.used,
                if q.used_by_others > 0 {
                    format!(" ({} other projects)", q.used_by_others)
                } else {
                    String::new()
                },
                q.planned,
                q.daily_quota,
                if over {
                    format!("**over: {} deferred**", q.deferred.len())
                } else {
                    String::new()
                }
            );
        }
    }
    // Policy findings are part of the verdict: never folded away.
    if !plan.policy.is_empty() {
        let _ = writeln!(head, "\n**Policy** ({}):\n", plan.policy.len());
        for line in policy_lines(plan) {
            let _ = writeln!(head, "- {}", md_escape(&line));
        }
    }
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
    let mut sections: Vec<String> = Vec::new();
    let plain_creates: Vec<String> = c
        .created
        .iter()
        .filter(|ch| ch.fields.is_empty())
        .map(|ch| format!("`{}`", md_escape(&ch.campaign)))
        .collect();
    if !plain_creates.is_empty() {
        sections.push(format!("**Created:** {}\n\n", plain_creates.join(", ")));
    }
    let detailed = c
        .created
        .iter()
        .filter(|ch| !ch.fields.is_empty())
        .chain(&c.updated)
        .chain(&c.deleted);
    for ch in detailed {
        let mut s = format!(
            "<details><summary>{} <code>{}</code></summary>\n\n",
            change_kind(plan, ch),
            md_escape(&ch.campaign)
        );
        if let Some(audience) = plan
            .campaigns
            .get(&ch.campaign)
            .and_then(|c| c.get("audience"))
        {
            let _ = writeln!(s, "- audience: {}", md_escape(&audience_in_words(audience)));
        }
        for f in ch.fields.iter().chain(&ch.request) {
            let _ = writeln!(s, "- `{}`", md_escape(&field_line(f)));
        }
        if let Some(n) = &ch.no_effect {
            let _ = writeln!(s, "- {}", md_escape(n));
        }
        if !ch.dropped.is_empty() {
            let _ = writeln!(
                s,
                "- no longer happens: {}",
                md_escape(&ch.dropped.join(", "))
            );
        }
        s.push_str("\n</details>\n");
        sections.push(s);
    }
    let base_label = plan
        .base
        .as_ref()
        .map(|b| format!("Upcoming at {b}"))
        .unwrap_or_default();
    for (label, list) in [
        ("Due now", &plan.due),
        ("Upcoming", &plan.upcoming),
        (base_label.as_str(), &plan.base_upcoming),
    ] {
        for send in list.iter() {
            let fence = fence_for(&send.body);
            sections.push(format!(
                "<details><summary>{label}: {} <code>{}</code> (app {}){}</summary>\n\n{fence}json\n{}\n{fence}\n\n</details>\n",
                md_escape(&send.local),
                md_escape(&send.campaign),
                md_escape(&send.app),
                if send.over_quota { " — over quota, deferred" } else { "" },
                send.body
            ));
        }
    }
    for d in &plan.in_doubt {
        sections.push(format!(
            "- **In doubt** `{}`: {}\n",
            md_escape(&d.id),
            md_escape(&d.reason)
        ));
    }
    for h in &plan.held {
        sections.push(format!(
            "- **Held** `{}` ({}): {}\n",
            md_escape(&h.id),
            h.state,
            md_escape(&h.reason)
        ));
    }
    for w in &plan.warnings {
        sections.push(format!("- :warning: {}\n", md_escape(&w.message)));
    }
    let mut out = head;
    out.push('\n');
    let total = sections.len();
    for (i, s) in sections.into_iter().enumerate() {
        let footer_room = 80;
        if out.len() + s.len() + footer_room > MARKDOWN_LIMIT {
            let _ = writeln!(out, "\n{} more — see the JSON plan", total - i);
            return out;
        }
        out.push_str(&s);
    }
    out
}

fn change_kind(plan: &Plan, ch: &Change) -> &'static str {
    if plan.changes.created.iter().any(|c| std::ptr::eq(c, ch)) {
        "Create"
    } else if plan.changes.deleted.iter().any(|c| std::ptr::eq(c, ch)) {
        "Delete"
    } else {
        "Update"
    }
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
