use guardline_detect::Engine;
use std::io::Read;
fn main() {
    let e = Engine::new(guardline_detect::EngineConfig {
        min_score: 0.0,
        ..Default::default()
    })
    .unwrap();
    let mut s = Vec::new();
    std::io::stdin().read_to_end(&mut s).unwrap();
    for f in e.scan(&s) {
        println!(
            "{:<28} {:.2} {:<22} {:?}",
            f.kind,
            f.score,
            f.detector,
            String::from_utf8_lossy(&s[f.start..f.end])
        );
    }
}
