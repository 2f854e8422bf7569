//! Scale: 1,000,000 users with up to 5 tags each. Run with
//! `cargo test --release --test emulator_perf -- --ignored --nocapture` (timings are meaningful in
//! release builds only; the assertions are generous bounds).

use crate::support::emulator::{config, start};
use crier::emulator::users::{Selector, UserStore};
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
#[ignore = "scale measurement; run explicitly"]
fn a_tag_condition_over_a_million_users_resolves_quickly() {
    let t = Instant::now();
    let store = UserStore::generate(1_000_000, 1, &["city".to_owned()]);
    eprintln!("generated 1,000,000 users in {:?}", t.elapsed());
    let sels = [
        Selector {
            tags_or: vec!["vip".into(), "stock-a".into()],
            ..Selector::default()
        },
        Selector {
            tags_and: vec!["vip".into(), "ios".into()],
            tags_not: vec!["churned".into()],
            ..Selector::default()
        },
        Selector {
            tags_not: vec!["churned".into(), "trial".into()],
            ..Selector::default()
        },
    ];
    for sel in &sels {
        let t = Instant::now();
        let n = store.resolve(sel).len();
        let took = t.elapsed();
        eprintln!("{sel:?}: {n} recipients in {took:?}");
        assert!(n > 0 && took < Duration::from_millis(500));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "throughput measurement; run explicitly"]
async fn attribute_calls_without_rate_limits_serve_thousands_per_second() {
    let mut cfg = config();
    cfg.rate_limits = false;
    let emu = start(cfg).await;
    let url = format!("{}/v4/timpush/get_tag?{}", emu.base, emu.query());
    let t = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for w in 0..16 {
        let (client, url) = (emu.client.clone(), url.clone());
        set.spawn(async move {
            for i in 0..250 {
                let body = json!({"To_Account": [format!("u{}", (w + i) % 5 + 1)]}).to_string();
                let v: serde_json::Value = client
                    .post(&url)
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert_eq!(v["ErrorCode"], 0);
            }
        });
    }
    set.join_all().await;
    let rate = 4000.0 / t.elapsed().as_secs_f64();
    eprintln!("{rate:.0} calls/s");
    assert!(rate > 1000.0);
}
