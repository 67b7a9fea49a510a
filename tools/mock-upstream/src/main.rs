//! `mock-upstream [ADDR] [TOKEN_INTERVAL_MS]`: an OpenAI-compatible upstream for benchmarks.
//! `POST /v1/chat/completions` answers a fixed 60-word completion at once, or with
//! `"stream": true` as SSE, one word per event, `TOKEN_INTERVAL_MS` apart (default 0). The first
//! event is sent immediately, so time to first token through a gateway measures the gateway.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::time::Duration;

const REPLY: &str = "Thank you for your question. Under the Personal Data (Privacy) Ordinance, \
an organisation should collect only the personal data it needs, tell people why it is collected, \
keep it accurate, hold it no longer than necessary, protect it against unauthorised access and \
let people see and correct it. For more details please contact our data protection officer.";

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9100".into());
    let interval: u64 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let app = Router::new()
        .route(
            "/v1/chat/completions",
            post(move |Json(body): Json<Value>| async move { chat(body, interval).await }),
        )
        .route(
            "/v1/models",
            get(|| async {
                Json(json!({"object": "list", "data": [{"id": "mock", "object": "model"}]}))
            }),
        );
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    eprintln!(
        "mock-upstream on http://{}/v1",
        listener.local_addr().unwrap()
    );
    // Like a real model server (and like `guardline serve`): without TCP_NODELAY a streamed event
    // written right after another waits for the client's delayed ACK, and the direct time to
    // first token would measure Nagle's algorithm, not the server.
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await.expect("serve");
}

async fn chat(body: Value, interval: u64) -> Response {
    let model = body["model"].as_str().unwrap_or("mock").to_string();
    if body["stream"] != json!(true) {
        return Json(json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 60, "total_tokens": 1060}
        }))
        .into_response();
    }
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0,
                   "model": "mock", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    for (i, w) in REPLY.split(' ').enumerate() {
        let piece = if i == 0 {
            w.to_string()
        } else {
            format!(" {w}")
        };
        events.push(chunk(json!({"content": piece}), Value::Null));
    }
    events.push(chunk(json!({}), json!("stop")));
    events.push("data: [DONE]\n\n".into());
    let stream = futures_util::stream::unfold(
        (events.into_iter(), true),
        move |(mut it, first)| async move {
            let e = it.next()?;
            if !first && interval > 0 {
                tokio::time::sleep(Duration::from_millis(interval)).await;
            }
            Some((Ok::<_, std::io::Error>(e), (it, false)))
        },
    );
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap()
}
