//! Time zones, the TIME grammar, and how a wall-clock time becomes one instant across DST changes.
//!
//! The rule (spec §4): a wall-clock time inside a spring-forward gap moves to the first valid
//! instant after the gap; a wall-clock time inside a fall-back fold means its earlier instant.

use chrono::{
    DateTime, FixedOffset, LocalResult, NaiveDateTime, Offset as _, TimeDelta, TimeZone as _,
    Timelike as _, Utc,
};
use chrono_tz::{TZ_VARIANTS, Tz};

use super::error::ScheduleError;

/// Why an instant is not simply "this wall-clock time in this zone".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DstNote {
    /// `wall` does not exist (clocks jump from `gap_start` to `gap_end`); it moved to `gap_end`,
    /// the first valid instant after the gap.
    Gap {
        wall: NaiveDateTime,
        gap_start: NaiveDateTime,
        gap_end: NaiveDateTime,
        zone: Tz,
    },
    /// `wall` happens twice (clocks go back: first at `earlier_offset`, again at `later_offset`);
    /// the earlier instant was used, once.
    Fold {
        wall: NaiveDateTime,
        earlier_offset: FixedOffset,
        later_offset: FixedOffset,
        zone: Tz,
    },
}

impl std::fmt::Display for DstNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Gap {
                wall,
                gap_start,
                gap_end,
                zone,
            } => write!(
                f,
                "{} on {} does not exist in {} (clocks jump from {} to {}); moved out of the DST gap to {}, the first valid time after it",
                clock(*wall),
                wall.date(),
                zone.name(),
                clock(*gap_start),
                clock(*gap_end),
                clock(*gap_end),
            ),
            Self::Fold {
                wall,
                earlier_offset,
                later_offset,
                zone,
            } => write!(
                f,
                "{} on {} happens twice in {} (clocks go back from UTC{} to UTC{}); in the DST fold it fires once, at the earlier instant ({} UTC{})",
                clock(*wall),
                wall.date(),
                zone.name(),
                earlier_offset,
                later_offset,
                clock(*wall),
                earlier_offset,
            ),
        }
    }
}

/// `HH:MM`, or `HH:MM:SS` when the seconds matter.
fn clock(t: NaiveDateTime) -> String {
    if t.second() == 0 {
        t.format("%H:%M").to_string()
    } else {
        t.format("%H:%M:%S").to_string()
    }
}

/// A TIME read in a zone: the instant, its wall clock there, and a note when a fold made it
/// ambiguous (the earlier instant was taken).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedTime {
    pub at: DateTime<Utc>,
    pub local: DateTime<Tz>,
    pub dst: Option<DstNote>,
}

/// An IANA time zone by name (`Asia/Shanghai`, `America/New_York`, `UTC`).
///
/// # Errors
/// [`ScheduleError::UnknownZone`], with a suggestion when a known name is close.
pub fn parse_zone(name: &str) -> Result<Tz, ScheduleError> {
    name.parse::<Tz>().map_err(|_| {
        let upper = name.trim().to_ascii_uppercase();
        match ABBREVIATIONS.iter().find(|(a, _)| *a == upper) {
            Some((_, advice)) => ScheduleError::ZoneAbbreviation {
                name: name.to_owned(),
                advice,
            },
            None => ScheduleError::UnknownZone {
                name: name.to_owned(),
                suggestion: suggest_zone(name).map(str::to_owned),
            },
        }
    })
}

/// Abbreviations people write for a zone, with the IANA names they may mean. (Edit distance
/// would suggest nonsense: `CST` is not `CET`.)
const ABBREVIATIONS: &[(&str, &str)] = &[
    (
        "CST",
        "Asia/Shanghai (China Standard Time) or America/Chicago (US Central)",
    ),
    ("CDT", "America/Chicago (US Central)"),
    (
        "IST",
        "Asia/Kolkata (India), Europe/Dublin (Ireland) or Asia/Jerusalem (Israel)",
    ),
    (
        "PST",
        "America/Los_Angeles (US Pacific) or Asia/Manila (Philippines)",
    ),
    ("PDT", "America/Los_Angeles (US Pacific)"),
    ("EDT", "America/New_York (US Eastern)"),
    ("MDT", "America/Denver (US Mountain)"),
    ("JST", "Asia/Tokyo"),
    ("KST", "Asia/Seoul"),
    ("HKT", "Asia/Hong_Kong"),
    ("SGT", "Asia/Singapore"),
    ("WIB", "Asia/Jakarta"),
    (
        "BST",
        "Europe/London (British Summer Time) or Asia/Dhaka (Bangladesh)",
    ),
    (
        "CEST",
        "Europe/Berlin, Europe/Paris or another city of Central Europe",
    ),
    (
        "EEST",
        "Europe/Athens, Europe/Helsinki or another city of Eastern Europe",
    ),
    ("AEST", "Australia/Sydney or Australia/Brisbane"),
    ("AEDT", "Australia/Sydney"),
    ("MSK", "Europe/Moscow"),
    ("AST", "Asia/Riyadh (Arabia) or America/Halifax (Atlantic)"),
    ("GST", "Asia/Dubai (Gulf)"),
];

/// A warning for a zone that is a fixed offset or a legacy abbreviation rather than a place
/// (`EST`, `CET`, `Etc/GMT-8`, `EST5EDT`…): it does not follow a place's daylight-saving rules,
/// so local times drift from what users expect. `None` for UTC and IANA city zones.
#[must_use]
pub fn zone_warning(tz: Tz) -> Option<String> {
    let name = tz.name();
    if matches!(
        name,
        "UTC" | "Etc/UTC" | "Etc/UCT" | "UCT" | "Universal" | "Etc/Universal" | "Zulu" | "Etc/Zulu"
    ) {
        return None;
    }
    let legacy = !name.contains('/') || name.starts_with("Etc/");
    if !legacy {
        return None;
    }
    let city = match name {
        "EST" | "EST5EDT" => "America/New_York",
        "MST" => "America/Denver (or America/Phoenix, which has no daylight saving time)",
        "MST7MDT" => "America/Denver",
        "HST" => "Pacific/Honolulu",
        "CST6CDT" => "America/Chicago",
        "PST8PDT" => "America/Los_Angeles",
        "CET" | "MET" => "Europe/Paris or Europe/Berlin",
        "EET" => "Europe/Athens",
        "WET" => "Europe/Lisbon",
        "GMT" | "Etc/GMT" | "GMT0" | "Greenwich" => "Europe/London, or UTC",
        "PRC" => "Asia/Shanghai",
        "ROK" => "Asia/Seoul",
        "Japan" => "Asia/Tokyo",
        "Singapore" => "Asia/Singapore",
        "Hongkong" => "Asia/Hong_Kong",
        _ => "the IANA name of a city, such as Asia/Shanghai or Europe/Berlin",
    };
    Some(format!(
        "time zone `{name}` is a fixed offset or a legacy abbreviation, not a place: it does not follow a city's daylight-saving rules; use {city}"
    ))
}

/// A close IANA name: same letters in another case, the same city, or a small edit distance.
fn suggest_zone(name: &str) -> Option<&'static str> {
    let wanted = name.trim().to_ascii_lowercase().replace(' ', "_");
    if wanted.is_empty() {
        return None;
    }
    let names = || TZ_VARIANTS.iter().map(|tz| tz.name());
    if let Some(exact) = names().find(|n| n.to_ascii_lowercase() == wanted) {
        return Some(exact);
    }
    if let Some(city) = names().find(|n| {
        n.rsplit('/')
            .next()
            .is_some_and(|c| c.to_ascii_lowercase() == wanted)
            && n.contains('/')
    }) {
        return Some(city);
    }
    names()
        .map(|n| (strsim::levenshtein(&wanted, &n.to_ascii_lowercase()), n))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// Reads TIME: RFC 3339 with an offset (`2026-12-01T10:00:00+08:00`, `…Z`), or a wall-clock time
/// read in `tz` (`2026-12-01T10:00:00`, `2026-12-01T10:00`, a space instead of `T` in either).
///
/// # Errors
/// [`ScheduleError::InvalidTime`] for anything else; [`ScheduleError::TimeInGap`] for a wall-clock
/// time that a spring-forward gap skips. A wall-clock time in a fold is the earlier instant,
/// with [`ResolvedTime::dst`] set.
pub fn parse_time(text: &str, tz: Tz) -> Result<ResolvedTime, ScheduleError> {
    let trimmed = text.trim();
    if let Ok(fixed) = DateTime::parse_from_rfc3339(trimmed) {
        let at = fixed.with_timezone(&Utc);
        return Ok(ResolvedTime {
            at,
            local: at.with_timezone(&tz),
            dst: None,
        });
    }
    let wall = parse_naive(trimmed).ok_or_else(|| ScheduleError::InvalidTime {
        text: text.to_owned(),
    })?;
    match resolve_wall(tz, wall) {
        Resolved::Exact(at) => Ok(ResolvedTime {
            at,
            local: at.with_timezone(&tz),
            dst: None,
        }),
        Resolved::Fold(at, note) => Ok(ResolvedTime {
            at,
            local: at.with_timezone(&tz),
            dst: Some(note),
        }),
        Resolved::Gap(
            _,
            DstNote::Gap {
                gap_start, gap_end, ..
            },
        ) => Err(ScheduleError::TimeInGap {
            wall: wall.format("%Y-%m-%dT%H:%M:%S").to_string(),
            zone: tz.name().to_owned(),
            gap_start: clock(gap_start),
            gap_end: clock(gap_end),
        }),
        Resolved::Gap(..) | Resolved::Unresolvable => Err(ScheduleError::InvalidTime {
            text: text.to_owned(),
        }),
    }
}

fn parse_naive(text: &str) -> Option<NaiveDateTime> {
    const FORMATS: [&str; 4] = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ];
    FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
}

/// A wall-clock time placed on the time line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// The wall-clock time happens exactly once.
    Exact(DateTime<Utc>),
    /// It happens twice: the earlier instant.
    Fold(DateTime<Utc>, DstNote),
    /// It does not happen: the first valid instant after the gap.
    Gap(DateTime<Utc>, DstNote),
    /// No valid instant within two days after it (never in a real zone).
    Unresolvable,
}

impl Resolved {
    pub(crate) fn instant(self) -> Option<(DateTime<Utc>, Option<DstNote>)> {
        match self {
            Self::Exact(at) => Some((at, None)),
            Self::Fold(at, note) | Self::Gap(at, note) => Some((at, Some(note))),
            Self::Unresolvable => None,
        }
    }
}

/// Places `wall` in `tz` by crier's DST rule.
pub(crate) fn resolve_wall(tz: Tz, wall: NaiveDateTime) -> Resolved {
    match tz.from_local_datetime(&wall) {
        LocalResult::Single(at) => Resolved::Exact(at.with_timezone(&Utc)),
        LocalResult::Ambiguous(earlier, later) => Resolved::Fold(
            earlier.with_timezone(&Utc),
            DstNote::Fold {
                wall,
                earlier_offset: earlier.offset().fix(),
                later_offset: later.offset().fix(),
                zone: tz,
            },
        ),
        LocalResult::None => match gap_end(tz, wall) {
            Some(at) => {
                let before = tz.offset_from_utc_datetime(&(at - TimeDelta::seconds(1)).naive_utc());
                let after = tz.offset_from_utc_datetime(&at.naive_utc());
                Resolved::Gap(
                    at,
                    DstNote::Gap {
                        wall,
                        gap_start: at.naive_utc() + before.fix(),
                        gap_end: at.naive_utc() + after.fix(),
                        zone: tz,
                    },
                )
            }
            None => Resolved::Unresolvable,
        },
    }
}

/// The instant a gap containing `wall` ends: the first wall-clock time after `wall` that exists.
/// Steps a minute at a time (real gaps last minutes to a day), then narrows to the second.
fn gap_end(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    let exists = |t: NaiveDateTime| tz.from_local_datetime(&t).earliest();
    let minute = TimeDelta::minutes(1);
    let mut missing = wall.with_nanosecond(0).unwrap_or(wall);
    let mut probe = missing + minute;
    for _ in 0..(2 * 24 * 60) {
        if exists(probe).is_some() {
            // `missing` does not exist and `probe` does: narrow to the first second that exists.
            let (mut lo, mut hi) = (missing, probe);
            while hi - lo > TimeDelta::seconds(1) {
                let mid = lo + TimeDelta::seconds((hi - lo).num_seconds() / 2);
                if exists(mid).is_some() {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            return exists(hi).map(|at| at.with_timezone(&Utc));
        }
        missing = probe;
        probe += minute;
    }
    None
}
