//! `crier preview`'s page: one self-contained HTML document (inline CSS, no network resource)
//! drawing each campaign's push on Android lock screens (each vendor's cut applied), an iOS
//! lock screen and in the chat, after the change and (with `--base`) before it. Pure: rendered
//! requests in, HTML out.

use std::fmt::Write as _;

use serde_json::Value;

use crate::render::vendors::{VENDORS, cut, utf16_len};

/// One campaign to draw: its next occurrence's request now, and at the base revision.
#[derive(Debug, Clone)]
pub struct CampaignPreview {
    pub name: String,
    pub app: String,
    /// The occurrence, in the campaign's zone.
    pub when: String,
    pub after: Option<Value>,
    pub before: Option<Value>,
}

/// Escapes text for HTML.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:24px;background:#f4f4f6;color:#222}
h1{font-size:22px}section{background:#fff;border-radius:10px;padding:16px;margin:16px 0;box-shadow:0 1px 3px #0002}
.sides{display:flex;gap:24px;flex-wrap:wrap}.side{flex:1;min-width:420px}.side h3{margin:4px 0 8px;text-transform:uppercase;font-size:12px;color:#666}
.phones{display:flex;flex-wrap:wrap;gap:10px}.phone{width:190px;border-radius:14px;padding:10px;background:#1d2733;color:#fff}
.phone.ios{background:linear-gradient(#3a4a6b,#20283a)}.label{font-size:11px;color:#9ab;margin-top:6px}
.notif{background:#ffffffe6;color:#111;border-radius:8px;padding:8px}.ntitle{font-weight:600;font-size:13px}.ndesc{font-size:12px;color:#333;margin-top:2px}
.cut{color:#b00;font-size:10px}.chat{background:#e9edf2;border-radius:10px;padding:10px;margin-top:10px;max-width:420px}
.bubble{background:#fff;border-radius:12px;padding:8px 10px;margin:6px 0;display:inline-block;max-width:360px;white-space:pre-wrap}
.elem{color:#555;font-style:italic}.langs{font-size:12px;margin-top:8px}.none{color:#888}";

fn notification(out: &mut String, class: &str, label: &str, title: &str, desc: &str, note: &str) {
    let _ = write!(
        out,
        "<div class=\"phone {class}\" data-vendor=\"{}\"><div class=\"notif\"><div class=\"ntitle\">{}</div><div class=\"ndesc\">{}</div></div><div class=\"label\">{}{}</div></div>",
        escape(label),
        escape(title),
        escape(desc),
        escape(label),
        if note.is_empty() {
            String::new()
        } else {
            format!(" <span class=\"cut\">{}</span>", escape(note))
        }
    );
}

fn shown(text: &str, limit: usize) -> (String, bool) {
    if utf16_len(text) > limit {
        (format!("{}...", cut(text, limit)), true)
    } else {
        (text.to_owned(), false)
    }
}

fn side(out: &mut String, which: &str, request: Option<&Value>) {
    let _ = write!(out, "<div class=\"side {which}\"><h3>{which}</h3>");
    let Some(request) = request else {
        let _ = write!(out, "<p class=\"none\">no such campaign</p></div>");
        return;
    };
    let op = request.get("OfflinePushInfo");
    let text = |k: &str| {
        op.and_then(|o| o.get(k))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (title, desc) = (text("Title"), text("Desc"));
    let long = op
        .and_then(|o| o.pointer("/AndroidInfo/PushStyle"))
        .and_then(Value::as_u64)
        == Some(1);
    out.push_str("<div class=\"phones\">");
    if op.is_none() {
        out.push_str("<p class=\"none\">no offline push: phones in the background show no notification text from this campaign</p>");
    } else {
        for v in VENDORS {
            let desc_limit = if long {
                v.desc_long.unwrap_or(v.desc)
            } else {
                v.desc
            };
            let (t, tc) = shown(&title, v.title);
            let (d, dc) = shown(&desc, desc_limit);
            let note = match (tc, dc) {
                (true, true) => "cuts title and text",
                (true, false) => "cuts the title",
                (false, true) => "cuts the text",
                (false, false) => "",
            };
            notification(out, "android", v.name, &t, &d, note);
        }
        notification(out, "ios", "iOS", &title, &desc, "");
    }
    out.push_str("</div>");
    if let Some(langs) = op
        .and_then(|o| o.get("MultiLanguageContent"))
        .and_then(Value::as_array)
    {
        out.push_str("<div class=\"langs\"><b>Translations</b><ul>");
        for l in langs {
            let g = |k: &str| l.get(k).and_then(Value::as_str).unwrap_or_default();
            let _ = write!(
                out,
                "<li lang=\"{}\"><b>{}</b>: {} — {}</li>",
                escape(g("Language")),
                escape(g("Language")),
                escape(g("Title")),
                escape(g("Desc"))
            );
        }
        out.push_str("</ul></div>");
    }
    out.push_str("<div class=\"chat\">");
    for e in request
        .get("MsgBody")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let kind = e.get("MsgType").and_then(Value::as_str).unwrap_or_default();
        let content = e.get("MsgContent");
        let field = |k: &str| {
            content
                .and_then(|c| c.get(k))
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        let _ = match kind {
            "TIMTextElem" => write!(
                out,
                "<div class=\"bubble\">{}</div><br>",
                escape(field("Text"))
            ),
            "TIMCustomElem" => write!(
                out,
                "<div class=\"bubble elem\">custom message: {}</div><br>",
                escape(field("Desc"))
            ),
            other => write!(
                out,
                "<div class=\"bubble elem\">[{}]</div><br>",
                escape(other.trim_start_matches("TIM").trim_end_matches("Elem"))
            ),
        };
    }
    out.push_str("</div></div>");
}

/// The whole page.
#[must_use]
pub fn page(project: &str, campaigns: &[CampaignPreview]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>crier preview: {}</title><style>{STYLE}</style></head><body><h1>crier preview: {}</h1><p>{} campaign{}. Android notifications are drawn with each vendor's cut (UTF-16 units); iOS shows the full text (the APNs payload is limited to 4 KB).</p>",
        escape(project),
        escape(project),
        campaigns.len(),
        if campaigns.len() == 1 { "" } else { "s" }
    );
    for c in campaigns {
        let _ = write!(
            out,
            "<section class=\"campaign\" id=\"campaign-{}\"><h2>{}</h2><p>app {}, next occurrence {}</p><div class=\"sides\">",
            escape(&c.name),
            escape(&c.name),
            escape(&c.app),
            escape(&c.when)
        );
        side(&mut out, "after", c.after.as_ref());
        if c.before.is_some() || c.after.is_none() {
            side(&mut out, "before", c.before.as_ref());
        }
        out.push_str("</div></section>");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_draws_each_vendors_cut_escapes_text_and_loads_nothing() {
        let request = serde_json::json!({
            "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "<b>30%</b> off"}},
                        {"MsgType": "TIMImageElem", "MsgContent": {}}],
            "OfflinePushInfo": {"Title": "T".repeat(45), "Desc": "short"}
        });
        let html = page(
            "shop",
            &[CampaignPreview {
                name: "sale".into(),
                app: "prod".into(),
                when: "2026-12-05T10:00:00+08:00".into(),
                after: Some(request),
                before: None,
            }],
        );
        assert!(
            html.contains(&format!("{}...", "T".repeat(40))),
            "vivo's cut"
        );
        assert!(
            html.contains(&format!("{}...", "T".repeat(32))),
            "Meizu's cut"
        );
        assert!(html.contains("&lt;b&gt;30%&lt;/b&gt; off"));
        assert!(html.contains("[Image]"));
        for forbidden in ["http://", "https://", "src=", "<link", "<script"] {
            assert!(!html.contains(forbidden), "{forbidden}");
        }
    }
}
