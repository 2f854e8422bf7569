//! `timpush/revoke` (1/s → 90051, 24 h window → 90052, unknown → 90049, twice → 90050) and
//! `timpush/all_member_push_statistics` (1/s → 60007) over the recorded pushes.

use super::checks::{self, Reject, Verdict};
use super::ctx::Ctx;
use super::state::lock;
use crate::api::wire::{Envelope, codes};
use chrono::TimeDelta;
use serde_json::{Value, json};

/// Recalls a recorded push of the app.
///
/// # Errors
/// 90051, 90001, 90049, 90050, 90052, 90053.
pub fn revoke(ctx: &mut Ctx<'_>, body: &[u8]) -> Verdict<Envelope> {
    ctx.rate(
        "revoke",
        crate::api::wire::Api::Revoke.per_second() as usize,
        crate::api::wire::Api::Revoke.rate_limit_code(),
    )?;
    let m = checks::parse_object(body)?;
    let Some(task) = checks::field(&m, "TaskId").and_then(Value::as_str) else {
        return Err(Reject::new(
            codes::RECALL_TASK_NOT_FOUND,
            "TaskId is required",
        ));
    };
    let sdkappid = ctx.app.config.sdkappid;
    let mut log = lock(&ctx.shared.log);
    let Some(push) = log
        .pushes
        .iter_mut()
        .find(|p| p.app == sdkappid && p.task_id == task)
    else {
        return Err(Reject::new(
            codes::RECALL_TASK_NOT_FOUND,
            format!("no push with TaskId {task}"),
        ));
    };
    if push.recalled_at.is_some() {
        return Err(Reject::new(
            codes::RECALL_ALREADY_DONE,
            "the push was already recalled",
        ));
    }
    if ctx.now.signed_duration_since(push.received_at)
        > TimeDelta::hours(crate::api::wire::limits::RECALL_WINDOW_HOURS)
    {
        return Err(Reject::new(
            codes::RECALL_WINDOW_EXCEEDED,
            "the recall window of 24 hours is over",
        ));
    }
    if !checks::field(&m, "OfflinePushInfo").is_some_and(Value::is_object) {
        return Err(Reject::new(
            codes::RECALL_INVALID,
            "OfflinePushInfo is required to recall",
        ));
    }
    push.recalled_at = Some(ctx.now);
    Ok(Envelope::ok())
}

/// Delivery statistics of recorded pushes: per TaskId (at most 5), or overall when none is given.
///
/// # Errors
/// 60007, 90001, 90010, 90018.
pub fn statistics(ctx: &mut Ctx<'_>, body: &[u8]) -> Verdict<Envelope> {
    ctx.rate(
        "statistics",
        crate::api::wire::Api::Statistics.per_second() as usize,
        crate::api::wire::Api::Statistics.rate_limit_code(),
    )?;
    let m = checks::parse_object(body)?;
    let ids: Vec<String> = match checks::field(&m, "TaskID") {
        None => Vec::new(),
        Some(v) => v
            .as_array()
            .and_then(|a| {
                a.iter()
                    .map(|x| x.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| Reject::new(codes::JSON_FORMAT, "TaskID must be an array of strings"))?,
    };
    if ids.len() > crate::api::wire::limits::STATISTICS_MAX_TASKS {
        return Err(Reject::new(
            codes::TOO_MANY_ACCOUNTS,
            "TaskID holds at most 5 ids",
        ));
    }
    let start = checks::field(&m, "StartTime")
        .and_then(Value::as_i64)
        .unwrap_or(i64::MIN);
    let end = checks::field(&m, "EndTime")
        .and_then(Value::as_i64)
        .unwrap_or(i64::MAX);
    let sdkappid = ctx.app.config.sdkappid;
    let log = lock(&ctx.shared.log);
    let in_range = |p: &&super::state::PushRecord| {
        p.app == sdkappid && (start..=end).contains(&p.received_at.timestamp())
    };
    let result = |id: &str, total: u64| {
        json!({"TaskID": id, "TotalCount": total, "SentCount": total, "DeliveredCount": total * 9 / 10,
               "ClickCount": total / 20, "PlatformStatistics": []})
    };
    let results: Vec<Value> = if ids.is_empty() {
        vec![result(
            "",
            log.pushes
                .iter()
                .filter(in_range)
                .map(|p| p.recipients)
                .sum(),
        )]
    } else {
        ids.iter()
            .map(|id| {
                result(
                    id,
                    log.pushes
                        .iter()
                        .filter(in_range)
                        .find(|p| p.task_id == *id)
                        .map_or(0, |p| p.recipients),
                )
            })
            .collect()
    };
    Ok(Envelope::ok().with("Results", results))
}
