//! The HTTP client of the Tencent Cloud Chat REST API (reference §2).
//!
//! One [`Client`] per app: it signs (and re-signs) the admin's UserSig, builds the common query
//! string, sends a rendered body byte-exact, and sorts every failure into the phases of
//! campaign-format §4: [`CallError::NotSent`] (safe to retry), [`CallError::MaybeSent`] (the
//! push may have happened: in doubt) and [`CallError::Api`] (the provider answered an
//! `ErrorCode`, classified by [`crate::api::errors::classify`]).
//!
//! Invariant: no UserSig and no secret key ever leaves this module in an error message, a log
//! line or a `Debug` output; every text goes through [`redact_usersig`].

use crate::api::errors::{ErrorClass, classify};
use crate::api::usersig;
use crate::clock::Clock;
use crate::secrets::{SecretProvider, redact_usersig};
use crate::settings::AppSettings;
use chrono::{DateTime, Utc};
use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde_json::Value;
use std::error::Error as _;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The `Content-Type` of every request.
pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// The largest response body read; a real answer is a few hundred bytes.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Transport settings. The defaults suit the real provider (its own REST timeout is 3 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// The whole exchange: connect, send, wait for and read the answer.
    pub timeout: Duration,
    /// DNS, TCP connect and TLS handshake.
    pub connect_timeout: Duration,
    /// How long a signed UserSig is valid; it is renewed when less than a quarter remains.
    pub usersig_lifetime: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            usersig_lifetime: Duration::from_secs(86_400),
        }
    }
}

/// The app's secret key variable is unset or empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the secret key of app `{app}` is missing: environment variable {var} is unset or empty\n\
     hint: export {var}=<the app's secret key from the Chat console>"
)]
pub struct MissingSecret {
    pub app: String,
    pub var: String,
}

/// Reads the app's secret key through `secrets`.
///
/// # Errors
/// [`MissingSecret`] naming the variable when it is unset or empty.
pub fn secret_key(
    app: &AppSettings,
    secrets: &dyn SecretProvider,
) -> Result<SecretKey, MissingSecret> {
    secrets
        .get(&app.secret_key_env)
        .filter(|k| !k.is_empty())
        .map(SecretKey)
        .ok_or_else(|| MissingSecret {
            app: app.name.clone(),
            var: app.secret_key_env.clone(),
        })
}

/// A secret key; its `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    /// The key itself, for signing.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// Why a [`Client`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    MissingSecret(#[from] MissingSecret),
    #[error("app `{app}`: endpoint `{url}` is not a usable base URL: {reason}")]
    BadEndpoint {
        app: String,
        url: String,
        reason: String,
    },
    #[error("app `{app}`: cannot read ca_file {}: {source}", path.display())]
    CaFileRead {
        app: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("app `{app}`: ca_file {} holds no usable PEM certificate{}", path.display(), reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    CaFileInvalid {
        app: String,
        path: PathBuf,
        reason: Option<String>,
    },
    #[error(
        "app `{app}`: cannot set up the HTTP client: {reason}\n\
         hint: install the system CA certificates (e.g. the ca-certificates package) or set ca_file in crier.yaml"
    )]
    Build { app: String, reason: String },
}

/// A parsed answer with `ErrorCode` 0.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiReply {
    pub action_status: String,
    pub error_code: u32,
    pub error_info: String,
    /// `TaskId` of the push family, when present.
    pub task_id: Option<String>,
    /// The whole answer, for API-specific fields.
    pub raw: Value,
    /// The server's HTTP `Date`, when it sent one (`crier doctor` compares clocks).
    pub date: Option<DateTime<Utc>>,
}

/// Why a call failed, by phase (campaign-format §4 "Failure phases").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// DNS, connect or TLS handshake failed: the request was never written. Safe to retry,
    /// unless `retryable` is false: the server's certificate was refused, which no retry can
    /// change (fix `ca_file` or the endpoint).
    #[error("{path}: request not sent: {reason}")]
    NotSent {
        path: String,
        reason: String,
        retryable: bool,
    },
    /// Timeout after sending, connection reset or closed without an answer, an HTTP status
    /// other than 200, or an unparsable answer: the push may have happened.
    #[error("{path}: the request may have reached the provider, outcome unknown: {reason}")]
    MaybeSent { path: String, reason: String },
    /// The provider answered a non-zero `ErrorCode`.
    #[error("{path}: the provider answered ErrorCode {code}: {info}")]
    Api {
        path: String,
        code: u32,
        info: String,
    },
}

impl CallError {
    /// What to do next: the error class of an `ErrorCode`, [`ErrorClass::Retry`] for a request
    /// that was never sent, and `None` for an in-doubt one (only an operator resends those).
    #[must_use]
    pub const fn class(&self) -> Option<ErrorClass> {
        match self {
            Self::NotSent {
                retryable: false, ..
            } => Some(ErrorClass::FatalForApp),
            Self::NotSent { .. } => Some(ErrorClass::Retry),
            Self::MaybeSent { .. } => None,
            Self::Api { code, .. } => Some(classify(*code)),
        }
    }

    /// Whether the push may have happened (the occurrence becomes `in_doubt`).
    #[must_use]
    pub const fn is_in_doubt(&self) -> bool {
        matches!(self, Self::MaybeSent { .. })
    }
}

struct CachedSig {
    sig: String,
    issued: DateTime<Utc>,
}

/// A client for one app's REST API.
pub struct Client {
    http: reqwest::Client,
    base: String,
    app: String,
    sdkappid: u64,
    admin: String,
    secret: SecretKey,
    clock: Arc<dyn Clock>,
    lifetime_secs: i64,
    sig: Mutex<Option<CachedSig>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("app", &self.app)
            .field("sdkappid", &self.sdkappid)
            .field("admin", &self.admin)
            .finish_non_exhaustive()
    }
}

/// Installs rustls's `ring` crypto provider as the process default, once.
pub fn install_crypto_provider() {
    // An error only says that a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Client {
    /// A client with the default [`ClientOptions`].
    ///
    /// # Errors
    /// A missing secret key, an unusable endpoint or `ca_file`, or a TLS set-up failure.
    pub fn new(
        app: &AppSettings,
        secrets: &dyn SecretProvider,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ClientError> {
        Self::with_options(app, secrets, clock, ClientOptions::default())
    }

    /// A client with explicit transport settings.
    ///
    /// # Errors
    /// As [`Client::new`].
    pub fn with_options(
        app: &AppSettings,
        secrets: &dyn SecretProvider,
        clock: Arc<dyn Clock>,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        let secret = secret_key(app, secrets)?;
        let base = app.endpoint.base_url();
        let bad_endpoint = |reason: String| ClientError::BadEndpoint {
            app: app.name.clone(),
            url: base.clone(),
            reason,
        };
        let parsed = Url::parse(&base).map_err(|e| bad_endpoint(e.to_string()))?;
        let https = match parsed.scheme() {
            "https" => true,
            "http" => false,
            other => {
                return Err(bad_endpoint(format!(
                    "scheme `{other}` is neither http nor https"
                )));
            }
        };
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(bad_endpoint(
                "a base URL takes no query or fragment".to_owned(),
            ));
        }
        let extra_roots = match &app.ca_file {
            Some(path) => load_ca_file(&app.name, path)?,
            None => Vec::new(),
        };

        install_crypto_provider();
        let builder = reqwest::Client::builder()
            .timeout(options.timeout)
            // A connect phase outliving the whole timeout would turn "never sent" into "in doubt".
            .connect_timeout(options.connect_timeout.min(options.timeout))
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_keepalive(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("crier/", env!("CARGO_PKG_VERSION")));
        // Over plain http no certificate is ever checked, so do not require system roots there.
        let builder = if https {
            builder.tls_certs_merge(extra_roots)
        } else {
            builder.tls_certs_only(extra_roots)
        };
        let http = builder.build().map_err(|e| ClientError::Build {
            app: app.name.clone(),
            reason: error_chain(e),
        })?;

        Ok(Self {
            http,
            base,
            app: app.name.clone(),
            sdkappid: app.sdkappid,
            admin: app.admin.clone(),
            secret,
            clock,
            lifetime_secs: i64::try_from(options.usersig_lifetime.as_secs())
                .unwrap_or(i64::MAX)
                .max(1),
            sig: Mutex::new(None),
        })
    }

    /// The app's name in `crier.yaml`.
    #[must_use]
    pub fn app_name(&self) -> &str {
        &self.app
    }

    #[must_use]
    pub const fn sdkappid(&self) -> u64 {
        self.sdkappid
    }

    /// The base URL requests go to.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Forgets the cached UserSig so that the next call signs a new one (after 70001 or 70052).
    pub fn invalidate_usersig(&self) {
        *self.sig.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The cached UserSig, signed anew when none is cached, less than a quarter of its lifetime
    /// remains, or the clock went back before its issue time.
    fn usersig(&self) -> String {
        let now = self.clock.now();
        let mut cached = self.sig.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = cached.as_ref() {
            let age = (now - c.issued).num_seconds();
            let renew_after = self.lifetime_secs - self.lifetime_secs / 4;
            if now >= c.issued && age < renew_after {
                return c.sig.clone();
            }
        }
        let sig = usersig::generate(
            self.sdkappid,
            &self.admin,
            self.secret.expose(),
            now.timestamp(),
            self.lifetime_secs,
            None,
        );
        tracing::debug!(app = %self.app, "signed a new UserSig");
        *cached = Some(CachedSig {
            sig: sig.clone(),
            issued: now,
        });
        sig
    }

    /// POSTs `body` (sent byte-exact) to `{base}/{path}` with the common query string.
    ///
    /// # Errors
    /// A [`CallError`] for the phase in which the call failed.
    #[expect(
        clippy::disallowed_methods,
        reason = "the query's `random` is a fresh random number per request (the API's contract)"
    )]
    pub async fn call(&self, path: &str, body: &str) -> Result<ApiReply, CallError> {
        let path = path.trim_start_matches('/');
        let not_sent = |reason: String| CallError::NotSent {
            path: path.to_owned(),
            reason: redact_usersig(&reason),
            retryable: true,
        };
        let maybe_sent = |reason: String| CallError::MaybeSent {
            path: path.to_owned(),
            reason: redact_usersig(&reason),
        };

        let url = request_url(
            &self.base,
            path,
            self.sdkappid,
            &self.admin,
            &self.usersig(),
            fastrand::u32(..),
        )
        .map_err(|e| not_sent(format!("bad request URL: {e}")))?;
        tracing::debug!(app = %self.app, url = %redact_usersig(url.as_str()), bytes = body.len(), "POST");

        let response = self
            .http
            .post(url)
            .header(CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE))
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| {
                let before_write = e.is_connect() || e.is_builder();
                let certificate = is_certificate_error(&e);
                let hint = if certificate { CERTIFICATE_HINT } else { "" };
                let reason = format!("{}{hint}", error_chain(e));
                tracing::debug!(app = %self.app, path, reason = %redact_usersig(&reason), "request failed");
                if certificate {
                    CallError::NotSent {
                        path: path.to_owned(),
                        reason: redact_usersig(&format!("{}: {reason}", self.base)),
                        retryable: false,
                    }
                } else if before_write {
                    not_sent(format!("{}: {reason}", self.base))
                } else {
                    maybe_sent(reason)
                }
            })?;

        let status = response.status();
        let date = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
            .map(|d| d.to_utc());
        let bytes = read_capped(response).await.map_err(maybe_sent)?;
        if status != reqwest::StatusCode::OK {
            return Err(maybe_sent(format!(
                "HTTP status {status}{}",
                snippet(&bytes)
            )));
        }
        let mut reply = parse_reply(&bytes).map_err(maybe_sent)?;
        reply.date = date;
        if reply.error_code != 0 {
            tracing::debug!(app = %self.app, path, code = reply.error_code, "provider error");
            return Err(CallError::Api {
                path: path.to_owned(),
                code: reply.error_code,
                info: redact_usersig(&reply.error_info),
            });
        }
        Ok(reply)
    }
}

/// The request URL of `path` for `app` as shown to people: the common query string without
/// the UserSig's value and without the per-request `random`.
#[must_use]
pub fn display_url(app: &AppSettings, path: &str) -> String {
    let base = app.endpoint.base_url();
    let path = path.trim_start_matches('/');
    let mut url = match Url::parse(&format!("{base}/{path}")) {
        Ok(u) => u,
        Err(_) => return format!("{base}/{path}"),
    };
    url.query_pairs_mut()
        .append_pair("sdkappid", &app.sdkappid.to_string())
        .append_pair("identifier", &app.admin)
        .append_pair("usersig", "REDACTED")
        .append_pair("contenttype", "json");
    url.into()
}

/// `{base}/{path}?sdkappid=..&identifier=..&usersig=..&random=..&contenttype=json`.
///
/// Values are form-encoded; a UserSig's alphabet `[A-Za-z0-9*_-]` passes through unchanged.
fn request_url(
    base: &str,
    path: &str,
    sdkappid: u64,
    identifier: &str,
    sig: &str,
    random: u32,
) -> Result<Url, String> {
    let mut url = Url::parse(&format!("{base}/{path}")).map_err(|e| e.to_string())?;
    url.query_pairs_mut()
        .append_pair("sdkappid", &sdkappid.to_string())
        .append_pair("identifier", identifier)
        .append_pair("usersig", sig)
        .append_pair("random", &random.to_string())
        .append_pair("contenttype", "json");
    Ok(url)
}

#[expect(
    clippy::disallowed_methods,
    reason = "ca_file is read once, when the client is built"
)]
fn load_ca_file(
    app: &str,
    path: &std::path::Path,
) -> Result<Vec<reqwest::Certificate>, ClientError> {
    let pem = std::fs::read(path).map_err(|source| ClientError::CaFileRead {
        app: app.to_owned(),
        path: path.to_owned(),
        source,
    })?;
    let invalid = |reason: Option<String>| ClientError::CaFileInvalid {
        app: app.to_owned(),
        path: path.to_owned(),
        reason,
    };
    let certs =
        reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| invalid(Some(error_chain(e))))?;
    if certs.is_empty() {
        return Err(invalid(None));
    }
    Ok(certs)
}

/// Reads the body, refusing more than [`MAX_RESPONSE_BYTES`].
async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if out.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(format!("answer larger than {MAX_RESPONSE_BYTES} bytes"));
                }
                out.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(out),
            Err(e) => return Err(format!("reading the answer: {}", error_chain(e))),
        }
    }
}

/// Parses the common response envelope (reference §2.3).
fn parse_reply(bytes: &[u8]) -> Result<ApiReply, String> {
    let raw: Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("answer is not JSON ({e}){}", snippet(bytes)))?;
    let obj = raw
        .as_object()
        .ok_or_else(|| format!("answer is not a JSON object{}", snippet(bytes)))?;
    let error_code = obj
        .get("ErrorCode")
        .and_then(Value::as_u64)
        .and_then(|c| u32::try_from(c).ok())
        .ok_or_else(|| format!("answer has no numeric ErrorCode{}", snippet(bytes)))?;
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(ApiReply {
        action_status: text("ActionStatus").unwrap_or_default(),
        error_code,
        error_info: text("ErrorInfo").unwrap_or_default(),
        task_id: text("TaskId"),
        raw,
        date: None,
    })
}

/// The first bytes of an unexpected answer, for the error message.
fn snippet(bytes: &[u8]) -> String {
    const MAX: usize = 200;
    if bytes.is_empty() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX)]);
    let more = if bytes.len() > MAX { "…" } else { "" };
    format!(": {:?}{more}", text.trim())
}

const CERTIFICATE_HINT: &str = "\nhint: for a corporate proxy or a self-signed server, set ca_file in crier.yaml to its CA certificate (PEM)";

/// Whether the TLS handshake refused the server's certificate.
///
/// The rustls error sits inside (nested) `io::Error`s, whose `source()` skips their payload,
/// so payloads are unwrapped explicitly.
fn is_certificate_error(err: &reqwest::Error) -> bool {
    let mut next = err.source();
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return matches!(tls, rustls::Error::InvalidCertificate(_));
        }
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    false
}

/// An error and its sources on one line, without the URL (which carries the UserSig), redacted.
fn error_chain(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let s = e.to_string();
        if !text.ends_with(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        source = e.source();
    }
    redact_usersig(&text)
}

#[cfg(test)]
mod tests {
    use super::{ApiReply, CallError, parse_reply, request_url, snippet};
    use crate::api::errors::ErrorClass;

    #[test]
    fn url_has_the_five_params_and_a_raw_usersig() {
        let url = request_url(
            "http://h:1/pre",
            "v4/timpush/push",
            1_400_000_000,
            "ad min",
            "eJx*a-b_",
            7,
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "http://h:1/pre/v4/timpush/push?sdkappid=1400000000&identifier=ad+min&usersig=eJx*a-b_&random=7&contenttype=json"
        );
    }

    #[test]
    fn parses_the_envelope() {
        let r =
            parse_reply(br#"{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0,"TaskId":"t-1"}"#)
                .unwrap();
        assert_eq!(
            (
                r.action_status.as_str(),
                r.error_code,
                r.error_info.as_str(),
                r.task_id.as_deref()
            ),
            ("OK", 0, "", Some("t-1"))
        );
        let r: ApiReply =
            parse_reply(br#"{"ActionStatus":"FAIL","ErrorInfo":"quota","ErrorCode":90047}"#)
                .unwrap();
        assert_eq!((r.error_code, r.task_id), (90047, None));
    }

    #[test]
    fn refuses_answers_without_a_numeric_error_code() {
        for bad in [
            &b"<html>"[..],
            b"[]",
            br#"{"ActionStatus":"OK"}"#,
            br#"{"ErrorCode":"0"}"#,
            br#"{"ErrorCode":-1}"#,
        ] {
            assert!(
                parse_reply(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn snippets_are_short() {
        assert_eq!(snippet(b""), "");
        assert_eq!(snippet(b" bad gateway \n"), ": \"bad gateway\"");
        assert!(snippet(&[b'x'; 500]).ends_with('…'));
    }

    #[test]
    fn phases_map_to_classes() {
        let p = || "v4/x".to_owned();
        assert_eq!(
            CallError::NotSent {
                path: p(),
                reason: String::new(),
                retryable: true,
            }
            .class(),
            Some(ErrorClass::Retry)
        );
        assert_eq!(
            CallError::NotSent {
                path: p(),
                reason: String::new(),
                retryable: false,
            }
            .class(),
            Some(ErrorClass::FatalForApp),
            "a refused certificate is not retried"
        );
        let maybe = CallError::MaybeSent {
            path: p(),
            reason: String::new(),
        };
        assert_eq!(maybe.class(), None);
        assert!(maybe.is_in_doubt());
        let api = CallError::Api {
            path: p(),
            code: 90047,
            info: String::new(),
        };
        assert_eq!(api.class(), Some(ErrorClass::DeferToNextQuotaDay));
        assert!(!api.is_in_doubt());
    }
}
