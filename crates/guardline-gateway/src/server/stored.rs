//! Calls on objects the upstream stores, for the Responses API to continue from.
//!
//! Stored responses (`store`, the Responses API's default): `GET /v1/responses/{id}` (retrieve,
//! or replay its events with `?stream=true`), `POST /v1/responses/{id}/cancel`,
//! `DELETE /v1/responses/{id}` and `GET /v1/responses/{id}/input_items`.
//!
//! Conversations: `POST /v1/conversations` (with `items`), `GET`/`POST`/`DELETE
//! /v1/conversations/{id}`, `GET`/`POST /v1/conversations/{id}/items` and `GET`/`DELETE
//! /v1/conversations/{id}/items/{item_id}`.
//!
//! Items a call sends (`items`) are checked at the request stage like a Responses API request's
//! input: pseudonymised, or blocked before the upstream sees them. What comes back is checked at
//! the response stage, labelled and recorded, one ledger record per call. What the call itself
//! carried is restored; pseudonyms from earlier requests come back as tokens (the upstream never
//! saw the values) unless `[vault] keep` keeps them: then a stored response's and a
//! conversation's tokens are found under its id (see [`crate::vault_store`]), kept when a
//! conversation is created or given items, and deleted with the response or conversation.
//! Stored objects are looked up on the default upstream, since these calls name no model to
//! route by.

use super::{
    commit, error, label, no_upstream, read_request, refuse_blocked, refuse_reply,
    restore_echoed_instructions, rules_of, serialise_checked, stream_reply, upstream_error,
    upstream_failure, Gateway, Record,
};
use crate::surfaces::{item_list_surfaces, item_surfaces, Endpoint};
use crate::vault_store::Scope;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use guardline_detect::Vault;
use guardline_policy::Decision;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

/// What comes back, and so what is checked in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reply {
    /// A response object: its output items are the model's, as at creation.
    Response,
    /// A list of items (`{"data": [item, …]}`): input, earlier turns' outputs among them.
    Items,
    /// One item.
    Item,
    /// No text (`{id, object, deleted}`, a conversation's id and metadata).
    Plain,
}

/// One call on a stored object.
struct Call {
    endpoint: Endpoint,
    operation: &'static str,
    method: Method,
    /// Below the upstream's base URL, query included.
    path: String,
    /// The ids in `path`, checked before anything goes out.
    ids: Vec<String>,
    reply: Reply,
    /// Whether a body goes with the call (read, checked at the request stage, sent).
    body: Option<Body>,
}

impl Call {
    /// Where the tokens this call's reply may hold were kept.
    fn recalls(&self) -> Option<Scope<'_>> {
        let id = self.ids.first()?;
        match (self.endpoint, self.operation) {
            (Endpoint::Responses, "retrieve" | "cancel" | "input_items") => {
                Some(Scope::Response(id))
            }
            (Endpoint::Conversations, "items.list" | "items.create" | "items.retrieve") => {
                Some(Scope::Conversation(id))
            }
            _ => None,
        }
    }
}

/// `?query` when there is one.
fn with_query(path: String, query: Option<String>) -> String {
    match query {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path,
    }
}

fn responses_call(
    operation: &'static str,
    method: Method,
    id: String,
    suffix: &str,
    query: Option<String>,
    reply: Reply,
) -> Call {
    Call {
        endpoint: Endpoint::Responses,
        operation,
        method,
        path: with_query(format!("responses/{id}{suffix}"), query),
        ids: vec![id],
        reply,
        body: None,
    }
}

pub(super) async fn retrieve(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let c = responses_call("retrieve", Method::GET, id, "", query, Reply::Response);
    call(gw, c, headers).await
}

pub(super) async fn cancel(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let c = responses_call("cancel", Method::POST, id, "/cancel", None, Reply::Response);
    call(gw, c, headers).await
}

pub(super) async fn delete(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let c = responses_call("delete", Method::DELETE, id, "", None, Reply::Plain);
    call(gw, c, headers).await
}

pub(super) async fn input_items(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let c = responses_call(
        "input_items",
        Method::GET,
        id,
        "/input_items",
        query,
        Reply::Items,
    );
    call(gw, c, headers).await
}

/// `POST /v1/conversations`.
pub(super) async fn conversation_create(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let c = Call {
        endpoint: Endpoint::Conversations,
        operation: "create",
        method: Method::POST,
        path: "conversations".into(),
        ids: Vec::new(),
        reply: Reply::Plain,
        body: Some(body),
    };
    call(gw, c, headers).await
}

/// `GET`, `POST` (metadata) and `DELETE /v1/conversations/{id}`.
pub(super) async fn conversation(
    State(gw): State<Arc<Gateway>>,
    method: Method,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let operation = match method {
        Method::GET => "retrieve",
        Method::POST => "update",
        _ => "delete",
    };
    let c = Call {
        endpoint: Endpoint::Conversations,
        operation,
        body: (method == Method::POST).then_some(body),
        method,
        path: format!("conversations/{id}"),
        ids: vec![id],
        reply: Reply::Plain,
    };
    call(gw, c, headers).await
}

/// `GET` (list) and `POST` (add) `/v1/conversations/{id}/items`.
pub(super) async fn conversation_items(
    State(gw): State<Arc<Gateway>>,
    method: Method,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let c = Call {
        endpoint: Endpoint::Conversations,
        operation: if method == Method::POST {
            "items.create"
        } else {
            "items.list"
        },
        body: (method == Method::POST).then_some(body),
        method,
        path: with_query(format!("conversations/{id}/items"), query),
        ids: vec![id],
        reply: Reply::Items,
    };
    call(gw, c, headers).await
}

/// `GET` and `DELETE /v1/conversations/{id}/items/{item_id}`.
pub(super) async fn conversation_item(
    State(gw): State<Arc<Gateway>>,
    method: Method,
    Path((id, item)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (operation, reply) = if method == Method::GET {
        ("items.retrieve", Reply::Item)
    } else {
        // Answers with the conversation.
        ("items.delete", Reply::Plain)
    };
    let c = Call {
        endpoint: Endpoint::Conversations,
        operation,
        method,
        path: with_query(format!("conversations/{id}/items/{item}"), query),
        ids: vec![id, item],
        reply,
        body: None,
    };
    call(gw, c, headers).await
}

/// An id as the upstream issues them (`resp_…`, `conv_…`, `msg_…`): letters, digits, `_` and
/// `-`. Anything else is refused rather than spliced into the upstream's path (`..`, `/`, `?`
/// after decoding).
pub(super) fn valid_id(id: &str) -> bool {
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

async fn call(gw: Arc<Gateway>, c: Call, headers: HeaderMap) -> Response {
    let started = Instant::now();
    let request_id = super::new_request_id();
    gw.metrics.requests.inc();
    let caller = match gw.authorize(&headers, false).await {
        Ok(c) => c,
        Err(r) => return label(r, &request_id, Decision::Block, false),
    };
    if !c.ids.iter().all(|id| valid_id(id)) {
        gw.metrics.client_errors.inc();
        return label(
            error(
                StatusCode::BAD_REQUEST,
                "invalid_id",
                "invalid_request_error",
                "an id has only letters, digits, `_` and `-` (like `resp_abc123`)",
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
    let stream = c.reply == Reply::Response
        && c.operation == "retrieve"
        && wants_stream(c.path.split_once('?').map(|(_, q)| q));
    let policy = gw.policies.load().for_tenant(&caller.tenant).clone();
    let mut record = Record::new(&request_id, &caller, c.endpoint, started);
    record.stream = stream;
    record.operation = Some(c.operation);

    // A body's items are checked as a Responses API request's input is.
    let mut vault = Vault::new();
    if let Some(scope) = c.recalls() {
        gw.recall(&caller.tenant, scope, &mut vault).await;
    }
    let mut sent = Bytes::new();
    if let Some(body) = c.body {
        let mut req = match read_request(&gw, body, &request_id).await {
            Ok(v) => v,
            Err(r) => return r,
        };
        let checked = gw.guard.request(&policy, c.endpoint, &mut req, &mut vault);
        record.decision = checked.verdict.decision;
        if checked.verdict.decision == Decision::Block {
            return refuse_blocked(&gw, record, checked, &policy).await;
        }
        record.request = Some(checked);
        sent = match serialise_checked(&req, &request_id) {
            Ok(v) => Bytes::from(v),
            Err(r) => return r,
        };
        record.content_hash = Some(gw.content_hash(&sent));
    }

    let Some(upstream) = gw.upstreams.load().default.clone() else {
        let message = "no default upstream to look stored objects up on: start with --upstream \
                       URL, set [upstream] url in guardline.toml, or set OPENAI_BASE_URL";
        return no_upstream(&gw, record, message).await;
    };
    record.upstream = Some(upstream.name.clone());
    let t0 = Instant::now();
    let resp = match upstream
        .call(c.method, &c.path, sent, caller.open, &headers)
        .await
    {
        Ok(r) => r,
        Err(f) => return upstream_failure(&gw, record, f.status(), f.message()).await,
    };
    record.upstream_time = Some(t0.elapsed());
    if !resp.status.is_success() {
        return upstream_error(&gw, record, &request_id, resp).await;
    }
    if stream && resp.is_event_stream() {
        return stream_reply(gw, record, request_id, policy, vault, resp, permit, None);
    }
    drop(permit);
    let bytes = match resp.bytes().await {
        Ok(b) => b,
        Err(f) => return upstream_failure(&gw, record, f.status(), f.message()).await,
    };
    let Ok(mut reply) = serde_json::from_slice::<Value>(&bytes) else {
        return upstream_failure(&gw, record, 502, "the upstream reply is not JSON").await;
    };
    if let Some(m) = reply.get("model").and_then(Value::as_str) {
        record.model = m.to_string();
    }
    let checked = match c.reply {
        Reply::Response => {
            let out = gw
                .guard
                .response(&policy, Endpoint::Responses, &mut reply, &mut vault);
            restore_echoed_instructions(&mut reply, &vault);
            Some(out)
        }
        Reply::Items => {
            let pointers = item_list_surfaces(&reply);
            Some(
                gw.guard
                    .response_at(&policy, &mut reply, pointers, &mut vault),
            )
        }
        Reply::Item => {
            let mut pointers = Vec::new();
            item_surfaces(&reply, "", &mut pointers);
            Some(
                gw.guard
                    .response_at(&policy, &mut reply, pointers, &mut vault),
            )
        }
        Reply::Plain => None,
    };
    // The upstream has done it, whatever is made of its reply: keep a conversation's new tokens,
    // forget a deleted object's.
    let tenant = &caller.tenant;
    match (c.endpoint, c.operation, c.ids.first()) {
        (Endpoint::Conversations, "create", _) => {
            if let Some(id) = reply
                .get("id")
                .and_then(Value::as_str)
                .filter(|id| valid_id(id))
            {
                gw.keep(tenant, Scope::Conversation(id), &vault).await;
            }
        }
        (Endpoint::Conversations, "items.create", Some(id)) => {
            gw.keep(tenant, Scope::Conversation(id), &vault).await;
        }
        (Endpoint::Conversations, "delete", Some(id)) => {
            gw.forget(tenant, Scope::Conversation(id)).await;
        }
        (Endpoint::Responses, "delete", Some(id)) => {
            gw.forget(tenant, Scope::Response(id)).await;
        }
        _ => {}
    }
    if let Some(out) = &checked {
        record.response_counts = out.counts();
        record.response_rules = rules_of(out);
        record.decision = record.decision.max(out.verdict.decision);
    }
    if record.decision == Decision::Block {
        return refuse_reply(&gw, record, &policy, "what the upstream stored").await;
    }
    // A response object is the model's output, as at creation; lists of items mix the caller's
    // input with earlier outputs, and are labelled as neither.
    let generated = c.reply == Reply::Response;
    if generated {
        // The response object echoes the request's `text.format`.
        let structured = crate::surfaces::structured_output(&reply);
        if let Some(text) = policy.disclosure.as_ref().filter(|_| !structured) {
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
