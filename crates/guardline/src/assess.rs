//! `guardline assess` and `guardline init system`: a system manifest → its risk tier with every
//! reason and clause, the oversight it requires, and its obligations as controls
//! (`guardline-govern`). Each assessment is recorded in the ledger (`assessment`), which is the
//! AI-inventory entry (MF-01) that `guardline report` looks for.

use crate::ledger_opts::{block_on, LedgerArgs};
use crate::Global;
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use guardline_govern::{classify, render, Catalog, Manifest};
use guardline_ledger::NewEvent;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The ledger kind of an assessment.
pub const KIND: &str = "assessment";

#[derive(Args, Debug)]
#[command(
    about = "Classify an AI system: risk tier with reasons, required oversight, obligations",
    long_about = "Classify an AI system described by a manifest (`guardline init system` writes a \
commented one): its tier under the guideline's Table 1, the PCPD model framework's high-risk test \
and sector rules, the stricter of them (§2.3.1), the human oversight it requires, and the controls \
that apply with how each is evidenced. The assessment is recorded in the ledger (the AI inventory, \
MF-01).\n\nExit status: 0 permitted and the declared oversight meets the required, 1 prohibited or \
an oversight gap, 2 error (a bad manifest names the key and the line)."
)]
pub struct AssessArgs {
    /// The system manifest (TOML)
    #[arg(value_name = "SYSTEM.toml")]
    manifest: PathBuf,
    #[arg(long, value_enum, default_value_t = AssessFormat::Text)]
    format: AssessFormat,
    /// Do not record the assessment in the ledger
    #[arg(long)]
    no_record: bool,
    /// The tenant (organisation unit) the record belongs to
    #[arg(long, default_value = "default")]
    tenant: String,
    #[command(flatten)]
    ledger: LedgerArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum AssessFormat {
    Text,
    Json,
    Md,
}

#[derive(Args, Debug)]
#[command(about = "Write a commented AI system manifest (for `guardline assess` and `report`)")]
pub struct InitSystemArgs {
    /// Where to write it
    #[arg(default_value = "system.toml")]
    path: PathBuf,
    /// Replace an existing file
    #[arg(long)]
    force: bool,
}

pub fn init_system(args: InitSystemArgs) -> Result<ExitCode> {
    if args.path.exists() && !args.force {
        bail!("{} exists; give --force to replace it", args.path.display());
    }
    std::fs::write(&args.path, guardline_govern::SYSTEM_TEMPLATE)
        .with_context(|| format!("cannot write {}", args.path.display()))?;
    println!(
        "wrote {}: describe your system, then `guardline assess {}`",
        args.path.display(),
        args.path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Reads and checks a manifest; the error names the file, line, column and key.
pub fn load_manifest(path: &Path) -> Result<Manifest> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Manifest::parse_bytes(&bytes, &path.display().to_string())?)
}

pub fn run(args: AssessArgs, global: &Global) -> Result<ExitCode> {
    let catalog = Catalog::embedded()?;
    let manifest = load_manifest(&args.manifest)?;
    let assessment = classify(&manifest, catalog);
    let out = match args.format {
        AssessFormat::Text => render::assessment_text(&assessment, catalog),
        AssessFormat::Md => render::assessment_md(&assessment, catalog),
        AssessFormat::Json => {
            let mut s = serde_json::to_string_pretty(&assessment.to_json(catalog))?;
            s.push('\n');
            s
        }
    };
    if !args.no_record {
        let event = NewEvent::new(KIND, assessment.ledger_body()).tenant(args.tenant.clone());
        let receipt = block_on(async {
            let ledger = args.ledger.open(global, true).await?;
            let r = ledger.append(event).await?;
            ledger.close().await?;
            anyhow::Ok(r)
        })?
        .context("cannot record the assessment in the ledger")?;
        eprintln!(
            "recorded assessment of {} as ledger record {} ({})",
            manifest.name, receipt.seq, receipt.hash
        );
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    Ok(if assessment.prohibited || assessment.gap.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
