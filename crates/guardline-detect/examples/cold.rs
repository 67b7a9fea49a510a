//! Cold single-pass throughput (a fresh engine, one pass per file, as a whole-process run sees
//! it): `cargo run --release --example cold -- FILE…` — later files show whether the lazy DFA has
//! warmed up on earlier ones.
use guardline_detect::Engine;
use std::time::Instant;
fn main() {
    let mut catalog = guardline_detect::CatalogSource::default();
    if let Ok(p) = std::env::var("LEXICON") {
        catalog.injection = std::fs::read_to_string(p).unwrap();
    }
    let kinds: Vec<String> = std::env::var("KINDS").ok().into_iter().collect();
    let e = Engine::new(guardline_detect::EngineConfig {
        catalog,
        kinds,
        ..Default::default()
    })
    .unwrap();
    for path in std::env::args().skip(1) {
        let data = std::fs::read(&path).unwrap();
        let t = Instant::now();
        let n = e.scan(&data).len();
        println!(
            "{path}: {:.1} MB/s, {n} findings",
            data.len() as f64 / t.elapsed().as_secs_f64() / 1e6
        );
    }
}
