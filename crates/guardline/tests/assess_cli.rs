//! End-to-end: `guardline assess` and `guardline init system` on the fixture manifests, with golden
//! Markdown and JSON (regenerate with `UPDATE_GOLDEN=1 cargo test -p guardline --test assess_cli`).

mod common;
use common::{golden, guardline, guardline_in};
use serde_json::Value;
use std::path::Path;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/systems")
        .join(name)
        .display()
        .to_string()
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

#[test]
fn fixtures_classify_as_the_guideline_and_its_neighbours_say() {
    let dir = tempfile::tempdir().unwrap();
    // (fixture, tier, Table 1 tier, oversight, exit code, controls that must apply)
    type Row<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Option<&'a str>,
        i32,
        &'a [&'a str],
    );
    let table: &[Row] = &[
        (
            "healthcare-diagnostics.toml",
            "high",
            "high",
            Some("human_in_the_loop"),
            1,
            &["TIER-H1", "TIER-H2", "SCT-HLT", "PDP-01"],
        ),
        (
            "bank-chatbot.toml",
            "limited",
            "limited",
            Some("human_in_command"),
            0,
            &["SCT-FIN", "PDP-01", "PDP-07", "TIER-L1"],
        ),
        (
            "recruitment.toml",
            "high",
            "limited",
            Some("human_in_the_loop"),
            1,
            &["TIER-H1", "REL-07", "USR-01"],
        ),
        (
            "tutor-minors.toml",
            "limited",
            "limited",
            Some("human_in_command"),
            0,
            &["CRM-04", "SCT-EDU"],
        ),
        (
            "subliminal.toml",
            "unacceptable",
            "unacceptable",
            None,
            1,
            &["TIER-U"],
        ),
        (
            "code-assistant.toml",
            "low",
            "low",
            Some("human_out_of_the_loop"),
            0,
            &["TIER-LO", "USR-01"],
        ),
    ];
    for (f, tier, gtier, oversight, code, controls) in table {
        let r = guardline(
            dir.path(),
            &["assess", &fixture(f), "--format", "json", "--no-record"],
        );
        assert_eq!(r.code, *code, "{f}: {}", r.stderr);
        let j = json(&r.stdout);
        assert_eq!(j["tier"], *tier, "{f}");
        assert_eq!(j["guideline_tier"], *gtier, "{f}");
        assert_eq!(j["oversight"].as_str(), *oversight, "{f}");
        let ids: Vec<&str> = j["obligations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["control"].as_str().unwrap())
            .collect();
        for c in *controls {
            assert!(ids.contains(c), "{f}: {c} missing from {ids:?}");
        }
        for r in j["reasons"].as_array().unwrap() {
            assert!(
                r["rule"].is_string() && r["clause"].is_string() && r["text_zh"].is_string(),
                "{f}"
            );
        }
        for o in j["obligations"].as_array().unwrap() {
            assert!(
                o["title"].is_string()
                    && o["title_zh"].is_string()
                    && o["basis"].is_string()
                    && o["evidence"].is_array()
            );
        }
    }
    // --no-record left no ledger behind.
    assert!(!dir.path().join("ledger.sqlite").exists());
}

#[test]
fn golden_markdown_and_json() {
    let dir = tempfile::tempdir().unwrap();
    for (f, stem) in [
        ("bank-chatbot.toml", "assess-bank-chatbot"),
        (
            "healthcare-diagnostics.toml",
            "assess-healthcare-diagnostics",
        ),
        ("subliminal.toml", "assess-subliminal"),
    ] {
        // Run from the fixture directory so the manifest path in outputs is stable.
        let cwd = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/systems");
        let md = guardline_in(
            dir.path(),
            Some(&cwd),
            &["assess", f, "--format", "md", "--no-record"],
        );
        assert!(md.code == 0 || md.code == 1, "{}", md.stderr);
        golden(&format!("{stem}.md"), &md.stdout);
        let js = guardline_in(
            dir.path(),
            Some(&cwd),
            &["assess", f, "--format", "json", "--no-record"],
        );
        golden(&format!("{stem}.json"), &js.stdout);
    }
}

#[test]
fn text_output_gives_tier_reasons_and_gap() {
    let dir = tempfile::tempdir().unwrap();
    let r = guardline(
        dir.path(),
        &[
            "assess",
            &fixture("healthcare-diagnostics.toml"),
            "--no-record",
        ],
    );
    assert_eq!(r.code, 1, "an oversight gap exits 1: {}", r.stderr);
    assert!(
        r.stdout.contains("tier        high risk / 高風險"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("GAP"));
    assert!(r.stdout.contains("PCPD-HIGH-RISK"));
    assert!(r
        .stdout
        .contains("Guideline Table 1: healthcare diagnostics (high risk)"));
}

#[test]
fn each_assessment_is_recorded_without_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let r = guardline(
        dir.path(),
        &["assess", &fixture("bank-chatbot.toml"), "--format", "json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("recorded assessment of Bank enquiries bot as ledger record 1"),
        "{}",
        r.stderr
    );
    let sha = json(&r.stdout)["manifest_sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let e = guardline(dir.path(), &["audit", "export", "--kind", "assessment"]);
    assert_eq!(e.code, 0, "{}", e.stderr);
    let rec = json(e.stdout.lines().next().unwrap());
    let body = if rec["body"].is_string() {
        json(rec["body"].as_str().unwrap())
    } else {
        rec["body"].clone()
    };
    assert_eq!(body["system"], "Bank enquiries bot");
    assert_eq!(body["manifest_sha256"], sha);
    assert_eq!(body["tier"], "limited");
    assert!(body["obligations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "SCT-FIN"));
    assert_eq!(guardline(dir.path(), &["audit", "verify"]).code, 0);
}

#[test]
fn bad_manifests_name_the_key_the_line_and_the_nearest_value() {
    let dir = tempfile::tempdir().unwrap();
    let r = guardline(
        dir.path(),
        &["assess", &fixture("misspelled-use-case.toml")],
    );
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("misspelled-use-case.toml:5:14: system.use_cases: unknown use case `spam_filer`; did you mean `spam_filter`?"), "{}", r.stderr);
    // Nothing was recorded for a manifest that did not parse.
    assert!(!dir.path().join("ledger.sqlite").exists());

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[system]\nname = \"x\"\nroles = [\"provider\"]\nsector = \"banking\"\nuse_cases = [\"spam_filter\"]\n[impact]\nautonomy = \"human_in_command\"\n").unwrap();
    let r = guardline(dir.path(), &["assess", bad.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains(":4:10: system.sector: unknown sector `banking`"),
        "{}",
        r.stderr
    );
    std::fs::write(&bad, "[system]\nname = \"x\"\nroles = [\"provider\"]\nsector = \"general\"\nuse_cases = [\"spam_filter\"]\n[impact]\nautonomy = \"human_in_command\"\naffected = [\"customer\"]\n").unwrap();
    let r = guardline(dir.path(), &["assess", bad.to_str().unwrap()]);
    assert!(r.stderr.contains(":8:13: impact.affected: unknown group of affected people `customer`; did you mean `customers`?"), "{}", r.stderr);
    std::fs::write(&bad, "this is not toml\n").unwrap();
    let r = guardline(dir.path(), &["assess", bad.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not valid TOML"), "{}", r.stderr);
    let r = guardline(dir.path(), &["assess", "/nonexistent/system.toml"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cannot read"));
}

#[test]
fn init_system_writes_a_template_that_assesses_and_init_alone_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let r = guardline_in(dir.path(), Some(dir.path()), &["init", "system"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(dir.path().join("system.toml").exists());
    let again = guardline_in(dir.path(), Some(dir.path()), &["init", "system"]);
    assert_eq!(again.code, 2, "no overwrite without --force");
    let r = guardline_in(
        dir.path(),
        Some(dir.path()),
        &["assess", "system.toml", "--no-record"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("SCT-FIN"));
    // Every key of the template is documented: each run of keys follows a comment.
    let template = std::fs::read_to_string(dir.path().join("system.toml")).unwrap();
    let lines: Vec<&str> = template.lines().collect();
    let is_key = |l: &str| !l.starts_with('#') && !l.starts_with('[') && l.contains(" = ");
    for (i, l) in lines.iter().enumerate() {
        if is_key(l) {
            let before = lines[..i].iter().rev().find(|p| !is_key(p)).unwrap();
            assert!(before.starts_with('#'), "undocumented key: {l}");
        }
    }
    let r = guardline_in(dir.path(), Some(dir.path()), &["init"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(dir.path().join("guardline.toml").exists());
    let r = guardline_in(dir.path(), Some(dir.path()), &["init", "other.toml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(dir.path().join("other.toml").exists());
}

#[test]
fn attestations_can_be_scoped_to_a_system() {
    let dir = tempfile::tempdir().unwrap();
    let r = guardline(
        dir.path(),
        &[
            "evidence",
            "add",
            "--control",
            "SCT-FIN",
            "--by",
            "Chief Risk Officer",
            "--system",
            "Bank enquiries bot",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let l = guardline(dir.path(), &["evidence", "list"]);
    assert!(l.stdout.contains("[Bank enquiries bot]"), "{}", l.stdout);
    let r = guardline(
        dir.path(),
        &[
            "evidence",
            "add",
            "--control",
            "SCT-FIN",
            "--by",
            "x",
            "--system",
            " ",
        ],
    );
    assert_eq!(r.code, 2);
}
