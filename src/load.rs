//! Reading the campaign repository from disk: `crier.yaml` and the campaign files. The only
//! file-reading part of validation; everything it reads goes to the pure parsers in [`crate::spec`].
#![allow(
    clippy::disallowed_methods,
    reason = "load is the file edge of validation: it reads crier.yaml and campaign files"
)]

use crate::diag::{Diagnostic, Pos, display_path};
use crate::settings::Settings;
use crate::spec::{self, Campaign};
use rayon::prelude::*;
use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The texts of the files read, so diagnostics can show their lines.
#[derive(Debug, Default, Clone)]
pub struct Sources(HashMap<Arc<Path>, Arc<str>>);

impl Sources {
    pub fn insert(&mut self, file: Arc<Path>, text: Arc<str>) {
        self.0.insert(file, text);
    }

    #[must_use]
    pub fn get(&self, file: &Path) -> Option<&str> {
        self.0.get(file).map(AsRef::as_ref)
    }
}

/// A read failure before any parsing, as a diagnostic about the file.
fn io_diag(file: &Arc<Path>, what: &str, e: &std::io::Error) -> Diagnostic {
    Diagnostic::error(file, Pos::START, format!("cannot {what}: {}", io_reason(e)))
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}

/// Reads a text file of at most [`spec::yaml::MAX_BYTES`].
///
/// # Errors
/// A located diagnostic for a missing, unreadable, too large or non-UTF-8 file.
pub fn read_text(path: &Path, file: &Arc<Path>) -> Result<String, Diagnostic> {
    // Only regular files: a FIFO, socket or device named `*.yaml` would block or never end.
    let meta = std::fs::metadata(path).map_err(|e| io_diag(file, "read file", &e))?;
    if !meta.is_file() {
        return Err(Diagnostic::error(
            file,
            Pos::START,
            "not a regular file (a FIFO, socket, device or folder); crier reads only regular files",
        ));
    }
    let f = std::fs::File::open(path).map_err(|e| io_diag(file, "read file", &e))?;
    let limit = spec::yaml::MAX_BYTES as u64;
    // Sized from the metadata: one read fills it, instead of growing from small probe reads.
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len().min(limit) + 1).unwrap_or(0));
    f.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_diag(file, "read file", &e))?;
    if bytes.len() as u64 > limit {
        return Err(Diagnostic::error(
            file,
            Pos::START,
            format!(
                "file is larger than {limit} bytes (1 MiB); crier refuses YAML files this large"
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let prefix = std::str::from_utf8(&e.as_bytes()[..valid]).unwrap_or_default();
        Diagnostic::error(
            file,
            Pos::of_offset(prefix, valid),
            "file is not valid UTF-8 text (binary data?)",
        )
    })
}

/// How a path is shown: relative to the working directory when below it.
#[must_use]
pub fn shown(path: &Path, cwd: &Path) -> Arc<Path> {
    Arc::from(display_path(path, cwd))
}

/// Finds `crier.yaml`: the given path, or the nearest `crier.yaml` in the working directory or
/// one of its parents (as git and cargo find their roots). When none exists, the path in the
/// working directory, so the error names where one was expected.
#[must_use]
pub fn config_path(explicit: Option<&Path>, cwd: &Path) -> PathBuf {
    if let Some(p) = explicit {
        return cwd.join(p);
    }
    cwd.ancestors()
        .map(|dir| dir.join("crier.yaml"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| cwd.join("crier.yaml"))
}

/// Reads and resolves `crier.yaml`.
///
/// # Errors
/// Every diagnostic; `Ok` carries warnings.
pub fn load_settings(
    path: &Path,
    cwd: &Path,
    sources: &mut Sources,
) -> Result<(Settings, Vec<Diagnostic>), Vec<Diagnostic>> {
    let file = shown(path, cwd);
    let text = read_text(path, &file)
        .map_err(|d| vec![d.with_hint("run `crier init` to create one, or pass --config PATH")])?;
    sources.insert(Arc::clone(&file), Arc::from(text.as_str()));
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match spec::config::parse(&text, &absolute, &file) {
        (Some(settings), diags) => Ok((settings, diags)),
        (None, diags) => Err(diags),
    }
}

/// Every `*.yaml`/`*.yml` below `dir`, sorted (as paths sort: component by component), not
/// following links to folders.
///
/// # Errors
/// Unreadable folders become diagnostics; what could be read is still returned.
#[must_use]
pub fn discover(dir: &Path, cwd: &Path) -> (Vec<PathBuf>, Vec<Diagnostic>) {
    // Each folder's entries sorted by name, folders walked where they sort: the order of
    // sorting the whole list of paths, without comparing 10,000 paths component by component.
    fn walk(dir: &Path, cwd: &Path, files: &mut Vec<PathBuf>, diags: &mut Vec<Diagnostic>) {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                diags.push(io_diag(&shown(dir, cwd), "read directory", &e));
                return;
            }
        };
        let mut here = Vec::new();
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    diags.push(io_diag(&shown(dir, cwd), "read directory", &e));
                    continue;
                }
            };
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            here.push((entry.file_name(), entry.path(), kind.is_dir()));
        }
        here.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (_, path, is_dir) in here {
            if is_dir {
                walk(&path, cwd, files, diags);
            } else if is_campaign_file(&path) {
                files.push(path);
            }
        }
    }
    let mut files = Vec::new();
    let mut diags = Vec::new();
    walk(dir, cwd, &mut files, &mut diags);
    (files, diags)
}

/// `*.yaml` or `*.yml`.
#[must_use]
pub fn is_campaign_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// The campaign set as read and parsed.
#[derive(Debug, Default)]
pub struct CampaignSet {
    pub campaigns: Vec<Campaign>,
    pub diagnostics: Vec<Diagnostic>,
    /// Every name found in a file (parsed or not), for the unique-name rule.
    pub names: Vec<(String, Arc<Path>, spec::NamePlace)>,
    /// Files that failed the schema or the types: validation still checks their other parts.
    pub unparsed: Vec<spec::Unparsed>,
}

/// Reads and parses campaign files, in parallel.
#[must_use]
pub fn load_campaigns(paths: &[PathBuf], cwd: &Path, sources: &mut Sources) -> CampaignSet {
    let results: Vec<(Arc<Path>, Option<Arc<str>>, spec::ParsedFile)> = paths
        .par_iter()
        .map(|path| {
            let file = shown(path, cwd);
            match read_text(path, &file) {
                Ok(text) => {
                    let text: Arc<str> = Arc::from(text);
                    let parsed = spec::parse_campaign_shared(&file, Arc::clone(&text));
                    (file, Some(text), parsed)
                }
                Err(d) => (
                    file,
                    None,
                    spec::ParsedFile {
                        campaign: None,
                        unparsed: None,
                        diagnostics: vec![d],
                        names: Vec::new(),
                    },
                ),
            }
        })
        .collect();
    let mut set = CampaignSet::default();
    set.campaigns.reserve_exact(
        results
            .iter()
            .filter(|(_, _, p)| p.campaign.is_some())
            .count(),
    );
    set.names.reserve_exact(results.len());
    sources.0.reserve(results.len());
    for (file, text, parsed) in results {
        if let Some(text) = text {
            sources.insert(Arc::clone(&file), text);
        }
        for (name, pos) in parsed.names {
            set.names.push((name, Arc::clone(&file), pos));
        }
        set.diagnostics.extend(parsed.diagnostics);
        set.campaigns.extend(parsed.campaign);
        set.unparsed.extend(parsed.unparsed);
    }
    set
}

/// Expands the paths given on the command line: folders to their campaign files.
///
/// # Errors
/// Missing paths become diagnostics.
#[must_use]
pub fn expand_paths(given: &[PathBuf], cwd: &Path) -> (Vec<PathBuf>, Vec<Diagnostic>) {
    let mut files = Vec::new();
    let mut diags = Vec::new();
    for p in given {
        let abs = cwd.join(p);
        match std::fs::metadata(&abs) {
            Ok(m) if m.is_dir() => {
                let (f, d) = discover(&abs, cwd);
                files.extend(f);
                diags.extend(d);
            }
            Ok(_) => files.push(abs),
            Err(e) => diags.push(io_diag(&shown(&abs, cwd), "read", &e)),
        }
    }
    (files, diags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_and_large_files_are_located() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.yaml");
        std::fs::write(&bad, b"name: ok\nx: \xff\xfe\n").unwrap();
        let file = shown(&bad, dir.path());
        let d = read_text(&bad, &file).unwrap_err();
        assert_eq!(
            d.headline(),
            "bad.yaml:2:4: error: file is not valid UTF-8 text (binary data?)"
        );
        let big = dir.path().join("big.yaml");
        std::fs::write(&big, vec![b'#'; 2 * 1024 * 1024]).unwrap();
        let d = read_text(&big, &shown(&big, dir.path())).unwrap_err();
        assert!(
            d.message.contains("larger than 1048576 bytes"),
            "{}",
            d.message
        );
    }

    #[test]
    fn discovers_yaml_files_recursively_and_sorted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("c/sub")).unwrap();
        for f in ["c/b.yaml", "c/a.yml", "c/sub/z.yaml", "c/readme.md"] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        let (files, diags) = discover(&dir.path().join("c"), dir.path());
        assert!(diags.is_empty());
        let names: Vec<_> = files
            .iter()
            .map(|f| display_path(f, dir.path()).display().to_string())
            .collect();
        assert_eq!(names, ["c/a.yml", "c/b.yaml", "c/sub/z.yaml"]);
    }

    #[test]
    fn discovery_order_is_the_order_paths_sort_in() {
        // `a.b/` sorts after `a/` as paths (component by component), before it as bytes.
        let dir = tempfile::tempdir().unwrap();
        for d in ["c/a", "c/a.b", "c/a-b/x"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        for f in [
            "c/a/y.yaml",
            "c/a.b/x.yaml",
            "c/a-b.yaml",
            "c/a-b/x/z.yaml",
            "c/a0.yaml",
        ] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        let (files, _) = discover(&dir.path().join("c"), dir.path());
        let mut sorted = files.clone();
        sorted.sort();
        assert_eq!(files, sorted);
        assert_eq!(files.len(), 5);
        assert!(files[0].ends_with("c/a/y.yaml"), "{files:?}");
    }
}
