//! `guardline scan`: arguments, terminal decisions (colour, headings, progress, summary) and the
//! call into `guardline-scan`.

use crate::Global;
use anyhow::Context;
use clap::{Args, ValueEnum};
use guardline_detect::Operator;
use guardline_scan::keys::KeySource;
use guardline_scan::{InputFormat, OutputFormat, Progress, ScanOptions};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use termcolor::{BufferedStandardStream, ColorChoice};

const LONG_ABOUT: &str = "Find personal data, secrets and prompt injection in files, directories \
or standard input, and optionally write redacted copies.

Directories are walked recursively in sorted order, honouring .gitignore and .ignore; files that \
look binary are skipped. Text is streamed in bounded memory whatever its size; JSONL and CSV are \
read record by record, and findings name the record and the field (a JSON pointer) or column. \
Matched values are masked in the report unless --show-matches.

Exit status: 0 nothing found, 1 something found, 2 error (an unreadable input or invalid JSONL \
line is reported on stderr, the other inputs are still scanned, and the status is 2).";

const EXAMPLES: &str = "Examples:
  guardline scan corpus/                       report findings under corpus/
  guardline scan -f jsonl chats.jsonl          one JSON finding per line
  guardline scan -f sarif src/ > scan.sarif    for code-scanning tools
  guardline scan -k 'injection.*' prompts.txt  prompt injection only
  cat notes.txt | guardline scan --redact      redacted copy on stdout
  guardline scan --redact=pseudonym --vault vault.json -o clean/ corpus/";

#[derive(Args, Debug)]
#[command(
    about = "Find personal data, secrets and prompt injection in files or stdin; redact them",
    long_about = LONG_ABOUT,
    after_help = EXAMPLES
)]
pub struct ScanArgs {
    /// Files or directories to scan; `-` or none reads standard input
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// How to read inputs; auto: .jsonl/.ndjson as JSONL, .csv as CSV, anything else as text
    #[arg(long, short = 'i', value_enum, default_value_t = Input::Auto, help_heading = "Input")]
    input: Input,

    /// CSV has no header row: columns are reported by 0-based index
    #[arg(long, help_heading = "Input")]
    no_header: bool,

    /// Scan files that look binary (a NUL byte in the first 8 KiB) instead of skipping them
    #[arg(long, help_heading = "Input")]
    binary: bool,

    /// Walk hidden files and directories too (.git is always skipped)
    #[arg(long, help_heading = "Input")]
    hidden: bool,

    /// Don't honour .gitignore, .ignore and .git/info/exclude
    #[arg(long, help_heading = "Input")]
    no_ignore: bool,

    /// Report format
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text, help_heading = "Output")]
    format: Format,

    /// When to colour the text report; auto: when stdout is a terminal and NO_COLOR is unset
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto, help_heading = "Output")]
    color: ColorWhen,

    /// Show matched values in clear (by default they are masked: A********))
    #[arg(long, help_heading = "Output")]
    show_matches: bool,

    /// No progress bar and no summary line
    #[arg(long, short = 'q', help_heading = "Output")]
    quiet: bool,

    /// Print the kinds of finding (those selected by --kinds/--exclude-kinds) and exit
    #[arg(long, help_heading = "Output")]
    list_kinds: bool,

    /// Report only these kinds: comma-separated globs, e.g. 'hk_*,secret.*'
    #[arg(long, short = 'k', value_name = "GLOBS", help_heading = "Detection")]
    kinds: Vec<String>,

    /// Never report these kinds: comma-separated globs, e.g. 'injection.*'
    #[arg(long, short = 'x', value_name = "GLOBS", help_heading = "Detection")]
    exclude_kinds: Vec<String>,

    /// Report findings scoring at least this, from 0 to 1 [default: 0.5]
    #[arg(long, value_name = "SCORE", value_parser = parse_score, help_heading = "Detection")]
    min_score: Option<f32>,

    /// Scan this many files in parallel [default: the number of CPUs]; output order is the same
    /// whatever the number
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..), help_heading = "Detection")]
    threads: Option<u16>,

    /// Write the input with findings replaced by OPERATOR (label if none is given), in the
    /// input's format (JSONL and CSV stay
    /// valid): to stdout for one input, instead of the report (the exit status still tells
    /// whether anything was found); under --output for several
    #[arg(
        long,
        value_enum,
        value_name = "OPERATOR",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "label",
        help_heading = "Redaction"
    )]
    redact: Option<RedactWith>,

    /// Directory for redacted copies; paths below each input directory are mirrored
    #[arg(long, short = 'o', value_name = "DIR", help_heading = "Redaction")]
    output: Option<PathBuf>,

    /// Key for hash and pseudonym (any bytes) [default: $GUARDLINE_KEY, else scan.key in the
    /// data directory, created on first use]
    #[arg(long, value_name = "PATH", help_heading = "Redaction")]
    key_file: Option<PathBuf>,

    /// With --redact=pseudonym: write the token → original value map here (JSON) so the
    /// pseudonyms can be reversed. It holds personal data: protect it
    #[arg(long, value_name = "FILE", help_heading = "Redaction")]
    vault: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Input {
    Auto,
    Text,
    Jsonl,
    Csv,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// For people: coloured on a terminal, like ripgrep
    Text,
    /// One document: findings and a summary
    Json,
    /// One finding per line
    Jsonl,
    /// SARIF 2.1.0, for code-scanning tools
    Sarif,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum RedactWith {
    /// One `*` per character
    Mask,
    /// The kind's label: <HK_ID>
    Label,
    /// A keyed one-way hash: <HK_ID:1f2e3d4c5b6a7980>
    Hash,
    /// A keyed, repeatable token (HK_ID_1f2e3d4c5b), reversible with --vault
    Pseudonym,
    /// Nothing
    Remove,
}

impl From<RedactWith> for Operator {
    fn from(r: RedactWith) -> Operator {
        match r {
            RedactWith::Mask => Operator::Mask,
            RedactWith::Label => Operator::Label,
            RedactWith::Hash => Operator::Hash,
            RedactWith::Pseudonym => Operator::Pseudonym,
            RedactWith::Remove => Operator::Remove,
        }
    }
}

fn parse_score(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err("must be a number from 0 to 1".into()),
    }
}

pub fn run(args: ScanArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let engine = guardline_scan::build_engine(&args.kinds, &args.exclude_kinds, args.min_score)?;
    let stdout_tty = std::io::stdout().is_terminal();
    let stderr_tty = std::io::stderr().is_terminal();
    let color = match args.color {
        ColorWhen::Always => ColorChoice::Always,
        ColorWhen::Never => ColorChoice::Never,
        ColorWhen::Auto if stdout_tty && !no_color() => ColorChoice::Auto,
        ColorWhen::Auto => ColorChoice::Never,
    };
    let mut out = BufferedStandardStream::stdout(color);
    let format = match args.format {
        Format::Text => OutputFormat::Text,
        Format::Json => OutputFormat::Json,
        Format::Jsonl => OutputFormat::Jsonl,
        Format::Sarif => OutputFormat::Sarif,
    };
    if args.list_kinds {
        guardline_scan::output::print_kinds(&engine, format, &mut out).context("writing output")?;
        return Ok(ExitCode::SUCCESS);
    }

    let reads_stdin = args.paths.is_empty() || args.paths.iter().any(|p| p.as_os_str() == "-");
    if reads_stdin && std::io::stdin().is_terminal() && !args.quiet {
        eprintln!(
            "guardline: reading standard input (end it with Ctrl-D; give paths to scan files)"
        );
    }
    let threads = match args.threads {
        Some(n) => usize::from(n),
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let opts = ScanOptions {
        paths: args.paths,
        input: match args.input {
            Input::Auto => InputFormat::Auto,
            Input::Text => InputFormat::Text,
            Input::Jsonl => InputFormat::Jsonl,
            Input::Csv => InputFormat::Csv,
        },
        csv_header: !args.no_header,
        binary: args.binary,
        hidden: args.hidden,
        no_ignore: args.no_ignore,
        format,
        heading: stdout_tty,
        show_matches: args.show_matches,
        threads,
        redact: args.redact.map(Operator::from),
        output_dir: args.output,
        key: KeySource {
            key_file: args.key_file,
            secret: std::env::var_os("GUARDLINE_KEY").map(|s| s.to_string_lossy().into_owned()),
            data_dir: global.data_dir.clone(),
        },
        vault: args.vault,
    };
    let redacting_to_stdout = opts.redact.is_some() && opts.output_dir.is_none();
    let progress: Box<dyn Progress> = if stderr_tty && !args.quiet {
        Box::new(Bar::new())
    } else {
        Box::new(guardline_scan::NoProgress)
    };
    let summary = guardline_scan::run(
        &engine,
        &opts,
        &mut out,
        &mut std::io::stderr(),
        progress.as_ref(),
    )?;
    out.flush().map_err(guardline_scan::ScanError::Output)?;
    if format == OutputFormat::Text && stderr_tty && !args.quiet && !redacting_to_stdout {
        eprintln!(
            "guardline: {}",
            guardline_scan::output::summary_line(&summary)
        );
    }
    Ok(ExitCode::from(summary.exit_code()))
}

/// NO_COLOR counts when set to anything but the empty string (no-color.org).
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// A progress bar on stderr (only ever made when stderr is a terminal).
struct Bar(ProgressBar);

impl Bar {
    fn new() -> Bar {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(ProgressStyle::default_spinner());
        Bar(bar)
    }
}

impl Progress for Bar {
    fn start(&self, total_bytes: Option<u64>) {
        match total_bytes {
            Some(total) => {
                self.0.set_style(
                    ProgressStyle::with_template(
                        "{spinner} {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                self.0.set_length(total);
            }
            None => self.0.set_style(
                ProgressStyle::with_template("{spinner} {bytes} {bytes_per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        }
        self.0.set_draw_target(ProgressDrawTarget::stderr());
        self.0.enable_steady_tick(Duration::from_millis(120));
    }
    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }
    fn visible(&self) -> bool {
        true
    }
    fn suspend(&self, f: &mut dyn FnMut()) {
        self.0.suspend(f)
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}
