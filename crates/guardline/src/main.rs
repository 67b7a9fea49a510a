//! `guardline`: the command line. Thin by design: each subcommand parses its arguments into the
//! options of the library crate that does the work (`scan` → `guardline-scan`) and turns the
//! outcome into an exit code: 0 done and nothing found, 1 done and something found, 2 error, with
//! a one-line `guardline: error: …` on stderr.
//!
//! Adding a subcommand: a module beside `scan.rs` with an `Args` struct and a
//! `run(args, &Global) -> anyhow::Result<ExitCode>`, and one variant in [`Command`].

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

mod assess;
mod audit;
mod eval;
mod evidence;
mod keys;
mod ledger_opts;
mod report;
mod scan;
mod serve;
mod vault;

const ABOUT: &str = "Guardline turns Hong Kong's Generative AI Technical and Application \
Guideline (Digital Policy Office, 2025) into running software. It finds personal data (HKID, \
+852 phones, mainland and Macao IDs, cards, accounts, …), secrets and prompt-injection attempts \
in English and Chinese text and data sets, and redacts or pseudonymises them, so that GenAI \
training data, RAG corpora and prompts meet the guideline's privacy and security duties. It keeps a tamper-evident evidence ledger (`audit`, `evidence`) that an auditor can verify.";

const AFTER_HELP: &str = "Exit status: 0 nothing found (or ledger intact), 1 something found \
(or ledger tampered with), 2 error.\n\
`guardline <COMMAND> --help` describes each command.";

#[derive(Parser, Debug)]
#[command(
    name = "guardline",
    version,
    about = ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true,
    arg_required_else_help = true
)]
struct Cli {
    /// Where Guardline keeps its state (keys, ledger, evaluation runs) [default: the per-user
    /// data directory, e.g. ~/.local/share/guardline]
    #[arg(
        long,
        global = true,
        env = "GUARDLINE_DATA_DIR",
        hide_env_values = true,
        value_name = "DIR"
    )]
    data_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Serve(serve::ServeArgs),
    Init(InitCmd),
    Keys(keys::KeysArgs),
    Scan(scan::ScanArgs),
    Audit(audit::AuditArgs),
    Evidence(evidence::EvidenceArgs),
    Eval(eval::EvalArgs),
    Assess(assess::AssessArgs),
    Report(report::ReportArgs),
    Vault(vault::VaultArgs),
}

/// `guardline init [PATH]` writes the gateway's guardline.toml (as always); `guardline init system
/// [PATH]` writes an AI system manifest.
#[derive(clap::Args, Debug)]
#[command(
    about = "Write a commented guardline.toml, or (`init system`) an AI system manifest",
    args_conflicts_with_subcommands = true
)]
struct InitCmd {
    #[command(subcommand)]
    what: Option<InitWhat>,
    #[command(flatten)]
    gateway: serve::InitArgs,
}

#[derive(Subcommand, Debug)]
enum InitWhat {
    System(assess::InitSystemArgs),
}

/// Options every subcommand shares.
#[derive(Debug)]
pub struct Global {
    pub data_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let global = Global {
        data_dir: cli.data_dir,
    };
    let result = match cli.command {
        Command::Serve(args) => serve::run(args, &global),
        Command::Init(InitCmd {
            what: Some(InitWhat::System(args)),
            ..
        }) => assess::init_system(args),
        Command::Init(args) => serve::init(args.gateway),
        Command::Keys(args) => keys::run(args, &global),
        Command::Scan(args) => scan::run(args, &global),
        Command::Audit(args) => audit::run(args, &global),
        Command::Evidence(args) => evidence::run(args, &global),
        Command::Eval(args) => eval::run(args, &global),
        Command::Assess(args) => assess::run(args, &global),
        Command::Report(args) => report::run(args, &global),
        Command::Vault(args) => vault::run(args, &global),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if e.chain().any(|c| {
                c.downcast_ref::<guardline_scan::ScanError>()
                    .is_some_and(guardline_scan::ScanError::is_broken_pipe)
                    || c.downcast_ref::<std::io::Error>()
                        .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                // The reader of our output went away (`| head`): nothing to say.
                return ExitCode::SUCCESS;
            }
            eprintln!("guardline: error: {}", one_line(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

/// Help and version go to stdout with status 0; a usage error is one line on stderr, status 2.
fn usage_error(e: clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(2)
        }
        _ => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("guardline: error: {first} (see --help)");
            ExitCode::from(2)
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
