//! The embedded file ledger on a real disk: durability order, reopening, torn tails, corrupt
//! lines, the writer lock across handles and processes, concurrent appenders.
//!
//! Some tests re-run this test binary as a child process (`CRIER_LEDGER_TEST_CHILD` selects
//! what the child does in [`child_process_entry`]).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use crier::clock::{Clock, ManualClock};
use crier::ledger::file::{NO_OUTCOME_REASON, RECORDS_FILE, TORN_FILE};
use crier::ledger::lock::LockError;
use crier::ledger::record::TestSendRecord;
use crier::ledger::view::{self, Decision};
use crier::ledger::{
    FileLedger, Ledger, LedgerError, LedgerWarning, LedgerWriter, LockHolder, LockState,
    OccurrenceRecord, OccurrenceState, RecordBody, StateKind, pick_msg_random,
};
use crier::occurrence::OccurrenceKey;

const CHILD_ENV: &str = "CRIER_LEDGER_TEST_CHILD";

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn clock() -> ManualClock {
    ManualClock::new(t("2026-12-01T02:00:00Z"))
}

fn holder(command: &str) -> LockHolder {
    LockHolder {
        command: command.into(),
        ..crier::cli::lock_holder(t("2026-12-01T02:00:00Z"))
    }
}

fn key(campaign: &str) -> OccurrenceKey {
    OccurrenceKey {
        project: "shop".into(),
        sdkappid: 1_400_000_000,
        campaign: campaign.into(),
        scheduled: t("2026-12-01T02:00:00Z"),
    }
}

fn occurrence(campaign: &str, state: OccurrenceState) -> RecordBody {
    RecordBody::Occurrence(OccurrenceRecord {
        key: key(campaign),
        app: "prod".into(),
        state,
    })
}

fn intent(msg_random: u32, attempt: u32) -> OccurrenceState {
    OccurrenceState::Intent {
        msg_random,
        perturbation: None,
        content_hash: "sha256:abc".into(),
        request: serde_json::json!({"MsgRandom": msg_random, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "30% off"}}]}),
        attempt,
        origin: None,
    }
}

fn test_send(n: usize) -> RecordBody {
    RecordBody::TestSend(TestSendRecord {
        project: "shop".into(),
        app: "prod".into(),
        campaign: "sale".into(),
        to: vec![format!("u{n}")],
        msg_random: 1,
        content_hash: "sha256:0".into(),
        task_id: None,
        error_code: None,
        error_info: None,
    })
}

fn lines(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join(RECORDS_FILE))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn reading_a_ledger_that_does_not_exist_is_empty_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = FileLedger::new(dir.path().join("ledger"));
    let read = ledger.read_sync().unwrap();
    assert_eq!(read.snapshot.seq, 0);
    assert!(read.warnings.is_empty());
    assert_eq!(ledger.lock_state_sync().unwrap(), LockState::Free);
    assert!(!dir.path().join("ledger").exists());
}

#[test]
fn the_intent_is_on_disk_before_append_returns_and_seqs_continue_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = FileLedger::new(dir.path());
    let clock = clock();
    {
        let mut w = ledger
            .lock_sync(&holder("crier apply"), Duration::ZERO, &clock)
            .unwrap();
        assert_eq!(w.snapshot().seq, 1, "a new ledger starts with its header");
        let rec = w
            .append_sync(
                t("2026-12-01T02:00:01.123456Z"),
                occurrence("sale", intent(42, 1)),
            )
            .unwrap();
        assert_eq!(rec.seq, 2);
        // Before the caller does anything else, an independent reader sees the intent.
        let on_disk = lines(dir.path());
        assert_eq!(on_disk.len(), 2);
        assert_eq!(on_disk[0]["kind"], "header");
        assert_eq!(on_disk[1]["state"], "intent");
        assert_eq!(on_disk[1]["at"], "2026-12-01T02:00:01.123Z");
        assert_eq!(on_disk[1]["msg_random"], 42);
        let fresh = FileLedger::new(dir.path()).read_sync().unwrap().snapshot;
        assert_eq!(
            fresh.occurrence(&key("sale")).unwrap().kind(),
            StateKind::Intent
        );
        let rec = w
            .append_sync(
                t("2026-12-01T02:00:02Z"),
                occurrence(
                    "sale",
                    OccurrenceState::Sent {
                        task_id: "T-1".into(),
                    },
                ),
            )
            .unwrap();
        assert_eq!(rec.seq, 3);
        assert_eq!(
            w.snapshot(),
            &ledger.read_sync().unwrap().snapshot,
            "the writer's view equals a re-read"
        );
    }
    let mut w = ledger
        .lock_sync(&holder("crier apply"), Duration::ZERO, &clock)
        .unwrap();
    assert!(w.warnings().is_empty());
    assert_eq!(w.current_seq(), 3);
    assert_eq!(
        w.append_sync(t("2026-12-01T03:00:00Z"), test_send(1))
            .unwrap()
            .seq,
        4
    );
    drop(w);
    let read = ledger.read_sync().unwrap();
    assert_eq!(read.snapshot.seq, 4);
    let sale = read.snapshot.occurrence(&key("sale")).unwrap();
    assert_eq!(sale.task_id.as_deref(), Some("T-1"));
    assert_eq!(sale.history.len(), 2);
    assert_eq!(read.snapshot.test_sends.len(), 1);
}

#[test]
fn refused_records_leave_the_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = FileLedger::new(dir.path());
    let mut w = ledger
        .lock_sync(&holder("x"), Duration::ZERO, &clock())
        .unwrap();
    w.append_sync(t("2026-12-01T02:00:01Z"), occurrence("sale", intent(1, 1)))
        .unwrap();
    w.append_sync(
        t("2026-12-01T02:00:02Z"),
        occurrence(
            "sale",
            OccurrenceState::Sent {
                task_id: "T".into(),
            },
        ),
    )
    .unwrap();
    let before = std::fs::read(dir.path().join(RECORDS_FILE)).unwrap();
    // A second send of a sent occurrence is refused.
    let err = w
        .append_sync(t("2026-12-01T02:00:03Z"), occurrence("sale", intent(1, 2)))
        .unwrap_err();
    assert!(matches!(err, LedgerError::Transition(_)), "{err}");
    // A UserSig never reaches the ledger.
    let mut leaky = intent(7, 1);
    if let OccurrenceState::Intent { request, .. } = &mut leaky {
        *request =
            serde_json::json!({"url": "https://h/v4/timpush/push?usersig=eJxSECRET&sdkappid=1"});
    }
    let err = w
        .append_sync(t("2026-12-01T02:00:03Z"), occurrence("other", leaky))
        .unwrap_err();
    assert!(matches!(err, LedgerError::SecretInRecord { .. }), "{err}");
    assert!(!err.to_string().contains("eJxSECRET"));
    assert_eq!(
        std::fs::read(dir.path().join(RECORDS_FILE)).unwrap(),
        before
    );
    assert_eq!(w.current_seq(), 3);
}

#[test]
fn a_torn_last_line_is_reported_by_readers_and_repaired_by_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = FileLedger::new(dir.path());
    let clock = clock();
    {
        let mut w = ledger
            .lock_sync(&holder("x"), Duration::ZERO, &clock)
            .unwrap();
        w.append_sync(t("2026-12-01T02:00:01Z"), occurrence("sale", intent(1, 1)))
            .unwrap();
        w.append_sync(
            t("2026-12-01T02:00:02Z"),
            occurrence(
                "sale",
                OccurrenceState::Sent {
                    task_id: "T".into(),
                },
            ),
        )
        .unwrap();
    }
    let path = dir.path().join(RECORDS_FILE);
    let good = std::fs::read(&path).unwrap();
    let torn: &[u8] = b"{\"v\":1,\"seq\":4,\"at\":\"2026-12-01T02:00:03.000Z\",\"kind\":\"occ";
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(torn)
        .unwrap();

    // A reader without the lock: a warning, the good records, nothing changed on disk.
    let read = ledger.read_sync().unwrap();
    assert_eq!(read.snapshot.seq, 3);
    assert_eq!(
        read.warnings,
        [LedgerWarning::TornTailIgnored {
            path: path.clone(),
            offset: good.len() as u64,
            bytes: torn.len() as u64
        }]
    );
    assert!(read.warnings[0].to_string().contains("incomplete"));
    assert_eq!(std::fs::read(&path).unwrap().len(), good.len() + torn.len());

    // The writer: bytes set aside, file truncated to the good part, a repair record appended.
    clock.set(t("2026-12-01T04:00:00Z"));
    let w = ledger
        .lock_sync(&holder("x"), Duration::ZERO, &clock)
        .unwrap();
    assert_eq!(
        w.warnings(),
        [LedgerWarning::TornTailRepaired {
            path: path.clone(),
            offset: good.len() as u64,
            bytes: torn.len() as u64,
            moved_to: dir.path().join(TORN_FILE),
        }]
    );
    assert_eq!(w.current_seq(), 4);
    drop(w);
    let after = std::fs::read(&path).unwrap();
    assert_eq!(&after[..good.len()], &good[..], "good records intact");
    let recs = lines(dir.path());
    assert_eq!(recs.len(), 4);
    assert_eq!(recs[3]["kind"], "repair");
    assert_eq!(recs[3]["seq"], 4);
    assert_eq!(recs[3]["offset"], good.len());
    assert_eq!(recs[3]["bytes"], torn.len());
    assert_eq!(recs[3]["at"], "2026-12-01T04:00:00.000Z");
    let set_aside: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(dir.path().join(TORN_FILE))
            .unwrap()
            .trim_end(),
    )
    .unwrap();
    assert_eq!(set_aside["offset"], good.len());
    let exact = base64::engine::general_purpose::STANDARD
        .decode(set_aside["base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(exact, torn);
    let read = ledger.read_sync().unwrap();
    assert!(read.warnings.is_empty());
    assert_eq!(read.snapshot.repairs.len(), 1);
    assert_eq!(
        read.snapshot.occurrence(&key("sale")).unwrap().kind(),
        StateKind::Sent
    );
}

#[test]
fn a_file_without_a_valid_first_line_is_refused_never_read_as_empty() {
    // A ledger is created with its header atomically, so a file with no valid first line is
    // damage (power loss zeros, a truncation), never a new ledger: reading it as empty would
    // send everything within grace again.
    for bytes in [b"{\"v\":1,\"se".to_vec(), vec![0u8; 512]] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RECORDS_FILE);
        std::fs::write(&path, &bytes).unwrap();
        let ledger = FileLedger::new(dir.path());
        let err = ledger
            .lock_sync(&holder("x"), Duration::ZERO, &clock())
            .unwrap_err()
            .to_string();
        assert!(err.contains("no complete header record"), "{err}");
        assert!(err.contains("restore the ledger"), "{err}");
        assert!(ledger.read_sync().is_err());
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "left untouched");
    }
    // A new ledger is created whole: header first, nothing else left behind.
    let dir = tempfile::tempdir().unwrap();
    let ledger = FileLedger::new(dir.path());
    let w = ledger
        .lock_sync(&holder("x"), Duration::ZERO, &clock())
        .unwrap();
    assert_eq!(w.current_seq(), 1);
    drop(w);
    assert_eq!(lines(dir.path())[0]["kind"].as_str(), Some("header"));
    assert!(!dir.path().join("ledger.jsonl.new").exists());
}

#[test]
fn a_corrupt_line_in_the_middle_is_an_error_for_readers_and_writers() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = FileLedger::new(dir.path());
    {
        let mut w = ledger
            .lock_sync(&holder("x"), Duration::ZERO, &clock())
            .unwrap();
        w.append_sync(t("2026-12-01T02:00:01Z"), test_send(1))
            .unwrap();
        w.append_sync(t("2026-12-01T02:00:02Z"), test_send(2))
            .unwrap();
    }
    let path = dir.path().join(RECORDS_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut ls: Vec<&str> = text.lines().collect();
    ls[1] = "{\"v\":1,\"seq\":2,\"at\":\"2026-12-01T02:00:01.000Z\",\"kind\":\"test_se";
    std::fs::write(&path, format!("{}\n", ls.join("\n"))).unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = ledger.read_sync().unwrap_err();
    assert!(
        err.to_string().contains("line 2: not a ledger record"),
        "{err}"
    );
    let err = ledger
        .lock_sync(&holder("x"), Duration::ZERO, &clock())
        .unwrap_err();
    assert!(matches!(err, LedgerError::Parse { .. }), "{err}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "nothing repaired, nothing dropped"
    );
}

#[test]
fn a_second_locker_in_this_process_times_out_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = FileLedger::new(dir.path());
    let first = ledger
        .lock_sync(
            &holder("crier apply --auto-approve"),
            Duration::ZERO,
            &clock(),
        )
        .unwrap();
    let other = FileLedger::new(dir.path());
    assert!(
        matches!(other.lock_state_sync().unwrap(), LockState::Held(Some(h)) if h.command == "crier apply --auto-approve")
    );
    let err = other
        .lock_sync(
            &holder("crier ledger resolve"),
            Duration::from_millis(150),
            &clock(),
        )
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!("is locked by pid {} ", std::process::id()))
            && text.contains("`crier apply --auto-approve`"),
        "{text}"
    );
    assert!(
        matches!(err, LedgerError::Lock(LockError::Timeout { waited, .. }) if waited >= Duration::from_millis(150))
    );
    drop(first);
    assert!(
        other
            .lock_sync(&holder("crier ledger resolve"), Duration::ZERO, &clock())
            .is_ok()
    );
}

#[test]
fn an_intent_without_outcome_becomes_in_doubt_and_an_operator_resolves_it() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = FileLedger::new(dir.path());
    let clock = clock();
    {
        let mut w = ledger
            .lock_sync(&holder("x"), Duration::ZERO, &clock)
            .unwrap();
        w.append_sync(t("2026-12-01T02:00:01Z"), occurrence("sale", intent(5, 1)))
            .unwrap();
        // The process "ends" here: no outcome.
    }
    let st = view::status(
        &ledger.read_sync().unwrap().snapshot,
        crier::ledger::HeldLock::of_state(ledger.lock_state_sync().unwrap()),
        &[],
    );
    assert_eq!(st.needs_decision.len(), 1);
    assert_eq!(st.needs_decision[0].state, StateKind::Intent);

    let mut w = ledger
        .lock_sync(&holder("crier ledger resolve"), Duration::ZERO, &clock)
        .unwrap();
    assert_eq!(
        w.warnings(),
        [LedgerWarning::IntentWithoutOutcome {
            id: key("sale").id(),
            intent_seq: 2
        }]
    );
    let sale = w.snapshot().occurrence(&key("sale")).unwrap();
    assert_eq!(
        sale.state,
        OccurrenceState::InDoubt {
            reason: NO_OUTCOME_REASON.into()
        }
    );
    let rec = w
        .append_sync(
            t("2026-12-01T05:00:00Z"),
            view::resolution(
                w.snapshot(),
                "shop/1400000000/sale@",
                Decision::NotSent,
                "alice",
                Some("checked the console".into()),
            )
            .unwrap(),
        )
        .unwrap();
    assert_eq!(rec.seq, 4);
    // After "not sent", a new attempt is allowed, with the same MsgRandom and the next attempt number.
    let choice = pick_msg_random(
        &key("sale"),
        w.snapshot().msg_randoms_of(1_400_000_000),
        t("2026-12-01T05:00:00Z"),
    );
    assert!(choice.reused);
    assert_eq!(choice.value, 5);
    w.append_sync(
        t("2026-12-01T05:00:01Z"),
        occurrence("sale", intent(choice.value, 2)),
    )
    .unwrap();
    drop(w);
    let snap = ledger.read_sync().unwrap().snapshot;
    let sale = snap.occurrence(&key("sale")).unwrap();
    assert_eq!(
        sale.history
            .iter()
            .map(|h| h.value.kind())
            .collect::<Vec<_>>(),
        [
            StateKind::Intent,
            StateKind::InDoubt,
            StateKind::ResolvedNotSent,
            StateKind::Intent
        ]
    );
    assert_eq!(sale.attempts, 2);
}

#[test]
fn a_msg_random_collision_is_perturbed_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = FileLedger::new(dir.path());
    let now = t("2026-12-01T02:00:00Z");
    let mut w = ledger
        .lock_sync(&holder("x"), Duration::ZERO, &clock())
        .unwrap();
    // Another occurrence of the same app already used this occurrence's base value.
    let base = key("sale").base_msg_random();
    w.append_sync(
        t("2026-11-28T02:00:00Z"),
        occurrence("older", intent(base, 1)),
    )
    .unwrap();
    let choice = pick_msg_random(
        &key("sale"),
        w.snapshot().msg_randoms_of(1_400_000_000),
        now,
    );
    assert_eq!(choice.value, base.wrapping_add(1));
    let perturbation = choice.perturbation.clone().unwrap();
    assert_eq!(perturbation.collided_with, [key("older").id()]);
    let mut state = intent(choice.value, 1);
    if let OccurrenceState::Intent {
        perturbation: p, ..
    } = &mut state
    {
        *p = choice.perturbation;
    }
    w.append_sync(now, occurrence("sale", state)).unwrap();
    drop(w);
    let recs = lines(dir.path());
    assert_eq!(recs[2]["perturbation"]["base"], base);
    assert_eq!(recs[2]["perturbation"]["steps"], 1);
    // A retry reuses the perturbed value.
    let snap = ledger.read_sync().unwrap().snapshot;
    let again = pick_msg_random(
        &key("sale"),
        snap.msg_randoms_of(1_400_000_000),
        t("2026-12-01T02:10:00Z"),
    );
    assert_eq!((again.value, again.reused), (base.wrapping_add(1), true));
}

#[test]
fn four_threads_appending_under_the_lock_get_unique_consecutive_seqs() {
    let dir = tempfile::tempdir().unwrap();
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let d = dir.path().to_owned();
            std::thread::spawn(move || {
                let clock = clock();
                let ledger = FileLedger::new(&d);
                (0..15)
                    .map(|n| {
                        let mut w = ledger
                            .lock_sync(&holder("thread"), Duration::from_secs(20), &clock)
                            .unwrap();
                        w.append_sync(t("2026-12-01T02:00:00Z"), test_send(i * 100 + n))
                            .unwrap()
                            .seq
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut seqs: Vec<u64> = threads
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    seqs.sort_unstable();
    // Seq 1 is the header, written by whichever thread came first.
    assert_eq!(seqs, (2..=61).collect::<Vec<u64>>());
    let snap = FileLedger::new(dir.path()).read_sync().unwrap().snapshot;
    assert_eq!((snap.seq, snap.test_sends.len()), (61, 60));
}

// ---- child processes ----

struct Output {
    status: std::process::ExitStatus,
    stdout: String,
}

/// A child process that is killed if the test ends (or panics) while it still runs.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs this test binary again as a child doing `what` (see [`child_process_entry`]).
fn spawn_child(what: &str) -> ChildGuard {
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "ledger_file::child_process_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, what)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    ChildGuard(child)
}

/// Not a test of its own: the entry point of the child processes the other tests start.
/// Without `CRIER_LEDGER_TEST_CHILD` it does nothing.
#[test]
fn child_process_entry() {
    let Ok(what) = std::env::var(CHILD_ENV) else {
        return;
    };
    let clock = clock();
    let mut parts = what.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("hold"), Some(dir), None) => {
            let ledger = FileLedger::new(dir);
            let mut w = ledger
                .lock_sync(&holder("child holder"), Duration::ZERO, &clock)
                .unwrap();
            w.append_sync(t("2026-12-01T02:00:01Z"), occurrence("sale", intent(9, 1)))
                .unwrap();
            println!("CHILD-LOCKED");
            std::io::stdout().flush().unwrap();
            std::thread::sleep(Duration::from_secs(60));
        }
        (Some("append"), Some(n), Some(dir)) => {
            let ledger = FileLedger::new(dir);
            for i in 0..n.parse::<usize>().unwrap() {
                let mut w = ledger
                    .lock_sync(&holder("child appender"), Duration::from_secs(30), &clock)
                    .unwrap();
                let seq = w
                    .append_sync(t("2026-12-01T02:00:00Z"), test_send(i))
                    .unwrap()
                    .seq;
                println!("CHILD-SEQ {seq}");
            }
        }
        other => panic!("unknown child mode {other:?}"),
    }
}

fn wait_for_line(child: &mut Child, marker: &str) -> String {
    let out = child.stdout.as_mut().unwrap();
    let mut reader = BufReader::new(out);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "child ended before printing {marker}"
        );
        // libtest prints `test child_process_entry ... ` before the child's first line.
        if line.contains(marker) {
            return line;
        }
    }
}

#[test]
fn a_lock_held_by_another_process_times_out_then_is_recovered_when_that_process_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let mut guard = spawn_child(&format!("hold:{}", dir.path().display()));
    let child = &mut guard.0;
    wait_for_line(child, "CHILD-LOCKED");
    let ledger = FileLedger::new(dir.path());
    let err = ledger
        .lock_sync(&holder("parent"), Duration::from_millis(200), &clock())
        .unwrap_err();
    match &err {
        LedgerError::Lock(LockError::Timeout {
            holder: Some(h), ..
        }) => {
            assert_eq!(h.pid, child.id());
            assert_eq!(h.command, "child holder");
        }
        other => panic!("{other}"),
    }
    assert!(
        err.to_string()
            .contains(&format!("locked by pid {}", child.id())),
        "{err}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // The OS released the dead holder's lock; its unfinished intent is now in doubt.
    let w = ledger
        .lock_sync(&holder("parent"), Duration::from_secs(5), &clock())
        .unwrap();
    assert_eq!(
        w.warnings(),
        [LedgerWarning::IntentWithoutOutcome {
            id: key("sale").id(),
            intent_seq: 2
        }]
    );
    assert_eq!(
        w.snapshot().occurrence(&key("sale")).unwrap().kind(),
        StateKind::InDoubt
    );
}

#[test]
fn four_processes_appending_under_the_lock_get_unique_consecutive_seqs() {
    let dir = tempfile::tempdir().unwrap();
    let mut children: Vec<ChildGuard> = (0..4)
        .map(|_| spawn_child(&format!("append:10:{}", dir.path().display())))
        .collect();
    let mut seqs: Vec<u64> = Vec::new();
    for guard in &mut children {
        let mut stdout = String::new();
        std::io::Read::read_to_string(guard.0.stdout.as_mut().unwrap(), &mut stdout).unwrap();
        let status = guard.0.wait().unwrap();
        let out = Output { status, stdout };
        assert!(out.status.success());
        seqs.extend(
            out.stdout
                .lines()
                .filter_map(|l| l.split_once("CHILD-SEQ ").map(|(_, seq)| seq))
                .map(|s| s.parse::<u64>().unwrap()),
        );
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (2..=41).collect::<Vec<u64>>());
    let read = FileLedger::new(dir.path()).read_sync().unwrap();
    assert!(read.warnings.is_empty());
    assert_eq!(read.snapshot.seq, 41);
}

// ---- the async trait, generically ----

async fn apply_one<L: Ledger>(ledger: &L, clock: &ManualClock) -> Result<u64, LedgerError> {
    let mut w = ledger
        .lock(holder("crier apply"), Duration::from_secs(1), clock)
        .await?;
    let choice = pick_msg_random(
        &key("sale"),
        w.snapshot().msg_randoms_of(1_400_000_000),
        clock.now(),
    );
    w.append(clock.now(), occurrence("sale", intent(choice.value, 1)))
        .await?;
    w.append(
        clock.now(),
        occurrence(
            "sale",
            OccurrenceState::Sent {
                task_id: "T".into(),
            },
        ),
    )
    .await?;
    Ok(w.current_seq())
}

#[tokio::test]
async fn the_trait_drives_the_file_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = FileLedger::new(dir.path());
    let clock = clock();
    assert_eq!(ledger.current_seq().await.unwrap(), 0);
    assert_eq!(apply_one(&ledger, &clock).await.unwrap(), 3);
    assert_eq!(ledger.current_seq().await.unwrap(), 3);
    assert_eq!(ledger.locks().await.unwrap(), Vec::new());
    assert!(ledger.describe().starts_with("file ledger at "));
    let read = ledger.read().await.unwrap();
    let sale = read.snapshot.occurrence(&key("sale")).unwrap();
    assert_eq!(sale.msg_random, Some(key("sale").base_msg_random()));
    // While one writer holds the lock, a second one times out.
    let w = ledger
        .lock(holder("first"), Duration::ZERO, &clock)
        .await
        .unwrap();
    let err = ledger
        .lock(holder("second"), Duration::from_millis(100), &clock)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("`first`"), "{err}");
    drop(w);
    // Resolve through the generic helper: the sale is sent, so there is nothing to resolve.
    let mut w = ledger
        .lock(holder("resolve"), Duration::ZERO, &clock)
        .await
        .unwrap();
    let err = view::resolve(
        &mut w,
        &key("sale").id(),
        Decision::Sent { task_id: None },
        "ops",
        None,
        clock.now(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("is `sent`"), "{err}");
}
