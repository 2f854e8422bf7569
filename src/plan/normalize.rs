//! Normalised campaigns: the campaign file with every default resolved, in a canonical key order,
//! and its hash. Snapshots store these; the change view compares them.

use crate::settings::Settings;
use crate::spec::Campaign;
use crate::spec::campaign::{CampaignSpec, from_value};
use crate::spec::yaml::Document;
use crate::validate::Checked;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;

/// `sha256:<hex>` of some bytes.
#[must_use]
pub fn sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

/// Sorts object keys recursively, except inside `ext` mappings, whose order is part of the request.
fn canonical(v: &Value, keep_order: bool) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            if !keep_order {
                keys.sort();
            }
            let mut out = Map::with_capacity(keys.len());
            for k in keys {
                out.insert(k.clone(), canonical(&m[k], keep_order || k == "ext"));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|i| canonical(i, keep_order)).collect()),
        other => other.clone(),
    }
}

/// The normalised form of a checked campaign: the file's value with `app`, `sdkappid`,
/// `paused`, `vars`, `schedule.timezone` and `schedule.grace` resolved.
#[must_use]
pub fn normalize(c: &Checked<'_>, settings: &Settings) -> Value {
    let _ = settings;
    let mut v = c.campaign.doc.value.clone();
    if let Value::Object(m) = &mut v {
        m.insert("app".into(), json!(c.app.name));
        m.insert("sdkappid".into(), json!(c.app.sdkappid));
        m.entry("paused").or_insert(json!(false));
        m.entry("vars").or_insert(json!({}));
        if let Some(Value::Object(s)) = m.get_mut("schedule") {
            s.insert("timezone".into(), json!(c.zone.name()));
            s.insert(
                "grace".into(),
                json!(crate::duration::Human(c.grace).to_string()),
            );
        }
    }
    canonical(&v, false)
}

/// A normalised campaign kept as its compact JSON text, the text its hash is of: a plan keeps one
/// per campaign for the whole command, and the text takes about a third of the memory of the
/// parsed value. The plan file holds it as the JSON value it is (written and read as one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized(Box<str>);

impl Normalized {
    #[must_use]
    pub fn of(value: &Value) -> Self {
        Self(
            serde_json::to_string(value)
                .expect("JSON always serialises")
                .into_boxed_str(),
        )
    }

    /// The parsed value (made on each call: most campaigns of a plan are never looked into).
    #[must_use]
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.0).expect("the text of a JSON value parses")
    }

    /// Its typed facts, read straight from the text.
    #[must_use]
    pub fn facts(&self) -> Facts {
        serde_json::from_str(&self.0).unwrap_or_default()
    }

    /// `sha256:…` of the text: the campaign's content hash.
    #[must_use]
    pub fn hash(&self) -> String {
        sha256(self.0.as_bytes())
    }
}

impl serde::Serialize for Normalized {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Normalized {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(|v| Self::of(&v))
    }
}

/// Rebuilds a campaign from its normalised form (a snapshot), to render or schedule it again.
///
/// # Errors
/// The snapshot does not describe a campaign this version understands.
pub fn campaign_from_snapshot(normalized: &Value) -> Result<Campaign, String> {
    let mut v = normalized.clone();
    if let Value::Object(m) = &mut v {
        m.remove("sdkappid");
    }
    let spec: CampaignSpec = from_value(&v).map_err(|e| format!("{}: {}", e.pointer, e.message))?;
    let file: Arc<Path> = Arc::from(Path::new("<applied snapshot>"));
    Ok(Campaign {
        file,
        doc: Document::without_source(v),
        spec,
    })
}

/// The typed facts of a normalised campaign (current or from a snapshot) that the change view,
/// its warnings and the review read: identity, schedule and audience, instead of JSON pointers. A value of
/// the wrong shape (none passes validation) reads as empty facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct Facts {
    pub name: String,
    pub app: String,
    pub sdkappid: u64,
    pub previous_names: Vec<String>,
    pub schedule: ScheduleFacts,
    pub policy_exceptions: std::collections::BTreeMap<String, String>,
    /// Boxed: an audience is most of the size of the facts, and a plan reads the facts of
    /// every campaign at once.
    pub audience: Option<Box<crate::spec::campaign::Audience>>,
}

/// A normalised `schedule`: `at` or `cron`, the resolved zone, the window.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct ScheduleFacts {
    pub at: Option<String>,
    pub cron: Option<String>,
    pub timezone: Option<String>,
    pub start: Option<chrono::NaiveDate>,
    pub end: Option<chrono::NaiveDate>,
}

impl Facts {
    /// The facts of a normalised value.
    #[must_use]
    pub fn of(normalized: &Value) -> Self {
        <Self as serde::Deserialize>::deserialize(normalized).unwrap_or_default()
    }

    /// A one-off (`schedule.at`).
    #[must_use]
    pub const fn is_once(&self) -> bool {
        self.schedule.at.is_some()
    }

    /// The schedule's zone (UTC when it is missing or unknown).
    #[must_use]
    pub fn zone(&self) -> chrono_tz::Tz {
        self.schedule
            .timezone
            .as_deref()
            .and_then(|z| crate::schedule::parse_zone(z).ok())
            .unwrap_or(chrono_tz::UTC)
    }

    /// The schedule it describes, if it still parses.
    #[must_use]
    pub fn schedule(&self) -> Option<crate::schedule::Schedule> {
        let s = &self.schedule;
        let tz = crate::schedule::parse_zone(s.timezone.as_deref()?).ok()?;
        if let Some(at) = &s.at {
            return crate::schedule::Schedule::once(at, tz).ok().map(|(s, _)| s);
        }
        crate::schedule::Schedule::cron(s.cron.as_deref()?, tz, s.start, s.end).ok()
    }

    /// An instant as RFC 3339 in the schedule's zone.
    #[must_use]
    pub fn local(&self, at: chrono::DateTime<chrono::Utc>) -> String {
        at.with_timezone(&self.zone())
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    }
}

/// Every leaf of a value by dotted path (`message.body[0].text`), for field-level diffs.
#[must_use]
pub fn leaves(v: &Value) -> Vec<(String, Value)> {
    crate::spec::yaml::leaves(v)
        .into_iter()
        .map(|(pointer, leaf)| (crate::schema::dotted(&pointer), leaf.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_normalized_text_hashes_and_writes_as_its_value() {
        let v =
            serde_json::json!({"name": "b", "a": {"ext": {"z": 1, "a": [2.5, "x\"y"]}}, "n": -3});
        let n = Normalized::of(&v);
        assert_eq!(
            n.hash(),
            sha256(serde_json::to_string(&v).unwrap().as_bytes())
        );
        assert_eq!(n.value(), v);
        let pretty = serde_json::to_string_pretty(&n).unwrap();
        assert_eq!(pretty, serde_json::to_string_pretty(&v).unwrap());
        let back: Normalized = serde_json::from_str(&pretty).unwrap();
        assert_eq!(back, n);
        assert_eq!(n.facts().name, "b");
    }

    #[test]
    fn canonical_sorts_keys_but_keeps_ext_order() {
        let v = json!({"b": 1, "a": {"ext": {"z": 1, "a": 2}, "y": 1, "x": 2}});
        let c = canonical(&v, false);
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"a":{"ext":{"z":1,"a":2},"x":2,"y":1},"b":1}"#
        );
    }

    #[test]
    fn leaves_by_dotted_path() {
        let v = json!({"a": {"b": [1, {"c": "x"}]}, "e": {}});
        let l = leaves(&v);
        assert_eq!(
            l,
            vec![
                ("a.b[0]".into(), json!(1)),
                ("a.b[1].c".into(), json!("x")),
                ("e".into(), json!({}))
            ]
        );
    }

    #[test]
    fn facts_read_identity_and_schedule() {
        let f = Facts::of(&json!({
            "name": "digest", "app": "prod", "sdkappid": 1400000000,
            "previous_names": ["weekly"],
            "schedule": {"cron": "0 10 * * MON", "timezone": "Asia/Shanghai", "start": "2026-12-01", "grace": "1h"},
            "policy_exceptions": {"all_users": "why"},
            "message": {"body": [{"text": "hi"}]}
        }));
        assert_eq!(f.sdkappid, 1_400_000_000);
        assert_eq!(f.previous_names, ["weekly"]);
        assert!(!f.is_once());
        assert_eq!(f.zone(), chrono_tz::Asia::Shanghai);
        let first = f.schedule().unwrap().first().unwrap();
        assert_eq!(f.local(first.at), "2026-12-07T10:00:00+08:00");
        assert_eq!(f.policy_exceptions["all_users"], "why");
        assert!(f.audience.is_none(), "absent in this value");
        let f = Facts::of(&json!({"name": "x", "audience": {"tags": {"any": ["vip"]}}}));
        assert!(matches!(
            f.audience.as_deref(),
            Some(crate::spec::campaign::Audience::Tags(_))
        ));
        // A value of the wrong shape reads as empty facts, never a panic.
        assert_eq!(Facts::of(&json!({"sdkappid": "x"})), Facts::default());
    }

    #[test]
    fn sha256_prefix() {
        assert_eq!(
            sha256(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
