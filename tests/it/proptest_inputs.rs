//! Property tests: the loader and the template renderer never panic, and rendering never changes
//! the request's structure, whatever the input.

use crier::render::{Context, Renderer};
use crier::spec::{parse_campaign, yaml};
use proptest::prelude::*;
use std::path::Path;
use std::sync::Arc;

const VALID: &str = "version: 1\nname: p\naudience: {all: true}\nschedule: {at: \"2026-12-01T10:00:00\"}\nmessage:\n  body:\n    - text: hi\n";

fn yamlish() -> impl Strategy<Value = String> {
    // Text built from YAML's structural characters, so the parser's hard paths are exercised.
    proptest::collection::vec(
        prop_oneof![
            Just("- ".to_owned()),
            Just(": ".to_owned()),
            Just("\n".to_owned()),
            Just("  ".to_owned()),
            Just("\t".to_owned()),
            Just("&a ".to_owned()),
            Just("*a".to_owned()),
            Just("<<: ".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just(", ".to_owned()),
            Just("\"".to_owned()),
            Just("'".to_owned()),
            Just("#".to_owned()),
            Just("---\n".to_owned()),
            Just("? ".to_owned()),
            Just("|\n".to_owned()),
            Just("!!str ".to_owned()),
            "[a-z0-9]{1,6}".prop_map(|s| s),
            Just("名".to_owned()),
        ],
        0..60,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_yaml_loader_never_panics(text in yamlish()) {
        let _ = yaml::parse(&text);
    }

    #[test]
    fn arbitrary_unicode_never_panics(text in "\\PC{0,200}") {
        let file: Arc<Path> = Arc::from(Path::new("p.yaml"));
        let parsed = parse_campaign(&file, &text);
        for d in parsed.diagnostics {
            prop_assert!(d.pos.line >= 1 && d.pos.col >= 1);
        }
    }

    #[test]
    fn mutated_campaigns_give_located_errors_or_campaigns(cut in 0usize..VALID.len(), insert in yamlish()) {
        let mut text = VALID.to_owned();
        let at = text.floor_char_boundary(cut);
        text.insert_str(at, &insert);
        let file: Arc<Path> = Arc::from(Path::new("p.yaml"));
        let parsed = parse_campaign(&file, &text);
        // Either a campaign or at least one located error, never both, never neither.
        prop_assert_eq!(parsed.campaign.is_some(), parsed.diagnostics.is_empty());
        for d in &parsed.diagnostics {
            prop_assert!(d.pos.line <= text.lines().count().max(1) + 1, "{d:?}");
        }
    }

    #[test]
    fn rendering_keeps_the_structure(template in "[a-z {}%#|()'\"+*0-9.]{0,40}") {
        let file: Arc<Path> = Arc::from(Path::new("p.yaml"));
        let text = VALID.replace("text: hi", &format!("text: {}", serde_json::to_string(&template).unwrap()));
        let parsed = parse_campaign(&file, &text);
        let Some(c) = parsed.campaign else { return Ok(()) };
        let local = chrono::TimeZone::with_ymd_and_hms(&chrono_tz::Asia::Shanghai, 2026, 12, 1, 10, 0, 0).unwrap();
        let ctx = Context { campaign: "p".into(), app: "prod".into(), local };
        match crier::render::render(&Renderer::new(), &c, &ctx, 1) {
            Ok(r) => {
                prop_assert!(r.request["MsgBody"][0]["MsgContent"]["Text"].is_string());
                prop_assert_eq!(r.request.as_object().unwrap().len(), 3);
                let reparsed: serde_json::Value = serde_json::from_str(&r.body).unwrap();
                prop_assert_eq!(reparsed, r.request);
            }
            Err(errors) => {
                prop_assert!(errors.iter().all(|e| e.pointer == "/message/body/0/text"), "{:?}", errors);
            }
        }
    }
}
