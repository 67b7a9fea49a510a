//! Streamed replies of the Responses API (`/v1/responses`): typed events instead of chunks.
//!
//! Each text is streamed as `….delta` events and then repeated whole: in its `….done` event, in
//! `response.content_part.done`, `response.output_item.done` and the final `response.completed`.
//! Deltas go through a [`StreamGuard`] per text (output item and part), like a chat choice's
//! content; every whole copy is replaced by what the guard released for that text, so the client
//! reads the same restored, checked text in the deltas and in every summary. A text that arrives
//! only whole (no deltas) is checked whole. The stream ends at a terminal event
//! (`response.completed`, `response.incomplete`, `response.failed`), with no `[DONE]`.
//!
//! Texts that arrive only whole (what the built-in tools found or printed, an MCP call's output,
//! a citation's title) are checked whole wherever they appear: in `response.output_item.added`
//! and `….done`, `response.output_text.annotation.added`, the final response. So is every text
//! an event carries outside the fields its type is handled for, and every text of an event of a
//! type the relay does not know: neither a new event type nor an unexpected field can carry text
//! past the guard. Only identifiers and encoded payloads (a generated image, audio) are not text
//! (see [`crate::surfaces::text_leaves`]).

use super::{End, Part, Relay};
use crate::stream::StreamGuard;
use crate::surfaces::{streamed_in_item, text_leaves};
use axum::body::Bytes;
use guardline_policy::Decision;
use serde_json::Value;

/// A text being streamed: what was released of it, and whether it is complete.
#[derive(Default)]
pub(super) struct Piece {
    released: String,
    /// Its `….done` (or a whole copy) went out: the disclosure, when there is one, is in.
    done: bool,
    /// Its first delta event, the shape of the deltas the relay writes itself (a held tail).
    template: Option<Value>,
}

/// The delta event types, with the text they stream, its `….done` event and field there.
struct Streamed {
    delta: &'static str,
    done: &'static str,
    field: &'static str,
}

const STREAMED: &[Streamed] = &[
    Streamed {
        delta: "response.output_text.delta",
        done: "response.output_text.done",
        field: "text",
    },
    Streamed {
        delta: "response.refusal.delta",
        done: "response.refusal.done",
        field: "refusal",
    },
    Streamed {
        delta: "response.function_call_arguments.delta",
        done: "response.function_call_arguments.done",
        field: "arguments",
    },
    Streamed {
        delta: "response.custom_tool_call_input.delta",
        done: "response.custom_tool_call_input.done",
        field: "input",
    },
    Streamed {
        delta: "response.mcp_call_arguments.delta",
        done: "response.mcp_call_arguments.done",
        field: "arguments",
    },
    Streamed {
        delta: "response.reasoning_summary_text.delta",
        done: "response.reasoning_summary_text.done",
        field: "text",
    },
    Streamed {
        delta: "response.reasoning_text.delta",
        done: "response.reasoning_text.done",
        field: "text",
    },
    Streamed {
        delta: "response.code_interpreter_call_code.delta",
        done: "response.code_interpreter_call_code.done",
        field: "code",
    },
];

/// Which text of output item `output_index` an event is about.
fn part_of(kind: &str, event: &Value) -> Part {
    let at = |f: &str| event.get(f).and_then(Value::as_u64).unwrap_or(0);
    match kind {
        "response.output_text.delta" | "response.output_text.done" => {
            Part::OutputText(at("content_index"))
        }
        "response.refusal.delta" | "response.refusal.done" => {
            Part::OutputRefusal(at("content_index"))
        }
        "response.reasoning_summary_text.delta" | "response.reasoning_summary_text.done" => {
            Part::Summary(at("summary_index"))
        }
        "response.reasoning_text.delta" | "response.reasoning_text.done" => {
            Part::ReasoningText(at("content_index"))
        }
        _ => Part::Arguments,
    }
}

/// Empties every text of an output item that is streamed as deltas (see
/// `response.output_item.added`).
fn empty_streamed(item: &mut Value) {
    let mut at = Vec::new();
    crate::surfaces::item_surfaces(item, "", &mut at);
    for p in at.iter().filter(|p| streamed_in_item(p)) {
        if let Some(Value::String(t)) = crate::surfaces::lookup_mut(item, p) {
            t.clear();
        }
    }
}

/// Pointers (relative to `v`, which is at `prefix` in an output item) of the texts in it that
/// are not streamed as deltas.
fn unstreamed(v: &Value, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut whole = prefix.to_string();
    text_leaves(v, &mut String::new(), 0, &mut |p| {
        whole.truncate(prefix.len());
        whole.push_str(p);
        if !streamed_in_item(&whole) {
            out.push(p.to_string());
        }
    });
    out
}

/// An SSE event as OpenAI writes it: its type as the event name, then the data.
pub(super) fn event_line(v: &Value) -> Bytes {
    let mut out = Vec::with_capacity(256);
    if let Some(t) = v.get("type").and_then(Value::as_str) {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(t.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    // A parsed `Value` always serialises.
    let _ = serde_json::to_writer(&mut out, v);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

impl Relay {
    /// Guards one Responses API event; queues what may go out. `Some` when the stream ends here.
    pub(super) fn response_event(&mut self, data: &str) -> Option<End> {
        if data.trim() == "[DONE]" {
            return Some(End::Done);
        }
        let Ok(mut event) = serde_json::from_str::<Value>(data) else {
            return None; // keep-alives and comments
        };
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let output = event
            .get("output_index")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if let Some(r) = event.get_mut("response") {
            crate::server::restore_echoed_instructions(r, &self.vault);
        }
        let mut end = None;
        let ok = if STREAMED.iter().any(|s| s.delta == kind) {
            self.delta(output, part_of(&kind, &event), &mut event)
        } else if let Some(s) = STREAMED.iter().find(|s| s.done == kind) {
            let key = (output, part_of(&kind, &event));
            self.settle_field(key, &mut event, s.field)
        } else {
            match kind.as_str() {
                "response.content_part.done" => {
                    let j = event
                        .get("content_index")
                        .and_then(Value::as_u64)
                        .unwrap_or(0);
                    let reasoning = crate::surfaces::lookup(&event, "/part/type")
                        .and_then(Value::as_str)
                        == Some("reasoning_text");
                    match event.get_mut("part") {
                        Some(part) => {
                            self.settle_part(output, j, reasoning, part)
                                && self.check_others(output, &format!("/content/{j}"), part)
                        }
                        None => true,
                    }
                }
                "response.reasoning_summary_part.done" => {
                    let j = event
                        .get("summary_index")
                        .and_then(Value::as_u64)
                        .unwrap_or(0);
                    match event.get_mut("part") {
                        Some(part) => {
                            self.settle_field((output, Part::Summary(j)), part, "text")
                                && self.check_others(output, &format!("/summary/{j}"), part)
                        }
                        None => true,
                    }
                }
                "response.output_text.annotation.added" => {
                    let at = |f: &str| event.get(f).and_then(Value::as_u64).unwrap_or(0);
                    let prefix = format!(
                        "/content/{}/annotations/{}",
                        at("content_index"),
                        at("annotation_index")
                    );
                    match event.get_mut("annotation") {
                        Some(a) => self.check_others(output, &prefix, a),
                        None => true,
                    }
                }
                // Base64 audio, not text (and not checked below: see `handled`).
                "response.audio.delta" => true,
                // Announcements: their streamed texts are empty in OpenAI's streams, and the real
                // text follows in deltas and `….done` events, where it is checked; such a text
                // here would go out unchecked, so it is emptied. Texts that never come as deltas
                // are checked whole.
                "response.output_item.added" => match event.get_mut("item") {
                    Some(item) => {
                        empty_streamed(item);
                        self.check_others(output, "", item)
                    }
                    None => true,
                },
                "response.content_part.added" | "response.reasoning_summary_part.added" => {
                    let (list, index) = if kind == "response.content_part.added" {
                        ("content", "content_index")
                    } else {
                        ("summary", "summary_index")
                    };
                    let j = event.get(index).and_then(Value::as_u64).unwrap_or(0);
                    match event.get_mut("part") {
                        Some(part) => {
                            for field in ["text", "refusal"] {
                                if let Some(Value::String(t)) = part.get_mut(field) {
                                    t.clear();
                                }
                            }
                            self.check_others(output, &format!("/{list}/{j}"), part)
                        }
                        None => true,
                    }
                }
                "response.created" | "response.in_progress" | "response.queued" => {
                    if self.response_id.is_none() {
                        self.response_id = crate::surfaces::lookup(&event, "/response/id")
                            .and_then(Value::as_str)
                            .map(String::from);
                    }
                    // The response object echoes `text.format`: a replayed stored response says
                    // here whether its output is structured (no disclosure then).
                    if event
                        .get("response")
                        .is_some_and(crate::surfaces::structured_output)
                    {
                        self.disclosure = None;
                    }
                    match crate::surfaces::lookup_mut(&mut event, "/response/output") {
                        Some(Value::Array(items)) => {
                            items.iter_mut().enumerate().all(|(i, item)| {
                                empty_streamed(item);
                                self.check_others(i as u64, "", item)
                            })
                        }
                        _ => true,
                    }
                }
                "response.output_item.done" => match event.get_mut("item") {
                    Some(item) => self.settle_item(output, item),
                    None => true,
                },
                "response.completed" | "response.incomplete" | "response.failed" => {
                    end = Some(End::Done);
                    if kind == "response.failed" {
                        if let Some(r) = self.record.as_mut() {
                            r.note = Some("upstream reported response.failed".into());
                        }
                    }
                    // Whatever a guard still holds goes out before the summary.
                    !self.settle_open(true) && self.settle_response(&mut event)
                }
                _ => true,
            }
        };
        // Whatever else an event carries (all of it, for a tool's progress, an error, an event
        // type newer than this relay) is checked whole.
        let ok = ok && self.check_rest(output, &kind, &mut event);
        if !ok {
            if let Some(record) = self.record.as_mut() {
                record.decision = Decision::Block;
                record.note = Some("reply blocked mid-stream".into());
            }
            return Some(End::Blocked);
        }
        self.out.push_back(event_line(&event));
        if end.is_some() {
            self.terminal = true;
        }
        end
    }

    /// A delta: through its text's guard. `false` when the policy blocked.
    fn delta(&mut self, output: u64, part: Part, event: &mut Value) -> bool {
        let Some(Value::String(text)) = event.get_mut("delta") else {
            return true;
        };
        let r = self.guard_of((output, part)).push(text);
        if r.blocked {
            return false;
        }
        *text = r.text;
        let released = text.clone();
        let piece = self.pieces.entry((output, part)).or_default();
        piece.released.push_str(&released);
        if piece.template.is_none() {
            piece.template = Some(event.clone());
        }
        true
    }

    fn guard_of(&mut self, key: (u64, Part)) -> &mut StreamGuard {
        let (gw, policy, vault) = (&self.gw, &self.policy, &self.vault);
        self.guards
            .entry(key)
            .or_insert_with(|| StreamGuard::new(gw.guard.clone(), policy.clone(), vault.clone()))
    }

    /// Replaces `obj[field]`, when it is a string, by what was released of it (see
    /// [`Relay::settle`]). `false` when the policy blocked.
    fn settle_field(&mut self, key: (u64, Part), obj: &mut Value, field: &str) -> bool {
        let Some(Value::String(text)) = obj.get_mut(field) else {
            return true;
        };
        match self.settle(key, text, true) {
            Some(released) => {
                *text = released;
                true
            }
            None => false,
        }
    }

    /// A text is complete (`whole` is the upstream's copy of it): releases what its guard still
    /// holds as one more delta (with the disclosure after an output text, when `disclose` and the
    /// policy has one), and returns the text as released, which replaces every whole copy. A
    /// text that never came as deltas is checked whole. `None` when the policy blocked.
    fn settle(&mut self, key: (u64, Part), whole: &str, disclose: bool) -> Option<String> {
        if let Some(p) = self.pieces.get(&key) {
            if p.done {
                return Some(p.released.clone());
            }
        }
        let streamed = self.pieces.contains_key(&key);
        let g = self.guard_of(key);
        let r = if streamed {
            g.finish()
        } else {
            let mut r = g.push(whole);
            if r.blocked {
                return None;
            }
            let rest = g.finish();
            r.text.push_str(&rest.text);
            r.blocked = rest.blocked;
            r
        };
        if r.blocked {
            return None;
        }
        let mut tail = r.text;
        if disclose && matches!(key.1, Part::OutputText(_)) {
            if let Some(d) = &self.disclosure {
                tail.push_str(d);
            }
        }
        let piece = self.pieces.entry(key).or_default();
        piece.done = true;
        piece.released.push_str(&tail);
        if streamed && !tail.is_empty() {
            if let Some(mut t) = piece.template.clone() {
                t["delta"] = Value::String(tail);
                self.out.push_back(event_line(&t));
            }
        }
        Some(self.pieces[&key].released.clone())
    }

    /// Releases every text still open (the stream is ending); `true` when the policy blocked.
    pub(super) fn settle_open(&mut self, disclose: bool) -> bool {
        let open: Vec<(u64, Part)> = self
            .pieces
            .iter()
            .filter(|(_, p)| !p.done)
            .map(|(k, _)| *k)
            .collect();
        for key in open {
            // A failed stream (`!disclose`): what is held goes out, but it is not a finished
            // answer.
            if self.settle(key, "", disclose).is_none() {
                return true;
            }
        }
        false
    }

    /// A content part (of output item `output`, at `j`), whole: its text or refusal replaced by
    /// what was released. `false` when the policy blocked.
    fn settle_part(&mut self, output: u64, j: u64, reasoning: bool, part: &mut Value) -> bool {
        for (field, key) in [
            (
                "text",
                if reasoning {
                    Part::ReasoningText(j)
                } else {
                    Part::OutputText(j)
                },
            ),
            ("refusal", Part::OutputRefusal(j)),
        ] {
            if !self.settle_field((output, key), part, field) {
                return false;
            }
        }
        true
    }

    /// An output item, whole: every text in it replaced by what was released.
    fn settle_item(&mut self, output: u64, item: &mut Value) -> bool {
        let reasoning = item.get("type").and_then(Value::as_str) == Some("reasoning");
        if let Some(Value::Array(parts)) = item.get_mut("content") {
            for (j, p) in parts.iter_mut().enumerate() {
                if !self.settle_part(output, j as u64, reasoning, p) {
                    return false;
                }
            }
        }
        for field in ["arguments", "input", "code"] {
            if !self.settle_field((output, Part::Arguments), item, field) {
                return false;
            }
        }
        if let Some(Value::Array(parts)) = item.get_mut("summary") {
            for (j, p) in parts.iter_mut().enumerate() {
                if !self.settle_field((output, Part::Summary(j as u64)), p, "text") {
                    return false;
                }
            }
        }
        self.check_others(output, "", item)
    }

    /// Checks whole every text of `event` outside the fields its type was handled for above, so
    /// that an upstream cannot slip text past the guard in a field no handler reads. In the
    /// `response` object of a lifecycle event, its output was handled above, and what echoes the
    /// request (instructions, tools, text format, metadata, prompt) is left as it is; the rest (an
    /// error's message, say) is checked.
    fn check_rest(&mut self, output: u64, kind: &str, event: &mut Value) -> bool {
        let handled: &[&str] = if STREAMED.iter().any(|s| s.delta == kind) {
            &["delta"]
        } else if let Some(s) = STREAMED.iter().find(|s| s.done == kind) {
            std::slice::from_ref(&s.field)
        } else {
            match kind {
                "response.audio.delta" => &["delta"],
                "response.output_item.added" | "response.output_item.done" => &["item"],
                "response.content_part.added"
                | "response.content_part.done"
                | "response.reasoning_summary_part.added"
                | "response.reasoning_summary_part.done" => &["part"],
                "response.output_text.annotation.added" => &["annotation"],
                _ => &[],
            }
        };
        let lifecycle = matches!(
            kind,
            "response.created"
                | "response.in_progress"
                | "response.queued"
                | "response.completed"
                | "response.incomplete"
                | "response.failed"
        );
        let mut rest = Vec::new();
        text_leaves(event, &mut String::new(), 0, &mut |p| {
            let mut tokens = p.get(1..).unwrap_or_default().split('/');
            let top = tokens.next().unwrap_or_default();
            let echo = lifecycle
                && top == "response"
                && matches!(
                    tokens.next(),
                    Some("output" | "instructions" | "tools" | "text" | "metadata" | "prompt")
                );
            if !echo && !handled.contains(&top) {
                rest.push(p.to_string());
            }
        });
        if rest.is_empty() {
            return true;
        }
        let prefix = format!("#{kind}");
        self.check_whole(output, &prefix, event, rest)
    }

    /// Checks whole the texts of `v` (at `prefix` in output item `output`) that are not streamed
    /// as deltas. `false` when the policy blocked.
    fn check_others(&mut self, output: u64, prefix: &str, v: &mut Value) -> bool {
        let others = unstreamed(v, prefix);
        self.check_whole(output, prefix, v, others)
    }

    /// The final response object: every output item's texts replaced by what was released.
    fn settle_response(&mut self, event: &mut Value) -> bool {
        let Some(Value::Array(items)) = crate::surfaces::lookup_mut(event, "/response/output")
        else {
            return true;
        };
        for (i, item) in items.iter_mut().enumerate() {
            if !self.settle_item(i as u64, item) {
                return false;
            }
        }
        true
    }
}
