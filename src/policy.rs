//! Policy gates (`crier.yaml` `policy`): pushes that need a deliberate decision. Each rule is
//! `warn` or `deny` (absent: off). A `deny` finding is an error of `validate` and `plan` and is
//! never sent, unless the campaign names the rule in `policy_exceptions` with a reason, which
//! reviewers see. Pure: rules in, findings out.

use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// How a rule acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Warn,
    Deny,
}

/// The quiet hours: `[from, to)` in `timezone`, across midnight when `from > to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub from: NaiveTime,
    pub to: NaiveTime,
    pub timezone: Tz,
    pub level: Level,
}

impl QuietHours {
    /// Whether `at` falls in the quiet hours.
    #[must_use]
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let t = at.with_timezone(&self.timezone).time();
        if self.from <= self.to {
            self.from <= t && t < self.to
        } else {
            t >= self.from || t < self.to
        }
    }

    /// `22:00–08:00 Asia/Shanghai`.
    #[must_use]
    pub fn describe(&self) -> String {
        format!(
            "{}–{} {}",
            self.from.format("%H:%M"),
            self.to.format("%H:%M"),
            self.timezone.name()
        )
    }
}

/// The rules of `crier.yaml`, resolved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    pub all_users: Option<Level>,
    pub widened_audience: Option<Level>,
    pub quiet_hours: Option<QuietHours>,
    /// (limit, level): all-user pushes per app and quota day, across campaigns.
    pub max_all_user_pushes_per_day: Option<(u32, Level)>,
}

/// The rule names, as `crier.yaml` and `policy_exceptions` spell them.
pub const RULES: [&str; 4] = [
    ALL_USERS,
    WIDENED_AUDIENCE,
    QUIET_HOURS,
    MAX_ALL_USER_PUSHES_PER_DAY,
];
pub const ALL_USERS: &str = "all_users";
pub const WIDENED_AUDIENCE: &str = "widened_audience";
pub const QUIET_HOURS: &str = "quiet_hours";
pub const MAX_ALL_USER_PUSHES_PER_DAY: &str = "max_all_user_pushes_per_day";

impl Policy {
    /// The level of a rule, if it is on.
    #[must_use]
    pub fn level(&self, rule: &str) -> Option<Level> {
        match rule {
            ALL_USERS => self.all_users,
            WIDENED_AUDIENCE => self.widened_audience,
            QUIET_HOURS => self.quiet_hours.map(|q| q.level),
            MAX_ALL_USER_PUSHES_PER_DAY => self.max_all_user_pushes_per_day.map(|m| m.1),
            _ => None,
        }
    }
}

/// One rule's verdict on one campaign (or one send), for plan, apply and bots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: String,
    pub level: Level,
    pub campaign: String,
    pub message: String,
    /// The campaign's `policy_exceptions` reason: the finding stands, but it does not block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<String>,
}

impl Finding {
    /// A `deny` finding without an exception: the push is not sent.
    #[must_use]
    pub fn blocks(&self) -> bool {
        self.level == Level::Deny && self.exception.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_wrap_midnight_and_end_before_to() {
        let q = QuietHours {
            from: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
            to: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            timezone: chrono_tz::Asia::Shanghai,
            level: Level::Deny,
        };
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert!(q.contains(at("2026-12-01T14:00:00Z")), "22:00 local");
        assert!(q.contains(at("2026-12-01T23:59:00Z")), "07:59 local");
        assert!(!q.contains(at("2026-12-02T00:00:00Z")), "08:00 local");
        assert!(!q.contains(at("2026-12-01T13:59:00Z")), "21:59 local");
        let day = QuietHours {
            from: NaiveTime::from_hms_opt(12, 0, 0).unwrap(),
            to: NaiveTime::from_hms_opt(13, 0, 0).unwrap(),
            timezone: chrono_tz::UTC,
            level: Level::Warn,
        };
        assert!(day.contains(at("2026-12-01T12:30:00Z")));
        assert!(!day.contains(at("2026-12-01T13:00:00Z")));
        assert_eq!(q.describe(), "22:00–08:00 Asia/Shanghai");
    }
}
