//! The real `guardline serve` process in front of a mock upstream, driven by the official
//! `openai` Python SDK (`tests/python/openai_compat.py`). `.ci/run` installs the SDK into a
//! virtualenv and names its interpreter in `GUARDLINE_TEST_PYTHON`; without it the test uses
//! `python3` if that can import `openai`, and otherwise says it was skipped.

mod common;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Lines};
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};

async fn mock_chat(Json(body): Json<Value>) -> Response {
    let model = body["model"].as_str().unwrap_or("").to_string();
    if model == "fail" {
        return (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": {"message": "upstream exploded", "type": "server_error", "code": null}})),
        )
            .into_response();
    }
    let last = body["messages"]
        .as_array()
        .and_then(|a| a.last())
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
        .to_string();
    let reply = format!("You said: {last}");
    if body["stream"] == json!(true) {
        let mut events = vec![format!(
            "data: {}\n\n",
            json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": model,
                   "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]})
        )];
        for c in reply.chars() {
            events.push(format!(
                "data: {}\n\n",
                json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": model,
                       "choices": [{"index": 0, "delta": {"content": c.to_string()}, "finish_reason": null}]})
            ));
        }
        events.push(format!(
            "data: {}\n\n",
            json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": model,
                   "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        ));
        events.push("data: [DONE]\n\n".into());
        return Response::builder()
            .header("content-type", "text/event-stream")
            .body(Body::from_stream(futures_util::stream::iter(
                events.into_iter().map(Ok::<_, std::io::Error>),
            )))
            .unwrap();
    }
    Json(json!({
        "id": "c1", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    }))
    .into_response()
}

/// The Responses API: echoes the input text back, streamed in three-character deltas.
async fn mock_responses(Json(body): Json<Value>) -> Response {
    let input = body["input"].as_str().unwrap_or("").to_string();
    let text = format!("You said: {input}");
    let message = json!({"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}]});
    let response = |status: &str, output: Value| {
        json!({"id": "resp_1", "object": "response", "created_at": 1, "model": body["model"],
               "status": status, "output": output, "parallel_tool_calls": true, "tool_choice": "auto",
               "tools": []})
    };
    if body["stream"] != json!(true) {
        return Json(response("completed", json!([message]))).into_response();
    }
    let mut events = vec![
        json!({"type": "response.created", "response": response("in_progress", json!([]))}),
        json!({"type": "response.output_item.added", "output_index": 0,
               "item": {"type": "message", "id": "msg_1", "status": "in_progress", "role": "assistant", "content": []}}),
        json!({"type": "response.content_part.added", "item_id": "msg_1", "output_index": 0, "content_index": 0,
               "part": {"type": "output_text", "text": "", "annotations": []}}),
    ];
    let chars: Vec<char> = text.chars().collect();
    for piece in chars.chunks(3) {
        events.push(
            json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0,
            "content_index": 0, "delta": piece.iter().collect::<String>(), "logprobs": []}),
        );
    }
    events.extend([
        json!({"type": "response.output_text.done", "item_id": "msg_1", "output_index": 0, "content_index": 0,
               "text": text, "logprobs": []}),
        json!({"type": "response.content_part.done", "item_id": "msg_1", "output_index": 0, "content_index": 0,
               "part": message["content"][0]}),
        json!({"type": "response.output_item.done", "output_index": 0, "item": message}),
        json!({"type": "response.completed", "response": response("completed", json!([message]))}),
    ]);
    let lines = events.into_iter().enumerate().map(|(i, mut e)| {
        e["sequence_number"] = json!(i);
        Ok::<_, std::io::Error>(format!(
            "event: {}\ndata: {e}\n\n",
            e["type"].as_str().unwrap()
        ))
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(futures_util::stream::iter(
            lines.collect::<Vec<_>>(),
        )))
        .unwrap()
}

/// Stored responses: `resp_1` (retrieve, input items, delete); nothing else exists.
async fn mock_stored(
    method: axum::http::Method,
    axum::extract::Path(rest): axum::extract::Path<String>,
) -> Response {
    match (method.as_str(), rest.as_str()) {
        ("GET", "resp_1") => {
            mock_responses(Json(json!({"model": "gpt-test", "input": "stored"}))).await
        }
        ("GET", "resp_1/input_items") => Json(json!({"object": "list", "first_id": "msg_0",
            "last_id": "msg_0", "has_more": false, "data": [{"type": "message", "id": "msg_0",
            "role": "user", "status": "completed", "content": [{"type": "input_text", "text": "stored"}]}]}))
        .into_response(),
        ("DELETE", "resp_1") => {
            Json(json!({"id": "resp_1", "object": "response", "deleted": true})).into_response()
        }
        _ => (
            axum::http::StatusCode::NOT_FOUND,
            Json(json!({"error": {"message": "not found", "type": "invalid_request_error", "code": null}})),
        )
            .into_response(),
    }
}

/// Conversations: `conv_1` is created with whatever items came, which its item list returns.
async fn mock_conversations(
    method: axum::http::Method,
    uri: axum::http::Uri,
    body: axum::body::Bytes,
) -> Response {
    static ITEMS: std::sync::Mutex<Vec<Value>> = std::sync::Mutex::new(Vec::new());
    let conversation =
        json!({"id": "conv_1", "object": "conversation", "created_at": 1, "metadata": {}});
    match (method.as_str(), uri.path()) {
        ("POST", "/v1/conversations") => {
            let body: Value = serde_json::from_slice(&body).unwrap_or_default();
            let mut items = ITEMS.lock().unwrap();
            for (i, item) in body["items"].as_array().into_iter().flatten().enumerate() {
                let mut item = item.clone();
                item["id"] = json!(format!("msg_{i}"));
                item["status"] = json!("completed");
                items.push(item);
            }
            Json(conversation).into_response()
        }
        ("GET", "/v1/conversations/conv_1/items") => Json(json!({"object": "list",
            "data": *ITEMS.lock().unwrap(), "first_id": "msg_0", "last_id": "msg_0", "has_more": false}))
        .into_response(),
        ("DELETE", "/v1/conversations/conv_1") => {
            Json(json!({"id": "conv_1", "object": "conversation.deleted", "deleted": true})).into_response()
        }
        _ => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

/// Starts `guardline serve` on a free loopback port with its data in `dir` and no upstream from
/// the environment; returns the process, its base URL (read from the start-up banner) and its
/// stderr, which must stay open while it runs.
fn start_serve(dir: &Path, args: &[&str]) -> (Child, String, Lines<BufReader<ChildStderr>>) {
    let (gw, base, _banner, lines) = start_serve_banner(dir, args);
    (gw, base, lines)
}

/// [`start_serve`], and the start-up banner itself.
fn start_serve_banner(
    dir: &Path,
    args: &[&str],
) -> (Child, String, String, Lines<BufReader<ChildStderr>>) {
    let mut gw = Command::new(env!("CARGO_BIN_EXE_guardline"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("GUARDLINE_DATA_DIR", dir)
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .current_dir(dir)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(gw.stderr.take().unwrap()).lines();
    let banner = lines.next().unwrap().unwrap();
    let base = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no address in {banner}"))
        .to_string();
    (gw, base, banner, lines)
}

fn python() -> Option<String> {
    if let Ok(p) = std::env::var("GUARDLINE_TEST_PYTHON") {
        return Some(p);
    }
    let ok = Command::new("python3")
        .args(["-c", "import openai"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| "python3".to_string())
}

#[test]
fn official_openai_sdk_drives_the_gateway() {
    let Some(py) = python() else {
        eprintln!(
            "SKIPPED: no Python with the `openai` package (set GUARDLINE_TEST_PYTHON; .ci/run does)"
        );
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let upstream = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/v1/chat/completions", post(mock_chat))
            .route("/v1/responses", post(mock_responses))
            .route("/v1/responses/{*rest}", axum::routing::any(mock_stored))
            .route("/v1/conversations", axum::routing::any(mock_conversations))
            .route(
                "/v1/moderations",
                post(|Json(body): Json<Value>| async move {
                    let n = body["input"].as_array().map_or(1, Vec::len);
                    let result = json!({"flagged": false, "categories": {}, "category_scores": {},
                        "category_applied_input_types": {}});
                    Json(json!({"id": "modr-1", "model": "omni-moderation-latest",
                        "results": vec![result; n]}))
                }),
            )
            .route(
                "/v1/models/{id}",
                get(|axum::extract::Path(id): axum::extract::Path<String>| async move {
                    Json(json!({"id": id, "object": "model", "created": 1, "owned_by": "test"}))
                }),
            )
            .route("/v1/conversations/{*rest}", axum::routing::any(mock_conversations))
            .route(
                "/v1/embeddings",
                post(|| async {
                    Json(json!({"object": "list", "model": "embed-test", "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}], "usage": {"prompt_tokens": 1, "total_tokens": 1}}))
                }),
            )
            .route(
                "/v1/models",
                get(|| async { Json(json!({"object": "list", "data": [{"id": "mock-1", "object": "model", "created": 1, "owned_by": "test"}]})) }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/v1")
    });
    let dir = tempfile::tempdir().unwrap();
    let (mut gw, base, _stderr) = start_serve(dir.path(), &["--upstream", &upstream]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/openai_compat.py");
    let out = Command::new(&py).args([script, &base]).output().unwrap();
    let _ = gw.kill();
    let _ = gw.wait();
    assert!(
        out.status.success(),
        "openai SDK checks failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Every exchange the SDK made is in the ledger, and the ledger verifies.
    let verify = guardline(dir.path(), &["audit", "verify", "--format", "json"]);
    let report: Value = serde_json::from_str(&verify).unwrap();
    assert_eq!(report["intact"], true, "{report}");
    assert!(report["events"].as_i64().unwrap() >= 5, "{report}");
}

/// With no configuration and no upstream: the gateway starts on loopback, says how to set an
/// upstream when a model is called, and records what it enforces in the ledger before serving.
#[test]
fn serve_without_config_records_its_policy() {
    let dir = tempfile::tempdir().unwrap();
    let (mut gw, base, banner, _stderr) = start_serve_banner(dir.path(), &[]);
    // The banner announces open mode, the policy, the missing upstream and the ledger.
    for part in [
        "(open mode: loopback only, no client keys)",
        "policy hk-baseline",
        "upstream none",
        &format!(
            "ledger sqlite:{}",
            dir.path().join("ledger.sqlite").display()
        ),
    ] {
        assert!(banner.contains(part), "{part:?} not in {banner}");
    }
    assert!(!banner.contains("pseudonyms kept"), "{banner}");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (status, body) = rt.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{base}/chat/completions"))
            .json(&json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    });
    let _ = gw.kill();
    let _ = gw.wait();
    assert_eq!(status, 503, "{body}");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("--upstream"), "{msg}");

    let text = guardline(dir.path(), &["audit", "export", "--kind", "config_change"]);
    let start = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["body"]["change"] == "gateway_start")
        .unwrap_or_else(|| panic!("no gateway_start record in {text}"));
    let p = &start["body"]["policies"]["default"];
    assert_eq!(p["name"], "hk-baseline", "{start}");
    assert_eq!(p["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(start["body"]["access"], "open");
    assert_eq!(
        start["body"]["kept_pseudonyms"],
        Value::Null,
        "off by default"
    );
    assert!(!dir.path().join("vault.sqlite").exists());
    assert!(p["request"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["action"] == "pseudonymise"));
}

/// A running gateway records a heartbeat every `[ledger] heartbeat_secs`, from the same instance
/// as its start, so that `guardline report` can tell a killed gateway from a running one. (With
/// `[vault] keep`, its start record says where pseudonyms are kept: a file only it may read.)
#[test]
fn a_running_gateway_records_heartbeats() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("guardline.toml");
    std::fs::write(
        &config,
        "[ledger]\nheartbeat_secs = 1\n[vault]\nkeep = true\n",
    )
    .unwrap();
    let (mut gw, _base, _stderr) = start_serve(dir.path(), &["--config", config.to_str().unwrap()]);
    let changes = || -> Vec<Value> {
        guardline(dir.path(), &["audit", "export", "--kind", "config_change"])
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["body"].clone())
            .collect()
    };
    let beats = |c: &[Value]| {
        c.iter()
            .filter(|b| b["change"] == "gateway_heartbeat")
            .count()
    };
    eventually("two heartbeats", || beats(&changes()) >= 2);
    let _ = gw.kill();
    let _ = gw.wait();
    let changes = changes();
    let start = changes
        .iter()
        .find(|b| b["change"] == "gateway_start")
        .unwrap();
    assert_eq!(start["heartbeat_secs"], 1, "{start}");
    let vault = dir.path().join("vault.sqlite");
    assert_eq!(
        start["kept_pseudonyms"],
        json!({"store": format!("sqlite:{}", vault.display()), "keep_days": 30})
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&vault).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    for beat in changes
        .iter()
        .filter(|b| b["change"] == "gateway_heartbeat")
    {
        assert_eq!(beat["instance"], start["instance"], "{beat}");
        assert_eq!(beat["heartbeat_secs"], 1, "{beat}");
    }
    // Killed: no stop record, only the heartbeats stop.
    assert!(!changes.iter().any(|b| b["change"] == "gateway_stop"));
}

/// Runs `guardline` with its data in `dir`; returns stdout, failing the test on a non-zero exit.
fn guardline(dir: &Path, args: &[&str]) -> String {
    let r = common::guardline(dir, args);
    assert_eq!(r.code, 0, "guardline {args:?}: {}", r.stderr);
    r.stdout
}

/// Waits (up to 20 s) until `probe` returns true; the gateway reloads keys every 2 s.
fn eventually(what: &str, mut probe: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !probe() {
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Keys created or revoked while the gateway runs take effect without a restart; SIGHUP reloads
/// the policy files, the upstreams and the `[server]` limits, is recorded in the ledger, and a
/// broken file leaves the policy in force.
#[cfg(unix)]
#[test]
fn keys_and_policies_reload_while_serving() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    let write_policy = |name: &str| {
        std::fs::write(
            &policy,
            format!(
                "name = \"{name}\"\n[request]\ndefault = \"allow\"\n\n[[request.rules]]\nid = \
                 \"block-secrets\"\nkinds = [\"secret.*\"]\naction = \"block\"\n"
            ),
        )
        .unwrap()
    };
    write_policy("first");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // An upstream that answers with the key it was sent.
    let mock = rt.block_on(async {
        let app = Router::new().route(
            "/v1/chat/completions",
            post(|headers: axum::http::HeaderMap| async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("none")
                    .to_string();
                Json(json!({
                    "id": "c1", "object": "chat.completion", "created": 1, "model": "m",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": auth}, "finish_reason": "stop"}]
                }))
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/v1")
    });
    // The config sits in its own directory, away from the gateway's working directory: the
    // upstream key file it names is found beside it.
    let conf_dir = dir.path().join("conf");
    std::fs::create_dir(&conf_dir).unwrap();
    let config = conf_dir.join("guardline.toml");
    let write_config = |upstream: &str, server: &str| {
        std::fs::write(
            &config,
            format!(
                "[server]\n{server}\n[upstream]\nurl = \"{mock}\"\nname = \"{upstream}\"\napi_key_file = \"upstream.key\"\n"
            ),
        )
        .unwrap()
    };
    write_config("first-upstream", "");
    std::fs::write(conf_dir.join("upstream.key"), "alpha\n").unwrap();
    let admin = guardline(
        dir.path(),
        &["keys", "create", "--tenant", "ops", "--admin"],
    );
    let admin = admin.trim().to_string();
    let (mut gw, base, stderr) = start_serve(
        dir.path(),
        &[
            "--policy",
            policy.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
    );
    // The log, line by line, without blocking the test on a gateway that stays up.
    let (log_tx, log) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in stderr.map_while(Result::ok) {
            let _ = log_tx.send(line);
        }
    });
    let http = reqwest::Client::new();
    let guard_status = |key: &str| {
        rt.block_on(async {
            http.post(format!("{base}/guard"))
                .bearer_auth(key)
                .json(&json!({"text": "hello"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    let fetch = |req: reqwest::RequestBuilder| {
        rt.block_on(async { req.send().await.unwrap().json::<Value>().await.unwrap() })
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let policy_name = || {
        let v = fetch(
            http.get(base.replace("/v1", "/admin/policy"))
                .bearer_auth(&admin),
        );
        text(&v["default"]["name"])
    };
    let upstream_saw = || {
        let v = fetch(
            http.post(format!("{base}/chat/completions"))
                .bearer_auth(&admin)
                .json(&json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})),
        );
        text(&v["choices"][0]["message"]["content"])
    };
    // A 3,000-byte body, under the default limit and over the one the reload sets.
    let big_guard_status = || {
        rt.block_on(async {
            http.post(format!("{base}/guard"))
                .bearer_auth(&admin)
                .json(&json!({"text": "x".repeat(3000)}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    assert_eq!(guard_status(&admin), 200);
    assert_eq!(big_guard_status(), 200);
    assert_eq!(policy_name(), "first");
    assert_eq!(upstream_saw(), "Bearer alpha");

    // A key created now works without a restart; revoked, it stops working.
    let app = guardline(dir.path(), &["keys", "create", "--tenant", "shop"]);
    let app = app.trim().to_string();
    eventually("a new key is accepted", || guard_status(&app) == 200);
    let id = guardline(dir.path(), &["keys", "list"])
        .lines()
        .find(|l| l.contains("shop"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    guardline(dir.path(), &["keys", "revoke", &id]);
    eventually("a revoked key is refused", || guard_status(&app) == 401);
    assert_eq!(guard_status(&admin), 200);

    // SIGHUP reloads the config file's upstreams and the policy; a broken file keeps what is
    // in force.
    let signal = |sig: &str| {
        let ok = Command::new("kill")
            .args([sig, &gw.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    };
    let hup = || signal("-HUP");
    write_policy("second");
    write_config(
        "second-upstream",
        "body_limit = 2000\nconcurrency = 64\nrate_limit_per_key = 1000",
    );
    std::fs::write(conf_dir.join("upstream.key"), "bravo").unwrap();
    hup();
    eventually("the new policy is in force", || policy_name() == "second");
    assert_eq!(
        big_guard_status(),
        413,
        "the reloaded body limit is in force"
    );
    let metrics = rt.block_on(async {
        let url = base.replace("/v1", "/metrics");
        http.get(url).send().await.unwrap().text().await.unwrap()
    });
    assert!(
        metrics.contains("guardline_concurrency_limit 64\n"),
        "the reloaded concurrency is in force: {metrics}"
    );
    assert_eq!(
        upstream_saw(),
        "Bearer bravo",
        "a rotated upstream key is in force"
    );
    // A key file rotated without a signal (a mounted secret being updated) is picked up too.
    std::fs::write(conf_dir.join("upstream.key"), "charlie\n").unwrap();
    eventually("the rotated upstream key is sent", || {
        upstream_saw() == "Bearer charlie"
    });
    std::fs::write(&policy, "name = [not toml").unwrap();
    hup();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let line = log
            .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
            .expect("no 'reload failed' in the log");
        if line.contains("reload failed") {
            assert!(line.contains("policy.toml"), "{line}");
            break;
        }
    }
    assert_eq!(policy_name(), "second");
    // A graceful stop (SIGTERM) is recorded, by the same instance as the start.
    signal("-TERM");
    assert!(gw.wait().unwrap().success());

    // The ledger shows when each policy came into force, and the key changes.
    let changes: Vec<Value> =
        guardline(dir.path(), &["audit", "export", "--kind", "config_change"])
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["body"].clone())
            .collect();
    let reloads: Vec<&Value> = changes
        .iter()
        .filter(|b| b["change"] == "gateway_reload")
        .collect();
    assert_eq!(reloads.len(), 1, "{changes:?}");
    assert_eq!(reloads[0]["policies"]["default"]["name"], "second");
    assert_eq!(reloads[0]["upstreams"], json!(["second-upstream"]));
    assert_eq!(
        reloads[0]["limits"],
        json!({"body_limit": 2000, "concurrency": 64, "rate_limit_per_key": 1000, "rate_limit_burst": 1000,
               "rate_limit_store": "local"})
    );
    let start = changes
        .iter()
        .find(|b| b["change"] == "gateway_start")
        .unwrap();
    assert_eq!(start["upstreams"], json!(["first-upstream"]));
    assert_eq!(start["limits"]["body_limit"], 4194304);
    assert_eq!(start["limits"]["rate_limit_per_key"], 0);
    let stop = changes.last().unwrap();
    assert_eq!(stop["change"], "gateway_stop", "{changes:?}");
    assert!(start["instance"].as_str().unwrap().starts_with("gli_"));
    assert_eq!(stop["instance"], start["instance"]);
    assert_eq!(reloads[0]["instance"], start["instance"]);
    assert_eq!(reloads[0]["access"], "keys");
    assert!(changes.iter().any(|b| b["action"] == "client_key_revoked"));
    assert!(
        changes
            .iter()
            .any(|b| b["change"] == "upstream_key_reloaded" && b["upstream"] == "second-upstream"),
        "{changes:?}"
    );
    assert!(!changes.iter().any(|b| b.to_string().contains("charlie")));
}

/// A data subject's erasure request (`guardline vault forget`) against a running gateway that
/// keeps pseudonyms: a continued response stops being restored once the value is erased, any
/// written form of the value finds it, and the ledger records the erasure without the value.
#[test]
fn vault_forget_erases_a_kept_value() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let upstream = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/v1/responses", post(mock_responses));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/v1")
    });
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("guardline.toml");
    std::fs::write(&config, "[vault]\nkeep = true\n").unwrap();
    let (mut gw, base, banner, _stderr) = start_serve_banner(
        dir.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "--upstream",
            &upstream,
        ],
    );
    let vault = dir.path().join("vault.sqlite");
    assert!(
        banner.ends_with(&format!(" · pseudonyms kept in sqlite:{}", vault.display())),
        "{banner}"
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let call = |path: &str, body: Value| {
        rt.block_on(async {
            let r = reqwest::Client::new()
                .post(format!("{base}/{path}"))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
            r.json::<Value>().await.unwrap()
        })
    };
    // The first call keeps the HKID's token under resp_1; its own reply is restored.
    let first = call(
        "responses",
        json!({"model": "gpt-test", "input": "My HKID is A123456(3)"}),
    );
    assert_eq!(
        first["output"][0]["content"][0]["text"],
        "You said: My HKID is A123456(3)"
    );
    let token = call("guard", json!({"stage": "request", "text": "A123456(3)"}))["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(token.starts_with("HK_ID_"), "{token}");
    // A continued response whose reply carries the token gets the value back from the store.
    let again = || {
        call(
            "responses",
            json!({"model": "gpt-test", "input": token, "previous_response_id": "resp_1"}),
        )["output"][0]["content"][0]["text"]
            .clone()
    };
    assert_eq!(again(), "You said: A123456(3)");

    // Erased by another written form of the same value, read from standard input.
    let mut forget = Command::new(env!("CARGO_BIN_EXE_guardline"))
        .args(["vault", "forget", "--config", config.to_str().unwrap(), "-"])
        .env("GUARDLINE_DATA_DIR", dir.path())
        .env_remove("GUARDLINE_LEDGER")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = forget.stdin.take().unwrap();
        stdin.write_all("a123456 (3)\n\n".as_bytes()).unwrap();
    }
    let out = forget.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("erased 1 kept entry of 1 value (hk_id)"),
        "{stdout}"
    );
    assert_eq!(again(), format!("You said: {token}"));

    // Nothing recognisable: a clear error, nothing erased.
    let r = common::guardline(dir.path(), &["vault", "forget", "hello"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--kind"), "{}", r.stderr);

    let _ = gw.kill();
    let _ = gw.wait();
    let text = guardline(
        dir.path(),
        &["audit", "export", "--kind", "data_subject_request"],
    );
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 1, "{text}");
    let body = &records[0]["body"];
    assert_eq!(body["action"], "kept_pseudonyms_erased");
    assert_eq!(body["kinds"], json!(["hk_id"]));
    assert_eq!(body["entries_erased"], 1);
    assert!(!text.contains("123456") && !text.contains(&token), "{text}");
}
