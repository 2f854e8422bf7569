//! The context every API handler gets: the app's state (locked), the shared state and the
//! time. Its own module so that the handlers (`attrs`, `recall`) and the router (`service`)
//! depend on it, not on each other.

use super::checks::{Reject, Verdict};
use super::state::{AppState, Shared};
use chrono::{DateTime, Utc};
use std::time::Instant;

/// Context for the API handlers: the app's state (locked), the shared state and the time.
pub struct Ctx<'a> {
    pub shared: &'a Shared,
    pub app: &'a mut AppState,
    pub legacy: bool,
    pub path: &'a str,
    pub now: DateTime<Utc>,
    pub instant: Instant,
}

impl Ctx<'_> {
    /// Applies the API's per-second limit unless rate limits are off.
    pub fn rate(&mut self, key: &'static str, limit: usize, code: u32) -> Verdict<()> {
        if self.shared.rate_limits && !self.app.rate.try_acquire(key, limit, self.instant) {
            return Err(Reject::new(
                code,
                format!("{key}: more than {limit} calls per second"),
            ));
        }
        Ok(())
    }
}
