//! Redaction operators any caller can use on findings: mask, label, keyed hash, deterministic
//! keyed pseudonym (reversible through a [`Vault`]), remove.

use crate::finding::{Finding, Kind};
use crate::normalize::Normalized;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// A 32-byte key for hashes and pseudonyms. The same key gives the same tokens on every
/// instance, so no mapping needs to be shared between gateway nodes.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; 32]);

impl Key {
    /// Derive a key from any secret material (a passphrase, a random file's bytes).
    pub fn derive(secret: &[u8]) -> Key {
        Key(blake3::derive_key(
            "guardline 2025-11 pseudonymisation key v1",
            secret,
        ))
    }
    pub fn from_bytes(bytes: [u8; 32]) -> Key {
        Key(bytes)
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(…)")
    }
}

/// What to put where a finding was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    /// One `*` per character.
    Mask,
    /// `<HK_ID>`.
    Label,
    /// `<HK_ID:1f2e3d4c5b6a7980>`: a keyed, one-way hash, for joining records without the value.
    Hash,
    /// `HK_ID_1f2e3d4c5b`: deterministic under a key; [`Vault::restore`] maps it back.
    Pseudonym,
    /// Nothing.
    Remove,
}

impl Operator {
    pub const NAMES: [&'static str; 5] = ["mask", "label", "hash", "pseudonym", "remove"];
}

impl FromStr for Operator {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "mask" => Operator::Mask,
            "label" | "replace" => Operator::Label,
            "hash" => Operator::Hash,
            "pseudonym" | "pseudonymise" | "pseudonymize" => Operator::Pseudonym,
            "remove" | "delete" => Operator::Remove,
            _ => {
                return Err(format!(
                    "unknown redaction operator `{s}` (one of: {})",
                    Operator::NAMES.join(", ")
                ))
            }
        })
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operator::Mask => "mask",
            Operator::Label => "label",
            Operator::Hash => "hash",
            Operator::Pseudonym => "pseudonym",
            Operator::Remove => "remove",
        })
    }
}

/// `hk_id` → `HK_ID`; `secret.github_token` → `SECRET_GITHUB_TOKEN`.
pub fn label(kind: &Kind) -> String {
    kind.as_str()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The value a token is derived from: normalised (full width folded), and for identifiers and
/// numbers without separators, so `9123 4567` and `９１２３-４５６７` get the same token.
pub fn canonical_value(kind: &Kind, raw: &[u8]) -> Vec<u8> {
    let norm = Normalized::new(raw);
    let t: &[u8] = &norm.text;
    match kind.family() {
        "email" => t.to_ascii_lowercase(),
        "secret" | "injection" | "harm" | "person_name" | "address" => t.to_vec(),
        _ => t
            .iter()
            .filter(|b| {
                !matches!(
                    b,
                    b' ' | b'-' | b'(' | b')' | b'[' | b']' | b'.' | b'/' | b'+'
                )
            })
            .map(u8::to_ascii_uppercase)
            .collect(),
    }
}

fn keyed_hex(key: &Key, kind: &Kind, value: &[u8], n: usize) -> String {
    let mut h = blake3::Hasher::new_keyed(&key.0);
    h.update(kind.as_str().as_bytes());
    h.update(&[0]);
    h.update(value);
    let out = h.finalize();
    out.to_hex()[..n].to_string()
}

/// Token → original value, filled by pseudonymisation and used to restore text.
#[derive(Clone, Debug, Default)]
pub struct Vault {
    tokens: HashMap<String, Vec<u8>>,
    /// canonical (kind, value) → token, so a value seen twice keeps its token.
    by_value: HashMap<(Kind, Vec<u8>), String>,
    /// Shortest and longest token, to skip words that cannot be one.
    min_len: usize,
    max_len: usize,
}

impl Vault {
    pub fn new() -> Vault {
        Vault::default()
    }
    pub fn len(&self) -> usize {
        self.tokens.len()
    }
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
    /// The original value behind a token.
    pub fn get(&self, token: &str) -> Option<&[u8]> {
        self.tokens.get(token).map(Vec::as_slice)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.tokens.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }
    /// The token this vault already holds for `raw` of `kind` (compared in canonical form, so
    /// full-width or differently spaced forms of the same value count), without adding one.
    pub fn token_for(&self, kind: &Kind, raw: &[u8]) -> Option<&str> {
        self.by_value
            .get(&(kind.clone(), canonical_value(kind, raw)))
            .map(String::as_str)
    }

    /// Longest token, for callers that restore a stream and must hold back a possible prefix.
    pub fn max_token_len(&self) -> usize {
        self.max_len
    }

    /// The token for `raw` of `kind` under `key`, recording it. Deterministic: the same key,
    /// kind and canonical value always give the same token (10 hex digits; on the rare collision
    /// with a different value already in this vault, more digits are used).
    pub fn token(&mut self, key: &Key, kind: &Kind, raw: &[u8]) -> String {
        let canon = canonical_value(kind, raw);
        if let Some(t) = self.by_value.get(&(kind.clone(), canon.clone())) {
            return t.clone();
        }
        let mut n = 10;
        let token = loop {
            let t = format!("{}_{}", label(kind), keyed_hex(key, kind, &canon, n));
            match self.tokens.get(&t) {
                Some(_) if n < 64 => n += 6,
                _ => break t,
            }
        };
        self.insert(kind, canon, &token, raw);
        token
    }

    fn insert(&mut self, kind: &Kind, canon: Vec<u8>, token: &str, raw: &[u8]) {
        self.tokens.insert(token.to_string(), raw.to_vec());
        self.min_len = if self.tokens.len() == 1 {
            token.len()
        } else {
            self.min_len.min(token.len())
        };
        self.max_len = self.max_len.max(token.len());
        self.by_value
            .entry((kind.clone(), canon))
            .or_insert_with(|| token.to_string());
    }

    /// Every token with its kind and value, for a store that keeps them between requests.
    pub fn entries(&self) -> impl Iterator<Item = (&Kind, &str, &[u8])> {
        self.by_value.iter().filter_map(|((kind, _), token)| {
            self.tokens
                .get(token)
                .map(|raw| (kind, token.as_str(), raw.as_slice()))
        })
    }

    /// Adds a token made for an earlier request (kept in a store, by this gateway or another
    /// under the same key), so that it is restored too. A token the vault holds already keeps
    /// its value.
    pub fn learn(&mut self, kind: &Kind, token: &str, raw: &[u8]) {
        if token.is_empty() || self.tokens.contains_key(token) {
            return;
        }
        self.insert(kind, canonical_value(kind, raw), token, raw);
    }

    /// Replace every token of this vault in `text` by its original value. Text that merely
    /// resembles a token, or a token the model altered, is left as it is.
    ///
    /// A token counts only whole, not glued to more token characters (`[A-Za-z0-9_]`) on either
    /// side, so a token is always a maximal run of such characters: one pass over the runs with
    /// a hash lookup for those of a token's length. (An Aho-Corasick automaton over the tokens
    /// found the same matches, but building one per exchange was ~9 % of the gateway's CPU.)
    pub fn restore(&self, text: &[u8]) -> Vec<u8> {
        if self.tokens.is_empty() {
            return text.to_vec();
        }
        let glued = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let mut out = Vec::with_capacity(text.len());
        let mut last = 0;
        let mut i = 0;
        while i < text.len() {
            if !glued(text[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < text.len() && glued(text[i]) {
                i += 1;
            }
            let run = &text[start..i];
            if run.len() < self.min_len || run.len() > self.max_len {
                continue;
            }
            // Runs are ASCII, so always valid UTF-8.
            if let Some(value) = std::str::from_utf8(run)
                .ok()
                .and_then(|t| self.tokens.get(t))
            {
                out.extend_from_slice(&text[last..start]);
                out.extend_from_slice(value);
                last = i;
            }
        }
        out.extend_from_slice(&text[last..]);
        out
    }

    /// [`Vault::restore`] for text. Values are the bytes of valid text, so the result is valid
    /// too and is only checked, not copied again; a value that was not (stored from other input)
    /// comes back with U+FFFD where its bytes were invalid.
    pub fn restore_str(&self, text: &str) -> String {
        match String::from_utf8(self.restore(text.as_bytes())) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }
}

/// Applies one operator to a set of findings.
#[derive(Clone, Debug)]
pub struct Redactor {
    pub operator: Operator,
    pub key: Key,
}

impl Redactor {
    pub fn new(operator: Operator, key: Key) -> Redactor {
        Redactor { operator, key }
    }

    /// What replaces one finding's bytes.
    pub fn replacement(&self, kind: &Kind, raw: &[u8], vault: &mut Vault) -> Vec<u8> {
        match self.operator {
            Operator::Mask => {
                let n = String::from_utf8_lossy(raw).chars().count();
                vec![b'*'; n]
            }
            Operator::Label => format!("<{}>", label(kind)).into_bytes(),
            Operator::Hash => {
                let canon = canonical_value(kind, raw);
                format!(
                    "<{}:{}>",
                    label(kind),
                    keyed_hex(&self.key, kind, &canon, 16)
                )
                .into_bytes()
            }
            Operator::Pseudonym => vault.token(&self.key, kind, raw).into_bytes(),
            Operator::Remove => Vec::new(),
        }
    }

    /// `input` with every finding replaced. Findings may come in any order and may overlap:
    /// overlapping spans are merged and replaced once, as the kind of the highest-scoring one.
    pub fn redact(&self, input: &[u8], findings: &[Finding], vault: &mut Vault) -> Vec<u8> {
        let spans = merge_spans(findings, input.len());
        let mut out = Vec::with_capacity(input.len());
        let mut last = 0;
        for (s, e, kind) in spans {
            out.extend_from_slice(&input[last..s]);
            out.extend(self.replacement(&kind, &input[s..e], vault));
            last = e;
        }
        out.extend_from_slice(&input[last..]);
        out
    }
}

/// Sorted, non-overlapping spans clipped to `len`, each with the kind of its best finding.
pub fn merge_spans(findings: &[Finding], len: usize) -> Vec<(usize, usize, Kind)> {
    let mut fs: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.start < f.end && f.start < len)
        .collect();
    fs.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
    let mut out: Vec<(usize, usize, Kind, f32)> = Vec::new();
    for f in fs {
        let end = f.end.min(len);
        if let Some(last) = out.last_mut() {
            if f.start < last.1 {
                last.1 = last.1.max(end);
                if f.score > last.3 {
                    last.2 = f.kind.clone();
                    last.3 = f.score;
                }
                continue;
            }
        }
        out.push((f.start, end, f.kind.clone(), f.score));
    }
    out.into_iter().map(|(s, e, k, _)| (s, e, k)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition: at each position, the longest token that starts there and is not glued
    /// to token characters on either side.
    fn reference(vault: &Vault, text: &[u8]) -> Vec<u8> {
        let glued = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let mut keys: Vec<&str> = vault.tokens.keys().map(String::as_str).collect();
        keys.sort_by_key(|k| std::cmp::Reverse(k.len()));
        let mut out = Vec::new();
        let mut i = 0;
        'outer: while i < text.len() {
            for k in &keys {
                let end = i + k.len();
                if text[i..].starts_with(k.as_bytes())
                    && (i == 0 || !glued(text[i - 1]))
                    && (end == text.len() || !glued(text[end]))
                {
                    out.extend_from_slice(vault.get(k).unwrap());
                    i = end;
                    continue 'outer;
                }
            }
            out.push(text[i]);
            i += 1;
        }
        out
    }

    fn vault() -> (Vault, Vec<String>) {
        let key = Key::from_bytes([3; 32]);
        let mut v = Vault::new();
        let toks = vec![
            v.token(&key, &Kind::new("hk_id"), b"A123456(3)"),
            v.token(&key, &Kind::new("hk_phone"), b"+852 9123 4567"),
            v.token(&key, &Kind::new("email"), b"chan@example.com"),
        ];
        (v, toks)
    }

    #[test]
    fn restores_whole_tokens_only() {
        let (v, t) = vault();
        let text = format!(
            "ID {} tel:{}, mail ({}). Not x{} nor {}_ nor {}",
            t[0],
            t[1],
            t[2],
            t[0],
            t[1],
            &t[2][..t[2].len() - 1]
        );
        let out = String::from_utf8(v.restore(text.as_bytes())).unwrap();
        assert!(out.starts_with("ID A123456(3) tel:+852 9123 4567, mail (chan@example.com)."));
        assert!(out.contains(&format!("x{}", t[0])), "{out}");
        assert!(out.contains(&format!("{}_", t[1])), "{out}");
        assert_eq!(v.max_token_len(), t.iter().map(String::len).max().unwrap());
        assert_eq!(Vault::new().restore(b"HK_ID_x"), b"HK_ID_x");
    }

    #[test]
    fn a_vault_learns_what_another_made() {
        let (v, t) = vault();
        let mut later = Vault::new();
        for (kind, token, raw) in v.entries() {
            later.learn(kind, token, raw);
        }
        assert_eq!(later.len(), 3);
        let text = format!("{} / {}", t[0], t[1]);
        assert_eq!(later.restore_str(&text), "A123456(3) / +852 9123 4567");
        assert_eq!(later.max_token_len(), v.max_token_len());
        // The same value, written differently, keeps the learnt token.
        let phone = Kind::new("hk_phone");
        assert_eq!(
            later.token_for(&phone, b"+852 9123-4567"),
            Some(t[1].as_str())
        );
        let key = Key::from_bytes([3; 32]);
        assert_eq!(later.token(&key, &phone, b"(852) 91234567"), t[1]);
        // A token the vault holds keeps its value; an empty one is ignored.
        later.learn(&phone, &t[1], b"+852 0000 0000");
        later.learn(&phone, "", b"x");
        assert_eq!(later.get(&t[1]), Some(&b"+852 9123 4567"[..]));
        assert_eq!(later.len(), 3);
    }

    proptest! {
        #[test]
        fn restore_matches_the_definition(
            parts in proptest::collection::vec((0usize..5, "[ a-zA-Z0-9_(),.中文]{0,6}"), 0..12)
        ) {
            let (v, t) = vault();
            let mut text = String::new();
            for (which, filler) in parts {
                text.push_str(&filler);
                match which {
                    0..=2 => text.push_str(&t[which]),
                    3 => text.push_str(&t[0][..t[0].len() / 2]),
                    _ => {}
                }
            }
            prop_assert_eq!(v.restore(text.as_bytes()), reference(&v, text.as_bytes()));
        }
    }
}
