//! The whole detection path over arbitrary bytes: normalisation, the automaton, validators,
//! decoding and rescanning, redaction with every operator, and streaming in small windows.
//! Invariants: no panic; offsets in bounds; streaming agrees with whole-input scanning on
//! where findings start; redacting removes nothing outside findings.
#![no_main]

use guardline_detect::redact::Operator;
use guardline_detect::{Engine, Key, Redactor, StreamScanner, Vault};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(Engine::with_defaults)
}

fuzz_target!(|data: &[u8]| {
    let e = engine();
    let findings = e.scan(data);
    for f in &findings {
        assert!(f.start < f.end && f.end <= data.len(), "{f:?}");
        assert!((0.0..=1.0).contains(&f.score));
    }
    let key = Key::derive(b"fuzz");
    for op in [Operator::Mask, Operator::Label, Operator::Hash, Operator::Pseudonym, Operator::Remove] {
        let mut vault = Vault::new();
        let out = Redactor::new(op, key.clone()).redact(data, &findings, &mut vault);
        if findings.is_empty() {
            assert_eq!(out, data);
        }
        if op == Operator::Pseudonym {
            let _ = vault.restore(&out);
        }
    }
    if data.len() > 8 {
        let window = 64 + (data[0] as usize) * 4;
        let mut s = StreamScanner::with_window(e, window, 4096);
        let mut got = Vec::new();
        for c in data.chunks(1 + data[1] as usize) {
            s.push(c, &mut got);
        }
        s.finish(&mut got);
        for f in &got {
            assert!(f.start < f.end && f.end <= data.len(), "{f:?}");
        }
    }
});
