//! Campaign repository formats: YAML with positions, `crier.yaml`, campaign files. Pure: parsers
//! take text; [`crate::load`] reads the files.

pub mod campaign;
pub mod config;
pub mod yaml;

use crate::diag::Diagnostic;
use crate::schema;
use campaign::CampaignSpec;
use std::path::Path;
use std::sync::Arc;
use yaml::{Document, LazyPositions};

/// A campaign file that passed the YAML, schema and type checks.
#[derive(Debug, Clone)]
pub struct Campaign {
    /// The file, as diagnostics name it.
    pub file: Arc<Path>,
    /// The parsed document (positions, and the raw `message` that templates render from).
    pub doc: Document,
    pub spec: CampaignSpec,
}

impl Campaign {
    /// The raw `message` value, before template rendering.
    #[must_use]
    pub fn message_source(&self) -> &serde_json::Value {
        &self.doc.value["message"]
    }

    /// Lets the generic document go but for its `message`, which templates render from. For a
    /// command past validation and normalisation (which read the whole document): at 10,000
    /// campaigns the rest of the documents is about 14 MB that `plan` would hold to the end.
    pub fn keep_only_message(&mut self) {
        let message = self.doc.value["message"].take();
        // Sized for its one key (a map grows to four at its first insert).
        let mut only = serde_json::Map::with_capacity(1);
        only.insert("message".to_owned(), message);
        self.doc.value = serde_json::Value::Object(only);
    }

    /// Where its `name` stands (for the set-wide unique-name rule).
    #[must_use]
    pub fn name_place(&self) -> NamePlace {
        NamePlace {
            positions: self.doc.positions.clone(),
            previous: None,
        }
    }

    /// The position of the node at `pointer` in this file.
    #[must_use]
    pub fn pos(&self, pointer: &str) -> crate::diag::Pos {
        self.doc.positions.node(pointer)
    }
}

/// A campaign file that parsed as YAML but failed the schema: kept so that validation can
/// still report its independent problems (schedule, templates, tags…) in the same run.
#[derive(Debug, Clone)]
pub struct Unparsed {
    pub file: Arc<Path>,
    pub doc: Document,
    /// The pointers the schema errors are about (not reported twice).
    pub reported: Vec<String>,
}

/// The outcome of parsing one campaign file.
#[derive(Debug)]
pub struct ParsedFile {
    pub campaign: Option<Campaign>,
    /// Set when the file failed the schema (see [`Unparsed`]).
    pub unparsed: Option<Unparsed>,
    pub diagnostics: Vec<Diagnostic>,
    /// The `name` and then the `previous_names` found in the file, with their places, even
    /// when it did not pass the checks (for the set-wide unique-name rule).
    pub names: Vec<(String, NamePlace)>,
}

/// Where a campaign name stands in its file, found only when a diagnostic needs it.
#[derive(Debug, Clone)]
pub struct NamePlace {
    positions: LazyPositions,
    /// `None`: `name`; `Some(i)`: `previous_names[i]`.
    previous: Option<usize>,
}

impl NamePlace {
    #[must_use]
    pub fn pos(&self) -> crate::diag::Pos {
        match self.previous {
            None => self.positions.node("/name"),
            Some(i) => self.positions.node(&format!("/previous_names/{i}")),
        }
    }
}

/// Parses one campaign file's text: YAML, schema, then types.
#[must_use]
pub fn parse_campaign(file: &Arc<Path>, text: &str) -> ParsedFile {
    parse_campaign_shared(file, Arc::from(text))
}

/// [`parse_campaign`] of a text the campaign keeps (shared, not copied) for its positions.
#[must_use]
pub fn parse_campaign_shared(file: &Arc<Path>, text: Arc<str>) -> ParsedFile {
    let doc = match yaml::parse_shared(text) {
        Ok(doc) => doc,
        Err(e) => {
            return ParsedFile {
                campaign: None,
                unparsed: None,
                diagnostics: vec![Diagnostic::error(file, e.pos, e.message)],
                names: Vec::new(),
            };
        }
    };
    let mut name = Vec::new();
    if let Some(n) = doc.value.get("name").and_then(serde_json::Value::as_str) {
        name.push((
            n.to_owned(),
            NamePlace {
                positions: doc.positions.clone(),
                previous: None,
            },
        ));
    }
    if let Some(previous) = doc
        .value
        .get("previous_names")
        .and_then(serde_json::Value::as_array)
    {
        for (i, p) in previous.iter().enumerate() {
            if let Some(p) = p.as_str() {
                name.push((
                    p.to_owned(),
                    NamePlace {
                        positions: doc.positions.clone(),
                        previous: Some(i),
                    },
                ));
            }
        }
    }
    if !doc.value.is_object() {
        let d = Diagnostic::error(file, doc.positions.node(""), "a campaign file must be a mapping (see the spec §1)")
            .with_hint("start from `crier init`'s example or add `# yaml-language-server: $schema=...` for completion");
        return ParsedFile {
            campaign: None,
            unparsed: None,
            diagnostics: vec![d],
            names: name,
        };
    }
    let errors = schema::check(schema::Kind::Campaign, &doc);
    if !errors.is_empty() {
        let reported = errors.iter().map(|e| e.pointer.clone()).collect();
        let diagnostics = errors
            .into_iter()
            .map(|e| Diagnostic::error(file, e.pos, e.message))
            .collect();
        return ParsedFile {
            campaign: None,
            unparsed: Some(Unparsed {
                file: Arc::clone(file),
                doc,
                reported,
            }),
            diagnostics,
            names: name,
        };
    }
    match campaign::from_value::<CampaignSpec>(&doc.value) {
        Ok(spec) => ParsedFile {
            unparsed: None,
            campaign: Some(Campaign {
                file: Arc::clone(file),
                doc,
                spec,
            }),
            diagnostics: Vec::new(),
            names: name,
        },
        Err(e) => {
            let d = Diagnostic::error(
                file,
                doc.positions.node(&e.pointer),
                format!("{}: {}", schema::dotted(&e.pointer), e.message),
            );
            ParsedFile {
                campaign: None,
                unparsed: Some(Unparsed {
                    file: Arc::clone(file),
                    reported: vec![e.pointer.clone()],
                    doc,
                }),
                diagnostics: vec![d],
                names: name,
            }
        }
    }
}
