//! End-to-end: `guardline report` over a real ledger holding every kind of evidence (an
//! assessment, a gateway start-up record with the real hk-baseline policy, exchanges, an
//! evaluation run, attestations from `guardline evidence add`), with golden Markdown and JSON
//! (volatile hashes, times and paths normalised), tampering, and the HTML report opened in
//! headless Chromium.
//!
//! Chromium: `/usr/bin/chromium` (Debian's `chromium`; `.ci/run` installs it), or
//! `GUARDLINE_TEST_CHROMIUM_BIN`. When it is absent the browser test fails, unless
//! `GUARDLINE_TEST_CHROMIUM=skip`, when it is skipped with a loud message.

mod common;
use common::{golden, guardline_in, Run};
use guardline_ledger::{Ledger, Location, NewEvent, Options};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs in `cwd`, where the fixture manifests' relative paths resolve.
fn guardline(data: &Path, cwd: &Path, args: &[&str]) -> Run {
    guardline_in(data, Some(cwd), args)
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/systems")
}

/// Floats cannot enter the ledger; the gateway records them as strings.
fn strip_floats(v: &mut Value) {
    match v {
        Value::Number(n) if n.is_f64() => *v = json!(n.to_string()),
        Value::Array(a) => a.iter_mut().for_each(strip_floats),
        Value::Object(o) => o.values_mut().for_each(strip_floats),
        _ => {}
    }
}

fn append(data: &Path, events: Vec<NewEvent>) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let ledger = Ledger::open(&Location::in_data_dir(data), Options::default())
                .await
                .unwrap();
            for e in events {
                ledger.append(e).await.unwrap();
            }
            ledger.close().await.unwrap();
        });
}

fn metric(v: &str, lo: &str, hi: &str) -> Value {
    json!({"value": v, "low": lo, "high": hi, "count": 4, "n": 200})
}

/// A data directory with evidence for the bank chatbot; returns it.
fn evidence(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    let fx = fixtures();
    let r = guardline(
        &data,
        &fx,
        &["assess", "bank-chatbot.toml", "--format", "json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);

    let mut policy = guardline_policy::Policy::hk_baseline().summary();
    policy["disclosure"] = json!(true);
    strip_floats(&mut policy);
    let mut default = guardline_policy::Policy::hk_baseline().summary();
    strip_floats(&mut default);
    let finished =
        guardline_ledger::record::time_text(chrono::Utc::now() - chrono::Duration::days(3));
    append(
        &data,
        vec![
            NewEvent::new(
                "config_change",
                json!({"change": "gateway_start", "access": "keys", "policies": {"default": default, "retail-bank": policy},
                       "kept_pseudonyms": {"store": "redis://vault.internal:6379/0", "keep_days": 30}}),
            ),
            NewEvent::new(
                "exchange",
                json!({"decision": "transform", "findings": {"hk_id": 1}}),
            ),
            NewEvent::new("exchange", json!({"decision": "allow", "findings": {}})),
            NewEvent::new(
                "eval_run",
                json!({
                    "run_id": "2026-q4-redteam", "system": "Bank enquiries bot",
                    "target": {"host": "gateway.internal:8080", "model": "gpt-4o-mini"},
                    "started": finished, "finished": finished,
                    "suites": [
                        {"name": "injection", "n": 200, "metrics": {"attack_success_rate": metric("0.020", "0.008", "0.050")}},
                        {"name": "harmful", "n": 200, "metrics": {"attack_success_rate": metric("0.005", "0.001", "0.028")}},
                        {"name": "leakage", "n": 200, "metrics": {"attack_success_rate": metric("0.040", "0.020", "0.077")}},
                    ]
                }),
            ),
            // An incident plan whose attestation has lapsed (the CLI refuses past dates).
            NewEvent::new(
                "attestation",
                json!({"control": "SEC-04", "by": "CISO", "expires": "2024-12-31",
                       "document": {"name": "incident-plan-2024.pdf", "sha256": "ab".repeat(32), "size": 52114}}),
            ),
        ],
    );
    let doc = dir.join("audit-2026.pdf");
    std::fs::write(&doc, b"%PDF-1.4 annual compliance audit").unwrap();
    for args in [
        vec![
            "--control",
            "SCT-FIN",
            "--by",
            "Chief Risk Officer",
            "--system",
            "Bank enquiries bot",
            "--note",
            "HKMA opt-out and human review in place",
        ],
        vec![
            "--control",
            "TIER-L3",
            "--by",
            "Internal Audit",
            "--file",
            doc.to_str().unwrap(),
            "--expires",
            "2099-12-31",
        ],
        vec![
            "--control",
            "PDP-07",
            "--by",
            "DPO",
            "--file",
            doc.to_str().unwrap(),
        ],
        vec![
            "--control",
            "TIER-L2",
            "--by",
            "Someone else",
            "--system",
            "Another system",
        ],
    ] {
        let mut a = vec!["evidence", "add"];
        a.extend(args);
        let r = guardline(&data, &fx, &a);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    data
}

/// Replaces what changes from run to run: hashes, times, dates, temporary paths.
fn normalise(s: &str, tmp: &Path) -> String {
    let s = s.replace(&tmp.display().to_string(), "<tmp>");
    let b: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let is_hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    while i < b.len() {
        // RFC 3339 with microseconds, or a bare date.
        let digits = |k: usize, n: usize| (k..k + n).all(|j| j < b.len() && b[j].is_ascii_digit());
        if digits(i, 4)
            && b.get(i + 4) == Some(&'-')
            && digits(i + 5, 2)
            && b.get(i + 7) == Some(&'-')
            && digits(i + 8, 2)
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
        {
            if b.get(i + 10) == Some(&'T') {
                let mut j = i + 10;
                while j < b.len() && b[j] != 'Z' && j < i + 40 {
                    j += 1;
                }
                out.push_str("<time>");
                i = j + 1;
            } else {
                out.push_str("<date>");
                i += 10;
            }
            continue;
        }
        if is_hex(b[i]) && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            let mut j = i;
            while j < b.len() && is_hex(b[j]) {
                j += 1;
            }
            let boundary = j == b.len() || !b[j].is_ascii_alphanumeric();
            if boundary && (j - i == 64 || (j - i == 12 && b.get(j) == Some(&'…'))) {
                out.push_str(if j - i == 64 { "<sha256>" } else { "<hash12>" });
                i = j;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn status(report: &Value, id: &str) -> String {
    report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["control"] == id)
        .unwrap_or_else(|| panic!("{id} not in the report"))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn statuses_come_from_the_evidence_and_cite_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let data = evidence(dir.path());
    let r = guardline(
        &data,
        &fixtures(),
        &["report", "bank-chatbot.toml", "--format", "json"],
    );
    assert_eq!(r.code, 1, "controls are missing: exit 1; {}", r.stderr);
    let j: Value = serde_json::from_str(&r.stdout).unwrap();
    let want = [
        ("MF-01", "met"),   // the assessment above
        ("MF-03", "met"),   // human in command, as required
        ("PDP-01", "met"),  // hk-baseline pseudonymises personal data in requests
        ("PDP-03", "met"),  // and keeps no content
        ("SEC-02", "met"),  // client keys
        ("TIER-L1", "met"), // the tenant's policy turns the disclosure on
        ("USR-02", "met"),  // every response labelled
        ("REL-09", "met"),  // exchanges recorded, chain intact
        ("CRM-01", "met"),  // injection blocked; injection and harmful suites pass
        ("CRM-02", "met"),
        ("PDP-02", "partly_met"), // gateway and corpus pass; the leakage suite fails (0.04 > 0.01)
        ("SCT-FIN", "met"),       // attested for this system
        ("TIER-L3", "met"),       // with a document, in force
        ("PDP-07", "met"),
        ("SEC-04", "expired"),  // lapsed in 2024
        ("TIER-L2", "missing"), // attested for another system only
        ("REL-04", "missing"),  // no hallucination suite, no attestation
        ("TIER-H1", "not_applicable"),
        ("SCT-HLT", "not_applicable"),
    ];
    for (id, st) in want {
        assert_eq!(
            status(&j, id),
            st,
            "{id}: {}",
            serde_json::to_string_pretty(
                &j["controls"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["control"] == id)
                    .unwrap()
            )
            .unwrap()
        );
    }
    // Every piece of ledger evidence cites its record.
    let pdp01 = j["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["control"] == "PDP-01")
        .unwrap();
    assert_eq!(pdp01["evidence"][0]["ledger"]["seq"], 2);
    // Values kept for restoration ([vault] keep) are said beside "no content kept".
    let pdp03 = j["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["control"] == "PDP-03")
        .unwrap()
        .to_string();
    assert!(
        pdp03.contains("kept encrypted for 30 days")
            && pdp03.contains("redis://vault.internal:6379/0"),
        "{pdp03}"
    );
    assert_eq!(
        pdp01["evidence"][0]["ledger"]["hash"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    assert_eq!(j["ledger"]["intact"], true);
    assert_eq!(j["ledger"]["exchanges"], 2);
    let head = j["ledger"]["head"]["seq"].as_i64().unwrap();
    assert_eq!(
        j["record"]["seq"].as_i64().unwrap(),
        head + 1,
        "the report is the next record"
    );
    assert_eq!(j["corpus"]["files"], 1);
    assert_eq!(
        j["counts"]["met"].as_u64().unwrap()
            + j["counts"]["partly_met"].as_u64().unwrap()
            + j["counts"]["missing"].as_u64().unwrap()
            + j["counts"]["expired"].as_u64().unwrap()
            + j["counts"]["not_applicable"].as_u64().unwrap(),
        j["controls"].as_array().unwrap().len() as u64
    );

    // The report is recorded, with counts and no personal data.
    let e = guardline(&data, &fixtures(), &["audit", "export", "--kind", "report"]);
    let rec: Value = serde_json::from_str(e.stdout.lines().last().unwrap()).unwrap();
    let body: Value = if rec["body"].is_string() {
        serde_json::from_str(rec["body"].as_str().unwrap()).unwrap()
    } else {
        rec["body"].clone()
    };
    assert_eq!(body["system"], "Bank enquiries bot");
    assert_eq!(body["tier"], "limited");
    assert_eq!(body["counts"]["expired"], 1);
    assert_eq!(body["ledger_head"]["seq"].as_i64().unwrap(), head);
    assert_eq!(guardline(&data, &fixtures(), &["audit", "verify"]).code, 0);
}

#[test]
fn golden_markdown_and_json_reports() {
    let dir = tempfile::tempdir().unwrap();
    let data = evidence(dir.path());
    let md = guardline(
        &data,
        &fixtures(),
        &["report", "bank-chatbot.toml", "--format", "md"],
    );
    assert_eq!(md.code, 1, "{}", md.stderr);
    golden("report-bank-chatbot.md", &normalise(&md.stdout, dir.path()));
    let js = guardline(
        &data,
        &fixtures(),
        &["report", "bank-chatbot.toml", "--format", "json"],
    );
    golden(
        "report-bank-chatbot.json",
        &normalise(&js.stdout, dir.path()),
    );
}

#[test]
fn a_tampered_ledger_fails_the_record_control() {
    let dir = tempfile::tempdir().unwrap();
    let data = evidence(dir.path());
    let script = "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"UPDATE ledger_events SET body = replace(body, 'transform', 'allow') WHERE kind = 'exchange'\"); c.commit()";
    let out = Command::new("python3")
        .args(["-c", script, data.join("ledger.sqlite").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = guardline(
        &data,
        &fixtures(),
        &["report", "bank-chatbot.toml", "--format", "json"],
    );
    assert_eq!(r.code, 1);
    let j: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["ledger"]["intact"], false);
    assert_eq!(status(&j, "REL-09"), "missing");
    assert!(
        j["ledger"]["first_problem"]
            .as_str()
            .unwrap()
            .starts_with("seq 3"),
        "{}",
        j["ledger"]["first_problem"]
    );
}

#[test]
fn a_prohibited_system_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let r = guardline(
        &data,
        &fixtures(),
        &["report", "subliminal.toml", "--format", "md"],
    );
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("prohibited 禁止"), "{}", r.stdout);
    let r = guardline(&data, &fixtures(), &["report", "misspelled-use-case.toml"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("did you mean `spam_filter`"));
    let r = guardline(
        &data,
        &fixtures(),
        &["report", "bank-chatbot.toml", "--format", "pdf"],
    );
    assert_eq!(r.code, 2);
}

/// Runs chromium with a deadline; returns stdout.
fn chromium(bin: &Path, args: &[String]) -> Vec<u8> {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut s = stdout;
        let _ = std::io::Read::read_to_end(&mut s, &mut buf);
        buf
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap()
}

fn chromium_bin() -> Option<PathBuf> {
    let bin = std::env::var_os("GUARDLINE_TEST_CHROMIUM_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if bin.exists() {
        return Some(bin);
    }
    if std::env::var("GUARDLINE_TEST_CHROMIUM").as_deref() == Ok("skip") {
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !! SKIPPED: the HTML report was NOT checked in a browser: {} is absent and   \n\
             !! GUARDLINE_TEST_CHROMIUM=skip. Install it: apt-get install -y chromium      \n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n",
            bin.display()
        );
        return None;
    }
    panic!(
        "{} is absent: install Debian's chromium (apt-get install -y chromium), or set \
         GUARDLINE_TEST_CHROMIUM=skip to skip the browser check",
        bin.display()
    );
}

#[test]
fn the_html_report_renders_in_chromium_in_both_languages() {
    let Some(bin) = chromium_bin() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = evidence(dir.path());
    let html = dir.path().join("report.html");
    let r = guardline(
        &data,
        &fixtures(),
        &[
            "report",
            "bank-chatbot.toml",
            "--output",
            html.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.is_empty(), "--output writes the file, not stdout");
    let text = std::fs::read_to_string(&html).unwrap();
    // Self-contained: nothing is fetched.
    for needle in ["<script", "src=\"http", "href=\"http", "@import", "url("] {
        assert!(
            !text.contains(needle),
            "the report loads something: {needle}"
        );
    }
    assert!(text.contains("@media print"));
    let url = format!("file://{}", html.display());

    // The DOM as the browser built it: both languages, the charts, the statuses.
    let dom = String::from_utf8(chromium(&bin, &["--dump-dom".into(), url.clone()])).unwrap();
    for needle in [
        "Compliance report",
        "合規報告",
        "Bank enquiries bot",
        "limited risk",
        "有限風險",
        "Finance: opt-out of GenAI",
        "金融：可選擇不用生成式人工智能",
        "已符合",
        "已過期",
        "欠缺",
        "<svg class=\"gauge\"",
        "<svg class=\"dimensions\"",
        "class=\"bar status-met\"",
        "class=\"bar status-expired\"",
        "SCT-FIN",
    ] {
        assert!(dom.contains(needle), "the rendered DOM lacks {needle:?}");
    }

    // A screenshot: it renders, it is not blank, and the charts' colours are on the page.
    let png_path = dir.path().join("report.png");
    chromium(
        &bin,
        &[
            format!("--screenshot={}", png_path.display()),
            "--window-size=1200,2200".into(),
            url,
        ],
    );
    let decoder =
        png::Decoder::new(std::fs::File::open(&png_path).expect("chromium wrote a screenshot"));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1200, 2200));
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{:?}", info.color_type);
    let px: Vec<[u8; 3]> = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|c| [c[0], c[1], c[2]])
        .collect();
    let near = |p: &[u8; 3], q: [u8; 3]| {
        p.iter()
            .zip(q)
            .all(|(a, b)| (*a as i32 - b as i32).abs() <= 12)
    };
    let non_white = px.iter().filter(|p| !near(p, [255, 255, 255])).count();
    assert!(
        non_white * 100 > px.len() * 3,
        "the page looks blank: {non_white} of {} pixels are not white",
        px.len()
    );
    for (what, rgb, min) in [
        ("met green", [0x2e, 0x7d, 0x32], 200),
        ("missing red", [0xc6, 0x28, 0x28], 100),
        ("expired purple", [0x7b, 0x5e, 0xa7], 50),
        ("limited-tier amber", [0xf2, 0xa9, 0x00], 500),
    ] {
        let n = px.iter().filter(|p| near(p, rgb)).count();
        assert!(
            n >= min,
            "{what}: only {n} pixels; the SVG charts or badges did not render"
        );
    }
}
