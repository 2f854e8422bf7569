//! kill -9 of the real `crier apply` at random moments during 30 pushes, a fixed number of
//! rounds, each followed by recovery (the next apply takes the lock: a torn tail is repaired,
//! an intent without an outcome becomes `in_doubt`). After every round:
//! - no occurrence reached the emulator under two MsgRandoms;
//! - every push the emulator accepted has an intent with its MsgRandom in the ledger, and once
//!   recovered is `sent` (with the emulator's TaskId) or `in_doubt`.
//!
//! Each round adds 30 occurrences due now; after the kill, a full apply and `--retry-in-doubt`
//! (the emulator deduplicates over 7 days) end with all of them sent, each delivered once.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::apply::{Repo, body_campaign, emulator_config, start_emulator};
use crier::emulator::{EmulatorHandle, PushRecord};
use crier::ledger::record::StateKind;
use crier::ledger::{FileLedger, LedgerSnapshot};

const PUSHES: usize = 30;
const ROUNDS: usize = 8;
const SEED: u64 = 0x5eed_c21e;

/// The invariants; `recovered` when the last run finished normally (no dangling intent).
fn check(emu: &EmulatorHandle, ledger: &LedgerSnapshot, recovered: bool) -> Vec<PushRecord> {
    let pushes = emu.pushes();
    let mut randoms: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    for p in &pushes {
        randoms
            .entry(body_campaign(&p.body))
            .or_default()
            .insert(p.msg_random);
    }
    for (campaign, set) in &randoms {
        assert_eq!(
            set.len(),
            1,
            "{campaign} reached the emulator under {set:?}"
        );
    }
    for p in &pushes {
        let occ = ledger
            .occurrences
            .values()
            .find(|o| o.msg_random == Some(p.msg_random))
            .unwrap_or_else(|| panic!("push {} has no intent in the ledger", p.task_id));
        assert_eq!(occ.key.campaign, body_campaign(&p.body));
        assert_eq!(occ.request(), Some(&p.body));
        match occ.kind() {
            StateKind::Sent => assert_eq!(occ.task_id.as_deref(), Some(p.task_id.as_str())),
            StateKind::InDoubt => {}
            StateKind::Intent if !recovered => {}
            other => panic!("accepted push {} is `{other}` in the ledger", occ.id),
        }
    }
    pushes
}

fn output_text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_never_sends_an_occurrence_twice() {
    let mut config = emulator_config(Duration::from_millis(20), 10_000);
    config.dedup_window = Duration::from_secs(7 * 86_400);
    // Answers take 15 ms, so a kill often lands while a request is in flight.
    config.faults.latency_ms = 15;
    let emu = start_emulator(config).await;
    let repo = Repo::for_emulator(&emu.base_url(), "20ms", 10_000);
    let ledger = FileLedger::new(repo.ledger_dir());
    let mut rng = fastrand::Rng::with_seed(SEED);
    let started = Instant::now();
    let (mut killed, mut in_doubt_total) = (0, 0);
    for round in 0..ROUNDS {
        for i in 0..PUSHES {
            repo.campaign(&format!("r{round}-c{i:02}"), "");
        }
        // 30 pushes, 15 ms each and 20 ms apart, take about 1 s: kill somewhere in there.
        let mut child = repo
            .binary(&["apply", "--auto-approve"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(rng.u64(30..1000))).await;
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        child.wait().unwrap();
        check(&emu, &ledger.read_sync().unwrap().snapshot, false);
        let after_kill = emu.pushes().len();

        // Recovery: the next apply repairs, marks the dangling intent in doubt, sends the rest.
        let out = repo.binary(&["apply", "--auto-approve"]).output().unwrap();
        let snapshot = ledger.read_sync().unwrap().snapshot;
        check(&emu, &snapshot, true);
        let in_doubt = snapshot
            .occurrences
            .values()
            .filter(|o| o.kind() == StateKind::InDoubt)
            .count();
        assert_eq!(
            out.status.code(),
            Some(if in_doubt > 0 { 1 } else { 0 }),
            "{}",
            output_text(&out)
        );
        assert_eq!(
            snapshot
                .occurrences
                .values()
                .filter(|o| matches!(o.kind(), StateKind::Sent | StateKind::InDoubt))
                .count(),
            PUSHES * (round + 1)
        );

        // Resend the in-doubt ones with their MsgRandom: the 7-day dedup window absorbs them.
        let out = repo
            .binary(&["apply", "--auto-approve", "--retry-in-doubt"])
            .output()
            .unwrap();
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(0), "{text}");
        if in_doubt > 0 {
            assert!(
                text.contains("--retry-in-doubt resends in-doubt pushes"),
                "{text}"
            );
        }
        let snapshot = ledger.read_sync().unwrap().snapshot;
        let pushes = check(&emu, &snapshot, true);
        assert!(
            snapshot
                .occurrences
                .values()
                .all(|o| o.kind() == StateKind::Sent)
        );
        assert_eq!(
            pushes.len(),
            PUSHES * (round + 1),
            "each occurrence delivered exactly once"
        );
        in_doubt_total += in_doubt;
        // An in-doubt intent killed before its request left is sent fresh; the others were
        // absorbed by deduplication.
        assert!(emu.stats().deduplicated as usize <= in_doubt_total);
        eprintln!(
            "round {round}: {after_kill} accepted before the kill, {in_doubt} in doubt, seq {}",
            snapshot.seq
        );
    }
    assert!(
        killed >= ROUNDS / 2,
        "most rounds must be killed mid-run ({killed})"
    );
    eprintln!(
        "{killed} kills, {in_doubt_total} in doubt, {:?}",
        started.elapsed()
    );
}
