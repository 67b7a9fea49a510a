use guardline_detect::Normalized;
use std::time::Instant;
fn main() {
    let data = std::fs::read(std::env::args().nth(1).unwrap()).unwrap();
    let t = Instant::now();
    let mut reps = 0;
    let mut l = 0;
    while t.elapsed().as_secs_f64() < 2.0 {
        l += Normalized::new(&data).text.len();
        reps += 1;
    }
    println!(
        "normalise {:.1} MB/s ({l})",
        (data.len() * reps) as f64 / t.elapsed().as_secs_f64() / 1e6
    );
    let pats: Vec<String> = std::env::args().skip(2).collect();
    let re = regex_automata::meta::Regex::new_many(&pats).unwrap();
    let t = Instant::now();
    let mut reps = 0;
    let mut n = 0;
    while t.elapsed().as_secs_f64() < 2.0 {
        n += re.find_iter(&data).count();
        reps += 1;
    }
    println!(
        "regex {:.1} MB/s {}",
        (data.len() * reps) as f64 / t.elapsed().as_secs_f64() / 1e6,
        n / reps
    );
}
