//! Ledger load generator for BENCHMARKS.md (see `scripts/bench-ledger.sh`).
//!
//! ```text
//! ledger_bench append LOCATION EVENTS TASKS [MAX_BATCH]   one event per append call, TASKS at once
//! ledger_bench fill   LOCATION EVENTS                     bulk fill (for verify)
//! ledger_bench verify LOCATION                            re-walk the whole chain
//! ```
//! LOCATION is a SQLite path or a `postgres://…?schema=NAME` URL.

use guardline_ledger::{Ledger, Location, NewEvent, Options, SigningKey, VerifyOptions};
use serde_json::json;
use std::time::{Duration, Instant};

fn event(i: u64) -> NewEvent {
    // What the gateway writes per exchange: kinds and counts, keyed hashes, no content.
    NewEvent::new(
        "exchange",
        json!({
            "request_id": format!("req_{i:016x}"),
            "model": "gpt-4o-mini",
            "upstream": "openai",
            "decision": "transform",
            "stage": {"request": {"hk_id": 1, "hk_phone": 2}, "response": {"hk_id": 1}},
            "prompt_hmac": format!("{:064x}", u128::from(i as u32) * 0x9e37_79b9_7f4a_7c15),
            "latency_us": 1000 + i % 997,
            "status": 200,
        }),
    )
    .tenant("acme")
}

/// `LEDGER_SYNC=normal` benchmarks `SyncMode::Normal` (acknowledged before the fsync).
fn options(max_batch: usize) -> Options {
    Options {
        checkpoint_key: Some(SigningKey::from_bytes(&[42u8; 32])),
        max_batch,
        sync: std::env::var("LEDGER_SYNC")
            .map(|s| s.parse().expect("LEDGER_SYNC is full or normal"))
            .unwrap_or_default(),
        ..Options::default()
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: [LEDGER_SYNC=full|normal] ledger_bench append|fill|verify LOCATION [EVENTS] [TASKS] [MAX_BATCH]";
    let (mode, loc) = match (args.get(1), args.get(2)) {
        (Some(m), Some(l)) => (m.as_str(), Location::parse(l).expect("location")),
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let num = |i: usize, d: u64| args.get(i).map_or(d, |s| s.parse().expect(usage));
    match mode {
        "append" => {
            let events = num(3, 100_000);
            let tasks = num(4, 64);
            let max_batch = num(5, 4096) as usize;
            let ledger = Ledger::open(&loc, options(max_batch)).await.unwrap();
            let start = Instant::now();
            let mut handles = Vec::new();
            for t in 0..tasks {
                let ledger = ledger.clone();
                let n = events / tasks + u64::from(t < events % tasks);
                handles.push(tokio::spawn(async move {
                    let mut lat = Vec::with_capacity(n as usize);
                    for i in 0..n {
                        let t0 = Instant::now();
                        ledger.append(event(t * 1_000_000 + i)).await.unwrap();
                        lat.push(t0.elapsed());
                    }
                    lat
                }));
            }
            let mut lat: Vec<Duration> = Vec::new();
            for h in handles {
                lat.extend(h.await.unwrap());
            }
            let secs = start.elapsed().as_secs_f64();
            ledger.close().await.unwrap();
            lat.sort_unstable();
            let p = |q: f64| lat[((lat.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
            println!(
                "append: {} events, {tasks} tasks, max batch {max_batch}: {secs:.2} s, {:.0} events/s, latency p50 {:.2} ms p99 {:.2} ms",
                lat.len(),
                lat.len() as f64 / secs,
                p(0.5),
                p(0.99)
            );
        }
        "fill" => {
            let events = num(3, 1_000_000);
            let ledger = Ledger::open(&loc, options(100_000)).await.unwrap();
            let start = Instant::now();
            let mut i = 0;
            while i < events {
                let n = (events - i).min(20_000);
                ledger
                    .append_many((i..i + n).map(event).collect())
                    .await
                    .unwrap();
                i += n;
            }
            ledger.close().await.unwrap();
            println!(
                "fill: {events} events in {:.2} s",
                start.elapsed().as_secs_f64()
            );
        }
        "verify" => {
            let ledger = Ledger::open(&loc, Options::default()).await.unwrap();
            let start = Instant::now();
            let r = ledger.verify(&VerifyOptions::default()).await.unwrap();
            let secs = start.elapsed().as_secs_f64();
            assert!(r.intact(), "{:?}", r.problems.first());
            println!(
                "verify: {} events, {} checkpoints in {secs:.2} s ({:.0} events/s)",
                r.events,
                r.checkpoints,
                r.events as f64 / secs
            );
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}
