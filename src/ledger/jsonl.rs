//! The `ledger.jsonl` text: encoding one record as one line, and reading the whole file back,
//! with torn-tail detection. Pure: bytes in, records out.
//!
//! Reading rules:
//! - every line ends with `\n`; a line is one JSON object, a [`Record`];
//! - the last line is *torn* (a crash mid-write) when it has no `\n`, or when it is not valid
//!   JSON: it is reported as [`TornTail`], never folded and never silently dropped; only a line
//!   after a valid header can be torn: a file with no valid first line is an error, never an
//!   empty ledger;
//! - any other line that is not a valid record, a record of a newer schema, a first record
//!   that is not the header, or a sequence number that does not follow the previous one by
//!   exactly 1 is an error naming the line: the ledger is never misread.

use super::record::{Record, RecordBody, SCHEMA_VERSION};

/// A ledger file that cannot be read safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("line {line}: not a ledger record: {reason}")]
    Corrupt { line: usize, reason: String },
    #[error(
        "line {line}: written by a newer crier (schema version {version}, this build reads up to {SCHEMA_VERSION}); upgrade crier"
    )]
    NewerSchema { line: usize, version: u64 },
    #[error("line 1: not a crier ledger (the first record is not a header)")]
    NoHeader,
    #[error(
        "line 1: no complete header record ({bytes} bytes that do not form a ledger line, such as the zeros a power loss can leave); refusing to read this as an empty ledger, which would send everything within grace again; move the file aside and restore the ledger with `crier ledger import` from an export, a backup or a CI artifact (earlier repairs kept torn lines in ledger.jsonl.torn)"
    )]
    NoValidFirstLine { bytes: u64 },
    #[error("line {line}: sequence number {got} does not follow {previous}")]
    SeqGap {
        line: usize,
        previous: u64,
        got: u64,
    },
}

/// The unfinished last line of a ledger file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// Byte offset where the torn line starts (= the length of the good part).
    pub offset: u64,
    /// The torn bytes.
    pub bytes: Vec<u8>,
}

/// A ledger file, read.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerText {
    pub records: Vec<Record>,
    pub torn: Option<TornTail>,
}

/// The length of the last line of `bytes` (which end with a line's `\n`), its `\n` included.
#[must_use]
pub fn last_line_len(bytes: &[u8]) -> u64 {
    let start = bytes[..bytes.len().saturating_sub(1)]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (bytes.len() - start) as u64
}

/// One record as one line, with its `\n`.
///
/// # Errors
/// When the record cannot be serialised (it always can for the types of this module).
pub fn encode(record: &Record) -> Result<Vec<u8>, serde_json::Error> {
    let mut line = serde_json::to_vec(record)?;
    line.push(b'\n');
    Ok(line)
}

/// Parses whole lines that continue a ledger (no header needed; the caller knows where they
/// start), as a shared store returns other writers' records. Every line must be complete.
///
/// # Errors
/// A line that is not a record.
pub fn parse_from(bytes: &[u8]) -> Result<Vec<Record>, ParseError> {
    match decode_chunk(bytes, 1) {
        (records, None) => Ok(records),
        (_, Some(e)) => Err(e),
    }
}

/// Reads a whole ledger file; see the module documentation for the rules.
///
/// Every line but the last is complete and must be a record, so those are decoded in parallel
/// (the cost of `plan` and `status` on a big ledger); the order checks and the last line's
/// torn-tail rules then run in order, so the first problem reported is the first in the file.
///
/// # Errors
/// A [`ParseError`] naming the first line that cannot be read safely.
pub fn parse(bytes: &[u8]) -> Result<LedgerText, ParseError> {
    parse_after(bytes, 0)
}

/// Like [`parse`], for the part of a ledger file after record `after` (0: the whole file; a
/// checkpoint's sequence number otherwise): the first line must be record `after + 1`, and line
/// numbers in errors count from the start of the file (line N holds record N).
///
/// # Errors
/// A [`ParseError`] naming the first line that cannot be read safely.
pub fn parse_after(bytes: &[u8], after: u64) -> Result<LedgerText, ParseError> {
    use rayon::prelude::*;
    let base = usize::try_from(after).unwrap_or(usize::MAX);
    let last_start = bytes[..bytes.len().saturating_sub(1)]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let chunks = chunks_at_lines(&bytes[..last_start], 64 * 1024);
    let decoded: Vec<(Vec<Record>, Option<ParseError>)> = chunks
        .par_iter()
        .map(|&(first_line, chunk)| decode_chunk(chunk, base + first_line))
        .collect();
    let mut records: Vec<Record> = Vec::with_capacity(decoded.iter().map(|d| d.0.len()).sum());
    let mut line_no = base;
    for (chunk_records, error) in decoded {
        for record in chunk_records {
            line_no += 1;
            check_order(records.last().map_or(after, |r| r.seq), &record, line_no)?;
            records.push(record);
        }
        if let Some(e) = error {
            return Err(e);
        }
    }
    // The last line, complete or not: the torn-tail rules.
    let offset = last_start;
    let rest = &bytes[offset..];
    if rest.is_empty() {
        return Ok(LedgerText {
            records,
            torn: None,
        });
    }
    line_no += 1;
    let torn = |records: Vec<Record>| {
        Ok(LedgerText {
            records,
            torn: Some(TornTail {
                offset: offset as u64,
                bytes: rest.to_vec(),
            }),
        })
    };
    let Some(line) = rest.strip_suffix(b"\n") else {
        if records.is_empty() && after == 0 {
            return Err(ParseError::NoValidFirstLine {
                bytes: rest.len() as u64,
            });
        }
        return torn(records);
    };
    let probe: Probe = match serde_json::from_slice(line) {
        Ok(p) => p,
        // Valid JSON of the wrong shape is never a torn write: it is corrupt wherever it is.
        Err(e) if serde_json::from_slice::<serde_json::Value>(line).is_ok() => {
            return Err(ParseError::Corrupt {
                line: line_no,
                reason: e.to_string(),
            });
        }
        Err(_) if records.is_empty() && after == 0 => {
            return Err(ParseError::NoValidFirstLine {
                bytes: rest.len() as u64,
            });
        }
        Err(_) => return torn(records),
    };
    let record = decode(&probe, line, line_no)?;
    check_order(records.last().map_or(after, |r| r.seq), &record, line_no)?;
    records.push(record);
    Ok(LedgerText {
        records,
        torn: None,
    })
}

/// Splits complete lines into chunks of about `size` bytes, each with its first line number.
fn chunks_at_lines(bytes: &[u8], size: usize) -> Vec<(usize, &[u8])> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut line = 1;
    while start < bytes.len() {
        let end = (start + size).min(bytes.len());
        let end = bytes[end - 1..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| end + i);
        let chunk = &bytes[start..end];
        out.push((line, chunk));
        line += chunk.iter().filter(|&&b| b == b'\n').count();
        start = end;
    }
    out
}

/// Decodes the complete lines of a chunk: the records before the first bad line, and its error.
fn decode_chunk(chunk: &[u8], first_line: usize) -> (Vec<Record>, Option<ParseError>) {
    let mut records = Vec::new();
    for (i, line) in chunk.split_inclusive(|&b| b == b'\n').enumerate() {
        let line_no = first_line + i;
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        // The common records (an intent, a sent) in one flat pass; anything else, and every
        // error, through the full decoder.
        if let Some(r) = fast::decode(line) {
            records.push(r);
            continue;
        }
        // A light first pass checks the JSON and reads `v` without building a value tree; the
        // record is then read straight from the bytes (no intermediate `Value`).
        let decoded = serde_json::from_slice::<Probe>(line)
            .map_err(|e| ParseError::Corrupt {
                line: line_no,
                reason: e.to_string(),
            })
            .and_then(|probe| decode(&probe, line, line_no));
        match decoded {
            Ok(r) => records.push(r),
            Err(e) => return (records, Some(e)),
        }
    }
    (records, None)
}

/// The first record is the header with seq 1; every other follows its predecessor by 1.
/// `previous`: the sequence number of the record before (0: `record` is the first of the file).
fn check_order(previous: u64, record: &Record, line: usize) -> Result<(), ParseError> {
    if previous == 0 && !matches!(record.body, RecordBody::Header { .. }) {
        return Err(ParseError::NoHeader);
    }
    if record.seq != previous + 1 {
        return Err(ParseError::SeqGap {
            line,
            previous,
            got: record.seq,
        });
    }
    Ok(())
}

/// The part of a line read first: its schema version.
#[derive(serde::Deserialize)]
struct Probe {
    v: Option<serde_json::Value>,
}

fn decode(probe: &Probe, bytes: &[u8], line: usize) -> Result<Record, ParseError> {
    match probe.v.as_ref().and_then(serde_json::Value::as_u64) {
        Some(version) if version > u64::from(SCHEMA_VERSION) => {
            return Err(ParseError::NewerSchema { line, version });
        }
        Some(_) => {}
        None => {
            return Err(ParseError::Corrupt {
                line,
                reason: "no schema version `v`".into(),
            });
        }
    }
    serde_json::from_slice(bytes).map_err(|e| ParseError::Corrupt {
        line,
        reason: e.to_string(),
    })
}

/// The two records a ledger is mostly made of (an occurrence's `intent` and `sent`), decoded
/// from one flat struct: the general [`Record`] decoder goes through serde's buffered path for
/// its flattened, internally tagged enums, which costs several times as much. The result is
/// the same [`Record`] (a test holds this); a line it does not recognise goes the general way.
mod fast {
    use std::borrow::Cow;

    use chrono::{DateTime, Utc};
    use serde::Deserialize;

    use super::super::record::{
        OccurrenceRecord, OccurrenceState, Origin, Perturbation, Record, RecordBody, SCHEMA_VERSION,
    };
    use crate::occurrence::OccurrenceKey;

    #[derive(Deserialize)]
    struct Line<'a> {
        v: u32,
        seq: u64,
        #[serde(with = "super::super::record::millis")]
        at: DateTime<Utc>,
        #[serde(borrow)]
        kind: Cow<'a, str>,
        key: OccurrenceKey,
        app: String,
        #[serde(borrow)]
        state: Cow<'a, str>,
        msg_random: Option<u32>,
        #[serde(default)]
        perturbation: Option<Perturbation>,
        content_hash: Option<String>,
        request: Option<serde_json::Value>,
        attempt: Option<u32>,
        #[serde(default)]
        origin: Option<Origin>,
        task_id: Option<String>,
    }

    pub fn decode(line: &[u8]) -> Option<Record> {
        let l: Line<'_> = serde_json::from_slice(line).ok()?;
        if l.v > SCHEMA_VERSION || l.kind != "occurrence" {
            return None;
        }
        let state = match l.state.as_ref() {
            "intent" => OccurrenceState::Intent {
                msg_random: l.msg_random?,
                perturbation: l.perturbation,
                content_hash: l.content_hash?,
                request: l.request?,
                attempt: l.attempt?,
                origin: l.origin,
            },
            "sent" => OccurrenceState::Sent {
                task_id: l.task_id?,
            },
            _ => return None,
        };
        Some(Record {
            v: l.v,
            seq: l.seq,
            at: l.at,
            body: RecordBody::Occurrence(OccurrenceRecord {
                key: l.key,
                app: l.app,
                state,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seq: u64, body: &RecordBody) -> Vec<u8> {
        encode(&Record {
            v: SCHEMA_VERSION,
            seq,
            at: "2026-12-01T02:00:00Z".parse().unwrap(),
            body: body.clone(),
        })
        .unwrap()
    }

    fn repair(offset: u64) -> RecordBody {
        RecordBody::Repair(super::super::record::RepairRecord {
            offset,
            bytes: 1,
            moved_to: "x".into(),
        })
    }

    fn good(n: u64) -> Vec<u8> {
        let mut out = line(1, &RecordBody::header());
        for seq in 2..=n {
            out.extend(line(seq, &repair(seq)));
        }
        out
    }

    #[test]
    fn the_fast_path_reads_intents_and_sents_exactly_as_the_general_decoder() {
        use super::super::record::{OccurrenceRecord, OccurrenceState, Origin, Perturbation};
        let key = crate::occurrence::OccurrenceKey {
            project: "shop".into(),
            sdkappid: 1_400_000_000,
            campaign: "sale \"quoted\" \u{1F600}".into(),
            scheduled: "2026-12-01T02:00:00Z".parse().unwrap(),
        };
        let intent = |perturbation, origin| OccurrenceState::Intent {
            msg_random: 7,
            perturbation,
            content_hash: "sha256:ab".into(),
            request: serde_json::json!({"MsgRandom": 7, "MsgBody": [{"Text": "a\\b \u{e9}"}]}),
            attempt: 2,
            origin,
        };
        let states = [
            intent(None, None),
            intent(
                Some(Perturbation {
                    base: 6,
                    steps: 1,
                    collided_with: vec!["x".into()],
                }),
                Some(Origin {
                    commit: Some("abc".into()),
                    ci_run: Some("ci".into()),
                    ci_url: None,
                }),
            ),
            OccurrenceState::Sent {
                task_id: "t-1".into(),
            },
        ];
        for state in states {
            let body = RecordBody::Occurrence(OccurrenceRecord {
                key: key.clone(),
                app: "prod".into(),
                state,
            });
            let bytes = line(4, &body);
            let bytes = bytes.strip_suffix(b"\n").unwrap();
            let general: Record = serde_json::from_slice(bytes).unwrap();
            assert_eq!(fast::decode(bytes), Some(general));
        }
        // Other records and newer schemas go the general way.
        let header = line(1, &RecordBody::header());
        assert_eq!(fast::decode(header.strip_suffix(b"\n").unwrap()), None);
        let newer = String::from_utf8(line(
            4,
            &RecordBody::Occurrence(OccurrenceRecord {
                key,
                app: "prod".into(),
                state: OccurrenceState::Sent {
                    task_id: "t".into(),
                },
            }),
        ))
        .unwrap()
        .replace("\"v\":1", "\"v\":9");
        assert_eq!(fast::decode(newer.trim_end().as_bytes()), None);
    }

    #[test]
    fn a_file_of_many_chunks_reads_in_order_and_names_the_first_problem() {
        // About 3,000 lines: dozens of 64 KiB chunks decoded in parallel.
        let n = 3_000;
        let bytes = good(n);
        assert!(bytes.len() > 4 * 64 * 1024);
        let parsed = parse(&bytes).unwrap();
        assert_eq!(parsed.records.len(), usize::try_from(n).unwrap());
        assert!(parsed.records.iter().zip(1..).all(|(r, seq)| r.seq == seq));
        // A gap at line 1,000 and a corrupt line at 2,500: the gap is reported, at its line.
        let text = String::from_utf8(bytes).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines[999] = String::from_utf8(line(5_000, &repair(1)))
            .unwrap()
            .trim_end()
            .to_owned();
        lines[2499] = "{not json".to_owned();
        let bad = lines.join("\n") + "\n";
        assert_eq!(
            parse(bad.as_bytes()).unwrap_err(),
            ParseError::SeqGap {
                line: 1000,
                previous: 999,
                got: 5000
            }
        );
        lines[999] = String::from_utf8(line(1000, &repair(1)))
            .unwrap()
            .trim_end()
            .to_owned();
        let bad = lines.join("\n") + "\n";
        assert!(matches!(
            parse(bad.as_bytes()).unwrap_err(),
            ParseError::Corrupt { line: 2500, .. }
        ));
    }

    #[test]
    fn empty_and_good_files_parse() {
        assert_eq!(
            parse(b"").unwrap(),
            LedgerText {
                records: vec![],
                torn: None
            }
        );
        let parsed = parse(&good(3)).unwrap();
        assert_eq!(
            parsed.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(parsed.torn, None);
    }

    #[test]
    fn a_last_line_without_newline_is_torn_even_if_it_parses() {
        let mut bytes = good(2);
        let offset = bytes.len() as u64;
        let mut third = line(3, &repair(3));
        third.pop();
        bytes.extend(&third);
        let parsed = parse(&bytes).unwrap();
        assert_eq!(parsed.records.len(), 2);
        assert_eq!(
            parsed.torn,
            Some(TornTail {
                offset,
                bytes: third
            })
        );
    }

    #[test]
    fn a_half_written_last_line_is_torn() {
        let mut bytes = good(2);
        let offset = bytes.len() as u64;
        bytes.extend(b"{\"v\":1,\"seq\":3,\"at\":\"2026");
        let parsed = parse(&bytes).unwrap();
        assert_eq!(parsed.records.len(), 2);
        assert_eq!(parsed.torn.unwrap().offset, offset);
    }

    #[test]
    fn a_garbage_last_line_with_newline_is_torn() {
        let mut bytes = good(2);
        bytes.extend(b"\0\0\0\0\n");
        let parsed = parse(&bytes).unwrap();
        assert_eq!(parsed.torn.unwrap().bytes, b"\0\0\0\0\n");
    }

    #[test]
    fn a_file_without_a_valid_first_line_is_never_an_empty_ledger() {
        for bytes in [
            vec![0u8; 4096],
            b"{\"v\":1,\"seq\":1,\"at".to_vec(),
            b"\0\0\0\n".to_vec(),
        ] {
            assert_eq!(
                parse(&bytes),
                Err(ParseError::NoValidFirstLine {
                    bytes: bytes.len() as u64
                })
            );
        }
    }

    #[test]
    fn a_corrupt_line_before_the_last_is_an_error() {
        let mut bytes = line(1, &RecordBody::header());
        bytes.extend(b"{\"v\":1,\"seq\":2,\"at\n");
        bytes.extend(line(3, &repair(3)));
        assert!(matches!(
            parse(&bytes),
            Err(ParseError::Corrupt { line: 2, .. })
        ));
    }

    #[test]
    fn valid_json_that_is_not_a_record_is_an_error_even_last() {
        let mut bytes = good(1);
        bytes
            .extend(b"{\"v\":1,\"seq\":2,\"at\":\"2026-12-01T02:00:00Z\",\"kind\":\"nonsense\"}\n");
        assert!(matches!(
            parse(&bytes),
            Err(ParseError::Corrupt { line: 2, .. })
        ));
    }

    #[test]
    fn a_last_line_of_valid_json_but_no_record_is_corrupt_not_torn() {
        let mut bytes = good(1);
        bytes.extend(b"[1, 2]\n");
        assert!(matches!(
            parse(&bytes),
            Err(ParseError::Corrupt { line: 2, .. })
        ));
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let mut bytes = good(1);
        bytes.extend(b"{\"v\":2,\"seq\":2}\n");
        assert_eq!(
            parse(&bytes),
            Err(ParseError::NewerSchema {
                line: 2,
                version: 2
            })
        );
    }

    #[test]
    fn the_first_record_must_be_the_header_and_seqs_must_follow() {
        assert_eq!(parse(&line(1, &repair(1))), Err(ParseError::NoHeader));
        assert_eq!(
            parse(&line(5, &RecordBody::header())),
            Err(ParseError::SeqGap {
                line: 1,
                previous: 0,
                got: 5
            })
        );
        let mut bytes = good(2);
        bytes.extend(line(4, &repair(4)));
        assert_eq!(
            parse(&bytes),
            Err(ParseError::SeqGap {
                line: 3,
                previous: 2,
                got: 4
            })
        );
    }

    /// Property tests (issue 12): the reader on torn and corrupted files. Long run:
    /// `PROPTEST_CASES=20000 cargo test --lib ledger::jsonl::tests::props`.
    mod props {
        use super::*;
        use crate::ledger::record::{OccurrenceRecord, OccurrenceState};
        use proptest::prelude::*;

        /// A valid ledger of `n` records: the header, then intents, sents and repairs (the fast
        /// path and the general decoder both), with quotes and non-ASCII in the strings.
        fn ledger(n: u64, salt: u32) -> (Vec<u8>, Vec<Record>) {
            let mut records = vec![Record {
                v: SCHEMA_VERSION,
                seq: 1,
                at: "2026-12-01T02:00:00Z".parse().unwrap(),
                body: RecordBody::header(),
            }];
            for seq in 2..=n {
                let key = crate::occurrence::OccurrenceKey {
                    project: "shop".into(),
                    sdkappid: 1_400_000_000,
                    campaign: format!("sale \"{salt}\" \u{e9}{seq}"),
                    scheduled: "2026-12-01T02:00:00Z".parse().unwrap(),
                };
                let state = match (seq + u64::from(salt)) % 3 {
                    0 => OccurrenceState::Intent {
                        msg_random: salt
                            .wrapping_mul(31)
                            .wrapping_add(u32::try_from(seq).unwrap_or(0)),
                        perturbation: None,
                        content_hash: "sha256:ab".into(),
                        request: serde_json::json!({"MsgRandom": salt, "MsgBody": [{"Text": "a\\b 名"}]}),
                        attempt: 1,
                        origin: None,
                    },
                    1 => OccurrenceState::Sent {
                        task_id: format!("t-{seq}"),
                    },
                    _ => {
                        records.push(Record {
                            v: SCHEMA_VERSION,
                            seq,
                            at: "2026-12-01T02:00:00.125Z".parse().unwrap(),
                            body: repair(seq),
                        });
                        continue;
                    }
                };
                records.push(Record {
                    v: SCHEMA_VERSION,
                    seq,
                    at: "2026-12-01T02:00:01Z".parse().unwrap(),
                    body: RecordBody::Occurrence(OccurrenceRecord {
                        key,
                        app: "prod".into(),
                        state,
                    }),
                });
            }
            let bytes = records.iter().flat_map(|r| encode(r).unwrap()).collect();
            (bytes, records)
        }

        fn error_line(e: &ParseError) -> usize {
            match e {
                ParseError::Corrupt { line, .. }
                | ParseError::NewerSchema { line, .. }
                | ParseError::SeqGap { line, .. } => *line,
                ParseError::NoHeader | ParseError::NoValidFirstLine { .. } => 1,
            }
        }

        /// Lines of `bytes` with their `\n` (the last one may lack it).
        fn lines(bytes: &[u8]) -> Vec<&[u8]> {
            bytes.split_inclusive(|&b| b == b'\n').collect()
        }

        /// What every successful read must hold, whatever the input: each record is decoded
        /// from its own line of the input (never invented, never from elsewhere); every line is
        /// a record or the torn tail (nothing silently dropped); a torn tail is the last line.
        fn holds(input: &[u8], parsed: &LedgerText) -> Result<(), TestCaseError> {
            let input_lines = lines(input);
            let torn = usize::from(parsed.torn.is_some());
            prop_assert_eq!(parsed.records.len() + torn, input_lines.len());
            for (record, line) in parsed.records.iter().zip(&input_lines) {
                let text = line.strip_suffix(b"\n").unwrap_or(line);
                let general: Result<Record, _> = serde_json::from_slice(text);
                prop_assert_eq!(
                    Some(record),
                    general.as_ref().ok(),
                    "{}",
                    String::from_utf8_lossy(line)
                );
            }
            if let Some(t) = &parsed.torn {
                let last = input_lines.last().copied().unwrap_or_default();
                prop_assert_eq!(t.bytes.as_slice(), last);
                prop_assert_eq!(usize::try_from(t.offset).unwrap() + last.len(), input.len());
            }
            for (i, r) in parsed.records.iter().enumerate() {
                prop_assert_eq!(r.seq, i as u64 + 1);
            }
            Ok(())
        }

        proptest! {
            // Each case reads every prefix of its ledger: few cases go a long way.
            #![proptest_config(ProptestConfig::with_cases(8))]

            #[test]
            fn every_truncation_is_a_prefix_and_a_torn_tail(n in 1u64..10, salt in any::<u32>()) {
                let (bytes, records) = ledger(n, salt);
                let boundaries: Vec<usize> = std::iter::once(0)
                    .chain(bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1))
                    .collect();
                for cut in 0..=bytes.len() {
                    let input = &bytes[..cut];
                    let complete = boundaries.iter().filter(|b| **b <= cut).count() - 1;
                    match parse(input) {
                        Ok(parsed) => {
                            holds(input, &parsed)?;
                            prop_assert_eq!(&parsed.records[..], &records[..complete]);
                            if boundaries.contains(&cut) {
                                prop_assert_eq!(parsed.torn, None);
                            } else {
                                // Cut inside a line: reported torn, never silently dropped.
                                let torn = parsed.torn.expect("a cut line is torn");
                                prop_assert_eq!(torn.offset, boundaries[complete] as u64);
                                prop_assert_eq!(torn.bytes.as_slice(), &bytes[boundaries[complete]..cut]);
                            }
                        }
                        // Only a cut inside the header leaves no ledger to read.
                        Err(e) => {
                            prop_assert!(cut < boundaries[1], "cut {cut}: {e}");
                            prop_assert_eq!(e, ParseError::NoValidFirstLine { bytes: cut as u64 });
                        }
                    }
                }
            }

        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]

            #[test]
            fn flipped_bytes_never_give_records_that_are_not_in_the_input(
                n in 1u64..12,
                salt in any::<u32>(),
                flips in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..4),
            ) {
                let (mut bytes, _) = ledger(n, salt);
                let original = bytes.clone();
                let mut first = usize::MAX;
                for (at, value) in &flips {
                    let i = at.index(bytes.len());
                    bytes[i] = *value;
                    if bytes[i] != original[i] {
                        first = first.min(i);
                    }
                }
                let first_line = original[..first.min(original.len())].iter().filter(|b| **b == b'\n').count() + 1;
                match parse(&bytes) {
                    Ok(parsed) => holds(&bytes, &parsed)?,
                    // An error names the first line that cannot be read: never one before the
                    // first change (a change can leave a line valid: there is no checksum), and
                    // every line before it is a record.
                    Err(e) => {
                        let line = error_line(&e);
                        let input_lines = lines(&bytes);
                        prop_assert!(first_line <= line && line <= input_lines.len(), "{e} (first change on line {first_line})");
                        for l in &input_lines[..line - 1] {
                            prop_assert!(serde_json::from_slice::<Record>(l).is_ok(), "{e}: an earlier line is bad: {}", String::from_utf8_lossy(l));
                        }
                    }
                }
            }

            #[test]
            fn a_garbage_line_is_an_error_naming_it_or_the_torn_tail(
                n in 1u64..12,
                salt in any::<u32>(),
                at in any::<proptest::sample::Index>(),
                garbage in proptest::collection::vec(
                    prop_oneof![Just(b'{'), Just(b'}'), Just(b'"'), Just(b':'), Just(b','), Just(0u8), Just(b' '), 0x20u8..0x7f, 0x80u8..=0xff],
                    0..40,
                ),
                newline in any::<bool>(),
            ) {
                prop_assume!(serde_json::from_slice::<Record>(&garbage).is_err());
                let (bytes, records) = ledger(n, salt);
                let boundaries: Vec<usize> = std::iter::once(0)
                    .chain(bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1))
                    .collect();
                let k = at.index(boundaries.len()); // the garbage becomes line k + 1
                let last = k == boundaries.len() - 1;
                prop_assume!(!(last && !newline && garbage.is_empty()));
                let mut input = bytes[..boundaries[k]].to_vec();
                input.extend(&garbage);
                if newline || !last {
                    input.push(b'\n');
                }
                input.extend(&bytes[boundaries[k]..]);
                let is_json = serde_json::from_slice::<serde_json::Value>(&garbage).is_ok();
                match parse(&input) {
                    Ok(parsed) => {
                        holds(&input, &parsed)?;
                        // Accepted only as the torn last line, not valid JSON or without `\n`.
                        prop_assert!(last && (!is_json || !newline), "{parsed:?}");
                        prop_assert_eq!(&parsed.records[..], &records[..]);
                        prop_assert!(parsed.torn.is_some());
                    }
                    Err(e) => {
                        prop_assert_eq!(error_line(&e), k + 1, "{}", e);
                    }
                }
            }
        }
    }
}
