//! crier's own client against `crier emulator` (in-process): over plain HTTP and through TLS with
//! the emulator's generated certificate trusted via `ca_file`; the request the emulator records is
//! byte for byte the body crier rendered.

use crier::api::client::{CallError, Client};
use crier::api::wire::paths;
use crier::clock::SystemClock;
use crier::emulator::{AppConfig, EmulatorConfig, UserSeed};
use crier::secrets::MapSecrets;
use crier::settings::{AppSettings, Endpoint};
use std::sync::Arc;
use std::time::Duration;

const KEY: &str = "emulator-test-secret";

fn app(base_url: &str, ca_file: Option<std::path::PathBuf>) -> AppSettings {
    AppSettings {
        name: "prod".into(),
        sdkappid: 1_400_000_000,
        endpoint: Endpoint::Url(base_url.to_owned()),
        admin: "administrator".into(),
        secret_key_env: "CRIER_TEST_KEY".into(),
        attributes: vec![],
        daily_quota: 100,
        quota_timezone: chrono_tz::Asia::Shanghai,
        min_interval: Duration::from_millis(10),
        ca_file,
        reach_estimate: None,
        paused: false,
    }
}

fn emulator_config(tls: bool, cert_out: Option<std::path::PathBuf>) -> EmulatorConfig {
    let mut a = AppConfig::new(1_400_000_000, "administrator", KEY);
    a.min_interval = Duration::from_millis(10);
    a.users = UserSeed::Generate { count: 50, seed: 1 };
    let mut c = EmulatorConfig::new(vec![a]);
    c.tls_self_signed = tls;
    c.cert_out = cert_out;
    c
}

const BODY: &str = r#"{"MsgRandom":7,"OnlineOnlyFlag":0,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"héllo"}}]}"#;

#[tokio::test]
async fn a_push_over_http_is_recorded_byte_for_byte() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let emu = crier::emulator::start(listener, emulator_config(false, None))
        .await
        .unwrap();
    let secrets = MapSecrets::default().with("CRIER_TEST_KEY", KEY);
    let client = Client::new(&app(&emu.base_url(), None), &secrets, Arc::new(SystemClock)).unwrap();
    let reply = client.call(paths::PUSH, BODY).await.unwrap();
    assert_eq!(reply.error_code, 0);
    let task_id = reply.task_id.unwrap();
    let pushes = emu.pushes();
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].task_id, task_id);
    assert_eq!(serde_json::to_string(&pushes[0].body).unwrap(), BODY);
    assert_eq!(pushes[0].recipients, 50);
    // The same MsgRandom again inside the dedup window: the first TaskId, nothing delivered.
    let again = client.call(paths::PUSH, BODY).await;
    match again {
        Ok(r) => assert_eq!(r.task_id.as_deref(), Some(task_id.as_str())),
        Err(CallError::Api { code, .. }) => {
            assert_eq!(code, 90024, "interval, if the dedup window passed")
        }
        Err(e) => panic!("{e}"),
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn a_push_through_tls_with_the_generated_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("emulator-ca.pem");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let emu = crier::emulator::start(listener, emulator_config(true, Some(ca.clone())))
        .await
        .unwrap();
    assert!(emu.base_url().starts_with("https://"), "{}", emu.base_url());
    let secrets = MapSecrets::default().with("CRIER_TEST_KEY", KEY);
    let client = Client::new(
        &app(&emu.base_url(), Some(ca)),
        &secrets,
        Arc::new(SystemClock),
    )
    .unwrap();
    let reply = client.call(paths::PUSH, BODY).await.unwrap();
    assert_eq!(reply.error_code, 0, "{reply:?}");
    // Without trusting the CA the handshake fails before anything is written.
    let untrusting =
        Client::new(&app(&emu.base_url(), None), &secrets, Arc::new(SystemClock)).unwrap();
    let err = untrusting.call(paths::PUSH, BODY).await.unwrap_err();
    assert!(matches!(err, CallError::NotSent { .. }), "{err}");
    assert!(!err.to_string().contains(KEY));
    emu.shutdown().await;
}

#[tokio::test]
async fn a_wrong_key_is_refused_with_70009() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let emu = crier::emulator::start(listener, emulator_config(false, None))
        .await
        .unwrap();
    let secrets = MapSecrets::default().with("CRIER_TEST_KEY", "not-the-key");
    let client = Client::new(&app(&emu.base_url(), None), &secrets, Arc::new(SystemClock)).unwrap();
    match client.call(paths::PUSH, BODY).await {
        Err(CallError::Api { code, .. }) => assert_eq!(code, 70009),
        other => panic!("{other:?}"),
    }
    assert!(emu.pushes().is_empty());
    emu.shutdown().await;
}
