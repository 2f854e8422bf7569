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
}

impl Kind {
    async fn fresh(&self) -> Fresh {
        match self {
            Self::File => {
                let dir = tempfile::tempdir().unwrap();
                Fresh {
                    ledger: AnyLedger::File(FileLedger::new(dir.path().join("ledger"))),
                    _dir: Some(dir),
                }
            }
            Self::Postgres(server) => Fresh {
                ledger: AnyLedger::Postgres(PgLedger::new(database(server).await, "URL")),
                _dir: None,
            },
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
    assert_eq!(first.records, 3);
    let b = kind.fresh().await;
    b.ledger.import(&first, &holder("x"), WAIT).await.unwrap();
    let second = b.ledger.export().await.unwrap();
    assert_eq!((first.records, &first.hash), (second.records, &second.hash));
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
