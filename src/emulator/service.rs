//! One API call, start to finish, without HTTP: route → faults → query → UserSig and identity →
//! the API's own checks (`push`, `attrs`, `recall`) → counters. Synchronous; the caller applies
//! latency and drops responses.

use super::attrs::AttrApi;
use super::checks::{self, Reject, Verdict};
pub use super::ctx::Ctx;
use super::state::{PushKind, PushRecord, Shared, lock};
use crate::api::usersig;
use crate::api::wire::{Api, Envelope, codes};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::time::{Duration, Instant};

/// How many recipient ids `/emulator/pushes` shows per push.
pub const RECIPIENT_SAMPLE: usize = 20;

/// An API call as received.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub is_post: bool,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub body: &'a [u8],
}

/// What to answer, and how.
#[derive(Debug)]
pub struct Answer {
    pub envelope: Envelope,
    /// Close the connection without answering (the call was processed).
    pub drop_response: bool,
    pub latency: Duration,
}

/// Which handler answers an API: every API has exactly one (no fall-through).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Push,
    Batch,
    Revoke,
    Statistics,
    Attrs(AttrApi),
}

impl Route {
    const fn of(api: Api) -> Self {
        match api {
            Api::Push => Self::Push,
            Api::Batch => Self::Batch,
            Api::Revoke => Self::Revoke,
            Api::Statistics => Self::Statistics,
            Api::SetAttrName => Self::Attrs(AttrApi::SetAttrName),
            Api::GetAttrName => Self::Attrs(AttrApi::GetAttrName),
            Api::SetAttr => Self::Attrs(AttrApi::SetAttr),
            Api::GetAttr => Self::Attrs(AttrApi::GetAttr),
            Api::RemoveAttr => Self::Attrs(AttrApi::RemoveAttr),
            Api::AddTag => Self::Attrs(AttrApi::AddTag),
            Api::GetTag => Self::Attrs(AttrApi::GetTag),
            Api::RemoveTag => Self::Attrs(AttrApi::RemoveTag),
            Api::ClearAllTags => Self::Attrs(AttrApi::ClearAllTags),
        }
    }
}

/// Handles one call.
pub fn handle(shared: &Shared, call: Call<'_>) -> Answer {
    let (fail, drop_response, latency) = roll_faults(shared);
    let result = route(shared, call, fail);
    let envelope = match result {
        Ok(env) => env,
        Err(Injected(r)) => {
            lock(&shared.log).injected_failures += 1;
            return Answer {
                envelope: Envelope::fail(r.code, r.info),
                drop_response: false,
                latency,
            };
        }
    };
    if !envelope.is_ok() {
        *lock(&shared.log)
            .rejected
            .entry(envelope.error_code)
            .or_default() += 1;
    }
    if drop_response {
        lock(&shared.log).dropped_responses += 1;
    }
    Answer {
        envelope,
        drop_response,
        latency,
    }
}

/// An injected failure (not counted as a rejection).
struct Injected(Reject);

fn roll_faults(shared: &Shared) -> (Option<u32>, bool, Duration) {
    let mut f = lock(&shared.faults);
    let s = f.settings;
    let fail = (s.fail_rate > 0.0 && f.rng.f64() < s.fail_rate).then_some(s.fail_code);
    let drop = fail.is_none() && s.drop_response_rate > 0.0 && f.rng.f64() < s.drop_response_rate;
    (fail, drop, Duration::from_millis(s.latency_ms))
}

fn route(shared: &Shared, call: Call<'_>, fail: Option<u32>) -> Result<Envelope, Injected> {
    let Some((api, legacy)) = Api::from_path(call.path) else {
        return Ok(fail_env(Reject::new(
            codes::RESOURCE_ERROR,
            format!("unknown API {}", call.path),
        )));
    };
    if let Some(code) = fail {
        return Err(Injected(Reject::new(code, "injected fault")));
    }
    Ok(match authorised(shared, call, api, legacy) {
        Ok(env) | Err(env) => env,
    })
}

fn fail_env(r: Reject) -> Envelope {
    Envelope::fail(r.code, r.info)
}

fn authorised(
    shared: &Shared,
    call: Call<'_>,
    api: Api,
    legacy: bool,
) -> Result<Envelope, Envelope> {
    if !call.is_post {
        return Err(fail_env(Reject::new(
            codes::HTTP_PARSE_ERROR,
            "only POST is supported",
        )));
    }
    let q = checks::check_query(&checks::parse_query(call.query)).map_err(fail_env)?;
    let Some(app) = shared.apps.get(&q.sdkappid) else {
        return Err(fail_env(Reject::new(
            codes::SDKAPPID_NOT_FOUND,
            format!("SDKAppID {} not found", q.sdkappid),
        )));
    };
    let now = shared.now();
    let mut app = lock(app);
    usersig::verify(
        &q.usersig,
        &q.identifier,
        q.sdkappid,
        app.config.secret_key.expose(),
        now.timestamp(),
    )
    .map_err(|e| fail_env(Reject::new(e.code(), e.to_string())))?;
    if q.identifier != app.config.admin {
        return Err(fail_env(Reject::new(
            codes::ADMIN_REQUIRED,
            "the identifier is not the app admin",
        )));
    }
    let mut ctx = Ctx {
        shared,
        app: &mut app,
        legacy,
        path: call.path.trim_start_matches('/'),
        now,
        instant: Instant::now(),
    };
    let result = match Route::of(api) {
        Route::Push => push(&mut ctx, call.body),
        Route::Batch => batch(&mut ctx, call.body),
        Route::Revoke => super::recall::revoke(&mut ctx, call.body),
        Route::Statistics => super::recall::statistics(&mut ctx, call.body),
        Route::Attrs(a) => super::attrs::handle(&mut ctx, a, call.body),
    };
    result.map_err(fail_env)
}

/// A TaskId in the documented shapes: `{time:x}_{sdkappid:x}_{id:x}_{rand:x}_{MsgRandom:x}` for
/// `timpush/push`, `batch_` + the same for batch, `{sdkappid}_{id}_{MsgRandom}_{rand}` (decimal)
/// for the legacy `im_push`.
#[must_use]
pub fn task_id(
    kind: PushKind,
    legacy: bool,
    sdkappid: u64,
    now: DateTime<Utc>,
    seq: u64,
    rand: u32,
    msg_random: u32,
) -> String {
    let id = 0x0200_0000_0000_0000_u64 + seq;
    if legacy {
        return format!(
            "{sdkappid}_{}_{msg_random}_{rand}",
            144_115_212_910_000_000_u64 + seq
        );
    }
    let prefix = if kind == PushKind::Batch {
        "batch_"
    } else {
        ""
    };
    format!(
        "{prefix}{:x}_{sdkappid:x}_{id:x}_{rand:x}_{msg_random:x}",
        now.timestamp()
    )
}

fn push(ctx: &mut Ctx<'_>, body: &[u8]) -> Verdict<Envelope> {
    let m = checks::parse_object(body)?;
    let msg_random = checks::check_msg_random(&m)?;
    let plugin_variant =
        !ctx.legacy && checks::field(&m, "OfflinePushInfo").is_some_and(Value::is_object);
    checks::check_msg_body(&m, plugin_variant)?;
    let selector = checks::check_condition(&m, &ctx.app.attr_name_list())?;
    checks::check_lifetime(&m)?;
    checks::check_push_fields(&m)?;
    checks::check_size(body)?;
    let window = ctx.shared.dedup_window;
    if let Some(task) = ctx
        .app
        .duplicate_of(PushKind::AllMember, msg_random, ctx.now, window)
    {
        lock(&ctx.shared.log).deduplicated += 1;
        return Ok(Envelope::ok().with("TaskId", task));
    }
    let min_interval = ctx.app.config.min_interval;
    if let Some(last) = ctx.app.last_push
        && ctx.instant.duration_since(last) <= min_interval
    {
        return Err(Reject::new(
            codes::PUSH_TOO_FREQUENT,
            "pushes too frequent: the interval must exceed 1 second",
        ));
    }
    let used = ctx.app.quota_used(ctx.now);
    if used >= ctx.app.config.daily_quota {
        return Err(Reject::new(
            codes::DAILY_QUOTA_EXCEEDED,
            format!(
                "daily push quota of {} exceeded",
                ctx.app.config.daily_quota
            ),
        ));
    }
    let users = ctx.app.users.resolve(&selector);
    let sample = ctx.app.users.sample(&users, RECIPIENT_SAMPLE);
    let task = accept(ctx, PushKind::AllMember, msg_random, m, users.len(), sample);
    ctx.app.last_push = Some(ctx.instant);
    let day = ctx.app.quota_day(ctx.now);
    ctx.app.quota = Some((day, used + 1));
    Ok(Envelope::ok().with("TaskId", task))
}

/// Records an accepted push and returns its TaskId.
fn accept(
    ctx: &mut Ctx<'_>,
    kind: PushKind,
    msg_random: u32,
    body: Map<String, Value>,
    recipients: u64,
    sample: Vec<String>,
) -> String {
    let sdkappid = ctx.app.config.sdkappid;
    let mut log = lock(&ctx.shared.log);
    log.task_seq += 1;
    let rand = u32::try_from(log.task_seq.wrapping_mul(2_654_435_761) & 0xffff_ffff).unwrap_or(0);
    let task = task_id(
        kind,
        ctx.legacy,
        sdkappid,
        ctx.now,
        log.task_seq,
        rand,
        msg_random,
    );
    log.accepted += 1;
    log.pushes.push(PushRecord {
        task_id: task.clone(),
        app: sdkappid,
        path: ctx.path.to_owned(),
        msg_random,
        received_at: ctx.now,
        recipients,
        recipient_sample: sample,
        body: Value::Object(body),
        recalled_at: None,
    });
    drop(log);
    ctx.app
        .remember(kind, msg_random, &task, ctx.now, ctx.shared.dedup_window);
    task
}

use crate::api::wire::limits::BATCH_MAX_ACCOUNTS as MAX_BATCH_ACCOUNTS;

fn batch(ctx: &mut Ctx<'_>, body: &[u8]) -> Verdict<Envelope> {
    ctx.rate(
        "batch",
        crate::api::wire::Api::Batch.per_second() as usize,
        crate::api::wire::Api::Batch.rate_limit_code(),
    )?;
    let m = checks::parse_object(body)?;
    let msg_random = checks::check_msg_random(&m)?;
    if !checks::field(&m, "From_Account").is_some_and(Value::is_string) {
        return Err(Reject::new(codes::JSON_FORMAT, "From_Account is required"));
    }
    let to = checks::account_list(&m, "To_Account", MAX_BATCH_ACCOUNTS)?;
    if !checks::field(&m, "OfflinePushInfo").is_some_and(Value::is_object) {
        return Err(Reject::new(
            codes::JSON_FORMAT,
            "OfflinePushInfo is required",
        ));
    }
    checks::check_data_id(&m)?;
    if let Some(task) = ctx.app.duplicate_of(
        PushKind::Batch,
        msg_random,
        ctx.now,
        ctx.shared.dedup_window,
    ) {
        lock(&ctx.shared.log).deduplicated += 1;
        return Ok(Envelope::ok().with("TaskId", task));
    }
    let mut found = roaring::RoaringBitmap::new();
    let mut errors = Vec::new();
    for id in &to {
        match ctx.app.users.lookup(id) {
            Some(u) => {
                found.insert(u);
            }
            None => errors.push(super::attrs::account_error(id)),
        }
    }
    let sample = ctx.app.users.sample(&found, RECIPIENT_SAMPLE);
    let task = accept(ctx, PushKind::Batch, msg_random, m, found.len(), sample);
    Ok(super::attrs::with_errors(
        Envelope::ok().with("TaskId", task),
        errors,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_have_the_documented_shapes() {
        let now: DateTime<Utc> = "2024-04-03T02:51:51Z".parse().unwrap();
        let t = task_id(
            PushKind::AllMember,
            false,
            1_400_821_802,
            now,
            1,
            0x8403_5729,
            12_345_678,
        );
        assert_eq!(t, "660cc447_537ed82a_200000000000001_84035729_bc614e");
        let b = task_id(PushKind::Batch, false, 1_400_821_802, now, 2, 1, 2);
        assert!(b.starts_with("batch_660cc447_537ed82a_"), "{b}");
        let l = task_id(
            PushKind::AllMember,
            true,
            1_400_123_456,
            now,
            3,
            15_723_514,
            4_155_518_400,
        );
        assert_eq!(l, "1400123456_144115212910000003_4155518400_15723514");
    }
}
