//! Process facts, read once at the edge and passed in: who this process is when it holds the
//! ledger's writer lock (pid, user, host, command line, CI run), and where an apply runs.

use crate::ledger::lock::LockHolder;
use chrono::{DateTime, Utc};

/// This process as a lock holder, started (as far as the lock is concerned) at `now`.
#[must_use]
pub fn lock_holder(now: DateTime<Utc>) -> LockHolder {
    let command: String = std::env::args().collect::<Vec<_>>().join(" ");
    let ci = ci_run();
    LockHolder {
        pid: std::process::id(),
        hostname: hostname(),
        user: std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "unknown".into()),
        command: shorten(&command, 200),
        started_at: now,
        project: None,
        ci_run: ci.0,
        ci_url: ci.1,
    }
}

/// This process as the lock holder for `project` (the commands that write to a shared ledger
/// say whose writer it is).
#[must_use]
pub fn project_holder(project: &str, now: DateTime<Utc>) -> LockHolder {
    LockHolder {
        project: Some(project.to_owned()),
        ..lock_holder(now)
    }
}

/// The CI run this process belongs to (GitHub Actions, GitLab CI, or a generic `CI`) and its
/// URL, when the environment has them.
fn ci_run() -> (Option<String>, Option<String>) {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if var("GITHUB_ACTIONS").is_some() {
        let run = var("GITHUB_RUN_ID");
        let url = match (var("GITHUB_SERVER_URL"), var("GITHUB_REPOSITORY"), &run) {
            (Some(server), Some(repo), Some(id)) => {
                Some(format!("{server}/{repo}/actions/runs/{id}"))
            }
            _ => None,
        };
        (run.map(|id| format!("github-actions:{id}")), url)
    } else if var("GITLAB_CI").is_some() {
        (
            var("CI_PIPELINE_ID").map(|id| format!("gitlab-ci:{id}")),
            var("CI_JOB_URL").or_else(|| var("CI_PIPELINE_URL")),
        )
    } else if var("CI").is_some() {
        (Some("ci".to_owned()), None)
    } else {
        (None, None)
    }
}

/// Where an apply runs, for the audit trail of every intent: the campaign repository's commit
/// and the CI run (GitHub Actions, GitLab CI, or a generic `CI`) with its URL when known.
#[must_use]
pub fn origin(root: &std::path::Path) -> crate::ledger::record::Origin {
    let (ci_run, ci_url) = ci_run();
    crate::ledger::record::Origin {
        commit: crate::git::head_commit(root),
        ci_run,
        ci_url,
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
