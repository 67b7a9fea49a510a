//! `bare-proxy LISTEN UPSTREAM_BASE`: the floor under the gateway's added latency. The same
//! stack as `guardline serve` (axum/hyper in, hyper-util's pooled client out, a multi-threaded
//! Tokio runtime, `TCP_NODELAY`), but it only forwards: it reads the body, posts it unchanged to
//! `UPSTREAM_BASE/chat/completions`, and answers the upstream's bytes. No parsing, no checks, no
//! ledger. What it adds over calling the upstream directly is what any proxy built this way pays
//! on this machine for the extra hop; the rest of the gateway's figure is its own.
//! `BARE_PROXY_CLIENT=reqwest` forwards with reqwest instead (built on the same hyper-util
//! client), to measure what reqwest's own layers cost a request. `BARE_PROXY_RUNTIME=per-core`
//! runs one single-threaded runtime per core instead, each with its own `SO_REUSEPORT` listener
//! and client, to measure what thread-per-core would save (BENCHMARKS.md, "Gateway").

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::serve::ListenerExt;
use axum::Router;
use std::sync::Arc;

type HyperClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<Bytes>,
>;

enum Client {
    Hyper(Box<HyperClient>),
    Reqwest(reqwest::Client),
}

struct Proxy {
    client: Client,
    url: String,
}

async fn via_reqwest(client: &reqwest::Client, url: &str, body: Bytes) -> (u16, Bytes) {
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    match sent {
        Ok(r) => {
            let status = r.status().as_u16();
            match r.bytes().await {
                Ok(b) => (status, b),
                Err(_) => (502, Bytes::new()),
            }
        }
        Err(_) => (502, Bytes::new()),
    }
}

async fn via_hyper(client: &HyperClient, url: &str, body: Bytes) -> (u16, Bytes) {
    use http_body_util::BodyExt;
    let Ok(req) = axum::http::Request::post(url)
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(body))
    else {
        return (502, Bytes::new());
    };
    match client.request(req).await {
        Ok(r) => {
            let status = r.status().as_u16();
            match r.into_body().collect().await {
                Ok(b) => (status, b.to_bytes()),
                Err(_) => (502, Bytes::new()),
            }
        }
        Err(_) => (502, Bytes::new()),
    }
}

async fn forward(State(p): State<Arc<Proxy>>, body: Bytes) -> Response {
    let (status, bytes) = match &p.client {
        Client::Hyper(h) => via_hyper(h, &p.url, body).await,
        Client::Reqwest(r) => via_reqwest(r, &p.url, body).await,
    };
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    resp
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(upstream)) = (args.next(), args.next()) else {
        eprintln!(
            "usage: bare-proxy LISTEN UPSTREAM_BASE (e.g. 127.0.0.1:9300 http://127.0.0.1:9100/v1)"
        );
        std::process::exit(2);
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    // BARE_PROXY_RUNTIME=per-core: one single-threaded runtime per core, each with its own
    // SO_REUSEPORT listener and client; otherwise one multi-threaded runtime.
    if std::env::var("BARE_PROXY_RUNTIME").as_deref() == Ok("per-core") {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads: Vec<_> = (0..n)
            .map(|_| {
                let (listen, upstream) = (listen.clone(), upstream.clone());
                std::thread::spawn(move || {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime")
                        .block_on(run(listen, upstream, true))
                })
            })
            .collect();
        for t in threads {
            let _ = t.join();
        }
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(run(listen, upstream, false));
    }
}

async fn run(listen: String, upstream: String, reuse_port: bool) {
    let client = if std::env::var("BARE_PROXY_CLIENT").as_deref() == Ok("reqwest") {
        Client::Reqwest(
            reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .expect("client"),
        )
    } else {
        let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
        http.set_nodelay(true);
        Client::Hyper(Box::new(
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_max_idle_per_host(64)
                .build(http),
        ))
    };
    let proxy = Arc::new(Proxy {
        client,
        url: format!("{}/chat/completions", upstream.trim_end_matches('/')),
    });
    let app = Router::new()
        .route("/v1/chat/completions", post(forward))
        .with_state(proxy);
    let addr: std::net::SocketAddr = listen.parse().expect("LISTEN is host:port");
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .expect("socket");
    let _ = socket.set_reuseaddr(true);
    if reuse_port {
        socket.set_reuseport(true).expect("SO_REUSEPORT");
    }
    socket.bind(addr).expect("bind");
    let listener = socket.listen(1024).expect("listen").tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    eprintln!("bare-proxy on http://{listen}/v1 -> {upstream}");
    axum::serve(listener, app).await.expect("serve");
}
