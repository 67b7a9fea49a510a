//! Scripted targets with known behaviour give exactly the expected metrics, overall and per
//! language (English, Traditional Chinese, Cantonese).

mod common;

use common::*;
use guardline_eval::metrics::{wilson, Metric};
use guardline_eval::report::{RunResult, SuiteResult};
use guardline_eval::{catalog, Expect, Suite};
use std::sync::Arc;

fn suite(r: &RunResult, s: Suite) -> &SuiteResult {
    r.suites.iter().find(|x| x.name == s).unwrap()
}

fn metric<'a>(r: &'a RunResult, s: Suite, m: &str) -> &'a Metric {
    suite(r, s)
        .metrics
        .get(m)
        .unwrap_or_else(|| panic!("{s} has no {m}: {:?}", suite(r, s).metrics.keys()))
}

fn by_lang<'a>(r: &'a RunResult, s: Suite, lang: &str, m: &str) -> &'a Metric {
    suite(r, s).by_language[lang].metrics.get(m).unwrap()
}

/// The metric is exactly count/n with its Wilson interval.
fn exactly(m: &Metric, count: u64, n: u64) {
    assert_eq!(m, &wilson(count, n), "want {count}/{n}");
}

fn n_of(s: Suite, f: impl Fn(&guardline_eval::Probe) -> bool) -> u64 {
    catalog::probes(s).unwrap().iter().filter(|p| f(p)).count() as u64
}

fn langs(s: Suite) -> Vec<String> {
    let mut v: Vec<String> = catalog::probes(s)
        .unwrap()
        .into_iter()
        .map(|p| p.lang)
        .collect();
    v.sort();
    v.dedup();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_always_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start(always_refuses()).await;
    let r = run(&mock, &Suite::ALL, dir.path()).await;
    for s in [Suite::Harmful, Suite::Injection, Suite::Leakage] {
        let n = n_of(s, |_| true);
        exactly(metric(&r, s, "attack_success_rate"), 0, n);
        exactly(metric(&r, s, "refusal_rate"), n, n);
        for l in langs(s) {
            let ln = n_of(s, |p| p.lang == l);
            exactly(by_lang(&r, s, &l, "attack_success_rate"), 0, ln);
            exactly(by_lang(&r, s, &l, "refusal_rate"), ln, ln);
        }
    }
    let n = n_of(Suite::Overrefusal, |_| true);
    exactly(metric(&r, Suite::Overrefusal, "refusal_rate"), n, n);
    // A refusal to pick a group is the "unknown" answer: accurate, and no bias.
    let amb = n_of(Suite::Bias, |p| matches!(p.expect, Expect::Bias { .. }));
    exactly(metric(&r, Suite::Bias, "accuracy"), amb, amb);
    assert_eq!(metric(&r, Suite::Bias, "bias_score").value, 0.0);
    let known = n_of(Suite::Hallucination, |p| {
        matches!(p.expect, Expect::Choice { .. })
    });
    let unans = n_of(Suite::Hallucination, |p| {
        matches!(p.expect, Expect::Abstain)
    });
    exactly(metric(&r, Suite::Hallucination, "accuracy"), 0, known);
    exactly(
        metric(&r, Suite::Hallucination, "abstention_rate"),
        unans,
        unans,
    );
    assert!(r.suites.iter().all(|s| s.errors == 0));
    assert_eq!(r.requests.sent as usize, mock.requests().len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_always_complies() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start(always_complies()).await;
    let r = run(
        &mock,
        &[
            Suite::Harmful,
            Suite::Injection,
            Suite::Leakage,
            Suite::Overrefusal,
        ],
        dir.path(),
    )
    .await;
    for s in [Suite::Harmful, Suite::Injection, Suite::Leakage] {
        let n = n_of(s, |_| true);
        exactly(metric(&r, s, "attack_success_rate"), n, n);
        if s != Suite::Leakage {
            // (leaked instructions quote "never disclose…", which reads as a refusal)
            exactly(metric(&r, s, "refusal_rate"), 0, n);
        }
        for l in langs(s) {
            let ln = n_of(s, |p| p.lang == l);
            exactly(by_lang(&r, s, &l, "attack_success_rate"), ln, ln);
        }
    }
    exactly(metric(&r, Suite::Overrefusal, "refusal_rate"), 0, 45);
    // every technique of the injection suite succeeded
    for (t, g) in &suite(&r, Suite::Injection).by_technique {
        let m = &g.metrics["attack_success_rate"];
        assert_eq!(m.count, m.n, "{t}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_leaks_its_system_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start(leaks_system_prompt()).await;
    let r = run(&mock, &[Suite::Leakage], dir.path()).await;
    // Independent of the scorer: a probe leaks when a secret planted for it sits in its system
    // prompt (the mock repeats only that); secrets only in the retrieved document stay put.
    let probes = catalog::probes(Suite::Leakage).unwrap();
    let leaky = |p: &guardline_eval::Probe| {
        let Expect::Leak {
            canaries,
            identifiers,
        } = &p.expect
        else {
            unreachable!()
        };
        let system = &p.messages[0].content;
        p.messages[0].role == "system"
            && canaries
                .iter()
                .chain(identifiers)
                .any(|s| system.contains(s.as_str()))
    };
    let want = probes.iter().filter(|p| leaky(p)).count() as u64;
    assert!(want > 10 && want < probes.len() as u64, "{want}");
    exactly(
        metric(&r, Suite::Leakage, "attack_success_rate"),
        want,
        probes.len() as u64,
    );
    for l in ["en", "zh-Hant", "yue"] {
        let ln = probes.iter().filter(|p| p.lang == l).count() as u64;
        let lw = probes.iter().filter(|p| p.lang == l && leaky(p)).count() as u64;
        exactly(
            by_lang(&r, Suite::Leakage, l, "attack_success_rate"),
            lw,
            ln,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn biased_anti_biased_and_unbiased_answers() {
    let amb = n_of(Suite::Bias, |p| matches!(p.expect, Expect::Bias { .. }));
    let pairs = n_of(Suite::Bias, |p| {
        matches!(p.expect, Expect::Counterfactual { .. })
    }) / 2;
    for (stereotype, score, acc, flips) in [
        (Some(true), 1.0, 0, pairs),
        (Some(false), -1.0, 0, pairs),
        (None, 0.0, amb, 0),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mock = start(bias_answers(stereotype)).await;
        let r = run(&mock, &[Suite::Bias], dir.path()).await;
        let b = metric(&r, Suite::Bias, "bias_score");
        assert_eq!(
            (b.value, b.low, b.high, b.n),
            (score, score, score, amb),
            "{stereotype:?}"
        );
        exactly(metric(&r, Suite::Bias, "accuracy"), acc, amb);
        exactly(
            metric(&r, Suite::Bias, "counterfactual_flip_rate"),
            flips,
            pairs,
        );
        // both languages, and every one of the twelve attributes
        for l in ["en", "zh-Hant", "yue"] {
            assert_eq!(
                by_lang(&r, Suite::Bias, l, "bias_score").value,
                score,
                "{l}"
            );
        }
        let cats = &suite(&r, Suite::Bias).by_category;
        assert_eq!(cats.len(), 13, "{:?}", cats.keys()); // 12 attributes + counterfactual
        for (c, g) in cats {
            if c != "counterfactual" {
                assert_eq!(g.metrics["bias_score"].value, score, "{c}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn right_and_wrong_multiple_choice_and_abstention() {
    let known = n_of(Suite::Hallucination, |p| {
        matches!(p.expect, Expect::Choice { .. })
    });
    let unans = n_of(Suite::Hallucination, |p| {
        matches!(p.expect, Expect::Abstain)
    });
    let pairs = known / 2;
    for (right, abstain) in [(true, true), (false, false)] {
        let dir = tempfile::tempdir().unwrap();
        let mock = start(mcq_answers(right, abstain)).await;
        let r = run(&mock, &[Suite::Hallucination], dir.path()).await;
        exactly(
            metric(&r, Suite::Hallucination, "accuracy"),
            if right { known } else { 0 },
            known,
        );
        exactly(
            metric(&r, Suite::Hallucination, "abstention_rate"),
            if abstain { unans } else { 0 },
            unans,
        );
        exactly(
            metric(&r, Suite::Hallucination, "consistency_rate"),
            pairs,
            pairs,
        );
        for l in ["en", "yue"] {
            let ln = n_of(Suite::Hallucination, |p| {
                p.lang == l && matches!(p.expect, Expect::Choice { .. })
            });
            exactly(
                by_lang(&r, Suite::Hallucination, l, "accuracy"),
                if right { ln } else { 0 },
                ln,
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn english_complied_chinese_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start(Arc::new(|c: &Call| {
        let lang = c.probe.as_ref().unwrap().lang.clone();
        Reply::Text(if lang == "en" {
            compliance_in("en").into()
        } else {
            refusal_in(&lang).into()
        })
    }))
    .await;
    let r = run(&mock, &[Suite::Harmful, Suite::Overrefusal], dir.path()).await;
    let en = n_of(Suite::Harmful, |p| p.lang == "en");
    exactly(metric(&r, Suite::Harmful, "attack_success_rate"), en, 60);
    exactly(
        by_lang(&r, Suite::Harmful, "en", "attack_success_rate"),
        en,
        en,
    );
    exactly(
        by_lang(&r, Suite::Harmful, "zh-Hant", "attack_success_rate"),
        0,
        20,
    );
    exactly(
        by_lang(&r, Suite::Harmful, "yue", "attack_success_rate"),
        0,
        20,
    );
    exactly(metric(&r, Suite::Overrefusal, "refusal_rate"), 30, 45);
    exactly(
        by_lang(&r, Suite::Overrefusal, "yue", "refusal_rate"),
        15,
        15,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_block_is_a_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start(Arc::new(|_c: &Call| {
        Reply::Status(
            403,
            serde_json::json!({"error": {"message": "blocked by policy hk-baseline", "type": "invalid_request_error", "code": "blocked_by_policy"}}),
            vec![("x-guardline-decision", "block".into())],
        )
    }))
    .await;
    let r = run(&mock, &[Suite::Injection, Suite::Overrefusal], dir.path()).await;
    exactly(metric(&r, Suite::Injection, "attack_success_rate"), 0, 45);
    // blocking safe requests is over-refusal
    exactly(metric(&r, Suite::Overrefusal, "refusal_rate"), 45, 45);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_accepts_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start(always_refuses()).await;
    let r = run(&mock, &Suite::ALL, dir.path()).await;
    let body = guardline_eval::report::ledger_body(&r);
    // The contract with `guardline report`.
    assert_eq!(body["system"], "mock-system");
    assert_eq!(body["target"]["model"], "mock-model");
    assert!(body["target"]["host"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    let suites = body["suites"].as_array().unwrap();
    assert_eq!(suites.len(), 6);
    let h = suites.iter().find(|s| s["name"] == "harmful").unwrap();
    assert_eq!(h["n"], 60);
    assert_eq!(h["errors"], 0);
    assert_eq!(h["metrics"]["attack_success_rate"]["value"], "0");
    assert_eq!(h["metrics"]["attack_success_rate"]["count"], 0);
    assert_eq!(h["metrics"]["refusal_rate"]["value"], "1");
    assert!(h["version"].as_str().unwrap().starts_with("1.0+"));
    // no completions, prompts or extra metrics
    let text = body.to_string();
    assert!(!text.contains("sorry") && !text.contains("抱歉") && !text.contains("counterfactual"));
    let ledger = guardline_ledger::Ledger::open(
        &guardline_ledger::Location::Sqlite(dir.path().join("ledger.sqlite")),
        guardline_ledger::Options::default(),
    )
    .await
    .unwrap();
    let receipt = ledger
        .append(guardline_ledger::NewEvent::new("eval_run", body))
        .await
        .expect("the ledger's float rule and privacy guard accept the body");
    assert_eq!(receipt.seq, 1);
    ledger.close().await.unwrap();
}
