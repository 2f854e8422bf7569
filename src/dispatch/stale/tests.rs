use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::reasons;
use crate::clock::ManualClock;
use crate::dispatch::testing::{Fixture, campaign, config};
use crate::ledger::record::{OccurrenceRecord, OccurrenceState, RecordBody};
use crate::ledger::{FileLedger, LedgerWriter as _};
use crate::occurrence::OccurrenceKey;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

const NOW: &str = "2026-12-01T10:01:00Z";

fn fixture() -> Fixture {
    Fixture::new(
        &config(100),
        &[
            campaign("a", "prod", "2026-12-01T10:00:00"),
            campaign("b", "prod", "2026-12-01T12:00:00"),
        ],
    )
}

fn record(
    w: &mut crate::ledger::FileWriter,
    campaign: &str,
    scheduled: &str,
    when: &str,
    state: OccurrenceState,
) {
    w.append_sync(
        at(when),
        RecordBody::Occurrence(OccurrenceRecord {
            key: OccurrenceKey {
                project: "shop".into(),
                sdkappid: 1_400_000_000,
                campaign: campaign.into(),
                scheduled: at(scheduled),
            },
            app: "prod".into(),
            state,
        }),
    )
    .unwrap();
}

fn intent(msg_random: u32) -> OccurrenceState {
    OccurrenceState::Intent {
        msg_random,
        perturbation: None,
        content_hash: "sha256:x".into(),
        request: serde_json::json!({}),
        attempt: 1,
        origin: None,
    }
}

#[test]
fn a_fresh_plan_file_is_not_stale() {
    let fx = fixture();
    let empty = crate::ledger::LedgerSnapshot::default();
    let plan = fx.plan(&empty, at(NOW));
    assert_eq!(plan.due.len(), 1);
    assert!(reasons(&plan, &plan.campaign_hashes, &empty, &fx.settings, at(NOW)).is_empty());
}

#[test]
fn a_newer_record_on_one_of_its_occurrences_or_quota_days_makes_it_stale() {
    let fx = fixture();
    let clock = ManualClock::new(at(NOW));
    let ledger = FileLedger::new(fx.ledger_dir());
    let mut w = ledger
        .lock_sync(
            &crate::dispatch::testing::holder(at(NOW)),
            Duration::ZERO,
            &clock,
        )
        .unwrap();
    let plan = fx.plan(w.snapshot(), at(NOW));
    // An unrelated occurrence on another day: still fine.
    record(
        &mut w,
        "x",
        "2026-11-20T10:00:00Z",
        "2026-11-20T10:00:00Z",
        intent(1),
    );
    assert!(
        reasons(
            &plan,
            &plan.campaign_hashes,
            w.snapshot(),
            &fx.settings,
            at(NOW)
        )
        .is_empty()
    );
    // A push of the same app on the plan's quota day (someone else's apply): the day still
    // holds the plan's one send (2 of 100), so the reviewed plan stands.
    record(
        &mut w,
        "y",
        "2026-12-01T09:00:00Z",
        "2026-12-01T10:00:30Z",
        intent(2),
    );
    assert!(
        reasons(
            &plan,
            &plan.campaign_hashes,
            w.snapshot(),
            &fx.settings,
            at(NOW)
        )
        .is_empty()
    );
    // A record on the plan's own occurrence.
    record(&mut w, "a", "2026-12-01T10:00:00Z", NOW, intent(3));
    let r = reasons(
        &plan,
        &plan.campaign_hashes,
        w.snapshot(),
        &fx.settings,
        at(NOW),
    );
    assert!(
        r.iter()
            .any(|x| x
                .contains("shop/1400000000/a@2026-12-01T10:00:00Z: the ledger recorded `intent`")),
        "{r:?}"
    );
}

#[test]
fn a_changed_added_or_removed_campaign_makes_it_stale() {
    let fx = fixture();
    let empty = crate::ledger::LedgerSnapshot::default();
    let plan = fx.plan(&empty, at(NOW));
    let mut current = plan.campaign_hashes.clone();
    current.insert("a".into(), "sha256:other".into());
    current.remove("b");
    current.insert("c".into(), "sha256:new".into());
    let r = reasons(&plan, &current, &empty, &fx.settings, at(NOW));
    // Only `a` is sent by the plan: `b` (upcoming) and `c` do not change what it does.
    assert_eq!(r, ["campaign `a` changed since the plan was made"]);
    current.remove("a");
    let r = reasons(&plan, &current, &empty, &fx.settings, at(NOW));
    assert_eq!(r, ["campaign `a` was removed since the plan was made"]);
}

#[test]
fn a_quota_day_or_pacing_that_can_no_longer_hold_the_plan_makes_it_stale() {
    let fx = Fixture::new(&config(1), &[campaign("a", "prod", "2026-12-01T10:00:00")]);
    let clock = ManualClock::new(at(NOW));
    let ledger = FileLedger::new(fx.ledger_dir());
    let mut w = ledger
        .lock_sync(
            &crate::dispatch::testing::holder(at(NOW)),
            Duration::ZERO,
            &clock,
        )
        .unwrap();
    let plan = fx.plan(w.snapshot(), at(NOW));
    assert_eq!(plan.due.len(), 1);
    record(
        &mut w,
        "y",
        "2026-12-01T09:00:00Z",
        "2026-12-01T10:00:30Z",
        intent(2),
    );
    record(
        &mut w,
        "y",
        "2026-12-01T09:00:00Z",
        "2026-12-01T10:00:31Z",
        OccurrenceState::Sent {
            task_id: "t".into(),
        },
    );
    let r = reasons(
        &plan,
        &plan.campaign_hashes,
        w.snapshot(),
        &fx.settings,
        at(NOW),
    );
    assert_eq!(
        r,
        [
            "quota day 2026-12-01 of app `prod`: 1 pushes are recorded now, so the plan's 1 no longer fit the daily quota of 1"
        ]
    );

    // Pacing: with room in the quota, a push recorded just before the deadline leaves no
    // time for the plan's send (min_interval 1s, grace 15m: deadline 10:15:00).
    let fx = Fixture::new(
        &config(100),
        &[campaign("a", "prod", "2026-12-01T10:00:00")],
    );
    let ledger = FileLedger::new(fx.ledger_dir());
    let mut w = ledger
        .lock_sync(
            &crate::dispatch::testing::holder(at(NOW)),
            Duration::ZERO,
            &clock,
        )
        .unwrap();
    let plan = fx.plan(w.snapshot(), at(NOW));
    record(
        &mut w,
        "y",
        "2026-12-01T09:00:00Z",
        "2026-12-01T10:14:59.500Z",
        intent(2),
    );
    record(
        &mut w,
        "y",
        "2026-12-01T09:00:00Z",
        "2026-12-01T10:14:59.600Z",
        OccurrenceState::Sent {
            task_id: "t".into(),
        },
    );
    let late = at("2026-12-01T10:14:59.700Z");
    let r = reasons(
        &plan,
        &plan.campaign_hashes,
        w.snapshot(),
        &fx.settings,
        late,
    );
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(
        r[0].contains("could not start before its deadline"),
        "{r:?}"
    );
}

#[test]
fn past_grace_edited_bodies_and_other_projects_are_refused() {
    let fx = fixture();
    let empty = crate::ledger::LedgerSnapshot::default();
    let plan = fx.plan(&empty, at(NOW));
    let later = at(NOW) + TimeDelta::minutes(20);
    let r = reasons(&plan, &plan.campaign_hashes, &empty, &fx.settings, later);
    assert_eq!(r.len(), 1);
    assert!(
        r[0].ends_with("now past grace (deadline 2026-12-01T10:15:00Z)"),
        "{r:?}"
    );

    let mut edited = plan.clone();
    edited.due[0].body = edited.due[0].body.replace("hi", "yo");
    let r = reasons(
        &edited,
        &plan.campaign_hashes,
        &empty,
        &fx.settings,
        at(NOW),
    );
    assert!(r[0].contains("does not match its body_hash"), "{r:?}");

    let mut other = plan.clone();
    other.project = "elsewhere".into();
    let r = reasons(&other, &plan.campaign_hashes, &empty, &fx.settings, at(NOW));
    assert_eq!(
        r,
        ["the plan file is for project `elsewhere`, crier.yaml says `shop`"]
    );
}
