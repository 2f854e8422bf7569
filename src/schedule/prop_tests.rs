//! Property tests of the schedule engine at scale (issue 12): random 5-field crons (lists, ranges,
//! steps, names) in random zones (with DST, half-hour DST, midnight DST, a two-hour shift, a
//! skipped day) over random windows around DST transitions, checked against a brute-force walk of
//! every UTC minute that applies the cron fields and the module's DST rule by hand (it never calls
//! croner nor the engine's own matcher).
//!
//! The default case count keeps `cargo test` fast; for a long run:
//! `PROPTEST_CASES=20000 cargo test --lib schedule::prop_tests`.

use std::collections::{BTreeSet, HashSet};

use chrono::{
    DateTime, Datelike, Days, DurationRound as _, NaiveDate, NaiveDateTime, Offset as _, TimeDelta,
    TimeZone as _, Timelike, Utc,
};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::{DstNote, Occurrence, Schedule, ScheduleError, parse_time};

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Zones with every kind of transition the tz database has in this century.
const ZONES: [Tz; 20] = [
    chrono_tz::America::New_York,
    chrono_tz::Europe::London,
    chrono_tz::Australia::Lord_Howe, // half-hour DST
    chrono_tz::America::Santiago,    // transitions at local midnight
    chrono_tz::Asia::Shanghai,
    chrono_tz::UTC,
    chrono_tz::Pacific::Apia, // skipped 2011-12-30 entirely
    chrono_tz::Europe::Berlin,
    chrono_tz::Australia::Sydney,
    chrono_tz::America::St_Johns, // -03:30
    chrono_tz::Asia::Kolkata,
    chrono_tz::Pacific::Chatham,     // +12:45 / +13:45
    chrono_tz::Africa::Casablanca,   // Ramadan shifts, several a year
    chrono_tz::Europe::Dublin,       // negative DST in the tz database
    chrono_tz::Asia::Tehran,         // DST until 2022, at midnight
    chrono_tz::America::Havana,      // gaps at midnight
    chrono_tz::America::Sao_Paulo,   // DST at midnight until 2019
    chrono_tz::Asia::Gaza,           // transitions at odd hours
    chrono_tz::Antarctica::Troll,    // a two-hour shift
    chrono_tz::America::Los_Angeles, // the common case again
];

/// One item of a cron field.
#[derive(Debug, Clone)]
enum Item {
    Star(Option<u32>),
    Value(u32),
    Range(u32, u32, Option<u32>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Minute,
    Hour,
    Dom,
    Month,
    Dow,
}

impl Kind {
    const fn bounds(self) -> (u32, u32) {
        match self {
            Self::Minute => (0, 59),
            Self::Hour => (0, 23),
            Self::Dom => (1, 31),
            Self::Month => (1, 12),
            Self::Dow => (0, 7),
        }
    }
}

/// A generated field: its items, and whether names are written instead of numbers.
#[derive(Debug, Clone)]
struct Field {
    kind: Kind,
    items: Vec<Item>,
    names: bool,
}

impl Field {
    fn atom(&self, v: u32, range_end: Option<u32>) -> String {
        match (self.kind, self.names) {
            (Kind::Month, true) => MONTHS[v as usize - 1].to_owned(),
            // A `SUN` ending a range that starts after Sunday is 7 (`FRI-SUN`); `SUN-SUN` is
            // Sunday alone, so 0-7 is written `SUN-7`; anywhere else 7 is written as a number.
            (Kind::Dow, true) if v == 7 && range_end.is_some_and(|lo| lo > 0) => "SUN".to_owned(),
            (Kind::Dow, true) if v < 7 => WEEKDAYS[v as usize].to_owned(),
            _ => v.to_string(),
        }
    }

    fn text(&self) -> String {
        self.items
            .iter()
            .map(|item| match item {
                Item::Star(None) => "*".to_owned(),
                Item::Star(Some(s)) => format!("*/{s}"),
                Item::Value(v) => self.atom(*v, None),
                Item::Range(lo, hi, step) => {
                    let base = format!("{}-{}", self.atom(*lo, None), self.atom(*hi, Some(*lo)));
                    step.map_or(base.clone(), |s| format!("{base}/{s}"))
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The values the field allows, computed by hand (day of week 7 is Sunday, 0).
    fn set(&self) -> BTreeSet<u32> {
        let (min, max) = self.kind.bounds();
        // `*` in day of week is every day, 0-6 (7 is only another name for 0).
        let star_max = if self.kind == Kind::Dow { 6 } else { max };
        let mut out = BTreeSet::new();
        for item in &self.items {
            let (lo, hi, step) = match item {
                Item::Star(step) => (min, star_max, step.unwrap_or(1)),
                Item::Value(v) => (*v, *v, 1),
                Item::Range(lo, hi, step) => (*lo, *hi, step.unwrap_or(1)),
            };
            let mut v = lo;
            while v <= hi {
                out.insert(if self.kind == Kind::Dow && v == 7 {
                    0
                } else {
                    v
                });
                v += step;
            }
        }
        out
    }

    /// Vixie cron: a day field starting with `*` does not restrict the day on its own.
    fn starts_with_star(&self) -> bool {
        matches!(self.items.first(), Some(Item::Star(_)))
    }
}

/// A generated cron expression with its hand-computed sets.
#[derive(Debug, Clone)]
struct Cron {
    text: String,
    minutes: BTreeSet<u32>,
    hours: BTreeSet<u32>,
    doms: BTreeSet<u32>,
    months: BTreeSet<u32>,
    dows: BTreeSet<u32>,
    /// Both day fields restricted: a day matching either fires (else both must match).
    day_or: bool,
}

impl Cron {
    fn new(fields: [Field; 5]) -> Self {
        let text = fields.iter().map(Field::text).collect::<Vec<_>>().join(" ");
        let day_or = !fields[2].starts_with_star() && !fields[4].starts_with_star();
        let [m, h, dom, mon, dow] = fields;
        Self {
            text,
            minutes: m.set(),
            hours: h.set(),
            doms: dom.set(),
            months: mon.set(),
            dows: dow.set(),
            day_or,
        }
    }

    fn matches_date(&self, d: NaiveDate) -> bool {
        let dom = self.doms.contains(&d.day());
        let dow = self.dows.contains(&d.weekday().num_days_from_sunday());
        self.months.contains(&d.month()) && if self.day_or { dom || dow } else { dom && dow }
    }

    fn matches(&self, w: NaiveDateTime) -> bool {
        self.minutes.contains(&w.minute())
            && self.hours.contains(&w.hour())
            && self.matches_date(w.date())
    }
}

fn item(kind: Kind) -> impl Strategy<Value = Item> {
    let (min, max) = kind.bounds();
    // Values a step may take: small ones mostly, sometimes up to the field's maximum.
    let step = prop_oneof![3 => 1..=6u32, 1 => 1..=max];
    let value_max = if kind == Kind::Dow { 6 } else { max };
    prop_oneof![
        2 => Just(Item::Star(None)),
        1 => step.clone().prop_map(|s| Item::Star(Some(s))),
        3 => (min..=value_max).prop_map(Item::Value),
        3 => (min..=max, min..=max, proptest::option::weighted(0.4, step)).prop_map(|(a, b, s)| {
            Item::Range(a.min(b), a.max(b), s)
        }),
    ]
}

fn field(kind: Kind) -> impl Strategy<Value = Field> {
    // Most fields are a single item; lists of up to three.
    let items = prop_oneof![
        3 => item(kind).prop_map(|i| vec![i]),
        1 => proptest::collection::vec(item(kind), 2..=3),
    ];
    (items, any::<bool>()).prop_map(move |(items, names)| Field {
        kind,
        items,
        names: names && matches!(kind, Kind::Month | Kind::Dow),
    })
}

/// Day fields are `*` more often than not, so that most expressions fire within a few days.
fn day_field(kind: Kind) -> impl Strategy<Value = Field> {
    prop_oneof![
        2 => Just(Field { kind, items: vec![Item::Star(None)], names: false }),
        1 => field(kind),
    ]
}

fn cron() -> impl Strategy<Value = Cron> {
    (
        field(Kind::Minute),
        field(Kind::Hour),
        day_field(Kind::Dom),
        day_field(Kind::Month),
        day_field(Kind::Dow),
    )
        .prop_map(|(m, h, dom, mon, dow)| Cron::new([m, h, dom, mon, dow]))
}

/// The instants in `year` where the zone's offset changes (found by a daily scan, then bisection
/// to the second).
fn transitions(tz: Tz, year: i32) -> Vec<DateTime<Utc>> {
    let offset = |t: DateTime<Utc>| tz.offset_from_utc_datetime(&t.naive_utc()).fix();
    let start = Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).unwrap();
    let mut out = Vec::new();
    let mut t = start;
    while t.year() == year {
        let next = t + TimeDelta::hours(12);
        if offset(t) != offset(next) {
            let (mut lo, mut hi) = (t, next);
            while hi - lo > TimeDelta::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if offset(mid) == offset(lo) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            out.push(hi);
        }
        t = next;
    }
    out
}

/// A window: a zone, a start instant (on a whole minute) and a length in minutes. Most windows
/// start shortly before one of the zone's transitions.
fn window() -> impl Strategy<Value = (Tz, DateTime<Utc>, i64)> {
    (
        0..ZONES.len(),
        2005i32..2036,
        0i64..(366 * 24 * 60),
        any::<prop::sample::Index>(),
        any::<bool>(),
        0i64..(36 * 60),
        prop_oneof![3 => 0i64..(2 * 24 * 60), 1 => 0i64..(4 * 24 * 60)],
    )
        .prop_map(|(z, year, anywhere, which, near, before, len)| {
            let tz = ZONES[z];
            let year_start = Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).unwrap();
            let ts = if near {
                transitions(tz, year)
            } else {
                Vec::new()
            };
            let from = if ts.is_empty() {
                year_start + TimeDelta::minutes(anywhere)
            } else {
                let t = ts[which.index(ts.len())];
                let t = t.duration_trunc(TimeDelta::minutes(1)).unwrap_or(t);
                t - TimeDelta::minutes(before)
            };
            (tz, from, len)
        })
}

/// The schedule's own `start`/`end` days: mostly none, sometimes around the window.
fn days_around() -> impl Strategy<Value = (Option<i64>, Option<i64>)> {
    let d = proptest::option::weighted(0.25, -2i64..4);
    (d.clone(), d)
}

/// Every UTC minute in `[from, to]`, one by one, with the DST rule applied by hand: an instant
/// fires when its wall clock matches and this is the first instant with that wall clock (a fold
/// fires its earlier instant only), or when a gap ends at it and a matching wall-clock time fell
/// inside that gap (the gap's times move to its end, all of them to one occurrence). A matched
/// wall-clock time counts only when its day is within `start..=end`.
fn brute_force(
    c: &Cron,
    tz: Tz,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let wall = |t: DateTime<Utc>| t.with_timezone(&tz).naive_local();
    let in_window =
        |w: NaiveDateTime| start.is_none_or(|s| w.date() >= s) && end.is_none_or(|e| w.date() <= e);
    let fires = |w: NaiveDateTime| in_window(w) && c.matches(w);
    let minute = TimeDelta::minutes(1);
    let mut out = Vec::new();
    let mut t = from;
    while t <= to {
        let w = wall(t);
        let first_seen = tz
            .from_local_datetime(&w)
            .earliest()
            .is_some_and(|e| e.with_timezone(&Utc) == t);
        let mut skipped = wall(t - minute) + minute;
        let mut gap_match = false;
        while skipped < w {
            gap_match |= fires(skipped);
            skipped += minute;
        }
        if (first_seen && fires(w)) || gap_match {
            out.push(t);
        }
        t += minute;
    }
    out
}

fn check(
    c: &Cron,
    tz: Tz,
    from: DateTime<Utc>,
    len: i64,
    (start, end): (Option<i64>, Option<i64>),
) -> Result<(), TestCaseError> {
    let to = from + TimeDelta::minutes(len);
    let local_day = from.with_timezone(&tz).date_naive();
    let shift = |d: i64| {
        if d >= 0 {
            local_day.checked_add_days(Days::new(d.unsigned_abs()))
        } else {
            local_day.checked_sub_days(Days::new(d.unsigned_abs()))
        }
    };
    let start = start.and_then(shift);
    let end = end.and_then(shift);
    let reference = brute_force(c, tz, start, end, from, to);
    let schedule = match Schedule::cron(&c.text, tz, start, end) {
        Ok(s) => s,
        Err(ScheduleError::StartAfterEnd { .. }) => {
            prop_assert!(start > end);
            return Ok(());
        }
        Err(ScheduleError::NeverFires { .. }) => {
            // Only an expression whose days never come (30 February) or a window without them.
            prop_assert!(
                reference.is_empty(),
                "{} never fires, yet {reference:?}",
                c.text
            );
            return Ok(());
        }
        Err(e) => return Err(TestCaseError::fail(format!("{}: {e}", c.text))),
    };
    let got: Vec<Occurrence> = schedule.occurrences(from, to).collect();
    let at: Vec<DateTime<Utc>> = got.iter().map(|o| o.at).collect();
    if at != reference {
        // Only the first difference: the lists can hold thousands of minutes.
        let i = at
            .iter()
            .zip(&reference)
            .take_while(|(a, b)| a == b)
            .count();
        return Err(TestCaseError::fail(format!(
            "{} in {} from {from} to {to}: {} occurrences, the walk has {}; first difference at #{i}: {:?} vs {:?}",
            c.text,
            tz.name(),
            at.len(),
            reference.len(),
            at.get(i).map(|t| t.with_timezone(&tz)),
            reference.get(i).map(|t| t.with_timezone(&tz)),
        )));
    }

    let mut walls = HashSet::new();
    for (i, o) in got.iter().enumerate() {
        // Strictly increasing, within the asked window.
        prop_assert!(from <= o.at && o.at <= to);
        if i > 0 {
            prop_assert!(
                got[i - 1].at < o.at,
                "not increasing: {:?}",
                &got[i - 1..=i]
            );
        }
        prop_assert_eq!(o.local, o.at.with_timezone(&tz));
        let w = o.local.naive_local();
        // No wall-clock time fires twice (a fold fires its earlier instant only).
        prop_assert!(walls.insert(w), "{w} fired twice");
        match o.dst {
            None => {
                // A plain occurrence is a matching wall-clock time that happens exactly once.
                prop_assert!(c.matches(w), "{w} does not match {}", c.text);
                prop_assert!(
                    tz.from_local_datetime(&w).single().is_some(),
                    "{w} is not single"
                );
            }
            Some(DstNote::Fold { wall, .. }) => {
                // The earlier of the two instants of a matching wall-clock time.
                prop_assert_eq!(wall, w);
                prop_assert!(c.matches(w));
                let earliest = tz
                    .from_local_datetime(&w)
                    .earliest()
                    .map(|e| e.with_timezone(&Utc));
                prop_assert_eq!(earliest, Some(o.at));
                prop_assert!(tz.from_local_datetime(&w).single().is_none());
            }
            Some(DstNote::Gap { wall, .. }) => {
                // A matching wall-clock time that does not exist, moved to the gap's end: the
                // first instant after it, which is `o.at`.
                prop_assert!(c.matches(wall));
                prop_assert!(
                    tz.from_local_datetime(&wall).earliest().is_none(),
                    "{wall} exists"
                );
                let before = (o.at - TimeDelta::minutes(1))
                    .with_timezone(&tz)
                    .naive_local();
                prop_assert!(before < wall && wall < w, "{before} < {wall} < {w}");
            }
        }
    }
    // The strict successor of each occurrence is the next one in the list.
    for pair in got.windows(2) {
        prop_assert_eq!(
            schedule.next_after(pair[0].at).map(|o| o.at),
            Some(pair[1].at)
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn random_crons_in_random_zones_match_the_minute_walk(
        c in cron(),
        (tz, from, len) in window(),
        days in days_around(),
    ) {
        check(&c, tz, from, len, days)?;
    }

    /// A one-off's wall-clock TIME near a transition: a time a gap skips is an error (never a
    /// silent move), a time in a fold is its earlier instant with a note, any other is exact.
    #[test]
    fn one_off_times_follow_the_dst_rule(
        (tz, from, len) in window(),
        seconds in prop_oneof![Just(false), Just(true)],
    ) {
        let wall = (from + TimeDelta::minutes(len % (36 * 60))).with_timezone(&tz).naive_local();
        // Shift by the window length so walls inside gaps (which no instant shows) come up too.
        let wall = wall - TimeDelta::minutes(len % 120);
        let text = if seconds { wall.format("%Y-%m-%dT%H:%M:%S") } else { wall.format("%Y-%m-%d %H:%M") }.to_string();
        let wall = chrono::NaiveDateTime::parse_from_str(&text, if seconds { "%Y-%m-%dT%H:%M:%S" } else { "%Y-%m-%d %H:%M" }).unwrap();
        let result = parse_time(&text, tz);
        match tz.from_local_datetime(&wall) {
            chrono::LocalResult::None => {
                let gap = matches!(result, Err(ScheduleError::TimeInGap { .. }));
                prop_assert!(gap, "{text} in {}: {result:?}", tz.name());
            }
            chrono::LocalResult::Single(at) => {
                let r = result.expect("an existing time");
                prop_assert_eq!(r.at, at.with_timezone(&Utc));
                prop_assert_eq!(r.dst, None);
            }
            chrono::LocalResult::Ambiguous(earlier, _) => {
                let r = result.expect("a time in a fold");
                prop_assert_eq!(r.at, earlier.with_timezone(&Utc));
                let fold = matches!(r.dst, Some(DstNote::Fold { .. }));
                prop_assert!(fold, "{text}: {:?}", r.dst);
            }
        }
    }

    #[test]
    fn every_generated_cron_parses(c in cron()) {
        // The generator writes only standard syntax: the parser must take all of it.
        let parsed = super::parse_cron(&c.text);
        prop_assert!(parsed.is_ok(), "{}: {:?}", c.text, parsed.err());
    }
}
