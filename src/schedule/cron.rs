//! Standard 5-field cron: a strict parser and a small evaluator, both crier's own.
//!
//! crier reads the text itself so that every extension gets its own message and nothing a cron
//! library would silently accept (`?`, `@daily`, `L`, `W`, `#`, a `+` prefix, `5/15`, seconds,
//! years) slips through. The checked fields are rewritten with numbers only (`MON-FRI` → `1-5`, a
//! range ending in `SUN` → `…-7`) and expanded into bit sets ([`Fields`]), which find the next
//! matching wall-clock minute by skipping whole months, days and hours. (croner was the
//! evaluator until its search, about 17,000 instructions a step, was a tenth of `validate`.)
//!
//! Day-of-month and day-of-week follow Vixie cron: when both are restricted, a day matching either
//! fires; a field that starts with `*` (such as `*/2`) counts as unrestricted, so `0 9 */2 * MON`
//! means odd-numbered days that are Mondays, as in crontab.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeDelta, Timelike};

use super::error::{CronField, ScheduleError};

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// A checked 5-field cron expression.
#[derive(Debug, Clone)]
pub struct CronExpr {
    text: String,
    canonical: String,
    fields: Fields,
}

/// The values each field matches, as bit sets: bit `v` is set when value `v` matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fields {
    minutes: u64,
    hours: u32,
    /// Days of the month, 1–31.
    days: u32,
    /// Months, 1–12.
    months: u16,
    /// Days of the week, 0 (Sunday) – 6.
    weekdays: u8,
    /// Vixie cron: a day must match both day fields when one of them starts with `*`, and
    /// either of them when both are restricted.
    days_and: bool,
}

/// How far ahead a search goes before it gives up (an expression like `0 0 30 2 *` never fires).
const SEARCH_YEARS: i32 = 400;

impl Fields {
    /// The bit sets of the five canonical fields (numbers only), or `None` if one does not expand.
    fn of(fields: &[String], days_and: bool) -> Option<Self> {
        let bits = |field: &str, lo, hi| -> Option<u64> {
            Some(
                expand(field, lo, hi)?
                    .into_iter()
                    .fold(0, |b, v| b | 1 << v),
            )
        };
        let [minute, hour, day, month, weekday] = fields else {
            return None;
        };
        let weekdays = bits(weekday, 0, 7)?;
        Some(Self {
            minutes: bits(minute, 0, 59)?,
            hours: u32::try_from(bits(hour, 0, 23)?).ok()?,
            days: u32::try_from(bits(day, 1, 31)?).ok()?,
            months: u16::try_from(bits(month, 1, 12)?).ok()?,
            // 7 is Sunday too.
            weekdays: u8::try_from((weekdays | weekdays >> 7) & 0x7f).ok()?,
            days_and,
        })
    }

    fn month_matches(self, date: NaiveDate) -> bool {
        self.months & (1 << date.month()) != 0
    }

    fn date_matches(self, date: NaiveDate) -> bool {
        let day = self.days & (1 << date.day()) != 0;
        let weekday = self.weekdays & (1 << date.weekday().num_days_from_sunday()) != 0;
        self.month_matches(date)
            && if self.days_and {
                day && weekday
            } else {
                day || weekday
            }
    }

    /// The first matching (hour, minute) at or after `hour:minute` on a matching day.
    fn time_from(self, mut hour: u32, mut minute: u32) -> Option<(u32, u32)> {
        while hour < 24 {
            let hours = self.hours >> hour;
            if hours == 0 {
                return None;
            }
            let next = hour + hours.trailing_zeros();
            if next != hour {
                minute = 0;
            }
            let minutes = self.minutes >> minute;
            if minutes != 0 {
                return Some((next, minute + minutes.trailing_zeros()));
            }
            hour = next + 1;
            minute = 0;
        }
        None
    }

    /// The first matching whole minute at or after `start` (a whole minute).
    fn next_from(self, start: NaiveDateTime) -> Option<NaiveDateTime> {
        let last_year = start.year().saturating_add(SEARCH_YEARS);
        let mut date = start.date();
        let (mut hour, mut minute) = (start.hour(), start.minute());
        loop {
            if date.year() > last_year {
                return None;
            }
            if !self.month_matches(date) {
                // The first day of the next month.
                let (y, m) = if date.month() == 12 {
                    (date.year() + 1, 1)
                } else {
                    (date.year(), date.month() + 1)
                };
                date = NaiveDate::from_ymd_opt(y, m, 1)?;
                (hour, minute) = (0, 0);
                continue;
            }
            if self.date_matches(date)
                && let Some((h, m)) = self.time_from(hour, minute)
            {
                return date.and_hms_opt(h, m, 0);
            }
            date = date.succ_opt()?;
            (hour, minute) = (0, 0);
        }
    }
}

impl PartialEq for CronExpr {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for CronExpr {}

impl CronExpr {
    /// The expression as written (surrounding whitespace removed).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The same expression with numbers only, single-spaced (`0 10 * * 1-5`).
    #[must_use]
    pub fn canonical(&self) -> &str {
        &self.canonical
    }

    /// An upper bound of the times it fires in any 24 hours: its minutes times its hours, plus
    /// one hour for a day that a DST change makes 25 hours long.
    #[must_use]
    pub fn max_per_day(&self) -> u32 {
        self.fields.minutes.count_ones() * (self.fields.hours.count_ones() + 1)
    }

    /// Whether the wall-clock minute `wall` matches (seconds are ignored).
    #[must_use]
    pub fn matches(&self, wall: NaiveDateTime) -> bool {
        let f = self.fields;
        f.minutes & (1 << wall.minute()) != 0
            && f.hours & (1 << wall.hour()) != 0
            && f.date_matches(wall.date())
    }

    /// Whether any minute of the calendar day `date` matches: its day and month fields allow it.
    #[must_use]
    pub fn matches_date(&self, date: NaiveDate) -> bool {
        self.fields.date_matches(date)
    }

    /// The first matching wall-clock minute at or after `wall` (after it when `inclusive` is
    /// false; parts of a second are ignored), or `None` when none comes in the next 400 years.
    #[must_use]
    pub fn next_wall(&self, wall: NaiveDateTime, inclusive: bool) -> Option<NaiveDateTime> {
        let whole = wall.with_nanosecond(0)?;
        let from = if inclusive {
            whole
        } else {
            whole.checked_add_signed(TimeDelta::seconds(1))?
        };
        let minute = from.with_second(0)?;
        let start = if minute == from {
            minute
        } else {
            minute.checked_add_signed(TimeDelta::minutes(1))?
        };
        self.fields.next_from(start)
    }
}

impl std::fmt::Display for CronExpr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Parses a standard 5-field cron expression (minute hour day-of-month month day-of-week).
///
/// # Errors
/// A [`ScheduleError`] naming the first problem: a nickname, the wrong number of fields, an
/// extension (`L`, `W`, `#`, `?`), a value out of range, a name in the wrong field, bad syntax.
pub fn parse_cron(expr: &str) -> Result<CronExpr, ScheduleError> {
    let text = expr.trim();
    if text.is_empty() {
        return Err(ScheduleError::CronEmpty);
    }
    if text.starts_with('@') {
        return Err(nickname_error(text));
    }
    let fields: Vec<&str> = text.split_whitespace().collect();
    match fields.len() {
        5 => {}
        6 => return Err(ScheduleError::CronSeconds),
        7 => return Err(ScheduleError::CronYears),
        found => return Err(ScheduleError::CronFieldCount { found }),
    }
    let mut canonical = Vec::with_capacity(5);
    for (field, raw) in CronField::ALL.into_iter().zip(&fields) {
        canonical.push(parse_field(field, raw)?);
    }
    // Vixie: a day field starting with `*` makes the day rule an AND (the other field alone
    // decides when this one is plain `*`).
    let vixie_and = fields[2].starts_with('*') || fields[4].starts_with('*');
    let bits = Fields::of(&canonical, vixie_and);
    let canonical = canonical.join(" ");
    let fields = bits.ok_or_else(|| ScheduleError::CronEngine {
        expr: text.to_owned(),
        detail: format!("`{canonical}` does not expand"),
    })?;
    Ok(CronExpr {
        text: text.to_owned(),
        canonical,
        fields,
    })
}

/// The values a canonical field (numbers only: `*`, `a`, `a-b`, each with an optional `/n`, in a
/// comma list) matches within `min..=max`.
pub(super) fn expand(field: &str, min: u32, max: u32) -> Option<BTreeSet<u32>> {
    let mut out = BTreeSet::new();
    for item in field.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((b, s)) => (b, s.parse::<u32>().ok().filter(|s| *s > 0)?),
            None => (item, 1),
        };
        let (lo, hi) = if base == "*" {
            (min, max)
        } else if let Some((a, b)) = base.split_once('-') {
            (a.parse().ok()?, b.parse().ok()?)
        } else {
            let v: u32 = base.parse().ok()?;
            (v, v)
        };
        if lo < min || hi > max || lo > hi {
            return None;
        }
        out.extend((lo..=hi).step_by(step as usize));
    }
    Some(out)
}

fn nickname_error(text: &str) -> ScheduleError {
    let nickname = text.split_whitespace().next().unwrap_or(text).to_owned();
    let equivalent = match nickname.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => Some("0 0 1 1 *"),
        "@monthly" => Some("0 0 1 * *"),
        "@weekly" => Some("0 0 * * 0"),
        "@daily" | "@midnight" => Some("0 0 * * *"),
        "@hourly" => Some("0 * * * *"),
        _ => None,
    };
    ScheduleError::CronNickname {
        nickname,
        equivalent,
    }
}

/// Checks one field and returns it with names replaced by numbers.
fn parse_field(field: CronField, raw: &str) -> Result<String, ScheduleError> {
    reject_extensions(field, raw)?;
    let items: Result<Vec<String>, ScheduleError> = raw
        .split(',')
        .map(|item| parse_item(field, raw, item))
        .collect();
    let mut items = items?;
    if items.len() > 1 {
        // `*` inside a list (`*,5`, `1,*/15`) is the full range in standard cron: written as
        // one, so the canonical form reads plainly.
        let (min, max) = field.bounds();
        let max = if field == CronField::DayOfWeek {
            6
        } else {
            max
        };
        for item in &mut items {
            if item == "*" || item.starts_with("*/") {
                item.replace_range(..1, &format!("{min}-{max}"));
            }
        }
    }
    Ok(items.join(","))
}

/// Finds the non-standard syntax other cron dialects know, so each gets a message of its own.
fn reject_extensions(field: CronField, raw: &str) -> Result<(), ScheduleError> {
    if raw.contains('?') {
        return Err(ScheduleError::CronQuestionMark { field });
    }
    if raw.contains('#') {
        return Err(ScheduleError::CronNth { field });
    }
    for atom in raw.split([',', '-', '/']) {
        if atom.chars().all(|c| c.is_ascii_alphabetic()) && atom.len() == 3 {
            continue; // a name (or a mistake reported as an unknown name)
        }
        let upper = atom.to_ascii_uppercase();
        if upper == "L"
            || upper == "LW"
            || (upper.ends_with('L') && is_digits(&upper[..upper.len() - 1]))
        {
            return Err(ScheduleError::CronLast { field });
        }
        if upper.ends_with('W') && is_digits(&upper[..upper.len() - 1]) {
            return Err(ScheduleError::CronNearestWeekday { field });
        }
    }
    Ok(())
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// One list item: `*`, `v`, `a-b`, each optionally followed by `/step`.
fn parse_item(field: CronField, raw: &str, item: &str) -> Result<String, ScheduleError> {
    let syntax = || ScheduleError::CronSyntax {
        field,
        text: raw.to_owned(),
    };
    let (base, step) = match item.split_once('/') {
        Some((base, step)) => (base, Some(step)),
        None => (item, None),
    };
    let step = match step {
        None => None,
        Some(s) if is_digits(s) => match s.parse::<u32>() {
            Ok(0) => {
                return Err(ScheduleError::CronZeroStep {
                    field,
                    text: item.to_owned(),
                });
            }
            Ok(n) if n <= field.bounds().1 => Some(n),
            _ => {
                return Err(ScheduleError::CronOutOfRange {
                    field,
                    value: s.to_owned(),
                });
            }
        },
        Some(_) => return Err(syntax()),
    };
    let base_text = if base == "*" {
        "*".to_owned()
    } else if let Some((lo, hi)) = base.split_once('-') {
        let lo_v = value(field, lo, false).ok_or_else(syntax)??;
        let mut hi_v = value(field, hi, true).ok_or_else(syntax)??;
        if field == CronField::DayOfWeek && lo_v == 0 && hi_v == 7 && !is_digits(hi) {
            // `SUN-SUN` (or `0-SUN`) is Sunday, as in crontab, not the whole week.
            hi_v = 0;
        }
        if lo_v > hi_v {
            return Err(ScheduleError::CronBackwardRange {
                field,
                text: base.to_owned(),
            });
        }
        format!("{lo_v}-{hi_v}")
    } else {
        let v = value(field, base, false).ok_or_else(syntax)??;
        if let Some(n) = step {
            let last = match field {
                CronField::Month if !is_digits(base) => "DEC".to_owned(),
                CronField::DayOfWeek if !is_digits(base) => "SAT".to_owned(),
                CronField::DayOfWeek => "6".to_owned(),
                _ => field.bounds().1.to_string(),
            };
            return Err(ScheduleError::CronStepWithoutRange {
                field,
                text: item.to_owned(),
                suggestion: format!("{base}-{last}/{n}"),
            });
        }
        v.to_string()
    };
    Ok(match step {
        Some(n) => format!("{base_text}/{n}"),
        None => base_text,
    })
}

/// A number or a name. `None`: not a value at all (a syntax error for the caller to report).
/// `range_end`: a `SUN` that ends a range is 7, so `FRI-SUN` reads as Friday to Sunday (the
/// caller keeps `SUN-SUN` at Sunday alone).
fn value(field: CronField, atom: &str, range_end: bool) -> Option<Result<u32, ScheduleError>> {
    let (min, max) = field.bounds();
    if is_digits(atom) {
        return Some(match atom.parse::<u32>() {
            Ok(v) if (min..=max).contains(&v) => Ok(v),
            _ => Err(ScheduleError::CronOutOfRange {
                field,
                value: atom.to_owned(),
            }),
        });
    }
    if atom.is_empty() || !atom.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let upper = atom.to_ascii_uppercase();
    let month = MONTHS.iter().position(|m| *m == upper);
    let weekday = WEEKDAYS.iter().position(|d| *d == upper);
    Some(match field {
        CronField::Month => month
            .map(|i| u32::try_from(i + 1).unwrap_or(1))
            .ok_or_else(|| name_error(field, atom, weekday.is_some())),
        CronField::DayOfWeek => weekday
            .map(|i| match i {
                0 if range_end => 7,
                i => u32::try_from(i).unwrap_or(0),
            })
            .ok_or_else(|| name_error(field, atom, month.is_some())),
        _ => Err(name_error(
            field,
            atom,
            month.is_some() || weekday.is_some(),
        )),
    })
}

fn name_error(field: CronField, atom: &str, known_elsewhere: bool) -> ScheduleError {
    if known_elsewhere || !matches!(field, CronField::Month | CronField::DayOfWeek) {
        ScheduleError::CronNameNotAllowed {
            field,
            name: atom.to_owned(),
        }
    } else {
        ScheduleError::CronUnknownName {
            field,
            name: atom.to_owned(),
        }
    }
}
