//! The attribute and tag APIs (current `timpush/*` and legacy `all_member_push/im_*`), with their
//! limits: 100 users per call, 10 attribute names, 50-byte names, values and tags, 10 tags per
//! user per call (100 with `Replace`), 100 tags per user, 1,000 tags per app, 100 calls/s.

use super::checks::{self, MAX_NAME_BYTES, Reject, Verdict};
use super::ctx::Ctx;
use crate::api::wire::{Api, Envelope, ErrorListItem, codes};
use serde_json::{Map, Value, json};
use std::collections::HashSet;

pub const MAX_USERS_PER_CALL: usize = 100;
pub const ATTR_SLOTS: usize = 10;
pub const MAX_TAGS_PER_CALL: usize = 10;
pub const MAX_TAGS_PER_USER: usize = 100;
pub const MAX_TAGS_PER_APP: usize = 1000;
pub const CALLS_PER_SECOND: usize = 100;

/// The `ErrorList` entry for an account that does not exist (70107).
#[must_use]
pub fn account_error(id: &str) -> ErrorListItem {
    ErrorListItem {
        to_account: id.to_owned(),
        error_code: codes::ACCOUNT_NOT_FOUND,
        error_info: "account does not exist".to_owned(),
    }
}

/// The attribute and tag APIs: the calls this module answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrApi {
    SetAttrName,
    GetAttrName,
    SetAttr,
    GetAttr,
    RemoveAttr,
    AddTag,
    GetTag,
    RemoveTag,
    ClearAllTags,
}

impl AttrApi {
    /// The API this call is, for its rate-limit key (its path).
    const fn api(self) -> Api {
        match self {
            Self::SetAttrName => Api::SetAttrName,
            Self::GetAttrName => Api::GetAttrName,
            Self::SetAttr => Api::SetAttr,
            Self::GetAttr => Api::GetAttr,
            Self::RemoveAttr => Api::RemoveAttr,
            Self::AddTag => Api::AddTag,
            Self::GetTag => Api::GetTag,
            Self::RemoveTag => Api::RemoveTag,
            Self::ClearAllTags => Api::ClearAllTags,
        }
    }
}

/// Handles one attribute or tag call.
///
/// # Errors
/// The first check that fails.
pub fn handle(ctx: &mut Ctx<'_>, api: AttrApi, body: &[u8]) -> Verdict<Envelope> {
    ctx.rate(
        api.api().path(),
        CALLS_PER_SECOND,
        codes::REST_FREQUENCY_LIMIT,
    )?;
    let m = checks::parse_object(body)?;
    match api {
        AttrApi::SetAttrName => set_attr_name(ctx, &m),
        AttrApi::GetAttrName => Ok(get_attr_name(ctx)),
        AttrApi::SetAttr => set_attr(ctx, &m),
        AttrApi::GetAttr => get_users(ctx, &m, "UserAttrs", "Attrs", |ctx, u| {
            let attrs: Map<String, Value> = ctx
                .app
                .users
                .attrs_of(u)
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.into()))
                .collect();
            Value::Object(attrs)
        }),
        AttrApi::RemoveAttr => remove_attr(ctx, &m),
        AttrApi::AddTag => add_tag(ctx, &m),
        AttrApi::GetTag => get_users(ctx, &m, "UserTags", "Tags", |ctx, u| {
            json!(ctx.app.users.tags_of(u))
        }),
        AttrApi::RemoveTag => remove_tag(ctx, &m),
        AttrApi::ClearAllTags => clear_all_tags(ctx, &m),
    }
}

/// Adds a non-empty `ErrorList`.
#[must_use]
pub fn with_errors(env: Envelope, errors: Vec<ErrorListItem>) -> Envelope {
    if errors.is_empty() {
        env
    } else {
        env.with(
            "ErrorList",
            serde_json::to_value(errors).unwrap_or_default(),
        )
    }
}

fn set_attr_name(ctx: &mut Ctx<'_>, m: &Map<String, Value>) -> Verdict<Envelope> {
    let Some(names) = checks::field(m, "AttrNames").and_then(Value::as_object) else {
        return Err(Reject::new(
            codes::JSON_FORMAT,
            "AttrNames must be an object",
        ));
    };
    let mut next = ctx.app.attr_names.clone();
    let mut slots = Vec::new();
    for (k, v) in names {
        let slot = k
            .parse::<usize>()
            .ok()
            .filter(|i| *i < ATTR_SLOTS)
            .ok_or_else(|| {
                Reject::new(
                    codes::INVALID_ATTRIBUTE,
                    format!("attribute index {k} is not 0 to 9"),
                )
            })?;
        let name = v
            .as_str()
            .filter(|n| !n.is_empty() && n.len() <= MAX_NAME_BYTES)
            .ok_or_else(|| {
                Reject::new(
                    codes::INVALID_ATTRIBUTE,
                    format!("attrName at index {k} must be 1 to 50 bytes"),
                )
            })?;
        next[slot] = Some(name.to_owned());
        slots.push(slot);
    }
    for i in slots {
        let name = next[i].as_deref();
        if let Some(j) = (0..ATTR_SLOTS).find(|j| *j != i && next[*j].as_deref() == name) {
            let name = name.unwrap_or_default();
            return Err(Reject::new(
                codes::INVALID_ATTRIBUTE,
                format!("attrName:{name} already exists at index:{j}"),
            ));
        }
    }
    ctx.app.attr_names = next;
    Ok(Envelope::ok())
}

fn get_attr_name(ctx: &Ctx<'_>) -> Envelope {
    let names: Map<String, Value> = ctx
        .app
        .attr_names
        .iter()
        .enumerate()
        .filter_map(|(i, n)| n.as_ref().map(|n| (i.to_string(), Value::from(n.as_str()))))
        .collect();
    let types: Map<String, Value> = names.keys().map(|k| (k.clone(), Value::from(0))).collect();
    let env = Envelope::ok().with("AttrNames", names);
    if ctx.legacy {
        env
    } else {
        env.with("AttrTypes", types)
    }
}

/// `[{To_Account, <key>}]` items, at most 100 (90018).
fn user_items<'a>(m: &'a Map<String, Value>, key: &str) -> Verdict<Vec<(String, &'a Value)>> {
    let Some(items) = checks::field(m, key).and_then(Value::as_array) else {
        return Err(Reject::new(
            codes::JSON_FORMAT,
            format!("{key} must be an array"),
        ));
    };
    if items.len() > MAX_USERS_PER_CALL {
        return Err(Reject::new(
            codes::TOO_MANY_ACCOUNTS,
            format!("{key} holds more than {MAX_USERS_PER_CALL} users"),
        ));
    }
    items
        .iter()
        .map(|it| {
            let account = it.get("To_Account").and_then(Value::as_str);
            let value = it
                .as_object()
                .and_then(|o| checks::field(o, if key == "UserAttrs" { "Attrs" } else { "Tags" }));
            match (account, value) {
                (Some(a), Some(v)) => Ok((a.to_owned(), v)),
                _ => Err(Reject::new(
                    codes::JSON_FORMAT,
                    format!("each {key} item needs To_Account and its values"),
                )),
            }
        })
        .collect()
}

fn check_value(v: &str, what: &str) -> Verdict<()> {
    if v.is_empty() || v.len() > MAX_NAME_BYTES {
        return Err(Reject::new(
            codes::INVALID_ATTRIBUTE,
            format!("{what} must be 1 to {MAX_NAME_BYTES} bytes"),
        ));
    }
    Ok(())
}

fn set_attr(ctx: &mut Ctx<'_>, m: &Map<String, Value>) -> Verdict<Envelope> {
    let names = ctx.app.attr_name_list();
    let mut updates = Vec::new();
    for (account, attrs) in user_items(m, "UserAttrs")? {
        let Some(attrs) = attrs.as_object() else {
            return Err(Reject::new(codes::JSON_FORMAT, "Attrs must be an object"));
        };
        let mut pairs = Vec::new();
        for (name, value) in attrs {
            if !names.contains(name) {
                return Err(Reject::new(
                    codes::INVALID_ATTRIBUTE,
                    format!("unknown attribute name {name:?}"),
                ));
            }
            let value = value
                .as_str()
                .ok_or_else(|| Reject::new(codes::JSON_FORMAT, "attribute values are strings"))?;
            check_value(value, "an attribute value")?;
            pairs.push((name.clone(), value.to_owned()));
        }
        updates.push((account, pairs));
    }
    for (account, pairs) in updates {
        let u = ctx.app.users.get_or_create(&account);
        for (name, value) in pairs {
            ctx.app.users.set_attr(u, &name, &value);
        }
    }
    Ok(Envelope::ok())
}

fn get_users(
    ctx: &mut Ctx<'_>,
    m: &Map<String, Value>,
    list_key: &str,
    value_key: &str,
    value: impl Fn(&Ctx<'_>, u32) -> Value,
) -> Verdict<Envelope> {
    let accounts = checks::account_list(m, "To_Account", MAX_USERS_PER_CALL)?;
    let mut items = Vec::new();
    let mut errors = Vec::new();
    for a in accounts {
        match ctx.app.users.lookup(&a) {
            Some(u) => items.push(json!({"To_Account": a, value_key: value(ctx, u)})),
            None if ctx.legacy => items.push(json!({"To_Account": a, value_key: if value_key == "Tags" { json!([]) } else { json!({}) }})),
            None => errors.push(account_error(&a)),
        }
    }
    Ok(with_errors(Envelope::ok().with(list_key, items), errors))
}

fn string_array(v: &Value, what: &str) -> Verdict<Vec<String>> {
    v.as_array()
        .and_then(|a| {
            a.iter()
                .map(|x| x.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| {
            Reject::new(
                codes::JSON_FORMAT,
                format!("{what} must be an array of strings"),
            )
        })
}

fn remove_attr(ctx: &mut Ctx<'_>, m: &Map<String, Value>) -> Verdict<Envelope> {
    let names = ctx.app.attr_name_list();
    let mut removals = Vec::new();
    for (account, attrs) in user_items(m, "UserAttrs")? {
        let attrs = string_array(attrs, "Attrs")?;
        if let Some(bad) = attrs.iter().find(|a| !names.contains(a)) {
            return Err(Reject::new(
                codes::INVALID_ATTRIBUTE,
                format!("unknown attribute name {bad:?}"),
            ));
        }
        removals.push((account, attrs));
    }
    let mut errors = Vec::new();
    for (account, attrs) in removals {
        match ctx.app.users.lookup(&account) {
            Some(u) => attrs.iter().for_each(|a| ctx.app.users.remove_attr(u, a)),
            None => errors.push(account_error(&account)),
        }
    }
    Ok(with_errors(Envelope::ok(), errors))
}

fn check_tags(tags: &[String], max: usize) -> Verdict<()> {
    if tags.len() > max {
        return Err(Reject::new(
            codes::TOO_MANY_TAGS,
            format!("more than {max} tags for one user in one call"),
        ));
    }
    if tags.iter().any(String::is_empty) {
        return Err(Reject::new(codes::TAG_EMPTY, "a tag is empty"));
    }
    if tags.iter().any(|t| t.len() > MAX_NAME_BYTES) {
        return Err(Reject::new(
            codes::TAG_TOO_LONG,
            format!("a tag is longer than {MAX_NAME_BYTES} bytes"),
        ));
    }
    Ok(())
}

fn add_tag(ctx: &mut Ctx<'_>, m: &Map<String, Value>) -> Verdict<Envelope> {
    let replace = !ctx.legacy && checks::field(m, "Replace").and_then(Value::as_u64) == Some(1);
    let per_call = if replace {
        MAX_TAGS_PER_USER
    } else {
        MAX_TAGS_PER_CALL
    };
    let mut adds = Vec::new();
    let mut new_tags: HashSet<String> = HashSet::new();
    for (account, tags) in user_items(m, "UserTags")? {
        let tags = string_array(tags, "Tags")?;
        check_tags(&tags, per_call)?;
        let mut total: HashSet<&str> = tags.iter().map(String::as_str).collect();
        if !replace && let Some(u) = ctx.app.users.lookup(&account) {
            total.extend(ctx.app.users.tags_of(u));
        }
        if total.len() > MAX_TAGS_PER_USER {
            return Err(Reject::new(
                codes::TOO_MANY_TAGS,
                format!("{account} would have more than {MAX_TAGS_PER_USER} tags"),
            ));
        }
        new_tags.extend(
            tags.iter()
                .filter(|t| !ctx.app.users.tag_is_live(t))
                .cloned(),
        );
        adds.push((account, tags));
    }
    if ctx.app.users.live_tag_count() + new_tags.len() > MAX_TAGS_PER_APP {
        return Err(Reject::new(
            codes::TOO_MANY_TAGS,
            format!("the app would have more than {MAX_TAGS_PER_APP} tags"),
        ));
    }
    for (account, tags) in adds {
        let u = ctx.app.users.get_or_create(&account);
        if replace {
            ctx.app.users.clear_tags(u);
        }
        ctx.app.users.add_tags(u, &tags);
    }
    Ok(Envelope::ok())
}

fn remove_tag(ctx: &mut Ctx<'_>, m: &Map<String, Value>) -> Verdict<Envelope> {
    let mut removals = Vec::new();
    for (account, tags) in user_items(m, "UserTags")? {
        let tags = string_array(tags, "Tags")?;
        check_tags(&tags, MAX_TAGS_PER_USER)?;
        removals.push((account, tags));
    }
    let mut errors = Vec::new();
    for (account, tags) in removals {
        match ctx.app.users.lookup(&account) {
            Some(u) => ctx.app.users.remove_tags(u, &tags),
            None => errors.push(account_error(&account)),
        }
    }
    Ok(with_errors(Envelope::ok(), errors))
}

fn clear_all_tags(ctx: &mut Ctx<'_>, m: &Map<String, Value>) -> Verdict<Envelope> {
    let accounts = checks::account_list(m, "To_Account", MAX_USERS_PER_CALL)?;
    let mut errors = Vec::new();
    for a in accounts {
        match ctx.app.users.lookup(&a) {
            Some(u) => ctx.app.users.clear_tags(u),
            None => errors.push(account_error(&a)),
        }
    }
    Ok(with_errors(Envelope::ok(), errors))
}
