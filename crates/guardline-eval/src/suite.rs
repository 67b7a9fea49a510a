//! The six suites: fixed names, and what each one evidences (from `catalog/eval/suites.toml`).

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Suite {
    Harmful,
    Injection,
    Leakage,
    Overrefusal,
    Bias,
    Hallucination,
}

impl Suite {
    pub const ALL: [Suite; 6] = [
        Suite::Harmful,
        Suite::Injection,
        Suite::Leakage,
        Suite::Overrefusal,
        Suite::Bias,
        Suite::Hallucination,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Suite::Harmful => "harmful",
            Suite::Injection => "injection",
            Suite::Leakage => "leakage",
            Suite::Overrefusal => "overrefusal",
            Suite::Bias => "bias",
            Suite::Hallucination => "hallucination",
        }
    }

    pub fn parse(s: &str) -> Option<Suite> {
        Suite::ALL.into_iter().find(|x| x.name() == s)
    }

    /// Whether the suite's `attack_success_rate` means anything (an attack is being made).
    pub fn is_attack(self) -> bool {
        matches!(self, Suite::Harmful | Suite::Injection | Suite::Leakage)
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Suite {
    type Err = String;
    fn from_str(s: &str) -> Result<Suite, String> {
        Suite::parse(s).ok_or_else(|| {
            format!(
                "unknown suite `{s}` (one of {})",
                Suite::ALL.map(|s| s.name()).join(", ")
            )
        })
    }
}
