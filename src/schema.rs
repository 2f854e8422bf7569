//! The JSON Schemas of campaign files and `crier.yaml`: embedded, compiled once, and their errors
//! mapped back to the YAML node they are about.

use crate::diag::Pos;
use crate::spec::yaml::Document;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use serde_json::Value;
use std::sync::LazyLock;

/// `schema/campaign.schema.json`, as compiled into the binary.
pub const CAMPAIGN_SCHEMA: &str = include_str!("../schema/campaign.schema.json");
/// `schema/crier.schema.json`, as compiled into the binary.
pub const CONFIG_SCHEMA: &str = include_str!("../schema/crier.schema.json");

/// The pattern every duration in the schemas uses.
pub const DURATION_PATTERN: &str = "^([0-9]+(ms|s|m|h|d))+$";

/// Which file kind a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Campaign,
    Config,
}

struct Compiled {
    schema: Value,
    validator: Validator,
}

fn compile(text: &str) -> Compiled {
    let schema: Value = serde_json::from_str(text).expect("the embedded schema is valid JSON");
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the embedded schema compiles");
    Compiled { schema, validator }
}

static CAMPAIGN: LazyLock<Compiled> = LazyLock::new(|| compile(CAMPAIGN_SCHEMA));
static CONFIG: LazyLock<Compiled> = LazyLock::new(|| compile(CONFIG_SCHEMA));

fn compiled(kind: Kind) -> &'static Compiled {
    match kind {
        Kind::Campaign => &CAMPAIGN,
        Kind::Config => &CONFIG,
    }
}

/// Compiles a schema now (it is compiled on first use anyway): a command that is about to check
/// many files starts this on another thread while it reads `crier.yaml` and lists the files.
pub fn warm(kind: Kind) {
    let _ = compiled(kind);
}

/// One schema violation, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    pub pointer: String,
    pub pos: Pos,
    pub message: String,
}

/// Validates a parsed document; errors are sorted by position.
#[must_use]
pub fn check(kind: Kind, doc: &Document) -> Vec<SchemaError> {
    let c = compiled(kind);
    if c.validator.is_valid(&doc.value) {
        return Vec::new();
    }
    let mut out: Vec<SchemaError> = c
        .validator
        .iter_errors(&doc.value)
        .flat_map(|e| describe(&c.schema, doc, &e))
        .collect();
    out.sort_by(|a, b| (a.pos, &a.message).cmp(&(b.pos, &b.message)));
    out.dedup();
    out
}

/// `/message/body/0/text` → `message.body[0].text`; the root is `(top level)`.
#[must_use]
pub fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    if out.is_empty() {
        "(top level)".to_owned()
    } else {
        out
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn expected(kind: &TypeKind) -> String {
    let name = |t: &jsonschema::JsonType| match t.to_string().as_str() {
        "object" => "a mapping".to_owned(),
        "array" => "a list".to_owned(),
        "integer" => "an integer".to_owned(),
        "boolean" => "true or false".to_owned(),
        other => format!("a {other}"),
    };
    match kind {
        TypeKind::Single(t) => name(t),
        TypeKind::Multiple(set) => set
            .iter()
            .map(|t| name(&t))
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

/// The `properties` keys of the schema object that owns the keyword at `schema_path`.
fn known_keys(schema: &Value, schema_path: &str) -> Vec<String> {
    let parent = schema_path.rsplit_once('/').map_or("", |(p, _)| p);
    schema
        .pointer(parent)
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .map(|props| props.keys().cloned().collect())
        .unwrap_or_default()
}

fn one_of_message(pointer: &str) -> String {
    match pointer {
        "/schedule" => {
            "schedule needs exactly one of `at` (a one-off) and `cron` (recurring)".to_owned()
        }
        p if p.starts_with("/apps/") => {
            format!("{} needs exactly one of `region` and `endpoint`", dotted(p))
        }
        p => format!("{} does not match any allowed form", dotted(p)),
    }
}

fn exactly_one_message(
    pointer: &str,
    instance: &Value,
    schema: &Value,
    schema_path: &str,
) -> String {
    if pointer == "/audience" && instance.get("tags").is_some() && instance.get("attrs").is_some() {
        return "audience cannot combine `tags` and `attrs`: the API pushes by tag or by attribute, never both (90039)"
            .to_owned();
    }
    let keys = known_keys(schema, schema_path);
    if keys.is_empty() {
        // A map of names (apps, vars…): no fixed keys to choose from.
        return format!("{} needs at least one entry", dotted(pointer));
    }
    let list = keys
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if pointer.starts_with("/message/body/") {
        format!("{} needs exactly one element kind: {list}", dotted(pointer))
    } else {
        format!("{} needs exactly one of {list}", dotted(pointer))
    }
}

fn describe(schema: &Value, doc: &Document, e: &ValidationError<'_>) -> Vec<SchemaError> {
    let pointer = e.instance_path().as_str().to_owned();
    let schema_path = e.schema_path().as_str().to_owned();
    let at = |message: String| SchemaError {
        pos: doc.positions.node(&pointer),
        pointer: pointer.clone(),
        message,
    };
    let instance = doc.value.pointer(&pointer).unwrap_or(&Value::Null);
    match e.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let known = known_keys(schema, &schema_path);
            unexpected
                .iter()
                .map(|key| {
                    let child = format!(
                        "{pointer}/{}",
                        crate::spec::yaml::escape_pointer_segment(key)
                    );
                    let mut message = format!("unknown key `{key}` in {}", dotted(&pointer));
                    if let Some(close) = closest(key, &known) {
                        message.push_str(&format!(" (did you mean `{close}`?)"));
                    } else if !known.is_empty() {
                        message.push_str(&format!(" (expected one of: {})", known.join(", ")));
                    }
                    SchemaError {
                        pos: doc.positions.key(&child),
                        pointer: child,
                        message,
                    }
                })
                .collect()
        }
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_owned);
            vec![at(format!(
                "missing required key `{name}` in {}",
                dotted(&pointer)
            ))]
        }
        ValidationErrorKind::Type { kind } => {
            vec![at(format!(
                "{}: expected {}, found {}",
                dotted(&pointer),
                expected(kind),
                type_name(instance)
            ))]
        }
        ValidationErrorKind::Constant { expected_value } => {
            vec![at(format!("{} must be {expected_value}", dotted(&pointer)))]
        }
        ValidationErrorKind::Enum { options } => {
            let list = options
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            vec![at(format!("{} must be one of: {list}", dotted(&pointer)))]
        }
        ValidationErrorKind::Pattern { pattern } => {
            vec![at(pattern_message(&pointer, instance, pattern))]
        }
        ValidationErrorKind::OneOfNotValid { .. }
        | ValidationErrorKind::OneOfMultipleValid { .. } => {
            vec![at(one_of_message(&pointer))]
        }
        ValidationErrorKind::MinProperties { .. } if pointer.starts_with("/audience/attrs/") => {
            vec![at(format!(
                "{} is empty: {}",
                dotted(&pointer),
                crate::spec::campaign::EMPTY_ATTR_MAP
            ))]
        }
        ValidationErrorKind::MinProperties { .. }
            if pointer == "/audience/tags" || pointer == "/audience/attrs" =>
        {
            let keys = known_keys(schema, &schema_path)
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ");
            vec![at(format!(
                "{} needs at least one of {keys}",
                dotted(&pointer)
            ))]
        }
        ValidationErrorKind::MinItems { .. } if pointer.starts_with("/audience/tags/") => {
            vec![at(format!(
                "{} is empty: {}",
                dotted(&pointer),
                crate::spec::campaign::EMPTY_TAG_LIST
            ))]
        }
        ValidationErrorKind::MinProperties { .. } | ValidationErrorKind::MaxProperties { .. } => {
            vec![at(exactly_one_message(
                &pointer,
                instance,
                schema,
                &schema_path,
            ))]
        }
        ValidationErrorKind::MinItems { limit } => {
            vec![at(format!(
                "{} needs at least {limit} item{}",
                dotted(&pointer),
                if *limit == 1 { "" } else { "s" }
            ))]
        }
        ValidationErrorKind::MaxItems { limit } => vec![at(format!(
            "{} holds at most {limit} items",
            dotted(&pointer)
        ))],
        ValidationErrorKind::UniqueItems => {
            vec![at(format!("{} has the same item twice", dotted(&pointer)))]
        }
        ValidationErrorKind::Minimum { limit } => {
            vec![at(format!("{} must be at least {limit}", dotted(&pointer)))]
        }
        ValidationErrorKind::Maximum { limit } => {
            vec![at(format!("{} must be at most {limit}", dotted(&pointer)))]
        }
        ValidationErrorKind::Format { format } if format == "date" => {
            vec![at(format!(
                "{}: {} is not a date (YYYY-MM-DD)",
                dotted(&pointer),
                instance
            ))]
        }
        ValidationErrorKind::MinLength { .. } => {
            vec![at(format!("{} must not be empty", dotted(&pointer)))]
        }
        ValidationErrorKind::AnyOf { .. } if pointer.ends_with("/ext") => {
            vec![at(format!(
                "{}: expected a string or a mapping, found {}",
                dotted(&pointer),
                type_name(instance)
            ))]
        }
        _ => vec![at(format!("{}: {e}", dotted(&pointer)))],
    }
}

fn pattern_message(pointer: &str, instance: &Value, pattern: &str) -> String {
    let shown = instance
        .as_str()
        .map_or_else(|| instance.to_string(), |s| format!("`{s}`"));
    if pattern == DURATION_PATTERN {
        return format!(
            "{}: {shown} is not a duration (use ms, s, m, h, d: e.g. 1100ms, 15m, 1h30m, 7d)",
            dotted(pointer)
        );
    }
    match pointer {
        "/name" | "/project" => format!(
            "{}: {shown} must be 1 to 63 lowercase letters, digits and dashes, starting with a letter or digit",
            dotted(pointer)
        ),
        "/schedule/start" | "/schedule/end" => {
            format!("{}: {shown} is not a date (YYYY-MM-DD)", dotted(pointer))
        }
        p if p.ends_with("/secret_key_env") || p.ends_with("/postgres_url_env") => {
            format!(
                "{}: {shown} is not an environment variable name",
                dotted(pointer)
            )
        }
        p if p.ends_with("/endpoint") => format!(
            "{}: {shown} is not an http:// or https:// base URL",
            dotted(pointer)
        ),
        _ => format!(
            "{}: {shown} does not match the pattern {pattern}",
            dotted(pointer)
        ),
    }
}

/// The known key closest to `key` (by edit distance), if it is close enough to be a typo.
#[must_use]
pub fn closest<'a>(key: &str, known: &'a [String]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::levenshtein(key, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::yaml::parse;

    fn errors(kind: Kind, text: &str) -> Vec<String> {
        let doc = parse(text).unwrap();
        check(kind, &doc)
            .into_iter()
            .map(|e| format!("{}:{}: {}", e.pos.line, e.pos.col, e.message))
            .collect()
    }

    const OK: &str = "version: 1\nname: a\naudience: {all: true}\nschedule: {at: \"2026-12-01T10:00:00\"}\nmessage:\n  body:\n    - text: hi\n";

    #[test]
    fn schemas_compile_and_accept_a_minimal_campaign() {
        assert_eq!(errors(Kind::Campaign, OK), Vec::<String>::new());
    }

    #[test]
    fn unknown_keys_point_at_the_key_with_a_suggestion() {
        let text = OK.replace("message:\n", "mesage: 1\nmessage:\n");
        assert_eq!(
            errors(Kind::Campaign, &text),
            ["5:1: unknown key `mesage` in (top level) (did you mean `message`?)"]
        );
    }

    #[test]
    fn missing_keys_types_and_patterns() {
        let text = "version: 2\nname: Bad_Name\naudience: {}\nschedule: {grace: 5x}\nmessage: {body: []}\n";
        assert_eq!(
            errors(Kind::Campaign, text),
            [
                "1:10: version must be 1",
                "2:7: name: `Bad_Name` must be 1 to 63 lowercase letters, digits and dashes, starting with a letter or digit",
                "3:11: audience needs exactly one of `all`, `tags`, `attrs`",
                "4:11: schedule needs exactly one of `at` (a one-off) and `cron` (recurring)",
                "4:19: schedule.grace: `5x` is not a duration (use ms, s, m, h, d: e.g. 1100ms, 15m, 1h30m, 7d)",
                "5:17: message.body needs at least 1 item",
            ]
        );
    }

    #[test]
    fn element_kinds_and_required_fields() {
        let text = OK.replace(
            "    - text: hi\n",
            "    - text: hi\n      custom: {data: x}\n    - location: {desc: x}\n    - text: 5\n",
        );
        assert_eq!(
            errors(Kind::Campaign, &text),
            [
                "7:7: message.body[0] needs exactly one element kind: `text`, `custom`, `location`, `face`, `sound`, `image`, `file`, `video`",
                "9:17: missing required key `latitude` in message.body[1].location",
                "9:17: missing required key `longitude` in message.body[1].location",
                "10:13: message.body[2].text: expected a string, found an integer",
            ]
        );
    }

    #[test]
    fn config_schema() {
        let text = "project: shop\napps:\n  prod: {sdkappid: 1, admin: a, secret_key_env: K, region: mars}\n";
        assert_eq!(
            errors(Kind::Config, text),
            [
                "3:60: apps.prod.region must be one of: \"china\", \"singapore\", \"seoul\", \"tokyo\", \"frankfurt\", \"silicon-valley\", \"jakarta\", \"india\", \"riyadh\""
            ]
        );
        let both = "project: shop\napps:\n  prod: {sdkappid: 1, admin: a, secret_key_env: K, region: china, endpoint: \"http://x\"}\n";
        assert_eq!(
            errors(Kind::Config, both),
            ["3:9: apps.prod needs exactly one of `region` and `endpoint`"]
        );
    }

    #[test]
    fn dotted_paths() {
        assert_eq!(dotted("/message/body/0/text"), "message.body[0].text");
        assert_eq!(dotted(""), "(top level)");
        assert_eq!(dotted("/vars/a~1b"), "vars.a/b");
    }
}
