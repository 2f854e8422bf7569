//! Everything that can be wrong with a schedule, one variant per problem, each message written for
//! the person who edits the campaign file.

use chrono::NaiveDate;

/// A field of a 5-field cron expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CronField {
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl CronField {
    /// The five fields in the order they are written.
    pub const ALL: [Self; 5] = [
        Self::Minute,
        Self::Hour,
        Self::DayOfMonth,
        Self::Month,
        Self::DayOfWeek,
    ];

    /// The smallest and largest number the field accepts.
    #[must_use]
    pub const fn bounds(self) -> (u32, u32) {
        match self {
            Self::Minute => (0, 59),
            Self::Hour => (0, 23),
            Self::DayOfMonth => (1, 31),
            Self::Month => (1, 12),
            Self::DayOfWeek => (0, 7),
        }
    }
}

impl std::fmt::Display for CronField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::DayOfMonth => "day-of-month",
            Self::Month => "month",
            Self::DayOfWeek => "day-of-week",
        })
    }
}

const FIVE_FIELDS: &str =
    "crier accepts standard 5-field cron (minute hour day-of-month month day-of-week)";

/// A schedule that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("unknown time zone `{name}`{}", suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    UnknownZone {
        name: String,
        suggestion: Option<String>,
    },

    #[error(
        "`{name}` is a time zone abbreviation, not an IANA zone (abbreviations are ambiguous and ignore daylight saving time); use {advice}"
    )]
    ZoneAbbreviation { name: String, advice: &'static str },

    #[error("cron: the expression is empty; {FIVE_FIELDS}")]
    CronEmpty,

    #[error("cron: `{nickname}` is not supported; {FIVE_FIELDS}{}", equivalent.map(|e| format!(", e.g. `{e}`")).unwrap_or_default())]
    CronNickname {
        nickname: String,
        equivalent: Option<&'static str>,
    },

    #[error("cron: found {found} field{}, expected 5; {FIVE_FIELDS}", if *found == 1 { "" } else { "s" })]
    CronFieldCount { found: usize },

    #[error("cron: 6 fields: a seconds field is not supported; {FIVE_FIELDS}")]
    CronSeconds,

    #[error("cron: 7 fields: seconds and year fields are not supported; {FIVE_FIELDS}")]
    CronYears,

    #[error("cron: `L` (last day) in the {field} field is not supported; {FIVE_FIELDS}")]
    CronLast { field: CronField },

    #[error("cron: `W` (nearest weekday) in the {field} field is not supported; {FIVE_FIELDS}")]
    CronNearestWeekday { field: CronField },

    #[error(
        "cron: `#` (nth weekday of the month) in the {field} field is not supported; {FIVE_FIELDS}"
    )]
    CronNth { field: CronField },

    #[error("cron: `?` in the {field} field is not supported; use `*`")]
    CronQuestionMark { field: CronField },

    #[error("cron: {field} value {value} is out of range ({}-{})", field.bounds().0, field.bounds().1)]
    CronOutOfRange { field: CronField, value: String },

    #[error(
        "cron: the range `{text}` in the {field} field goes backwards; write the smaller value first"
    )]
    CronBackwardRange { field: CronField, text: String },

    #[error("cron: the step in `{text}` ({field} field) must be at least 1")]
    CronZeroStep { field: CronField, text: String },

    #[error(
        "cron: `{text}` in the {field} field: a step needs `*` or a range before it; write `{suggestion}`"
    )]
    CronStepWithoutRange {
        field: CronField,
        text: String,
        suggestion: String,
    },

    #[error("cron: unknown name `{name}` in the {field} field (use {})", if *field == CronField::Month { "JAN-DEC" } else { "SUN-SAT" })]
    CronUnknownName { field: CronField, name: String },

    #[error(
        "cron: `{name}` is not allowed in the {field} field (names are only for months JAN-DEC and days of the week SUN-SAT)"
    )]
    CronNameNotAllowed { field: CronField, name: String },

    #[error(
        "cron: cannot read `{text}` in the {field} field (write numbers, `*`, ranges `a-b`, steps `*/n` or `a-b/n`, and lists `a,b`)"
    )]
    CronSyntax { field: CronField, text: String },

    /// The cron engine refused an expression that crier's own parser accepted (a bug in crier).
    #[error("cron: `{expr}` was refused by the cron engine: {detail}")]
    CronEngine { expr: String, detail: String },

    #[error(
        "`{text}` is not a time: write a wall-clock time like `2026-12-01T10:00:00` (read in the time zone) or RFC 3339 with an offset like `2026-12-01T10:00:00+08:00`"
    )]
    InvalidTime { text: String },

    #[error("{wall} does not exist in {zone} (clocks jump from {gap_start} to {gap_end})")]
    TimeInGap {
        wall: String,
        zone: String,
        gap_start: String,
        gap_end: String,
    },

    #[error("start {start} is after end {end}")]
    StartAfterEnd { start: NaiveDate, end: NaiveDate },

    #[error("cron `{expr}` never fires{}", window_text(*start, *end))]
    NeverFires {
        expr: String,
        start: Option<NaiveDate>,
        end: Option<NaiveDate>,
    },
}

fn window_text(start: Option<NaiveDate>, end: Option<NaiveDate>) -> String {
    match (start, end) {
        (Some(s), Some(e)) if s == e => format!(" on {s} (its only day)"),
        (Some(s), Some(e)) => format!(" between {s} and {e}"),
        (None, Some(e)) => format!(" on or before {e}"),
        // Without an end the search covers every calendar cycle, so the date fields are impossible.
        (Some(_) | None, None) => {
            ": no date matches its day-of-month, month and day-of-week fields".into()
        }
    }
}
