//! Process facts, read once at the edge and passed in: who this process is when it holds the
//! ledger's writer lock (pid, user, host, command line).

use crate::ledger::lock::LockHolder;
use chrono::{DateTime, Utc};

/// This process as a lock holder, started (as far as the lock is concerned) at `now`.
#[must_use]
pub fn lock_holder(now: DateTime<Utc>) -> LockHolder {
    let command: String = std::env::args().collect::<Vec<_>>().join(" ");
    LockHolder {
        pid: std::process::id(),
        hostname: hostname(),
        user: std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "unknown".into()),
        command: shorten(&command, 200),
        started_at: now,
    }
}

fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| {
            std::fs::read_to_string(p)
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        })
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max_chars - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_describes_this_process() {
        let h = lock_holder("2026-12-01T02:00:00Z".parse().unwrap());
        assert_eq!(h.pid, std::process::id());
        assert!(!h.hostname.is_empty());
        assert_eq!(shorten("abcdef", 4), "abc…");
    }
}
