//! Diagnostics: throughput of the normaliser and of a multi-pattern automaton alone.
//! `cargo run --release --example parts -- FILE PATTERNS_FILE [CACHE_MB]`
use guardline_detect::Normalized;
use regex_automata::meta::{Config, Regex};
use std::time::Instant;
fn main() {
    let data = std::fs::read(std::env::args().nth(1).unwrap()).unwrap();
    let pats: Vec<String> = std::fs::read_to_string(std::env::args().nth(2).unwrap())
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let mb: usize = std::env::args()
        .nth(3)
        .map(|s| s.parse().unwrap())
        .unwrap_or(32);
    let t = Instant::now();
    let mut reps = 0;
    while t.elapsed().as_secs_f64() < 1.0 {
        std::hint::black_box(Normalized::new(&data));
        reps += 1;
    }
    println!(
        "normalise {:.1} MB/s",
        (data.len() * reps) as f64 / t.elapsed().as_secs_f64() / 1e6
    );
    let re = Regex::builder()
        .configure(
            Config::new()
                .hybrid_cache_capacity(mb << 20)
                .nfa_size_limit(Some(64 << 20)),
        )
        .build_many(&pats)
        .unwrap();
    let norm = Normalized::new(&data);
    let t = Instant::now();
    let mut reps = 0;
    let mut per = vec![0usize; pats.len()];
    while t.elapsed().as_secs_f64() < 2.0 {
        for m in re.find_iter(&*norm.text) {
            if reps == 0 {
                per[m.pattern().as_usize()] += 1;
            }
        }
        reps += 1;
    }
    println!(
        "automaton {:.1} MB/s; matches per pattern {:?}",
        (data.len() * reps) as f64 / t.elapsed().as_secs_f64() / 1e6,
        per
    );
}
