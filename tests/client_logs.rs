//! The client's log lines carry no UserSig and no secret key, at every level.
//!
//! A test binary of its own: tracing caches callsite interest process-wide, so a thread-local
//! subscriber is only reliable when no other test logs concurrently.
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_macros,
    reason = "tests and benchmarks read files, the clock and the environment, and print"
)]

use chrono::DateTime;
use crier::api::client::{Client, ClientOptions};
use crier::api::usersig;
use crier::clock::ManualClock;
use crier::secrets::MapSecrets;
use crier::settings::{AppSettings, Endpoint};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
const T0: i64 = 1_700_000_000;

#[derive(Clone, Default)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn client(url: String) -> Client {
    let app = AppSettings {
        name: "prod".to_owned(),
        sdkappid: 1_400_000_000,
        endpoint: Endpoint::Url(url),
        admin: "admin".to_owned(),
        secret_key_env: "K".to_owned(),
        attributes: vec![],
        daily_quota: 100,
        quota_timezone: chrono_tz::Asia::Shanghai,
        min_interval: Duration::from_millis(1100),
        ca_file: None,
        reach_estimate: None,
        paused: false,
    };
    let clock = Arc::new(ManualClock::new(DateTime::from_timestamp(T0, 0).unwrap()));
    let options = ClientOptions {
        timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(1),
        ..ClientOptions::default()
    };
    Client::with_options(&app, &MapSecrets::default().with("K", KEY), clock, options).unwrap()
}

#[tokio::test]
async fn log_lines_carry_no_usersig() {
    let logs = LogBuf::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // One success: a server answering a single request.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while !buf.ends_with(b"{}") {
            let n = tcp.read(&mut chunk).await.unwrap();
            assert!(n > 0, "request cut short");
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = r#"{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}"#;
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        tcp.write_all(answer.as_bytes()).await.unwrap();
    });
    client(format!("http://{addr}"))
        .call("v4/timpush/push", "{}")
        .await
        .unwrap();

    // One failure: nothing listens any more.
    client(format!("http://{addr}"))
        .call("v4/timpush/push", "{}")
        .await
        .unwrap_err();

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("usersig=REDACTED"),
        "the URL is logged, redacted: {text}"
    );
    assert!(text.contains("request failed"), "{text}");
    let sig = usersig::generate(1_400_000_000, "admin", KEY, T0, 86_400, None);
    assert!(!text.contains(&sig), "UserSig leaked: {text}");
    assert!(!text.contains(KEY), "secret key leaked: {text}");
}
