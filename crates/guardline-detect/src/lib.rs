//! # guardline-detect
//!
//! Text in, findings out. This crate finds Hong Kong personal data (HKID, +852 phones, mainland
//! and Macao IDs, passports, bank accounts, cards, IBANs, …), secrets (cloud and SaaS keys, JWTs,
//! private keys, high-entropy assignments) and prompt-injection attempts (English, Traditional
//! and Simplified Chinese, written Cantonese, hidden or encoded) in arbitrary bytes, and redacts
//! or pseudonymises what it found.
//!
//! How: the input is normalised (full-width forms folded, invisible characters removed, with a
//! map back to the original bytes), then one multi-pattern automaton built from
//! `catalog/recognizers.toml` (literal heads for the secret kinds, whose full patterns are checked
//! anchored at each head) and one built from `catalog/lexicons/injection.toml` pass over it;
//! validators check each candidate (check digits, dates, structure, decoding), bilingual context
//! cues adjust scores, and offsets are mapped back. No recogniser makes a pass of its own.
//! Findings always carry byte offsets into the original input.
//!
//! What it is not: it does no I/O, holds no global state, and knows nothing of files, HTTP or
//! storage — callers (`guardline scan`, the gateway, the evaluator) bring bytes. Model-based
//! detectors (`person_name`, `address`, a learned injection classifier) plug in through
//! [`Detector`] and are not part of this release.
//!
//! ```
//! use guardline_detect::Engine;
//! let engine = Engine::with_defaults();
//! let text = "請致電 9123 4567，身份證 A123456(3)";
//! let kinds: Vec<_> = engine.scan(text.as_bytes()).iter().map(|f| f.kind.to_string()).collect();
//! assert_eq!(kinds, ["hk_phone", "hk_id"]);
//! ```

mod catalog;
mod context;
mod engine;
mod finding;
mod normalize;
pub mod redact;
mod search;
mod stream;
pub mod validate;

pub use catalog::{default_recognizers, Boundary, CatalogSource, KindInfo, RecognizerSpec};
pub use engine::{Engine, EngineConfig, DEFAULT_MIN_SCORE};
pub use finding::{Dimension, Finding, Kind};
pub use normalize::{Hidden, Normalized};
pub use redact::{Key, Operator, Redactor, Vault};
pub use stream::StreamScanner;

/// Errors building an engine. Scanning itself never fails.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("catalog: {0}")]
    Catalog(String),
    #[error("{0}")]
    Config(String),
}

/// A detector that is not a pattern: a model, a classifier, a remote service. Runs over the
/// normalised text after the automaton; its findings use normalised offsets and are mapped back
/// by the caller. Reserved for `person_name`, `address` and a learned injection classifier.
pub trait Detector: Send + Sync {
    /// A short stable name, reported as the finding's `detector`.
    fn name(&self) -> &str;
    /// Kinds it may report.
    fn kinds(&self) -> &[&str];
    /// Findings in `text` as (kind, start, end, score).
    fn detect(&self, text: &str) -> Vec<(String, usize, usize, f32)>;
}
