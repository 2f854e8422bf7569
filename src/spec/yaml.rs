//! YAML text → JSON value, with the position of every node.
//!
//! One pass over saphyr's event stream builds a `serde_json::Value`; a map from JSON pointer to
//! source position, so that schema errors, typed-loading errors and rule violations can all point
//! at `file:line:column`, is built by a second pass over the same text the first time a
//! diagnostic asks for one ([`LazyPositions`]): most files never need it. YAML 1.2 core schema (`country: no` stays a string); anchors and
//! aliases are expanded; merge keys (`<<`) are applied with explicit keys winning; duplicate keys,
//! nesting deeper than [`MAX_DEPTH`], files over [`MAX_BYTES`] and alias bombs are refused with a
//! position. Pure: takes text, does no I/O.

use crate::diag::Pos;
use saphyr::{Scalar, ScalarStyle};
use saphyr_parser::{Event, Parser, Span};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// Up to this many keys, a mapping finds a duplicate key by scanning its entries.
const SCAN_KEYS: usize = 16;

/// Largest accepted file.
pub const MAX_BYTES: usize = 1024 * 1024;
/// Deepest accepted nesting of mappings and sequences.
pub const MAX_DEPTH: usize = 64;
/// Most nodes that alias expansion may create in one file (billion-laughs guard).
pub const MAX_ALIAS_NODES: usize = 100_000;
/// Most bytes (string and key text, plus 8 per node) that alias expansion may add in one file:
/// a small file must not expand into gigabytes through aliases of long strings.
pub const MAX_ALIAS_BYTES: usize = 4 * 1024 * 1024;

/// A parsed YAML document: the value, and where each of its nodes stands in the source.
#[derive(Debug, Clone)]
pub struct Document {
    pub value: Value,
    pub positions: LazyPositions,
}

impl PartialEq for Document {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value && self.positions.text == other.positions.text
    }
}

impl Document {
    /// A document that has no source text (rebuilt from a snapshot): every position is the start.
    #[must_use]
    pub fn without_source(value: Value) -> Self {
        Self {
            value,
            positions: LazyPositions::of(Arc::from("")),
        }
    }
}

/// The positions of a parsed text, built on first use (a second pass over the text, which is
/// known to parse) and shared by clones.
#[derive(Debug, Clone)]
pub struct LazyPositions {
    text: Arc<str>,
    built: Arc<OnceLock<Positions>>,
}

impl LazyPositions {
    fn of(text: Arc<str>) -> Self {
        Self {
            text,
            built: Arc::default(),
        }
    }

    fn get(&self) -> &Positions {
        self.built.get_or_init(|| {
            let mut b = Builder::new(true);
            // The text parsed once already: this pass cannot fail.
            match b.run(&self.text) {
                Ok(()) => b.positions.finish(),
                Err(_) => Positions::default(),
            }
        })
    }

    /// The position of the node at `pointer`, or of its nearest ancestor that has one.
    #[must_use]
    pub fn node(&self, pointer: &str) -> Pos {
        self.get().node(pointer)
    }

    /// The position of the key of the member at `pointer` (the node's own position when it has no key).
    #[must_use]
    pub fn key(&self, pointer: &str) -> Pos {
        self.get().key(pointer)
    }

    /// Every node's position (for tests).
    #[cfg(test)]
    fn nodes(&self) -> impl Iterator<Item = Pos> + '_ {
        self.get().nodes()
    }
}

/// Where each node (by JSON pointer, `""` for the root) and each mapping key stands.
///
/// Compact: every campaign keeps its document for later diagnostics, so the pointers are one
/// string (sorted) and the positions a list beside it, looked up by binary search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Positions {
    /// Every pointer that has a position, in sorted order, one after another.
    text: String,
    /// One per pointer, in the same order: where it ends in `text`, and its positions.
    slots: Vec<Slot>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    end: u32,
    node: Option<SmallPos>,
    key: Option<SmallPos>,
}

/// A [`Pos`] in a file of at most [`MAX_BYTES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SmallPos {
    line: u32,
    col: u32,
    len: u32,
}

impl SmallPos {
    fn of(p: Pos) -> Self {
        let small = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Self {
            line: small(p.line),
            col: small(p.col),
            len: small(p.len),
        }
    }

    fn pos(self) -> Pos {
        Pos::new(self.line as usize, self.col as usize, self.len as usize)
    }
}

/// The positions while a document is being read.
#[derive(Default)]
struct Working {
    nodes: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
}

impl Working {
    fn finish(self) -> Positions {
        let Self { mut nodes, keys } = self;
        let mut all: Vec<(String, Option<Pos>, Option<Pos>)> = keys
            .into_iter()
            .map(|(p, key)| {
                let node = nodes.remove(&p);
                (p, node, Some(key))
            })
            .collect();
        all.extend(nodes.into_iter().map(|(p, node)| (p, Some(node), None)));
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut text = String::with_capacity(all.iter().map(|e| e.0.len()).sum());
        let slots = all
            .into_iter()
            .map(|(p, node, key)| {
                text.push_str(&p);
                Slot {
                    end: u32::try_from(text.len()).unwrap_or(u32::MAX),
                    node: node.map(SmallPos::of),
                    key: key.map(SmallPos::of),
                }
            })
            .collect();
        Positions { text, slots }
    }
}

impl Positions {
    /// The slot of exactly `pointer`.
    fn slot(&self, pointer: &str) -> Option<&Slot> {
        let start = |i: usize| {
            if i == 0 {
                0
            } else {
                self.slots[i - 1].end as usize
            }
        };
        let (mut lo, mut hi) = (0, self.slots.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let here = &self.text[start(mid)..self.slots[mid].end as usize];
            match here.cmp(pointer) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(&self.slots[mid]),
            }
        }
        None
    }

    /// The position of the node at `pointer`, or of its nearest ancestor that has one.
    fn node(&self, pointer: &str) -> Pos {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.slot(p).and_then(|s| s.node) {
                return pos.pos();
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return Pos::START,
            }
        }
    }

    /// Every node's position (for tests).
    #[cfg(test)]
    fn nodes(&self) -> impl Iterator<Item = Pos> + '_ {
        self.slots.iter().filter_map(|s| s.node.map(SmallPos::pos))
    }

    /// The position of the key of the member at `pointer` (the node's own position when it has no key).
    fn key(&self, pointer: &str) -> Pos {
        self.slot(pointer)
            .and_then(|s| s.key)
            .map_or_else(|| self.node(pointer), SmallPos::pos)
    }
}

/// A YAML problem at a place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

impl YamlError {
    fn new(pos: Pos, message: impl Into<String>) -> Self {
        Self {
            pos,
            message: message.into(),
        }
    }
}

/// Escapes one JSON-pointer segment.
#[must_use]
pub fn escape_pointer_segment(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// One step of a JSON pointer, spelled out (by [`pointer_of`]) only when a pointer is needed.
pub enum Seg<'v> {
    Key(&'v str),
    Index(usize),
}

/// The JSON pointer of a path of steps.
#[must_use]
pub fn pointer_of(path: &[Seg<'_>]) -> String {
    let mut pointer = String::new();
    for seg in path {
        pointer.push('/');
        match seg {
            Seg::Key(k) => pointer.push_str(&escape_pointer_segment(k)),
            Seg::Index(i) => pointer.push_str(&i.to_string()),
        }
    }
    pointer
}

/// Every leaf of a JSON value (scalars, and empty mappings and lists) with its JSON pointer, in
/// document order.
#[must_use]
pub fn leaves(v: &Value) -> Vec<(String, &Value)> {
    fn walk<'v>(v: &'v Value, pointer: String, out: &mut Vec<(String, &'v Value)>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, item) in m {
                    walk(
                        item,
                        format!("{pointer}/{}", escape_pointer_segment(k)),
                        out,
                    );
                }
            }
            Value::Array(a) if !a.is_empty() => {
                for (i, item) in a.iter().enumerate() {
                    walk(item, format!("{pointer}/{i}"), out);
                }
            }
            leaf => out.push((pointer, leaf)),
        }
    }
    let mut out = Vec::new();
    walk(v, String::new(), &mut out);
    out
}

/// Whether any leaf of `v` satisfies `test` (stops at the first).
pub fn any_leaf(v: &Value, test: &dyn Fn(&Value) -> bool) -> bool {
    match v {
        Value::Object(m) if !m.is_empty() => m.values().any(|item| any_leaf(item, test)),
        Value::Array(a) if !a.is_empty() => a.iter().any(|item| any_leaf(item, test)),
        leaf => test(leaf),
    }
}

/// The JSON pointers of the leaves of `v` that `keep` accepts, in document order. Cheaper than
/// [`leaves`] when few match: a pointer is only spelled out for a leaf that is kept.
pub fn find_leaves(v: &Value, keep: &dyn Fn(&Value) -> bool) -> Vec<String> {
    fn walk<'v>(
        v: &'v Value,
        path: &mut Vec<Seg<'v>>,
        keep: &dyn Fn(&Value) -> bool,
        out: &mut Vec<String>,
    ) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, item) in m {
                    path.push(Seg::Key(k));
                    walk(item, path, keep, out);
                    path.pop();
                }
            }
            Value::Array(a) if !a.is_empty() => {
                for (i, item) in a.iter().enumerate() {
                    path.push(Seg::Index(i));
                    walk(item, path, keep, out);
                    path.pop();
                }
            }
            leaf if keep(leaf) => out.push(pointer_of(path)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut Vec::new(), keep, &mut out);
    out
}

/// `lines`: how many lines `text` has; a span the scanner starts past them (an empty key or
/// value at the end of the input) points just past the last character instead.
fn pos_of(span: Span, text: &str, lines: usize) -> Pos {
    let (s, e) = (span.start, span.end);
    if s.line() > lines {
        return Pos::of_offset(text, text.len());
    }
    let len = if e.line() == s.line() && e.col() > s.col() {
        e.col() - s.col()
    } else {
        1
    };
    Pos::new(s.line(), s.col() + 1, len)
}

enum Entry {
    /// A key, its value, and where the key stands.
    Pair(String, Value, Pos),
    Merge(Value, Pos),
}

enum Frame {
    Seq {
        pointer: String,
        anchor: usize,
        pos: Pos,
        items: Vec<Value>,
    },
    Map {
        pointer: String,
        anchor: usize,
        pos: Pos,
        entries: Vec<Entry>,
        /// The key waiting for its value: text, position, and whether it is a merge key.
        pending: Option<(String, Pos, bool)>,
        /// The keys so far, by text, once the mapping has more than [`SCAN_KEYS`] (below that a
        /// scan of the entries is cheaper than hashing every key).
        seen: Option<HashMap<String, Pos>>,
    },
}

struct Builder {
    /// Whether positions are recorded (the second pass) or only the value is built.
    record: bool,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Value>,
    positions: Working,
    alias_nodes: usize,
    alias_bytes: usize,
    root: Option<Value>,
    documents: usize,
}

/// (nodes, bytes) of a value: its nodes, and its string and key text plus 8 bytes a node.
fn weigh(v: &Value) -> (usize, usize) {
    match v {
        Value::Array(a) => a.iter().map(weigh).fold((1, 8), |(n, b), (n2, b2)| {
            (n.saturating_add(n2), b.saturating_add(b2))
        }),
        Value::Object(m) => m.iter().fold((1, 8), |(n, b), (k, v)| {
            let (n2, b2) = weigh(v);
            (
                n.saturating_add(n2),
                b.saturating_add(b2).saturating_add(k.len()),
            )
        }),
        Value::String(s) => (1, 8 + s.len()),
        _ => (1, 8),
    }
}

fn scalar_to_json(s: Scalar<'_>, pos: Pos) -> Result<Value, YamlError> {
    Ok(match s {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(b),
        Scalar::Integer(i) => Value::Number(i.into()),
        Scalar::FloatingPoint(f) => {
            Value::Number(Number::from_f64(f.into_inner()).ok_or_else(|| {
                YamlError::new(
                    pos,
                    "`.inf` and `.nan` are not allowed here: use a finite number or quote the text",
                )
            })?)
        }
        Scalar::String(s) => Value::String(s.into_owned()),
    })
}

impl Builder {
    /// The pointer a new child node gets, when positions are recorded.
    fn child_pointer(&self) -> Option<String> {
        if !self.record {
            return None;
        }
        match self.stack.last()? {
            Frame::Seq { pointer, items, .. } => Some(format!("{pointer}/{}", items.len())),
            Frame::Map {
                pointer,
                pending: Some((key, _, _)),
                ..
            } => Some(format!("{pointer}/{}", escape_pointer_segment(key))),
            Frame::Map { .. } => None,
        }
    }

    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { pending: None, .. }))
    }

    fn open(&mut self, is_map: bool, anchor: usize, pos: Pos) -> Result<(), YamlError> {
        if self.expecting_key() {
            return Err(YamlError::new(
                pos,
                "a mapping or sequence cannot be used as a key",
            ));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError::new(
                pos,
                format!("nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        if self.root.is_some() && self.stack.is_empty() {
            return Err(self.second_document(pos));
        }
        let pointer = self.child_pointer().unwrap_or_default();
        if self.record {
            self.positions.nodes.insert(pointer.clone(), pos);
        }
        self.stack.push(if is_map {
            Frame::Map {
                pointer,
                anchor,
                pos,
                entries: Vec::new(),
                pending: None,
                seen: None,
            }
        } else {
            Frame::Seq {
                pointer,
                anchor,
                pos,
                items: Vec::new(),
            }
        });
        Ok(())
    }

    fn second_document(&self, pos: Pos) -> YamlError {
        let _ = self.documents;
        YamlError::new(
            pos,
            "a second YAML document in one file: put one campaign in each file",
        )
    }

    /// Places a finished value where it belongs: a sequence item, a mapping value, or the root.
    fn place(&mut self, value: Value, pos: Pos, anchor: usize) -> Result<(), YamlError> {
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_some() {
                    return Err(self.second_document(pos));
                }
                if self.record {
                    self.positions.nodes.entry(String::new()).or_insert(pos);
                }
                self.root = Some(value);
            }
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map {
                pending, entries, ..
            }) => {
                let (key, key_pos, merge) = pending
                    .take()
                    .expect("place is only called with a pending key");
                entries.push(if merge {
                    Entry::Merge(value, pos)
                } else {
                    Entry::Pair(key, value, key_pos)
                });
            }
        }
        Ok(())
    }

    fn scalar(
        &mut self,
        text: &str,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<&std::borrow::Cow<'_, saphyr::Tag>>,
        pos: Pos,
    ) -> Result<(), YamlError> {
        if self.expecting_key() {
            return self.key(
                text.to_owned(),
                style == ScalarStyle::Plain && text == "<<",
                pos,
            );
        }
        let scalar = Scalar::parse_from_cow_and_metadata(text.into(), style, tag)
            .ok_or_else(|| YamlError::new(pos, format!("`{text}` does not match its tag")))?;
        let value = scalar_to_json(scalar, pos)?;
        if let Some(p) = self.child_pointer() {
            self.positions.nodes.insert(p, pos);
        }
        self.place(value, pos, anchor)
    }

    fn key(&mut self, key: String, merge: bool, pos: Pos) -> Result<(), YamlError> {
        let Some(Frame::Map {
            pointer,
            pending,
            seen,
            entries,
            ..
        }) = self.stack.last_mut()
        else {
            unreachable!("key() is only called when a mapping expects a key")
        };
        if !merge {
            let pairs = || {
                entries.iter().filter_map(|e| match e {
                    Entry::Pair(k, _, p) => Some((k, *p)),
                    Entry::Merge(..) => None,
                })
            };
            if seen.is_none() && entries.len() >= SCAN_KEYS {
                *seen = Some(pairs().map(|(k, p)| (k.clone(), p)).collect());
            }
            let first = match seen {
                Some(seen) => seen.get(&key).copied(),
                None => pairs().find(|(k, _)| **k == key).map(|(_, p)| p),
            };
            if let Some(first) = first {
                return Err(YamlError::new(
                    pos,
                    format!(
                        "duplicate key `{key}` (first defined at line {}, column {})",
                        first.line, first.col
                    ),
                ));
            }
            if let Some(seen) = seen {
                seen.insert(key.clone(), pos);
            }
            if self.record {
                self.positions
                    .keys
                    .insert(format!("{pointer}/{}", escape_pointer_segment(&key)), pos);
            }
        }
        *pending = Some((key, pos, merge));
        Ok(())
    }

    fn alias(&mut self, id: usize, pos: Pos) -> Result<(), YamlError> {
        let anchored = self
            .anchors
            .get(&id)
            .ok_or_else(|| YamlError::new(pos, "alias to an unknown anchor"))?;
        // Counted before the copy is made, so a bomb is refused before it takes memory.
        let (nodes, bytes) = weigh(anchored);
        self.alias_nodes += nodes;
        self.alias_bytes += bytes;
        if self.alias_nodes > MAX_ALIAS_NODES {
            return Err(YamlError::new(
                pos,
                format!("aliases expand to more than {MAX_ALIAS_NODES} nodes"),
            ));
        }
        if self.alias_bytes > MAX_ALIAS_BYTES {
            return Err(YamlError::new(
                pos,
                format!(
                    "aliases expand to more than {} MiB of text; crier refuses alias bombs",
                    MAX_ALIAS_BYTES / (1024 * 1024)
                ),
            ));
        }
        let value = anchored.clone();
        if self.expecting_key() {
            return match value {
                Value::String(s) => self.key(s, false, pos),
                Value::Number(n) => self.key(n.to_string(), false, pos),
                Value::Bool(b) => self.key(b.to_string(), false, pos),
                _ => Err(YamlError::new(
                    pos,
                    "a mapping or sequence cannot be used as a key",
                )),
            };
        }
        if let Some(p) = self.child_pointer() {
            self.positions.nodes.insert(p, pos);
        }
        self.place(value, pos, 0)
    }

    fn close(&mut self) -> Result<(), YamlError> {
        let frame = self
            .stack
            .pop()
            .expect("the parser balances starts and ends");
        match frame {
            Frame::Seq {
                anchor,
                pos,
                mut items,
                ..
            } => {
                items.shrink_to_fit();
                self.place(Value::Array(items), pos, anchor)
            }
            Frame::Map {
                pointer,
                anchor,
                pos,
                entries,
                ..
            } => {
                let map = self.merge(&pointer, entries)?;
                self.place(Value::Object(map), pos, anchor)
            }
        }
    }

    /// Builds a mapping in source order, applying merge keys: explicit keys win, then earlier merges.
    fn merge(
        &mut self,
        pointer: &str,
        entries: Vec<Entry>,
    ) -> Result<Map<String, Value>, YamlError> {
        // Only a mapping with a merge key needs its explicit keys apart.
        let has_merge = entries.iter().any(|e| matches!(e, Entry::Merge(..)));
        let explicit: std::collections::HashSet<String> = if has_merge {
            entries
                .iter()
                .filter_map(|e| match e {
                    Entry::Pair(k, _, _) => Some(k.clone()),
                    Entry::Merge(..) => None,
                })
                .collect()
        } else {
            std::collections::HashSet::new()
        };
        // Every document is kept for the whole command: no spare capacity when no merge adds keys.
        let mut map = Map::with_capacity(entries.len());
        for entry in entries {
            match entry {
                Entry::Pair(k, v, _) => {
                    map.insert(k, v);
                }
                Entry::Merge(source, pos) => {
                    let sources = match source {
                        Value::Object(m) => vec![m],
                        Value::Array(items) => items
                            .into_iter()
                            .map(|i| match i {
                                Value::Object(m) => Ok(m),
                                _ => Err(YamlError::new(
                                    pos,
                                    "a merge key (`<<`) takes a mapping or a list of mappings",
                                )),
                            })
                            .collect::<Result<_, _>>()?,
                        _ => {
                            return Err(YamlError::new(
                                pos,
                                "a merge key (`<<`) takes a mapping or a list of mappings",
                            ));
                        }
                    };
                    for (k, v) in sources.into_iter().flatten() {
                        if !explicit.contains(&k) && !map.contains_key(&k) {
                            if self.record {
                                let child = format!("{pointer}/{}", escape_pointer_segment(&k));
                                self.positions.nodes.entry(child.clone()).or_insert(pos);
                                self.positions.keys.entry(child).or_insert(pos);
                            }
                            map.insert(k, v);
                        }
                    }
                }
            }
        }
        Ok(map)
    }
}

/// Parses one YAML document.
///
/// An empty text is `null`. More than one document is an error.
///
/// # Errors
/// The first problem, with its position.
pub fn parse(text: &str) -> Result<Document, YamlError> {
    parse_shared(Arc::from(text))
}

/// [`parse`] of a text the document keeps (shared, not copied) to find positions later.
///
/// # Errors
/// The first problem, with its position.
pub fn parse_shared(text: Arc<str>) -> Result<Document, YamlError> {
    let mut b = Builder::new(false);
    b.run(&text)?;
    Ok(Document {
        value: b.root.unwrap_or(Value::Null),
        positions: LazyPositions::of(text),
    })
}

impl Builder {
    fn new(record: bool) -> Self {
        Self {
            record,
            stack: Vec::new(),
            anchors: HashMap::new(),
            positions: Working::default(),
            alias_nodes: 0,
            alias_bytes: 0,
            root: None,
            documents: 0,
        }
    }

    /// One pass over the events of `text`.
    fn run(&mut self, text: &str) -> Result<(), YamlError> {
        if text.len() > MAX_BYTES {
            return Err(YamlError::new(
                Pos::START,
                format!(
                    "file is {} bytes; crier refuses YAML files over {MAX_BYTES} bytes (1 MiB)",
                    text.len()
                ),
            ));
        }
        let b = self;
        let lines = text.bytes().filter(|b| *b == b'\n').count() + 1;
        for event in Parser::new_from_str(text) {
            let (event, span) = event.map_err(|e| {
                let m = e.marker();
                YamlError::new(
                    within(text, m.line().max(1), m.col() + 1),
                    format!("invalid YAML: {}", e.info()),
                )
            })?;
            let pos = pos_of(span, text, lines);
            match event {
                Event::DocumentStart(_) => {
                    b.documents += 1;
                    if b.documents > 1 && b.root.is_some() {
                        return Err(b.second_document(pos));
                    }
                }
                Event::Scalar(v, style, anchor, tag) => {
                    b.scalar(&v, style, anchor, tag.as_ref(), pos)?
                }
                Event::SequenceStart(anchor, _) => b.open(false, anchor, pos)?,
                Event::MappingStart(anchor, _) => b.open(true, anchor, pos)?,
                Event::SequenceEnd | Event::MappingEnd => b.close()?,
                Event::Alias(id) => b.alias(id, pos)?,
                Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
            }
        }
        Ok(())
    }
}

/// A scanner position kept inside `text`: at the end of the input the scanner counts a line
/// (and columns) that the text does not have; those point just past the last character instead.
fn within(text: &str, line: usize, col: usize) -> Pos {
    let lines: Vec<&str> = text.split('\n').collect();
    match lines.get(line - 1) {
        Some(l) if col <= l.chars().count() + 1 => Pos::new(line, col, 1),
        Some(l) => Pos::new(line, l.chars().count() + 1, 1),
        None => Pos::of_offset(text, text.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(text: &str) -> Document {
        parse(text).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn err(text: &str) -> YamlError {
        parse(text).expect_err("should fail")
    }

    #[test]
    fn yaml_1_2_core_schema_values() {
        let d = ok("a: no\nb: yes\nc: true\nd: 42\ne: 1.5\nf: ~\ng: '42'\nh: 0x10\ni: \"x\"\n");
        assert_eq!(
            d.value,
            json!({"a":"no","b":"yes","c":true,"d":42,"e":1.5,"f":null,"g":"42","h":16,"i":"x"})
        );
    }

    #[test]
    fn positions_of_nodes_and_keys() {
        let d = ok("name: x\naudience:\n  tags:\n    any: [\"a\", \"bb\"]\n");
        assert_eq!(d.positions.node("/name"), Pos::new(1, 7, 1));
        assert_eq!(d.positions.key("/name"), Pos::new(1, 1, 4));
        assert_eq!(d.positions.node("/audience/tags/any/1"), Pos::new(4, 16, 4));
        assert_eq!(
            d.positions.node("/audience/tags/any/7/x"),
            d.positions.node("/audience/tags/any")
        );
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let d = ok("base: &b {a: 1, b: 2}\nuse:\n  <<: *b\n  b: 3\nlist: [*b]\n");
        assert_eq!(d.value["use"], json!({"a":1,"b":3}));
        assert_eq!(d.value["list"], json!([{"a":1,"b":2}]));
        let d = ok("x: &x {a: 1}\ny: &y {a: 2, c: 3}\nz:\n  <<: [*x, *y]\n");
        assert_eq!(d.value["z"], json!({"a":1,"c":3}));
    }

    #[test]
    fn explicit_key_wins_even_after_the_merge() {
        let d = ok("x: &x {a: 1}\nz:\n  a: 9\n  <<: *x\n");
        assert_eq!(d.value["z"], json!({"a":9}));
    }

    #[test]
    fn mapping_order_is_source_order() {
        let d = ok("ext: {z: 1, a: 2, m: 3}\n");
        let keys: Vec<_> = d.value["ext"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn duplicate_keys_are_located() {
        let e = err("a: 1\nb: 2\na: 3\n");
        assert_eq!(e.pos, Pos::new(3, 1, 1));
        assert!(
            e.message
                .contains("duplicate key `a` (first defined at line 1, column 1)"),
            "{}",
            e.message
        );
        // In a mapping past SCAN_KEYS keys (found through the index then), and with a merge
        // key among them, which is not a duplicate of anything.
        let mut long: String = (0..40).map(|i| format!("k{i}: {i}\n")).collect();
        long.push_str("<<: {x: 1}\nk3: again\n");
        let e = err(&long);
        assert_eq!(e.pos, Pos::new(42, 1, 2));
        assert!(
            e.message
                .contains("duplicate key `k3` (first defined at line 4, column 1)"),
            "{}",
            e.message
        );
        assert!(ok(&long.replace("k3: again", "k40: new")).value["x"] == 1);
    }

    /// Found by the loader property test: a file cut after a bare word (`…\na`, no final
    /// newline) was reported at line 6 of a 5-line file.
    #[test]
    fn an_error_at_the_end_of_the_input_points_into_the_text() {
        let text = "version: 1\nname: x\ndescription: y\na";
        let e = err(text);
        assert_eq!((e.pos.line, e.pos.col), (4, 2), "{}", e.message);
        assert!(e.message.starts_with("invalid YAML"), "{}", e.message);
    }

    /// Found by the loader property test: an empty explicit key at the end of the input (`? `)
    /// was placed on line 2 of a 1-line file.
    #[test]
    fn a_node_at_the_end_of_the_input_points_into_the_text() {
        let doc = parse("? ").unwrap();
        assert!(doc.positions.nodes().next().is_some());
        for pos in doc.positions.nodes() {
            assert_eq!(pos.line, 1, "{pos:?}");
            assert!(pos.col <= 3, "{pos:?}");
        }
        let file: std::sync::Arc<std::path::Path> =
            std::sync::Arc::from(std::path::Path::new("p.yaml"));
        let parsed = crate::spec::parse_campaign(&file, "? ");
        assert!(!parsed.diagnostics.is_empty());
        assert!(
            parsed.diagnostics.iter().all(|d| d.pos.line == 1),
            "{:?}",
            parsed.diagnostics
        );
    }

    #[test]
    fn tabs_are_syntax_errors_with_a_position() {
        let e = err("a:\n\tb: 1\n");
        assert_eq!(e.pos.line, 2);
        assert!(e.message.starts_with("invalid YAML"), "{}", e.message);
    }

    #[test]
    fn depth_limit() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(err(&deep).message.contains("nested deeper than 64 levels"));
        let ok_depth = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(&ok_depth).is_ok());
        let block: String = (0..100)
            .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
            .collect();
        assert!(err(&block).message.contains("nested deeper"));
    }

    #[test]
    fn size_limit() {
        let big = format!("a: \"{}\"\n", "x".repeat(MAX_BYTES));
        assert!(err(&big).message.contains("over 1048576 bytes"));
    }

    #[test]
    fn aliases_of_long_strings_are_bounded_by_size() {
        // 400 KB of text aliased 10,000 times would be 4 GB.
        let mut text = format!("a: &big \"{}\"\nb: [", "x".repeat(400_000));
        text.push_str(&vec!["*big"; 10_000].join(", "));
        text.push_str("]\n");
        assert!(
            err(&text).message.contains("MiB of text"),
            "{}",
            err(&text).message
        );
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!(
                "a{i}: &a{i} [{}]\n",
                [prev.as_str(); 10].join(", ")
            ));
        }
        assert!(err(&text).message.contains("aliases expand to more than"));
    }

    #[test]
    fn complex_keys_and_second_documents_are_refused() {
        assert!(
            err("? [a]\n: 1\n")
                .message
                .contains("cannot be used as a key")
        );
        assert!(
            err("a: 1\n---\nb: 2\n")
                .message
                .contains("second YAML document")
        );
        assert!(err("a: .inf\n").message.contains("finite"));
    }

    #[test]
    fn empty_text_is_null() {
        assert_eq!(ok("").value, Value::Null);
        assert_eq!(ok("# only a comment\n").value, Value::Null);
    }
}
