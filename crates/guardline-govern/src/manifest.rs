//! The system manifest: one TOML file per AI system (`guardline init system` writes a commented
//! one; `catalog/govern/system-template.toml` documents every key).
//!
//! The parser walks the TOML document itself rather than deserialising into a struct, so that
//! every error names the key and its line, and an unknown key, sector or use case is refused with
//! the nearest valid spelling instead of being ignored.

use crate::catalog::{Catalog, Oversight};
use crate::suggest::nearest;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;
use toml_edit::{ImDocument, Item, Key, TableLike, Value};

/// A manifest error, located: `FILE:LINE:COLUMN: KEY: MESSAGE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ManifestError {
    pub origin: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    /// The dotted key, e.g. `system.sector`; empty for a syntax error.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.origin, self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

/// A parsed, checked manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub name: String,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub version: Option<String>,
    pub roles: Vec<String>,
    pub sector: String,
    pub use_cases: Vec<String>,
    pub modalities: Vec<String>,
    /// Model names the system calls; evaluation runs of these models with no `system` count.
    pub models: Vec<String>,
    pub affected: Vec<String>,
    pub decisions: Vec<String>,
    pub autonomy: Oversight,
    pub data: Vec<String>,
    /// RAG corpus paths as written (relative to the manifest's directory).
    pub rag_corpus: Vec<String>,
    pub cross_border: bool,
    /// `Some(tenant)` when the system's traffic passes through `guardline serve`.
    pub gateway_tenant: Option<String>,
    /// SHA-256 of the manifest's bytes.
    pub sha256: String,
}

/// The keys of each table, and what each holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text {
        required: bool,
    },
    /// A list of vocabulary values (`field` names the vocabulary).
    Values {
        field: &'static str,
        required: bool,
    },
    /// A list of free strings.
    Texts,
    /// One vocabulary value.
    Value {
        field: &'static str,
        required: bool,
    },
    Bool,
}

const SYSTEM_KEYS: &[(&str, Kind)] = &[
    ("name", Kind::Text { required: true }),
    ("description", Kind::Text { required: false }),
    ("owner", Kind::Text { required: false }),
    ("version", Kind::Text { required: false }),
    (
        "roles",
        Kind::Values {
            field: "roles",
            required: true,
        },
    ),
    (
        "sector",
        Kind::Value {
            field: "sectors",
            required: true,
        },
    ),
    (
        "use_cases",
        Kind::Values {
            field: "use_cases",
            required: true,
        },
    ),
    (
        "modalities",
        Kind::Values {
            field: "modalities",
            required: false,
        },
    ),
    ("models", Kind::Texts),
];
const IMPACT_KEYS: &[(&str, Kind)] = &[
    (
        "affected",
        Kind::Values {
            field: "affected",
            required: false,
        },
    ),
    (
        "decisions",
        Kind::Values {
            field: "decisions",
            required: false,
        },
    ),
    (
        "autonomy",
        Kind::Value {
            field: "autonomy",
            required: true,
        },
    ),
];
const DATA_KEYS: &[(&str, Kind)] = &[
    (
        "categories",
        Kind::Values {
            field: "data",
            required: false,
        },
    ),
    ("rag_corpus", Kind::Texts),
    ("cross_border", Kind::Bool),
];
const GATEWAY_KEYS: &[(&str, Kind)] = &[("tenant", Kind::Text { required: false })];
/// `(table, its keys, whether the table is required)`.
type Schema = &'static [(&'static str, Kind)];
const TABLES: &[(&str, Schema, bool)] = &[
    ("system", SYSTEM_KEYS, true),
    ("impact", IMPACT_KEYS, true),
    ("data", DATA_KEYS, false),
    ("gateway", GATEWAY_KEYS, false),
];

/// Longest accepted free-text value; a manifest is a description, not a document store.
const MAX_TEXT: usize = 2000;

struct Ctx<'a> {
    origin: &'a str,
    text: &'a str,
    catalog: &'a Catalog,
}

impl Ctx<'_> {
    fn error(&self, span: Option<Range<usize>>, key: &str, message: String) -> ManifestError {
        let (line, column) = line_col(self.text, span.map(|s| s.start).unwrap_or(0));
        ManifestError {
            origin: self.origin.to_string(),
            line,
            column,
            key: printable(key),
            message: message.replace(['\n', '\r'], " "),
        }
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

fn type_name(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::Value(v) => match v {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Boolean(_) => "a boolean",
            Value::Datetime(_) => "a date-time",
            Value::Array(_) => "an array",
            Value::InlineTable(_) => "an inline table",
        },
    }
}

fn item_span(item: &Item, key: Option<&Key>) -> Option<Range<usize>> {
    item.span().or_else(|| key.and_then(Key::span))
}

#[derive(Default)]
struct Fields {
    name: Option<String>,
    description: Option<String>,
    owner: Option<String>,
    version: Option<String>,
    roles: Vec<String>,
    sector: Option<String>,
    use_cases: Vec<String>,
    modalities: Option<Vec<String>>,
    models: Vec<String>,
    affected: Vec<String>,
    decisions: Vec<String>,
    autonomy: Option<String>,
    categories: Vec<String>,
    rag_corpus: Vec<String>,
    cross_border: bool,
    gateway: bool,
    tenant: Option<String>,
}

impl Manifest {
    /// Parses and checks a manifest against the embedded catalogue.
    pub fn parse(text: &str, origin: &str) -> Result<Manifest, ManifestError> {
        let catalog = Catalog::embedded().map_err(|e| ManifestError {
            origin: origin.to_string(),
            line: 1,
            column: 1,
            key: String::new(),
            message: e.to_string(),
        })?;
        Manifest::parse_with(text, origin, catalog)
    }

    /// Parses bytes, refusing invalid UTF-8 with the line it is on.
    pub fn parse_bytes(bytes: &[u8], origin: &str) -> Result<Manifest, ManifestError> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Manifest::parse(text, origin),
            Err(e) => {
                let good = &bytes[..e.valid_up_to()];
                let text = String::from_utf8_lossy(good);
                let (line, column) = line_col(&text, text.len());
                Err(ManifestError {
                    origin: origin.to_string(),
                    line,
                    column,
                    key: String::new(),
                    message: "not valid UTF-8 (a manifest is UTF-8 TOML)".into(),
                })
            }
        }
    }

    pub fn parse_with(
        text: &str,
        origin: &str,
        catalog: &Catalog,
    ) -> Result<Manifest, ManifestError> {
        let cx = Ctx {
            origin,
            text,
            catalog,
        };
        let doc = ImDocument::parse(text).map_err(|e| {
            let msg = e.message().trim().replace('\n', " ");
            cx.error(e.span(), "", format!("not valid TOML: {msg}"))
        })?;
        let root = doc.as_table();
        let mut f = Fields::default();

        for (key, item) in root.iter() {
            let k = root.key(key);
            let Some((_, schema, _)) = TABLES.iter().find(|(t, _, _)| *t == key) else {
                let names: Vec<&str> = TABLES.iter().map(|(t, _, _)| *t).collect();
                return Err(cx.error(
                    k.and_then(Key::span).or_else(|| item.span()),
                    key,
                    unknown("table", key, &names),
                ));
            };
            let Some(table) = item.as_table_like() else {
                return Err(cx.error(
                    item_span(item, k),
                    key,
                    format!("expected a table ([{key}]), found {}", type_name(item)),
                ));
            };
            if key == "gateway" {
                f.gateway = true;
            }
            walk_table(&cx, key, table, schema, &mut f)?;
        }

        for (table, schema, required) in TABLES {
            let present = root.get(table).is_some();
            if *required && !present {
                return Err(cx.error(
                    None,
                    table,
                    format!("the [{table}] table is missing (see `guardline init system`)"),
                ));
            }
            let span = root.get(table).and_then(|i| item_span(i, root.key(table)));
            for (key, kind) in schema.iter() {
                let required = matches!(
                    kind,
                    Kind::Text { required: true }
                        | Kind::Values { required: true, .. }
                        | Kind::Value { required: true, .. }
                );
                if required && present && !is_set(&f, table, key) {
                    return Err(cx.error(
                        span.clone(),
                        &format!("{table}.{key}"),
                        format!("required key `{key}` is missing from [{table}]"),
                    ));
                }
            }
        }

        let autonomy = f.autonomy.as_deref().and_then(Oversight::parse);
        let (Some(name), Some(sector), Some(autonomy)) = (f.name, f.sector, autonomy) else {
            // Unreachable after the checks above; kept as an error rather than a panic.
            return Err(cx.error(None, "", "incomplete manifest".into()));
        };
        Ok(Manifest {
            name,
            description: f.description,
            owner: f.owner,
            version: f.version,
            roles: f.roles,
            sector,
            use_cases: f.use_cases,
            modalities: f.modalities.unwrap_or_else(|| vec!["text".to_string()]),
            models: f.models,
            affected: f.affected,
            decisions: f.decisions,
            autonomy,
            data: f.categories,
            rag_corpus: f.rag_corpus,
            cross_border: f.cross_border,
            gateway_tenant: f
                .gateway
                .then(|| f.tenant.unwrap_or_else(|| "default".to_string())),
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
        })
    }

    /// The switches a condition's `declared` can test.
    pub fn declared(&self) -> BTreeSet<&'static str> {
        let mut d = BTreeSet::new();
        if !self.rag_corpus.is_empty() {
            d.insert("rag_corpus");
        }
        if self.cross_border {
            d.insert("cross_border");
        }
        if self.gateway_tenant.is_some() {
            d.insert("gateway");
        }
        d
    }
}

fn is_set(f: &Fields, table: &str, key: &str) -> bool {
    match (table, key) {
        ("system", "name") => f.name.is_some(),
        ("system", "roles") => !f.roles.is_empty(),
        ("system", "sector") => f.sector.is_some(),
        ("system", "use_cases") => !f.use_cases.is_empty(),
        ("impact", "autonomy") => f.autonomy.is_some(),
        _ => true,
    }
}

fn unknown(what: &str, given: &str, options: &[&str]) -> String {
    // "key in [system]" reads "unknown key `secotr` in [system]".
    let (noun, place) = what.split_once(" in [").map_or((what, ""), |(n, p)| (n, p));
    let mut msg = format!("unknown {noun} `{}`", printable(given));
    if !place.is_empty() {
        msg.push_str(" in [");
        msg.push_str(place);
    }
    if let Some(n) = nearest(given, options) {
        msg.push_str(&format!("; did you mean `{n}`?"));
    }
    msg.push_str(&format!(" (valid: {})", options.join(", ")));
    msg
}

/// A value as it may appear in a one-line message.
fn printable(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(60)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if s.chars().count() > 60 {
        out.push('…');
    }
    out
}

fn walk_table(
    cx: &Ctx<'_>,
    table: &str,
    t: &dyn TableLike,
    schema: &[(&str, Kind)],
    f: &mut Fields,
) -> Result<(), ManifestError> {
    for (key, item) in t.iter() {
        let k = t.key(key);
        let dotted = format!("{table}.{key}");
        let Some((_, kind)) = schema.iter().find(|(s, _)| *s == key) else {
            let names: Vec<&str> = schema.iter().map(|(s, _)| *s).collect();
            return Err(cx.error(
                k.and_then(Key::span).or_else(|| item.span()),
                &dotted,
                unknown(&format!("key in [{table}]"), key, &names),
            ));
        };
        let span = item_span(item, k);
        match *kind {
            Kind::Text { .. } => {
                let s = text(cx, item, span, &dotted)?;
                match key {
                    "name" => f.name = Some(s),
                    "description" => f.description = Some(s),
                    "owner" => f.owner = Some(s),
                    "version" => f.version = Some(s),
                    "tenant" => f.tenant = Some(s),
                    _ => {}
                }
            }
            Kind::Value { field, .. } => {
                let s = value(cx, item, span, &dotted, field)?;
                match key {
                    "sector" => f.sector = Some(s),
                    "autonomy" => f.autonomy = Some(s),
                    _ => {}
                }
            }
            Kind::Values { field, required } => {
                let v = values(cx, item, span.clone(), &dotted, Some(field))?;
                if required && v.is_empty() {
                    return Err(cx.error(
                        span,
                        &dotted,
                        format!("`{key}` needs at least one value"),
                    ));
                }
                match key {
                    "roles" => f.roles = v,
                    "use_cases" => f.use_cases = v,
                    "modalities" => {
                        if v.is_empty() {
                            return Err(cx.error(
                                span,
                                &dotted,
                                "`modalities` needs at least one value (text, image, audio, video)"
                                    .into(),
                            ));
                        }
                        f.modalities = Some(v)
                    }
                    "affected" => f.affected = v,
                    "decisions" => f.decisions = v,
                    "categories" => f.categories = v,
                    _ => {}
                }
            }
            Kind::Texts => {
                let v = values(cx, item, span, &dotted, None)?;
                match key {
                    "models" => f.models = v,
                    "rag_corpus" => f.rag_corpus = v,
                    _ => {}
                }
            }
            Kind::Bool => match item.as_value().and_then(Value::as_bool) {
                Some(b) => {
                    if key == "cross_border" {
                        f.cross_border = b;
                    }
                }
                None => {
                    return Err(cx.error(
                        span,
                        &dotted,
                        format!("expected true or false, found {}", type_name(item)),
                    ))
                }
            },
        }
    }
    Ok(())
}

fn text(
    cx: &Ctx<'_>,
    item: &Item,
    span: Option<Range<usize>>,
    key: &str,
) -> Result<String, ManifestError> {
    let Some(s) = item.as_value().and_then(Value::as_str) else {
        return Err(cx.error(
            span,
            key,
            format!("expected a string, found {}", type_name(item)),
        ));
    };
    let s = s.trim();
    if s.is_empty() {
        return Err(cx.error(span, key, "must not be empty".into()));
    }
    if s.chars().count() > MAX_TEXT {
        return Err(cx.error(span, key, format!("longer than {MAX_TEXT} characters")));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(cx.error(span, key, "contains control characters".into()));
    }
    Ok(s.to_string())
}

fn check_value(
    cx: &Ctx<'_>,
    span: Option<Range<usize>>,
    key: &str,
    field: &str,
    given: &str,
) -> Result<String, ManifestError> {
    let options = cx.catalog.values(field).unwrap_or_default();
    if options.contains(&given) {
        return Ok(given.to_string());
    }
    let what = match field {
        "roles" => "role",
        "sectors" => "sector",
        "use_cases" => "use case",
        "modalities" => "modality",
        "affected" => "group of affected people",
        "decisions" => "decision",
        "autonomy" => "oversight level",
        "data" => "data category",
        _ => "value",
    };
    Err(cx.error(span, key, unknown(what, given, &options)))
}

fn value(
    cx: &Ctx<'_>,
    item: &Item,
    span: Option<Range<usize>>,
    key: &str,
    field: &str,
) -> Result<String, ManifestError> {
    let Some(s) = item.as_value().and_then(Value::as_str) else {
        return Err(cx.error(
            span,
            key,
            format!("expected a string, found {}", type_name(item)),
        ));
    };
    check_value(cx, span, key, field, s)
}

fn values(
    cx: &Ctx<'_>,
    item: &Item,
    span: Option<Range<usize>>,
    key: &str,
    field: Option<&str>,
) -> Result<Vec<String>, ManifestError> {
    let Some(arr) = item.as_value().and_then(Value::as_array) else {
        let hint = match item.as_value().and_then(Value::as_str) {
            Some(s) => format!(" (write [\"{}\"])", printable(s)),
            None => String::new(),
        };
        return Err(cx.error(
            span,
            key,
            format!(
                "expected an array of strings, found {}{hint}",
                type_name(item)
            ),
        ));
    };
    let mut out: Vec<String> = Vec::new();
    for v in arr.iter() {
        let vspan = v.span().or(span.clone());
        let Some(s) = v.as_str() else {
            return Err(cx.error(vspan, key, "expected an array of strings".into()));
        };
        let s = match field {
            Some(field) => check_value(cx, vspan, key, field, s)?,
            None => {
                let t = s.trim();
                if t.is_empty() || t.chars().count() > MAX_TEXT || t.chars().any(char::is_control) {
                    return Err(cx.error(
                        vspan,
                        key,
                        format!("`{}` is not a usable value", printable(s)),
                    ));
                }
                t.to_string()
            }
        };
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[system]
name = "Clinic triage assistant"
roles = ["provider"]
sector = "healthcare"
use_cases = ["medical_diagnosis"]
modalities = ["text"]

[impact]
affected = ["patients"]
decisions = ["access_to_services"]
autonomy = "human_in_command"

[data]
categories = ["personal", "health", "hk_id"]
"#;

    fn parse(s: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(s, "m.toml")
    }

    #[test]
    fn the_issue_example_parses() {
        let m = parse(GOOD).unwrap();
        assert_eq!(m.name, "Clinic triage assistant");
        assert_eq!(m.sector, "healthcare");
        assert_eq!(m.autonomy, Oversight::HumanInCommand);
        assert_eq!(m.data, ["personal", "health", "hk_id"]);
        assert_eq!(m.gateway_tenant, None);
        assert_eq!(m.sha256.len(), 64);
    }

    fn error(s: &str) -> ManifestError {
        parse(s).unwrap_err()
    }

    #[test]
    fn errors_name_the_key_the_line_and_the_nearest_value() {
        let e = error(&GOOD.replace("\"healthcare\"", "\"helthcare\""));
        assert_eq!(e.line, 5, "{e}");
        assert_eq!(e.key, "system.sector");
        assert!(e.message.contains("did you mean `healthcare`"), "{e}");

        let e = error(&GOOD.replace("sector =", "secotr ="));
        assert_eq!((e.line, e.key.as_str()), (5, "system.secotr"), "{e}");
        assert!(e.message.contains("did you mean `sector`"), "{e}");

        let e = error(&GOOD.replace("medical_diagnosis", "medical_diagnostics"));
        assert_eq!((e.line, e.key.as_str()), (6, "system.use_cases"), "{e}");
        assert!(
            e.message.contains("did you mean `medical_diagnosis`"),
            "{e}"
        );
        assert_eq!(e.column, 14, "{e}");

        let e = error(&GOOD.replace("[impact]", "[impakt]"));
        assert!(e.message.contains("did you mean `impact`"), "{e}");
        assert_eq!(e.line, 9);

        let e = error(&GOOD.replace("\"hk_id\"", "\"hkid\""));
        assert!(e.message.contains("`hk_id`"), "{e}");
        assert_eq!(e.line, 15);

        let e = error(&GOOD.replace("human_in_command", "human_on_the_loop"));
        assert!(
            e.message.contains("did you mean `human_in_the_loop`"),
            "{e}"
        );

        let e = error(&GOOD.replace("roles = [\"provider\"]", "roles = \"provider\""));
        assert!(e.message.contains("write [\"provider\"]"), "{e}");
        assert_eq!(e.line, 4);

        let e = error(&GOOD.replace("name = \"Clinic triage assistant\"\n", ""));
        assert_eq!(e.key, "system.name");
        assert!(e.message.contains("missing"), "{e}");

        let e = error(&GOOD.replace("autonomy = \"human_in_command\"\n", ""));
        assert_eq!(e.key, "impact.autonomy");

        let e = error(&GOOD.replace("use_cases = [\"medical_diagnosis\"]", "use_cases = []"));
        assert!(e.message.contains("at least one"), "{e}");

        let e = error("[system\nname = 1");
        assert!(e.message.contains("not valid TOML"), "{e}");
        assert_eq!(e.line, 1);

        let e = error(&format!("{GOOD}\n[data.extra]\nx = 1\n"));
        assert!(
            e.message.contains("unknown key `extra` in [data]") || e.message.contains("duplicate"),
            "{e}"
        );

        let e = error(&GOOD.replace("[data]\n", "[data]\ncross_border = \"yes\"\n"));
        assert!(e.message.contains("true or false"), "{e}");
        assert_eq!(e.line, 15);
    }

    #[test]
    fn dotted_keys_and_inline_tables_work_too() {
        let m = parse(
            "system = { name = \"x\", roles = [\"user\"], sector = \"general\", use_cases = [\"code_assistant\"] }\n\
             impact.autonomy = \"human_out_of_the_loop\"\n[gateway]\n",
        )
        .unwrap();
        assert_eq!(m.gateway_tenant.as_deref(), Some("default"));
        assert_eq!(m.modalities, ["text"]);
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let e = Manifest::parse_bytes(b"[system]\nname = \"\xff\"", "m.toml").unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn the_template_parses() {
        let m = parse(crate::SYSTEM_TEMPLATE).unwrap();
        assert!(!m.name.is_empty());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn never_panics_on_garbage(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = Manifest::parse_bytes(&bytes, "fuzz.toml");
        }

        #[test]
        fn never_panics_on_mutated_manifests(pos in 0usize..400, len in 0usize..20, insert in "[\\[\\]=\"a-z_ \\n{},.0-9#'\\\\]{0,12}") {
            let mut s = GOOD.to_string();
            let mut p = pos.min(s.len());
            while !s.is_char_boundary(p) { p -= 1; }
            let mut end = (p + len).min(s.len());
            while !s.is_char_boundary(end) { end -= 1; }
            s.replace_range(p..end, &insert);
            if let Err(e) = parse(&s) {
                // Every error is located and one line.
                proptest::prop_assert!(e.line >= 1 && e.column >= 1);
                proptest::prop_assert!(!e.to_string().contains('\n'));
            }
        }

        #[test]
        fn never_panics_on_arbitrary_text(s in "\\PC{0,300}") {
            if let Err(e) = parse(&s) {
                proptest::prop_assert!(!e.to_string().contains('\n'));
            }
        }

        #[test]
        fn never_panics_on_arbitrary_toml_values(key in "[a-z_]{1,12}", val in "\\PC{0,30}") {
            let v = val.replace(['\\', '"'], "");
            let s = format!("[system]\n{key} = \"{v}\"\n[impact]\nautonomy = \"{v}\"\n");
            let _ = parse(&s);
        }
    }
}
