//! The HTTP side: an OpenAI-compatible proxy that runs every request and reply through the
//! [`Guard`], labels what comes back, and records one ledger event per exchange.

// Helpers return a ready `Response` as their error so handlers can `return` it as it is; boxing
// it would only add noise on a path that is already an error.
#![allow(clippy::result_large_err)]

use crate::config::Config;
use crate::guard::{Checked, Guard};
use crate::keys::KeyStore;
use crate::limits::Limits;
use crate::surfaces::Endpoint;
use crate::upstream::{Upstream, Upstreams};
use crate::vault_store::{Scope, VaultStore};
use arc_swap::ArcSwap;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use guardline_detect::{Key, Vault};
use guardline_ledger::{Ledger, NewEvent};
use guardline_policy::{Decision, Policy, PolicySet, Stage};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

mod relay;
mod stored;
use relay::stream_reply;

/// Who is calling: the key's tenant and id (`open` without keys).
#[derive(Debug, Clone)]
struct Caller {
    tenant: String,
    key_id: String,
    admin: bool,
    /// Open mode: the client's own `Authorization` may go upstream.
    open: bool,
}

type Labels = Vec<(&'static str, String)>;

/// Prometheus metrics (`/metrics`): counters, and latency histograms, above all the time the
/// gateway adds to an exchange (its total minus the upstream's).
struct Metrics {
    registry: Registry,
    requests: Counter,
    decisions: Family<Labels, Counter>,
    upstream_errors: Counter,
    client_errors: Counter,
    vault_store_errors: Counter,
    findings: Family<Labels, Counter>,
    added: Family<Labels, Histogram>,
    upstream: Family<Labels, Histogram>,
    total: Family<Labels, Histogram>,
    ledger: Histogram,
    /// Set when scraped, from the limits in force (they change on reload).
    in_flight: Gauge,
    concurrency: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        fn seconds() -> Histogram {
            // 50 µs to ~100 s: the gateway's own time sits at the bottom, a model's at the top.
            Histogram::new(exponential_buckets(0.00005, 2.0, 22))
        }
        let mut registry = Registry::default();
        let requests = Counter::default();
        let decisions = Family::<Labels, Counter>::default();
        let upstream_errors = Counter::default();
        let client_errors = Counter::default();
        let vault_store_errors = Counter::default();
        let findings = Family::<Labels, Counter>::default();
        let added = Family::<Labels, Histogram>::new_with_constructor(seconds as fn() -> Histogram);
        let upstream =
            Family::<Labels, Histogram>::new_with_constructor(seconds as fn() -> Histogram);
        let total = Family::<Labels, Histogram>::new_with_constructor(seconds as fn() -> Histogram);
        let ledger = seconds();
        registry.register(
            "guardline_requests",
            "Model requests received",
            requests.clone(),
        );
        registry.register(
            "guardline_decisions",
            "Exchanges by decision",
            decisions.clone(),
        );
        registry.register(
            "guardline_upstream_errors",
            "Upstream failures (refused, timed out, cut, non-2xx)",
            upstream_errors.clone(),
        );
        registry.register(
            "guardline_client_errors",
            "Malformed, oversized, unauthorised or rate-limited requests",
            client_errors.clone(),
        );
        registry.register(
            "guardline_vault_store_errors",
            "Kept pseudonyms that could not be read, written or deleted ([vault] keep)",
            vault_store_errors.clone(),
        );
        registry.register(
            "guardline_findings",
            "Findings by stage and kind (never their content)",
            findings.clone(),
        );
        registry.register(
            "guardline_added_seconds",
            "Time the gateway added to a non-streamed exchange: total minus the upstream call",
            added.clone(),
        );
        registry.register(
            "guardline_upstream_seconds",
            "Upstream call, to its complete reply (non-streamed) or its first byte (streamed)",
            upstream.clone(),
        );
        registry.register(
            "guardline_ledger_append_seconds",
            "Recording an exchange in the ledger, before its reply goes out",
            ledger.clone(),
        );
        registry.register(
            "guardline_exchange_seconds",
            "Whole exchange, from the request's arrival to the reply (streamed: to its last byte)",
            total.clone(),
        );
        let in_flight = Gauge::default();
        let concurrency = Gauge::default();
        registry.register(
            "guardline_requests_in_flight",
            "Model requests holding a concurrency slot now (streams until their last byte)",
            in_flight.clone(),
        );
        registry.register(
            "guardline_concurrency_limit",
            "Model requests allowed in flight ([server] concurrency, as last reloaded)",
            concurrency.clone(),
        );
        Metrics {
            in_flight,
            concurrency,
            registry,
            requests,
            decisions,
            upstream_errors,
            client_errors,
            vault_store_errors,
            findings,
            added,
            upstream,
            total,
            ledger,
        }
    }
}

impl Metrics {
    /// Observes a finished exchange (just before its record goes to the ledger).
    fn exchange(&self, r: &Record) {
        let labels: Labels = vec![("endpoint", r.endpoint_label())];
        let total = r.started.elapsed();
        self.total
            .get_or_create(&labels)
            .observe(total.as_secs_f64());
        if let Some(up) = r.upstream_time {
            self.upstream
                .get_or_create(&labels)
                .observe(up.as_secs_f64());
            if !r.stream {
                self.added
                    .get_or_create(&labels)
                    .observe(total.saturating_sub(up).as_secs_f64());
            }
        }
        self.decisions
            .get_or_create(&vec![("decision", r.decision.as_str().to_string())])
            .inc();
        if let Some(c) = &r.request {
            for (kind, n) in c.counts() {
                self.findings
                    .get_or_create(&vec![("stage", "request".into()), ("kind", kind)])
                    .inc_by(n);
            }
        }
        for (kind, n) in &r.response_counts {
            self.findings
                .get_or_create(&vec![("stage", "response".into()), ("kind", kind.clone())])
                .inc_by(*n);
        }
    }
}

/// Everything a request needs; shared by all handlers.
pub struct Gateway {
    guard: Guard,
    /// Replaced whole on reload (SIGHUP): a request keeps the policy it started with.
    policies: ArcSwap<PolicySet>,
    /// Replaced whole on reload, like the policies.
    upstreams: ArcSwap<Upstreams>,
    ledger: Ledger,
    key: Key,
    /// `[server]` body, concurrency and rate limits; changed on reload (see [`Limits`]).
    limits: ArcSwap<Limits>,
    metrics: Metrics,
    /// Replaced whole when `client-keys.json` changes (`guardline keys create/revoke`).
    keys: ArcSwap<KeyStore>,
    /// Started without keys on loopback: open until the first key appears. A gateway that
    /// started with keys never falls back to open mode, even if every key is revoked.
    started_open: bool,
    /// This process, in its start, reload and stop records (`gli_` and 16 hex digits), so that
    /// `guardline report` can tell which gateway stopped when several share a ledger.
    instance: String,
    /// `[ledger] heartbeat_secs`: how often [`Gateway::record_heartbeat`] is due (0: never).
    heartbeat_secs: u64,
    /// `[vault] keep`: where the pseudonyms of stored responses and conversations are kept.
    vaults: Option<VaultStore>,
}

impl Gateway {
    /// `upstream_override`: `--upstream` or `OPENAI_BASE_URL`, which win over the config file.
    pub fn new(
        config: &Config,
        guard: Guard,
        policies: PolicySet,
        ledger: Ledger,
        key: Key,
        upstream_override: Option<&str>,
        keys: KeyStore,
    ) -> Result<Gateway, String> {
        let upstreams = Upstreams::build(config, upstream_override)?;
        Ok(Gateway {
            guard,
            policies: ArcSwap::from_pointee(policies),
            upstreams: ArcSwap::from_pointee(upstreams),
            ledger,
            key,
            limits: ArcSwap::from_pointee(Limits::new(&config.server)?),
            metrics: Metrics::default(),
            started_open: keys.is_empty(),
            keys: ArcSwap::from_pointee(keys),
            instance: format!("gli_{}", &new_request_id()[4..20]),
            heartbeat_secs: config.ledger.heartbeat_secs,
            vaults: None,
        })
    }

    /// Keeps the pseudonyms of stored responses and conversations in `store` (`[vault] keep`).
    pub fn keep_vaults(mut self, store: VaultStore) -> Gateway {
        self.vaults = Some(store);
        self
    }

    /// Adds to `vault` the tokens kept for `scope` (nothing without `[vault] keep`). A store that
    /// fails costs only restoration: logged and counted, never the request.
    async fn recall(&self, tenant: &str, scope: Scope<'_>, vault: &mut Vault) {
        if let Some(store) = &self.vaults {
            if let Err(e) = store.load(tenant, scope, vault).await {
                self.metrics.vault_store_errors.inc();
                tracing::warn!(error = %e, "kept pseudonyms could not be read");
            }
        }
    }

    /// Keeps `vault`'s tokens for `scope` (see [`Gateway::recall`]).
    async fn keep(&self, tenant: &str, scope: Scope<'_>, vault: &Vault) {
        if let Some(store) = &self.vaults {
            if let Err(e) = store.keep(tenant, scope, vault).await {
                self.metrics.vault_store_errors.inc();
                tracing::warn!(error = %e, "pseudonyms could not be kept");
            }
        }
    }

    /// Deletes what is kept for `scope` (it was deleted upstream).
    async fn forget(&self, tenant: &str, scope: Scope<'_>) {
        if let Some(store) = &self.vaults {
            if let Err(e) = store.forget(tenant, scope).await {
                self.metrics.vault_store_errors.inc();
                tracing::warn!(error = %e, "kept pseudonyms could not be deleted");
            }
        }
    }

    /// Records what this gateway enforces (`config_change`, `change = "gateway_start"`): the
    /// policy summary per tenant and the access mode. `guardline report` reads the latest one as
    /// evidence of the controls in force (PDP-01, PDP-02, PDP-03, SEC-02, USR-02, TIER-L1).
    pub async fn record_start(
        &self,
    ) -> Result<guardline_ledger::Receipt, guardline_ledger::LedgerError> {
        self.record_config("gateway_start").await
    }

    /// Records that this gateway stopped (`config_change`, `change = "gateway_stop"`, on a
    /// graceful shutdown): from then on `guardline report` no longer counts it as enforcing its
    /// policy. A gateway that is killed writes nothing; it counts until it has missed two
    /// heartbeats ([`Gateway::record_heartbeat`]).
    pub async fn record_stop(
        &self,
    ) -> Result<guardline_ledger::Receipt, guardline_ledger::LedgerError> {
        self.record_config("gateway_stop").await
    }

    /// Records that this gateway still runs (`config_change`, `change = "gateway_heartbeat"`),
    /// every `[ledger] heartbeat_secs`: a gateway that is killed cannot record its stop, and
    /// `guardline report` stops crediting one that has missed two heartbeats.
    pub async fn record_heartbeat(
        &self,
    ) -> Result<guardline_ledger::Receipt, guardline_ledger::LedgerError> {
        let body = json!({
            "change": "gateway_heartbeat",
            "instance": self.instance,
            "heartbeat_secs": self.heartbeat_secs,
        });
        self.ledger
            .append(NewEvent::new("config_change", body))
            .await
    }

    /// How often [`Gateway::record_heartbeat`] is due; `None` when heartbeats are off.
    pub fn heartbeat(&self) -> Option<std::time::Duration> {
        (self.heartbeat_secs > 0).then(|| std::time::Duration::from_secs(self.heartbeat_secs))
    }

    /// A `config_change` record of what is enforced now; `change` says why it was written.
    async fn record_config(
        &self,
        change: &str,
    ) -> Result<guardline_ledger::Receipt, guardline_ledger::LedgerError> {
        let set = self.policies.load();
        let mut policies = Map::new();
        policies.insert("default".into(), set.default.summary());
        for (t, p) in &set.tenants {
            policies.insert(t.clone(), p.summary());
        }
        let ups = self.upstreams.load();
        let upstreams: Vec<&str> = ups.all().map(|u| u.name.as_str()).collect();
        let mut body = json!({
            "change": change,
            "instance": self.instance,
            "upstreams": upstreams,
            "access": if self.open_mode() { "open" } else { "keys" },
            "keys": self.keys.load().keys.len(),
            "labels": ["x-guardline-ai-generated", "x-guardline-request-id", "x-guardline-decision"],
            "policies": policies,
            "limits": self.limits.load().summary(),
            "kept_pseudonyms": self.vaults.as_ref().map(|v| json!({
                "store": v.shown(),
                "keep_days": v.ttl().as_secs() / 86_400,
            })),
            "version": env!("CARGO_PKG_VERSION"),
        });
        if self.heartbeat_secs > 0 {
            // What `guardline report` expects from this instance from now on.
            body["heartbeat_secs"] = json!(self.heartbeat_secs);
        }
        self.ledger
            .append(NewEvent::new("config_change", body))
            .await
    }

    /// Open mode: the gateway started with no client keys (so on loopback only) and none has
    /// been created since.
    pub fn open_mode(&self) -> bool {
        self.started_open && self.keys.load().is_empty()
    }

    /// Replaces the client keys (the store was edited by `guardline keys`); returns whether
    /// anything changed. Requests already admitted finish under the keys they came in with.
    pub fn set_keys(&self, keys: KeyStore) -> bool {
        let old = self.keys.load();
        if old.keys == keys.keys {
            return false;
        }
        let was_open = self.open_mode();
        tracing::info!(
            before = old.keys.len(),
            after = keys.keys.len(),
            "client keys reloaded"
        );
        self.keys.store(Arc::new(keys));
        if was_open && !self.open_mode() {
            tracing::warn!("a client key now exists: open mode ends, every request needs a key");
        }
        if !self.started_open && self.keys.load().is_empty() {
            tracing::warn!(
                "every client key was revoked: all model requests are refused until one is \
                 created (a gateway that started with keys never reopens)"
            );
        }
        true
    }

    /// Replaces the policies (reloaded from their files) and records the change in the ledger
    /// (`config_change`, `change = "gateway_reload"`), so the evidence shows when each policy
    /// came into force. Requests in flight finish under the policy they started with.
    pub async fn set_policies(
        &self,
        policies: PolicySet,
    ) -> Result<guardline_ledger::Receipt, guardline_ledger::LedgerError> {
        self.policies.store(Arc::new(policies));
        self.record_config("gateway_reload").await
    }

    /// Checks the bearer key (unless in open mode) and the caller's rate limit.
    async fn authorize(&self, headers: &HeaderMap, admin: bool) -> Result<Caller, Response> {
        let caller = self.authenticate(headers, admin)?;
        let limiter = self.limits.load().limiter.clone();
        if let Some(l) = limiter {
            match l.check(&caller.key_id).await {
                crate::rate::Verdict::Admit => {}
                crate::rate::Verdict::Refuse(wait) => {
                    self.metrics.client_errors.inc();
                    let mut r = error(
                        StatusCode::TOO_MANY_REQUESTS,
                        "rate_limit_exceeded",
                        "requests",
                        "rate limit for this key exceeded; slow down",
                    );
                    // What OpenAI's SDKs wait for before they retry (`retry-after-ms` first).
                    let h = r.headers_mut();
                    h.insert(
                        "retry-after-ms",
                        HeaderValue::from(wait.as_millis().max(1) as u64),
                    );
                    h.insert(
                        "retry-after",
                        HeaderValue::from(wait.as_secs_f64().ceil().max(1.0) as u64),
                    );
                    return Err(r);
                }
                crate::rate::Verdict::Unavailable(why) => {
                    return Err(error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "rate_limiter_unavailable",
                        "server_error",
                        &format!(
                            "the shared rate limiter does not answer ({why}), so the request is \
                             refused"
                        ),
                    ));
                }
            }
        }
        Ok(caller)
    }

    /// The bearer key (unless in open mode), and whether it may reach an admin endpoint.
    fn authenticate(&self, headers: &HeaderMap, admin: bool) -> Result<Caller, Response> {
        // `open_mode()`, on the one copy of the keys this request is checked against.
        let keys = self.keys.load();
        let caller = if self.started_open && keys.is_empty() {
            Caller {
                tenant: "default".into(),
                key_id: "open".into(),
                admin: true,
                open: true,
            }
        } else {
            let bearer = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map(str::trim);
            let Some(k) = bearer.and_then(|b| keys.authenticate(b)) else {
                self.metrics.client_errors.inc();
                return Err(error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_api_key",
                    "invalid_request_error",
                    "missing or unknown API key: send `Authorization: Bearer gl_…` with a key from \
                     `guardline keys create`",
                ));
            };
            Caller {
                tenant: k.tenant.clone(),
                key_id: k.id.clone(),
                admin: k.admin,
                open: false,
            }
        };
        if admin && !caller.admin {
            return Err(error(
                StatusCode::FORBIDDEN,
                "admin_only",
                "invalid_request_error",
                "this endpoint needs an admin key (`guardline keys create --admin`)",
            ));
        }
        Ok(caller)
    }

    /// Where pseudonyms are kept between requests (`[vault] keep`), if anywhere: for the
    /// start-up banner.
    pub fn kept_pseudonyms(&self) -> Option<&str> {
        self.vaults.as_ref().map(VaultStore::shown)
    }

    /// For the start-up banner.
    pub fn upstream_summary(&self) -> String {
        let u = self.upstreams.load();
        let shown = |u: &Upstream, routed: bool| {
            let mut s = u.base.clone();
            if let Some(p) = &u.proxy {
                s.push_str(&format!(" via proxy {p}"));
            }
            if routed {
                s.push_str(" (routed)");
            }
            s
        };
        let mut parts: Vec<String> = u.default.iter().map(|u| shown(u, false)).collect();
        parts.extend(u.routes.iter().map(|(_, u)| shown(u, true)));
        if parts.is_empty() {
            "none (model calls answer 503; /v1/guard works)".into()
        } else {
            parts.join(", ")
        }
    }

    /// Applies `[server]`'s limits from a reloaded config (all but `listen`, which needs a
    /// restart); returns whether any changed. Requests in flight keep their place, but a lower
    /// concurrency admits nothing new until fewer are in flight; a new rate quota starts every key
    /// with a full burst.
    pub fn set_limits(&self, server: &crate::config::ServerConfig) -> bool {
        let old = self.limits.load();
        // Before `reloaded`, which resizes the slots the old and new limits share.
        let before = old.summary();
        let new = match old.reloaded(server) {
            Ok(l) => l,
            // Config loading refuses such a URL first; should one get here, keep the old limits.
            Err(e) => {
                tracing::error!(error = %e, "server limits not reloaded");
                return false;
            }
        };
        let changed = new.summary() != before;
        if changed {
            tracing::info!(limits = %new.summary(), "server limits reloaded");
        }
        self.limits.store(Arc::new(new));
        changed
    }

    /// Replaces the upstreams and routes (the config file was reloaded). Requests in flight
    /// finish on the upstream they started with.
    pub fn set_upstreams(&self, upstreams: Upstreams) {
        self.upstreams.store(Arc::new(upstreams));
    }

    fn route(&self, model: &str) -> Option<Arc<Upstream>> {
        self.upstreams.load().route(model).cloned()
    }

    /// Reads the upstreams' `api_key_file`s again; a key that changed is in force from the next
    /// request, and the rotation is recorded (`config_change`, `change = "upstream_key_reloaded"`,
    /// the upstream's name; never the key).
    pub async fn refresh_upstream_keys(&self) {
        let changed = self.upstreams.load().refresh_keys();
        for name in changed {
            let body = json!({"change": "upstream_key_reloaded", "upstream": name});
            if let Err(e) = self
                .ledger
                .append(NewEvent::new("config_change", body))
                .await
            {
                tracing::error!(error = %e, "cannot record an upstream key reload");
            }
        }
    }

    /// A keyed hash of content (the serialised body), for joining records without keeping the
    /// content.
    fn content_hash(&self, bytes: &[u8]) -> String {
        blake3::keyed_hash(self.key.as_bytes(), bytes).to_hex()[..32].to_string()
    }
}

/// The router: OpenAI-compatible paths, the guard API, health and metrics.
pub fn router(gw: Arc<Gateway>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/moderations", post(moderations))
        .route("/v1/responses", post(responses))
        .route(
            "/v1/responses/{id}",
            get(stored::retrieve).delete(stored::delete),
        )
        .route("/v1/responses/{id}/cancel", post(stored::cancel))
        .route("/v1/responses/{id}/input_items", get(stored::input_items))
        .route("/v1/conversations", post(stored::conversation_create))
        .route(
            "/v1/conversations/{id}",
            get(stored::conversation)
                .post(stored::conversation)
                .delete(stored::conversation),
        )
        .route(
            "/v1/conversations/{id}/items",
            get(stored::conversation_items).post(stored::conversation_items),
        )
        .route(
            "/v1/conversations/{id}/items/{item}",
            get(stored::conversation_item).delete(stored::conversation_item),
        )
        .route("/v1/models", get(models))
        .route("/v1/models/{*id}", get(model))
        .route("/v1/guard", post(guard_api))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/admin/policy", get(admin_policy))
        .route("/admin/ledger", get(admin_ledger))
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "not_found",
                "invalid_request_error",
                "no such endpoint; Guardline serves /v1/chat/completions, /v1/completions, \
                 /v1/responses (and its stored responses), /v1/conversations, /v1/embeddings, \
                 /v1/moderations, /v1/models and /v1/guard",
            )
        })
        .with_state(gw)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
}

/// A bug must not look like a dropped connection, nor wave a request through: a panic while
/// handling a request becomes a clean, OpenAI-shaped 500 (the request went no further than the
/// panic; nothing is released unchecked). No panic payload reaches the client or the log: it may
/// quote content.
pub fn panic_response(_payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked; answered 500");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "server_error",
        "Guardline failed to check this request and refused it (fail closed); the failure is \
         logged without content",
    )
}

/// An OpenAI-shaped error.
fn error(status: StatusCode, code: &str, kind: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": kind, "code": code}})),
    )
        .into_response()
}

/// `glr_` and 24 hex digits: a keyed hash of a per-process counter under a random key, so ids
/// are unique, unguessable and say nothing about request volume, without a system call each.
fn new_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let key = KEY.get_or_init(|| {
        let mut k = [0u8; 32];
        if getrandom::fill(&mut k).is_err() {
            // No entropy source: still unique within the process, and the time separates
            // processes.
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            k[..16].copy_from_slice(&t.as_nanos().to_le_bytes());
            k[16..20].copy_from_slice(&std::process::id().to_le_bytes());
        }
        k
    });
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let h = blake3::keyed_hash(key, &n.to_le_bytes());
    format!("glr_{}", hex::encode(&h.as_bytes()[..12]))
}

fn label(mut resp: Response, request_id: &str, decision: Decision, ai: bool) -> Response {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-guardline-request-id", v);
    }
    h.insert(
        "x-guardline-decision",
        HeaderValue::from_static(decision.as_str()),
    );
    if ai {
        h.insert("x-guardline-ai-generated", HeaderValue::from_static("true"));
    }
    resp
}

async fn read_body(gw: &Gateway, body: Body) -> Result<Bytes, Response> {
    let limit = gw.limits.load().body_limit;
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            "invalid_request_error",
            &format!("request body is larger than {limit} bytes"),
        )
    };
    // A declared length (`content-length`) over the limit is refused before any of it is read.
    if axum::body::HttpBody::size_hint(&body).lower() > limit as u64 {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())
}

fn parse_json(bytes: &[u8]) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "invalid_request_error",
            "request body must be a JSON object",
        )),
        Err(e) => Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "invalid_request_error",
            &format!("request body is not valid JSON: {e}"),
        )),
    }
}

async fn chat(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Body) -> Response {
    exchange(
        gw,
        Endpoint::ChatCompletions,
        "chat/completions",
        headers,
        body,
    )
    .await
}

async fn completions(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Body) -> Response {
    exchange(gw, Endpoint::Completions, "completions", headers, body).await
}

async fn embeddings(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Body) -> Response {
    exchange(gw, Endpoint::Embeddings, "embeddings", headers, body).await
}

/// OpenAI's default for `/v1/moderations` requests without a `model`: what routing goes by (the
/// request itself goes out without one, as it came).
const DEFAULT_MODERATION_MODEL: &str = "omni-moderation-latest";

async fn moderations(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Body) -> Response {
    exchange(gw, Endpoint::Moderations, "moderations", headers, body).await
}

async fn responses(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Body) -> Response {
    exchange(gw, Endpoint::Responses, "responses", headers, body).await
}

/// Where a Responses API call's tokens are kept (`[vault] keep`): under the response it makes,
/// unless `store` is false, and under its conversation, if it names one; and where earlier tokens
/// are found: the response it continues from (`previous_response_id`) and its conversation.
struct KeepPlan {
    tenant: String,
    response: bool,
    conversation: Option<String>,
}

impl KeepPlan {
    /// `None` without a store to keep in.
    fn of(gw: &Gateway, tenant: &str, req: &Value) -> Option<KeepPlan> {
        gw.vaults.as_ref()?;
        // `"conversation": "conv_…"` or `{"id": "conv_…"}`.
        let conversation = match req.get("conversation") {
            Some(Value::String(id)) => Some(id.as_str()),
            Some(c) => c.get("id").and_then(Value::as_str),
            None => None,
        }
        .filter(|id| stored::valid_id(id))
        .map(String::from);
        Some(KeepPlan {
            tenant: tenant.to_string(),
            response: req.get("store") != Some(&Value::Bool(false)),
            conversation,
        })
    }

    async fn recall(&self, gw: &Gateway, req: &Value, vault: &mut Vault) {
        if let Some(prev) = req
            .get("previous_response_id")
            .and_then(Value::as_str)
            .filter(|id| stored::valid_id(id))
        {
            gw.recall(&self.tenant, Scope::Response(prev), vault).await;
        }
        if let Some(c) = &self.conversation {
            gw.recall(&self.tenant, Scope::Conversation(c), vault).await;
        }
    }

    /// Keeps `vault` once the reply has named its response (`response_id`).
    async fn run(&self, gw: &Gateway, response_id: Option<&str>, vault: &Vault) {
        if vault.is_empty() {
            return;
        }
        if let Some(id) = response_id.filter(|id| self.response && stored::valid_id(id)) {
            gw.keep(&self.tenant, Scope::Response(id), vault).await;
        }
        if let Some(c) = &self.conversation {
            gw.keep(&self.tenant, Scope::Conversation(c), vault).await;
        }
    }
}

/// What the ledger keeps of one exchange: kinds, counts, rules, keyed hashes, timings.
struct Record {
    request_id: String,
    tenant: String,
    key_id: String,
    endpoint: Endpoint,
    model: String,
    upstream: Option<String>,
    stream: bool,
    request: Option<Checked>,
    response_counts: BTreeMap<String, u64>,
    response_rules: Vec<String>,
    decision: Decision,
    status: u16,
    content_hash: Option<String>,
    /// When the handler began (before the body was read and checked).
    started: Instant,
    /// The upstream call: to its complete reply, or to its first byte when streamed.
    upstream_time: Option<std::time::Duration>,
    note: Option<String>,
    /// Whether the reply may carry the policy's visible disclosure: not when the caller asked
    /// for structured output (JSON a program parses). Not recorded.
    disclose: bool,
    /// What a call on a stored object did (`retrieve`, `cancel`, `delete`, `input_items`,
    /// `items.list`, …); `None` for the model calls of every endpoint.
    operation: Option<&'static str>,
}

impl Record {
    /// The record of one call by `caller`, before anything is known of how it ends.
    fn new(request_id: &str, caller: &Caller, endpoint: Endpoint, started: Instant) -> Record {
        Record {
            request_id: request_id.to_string(),
            tenant: caller.tenant.clone(),
            key_id: caller.key_id.clone(),
            endpoint,
            model: String::new(),
            upstream: None,
            stream: false,
            request: None,
            response_counts: BTreeMap::new(),
            response_rules: Vec::new(),
            decision: Decision::Allow,
            status: 200,
            content_hash: None,
            started,
            upstream_time: None,
            note: None,
            disclose: true,
            operation: None,
        }
    }

    /// The endpoint, and the operation on a stored object if any (`responses.retrieve`): the
    /// metrics' `endpoint` label.
    fn endpoint_label(&self) -> String {
        match self.operation {
            Some(op) => format!("{}.{op}", self.endpoint.as_str()),
            None => self.endpoint.as_str().to_string(),
        }
    }

    fn event(&self) -> NewEvent {
        let mut rules: Vec<String> = self
            .request
            .iter()
            .flat_map(|c| c.findings.iter().filter_map(|f| f.rule.clone()))
            .collect();
        rules.sort_unstable();
        rules.dedup();
        let mut body = json!({
            "request_id": self.request_id,
            "key_id": self.key_id,
            "endpoint": self.endpoint.as_str(),
            "model": self.model,
            "stream": self.stream,
            "decision": self.decision.as_str(),
            "status": self.status,
            "request": {
                "findings": self.request.as_ref().map(Checked::counts).unwrap_or_default(),
                "rules": rules,
            },
            "response": {
                "findings": self.response_counts,
                "rules": self.response_rules,
            },
            "timing_ms": {
                "total": self.started.elapsed().as_millis() as u64,
            },
        });
        if let Some(u) = &self.upstream {
            body["upstream"] = json!(u);
        }
        if let Some(t) = self.upstream_time {
            body["timing_ms"]["upstream"] = json!(t.as_millis() as u64);
        }
        if let Some(h) = &self.content_hash {
            body["content_hmac"] = json!(h);
        }
        if let Some(n) = &self.note {
            body["note"] = json!(n);
        }
        if let Some(op) = self.operation {
            body["operation"] = json!(op);
        }
        NewEvent::new("exchange", body).tenant(self.tenant.clone())
    }
}

async fn exchange(
    gw: Arc<Gateway>,
    endpoint: Endpoint,
    path: &'static str,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let request_id = new_request_id();
    gw.metrics.requests.inc();
    let caller = match gw.authorize(&headers, false).await {
        Ok(c) => c,
        Err(r) => return label(r, &request_id, Decision::Block, false),
    };
    let slots = gw.limits.load().slots.clone();
    let permit = match slots.acquire().await {
        Some(p) => p,
        None => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "server_error",
                "the gateway is shutting down",
            )
        }
    };
    let mut req = match read_request(&gw, body, &request_id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    // A moderation request may leave the model to the upstream; routes see its default name.
    let model = match req.get("model").and_then(Value::as_str) {
        Some(m) => Some(m.to_string()),
        None if endpoint == Endpoint::Moderations && req.get("model").is_none() => {
            Some(DEFAULT_MODERATION_MODEL.to_string())
        }
        None => None,
    };
    let Some(model) = model else {
        gw.metrics.client_errors.inc();
        return label(
            error(
                StatusCode::BAD_REQUEST,
                "missing_model",
                "invalid_request_error",
                "`model` is required",
            ),
            &request_id,
            Decision::Block,
            false,
        );
    };
    let stream = endpoint.generates() && req.get("stream") == Some(&Value::Bool(true));
    let policy = gw.policies.load().for_tenant(&caller.tenant).clone();
    let mut vault = Vault::new();
    let keep = match endpoint {
        Endpoint::Responses => KeepPlan::of(&gw, &caller.tenant, &req),
        _ => None,
    };
    if let Some(k) = &keep {
        // A call that continues from history the upstream keeps gets its tokens back too.
        k.recall(&gw, &req, &mut vault).await;
    }
    let checked = gw.guard.request(&policy, endpoint, &mut req, &mut vault);
    // Serialised once: hashed for the record, and (unless blocked) the body sent upstream.
    let sent = match serialise_checked(&req, &request_id) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut record = Record::new(&request_id, &caller, endpoint, started);
    record.model = model.clone();
    record.stream = stream;
    record.decision = checked.verdict.decision;
    record.content_hash = Some(gw.content_hash(&sent));
    record.disclose = !crate::surfaces::structured_output(&req);
    if checked.verdict.decision == Decision::Block {
        return refuse_blocked(&gw, record, checked, &policy).await;
    }

    let Some(upstream) = gw.route(&model) else {
        record.request = Some(checked);
        let message = format!(
            "no upstream for model `{model}`: start with --upstream URL, set [upstream] url in \
             guardline.toml, or set OPENAI_BASE_URL (/v1/guard works without one)"
        );
        return no_upstream(&gw, record, &message).await;
    };
    record.upstream = Some(upstream.name.clone());
    record.request = Some(checked);

    let t0 = Instant::now();
    let resp = match upstream
        .call(Method::POST, path, Bytes::from(sent), caller.open, &headers)
        .await
    {
        Ok(r) => r,
        Err(f) => return upstream_failure(&gw, record, f.status(), f.message()).await,
    };
    record.upstream_time = Some(t0.elapsed());
    let status = resp.status;
    let is_sse = resp.is_event_stream();

    if !status.is_success() {
        return upstream_error(&gw, record, &request_id, resp).await;
    }

    if stream && is_sse {
        return stream_reply(gw, record, request_id, policy, vault, resp, permit, keep);
    }
    drop(permit);

    let bytes = match resp.bytes().await {
        Ok(b) => b,
        Err(f) => return upstream_failure(&gw, record, f.status(), f.message()).await,
    };
    let mut reply: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(_) => {
            return upstream_failure(&gw, record, 502, "the upstream reply is not JSON").await
        }
    };
    let out = gw.guard.response(&policy, endpoint, &mut reply, &mut vault);
    if endpoint == Endpoint::Responses {
        restore_echoed_instructions(&mut reply, &vault);
    }
    if let Some(k) = &keep {
        k.run(&gw, reply.get("id").and_then(Value::as_str), &vault)
            .await;
    }
    record.response_counts = out.counts();
    record.response_rules = rules_of(&out);
    let decision = record.decision.max(out.verdict.decision);
    record.decision = decision;
    if decision == Decision::Block {
        return refuse_reply(&gw, record, &policy, "the model's reply").await;
    }
    if let Some(text) = policy.disclosure.as_ref().filter(|_| record.disclose) {
        disclose(endpoint, &mut reply, text);
    }
    if let Err(r) = commit(&gw, &record, &request_id).await {
        return r;
    }
    label(
        Json(reply).into_response(),
        &request_id,
        decision,
        endpoint.generates(),
    )
}

/// The upstream's own error (OpenAI-shaped), passed through with its status and recorded; it is
/// not model output.
async fn upstream_error(
    gw: &Gateway,
    mut record: Record,
    request_id: &str,
    resp: crate::upstream::Reply,
) -> Response {
    let status = resp.status;
    record.status = status.as_u16();
    record.note = Some("upstream error".into());
    gw.metrics.upstream_errors.inc();
    let body = resp.bytes().await.unwrap_or_default();
    if let Err(r) = commit(gw, &record, request_id).await {
        return r;
    }
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    label(r, request_id, record.decision, false)
}

/// The request body as a JSON object; otherwise a labelled 413 or 400, counted as a client error.
async fn read_request(gw: &Gateway, body: Body, request_id: &str) -> Result<Value, Response> {
    let parsed = match read_body(gw, body).await {
        Ok(bytes) => parse_json(&bytes),
        Err(r) => Err(r),
    };
    parsed.map(Value::Object).map_err(|r| {
        gw.metrics.client_errors.inc();
        label(r, request_id, Decision::Block, false)
    })
}

/// The checked request as it goes upstream: serialised from the checked value, never from the
/// bytes that came in, so what was checked is what goes (a body with duplicate keys, say, is
/// read one way here and could be read another way there).
fn serialise_checked(req: &Value, request_id: &str) -> Result<Vec<u8>, Response> {
    // Cannot fail for a parsed `Value`; if it did, nothing unchecked would go out.
    serde_json::to_vec(req).map_err(|_| {
        label(
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "server_error",
                "the checked request could not be serialised",
            ),
            request_id,
            Decision::Block,
            false,
        )
    })
}

/// Records a request the policy blocked, and answers 403 with the rules and kinds that blocked
/// it. Nothing went upstream.
async fn refuse_blocked(
    gw: &Gateway,
    mut record: Record,
    checked: Checked,
    policy: &Policy,
) -> Response {
    let rules = checked.verdict.blocking_rules().join(", ");
    let mut kinds: Vec<String> = checked
        .findings
        .iter()
        .filter(|f| f.action == guardline_policy::Action::Block)
        .map(|f| f.kind.to_string())
        .collect();
    kinds.dedup();
    let message = format!(
        "blocked by policy {}: rule {rules} ({}); request {}",
        policy.name,
        kinds.join(", "),
        record.request_id
    );
    record.decision = Decision::Block;
    record.request = Some(checked);
    recorded_error(
        gw,
        record,
        StatusCode::FORBIDDEN,
        "blocked_by_policy",
        "guardline_policy",
        &message,
    )
    .await
}

/// Records the call with `status`, and answers that OpenAI-shaped error, labelled with the
/// record's decision (or the ledger's own error, if the record could not be written).
async fn recorded_error(
    gw: &Gateway,
    mut record: Record,
    status: StatusCode,
    code: &str,
    kind: &str,
    message: &str,
) -> Response {
    record.status = status.as_u16();
    if let Err(r) = commit(gw, &record, &record.request_id).await {
        return r;
    }
    label(
        error(status, code, kind, message),
        &record.request_id,
        record.decision,
        false,
    )
}

/// Records a call that found no upstream to go to, and answers 503 with `message`.
async fn no_upstream(gw: &Gateway, mut record: Record, message: &str) -> Response {
    record.note = Some("no upstream configured".into());
    recorded_error(
        gw,
        record,
        StatusCode::SERVICE_UNAVAILABLE,
        "no_upstream",
        "server_error",
        message,
    )
    .await
}

/// Records a reply the policy blocked, and answers 403: the client gets none of `what`.
async fn refuse_reply(gw: &Gateway, mut record: Record, policy: &Policy, what: &str) -> Response {
    let message = format!(
        "{what} was blocked by policy {}; request {}",
        policy.name, record.request_id
    );
    record.decision = Decision::Block;
    recorded_error(
        gw,
        record,
        StatusCode::FORBIDDEN,
        "reply_blocked_by_policy",
        "guardline_policy",
        &message,
    )
    .await
}

fn rules_of(c: &Checked) -> Vec<String> {
    let mut v: Vec<String> = c.findings.iter().filter_map(|f| f.rule.clone()).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// A Responses API reply echoes the request's `instructions` as the upstream received them
/// (pseudonymised): the client gets its own text back. Restored only: it was checked as part of
/// the request, and is not the model's output.
pub(crate) fn restore_echoed_instructions(response: &mut Value, vault: &Vault) {
    if let Some(Value::String(s)) = response.get_mut("instructions") {
        *s = vault.restore_str(s);
    }
}

/// Appends the visible disclosure to every assistant text in a reply.
fn disclose(endpoint: Endpoint, reply: &mut Value, text: &str) {
    if endpoint == Endpoint::Responses {
        // The last text part of each message item.
        let items = reply.get_mut("output").and_then(Value::as_array_mut);
        for item in items.into_iter().flatten() {
            if item.get("type").and_then(Value::as_str) != Some("message") {
                continue;
            }
            let parts = item.get_mut("content").and_then(Value::as_array_mut);
            let last = parts.into_iter().flatten().rev().find_map(|p| {
                (p.get("type").and_then(Value::as_str) == Some("output_text"))
                    .then(|| p.get_mut("text"))
                    .flatten()
            });
            if let Some(Value::String(s)) = last {
                s.push_str(text);
            }
        }
        return;
    }
    let Some(choices) = reply.get_mut("choices").and_then(Value::as_array_mut) else {
        return;
    };
    for c in choices {
        let slot = match endpoint {
            Endpoint::ChatCompletions => crate::surfaces::lookup_mut(c, "/message/content"),
            Endpoint::Completions => c.get_mut("text"),
            Endpoint::Embeddings
            | Endpoint::Responses
            | Endpoint::Conversations
            | Endpoint::Moderations => None,
        };
        if let Some(Value::String(s)) = slot {
            s.push_str(text);
        }
    }
}

/// Records the exchange; if that fails, the client gets an error rather than an unrecorded answer.
async fn commit(gw: &Gateway, record: &Record, request_id: &str) -> Result<(), Response> {
    let t = Instant::now();
    let appended = gw.ledger.append(record.event()).await;
    gw.metrics.ledger.observe(t.elapsed().as_secs_f64());
    // After the append: the time the gateway adds includes recording the exchange.
    gw.metrics.exchange(record);
    match appended {
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::error!(request_id, error = %e, "cannot record the exchange");
            Err(label(
                error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ledger_unavailable",
                    "server_error",
                    &format!("the exchange could not be recorded, so it is refused; request {request_id}"),
                ),
                request_id,
                Decision::Block,
                false,
            ))
        }
    }
}

async fn upstream_failure(gw: &Gateway, mut record: Record, status: u16, what: &str) -> Response {
    gw.metrics.upstream_errors.inc();
    record.note = Some(what.to_string());
    let message = format!(
        "{what} ({}); request {}",
        record.upstream.as_deref().unwrap_or("?"),
        record.request_id
    );
    let code = if status == 504 {
        "upstream_timeout"
    } else {
        "upstream_error"
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    recorded_error(gw, record, status, code, "upstream_error", &message).await
}

async fn models(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let request_id = new_request_id();
    let caller = match gw.authorize(&headers, false).await {
        Ok(c) => c,
        Err(r) => return label(r, &request_id, Decision::Block, false),
    };
    let Some(up) = gw.upstreams.load().default.clone() else {
        let ids: Vec<Value> = Vec::new();
        return label(
            Json(json!({"object": "list", "data": ids})).into_response(),
            &request_id,
            Decision::Allow,
            false,
        );
    };
    pass_through(&up, "models", &caller, &headers, &request_id).await
}

/// `GET /v1/models/{id}`: asked of the upstream that serves that model. Ids may hold `/`
/// (`meta-llama/Llama-3.1-8B` on vLLM), not `.` or `..` segments.
async fn model(
    State(gw): State<Arc<Gateway>>,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    let request_id = new_request_id();
    let caller = match gw.authorize(&headers, false).await {
        Ok(c) => c,
        Err(r) => return label(r, &request_id, Decision::Block, false),
    };
    let valid = !id.is_empty()
        && id.len() <= 256
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/@+".contains(&b))
        && id.split('/').all(|seg| !matches!(seg, "" | "." | ".."));
    if !valid {
        return label(
            error(
                StatusCode::BAD_REQUEST,
                "invalid_model",
                "invalid_request_error",
                "a model id has letters, digits and `-_.:/@+`, and no empty, `.` or `..` segment",
            ),
            &request_id,
            Decision::Block,
            false,
        );
    }
    let Some(up) = gw.route(&id) else {
        return label(
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_upstream",
                "server_error",
                &format!("no upstream for model `{id}`"),
            ),
            &request_id,
            Decision::Allow,
            false,
        );
    };
    pass_through(&up, &format!("models/{id}"), &caller, &headers, &request_id).await
}

/// A `GET` whose answer holds no text to check (model lists and cards), passed through with its
/// status.
async fn pass_through(
    up: &Upstream,
    path: &str,
    caller: &Caller,
    headers: &HeaderMap,
    request_id: &str,
) -> Response {
    let got = match up
        .call(Method::GET, path, Bytes::new(), caller.open, headers)
        .await
    {
        Ok(r) => {
            let status = r.status;
            r.bytes().await.map(|b| (status, b))
        }
        Err(f) => Err(f),
    };
    match got {
        Ok((status, body)) => {
            let mut resp = Response::new(Body::from(body));
            *resp.status_mut() = status;
            resp.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            label(resp, request_id, Decision::Allow, false)
        }
        Err(_) => label(
            error(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                "upstream_error",
                &format!("cannot reach the upstream ({})", up.name),
            ),
            request_id,
            Decision::Allow,
            false,
        ),
    }
}

/// `POST /v1/guard`: `{"stage": "request"|"response", "text": "…"}` or
/// `{"stage": …, "messages": [...]}`; findings, decision and the transformed text, no upstream.
async fn guard_api(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Body) -> Response {
    let request_id = new_request_id();
    let caller = match gw.authorize(&headers, false).await {
        Ok(c) => c,
        Err(r) => return label(r, &request_id, Decision::Block, false),
    };
    let bytes = match read_body(&gw, body).await {
        Ok(b) => b,
        Err(r) => return label(r, &request_id, Decision::Block, false),
    };
    let req = match parse_json(&bytes) {
        Ok(m) => m,
        Err(r) => return label(r, &request_id, Decision::Block, false),
    };
    let stage = match req
        .get("stage")
        .and_then(Value::as_str)
        .unwrap_or("request")
    {
        "request" => Stage::Request,
        "response" => Stage::Response,
        other => {
            return label(
                error(
                    StatusCode::BAD_REQUEST,
                    "invalid_stage",
                    "invalid_request_error",
                    &format!("stage `{other}` is neither `request` nor `response`"),
                ),
                &request_id,
                Decision::Block,
                false,
            )
        }
    };
    let policy = gw.policies.load().for_tenant(&caller.tenant).clone();
    let mut vault = Vault::new();
    let findings_json = |c: &Checked| -> Vec<Value> {
        c.findings
            .iter()
            .map(|f| {
                json!({
                    "kind": f.kind.as_str(), "dimension": f.dimension.as_str(),
                    "score": (f64::from(f.score) * 1000.0).round() / 1000.0,
                    "start": f.start, "end": f.end,
                    "pointer": f.pointer, "action": f.action.as_str(), "rule": f.rule,
                })
            })
            .collect()
    };
    let (out, checked) = if let Some(text) = req.get("text").and_then(Value::as_str) {
        let (t, c) = gw.guard.text(&policy, stage, text, &mut vault);
        (json!({"text": t}), c)
    } else if req.get("messages").is_some_and(Value::is_array) {
        let mut body = json!({"messages": req["messages"].clone()});
        let c = gw
            .guard
            .request(&policy, Endpoint::ChatCompletions, &mut body, &mut vault);
        (json!({"messages": body["messages"].clone()}), c)
    } else {
        return label(
            error(
                StatusCode::BAD_REQUEST,
                "missing_text",
                "invalid_request_error",
                "give `text` (a string) or `messages` (chat messages)",
            ),
            &request_id,
            Decision::Block,
            false,
        );
    };
    let decision = checked.verdict.decision;
    let mut v = json!({
        "decision": decision.as_str(),
        "policy": policy.name,
        "stage": stage.as_str(),
        "findings": findings_json(&checked),
    });
    if let (Some(o), Some(extra)) = (v.as_object_mut(), out.as_object()) {
        for (k, val) in extra {
            o.insert(k.clone(), val.clone());
        }
    }
    label(Json(v).into_response(), &request_id, decision, false)
}

/// `GET /admin/policy`: the policies in force (evidence for `guardline report`).
async fn admin_policy(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    if let Err(r) = gw.authorize(&headers, true).await {
        return r;
    }
    let describe = |p: &Policy| {
        let mut v = p.summary();
        v["description"] = json!(p.description);
        v["request_rules"] = json!(p
            .request
            .rules
            .iter()
            .map(|r| r.describe())
            .collect::<Vec<_>>());
        v["response_rules"] = json!(p
            .response
            .rules
            .iter()
            .map(|r| r.describe())
            .collect::<Vec<_>>());
        v
    };
    let set = gw.policies.load();
    let tenants: Map<String, Value> = set
        .tenants
        .iter()
        .map(|(t, p)| (t.clone(), describe(p)))
        .collect();
    Json(json!({
        "default": describe(&set.default),
        "tenants": tenants,
        "open_mode": gw.open_mode(),
        "keys": gw.keys.load().keys.len(),
    }))
    .into_response()
}

/// `GET /admin/ledger`: the ledger's head and counts.
async fn admin_ledger(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    if let Err(r) = gw.authorize(&headers, true).await {
        return r;
    }
    match gw.ledger.stats().await {
        Ok(s) => Json(json!({
            "records": s.events,
            "head": s.head.map(|h| json!({"seq": h.seq, "hash": h.hash, "time": h.time})),
            "checkpoints": s.checkpoints,
            "by_kind": s.by_kind.into_iter().collect::<BTreeMap<_, _>>(),
        }))
        .into_response(),
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ledger_unavailable",
            "server_error",
            &e.to_string(),
        ),
    }
}

/// Ready when exchanges can be recorded and, with a shared rate limit, counted.
async fn readyz(State(gw): State<Arc<Gateway>>) -> Response {
    if let Err(e) = gw.ledger.head().await {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("ledger: {e}\n")).into_response();
    }
    let limiter = gw.limits.load().limiter.clone();
    if let Some(l) = limiter {
        if let Err(e) = l.ready().await {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("rate limiter: {e}\n"),
            )
                .into_response();
        }
    }
    (StatusCode::OK, "ready\n").into_response()
}

async fn metrics(State(gw): State<Arc<Gateway>>) -> Response {
    let slots = gw.limits.load().slots.clone();
    let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    gw.metrics.in_flight.set(gauge(slots.in_flight()));
    gw.metrics.concurrency.set(gauge(slots.size()));
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, &gw.metrics.registry).is_err() {
        return (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics\n").into_response();
    }
    let mut r = Response::new(Body::from(text));
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}
