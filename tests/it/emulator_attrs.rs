//! The attribute and tag APIs (current and legacy names), their limits and rate, and their
//! effect on who a push reaches.

use crate::support::emulator::{config, push_body, start};
use serde_json::{Value, json};

async fn recipients_of(emu: &crate::support::emulator::Emu, msg_random: u32, cond: Value) -> Value {
    let mut body = push_body(msg_random);
    body["Condition"] = cond;
    let v = emu.call("v4/timpush/push", &body).await;
    assert_eq!(v["ErrorCode"], 0, "{v}");
    emu.pushes().await.last().unwrap()["recipient_sample"].clone()
}

#[tokio::test]
async fn attribute_names_round_trip_with_their_rules() {
    let emu = start(config()).await;
    let v = emu.call("v4/timpush/get_attr_name", &json!({})).await;
    assert_eq!(v["AttrNames"], json!({"0": "city", "1": "level"}));
    assert_eq!(v["AttrTypes"], json!({"0": 0, "1": 0}));
    let legacy = emu
        .call("v4/all_member_push/im_get_attr_name", &json!({}))
        .await;
    assert_eq!(legacy["AttrNames"], json!({"0": "city", "1": "level"}));
    assert!(legacy.get("AttrTypes").is_none());
    assert_eq!(
        emu.code(
            "v4/timpush/set_attr_name",
            &json!({"AttrNames": {"2": "country"}})
        )
        .await,
        0
    );
    let dup = emu
        .call(
            "v4/timpush/set_attr_name",
            &json!({"AttrNames": {"3": "city"}}),
        )
        .await;
    assert_eq!(
        (dup["ErrorCode"].as_u64(), dup["ErrorInfo"].as_str()),
        (Some(90033), Some("attrName:city already exists at index:0"))
    );
    assert_eq!(
        emu.code(
            "v4/timpush/set_attr_name",
            &json!({"AttrNames": {"10": "x"}})
        )
        .await,
        90033
    );
    assert_eq!(
        emu.code(
            "v4/timpush/set_attr_name",
            &json!({"AttrNames": {"4": "x".repeat(51)}})
        )
        .await,
        90033
    );
    assert_eq!(
        emu.code(
            "v4/all_member_push/im_set_attr_name",
            &json!({"AttrNames": {"4": "x".repeat(50)}})
        )
        .await,
        0
    );
    let v = emu.call("v4/timpush/get_attr_name", &json!({})).await;
    assert_eq!(v["AttrNames"].as_object().unwrap().len(), 4);
    // A push may now use the new name.
    assert_eq!(
        recipients_of(&emu, 1, json!({"AttrsOr": {"country": "CN"}})).await,
        json!([])
    );
}

#[tokio::test]
async fn user_attributes_set_get_remove() {
    let emu = start(config()).await;
    let set = json!({"UserAttrs": [{"To_Account": "u4", "Attrs": {"city": "BJ", "level": "Gold"}},
                                   {"To_Account": "newbie", "Attrs": {"city": "BJ"}}]});
    assert_eq!(emu.code("v4/timpush/set_attr", &set).await, 0);
    let v = emu
        .call(
            "v4/timpush/get_attr",
            &json!({"To_Account": ["u4", "newbie", "ghost"]}),
        )
        .await;
    assert_eq!(
        v["UserAttrs"],
        json!([{"To_Account": "u4", "Attrs": {"city": "BJ", "level": "Gold"}},
                                       {"To_Account": "newbie", "Attrs": {"city": "BJ"}}])
    );
    assert_eq!(v["ErrorList"][0]["ErrorCode"], 70107);
    assert_eq!(
        recipients_of(&emu, 1, json!({"AttrsOr": {"city": "BJ"}})).await,
        json!(["u2", "u4", "newbie"])
    );
    let rm = json!({"UserAttrs": [{"To_Account": "u4", "Attrs": ["city"]}]});
    assert_eq!(emu.code("v4/all_member_push/im_remove_attr", &rm).await, 0);
    assert_eq!(
        recipients_of(&emu, 2, json!({"AttrsOr": {"city": "BJ"}})).await,
        json!(["u2", "newbie"])
    );
    let legacy = emu
        .call(
            "v4/all_member_push/im_get_attr",
            &json!({"To_Account": ["u4"]}),
        )
        .await;
    assert_eq!(
        legacy["UserAttrs"],
        json!([{"To_Account": "u4", "Attrs": {"level": "Gold"}}])
    );
    // Limits.
    let unknown = json!({"UserAttrs": [{"To_Account": "u1", "Attrs": {"country": "CN"}}]});
    assert_eq!(emu.code("v4/timpush/set_attr", &unknown).await, 90033);
    let long = json!({"UserAttrs": [{"To_Account": "u1", "Attrs": {"city": "x".repeat(51)}}]});
    assert_eq!(emu.code("v4/timpush/set_attr", &long).await, 90033);
    let many: Vec<Value> = (0..101)
        .map(|i| json!({"To_Account": format!("x{i}"), "Attrs": {"city": "A"}}))
        .collect();
    assert_eq!(
        emu.code("v4/timpush/set_attr", &json!({"UserAttrs": many}))
            .await,
        90018
    );
    let ids: Vec<String> = (0..101).map(|i| format!("x{i}")).collect();
    assert_eq!(
        emu.code("v4/timpush/get_attr", &json!({"To_Account": ids}))
            .await,
        90018
    );
    assert_eq!(
        emu.code(
            "v4/timpush/remove_attr",
            &json!({"UserAttrs": [{"To_Account": "u1", "Attrs": ["nope"]}]})
        )
        .await,
        90033
    );
    assert_eq!(
        emu.code("v4/timpush/set_attr", &json!({"UserAttrs": "x"}))
            .await,
        90010
    );
}

#[tokio::test]
async fn user_tags_add_get_remove_clear() {
    let emu = start(config()).await;
    let add = json!({"UserTags": [{"To_Account": "u4", "Tags": ["vip", "new"]}]});
    assert_eq!(emu.code("v4/timpush/add_tag", &add).await, 0);
    let v = emu
        .call("v4/timpush/get_tag", &json!({"To_Account": ["u4", "u1"]}))
        .await;
    assert_eq!(
        v["UserTags"],
        json!([{"To_Account": "u4", "Tags": ["vip", "new"]}, {"To_Account": "u1", "Tags": ["vip", "a"]}])
    );
    assert_eq!(
        recipients_of(&emu, 1, json!({"TagsOr": ["vip"]})).await,
        json!(["u1", "u2", "u4"])
    );
    let rm = json!({"UserTags": [{"To_Account": "u1", "Tags": ["vip"]}, {"To_Account": "ghost", "Tags": ["vip"]}]});
    let v = emu.call("v4/all_member_push/im_remove_tag", &rm).await;
    assert_eq!(v["ErrorList"][0]["To_Account"], "ghost");
    assert_eq!(
        recipients_of(&emu, 2, json!({"TagsOr": ["vip"]})).await,
        json!(["u2", "u4"])
    );
    assert_eq!(
        emu.code("v4/timpush/clear_all_tags", &json!({"To_Account": ["u2"]}))
            .await,
        0
    );
    assert_eq!(
        emu.code(
            "v4/all_member_push/im_remove_all_tags",
            &json!({"To_Account": ["u4"]})
        )
        .await,
        0
    );
    assert_eq!(
        recipients_of(&emu, 3, json!({"TagsOr": ["vip"]})).await,
        json!([])
    );
    assert_eq!(
        recipients_of(&emu, 4, json!({"TagsNot": ["a", "b"]})).await,
        json!(["u2", "u4"])
    );
    // Replace (current API only) overwrites the user's tags.
    let replace = json!({"Replace": 1, "UserTags": [{"To_Account": "u5", "Tags": ["z"]}]});
    assert_eq!(emu.code("v4/timpush/add_tag", &replace).await, 0);
    assert_eq!(
        emu.call("v4/timpush/get_tag", &json!({"To_Account": ["u5"]}))
            .await["UserTags"][0]["Tags"],
        json!(["z"])
    );
    assert_eq!(
        emu.code("v4/timpush/clear_all_tags", &json!({"To_Account": []}))
            .await,
        90018
    );
}

#[tokio::test]
async fn tag_limits() {
    let mut cfg = config();
    cfg.rate_limits = false;
    let emu = start(cfg).await;
    let add = |account: &str, tags: Vec<String>| json!({"UserTags": [{"To_Account": account, "Tags": tags}]});
    let n = |prefix: &str, range: std::ops::Range<usize>| {
        range.map(|i| format!("{prefix}{i}")).collect::<Vec<_>>()
    };
    assert_eq!(
        emu.code("v4/timpush/add_tag", &add("u1", n("t", 0..11)))
            .await,
        90032,
        "10 per user per call"
    );
    assert_eq!(
        emu.code("v4/timpush/add_tag", &add("u1", vec![String::new()]))
            .await,
        90040
    );
    assert_eq!(
        emu.code("v4/timpush/add_tag", &add("u1", vec!["x".repeat(51)]))
            .await,
        90020
    );
    assert_eq!(
        emu.code("v4/timpush/add_tag", &add("u1", vec!["x".repeat(50)]))
            .await,
        0
    );
    let users: Vec<Value> = (0..101)
        .map(|i| json!({"To_Account": format!("x{i}"), "Tags": ["a"]}))
        .collect();
    assert_eq!(
        emu.code("v4/timpush/add_tag", &json!({"UserTags": users}))
            .await,
        90018,
        "100 users per call"
    );
    // 100 tags per user: u1 has 3; 9 calls of 10 make 93, then 8 more is 101.
    for k in 0..9 {
        assert_eq!(
            emu.code(
                "v4/timpush/add_tag",
                &add("u1", n(&format!("p{k}-"), 0..10))
            )
            .await,
            0
        );
    }
    assert_eq!(
        emu.code("v4/timpush/add_tag", &add("u1", n("q", 0..8)))
            .await,
        90032,
        "100 tags per user"
    );
    assert_eq!(
        emu.code("v4/timpush/add_tag", &add("u1", n("q", 0..7)))
            .await,
        0
    );
    // 1,000 distinct tags per app.
    let mut distinct = emu
        .handle
        .with_users(crate::support::emulator::APP, |u| u.live_tag_count())
        .unwrap();
    let mut i = 0;
    while distinct + 10 <= 1000 {
        assert_eq!(
            emu.code(
                "v4/timpush/add_tag",
                &add(&format!("filler{i}"), n(&format!("f{i}-"), 0..10))
            )
            .await,
            0
        );
        distinct += 10;
        i += 1;
    }
    let room = 1000 - distinct;
    assert_eq!(
        emu.code("v4/timpush/add_tag", &add("last", n("g", 0..room + 1)))
            .await,
        90032,
        "1,000 tags per app"
    );
    assert_eq!(
        emu.code("v4/timpush/add_tag", &add("last", n("g", 0..room)))
            .await,
        0
    );
    assert_eq!(
        emu.handle
            .with_users(crate::support::emulator::APP, |u| u.live_tag_count()),
        Some(1000)
    );
    assert_eq!(
        emu.code("v4/timpush/add_tag", &add("last2", vec!["vip".into()]))
            .await,
        0,
        "existing tags are fine"
    );
}

#[tokio::test]
async fn attribute_and_tag_calls_are_limited_to_100_per_second() {
    let emu = start(config()).await;
    let body = json!({"To_Account": ["u1"]});
    // 110 calls at once: 100 pass, the rest hit the limit (the window is a sliding second).
    let url = format!("{}/v4/timpush/get_tag?{}", emu.base, emu.query());
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..110 {
        let (client, url) = (emu.client.clone(), url.clone());
        set.spawn(async move {
            let v: Value = client
                .post(url)
                .body(r#"{"To_Account":["u1"]}"#)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["ErrorCode"].as_u64().unwrap()
        });
    }
    let codes = set.join_all().await;
    let ok = codes.iter().filter(|c| **c == 0).count();
    assert!(codes.iter().all(|c| *c == 0 || *c == 60007), "{codes:?}");
    assert!(ok >= 100 && codes.len() - ok >= 1, "{ok} passed");
    // Another API has its own window.
    assert_eq!(emu.code("v4/timpush/get_attr", &body).await, 0);

    let mut cfg = config();
    cfg.rate_limits = false;
    let free = start(cfg).await;
    for _ in 0..150 {
        assert_eq!(free.code("v4/timpush/get_tag", &body).await, 0);
    }
}
