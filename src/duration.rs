//! The duration grammar of the spec (§4): one or more `<integer><unit>`, units `ms s m h d`.

use std::fmt;
use std::time::Duration;

/// Parses `1100ms`, `15m`, `1h30m`, `7d`.
///
/// # Errors
/// A message saying what is wrong, fit to follow "invalid duration: ".
pub fn parse(text: &str) -> Result<Duration, String> {
    if text.is_empty() {
        return Err("empty duration".into());
    }
    let mut total: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("expected a number at `{rest}`"));
        }
        let number: u128 = rest[..digits]
            .parse()
            .map_err(|_| format!("number too large in `{text}`"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let millis_per_unit: u128 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => {
                return Err(format!(
                    "missing unit after {number} (use ms, s, m, h or d)"
                ));
            }
            other => return Err(format!("unknown unit `{other}` (use ms, s, m, h or d)")),
        };
        rest = &rest[unit_len..];
        total = number
            .checked_mul(millis_per_unit)
            .and_then(|ms| total.checked_add(ms))
            .filter(|ms| *ms <= u128::from(u64::MAX))
            .ok_or_else(|| format!("duration `{text}` is too large"))?;
    }
    Ok(Duration::from_millis(
        u64::try_from(total).map_err(|_| format!("duration `{text}` is too large"))?,
    ))
}

/// The longest span crier computes with (graces, horizons, intervals): about ten years. Longer
/// durations are clamped, so an absurd `grace: 100000000d` cannot overflow the calendar.
pub const MAX_SPAN: chrono::TimeDelta = chrono::TimeDelta::days(3660);

/// A duration as a calendar span, clamped to [`MAX_SPAN`].
#[must_use]
pub fn to_delta(d: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(d)
        .unwrap_or(MAX_SPAN)
        .min(MAX_SPAN)
}

/// Shows a duration in the same grammar, largest units first (`1h30m`, `1100ms`, `0s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Human(pub Duration);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        if ms < 60_000 && !ms.is_multiple_of(1_000) {
            return write!(f, "{ms}ms");
        }
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
            ("ms", 1),
        ] {
            if ms >= size {
                write!(f, "{}{unit}", ms / size)?;
                ms %= size;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_spec_examples() {
        assert_eq!(parse("1100ms"), Ok(Duration::from_millis(1100)));
        assert_eq!(parse("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn refuses_what_is_not_the_grammar() {
        assert!(parse("").is_err());
        assert!(parse("15").unwrap_err().contains("missing unit"));
        assert!(parse("1w").unwrap_err().contains("unknown unit `w`"));
        assert!(parse("m").is_err());
        assert!(parse("1.5h").is_err());
        assert!(parse(" 1h").is_err());
        assert!(parse("99999999999999999999999d").is_err());
    }

    #[test]
    fn spans_are_clamped() {
        assert_eq!(
            to_delta(Duration::from_secs(60)),
            chrono::TimeDelta::minutes(1)
        );
        assert_eq!(to_delta(parse("100000000d").unwrap()), MAX_SPAN);
    }

    #[test]
    fn human_round_trips() {
        for s in ["1h30m", "1100ms", "7d", "1d2h3m4s5ms"] {
            assert_eq!(Human(parse(s).unwrap()).to_string(), s);
        }
        assert_eq!(Human(Duration::from_secs(90)).to_string(), "1m30s");
    }
}
