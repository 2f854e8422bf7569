//! Schedules in words, for reviewers: `every weekday at 10:00 Asia/Shanghai`, `once at 2026-12-24
//! 20:00 Asia/Shanghai`. Only shapes that can be said exactly are put in words; anything else is
//! shown as the cron expression itself (`cron \`0 9 1 * MON\` in Asia/Shanghai`): a wrong sentence
//! is worse than a raw one. Pure.

use std::collections::BTreeSet;

use super::{CronExpr, Schedule};

const WEEKDAY_NAMES: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// At most this many clock times are listed (`at 09:00, 12:00 and 18:00`); more are said as a
/// step or not at all.
const MAX_LISTED_TIMES: usize = 6;

/// The whole schedule in words, with its zone and window.
#[must_use]
pub fn describe(schedule: &Schedule) -> String {
    match schedule {
        Schedule::Once(o) => {
            let local = o.at.with_timezone(&o.zone);
            let format = if local.format("%S").to_string() == "00" {
                "%Y-%m-%d %H:%M"
            } else {
                "%Y-%m-%d %H:%M:%S"
            };
            format!("once at {} {}", local.format(format), o.zone.name())
        }
        Schedule::Cron(c) => {
            let zone = c.zone.name();
            let mut s = match cron_in_words(&c.expr) {
                Some(Phrase::At(text)) => format!("{text} {zone}"),
                Some(Phrase::Every(text)) => format!("{text} ({zone})"),
                None => format!("cron `{}` in {zone}", c.expr.as_str()),
            };
            match (c.start, c.end) {
                (Some(a), Some(b)) => s.push_str(&format!(", from {a} to {b}")),
                (Some(a), None) => s.push_str(&format!(", from {a}")),
                (None, Some(b)) => s.push_str(&format!(", until {b}")),
                (None, None) => {}
            }
            s
        }
    }
}

/// A cron expression in words, without its zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phrase {
    /// Ends with clock times (`every weekday at 10:00`): the zone reads well right after it.
    At(String),
    /// A repetition within the day (`every 15 minutes`, `every hour at :30, every Monday`).
    Every(String),
}

impl Phrase {
    #[must_use]
    pub fn text(&self) -> &str {
        match self {
            Self::At(s) | Self::Every(s) => s,
        }
    }
}

/// A cron expression in words, or `None` for a shape that cannot be said exactly (the caller
/// shows the expression).
#[must_use]
pub fn cron_in_words(expr: &CronExpr) -> Option<Phrase> {
    let fields: Vec<&str> = expr.canonical().split(' ').collect();
    let [minute, hour, dom, month, dow] = fields.as_slice() else {
        return None;
    };
    let day = day_words(dom, month, dow)?;
    let minutes = super::cron::expand(minute, 0, 59)?;
    let hours = super::cron::expand(hour, 0, 23)?;
    let hhmm = |h: u32, m: u32| format!("{h:02}:{m:02}");
    if minutes.len() * hours.len() <= MAX_LISTED_TIMES {
        let times: Vec<String> = hours
            .iter()
            .flat_map(|h| minutes.iter().map(move |m| hhmm(*h, *m)))
            .collect();
        return Some(Phrase::At(format!("{day} at {}", and_list(&times))));
    }
    let within = if let Some(step) = step_from_zero(&minutes, 60) {
        let every = if step == 1 {
            "every minute".to_owned()
        } else {
            format!("every {step} minutes")
        };
        match progression(&hours)? {
            (_, 1) if hours.len() == 24 => every,
            (first, 1) => {
                let last = *hours.last()?;
                format!(
                    "{every} from {} to {}",
                    hhmm(first, 0),
                    hhmm(last, 60 - step)
                )
            }
            _ => return None,
        }
    } else if let [m] = minutes.iter().copied().collect::<Vec<_>>().as_slice() {
        match progression(&hours)? {
            (_, 1) if hours.len() == 24 => format!("every hour at :{m:02}"),
            (first, step) => {
                let last = *hours.last()?;
                let every = if step == 1 {
                    "every hour".to_owned()
                } else {
                    format!("every {step} hours")
                };
                format!("{every} from {} to {}", hhmm(first, *m), hhmm(last, *m))
            }
        }
    } else {
        return None;
    };
    Some(Phrase::Every(if day == "every day" {
        within
    } else {
        format!("{within}, {day}")
    }))
}

/// The days: `every day`, `every weekday`, `every Monday and Friday in December`, `on the 1st
/// and 15th of every month`. `None` when both day fields are restricted (Vixie cron fires on
/// either, which reads badly) or a day field has a step.
fn day_words(dom: &str, month: &str, dow: &str) -> Option<String> {
    let months = super::cron::expand(month, 1, 12)?;
    let in_months = if months.len() == 12 {
        None
    } else {
        let names: Vec<String> = months
            .iter()
            .map(|m| MONTH_NAMES[(*m as usize).saturating_sub(1) % 12].to_owned())
            .collect();
        Some(and_list(&names))
    };
    match (dom, dow) {
        ("*", "*") => Some(match &in_months {
            None => "every day".to_owned(),
            Some(m) => format!("every day in {m}"),
        }),
        ("*", dow) if !dow.starts_with('*') => {
            let days: BTreeSet<u32> = super::cron::expand(dow, 0, 7)?
                .into_iter()
                .map(|d| d % 7)
                .collect();
            let words = if days.len() == 7 {
                "every day".to_owned()
            } else if days == (1..=5).collect() {
                "every weekday".to_owned()
            } else {
                // Monday first, Sunday last, as a reader's week goes.
                let names: Vec<String> = (1..=7)
                    .map(|d| d % 7)
                    .filter(|d| days.contains(d))
                    .map(|d| WEEKDAY_NAMES[d as usize].to_owned())
                    .collect();
                format!("every {}", and_list(&names))
            };
            Some(match &in_months {
                None => words,
                Some(m) => format!("{words} in {m}"),
            })
        }
        (dom, "*") if !dom.starts_with('*') => {
            let days: Vec<u32> = super::cron::expand(dom, 1, 31)?.into_iter().collect();
            let ordinals: Vec<String> = days.iter().map(|d| ordinal(*d)).collect();
            let of = in_months.unwrap_or_else(|| "every month".to_owned());
            let mut s = format!("on the {} of {of}", and_list(&ordinals));
            if days.iter().any(|d| *d > 28) {
                s.push_str(" (a month without that day is skipped)");
            }
            Some(s)
        }
        _ => None,
    }
}

/// `1st`, `2nd`, `3rd`, `11th`, `21st`.
fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `(first, step)` when the values are `first, first + step, …` (one value: step 1).
fn progression(values: &BTreeSet<u32>) -> Option<(u32, u32)> {
    let v: Vec<u32> = values.iter().copied().collect();
    let first = *v.first()?;
    let step = v.get(1).map_or(1, |second| second - first);
    v.windows(2)
        .all(|w| w[1] - w[0] == step)
        .then_some((first, step))
}

/// The step `s` when the values are exactly `0, s, 2s, …` up to `period` and `s` divides
/// `period` (so the repetition is even across the boundary too).
fn step_from_zero(values: &BTreeSet<u32>, period: u32) -> Option<u32> {
    let (first, step) = progression(values)?;
    (first == 0
        && values.len() > 1
        && period.is_multiple_of(step)
        && values.len() == (period / step) as usize)
        .then_some(step)
}

#[cfg(test)]
mod tests {
    use super::{Schedule, cron_in_words, describe};
    use chrono_tz::Asia;

    fn words(expr: &str) -> String {
        describe(&Schedule::cron(expr, Asia::Shanghai, None, None).expect("valid cron"))
    }

    #[test]
    fn common_shapes_read_as_words() {
        for (expr, said) in [
            ("0 10 * * *", "every day at 10:00 Asia/Shanghai"),
            ("0 10 * * MON-FRI", "every weekday at 10:00 Asia/Shanghai"),
            ("0 10 * * 1-5", "every weekday at 10:00 Asia/Shanghai"),
            (
                "30 8 * * MON,WED,FRI",
                "every Monday, Wednesday and Friday at 08:30 Asia/Shanghai",
            ),
            (
                "0 9 * * SAT,SUN",
                "every Saturday and Sunday at 09:00 Asia/Shanghai",
            ),
            ("0 9 * * 0", "every Sunday at 09:00 Asia/Shanghai"),
            (
                "0 9 * * FRI-SUN",
                "every Friday, Saturday and Sunday at 09:00 Asia/Shanghai",
            ),
            ("0 9 * * 0-6", "every day at 09:00 Asia/Shanghai"),
            ("0 9,18 * * *", "every day at 09:00 and 18:00 Asia/Shanghai"),
            (
                "0 9 1 * *",
                "on the 1st of every month at 09:00 Asia/Shanghai",
            ),
            (
                "0 9 1,15 * *",
                "on the 1st and 15th of every month at 09:00 Asia/Shanghai",
            ),
            (
                "0 20 24 12 *",
                "on the 24th of December at 20:00 Asia/Shanghai",
            ),
            (
                "0 9 31 * *",
                "on the 31st of every month (a month without that day is skipped) at 09:00 Asia/Shanghai",
            ),
            (
                "0 9 * 1,7 MON",
                "every Monday in January and July at 09:00 Asia/Shanghai",
            ),
            ("*/15 * * * *", "every 15 minutes (Asia/Shanghai)"),
            ("* * * * *", "every minute (Asia/Shanghai)"),
            ("30 * * * *", "every hour at :30 (Asia/Shanghai)"),
            (
                "0 * * * 1-5",
                "every hour at :00, every weekday (Asia/Shanghai)",
            ),
            (
                "0 */2 * * *",
                "every 2 hours from 00:00 to 22:00 (Asia/Shanghai)",
            ),
            (
                "15 9-17 * * *",
                "every hour from 09:15 to 17:15 (Asia/Shanghai)",
            ),
            (
                "*/30 9-17 * * 1-5",
                "every 30 minutes from 09:00 to 17:30, every weekday (Asia/Shanghai)",
            ),
            (
                "0 */6 * * *",
                "every day at 00:00, 06:00, 12:00 and 18:00 Asia/Shanghai",
            ),
        ] {
            assert_eq!(words(expr), said, "{expr}");
        }
    }

    #[test]
    fn shapes_that_cannot_be_said_exactly_show_the_expression() {
        for expr in [
            // Vixie: both day fields restricted means either.
            "0 9 1 * MON",
            // Not an even repetition across the hour.
            "*/7 * * * *",
            // Odd days of the month.
            "0 9 */2 * *",
            "0 9 * * */2",
            // Scattered minutes over many hours.
            "5,17,41 */2 * * *",
        ] {
            let s = Schedule::cron(expr, Asia::Shanghai, None, None).expect("valid cron");
            assert_eq!(
                describe(&s),
                format!("cron `{expr}` in Asia/Shanghai"),
                "{expr}"
            );
            assert_eq!(cron_in_words(s.cron_expr().unwrap()), None, "{expr}");
        }
    }

    #[test]
    fn one_offs_and_windows() {
        let (once, _) = Schedule::once("2026-12-24T20:00:00", Asia::Shanghai).unwrap();
        assert_eq!(describe(&once), "once at 2026-12-24 20:00 Asia/Shanghai");
        let (once, _) = Schedule::once("2026-12-24T20:00:30", Asia::Shanghai).unwrap();
        assert_eq!(describe(&once), "once at 2026-12-24 20:00:30 Asia/Shanghai");
        let s = Schedule::cron(
            "0 10 * * *",
            Asia::Shanghai,
            Some("2026-12-01".parse().unwrap()),
            Some("2026-12-31".parse().unwrap()),
        )
        .unwrap();
        assert_eq!(
            describe(&s),
            "every day at 10:00 Asia/Shanghai, from 2026-12-01 to 2026-12-31"
        );
    }
}
