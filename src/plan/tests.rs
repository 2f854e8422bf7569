//! Unit tests of the plan builder: every list, the quota forecast, the change view, warnings.

use super::*;
use crate::ledger::record::{
    CampaignSnapshot, OccurrenceRecord, OccurrenceState, Record, RecordBody, SnapshotRecord,
};
use crate::occurrence::OccurrenceKey;
use crate::spec::{Campaign, parse_campaign};
use chrono::TimeZone as _;
use std::path::Path;
use std::sync::Arc;

const CONFIG: &str = "project: shop\napps:\n  prod:\n    sdkappid: 1400000000\n    region: singapore\n    admin: admin\n    secret_key_env: K\n    daily_quota: 3\n    reach_estimate: 400000\n";

fn settings(config: &str) -> Settings {
    let file: Arc<Path> = Arc::from(Path::new("crier.yaml"));
    crate::spec::config::parse(config, Path::new("/repo/crier.yaml"), &file)
        .0
        .unwrap()
}

fn campaigns(texts: &[&str]) -> Vec<Campaign> {
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let file: Arc<Path> = Arc::from(Path::new(&format!("c{i}.yaml")).to_path_buf());
            let p = parse_campaign(&file, t);
            assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
            p.campaign.unwrap()
        })
        .collect()
}

fn once(name: &str, at: &str, extra: &str) -> String {
    format!(
        "version: 1\nname: {name}\naudience: {{tags: {{any: [a]}}}}\nschedule: {{at: \"{at}\"}}\n{extra}message:\n  body:\n    - text: hi\n"
    )
}

fn cron(name: &str, expr: &str) -> String {
    format!(
        "version: 1\nname: {name}\naudience: {{all: true}}\nschedule: {{cron: \"{expr}\", grace: 30m}}\nmessage:\n  online_only: true\n  body:\n    - text: hi\n"
    )
}

/// Shanghai wall time.
fn sh(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, mo, d, h, mi, 0)
        .unwrap()
        .to_utc()
}

struct Ledger {
    records: Vec<Record>,
}

impl Ledger {
    fn new() -> Self {
        Self {
            records: vec![Record {
                v: 1,
                seq: 1,
                at: sh(2026, 1, 1, 0, 0),
                body: RecordBody::header(),
            }],
        }
    }

    fn push(&mut self, at: DateTime<Utc>, body: RecordBody) {
        let seq = self.records.len() as u64 + 1;
        self.records.push(Record {
            v: 1,
            seq,
            at,
            body,
        });
    }

    fn occurrence(
        &mut self,
        at: DateTime<Utc>,
        campaign: &str,
        scheduled: DateTime<Utc>,
        state: OccurrenceState,
    ) {
        let key = OccurrenceKey {
            project: "shop".into(),
            sdkappid: 1_400_000_000,
            campaign: campaign.into(),
            scheduled,
        };
        self.push(
            at,
            RecordBody::Occurrence(OccurrenceRecord {
                key,
                app: "prod".into(),
                state,
            }),
        );
    }

    fn sent(&mut self, campaign: &str, scheduled: DateTime<Utc>) {
        let key = OccurrenceKey {
            project: "shop".into(),
            sdkappid: 1_400_000_000,
            campaign: campaign.into(),
            scheduled,
        };
        let intent = OccurrenceState::Intent {
            msg_random: key.base_msg_random(),
            perturbation: None,
            content_hash: "sha256:x".into(),
            request: serde_json::json!({}),
            attempt: 1,
            origin: None,
        };
        self.occurrence(scheduled, campaign, scheduled, intent);
        self.occurrence(
            scheduled,
            campaign,
            scheduled,
            OccurrenceState::Sent {
                task_id: format!("task-{campaign}"),
            },
        );
    }

    fn snapshot(&mut self, at: DateTime<Utc>, s: &Settings, checked: &[Checked<'_>]) {
        let campaigns = checked
            .iter()
            .map(|c| {
                let v = normalize::normalize(c, s);
                (
                    c.name().to_owned(),
                    CampaignSnapshot {
                        hash: normalize::Normalized::of(&v).hash(),
                        campaign: v,
                    },
                )
            })
            .collect();
        self.push(
            at,
            RecordBody::Snapshot(SnapshotRecord {
                project: "shop".into(),
                campaigns,
            }),
        );
    }

    fn fold(&self) -> LedgerSnapshot {
        LedgerSnapshot::fold(&self.records)
    }
}

fn checked<'a>(s: &'a Settings, cs: &'a [Campaign]) -> Vec<Checked<'a>> {
    let names: Vec<_> = cs
        .iter()
        .map(|c| (c.spec.name.0.clone(), Arc::clone(&c.file), c.name_place()))
        .collect();
    let out = crate::validate::validate(s, cs, &[], &names);
    assert!(
        out.diagnostics.iter().all(|d| !d.is_error()),
        "{:?}",
        out.diagnostics
    );
    out.checked
}

fn plan(s: &Settings, checked: &[Checked<'_>], ledger: &LedgerSnapshot, at: DateTime<Utc>) -> Plan {
    build(&Input {
        settings: s,
        checked,
        ledger,
        at,
        horizon: Duration::from_secs(7 * 86_400),
    })
}

fn ids(sends: &[PlannedSend]) -> Vec<String> {
    sends.iter().map(|s| s.id.clone()).collect()
}

#[test]
fn first_apply_lists_due_and_upcoming_and_creates_everything() {
    let s = settings(CONFIG);
    let cs = campaigns(&[
        &once("sale", "2026-12-01T10:00:00", ""),
        &cron("daily", "0 9 * * *"),
    ]);
    let ch = checked(&s, &cs);
    let p = plan(&s, &ch, &Ledger::new().fold(), sh(2026, 12, 1, 10, 5));
    assert_eq!(ids(&p.due), ["shop/1400000000/sale@2026-12-01T02:00:00Z"]);
    assert_eq!(p.due[0].deadline, sh(2026, 12, 1, 10, 15));
    assert_eq!(p.upcoming.len(), 7, "daily at 09:00 for the next 7 days");
    assert!(p.changes.first_apply);
    assert_eq!(p.changes.created.len(), 2);
    assert!(
        p.missed.is_empty(),
        "a new cron campaign has no history of misses"
    );
    assert!(p.has_pending_work());
    let key = &p.due[0].key;
    assert_eq!(p.due[0].msg_random, key.base_msg_random());
    assert!(
        p.due[0]
            .body
            .starts_with(&format!("{{\"MsgRandom\":{},", key.base_msg_random()))
    );
}

#[test]
fn sent_occurrences_are_settled_and_an_unchanged_set_has_nothing_to_do() {
    let s = settings(CONFIG);
    let cs = campaigns(&[&once("sale", "2026-12-01T10:00:00", "")]);
    let ch = checked(&s, &cs);
    let mut l = Ledger::new();
    l.snapshot(sh(2026, 11, 30, 0, 0), &s, &ch);
    l.sent("sale", sh(2026, 12, 1, 10, 0));
    let p = plan(&s, &ch, &l.fold(), sh(2026, 12, 1, 10, 5));
    assert!(p.due.is_empty());
    assert_eq!(p.changes.unchanged, 1);
    assert!(!p.has_pending_work());
    assert_eq!(p.quota[0].used, 1, "{:?}", p.quota);
}

#[test]
fn missed_only_after_the_first_applied_snapshot() {
    let s = settings(CONFIG);
    let cs = campaigns(&[&cron("daily", "0 9 * * *")]);
    let ch = checked(&s, &cs);
    let mut l = Ledger::new();
    l.snapshot(sh(2026, 12, 1, 12, 0), &s, &ch);
    let p = plan(&s, &ch, &l.fold(), sh(2026, 12, 4, 12, 0));
    let missed: Vec<_> = p.missed.iter().map(|m| m.key.scheduled).collect();
    assert_eq!(
        missed,
        [
            sh(2026, 12, 2, 9, 0),
            sh(2026, 12, 3, 9, 0),
            sh(2026, 12, 4, 9, 0)
        ]
    );
    assert!(p.has_pending_work());
}

#[test]
fn in_doubt_and_deferred_occurrences() {
    let s = settings(CONFIG);
    let cs = campaigns(&[&once("sale", "2026-12-01T10:00:00", "")]);
    let ch = checked(&s, &cs);
    let mut l = Ledger::new();
    let t = sh(2026, 12, 1, 10, 0);
    let key = OccurrenceKey {
        project: "shop".into(),
        sdkappid: 1_400_000_000,
        campaign: "sale".into(),
        scheduled: t,
    };
    let intent = OccurrenceState::Intent {
        msg_random: 7,
        perturbation: None,
        content_hash: "h".into(),
        request: serde_json::json!({}),
        attempt: 1,
        origin: None,
    };
    l.occurrence(t, "sale", t, intent.clone());
    l.occurrence(
        t,
        "sale",
        t,
        OccurrenceState::InDoubt {
            reason: "timeout".into(),
        },
    );
    let p = plan(&s, &ch, &l.fold(), sh(2026, 12, 1, 10, 5));
    assert!(p.due.is_empty(), "an in-doubt send is never due by itself");
    assert_eq!(p.in_doubt.len(), 1);
    assert_eq!(p.in_doubt[0].id, key.id());
    assert_eq!(p.in_doubt[0].msg_random, Some(7));
    assert!(
        p.in_doubt[0]
            .options
            .iter()
            .any(|o| o.contains("--retry-in-doubt"))
    );
    assert!(p.has_pending_work());

    // The provider answered 90047: held until the next quota day, not retried on this one.
    let mut l = Ledger::new();
    l.occurrence(t, "sale", t, intent.clone());
    l.occurrence(
        t,
        "sale",
        t,
        OccurrenceState::Deferred {
            quota_day: t.date_naive(),
        },
    );
    let p = plan(&s, &ch, &l.fold(), sh(2026, 12, 1, 10, 5));
    assert!(
        p.due.is_empty(),
        "a provider deferral waits for the next quota day"
    );
    assert_eq!(p.held.len(), 1);
    assert_eq!(p.held[0].state, "deferred");
    assert!(
        p.held[0].reason.contains("next quota day"),
        "{}",
        p.held[0].reason
    );

    // A deferral from an earlier quota day that is still within grace is due again.
    let mut l = Ledger::new();
    l.occurrence(t, "sale", t, intent);
    l.occurrence(
        t,
        "sale",
        t,
        OccurrenceState::Deferred {
            quota_day: t.date_naive() - chrono::Duration::days(1),
        },
    );
    let p = plan(&s, &ch, &l.fold(), sh(2026, 12, 1, 10, 5));
    assert_eq!(
        p.due.len(),
        1,
        "deferred to an earlier day is due again within grace"
    );
    assert_eq!(p.due[0].previous_attempts, 1);
    assert_eq!(
        p.due[0].msg_random, 7,
        "a retry reuses the recorded MsgRandom"
    );
}

#[test]
fn quota_forecast_names_the_deferred_occurrences() {
    let s = settings(CONFIG);
    let names = ["a", "b", "c", "d"];
    let texts: Vec<String> = names
        .iter()
        .map(|n| once(n, "2026-12-01T10:00:00", ""))
        .collect();
    let cs = campaigns(&texts.iter().map(String::as_str).collect::<Vec<_>>());
    let ch = checked(&s, &cs);
    let mut l = Ledger::new();
    l.sent("earlier", sh(2026, 12, 1, 8, 0));
    let p = plan(&s, &ch, &l.fold(), sh(2026, 12, 1, 10, 1));
    assert_eq!(p.due.len(), 4);
    let over: Vec<&str> = p
        .due
        .iter()
        .filter(|s| s.over_quota)
        .map(|s| s.campaign.as_str())
        .collect();
    assert_eq!(over, ["c", "d"], "daily_quota 3 with 1 used: two fit");
    let day = p
        .quota
        .iter()
        .find(|q| q.day == chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap())
        .unwrap();
    assert_eq!((day.used, day.planned, day.deferred.len()), (1, 4, 2));
    assert!(
        p.warnings.iter().any(|w| w.kind == "interval-conflict"),
        "four pushes at one instant are serialised"
    );
}

#[test]
fn description_only_changes_do_not_affect_sends() {
    let s = settings(CONFIG);
    let old = campaigns(&[&once("sale", "2026-12-20T10:00:00", "")]);
    let new = campaigns(&[&once(
        "sale",
        "2026-12-20T10:00:00",
        "description: better words\n",
    )]);
    let mut l = Ledger::new();
    l.snapshot(sh(2026, 11, 30, 0, 0), &s, &checked(&s, &old));
    let ch = checked(&s, &new);
    let p = plan(&s, &ch, &l.fold(), sh(2026, 12, 1, 0, 0));
    assert_eq!(p.changes.updated.len(), 1);
    assert_eq!(p.changes.updated[0].fields[0].path, "description");
    assert!(p.changes.updated[0].no_effect.is_some());
    assert!(!p.has_pending_work(), "exit 0: only a description changed");
}

#[test]
fn editing_a_sent_one_off_has_no_effect_but_moving_it_sends_again() {
    let s = settings(CONFIG);
    let old = campaigns(&[&once("sale", "2026-12-01T10:00:00", "")]);
    let mut l = Ledger::new();
    l.snapshot(sh(2026, 11, 30, 0, 0), &s, &checked(&s, &old));
    l.sent("sale", sh(2026, 12, 1, 10, 0));

    let edited =
        campaigns(&[&once("sale", "2026-12-01T10:00:00", "").replace("text: hi", "text: hello")]);
    let ch = checked(&s, &edited);
    let p = plan(&s, &ch, &l.fold(), sh(2026, 12, 1, 12, 0));
    let u = &p.changes.updated[0];
    assert_eq!(
        u.no_effect.as_deref(),
        Some("no effect: already sent (TaskId task-sale)")
    );
    assert!(
        u.request
            .iter()
            .any(|f| f.path == "MsgBody[0].MsgContent.Text"),
        "{:?}",
        u.request
    );

    let moved = campaigns(&[&once("sale", "2026-12-02T10:00:00", "")]);
    let ch = checked(&s, &moved);
    let p = plan(&s, &ch, &l.fold(), sh(2026, 12, 1, 12, 0));
    let u = &p.changes.updated[0];
    assert!(
        u.sends_again
            .as_deref()
            .unwrap()
            .starts_with("WILL SEND AGAIN: sale was already sent at 2026-12-01T10:00:00+08:00"),
        "{u:?}"
    );
    assert!(p.warnings.iter().any(|w| w.kind == "will-send-again"));
    assert!(p.has_pending_work());
}

#[test]
fn renaming_a_sent_one_off_sends_again() {
    let s = settings(CONFIG);
    let old = campaigns(&[&once("sale", "2026-12-01T10:00:00", "")]);
    let mut l = Ledger::new();
    l.snapshot(sh(2026, 11, 30, 0, 0), &s, &checked(&s, &old));
    l.sent("sale", sh(2026, 12, 1, 10, 0));
    let renamed = campaigns(&[&once("sale-v2", "2026-12-01T10:00:00", "")]);
    let ch = checked(&s, &renamed);
    let p = plan(&s, &ch, &l.fold(), sh(2026, 12, 1, 10, 5));
    assert_eq!(p.changes.deleted[0].campaign, "sale");
    let c = &p.changes.created[0];
    assert_eq!(c.fields[0].path, "name");
    assert!(
        c.sends_again
            .as_deref()
            .unwrap()
            .contains("WILL SEND AGAIN"),
        "{c:?}"
    );
    assert_eq!(
        p.due.len(),
        1,
        "the renamed campaign is a new occurrence, due now"
    );
}

#[test]
fn deleting_a_cron_campaign_lists_the_dropped_occurrences() {
    let s = settings(CONFIG);
    let old = campaigns(&[&cron("daily", "0 9 * * *")]);
    let mut l = Ledger::new();
    l.snapshot(sh(2026, 11, 30, 0, 0), &s, &checked(&s, &old));
    let p = plan(&s, &[], &l.fold(), sh(2026, 12, 1, 0, 0));
    assert_eq!(p.changes.deleted.len(), 1);
    assert_eq!(p.changes.deleted[0].dropped.len(), 7);
    assert_eq!(p.changes.deleted[0].dropped[0], "2026-12-01T09:00:00+08:00");
    assert!(p.has_pending_work());
}

#[test]
fn widened_audiences_and_fan_out_are_warned() {
    let s = settings(CONFIG);
    let old = campaigns(&[&once("sale", "2026-12-20T10:00:00", "")]);
    let mut l = Ledger::new();
    l.snapshot(sh(2026, 11, 30, 0, 0), &s, &checked(&s, &old));
    let wide = campaigns(&[&once("sale", "2026-12-20T10:00:00", "")
        .replace("audience: {tags: {any: [a]}}", "audience: {all: true}")]);
    let ch = checked(&s, &wide);
    let p = plan(&s, &ch, &l.fold(), sh(2026, 12, 19, 0, 0));
    let kinds: Vec<&str> = p.warnings.iter().map(|w| w.kind.as_str()).collect();
    assert!(kinds.contains(&"audience-widened"), "{kinds:?}");
    let fan = p.warnings.iter().find(|w| w.kind == "fan-out").unwrap();
    assert!(fan.message.contains("about 33m20s"), "{}", fan.message);
}

#[test]
fn paused_campaigns_are_skipped_not_sent() {
    let s = settings(CONFIG);
    let cs = campaigns(&[&once("sale", "2026-12-01T10:00:00", "paused: true\n")]);
    let ch = checked(&s, &cs);
    let p = plan(&s, &ch, &Ledger::new().fold(), sh(2026, 12, 1, 10, 5));
    assert!(p.due.is_empty());
    assert_eq!(p.skipped.len(), 1);
    assert_eq!(p.skipped[0].why, "campaign paused");
}

#[test]
fn the_same_inputs_give_the_same_plan() {
    let s = settings(CONFIG);
    let cs = campaigns(&[
        &once("sale", "2026-12-01T10:00:00", ""),
        &cron("daily", "0 9 * * *"),
    ]);
    let ch = checked(&s, &cs);
    let l = Ledger::new().fold();
    let a = format::json(&plan(&s, &ch, &l, sh(2026, 12, 1, 10, 5)));
    let b = format::json(&plan(&s, &ch, &l, sh(2026, 12, 1, 10, 5)));
    assert_eq!(a, b);
}

#[test]
fn an_operator_not_sent_decision_makes_it_due_again_within_grace() {
    let s = settings(CONFIG);
    let cs = campaigns(&[&once("sale", "2026-12-01T10:00:00", "")]);
    let ch = checked(&s, &cs);
    let mut l = Ledger::new();
    let t = sh(2026, 12, 1, 10, 0);
    let intent = OccurrenceState::Intent {
        msg_random: 9,
        perturbation: None,
        content_hash: "h".into(),
        request: serde_json::json!({}),
        attempt: 1,
        origin: None,
    };
    l.occurrence(t, "sale", t, intent);
    l.occurrence(
        t,
        "sale",
        t,
        OccurrenceState::InDoubt {
            reason: "timeout".into(),
        },
    );
    l.occurrence(
        t,
        "sale",
        t,
        OccurrenceState::ResolvedNotSent {
            by: "ops".into(),
            note: None,
        },
    );
    let p = plan(&s, &ch, &l.fold(), sh(2026, 12, 1, 10, 5));
    assert_eq!(p.due.len(), 1);
    assert_eq!(p.due[0].msg_random, 9, "same MsgRandom");
    assert!(p.in_doubt.is_empty());
}

#[test]
fn dst_past_one_offs_big_bodies_and_short_intervals_are_warned() {
    let s = settings(&CONFIG.replace(
        "    daily_quota: 3\n",
        "    daily_quota: 3\n    min_interval: 200ms\n",
    ));
    let big = format!("text: \"{}\"", "b".repeat(9_500));
    let cs = campaigns(&[
        &once("late", "2026-12-01T08:00:00", ""),
        &once("soon", "2026-12-01T09:00:00", ""),
        &cron("nyc", "30 2 * * *")
            .replace("grace: 30m}", "grace: 30m, timezone: America/New_York}"),
        &once("big", "2026-12-02T10:00:00", "").replace("text: hi", &big),
    ]);
    let ch = checked(&s, &cs);
    let p = build(&Input {
        settings: &s,
        checked: &ch,
        ledger: &Ledger::new().fold(),
        at: sh(2026, 12, 1, 9, 5),
        horizon: Duration::from_secs(200 * 86_400),
    });
    let kinds: std::collections::BTreeSet<&str> =
        p.warnings.iter().map(|w| w.kind.as_str()).collect();
    for k in [
        "at-in-past",
        "dst",
        "body-near-limit",
        "short-interval",
        "short-grace",
    ] {
        assert!(kinds.contains(k), "{k} missing from {kinds:?}");
    }
    let past: Vec<_> = p
        .warnings
        .iter()
        .filter(|w| w.kind == "at-in-past")
        .map(|w| w.campaign.as_deref())
        .collect();
    assert_eq!(past, [Some("late")], "a one-off within grace is simply due");
    let dst = p.warnings.iter().find(|w| w.kind == "dst").unwrap();
    assert!(
        dst.message.contains("2027-03-14") && dst.message.contains("DST gap"),
        "{}",
        dst.message
    );
}

#[test]
fn reordering_ext_keys_changes_the_sent_request() {
    let s = settings(CONFIG);
    let with_ext = |ext: &str| {
        once("sale", "2026-12-20T10:00:00", "").replace(
            "message:\n",
            &format!("message:\n  offline_push: {{ext: {ext}}}\n"),
        )
    };
    let old = campaigns(&[&with_ext("{a: \"1\", b: \"2\"}")]);
    let mut l = Ledger::new();
    l.snapshot(sh(2026, 11, 30, 0, 0), &s, &checked(&s, &old));
    let new = campaigns(&[&with_ext("{b: \"2\", a: \"1\"}")]);
    let ch = checked(&s, &new);
    let p = plan(&s, &ch, &l.fold(), sh(2026, 12, 1, 0, 0));
    let u = &p.changes.updated[0];
    assert!(u.no_effect.is_none(), "{u:?}");
    assert!(
        u.request.iter().any(|f| f.path == "OfflinePushInfo.Ext"),
        "{u:?}"
    );
    assert!(p.has_pending_work());
}

#[test]
fn paused_campaigns_skip_past_occurrences_and_say_what_they_will_skip() {
    let s = settings(CONFIG);
    let cs =
        campaigns(&[&cron("daily", "0 9 * * *").replace("message:", "paused: true\nmessage:")]);
    let ch = checked(&s, &cs);
    let mut l = Ledger::new();
    l.snapshot(sh(2026, 12, 1, 12, 0), &s, &ch);
    let p = plan(&s, &ch, &l.fold(), sh(2026, 12, 3, 12, 0));
    assert!(
        p.missed.is_empty(),
        "paused at its time is skipped, not missed"
    );
    assert_eq!(p.skipped.len(), 2);
    let w = p.warnings.iter().find(|w| w.kind == "paused").unwrap();
    assert!(
        w.message
            .contains("7 occurrences within the horizon will be skipped"),
        "{}",
        w.message
    );
}

#[test]
fn the_walk_back_stops_at_the_last_successful_apply() {
    let s = settings(CONFIG);
    let old = campaigns(&[&cron("daily", "0 9 * * MON")]);
    let mut l = Ledger::new();
    l.snapshot(sh(2026, 11, 1, 12, 0), &s, &checked(&s, &old));
    // A later successful apply (a new snapshot); then the cron becomes daily.
    l.snapshot(sh(2026, 12, 3, 12, 0), &s, &checked(&s, &old));
    let daily = campaigns(&[&cron("daily", "0 9 * * *")]);
    let ch = checked(&s, &daily);
    let p = plan(&s, &ch, &l.fold(), sh(2026, 12, 5, 12, 0));
    let missed: Vec<_> = p.missed.iter().map(|m| m.key.scheduled).collect();
    assert_eq!(
        missed,
        [sh(2026, 12, 4, 9, 0), sh(2026, 12, 5, 9, 0)],
        "not every day since November"
    );
}

#[test]
fn markdown_fences_cannot_be_closed_by_a_body() {
    let s = settings(CONFIG);
    let cs = campaigns(&[&once("ticks", "2026-12-01T10:00:00", "")
        .replace("text: hi", "text: \"```\\n# not a heading\"")]);
    let ch = checked(&s, &cs);
    let p = plan(&s, &ch, &Ledger::new().fold(), sh(2026, 12, 1, 10, 5));
    let md = format::markdown(&p);
    assert!(md.contains("````json\n"), "{md}");
}

#[test]
fn a_plan_from_documents_that_kept_only_their_message_is_the_same_plan() {
    let s = settings(CONFIG);
    let texts = [
        once("sale", "2026-12-01T10:00:00", "description: d\n"),
        cron("daily", "0 9 * * *"),
        "version: 1\nname: tmpl\naudience: {tags: {all: [gold]}}\nschedule: {cron: \"0 12 * * *\"}\nvars: {pct: 10}\nmessage:\n  body:\n    - text: \"{{ pct }}% on {{ occurrence.weekday }}\"\n  offline_push: {title: \"Sale {{ occurrence.date }}\", ext: {b: 1, a: \"{{ campaign.name }}\"}}\n".to_owned(),
    ];
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let at = sh(2026, 12, 1, 10, 5);
    let ledger = Ledger::new().fold();
    let mut cs = campaigns(&texts);
    let whole = plan(&s, &checked(&s, &cs), &ledger, at);

    let ch = checked(&s, &cs);
    let normalized = normalize_all(&ch, &s);
    let detached: Vec<crate::validate::Detached> = ch.into_iter().map(|c| c.detach(&cs)).collect();
    let messages: Vec<serde_json::Value> = cs.iter().map(|c| c.message_source().clone()).collect();
    for c in &mut cs {
        c.keep_only_message();
    }
    for (c, message) in cs.iter().zip(&messages) {
        assert_eq!(c.message_source(), message, "the message stays as it was");
        assert_eq!(c.doc.value.as_object().map(serde_json::Map::len), Some(1));
    }
    let ch: Vec<Checked<'_>> = detached.into_iter().map(|d| d.attach(&cs, &s)).collect();
    assert_eq!(
        ch.iter().map(Checked::name).collect::<Vec<_>>(),
        ["sale", "daily", "tmpl"]
    );
    let lean = build_with(
        &Input {
            settings: &s,
            checked: &ch,
            ledger: &ledger,
            at,
            horizon: Duration::from_secs(7 * 86_400),
        },
        normalized,
    );
    assert_eq!(lean, whole);
    assert!(whole.upcoming.iter().any(|u| u.campaign == "tmpl"));
}

#[test]
#[should_panic(expected = "detached from the set it was checked in")]
fn a_checked_campaign_detaches_only_from_its_own_set() {
    let s = settings(CONFIG);
    let cs = campaigns(&[&cron("daily", "0 9 * * *")]);
    let other = campaigns(&[&cron("daily", "0 9 * * *")]);
    let ch = checked(&s, &cs);
    let _ = ch.into_iter().next().unwrap().detach(&other);
}
