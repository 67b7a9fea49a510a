//! Which injection rules cost scan time: throughput with each rule alone (plus all recognisers).
//! `cargo run --release --example inj_cost -- FILE`
use guardline_detect::{CatalogSource, Engine, EngineConfig};
use std::time::Instant;
fn mbps(e: &Engine, data: &[u8]) -> f64 {
    let t = Instant::now();
    let mut reps = 0;
    while t.elapsed().as_secs_f64() < 0.4 {
        std::hint::black_box(e.scan(data));
        reps += 1;
    }
    (data.len() * reps) as f64 / t.elapsed().as_secs_f64() / 1e6
}
fn main() {
    let data = std::fs::read(std::env::args().nth(1).unwrap()).unwrap();
    let full = CatalogSource::default();
    let doc: toml::Value = toml::from_str(&full.injection).unwrap();
    let rules = doc["rule"].as_array().unwrap();
    let none = Engine::new(EngineConfig {
        catalog: CatalogSource {
            injection: "rule = []".into(),
            ..full.clone()
        },
        ..Default::default()
    })
    .unwrap();
    let base = mbps(&none, &data);
    println!("no injection rules: {base:.0} MB/s");
    let mut rows = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let mut one = toml::map::Map::new();
        one.insert("rule".into(), toml::Value::Array(vec![r.clone()]));
        let cat = CatalogSource {
            injection: toml::to_string(&toml::Value::Table(one)).unwrap(),
            ..full.clone()
        };
        let e = Engine::new(EngineConfig {
            catalog: cat,
            ..Default::default()
        })
        .unwrap();
        let v = mbps(&e, &data);
        rows.push((
            v,
            i,
            r["pattern"]
                .as_str()
                .unwrap()
                .chars()
                .take(80)
                .collect::<String>(),
        ));
    }
    rows.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    for (v, i, p) in rows.iter().take(25) {
        println!("{v:6.0} MB/s  rule {i:3}  {p}");
    }
}
