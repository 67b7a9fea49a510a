//! The record format and the chain rule, kept in one place so that `FORMAT.md` and the code say
//! the same thing.
//!
//! ```text
//! body_sha256 = SHA-256(body)                         body: canonical JSON, UTF-8
//! header      = {"body_sha256":…,"kind":…,"seq":…,"tenant":…,"time":…}   canonical JSON
//! hash        = SHA-256(prev_hash as 32 raw bytes ‖ header)              hex, lower case
//! prev_hash of seq 1 = 64 zeros
//! ```
//!
//! The chain commits to the body's digest rather than to the body itself, so that retention can
//! drop old bodies (privacy) and the chain still verifies: a pruned record keeps its digest.

use crate::LedgerError;
use serde_json::Value;

/// The `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An event to append: what happened (`kind`), for whom (`tenant`), and a JSON body that holds
/// kinds, counts, keyed hashes and references, never raw personal data.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub kind: String,
    pub tenant: String,
    pub body: Value,
}

impl NewEvent {
    pub fn new(kind: impl Into<String>, body: Value) -> Self {
        NewEvent {
            kind: kind.into(),
            tenant: "default".into(),
            body,
        }
    }

    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = tenant.into();
        self
    }
}

/// A record as stored: the event, its place in the chain and its hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub seq: i64,
    /// RFC 3339, UTC, microseconds: `2026-11-27T08:30:00.123456Z` (sorts as text).
    pub time: String,
    pub kind: String,
    pub tenant: String,
    /// Canonical JSON; `None` once retention has pruned it.
    pub body: Option<String>,
    pub body_sha256: String,
    pub prev_hash: String,
    pub hash: String,
}

/// A pending append after validation: the canonical body and its digest, computed outside the
/// writer's critical section.
#[derive(Debug, Clone)]
pub struct Draft {
    pub(crate) kind: String,
    pub(crate) tenant: String,
    pub(crate) body: String,
    pub(crate) body_sha256: String,
}

impl Draft {
    pub fn new(ev: NewEvent) -> Result<Draft, LedgerError> {
        check_name("kind", &ev.kind)?;
        check_name("tenant", &ev.tenant)?;
        if contains_float(&ev.body) {
            // Floats have no single textual form across languages; a third-party verifier must
            // be able to reproduce the body bytes, so bodies carry integers or strings.
            return Err(LedgerError::Invalid(
                "event bodies may not contain floating-point numbers; use integers (e.g. \
                 milliseconds, per-mille) or strings"
                    .into(),
            ));
        }
        let body = canonical_json(&ev.body);
        let body_sha256 = sha256_hex(body.as_bytes());
        Ok(Draft {
            kind: ev.kind,
            tenant: ev.tenant,
            body,
            body_sha256,
        })
    }

    /// The canonical body.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// Seals the draft as record `seq` after `prev_hash`.
    pub fn seal(self, seq: i64, time: String, prev_hash: &str) -> Record {
        let hash = record_hash(
            prev_hash,
            seq,
            &time,
            &self.kind,
            &self.tenant,
            &self.body_sha256,
        );
        Record {
            seq,
            time,
            kind: self.kind,
            tenant: self.tenant,
            body: Some(self.body),
            body_sha256: self.body_sha256,
            prev_hash: prev_hash.to_string(),
            hash,
        }
    }
}

/// Kinds and tenants are identifiers: they go into the header as they are, so they stay short and
/// free of anything that would need escaping.
fn check_name(what: &str, s: &str) -> Result<(), LedgerError> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(LedgerError::Invalid(format!(
            "{what} `{}` must be 1-64 characters of A-Z a-z 0-9 _ . : -",
            s.escape_debug()
        )))
    }
}

fn contains_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(a) => a.iter().any(contains_float),
        Value::Object(o) => o.values().any(contains_float),
        _ => false,
    }
}

/// Canonical JSON: object keys in code-point order at every level, no insignificant whitespace,
/// strings as `serde_json` writes them (which is what Python's `json.dumps(v, sort_keys=True,
/// separators=(",", ":"), ensure_ascii=False)` writes too, for the integer/string bodies we allow).
///
/// Keys are sorted here rather than trusting `serde_json::Map`'s order: another crate in the
/// build may turn on `preserve_order`, which keeps insertion order.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::with_capacity(128);
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            // Byte order of UTF-8 is code-point order.
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_str(out, k);
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        Value::String(s) => push_str(out, s),
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// SHA-256 by `ring` (the TLS stack's, already linked): its assembly is about twice as fast as
/// `sha2`'s portable code on CPUs without the SHA extensions, and every append and every
/// verification hashes each record twice.
pub fn sha256_hex(bytes: &[u8]) -> String {
    to_hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// Lower-case hex of a digest (`hex::encode` goes through a `char` iterator, which showed in
/// verification profiles).
fn to_hex(digest: &[u8]) -> String {
    let mut out = [0u8; 64];
    hex::encode_to_slice(digest, &mut out).expect("64 bytes hold 32 in hex");
    String::from_utf8(out.to_vec()).expect("hex is ASCII")
}

/// The record hash: `SHA-256(prev_hash_raw ‖ header)`.
pub fn record_hash(
    prev_hash: &str,
    seq: i64,
    time: &str,
    kind: &str,
    tenant: &str,
    body_sha256: &str,
) -> String {
    let mut prev = [0u8; 32];
    // A malformed prev_hash (only possible in a tampered store) hashes as zeros; the link check
    // reports it separately.
    let _ = hex::decode_to_slice(prev_hash, &mut prev);
    let mut h = ring::digest::Context::new(&ring::digest::SHA256);
    h.update(&prev);
    h.update(header(seq, time, kind, tenant, body_sha256).as_bytes());
    to_hex(h.finish().as_ref())
}

/// The canonical header. Written by hand (keys already in order) because verification computes it
/// a million times; strings are escaped by `serde_json` so a tampered store with odd characters
/// still hashes the way a Python verifier would.
pub fn header(seq: i64, time: &str, kind: &str, tenant: &str, body_sha256: &str) -> String {
    let mut s = String::with_capacity(160);
    s.push_str("{\"body_sha256\":");
    push_str(&mut s, body_sha256);
    s.push_str(",\"kind\":");
    push_str(&mut s, kind);
    s.push_str(",\"seq\":");
    s.push_str(&seq.to_string());
    s.push_str(",\"tenant\":");
    push_str(&mut s, tenant);
    s.push_str(",\"time\":");
    push_str(&mut s, time);
    s.push('}');
    s
}

fn push_str(out: &mut String, s: &str) {
    if s.bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b < 0x80)
    {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&serde_json::to_string(s).expect("strings serialise"));
    }
}

/// Now, in the ledger's time format.
pub fn now() -> String {
    time_text(chrono::Utc::now())
}

/// The ledger's time format: RFC 3339, UTC, microseconds, so times sort as text.
pub fn time_text(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sha2::{Digest, Sha256};

    #[test]
    fn header_is_canonical_json() {
        let h = header(7, "2026-11-27T08:30:00.000001Z", "exchange", "acme", "ab");
        let v: Value = serde_json::from_str(&h).unwrap();
        assert_eq!(canonical_json(&v), h);
        let odd = header(1, "t\"\n\u{1f}", "k", "\u{e9}", "x");
        let v: Value = serde_json::from_str(&odd).unwrap();
        assert_eq!(canonical_json(&v), odd);
    }

    #[test]
    fn canonical_body_sorts_keys_at_every_level() {
        let a = canonical_json(&json!({"b": 1, "a": {"z": [1, "x"], "y": null}}));
        assert_eq!(a, r#"{"a":{"y":null,"z":[1,"x"]},"b":1}"#);
        // Built in reverse order: the output does not depend on insertion order.
        let mut m = serde_json::Map::new();
        m.insert("zeta".into(), json!(true));
        m.insert("alpha".into(), json!("\u{e9}\n\"q\""));
        m.insert("Beta".into(), json!(-3));
        assert_eq!(
            canonical_json(&Value::Object(m)),
            "{\"Beta\":-3,\"alpha\":\"\u{e9}\\n\\\"q\\\"\",\"zeta\":true}"
        );
    }

    #[test]
    fn drafts_refuse_floats_and_bad_names() {
        assert!(Draft::new(NewEvent::new("exchange", json!({"score": 0.5}))).is_err());
        assert!(Draft::new(NewEvent::new("has space", json!({}))).is_err());
        assert!(Draft::new(NewEvent::new("ok", json!({})).tenant("")).is_err());
        assert!(Draft::new(NewEvent::new("exchange", json!({"n": 3}))).is_ok());
    }

    #[test]
    fn hash_depends_on_every_header_field_and_the_previous_hash() {
        let base = record_hash(GENESIS, 1, "t", "k", "d", "00");
        assert_ne!(base, record_hash(GENESIS, 2, "t", "k", "d", "00"));
        assert_ne!(base, record_hash(GENESIS, 1, "u", "k", "d", "00"));
        assert_ne!(base, record_hash(GENESIS, 1, "t", "j", "d", "00"));
        assert_ne!(base, record_hash(GENESIS, 1, "t", "k", "e", "00"));
        assert_ne!(base, record_hash(GENESIS, 1, "t", "k", "d", "01"));
        assert_ne!(base, record_hash(&"1".repeat(64), 1, "t", "k", "d", "00"));
    }

    #[test]
    fn known_answer() {
        // Reproduced by `docs/ledger-verify.py`'s arithmetic: sha256(bytes(32) + header).
        let h = record_hash(
            GENESIS,
            1,
            "2026-01-01T00:00:00.000000Z",
            "test",
            "default",
            &sha256_hex(b"{}"),
        );
        let mut expect = Sha256::new();
        expect.update([0u8; 32]);
        expect.update(
            format!(
                "{{\"body_sha256\":\"{}\",\"kind\":\"test\",\"seq\":1,\"tenant\":\"default\",\
                 \"time\":\"2026-01-01T00:00:00.000000Z\"}}",
                sha256_hex(b"{}")
            )
            .as_bytes(),
        );
        assert_eq!(h, hex::encode(expect.finalize()));
        assert_eq!(
            sha256_hex(b"{}"),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        // `ring` against `sha2` on every length across a few block boundaries.
        let bytes: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for n in 0..bytes.len() {
            assert_eq!(
                sha256_hex(&bytes[..n]),
                hex::encode(Sha256::digest(&bytes[..n]))
            );
        }
    }
}
