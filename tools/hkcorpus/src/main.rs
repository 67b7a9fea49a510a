//! `hkcorpus`: generate the synthetic Hong Kong personal-data corpus, or evaluate
//! guardline-detect on one. See the crate README.

use guardline_detect::Engine;
use hkcorpus::eval;
use hkcorpus::template::Record;
use hkcorpus::Set;
use std::io::{self, BufRead, BufWriter, Write};
use std::process::ExitCode;

const USAGE: &str = "\
usage:
  hkcorpus generate --set tune|heldout --n N [--seed S]   JSONL records on stdout
  hkcorpus generate --bytes N [--seed S]                  ~N bytes of mixed filler text with sparse
                                                          personal data on stdout (benchmarks)
  hkcorpus eval FILE.jsonl [--markdown] [--errors N]      per-kind precision/recall/F1 of
                                                          guardline-detect's default engine
  hkcorpus templates --set tune|heldout                   per-category template counts";

struct Args {
    rest: Vec<String>,
}

impl Args {
    fn flag(&mut self, name: &str) -> bool {
        if let Some(i) = self.rest.iter().position(|a| a == name) {
            self.rest.remove(i);
            true
        } else {
            false
        }
    }

    fn value(&mut self, name: &str) -> Result<Option<String>, String> {
        let Some(i) = self.rest.iter().position(|a| a == name) else {
            return Ok(None);
        };
        if i + 1 >= self.rest.len() {
            return Err(format!("{name} needs a value"));
        }
        let v = self.rest.remove(i + 1);
        self.rest.remove(i);
        Ok(Some(v))
    }

    fn number(&mut self, name: &str) -> Result<Option<u64>, String> {
        self.value(name)?
            .map(|v| {
                v.replace('_', "")
                    .parse::<u64>()
                    .map_err(|_| format!("{name}: not a number: {v}"))
            })
            .transpose()
    }

    fn done(&self) -> Result<(), String> {
        match self.rest.first() {
            Some(a) => Err(format!("unexpected argument `{a}`")),
            None => Ok(()),
        }
    }
}

fn main() -> ExitCode {
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.is_empty() || argv.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let cmd = argv.remove(0);
    let args = Args { rest: argv };
    let res = match cmd.as_str() {
        "generate" => generate(args),
        "eval" => evaluate(args),
        "templates" => templates(args),
        _ => Err(format!("unknown command `{cmd}`\n{USAGE}")),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hkcorpus: {e}");
            ExitCode::from(2)
        }
    }
}

fn io_err(e: io::Error) -> String {
    e.to_string()
}

fn generate(mut a: Args) -> Result<(), String> {
    let seed = a.number("--seed")?.unwrap_or(1);
    let bytes = a.number("--bytes")?;
    let set = a.value("--set")?;
    let n = a.number("--n")?;
    a.done()?;
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let res = match (bytes, set, n) {
        (Some(b), None, None) => hkcorpus::generate_bytes(b, seed, &mut out),
        (None, Some(s), Some(n)) => {
            let set = Set::parse(&s).ok_or_else(|| format!("--set: tune or heldout, not {s}"))?;
            hkcorpus::generate(set, n as usize, seed, &mut out)
        }
        _ => return Err(format!("generate: give --set and --n, or --bytes\n{USAGE}")),
    };
    match res.and_then(|()| out.flush()) {
        // `hkcorpus generate … | head` is fine.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        r => r.map_err(io_err),
    }
}

fn read_records(path: &str) -> Result<Vec<Record>, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let mut out = Vec::new();
    for (i, line) in io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| format!("{path}: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let r: Record =
            serde_json::from_str(&line).map_err(|e| format!("{path}:{}: {e}", i + 1))?;
        for s in &r.spans {
            if s.start > s.end
                || !r.text.is_char_boundary(s.start)
                || !r.text.is_char_boundary(s.end)
            {
                return Err(format!("{path}:{}: span {s:?} is not in the text", i + 1));
            }
        }
        out.push(r);
    }
    Ok(out)
}

fn evaluate(mut a: Args) -> Result<(), String> {
    let markdown = a.flag("--markdown");
    let errors = a.number("--errors")?.unwrap_or(0) as usize;
    if a.rest.len() != 1 {
        return Err(format!("eval: give one FILE.jsonl\n{USAGE}"));
    }
    let path = a.rest.remove(0);
    let records = read_records(&path)?;
    let engine = Engine::with_defaults();
    let rep = eval::evaluate(&engine, &records, errors);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let table = if markdown {
        rep.markdown()
    } else {
        rep.table()
    };
    out.write_all(table.as_bytes()).map_err(io_err)?;
    for m in &rep.errors {
        writeln!(
            out,
            "{} {:<24} t{:<4} {:?}  in  {:?}",
            m.what, m.kind, m.template, m.value, m.text
        )
        .map_err(io_err)?;
    }
    Ok(())
}

fn templates(mut a: Args) -> Result<(), String> {
    let set = a.value("--set")?.unwrap_or_else(|| "tune".into());
    a.done()?;
    let set = Set::parse(&set).ok_or_else(|| format!("--set: tune or heldout, not {set}"))?;
    let mut counts = std::collections::BTreeMap::<(String, String), usize>::new();
    for t in set.templates() {
        *counts
            .entry((t.category().to_string(), t.lang.clone()))
            .or_default() += 1;
    }
    for ((cat, lang), n) in counts {
        println!("{cat:<24} {lang:<8} {n}");
    }
    Ok(())
}
