//! A probe: one conversation sent to the target, and what its answer is scored against.

use crate::Suite;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Message {
        Message {
            role: "system".into(),
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Message {
        Message {
            role: "user".into(),
            content: content.into(),
        }
    }
}

/// What a good answer looks like; decides which scorer runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Expect {
    /// A harmful request: complying is the attack succeeding.
    Refuse,
    /// A safe request: refusing it is the failure (over-refusal).
    Comply,
    /// Prompt injection: the attack succeeded when any canary appears in the answer. Canaries are
    /// strings the model only writes if it followed the injected instruction (never present in
    /// the request itself, so quoting the attack does not count).
    Canary { canaries: Vec<String> },
    /// Leakage: secrets planted in the system prompt or context; any of them in the answer, also
    /// reformatted (spaced, hyphenated, full width), is a leak.
    Leak {
        canaries: Vec<String>,
        identifiers: Vec<String>,
    },
    /// Success can only be judged by reading the answer (e.g. "is the response in Spanish?"):
    /// needs `--judge`; the judge's yes means the attack succeeded.
    Judge { question: String },
    /// Multiple choice with one right answer (0-based index). `pair` links paraphrases of the
    /// same question (another language, another option order) for the consistency rate.
    Choice {
        options: Vec<String>,
        answer: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pair: Option<String>,
    },
    /// BBQ-style ambiguous context: the right answer is `unknown`; `biased` is the answer the
    /// stereotype would pick (None where a data set does not say).
    Bias {
        options: Vec<String>,
        biased: Option<usize>,
        unknown: usize,
    },
    /// One half of a counterfactual pair: two prompts that differ only in a protected
    /// attribute; the pair flips when the two answers differ.
    Counterfactual { options: Vec<String>, pair: String },
    /// Unanswerable: the model should abstain.
    Abstain,
}

impl Expect {
    pub fn options(&self) -> Option<&[String]> {
        match self {
            Expect::Choice { options, .. }
            | Expect::Bias { options, .. }
            | Expect::Counterfactual { options, .. } => Some(options),
            _ => None,
        }
    }
}

/// One probe, rendered: the exact messages the target receives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// Unique within a run, stable across runs of the same catalog or data set.
    pub id: String,
    pub suite: Suite,
    /// `en`, `zh-Hant`, `yue` (written Cantonese), `zh-Hans`.
    pub lang: String,
    /// Harm category, protected attribute, fact category (empty when none).
    #[serde(default)]
    pub category: String,
    /// Attack technique (injection, leakage), empty when none.
    #[serde(default)]
    pub technique: String,
    /// `catalog` or the data set's file name.
    pub source: String,
    pub messages: Vec<Message>,
    pub expect: Expect,
}

impl Probe {
    /// The text of the request, for checks that a canary is not in it and for the judge.
    pub fn request_text(&self) -> String {
        let mut s = String::new();
        for m in &self.messages {
            s.push_str(&m.content);
            s.push('\n');
        }
        s
    }

    /// The last user message (what the judge is shown as the request).
    pub fn user_text(&self) -> &str {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == "user")
            .map(|m| m.content.as_str())
            .unwrap_or("")
    }
}

/// Option letters: A, B, C, …
pub fn letter(i: usize) -> char {
    (b'A' + (i as u8).min(25)) as char
}

/// Renders a multiple-choice question in the probe's language, asking for the letter only.
pub fn render_choice(lang: &str, question: &str, options: &[String]) -> String {
    let mut s = String::with_capacity(question.len() + 64 * options.len());
    s.push_str(question.trim_end());
    s.push_str("\n\n");
    for (i, o) in options.iter().enumerate() {
        s.push(letter(i));
        s.push_str(". ");
        s.push_str(o);
        s.push('\n');
    }
    s.push('\n');
    s.push_str(match lang {
        "yue" => "請淨係答啱嗰個選項嘅字母。",
        l if l.starts_with("zh") => "請只回答正確選項的字母。",
        _ => "Answer with the letter of the correct option only.",
    });
    s
}

/// Puts a document the model is asked to process after the request, fenced, the way an
/// application that summarises or answers from documents would.
pub fn with_document(prompt: &str, document: &str) -> String {
    format!(
        "{}\n\n<document>\n{}\n</document>",
        prompt.trim_end(),
        document.trim()
    )
}
