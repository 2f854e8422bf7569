//! Fault injection, TLS end to end, recall and statistics.

use crate::support::emulator::{APP, config, push_body, start};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const PUSH: &str = "v4/timpush/push";

#[tokio::test]
async fn injected_failures_are_neither_accepted_nor_counted() {
    let emu = start(config()).await;
    let f = emu
        .post(
            "emulator/faults",
            &json!({"fail_rate": 1.0, "fail_code": 70169}),
        )
        .await;
    assert_eq!(
        f,
        json!({"fail_rate": 1.0, "fail_code": 70169, "latency_ms": 0, "drop_response_rate": 0.0})
    );
    let v = emu.call(PUSH, &push_body(1)).await;
    assert_eq!(
        (v["ActionStatus"].as_str(), v["ErrorCode"].as_u64()),
        (Some("FAIL"), Some(70169))
    );
    let s = emu.stats().await;
    assert_eq!(s["accepted"], 0);
    assert_eq!(s["rejected"], json!({}));
    assert_eq!(s["injected_failures"], 1);
    assert_eq!(s["quota_used"][APP.to_string()], 0);
    emu.post("emulator/faults", &json!({"fail_rate": 0.0}))
        .await;
    // The same MsgRandom is then accepted as a new push.
    assert_eq!(emu.code(PUSH, &push_body(1)).await, 0);
    let bad = emu
        .client
        .post(format!("{}/emulator/faults", emu.base))
        .body(r#"{"fail_rate": 2}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
}

#[tokio::test]
async fn latency_delays_the_response() {
    let mut cfg = config();
    cfg.faults.latency_ms = 300;
    let emu = start(cfg).await;
    let t = Instant::now();
    assert_eq!(emu.code(PUSH, &push_body(1)).await, 0);
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(emu.get("emulator/faults").await["latency_ms"], 300);
}

#[tokio::test]
async fn a_dropped_response_closes_the_connection_after_accepting_the_push() {
    let emu = start(config()).await;
    emu.post("emulator/faults", &json!({"drop_response_rate": 1.0}))
        .await;
    let err = emu
        .client
        .post(format!("{}/{PUSH}?{}", emu.base, emu.query()))
        .body(push_body(8).to_string())
        .send()
        .await
        .expect_err("no HTTP response at all");
    assert!(!err.is_timeout() && err.status().is_none(), "{err}");
    emu.post("emulator/faults", &json!({"drop_response_rate": 0.0}))
        .await;
    let pushes = emu.pushes().await;
    assert_eq!(pushes.len(), 1, "the push was accepted and recorded");
    let s = emu.stats().await;
    assert_eq!(
        (s["accepted"].as_u64(), s["dropped_responses"].as_u64()),
        (Some(1), Some(1))
    );
    // A retry with the same MsgRandom inside the window is a duplicate of the dropped push.
    let retry = emu.call(PUSH, &push_body(8)).await;
    assert_eq!(retry["TaskId"], pushes[0]["task_id"]);
}

#[tokio::test]
async fn https_with_the_generated_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.pem");
    let mut cfg = config();
    cfg.tls_self_signed = true;
    cfg.cert_out = Some(ca_path.clone());
    let emu = start(cfg).await;
    assert!(emu.base.starts_with("https://127.0.0.1:"), "{}", emu.base);
    assert_eq!(emu.handle.cert_path(), Some(ca_path.as_path()));
    let pem = std::fs::read(&ca_path).unwrap();
    assert_eq!(emu.handle.ca_pem().unwrap().as_bytes(), pem.as_slice());
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let url = format!("{}/{PUSH}?{}", emu.base, emu.query());
    let v: Value = trusting
        .post(&url)
        .body(push_body(3).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["ErrorCode"], 0, "{v}");
    let localhost = url.replace("127.0.0.1", "localhost");
    let v: Value = trusting
        .post(&localhost)
        .body("{}")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["ErrorCode"], 90005);
    assert!(
        emu.client.post(&url).body("{}").send().await.is_err(),
        "an untrusting client refuses the certificate"
    );
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn recall_rules() {
    let mut cfg = config();
    cfg.rate_limits = false;
    let emu = start(cfg).await;
    let task = emu.call(PUSH, &push_body(1)).await["TaskId"]
        .as_str()
        .unwrap()
        .to_owned();
    let opi = json!({"Title": "Recalled", "Desc": "withdrawn"});
    assert_eq!(
        emu.code("v4/timpush/revoke", &json!({"TaskId": task}))
            .await,
        90053
    );
    assert_eq!(
        emu.code(
            "v4/timpush/revoke",
            &json!({"TaskId": "nope", "OfflinePushInfo": opi})
        )
        .await,
        90049
    );
    assert_eq!(
        emu.code(
            "v4/timpush/revoke",
            &json!({"TaskId": task, "OfflinePushInfo": opi})
        )
        .await,
        0
    );
    assert!(emu.pushes().await[0]["recalled_at"].is_string());
    assert_eq!(
        emu.code(
            "v4/timpush/revoke",
            &json!({"TaskId": task, "OfflinePushInfo": opi})
        )
        .await,
        90050
    );
    let old = emu.call(PUSH, &push_body(2)).await["TaskId"]
        .as_str()
        .unwrap()
        .to_owned();
    emu.post("emulator/clock", &json!({"offset_seconds": 24 * 3600 + 1}))
        .await;
    assert_eq!(
        emu.code(
            "v4/timpush/revoke",
            &json!({"TaskId": old, "OfflinePushInfo": opi})
        )
        .await,
        90052
    );

    let limited = start(config()).await;
    let t = limited.call(PUSH, &push_body(1)).await["TaskId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        limited
            .code(
                "v4/timpush/revoke",
                &json!({"TaskId": t, "OfflinePushInfo": opi})
            )
            .await,
        0
    );
    assert_eq!(
        limited
            .code(
                "v4/timpush/revoke",
                &json!({"TaskId": t, "OfflinePushInfo": opi})
            )
            .await,
        90051
    );
}

#[tokio::test]
async fn statistics_per_task_and_overall() {
    let emu = start(config()).await;
    let mut body = push_body(1);
    body["Condition"] = json!({"TagsOr": ["vip"]});
    let task = emu.call(PUSH, &body).await["TaskId"]
        .as_str()
        .unwrap()
        .to_owned();
    let v = emu
        .call(
            "v4/timpush/all_member_push_statistics",
            &json!({"TaskID": [task, "unknown"]}),
        )
        .await;
    assert_eq!(v["ErrorCode"], 0, "{v}");
    assert_eq!(v["Results"][0]["TaskID"], task.as_str());
    assert_eq!(v["Results"][0]["TotalCount"], 2);
    assert_eq!(v["Results"][1]["TotalCount"], 0);
    assert_eq!(
        emu.code("v4/timpush/all_member_push_statistics", &json!({}))
            .await,
        60007,
        "1 call per second"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let six: Vec<String> = (0..6).map(|i| i.to_string()).collect();
    assert_eq!(
        emu.code(
            "v4/timpush/all_member_push_statistics",
            &json!({"TaskID": six})
        )
        .await,
        90018
    );
}

#[tokio::test]
async fn an_empty_condition_list_is_refused_never_read_as_everyone() {
    let emu = start(config()).await;
    for (condition, code) in [
        (json!({"TagsOr": []}), 90040),
        (json!({"TagsAnd": [], "TagsOr": ["a"]}), 90040),
        (json!({"TagsNot": []}), 90040),
        (json!({"AttrsOr": {}}), 90033),
        (json!({"AttrsAnd": {}}), 90033),
        (json!({}), 90040),
    ] {
        let mut body = push_body(7);
        body["Condition"] = condition.clone();
        assert_eq!(
            emu.code("v4/timpush/push", &body).await,
            code,
            "{condition}"
        );
    }
    assert!(emu.pushes().await.is_empty(), "nothing was delivered");
}

#[tokio::test]
async fn an_extreme_clock_offset_is_refused_and_the_emulator_keeps_answering() {
    let emu = start(config()).await;
    let resp = emu
        .client
        .post(format!("{}/emulator/clock", emu.base))
        .json(&json!({"offset_seconds": i64::MAX / 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let text = resp.text().await.unwrap();
    assert!(text.contains("out of range"), "{text}");
    // Still answering normally.
    assert_eq!(emu.code("v4/timpush/push", &push_body(8)).await, 0);
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let emu = start(config()).await;
    let addr = emu.base.trim_start_matches("http://").to_owned();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    tcp.write_all(b"POST /v4/timpush/push HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    // The server closes the connection after its header-read timeout (10 s).
    let read = tokio::time::timeout(Duration::from_secs(30), tcp.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the connection was held open");
    assert!(started.elapsed() >= Duration::from_secs(5));
}
