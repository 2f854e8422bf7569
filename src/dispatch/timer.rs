//! Monotonic time and waiting, behind a trait so that tests run paced dispatches instantly;
//! and the cancellation token that Ctrl-C trips.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::clock::ManualClock;

/// A boxed future, so that [`Timer`] stays dyn-compatible.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where the dispatcher reads monotonic time and how it waits (pacing, backoff).
pub trait Timer: Send + Sync {
    /// Monotonic now.
    fn now(&self) -> Instant;
    /// Waits `d`.
    fn sleep(&self, d: Duration) -> BoxFuture<'_, ()>;
    /// A random number in `0.0..1.0` for backoff jitter (fakes return a fixed one).
    fn jitter(&self) -> f64 {
        0.5
    }
}

/// The real thing: [`Instant::now`] and `tokio::time::sleep`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioTimer;

impl Timer for TokioTimer {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one reader of the monotonic clock"
    )]
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, d: Duration) -> BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep(d))
    }

    #[expect(
        clippy::disallowed_methods,
        reason = "backoff jitter: the dispatcher's one randomness"
    )]
    fn jitter(&self) -> f64 {
        fastrand::f64()
    }
}

/// A timer whose sleeps return at once and only move its own time forward (and, when given,
/// a [`ManualClock`] with it, so that grace re-checks see the time pass). For tests.
#[derive(Debug)]
pub struct FakeTimer {
    start: Instant,
    elapsed: Mutex<Duration>,
    sleeps: Mutex<Vec<Duration>>,
    clock: Option<Arc<ManualClock>>,
}

impl FakeTimer {
    #[must_use]
    #[expect(
        clippy::disallowed_methods,
        reason = "a fake timer still needs a real starting instant"
    )]
    pub fn new(clock: Option<Arc<ManualClock>>) -> Self {
        Self {
            start: Instant::now(),
            elapsed: Mutex::new(Duration::ZERO),
            sleeps: Mutex::new(Vec::new()),
            clock,
        }
    }

    /// Every sleep so far, in order.
    #[must_use]
    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Moves time forward without a sleep (the time a request takes).
    pub fn advance(&self, d: Duration) {
        *self.elapsed.lock().unwrap_or_else(PoisonError::into_inner) += d;
        if let Some(clock) = &self.clock {
            clock.advance(chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX));
        }
    }
}

impl Timer for FakeTimer {
    fn now(&self) -> Instant {
        self.start + *self.elapsed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn sleep(&self, d: Duration) -> BoxFuture<'_, ()> {
        self.sleeps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(d);
        self.advance(d);
        Box::pin(std::future::ready(()))
    }
}

/// Asks a running dispatch to stop after the request in flight (Ctrl-C).
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    flag: Arc<AtomicBool>,
    notify: Arc<tokio::sync::Notify>,
}

impl Cancel {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Trips the token; waits in progress end at once.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Resolves once the token is tripped.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }

    /// Sleeps `d` on `timer` unless cancelled first; `false` when cancelled.
    pub async fn sleep(&self, timer: &dyn Timer, d: Duration) -> bool {
        if self.is_cancelled() {
            return false;
        }
        if d.is_zero() {
            return true;
        }
        tokio::select! {
            () = timer.sleep(d) => !self.is_cancelled(),
            () = self.cancelled() => false,
        }
    }
}

/// Keeps one API's documented calls per second ([`crate::api::wire::Api::per_second`]):
/// `ready` waits until the next call may start. Shared by the commands that call the
/// rate-limited APIs (batch, revoke, statistics).
pub struct Pacer<'t> {
    timer: &'t dyn Timer,
    gap: Duration,
    next: Option<Instant>,
}

impl<'t> Pacer<'t> {
    #[must_use]
    pub fn for_api(timer: &'t dyn Timer, api: crate::api::wire::Api) -> Self {
        Self {
            timer,
            gap: Duration::from_secs(1) / api.per_second().max(1),
            next: None,
        }
    }

    /// Waits for the next call's turn, then books the one after it.
    pub async fn ready(&mut self) {
        if let Some(next) = self.next {
            let wait = next.saturating_duration_since(self.timer.now());
            if !wait.is_zero() {
                self.timer.sleep(wait).await;
            }
        }
        self.next = Some(self.timer.now() + self.gap);
    }

    /// After the API answered its rate-limit code: the next call waits a whole gap again.
    pub fn backoff(&mut self) {
        self.next = Some(self.timer.now() + self.gap.max(Duration::from_secs(1)));
    }

    /// Calls `api` through `call` in its turn; on the API's rate-limit code, backs off and tries
    /// again (three calls at most).
    ///
    /// # Errors
    /// The last call's error.
    pub async fn call<F, Fut, T>(
        &mut self,
        api: crate::api::wire::Api,
        mut call: F,
    ) -> Result<T, crate::api::client::CallError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, crate::api::client::CallError>>,
    {
        let mut tries = 0;
        loop {
            self.ready().await;
            tries += 1;
            match call().await {
                Err(crate::api::client::CallError::Api { code, .. })
                    if code == api.rate_limit_code() && tries < 3 =>
                {
                    self.backoff();
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fake_timer_moves_its_time_and_the_clock() {
        let clock = Arc::new(ManualClock::new("2026-12-01T00:00:00Z".parse().unwrap()));
        let t = FakeTimer::new(Some(Arc::clone(&clock)));
        let t0 = t.now();
        t.sleep(Duration::from_millis(1500)).await;
        assert_eq!(t.now() - t0, Duration::from_millis(1500));
        assert_eq!(
            crate::clock::Clock::now(&*clock),
            "2026-12-01T00:00:01.500Z"
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap()
        );
        assert_eq!(t.sleeps(), [Duration::from_millis(1500)]);
    }

    #[tokio::test]
    async fn cancel_ends_a_real_wait_early() {
        let c = Cancel::new();
        let c2 = c.clone();
        let start = Instant::now();
        let canceller = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            c2.cancel();
        });
        assert!(!c.sleep(&TokioTimer, Duration::from_secs(30)).await);
        assert!(start.elapsed() < Duration::from_secs(5));
        canceller.await.unwrap();
        assert!(
            !c.sleep(&TokioTimer, Duration::ZERO).await,
            "stays cancelled"
        );
        assert!(
            Cancel::new()
                .sleep(&TokioTimer, Duration::from_millis(1))
                .await
        );
    }

    #[tokio::test]
    async fn a_pacer_keeps_the_apis_rate() {
        let timer = FakeTimer::new(None);
        let mut p = Pacer::for_api(&timer, crate::api::wire::Api::Revoke);
        p.ready().await;
        p.ready().await;
        p.ready().await;
        assert_eq!(
            timer.sleeps(),
            [Duration::from_secs(1), Duration::from_secs(1)]
        );
        let mut b = Pacer::for_api(&timer, crate::api::wire::Api::Batch);
        b.ready().await;
        b.ready().await;
        assert_eq!(timer.sleeps().last(), Some(&(Duration::from_secs(1) / 30)));
    }
}
