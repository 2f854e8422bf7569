//! Standard 5-field cron: a strict parser of crier's own, and croner as the evaluator.
//!
//! crier reads the text itself so that every extension gets its own message and nothing croner
//! would silently accept (`?`, `@daily`, `L`, `W`, `#`, a `+` prefix, `5/15`, seconds, years) slips
//! through. The checked fields are rewritten with numbers only (`MON-FRI` → `1-5`, a range ending
//! in `SUN` → `…-7`) and handed to croner, which finds the next matching wall-clock minute.
//!
//! Day-of-month and day-of-week follow Vixie cron: when both are restricted, a day matching either
//! fires; a field that starts with `*` (such as `*/2`) counts as unrestricted, so `0 9 */2 * MON`
//! means odd-numbered days that are Mondays, as in crontab.

use std::collections::{BTreeSet, HashMap};
use std::sync::{LazyLock, Mutex};

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use croner::parser::{CronParser, Seconds, Year};

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
    /// Shared: every campaign with the same expression (from the per-process cache) holds one.
    cron: std::sync::Arc<croner::Cron>,
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
        let fields: Vec<&str> = self.canonical.split(' ').collect();
        let count = |field: &str, lo, hi| expand(field, lo, hi).map(|v| v.len() as u32);
        match (
            count(fields[0], 0, 59),
            fields.get(1).and_then(|h| count(h, 0, 23)),
        ) {
            (Some(minutes), Some(hours)) => minutes * (hours + 1),
            _ => 60 * 25,
        }
    }

    /// Whether the wall-clock minute `wall` matches (seconds are ignored).
    #[must_use]
    pub fn matches(&self, wall: NaiveDateTime) -> bool {
        let minute = wall
            .date()
            .and_hms_opt(wall.hour(), wall.minute(), 0)
            .unwrap_or(wall);
        self.cron.is_time_matching(&minute).unwrap_or(false)
    }

    /// Whether any minute of the calendar day `date` matches: its day and month fields allow it.
    #[must_use]
    pub fn matches_date(&self, date: NaiveDate) -> bool {
        let weekday = croner::Weekday::from_days_from_sunday(date.weekday().num_days_from_sunday());
        let pattern = &self.cron.pattern;
        pattern.month_match(date.month()).unwrap_or(false)
            && pattern
                .day_match(date.year(), date.month(), date.day(), weekday)
                .unwrap_or(false)
    }

    /// The first matching wall-clock minute at or after `wall` (after it when `inclusive` is false),
    /// or `None` when croner's search gives up (far beyond any date crier plans for).
    #[must_use]
    pub fn next_wall(&self, wall: NaiveDateTime, inclusive: bool) -> Option<NaiveDateTime> {
        self.cron.find_next_occurrence(&wall, inclusive).ok()
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
    // croner's parser costs about as much as reading a whole campaign file, and a repository
    // repeats a few expressions (and every command parses each schedule more than once), so
    // checked expressions are kept per process, by text. Bounded: cleared when full.
    static PARSED: LazyLock<Mutex<HashMap<String, CronExpr>>> = LazyLock::new(Mutex::default);
    const KEPT: usize = 4096;
    let text = expr.trim();
    if let Some(hit) = PARSED.lock().ok().and_then(|m| m.get(text).cloned()) {
        return Ok(hit);
    }
    let parsed = parse_uncached(text)?;
    if let Ok(mut m) = PARSED.lock() {
        if m.len() >= KEPT {
            m.clear();
        }
        m.insert(text.to_owned(), parsed.clone());
    }
    Ok(parsed)
}

fn parse_uncached(text: &str) -> Result<CronExpr, ScheduleError> {
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
    let canonical = canonical.join(" ");
    // Vixie: a day field starting with `*` makes the day rule an AND (the other field alone
    // decides when this one is plain `*`).
    let vixie_and = fields[2].starts_with('*') || fields[4].starts_with('*');
    let cron = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .dom_and_dow(vixie_and)
        .build()
        .parse(&canonical)
        .map_err(|e| ScheduleError::CronEngine {
            expr: text.to_owned(),
            detail: e.to_string(),
        })?;
    Ok(CronExpr {
        text: text.to_owned(),
        canonical,
        cron: std::sync::Arc::new(cron),
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
        // croner refuses `*` inside a list (`*,5`, `1,*/15`), which standard cron reads as the
        // full range: write it as one.
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

/// Finds the non-standard syntax croner knows, so each gets a message of its own.
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
