//! Context cues: bilingual words near a candidate that raise or lower its score.

use crate::catalog::ContextFile;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy)]
struct Cue {
    kind: u16,
    boost: bool,
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KindCues {
    pub boost_by: f32,
    pub penalty: f32,
}

/// One automaton over every cue of every kind, run only on the small windows around candidates.
#[derive(Debug)]
pub(crate) struct Context {
    ac: Option<AhoCorasick>,
    cues: Vec<Cue>,
    /// Whether the cue must stand as a whole word (ASCII letters or digits on its edges).
    wordy: Vec<(bool, bool)>,
    per_kind: HashMap<u16, KindCues>,
    pub before: usize,
    pub after: usize,
}

/// The nearest boosting and suppressing cue, as a distance in bytes from the candidate.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Seen {
    pub boost: Option<usize>,
    pub suppress: Option<usize>,
}

impl Seen {
    /// When both kinds of cue are present, the nearer one decides.
    pub fn verdict(self) -> (bool, bool) {
        match (self.boost, self.suppress) {
            (Some(b), Some(s)) => (b <= s, s < b),
            (b, s) => (b.is_some(), s.is_some()),
        }
    }
}

impl Context {
    pub fn new(
        file: &ContextFile,
        kind_index: &HashMap<String, u16>,
    ) -> Result<Context, crate::Error> {
        let mut words = Vec::new();
        let mut cues = Vec::new();
        let mut per_kind = HashMap::new();
        for (kind, spec) in &file.cues {
            let Some(&k) = kind_index.get(kind) else {
                return Err(crate::Error::Catalog(format!(
                    "context.toml: unknown kind `{kind}`"
                )));
            };
            per_kind.insert(
                k,
                KindCues {
                    boost_by: spec.boost_by,
                    penalty: spec.penalty,
                },
            );
            for w in &spec.boost {
                words.push(w.to_lowercase());
                cues.push(Cue {
                    kind: k,
                    boost: true,
                });
            }
            for w in &spec.suppress {
                words.push(w.to_lowercase());
                cues.push(Cue {
                    kind: k,
                    boost: false,
                });
            }
        }
        let wordy = words
            .iter()
            .map(|w| {
                let b = w.as_bytes();
                (
                    b.first().is_some_and(u8::is_ascii_alphanumeric),
                    b.last().is_some_and(u8::is_ascii_alphanumeric),
                )
            })
            .collect();
        let ac = if words.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .build(&words)
                    .map_err(|e| crate::Error::Catalog(format!("context cues: {e}")))?,
            )
        };
        Ok(Context {
            ac,
            cues,
            wordy,
            per_kind,
            before: file.window_before,
            after: file.window_after,
        })
    }

    pub fn cues_for(&self, kind: u16) -> Option<KindCues> {
        self.per_kind.get(&kind).copied()
    }

    /// Which cues for `kind` occur in the windows around `start..end` of `text`.
    pub fn seen(&self, text: &[u8], start: usize, end: usize, kind: u16) -> Seen {
        let mut seen = Seen::default();
        let Some(ac) = &self.ac else { return seen };
        let lo = start.saturating_sub(self.before);
        let hi = (end + self.after).min(text.len());
        for (side, (from, to)) in [(lo, start), (end, hi)].into_iter().enumerate() {
            if from >= to {
                continue;
            }
            let win = &text[from..to];
            for m in ac.find_overlapping_iter(win) {
                let id = m.pattern().as_usize();
                let cue = self.cues[id];
                if cue.kind != kind {
                    continue;
                }
                let (w0, w1) = self.wordy[id];
                if w0 && m.start() > 0 && win[m.start() - 1].is_ascii_alphanumeric() {
                    continue;
                }
                if w1 && m.end() < win.len() && win[m.end()].is_ascii_alphanumeric() {
                    continue;
                }
                // After the candidate, a cue followed by a colon is the label of the next field
                // (`BRN: 12345678  Tel: 2345 6789`), not a word about this one.
                if side == 1 && label_follows(&text[from + m.end()..]) {
                    continue;
                }
                let dist = if side == 0 {
                    win.len() - m.end()
                } else {
                    m.start()
                };
                let slot = if cue.boost {
                    &mut seen.boost
                } else {
                    &mut seen.suppress
                };
                *slot = Some(slot.map_or(dist, |d| d.min(dist)));
            }
        }
        seen
    }
}

/// Whether `rest` starts with a label separator: optional spaces or a full stop, then `:`
/// (full-width `：` is normalised to `:` before cues are looked for).
fn label_follows(rest: &[u8]) -> bool {
    let skip = rest
        .iter()
        .take(4)
        .take_while(|&&b| matches!(b, b' ' | b'.'))
        .count();
    rest.get(skip) == Some(&b':')
}
