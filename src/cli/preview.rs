//! `crier preview [NAME…] [--base REF] --out DIR`: writes `DIR/index.html`, one self-contained
//! page drawing each campaign's next push on phones and in the chat, after (and, with
//! `--base`, before) the change; for a CI artifact. The page itself is [`crate::preview`].

use std::io::Write as _;

use anyhow::Context as _;
use chrono::SecondsFormat;

use super::Status as Exit;
use super::env::Env;
use crate::preview::CampaignPreview;
use crate::render::Renderer;

#[derive(Debug, clap::Args)]
pub struct PreviewArgs {
    /// The campaigns (default: every valid one).
    pub names: Vec<String>,
    /// Also draw each campaign as it is at this git revision (before the change).
    #[arg(long, value_name = "GIT_REF")]
    pub base: Option<String>,
    /// The folder to write `index.html` into (created if missing).
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// The occurrence at or after this time (default: the next one, or the last one when all
    /// are past).
    #[arg(long)]
    pub at: Option<String>,
}

/// `crier preview`.
///
/// # Errors
/// An unknown or invalid campaign, an unreadable base revision, an unwritable folder.
pub fn preview(env: &Env, args: &PreviewArgs) -> anyhow::Result<Exit> {
    let ws = super::workspace::load_workspace(env, &[])?;
    let outcome = ws.validation();
    let names: Vec<String> = if args.names.is_empty() {
        outcome
            .checked
            .iter()
            .map(|c| c.name().to_owned())
            .collect()
    } else {
        args.names.clone()
    };
    let base = match &args.base {
        Some(rev) => Some(super::plan::load_base(&ws.settings, rev)?),
        None => None,
    };
    let base_outcome = base
        .as_ref()
        .map(|b| crate::validate::validate(&b.settings, &b.campaigns, &[], &b.names));
    let base_project = base
        .as_ref()
        .map(|b| b.settings.project.clone())
        .unwrap_or_default();
    let renderer = Renderer::new();
    let mut campaigns = Vec::new();
    for name in &names {
        let one =
            super::validate::render_occurrence(env, &ws, &outcome, name, args.at.as_ref(), true)?;
        let before = base_outcome.as_ref().and_then(|b| {
            let c = b.checked.iter().find(|c| c.name() == name)?;
            request_at(&renderer, c, &base_project, one.occurrence.at)
        });
        campaigns.push(CampaignPreview {
            name: name.clone(),
            app: one.checked.app.name.clone(),
            when: one
                .occurrence
                .local
                .to_rfc3339_opts(SecondsFormat::Secs, false),
            after: Some(one.rendered.request),
            before,
        });
    }
    // Campaigns the change deletes: drawn before only.
    if let Some(b) = &base_outcome {
        for c in b
            .checked
            .iter()
            .filter(|c| args.names.is_empty() && !names.iter().any(|n| n == c.name()))
        {
            campaigns.push(CampaignPreview {
                name: c.name().to_owned(),
                app: c.app.name.clone(),
                when: "deleted by this change".to_owned(),
                after: None,
                before: request_at(&renderer, c, &base_project, env.clock.now()),
            });
        }
    }
    let html = crate::preview::page(&ws.settings.project, &campaigns);
    let dir = env.cwd.join(&args.out);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("index.html");
    std::fs::write(&path, html).with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(
        anstream::stdout(),
        "wrote {} ({} campaign{})",
        path.display(),
        campaigns.len(),
        if campaigns.len() == 1 { "" } else { "s" }
    )?;
    Ok(Exit::Done)
}

/// The request of a base campaign's first occurrence at or after `at` (its base MsgRandom: a
/// picture, not a send).
fn request_at(
    renderer: &Renderer,
    c: &crate::validate::Checked<'_>,
    project: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Option<serde_json::Value> {
    let occ = c.schedule.first_at_or_after(at)?;
    let key = c.key(project, occ.at);
    crate::render::render(
        renderer,
        c.campaign,
        &c.context(occ.local),
        key.base_msg_random(),
    )
    .ok()
    .map(|r| r.request)
}
