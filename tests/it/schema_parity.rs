//! The hand-written JSON Schemas and the typed loader must agree: every fixture gets the same
//! verdict (valid or not) from `schema/*.schema.json` and from deserialising into the types.

use crier::schema::{self, Kind};
use crier::spec::campaign::{CampaignSpec, from_value};
use crier::spec::config::ConfigSpec;
use crier::spec::yaml;
use std::path::Path;

fn verdicts(kind: Kind, text: &str) -> Option<(bool, bool)> {
    let doc = yaml::parse(text).ok()?;
    let by_schema = schema::check(kind, &doc).is_empty();
    let by_types = match kind {
        Kind::Campaign => from_value::<CampaignSpec>(&doc.value).is_ok(),
        Kind::Config => from_value::<ConfigSpec>(&doc.value).is_ok(),
    };
    Some((by_schema, by_types))
}

/// Structural variations of a valid campaign: each either breaks a schema rule or keeps it valid.
const CAMPAIGN_VARIANTS: &[&str] = &[
    "",
    "paused: true\n",
    "paused: 1\n",
    "description: 5\n",
    "app: \"\"\n",
    "extra: 1\n",
    "version: 2\n",
    "recall: {title: t, desc: d, ext: e}\n",
    "recall: {title: t, other: 1}\n",
    "vars: [1]\n",
    "vars: {a: [1, {b: 2}]}\n",
];

const AUDIENCES: &[&str] = &[
    "audience: {all: true}",
    "audience: {all: false}",
    "audience: {all: true, tags: {any: [a]}}",
    "audience: {tags: {}}",
    "audience: {tags: {any: [a], all: [b], none: [c]}}",
    "audience: {tags: {any: a}}",
    "audience: {tags: {some: [a]}}",
    "audience: {attrs: {any: {level: Gold}}}",
    "audience: {attrs: {any: {level: 1}}}",
    "audience: {attrs: {}}",
    "audience: {attrs: {none: {a: b}}}",
    "audience: {}",
    "audience: everyone",
];

const SCHEDULES: &[&str] = &[
    "schedule: {at: \"2026-12-01T10:00:00\"}",
    "schedule: {cron: \"0 10 * * *\", start: 2026-12-01, end: 2026-12-31, grace: 1h30m, timezone: Asia/Tokyo}",
    "schedule: {at: x, cron: y}",
    "schedule: {timezone: UTC}",
    "schedule: {at: x, grace: 15}",
    "schedule: {at: x, grace: 15x}",
    "schedule: {cron: x, start: 2026-1-1}",
    "schedule: {cron: x, start: 2026-13-01}",
    "schedule: {at: x, every: 1d}",
];

const BODIES: &[&str] = &[
    "body: [{text: hi}]",
    "body: []",
    "body: [{text: hi, face: {index: 1}}]",
    "body: [{custom: {data: d, desc: e, ext: f, sound: g}}]",
    "body: [{custom: {desc: e}}]",
    "body: [{location: {desc: d, latitude: 1.5, longitude: 2}}]",
    "body: [{location: {desc: d, latitude: 91, longitude: 2}}]",
    "body: [{face: {index: 1, data: x}}]",
    "body: [{face: {index: 1.5}}]",
    "body: [{sound: {url: u, uuid: i, size: 1, seconds: 2}}]",
    "body: [{sound: {url: u}}]",
    "body: [{sound: {url: u, uuid: i, size: -1}}]",
    "body: [{image: {uuid: i, format: png, images: [{type: large, width: 1, height: 1, url: u, size: 3}]}}]",
    "body: [{image: {uuid: i, format: tiff, images: [{type: large, width: 1, height: 1, url: u}]}}]",
    "body: [{image: {uuid: i, images: []}}]",
    "body: [{image: {uuid: i, images: [{type: huge, width: 1, height: 1, url: u}]}}]",
    "body: [{file: {url: u, uuid: i, size: 1, name: n}}]",
    "body: [{file: {url: u, uuid: i, mime: x}}]",
    "body: [{video: {url: u, uuid: i, thumb: {url: t, uuid: j, width: 1, height: 1}}}]",
    "body: [{video: {url: u, uuid: i}}]",
    "body: [{video: {url: u, uuid: i, thumb: {url: t, uuid: j, width: 1}}}]",
    "body: [{gif: {url: u}}]",
    "body: {text: hi}",
];

const MESSAGE_EXTRAS: &[&str] = &[
    "",
    "from: admin\n  online_only: true\n  lifetime: 7d\n",
    "lifetime: 7 days\n",
    "online_only: yes\n",
    "offline_push: {enabled: false, title: t, desc: d, ext: {a: 1, b: [2]}, badge_add_num: 5, badge_set_num: 0}\n",
    "offline_push: {ext: 5}\n",
    "offline_push: {badge_add_num: 100}\n",
    "offline_push: {android: {huawei_importance: LOW, oppo_notify_level: 16, oppo_private_title_parameters: {a: b}, vivo_notify_type: \"2\"}}\n",
    "offline_push: {android: {huawei_importance: HIGH}}\n",
    "offline_push: {android: {oppo_notify_level: 3}}\n",
    "offline_push: {android: {unknown_vendor: x}}\n",
    "offline_push: {apns: {badge_mode: 1, interruption_level: passive, live_activity: {la_id: a, event: end, content_state: {x: 1}, dismissal_date: 5}}}\n",
    "offline_push: {apns: {live_activity: {la_id: a, event: start, content_state: {}}}}\n",
    "offline_push: {apns: {live_activity: {la_id: a, event: end}}}\n",
    "offline_push: {harmony: {title: t, sound_duration: 61}}\n",
    "offline_push: {harmony: {title: t, sound_duration: 60}}\n",
    "extra: 1\n",
];

fn campaign(variant: &str, audience: &str, schedule: &str, body: &str, extra: &str) -> String {
    format!(
        "version: 1\nname: parity\n{variant}{audience}\n{schedule}\nmessage:\n  {extra}  {body}\n"
    )
}

#[test]
fn campaign_schema_and_types_agree_on_every_fixture() {
    let mut checked = 0;
    let mut disagreements = Vec::new();
    let mut check = |text: String| {
        if let Some((schema, types)) = verdicts(Kind::Campaign, &text) {
            checked += 1;
            if schema != types {
                disagreements.push(format!("schema says {schema}, types say {types}:\n{text}"));
            }
        }
    };
    for v in CAMPAIGN_VARIANTS {
        check(campaign(v, AUDIENCES[0], SCHEDULES[0], BODIES[0], ""));
    }
    for a in AUDIENCES {
        check(campaign("", a, SCHEDULES[0], BODIES[0], ""));
    }
    for s in SCHEDULES {
        check(campaign("", AUDIENCES[0], s, BODIES[0], ""));
    }
    for b in BODIES {
        check(campaign("", AUDIENCES[0], SCHEDULES[0], b, ""));
    }
    for e in MESSAGE_EXTRAS {
        check(campaign("", AUDIENCES[0], SCHEDULES[0], BODIES[0], e));
    }
    // Every case file and sample campaign, too.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in [
        "campaigns",
        "tests/validate_cases",
        "tests/validate_cases/duplicate-names",
    ] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "yaml")
                && p.file_name().is_some_and(|n| n != "crier.yaml")
            {
                check(std::fs::read_to_string(p).unwrap());
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{}",
        disagreements.join("\n---\n")
    );
    assert!(checked > 100, "only {checked} fixtures checked");
}

#[test]
fn both_verdicts_occur_so_the_fixtures_test_something() {
    let valid = verdicts(
        Kind::Campaign,
        &campaign("", AUDIENCES[0], SCHEDULES[0], BODIES[0], ""),
    )
    .unwrap();
    let invalid = verdicts(
        Kind::Campaign,
        &campaign("", AUDIENCES[1], SCHEDULES[0], BODIES[0], ""),
    )
    .unwrap();
    assert_eq!(valid, (true, true));
    assert_eq!(invalid, (false, false));
}

#[test]
fn config_schema_and_types_agree() {
    let app = "sdkappid: 1, admin: a, secret_key_env: K";
    let fixtures = [
        format!("project: p\napps: {{prod: {{{app}, region: china}}}}\n"),
        format!("project: p\napps: {{prod: {{{app}, endpoint: \"http://127.0.0.1:1\"}}}}\n"),
        format!("project: p\napps: {{prod: {{{app}}}}}\n"),
        format!("project: p\napps: {{prod: {{{app}, region: china, endpoint: \"http://x\"}}}}\n"),
        format!("project: p\napps: {{prod: {{{app}, region: moon}}}}\n"),
        format!("project: p\napps: {{prod: {{{app}, region: china, daily_quota: -1}}}}\n"),
        format!(
            "project: p\napps: {{prod: {{{app}, region: china, min_interval: 1s, quota_timezone: UTC, attributes: [a, b], ca_file: x.pem, reach_estimate: 5, paused: true}}}}\n"
        ),
        format!("project: p\napps: {{prod: {{{app}, region: china, min_interval: soon}}}}\n"),
        format!("project: p\napps: {{prod: {{{app}, region: china, colour: red}}}}\n"),
        format!(
            "project: p\napps: {{prod: {{{app}, region: china}}}}\ndefaults: {{timezone: UTC, grace: 5m}}\ncampaigns: c\nledger: {{path: l, postgres_url_env: DB}}\n"
        ),
        format!(
            "project: p\napps: {{prod: {{{app}, region: china}}}}\nledger: {{postgres_url: x}}\n"
        ),
        format!("project: P\napps: {{prod: {{{app}, region: china}}}}\n"),
        "project: p\napps: {prod: {sdkappid: 1, admin: a, region: china}}\n".to_owned(),
        "project: p\n".to_owned(),
    ];
    let mut seen = std::collections::HashSet::new();
    for f in &fixtures {
        let (schema, types) = verdicts(Kind::Config, f).unwrap();
        assert_eq!(schema, types, "disagree on:\n{f}");
        seen.insert(schema);
    }
    assert_eq!(
        seen.len(),
        2,
        "fixtures must include valid and invalid files"
    );
}
