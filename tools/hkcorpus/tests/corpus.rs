//! The corpus is only useful if its ground truth is right: spans point at the generated values,
//! check-digit values validate, negatives fail validation, and generation is deterministic.

use guardline_detect::validate;
use hkcorpus::template::Record;
use hkcorpus::{values, Generator, Set};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn records(set: Set, n: usize, seed: u64) -> Vec<Record> {
    let mut g = Generator::new(set, seed);
    (0..n).map(|_| g.next_record()).collect()
}

/// Fold full-width forms back to ASCII, as the engine's normaliser does.
fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| match c as u32 {
            0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap(),
            0x3000 => ' ',
            _ => c,
        })
        .collect()
}

fn compact(s: &str) -> String {
    ascii(s)
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect()
}

#[test]
fn spans_point_at_the_values() {
    for set in [Set::Tune, Set::Heldout] {
        for r in records(set, 3000, 7) {
            assert_eq!(r.template_set, set.name());
            for s in &r.spans {
                assert!(s.start < s.end && s.end <= r.text.len(), "{r:?}");
                assert!(r.text.is_char_boundary(s.start) && r.text.is_char_boundary(s.end));
                let v = &r.text[s.start..s.end];
                assert_eq!(v.trim(), v, "span has surrounding space: {r:?}");
                let c = compact(v);
                let ok = match s.kind.as_str() {
                    "hk_id" => validate::is_valid_hkid(&ascii(v)),
                    "cn_resident_id" => validate::is_valid_cn_id(c.as_bytes()),
                    "credit_card" => validate::is_valid_card(c.as_bytes()),
                    "iban" => validate::is_valid_iban(v.as_bytes()),
                    "hk_phone" => c.trim_start_matches('+').len() >= 8,
                    "email" => v.contains('@'),
                    "ip_address" => {
                        validate::is_valid_ipv4(v.as_bytes())
                            || validate::is_valid_ipv6(v.as_bytes())
                    }
                    "secret.private_key" => {
                        v.starts_with("-----BEGIN") && v.ends_with("PRIVATE KEY-----")
                    }
                    "secret.jwt" => v.starts_with("eyJ") && v.matches('.').count() == 2,
                    "secret.aws_access_key" => v.len() == 20,
                    _ => true,
                };
                assert!(ok, "{} {v:?} in {:?}", s.kind, r.text);
            }
        }
    }
}

#[test]
fn check_digit_values_validate() {
    let mut rng = StdRng::seed_from_u64(42);
    for _ in 0..5000 {
        let (p, six, c) = values::hkid_parts(&mut rng);
        assert!(validate::is_valid_hkid(&format!("{p}{six}({})", c as char)));
        assert!(validate::is_valid_cn_id(
            values::cn_id_raw(&mut rng).as_bytes()
        ));
        let card = values::card_number(&mut rng);
        assert!(validate::is_valid_card(card.as_bytes()), "{card}");
        let iban = values::iban_compact(&mut rng);
        assert!(validate::is_valid_iban(iban.as_bytes()), "{iban}");
    }
}

#[test]
fn negatives_do_not_validate() {
    let mut rng = StdRng::seed_from_u64(3);
    for _ in 0..2000 {
        let h = values::render("bad_hkid", None, &mut rng).text;
        assert!(!validate::is_valid_hkid(&h), "{h}");
        let c = values::render("bad_cnid", None, &mut rng).text;
        assert!(!validate::is_valid_cn_id(c.as_bytes()), "{c}");
        let k = compact(&values::render("bad_card", None, &mut rng).text);
        assert!(!validate::luhn(k.as_bytes()), "{k}");
    }
}

#[test]
fn worked_hkid_examples_from_the_guideline() {
    for (p, d, c) in [
        ("A", "123456", b'3'),
        ("E", "364912", b'5'),
        ("D", "288754", b'2'),
        ("AB", "123456", b'9'),
        ("AB", "987654", b'3'),
        ("P", "131609", b'9'),
    ] {
        assert_eq!(
            validate::hkid_check_char(p.as_bytes(), d.as_bytes()),
            Some(c)
        );
    }
}

#[test]
fn deterministic_from_the_seed() {
    let mut a = Vec::new();
    let mut b = Vec::new();
    hkcorpus::generate(Set::Heldout, 200, 99, &mut a).unwrap();
    hkcorpus::generate(Set::Heldout, 200, 99, &mut b).unwrap();
    assert_eq!(a, b);
    let mut c = Vec::new();
    hkcorpus::generate(Set::Heldout, 200, 100, &mut c).unwrap();
    assert_ne!(a, c);
}

#[test]
fn template_sets_are_disjoint_and_cover_every_kind() {
    let norm = |s: &str| {
        (!s.starts_with('#'))
            .then(|| s.split_once(" | ").map(|x| x.1.trim().to_string()))
            .flatten()
    };
    let tune: std::collections::HashSet<_> =
        hkcorpus::TUNE_TEMPLATES.lines().filter_map(norm).collect();
    for l in hkcorpus::HELDOUT_TEMPLATES.lines().filter_map(norm) {
        assert!(!tune.contains(&l), "in both sets: {l}");
    }
    for set in [Set::Tune, Set::Heldout] {
        let ts = set.templates();
        for k in values::GOLD_KINDS {
            assert!(
                ts.iter().any(|t| t.slots().any(|s| s == *k)),
                "{} has no template for {k}",
                set.name()
            );
        }
        assert!(ts.iter().any(|t| t.category() == "negative"));
    }
}

#[test]
fn bytes_mode_is_bounded_and_valid_utf8() {
    let mut out = Vec::new();
    hkcorpus::generate_bytes(100_000, 5, &mut out).unwrap();
    assert!(out.len() <= 100_000 && out.len() > 99_000);
    assert!(std::str::from_utf8(&out).is_ok());
}
