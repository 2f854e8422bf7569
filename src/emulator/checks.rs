//! Pure request checks, in the contract's order: query, JSON, MsgRandom, MsgBody, Condition,
//! MsgLifeTime, size. No state, no clock: the stateful checks (UserSig, rate, dedup, interval,
//! quota) live in `service`.

use super::users::Selector;
use crate::api::wire::codes;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Why a request was refused: the provider's code and an `ErrorInfo` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub code: u32,
    pub info: String,
}

impl Reject {
    pub fn new(code: u32, info: impl Into<String>) -> Self {
        Self {
            code,
            info: info.into(),
        }
    }
}

pub type Verdict<T> = Result<T, Reject>;

/// Largest accepted push body, in bytes (90056).
pub const MAX_BODY_BYTES: usize = 10_240;
/// Longest offline storage period, in seconds (90026).
pub const MAX_LIFETIME_SECS: u64 = 604_800;
/// Most tags in each of TagsOr / TagsAnd / TagsNot (90032).
pub const MAX_CONDITION_TAGS: usize = 10;
/// Longest tag, attribute name or attribute value, in UTF-8 bytes.
pub const MAX_NAME_BYTES: usize = 50;
/// Longest DataId, in bytes (90057).
pub const MAX_DATA_ID_BYTES: usize = 64;

/// The query string's parameters, first value of each name, percent-decoded (`+` is kept).
#[must_use]
pub fn parse_query(raw: Option<&str>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.entry(percent_decode(k))
            .or_insert_with(|| percent_decode(v));
    }
    out
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(u8::try_from(h * 16 + l).expect("two hex digits fit a byte"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The query of an API call, checked for shape only (60012, 60002).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallQuery {
    pub sdkappid: u64,
    pub identifier: String,
    pub usersig: String,
}

/// Checks `sdkappid` (60012), then `identifier`, `random` and `contenttype` (60002).
///
/// # Errors
/// The first problem found.
pub fn check_query(q: &HashMap<String, String>) -> Verdict<CallQuery> {
    let sdkappid = match q.get("sdkappid").map(String::as_str) {
        None | Some("") => {
            return Err(Reject::new(
                codes::SDKAPPID_MISSING,
                "sdkappid is missing from the URL",
            ));
        }
        Some(s) => s.parse::<u64>().map_err(|_| {
            Reject::new(
                codes::SDKAPPID_MISSING,
                "sdkappid in the URL is not a number",
            )
        })?,
    };
    let identifier = match q.get("identifier") {
        Some(i) if !i.is_empty() => i.clone(),
        _ => {
            return Err(Reject::new(
                codes::HTTP_PARSE_ERROR,
                "identifier is missing from the URL",
            ));
        }
    };
    match q.get("random").map(|r| r.parse::<u32>()) {
        Some(Ok(_)) => {}
        Some(Err(_)) => {
            return Err(Reject::new(
                codes::HTTP_PARSE_ERROR,
                "random must be a 32-bit unsigned integer",
            ));
        }
        None => {
            return Err(Reject::new(
                codes::HTTP_PARSE_ERROR,
                "random is missing from the URL",
            ));
        }
    }
    if let Some(ct) = q.get("contenttype")
        && ct != "json"
    {
        return Err(Reject::new(
            codes::HTTP_PARSE_ERROR,
            "contenttype must be json",
        ));
    }
    Ok(CallQuery {
        sdkappid,
        identifier,
        usersig: q.get("usersig").cloned().unwrap_or_default(),
    })
}

/// The body as a JSON object (90001).
///
/// # Errors
/// Empty, not UTF-8, not JSON, or not an object.
pub fn parse_object(body: &[u8]) -> Verdict<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Reject::new(
            codes::JSON_PARSE_FAILED,
            "the request body must be a JSON object",
        )),
        Err(e) => Err(Reject::new(
            codes::JSON_PARSE_FAILED,
            format!("JSON parse failed: {e}"),
        )),
    }
}

/// A field, with JSON `null` treated as absent.
#[must_use]
pub fn field<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key).filter(|v| !v.is_null())
}

/// `MsgRandom`: present and an integer in 0..=u32::MAX (90005).
///
/// # Errors
/// Missing or not a 32-bit unsigned integer.
pub fn check_msg_random(m: &Map<String, Value>) -> Verdict<u32> {
    field(m, "MsgRandom")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| Reject::new(codes::MSG_RANDOM_INVALID, "Invalid format of MsgRandom"))
}

const MSG_TYPES: [&str; 8] = [
    "TIMTextElem",
    "TIMLocationElem",
    "TIMFaceElem",
    "TIMCustomElem",
    "TIMSoundElem",
    "TIMImageElem",
    "TIMFileElem",
    "TIMVideoFileElem",
];

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Str,
    Num,
}

fn elem_fields(
    msg_type: &str,
) -> (
    &'static [(&'static str, Kind)],
    &'static [&'static str],
    &'static [&'static str],
) {
    use Kind::{Num, Str};
    // (typed fields, required fields, fields that must equal 2)
    match msg_type {
        "TIMTextElem" => (&[("Text", Str)], &["Text"], &[]),
        "TIMLocationElem" => (
            &[("Desc", Str), ("Latitude", Num), ("Longitude", Num)],
            &[],
            &[],
        ),
        "TIMFaceElem" => (&[("Index", Num), ("Data", Str)], &[], &[]),
        "TIMCustomElem" => (
            &[("Data", Str), ("Desc", Str), ("Ext", Str), ("Sound", Str)],
            &[],
            &[],
        ),
        "TIMSoundElem" => (
            &[
                ("Url", Str),
                ("UUID", Str),
                ("Size", Num),
                ("Second", Num),
                ("Download_Flag", Num),
            ],
            &["Url", "UUID"],
            &["Download_Flag"],
        ),
        "TIMImageElem" => (&[("UUID", Str), ("ImageFormat", Num)], &["UUID"], &[]),
        "TIMFileElem" => (
            &[
                ("Url", Str),
                ("UUID", Str),
                ("FileSize", Num),
                ("FileName", Str),
                ("Download_Flag", Num),
            ],
            &["Url", "UUID"],
            &["Download_Flag"],
        ),
        "TIMVideoFileElem" => (
            &[
                ("VideoUrl", Str),
                ("VideoUUID", Str),
                ("VideoSize", Num),
                ("VideoSecond", Num),
                ("VideoFormat", Str),
                ("VideoDownloadFlag", Num),
                ("ThumbUrl", Str),
                ("ThumbUUID", Str),
                ("ThumbSize", Num),
                ("ThumbWidth", Num),
                ("ThumbHeight", Num),
                ("ThumbFormat", Str),
                ("ThumbDownloadFlag", Num),
            ],
            &[
                "VideoUrl",
                "VideoUUID",
                "ThumbUrl",
                "ThumbUUID",
                "ThumbWidth",
                "ThumbHeight",
            ],
            &["VideoDownloadFlag", "ThumbDownloadFlag"],
        ),
        _ => (&[], &[], &[]),
    }
}

fn has_kind(v: &Value, k: Kind) -> bool {
    match k {
        Kind::Str => v.is_string(),
        Kind::Num => v.is_number(),
    }
}

fn check_fields(
    content: &Map<String, Value>,
    typed: &[(&str, Kind)],
    required: &[&str],
    flag_two: &[&str],
    at: &str,
) -> Verdict<()> {
    let bad = |msg: String| Err(Reject::new(codes::MSG_BODY_FORMAT, format!("{at}: {msg}")));
    for (name, kind) in typed {
        if let Some(v) = field(content, name)
            && !has_kind(v, *kind)
        {
            let want = if *kind == Kind::Str {
                "a string"
            } else {
                "a number"
            };
            return bad(format!("{name} must be {want}"));
        }
    }
    for name in required {
        if field(content, name).is_none() {
            return bad(format!("{name} is required"));
        }
    }
    for name in flag_two {
        if field(content, name).and_then(Value::as_u64) != Some(2) {
            return bad(format!("{name} must be 2"));
        }
    }
    Ok(())
}

fn check_image(content: &Map<String, Value>, at: &str) -> Verdict<()> {
    let bad = |msg: &str| Err(Reject::new(codes::MSG_BODY_FORMAT, format!("{at}: {msg}")));
    let Some(infos) = field(content, "ImageInfoArray").and_then(Value::as_array) else {
        return bad("ImageInfoArray must be an array");
    };
    if infos.is_empty() {
        return bad("ImageInfoArray must not be empty");
    }
    for (j, info) in infos.iter().enumerate() {
        let Some(info) = info.as_object() else {
            return bad("ImageInfoArray items must be objects");
        };
        use Kind::{Num, Str};
        check_fields(
            info,
            &[
                ("Type", Num),
                ("Size", Num),
                ("Width", Num),
                ("Height", Num),
                ("URL", Str),
            ],
            &["URL", "Width", "Height"],
            &[],
            &format!("{at}.ImageInfoArray[{j}]"),
        )?;
    }
    Ok(())
}

/// `MsgBody`: an array (90007) of valid elements (90002), at most one `TIMCustomElem`.
///
/// Absent is allowed only when `absent_ok` (the Push-plugin variant carrying `OfflinePushInfo`).
///
/// # Errors
/// The first bad element.
pub fn check_msg_body(m: &Map<String, Value>, absent_ok: bool) -> Verdict<()> {
    let body = match field(m, "MsgBody") {
        None if absent_ok => return Ok(()),
        None => {
            return Err(Reject::new(
                codes::MSG_BODY_NOT_ARRAY,
                "MsgBody is required",
            ));
        }
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(Reject::new(
                codes::MSG_BODY_NOT_ARRAY,
                "MsgBody is not an array",
            ));
        }
    };
    if body.is_empty() {
        return Err(Reject::new(codes::MSG_BODY_FORMAT, "MsgBody is empty"));
    }
    let mut customs = 0;
    for (i, elem) in body.iter().enumerate() {
        let at = format!("MsgBody[{i}]");
        let bad = |msg: &str| Err(Reject::new(codes::MSG_BODY_FORMAT, format!("{at}: {msg}")));
        let Some(elem) = elem.as_object() else {
            return bad("element must be an object");
        };
        let Some(msg_type) = field(elem, "MsgType").and_then(Value::as_str) else {
            return bad("MsgType must be a string");
        };
        if !MSG_TYPES.contains(&msg_type) {
            return bad(&format!("unknown MsgType {msg_type}"));
        }
        let Some(content) = field(elem, "MsgContent").and_then(Value::as_object) else {
            return bad("MsgContent must be an object");
        };
        let (typed, required, flag_two) = elem_fields(msg_type);
        check_fields(content, typed, required, flag_two, &at)?;
        if msg_type == "TIMImageElem" {
            check_image(content, &at)?;
        }
        if msg_type == "TIMCustomElem" {
            customs += 1;
            if customs > 1 {
                return bad("at most one TIMCustomElem per message");
            }
        }
    }
    Ok(())
}

fn string_list(c: &Map<String, Value>, key: &str) -> Verdict<Vec<String>> {
    match field(c, key) {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                Reject::new(
                    codes::JSON_FORMAT,
                    format!("Condition.{key} must be an array of strings"),
                )
            }),
        Some(_) => Err(Reject::new(
            codes::JSON_FORMAT,
            format!("Condition.{key} must be an array of strings"),
        )),
    }
}

fn string_map(c: &Map<String, Value>, key: &str) -> Verdict<Vec<(String, String)>> {
    match field(c, key) {
        None => Ok(Vec::new()),
        Some(Value::Object(o)) => o
            .iter()
            .map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                Reject::new(
                    codes::JSON_FORMAT,
                    format!("Condition.{key} values must be strings"),
                )
            }),
        Some(_) => Err(Reject::new(
            codes::JSON_FORMAT,
            format!("Condition.{key} must be an object"),
        )),
    }
}

/// `Condition` → a [`Selector`]: 90039, 90032, 90040, 90020, 90022, 90033, in that order.
///
/// `attr_names` are the app's attribute names. Absent or `null` means all users.
///
/// # Errors
/// The first rule broken.
pub fn check_condition(m: &Map<String, Value>, attr_names: &[String]) -> Verdict<Selector> {
    let c = match field(m, "Condition") {
        None => return Ok(Selector::default()),
        Some(Value::Object(c)) => c,
        Some(_) => {
            return Err(Reject::new(
                codes::JSON_FORMAT,
                "Condition must be an object",
            ));
        }
    };
    // An empty condition list (or an empty `Condition`) is refused, never read as "everyone":
    // the documented API is silent on it, and reaching every user by mistake is the worst
    // answer. Empty tag lists answer 90040 (an empty tag), empty attribute maps 90033.
    for key in ["TagsOr", "TagsAnd", "TagsNot"] {
        if matches!(field(c, key), Some(Value::Array(a)) if a.is_empty()) {
            return Err(Reject::new(
                codes::TAG_EMPTY,
                format!("Condition.{key} is empty; an empty condition list never means all users"),
            ));
        }
    }
    for key in ["AttrsOr", "AttrsAnd"] {
        if matches!(field(c, key), Some(Value::Object(o)) if o.is_empty()) {
            return Err(Reject::new(
                codes::INVALID_ATTRIBUTE,
                format!("Condition.{key} is empty; an empty condition never means all users"),
            ));
        }
    }
    let known = ["TagsOr", "TagsAnd", "TagsNot", "AttrsOr", "AttrsAnd"];
    if !known.iter().any(|k| field(c, k).is_some()) {
        return Err(Reject::new(
            codes::TAG_EMPTY,
            "Condition names no tag or attribute; an all-user push has no Condition",
        ));
    }
    let sel = Selector {
        tags_or: string_list(c, "TagsOr")?,
        tags_and: string_list(c, "TagsAnd")?,
        tags_not: string_list(c, "TagsNot")?,
        attrs_or: string_map(c, "AttrsOr")?,
        attrs_and: string_map(c, "AttrsAnd")?,
    };
    let lists = [
        ("TagsOr", &sel.tags_or),
        ("TagsAnd", &sel.tags_and),
        ("TagsNot", &sel.tags_not),
    ];
    let has_tags = lists.iter().any(|(_, l)| !l.is_empty());
    if has_tags && !(sel.attrs_or.is_empty() && sel.attrs_and.is_empty()) {
        return Err(Reject::new(
            codes::TAGS_AND_ATTRS_EXCLUSIVE,
            "attribute push and tag push are mutually exclusive",
        ));
    }
    for (name, list) in lists {
        if list.len() > MAX_CONDITION_TAGS {
            return Err(Reject::new(
                codes::TOO_MANY_TAGS,
                format!("{name} holds more than {MAX_CONDITION_TAGS} tags"),
            ));
        }
    }
    for (name, list) in lists {
        if list.iter().any(String::is_empty) {
            return Err(Reject::new(
                codes::TAG_EMPTY,
                format!("{name} holds an empty tag"),
            ));
        }
    }
    for (name, list) in lists {
        if list.iter().any(|t| t.len() > MAX_NAME_BYTES) {
            return Err(Reject::new(
                codes::TAG_TOO_LONG,
                format!("{name} holds a tag longer than {MAX_NAME_BYTES} bytes"),
            ));
        }
    }
    for (i, (a, la)) in lists.iter().enumerate() {
        for (b, lb) in &lists[i + 1..] {
            if let Some(t) = la.iter().find(|t| lb.contains(t)) {
                return Err(Reject::new(
                    codes::TAG_DUPLICATED,
                    format!("tag {t:?} is in both {a} and {b}"),
                ));
            }
        }
    }
    for (key, pairs) in [("AttrsOr", &sel.attrs_or), ("AttrsAnd", &sel.attrs_and)] {
        for (name, value) in pairs {
            if !attr_names.contains(name) {
                return Err(Reject::new(
                    codes::INVALID_ATTRIBUTE,
                    format!("{key}: unknown attribute name {name:?}"),
                ));
            }
            if value.is_empty() || value.len() > MAX_NAME_BYTES {
                return Err(Reject::new(
                    codes::INVALID_ATTRIBUTE,
                    format!("{key}.{name}: a value is 1 to {MAX_NAME_BYTES} bytes"),
                ));
            }
        }
    }
    Ok(sel)
}

/// `MsgLifeTime`: an integer 0..=604800 (90026).
///
/// # Errors
/// Over 7 days, negative or not an integer.
pub fn check_lifetime(m: &Map<String, Value>) -> Verdict<()> {
    match field(m, "MsgLifeTime") {
        None => Ok(()),
        Some(v) => match v.as_u64() {
            Some(n) if n <= MAX_LIFETIME_SECS => Ok(()),
            _ => Err(Reject::new(
                codes::LIFETIME_INVALID,
                "MsgLifeTime must be 0 to 604800 seconds",
            )),
        },
    }
}

/// Optional top-level fields of a push: `From_Account` a string, `OnlineOnlyFlag` 0/1,
/// `OfflinePushInfo` an object (90010), `DataId` at most 64 bytes (90057).
///
/// # Errors
/// The first wrong field.
pub fn check_push_fields(m: &Map<String, Value>) -> Verdict<()> {
    if field(m, "From_Account").is_some_and(|v| !v.is_string()) {
        return Err(Reject::new(
            codes::JSON_FORMAT,
            "From_Account must be a string",
        ));
    }
    if field(m, "OnlineOnlyFlag").is_some_and(|v| !matches!(v.as_u64(), Some(0 | 1))) {
        return Err(Reject::new(
            codes::JSON_FORMAT,
            "OnlineOnlyFlag must be 0 or 1",
        ));
    }
    if field(m, "OfflinePushInfo").is_some_and(|v| !v.is_object()) {
        return Err(Reject::new(
            codes::JSON_FORMAT,
            "OfflinePushInfo must be an object",
        ));
    }
    check_data_id(m)
}

/// `DataId`: a string of at most 64 bytes (90057).
///
/// # Errors
/// Too long or not a string.
pub fn check_data_id(m: &Map<String, Value>) -> Verdict<()> {
    match field(m, "DataId") {
        None => Ok(()),
        Some(Value::String(s)) if s.len() <= MAX_DATA_ID_BYTES => Ok(()),
        Some(_) => Err(Reject::new(
            codes::DATA_ID_TOO_LONG,
            "DataId must be a string of at most 64 bytes",
        )),
    }
}

/// The raw body size (90056).
///
/// # Errors
/// Over 10,240 bytes.
pub fn check_size(body: &[u8]) -> Verdict<()> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Reject::new(
            codes::BODY_TOO_LARGE,
            format!(
                "the push request body is {} bytes; the maximum is {MAX_BODY_BYTES}",
                body.len()
            ),
        ));
    }
    Ok(())
}

/// A JSON array of account ids (`To_Account`), 1..=`max` of them (90018 above `max`).
///
/// # Errors
/// Missing or not an array of strings (90010), empty or too many (90018).
pub fn account_list(m: &Map<String, Value>, key: &str, max: usize) -> Verdict<Vec<String>> {
    let list = match field(m, key) {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                Reject::new(
                    codes::JSON_FORMAT,
                    format!("{key} must be an array of strings"),
                )
            })?,
        _ => {
            return Err(Reject::new(
                codes::JSON_FORMAT,
                format!("{key} must be an array of strings"),
            ));
        }
    };
    if list.is_empty() || list.len() > max {
        return Err(Reject::new(
            codes::TOO_MANY_ACCOUNTS,
            format!("{key} must hold 1 to {max} accounts"),
        ));
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn code<T: std::fmt::Debug>(r: Verdict<T>) -> u32 {
        r.unwrap_err().code
    }

    #[test]
    fn query_in_any_order_and_percent_decoded() {
        let q = parse_query(Some(
            "random=5&usersig=eJy*a-b_&contenttype=json&identifier=ad%20min&sdkappid=14",
        ));
        let c = check_query(&q).unwrap();
        assert_eq!(
            (c.sdkappid, c.identifier.as_str(), c.usersig.as_str()),
            (14, "ad min", "eJy*a-b_")
        );
        assert_eq!(
            code(check_query(&parse_query(Some("identifier=a&random=1")))),
            60012
        );
        assert_eq!(
            code(check_query(&parse_query(Some(
                "sdkappid=x&identifier=a&random=1"
            )))),
            60012
        );
        assert_eq!(
            code(check_query(&parse_query(Some("sdkappid=1&random=1")))),
            60002
        );
        assert_eq!(
            code(check_query(&parse_query(Some(
                "sdkappid=1&identifier=a&random=4294967296"
            )))),
            60002
        );
        assert_eq!(
            code(check_query(&parse_query(Some(
                "sdkappid=1&identifier=a&random=1&contenttype=xml"
            )))),
            60002
        );
        assert!(check_query(&parse_query(Some("sdkappid=1&identifier=a&random=1"))).is_ok());
    }

    #[test]
    fn json_and_msg_random() {
        assert_eq!(code(parse_object(b"")), 90001);
        assert_eq!(code(parse_object(b"[1]")), 90001);
        assert_eq!(code(parse_object(b"{bad")), 90001);
        assert_eq!(
            check_msg_random(&obj(json!({"MsgRandom": 4_294_967_295_u64}))),
            Ok(u32::MAX)
        );
        for bad in [
            json!({}),
            json!({"MsgRandom": null}),
            json!({"MsgRandom": "1"}),
            json!({"MsgRandom": 1.5}),
            json!({"MsgRandom": -1}),
            json!({"MsgRandom": 4_294_967_296_u64}),
        ] {
            assert_eq!(code(check_msg_random(&obj(bad))), 90005);
        }
    }

    #[test]
    fn msg_body_rules() {
        let ok = |b: Value| check_msg_body(&obj(json!({"MsgBody": b})), false);
        assert!(ok(json!([{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}])).is_ok());
        assert_eq!(code(ok(json!({"a":1}))), 90007);
        assert_eq!(code(check_msg_body(&obj(json!({})), false)), 90007);
        assert!(check_msg_body(&obj(json!({"MsgBody": null})), true).is_ok());
        assert_eq!(code(ok(json!([]))), 90002);
        assert_eq!(
            code(ok(json!([{"MsgType":"TIMBogus","MsgContent":{}}]))),
            90002
        );
        assert_eq!(
            code(ok(json!([{"MsgType":"TIMTextElem","MsgContent":"x"}]))),
            90002
        );
        assert_eq!(
            code(ok(json!([{"MsgType":"TIMTextElem","MsgContent":{}}]))),
            90002
        );
        assert_eq!(
            code(ok(
                json!([{"MsgType":"TIMTextElem","MsgContent":{"Text":3}}])
            )),
            90002
        );
        let sound = |flag: Value| json!([{"MsgType":"TIMSoundElem","MsgContent":{"Url":"u","UUID":"i","Download_Flag":flag}}]);
        assert!(ok(sound(json!(2))).is_ok());
        assert_eq!(code(ok(sound(json!(1)))), 90002);
        let custom = json!({"MsgType":"TIMCustomElem","MsgContent":{"Data":"d"}});
        assert!(ok(json!([custom.clone()])).is_ok());
        assert_eq!(code(ok(json!([custom.clone(), custom]))), 90002);
        let image = |w: Value| {
            json!([{"MsgType":"TIMImageElem","MsgContent":{"UUID":"i","ImageFormat":3,
            "ImageInfoArray":[{"Type":1,"Size":1,"Width":w,"Height":1,"URL":"https://x"}]}}])
        };
        assert!(ok(image(json!(1))).is_ok());
        assert_eq!(code(ok(image(Value::Null))), 90002);
        let video = json!([{"MsgType":"TIMVideoFileElem","MsgContent":{"VideoUrl":"u","VideoUUID":"v","VideoDownloadFlag":2,
            "ThumbUrl":"t","ThumbUUID":"w","ThumbWidth":1,"ThumbHeight":1,"ThumbDownloadFlag":2}}]);
        assert!(ok(video).is_ok());
        assert!(ok(json!([{"MsgType":"TIMLocationElem","MsgContent":{"Desc":"d","Latitude":1.5,"Longitude":2}},
                          {"MsgType":"TIMFaceElem","MsgContent":{"Index":1,"Data":"x"}}])).is_ok());
        assert_eq!(
            code(ok(
                json!([{"MsgType":"TIMFileElem","MsgContent":{"Url":"u","UUID":"i"}}])
            )),
            90002
        );
    }

    #[test]
    fn condition_rules_in_order() {
        let names = vec!["city".to_owned()];
        let c = |v: Value| check_condition(&obj(json!({"Condition": v})), &names);
        assert_eq!(c(Value::Null).unwrap(), Selector::default());
        let null_keys =
            c(json!({"TagsOr":["a"],"TagsAnd":null,"AttrsOr":null,"AttrsAnd":null})).unwrap();
        assert_eq!(null_keys.tags_or, vec!["a".to_owned()]);
        assert_eq!(
            code(c(json!({"TagsOr":["a"],"AttrsOr":{"city":"x"}}))),
            90039
        );
        let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        assert_eq!(code(c(json!({"TagsNot": eleven, "TagsOr":[""]}))), 90032);
        assert_eq!(code(c(json!({"TagsOr":["", "x".repeat(51)]}))), 90040);
        assert_eq!(
            code(c(
                json!({"TagsAnd":["x".repeat(51)], "TagsOr":["a"], "TagsNot":["a"]})
            )),
            90020
        );
        assert!(c(json!({"TagsAnd":["x".repeat(50)]})).is_ok());
        assert_eq!(code(c(json!({"TagsOr":["a"], "TagsNot":["a"]}))), 90022);
        assert_eq!(code(c(json!({"TagsOr":[]}))), 90040, "empty list");
        assert_eq!(code(c(json!({"TagsOr":["a"], "TagsNot":[]}))), 90040);
        assert_eq!(code(c(json!({"AttrsAnd":{}}))), 90033, "empty map");
        assert_eq!(code(c(json!({}))), 90040, "empty Condition");
        assert_eq!(code(c(json!({"TagsAnd":["b"], "TagsNot":["b"]}))), 90022);
        assert_eq!(code(c(json!({"AttrsAnd":{"level":"x"}}))), 90033);
        assert_eq!(code(c(json!({"AttrsOr":{"city":""}}))), 90033);
        assert_eq!(code(c(json!("x"))), 90010);
        let ok = c(json!({"AttrsOr":{"city":"SZ"},"AttrsAnd":{"city":"BJ"}})).unwrap();
        assert_eq!(ok.attrs_and, vec![("city".to_owned(), "BJ".to_owned())]);
    }

    #[test]
    fn lifetime_size_and_fields() {
        assert!(check_lifetime(&obj(json!({"MsgLifeTime": 604_800}))).is_ok());
        assert_eq!(
            code(check_lifetime(&obj(json!({"MsgLifeTime": 604_801})))),
            90026
        );
        assert_eq!(
            code(check_lifetime(&obj(json!({"MsgLifeTime": -1})))),
            90026
        );
        assert!(check_size(&[b' '; MAX_BODY_BYTES]).is_ok());
        assert_eq!(code(check_size(&[b' '; MAX_BODY_BYTES + 1])), 90056);
        assert_eq!(
            code(check_push_fields(&obj(json!({"DataId": "x".repeat(65)})))),
            90057
        );
        assert_eq!(
            code(check_push_fields(&obj(json!({"OnlineOnlyFlag": 2})))),
            90010
        );
        assert!(
            check_push_fields(&obj(
                json!({"OnlineOnlyFlag": 1, "From_Account": "a", "DataId": null})
            ))
            .is_ok()
        );
        assert_eq!(
            account_list(&obj(json!({"To_Account": ["a"]})), "To_Account", 2).unwrap(),
            vec!["a"]
        );
        assert_eq!(
            code(account_list(
                &obj(json!({"To_Account": ["a", "b", "c"]})),
                "To_Account",
                2
            )),
            90018
        );
        assert_eq!(
            code(account_list(
                &obj(json!({"To_Account": [1]})),
                "To_Account",
                2
            )),
            90010
        );
    }
}
