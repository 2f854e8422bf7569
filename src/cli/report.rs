//! How commands report: diagnostics (located text or GitHub annotations), failures (text, or
//! JSON for `--format json`), colours.

use crate::diag::{Diagnostic, Severity};
use crate::load::Sources;
use owo_colors::OwoColorize as _;
use std::io::Write as _;

/// How a command reports diagnostics and failures: located text, GitHub annotations, or JSON
/// (on stdout, errors included, for `--format json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Report {
    #[default]
    Human,
    Github,
    Json,
}

/// A failure found in the user's files: the diagnostics and a one-line summary. `cli::main`
/// prints it in the command's [`Report`] format.
#[derive(Debug, thiserror::Error)]
#[error("{summary}")]
pub struct Invalid {
    pub summary: String,
    pub diagnostics: Vec<Diagnostic>,
    pub sources: Sources,
}

/// Whether to colour stdout: a terminal, and `NO_COLOR` unset or empty.
#[must_use]
pub fn colour_stdout() -> bool {
    use std::io::IsTerminal as _;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

pub fn error_label() -> String {
    format!("{}", "error:".red().bold())
}

fn severity_label(s: Severity) -> String {
    match s {
        Severity::Error => format!("{}", "error".red().bold()),
        Severity::Warning => format!("{}", "warning".yellow().bold()),
    }
}

/// Prints a failure in the command's format: JSON on stdout (`{"format_version", "error",
/// "diagnostics"}`), or the diagnostics (text or annotations) on stdout and `error: …` on stderr.
pub fn print_failure(e: &anyhow::Error, report: Report) {
    let message = crate::secrets::redact_usersig(&chain_text(e));
    let invalid = e.downcast_ref::<Invalid>();
    if report == Report::Json {
        let doc = serde_json::json!({
            "format_version": 1,
            "error": message,
            "diagnostics": invalid
                .map(|i| i.diagnostics.iter().map(Diagnostic::to_json).collect::<Vec<_>>())
                .unwrap_or_default(),
        });
        let doc: serde_json::Value =
            serde_json::from_str(&crate::secrets::redact_usersig(&doc.to_string())).unwrap_or(doc);
        let mut out = anstream::stdout();
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        );
        return;
    }
    if let Some(i) = invalid {
        print_diagnostics(&i.diagnostics, &i.sources, report == Report::Github);
    }
    let mut err = anstream::stderr();
    let _ = writeln!(err, "{} {message}", error_label());
}

/// An error and its causes, each said once: a cause whose text its parent already shows (an
/// error that prints its source) is not repeated.
#[must_use]
pub fn chain_text(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Prints diagnostics to stdout: GitHub annotations, or the located text with source lines.
pub fn print_diagnostics(diags: &[Diagnostic], sources: &Sources, github: bool) {
    // A UserSig typed into a file (an `endpoint` URL, a text) is never echoed back.
    let redact = crate::secrets::redact_usersig;
    let mut out = anstream::stdout();
    for d in diags {
        if github {
            let _ = writeln!(out, "{}", redact(&d.github_annotation()));
            continue;
        }
        let text = redact(&d.render(sources.get(&d.file)));
        // Colour only the severity word of the headline.
        let plain = format!(": {}: ", d.severity.as_str());
        let coloured = format!(": {}: ", severity_label(d.severity));
        let _ = write!(out, "{}", text.replacen(&plain, &coloured, 1));
    }
}
