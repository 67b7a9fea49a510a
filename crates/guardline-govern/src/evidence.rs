//! Evidence: what the ledger (and the system's RAG corpus) says about a system, read into plain
//! values that [`crate::report`] turns into statuses. Reading is lenient: a record whose body is
//! pruned or malformed is skipped and counted, never fatal.
//!
//! The record contracts read here:
//! - `attestation` (`guardline evidence add`): `{control, by, note?, expires? "YYYY-MM-DD",
//!   document? {name, sha256, size}, system?}`; no `system` means every system.
//! - `config_change` with `change = "gateway_start"` (written by `guardline serve` at start-up),
//!   `"gateway_reload"` (at `kill -HUP`) or `"gateway_stop"` (at a graceful shutdown):
//!   `{instance?, access: "keys"|"open", policies: {TENANT: {name, sha256, request, response,
//!   disclosure, retain_content}}}`.
//! - `eval_run` (`guardline eval`): `{run_id, system?, target: {host, model}, started, finished,
//!   suites: [{name, n, metrics: {METRIC: {value, low, high, count, n}}}]}`; the ledger refuses
//!   floating-point numbers, so `value`, `low` and `high` are read from decimal strings
//!   (`"0.031"`), integers, or `value_permille`/`value_ppm` integers.
//! - `assessment` (`guardline assess`): `{system, manifest_sha256, tier, …}`.
//! - `exchange`: counted; the whole chain is verified.

use crate::catalog::Catalog;
use crate::manifest::Manifest;
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::StreamExt;
use guardline_ledger::{Filter, Ledger, LedgerError, Record, VerifyOptions};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Where a piece of evidence is in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRef {
    pub seq: i64,
    pub hash: String,
    pub time: String,
}

impl RecordRef {
    pub fn of(r: &Record) -> RecordRef {
        RecordRef {
            seq: r.seq,
            hash: r.hash.clone(),
            time: r.time.clone(),
        }
    }

    pub fn short_hash(&self) -> &str {
        prefix(&self.hash, 12)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub name: String,
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attestation {
    pub record: RecordRef,
    pub control: String,
    pub by: String,
    pub note: Option<String>,
    pub expires: Option<NaiveDate>,
    /// `expires` was given but is not a date: the attestation is not trusted to be in force.
    pub expiry_unreadable: bool,
    pub document: Option<Document>,
    pub system: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GatewayStart {
    pub record: RecordRef,
    /// `keys` or `open`.
    pub access: String,
    /// Per tenant (`default` included): the policy summary as recorded.
    pub policies: BTreeMap<String, Value>,
    /// The gateway process that wrote it (records before there were instances: none).
    pub instance: Option<String>,
    /// How often this gateway records a heartbeat (`heartbeat_secs`); none for gateways that do
    /// not (older versions, or heartbeats turned off), which count until they record a stop.
    pub heartbeat_secs: Option<u64>,
    /// Its latest sign of life: this start or reload, or a later heartbeat.
    pub last_seen: RecordRef,
    /// Why it no longer counts, when no gateway is running since.
    pub stopped: Option<Stop>,
    /// `[vault] keep`: where pseudonymised values are kept between requests, and for how many
    /// days (`{"store": …, "keep_days": …}`); none when nothing is kept.
    pub kept_pseudonyms: Option<Value>,
}

/// How a gateway went out of service.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    /// Its `gateway_stop` record: a graceful shutdown.
    Recorded(RecordRef),
    /// No stop record, but it missed [`MISSED_HEARTBEATS`] heartbeats: killed, crashed or cut
    /// off from the ledger. The record is its last sign of life.
    Silent {
        last_seen: RecordRef,
        heartbeat_secs: u64,
    },
}

/// A gateway that has recorded nothing for this many of its heartbeat intervals (plus a minute's
/// grace for a slow ledger) is no longer counted as running.
pub const MISSED_HEARTBEATS: u64 = 2;

#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub value: f64,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub n: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SuiteResult {
    pub name: String,
    pub n: Option<u64>,
    pub metrics: BTreeMap<String, Metric>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EvalRun {
    pub record: RecordRef,
    pub run_id: String,
    pub system: Option<String>,
    pub model: Option<String>,
    /// When it finished (or the record's time when the body has no usable `finished`).
    pub finished: DateTime<Utc>,
    pub suites: Vec<SuiteResult>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub record: RecordRef,
    pub manifest_sha256: String,
    pub tier: String,
}

/// What verifying the ledger found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LedgerState {
    pub events: i64,
    pub exchanges: i64,
    pub intact: bool,
    pub problems: usize,
    pub first_problem: Option<String>,
    /// `(seq, hash)` of the last record.
    pub head: Option<(i64, String)>,
    /// Where the ledger is (for the report).
    pub location: String,
}

/// The result of scanning the declared RAG corpus.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CorpusScan {
    pub paths: Vec<String>,
    pub files: u64,
    pub bytes: u64,
    pub findings: u64,
    pub by_kind: BTreeMap<String, u64>,
    /// Inputs that could not be read (a missing path included).
    pub errors: Vec<String>,
}

/// Everything known about one system, at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceSet {
    pub now: DateTime<Utc>,
    /// Attestations for this system (scoped to it, or unscoped), in ledger order.
    pub attestations: Vec<Attestation>,
    /// The latest gateway start-up record, if any.
    pub gateway: Option<GatewayStart>,
    /// Evaluation runs of this system (by name, or by model when the run names no system).
    pub eval_runs: Vec<EvalRun>,
    /// Earlier assessments of this system, in ledger order.
    pub registrations: Vec<Registration>,
    pub ledger: LedgerState,
    pub corpus: Option<CorpusScan>,
    /// Records skipped because their body was pruned or malformed, by kind.
    pub skipped: BTreeMap<String, u64>,
}

impl EvidenceSet {
    /// No evidence at all, as of `now`.
    pub fn empty(now: DateTime<Utc>) -> EvidenceSet {
        EvidenceSet {
            now,
            attestations: Vec::new(),
            gateway: None,
            eval_runs: Vec::new(),
            registrations: Vec::new(),
            ledger: LedgerState::default(),
            corpus: None,
            skipped: BTreeMap::new(),
        }
    }
}

/// The first `n` characters of `s` (ledger text may be anything; never split a character).
pub fn prefix(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn body(r: &Record) -> Option<Value> {
    let b = r.body.as_deref()?;
    let v: Value = serde_json::from_str(b).ok()?;
    v.is_object().then_some(v)
}

fn str_field(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

/// Parses an attestation body; `None` if it lacks a control.
pub fn parse_attestation(r: &Record, b: &Value) -> Option<Attestation> {
    let control = str_field(b, "control")?;
    let document = b.get("document").and_then(|d| {
        Some(Document {
            name: str_field(d, "name").unwrap_or_default(),
            sha256: str_field(d, "sha256")?,
            size: d.get("size").and_then(Value::as_u64).unwrap_or(0),
        })
    });
    let expires =
        str_field(b, "expires").and_then(|e| NaiveDate::parse_from_str(&e, "%Y-%m-%d").ok());
    Some(Attestation {
        record: RecordRef::of(r),
        control,
        by: str_field(b, "by").unwrap_or_default(),
        note: str_field(b, "note"),
        expires,
        expiry_unreadable: b.get("expires").is_some_and(|e| !e.is_null()) && expires.is_none(),
        document,
        system: str_field(b, "system"),
    })
}

/// Parses a `gateway_start` body; `None` for other configuration changes.
pub fn parse_gateway_start(r: &Record, b: &Value) -> Option<GatewayStart> {
    // A reload (SIGHUP) records the same shape: the policies in force from then on.
    if !matches!(
        b.get("change").and_then(Value::as_str),
        Some("gateway_start" | "gateway_reload")
    ) {
        return None;
    }
    let policies = b
        .get("policies")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    Some(GatewayStart {
        record: RecordRef::of(r),
        access: str_field(b, "access").unwrap_or_default(),
        policies,
        instance: str_field(b, "instance"),
        heartbeat_secs: b
            .get("heartbeat_secs")
            .and_then(Value::as_u64)
            .filter(|&s| s > 0),
        last_seen: RecordRef::of(r),
        stopped: None,
        kept_pseudonyms: b.get("kept_pseudonyms").filter(|v| v.is_object()).cloned(),
    })
}

/// Whether a running gateway has been silent too long, as of `now`.
fn silent(g: &GatewayStart, now: DateTime<Utc>) -> Option<Stop> {
    let every = g.heartbeat_secs?;
    let seen = parse_time(&g.last_seen.time)?;
    let allowed = every
        .saturating_mul(MISSED_HEARTBEATS)
        .saturating_add(60)
        .min(i64::MAX as u64 / 1000);
    let late = now.signed_duration_since(seen) > chrono::Duration::seconds(allowed as i64);
    late.then(|| Stop::Silent {
        last_seen: g.last_seen.clone(),
        heartbeat_secs: every,
    })
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A metric's number. Ledger bodies carry no floating-point numbers (the ledger refuses them, so
/// that third-party verifiers reproduce body bytes exactly), so a fraction arrives as a decimal
/// string (`"0.031"`), as `KEY_permille` or `KEY_ppm` integers, or as a plain integer.
fn number(v: &Value, key: &str) -> Option<f64> {
    match v.get(key) {
        Some(Value::Number(n)) => return n.as_f64().filter(|f| f.is_finite()),
        Some(Value::String(s)) => return s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => {}
    }
    if let Some(n) = v.get(format!("{key}_permille")).and_then(Value::as_i64) {
        return Some(n as f64 / 1000.0);
    }
    v.get(format!("{key}_ppm"))
        .and_then(Value::as_i64)
        .map(|n| n as f64 / 1_000_000.0)
}

/// Parses an `eval_run` body.
pub fn parse_eval_run(r: &Record, b: &Value) -> Option<EvalRun> {
    let suites = b
        .get("suites")
        .and_then(Value::as_array)?
        .iter()
        .filter_map(|s| {
            let name = str_field(s, "name")?;
            let metrics = s
                .get("metrics")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| {
                            Some((
                                k.clone(),
                                Metric {
                                    value: number(v, "value")?,
                                    low: number(v, "low"),
                                    high: number(v, "high"),
                                    n: v.get("n").and_then(Value::as_u64),
                                },
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(SuiteResult {
                name,
                n: s.get("n").and_then(Value::as_u64),
                metrics,
            })
        })
        .collect();
    let finished = str_field(b, "finished")
        .and_then(|t| parse_time(&t))
        .or_else(|| parse_time(&r.time))?;
    Some(EvalRun {
        record: RecordRef::of(r),
        run_id: str_field(b, "run_id").unwrap_or_default(),
        system: str_field(b, "system"),
        model: b
            .get("target")
            .and_then(|t| t.get("model"))
            .and_then(Value::as_str)
            .map(str::to_string),
        finished,
        suites,
    })
}

/// Reads a system's evidence from the ledger, verifies the chain and scans the declared RAG
/// corpus (paths relative to `manifest_dir`).
pub async fn collect(
    ledger: &Ledger,
    location: &str,
    manifest: &Manifest,
    manifest_dir: &Path,
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Result<EvidenceSet, LedgerError> {
    let mut ev = EvidenceSet::empty(now);
    let skip = |kind: &str, ev: &mut EvidenceSet| {
        *ev.skipped.entry(kind.to_string()).or_default() += 1;
    };

    let mut stream = ledger.records(Filter {
        kind: Some("attestation".into()),
        ..Default::default()
    });
    while let Some(r) = stream.next().await {
        let r = r?;
        match body(&r).and_then(|b| parse_attestation(&r, &b)) {
            Some(a) => {
                if a.system.as_deref().is_none_or(|s| s == manifest.name) {
                    ev.attestations.push(a);
                }
            }
            None => skip("attestation", &mut ev),
        }
    }
    drop(stream);

    let mut stream = ledger.records(Filter {
        kind: Some("config_change".into()),
        ..Default::default()
    });
    // Per gateway instance, its latest start or reload; a stop takes it out of the running, and
    // so does silence (below).
    let mut running: BTreeMap<String, GatewayStart> = BTreeMap::new();
    let mut stopped: BTreeMap<String, (GatewayStart, Stop)> = BTreeMap::new();
    while let Some(r) = stream.next().await {
        let r = r?;
        match body(&r) {
            Some(b) => {
                if let Some(g) = parse_gateway_start(&r, &b) {
                    let instance = g.instance.clone().unwrap_or_default();
                    if !instance.is_empty() {
                        // Records without an instance come from before instances existed: a
                        // later start supersedes them, as every start used to.
                        running.remove("");
                    }
                    stopped.remove(&instance);
                    running.insert(instance, g);
                } else {
                    let instance = str_field(&b, "instance").unwrap_or_default();
                    match b.get("change").and_then(Value::as_str) {
                        Some("gateway_stop") => {
                            if let Some(g) = running.remove(&instance) {
                                stopped.insert(instance, (g, Stop::Recorded(RecordRef::of(&r))));
                            }
                        }
                        Some("gateway_heartbeat") => {
                            if let Some(g) = running.get_mut(&instance) {
                                g.last_seen = RecordRef::of(&r);
                            }
                        }
                        _ => {}
                    }
                }
            }
            None => skip("config_change", &mut ev),
        }
    }
    drop(stream);
    let silent: Vec<(String, Stop)> = running
        .iter()
        .filter_map(|(i, g)| silent(g, now).map(|s| (i.clone(), s)))
        .collect();
    for (instance, stop) in silent {
        if let Some(g) = running.remove(&instance) {
            stopped.insert(instance, (g, stop));
        }
    }
    // The newest running gateway's policy; with none running, the last one's, marked stopped.
    ev.gateway = running
        .into_values()
        .max_by_key(|g| g.record.seq)
        .or_else(|| {
            stopped
                .into_values()
                .max_by_key(|(g, _)| g.record.seq)
                .map(|(g, stop)| GatewayStart {
                    stopped: Some(stop),
                    ..g
                })
        });

    let mut stream = ledger.records(Filter {
        kind: Some("eval_run".into()),
        ..Default::default()
    });
    while let Some(r) = stream.next().await {
        let r = r?;
        match body(&r).and_then(|b| parse_eval_run(&r, &b)) {
            Some(run) => {
                let ours = match &run.system {
                    Some(s) => *s == manifest.name,
                    None => run
                        .model
                        .as_ref()
                        .is_some_and(|m| manifest.models.contains(m)),
                };
                if ours {
                    ev.eval_runs.push(run);
                }
            }
            None => skip("eval_run", &mut ev),
        }
    }
    drop(stream);

    let mut stream = ledger.records(Filter {
        kind: Some("assessment".into()),
        ..Default::default()
    });
    while let Some(r) = stream.next().await {
        let r = r?;
        match body(&r) {
            Some(b) => {
                if str_field(&b, "system").as_deref() == Some(manifest.name.as_str()) {
                    ev.registrations.push(Registration {
                        record: RecordRef::of(&r),
                        manifest_sha256: str_field(&b, "manifest_sha256").unwrap_or_default(),
                        tier: str_field(&b, "tier").unwrap_or_default(),
                    });
                }
            }
            None => skip("assessment", &mut ev),
        }
    }
    drop(stream);

    let stats = ledger.stats().await?;
    let report = ledger.verify(&VerifyOptions::default()).await?;
    ev.ledger = LedgerState {
        events: report.events,
        exchanges: stats
            .by_kind
            .iter()
            .find(|(k, _)| k == "exchange")
            .map(|(_, n)| *n)
            .unwrap_or(0),
        intact: report.intact(),
        problems: report.problems_total,
        first_problem: report.problems.first().map(|p| p.to_string()),
        head: report.head.map(|h| (h.seq, h.hash)),
        location: location.to_string(),
    };

    if !manifest.rag_corpus.is_empty() {
        ev.corpus = Some(scan_corpus(manifest, manifest_dir, catalog));
    }
    Ok(ev)
}

/// Scans the manifest's RAG corpus with the detection engine (all personal-data and secret kinds).
pub fn scan_corpus(manifest: &Manifest, manifest_dir: &Path, catalog: &Catalog) -> CorpusScan {
    let settings = &catalog.evidence.corpus;
    let mut out = CorpusScan {
        paths: manifest.rag_corpus.clone(),
        ..Default::default()
    };
    let mut paths = Vec::new();
    for p in &manifest.rag_corpus {
        let path = manifest_dir.join(p);
        if path.exists() {
            paths.push(path);
        } else {
            out.errors.push(format!("{p}: no such file or directory"));
        }
    }
    if paths.is_empty() {
        return out;
    }
    let engine = match guardline_scan::build_engine(
        &settings.kinds,
        &settings.exclude_kinds,
        Some(settings.min_score),
    ) {
        Ok(e) => e,
        Err(e) => {
            out.errors.push(format!("scanner: {e}"));
            return out;
        }
    };
    let opts = guardline_scan::ScanOptions {
        paths,
        format: guardline_scan::OutputFormat::Jsonl,
        threads: 2,
        ..Default::default()
    };
    let mut sink = termcolor::NoColor::new(std::io::sink());
    let mut errors = Vec::new();
    match guardline_scan::run(
        &engine,
        &opts,
        &mut sink,
        &mut errors,
        &guardline_scan::NoProgress,
    ) {
        Ok(summary) => {
            out.files = summary.files;
            out.bytes = summary.bytes;
            out.findings = summary.findings;
            out.by_kind = summary.by_kind;
            for line in String::from_utf8_lossy(&errors).lines() {
                if !line.trim().is_empty() {
                    out.errors.push(line.trim().to_string());
                }
            }
        }
        Err(e) => out.errors.push(format!("scan failed: {e}")),
    }
    out
}
