//! The process environment every command gets: the working directory, `--config` and the clock
//! (`CRIER_NOW` for tests).

use crate::clock::{Clock, ManualClock, SystemClock};
use crate::load;
use anyhow::Context as _;
use owo_colors::OwoColorize as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

/// `CRIER_NOW`: fixes crier's clock (RFC 3339). For tests only.
pub const NOW_VAR: &str = "CRIER_NOW";

/// What every command gets from the process: working directory, `--config`, the clock.
pub struct Env {
    pub cwd: PathBuf,
    pub config: Option<PathBuf>,
    pub clock: Arc<dyn Clock>,
}

impl Env {
    /// Reads the working directory and `CRIER_NOW`.
    ///
    /// # Errors
    /// An unreadable working directory or a malformed `CRIER_NOW`.
    pub fn from_process(config: Option<PathBuf>) -> anyhow::Result<Self> {
        let cwd = std::env::current_dir().context("cannot read the working directory")?;
        let clock: Arc<dyn Clock> = match std::env::var(NOW_VAR) {
            Ok(v) if !v.is_empty() => {
                let at = chrono::DateTime::parse_from_rfc3339(&v)
                    .with_context(|| format!("{NOW_VAR}=`{v}` is not an RFC 3339 time"))?;
                // Said on every command: a fake clock outside tests sends real pushes at the
                // wrong time without a word otherwise.
                let _ = writeln!(
                    anstream::stderr(),
                    "{} {NOW_VAR}={v} fixes crier's clock (for tests only): schedules, grace and quota days use it, and apply really sends; unset it outside tests",
                    "warning:".yellow().bold()
                );
                Arc::new(ManualClock::new(at.to_utc()))
            }
            _ => Arc::new(SystemClock),
        };
        if paused() {
            let _ = writeln!(
                anstream::stderr(),
                "{} CRIER_PAUSE is set: `crier apply` in this process sends and records nothing",
                "warning:".yellow().bold()
            );
        }
        Ok(Self { cwd, config, clock })
    }

    #[must_use]
    pub fn config_path(&self) -> PathBuf {
        load::config_path(self.config.as_deref(), &self.cwd)
    }
}

/// `CRIER_PAUSE` is set (and not `0`): this process sends nothing (spec §4, emergency stop).
#[must_use]
pub fn paused() -> bool {
    std::env::var("CRIER_PAUSE").is_ok_and(|v| !v.trim().is_empty() && v.trim() != "0")
}
