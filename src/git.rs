//! Reading files of another revision through the `git` command (for `plan --base`), and the
//! commit an apply runs from (for the audit trail). An edge module: it runs processes;
//! everything it reads goes to the pure parsers.
#![allow(
    clippy::disallowed_methods,
    reason = "git is the process edge of `plan --base`: it runs the git command"
)]

use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<std::process::Output> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .context("cannot run `git` (is it installed and on PATH?)")
}

/// The top folder of the git work tree that holds `dir`.
///
/// # Errors
/// `dir` is not in a git work tree.
pub fn toplevel(dir: &Path) -> anyhow::Result<PathBuf> {
    let out = git(dir, &["rev-parse", "--show-toplevel"])?;
    anyhow::ensure!(
        out.status.success(),
        "{} is not inside a git work tree: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// The commit checked out in `dir`'s work tree (with `-dirty` when it has uncommitted changes),
/// or `None` when `dir` is not a git checkout or git is missing (for the audit trail).
#[must_use]
pub fn head_commit(dir: &Path) -> Option<String> {
    let out = git(dir, &["rev-parse", "HEAD"]).ok()?;
    if !out.status.success() {
        return None;
    }
    let commit = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let dirty = git(dir, &["status", "--porcelain", "--untracked-files=no"])
        .ok()
        .is_some_and(|o| o.status.success() && !o.stdout.is_empty());
    Some(if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    })
}

/// Checks that `rev` names a commit.
///
/// # Errors
/// An unknown revision, with a hint for shallow CI checkouts.
pub fn verify(root: &Path, rev: &str) -> anyhow::Result<()> {
    let out = git(
        root,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )?;
    anyhow::ensure!(
        out.status.success(),
        "unknown git revision `{rev}` (hint: CI checkouts are often shallow: fetch the base, e.g. `{}`)",
        fetch_hint(rev)
    );
    Ok(())
}

/// The command that fetches `rev` into a shallow checkout: `origin/main` is branch `main` of
/// the remote `origin` (`git fetch origin main`), anything else is fetched from `origin`.
#[must_use]
pub fn fetch_hint(rev: &str) -> String {
    let (remote, name) = match rev.split_once('/') {
        Some((remote, branch)) if !remote.is_empty() && !branch.is_empty() && remote != "refs" => {
            (remote, branch)
        }
        _ => ("origin", rev),
    };
    format!("git fetch {remote} {name} --depth=1")
}

/// The text of `path` (relative to the work tree's top) at `rev`, or `None` when it does not exist there.
///
/// # Errors
/// `git` failed for another reason, or the file is not UTF-8.
pub fn show(root: &Path, rev: &str, path: &str) -> anyhow::Result<Option<String>> {
    let object = format!("{rev}:{path}");
    if !git(root, &["cat-file", "-e", &object])?.status.success() {
        return Ok(None);
    }
    let out = git(root, &["show", &object])?;
    anyhow::ensure!(
        out.status.success(),
        "git show {object} failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8(out.stdout)
        .map(Some)
        .with_context(|| format!("{rev}:{path} is not UTF-8 text"))
}

/// Files below `dir` (relative to the top) at `rev`, relative to the top, sorted.
///
/// # Errors
/// `git` failed.
pub fn list(root: &Path, rev: &str, dir: &str) -> anyhow::Result<Vec<String>> {
    // -z: names are NUL-separated and never quoted, so non-ASCII names survive.
    let out = git(
        root,
        &["ls-tree", "-r", "-z", "--name-only", rev, "--", dir],
    )?;
    anyhow::ensure!(
        out.status.success(),
        "git ls-tree {rev} failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let mut files: Vec<String> = out
        .stdout
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    #[test]
    fn fetch_hints_name_the_remote_and_the_branch() {
        assert_eq!(
            super::fetch_hint("origin/main"),
            "git fetch origin main --depth=1"
        );
        assert_eq!(
            super::fetch_hint("upstream/release/1"),
            "git fetch upstream release/1 --depth=1"
        );
        assert_eq!(super::fetch_hint("main"), "git fetch origin main --depth=1");
        assert_eq!(
            super::fetch_hint("abc123"),
            "git fetch origin abc123 --depth=1"
        );
    }
}
