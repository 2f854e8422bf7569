//! The emulator's state: per-app state (attribute names, users, interval timer, quota,
//! deduplication, rate windows) behind one lock per app, and the push log with its counters.

use super::config::{AppConfig, EmulatorConfig, FaultSettings, UserSeed};
use super::users::UserStore;
use crate::clock::Clock;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Locks a mutex, ignoring poisoning (state stays usable after a panicking handler).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Which deduplication history a MsgRandom belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushKind {
    AllMember,
    Batch,
}

/// Calls per sliding second, per API.
#[derive(Debug, Default)]
pub struct RateWindows(HashMap<&'static str, VecDeque<Instant>>);

impl RateWindows {
    /// Admits a call when fewer than `limit` were admitted in the last second.
    pub fn try_acquire(&mut self, key: &'static str, limit: usize, now: Instant) -> bool {
        let q = self.0.entry(key).or_default();
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            q.pop_front();
        }
        if q.len() >= limit {
            return false;
        }
        q.push_back(now);
        true
    }
}

/// One app's mutable state.
#[derive(Debug)]
pub struct AppState {
    pub config: AppConfig,
    /// Attribute names by index "0".."9".
    pub attr_names: [Option<String>; 10],
    pub users: UserStore,
    /// Monotonic time of the last accepted all-member push (for 90024).
    pub last_push: Option<Instant>,
    /// (quota day, pushes accepted that day).
    pub quota: Option<(NaiveDate, u32)>,
    /// (kind, MsgRandom) → (TaskId, first accepted at).
    pub dedup: HashMap<(PushKind, u32), (String, DateTime<Utc>)>,
    pub rate: RateWindows,
}

impl AppState {
    fn new(mut config: AppConfig) -> Self {
        let users = match std::mem::take(&mut config.users) {
            UserSeed::Empty => UserStore::new(),
            UserSeed::Records(r) => UserStore::from_records(&r),
            UserSeed::Generate { count, seed } => {
                UserStore::generate(count, seed, &config.attr_names)
            }
        };
        let mut attr_names: [Option<String>; 10] = Default::default();
        for (slot, name) in attr_names.iter_mut().zip(&config.attr_names) {
            *slot = Some(name.clone());
        }
        Self {
            config,
            attr_names,
            users,
            last_push: None,
            quota: None,
            dedup: HashMap::new(),
            rate: RateWindows::default(),
        }
    }

    /// The app's attribute names, in index order.
    #[must_use]
    pub fn attr_name_list(&self) -> Vec<String> {
        self.attr_names.iter().flatten().cloned().collect()
    }

    /// The quota day (midnight to midnight in the app's quota timezone) of an instant.
    #[must_use]
    pub fn quota_day(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.config.quota_timezone).date_naive()
    }

    /// Pushes accepted on the quota day of `now`.
    #[must_use]
    pub fn quota_used(&self, now: DateTime<Utc>) -> u32 {
        match self.quota {
            Some((day, n)) if day == self.quota_day(now) => n,
            _ => 0,
        }
    }

    /// The TaskId of an earlier push with this MsgRandom inside the window, if any.
    #[must_use]
    pub fn duplicate_of(
        &self,
        kind: PushKind,
        msg_random: u32,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Option<String> {
        let window = TimeDelta::from_std(window).unwrap_or(TimeDelta::MAX);
        self.dedup
            .get(&(kind, msg_random))
            .filter(|(_, at)| now.signed_duration_since(*at) < window)
            .map(|(task, _)| task.clone())
    }

    /// Remembers an accepted push for deduplication and forgets entries older than the window.
    pub fn remember(
        &mut self,
        kind: PushKind,
        msg_random: u32,
        task_id: &str,
        now: DateTime<Utc>,
        window: Duration,
    ) {
        let window = TimeDelta::from_std(window).unwrap_or(TimeDelta::MAX);
        self.dedup
            .retain(|_, (_, at)| now.signed_duration_since(*at) < window);
        self.dedup
            .insert((kind, msg_random), (task_id.to_owned(), now));
    }

    fn reset(&mut self) {
        self.last_push = None;
        self.quota = None;
        self.dedup.clear();
        self.rate = RateWindows::default();
    }
}

/// One accepted push, as `/emulator/pushes` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PushRecord {
    pub task_id: String,
    pub app: u64,
    pub path: String,
    pub msg_random: u32,
    #[serde(serialize_with = "rfc3339_ms")]
    pub received_at: DateTime<Utc>,
    pub recipients: u64,
    pub recipient_sample: Vec<String>,
    pub body: Value,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "opt_rfc3339_ms"
    )]
    pub recalled_at: Option<DateTime<Utc>>,
}

fn rfc3339_ms<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

#[expect(clippy::ref_option, reason = "serde's serialize_with passes &Option")]
fn opt_rfc3339_ms<S: serde::Serializer>(
    t: &Option<DateTime<Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => rfc3339_ms(t, s),
        None => s.serialize_none(),
    }
}

/// Pushes and counters (cleared by `/emulator/reset`).
#[derive(Debug, Default)]
pub struct Log {
    pub pushes: Vec<PushRecord>,
    pub accepted: u64,
    pub deduplicated: u64,
    pub rejected: BTreeMap<u32, u64>,
    pub injected_failures: u64,
    pub dropped_responses: u64,
    /// Sequence for TaskIds; never reset, so TaskIds stay unique.
    pub task_seq: u64,
}

/// `/emulator/stats`.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Stats {
    pub accepted: u64,
    pub deduplicated: u64,
    pub rejected: BTreeMap<String, u64>,
    pub quota_used: BTreeMap<String, u32>,
    pub injected_failures: u64,
    pub dropped_responses: u64,
}

/// Current fault settings with their dice.
#[derive(Debug)]
pub struct FaultState {
    pub settings: FaultSettings,
    pub rng: fastrand::Rng,
}

/// Everything the handlers share.
pub struct Shared {
    pub apps: BTreeMap<u64, Mutex<AppState>>,
    pub log: Mutex<Log>,
    pub faults: Mutex<FaultState>,
    pub dedup_window: Duration,
    pub rate_limits: bool,
    clock: Arc<dyn Clock>,
    offset_seconds: AtomicI64,
}

impl Shared {
    /// Builds the state, seeding every app's users.
    #[must_use]
    pub fn new(config: &EmulatorConfig) -> Self {
        Self {
            apps: config
                .apps
                .iter()
                .map(|a| (a.sdkappid, Mutex::new(AppState::new(a.clone()))))
                .collect(),
            log: Mutex::new(Log::default()),
            faults: Mutex::new(FaultState {
                settings: config.faults,
                rng: fastrand::Rng::with_seed(config.fault_seed),
            }),
            dedup_window: config.dedup_window,
            rate_limits: config.rate_limits,
            clock: Arc::clone(&config.clock),
            offset_seconds: AtomicI64::new(0),
        }
    }

    /// The emulator clock: the base clock plus the `/emulator/clock` offset.
    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now() + TimeDelta::seconds(self.offset_seconds.load(Ordering::Relaxed))
    }

    pub fn set_offset_seconds(&self, offset: i64) {
        self.offset_seconds.store(offset, Ordering::Relaxed);
    }

    #[must_use]
    pub fn offset_seconds(&self) -> i64 {
        self.offset_seconds.load(Ordering::Relaxed)
    }

    /// Clears pushes, counters, quota, interval timers, rate windows and deduplication history.
    pub fn reset(&self) {
        for app in self.apps.values() {
            lock(app).reset();
        }
        let mut log = lock(&self.log);
        let seq = log.task_seq;
        *log = Log {
            task_seq: seq,
            ..Log::default()
        };
    }

    #[must_use]
    pub fn stats(&self) -> Stats {
        let now = self.now();
        let quota_used = self
            .apps
            .iter()
            .map(|(id, app)| (id.to_string(), lock(app).quota_used(now)))
            .collect();
        let log = lock(&self.log);
        Stats {
            accepted: log.accepted,
            deduplicated: log.deduplicated,
            rejected: log
                .rejected
                .iter()
                .map(|(c, n)| (c.to_string(), *n))
                .collect(),
            quota_used,
            injected_failures: log.injected_failures,
            dropped_responses: log.dropped_responses,
        }
    }

    #[must_use]
    pub fn pushes(&self) -> Vec<PushRecord> {
        lock(&self.log).pushes.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn shared() -> (Shared, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new("2026-01-01T15:59:00Z".parse().unwrap()));
        let mut cfg = EmulatorConfig::new(vec![AppConfig::new(1, "admin", "k")]);
        cfg.clock = clock.clone();
        (Shared::new(&cfg), clock)
    }

    #[test]
    fn rate_window_admits_limit_per_second() {
        let mut r = RateWindows::default();
        let t = Instant::now();
        assert!(r.try_acquire("a", 2, t));
        assert!(r.try_acquire("a", 2, t));
        assert!(!r.try_acquire("a", 2, t + Duration::from_millis(999)));
        assert!(r.try_acquire("b", 2, t));
        assert!(r.try_acquire("a", 2, t + Duration::from_secs(1)));
    }

    #[test]
    fn quota_day_follows_the_timezone_and_the_offset() {
        let (s, clock) = shared();
        let mut app = lock(&s.apps[&1]);
        let now = s.now();
        app.quota = Some((app.quota_day(now), 3));
        assert_eq!(app.quota_used(now), 3);
        // 15:59 UTC is 23:59 in Shanghai; two minutes later is the next quota day.
        clock.advance(TimeDelta::minutes(2));
        assert_eq!(app.quota_used(s.now()), 0);
        drop(app);
        s.set_offset_seconds(-120);
        assert_eq!(lock(&s.apps[&1]).quota_used(s.now()), 3);
    }

    #[test]
    fn dedup_window_and_reset() {
        let (s, _) = shared();
        let now = s.now();
        let w = Duration::from_secs(1);
        let mut app = lock(&s.apps[&1]);
        app.remember(PushKind::AllMember, 7, "t1", now, w);
        assert_eq!(
            app.duplicate_of(
                PushKind::AllMember,
                7,
                now + TimeDelta::milliseconds(999),
                w
            )
            .as_deref(),
            Some("t1")
        );
        assert_eq!(
            app.duplicate_of(PushKind::AllMember, 7, now + TimeDelta::seconds(1), w),
            None
        );
        assert_eq!(app.duplicate_of(PushKind::Batch, 7, now, w), None);
        drop(app);
        lock(&s.log).task_seq = 5;
        s.reset();
        assert!(lock(&s.apps[&1]).dedup.is_empty());
        assert_eq!(lock(&s.log).task_seq, 5);
    }
}
