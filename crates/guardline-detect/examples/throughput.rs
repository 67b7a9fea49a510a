//! Rough single-thread throughput over a file:
//! `cargo run --release --example throughput -- FILE [KIND_GLOBS]`.
use guardline_detect::{Engine, EngineConfig};
use std::time::Instant;
fn main() {
    let path = std::env::args().nth(1).expect("FILE");
    let kinds: Vec<String> = std::env::args().nth(2).into_iter().collect();
    let data = std::fs::read(path).unwrap();
    let e = Engine::new(EngineConfig {
        kinds,
        ..Default::default()
    })
    .unwrap();
    let t = Instant::now();
    let mut n = 0;
    let mut reps = 0;
    while t.elapsed().as_secs_f64() < 3.0 {
        n += e.scan(&data).len();
        reps += 1;
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "{:.1} MB/s, {} findings/pass",
        (data.len() * reps) as f64 / s / 1e6,
        n / reps
    );
}
