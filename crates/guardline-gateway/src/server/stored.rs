//! Calls on responses the upstream stored (`store`, the Responses API's default):
//! `GET /v1/responses/{id}` (retrieve, or replay its events with `?stream=true`),
//! `POST /v1/responses/{id}/cancel`, `DELETE /v1/responses/{id}` and
//! `GET /v1/responses/{id}/input_items`.
//!
//! What comes back is checked at the response stage like a fresh reply, labelled and recorded,
//! one ledger record per call. The request carries no content, so there is nothing to restore:
//! personal data pseudonymised on the way in comes back as its tokens (the upstream never saw
//! the values, and the gateway keeps no mapping). Stored responses are looked up on the default
//! upstream, since a call names no model to route by.

use super::{
    commit, error, label, restore_echoed_instructions, rules_of, stream_reply, upstream_error,
    upstream_failure, Gateway, Record,
};
use crate::surfaces::{item_list_surfaces, Endpoint};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use guardline_detect::Vault;
use guardline_policy::Decision;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// What a call does to a stored response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Retrieve,
    Cancel,
    Delete,
    InputItems,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Retrieve => "retrieve",
            Operation::Cancel => "cancel",
            Operation::Delete => "delete",
            Operation::InputItems => "input_items",
        }
    }
}

pub(super) async fn retrieve(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    call(gw, Operation::Retrieve, id, query, headers).await
}

pub(super) async fn cancel(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    call(gw, Operation::Cancel, id, None, headers).await
}

pub(super) async fn delete(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    call(gw, Operation::Delete, id, None, headers).await
}

pub(super) async fn input_items(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    call(gw, Operation::InputItems, id, query, headers).await
}

/// A response id as the upstream issues them (`resp_…`): letters, digits, `_` and `-`. Anything
/// else is refused rather than spliced into the upstream's path (`..`, `/`, `?` after decoding).
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 256
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `stream=true` (or `1`) in a query string.
fn wants_stream(query: Option<&str>) -> bool {
    query.into_iter().flat_map(|q| q.split('&')).any(|pair| {
        matches!(pair.split_once('='), Some(("stream", v)) if v.eq_ignore_ascii_case("true") || v == "1")
    })
}

async fn call(
    gw: Arc<Gateway>,
    op: Operation,
    id: String,
    query: Option<String>,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let request_id = super::new_request_id();
    gw.metrics.requests.inc();
    let caller = match gw.authorize(&headers, false) {
        Ok(c) => c,
        Err(r) => return label(r, &request_id, Decision::Block, false),
    };
    if !valid_id(&id) {
        gw.metrics.client_errors.inc();
        return label(
            error(
                StatusCode::BAD_REQUEST,
                "invalid_response_id",
                "invalid_request_error",
                "a response id has only letters, digits, `_` and `-` (like `resp_abc123`)",
            ),
            &request_id,
            Decision::Block,
            false,
        );
    }
    let slots = gw.limits.load().slots.clone();
    let Some(permit) = slots.acquire().await else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "server_error",
            "the gateway is shutting down",
        );
    };
    let stream = op == Operation::Retrieve && wants_stream(query.as_deref());
    let policy = gw.policies.load().for_tenant(&caller.tenant).clone();
    let mut record = Record {
        request_id: request_id.clone(),
        tenant: caller.tenant.clone(),
        key_id: caller.key_id.clone(),
        endpoint: Endpoint::Responses,
        model: String::new(),
        upstream: None,
        stream,
        request: None,
        response_counts: BTreeMap::new(),
        response_rules: Vec::new(),
        decision: Decision::Allow,
        status: 200,
        content_hash: None,
        started,
        upstream_time: None,
        note: None,
        operation: Some(op.as_str()),
    };
    let Some(upstream) = gw.upstreams.load().default.clone() else {
        record.status = 503;
        record.note = Some("no upstream configured".into());
        if let Err(r) = commit(&gw, &record, &request_id).await {
            return r;
        }
        return label(
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_upstream",
                "server_error",
                "no default upstream to look stored responses up on: start with --upstream URL, \
                 set [upstream] url in guardline.toml, or set OPENAI_BASE_URL",
            ),
            &request_id,
            Decision::Allow,
            false,
        );
    };
    record.upstream = Some(upstream.name.clone());
    let (method, suffix) = match op {
        Operation::Retrieve => (Method::GET, ""),
        Operation::Cancel => (Method::POST, "/cancel"),
        Operation::Delete => (Method::DELETE, ""),
        Operation::InputItems => (Method::GET, "/input_items"),
    };
    let path = match &query {
        Some(q) if !q.is_empty() => format!("responses/{id}{suffix}?{q}"),
        _ => format!("responses/{id}{suffix}"),
    };
    let t0 = Instant::now();
    let resp = match upstream
        .call(method, &path, Bytes::new(), caller.open, &headers)
        .await
    {
        Ok(r) => r,
        Err(f) => return upstream_failure(&gw, record, &request_id, f.status(), f.message()).await,
    };
    record.upstream_time = Some(t0.elapsed());
    if !resp.status.is_success() {
        return upstream_error(&gw, record, &request_id, resp).await;
    }
    if stream && resp.is_event_stream() {
        return stream_reply(gw, record, request_id, policy, Vault::new(), resp, permit);
    }
    drop(permit);
    let bytes = match resp.bytes().await {
        Ok(b) => b,
        Err(f) => return upstream_failure(&gw, record, &request_id, f.status(), f.message()).await,
    };
    let Ok(mut reply) = serde_json::from_slice::<Value>(&bytes) else {
        return upstream_failure(
            &gw,
            record,
            &request_id,
            502,
            "the upstream reply is not JSON",
        )
        .await;
    };
    if let Some(m) = reply.get("model").and_then(Value::as_str) {
        record.model = m.to_string();
    }
    let mut vault = Vault::new();
    let checked = match op {
        // A response object: its output items are the model's, as at creation.
        Operation::Retrieve | Operation::Cancel => {
            let out = gw
                .guard
                .response(&policy, Endpoint::Responses, &mut reply, &mut vault);
            restore_echoed_instructions(&mut reply, &vault);
            Some(out)
        }
        // The items the response was made from: the caller's (pseudonymised) input, earlier
        // turns' outputs among them. Checked as any text coming back from the upstream is.
        Operation::InputItems => {
            let pointers = item_list_surfaces(&reply);
            Some(
                gw.guard
                    .response_at(&policy, &mut reply, pointers, &mut vault),
            )
        }
        // `{id, object, deleted}`: no text.
        Operation::Delete => None,
    };
    if let Some(out) = &checked {
        record.response_counts = out.counts();
        record.response_rules = rules_of(out);
        record.decision = out.verdict.decision;
    }
    if record.decision == Decision::Block {
        record.status = 403;
        if let Err(r) = commit(&gw, &record, &request_id).await {
            return r;
        }
        return label(
            error(
                StatusCode::FORBIDDEN,
                "reply_blocked_by_policy",
                "guardline_policy",
                &format!(
                    "the stored response was blocked by policy {}; request {request_id}",
                    policy.name
                ),
            ),
            &request_id,
            Decision::Block,
            false,
        );
    }
    let generated = matches!(op, Operation::Retrieve | Operation::Cancel);
    if generated {
        if let Some(text) = &policy.disclosure {
            super::disclose(Endpoint::Responses, &mut reply, text);
        }
    }
    if let Err(r) = commit(&gw, &record, &request_id).await {
        return r;
    }
    label(
        Json(reply).into_response(),
        &request_id,
        record.decision,
        generated,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_stream_flags() {
        assert!(valid_id(
            "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b"
        ));
        for bad in [
            "",
            "..",
            "resp/../../files",
            "resp_1?x=1",
            "resp 1",
            "résp",
            &"a".repeat(257),
        ] {
            assert!(!valid_id(bad), "{bad:?}");
        }
        assert!(wants_stream(Some("stream=true")));
        assert!(wants_stream(Some("include[]=x&stream=True")));
        assert!(wants_stream(Some("stream=1&starting_after=4")));
        assert!(!wants_stream(Some("stream=false")));
        assert!(!wants_stream(Some("streams=true")));
        assert!(!wants_stream(None));
    }
}
