//! The rules of spec §1 and §4 beyond the schema: API limits, templates, schedules, the set.
//!
//! Pure: campaigns and settings in, diagnostics and checked campaigns out.

use crate::diag::{Diagnostic, Pos};
use crate::occurrence::OccurrenceKey;
use crate::render::{self, APNS_BUDGET_BYTES, Context, MAX_BODY_BYTES, RESERVED_NAMES, Renderer};
use crate::schedule::{Schedule, ScheduleError};
use crate::settings::{AppSettings, Settings};
use crate::spec::campaign::{
    AttrCondition, Audience, Element, MessageSpec, ScheduleSpec, TagCondition,
};
use crate::spec::yaml::Document;
use crate::spec::{Campaign, NamePlace, Unparsed};
use chrono_tz::Tz;
use indexmap::IndexMap;
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// At most this many tags in each of `any`, `all`, `none` (90032).
pub const MAX_TAGS_PER_LIST: usize = 10;
/// Tags, attribute names and values: at most this many UTF-8 bytes (90020).
pub const MAX_TAG_BYTES: usize = 50;
/// At most this many attribute names in one condition.
pub const MAX_ATTR_NAMES: usize = 10;
/// `lifetime` may not exceed 7 days (90026).
pub const MAX_LIFETIME: Duration = Duration::from_secs(7 * 86_400);

/// A campaign that passed every rule, with its settings resolved.
#[derive(Debug, Clone)]
pub struct Checked<'a> {
    pub campaign: &'a Campaign,
    pub app: &'a AppSettings,
    pub zone: Tz,
    pub grace: Duration,
    pub schedule: Schedule,
}

/// A [`Checked`] campaign without its borrows: which campaign of the set (by place) and which
/// app (by name). A command may then change the set in place
/// ([`Campaign::keep_only_message`]) and have its checked campaigns back without validating
/// again.
#[derive(Debug)]
pub struct Detached {
    index: usize,
    app: String,
    zone: Tz,
    grace: Duration,
    schedule: Schedule,
}

impl<'a> Checked<'a> {
    /// # Panics
    /// When the campaign is not one of `campaigns`.
    #[must_use]
    pub fn detach(self, campaigns: &[Campaign]) -> Detached {
        let offset = std::ptr::from_ref(self.campaign)
            .addr()
            .wrapping_sub(campaigns.as_ptr().addr());
        let index = offset / std::mem::size_of::<Campaign>().max(1);
        assert!(
            campaigns
                .get(index)
                .is_some_and(|c| std::ptr::eq(c, self.campaign)),
            "a checked campaign is detached from the set it was checked in"
        );
        Detached {
            index,
            app: self.app.name.clone(),
            zone: self.zone,
            grace: self.grace,
            schedule: self.schedule,
        }
    }
}

impl Detached {
    /// The checked campaign again, in the set it was detached from.
    ///
    /// # Panics
    /// When the set or the apps changed in number or name since.
    #[must_use]
    pub fn attach<'a>(self, campaigns: &'a [Campaign], settings: &'a Settings) -> Checked<'a> {
        Checked {
            campaign: &campaigns[self.index],
            app: &settings.apps[self.app.as_str()],
            zone: self.zone,
            grace: self.grace,
            schedule: self.schedule,
        }
    }
}

impl Checked<'_> {
    #[must_use]
    pub fn name(&self) -> &str {
        &self.campaign.spec.name.0
    }

    /// The template context of an occurrence of this campaign (its local time).
    #[must_use]
    pub fn context(&self, local: chrono::DateTime<Tz>) -> Context {
        Context {
            campaign: self.name().to_owned(),
            app: self.app.name.clone(),
            local,
        }
    }

    /// The campaign's name, then its `previous_names`.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name()).chain(
            self.campaign
                .spec
                .previous_names
                .iter()
                .map(|n| n.0.as_str()),
        )
    }

    /// Every key the occurrence at `at` may have been recorded under, its own first: the
    /// campaign's previous names and the project's previous names own the same occurrence.
    #[must_use]
    pub fn keys(
        &self,
        settings: &Settings,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Vec<OccurrenceKey> {
        let mut keys = Vec::new();
        for project in settings.project_names() {
            for name in self.names() {
                keys.push(OccurrenceKey {
                    project: project.to_owned(),
                    sdkappid: self.app.sdkappid,
                    campaign: name.to_owned(),
                    scheduled: at,
                });
            }
        }
        keys
    }

    /// The key of this campaign's occurrence at `at`.
    #[must_use]
    pub fn key(&self, project: &str, at: chrono::DateTime<chrono::Utc>) -> OccurrenceKey {
        OccurrenceKey {
            project: project.to_owned(),
            sdkappid: self.app.sdkappid,
            campaign: self.name().to_owned(),
            scheduled: at,
        }
    }
}

/// Everything validation found.
#[derive(Debug, Default)]
pub struct Validation<'a> {
    pub checked: Vec<Checked<'a>>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Collects one file's diagnostics.
struct Sink<'a> {
    file: &'a Arc<Path>,
    doc: &'a Document,
    /// Pointers the schema already reported (for a file that failed it): nothing at or below
    /// them is reported twice.
    skip: &'a [String],
    out: Vec<Diagnostic>,
}

impl<'a> Sink<'a> {
    fn of(campaign: &'a Campaign) -> Self {
        Self {
            file: &campaign.file,
            doc: &campaign.doc,
            skip: &[],
            out: Vec::new(),
        }
    }

    fn skipped(&self, pointer: &str) -> bool {
        self.skip.iter().any(|s| {
            pointer == s
                || pointer.starts_with(&format!("{s}/"))
                || s.starts_with(&format!("{pointer}/"))
        })
    }

    /// Where a problem about `pointer` is shown: a mapping or list at its key, a scalar at itself.
    fn place(&self, pointer: &str) -> Pos {
        match self.doc.value.pointer(pointer) {
            Some(serde_json::Value::Object(_) | serde_json::Value::Array(_)) => {
                self.doc.positions.key(pointer)
            }
            _ => self.doc.positions.node(pointer),
        }
    }

    fn error(&mut self, pointer: &str, message: impl Into<String>) {
        if self.skipped(pointer) {
            return;
        }
        let pos = self.place(pointer);
        self.out.push(Diagnostic::error(self.file, pos, message));
    }

    fn error_at_key(&mut self, pointer: &str, message: impl Into<String>) {
        if self.skipped(pointer) {
            return;
        }
        let pos = self.doc.positions.key(pointer);
        self.out.push(Diagnostic::error(self.file, pos, message));
    }

    fn warning(&mut self, pointer: &str, message: impl Into<String>) {
        if self.skipped(pointer) {
            return;
        }
        let pos = self.place(pointer);
        self.out.push(Diagnostic::warning(self.file, pos, message));
    }
}

fn names_list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

fn check_app<'s>(
    sink: &mut Sink<'_>,
    given: Option<&str>,
    settings: &'s Settings,
) -> Option<&'s AppSettings> {
    let app = settings.app_for(given);
    if app.is_none() {
        let known: Vec<String> = settings.apps.keys().cloned().collect();
        match given {
            Some(name) => {
                let mut message = format!(
                    "unknown app `{name}` (crier.yaml apps: {})",
                    names_list(&known)
                );
                if let Some(close) = crate::schema::closest(name, &known) {
                    message.push_str(&format!("; did you mean `{close}`?"));
                }
                sink.error("/app", message);
            }
            None => sink.error(
                "/name",
                format!(
                    "this campaign names no `app`, and crier.yaml has {} apps ({}): add `app:`",
                    known.len(),
                    names_list(&known)
                ),
            ),
        }
    }
    app
}

fn check_vars(sink: &mut Sink<'_>, vars: &IndexMap<String, serde_json::Value>) {
    for name in vars.keys() {
        if RESERVED_NAMES.contains(&name.as_str()) {
            let ptr = format!("/vars/{}", crate::spec::yaml::escape_pointer_segment(name));
            sink.error_at_key(&ptr, format!("a var may not be named `{name}`: campaign, app and occurrence are template context names"));
        }
    }
}

fn check_tags(sink: &mut Sink<'_>, tags: &TagCondition) {
    let mut first_list: HashMap<&str, &str> = HashMap::new();
    for (list_name, list) in tags.lists() {
        let list_ptr = format!("/audience/tags/{list_name}");
        if list.len() > MAX_TAGS_PER_LIST {
            sink.error(
                &list_ptr,
                format!("audience.tags.{list_name} has {} tags; the API allows at most {MAX_TAGS_PER_LIST} (90032)", list.len()),
            );
        }
        for (i, tag) in list.iter().enumerate() {
            let ptr = format!("{list_ptr}/{i}");
            if tag.is_empty() {
                sink.error(&ptr, "empty tag: the API refuses empty tags (90040)");
            } else if tag.len() > MAX_TAG_BYTES {
                sink.error(&ptr, format!("tag `{tag}` is {} bytes in UTF-8; the API allows at most {MAX_TAG_BYTES} (90020)", tag.len()));
            }
            match first_list.get(tag.as_str()) {
                Some(other) if *other != list_name => sink.error(
                    &ptr,
                    format!("tag `{tag}` is in both `{other}` and `{list_name}`; a tag may appear in only one of any/all/none (90022)"),
                ),
                Some(_) => {}
                None => {
                    first_list.insert(tag, list_name);
                }
            }
        }
    }
    if tags.any.is_none() && tags.all.is_none() {
        sink.warning(
            "/audience/tags/none",
            "audience.tags has only `none`: this reaches every user without those tags, nearly everyone",
        );
    }
}

fn check_attrs(sink: &mut Sink<'_>, attrs: &AttrCondition, app: Option<&AppSettings>) {
    let mut names = std::collections::BTreeSet::new();
    for (map_name, map) in attrs.maps() {
        for (name, value) in map {
            names.insert(name.as_str());
            let ptr = format!(
                "/audience/attrs/{map_name}/{}",
                crate::spec::yaml::escape_pointer_segment(name)
            );
            if let Some(app) = app
                && !app.attributes.iter().any(|a| a == name)
            {
                let mut message = if app.attributes.is_empty() {
                    format!(
                        "attribute `{name}` is not declared: app `{}` declares no attributes in crier.yaml (90033)",
                        app.name
                    )
                } else {
                    format!(
                        "attribute `{name}` is not declared for app `{}` (crier.yaml attributes: {}) (90033)",
                        app.name,
                        app.attributes.join(", ")
                    )
                };
                if let Some(close) = crate::schema::closest(name, &app.attributes) {
                    message.push_str(&format!("; did you mean `{close}`?"));
                }
                sink.error_at_key(&ptr, message);
            }
            if value.is_empty() {
                sink.error(&ptr, format!("attribute `{name}` has an empty value"));
            } else if value.len() > MAX_TAG_BYTES {
                sink.error(&ptr, format!("attribute value `{value}` is {} bytes in UTF-8; the API allows at most {MAX_TAG_BYTES}", value.len()));
            }
        }
    }
    if names.len() > MAX_ATTR_NAMES {
        sink.error(
            "/audience/attrs",
            format!(
                "audience.attrs uses {} attribute names; an app has at most {MAX_ATTR_NAMES}",
                names.len()
            ),
        );
    }
}

fn check_message(sink: &mut Sink<'_>, message: &MessageSpec) {
    let translations = message
        .offline_push
        .as_ref()
        .and_then(|op| op.translations.as_ref());
    for (language, t) in translations.into_iter().flatten() {
        let pointer = format!(
            "/message/offline_push/translations/{}",
            crate::spec::yaml::escape_pointer_segment(language)
        );
        if language_tags::LanguageTag::parse(language).is_err() {
            sink.error_at_key(
                &pointer,
                format!(
                    "`{language}` is not a BCP 47 language tag (like en, zh-Hans, pt-BR): the provider matches MultiLanguageContent to the device's language by it"
                ),
            );
        }
        if t.title.is_none() && t.desc.is_none() {
            sink.error_at_key(
                &pointer,
                format!("translation `{language}` has neither title nor desc"),
            );
        }
    }
    if let Some(lt) = &message.lifetime
        && lt.value > MAX_LIFETIME
    {
        sink.error(
            "/message/lifetime",
            format!(
                "lifetime {} is longer than 7d, the API's limit (90026)",
                lt.text
            ),
        );
    }
    let customs: Vec<usize> = message
        .body
        .0
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, Element::Custom(_)))
        .map(|(i, _)| i)
        .collect();
    for i in customs.iter().skip(1) {
        sink.error(
            &format!("/message/body/{i}/custom"),
            "a message may carry at most one `custom` element (the first is message.body[{}])"
                .replace("{}", &customs[0].to_string()),
        );
    }
}

fn schedule_error(sink: &mut Sink<'_>, spec: &ScheduleSpec, e: &ScheduleError) {
    let pointer = match e {
        ScheduleError::UnknownZone { .. } | ScheduleError::ZoneAbbreviation { .. } => {
            "/schedule/timezone"
        }
        ScheduleError::StartAfterEnd { .. } => "/schedule/start",
        _ if spec.at.is_some() => "/schedule/at",
        _ => "/schedule/cron",
    };
    sink.error(pointer, e.to_string());
}

fn check_schedule(
    sink: &mut Sink<'_>,
    spec: &ScheduleSpec,
    settings: &Settings,
) -> Option<(Tz, Schedule)> {
    if let Some(message) = spec
        .grace
        .as_ref()
        .and_then(|g| crate::settings::grace_too_long("schedule.grace", g.value))
    {
        sink.error("/schedule/grace", message);
    }
    // An unknown zone is reported, and the rest of the schedule is still checked (in the
    // default zone), so every problem shows in one run.
    let mut zone_ok = true;
    let zone = match spec
        .timezone
        .as_deref()
        .map(crate::schedule::parse_zone)
        .transpose()
    {
        Ok(Some(z)) => {
            if let Some(w) = crate::schedule::zone_warning(z) {
                sink.warning("/schedule/timezone", w);
            }
            z
        }
        Ok(None) => settings.defaults.timezone,
        Err(e) => {
            schedule_error(sink, spec, &e);
            zone_ok = false;
            settings.defaults.timezone
        }
    };
    let schedule = if let Some(at) = &spec.at {
        for (key, day) in [("start", spec.start), ("end", spec.end)] {
            if day.is_some() {
                sink.error(
                    &format!("/schedule/{key}"),
                    format!("`{key}` applies to cron schedules only; a one-off runs once at `at`"),
                );
            }
        }
        match Schedule::once(at, zone) {
            Ok((s, fold)) => {
                if let Some(note) = fold {
                    sink.warning("/schedule/at", format!("{note}"));
                }
                s
            }
            Err(e) => {
                schedule_error(sink, spec, &e);
                return None;
            }
        }
    } else {
        let cron = spec.cron.as_deref().unwrap_or_default();
        match Schedule::cron(cron, zone, spec.start, spec.end) {
            Ok(s) => s,
            Err(e) => {
                schedule_error(sink, spec, &e);
                return None;
            }
        }
    };
    zone_ok.then_some((zone, schedule))
}

/// A schedule that alone fires more often on one quota day than its app's `daily_quota`
/// allows (90047): the rest would be deferred every day. A cron's matching days all fire at
/// the same minutes, so eight days from its first occurrence show every quota day's count
/// (quota days may straddle two local days when `quota_timezone` differs).
fn check_schedule_quota(sink: &mut Sink<'_>, app: &AppSettings, schedule: &Schedule) {
    let Some(cron) = schedule.cron_expr() else {
        return;
    };
    // No 24 hours can hold more than this: nothing to walk.
    if cron.max_per_day() <= app.daily_quota {
        return;
    }
    let Some(first) = schedule.first() else {
        return;
    };
    let end = first.at + chrono::Duration::days(8);
    let mut per_day: HashMap<chrono::NaiveDate, u32> = HashMap::new();
    for occ in schedule.occurrences(first.at, end) {
        *per_day
            .entry(occ.at.with_timezone(&app.quota_timezone).date_naive())
            .or_default() += 1;
    }
    if let Some(n) = per_day.into_values().filter(|n| *n > app.daily_quota).max() {
        sink.error(
            "/schedule/cron",
            format!(
                "this schedule fires {n} times on one quota day (midnight to midnight in {}), more than app `{}` may push in a day (daily_quota {}, 90047): the rest would be deferred every day; fire less often",
                app.quota_timezone.name(),
                app.name,
                app.daily_quota
            ),
        );
    }
}

fn check_rendering(
    sink: &mut Sink<'_>,
    campaign: &Campaign,
    renderer: &Renderer,
    settings: &Settings,
    app: Option<&AppSettings>,
    schedule: Option<&Schedule>,
) {
    // Without a valid schedule the templates are still checked (names, syntax), at a stand-in
    // occurrence; the size limits need the real first occurrence.
    let first = schedule.and_then(Schedule::first);
    let stand_in = || crate::schedule::Occurrence {
        at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
        local: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH
            .with_timezone(&settings.defaults.timezone),
        dst: None,
    };
    if schedule.is_some() && first.is_none() {
        return;
    }
    let sized = first.is_some();
    let first = first.unwrap_or_else(stand_in);
    let app_name = app.map_or_else(
        || campaign.spec.app.clone().unwrap_or_default(),
        |a| a.name.clone(),
    );
    let ctx = Context {
        campaign: campaign.spec.name.0.clone(),
        app: app_name,
        local: first.local,
    };
    let key = OccurrenceKey {
        project: settings.project.clone(),
        sdkappid: app.map_or(0, |a| a.sdkappid),
        campaign: campaign.spec.name.0.clone(),
        scheduled: first.at,
    };
    // Compiled once, for the first occurrence and the seven days after it.
    let prepared = renderer.prepare(campaign.message_source(), &campaign.spec.vars);
    match render::render_from(&prepared, campaign, &ctx, key.base_msg_random()) {
        Ok(_) if !sized => {}
        Ok(r) => {
            // The body is measured with the widest MsgRandom (the plan's may have more digits
            // than this one), and, when a template reads the occurrence, at the first
            // occurrence of each of the first 8 days too (a weekday's name changes its size).
            // A day whose templates render to the size shape of one already measured has a
            // body of the same length, and is not rendered whole.
            // (size as rendered, size with a 10-digit MsgRandom, occurrence, is it the first)
            let widest =
                r.body.len() + u32::MAX.to_string().len() - key.base_msg_random().to_string().len();
            let mut largest = (r.body.len(), widest, first, true);
            if let Some(s) = schedule.filter(|_| render::depends_on_occurrence(campaign)) {
                // The first day's shape, once a second day is there (a one-off has none).
                let mut measured: Option<Vec<Vec<u32>>> = None;
                let mut last_day = first.local.date_naive();
                for occ in s.occurrences(first.at, first.at + chrono::Duration::days(8)) {
                    if occ.local.date_naive() == last_day {
                        continue;
                    }
                    last_day = occ.local.date_naive();
                    let day = Context {
                        local: occ.local,
                        ..ctx.clone()
                    };
                    let Some(shape) = prepared.size_shape(&day) else {
                        continue;
                    };
                    let measured = measured
                        .get_or_insert_with(|| prepared.size_shape(&ctx).into_iter().collect());
                    if measured.contains(&shape) {
                        continue;
                    }
                    measured.push(shape);
                    if let Ok(message) = render::render_prepared(&prepared, &day)
                        && let other = render::with_msg_random(campaign, message, u32::MAX)
                        && other.body.len() > largest.1
                    {
                        largest = (other.body.len(), other.body.len(), occ, false);
                    }
                }
            }
            let (size, widest, at, is_first) = largest;
            if widest > MAX_BODY_BYTES {
                // Said only when the MsgRandom's digits are what tip it over.
                let padded = if size <= MAX_BODY_BYTES {
                    format!(" and up to {widest} with a 10-digit MsgRandom")
                } else {
                    String::new()
                };
                sink.error(
                    "/message",
                    format!(
                        "the rendered request body is {size} bytes ({}, {}){padded}; the API allows at most {MAX_BODY_BYTES} (90056)",
                        if is_first { "first occurrence" } else { "occurrence" },
                        at.local.format("%Y-%m-%d %H:%M %Z")
                    ),
                );
            }
            phone_cuts(sink, &r.request);
            if r.apns_bytes() > APNS_BUDGET_BYTES {
                sink.warning(
                    "/message/offline_push",
                    format!(
                        "offline_push desc + ext render to {} bytes; APNs payloads are limited to 4 KB, keep these under {APNS_BUDGET_BYTES}",
                        r.apns_bytes()
                    ),
                );
            }
        }
        Err(errors) => {
            for e in errors {
                sink.error(&e.pointer, e.message);
            }
        }
    }
}

/// Strings that look like a UserSig query parameter: the ledger never stores one (it refuses
/// such records), so a campaign that carries one could never be applied.
fn check_no_usersig(sink: &mut Sink<'_>) {
    let found = crate::spec::yaml::find_leaves(&sink.doc.value, &|v| {
        v.as_str().is_some_and(crate::secrets::carries_usersig)
    });
    for pointer in found {
        sink.error(&pointer, "this text carries a UserSig query parameter (`usersig` and `=`): crier never records a UserSig, so this campaign could not be applied; remove it");
    }
}

/// Every rule for one campaign.
#[must_use]
pub fn check_campaign<'a>(
    campaign: &'a Campaign,
    settings: &'a Settings,
    renderer: &Renderer,
) -> (Option<Checked<'a>>, Vec<Diagnostic>) {
    let mut sink = Sink::of(campaign);
    let spec = &campaign.spec;
    let app = check_app(&mut sink, spec.app.as_deref(), settings);
    check_vars(&mut sink, &spec.vars);
    match &spec.audience {
        Audience::All(_) => {}
        Audience::Tags(t) => check_tags(&mut sink, t),
        Audience::Attrs(a) => check_attrs(&mut sink, a, app),
    }
    check_message(&mut sink, &spec.message);
    check_no_usersig(&mut sink);
    let schedule = check_schedule(&mut sink, &spec.schedule, settings);
    check_rendering(
        &mut sink,
        campaign,
        renderer,
        settings,
        app,
        schedule.as_ref().map(|(_, s)| s),
    );
    if let (Some((_, s)), Some(app)) = (&schedule, app) {
        check_schedule_quota(&mut sink, app, s);
    }
    check_policy(
        &mut sink,
        spec,
        &settings.policy,
        schedule.as_ref().map(|(_, s)| s),
    );
    let ok = !sink.out.iter().any(Diagnostic::is_error);
    let checked = match (ok, app, schedule) {
        (true, Some(app), Some((zone, schedule))) => Some(Checked {
            campaign,
            app,
            zone,
            grace: campaign
                .spec
                .schedule
                .grace
                .as_ref()
                .map_or(settings.defaults.grace, |g| g.value),
            schedule,
        }),
        _ => None,
    };
    (checked, sink.out)
}

/// Warns about the vendors that cut the offline push's title or description (first occurrence),
/// one warning per field, naming each vendor and what it shows.
fn phone_cuts(sink: &mut Sink<'_>, request: &serde_json::Value) {
    let cuts = crate::render::vendors::cuts_of_request(request);
    for field in ["title", "desc"] {
        let of_field: Vec<&crate::render::vendors::Cut> =
            cuts.iter().filter(|c| c.field == field).collect();
        let Some(first) = of_field.first() else {
            continue;
        };
        let vendors: Vec<String> = of_field
            .iter()
            .map(|c| format!("{} ({}) shows \"{}\"", c.vendor, c.limit, c.shown_short()))
            .collect();
        sink.warning(
            &format!("/message/offline_push/{field}"),
            format!(
                "offline_push.{field} is {} UTF-16 units: {}",
                first.units,
                vendors.join("; ")
            ),
        );
    }
}

/// The policy rules a campaign's own text decides (`all_users`, `quiet_hours` on its first
/// 200 occurrences), and exceptions for rules `crier.yaml` does not have.
fn check_policy(
    sink: &mut Sink<'_>,
    spec: &crate::spec::campaign::CampaignSpec,
    policy: &crate::policy::Policy,
    schedule: Option<&Schedule>,
) {
    use crate::policy::{ALL_USERS, Level, QUIET_HOURS};
    let exceptions = spec.policy_exceptions.clone().unwrap_or_default();
    for rule in exceptions.keys() {
        if policy.level(rule).is_none() {
            sink.warning(
                &format!("/policy_exceptions/{rule}"),
                format!("crier.yaml's policy has no `{rule}` rule: this exception does nothing"),
            );
        }
    }
    let finding = |sink: &mut Sink<'_>, level: Level, pointer: &str, rule: &str, text: String| {
        let message = match level {
            Level::Deny => format!(
                "policy {rule} (deny): {text}; to send it anyway, add `policy_exceptions: {{{rule}: \"<why>\"}}` for reviewers to see"
            ),
            Level::Warn => format!("policy {rule} (warn): {text}"),
        };
        match level {
            Level::Deny => sink.error(pointer, message),
            Level::Warn => sink.warning(pointer, message),
        }
    };
    if let (Some(level), Audience::All(_)) = (policy.all_users, &spec.audience)
        && !exceptions.contains_key(ALL_USERS)
    {
        finding(
            sink,
            level,
            "/audience",
            ALL_USERS,
            "this campaign pushes to ALL USERS".to_owned(),
        );
    }
    if let (Some(q), Some(schedule)) = (policy.quiet_hours, schedule)
        && !exceptions.contains_key(QUIET_HOURS)
        && let Some(first) = schedule.first()
        && let Some(quiet) = schedule
            .occurrences(first.at, chrono::DateTime::<chrono::Utc>::MAX_UTC)
            .take(200)
            .find(|o| q.contains(o.at))
    {
        finding(
            sink,
            q.level,
            "/schedule",
            QUIET_HOURS,
            format!(
                "the occurrence at {} falls in the quiet hours ({})",
                quiet
                    .local
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
                q.describe()
            ),
        );
    }
}

/// The set-wide rule: campaign names are unique.
#[must_use]
pub fn check_names(names: &[(String, Arc<Path>, NamePlace)]) -> Vec<Diagnostic> {
    let mut by_name: HashMap<&str, Vec<(&Arc<Path>, &NamePlace)>> = HashMap::new();
    for (name, file, place) in names {
        by_name.entry(name).or_default().push((file, place));
    }
    let mut out = Vec::new();
    for (name, places) in by_name {
        if places.len() < 2 {
            continue;
        }
        // Positions are found only for names that are reported.
        let places: Vec<(&Arc<Path>, Pos)> =
            places.into_iter().map(|(f, p)| (f, p.pos())).collect();
        for (i, (file, pos)) in places.iter().enumerate() {
            let others: Vec<String> = places
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, (f, p))| format!("{}:{}:{}", f.display(), p.line, p.col))
                .collect();
            out.push(Diagnostic::error(
                file,
                *pos,
                format!(
                    "duplicate campaign name `{name}` (also in {})",
                    others.join(", ")
                ),
            ));
        }
    }
    out
}

/// The rules that do not need the whole file to be well-formed, for a file that failed the
/// schema or the types: each part that is well-formed on its own (the schedule, the tags, the
/// message, the templates…) is checked, so every independent problem shows in one run.
#[must_use]
pub fn check_unparsed(
    unparsed: &Unparsed,
    settings: &Settings,
    renderer: &Renderer,
) -> Vec<Diagnostic> {
    fn part<T: serde::de::DeserializeOwned>(doc: &Document, pointer: &str) -> Option<T> {
        serde_json::from_value(doc.value.pointer(pointer)?.clone()).ok()
    }
    let doc = &unparsed.doc;
    let mut sink = Sink {
        file: &unparsed.file,
        doc,
        skip: &unparsed.reported,
        out: Vec::new(),
    };
    let app = match doc.value.get("app") {
        Some(serde_json::Value::String(name)) => check_app(&mut sink, Some(name), settings),
        None => settings.app_for(None),
        Some(_) => None,
    };
    let vars: Option<IndexMap<String, serde_json::Value>> = match doc.value.get("vars") {
        None => Some(IndexMap::new()),
        Some(_) => part(doc, "/vars"),
    };
    if let Some(vars) = &vars {
        check_vars(&mut sink, vars);
    }
    if let Some(t) = part::<TagCondition>(doc, "/audience/tags") {
        check_tags(&mut sink, &t);
    }
    if let Some(a) = part::<AttrCondition>(doc, "/audience/attrs") {
        check_attrs(&mut sink, &a, app);
    }
    if let Some(m) = part::<MessageSpec>(doc, "/message") {
        check_message(&mut sink, &m);
    }
    check_no_usersig(&mut sink);
    let schedule = part::<ScheduleSpec>(doc, "/schedule")
        .and_then(|spec| check_schedule(&mut sink, &spec, settings));
    if let (Some(vars), Some(message)) = (&vars, doc.value.get("message")) {
        let local = schedule.as_ref().and_then(|(_, s)| s.first()).map_or_else(
            || {
                chrono::DateTime::<chrono::Utc>::UNIX_EPOCH
                    .with_timezone(&settings.defaults.timezone)
            },
            |o| o.local,
        );
        let ctx = Context {
            campaign: doc
                .value
                .get("name")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            app: app.map(|a| a.name.clone()).unwrap_or_default(),
            local,
        };
        if let Err(errors) = renderer.render_message(message, &ctx, vars) {
            for e in errors {
                sink.error(&e.pointer, e.message);
            }
        }
    }
    if let (Some((_, s)), Some(app)) = (&schedule, app) {
        check_schedule_quota(&mut sink, app, s);
    }
    sink.out
}

/// Validates the campaign set against the settings: every per-campaign rule (in parallel), the
/// independent parts of files that failed the schema ([`check_unparsed`]) and the set-wide
/// rules. Diagnostics come sorted.
#[must_use]
pub fn validate<'a>(
    settings: &'a Settings,
    campaigns: &'a [Campaign],
    unparsed: &[Unparsed],
    names: &[(String, Arc<Path>, NamePlace)],
) -> Validation<'a> {
    let renderer = Renderer::new();
    let results: Vec<(Option<Checked<'a>>, Vec<Diagnostic>)> = campaigns
        .par_iter()
        .map(|c| check_campaign(c, settings, &renderer))
        .collect();
    let mut outcome = Validation::default();
    for (checked, diags) in results {
        outcome.checked.extend(checked);
        outcome.diagnostics.extend(diags);
    }
    let partial: Vec<Vec<Diagnostic>> = unparsed
        .par_iter()
        .map(|u| check_unparsed(u, settings, &renderer))
        .collect();
    outcome.diagnostics.extend(partial.into_iter().flatten());
    let duplicates = check_names(names);
    if !duplicates.is_empty() {
        let dup_files: std::collections::HashSet<&Arc<Path>> =
            duplicates.iter().map(|d| &d.file).collect();
        outcome
            .checked
            .retain(|c| !dup_files.contains(&c.campaign.file));
        outcome.diagnostics.extend(duplicates);
    }
    crate::diag::sort(&mut outcome.diagnostics);
    outcome
}
