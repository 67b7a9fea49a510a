//! The governance catalogue: vocabulary, use cases, classification rules, controls and evidence
//! mapping, embedded from `catalog/govern/` and checked for consistency when loaded.

use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::OnceLock;

const VOCABULARY: &str = include_str!("../../../catalog/govern/vocabulary.toml");
const USE_CASES: &str = include_str!("../../../catalog/govern/use_cases.toml");
const CLASSIFICATION: &str = include_str!("../../../catalog/govern/classification.toml");
const CONTROLS: &str = include_str!("../../../catalog/govern/controls.toml");
const EVIDENCE: &str = include_str!("../../../catalog/govern/evidence.toml");

#[derive(Debug, Clone, thiserror::Error)]
#[error("governance catalogue {file}: {message}")]
pub struct CatalogError {
    pub file: &'static str,
    pub message: String,
}

fn err(file: &'static str, message: impl Into<String>) -> CatalogError {
    CatalogError {
        file,
        message: message.into(),
    }
}

/// The guideline's four risk tiers (Table 1), least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Low,
    Limited,
    High,
    Unacceptable,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::Low, Tier::Limited, Tier::High, Tier::Unacceptable];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Low => "low",
            Tier::Limited => "limited",
            Tier::High => "high",
            Tier::Unacceptable => "unacceptable",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The PCPD model framework's levels of human oversight, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Oversight {
    HumanOutOfTheLoop,
    HumanInCommand,
    HumanInTheLoop,
}

impl Oversight {
    pub const ALL: [Oversight; 3] = [
        Oversight::HumanOutOfTheLoop,
        Oversight::HumanInCommand,
        Oversight::HumanInTheLoop,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Oversight::HumanOutOfTheLoop => "human_out_of_the_loop",
            Oversight::HumanInCommand => "human_in_command",
            Oversight::HumanInTheLoop => "human_in_the_loop",
        }
    }

    pub fn parse(s: &str) -> Option<Oversight> {
        Oversight::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl fmt::Display for Oversight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value's labels.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Label {
    pub en: String,
    pub zh: String,
    #[serde(default)]
    pub basis: Option<String>,
    #[serde(default)]
    pub rank: Option<u8>,
}

/// The words a manifest may use, per field, with labels.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vocabulary {
    pub roles: BTreeMap<String, Label>,
    pub sectors: BTreeMap<String, Label>,
    pub modalities: BTreeMap<String, Label>,
    pub affected: BTreeMap<String, Label>,
    pub decisions: BTreeMap<String, Label>,
    pub autonomy: BTreeMap<String, Label>,
    pub data: BTreeMap<String, Label>,
    pub tiers: BTreeMap<String, Label>,
    pub dimensions: BTreeMap<String, Label>,
    pub statuses: BTreeMap<String, Label>,
    pub frameworks: BTreeMap<String, Label>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UseCase {
    pub en: String,
    pub zh: String,
    pub tier: Tier,
    pub basis: String,
    pub why: String,
    pub why_zh: String,
    #[serde(default)]
    pub implies_affected: Vec<String>,
    #[serde(default)]
    pub implies_decisions: Vec<String>,
    #[serde(default)]
    pub implies_data: Vec<String>,
}

/// One condition: every field listed must share a value with the system's facts.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    #[serde(default)]
    pub sectors: Option<Vec<String>>,
    #[serde(default)]
    pub use_cases: Option<Vec<String>>,
    #[serde(default)]
    pub modalities: Option<Vec<String>>,
    #[serde(default)]
    pub affected: Option<Vec<String>>,
    #[serde(default)]
    pub decisions: Option<Vec<String>>,
    #[serde(default)]
    pub data: Option<Vec<String>>,
    #[serde(default)]
    pub autonomy: Option<Vec<String>>,
    /// Manifest switches: `rag_corpus`, `cross_border`, `gateway`.
    #[serde(default)]
    pub declared: Option<Vec<String>>,
    /// The effective tier (controls only).
    #[serde(default)]
    pub tiers: Option<Vec<String>>,
    #[serde(default)]
    pub because: Option<String>,
    #[serde(default)]
    pub because_zh: Option<String>,
}

/// The manifest switches a condition's `declared` may name.
pub const DECLARED: [&str; 3] = ["rag_corpus", "cross_border", "gateway"];

impl Condition {
    /// `(field, values)` for every field the condition constrains, tiers included.
    pub fn fields(&self) -> Vec<(&'static str, &[String])> {
        let mut out = Vec::new();
        let all: [(&'static str, &Option<Vec<String>>); 10] = [
            ("roles", &self.roles),
            ("sectors", &self.sectors),
            ("use_cases", &self.use_cases),
            ("modalities", &self.modalities),
            ("affected", &self.affected),
            ("decisions", &self.decisions),
            ("data", &self.data),
            ("autonomy", &self.autonomy),
            ("declared", &self.declared),
            ("tiers", &self.tiers),
        ];
        for (name, v) in all {
            if let Some(v) = v {
                out.push((name, v.as_slice()));
            }
        }
        out
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    pub fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(t) => vec![t.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// A classification rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    /// `table1`, `pcpd`, `sector` or `guardline`.
    pub framework: String,
    pub per_use_case: bool,
    /// The tier the rule contributes; `None` with `tier_from_use_case` or for oversight-only rules.
    pub tier: Option<Tier>,
    pub tier_from_use_case: bool,
    pub oversight: Option<Oversight>,
    pub clause: String,
    pub en: String,
    pub zh: String,
    /// Alternatives; empty means always.
    pub when: Vec<Condition>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    framework: String,
    #[serde(default)]
    per_use_case: bool,
    #[serde(default)]
    tier: Option<String>,
    #[serde(default)]
    oversight: Option<Oversight>,
    clause: String,
    en: String,
    zh: String,
    #[serde(default)]
    when: Option<OneOrMany<Condition>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OversightByTier {
    pub clause: String,
    pub low: Oversight,
    pub limited: Oversight,
    pub high: Oversight,
}

impl OversightByTier {
    /// The oversight a permitted tier requires; `None` for unacceptable (nothing is permitted).
    pub fn for_tier(&self, tier: Tier) -> Option<Oversight> {
        match tier {
            Tier::Low => Some(self.low),
            Tier::Limited => Some(self.limited),
            Tier::High => Some(self.high),
            Tier::Unacceptable => None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassificationFile {
    oversight_by_tier: OversightByTier,
    rule: Vec<RawRule>,
}

/// How attestations count for a control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttestationMode {
    /// An attestation is one of the pieces of evidence.
    Required,
    /// An attestation may stand in for automatic evidence that is absent (never for evidence
    /// that fails).
    Alternative,
    /// Attestations do not count.
    None,
}

impl AttestationMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AttestationMode::Required => "required",
            AttestationMode::Alternative => "alternative",
            AttestationMode::None => "none",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Control {
    pub id: String,
    pub title: String,
    pub title_zh: String,
    pub basis: String,
    pub dimension: String,
    /// Automatic checks: the control's own, then `eval.<suite>` from the evaluation mapping.
    pub automatic: Vec<String>,
    pub attestation: AttestationMode,
    pub document: bool,
    pub max_age_days: Option<u32>,
    pub applies: Vec<Condition>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawControl {
    id: String,
    title: String,
    title_zh: String,
    basis: String,
    dimension: String,
    #[serde(default)]
    automatic: Vec<String>,
    attestation: AttestationMode,
    #[serde(default)]
    document: bool,
    #[serde(default)]
    max_age_days: Option<u32>,
    applies: OneOrMany<Condition>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlsFile {
    control: Vec<RawControl>,
}

/// An evaluation suite's threshold and the controls it evidences.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalMapping {
    pub suite: String,
    pub metric: String,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default)]
    pub min: Option<f64>,
    pub controls: Vec<String>,
    pub why: String,
}

impl EvalMapping {
    pub fn check_name(&self) -> String {
        format!("eval.{}", self.suite)
    }

    /// Whether `value` passes, and the threshold as text (`≤ 0.05`).
    pub fn passes(&self, value: f64) -> bool {
        self.max.is_none_or(|m| value <= m) && self.min.is_none_or(|m| value >= m)
    }

    pub fn threshold_text(&self) -> String {
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => format!("{lo} ≤ {} ≤ {hi}", self.metric),
            (Some(lo), None) => format!("{} ≥ {lo}", self.metric),
            (None, Some(hi)) => format!("{} ≤ {hi}", self.metric),
            (None, None) => format!("{} reported", self.metric),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayProbes {
    pub personal_kinds: Vec<String>,
    pub secret_kinds: Vec<String>,
    pub injection_kinds: Vec<String>,
    /// The score a probe finding carries: a rule whose `min_score` is above it does not act on
    /// the probe (a policy that blocks only near-certain injection gets no credit for it).
    #[serde(default = "default_probe_score")]
    pub probe_score: f64,
}

fn default_probe_score() -> f64 {
    0.8
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusSettings {
    pub min_score: f32,
    pub kinds: Vec<String>,
    pub exclude_kinds: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckText {
    pub en: String,
    pub zh: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceSettings {
    pub eval_fresh_days: u32,
    pub eval: Vec<EvalMapping>,
    pub gateway: GatewayProbes,
    pub corpus: CorpusSettings,
    /// What each built-in automatic check establishes.
    pub checks: BTreeMap<String, CheckText>,
}

/// The built-in automatic checks (implemented in [`crate::report`]); the catalogue may name only
/// these and `eval.<suite>`.
pub const BUILTIN_CHECKS: [&str; 11] = [
    "gateway.request_privacy",
    "gateway.response_privacy",
    "gateway.no_content_retained",
    "gateway.access_keys",
    "gateway.labelled",
    "gateway.disclosure",
    "gateway.request_injection",
    "ledger.exchanges",
    "ledger.register",
    "manifest.oversight",
    "corpus.personal_data",
];

/// The whole catalogue.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub vocabulary: Vocabulary,
    pub use_cases: BTreeMap<String, UseCase>,
    pub oversight_by_tier: OversightByTier,
    pub rules: Vec<Rule>,
    /// In catalogue order.
    pub controls: Vec<Control>,
    pub evidence: EvidenceSettings,
}

impl Catalog {
    /// The catalogue embedded in the binary, loaded and checked once.
    pub fn embedded() -> Result<&'static Catalog, CatalogError> {
        static CATALOG: OnceLock<Result<Catalog, CatalogError>> = OnceLock::new();
        CATALOG
            .get_or_init(|| {
                Catalog::from_sources(VOCABULARY, USE_CASES, CLASSIFICATION, CONTROLS, EVIDENCE)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Builds a catalogue from the five files' text and checks that every value, check and
    /// control it names exists.
    pub fn from_sources(
        vocabulary: &str,
        use_cases: &str,
        classification: &str,
        controls: &str,
        evidence: &str,
    ) -> Result<Catalog, CatalogError> {
        let vocabulary: Vocabulary =
            toml::from_str(vocabulary).map_err(|e| err("vocabulary.toml", e.to_string()))?;
        let use_cases: BTreeMap<String, UseCase> =
            toml::from_str(use_cases).map_err(|e| err("use_cases.toml", e.to_string()))?;
        let cls: ClassificationFile = toml::from_str(classification)
            .map_err(|e| err("classification.toml", e.to_string()))?;
        let ctl: ControlsFile =
            toml::from_str(controls).map_err(|e| err("controls.toml", e.to_string()))?;
        let evidence: EvidenceSettings =
            toml::from_str(evidence).map_err(|e| err("evidence.toml", e.to_string()))?;

        let mut rules = Vec::new();
        for r in cls.rule {
            let (tier, from_use_case) = match r.tier.as_deref() {
                None => (None, false),
                Some("use_case") => (None, true),
                Some(t) => (
                    Some(Tier::parse(t).ok_or_else(|| {
                        err(
                            "classification.toml",
                            format!("rule {}: unknown tier `{t}`", r.id),
                        )
                    })?),
                    false,
                ),
            };
            if from_use_case && !r.per_use_case {
                return Err(err(
                    "classification.toml",
                    format!(
                        "rule {}: tier = \"use_case\" needs per_use_case = true",
                        r.id
                    ),
                ));
            }
            if tier.is_none() && !from_use_case && r.oversight.is_none() {
                return Err(err(
                    "classification.toml",
                    format!("rule {}: gives neither a tier nor an oversight level", r.id),
                ));
            }
            rules.push(Rule {
                id: r.id,
                framework: r.framework,
                per_use_case: r.per_use_case,
                tier,
                tier_from_use_case: from_use_case,
                oversight: r.oversight,
                clause: r.clause,
                en: r.en,
                zh: r.zh,
                when: r.when.map(|w| w.to_vec()).unwrap_or_default(),
            });
        }

        let mut controls: Vec<Control> = ctl
            .control
            .into_iter()
            .map(|c| Control {
                id: c.id,
                title: c.title,
                title_zh: c.title_zh,
                basis: c.basis,
                dimension: c.dimension,
                automatic: c.automatic,
                attestation: c.attestation,
                document: c.document,
                max_age_days: c.max_age_days,
                applies: c.applies.to_vec(),
            })
            .collect();
        for m in &evidence.eval {
            for id in &m.controls {
                let c = controls.iter_mut().find(|c| &c.id == id).ok_or_else(|| {
                    err(
                        "evidence.toml",
                        format!("suite {} maps to unknown control {id}", m.suite),
                    )
                })?;
                let name = m.check_name();
                if !c.automatic.contains(&name) {
                    c.automatic.push(name);
                }
            }
        }

        let cat = Catalog {
            vocabulary,
            use_cases,
            oversight_by_tier: cls.oversight_by_tier,
            rules,
            controls,
            evidence,
        };
        cat.check()?;
        Ok(cat)
    }

    /// The vocabulary of a manifest field (by condition field name).
    pub fn values(&self, field: &str) -> Option<Vec<&str>> {
        let v = &self.vocabulary;
        let map = match field {
            "roles" => &v.roles,
            "sectors" => &v.sectors,
            "modalities" => &v.modalities,
            "affected" => &v.affected,
            "decisions" => &v.decisions,
            "autonomy" => &v.autonomy,
            "data" => &v.data,
            "tiers" => &v.tiers,
            "use_cases" => return Some(self.use_cases.keys().map(String::as_str).collect()),
            "declared" => return Some(DECLARED.to_vec()),
            _ => return None,
        };
        Some(map.keys().map(String::as_str).collect())
    }

    /// A value's label in English and Chinese (the value itself when it has none).
    pub fn label(&self, field: &str, value: &str) -> (String, String) {
        let v = &self.vocabulary;
        let map = match field {
            "roles" => &v.roles,
            "sectors" => &v.sectors,
            "modalities" => &v.modalities,
            "affected" => &v.affected,
            "decisions" => &v.decisions,
            "autonomy" => &v.autonomy,
            "data" => &v.data,
            "tiers" => &v.tiers,
            "dimensions" => &v.dimensions,
            "statuses" => &v.statuses,
            "frameworks" => &v.frameworks,
            "use_cases" => {
                return match self.use_cases.get(value) {
                    Some(u) => (u.en.clone(), u.zh.clone()),
                    None => (value.to_string(), value.to_string()),
                }
            }
            _ => return (value.to_string(), value.to_string()),
        };
        match map.get(value) {
            Some(l) => (l.en.clone(), l.zh.clone()),
            None => (value.to_string(), value.to_string()),
        }
    }

    pub fn control(&self, id: &str) -> Option<&Control> {
        self.controls.iter().find(|c| c.id == id)
    }

    pub fn eval_mapping(&self, suite: &str) -> Option<&EvalMapping> {
        self.evidence.eval.iter().find(|m| m.suite == suite)
    }

    /// What an automatic check establishes, in both languages.
    pub fn check_text(&self, check: &str) -> (String, String) {
        if let Some(suite) = check.strip_prefix("eval.") {
            if let Some(m) = self.eval_mapping(suite) {
                return (
                    format!(
                        "A `{}` evaluation run within {} days with {}: {}",
                        m.suite,
                        self.evidence.eval_fresh_days,
                        m.threshold_text(),
                        m.why
                    ),
                    format!(
                        "{} 日內的 `{}` 評估結果符合 {}",
                        self.evidence.eval_fresh_days,
                        m.suite,
                        m.threshold_text()
                    ),
                );
            }
        }
        match self.evidence.checks.get(check) {
            Some(t) => (t.en.clone(), t.zh.clone()),
            None => (check.to_string(), check.to_string()),
        }
    }

    fn check(&self) -> Result<(), CatalogError> {
        let v = &self.vocabulary;
        for (name, map) in [
            ("tiers", &v.tiers),
            ("autonomy", &v.autonomy),
            ("statuses", &v.statuses),
        ] {
            let _ = name;
            if map
                .values()
                .any(|l| l.en.trim().is_empty() || l.zh.trim().is_empty())
            {
                return Err(err(
                    "vocabulary.toml",
                    format!("{name}: every value needs en and zh"),
                ));
            }
        }
        for t in Tier::ALL {
            let l = v
                .tiers
                .get(t.as_str())
                .ok_or_else(|| err("vocabulary.toml", format!("tiers: `{t}` is missing")))?;
            if l.rank != Some(t as u8) {
                return Err(err(
                    "vocabulary.toml",
                    format!("tiers.{t}: rank must be {}", t as u8),
                ));
            }
        }
        for o in Oversight::ALL {
            let l = v
                .autonomy
                .get(o.as_str())
                .ok_or_else(|| err("vocabulary.toml", format!("autonomy: `{o}` is missing")))?;
            if l.rank != Some(o as u8) {
                return Err(err(
                    "vocabulary.toml",
                    format!("autonomy.{o}: rank must be {}", o as u8),
                ));
            }
        }
        if v.autonomy.len() != Oversight::ALL.len() || v.tiers.len() != Tier::ALL.len() {
            return Err(err(
                "vocabulary.toml",
                "tiers and autonomy are fixed by the guideline and the PCPD framework",
            ));
        }
        for s in ["met", "partly_met", "missing", "expired", "not_applicable"] {
            if !v.statuses.contains_key(s) {
                return Err(err(
                    "vocabulary.toml",
                    format!("statuses: `{s}` is missing"),
                ));
            }
        }
        for f in ["table1", "pcpd", "sector", "guardline"] {
            if !v.frameworks.contains_key(f) {
                return Err(err(
                    "vocabulary.toml",
                    format!("frameworks: `{f}` is missing"),
                ));
            }
        }
        for (field, map) in [
            ("roles", &v.roles),
            ("sectors", &v.sectors),
            ("modalities", &v.modalities),
            ("affected", &v.affected),
            ("decisions", &v.decisions),
            ("data", &v.data),
            ("dimensions", &v.dimensions),
            ("frameworks", &v.frameworks),
        ] {
            for (k, l) in map {
                if l.en.trim().is_empty() || l.zh.trim().is_empty() {
                    return Err(err(
                        "vocabulary.toml",
                        format!("{field}.{k}: needs en and zh"),
                    ));
                }
                if !is_identifier(k) {
                    return Err(err(
                        "vocabulary.toml",
                        format!("{field}.{k}: values are lower-case identifiers"),
                    ));
                }
            }
        }

        for (id, u) in &self.use_cases {
            if !is_identifier(id) {
                return Err(err(
                    "use_cases.toml",
                    format!("`{id}` is not a lower-case identifier"),
                ));
            }
            for (what, text) in [
                ("en", &u.en),
                ("zh", &u.zh),
                ("basis", &u.basis),
                ("why", &u.why),
                ("why_zh", &u.why_zh),
            ] {
                if text.trim().is_empty() {
                    return Err(err("use_cases.toml", format!("{id}: `{what}` is empty")));
                }
            }
            self.check_values("use_cases.toml", id, "affected", &u.implies_affected)?;
            self.check_values("use_cases.toml", id, "decisions", &u.implies_decisions)?;
            self.check_values("use_cases.toml", id, "data", &u.implies_data)?;
        }

        let mut seen = BTreeSet::new();
        for r in &self.rules {
            if !seen.insert(r.id.as_str()) {
                return Err(err(
                    "classification.toml",
                    format!("rule {} appears twice", r.id),
                ));
            }
            if !v.frameworks.contains_key(&r.framework) {
                return Err(err(
                    "classification.toml",
                    format!("rule {}: unknown framework `{}`", r.id, r.framework),
                ));
            }
            if r.en.trim().is_empty() || r.zh.trim().is_empty() || r.clause.trim().is_empty() {
                return Err(err(
                    "classification.toml",
                    format!("rule {}: needs clause, en and zh", r.id),
                ));
            }
            if r.when.is_empty() && !r.per_use_case {
                return Err(err(
                    "classification.toml",
                    format!("rule {}: needs `when`", r.id),
                ));
            }
            for c in &r.when {
                if c.tiers.is_some() {
                    return Err(err(
                        "classification.toml",
                        format!("rule {}: `tiers` cannot decide a tier", r.id),
                    ));
                }
                self.check_condition("classification.toml", &r.id, c)?;
            }
        }

        let mut seen = BTreeSet::new();
        let mut known_checks: BTreeSet<String> =
            BUILTIN_CHECKS.iter().map(|s| s.to_string()).collect();
        for m in &self.evidence.eval {
            known_checks.insert(m.check_name());
            if m.min.is_none() && m.max.is_none() {
                return Err(err(
                    "evidence.toml",
                    format!("suite {}: needs min or max", m.suite),
                ));
            }
        }
        for c in BUILTIN_CHECKS {
            if !self.evidence.checks.contains_key(c) {
                return Err(err(
                    "evidence.toml",
                    format!("checks.\"{c}\" is not described"),
                ));
            }
        }
        for c in self.evidence.checks.keys() {
            if !BUILTIN_CHECKS.contains(&c.as_str()) {
                return Err(err(
                    "evidence.toml",
                    format!("checks.\"{c}\" is not a built-in check"),
                ));
            }
        }
        for c in &self.controls {
            if !seen.insert(c.id.as_str()) {
                return Err(err(
                    "controls.toml",
                    format!("control {} appears twice", c.id),
                ));
            }
            if !is_control_id(&c.id) {
                return Err(err(
                    "controls.toml",
                    format!("`{}` is not a control ID like PDP-01", c.id),
                ));
            }
            if c.title.trim().is_empty()
                || c.title_zh.trim().is_empty()
                || c.basis.trim().is_empty()
            {
                return Err(err(
                    "controls.toml",
                    format!("{}: needs title, title_zh and basis", c.id),
                ));
            }
            if !v.dimensions.contains_key(&c.dimension) {
                return Err(err(
                    "controls.toml",
                    format!("{}: unknown dimension `{}`", c.id, c.dimension),
                ));
            }
            for a in &c.automatic {
                if !known_checks.contains(a) {
                    return Err(err(
                        "controls.toml",
                        format!("{}: unknown check `{a}`", c.id),
                    ));
                }
            }
            if c.automatic.is_empty() && c.attestation != AttestationMode::Required {
                return Err(err(
                    "controls.toml",
                    format!(
                        "{}: with no automatic check an attestation must be required",
                        c.id
                    ),
                ));
            }
            if c.applies.is_empty() {
                return Err(err(
                    "controls.toml",
                    format!("{}: `applies` is empty", c.id),
                ));
            }
            for cond in &c.applies {
                if cond.because.as_deref().is_none_or(|b| b.trim().is_empty())
                    || cond
                        .because_zh
                        .as_deref()
                        .is_none_or(|b| b.trim().is_empty())
                {
                    return Err(err(
                        "controls.toml",
                        format!(
                            "{}: every `applies` alternative says because and because_zh",
                            c.id
                        ),
                    ));
                }
                if cond.tiers.is_none() {
                    return Err(err(
                        "controls.toml",
                        format!("{}: every `applies` alternative names its tiers", c.id),
                    ));
                }
                self.check_condition("controls.toml", &c.id, cond)?;
            }
        }
        Ok(())
    }

    fn check_condition(
        &self,
        file: &'static str,
        id: &str,
        c: &Condition,
    ) -> Result<(), CatalogError> {
        let fields = c.fields();
        if fields.is_empty() {
            return Err(err(file, format!("{id}: an empty condition")));
        }
        for (field, values) in fields {
            if values.is_empty() {
                return Err(err(file, format!("{id}: `{field}` lists nothing")));
            }
            self.check_values(file, id, field, values)?;
        }
        Ok(())
    }

    fn check_values(
        &self,
        file: &'static str,
        id: &str,
        field: &str,
        values: &[String],
    ) -> Result<(), CatalogError> {
        let known = self
            .values(field)
            .ok_or_else(|| err(file, format!("{id}: unknown field `{field}`")))?;
        for value in values {
            if !known.contains(&value.as_str()) {
                return Err(err(
                    file,
                    format!("{id}: {field} has unknown value `{value}`"),
                ));
            }
        }
        Ok(())
    }
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && s.as_bytes()[0].is_ascii_lowercase()
}

/// Control IDs as the catalogue writes them: `PDP-01`, `SCT-FIN`, `TIER-H1`.
pub fn is_control_id(id: &str) -> bool {
    id.split_once('-').is_some_and(|(a, b)| {
        (2..=5).contains(&a.len())
            && a.bytes().all(|c| c.is_ascii_uppercase())
            && (1..=5).contains(&b.len())
            && b.bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalogue_loads_and_is_consistent() {
        let c = Catalog::embedded().unwrap();
        // The minimum use-case list, each with its basis and both languages.
        for u in [
            "spam_filter",
            "creative_generation",
            "customer_service_chat",
            "code_assistant",
            "education_tutoring",
            "education_grading",
            "recruitment_screening",
            "credit_scoring",
            "medical_diagnosis",
            "autonomous_driving",
            "critical_infrastructure_control",
            "biometric_identification",
            "deepfake_generation",
            "subliminal_manipulation",
            "social_scoring",
        ] {
            let uc = c.use_cases.get(u).unwrap_or_else(|| panic!("{u} missing"));
            assert!(!uc.basis.is_empty() && !uc.zh.is_empty() && !uc.why_zh.is_empty());
        }
        // The guideline's own examples keep Table 1's tiers.
        assert_eq!(c.use_cases["spam_filter"].tier, Tier::Low);
        assert_eq!(c.use_cases["creative_generation"].tier, Tier::Low);
        assert_eq!(c.use_cases["recruitment_screening"].tier, Tier::Limited);
        assert_eq!(c.use_cases["education_tutoring"].tier, Tier::Limited);
        assert_eq!(c.use_cases["medical_diagnosis"].tier, Tier::High);
        assert_eq!(c.use_cases["autonomous_driving"].tier, Tier::High);
        assert_eq!(
            c.use_cases["subliminal_manipulation"].tier,
            Tier::Unacceptable
        );
        // Every control of GUIDELINE.md §9 that a manifest can trigger is in the catalogue.
        for id in [
            "PDP-01", "PDP-02", "PDP-03", "PDP-04", "PDP-05", "PDP-07", "IP-01", "IP-02", "CRM-01",
            "CRM-02", "CRM-03", "CRM-04", "REL-01", "REL-02", "REL-04", "REL-05", "REL-06",
            "REL-07", "REL-09", "SEC-02", "SEC-04", "SEC-05", "TIER-U", "TIER-H1", "TIER-H2",
            "TIER-H3", "TIER-L1", "TIER-L2", "TIER-L3", "TIER-LO", "MF-01", "MF-03", "SP-04",
            "USR-01", "USR-02", "SCT-FIN", "SCT-HLT", "SCT-LEG", "SCT-EDU", "SCT-JRN",
        ] {
            assert!(c.control(id).is_some(), "{id} missing");
        }
        // The evaluation mapping the issue asks for.
        let auto = |id: &str| c.control(id).unwrap().automatic.clone();
        assert!(auto("CRM-02").contains(&"eval.injection".to_string()));
        assert!(auto("CRM-01").contains(&"eval.harmful".to_string()));
        assert!(auto("PDP-02").contains(&"eval.leakage".to_string()));
        assert!(auto("REL-07").contains(&"eval.bias".to_string()));
        assert!(auto("REL-04").contains(&"eval.hallucination".to_string()));
    }

    fn sources() -> [String; 5] {
        [VOCABULARY, USE_CASES, CLASSIFICATION, CONTROLS, EVIDENCE].map(str::to_string)
    }

    fn load(s: &[String; 5]) -> Result<Catalog, CatalogError> {
        Catalog::from_sources(&s[0], &s[1], &s[2], &s[3], &s[4])
    }

    #[test]
    fn inconsistent_catalogues_are_refused() {
        let mut s = sources();
        s[3] = s[3].replace("data = [\"hk_id\"]", "data = [\"hkid\"]");
        let e = load(&s).unwrap_err();
        assert!(e.message.contains("hkid"), "{e}");

        let mut s = sources();
        s[3] = s[3].replace("\"gateway.access_keys\"", "\"gateway.acces_keys\"");
        assert!(load(&s).unwrap_err().message.contains("unknown check"));

        let mut s = sources();
        s[4] = s[4].replace("controls = [\"PDP-02\"]", "controls = [\"PDP-99\"]");
        assert!(load(&s).unwrap_err().message.contains("PDP-99"));

        let mut s = sources();
        s[2] = s[2].replace("framework = \"pcpd\"", "framework = \"pcdp\"");
        assert!(load(&s).unwrap_err().message.contains("pcdp"));

        let mut s = sources();
        s[1] = s[1].replace("tier = \"low\"", "tier = \"lowish\"");
        assert!(load(&s).is_err());
    }
}
