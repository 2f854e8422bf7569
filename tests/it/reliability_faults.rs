//! Reliability over real HTTP against the in-process emulator: transient faults, dropped
//! answers and `--retry-in-doubt`, the daily quota, concurrent applies, a torn ledger tail, and
//! the provider's real 1-second rule.

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::time::{Duration, Instant};

use crate::support::apply::{
    Repo, body_campaign, emulator_config, options, set_faults, start_emulator,
};
use crier::dispatch::{ExitStatus, Outcome, RETRY_IN_DOUBT_WARNING, RecordingReporter};
use crier::emulator::FaultSettings;
use crier::ledger::record::StateKind;
use serde_json::json;

#[tokio::test]
async fn transient_91000_faults_are_retried_until_sent() {
    let mut config = emulator_config(Duration::from_millis(10), 100);
    config.faults = FaultSettings {
        fail_rate: 0.4,
        fail_code: 91000,
        ..FaultSettings::default()
    };
    config.fault_seed = 7;
    let emu = start_emulator(config).await;
    let repo = Repo::for_emulator(&emu.base_url(), "10ms", 100);
    repo.campaigns(10);
    let reporter = RecordingReporter::default();
    let report = repo.apply(&options(), None, &reporter).await.unwrap();
    assert_eq!(report.status(), ExitStatus::Done, "{report:?}");
    assert_eq!(report.counts().sent, 10);
    let stats = emu.stats();
    assert!(stats.injected_failures >= 2, "{stats:?}");
    assert_eq!(emu.pushes().len(), 10);
    let retried = report
        .outcomes
        .iter()
        .filter(|o| matches!(o.outcome, Outcome::Sent { attempts, .. } if attempts > 1))
        .count();
    assert!(retried >= 1);
    // Each failed attempt left its own intent; every retry reused the MsgRandom.
    let ledger = repo.ledger();
    let attempts: u32 = ledger.occurrences.values().map(|o| o.attempts).sum();
    assert_eq!(u64::from(attempts), 10 + stats.injected_failures);
    assert!(
        reporter
            .lines()
            .iter()
            .any(|l| l.contains("ErrorCode 91000"))
    );
}

#[tokio::test]
async fn the_push_past_the_providers_daily_quota_is_deferred_not_sent() {
    // crier believes in 100 a day, the provider allows 3.
    let emu = start_emulator(emulator_config(Duration::from_millis(10), 3)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "10ms", 100);
    repo.campaigns(5);
    let report = repo
        .apply(&options(), None, &RecordingReporter::default())
        .await
        .unwrap();
    assert_eq!(report.status(), ExitStatus::Deferred);
    assert_eq!(report.status().code(), 2);
    let c = report.counts();
    assert_eq!((c.sent, c.deferred), (3, 2));
    assert_eq!(emu.pushes().len(), 3);
    // One 90047, then the app's remaining send is deferred without asking again.
    assert_eq!(emu.stats().rejected.get("90047"), Some(&1));
    let ledger = repo.ledger();
    let deferred: Vec<_> = ledger
        .occurrences
        .values()
        .filter(|o| o.kind() == StateKind::Deferred)
        .collect();
    assert_eq!(deferred.len(), 2);
    // Deferred occurrences are not lost, but the provider said this quota day is full: they
    // are held until the next quota day (asking again today costs a refused request each).
    let plan = repo.plan(repo.now);
    assert!(plan.due.is_empty(), "{:?}", plan.due);
    assert_eq!(plan.held.len(), 2);
    assert!(plan.held.iter().all(|h| h.state == "deferred"));
}

#[tokio::test]
async fn the_plans_quota_forecast_defers_without_calling_the_provider() {
    let emu = start_emulator(emulator_config(Duration::from_millis(10), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "10ms", 2);
    repo.campaigns(4);
    let report = repo
        .apply(&options(), None, &RecordingReporter::default())
        .await
        .unwrap();
    let c = report.counts();
    assert_eq!((c.sent, c.deferred), (2, 2));
    assert!(
        report
            .of("deferred")
            .all(|o| matches!(o.outcome, Outcome::Deferred { forecast: true, .. }))
    );
    assert_eq!(emu.pushes().len(), 2);
    assert!(emu.stats().rejected.is_empty());
}

#[tokio::test]
async fn dropped_answers_end_in_doubt_and_retry_in_doubt_recovers_them_without_duplicates() {
    let mut config = emulator_config(Duration::from_millis(10), 100);
    config.dedup_window = Duration::from_secs(7 * 86_400);
    config.faults = FaultSettings {
        drop_response_rate: 1.0,
        ..FaultSettings::default()
    };
    let emu = start_emulator(config).await;
    let repo = Repo::for_emulator(&emu.base_url(), "10ms", 100);
    repo.campaigns(4);
    let report = repo
        .apply(&options(), None, &RecordingReporter::default())
        .await
        .unwrap();
    assert_eq!(report.counts().in_doubt, 4, "{report:?}");
    assert_eq!(report.status().code(), 1);
    assert!(!report.snapshot_written, "not a successful apply");
    assert_eq!(emu.pushes().len(), 4, "the provider did accept them");
    let plan = repo.plan(repo.now);
    assert!(plan.due.is_empty());
    assert_eq!(plan.in_doubt.len(), 4);

    // A plain apply leaves them alone and says so (exit 1).
    let plain = repo
        .apply(&options(), None, &RecordingReporter::default())
        .await
        .unwrap();
    assert!(plain.outcomes.is_empty());
    assert_eq!(plain.in_doubt_remaining.len(), 4);
    assert_eq!(plain.status().code(), 1);
    assert!(
        plain.snapshot_written,
        "everything this run did succeeded: in-doubt sends of earlier runs do not block the snapshot"
    );

    set_faults(&emu, json!({"drop_response_rate": 0.0})).await;
    let mut opts = options();
    opts.retry_in_doubt = true;
    let reporter = RecordingReporter::default();
    let report = repo.apply(&opts, None, &reporter).await.unwrap();
    assert_eq!(report.status(), ExitStatus::Done, "{report:?}");
    assert_eq!(report.counts().sent, 4);
    assert!(!report.snapshot_written, "the campaigns did not change");
    assert!(
        reporter
            .lines()
            .contains(&format!("warning: {RETRY_IN_DOUBT_WARNING}"))
    );
    // No duplicate delivery: the provider answered the first TaskIds and delivered nothing.
    let pushes = emu.pushes();
    assert_eq!(pushes.len(), 4);
    assert_eq!(emu.stats().deduplicated, 4);
    let ledger = repo.ledger();
    for push in &pushes {
        let occ = ledger
            .occurrences
            .values()
            .find(|o| o.msg_random == Some(push.msg_random))
            .unwrap();
        assert_eq!(occ.kind(), StateKind::Sent);
        assert_eq!(occ.task_id.as_deref(), Some(push.task_id.as_str()));
        assert_eq!(occ.attempts, 2);
    }
}

#[tokio::test]
async fn two_concurrent_applies_never_send_one_occurrence_twice() {
    let emu = start_emulator(emulator_config(Duration::from_millis(5), 1000)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "5ms", 1000);
    repo.campaigns(12);
    let opts = options();
    let (ra, rb) = (RecordingReporter::default(), RecordingReporter::default());
    let (a, b) = tokio::join!(repo.apply(&opts, None, &ra), repo.apply(&opts, None, &rb));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.counts().sent + b.counts().sent, 12, "{a:?} {b:?}");
    assert!(
        a.counts().sent == 0 || b.counts().sent == 0,
        "the second waited for the lock, then found nothing due"
    );
    let pushes = emu.pushes();
    assert_eq!(pushes.len(), 12);
    let campaigns: HashSet<String> = pushes.iter().map(|p| body_campaign(&p.body)).collect();
    assert_eq!(campaigns.len(), 12);
    assert_eq!(emu.stats().deduplicated, 0);
}

#[tokio::test]
async fn a_torn_ledger_tail_is_repaired_and_apply_goes_on() {
    let emu = start_emulator(emulator_config(Duration::from_millis(10), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "10ms", 100);
    repo.campaigns(2);
    repo.apply(&options(), None, &RecordingReporter::default())
        .await
        .unwrap();
    // A crash mid-write leaves half a record.
    let path = repo.ledger_dir().join("ledger.jsonl");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(br#"{"v":1,"seq":99,"at":"2026-"#).unwrap();
    drop(f);
    repo.campaign("after-crash", "");
    let reporter = RecordingReporter::default();
    let report = repo.apply(&options(), None, &reporter).await.unwrap();
    assert_eq!(report.status(), ExitStatus::Done);
    assert_eq!(report.counts().sent, 1);
    assert!(
        reporter
            .lines()
            .iter()
            .any(|l| l.starts_with("ledger: ") && l.contains("repaired a torn last line")),
        "{:?}",
        reporter.lines()
    );
    let ledger = repo.ledger();
    assert_eq!(ledger.repairs.len(), 1);
    assert!(repo.ledger_dir().join("ledger.jsonl.torn").exists());
    assert_eq!(emu.pushes().len(), 3);
}

#[tokio::test]
async fn the_real_one_second_rule_is_kept_without_a_single_90024() {
    // The provider's rule (gap > 1 s) and crier's default spacing (1100ms).
    let emu = start_emulator(emulator_config(Duration::from_secs(1), 100)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "1100ms", 100);
    repo.campaigns(3);
    let start = Instant::now();
    let report = repo
        .apply(&options(), None, &RecordingReporter::default())
        .await
        .unwrap();
    assert_eq!(report.counts().sent, 3, "{report:?}");
    assert!(start.elapsed() >= Duration::from_millis(2200));
    assert!(emu.stats().rejected.is_empty(), "{:?}", emu.stats());
    let pushes = emu.pushes();
    for pair in pushes.windows(2) {
        let gap = pair[1].received_at - pair[0].received_at;
        assert!(gap > chrono::TimeDelta::milliseconds(1000), "{gap:?}");
    }
    let by_campaign: HashMap<String, u32> = pushes
        .iter()
        .map(|p| (body_campaign(&p.body), p.msg_random))
        .collect();
    assert_eq!(by_campaign.len(), 3);
}
