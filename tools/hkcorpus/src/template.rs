//! Templates: sentences with slots, one per line of a data file.
//!
//! ```text
//! # comment
//! en | Call me on {hk_phone:bare} after six.
//! yue | 我張身份證係 {hk_id}，唔該幫我登記。
//! ```
//!
//! A line is `LANG | TEXT`. In TEXT, `{slot}` or `{slot:variant}` is replaced by a generated value
//! (see [`crate::values`]); `{{` and `}}` are literal braces; `\n` and `\t` are a newline and a tab.

use crate::values;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

pub const LANGS: &[&str] = &["en", "zh-Hant", "yue", "mixed", "zh-Hans"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Lit(String),
    Slot {
        name: String,
        variant: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct Template {
    /// 1-based line in its file.
    pub line: usize,
    pub lang: String,
    pieces: Vec<Piece>,
}

/// A gold span: byte offsets into `text`, end exclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub kind: String,
    pub start: usize,
    pub end: usize,
}

/// One corpus record, as written to JSONL.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub text: String,
    pub spans: Vec<Span>,
    pub template_set: String,
    pub lang: String,
    /// Line of the template in its file (for error analysis).
    #[serde(default)]
    pub template: usize,
}

impl Template {
    /// The kind of the first gold slot, or `"negative"` when the template has none.
    pub fn category(&self) -> &str {
        self.pieces
            .iter()
            .find_map(|p| match p {
                Piece::Slot { name, .. } if values::GOLD_KINDS.contains(&name.as_str()) => {
                    Some(name.as_str())
                }
                _ => None,
            })
            .unwrap_or("negative")
    }

    /// All slot names in the template.
    pub fn slots(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Slot { name, .. } => Some(name.as_str()),
            Piece::Lit(_) => None,
        })
    }

    pub fn render(&self, rng: &mut StdRng, set: &str) -> Record {
        let mut text = String::new();
        let mut spans = Vec::new();
        for p in &self.pieces {
            match p {
                Piece::Lit(s) => text.push_str(s),
                Piece::Slot { name, variant } => {
                    let v = values::render(name, variant.as_deref(), rng);
                    let start = text.len();
                    text.push_str(&v.text);
                    if let Some(kind) = v.kind {
                        spans.push(Span {
                            kind: kind.to_string(),
                            start,
                            end: text.len(),
                        });
                    }
                }
            }
        }
        Record {
            text,
            spans,
            template_set: set.to_string(),
            lang: self.lang.clone(),
            template: self.line,
        }
    }
}

/// Parse a template file; errors name the line.
pub fn parse(src: &str) -> Result<Vec<Template>, String> {
    let mut out = Vec::new();
    for (i, raw) in src.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim_end();
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        let (lang, body) = l
            .split_once(" | ")
            .ok_or_else(|| format!("line {line}: expected `LANG | TEXT`"))?;
        let lang = lang.trim();
        if !LANGS.contains(&lang) {
            return Err(format!("line {line}: unknown language `{lang}`"));
        }
        let pieces = parse_body(body).map_err(|e| format!("line {line}: {e}"))?;
        out.push(Template {
            line,
            lang: lang.to_string(),
            pieces,
        });
    }
    Ok(out)
}

fn parse_body(body: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                lit.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                lit.push('}');
            }
            '\\' if matches!(chars.peek(), Some('n') | Some('t')) => {
                lit.push(if chars.next() == Some('n') {
                    '\n'
                } else {
                    '\t'
                });
            }
            '{' => {
                let mut slot = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => slot.push(c),
                        None => return Err(format!("unclosed slot `{{{slot}`")),
                    }
                }
                let (name, variant) = match slot.split_once(':') {
                    Some((n, v)) => (n.to_string(), Some(v.to_string())),
                    None => (slot, None),
                };
                if !values::is_known(&name, variant.as_deref()) {
                    return Err(format!("unknown slot `{name}` / variant {variant:?}"));
                }
                if !lit.is_empty() {
                    pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                pieces.push(Piece::Slot { name, variant });
            }
            '}' => return Err("stray `}` (write `}}`)".into()),
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        pieces.push(Piece::Lit(lit));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_slots_escapes_and_variants() {
        let t = parse("en | a {{b}} {hk_phone:bare}\\n{name}").unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(
            t[0].pieces,
            vec![
                Piece::Lit("a {b} ".into()),
                Piece::Slot {
                    name: "hk_phone".into(),
                    variant: Some("bare".into())
                },
                Piece::Lit("\n".into()),
                Piece::Slot {
                    name: "name".into(),
                    variant: None
                },
            ]
        );
        assert_eq!(t[0].category(), "hk_phone");
    }

    #[test]
    fn rejects_bad_lines() {
        assert!(parse("en | {nope}").is_err());
        assert!(parse("xx | hi").is_err());
        assert!(parse("en hi").is_err());
        assert!(parse("en | {hk_id").is_err());
        assert!(parse("en | {hk_phone:weird}").is_err());
    }
}
