//! `guardline report`: each obligation of an AI system with its status from real evidence — the
//! gateway's policy in force, the ledger and its verification, evaluation runs, a scan of the
//! system's RAG corpus, human attestations — as a bilingual HTML document, Markdown or JSON. Each
//! report is recorded in the ledger (`report`) and cites its own record.

use crate::assess::load_manifest;
use crate::ledger_opts::{block_on, LedgerArgs};
use crate::Global;
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use guardline_govern::{classify, evidence, html, render, Catalog, Report};
use guardline_ledger::{Location, NewEvent};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// The ledger kind of a report.
pub const KIND: &str = "report";

#[derive(Args, Debug)]
#[command(
    about = "Report each control's status (met, partly met, missing, expired, not applicable) from the evidence",
    long_about = "Report an AI system's obligations with the status of each control, from the \
evidence: the gateway's policy in force (its start-up record), the ledger and its verification, \
evaluation runs (`guardline eval`), a scan of the RAG corpus the manifest declares, and human \
attestations (`guardline evidence add`). HTML (default) is a self-contained bilingual document for \
management and auditors; every status cites its ledger record. The report itself is recorded in \
the ledger.\n\nExit status: 0 every applicable control met (and the ledger verifies), 1 something \
is partly met, missing or expired, the ledger does not verify, or the system is prohibited; 2 \
error."
)]
pub struct ReportArgs {
    /// The system manifest (TOML)
    #[arg(value_name = "SYSTEM.toml")]
    manifest: PathBuf,
    #[arg(long, value_enum, default_value_t = ReportFormat::Html)]
    format: ReportFormat,
    /// Write the report to this file instead of standard output
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// The tenant (organisation unit) the record belongs to
    #[arg(long, default_value = "default")]
    tenant: String,
    #[command(flatten)]
    ledger: LedgerArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum ReportFormat {
    Html,
    Md,
    Json,
}

impl ReportFormat {
    fn as_str(self) -> &'static str {
        match self {
            ReportFormat::Html => "html",
            ReportFormat::Md => "md",
            ReportFormat::Json => "json",
        }
    }
}

/// Where the ledger is, for the report: the file, or the PostgreSQL host and database without
/// credentials.
fn describe(location: &Location) -> String {
    match location {
        Location::Sqlite(p) => p.display().to_string(),
        Location::Postgres { url, schema } => {
            let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
            let rest = rest.rsplit_once('@').map(|(_, h)| h).unwrap_or(rest);
            let rest = rest.split('?').next().unwrap_or(rest);
            match schema {
                Some(s) => format!("{scheme}://{rest} (schema {s})"),
                None => format!("{scheme}://{rest}"),
            }
        }
    }
}

pub fn run(args: ReportArgs, global: &Global) -> Result<ExitCode> {
    let catalog = Catalog::embedded()?;
    let manifest = load_manifest(&args.manifest)?;
    let manifest_dir = args
        .manifest
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                p.to_path_buf()
            }
        })
        .unwrap_or_else(|| PathBuf::from("."));
    let assessment = classify(&manifest, catalog);
    let location = args.ledger.location(global)?;
    let report = block_on(async {
        let ledger = args.ledger.open(global, true).await?;
        let ev = evidence::collect(
            &ledger,
            &describe(&location),
            &manifest,
            &manifest_dir,
            catalog,
            chrono::Utc::now(),
        )
        .await
        .context("cannot read the evidence from the ledger")?;
        let mut report = Report::build(assessment, ev, catalog);
        let event = NewEvent::new(KIND, report.ledger_body(args.format.as_str()))
            .tenant(args.tenant.clone());
        let receipt = ledger
            .append(event)
            .await
            .context("cannot record the report in the ledger")?;
        ledger.close().await?;
        report.record = Some(guardline_govern::RecordRef {
            seq: receipt.seq,
            hash: receipt.hash,
            time: receipt.time,
        });
        anyhow::Ok(report)
    })??;
    let text = match args.format {
        ReportFormat::Html => html::report_html(&report, catalog),
        ReportFormat::Md => render::report_md(&report, catalog),
        ReportFormat::Json => {
            let mut s = serde_json::to_string_pretty(&report.to_json(catalog))?;
            s.push('\n');
            s
        }
    };
    match &args.output {
        Some(path) => std::fs::write(path, &text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    let counts = report.counts();
    let summary: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(s, n)| format!("{n} {}", s.as_str().replace('_', " ")))
        .collect();
    if let Some(rec) = &report.record {
        eprintln!(
            "report on {} ({} risk): {}; recorded as ledger record {}",
            manifest.name,
            report.assessment.tier,
            summary.join(", "),
            rec.seq
        );
    }
    Ok(if report.all_met() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
