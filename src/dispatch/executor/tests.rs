use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::*;
use crate::clock::ManualClock;
use crate::dispatch::report::Outcome;
use crate::dispatch::reporter::RecordingReporter;
use crate::dispatch::testing::{
    FakeApi, Fixture, api_error, campaign, config, maybe_sent, not_sent, ok,
};
use crate::dispatch::timer::FakeTimer;
use crate::ledger::record::StateKind;
use crate::ledger::{FileLedger, FileWriter};

const AT: &str = "2026-12-01T10:01:00Z";

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

struct Setup {
    fx: Fixture,
    clock: Arc<ManualClock>,
    timer: FakeTimer,
    writer: FileWriter,
    cancel: Cancel,
    reporter: RecordingReporter,
}

fn setup(quota: u32, campaigns: &[(&str, &str, &str)]) -> Setup {
    let texts: Vec<String> = campaigns
        .iter()
        .map(|(n, app, t)| campaign(n, app, t))
        .collect();
    let fx = Fixture::new(&config(quota), &texts);
    let clock = Arc::new(ManualClock::new(at(AT)));
    let writer = FileLedger::new(fx.ledger_dir())
        .lock_sync(
            &crate::dispatch::testing::holder(at(AT)),
            Duration::ZERO,
            &*clock,
        )
        .unwrap();
    Setup {
        timer: FakeTimer::new(Some(Arc::clone(&clock))),
        fx,
        clock,
        writer,
        cancel: Cancel::new(),
        reporter: RecordingReporter::default(),
    }
}

fn lane(api: &FakeApi, min_interval: Duration) -> Lane<'_> {
    Lane {
        api,
        min_interval,
        quota_timezone: chrono_tz::UTC,
        paused: false,
        quiet_hours: None,
    }
}

fn options(max_attempts: u32) -> DispatchOptions {
    DispatchOptions {
        retry: RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        },
        wait_a_minute: Duration::from_secs(60),
    }
}

impl Setup {
    async fn run(&mut self, lanes: &HashMap<String, Lane<'_>>, max_attempts: u32) -> RunOutcome {
        let plan = self.fx.plan(self.writer.snapshot(), self.clock.now());
        let ex = Executor {
            lanes,
            clock: &*self.clock,
            timer: &self.timer,
            reporter: &self.reporter,
            cancel: &self.cancel,
            options: options(max_attempts),
            origin: None,
        };
        ex.run(&mut self.writer, &plan.due, &plan.quota)
            .await
            .unwrap()
    }

    fn state(&self, campaign: &str) -> StateKind {
        self.writer
            .snapshot()
            .occurrences
            .values()
            .find(|o| o.key.campaign == campaign)
            .map(|o| o.kind())
            .unwrap()
    }

    fn attempts(&self, campaign: &str) -> u32 {
        self.writer
            .snapshot()
            .occurrences
            .values()
            .find(|o| o.key.campaign == campaign)
            .unwrap()
            .attempts
    }
}

fn names(run: &RunOutcome) -> Vec<(&str, &str)> {
    run.outcomes
        .iter()
        .map(|o| (o.campaign.as_str(), o.outcome.name()))
        .collect()
}

#[tokio::test]
async fn sends_in_schedule_then_name_order_paced_after_each_response() {
    let mut s = setup(
        100,
        &[
            ("b", "prod", "2026-12-01T10:00:00"),
            ("a", "prod", "2026-12-01T10:00:00"),
            ("c", "prod", "2026-12-01T09:59:00"),
        ],
    );
    let api = FakeApi::default();
    let lanes = HashMap::from([("prod".to_owned(), lane(&api, Duration::from_secs(1)))]);
    let run = s.run(&lanes, 3).await;
    assert_eq!(names(&run), [("c", "sent"), ("a", "sent"), ("b", "sent")]);
    assert!(!run.interrupted);
    assert_eq!(
        s.timer.sleeps(),
        [Duration::from_secs(1), Duration::from_secs(1)],
        "no wait before the first push, min_interval after each response"
    );
    // Every body went out with the MsgRandom of its intent, and the intent came first.
    let bodies = api.bodies.lock().unwrap().clone();
    for (body, name) in bodies.iter().zip(["c", "a", "b"]) {
        let view = s
            .writer
            .snapshot()
            .occurrences
            .values()
            .find(|o| o.key.campaign == name)
            .unwrap();
        let sent: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(sent["MsgRandom"], view.msg_random.unwrap());
        assert_eq!(view.request(), Some(&sent));
        let kinds: Vec<StateKind> = view.history.iter().map(|h| h.value.kind()).collect();
        assert_eq!(kinds, [StateKind::Intent, StateKind::Sent]);
        assert!(view.task_id.as_deref().unwrap().starts_with("task-"));
    }
}

#[tokio::test]
async fn the_first_push_keeps_the_interval_after_a_previous_applys_last_push() {
    let mut s = setup(100, &[("a", "prod", "2026-12-01T10:00:00")]);
    let api = FakeApi::default();
    let lanes = HashMap::from([("prod".to_owned(), lane(&api, Duration::from_secs(1)))]);
    s.run(&lanes, 3).await;
    // A second campaign, same ledger, the clock has not moved: wait a full interval first.
    let mut s2 = Setup {
        fx: Fixture::new(
            &config(100),
            &[
                campaign("a", "prod", "2026-12-01T10:00:00"),
                campaign("b", "prod", "2026-12-01T10:00:00"),
            ],
        ),
        ..s
    };
    let run = s2.run(&lanes, 3).await;
    assert_eq!(names(&run), [("b", "sent")]);
    assert_eq!(s2.timer.sleeps(), [Duration::from_secs(1)]);
}

#[tokio::test]
async fn grace_is_checked_again_just_before_each_send() {
    let mut s = setup(
        100,
        &[
            ("a", "prod", "2026-12-01T10:00:00"),
            ("b", "prod", "2026-12-01T10:00:00"),
            ("c", "prod", "2026-12-01T10:00:00"),
        ],
    );
    let api = FakeApi::default();
    // 10 minutes between pushes: a at 10:01, b at 10:11, c would be 10:21 > 10:15.
    let lanes = HashMap::from([("prod".to_owned(), lane(&api, Duration::from_secs(600)))]);
    let run = s.run(&lanes, 3).await;
    assert_eq!(names(&run), [("a", "sent"), ("b", "sent"), ("c", "missed")]);
    assert_eq!(api.calls(), 2);
    assert_eq!(s.state("c"), StateKind::Missed);
    assert_eq!(
        s.writer
            .snapshot()
            .occurrences
            .values()
            .find(|o| o.key.campaign == "c")
            .unwrap()
            .history
            .len(),
        1
    );
}

#[tokio::test]
async fn transient_errors_are_retried_with_backoff_and_a_new_intent_each() {
    let mut s = setup(100, &[("a", "prod", "2026-12-01T10:00:00")]);
    let api = FakeApi::scripted(vec![api_error(91000), not_sent(), ok(3)]);
    let lanes = HashMap::from([("prod".to_owned(), lane(&api, Duration::from_secs(1)))]);
    let run = s.run(&lanes, 5).await;
    assert_eq!(
        run.outcomes[0].outcome,
        Outcome::Sent {
            task_id: "task-3".into(),
            attempts: 3
        }
    );
    assert_eq!(s.attempts("a"), 3);
    let sleeps = s.timer.sleeps();
    assert_eq!(sleeps.len(), 2);
    assert!(sleeps[0] >= Duration::from_millis(50) && sleeps[0] < Duration::from_millis(100));
    assert!(sleeps[1] >= Duration::from_millis(100) && sleeps[1] < Duration::from_millis(200));
    let bodies = api.bodies.lock().unwrap().clone();
    assert!(
        bodies.iter().all(|b| b == &bodies[0]),
        "same bytes, same MsgRandom"
    );
}

#[tokio::test]
async fn giving_up_before_sending_records_not_sent_and_a_later_apply_retries_it() {
    let mut s = setup(100, &[("a", "prod", "2026-12-01T10:00:00")]);
    let api = FakeApi::scripted(vec![not_sent(), not_sent(), not_sent()]);
    let lanes = HashMap::from([("prod".to_owned(), lane(&api, Duration::from_secs(1)))]);
    let run = s.run(&lanes, 3).await;
    assert_eq!(names(&run), [("a", "not_sent")]);
    assert_eq!(s.state("a"), StateKind::NotSent);
    assert_eq!(api.calls(), 3);
    // The next plan has it due again, same MsgRandom, and it goes out.
    let first_body = api.bodies.lock().unwrap()[0].clone();
    let run = s.run(&lanes, 3).await;
    assert_eq!(names(&run), [("a", "sent")]);
    assert_eq!(api.bodies.lock().unwrap()[3], first_body);
    assert_eq!(s.attempts("a"), 4);
}

#[tokio::test]
async fn an_answerless_request_is_in_doubt_and_never_resent_by_a_plain_apply() {
    let mut s = setup(100, &[("a", "prod", "2026-12-01T10:00:00")]);
    let api = FakeApi::scripted(vec![maybe_sent()]);
    let lanes = HashMap::from([("prod".to_owned(), lane(&api, Duration::from_secs(1)))]);
    let run = s.run(&lanes, 3).await;
    assert_eq!(names(&run), [("a", "in_doubt")]);
    assert_eq!(s.state("a"), StateKind::InDoubt);
    let plan = s.fx.plan(s.writer.snapshot(), s.clock.now());
    assert!(plan.due.is_empty());
    assert_eq!(plan.in_doubt.len(), 1);
    let run = s.run(&lanes, 3).await;
    assert!(run.outcomes.is_empty());
    assert_eq!(api.calls(), 1);
}

#[tokio::test]
async fn usersig_errors_re_sign_once_then_stop_the_app_but_not_the_others() {
    let mut s = setup(
        100,
        &[
            ("a", "prod", "2026-12-01T10:00:00"),
            ("b", "other", "2026-12-01T10:00:00"),
            ("c", "prod", "2026-12-01T10:00:00"),
        ],
    );
    let prod = FakeApi::scripted(vec![api_error(70001), api_error(70001)]);
    let other = FakeApi::default();
    let lanes = HashMap::from([
        ("prod".to_owned(), lane(&prod, Duration::from_secs(1))),
        ("other".to_owned(), lane(&other, Duration::from_secs(1))),
    ]);
    let run = s.run(&lanes, 5).await;
    assert_eq!(
        names(&run),
        [("a", "failed"), ("b", "sent"), ("c", "app_stopped")]
    );
    assert_eq!(prod.invalidations(), 1);
    assert_eq!(prod.calls(), 2);
    assert!(matches!(
        run.outcomes[0].outcome,
        Outcome::Failed {
            error_code: 70001,
            fatal_for_app: true,
            ..
        }
    ));
    assert!(
        !s.writer
            .snapshot()
            .occurrences
            .values()
            .any(|o| o.key.campaign == "c"),
        "nothing recorded for a send that was not attempted"
    );
    assert!(
        s.reporter
            .lines()
            .iter()
            .any(|l| l.starts_with("stop prod"))
    );
}

#[tokio::test]
async fn a_re_sign_that_works_sends() {
    let mut s = setup(100, &[("a", "prod", "2026-12-01T10:00:00")]);
    let api = FakeApi::scripted(vec![api_error(70052)]);
    let lanes = HashMap::from([("prod".to_owned(), lane(&api, Duration::from_secs(1)))]);
    let run = s.run(&lanes, 5).await;
    assert_eq!(names(&run), [("a", "sent")]);
    assert_eq!(api.invalidations(), 1);
    assert!(s.timer.sleeps().is_empty());
}

#[tokio::test]
async fn lockout_waits_a_minute_and_short_interval_waits_min_interval() {
    let mut s = setup(
        100,
        &[
            ("a", "prod", "2026-12-01T10:00:00"),
            ("b", "prod", "2026-12-01T10:00:00"),
        ],
    );
    let api = FakeApi::scripted(vec![api_error(70050), ok(2), api_error(90024)]);
    let lanes = HashMap::from([("prod".to_owned(), lane(&api, Duration::from_secs(2)))]);
    let run = s.run(&lanes, 5).await;
    assert_eq!(names(&run), [("a", "sent"), ("b", "sent")]);
    assert_eq!(
        s.timer.sleeps(),
        [
            Duration::from_secs(60),
            Duration::from_secs(2),
            Duration::from_secs(2)
        ],
        "70050: a minute; pacing; 90024: min_interval"
    );
}

#[tokio::test]
async fn a_full_quota_day_defers_this_and_the_apps_later_sends_without_calling() {
    let mut s = setup(
        100,
        &[
            ("a", "prod", "2026-12-01T10:00:00"),
            ("b", "prod", "2026-12-01T10:00:00"),
            ("c", "other", "2026-12-01T10:00:00"),
        ],
    );
    let prod = FakeApi::scripted(vec![api_error(90047)]);
    let other = FakeApi::default();
    let lanes = HashMap::from([
        ("prod".to_owned(), lane(&prod, Duration::from_secs(1))),
        ("other".to_owned(), lane(&other, Duration::from_secs(1))),
    ]);
    let run = s.run(&lanes, 5).await;
    assert_eq!(
        names(&run),
        [("a", "deferred"), ("b", "deferred"), ("c", "sent")]
    );
    assert_eq!(prod.calls(), 1);
    let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    assert_eq!(
        run.outcomes[1].outcome,
        Outcome::Deferred {
            quota_day: day,
            forecast: false
        }
    );
    assert_eq!(s.state("b"), StateKind::Deferred);
}

#[tokio::test]
async fn the_plans_quota_forecast_defers_without_calling() {
    let mut s = setup(
        1,
        &[
            ("a", "prod", "2026-12-01T10:00:00"),
            ("b", "prod", "2026-12-01T10:00:00"),
        ],
    );
    let api = FakeApi::default();
    let lanes = HashMap::from([("prod".to_owned(), lane(&api, Duration::from_secs(1)))]);
    let run = s.run(&lanes, 5).await;
    assert_eq!(names(&run), [("a", "sent"), ("b", "deferred")]);
    assert!(matches!(
        run.outcomes[1].outcome,
        Outcome::Deferred { forecast: true, .. }
    ));
    assert_eq!(api.calls(), 1);
    assert!(
        s.reporter
            .lines()
            .iter()
            .any(|l| l == "deferred shop/1400000000/b@2026-12-01T10:00:00Z")
    );
}

#[tokio::test]
async fn a_request_error_fails_that_occurrence_only() {
    let mut s = setup(
        100,
        &[
            ("a", "prod", "2026-12-01T10:00:00"),
            ("b", "prod", "2026-12-01T10:00:00"),
        ],
    );
    let api = FakeApi::scripted(vec![api_error(90033)]);
    let lanes = HashMap::from([("prod".to_owned(), lane(&api, Duration::from_secs(1)))]);
    let run = s.run(&lanes, 5).await;
    assert_eq!(names(&run), [("a", "failed"), ("b", "sent")]);
    assert_eq!(s.state("a"), StateKind::Failed);
    // A rejected push does not count for the interval.
    assert!(s.timer.sleeps().is_empty());
    // 90033 (the provider's attribute names differ from crier.yaml's) is a configuration
    // error that delivered nothing: the next plan sends it again, saying why.
    let next = s.fx.plan(s.writer.snapshot(), s.clock.now());
    assert_eq!(next.due.len(), 1);
    assert!(
        next.due[0]
            .retry
            .as_deref()
            .is_some_and(|r| r.contains("ErrorCode 90033")),
        "{:?}",
        next.due[0].retry
    );
}

#[tokio::test]
async fn a_refused_request_is_held_until_the_campaign_changes() {
    let mut s = setup(100, &[("a", "prod", "2026-12-01T10:00:00")]);
    let api = FakeApi::scripted(vec![api_error(90002)]);
    let lanes = HashMap::from([("prod".to_owned(), lane(&api, Duration::from_secs(1)))]);
    let run = s.run(&lanes, 5).await;
    assert_eq!(names(&run), [("a", "failed")]);
    let next = s.fx.plan(s.writer.snapshot(), s.clock.now());
    assert!(next.due.is_empty(), "the same request is not sent again");
    assert_eq!(next.held.len(), 1);
    assert_eq!(next.held[0].error_code, Some(90002));
    assert!(
        next.held[0]
            .reason
            .contains("once the campaign `a` changes")
    );
}

#[tokio::test]
async fn cancel_finishes_the_request_in_flight_and_records_its_outcome() {
    let mut s = setup(
        100,
        &[
            ("a", "prod", "2026-12-01T10:00:00"),
            ("b", "prod", "2026-12-01T10:00:00"),
        ],
    );
    let cancel = s.cancel.clone();
    let api = FakeApi {
        on_call: Some(Box::new(move |_| cancel.cancel())),
        ..FakeApi::default()
    };
    let lanes = HashMap::from([("prod".to_owned(), lane(&api, Duration::from_secs(1)))]);
    let run = s.run(&lanes, 5).await;
    assert!(run.interrupted);
    assert_eq!(names(&run), [("a", "sent"), ("b", "interrupted")]);
    assert_eq!(s.state("a"), StateKind::Sent);
    assert_eq!(s.writer.snapshot().occurrences.len(), 1);
}

#[tokio::test]
async fn a_plan_item_whose_body_or_msg_random_disagrees_is_refused() {
    let mut s = setup(100, &[("a", "prod", "2026-12-01T10:00:00")]);
    let api = FakeApi::default();
    let lanes = HashMap::from([("prod".to_owned(), lane(&api, Duration::from_secs(1)))]);
    let mut plan = s.fx.plan(s.writer.snapshot(), s.clock.now());
    plan.due[0].body = plan.due[0].body.replace("hi from", "HI FROM");
    let mut other = plan.due[0].clone();
    other.body = s.fx.plan(s.writer.snapshot(), s.clock.now()).due[0]
        .body
        .clone();
    other.body_hash = crate::plan::normalize::sha256(other.body.as_bytes());
    other.msg_random ^= 1;
    let ex = Executor {
        lanes: &lanes,
        clock: &*s.clock,
        timer: &s.timer,
        reporter: &s.reporter,
        cancel: &s.cancel,
        options: options(3),
        origin: None,
    };
    let run = ex
        .run(&mut s.writer, &[plan.due[0].clone(), other], &[])
        .await
        .unwrap();
    assert_eq!(names(&run), [("a", "refused"), ("a", "refused")]);
    assert_eq!(api.calls(), 0);
    assert!(s.writer.snapshot().occurrences.is_empty());
}

#[tokio::test]
async fn a_paused_app_sends_nothing_even_from_a_plan_made_before_the_pause() {
    let mut s = setup(100, &[("a", "prod", "2026-12-01T10:00:00")]);
    let api = FakeApi::scripted(vec![ok(1)]);
    let mut paused = lane(&api, Duration::from_secs(1));
    paused.paused = true;
    let lanes = HashMap::from([("prod".to_owned(), paused)]);
    let run = s.run(&lanes, 3).await;
    assert_eq!(names(&run), [("a", "app_stopped")]);
    assert_eq!(api.calls(), 0);
    assert!(
        s.writer.snapshot().occurrences.is_empty(),
        "nothing recorded for what was not attempted"
    );
}

#[tokio::test]
async fn a_retry_of_an_in_doubt_send_that_gives_up_stays_in_doubt() {
    let mut s = setup(100, &[("a", "prod", "2026-12-01T10:00:00")]);
    let api = FakeApi::scripted(vec![maybe_sent(), not_sent(), not_sent()]);
    let lanes = HashMap::from([("prod".to_owned(), lane(&api, Duration::from_secs(1)))]);
    assert_eq!(names(&s.run(&lanes, 2).await), [("a", "in_doubt")]);
    let rules = crate::dispatch::retry::RetryRules {
        grace: Duration::from_secs(900),
        quota_timezone: chrono_tz::UTC,
        paused: false,
    };
    let (sends, left) = crate::dispatch::retry::in_doubt_sends(
        s.writer.snapshot(),
        &["shop"],
        &HashMap::from([("a".to_owned(), rules)]),
    );
    assert!(left.is_empty());
    assert_eq!(sends.len(), 1);
    let ex = Executor {
        lanes: &lanes,
        clock: &*s.clock,
        timer: &s.timer,
        reporter: &s.reporter,
        cancel: &s.cancel,
        options: options(2),
        origin: None,
    };
    let run = ex.run(&mut s.writer, &sends, &[]).await.unwrap();
    assert_eq!(names(&run), [("a", "left_in_doubt")]);
    assert_eq!(
        s.state("a"),
        StateKind::InDoubt,
        "the first attempt may have been delivered"
    );
    let plan = s.fx.plan(s.writer.snapshot(), s.clock.now());
    assert!(plan.due.is_empty(), "a plain apply never resends it");
    assert_eq!(plan.in_doubt.len(), 1);
    // And a retry past grace is not recorded as missed either.
    s.clock.advance(chrono::TimeDelta::hours(2));
    let run = ex.run(&mut s.writer, &sends, &[]).await.unwrap();
    assert_eq!(names(&run), [("a", "left_in_doubt")]);
    assert_eq!(s.state("a"), StateKind::InDoubt);
}

#[tokio::test]
async fn an_answer_without_a_task_id_is_in_doubt_not_sent() {
    let mut s = setup(100, &[("a", "prod", "2026-12-01T10:00:00")]);
    let mut reply = crate::dispatch::testing::ok(1);
    if let Ok(r) = &mut reply {
        r.task_id = None;
    }
    let api = FakeApi::scripted(vec![reply]);
    let lanes = HashMap::from([("prod".to_owned(), lane(&api, Duration::from_secs(1)))]);
    let run = s.run(&lanes, 5).await;
    assert_eq!(names(&run), [("a", "in_doubt")]);
    assert_eq!(s.state("a"), StateKind::InDoubt);
    // It may have been accepted: the next plan does not send it by itself.
    let next = s.fx.plan(s.writer.snapshot(), s.clock.now());
    assert!(next.due.is_empty());
    assert_eq!(next.in_doubt.len(), 1);
    assert!(
        next.in_doubt[0].reason.contains("without a TaskId"),
        "{}",
        next.in_doubt[0].reason
    );
}
