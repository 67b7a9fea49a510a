//! `ttft URL N [MODEL]`: time to first token of streamed chat completions, sequentially, N times.
//! Prints p50/p90/p99 of the time to the first SSE event that carries content, and of the whole
//! stream. Used by `scripts/bench-gateway.sh` against the mock upstream directly and through the
//! gateway, in the same run.

use std::time::Instant;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = std::env::args().nth(1).expect("usage: ttft URL N [MODEL]");
    let n: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let model = std::env::args().nth(3).unwrap_or_else(|| "mock".into());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let body = serde_json::json!({"model": model, "stream": true,
        "messages": [{"role": "user", "content": "What does the PDPO ask of us? 我的電話係 9123 4567。"}]});
    let mut first_event = Vec::with_capacity(n);
    let mut first = Vec::with_capacity(n);
    let mut total = Vec::with_capacity(n);
    for i in 0..n + 10 {
        let t0 = Instant::now();
        let mut resp = client.post(&url).json(&body).send().await.expect("request");
        assert!(resp.status().is_success(), "status {}", resp.status());
        let mut pending = String::new();
        let (mut got_event, mut got_content) = (None, None);
        while let Some(chunk) = resp.chunk().await.expect("stream") {
            pending.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = pending.find("\n\n") {
                let event: String = pending.drain(..end + 2).collect();
                let Some(data) = event.trim().strip_prefix("data: ") else {
                    continue;
                };
                got_event.get_or_insert_with(|| t0.elapsed());
                let v: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
                let content = v["choices"][0]["delta"]["content"].as_str().unwrap_or("");
                if !content.is_empty() {
                    got_content.get_or_insert_with(|| t0.elapsed());
                }
            }
        }
        if i >= 10 {
            // The first ten warm the connections.
            first_event.push(got_event.expect("an event").as_secs_f64() * 1e3);
            first.push(got_content.expect("a content event").as_secs_f64() * 1e3);
            total.push(t0.elapsed().as_secs_f64() * 1e3);
        }
    }
    let pct = |v: &mut Vec<f64>, q: f64| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[((v.len() - 1) as f64 * q) as usize]
    };
    println!(
        "{url}: first event p50 {:.3} ms p99 {:.3} ms; first content token p50 {:.3} ms p90 {:.3} ms p99 {:.3} ms; whole stream p50 {:.3} ms ({n} requests)",
        pct(&mut first_event, 0.5),
        pct(&mut first_event, 0.99),
        pct(&mut first, 0.5),
        pct(&mut first, 0.9),
        pct(&mut first, 0.99),
        pct(&mut total, 0.5)
    );
}
