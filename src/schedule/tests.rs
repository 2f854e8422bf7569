//! Tests of the schedule module: parsing, windows, Vixie day rules, and DST in several zones.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc, Weekday};
use chrono_tz::Tz;
use chrono_tz::{America, Asia, Europe};

use super::{
    CronField, DstNote, Occurrence, Schedule, ScheduleError, parse_cron, parse_time, parse_zone,
};

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().expect("test instant")
}

fn day(text: &str) -> NaiveDate {
    text.parse().expect("test date")
}

fn cron(expr: &str, tz: Tz) -> Schedule {
    Schedule::cron(expr, tz, None, None).expect("valid cron")
}

/// Local wall clocks with their offsets, e.g. `2026-03-08 03:00 -04:00`.
fn locals(occurrences: impl Iterator<Item = Occurrence>) -> Vec<String> {
    occurrences
        .map(|o| o.local.format("%Y-%m-%d %H:%M %:z").to_string())
        .collect()
}

fn cron_err(expr: &str) -> String {
    parse_cron(expr).expect_err(expr).to_string()
}

// ---------------------------------------------------------------- cron parsing

/// Found by `prop_tests`: `SUN-SUN` read as `0-7`, every day of the week, where crontab reads
/// Sunday alone (a weekly campaign would have pushed daily).
#[test]
fn sun_to_sun_is_sunday_alone() {
    assert_eq!(
        parse_cron("* * * * SUN-SUN").unwrap().canonical(),
        "* * * * 0-0"
    );
    assert_eq!(
        parse_cron("0 9 * * 0-SUN").unwrap().canonical(),
        "0 9 * * 0-0"
    );
    // A range to SUN from any other day still ends on Sunday, and `SUN-7` is the whole week.
    assert_eq!(
        parse_cron("0 9 * * FRI-SUN").unwrap().canonical(),
        "0 9 * * 5-7"
    );
    assert_eq!(
        parse_cron("0 9 * * SUN-7").unwrap().canonical(),
        "0 9 * * 0-7"
    );
    let s = Schedule::cron("0 9 * * SUN-SUN", Asia::Shanghai, None, None).unwrap();
    let weekdays: Vec<Weekday> = s
        .occurrences(utc("2026-03-01T00:00:00Z"), utc("2026-03-15T00:00:00Z"))
        .map(|o| o.local.weekday())
        .collect();
    assert_eq!(weekdays, [Weekday::Sun, Weekday::Sun]);
}

/// Found by `prop_tests` (`* * *,* * *` was "refused by the cron engine"): standard cron reads a
/// `*` inside a list as the full range; croner refuses it, so it is written as one.
#[test]
fn a_star_inside_a_list_is_the_full_range() {
    assert_eq!(
        parse_cron("* * *,* * *").unwrap().canonical(),
        "* * 1-31,1-31 * *"
    );
    assert_eq!(
        parse_cron("*/20,5 * * * *").unwrap().canonical(),
        "0-59/20,5 * * * *"
    );
    assert_eq!(
        parse_cron("0 9 * * *,MON").unwrap().canonical(),
        "0 9 * * 0-6,1"
    );
    assert_eq!(
        parse_cron("0 9 * * 1,*/3").unwrap().canonical(),
        "0 9 * * 1,0-6/3"
    );
    let c = parse_cron("*/20,5 * * * *").unwrap();
    let at = |m: u32| day("2026-03-02").and_hms_opt(10, m, 0).unwrap();
    let fired: Vec<u32> = (0..60).filter(|m| c.matches(at(*m))).collect();
    assert_eq!(fired, [0, 5, 20, 40]);
    // `*,MON` starts with `*`: the day-of-week field does not restrict on its own (Vixie).
    let s = Schedule::cron("0 9 15 * *,MON", Asia::Shanghai, None, None).unwrap();
    let days: Vec<u32> = s
        .occurrences(utc("2026-03-01T00:00:00Z"), utc("2026-04-30T00:00:00Z"))
        .map(|o| o.local.day())
        .collect();
    assert_eq!(days, [15, 15]);
}

#[test]
fn names_are_case_insensitive_and_become_numbers() {
    assert_eq!(
        parse_cron("0 10 * * mon-FRI").unwrap().canonical(),
        "0 10 * * 1-5"
    );
    assert_eq!(
        parse_cron(" 0  0 1 jan,Jul * ").unwrap().canonical(),
        "0 0 1 1,7 *"
    );
    assert_eq!(
        parse_cron("0 9 * * FRI-SUN").unwrap().canonical(),
        "0 9 * * 5-7"
    );
    assert_eq!(
        parse_cron("0 9 * * SUN-SAT/2").unwrap().canonical(),
        "0 9 * * 0-6/2"
    );
    assert_eq!(
        parse_cron("*/15 9-17 * * *").unwrap().as_str(),
        "*/15 9-17 * * *"
    );
}

#[test]
fn rejected_extensions_each_have_their_own_message() {
    assert_eq!(
        cron_err("0 0 L * *"),
        "cron: `L` (last day) in the day-of-month field is not supported; crier accepts standard 5-field cron (minute hour day-of-month month day-of-week)"
    );
    assert!(matches!(
        parse_cron("0 0 * * 5L"),
        Err(ScheduleError::CronLast {
            field: CronField::DayOfWeek
        })
    ));
    assert!(matches!(
        parse_cron("0 0 LW * *"),
        Err(ScheduleError::CronLast { .. })
    ));
    assert!(matches!(
        parse_cron("0 0 15w * *"),
        Err(ScheduleError::CronNearestWeekday {
            field: CronField::DayOfMonth
        })
    ));
    assert_eq!(
        cron_err("0 0 * * 1#2"),
        "cron: `#` (nth weekday of the month) in the day-of-week field is not supported; crier accepts standard 5-field cron (minute hour day-of-month month day-of-week)"
    );
    assert_eq!(
        cron_err("0 0 ? * MON"),
        "cron: `?` in the day-of-month field is not supported; use `*`"
    );
    assert_eq!(
        cron_err("0 0 10 * * *"),
        "cron: 6 fields: a seconds field is not supported; crier accepts standard 5-field cron (minute hour day-of-month month day-of-week)"
    );
    assert!(matches!(
        parse_cron("0 0 10 * * * 2026"),
        Err(ScheduleError::CronYears)
    ));
    assert_eq!(
        cron_err("@daily"),
        "cron: `@daily` is not supported; crier accepts standard 5-field cron (minute hour day-of-month month day-of-week), e.g. `0 0 * * *`"
    );
    assert!(matches!(
        parse_cron("@reboot"),
        Err(ScheduleError::CronNickname {
            equivalent: None,
            ..
        })
    ));
    assert_eq!(
        cron_err("0 10 * *"),
        "cron: found 4 fields, expected 5; crier accepts standard 5-field cron (minute hour day-of-month month day-of-week)"
    );
    assert!(matches!(
        parse_cron("1 2 3 4 5 6 7 8"),
        Err(ScheduleError::CronFieldCount { found: 8 })
    ));
    assert!(matches!(parse_cron("   "), Err(ScheduleError::CronEmpty)));
    // croner's own AND prefix is not standard either.
    assert!(matches!(
        parse_cron("0 0 1 * +MON"),
        Err(ScheduleError::CronSyntax { .. })
    ));
}

#[test]
fn out_of_range_and_malformed_fields_are_named() {
    assert_eq!(
        cron_err("60 * * * *"),
        "cron: minute value 60 is out of range (0-59)"
    );
    assert_eq!(
        cron_err("0 24 * * *"),
        "cron: hour value 24 is out of range (0-23)"
    );
    assert_eq!(
        cron_err("0 0 0 * *"),
        "cron: day-of-month value 0 is out of range (1-31)"
    );
    assert!(parse_cron("0 0 32 * *").is_err());
    assert_eq!(
        cron_err("0 0 * 13 *"),
        "cron: month value 13 is out of range (1-12)"
    );
    assert_eq!(
        cron_err("0 0 * * 8"),
        "cron: day-of-week value 8 is out of range (0-7)"
    );
    assert!(parse_cron("0 0 * * 99999999999999999999").is_err());
    assert_eq!(
        cron_err("0 5-1 * * *"),
        "cron: the range `5-1` in the hour field goes backwards; write the smaller value first"
    );
    assert_eq!(
        cron_err("*/0 * * * *"),
        "cron: the step in `*/0` (minute field) must be at least 1"
    );
    assert_eq!(
        cron_err("5/15 * * * *"),
        "cron: `5/15` in the minute field: a step needs `*` or a range before it; write `5-59/15`"
    );
    assert_eq!(
        cron_err("0 0 * * FOO"),
        "cron: unknown name `FOO` in the day-of-week field (use SUN-SAT)"
    );
    assert_eq!(
        cron_err("0 0 * MON *"),
        "cron: `MON` is not allowed in the month field (names are only for months JAN-DEC and days of the week SUN-SAT)"
    );
    assert!(matches!(
        parse_cron("0 0 JAN * *"),
        Err(ScheduleError::CronNameNotAllowed { .. })
    ));
    for bad in [
        "1,,2 * * * *",
        "*-5 * * * *",
        "1-2-3 * * * *",
        "*/5/2 * * * *",
        "1x * * * *",
    ] {
        assert!(
            matches!(parse_cron(bad), Err(ScheduleError::CronSyntax { .. })),
            "{bad}"
        );
    }
}

// ---------------------------------------------------------------- day rules

fn fire_days(expr: &str, from: &str, to: &str) -> Vec<u32> {
    cron(expr, Asia::Shanghai)
        .occurrences(utc(from), utc(to))
        .map(|o| o.local.day())
        .collect()
}

#[test]
fn vixie_or_when_both_day_fields_are_restricted() {
    // December 2026: the 13th is a Sunday; the Fridays are the 4th, 11th, 18th and 25th.
    assert_eq!(
        NaiveDate::from_ymd_opt(2026, 12, 13).unwrap().weekday(),
        Weekday::Sun
    );
    let days = fire_days(
        "0 9 13 * FRI",
        "2026-11-30T16:00:00Z",
        "2026-12-31T15:59:59Z",
    );
    assert_eq!(days, [4, 11, 13, 18, 25]);
}

#[test]
fn a_day_field_starting_with_star_makes_the_rule_an_and() {
    // Odd-numbered days that are Mondays (Mondays of Dec 2026: 7, 14, 21, 28), as crontab does.
    let days = fire_days(
        "0 9 */2 * MON",
        "2026-11-30T16:00:00Z",
        "2026-12-31T15:59:59Z",
    );
    assert_eq!(days, [7, 21]);
    // Only the day-of-week restricted: every Monday.
    let days = fire_days(
        "0 9 * * MON",
        "2026-11-30T16:00:00Z",
        "2026-12-31T15:59:59Z",
    );
    assert_eq!(days, [7, 14, 21, 28]);
}

#[test]
fn one_to_five_is_monday_to_friday_and_seven_is_sunday() {
    let week = |expr: &str| -> Vec<Weekday> {
        cron(expr, Asia::Shanghai)
            .occurrences(utc("2026-11-29T16:00:00Z"), utc("2026-12-06T15:59:59Z"))
            .map(|o| o.local.weekday())
            .collect()
    };
    use Weekday::{Fri, Mon, Sun, Thu, Tue, Wed};
    assert_eq!(week("0 10 * * 1-5"), [Mon, Tue, Wed, Thu, Fri]);
    assert_eq!(week("0 10 * * MON-FRI"), [Mon, Tue, Wed, Thu, Fri]);
    assert_eq!(week("0 10 * * 7"), [Sun]);
    assert_eq!(week("0 10 * * 0"), [Sun]);
    assert_eq!(week("0 10 * * sun"), [Sun]);
    assert_eq!(week("0 10 * * FRI-SUN").len(), 3);
}

#[test]
fn month_names_select_months() {
    let s = cron("0 0 1 JAN,jul *", Asia::Shanghai);
    let months: Vec<u32> = s
        .occurrences(utc("2026-01-01T00:00:00Z"), utc("2027-12-31T00:00:00Z"))
        .map(|o| o.local.month())
        .collect();
    assert_eq!(months, [7, 1, 7]);
}

// ---------------------------------------------------------------- windows

#[test]
fn start_and_end_are_inclusive_days_in_the_zone() {
    let s = Schedule::cron(
        "0 10 * * *",
        Asia::Shanghai,
        Some(day("2026-12-01")),
        Some(day("2026-12-03")),
    )
    .unwrap();
    assert_eq!(
        locals(s.occurrences(utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z"))),
        [
            "2026-12-01 10:00 +08:00",
            "2026-12-02 10:00 +08:00",
            "2026-12-03 10:00 +08:00"
        ]
    );
    assert_eq!(s.first().unwrap().at, utc("2026-12-01T02:00:00Z"));
    assert_eq!(
        s.window(),
        (Some(day("2026-12-01")), Some(day("2026-12-03")))
    );
    // The window's days are the zone's days: 00:00 Shanghai is 16:00Z the day before.
    let midnight = Schedule::cron(
        "0 0 * * *",
        Asia::Shanghai,
        Some(day("2026-12-01")),
        Some(day("2026-12-01")),
    )
    .unwrap();
    assert_eq!(
        midnight
            .first_at_or_after(utc("2020-01-01T00:00:00Z"))
            .unwrap()
            .at,
        utc("2026-11-30T16:00:00Z")
    );
    assert_eq!(midnight.next_after(utc("2026-11-30T16:00:00Z")), None);
}

#[test]
fn start_after_end_is_an_error() {
    let err = Schedule::cron(
        "0 10 * * *",
        Asia::Shanghai,
        Some(day("2026-12-31")),
        Some(day("2026-12-01")),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "start 2026-12-31 is after end 2026-12-01");
}

#[test]
fn a_cron_that_never_fires_in_its_window_is_an_error() {
    let err = Schedule::cron("0 10 30 2 *", Asia::Shanghai, None, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cron `0 10 30 2 *` never fires: no date matches its day-of-month, month and day-of-week fields"
    );
    assert!(
        Schedule::cron(
            "0 10 31 4,6,9,11 *",
            Asia::Shanghai,
            Some(day("2026-01-01")),
            None
        )
        .is_err()
    );
    // 2026-12-01 is a Tuesday.
    let err = Schedule::cron(
        "0 10 * * MON",
        Asia::Shanghai,
        Some(day("2026-12-01")),
        Some(day("2026-12-01")),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cron `0 10 * * MON` never fires on 2026-12-01 (its only day)"
    );
    let err = Schedule::cron(
        "0 0 29 2 *",
        Asia::Shanghai,
        Some(day("2026-01-01")),
        Some(day("2027-12-31")),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cron `0 0 29 2 *` never fires between 2026-01-01 and 2027-12-31"
    );
    // A leap day with no window does fire, every four years.
    let leap = Schedule::cron("0 0 29 2 *", Asia::Shanghai, Some(day("2026-01-01")), None).unwrap();
    assert_eq!(leap.first().unwrap().local.date_naive(), day("2028-02-29"));
    // Vixie OR: the 30th of February never comes, but Fridays in February do.
    assert!(Schedule::cron("0 10 30 2 FRI", Asia::Shanghai, None, None).is_ok());
}

#[test]
fn the_earliest_possible_query_is_answered() {
    let s = cron("0 10 * * *", Asia::Shanghai);
    let first = s.first_at_or_after(DateTime::<Utc>::MIN_UTC).unwrap();
    assert_eq!(
        first.local.format("%Y-%m-%d %H:%M").to_string(),
        "0001-01-01 10:00"
    );
}

#[test]
fn first_without_start_is_deterministic() {
    let s = cron("0 10 * * MON", Asia::Shanghai);
    // 2000-01-03 was the first Monday of 2000.
    assert_eq!(s.first().unwrap().local.date_naive(), day("2000-01-03"));
    assert!(s.is_cron());
    assert_eq!(s.cron_text(), Some("0 10 * * MON"));
    assert_eq!(s.zone(), Asia::Shanghai);
}

#[test]
fn occurrences_are_bounded_inclusively_and_next_after_is_strict() {
    let s = cron("0 10 * * *", Asia::Shanghai);
    let at = utc("2026-12-01T02:00:00Z");
    assert_eq!(s.occurrences(at, at).count(), 1);
    assert_eq!(
        s.occurrences(at + TimeDelta::seconds(1), at + TimeDelta::days(1))
            .count(),
        1
    );
    assert_eq!(
        s.occurrences(
            at + TimeDelta::seconds(1),
            at + TimeDelta::days(1) - TimeDelta::seconds(1)
        )
        .count(),
        0
    );
    assert_eq!(s.occurrences(at, at - TimeDelta::seconds(1)).count(), 0);
    assert_eq!(s.first_at_or_after(at).unwrap().at, at);
    assert_eq!(s.next_after(at).unwrap().at, at + TimeDelta::days(1));
}

#[test]
fn shanghai_has_no_dst_notes() {
    let s = cron("0 10 * * *", Asia::Shanghai);
    let all: Vec<Occurrence> = s
        .occurrences(utc("2026-01-01T00:00:00Z"), utc("2026-12-31T23:59:59Z"))
        .collect();
    assert_eq!(all.len(), 365);
    assert!(
        all.iter()
            .all(|o| o.dst.is_none() && o.at.format("%H:%M").to_string() == "02:00")
    );
}

// ---------------------------------------------------------------- one-offs and TIME

#[test]
fn one_off_rfc3339_and_wall_clock_times() {
    let (s, note) = Schedule::once("2026-12-01T10:00:00+08:00", America::New_York).unwrap();
    assert_eq!(note, None);
    assert!(!s.is_cron());
    assert_eq!(s.cron_text(), None);
    assert_eq!(s.first().unwrap().at, utc("2026-12-01T02:00:00Z"));
    assert_eq!(
        s.first().unwrap().local.to_rfc3339(),
        "2026-11-30T21:00:00-05:00"
    );
    for text in [
        "2026-12-01T10:00:00",
        "2026-12-01T10:00",
        "2026-12-01 10:00:00",
        "2026-12-01 10:00",
    ] {
        let t = parse_time(text, Asia::Shanghai).unwrap();
        assert_eq!(t.at, utc("2026-12-01T02:00:00Z"), "{text}");
        assert_eq!(t.dst, None);
    }
    assert_eq!(
        parse_time("2026-12-01T02:00:00Z", Europe::Berlin)
            .unwrap()
            .at,
        utc("2026-12-01T02:00:00Z")
    );
    let s = Schedule::once("2026-12-01T10:00:00+08:00", Asia::Shanghai)
        .unwrap()
        .0;
    assert_eq!(
        s.occurrences(utc("2026-12-01T02:00:00Z"), utc("2026-12-01T02:00:00Z"))
            .count(),
        1
    );
    assert_eq!(
        s.occurrences(utc("2026-12-01T02:00:01Z"), utc("2027-01-01T00:00:00Z"))
            .count(),
        0
    );
    assert_eq!(s.next_after(utc("2026-12-01T02:00:00Z")), None);
}

#[test]
fn malformed_times_are_explained() {
    for bad in [
        "tomorrow",
        "2026-13-01T10:00:00",
        "2026-12-01",
        "10:00",
        "2026-12-01T10:00:00+25:00",
    ] {
        let err = parse_time(bad, Asia::Shanghai).unwrap_err();
        assert!(matches!(err, ScheduleError::InvalidTime { .. }), "{bad}");
    }
    assert_eq!(
        parse_time("tomorrow", Asia::Shanghai)
            .unwrap_err()
            .to_string(),
        "`tomorrow` is not a time: write a wall-clock time like `2026-12-01T10:00:00` (read in the time zone) or RFC 3339 with an offset like `2026-12-01T10:00:00+08:00`"
    );
}

#[test]
fn a_one_off_in_a_gap_is_an_error() {
    let err = Schedule::once("2026-03-08T02:30:00", America::New_York).unwrap_err();
    assert_eq!(
        err.to_string(),
        "2026-03-08T02:30:00 does not exist in America/New_York (clocks jump from 02:00 to 03:00)"
    );
    let err = Schedule::once("2026-03-29 02:15", Europe::Berlin).unwrap_err();
    assert_eq!(
        err.to_string(),
        "2026-03-29T02:15:00 does not exist in Europe/Berlin (clocks jump from 02:00 to 03:00)"
    );
    // The edges of the gap exist.
    assert!(Schedule::once("2026-03-08T01:59:59", America::New_York).is_ok());
    assert!(Schedule::once("2026-03-08T03:00:00", America::New_York).is_ok());
    // With an explicit offset the instant is unambiguous.
    assert!(Schedule::once("2026-03-08T02:30:00-05:00", America::New_York).is_ok());
}

#[test]
fn a_one_off_in_a_fold_is_the_earlier_instant_with_a_note() {
    let (s, note) = Schedule::once("2026-11-01T01:30:00", America::New_York).unwrap();
    assert_eq!(s.first().unwrap().at, utc("2026-11-01T05:30:00Z")); // 01:30 EDT, not 06:30Z EST
    let note = note.expect("fold note");
    assert_eq!(s.first().unwrap().dst, Some(note));
    assert_eq!(
        note.to_string(),
        "01:30 on 2026-11-01 happens twice in America/New_York (clocks go back from UTC-04:00 to UTC-05:00); in the DST fold it fires once, at the earlier instant (01:30 UTC-04:00)"
    );
    let (s, note) = Schedule::once("2026-10-25T02:30:00", Europe::Berlin).unwrap();
    assert_eq!(s.first().unwrap().at, utc("2026-10-25T00:30:00Z"));
    assert!(matches!(note, Some(DstNote::Fold { .. })));
}

// ---------------------------------------------------------------- DST for cron

#[test]
fn daily_in_the_spring_gap_moves_to_the_end_of_the_gap() {
    for (tz, from, to, moved) in [
        (
            America::New_York,
            "2026-03-07T00:00:00Z",
            "2026-03-10T00:00:00Z",
            "2026-03-08 03:00 -04:00",
        ),
        (
            Europe::Berlin,
            "2026-03-28T00:00:00Z",
            "2026-03-31T00:00:00Z",
            "2026-03-29 03:00 +02:00",
        ),
    ] {
        let s = cron("30 2 * * *", tz);
        let got: Vec<Occurrence> = s.occurrences(utc(from), utc(to)).collect();
        assert_eq!(got.len(), 3, "{tz}");
        assert_eq!(locals(got.iter().copied())[1], moved);
        assert_eq!(got[0].dst, None);
        assert_eq!(got[2].dst, None);
        let note = got[1].dst.expect("gap note");
        assert!(matches!(note, DstNote::Gap { .. }));
        assert!(note.to_string().starts_with("02:30 on 2026-03-"), "{note}");
        assert!(
            note.to_string()
                .contains("(clocks jump from 02:00 to 03:00); moved out of the DST gap to 03:00"),
            "{note}"
        );
    }
}

#[test]
fn daily_in_the_fall_fold_fires_once_at_the_earlier_instant() {
    for (tz, expr, from, to, earlier) in [
        (
            America::New_York,
            "30 1 * * *",
            "2026-10-31T00:00:00Z",
            "2026-11-03T00:00:00Z",
            "2026-11-01T05:30:00Z",
        ),
        (
            Europe::Berlin,
            "30 2 * * *",
            "2026-10-24T00:00:00Z",
            "2026-10-27T00:00:00Z",
            "2026-10-25T00:30:00Z",
        ),
    ] {
        let got: Vec<Occurrence> = cron(expr, tz).occurrences(utc(from), utc(to)).collect();
        assert_eq!(got.len(), 3, "{tz}");
        assert_eq!(got[1].at, utc(earlier));
        assert!(matches!(got[1].dst, Some(DstNote::Fold { .. })));
        assert_eq!(got[0].dst, None);
    }
}

#[test]
fn hourly_across_the_new_york_transitions() {
    let s = cron("30 * * * *", America::New_York);
    // 2026-03-08 00:00 EST = 05:00Z; to 05:00 EDT = 09:00Z.
    let spring: Vec<Occurrence> = s
        .occurrences(utc("2026-03-08T05:00:00Z"), utc("2026-03-08T09:00:00Z"))
        .collect();
    assert_eq!(
        locals(spring.iter().copied()),
        [
            "2026-03-08 00:30 -05:00",
            "2026-03-08 01:30 -05:00",
            "2026-03-08 03:00 -04:00",
            "2026-03-08 03:30 -04:00",
            "2026-03-08 04:30 -04:00"
        ]
    );
    assert!(matches!(spring[2].dst, Some(DstNote::Gap { .. })));
    // 2026-11-01 00:00 EDT = 04:00Z; to 04:00 EST = 09:00Z. The repeated 01:30 is not sent again.
    let fall: Vec<Occurrence> = s
        .occurrences(utc("2026-11-01T04:00:00Z"), utc("2026-11-01T09:00:00Z"))
        .collect();
    assert_eq!(
        locals(fall.iter().copied()),
        [
            "2026-11-01 00:30 -04:00",
            "2026-11-01 01:30 -04:00",
            "2026-11-01 02:30 -05:00",
            "2026-11-01 03:30 -05:00"
        ]
    );
    assert!(matches!(fall[1].dst, Some(DstNote::Fold { .. })));
}

#[test]
fn hourly_across_the_berlin_transitions() {
    let s = cron("0 * * * *", Europe::Berlin);
    // Spring: 02:00 does not exist; it moves onto 03:00, which is then sent once.
    let spring = locals(s.occurrences(utc("2026-03-29T00:00:00Z"), utc("2026-03-29T03:00:00Z")));
    assert_eq!(
        spring,
        [
            "2026-03-29 01:00 +01:00",
            "2026-03-29 03:00 +02:00",
            "2026-03-29 04:00 +02:00",
            "2026-03-29 05:00 +02:00"
        ]
    );
    // Fall: 02:00 happens twice; sent at the first.
    let fall = locals(s.occurrences(utc("2026-10-24T23:00:00Z"), utc("2026-10-25T03:00:00Z")));
    assert_eq!(
        fall,
        [
            "2026-10-25 01:00 +02:00",
            "2026-10-25 02:00 +02:00",
            "2026-10-25 03:00 +01:00",
            "2026-10-25 04:00 +01:00"
        ]
    );
}

#[test]
fn a_gap_swallowing_several_matches_gives_one_occurrence() {
    let s = cron("*/15 * * * *", America::New_York);
    let got = locals(s.occurrences(utc("2026-03-08T06:45:00Z"), utc("2026-03-08T07:15:00Z")));
    assert_eq!(
        got,
        [
            "2026-03-08 01:45 -05:00",
            "2026-03-08 03:00 -04:00",
            "2026-03-08 03:15 -04:00"
        ]
    );
}

#[test]
fn a_query_starting_at_the_end_of_a_gap_still_sees_the_moved_occurrence() {
    let s = cron("30 2 * * *", America::New_York);
    let gap_end = utc("2026-03-08T07:00:00Z"); // 03:00 EDT
    let first = s.first_at_or_after(gap_end).unwrap();
    assert_eq!(first.at, gap_end);
    assert!(first.dst.is_some());
    assert_eq!(
        s.next_after(gap_end).unwrap().at,
        utc("2026-03-09T06:30:00Z")
    );
    assert_eq!(
        s.next_after(gap_end - TimeDelta::seconds(1)).unwrap().at,
        gap_end
    );
}

#[test]
fn a_query_starting_inside_a_fold_does_not_send_the_repeat() {
    let s = cron("30 1 * * *", America::New_York);
    // 01:15 EST (the second pass) is after 01:30 EDT: the next occurrence is the next day.
    let next = s.first_at_or_after(utc("2026-11-01T06:15:00Z")).unwrap();
    assert_eq!(
        next.local.format("%Y-%m-%d %H:%M %:z").to_string(),
        "2026-11-02 01:30 -05:00"
    );
}

#[test]
fn zones_are_iana_names_with_suggestions() {
    assert_eq!(parse_zone("Asia/Shanghai").unwrap(), Asia::Shanghai);
    assert_eq!(parse_zone("UTC").unwrap(), chrono_tz::UTC);
    assert_eq!(
        parse_zone("Asia/Shangai").unwrap_err().to_string(),
        "unknown time zone `Asia/Shangai`; did you mean `Asia/Shanghai`?"
    );
    assert_eq!(
        parse_zone("america/new_york").unwrap_err().to_string(),
        "unknown time zone `america/new_york`; did you mean `America/New_York`?"
    );
    assert_eq!(
        parse_zone("Berlin").unwrap_err().to_string(),
        "unknown time zone `Berlin`; did you mean `Europe/Berlin`?"
    );
    assert_eq!(
        parse_zone("Mars/Olympus_Mons").unwrap_err().to_string(),
        "unknown time zone `Mars/Olympus_Mons`"
    );
    assert!(parse_zone("").is_err());
}

// ---------------------------------------------------------------- speed

#[test]
fn planning_many_cron_campaigns_is_fast() {
    let exprs = [
        "0 10 * * *",
        "30 9 * * MON-FRI",
        "0 */4 * * *",
        "15 8 1,15 * *",
        "0 20 * * SAT,SUN",
    ];
    let zones = [Asia::Shanghai, America::New_York, Europe::Berlin];
    let schedules: Vec<Schedule> = (0..10_000)
        .map(|i| cron(exprs[i % exprs.len()], zones[i % zones.len()]))
        .collect();
    let from = utc("2026-03-05T00:00:00Z"); // spans the US spring transition
    let to = from + TimeDelta::days(7);
    let started = std::time::Instant::now();
    let count: usize = schedules
        .iter()
        .map(|s| s.occurrences(from, to).count())
        .sum();
    assert!(count > 100_000, "{count}");
    // Speed is measured by `cargo bench --bench pipeline`, never asserted in a test.
    eprintln!("{count} occurrences in {:?}", started.elapsed());
}

// ---------------------------------------------------------------- against a brute-force reference

mod reference {
    use super::*;
    use chrono::{NaiveDateTime, Offset as _, TimeZone as _};
    use proptest::prelude::*;

    /// Every UTC minute in [from, to], checked one by one: an instant is an occurrence when its
    /// wall clock matches and is seen for the first time, or when a gap ends at it and a matching
    /// wall-clock time fell inside that gap.
    fn brute_force(
        expr: &str,
        tz: Tz,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<DateTime<Utc>> {
        let c = parse_cron(expr).unwrap();
        let wall = |t: DateTime<Utc>| -> NaiveDateTime { t.with_timezone(&tz).naive_local() };
        let mut out = Vec::new();
        let mut t = from;
        while t <= to {
            let w = wall(t);
            let first_time_seen = tz
                .from_local_datetime(&w)
                .earliest()
                .map(|e| e.with_timezone(&Utc))
                == Some(t);
            let prev = wall(t - TimeDelta::minutes(1)) + TimeDelta::minutes(1);
            let mut gap_match = false;
            let mut skipped = prev;
            while skipped < w {
                gap_match |= c.matches(skipped);
                skipped += TimeDelta::minutes(1);
            }
            if (c.matches(w) && first_time_seen) || gap_match {
                out.push(t);
            }
            t += TimeDelta::minutes(1);
        }
        out
    }

    fn zone() -> impl Strategy<Value = (Tz, &'static str)> {
        prop_oneof![
            Just((America::New_York, "2026-03-08T04:00:00Z")),
            Just((America::New_York, "2026-11-01T03:00:00Z")),
            Just((Europe::Berlin, "2026-03-28T23:00:00Z")),
            Just((Europe::Berlin, "2026-10-24T23:00:00Z")),
            // Half-hour DST shifts.
            Just((chrono_tz::Australia::Lord_Howe, "2026-04-04T13:00:00Z")),
            Just((chrono_tz::Australia::Lord_Howe, "2026-10-03T14:00:00Z")),
            // Samoa skipped 2011-12-30 entirely.
            Just((chrono_tz::Pacific::Apia, "2011-12-29T08:00:00Z")),
            Just((Asia::Shanghai, "2026-06-01T00:00:00Z")),
        ]
    }

    fn expr() -> impl Strategy<Value = String> {
        let minute = prop_oneof![
            Just("0"),
            Just("30"),
            Just("*/15"),
            Just("0,30"),
            Just("45"),
            Just("*/7"),
            Just("10-20/5")
        ];
        let hour = prop_oneof![
            Just("*"),
            Just("1"),
            Just("2"),
            Just("3"),
            Just("0-3"),
            Just("*/2"),
            Just("23"),
            Just("12")
        ];
        let dow = prop_oneof![
            Just("*"),
            Just("*"),
            Just("MON-FRI"),
            Just("SAT,SUN"),
            Just("5")
        ];
        (minute, hour, dow).prop_map(|(m, h, d)| format!("{m} {h} * * {d}"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn occurrences_match_the_reference(
            (tz, around) in zone(),
            expr in expr(),
            start_minutes in 0i64..(24 * 60),
            len_minutes in 0i64..(30 * 60),
        ) {
            let from = utc(around) + TimeDelta::minutes(start_minutes);
            let to = from + TimeDelta::minutes(len_minutes);
            let schedule = Schedule::cron(&expr, tz, None, None).unwrap();
            let got: Vec<Occurrence> = schedule.occurrences(from, to).collect();
            let at: Vec<DateTime<Utc>> = got.iter().map(|o| o.at).collect();
            prop_assert_eq!(&at, &brute_force(&expr, tz, from, to));
            for o in &got {
                // A note exactly when the wall clock is not simply the matched time in one offset.
                let fixed = o.local.offset().fix();
                prop_assert_eq!(o.local.with_timezone(&fixed).with_timezone(&Utc), o.at);
                if o.dst.is_none() {
                    prop_assert!(schedule.cron_expr().unwrap().matches(o.local.naive_local()));
                }
            }
            // The strict successor agrees with the list.
            if let Some(first) = got.first() {
                prop_assert_eq!(schedule.next_after(first.at).map(|o| o.at).filter(|t| *t <= to), got.get(1).map(|o| o.at));
            }
        }
    }
}

#[test]
fn max_per_day_bounds_every_day_of_a_year_in_a_dst_zone() {
    for (expr, bound) in [
        ("0 10 * * *", 2),
        ("*/15 9-17 * * *", 40),
        ("* * * * *", 1500),
        ("0,30 8,20 * * MON-FRI", 6),
        ("5-59/20 */6 * * *", 15),
    ] {
        let cron = super::cron::parse_cron(expr).unwrap();
        assert_eq!(cron.max_per_day(), bound, "{expr}");
        // Any 24 hours around both DST changes of a zone fire at most that often.
        let s = Schedule::cron(expr, chrono_tz::America::New_York, None, None).unwrap();
        for (from, to) in [
            ("2026-03-06T00:00:00Z", "2026-03-11T00:00:00Z"),
            ("2026-10-30T00:00:00Z", "2026-11-04T00:00:00Z"),
        ] {
            let times: Vec<_> = s.occurrences(utc(from), utc(to)).map(|o| o.at).collect();
            let mut end = 0;
            for (i, t) in times.iter().enumerate() {
                while end < times.len() && times[end] < *t + TimeDelta::hours(24) {
                    end += 1;
                }
                let in_day = u32::try_from(end - i).unwrap();
                assert!(in_day <= bound, "{expr}: {in_day} from {t}");
            }
        }
    }
}
