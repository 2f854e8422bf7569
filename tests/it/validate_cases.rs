//! Black-box cases for `crier validate`, as data: each `tests/validate_cases/*.yaml` is a campaign
//! file whose `# expect: LINE:COL: SEVERITY: MESSAGE` comments list exactly the diagnostics the
//! real binary must print for it (none means it must be valid). A folder is a multi-file case.
//! Every case runs in its own temporary repository with `tests/validate_cases/crier.yaml`.

use std::path::{Path, PathBuf};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/validate_cases")
}

/// The `# expect:` lines of every file of a case, as `file:line:col: severity: message`.
fn expectations(files: &[PathBuf]) -> Vec<String> {
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy();
        for line in text.lines() {
            if let Some(e) = line.trim_start().strip_prefix("# expect: ") {
                out.push(format!("campaigns/{name}:{e}"));
            }
        }
    }
    out.sort();
    out
}

fn run_case(case: &Path) -> Result<(), String> {
    let files: Vec<PathBuf> = if case.is_dir() {
        let mut f: Vec<_> = std::fs::read_dir(case)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        f.sort();
        f
    } else {
        vec![case.to_path_buf()]
    };
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir(repo.path().join("campaigns")).unwrap();
    std::fs::copy(
        cases_dir().join("crier.yaml"),
        repo.path().join("crier.yaml"),
    )
    .unwrap();
    for f in &files {
        std::fs::copy(
            f,
            repo.path().join("campaigns").join(f.file_name().unwrap()),
        )
        .unwrap();
    }
    let out = assert_cmd::Command::cargo_bin("crier")
        .unwrap()
        .current_dir(repo.path())
        .args(["validate", "--format", "json"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })?;
    let mut got: Vec<String> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{}:{}:{}: {}: {}",
                d["file"].as_str().unwrap(),
                d["line"],
                d["column"],
                d["severity"].as_str().unwrap(),
                d["message"].as_str().unwrap()
            )
        })
        .collect();
    got.sort();
    let expected = expectations(&files);
    let has_errors = expected.iter().any(|e| e.contains(": error: "));
    let code = out.status.code();
    let want_code = if has_errors { 1 } else { 0 };
    if got != expected || code != Some(want_code) {
        return Err(format!(
            "exit {code:?} (want {want_code})\n  got:\n    {}\n  expected:\n    {}",
            got.join("\n    "),
            expected.join("\n    ")
        ));
    }
    Ok(())
}

#[test]
fn every_validate_case() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != "crier.yaml"))
        .collect();
    cases.sort();
    assert!(cases.len() > 20, "the case folder is missing cases");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            run_case(c)
                .err()
                .map(|e| format!("{}: {e}", c.file_name().unwrap().to_string_lossy()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
