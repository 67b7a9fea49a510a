use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// The guideline's five governance dimensions (§2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    Privacy,
    Ip,
    Crime,
    Reliability,
    Security,
}

impl Dimension {
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Privacy => "privacy",
            Dimension::Ip => "ip",
            Dimension::Crime => "crime",
            Dimension::Reliability => "reliability",
            Dimension::Security => "security",
        }
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A canonical finding kind such as `hk_id` or `secret.github_token`; cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Kind(Arc<str>);

impl Kind {
    pub fn new(s: &str) -> Kind {
        Kind(Arc::from(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// `secret.github_token` → `secret`; `hk_id` → `hk_id`.
    pub fn family(&self) -> &str {
        self.0.split('.').next().unwrap_or(&self.0)
    }
}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Kind {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Kind {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

/// One finding: `start..end` are byte offsets into the **original** input (end exclusive),
/// even where the engine matched on normalised text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: Kind,
    pub dimension: Dimension,
    pub start: usize,
    pub end: usize,
    /// Confidence in [0, 1] after validation and context.
    pub score: f32,
    /// Which recogniser produced it, e.g. `hk_id` or `injection.lexicon`.
    pub detector: Arc<str>,
}

impl Finding {
    pub fn len(&self) -> usize {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start..self.end
    }
}
