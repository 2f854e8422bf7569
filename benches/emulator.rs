//! Emulator and pacing benchmarks: `cargo bench --bench emulator` (or `-- resolve`, `-- wrk`,
//! `-- pacing`, `-- validate` for one part). Figures are printed, never asserted: machines are
//! shared and noisy.
//!
//! 1. Recipient resolution: the emulator's user index (a roaring bitmap per tag and per
//!    attribute value) over 100,000 and 1,000,000 generated users, for tag (TagsOr, TagsAnd,
//!    TagsNot) and attribute (AttrsOr, AttrsAnd) conditions and mixes: median time per
//!    resolution, and the index's size (the bitmaps serialized; the whole store's RSS growth).
//! 2. Requests per second of the tag and attribute APIs of `crier emulator --no-rate-limits`
//!    (the release binary) under `wrk`: `benches/wrk.sh`, medians of its runs.
//! 3. Pacing with the provider's 1 s rule: `crier apply` of 30 due pushes against an in-process
//!    emulator with its interval rule on and crier's default `min_interval` (1100 ms): the
//!    intervals the emulator saw and the count of 90024 answers.
//! 4. `crier validate` of a one-campaign repository, cold (a new process each run).
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_macros,
    reason = "tests and benchmarks read files, the clock and the environment, and print"
)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crier::emulator::UserStore;
use crier::emulator::users::{GENERATED_TAGS, Selector, generated_values};

#[path = "common/mod.rs"]
mod common;

fn median<T: PartialOrd + Copy>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).expect("comparable"));
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The process's resident set, in bytes (Linux; 0 elsewhere).
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn tags(v: &[&str]) -> Vec<String> {
    v.iter().map(|t| (*t).to_owned()).collect()
}

fn attrs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

/// The conditions timed: each kind alone, the widest lists the API allows, and mixes.
fn selectors() -> Vec<(&'static str, Selector)> {
    let s = Selector::default;
    vec![
        ("all users (no condition)", s()),
        (
            "TagsOr 2",
            Selector {
                tags_or: tags(&["vip", "premium"]),
                ..s()
            },
        ),
        (
            "TagsOr 10 (the API's most)",
            Selector {
                tags_or: tags(&GENERATED_TAGS[..10]),
                ..s()
            },
        ),
        (
            "TagsAnd 2",
            Selector {
                tags_and: tags(&["vip", "android"]),
                ..s()
            },
        ),
        (
            "TagsNot 3",
            Selector {
                tags_not: tags(&["churned", "trial", "web"]),
                ..s()
            },
        ),
        (
            "TagsOr 3 + TagsNot 2",
            Selector {
                tags_or: tags(&["stock-a", "stock-b", "stock-c"]),
                tags_not: tags(&["churned", "new"]),
                ..s()
            },
        ),
        (
            "TagsOr 2 + TagsAnd 2 + TagsNot 2",
            Selector {
                tags_or: tags(&["android", "ios"]),
                tags_and: tags(&["vip", "lang-en"]),
                tags_not: tags(&["churned", "trial"]),
                ..s()
            },
        ),
        (
            "AttrsOr 2",
            Selector {
                attrs_or: attrs(&[("city", "Shenzhen"), ("city", "Beijing")]),
                ..s()
            },
        ),
        (
            "AttrsAnd 2",
            Selector {
                attrs_and: attrs(&[("city", "Shenzhen"), ("level", "Gold")]),
                ..s()
            },
        ),
        (
            "TagsOr 2 + TagsNot 1 + AttrsAnd 2",
            Selector {
                tags_or: tags(&["vip", "premium"]),
                tags_not: tags(&["churned"]),
                attrs_and: attrs(&[("city", "Singapore"), ("level", "Platinum")]),
                ..s()
            },
        ),
    ]
}

fn resolution(n: u32) {
    let names = vec!["city".to_owned(), "level".to_owned()];
    let before = rss();
    let t = Instant::now();
    let store = UserStore::generate(n, 1, &names);
    let generated = t.elapsed();
    let grown = rss().saturating_sub(before);
    // The index's bitmaps, each read back through a one-item condition.
    let one = |sel: Selector| store.resolve(&sel).serialized_size();
    let mut bitmap_bytes = one(Selector::default());
    for t in GENERATED_TAGS {
        bitmap_bytes += one(Selector {
            tags_or: tags(&[t]),
            ..Selector::default()
        });
    }
    for name in &names {
        for v in generated_values(name) {
            bitmap_bytes += one(Selector {
                attrs_or: vec![(name.clone(), (*v).to_owned())],
                ..Selector::default()
            });
        }
    }
    println!(
        "== {n} generated users (16 tags, 0-5 each; city and level at 4/5): generated in {:.2} s",
        generated.as_secs_f64()
    );
    println!(
        "   index: the bitmaps serialized {:.1} KB ({:.2} bytes a user); the whole store (ids, maps, per-user lists) grew the RSS by {:.0} MB ({:.0} bytes a user)",
        bitmap_bytes as f64 / 1e3,
        bitmap_bytes as f64 / f64::from(n),
        grown as f64 / 1e6,
        grown as f64 / f64::from(n)
    );
    println!(
        "   {:<36} {:>10} {:>12} {:>12}",
        "condition", "recipients", "median µs", "min µs"
    );
    for (what, sel) in selectors() {
        let mut times = Vec::new();
        let mut count = 0;
        let budget = Instant::now();
        while times.len() < 11 || (times.len() < 201 && budget.elapsed() < Duration::from_secs(1)) {
            let t = Instant::now();
            let users = std::hint::black_box(store.resolve(std::hint::black_box(&sel)));
            times.push(t.elapsed());
            count = users.len();
        }
        let min = *times.iter().min().expect("timed");
        println!(
            "   {what:<36} {count:>10} {:>12.1} {:>12.1}",
            median(times).as_secs_f64() * 1e6,
            min.as_secs_f64() * 1e6
        );
    }
}

/// One wrk run's `name=value` figures.
type WrkRun = Vec<(String, f64)>;

/// Runs `benches/wrk.sh` with the release binary and prints the medians of its runs.
fn wrk() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seconds = std::env::var("WRK_SECONDS").unwrap_or_else(|_| "5".into());
    let runs = std::env::var("WRK_RUNS").unwrap_or_else(|_| "3".into());
    println!(
        "== tag and attribute APIs of `crier emulator --no-rate-limits` under wrk (benches/wrk.sh, {seconds} s a run, medians of {runs} runs)"
    );
    let out = Command::new("bash")
        .arg(root.join("benches/wrk.sh"))
        .args([env!("CARGO_BIN_EXE_crier"), &seconds, &runs])
        .stderr(Stdio::inherit())
        .output()
        .expect("bash runs benches/wrk.sh");
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        println!("   wrk.sh failed ({}): {text}", out.status);
        return;
    }
    let mut groups: Vec<(String, Vec<WrkRun>)> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("SKIP ").or(line.strip_prefix("INFO ")) {
            println!("   {rest}");
            continue;
        }
        let Some(rest) = line.strip_prefix("API ") else {
            continue;
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        let key = format!(
            "{} ({} user{} a call{})",
            words[0],
            words[1],
            if words[1] == "1" { "" } else { "s" },
            if words[2] == "nolog" {
                ", request log off"
            } else {
                ""
            }
        );
        let fields: Vec<(String, f64)> = words[4..]
            .iter()
            .filter_map(|w| w.split_once('='))
            .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
            .collect();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(fields),
            None => groups.push((key, vec![fields])),
        }
    }
    println!(
        "   {:<44} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "API", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"
    );
    for (key, runs) in groups {
        let field = |name: &str| {
            median(
                runs.iter()
                    .map(|r| {
                        r.iter()
                            .find(|(k, _)| k == name)
                            .map_or(f64::NAN, |(_, v)| *v)
                    })
                    .collect(),
            )
        };
        println!(
            "   {key:<44} {:>9.0} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>7.0}",
            field("rps"),
            field("p50_ms"),
            field("p90_ms"),
            field("p99_ms"),
            field("max_ms"),
            field("errors")
        );
    }
}

const PACED: usize = 30;

/// One `crier apply --auto-approve` of `PACED` one-offs due now against an in-process emulator
/// with the provider's interval rule (more than 1 s); crier's `min_interval` is its default.
/// Returns the intervals between accepted pushes as the emulator saw them, and its 90024 count.
async fn paced_apply(root: &Path) -> (Vec<Duration>, u64) {
    let app = crier::emulator::AppConfig::new(1_400_000_000, "admin", common::KEY);
    assert_eq!(
        app.min_interval,
        Duration::from_secs(1),
        "the provider's rule"
    );
    let due =
        common::DueNow::start(root, app, "", "ledger: {path: .crier/ledger}", PACED, "p").await;
    let emu = &due.emu;
    let mut cmd = due.crier(&["apply", "--auto-approve"]);
    // Off the runtime's workers: the in-process emulator answers on them meanwhile.
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "apply failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let pushes = emu.pushes();
    assert_eq!(pushes.len(), PACED, "every push accepted");
    let intervals = pushes
        .windows(2)
        .map(|w| (w[1].received_at - w[0].received_at).to_std().unwrap())
        .collect();
    let too_frequent = emu.stats().rejected.get("90024").copied().unwrap_or(0);
    due.emu.shutdown().await;
    (intervals, too_frequent)
}

async fn pacing(root: &Path, runs: usize) {
    let min_interval = crier::settings::DEFAULT_MIN_INTERVAL;
    println!(
        "== pacing: crier apply of {PACED} due pushes, the emulator's rule (> 1 s apart), crier's min_interval {} ms (default); {runs} runs",
        min_interval.as_millis()
    );
    println!(
        "   {:<8} {:>10} {:>10} {:>10} {:>14} {:>7}",
        "run", "mean ms", "min ms", "max ms", "mean/min_int", "90024"
    );
    let mut means = Vec::new();
    let mut maxes = Vec::new();
    let mut rejected = 0;
    for run in 1..=runs {
        let (intervals, too_frequent) = paced_apply(root).await;
        let mean = intervals.iter().sum::<Duration>() / u32::try_from(intervals.len()).unwrap();
        let max = *intervals.iter().max().unwrap();
        let min = *intervals.iter().min().unwrap();
        println!(
            "   {run:<8} {:>10.1} {:>10.1} {:>10.1} {:>14.4} {too_frequent:>7}",
            ms(mean),
            ms(min),
            ms(max),
            mean.as_secs_f64() / min_interval.as_secs_f64()
        );
        means.push(mean);
        maxes.push(max);
        rejected += too_frequent;
    }
    let mean = median(means);
    println!(
        "   {:<8} {:>10.1} {:>10} {:>10.1} {:>14.4} {rejected:>7}",
        "median",
        ms(mean),
        "",
        ms(median(maxes)),
        mean.as_secs_f64() / min_interval.as_secs_f64()
    );
    println!(
        "   goals: 90024 answers 0 ({}); mean interval <= 1.05 x min_interval ({})",
        if rejected == 0 { "met" } else { "NOT met" },
        if mean.as_secs_f64() <= 1.05 * min_interval.as_secs_f64() {
            "met"
        } else {
            "NOT met"
        }
    );
}

/// `crier validate` of a one-campaign repository: a new process each run.
fn validate_cold(root: &Path) {
    let repo = tempfile::tempdir_in(root).unwrap();
    std::fs::write(
        repo.path().join("crier.yaml"),
        "project: bench\napps:\n  prod:\n    sdkappid: 1400000000\n    region: singapore\n    admin: admin\n    secret_key_env: BENCH_KEY\n",
    )
    .unwrap();
    std::fs::create_dir(repo.path().join("campaigns")).unwrap();
    std::fs::write(
        repo.path().join("campaigns/welcome.yaml"),
        "version: 1\nname: welcome\naudience:\n  tags:\n    any: [vip, premium]\n    none: [churned]\nschedule: {cron: \"0 9 * * *\", timezone: Asia/Shanghai}\nvars: {discount: 20}\nmessage:\n  body:\n    - text: \"{{ discount }}% off today\"\n  offline_push:\n    title: Sale\n",
    )
    .unwrap();
    const RUNS: usize = 20;
    println!("== crier validate of one campaign file, cold (a new process each run; {RUNS} runs)");
    let bin = env!("CARGO_BIN_EXE_crier");
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let status = Command::new(bin)
            .arg("validate")
            .current_dir(repo.path())
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        times.push(t.elapsed());
        assert!(status.success(), "validate failed: {status}");
    }
    let min = *times.iter().min().unwrap();
    let max = *times.iter().max().unwrap();
    println!(
        "   {:<36} median {:>7.2} ms   min {:>7.2} ms   max {:>7.2} ms",
        "spawn + wait (this bench's loop)",
        ms(median(times)),
        ms(min),
        ms(max)
    );
    // hyperfine, when installed, for a second opinion.
    let json = repo.path().join("hyperfine.json");
    let hyper = Command::new("hyperfine")
        .args(["-N", "--warmup", "3", "--runs", "20", "--export-json"])
        .arg(&json)
        .arg(format!("{bin} validate"))
        .current_dir(repo.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match hyper {
        Ok(s) if s.success() => {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
            let r = &v["results"][0];
            let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN) * 1e3;
            println!(
                "   {:<36} median {:>7.2} ms   min {:>7.2} ms   max {:>7.2} ms   (mean {:.2} ± {:.2} ms)",
                "hyperfine -N --warmup 3 --runs 20",
                f("median"),
                f("min"),
                f("max"),
                f("mean"),
                f("stddev")
            );
        }
        _ => println!(
            "   (hyperfine not installed or failed: Debian's `hyperfine` adds a second opinion)"
        ),
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let parts = ["resolve", "wrk", "pacing", "validate"];
    let chosen: Vec<&str> = parts
        .iter()
        .copied()
        .filter(|p| args.iter().any(|a| a == p))
        .collect();
    let all = chosen.is_empty();
    let on = |p: &str| all || chosen.contains(&p);
    let dir = tempfile::tempdir().unwrap();
    if on("resolve") {
        resolution(100_000);
        resolution(1_000_000);
    }
    if on("wrk") {
        wrk();
    }
    if on("pacing") {
        let runs = std::env::var("PACING_RUNS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(3);
        pacing(dir.path(), runs).await;
    }
    if on("validate") {
        validate_cold(dir.path());
    }
}
