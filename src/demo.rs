//! `crier demo`: the whole main job on a fresh machine, with nothing of the user's. The sample
//! campaigns (embedded in the binary) with their schedules moved to now, the emulator in-process
//! on a free port with a few hundred generated users, a temporary folder for `crier.yaml` and the
//! ledger; then plan, apply, the ledger, and what the emulator delivered to whom.

use chrono::{DateTime, SecondsFormat, Timelike as _, Utc};
use serde_json::{Value, json};

/// The sample campaigns of `campaigns/`, compiled in (a test keeps this list and the folder equal).
pub const SAMPLES: &[(&str, &str)] = &[
    (
        "black-friday-vip.yaml",
        include_str!("../campaigns/black-friday-vip.yaml"),
    ),
    (
        "churn-winback.yaml",
        include_str!("../campaigns/churn-winback.yaml"),
    ),
    (
        "monthly-statement.yaml",
        include_str!("../campaigns/monthly-statement.yaml"),
    ),
    (
        "new-york-early-bird.yaml",
        include_str!("../campaigns/new-york-early-bird.yaml"),
    ),
    (
        "product-video.yaml",
        include_str!("../campaigns/product-video.yaml"),
    ),
    (
        "shenzhen-platinum.yaml",
        include_str!("../campaigns/shenzhen-platinum.yaml"),
    ),
    (
        "sticker-pack-launch.yaml",
        include_str!("../campaigns/sticker-pack-launch.yaml"),
    ),
    (
        "voice-greeting.yaml",
        include_str!("../campaigns/voice-greeting.yaml"),
    ),
    (
        "weekly-digest.yaml",
        include_str!("../campaigns/weekly-digest.yaml"),
    ),
];

/// The demo's apps: the samples' `prod` and `staging`, both served by the in-process emulator.
pub const APPS: [(&str, u64); 2] = [("prod", 1_400_000_000), ("staging", 1_400_000_001)];
/// The attribute names the samples use.
pub const ATTRIBUTES: [&str; 2] = ["level", "city"];
/// Where the demo's secret key is looked up (through a map provider, never the environment).
pub const SECRET_VAR: &str = "CRIER_DEMO_SECRET_KEY";
/// How many users the emulator gets.
pub const USERS: usize = 300;
/// The spacing between two pushes of one app in the demo (the real provider needs > 1 s).
pub const MIN_INTERVAL_MS: u64 = 50;

/// A sample with its schedule moved to `now`: a one-off at `now`, or a daily cron firing at now's
/// minute in the campaign's zone (so exactly one occurrence is due). Returned as JSON text, which
/// is valid YAML.
///
/// # Errors
/// The sample does not parse (a test keeps every sample valid).
pub fn move_to_now(text: &str, now: DateTime<Utc>) -> anyhow::Result<String> {
    let mut v = crate::spec::yaml::parse(text)
        .map_err(|e| anyhow::anyhow!("{}:{}: {}", e.pos.line, e.pos.col, e.message))?
        .value;
    let schedule = v
        .get_mut("schedule")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| anyhow::anyhow!("no schedule"))?;
    let zone: chrono_tz::Tz = schedule
        .get("timezone")
        .and_then(Value::as_str)
        .and_then(|z| z.parse().ok())
        .unwrap_or(crate::settings::DEFAULT_TIMEZONE);
    schedule.remove("start");
    schedule.remove("end");
    schedule.insert("grace".into(), json!("1h"));
    if schedule.remove("cron").is_some() {
        let local = now.with_timezone(&zone);
        schedule.insert(
            "cron".into(),
            json!(format!("{} {} * * *", local.minute(), local.hour())),
        );
    } else {
        schedule.insert(
            "at".into(),
            json!(now.to_rfc3339_opts(SecondsFormat::Secs, true)),
        );
    }
    Ok(serde_json::to_string_pretty(&v)?)
}

/// Every tag and attribute value the samples' audiences name, so generated users match them.
#[must_use]
pub fn audience_vocabulary(samples: &[Value]) -> (Vec<String>, Vec<(String, String)>) {
    let mut tags = std::collections::BTreeSet::new();
    let mut attrs = std::collections::BTreeSet::new();
    for s in samples {
        for list in ["any", "all", "none"] {
            for t in s
                .pointer(&format!("/audience/tags/{list}"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                tags.extend(t.as_str().map(str::to_owned));
            }
        }
        for map in ["any", "all"] {
            for (k, val) in s
                .pointer(&format!("/audience/attrs/{map}"))
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                attrs.extend(val.as_str().map(|v| (k.clone(), v.to_owned())));
            }
        }
    }
    (tags.into_iter().collect(), attrs.into_iter().collect())
}

/// `count` users with tags and attributes drawn (seeded) from the samples' vocabulary.
#[must_use]
pub fn users(samples: &[Value], count: usize, seed: u64) -> Vec<crate::emulator::UserRecord> {
    let (tags, attrs) = audience_vocabulary(samples);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut values: std::collections::BTreeMap<&str, Vec<&str>> = std::collections::BTreeMap::new();
    for (k, v) in &attrs {
        values.entry(k.as_str()).or_default().push(v.as_str());
    }
    for (k, extra) in [
        ("level", ["Bronze", "Silver"]),
        ("city", ["Beijing", "Shanghai"]),
    ] {
        values.entry(k).or_default().extend(extra);
    }
    (1..=count)
        .map(|i| crate::emulator::UserRecord {
            id: format!("user{i:04}"),
            tags: tags.iter().filter(|_| rng.u8(0..10) < 3).cloned().collect(),
            attrs: values
                .iter()
                .map(|(k, vs)| ((*k).to_owned(), vs[rng.usize(0..vs.len())].to_owned()))
                .collect(),
        })
        .collect()
}

/// The demo's `crier.yaml`, pointing both apps at the emulator.
#[must_use]
pub fn config(base_url: &str) -> String {
    let mut s = String::from(
        "# Written by `crier demo`: both apps point at the in-process emulator.\nproject: crier-demo\napps:\n",
    );
    for (name, sdkappid) in APPS {
        s.push_str(&format!(
            "  {name}:\n    sdkappid: {sdkappid}\n    endpoint: {base_url}\n    admin: administrator\n    secret_key_env: {SECRET_VAR}\n    attributes: [{}]\n    min_interval: {MIN_INTERVAL_MS}ms\n    reach_estimate: {USERS}\n",
            ATTRIBUTES.join(", ")
        ));
    }
    s.push_str("defaults:\n  timezone: Asia/Shanghai\n  grace: 1h\ncampaigns: campaigns\nledger:\n  path: .crier/ledger\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_samples_are_exactly_the_campaigns_folder() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns");
        let mut on_disk: Vec<(String, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read_to_string(&p).unwrap(),
                )
            })
            .collect();
        on_disk.sort();
        let embedded: Vec<(String, String)> = SAMPLES
            .iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
            .collect();
        assert_eq!(embedded, on_disk);
    }

    #[test]
    fn moved_samples_have_one_occurrence_due_now() {
        let now: DateTime<Utc> = "2026-12-05T02:10:30Z".parse().unwrap();
        for (name, text) in SAMPLES {
            let moved = move_to_now(text, now).unwrap();
            let file: std::sync::Arc<std::path::Path> =
                std::sync::Arc::from(std::path::Path::new(*name));
            let parsed = crate::spec::parse_campaign(&file, &moved);
            let c = parsed
                .campaign
                .unwrap_or_else(|| panic!("{name}: {:?}", parsed.diagnostics));
            let tz: chrono_tz::Tz = c
                .spec
                .schedule
                .timezone
                .as_deref()
                .unwrap_or("Asia/Shanghai")
                .parse()
                .unwrap();
            let s = match (&c.spec.schedule.at, &c.spec.schedule.cron) {
                (Some(at), _) => crate::schedule::Schedule::once(at, tz).unwrap().0,
                (_, Some(cron)) => crate::schedule::Schedule::cron(cron, tz, None, None).unwrap(),
                _ => unreachable!(),
            };
            let due: Vec<_> = s
                .occurrences(now - chrono::TimeDelta::hours(1), now)
                .collect();
            assert_eq!(due.len(), 1, "{name}: {due:?}");
        }
    }

    #[test]
    fn generated_users_match_the_samples_audiences() {
        let samples: Vec<Value> = SAMPLES
            .iter()
            .map(|(_, t)| crate::spec::yaml::parse(t).unwrap().value)
            .collect();
        let users = users(&samples, USERS, 7);
        assert_eq!(users.len(), USERS);
        assert!(users.iter().any(|u| u.tags.iter().any(|t| t == "VIP")));
        assert!(
            users
                .iter()
                .any(|u| u.attrs.get("city").is_some_and(|c| c == "Shenzhen"))
        );
        assert_eq!(users, super::users(&samples, USERS, 7), "seeded");
    }
}
