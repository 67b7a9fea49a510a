//! Labelled prompt sets: their description in `splits.toml` and loading their texts.

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitsFile {
    pub set: Vec<SetSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Tune,
    Heldout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    /// Attacks: the rate is the true-positive rate.
    Injection,
    /// Ordinary prompts: the rate is the false-positive rate.
    Benign,
    /// Harmful requests that are not injections; benign for injection purposes, reported apart.
    Harmful,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Root {
    Data,
    Repo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Jsonl,
    Csv,
    Lines,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Indices {
    #[default]
    All,
    Even,
    Odd,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetSpec {
    pub name: String,
    pub split: Split,
    /// `en` or `zh`: the language family the set is reported under.
    pub lang: String,
    pub label: u8,
    pub group: Group,
    pub root: Root,
    pub path: String,
    pub format: Format,
    #[serde(default)]
    pub records: String,
    #[serde(default)]
    pub field: String,
    #[serde(default, rename = "where")]
    pub filter: BTreeMap<String, String>,
    #[serde(default)]
    pub indices: Indices,
    #[serde(default)]
    pub lang_field: Option<String>,
}

/// One prompt and, when the set has a `lang_field`, its language tag.
#[derive(Debug, Clone)]
pub struct Item {
    pub text: String,
    pub sublang: Option<String>,
}

/// A record as loaded, before `field` is taken: JSON, or a CSV row as a string map.
type Record = Value;

pub fn resolve_paths(spec: &SetSpec, data: &Path, repo: &Path) -> Result<Vec<PathBuf>, String> {
    let base = match spec.root {
        Root::Data => data,
        Root::Repo => repo,
    };
    let full = base.join(&spec.path);
    let name = full
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{}: bad path", spec.name))?
        .to_string();
    let Some((pre, post)) = name.split_once('*') else {
        return if full.is_file() {
            Ok(vec![full])
        } else {
            Err(format!("{} not found", full.display()))
        };
    };
    let dir = full.parent().unwrap_or(base);
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.len() >= pre.len() + post.len() && n.starts_with(pre) && n.ends_with(post)
            })
        })
        .collect();
    out.sort();
    if out.is_empty() {
        return Err(format!("no file matches {}", full.display()));
    }
    Ok(out)
}

pub fn load(spec: &SetSpec, data: &Path, repo: &Path) -> Result<Vec<Item>, String> {
    let mut records = Vec::new();
    for path in resolve_paths(spec, data, repo)? {
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let ctx = |e: String| format!("{}: {e}", path.display());
        match spec.format {
            Format::Json => {
                let doc: Value = serde_json::from_str(&text).map_err(|e| ctx(e.to_string()))?;
                records.extend(json_records(&doc, &spec.records).map_err(ctx)?);
            }
            Format::Jsonl => {
                for (n, line) in text.lines().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    records.push(
                        serde_json::from_str(line)
                            .map_err(|e| ctx(format!("line {}: {e}", n + 1)))?,
                    );
                }
            }
            Format::Csv => {
                let rows = crate::csv::parse(&text);
                let mut it = rows.into_iter();
                let header = it.next().unwrap_or_default();
                for row in it {
                    let obj: serde_json::Map<String, Value> = header
                        .iter()
                        .cloned()
                        .zip(row.into_iter().map(Value::String))
                        .collect();
                    records.push(Value::Object(obj));
                }
            }
            Format::Lines => {
                records.extend(
                    text.lines()
                        .filter(|l| !l.trim().is_empty())
                        .map(|l| Value::String(l.to_string())),
                );
            }
        }
    }
    let kept: Vec<Record> = records
        .into_iter()
        .filter(|r| {
            spec.filter
                .iter()
                .all(|(k, want)| r.get(k).map(scalar_string).as_deref() == Some(want.as_str()))
        })
        .collect();
    let mut out = Vec::new();
    for (i, r) in kept.iter().enumerate() {
        let take = match spec.indices {
            Indices::All => true,
            Indices::Even => i % 2 == 0,
            Indices::Odd => i % 2 == 1,
        };
        if !take {
            continue;
        }
        let v = if spec.field.is_empty() {
            r
        } else {
            r.get(&spec.field)
                .ok_or_else(|| format!("{}: record {i} has no field `{}`", spec.name, spec.field))?
        };
        let Some(text) = v.as_str() else {
            return Err(format!(
                "{}: record {i}: `{}` is not a string",
                spec.name, spec.field
            ));
        };
        let sublang = spec
            .lang_field
            .as_ref()
            .and_then(|f| r.get(f))
            .map(scalar_string);
        out.push(Item {
            text: text.to_string(),
            sublang,
        });
    }
    Ok(out)
}

fn scalar_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn json_records(doc: &Value, path: &str) -> Result<Vec<Value>, String> {
    let mut cur = doc;
    let mut segs: Vec<&str> = path.split('.').filter(|s| !s.is_empty()).collect();
    let flatten = segs.last() == Some(&"*");
    if flatten {
        segs.pop();
    }
    for s in segs {
        cur = cur
            .get(s)
            .ok_or_else(|| format!("no `{s}` in the document"))?;
    }
    let arr = |v: &Value| -> Result<Vec<Value>, String> {
        v.as_array()
            .cloned()
            .ok_or_else(|| "records are not an array".to_string())
    };
    if flatten {
        let obj = cur
            .as_object()
            .ok_or_else(|| "`*` needs an object".to_string())?;
        let mut out = Vec::new();
        for v in obj.values() {
            out.extend(arr(v)?);
        }
        Ok(out)
    } else {
        arr(cur)
    }
}
