//! Normalisation that maps back.
//!
//! Hong Kong text writes digits, letters and brackets in full width (`Ａ１２３４５６（３）`), uses
//! Chinese punctuation, and attackers hide text in zero-width, bidi and Unicode tag characters. The
//! recognisers match on a normalised copy in which those become ASCII (or vanish), and every
//! offset is mapped back to the original bytes through a sparse segment table: one entry per
//! changed character, none for unchanged runs, so memory stays proportional to what changed.
//!
//! Invalid UTF-8 is copied through byte for byte: it is scanned, never refused.

use std::borrow::Cow;

/// Why a character was dropped from the normalised text; the engine reports suspicious ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hidden {
    /// U+200B, U+2060, U+FEFF (not at the start), U+180E, U+200C, U+200D, U+00AD.
    ZeroWidth,
    /// U+202A–U+202E, U+2066–U+2069: reorder what a reader sees.
    Bidi,
    /// U+E0000–U+E007F: invisible "tag" copies of ASCII (ASCII smuggling). Mapped to the ASCII
    /// they encode, so hidden instructions are scanned too.
    Tag,
}

#[derive(Clone, Copy, Debug)]
struct Segment {
    norm: usize,
    orig: usize,
    /// 0 for an identity run; otherwise the original byte length of one replaced character
    /// whose normalised form is exactly one byte.
    orig_len: u8,
}

/// Normalised text with the map back to the original.
#[derive(Debug)]
pub struct Normalized<'a> {
    pub text: Cow<'a, [u8]>,
    segments: Vec<Segment>,
    /// Original byte spans of dropped or smuggled characters.
    pub hidden: Vec<(usize, usize, Hidden)>,
}

/// Finds the next byte that can start a rewritten sequence with two SIMD searches: the common
/// leads (CJK punctuation, full-width forms, zero-width and bidi marks) and the rare ones
/// (no-break space, U+180E, tag characters). Each result is kept until passed, so the rare
/// search does not rescan the rest of the input at every common hit.
struct Leads<'a> {
    input: &'a [u8],
    common: Cached,
    rare: Cached,
}

#[derive(Clone, Copy)]
enum Cached {
    Unknown,
    At(usize),
    Never,
}

impl<'a> Leads<'a> {
    fn new(input: &'a [u8]) -> Leads<'a> {
        Leads {
            input,
            common: Cached::Unknown,
            rare: Cached::Unknown,
        }
    }

    fn next(&mut self, from: usize) -> Option<usize> {
        let a = refresh(&mut self.common, self.input, from, |h| {
            memchr::memchr3(0xE2, 0xE3, 0xEF, h)
        });
        let b = refresh(&mut self.rare, self.input, from, |h| {
            memchr::memchr3(0xC2, 0xE1, 0xF3, h)
        });
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

fn refresh(
    slot: &mut Cached,
    input: &[u8],
    from: usize,
    find: impl Fn(&[u8]) -> Option<usize>,
) -> Option<usize> {
    if matches!(*slot, Cached::Unknown) || matches!(*slot, Cached::At(p) if p < from) {
        *slot = match find(&input[from.min(input.len())..]) {
            Some(p) => Cached::At(from + p),
            None => Cached::Never,
        };
    }
    match *slot {
        Cached::At(p) => Some(p),
        _ => None,
    }
}

/// What one recognised sequence becomes.
enum Rewrite {
    Byte(u8),
    Drop(Hidden),
    Smuggled(u8),
}

#[inline]
fn decode_at(s: &[u8], i: usize) -> Option<(u32, usize)> {
    let b0 = s[i];
    let need = match b0 {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return None,
    };
    if i + need > s.len() {
        return None;
    }
    let tail = &s[i + 1..i + need];
    if tail.iter().any(|&b| b & 0xC0 != 0x80) {
        return None;
    }
    let cp = match need {
        2 => ((b0 as u32 & 0x1F) << 6) | (tail[0] as u32 & 0x3F),
        3 => ((b0 as u32 & 0x0F) << 12) | ((tail[0] as u32 & 0x3F) << 6) | (tail[1] as u32 & 0x3F),
        _ => {
            ((b0 as u32 & 0x07) << 18)
                | ((tail[0] as u32 & 0x3F) << 12)
                | ((tail[1] as u32 & 0x3F) << 6)
                | (tail[2] as u32 & 0x3F)
        }
    };
    Some((cp, need))
}

#[inline]
fn rewrite(cp: u32, at_start: bool) -> Option<Rewrite> {
    Some(match cp {
        // Full-width ASCII variants.
        0xFF01..=0xFF5E => Rewrite::Byte((cp - 0xFF01 + 0x21) as u8),
        0x00A0 | 0x3000 | 0x2002..=0x200A | 0x202F | 0x205F => Rewrite::Byte(b' '),
        0x3001 | 0xFF64 => Rewrite::Byte(b','),
        0x3002 | 0xFF61 => Rewrite::Byte(b'.'),
        0x300C..=0x300F | 0x201C | 0x201D | 0x301D | 0x301E => Rewrite::Byte(b'"'),
        0x2018 | 0x2019 => Rewrite::Byte(b'\''),
        0x3010 | 0x3014 | 0x3016 => Rewrite::Byte(b'['),
        0x3011 | 0x3015 | 0x3017 => Rewrite::Byte(b']'),
        0x3008 | 0x300A => Rewrite::Byte(b'<'),
        0x3009 | 0x300B => Rewrite::Byte(b'>'),
        0x2010..=0x2015 | 0x2212 | 0xFE63 => Rewrite::Byte(b'-'),
        0xFEFF if at_start => Rewrite::Drop(Hidden::ZeroWidth),
        0x200B..=0x200D | 0x2060 | 0xFEFF | 0x180E | 0x00AD => Rewrite::Drop(Hidden::ZeroWidth),
        0x202A..=0x202E | 0x2066..=0x2069 => Rewrite::Drop(Hidden::Bidi),
        0xE0020..=0xE007E => Rewrite::Smuggled((cp - 0xE0000) as u8),
        0xE0000..=0xE007F => Rewrite::Drop(Hidden::Tag),
        _ => return None,
    })
}

impl<'a> Normalized<'a> {
    /// Normalise `input`. Borrows when nothing changes (the common case for ASCII text).
    pub fn new(input: &'a [u8]) -> Normalized<'a> {
        let mut i = 0;
        let mut leads = Leads::new(input);
        // Find the first rewrite; before it, nothing needs copying.
        let first = loop {
            match leads.next(i).map(|at| at - i) {
                None => {
                    return Normalized {
                        text: Cow::Borrowed(input),
                        segments: Vec::new(),
                        hidden: Vec::new(),
                    }
                }
                Some(p) => {
                    let at = i + p;
                    if let Some((cp, n)) = decode_at(input, at) {
                        if rewrite(cp, at == 0).is_some() {
                            break at;
                        }
                        i = at + n;
                    } else {
                        i = at + 1;
                    }
                }
            }
        };
        let mut out = Vec::with_capacity(input.len());
        out.extend_from_slice(&input[..first]);
        let mut segments = vec![Segment {
            norm: 0,
            orig: 0,
            orig_len: 0,
        }];
        let mut hidden = Vec::new();
        let mut i = first;
        let mut run_start = first; // start of the pending identity run
        while i < input.len() {
            match leads.next(i) {
                Some(at) => i = at,
                None => break,
            }
            let Some((cp, n)) = decode_at(input, i) else {
                i += 1;
                continue;
            };
            let Some(rw) = rewrite(cp, i == 0) else {
                i += n;
                continue;
            };
            out.extend_from_slice(&input[run_start..i]);
            match rw {
                Rewrite::Byte(c) | Rewrite::Smuggled(c) => {
                    if let Rewrite::Smuggled(_) = rw {
                        hidden.push((i, i + n, Hidden::Tag));
                    }
                    segments.push(Segment {
                        norm: out.len(),
                        orig: i,
                        orig_len: n as u8,
                    });
                    out.push(c);
                }
                Rewrite::Drop(h) => {
                    if !(h == Hidden::ZeroWidth && i == 0) {
                        hidden.push((i, i + n, h));
                    }
                }
            }
            i += n;
            run_start = i;
            segments.push(Segment {
                norm: out.len(),
                orig: i,
                orig_len: 0,
            });
        }
        out.extend_from_slice(&input[run_start..]);
        // Collapse consecutive entries at the same normalised offset (dropped characters),
        // keeping the last: a position maps to after what was dropped.
        segments.dedup_by(|later, earlier| {
            if later.norm == earlier.norm && earlier.orig_len == 0 {
                *earlier = *later;
                true
            } else {
                false
            }
        });
        Normalized {
            text: Cow::Owned(out),
            segments,
            hidden,
        }
    }

    /// True when the normalised text is the input itself.
    pub fn is_identity(&self) -> bool {
        self.segments.is_empty()
    }

    fn segment_for(&self, n: usize) -> &Segment {
        let idx = self.segments.partition_point(|s| s.norm <= n);
        &self.segments[idx.saturating_sub(1)]
    }

    /// Original offset of the character that starts at normalised offset `n`.
    pub fn orig_start(&self, n: usize) -> usize {
        if self.segments.is_empty() {
            return n;
        }
        let s = self.segment_for(n);
        if s.orig_len == 0 {
            s.orig + (n - s.norm)
        } else {
            s.orig
        }
    }

    /// Original offset just past the character that ends at normalised offset `n`.
    pub fn orig_end(&self, n: usize) -> usize {
        if self.segments.is_empty() || n == 0 {
            return n;
        }
        let s = self.segment_for(n - 1);
        if s.orig_len == 0 {
            s.orig + (n - s.norm)
        } else {
            s.orig + s.orig_len as usize
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_is_borrowed() {
        let n = Normalized::new(b"Tel 9123 4567");
        assert!(n.is_identity());
        assert_eq!(n.orig_start(4), 4);
    }

    #[test]
    fn full_width_maps_back() {
        let s = "身份證Ａ１２３４５６（３）。";
        let n = Normalized::new(s.as_bytes());
        let t = std::str::from_utf8(&n.text).unwrap();
        assert_eq!(t, "身份證A123456(3).");
        let start = t.find('A').unwrap();
        let end = t.find(')').unwrap() + 1;
        let (os, oe) = (n.orig_start(start), n.orig_end(end));
        assert_eq!(&s[os..oe], "Ａ１２３４５６（３）");
    }

    #[test]
    fn zero_width_dropped_and_reported() {
        let s = "ig\u{200B}nore";
        let n = Normalized::new(s.as_bytes());
        assert_eq!(&*n.text, b"ignore");
        assert_eq!(n.hidden, vec![(2, 5, Hidden::ZeroWidth)]);
        assert_eq!(n.orig_start(0), 0);
        assert_eq!(n.orig_end(6), s.len());
        assert_eq!(n.orig_start(2), 5);
        assert_eq!(n.orig_end(2), 2);
    }

    #[test]
    fn tags_decode_to_ascii() {
        let hidden: String = "hi"
            .chars()
            .map(|c| char::from_u32(0xE0000 + c as u32).unwrap())
            .collect();
        let s = format!("ok{hidden}");
        let n = Normalized::new(s.as_bytes());
        assert_eq!(&*n.text, b"okhi");
        assert_eq!(n.hidden.len(), 2);
    }

    #[test]
    fn invalid_utf8_passes_through() {
        let s = b"\xEF\xBC A\xFF\xE3";
        let n = Normalized::new(s);
        assert_eq!(&*n.text, &s[..]);
    }
}
