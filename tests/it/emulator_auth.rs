//! URL, query and UserSig checks over real HTTP, with independently produced UserSigs (the
//! reference vectors, made by the Python and Node libraries) at their time via /emulator/clock.

use crate::support::emulator::{APP, KEY, start};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use crier::emulator::AppConfig;
use serde_json::{Value, json};
use std::io::{Read as _, Write as _};

const T: i64 = 1_700_000_000;
const V1_PY: &str = "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkKjIT87NK82CSxSnZiQUFmSlAKUMTAyiAyqVWFGQWpYJkTE1NjRDiJZm5YFFzNPXFmekgG3zKHM1T9D3LzdODi-OKs8vCqpxcAvydnV2SSv2cy03cPcpDnA2SMgu0nUxslWoBHdYzUg__";
const V1_NODE: &str = "eJyrVgrxCdYrSy1SslIy0jNQ0gHzM1NS80oy0zLBwhWZiflZpXlQqeKU7MSCgswUJStDEwMogMiUZOamKlkZmqOKplYUZBaBxE1NTY3gosWZ6UpWSj5ljuYp*p7l5unBxXnF2WVhVU4uAf7Ozi5JpX7O5SbuHuUhzgZJmQXaTia2SrUAohcx8g__";
const V1_GO: &str = "eAEBrABT-3siVExTLnZlciI6IjIuMCIsIlRMUy5pZGVudGlmaWVyIjoieGlhb2p1biIsIlRMUy5zZGthcHBpZCI6MTQwMDAwMDAwMCwiVExTLmV4cGlyZSI6MTU1NTIwMDAsIlRMUy50aW1lIjoxNzAwMDAwMDAwLCJUTFMuc2lnIjoiTHZBN2QvSXc3Z1NzbnNrdlZ6QkRQT0NDRGJ1TkN3NEdId1RDMGJpcCtCND0ifQrfwzH8";
const V2_PY: &str = "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkElNyM-Myi0uKEkvyi2BKilOyEwsKMlOACgxNDKAAKpdaUZBZlAqUsTAzgQuWZOaChAzN0RQXZ6aDLKn0cUzVLjcPD00NLS1MCrPM0A*JMLcoNTLMD3HP1M60jCowLDUOKMiLNDOwVaoFAD4PNPI_";
const V3_PY: &str = "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkKjIT87NK82CSxSnZiQUFmSlAKUMTAyiAyqVWFGQWpYJkTE1NjRDiJZm5YFFzNPWlxalFSaVpIFsiw72y4FZkpoOEArNCjAwMKwKyI7L1E30NU7UrDcoSs6OSDLyNMgOK3EpTtbUNik0rzZLcfG2VagHdkjl6";

/// Two apps sharing the sample key: APP with admin xiaojun, APP+1 with admin admin.
async fn emu() -> crate::support::emulator::Emu {
    let mut cfg = crate::support::emulator::config();
    cfg.apps[0].admin = "xiaojun".into();
    cfg.apps.push(AppConfig::new(APP + 1, "admin", KEY));
    start(cfg).await
}

async fn at(emu: &crate::support::emulator::Emu, unix: i64) {
    let offset = unix - chrono::Utc::now().timestamp();
    let v = emu
        .post("emulator/clock", &json!({"offset_seconds": offset}))
        .await;
    assert_eq!(v["offset_seconds"], offset);
}

async fn code_with(
    emu: &crate::support::emulator::Emu,
    sdkappid: u64,
    identifier: &str,
    sig: &str,
) -> u64 {
    let q = format!(
        "sdkappid={sdkappid}&identifier={identifier}&usersig={sig}&random=7&contenttype=json"
    );
    let (status, v) = emu.raw("v4/timpush/get_attr_name", &q, "{}").await;
    assert_eq!(status, 200);
    v["ErrorCode"].as_u64().unwrap()
}

fn tampered(sig: &str) -> String {
    let b64: String = sig
        .chars()
        .map(|c| match c {
            '*' => '+',
            '-' => '/',
            '_' => '=',
            c => c,
        })
        .collect();
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(STANDARD.decode(b64).unwrap().as_slice())
        .read_to_end(&mut json)
        .unwrap();
    let mut doc: serde_json::Map<String, Value> = serde_json::from_slice(&json).unwrap();
    doc.insert("TLS.expire".into(), json!(999_999_999));
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&serde_json::to_vec(&doc).unwrap()).unwrap();
    STANDARD
        .encode(enc.finish().unwrap())
        .chars()
        .map(|c| match c {
            '+' => '*',
            '/' => '-',
            '=' => '_',
            c => c,
        })
        .collect()
}

#[tokio::test]
async fn reference_vectors_are_accepted_at_their_time() {
    let emu = emu().await;
    at(&emu, T).await;
    for sig in [V1_PY, V1_NODE, V1_GO, V3_PY] {
        assert_eq!(code_with(&emu, APP, "xiaojun", sig).await, 0, "{sig}");
    }
    // The last valid second, then one past it.
    at(&emu, T + 15_552_000).await;
    assert_eq!(code_with(&emu, APP, "xiaojun", V1_PY).await, 0);
    at(&emu, T + 15_552_001).await;
    assert_eq!(code_with(&emu, APP, "xiaojun", V1_PY).await, 70001);
    // V2 (administrator, 1 day) has expired long before that.
    assert_eq!(code_with(&emu, APP, "administrator", V2_PY).await, 70001);
}

#[tokio::test]
async fn bad_usersigs_are_refused_with_their_codes() {
    let emu = emu().await;
    at(&emu, T).await;
    assert_eq!(
        code_with(&emu, APP, "xiaojun", &tampered(V1_PY)).await,
        70009,
        "tampered"
    );
    assert_eq!(
        code_with(&emu, APP + 1, "xiaojun", V1_PY).await,
        70014,
        "wrong app"
    );
    assert_eq!(
        code_with(&emu, APP, "admin", V1_PY).await,
        70013,
        "wrong identifier"
    );
    assert_eq!(code_with(&emu, APP, "xiaojun", "").await, 70002, "empty");
    assert_eq!(
        code_with(&emu, APP, "xiaojun", "not*a*sig").await,
        70003,
        "undecodable"
    );
    assert_eq!(
        code_with(&emu, APP + 7, "xiaojun", V1_PY).await,
        70020,
        "unknown app"
    );
    // A valid sig of an account that is not the app admin.
    assert_eq!(
        code_with(&emu, APP, "administrator", V2_PY).await,
        90009,
        "not the admin"
    );
    let q = format!("sdkappid={APP}&identifier=xiaojun&random=7");
    assert_eq!(
        emu.raw("v4/timpush/push", &q, "{}").await.1["ErrorCode"],
        70002,
        "usersig missing"
    );
}

#[tokio::test]
async fn url_and_query_checks_answer_http_200() {
    let emu = crate::support::emulator::start(crate::support::emulator::config()).await;
    let sig = crate::support::emulator::sig(APP, "admin");
    let cases = [
        (
            "v4/timpush/nope",
            format!("sdkappid={APP}&identifier=admin&usersig={sig}&random=1"),
            60009,
        ),
        (
            "v4/timpush/push",
            format!("identifier=admin&usersig={sig}&random=1"),
            60012,
        ),
        (
            "v4/timpush/push",
            format!("sdkappid=abc&identifier=admin&usersig={sig}&random=1"),
            60012,
        ),
        (
            "v4/timpush/push",
            format!("sdkappid={APP}&usersig={sig}&random=1"),
            60002,
        ),
        (
            "v4/timpush/push",
            format!("sdkappid={APP}&identifier=admin&usersig={sig}"),
            60002,
        ),
        (
            "v4/timpush/push",
            format!("sdkappid={APP}&identifier=admin&usersig={sig}&random=-1"),
            60002,
        ),
        (
            "v4/timpush/push",
            format!("sdkappid={APP}&identifier=admin&usersig={sig}&random=1&contenttype=xml"),
            60002,
        ),
        // Any parameter order, no contenttype, no Content-Type header.
        (
            "v4/timpush/get_attr_name",
            format!("usersig={sig}&random=1&identifier=admin&sdkappid={APP}"),
            0,
        ),
        (
            "/v4/all_member_push/im_get_attr_name",
            format!("contenttype=json&random=1&usersig={sig}&sdkappid={APP}&identifier=admin"),
            0,
        ),
    ];
    for (path, q, want) in cases {
        let (status, v) = emu.raw(path.trim_start_matches('/'), &q, "{}").await;
        assert_eq!(status, 200, "{path}?{q}");
        assert_eq!(v["ErrorCode"], want, "{path}?{q}: {v}");
        assert_eq!(v["ActionStatus"], if want == 0 { "OK" } else { "FAIL" });
        assert!(v["ErrorInfo"].is_string());
    }
    // GET is refused with the envelope too.
    let v: Value = emu
        .client
        .get(format!("{}/v4/timpush/push?{}", emu.base, emu.query()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["ErrorCode"], 60002);
    // With a JSON Content-Type as well.
    let resp = emu
        .client
        .post(format!(
            "{}/v4/timpush/get_attr_name?{}",
            emu.base,
            emu.query()
        ))
        .header("content-type", "application/json; charset=utf-8")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["ErrorCode"], 0);
    let stats = emu.stats().await;
    assert_eq!(stats["rejected"]["60002"], 5);
    assert_eq!(stats["rejected"]["60012"], 2);
    assert_eq!(stats["rejected"]["60009"], 1);
}
