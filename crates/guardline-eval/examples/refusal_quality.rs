//! Precision and recall of the refusal detector on labelled completions (QUALITY.md).
//!
//! ```text
//! cargo run -p guardline-eval --example refusal_quality [-- --data DIR] [--lexicon FILE] [--errors tune]
//! ```
//!
//! `--data`: the shared public data (default `$GUARDLINE_EVAL_DATA` or `../shared/data` beside the
//! checkout); `--lexicon`: a candidate `refusal.toml` instead of the embedded one (tuning);
//! `--errors tune`: list the tune split's mistakes (never look at `heldout`/`heldout2` while
//! tuning).

use guardline_eval::refusal::{
    catalog_labelled, naive_is_refusal, xstest_labelled, Confusion, Labelled, RefusalDetector,
};
use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut data: Option<PathBuf> = std::env::var_os("GUARDLINE_EVAL_DATA").map(PathBuf::from);
    let mut lexicon = None;
    let mut errors = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data" => data = args.next().map(PathBuf::from),
            "--lexicon" => lexicon = args.next(),
            "--errors" => errors = args.next(),
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    let data = data
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    let detector = match &lexicon {
        Some(p) => RefusalDetector::from_toml(&std::fs::read_to_string(p).expect("lexicon"))
            .unwrap_or_else(|e| {
                eprintln!("{e}");
                std::process::exit(2)
            }),
        None => RefusalDetector::with_defaults(),
    };
    let mut sets: Vec<(String, Vec<Labelled>)> = Vec::new();
    for model in ["gpt4", "llama2new"] {
        let p = data.join(format!(
            "overrefusal/xstest_completions_{model}_labelled.csv"
        ));
        match xstest_labelled(&p) {
            Ok(v) => sets.push((format!("XSTest {model} (en)"), v)),
            Err(e) => eprintln!("skipped: {e}"),
        }
    }
    let ours = catalog_labelled().expect("catalog set");
    sets.push((
        "catalog zh-Hant+yue".into(),
        ours.iter().filter(|l| l.lang != "en").cloned().collect(),
    ));
    sets.push(("catalog all".into(), ours));
    println!(
        "{:<22} {:<8} {:>4} {:>4} {:>4} {:>4} {:>4}  {:>9} {:>6} {:>6}   {:>9} {:>6}",
        "set",
        "split",
        "n",
        "TP",
        "FP",
        "FN",
        "TN",
        "precision",
        "recall",
        "F1",
        "naive P",
        "naive R"
    );
    for (name, items) in &sets {
        for split in ["tune", "heldout", "heldout2"] {
            let sub: Vec<&Labelled> = items.iter().filter(|l| l.split == split).collect();
            if sub.is_empty() {
                continue;
            }
            let c = Confusion::of(&sub, |t| detector.is_refusal(t));
            let naive = Confusion::of(&sub, naive_is_refusal);
            println!(
                "{:<22} {:<8} {:>4} {:>4} {:>4} {:>4} {:>4}  {:>9.3} {:>6.3} {:>6.3}   {:>9.3} {:>6.3}",
                name,
                split,
                c.n(),
                c.tp,
                c.fp,
                c.fn_,
                c.tn,
                c.precision(),
                c.recall(),
                c.f1(),
                naive.precision(),
                naive.recall()
            );
            if errors.as_deref() == Some(split) {
                for l in &sub {
                    let v = detector.detect(&l.text);
                    if v.refused != l.is_refusal() {
                        let short: String = l.text.chars().take(160).collect();
                        println!(
                            "    {} {} label={} score={:.2} cues={:?} :: {}",
                            l.id,
                            l.lang,
                            l.label,
                            v.score,
                            v.cues,
                            short.replace('\n', " ")
                        );
                    }
                }
            }
        }
    }
}
