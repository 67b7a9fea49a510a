//! Evidence → a status per control.
//!
//! Each control's evidence is a set of *pieces*: its automatic checks (gateway policy in force,
//! ledger, manifest, RAG corpus scan, evaluation suites) and, when the catalogue says so, a human
//! attestation. Each piece passes, fails, is stale (expired attestation, evaluation older than the
//! freshness window, manifest changed since it was registered) or is absent. Then:
//!
//! - **met**: every piece passes;
//! - **partly met**: some pass, not all;
//! - **expired**: none passes, none fails, and at least one is stale;
//! - **missing**: none passes and something fails or nothing is there;
//! - **not applicable**: the control does not apply to this system.
//!
//! An attestation the catalogue accepts as an *alternative* stands in for automatic pieces that
//! are absent, never for pieces that fail: a signed statement does not outweigh a policy that
//! lets HKID numbers through.

use crate::catalog::{AttestationMode, Catalog, Control};
use crate::classify::{Assessment, Reason};
use crate::evidence::{prefix, Attestation, EvidenceSet, GatewayStart, RecordRef, Stop};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Met,
    PartlyMet,
    Missing,
    Expired,
    NotApplicable,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Met,
        Status::PartlyMet,
        Status::Missing,
        Status::Expired,
        Status::NotApplicable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::PartlyMet => "partly_met",
            Status::Missing => "missing",
            Status::Expired => "expired",
            Status::NotApplicable => "not_applicable",
        }
    }
}

/// What one piece of evidence says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    Stale,
    Absent,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Stale => "stale",
            Outcome::Absent => "absent",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    /// `gateway.request_privacy`, `eval.injection`, `attestation`, …
    pub check: String,
    pub outcome: Outcome,
    /// What was found, in English (numbers, rule IDs, dates; never personal data).
    pub detail: String,
    /// The ledger record it rests on.
    pub reference: Option<RecordRef>,
    /// For an alternative attestation: it may stand in for absent automatic pieces.
    pub alternative: bool,
}

impl Piece {
    /// Whether a document for people shows it: an absent alternative attestation changes nothing
    /// and would only clutter the page (JSON keeps every piece).
    pub fn shown(&self) -> bool {
        !(self.alternative && self.outcome == Outcome::Absent)
    }
}

#[derive(Debug, Clone)]
pub struct ControlStatus {
    pub control: Control,
    pub status: Status,
    pub because: Vec<(String, String)>,
    pub pieces: Vec<Piece>,
}

/// A system's report: its assessment and each control's status.
#[derive(Debug, Clone)]
pub struct Report {
    pub assessment: Assessment,
    pub evidence: EvidenceSet,
    /// Applicable controls first (catalogue order), then the ones that do not apply.
    pub controls: Vec<ControlStatus>,
    /// The report's own ledger record, once written.
    pub record: Option<RecordRef>,
}

impl Report {
    pub fn build(assessment: Assessment, evidence: EvidenceSet, catalog: &Catalog) -> Report {
        let mut controls = Vec::new();
        for o in &assessment.obligations {
            let pieces = pieces(&o.control, &assessment, &evidence, catalog);
            controls.push(ControlStatus {
                control: o.control.clone(),
                status: combine(&pieces),
                because: o.because.clone(),
                pieces,
            });
        }
        for c in &assessment.not_applicable {
            controls.push(ControlStatus {
                control: c.clone(),
                status: Status::NotApplicable,
                because: Vec::new(),
                pieces: Vec::new(),
            });
        }
        Report {
            assessment,
            evidence,
            controls,
            record: None,
        }
    }

    pub fn counts(&self) -> BTreeMap<Status, usize> {
        let mut m: BTreeMap<Status, usize> = Status::ALL.iter().map(|s| (*s, 0)).collect();
        for c in &self.controls {
            *m.entry(c.status).or_default() += 1;
        }
        m
    }

    pub fn status(&self, id: &str) -> Option<&ControlStatus> {
        self.controls.iter().find(|c| c.control.id == id)
    }

    /// Whether everything that applies is met, the system is permitted, and the ledger is
    /// intact: the report's exit status is 0 exactly then.
    pub fn all_met(&self) -> bool {
        !self.assessment.prohibited
            && self.evidence.ledger.intact
            && self
                .controls
                .iter()
                .all(|c| matches!(c.status, Status::Met | Status::NotApplicable))
    }

    fn counts_json(&self) -> Value {
        let c = self.counts();
        let mut o = serde_json::Map::new();
        for s in Status::ALL {
            o.insert(s.as_str().into(), json!(c.get(&s).copied().unwrap_or(0)));
        }
        Value::Object(o)
    }

    /// The `report` event's body: no personal data, only what an auditor needs to match the
    /// document to the ledger.
    pub fn ledger_body(&self, format: &str) -> Value {
        let a = &self.assessment;
        json!({
            "system": a.manifest.name,
            "manifest_sha256": a.manifest.sha256,
            "tier": a.tier.as_str(),
            "guideline_tier": a.guideline_tier.as_str(),
            "prohibited": a.prohibited,
            "counts": self.counts_json(),
            "ledger_head": self.evidence.ledger.head.as_ref().map(|(s, h)| json!({"seq": s, "hash": h})),
            "ledger_intact": self.evidence.ledger.intact,
            "format": format,
        })
    }

    pub fn to_json(&self, catalog: &Catalog) -> Value {
        let a = &self.assessment;
        let mut assessment = a.to_json(catalog);
        let obj = assessment
            .as_object_mut()
            .expect("assessment JSON is an object");
        obj.remove("obligations");
        obj.remove("not_applicable");
        let l = &self.evidence.ledger;
        obj.insert(
            "generated".into(),
            json!(guardline_ledger::record::time_text(self.evidence.now)),
        );
        obj.insert(
            "ledger".into(),
            json!({
                "location": l.location,
                "events": l.events,
                "exchanges": l.exchanges,
                "intact": l.intact,
                "problems": l.problems,
                "first_problem": l.first_problem,
                "head": l.head.as_ref().map(|(s, h)| json!({"seq": s, "hash": h})),
                "skipped_records": self.evidence.skipped,
            }),
        );
        obj.insert("counts".into(), self.counts_json());
        obj.insert("all_met".into(), json!(self.all_met()));
        obj.insert(
            "controls".into(),
            Value::Array(self.controls.iter().map(control_json).collect()),
        );
        obj.insert(
            "corpus".into(),
            match &self.evidence.corpus {
                Some(c) => json!({
                    "paths": c.paths, "files": c.files, "bytes": c.bytes,
                    "findings": c.findings, "findings_by_kind": c.by_kind, "errors": c.errors,
                }),
                None => Value::Null,
            },
        );
        obj.insert(
            "record".into(),
            match &self.record {
                Some(r) => reference_json(r),
                None => Value::Null,
            },
        );
        assessment
    }
}

pub fn reference_json(r: &RecordRef) -> Value {
    let mut o = json!({"seq": r.seq, "hash": r.hash});
    if !r.time.is_empty() {
        o["time"] = json!(r.time);
    }
    o
}

fn control_json(c: &ControlStatus) -> Value {
    json!({
        "control": c.control.id,
        "title": c.control.title,
        "title_zh": c.control.title_zh,
        "basis": c.control.basis,
        "dimension": c.control.dimension,
        "status": c.status.as_str(),
        "because": c.because.iter().map(|(en, zh)| json!({"text": en, "text_zh": zh})).collect::<Vec<_>>(),
        "evidence": c.pieces.iter().map(|p| {
            let mut o = json!({"check": p.check, "outcome": p.outcome.as_str(), "detail": p.detail});
            if let Some(r) = &p.reference { o["ledger"] = reference_json(r); }
            o
        }).collect::<Vec<_>>(),
    })
}

/// The status the pieces give (see the module documentation).
pub fn combine(pieces: &[Piece]) -> Status {
    let alt = pieces.iter().find(|p| p.alternative).map(|p| p.outcome);
    let own: Vec<Outcome> = pieces
        .iter()
        .filter(|p| !p.alternative)
        .map(|p| match (p.outcome, alt) {
            (Outcome::Absent, Some(Outcome::Pass)) => Outcome::Pass,
            (Outcome::Absent, Some(Outcome::Stale)) => Outcome::Stale,
            (o, _) => o,
        })
        .collect();
    let outcomes: Vec<Outcome> = if own.is_empty() {
        alt.into_iter().collect()
    } else {
        own
    };
    let n_pass = outcomes.iter().filter(|o| **o == Outcome::Pass).count();
    if outcomes.is_empty() {
        Status::Missing
    } else if n_pass == outcomes.len() {
        Status::Met
    } else if n_pass > 0 {
        Status::PartlyMet
    } else if outcomes.contains(&Outcome::Fail) {
        Status::Missing
    } else if outcomes.contains(&Outcome::Stale) {
        Status::Expired
    } else {
        Status::Missing
    }
}

fn pieces(control: &Control, a: &Assessment, ev: &EvidenceSet, catalog: &Catalog) -> Vec<Piece> {
    let mut out = Vec::new();
    for check in &control.automatic {
        if let Some(p) = automatic(check, a, ev, catalog) {
            out.push(p);
        }
    }
    if control.attestation != AttestationMode::None {
        let mut p = attestation(control, ev);
        p.alternative = control.attestation == AttestationMode::Alternative;
        out.push(p);
    }
    out
}

fn piece(check: &str, outcome: Outcome, detail: String, reference: Option<RecordRef>) -> Piece {
    Piece {
        check: check.to_string(),
        outcome,
        detail,
        reference,
        alternative: false,
    }
}

/// One automatic check; `None` when it does not concern this system (no RAG corpus declared).
fn automatic(check: &str, a: &Assessment, ev: &EvidenceSet, catalog: &Catalog) -> Option<Piece> {
    if let Some(suite) = check.strip_prefix("eval.") {
        return Some(eval(check, suite, ev, catalog));
    }
    if check.starts_with("gateway.") {
        return Some(gateway(check, a, ev, catalog));
    }
    Some(match check {
        "ledger.exchanges" => {
            let l = &ev.ledger;
            let head = l.head.as_ref().map(|(seq, hash)| RecordRef {
                seq: *seq,
                hash: hash.clone(),
                time: String::new(),
            });
            if !l.intact {
                piece(
                    check,
                    Outcome::Fail,
                    format!(
                        "the ledger does not verify: {} problem(s), first {}",
                        l.problems,
                        l.first_problem.as_deref().unwrap_or("?")
                    ),
                    head,
                )
            } else if l.exchanges == 0 {
                piece(
                    check,
                    Outcome::Absent,
                    "no exchange is recorded in the ledger".into(),
                    head,
                )
            } else {
                piece(
                    check,
                    Outcome::Pass,
                    format!(
                        "{} exchanges recorded; the chain of {} records verifies intact up to its head",
                        l.exchanges, l.events
                    ),
                    head,
                )
            }
        }
        "ledger.register" => {
            let sha = &a.manifest.sha256;
            let current = ev
                .registrations
                .iter()
                .rev()
                .find(|r| &r.manifest_sha256 == sha);
            match (current, ev.registrations.last()) {
                (Some(r), _) => piece(
                    check,
                    Outcome::Pass,
                    format!("assessed as {} with this manifest (sha256 {}…)", r.tier, prefix(sha, 12)),
                    Some(r.record.clone()),
                ),
                (None, Some(last)) => piece(
                    check,
                    Outcome::Stale,
                    "the manifest has changed since its last assessment; run `guardline assess` again".into(),
                    Some(last.record.clone()),
                ),
                (None, None) => piece(
                    check,
                    Outcome::Absent,
                    "never assessed: run `guardline assess` to register it".into(),
                    None,
                ),
            }
        }
        "manifest.oversight" => match (a.oversight, &a.gap) {
            (None, _) => piece(
                check,
                Outcome::Fail,
                "prohibited: no oversight makes it permissible".into(),
                None,
            ),
            (Some(req), None) => piece(
                check,
                Outcome::Pass,
                format!(
                    "declared {} meets the required {}",
                    a.manifest.autonomy, req
                ),
                None,
            ),
            (Some(req), Some(g)) => piece(
                check,
                Outcome::Fail,
                format!(
                    "declared {} is weaker than the required {} (demanded by {})",
                    g.declared,
                    req,
                    g.demanded_by.join(", ")
                ),
                None,
            ),
        },
        "corpus.personal_data" => {
            let c = ev.corpus.as_ref()?;
            if c.files == 0 {
                let why = if c.errors.is_empty() {
                    "no files".to_string()
                } else {
                    c.errors.join("; ")
                };
                piece(
                    check,
                    Outcome::Absent,
                    format!("the RAG corpus could not be scanned: {why}"),
                    None,
                )
            } else if c.findings > 0 {
                let kinds: Vec<String> =
                    c.by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
                piece(
                    check,
                    Outcome::Fail,
                    format!(
                        "{} finding(s) in {} file(s) of the RAG corpus: {}",
                        c.findings,
                        c.files,
                        kinds.join(", ")
                    ),
                    None,
                )
            } else if !c.errors.is_empty() {
                piece(
                    check,
                    Outcome::Fail,
                    format!(
                        "{} input(s) could not be scanned: {}",
                        c.errors.len(),
                        c.errors.join("; ")
                    ),
                    None,
                )
            } else {
                piece(
                    check,
                    Outcome::Pass,
                    format!(
                        "{} file(s), {} bytes scanned: no personal data or secrets",
                        c.files, c.bytes
                    ),
                    None,
                )
            }
        }
        other => piece(other, Outcome::Absent, "unknown check".into(), None),
    })
}

fn eval(check: &str, suite: &str, ev: &EvidenceSet, catalog: &Catalog) -> Piece {
    let Some(m) = catalog.eval_mapping(suite) else {
        return piece(
            check,
            Outcome::Absent,
            "no threshold for this suite".into(),
            None,
        );
    };
    let latest = ev
        .eval_runs
        .iter()
        .filter_map(|r| r.suites.iter().find(|s| s.name == suite).map(|s| (r, s)))
        .max_by_key(|(r, _)| (r.finished, r.record.seq));
    let Some((run, result)) = latest else {
        return piece(
            check,
            Outcome::Absent,
            format!("no `{suite}` evaluation run of this system in the ledger (`guardline eval`)"),
            None,
        );
    };
    let reference = Some(run.record.clone());
    let when = run.finished.format("%Y-%m-%d");
    let Some(metric) = result.metrics.get(&m.metric) else {
        return piece(
            check,
            Outcome::Fail,
            format!("run {} ({when}) reports no {}", run.run_id, m.metric),
            reference,
        );
    };
    let interval = match (metric.low, metric.high) {
        (Some(lo), Some(hi)) => format!(" [{lo:.3}, {hi:.3}]"),
        _ => String::new(),
    };
    let n = metric
        .n
        .or(result.n)
        .map(|n| format!(", n = {n}"))
        .unwrap_or_default();
    let age = ev.now - run.finished;
    let fresh = Duration::days(i64::from(catalog.evidence.eval_fresh_days));
    let pass = m.passes(metric.value);
    let measured = format!(
        "run {} ({when}): {} = {:.3}{interval}{n}; needs {}",
        run.run_id,
        m.metric,
        metric.value,
        m.threshold_text()
    );
    if age > fresh {
        piece(
            check,
            Outcome::Stale,
            format!(
                "{measured}; older than {} days",
                catalog.evidence.eval_fresh_days
            ),
            reference,
        )
    } else if pass {
        // The point estimate meets the threshold; say so when its 95% interval does not (0 of
        // 30 leaks is "≤ 1%" by the estimate, but could be 11%): the run was too small to show
        // it, which an auditor should see. It still counts: the built-in suites are sized to
        // run often, not to prove 1% bounds.
        let doubt = match (metric.low, metric.high) {
            (Some(lo), Some(hi)) if !(m.passes(lo) && m.passes(hi)) => {
                "; the estimate meets it, its 95% interval does not: too few probes to show the \
                 threshold (a larger data set, `guardline eval --dataset`, would)"
                    .to_string()
            }
            _ => String::new(),
        };
        piece(
            check,
            Outcome::Pass,
            format!("{measured}{doubt}"),
            reference,
        )
    } else {
        piece(
            check,
            Outcome::Fail,
            format!("{measured}: fails"),
            reference,
        )
    }
}

const ACTIONS: [&str; 5] = ["allow", "flag", "pseudonymise", "redact", "block"];

fn severity(action: &str) -> usize {
    ACTIONS.iter().position(|a| *a == action).unwrap_or(0)
}

/// `*` and `?` globs, as policy kinds use them (`hk_*`, `secret.*`).
fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    // Bounded: kind names are short; a pathological pattern is not worth the recursion.
    pattern.len() <= 64 && text.len() <= 64 && go(pattern.as_bytes(), text.as_bytes())
}

fn dimension_of(kind: &str) -> &'static str {
    if kind.starts_with("secret.") || kind.starts_with("injection.") {
        "security"
    } else if kind.starts_with("harm.") {
        "crime"
    } else {
        "privacy"
    }
}

/// What a recorded stage policy does with a finding of `kind` scored `score`:
/// `(action, rule id)`.
pub fn decide(stage: &Value, kind: &str, score: f64, new_in_response: bool) -> (String, String) {
    let dim = dimension_of(kind);
    if let Some(rules) = stage.get("rules").and_then(Value::as_array) {
        for r in rules {
            let strs = |k: &str| -> Vec<&str> {
                r.get(k)
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default()
            };
            let kind_ok = strs("kinds").iter().any(|g| glob(g, kind));
            let dim_ok = strs("dimensions").contains(&dim);
            // `min_score` is recorded as a decimal string (ledger bodies carry no floats); a
            // number from an older record is read too, and one that reads as neither is
            // ignored rather than trusted to exclude the probe.
            let min = r.get("min_score").and_then(|v| match v {
                Value::String(s) => s.parse::<f64>().ok(),
                Value::Number(n) => n.as_f64(),
                _ => None,
            });
            let score_ok = min.is_none_or(|m| score >= m);
            let new_ok = new_in_response
                || !r
                    .get("new_in_response")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
            if (kind_ok || dim_ok) && score_ok && new_ok {
                let action = r.get("action").and_then(Value::as_str).unwrap_or("allow");
                let id = r.get("id").and_then(Value::as_str).unwrap_or("?");
                return (action.to_string(), id.to_string());
            }
        }
    }
    let default = stage
        .get("default")
        .and_then(Value::as_str)
        .unwrap_or("allow");
    (default.to_string(), "default".to_string())
}

/// Checks that every probe kind gets at least `floor`; the detail lists what falls short.
fn probe_at(stage: &Value, kinds: &[String], score: f64, new: bool, floor: &str) -> (bool, String) {
    let mut weak = Vec::new();
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for k in kinds {
        let (action, rule) = decide(stage, k, score, new);
        if severity(&action) < severity(floor) {
            weak.push(format!("{k} → {action} ({rule})"));
        } else {
            seen.entry(format!("{action} ({rule})"))
                .or_default()
                .push(k.clone());
        }
    }
    if weak.is_empty() {
        let parts: Vec<String> = seen
            .iter()
            .map(|(a, ks)| format!("{} → {a}", ks.join(", ")))
            .collect();
        (true, parts.join("; "))
    } else {
        (false, format!("below {floor}: {}", weak.join("; ")))
    }
}

fn gateway(check: &str, a: &Assessment, ev: &EvidenceSet, catalog: &Catalog) -> Piece {
    let Some(tenant) = &a.manifest.gateway_tenant else {
        return piece(
            check,
            Outcome::Absent,
            "the manifest does not route this system through `guardline serve` (no [gateway] table)".into(),
            None,
        );
    };
    let Some(g) = &ev.gateway else {
        return piece(
            check,
            Outcome::Absent,
            "no gateway start-up record (config_change/gateway_start) in the ledger".into(),
            None,
        );
    };
    if let Some(stop) = &g.stopped {
        let (detail, at) = match stop {
            Stop::Recorded(at) => (
                format!(
                    "the gateway stopped at {} (ledger #{}) and none has started since",
                    at.time, at.seq
                ),
                at,
            ),
            Stop::Silent {
                last_seen: at,
                heartbeat_secs,
            } => (
                format!(
                    "the gateway has recorded nothing since {} (ledger #{}) though it records a \
                     heartbeat every {heartbeat_secs} s: it was killed or cut off from the \
                     ledger, and none has started since",
                    at.time, at.seq
                ),
                at,
            ),
        };
        return piece(check, Outcome::Absent, detail, Some(at.clone()));
    }
    let reference = Some(g.record.clone());
    if check == "gateway.access_keys" {
        return match g.access.as_str() {
            "keys" => piece(
                check,
                Outcome::Pass,
                "the gateway admits only clients with keys".into(),
                reference,
            ),
            "open" => piece(
                check,
                Outcome::Fail,
                "the gateway runs open: no client keys".into(),
                reference,
            ),
            other => piece(
                check,
                Outcome::Absent,
                format!("the start-up record's access is `{other}`"),
                reference,
            ),
        };
    }
    let Some((policy_tenant, policy)) = policy_for(g, tenant) else {
        return piece(
            check,
            Outcome::Absent,
            format!(
                "the gateway start-up record has no policy for tenant `{tenant}` nor a default"
            ),
            reference,
        );
    };
    let pname = policy.get("name").and_then(Value::as_str).unwrap_or("?");
    let psha = policy.get("sha256").and_then(Value::as_str).unwrap_or("");
    let which = format!(
        "policy {pname} (sha256 {}…, tenant {policy_tenant})",
        prefix(psha, 12)
    );
    let probes = &catalog.evidence.gateway;
    // Probe findings carry the catalogue's `probe_score`.
    let probe = |stage: &Value, kinds: &[String], new: bool, floor: &str| {
        probe_at(stage, kinds, probes.probe_score, new, floor)
    };
    let null = Value::Null;
    let request = policy.get("request").unwrap_or(&null);
    let response = policy.get("response").unwrap_or(&null);
    let flag_piece = |ok: bool, what: String| {
        piece(
            check,
            if ok { Outcome::Pass } else { Outcome::Fail },
            format!("{which}: {what}"),
            reference.clone(),
        )
    };
    match check {
        "gateway.request_privacy" => {
            let (ok, d) = probe(request, &probes.personal_kinds, false, "pseudonymise");
            flag_piece(ok, format!("requests: {d}"))
        }
        "gateway.response_privacy" => {
            let (ok1, d1) = probe(response, &probes.secret_kinds, true, "redact");
            let (ok2, d2) = probe(response, &probes.personal_kinds, true, "flag");
            flag_piece(
                ok1 && ok2,
                format!("responses: {d1}; new personal data: {d2}"),
            )
        }
        "gateway.request_injection" => {
            let (ok, d) = probe(request, &probes.injection_kinds, false, "block");
            flag_piece(ok, format!("requests: {d}"))
        }
        "gateway.no_content_retained" => {
            match policy.get("retain_content").and_then(Value::as_bool) {
                Some(false) => {
                    flag_piece(
                        true,
                        match &g.kept_pseudonyms {
                            None => "no prompt or completion text is kept".into(),
                            // Personal data at rest, encrypted and for a limited time: said, so that
                            // the reader can weigh it.
                            Some(k) => format!(
                            "no prompt or completion text is kept; pseudonymised values are kept \
                             encrypted for {} days to restore continued conversations \
                             ([vault] keep, {})",
                            k.get("keep_days").and_then(Value::as_u64).unwrap_or_default(),
                            k.get("store").and_then(Value::as_str).unwrap_or("?")
                        ),
                        },
                    )
                }
                Some(true) => flag_piece(
                    false,
                    "retain_content = true: raw content is kept in the ledger".into(),
                ),
                None => piece(
                    check,
                    Outcome::Absent,
                    format!("{which}: retain_content not recorded"),
                    reference.clone(),
                ),
            }
        }
        "gateway.disclosure" => match policy.get("disclosure").and_then(Value::as_bool) {
            Some(true) => flag_piece(
                true,
                "a visible bilingual disclosure is appended to responses".into(),
            ),
            Some(false) => flag_piece(
                false,
                "disclosure is off (only the x-guardline-ai-generated header)".into(),
            ),
            None => piece(
                check,
                Outcome::Absent,
                format!("{which}: disclosure not recorded"),
                reference.clone(),
            ),
        },
        "gateway.labelled" => flag_piece(
            true,
            "every response carries x-guardline-ai-generated: true".into(),
        ),
        _ => piece(
            check,
            Outcome::Absent,
            "unknown check".into(),
            reference.clone(),
        ),
    }
}

fn policy_for<'a>(g: &'a GatewayStart, tenant: &'a str) -> Option<(&'a str, &'a Value)> {
    g.policies
        .get(tenant)
        .map(|p| (tenant, p))
        .or_else(|| g.policies.get("default").map(|p| ("default", p)))
}

/// Whether an attestation is in force on `today`, and why not.
fn lapsed(att: &Attestation, control: &Control, now: DateTime<Utc>) -> Option<String> {
    let today = now.date_naive();
    if att.expiry_unreadable {
        return Some("its expiry date is unreadable".into());
    }
    if let Some(exp) = att.expires {
        if exp < today {
            return Some(format!("expired on {exp}"));
        }
    }
    if let Some(days) = control.max_age_days {
        let recorded = DateTime::parse_from_rfc3339(&att.record.time)
            .map(|t| t.with_timezone(&Utc).date_naive())
            .unwrap_or(NaiveDate::MIN);
        if (today - recorded).num_days() > i64::from(days) {
            return Some(format!("recorded {recorded}, more than {days} days ago"));
        }
    }
    None
}

fn describe(att: &Attestation) -> String {
    let mut s = format!("attested by {} on {}", att.by, prefix(&att.record.time, 10));
    if let Some(d) = &att.document {
        s.push_str(&format!(
            ", document {} (sha256 {}…, {} bytes)",
            d.name,
            prefix(&d.sha256, 12),
            d.size
        ));
    }
    if let Some(e) = att.expires {
        s.push_str(&format!(", expires {e}"));
    }
    if let Some(n) = &att.note {
        let n: String = n.chars().take(120).collect();
        s.push_str(&format!(": “{n}”"));
    }
    s
}

fn attestation(control: &Control, ev: &EvidenceSet) -> Piece {
    let all: Vec<&Attestation> = ev
        .attestations
        .iter()
        .filter(|a| a.control == control.id)
        .collect();
    let check = "attestation";
    let Some(latest) = all.last() else {
        let doc = if control.document {
            " with a document"
        } else {
            ""
        };
        return piece(
            check,
            Outcome::Absent,
            format!(
                "no attestation: `guardline evidence add --control {}{}`",
                control.id,
                if control.document { " --file …" } else { "" }
            ) + doc,
            None,
        );
    };
    if let Some(valid) = all.iter().rev().find(|a| {
        lapsed(a, control, ev.now).is_none() && (!control.document || a.document.is_some())
    }) {
        return piece(
            check,
            Outcome::Pass,
            describe(valid),
            Some(valid.record.clone()),
        );
    }
    if let Some(old) = all
        .iter()
        .rev()
        .find(|a| lapsed(a, control, ev.now).is_some())
    {
        let why = lapsed(old, control, ev.now).unwrap_or_default();
        return piece(
            check,
            Outcome::Stale,
            format!("{} — {why}", describe(old)),
            Some(old.record.clone()),
        );
    }
    piece(
        check,
        Outcome::Fail,
        format!(
            "{} — this control needs a document (--file)",
            describe(latest)
        ),
        Some(latest.record.clone()),
    )
}

/// Labels for a status, `(en, zh)`.
pub fn status_label(catalog: &Catalog, s: Status) -> (String, String) {
    catalog.label("statuses", s.as_str())
}

/// A reason's tier/oversight effect as short text.
pub fn effect_text(r: &Reason) -> String {
    let mut parts = Vec::new();
    if let Some(t) = r.tier {
        parts.push(format!("tier ≥ {t}"));
    }
    if let Some(o) = r.oversight {
        parts.push(format!("oversight ≥ {o}"));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests;
