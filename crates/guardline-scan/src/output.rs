//! Printing hits: text for people (ripgrep-like, coloured when the caller says so), JSONL, one
//! JSON document, or SARIF 2.1.0 for code-scanning tools. Every format is written as the hits
//! arrive, so a long scan holds no report in memory.

use crate::mask::printable;
use crate::{Hit, Place, Summary};
use guardline_detect::{Dimension, Engine};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io;
use termcolor::{Color, ColorSpec, WriteColor};

/// How findings are reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputFormat {
    /// For people: a heading per file (or `path:` prefixes when not on a terminal).
    #[default]
    Text,
    /// One JSON document: `{"findings": [...], "summary": {...}}`.
    Json,
    /// One finding per line.
    Jsonl,
    /// SARIF 2.1.0.
    Sarif,
}

pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// One finding as JSON and JSONL print it.
#[derive(Serialize)]
struct HitRecord<'a> {
    path: &'a str,
    line: u64,
    start: usize,
    end: usize,
    kind: &'a str,
    dimension: &'a str,
    score: f64,
    detector: &'a str,
    #[serde(rename = "match")]
    matched: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<&'a crate::Column>,
}

impl<'a> HitRecord<'a> {
    fn new(path: &'a str, hit: &'a Hit) -> HitRecord<'a> {
        let f = &hit.finding;
        let (record, field, column) = match &hit.place {
            Place::Text { .. } => (None, None, None),
            Place::Record { record, field } => (Some(*record), field.as_deref(), None),
            Place::Row { record, column } => (Some(*record), None, Some(column)),
        };
        HitRecord {
            path,
            line: hit.line,
            start: f.start,
            end: f.end,
            kind: f.kind.as_str(),
            dimension: f.dimension.as_str(),
            score: round_score(f.score),
            detector: &f.detector,
            matched: &hit.text,
            record,
            field,
            column,
        }
    }
}

/// Scores print with three decimals (`0.95`, not `0.949999988079071`).
pub fn round_score(s: f32) -> f64 {
    (f64::from(s) * 1000.0).round() / 1000.0
}

/// Writes one report, hit by hit.
pub struct Printer<'w> {
    format: OutputFormat,
    heading: bool,
    out: &'w mut dyn WriteColor,
    /// The input whose heading was printed last.
    current: Option<usize>,
    wrote_any: bool,
    rules: HashMap<String, usize>,
}

impl<'w> Printer<'w> {
    pub fn new(format: OutputFormat, heading: bool, out: &'w mut dyn WriteColor) -> Printer<'w> {
        Printer {
            format,
            heading,
            out,
            current: None,
            wrote_any: false,
            rules: HashMap::new(),
        }
    }

    pub fn begin(&mut self, engine: &Engine) -> io::Result<()> {
        match self.format {
            OutputFormat::Text | OutputFormat::Jsonl => Ok(()),
            OutputFormat::Json => write!(self.out, "{{\"findings\":["),
            OutputFormat::Sarif => {
                let mut rules = Vec::new();
                for (kind, info, enabled) in engine.kinds() {
                    if !enabled {
                        continue;
                    }
                    self.rules.insert(kind.to_string(), rules.len());
                    let mut full = info.description.clone();
                    if let Some(zh) = &info.zh {
                        full.push_str(&format!(" ({zh})"));
                    }
                    rules.push(json!({
                        "id": kind.as_str(),
                        "name": info.label,
                        "shortDescription": {"text": info.description},
                        "fullDescription": {"text": full},
                        "defaultConfiguration": {"level": level(info.dimension)},
                        "properties": {"dimension": info.dimension.as_str(), "tags": [info.dimension.as_str()]},
                    }));
                }
                let driver = json!({
                    "name": "guardline",
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                });
                write!(
                    self.out,
                    "{{\"$schema\":\"{SARIF_SCHEMA}\",\"version\":\"2.1.0\",\"runs\":[{{\"tool\":{{\"driver\":"
                )?;
                serde_json::to_writer(&mut *self.out, &driver)?;
                write!(self.out, "}},\"results\":[")
            }
        }
    }

    /// One hit of input number `index` (the heading changes when the index does).
    pub fn hit(&mut self, index: usize, path: &str, hit: &Hit) -> io::Result<()> {
        match self.format {
            OutputFormat::Text => self.text(index, path, hit),
            OutputFormat::Jsonl => {
                serde_json::to_writer(&mut *self.out, &HitRecord::new(path, hit))?;
                self.out.write_all(b"\n")
            }
            OutputFormat::Json => {
                self.out
                    .write_all(if self.wrote_any { b",\n" } else { b"\n" })?;
                self.wrote_any = true;
                serde_json::to_writer(&mut *self.out, &HitRecord::new(path, hit))
                    .map_err(io::Error::from)
            }
            OutputFormat::Sarif => {
                self.out
                    .write_all(if self.wrote_any { b",\n" } else { b"\n" })?;
                self.wrote_any = true;
                let result = self.sarif_result(path, hit);
                serde_json::to_writer(&mut *self.out, &result).map_err(io::Error::from)
            }
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn end(&mut self, summary: &Summary) -> io::Result<()> {
        match self.format {
            OutputFormat::Text | OutputFormat::Jsonl => {}
            OutputFormat::Json => {
                write!(self.out, "\n],\"summary\":")?;
                serde_json::to_writer(&mut *self.out, &summary.to_json())?;
                writeln!(self.out, "}}")?;
            }
            OutputFormat::Sarif => {
                let invocation = json!({
                    "executionSuccessful": summary.errors == 0 && summary.bad_records == 0,
                });
                write!(self.out, "\n],\"invocations\":[")?;
                serde_json::to_writer(&mut *self.out, &invocation)?;
                writeln!(self.out, "]}}]}}")?;
            }
        }
        self.out.flush()
    }

    fn text(&mut self, index: usize, path: &str, hit: &Hit) -> io::Result<()> {
        let f = &hit.finding;
        let path = printable(path);
        if self.heading {
            if self.current != Some(index) {
                if self.current.is_some() {
                    writeln!(self.out)?;
                }
                self.out
                    .set_color(ColorSpec::new().set_fg(Some(Color::Magenta)).set_bold(true))?;
                write!(self.out, "{path}")?;
                self.out.reset()?;
                writeln!(self.out)?;
                self.current = Some(index);
            }
        } else {
            self.out
                .set_color(ColorSpec::new().set_fg(Some(Color::Magenta)))?;
            write!(self.out, "{path}")?;
            self.out.reset()?;
            write!(self.out, ":")?;
        }
        self.out
            .set_color(ColorSpec::new().set_fg(Some(Color::Green)))?;
        let loc = location(hit);
        write!(self.out, "{}", printable(&loc))?;
        self.out.reset()?;
        if self.heading {
            write!(
                self.out,
                "{:pad$}  ",
                "",
                pad = 12usize.saturating_sub(loc.chars().count())
            )?;
        } else {
            write!(self.out, ": ")?;
        }
        self.out.set_color(
            ColorSpec::new()
                .set_fg(Some(dimension_color(f.dimension)))
                .set_bold(true),
        )?;
        if self.heading {
            write!(self.out, "{:<20}", f.kind.as_str())?;
        } else {
            write!(self.out, "{}", f.kind.as_str())?;
        }
        self.out.reset()?;
        self.out.set_color(ColorSpec::new().set_dimmed(true))?;
        write!(self.out, " {:.2}", f.score)?;
        self.out.reset()?;
        writeln!(self.out, "  {}", printable(&hit.text))
    }

    fn sarif_result(&self, path: &str, hit: &Hit) -> Value {
        let f = &hit.finding;
        let uri = sarif_uri(path);
        let (region, extra) = match &hit.place {
            Place::Text { column } => (
                json!({
                    "startLine": hit.line,
                    "byteOffset": f.start,
                    "byteLength": f.end - f.start,
                }),
                json!({"column": column}),
            ),
            // The offsets are into a decoded value, not the file: give the line only.
            Place::Record { record, field } => (
                json!({"startLine": hit.line}),
                json!({"record": record, "field": field, "start": f.start, "end": f.end}),
            ),
            Place::Row { record, column } => (
                json!({"startLine": hit.line}),
                json!({"record": record, "csvColumn": column, "start": f.start, "end": f.end}),
            ),
        };
        let mut properties = json!({
            "score": round_score(f.score),
            "detector": &*f.detector,
            "dimension": f.dimension.as_str(),
            "match": hit.text,
        });
        if let (Some(p), Some(e)) = (properties.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                if !v.is_null() {
                    p.insert(k.clone(), v.clone());
                }
            }
        }
        let mut result = json!({
            "ruleId": f.kind.as_str(),
            "level": level(f.dimension),
            "rank": (f64::from(f.score) * 100.0).round().clamp(0.0, 100.0),
            "message": {"text": format!("{} found ({}, score {:.2}): {}", f.kind, f.dimension, f.score, hit.text)},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": uri},
                    "region": region,
                }
            }],
            "properties": properties,
        });
        if let (Some(i), Some(obj)) = (self.rules.get(f.kind.as_str()), result.as_object_mut()) {
            obj.insert("ruleIndex".into(), json!(i));
        }
        result
    }
}

/// `line:col` for text; `line:/field[start..end]` for JSONL; `line:column[start..end]` (or
/// `line:#index[…]`) for CSV.
fn location(hit: &Hit) -> String {
    let f = &hit.finding;
    match &hit.place {
        Place::Text { column } => format!("{}:{}", hit.line, column),
        Place::Record { field, .. } => format!(
            "{}:{}[{}..{}]",
            hit.line,
            field.as_deref().unwrap_or(""),
            f.start,
            f.end
        ),
        Place::Row { column, .. } => match column {
            crate::Column::Name(n) => format!("{}:{}[{}..{}]", hit.line, n, f.start, f.end),
            crate::Column::Index(i) => format!("{}:#{}[{}..{}]", hit.line, i, f.start, f.end),
        },
    }
}

fn dimension_color(d: Dimension) -> Color {
    match d {
        Dimension::Privacy => Color::Yellow,
        Dimension::Security | Dimension::Crime => Color::Red,
        Dimension::Ip => Color::Blue,
        Dimension::Reliability => Color::Cyan,
    }
}

/// Secrets and attacks are errors; personal data and the rest warnings.
fn level(d: Dimension) -> &'static str {
    match d {
        Dimension::Security | Dimension::Crime => "error",
        _ => "warning",
    }
}

/// A relative URI reference for a path: `/` separators, anything outside RFC 3986's unreserved
/// set percent-encoded; absolute paths become `file://` URIs.
pub fn sarif_uri(path: &str) -> String {
    let p = path.replace('\\', "/");
    let mut out = String::with_capacity(p.len() + 8);
    if p.starts_with('/') {
        out.push_str("file://");
    }
    for b in p.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The kinds an engine reports, for `--list-kinds`.
pub fn print_kinds(
    engine: &Engine,
    format: OutputFormat,
    out: &mut dyn WriteColor,
) -> io::Result<()> {
    let kinds: Vec<_> = engine.kinds().filter(|(_, _, on)| *on).collect();
    match format {
        OutputFormat::Text => {
            let w = kinds
                .iter()
                .map(|(k, _, _)| k.as_str().len())
                .max()
                .unwrap_or(4);
            out.set_color(ColorSpec::new().set_bold(true))?;
            writeln!(out, "{:w$}  {:11}  DESCRIPTION", "KIND", "DIMENSION")?;
            out.reset()?;
            for (k, info, _) in &kinds {
                out.set_color(ColorSpec::new().set_fg(Some(dimension_color(info.dimension))))?;
                write!(out, "{:w$}", k.as_str())?;
                out.reset()?;
                write!(
                    out,
                    "  {:11}  {}",
                    info.dimension.as_str(),
                    info.description
                )?;
                if let Some(zh) = &info.zh {
                    write!(out, " ({zh})")?;
                }
                writeln!(out)?;
            }
        }
        OutputFormat::Json | OutputFormat::Jsonl | OutputFormat::Sarif => {
            let rows: Vec<Value> = kinds
                .iter()
                .map(|(k, info, _)| {
                    json!({
                        "kind": k.as_str(),
                        "dimension": info.dimension.as_str(),
                        "label": info.label,
                        "description": info.description,
                        "zh": info.zh,
                    })
                })
                .collect();
            if format == OutputFormat::Jsonl {
                for r in rows {
                    serde_json::to_writer(&mut *out, &r)?;
                    writeln!(out)?;
                }
            } else {
                serde_json::to_writer_pretty(&mut *out, &rows)?;
                writeln!(out)?;
            }
        }
    }
    out.flush()
}

/// `3 files, 1.2 MB, 5 findings in 0.12 s (10.0 MB/s)`, for the end of a text report.
pub fn summary_line(s: &Summary) -> String {
    let secs = s.elapsed.as_secs_f64();
    let mb = s.bytes as f64 / 1e6;
    let rate = if secs > 0.0 { mb / secs } else { 0.0 };
    let mut line = format!(
        "{} file{}, {:.1} MB, {} finding{} in {:.2} s ({:.1} MB/s)",
        s.files,
        if s.files == 1 { "" } else { "s" },
        mb,
        s.findings,
        if s.findings == 1 { "" } else { "s" },
        secs,
        rate
    );
    if s.skipped > 0 {
        line.push_str(&format!("; {} binary skipped", s.skipped));
    }
    if s.errors + s.bad_records > 0 {
        line.push_str(&format!(
            "; {} error{}",
            s.errors + s.bad_records,
            if s.errors + s.bad_records == 1 {
                ""
            } else {
                "s"
            }
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Column;
    use guardline_detect::{Finding, Kind};
    use std::sync::Arc;
    use termcolor::NoColor;

    fn hit(place: Place) -> Hit {
        Hit {
            finding: Finding {
                kind: Kind::new("hk_id"),
                dimension: Dimension::Privacy,
                start: 4,
                end: 14,
                score: 0.95,
                detector: Arc::from("hk_id"),
            },
            line: 2,
            place,
            text: "A********)".into(),
        }
    }

    fn render(format: OutputFormat, heading: bool, hits: &[(usize, &str, Hit)]) -> String {
        let engine = Engine::with_defaults();
        let mut out = NoColor::new(Vec::new());
        let mut p = Printer::new(format, heading, &mut out);
        p.begin(&engine).unwrap();
        for (i, path, h) in hits {
            p.hit(*i, path, h).unwrap();
        }
        p.end(&Summary {
            files: 2,
            findings: hits.len() as u64,
            ..Summary::default()
        })
        .unwrap();
        String::from_utf8(out.into_inner()).unwrap()
    }

    #[test]
    fn jsonl_fields_per_place() {
        let out = render(
            OutputFormat::Jsonl,
            false,
            &[
                (0, "a.txt", hit(Place::Text { column: 5 })),
                (
                    1,
                    "b.jsonl",
                    hit(Place::Record {
                        record: 1,
                        field: Some("/m/0".into()),
                    }),
                ),
                (
                    2,
                    "c.csv",
                    hit(Place::Row {
                        record: 0,
                        column: Column::Name("id".into()),
                    }),
                ),
                (
                    3,
                    "d.csv",
                    hit(Place::Row {
                        record: 0,
                        column: Column::Index(3),
                    }),
                ),
            ],
        );
        let rows: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows[0]["path"], "a.txt");
        assert_eq!(rows[0]["score"], 0.95);
        assert_eq!(rows[0]["match"], "A********)");
        assert!(rows[0].get("record").is_none() && rows[0].get("column").is_none());
        assert_eq!(rows[1]["record"], 1);
        assert_eq!(rows[1]["field"], "/m/0");
        assert_eq!(rows[2]["column"], "id");
        assert_eq!(rows[3]["column"], 3);
    }

    #[test]
    fn json_and_sarif_are_documents_even_when_empty() {
        for format in [OutputFormat::Json, OutputFormat::Sarif] {
            for hits in [vec![], vec![(0, "a b.txt", hit(Place::Text { column: 5 }))]] {
                let out = render(format, false, &hits);
                let v: Value = serde_json::from_str(&out).unwrap();
                if format == OutputFormat::Sarif {
                    let run = &v["runs"][0];
                    assert_eq!(v["version"], "2.1.0");
                    assert_eq!(run["tool"]["driver"]["name"], "guardline");
                    assert_eq!(run["results"].as_array().unwrap().len(), hits.len());
                    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
                    for r in run["results"].as_array().unwrap() {
                        let i = r["ruleIndex"].as_u64().unwrap() as usize;
                        assert_eq!(rules[i]["id"], r["ruleId"]);
                        let loc = &r["locations"][0]["physicalLocation"];
                        assert_eq!(loc["artifactLocation"]["uri"], "a%20b.txt");
                        assert_eq!(loc["region"]["byteOffset"], 4);
                        assert_eq!(loc["region"]["byteLength"], 10);
                    }
                } else {
                    assert_eq!(v["findings"].as_array().unwrap().len(), hits.len());
                    assert_eq!(v["summary"]["files_scanned"], 2);
                }
            }
        }
    }

    #[test]
    fn text_heading_and_prefix_forms() {
        let hits = [
            (0, "a.txt", hit(Place::Text { column: 5 })),
            (0, "a.txt", hit(Place::Text { column: 9 })),
            (
                1,
                "b.csv",
                hit(Place::Row {
                    record: 0,
                    column: Column::Name("id".into()),
                }),
            ),
        ];
        let out = render(OutputFormat::Text, true, &hits);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "a.txt");
        assert!(
            lines[1].starts_with("2:5 ")
                && lines[1].contains("hk_id")
                && lines[1].ends_with("0.95  A********)")
        );
        assert!(lines[2].starts_with("2:9 "));
        assert_eq!(lines[3], "");
        assert_eq!(lines[4], "b.csv");
        assert!(lines[5].starts_with("2:id[4..14] "));
        let out = render(OutputFormat::Text, false, &hits);
        assert!(out.lines().next().unwrap().starts_with("a.txt:2:5: hk_id"));
    }

    #[test]
    fn uris_are_escaped() {
        assert_eq!(sarif_uri("dir/a b#c.txt"), "dir/a%20b%23c.txt");
        assert_eq!(sarif_uri("/abs/x.txt"), "file:///abs/x.txt");
        assert_eq!(sarif_uri("資料.txt"), "%E8%B3%87%E6%96%99.txt");
    }
}
