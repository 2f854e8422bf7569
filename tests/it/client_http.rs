//! The REST client against an in-test HTTP/1.1 server: the exact request, the UserSig cache and
//! every failure phase of campaign-format §4.

use chrono::{DateTime, TimeDelta, Utc};
use crier::api::client::{CallError, Client, ClientError, ClientOptions, display_url};
use crier::api::errors::ErrorClass;
use crier::api::usersig;
use crier::clock::ManualClock;
use crier::secrets::MapSecrets;
use crier::settings::{AppSettings, Endpoint, Region};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
const SDKAPPID: u64 = 1_400_000_000;
const T0: i64 = 1_700_000_000;

/// One request as the server read it.
#[derive(Debug, Clone)]
struct Seen {
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The query parameters, in order.
    fn query(&self) -> Vec<(String, String)> {
        let (_, q) = self.target.split_once('?').expect("a query string");
        q.split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').expect("key=value");
                (k.to_owned(), v.to_owned())
            })
            .collect()
    }

    fn param(&self, name: &str) -> String {
        self.query()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .expect(name)
    }
}

/// What the server does with a request.
#[derive(Debug, Clone)]
enum Act {
    Reply(u16, &'static str),
    /// Reads the request, then closes the connection without a byte of answer.
    Close,
    /// Reads the request, then waits this long before answering 200 OK.
    Stall(Duration),
}

/// Serves every connection with `act`, reporting each request read.
async fn server(act: Act) -> (SocketAddr, mpsc::UnboundedReceiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(connection(stream, act.clone(), tx.clone()));
        }
    });
    (addr, rx)
}

async fn connection(mut stream: TcpStream, act: Act, tx: mpsc::UnboundedSender<Seen>) {
    while let Some(seen) = read_request(&mut stream).await {
        let _ = tx.send(seen);
        let (status, body) = match &act {
            Act::Reply(status, body) => (*status, *body),
            Act::Close => return,
            Act::Stall(d) => {
                tokio::time::sleep(*d).await;
                (200, r#"{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}"#)
            }
        };
        let head = format!(
            "HTTP/1.1 {status} Whatever\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if stream.write_all(head.as_bytes()).await.is_err()
            || stream.write_all(body.as_bytes()).await.is_err()
        {
            return;
        }
    }
}

async fn read_request(stream: &mut TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let target = lines.next()?.split(' ').nth(1)?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Seen {
        target,
        headers,
        body,
    })
}

fn app(endpoint: Endpoint) -> AppSettings {
    AppSettings {
        name: "prod".to_owned(),
        sdkappid: SDKAPPID,
        endpoint,
        admin: "admin".to_owned(),
        secret_key_env: "CRIER_PROD_SECRET_KEY".to_owned(),
        attributes: vec![],
        daily_quota: 100,
        quota_timezone: chrono_tz::Asia::Shanghai,
        min_interval: Duration::from_millis(1100),
        ca_file: None,
        reach_estimate: None,
        paused: false,
    }
}

fn secrets() -> MapSecrets {
    MapSecrets::default().with("CRIER_PROD_SECRET_KEY", KEY)
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(T0, 0).unwrap()
}

fn fast() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_millis(600),
        connect_timeout: Duration::from_millis(300),
        ..ClientOptions::default()
    }
}

fn client_for(addr: SocketAddr, clock: Arc<ManualClock>) -> Client {
    Client::with_options(
        &app(Endpoint::Url(format!("http://{addr}"))),
        &secrets(),
        clock,
        fast(),
    )
    .unwrap()
}

/// The UserSig the client signs at `at` with the default lifetime.
fn sig_at(at: i64) -> String {
    usersig::generate(SDKAPPID, "admin", KEY, at, 86_400, None)
}

/// The failure text (Display and Debug) carries no UserSig and no secret key.
fn assert_clean(err: &CallError) {
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(&sig_at(T0)), "UserSig leaked: {text}");
        assert!(!text.contains(KEY), "secret key leaked: {text}");
        assert!(
            !text.contains("eJ"),
            "something like a UserSig leaked: {text}"
        );
    }
}

const OK: &str = r#"{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0,"TaskId":"task-1"}"#;

#[tokio::test]
async fn sends_the_exact_query_and_body() {
    let (addr, mut seen) = server(Act::Reply(200, OK)).await;
    let client = client_for(addr, Arc::new(ManualClock::new(t0())));
    // Odd spacing and non-ASCII: a re-serialisation would change these bytes.
    let body = "{\"MsgRandom\": 7,  \"MsgBody\":[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"30% 优惠 é \\u00e9\"}}]}";

    let reply = client.call("/v4/timpush/push", body).await.unwrap();
    assert_eq!(reply.action_status, "OK");
    assert_eq!(reply.error_code, 0);
    assert_eq!(reply.task_id.as_deref(), Some("task-1"));
    assert_eq!(reply.raw["TaskId"], "task-1");

    let req = seen.recv().await.unwrap();
    assert_eq!(req.body, body.as_bytes());
    assert_eq!(
        req.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert!(
        req.target.starts_with("/v4/timpush/push?"),
        "{}",
        req.target
    );
    let names: Vec<String> = req.query().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        names,
        ["sdkappid", "identifier", "usersig", "random", "contenttype"]
    );
    assert_eq!(req.param("sdkappid"), "1400000000");
    assert_eq!(req.param("identifier"), "admin");
    assert_eq!(req.param("contenttype"), "json");
    req.param("random").parse::<u32>().expect("random is a u32");
    let doc = usersig::verify(&req.param("usersig"), "admin", SDKAPPID, KEY, T0).unwrap();
    assert_eq!((doc.time, doc.expire), (T0, 86_400));
}

#[tokio::test]
async fn random_is_fresh_and_the_usersig_cached() {
    let (addr, mut seen) = server(Act::Reply(200, OK)).await;
    let client = client_for(addr, Arc::new(ManualClock::new(t0())));
    let mut randoms = std::collections::HashSet::new();
    let mut sigs = std::collections::HashSet::new();
    for _ in 0..5 {
        client.call("v4/timpush/push", "{}").await.unwrap();
        let req = seen.recv().await.unwrap();
        randoms.insert(req.param("random"));
        sigs.insert(req.param("usersig"));
    }
    assert_eq!(randoms.len(), 5, "a fresh random per request");
    assert_eq!(sigs.len(), 1, "one UserSig while it is fresh");
}

#[tokio::test]
async fn usersig_is_renewed_before_expiry_and_on_demand() {
    let (addr, mut seen) = server(Act::Reply(200, OK)).await;
    let clock = Arc::new(ManualClock::new(t0()));
    let client = client_for(addr, clock.clone());
    let mut sig_time = async |client: &Client| {
        client.call("v4/timpush/push", "{}").await.unwrap();
        let sig = seen.recv().await.unwrap().param("usersig");
        usersig::verify(&sig, "admin", SDKAPPID, KEY, clock.now().timestamp())
            .expect("a valid UserSig")
            .time
    };
    use crier::clock::Clock as _;

    assert_eq!(sig_time(&client).await, T0);
    // A quarter of the day's lifetime remains at 18 h: until then the cached one is used.
    clock.set(t0() + TimeDelta::hours(18) - TimeDelta::seconds(1));
    assert_eq!(sig_time(&client).await, T0);
    clock.set(t0() + TimeDelta::hours(18));
    let renewed = T0 + 18 * 3600;
    assert_eq!(sig_time(&client).await, renewed);

    clock.advance(TimeDelta::seconds(5));
    assert_eq!(sig_time(&client).await, renewed, "still fresh");
    client.invalidate_usersig();
    assert_eq!(sig_time(&client).await, renewed + 5, "re-signed on demand");

    // A clock that went back before the issue time re-signs too.
    clock.set(t0());
    assert_eq!(sig_time(&client).await, T0);
}

#[tokio::test]
async fn usersig_lifetime_is_configurable() {
    let (addr, mut seen) = server(Act::Reply(200, OK)).await;
    let clock = Arc::new(ManualClock::new(t0()));
    let options = ClientOptions {
        usersig_lifetime: Duration::from_secs(400),
        ..fast()
    };
    let client = Client::with_options(
        &app(Endpoint::Url(format!("http://{addr}"))),
        &secrets(),
        clock.clone(),
        options,
    )
    .unwrap();
    client.call("v4/x", "{}").await.unwrap();
    let doc = usersig::verify(
        &seen.recv().await.unwrap().param("usersig"),
        "admin",
        SDKAPPID,
        KEY,
        T0,
    )
    .unwrap();
    assert_eq!(doc.expire, 400);
    clock.advance(TimeDelta::seconds(300));
    client.call("v4/x", "{}").await.unwrap();
    let doc = usersig::verify(
        &seen.recv().await.unwrap().param("usersig"),
        "admin",
        SDKAPPID,
        KEY,
        T0 + 300,
    )
    .unwrap();
    assert_eq!(doc.time, T0 + 300);
}

#[tokio::test]
async fn connection_refused_is_not_sent() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = client_for(addr, Arc::new(ManualClock::new(t0())));
    let err = client.call("v4/timpush/push", "{}").await.unwrap_err();
    assert!(matches!(err, CallError::NotSent { .. }), "{err:?}");
    assert_eq!(err.class(), Some(ErrorClass::Retry));
    assert!(!err.is_in_doubt());
    let text = err.to_string();
    assert!(
        text.starts_with("v4/timpush/push: request not sent: "),
        "{text}"
    );
    assert!(
        text.contains(&format!("http://{addr}: ")),
        "names the endpoint: {text}"
    );
    assert!(text.to_lowercase().contains("connect"), "{text}");
    assert!(!text.contains("hint:"), "{text}");
    assert_clean(&err);
}

#[tokio::test]
async fn unresolvable_host_is_not_sent() {
    let client = client_for_url("http://crier-test.invalid");
    let err = client.call("v4/timpush/push", "{}").await.unwrap_err();
    assert!(matches!(err, CallError::NotSent { .. }), "{err:?}");
    assert_clean(&err);
}

fn client_for_url(url: &str) -> Client {
    Client::with_options(
        &app(Endpoint::Url(url.to_owned())),
        &secrets(),
        Arc::new(ManualClock::new(t0())),
        fast(),
    )
    .unwrap()
}

#[tokio::test]
async fn closed_without_answer_is_maybe_sent() {
    let (addr, mut seen) = server(Act::Close).await;
    let client = client_for(addr, Arc::new(ManualClock::new(t0())));
    let err = client
        .call("v4/timpush/push", r#"{"MsgRandom":1}"#)
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::MaybeSent { .. }), "{err:?}");
    assert!(err.is_in_doubt());
    assert_eq!(err.class(), None);
    assert_eq!(
        seen.recv().await.unwrap().body,
        br#"{"MsgRandom":1}"#,
        "the server did get the push"
    );
    assert_clean(&err);
}

#[tokio::test]
async fn timeout_after_sending_is_maybe_sent() {
    let (addr, mut seen) = server(Act::Stall(Duration::from_secs(3))).await;
    let client = client_for(addr, Arc::new(ManualClock::new(t0())));
    let started = std::time::Instant::now();
    let err = client.call("v4/timpush/push", "{}").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the client timeout applies"
    );
    assert!(matches!(err, CallError::MaybeSent { .. }), "{err:?}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(seen.recv().await.is_some());
    assert_clean(&err);
}

#[tokio::test]
async fn http_502_is_maybe_sent() {
    let (addr, _seen) = server(Act::Reply(502, "<html>Bad Gateway</html>")).await;
    let client = client_for(addr, Arc::new(ManualClock::new(t0())));
    let err = client.call("v4/timpush/push", "{}").await.unwrap_err();
    assert!(matches!(err, CallError::MaybeSent { .. }), "{err:?}");
    assert!(err.to_string().contains("HTTP status 502"), "{err}");
    assert_clean(&err);
}

#[tokio::test]
async fn non_200_success_status_is_maybe_sent() {
    let (addr, _seen) = server(Act::Reply(204, "")).await;
    let client = client_for(addr, Arc::new(ManualClock::new(t0())));
    let err = client.call("v4/timpush/push", "{}").await.unwrap_err();
    assert!(matches!(err, CallError::MaybeSent { .. }), "{err:?}");
}

#[tokio::test]
async fn unparsable_answer_is_maybe_sent() {
    for body in ["not json", r#"{"ActionStatus":"OK"}"#, "[1]"] {
        let (addr, _seen) = server(Act::Reply(200, body)).await;
        let client = client_for(addr, Arc::new(ManualClock::new(t0())));
        let err = client.call("v4/timpush/push", "{}").await.unwrap_err();
        assert!(
            matches!(err, CallError::MaybeSent { .. }),
            "{body}: {err:?}"
        );
        assert_clean(&err);
    }
}

#[tokio::test]
async fn error_code_is_an_api_error_with_its_class() {
    let (addr, _seen) = server(Act::Reply(
        200,
        r#"{"ActionStatus":"FAIL","ErrorInfo":"daily quota used up","ErrorCode":90047}"#,
    ))
    .await;
    let client = client_for(addr, Arc::new(ManualClock::new(t0())));
    let err = client.call("v4/timpush/push", "{}").await.unwrap_err();
    assert_eq!(
        err,
        CallError::Api {
            path: "v4/timpush/push".to_owned(),
            code: 90047,
            info: "daily quota used up".to_owned()
        }
    );
    assert_eq!(err.class(), Some(ErrorClass::DeferToNextQuotaDay));
    assert!(!err.is_in_doubt());
}

#[tokio::test]
async fn error_info_echoing_a_usersig_is_redacted() {
    let (addr, _seen) = server(Act::Reply(
        200,
        r#"{"ActionStatus":"FAIL","ErrorInfo":"bad url ?usersig=eJyrVgrxCdYrSy1SslJ&random=1","ErrorCode":70003}"#,
    ))
    .await;
    let client = client_for(addr, Arc::new(ManualClock::new(t0())));
    let err = client.call("v4/timpush/push", "{}").await.unwrap_err();
    assert!(
        matches!(&err, CallError::Api { code: 70003, info, .. } if info == "bad url ?usersig=REDACTED&random=1")
    );
    assert_eq!(err.class(), Some(ErrorClass::FatalForApp));
}

#[test]
fn missing_or_empty_secret_is_a_clear_error() {
    let clock = Arc::new(ManualClock::new(t0()));
    for secrets in [
        MapSecrets::default(),
        MapSecrets::default().with("CRIER_PROD_SECRET_KEY", ""),
    ] {
        let err = Client::new(
            &app(Endpoint::Region(Region::Riyadh)),
            &secrets,
            clock.clone(),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(&err, ClientError::MissingSecret(m) if m.var == "CRIER_PROD_SECRET_KEY"),
            "{err:?}"
        );
        assert!(
            text.contains("CRIER_PROD_SECRET_KEY is unset or empty"),
            "{text}"
        );
        assert!(
            text.contains("hint: export CRIER_PROD_SECRET_KEY="),
            "{text}"
        );
    }
}

#[test]
fn unusable_endpoints_are_refused() {
    for url in ["ftp://example.com", "not a url", "http://h/?a=b"] {
        let err = Client::new(
            &app(Endpoint::Url(url.to_owned())),
            &secrets(),
            Arc::new(ManualClock::new(t0())),
        )
        .unwrap_err();
        assert!(
            matches!(err, ClientError::BadEndpoint { .. }),
            "{url}: {err:?}"
        );
    }
}

#[test]
fn debug_output_holds_no_secret() {
    let client = client_for_url("http://127.0.0.1:9");
    let text = format!("{client:?}");
    assert!(!text.contains(KEY), "{text}");
    assert!(text.contains("prod"), "{text}");
}

#[test]
fn regions_and_explicit_endpoints() {
    assert_eq!(
        display_url(&app(Endpoint::Region(Region::Riyadh)), "v4/timpush/push"),
        "https://adminapiksa.im.qcloud.com/v4/timpush/push?sdkappid=1400000000&identifier=admin&usersig=REDACTED&contenttype=json"
    );
    for region in Region::ALL {
        let url = display_url(&app(Endpoint::Region(region)), "/v4/timpush/push");
        assert!(
            url.starts_with(&format!("https://{}/v4/timpush/push?", region.domain())),
            "{url}"
        );
    }
    assert_eq!(
        display_url(
            &app(Endpoint::Url("http://127.0.0.1:8080/".to_owned())),
            "v4/im_open_login_svc/account_import"
        ),
        "http://127.0.0.1:8080/v4/im_open_login_svc/account_import?sdkappid=1400000000&identifier=admin&usersig=REDACTED&contenttype=json"
    );
    let client = client_for_url("http://127.0.0.1:8080/");
    assert_eq!(client.base_url(), "http://127.0.0.1:8080");
    assert_eq!((client.app_name(), client.sdkappid()), ("prod", SDKAPPID));
}

#[test]
fn the_client_can_be_shared_across_tasks() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let client = client_for_url("http://127.0.0.1:9");
    send_sync(&client);
    let call = client.call("v4/timpush/push", "{}");
    send(&call);
}
