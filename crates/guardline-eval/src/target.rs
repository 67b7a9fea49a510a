//! The system under test: any OpenAI-compatible chat-completions endpoint (OpenAI, Azure,
//! DeepSeek, vLLM, Ollama, a Guardline gateway in front of any of them).
//!
//! A block is an answer, not an error: a Guardline gateway's `403 blocked_by_policy` (header
//! `x-guardline-decision: block`), a provider's `content_filter` error or finish reason, or an
//! OpenAI `refusal` field all count as the system refusing, so measuring a model behind the
//! gateway shows what the gateway adds.

use crate::probe::Message;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Where probes go.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The full chat-completions URL.
    pub url: reqwest::Url,
    pub model: String,
    /// Bearer token (from an environment variable; never stored or recorded).
    pub api_key: Option<String>,
}

impl Endpoint {
    /// `base`: `http://host:port/v1` (the OpenAI base-URL convention), a full
    /// `…/chat/completions` URL, or a bare `http://host:port` (then `/v1/chat/completions`).
    pub fn new(base: &str, model: &str, api_key: Option<String>) -> Result<Endpoint> {
        let mut url = reqwest::Url::parse(base.trim())
            .map_err(|e| Error::Invalid(format!("target `{base}` is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Invalid(format!(
                "target `{base}` must be an http:// or https:// URL"
            )));
        }
        if url.host_str().is_none() {
            return Err(Error::Invalid(format!("target `{base}` has no host")));
        }
        if model.trim().is_empty() {
            return Err(Error::Invalid("the model name is empty".into()));
        }
        url.set_query(None);
        url.set_fragment(None);
        let path = url.path().trim_end_matches('/').to_string();
        let path = if path.ends_with("/chat/completions") {
            path
        } else if path.is_empty() {
            "/v1/chat/completions".to_string()
        } else {
            format!("{path}/chat/completions")
        };
        url.set_path(&path);
        Ok(Endpoint {
            url,
            model: model.to_string(),
            api_key,
        })
    }

    /// `host[:port]` only: what the ledger records (no path, no credentials).
    pub fn host(&self) -> String {
        let host = self.url.host_str().unwrap_or("");
        match self.url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        }
    }

    /// The endpoint without credentials, for the run's manifest and the cache key.
    pub fn display_url(&self) -> String {
        let mut u = self.url.clone();
        let _ = u.set_username("");
        let _ = u.set_password(None);
        u.to_string()
    }
}

/// How requests are shaped (the same for every probe of a run).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Sampling {
    /// `temperature` sent with each request (0: the most repeatable answers).
    pub temperature: f64,
    /// `max_tokens`; `None` leaves it to the server.
    pub max_tokens: Option<u32>,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            temperature: 0.0,
            max_tokens: Some(512),
        }
    }
}

/// The request body for `messages`.
pub fn request_body(model: &str, messages: &[Message], sampling: &Sampling) -> Value {
    let mut body = json!({
        "model": model,
        "messages": messages,
        "temperature": sampling.temperature,
    });
    if let Some(m) = sampling.max_tokens {
        body["max_tokens"] = json!(m);
    }
    body
}

/// What came back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outcome {
    Answer {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        finish_reason: Option<String>,
    },
    /// The system refused before or instead of answering (gateway or provider filter).
    Blocked { reason: String },
}

/// Why a request failed, and whether trying again may help.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub message: String,
    pub retryable: bool,
    /// A `Retry-After` the server asked for, in seconds.
    pub retry_after: Option<f64>,
}

/// Interprets an HTTP response (status, `x-guardline-decision` header, body).
pub fn interpret(
    status: u16,
    decision: Option<&str>,
    retry_after: Option<&str>,
    body: &[u8],
) -> std::result::Result<Outcome, Failure> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let error_code = json
        .as_ref()
        .and_then(|j| j.get("error"))
        .and_then(|e| e.get("code").or_else(|| e.get("type")))
        .and_then(Value::as_str)
        .map(str::to_string);
    if !(200..300).contains(&status) {
        if decision == Some("block")
            || matches!(
                error_code.as_deref(),
                Some("blocked_by_policy" | "reply_blocked_by_policy" | "content_filter")
            )
        {
            return Ok(Outcome::Blocked {
                reason: error_code.unwrap_or_else(|| "blocked".into()),
            });
        }
        let message = json
            .as_ref()
            .and_then(|j| j.pointer("/error/message"))
            .and_then(Value::as_str)
            .map(|m| m.chars().take(200).collect::<String>())
            .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
        return Err(Failure {
            message: format!("HTTP {status}: {message}"),
            retryable: status == 429 || status == 408 || status >= 500,
            retry_after: retry_after.and_then(|s| s.trim().parse::<f64>().ok()),
        });
    }
    let Some(json) = json else {
        return Err(Failure {
            message: "the response is not JSON".into(),
            retryable: true,
            retry_after: None,
        });
    };
    let choice = json.pointer("/choices/0");
    let Some(choice) = choice else {
        return Err(Failure {
            message: "the response has no choices".into(),
            retryable: false,
            retry_after: None,
        });
    };
    let finish = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .map(str::to_string);
    let message = choice.get("message");
    if let Some(r) = message
        .and_then(|m| m.get("refusal"))
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
    {
        // OpenAI structured refusals: the text is the refusal.
        return Ok(Outcome::Answer {
            text: r.to_string(),
            finish_reason: Some("refusal".into()),
        });
    }
    let text = match message.and_then(|m| m.get("content")) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => choice
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    };
    if text.is_empty() && finish.as_deref() == Some("content_filter") {
        return Ok(Outcome::Blocked {
            reason: "content_filter".into(),
        });
    }
    Ok(Outcome::Answer {
        text,
        finish_reason: finish,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = Endpoint::new("http://127.0.0.1:8080/v1", "m", None).unwrap();
        assert_eq!(e.url.as_str(), "http://127.0.0.1:8080/v1/chat/completions");
        assert_eq!(e.host(), "127.0.0.1:8080");
        let e = Endpoint::new(
            "https://user:pw@api.example.com/v1/chat/completions/?x=1",
            "m",
            None,
        )
        .unwrap();
        assert_eq!(e.host(), "api.example.com");
        assert_eq!(
            e.display_url(),
            "https://api.example.com/v1/chat/completions"
        );
        let e = Endpoint::new("http://localhost:11434", "m", None).unwrap();
        assert_eq!(e.url.path(), "/v1/chat/completions");
        assert!(Endpoint::new("ftp://x", "m", None).is_err());
        assert!(Endpoint::new("not a url", "m", None).is_err());
        assert!(Endpoint::new("http://x/v1", " ", None).is_err());
    }

    #[test]
    fn responses() {
        let ok = br#"{"choices":[{"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}"#;
        assert_eq!(
            interpret(200, None, None, ok).unwrap(),
            Outcome::Answer {
                text: "hi".into(),
                finish_reason: Some("stop".into())
            }
        );
        let blocked = br#"{"error":{"message":"blocked by policy","type":"invalid_request_error","code":"blocked_by_policy"}}"#;
        assert!(matches!(
            interpret(403, Some("block"), None, blocked).unwrap(),
            Outcome::Blocked { .. }
        ));
        let f = interpret(429, None, Some("2"), b"{}").unwrap_err();
        assert!(f.retryable && f.retry_after == Some(2.0));
        let f = interpret(400, None, None, br#"{"error":{"message":"bad model"}}"#).unwrap_err();
        assert!(!f.retryable && f.message.contains("bad model"));
        assert!(interpret(200, None, None, b"nope").unwrap_err().retryable);
        let refusal =
            br#"{"choices":[{"message":{"content":null,"refusal":"I can't help with that."}}]}"#;
        assert!(matches!(
            interpret(200, None, None, refusal).unwrap(),
            Outcome::Answer { text, .. } if text.contains("can't")
        ));
        let parts = br#"{"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}}]}"#;
        assert!(matches!(
            interpret(200, None, None, parts).unwrap(),
            Outcome::Answer { text, .. } if text == "ab"
        ));
    }
}
