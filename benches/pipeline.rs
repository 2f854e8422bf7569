//! Benchmarks of the pure pipeline at scale: `cargo bench --bench pipeline`.
//!
//! Generates a repository of 10,000 campaign files (a mix of audiences, one-offs and daily crons)
//! in a temporary folder, then times reading + parsing + validating the whole set, and planning it
//! with a 7-day horizon. Figures are printed, never asserted: machines are shared and noisy.
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_macros,
    reason = "tests and benchmarks read files, the clock and the environment, and print"
)]

use crier::ledger::fold::LedgerSnapshot;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CAMPAIGNS: usize = 10_000;

const CONFIG: &str = "project: bench\napps:\n  prod:\n    sdkappid: 1400000000\n    region: singapore\n    admin: admin\n    secret_key_env: K\n    attributes: [level, city]\n";

fn campaign(i: usize) -> String {
    let audience = match i % 3 {
        0 => "audience: {all: true}".to_owned(),
        1 => format!(
            "audience:\n  tags:\n    any: [t{}, t{}]\n    none: [churned]",
            i % 50,
            (i + 1) % 50
        ),
        _ => "audience:\n  attrs:\n    all: {level: Gold, city: Shenzhen}".to_owned(),
    };
    let schedule = if i.is_multiple_of(2) {
        format!(
            "schedule: {{cron: \"{} {} * * *\", grace: 30m}}",
            i % 60,
            8 + i % 12
        )
    } else {
        format!(
            "schedule: {{at: \"2026-12-{:02}T{:02}:{:02}:00\"}}",
            1 + i % 28,
            8 + i % 12,
            i % 60
        )
    };
    format!(
        "# yaml-language-server: $schema=../schema/campaign.schema.json\nversion: 1\nname: c{i}\ndescription: bench campaign {i}\n{audience}\n{schedule}\nvars: {{discount: {}}}\nmessage:\n  lifetime: 1d\n  body:\n    - text: \"{{{{ discount }}}}% off on {{{{ occurrence.date }}}} for {{{{ campaign.name }}}}\"\n  offline_push:\n    title: Sale\n    desc: \"{{{{ discount }}}}% off\"\n    ext: {{deeplink: \"app://sale/{i}\"}}\n",
        i % 90
    )
}

fn time<T>(label: &str, runs: usize, mut f: impl FnMut() -> T) -> T {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..runs {
        let start = Instant::now();
        out = Some(f());
        best = best.min(start.elapsed());
    }
    println!(
        "{label:<48} best of {runs}: {:>8.1} ms",
        best.as_secs_f64() * 1000.0
    );
    out.expect("at least one run")
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::write(root.join("crier.yaml"), CONFIG).unwrap();
    std::fs::create_dir(root.join("campaigns")).unwrap();
    for i in 0..CAMPAIGNS {
        std::fs::write(root.join(format!("campaigns/c{i:05}.yaml")), campaign(i)).unwrap();
    }
    println!(
        "{CAMPAIGNS} campaign files, {} threads",
        rayon::current_num_threads()
    );

    let mut sources = crier::load::Sources::default();
    let (settings, _) = crier::load::load_settings(&root.join("crier.yaml"), root, &mut sources)
        .expect("valid config");
    let set = time("read + parse (YAML, schema, types)", 5, || {
        let (files, _) = crier::load::discover(&settings.campaigns_dir, root);
        let mut sources = crier::load::Sources::default();
        crier::load::load_campaigns(&files, root, &mut sources)
    });
    assert_eq!(
        set.campaigns.len(),
        CAMPAIGNS,
        "{:?}",
        set.diagnostics.first()
    );
    let names: Vec<(String, Arc<Path>, crier::spec::NamePlace)> = set.names.clone();
    let outcome = time("validate (rules, templates, schedules)", 5, || {
        crier::validate::validate(&settings, &set.campaigns, &set.unparsed, &names)
            .checked
            .len()
    });
    assert_eq!(outcome, CAMPAIGNS);
    time("read + parse + validate, end to end", 5, || {
        let (files, _) = crier::load::discover(&settings.campaigns_dir, root);
        let mut sources = crier::load::Sources::default();
        let set = crier::load::load_campaigns(&files, root, &mut sources);
        crier::validate::validate(&settings, &set.campaigns, &set.unparsed, &set.names)
            .diagnostics
            .len()
    });
    let checked =
        crier::validate::validate(&settings, &set.campaigns, &set.unparsed, &names).checked;
    let ledger = LedgerSnapshot::default();
    let at = "2026-12-01T00:00:00Z".parse().unwrap();
    let plan = time("plan (7-day horizon, empty ledger)", 3, || {
        crier::plan::build(&crier::plan::Input {
            settings: &settings,
            checked: &checked,
            ledger: &ledger,
            at,
            horizon: Duration::from_secs(7 * 86_400),
        })
    });
    println!(
        "plan: {} due, {} upcoming, {} warnings",
        plan.due.len(),
        plan.upcoming.len(),
        plan.warnings.len()
    );
    time("plan JSON serialisation", 3, || {
        crier::plan::format::json(&plan).len()
    });
}
