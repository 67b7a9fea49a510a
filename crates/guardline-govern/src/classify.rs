//! Classification: a manifest's facts → tiers with reasons, required oversight, obligations.
//!
//! Everything decided here comes from `catalog/govern/` rules; this module only evaluates them.

use crate::catalog::{AttestationMode, Catalog, Condition, Control, Oversight, Tier};
use crate::manifest::Manifest;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// A value the manifest did not declare but a use case carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Implied {
    pub field: &'static str,
    pub value: String,
    pub use_case: String,
}

/// The manifest's values per condition field, declared and implied.
#[derive(Debug, Clone)]
pub struct Facts {
    pub values: BTreeMap<&'static str, BTreeSet<String>>,
    pub implied: Vec<Implied>,
}

impl Facts {
    pub fn of(m: &Manifest, catalog: &Catalog) -> Facts {
        let mut values: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
        let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
        values.insert("roles", set(&m.roles));
        values.insert("sectors", [m.sector.clone()].into());
        values.insert("use_cases", set(&m.use_cases));
        values.insert("modalities", set(&m.modalities));
        values.insert("affected", set(&m.affected));
        values.insert("decisions", set(&m.decisions));
        values.insert("data", set(&m.data));
        values.insert("autonomy", [m.autonomy.as_str().to_string()].into());
        values.insert(
            "declared",
            m.declared().into_iter().map(str::to_string).collect(),
        );
        let mut implied = Vec::new();
        for uc in &m.use_cases {
            let Some(u) = catalog.use_cases.get(uc) else {
                continue;
            };
            for (field, list) in [
                ("affected", &u.implies_affected),
                ("decisions", &u.implies_decisions),
                ("data", &u.implies_data),
            ] {
                for v in list {
                    let entry = values.entry(field).or_default();
                    if entry.insert(v.clone()) {
                        implied.push(Implied {
                            field,
                            value: v.clone(),
                            use_case: uc.clone(),
                        });
                    }
                }
            }
        }
        Facts { values, implied }
    }

    /// The values a condition matched, per field, or `None` if it does not hold. `tier` is the
    /// effective tier for conditions that name tiers.
    pub fn matches(
        &self,
        c: &Condition,
        tier: Option<Tier>,
    ) -> Option<BTreeMap<&'static str, Vec<String>>> {
        let mut matched = BTreeMap::new();
        for (field, wanted) in c.fields() {
            let hits: Vec<String> = if field == "tiers" {
                let t = tier?;
                wanted
                    .iter()
                    .filter(|w| *w == t.as_str())
                    .cloned()
                    .collect()
            } else {
                let have = self.values.get(field)?;
                wanted
                    .iter()
                    .filter(|w| have.contains(*w))
                    .cloned()
                    .collect()
            };
            if hits.is_empty() {
                return None;
            }
            matched.insert(field, hits);
        }
        Some(matched)
    }
}

/// Why a tier or an oversight level was given.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub rule: String,
    pub framework: String,
    pub clause: String,
    pub tier: Option<Tier>,
    pub oversight: Option<Oversight>,
    pub en: String,
    pub zh: String,
}

/// Declared oversight weaker than required.
#[derive(Debug, Clone, PartialEq)]
pub struct Gap {
    pub declared: Oversight,
    pub required: Oversight,
    /// The rules (and the PCPD tier mapping) that demand `required`.
    pub demanded_by: Vec<String>,
}

/// How one control is evidenced, for people and machines.
#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    Automatic {
        check: String,
    },
    Attestation {
        mode: AttestationMode,
        document: bool,
        max_age_days: Option<u32>,
    },
}

/// A control that applies, with why.
#[derive(Debug, Clone)]
pub struct Obligation {
    pub control: Control,
    /// `(en, zh)` for every alternative of `applies` that holds.
    pub because: Vec<(String, String)>,
}

impl Obligation {
    pub fn methods(&self) -> Vec<Method> {
        let mut m: Vec<Method> = self
            .control
            .automatic
            .iter()
            .map(|c| Method::Automatic { check: c.clone() })
            .collect();
        if self.control.attestation != AttestationMode::None {
            m.push(Method::Attestation {
                mode: self.control.attestation,
                document: self.control.document,
                max_age_days: self.control.max_age_days,
            });
        }
        m
    }
}

/// The outcome of classifying one manifest.
#[derive(Debug, Clone)]
pub struct Assessment {
    pub manifest: Manifest,
    pub facts: Facts,
    /// The effective tier: the strictest of every framework (§2.3.1).
    pub tier: Tier,
    /// Table 1 alone.
    pub guideline_tier: Tier,
    /// Whether the PCPD model framework's high-risk test holds.
    pub pcpd_high_risk: bool,
    pub prohibited: bool,
    /// Required oversight; `None` for a prohibited system.
    pub oversight: Option<Oversight>,
    pub oversight_clause: String,
    pub gap: Option<Gap>,
    pub reasons: Vec<Reason>,
    pub obligations: Vec<Obligation>,
    /// Controls that do not apply.
    pub not_applicable: Vec<Control>,
}

fn fill(
    template: &str,
    catalog: &Catalog,
    matched: &BTreeMap<&'static str, Vec<String>>,
    zh: bool,
) -> String {
    let mut out = template.to_string();
    for (field, vals) in matched {
        let labels: Vec<String> = vals
            .iter()
            .map(|v| {
                let (en, z) = catalog.label(field, v);
                if zh {
                    z
                } else {
                    en
                }
            })
            .collect();
        let sep = if zh { "、" } else { ", " };
        out = out.replace(&format!("{{{field}}}"), &labels.join(sep));
    }
    out
}

/// Classifies a manifest with the catalogue's rules and lists its obligations.
pub fn classify(manifest: &Manifest, catalog: &Catalog) -> Assessment {
    let facts = Facts::of(manifest, catalog);
    let mut reasons = Vec::new();

    for rule in &catalog.rules {
        if rule.per_use_case {
            for uc in &manifest.use_cases {
                let Some(u) = catalog.use_cases.get(uc) else {
                    continue;
                };
                // A per-use-case rule's condition is checked with only this use case.
                let mut one = facts.clone();
                one.values.insert("use_cases", [uc.clone()].into());
                let matched = if rule.when.is_empty() {
                    Some(BTreeMap::new())
                } else {
                    rule.when.iter().find_map(|c| one.matches(c, None))
                };
                if matched.is_none() {
                    continue;
                }
                let tier = if rule.tier_from_use_case {
                    Some(u.tier)
                } else {
                    rule.tier
                };
                let (tier_en, tier_zh) = tier
                    .map(|t| catalog.label("tiers", t.as_str()))
                    .unwrap_or_default();
                let sub = |s: &str, zh: bool| {
                    s.replace("{use_case}", if zh { &u.zh } else { &u.en })
                        .replace("{tier}", if zh { &tier_zh } else { &tier_en })
                        .replace("{why}", if zh { &u.why_zh } else { &u.why })
                };
                reasons.push(Reason {
                    rule: format!("{}:{uc}", rule.id),
                    framework: rule.framework.clone(),
                    clause: u.basis.clone(),
                    tier,
                    oversight: rule.oversight,
                    en: sub(&rule.en, false),
                    zh: sub(&rule.zh, true),
                });
            }
            continue;
        }
        let Some(matched) = rule.when.iter().find_map(|c| facts.matches(c, None)) else {
            continue;
        };
        reasons.push(Reason {
            rule: rule.id.clone(),
            framework: rule.framework.clone(),
            clause: rule.clause.clone(),
            tier: rule.tier,
            oversight: rule.oversight,
            en: fill(&rule.en, catalog, &matched, false),
            zh: fill(&rule.zh, catalog, &matched, true),
        });
    }

    let max_tier = |pred: &dyn Fn(&Reason) -> bool| {
        reasons
            .iter()
            .filter(|r| pred(r))
            .filter_map(|r| r.tier)
            .max()
    };
    let guideline_tier = max_tier(&|r| r.framework == "table1").unwrap_or(Tier::Low);
    let tier = max_tier(&|_| true).unwrap_or(Tier::Low).max(guideline_tier);
    let pcpd_high_risk = reasons
        .iter()
        .any(|r| r.framework == "pcpd" && r.tier == Some(Tier::High));
    let prohibited = tier == Tier::Unacceptable;

    let by_tier = catalog.oversight_by_tier.for_tier(tier);
    let oversight = by_tier.map(|base| {
        reasons
            .iter()
            .filter_map(|r| r.oversight)
            .fold(base, Oversight::max)
    });
    let gap = oversight.and_then(|required| {
        (manifest.autonomy < required).then(|| {
            let mut demanded_by: Vec<String> = reasons
                .iter()
                .filter(|r| r.oversight == Some(required))
                .map(|r| r.rule.clone())
                .collect();
            if by_tier == Some(required) {
                demanded_by.insert(0, format!("PCPD-OVERSIGHT:{tier}"));
            }
            Gap {
                declared: manifest.autonomy,
                required,
                demanded_by,
            }
        })
    });

    let mut obligations = Vec::new();
    let mut not_applicable = Vec::new();
    for control in &catalog.controls {
        let mut because = Vec::new();
        for cond in &control.applies {
            // A prohibited system gets only the controls that name the unacceptable tier.
            if prohibited
                && !cond
                    .tiers
                    .as_ref()
                    .is_some_and(|t| t.iter().any(|t| t == "unacceptable"))
            {
                continue;
            }
            if let Some(matched) = facts.matches(cond, Some(tier)) {
                let en = fill(
                    cond.because.as_deref().unwrap_or(""),
                    catalog,
                    &matched,
                    false,
                );
                let zh = fill(
                    cond.because_zh.as_deref().unwrap_or(""),
                    catalog,
                    &matched,
                    true,
                );
                if !because.contains(&(en.clone(), zh.clone())) {
                    because.push((en, zh));
                }
            }
        }
        if because.is_empty() {
            not_applicable.push(control.clone());
        } else {
            obligations.push(Obligation {
                control: control.clone(),
                because,
            });
        }
    }

    Assessment {
        manifest: manifest.clone(),
        facts,
        tier,
        guideline_tier,
        pcpd_high_risk,
        prohibited,
        oversight,
        oversight_clause: catalog.oversight_by_tier.clause.clone(),
        gap,
        reasons,
        obligations,
        not_applicable,
    }
}

impl Assessment {
    pub fn obligation(&self, id: &str) -> Option<&Obligation> {
        self.obligations.iter().find(|o| o.control.id == id)
    }

    /// Control IDs that apply, in catalogue order.
    pub fn control_ids(&self) -> Vec<&str> {
        self.obligations
            .iter()
            .map(|o| o.control.id.as_str())
            .collect()
    }

    /// The `assessment` event's body: the register entry (MF-01) without personal data.
    pub fn ledger_body(&self) -> Value {
        let m = &self.manifest;
        json!({
            "system": m.name,
            "manifest_sha256": m.sha256,
            "tier": self.tier.as_str(),
            "guideline_tier": self.guideline_tier.as_str(),
            "pcpd_high_risk": self.pcpd_high_risk,
            "prohibited": self.prohibited,
            "oversight": self.oversight.map(Oversight::as_str),
            "declared_oversight": m.autonomy.as_str(),
            "oversight_gap": self.gap.is_some(),
            "roles": m.roles,
            "sector": m.sector,
            "use_cases": m.use_cases,
            "obligations": self.control_ids(),
        })
    }

    /// The machine-readable assessment (`guardline assess --format json`).
    pub fn to_json(&self, catalog: &Catalog) -> Value {
        let m = &self.manifest;
        json!({
            "system": {
                "name": m.name,
                "description": m.description,
                "owner": m.owner,
                "version": m.version,
                "roles": m.roles,
                "sector": m.sector,
                "use_cases": m.use_cases,
                "modalities": m.modalities,
                "affected": m.affected,
                "decisions": m.decisions,
                "autonomy": m.autonomy.as_str(),
                "data": m.data,
            },
            "manifest_sha256": m.sha256,
            "tier": self.tier.as_str(),
            "guideline_tier": self.guideline_tier.as_str(),
            "pcpd_high_risk": self.pcpd_high_risk,
            "prohibited": self.prohibited,
            "oversight": self.oversight.map(Oversight::as_str),
            "declared_oversight": m.autonomy.as_str(),
            "oversight_gap": self.gap.as_ref().map(|g| json!({
                "declared": g.declared.as_str(),
                "required": g.required.as_str(),
                "demanded_by": g.demanded_by,
                "clause": self.oversight_clause,
            })),
            "implied": self.facts.implied.iter().map(|i| json!({
                "field": i.field, "value": i.value, "use_case": i.use_case,
            })).collect::<Vec<_>>(),
            "reasons": self.reasons.iter().map(|r| {
                let mut o = json!({
                    "rule": r.rule,
                    "framework": r.framework,
                    "clause": r.clause,
                    "text": r.en,
                    "text_zh": r.zh,
                });
                if let Some(t) = r.tier { o["tier"] = json!(t.as_str()); }
                if let Some(v) = r.oversight { o["oversight"] = json!(v.as_str()); }
                o
            }).collect::<Vec<_>>(),
            "obligations": self.obligations.iter().map(|o| obligation_json(o, catalog)).collect::<Vec<_>>(),
            "not_applicable": self.not_applicable.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        })
    }
}

pub fn method_json(m: &Method, catalog: &Catalog) -> Value {
    match m {
        Method::Automatic { check } => {
            let (en, zh) = catalog.check_text(check);
            let source = check.split('.').next().unwrap_or("");
            json!({"method": source, "check": check, "description": en, "description_zh": zh})
        }
        Method::Attestation {
            mode,
            document,
            max_age_days,
        } => json!({
            "method": "attestation",
            "mode": mode.as_str(),
            "document_required": document,
            "max_age_days": max_age_days,
        }),
    }
}

fn obligation_json(o: &Obligation, catalog: &Catalog) -> Value {
    let c = &o.control;
    json!({
        "control": c.id,
        "title": c.title,
        "title_zh": c.title_zh,
        "basis": c.basis,
        "dimension": c.dimension,
        "because": o.because.iter().map(|(en, zh)| json!({"text": en, "text_zh": zh})).collect::<Vec<_>>(),
        "evidence": o.methods().iter().map(|m| method_json(m, catalog)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests;
