//! End-to-end tests: the real `guardline` binary on temporary files, directories and stdin.

use serde_json::Value;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const HKID: &str = "A123456(3)";
const PHONE: &str = "+852 9123 4567";
const EMAIL: &str = "chan.taiman@example.com.hk";
const CARD: &str = "4111 1111 1111 1111";
const CN_ID: &str = "11010519491231002X";
const VALUES: [&str; 5] = [HKID, PHONE, EMAIL, CARD, CN_ID];

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    raw_stdout: Vec<u8>,
}

/// Runs `guardline` in `dir` with a private data directory, no key in the environment and no
/// colour preference inherited.
fn guardline(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_guardline"));
    cmd.args(args)
        .current_dir(dir)
        .env("GUARDLINE_DATA_DIR", dir.join(".guardline-data"))
        .env_remove("GUARDLINE_KEY")
        .env_remove("NO_COLOR")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the guardline binary runs");
    if let Some(input) = stdin {
        let mut w = child.stdin.take().unwrap();
        w.write_all(input).unwrap();
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "guardline panicked on {args:?}: {stderr}"
    );
    Run {
        code: status.code().expect("exited, not killed by a signal"),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr,
        raw_stdout: stdout,
    }
}

fn jsonl(s: &str) -> Vec<Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn sample_text() -> String {
    format!(
        "Customer record\nName: Chan Tai Man, HKID {HKID}\nTel {PHONE}; email {EMAIL}\n\
         Paid with {CARD}. Mainland ID {CN_ID}.\n"
    )
}

fn assert_no_values(s: &str) {
    for v in VALUES {
        assert!(!s.contains(v), "{v} survived in:\n{s}");
    }
}

#[test]
fn exit_codes_nothing_found_found_and_error() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("clean.txt"), "nothing personal here\n").unwrap();
    fs::write(d.path().join("pii.txt"), sample_text()).unwrap();

    let r = guardline(d.path(), &["scan", "clean.txt"], None);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{}", r.stderr);

    let r = guardline(d.path(), &["scan", "pii.txt"], None);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains("pii.txt:2:") && r.stdout.contains("hk_id"));

    let r = guardline(d.path(), &["scan", "missing.txt"], None);
    assert_eq!(r.code, 2);
    assert_eq!(r.stdout, "");
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.starts_with("guardline: error: missing.txt: "));
}

#[test]
fn bad_paths_among_many_are_reported_and_the_rest_scanned() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("a.txt"), format!("id {HKID}\n")).unwrap();
    fs::write(d.path().join("c.txt"), format!("mail {EMAIL}\n")).unwrap();
    let r = guardline(
        d.path(),
        &["scan", "-f", "jsonl", "a.txt", "nope1", "c.txt", "nope2"],
        None,
    );
    assert_eq!(r.code, 2);
    let paths: Vec<_> = jsonl(&r.stdout)
        .iter()
        .map(|v| v["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(paths, ["a.txt", "c.txt"]);
    let errors: Vec<_> = r.stderr.lines().collect();
    assert_eq!(errors.len(), 2, "{}", r.stderr);
    assert!(errors[0].starts_with("guardline: error: nope1:"));
    assert!(errors[1].starts_with("guardline: error: nope2:"));
}

#[test]
fn bad_options_are_one_line_errors() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("a.txt"), "x").unwrap();
    for args in [
        &["scan", "--min-score", "1.5", "a.txt"][..],
        &["scan", "--min-score", "abc", "a.txt"],
        &["scan", "--kinds", "[", "a.txt"],
        &["scan", "--kinds", "no_such_kind", "a.txt"],
        &["scan", "--redact=shred", "a.txt"],
        &["scan", "--threads", "0", "a.txt"],
        &["scan", "--vault", "v.json", "a.txt"],
    ] {
        let r = guardline(d.path(), args, None);
        assert_eq!(r.code, 2, "{args:?}");
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.starts_with("guardline: error: "),
            "{args:?}: {}",
            r.stderr
        );
    }
}

#[test]
fn jsonl_output_has_the_documented_fields() {
    let d = tempfile::tempdir().unwrap();
    let text = sample_text();
    fs::write(d.path().join("pii.txt"), &text).unwrap();
    let r = guardline(d.path(), &["scan", "--format", "jsonl", "pii.txt"], None);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let rows = jsonl(&r.stdout);
    let kinds: Vec<_> = rows.iter().map(|v| v["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "hk_id",
            "hk_phone",
            "email",
            "credit_card",
            "cn_resident_id"
        ]
    );
    for v in &rows {
        let (start, end) = (
            v["start"].as_u64().unwrap() as usize,
            v["end"].as_u64().unwrap() as usize,
        );
        let value = &text[start..end];
        assert!(VALUES.contains(&value), "offsets point at {value:?}");
        let line = 1 + text[..start].matches('\n').count() as u64;
        assert_eq!(v["line"], line);
        assert_eq!(v["path"], "pii.txt");
        assert_eq!(v["dimension"], "privacy");
        let score = v["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score));
        assert!(v["detector"].as_str().is_some_and(|d| !d.is_empty()));
        // Masked: same length in characters, first and last kept, stars between.
        let m = v["match"].as_str().unwrap();
        assert_ne!(m, value);
        assert_eq!(m.chars().count(), value.chars().count());
        assert_eq!(m.chars().next(), value.chars().next());
        assert!(m
            .chars()
            .skip(1)
            .take(m.chars().count() - 2)
            .all(|c| c == '*'));
        assert!(v.get("record").is_none() && v.get("field").is_none());
    }
    assert_no_values(&r.stdout);

    let r = guardline(
        d.path(),
        &["scan", "-f", "jsonl", "--show-matches", "pii.txt"],
        None,
    );
    let shown: Vec<_> = jsonl(&r.stdout)
        .iter()
        .map(|v| v["match"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(shown, [HKID, PHONE, EMAIL, CARD, CN_ID]);
}

#[test]
fn text_report_masks_and_colours_only_when_asked() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("pii.txt"), sample_text()).unwrap();
    let plain = guardline(d.path(), &["scan", "pii.txt"], None);
    assert_eq!(plain.code, 1);
    assert!(!plain.stdout.contains('\x1b'), "no colour on a pipe");
    assert!(plain.stdout.contains("A********)"));
    assert_no_values(&plain.stdout);
    let coloured = guardline(d.path(), &["scan", "--color", "always", "pii.txt"], None);
    assert!(coloured.stdout.contains("\x1b["));
    let never = guardline(d.path(), &["scan", "--color=never", "pii.txt"], None);
    assert_eq!(never.stdout, plain.stdout);
}

#[test]
fn sarif_is_valid_json_with_rules_and_regions() {
    let d = tempfile::tempdir().unwrap();
    let text = sample_text();
    fs::write(d.path().join("pii.txt"), &text).unwrap();
    let r = guardline(d.path(), &["scan", "--format", "sarif", "pii.txt"], None);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).expect("SARIF is one JSON document");
    assert_eq!(v["version"], "2.1.0");
    assert!(v["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &v["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "guardline");
    let rules = driver["rules"].as_array().unwrap();
    let hk_id = rules.iter().find(|r| r["id"] == "hk_id").unwrap();
    assert!(hk_id["shortDescription"]["text"]
        .as_str()
        .unwrap()
        .contains("Hong Kong Identity Card"));
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    for res in results {
        let rule = &rules[res["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], res["ruleId"]);
        assert!(["warning", "error", "note"].contains(&res["level"].as_str().unwrap()));
        assert!(res["message"]["text"].as_str().is_some());
        let loc = &res["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "pii.txt");
        let region = &loc["region"];
        let off = region["byteOffset"].as_u64().unwrap() as usize;
        let len = region["byteLength"].as_u64().unwrap() as usize;
        assert!(VALUES.contains(&&text[off..off + len]));
        assert_eq!(
            region["startLine"],
            1 + text[..off].matches('\n').count() as u64
        );
    }
    assert_no_values(&r.stdout);
}

#[test]
fn json_document_has_summary_and_findings() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("a.txt"), sample_text()).unwrap();
    fs::write(d.path().join("b.txt"), format!("{HKID} and {HKID}\n")).unwrap();
    let r = guardline(d.path(), &["scan", "-f", "json", "."], None);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["findings"].as_array().unwrap().len(), 7);
    let s = &v["summary"];
    assert_eq!(s["files_scanned"], 2);
    assert_eq!(s["findings"], 7);
    assert_eq!(s["findings_by_kind"]["hk_id"], 3);
    assert_eq!(
        s["bytes"],
        (sample_text().len() + format!("{HKID} and {HKID}\n").len()) as u64
    );
    assert!(s["elapsed_s"].as_f64().is_some());
}

#[test]
fn stdin_is_scanned_with_no_path_and_with_dash() {
    let d = tempfile::tempdir().unwrap();
    let input = sample_text();
    for args in [&["scan", "-f", "jsonl"][..], &["scan", "-f", "jsonl", "-"]] {
        let r = guardline(d.path(), args, Some(input.as_bytes()));
        assert_eq!(r.code, 1, "{}", r.stderr);
        let rows = jsonl(&r.stdout);
        assert_eq!(rows.len(), 5);
        assert!(rows.iter().all(|v| v["path"] == "<stdin>"));
    }
    let r = guardline(d.path(), &["scan"], Some(b"just words\n"));
    assert_eq!(r.code, 0);
    let r = guardline(
        d.path(),
        &["scan", "--input", "jsonl", "-f", "jsonl"],
        Some(format!("{{\"text\":\"{HKID}\"}}\n").as_bytes()),
    );
    assert_eq!(jsonl(&r.stdout)[0]["field"], "/text");
}

#[test]
fn jsonl_input_reports_record_and_field_and_survives_bad_lines() {
    let d = tempfile::tempdir().unwrap();
    let input = format!(
        "{{\"messages\":[{{\"role\":\"user\",\"content\":\"hello\"}},{{\"role\":\"user\",\"content\":\"my id is {HKID}\"}}]}}\n\
         {{this is not json {EMAIL}\n\
         {{\"a/b\":{{\"c~d\":\"tel {PHONE}\"}}}}\n"
    );
    fs::write(d.path().join("chats.jsonl"), &input).unwrap();
    let r = guardline(d.path(), &["scan", "-f", "jsonl", "chats.jsonl"], None);
    assert_eq!(r.code, 2, "a bad line makes the exit status 2");
    let rows = jsonl(&r.stdout);
    assert_eq!(rows.len(), 3, "{}", r.stdout);
    assert_eq!(rows[0]["record"], 0);
    assert_eq!(rows[0]["line"], 1);
    assert_eq!(rows[0]["field"], "/messages/1/content");
    assert_eq!(rows[0]["start"], "my id is ".len());
    assert_eq!(rows[0]["end"], "my id is ".len() + HKID.len());
    assert_eq!(rows[1]["record"], 1);
    assert!(rows[1].get("field").is_none(), "bad line scanned as text");
    assert_eq!(rows[2]["record"], 2);
    assert_eq!(rows[2]["field"], "/a~1b/c~0d");
    assert_eq!(rows[2]["kind"], "hk_phone");
    let err: Vec<_> = r.stderr.lines().collect();
    assert_eq!(err.len(), 1, "{}", r.stderr);
    assert!(err[0].starts_with("guardline: error: chats.jsonl:2: invalid JSON"));
}

#[test]
fn csv_input_reports_record_and_column() {
    let d = tempfile::tempdir().unwrap();
    let input = format!("name,contact\nChan,{EMAIL}\nWong,\"{PHONE}\"\n");
    fs::write(d.path().join("people.csv"), &input).unwrap();
    let r = guardline(d.path(), &["scan", "-f", "jsonl", "people.csv"], None);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let rows = jsonl(&r.stdout);
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (&rows[0]["record"], &rows[0]["column"]),
        (&Value::from(0), &Value::from("contact"))
    );
    assert_eq!(
        (&rows[1]["record"], &rows[1]["line"]),
        (&Value::from(1), &Value::from(3))
    );
    let r = guardline(
        d.path(),
        &["scan", "-f", "jsonl", "--no-header", "people.csv"],
        None,
    );
    let rows = jsonl(&r.stdout);
    assert_eq!(
        (&rows[0]["record"], &rows[0]["column"]),
        (&Value::from(1), &Value::from(1))
    );
}

#[test]
fn redact_text_to_stdout() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("pii.txt"), sample_text()).unwrap();
    let r = guardline(d.path(), &["scan", "--redact", "pii.txt"], None);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_no_values(&r.stdout);
    assert!(r
        .stdout
        .starts_with("Customer record\nName: Chan Tai Man, HKID <HK_ID>\n"));
    assert_eq!(r.stdout.lines().count(), sample_text().lines().count());

    let r = guardline(
        d.path(),
        &["scan", "--redact=mask"],
        Some(sample_text().as_bytes()),
    );
    assert_no_values(&r.stdout);
    assert!(r.stdout.contains("HKID **********\n"));
}

#[test]
fn redact_jsonl_stays_valid_jsonl() {
    let d = tempfile::tempdir().unwrap();
    let input = format!(
        "{{\"id\":1,\"messages\":[{{\"role\":\"user\",\"content\":\"HKID {HKID}, tel {PHONE}\"}}],\"n\":2.5}}\n\
         {{\"id\":2,\"note\":\"nothing\"}}\n\
         {{\"id\":3,\"card\":\"{CARD}\",\"nested\":{{\"deep\":[\"{EMAIL}\",\"{CN_ID}\"]}}}}\n"
    );
    fs::write(d.path().join("data.jsonl"), &input).unwrap();
    let r = guardline(d.path(), &["scan", "--redact", "data.jsonl"], None);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_no_values(&r.stdout);
    let rows = jsonl(&r.stdout);
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0]["messages"][0]["content"],
        "HKID <HK_ID>, tel <HK_PHONE>"
    );
    assert_eq!(rows[0]["n"], 2.5);
    assert_eq!(
        r.stdout.lines().nth(1).unwrap(),
        "{\"id\":2,\"note\":\"nothing\"}"
    );
    assert_eq!(rows[2]["nested"]["deep"][0], "<EMAIL>");
    // Keys keep their order.
    assert!(r
        .stdout
        .lines()
        .nth(2)
        .unwrap()
        .starts_with("{\"id\":3,\"card\":"));
}

#[test]
fn redact_csv_stays_valid_csv() {
    let d = tempfile::tempdir().unwrap();
    let input = format!(
        "name,contact,note\nChan,{EMAIL},\"HKID {HKID}, thanks\"\nWong,\"{PHONE}\",\"multi\nline {CARD}\"\n"
    );
    fs::write(d.path().join("people.csv"), &input).unwrap();
    let r = guardline(d.path(), &["scan", "--redact=label", "people.csv"], None);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_no_values(&r.stdout);
    let mut rdr = csv::Reader::from_reader(r.stdout.as_bytes());
    assert_eq!(rdr.headers().unwrap(), vec!["name", "contact", "note"]);
    let rows: Vec<Vec<String>> = rdr
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec!["Chan", "<EMAIL>", "HKID <HK_ID>, thanks"],
            vec!["Wong", "<HK_PHONE>", "multi\nline <CREDIT_CARD>"],
        ]
    );
}

#[test]
fn redact_directory_into_output_mirrors_paths() {
    let d = tempfile::tempdir().unwrap();
    let corpus = d.path().join("corpus");
    fs::create_dir_all(corpus.join("sub")).unwrap();
    fs::write(corpus.join("a.txt"), sample_text()).unwrap();
    fs::write(
        corpus.join("sub/b.jsonl"),
        format!("{{\"t\":\"{EMAIL}\"}}\n"),
    )
    .unwrap();
    fs::write(corpus.join("sub/c.csv"), format!("x\n{HKID}\n")).unwrap();
    let r = guardline(d.path(), &["scan", "--redact", "corpus"], None);
    assert_eq!(r.code, 2, "several inputs need --output");
    assert_eq!(r.stderr.lines().count(), 1);

    let r = guardline(
        d.path(),
        &[
            "scan", "-f", "jsonl", "--redact", "--output", "clean", "corpus",
        ],
        None,
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(jsonl(&r.stdout).len(), 7, "the report still goes to stdout");
    let a = fs::read_to_string(d.path().join("clean/a.txt")).unwrap();
    let b = fs::read_to_string(d.path().join("clean/sub/b.jsonl")).unwrap();
    let c = fs::read_to_string(d.path().join("clean/sub/c.csv")).unwrap();
    for s in [&a, &b, &c] {
        assert_no_values(s);
    }
    assert_eq!(b, "{\"t\":\"<EMAIL>\"}\n");
    assert_eq!(c, "x\n<HK_ID>\n");
    // The originals are untouched.
    assert_eq!(
        fs::read_to_string(corpus.join("a.txt")).unwrap(),
        sample_text()
    );
}

#[test]
fn pseudonyms_are_stable_and_the_vault_reverses_them() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("pii.txt"), sample_text()).unwrap();
    let args = [
        "scan",
        "--redact=pseudonym",
        "--vault",
        "vault.json",
        "pii.txt",
    ];
    let first = guardline(d.path(), &args, None);
    assert_eq!(first.code, 1, "{}", first.stderr);
    assert_no_values(&first.stdout);
    assert!(first.stderr.contains("vault.json") && first.stderr.contains("personal data"));
    let vault: Value =
        serde_json::from_str(&fs::read_to_string(d.path().join("vault.json")).unwrap()).unwrap();
    let vault = vault.as_object().unwrap();
    assert_eq!(vault.len(), 5);
    let mut restored = first.stdout.clone();
    for (token, value) in vault {
        assert!(first.stdout.contains(token.as_str()));
        restored = restored.replace(token.as_str(), value.as_str().unwrap());
    }
    assert_eq!(restored, sample_text());
    // The generated key lives in the data directory, private, and gives the same tokens again.
    let key = d.path().join(".guardline-data/scan.key");
    assert_eq!(fs::read(&key).unwrap().len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let vmode = fs::metadata(d.path().join("vault.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(vmode & 0o777, 0o600);
    }
    let second = guardline(d.path(), &args, None);
    assert_eq!(second.stdout, first.stdout);
    // Another key, other tokens.
    fs::write(d.path().join("k"), "another key").unwrap();
    let other = guardline(
        d.path(),
        &["scan", "--redact=pseudonym", "--key-file", "k", "pii.txt"],
        None,
    );
    assert_ne!(other.stdout, first.stdout);
    assert_no_values(&other.stdout);
}

#[test]
fn gitignore_and_hidden_files_are_honoured() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("repo");
    fs::create_dir_all(root.join("logs")).unwrap();
    fs::write(root.join(".gitignore"), "logs/\n*.bak\n").unwrap();
    fs::write(root.join("kept.txt"), format!("{HKID}\n")).unwrap();
    fs::write(root.join("old.bak"), format!("{HKID}\n")).unwrap();
    fs::write(root.join("logs/app.log"), format!("{HKID}\n")).unwrap();
    fs::write(root.join(".env"), format!("{HKID}\n")).unwrap();
    let paths = |r: &Run| -> Vec<String> {
        jsonl(&r.stdout)
            .iter()
            .map(|v| v["path"].as_str().unwrap().to_string())
            .collect()
    };
    let r = guardline(d.path(), &["scan", "-f", "jsonl", "repo"], None);
    assert_eq!(paths(&r), ["repo/kept.txt"]);
    let r = guardline(
        d.path(),
        &["scan", "-f", "jsonl", "--hidden", "--no-ignore", "repo"],
        None,
    );
    assert_eq!(
        paths(&r),
        [
            "repo/.env",
            "repo/kept.txt",
            "repo/logs/app.log",
            "repo/old.bak"
        ]
    );
    // Named explicitly, an ignored file is scanned.
    let r = guardline(d.path(), &["scan", "-f", "jsonl", "repo/old.bak"], None);
    assert_eq!(paths(&r), ["repo/old.bak"]);
}

#[test]
fn output_order_is_the_same_whatever_the_thread_count() {
    let d = tempfile::tempdir().unwrap();
    for i in 0..30 {
        let sub = d.path().join(format!("dir{}", i % 4));
        fs::create_dir_all(&sub).unwrap();
        // Uneven sizes so that threads finish out of order.
        let filler = "lorem ipsum ".repeat((i * 3001) % 20_000);
        fs::write(
            sub.join(format!("f{i:02}.txt")),
            format!("{filler}{HKID}\n{filler}{EMAIL}\n"),
        )
        .unwrap();
    }
    let one = guardline(
        d.path(),
        &["scan", "-f", "jsonl", "--threads", "1", "."],
        None,
    );
    assert_eq!(one.code, 1);
    assert_eq!(jsonl(&one.stdout).len(), 60);
    let mut sorted: Vec<String> = jsonl(&one.stdout)
        .iter()
        .map(|v| v["path"].as_str().unwrap().to_string())
        .collect();
    let in_order = sorted.clone();
    sorted.sort();
    assert_eq!(in_order, sorted, "output follows the sorted walk");
    for threads in ["2", "4", "8"] {
        let many = guardline(d.path(), &["scan", "-f", "jsonl", "-j", threads, "."], None);
        assert_eq!(many.stdout, one.stdout, "{threads} threads");
    }
}

#[test]
fn invalid_utf8_and_binary_inputs_do_not_crash() {
    let d = tempfile::tempdir().unwrap();
    let mut bytes = b"\xff\xfe\xc3(bad) ".to_vec();
    bytes.extend_from_slice(HKID.as_bytes());
    bytes.extend_from_slice(b" \xed\xa0\x80 \xf0\x9f\n");
    fs::write(d.path().join("bad.txt"), &bytes).unwrap();
    fs::write(d.path().join("bad.jsonl"), &bytes).unwrap();
    fs::write(d.path().join("bad.csv"), &bytes).unwrap();
    let r = guardline(d.path(), &["scan", "-f", "jsonl", "bad.txt"], None);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(jsonl(&r.stdout)[0]["kind"], "hk_id");
    let r = guardline(d.path(), &["scan", "--redact", "bad.txt"], None);
    assert_eq!(r.code, 1);
    assert!(r
        .raw_stdout
        .starts_with(b"\xff\xfe\xc3(bad) <HK_ID> \xed\xa0\x80"));
    let r = guardline(d.path(), &["scan", "-f", "jsonl", "bad.jsonl"], None);
    assert_eq!(r.code, 2, "not JSON: a bad record");
    // The only row is the header unless --no-header.
    let r = guardline(d.path(), &["scan", "-f", "jsonl", "bad.csv"], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = guardline(
        d.path(),
        &["scan", "-f", "jsonl", "--no-header", "bad.csv"],
        None,
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let r = guardline(
        d.path(),
        &["scan", "--redact", "--no-header", "bad.csv"],
        None,
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!r
        .raw_stdout
        .windows(HKID.len())
        .any(|w| w == HKID.as_bytes()));

    // A NUL byte early on: skipped, unless --binary.
    let mut bin = vec![0u8, 1, 2, 3];
    bin.extend_from_slice(HKID.as_bytes());
    fs::write(d.path().join("blob.bin"), &bin).unwrap();
    let r = guardline(d.path(), &["scan", "blob.bin"], None);
    assert_eq!(r.code, 0);
    assert!(r.stderr.contains("binary"));
    let r = guardline(d.path(), &["scan", "--binary", "blob.bin"], None);
    assert_eq!(r.code, 1);
}

#[test]
fn kinds_filters_and_list_kinds() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("pii.txt"), sample_text()).unwrap();
    let kinds = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["scan", "-f", "jsonl"];
        a.extend_from_slice(args);
        a.push("pii.txt");
        jsonl(&guardline(d.path(), &a, None).stdout)
            .iter()
            .map(|v| v["kind"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(kinds(&["--kinds", "hk_*"]), ["hk_id", "hk_phone"]);
    assert_eq!(
        kinds(&["-k", "email,credit_card"]),
        ["email", "credit_card"]
    );
    assert_eq!(
        kinds(&["--exclude-kinds", "hk_*,cn_*"]),
        ["email", "credit_card"]
    );
    let r = guardline(d.path(), &["scan", "--kinds", "injection.*"], Some(b"x"));
    assert_eq!(r.code, 0);

    let r = guardline(d.path(), &["scan", "--list-kinds"], None);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("hk_id") && r.stdout.contains("secret.github_token"));
    let r = guardline(
        d.path(),
        &["scan", "--list-kinds", "-f", "json", "-k", "secret.*"],
        None,
    );
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let list = v.as_array().unwrap();
    assert!(!list.is_empty());
    assert!(list
        .iter()
        .all(|k| k["kind"].as_str().unwrap().starts_with("secret.")));
}

#[test]
fn help_names_the_guideline() {
    let d = tempfile::tempdir().unwrap();
    let r = guardline(d.path(), &["--help"], None);
    assert_eq!(r.code, 0);
    assert!(r
        .stdout
        .contains("Generative AI Technical and Application Guideline"));
    assert!(r.stdout.contains("scan"));
    let r = guardline(d.path(), &["scan", "--help"], None);
    assert_eq!(r.code, 0);
    for flag in [
        "--redact",
        "--format",
        "--kinds",
        "--threads",
        "--output",
        "--vault",
    ] {
        assert!(r.stdout.contains(flag), "{flag}");
    }
}
