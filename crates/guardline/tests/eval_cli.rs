//! End-to-end: `guardline eval` (the real binary) against scripted mock targets served from this
//! test process: metrics in JSON, the ledger record `guardline report` reads, gates and exit
//! codes, `eval compare`, a run killed half-way and resumed without sending any answered probe
//! again, the request budget, bad data sets.

mod common;
use common::guardline;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use guardline_eval::{catalog, Expect, Probe, Suite};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// 0: refuse everything; 1: comply with everything (canaries, leaks, "A"); 2: answer the first
/// `limit` requests (refusing), then hang.
#[derive(Clone)]
struct Mock {
    mode: Arc<AtomicUsize>,
    limit: Arc<AtomicUsize>,
    served: Arc<AtomicUsize>,
    answered: Arc<Mutex<Vec<String>>>,
    auth: Arc<Mutex<Vec<String>>>,
    index: Arc<HashMap<String, Probe>>,
}

fn start_mock() -> (String, Mock) {
    let mut index = HashMap::new();
    for s in Suite::ALL {
        for p in catalog::probes(s).unwrap() {
            index.insert(serde_json::to_string(&p.messages).unwrap(), p);
        }
    }
    let mock = Mock {
        mode: Arc::default(),
        limit: Arc::default(),
        served: Arc::default(),
        answered: Arc::default(),
        auth: Arc::default(),
        index: Arc::new(index),
    };
    let m = mock.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let app = Router::new()
                .route("/v1/chat/completions", post(chat))
                .with_state(m);
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    (format!("http://{addr}/v1"), mock)
}

async fn chat(
    State(m): State<Mock>,
    headers: axum::http::HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    if let Some(a) = headers.get("authorization") {
        m.auth
            .lock()
            .unwrap()
            .push(a.to_str().unwrap_or("").to_string());
    }
    let n = m.served.fetch_add(1, Ordering::SeqCst);
    let mode = m.mode.load(Ordering::SeqCst);
    if mode == 2 && n >= m.limit.load(Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
    let probe = m.index.get(&body["messages"].to_string());
    let lang = probe.map(|p| p.lang.as_str()).unwrap_or("en");
    let refusal = match lang {
        "en" => "I'm sorry, but I can't help with that.",
        "yue" => "對唔住，呢樣嘢我幫唔到你。",
        _ => "抱歉，我不能協助這個要求。",
    };
    let text = if mode == 1 {
        match probe.map(|p| &p.expect) {
            Some(Expect::Canary { canaries }) => canaries[0].clone(),
            Some(Expect::Leak { .. }) => body["messages"].to_string(),
            Some(Expect::Choice { .. } | Expect::Bias { .. } | Expect::Counterfactual { .. }) => {
                "A".into()
            }
            _ => "Sure. Here is how: first do this, then that.".into(),
        }
    } else {
        refusal.to_string()
    };
    m.answered.lock().unwrap().push(body.to_string());
    Json(
        json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}),
    )
}

fn runs(data: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(data.join("eval/runs"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn eval_args<'a>(url: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["eval", "--target", url, "--model", "mock-model", "-q"];
    v.extend_from_slice(extra);
    v
}

#[test]
fn a_run_in_json_recorded_in_the_ledger_and_gated() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (url, mock) = start_mock();
    let r = guardline(
        &data,
        &eval_args(
            &url,
            &[
                "--format",
                "json",
                "--system",
                "hr-assistant",
                "--suite",
                "harmful,leakage,bias",
            ],
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let suites = v["suites"].as_array().unwrap();
    assert_eq!(suites.len(), 3);
    let harmful = suites.iter().find(|s| s["name"] == "harmful").unwrap();
    assert_eq!(harmful["n"], 60);
    assert_eq!(harmful["metrics"]["attack_success_rate"]["value"], 0.0);
    assert_eq!(harmful["metrics"]["refusal_rate"]["count"], 60);
    assert_eq!(harmful["by_language"]["yue"]["n"], 20);
    assert!(v["suites"][2]["metrics"]["bias_score"].is_object());
    assert_eq!(mock.answered.lock().unwrap().len(), 60 + 30 + 96);
    // No key in the environment: no Authorization header.
    assert!(mock.auth.lock().unwrap().is_empty());
    // The ledger record, as `guardline report` will read it.
    let r = guardline(&data, &["audit", "export", "--kind", "eval_run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rec: Value = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
    let body = &rec["body"];
    assert_eq!(body["run_id"], v["run_id"]);
    assert_eq!(body["system"], "hr-assistant");
    assert_eq!(body["target"]["model"], "mock-model");
    assert_eq!(
        body["target"]["host"].as_str().unwrap(),
        url.trim_start_matches("http://").trim_end_matches("/v1")
    );
    assert!(body["started"].as_str().unwrap().ends_with('Z'));
    let lh = body["suites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "harmful")
        .unwrap();
    assert_eq!(lh["n"], 60);
    assert_eq!(lh["errors"], 0);
    assert_eq!(lh["metrics"]["refusal_rate"]["value"], "1");
    assert_eq!(lh["metrics"]["refusal_rate"]["n"], 60);
    assert!(!rec.to_string().contains("sorry"));
    assert_eq!(guardline(&data, &["audit", "verify"]).code, 0);
    // A gate that fails: exit 1, the run is still recorded.
    let r = guardline(
        &data,
        &eval_args(
            &url,
            &[
                "--suite",
                "overrefusal",
                "--fail-on",
                "overrefusal.refusal_rate>0.1",
                "--fail-on",
                "overrefusal.refusal_rate<0.5",
            ],
        ),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("gate failed: overrefusal.refusal_rate>0.1"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("refusal_rate<0.5"), "{}", r.stderr);
    assert!(r.stdout.contains("overrefusal") && r.stdout.contains("refusal_rate"));
    let r = guardline(&data, &["audit", "export", "--kind", "eval_run"]);
    assert_eq!(r.stdout.lines().count(), 2);
    let r = guardline(&data, &["eval", "runs"]);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout.lines().count(), 2);
    assert!(r.stdout.contains("complete") && r.stdout.contains("system hr-assistant"));
}

#[test]
fn compare_is_a_release_gate() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (url, mock) = start_mock();
    let base = guardline(
        &data,
        &eval_args(&url, &["--suite", "harmful,injection", "--no-ledger"]),
    );
    assert_eq!(base.code, 0, "{}", base.stderr);
    let a = runs(&data)[0].clone();
    // The candidate model complies with everything (a regression). Another model name, so the
    // cache does not answer.
    mock.mode.store(1, Ordering::SeqCst);
    let r = guardline(
        &data,
        &[
            "eval",
            "--target",
            &url,
            "--model",
            "mock-model-2",
            "-q",
            "--suite",
            "harmful,injection",
            "--no-ledger",
            "--format",
            "json",
            "--output",
            dir.path().join("b.json").to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let b = runs(&data).into_iter().find(|x| *x != a).unwrap();
    let r = guardline(&data, &["eval", "compare", &a, &b]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("harmful") && r.stdout.contains("REGRESSION"),
        "{}",
        r.stdout
    );
    // the other way round it is an improvement; a file works as well as a run ID
    let r = guardline(
        &data,
        &[
            "eval",
            "compare",
            dir.path().join("b.json").to_str().unwrap(),
            &a,
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let r = guardline(&data, &["eval", "compare", &a, &a, "--format", "json"]);
    assert_eq!(r.code, 0);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["regressions"], 0);
    let r = guardline(&data, &["eval", "compare", &a, "0123456789abcdef"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("guardline: error: no run 0123456789abcdef"),
        "{}",
        r.stderr
    );
}

fn lines(p: &Path) -> usize {
    std::fs::read_to_string(p)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

#[test]
fn killed_half_way_then_resumed_sends_no_probe_twice() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (url, mock) = start_mock();
    mock.mode.store(2, Ordering::SeqCst);
    mock.limit.store(25, Ordering::SeqCst);
    let mut child = Command::new(env!("CARGO_BIN_EXE_guardline"))
        .args(eval_args(
            &url,
            &["--suite", "harmful,overrefusal", "--concurrency", "3"],
        ))
        .env("GUARDLINE_DATA_DIR", &data)
        .env_remove("GUARDLINE_LEDGER")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the 25 answers are in attempts.jsonl, then kill the process.
    let deadline = Instant::now() + Duration::from_secs(60);
    let attempts: PathBuf = loop {
        if let Some(id) = runs(&data).first() {
            let p = data.join("eval/runs").join(id).join("attempts.jsonl");
            if lines(&p) >= 25 {
                break p;
            }
        }
        assert!(Instant::now() < deadline, "the run never got 25 answers");
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(lines(&attempts), 25);
    let first: Vec<String> = mock.answered.lock().unwrap().clone();
    assert_eq!(first.len(), 25);
    // The target recovers; resume.
    mock.mode.store(0, Ordering::SeqCst);
    let id = runs(&data)[0].clone();
    let r = guardline(&data, &["eval", "--resume", &id, "-q", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let all: Vec<String> = mock.answered.lock().unwrap().clone();
    assert_eq!(all.len(), 105, "every probe answered once in total");
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), 105, "an answered probe was sent again");
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["suites"][0]["n"], 60);
    assert_eq!(v["suites"][1]["n"], 45);
    // Resuming a finished run sends nothing more (it is all answered; the report is rebuilt)
    // and does not record the run a second time.
    let r = guardline(&data, &["eval", "--resume", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("already in the ledger"), "{}", r.stderr);
    assert_eq!(mock.answered.lock().unwrap().len(), 105);
    let r = guardline(&data, &["audit", "export", "--kind", "eval_run"]);
    assert_eq!(r.stdout.lines().count(), 1);
    // --resume keeps the plan
    let r = guardline(&data, &["eval", "--resume", &id, "--suite", "bias"]);
    assert_eq!(r.code, 2);
}

#[test]
fn the_budget_stops_before_it_is_exceeded() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (url, mock) = start_mock();
    let r = guardline(
        &data,
        &eval_args(
            &url,
            &[
                "--suite",
                "injection",
                "--max-requests",
                "7",
                "--api-key-env",
                "EVAL_TEST_KEY",
            ],
        ),
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.starts_with("guardline: error: run ") && r.stderr.contains("--resume"),
        "{}",
        r.stderr
    );
    assert_eq!(mock.served.load(Ordering::SeqCst), 7);
    assert_eq!(r.stderr.lines().count(), 1);
    // Nothing recorded for an incomplete run.
    let r = guardline(&data, &["audit", "export", "--kind", "eval_run"]);
    assert!(r.stdout.trim().is_empty());
    // The key comes from the environment variable named, sent as a bearer token.
    let id = runs(&data)[0].clone();
    let out = Command::new(env!("CARGO_BIN_EXE_guardline"))
        .args(["eval", "--resume", &id, "-q", "--no-ledger"])
        .env("GUARDLINE_DATA_DIR", &data)
        .env("EVAL_TEST_KEY", "sk-test-123")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mock.served.load(Ordering::SeqCst), 45);
    let auth = mock.auth.lock().unwrap().clone();
    assert_eq!(auth.len(), 38);
    assert!(auth.iter().all(|a| a == "Bearer sk-test-123"));
    // The key is nowhere in the run's files.
    for f in ["manifest.json", "attempts.jsonl", "result.json"] {
        let t = std::fs::read_to_string(data.join("eval/runs").join(&id).join(f)).unwrap();
        assert!(!t.contains("sk-test-123"), "{f}");
    }
}

#[test]
fn bad_input_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (url, _mock) = start_mock();
    let bad = dir.path().join("dna.jsonl");
    std::fs::write(&bad, "{\"prompt\":\"a\",\"intents\":[]}\n{\"prompt\": \n").unwrap();
    let r = guardline(
        &data,
        &eval_args(&url, &["--dataset", bad.to_str().unwrap()]),
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("dna.jsonl:2"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1);
    for (args, want) in [
        (vec!["eval", "--model", "m"], "--target"),
        (vec!["eval", "--target", "ftp://x", "--model", "m"], "http"),
        (
            vec![
                "eval",
                "--target",
                &url,
                "--model",
                "m",
                "--fail-on",
                "harmful>1",
            ],
            "--fail-on",
        ),
        (vec!["eval", "--resume", "../../etc"], "not a run ID"),
        (vec!["eval", "--resume", "0123456789abcdef"], "no run"),
        (
            vec![
                "eval",
                "--target",
                &url,
                "--model",
                "m",
                "--concurrency",
                "0",
            ],
            "concurrency",
        ),
        (
            vec!["eval", "compare", "nope", "nope"],
            "neither a file nor a run ID",
        ),
    ] {
        let r = guardline(&data, &args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
    // An unreachable target: every probe fails, a clear error naming why.
    let r = guardline(
        &data,
        &[
            "eval",
            "--target",
            "http://127.0.0.1:9/v1",
            "--model",
            "m",
            "-q",
            "--suite",
            "overrefusal",
            "--limit",
            "3",
            "--retries",
            "0",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("connection failed"), "{}", r.stderr);
}

#[test]
fn html_and_text_reports() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (url, _mock) = start_mock();
    let out = dir.path().join("report.html");
    let r = guardline(
        &data,
        &eval_args(
            &url,
            &[
                "--suite",
                "hallucination",
                "--limit",
                "10",
                "--seed",
                "3",
                "--format",
                "html",
                "--output",
                out.to_str().unwrap(),
                "--no-ledger",
            ],
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(
        html.starts_with("<!doctype html>")
            && html.contains("hallucination")
            && html.contains("abstention_rate")
    );
    assert!(!html.contains("<script"));
    let r = guardline(
        &data,
        &eval_args(&url, &["--suite", "injection", "--no-ledger"]),
    );
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("attack_success_rate") && r.stdout.contains("by language"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("CRM-02"));
}
