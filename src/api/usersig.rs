//! UserSig (TLSSigAPIv2): HMAC-SHA256 signature, JSON document, zlib, URL-safe base64 variant.
//!
//! Pure: the caller passes the time. See `../shared/reference/tencent-push-api.md` §7.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::io::{Read as _, Write as _};

type HmacSha256 = Hmac<Sha256>;

/// Largest decoded UserSig document we inflate (a real one is ~200 bytes).
const MAX_DOC_BYTES: u64 = 64 * 1024;

/// What a verified UserSig says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigDoc {
    pub identifier: String,
    pub sdkappid: u64,
    pub time: i64,
    pub expire: i64,
    pub userbuf: Option<Vec<u8>>,
}

/// Why a UserSig was refused, with the provider's error code for each case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("UserSig is empty")]
    Empty,
    #[error("UserSig could not be decoded: {0}")]
    Malformed(&'static str),
    #[error("UserSig identifier does not match the request's identifier")]
    IdentifierMismatch,
    #[error("UserSig sdkappid does not match the request's sdkappid")]
    SdkAppIdMismatch,
    #[error("UserSig signature check failed")]
    BadSignature,
    #[error("UserSig expired")]
    Expired,
}

impl VerifyError {
    /// The provider's error code for this failure (reference §6).
    #[must_use]
    pub fn code(&self) -> u32 {
        match self {
            Self::Empty => 70002,
            Self::Malformed(_) => 70003,
            Self::IdentifierMismatch => 70013,
            Self::SdkAppIdMismatch => 70014,
            Self::BadSignature => 70009,
            Self::Expired => 70001,
        }
    }
}

fn string_to_sign(
    identifier: &str,
    sdkappid: u64,
    time: i64,
    expire: i64,
    userbuf_b64: Option<&str>,
) -> String {
    let mut s = format!(
        "TLS.identifier:{identifier}\nTLS.sdkappid:{sdkappid}\nTLS.time:{time}\nTLS.expire:{expire}\n"
    );
    if let Some(ub) = userbuf_b64 {
        s.push_str("TLS.userbuf:");
        s.push_str(ub);
        s.push('\n');
    }
    s
}

fn hmac_bytes(secret_key: &str, content: &str) -> Vec<u8> {
    let mut mac =
        HmacSha256::new_from_slice(secret_key.as_bytes()).expect("HMAC accepts any key length");
    mac.update(content.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Generates a UserSig valid from `time` (unix seconds) for `expire` seconds.
#[must_use]
pub fn generate(
    sdkappid: u64,
    identifier: &str,
    secret_key: &str,
    time: i64,
    expire: i64,
    userbuf: Option<&[u8]>,
) -> String {
    let userbuf_b64 = userbuf.map(|b| STANDARD.encode(b));
    let sig = STANDARD.encode(hmac_bytes(
        secret_key,
        &string_to_sign(identifier, sdkappid, time, expire, userbuf_b64.as_deref()),
    ));
    let mut doc = serde_json::Map::new();
    doc.insert("TLS.ver".into(), "2.0".into());
    doc.insert("TLS.identifier".into(), identifier.into());
    doc.insert("TLS.sdkappid".into(), sdkappid.into());
    doc.insert("TLS.expire".into(), expire.into());
    doc.insert("TLS.time".into(), time.into());
    if let Some(ub) = userbuf_b64 {
        doc.insert("TLS.userbuf".into(), ub.into());
    }
    doc.insert("TLS.sig".into(), sig.into());
    let json = serde_json::to_vec(&Value::Object(doc)).expect("a JSON map always serialises");
    let mut enc = ZlibEncoder::new(Vec::new(), Compression::default());
    enc.write_all(&json).expect("writing to a Vec cannot fail");
    let compressed = enc.finish().expect("writing to a Vec cannot fail");
    to_sig_alphabet(&STANDARD.encode(compressed))
}

fn to_sig_alphabet(b64: &str) -> String {
    b64.chars()
        .map(|c| match c {
            '+' => '*',
            '/' => '-',
            '=' => '_',
            c => c,
        })
        .collect()
}

fn from_sig_alphabet(sig: &str) -> String {
    let mut s: String = sig
        .chars()
        .map(|c| match c {
            '*' => '+',
            '-' => '/',
            '_' => '=',
            c => c,
        })
        .filter(|c| *c != '=')
        .collect();
    // Be lenient about padding: re-pad to a multiple of four.
    while !s.len().is_multiple_of(4) {
        s.push('=');
    }
    s
}

/// Decodes a UserSig into its JSON document without checking anything.
///
/// # Errors
/// [`VerifyError::Empty`] or [`VerifyError::Malformed`].
pub fn decode(usersig: &str) -> Result<serde_json::Map<String, Value>, VerifyError> {
    if usersig.is_empty() {
        return Err(VerifyError::Empty);
    }
    let compressed = STANDARD
        .decode(from_sig_alphabet(usersig))
        .map_err(|_| VerifyError::Malformed("not base64"))?;
    let mut json = Vec::new();
    ZlibDecoder::new(compressed.as_slice())
        .take(MAX_DOC_BYTES)
        .read_to_end(&mut json)
        .map_err(|_| VerifyError::Malformed("not a zlib stream"))?;
    match serde_json::from_slice::<Value>(&json) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(VerifyError::Malformed("not a JSON object")),
    }
}

/// Verifies a UserSig for `identifier` and `sdkappid` at `now` (unix seconds).
///
/// Expired iff `now > time + expire`. Accepts any zlib level and lenient padding.
///
/// # Errors
/// The first check that fails, in the order: decode, identifier, sdkappid, signature, expiry.
pub fn verify(
    usersig: &str,
    identifier: &str,
    sdkappid: u64,
    secret_key: &str,
    now: i64,
) -> Result<SigDoc, VerifyError> {
    let doc = decode(usersig)?;
    let str_field = |k: &str| doc.get(k).and_then(Value::as_str);
    let int_field = |k: &str| doc.get(k).and_then(Value::as_i64);
    let sig_identifier =
        str_field("TLS.identifier").ok_or(VerifyError::Malformed("no TLS.identifier"))?;
    let sig_appid = doc
        .get("TLS.sdkappid")
        .and_then(Value::as_u64)
        .ok_or(VerifyError::Malformed("no TLS.sdkappid"))?;
    let time = int_field("TLS.time").ok_or(VerifyError::Malformed("no TLS.time"))?;
    let expire = int_field("TLS.expire").ok_or(VerifyError::Malformed("no TLS.expire"))?;
    let sig_b64 = str_field("TLS.sig").ok_or(VerifyError::Malformed("no TLS.sig"))?;
    let userbuf_b64 = str_field("TLS.userbuf");
    if sig_identifier != identifier {
        return Err(VerifyError::IdentifierMismatch);
    }
    if sig_appid != sdkappid {
        return Err(VerifyError::SdkAppIdMismatch);
    }
    let given = STANDARD
        .decode(sig_b64)
        .map_err(|_| VerifyError::BadSignature)?;
    let mut mac =
        HmacSha256::new_from_slice(secret_key.as_bytes()).expect("HMAC accepts any key length");
    mac.update(string_to_sign(sig_identifier, sig_appid, time, expire, userbuf_b64).as_bytes());
    mac.verify_slice(&given)
        .map_err(|_| VerifyError::BadSignature)?;
    if now > time.saturating_add(expire) {
        return Err(VerifyError::Expired);
    }
    let userbuf = match userbuf_b64 {
        Some(ub) => Some(
            STANDARD
                .decode(ub)
                .map_err(|_| VerifyError::Malformed("bad TLS.userbuf"))?,
        ),
        None => None,
    };
    Ok(SigDoc {
        identifier: sig_identifier.to_owned(),
        sdkappid: sig_appid,
        time,
        expire,
        userbuf,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
    const APP: u64 = 1_400_000_000;
    const T: i64 = 1_700_000_000;
    const V1_PY: &str = "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkKjIT87NK82CSxSnZiQUFmSlAKUMTAyiAyqVWFGQWpYJkTE1NjRDiJZm5YFFzNPXFmekgG3zKHM1T9D3LzdODi-OKs8vCqpxcAvydnV2SSv2cy03cPcpDnA2SMgu0nUxslWoBHdYzUg__";
    const V1_NODE: &str = "eJyrVgrxCdYrSy1SslIy0jNQ0gHzM1NS80oy0zLBwhWZiflZpXlQqeKU7MSCgswUJStDEwMogMiUZOamKlkZmqOKplYUZBaBxE1NTY3gosWZ6UpWSj5ljuYp*p7l5unBxXnF2WVhVU4uAf7Ozi5JpX7O5SbuHuUhzgZJmQXaTia2SrUAohcx8g__";
    const V1_GO: &str = "eAEBrABT-3siVExTLnZlciI6IjIuMCIsIlRMUy5pZGVudGlmaWVyIjoieGlhb2p1biIsIlRMUy5zZGthcHBpZCI6MTQwMDAwMDAwMCwiVExTLmV4cGlyZSI6MTU1NTIwMDAsIlRMUy50aW1lIjoxNzAwMDAwMDAwLCJUTFMuc2lnIjoiTHZBN2QvSXc3Z1NzbnNrdlZ6QkRQT0NDRGJ1TkN3NEdId1RDMGJpcCtCND0ifQrfwzH8";
    const V2_PY: &str = "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkElNyM-Myi0uKEkvyi2BKilOyEwsKMlOACgxNDKAAKpdaUZBZlAqUsTAzgQuWZOaChAzN0RQXZ6aDLKn0cUzVLjcPD00NLS1MCrPM0A*JMLcoNTLMD3HP1M60jCowLDUOKMiLNDOwVaoFAD4PNPI_";
    const V2_NODE: &str = "eJyrVgrxCdYrSy1SslIy0jNQ0gHzM1NS80oy0zLBwokpuZl5mcUlRYkl*UVQBcUp2YkFBZkpSlaGJgZQAJEpycxNVbIyNEcVTa0oyCxKVbKyMDOBCRVnpitZKVX6OKZql5uHh6aGlhYmhVlm6IdEmFuUGhnmh7hnamdaRhUYlhoHFORFmhnYKtUCAK0SM5I_";
    const V3_PY: &str = "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkKjIT87NK82CSxSnZiQUFmSlAKUMTAyiAyqVWFGQWpYJkTE1NjRDiJZm5YFFzNPWlxalFSaVpIFsiw72y4FZkpoOEArNCjAwMKwKyI7L1E30NU7UrDcoSs6OSDLyNMgOK3EpTtbUNik0rzZLcfG2VagHdkjl6";

    #[test]
    fn reference_vectors_verify_in_every_encoding() {
        for sig in [V1_PY, V1_NODE, V1_GO] {
            let doc = verify(sig, "xiaojun", APP, KEY, T).unwrap();
            assert_eq!((doc.time, doc.expire, doc.userbuf), (T, 15_552_000, None));
        }
        for sig in [V2_PY, V2_NODE] {
            assert_eq!(
                verify(sig, "administrator", APP, KEY, T).unwrap().expire,
                86_400
            );
        }
        assert_eq!(
            verify(V3_PY, "xiaojun", APP, KEY, T)
                .unwrap()
                .userbuf
                .as_deref(),
            Some(&b"abc"[..])
        );
    }

    #[test]
    fn reference_signatures_match_what_we_generate() {
        let sig_of = |s: &str| decode(s).unwrap()["TLS.sig"].as_str().unwrap().to_owned();
        assert_eq!(
            sig_of(&generate(APP, "xiaojun", KEY, T, 15_552_000, None)),
            "LvA7d/Iw7gSsnskvVzBDPOCCDbuNCw4GHwTC0bip+B4="
        );
        assert_eq!(
            sig_of(&generate(APP, "administrator", KEY, T, 86_400, None)),
            "yLAe+w7WUeUuqbV9h/TX78u21oTGi+i9Zp1u3PpnY60="
        );
        let v3 = generate(APP, "xiaojun", KEY, T, 15_552_000, Some(b"abc"));
        assert_eq!(sig_of(&v3), "QjT201xPkXk/aM1e+y0vakZb0K2iPrFue++0s5y6bFM=");
        assert_eq!(decode(&v3).unwrap(), decode(V3_PY).unwrap());
        assert_eq!(
            decode(&generate(APP, "xiaojun", KEY, T, 15_552_000, None)).unwrap(),
            decode(V1_PY).unwrap()
        );
    }

    #[test]
    fn expiry_boundary_and_negative_cases() {
        assert!(verify(V1_PY, "xiaojun", APP, KEY, 1_715_552_000).is_ok());
        assert_eq!(
            verify(V1_PY, "xiaojun", APP, KEY, 1_715_552_001),
            Err(VerifyError::Expired)
        );
        assert_eq!(
            verify(V1_PY, "xiaojun", APP, "x", T),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(V1_PY, "xiaojun", APP + 1, KEY, T),
            Err(VerifyError::SdkAppIdMismatch)
        );
        assert_eq!(
            verify(V2_PY, "xiaojun", APP, KEY, T),
            Err(VerifyError::IdentifierMismatch)
        );
        assert_eq!(verify("", "xiaojun", APP, KEY, T), Err(VerifyError::Empty));
        assert!(matches!(
            verify("not*a*sig", "xiaojun", APP, KEY, T),
            Err(VerifyError::Malformed(_))
        ));
        assert_eq!(VerifyError::Expired.code(), 70001);
    }

    #[test]
    fn tampered_signature_is_refused() {
        let mut doc = decode(V1_PY).unwrap();
        doc.insert("TLS.expire".into(), 999_999_999.into());
        let json = serde_json::to_vec(&Value::Object(doc)).unwrap();
        let mut enc = ZlibEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(&json).unwrap();
        let tampered = to_sig_alphabet(&STANDARD.encode(enc.finish().unwrap()));
        assert_eq!(
            verify(&tampered, "xiaojun", APP, KEY, T),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn generated_sig_uses_only_the_url_safe_alphabet() {
        let s = generate(APP, "admin", KEY, T, 86_400, None);
        assert!(
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | '-' | '_'))
        );
    }
}
