//! Guardline's policy: what to do with what the detection engine found, per stage (`request`,
//! `response`) and per tenant. A policy is TOML (`catalog/policies/hk-baseline.toml` is the
//! default, embedded); [`Policy::decide`] turns a stage's findings into an action for each finding
//! and one decision for the exchange, with the rule that gave each.
//!
//! What it is not: it detects nothing and transforms nothing. The gateway runs the engine, asks
//! the policy, then pseudonymises, redacts or blocks.

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use sha2::Digest;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// The default policy's source.
pub const HK_BASELINE: &str = include_str!("../../../catalog/policies/hk-baseline.toml");

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy {origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// Where a finding was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Request,
    Response,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Request => "request",
            Stage::Response => "response",
        }
    }
}

/// What to do with a finding, least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Allow,
    /// Let it through and record it for review.
    Flag,
    /// Replace with a keyed token (restored on the way back).
    #[serde(alias = "pseudonymize")]
    Pseudonymise,
    /// Replace with a `<KIND>` label (not restored).
    Redact,
    /// Refuse the exchange.
    Block,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Flag => "flag",
            Action::Pseudonymise => "pseudonymise",
            Action::Redact => "redact",
            Action::Block => "block",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The exchange-level outcome, as `x-guardline-decision` reports it; ordered least to most
/// severe, so two stages combine with `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Decision {
    /// Nothing changed (flags may have been recorded).
    Allow,
    /// Content was pseudonymised or redacted.
    Transform,
    Block,
}

impl From<Action> for Decision {
    /// The outcome when `action` is the most severe action taken.
    fn from(action: Action) -> Decision {
        match action {
            Action::Block => Decision::Block,
            Action::Redact | Action::Pseudonymise => Decision::Transform,
            Action::Allow | Action::Flag => Decision::Allow,
        }
    }
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Transform => "transform",
            Decision::Block => "block",
        }
    }
}

/// What the policy needs to know about one finding.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub kind: &'a str,
    /// `privacy`, `ip`, `crime`, `reliability` or `security`.
    pub dimension: &'a str,
    pub score: f32,
    /// Response stage only: whether the same value appeared in the request.
    pub in_request: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: Option<String>,
    #[serde(default)]
    kinds: Vec<String>,
    #[serde(default)]
    dimensions: Vec<String>,
    min_score: Option<f32>,
    #[serde(default)]
    new_in_response: bool,
    action: Action,
    #[serde(default)]
    why: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StageSpec {
    #[serde(default = "allow")]
    default: Action,
    #[serde(default)]
    rules: Vec<RuleSpec>,
}

fn allow() -> Action {
    Action::Allow
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LabelSpec {
    #[serde(default)]
    disclosure: bool,
    disclosure_text: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RecordsSpec {
    #[serde(default)]
    retain_content: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySpec {
    name: String,
    #[serde(default)]
    description: String,
    request: Option<StageSpec>,
    response: Option<StageSpec>,
    #[serde(default)]
    label: LabelSpec,
    #[serde(default)]
    records: RecordsSpec,
}

const DIMENSIONS: [&str; 5] = ["privacy", "ip", "crime", "reliability", "security"];
const DEFAULT_DISCLOSURE: &str = "\n\n— AI-generated content. 此內容由人工智能生成。";

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    kinds: Option<GlobSet>,
    kind_globs: Vec<String>,
    dimensions: Vec<String>,
    min_score: f32,
    new_in_response: bool,
    pub action: Action,
    pub why: String,
}

impl Rule {
    fn matches(&self, s: &Subject<'_>) -> bool {
        let kind_ok = self.kinds.as_ref().is_some_and(|g| g.is_match(s.kind));
        let dim_ok = self.dimensions.iter().any(|d| d == s.dimension);
        (kind_ok || dim_ok) && s.score >= self.min_score && !(self.new_in_response && s.in_request)
    }

    /// A one-line description for `--help`-style listings.
    pub fn describe(&self) -> String {
        let mut what: Vec<String> = self.kind_globs.clone();
        what.extend(self.dimensions.iter().map(|d| format!("dimension {d}")));
        let mut s = format!("{}: {} → {}", self.id, what.join(" | "), self.action);
        if self.min_score > 0.0 {
            s += &format!(" (score ≥ {})", self.min_score);
        }
        if self.new_in_response {
            s += " (only values not in the request)";
        }
        s
    }
}

#[derive(Debug, Clone)]
pub struct StagePolicy {
    pub default: Action,
    pub rules: Vec<Rule>,
}

/// The outcome for one stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The action for each finding, in the order given.
    pub actions: Vec<Action>,
    /// The rule that decided each finding (`None`: the stage default).
    pub rules: Vec<Option<String>>,
    pub decision: Decision,
    /// The most severe action taken.
    pub most_severe: Action,
}

impl Verdict {
    /// The rule ids that blocked, for the error message.
    pub fn blocking_rules(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .actions
            .iter()
            .zip(&self.rules)
            .filter(|(a, _)| **a == Action::Block)
            .map(|(_, r)| r.as_deref().unwrap_or("default"))
            .collect();
        v.dedup();
        v
    }
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    pub description: String,
    pub request: StagePolicy,
    pub response: StagePolicy,
    /// Append a visible bilingual disclosure to assistant messages.
    pub disclosure: Option<String>,
    /// Keep raw content in the ledger.
    pub retain_content: bool,
}

impl Policy {
    /// The embedded default, `hk-baseline`.
    pub fn hk_baseline() -> Policy {
        Policy::from_toml(HK_BASELINE, "hk-baseline (embedded)")
            .expect("the embedded policy is valid (tested)")
    }

    /// Parses and checks a policy; `origin` names it in errors (a file path).
    pub fn from_toml(text: &str, origin: &str) -> Result<Policy, PolicyError> {
        let err = |message: String| PolicyError::Invalid {
            origin: origin.to_string(),
            message,
        };
        let spec: PolicySpec = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        Policy::from_spec(spec).map_err(err)
    }

    fn from_spec(spec: PolicySpec) -> Result<Policy, String> {
        let stage = |s: Option<StageSpec>, which: Stage| -> Result<StagePolicy, String> {
            let s = s.unwrap_or(StageSpec {
                default: Action::Allow,
                rules: Vec::new(),
            });
            let mut rules = Vec::new();
            for (i, r) in s.rules.into_iter().enumerate() {
                let id =
                    r.id.unwrap_or_else(|| format!("{}-{}", which.as_str(), i + 1));
                if r.kinds.is_empty() && r.dimensions.is_empty() {
                    return Err(format!(
                        "rule {id} matches nothing: give kinds or dimensions"
                    ));
                }
                for d in &r.dimensions {
                    if !DIMENSIONS.contains(&d.as_str()) {
                        return Err(format!(
                            "rule {id}: unknown dimension `{d}` (one of {})",
                            DIMENSIONS.join(", ")
                        ));
                    }
                }
                let min_score = r.min_score.unwrap_or(0.0);
                if !(0.0..=1.0).contains(&min_score) {
                    return Err(format!("rule {id}: min_score must be between 0 and 1"));
                }
                if r.new_in_response && which == Stage::Request {
                    return Err(format!(
                        "rule {id}: new_in_response only makes sense in [response] rules"
                    ));
                }
                let kinds = if r.kinds.is_empty() {
                    None
                } else {
                    let mut b = GlobSetBuilder::new();
                    for g in &r.kinds {
                        b.add(Glob::new(g).map_err(|e| format!("rule {id}: bad kind glob: {e}"))?);
                    }
                    Some(b.build().map_err(|e| format!("rule {id}: {e}"))?)
                };
                rules.push(Rule {
                    id,
                    kinds,
                    kind_globs: r.kinds,
                    dimensions: r.dimensions,
                    min_score,
                    new_in_response: r.new_in_response,
                    action: r.action,
                    why: r.why,
                });
            }
            let mut seen = std::collections::HashSet::new();
            for r in &rules {
                if !seen.insert(r.id.clone()) {
                    return Err(format!("two rules are called {}", r.id));
                }
            }
            Ok(StagePolicy {
                default: s.default,
                rules,
            })
        };
        if spec.name.trim().is_empty() {
            return Err("name must not be empty".into());
        }
        Ok(Policy {
            name: spec.name,
            description: spec.description,
            request: stage(spec.request, Stage::Request)?,
            response: stage(spec.response, Stage::Response)?,
            disclosure: spec.label.disclosure.then(|| {
                spec.label
                    .disclosure_text
                    .unwrap_or_else(|| DEFAULT_DISCLOSURE.to_string())
            }),
            retain_content: spec.records.retain_content,
        })
    }

    /// What this policy enforces, as data: the shape the gateway records in the ledger at start-up
    /// (`config_change` / `gateway_start`) and serves at `/admin/policy`, and that
    /// `guardline report` reads as evidence. `sha256` is over the JSON of the rest, so two policies
    /// with the same rules have the same hash whatever their TOML layout or comments.
    pub fn summary(&self) -> serde_json::Value {
        use serde_json::json;
        let stage = |sp: &StagePolicy| {
            let rules: Vec<_> = sp
                .rules
                .iter()
                .map(|r| {
                    let mut o = json!({
                        "id": r.id,
                        "kinds": r.kind_globs,
                        "dimensions": r.dimensions,
                        "action": r.action.as_str(),
                    });
                    if r.min_score > 0.0 {
                        // As text: the ledger keeps no floating-point numbers (canonical JSON).
                        o["min_score"] = json!(r.min_score.to_string());
                    }
                    if r.new_in_response {
                        o["new_in_response"] = json!(true);
                    }
                    o
                })
                .collect();
            json!({"default": sp.default.as_str(), "rules": rules})
        };
        let mut v = json!({
            "name": self.name,
            "request": stage(&self.request),
            "response": stage(&self.response),
            "disclosure": self.disclosure.is_some(),
            "retain_content": self.retain_content,
        });
        // Built in a fixed order (and serialised without whitespace), so the hash is stable.
        let digest = sha2::Sha256::digest(v.to_string().as_bytes());
        v["sha256"] = json!(hex::encode(digest));
        v
    }

    pub fn stage(&self, stage: Stage) -> &StagePolicy {
        match stage {
            Stage::Request => &self.request,
            Stage::Response => &self.response,
        }
    }

    /// Decides each finding (first matching rule wins) and the exchange's outcome at `stage`.
    pub fn decide(&self, stage: Stage, findings: &[Subject<'_>]) -> Verdict {
        let sp = self.stage(stage);
        let mut actions = Vec::with_capacity(findings.len());
        let mut rules = Vec::with_capacity(findings.len());
        for f in findings {
            match sp.rules.iter().find(|r| r.matches(f)) {
                Some(r) => {
                    actions.push(r.action);
                    rules.push(Some(r.id.clone()));
                }
                None => {
                    actions.push(sp.default);
                    rules.push(None);
                }
            }
        }
        let most_severe = actions.iter().copied().max().unwrap_or(Action::Allow);
        let decision = Decision::from(most_severe);
        Verdict {
            actions,
            rules,
            decision,
            most_severe,
        }
    }
}

/// The default policy and per-tenant overrides.
#[derive(Debug, Clone)]
pub struct PolicySet {
    pub default: Arc<Policy>,
    pub tenants: BTreeMap<String, Arc<Policy>>,
}

impl Default for PolicySet {
    fn default() -> Self {
        PolicySet {
            default: Arc::new(Policy::hk_baseline()),
            tenants: BTreeMap::new(),
        }
    }
}

impl PolicySet {
    pub fn for_tenant(&self, tenant: &str) -> &Arc<Policy> {
        self.tenants.get(tenant).unwrap_or(&self.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s<'a>(kind: &'a str, dimension: &'a str, score: f32) -> Subject<'a> {
        Subject {
            kind,
            dimension,
            score,
            in_request: false,
        }
    }

    #[test]
    fn summary_lists_rules_and_hashes_the_content() {
        let p = Policy::hk_baseline();
        let s = p.summary();
        assert_eq!(s["name"], "hk-baseline");
        assert_eq!(s["request"]["default"], "allow");
        let rules = s["request"]["rules"].as_array().unwrap();
        let pseudo = rules
            .iter()
            .find(|r| r["id"] == "pseudonymise-personal-data")
            .unwrap();
        assert_eq!(pseudo["action"], "pseudonymise");
        assert_eq!(pseudo["dimensions"][0], "privacy");
        let inj = rules.iter().find(|r| r["id"] == "block-injection").unwrap();
        assert_eq!(inj["min_score"], "0.8");
        assert_eq!(s["response"]["rules"][1]["new_in_response"], true);
        assert_eq!(s["disclosure"], false);
        assert_eq!(s["retain_content"], false);
        // Same rules, different layout and comments: same hash. A changed action: another hash.
        let relaid = HK_BASELINE.replace("# hk-baseline", "#   hk-baseline, re-laid out");
        let same = Policy::from_toml(&relaid, "t").unwrap().summary();
        assert_eq!(same["sha256"], s["sha256"]);
        let changed = HK_BASELINE.replace("disclosure = false", "disclosure = true");
        let other = Policy::from_toml(&changed, "t").unwrap().summary();
        assert_ne!(other["sha256"], s["sha256"]);
        assert_eq!(s["sha256"].as_str().unwrap().len(), 64);
    }

    #[test]
    fn hk_baseline_does_what_the_guideline_asks() {
        let p = Policy::hk_baseline();
        assert_eq!(p.name, "hk-baseline");
        assert!(!p.retain_content);
        // Personal data in a request is pseudonymised.
        let v = p.decide(
            Stage::Request,
            &[s("hk_id", "privacy", 1.0), s("hk_phone", "privacy", 0.9)],
        );
        assert_eq!(v.actions, vec![Action::Pseudonymise, Action::Pseudonymise]);
        assert_eq!(v.decision, Decision::Transform);
        // Secrets block; so does confident injection, while weak cues are flagged.
        let v = p.decide(
            Stage::Request,
            &[
                s("hk_id", "privacy", 1.0),
                s("secret.aws_access_key", "security", 1.0),
            ],
        );
        assert_eq!(v.decision, Decision::Block);
        assert_eq!(v.blocking_rules(), vec!["block-secrets"]);
        let v = p.decide(
            Stage::Request,
            &[s("injection.instruction_override", "security", 0.95)],
        );
        assert_eq!(v.decision, Decision::Block);
        let v = p.decide(
            Stage::Request,
            &[s("injection.instruction_override", "security", 0.5)],
        );
        assert_eq!((v.decision, v.actions[0]), (Decision::Allow, Action::Flag));
        // Responses: new personal data is flagged, restored personal data is not.
        let mut known = s("hk_id", "privacy", 1.0);
        known.in_request = true;
        let v = p.decide(Stage::Response, &[known, s("email", "privacy", 1.0)]);
        assert_eq!(v.actions, vec![Action::Allow, Action::Flag]);
        assert_eq!(v.decision, Decision::Allow);
        let v = p.decide(
            Stage::Response,
            &[s("secret.github_token", "security", 1.0)],
        );
        assert_eq!(v.decision, Decision::Transform);
        // Nothing found: allow.
        assert_eq!(p.decide(Stage::Request, &[]).decision, Decision::Allow);
    }

    #[test]
    fn bad_policies_are_refused_with_a_reason() {
        let cases = [
            ("name = ''", "name"),
            ("name = 'x'\n[[request.rules]]\naction = 'block'", "matches nothing"),
            ("name = 'x'\n[[request.rules]]\nkinds=['a']\naction = 'obliterate'", "unknown variant"),
            ("name = 'x'\n[[request.rules]]\ndimensions=['karma']\naction = 'block'", "unknown dimension"),
            ("name = 'x'\n[[request.rules]]\nkinds=['a']\nmin_score = 2\naction = 'block'", "min_score"),
            ("name = 'x'\n[[request.rules]]\nkinds=['a']\nnew_in_response = true\naction = 'flag'", "new_in_response"),
            ("name = 'x'\n[[request.rules]]\nkinds=['a[']\naction = 'flag'", "glob"),
            ("name = 'x'\ncolour = 'red'", "unknown field"),
            ("name = 'x'\n[[request.rules]]\nid='a'\nkinds=['a']\naction='flag'\n[[request.rules]]\nid='a'\nkinds=['b']\naction='flag'", "two rules"),
        ];
        for (text, want) in cases {
            let e = Policy::from_toml(text, "test.toml")
                .unwrap_err()
                .to_string();
            assert!(e.contains(want) && e.contains("test.toml"), "{text:?}: {e}");
        }
    }

    #[test]
    fn first_matching_rule_wins_and_default_applies() {
        let p = Policy::from_toml(
            "name = 'strict'\n[request]\ndefault = 'redact'\n\
             [[request.rules]]\nkinds = ['email']\naction = 'allow'\n\
             [[request.rules]]\ndimensions = ['privacy']\naction = 'block'\n\
             [label]\ndisclosure = true\n",
            "t",
        )
        .unwrap();
        let v = p.decide(
            Stage::Request,
            &[s("email", "privacy", 1.0), s("ip_address", "security", 1.0)],
        );
        assert_eq!(v.actions, vec![Action::Allow, Action::Redact]);
        assert_eq!(v.rules, vec![Some("request-1".to_string()), None]);
        assert!(p.disclosure.as_deref().unwrap().contains("人工智能"));
        let set = PolicySet {
            default: Arc::new(Policy::hk_baseline()),
            tenants: [("bank".to_string(), Arc::new(p))].into(),
        };
        assert_eq!(set.for_tenant("bank").name, "strict");
        assert_eq!(set.for_tenant("other").name, "hk-baseline");
    }
}
