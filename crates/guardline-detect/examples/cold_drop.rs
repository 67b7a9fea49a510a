//! Cold single-pass throughput without the named recognisers (NO_LEXICON=1: and without the
//! injection lexicon): which recogniser makes the lazy DFA build states on this text.
//! `cargo run --release --example cold_drop -- FILE ID…`
use guardline_detect::{CatalogSource, Engine, EngineConfig};
use std::time::Instant;
fn main() {
    let mut args = std::env::args().skip(1);
    let data = std::fs::read(args.next().unwrap()).unwrap();
    let drop: Vec<String> = args.collect();
    let mut catalog = CatalogSource::default();
    let mut doc: toml::Value = toml::from_str(&catalog.recognizers).unwrap();
    let recs = doc["recognizer"].as_array_mut().unwrap();
    recs.retain(|r| !drop.iter().any(|d| d == r["id"].as_str().unwrap()));
    catalog.recognizers = toml::to_string(&doc).unwrap();
    if std::env::var_os("NO_LEXICON").is_some() {
        catalog.injection = "rule = []".into();
    }
    let e = Engine::new(EngineConfig {
        catalog,
        ..Default::default()
    })
    .unwrap();
    let t = Instant::now();
    let n = e.scan(&data).len();
    println!(
        "without {drop:?}: {:.1} MB/s cold, {n} findings",
        data.len() as f64 / t.elapsed().as_secs_f64() / 1e6
    );
}
