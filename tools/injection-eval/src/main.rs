//! # injection-eval
//!
//! Measures Guardline's `injection.*` findings on labelled prompt sets: the true-positive rate on
//! attack sets, the false-positive rate on benign sets (and, apart, on harmful requests that are
//! not injections), at the engine's default score floor and over a threshold sweep. The sets and
//! their tune / held-out split are data (`splits.toml`), not code.
//!
//! What it is not: a benchmark of speed (see `guardline-detect`'s `throughput` example), or a
//! judge of model behaviour — it only asks whether the detector flags the prompt.
//!
//! Discipline: misses and false positives are printed (`--show N`) for tune sets only; held-out
//! examples need `--unblind`, meant for writing up weaknesses once the rules are final.

mod csv;
mod sets;

use guardline_detect::{Engine, EngineConfig};
use serde_json::json;
use sets::{Group, Item, SetSpec, Split};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

const THRESHOLDS: [f32; 5] = [0.5, 0.6, 0.7, 0.8, 0.9];

const USAGE: &str = "\
injection-eval: TPR/FPR of Guardline's injection.* findings on labelled prompt sets

USAGE: injection-eval [OPTIONS]

OPTIONS:
  --splits FILE     set definitions (default: tools/injection-eval/splits.toml)
  --data DIR        shared data directory (default: $GUARDLINE_EVAL_DATA or ../shared/data beside the checkout)
  --repo DIR        workspace root, for testdata/ (default: this crate's workspace)
  --split S         tune | heldout | all (default: all)
  --set NAME        only this set (repeatable)
  --markdown        Markdown tables
  --json            one JSON document
  --show N          print up to N misses / false positives per tune set
  --unblind         also print held-out examples with --show (after rules are final)
  --injection-only  build the engine with kinds injection.* only (default: the full catalog,
                    as deployed, reporting injection.* findings)
  --lexicon FILE    use this injection lexicon instead of the embedded one (trying rules out)
  --scores FILE     write one JSON line per prompt (set, index in the set, best score, kinds;
                    no text) for breakdowns by a set's own metadata
  --throughput FILE only measure single-thread scan speed over FILE with this engine, in MB/s
  -h, --help        this text
";

struct Args {
    splits: PathBuf,
    data: PathBuf,
    repo: PathBuf,
    split: Option<Split>,
    sets: Vec<String>,
    markdown: bool,
    json: bool,
    show: usize,
    unblind: bool,
    injection_only: bool,
    lexicon: Option<PathBuf>,
    throughput: Option<PathBuf>,
    scores: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut a = Args {
        splits: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("splits.toml"),
        data: std::env::var_os("GUARDLINE_EVAL_DATA")
            .map(PathBuf::from)
            // The project's shared/ sits beside the checkout (as on CI).
            .unwrap_or_else(|| repo.join("../shared/data")),
        repo,
        split: None,
        sets: Vec::new(),
        markdown: false,
        json: false,
        show: 0,
        unblind: false,
        injection_only: false,
        lexicon: None,
        throughput: None,
        scores: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--splits" => a.splits = val("--splits")?.into(),
            "--data" => a.data = val("--data")?.into(),
            "--repo" => a.repo = val("--repo")?.into(),
            "--split" => {
                a.split = match val("--split")?.as_str() {
                    "tune" => Some(Split::Tune),
                    "heldout" | "held-out" => Some(Split::Heldout),
                    "all" => None,
                    s => return Err(format!("unknown split `{s}`")),
                }
            }
            "--set" => a.sets.push(val("--set")?),
            "--markdown" => a.markdown = true,
            "--json" => a.json = true,
            "--show" => {
                a.show = val("--show")?
                    .parse()
                    .map_err(|_| "--show needs a number".to_string())?
            }
            "--unblind" => a.unblind = true,
            "--injection-only" => a.injection_only = true,
            "--lexicon" => a.lexicon = Some(val("--lexicon")?.into()),
            "--throughput" => a.throughput = Some(val("--throughput")?.into()),
            "--scores" => a.scores = Some(val("--scores")?.into()),
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}` (see --help)")),
        }
    }
    Ok(a)
}

/// The verdict on one prompt.
struct Scored {
    /// Highest `injection.*` score, 0 when none.
    best: f32,
    /// Kinds reported at the engine's score floor.
    kinds: Vec<String>,
}

struct SetResult {
    spec: SetSpec,
    /// `None` when the set could not be loaded (say, a file not written yet).
    error: Option<String>,
    items: Vec<(Item, Scored)>,
}

impl SetResult {
    fn rate_at(&self, t: f32, filter: Option<&str>) -> (usize, usize) {
        let mut n = 0;
        let mut hit = 0;
        for (it, s) in &self.items {
            if filter.is_some_and(|f| it.sublang.as_deref() != Some(f)) {
                continue;
            }
            n += 1;
            if s.best >= t {
                hit += 1;
            }
        }
        (hit, n)
    }

    fn sublangs(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .items
            .iter()
            .filter_map(|(i, _)| i.sublang.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    fn top_kinds(&self) -> String {
        let mut c: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, s) in &self.items {
            for k in &s.kinds {
                *c.entry(k.strip_prefix("injection.").unwrap_or(k))
                    .or_default() += 1;
            }
        }
        let mut v: Vec<_> = c.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.iter()
            .take(3)
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn score(engine: &Engine, floor: f32, text: &str) -> Scored {
    let mut best = 0.0f32;
    let mut kinds = Vec::new();
    for f in engine.scan_all_scores(text.as_bytes()) {
        if f.kind.family() != "injection" {
            continue;
        }
        best = best.max(f.score);
        if f.score >= floor {
            let k = f.kind.to_string();
            if !kinds.contains(&k) {
                kinds.push(k);
            }
        }
    }
    Scored { best, kinds }
}

fn pct(hit: usize, n: usize) -> String {
    if n == 0 {
        "–".into()
    } else {
        format!("{:.1}%", 100.0 * hit as f64 / n as f64)
    }
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("injection-eval: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("injection-eval: {e}");
        std::process::exit(2);
    }
}

fn run(args: &Args) -> Result<(), String> {
    let text = std::fs::read_to_string(&args.splits)
        .map_err(|e| format!("{}: {e}", args.splits.display()))?;
    let file: sets::SplitsFile =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", args.splits.display()))?;
    let mut cfg = EngineConfig::default();
    if args.injection_only {
        cfg.kinds = vec!["injection.*".into()];
    }
    if let Some(p) = &args.lexicon {
        cfg.catalog.injection =
            std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    let engine = Engine::new(cfg).map_err(|e| e.to_string())?;
    let floor = engine.min_score();
    if let Some(p) = &args.throughput {
        return throughput(&engine, p);
    }

    let started = Instant::now();
    let mut scanned = 0usize;
    let mut results = Vec::new();
    for spec in file.set {
        if args.split.is_some_and(|s| s != spec.split)
            || (!args.sets.is_empty() && !args.sets.contains(&spec.name))
        {
            continue;
        }
        match sets::load(&spec, &args.data, &args.repo) {
            Ok(items) => {
                scanned += items.len();
                let items = items
                    .into_iter()
                    .map(|it| {
                        let s = score(&engine, floor, &it.text);
                        (it, s)
                    })
                    .collect();
                results.push(SetResult {
                    spec,
                    error: None,
                    items,
                });
            }
            Err(e) => {
                eprintln!("injection-eval: skipping {}: {e}", spec.name);
                results.push(SetResult {
                    spec,
                    error: Some(e),
                    items: Vec::new(),
                });
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();

    if args.json {
        print_json(&results, floor);
    } else {
        print_tables(&results, args.markdown, floor);
        println!(
            "\n{scanned} prompts scanned in {secs:.2} s (engine: {}, default score floor {floor}).",
            if args.injection_only {
                "injection.* kinds only"
            } else {
                "full default catalog"
            }
        );
    }
    if args.show > 0 {
        print_examples(&results, args.show, args.unblind, floor);
    }
    if let Some(p) = &args.scores {
        let mut out = String::new();
        for r in &results {
            for (i, (_, s)) in r.items.iter().enumerate() {
                out.push_str(
                    &json!({"set": r.spec.name, "index": i, "best": s.best, "kinds": s.kinds})
                        .to_string(),
                );
                out.push('\n');
            }
        }
        std::fs::write(p, out).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(())
}

/// Single-thread MB/s over a file, as `guardline-detect`'s `throughput` example measures it;
/// also per CPU second of this thread (Linux), which is steadier on a shared machine.
fn throughput(engine: &Engine, path: &std::path::Path) -> Result<(), String> {
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let cpu0 = thread_cpu_secs();
    let t = Instant::now();
    let mut reps = 0usize;
    let mut found = 0usize;
    while t.elapsed().as_secs_f64() < 3.0 {
        found += engine.scan(&data).len();
        reps += 1;
    }
    let secs = t.elapsed().as_secs_f64();
    let mb = (data.len() * reps) as f64 / 1e6;
    let cpu = match (cpu0, thread_cpu_secs()) {
        (Some(a), Some(b)) if b > a => format!(", {:.1} MB per CPU second", mb / (b - a)),
        _ => String::new(),
    };
    println!("{:.1} MB/s{cpu}, {} findings/pass", mb / secs, found / reps);
    Ok(())
}

/// User + system CPU time of the calling thread, from `/proc/thread-self/stat`.
fn thread_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn print_json(results: &[SetResult], floor: f32) {
    let sets: Vec<_> = results
        .iter()
        .map(|r| {
            let (hit, n) = r.rate_at(floor, None);
            let sweep: BTreeMap<String, f64> = THRESHOLDS
                .iter()
                .map(|&t| {
                    let (h, n) = r.rate_at(t, None);
                    (
                        format!("{t:.1}"),
                        if n == 0 { 0.0 } else { h as f64 / n as f64 },
                    )
                })
                .collect();
            json!({
                "set": r.spec.name,
                "split": format!("{:?}", r.spec.split).to_lowercase(),
                "lang": r.spec.lang,
                "group": format!("{:?}", r.spec.group).to_lowercase(),
                "label": r.spec.label,
                "error": r.error,
                "n": n,
                "detected": hit,
                "rate": if n == 0 { 0.0 } else { hit as f64 / n as f64 },
                "sweep": sweep,
            })
        })
        .collect();
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({ "score_floor": floor, "sets": sets }))
            .unwrap_or_default()
    );
}

fn print_tables(results: &[SetResult], md: bool, floor: f32) {
    for split in [Split::Tune, Split::Heldout] {
        let in_split: Vec<&SetResult> = results.iter().filter(|r| r.spec.split == split).collect();
        if in_split.is_empty() {
            continue;
        }
        let title = match split {
            Split::Tune => "TUNE",
            Split::Heldout => "HELD-OUT",
        };
        if md {
            println!("\n## {title}\n");
        } else {
            println!("\n==== {title} ====");
        }
        for lang in ["en", "zh"] {
            for group in [Group::Injection, Group::Benign, Group::Harmful] {
                let rows: Vec<&&SetResult> = in_split
                    .iter()
                    .filter(|r| r.spec.lang == lang && r.spec.group == group)
                    .collect();
                if rows.is_empty() {
                    continue;
                }
                let (what, rate) = match group {
                    Group::Injection => ("attack sets", "TPR"),
                    Group::Benign => ("benign sets", "FPR"),
                    Group::Harmful => ("harmful requests, not injections", "FPR"),
                };
                let lname = if lang == "en" { "English" } else { "Chinese" };
                let mut header = vec![
                    "set".to_string(),
                    "N".into(),
                    "detected".into(),
                    format!("{rate} @{floor}"),
                ];
                header.extend(THRESHOLDS[1..].iter().map(|t| format!("@{t:.1}")));
                header.push("kinds fired (prompts)".into());
                let mut table: Vec<Vec<String>> = Vec::new();
                let mut pooled = vec![(0usize, 0usize); THRESHOLDS.len()];
                for r in &rows {
                    if let Some(e) = &r.error {
                        let mut row = vec![r.spec.name.clone(), "–".into(), "–".into()];
                        row.extend(THRESHOLDS.iter().map(|_| "–".to_string()));
                        row.push(format!("not run: {e}"));
                        table.push(row);
                        continue;
                    }
                    let mut push_row = |label: String, filter: Option<&str>, kinds: String| {
                        let (hit, n) = r.rate_at(floor, filter);
                        let mut row = vec![label, n.to_string(), hit.to_string()];
                        for &t in &THRESHOLDS {
                            let (h, n) = r.rate_at(t, filter);
                            row.push(pct(h, n));
                        }
                        row.push(kinds);
                        table.push(row);
                    };
                    push_row(r.spec.name.clone(), None, r.top_kinds());
                    for sl in r.sublangs() {
                        push_row(format!("  └ {sl}"), Some(&sl), String::new());
                    }
                    for (i, &t) in THRESHOLDS.iter().enumerate() {
                        let (h, n) = r.rate_at(t, None);
                        pooled[i].0 += h;
                        pooled[i].1 += n;
                    }
                }
                if rows.len() > 1 {
                    let mut row = vec![
                        format!("all {what} (pooled)"),
                        pooled[0].1.to_string(),
                        pooled[0].0.to_string(),
                    ];
                    row.extend(pooled.iter().map(|&(h, n)| pct(h, n)));
                    row.push(String::new());
                    table.push(row);
                }
                if md {
                    println!("### {lname} — {what} ({rate})\n");
                } else {
                    println!("\n-- {lname}: {what} ({rate})");
                }
                print_table(&header, &table, md);
                if md {
                    println!();
                }
            }
        }
    }
}

fn print_table(header: &[String], rows: &[Vec<String>], md: bool) {
    let width = |s: &str| s.chars().count();
    let mut w: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(width(c));
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = " ".repeat(w[i] - width(c));
                if i == 0 || i + 1 == cells.len() {
                    format!("{c}{pad}")
                } else {
                    format!("{pad}{c}")
                }
            })
            .collect();
        if md {
            format!("| {} |", padded.join(" | "))
        } else {
            padded.join("  ").trim_end().to_string()
        }
    };
    println!("{}", line(header));
    if md {
        let sep: Vec<String> = w
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                if i == 0 || i + 1 == w.len() {
                    "-".repeat(n.max(3))
                } else {
                    format!("{}:", "-".repeat(n.max(3) - 1))
                }
            })
            .collect();
        println!("| {} |", sep.join(" | "));
    }
    for r in rows {
        println!("{}", line(r));
    }
}

fn print_examples(results: &[SetResult], n: usize, unblind: bool, floor: f32) {
    for r in results {
        if r.spec.split == Split::Heldout && !unblind {
            continue;
        }
        let attack = r.spec.group == Group::Injection;
        let wrong: Vec<&(Item, Scored)> = r
            .items
            .iter()
            .filter(|(_, s)| (s.best >= floor) != attack)
            .collect();
        if wrong.is_empty() {
            continue;
        }
        println!(
            "\n--- {} {} ({} of {}):",
            r.spec.name,
            if attack { "misses" } else { "false positives" },
            wrong.len(),
            r.items.len()
        );
        for (it, s) in wrong.iter().take(n) {
            let chars: Vec<char> = it.text.chars().collect();
            let mut t: String = if chars.len() > 400 {
                let head: String = chars[..150].iter().collect();
                let tail: String = chars[chars.len() - 250..].iter().collect();
                format!("{head} … {tail}")
            } else {
                it.text.clone()
            };
            t = t.replace('\n', "⏎");
            if attack {
                println!("  [{:.2}] {t}", s.best);
            } else {
                println!("  [{}] {t}", s.kinds.join(","));
            }
        }
    }
}
