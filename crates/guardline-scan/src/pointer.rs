//! JSON pointers (RFC 6901) naming the string value a JSONL finding is in.

/// Appends one reference token to `ptr`: `/`, then the token with `~` written `~0` and `/`
/// written `~1` (in that order, so `~1` in a key becomes `~01`, not `/`).
pub fn push_token(ptr: &mut String, token: &str) {
    ptr.push('/');
    for c in token.chars() {
        match c {
            '~' => ptr.push_str("~0"),
            '/' => ptr.push_str("~1"),
            c => ptr.push(c),
        }
    }
}

/// A pointer from its unescaped tokens.
pub fn from_tokens<'a>(tokens: impl IntoIterator<Item = &'a str>) -> String {
    let mut p = String::new();
    for t in tokens {
        push_token(&mut p, t);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_tokens() {
        assert_eq!(
            from_tokens(["messages", "0", "content"]),
            "/messages/0/content"
        );
        assert_eq!(from_tokens([]), "");
        assert_eq!(from_tokens([""]), "/");
    }

    #[test]
    fn escapes_tilde_and_slash() {
        assert_eq!(from_tokens(["a/b"]), "/a~1b");
        assert_eq!(from_tokens(["m~n"]), "/m~0n");
        // The order matters: a literal `~1` must not read back as `/`.
        assert_eq!(from_tokens(["~1"]), "/~01");
        assert_eq!(from_tokens(["x", "/~/"]), "/x/~1~0~1");
    }

    #[test]
    fn pointers_resolve_with_serde_json() {
        let doc: serde_json::Value =
            serde_json::from_str(r#"{"a/b":{"m~n":["zero","one"]}, "":"empty"}"#).unwrap();
        let p = from_tokens(["a/b", "m~n", "1"]);
        assert_eq!(doc.pointer(&p).and_then(|v| v.as_str()), Some("one"));
        assert_eq!(
            doc.pointer(&from_tokens([""])).and_then(|v| v.as_str()),
            Some("empty")
        );
    }
}
