//! Shared helpers for the emulator's tests: an in-process emulator and a plain reqwest client
//! (never crier's own client).

use crier::api::usersig;
use crier::emulator::{self, AppConfig, EmulatorConfig, EmulatorHandle, UserRecord, UserSeed};
use serde_json::{Value, json};
use std::time::Duration;

pub const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
pub const APP: u64 = 1_400_000_000;
pub const ADMIN: &str = "admin";

pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// u1 vip,a city=SZ · u2 vip city=BJ · u3 b · u4 (nothing) · u5 a,b city=SZ level=Gold
pub fn records() -> Vec<UserRecord> {
    let lines = r#"{"id":"u1","tags":["vip","a"],"attrs":{"city":"SZ"}}
{"id":"u2","tags":["vip"],"attrs":{"city":"BJ"}}
{"id":"u3","tags":["b"]}
{"id":"u4"}
{"id":"u5","tags":["a","b"],"attrs":{"city":"SZ","level":"Gold"}}"#;
    emulator::users::parse_users_jsonl(lines).unwrap()
}

/// One app with the test users, attribute names city and level, no pacing, dedup 1 s.
pub fn config() -> EmulatorConfig {
    let mut app = AppConfig::new(APP, ADMIN, KEY);
    app.attr_names = vec!["city".into(), "level".into()];
    app.min_interval = Duration::ZERO;
    app.users = UserSeed::Records(records());
    EmulatorConfig::new(vec![app])
}

pub struct Emu {
    pub handle: EmulatorHandle,
    pub client: reqwest::Client,
    pub base: String,
}

pub async fn start(config: EmulatorConfig) -> Emu {
    install_crypto();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = emulator::start(listener, config).await.unwrap();
    let base = handle.base_url();
    Emu {
        handle,
        client: reqwest::Client::new(),
        base,
    }
}

pub fn sig(sdkappid: u64, identifier: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    usersig::generate(sdkappid, identifier, KEY, now, 365 * 86_400, None)
}

impl Emu {
    /// The standard query for the admin of `APP`.
    pub fn query(&self) -> String {
        format!(
            "sdkappid={APP}&identifier={ADMIN}&usersig={}&random=12345&contenttype=json",
            sig(APP, ADMIN)
        )
    }

    /// POSTs raw bytes to `path?query` with no Content-Type; returns (HTTP status, JSON body).
    pub async fn raw(
        &self,
        path: &str,
        query: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("{}/{path}?{query}", self.base))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    /// A signed API call as the admin; asserts HTTP 200.
    pub async fn call(&self, path: &str, body: &Value) -> Value {
        let (status, v) = self.raw(path, &self.query(), body.to_string()).await;
        assert_eq!(status, 200);
        v
    }

    pub async fn code(&self, path: &str, body: &Value) -> u64 {
        self.call(path, body).await["ErrorCode"].as_u64().unwrap()
    }

    pub async fn get(&self, path: &str) -> Value {
        self.client
            .get(format!("{}/{path}", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> Value {
        self.client
            .post(format!("{}/{path}", self.base))
            .json(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn pushes(&self) -> Vec<Value> {
        self.get("emulator/pushes").await["pushes"]
            .as_array()
            .unwrap()
            .clone()
    }

    pub async fn stats(&self) -> Value {
        self.get("emulator/stats").await
    }
}

/// A minimal valid push body.
pub fn push_body(msg_random: u32) -> Value {
    json!({"MsgRandom": msg_random, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]})
}
