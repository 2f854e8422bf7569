//! Diagnostics: a message about a place in a source file, and how it is printed.
//!
//! Every user-input problem becomes a [`Diagnostic`]. The plain first line is always
//! `file:line:column: severity: message`, which editors and CI annotators parse; the source
//! line and a caret under the node follow.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A place in a source text: 1-based line and column (in characters), and the node's length in
/// characters on its first line (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
    pub len: usize,
}

impl Pos {
    #[must_use]
    pub const fn new(line: usize, col: usize, len: usize) -> Self {
        Self { line, col, len }
    }

    /// The start of a file.
    pub const START: Self = Self::new(1, 1, 1);

    /// The position of the byte offset `offset` in `text`.
    #[must_use]
    pub fn of_offset(text: &str, offset: usize) -> Self {
        let offset = offset.min(text.len());
        let before = &text[..text.floor_char_boundary(offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Self::new(line, before[line_start..].chars().count() + 1, 1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
        }
    }
}

/// One problem (or warning) at one place.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The file, as the user named it (relative to the working directory where possible).
    pub file: Arc<Path>,
    pub pos: Pos,
    pub message: String,
    /// An extra line telling how to fix it, when the fix is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(file: &Arc<Path>, pos: Pos, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            file: Arc::clone(file),
            pos,
            message: message.into(),
            hint: None,
        }
    }

    pub fn warning(file: &Arc<Path>, pos: Pos, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            file: Arc::clone(file),
            pos,
            message: message.into(),
            hint: None,
        }
    }

    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    #[must_use]
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col: severity: message`, the line editors and CI annotators parse.
    #[must_use]
    pub fn headline(&self) -> String {
        format!(
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.pos.line,
            self.pos.col,
            self.severity.as_str(),
            self.message
        )
    }

    /// The headline, then the source line with a caret under the node, then the hint.
    ///
    /// `source` is the whole text of `self.file`, when it could be read.
    #[must_use]
    pub fn render(&self, source: Option<&str>) -> String {
        let mut out = self.headline();
        out.push('\n');
        if let Some(line) = source.and_then(|s| s.lines().nth(self.pos.line.saturating_sub(1))) {
            let number = self.pos.line.to_string();
            let gutter = " ".repeat(number.len());
            // Tabs are shown as one space so that the caret stays under the node.
            let shown: String = line
                .chars()
                .map(|c| if c == '\t' { ' ' } else { c })
                .collect();
            let shown = truncate_chars(&shown, 200);
            let _ = writeln!(out, "{gutter} |");
            let _ = writeln!(out, "{number} | {shown}");
            let pad = " ".repeat(self.pos.col.saturating_sub(1).min(200));
            let carets = "^".repeat(
                self.pos
                    .len
                    .clamp(1, 200usize.saturating_sub(self.pos.col).max(1)),
            );
            let _ = writeln!(out, "{gutter} | {pad}{carets}");
        }
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "  = hint: {hint}");
        }
        out
    }

    /// The diagnostic as the JSON outputs carry it.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "severity": self.severity,
            "file": self.file,
            "line": self.pos.line,
            "column": self.pos.col,
            "message": self.message,
            "hint": self.hint,
        })
    }

    /// A GitHub Actions workflow command for this diagnostic.
    #[must_use]
    pub fn github_annotation(&self) -> String {
        let mut message = self.message.clone();
        if let Some(hint) = &self.hint {
            message.push_str(" (hint: ");
            message.push_str(hint);
            message.push(')');
        }
        format!(
            "::{} file={},line={},col={}::{}",
            self.severity.as_str(),
            escape_property(&self.file.display().to_string()),
            self.pos.line,
            self.pos.col,
            escape_data(&message)
        )
    }
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Sorts diagnostics by file, then position, then message, and removes exact repeats.
pub fn sort(diags: &mut Vec<Diagnostic>) {
    diags.sort_by(|a, b| {
        (&a.file, a.pos, a.severity, &a.message).cmp(&(&b.file, b.pos, b.severity, &b.message))
    });
    diags.dedup();
}

/// A path shown relative to `base` when it lies below it.
#[must_use]
pub fn display_path(path: &Path, base: &Path) -> PathBuf {
    path.strip_prefix(base)
        .map_or_else(|_| path.to_path_buf(), Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_headline_source_line_and_caret() {
        let file: Arc<Path> = Arc::from(Path::new("campaigns/a.yaml"));
        let d = Diagnostic::error(&file, Pos::new(2, 7, 5), "bad thing").with_hint("do this");
        let text = d.render(Some("name: x\napp: prod2\n"));
        assert_eq!(
            text,
            "campaigns/a.yaml:2:7: error: bad thing\n  |\n2 | app: prod2\n  |       ^^^^^\n  = hint: do this\n"
        );
    }

    #[test]
    fn github_annotation_escapes() {
        let file: Arc<Path> = Arc::from(Path::new("a,b.yaml"));
        let d = Diagnostic::warning(&file, Pos::new(3, 1, 1), "50%\nmore");
        assert_eq!(
            d.github_annotation(),
            "::warning file=a%2Cb.yaml,line=3,col=1::50%25%0Amore"
        );
    }

    #[test]
    fn offsets_become_lines_and_columns() {
        let text = "ab\ncdé\nf";
        assert_eq!(Pos::of_offset(text, 0), Pos::new(1, 1, 1));
        assert_eq!(Pos::of_offset(text, 3), Pos::new(2, 1, 1));
        assert_eq!(Pos::of_offset(text, 7), Pos::new(2, 4, 1));
        assert_eq!(Pos::of_offset(text, 8), Pos::new(3, 1, 1));
    }
}
