//! # hkcorpus
//!
//! A synthetic, bilingual Hong Kong personal-data and secrets corpus with ground truth, and an
//! evaluator that runs `guardline-detect` over it.
//!
//! Records are rendered from sentence templates (`templates/*.txt`, compiled in) whose slots are
//! filled by value generators ([`values`]) that compute real check characters (HKID, mainland ID
//! MOD 11-2, Luhn, IBAN mod 97). Two disjoint template sets exist: `tune`, which engine changes may
//! be tuned against, and `heldout`, written separately with other sentence structures and cue
//! words, which is only ever reported.
//!
//! What it is not: a sample of real Hong Kong text. Template corpora measure whether the engine
//! recognises the value shapes and cue words someone thought to write down; see QUALITY.md.

pub mod eval;
pub mod template;
pub mod values;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use std::collections::BTreeMap;
use std::io::{self, Write};
use template::{Record, Template};

pub const TUNE_TEMPLATES: &str = include_str!("../templates/tune.txt");
pub const HELDOUT_TEMPLATES: &str = include_str!("../templates/heldout.txt");
pub const FILLER: &str = include_str!("../templates/filler.txt");

/// Templates without any gold slot are drawn this many times as often as one gold kind, so that
/// hard negatives make up a fair share of the corpus.
const NEGATIVE_WEIGHT: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Set {
    Tune,
    Heldout,
}

impl Set {
    pub fn name(self) -> &'static str {
        match self {
            Set::Tune => "tune",
            Set::Heldout => "heldout",
        }
    }

    pub fn parse(s: &str) -> Option<Set> {
        match s {
            "tune" => Some(Set::Tune),
            "heldout" => Some(Set::Heldout),
            _ => None,
        }
    }

    pub fn templates(self) -> Vec<Template> {
        let src = match self {
            Set::Tune => TUNE_TEMPLATES,
            Set::Heldout => HELDOUT_TEMPLATES,
        };
        template::parse(src).unwrap_or_else(|e| panic!("templates/{}.txt: {e}", self.name()))
    }
}

/// Draws records from one template set: a category (a gold kind, or `negative`) first, evenly,
/// then a template of that category, so every kind gets about the same number of records.
pub struct Generator {
    set: Set,
    by_category: Vec<(String, Vec<Template>)>,
    weights: Vec<usize>,
    total: usize,
    rng: StdRng,
}

impl Generator {
    pub fn new(set: Set, seed: u64) -> Generator {
        let mut by: BTreeMap<String, Vec<Template>> = BTreeMap::new();
        for t in set.templates() {
            by.entry(t.category().to_string()).or_default().push(t);
        }
        let by_category: Vec<_> = by.into_iter().collect();
        let weights: Vec<usize> = by_category
            .iter()
            .map(|(c, _)| if c == "negative" { NEGATIVE_WEIGHT } else { 1 })
            .collect();
        let total = weights.iter().sum();
        Generator {
            set,
            by_category,
            weights,
            total,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    pub fn next_record(&mut self) -> Record {
        let mut r = self.rng.random_range(0..self.total);
        let mut ci = 0;
        while r >= self.weights[ci] {
            r -= self.weights[ci];
            ci += 1;
        }
        let t = self.by_category[ci]
            .1
            .choose(&mut self.rng)
            .expect("categories are non-empty");
        t.render(&mut self.rng, self.set.name())
    }
}

/// Write `n` records as JSONL.
pub fn generate(set: Set, n: usize, seed: u64, out: &mut dyn Write) -> io::Result<()> {
    let mut g = Generator::new(set, seed);
    for _ in 0..n {
        let r = g.next_record();
        serde_json::to_writer(&mut *out, &r)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// About `bytes` bytes (never more) of mixed English/Chinese filler lines with a sparse sprinkle
/// of rendered records from both template sets (about one line in `1/pii_rate`), streamed.
pub fn generate_bytes(bytes: u64, seed: u64, out: &mut dyn Write) -> io::Result<()> {
    let filler: Vec<&str> = FILLER
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut gens = [
        Generator::new(Set::Tune, seed.wrapping_add(1)),
        Generator::new(Set::Heldout, seed.wrapping_add(2)),
    ];
    let mut written = 0u64;
    let mut line = String::new();
    while written < bytes {
        line.clear();
        // Paragraphs of a few sentences; about 1 in 40 sentences carries personal data.
        let sentences = rng.random_range(1..=6);
        for i in 0..sentences {
            if i > 0 {
                line.push(' ');
            }
            if rng.random_ratio(1, 40) {
                let g = &mut gens[rng.random_range(0..2)];
                line.push_str(&g.next_record().text.replace('\n', " "));
            } else {
                line.push_str(filler.choose(&mut rng).expect("filler is non-empty"));
            }
        }
        line.push('\n');
        let room = (bytes - written) as usize;
        let mut take = line.len().min(room);
        while !line.is_char_boundary(take) {
            take -= 1;
        }
        if take == 0 {
            break;
        }
        out.write_all(&line.as_bytes()[..take])?;
        written += take as u64;
    }
    Ok(())
}
