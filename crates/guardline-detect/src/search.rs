//! Both automata in one pass.
//!
//! A lazy DFA spends its time waiting on memory: every byte is one load from a transition table
//! whose address depends on the previous load, so one automaton cannot go faster than the
//! latency of that chain, whatever the CPU's width. The recognisers' automaton and the injection
//! lexicon's automaton are independent chains, so stepping both on the same byte in one loop
//! lets the CPU overlap them (BENCHMARKS.md).
//!
//! The recognisers keep their exact leftmost-first search (the same forward and reverse lazy
//! DFAs, with the same semantics and the same fallback, that `meta::Regex::search` uses). The
//! lexicon rides along as an all-matches DFA that only answers "does any lexicon rule match
//! anywhere in the range?". On the usual text the answer is no, and the lexicon's own search
//! never runs; when it is yes (or the lazy DFA gave up), the engine runs the lexicon's ordinary
//! search loop over the range, so the findings are those of the two separate searches.

use regex_automata::hybrid::dfa::{self, DFA};
use regex_automata::hybrid::LazyStateID;
use regex_automata::nfa::thompson::{self, WhichCaptures, NFA};
use regex_automata::util::pool::Pool;
use regex_automata::{Anchored, HalfMatch, Input, Match, MatchError, MatchKind};
use std::panic::{RefUnwindSafe, UnwindSafe};

type CachesFn = Box<dyn Fn() -> Caches + Send + Sync + UnwindSafe + RefUnwindSafe>;

/// The lazy DFAs of one engine and a pool of their caches (the engine is shared by threads).
pub(crate) struct Lockstep {
    fwd: DFA,
    rev: DFA,
    lex: Option<DFA>,
    pool: Pool<Caches, CachesFn>,
}

pub(crate) struct Caches {
    fwd: dfa::Cache,
    rev: dfa::Cache,
    lex: Option<dfa::Cache>,
}

/// What the lexicon's walk over a range found out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lexicon {
    /// No lexicon rule matches anywhere in the range.
    Clear,
    /// Some rule may match: run the lexicon's own search.
    Search,
}

fn nfa(patterns: &[String], reverse: bool) -> Option<NFA> {
    thompson::Compiler::new()
        .configure(
            thompson::Config::new()
                .which_captures(WhichCaptures::None)
                .nfa_size_limit(Some(64 << 20))
                .reverse(reverse),
        )
        .build_many(patterns)
        .ok()
}

/// The lazy DFA configuration `meta::Regex` uses (no prefilter).
fn config(kind: MatchKind) -> dfa::Config {
    DFA::config()
        .match_kind(kind)
        .starts_for_each_pattern(true)
        .byte_classes(true)
        .unicode_word_boundary(true)
        .specialize_start_states(false)
        .cache_capacity(32 << 20)
        .skip_cache_capacity_check(false)
        .minimum_cache_clear_count(Some(3))
        .minimum_bytes_per_state(Some(10))
}

impl Lockstep {
    /// `None` when there is nothing to overlap (no lexicon, or no recognisers) or a DFA cannot
    /// be built; the engine then uses its `meta::Regex`es alone, whose own forward loop is a
    /// little faster for one automaton.
    pub(crate) fn new(recognizers: &[String], lexicon: &[String]) -> Option<Lockstep> {
        if recognizers.is_empty() || lexicon.is_empty() {
            return None;
        }
        let fwd = dfa::Builder::new()
            .configure(config(MatchKind::LeftmostFirst))
            .build_from_nfa(nfa(recognizers, false)?)
            .ok()?;
        let rev = dfa::Builder::new()
            .configure(config(MatchKind::All))
            .build_from_nfa(nfa(recognizers, true)?)
            .ok()?;
        let n = nfa(lexicon, false)?;
        // An empty match would be a match "everywhere"; the walk below does not model it.
        if n.has_empty() {
            return None;
        }
        let lex = Some(
            dfa::Builder::new()
                .configure(config(MatchKind::All).starts_for_each_pattern(false))
                .build_from_nfa(n)
                .ok()?,
        );
        let (f, r, l) = (fwd.clone(), rev.clone(), lex.clone());
        let create: CachesFn = Box::new(move || Caches {
            fwd: f.create_cache(),
            rev: r.create_cache(),
            lex: l.as_ref().map(DFA::create_cache),
        });
        Some(Lockstep {
            fwd,
            rev,
            lex,
            pool: Pool::new(create),
        })
    }

    /// Run `body` with a searcher over `text[from..to]`; returns what `body` returns and what
    /// the lexicon's walk found over the whole range.
    pub(crate) fn with<R>(
        &self,
        text: &[u8],
        from: usize,
        to: usize,
        body: impl FnOnce(&mut Searcher<'_, '_>) -> R,
    ) -> (R, Lexicon) {
        let mut guard = self.pool.get();
        let caches: &mut Caches = &mut guard;
        let lex = match (&self.lex, caches.lex.as_mut()) {
            (Some(dfa), Some(cache)) => LexWalk::new(dfa, cache, text, from, to),
            _ => LexWalk::off(),
        };
        let mut s = Searcher {
            ls: self,
            fwd: &mut caches.fwd,
            rev: &mut caches.rev,
            lex,
            text,
            to,
        };
        let r = body(&mut s);
        let verdict = s.lex.finish(text, to);
        (r, verdict)
    }
}

/// The recognisers' search with the lexicon's walk in tow.
pub(crate) struct Searcher<'a, 'c> {
    ls: &'a Lockstep,
    fwd: &'c mut dfa::Cache,
    rev: &'c mut dfa::Cache,
    lex: LexWalk<'a, 'c>,
    text: &'a [u8],
    to: usize,
}

impl Searcher<'_, '_> {
    /// The leftmost-first match in `text[at..to]`, exactly as `meta::Regex::search` finds it;
    /// `Err` when the lazy DFA gave up (the caller then asks its `meta::Regex`).
    pub(crate) fn find(&mut self, at: usize) -> Result<Option<Match>, MatchError> {
        let input = Input::new(self.text).range(at..self.to);
        self.lex.catch_up(self.text, at);
        let end = match fwd(&self.ls.fwd, self.fwd, &input, &mut self.lex)? {
            None => return Ok(None),
            Some(end) => end,
        };
        if end.offset() == at {
            return Ok(Some(Match::new(end.pattern(), at..at)));
        }
        let rev = input
            .clone()
            .span(at..end.offset())
            .anchored(Anchored::Yes)
            .earliest(false);
        match self.ls.rev.try_search_rev(self.rev, &rev)? {
            Some(start) => Ok(Some(Match::new(
                end.pattern(),
                start.offset()..end.offset(),
            ))),
            None => Err(MatchError::gave_up(at)),
        }
    }
}

/// The lexicon's all-matches DFA walking the range once, one byte behind or level with the
/// recognisers' search. It stops at its first match: one is enough to send the range to the
/// lexicon's own search.
struct LexWalk<'a, 'c> {
    dfa: Option<&'a DFA>,
    cache: Option<&'c mut dfa::Cache>,
    sid: LazyStateID,
    /// The next byte to consume; `usize::MAX` once the walk has stopped.
    pos: usize,
    verdict: Lexicon,
}

impl<'a, 'c> LexWalk<'a, 'c> {
    fn off() -> Self {
        LexWalk {
            dfa: None,
            cache: None,
            sid: LazyStateID::default(),
            pos: usize::MAX,
            verdict: Lexicon::Search,
        }
    }

    fn new(dfa: &'a DFA, cache: &'c mut dfa::Cache, text: &[u8], from: usize, to: usize) -> Self {
        let input = Input::new(text).range(from..to);
        match dfa.start_state_forward(cache, &input) {
            Ok(sid) => {
                cache.search_start(from);
                LexWalk {
                    dfa: Some(dfa),
                    cache: Some(cache),
                    sid,
                    pos: from,
                    verdict: Lexicon::Clear,
                }
            }
            Err(_) => LexWalk::off(),
        }
    }

    fn stop(&mut self, verdict: Lexicon) {
        if let Some(c) = self.cache.as_mut() {
            c.search_finish(self.pos);
        }
        self.verdict = verdict;
        self.pos = usize::MAX;
    }

    /// Consume `b`, the byte at `self.pos`.
    #[inline(always)]
    fn step(&mut self, b: u8) {
        let (Some(dfa), Some(cache)) = (self.dfa, self.cache.as_deref_mut()) else {
            return;
        };
        let next = dfa.next_state_untagged(cache, self.sid, b);
        if !next.is_tagged() {
            self.sid = next;
            self.pos += 1;
            return;
        }
        self.step_slow(b);
    }

    #[inline(never)]
    fn step_slow(&mut self, b: u8) {
        let (Some(dfa), Some(cache)) = (self.dfa, self.cache.as_deref_mut()) else {
            return;
        };
        cache.search_update(self.pos);
        match dfa.next_state(cache, self.sid, b) {
            Ok(next) if next.is_match() || next.is_quit() => self.stop(Lexicon::Search),
            // Without an unanchored prefix that never dies this cannot happen; if it does, no
            // match can follow.
            Ok(next) if next.is_dead() => self.stop(Lexicon::Clear),
            Ok(next) => {
                self.sid = next;
                self.pos += 1;
            }
            Err(_) => self.stop(Lexicon::Search),
        }
    }

    /// Walk alone up to `at` (the recognisers' search skipped ahead).
    fn catch_up(&mut self, text: &[u8], at: usize) {
        while self.pos < at {
            self.step(text[self.pos]);
        }
    }

    /// Walk the rest of the range and the transition past its end (a match ending at `to`).
    fn finish(&mut self, text: &[u8], to: usize) -> Lexicon {
        self.catch_up(text, to);
        if self.pos == to {
            let (Some(dfa), Some(cache)) = (self.dfa, self.cache.as_deref_mut()) else {
                return Lexicon::Search;
            };
            let next = match text.get(to) {
                Some(&b) => dfa.next_state(cache, self.sid, b),
                None => dfa.next_eoi_state(cache, self.sid),
            };
            let verdict = match next {
                Ok(n) if n.is_match() || n.is_quit() => Lexicon::Search,
                Ok(_) => Lexicon::Clear,
                Err(_) => Lexicon::Search,
            };
            self.stop(verdict);
        }
        self.verdict
    }
}

/// Forward leftmost-first search of the recognisers' lazy DFA (what `hybrid::search::find_fwd`
/// does without a prefilter), stepping the lexicon's walk on every byte it is level with.
#[inline(always)]
fn fwd(
    dfa: &DFA,
    cache: &mut dfa::Cache,
    input: &Input<'_>,
    lex: &mut LexWalk<'_, '_>,
) -> Result<Option<HalfMatch>, MatchError> {
    let hay = input.haystack();
    let end = input.end();
    let mut mat = None;
    let mut sid = dfa.start_state_forward(cache, input)?;
    let mut at = input.start();
    cache.search_start(at);
    while at < end {
        let b = hay[at];
        if lex.pos == at {
            lex.step(b);
        }
        let next = if sid.is_tagged() {
            None
        } else {
            Some(dfa.next_state_untagged(cache, sid, b)).filter(|n| !n.is_unknown())
        };
        sid = match next {
            Some(n) => n,
            None => {
                cache.search_update(at);
                dfa.next_state(cache, sid, b)
                    .map_err(|_| MatchError::gave_up(at))?
            }
        };
        if sid.is_tagged() {
            if sid.is_match() {
                mat = Some(HalfMatch::new(dfa.match_pattern(cache, sid, 0), at));
            } else if sid.is_dead() {
                cache.search_finish(at);
                return Ok(mat);
            } else if sid.is_quit() {
                cache.search_finish(at);
                return Err(MatchError::quit(b, at));
            }
        }
        at += 1;
    }
    // The transition past the end: a match that ends exactly at `end`.
    match hay.get(end) {
        Some(&b) => {
            sid = dfa
                .next_state(cache, sid, b)
                .map_err(|_| MatchError::gave_up(end))?;
            if sid.is_match() {
                mat = Some(HalfMatch::new(dfa.match_pattern(cache, sid, 0), end));
            } else if sid.is_quit() {
                return Err(MatchError::quit(b, end));
            }
        }
        None => {
            sid = dfa
                .next_eoi_state(cache, sid)
                .map_err(|_| MatchError::gave_up(hay.len()))?;
            if sid.is_match() {
                mat = Some(HalfMatch::new(dfa.match_pattern(cache, sid, 0), hay.len()));
            }
        }
    }
    cache.search_finish(end);
    Ok(mat)
}
