//! The upstreams: OpenAI-compatible base URLs, chosen by model name, each with its own pooled
//! HTTP client. A direct upstream gets hyper-util's client, under a rustls connector that verifies
//! certificates against the platform's roots plus an optional `ca_file`: the layer reqwest is
//! built on, used directly, because reqwest's extra layers cost about 50 µs a request on the
//! benchmark machine (`bare-proxy` both ways, BENCHMARKS.md), a quarter of the latency budget.
//! An upstream reached through an HTTP proxy (its `proxy`, or `HTTPS_PROXY`/`HTTP_PROXY` and
//! `NO_PROXY` from the environment, as curl reads them) gets reqwest, which speaks CONNECT
//! tunnels and forward proxying; same roots, same timeouts, same errors.

use crate::config::{Config, UpstreamConfig};
use arc_swap::ArcSwapOption;
use axum::body::Bytes;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use globset::{Glob, GlobSet, GlobSetBuilder};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// How an upstream is reached. One per upstream, so the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum Transport {
    Direct(HttpClient),
    /// Through an HTTP proxy.
    Proxied(reqwest::Client),
}

/// One upstream and its HTTP client.
pub struct Upstream {
    pub name: String,
    pub(crate) base: String,
    /// The upstream's own key, ready to send: (header, value). Swapped in place when its
    /// `api_key_file` changes ([`Upstream::refresh_key`]).
    key: ArcSwapOption<(HeaderName, HeaderValue)>,
    /// What `api_key_file` held when last looked at (its key, or why it could not be read).
    key_file_seen: Mutex<Result<String, String>>,
    /// Where a client's own key goes in open mode: `authorization` or `api_key_header`.
    key_header: HeaderName,
    pub(crate) cfg: UpstreamConfig,
    transport: Transport,
    /// The proxy in use, for the start-up banner (credentials removed).
    pub(crate) proxy: Option<String>,
}

/// Why an upstream call failed; each is a clean error for the client and a note in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No reply headers within `first_byte_timeout_ms`.
    NoAnswer,
    /// `total_timeout_ms` passed.
    TimedOut,
    /// The TLS handshake refused the upstream's certificate.
    Untrusted,
    Connect,
    /// The connection failed after it was made (reset, closed early).
    Failed,
    /// The reply body stopped before its end.
    Cut,
}

impl Failure {
    pub(crate) fn status(self) -> u16 {
        match self {
            Failure::NoAnswer | Failure::TimedOut => 504,
            _ => 502,
        }
    }

    pub(crate) fn message(self) -> &'static str {
        match self {
            Failure::NoAnswer => "upstream did not answer in time",
            Failure::TimedOut => "upstream timed out",
            Failure::Untrusted => {
                "the upstream's TLS certificate is not trusted (for a private CA, set ca_file \
                 in its [upstream] or [[routes]] section)"
            }
            Failure::Connect => "cannot connect to the upstream",
            Failure::Failed => "the upstream connection failed",
            Failure::Cut => "the upstream reply was cut off",
        }
    }
}

/// An upstream's reply, headers read, body still to come (before the call's total deadline).
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    body: ReplyBody,
    pub deadline: Instant,
}

enum ReplyBody {
    Direct(Incoming),
    Proxied(reqwest::Response),
}

impl Reply {
    /// The whole body.
    pub(crate) async fn bytes(self) -> Result<Bytes, Failure> {
        let body = async {
            match self.body {
                ReplyBody::Direct(b) => b.collect().await.map(|c| c.to_bytes()).ok(),
                ReplyBody::Proxied(r) => r.bytes().await.ok(),
            }
        };
        match tokio::time::timeout_at(self.deadline, body).await {
            Err(_) => Err(Failure::TimedOut),
            Ok(None) => Err(Failure::Cut),
            Ok(Some(b)) => Ok(b),
        }
    }

    /// The body as it arrives (the caller enforces [`Reply::deadline`]).
    pub(crate) fn into_stream(self) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
        match self.body {
            ReplyBody::Direct(b) => b.into_data_stream().map_err(std::io::Error::other).boxed(),
            ReplyBody::Proxied(r) => r.bytes_stream().map_err(std::io::Error::other).boxed(),
        }
    }

    pub(crate) fn is_event_stream(&self) -> bool {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"))
    }
}

fn tls_config(cfg: &UpstreamConfig) -> Result<rustls::ClientConfig, String> {
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let verifier = match &cfg.ca_file {
        None => rustls_platform_verifier::Verifier::new(provider.clone()),
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                format!(
                    "upstream {}: cannot read ca_file {}: {e}",
                    cfg.url,
                    path.display()
                )
            })?;
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<_, _>>()
                .ok()
                .filter(|c: &Vec<_>| !c.is_empty())
                .ok_or_else(|| {
                    format!(
                        "upstream {}: ca_file {} holds no PEM certificate",
                        cfg.url,
                        path.display()
                    )
                })?;
            rustls_platform_verifier::Verifier::new_with_extra_roots(certs, provider.clone())
        }
    }
    .map_err(|e| format!("upstream {}: TLS roots: {e}", cfg.url))?;
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("upstream {}: TLS: {e}", cfg.url))?
        .dangerous() // rustls's name for "bring your own verifier": the platform's, here
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

/// The proxy for this upstream: its own `proxy`, else the environment's for its URL (none when
/// `NO_PROXY` names its host).
fn proxy_for(cfg: &UpstreamConfig, probe: &Uri) -> Result<Option<String>, String> {
    if let Some(p) = &cfg.proxy {
        return match p.parse::<Uri>() {
            Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some() => {
                Ok(Some(p.clone()))
            }
            _ => Err(format!(
                "upstream {}: proxy `{}` is not an http:// or https:// URL",
                cfg.url,
                without_credentials(p)
            )),
        };
    }
    Ok(hyper_util::client::proxy::matcher::Matcher::from_env()
        .intercept(probe)
        .map(|i| i.uri().to_string()))
}

/// A proxy URL fit for a log line: `http://user:secret@host:3128` → `http://host:3128`.
fn without_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split('/').next().unwrap_or("");
            match authority.rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://{host}{}", &rest[authority.len()..]),
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    }
}

fn direct_client(cfg: &UpstreamConfig) -> Result<HttpClient, String> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(cfg.connect_timeout()));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config(cfg)?)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_max_idle_per_host(64)
        .build(https))
}

fn proxied_client(cfg: &UpstreamConfig, proxy: &str) -> Result<reqwest::Client, String> {
    let proxy = reqwest::Proxy::all(proxy).map_err(|e| {
        format!(
            "upstream {}: proxy `{}`: {e}",
            cfg.url,
            without_credentials(proxy)
        )
    })?;
    reqwest::Client::builder()
        .proxy(proxy)
        .tls_backend_preconfigured(tls_config(cfg)?)
        .connect_timeout(cfg.connect_timeout())
        .pool_max_idle_per_host(64)
        .build()
        .map_err(|e| format!("upstream {}: {e}", cfg.url))
}

/// The upstream's key as it is sent: `Authorization: Bearer KEY`, or the key as it is in
/// `api_key_header`.
fn key_of(cfg: &UpstreamConfig) -> Result<Option<String>, String> {
    Ok(match &cfg.api_key_file {
        Some(path) => Some(read_key_file(cfg, path)?),
        None => cfg
            .api_key_env
            .as_ref()
            .and_then(|v| std::env::var(v).ok())
            .filter(|k| !k.is_empty()),
    })
}

fn read_key_file(cfg: &UpstreamConfig, path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "upstream {}: cannot read api_key_file {}: {e}",
            cfg.url,
            path.display()
        )
    })?;
    let key = text.trim();
    if key.is_empty() {
        return Err(format!(
            "upstream {}: api_key_file {} is empty",
            cfg.url,
            path.display()
        ));
    }
    Ok(key.to_string())
}

/// The key as it goes on the wire, in `header`.
fn key_header_value(
    cfg: &UpstreamConfig,
    header: &HeaderName,
    key: &str,
) -> Result<(HeaderName, HeaderValue), String> {
    let text = match cfg.api_key_header {
        Some(_) => key.to_string(),
        None => format!("Bearer {key}"),
    };
    let mut v = HeaderValue::from_str(&text).map_err(|_| {
        format!(
            "upstream {}: its API key holds characters an HTTP header cannot carry",
            cfg.url
        )
    })?;
    v.set_sensitive(true);
    Ok((header.clone(), v))
}

impl Upstream {
    pub fn new(cfg: &UpstreamConfig) -> Result<Upstream, String> {
        let base = cfg.url.trim_end_matches('/').to_string();
        let probe = match format!("{base}/models").parse::<Uri>() {
            Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some() => u,
            _ => {
                return Err(format!(
                    "upstream `{}` is not an http:// or https:// base URL",
                    cfg.url
                ))
            }
        };
        let (transport, proxy) = match proxy_for(cfg, &probe)? {
            None => (Transport::Direct(direct_client(cfg)?), None),
            Some(proxy) => {
                let shown = without_credentials(&proxy);
                (
                    Transport::Proxied(proxied_client(cfg, &proxy)?),
                    Some(shown),
                )
            }
        };
        let key_header = match &cfg.api_key_header {
            Some(h) => HeaderName::from_bytes(h.as_bytes())
                .map_err(|_| format!("upstream {}: api_key_header `{h}` is invalid", cfg.url))?,
            None => AUTHORIZATION,
        };
        let key = key_of(cfg)?;
        let header = key
            .as_deref()
            .map(|k| key_header_value(cfg, &key_header, k))
            .transpose()?;
        Ok(Upstream {
            name: cfg.display_name(),
            base,
            key: ArcSwapOption::from_pointee(header),
            key_file_seen: Mutex::new(Ok(key.unwrap_or_default())),
            key_header,
            cfg: cfg.clone(),
            transport,
            proxy,
        })
    }

    /// Calls `BASE/path`. The upstream's own key goes with it (as a bearer token, or as it is in
    /// `api_key_header`); without one, in open mode only, the client's own key goes through in
    /// the same header. A Guardline client key never does. The reply's headers must come within
    /// the first-byte timeout, and everything within the total one.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Bytes,
        open: bool,
        client_headers: &HeaderMap,
    ) -> Result<Reply, Failure> {
        let deadline = Instant::now() + self.cfg.total_timeout();
        let uri: Uri = format!("{}/{path}", self.base)
            .parse()
            .map_err(|_| Failure::Connect)?;
        let mut headers = HeaderMap::with_capacity(2);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        match (
            &*self.key.load(),
            open,
            client_headers.get(&self.key_header),
        ) {
            (Some(k), _, _) => {
                headers.insert(k.0.clone(), k.1.clone());
            }
            (None, true, Some(theirs)) => {
                headers.insert(self.key_header.clone(), theirs.clone());
            }
            _ => {}
        }
        let first_byte = (Instant::now() + self.cfg.first_byte_timeout()).min(deadline);
        let timed_out = || {
            if first_byte < deadline {
                Failure::NoAnswer
            } else {
                Failure::TimedOut
            }
        };
        match &self.transport {
            Transport::Direct(client) => {
                let mut req = Request::new(Full::new(body));
                *req.method_mut() = method;
                *req.uri_mut() = uri;
                *req.headers_mut() = headers;
                match tokio::time::timeout_at(first_byte, client.request(req)).await {
                    Err(_) => Err(timed_out()),
                    Ok(Err(e)) if is_tls_refusal(&e) => Err(Failure::Untrusted),
                    Ok(Err(e)) if e.is_connect() => Err(Failure::Connect),
                    Ok(Err(_)) => Err(Failure::Failed),
                    Ok(Ok(r)) => {
                        let (parts, body) = r.into_parts();
                        Ok(Reply {
                            status: parts.status,
                            headers: parts.headers,
                            body: ReplyBody::Direct(body),
                            deadline,
                        })
                    }
                }
            }
            Transport::Proxied(client) => {
                let call = client
                    .request(method, uri.to_string())
                    .headers(headers)
                    .body(body)
                    .send();
                match tokio::time::timeout_at(first_byte, call).await {
                    Err(_) => Err(timed_out()),
                    Ok(Err(e)) if is_tls_refusal(&e) => Err(Failure::Untrusted),
                    Ok(Err(e)) if e.is_connect() => Err(Failure::Connect),
                    Ok(Err(_)) => Err(Failure::Failed),
                    Ok(Ok(r)) => Ok(Reply {
                        status: r.status(),
                        headers: r.headers().clone(),
                        body: ReplyBody::Proxied(r),
                        deadline,
                    }),
                }
            }
        }
    }
}

impl Upstream {
    /// Reads `api_key_file` again and, if it now holds another key, sends that from the next
    /// request on (a rotated secret takes effect without a restart or a signal). A file that
    /// cannot be read or is empty keeps the key in force. `Some` when something changed: the key
    /// (`Ok`), or the file became unreadable (`Err`, said once, not at every look).
    pub fn refresh_key(&self) -> Option<Result<(), String>> {
        let path = self.cfg.api_key_file.as_ref()?;
        let now = read_key_file(&self.cfg, path);
        let mut seen = self.key_file_seen.lock().unwrap_or_else(|p| p.into_inner());
        if *seen == now {
            return None;
        }
        *seen = now.clone();
        Some(now.and_then(|key| {
            let header = key_header_value(&self.cfg, &self.key_header, &key)?;
            self.key.store(Some(Arc::new(header)));
            Ok(())
        }))
    }
}

/// A TLS handshake that failed on the upstream's certificate (unknown issuer, wrong name,
/// expired): worth its own message, since the fix is configuration. Judged from the error chain's
/// text, which names the certificate problem but never any content.
fn is_tls_refusal(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        let text = s.to_string();
        if text.contains("certificate") || text.contains("UnknownIssuer") {
            return true;
        }
        source = s.source();
    }
    false
}

/// The default upstream and the routes by model name, built from one configuration.
pub struct Upstreams {
    pub(crate) default: Option<Arc<Upstream>>,
    pub(crate) routes: Vec<(GlobSet, Arc<Upstream>)>,
}

impl Upstreams {
    /// `upstream_override`: `--upstream` or `OPENAI_BASE_URL`, which win over the config file.
    pub fn build(config: &Config, upstream_override: Option<&str>) -> Result<Upstreams, String> {
        let default = match (upstream_override, &config.upstream) {
            (Some(url), Some(cfg)) => Some(UpstreamConfig {
                url: url.to_string(),
                ..cfg.clone()
            }),
            (Some(url), None) => Some(UpstreamConfig::from_url(url)),
            (None, cfg) => cfg.clone(),
        };
        let default = default
            .map(|u| Upstream::new(&u).map(Arc::new))
            .transpose()?;
        let mut routes = Vec::new();
        for r in &config.routes {
            let mut b = GlobSetBuilder::new();
            for g in &r.models {
                b.add(Glob::new(g).map_err(|e| e.to_string())?);
            }
            routes.push((
                b.build().map_err(|e| e.to_string())?,
                Arc::new(Upstream::new(&r.upstream)?),
            ));
        }
        Ok(Upstreams { default, routes })
    }

    /// Every upstream, the default first.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Upstream>> {
        self.default
            .iter()
            .chain(self.routes.iter().map(|(_, u)| u))
    }

    /// [`Upstream::refresh_key`] for each upstream that reads its key from a file; logs what
    /// changed (names only, never a key) and returns the names of upstreams with a new key.
    pub fn refresh_keys(&self) -> Vec<String> {
        let mut changed = Vec::new();
        for u in self.all() {
            match u.refresh_key() {
                None => {}
                Some(Ok(())) => {
                    tracing::info!(upstream = %u.name, "upstream API key reloaded from its api_key_file");
                    changed.push(u.name.clone());
                }
                Some(Err(e)) => {
                    tracing::error!(error = %e, "the upstream API key in force stays")
                }
            }
        }
        changed
    }

    /// The first route whose globs match the model, else the default.
    pub(crate) fn route(&self, model: &str) -> Option<&Arc<Upstream>> {
        self.routes
            .iter()
            .find(|(g, _)| g.is_match(model))
            .map(|(_, u)| u)
            .or(self.default.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_credentials_never_reach_a_message() {
        for (url, shown) in [
            ("http://user:secret@proxy:3128", "http://proxy:3128"),
            ("http://user:p@ss@proxy:3128/x", "http://proxy:3128/x"),
            ("http://proxy:3128", "http://proxy:3128"),
            ("http://proxy:3128/a@b", "http://proxy:3128/a@b"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(without_credentials(url), shown, "{url}");
        }
    }

    #[test]
    fn a_configured_proxy_wins_and_must_be_http() {
        let mut cfg = UpstreamConfig::from_url("https://api.example.com/v1");
        let probe: Uri = "https://api.example.com/v1/models".parse().unwrap();
        cfg.proxy = Some("http://proxy.internal:3128".into());
        assert_eq!(
            proxy_for(&cfg, &probe).unwrap().as_deref(),
            Some("http://proxy.internal:3128")
        );
        cfg.proxy = Some("socks9://proxy".into());
        assert!(proxy_for(&cfg, &probe).is_err());
        let _ = rustls::crypto::ring::default_provider().install_default();
        cfg.proxy = Some("http://proxy.internal:3128".into());
        let up = Upstream::new(&cfg).unwrap();
        assert!(matches!(up.transport, Transport::Proxied(_)));
        assert_eq!(up.proxy.as_deref(), Some("http://proxy.internal:3128"));
    }

    #[test]
    fn base_urls_are_checked_at_start() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        for bad in ["ftp://x/v1", "http://", "no scheme"] {
            let cfg = UpstreamConfig::from_url(bad);
            assert!(Upstream::new(&cfg).is_err(), "{bad}");
        }
    }
}
