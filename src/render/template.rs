//! The template engine: minijinja over every string of `message`, with strict undefined, fuel,
//! and bounds on template size and expression depth. A rendered value is always a JSON string,
//! so a template can never change the request's structure.

use crate::spec::yaml::{Seg, pointer_of};
use chrono::{DateTime, Datelike, SecondsFormat};
use chrono_tz::Tz;
use indexmap::IndexMap;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::Value;
use std::collections::BTreeSet;

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

pub(super) fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// Whether a template string may read the occurrence (its time, date or weekday): the one rule
/// for which templates render differently from one occurrence to the next.
pub(super) fn reads_occurrence(s: &str) -> bool {
    is_template(s) && s.contains("occurrence")
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

    /// What the template context of a campaign's occurrences shares: its vars (converted once,
    /// by [`Prepared`]), then `campaign` and `app`.
    fn base_value(ctx: &Context, vars: &[(String, minijinja::Value)]) -> minijinja::Value {
        let name = |n: &str| minijinja::Value::from_pairs([("name", minijinja::Value::from(n))]);
        minijinja::Value::from_pairs(
            vars.iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .chain([("campaign", name(&ctx.campaign)), ("app", name(&ctx.app))]),
        )
    }

    /// `occurrence` of one occurrence's template context.
    fn occurrence_value(ctx: &Context) -> minijinja::Value {
        let occurrence = minijinja::Value::from_pairs([
            (
                "time",
                minijinja::Value::from(ctx.local.to_rfc3339_opts(SecondsFormat::Secs, false)),
            ),
            (
                "date",
                // `%Y-%m-%d` (a date's ISO 8601 form), without parsing a format string.
                minijinja::Value::from(ctx.local.date_naive().to_string()),
            ),
            (
                "weekday",
                minijinja::Value::from(weekday_name(ctx.local.weekday())),
            ),
        ]);
        minijinja::Value::from_pairs([("occurrence", occurrence)])
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
        self.prepare_with(message, vars, check_names).render(ctx)
    }

    /// Compiles every template string of `message` once and checks its names, to render many
    /// occurrences of the same campaign; errors show when it renders.
    #[must_use]
    pub fn prepare<'r, 's>(
        &'r self,
        message: &'s Value,
        vars: &'s IndexMap<String, Value>,
    ) -> Prepared<'r, 's> {
        self.prepare_with(message, vars, true)
    }

    /// Compiles every template string of `message` once (names already checked by validation),
    /// to render many occurrences of the same campaign.
    #[must_use]
    pub fn prepare_checked<'r, 's>(
        &'r self,
        message: &'s Value,
        vars: &'s IndexMap<String, Value>,
    ) -> Prepared<'r, 's> {
        self.prepare_with(message, vars, false)
    }

    fn prepare_with<'r, 's>(
        &'r self,
        message: &'s Value,
        vars: &'s IndexMap<String, Value>,
        check_names: bool,
    ) -> Prepared<'r, 's> {
        let mut templates = Vec::new();
        visit_templates(message, &mut Vec::new(), &mut |s, _| {
            // One compilation per string: names are checked on it, then it renders.
            let compiled = check_complexity(s)
                .and_then(|()| {
                    self.env
                        .template_from_str(s)
                        .map_err(|e| template_error(&e))
                })
                .and_then(|tmpl| {
                    if check_names {
                        self.check_names(&tmpl, vars)?;
                    }
                    Ok(tmpl)
                });
            templates.push(compiled);
        });
        let vars = if templates.is_empty() {
            Vec::new()
        } else {
            vars.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        minijinja::Value::from(minijinja::value::Serde(v)),
                    )
                })
                .collect()
        };
        Prepared {
            message,
            vars,
            templates,
            base: std::sync::OnceLock::new(),
        }
    }
}

/// Whether the string at `path` (relative to `message`) is not a template.
fn not_template(path: &[Seg<'_>]) -> bool {
    // Every entry of NOT_TEMPLATES is one plain key below `message`.
    matches!(path, [Seg::Key(k)] if NOT_TEMPLATES.iter().any(|t| t.strip_prefix('/') == Some(*k)))
}

/// Calls `f` on every template string of `message`, in document order.
fn visit_templates<'v>(
    v: &'v Value,
    path: &mut Vec<Seg<'v>>,
    f: &mut dyn FnMut(&'v str, &[Seg<'v>]),
) {
    match v {
        Value::String(s) if is_template(s) && !not_template(path) => f(s, path),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                visit_templates(item, path, f);
                path.pop();
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                path.push(Seg::Key(k));
                visit_templates(item, path, f);
                path.pop();
            }
        }
        _ => {}
    }
}

/// A campaign's message with its templates compiled once: renders any occurrence.
pub struct Prepared<'r, 's> {
    message: &'s Value,
    /// The campaign's vars as template values, converted once.
    vars: Vec<(String, minijinja::Value)>,
    /// Every template string of `message` in document order: compiled, or why it cannot be.
    templates: Vec<Result<minijinja::Template<'r, 's>, String>>,
    /// The context the occurrences share (vars, `campaign`, `app`), built on first use, with the
    /// campaign and app names it was built for.
    base: std::sync::OnceLock<(String, String, minijinja::Value)>,
}

impl Prepared<'_, '_> {
    /// The template context of one occurrence: the shared part built once, merged with its
    /// `occurrence` (no name is in both: vars may not be named `campaign`, `app`, `occurrence`).
    fn context(&self, ctx: &Context) -> minijinja::Value {
        let (campaign, app, base) = self.base.get_or_init(|| {
            (
                ctx.campaign.clone(),
                ctx.app.clone(),
                Renderer::base_value(ctx, &self.vars),
            )
        });
        let base = if *campaign == ctx.campaign && *app == ctx.app {
            base.clone()
        } else {
            Renderer::base_value(ctx, &self.vars)
        };
        minijinja::value::merge_maps([Renderer::occurrence_value(ctx), base])
    }

    /// What decides the size of the request body rendered for one occurrence, or `None` when
    /// a template fails. Two occurrences with the same shape render bodies of the same length:
    /// a rendered string only ever lands in the body as JSON text, and its escaped length, at
    /// any depth of JSON inside JSON (an `ext` mapping is a JSON string in the body), depends
    /// on nothing but its length in bytes and the bytes JSON escapes in it (quotes,
    /// backslashes, control characters). Cheaper than rendering the body: only the templates
    /// render.
    #[must_use]
    pub fn size_shape(&self, ctx: &Context) -> Option<Vec<u32>> {
        let context = self.context(ctx);
        let mut shape = Vec::with_capacity(self.templates.len() * 2);
        for compiled in &self.templates {
            let template = compiled.as_ref().ok()?;
            // The rest render the same for every occurrence.
            if !reads_occurrence(template.source()) {
                continue;
            }
            let text = template.render(context.clone()).ok()?;
            let escaped = text
                .bytes()
                .filter(|b| *b < 0x20 || matches!(b, b'"' | b'\\'));
            // Length, count, then the bytes: no two different lists read the same.
            shape.push(u32::try_from(text.len()).unwrap_or(u32::MAX));
            let at = shape.len();
            shape.push(0);
            shape.extend(escaped.map(u32::from));
            shape[at] = u32::try_from(shape.len() - at - 1).unwrap_or(u32::MAX);
        }
        Some(shape)
    }

    /// Renders every template string of the message for one occurrence.
    ///
    /// # Errors
    /// Every template that fails, by pointer (relative to the campaign document).
    pub fn render(&self, ctx: &Context) -> Result<Value, Vec<RenderError>> {
        // A message without templates renders as it is: no context to build.
        let context = if self.templates.is_empty() {
            minijinja::Value::UNDEFINED
        } else {
            self.context(ctx)
        };
        let mut errors = Vec::new();
        let mut next = 0;
        let out = self.walk(
            self.message,
            &mut Vec::new(),
            &mut next,
            &context,
            &mut errors,
        );
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    fn walk<'v>(
        &self,
        v: &'v Value,
        path: &mut Vec<Seg<'v>>,
        next: &mut usize,
        ctx: &minijinja::Value,
        errors: &mut Vec<RenderError>,
    ) -> Value {
        match v {
            Value::String(s) if is_template(s) && !not_template(path) => {
                let compiled = &self.templates[*next];
                *next += 1;
                let result = compiled
                    .as_ref()
                    .map_err(Clone::clone)
                    .and_then(|tmpl| tmpl.render(ctx.clone()).map_err(|e| template_error(&e)));
                match result {
                    Ok(rendered) => Value::String(rendered),
                    Err(message) => {
                        errors.push(RenderError {
                            pointer: format!("/message{}", pointer_of(path)),
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
                        path.push(Seg::Index(i));
                        let out = self.walk(item, path, next, ctx, errors);
                        path.pop();
                        out
                    })
                    .collect(),
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, item)| {
                        path.push(Seg::Key(k));
                        let out = self.walk(item, path, next, ctx, errors);
                        path.pop();
                        (k.clone(), out)
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
