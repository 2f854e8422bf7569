//! The client over TLS: a `ca_file` from crier.yaml is trusted, an unknown issuer is refused
//! before anything is sent, and bad `ca_file`s are clear errors.

use chrono::DateTime;
use crier::api::client::{CallError, Client, ClientError, ClientOptions};
use crier::clock::ManualClock;
use crier::secrets::MapSecrets;
use crier::settings::{AppSettings, Endpoint};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";

/// A CA (PEM) and a server certificate for 127.0.0.1 and localhost signed by it (DER, key).
fn ca_and_leaf() -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "crier test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "crier test server");
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    (ca_cert.pem(), leaf.der().clone(), key)
}

/// An HTTPS server answering every request with a push success; reports each request's bytes.
async fn tls_server(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> (SocketAddr, mpsc::UnboundedReceiver<Vec<u8>>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                // A failed handshake (the client refusing our certificate) just ends here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // The test bodies are tiny: the head and body arrive before "{}" completes.
                while !buf.ends_with(b"{}") {
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = tx.send(buf);
                let body = r#"{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0,"TaskId":"tls-1"}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, rx)
}

fn app(url: String, ca_file: Option<PathBuf>) -> AppSettings {
    AppSettings {
        name: "prod".to_owned(),
        sdkappid: 1_400_000_000,
        endpoint: Endpoint::Url(url),
        admin: "admin".to_owned(),
        secret_key_env: "K".to_owned(),
        attributes: vec![],
        daily_quota: 100,
        quota_timezone: chrono_tz::Asia::Shanghai,
        min_interval: Duration::from_millis(1100),
        ca_file,
        reach_estimate: None,
        paused: false,
    }
}

fn client(app: &AppSettings) -> Result<Client, ClientError> {
    let clock = Arc::new(ManualClock::new(
        DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
    ));
    let options = ClientOptions {
        timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(1),
        ..ClientOptions::default()
    };
    Client::with_options(app, &MapSecrets::default().with("K", KEY), clock, options)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn ca_file_makes_the_self_signed_server_trusted() {
    let (ca_pem, cert, key) = ca_and_leaf();
    let (addr, mut seen) = tls_server(cert, key).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = write(dir.path(), "ca.pem", &ca_pem);

    for host in [
        format!("https://{addr}"),
        format!("https://localhost:{}", addr.port()),
    ] {
        let client = client(&app(host.clone(), Some(ca_file.clone()))).unwrap();
        let reply = client
            .call("v4/timpush/push", "{}")
            .await
            .unwrap_or_else(|e| panic!("{host}: {e}"));
        assert_eq!(reply.task_id.as_deref(), Some("tls-1"));
        let request = String::from_utf8(seen.recv().await.unwrap()).unwrap();
        assert!(
            request
                .starts_with("POST /v4/timpush/push?sdkappid=1400000000&identifier=admin&usersig="),
            "{request}"
        );
    }
}

#[tokio::test]
async fn unknown_issuer_is_refused_before_sending() {
    let (_ca_pem, cert, key) = ca_and_leaf();
    let (addr, mut seen) = tls_server(cert, key).await;
    let client = client(&app(format!("https://{addr}"), None)).unwrap();
    let err = client.call("v4/timpush/push", "{}").await.unwrap_err();
    assert!(matches!(err, CallError::NotSent { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("invalid peer certificate"), "{text}");
    assert!(
        text.contains("hint: for a corporate proxy or a self-signed server, set ca_file"),
        "{text}"
    );
    assert!(
        !text.contains("usersig=") || text.contains("usersig=REDACTED"),
        "{text}"
    );
    assert!(!text.contains("eJ"), "{text}");
    assert!(
        seen.try_recv().is_err(),
        "no request bytes reached the server"
    );
}

#[tokio::test]
async fn another_ca_is_not_enough() {
    let (_, cert, key) = ca_and_leaf();
    let (other_ca, _, _) = ca_and_leaf();
    let (addr, _seen) = tls_server(cert, key).await;
    let dir = tempfile::tempdir().unwrap();
    let client = client(&app(
        format!("https://{addr}"),
        Some(write(dir.path(), "other.pem", &other_ca)),
    ))
    .unwrap();
    let err = client.call("v4/timpush/push", "{}").await.unwrap_err();
    assert!(matches!(err, CallError::NotSent { .. }), "{err:?}");
}

#[test]
fn unreadable_or_empty_ca_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.pem");
    let err = client(&app(
        "https://127.0.0.1:1".to_owned(),
        Some(missing.clone()),
    ))
    .unwrap_err();
    assert!(matches!(err, ClientError::CaFileRead { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );

    let empty = write(dir.path(), "empty.pem", "just some text\n");
    let err = client(&app("https://127.0.0.1:1".to_owned(), Some(empty))).unwrap_err();
    assert!(matches!(err, ClientError::CaFileInvalid { .. }), "{err:?}");
    assert!(
        err.to_string().contains("holds no usable PEM certificate"),
        "{err}"
    );
}

#[tokio::test]
async fn a_self_signed_server_certificate_works_as_its_own_ca_file() {
    // What a `--tls-self-signed` server would present: one certificate, no CA.
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let (addr, _seen) = tls_server(certified.cert.der().clone(), key).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = write(dir.path(), "server.pem", &certified.cert.pem());
    let client = client(&app(format!("https://{addr}"), Some(ca_file))).unwrap();
    let reply = client.call("v4/timpush/push", "{}").await.unwrap();
    assert_eq!(reply.task_id.as_deref(), Some("tls-1"));
}

#[tokio::test]
async fn a_hanging_tls_handshake_is_not_sent() {
    // Accepts TCP, then never answers the ClientHello.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    let clock = Arc::new(ManualClock::new(
        DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
    ));
    let options = ClientOptions {
        timeout: Duration::from_secs(3),
        connect_timeout: Duration::from_millis(300),
        ..ClientOptions::default()
    };
    let client = Client::with_options(
        &app(format!("https://{addr}"), None),
        &MapSecrets::default().with("K", KEY),
        clock,
        options,
    )
    .unwrap();
    let started = std::time::Instant::now();
    let err = client.call("v4/timpush/push", "{}").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the connect timeout covers the handshake"
    );
    assert!(matches!(err, CallError::NotSent { .. }), "{err:?}");
}
