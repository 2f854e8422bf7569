//! The PostgreSQL ledger against a real server. These run when `CRIER_TEST_DATABASE_URL` is set
//! (`.ci/run` sets it) and say they were skipped otherwise; with it set and the server
//! unreachable, they fail. Each test works in a database of its own.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crier::clock::ManualClock;
use crier::ledger::postgres::PgLedger;
use crier::ledger::record::{OccurrenceRecord, OccurrenceState, RecordBody, StateKind};
use crier::ledger::{AnyLedger, FileLedger, Ledger as _, LedgerError};
use crier::occurrence::OccurrenceKey;

use crate::support::apply::{Repo, emulator_config, start_emulator};
use crate::support::cli::text;
use crate::support::postgres::{database, server};

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().unwrap()
}

fn occurrence(campaign: &str, state: OccurrenceState) -> RecordBody {
    RecordBody::Occurrence(OccurrenceRecord {
        key: OccurrenceKey {
            project: "shop".into(),
            sdkappid: 1_400_000_000,
            campaign: campaign.into(),
            scheduled: at("2026-12-01T02:00:00Z"),
        },
        app: "prod".into(),
        state,
    })
}

fn intent(msg_random: u32, attempt: u32) -> OccurrenceState {
    OccurrenceState::Intent {
        msg_random,
        perturbation: None,
        content_hash: "sha256:x".into(),
        request: serde_json::json!({"MsgRandom": msg_random}),
        attempt,
        origin: None,
    }
}

fn holder(who: &str) -> crier::ledger::LockHolder {
    crier::ledger::LockHolder {
        pid: 1,
        hostname: "ci".into(),
        user: who.into(),
        command: "crier apply".into(),
        started_at: at("2026-12-01T02:00:00Z"),
        project: None,
        ci_run: None,
        ci_url: None,
    }
}

#[tokio::test]
async fn a_holder_whose_connection_is_cut_can_never_append_again() {
    let Some(server) = server() else { return };
    let url = database(&server).await;
    let ledger = PgLedger::new(url.clone(), "CRIER_TEST_DATABASE_URL");
    let clock = ManualClock::new(at("2026-12-01T02:00:00Z"));
    let mut a = ledger
        .lock(holder("a"), Duration::ZERO, &clock)
        .await
        .unwrap();
    // The operator (or a failure) terminates the holder's backend.
    let (admin, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    admin
        .execute(
            "SELECT pg_terminate_backend(backend_pid) FROM crier.locks WHERE holder IS NOT NULL",
            &[],
        )
        .await
        .unwrap();
    let mut b = ledger
        .lock(holder("b"), Duration::from_secs(5), &clock)
        .await
        .unwrap();
    b.append(at("2026-12-01T02:00:01Z"), occurrence("sale", intent(1, 1)))
        .await
        .unwrap();
    let err = a
        .append(at("2026-12-01T02:00:02Z"), occurrence("x", intent(2, 1)))
        .await
        .unwrap_err();
    drop(a);
    eprintln!("the cut holder's append: {err}");
    let read = ledger.read().await.unwrap();
    let seqs: Vec<u64> = (1..=read.snapshot.seq).collect();
    assert_eq!(
        read.snapshot.seq, 2,
        "{seqs:?}: only b's record after the header"
    );
}

#[tokio::test]
async fn export_import_round_trip_file_to_postgres_to_file_is_lossless() {
    let Some(server) = server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = FileLedger::new(dir.path().join("a"));
    let clock = ManualClock::new(at("2026-12-01T02:00:00Z"));
    {
        let mut w = file
            .lock_sync(&holder("x"), Duration::ZERO, &clock)
            .unwrap();
        w.append_sync(at("2026-12-01T02:00:01Z"), occurrence("sale", intent(5, 1)))
            .unwrap();
        w.append_sync(
            at("2026-12-01T02:00:02Z"),
            occurrence(
                "sale",
                OccurrenceState::Sent {
                    task_id: "t".into(),
                },
            ),
        )
        .unwrap();
    }
    let first = AnyLedger::File(file).export().await.unwrap();
    let pg = AnyLedger::Postgres(PgLedger::new(database(&server).await, "URL"));
    pg.import(&first, &holder("x"), Duration::ZERO)
        .await
        .unwrap();
    let refused = pg
        .import(&first, &holder("x"), Duration::ZERO)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("not empty"), "{refused}");
    let middle = pg.export().await.unwrap();
    let back = AnyLedger::File(FileLedger::new(dir.path().join("b")));
    back.import(&middle, &holder("x"), Duration::ZERO)
        .await
        .unwrap();
    let last = back.export().await.unwrap();
    assert_eq!(
        (first.records(), &first.hash),
        (middle.records(), &middle.hash)
    );
    assert_eq!((first.records(), &first.hash), (last.records(), &last.hash));
    assert_eq!(first.bytes, last.bytes);
}

/// The real binary on a PostgreSQL ledger at `url`, in CI.
fn crier(repo: &Repo, url: &str, args: &[&str]) -> Command {
    let mut c = repo.binary(args);
    c.env("CRIER_LEDGER_URL", url).env("CI", "true");
    c
}

fn use_postgres(repo: &Repo) {
    let path = repo.path().join("crier.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        format!("{text}ledger: {{postgres_url_env: CRIER_LEDGER_URL}}\n"),
    )
    .unwrap();
}

async fn concurrent_applies(processes: usize) {
    let Some(server) = server() else { return };
    let url = database(&server).await;
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    use_postgres(&repo);
    repo.campaigns(12);
    let children: Vec<_> = (0..processes)
        .map(|_| {
            crier(
                &repo,
                &url,
                &["apply", "--auto-approve", "--lock-timeout", "120s"],
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let outputs: Vec<Output> = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect()
    })
    .await
    .unwrap();
    for o in &outputs {
        assert_eq!(o.status.code(), Some(0), "{}", text(o));
    }
    // Every occurrence delivered exactly once, counted at the emulator.
    let (all, names) = crate::support::apply::delivered(&emu);
    assert_eq!(all, 12, "{names:?}");
    assert_eq!(names.len(), 12, "no duplicates");
    let o = crier(&repo, &url, &["status"]).output().unwrap();
    assert!(text(&o).contains("sent 12"), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_concurrent_applies_on_one_postgres_ledger_send_each_push_once() {
    concurrent_applies(4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_concurrent_applies_on_one_postgres_ledger_send_each_push_once() {
    concurrent_applies(8).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ci_rule_and_a_missing_or_unreachable_database() {
    let Some(server) = server() else { return };
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    use_postgres(&repo);
    repo.campaigns(1);
    // Unset: an error with a hint, never the file ledger.
    let mut c = crier(&repo, "", &["apply", "--auto-approve"]);
    c.env_remove("CRIER_LEDGER_URL");
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("CRIER_LEDGER_URL, which is not set or empty"),
        "{}",
        text(&o)
    );
    assert!(
        !repo.path().join(".crier").exists(),
        "no file ledger was made"
    );
    // A server without TLS reached without `sslmode`: an error with a hint.
    let plain = server.split('?').next().unwrap_or(&server).to_owned();
    let o = crier(&repo, &plain, &["status"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("needs `?sslmode=disable` in the URL"),
        "{}",
        text(&o)
    );
    // Unreachable: an error, exit 1.
    let o = crier(
        &repo,
        "postgres://postgres@127.0.0.1:1/nope?sslmode=disable&connect_timeout=2",
        &["apply", "--auto-approve"],
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("cannot connect to the PostgreSQL ledger (CRIER_LEDGER_URL)"),
        "{}",
        text(&o)
    );
    assert!(emu.pushes().is_empty());
    // Reachable, with CI=true: runs normally; migrate reports the schema.
    let url = database(&server).await;
    let o = crier(&repo, &url, &["ledger", "migrate"]).output().unwrap();
    assert!(
        text(&o).contains("schema migrated from version 0 to 3"),
        "{}",
        text(&o)
    );
    let o = crier(&repo, &url, &["apply", "--auto-approve"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(emu.pushes().len(), 1);
    let o = crier(&repo, &url, &["ledger", "migrate"]).output().unwrap();
    assert!(
        text(&o).contains("schema version 3, up to date"),
        "{}",
        text(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_projects_sharing_one_app_share_one_quota_and_one_interval() {
    let Some(server) = server() else { return };
    let url = database(&server).await;
    // The provider needs 300 ms between pushes; each repository says the app allows 3 a day.
    let emu = start_emulator(emulator_config(Duration::from_millis(300), 100)).await;
    let a = Repo::for_emulator(&emu.base_url(), "350ms", 3);
    let b = Repo::for_emulator(&emu.base_url(), "350ms", 3);
    for (repo, project) in [(&a, "shop-a"), (&b, "shop-b")] {
        let path = repo.path().join("crier.yaml");
        let config = std::fs::read_to_string(&path)
            .unwrap()
            .replace("project: rel", &format!("project: {project}"));
        std::fs::write(&path, config).unwrap();
        use_postgres(repo);
        // Both repositories have a `welcome` campaign (their own), due at the same time.
        repo.campaign("welcome", &format!("description: {project}\n"));
        repo.campaign("extra", "");
    }
    // Different texts, so B's pushes are not A's (an identical push to the same app at the
    // same instant from another project is WILL SEND AGAIN: it is the same push).
    for name in ["welcome", "extra"] {
        let path = b.path().join(format!("campaigns/{name}.yaml"));
        let campaign = std::fs::read_to_string(&path)
            .unwrap()
            .replace("hello from", "hi from");
        std::fs::write(&path, campaign).unwrap();
    }
    let o = crier(&a, &url, &["apply", "--auto-approve"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // B's plan sees A's pushes in the shared quota, and no WILL SEND AGAIN for its own welcome.
    let o = crier(&b, &url, &["plan"]).output().unwrap();
    let out = text(&o);
    assert!(
        out.contains("used 2 (2 by other projects) + planned 2 of 3"),
        "{out}"
    );
    assert!(!out.contains("WILL SEND AGAIN"), "{out}");
    let o = crier(&b, &url, &["apply", "--auto-approve"])
        .output()
        .unwrap();
    let out = text(&o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "one deferred by the shared quota: {out}"
    );
    let pushes = emu.pushes();
    assert_eq!(pushes.len(), 3, "the shared quota held: {out}");
    let o = crier(&b, &url, &["status"]).output().unwrap();
    assert!(
        text(&o).contains("used 3 of 3 (2 by other projects), 0 left"),
        "{}",
        text(&o)
    );
    let stats = emu.stats();
    assert!(
        !stats.rejected.contains_key("90024"),
        "the interval was kept across projects: {stats:?}"
    );
    let mut randoms: Vec<u64> = pushes
        .iter()
        .map(|p| p.body["MsgRandom"].as_u64().unwrap())
        .collect();
    randoms.sort_unstable();
    randoms.dedup();
    assert_eq!(randoms.len(), 3, "no MsgRandom collision");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_lock_holder_mid_apply_recovers_at_once_and_sends_nothing_twice() {
    let Some(server) = server() else { return };
    let url = database(&server).await;
    let mut config = emulator_config(Duration::from_millis(5), 100);
    config.faults.latency_ms = 400;
    let emu = start_emulator(config).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    use_postgres(&repo);
    repo.campaigns(6);
    let mut child = crier(&repo, &url, &["apply", "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    child.kill().unwrap();
    let _ = child.wait();
    let started = std::time::Instant::now();
    let o = crier(
        &repo,
        &url,
        &["apply", "--auto-approve", "--lock-timeout", "5s"],
    )
    .output()
    .unwrap();
    let out = text(&o);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the lock was free at once (its connection closed with the process)"
    );
    // A request in flight when the holder died is in doubt (exit 1), never resent by itself.
    assert!(matches!(o.status.code(), Some(0 | 1)), "{out}");
    let (all, names) = crate::support::apply::delivered(&emu);
    assert_eq!(all, names.len(), "nothing sent twice: {names:?}");
    let (sent, in_doubt) = sent_and_in_doubt(&url).await;
    assert_eq!(
        sent + in_doubt,
        6,
        "every occurrence is sent or in doubt: {out}"
    );
    assert!(
        sent <= all && all <= sent + in_doubt,
        "the ledger tells the truth"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlock_force_takes_the_lock_from_a_hung_holder_which_can_never_append_again() {
    let Some(server) = server() else { return };
    let url = database(&server).await;
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    use_postgres(&repo);
    let ledger = PgLedger::new(url.clone(), "CRIER_LEDGER_URL");
    let clock = ManualClock::new(at("2026-12-01T02:00:00Z"));
    // A holder that hangs (it holds the lock and does nothing).
    let mut hung = ledger
        .lock(holder("hung"), Duration::ZERO, &clock)
        .await
        .unwrap();
    let o = crier(&repo, &url, &["status"]).output().unwrap();
    assert!(
        text(&o).contains("lock: held by pid 1 (hung@ci"),
        "{}",
        text(&o)
    );
    let o = crier(&repo, &url, &["ledger", "unlock", "prod"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("needs --force"), "{}", text(&o));
    let o = crier(&repo, &url, &["ledger", "unlock", "prod", "--force"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("it can never append again"),
        "{}",
        text(&o)
    );
    let err = hung
        .append(at("2026-12-01T02:00:01Z"), occurrence("sale", intent(1, 1)))
        .await
        .unwrap_err();
    eprintln!("the forced holder's append: {err}");
    // The next apply takes the lock at once.
    repo.campaigns(1);
    let o = crier(
        &repo,
        &url,
        &["apply", "--auto-approve", "--lock-timeout", "2s"],
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(emu.pushes().len(), 1);
    assert_eq!(ledger.read().await.unwrap().snapshot.occurrences.len(), 1);
}

#[tokio::test]
async fn a_database_with_a_newer_schema_is_refused_naming_the_crier_that_made_it() {
    let Some(server) = server() else { return };
    let url = database(&server).await;
    let ledger = PgLedger::new(url.clone(), "CRIER_LEDGER_URL");
    ledger.migrate().await.unwrap();
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .execute(
            "INSERT INTO crier.migrations (version, crier_version) VALUES (99, '9.9.9')",
            &[],
        )
        .await
        .unwrap();
    let clock = ManualClock::new(at("2026-12-01T02:00:00Z"));
    for err in [
        ledger.read().await.unwrap_err().to_string(),
        ledger
            .lock(holder("x"), Duration::ZERO, &clock)
            .await
            .unwrap_err()
            .to_string(),
    ] {
        assert!(err.contains("schema is version 99"), "{err}");
        assert!(
            err.contains("crier 9.9.9; install that version or newer"),
            "{err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_connection_killed_mid_apply_sends_nothing_twice_and_the_ledger_tells_the_truth()
 {
    let Some(server) = server() else { return };
    let url = database(&server).await;
    let mut config = emulator_config(Duration::from_millis(5), 100);
    config.faults.latency_ms = 400;
    let emu = start_emulator(config).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    use_postgres(&repo);
    repo.campaigns(6);
    let child = crier(&repo, &url, &["apply", "--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Cut every connection crier has to its database.
    let (admin, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    let first = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        first.status.code(),
        Some(1),
        "the cut apply stops: {}",
        text(&first)
    );
    let o = crier(
        &repo,
        &url,
        &["apply", "--auto-approve", "--lock-timeout", "5s"],
    )
    .output()
    .unwrap();
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    let (all, names) = crate::support::apply::delivered(&emu);
    assert_eq!(all, names.len(), "nothing sent twice: {names:?}");
    let read = PgLedger::new(url, "URL").read().await.unwrap();
    let kinds: Vec<StateKind> = read
        .snapshot
        .occurrences
        .values()
        .map(|o| o.kind())
        .collect();
    let sent = kinds.iter().filter(|k| **k == StateKind::Sent).count();
    let in_doubt = kinds.iter().filter(|k| **k == StateKind::InDoubt).count();
    assert_eq!(sent + in_doubt, 6, "{kinds:?}");
    // Every delivery the emulator counted is sent or in doubt in the ledger; none is missing.
    assert!(
        sent <= all && all <= sent + in_doubt,
        "sent {sent}, in doubt {in_doubt}, delivered {all}"
    );
}

/// The second app of the per-app lock tests.
const APP2: u64 = crate::support::apply::APP + 1;

/// Points `repo`'s app at `sdkappid` (the emulator knows it under the same admin and key).
fn use_app(repo: &Repo, sdkappid: u64) {
    let path = repo.path().join("crier.yaml");
    let config = std::fs::read_to_string(&path).unwrap().replace(
        &format!("sdkappid: {}", crate::support::apply::APP),
        &format!("sdkappid: {sdkappid}"),
    );
    std::fs::write(&path, config).unwrap();
}

fn app_scope(sdkappid: u64, name: &str) -> crier::ledger::AppScope {
    [(sdkappid, name.to_owned())].into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applies_on_different_apps_run_side_by_side_and_the_same_app_waits_for_its_holder() {
    let Some(server) = server() else { return };
    let url = database(&server).await;
    let mut config = emulator_config(Duration::from_millis(5), 100);
    let mut second = config.apps[0].clone();
    second.sdkappid = APP2;
    config.apps.push(second);
    let emu = start_emulator(config).await;
    let a = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    let b = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    use_app(&b, APP2);
    let path = b.path().join("crier.yaml");
    let config_b = std::fs::read_to_string(&path)
        .unwrap()
        .replace("project: rel", "project: other");
    std::fs::write(&path, config_b).unwrap();
    for repo in [&a, &b] {
        use_postgres(repo);
        repo.campaigns(2);
    }
    // A writer holds app A (it hangs, but its heartbeat is fresh).
    let ledger = PgLedger::new(url.clone(), "CRIER_LEDGER_URL");
    let clock = ManualClock::new(at("2026-12-01T02:00:00Z"));
    let mut holder_a = ledger
        .lock_apps(
            &app_scope(crate::support::apply::APP, "prod"),
            holder("ana"),
            Duration::ZERO,
            &clock,
        )
        .await
        .unwrap();
    // B's apply is on another app: it does not wait at all.
    let o = crier(
        &b,
        &url,
        &["apply", "--auto-approve", "--lock-timeout", "0s"],
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(emu.pushes().len(), 2);
    // A's apply waits for app A's holder, then names it.
    let o = crier(
        &a,
        &url,
        &["apply", "--auto-approve", "--lock-timeout", "300ms"],
    )
    .output()
    .unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!("app {} (prod)", crate::support::apply::APP))
            && out.contains("ana@ci"),
        "{out}"
    );
    assert_eq!(emu.pushes().len(), 2, "nothing sent on a locked app");
    let o = crier(&a, &url, &["status"]).output().unwrap();
    assert!(
        text(&o).contains(&format!(
            "lock of app {}: held by pid 1 (ana@ci",
            crate::support::apply::APP
        )) && text(&o).contains("heartbeat"),
        "{}",
        text(&o)
    );
    // The holder of A appends after B's records: it catches up, and the sequence stays gapless.
    let before = ledger.current_seq().await.unwrap();
    let r = holder_a
        .append(at("2026-12-01T02:00:01Z"), occurrence("sale", intent(1, 1)))
        .await
        .unwrap();
    assert_eq!(r.seq, before + 1);
    // It may not record an occurrence of an app it does not hold.
    let mut other = occurrence("sale", intent(2, 1));
    if let RecordBody::Occurrence(o) = &mut other {
        o.key.sdkappid = APP2;
    }
    let err = holder_a
        .append(at("2026-12-01T02:00:02Z"), other)
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::NotLocked { .. }), "{err}");
    drop(holder_a);
    let read = ledger.read().await.unwrap();
    assert_eq!(read.snapshot.seq, before + 1);
    // Freed, A's apply runs.
    let o = crier(&a, &url, &["apply", "--auto-approve"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(emu.pushes().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_that_hangs_past_its_lease_is_taken_over_and_nothing_is_sent_twice() {
    let Some(server) = server() else { return };
    let url = database(&server).await;
    let mut config = emulator_config(Duration::from_millis(5), 100);
    config.faults.latency_ms = 300;
    let emu = start_emulator(config).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    let path = repo.path().join("crier.yaml");
    let text_now = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        format!("{text_now}ledger: {{postgres_url_env: CRIER_LEDGER_URL, lease: 2s}}\n"),
    )
    .unwrap();
    repo.campaigns(6);
    let child = crier(&repo, &url, &["apply", "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // The holder hangs (stopped, its connection open): only its silent heartbeat shows it.
    let stop = Command::new("kill")
        .args(["-STOP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stop.success());
    let started = std::time::Instant::now();
    let o = crier(
        &repo,
        &url,
        &["apply", "--auto-approve", "--lock-timeout", "30s"],
    )
    .output()
    .unwrap();
    let out = text(&o);
    // The holder's last heartbeat came at most a quarter of the 2 s lease before it stopped, so
    // the lease runs out 1.5 s after the stop at the earliest: a bound a little under that, not
    // at it (`started` is taken after the stop, and the heartbeat is database time).
    assert!(
        started.elapsed() >= Duration::from_millis(1200),
        "the lease was waited out"
    );
    assert!(
        out.contains("took the lock over from") && out.contains("the lease is 2 s"),
        "{out}"
    );
    assert!(matches!(o.status.code(), Some(0 | 1)), "{out}");
    Command::new("kill")
        .args(["-CONT", &child.id().to_string()])
        .status()
        .unwrap();
    let first = child.wait_with_output().unwrap();
    assert_eq!(
        first.status.code(),
        Some(1),
        "the old holder stops: {}",
        String::from_utf8_lossy(&first.stderr)
    );
    let (all, names) = crate::support::apply::delivered(&emu);
    assert_eq!(all, names.len(), "nothing sent twice: {names:?}");
    let (sent, in_doubt) = sent_and_in_doubt(&url).await;
    assert_eq!(
        sent + in_doubt,
        6,
        "every occurrence is sent or in doubt: {out}"
    );
    assert!(
        sent <= all && all <= sent + in_doubt,
        "the ledger tells the truth"
    );
}

/// `url` with another user (the part between `://` and `@`, or a new one).
fn with_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.split_once('@').map_or(rest, |(_, h)| h);
    format!("{scheme}://{user}@{host}")
}

async fn admin(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_role_plans_and_reads_status_and_a_role_without_create_applies() {
    let Some(server) = server() else { return };
    let url = database(&server).await;
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    use_postgres(&repo);
    repo.campaigns(1);
    let o = crier(&repo, &url, &["ledger", "migrate"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let db = url.rsplit_once('/').unwrap().1.split('?').next().unwrap();
    let role = format!("{db}_role");
    let a = admin(&url).await;
    a.batch_execute(&format!(
        "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN;
         GRANT USAGE ON SCHEMA crier TO {role};
         GRANT SELECT ON ALL TABLES IN SCHEMA crier TO {role};"
    ))
    .await
    .unwrap();
    let reader = with_user(&url, &role);
    // The pull-request workflow's role: plan and status work.
    let o = crier(&repo, &reader, &["plan"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = crier(&repo, &reader, &["status"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Apply is refused with a word on privileges; nothing is sent.
    let o = crier(&repo, &reader, &["apply", "--auto-approve"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("the role lacks a privilege") && text(&o).contains("permission denied"),
        "{}",
        text(&o)
    );
    assert!(emu.pushes().is_empty());
    // A runtime role that may write the tables but create nothing applies (no migration needed).
    a.batch_execute(&format!(
        "GRANT INSERT, UPDATE ON ALL TABLES IN SCHEMA crier TO {role};"
    ))
    .await
    .unwrap();
    let o = crier(&repo, &reader, &["apply", "--auto-approve"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(emu.pushes().len(), 1);
    drop(a);
    let a = admin(&url).await;
    let _ = a
        .batch_execute(&format!(
            "REASSIGN OWNED BY {role} TO postgres; DROP OWNED BY {role}; DROP ROLE {role};"
        ))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_made_by_schema_version_1_is_migrated_and_keeps_its_records() {
    let Some(server) = server() else { return };
    let url = database(&server).await;
    // The schema crier 0.1 created (version 1: one ledger-wide holder row), with one record.
    let a = admin(&url).await;
    a.batch_execute(
        r#"CREATE SCHEMA crier;
        CREATE TABLE crier.migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(), crier_version text NOT NULL);
        CREATE TABLE crier.records (seq bigint PRIMARY KEY, v integer NOT NULL, at timestamptz NOT NULL, kind text NOT NULL, line text NOT NULL, crier_version text NOT NULL, written_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE crier.counter (id integer PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL, fence bigint NOT NULL);
        INSERT INTO crier.counter VALUES (1, 1, 7);
        CREATE TABLE crier.holder (id integer PRIMARY KEY CHECK (id = 1), fence bigint NOT NULL, holder jsonb NOT NULL, since timestamptz NOT NULL, backend_pid integer NOT NULL);
        INSERT INTO crier.migrations (version, crier_version) VALUES (1, '0.1.0');
        INSERT INTO crier.records VALUES (1, 1, '2026-11-30T00:00:00Z', 'header', '{"v":1,"seq":1,"at":"2026-11-30T00:00:00.000Z","kind":"header","format":"crier-ledger","created_by":"crier 0.1.0"}' || chr(10), '0.1.0');"#,
    )
    .await
    .unwrap();
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    use_postgres(&repo);
    repo.campaigns(1);
    let o = crier(&repo, &url, &["doctor"]).output().unwrap();
    assert!(
        text(&o).contains("warn ledger_schema: schema version 1; this crier migrates it to 3"),
        "{}",
        text(&o)
    );
    let o = crier(&repo, &url, &["ledger", "migrate"]).output().unwrap();
    assert!(
        text(&o).contains("schema migrated from version 1 to 3"),
        "{}",
        text(&o)
    );
    let o = crier(&repo, &url, &["apply", "--auto-approve"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let read = PgLedger::new(url, "URL").read().await.unwrap();
    assert!(matches!(
        read.snapshot.seq,
        n if n >= 4
    ));
    assert_eq!(emu.pushes().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_from_another_project_halts_a_running_apply_before_its_next_send() {
    let Some(server) = server() else { return };
    let url = database(&server).await;
    let mut config = emulator_config(Duration::from_millis(5), 100);
    config.faults.latency_ms = 250;
    let emu = start_emulator(config).await;
    let a = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    let b = Repo::for_emulator(&emu.base_url(), "5ms", 100);
    let path = b.path().join("crier.yaml");
    let config_b = std::fs::read_to_string(&path)
        .unwrap()
        .replace("project: rel", "project: other");
    std::fs::write(&path, config_b).unwrap();
    use_postgres(&a);
    use_postgres(&b);
    a.campaigns(10);
    let child = crier(&a, &url, &["apply", "--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(900)).await;
    // Another repository on the same app stops it, while A's apply runs.
    let o = crier(&b, &url, &["stop", "prod", "--reason", "bad link"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("applies already running included"),
        "{}",
        text(&o)
    );
    let first = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&first.stdout).to_string()
        + &String::from_utf8_lossy(&first.stderr);
    assert_eq!(first.status.code(), Some(0), "{out}");
    assert!(
        out.contains("bad link") && out.contains("held by a stop"),
        "{out}"
    );
    let sent_before = emu.pushes().len();
    assert!(
        (1..10).contains(&sent_before),
        "the stop came mid-apply and halted it: {sent_before} sent\n{out}"
    );
    // Status in A shows B's stop; A's plan holds the rest.
    let o = crier(&a, &url, &["status"]).output().unwrap();
    assert!(
        text(&o).contains("STOPPED: app prod (1400000000)"),
        "{}",
        text(&o)
    );
    let o = crier(&a, &url, &["apply", "--auto-approve"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        emu.pushes().len(),
        sent_before,
        "nothing sent while stopped"
    );
    let o = crier(&b, &url, &["resume", "prod"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = crier(&a, &url, &["apply", "--auto-approve"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let (all, names) = crate::support::apply::delivered(&emu);
    assert_eq!(
        (all, names.len()),
        (10, 10),
        "each sent once after the resume"
    );
}

/// How many occurrences the PostgreSQL ledger at `url` records as sent, and as in doubt.
async fn sent_and_in_doubt(url: &str) -> (usize, usize) {
    let read = PgLedger::new(url, "URL").read().await.unwrap();
    let count = |k: StateKind| {
        read.snapshot
            .occurrences
            .values()
            .filter(|o| o.kind() == k)
            .count()
    };
    (count(StateKind::Sent), count(StateKind::InDoubt))
}
