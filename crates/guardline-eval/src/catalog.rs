//! The built-in suites, embedded from `catalog/eval/` so the binary needs no files.
//!
//! Each suite is a JSONL file of probes (`catalog/eval/README.md` describes the fields);
//! `fixtures.toml` holds the system prompts and documents that probes name as `@fixture`, with
//! the canaries and identifiers planted in them; `suites.toml` gives each suite its version,
//! governance dimension and controls.

use crate::probe::{render_choice, with_document, Expect, Message, Probe};
use crate::{Error, Result, Suite};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const SUITES_TOML: &str = include_str!("../../../catalog/eval/suites.toml");
pub const FIXTURES_TOML: &str = include_str!("../../../catalog/eval/fixtures.toml");
pub const REFUSAL_TOML: &str = include_str!("../../../catalog/eval/refusal.toml");
pub const REFUSAL_LABELLED: &str = include_str!("../../../catalog/eval/refusal_labelled.jsonl");

fn suite_file(suite: Suite) -> &'static str {
    match suite {
        Suite::Harmful => include_str!("../../../catalog/eval/harmful.jsonl"),
        Suite::Injection => include_str!("../../../catalog/eval/injection.jsonl"),
        Suite::Leakage => include_str!("../../../catalog/eval/leakage.jsonl"),
        Suite::Overrefusal => include_str!("../../../catalog/eval/overrefusal.jsonl"),
        Suite::Bias => include_str!("../../../catalog/eval/bias.jsonl"),
        Suite::Hallucination => include_str!("../../../catalog/eval/hallucination.jsonl"),
    }
}

/// What `suites.toml` says about one suite.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteInfo {
    pub version: String,
    pub file: String,
    pub title: String,
    pub dimension: String,
    pub controls: Vec<String>,
}

/// Reads `suites.toml`. Embedded and tested, so it cannot fail at run time.
pub fn suite_info(suite: Suite) -> SuiteInfo {
    let all: BTreeMap<String, SuiteInfo> =
        toml::from_str(SUITES_TOML).expect("catalog/eval/suites.toml is valid (tested)");
    all.get(suite.name())
        .cloned()
        .expect("every suite is in suites.toml (tested)")
}

/// The version a run reports for a built-in suite: the declared version and the first 8 hex
/// digits of the file's SHA-256, so any edit of the content is visible (`1.0+3f2a9c1b`).
pub fn version(suite: Suite) -> String {
    let digest = Sha256::digest(suite_file(suite).as_bytes());
    format!(
        "{}+{}",
        suite_info(suite).version,
        &hex::encode(digest)[..8]
    )
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    pub text: String,
    #[serde(default)]
    pub canaries: Vec<String>,
    #[serde(default)]
    pub identifiers: Vec<String>,
}

pub fn fixtures() -> Result<BTreeMap<String, Fixture>> {
    toml::from_str(FIXTURES_TOML)
        .map_err(|e| Error::data("catalog/eval/fixtures.toml", e.to_string()))
}

/// One line of a suite file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    id: String,
    lang: String,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    technique: Option<String>,
    #[serde(default)]
    vector: Option<String>,
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    context: Option<String>,
    prompt: String,
    #[serde(default)]
    canaries: Vec<String>,
    #[serde(default)]
    kind: Option<String>,
    /// `neg`/`nonneg`, documentation only: which answer is the stereotyped one is `biased`.
    #[serde(default)]
    #[allow(dead_code)]
    polarity: Option<String>,
    #[serde(default)]
    options: Vec<String>,
    #[serde(default)]
    answer: Option<usize>,
    #[serde(default)]
    biased: Option<usize>,
    #[serde(default)]
    unknown: Option<usize>,
    #[serde(default)]
    pair: Option<String>,
}

/// The probes of a built-in suite.
pub fn probes(suite: Suite) -> Result<Vec<Probe>> {
    let info = suite_info(suite);
    parse_suite(
        suite,
        &format!("catalog/eval/{}", info.file),
        suite_file(suite),
    )
}

/// Parses a suite file in the catalog's format (also usable for a user's own suite file).
pub fn parse_suite(suite: Suite, path: &str, text: &str) -> Result<Vec<Probe>> {
    let fixtures = fixtures()?;
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, raw) in text.lines().enumerate() {
        let at = format!("{path}:{}", i + 1);
        if raw.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(raw).map_err(|e| Error::data(&at, e.to_string()))?;
        if !seen.insert(line.id.clone()) {
            return Err(Error::data(&at, format!("duplicate id `{}`", line.id)));
        }
        out.push(build(suite, &at, line, &fixtures)?);
    }
    Ok(out)
}

fn resolve<'a>(
    at: &str,
    v: &'a Option<String>,
    fixtures: &'a BTreeMap<String, Fixture>,
) -> Result<Option<(&'a str, Option<&'a Fixture>)>> {
    match v.as_deref() {
        None => Ok(None),
        Some(s) => match s.strip_prefix('@') {
            Some(name) => {
                let f = fixtures.get(name).ok_or_else(|| {
                    Error::data(at, format!("no fixture `{name}` in fixtures.toml"))
                })?;
                Ok(Some((f.text.as_str(), Some(f))))
            }
            None => Ok(Some((s, None))),
        },
    }
}

fn build(
    suite: Suite,
    at: &str,
    line: Line,
    fixtures: &BTreeMap<String, Fixture>,
) -> Result<Probe> {
    let system = resolve(at, &line.system, fixtures)?;
    let context = resolve(at, &line.context, fixtures)?;
    let mut messages = Vec::new();
    if let Some((text, _)) = system {
        messages.push(Message::system(text));
    }
    let check_choice = |options: &[String], idx: Option<usize>, what: &str| -> Result<usize> {
        let i = idx.ok_or_else(|| Error::data(at, format!("`{what}` is required")))?;
        if i >= options.len() {
            return Err(Error::data(
                at,
                format!("`{what}` {i} is not an option index (0..{})", options.len()),
            ));
        }
        Ok(i)
    };
    let needs_options = |n: usize| -> Result<()> {
        if line.options.len() < n {
            return Err(Error::data(at, format!("needs at least {n} `options`")));
        }
        Ok(())
    };
    let (user, expect) = match suite {
        Suite::Harmful => (line.prompt.clone(), Expect::Refuse),
        Suite::Overrefusal => (line.prompt.clone(), Expect::Comply),
        Suite::Injection => {
            if line.canaries.is_empty() {
                return Err(Error::data(at, "an injection probe needs `canaries`"));
            }
            let user = match context {
                Some((doc, _)) => with_document(&line.prompt, doc),
                None => line.prompt.clone(),
            };
            (
                user,
                Expect::Canary {
                    canaries: line.canaries.clone(),
                },
            )
        }
        Suite::Leakage => {
            let mut canaries = line.canaries.clone();
            let mut identifiers = Vec::new();
            for f in [system, context]
                .into_iter()
                .flatten()
                .filter_map(|(_, f)| f)
            {
                canaries.extend(f.canaries.iter().cloned());
                identifiers.extend(f.identifiers.iter().cloned());
            }
            if canaries.is_empty() && identifiers.is_empty() {
                return Err(Error::data(
                    at,
                    "a leakage probe needs canaries or identifiers (its own or its fixtures')",
                ));
            }
            let user = match context {
                Some((doc, _)) => with_document(&line.prompt, doc),
                None => line.prompt.clone(),
            };
            (
                user,
                Expect::Leak {
                    canaries,
                    identifiers,
                },
            )
        }
        Suite::Bias => match line.kind.as_deref() {
            Some("ambiguous") => {
                needs_options(3)?;
                let unknown = check_choice(&line.options, line.unknown, "unknown")?;
                let biased = check_choice(&line.options, line.biased, "biased")?;
                if biased == unknown {
                    return Err(Error::data(at, "`biased` and `unknown` must differ"));
                }
                (
                    render_choice(&line.lang, &line.prompt, &line.options),
                    Expect::Bias {
                        options: line.options.clone(),
                        biased: Some(biased),
                        unknown,
                    },
                )
            }
            Some("counterfactual") => {
                needs_options(2)?;
                let pair = line
                    .pair
                    .clone()
                    .ok_or_else(|| Error::data(at, "a counterfactual probe needs `pair`"))?;
                (
                    render_choice(&line.lang, &line.prompt, &line.options),
                    Expect::Counterfactual {
                        options: line.options.clone(),
                        pair,
                    },
                )
            }
            other => {
                return Err(Error::data(
                    at,
                    format!("bias `kind` must be ambiguous or counterfactual, not {other:?}"),
                ))
            }
        },
        Suite::Hallucination => match line.kind.as_deref() {
            Some("known") => {
                needs_options(2)?;
                let answer = check_choice(&line.options, line.answer, "answer")?;
                (
                    render_choice(&line.lang, &line.prompt, &line.options),
                    Expect::Choice {
                        options: line.options.clone(),
                        answer,
                        pair: line.pair.clone(),
                    },
                )
            }
            Some("unanswerable") => (line.prompt.clone(), Expect::Abstain),
            other => {
                return Err(Error::data(
                    at,
                    format!("hallucination `kind` must be known or unanswerable, not {other:?}"),
                ))
            }
        },
    };
    messages.push(Message::user(user));
    let technique = match (&line.technique, &line.vector) {
        (Some(t), Some(v)) => format!("{t}/{v}"),
        (Some(t), None) => t.clone(),
        (None, Some(v)) => v.clone(),
        (None, None) => String::new(),
    };
    Ok(Probe {
        id: line.id,
        suite,
        lang: line.lang,
        category: line.category.unwrap_or_default(),
        technique,
        source: "catalog".into(),
        messages,
        expect,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::normalize_alnum;
    use guardline_detect::Engine;

    #[test]
    fn every_suite_parses_and_has_a_version() {
        for s in Suite::ALL {
            let p = probes(s).unwrap();
            assert!(p.len() >= 30, "{s}: {} probes", p.len());
            let v = version(s);
            assert!(v.starts_with("1.0+") && v.len() == 12, "{v}");
            let info = suite_info(s);
            assert!(!info.controls.is_empty());
        }
    }

    #[test]
    fn suites_are_bilingual() {
        for s in Suite::ALL {
            let p = probes(s).unwrap();
            let langs: std::collections::BTreeSet<_> = p.iter().map(|p| p.lang.as_str()).collect();
            assert!(langs.contains("en"), "{s}");
            assert!(
                langs.contains("zh-Hant") || langs.contains("yue"),
                "{s}: {langs:?}"
            );
        }
        // harmful and injection cover all three languages
        for s in [
            Suite::Harmful,
            Suite::Injection,
            Suite::Leakage,
            Suite::Overrefusal,
        ] {
            let langs: std::collections::BTreeSet<_> =
                probes(s).unwrap().into_iter().map(|p| p.lang).collect();
            assert_eq!(langs.len(), 3, "{s}: {langs:?}");
        }
    }

    #[test]
    fn injection_canaries_are_not_in_the_request() {
        // Quoting the attack must never count as following it.
        for p in probes(Suite::Injection).unwrap() {
            let req = normalize_alnum(&p.request_text());
            let Expect::Canary { canaries } = &p.expect else {
                panic!()
            };
            for c in canaries {
                assert!(!req.contains(&normalize_alnum(c)), "{}: {c}", p.id);
            }
        }
    }

    #[test]
    fn injection_covers_the_techniques_and_both_vectors() {
        let ps = probes(Suite::Injection).unwrap();
        for t in [
            "override",
            "roleplay",
            "obfuscation",
            "payload_splitting",
            "language_switch",
        ] {
            for lang in ["en", "zh-Hant", "yue"] {
                assert!(
                    ps.iter()
                        .any(|p| p.technique.starts_with(t) && p.lang == lang),
                    "{t} {lang}"
                );
            }
        }
        assert!(ps.iter().any(|p| p.technique.ends_with("/indirect")));
        assert!(ps.iter().any(|p| p.technique.ends_with("/direct")));
    }

    #[test]
    fn leakage_secrets_are_in_the_request_and_identifiers_are_detected() {
        let engine = Engine::with_defaults();
        for p in probes(Suite::Leakage).unwrap() {
            let req = p.request_text();
            let Expect::Leak {
                canaries,
                identifiers,
            } = &p.expect
            else {
                panic!()
            };
            assert!(!identifiers.is_empty(), "{}", p.id);
            for s in canaries.iter().chain(identifiers) {
                assert!(req.contains(s.as_str()), "{}: {s}", p.id);
            }
            for id in identifiers {
                let f = engine.scan(id.as_bytes());
                assert!(
                    f.iter()
                        .any(|f| f.kind.family() == "hk_id" || f.kind == "hk_phone")
                        || engine
                            .scan(format!("Tel: {id}").as_bytes())
                            .iter()
                            .any(|f| f.kind == "hk_phone"),
                    "{}: the engine does not see {id}",
                    p.id
                );
            }
        }
    }

    #[test]
    fn bias_covers_the_twelve_protected_attributes_in_both_languages() {
        let ps = probes(Suite::Bias).unwrap();
        let attrs = [
            "belief",
            "political_opinion",
            "nationality",
            "region",
            "gender",
            "age",
            "ethnicity",
            "skin_colour",
            "industry",
            "health_status",
            "income_level",
            "lifestyle",
        ];
        for a in attrs {
            for zh in [false, true] {
                let n = ps
                    .iter()
                    .filter(|p| p.category == a && (p.lang != "en") == zh)
                    .count();
                assert!(n >= 4, "{a} zh={zh}: {n}");
            }
        }
        let cats: std::collections::BTreeSet<_> = ps.iter().map(|p| p.category.as_str()).collect();
        assert_eq!(cats.len(), 12, "{cats:?}");
        // counterfactual pairs have exactly two members with identical options
        let mut pairs: BTreeMap<&str, Vec<&Probe>> = BTreeMap::new();
        for p in &ps {
            if let Expect::Counterfactual { pair, .. } = &p.expect {
                pairs.entry(pair).or_default().push(p);
            }
        }
        assert_eq!(pairs.len(), 24);
        for (k, v) in pairs {
            assert_eq!(v.len(), 2, "{k}");
            assert_eq!(v[0].expect.options(), v[1].expect.options(), "{k}");
        }
    }

    #[test]
    fn bad_lines_name_the_file_and_line() {
        let e = parse_suite(
            Suite::Harmful,
            "x.jsonl",
            "{\"id\":\"a\",\"lang\":\"en\",\"prompt\":\"p\"}\n{oops\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("x.jsonl:2:"), "{e}");
        let e = parse_suite(
            Suite::Hallucination,
            "h.jsonl",
            "{\"id\":\"a\",\"lang\":\"en\",\"kind\":\"known\",\"prompt\":\"p\",\"options\":[\"x\",\"y\"],\"answer\":5}",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("h.jsonl:1") && e.contains("answer"), "{e}");
        let e = parse_suite(
            Suite::Leakage,
            "l.jsonl",
            "{\"id\":\"a\",\"lang\":\"en\",\"system\":\"@nope\",\"prompt\":\"p\"}",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("no fixture `nope`"), "{e}");
    }
}
