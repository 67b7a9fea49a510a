//! End-to-end: `guardline evidence` and `guardline audit` on a real ledger, tampered with behind
//! the binary's back (Python's sqlite3), and the third-party verifier `scripts/ledger-verify.py`.

mod common;
use common::{guardline, Run};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn python(args: &[&str]) -> Run {
    let out = Command::new("python3")
        .args(args)
        .output()
        .expect("python3 runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn sql(db: &Path, statement: &str) {
    let script =
        "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()";
    let r = python(&["-c", script, db.to_str().unwrap(), statement]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

fn verifier() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/ledger-verify.py")
}

fn attest(data: &Path, control: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "evidence",
        "add",
        "--control",
        control,
        "--by",
        "DPO Chan Tai Man",
    ];
    args.extend_from_slice(extra);
    let r = guardline(data, &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r
}

#[test]
fn attest_verify_tamper_and_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let doc = dir.path().join("dpia-2026.pdf");
    fs::write(
        &doc,
        "CONFIDENTIAL DPIA: HKID A123456(3) appears in annex B",
    )
    .unwrap();
    let r = attest(
        &data,
        "PDP-01",
        &[
            "--file",
            doc.to_str().unwrap(),
            "--note",
            "annual DPIA",
            "--expires",
            "2099-06-30",
        ],
    );
    assert!(r.stdout.contains("record 1"), "{}", r.stdout);
    attest(&data, "SEC-02", &[]);
    attest(&data, "CRM-01", &[]);
    let ledger = data.join("ledger.sqlite");

    // The document's hash and size are in; its content is not (not in the file, not in the WAL).
    let export = guardline(&data, &["audit", "export"]);
    assert_eq!(export.code, 0);
    let lines: Vec<Value> = export
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    let docv = &lines[0]["body"]["document"];
    assert_eq!(docv["size"], 53);
    assert_eq!(docv["name"], "dpia-2026.pdf");
    assert_eq!(docv["sha256"].as_str().unwrap().len(), 64);
    for entry in fs::read_dir(&data).unwrap() {
        let bytes = fs::read(entry.unwrap().path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("A123456"));
    }

    let v = guardline(&data, &["audit", "verify"]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert!(
        v.stdout.starts_with("ledger intact: 3 records"),
        "{}",
        v.stdout
    );
    assert!(
        v.stdout.contains("this data directory's key"),
        "{}",
        v.stdout
    );
    let head = guardline(&data, &["audit", "head"])
        .stdout
        .trim()
        .to_string();
    assert!(head.starts_with("3 "), "{head}");
    let anchor = head.replacen(' ', ":", 1);
    let v = guardline(&data, &["audit", "verify", "--anchor", &anchor]);
    assert_eq!(v.code, 0, "{}", v.stdout);
    assert!(
        v.stdout.contains("anchor at record 3 matches"),
        "{}",
        v.stdout
    );

    // Someone else's tool agrees, from the file and from the export.
    let ok = python(&[verifier().to_str().unwrap(), ledger.to_str().unwrap()]);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    let export_file = dir.path().join("export.jsonl");
    fs::write(&export_file, &export.stdout).unwrap();
    let ok = python(&[verifier().to_str().unwrap(), export_file.to_str().unwrap()]);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);

    // Change who attested record 2.
    sql(
        &ledger,
        "UPDATE ledger_events SET body = replace(body, 'DPO Chan Tai Man', 'CEO') WHERE seq = 2",
    );
    let v = guardline(&data, &["audit", "verify"]);
    assert_eq!(v.code, 1, "{}", v.stdout);
    assert!(
        v.stdout.contains("first bad record 2: body altered"),
        "{}",
        v.stdout
    );
    let py = python(&[verifier().to_str().unwrap(), ledger.to_str().unwrap()]);
    assert_eq!(py.code, 1);
    assert!(py.stdout.contains("record 2"), "{}", py.stdout);
    // Bytes that are not text at all are a finding too, not an error.
    sql(
        &ledger,
        "UPDATE ledger_events SET tenant = X'FF00' WHERE seq = 3",
    );
    let v = guardline(&data, &["audit", "verify"]);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains("seq 3: record altered"), "{}", v.stdout);
    let json = guardline(&data, &["audit", "verify", "--format", "json"]);
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["intact"], false);
    assert_eq!(report["problems"][0]["seq"], 2);

    // Drop the last record and its checkpoints: only the anchor still knows.
    let fresh = tempfile::tempdir().unwrap();
    let data2 = fresh.path().join("d");
    attest(&data2, "PDP-01", &[]);
    attest(&data2, "PDP-02", &[]);
    let head = guardline(&data2, &["audit", "head"])
        .stdout
        .trim()
        .replacen(' ', ":", 1);
    sql(
        &data2.join("ledger.sqlite"),
        "DELETE FROM ledger_events WHERE seq = 2; DELETE FROM ledger_checkpoints WHERE seq = 2;",
    );
    assert_eq!(guardline(&data2, &["audit", "verify"]).code, 0);
    let v = guardline(&data2, &["audit", "verify", "--anchor", &head]);
    assert_eq!(v.code, 1, "{}", v.stdout);
    assert!(v.stdout.contains("truncated"), "{}", v.stdout);
}

#[test]
fn retention_prunes_bodies_and_the_chain_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    attest(&data, "PDP-01", &["--note", "first"]);
    attest(&data, "PDP-02", &["--note", "second"]);
    let r = guardline(&data, &["audit", "prune", "--older-than", "0"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("pruned 2 bodies"), "{}", r.stdout);
    let v = guardline(&data, &["audit", "verify"]);
    assert_eq!(v.code, 0, "{}", v.stdout);
    assert!(v.stdout.contains("2 bodies pruned"), "{}", v.stdout);
    let stats = guardline(&data, &["audit", "stats", "--format", "json"]);
    let s: Value = serde_json::from_str(&stats.stdout).unwrap();
    assert_eq!(s["events"], 3);
    assert_eq!(s["pruned_bodies"], 2);
    assert_eq!(s["by_kind"]["ledger.retention"], 1);
    let export = guardline(
        &data,
        &[
            "audit",
            "export",
            "--kind",
            "attestation",
            "--format",
            "csv",
        ],
    );
    let mut rows = csv::Reader::from_reader(export.stdout.as_bytes());
    let bodies: Vec<String> = rows
        .records()
        .map(|r| r.unwrap().get(4).unwrap().to_string())
        .collect();
    assert_eq!(bodies, vec!["", ""]);
    let py = python(&[
        verifier().to_str().unwrap(),
        data.join("ledger.sqlite").to_str().unwrap(),
    ]);
    assert_eq!(py.code, 0, "{}", py.stdout);
}

#[test]
fn errors_are_one_line_with_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cases: &[&[&str]] = &[
        &["audit", "verify"],
        &["audit", "head"],
        &["evidence", "add", "--control", "pdp", "--by", "x"],
        &[
            "evidence",
            "add",
            "--control",
            "PDP-01",
            "--by",
            "x",
            "--expires",
            "2001-01-01",
        ],
        &[
            "evidence",
            "add",
            "--control",
            "PDP-01",
            "--by",
            "x",
            "--file",
            "/nonexistent/x",
        ],
        &["audit", "export", "--since", "last tuesday"],
        &["audit", "verify", "--anchor", "12"],
        &["audit", "verify", "--ledger", "mysql://x"],
        &["audit", "prune"],
        &[
            "evidence",
            "add",
            "--control",
            "PDP-01",
            "--by",
            "x",
            "--note",
            "re HKID A123456(3)",
        ],
    ];
    for args in cases {
        let r = guardline(&data, args);
        assert_eq!(r.code, 2, "{args:?}: {}{}", r.stdout, r.stderr);
        assert_eq!(r.stderr.trim().lines().count(), 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.starts_with("guardline: error: "), "{}", r.stderr);
    }
    // Nothing was recorded by the failed adds.
    if data.join("ledger.sqlite").exists() {
        let head = guardline(&data, &["audit", "head"]);
        assert!(head.stdout.starts_with("0 "), "{}", head.stdout);
    }
}

#[test]
fn postgres_ledger_through_the_cli() {
    let url = match std::env::var("GUARDLINE_TEST_POSTGRES") {
        Ok(v) if v == "skip" => return,
        Ok(v) => v,
        Err(_) => "postgres://postgres@127.0.0.1:5432/test".into(),
    };
    let schema = format!("glt_cli_{}", std::process::id());
    let spec = format!("{url}?schema={schema}");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for control in ["PDP-01", "SEC-02"] {
        let r = guardline(
            &data,
            &[
                "evidence",
                "add",
                "--control",
                control,
                "--by",
                "x",
                "--ledger",
                &spec,
            ],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let v = guardline(&data, &["audit", "verify", "--ledger", &spec]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert!(
        v.stdout.starts_with("ledger intact: 2 records"),
        "{}",
        v.stdout
    );
    let r = Command::new("psql")
        .args([
            url.as_str(),
            "-qc",
            &format!("DROP SCHEMA {schema} CASCADE"),
        ])
        .output();
    if let Ok(out) = r {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
