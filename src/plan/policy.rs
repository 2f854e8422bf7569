//! The policy rules a plan decides (the campaign-only ones are `validate`'s): an audience
//! widened against the last applied version, and all-user pushes per app and quota day; plus
//! the exceptions campaigns claim, so that reviewers see them. A blocking finding holds the
//! sends it is about (never sent; `plan` exits 1).

use std::collections::BTreeMap;

use super::Input;
use super::model::{Held, HeldState, PlannedSend, Warning};
use crate::policy::{
    ALL_USERS, Finding, MAX_ALL_USER_PUSHES_PER_DAY, QUIET_HOURS, WIDENED_AUDIENCE,
};
use crate::spec::campaign::Audience;

/// Judges the plan's sends; holds the due ones a blocking finding is about.
pub fn judge(
    input: &Input<'_>,
    warnings: &[Warning],
    due: &mut Vec<PlannedSend>,
    upcoming: &[PlannedSend],
    held: &mut Vec<Held>,
) -> Vec<Finding> {
    let policy = &input.settings.policy;
    // By name, once: looked up for every campaign and every send.
    let by_name: std::collections::HashMap<&str, _> =
        input.checked.iter().map(|c| (c.name(), c)).collect();
    let exception = |campaign: &str, rule: &str| -> Option<String> {
        by_name
            .get(campaign)
            .and_then(|c| c.campaign.spec.policy_exceptions.as_ref())
            .and_then(|e| e.get(rule).cloned())
    };
    let all_user = |campaign: &str| {
        by_name
            .get(campaign)
            .is_some_and(|c| matches!(c.campaign.spec.audience, Audience::All(_)))
    };
    let mut findings = Vec::new();
    // The exceptions of the rules validate decides, so that the review shows them.
    for c in input.checked {
        for (rule, level) in [
            (ALL_USERS, policy.all_users.filter(|_| all_user(c.name()))),
            (QUIET_HOURS, policy.quiet_hours.map(|q| q.level)),
        ] {
            if let (Some(level), Some(reason)) = (level, exception(c.name(), rule)) {
                findings.push(Finding {
                    rule: rule.to_owned(),
                    level,
                    campaign: c.name().to_owned(),
                    message: match rule {
                        ALL_USERS => "pushes to ALL USERS".to_owned(),
                        _ => format!(
                            "may push in the quiet hours ({})",
                            policy.quiet_hours.map(|q| q.describe()).unwrap_or_default()
                        ),
                    },
                    exception: Some(reason),
                });
            }
        }
    }
    if let Some(level) = policy.widened_audience {
        for w in warnings.iter().filter(|w| w.kind == "audience-widened") {
            let Some(campaign) = &w.campaign else {
                continue;
            };
            findings.push(Finding {
                rule: WIDENED_AUDIENCE.to_owned(),
                level,
                campaign: campaign.clone(),
                message: w.message.clone(),
                exception: exception(campaign, WIDENED_AUDIENCE),
            });
        }
    }
    if let Some((limit, level)) = policy.max_all_user_pushes_per_day {
        for app in input.settings.apps.values() {
            let mut per_day: BTreeMap<chrono::NaiveDate, u32> = BTreeMap::new();
            for (o, at) in input.ledger.accepted_pushes(app.sdkappid) {
                if o.request().is_some_and(|r| r.get("Condition").is_none()) {
                    *per_day
                        .entry(at.with_timezone(&app.quota_timezone).date_naive())
                        .or_default() += 1;
                }
            }
            for send in due
                .iter()
                .chain(upcoming)
                .filter(|s| s.app == app.name && all_user(&s.campaign))
            {
                let n = per_day.entry(send.quota_day).or_default();
                *n += 1;
                if *n > limit {
                    findings.push(Finding {
                        rule: MAX_ALL_USER_PUSHES_PER_DAY.to_owned(),
                        level,
                        campaign: send.campaign.clone(),
                        message: format!(
                            "{} would be all-user push {n} of app {} on quota day {}; the policy allows {limit}",
                            send.id, app.name, send.quota_day
                        ),
                        exception: exception(&send.campaign, MAX_ALL_USER_PUSHES_PER_DAY),
                    });
                }
            }
        }
    }
    // Blocking findings hold their due sends.
    let blocked: Vec<&Finding> = findings.iter().filter(|f| f.blocks()).collect();
    due.retain(|s| {
        let Some(f) = blocked.iter().find(|f| {
            f.campaign == s.campaign
                && (f.rule != MAX_ALL_USER_PUSHES_PER_DAY || f.message.starts_with(&s.id))
        }) else {
            return true;
        };
        held.push(Held {
            id: s.id.clone(),
            app: s.app.clone(),
            campaign: s.campaign.clone(),
            state: HeldState::Policy,
            error_code: None,
            reason: format!(
                "policy {} (deny): {}; not sent unless the campaign has `policy_exceptions: {{{}: \"<why>\"}}`",
                f.rule, f.message, f.rule
            ),
        });
        false
    });
    findings.sort_by(|a, b| (&a.campaign, &a.rule).cmp(&(&b.campaign, &b.rule)));
    findings
}
