//! Per-recogniser positives and hard negatives in English, Traditional Chinese, Cantonese and
//! full-width forms, at the default score threshold.

use guardline_detect::Engine;
use std::sync::OnceLock;

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(Engine::with_defaults)
}

/// `text` must yield a finding of `kind` covering exactly `value`.
fn found(text: &str, kind: &str, value: &str) {
    let fs = engine().scan(text.as_bytes());
    let hit = fs
        .iter()
        .any(|f| f.kind == kind && &text[f.start..f.end] == value);
    assert!(
        hit,
        "expected {kind} `{value}` in {text:?}; got {:?}",
        fs.iter()
            .map(|f| (f.kind.as_str(), &text[f.start..f.end], f.score))
            .collect::<Vec<_>>()
    );
}

/// `text` must yield no finding of `kind`.
fn absent(text: &str, kind: &str) {
    let fs = engine().scan(text.as_bytes());
    assert!(
        fs.iter().all(|f| f.kind != kind),
        "unexpected {kind} in {text:?}: {:?}",
        fs.iter()
            .map(|f| (f.kind.as_str(), &text[f.start..f.end], f.score))
            .collect::<Vec<_>>()
    );
}

#[test]
fn hk_id() {
    found("My HKID is A123456(3).", "hk_id", "A123456(3)");
    found("身份證號碼：E364912(5)", "hk_id", "E364912(5)");
    found("佢嘅身份證係AB987654(3)嚟㗎", "hk_id", "AB987654(3)");
    found("ID: AB123456 (9)", "hk_id", "AB123456 (9)");
    found("HKID D2887542 on file", "hk_id", "D2887542");
    found(
        "證件號碼 Ａ１２３４５６（３）",
        "hk_id",
        "Ａ１２３４５６（３）",
    );
    found("P131609[9]", "hk_id", "P131609[9]");
    absent("My HKID is A123456(4).", "hk_id");
    absent("model XA123456(3)", "hk_id");
    absent("part no. A1234567 in stock", "hk_id");
}

#[test]
fn hk_phone() {
    found("Call +852 9123 4567 now", "hk_phone", "+852 9123 4567");
    found("Tel: (852) 2345-6789", "hk_phone", "(852) 2345-6789");
    found("WhatsApp me: 6123 4567", "hk_phone", "6123 4567");
    found("請致電 2345 6789 查詢", "hk_phone", "2345 6789");
    found("有咩事打俾我 91234567 啦", "hk_phone", "91234567");
    found("手提：５１２３　４５６７", "hk_phone", "５１２３　４５６７");
    found("00852 9876 5432", "hk_phone", "00852 9876 5432");
    absent("The total was 91234567 units", "hk_phone");
    absent("訂單編號 91234567", "hk_phone");
    absent("Order no. 2345 6789 shipped", "hk_phone");
    absent("+86 138 0013 8000", "hk_phone");
}

#[test]
fn hk_br_and_bank() {
    found("BR No. 12345678", "hk_br_number", "12345678");
    found("商業登記號碼：31234567-000", "hk_br_number", "31234567-000");
    found("A/C 004-123-456789", "hk_bank_account", "004-123-456789");
    found(
        "請入數到滙豐戶口 123-456789-001",
        "hk_bank_account",
        "123-456789-001",
    );
    absent("tracking 1234567890123", "hk_bank_account");
    absent("It costs 12345678 dollars", "hk_br_number");
}

#[test]
fn mainland_and_macao_ids() {
    found(
        "身份证号码 11010519491231002X",
        "cn_resident_id",
        "11010519491231002X",
    );
    found(
        "ID 11010519491231002x",
        "cn_resident_id",
        "11010519491231002x",
    );
    absent("身份证号码 110105194912310021", "cn_resident_id");
    absent("身份证号码 11010519491331002X", "cn_resident_id");
    found("澳門身份證 1234567(8)", "mo_id", "1234567(8)");
    absent("invoice 2234567(8)", "mo_id");
}

#[test]
fn passports() {
    found("HKSAR passport H12345678", "hk_passport", "H12345678");
    found("護照號碼 KJ1234567", "hk_passport", "KJ1234567");
    found("Passport number: E12345678", "passport", "E12345678");
    absent("Model E12345678 printer", "passport");
}

#[test]
fn email_card_iban_ip() {
    found(
        "電郵 chan.taiman@example.com.hk 聯絡",
        "email",
        "chan.taiman@example.com.hk",
    );
    found("mail to a_b+tag@mail.co", "email", "a_b+tag@mail.co");
    absent("logo@2x.png", "email");
    found(
        "Visa 4111 1111 1111 1111 exp 12/27",
        "credit_card",
        "4111 1111 1111 1111",
    );
    found("銀聯卡 6250941006528599", "credit_card", "6250941006528599");
    found("Amex 3782-822463-10005", "credit_card", "3782-822463-10005");
    absent("ref 4111 1111 1111 1112", "credit_card");
    found(
        "IBAN GB82 WEST 1234 5698 7654 32",
        "iban",
        "GB82 WEST 1234 5698 7654 32",
    );
    found("DE89370400440532013000", "iban", "DE89370400440532013000");
    absent("GB82WEST12345698765433", "iban");
    found("login from 203.0.113.7 failed", "ip_address", "203.0.113.7");
    found(
        "server fe80::1ff:fe23:4567:890a",
        "ip_address",
        "fe80::1ff:fe23:4567:890a",
    );
    absent("at 12:30:45 today", "ip_address");
    absent("version 1.2.3.4 released", "ip_address");
    absent("999.1.1.1", "ip_address");
}

#[test]
fn date_of_birth() {
    found("Date of birth: 02/01/1990", "date_of_birth", "02/01/1990");
    found("出生日期：1985年3月4日", "date_of_birth", "1985年3月4日");
    found("佢喺1990-05-06出世", "date_of_birth", "1990-05-06");
    found(
        "born on 3 March 1971 in Kowloon",
        "date_of_birth",
        "3 March 1971",
    );
    absent("Meeting on 2024-05-06", "date_of_birth");
    absent("DOB 1990-02-30", "date_of_birth");
}

#[test]
fn secrets() {
    found(
        "aws_access_key_id = AKIAZ7VRSQ4TJ3MKQ2WP",
        "secret.aws_access_key",
        "AKIAZ7VRSQ4TJ3MKQ2WP",
    );
    found(
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8vL2tR9k",
        "secret.aws_secret_key",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8vL2tR9k",
    );
    found(
        "token ghp_R8x2kLm9Qw3Zt7Yb1Nc5Vd6Hf4Js0Ga2PeUq",
        "secret.github_token",
        "ghp_R8x2kLm9Qw3Zt7Yb1Nc5Vd6Hf4Js0Ga2PeUq",
    );
    let oai = "sk-proj-Ab3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5oQ7sU9wY1aC3eG5iK7mO9qS1uW3";
    found(&format!("OPENAI_API_KEY={oai}"), "secret.openai_key", oai);
    found(
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "secret.slack_token",
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    );
    found(
        "key=AIzaSyD3k9Xq2LmN8pQr5StUv7WxYz1Ab4Cd6Ef",
        "secret.google_api_key",
        "AIzaSyD3k9Xq2LmN8pQr5StUv7WxYz1Ab4Cd6Ef",
    );
    found(
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc9Q",
        "secret.stripe_key",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc9Q",
    );
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    found(&format!("Authorization: Bearer {jwt}"), "secret.jwt", jwt);
    let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1c7+9z5Pad7OejecsQ0bu3aozN3tihPmljnnudb9G3HecDjH\n-----END RSA PRIVATE KEY-----";
    found(&format!("key:\n{pem}\n"), "secret.private_key", pem);
    found(
        "db_password: \"Xk9#mQ2vL8pZ\"",
        "secret.generic",
        "Xk9#mQ2vL8pZ",
    );
    found("密碼：Qw8!zP3#mK", "secret.generic", "Qw8!zP3#mK");
    absent("password: ${DB_PASSWORD}", "secret.generic");
    absent("password = \"changeme\"", "secret.generic");
    absent("Please enter your password: ", "secret.generic");
    absent("AKIAIOSFODNN7EXAMPLE", "secret.aws_access_key");
}

#[test]
fn offsets_map_back_through_zero_width_and_full_width() {
    let text = "電話：\u{200B}９１２３ ４５６７";
    found(text, "hk_phone", "９１２３ ４５６７");
}

#[test]
fn invalid_utf8_is_scanned() {
    let mut bytes = b"\xff\xfe Tel: +852 9123 4567 \xc3".to_vec();
    bytes.extend_from_slice("身份證 A123456(3)".as_bytes());
    let kinds: Vec<String> = engine()
        .scan(&bytes)
        .iter()
        .map(|f| f.kind.to_string())
        .collect();
    assert_eq!(kinds, ["hk_phone", "hk_id"]);
}

#[test]
fn kind_globs_select_and_braces_work() {
    let e = Engine::new(guardline_detect::EngineConfig {
        kinds: vec!["{hk_id,email},iban".into()],
        ..Default::default()
    })
    .unwrap();
    let text = "A123456(3) a@b.com Tel 9123 4567 GB82WEST12345698765432";
    let kinds: Vec<String> = e
        .scan(text.as_bytes())
        .iter()
        .map(|f| f.kind.to_string())
        .collect();
    assert_eq!(kinds, ["hk_id", "email", "iban"]);
    let bad = guardline_detect::EngineConfig {
        min_score: 1.5,
        ..Default::default()
    };
    assert!(Engine::new(bad).is_err());
    let none = guardline_detect::EngineConfig {
        kinds: vec!["nosuch_*".into()],
        ..Default::default()
    };
    assert!(Engine::new(none).is_err());
}

#[test]
fn template_slots_and_code_calls_are_not_secrets() {
    absent("password: {password_value}", "secret.generic");
    absent("let api_key = Value::String(raw)", "secret.generic");
    absent("secret = os.getenv(\"SECRET\")", "secret.generic");
    found("password: Qw8!zP3#(mK", "secret.generic", "Qw8!zP3#(mK");
}
