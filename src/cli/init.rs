//! `crier init`: the starter repository.

use super::Status;
use super::env::Env;
use anyhow::Context as _;
use std::io::Write as _;
use std::path::Path;

const EXAMPLE_CONFIG: &str = "\
# yaml-language-server: $schema=schema/crier.schema.json
project: my-project
apps:
  prod:
    sdkappid: 1400000000
    region: singapore
    admin: administrator
    secret_key_env: CRIER_PROD_SECRET_KEY
    attributes: [level, city]
    daily_quota: 100
    quota_timezone: Asia/Shanghai
    min_interval: 1100ms
  # A local `crier emulator` to try things on (see the README): nothing reaches real phones.
  local:
    sdkappid: 1400000001
    endpoint: http://127.0.0.1:8080
    admin: administrator
    secret_key_env: CRIER_LOCAL_SECRET_KEY
    attributes: [level, city]
defaults:
  timezone: Asia/Shanghai
  grace: 15m
campaigns: campaigns
ledger:
  path: .crier/ledger
";

const EXAMPLE_CAMPAIGN: &str = "\
# yaml-language-server: $schema=../schema/campaign.schema.json
version: 1
name: welcome-weekly
description: Weekly hello to VIP users
app: prod
audience:
  tags:
    all: [vip]
schedule:
  cron: \"0 10 * * MON\"
  timezone: Asia/Shanghai
  grace: 30m
vars:
  greeting: Hello
message:
  body:
    - text: \"{{ greeting }}! New offers for {{ occurrence.weekday }} {{ occurrence.date }}.\"
  offline_push:
    title: New offers
    desc: \"{{ greeting }}, see what is new this week\"
";

/// A one-off due when `crier init` ran, on the local emulator app: `crier apply` sends it at
/// once, so a newcomer sees a push delivered. `{AT}` is replaced by init's time.
const TRY_CAMPAIGN: &str = "\
# yaml-language-server: $schema=../schema/campaign.schema.json
# A one-off that is due right after `crier init`, on the `local` app (a `crier emulator` on
# 127.0.0.1:8080, see the README), so `crier apply` has something to send at once.
# Delete this file before you use a real app.
version: 1
name: try-the-emulator
app: local
audience:
  tags:
    any: [vip, new]
schedule:
  at: \"{AT}\"
  timezone: Asia/Shanghai
  grace: 2h
message:
  body:
    - text: \"Hello from crier, {{ occurrence.weekday }} {{ occurrence.date }}\"
  offline_push:
    title: Hello from crier
    desc: Your first push, sent to the local emulator
";

/// `crier init`: writes the starter files, never overwriting one.
///
/// # Errors
/// A file that already exists, or a write failure.
pub fn init(env: &Env, dir: &Path) -> anyhow::Result<Status> {
    let root = env.cwd.join(dir);
    let at = env
        .clock
        .now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%dT%H:%M:00")
        .to_string();
    let try_campaign = TRY_CAMPAIGN.replace("{AT}", &at);
    let files: [(&str, &str); 5] = [
        ("crier.yaml", EXAMPLE_CONFIG),
        ("campaigns/welcome-weekly.yaml", EXAMPLE_CAMPAIGN),
        ("campaigns/try-the-emulator.yaml", &try_campaign),
        (
            "schema/campaign.schema.json",
            crate::schema::CAMPAIGN_SCHEMA,
        ),
        ("schema/crier.schema.json", crate::schema::CONFIG_SCHEMA),
    ];
    for (name, _) in &files {
        let path = root.join(name);
        anyhow::ensure!(
            !path.exists(),
            "{} already exists; crier init never overwrites a file",
            path.display()
        );
    }
    let mut out = anstream::stdout();
    for (name, text) in files {
        let path = root.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        let _ = writeln!(out, "created {name}");
    }
    let gitignore = root.join(".gitignore");
    let existing = std::fs::read_to_string(&gitignore).unwrap_or_default();
    if !existing
        .lines()
        .any(|l| l.trim() == ".crier/" || l.trim() == ".crier")
    {
        let mut text = existing;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(".crier/\n");
        std::fs::write(&gitignore, text)
            .with_context(|| format!("cannot write {}", gitignore.display()))?;
        let _ = writeln!(out, "added .crier/ to .gitignore");
    }
    let _ = writeln!(
        out,
        "next: try it on a local emulator (nothing reaches real phones):\n  export CRIER_LOCAL_SECRET_KEY=any-local-key\n  crier emulator --listen 127.0.0.1:8080 --sdkappid 1400000001 --admin administrator --secret-key-env CRIER_LOCAL_SECRET_KEY --generate-users 1000 --seed 1 --attr-names level,city &\n  crier plan && crier apply\nthen set up `prod` in crier.yaml (export CRIER_PROD_SECRET_KEY) and delete campaigns/try-the-emulator.yaml"
    );
    Ok(Status::Done)
}
