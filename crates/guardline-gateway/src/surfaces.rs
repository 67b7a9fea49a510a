//! Where the text is in OpenAI-shaped bodies. Every string a model reads or writes is a surface:
//! system, user, assistant and tool messages, content-part arrays, tool-call and function-call
//! arguments, `prompt` strings and arrays, embedding inputs; and in replies, message content,
//! refusals, tool-call arguments and completion text. Each surface is named by its JSON pointer.

use serde_json::Value;

/// The OpenAI-compatible endpoints the gateway guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Completions,
    Embeddings,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "chat.completions",
            Endpoint::Completions => "completions",
            Endpoint::Embeddings => "embeddings",
        }
    }
}

/// JSON pointers of every string to check in a request body.
pub fn request_surfaces(endpoint: Endpoint, body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match endpoint {
        Endpoint::ChatCompletions => {
            if let Some(messages) = body.get("messages").and_then(Value::as_array) {
                for (i, m) in messages.iter().enumerate() {
                    message_surfaces(m, &format!("/messages/{i}"), &mut out);
                }
            }
        }
        Endpoint::Completions => {
            strings_or_arrays(body, "prompt", &mut out);
            if body.get("suffix").is_some_and(Value::is_string) {
                out.push("/suffix".into());
            }
        }
        Endpoint::Embeddings => strings_or_arrays(body, "input", &mut out),
    }
    out
}

/// JSON pointers of every string to check in a (non-streamed) response body.
pub fn response_surfaces(endpoint: Endpoint, body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(choices) = body.get("choices").and_then(Value::as_array) else {
        return out;
    };
    for (i, c) in choices.iter().enumerate() {
        match endpoint {
            Endpoint::ChatCompletions => {
                if let Some(m) = c.get("message") {
                    message_surfaces(m, &format!("/choices/{i}/message"), &mut out);
                }
            }
            Endpoint::Completions => {
                if c.get("text").is_some_and(Value::is_string) {
                    out.push(format!("/choices/{i}/text"));
                }
            }
            Endpoint::Embeddings => {}
        }
    }
    out
}

fn message_surfaces(m: &Value, at: &str, out: &mut Vec<String>) {
    match m.get("content") {
        Some(Value::String(_)) => out.push(format!("{at}/content")),
        Some(Value::Array(parts)) => {
            for (j, p) in parts.iter().enumerate() {
                // `text` parts (and `input_text`/`output_text` in newer shapes); image and audio
                // parts carry no text we can read.
                if p.get("text").is_some_and(Value::is_string) {
                    out.push(format!("{at}/content/{j}/text"));
                }
            }
        }
        _ => {}
    }
    if m.get("refusal").is_some_and(Value::is_string) {
        out.push(format!("{at}/refusal"));
    }
    if let Some(calls) = m.get("tool_calls").and_then(Value::as_array) {
        for (k, c) in calls.iter().enumerate() {
            if c.pointer("/function/arguments")
                .is_some_and(Value::is_string)
            {
                out.push(format!("{at}/tool_calls/{k}/function/arguments"));
            }
        }
    }
    if m.pointer("/function_call/arguments")
        .is_some_and(Value::is_string)
    {
        out.push(format!("{at}/function_call/arguments"));
    }
}

fn strings_or_arrays(body: &Value, field: &str, out: &mut Vec<String>) {
    match body.get(field) {
        Some(Value::String(_)) => out.push(format!("/{field}")),
        Some(Value::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                // Token-id arrays (integers) carry no text.
                if v.is_string() {
                    out.push(format!("/{field}/{i}"));
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chat_surfaces_cover_every_message_shape() {
        let body = json!({
            "model": "m",
            "messages": [
                {"role": "system", "content": "be nice"},
                {"role": "user", "content": [
                    {"type": "text", "text": "hello"},
                    {"type": "image_url", "image_url": {"url": "data:..."}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"id\":\"A123456(3)\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "c1", "content": "result"},
                {"role": "assistant", "function_call": {"name": "g", "arguments": "{}"}}
            ]
        });
        assert_eq!(
            request_surfaces(Endpoint::ChatCompletions, &body),
            vec![
                "/messages/0/content",
                "/messages/1/content/0/text",
                "/messages/2/tool_calls/0/function/arguments",
                "/messages/3/content",
                "/messages/4/function_call/arguments",
            ]
        );
        for p in request_surfaces(Endpoint::ChatCompletions, &body) {
            assert!(body.pointer(&p).unwrap().is_string());
        }
    }

    #[test]
    fn prompts_inputs_and_replies() {
        let c = json!({"prompt": ["a", [1, 2], "b"], "suffix": "s"});
        assert_eq!(
            request_surfaces(Endpoint::Completions, &c),
            vec!["/prompt/0", "/prompt/2", "/suffix"]
        );
        let e = json!({"input": "x"});
        assert_eq!(request_surfaces(Endpoint::Embeddings, &e), vec!["/input"]);
        let r = json!({"choices": [
            {"message": {"role": "assistant", "content": "hi", "refusal": null}},
            {"message": {"role": "assistant", "content": null, "refusal": "no"}}
        ]});
        assert_eq!(
            response_surfaces(Endpoint::ChatCompletions, &r),
            vec!["/choices/0/message/content", "/choices/1/message/refusal"]
        );
        let t = json!({"choices": [{"text": "t"}]});
        assert_eq!(
            response_surfaces(Endpoint::Completions, &t),
            vec!["/choices/0/text"]
        );
        assert!(request_surfaces(Endpoint::ChatCompletions, &json!({"messages": 3})).is_empty());
    }
}
