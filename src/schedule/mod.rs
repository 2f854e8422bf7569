//! Schedules: when a campaign's occurrences happen (spec §1 `schedule`, §4 Time, Cron, Occurrence).
//!
//! Pure: nothing here reads the clock or does I/O; every question takes the instants it is about.
//!
//! How a cron schedule becomes instants: [`cron`] finds the matching **wall-clock** minutes (it
//! runs on `NaiveDateTime`, so it never sees a zone), then each wall-clock time is placed in the zone by
//! one rule ([`zone`]): a time in a spring-forward gap moves to the first valid instant after the
//! gap; a time in a fall-back fold is its earlier instant. Times that land on the same instant (a
//! gap swallowing `*/15` minutes, or a moved 02:30 meeting a real 03:00 match) give one
//! occurrence. So there is never a duplicate push for one wall-clock time: an hourly `30 * * * *`
//! fires at 01:30 once on a fall-back night (the repeated 01:30 is not a new wall-clock time), and
//! on a spring-forward night its 02:30 fires at 03:00.
//!
//! A zoned search (croner's, for one) is not used: it fires interval patterns (`30 * * * *`,
//! `*/15 * * * *`) on both instants of a fold and skips their gap times, which contradicts §4.
//!
//! `start` and `end` are days in the schedule's zone and bound the matched wall-clock times,
//! inclusive: a 23:30 match on `end` that a gap moves past midnight still fires.

pub mod cron;
mod error;
pub mod words;
mod zone;

use chrono::{
    DateTime, Days, NaiveDate, NaiveDateTime, NaiveTime, Offset as _, TimeZone as _, Utc,
};
use chrono_tz::Tz;

pub use cron::{CronExpr, parse_cron};
pub use error::{CronField, ScheduleError};
pub use zone::{DstNote, ResolvedTime, parse_time, parse_zone, zone_warning};

use zone::resolve_wall;

/// One scheduled instant: when it happens, its wall clock in the schedule's zone, and a note when
/// DST moved or disambiguated it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    pub at: DateTime<Utc>,
    pub local: DateTime<Tz>,
    pub dst: Option<DstNote>,
}

/// A campaign's schedule: a one-off instant or a cron expression in a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Once(OnceSchedule),
    Cron(CronSchedule),
}

/// A one-off: one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnceSchedule {
    at: DateTime<Utc>,
    zone: Tz,
    dst: Option<DstNote>,
}

/// A recurring schedule: a cron expression read in a zone, optionally between two days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    expr: CronExpr,
    zone: Tz,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
}

/// Where `first` starts a cron schedule without `start`: deterministic, since `validate` has no
/// clock.
const DEFAULT_FIRST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

const YEAR_ONE: NaiveDate = match NaiveDate::from_ymd_opt(1, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// Every date pattern that 5-field cron can express repeats within this many days (a 29 February
/// comes at least every 8 years; a weekday every 7 days), so a search this long is conclusive.
const CALENDAR_CYCLE_DAYS: u64 = 9 * 366;

impl Schedule {
    /// A one-off at `at` (TIME grammar, see [`parse_time`]), with the fold note to warn about.
    ///
    /// # Errors
    /// A malformed TIME, or a wall-clock time a DST gap skips.
    pub fn once(at: &str, tz: Tz) -> Result<(Self, Option<DstNote>), ScheduleError> {
        let resolved = parse_time(at, tz)?;
        let schedule = Self::Once(OnceSchedule {
            at: resolved.at,
            zone: tz,
            dst: resolved.dst,
        });
        Ok((schedule, resolved.dst))
    }

    /// A cron schedule in `tz`, firing on days `start..=end` (both optional, days in `tz`).
    ///
    /// # Errors
    /// An invalid expression, `start` after `end`, or an expression that never fires in the window.
    pub fn cron(
        expr: &str,
        tz: Tz,
        start: Option<NaiveDate>,
        end: Option<NaiveDate>,
    ) -> Result<Self, ScheduleError> {
        let expr = parse_cron(expr)?;
        if let (Some(start), Some(end)) = (start, end)
            && start > end
        {
            return Err(ScheduleError::StartAfterEnd { start, end });
        }
        // Bounded: at most one window or one calendar cycle of days, each a cheap bit test.
        let (first, last) = match (start, end) {
            (Some(s), Some(e)) => (s, e),
            (Some(s), None) => (
                s,
                s.checked_add_days(Days::new(CALENDAR_CYCLE_DAYS))
                    .unwrap_or(s),
            ),
            (None, Some(e)) => (
                e.checked_sub_days(Days::new(CALENDAR_CYCLE_DAYS))
                    .unwrap_or(e),
                e,
            ),
            (None, None) => (
                DEFAULT_FIRST_DAY,
                DEFAULT_FIRST_DAY
                    .checked_add_days(Days::new(CALENDAR_CYCLE_DAYS))
                    .unwrap_or(DEFAULT_FIRST_DAY),
            ),
        };
        let fires = first
            .iter_days()
            .take_while(|d| *d <= last)
            .any(|d| expr.matches_date(d));
        if !fires {
            return Err(ScheduleError::NeverFires {
                expr: expr.as_str().to_owned(),
                start,
                end,
            });
        }
        Ok(Self::Cron(CronSchedule {
            expr,
            zone: tz,
            start,
            end,
        }))
    }

    /// The schedule's zone.
    #[must_use]
    pub const fn zone(&self) -> Tz {
        match self {
            Self::Once(o) => o.zone,
            Self::Cron(c) => c.zone,
        }
    }

    #[must_use]
    pub const fn is_cron(&self) -> bool {
        matches!(self, Self::Cron(_))
    }

    /// The cron expression, for a recurring schedule.
    #[must_use]
    pub const fn cron_expr(&self) -> Option<&CronExpr> {
        match self {
            Self::Once(_) => None,
            Self::Cron(c) => Some(&c.expr),
        }
    }

    /// The cron text as written, for a recurring schedule.
    #[must_use]
    pub fn cron_text(&self) -> Option<&str> {
        self.cron_expr().map(CronExpr::as_str)
    }

    /// The first and last day of a recurring schedule's window.
    #[must_use]
    pub const fn window(&self) -> (Option<NaiveDate>, Option<NaiveDate>) {
        match self {
            Self::Once(_) => (None, None),
            Self::Cron(c) => (c.start, c.end),
        }
    }

    /// Every occurrence with `from <= at <= to`, in order, each instant once.
    #[must_use]
    pub fn occurrences(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Occurrences<'_> {
        let inner = match self {
            Self::Once(o) => {
                let occ = o.occurrence();
                Inner::Once((from <= occ.at && occ.at <= to).then_some(occ))
            }
            Self::Cron(c) => Inner::Cron(CronWalk::new(c, c.first_wall_for(from), Some(from), to)),
        };
        Occurrences { inner }
    }

    /// The first occurrence at or after `t`.
    #[must_use]
    pub fn first_at_or_after(&self, t: DateTime<Utc>) -> Option<Occurrence> {
        self.occurrences(t, DateTime::<Utc>::MAX_UTC).next()
    }

    /// The first occurrence strictly after `t`.
    #[must_use]
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<Occurrence> {
        self.occurrences(t, DateTime::<Utc>::MAX_UTC)
            .find(|o| o.at > t)
    }

    /// The one-off's instant, or a cron schedule's first occurrence on or after `start` (without
    /// `start`: on or after 2000-01-01T00:00 in the zone).
    #[must_use]
    pub fn first(&self) -> Option<Occurrence> {
        match self {
            Self::Once(o) => Some(o.occurrence()),
            Self::Cron(c) => {
                let day = c.start.unwrap_or(DEFAULT_FIRST_DAY);
                CronWalk::new(
                    c,
                    day.and_time(NaiveTime::MIN),
                    None,
                    DateTime::<Utc>::MAX_UTC,
                )
                .next()
            }
        }
    }
}

impl OnceSchedule {
    fn occurrence(&self) -> Occurrence {
        Occurrence {
            at: self.at,
            local: self.at.with_timezone(&self.zone),
            dst: self.dst,
        }
    }
}

impl CronSchedule {
    /// The earliest wall-clock time whose instant can be at or after `from`.
    ///
    /// Wall-clock times map to instants in order (never backwards), so the search can start at
    /// `from`'s wall clock read with the smaller of the offsets in force now and two days ago: that
    /// reaches back over a gap that just ended (its times map onto the gap's end), and times in a
    /// fold that map before `from` are skipped by the walk.
    fn first_wall_for(&self, from: DateTime<Utc>) -> NaiveDateTime {
        let offset_at = |t: DateTime<Utc>| {
            self.zone
                .offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc()
        };
        let now = offset_at(from);
        let before = from.checked_sub_days(Days::new(2)).map_or(now, offset_at);
        let wall = from
            .naive_utc()
            .checked_add_signed(chrono::TimeDelta::seconds(i64::from(now.min(before))))
            .unwrap_or_else(|| from.naive_utc());
        // Nothing is searched before year 1.
        let floor = self.start.unwrap_or(YEAR_ONE).max(YEAR_ONE);
        wall.max(floor.and_time(NaiveTime::MIN))
    }

    /// The first wall-clock time after the window, if it has an end.
    fn end_wall_exclusive(&self) -> Option<NaiveDateTime> {
        self.end
            .and_then(|e| e.succ_opt())
            .map(|d| d.and_time(NaiveTime::MIN))
    }
}

/// The occurrences of a schedule between two instants; see [`Schedule::occurrences`].
#[derive(Debug, Clone)]
pub struct Occurrences<'a> {
    inner: Inner<'a>,
}

#[derive(Debug, Clone)]
enum Inner<'a> {
    Once(Option<Occurrence>),
    Cron(CronWalk<'a>),
}

impl Iterator for Occurrences<'_> {
    type Item = Occurrence;

    fn next(&mut self) -> Option<Occurrence> {
        match &mut self.inner {
            Inner::Once(o) => o.take(),
            Inner::Cron(walk) => walk.next(),
        }
    }
}

/// Walks matching wall-clock times and places each in the zone.
#[derive(Debug, Clone)]
struct CronWalk<'a> {
    schedule: &'a CronSchedule,
    cursor: NaiveDateTime,
    inclusive: bool,
    from: Option<DateTime<Utc>>,
    to: DateTime<Utc>,
    end: Option<NaiveDateTime>,
    last: Option<DateTime<Utc>>,
    done: bool,
}

impl<'a> CronWalk<'a> {
    fn new(
        schedule: &'a CronSchedule,
        cursor: NaiveDateTime,
        from: Option<DateTime<Utc>>,
        to: DateTime<Utc>,
    ) -> Self {
        Self {
            schedule,
            cursor,
            inclusive: true,
            from,
            to,
            end: schedule.end_wall_exclusive(),
            last: None,
            done: from.is_some_and(|f| f > to),
        }
    }
}

impl Iterator for CronWalk<'_> {
    type Item = Occurrence;

    fn next(&mut self) -> Option<Occurrence> {
        while !self.done {
            let Some(wall) = self.schedule.expr.next_wall(self.cursor, self.inclusive) else {
                self.done = true;
                break;
            };
            self.cursor = wall;
            self.inclusive = false;
            if self.end.is_some_and(|end| wall >= end) {
                self.done = true;
                break;
            }
            let Some((at, dst)) = resolve_wall(self.schedule.zone, wall).instant() else {
                continue;
            };
            if at > self.to {
                // Instants never go backwards as wall-clock times advance.
                self.done = true;
                break;
            }
            if self.from.is_some_and(|f| at < f) || self.last == Some(at) {
                continue;
            }
            self.last = Some(at);
            return Some(Occurrence {
                at,
                local: at.with_timezone(&self.schedule.zone),
                dst,
            });
        }
        None
    }
}

#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod tests;
