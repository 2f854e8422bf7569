//! The error-class table (campaign-format §4 "Error classes") and the retry policy values.
//!
//! Pure: no I/O, no clock, no randomness of its own. The dispatcher owns the loop; this module
//! only says what a provider error code means for it and how long to wait.

use std::time::Duration;

/// What the dispatcher should do after the provider answered with a non-zero `ErrorCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Transient (rate limits, server timeouts): retry with exponential backoff.
    Retry,
    /// The UserSig expired or was invalidated: sign a new one, then retry once.
    ResignThenRetry,
    /// Too many UserSig failures: wait [`WAIT_A_MINUTE`], then retry.
    WaitMinuteThenRetry,
    /// The push interval was not respected (90024): wait the app's `min_interval`, then retry.
    WaitThenRetry,
    /// The daily push quota is used up (90047): defer to the next quota day.
    DeferToNextQuotaDay,
    /// Configuration or credentials are wrong: stop sending for this app.
    FatalForApp,
    /// This request is wrong (or the code is unknown): fail this occurrence, keep going.
    FatalForRequest,
}

impl ErrorClass {
    /// Whether the same request may be sent again (after the class's wait).
    #[must_use]
    pub const fn retries(self) -> bool {
        matches!(
            self,
            Self::Retry | Self::ResignThenRetry | Self::WaitMinuteThenRetry | Self::WaitThenRetry
        )
    }

    /// A short human description, for logs and the ledger.
    #[must_use]
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Retry => "transient: retry with backoff",
            Self::ResignThenRetry => "UserSig rejected: re-sign once, then retry",
            Self::WaitMinuteThenRetry => "too many UserSig failures: wait a minute, then retry",
            Self::WaitThenRetry => "push interval too short: wait, then retry",
            Self::DeferToNextQuotaDay => "daily push quota used up: defer to the next quota day",
            Self::FatalForApp => "fatal for the app: check crier.yaml and the secret key",
            Self::FatalForRequest => "fatal for this request",
        }
    }
}

/// The error-class table of campaign-format §4, for an `ErrorCode` received in a response.
///
/// Any code not named by the table, inside 90000..=90999 or not, is [`ErrorClass::FatalForRequest`].
#[must_use]
pub const fn classify(code: u32) -> ErrorClass {
    match code {
        91000 | 60018 | 60019 | 60007 | 60011 | 70169 | 70202 => ErrorClass::Retry,
        70001 | 70052 => ErrorClass::ResignThenRetry,
        70050 => ErrorClass::WaitMinuteThenRetry,
        90024 => ErrorClass::WaitThenRetry,
        90047 => ErrorClass::DeferToNextQuotaDay,
        70002..=70020 | 60006 | 60010 | 60016 | 60020 | 60021 | 90009 | 90045 => {
            ErrorClass::FatalForApp
        }
        _ => ErrorClass::FatalForRequest,
    }
}

/// When an occurrence the provider refused (a definite refusal: nothing was delivered) is due
/// again, while within grace (campaign-format §4, "Refused requests").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalRetry {
    /// A configuration or credential error (the key, the admin, the app's attribute names, a
    /// service not enabled): due again at the next apply, once the cause is fixed.
    WhenFixed,
    /// The request itself is wrong: due again only once the campaign's content changes.
    WhenContentChanges,
}

/// [`RefusalRetry`] for a refusal with `code`.
#[must_use]
pub const fn refusal_retry(code: u32) -> RefusalRetry {
    match classify(code) {
        // 90033: the provider's attribute names differ from crier.yaml's (validation passed).
        ErrorClass::FatalForRequest if code != 90033 => RefusalRetry::WhenContentChanges,
        _ => RefusalRetry::WhenFixed,
    }
}

/// How long [`ErrorClass::WaitMinuteThenRetry`] waits (70050: "retry in 1 min").
pub const WAIT_A_MINUTE: Duration = Duration::from_secs(60);

/// How many times [`ErrorClass::ResignThenRetry`] re-signs before the error becomes final.
pub const RESIGN_ATTEMPTS: u32 = 1;

/// Exponential backoff with jitter, bounded in attempts and in delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total sends of one request, the first included (so `max_attempts - 1` retries).
    pub max_attempts: u32,
    /// The delay before the first retry, before jitter.
    pub base_delay: Duration,
    /// No delay exceeds this, before jitter.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl RetryPolicy {
    /// 5 sends, waits of about 1 s, 2 s, 4 s, 8 s (each jittered down to half).
    pub const DEFAULT: Self = Self {
        max_attempts: 5,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(30),
    };

    /// The wait before send number `attempt + 1`, after `attempt` failed sends (`attempt` ≥ 1),
    /// or `None` when the attempts are used up.
    ///
    /// `jitter` is a sample from `[0, 1)` (values outside are clamped). The delay is
    /// `min(max_delay, base_delay · 2^(attempt-1))` scaled into `[1/2, 1)` of itself ("equal
    /// jitter"), so concurrent runners spread out but no wait is shorter than half the nominal.
    #[must_use]
    pub fn delay(&self, attempt: u32, jitter: f64) -> Option<Duration> {
        if attempt == 0 || attempt >= self.max_attempts {
            return None;
        }
        let factor = 2u32.checked_pow(attempt - 1).unwrap_or(u32::MAX);
        let nominal = self
            .base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        Some(nominal.mul_f64(0.5 + jitter / 2.0))
    }
}

#[cfg(test)]
mod tests {
    use super::{ErrorClass, RetryPolicy, classify};
    use std::time::Duration;

    fn check(codes: &[u32], class: ErrorClass) {
        for &code in codes {
            assert_eq!(classify(code), class, "code {code}");
        }
    }

    #[test]
    fn retry_with_backoff() {
        check(
            &[91000, 60018, 60019, 60007, 60011, 70169, 70202],
            ErrorClass::Retry,
        );
    }

    #[test]
    fn resign_once_then_retry() {
        check(&[70001, 70052], ErrorClass::ResignThenRetry);
    }

    #[test]
    fn wait_a_minute() {
        check(&[70050], ErrorClass::WaitMinuteThenRetry);
    }

    #[test]
    fn wait_then_retry() {
        check(&[90024], ErrorClass::WaitThenRetry);
    }

    #[test]
    fn defer_to_next_quota_day() {
        check(&[90047], ErrorClass::DeferToNextQuotaDay);
    }

    #[test]
    fn fatal_for_app() {
        let range: Vec<u32> = (70002..=70020).collect();
        check(&range, ErrorClass::FatalForApp);
        check(
            &[60006, 60010, 60016, 60020, 60021, 90009, 90045],
            ErrorClass::FatalForApp,
        );
    }

    #[test]
    fn fatal_for_request_other_900xx() {
        check(
            &[
                90000, 90001, 90002, 90005, 90007, 90020, 90022, 90026, 90032, 90033, 90039, 90040,
                90056, 90999,
            ],
            ErrorClass::FatalForRequest,
        );
    }

    #[test]
    fn fatal_for_request_unknown_codes() {
        // Just outside the listed ranges, other public codes, and nonsense.
        check(
            &[
                70021,
                70000,
                70051,
                70107,
                70500,
                60002,
                60003,
                60008,
                60009,
                60017,
                91001,
                80002,
                1,
                0,
                u32::MAX,
            ],
            ErrorClass::FatalForRequest,
        );
    }

    #[test]
    fn only_waiting_classes_retry() {
        assert!(ErrorClass::Retry.retries());
        assert!(ErrorClass::ResignThenRetry.retries());
        assert!(ErrorClass::WaitMinuteThenRetry.retries());
        assert!(ErrorClass::WaitThenRetry.retries());
        assert!(!ErrorClass::DeferToNextQuotaDay.retries());
        assert!(!ErrorClass::FatalForApp.retries());
        assert!(!ErrorClass::FatalForRequest.retries());
    }

    #[test]
    fn backoff_doubles_within_bounds() {
        let p = RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(5),
        };
        // jitter 0 gives half the nominal delay, jitter → 1 approaches the nominal.
        assert_eq!(p.delay(1, 0.0), Some(Duration::from_millis(500)));
        assert_eq!(p.delay(2, 0.0), Some(Duration::from_secs(1)));
        assert_eq!(p.delay(3, 0.0), Some(Duration::from_secs(2)));
        assert_eq!(
            p.delay(4, 0.0),
            Some(Duration::from_millis(2500)),
            "capped at max_delay"
        );
        assert_eq!(p.delay(2, 0.5), Some(Duration::from_millis(1500)));
        assert_eq!(p.delay(3, 1.0), Some(Duration::from_secs(4)));
        assert_eq!(p.delay(5, 1.0), Some(Duration::from_secs(5)));
    }

    #[test]
    fn backoff_is_bounded_in_attempts() {
        let p = RetryPolicy::DEFAULT;
        assert_eq!(p.delay(0, 0.3), None, "no failure yet, nothing to wait for");
        assert!(p.delay(p.max_attempts - 1, 0.3).is_some());
        assert_eq!(p.delay(p.max_attempts, 0.3), None);
        assert_eq!(p.delay(u32::MAX, 0.3), None);
    }

    #[test]
    fn backoff_survives_huge_attempts_and_bad_jitter() {
        let p = RetryPolicy {
            max_attempts: u32::MAX,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
        };
        assert_eq!(p.delay(200, 1.0), Some(Duration::from_secs(30)));
        assert_eq!(p.delay(3, f64::NAN), Some(Duration::from_secs(2)));
        assert_eq!(p.delay(3, -4.0), Some(Duration::from_secs(2)));
        assert_eq!(p.delay(3, 9.0), Some(Duration::from_secs(4)));
    }
}
