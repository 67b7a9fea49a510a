//! Per-kind precision, recall and F1 of `guardline-detect` against a corpus's gold spans.
//!
//! Matching rule: a predicted finding is a true positive when an as yet unmatched gold span of
//! the **same kind** overlaps it with intersection-over-union ≥ 0.5 (byte offsets); each gold span
//! matches at most one finding, the one with the highest IoU, taken in finding order. Every other
//! finding is a false positive of its own kind (including kinds absent from the record's gold);
//! every unmatched gold span is a false negative of its kind. `injection.*` findings are ignored:
//! this corpus does not label them.

use crate::template::{Record, Span};
use crate::values::GOLD_KINDS;
use guardline_detect::{Engine, Finding};
use std::collections::BTreeMap;
use std::fmt::Write as _;

pub const MIN_IOU: f64 = 0.5;

/// Kinds whose values carry a check digit; the targets for these are stricter.
pub const CHECK_DIGIT_KINDS: &[&str] = &["hk_id", "cn_resident_id", "credit_card", "iban"];

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
}

impl Counts {
    pub fn gold(&self) -> usize {
        self.tp + self.fn_
    }
    pub fn precision(&self) -> Option<f64> {
        ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> Option<f64> {
        ratio(self.tp, self.tp + self.fn_)
    }
    pub fn f1(&self) -> Option<f64> {
        let d = 2 * self.tp + self.fp + self.fn_;
        ratio(2 * self.tp, d)
    }
    fn add(&mut self, o: Counts) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
    }
}

fn ratio(a: usize, b: usize) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

fn iou(a: (usize, usize), b: (usize, usize)) -> f64 {
    let inter = a.1.min(b.1).saturating_sub(a.0.max(b.0));
    let union = a.1.max(b.1) - a.0.min(b.0);
    if union == 0 {
        0.0
    } else {
        inter as f64 / union as f64
    }
}

/// One error, for error analysis.
#[derive(Debug, Clone)]
pub struct Miss {
    pub kind: String,
    /// `FP` or `FN`.
    pub what: &'static str,
    pub value: String,
    pub template: usize,
    pub text: String,
}

/// An error on one record: kind, `FP` or `FN`, byte span.
pub type RecordError = (String, &'static str, usize, usize);

/// Match findings to gold spans for one record; returns per-kind counts and the errors.
pub fn score_record(
    gold: &[Span],
    findings: &[Finding],
) -> (BTreeMap<String, Counts>, Vec<RecordError>) {
    let mut counts: BTreeMap<String, Counts> = BTreeMap::new();
    let mut errors = Vec::new();
    let mut used = vec![false; gold.len()];
    for f in findings {
        let kind = f.kind.as_str();
        if kind.starts_with("injection.") {
            continue;
        }
        let best = gold
            .iter()
            .enumerate()
            .filter(|(i, g)| !used[*i] && g.kind == kind)
            .map(|(i, g)| (i, iou((f.start, f.end), (g.start, g.end))))
            .filter(|&(_, v)| v >= MIN_IOU)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let c = counts.entry(kind.to_string()).or_default();
        match best {
            Some((i, _)) => {
                used[i] = true;
                c.tp += 1;
            }
            None => {
                c.fp += 1;
                errors.push((kind.to_string(), "FP", f.start, f.end));
            }
        }
    }
    for (g, u) in gold.iter().zip(&used) {
        if !u {
            counts.entry(g.kind.clone()).or_default().fn_ += 1;
            errors.push((g.kind.clone(), "FN", g.start, g.end));
        }
    }
    (counts, errors)
}

/// Totals over a corpus.
#[derive(Debug, Default)]
pub struct Report {
    pub records: usize,
    pub per_kind: BTreeMap<String, Counts>,
    /// Micro totals over all kinds, by the record's language.
    pub per_lang: BTreeMap<String, (usize, Counts)>,
    pub errors: Vec<Miss>,
}

impl Report {
    pub fn add_record(&mut self, r: &Record, findings: &[Finding], keep_errors: usize) {
        self.records += 1;
        for g in &r.spans {
            self.per_kind.entry(g.kind.clone()).or_default();
        }
        let (counts, errors) = score_record(&r.spans, findings);
        let lang = self.per_lang.entry(r.lang.clone()).or_default();
        lang.0 += 1;
        for (k, c) in counts {
            lang.1.add(c);
            self.per_kind.entry(k).or_default().add(c);
        }
        for (kind, what, s, e) in errors {
            if self.errors.len() >= keep_errors {
                break;
            }
            self.errors.push(Miss {
                kind,
                what,
                value: r.text.get(s..e).unwrap_or("?").to_string(),
                template: r.template,
                text: r.text.clone(),
            });
        }
    }

    /// Kinds in report order: the generator's kinds first, then any others the engine reported.
    fn ordered(&self) -> Vec<(&str, Counts)> {
        let mut out: Vec<(&str, Counts)> = GOLD_KINDS
            .iter()
            .filter_map(|k| self.per_kind.get(*k).map(|c| (*k, *c)))
            .collect();
        for (k, c) in &self.per_kind {
            if !GOLD_KINDS.contains(&k.as_str()) {
                out.push((k, *c));
            }
        }
        out
    }

    fn total(&self, filter: impl Fn(&str) -> bool) -> Counts {
        let mut t = Counts::default();
        for (k, c) in &self.per_kind {
            if filter(k) {
                t.add(*c);
            }
        }
        t
    }

    fn rows(&self) -> Vec<(String, Counts)> {
        let mut rows: Vec<(String, Counts)> = self
            .ordered()
            .into_iter()
            .map(|(k, c)| (k.to_string(), c))
            .collect();
        rows.push((
            "all personal data (micro)".into(),
            self.total(|k| !k.starts_with("secret.")),
        ));
        rows.push((
            "all secrets (micro)".into(),
            self.total(|k| k.starts_with("secret.")),
        ));
        rows.push(("all (micro)".into(), self.total(|_| true)));
        rows
    }

    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<28} {:>6} {:>6} {:>5} {:>5} {:>9} {:>7} {:>7}",
            "kind", "gold", "TP", "FP", "FN", "precision", "recall", "F1"
        );
        let row = |s: &mut String, label: &str, n: usize, c: &Counts| {
            let _ = writeln!(
                s,
                "{:<28} {:>6} {:>6} {:>5} {:>5} {:>9} {:>7} {:>7}",
                label,
                n,
                c.tp,
                c.fp,
                c.fn_,
                fmt(c.precision()),
                fmt(c.recall()),
                fmt(c.f1())
            );
        };
        for (k, c) in self.rows() {
            row(&mut s, &k, c.gold(), &c);
        }
        let _ = writeln!(s, "{} records\n", self.records);
        let _ = writeln!(
            s,
            "{:<28} {:>6} {:>6} {:>5} {:>5} {:>9} {:>7} {:>7}",
            "language (all kinds)", "recs", "TP", "FP", "FN", "precision", "recall", "F1"
        );
        for (lang, (n, c)) in &self.per_lang {
            row(&mut s, lang, *n, c);
        }
        s
    }

    pub fn markdown(&self) -> String {
        let mut s = String::new();
        s.push_str("| kind | gold | TP | FP | FN | precision | recall | F1 |\n");
        s.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for (k, c) in self.rows() {
            let name = if k.starts_with("all") {
                format!("**{k}**")
            } else {
                format!("`{k}`")
            };
            let _ = writeln!(
                s,
                "| {name} | {} | {} | {} | {} | {} | {} | {} |",
                c.gold(),
                c.tp,
                c.fp,
                c.fn_,
                fmt(c.precision()),
                fmt(c.recall()),
                fmt(c.f1())
            );
        }
        let _ = writeln!(s, "\n{} records.\n", self.records);
        s.push_str("| language (all kinds) | records | TP | FP | FN | precision | recall | F1 |\n");
        s.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for (lang, (n, c)) in &self.per_lang {
            let _ = writeln!(
                s,
                "| {lang} | {n} | {} | {} | {} | {} | {} | {} |",
                c.tp,
                c.fp,
                c.fn_,
                fmt(c.precision()),
                fmt(c.recall()),
                fmt(c.f1())
            );
        }
        s
    }
}

fn fmt(v: Option<f64>) -> String {
    v.map_or("—".to_string(), |v| format!("{v:.3}"))
}

/// Evaluate `engine` over records.
pub fn evaluate<'a>(
    engine: &Engine,
    records: impl IntoIterator<Item = &'a Record>,
    keep_errors: usize,
) -> Report {
    let mut rep = Report::default();
    for r in records {
        let findings = engine.scan(r.text.as_bytes());
        rep.add_record(r, &findings, keep_errors);
    }
    rep
}

#[cfg(test)]
mod tests {
    use super::*;
    use guardline_detect::{Dimension, Kind};
    use std::sync::Arc;

    fn finding(kind: &str, start: usize, end: usize) -> Finding {
        Finding {
            kind: Kind::new(kind),
            dimension: Dimension::Privacy,
            start,
            end,
            score: 0.9,
            detector: Arc::from("t"),
        }
    }

    fn span(kind: &str, start: usize, end: usize) -> Span {
        Span {
            kind: kind.into(),
            start,
            end,
        }
    }

    #[test]
    fn iou_rule() {
        assert_eq!(iou((0, 10), (0, 10)), 1.0);
        assert_eq!(iou((0, 10), (5, 15)), 5.0 / 15.0);
        assert_eq!(iou((0, 4), (6, 9)), 0.0);
    }

    #[test]
    fn matching() {
        let gold = [span("hk_phone", 0, 14), span("email", 20, 30)];
        let found = [
            finding("hk_phone", 5, 14),   // IoU 9/14: TP
            finding("hk_id", 20, 30),     // wrong kind: FP
            finding("injection.x", 0, 3), // ignored
            finding("hk_phone", 5, 14),   // gold already used: FP
        ];
        let (c, errs) = score_record(&gold, &found);
        assert_eq!(
            c["hk_phone"],
            Counts {
                tp: 1,
                fp: 1,
                fn_: 0
            }
        );
        assert_eq!(
            c["hk_id"],
            Counts {
                tp: 0,
                fp: 1,
                fn_: 0
            }
        );
        assert_eq!(
            c["email"],
            Counts {
                tp: 0,
                fp: 0,
                fn_: 1
            }
        );
        assert_eq!(errs.len(), 3);
        let low = [finding("email", 20, 22)]; // IoU 0.2: FP and FN
        let (c, _) = score_record(&gold[1..], &low);
        assert_eq!(
            c["email"],
            Counts {
                tp: 0,
                fp: 1,
                fn_: 1
            }
        );
    }
}
