//! The ledger protocol's conformance suite: the very same cases against every store, the file
//! ledger and the PostgreSQL ledger (which runs when `CRIER_TEST_DATABASE_URL` is set, and says
//! it was skipped otherwise). Each case gets fresh, empty ledgers of one kind.

use std::time::Duration;

use chrono::{DateTime, Utc};
use crier::clock::{Clock as _, ManualClock};
use crier::ledger::lock::LockHolder;
use crier::ledger::postgres::PgLedger;
use crier::ledger::record::{OccurrenceRecord, OccurrenceState, RecordBody, StateKind};
use crier::ledger::view::{self, Decision};
use crier::ledger::{AnyLedger, FileLedger, Ledger, LedgerError, LedgerWarning, LedgerWriter};
use crier::occurrence::OccurrenceKey;

use crate::support::postgres::database;

/// Which store a case runs against.
enum Kind {
    File,
    Postgres(String),
}

/// An empty ledger of one kind (the folder it lives in, for the file ledger).
struct Fresh {
    ledger: AnyLedger,
    _dir: Option<tempfile::TempDir>,
    /// The database's URL (PostgreSQL).
    url: Option<String>,
}

impl Kind {
    async fn fresh(&self) -> Fresh {
        match self {
            Self::File => {
                let dir = tempfile::tempdir().unwrap();
                Fresh {
                    ledger: AnyLedger::File(FileLedger::new(dir.path().join("ledger"))),
                    _dir: Some(dir),
                    url: None,
                }
            }
            Self::Postgres(server) => {
                let url = database(server).await;
                Fresh {
                    ledger: AnyLedger::Postgres(PgLedger::new(url.clone(), "URL")),
                    _dir: None,
                    url: Some(url),
                }
            }
        }
    }
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod file {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Kind::File).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(server) = crate::support::postgres::server() else { return };
                    super::$case(super::Kind::Postgres(server)).await;
                }
            )*
        }
    };
}

conformance!(
    an_empty_ledger_reads_as_empty,
    appends_are_numbered_from_the_header_kept_to_the_millisecond_and_survive_the_writer,
    refused_records_write_nothing,
    a_second_writer_waits_then_names_the_holder_which_the_locks_show,
    a_dangling_intent_becomes_in_doubt_under_the_next_lock,
    an_app_writer_records_its_app_and_turns_its_dangling_intents_in_doubt,
    an_export_imports_into_an_empty_ledger_losslessly_and_a_full_one_refuses,
    resolve_goes_through_the_writer,
    a_long_history_is_read_through_a_checkpoint_and_answers_like_the_whole,
    a_checkpoint_of_another_ledger_is_ignored,
);

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn clock() -> ManualClock {
    ManualClock::new(at("2026-12-01T02:00:00Z"))
}

fn holder(who: &str) -> LockHolder {
    LockHolder {
        pid: 1,
        hostname: "ci".into(),
        user: who.into(),
        command: "crier apply".into(),
        started_at: at("2026-12-01T02:00:00Z"),
        project: Some("shop".into()),
        ci_run: None,
        ci_url: None,
    }
}

const APP: u64 = 1_400_000_000;

fn key(campaign: &str) -> OccurrenceKey {
    OccurrenceKey {
        project: "shop".into(),
        sdkappid: APP,
        campaign: campaign.into(),
        scheduled: at("2026-12-01T02:00:00Z"),
    }
}

fn occurrence(campaign: &str, state: OccurrenceState) -> RecordBody {
    RecordBody::Occurrence(OccurrenceRecord {
        key: key(campaign),
        app: "prod".into(),
        state,
    })
}

fn intent(msg_random: u32) -> OccurrenceState {
    OccurrenceState::Intent {
        msg_random,
        perturbation: None,
        content_hash: "sha256:x".into(),
        request: serde_json::json!({"MsgRandom": msg_random}),
        attempt: 1,
        origin: None,
    }
}

fn sent(task: &str) -> OccurrenceState {
    OccurrenceState::Sent {
        task_id: task.into(),
    }
}

const WAIT: Duration = Duration::from_secs(5);

async fn an_empty_ledger_reads_as_empty(kind: Kind) {
    let f = kind.fresh().await;
    let read = f.ledger.read().await.unwrap();
    assert_eq!(read.snapshot.seq, 0);
    assert!(read.snapshot.occurrences.is_empty());
    assert!(read.warnings.is_empty());
    assert_eq!(f.ledger.current_seq().await.unwrap(), 0);
    assert!(f.ledger.locks().await.unwrap().is_empty());
}

async fn appends_are_numbered_from_the_header_kept_to_the_millisecond_and_survive_the_writer(
    kind: Kind,
) {
    let f = kind.fresh().await;
    let clock = clock();
    let mut w = f.ledger.lock(holder("ana"), WAIT, &clock).await.unwrap();
    assert_eq!(w.current_seq(), 1, "the header");
    let r = w
        .append(
            at("2026-12-01T02:00:01.123456Z"),
            occurrence("sale", intent(7)),
        )
        .await
        .unwrap();
    assert_eq!(r.seq, 2);
    assert_eq!(
        r.at,
        at("2026-12-01T02:00:01.123Z"),
        "kept to the millisecond"
    );
    let r = w
        .append(at("2026-12-01T02:00:02Z"), occurrence("sale", sent("t-1")))
        .await
        .unwrap();
    assert_eq!(r.seq, 3);
    // A reader without the lock sees every durable record, while the writer lives.
    let read = f.ledger.read().await.unwrap();
    assert_eq!(read.snapshot.seq, 3);
    assert_eq!(f.ledger.current_seq().await.unwrap(), 3);
    let sale = read.snapshot.occurrence(&key("sale")).unwrap();
    assert_eq!(sale.kind(), StateKind::Sent);
    assert_eq!(sale.msg_random, Some(7));
    drop(w);
    // The next writer continues the sequence (no second header).
    let mut w = f.ledger.lock(holder("bob"), WAIT, &clock).await.unwrap();
    assert_eq!(w.current_seq(), 3);
    assert!(w.warnings().is_empty(), "{:?}", w.warnings());
    let r = w
        .append(at("2026-12-01T02:00:03Z"), occurrence("next", intent(8)))
        .await
        .unwrap();
    assert_eq!(r.seq, 4);
}

async fn refused_records_write_nothing(kind: Kind) {
    let f = kind.fresh().await;
    let clock = clock();
    let mut w = f.ledger.lock(holder("ana"), WAIT, &clock).await.unwrap();
    // An outcome without an intent breaks the transition table.
    let err = w
        .append(clock.now(), occurrence("sale", sent("t")))
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::Transition(_)), "{err}");
    // A record carrying a UserSig.
    let mut secret = intent(3);
    if let OccurrenceState::Intent { request, .. } = &mut secret {
        *request = serde_json::json!({"url": "https://x/?usersig=eJxyz"});
    }
    let err = w
        .append(clock.now(), occurrence("other", secret))
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::SecretInRecord { .. }), "{err}");
    // The writer is still good, and nothing was written.
    assert_eq!(w.current_seq(), 1);
    w.append(clock.now(), occurrence("sale", intent(1)))
        .await
        .unwrap();
    assert_eq!(f.ledger.read().await.unwrap().snapshot.seq, 2);
    let text = String::from_utf8(f.ledger.export().await.unwrap().bytes).unwrap();
    assert!(!text.contains("usersig"), "{text}");
}

async fn a_second_writer_waits_then_names_the_holder_which_the_locks_show(kind: Kind) {
    let f = kind.fresh().await;
    let clock = clock();
    let w = f.ledger.lock(holder("ana"), WAIT, &clock).await.unwrap();
    let err = f
        .ledger
        .lock(holder("bob"), Duration::from_millis(200), &clock)
        .await
        .unwrap_err();
    assert!(
        matches!(err, LedgerError::Lock(_)) && err.to_string().contains("ana@ci"),
        "{err}"
    );
    let locks = f.ledger.locks().await.unwrap();
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert_eq!(locks[0].sdkappid, None, "the whole ledger");
    assert_eq!(locks[0].holder.as_ref().unwrap().user, "ana");
    assert_eq!(
        locks[0].holder.as_ref().unwrap().project.as_deref(),
        Some("shop")
    );
    assert!(!locks[0].stale);
    drop(w);
    // Released with its writer.
    let _w = f.ledger.lock(holder("bob"), WAIT, &clock).await.unwrap();
}

async fn a_dangling_intent_becomes_in_doubt_under_the_next_lock(kind: Kind) {
    let f = kind.fresh().await;
    let clock = clock();
    let mut w = f.ledger.lock(holder("ana"), WAIT, &clock).await.unwrap();
    w.append(clock.now(), occurrence("sale", intent(5)))
        .await
        .unwrap();
    // The process "ends" here: no outcome.
    drop(w);
    let w = f.ledger.lock(holder("bob"), WAIT, &clock).await.unwrap();
    assert_eq!(
        w.warnings(),
        [LedgerWarning::IntentWithoutOutcome {
            id: key("sale").id(),
            intent_seq: 2
        }]
    );
    assert_eq!(w.current_seq(), 3);
    let read = f.ledger.read().await.unwrap();
    assert_eq!(
        read.snapshot.occurrence(&key("sale")).unwrap().kind(),
        StateKind::InDoubt
    );
}

async fn an_app_writer_records_its_app_and_turns_its_dangling_intents_in_doubt(kind: Kind) {
    let f = kind.fresh().await;
    let clock = clock();
    let apps: crier::ledger::AppScope = [(APP, "prod".to_owned())].into_iter().collect();
    let mut w = f
        .ledger
        .lock_apps(&apps, holder("ana"), WAIT, &clock)
        .await
        .unwrap();
    w.append(clock.now(), occurrence("sale", intent(5)))
        .await
        .unwrap();
    drop(w);
    let mut w = f
        .ledger
        .lock_apps(&apps, holder("bob"), WAIT, &clock)
        .await
        .unwrap();
    assert_eq!(w.warnings().len(), 1, "{:?}", w.warnings());
    assert_eq!(
        w.snapshot().occurrence(&key("sale")).unwrap().kind(),
        StateKind::InDoubt
    );
    w.append(clock.now(), occurrence("next", intent(6)))
        .await
        .unwrap();
    assert_eq!(f.ledger.current_seq().await.unwrap(), 4);
}

async fn an_export_imports_into_an_empty_ledger_losslessly_and_a_full_one_refuses(kind: Kind) {
    let a = kind.fresh().await;
    let clock = clock();
    let mut w = a.ledger.lock(holder("ana"), WAIT, &clock).await.unwrap();
    w.append(clock.now(), occurrence("sale", intent(5)))
        .await
        .unwrap();
    w.append(clock.now(), occurrence("sale", sent("t-5")))
        .await
        .unwrap();
    drop(w);
    let first = a.ledger.export().await.unwrap();
    assert_eq!(first.records(), 3);
    let b = kind.fresh().await;
    b.ledger.import(&first, &holder("x"), WAIT).await.unwrap();
    let second = b.ledger.export().await.unwrap();
    assert_eq!(
        (first.records(), &first.hash),
        (second.records(), &second.hash)
    );
    assert_eq!(first.bytes, second.bytes);
    let refused = a
        .ledger
        .import(&first, &holder("x"), WAIT)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("not empty"), "{refused}");
    // The imported ledger goes on where the export ended.
    let mut w = b.ledger.lock(holder("bob"), WAIT, &clock).await.unwrap();
    assert_eq!(w.current_seq(), 3);
    let r = w
        .append(clock.now(), occurrence("next", intent(6)))
        .await
        .unwrap();
    assert_eq!(r.seq, 4);
}

async fn resolve_goes_through_the_writer(kind: Kind) {
    let f = kind.fresh().await;
    let clock = clock();
    let mut w = f.ledger.lock(holder("ana"), WAIT, &clock).await.unwrap();
    w.append(clock.now(), occurrence("sale", intent(5)))
        .await
        .unwrap();
    drop(w);
    let mut w = f.ledger.lock(holder("ops"), WAIT, &clock).await.unwrap();
    view::resolve(
        &mut w,
        &key("sale").id(),
        Decision::Sent {
            task_id: Some("T-9".into()),
        },
        "ops",
        None,
        clock.now(),
    )
    .await
    .unwrap();
    let err = view::resolve(
        &mut w,
        &key("sale").id(),
        Decision::NotSent,
        "ops",
        None,
        clock.now(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("is `resolved_sent`"), "{err}");
    let read = f.ledger.read().await.unwrap();
    assert_eq!(
        read.snapshot.occurrence(&key("sale")).unwrap().kind(),
        StateKind::ResolvedSent
    );
}

/// `days` days of one push a day (an intent and a sent each), the first `days` days before
/// 2026-12-01, written by one writer; returns the number of records.
async fn history(ledger: &AnyLedger, days: i64) -> u64 {
    let clock = clock();
    let mut w = ledger.lock(holder("ana"), WAIT, &clock).await.unwrap();
    let start = at("2026-12-01T02:00:00Z") - chrono::TimeDelta::days(days);
    for day in 0..days {
        let when = start + chrono::TimeDelta::days(day);
        let key = OccurrenceKey {
            scheduled: when,
            ..key("daily")
        };
        let body = |state| {
            RecordBody::Occurrence(OccurrenceRecord {
                key: key.clone(),
                app: "prod".into(),
                state,
            })
        };
        let n = u32::try_from(day).unwrap();
        w.append(when, body(intent(n))).await.unwrap();
        w.append(
            when + chrono::TimeDelta::seconds(1),
            body(sent(&format!("t-{n}"))),
        )
        .await
        .unwrap();
    }
    w.current_seq()
}

async fn a_long_history_is_read_through_a_checkpoint_and_answers_like_the_whole(kind: Kind) {
    let f = kind.fresh().await;
    // 700 days: 1,401 records, so the writer stored a checkpoint at record 1,000.
    let seq = history(&f.ledger, 700).await;
    assert_eq!(seq, 1401);
    let read = f.ledger.read().await.unwrap();
    let whole = f.ledger.read_history().await.unwrap();
    assert_eq!(read.snapshot.seq, whole.snapshot.seq);
    assert_eq!(f.ledger.current_seq().await.unwrap(), seq);
    // Through the checkpoint, the sends of long ago are counted, not kept.
    assert_eq!(whole.snapshot.occurrences.len(), 700);
    assert!(
        read.snapshot.occurrences.len() < 300,
        "{}",
        read.snapshot.occurrences.len()
    );
    assert_eq!(read.snapshot.counts(), whole.snapshot.counts());
    assert_eq!(read.snapshot.counts()[&StateKind::Sent], 700);
    // What is recent is the same as in the whole history, and so is the quota per day.
    for (id, o) in &read.snapshot.occurrences {
        assert_eq!(Some(o), whole.snapshot.occurrences.get(id), "{id}");
    }
    let tz = chrono_tz::Asia::Shanghai;
    let recent = |s: &crier::ledger::LedgerSnapshot| {
        s.used_per_day(APP, tz, 100)
            .into_iter()
            .filter(|(d, _)| *d >= chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(recent(&read.snapshot), recent(&whole.snapshot));
    assert_eq!(recent(&read.snapshot).len(), 30);
    // `ledger list|show` read the whole history.
    let first = at("2026-12-01T02:00:00Z") - chrono::TimeDelta::days(700);
    let old = OccurrenceKey {
        scheduled: first,
        ..key("daily")
    };
    assert!(read.snapshot.occurrence(&old).is_none());
    assert!(whole.snapshot.occurrence(&old).is_some());
    // The last sends left out are still known as delivered (a moved one-off of long ago).
    let oldest_kept = read
        .snapshot
        .occurrences
        .values()
        .map(|o| o.key.scheduled)
        .min()
        .unwrap();
    assert_eq!(
        read.snapshot
            .delivered_keys("daily")
            .filter(|k| k.scheduled < oldest_kept)
            .count(),
        2
    );
    // The next writer starts from the checkpoint and goes on: a dangling intent of today is
    // found, the sequence continues.
    let clock = clock();
    let mut w = f.ledger.lock(holder("bob"), WAIT, &clock).await.unwrap();
    assert_eq!(w.current_seq(), seq);
    assert!(w.snapshot().compacted.counts[&StateKind::Sent] > 0);
    w.append(clock.now(), occurrence("sale", intent(9)))
        .await
        .unwrap();
    drop(w);
    let w = f.ledger.lock(holder("cy"), WAIT, &clock).await.unwrap();
    assert_eq!(w.warnings().len(), 1, "{:?}", w.warnings());
    assert_eq!(w.current_seq(), seq + 2);
    // An export and import keeps every record, and the import's checkpoint reads the same.
    drop(w);
    let export = f.ledger.export().await.unwrap();
    let b = kind.fresh().await;
    b.ledger.import(&export, &holder("x"), WAIT).await.unwrap();
    let imported = b.ledger.read().await.unwrap();
    assert!(
        !imported.snapshot.compacted.counts.is_empty(),
        "read through the import's checkpoint"
    );
    assert_eq!(
        imported.snapshot.counts(),
        f.ledger.read_history().await.unwrap().snapshot.counts()
    );
    assert_eq!(b.ledger.export().await.unwrap().hash, export.hash);
}

async fn a_checkpoint_of_another_ledger_is_ignored(kind: Kind) {
    let a = kind.fresh().await;
    history(&a.ledger, 600).await;
    let b = kind.fresh().await;
    history(&b.ledger, 601).await;
    // B's checkpoint replaced by A's (a restored or copied folder, a database copied by hand):
    // the record it names is not B's, so B is read whole.
    match kind {
        Kind::File => {
            let dir = |f: &Fresh| f._dir.as_ref().unwrap().path().join("ledger");
            std::fs::copy(
                dir(&a).join("ledger.checkpoint"),
                dir(&b).join("ledger.checkpoint"),
            )
            .unwrap();
        }
        Kind::Postgres(_) => {
            let connect = |url: String| async move {
                let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                c
            };
            let ca = connect(a.url.clone().unwrap()).await;
            let cb = connect(b.url.clone().unwrap()).await;
            let row = ca
                .query_one("SELECT seq, record_hash, body FROM crier.checkpoints", &[])
                .await
                .unwrap();
            let (seq, hash, body): (i64, String, String) = (row.get(0), row.get(1), row.get(2));
            cb.execute(
                "UPDATE crier.checkpoints SET seq = $1, record_hash = $2, body = $3",
                &[&seq, &hash, &body],
            )
            .await
            .unwrap();
        }
    }
    let read = b.ledger.read().await.unwrap();
    let whole = b.ledger.read_history().await.unwrap();
    assert!(
        read.snapshot.compacted.counts.is_empty(),
        "not through A's checkpoint"
    );
    assert_eq!(read.snapshot, whole.snapshot);
}
