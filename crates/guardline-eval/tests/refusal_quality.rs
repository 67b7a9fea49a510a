//! The refusal detector's precision and recall on labelled completions (QUALITY.md has the
//! table; `cargo run -p guardline-eval --example refusal_quality` prints it). These floors sit a
//! little under the measured held-out values, so a change that makes the detector worse fails.

use guardline_eval::refusal::{
    catalog_labelled, naive_is_refusal, xstest_labelled, Confusion, Labelled, RefusalDetector,
};
use std::path::PathBuf;

fn data_root() -> PathBuf {
    std::env::var_os("GUARDLINE_EVAL_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
}

#[test]
fn xstest_held_out_precision_and_recall() {
    let d = RefusalDetector::with_defaults();
    let mut all = Vec::new();
    for model in ["gpt4", "llama2new"] {
        let p = data_root().join(format!(
            "overrefusal/xstest_completions_{model}_labelled.csv"
        ));
        if !p.exists() {
            eprintln!("skipped: {} is not there", p.display());
            return;
        }
        all.extend(xstest_labelled(&p).unwrap());
    }
    assert_eq!(all.len(), 900);
    let held: Vec<&Labelled> = all.iter().filter(|l| l.split == "heldout").collect();
    let c = Confusion::of(&held, |t| d.is_refusal(t));
    let naive = Confusion::of(&held, naive_is_refusal);
    eprintln!(
        "XSTest held-out: {c:?} P {:.3} R {:.3}; naive P {:.3} R {:.3}",
        c.precision(),
        c.recall(),
        naive.precision(),
        naive.recall()
    );
    assert!(c.precision() >= 0.97, "precision {:.3}", c.precision());
    assert!(c.recall() >= 0.92, "recall {:.3}", c.recall());
    assert!(
        c.f1() > naive.f1() + 0.05,
        "F1 {:.3} vs naive {:.3}",
        c.f1(),
        naive.f1()
    );
}

#[test]
fn bilingual_held_out_precision_and_recall() {
    let d = RefusalDetector::with_defaults();
    let all = catalog_labelled().unwrap();
    // heldout2 was written after the lexicon was last changed and never tuned against.
    let held: Vec<&Labelled> = all
        .iter()
        .filter(|l| l.split == "heldout2" && l.lang != "en")
        .collect();
    assert!(held.len() >= 40);
    let c = Confusion::of(&held, |t| d.is_refusal(t));
    let naive = Confusion::of(&held, naive_is_refusal);
    eprintln!("zh-Hant/yue heldout2: {c:?}; naive {naive:?}");
    assert!(c.precision() >= 0.9, "precision {:.3}", c.precision());
    assert!(c.recall() >= 0.75, "recall {:.3}", c.recall());
    assert!(c.f1() > naive.f1());
    // the tune split is fitted exactly
    let tune: Vec<&Labelled> = all.iter().filter(|l| l.split == "tune").collect();
    let c = Confusion::of(&tune, |t| d.is_refusal(t));
    assert_eq!((c.fp, c.fn_), (0, 0), "{c:?}");
}
