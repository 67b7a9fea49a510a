//! Throughput of the eval runner against a local mock, and its own overhead per probe.
//!
//! ```text
//! cargo run --release -p mock-upstream -- 127.0.0.1:9124 &
//! cargo run --release -p guardline-eval --example runner_bench -- http://127.0.0.1:9124/v1 5000 64
//! ```
//!
//! Three passes over the same N probes (the six built-in suites repeated), at the same
//! concurrency, in one process:
//! 1. `raw`: a bare reqwest client posting the same request bodies and parsing the JSON — what
//!    any client pays; the floor.
//! 2. `runner`: a full run (cache off): budget and rate bookkeeping, retries armed, scoring
//!    every answer (refusal detector, canary/identifier matching with the detection engine,
//!    choice extraction), one `attempts.jsonl` line per probe, metrics at the end.
//! 3. `cached`: the same plan again as a new run with the cache on after a warming run: no
//!    request is sent.
//!
//! The runner's overhead per probe is (runner − raw) wall time / N; CPU per probe is this
//! process's user+system time (from /proc/self/stat) / N.

use futures_util::StreamExt;
use guardline_eval::plan::Plan;
use guardline_eval::runner::{Http, NoProgress, RunnerConfig};
use guardline_eval::score::Scorer;
use guardline_eval::session::{Finished, NewRun, Session};
use guardline_eval::store::{cache_dir, Cache, EndpointSpec, SuitePlan};
use guardline_eval::target::{request_body, Endpoint, Sampling};
use guardline_eval::{catalog, Suite};
use std::time::{Duration, Instant};

fn cpu_seconds() -> f64 {
    // utime and stime are fields 14 and 15 of /proc/self/stat, in clock ticks (100 Hz here).
    let Ok(s) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    let after = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let t = |i: usize| {
        f.get(i)
            .and_then(|x| x.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (t(11) + t(12)) / 100.0
}

fn plan(n: usize) -> Plan {
    let mut base = Vec::new();
    for s in Suite::ALL {
        base.extend(catalog::probes(s).unwrap());
    }
    let mut probes = Vec::with_capacity(n);
    let mut k = 0;
    while probes.len() < n {
        for p in &base {
            if probes.len() == n {
                break;
            }
            let mut p = p.clone();
            p.id = format!("{}#{k}", p.id);
            // Make every request body distinct (no two probes share a cache key).
            p.messages
                .last_mut()
                .unwrap()
                .content
                .push_str(&format!(" [{k}]"));
            probes.push(p);
        }
        k += 1;
    }
    let suites = Suite::ALL
        .iter()
        .map(|s| SuitePlan {
            suite: *s,
            version: catalog::version(*s),
            sources: vec!["catalog".into()],
            n: probes.iter().filter(|p| p.suite == *s).count(),
            available: 0,
        })
        .collect();
    Plan { probes, suites }
}

async fn full_run(
    url: &str,
    data: &std::path::Path,
    n: usize,
    conc: usize,
    cache: bool,
) -> (Duration, f64, u64) {
    let mut s = Session::create(
        data,
        plan(n),
        NewRun {
            system: None,
            target: EndpointSpec {
                url: url.into(),
                model: "mock".into(),
                api_key_env: None,
            },
            judge: None,
            sampling: Sampling::default(),
            limit: None,
            seed: 0,
        },
    )
    .unwrap();
    let cache = if cache {
        Cache::new(cache_dir(data))
    } else {
        Cache::disabled()
    };
    let http = Http::new(
        RunnerConfig {
            concurrency: conc,
            ..RunnerConfig::default()
        },
        cache,
    )
    .unwrap();
    let target = Endpoint::new(url, "mock", None).unwrap();
    let scorer = Scorer::new();
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    let r = s
        .run(&target, None, &http, &scorer, &NoProgress)
        .await
        .unwrap();
    let wall = t.elapsed();
    let cpu = cpu_seconds() - cpu0;
    let Finished::Complete(r) = r else { panic!() };
    let answered: u64 = r.suites.iter().map(|s| s.n).sum();
    assert_eq!(
        answered as usize,
        n,
        "errors: {:?}",
        r.suites.iter().map(|s| s.errors).collect::<Vec<_>>()
    );
    (wall, cpu, http.sent())
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:9124/v1".into());
    let n: usize = args.next().and_then(|x| x.parse().ok()).unwrap_or(5000);
    let conc: usize = args.next().and_then(|x| x.parse().ok()).unwrap_or(64);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let target = Endpoint::new(&url, "mock", None).unwrap();
    let p = plan(n);
    let bodies: Vec<serde_json::Value> = p
        .probes
        .iter()
        .map(|p| request_body("mock", &p.messages, &Sampling::default()))
        .collect();
    // warm up connections and the mock
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(conc)
        .build()
        .unwrap();
    let raw = |bodies: Vec<serde_json::Value>| {
        let client = client.clone();
        let url = target.url.clone();
        async move {
            futures_util::stream::iter(bodies)
                .map(|b| {
                    let client = client.clone();
                    let url = url.clone();
                    async move {
                        let r = client.post(url).json(&b).send().await.unwrap();
                        let bytes = r.bytes().await.unwrap();
                        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                        v["choices"][0]["message"]["content"]
                            .as_str()
                            .map(|s| s.len())
                            .unwrap_or(0)
                    }
                })
                .buffer_unordered(conc)
                .fold(0usize, |a, x| async move { a + x })
                .await
        }
    };
    raw(bodies[..n.min(500)].to_vec()).await;
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    raw(bodies.clone()).await;
    let raw_wall = t.elapsed();
    let raw_cpu = cpu_seconds() - cpu0;

    let dir = tempfile::tempdir().unwrap();
    let (run_wall, run_cpu, sent) = full_run(&url, dir.path(), n, conc, false).await;
    assert_eq!(sent as usize, n);
    // warm the cache, then a run answered entirely from it
    full_run(&url, dir.path(), n, conc, true).await;
    let (hit_wall, hit_cpu, hit_sent) = full_run(&url, dir.path(), n, conc, true).await;
    assert_eq!(hit_sent, 0);

    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    let us = |x: f64| x * 1e6 / n as f64;
    println!("runner_bench: {n} probes, concurrency {conc}, target {url}");
    println!(
        "{:<8} {:>10} {:>12} {:>16} {:>16}",
        "pass", "wall s", "probes/s", "wall µs/probe", "CPU µs/probe"
    );
    for (name, wall, cpu) in [
        ("raw", raw_wall, raw_cpu),
        ("runner", run_wall, run_cpu),
        ("cached", hit_wall, hit_cpu),
    ] {
        println!(
            "{name:<8} {:>10.3} {:>12.0} {:>16.1} {:>16.1}",
            wall.as_secs_f64(),
            rate(wall),
            us(wall.as_secs_f64()),
            us(cpu)
        );
    }
    println!(
        "runner overhead per probe: {:.1} µs wall, {:.1} µs CPU (runner − raw)",
        us(run_wall.as_secs_f64() - raw_wall.as_secs_f64()),
        us(run_cpu - raw_cpu)
    );
}
