//! What a reviewer reads about one changed campaign, beyond its field diff: the schedule in words
//! with its next occurrences, the next message as it will be read (before → after), the policy
//! exceptions the change adds; and how two request bodies differ. Pure.

use super::model::{FieldChange, MessageView, NextOccurrence, ReadMessage, ScheduleView};
use super::normalize::{Facts, leaves};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// How many next occurrences a section shows.
pub const NEXT_OCCURRENCES: usize = 3;

/// The new schedule in words with its next occurrences at or after `at` (a one-off: its one
/// occurrence); the old one in words when it changed.
pub fn schedule_view(old: Option<&Facts>, new: &Facts, at: DateTime<Utc>) -> Option<ScheduleView> {
    let schedule = new.schedule()?;
    let words = crate::schedule::words::describe(&schedule);
    let zone = schedule.zone();
    // A one-off shows its one occurrence even when it is due now or past.
    let from = if schedule.is_cron() {
        at
    } else {
        DateTime::<Utc>::MIN_UTC
    };
    let next = schedule
        .occurrences(from, DateTime::<Utc>::MAX_UTC)
        .take(NEXT_OCCURRENCES)
        .map(|o| NextOccurrence {
            local: format!("{} {}", o.local.format("%Y-%m-%d %H:%M"), zone.name()),
            utc: o.at,
        })
        .collect();
    let before = old
        .and_then(Facts::schedule)
        .map(|s| crate::schedule::words::describe(&s))
        .filter(|b| *b != words);
    Some(ScheduleView {
        words,
        before,
        next,
    })
}

/// The message of two next requests as read; `None` when neither could be rendered.
pub fn message_view(old: Option<&Value>, new: Option<&Value>) -> Option<MessageView> {
    if old.is_none() && new.is_none() {
        return None;
    }
    Some(MessageView {
        before: old.map(read_message),
        after: new.map(read_message),
    })
}

/// What a person reads of a request body.
#[must_use]
pub fn read_message(request: &Value) -> ReadMessage {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let push = request.get("OfflinePushInfo");
    let elements = request
        .get("MsgBody")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(read_element).collect())
        .unwrap_or_default();
    ReadMessage {
        title: push.and_then(|p| text(p, "Title")),
        desc: push.and_then(|p| text(p, "Desc")),
        elements,
    }
}

fn read_element(e: &Value) -> String {
    let c = e.get("MsgContent").unwrap_or(&Value::Null);
    let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default();
    let n = |k: &str| c.get(k).and_then(Value::as_u64).unwrap_or_default();
    match e.get("MsgType").and_then(Value::as_str).unwrap_or_default() {
        "TIMTextElem" => s("Text").to_owned(),
        "TIMCustomElem" if !s("Desc").is_empty() => format!("[custom message: {}]", s("Desc")),
        "TIMCustomElem" => "[custom message]".to_owned(),
        "TIMImageElem" => "[image]".to_owned(),
        "TIMSoundElem" => format!("[voice message, {} s]", n("Second")),
        "TIMVideoFileElem" => format!("[video, {} s]", n("VideoSecond")),
        "TIMFileElem" => format!("[file {}]", s("FileName")),
        "TIMLocationElem" => format!("[location: {}]", s("Desc")),
        "TIMFaceElem" => "[sticker]".to_owned(),
        other => format!("[{other}]"),
    }
}

/// The `policy_exceptions` of `new` that `old` did not have with the same reason.
pub fn exceptions_added(old: Option<&Facts>, new: &Facts) -> BTreeMap<String, String> {
    new.policy_exceptions
        .iter()
        .filter(|(rule, reason)| old.and_then(|o| o.policy_exceptions.get(*rule)) != Some(*reason))
        .map(|(rule, reason)| (rule.clone(), reason.clone()))
        .collect()
}

/// How request body `other` differs from `first`, field by field, MsgRandom aside (every
/// occurrence has its own). Bodies that are not JSON differ as a whole.
#[must_use]
pub fn body_diff(first: &str, other: &str) -> Vec<FieldChange> {
    let parse = |s: &str| serde_json::from_str::<Value>(s).ok();
    let (Some(a), Some(b)) = (parse(first), parse(other)) else {
        return if first == other {
            Vec::new()
        } else {
            vec![FieldChange {
                path: "(body)".into(),
                old: Some(Value::from(first)),
                new: Some(Value::from(other)),
            }]
        };
    };
    let a: BTreeMap<String, Value> = leaves(&a).into_iter().collect();
    let b: BTreeMap<String, Value> = leaves(&b).into_iter().collect();
    let paths: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    paths
        .into_iter()
        .filter(|p| p.as_str() != "MsgRandom" && a.get(*p) != b.get(*p))
        .map(|p| FieldChange {
            path: p.clone(),
            old: a.get(p).cloned(),
            new: b.get(p).cloned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{body_diff, exceptions_added, read_message};
    use serde_json::json;

    #[test]
    fn a_request_reads_as_title_desc_and_elements() {
        let r = read_message(&json!({
            "MsgBody": [
                {"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}},
                {"MsgType": "TIMSoundElem", "MsgContent": {"Second": 6}},
                {"MsgType": "TIMCustomElem", "MsgContent": {"Data": "{}", "Desc": "digest"}}
            ],
            "OfflinePushInfo": {"Title": "T", "Desc": "D"}
        }));
        assert_eq!(r.title.as_deref(), Some("T"));
        assert_eq!(r.desc.as_deref(), Some("D"));
        assert_eq!(
            r.elements,
            ["hi", "[voice message, 6 s]", "[custom message: digest]"]
        );
    }

    #[test]
    fn bodies_differ_msg_random_aside() {
        let a = r#"{"MsgRandom":1,"MsgBody":[{"MsgContent":{"Text":"a"}}]}"#;
        let b = r#"{"MsgRandom":2,"MsgBody":[{"MsgContent":{"Text":"a"}}]}"#;
        let c = r#"{"MsgRandom":3,"MsgBody":[{"MsgContent":{"Text":"c"}}]}"#;
        assert!(body_diff(a, b).is_empty());
        let d = body_diff(a, c);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, "MsgBody[0].MsgContent.Text");
    }

    #[test]
    fn only_new_or_reworded_exceptions_are_added() {
        let old = json!({"policy_exceptions": {"all_users": "BF"}});
        let new = json!({"policy_exceptions": {"all_users": "BF", "quiet_hours": "night"}});
        let (old, new) = (super::Facts::of(&old), super::Facts::of(&new));
        let added = exceptions_added(Some(&old), &new);
        assert_eq!(added.len(), 1);
        assert_eq!(added["quiet_hours"], "night");
        assert_eq!(exceptions_added(None, &old).len(), 1);
    }
}
