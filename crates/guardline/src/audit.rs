//! `guardline audit`: verify, anchor, export and summarise the evidence ledger.

use crate::ledger_opts::{block_on, parse_time, LedgerArgs};
use crate::Global;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use futures_util::StreamExt;
use guardline_ledger::{checkpoint, Filter, NewEvent, Record, VerifyOptions};
use serde_json::{json, value::RawValue};
use std::io::Write;
use std::process::ExitCode;

#[derive(Args, Debug)]
#[command(
    about = "Verify, anchor, export and summarise the evidence ledger",
    long_about = "Verify, anchor, export and summarise the evidence ledger: the hash-chained record \
of every exchange, evaluation run, assessment and attestation (guideline §3.2.1 traceability and \
auditability). `verify` exits 0 when the chain is intact, 1 naming the first bad record, 2 on error."
)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Re-walk the chain and its signed checkpoints; exit 1 naming the first bad record
    Verify(VerifyArgs),
    /// Print `SEQ HASH` of the last record, to keep outside the ledger as an anchor
    Head(HeadArgs),
    /// Write records as JSON Lines or CSV
    Export(ExportArgs),
    /// Count records by kind, checkpoints, pruned bodies
    Stats(StatsArgs),
    /// Drop the bodies of old records (retention); the chain still verifies
    Prune(PruneArgs),
}

#[derive(Args, Debug)]
struct VerifyArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// `SEQ:HASH` from an earlier `audit head`: also catch truncation and rewrites up to there
    #[arg(long, value_name = "SEQ:HASH")]
    anchor: Option<String>,
    /// Public key (hex) whose checkpoints to trust; repeat for several nodes. Checkpoints signed
    /// by any other key then fail verification [default: report signers, trust any valid
    /// signature]
    #[arg(long = "trust-key", value_name = "HEX")]
    trust_keys: Vec<String>,
    /// How many problems to list
    #[arg(long, default_value_t = 10, value_name = "N")]
    max_problems: usize,
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
}

#[derive(Args, Debug)]
struct HeadArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
}

#[derive(Args, Debug)]
struct ExportArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Records at or after this time (`2026-11-01` or RFC 3339)
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Records before this time; a bare date includes that whole day (UTC)
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Only records of this kind (`exchange`, `attestation`, `eval_run`, …)
    #[arg(long)]
    kind: Option<String>,
    #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
    format: ExportFormat,
}

#[derive(Args, Debug)]
struct StatsArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("bound").required(true).args(["before", "older_than"])))]
struct PruneArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Drop bodies of records before this time (`2026-01-01` or RFC 3339)
    #[arg(long, value_name = "TIME")]
    before: Option<String>,
    /// Drop bodies of records older than this many days
    #[arg(long, value_name = "DAYS")]
    older_than: Option<u32>,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum ReportFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum ExportFormat {
    Jsonl,
    Csv,
}

pub fn run(args: AuditArgs, global: &Global) -> Result<ExitCode> {
    block_on(async move {
        match args.command {
            AuditCommand::Verify(a) => verify(a, global).await,
            AuditCommand::Head(a) => head(a, global).await,
            AuditCommand::Export(a) => export(a, global).await,
            AuditCommand::Stats(a) => stats(a, global).await,
            AuditCommand::Prune(a) => prune(a, global).await,
        }
    })?
}

fn parse_anchor(s: &str) -> Result<(i64, String)> {
    let (seq, hash) = s
        .split_once(':')
        .or_else(|| s.split_once(' '))
        .context("--anchor takes SEQ:HASH, as `guardline audit head` prints it")?;
    let seq: i64 = seq
        .trim()
        .parse()
        .with_context(|| format!("anchor sequence number `{seq}` is not a number"))?;
    let hash = hash.trim().to_ascii_lowercase();
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("anchor hash must be 64 hex digits");
    }
    Ok((seq, hash))
}

async fn verify(a: VerifyArgs, global: &Global) -> Result<ExitCode> {
    let anchor = a.anchor.as_deref().map(parse_anchor).transpose()?;
    for k in &a.trust_keys {
        if k.len() != 64 || !k.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("--trust-key takes a 64-hex-digit ed25519 public key");
        }
    }
    let ledger = a.ledger.open(global, false).await?;
    let report = ledger
        .verify(&VerifyOptions {
            anchor: anchor.clone(),
            trusted_keys: a.trust_keys.clone(),
            max_problems: a.max_problems,
        })
        .await?;
    let local_key = global
        .data_dir()
        .ok()
        .and_then(|d| checkpoint::load_key(&d).ok().flatten())
        .map(|k| checkpoint::public_hex(&k));
    let mut out = std::io::stdout().lock();
    if a.format == ReportFormat::Json {
        let v = json!({
            "intact": report.intact(),
            "events": report.events,
            "head": report.head.as_ref().map(|h| json!({"seq": h.seq, "hash": h.hash, "time": h.time})),
            "checkpoints": report.checkpoints,
            "signers": report.signers.iter().map(|(k, n)| json!({
                "key": k, "checkpoints": n, "local": local_key.as_deref() == Some(k.as_str()),
            })).collect::<Vec<_>>(),
            "pruned_bodies": report.pruned_bodies,
            "anchor_checked": report.anchor_checked,
            "problems_total": report.problems_total,
            "problems": report.problems.iter().map(|p| json!({"seq": p.seq, "what": p.what})).collect::<Vec<_>>(),
        });
        writeln!(out, "{v}")?;
    } else if report.intact() {
        let head = report.head.as_ref().map_or("empty".to_string(), |h| {
            format!("head {} {}", h.seq, h.hash)
        });
        writeln!(out, "ledger intact: {} records, {head}", report.events)?;
        let signers = report.signers.len();
        let mine = local_key
            .as_ref()
            .is_some_and(|k| report.signers.contains_key(k));
        writeln!(
            out,
            "  {} signed checkpoints verified ({} signer{}{})",
            report.checkpoints,
            signers,
            if signers == 1 { "" } else { "s" },
            if mine {
                ", including this data directory's key"
            } else {
                ""
            }
        )?;
        if report.pruned_bodies > 0 {
            writeln!(
                out,
                "  {} bodies pruned by retention (their digests still verify)",
                report.pruned_bodies
            )?;
        }
        if let Some((seq, _)) = &anchor {
            writeln!(out, "  anchor at record {seq} matches")?;
        }
    } else {
        let first = &report.problems[0];
        writeln!(
            out,
            "ledger NOT intact: first bad record {}: {}",
            first.seq, first.what
        )?;
        for p in &report.problems[1..] {
            writeln!(out, "  {p}")?;
        }
        if report.problems_total > report.problems.len() {
            writeln!(out, "  … {} problems in all", report.problems_total)?;
        }
    }
    Ok(if report.intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn head(a: HeadArgs, global: &Global) -> Result<ExitCode> {
    let ledger = a.ledger.open(global, false).await?;
    match ledger.head().await? {
        Some(h) => println!("{} {}", h.seq, h.hash),
        None => println!("0 {}", guardline_ledger::record::GENESIS),
    }
    Ok(ExitCode::SUCCESS)
}

async fn export(a: ExportArgs, global: &Global) -> Result<ExitCode> {
    let filter = Filter {
        since: a
            .since
            .as_deref()
            .map(|s| parse_time(s, false))
            .transpose()?,
        until: a
            .until
            .as_deref()
            .map(|s| parse_time(s, true))
            .transpose()?,
        kind: a.kind.clone(),
    };
    let ledger = a.ledger.open(global, false).await?;
    let mut records = ledger.records(filter);
    let stdout = std::io::stdout().lock();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout);
    match a.format {
        ExportFormat::Jsonl => {
            while let Some(r) = records.next().await {
                serde_json::to_writer(&mut out, &jsonl_record(&r?)?)?;
                out.write_all(b"\n")?;
            }
        }
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record([
                "seq",
                "time",
                "kind",
                "tenant",
                "body",
                "body_sha256",
                "prev_hash",
                "hash",
            ])?;
            while let Some(r) = records.next().await {
                let r = r?;
                w.write_record([
                    r.seq.to_string().as_str(),
                    &r.time,
                    &r.kind,
                    &r.tenant,
                    r.body.as_deref().unwrap_or(""),
                    &r.body_sha256,
                    &r.prev_hash,
                    &r.hash,
                ])?;
            }
            w.flush()?;
            return Ok(ExitCode::SUCCESS);
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[derive(serde::Serialize)]
struct JsonlRecord<'a> {
    seq: i64,
    time: &'a str,
    kind: &'a str,
    tenant: &'a str,
    /// The canonical body as stored (not re-serialised), `null` once pruned.
    body: Option<Body<'a>>,
    body_sha256: &'a str,
    prev_hash: &'a str,
    hash: &'a str,
}

#[derive(serde::Serialize)]
#[serde(untagged)]
enum Body<'a> {
    Json(&'a RawValue),
    /// A tampered body that is not JSON is exported as a string rather than refused: an auditor
    /// exporting a damaged ledger needs to see it.
    Text(&'a str),
}

fn jsonl_record(r: &Record) -> Result<JsonlRecord<'_>> {
    let body = r.body.as_deref().map(|b| {
        serde_json::from_str::<&RawValue>(b)
            .map(Body::Json)
            .unwrap_or(Body::Text(b))
    });
    Ok(JsonlRecord {
        seq: r.seq,
        time: &r.time,
        kind: &r.kind,
        tenant: &r.tenant,
        body,
        body_sha256: &r.body_sha256,
        prev_hash: &r.prev_hash,
        hash: &r.hash,
    })
}

async fn stats(a: StatsArgs, global: &Global) -> Result<ExitCode> {
    let ledger = a.ledger.open(global, false).await?;
    let s = ledger.stats().await?;
    let mut out = std::io::stdout().lock();
    if a.format == ReportFormat::Json {
        let v = json!({
            "storage": s.storage,
            "events": s.events,
            "first_time": s.first_time,
            "last_time": s.last_time,
            "by_kind": s.by_kind.iter().map(|(k, n)| (k.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "checkpoints": s.checkpoints,
            "last_checkpoint": s.last_checkpoint,
            "pruned_bodies": s.pruned_bodies,
            "head": s.head.as_ref().map(|h| json!({"seq": h.seq, "hash": h.hash, "time": h.time})),
        });
        writeln!(out, "{v}")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "ledger       {}", s.storage)?;
    writeln!(out, "records      {}", s.events)?;
    if let (Some(a), Some(b)) = (&s.first_time, &s.last_time) {
        writeln!(out, "span         {a} .. {b}")?;
    }
    if let Some(h) = &s.head {
        writeln!(out, "head         {} {}", h.seq, h.hash)?;
    }
    writeln!(
        out,
        "checkpoints  {}{}",
        s.checkpoints,
        s.last_checkpoint
            .map(|c| format!(" (last at record {c})"))
            .unwrap_or_default()
    )?;
    writeln!(out, "pruned       {} bodies", s.pruned_bodies)?;
    for (kind, n) in &s.by_kind {
        writeln!(out, "  {kind:<20} {n}")?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn prune(a: PruneArgs, global: &Global) -> Result<ExitCode> {
    let before = match (&a.before, a.older_than) {
        (Some(t), _) => parse_time(t, false)?,
        (None, Some(days)) => guardline_ledger::record::time_text(
            chrono::Utc::now() - chrono::Duration::days(i64::from(days)),
        ),
        (None, None) => unreachable!("clap requires one of them"),
    };
    let ledger = a.ledger.open(global, true).await?;
    let n = ledger.prune_bodies(&before).await?;
    // Retention is itself an auditable act.
    let r = ledger
        .append(NewEvent::new(
            "ledger.retention",
            json!({"pruned_bodies_before": before, "bodies_pruned": n}),
        ))
        .await?;
    ledger.close().await?;
    println!(
        "pruned {n} bodies of records before {before}; recorded as record {}",
        r.seq
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_parse() {
        let h = "ab".repeat(32);
        assert_eq!(parse_anchor(&format!("12:{h}")).unwrap(), (12, h.clone()));
        assert_eq!(parse_anchor(&format!("12 {h}")).unwrap(), (12, h.clone()));
        assert!(parse_anchor("12").is_err());
        assert!(parse_anchor("x:ab").is_err());
        assert!(parse_anchor(&format!("1:{}", &h[..10])).is_err());
    }
}
