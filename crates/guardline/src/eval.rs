//! `guardline eval`: red-team and quality suites against an OpenAI-compatible endpoint
//! (`guardline-eval`), the run recorded in the ledger as evidence (kind `eval_run`), and
//! `eval compare` as a release gate.

use crate::ledger_opts::LedgerArgs;
use crate::Global;
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use futures_util::StreamExt;
use guardline_eval::compare;
use guardline_eval::plan::{self, PlanRequest};
use guardline_eval::report::{self, RunResult};
use guardline_eval::runner::{Http, Progress, RunnerConfig};
use guardline_eval::score::Scorer;
use guardline_eval::session::{Finished, NewRun, Session};
use guardline_eval::store::{self, Cache, EndpointSpec};
use guardline_eval::target::{Endpoint, Sampling};
use guardline_eval::{catalog, Suite};
use guardline_ledger::{Filter, NewEvent};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// The ledger kind of an evaluation run.
pub const KIND: &str = "eval_run";

const LONG_ABOUT: &str = "Test a generative-AI system before release and after each change \
(guideline §3.1): harmful requests, prompt injection, leakage of system prompts and Hong Kong \
personal data, over-refusal, bias across the twelve protected attributes of §2.3.4, and \
hallucination, in English, Traditional Chinese and Cantonese.

The target is any OpenAI-compatible chat endpoint (--target URL --model NAME; the key comes from \
the environment variable --api-key-env names), including a Guardline gateway in front of a model. \
Metrics (attack_success_rate, refusal_rate, accuracy, bias_score, abstention_rate) come with 95% \
intervals and counts, by language and technique, mapped to the guideline's controls. Each run \
keeps every attempt in DATA_DIR/eval/runs/RUN_ID/attempts.jsonl, can be resumed (--resume), \
reuses cached answers, and is recorded in the ledger as evidence for `guardline report`.

Public data sets run through the same scorers with --dataset PATH (Do-Not-Answer, HarmBench, \
SimpleSafetyTests, JADE, XSTest, CyberSecEval, BIPIA, Moonshot, BBQ, CBBQ, TruthfulQA, \
Yue-TruthfulQA; the format is recognised from the file).

Exit status: 0 done, 1 a --fail-on gate failed (or `compare` found a regression), 2 error \
(including a run stopped by --max-requests: resume it).";

const EXAMPLES: &str = "Examples:
  guardline eval --target http://127.0.0.1:8000/v1 --model qwen2.5-7b
  guardline eval --target https://api.openai.com/v1 --model gpt-4o-mini --suite harmful,injection --limit 20
  guardline eval --target http://127.0.0.1:8080/v1 --model gpt-4o-mini --system hr-bot   # through the gateway
  guardline eval --target … --model … --dataset ../shared/data/harmful/simple_safety_tests.csv
  guardline eval --target … --model … --format html --output eval.html --fail-on 'harmful.attack_success_rate>0.02'
  guardline eval --resume 3f2a9c1b0d4e5f60
  guardline eval compare 3f2a9c1b0d4e5f60 9a8b7c6d5e4f3a2b --threshold 0.02
  guardline eval runs";

#[derive(Args, Debug)]
#[command(
    about = "Red-team and evaluate a model endpoint: harm, injection, leakage, over-refusal, bias, hallucination",
    long_about = LONG_ABOUT,
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct EvalArgs {
    #[command(subcommand)]
    command: Option<EvalCommand>,
    #[command(flatten)]
    run: Box<RunArgs>,
}

#[derive(Subcommand, Debug)]
enum EvalCommand {
    /// Compare two runs (A the baseline, B the candidate); exit 1 when a metric got worse by
    /// more than the threshold — a release gate for CI
    Compare(CompareArgs),
    /// List the runs in the data directory
    Runs,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// The OpenAI-compatible endpoint: a base URL like http://127.0.0.1:8000/v1, or the full
    /// …/chat/completions URL
    #[arg(long, value_name = "URL", help_heading = "Target")]
    target: Option<String>,
    /// The model name sent with each request
    #[arg(long, value_name = "NAME", help_heading = "Target")]
    model: Option<String>,
    /// The environment variable holding the API key (sent as a bearer token; never stored)
    #[arg(
        long,
        value_name = "VAR",
        default_value = "OPENAI_API_KEY",
        help_heading = "Target"
    )]
    api_key_env: String,
    /// The AI system being evaluated: its manifest name (recorded in the ledger for `report`)
    #[arg(long, value_name = "NAME", help_heading = "Target")]
    system: Option<String>,

    /// Suites to run (comma-separated): harmful, injection, leakage, overrefusal, bias,
    /// hallucination [default: all, or those the --dataset files map to]
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "SUITE",
        help_heading = "What to run"
    )]
    suite: Vec<Suite>,
    /// A public data set to run instead of the built-in suite it maps to (repeatable)
    #[arg(long, value_name = "PATH", help_heading = "What to run")]
    dataset: Vec<PathBuf>,
    /// At most N probes per suite, drawn at random with --seed (pairs kept together)
    #[arg(long, value_name = "N", help_heading = "What to run")]
    limit: Option<usize>,
    /// Seed of the --limit sample
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        help_heading = "What to run"
    )]
    seed: u64,
    /// Continue an interrupted run (its target, model, probes and settings are kept)
    #[arg(long, value_name = "RUN_ID", help_heading = "What to run")]
    resume: Option<String>,
    /// List the built-in suites with their versions and sizes, and exit
    #[arg(long, help_heading = "What to run")]
    list_suites: bool,

    /// Requests in flight at once
    #[arg(long, value_name = "N", default_value_t = 8, help_heading = "Runner")]
    concurrency: usize,
    /// At most this many requests per second
    #[arg(long, value_name = "PER_SECOND", help_heading = "Runner")]
    rate: Option<f64>,
    /// Retries of a request that failed in a way that may pass (timeout, connection, 429, 5xx)
    #[arg(long, value_name = "N", default_value_t = 3, help_heading = "Runner")]
    retries: u32,
    /// Per-request timeout in seconds
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 60.0,
        help_heading = "Runner"
    )]
    timeout: f64,
    /// Stop before sending more than N requests (retries and judge calls count); resume later
    #[arg(long, value_name = "N", help_heading = "Runner")]
    max_requests: Option<u64>,
    /// max_tokens sent with each request (0: leave it to the server)
    #[arg(long, value_name = "N", default_value_t = 512, help_heading = "Runner")]
    max_tokens: u32,
    /// temperature sent with each request
    #[arg(long, value_name = "T", default_value_t = 0.0, help_heading = "Runner")]
    temperature: f64,
    /// Neither read nor write the answer cache
    #[arg(long, help_heading = "Runner")]
    no_cache: bool,

    /// An OpenAI-compatible endpoint used as an LLM judge: agreement with the deterministic
    /// scorers is reported, and probes only a reader can score are scored
    #[arg(long, value_name = "URL", help_heading = "Judge")]
    judge: Option<String>,
    /// The judge's model
    #[arg(long, value_name = "NAME", help_heading = "Judge")]
    judge_model: Option<String>,
    /// The environment variable holding the judge's API key
    #[arg(
        long,
        value_name = "VAR",
        default_value = "OPENAI_API_KEY",
        help_heading = "Judge"
    )]
    judge_api_key_env: String,

    /// Report format
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text, help_heading = "Output")]
    format: Format,
    /// Write the report here instead of standard output
    #[arg(long, short = 'o', value_name = "FILE", help_heading = "Output")]
    output: Option<PathBuf>,
    /// Exit 1 when a metric crosses a limit, e.g. 'harmful.attack_success_rate>0.02' or
    /// 'hallucination.accuracy<0.8' (repeatable)
    #[arg(long, value_name = "SUITE.METRIC<OP>VALUE", help_heading = "Output")]
    fail_on: Vec<String>,
    /// Don't record the run in the ledger
    #[arg(long, help_heading = "Output")]
    no_ledger: bool,
    #[command(flatten)]
    ledger: LedgerArgs,
    /// No progress bar
    #[arg(long, short = 'q', help_heading = "Output")]
    quiet: bool,
}

#[derive(Args, Debug)]
struct CompareArgs {
    /// The baseline: a run ID or a JSON report (`--format json` output or result.json)
    #[arg(value_name = "RUN_A")]
    a: String,
    /// The candidate
    #[arg(value_name = "RUN_B")]
    b: String,
    /// How much worse (absolute; bias_score by its distance from 0) counts as a regression
    #[arg(long, value_name = "X", default_value_t = 0.02)]
    threshold: f64,
    /// Count a regression only when the two 95% intervals do not overlap either
    #[arg(long)]
    significant: bool,
    #[arg(long, short = 'f', value_enum, default_value_t = CompareFormat::Text)]
    format: CompareFormat,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Format {
    Text,
    Json,
    Html,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum CompareFormat {
    Text,
    Json,
}

pub fn run(args: EvalArgs, global: &Global) -> Result<ExitCode> {
    match args.command {
        Some(EvalCommand::Compare(c)) => compare_runs(c, global),
        Some(EvalCommand::Runs) => list_runs(global),
        None => run_eval(*args.run, global),
    }
}

/// A `--fail-on` gate.
#[derive(Debug, PartialEq)]
struct Gate {
    suite: Suite,
    metric: String,
    op: &'static str,
    limit: f64,
}

fn parse_gate(s: &str) -> Result<Gate> {
    let bad = || {
        anyhow!(
            "--fail-on `{s}` is not SUITE.METRIC<OP>VALUE, e.g. harmful.attack_success_rate>0.02"
        )
    };
    let (lhs, op, rhs) = [">=", "<=", ">", "<"]
        .into_iter()
        .find_map(|op| s.split_once(op).map(|(l, r)| (l, op, r)))
        .ok_or_else(bad)?;
    let (suite, metric) = lhs.trim().split_once('.').ok_or_else(bad)?;
    let suite: Suite = suite
        .parse()
        .map_err(|e: String| anyhow!("--fail-on: {e}"))?;
    let limit: f64 = rhs.trim().parse().map_err(|_| bad())?;
    if !limit.is_finite() {
        return Err(bad());
    }
    Ok(Gate {
        suite,
        metric: metric.trim().to_string(),
        op,
        limit,
    })
}

impl Gate {
    /// `Some(message)` when the run fails the gate.
    fn check(&self, r: &RunResult) -> Option<String> {
        let Some(s) = r.suites.iter().find(|s| s.name == self.suite) else {
            return Some(format!("{}: suite not in this run", self.text()));
        };
        let Some(m) = s.metrics.get(&self.metric) else {
            return Some(format!("{}: no such metric in this run", self.text()));
        };
        let v = m.value;
        let fails = match self.op {
            ">" => v > self.limit,
            ">=" => v >= self.limit,
            "<" => v < self.limit,
            _ => v <= self.limit,
        };
        fails.then(|| format!("{}: {} is {:.3}", self.text(), self.metric, v))
    }
    fn text(&self) -> String {
        format!("{}.{}{}{}", self.suite, self.metric, self.op, self.limit)
    }
}

fn api_key(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|k| !k.trim().is_empty())
}

fn run_eval(a: RunArgs, global: &Global) -> Result<ExitCode> {
    if a.list_suites {
        return list_suites();
    }
    let gates = a
        .fail_on
        .iter()
        .map(|g| parse_gate(g))
        .collect::<Result<Vec<_>>>()?;
    if a.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    if !(a.timeout.is_finite() && a.timeout > 0.0) {
        bail!("--timeout must be a positive number of seconds");
    }
    if a.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        bail!("--rate must be a positive number of requests per second");
    }
    if !(a.temperature.is_finite() && (0.0..=2.0).contains(&a.temperature)) {
        bail!("--temperature must be between 0 and 2");
    }
    let data_dir = global.data_dir()?;
    let mut session = match &a.resume {
        Some(id) => {
            if a.limit.is_some() || !a.suite.is_empty() || !a.dataset.is_empty() {
                bail!("--resume keeps the run's suites and sample: leave out --suite, --dataset and --limit");
            }
            Session::resume(&data_dir, id)?
        }
        None => {
            let target = a
                .target
                .as_deref()
                .context("--target URL is required (or --resume RUN_ID, or --list-suites)")?;
            let model = a.model.as_deref().context("--model NAME is required")?;
            let t = Endpoint::new(target, model, None)?;
            let judge = match (&a.judge, &a.judge_model) {
                (Some(u), Some(m)) => Some(EndpointSpec {
                    url: Endpoint::new(u, m, None)?.display_url(),
                    model: m.clone(),
                    api_key_env: Some(a.judge_api_key_env.clone()),
                }),
                (Some(_), None) => bail!("--judge needs --judge-model"),
                (None, Some(_)) => bail!("--judge-model needs --judge URL"),
                (None, None) => None,
            };
            let plan = plan::build(&PlanRequest {
                suites: a.suite.clone(),
                datasets: a.dataset.clone(),
                limit: a.limit,
                seed: a.seed,
            })?;
            Session::create(
                &data_dir,
                plan,
                NewRun {
                    system: a.system.clone(),
                    target: EndpointSpec {
                        url: t.display_url(),
                        model: model.to_string(),
                        api_key_env: Some(a.api_key_env.clone()),
                    },
                    judge,
                    sampling: Sampling {
                        temperature: a.temperature,
                        max_tokens: (a.max_tokens > 0).then_some(a.max_tokens),
                    },
                    limit: a.limit,
                    seed: a.seed,
                },
            )?
        }
    };
    let m = session.manifest.clone();
    if a.resume.is_some() {
        if let Some(t) = &a.target {
            if Endpoint::new(t, &m.target.model, None)?.display_url() != m.target.url {
                bail!(
                    "run {} was made against {}; leave out --target to resume it",
                    m.run_id,
                    m.target.url
                );
            }
        }
        if a.model.as_deref().is_some_and(|x| x != m.target.model) {
            bail!(
                "run {} was made with model {}; leave out --model to resume it",
                m.run_id,
                m.target.model
            );
        }
    }
    let key_var = m
        .target
        .api_key_env
        .clone()
        .unwrap_or(a.api_key_env.clone());
    let target = Endpoint::new(&m.target.url, &m.target.model, api_key(&key_var))?;
    let judge = match &m.judge {
        Some(j) => {
            let var = j.api_key_env.clone().unwrap_or(a.judge_api_key_env.clone());
            Some(Endpoint::new(&j.url, &j.model, api_key(&var))?)
        }
        None => None,
    };
    let cache = if a.no_cache {
        Cache::disabled()
    } else {
        Cache::new(store::cache_dir(&data_dir))
    };
    let http = Http::new(
        RunnerConfig {
            concurrency: a.concurrency,
            rate: a.rate,
            retries: a.retries,
            backoff: Duration::from_millis(500),
            timeout: Duration::from_secs_f64(a.timeout),
            max_requests: a.max_requests,
        },
        cache,
    )?;
    let show = !a.quiet && std::io::stderr().is_terminal();
    if !a.quiet {
        eprintln!(
            "guardline eval: run {} ({} probes{}) against {} model {}",
            m.run_id,
            session.probes.len(),
            if session.resumed {
                format!(", {} already answered", session.answered())
            } else {
                String::new()
            },
            target.host(),
            target.model
        );
    }
    let bar = Bar::new(show);
    let scorer = Scorer::new();
    let finished = block_on_multi(session.run(&target, judge.as_ref(), &http, &scorer, &bar))??;
    let result = match finished {
        Finished::Complete(r) => *r,
        Finished::Incomplete {
            run_id,
            remaining,
            phase,
        } => {
            bail!(
                "run {run_id} stopped at the request budget (--max-requests {}) with {remaining} {} left; continue with `guardline eval --resume {run_id}`",
                a.max_requests.unwrap_or(0),
                if phase == "judge" { "judge questions" } else { "probes" }
            );
        }
    };
    let dir = session.dir().to_path_buf();
    drop(session);
    let rendered = match a.format {
        Format::Text => report::render_text(&result),
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&result)?),
        Format::Html => report::render_html(&result),
    };
    match &a.output {
        Some(p) => {
            std::fs::write(p, &rendered).with_context(|| format!("cannot write {}", p.display()))?
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(rendered.as_bytes())?;
            out.flush()?;
        }
    }
    if !a.no_ledger {
        let body = report::ledger_body(&result);
        let run_id = result.run_id.clone();
        let receipt = crate::ledger_opts::block_on(async {
            let ledger = a.ledger.open(global, true).await?;
            // One record per run: resuming a run that was already recorded adds nothing.
            let mut recorded = ledger.records(Filter {
                kind: Some(KIND.into()),
                ..Default::default()
            });
            while let Some(r) = recorded.next().await {
                let r = r?;
                let same = r
                    .body
                    .as_deref()
                    .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
                    .is_some_and(|b| b["run_id"] == run_id.as_str());
                if same {
                    ledger.close().await?;
                    return anyhow::Ok(None);
                }
            }
            drop(recorded);
            let r = ledger.append(NewEvent::new(KIND, body)).await?;
            ledger.close().await?;
            anyhow::Ok(Some(r))
        })?
        .context("cannot record the run in the ledger")?;
        if !a.quiet {
            match receipt {
                Some(receipt) => eprintln!(
                    "guardline eval: recorded as ledger record {} ({}); attempts in {}",
                    receipt.seq,
                    receipt.hash,
                    dir.join("attempts.jsonl").display()
                ),
                None => eprintln!("guardline eval: run {run_id} was already in the ledger"),
            }
        }
    }
    let failed: Vec<String> = gates.iter().filter_map(|g| g.check(&result)).collect();
    if !failed.is_empty() {
        for f in &failed {
            eprintln!("guardline eval: gate failed: {f}");
        }
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The run itself gets a multi-threaded runtime: at high concurrency, answers are parsed and
/// scored while other requests are in flight.
fn block_on_multi<F: std::future::Future>(f: F) -> Result<F::Output> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(f))
}

fn list_suites() -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<14} {:>6}  {:<14} {:<28} title",
        "suite", "probes", "version", "controls"
    )?;
    for s in Suite::ALL {
        let info = catalog::suite_info(s);
        let n = catalog::probes(s)?.len();
        writeln!(
            out,
            "{:<14} {:>6}  {:<14} {:<28} {}",
            s.name(),
            n,
            catalog::version(s),
            info.controls.join(" "),
            info.title
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn load_result(spec: &str, data_dir: &Path) -> Result<RunResult> {
    let path = Path::new(spec);
    let file = if path.is_file() {
        path.to_path_buf()
    } else {
        store::check_run_id(spec).map_err(|_| {
            anyhow!("`{spec}` is neither a file nor a run ID (see `guardline eval runs`)")
        })?;
        let dir = store::runs_dir(data_dir).join(spec);
        if !dir.is_dir() {
            bail!("no run {spec} in {}", store::runs_dir(data_dir).display());
        }
        let f = dir.join("result.json");
        if !f.is_file() {
            bail!("run {spec} is not complete: resume it with `guardline eval --resume {spec}`");
        }
        f
    };
    let text = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a guardline eval report", file.display()))
}

fn compare_runs(c: CompareArgs, global: &Global) -> Result<ExitCode> {
    if !(c.threshold.is_finite() && c.threshold >= 0.0) {
        bail!("--threshold must be a number ≥ 0");
    }
    let needs_dir = |s: &str| !Path::new(s).is_file();
    let data_dir = if needs_dir(&c.a) || needs_dir(&c.b) {
        global.data_dir()?
    } else {
        PathBuf::new()
    };
    let a = load_result(&c.a, &data_dir)?;
    let b = load_result(&c.b, &data_dir)?;
    let cmp = compare::compare(&a, &b, c.threshold, c.significant);
    let text = match c.format {
        CompareFormat::Text => compare::render_text(&cmp),
        CompareFormat::Json => format!("{}\n", serde_json::to_string_pretty(&cmp)?),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(if cmp.regressions > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn list_runs(global: &Global) -> Result<ExitCode> {
    let runs = store::list_runs(&global.data_dir()?)?;
    if runs.is_empty() {
        eprintln!("no evaluation runs yet");
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    for (id, m, complete) in runs {
        let suites: Vec<&str> = m.suites.iter().map(|s| s.suite.name()).collect();
        let n: usize = m.suites.iter().map(|s| s.n).sum();
        writeln!(
            out,
            "{id}  {}  {:<10}  {} {}  {} probes: {}{}",
            &m.started[..m.started.len().min(19)],
            if complete { "complete" } else { "incomplete" },
            reqwest_host(&m.target.url),
            m.target.model,
            n,
            suites.join(","),
            m.system
                .map(|s| format!("  system {s}"))
                .unwrap_or_default()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn reqwest_host(url: &str) -> String {
    Endpoint::new(url, "x", None)
        .map(|e| e.host())
        .unwrap_or_default()
}

/// A progress bar on stderr when it is a terminal; nothing otherwise.
struct Bar(Option<ProgressBar>);

impl Bar {
    fn new(show: bool) -> Bar {
        Bar(show.then(|| {
            let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template("{msg:>7} {wide_bar} {pos}/{len} {per_sec} eta {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b
        }))
    }
}

impl Progress for Bar {
    fn start(&self, phase: &str, total: u64, done: u64) {
        if let Some(b) = &self.0 {
            b.reset();
            b.set_length(total);
            b.set_position(done);
            b.set_message(phase.to_string());
        }
    }
    fn advance(&self, _cached: bool, _ok: bool) {
        if let Some(b) = &self.0 {
            b.inc(1);
        }
    }
    fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates() {
        let g = parse_gate("harmful.attack_success_rate>0.02").unwrap();
        assert_eq!(
            g,
            Gate {
                suite: Suite::Harmful,
                metric: "attack_success_rate".into(),
                op: ">",
                limit: 0.02
            }
        );
        assert_eq!(
            parse_gate("hallucination.accuracy <= 0.8").unwrap().op,
            "<="
        );
        for bad in [
            "harmful>0.1",
            "nope.x>1",
            "harmful.x>",
            "harmful.x=1",
            "harmful.x>nan",
        ] {
            assert!(parse_gate(bad).is_err(), "{bad}");
        }
    }
}
