//! Property tests at scale (issue 12): the template renderer on random templates, the campaign
//! loader on random mutations of the sample campaigns, and the request builder (never an empty
//! `Condition`, never a body over 10,240 bytes unnoticed by validation).
//!
//! The default case counts keep `cargo test` fast; for a long run:
//! `PROPTEST_CASES=5000 cargo test --test it proptest_scale`.

use crier::render::{Context, MAX_BODY_BYTES, Renderer};
use crier::settings::Settings;
use crier::spec::parse_campaign;
use indexmap::IndexMap;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn file(name: &str) -> Arc<Path> {
    Arc::from(Path::new(name))
}

fn ctx() -> Context {
    let local =
        chrono::TimeZone::with_ymd_and_hms(&chrono_tz::Asia::Shanghai, 2026, 12, 2, 10, 0, 0)
            .unwrap();
    Context {
        campaign: "p".into(),
        app: "prod".into(),
        local,
    }
}

fn settings() -> Settings {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/crier.yaml")).unwrap();
    crier::spec::config::parse(&text, Path::new("/repo/crier.yaml"), &file("crier.yaml"))
        .0
        .expect("the sample crier.yaml")
}

// ---------------------------------------------------------------- the template renderer

/// Template text from Jinja's syntax: tags, loops, ranges, macros, filters, string repetition
/// and concatenation, the context's names, and plain text.
fn template() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("{{ "),
            Just(" }}"),
            Just("{% "),
            Just(" %}"),
            Just("{# "),
            Just(" #}"),
            Just("for i in range(100000) "),
            Just("for j in range(i) "),
            Just("endfor"),
            Just("if "),
            Just("else"),
            Just("endif"),
            Just("set a = "),
            Just("a"),
            Just("i"),
            Just(" ~ "),
            Just(" * "),
            Just(" + "),
            Just("\"xy\""),
            Just("99999999"),
            Just("7"),
            Just("-1"),
            Just("campaign.name"),
            Just("occurrence.time"),
            Just("occurrence.weekday"),
            Just("app.name"),
            Just("city"),
            Just("|upper"),
            Just("|length"),
            Just("|join(a)"),
            Just("|list"),
            Just("|tojson"),
            Just("("),
            Just(")"),
            Just("["),
            Just("]"),
            Just(", "),
            Just("loop.index"),
            Just("macro m() "),
            Just("endmacro"),
            Just("m()"),
            Just("caller()"),
            Just("call m() "),
            Just("endcall"),
            Just("raw"),
            Just("endraw"),
            Just("名"),
            Just("\n"),
            "[a-z ]{1,5}".prop_map(|s| Box::leak(s.into_boxed_str()) as &str),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

/// The most a template's output may be: whatever the template, rendering stops there.
const RENDER_BOUND: usize = 64 * 1024;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn templates_render_to_a_bounded_string_or_an_error(t in template()) {
        let renderer = Renderer::new();
        let message = json!({ "body": [{ "text": t }], "lifetime": "1d" });
        let vars: IndexMap<String, Value> = [("city".to_owned(), json!("Shenzhen"))].into_iter().collect();
        let started = Instant::now();
        let result = renderer.render_message(&message, &ctx(), &vars);
        // Fuel and the size bounds stop every template; generous for a loaded debug build.
        prop_assert!(started.elapsed() < Duration::from_secs(20), "{:?} for {t:?}", started.elapsed());
        match result {
            Ok(out) => {
                // The structure is the message's; the template became one string.
                prop_assert_eq!(out["lifetime"].as_str(), Some("1d"));
                prop_assert_eq!(out["body"].as_array().map(Vec::len), Some(1));
                let text = out["body"][0]["text"].as_str();
                prop_assert!(text.is_some(), "{out}");
                prop_assert!(text.unwrap_or_default().len() <= RENDER_BOUND);
            }
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                for e in errors {
                    prop_assert_eq!(e.pointer.as_str(), "/message/body/0/text");
                    prop_assert!(!e.message.is_empty());
                }
            }
        }
    }

    #[test]
    fn any_text_renders_without_panicking(t in "\\PC{0,300}") {
        let renderer = Renderer::new();
        let message = json!({ "body": [{ "text": t.clone() }] });
        match renderer.render_message(&message, &ctx(), &IndexMap::new()) {
            Ok(out) => {
                let text = out["body"][0]["text"].as_str().unwrap_or_default().to_owned();
                // Text that is not a template comes back unchanged.
                if !(t.contains("{{") || t.contains("{%") || t.contains("{#")) {
                    prop_assert_eq!(text, t);
                }
            }
            Err(errors) => prop_assert!(errors.iter().all(|e| e.pointer == "/message/body/0/text")),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The documented bounds: a template string over `MAX_TEMPLATE_BYTES` is an error, whatever
    /// it holds, and so is one `{{ … }}` with more than `MAX_EXPRESSION_TOKENS` operators and
    /// names (nested parentheses included), before minijinja sees it.
    #[test]
    fn the_documented_bounds_are_errors(
        pad in 1usize..2000,
        t in template(),
        operands in 2usize..200,
        op in prop_oneof![Just(" + "), Just(" ~ "), Just(" and "), Just("|string|upper and ")],
        nested in any::<bool>(),
    ) {
        let renderer = Renderer::new();
        let render = |text: String| {
            renderer.render_message(&json!({ "body": [{ "text": text }] }), &ctx(), &IndexMap::new())
        };
        let long = format!("{{{{ app.name }}}}{t}{}", "x".repeat(crier::render::MAX_TEMPLATE_BYTES + pad));
        let errors = render(long).expect_err("over the size bound");
        prop_assert!(errors[0].message.contains("crier allows at most 16384 per string"), "{}", errors[0].message);

        let expr = if nested {
            format!("{}1{}", "(".repeat(operands), ")".repeat(operands))
        } else {
            vec!["1"; operands].join(op)
        };
        let tokens = if nested {
            2 * operands + 1
        } else {
            let op_tokens = if op.contains('|') { 5 } else { 1 };
            operands + (operands - 1) * op_tokens
        };
        let over = tokens > crier::render::MAX_EXPRESSION_TOKENS;
        let result = render(format!("{{{{ {expr} }}}}"));
        let refused = result.as_ref().err().is_some_and(|e| e[0].message.contains("crier allows at most 200"));
        prop_assert_eq!(refused, over, "{} tokens: {:?}", tokens, result);
    }
}

/// Huge output is stopped by fuel: one repetition (minijinja lets it reach 100 MB) and a long
/// loop are both errors, never a hundred megabytes of text.
#[test]
fn a_huge_rendered_string_is_an_error_not_a_hundred_megabytes() {
    let renderer = Renderer::new();
    for t in [
        "{{ \"xy\" * 99999999 }}",
        "{% for i in range(100000) %}{{ \"xy\" * 7 }}{% endfor %}",
    ] {
        let message = json!({ "body": [{ "text": t }] });
        let errors = renderer
            .render_message(&message, &ctx(), &IndexMap::new())
            .expect_err(t);
        assert!(
            errors[0].message.contains("fuel"),
            "{t}: {}",
            errors[0].message
        );
    }
}

// ---------------------------------------------------------------- the campaign loader

fn samples() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/campaigns");
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// One edit of a campaign's text.
#[derive(Debug, Clone)]
enum Edit {
    Delete(prop::sample::Index, usize),
    Insert(prop::sample::Index, String),
    DuplicateLine(prop::sample::Index),
    DropLine(prop::sample::Index),
    SwapLines(prop::sample::Index, prop::sample::Index),
    Indent(prop::sample::Index, usize),
    Truncate(prop::sample::Index),
}

fn snippet() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("- ".to_owned()),
        Just(": ".to_owned()),
        Just("\n".to_owned()),
        Just("  ".to_owned()),
        Just("\t".to_owned()),
        Just("&a ".to_owned()),
        Just("*a".to_owned()),
        Just("<<: *a\n".to_owned()),
        Just("[".to_owned()),
        Just("}".to_owned()),
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just("#".to_owned()),
        Just("---\n".to_owned()),
        Just("? ".to_owned()),
        Just("|\n".to_owned()),
        Just("!!binary ".to_owned()),
        Just("{{ occurrence.time }}".to_owned()),
        Just("cron: \"* * * * SUN-SUN\"\n".to_owned()),
        Just("tags: {any: []}\n".to_owned()),
        Just("\u{feff}".to_owned()),
        Just("\r\n".to_owned()),
        Just("名前".to_owned()),
        Just("99999999999999999999".to_owned()),
        "[a-z0-9_]{1,8}".prop_map(|s| s),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    use prop::sample::Index;
    prop_oneof![
        (any::<Index>(), 1usize..20).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<Index>(), snippet()).prop_map(|(i, s)| Edit::Insert(i, s)),
        any::<Index>().prop_map(Edit::DuplicateLine),
        any::<Index>().prop_map(Edit::DropLine),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        (any::<Index>(), 1usize..5).prop_map(|(i, n)| Edit::Indent(i, n)),
        any::<Index>().prop_map(Edit::Truncate),
    ]
}

fn apply(text: &str, e: &Edit) -> String {
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
    let at = |i: &prop::sample::Index| text.floor_char_boundary(i.index(text.len() + 1));
    match e {
        Edit::Delete(i, n) => {
            let a = at(i);
            let b = text.floor_char_boundary((a + n).min(text.len()));
            format!("{}{}", &text[..a], &text[b..])
        }
        Edit::Insert(i, s) => {
            let a = at(i);
            format!("{}{s}{}", &text[..a], &text[a..])
        }
        Edit::Truncate(i) => text[..at(i)].to_owned(),
        _ if lines.is_empty() => text.to_owned(),
        Edit::DuplicateLine(i) => {
            let k = i.index(lines.len());
            lines.insert(k, lines[k].clone());
            lines.concat()
        }
        Edit::DropLine(i) => {
            lines.remove(i.index(lines.len()));
            lines.concat()
        }
        Edit::SwapLines(a, b) => {
            let (a, b) = (a.index(lines.len()), b.index(lines.len()));
            lines.swap(a, b);
            lines.concat()
        }
        Edit::Indent(i, n) => {
            let k = i.index(lines.len());
            lines[k] = format!("{}{}", " ".repeat(*n), lines[k]);
            lines.concat()
        }
    }
}

/// Every diagnostic names the file, and a line and column that exist in the text (or just past
/// its end, for "unexpected end of file").
fn located(
    diags: &[crier::diag::Diagnostic],
    name: &Arc<Path>,
    text: &str,
) -> Result<(), TestCaseError> {
    let lines: Vec<&str> = text.split('\n').collect();
    for d in diags {
        prop_assert_eq!(&d.file, name);
        prop_assert!(d.pos.line >= 1 && d.pos.col >= 1, "{d:?}");
        prop_assert!(
            d.pos.line <= lines.len(),
            "line {} of {}: {d:?} in {text:?}",
            d.pos.line,
            lines.len()
        );
        let line = lines[d.pos.line - 1];
        prop_assert!(
            d.pos.col <= line.chars().count() + 1,
            "col {} of a {}-character line {line:?}: {d:?}",
            d.pos.col,
            line.chars().count()
        );
        prop_assert!(!d.message.is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn mutated_sample_campaigns_give_located_diagnostics(
        which in any::<prop::sample::Index>(),
        edits in proptest::collection::vec(edit(), 1..5),
    ) {
        let samples = samples();
        let (name, original) = &samples[which.index(samples.len())];
        let text = edits.iter().fold(original.clone(), |t, e| apply(&t, e));
        let name: Arc<Path> = file(name);
        let parsed = parse_campaign(&name, &text);
        located(&parsed.diagnostics, &name, &text)?;
        prop_assert_eq!(parsed.campaign.is_some(), parsed.diagnostics.is_empty());
        // What parsed goes on through validation: still located, still no panic.
        let renderer = Renderer::new();
        let settings = settings();
        if let Some(c) = &parsed.campaign {
            let (_, diags) = crier::validate::check_campaign(c, &settings, &renderer);
            located(&diags, &name, &text)?;
        }
        if let Some(u) = &parsed.unparsed {
            let diags = crier::validate::check_unparsed(u, &settings, &renderer);
            located(&diags, &name, &text)?;
        }
    }
}

// ---------------------------------------------------------------- the request builder

fn tag_list() -> impl Strategy<Value = Option<Vec<String>>> {
    proptest::option::of(proptest::collection::vec("[a-z]{1,4}", 0..3))
}

fn attr_map() -> impl Strategy<Value = Option<Vec<(String, String)>>> {
    proptest::option::of(proptest::collection::vec(
        ("[a-z]{1,4}", "[a-z]{1,4}"),
        0..3,
    ))
}

/// Audiences, valid or not: `all`, tag lists and attribute maps, each possibly empty or absent.
fn audience() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(|b| json!({ "all": b })),
        (tag_list(), tag_list(), tag_list()).prop_map(|(any, all, none)| {
            let mut m = serde_json::Map::new();
            for (k, v) in [("any", any), ("all", all), ("none", none)] {
                if let Some(v) = v {
                    m.insert(k.into(), json!(v));
                }
            }
            json!({ "tags": m })
        }),
        (attr_map(), attr_map()).prop_map(|(any, all)| {
            let mut m = serde_json::Map::new();
            for (k, v) in [("any", any), ("all", all)] {
                if let Some(v) = v {
                    let map: serde_json::Map<String, Value> =
                        v.into_iter().map(|(a, b)| (a, json!(b))).collect();
                    m.insert(k.into(), Value::Object(map));
                }
            }
            json!({ "attrs": m })
        }),
    ]
}

/// Body text of any length around the limit, with characters JSON escapes (`"`, `\`, control
/// characters) and multi-byte ones, so its encoded size differs from its length.
fn body_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("a".to_owned()),
        Just("\"".to_owned()),
        Just("\\".to_owned()),
        Just("\u{1}".to_owned()),
        Just("\n".to_owned()),
        Just("名".to_owned()),
        Just("😀".to_owned()),
        "[a-z]{50,400}".prop_map(|s| s),
    ];
    prop_oneof![
        proptest::collection::vec(piece, 0..80).prop_map(|p| p.concat()),
        // Right at the limit, where a weekday's name or a MsgRandom's digits tip it over.
        (10_100usize..10_150).prop_map(|n| "a".repeat(n)),
    ]
}

fn campaign_text(audience: &Value, texts: &[String], weekday_template: bool) -> String {
    let body: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if weekday_template && i == 0 {
                json!({ "text": format!("{{{{ occurrence.weekday }}}}{t}") })
            } else {
                json!({ "text": t })
            }
        })
        .collect();
    // JSON is YAML: the text goes in unchanged.
    serde_json::to_string(&json!({
        "version": 1,
        "name": "p",
        "app": "prod",
        "audience": audience,
        "schedule": { "cron": "0 10 * * *", "timezone": "Asia/Shanghai", "start": "2026-12-01" },
        "message": { "body": body },
    }))
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_condition_is_never_empty(audience in audience()) {
        let name = file("p.yaml");
        let text = campaign_text(&audience, &["hi".to_owned()], false);
        let parsed = parse_campaign(&name, &text);
        let Some(c) = parsed.campaign else {
            // Refused: an empty list or map, no key at all, or `all: false`; located.
            prop_assert!(!parsed.diagnostics.is_empty());
            return Ok(());
        };
        let all = audience.get("all").is_some();
        let request = crier::render::push_request(7, &c.spec.audience, &c.spec.message);
        match request.get("Condition") {
            None => prop_assert!(all, "{audience}: no Condition"),
            Some(cond) => {
                prop_assert!(!all);
                let cond = cond.as_object().expect("an object");
                prop_assert!(!cond.is_empty(), "{audience}: empty Condition");
                for (k, v) in cond {
                    let n = v.as_array().map(Vec::len).or_else(|| v.as_object().map(serde_json::Map::len));
                    prop_assert!(n.is_some_and(|n| n > 0), "{audience}: {k} is empty");
                }
            }
        }
    }

    #[test]
    fn a_body_over_the_limit_is_always_reported(
        audience in audience(),
        texts in prop_oneof![
            body_text().prop_map(|t| vec![t]),
            proptest::collection::vec(body_text(), 1..4),
        ],
        weekday_template in any::<bool>(),
    ) {
        let name = file("p.yaml");
        let text = campaign_text(&audience, &texts, weekday_template);
        let parsed = parse_campaign(&name, &text);
        let Some(c) = parsed.campaign else { return Ok(()) };
        let settings = settings();
        let renderer = Renderer::new();
        let (checked, diags) = crier::validate::check_campaign(&c, &settings, &renderer);
        let reported = diags.iter().any(|d| d.message.contains("(90056)"));
        // Every occurrence of a week (each weekday renders differently), with the widest
        // MsgRandom: if any body is over the limit, validation said so.
        let schedule = crier::schedule::Schedule::cron("0 10 * * *", chrono_tz::Asia::Shanghai, None, None).unwrap();
        let from = "2026-12-01T00:00:00Z".parse().unwrap();
        let to = "2026-12-08T00:00:00Z".parse().unwrap();
        let mut largest = 0;
        for occ in schedule.occurrences(from, to) {
            let ctx = Context { campaign: "p".into(), app: "prod".into(), local: occ.local };
            let r = crier::render::render(&renderer, &c, &ctx, u32::MAX).expect("renders");
            largest = largest.max(r.body.len());
        }
        if largest > MAX_BODY_BYTES {
            prop_assert!(reported, "a {largest}-byte body passed validation");
            prop_assert!(checked.is_none());
        }
    }
}

/// Found by the request-builder property test: validation measured the body at the first
/// occurrence only, so a template reading `occurrence.weekday` passed at 10,239 bytes on a
/// Tuesday and was 10,241 on Wednesdays (refused by the API, noticed only by `plan`).
#[test]
fn a_body_over_the_limit_on_a_later_weekday_fails_validation() {
    let settings = settings();
    let renderer = Renderer::new();
    let text = campaign_text(&json!({ "all": true }), &["a".repeat(10_126)], true);
    let c = parse_campaign(&file("p.yaml"), &text).campaign.unwrap();
    let (checked, diags) = crier::validate::check_campaign(&c, &settings, &renderer);
    let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "the rendered request body is 10241 bytes (occurrence, 2026-12-02 10:00 CST); the API allows at most 10240 (90056)"
        ]
    );
    assert!(checked.is_none());
    // One byte less fits every day.
    let text = campaign_text(&json!({ "all": true }), &["a".repeat(10_125)], true);
    let c = parse_campaign(&file("p.yaml"), &text).campaign.unwrap();
    assert_eq!(
        crier::validate::check_campaign(&c, &settings, &renderer).1,
        []
    );
}

/// Validation measured the body with the first occurrence's base MsgRandom; the plan's may have
/// more digits (a perturbation, or another occurrence), so a body at the limit with a short
/// base MsgRandom passed validation and was refused by the API. It is measured with ten digits.
#[test]
fn a_body_at_the_limit_with_a_short_msg_random_fails_validation() {
    let settings = settings();
    let renderer = Renderer::new();
    let at: chrono::DateTime<chrono::Utc> = "2026-12-01T02:00:00Z".parse().unwrap();
    // A campaign name whose first occurrence's base MsgRandom has fewer than ten digits.
    let name = (0..)
        .map(|i| format!("p{i}"))
        .find(|n| {
            let key = crier::occurrence::OccurrenceKey {
                project: settings.project.clone(),
                sdkappid: 1_400_000_000,
                campaign: n.clone(),
                scheduled: at,
            };
            key.base_msg_random() < 1_000_000_000
        })
        .unwrap();
    let text_of = |n: usize| {
        campaign_text(&json!({ "all": true }), &["a".repeat(n)], false)
            .replace("\"name\":\"p\"", &format!("\"name\":\"{name}\""))
    };
    // Grow the text until the body as rendered is exactly at the limit.
    let body_len = |n: usize| {
        let c = parse_campaign(&file("p.yaml"), &text_of(n))
            .campaign
            .unwrap();
        let ctx = Context {
            campaign: name.clone(),
            app: "prod".into(),
            local: at.with_timezone(&chrono_tz::Asia::Shanghai),
        };
        let key = crier::occurrence::OccurrenceKey {
            project: settings.project.clone(),
            sdkappid: 1_400_000_000,
            campaign: name.clone(),
            scheduled: at,
        };
        crier::render::render(&renderer, &c, &ctx, key.base_msg_random())
            .unwrap()
            .body
            .len()
    };
    let n = MAX_BODY_BYTES - body_len(0);
    assert_eq!(body_len(n), MAX_BODY_BYTES);
    let c = parse_campaign(&file("p.yaml"), &text_of(n))
        .campaign
        .unwrap();
    let (checked, diags) = crier::validate::check_campaign(&c, &settings, &renderer);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert!(
        diags[0]
            .message
            .contains("10240 bytes (first occurrence, 2026-12-01 10:00 CST) and up to"),
        "{}",
        diags[0].message
    );
    assert!(checked.is_none());
}
