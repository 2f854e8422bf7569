//! Ledger benchmarks: `cargo bench --bench ledger` (PostgreSQL parts when
//! `CRIER_TEST_DATABASE_URL` is set). Figures are printed, never asserted: machines are shared
//! and noisy.
//!
//! 1. The cost of one durable step: an append through the protocol, file vs PostgreSQL, next to
//!    a bare `BEGIN; INSERT …; COMMIT` of the same row size on the same server.
//! 2. Reading ledgers of 30,000, 100,000 and 300,000 records (pushes at a full quota of 100 a
//!    day, an intent and a sent each: 300,000 records are about four years), file vs
//!    PostgreSQL: the whole history, and through the checkpoint (what `plan`, `apply` and
//!    `status` read); then `crier status` and `crier plan` on each, the release binary's wall
//!    time; and the PostgreSQL import.
//! 3. Dispatch overhead per push: `crier apply` of 200 due pushes against the in-process
//!    emulator with its interval rule off, file vs PostgreSQL ledger.
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_macros,
    reason = "tests and benchmarks read files, the clock and the environment, and print"
)]

use std::io::Write as _;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use crier::clock::ManualClock;
use crier::ledger::postgres::PgLedger;
use crier::ledger::record::{OccurrenceRecord, OccurrenceState, Record, RecordBody};
use crier::ledger::{AnyLedger, FileLedger, Ledger as _, LedgerWriter as _};
use crier::occurrence::OccurrenceKey;

#[path = "common/mod.rs"]
mod common;

const STEPS: usize = 300;
const BIG: usize = 300_000;

fn at() -> DateTime<Utc> {
    "2026-12-01T02:00:00Z".parse().unwrap()
}

fn holder() -> crier::ledger::LockHolder {
    crier::ledger::LockHolder {
        pid: 1,
        hostname: "bench".into(),
        user: "bench".into(),
        command: "bench".into(),
        started_at: at(),
        project: None,
        ci_run: None,
        ci_url: None,
    }
}

fn key(i: usize) -> OccurrenceKey {
    OccurrenceKey {
        project: "bench".into(),
        sdkappid: 1_400_000_000,
        campaign: format!("c{}", i % 50),
        scheduled: at() + TimeDelta::minutes(i64::try_from(i).unwrap()),
    }
}

fn intent(i: usize) -> RecordBody {
    RecordBody::Occurrence(OccurrenceRecord {
        key: key(i),
        app: "prod".into(),
        state: OccurrenceState::Intent {
            msg_random: u32::try_from(i).unwrap(),
            perturbation: None,
            content_hash: format!("sha256:{i:064}"),
            request: serde_json::json!({"MsgRandom": i, "OnlineOnlyFlag": 0, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "a benchmark push of ordinary length, about one line"}}]}),
            attempt: 1,
            origin: None,
        },
    })
}

fn sent(i: usize) -> RecordBody {
    RecordBody::Occurrence(OccurrenceRecord {
        key: key(i),
        app: "prod".into(),
        state: OccurrenceState::Sent {
            task_id: format!("task-{i}"),
        },
    })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn report(what: &str, samples: Vec<Duration>) {
    let mean = samples.iter().sum::<Duration>() / u32::try_from(samples.len()).unwrap();
    println!(
        "{what:<58} median {:>8.3} ms   mean {:>8.3} ms",
        median(samples).as_secs_f64() * 1e3,
        mean.as_secs_f64() * 1e3
    );
}

async fn pg_database(server: &str, name: &str) -> String {
    let (client, conn) = tokio_postgres::connect(server, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .simple_query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .unwrap();
    client
        .simple_query(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let base = server.split('?').next().unwrap();
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    format!("{base}/{name}?sslmode=disable")
}

async fn durable_steps(ledger: &AnyLedger) -> Vec<Duration> {
    let clock = ManualClock::new(at());
    let mut w = ledger.lock(holder(), Duration::ZERO, &clock).await.unwrap();
    let mut out = Vec::with_capacity(STEPS);
    for i in 0..STEPS {
        let body = if i % 2 == 0 {
            intent(i / 2)
        } else {
            sent(i / 2)
        };
        let t = Instant::now();
        w.append(at(), body).await.unwrap();
        out.push(t.elapsed());
    }
    out
}

/// The `i`-th of `pushes` pushes at 100 a day, the last one at [`at`].
fn daily_key(i: usize, pushes: usize) -> OccurrenceKey {
    let back = i64::try_from(pushes - i).unwrap() * 864;
    OccurrenceKey {
        project: "bench".into(),
        sdkappid: 1_400_000_000,
        campaign: format!("c{}", i % 50),
        scheduled: at() - TimeDelta::seconds(back),
    }
}

/// A ledger file of `n` records (header, then intent + sent pairs of pushes at 100 a day, the
/// last at [`at`]), written directly.
fn big_file(dir: &std::path::Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("ledger.jsonl")).unwrap());
    let pushes = (n - 1).div_ceil(2);
    let first = daily_key(0, pushes).scheduled;
    let mut seq = 1;
    let header = Record {
        v: 1,
        seq,
        at: first,
        body: RecordBody::header(),
    };
    f.write_all(&crier::ledger::jsonl::encode(&header).unwrap())
        .unwrap();
    for i in 0..pushes {
        let key = daily_key(i, pushes);
        let bodies = [intent(i), sent(i)].map(|b| match b {
            RecordBody::Occurrence(mut o) => {
                o.key = key.clone();
                RecordBody::Occurrence(o)
            }
            other => other,
        });
        for (j, body) in bodies.into_iter().enumerate() {
            seq += 1;
            let r = Record {
                v: 1,
                seq,
                at: key.scheduled + TimeDelta::seconds(i64::try_from(j).unwrap()),
                body,
            };
            f.write_all(&crier::ledger::jsonl::encode(&r).unwrap())
                .unwrap();
        }
    }
}

/// A campaign repository of 50 daily campaigns over the ledger `ledger` (a `crier.yaml` line).
fn plan_repo(root: &std::path::Path, ledger: &str) -> tempfile::TempDir {
    let repo = tempfile::tempdir_in(root).unwrap();
    std::fs::write(
        repo.path().join("crier.yaml"),
        format!(
            "project: bench\napps:\n  prod:\n    sdkappid: 1400000000\n    region: singapore\n    admin: admin\n    secret_key_env: BENCH_KEY\ndefaults: {{timezone: UTC, grace: 1h}}\n{ledger}\n"
        ),
    )
    .unwrap();
    std::fs::create_dir(repo.path().join("campaigns")).unwrap();
    for i in 0..50 {
        std::fs::write(
            repo.path().join(format!("campaigns/c{i}.yaml")),
            format!(
                "version: 1\nname: c{i}\naudience: {{tags: {{any: [t{i}]}}}}\nschedule: {{cron: \"{} {} * * *\", timezone: UTC}}\nmessage:\n  body:\n    - text: \"hello {i}\"\n",
                (i * 7) % 60,
                i % 24
            ),
        )
        .unwrap();
    }
    repo
}

/// The median wall time of `crier ARGS` (the release binary) in `repo`, over three runs.
fn command_time(repo: &std::path::Path, args: &[&str], url: Option<&str>) -> Duration {
    let mut times = Vec::new();
    for _ in 0..3 {
        let mut cmd = common::crier_in(repo, args, "2026-12-01T02:00:30Z", url);
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let t = Instant::now();
        let status = cmd.status().unwrap();
        times.push(t.elapsed());
        assert!(
            matches!(status.code(), Some(0 | 2)),
            "crier {args:?} failed: {status}"
        );
    }
    median(times)
}

/// `crier status` and `crier plan` over a ledger, one line.
fn commands(what: &str, repo: &std::path::Path, url: Option<&str>) {
    let status = command_time(repo, &["status"], url);
    let plan = command_time(repo, &["plan"], url);
    println!(
        "{:<58} status {:>7.1} ms, plan {:>7.1} ms (median of 3)",
        what,
        status.as_secs_f64() * 1e3,
        plan.as_secs_f64() * 1e3
    );
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    // `cargo bench --bench ledger -- reads`: only the file ledger's reads.
    let only_reads = std::env::args().any(|a| a == "reads");
    // `cargo bench --bench ledger -- dispatch`: only the dispatch overhead.
    let only_dispatch = std::env::args().any(|a| a == "dispatch");
    let server = std::env::var("CRIER_TEST_DATABASE_URL")
        .ok()
        .filter(|_| !only_reads);
    if !only_dispatch {
        println!("== one durable step ({STEPS} appends, intent/sent records of ~400 bytes)");
        let file = AnyLedger::File(FileLedger::new(dir.path().join("steps")));
        report(
            "file ledger: append (write + sync_data)",
            durable_steps(&file).await,
        );
        if let Some(server) = &server {
            let url = pg_database(server, "crier_bench_steps").await;
            let pg = AnyLedger::Postgres(PgLedger::new(url.clone(), "bench"));
            report(
                "PostgreSQL ledger: append (one transaction)",
                durable_steps(&pg).await,
            );
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            client
                .batch_execute("CREATE TABLE bare (seq bigint PRIMARY KEY, line text NOT NULL)")
                .await
                .unwrap();
            let line = String::from_utf8(
                crier::ledger::jsonl::encode(&Record {
                    v: 1,
                    seq: 2,
                    at: at(),
                    body: intent(1),
                })
                .unwrap(),
            )
            .unwrap();
            let insert = client
                .prepare("INSERT INTO bare VALUES ($1, $2)")
                .await
                .unwrap();
            let mut bare = Vec::new();
            for i in 0..STEPS {
                let t = Instant::now();
                // One prepared statement in its own transaction (autocommit): INSERT …; COMMIT.
                client
                    .execute(&insert, &[&i64::try_from(i).unwrap(), &line])
                    .await
                    .unwrap();
                bare.push(t.elapsed());
            }
            report(
                "PostgreSQL: bare INSERT … (autocommit) of the same row",
                bare,
            );
        } else {
            println!("(PostgreSQL parts skipped: CRIER_TEST_DATABASE_URL is not set)");
        }

        for n in [BIG / 10, BIG / 3, BIG] {
            println!("== a ledger of {n} records (pushes at 100 a day, an intent and a sent each)");
            let big = dir.path().join(format!("big-{n}"));
            big_file(&big, n);
            let file = FileLedger::new(&big);
            let mut reads = Vec::new();
            for _ in 0..3 {
                let t = Instant::now();
                let read = file.read_history_sync().unwrap();
                reads.push(t.elapsed());
                assert!(read.snapshot.seq >= u64::try_from(n).unwrap());
            }
            report("file ledger: the whole history (ledger list|show)", reads);
            // The first writer folds it all once and stores the checkpoint.
            let t = Instant::now();
            drop(
                file.lock_sync(&holder(), Duration::from_secs(5), &ManualClock::new(at()))
                    .unwrap(),
            );
            println!(
                "{:<58} {:>8.1} ms",
                "file ledger: first writer (whole fold + checkpoint)",
                t.elapsed().as_secs_f64() * 1e3
            );
            let mut reads = Vec::new();
            let mut kept = 0;
            for _ in 0..3 {
                let t = Instant::now();
                let read = file.read_sync().unwrap();
                reads.push(t.elapsed());
                assert!(read.snapshot.seq >= u64::try_from(n).unwrap());
                kept = read.snapshot.occurrences.len();
            }
            report("file ledger: through the checkpoint (plan, status)", reads);
            println!(
                "{:<58} {kept} occurrences kept whole of {}, checkpoint {} KB",
                "  of which",
                n / 2,
                std::fs::metadata(big.join("ledger.checkpoint"))
                    .unwrap()
                    .len()
                    / 1000
            );
            let repo = plan_repo(dir.path(), &format!("ledger: {{path: {}}}", big.display()));
            commands("file ledger: crier status / crier plan", repo.path(), None);
            if only_reads {
                continue;
            }
            if let Some(server) = &server {
                let url = pg_database(server, &format!("crier_bench_big_{n}")).await;
                let pg = AnyLedger::Postgres(PgLedger::new(url.clone(), "bench"));
                let export = AnyLedger::File(file).export().await.unwrap();
                let t = Instant::now();
                pg.import(&export, &holder(), Duration::ZERO).await.unwrap();
                println!(
                    "{:<58} {:>8.1} s (one transaction, COPY, and its checkpoint)",
                    format!("PostgreSQL ledger: import of {n} records"),
                    t.elapsed().as_secs_f64()
                );
                let mut whole = Vec::new();
                let mut reads = Vec::new();
                for _ in 0..3 {
                    let t = Instant::now();
                    let read = pg.read_history().await.unwrap();
                    whole.push(t.elapsed());
                    assert!(read.snapshot.seq >= u64::try_from(n).unwrap());
                    let t = Instant::now();
                    let read = pg.read().await.unwrap();
                    reads.push(t.elapsed());
                    assert!(read.snapshot.seq >= u64::try_from(n).unwrap());
                }
                report("PostgreSQL ledger: the whole history", whole);
                report("PostgreSQL ledger: through the checkpoint", reads);
                let repo = plan_repo(dir.path(), "ledger: {postgres_url_env: CRIER_LEDGER_URL}");
                commands(
                    "PostgreSQL ledger: crier status / crier plan",
                    repo.path(),
                    Some(&url),
                );
            }
        }
    }
    if only_reads {
        return;
    }

    println!(
        "== dispatch overhead: crier apply of {PUSHES} due pushes, the emulator's interval rule off"
    );
    let per_push = |(all, fixed): (Duration, Duration)| {
        format!(
            "{:>8.3} ms per push ({:.2} s in all, {:.2} s of it fixed: a run with nothing due)",
            all.saturating_sub(fixed).as_secs_f64() * 1e3 / f64::from(PUSHES),
            all.as_secs_f64(),
            fixed.as_secs_f64()
        )
    };
    let t = dispatch(dir.path(), "ledger: {path: .crier/ledger}", None).await;
    println!("{:<24} {}", "file ledger", per_push(t));
    if let Some(server) = &server {
        let url = pg_database(server, "crier_bench_dispatch").await;
        let t = dispatch(
            dir.path(),
            "ledger: {postgres_url_env: CRIER_LEDGER_URL}",
            Some(&url),
        )
        .await;
        println!("{:<24} {}", "PostgreSQL ledger", per_push(t));
    }
}

const PUSHES: u32 = 200;

/// The wall time of `crier apply --auto-approve` (the release binary) sending `PUSHES` one-offs
/// due now to an in-process emulator whose interval rule is off.
async fn dispatch(root: &std::path::Path, ledger: &str, url: Option<&str>) -> (Duration, Duration) {
    let mut app = crier::emulator::AppConfig::new(1_400_000_000, "admin", common::KEY);
    app.min_interval = Duration::ZERO;
    app.daily_quota = 100_000;
    let due = common::DueNow::start(
        root,
        app,
        "    min_interval: 0ms\n    daily_quota: 100000\n",
        ledger,
        PUSHES as usize,
        "c",
    )
    .await;
    let emu = &due.emu;
    let mut cmd = due.crier(&["apply", "--auto-approve"]);
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(url) = url {
        cmd.env("CRIER_LEDGER_URL", url);
    }
    let t = Instant::now();
    let status = cmd.status().unwrap();
    let took = t.elapsed();
    if !status.success() {
        let o = cmd.stderr(std::process::Stdio::piped()).output().unwrap();
        panic!(
            "apply failed: {status}; run again: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert_eq!(emu.pushes().len(), PUSHES as usize);
    // The same apply again has nothing to send: its time is the fixed part (start, load,
    // validate, plan, lock).
    let t = Instant::now();
    assert!(cmd.status().unwrap().success());
    let fixed = t.elapsed();
    assert_eq!(emu.pushes().len(), PUSHES as usize, "nothing sent twice");
    (took, fixed)
}
