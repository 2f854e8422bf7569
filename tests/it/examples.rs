//! The CI recipes in `examples/`: every crier command line in them parses with crier's own
//! argument parser, and the example repository validates.

use std::path::{Path, PathBuf};

use clap::Parser as _;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path
            .extension()
            .is_some_and(|e| e == "yml" || e == "yaml" || e == "md")
        {
            out.push(path);
        }
    }
}

/// The crier command lines of a text: lines that start (after spaces or `- `) with `crier `,
/// without shell redirections; `${{ … }}` and `$VAR` stand for one word.
fn command_lines(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start().trim_start_matches("- ").trim_start();
        if !line.starts_with("crier ") {
            continue;
        }
        let mut clean = String::new();
        let mut rest = line;
        while let Some(i) = rest.find("${{") {
            clean.push_str(&rest[..i]);
            let end = rest[i..].find("}}").map_or(rest.len(), |e| i + e + 2);
            clean.push_str("VALUE");
            rest = &rest[end..];
        }
        clean.push_str(rest);
        let command = clean
            .split(['>', '|', ';'])
            .next()
            .unwrap()
            .split("&&")
            .next()
            .unwrap();
        out.push(command.split_whitespace().map(str::to_owned).collect());
    }
    out
}

#[test]
fn every_crier_command_in_the_ci_recipes_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut all = Vec::new();
    files(&root, &mut all);
    let mut seen = 0;
    for file in &all {
        let text = std::fs::read_to_string(file).unwrap();
        for argv in command_lines(&text) {
            seen += 1;
            if let Err(e) = crier::cli::Cli::try_parse_from(&argv) {
                panic!(
                    "{}: `{}` does not parse:\n{e}",
                    file.display(),
                    argv.join(" ")
                );
            }
        }
    }
    assert!(seen >= 8, "found the recipes' commands ({seen})");
}

#[test]
fn the_example_repository_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let o = assert_cmd::Command::cargo_bin("crier")
        .unwrap()
        .current_dir(&root)
        .arg("validate")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
