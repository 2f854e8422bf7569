//! Templates and the canonical request: campaign + occurrence → the exact JSON body sent.
//!
//! Pure: no clock, no environment. Every string under `message` (except `lifetime`) is a
//! minijinja template with strict undefined; a rendered value is always a JSON string, so a
//! template can never change the request's structure.

use crate::schema::dotted;
use crate::spec::Campaign;
use crate::spec::campaign::{Audience, Element, Ext, MessageSpec, OfflinePush, from_value};
use chrono::{DateTime, Datelike, SecondsFormat};
use chrono_tz::Tz;
use indexmap::IndexMap;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// The provider's limit on the push body (90056).
pub const MAX_BODY_BYTES: usize = 10_240;
/// Keep APNs `desc` + `ext` under this (APNs payloads are limited to 4 KB).
pub const APNS_BUDGET_BYTES: usize = 3 * 1024;
/// Names a var may not take.
pub const RESERVED_NAMES: [&str; 3] = ["campaign", "app", "occurrence"];
/// Pointers (relative to `message`) that are not templates.
const NOT_TEMPLATES: [&str; 1] = ["/lifetime"];
/// Work one template may do before it is stopped (guards against runaway loops).
const FUEL: u64 = 50_000;
/// The longest template string (a rendered body is at most 10,240 bytes anyway).
pub const MAX_TEMPLATE_BYTES: usize = 16 * 1024;
/// Most operator and name tokens in one `{{ … }}` or `{% … %}`: bounds the expression tree's
/// depth, so no template can exhaust the stack (minijinja recurses over it).
pub const MAX_EXPRESSION_TOKENS: usize = 200;

/// A rendering problem at a pointer relative to the campaign document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    pub pointer: String,
    pub message: String,
}

/// The template context of one occurrence (spec §1).
#[derive(Debug, Clone)]
pub struct Context {
    pub campaign: String,
    pub app: String,
    pub local: DateTime<Tz>,
}

/// The template engine, configured once and shared.
pub struct Renderer {
    env: Environment<'static>,
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Renderer")
    }
}

fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

impl Renderer {
    #[must_use]
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_fuel(Some(FUEL));
        env.set_recursion_limit(32);
        Self { env }
    }

    fn context_value(ctx: &Context, vars: &IndexMap<String, Value>) -> minijinja::Value {
        let mut map: Map<String, Value> =
            vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        map.insert("campaign".into(), json!({ "name": ctx.campaign }));
        map.insert("app".into(), json!({ "name": ctx.app }));
        map.insert(
            "occurrence".into(),
            json!({
                "time": ctx.local.to_rfc3339_opts(SecondsFormat::Secs, false),
                "date": ctx.local.format("%Y-%m-%d").to_string(),
                "weekday": weekday_name(ctx.local.weekday()),
            }),
        );
        minijinja::Value::from(minijinja::value::Serde(&map))
    }

    /// Checks one template's syntax and variables without rendering it.
    fn check_names(
        &self,
        tmpl: &minijinja::Template<'_, '_>,
        vars: &IndexMap<String, Value>,
    ) -> Result<(), String> {
        let mut unknown = BTreeSet::new();
        for name in tmpl.undeclared_variables(true) {
            let (top, attr) = name
                .split_once('.')
                .map_or((name.as_str(), None), |(t, a)| (t, Some(a)));
            let known = match (top, attr) {
                ("campaign" | "app", None | Some("name")) => true,
                ("occurrence", None | Some("time" | "date" | "weekday")) => true,
                ("campaign" | "app" | "occurrence", Some(_)) => false,
                (top, _) => vars.contains_key(top) || self.env.globals().any(|(g, _)| g == top),
            };
            if !known {
                unknown.insert(name);
            }
        }
        if unknown.is_empty() {
            return Ok(());
        }
        let names = unknown
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut available: Vec<String> = vars.keys().cloned().collect();
        available.extend(
            [
                "campaign.name",
                "app.name",
                "occurrence.time",
                "occurrence.date",
                "occurrence.weekday",
            ]
            .map(String::from),
        );
        Err(format!(
            "unknown template variable{} {names} (available: {})",
            if unknown.len() == 1 { "" } else { "s" },
            available.join(", ")
        ))
    }

    /// Renders every template string of `message` (a campaign's raw `message` value).
    ///
    /// # Errors
    /// Every template that fails, by pointer (relative to the campaign document).
    pub fn render_message(
        &self,
        message: &Value,
        ctx: &Context,
        vars: &IndexMap<String, Value>,
    ) -> Result<Value, Vec<RenderError>> {
        self.render_message_with(message, ctx, vars, true)
    }

    /// [`Self::render_message`] for a campaign whose templates' names were already checked (by
    /// validation): names do not depend on the occurrence, so only rendering is left.
    ///
    /// # Errors
    /// Every template that fails, by pointer.
    pub fn render_message_checked(
        &self,
        message: &Value,
        ctx: &Context,
        vars: &IndexMap<String, Value>,
    ) -> Result<Value, Vec<RenderError>> {
        self.render_message_with(message, ctx, vars, false)
    }

    fn render_message_with(
        &self,
        message: &Value,
        ctx: &Context,
        vars: &IndexMap<String, Value>,
        check_names: bool,
    ) -> Result<Value, Vec<RenderError>> {
        let context = Self::context_value(ctx, vars);
        let mut errors = Vec::new();
        let out = self.walk(message, "", &context, vars, check_names, &mut errors);
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    fn walk(
        &self,
        v: &Value,
        pointer: &str,
        ctx: &minijinja::Value,
        vars: &IndexMap<String, Value>,
        check_names: bool,
        errors: &mut Vec<RenderError>,
    ) -> Value {
        match v {
            Value::String(s) if is_template(s) && !NOT_TEMPLATES.contains(&pointer) => {
                // One compilation per string: names are checked on it, then it renders.
                let result = check_complexity(s)
                    .and_then(|()| {
                        self.env
                            .template_from_str(s)
                            .map_err(|e| template_error(&e))
                    })
                    .and_then(|tmpl| {
                        if check_names {
                            self.check_names(&tmpl, vars)?;
                        }
                        tmpl.render(ctx.clone()).map_err(|e| template_error(&e))
                    });
                match result {
                    Ok(rendered) => Value::String(rendered),
                    Err(message) => {
                        errors.push(RenderError {
                            pointer: format!("/message{pointer}"),
                            message,
                        });
                        v.clone()
                    }
                }
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        self.walk(
                            item,
                            &format!("{pointer}/{i}"),
                            ctx,
                            vars,
                            check_names,
                            errors,
                        )
                    })
                    .collect(),
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, item)| {
                        let child =
                            format!("{pointer}/{}", crate::spec::yaml::escape_pointer_segment(k));
                        (
                            k.clone(),
                            self.walk(item, &child, ctx, vars, check_names, errors),
                        )
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// Refuses templates that are too long, or whose expressions are so large that compiling
/// them could exhaust the stack, before minijinja sees them.
fn check_complexity(s: &str) -> Result<(), String> {
    if s.len() > MAX_TEMPLATE_BYTES {
        return Err(format!(
            "template is {} bytes; crier allows at most {MAX_TEMPLATE_BYTES} per string",
            s.len()
        ));
    }
    let mut rest = s;
    while let Some(start) = rest.find(['{']) {
        let after = &rest[start..];
        let close = if after.starts_with("{{") {
            "}}"
        } else if after.starts_with("{%") {
            "%}"
        } else {
            rest = &after[1..];
            continue;
        };
        let body_end = after[2..].find(close).map_or(after.len(), |i| i + 2);
        let tokens = expression_tokens(&after[2..body_end]);
        if tokens > MAX_EXPRESSION_TOKENS {
            return Err(format!(
                "template expression has {tokens} operators and names; crier allows at most {MAX_EXPRESSION_TOKENS} in one `{{{{ … }}}}` or `{{% … %}}` (split it, or compute the value in `vars`)"
            ));
        }
        rest = &after[body_end.min(after.len())..];
        if rest.len() >= close.len() && rest.starts_with(close) {
            rest = &rest[close.len()..];
        }
    }
    Ok(())
}

/// Names, numbers and operator characters in an expression (string literals count once).
fn expression_tokens(expr: &str) -> usize {
    let mut tokens = 0usize;
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        tokens += 1;
        if c == '"' || c == '\'' {
            for d in chars.by_ref() {
                if d == c {
                    break;
                }
            }
        } else if c.is_alphanumeric() || c == '_' {
            while chars
                .next_if(|d| d.is_alphanumeric() || *d == '_')
                .is_some()
            {}
        }
    }
    tokens
}

fn template_error(e: &minijinja::Error) -> String {
    // Never `display_debug_info()`: it dumps every referenced variable.
    let mut msg = format!("template error: {}", e.kind());
    if let Some(detail) = e.detail() {
        msg.push_str(": ");
        msg.push_str(detail);
    }
    if let Some(line) = e.line() {
        msg.push_str(&format!(" (template line {line})"));
    }
    msg
}

#[must_use]
pub const fn weekday_name(d: chrono::Weekday) -> &'static str {
    match d {
        chrono::Weekday::Mon => "Monday",
        chrono::Weekday::Tue => "Tuesday",
        chrono::Weekday::Wed => "Wednesday",
        chrono::Weekday::Thu => "Thursday",
        chrono::Weekday::Fri => "Friday",
        chrono::Weekday::Sat => "Saturday",
        chrono::Weekday::Sun => "Sunday",
    }
}

/// The push request's `Condition`, or `None` for everyone.
#[must_use]
pub fn condition(audience: &Audience) -> Option<Value> {
    let mut c = Map::new();
    match audience {
        Audience::All(_) => return None,
        Audience::Tags(t) => {
            for (key, list) in [
                ("TagsOr", &t.any),
                ("TagsAnd", &t.all),
                ("TagsNot", &t.none),
            ] {
                if let Some(list) = list {
                    c.insert(key.into(), json!(list));
                }
            }
        }
        Audience::Attrs(a) => {
            for (key, map) in [("AttrsOr", &a.any), ("AttrsAnd", &a.all)] {
                if let Some(map) = map {
                    c.insert(key.into(), json!(map));
                }
            }
        }
    }
    Some(Value::Object(c))
}

fn element(e: &Element) -> Value {
    let (kind, content) = match e {
        Element::Text(text) => ("TIMTextElem", json!({ "Text": text })),
        Element::Custom(c) => {
            let mut m = Map::new();
            m.insert("Data".into(), json!(c.data));
            for (k, v) in [("Desc", &c.desc), ("Ext", &c.ext), ("Sound", &c.sound)] {
                if let Some(v) = v {
                    m.insert(k.into(), json!(v));
                }
            }
            ("TIMCustomElem", Value::Object(m))
        }
        Element::Location(l) => (
            "TIMLocationElem",
            json!({ "Desc": l.desc, "Latitude": l.latitude, "Longitude": l.longitude }),
        ),
        Element::Face(f) => {
            let mut m = Map::new();
            m.insert("Index".into(), json!(f.index));
            if let Some(d) = &f.data {
                m.insert("Data".into(), json!(d));
            }
            ("TIMFaceElem", Value::Object(m))
        }
        Element::Sound(s) => {
            let mut m = Map::new();
            m.insert("Url".into(), json!(s.url));
            m.insert("UUID".into(), json!(s.uuid));
            opt(&mut m, "Size", s.size);
            opt(&mut m, "Second", s.seconds);
            m.insert("Download_Flag".into(), json!(2));
            ("TIMSoundElem", Value::Object(m))
        }
        Element::Image(i) => {
            let infos: Vec<Value> = i
                .images
                .0
                .iter()
                .map(|info| {
                    let mut m = Map::new();
                    m.insert("Type".into(), json!(info.kind.code()));
                    opt(&mut m, "Size", info.size);
                    m.insert("Width".into(), json!(info.width));
                    m.insert("Height".into(), json!(info.height));
                    m.insert("URL".into(), json!(info.url));
                    Value::Object(m)
                })
                .collect();
            let format = i.format.map_or(255, |f| f.code());
            (
                "TIMImageElem",
                json!({ "UUID": i.uuid, "ImageFormat": format, "ImageInfoArray": infos }),
            )
        }
        Element::File(f) => {
            let mut m = Map::new();
            m.insert("Url".into(), json!(f.url));
            m.insert("UUID".into(), json!(f.uuid));
            opt(&mut m, "FileSize", f.size);
            if let Some(n) = &f.name {
                m.insert("FileName".into(), json!(n));
            }
            m.insert("Download_Flag".into(), json!(2));
            ("TIMFileElem", Value::Object(m))
        }
        Element::Video(v) => {
            let mut m = Map::new();
            m.insert("VideoUrl".into(), json!(v.url));
            m.insert("VideoUUID".into(), json!(v.uuid));
            opt(&mut m, "VideoSize", v.size);
            opt(&mut m, "VideoSecond", v.seconds);
            if let Some(f) = &v.format {
                m.insert("VideoFormat".into(), json!(f));
            }
            m.insert("VideoDownloadFlag".into(), json!(2));
            m.insert("ThumbUrl".into(), json!(v.thumb.url));
            m.insert("ThumbUUID".into(), json!(v.thumb.uuid));
            opt(&mut m, "ThumbSize", v.thumb.size);
            m.insert("ThumbWidth".into(), json!(v.thumb.width));
            m.insert("ThumbHeight".into(), json!(v.thumb.height));
            if let Some(f) = &v.thumb.format {
                m.insert("ThumbFormat".into(), json!(f));
            }
            m.insert("ThumbDownloadFlag".into(), json!(2));
            ("TIMVideoFileElem", Value::Object(m))
        }
    };
    json!({ "MsgType": kind, "MsgContent": content })
}

fn opt(m: &mut Map<String, Value>, key: &str, v: Option<u64>) {
    if let Some(v) = v {
        m.insert(key.into(), json!(v));
    }
}

/// `OfflinePushInfo` from the rendered `offline_push`.
#[must_use]
pub fn offline_push_info(op: &OfflinePush) -> Value {
    let mut m = Map::new();
    m.insert("PushFlag".into(), json!(if op.enabled { 0 } else { 1 }));
    if let Some(t) = &op.title {
        m.insert("Title".into(), json!(t));
    }
    if let Some(d) = &op.desc {
        m.insert("Desc".into(), json!(d));
    }
    if let Some(ext) = &op.ext {
        m.insert("Ext".into(), json!(ext_text(ext)));
    }
    fn to_value(v: &impl serde::Serialize) -> Value {
        serde_json::to_value(v).expect("push info types always serialise")
    }
    if let Some(a) = &op.android {
        m.insert("AndroidInfo".into(), to_value(a));
    }
    if let Some(a) = &op.apns {
        m.insert("ApnsInfo".into(), to_value(a));
    }
    if let Some(h) = &op.harmony {
        m.insert("HarmonyInfo".into(), to_value(h));
    }
    if let Some(n) = op.badge_add_num {
        m.insert("BadgeAddNum".into(), json!(n));
    }
    if let Some(n) = op.badge_set_num {
        m.insert("BadgeSetNum".into(), json!(n));
    }
    Value::Object(m)
}

/// `ext` as the string the API carries: a mapping becomes compact JSON in source key order.
#[must_use]
pub fn ext_text(ext: &Ext) -> String {
    match ext {
        Ext::Text(s) => s.clone(),
        Ext::Map(m) => serde_json::to_string(m).expect("a JSON map always serialises"),
    }
}

/// The push request body, fields in the reference's order.
#[must_use]
pub fn push_request(msg_random: u32, audience: &Audience, m: &MessageSpec) -> Value {
    let mut req = Map::new();
    if let Some(from) = &m.from {
        req.insert("From_Account".into(), json!(from));
    }
    req.insert("MsgRandom".into(), json!(msg_random));
    req.insert("OnlineOnlyFlag".into(), json!(u8::from(m.online_only)));
    if let Some(c) = condition(audience) {
        req.insert("Condition".into(), c);
    }
    req.insert(
        "MsgBody".into(),
        Value::Array(m.body.0.iter().map(element).collect()),
    );
    if let Some(op) = &m.offline_push {
        req.insert("OfflinePushInfo".into(), offline_push_info(op));
    }
    if let Some(lt) = &m.lifetime {
        req.insert("MsgLifeTime".into(), json!(lt.value.as_secs()));
    }
    Value::Object(req)
}

/// One occurrence's request, rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The rendered, typed message.
    pub message: MessageSpec,
    /// The request body as a value.
    pub request: Value,
    /// The canonical serialisation: compact UTF-8, the bytes that are sent.
    pub body: String,
}

impl Rendered {
    /// Bytes of APNs-bound text: the offline push `desc` plus `ext`.
    #[must_use]
    pub fn apns_bytes(&self) -> usize {
        self.message.offline_push.as_ref().map_or(0, |op| {
            op.desc.as_ref().map_or(0, String::len)
                + op.ext.as_ref().map_or(0, |e| ext_text(e).len())
        })
    }
}

/// Renders one occurrence of a campaign into its exact request.
///
/// # Errors
/// Template errors and (should the schema and types drift) typing errors, by pointer.
pub fn render(
    renderer: &Renderer,
    campaign: &Campaign,
    ctx: &Context,
    msg_random: u32,
) -> Result<Rendered, Vec<RenderError>> {
    let rendered = renderer.render_message(campaign.message_source(), ctx, &campaign.spec.vars)?;
    finish(campaign, rendered, msg_random)
}

/// [`render`] for a campaign that passed validation (its template names are known to be good).
///
/// # Errors
/// Template errors at render time, by pointer.
pub fn render_checked(
    renderer: &Renderer,
    campaign: &Campaign,
    ctx: &Context,
    msg_random: u32,
) -> Result<Rendered, Vec<RenderError>> {
    let message = render_message_checked(renderer, campaign, ctx)?;
    Ok(with_msg_random(campaign, message, msg_random))
}

/// The rendered, typed message of one occurrence of a validated campaign (no request yet).
///
/// # Errors
/// Template errors at render time, by pointer.
pub fn render_message_checked(
    renderer: &Renderer,
    campaign: &Campaign,
    ctx: &Context,
) -> Result<MessageSpec, Vec<RenderError>> {
    let rendered =
        renderer.render_message_checked(campaign.message_source(), ctx, &campaign.spec.vars)?;
    typed(rendered)
}

/// Whether a template of the campaign's message may read the occurrence (its time, date or
/// weekday). When none does, every occurrence renders the same message, so it is rendered
/// once and only the MsgRandom differs.
#[must_use]
pub fn depends_on_occurrence(campaign: &Campaign) -> bool {
    crate::spec::yaml::leaves(campaign.message_source())
        .into_iter()
        .any(|(_, v)| {
            v.as_str()
                .is_some_and(|s| is_template(s) && s.contains("occurrence"))
        })
}

/// The request of a rendered message with its MsgRandom.
#[must_use]
pub fn with_msg_random(campaign: &Campaign, message: MessageSpec, msg_random: u32) -> Rendered {
    let request = push_request(msg_random, &campaign.spec.audience, &message);
    let body = serde_json::to_string(&request).expect("a JSON value always serialises");
    Rendered {
        message,
        request,
        body,
    }
}

fn typed(rendered: Value) -> Result<MessageSpec, Vec<RenderError>> {
    from_value(&rendered).map_err(|e| {
        let pointer = format!("/message{}", e.pointer);
        vec![RenderError {
            message: format!("{}: {}", dotted(&pointer), e.message),
            pointer,
        }]
    })
}

fn finish(
    campaign: &Campaign,
    rendered: Value,
    msg_random: u32,
) -> Result<Rendered, Vec<RenderError>> {
    Ok(with_msg_random(campaign, typed(rendered)?, msg_random))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse_campaign;
    use std::path::Path;
    use std::sync::Arc;

    fn campaign(text: &str) -> Campaign {
        let file: Arc<Path> = Arc::from(Path::new("c.yaml"));
        let p = parse_campaign(&file, text);
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        p.campaign.unwrap()
    }

    fn ctx() -> Context {
        let local = chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(2026, 12, 1, 10, 0, 0)
            .unwrap();
        Context {
            campaign: "sale".into(),
            app: "prod".into(),
            local,
        }
    }
    use chrono::TimeZone as _;

    const HEAD: &str = "version: 1\nname: sale\nschedule: {at: \"2026-12-01T10:00:00\"}\n";

    #[test]
    fn canonical_request_for_tags_with_offline_push() {
        let c = campaign(&format!(
            "{HEAD}audience: {{tags: {{any: [\"Stock A\"], none: [churned]}}}}\nvars: {{discount: 30}}\nmessage:\n  from: admin\n  lifetime: 3d\n  body:\n    - text: \"{{{{ discount }}}}% off until {{{{ occurrence.date }}}} ({{{{ occurrence.weekday }}}}) 你好\"\n  offline_push:\n    title: Black Friday\n    ext: {{z: \"{{{{ campaign.name }}}}\", a: 1}}\n    android: {{huawei_importance: NORMAL, push_style: 1}}\n"
        ));
        let r = render(&Renderer::new(), &c, &ctx(), 42).unwrap();
        assert_eq!(
            r.body,
            r#"{"From_Account":"admin","MsgRandom":42,"OnlineOnlyFlag":0,"Condition":{"TagsOr":["Stock A"],"TagsNot":["churned"]},"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"30% off until 2026-12-01 (Tuesday) 你好"}}],"OfflinePushInfo":{"PushFlag":0,"Title":"Black Friday","Ext":"{\"z\":\"sale\",\"a\":1}","AndroidInfo":{"PushStyle":1,"HuaWeiImportance":"NORMAL"}},"MsgLifeTime":259200}"#
        );
    }

    #[test]
    fn all_audience_has_no_condition_and_media_get_download_flags() {
        let c = campaign(&format!(
            "{HEAD}audience: {{all: true}}\nmessage:\n  online_only: true\n  body:\n    - sound: {{url: u, uuid: i, size: 3, seconds: 2}}\n    - file: {{url: u, uuid: i, name: a.pdf}}\n    - video: {{url: u, uuid: i, thumb: {{url: t, uuid: j, width: 1, height: 2}}}}\n    - image: {{uuid: i, format: png, images: [{{type: thumbnail, width: 1, height: 1, url: x}}]}}\n    - face: {{index: 1}}\n    - location: {{desc: d, latitude: 22.5, longitude: 114}}\n    - custom: {{data: \"{{}}\"}}\n"
        ));
        let r = render(&Renderer::new(), &c, &ctx(), 1).unwrap();
        assert_eq!(
            r.body,
            concat!(
                r#"{"MsgRandom":1,"OnlineOnlyFlag":1,"MsgBody":["#,
                r#"{"MsgType":"TIMSoundElem","MsgContent":{"Url":"u","UUID":"i","Size":3,"Second":2,"Download_Flag":2}},"#,
                r#"{"MsgType":"TIMFileElem","MsgContent":{"Url":"u","UUID":"i","FileName":"a.pdf","Download_Flag":2}},"#,
                r#"{"MsgType":"TIMVideoFileElem","MsgContent":{"VideoUrl":"u","VideoUUID":"i","VideoDownloadFlag":2,"ThumbUrl":"t","ThumbUUID":"j","ThumbWidth":1,"ThumbHeight":2,"ThumbDownloadFlag":2}},"#,
                r#"{"MsgType":"TIMImageElem","MsgContent":{"UUID":"i","ImageFormat":3,"ImageInfoArray":[{"Type":3,"Width":1,"Height":1,"URL":"x"}]}},"#,
                r#"{"MsgType":"TIMFaceElem","MsgContent":{"Index":1}},"#,
                r#"{"MsgType":"TIMLocationElem","MsgContent":{"Desc":"d","Latitude":22.5,"Longitude":114.0}},"#,
                r#"{"MsgType":"TIMCustomElem","MsgContent":{"Data":"{}"}}]}"#
            )
        );
    }

    #[test]
    fn a_template_cannot_change_the_structure() {
        let c = campaign(&format!(
            "{HEAD}audience: {{all: true}}\nvars: {{evil: '\"}},\"x\":{{\"'}}\nmessage:\n  body:\n    - text: \"{{{{ evil }}}}\"\n"
        ));
        let r = render(&Renderer::new(), &c, &ctx(), 1).unwrap();
        assert_eq!(
            r.request["MsgBody"][0]["MsgContent"]["Text"],
            "\"},\"x\":{\""
        );
        assert_eq!(r.request.as_object().unwrap().len(), 3);
    }

    #[test]
    fn unknown_variables_are_named() {
        let c = campaign(&format!(
            "{HEAD}audience: {{all: true}}\nvars: {{discount: 1}}\nmessage:\n  body:\n    - text: \"{{{{ discont }}}} {{{{ occurrence.hour }}}}\"\n"
        ));
        let e = render(&Renderer::new(), &c, &ctx(), 1).unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].pointer, "/message/body/0/text");
        assert_eq!(
            e[0].message,
            "unknown template variables `discont`, `occurrence.hour` (available: discount, campaign.name, app.name, occurrence.time, occurrence.date, occurrence.weekday)"
        );
    }

    #[test]
    fn syntax_errors_and_runaway_loops_are_errors_not_hangs() {
        let c = campaign(&format!(
            "{HEAD}audience: {{all: true}}\nmessage:\n  body:\n    - text: \"{{{{ 1 + }}}}\"\n    - text: \"{{% for i in range(100000) %}}{{% for j in range(100000) %}}x{{% endfor %}}{{% endfor %}}\"\n"
        ));
        let e = render(&Renderer::new(), &c, &ctx(), 1).unwrap_err();
        assert_eq!(e.len(), 2);
        assert!(
            e[0].message.starts_with("template error: syntax error"),
            "{}",
            e[0].message
        );
        assert!(e[1].message.contains("fuel"), "{}", e[1].message);
    }
}
