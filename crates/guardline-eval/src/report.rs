//! A run's results: built from its probes and attempts, rendered as text, JSON or HTML, and
//! reduced to the ledger body `guardline report` reads.

use crate::judge::{Agreement, JudgeVerdict};
use crate::metrics::{self, Metric, LEDGER_METRICS};
use crate::probe::{Expect, Probe};
use crate::score::{Scorer, Verdict};
use crate::store::{Attempt, Manifest};
use crate::{catalog, Suite};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// `host[:port]` only.
    pub host: String,
    pub model: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub n: u64,
    pub metrics: BTreeMap<String, Metric>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuiteResult {
    pub name: Suite,
    pub version: String,
    pub title: String,
    pub dimension: String,
    pub controls: Vec<String>,
    pub sources: Vec<String>,
    /// Probes with an answer (or a block).
    pub n: u64,
    /// Probes with no answer after the retries.
    pub errors: u64,
    /// Answered probes only a judge can score, run without `--judge`.
    #[serde(default)]
    pub skipped: u64,
    pub metrics: BTreeMap<String, Metric>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_language: BTreeMap<String, Group>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_technique: BTreeMap<String, Group>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_category: BTreeMap<String, Group>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<Agreement>,
}

impl SuiteResult {
    /// The metric a reader looks at first.
    pub fn headline(&self) -> Option<(&str, &Metric)> {
        let name = match self.name {
            Suite::Harmful | Suite::Injection | Suite::Leakage => metrics::ATTACK_SUCCESS_RATE,
            Suite::Overrefusal => metrics::REFUSAL_RATE,
            Suite::Bias => metrics::BIAS_SCORE,
            Suite::Hallucination => metrics::ACCURACY,
        };
        self.metrics
            .get_key_value(name)
            .map(|(k, v)| (k.as_str(), v))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Requests {
    /// HTTP requests sent to the target over the whole run (retries included, all sessions).
    pub sent: u64,
    /// Probes answered from the cache.
    pub cached: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub run_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    pub target: TargetInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<TargetInfo>,
    pub started: String,
    pub finished: String,
    pub suites: Vec<SuiteResult>,
    pub requests: Requests,
    /// Where the attempts are (`attempts.jsonl`).
    pub run_dir: String,
    pub guardline_version: String,
}

fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            })
        })
        .unwrap_or_default()
}

/// Scores the latest attempt of each probe (again, with the current scorer) and computes the
/// metrics, with the judge's verdicts where there are any.
pub fn build(
    manifest: &Manifest,
    probes: &[Probe],
    attempts: &[Attempt],
    judged: &[JudgeVerdict],
    scorer: &Scorer,
    finished: String,
    run_dir: String,
) -> RunResult {
    let mut latest: HashMap<&str, &Attempt> = HashMap::new();
    let mut requests = Requests::default();
    for a in attempts {
        requests.sent += u64::from(a.tries);
        latest.insert(a.probe.as_str(), a);
    }
    let judged: HashMap<(&str, &str), Option<bool>> = judged
        .iter()
        .map(|j| ((j.probe.as_str(), j.task.as_str()), j.said))
        .collect();
    let mut suites = Vec::new();
    for plan in &manifest.suites {
        let info = catalog::suite_info(plan.suite);
        let mut scored: Vec<(&Probe, Verdict)> = Vec::new();
        let mut errors = 0;
        let mut skipped = 0;
        let mut agreement_pairs = Vec::new();
        for p in probes.iter().filter(|p| p.suite == plan.suite) {
            let Some(a) = latest.get(p.id.as_str()).filter(|a| a.is_ok()) else {
                errors += 1;
                continue;
            };
            if a.cached {
                requests.cached += 1;
            }
            let outcome = a.outcome.as_ref().expect("is_ok");
            let mut v = scorer.score(p, outcome);
            if let Some(Some(said)) = judged.get(&(p.id.as_str(), "question")) {
                v.attack_success = Some(*said);
            }
            if v.needs_judge && v.attack_success.is_none() {
                skipped += 1;
            }
            if let Some(Some(said)) = judged.get(&(p.id.as_str(), "refusal")) {
                agreement_pairs.push((*said, v.refused));
            }
            scored.push((p, v));
        }
        let items: Vec<metrics::Item<'_>> = scored.iter().map(|(p, v)| (*p, v)).collect();
        let group = |key: &dyn Fn(&Probe) -> &str| -> BTreeMap<String, Group> {
            let mut groups: BTreeMap<String, Vec<metrics::Item<'_>>> = BTreeMap::new();
            for it in &items {
                let k = key(it.0);
                if !k.is_empty() {
                    groups.entry(k.to_string()).or_default().push(*it);
                }
            }
            if groups.len() < 2 {
                return BTreeMap::new();
            }
            groups
                .into_iter()
                .map(|(k, v)| {
                    (
                        k,
                        Group {
                            n: v.len() as u64,
                            metrics: metrics::compute(plan.suite, &v),
                        },
                    )
                })
                .collect()
        };
        let by_language = group(&|p: &Probe| p.lang.as_str());
        let by_technique = group(&|p: &Probe| p.technique.split('/').next().unwrap_or(""));
        let by_category = group(&|p: &Probe| match &p.expect {
            Expect::Counterfactual { .. } => "counterfactual",
            _ => p.category.as_str(),
        });
        suites.push(SuiteResult {
            name: plan.suite,
            version: plan.version.clone(),
            title: info.title,
            dimension: info.dimension,
            controls: info.controls,
            sources: plan.sources.clone(),
            n: items.len() as u64,
            errors,
            skipped,
            metrics: metrics::compute(plan.suite, &items),
            by_language,
            by_technique,
            by_category,
            judge: crate::judge::agreement(&agreement_pairs),
        });
    }
    RunResult {
        run_id: manifest.run_id.clone(),
        system: manifest.system.clone(),
        target: TargetInfo {
            host: host_of(&manifest.target.url),
            model: manifest.target.model.clone(),
        },
        judge: manifest.judge.as_ref().map(|j| TargetInfo {
            host: host_of(&j.url),
            model: j.model.clone(),
        }),
        started: manifest.started.clone(),
        finished,
        suites,
        requests,
        run_dir,
        guardline_version: manifest.guardline_version.clone(),
    }
}

/// A number for the ledger: floats are not allowed in ledger bodies (their text is not the same
/// in every language, and a third-party verifier must reproduce the body bytes), so metric
/// values are decimal strings with at most 6 decimals: `"0.05"`, `"1"`, `"-0.25"`.
pub fn ledger_number(x: f64) -> String {
    if !x.is_finite() {
        return "0".into();
    }
    let s = format!("{:.6}", x);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// The `eval_run` ledger body: no prompts, answers or personal data; the contract with
/// `guardline report` (kind `eval_run`).
pub fn ledger_body(r: &RunResult) -> Value {
    let suites: Vec<Value> = r
        .suites
        .iter()
        .map(|s| {
            let mut m = Map::new();
            for name in LEDGER_METRICS {
                if let Some(x) = s.metrics.get(name) {
                    m.insert(
                        name.into(),
                        json!({
                            "value": ledger_number(x.value),
                            "low": ledger_number(x.low),
                            "high": ledger_number(x.high),
                            "count": x.count,
                            "n": x.n,
                        }),
                    );
                }
            }
            json!({
                "name": s.name.name(),
                "version": s.version,
                "n": s.n,
                "errors": s.errors,
                "metrics": m,
            })
        })
        .collect();
    let mut body = json!({
        "run_id": r.run_id,
        "target": {"host": r.target.host, "model": r.target.model},
        "started": r.started,
        "finished": r.finished,
        "suites": suites,
    });
    if let Some(sys) = &r.system {
        body["system"] = json!(sys);
    }
    body
}

fn fmt3(x: f64) -> String {
    format!("{x:.3}")
}

fn count_text(name: &str, m: &Metric) -> String {
    if name == metrics::BIAS_SCORE {
        format!("{} biased/{}", m.count, m.n)
    } else {
        format!("{}/{}", m.count, m.n)
    }
}

/// The report for people.
pub fn render_text(r: &RunResult) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "guardline eval: run {}", r.run_id);
    let _ = write!(s, "target {} model {}", r.target.host, r.target.model);
    if let Some(sys) = &r.system {
        let _ = write!(s, " (system {sys})");
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{} to {}; {} requests sent, {} probes answered from the cache",
        r.started, r.finished, r.requests.sent, r.requests.cached
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<14} {:>5} {:>4}  {:<25} {:>7}  {:<17} {:>13}",
        "suite", "n", "err", "metric", "value", "95% interval", "count"
    );
    for suite in &r.suites {
        let mut first = true;
        let order = [
            metrics::ATTACK_SUCCESS_RATE,
            metrics::REFUSAL_RATE,
            metrics::ACCURACY,
            metrics::BIAS_SCORE,
            metrics::ABSTENTION_RATE,
            metrics::COUNTERFACTUAL_FLIP_RATE,
            metrics::CONSISTENCY_RATE,
        ];
        for name in order {
            let Some(m) = suite.metrics.get(name) else {
                continue;
            };
            let (label, n, err) = if first {
                (
                    suite.name.name().to_string(),
                    suite.n.to_string(),
                    suite.errors.to_string(),
                )
            } else {
                (String::new(), String::new(), String::new())
            };
            first = false;
            let _ = writeln!(
                s,
                "{label:<14} {n:>5} {err:>4}  {name:<25} {:>7}  [{}, {}]   {:>13}",
                fmt3(m.value),
                fmt3(m.low),
                fmt3(m.high),
                count_text(name, m)
            );
        }
        if first {
            let _ = writeln!(
                s,
                "{:<14} {:>5} {:>4}  (no answers)",
                suite.name.name(),
                suite.n,
                suite.errors
            );
        }
        if let Some((name, _)) = suite.headline() {
            for (title, groups) in [
                ("language", &suite.by_language),
                ("technique", &suite.by_technique),
                ("category", &suite.by_category),
            ] {
                let parts: Vec<String> = groups
                    .iter()
                    .filter_map(|(k, g)| {
                        g.metrics
                            .get(name)
                            .map(|m| format!("{k} {} ({})", fmt3(m.value), count_text(name, m)))
                    })
                    .collect();
                if !parts.is_empty() {
                    let _ = writeln!(s, "{:<22}{name} by {title}: {}", "", parts.join(" · "));
                }
            }
        }
        if suite.skipped > 0 {
            let _ = writeln!(
                s,
                "{:<22}{} answers need --judge to be scored for attack success",
                "", suite.skipped
            );
        }
        if let Some(j) = &suite.judge {
            let _ = writeln!(
                s,
                "{:<22}judge agrees with the refusal detector on {}/{} ({}), kappa {}",
                "",
                j.agree,
                j.n,
                fmt3(j.agreement),
                j.kappa.map(fmt3).unwrap_or_else(|| "n/a".into())
            );
        }
        let _ = writeln!(
            s,
            "{:<22}{} · {} · v{}",
            "",
            suite.dimension,
            suite.controls.join(" "),
            suite.version
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "attempts: {}/attempts.jsonl", r.run_dir);
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A self-contained HTML page (no scripts, no external resources).
pub fn render_html(r: &RunResult) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Guardline eval {}</title>\
         <style>body{{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse;margin:.5em 0 1.5em}}\
         td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:left}}td.n{{text-align:right;font-variant-numeric:tabular-nums}}\
         .meta{{color:#555}}</style></head><body>\n",
        esc(&r.run_id)
    );
    let _ = writeln!(s, "<h1>Guardline evaluation {}</h1>", esc(&r.run_id));
    let _ = writeln!(
        s,
        "<p class=\"meta\">Target <b>{}</b>, model <b>{}</b>{}. {} to {}. {} requests sent; {} probes answered from the cache.</p>",
        esc(&r.target.host),
        esc(&r.target.model),
        r.system
            .as_ref()
            .map(|x| format!(", system <b>{}</b>", esc(x)))
            .unwrap_or_default(),
        esc(&r.started),
        esc(&r.finished),
        r.requests.sent,
        r.requests.cached
    );
    for suite in &r.suites {
        let _ = writeln!(
            s,
            "<h2>{}</h2>\n<p>{} — dimension <i>{}</i>, controls {}, version {}; {} answered, {} errors{}.</p>",
            esc(suite.name.name()),
            esc(&suite.title),
            esc(&suite.dimension),
            esc(&suite.controls.join(", ")),
            esc(&suite.version),
            suite.n,
            suite.errors,
            if suite.skipped > 0 {
                format!(", {} need a judge", suite.skipped)
            } else {
                String::new()
            }
        );
        let _ = writeln!(
            s,
            "<table><tr><th>metric</th><th>value</th><th>95% interval</th><th>count</th><th>n</th></tr>"
        );
        for (name, m) in &suite.metrics {
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td class=n>{}</td><td class=n>{} – {}</td><td class=n>{}</td><td class=n>{}</td></tr>",
                esc(name),
                fmt3(m.value),
                fmt3(m.low),
                fmt3(m.high),
                m.count,
                m.n
            );
        }
        let _ = writeln!(s, "</table>");
        for (title, groups) in [
            ("language", &suite.by_language),
            ("technique", &suite.by_technique),
            ("category", &suite.by_category),
        ] {
            if groups.is_empty() {
                continue;
            }
            let names: Vec<&String> = suite.metrics.keys().collect();
            let _ = write!(s, "<table><tr><th>{}</th><th>n</th>", esc(title));
            for n in &names {
                let _ = write!(s, "<th>{}</th>", esc(n));
            }
            let _ = writeln!(s, "</tr>");
            for (k, g) in groups {
                let _ = write!(s, "<tr><td>{}</td><td class=n>{}</td>", esc(k), g.n);
                for n in &names {
                    let cell = g
                        .metrics
                        .get(*n)
                        .map(|m| format!("{} ({}/{})", fmt3(m.value), m.count, m.n))
                        .unwrap_or_default();
                    let _ = write!(s, "<td class=n>{cell}</td>");
                }
                let _ = writeln!(s, "</tr>");
            }
            let _ = writeln!(s, "</table>");
        }
        if let Some(j) = &suite.judge {
            let _ = writeln!(
                s,
                "<p>Judge agreement with the refusal detector: {}/{} ({}), Cohen's kappa {}.</p>",
                j.agree,
                j.n,
                fmt3(j.agreement),
                j.kappa.map(fmt3).unwrap_or_else(|| "n/a".into())
            );
        }
    }
    let _ = writeln!(
        s,
        "<p class=\"meta\">Attempts: {}/attempts.jsonl. Guardline {}.</p></body></html>",
        esc(&r.run_dir),
        esc(&r.guardline_version)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_numbers() {
        assert_eq!(ledger_number(0.05), "0.05");
        assert_eq!(ledger_number(1.0), "1");
        assert_eq!(ledger_number(0.0), "0");
        assert_eq!(ledger_number(-0.25), "-0.25");
        assert_eq!(ledger_number(1.0 / 3.0), "0.333333");
        assert_eq!(ledger_number(-1e-9), "0");
        assert_eq!(ledger_number(f64::NAN), "0");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(esc("<b>&\""), "&lt;b&gt;&amp;&quot;");
    }
}
