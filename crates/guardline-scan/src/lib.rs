//! # guardline-scan
//!
//! The engine behind `guardline scan`: the data team's tool for cleaning training and RAG corpora
//! of personal data, secrets and prompt injection before they are used (the guideline's data
//! governance duties). It walks files and directories (honouring `.gitignore`), streams each
//! input through [`guardline_detect`] — plain text in bounded memory whatever its size, JSONL and
//! CSV record by record — reports findings for people (coloured, ripgrep-like) or machines (JSON,
//! JSONL, SARIF 2.1.0), and writes redacted copies that keep the input's format.
//!
//! What it is not: it holds no detection logic (that is `guardline-detect`), parses no command
//! line (that is the `guardline` binary) and keeps no state beyond the key file that keyed
//! redaction operators need.
//!
//! Layout: [`text`], [`jsonl`] and [`table`] turn one input into [`Hit`]s (and, when asked, a
//! redacted copy); [`run`] walks the inputs, runs them on worker threads and prints the hits in
//! input order through [`output`]; [`keys`] finds or creates the redaction key; [`mask`] and
//! [`pointer`] are the small helpers the formats share.

use guardline_detect::{Engine, Finding, Redactor, Vault};
use serde::Serialize;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};

mod error;
pub mod jsonl;
pub mod keys;
pub mod mask;
pub mod output;
pub mod pointer;
mod run;
pub mod table;
pub mod text;
mod walk;

pub use error::{InputError, ScanError};
pub use output::OutputFormat;
pub use run::{
    build_engine, resolve_format, run, InputFormat, NoProgress, Progress, ScanOptions, Summary,
};

/// One finding located in its input, ready to print.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// Offsets are into the input for text, into the decoded string value for JSONL and into
    /// the field for CSV.
    pub finding: Finding,
    /// 1-based line of the input on which the finding (text) or its record (JSONL, CSV) starts.
    pub line: u64,
    pub place: Place,
    /// The matched text as it may be shown: masked (see [`mask::mask`]) unless the caller
    /// asked for matches.
    pub text: String,
}

/// Where in a structured input a finding sits.
#[derive(Clone, Debug, PartialEq)]
pub enum Place {
    /// Plain text; `column` is the 1-based byte column of the start.
    Text { column: u64 },
    /// A JSONL record (0-based line index) and the RFC 6901 pointer of the string value; `None`
    /// when the line was not valid JSON and was scanned as plain text.
    Record { record: u64, field: Option<String> },
    /// A CSV data row (0-based, header not counted) and its column.
    Row { record: u64, column: Column },
}

/// A CSV column: by header name when the input has a header row, else by 0-based index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Column {
    Name(String),
    Index(usize),
}

impl std::fmt::Display for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Column::Name(n) => f.write_str(n),
            Column::Index(i) => write!(f, "{i}"),
        }
    }
}

/// Receives what scanning one input produces.
pub trait Sink {
    fn hit(&mut self, hit: Hit);
    /// A record that could not be parsed (1-based line); scanning goes on with the next one.
    fn bad_record(&mut self, line: u64, message: String);
}

/// A [`Sink`] that keeps everything, for tests and small inputs.
#[derive(Debug, Default)]
pub struct Collect {
    pub hits: Vec<Hit>,
    pub bad_records: Vec<(u64, String)>,
}

impl Sink for Collect {
    fn hit(&mut self, hit: Hit) {
        self.hits.push(hit);
    }
    fn bad_record(&mut self, line: u64, message: String) {
        self.bad_records.push((line, message));
    }
}

/// What every input format needs to turn findings into hits.
#[derive(Clone, Copy)]
pub struct Scan<'a> {
    pub engine: &'a Engine,
    /// Show matched values in clear instead of masked.
    pub show_matches: bool,
    /// Set from elsewhere to stop a long input early (the reader of our output went away).
    pub cancel: Option<&'a AtomicBool>,
}

impl<'a> Scan<'a> {
    pub fn new(engine: &'a Engine) -> Scan<'a> {
        Scan {
            engine,
            show_matches: false,
            cancel: None,
        }
    }

    /// The matched bytes as they may be displayed.
    pub fn render(&self, raw: &[u8]) -> String {
        let s = String::from_utf8_lossy(raw);
        if self.show_matches {
            s.into_owned()
        } else {
            mask::mask(&s)
        }
    }

    fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
    }
}

/// Where a redacted copy goes and how it is made.
pub struct Redaction<'a> {
    pub redactor: &'a Redactor,
    /// Collects pseudonym tokens so they can be reversed.
    pub vault: &'a mut Vault,
    pub out: &'a mut dyn Write,
}

impl Redaction<'_> {
    fn replacement(&mut self, kind: &guardline_detect::Kind, raw: &[u8]) -> Vec<u8> {
        self.redactor.replacement(kind, raw, self.vault)
    }
    fn redact(&mut self, input: &[u8], findings: &[Finding]) -> Vec<u8> {
        self.redactor.redact(input, findings, self.vault)
    }
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Shared by the format modules' tests: scan `input` with the default engine, collecting hits
/// and, with `op`, the redacted copy.
#[cfg(test)]
pub(crate) fn run_for_test(
    input: &str,
    op: Option<guardline_detect::Operator>,
    scan_fn: impl FnOnce(
        &Scan,
        &mut &[u8],
        &mut Collect,
        Option<&mut Redaction>,
    ) -> Result<(), InputError>,
) -> (Collect, String) {
    use guardline_detect::{Key, Redactor};
    let engine = Engine::with_defaults();
    let scan = Scan::new(&engine);
    let mut sink = Collect::default();
    let mut out = Vec::new();
    let mut vault = Vault::new();
    let redactor = op.map(|op| Redactor::new(op, Key::derive(b"k")));
    let mut r = redactor.as_ref().map(|redactor| Redaction {
        redactor,
        vault: &mut vault,
        out: &mut out,
    });
    let mut reader = input.as_bytes();
    scan_fn(&scan, &mut reader, &mut sink, r.as_mut()).unwrap();
    (sink, String::from_utf8(out).unwrap())
}
