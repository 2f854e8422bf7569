//! Push, legacy push and batch over real HTTP: the check order, recipients, deduplication,
//! interval, quota and the inspection endpoints.

use crate::support::emulator::{APP, config, push_body, start};
use serde_json::{Value, json};
use std::time::Duration;

const PUSH: &str = "v4/timpush/push";

fn with(mut body: Value, key: &str, v: Value) -> Value {
    body[key] = v;
    body
}

#[tokio::test]
async fn each_check_answers_its_code_in_order() {
    let emu = start(config()).await;
    let text = |t: &str| json!([{"MsgType": "TIMTextElem", "MsgContent": {"Text": t}}]);
    let cases: Vec<(Value, u64)> = vec![
        (json!("not an object"), 90001),
        (json!({"MsgBody": "x", "Condition": 5}), 90005),
        (json!({"MsgRandom": "1", "MsgBody": "x"}), 90005),
        (
            json!({"MsgRandom": 1, "MsgBody": {"a": 1}, "Condition": 5}),
            90007,
        ),
        (json!({"MsgRandom": 1}), 90007),
        (
            json!({"MsgRandom": 1, "MsgBody": [{"MsgType": "TIMBogusElem", "MsgContent": {}}], "Condition": 5}),
            90002,
        ),
        (
            json!({"MsgRandom": 1, "MsgBody": [{"MsgType": "TIMSoundElem", "MsgContent": {"Url": "u", "UUID": "i", "Download_Flag": 1}}]}),
            90002,
        ),
        (
            json!({"MsgRandom": 1, "MsgBody": [{"MsgType": "TIMCustomElem", "MsgContent": {}}, {"MsgType": "TIMCustomElem", "MsgContent": {}}]}),
            90002,
        ),
        (
            json!({"MsgRandom": 1, "MsgBody": text("x"), "Condition": {"TagsOr": ["a"], "AttrsOr": {"city": "SZ"}}, "MsgLifeTime": 1e9}),
            90039,
        ),
        (
            json!({"MsgRandom": 1, "MsgBody": text("x"), "Condition": {"TagsOr": (0..11).map(|i| i.to_string()).collect::<Vec<_>>()}}),
            90032,
        ),
        (
            json!({"MsgRandom": 1, "MsgBody": text("x"), "Condition": {"TagsAnd": [""]}}),
            90040,
        ),
        (
            json!({"MsgRandom": 1, "MsgBody": text("x"), "Condition": {"TagsNot": ["x".repeat(51)]}}),
            90020,
        ),
        (
            json!({"MsgRandom": 1, "MsgBody": text("x"), "Condition": {"TagsOr": ["a"], "TagsNot": ["a"]}}),
            90022,
        ),
        (
            json!({"MsgRandom": 1, "MsgBody": text("x"), "Condition": {"AttrsAnd": {"country": "CN"}}, "MsgLifeTime": 1e9}),
            90033,
        ),
        (
            json!({"MsgRandom": 1, "MsgBody": text(&"x".repeat(20_000)), "MsgLifeTime": 604_801}),
            90026,
        ),
        (
            json!({"MsgRandom": 1, "MsgBody": text(&"x".repeat(20_000)), "MsgLifeTime": 604_800}),
            90056,
        ),
        (
            json!({"MsgRandom": 1, "MsgBody": text("x"), "DataId": "d".repeat(65)}),
            90057,
        ),
    ];
    for (body, want) in cases {
        assert_eq!(emu.code(PUSH, &body).await, want, "{body}");
    }
    let (status, v) = emu.raw(PUSH, &emu.query(), "{not json").await;
    assert_eq!((status, v["ErrorCode"].as_u64()), (200, Some(90001)));
    assert!(emu.pushes().await.is_empty(), "nothing refused is recorded");
    assert_eq!(emu.stats().await["accepted"], 0);
}

#[tokio::test]
async fn recipients_follow_the_condition_and_null_is_absent() {
    let emu = start(config()).await;
    let cases = [
        (Value::Null, vec!["u1", "u2", "u3", "u4", "u5"]),
        (
            json!({"TagsOr": ["vip", "b"], "TagsAnd": null, "AttrsOr": null, "AttrsAnd": null}),
            vec!["u1", "u2", "u3", "u5"],
        ),
        (json!({"TagsAnd": ["a", "b"]}), vec!["u5"]),
        (json!({"TagsNot": ["vip", "b"]}), vec!["u4"]),
        (json!({"TagsOr": ["a"], "TagsNot": ["vip"]}), vec!["u5"]),
        (
            json!({"AttrsOr": {"city": "BJ", "level": "Gold"}}),
            vec!["u2", "u5"],
        ),
        (
            json!({"AttrsAnd": {"city": "SZ", "level": "Gold"}}),
            vec!["u5"],
        ),
        (json!({"TagsOr": ["nobody-has-this"]}), vec![]),
    ];
    for (i, (cond, want)) in cases.iter().enumerate() {
        let body = with(
            push_body(100 + u32::try_from(i).unwrap()),
            "Condition",
            cond.clone(),
        );
        let v = emu.call(PUSH, &body).await;
        assert_eq!(v["ErrorCode"], 0, "{v}");
        let task = v["TaskId"].as_str().unwrap().to_owned();
        let pushes = emu.pushes().await;
        let p = pushes.last().unwrap();
        assert_eq!(p["task_id"], task.as_str());
        assert_eq!(p["recipients"], want.len(), "{cond}");
        assert_eq!(p["recipient_sample"], json!(want), "{cond}");
        assert_eq!(p["body"], body, "the request as received");
    }
    let p = &emu.pushes().await[0];
    assert_eq!(p["app"], APP);
    assert_eq!(p["path"], PUSH);
    assert_eq!(p["msg_random"], 100);
    let at = p["received_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(at).is_ok()
            && at.len() == "2026-01-01T00:00:00.000Z".len(),
        "{at}"
    );
    let task = p["task_id"].as_str().unwrap();
    let parts: Vec<&str> = task.split('_').collect();
    assert_eq!(parts.len(), 5, "{task}");
    assert_eq!(u64::from_str_radix(parts[1], 16).unwrap(), APP);
    assert_eq!(u64::from_str_radix(parts[4], 16).unwrap(), 100);
    assert!(
        parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
    );
}

#[tokio::test]
async fn push_plugin_variant_legacy_path_and_all_element_types() {
    let emu = start(config()).await;
    let plugin = json!({"MsgRandom": 1, "From_Account": "admin", "OfflinePushInfo": {"PushFlag": 0, "Title": "t", "Desc": "d"}});
    assert_eq!(emu.code(PUSH, &plugin).await, 0);
    // The legacy im_push has no plugin variant: MsgBody is required.
    assert_eq!(
        emu.code(
            "v4/all_member_push/im_push",
            &with(plugin, "MsgRandom", json!(2))
        )
        .await,
        90007
    );
    let body = json!({"MsgRandom": 3, "MsgLifeTime": 3600, "OnlineOnlyFlag": 0, "MsgBody": [
        {"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}},
        {"MsgType": "TIMLocationElem", "MsgContent": {"Desc": "Shop", "Latitude": 22.54, "Longitude": 114.06}},
        {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 1, "Data": "smile"}},
        {"MsgType": "TIMCustomElem", "MsgContent": {"Data": "{}", "Desc": "d", "Ext": "e", "Sound": "s"}},
        {"MsgType": "TIMSoundElem", "MsgContent": {"Url": "https://x", "UUID": "u", "Size": 1, "Second": 3, "Download_Flag": 2}},
        {"MsgType": "TIMImageElem", "MsgContent": {"UUID": "u", "ImageFormat": 3, "ImageInfoArray": [{"Type": 1, "Size": 1, "Width": 1, "Height": 1, "URL": "https://x"}]}},
        {"MsgType": "TIMFileElem", "MsgContent": {"Url": "https://x", "UUID": "u", "FileSize": 1, "FileName": "a.pdf", "Download_Flag": 2}},
        {"MsgType": "TIMVideoFileElem", "MsgContent": {"VideoUrl": "v", "VideoUUID": "v", "VideoSize": 1, "VideoSecond": 1, "VideoFormat": "mp4", "VideoDownloadFlag": 2,
            "ThumbUrl": "t", "ThumbUUID": "t", "ThumbSize": 1, "ThumbWidth": 1, "ThumbHeight": 1, "ThumbFormat": "jpg", "ThumbDownloadFlag": 2}}]});
    let v = emu.call("v4/all_member_push/im_push", &body).await;
    assert_eq!(v["ErrorCode"], 0, "{v}");
    let task = v["TaskId"].as_str().unwrap();
    assert!(
        task.starts_with(&format!("{APP}_"))
            && task
                .split('_')
                .all(|p| p.chars().all(|c| c.is_ascii_digit())),
        "{task}"
    );
    assert_eq!(emu.pushes().await[1]["path"], "v4/all_member_push/im_push");
}

#[tokio::test]
async fn a_repeated_msg_random_inside_the_window_answers_the_first_task_id() {
    let emu = start(config()).await;
    let first = emu.call(PUSH, &push_body(42)).await;
    let again = emu.call(PUSH, &push_body(42)).await;
    assert_eq!(again["ErrorCode"], 0);
    assert_eq!(again["TaskId"], first["TaskId"]);
    assert_eq!(emu.pushes().await.len(), 1, "a duplicate delivers nothing");
    let s = emu.stats().await;
    assert_eq!(
        (s["accepted"].as_u64(), s["deduplicated"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(s["quota_used"][APP.to_string()], 1);
    // After the 1 s window the same MsgRandom is a new push.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = emu.call(PUSH, &push_body(42)).await;
    assert_ne!(later["TaskId"], first["TaskId"]);
    assert_eq!(emu.pushes().await.len(), 2);
}

#[tokio::test]
async fn a_seven_day_window_holds_until_the_clock_passes_it() {
    let mut cfg = config();
    cfg.dedup_window = Duration::from_secs(7 * 86_400);
    let emu = start(cfg).await;
    let first = emu.call(PUSH, &push_body(9)).await;
    emu.post("emulator/clock", &json!({"offset_seconds": 6 * 86_400}))
        .await;
    assert_eq!(
        emu.call(PUSH, &push_body(9)).await["TaskId"],
        first["TaskId"]
    );
    emu.post("emulator/clock", &json!({"offset_seconds": 7 * 86_400 + 1}))
        .await;
    assert_ne!(
        emu.call(PUSH, &push_body(9)).await["TaskId"],
        first["TaskId"]
    );
}

#[tokio::test]
async fn pushes_closer_than_the_interval_are_refused() {
    let mut cfg = config();
    cfg.apps[0].min_interval = Duration::from_millis(300);
    let emu = start(cfg).await;
    assert_eq!(emu.code(PUSH, &push_body(1)).await, 0);
    assert_eq!(emu.code(PUSH, &push_body(2)).await, 90024);
    // A refused push does not restart the interval; dedup is checked before it.
    assert_eq!(emu.code(PUSH, &push_body(1)).await, 0);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(emu.code(PUSH, &push_body(2)).await, 0);
    assert_eq!(emu.stats().await["rejected"]["90024"], 1);
}

#[tokio::test]
async fn the_daily_quota_resets_at_midnight_in_the_quota_timezone() {
    let mut cfg = config();
    cfg.apps[0].daily_quota = 2;
    cfg.apps[0].quota_timezone = chrono_tz::UTC;
    let emu = start(cfg).await;
    // Put the emulator clock at 23:59:58 UTC today.
    let now = chrono::Utc::now();
    let target = now.date_naive().and_hms_opt(23, 59, 58).unwrap().and_utc();
    emu.post(
        "emulator/clock",
        &json!({"offset_seconds": (target - now).num_seconds()}),
    )
    .await;
    assert_eq!(emu.code(PUSH, &push_body(1)).await, 0);
    assert_eq!(emu.code(PUSH, &push_body(2)).await, 0);
    assert_eq!(emu.code(PUSH, &push_body(3)).await, 90047);
    assert_eq!(emu.stats().await["quota_used"][APP.to_string()], 2);
    emu.post(
        "emulator/clock",
        &json!({"offset_seconds": (target - now).num_seconds() + 5}),
    )
    .await;
    assert_eq!(emu.code(PUSH, &push_body(3)).await, 0);
    assert_eq!(emu.stats().await["quota_used"][APP.to_string()], 1);
}

#[tokio::test]
async fn reset_clears_pushes_counters_quota_and_dedup_but_not_users() {
    let mut cfg = config();
    cfg.apps[0].daily_quota = 1;
    let emu = start(cfg).await;
    let first = emu.call(PUSH, &push_body(5)).await;
    assert_eq!(emu.code(PUSH, &push_body(6)).await, 90047);
    assert_eq!(emu.post("emulator/reset", &json!({})).await["reset"], true);
    let s = emu.stats().await;
    assert_eq!(
        s,
        json!({"accepted": 0, "deduplicated": 0, "rejected": {}, "quota_used": {APP.to_string(): 0},
                         "injected_failures": 0, "dropped_responses": 0})
    );
    assert!(emu.pushes().await.is_empty());
    let again = emu.call(PUSH, &push_body(5)).await;
    assert_ne!(
        again["TaskId"], first["TaskId"],
        "dedup history was cleared"
    );
    assert_eq!(emu.pushes().await[0]["recipients"], 5, "users were kept");
}

#[tokio::test]
async fn batch_pushes_to_named_accounts() {
    let emu = start(config()).await;
    let body = json!({"From_Account": "admin", "To_Account": ["u1", "u3", "ghost"], "MsgRandom": 77,
                      "OfflinePushInfo": {"Title": "t", "Desc": "d"}});
    let v = emu.call("v4/timpush/batch", &body).await;
    assert_eq!(v["ErrorCode"], 0, "{v}");
    assert!(v["TaskId"].as_str().unwrap().starts_with("batch_"));
    assert_eq!(
        v["ErrorList"],
        json!([{"To_Account": "ghost", "ErrorCode": 70107, "ErrorInfo": "account does not exist"}])
    );
    let p = &emu.pushes().await[0];
    assert_eq!(
        (p["recipients"].as_u64(), p["path"].as_str()),
        (Some(2), Some("v4/timpush/batch"))
    );
    assert_eq!(p["recipient_sample"], json!(["u1", "u3"]));
    let many: Vec<String> = (0..501).map(|i| format!("x{i}")).collect();
    assert_eq!(
        emu.code(
            "v4/timpush/batch",
            &with(body.clone(), "To_Account", json!(many))
        )
        .await,
        90018
    );
    assert_eq!(
        emu.code(
            "v4/timpush/batch",
            &with(body.clone(), "To_Account", json!([]))
        )
        .await,
        90018
    );
    assert_eq!(
        emu.code(
            "v4/timpush/batch",
            &with(body.clone(), "MsgRandom", json!(null))
        )
        .await,
        90005
    );
    assert_eq!(
        emu.code(
            "v4/timpush/batch",
            &with(body.clone(), "DataId", json!("d".repeat(65)))
        )
        .await,
        90057
    );
    // Batch pushes do not use the all-member quota.
    assert_eq!(emu.stats().await["quota_used"][APP.to_string()], 0);
}
