//! Value generators: one per slot name a template may use. Gold slots produce a value of a kind
//! the engine detects (check digits computed with `guardline_detect::validate`); negative slots
//! produce look-alikes that must not be reported; filler slots produce names, places and numbers
//! that carry no kind.

use guardline_detect::validate;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::RngExt;

/// What a slot renders to: the text, and the kind of the gold span it makes (if any).
#[derive(Debug, Clone)]
pub struct Value {
    pub text: String,
    pub kind: Option<&'static str>,
}

impl Value {
    fn gold(kind: &'static str, text: String) -> Value {
        Value {
            text,
            kind: Some(kind),
        }
    }
    fn plain(text: String) -> Value {
        Value { text, kind: None }
    }
}

/// Every gold kind the generator can produce, in report order.
pub const GOLD_KINDS: &[&str] = &[
    "hk_id",
    "hk_passport",
    "hk_phone",
    "hk_br_number",
    "hk_bank_account",
    "cn_resident_id",
    "mo_id",
    "passport",
    "email",
    "credit_card",
    "iban",
    "ip_address",
    "date_of_birth",
    "secret.aws_access_key",
    "secret.aws_secret_key",
    "secret.github_token",
    "secret.openai_key",
    "secret.slack_token",
    "secret.google_api_key",
    "secret.stripe_key",
    "secret.jwt",
    "secret.private_key",
    "secret.generic",
];

/// Slots that render a hard negative: something that looks like personal data but is not.
pub const NEGATIVE_SLOTS: &[&str] = &[
    "order_no",
    "tracking_no",
    "invoice_no",
    "price",
    "num8",
    "bad_hkid",
    "bad_cnid",
    "bad_card",
    "version",
    "time",
    "date",
    "secret_placeholder",
    "git_sha",
    "uuid",
];

/// Slots that render ordinary filler.
pub const FILLER_SLOTS: &[&str] = &[
    "name", "zh_name", "company", "district", "n", "year", "month",
];

/// Whether `slot` (with its optional `:variant`) names something [`render`] knows.
pub fn is_known(slot: &str, variant: Option<&str>) -> bool {
    let variants: &[&str] = match slot {
        "hk_id" => &["", "plain", "fullwidth"],
        "hk_phone" => &["", "intl", "cc", "bare"],
        "ip_address" => &["", "v4", "v6"],
        "date_of_birth" => &["", "en", "zh", "num"],
        "secret.slack_token" => &["", "token", "webhook"],
        s if GOLD_KINDS.contains(&s)
            || NEGATIVE_SLOTS.contains(&s)
            || FILLER_SLOTS.contains(&s) =>
        {
            &[""]
        }
        _ => return false,
    };
    variants.contains(&variant.unwrap_or(""))
}

/// Render one slot. Panics only on a slot [`is_known`] rejects (templates are checked at load).
pub fn render(slot: &str, variant: Option<&str>, rng: &mut StdRng) -> Value {
    let v = variant.unwrap_or("");
    match slot {
        "hk_id" => Value::gold("hk_id", hk_id(rng, v)),
        "hk_passport" => Value::gold("hk_passport", hk_passport(rng)),
        "hk_phone" => Value::gold("hk_phone", hk_phone(rng, v)),
        "hk_br_number" => Value::gold("hk_br_number", hk_br(rng)),
        "hk_bank_account" => Value::gold("hk_bank_account", hk_bank_account(rng)),
        "cn_resident_id" => Value::gold("cn_resident_id", cn_id(rng)),
        "mo_id" => Value::gold("mo_id", mo_id(rng)),
        "passport" => Value::gold("passport", passport(rng)),
        "email" => Value::gold("email", email(rng)),
        "credit_card" => Value::gold("credit_card", credit_card(rng)),
        "iban" => Value::gold("iban", iban(rng)),
        "ip_address" => Value::gold("ip_address", ip(rng, v)),
        "date_of_birth" => Value::gold("date_of_birth", birth_date(rng, v)),
        "secret.aws_access_key" => Value::gold("secret.aws_access_key", aws_access_key(rng)),
        "secret.aws_secret_key" => Value::gold(
            "secret.aws_secret_key",
            random_from(rng, ALNUM_SLASH_PLUS, 40),
        ),
        "secret.github_token" => Value::gold("secret.github_token", github_token(rng)),
        "secret.openai_key" => Value::gold("secret.openai_key", openai_key(rng)),
        "secret.slack_token" => Value::gold("secret.slack_token", slack_token(rng, v)),
        "secret.google_api_key" => Value::gold(
            "secret.google_api_key",
            format!("AIza{}", random_from(rng, URL_SAFE, 35)),
        ),
        "secret.stripe_key" => Value::gold("secret.stripe_key", stripe_key(rng)),
        "secret.jwt" => Value::gold("secret.jwt", jwt(rng)),
        "secret.private_key" => Value::gold("secret.private_key", private_key(rng)),
        "secret.generic" => Value::gold("secret.generic", password(rng)),
        "order_no" => Value::plain(order_no(rng)),
        "tracking_no" => Value::plain(tracking_no(rng)),
        "invoice_no" => Value::plain(invoice_no(rng)),
        "price" => Value::plain(price(rng)),
        "num8" => Value::plain(digits(rng, 8, b'1')),
        "bad_hkid" => Value::plain(bad_hkid(rng)),
        "bad_cnid" => Value::plain(bad_cn_id(rng)),
        "bad_card" => Value::plain(bad_card(rng)),
        "version" => Value::plain(version(rng)),
        "time" => Value::plain(time(rng)),
        "date" => Value::plain(other_date(rng)),
        "secret_placeholder" => Value::plain(secret_placeholder(rng)),
        "git_sha" => Value::plain(random_from(rng, b"0123456789abcdef", 40)),
        "uuid" => Value::plain(uuid(rng)),
        "name" => Value::plain(pick(rng, NAMES).to_string()),
        "zh_name" => Value::plain(pick(rng, ZH_NAMES).to_string()),
        "company" => Value::plain(pick(rng, COMPANIES).to_string()),
        "district" => Value::plain(pick(rng, DISTRICTS).to_string()),
        "n" => Value::plain(rng.random_range(2..60u32).to_string()),
        "year" => Value::plain(rng.random_range(2015..2027u32).to_string()),
        "month" => Value::plain(pick(rng, MONTHS).to_string()),
        _ => panic!("unknown slot `{slot}`"),
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const DIGITS: &[u8] = b"0123456789";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const URL_SAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const ALNUM_SLASH_PLUS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn pick<'a, T: ?Sized>(rng: &mut StdRng, xs: &'a [&'a T]) -> &'a T {
    xs.choose(rng).expect("non-empty list")
}

fn random_from(rng: &mut StdRng, alphabet: &[u8], n: usize) -> String {
    (0..n)
        .map(|_| *alphabet.choose(rng).expect("non-empty") as char)
        .collect()
}

/// `n` random digits, the first at least `min_first`.
fn digits(rng: &mut StdRng, n: usize, min_first: u8) -> String {
    let mut s = String::with_capacity(n);
    for i in 0..n {
        let lo = if i == 0 { min_first } else { b'0' };
        s.push(rng.random_range(lo..=b'9') as char);
    }
    s
}

/// Group `s` into runs of `sizes` (the last one takes the rest) joined by `sep`.
fn group(s: &str, sizes: &[usize], sep: &str) -> String {
    let mut out = String::new();
    let mut at = 0;
    for (i, &n) in sizes.iter().enumerate() {
        if at >= s.len() {
            break;
        }
        if i > 0 {
            out.push_str(sep);
        }
        let end = if i + 1 == sizes.len() {
            s.len()
        } else {
            (at + n).min(s.len())
        };
        out.push_str(&s[at..end]);
        at = end;
    }
    out
}

/// ASCII to full-width forms (`A1(` → `Ａ１（`), as typed with a Chinese input method.
pub fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c),
            ' ' => '\u{3000}',
            _ => c,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Hong Kong and regional identifiers

/// An HKID's prefix, six digits and valid check character.
pub fn hkid_parts(rng: &mut StdRng) -> (String, String, u8) {
    let prefix = if rng.random_bool(0.15) {
        // Two-letter prefixes in use: W, X and a few others before the single letter.
        format!(
            "{}{}",
            *[b'W', b'X', b'X', b'E', b'C'].choose(rng).unwrap() as char,
            *UPPER.choose(rng).unwrap() as char
        )
    } else {
        (*b"ABCDEGHJKLMNPRSVYZ".choose(rng).unwrap() as char).to_string()
    };
    let six = digits(rng, 6, b'0');
    let check = validate::hkid_check_char(prefix.as_bytes(), six.as_bytes()).expect("well formed");
    (prefix, six, check)
}

fn hk_id(rng: &mut StdRng, variant: &str) -> String {
    let (p, six, c) = hkid_parts(rng);
    let c = c as char;
    let roll = rng.random_range(0..100);
    let plain = match roll {
        0..=54 => format!("{p}{six}({c})"),
        55..=69 => format!("{p}{six} ({c})"),
        _ => format!("{p}{six}{c}"),
    };
    match variant {
        "plain" => plain,
        "fullwidth" => full_width(&format!("{p}{six}({c})")),
        _ if rng.random_bool(0.15) => full_width(&format!("{p}{six}({c})")),
        _ => plain,
    }
}

fn bad_hkid(rng: &mut StdRng) -> String {
    let (p, six, c) = hkid_parts(rng);
    let wrong = loop {
        let x = *b"0123456789A".choose(rng).unwrap();
        if x != c {
            break x as char;
        }
    };
    format!("{p}{six}({wrong})")
}

fn hk_passport(rng: &mut StdRng) -> String {
    match rng.random_range(0..3) {
        0 => format!("H{}", digits(rng, 8, b'0')),
        1 => format!("K{}", digits(rng, 8, b'0')),
        _ => format!("KJ{}", digits(rng, 7, b'0')),
    }
}

/// First digits of Hong Kong numbers: fixed lines 2/3, mobiles 5/6/9 and parts of 4/7/8.
fn hk_subscriber(rng: &mut StdRng) -> String {
    let first = *[
        "2", "2", "3", "3", "5", "5", "6", "6", "6", "9", "9", "9", "46", "70", "84",
    ]
    .choose(rng)
    .unwrap();
    format!("{first}{}", digits(rng, 8 - first.len(), b'0'))
}

fn hk_phone(rng: &mut StdRng, variant: &str) -> String {
    let sub = hk_subscriber(rng);
    let (a, b) = sub.split_at(4);
    let local = match rng.random_range(0..4) {
        0 => format!("{a} {b}"),
        1 => format!("{a}-{b}"),
        _ => sub.clone(),
    };
    let kind = match variant {
        "intl" | "cc" | "bare" => variant,
        _ => ["intl", "intl", "cc", "bare", "bare"].choose(rng).unwrap(),
    };
    match kind {
        "intl" => match rng.random_range(0..7) {
            0 => format!("+852 {local}"),
            1 => format!("+852-{a}-{b}"),
            2 => format!("(852) {local}"),
            3 => format!("(+852) {local}"),
            4 => format!("+852{sub}"),
            5 => format!("00852 {local}"),
            _ => format!("+852 {a} {b}"),
        },
        "cc" => match rng.random_range(0..3) {
            0 => format!("852 {a} {b}"),
            1 => format!("852-{a}-{b}"),
            _ => format!("852 {sub}"),
        },
        _ => {
            if rng.random_bool(0.05) {
                // Toll-free: 800 and six digits.
                let d = digits(rng, 6, b'0');
                format!("800 {} {}", &d[..3], &d[3..])
            } else {
                local
            }
        }
    }
}

fn hk_br(rng: &mut StdRng) -> String {
    let n = digits(rng, 8, b'1');
    if rng.random_bool(0.3) {
        format!("{n}-{:03}", rng.random_range(0..20u32))
    } else {
        n
    }
}

fn hk_bank_account(rng: &mut StdRng) -> String {
    // Bank codes: HSBC 004, Hang Seng 024, BOC 012, Standard Chartered 003, BEA 015, DBS 016,
    // Citibank 250, ICBC Asia 072.
    let code = *["004", "024", "012", "003", "015", "016", "250", "072"]
        .choose(rng)
        .unwrap();
    match rng.random_range(0..7) {
        // bank-branch-account
        0 => format!("{code}-{}-{}", digits(rng, 3, b'0'), digits(rng, 6, b'0')),
        // HSBC / Hang Seng style: branch-account-suffix
        1 | 2 => format!(
            "{}-{}-{}",
            digits(rng, 3, b'0'),
            digits(rng, 6, b'0'),
            digits(rng, 3, b'0')
        ),
        // BOC style
        3 => format!(
            "{code}-{}-{}-{}",
            digits(rng, 3, b'0'),
            digits(rng, 2, b'0'),
            digits(rng, 6, b'0')
        ),
        // Standard Chartered style
        4 => format!(
            "{}-{}-{}",
            digits(rng, 3, b'0'),
            digits(rng, 1, b'0'),
            digits(rng, 6, b'0')
        ),
        // Unformatted 9 to 12 digits
        _ => {
            let n = rng.random_range(9..=12);
            digits(rng, n, b'0')
        }
    }
}

const CN_REGIONS: &[&str] = &[
    "110101", "110105", "310104", "310115", "440106", "440303", "440304", "440305", "441900",
    "445202", "330106", "320102", "510107", "500103", "420102", "350203", "370202", "210102",
    "610113", "530102", "450103", "430104", "620102", "650102", "130102", "410105",
];

/// A valid mainland resident ID (MOD 11-2 check, real birth date), `x` sometimes lower case.
pub fn cn_id_raw(rng: &mut StdRng) -> String {
    let region = *CN_REGIONS.choose(rng).unwrap();
    let y = rng.random_range(1950..=2006u32);
    let m = rng.random_range(1..=12u32);
    let d = rng.random_range(1..=28u32);
    let seq = digits(rng, 3, b'0');
    let first17 = format!("{region}{y:04}{m:02}{d:02}{seq}");
    let check = validate::cn_id_check_char(first17.as_bytes()).expect("17 digits");
    let check = if check == b'X' && rng.random_bool(0.3) {
        'x'
    } else {
        check as char
    };
    format!("{first17}{check}")
}

fn cn_id(rng: &mut StdRng) -> String {
    let id = cn_id_raw(rng);
    if rng.random_bool(0.1) {
        format!("{} {} {}", &id[..6], &id[6..14], &id[14..])
    } else {
        id
    }
}

fn bad_cn_id(rng: &mut StdRng) -> String {
    let id = cn_id_raw(rng);
    let good = id.as_bytes()[17].to_ascii_uppercase();
    let wrong = loop {
        let x = *b"0123456789X".choose(rng).unwrap();
        if x != good {
            break x as char;
        }
    };
    format!("{}{wrong}", &id[..17])
}

fn mo_id(rng: &mut StdRng) -> String {
    let first = *[b'1', b'5', b'7'].choose(rng).unwrap() as char;
    let body = digits(rng, 6, b'0');
    let check = rng.random_range(0..10u32);
    if rng.random_bool(0.2) {
        format!("{first}{body} ({check})")
    } else {
        format!("{first}{body}({check})")
    }
}

fn not_hk(rng: &mut StdRng) -> char {
    *b"ABCDEFGJLMNPRSTUVWXYZ".choose(rng).unwrap() as char
}

/// Passports of other places, as printed: mainland China, the US, the UK, Canada, India,
/// Australia, Japan, Singapore, the Philippines, Malaysia, Korea, Taiwan.
fn passport(rng: &mut StdRng) -> String {
    let l = |rng: &mut StdRng| *UPPER.choose(rng).unwrap() as char;
    match rng.random_range(0..12) {
        0 => format!("E{}", digits(rng, 8, b'0')),
        1 => format!("E{}{}", l(rng), digits(rng, 7, b'0')),
        2 => digits(rng, 9, b'1'), // US (old), UK, TW
        // US (new), MY, KR; not H or K, which with eight digits is an HKSAR passport.
        3 => format!("{}{}", not_hk(rng), digits(rng, 8, b'0')),
        4 => format!("{}{}{}", l(rng), l(rng), digits(rng, 6, b'0')), // CA
        5 => format!("{}{}", l(rng), digits(rng, 7, b'0')),           // IN, AU
        6 => format!("P{}{}", l(rng), digits(rng, 7, b'0')),          // AU
        7 => format!("T{}{}", l(rng), digits(rng, 7, b'0')),          // JP
        8 => format!("{}{}{}", l(rng), digits(rng, 7, b'0'), l(rng)), // SG, PH
        9 => format!("M{}", digits(rng, 8, b'0')),                    // KR
        10 => format!("G{}", digits(rng, 8, b'0')),                   // CN (older)
        _ => digits(rng, 9, b'1'),
    }
}

// ---------------------------------------------------------------------------------------------
// Contact and network

const EMAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "yahoo.com.hk",
    "netvigator.com",
    "outlook.com",
    "hotmail.com",
    "connect.hku.hk",
    "link.cuhk.edu.hk",
    "connect.ust.hk",
    "ha.org.hk",
    "dh.gov.hk",
    "hkbn.net",
    "example-trading.com.hk",
    "pccw.com",
    "qq.com",
    "163.com",
    "icloud.com",
];

fn email(rng: &mut StdRng) -> String {
    let first = pick(rng, GIVEN).to_ascii_lowercase();
    let last = pick(rng, SURNAMES).to_ascii_lowercase();
    let local = match rng.random_range(0..6) {
        0 => format!("{first}.{last}"),
        1 => format!("{first}{last}{}", rng.random_range(1..100u32)),
        2 => format!("{}{last}", &first[..1]),
        3 => format!("{first}_{last}"),
        4 => format!(
            "{first}.{last}+{}",
            *["hk", "work", "shop"].choose(rng).unwrap()
        ),
        _ => format!("{last}{}", rng.random_range(1960..2010u32)),
    };
    format!("{local}@{}", pick(rng, EMAIL_DOMAINS))
}

fn ip(rng: &mut StdRng, variant: &str) -> String {
    let v6 = match variant {
        "v4" => false,
        "v6" => true,
        _ => rng.random_bool(0.3),
    };
    if !v6 {
        return format!(
            "{}.{}.{}.{}",
            rng.random_range(1..=223u32),
            rng.random_range(0..=255u32),
            rng.random_range(0..=255u32),
            rng.random_range(1..=254u32)
        );
    }
    let groups: Vec<String> = (0..8)
        .map(|_| format!("{:x}", rng.random_range(0..=0xffffu32)))
        .collect();
    match rng.random_range(0..3) {
        0 => groups.join(":"),
        1 => format!("2001:db8:{}:{}::{}", groups[2], groups[3], groups[7]),
        _ => format!(
            "fe80::{}:{}:{}:{}",
            groups[4], groups[5], groups[6], groups[7]
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Payment

fn luhn_complete(prefix_and_body: &str) -> String {
    for c in b'0'..=b'9' {
        let s = format!("{prefix_and_body}{}", c as char);
        if validate::luhn(s.as_bytes()) {
            return s;
        }
    }
    unreachable!("one of ten check digits satisfies Luhn")
}

/// A Luhn-valid number of a real issuer range: Visa, Mastercard, Amex, UnionPay, JCB.
pub fn card_number(rng: &mut StdRng) -> String {
    let (prefix, len): (String, usize) = match rng.random_range(0..6) {
        0 | 1 => ("4".into(), 16),
        2 => (
            if rng.random_bool(0.7) {
                rng.random_range(51..=55u32).to_string()
            } else {
                rng.random_range(2221..=2720u32).to_string()
            },
            16,
        ),
        3 => (if rng.random_bool(0.5) { "34" } else { "37" }.into(), 15),
        4 => ("62".into(), if rng.random_bool(0.8) { 16 } else { 19 }),
        _ => (rng.random_range(3528..=3589u32).to_string(), 16),
    };
    let body = digits(rng, len - prefix.len() - 1, b'0');
    luhn_complete(&format!("{prefix}{body}"))
}

fn format_card(rng: &mut StdRng, n: &str) -> String {
    let sep = *[" ", " ", "-", ""].choose(rng).unwrap();
    if sep.is_empty() {
        return n.to_string();
    }
    match n.len() {
        15 => group(n, &[4, 6, 5], sep),
        19 if rng.random_bool(0.5) => group(n, &[6, 13], sep),
        _ => group(n, &[4, 4, 4, 4, 4], sep),
    }
}

fn credit_card(rng: &mut StdRng) -> String {
    let n = card_number(rng);
    format_card(rng, &n)
}

fn bad_card(rng: &mut StdRng) -> String {
    let good = card_number(rng);
    let (head, last) = good.split_at(good.len() - 1);
    let d = last.as_bytes()[0] - b'0';
    let wrong = format!("{head}{}", (d + rng.random_range(1..10u8)) % 10);
    debug_assert!(!validate::luhn(wrong.as_bytes()));
    format_card(rng, &wrong)
}

/// Country code and BBAN shape: `9` a digit, `A` an upper-case letter.
const IBAN_SHAPES: &[(&str, &str)] = &[
    ("GB", "AAAA99999999999999"),
    ("DE", "999999999999999999"),
    ("FR", "99999999999999999999999"),
    ("NL", "AAAA9999999999"),
    ("ES", "99999999999999999999"),
    ("IT", "A9999999999999999999999"),
    ("CH", "99999999999999999"),
    ("BE", "999999999999"),
    ("IE", "AAAA99999999999999"),
    ("AE", "9999999999999999999"),
    ("LU", "9999999999999999"),
    ("PL", "999999999999999999999999"),
];

/// A valid IBAN (ISO 13616 mod 97), compact.
pub fn iban_compact(rng: &mut StdRng) -> String {
    let (cc, shape) = *IBAN_SHAPES.choose(rng).unwrap();
    let bban: String = shape
        .bytes()
        .map(|b| {
            if b == b'A' {
                *UPPER.choose(rng).unwrap() as char
            } else {
                *DIGITS.choose(rng).unwrap() as char
            }
        })
        .collect();
    let mut rem: u32 = 0;
    for b in bban.bytes().chain(cc.bytes()).chain(*b"00") {
        if b.is_ascii_digit() {
            rem = (rem * 10 + (b - b'0') as u32) % 97;
        } else {
            rem = (rem * 100 + (b - b'A') as u32 + 10) % 97;
        }
    }
    format!("{cc}{:02}{bban}", 98 - rem)
}

fn iban(rng: &mut StdRng) -> String {
    let c = iban_compact(rng);
    if rng.random_bool(0.6) {
        let groups: Vec<&str> = c
            .as_bytes()
            .chunks(4)
            .map(|ch| std::str::from_utf8(ch).unwrap())
            .collect();
        groups.join(" ")
    } else {
        c
    }
}

// ---------------------------------------------------------------------------------------------
// Dates

const MONTHS: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn format_date(rng: &mut StdRng, y: u32, m: u32, d: u32, variant: &str) -> String {
    let style = match variant {
        "en" => rng.random_range(0..4),
        "num" => rng.random_range(4..8),
        "zh" => 8,
        _ => rng.random_range(0..10),
    };
    let mon = MONTHS[(m - 1) as usize];
    match style {
        0 => format!("{d} {mon} {y}"),
        1 => format!("{mon} {d}, {y}"),
        2 => format!("{d} {} {y}", &mon[..3]),
        3 => format!("{mon} {d} {y}"),
        4 => format!("{y}-{m:02}-{d:02}"),
        5 => format!("{d:02}/{m:02}/{y}"),
        6 => format!("{d}/{m}/{y}"),
        7 => format!("{d:02}-{m:02}-{y}"),
        _ => {
            let s = format!("{y}年{m}月{d}日");
            if rng.random_bool(0.15) {
                full_width(&s)
            } else {
                s
            }
        }
    }
}

fn birth_date(rng: &mut StdRng, variant: &str) -> String {
    let y = rng.random_range(1940..=2012u32);
    let m = rng.random_range(1..=12u32);
    let d = rng.random_range(1..=28u32);
    format_date(rng, y, m, d, variant)
}

fn other_date(rng: &mut StdRng) -> String {
    let y = rng.random_range(2023..=2026u32);
    let m = rng.random_range(1..=12u32);
    let d = rng.random_range(1..=28u32);
    format_date(rng, y, m, d, "")
}

fn time(rng: &mut StdRng) -> String {
    let (h, m, s) = (
        rng.random_range(0..24u32),
        rng.random_range(0..60u32),
        rng.random_range(0..60u32),
    );
    if rng.random_bool(0.5) {
        format!("{h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}")
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets

fn aws_access_key(rng: &mut StdRng) -> String {
    let p = *["AKIA", "AKIA", "AKIA", "ASIA"].choose(rng).unwrap();
    format!("{p}{}", random_from(rng, UPPER_DIGITS, 16))
}

fn github_token(rng: &mut StdRng) -> String {
    if rng.random_bool(0.2) {
        format!(
            "github_pat_{}_{}",
            random_from(rng, ALNUM, 22),
            random_from(rng, ALNUM, 59)
        )
    } else {
        let p = *["ghp", "ghp", "gho", "ghs", "ghu"].choose(rng).unwrap();
        format!("{p}_{}", random_from(rng, ALNUM, 36))
    }
}

fn openai_key(rng: &mut StdRng) -> String {
    match rng.random_range(0..3) {
        0 => {
            let n = rng.random_range(60..=120);
            format!("sk-proj-{}", random_from(rng, URL_SAFE, n))
        }
        1 => format!("sk-{}", random_from(rng, ALNUM, 48)),
        _ => format!(
            "sk-{}T3BlbkFJ{}",
            random_from(rng, ALNUM, 20),
            random_from(rng, ALNUM, 20)
        ),
    }
}

fn slack_token(rng: &mut StdRng, variant: &str) -> String {
    let webhook = match variant {
        "webhook" => true,
        "token" => false,
        _ => rng.random_bool(0.2),
    };
    if webhook {
        return format!(
            "https://hooks.slack.com/services/T{}/B{}/{}",
            random_from(rng, UPPER_DIGITS, 8),
            random_from(rng, UPPER_DIGITS, 10),
            random_from(rng, ALNUM, 24)
        );
    }
    let p = *["xoxb", "xoxp", "xoxa"].choose(rng).unwrap();
    format!(
        "{p}-{}-{}-{}",
        digits(rng, 12, b'1'),
        digits(rng, 13, b'1'),
        random_from(rng, ALNUM, 24)
    )
}

fn stripe_key(rng: &mut StdRng) -> String {
    let p = *["sk_live", "sk_live", "rk_live", "sk_test"]
        .choose(rng)
        .unwrap();
    let n = rng.random_range(24..=99);
    format!("{p}_{}", random_from(rng, ALNUM, n))
}

fn b64url(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(URL_SAFE[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn jwt(rng: &mut StdRng) -> String {
    let alg = *["HS256", "RS256", "ES256"].choose(rng).unwrap();
    let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
    let payload = format!(
        r#"{{"sub":"{}","name":"{}","iat":{}}}"#,
        rng.random_range(1000..999999u32),
        pick(rng, NAMES),
        rng.random_range(1_600_000_000..1_800_000_000u64)
    );
    format!(
        "{}.{}.{}",
        b64url(header.as_bytes()),
        b64url(payload.as_bytes()),
        random_from(rng, URL_SAFE, 43)
    )
}

fn private_key(rng: &mut StdRng) -> String {
    let label = *[
        "RSA PRIVATE KEY",
        "PRIVATE KEY",
        "EC PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
    ]
    .choose(rng)
    .unwrap();
    let lines = rng.random_range(3..=8);
    let mut s = format!("-----BEGIN {label}-----\n");
    for _ in 0..lines {
        s.push_str(&random_from(rng, B64, 64));
        s.push('\n');
    }
    let tail = rng.random_range(8..60);
    s.push_str(&random_from(rng, B64, tail));
    s.push_str(&format!("\n-----END {label}-----"));
    s
}

/// A password someone pasted: 10 to 24 characters of letters, digits and symbols.
fn password(rng: &mut StdRng) -> String {
    const SYMBOLS: &[u8] = b"!@#%^&*_-+=?~.";
    loop {
        let n = rng.random_range(10..=24);
        let s: String = (0..n)
            .map(|i| {
                let class = if i == 0 {
                    rng.random_range(0..3)
                } else {
                    rng.random_range(0..4)
                };
                let set = match class {
                    0 => UPPER,
                    1 => LOWER,
                    2 => DIGITS,
                    _ => SYMBOLS,
                };
                *set.choose(rng).unwrap() as char
            })
            .collect();
        let classes = [
            s.bytes().any(|b| b.is_ascii_lowercase()),
            s.bytes().any(|b| b.is_ascii_uppercase()),
            s.bytes().any(|b| b.is_ascii_digit()),
        ];
        if classes.iter().filter(|&&c| c).count() >= 2 {
            return s;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hard negatives

fn order_no(rng: &mut StdRng) -> String {
    match rng.random_range(0..5) {
        0 => format!("#{}", digits(rng, 8, b'1')),
        1 => format!(
            "ORD-{}-{}",
            rng.random_range(2023..2027u32),
            digits(rng, 6, b'0')
        ),
        2 => format!(
            "#A{}-{}",
            rng.random_range(2023..2027u32),
            digits(rng, 6, b'0')
        ),
        3 => digits(rng, 8, b'1'),
        _ => format!("HK{}", digits(rng, 10, b'1')),
    }
}

fn tracking_no(rng: &mut StdRng) -> String {
    match rng.random_range(0..4) {
        0 => format!("SF{}", digits(rng, 13, b'1')),
        1 => format!(
            "{}{}HK",
            *["RR", "EC", "LX", "CP"].choose(rng).unwrap(),
            digits(rng, 9, b'0')
        ),
        2 => digits(rng, 10, b'1'),
        _ => format!("1Z{}", random_from(rng, UPPER_DIGITS, 16)),
    }
}

fn invoice_no(rng: &mut StdRng) -> String {
    format!(
        "INV-{}-{}",
        rng.random_range(2023..2027u32),
        digits(rng, 6, b'0')
    )
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn price(rng: &mut StdRng) -> String {
    let big = rng.random_range(1_000..100_000_000u64);
    match rng.random_range(0..4) {
        0 => format!("HK${}", thousands(big)),
        1 => format!(
            "HK${}.{:02}",
            thousands(big / 100),
            rng.random_range(0..100u32)
        ),
        2 => format!("${}", thousands(big)),
        _ => format!("港幣{}元", thousands(big)),
    }
}

/// A credential key with a templated, masked or example value: configuration, not a secret.
fn secret_placeholder(rng: &mut StdRng) -> String {
    (*[
        "password: ${DB_PASSWORD}",
        "password = os.environ[\"DB_PASSWORD\"]",
        "DB_PASSWORD=changeme",
        "password: \"<your password here>\"",
        "api_key: YOUR_API_KEY",
        "\"password\": \"********\"",
        "secret = process.env.APP_SECRET",
        "password=%(db_password)s",
        "api_key = \"{{ api_key }}\"",
        "密碼：******",
        "token: REDACTED",
        "password: xxxxxxxx",
    ]
    .choose(rng)
    .unwrap())
    .to_string()
}

fn uuid(rng: &mut StdRng) -> String {
    let h = random_from(rng, b"0123456789abcdef", 32);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..]
    )
}

fn version(rng: &mut StdRng) -> String {
    let (a, b, c, d) = (
        rng.random_range(0..20u32),
        rng.random_range(0..30u32),
        rng.random_range(0..200u32),
        rng.random_range(0..9000u32),
    );
    match rng.random_range(0..3) {
        0 => format!("v{a}.{b}.{c}.{d}"),
        1 => format!("v{a}.{b}.{c}"),
        _ => format!("{a}.{b}.{c}-rc{}", rng.random_range(1..5u32)),
    }
}

// ---------------------------------------------------------------------------------------------
// Filler

const GIVEN: &[&str] = &[
    "Chan", "Wing", "Ka", "Man", "Kelvin", "Karen", "Winnie", "Jason", "Ivy", "Calvin", "Mandy",
    "Ricky", "Cherry", "Eric", "Fiona", "Alan", "Joyce", "Terence", "Bonnie", "Samuel",
];
const SURNAMES: &[&str] = &[
    "Chan", "Wong", "Lee", "Cheung", "Lau", "Ho", "Ng", "Leung", "Lam", "Tsang", "Yip", "Tam",
    "Kwok", "Poon", "Fung", "Yeung", "Choi", "Mak",
];
const NAMES: &[&str] = &[
    "Chan Tai Man",
    "Wong Siu Ming",
    "Karen Lee",
    "Jason Cheung",
    "Ivy Lau",
    "Mr Ho",
    "Ms Ng",
    "Calvin Leung",
    "Winnie Lam",
    "Dr Tsang",
    "Amy Yip",
    "Peter Kwok",
];
const ZH_NAMES: &[&str] = &[
    "陳大文",
    "黃小明",
    "李嘉欣",
    "張志強",
    "劉美玲",
    "何家俊",
    "吳淑儀",
    "梁偉傑",
    "林慧敏",
    "曾子健",
    "葉詠詩",
    "譚家明",
    "郭靜",
    "潘偉業",
];
const COMPANIES: &[&str] = &[
    "Kowloon Trading Ltd",
    "Harbour Logistics",
    "Victoria Peak Consulting",
    "Golden Dragon Catering",
    "Tsuen Wan Engineering",
    "港島物業管理有限公司",
    "九龍貿易有限公司",
    "新界物流",
    "維港顧問",
];
const DISTRICTS: &[&str] = &[
    "Mong Kok",
    "Sha Tin",
    "Tsuen Wan",
    "Causeway Bay",
    "Kwun Tong",
    "Tuen Mun",
    "旺角",
    "沙田",
    "荃灣",
    "銅鑼灣",
    "觀塘",
    "屯門",
    "將軍澳",
    "元朗",
];

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn b64url_matches_known_header() {
        assert_eq!(
            b64url(br#"{"alg":"HS256","typ":"JWT"}"#),
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
        );
    }

    #[test]
    fn grouping() {
        assert_eq!(
            group("4111111111111111", &[4, 4, 4, 4, 4], " "),
            "4111 1111 1111 1111"
        );
        assert_eq!(
            group("378282246310005", &[4, 6, 5], "-"),
            "3782-822463-10005"
        );
        assert_eq!(thousands(12345678), "12,345,678");
    }

    #[test]
    fn full_width_forms() {
        assert_eq!(full_width("A123456(3)"), "Ａ１２３４５６（３）");
    }

    #[test]
    fn every_slot_renders() {
        let mut rng = StdRng::seed_from_u64(1);
        for s in GOLD_KINDS.iter().chain(NEGATIVE_SLOTS).chain(FILLER_SLOTS) {
            assert!(is_known(s, None), "{s}");
            for _ in 0..50 {
                let v = render(s, None, &mut rng);
                assert!(!v.text.is_empty(), "{s}");
                assert_eq!(v.kind.is_some(), GOLD_KINDS.contains(s), "{s}");
            }
        }
    }
}
