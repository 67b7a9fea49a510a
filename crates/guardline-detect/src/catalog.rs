//! The embedded catalog (`catalog/` at the repository root): kinds, recognisers, context cues and
//! the injection lexicon. Parsed once when an [`crate::Engine`] is built.

use crate::finding::Dimension;
use serde::Deserialize;
use std::collections::BTreeMap;

pub const KINDS_TOML: &str = include_str!("../../../catalog/kinds.toml");
pub const RECOGNIZERS_TOML: &str = include_str!("../../../catalog/recognizers.toml");
pub const CONTEXT_TOML: &str = include_str!("../../../catalog/lexicons/context.toml");
pub const INJECTION_TOML: &str = include_str!("../../../catalog/lexicons/injection.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindInfo {
    pub dimension: Dimension,
    pub label: String,
    pub description: String,
    #[serde(default)]
    pub zh: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindsFile {
    pub kinds: BTreeMap<String, KindInfo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Boundary {
    Alnum,
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecognizerSpec {
    pub id: String,
    pub validator: String,
    pub kinds: Vec<String>,
    pub boundary: Boundary,
    pub pattern: String,
    /// A short regex that every match of `pattern` starts with. When given, the head goes into
    /// the automaton and `pattern` is verified anchored at each head match: long counted runs
    /// (`[A-Za-z0-9]{36,}`) multiply the automaton's states, heads do not.
    #[serde(default)]
    pub head: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecognizersFile {
    pub recognizer: Vec<RecognizerSpec>,
}

/// The embedded catalogue's recognisers, for callers that reason about what a finding could
/// look like before it is complete (the gateway's stream guard).
pub fn default_recognizers() -> Vec<RecognizerSpec> {
    toml::from_str::<RecognizersFile>(RECOGNIZERS_TOML)
        .map(|f| f.recognizer)
        .unwrap_or_default()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CueSpec {
    pub boost_by: f32,
    pub boost: Vec<String>,
    pub penalty: f32,
    pub suppress: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextFile {
    pub window_before: usize,
    pub window_after: usize,
    pub cues: BTreeMap<String, CueSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectionRule {
    pub technique: String,
    pub lang: String,
    pub score: f32,
    pub pattern: String,
    /// How to read a match before rescanning it; `despace` for text written letter by letter.
    /// Without it, a match is itself the finding.
    #[serde(default)]
    pub decode: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectionFile {
    pub rule: Vec<InjectionRule>,
}

/// All catalog data, as text, so callers can substitute their own (tests, tuning, site rules).
#[derive(Debug, Clone)]
pub struct CatalogSource {
    pub kinds: String,
    pub recognizers: String,
    pub context: String,
    pub injection: String,
}

impl Default for CatalogSource {
    fn default() -> Self {
        CatalogSource {
            kinds: KINDS_TOML.to_string(),
            recognizers: RECOGNIZERS_TOML.to_string(),
            context: CONTEXT_TOML.to_string(),
            injection: INJECTION_TOML.to_string(),
        }
    }
}
