//! The canonical request: a rendered message and its audience → the exact JSON body that is
//! sent (fields in the reference's order, compact UTF-8).

use super::template::{Context, RenderError, Renderer, reads_occurrence};
use crate::schema::dotted;
use crate::spec::Campaign;
use crate::spec::campaign::{Audience, Element, Ext, MessageSpec, OfflinePush, from_value};
use serde_json::{Map, Value, json};

/// The provider's limit on the push body (90056).
pub const MAX_BODY_BYTES: usize = 10_240;
/// Keep APNs `desc` + `ext` under this (APNs payloads are limited to 4 KB).
pub const APNS_BUDGET_BYTES: usize = 3 * 1024;

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
    if let Some(translations) = op.translations.as_ref().filter(|t| !t.is_empty()) {
        let content: Vec<Value> = translations
            .iter()
            .map(|(language, t)| {
                let mut item = Map::new();
                item.insert("Language".into(), json!(language));
                if let Some(title) = &t.title {
                    item.insert("Title".into(), json!(title));
                }
                if let Some(desc) = &t.desc {
                    item.insert("Desc".into(), json!(desc));
                }
                Value::Object(item)
            })
            .collect();
        m.insert("MultiLanguageContent".into(), Value::Array(content));
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

/// [`render`] from the campaign's templates compiled once ([`Renderer::prepare`] of its
/// `message_source()` and vars).
///
/// # Errors
/// Template errors and typing errors, by pointer.
pub fn render_from(
    prepared: &super::template::Prepared<'_, '_>,
    campaign: &Campaign,
    ctx: &Context,
    msg_random: u32,
) -> Result<Rendered, Vec<RenderError>> {
    finish(campaign, prepared.render(ctx)?, msg_random)
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

/// [`render_message_checked`] from the campaign's templates compiled once
/// ([`Renderer::prepare_checked`] of its `message_source()` and vars).
///
/// # Errors
/// Template errors at render time, by pointer.
pub fn render_prepared(
    prepared: &super::template::Prepared<'_, '_>,
    ctx: &Context,
) -> Result<MessageSpec, Vec<RenderError>> {
    typed(prepared.render(ctx)?)
}

/// Whether a template of the campaign's message may read the occurrence (its time, date or
/// weekday). When none does, every occurrence renders the same message, so it is rendered
/// once and only the MsgRandom differs.
#[must_use]
pub fn depends_on_occurrence(campaign: &Campaign) -> bool {
    crate::spec::yaml::any_leaf(campaign.message_source(), &|v| {
        v.as_str().is_some_and(reads_occurrence)
    })
}

/// The request of a rendered message with its MsgRandom.
#[must_use]
pub fn with_msg_random(campaign: &Campaign, message: MessageSpec, msg_random: u32) -> Rendered {
    let request = push_request(msg_random, &campaign.spec.audience, &message);
    let mut body = serde_json::to_string(&request).expect("a JSON value always serialises");
    // A plan keeps the body of every upcoming send: no spare capacity (up to half of it).
    body.shrink_to_fit();
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
