//! Showing a matched value without showing it: the report must not become a second copy of the
//! personal data it warns about.

/// Values of 8 characters or more keep their first and last character, with `*` for each one in
/// between (`A123456(3)` → `A********)`); shorter values are masked whole (`1234567` →
/// `*******`), since two characters of a short value give too much away.
pub fn mask(value: &str) -> String {
    let n = value.chars().count();
    if n >= 8 {
        let first = value.chars().next().unwrap_or('*');
        let last = value.chars().next_back().unwrap_or('*');
        let mut out = String::with_capacity(n + 6);
        out.push(first);
        out.push_str(&"*".repeat(n - 2));
        out.push(last);
        out
    } else {
        "*".repeat(n)
    }
}

/// Makes text safe to print on a terminal: control characters, bidirectional overrides and
/// invisible format characters (which a finding may consist of, and which could rewrite what the
/// terminal shows) are written as `\u{…}` escapes; `\n`, `\r` and `\t` as their usual escapes.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}'   // zero-width space, joiners, LRM/RLM
            | '\u{202a}'..='\u{202e}' // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{feff}'
            | '\u{e0000}'..='\u{e007f}' // tag characters
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_keep_first_and_last_character() {
        assert_eq!(mask("A123456(3)"), "A********)");
        assert_eq!(mask("12345678"), "1******8");
        assert_eq!(
            mask("chan.taiman@example.com.hk"),
            format!("c{}k", "*".repeat(24))
        );
    }

    #[test]
    fn short_values_are_masked_whole() {
        assert_eq!(mask("1234567"), "*******");
        assert_eq!(mask("ab"), "**");
        assert_eq!(mask(""), "");
    }

    #[test]
    fn masking_counts_characters_not_bytes() {
        // 8 CJK characters, 24 bytes.
        assert_eq!(mask("陳大文住在香港"), "*******");
        assert_eq!(mask("陳大文住在香港島"), "陳******島");
    }

    #[test]
    fn no_middle_character_survives() {
        let v = "4111 1111 1111 1111";
        let m = mask(v);
        assert_eq!(m.chars().count(), v.chars().count());
        assert!(m[1..m.len() - 1].chars().all(|c| c == '*'));
    }

    #[test]
    fn printable_escapes_controls_and_bidi() {
        assert_eq!(printable("plain"), "plain");
        assert_eq!(printable("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(printable("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(printable("l1\nl2"), "l1\\nl2");
    }
}
