//! Status rules over real ledgers: records appended with the ledger's own API, read back with
//! [`crate::evidence::collect`], exactly as `guardline report` does.

use super::*;
use crate::catalog::Catalog;
use crate::classify::classify;
use crate::evidence::collect;
use crate::manifest::Manifest;
use guardline_ledger::{Ledger, Location, NewEvent, Options};
use serde_json::json;
use std::path::Path;

const BANK: &str = r#"
[system]
name = "Bank enquiries bot"
roles = ["provider"]
sector = "finance"
use_cases = ["customer_service_chat"]
models = ["gpt-4o-mini"]
[impact]
affected = ["customers"]
autonomy = "human_in_command"
[data]
categories = ["personal", "hk_id", "financial"]
[gateway]
tenant = "retail-bank"
"#;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

struct Fixture {
    _dir: tempfile::TempDir,
    ledger: Ledger,
}

async fn ledger() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(
        &Location::Sqlite(dir.path().join("l.sqlite")),
        Options::default(),
    )
    .await
    .unwrap();
    Fixture { _dir: dir, ledger }
}

async fn add(f: &Fixture, kind: &str, body: serde_json::Value) {
    f.ledger.append(NewEvent::new(kind, body)).await.unwrap();
}

fn gateway_start(policy: serde_json::Value, access: &str) -> serde_json::Value {
    json!({"change": "gateway_start", "access": access, "policies": {"default": policy}})
}

/// The real hk-baseline summary, with `min_score` as the ledger must carry it (no floats: the
/// gateway's start-up record cannot hold 0.8 as a number).
fn baseline() -> serde_json::Value {
    let mut v = guardline_policy::Policy::hk_baseline().summary();
    strip_floats(&mut v);
    v
}

fn strip_floats(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) if n.is_f64() => *v = json!(n.to_string()),
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_floats),
        serde_json::Value::Object(o) => o.values_mut().for_each(strip_floats),
        _ => {}
    }
}

async fn report_at(
    f: &Fixture,
    manifest: &str,
    dir: &Path,
    now: chrono::DateTime<chrono::Utc>,
) -> Report {
    let cat = Catalog::embedded().unwrap();
    let m = Manifest::parse(manifest, "m.toml").unwrap();
    let ev = collect(&f.ledger, "test", &m, dir, cat, now).await.unwrap();
    Report::build(classify(&m, cat), ev, cat)
}

async fn report(f: &Fixture, manifest: &str) -> Report {
    report_at(f, manifest, Path::new("."), chrono::Utc::now()).await
}

fn st(r: &Report, id: &str) -> Status {
    r.status(id)
        .unwrap_or_else(|| panic!("{id} not in report"))
        .status
}

fn detail(r: &Report, id: &str) -> String {
    r.status(id)
        .unwrap()
        .pieces
        .iter()
        .map(|p| format!("{}={} {}", p.check, p.outcome.as_str(), p.detail))
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn no_evidence_means_missing() {
    rt().block_on(async {
        let f = ledger().await;
        let r = report(&f, BANK).await;
        for id in [
            "PDP-01", "PDP-03", "SEC-02", "SCT-FIN", "TIER-L3", "MF-01", "REL-09",
        ] {
            assert_eq!(st(&r, id), Status::Missing, "{id}: {}", detail(&r, id));
        }
        assert_eq!(st(&r, "MF-03"), Status::Met);
        assert_eq!(st(&r, "TIER-H1"), Status::NotApplicable);
        assert!(!r.all_met());
        let counts = r.counts();
        assert_eq!(
            counts.values().sum::<usize>(),
            Catalog::embedded().unwrap().controls.len()
        );
    });
}

#[test]
fn the_gateway_policy_in_force_evidences_runtime_controls() {
    rt().block_on(async {
        let f = ledger().await;
        add(&f, "config_change", gateway_start(baseline(), "keys")).await;
        let r = report(&f, BANK).await;
        // hk-baseline pseudonymises personal data, keeps no content, labels every response.
        assert_eq!(st(&r, "PDP-01"), Status::Met, "{}", detail(&r, "PDP-01"));
        assert!(detail(&r, "PDP-01").contains("pseudonymise-personal-data"));
        assert_eq!(st(&r, "PDP-03"), Status::Met);
        assert_eq!(st(&r, "SEC-02"), Status::Met);
        assert_eq!(st(&r, "USR-02"), Status::Met);
        // The tenant has no policy of its own: the default applies, and the report says so.
        assert!(detail(&r, "PDP-01").contains("tenant default"));
        // Response side: secrets redacted, new personal data flagged; no leakage eval yet.
        assert_eq!(
            st(&r, "PDP-02"),
            Status::PartlyMet,
            "{}",
            detail(&r, "PDP-02")
        );
        // hk-baseline has the disclosure off: transparency fails, and no attestation can hide it.
        assert_eq!(
            st(&r, "TIER-L1"),
            Status::Missing,
            "{}",
            detail(&r, "TIER-L1")
        );
        let gw = r.status("PDP-01").unwrap().pieces[0]
            .reference
            .clone()
            .unwrap();
        assert_eq!(gw.seq, 1);
        assert_eq!(gw.hash.len(), 64);
    });
}

#[test]
fn a_weak_policy_fails_and_an_attestation_does_not_outweigh_it() {
    rt().block_on(async {
        let f = ledger().await;
        let mut weak = baseline();
        weak["request"] = json!({"default": "allow", "rules": [
            {"id": "flag-phones", "kinds": ["hk_phone"], "dimensions": [], "action": "flag"},
            {"id": "mask-ids", "kinds": ["hk_*", "cn_resident_id"], "dimensions": [], "action": "redact"}
        ]});
        weak["retain_content"] = json!(true);
        weak["disclosure"] = json!(true);
        add(&f, "config_change", gateway_start(weak, "open")).await;
        add(&f, "attestation", json!({"control": "PDP-01", "by": "DPO"})).await;
        let r = report(&f, BANK).await;
        assert_eq!(st(&r, "PDP-01"), Status::Missing, "{}", detail(&r, "PDP-01"));
        let d = detail(&r, "PDP-01");
        assert!(d.contains("hk_phone → flag (flag-phones)") && d.contains("email → allow (default)"), "{d}");
        assert_eq!(st(&r, "PDP-03"), Status::Missing);
        assert_eq!(st(&r, "SEC-02"), Status::Missing);
        assert_eq!(st(&r, "TIER-L1"), Status::Met);
    });
}

/// A start whose `retail-bank` tenant has a policy of its own, with the disclosure on.
fn start_with_a_disclosing_bank_tenant() -> serde_json::Value {
    let mut strict = baseline();
    strict["disclosure"] = json!(true);
    json!({"change": "gateway_start", "access": "keys", "policies": {"default": baseline(), "retail-bank": strict}})
}

#[test]
fn a_later_gateway_start_replaces_an_earlier_one_and_tenants_are_honoured() {
    rt().block_on(async {
        let f = ledger().await;
        add(&f, "config_change", gateway_start(baseline(), "open")).await;
        add(&f, "config_change", start_with_a_disclosing_bank_tenant()).await;
        add(&f, "config_change", json!({"change": "key_added"})).await;
        let r = report(&f, BANK).await;
        assert_eq!(st(&r, "SEC-02"), Status::Met);
        assert_eq!(st(&r, "TIER-L1"), Status::Met, "{}", detail(&r, "TIER-L1"));
        assert!(detail(&r, "TIER-L1").contains("tenant retail-bank"));
    });
}

/// `kill -HUP` reloads the policies and records `gateway_reload`: from then on that is what
/// is in force, for better or worse.
#[test]
fn a_policy_reload_counts_like_a_start() {
    rt().block_on(async {
        let f = ledger().await;
        add(&f, "config_change", start_with_a_disclosing_bank_tenant()).await;
        assert_eq!(st(&report(&f, BANK).await, "TIER-L1"), Status::Met);
        add(
            &f,
            "config_change",
            json!({"change": "gateway_reload", "access": "keys", "policies": {"default": baseline()}}),
        )
        .await;
        let r = report(&f, BANK).await;
        assert_ne!(st(&r, "TIER-L1"), Status::Met, "{}", detail(&r, "TIER-L1"));
    });
}

/// A gateway that stopped (`gateway_stop`, same instance) no longer evidences anything; another
/// gateway still running on the same ledger does, and a new start counts again.
#[test]
fn a_stopped_gateway_no_longer_counts() {
    rt().block_on(async {
        let f = ledger().await;
        let start = |instance: &str| {
            json!({"change": "gateway_start", "instance": instance, "access": "keys",
                   "policies": {"default": baseline()}})
        };
        let stop = |instance: &str| json!({"change": "gateway_stop", "instance": instance});
        // A start from before instances existed is superseded by any later start.
        add(&f, "config_change", gateway_start(baseline(), "keys")).await;
        add(&f, "config_change", start("gli_a")).await;
        add(&f, "config_change", start("gli_b")).await;
        add(&f, "config_change", stop("gli_a")).await;
        // gli_b still runs.
        assert_eq!(st(&report(&f, BANK).await, "PDP-01"), Status::Met);
        add(&f, "config_change", stop("gli_b")).await;
        let r = report(&f, BANK).await;
        assert_eq!(
            st(&r, "PDP-01"),
            Status::Missing,
            "{}",
            detail(&r, "PDP-01")
        );
        assert!(
            detail(&r, "PDP-01").contains("stopped") && detail(&r, "PDP-01").contains("#5"),
            "{}",
            detail(&r, "PDP-01")
        );
        // A stop for an instance that never started changes nothing; a new start counts.
        add(&f, "config_change", start("gli_c")).await;
        add(&f, "config_change", stop("gli_zzz")).await;
        assert_eq!(st(&report(&f, BANK).await, "PDP-01"), Status::Met);
    });
}

/// A gateway that is killed records no stop; once it has missed two heartbeats (plus a minute's
/// grace) it no longer counts. A heartbeat is its latest sign of life; a gateway that records no
/// heartbeats (older versions, or heartbeats off) counts until it records a stop.
#[test]
fn a_gateway_that_falls_silent_no_longer_counts() {
    rt().block_on(async {
        let f = ledger().await;
        let minutes = |m: i64| chrono::Utc::now() + chrono::Duration::minutes(m);
        let at = |m: i64| {
            let f = &f;
            async move { report_at(f, BANK, Path::new("."), minutes(m)).await }
        };
        add(
            &f,
            "config_change",
            json!({"change": "gateway_start", "instance": "gli_a", "access": "keys",
                   "heartbeat_secs": 300, "policies": {"default": baseline()}}),
        )
        .await;
        // 2 × 300 s + 60 s allowed: still running at +10 minutes, silent at +12.
        assert_eq!(st(&at(10).await, "PDP-01"), Status::Met);
        let r = at(12).await;
        assert_eq!(
            st(&r, "PDP-01"),
            Status::Missing,
            "{}",
            detail(&r, "PDP-01")
        );
        let d = detail(&r, "PDP-01");
        assert!(
            d.contains("recorded nothing since") && d.contains("#1") && d.contains("300 s"),
            "{d}"
        );

        // A heartbeat moves its last sign of life; another instance's heartbeat does not.
        let cat = Catalog::embedded().unwrap();
        let m = Manifest::parse(BANK, "m.toml").unwrap();
        let last_seen = || async {
            let ev = collect(
                &f.ledger,
                "test",
                &m,
                Path::new("."),
                cat,
                chrono::Utc::now(),
            )
            .await
            .unwrap();
            ev.gateway.unwrap().last_seen.seq
        };
        for instance in ["gli_a", "gli_b"] {
            let beat = json!({"change": "gateway_heartbeat", "instance": instance});
            add(&f, "config_change", beat).await;
            assert_eq!(last_seen().await, 2, "after {instance}'s heartbeat");
        }

        // Without heartbeats, a gateway counts until it records a stop, however long ago it started.
        add(
            &f,
            "config_change",
            json!({"change": "gateway_start", "instance": "gli_old", "access": "keys",
                   "policies": {"default": baseline()}}),
        )
        .await;
        assert_eq!(st(&at(60 * 24 * 365).await, "PDP-01"), Status::Met);
    });
}

/// A policy that blocks injection only when it is near-certain gets no credit for blocking it:
/// probes carry the catalogue's `probe_score` (0.8), and a rule with a higher `min_score` lets
/// them through to the next rule.
#[test]
fn a_rule_above_the_probe_score_earns_no_credit() {
    rt().block_on(async {
        let f = ledger().await;
        let mut lax = baseline();
        for r in lax["request"]["rules"].as_array_mut().unwrap() {
            if r["id"] == "block-injection" {
                r["min_score"] = json!("0.95");
            }
        }
        add(&f, "config_change", gateway_start(lax, "keys")).await;
        let r = report(&f, BANK).await;
        let d = detail(&r, "CRM-01");
        assert!(
            d.contains("below block") && d.contains("flag-weak-injection"),
            "{d}"
        );
        add(&f, "config_change", gateway_start(baseline(), "keys")).await;
        let d = detail(&report(&f, BANK).await, "CRM-01");
        assert!(d.contains("→ block (block-injection)"), "{d}");
    });
}

#[test]
fn without_a_gateway_table_gateway_evidence_is_not_credited() {
    rt().block_on(async {
        let f = ledger().await;
        add(&f, "config_change", gateway_start(baseline(), "keys")).await;
        let m = BANK.replace("[gateway]\ntenant = \"retail-bank\"\n", "");
        let r = report(&f, &m).await;
        assert_eq!(
            st(&r, "PDP-01"),
            Status::Missing,
            "{}",
            detail(&r, "PDP-01")
        );
        assert!(detail(&r, "PDP-01").contains("no [gateway] table"));
        // An attestation may stand in for absent runtime evidence.
        add(
            &f,
            "attestation",
            json!({"control": "PDP-01", "by": "DPO", "note": "masked by the CRM before the model"}),
        )
        .await;
        let r = report(&f, &m).await;
        assert_eq!(st(&r, "PDP-01"), Status::Met, "{}", detail(&r, "PDP-01"));
    });
}

#[test]
fn attestations_expire_scope_and_need_documents() {
    rt().block_on(async {
        let f = ledger().await;
        let doc = json!({"name": "audit-2026.pdf", "sha256": "ab".repeat(32), "size": 1234});
        // SCT-FIN: an attestation for another system does not count; an unscoped one does.
        add(&f, "attestation", json!({"control": "SCT-FIN", "by": "CRO", "system": "Other bot"})).await;
        let r = report(&f, BANK).await;
        assert_eq!(st(&r, "SCT-FIN"), Status::Missing);
        add(&f, "attestation", json!({"control": "SCT-FIN", "by": "CRO", "system": "Bank enquiries bot"})).await;
        let r = report(&f, BANK).await;
        assert_eq!(st(&r, "SCT-FIN"), Status::Met);
        // TIER-L3 needs a document: without one it fails; expired, it is expired.
        add(&f, "attestation", json!({"control": "TIER-L3", "by": "Internal audit"})).await;
        let r = report(&f, BANK).await;
        assert_eq!(st(&r, "TIER-L3"), Status::Missing, "{}", detail(&r, "TIER-L3"));
        assert!(detail(&r, "TIER-L3").contains("needs a document"));
        add(&f, "attestation", json!({"control": "TIER-L3", "by": "Internal audit", "expires": "2020-01-01", "document": doc})).await;
        let r = report(&f, BANK).await;
        assert_eq!(st(&r, "TIER-L3"), Status::Expired, "{}", detail(&r, "TIER-L3"));
        add(&f, "attestation", json!({"control": "TIER-L3", "by": "Internal audit", "expires": "2099-12-31", "document": doc})).await;
        let r = report(&f, BANK).await;
        assert_eq!(st(&r, "TIER-L3"), Status::Met, "{}", detail(&r, "TIER-L3"));
        assert!(detail(&r, "TIER-L3").contains("audit-2026.pdf"));
        // A year and more later, the annual audit has lapsed even before its expiry date.
        let later = chrono::Utc::now() + chrono::Duration::days(400);
        let r = report_at(&f, BANK, Path::new("."), later).await;
        assert_eq!(st(&r, "TIER-L3"), Status::Expired, "{}", detail(&r, "TIER-L3"));
        // SCT-FIN has no maximum age.
        assert_eq!(st(&r, "SCT-FIN"), Status::Met);
    });
}

fn eval_run(
    system: Option<&str>,
    model: &str,
    finished: &str,
    suites: serde_json::Value,
) -> serde_json::Value {
    let mut b = json!({"run_id": "run-1", "target": {"host": "127.0.0.1:8000", "model": model}, "started": finished, "finished": finished, "suites": suites});
    if let Some(s) = system {
        b["system"] = json!(s);
    }
    b
}

/// Metrics as the ledger allows them: decimal strings (bodies carry no floats), or per-mille.
fn metric(v: f64) -> serde_json::Value {
    json!({"value": format!("{v:.3}"), "low_permille": ((v - 0.02f64).max(0.0) * 1000.0).round() as i64, "high": format!("{:.3}", v + 0.02), "count": 3, "n": 200})
}

#[test]
fn evaluation_runs_pass_fail_and_expire() {
    rt().block_on(async {
        let f = ledger().await;
        let now = guardline_ledger::record::now();
        add(
            &f,
            "attestation",
            json!({"control": "CRM-02", "by": "x", "system": "elsewhere"}),
        )
        .await;
        // Injection within the threshold; harmful above it.
        add(&f, "eval_run", eval_run(Some("Bank enquiries bot"), "m", &now, json!([
            {"name": "injection", "n": 200, "metrics": {"attack_success_rate": metric(0.03)}},
            {"name": "harmful", "n": 200, "metrics": {"attack_success_rate": metric(0.10)}},
        ]))).await;
        let r = report(&f, BANK).await;
        let d = detail(&r, "CRM-02");
        assert!(
            d.contains("eval.injection=pass") && d.contains("eval.harmful=fail"),
            "{d}"
        );
        assert_eq!(st(&r, "CRM-02"), Status::PartlyMet);
        assert!(d.contains("[0.010, 0.050]") && d.contains("n = 200"), "{d}");
        // A run for another system is not ours; one with no system counts if it tests our model.
        add(
            &f,
            "eval_run",
            eval_run(
                Some("Other"),
                "m",
                &now,
                json!([
                    {"name": "harmful", "metrics": {"attack_success_rate": metric(0.0)}}
                ]),
            ),
        )
        .await;
        let r = report(&f, BANK).await;
        assert!(detail(&r, "CRM-02").contains("eval.harmful=fail"));
        add(
            &f,
            "eval_run",
            eval_run(
                None,
                "gpt-4o-mini",
                &now,
                json!([
                    {"name": "harmful", "metrics": {"attack_success_rate": metric(0.0)}}
                ]),
            ),
        )
        .await;
        let r = report(&f, BANK).await;
        assert_eq!(st(&r, "CRM-02"), Status::Met, "{}", detail(&r, "CRM-02"));
        // 100 days on, both are older than the 90-day window: expired.
        let later = chrono::Utc::now() + chrono::Duration::days(100);
        let r = report_at(&f, BANK, Path::new("."), later).await;
        assert_eq!(
            st(&r, "CRM-02"),
            Status::Expired,
            "{}",
            detail(&r, "CRM-02")
        );
        // A suite that does not report the mapped metric fails.
        add(
            &f,
            "eval_run",
            eval_run(
                Some("Bank enquiries bot"),
                "m",
                &now,
                json!([
                    {"name": "leakage", "metrics": {"refusal_rate": metric(0.0)}}
                ]),
            ),
        )
        .await;
        let r = report(&f, BANK).await;
        assert!(
            detail(&r, "PDP-02").contains("eval.leakage=fail"),
            "{}",
            detail(&r, "PDP-02")
        );
    });
}

#[test]
fn ledger_verification_and_registration() {
    rt().block_on(async {
        let f = ledger().await;
        let m = Manifest::parse(BANK, "m.toml").unwrap();
        add(&f, "exchange", json!({"decision": "allow", "findings": {}})).await;
        add(
            &f,
            "assessment",
            json!({"system": "Bank enquiries bot", "manifest_sha256": m.sha256, "tier": "limited"}),
        )
        .await;
        let r = report(&f, BANK).await;
        assert_eq!(st(&r, "REL-09"), Status::Met, "{}", detail(&r, "REL-09"));
        assert_eq!(st(&r, "MF-01"), Status::Met);
        let head = r.status("REL-09").unwrap().pieces[0]
            .reference
            .clone()
            .unwrap();
        assert_eq!(head.seq, 2);
        // Change the manifest: the registration is stale until it is assessed again.
        let changed = BANK.replace("human_in_command", "human_in_the_loop");
        let r = report(&f, &changed).await;
        assert_eq!(st(&r, "MF-01"), Status::Expired, "{}", detail(&r, "MF-01"));
    });
}

#[test]
fn the_rag_corpus_is_scanned() {
    rt().block_on(async {
        let f = ledger().await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("kb")).unwrap();
        std::fs::write(
            dir.path().join("kb/faq.txt"),
            "Opening hours: 9am to 5pm.\n",
        )
        .unwrap();
        let m = BANK.replace("[data]\n", "[data]\nrag_corpus = [\"kb\"]\n");
        let r = report_at(&f, &m, dir.path(), chrono::Utc::now()).await;
        assert!(
            detail(&r, "PDP-02").contains("corpus.personal_data=pass"),
            "{}",
            detail(&r, "PDP-02")
        );
        assert!(r.assessment.obligation("REL-01").is_some());
        std::fs::write(
            dir.path().join("kb/leak.txt"),
            "客戶身份證 A123456(3)，電話 +852 9123 4567\n",
        )
        .unwrap();
        let r = report_at(&f, &m, dir.path(), chrono::Utc::now()).await;
        let d = detail(&r, "PDP-02");
        assert!(
            d.contains("corpus.personal_data=fail") && d.contains("hk_id 1"),
            "{d}"
        );
        // The matched values never appear in the report.
        assert!(!d.contains("A123456"));
        let m2 = BANK.replace("[data]\n", "[data]\nrag_corpus = [\"nowhere\"]\n");
        let r = report_at(&f, &m2, dir.path(), chrono::Utc::now()).await;
        assert!(detail(&r, "PDP-02").contains("corpus.personal_data=absent"));
    });
}

#[test]
fn prohibited_systems_never_pass() {
    rt().block_on(async {
        let f = ledger().await;
        let m = "[system]\nname = \"Nudge engine\"\nroles = [\"developer\"]\nsector = \"retail\"\nuse_cases = [\"subliminal_manipulation\"]\n[impact]\nautonomy = \"human_out_of_the_loop\"\n";
        let sha = Manifest::parse(m, "m").unwrap().sha256;
        add(&f, "assessment", json!({"system": "Nudge engine", "manifest_sha256": sha, "tier": "unacceptable"})).await;
        add(&f, "attestation", json!({"control": "TIER-U", "by": "Board", "document": {"name": "withdrawal.pdf", "sha256": "cd".repeat(32), "size": 10}})).await;
        let r = report(&f, m).await;
        assert_eq!(st(&r, "TIER-U"), Status::Met);
        assert_eq!(st(&r, "MF-01"), Status::Met);
        assert_eq!(st(&r, "CRM-01"), Status::NotApplicable);
        assert!(!r.all_met(), "a prohibited system's report never exits 0");
    });
}

fn p(outcome: Outcome, alternative: bool) -> Piece {
    Piece {
        check: "x".into(),
        outcome,
        detail: String::new(),
        reference: None,
        alternative,
    }
}

#[test]
fn combining_pieces() {
    use Outcome::*;
    let cases: &[(&[(Outcome, bool)], Status)] = &[
        (&[(Pass, false)], Status::Met),
        (&[(Pass, false), (Pass, false)], Status::Met),
        (&[(Pass, false), (Fail, false)], Status::PartlyMet),
        (&[(Pass, false), (Absent, false)], Status::PartlyMet),
        (&[(Pass, false), (Stale, false)], Status::PartlyMet),
        (&[(Stale, false)], Status::Expired),
        (&[(Stale, false), (Absent, false)], Status::Expired),
        (&[(Stale, false), (Fail, false)], Status::Missing),
        (&[(Fail, false)], Status::Missing),
        (&[(Absent, false)], Status::Missing),
        // Alternative attestations fill absences, never failures.
        (&[(Absent, false), (Pass, true)], Status::Met),
        (&[(Fail, false), (Pass, true)], Status::Missing),
        (
            &[(Fail, false), (Absent, false), (Pass, true)],
            Status::PartlyMet,
        ),
        (&[(Absent, false), (Stale, true)], Status::Expired),
        (&[(Pass, false), (Absent, true)], Status::Met),
        (&[(Pass, true)], Status::Met),
        (&[(Absent, true)], Status::Missing),
        (&[], Status::Missing),
    ];
    for (pieces, want) in cases {
        let ps: Vec<Piece> = pieces.iter().map(|(o, a)| p(*o, *a)).collect();
        assert_eq!(combine(&ps), *want, "{pieces:?}");
    }
}

#[test]
fn policy_decisions_follow_first_match() {
    let b = baseline();
    assert_eq!(decide(&b["request"], "hk_id", 0.8, false).0, "pseudonymise");
    assert_eq!(
        decide(&b["request"], "secret.openai_key", 0.8, false).0,
        "block"
    );
    assert_eq!(
        decide(&b["request"], "injection.roleplay_jailbreak", 0.8, false),
        ("block".into(), "block-injection".into())
    );
    // Below the rule's `min_score` the next rule decides.
    assert_eq!(
        decide(&b["request"], "injection.roleplay_jailbreak", 0.5, false),
        ("flag".into(), "flag-weak-injection".into())
    );
    assert_eq!(decide(&b["response"], "email", 0.8, true).0, "flag");
    assert_eq!(decide(&b["response"], "email", 0.8, false).0, "allow");
    assert_eq!(
        decide(&json!({}), "email", 0.8, false),
        ("allow".into(), "default".into())
    );
    assert!(
        glob("hk_*", "hk_id")
            && glob("*", "")
            && !glob("hk_?", "hk_id")
            && glob("secret.*", "secret.jwt")
    );
}

#[test]
fn hostile_ledger_bodies_do_not_break_the_report() {
    rt().block_on(async {
        let f = ledger().await;
        // Bodies another writer could have put in a shared ledger: odd types, non-ASCII hashes.
        add(&f, "attestation", json!({"control": "SCT-FIN", "by": "錢", "document": {"name": "ü", "sha256": "é".repeat(40), "size": "big"}, "expires": "soon"})).await;
        add(&f, "attestation", json!({"control": 7})).await;
        add(&f, "config_change", json!({"change": "gateway_start", "access": 1, "policies": {"default": {"name": [], "sha256": "ß", "request": {"rules": "none"}, "response": 3}}})).await;
        add(&f, "eval_run", json!({"suites": [{"name": "injection", "metrics": {"attack_success_rate": {"value": "NaN"}}}], "system": "Bank enquiries bot"})).await;
        add(&f, "eval_run", json!({"suites": "x"})).await;
        add(&f, "assessment", json!({"system": ["x"]})).await;
        let r = report(&f, BANK).await;
        // An expiry that is not a date is not trusted to be in the future.
        assert_eq!(st(&r, "SCT-FIN"), Status::Expired, "{}", detail(&r, "SCT-FIN"));
        assert!(detail(&r, "SCT-FIN").contains("unreadable"));
        assert_eq!(r.evidence.skipped.get("attestation"), Some(&1));
        assert_eq!(r.evidence.skipped.get("eval_run"), Some(&1));
        // The NaN metric is unreadable: the run reports no usable value, so the suite fails.
        assert!(detail(&r, "CRM-02").contains("eval.injection=fail"), "{}", detail(&r, "CRM-02"));
        let cat = Catalog::embedded().unwrap();
        let _ = crate::html::report_html(&r, cat);
        let _ = crate::render::report_md(&r, cat);
        let _ = r.to_json(cat);
    });
}
