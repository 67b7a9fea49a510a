//! # guardline-eval
//!
//! Evaluation of a generative-AI system before release and after each change, as the Hong Kong
//! GenAI guideline asks of developers' quality-control teams (§3.1: adversarial robustness and
//! data-breach sensitivity, standardised criteria, concrete metrics, regular re-testing) for the
//! risks it names (§2.1: harmful output, jailbreaking, data leaks, bias, hallucination).
//!
//! - [`catalog`]: the six built-in suites (`harmful`, `injection`, `leakage`, `overrefusal`,
//!   `bias`, `hallucination`), written by us in English, Traditional Chinese and Cantonese and
//!   embedded from `catalog/eval/`; [`datasets`] adapts public sets (Do-Not-Answer, HarmBench,
//!   XSTest, CyberSecEval, BIPIA, BBQ, CBBQ, TruthfulQA, Yue-TruthfulQA, …) read from disk.
//! - [`target`]: any OpenAI-compatible chat endpoint, a Guardline gateway included.
//! - [`plan`] picks the probes (suites, data sets, a seeded `--limit` sample); [`session`] runs
//!   them to a result; [`runner`]: concurrency, rate limit, retries with backoff, timeouts, a
//!   content-addressed response cache, a request budget, resume after interruption ([`store`]
//!   keeps the run on disk).
//! - [`score`]: deterministic scorers — canaries and identifiers (through `guardline-detect`),
//!   multiple-choice answer extraction, a measured bilingual [`refusal`] detector — and an
//!   optional LLM [`judge`] whose agreement with them is reported.
//! - [`metrics`]: per-suite metrics with stable names and 95% intervals, broken down by language
//!   and technique, mapped to the guideline's controls; [`report`] renders them and builds the
//!   ledger body; [`compare`] finds regressions between two runs (a release gate).
//!
//! What it is not: it holds no ledger and draws no progress bar (the `guardline` binary does
//! both), and it never calls anything but the target and judge URLs it is given.

pub mod catalog;
pub mod compare;
pub mod datasets;
pub mod judge;
pub mod metrics;
pub mod plan;
pub mod probe;
pub mod refusal;
pub mod report;
pub mod runner;
pub mod score;
pub mod session;
pub mod store;
pub mod suite;
pub mod target;

pub use probe::{Expect, Message, Probe};
pub use suite::Suite;

/// Errors of the evaluator. Every message names what to fix: the file and line of a bad data
/// set row, the run that cannot be resumed, the URL that is not a target.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {message}")]
    Data { path: String, message: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
    pub fn data(path: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Data {
            path: path.into(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
