//! Guarding a streamed reply: text arrives in deltas, possibly one byte at a time, with tokens
//! and identifiers split anywhere. [`StreamGuard`] restores pseudonym tokens and applies the
//! response policy *before* any byte is released, holding back only the tail that could still
//! grow into a token or a finding:
//!
//! - a tail that is a proper prefix of one of the vault's tokens (`HK_ID_1f2`),
//! - the trailing run of identifier characters (letters, digits, full-width forms,
//!   `+ @ . _ - ( ) / = :` and a single space between digit groups, as in `+852 9123 4567`), up
//!   to [`MAX_HOLD`] bytes, when it holds anything but ASCII letters, and
//! - the tail from the earliest point where a finding the response policy would *alter* (redact,
//!   pseudonymise, block) could have started and not yet ended: an [`AlteringStarts`] automaton
//!   over the recognisers of those kinds answers that for the last [`WORD_WINDOW`] bytes.
//!
//! So prose flows at once — a plain word (`Thank`), Chinese text and punctuation go out as they
//! arrive, and the time to first token is the upstream's — while digits, identifiers and
//! anything that could be the start of a secret (`gh`, `AKIA`, `password`) wait for the next
//! delimiter. Under a policy that alters personal data in responses, every word waits (an e-mail
//! address can start with any letter). Released text is never revised; findings are checked on a
//! window that includes the last [`CONTEXT`] released bytes, so context cues before a number
//! still count.

use crate::guard::{Guard, Located};
use guardline_detect::Vault;
use guardline_policy::{Action, Decision, Policy, Stage, Subject};
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::util::start;
use regex_automata::Anchored;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// The longest identifier-like tail held back waiting for a delimiter. Longer runs (a base64
/// blob, a PEM body) are released in pieces, each checked.
pub const MAX_HOLD: usize = 512;
/// Released bytes kept as context for the next check.
pub const CONTEXT: usize = 256;
/// How far back a letters-only tail is checked for the start of an altering finding.
pub const WORD_WINDOW: usize = 48;

/// Anchored automata over the patterns of the recognisers whose findings a response policy
/// would alter: walking one from a position tells whether such a finding could start there and
/// still be incomplete at the end of the text seen so far.
pub struct AlteringStarts {
    /// Recognisers that only match at a word start (`boundary = "alnum"`: not glued to an ASCII
    /// letter or digit before them).
    word: Option<DFA>,
    /// Recognisers that match anywhere (`boundary = "none"`).
    anywhere: Option<DFA>,
    /// Some altering recogniser can start on any ASCII letter (an e-mail address under a
    /// policy that redacts personal data): every word waits for its delimiter.
    every_word: bool,
    /// Caches that finished streams gave back, with the states they built: a fresh cache
    /// determinises its states again, which cost a stream about 15% of its instructions and put
    /// that work in front of its first tokens.
    spare: Mutex<Vec<AlteringCaches>>,
}

/// At most this many spare cache pairs are kept (each is bounded by the lazy DFA's capacity).
const SPARE_CACHES: usize = 16;

/// The lazy DFAs' caches, one pair per stream at a time.
#[derive(Default)]
pub struct AlteringCaches {
    word: Option<Cache>,
    anywhere: Option<Cache>,
}

impl AlteringStarts {
    /// For `policy`'s response stage, over the engine's default recognisers. Cached per policy
    /// (a stream only looks it up) and, behind that, per set of recognisers.
    pub fn for_policy(guard: &Guard, policy: &Arc<Policy>) -> Arc<AlteringStarts> {
        type ByPolicy = HashMap<usize, (Weak<Policy>, Arc<AlteringStarts>)>;
        static BY_POLICY: OnceLock<Mutex<ByPolicy>> = OnceLock::new();
        static BY_RECOGNIZERS: OnceLock<Mutex<HashMap<Vec<usize>, Arc<AlteringStarts>>>> =
            OnceLock::new();
        static RECOGNIZERS: OnceLock<Vec<guardline_detect::RecognizerSpec>> = OnceLock::new();

        let addr = Arc::as_ptr(policy) as usize;
        let by_policy = BY_POLICY.get_or_init(Default::default);
        if let Some((weak, a)) = by_policy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&addr)
        {
            // The same policy, not a new one at a freed one's address.
            if weak.upgrade().is_some_and(|p| Arc::ptr_eq(&p, policy)) {
                return a.clone();
            }
        }
        let engine = guard.engine();
        let recognizers = RECOGNIZERS.get_or_init(guardline_detect::default_recognizers);
        let altering: Vec<usize> = (0..recognizers.len())
            .filter(|&i| {
                recognizers[i].kinds.iter().any(|k| {
                    let dimension = engine
                        .kind_info(k)
                        .map(|i| i.dimension.as_str())
                        .unwrap_or("security");
                    // Whether the value was in the request or not: the stricter answer.
                    [true, false].into_iter().any(|in_request| {
                        let subject = Subject {
                            kind: k,
                            dimension,
                            score: 1.0,
                            in_request,
                        };
                        policy.decide(Stage::Response, &[subject]).most_severe
                            >= Action::Pseudonymise
                    })
                })
            })
            .collect();
        let a = BY_RECOGNIZERS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(altering.clone())
            .or_insert_with(|| {
                let (mut word, mut anywhere) = (Vec::new(), Vec::new());
                for &i in &altering {
                    let r = &recognizers[i];
                    match r.boundary {
                        guardline_detect::Boundary::Alnum => word.push(r.pattern.clone()),
                        guardline_detect::Boundary::None => anywhere.push(r.pattern.clone()),
                    }
                }
                Arc::new(AlteringStarts::build(&word, &anywhere))
            })
            .clone();
        let mut by_policy = by_policy.lock().unwrap_or_else(|p| p.into_inner());
        by_policy.retain(|_, (w, _)| w.strong_count() > 0);
        by_policy.insert(addr, (Arc::downgrade(policy), a.clone()));
        a
    }

    fn build(word: &[String], anywhere: &[String]) -> AlteringStarts {
        // A pattern that cannot be compiled here makes every word wait: safe, only slower.
        let compile = |ps: &[String]| -> Result<Option<DFA>, ()> {
            if ps.is_empty() {
                Ok(None)
            } else {
                DFA::new_many(ps).map(Some).map_err(|_| ())
            }
        };
        let (Ok(word), Ok(anywhere)) = (compile(word), compile(anywhere)) else {
            return AlteringStarts {
                word: None,
                anywhere: None,
                every_word: true,
                spare: Mutex::default(),
            };
        };
        let mut a = AlteringStarts {
            word,
            anywhere,
            every_word: false,
            spare: Mutex::default(),
        };
        let mut caches = a.caches();
        a.every_word = (b'a'..=b'z')
            .chain(b'A'..=b'Z')
            .all(|b| a.viable(&mut caches, &[b], true));
        a.give_back(caches);
        a
    }

    /// A cache pair for one stream: a spare one if there is one, else a new one.
    pub fn caches(&self) -> AlteringCaches {
        let spare = self.spare.lock().unwrap_or_else(|p| p.into_inner()).pop();
        spare.unwrap_or_else(|| AlteringCaches {
            word: self.word.as_ref().map(DFA::create_cache),
            anywhere: self.anywhere.as_ref().map(DFA::create_cache),
        })
    }

    /// Keeps a finished stream's caches for the next stream.
    pub fn give_back(&self, caches: AlteringCaches) {
        let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
        if spare.len() < SPARE_CACHES {
            spare.push(caches);
        }
    }

    /// Whether an altering finding could start at the beginning of `text` (`at_word_start`:
    /// not glued to a letter or digit before it) and still be going at its end.
    fn viable(&self, caches: &mut AlteringCaches, text: &[u8], at_word_start: bool) -> bool {
        let word = match (&self.word, caches.word.as_mut()) {
            (Some(d), Some(c)) if at_word_start => walk(d, c, text),
            _ => false,
        };
        word || match (&self.anywhere, caches.anywhere.as_mut()) {
            (Some(d), Some(c)) => walk(d, c, text),
            _ => false,
        }
    }
}

/// Walks `dfa` anchored over `text`: still alive at the end (or the automaton gave up) is yes.
fn walk(dfa: &DFA, cache: &mut Cache, text: &[u8]) -> bool {
    let config = start::Config::new().anchored(Anchored::Yes);
    let Ok(mut sid) = dfa.start_state(cache, &config) else {
        return true;
    };
    for &b in text {
        match dfa.next_state(cache, sid, b) {
            Ok(next) => sid = next,
            Err(_) => return true,
        }
        if sid.is_dead() {
            return false;
        }
        if sid.is_quit() {
            return true;
        }
    }
    true
}

/// What one step released.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Released {
    pub text: String,
    /// Findings in the released text (offsets are within `text`).
    pub findings: Vec<Located>,
    /// The policy blocked: stop the stream, release nothing more.
    pub blocked: bool,
}

pub struct StreamGuard {
    guard: Guard,
    policy: Arc<Policy>,
    altering: Arc<AlteringStarts>,
    altering_caches: AlteringCaches,
    /// The request's tokens (a copy per streamed choice).
    vault: Vault,
    /// Raw (not yet restored) text not yet released.
    pending: String,
    /// The tail of what was released (restored), as context.
    context: String,
    blocked: bool,
    /// Every finding released so far, for the exchange's record.
    pub findings: Vec<Located>,
    /// The most severe response action taken so far.
    pub most_severe: Action,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.altering
            .give_back(std::mem::take(&mut self.altering_caches));
    }
}

impl StreamGuard {
    pub fn new(guard: Guard, policy: Arc<Policy>, vault: Vault) -> StreamGuard {
        let altering = AlteringStarts::for_policy(&guard, &policy);
        let altering_caches = altering.caches();
        StreamGuard {
            guard,
            policy,
            altering,
            altering_caches,
            vault,
            pending: String::new(),
            context: String::new(),
            blocked: false,
            findings: Vec::new(),
            most_severe: Action::Allow,
        }
    }

    /// Feeds a delta; returns what may be sent now.
    pub fn push(&mut self, delta: &str) -> Released {
        if self.blocked {
            return Released {
                blocked: true,
                ..Default::default()
            };
        }
        self.pending.push_str(delta);
        let cut = self.safe_cut();
        self.release(cut)
    }

    /// The stream ended: release everything held.
    pub fn finish(&mut self) -> Released {
        if self.blocked {
            return Released {
                blocked: true,
                ..Default::default()
            };
        }
        let all = self.pending.len();
        self.release(all)
    }

    pub fn decision(&self) -> Decision {
        Decision::from(self.most_severe)
    }

    /// How much of `pending` can go now (a char boundary).
    fn safe_cut(&mut self) -> usize {
        let p = self.pending.as_bytes();
        let mut cut = p.len();
        // 1. A possible token prefix at the end.
        let max_tok = self.vault.max_token_len();
        if max_tok > 0 {
            let from = p.len().saturating_sub(max_tok);
            for start in from..p.len() {
                if !self.pending.is_char_boundary(start) {
                    continue;
                }
                let tail = &self.pending[start..];
                if self
                    .vault
                    .iter()
                    .any(|(t, _)| t.len() > tail.len() && t.starts_with(tail))
                {
                    cut = cut.min(start);
                    break;
                }
            }
        }
        // 2. The identifier run being formed (full-width forms count: `９１２３` is a number).
        let mut start = p.len();
        let mut letters_only = true;
        for (i, c) in self.pending.char_indices().rev() {
            if p.len() - i > MAX_HOLD {
                break;
            }
            let ident = c.is_ascii_alphanumeric()
                || "+@._-()/=:".contains(c)
                || ('\u{FF01}'..='\u{FF5E}').contains(&c);
            let digit_gap = c == ' '
                && i >= 1
                && p[i - 1].is_ascii_digit()
                && i + 1 < p.len()
                && p[i + 1].is_ascii_digit();
            if ident || digit_gap {
                letters_only &= c.is_ascii_alphabetic();
                start = i;
            } else {
                break;
            }
        }
        let held_run = start < p.len() && p.len() - start < MAX_HOLD;
        if held_run && (!letters_only || self.altering.every_word) {
            cut = cut.min(start);
        }
        // 3. Where an altering finding could have started and still be incomplete.
        let from = p.len().saturating_sub(WORD_WINDOW).min(cut);
        for i in from..cut {
            if !self.pending.is_char_boundary(i) {
                continue;
            }
            let before = if i > 0 {
                p.get(i - 1).copied()
            } else {
                self.context.as_bytes().last().copied()
            };
            let at_word_start = !before.is_some_and(|b| b.is_ascii_alphanumeric());
            if self
                .altering
                .viable(&mut self.altering_caches, &p[i..], at_word_start)
            {
                cut = i;
                break;
            }
        }
        while cut > 0 && !self.pending.is_char_boundary(cut) {
            cut -= 1;
        }
        cut
    }

    fn release(&mut self, cut: usize) -> Released {
        if cut == 0 {
            return Released::default();
        }
        let raw: String = self.pending.drain(..cut).collect();
        // Check the released part with its context; findings that start in the context were
        // dealt with when it was released.
        let restored = self.vault.restore_str(&raw);
        let window = format!("{}{}", self.context, restored);
        let offset = self.context.len();
        let checked =
            self.guard
                .check_text(&self.policy, Stage::Response, &window, &mut self.vault);
        if checked.verdict.decision == Decision::Block {
            self.blocked = true;
            self.most_severe = Action::Block;
            return Released {
                blocked: true,
                findings: checked.findings,
                ..Default::default()
            };
        }
        // Findings that end inside the context were dealt with when it was released; one that
        // straddles (its start went out earlier, as part of an over-long run) is clamped to the
        // released part, so what remains of it is still transformed.
        let findings: Vec<Located> = checked
            .findings
            .into_iter()
            .filter(|f| f.end > offset)
            .map(|mut f| {
                f.start = f.start.max(offset) - offset;
                f.end -= offset;
                f
            })
            .collect();
        let text = transform_released(&restored, &findings, &self.guard, &mut self.vault);
        for f in &findings {
            self.most_severe = self.most_severe.max(f.action);
        }
        self.context.push_str(&text);
        if self.context.len() > CONTEXT {
            let mut from = self.context.len() - CONTEXT;
            while !self.context.is_char_boundary(from) {
                from += 1;
            }
            self.context.drain(..from);
        }
        self.findings.extend(findings.iter().cloned());
        Released {
            text,
            findings,
            blocked: false,
        }
    }
}

/// Applies redactions (and response-stage pseudonyms) of findings inside the released part.
fn transform_released(
    text: &str,
    findings: &[Located],
    guard: &Guard,
    vault: &mut Vault,
) -> String {
    let edits: Vec<&Located> = findings
        .iter()
        .filter(|f| matches!(f.action, Action::Redact | Action::Pseudonymise))
        .collect();
    if edits.is_empty() {
        return text.to_string();
    }
    guard.transform(
        text,
        edits
            .iter()
            .map(|f| (f.start, f.end, f.kind.clone(), f.action))
            .collect(),
        vault,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surfaces::Endpoint;
    use guardline_detect::{Engine, Key};
    use serde_json::json;

    fn setup() -> (Guard, Policy, Vault, String) {
        static ENGINE: std::sync::OnceLock<Arc<Engine>> = std::sync::OnceLock::new();
        let engine = ENGINE.get_or_init(|| Arc::new(Engine::with_defaults()));
        let g = Guard::new(engine.clone(), Key::derive(b"stream"));
        let p = Policy::hk_baseline();
        let mut vault = Vault::new();
        let mut req = json!({"messages": [{"role": "user", "content": "HKID A123456(3), tel +852 9123 4567"}]});
        g.request(&p, Endpoint::ChatCompletions, &mut req, &mut vault);
        let token = vault
            .token_for(&guardline_detect::Kind::new("hk_id"), b"A123456(3)")
            .unwrap()
            .to_string();
        (g, p, vault, token)
    }

    fn run(
        chunks: &[&str],
        g: &Guard,
        p: &Policy,
        vault: &mut Vault,
    ) -> (String, Vec<String>, bool) {
        let mut s = StreamGuard::new(g.clone(), Arc::new(p.clone()), vault.clone());
        let mut out = String::new();
        let mut pieces = Vec::new();
        for c in chunks {
            let r = s.push(c);
            if r.blocked {
                return (out, pieces, true);
            }
            out.push_str(&r.text);
            pieces.push(out.clone());
        }
        let r = s.finish();
        out.push_str(&r.text);
        pieces.push(out.clone());
        (out, pieces, r.blocked)
    }

    /// Splits `text` at every byte boundary that is a char boundary: one char per delta.
    fn by_char(text: &str) -> Vec<&str> {
        let mut v = Vec::new();
        let mut last = 0;
        for (i, _) in text.char_indices().skip(1) {
            v.push(&text[last..i]);
            last = i;
        }
        v.push(&text[last..]);
        v
    }

    #[test]
    fn tokens_split_anywhere_are_restored() {
        let (g, p, mut vault, token) = setup();
        let reply = format!("Your ID {token} is noted. 你的身份證 {token}。");
        let want = "Your ID A123456(3) is noted. 你的身份證 A123456(3)。";
        for chunks in [vec![reply.as_str()], by_char(&reply)] {
            let (out, pieces, blocked) = run(&chunks, &g, &p, &mut vault);
            assert!(!blocked);
            assert_eq!(out, want);
            // No partial token ever reached the client.
            for piece in pieces {
                assert!(!piece.contains("HK_ID"), "{piece}");
            }
        }
        // Every split point in two.
        for i in 1..reply.len() {
            if reply.is_char_boundary(i) {
                let (out, _, _) = run(&[&reply[..i], &reply[i..]], &g, &p, &mut vault);
                assert_eq!(out, want, "split at {i}");
            }
        }
    }

    /// A finished stream's lazy DFA caches go to the next stream (on an automaton of the test's
    /// own: the policy's is shared with tests running beside this one), which decides the same.
    #[test]
    fn streams_reuse_the_caches_of_finished_ones() {
        let a = AlteringStarts::build(&[r"ghp_[A-Za-z0-9]{36}".into()], &[]);
        let spare = || a.spare.lock().unwrap().len();
        assert_eq!(spare(), 1, "the build's own probe gives its caches back");
        let mut c = a.caches();
        assert_eq!(spare(), 0);
        assert!(a.viable(&mut c, b"ghp_R8x", true));
        assert!(!a.viable(&mut c, b"hello", true));
        a.give_back(c);
        let mut c = a.caches();
        assert!(a.viable(&mut c, b"ghp_R8x", true));
        assert!(!a.viable(&mut c, b"hello", true));
        for _ in 0..SPARE_CACHES + 4 {
            a.give_back(a.caches());
            let extra = AlteringCaches {
                word: a.word.as_ref().map(DFA::create_cache),
                anywhere: None,
            };
            a.give_back(extra);
        }
        assert_eq!(spare(), SPARE_CACHES, "the pool is bounded");

        // Streams after streams, each with the caches the last one left: the same output.
        let (g, p, mut vault, _) = setup();
        let secret = "ghp_R8x2kLm9Qw3Zt7Yb1Nc5Vd6Hf4Js0Ga2PeUq";
        let reply = format!("Use the token {secret} to log in.");
        for _ in 0..3 {
            let (out, _, _) = run(&by_char(&reply), &g, &p, &mut vault);
            assert_eq!(out, "Use the token <SECRET_GITHUB_TOKEN> to log in.");
        }
    }

    #[test]
    fn secrets_are_redacted_before_any_byte_of_them_leaves() {
        let (g, p, mut vault, _) = setup();
        let secret = "ghp_R8x2kLm9Qw3Zt7Yb1Nc5Vd6Hf4Js0Ga2PeUq";
        let reply = format!("Use the token {secret} to log in.");
        let (out, pieces, _) = run(&by_char(&reply), &g, &p, &mut vault);
        assert_eq!(out, "Use the token <SECRET_GITHUB_TOKEN> to log in.");
        for piece in pieces {
            assert!(!piece.contains("ghp_R8x"), "{piece}");
        }
    }

    #[test]
    fn new_personal_data_is_flagged_and_prose_flows_at_once() {
        let (g, p, vault, _) = setup();
        let mut s = StreamGuard::new(g.clone(), Arc::new(p.clone()), vault.clone());
        // Plain words and Chinese go out as they arrive: no added time to first token.
        assert_eq!(s.push("Hello").text, "Hello");
        assert_eq!(s.push(" there").text, " there");
        assert_eq!(s.push(",").text, ",");
        assert_eq!(s.push(" 多謝你嘅查詢").text, " 多謝你嘅查詢");
        // Numbers, and words that could be the start of a secret, wait for a delimiter.
        assert_eq!(s.push(" call 9123").text, " call ");
        assert_eq!(s.push(" 4567.").text, "");
        assert_eq!(s.push(" Use gh").text, "9123 4567. Use ");
        assert_eq!(s.push("ost").text, "ghost");
        assert_eq!(s.push(" password").text, " ");
        assert_eq!(s.push("s").text, "");
        assert_eq!(s.push(" are").text, "passwords are");
        let mut flagged = Vec::new();
        for c in by_char(" write to chan.tm@example.com.hk today") {
            flagged.extend(s.push(c).findings);
        }
        flagged.extend(s.finish().findings);
        assert!(
            flagged
                .iter()
                .any(|f| f.kind.as_str() == "email" && f.action == Action::Flag),
            "{flagged:?}"
        );
        assert_eq!(s.decision(), Decision::Allow);
    }

    #[test]
    fn a_policy_that_redacts_personal_data_in_replies_holds_every_word() {
        let (g, _, vault, _) = setup();
        let strict = Policy::from_toml(
            "name = 'strict'\n[[response.rules]]\ndimensions = ['privacy']\naction = 'redact'\n",
            "test",
        )
        .unwrap();
        let mut s = StreamGuard::new(g.clone(), Arc::new(strict), vault);
        assert_eq!(s.push("Hello").text, "");
        let mut out = String::new();
        for c in by_char(" write to chantaiman@example.com today") {
            out.push_str(&s.push(c).text);
        }
        out.push_str(&s.finish().text);
        // No byte of the address left before it was known to be one.
        assert!(!out.contains("chan"), "{out}");
        assert!(out.starts_with("Hello write to <EMAIL>"), "{out}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// However the reply is cut into deltas, the client receives exactly what the non-streamed
        /// path would have produced.
        #[test]
        fn streamed_equals_whole(cuts in proptest::collection::vec(0usize..400, 0..12), pick in 0usize..4) {
            let (g, p, mut vault, token) = setup();
            let replies = [
                format!("ID {token}, call +852 9123 4567 or 9876 5432 today."),
                format!("密鑰 ghp_R8x2kLm9Qw3Zt7Yb1Nc5Vd6Hf4Js0Ga2PeUq；身份證 {token}。"),
                "Mail chan@example.com, card 4111 1111 1111 1111.".to_string(),
                format!("{token}{token} {token}X HK_ID_ plain words only"),
            ];
            let reply = &replies[pick];
            let mut whole = serde_json::json!({"choices": [{"text": reply}]});
            g.response(&p, Endpoint::Completions, &mut whole, &mut vault);
            let want = whole["choices"][0]["text"].as_str().unwrap().to_string();
            let mut points: Vec<usize> = cuts.into_iter().map(|c| c % (reply.len() + 1)).filter(|&c| reply.is_char_boundary(c)).collect();
            points.sort_unstable();
            points.dedup();
            let mut chunks = Vec::new();
            let mut last = 0;
            for c in points {
                chunks.push(&reply[last..c]);
                last = c;
            }
            chunks.push(&reply[last..]);
            let (out, _, blocked) = run(&chunks, &g, &p, &mut vault);
            proptest::prop_assert!(!blocked);
            proptest::prop_assert_eq!(out, want);
        }
    }
}
