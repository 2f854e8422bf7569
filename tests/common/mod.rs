//! Helpers shared by the black-box tests: temporary repositories and the real binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub const CONFIG: &str = "\
project: t
apps:
  prod:
    sdkappid: 1400000000
    region: singapore
    admin: administrator
    secret_key_env: CRIER_PROD_SECRET_KEY
    attributes: [level, city]
";

pub const CAMPAIGN: &str = "\
version: 1
name: hello
audience: {all: true}
schedule: {at: \"2026-12-01T10:00:00\"}
message:
  body:
    - text: \"hi {{ campaign.name }}\"
";

/// A temporary campaign repository.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    pub fn new(config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("crier.yaml"), config).unwrap();
        std::fs::create_dir(dir.path().join("campaigns")).unwrap();
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.dir.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap();
        p
    }

    pub fn crier(&self) -> assert_cmd::Command {
        let mut c = assert_cmd::Command::cargo_bin("crier").unwrap();
        c.current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("CRIER_NOW");
        c
    }
}

pub fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
