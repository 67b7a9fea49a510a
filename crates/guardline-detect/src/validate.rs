//! Check-digit and structure validators: pure functions over ASCII, reusable by any caller
//! (test generators included). Each returns `false`/`None` on anything malformed; none panics.

/// HKID check character for a one- or two-letter prefix and six digits.
/// Returns `b'0'..=b'9'` or `b'A'`. `None` when the parts are malformed.
pub fn hkid_check_char(prefix: &[u8], digits: &[u8]) -> Option<u8> {
    if !(1..=2).contains(&prefix.len()) || digits.len() != 6 {
        return None;
    }
    if !prefix.iter().all(u8::is_ascii_uppercase) || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // A one-letter prefix is padded with a space, which counts 36 (not 1, a common mistake).
    let (p0, p1) = if prefix.len() == 1 {
        (36u32, (prefix[0] - b'A') as u32 + 10)
    } else {
        (
            (prefix[0] - b'A') as u32 + 10,
            (prefix[1] - b'A') as u32 + 10,
        )
    };
    let mut sum = p0 * 9 + p1 * 8;
    for (i, d) in digits.iter().enumerate() {
        sum += (d - b'0') as u32 * (7 - i as u32);
    }
    Some(match sum % 11 {
        0 => b'0',
        1 => b'A',
        r => b'0' + (11 - r) as u8,
    })
}

/// `A123456(3)`, `AB9876543`, `A123456 (3)`: letters, six digits, a check character with or
/// without brackets. Upper case only: HKIDs are printed in capitals (the engine upper-cases a
/// typed `a123456(3)` before it asks `hkid_check_char`).
pub fn is_valid_hkid(s: &str) -> bool {
    let compact: Vec<u8> = s
        .bytes()
        .filter(|b| !matches!(b, b' ' | b'(' | b')' | b'[' | b']'))
        .collect();
    let n = compact.len();
    if !(8..=9).contains(&n) {
        return false;
    }
    let (prefix, rest) = compact.split_at(n - 7);
    hkid_check_char(prefix, &rest[..6]) == Some(rest[6])
}

/// Luhn (mod 10) over ASCII digits.
pub fn luhn(digits: &[u8]) -> bool {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = (d - b'0') as u32;
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// Issuer of a payment card number by IIN range and length, or `None` when no known
/// scheme issues that prefix at that length.
pub fn card_scheme(digits: &[u8]) -> Option<&'static str> {
    let n = digits.len();
    if !(12..=19).contains(&n) || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let p = |k: usize| -> u32 {
        digits[..k]
            .iter()
            .fold(0u32, |a, d| a * 10 + (d - b'0') as u32)
    };
    let (p1, p2, p3, p4, p6) = (p(1), p(2), p(3), p(4), p(6));
    if p1 == 4 && matches!(n, 13 | 16 | 19) {
        return Some("visa");
    }
    if ((51..=55).contains(&p2) || (222100..=272099).contains(&p6)) && n == 16 {
        return Some("mastercard");
    }
    if (p2 == 34 || p2 == 37) && n == 15 {
        return Some("amex");
    }
    if p2 == 62 && (16..=19).contains(&n) {
        return Some("unionpay");
    }
    if (3528..=3589).contains(&p4) && (16..=19).contains(&n) {
        return Some("jcb");
    }
    if (p4 == 6011 || (644..=649).contains(&p3) || p2 == 65) && (16..=19).contains(&n) {
        return Some("discover");
    }
    if ((300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39) && (14..=19).contains(&n) {
        return Some("diners");
    }
    if (p2 == 50 || (56..=69).contains(&p2)) && (12..=19).contains(&n) {
        return Some("maestro");
    }
    None
}

/// A payment card number: known issuer range and length, and Luhn. UnionPay cards outside the
/// 62 range of Luhn-checked numbers (some older 62-cards skip Luhn) are accepted only with Luhn.
pub fn is_valid_card(digits: &[u8]) -> bool {
    card_scheme(digits).is_some() && luhn(digits)
}

const CN_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CN_CHECK: &[u8; 11] = b"10X98765432";

/// ISO 7064 MOD 11-2 check character for the first 17 digits of a mainland resident ID.
pub fn cn_id_check_char(first17: &[u8]) -> Option<u8> {
    if first17.len() != 17 || !first17.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = first17
        .iter()
        .zip(CN_WEIGHTS)
        .map(|(d, w)| (d - b'0') as u32 * w)
        .sum();
    Some(CN_CHECK[(sum % 11) as usize])
}

/// Mainland resident ID: 18 characters, a valid birth date at 6..14, a plausible region code,
/// and the MOD 11-2 check character (`x` accepted for `X`).
pub fn is_valid_cn_id(id: &[u8]) -> bool {
    if id.len() != 18 {
        return false;
    }
    let Some(check) = cn_id_check_char(&id[..17]) else {
        return false;
    };
    if id[17].to_ascii_uppercase() != check {
        return false;
    }
    // Province codes run 11..=82 (82 being Macao, 81 Hong Kong, 71 Taiwan).
    let prov = (id[0] - b'0') as u32 * 10 + (id[1] - b'0') as u32;
    if !(11..=82).contains(&prov) {
        return false;
    }
    let num = |s: &[u8]| s.iter().fold(0u32, |a, d| a * 10 + (d - b'0') as u32);
    is_valid_date(num(&id[6..10]), num(&id[10..12]), num(&id[12..14]))
        && (1900..=2030).contains(&num(&id[6..10]))
}

/// A real calendar date (proleptic Gregorian), years 1000..=9999.
pub fn is_valid_date(y: u32, m: u32, d: u32) -> bool {
    if !(1000..=9999).contains(&y) || !(1..=12).contains(&m) || d == 0 {
        return false;
    }
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let days = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    d <= days
}

/// ISO 13616 IBAN: country letters, two check digits, up to 30 alphanumerics, mod 97 == 1,
/// and the length registered for the country. Spaces are ignored.
pub fn is_valid_iban(s: &[u8]) -> bool {
    let compact: Vec<u8> = s.iter().copied().filter(|b| *b != b' ').collect();
    let n = compact.len();
    if !(15..=34).contains(&n) {
        return false;
    }
    if !compact[..2].iter().all(u8::is_ascii_uppercase)
        || !compact[2..4].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    if !compact[4..]
        .iter()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return false;
    }
    if iban_length(&compact[..2]) != Some(n) {
        return false;
    }
    let mut rem: u32 = 0;
    for &b in compact[4..].iter().chain(&compact[..4]) {
        if b.is_ascii_digit() {
            rem = (rem * 10 + (b - b'0') as u32) % 97;
        } else {
            let v = (b - b'A') as u32 + 10;
            rem = (rem * 100 + v) % 97;
        }
    }
    rem == 1
}

/// IBAN length by country: the SWIFT IBAN registry, plus the countries that issue IBANs outside
/// it (several African states, Iran). A code not listed is not an IBAN country: `SF…` tracking
/// numbers and the like pass mod 97 one time in 97 and must not count.
fn iban_length(cc: &[u8]) -> Option<usize> {
    Some(match cc {
        b"AD" => 24,
        b"AE" => 23,
        b"AL" => 28,
        b"AO" => 25,
        b"AT" => 20,
        b"AZ" => 28,
        b"BA" => 20,
        b"BE" => 16,
        b"BF" => 28,
        b"BG" => 22,
        b"BH" => 22,
        b"BI" => 27,
        b"BJ" => 28,
        b"BR" => 29,
        b"BY" => 28,
        b"CH" => 21,
        b"CI" => 28,
        b"CM" => 27,
        b"CR" => 22,
        b"CV" => 25,
        b"CY" => 28,
        b"CZ" => 24,
        b"DE" => 22,
        b"DJ" => 27,
        b"DK" => 18,
        b"DO" => 28,
        b"DZ" => 26,
        b"EE" => 20,
        b"EG" => 29,
        b"ES" => 24,
        b"FI" => 18,
        b"FK" => 18,
        b"FO" => 18,
        b"FR" => 27,
        b"GB" => 22,
        b"GE" => 22,
        b"GI" => 23,
        b"GL" => 18,
        b"GR" => 27,
        b"GT" => 28,
        b"HN" => 28,
        b"HR" => 21,
        b"HU" => 28,
        b"IE" => 22,
        b"IL" => 23,
        b"IQ" => 23,
        b"IR" => 26,
        b"IS" => 26,
        b"IT" => 27,
        b"JO" => 30,
        b"KW" => 30,
        b"KZ" => 20,
        b"LB" => 28,
        b"LC" => 32,
        b"LI" => 21,
        b"LT" => 20,
        b"LU" => 20,
        b"LV" => 21,
        b"LY" => 25,
        b"MA" => 28,
        b"MC" => 27,
        b"MD" => 24,
        b"ME" => 22,
        b"MG" => 27,
        b"MK" => 19,
        b"ML" => 28,
        b"MN" => 20,
        b"MR" => 27,
        b"MT" => 31,
        b"MU" => 30,
        b"MZ" => 25,
        b"NI" => 28,
        b"NL" => 18,
        b"NO" => 15,
        b"OM" => 23,
        b"PK" => 24,
        b"PL" => 28,
        b"PS" => 29,
        b"PT" => 25,
        b"QA" => 29,
        b"RO" => 24,
        b"RS" => 22,
        b"RU" => 33,
        b"SA" => 24,
        b"SC" => 31,
        b"SD" => 18,
        b"SE" => 24,
        b"SI" => 19,
        b"SK" => 24,
        b"SM" => 27,
        b"SN" => 28,
        b"SO" => 23,
        b"ST" => 25,
        b"SV" => 28,
        b"TL" => 23,
        b"TN" => 24,
        b"TR" => 26,
        b"UA" => 29,
        b"VA" => 22,
        b"VG" => 24,
        b"XK" => 20,
        b"YE" => 30,
        _ => return None,
    })
}

/// Dotted-quad IPv4 without leading zeros.
pub fn is_valid_ipv4(s: &[u8]) -> bool {
    let mut parts = 0;
    for part in s.split(|&b| b == b'.') {
        parts += 1;
        if part.is_empty() || part.len() > 3 || !part.iter().all(u8::is_ascii_digit) {
            return false;
        }
        if part.len() > 1 && part[0] == b'0' {
            return false;
        }
        let v = part.iter().fold(0u32, |a, d| a * 10 + (d - b'0') as u32);
        if v > 255 {
            return false;
        }
    }
    parts == 4
}

/// IPv6 in any textual form std accepts (`::1`, `fe80::1`, `::ffff:1.2.3.4`), but at least
/// three groups or a `::`, so clock times like `12:30:45` never qualify.
pub fn is_valid_ipv6(s: &[u8]) -> bool {
    let Ok(st) = std::str::from_utf8(s) else {
        return false;
    };
    let st = st.split('%').next().unwrap_or(st);
    st.parse::<std::net::Ipv6Addr>().is_ok()
}

/// Shannon entropy in bits per byte.
pub fn shannon_entropy(s: &[u8]) -> f32 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in s {
        counts[b as usize] += 1;
    }
    let n = s.len() as f32;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f32 / n;
            -p * p.log2()
        })
        .sum()
}

/// Macao resident ID: `1`, `5` or `7` then six digits and a check digit, printed `1234567(8)`.
/// No public checksum: structure only.
pub fn is_plausible_mo_id(s: &[u8]) -> bool {
    let d: Vec<u8> = s.iter().copied().filter(u8::is_ascii_digit).collect();
    d.len() == 8 && matches!(d[0], b'1' | b'5' | b'7')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hkid_worked_examples() {
        for id in [
            "A123456(3)",
            "E364912(5)",
            "D288754(2)",
            "AB123456(9)",
            "AB987654(3)",
            "P131609(9)",
        ] {
            assert!(is_valid_hkid(id), "{id}");
        }
        for id in [
            "A123456(4)",
            "A123456(A)",
            "AB123456(8)",
            "a123456(3)",
            "A12345(3)",
        ] {
            assert!(!is_valid_hkid(id), "{id}");
        }
    }

    #[test]
    fn cn_id() {
        // Public sample from GB 11643-1999.
        assert!(is_valid_cn_id(b"11010519491231002X"));
        assert!(is_valid_cn_id(b"11010519491231002x"));
        assert!(!is_valid_cn_id(b"110105194912310021"));
        assert!(!is_valid_cn_id(b"11010519491331002X"));
    }

    #[test]
    fn cards() {
        assert!(is_valid_card(b"4111111111111111"));
        assert!(is_valid_card(b"5500005555555559"));
        assert!(is_valid_card(b"378282246310005"));
        assert!(is_valid_card(b"6250941006528599")); // UnionPay test number
        assert!(is_valid_card(b"3530111333300000")); // JCB
        assert!(!is_valid_card(b"4111111111111112"));
        assert!(!is_valid_card(b"1234567812345670")); // Luhn-valid, no issuer
    }

    #[test]
    fn iban() {
        assert!(is_valid_iban(b"GB82WEST12345698765432"));
        assert!(is_valid_iban(b"GB82 WEST 1234 5698 7654 32"));
        assert!(is_valid_iban(b"DE89370400440532013000"));
        assert!(!is_valid_iban(b"GB82WEST12345698765433"));
        assert!(!is_valid_iban(b"GB82WEST1234569876543"));
        // Passes mod 97, but SF is an SF Express tracking prefix, not an IBAN country.
        assert!(!is_valid_iban(b"SF8320282816853"));
    }

    #[test]
    fn ips() {
        assert!(is_valid_ipv4(b"192.168.1.10"));
        assert!(!is_valid_ipv4(b"256.1.1.1"));
        assert!(!is_valid_ipv4(b"01.2.3.4"));
        assert!(is_valid_ipv6(b"2001:db8::1"));
        assert!(is_valid_ipv6(b"fe80::1%eth0"));
        assert!(!is_valid_ipv6(b"12:30:45"));
    }

    #[test]
    fn dates() {
        assert!(is_valid_date(2000, 2, 29));
        assert!(!is_valid_date(1900, 2, 29));
        assert!(!is_valid_date(2023, 4, 31));
    }
}
