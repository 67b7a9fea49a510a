//! `guardline evidence`: human attestations (a self-certification, a DPIA, an incident plan, an
//! audit report) recorded in the ledger. A document's hash and size go in, never its content.

use crate::ledger_opts::{block_on, LedgerArgs};
use crate::Global;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use futures_util::StreamExt;
use guardline_ledger::{Filter, NewEvent};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The ledger kind of an attestation.
pub const KIND: &str = "attestation";

#[derive(Args, Debug)]
#[command(
    about = "Record and list human attestations for controls (evidence for `guardline report`)"
)]
pub struct EvidenceArgs {
    #[command(subcommand)]
    command: EvidenceCommand,
}

#[derive(Subcommand, Debug)]
enum EvidenceCommand {
    /// Record an attestation for a control: who, when, which document (hash and size only)
    Add(AddArgs),
    /// List recorded attestations
    List(ListArgs),
}

#[derive(Args, Debug)]
struct AddArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// The control attested, e.g. PDP-01 (see ../shared/GUIDELINE.md's control catalogue)
    #[arg(long, value_name = "ID")]
    control: String,
    /// Who attests (a name or role; recorded as given)
    #[arg(long, value_name = "NAME")]
    by: String,
    /// The document that evidences it: its SHA-256, size and file name are recorded, not its
    /// content
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// A short note
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,
    /// When the attestation lapses (YYYY-MM-DD)
    #[arg(long, value_name = "DATE")]
    expires: Option<String>,
    /// The tenant (organisation unit) it belongs to
    #[arg(long, default_value = "default")]
    tenant: String,
    /// The AI system it is for (its manifest's `name`); without it, the attestation counts for
    /// every system in `guardline report`
    #[arg(long, value_name = "NAME")]
    system: Option<String>,
}

#[derive(Args, Debug)]
struct ListArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Only this control
    #[arg(long, value_name = "ID")]
    control: Option<String>,
}

pub fn run(args: EvidenceArgs, global: &Global) -> Result<ExitCode> {
    match args.command {
        EvidenceCommand::Add(a) => add(a, global),
        EvidenceCommand::List(a) => block_on(list(a, global))?,
    }
}

/// Control IDs as the catalogue writes them: `PDP-01`, `SCT-FIN`, `TIER-H1`.
fn check_control(id: &str) -> Result<()> {
    let ok = id.split_once('-').is_some_and(|(a, b)| {
        (2..=5).contains(&a.len())
            && a.bytes().all(|c| c.is_ascii_uppercase())
            && (1..=5).contains(&b.len())
            && b.bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    });
    if !ok {
        bail!("control `{id}` is not a control ID like PDP-01 or SCT-FIN");
    }
    Ok(())
}

fn document(path: &Path) -> Result<Value> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size: u64 = 0;
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(json!({"name": name, "sha256": hex::encode(h.finalize()), "size": size}))
}

fn add(a: AddArgs, global: &Global) -> Result<ExitCode> {
    check_control(&a.control)?;
    if a.by.trim().is_empty() {
        bail!("--by must name who attests");
    }
    let mut body = Map::new();
    body.insert("control".into(), json!(a.control));
    body.insert("by".into(), json!(a.by.trim()));
    if let Some(note) = &a.note {
        body.insert("note".into(), json!(note));
    }
    if let Some(exp) = &a.expires {
        let date = chrono::NaiveDate::parse_from_str(exp, "%Y-%m-%d")
            .with_context(|| format!("--expires `{exp}` is not a date like 2027-06-30"))?;
        if date < chrono::Utc::now().date_naive() {
            bail!("--expires {exp} is already past");
        }
        body.insert("expires".into(), json!(exp));
    }
    if let Some(path) = &a.file {
        body.insert("document".into(), document(path)?);
    }
    if let Some(system) = &a.system {
        if system.trim().is_empty() {
            bail!("--system must name the system (its manifest's name)");
        }
        body.insert("system".into(), json!(system.trim()));
    }
    let event = NewEvent::new(KIND, Value::Object(body)).tenant(a.tenant.clone());
    let receipt = block_on(async {
        let ledger = a.ledger.open(global, true).await?;
        let r = ledger.append(event).await?;
        ledger.close().await?;
        anyhow::Ok(r)
    })??;
    println!(
        "recorded attestation for {} by {} as ledger record {} ({})",
        a.control,
        a.by.trim(),
        receipt.seq,
        receipt.hash
    );
    Ok(ExitCode::SUCCESS)
}

async fn list(a: ListArgs, global: &Global) -> Result<ExitCode> {
    let ledger = a.ledger.open(global, false).await?;
    let mut records = ledger.records(Filter {
        kind: Some(KIND.into()),
        ..Default::default()
    });
    let mut n = 0;
    while let Some(r) = records.next().await {
        let r = r?;
        let body: Value = match &r.body {
            Some(b) => serde_json::from_str(b).unwrap_or(Value::Null),
            None => Value::Null,
        };
        let control = body["control"].as_str().unwrap_or("?");
        if a.control.as_deref().is_some_and(|c| c != control) {
            continue;
        }
        n += 1;
        let doc = body["document"]["sha256"]
            .as_str()
            .map(|h| {
                format!(
                    " {} sha256:{}",
                    body["document"]["name"].as_str().unwrap_or(""),
                    &h[..h.len().min(16)]
                )
            })
            .unwrap_or_default();
        let expires = body["expires"]
            .as_str()
            .map(|e| format!(" expires {e}"))
            .unwrap_or_default();
        let by = body["by"].as_str().unwrap_or("(body pruned)");
        let system = body["system"]
            .as_str()
            .map(|s| format!(" [{s}]"))
            .unwrap_or_default();
        println!(
            "{:>6}  {}  {control:<8} {by}{system}{doc}{expires}",
            r.seq,
            &r.time[..r.time.len().min(19)]
        );
    }
    if n == 0 {
        eprintln!("no attestations recorded");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_ids() {
        for ok in ["PDP-01", "SCT-FIN", "TIER-H1", "IP-02"] {
            assert!(check_control(ok).is_ok(), "{ok}");
        }
        for bad in ["pdp-01", "PDP01", "P-01", "PDP-", "PDP-01-X", ""] {
            assert!(check_control(bad).is_err(), "{bad}");
        }
    }
}
