//! Relays an SSE reply to the client. Every text delta goes through a [`StreamGuard`] per text
//! of each choice (content, refusal, reasoning, audio transcript, each tool call's arguments),
//! events without text pass at once, a block ends the stream with an error event, and the ledger
//! event is written before the final `[DONE]`.
//!
//! The relay is the response body itself: hyper polls it for the next frame, and each poll reads
//! the upstream only as far as the next thing to send. There is no task and no channel between
//! the upstream and the client, so an event costs no thread hand-off on its way through (it did
//! before, and the time to first token showed it). A client that goes away drops the body; the
//! relay's `Drop` then records the exchange as it stood ("client went away"), so an exchange is
//! in the ledger however it ended.

use super::{label, Gateway, KeepPlan, Record};
use crate::stream::StreamGuard;
use crate::surfaces::{lookup, lookup_mut, text_leaves, Endpoint};
use crate::upstream::Reply;
use axum::body::{Body, Bytes};
use axum::http::HeaderValue;
use axum::response::Response;
use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use guardline_detect::Vault;
use guardline_policy::{Decision, Policy};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

mod responses;

type Events = BoxStream<'static, Result<Event, EventStreamError<std::io::Error>>>;

/// Starts relaying `resp`; the response's headers carry the request stage's decision (they go out
/// before the reply is known), the stream's own outcome is in the ledger. `keep`: where the
/// call's tokens are kept once the stream has named its response (`[vault] keep`).
#[allow(clippy::too_many_arguments)]
pub(super) fn stream_reply(
    gw: Arc<Gateway>,
    record: Record,
    request_id: String,
    policy: Arc<Policy>,
    vault: Vault,
    resp: Reply,
    permit: crate::limits::Slot,
    keep: Option<KeepPlan>,
) -> Response {
    let header_decision = record.decision;
    // The call's own deadline: `total_timeout_ms` counts from the request, streams included.
    let deadline = resp.deadline;
    let disclosure = policy.disclosure.clone().filter(|_| record.disclose);
    let relay = Relay {
        endpoint: record.endpoint,
        gw,
        record: Some(record),
        request_id: request_id.clone(),
        policy,
        disclosure,
        vault,
        events: resp.into_stream().eventsource().boxed(),
        deadline,
        guards: BTreeMap::new(),
        pieces: BTreeMap::new(),
        whole: BTreeMap::new(),
        terminal: false,
        template: None,
        out: VecDeque::new(),
        keep,
        response_id: None,
        _permit: permit,
    };
    let body = Body::from_stream(futures_util::stream::unfold(relay, |mut r| async move {
        r.next().await.map(|b| (Ok::<_, std::io::Error>(b), r))
    }));
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert("cache-control", HeaderValue::from_static("no-cache"));
    label(r, &request_id, header_decision, true)
}

struct Relay {
    endpoint: Endpoint,
    gw: Arc<Gateway>,
    /// `None` once the exchange is recorded: the stream is over.
    record: Option<Record>,
    request_id: String,
    policy: Arc<Policy>,
    /// The policy's visible disclosure, unless the caller asked for structured output.
    disclosure: Option<String>,
    vault: Vault,
    events: Events,
    deadline: tokio::time::Instant,
    /// One guard per text of each choice (its index, and which text).
    guards: BTreeMap<(u64, Part), StreamGuard>,
    /// Responses API: each streamed text as released so far (its whole copies are replaced by it).
    pieces: BTreeMap<(u64, Part), responses::Piece>,
    /// Texts that arrive whole, never as deltas (a tool's output, a citation, a field the relay
    /// does not know), by choice or output item and pointer: the upstream's copy and what went
    /// out, so that a copy repeated in later events goes out the same and is counted once.
    whole: BTreeMap<(u64, String), (String, String)>,
    /// Responses API: a terminal event (`response.completed`, …) went out; the stream may end.
    terminal: bool,
    /// The first chunk, the shape for the chunks the relay writes itself (held-back text).
    template: Option<Value>,
    /// Lines ready for the client.
    out: VecDeque<Bytes>,
    /// Where the call's tokens are kept, once `response.created` has named the response.
    keep: Option<KeepPlan>,
    response_id: Option<String>,
    /// The concurrency slot, held until the stream is over or the client has gone.
    _permit: crate::limits::Slot,
}

/// How the upstream's part of the stream ended.
enum End {
    /// `[DONE]`.
    Done,
    /// A block mid-stream.
    Blocked,
    /// Cut, timed out or ended without `[DONE]` (the record's note says which).
    Failed,
}

/// Which text of a streamed choice a guard watches: each is a stream of its own, with its own
/// hold-back (a tool call's arguments are not a continuation of the message's content).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    /// `delta.content` (chat) or `text` (completions).
    Content,
    /// `delta.refusal`.
    Refusal,
    /// `delta.reasoning_content` (DeepSeek, vLLM) and `delta.reasoning` (OpenRouter, Ollama).
    ReasoningContent,
    Reasoning,
    /// `delta.audio.transcript` (an audio reply's words).
    AudioTranscript,
    /// `delta.function_call.arguments` (the legacy functions API).
    FunctionCall,
    /// `delta.tool_calls[…].function.arguments`, by the tool call's `index`.
    ToolCall(u64),
    /// `delta.tool_calls[…].custom.input` (a custom tool's free-form input), by `index`.
    CustomTool(u64),
    /// Responses API, per output item: an `output_text` part, a `refusal` part, a function,
    /// custom tool or MCP call's arguments, a reasoning summary part, a reasoning text part.
    OutputText(u64),
    OutputRefusal(u64),
    Arguments,
    Summary(u64),
    ReasoningText(u64),
}

/// The texts of one streamed choice, each with the part it belongs to.
fn streamed_texts(endpoint: Endpoint, choice: &mut Value) -> Vec<(Part, &mut String)> {
    let mut out = Vec::new();
    if endpoint != Endpoint::ChatCompletions {
        if let Some(Value::String(t)) = choice.get_mut("text") {
            out.push((Part::Content, t));
        }
        return out;
    }
    let Some(Value::Object(delta)) = choice.get_mut("delta") else {
        return out;
    };
    for (key, value) in delta.iter_mut() {
        match (key.as_str(), value) {
            ("content", Value::String(t)) => out.push((Part::Content, t)),
            // Content as parts (`[{"type": "text", "text": …}]`), as some upstreams stream it:
            // the parts continue one another, so they share the content's guard.
            ("content", Value::Array(parts)) => {
                for p in parts.iter_mut() {
                    if let Some(Value::String(t)) = p.get_mut("text") {
                        out.push((Part::Content, t));
                    }
                }
            }
            ("refusal", Value::String(t)) => out.push((Part::Refusal, t)),
            ("reasoning_content", Value::String(t)) => out.push((Part::ReasoningContent, t)),
            ("reasoning", Value::String(t)) => out.push((Part::Reasoning, t)),
            ("function_call", Value::Object(f)) => {
                if let Some(Value::String(t)) = f.get_mut("arguments") {
                    out.push((Part::FunctionCall, t));
                }
            }
            ("audio", Value::Object(a)) => {
                if let Some(Value::String(t)) = a.get_mut("transcript") {
                    out.push((Part::AudioTranscript, t));
                }
            }
            ("tool_calls", Value::Array(calls)) => {
                for (k, call) in calls.iter_mut().enumerate() {
                    let Value::Object(call) = call else { continue };
                    let at = call
                        .get("index")
                        .and_then(Value::as_u64)
                        .unwrap_or(k as u64);
                    // A function's arguments, or a custom tool's input (both, from an upstream
                    // that sends both: neither may pass unguarded).
                    for (field, v) in call.iter_mut() {
                        let (inner, part) = match field.as_str() {
                            "function" => ("arguments", Part::ToolCall(at)),
                            "custom" => ("input", Part::CustomTool(at)),
                            _ => continue,
                        };
                        if let Some(Value::String(t)) = v.get_mut(inner) {
                            out.push((part, t));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Whether [`streamed_texts`] guards the text at `pointer` (relative to a chat chunk's `delta`).
/// Every other text in a delta (a citation's title, a provider's reasoning details) is checked
/// whole, event by event.
fn streamed_in_delta(pointer: &str) -> bool {
    let mut tokens = pointer.strip_prefix('/').unwrap_or(pointer).split('/');
    matches!(
        (
            tokens.next(),
            tokens.next(),
            tokens.next(),
            tokens.next(),
            tokens.next()
        ),
        (
            Some("content" | "refusal" | "reasoning_content" | "reasoning"),
            None,
            ..
        ) | (Some("content"), Some(_), Some("text"), None, _)
            | (Some("function_call"), Some("arguments"), None, ..)
            | (Some("audio"), Some("transcript"), None, ..)
            | (
                Some("tool_calls"),
                Some(_),
                Some("function"),
                Some("arguments"),
                None
            )
            | (
                Some("tool_calls"),
                Some(_),
                Some("custom"),
                Some("input"),
                None
            )
    )
}

/// A delta with nothing but a role and the texts [`streamed_texts`] guards as strings (nearly
/// every chunk): there is nothing else in it to check, and no walk to pay for.
fn plain_delta(delta: &Value) -> bool {
    delta.as_object().is_some_and(|m| {
        m.iter().all(|(k, v)| {
            matches!(
                k.as_str(),
                "role" | "content" | "refusal" | "reasoning_content" | "reasoning"
            ) && (v.is_string() || v.is_null())
        })
    })
}

/// A choice that carries only `tail`, released late for `part` of choice `idx`.
fn tail_choice(endpoint: Endpoint, idx: u64, part: Part, tail: String) -> Value {
    if endpoint != Endpoint::ChatCompletions {
        return json!({"index": idx, "text": tail, "finish_reason": null});
    }
    let delta = match part {
        Part::Content => json!({"content": tail}),
        Part::Refusal => json!({"refusal": tail}),
        Part::ReasoningContent => json!({"reasoning_content": tail}),
        Part::Reasoning => json!({"reasoning": tail}),
        Part::FunctionCall => json!({"function_call": {"arguments": tail}}),
        Part::AudioTranscript => json!({"audio": {"transcript": tail}}),
        Part::ToolCall(at) => {
            json!({"tool_calls": [{"index": at, "function": {"arguments": tail}}]})
        }
        Part::CustomTool(at) => {
            json!({"tool_calls": [{"index": at, "custom": {"input": tail}}]})
        }
        // Responses API parts never reach a chat chunk.
        _ => json!({"content": tail}),
    };
    json!({"index": idx, "delta": delta, "finish_reason": null})
}

fn line(v: &Value) -> Bytes {
    // `to_writer`, not `format!("{v}")`: the same bytes, without `fmt`'s per-piece dispatch,
    // which cost a streamed event about a tenth of its instructions.
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"data: ");
    // A parsed `Value` always serialises.
    let _ = serde_json::to_writer(&mut out, v);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

impl Relay {
    /// The next line for the client; `None` when the stream is over.
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(b) = self.out.pop_front() {
                return Some(b);
            }
            let record = self.record.as_mut()?;
            let end = match tokio::time::timeout_at(self.deadline, self.events.next()).await {
                Err(_) => {
                    record.note = Some("upstream stream timed out".into());
                    End::Failed
                }
                Ok(None) if self.terminal => End::Done,
                Ok(None) => {
                    record.note = Some(if self.endpoint == Endpoint::Responses {
                        "upstream stream ended without response.completed".into()
                    } else {
                        "upstream stream ended without [DONE]".into()
                    });
                    End::Failed
                }
                Ok(Some(Err(_))) => {
                    record.note = Some("upstream stream was cut".into());
                    End::Failed
                }
                Ok(Some(Ok(ev))) if self.endpoint == Endpoint::Responses => {
                    match self.response_event(&ev.data) {
                        Some(end) => end,
                        None => continue,
                    }
                }
                Ok(Some(Ok(ev))) => match self.event(&ev.data) {
                    Some(end) => end,
                    None => continue,
                },
            };
            self.finish(end).await;
        }
    }

    /// Guards one upstream event; queues what may go out. `Some` when the stream ends here.
    fn event(&mut self, data: &str) -> Option<End> {
        if data.trim() == "[DONE]" {
            return Some(End::Done);
        }
        let Ok(mut chunk) = serde_json::from_str::<Value>(data) else {
            return None; // keep-alives and comments
        };
        let endpoint = self.endpoint;
        let mut blocked = false;
        // Choices that finish in this chunk: what their guards still hold goes out first.
        let mut finishing = Vec::new();
        if let Some(choices) = chunk.get_mut("choices").and_then(Value::as_array_mut) {
            for c in choices.iter_mut() {
                let idx = c.get("index").and_then(Value::as_u64).unwrap_or(0);
                for (part, text) in streamed_texts(endpoint, c) {
                    let (gw, policy, vault) = (&self.gw, &self.policy, &self.vault);
                    let g = self.guards.entry((idx, part)).or_insert_with(|| {
                        StreamGuard::new(gw.guard.clone(), policy.clone(), vault.clone())
                    });
                    let r = g.push(text);
                    blocked |= r.blocked;
                    *text = r.text;
                }
                if endpoint == Endpoint::ChatCompletions && !blocked {
                    if let Some(delta) = c.get_mut("delta").filter(|d| !plain_delta(d)) {
                        let mut others = Vec::new();
                        text_leaves(delta, &mut String::new(), 0, &mut |p| {
                            if !streamed_in_delta(p) {
                                others.push(p.to_string());
                            }
                        });
                        blocked |= !self.check_whole(idx, "", delta, others);
                    }
                }
                if c.get("finish_reason").is_some_and(|f| !f.is_null()) {
                    finishing.push(idx);
                }
            }
        }
        // An object only: the relay writes `choices` into it (indexing any other JSON value panics).
        if self.template.is_none() && chunk.is_object() {
            self.template = Some(chunk.clone());
        }
        for idx in finishing {
            if blocked {
                break;
            }
            blocked |= self.flush(idx, false);
        }
        if blocked {
            if let Some(record) = self.record.as_mut() {
                record.decision = Decision::Block;
                record.note = Some("reply blocked mid-stream".into());
            }
            return Some(End::Blocked);
        }
        self.out.push_back(line(&chunk));
        None
    }

    /// Restores and checks, whole, the texts at `pointers` in `v` (part of choice or output item
    /// `at`, at `prefix` in it), and writes back what may go out. A text already checked at the
    /// same place, as the same upstream copy, goes out as it did then and is not counted again.
    /// `false` when the policy blocked.
    fn check_whole(&mut self, at: u64, prefix: &str, v: &mut Value, pointers: Vec<String>) -> bool {
        // The fresh texts: their pointers, and their cache keys with the upstream's copy.
        let mut fresh = Vec::new();
        let mut keys = Vec::new();
        for p in pointers {
            let Some(Value::String(raw)) = lookup_mut(v, &p) else {
                continue;
            };
            let key = (at, format!("{prefix}{p}"));
            match self.whole.get(&key) {
                Some((seen, out)) if seen == raw => *raw = out.clone(),
                _ => {
                    keys.push((key, raw.clone()));
                    fresh.push(p);
                }
            }
        }
        if fresh.is_empty() {
            return true;
        }
        let checked = self
            .gw
            .guard
            .response_at(&self.policy, v, fresh.clone(), &mut self.vault);
        if let Some(record) = self.record.as_mut() {
            record.count_reply_findings(&checked.findings);
            record.decision = record.decision.max(checked.verdict.decision);
        }
        if checked.verdict.decision == Decision::Block {
            return false;
        }
        for (p, (key, raw)) in fresh.iter().zip(keys) {
            let out = lookup(v, p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            self.whole.insert(key, (raw, out));
        }
        true
    }

    /// What [`KeepPlan::run`] needs, taken once (the stream is over).
    fn keeping(&mut self) -> Option<(KeepPlan, Option<String>, Vault)> {
        let plan = self.keep.take()?;
        Some((plan, self.response_id.take(), self.vault.clone()))
    }

    /// Releases what every guard still holds, as chunks of their own, with the disclosure after
    /// each choice's content when `disclose`. `true` when that blocked the reply.
    fn flush_all(&mut self, disclose: bool) -> bool {
        if self.endpoint == Endpoint::Responses {
            return self.settle_open(disclose);
        }
        // Sorted by choice, so `dedup` leaves each choice once.
        let mut choices: Vec<u64> = self.guards.keys().map(|(i, _)| *i).collect();
        choices.dedup();
        for idx in choices {
            if self.flush(idx, disclose) {
                return true;
            }
        }
        false
    }

    /// [`Relay::flush_all`] for choice `idx` alone.
    fn flush(&mut self, idx: u64, disclose: bool) -> bool {
        let endpoint = self.endpoint;
        for ((i, part), g) in self.guards.range_mut((idx, Part::Content)..) {
            if *i != idx {
                break;
            }
            let r = g.finish();
            if r.blocked {
                return true;
            }
            let mut tail = r.text;
            if disclose && *part == Part::Content {
                if let Some(d) = &self.disclosure {
                    tail.push_str(d);
                }
            }
            if tail.is_empty() {
                continue;
            }
            if let Some(t) = &self.template {
                let mut c = t.clone();
                c["choices"] = json!([tail_choice(endpoint, idx, *part, tail)]);
                self.out.push_back(line(&c));
            }
        }
        false
    }

    /// Flushes what each choice still holds, records the exchange, and queues the last events:
    /// `[DONE]`, or an error event when the reply was blocked, failed or could not be recorded.
    async fn finish(&mut self, end: End) {
        let Some(mut record) = self.record.take() else {
            return;
        };
        let ended_well = matches!(end, End::Done);
        if record.decision != Decision::Block && self.flush_all(ended_well) {
            record.decision = Decision::Block;
        }
        fold_findings(&mut record, &self.guards);
        if !ended_well && record.decision != Decision::Block {
            self.gw.metrics.upstream_errors.inc();
        }
        let (decision, note) = (record.decision, record.note.clone());
        // In a task of its own, so that a client going away now cannot cancel the append half-way.
        let gw = self.gw.clone();
        let keep = self.keeping();
        let recorded = tokio::spawn(async move {
            if let Some((plan, id, vault)) = keep {
                plan.run(&gw, id.as_deref(), &vault).await;
            }
            append(&gw, &record).await
        })
        .await
        .unwrap_or(false);
        if decision == Decision::Block || !ended_well || !recorded {
            let (code, message) = if !recorded {
                (
                    "ledger_unavailable",
                    "the exchange could not be recorded".to_string(),
                )
            } else if decision == Decision::Block {
                (
                    "reply_blocked_by_policy",
                    format!("the reply was blocked by policy {}", self.policy.name),
                )
            } else {
                ("upstream_error", note.unwrap_or_default())
            };
            let message = format!("{message}; request {}", self.request_id);
            self.out.push_back(if self.endpoint == Endpoint::Responses {
                // The Responses API's own error event.
                responses::event_line(&json!({
                    "type": "error", "code": code, "message": message, "param": null,
                }))
            } else {
                line(&json!({"error": {"message": message, "type": "guardline", "code": code}}))
            });
            return;
        }
        if self.endpoint != Endpoint::Responses {
            self.out.push_back(Bytes::from_static(b"data: [DONE]\n\n"));
        }
    }
}

impl Drop for Relay {
    /// The client went away before the stream was over: record the exchange as it stood, in a
    /// task of its own (a drop cannot wait).
    fn drop(&mut self) {
        let Some(mut record) = self.record.take() else {
            return;
        };
        fold_findings(&mut record, &self.guards);
        record.note = Some("client went away".into());
        let gw = self.gw.clone();
        let request_id = std::mem::take(&mut self.request_id);
        let keep = self.keeping();
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::error!(request_id, "cannot record the exchange: no runtime");
            return;
        };
        rt.spawn(async move {
            // The upstream stored the response whether or not the client stayed.
            if let Some((plan, id, vault)) = keep {
                plan.run(&gw, id.as_deref(), &vault).await;
            }
            if !append(&gw, &record).await {
                tracing::error!(request_id, "cannot record the exchange");
            }
        });
    }
}

/// Adds the reply's findings and decisions, choice by choice, to the record.
fn fold_findings(record: &mut Record, guards: &BTreeMap<(u64, Part), StreamGuard>) {
    for g in guards.values() {
        record.count_reply_findings(&g.findings);
        record.decision = record.decision.max(g.decision());
    }
    record.response_rules.sort_unstable();
    record.response_rules.dedup();
}

impl Record {
    /// Counts reply findings by kind, with the rules that decided them.
    fn count_reply_findings(&mut self, found: &[crate::guard::Located]) {
        for f in found {
            *self.response_counts.entry(f.kind.to_string()).or_default() += 1;
            if let Some(r) = &f.rule {
                self.response_rules.push(r.clone());
            }
        }
    }
}

/// Appends the exchange's record; `false` when the ledger refused it.
async fn append(gw: &Gateway, record: &Record) -> bool {
    let t = Instant::now();
    let recorded = gw.ledger.append(record.event()).await.is_ok();
    gw.metrics.ledger.observe(t.elapsed().as_secs_f64());
    gw.metrics.exchange(record);
    recorded
}
