//! A whole scan: inputs walked and sorted, scanned on worker threads, hits printed in input
//! order whatever the thread count, redacted copies written, a summary returned.

use crate::keys::{self, KeySource};
use crate::output::{OutputFormat, Printer};
use crate::walk::{self, Source, WalkOptions};
use crate::{read_full, InputError, Redaction, Scan, ScanError, Sink};
use guardline_detect::{Engine, EngineConfig, Key, Operator, Redactor, Vault};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Cursor, Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};
use termcolor::WriteColor;

/// How an input is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InputFormat {
    /// By extension: `.jsonl`/`.ndjson` → JSONL, `.csv` → CSV, anything else (and stdin) → text.
    #[default]
    Auto,
    Text,
    Jsonl,
    Csv,
}

/// The format `input` means for `path` (`None` for stdin).
pub fn resolve_format(input: InputFormat, path: Option<&Path>) -> InputFormat {
    if input != InputFormat::Auto {
        return input;
    }
    let ext = path
        .and_then(Path::extension)
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("jsonl" | "ndjson") => InputFormat::Jsonl,
        Some("csv") => InputFormat::Csv,
        _ => InputFormat::Text,
    }
}

/// The engine for a scan: kind globs to report and to leave out (comma-separated, as on the
/// command line) and the score floor, checked to lie in [0, 1].
pub fn build_engine(
    kinds: &[String],
    exclude_kinds: &[String],
    min_score: Option<f32>,
) -> Result<Engine, ScanError> {
    let mut cfg = EngineConfig {
        kinds: kinds.to_vec(),
        exclude_kinds: exclude_kinds.to_vec(),
        ..EngineConfig::default()
    };
    if let Some(s) = min_score {
        if !(0.0..=1.0).contains(&s) {
            return Err(ScanError::Usage(format!(
                "--min-score must be a number from 0 to 1, not {s}"
            )));
        }
        cfg.min_score = s;
    }
    Ok(Engine::new(cfg)?)
}

/// Progress display hooks; the binary shows a bar on a terminal, tests and pipes show nothing.
pub trait Progress: Sync {
    /// Total bytes to scan, when known (not for stdin).
    fn start(&self, _total_bytes: Option<u64>) {}
    fn advance(&self, _bytes: u64) {}
    /// Whether anything is drawn (then output is flushed as it is printed, under `suspend`).
    fn visible(&self) -> bool {
        false
    }
    /// Runs `f` with the display hidden, so report lines do not mix with it.
    fn suspend(&self, f: &mut dyn FnMut()) {
        f()
    }
    fn finish(&self) {}
}

/// No progress display.
pub struct NoProgress;
impl Progress for NoProgress {}

/// Everything `guardline scan` can be asked, less the engine's own settings.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Files and directories; empty or `-` means standard input.
    pub paths: Vec<PathBuf>,
    pub input: InputFormat,
    /// CSV: the first row is a header.
    pub csv_header: bool,
    /// Scan files that look binary (a NUL byte in the first 8 KiB) instead of skipping them.
    pub binary: bool,
    /// Walk hidden files and directories.
    pub hidden: bool,
    /// Ignore `.gitignore` and `.ignore` files.
    pub no_ignore: bool,
    pub format: OutputFormat,
    /// Text format: a heading per file (on a terminal) instead of `path:` prefixes.
    pub heading: bool,
    pub show_matches: bool,
    /// Worker threads; inputs are scanned in parallel, output stays in input order.
    pub threads: usize,
    /// Write redacted copies with this operator.
    pub redact: Option<Operator>,
    /// Where redacted copies go (relative paths mirrored); without it, the single input's copy
    /// goes to standard output.
    pub output_dir: Option<PathBuf>,
    pub key: KeySource,
    /// Pseudonym token → original value map, written at the end.
    pub vault: Option<PathBuf>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            paths: Vec::new(),
            input: InputFormat::Auto,
            csv_header: true,
            binary: false,
            hidden: false,
            no_ignore: false,
            format: OutputFormat::Text,
            heading: false,
            show_matches: false,
            threads: 1,
            redact: None,
            output_dir: None,
            key: KeySource::default(),
            vault: None,
        }
    }
}

/// What a scan did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Inputs scanned to their end.
    pub files: u64,
    /// Inputs skipped as binary.
    pub skipped: u64,
    pub bytes: u64,
    pub findings: u64,
    pub by_kind: BTreeMap<String, u64>,
    /// Inputs that could not be read (or written) to their end.
    pub errors: u64,
    /// JSONL lines that were not valid JSON.
    pub bad_records: u64,
    pub elapsed: Duration,
}

impl Summary {
    /// `2` if any input or record was bad, else `1` if anything was found, else `0`. Findings
    /// in the good inputs are still reported when the exit code is 2.
    pub fn exit_code(&self) -> u8 {
        if self.errors > 0 || self.bad_records > 0 {
            2
        } else if self.findings > 0 {
            1
        } else {
            0
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "files_scanned": self.files,
            "files_skipped": self.skipped,
            "bytes": self.bytes,
            "findings": self.findings,
            "findings_by_kind": self.by_kind,
            "errors": self.errors,
            "bad_records": self.bad_records,
            "elapsed_s": (self.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        })
    }
}

/// Runs a scan. The report goes to `out`, per-input problems to `err` (one line each, and
/// counted in the summary); only problems that stop the whole scan are returned as errors.
pub fn run(
    engine: &Engine,
    opts: &ScanOptions,
    out: &mut dyn WriteColor,
    err: &mut dyn Write,
    progress: &dyn Progress,
) -> Result<Summary, ScanError> {
    let started = Instant::now();
    check_options(opts)?;
    let redactor = match opts.redact {
        Some(op @ (Operator::Hash | Operator::Pseudonym)) => {
            Some(Redactor::new(op, keys::resolve(&opts.key)?))
        }
        // Unkeyed operators never touch the key.
        Some(op) => Some(Redactor::new(op, Key::from_bytes([0; 32]))),
        None => None,
    };
    let out_dir = match &opts.output_dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| ScanError::Path {
                path: d.display().to_string(),
                source: e,
            })?;
            Some(d.canonicalize().map_err(|e| ScanError::Path {
                path: d.display().to_string(),
                source: e,
            })?)
        }
        None => None,
    };
    let mut sources = walk::collect(
        &opts.paths,
        &WalkOptions {
            hidden: opts.hidden,
            no_ignore: opts.no_ignore,
            skip_dir: out_dir.clone(),
        },
    );
    let dests = match (&out_dir, &redactor) {
        (Some(dir), Some(_)) => plan_outputs(dir, &mut sources),
        _ => vec![None; sources.len()],
    };
    let total = sources.iter().try_fold(0u64, |acc, s| match s {
        Source::File { size: Some(n), .. } => Some(acc + n),
        Source::File { size: None, .. } | Source::Stdin => None,
        Source::Error { .. } => Some(acc),
    });
    progress.start(total);

    let cancel = AtomicBool::new(false);
    let ctx = Ctx {
        scan: Scan {
            engine,
            show_matches: opts.show_matches,
            cancel: Some(&cancel),
        },
        opts,
        redactor: redactor.as_ref(),
        progress,
    };
    let paths: Vec<String> = sources.iter().map(display_path).collect();
    let mut vaults = Vec::new();
    let summary = if redactor.is_some() && out_dir.is_none() {
        // The one input's redacted copy is the output: scan it here, report only problems.
        let mut report = Report::new(None, err, &paths, false);
        let mut vault = Vault::new();
        let mut emit = |e: Event| {
            let _ = report.handle(0, e);
        };
        if let Some(src) = sources.first() {
            let mut stdout = Plain(&mut *out);
            let outcome = process(&ctx, src, None, &mut vault, &mut emit, Some(&mut stdout));
            if let Some(InputError::Write(e)) = outcome.error {
                return Err(ScanError::Output(e));
            }
            outcome.report(&mut emit);
        }
        out.flush().map_err(ScanError::Output)?;
        vaults.push(vault);
        report.summary
    } else {
        let flush_each = progress.visible();
        let mut printer = Printer::new(opts.format, opts.heading, out);
        printer.begin(engine).map_err(ScanError::Output)?;
        let mut report = Report::new(Some(printer), err, &paths, flush_each);
        vaults = run_parallel(&ctx, &sources, &dests, &cancel, &mut report)?;
        report.summary.elapsed = started.elapsed();
        let summary = report.summary.clone();
        if let Some(p) = report.printer.as_mut() {
            p.end(&summary).map_err(ScanError::Output)?;
        }
        summary
    };
    progress.finish();
    if let Some(path) = &opts.vault {
        write_vault(path, &vaults)?;
        let _ = writeln!(
            err,
            "guardline: warning: {} holds the original values behind the pseudonyms (personal data): keep it safe and delete it when no longer needed",
            path.display()
        );
    }
    Ok(Summary {
        elapsed: started.elapsed(),
        ..summary
    })
}

fn check_options(opts: &ScanOptions) -> Result<(), ScanError> {
    let stdin_count = if opts.paths.is_empty() {
        1
    } else {
        opts.paths.iter().filter(|p| p.as_os_str() == "-").count()
    };
    let usage = |m: &str| Err(ScanError::Usage(m.to_string()));
    if stdin_count > 1 {
        return usage("standard input (`-`) can be read only once");
    }
    if opts.vault.is_some() && opts.redact != Some(Operator::Pseudonym) {
        return usage("--vault records pseudonyms: it needs --redact=pseudonym");
    }
    if opts.redact.is_none() && opts.output_dir.is_some() {
        return usage("--output is where redacted copies go: it needs --redact");
    }
    if opts.redact.is_some() {
        let single = opts.paths.len() <= 1
            && !opts
                .paths
                .first()
                .is_some_and(|p| p.as_os_str() != "-" && p.is_dir());
        match &opts.output_dir {
            Some(_) if stdin_count > 0 => {
                return usage(
                    "the redacted copy of standard input goes to standard output: drop --output",
                )
            }
            None if !single => {
                return usage(
                    "--redact with several inputs or a directory needs --output DIR for the copies",
                )
            }
            _ => {}
        }
    }
    Ok(())
}

/// Where each input's redacted copy goes: its path below its root, mirrored under `dir`. Two
/// inputs that would land on the same copy, or a copy that would overwrite its input, make that
/// input an error (decided here, before any thread runs, so the outcome is deterministic).
fn plan_outputs(dir: &Path, sources: &mut [Source]) -> Vec<Option<PathBuf>> {
    let mut seen: HashMap<PathBuf, String> = HashMap::new();
    let mut dests = Vec::with_capacity(sources.len());
    for src in sources.iter_mut() {
        let Source::File { path, rel, .. } = src else {
            dests.push(None);
            continue;
        };
        let dest = dir.join(rel);
        let display = path.display().to_string();
        let problem = if let Some(first) = seen.get(&dest) {
            Some(format!(
                "its redacted copy {} would overwrite that of {first}",
                dest.display()
            ))
        } else if dest
            .canonicalize()
            .ok()
            .is_some_and(|d| path.canonicalize().ok() == Some(d))
        {
            Some("refusing to overwrite an input with its redacted copy".to_string())
        } else {
            None
        };
        match problem {
            Some(message) => {
                *src = Source::Error {
                    path: display,
                    message,
                };
                dests.push(None);
            }
            None => {
                seen.insert(dest.clone(), display);
                dests.push(Some(dest));
            }
        }
    }
    dests
}

fn display_path(src: &Source) -> String {
    match src {
        Source::Stdin => "<stdin>".into(),
        Source::File { path, .. } => path.display().to_string(),
        Source::Error { path, .. } => path.clone(),
    }
}

struct Ctx<'a> {
    scan: Scan<'a>,
    opts: &'a ScanOptions,
    redactor: Option<&'a Redactor>,
    progress: &'a dyn Progress,
}

/// What happened to one input, in the order it happened.
enum Event {
    Hit(crate::Hit),
    BadRecord(u64, String),
    Note(String),
    Error(String),
    Done { bytes: u64, status: Status },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Scanned,
    Skipped,
    Failed,
}

struct Events<'a>(&'a mut dyn FnMut(Event));

impl Sink for Events<'_> {
    fn hit(&mut self, hit: crate::Hit) {
        (self.0)(Event::Hit(hit))
    }
    fn bad_record(&mut self, line: u64, message: String) {
        (self.0)(Event::BadRecord(line, message))
    }
}

struct Outcome {
    bytes: u64,
    status: Status,
    error: Option<InputError>,
}

impl Outcome {
    fn failed(error: InputError) -> Outcome {
        Outcome {
            bytes: 0,
            status: Status::Failed,
            error: Some(error),
        }
    }

    /// Reports the outcome: the error if any (a cancelled input is not one), then `Done`.
    fn report(self, emit: &mut dyn FnMut(Event)) {
        match &self.error {
            None | Some(InputError::Cancelled) => {}
            Some(InputError::Io(e)) => emit(Event::Error(walk::io_message(e))),
            Some(e) => emit(Event::Error(e.to_string())),
        }
        emit(Event::Done {
            bytes: self.bytes,
            status: self.status,
        });
    }
}

/// The report stream as a plain writer, for a redacted copy on standard output.
struct Plain<'a>(&'a mut dyn WriteColor);

impl Write for Plain<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Counts bytes read and feeds the progress display.
struct Counting<'a, R> {
    inner: R,
    bytes: u64,
    progress: &'a dyn Progress,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

/// Scans one input. Hits and notes go to `emit`; the redacted copy to `redirect` (standard
/// output) or to `dest` (written aside and renamed into place, so a failure leaves no half copy).
fn process(
    ctx: &Ctx,
    src: &Source,
    dest: Option<&Path>,
    vault: &mut Vault,
    emit: &mut dyn FnMut(Event),
    redirect: Option<&mut dyn Write>,
) -> Outcome {
    let display = display_path(src);
    let (path, explicit, mut reader): (Option<&Path>, bool, Box<dyn Read>) = match src {
        Source::Error { message, .. } => {
            return Outcome::failed(InputError::Io(io::Error::other(message.clone())))
        }
        Source::Stdin => (None, true, Box::new(io::stdin().lock())),
        Source::File { path, explicit, .. } => match File::open(path) {
            Ok(f) => (Some(path.as_path()), *explicit, Box::new(f)),
            Err(e) => return Outcome::failed(InputError::Io(e)),
        },
    };
    let mut prefix = vec![0u8; walk::SNIFF_LEN];
    let n = match read_full(&mut reader, &mut prefix) {
        Ok(n) => n,
        Err(e) => return Outcome::failed(InputError::Io(e)),
    };
    prefix.truncate(n);
    if !ctx.opts.binary && walk::looks_binary(&prefix) {
        if explicit {
            emit(Event::Note(format!(
                "{display}: binary file skipped (--binary scans it)"
            )));
        }
        let size = match src {
            Source::File { size: Some(s), .. } => *s,
            _ => n as u64,
        };
        ctx.progress.advance(size);
        return Outcome {
            bytes: 0,
            status: Status::Skipped,
            error: None,
        };
    }
    let mut tracked = Counting {
        inner: Cursor::new(prefix).chain(reader),
        bytes: 0,
        progress: ctx.progress,
    };
    let format = resolve_format(ctx.opts.input, path);
    let mut sink = Events(emit);
    let result = match (ctx.redactor, redirect, dest) {
        (Some(redactor), Some(out), _) => {
            let mut r = Redaction {
                redactor,
                vault,
                out,
            };
            scan_format(ctx, format, &mut tracked, &mut sink, Some(&mut r))
        }
        (Some(redactor), None, Some(dest)) => write_copy(dest, |out| {
            let mut r = Redaction {
                redactor,
                vault,
                out,
            };
            scan_format(ctx, format, &mut tracked, &mut sink, Some(&mut r))
        }),
        _ => scan_format(ctx, format, &mut tracked, &mut sink, None),
    };
    let bytes = tracked.bytes;
    match result {
        Ok(()) => Outcome {
            bytes,
            status: Status::Scanned,
            error: None,
        },
        Err(e) => Outcome {
            bytes,
            status: Status::Failed,
            error: Some(e),
        },
    }
}

fn scan_format(
    ctx: &Ctx,
    format: InputFormat,
    reader: &mut dyn Read,
    sink: &mut dyn Sink,
    redact: Option<&mut Redaction>,
) -> Result<(), InputError> {
    match format {
        InputFormat::Auto | InputFormat::Text => {
            crate::text::scan_text(&ctx.scan, reader, sink, redact)
        }
        InputFormat::Jsonl => {
            let mut r = BufReader::with_capacity(crate::text::READ_SIZE, reader);
            crate::jsonl::scan_jsonl(&ctx.scan, &mut r, sink, redact)
        }
        InputFormat::Csv => crate::table::scan_csv(
            &ctx.scan,
            &mut BufReader::with_capacity(crate::text::READ_SIZE, reader),
            ctx.opts.csv_header,
            sink,
            redact,
        ),
    }
}

/// Runs `f` with a writer to a temporary file beside `dest`, then renames it into place.
fn write_copy(
    dest: &Path,
    f: impl FnOnce(&mut dyn Write) -> Result<(), InputError>,
) -> Result<(), InputError> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(InputError::Write)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".guardline-")
        .tempfile_in(parent)
        .map_err(InputError::Write)?;
    {
        let mut w = BufWriter::with_capacity(crate::text::READ_SIZE, tmp.as_file_mut());
        f(&mut w)?;
        w.flush().map_err(InputError::Write)?;
    }
    // Temporary files are private; a redacted copy takes the usual permissions.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    tmp.persist(dest).map_err(|e| InputError::Write(e.error))?;
    Ok(())
}

/// Collects events, keeps the summary, prints hits and problems.
struct Report<'w, 'e> {
    printer: Option<Printer<'w>>,
    err: &'e mut dyn Write,
    paths: &'e [String],
    flush_each: bool,
    summary: Summary,
}

impl<'w, 'e> Report<'w, 'e> {
    fn new(
        printer: Option<Printer<'w>>,
        err: &'e mut dyn Write,
        paths: &'e [String],
        flush_each: bool,
    ) -> Report<'w, 'e> {
        Report {
            printer,
            err,
            paths,
            flush_each,
            summary: Summary::default(),
        }
    }

    fn handle(&mut self, index: usize, event: Event) -> Result<(), ScanError> {
        let path = self.paths.get(index).map_or("", String::as_str);
        match event {
            Event::Hit(hit) => {
                self.summary.findings += 1;
                *self
                    .summary
                    .by_kind
                    .entry(hit.finding.kind.to_string())
                    .or_default() += 1;
                if let Some(p) = self.printer.as_mut() {
                    p.hit(index, path, &hit).map_err(ScanError::Output)?;
                }
            }
            Event::BadRecord(line, message) => {
                self.summary.bad_records += 1;
                let _ = writeln!(self.err, "guardline: error: {path}:{line}: {message}");
            }
            Event::Note(message) => {
                let _ = writeln!(self.err, "guardline: {message}");
            }
            Event::Error(message) => {
                self.summary.errors += 1;
                let _ = writeln!(self.err, "guardline: error: {path}: {message}");
            }
            Event::Done { bytes, status } => {
                self.summary.bytes += bytes;
                match status {
                    Status::Scanned => self.summary.files += 1,
                    Status::Skipped => self.summary.skipped += 1,
                    Status::Failed => {}
                }
            }
        }
        Ok(())
    }
}

impl Report<'_, '_> {
    fn flush(&mut self) -> Result<(), ScanError> {
        if let Some(p) = self.printer.as_mut() {
            p.flush().map_err(ScanError::Output)?;
        }
        Ok(())
    }
}

/// Lets a worker start input `i` only while it is close enough to the one being printed, so
/// results waiting for their turn stay few however slow one large input is.
struct Gate {
    state: Mutex<(usize, bool)>,
    cv: Condvar,
    ahead: usize,
}

impl Gate {
    fn wait_for(&self, i: usize) -> bool {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while !g.1 && i >= g.0 + self.ahead {
            g = self.cv.wait(g).unwrap_or_else(|e| e.into_inner());
        }
        !g.1
    }
    fn advance(&self, head: usize) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).0 = head;
        self.cv.notify_all();
    }
    fn abort(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        self.cv.notify_all();
    }
}

/// Events are sent in batches of this many (and at the end of each input).
const BATCH: usize = 256;

fn run_parallel(
    ctx: &Ctx,
    sources: &[Source],
    dests: &[Option<PathBuf>],
    cancel: &AtomicBool,
    report: &mut Report,
) -> Result<Vec<Vault>, ScanError> {
    let workers = ctx.opts.threads.clamp(1, sources.len().max(1));
    let (tx, rx) = crossbeam_channel::unbounded::<(usize, Vec<Event>)>();
    let next = AtomicUsize::new(0);
    let gate = Gate {
        state: Mutex::new((0, false)),
        cv: Condvar::new(),
        ahead: workers * 4 + 4,
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let tx = tx.clone();
                let (next, gate) = (&next, &gate);
                s.spawn(move || {
                    let mut vault = Vault::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= sources.len() || cancel.load(Ordering::Relaxed) || !gate.wait_for(i)
                        {
                            break;
                        }
                        let mut batch = Vec::new();
                        let mut emit = |e: Event| {
                            batch.push(e);
                            if batch.len() >= BATCH {
                                let _ = tx.send((i, std::mem::take(&mut batch)));
                            }
                        };
                        let outcome = catch_unwind(AssertUnwindSafe(|| {
                            process(
                                ctx,
                                &sources[i],
                                dests[i].as_deref(),
                                &mut vault,
                                &mut emit,
                                None,
                            )
                        }))
                        .unwrap_or_else(|_| {
                            Outcome::failed(InputError::Io(io::Error::other(
                                "internal error while scanning (please report this input)",
                            )))
                        });
                        outcome.report(&mut emit);
                        let _ = tx.send((i, batch));
                    }
                    vault
                })
            })
            .collect();
        drop(tx);
        let result = collect(rx, ctx.progress, &gate, report);
        if result.is_err() {
            cancel.store(true, Ordering::Relaxed);
            gate.abort();
        }
        let vaults = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect();
        result.map(|()| vaults)
    })
}

/// Prints events in input order: those of the input at the head as they come, the others when
/// their turn comes.
fn collect(
    rx: crossbeam_channel::Receiver<(usize, Vec<Event>)>,
    progress: &dyn Progress,
    gate: &Gate,
    report: &mut Report,
) -> Result<(), ScanError> {
    let mut head = 0;
    let mut waiting: BTreeMap<usize, Vec<Event>> = BTreeMap::new();
    for (i, events) in rx.iter() {
        waiting.entry(i).or_default().extend(events);
        if !waiting.contains_key(&head) {
            // Nothing can be printed yet; leave the progress display alone.
            continue;
        }
        let mut result: Result<(), ScanError> = Ok(());
        progress.suspend(&mut || {
            result = (|| -> Result<(), ScanError> {
                while let Some(events) = waiting.remove(&head) {
                    let mut done = false;
                    for e in events {
                        done |= matches!(e, Event::Done { .. });
                        report.handle(head, e)?;
                    }
                    if !done {
                        break;
                    }
                    head += 1;
                    gate.advance(head);
                }
                if report.flush_each {
                    report.flush()?;
                }
                Ok(())
            })();
        });
        result?;
    }
    Ok(())
}

fn write_vault(path: &Path, vaults: &[Vault]) -> Result<(), ScanError> {
    let mut map: BTreeMap<&str, String> = BTreeMap::new();
    for v in vaults {
        for (token, value) in v.iter() {
            map.insert(token, String::from_utf8_lossy(value).into_owned());
        }
    }
    let fail = |e: io::Error| ScanError::Path {
        path: path.display().to_string(),
        source: e,
    };
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".guardline-vault-")
        .tempfile_in(parent)
        .map_err(fail)?;
    keys::restrict(tmp.as_file()).map_err(fail)?;
    serde_json::to_writer_pretty(&mut tmp, &map).map_err(|e| fail(e.into()))?;
    tmp.write_all(b"\n").map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use termcolor::NoColor;

    #[test]
    fn formats_by_extension() {
        let f = |p: &str| resolve_format(InputFormat::Auto, Some(Path::new(p)));
        assert_eq!(f("a.jsonl"), InputFormat::Jsonl);
        assert_eq!(f("a.NDJSON"), InputFormat::Jsonl);
        assert_eq!(f("dir/b.csv"), InputFormat::Csv);
        assert_eq!(f("c.json"), InputFormat::Text);
        assert_eq!(f("noext"), InputFormat::Text);
        assert_eq!(resolve_format(InputFormat::Auto, None), InputFormat::Text);
        assert_eq!(
            resolve_format(InputFormat::Csv, Some(Path::new("x.jsonl"))),
            InputFormat::Csv
        );
    }

    #[test]
    fn bad_engine_settings_are_errors() {
        assert!(matches!(
            build_engine(&[], &[], Some(1.5)),
            Err(ScanError::Usage(_))
        ));
        assert!(matches!(
            build_engine(&[], &[], Some(f32::NAN)),
            Err(ScanError::Usage(_))
        ));
        assert!(build_engine(&["[".into()], &[], None).is_err());
        assert!(build_engine(&["no_such_kind".into()], &[], None).is_err());
        assert!(build_engine(&["injection.*".into()], &["secret.*".into()], Some(0.9)).is_ok());
    }

    fn scan_dir(threads: usize, dir: &Path) -> (String, Summary) {
        let engine = Engine::with_defaults();
        let opts = ScanOptions {
            paths: vec![dir.to_path_buf()],
            threads,
            format: OutputFormat::Jsonl,
            ..ScanOptions::default()
        };
        let mut out = NoColor::new(Vec::new());
        let mut err = Vec::new();
        let s = run(&engine, &opts, &mut out, &mut err, &NoProgress).unwrap();
        (String::from_utf8(out.into_inner()).unwrap(), s)
    }

    #[test]
    fn output_order_does_not_depend_on_threads() {
        let d = tempfile::tempdir().unwrap();
        for i in 0..40 {
            // Sizes vary so that threads finish out of order.
            let body = format!(
                "{}A123456(3) +852 9123 4567\n",
                "filler text ".repeat((i * 7919) % 5000)
            );
            std::fs::write(
                d.path().join(format!("f{i:02}.txt")),
                body.repeat(1 + i % 3),
            )
            .unwrap();
        }
        let (one, s1) = scan_dir(1, d.path());
        let (many, s8) = scan_dir(8, d.path());
        assert_eq!(one, many);
        assert_eq!(s1.files, 40);
        assert_eq!(s1.findings, s8.findings);
        assert!(s1.findings >= 80);
        assert_eq!(s1.exit_code(), 1);
    }

    #[test]
    fn usage_errors() {
        let engine = Engine::with_defaults();
        let d = tempfile::tempdir().unwrap();
        let cases = [
            ScanOptions {
                paths: vec!["-".into(), "-".into()],
                ..ScanOptions::default()
            },
            ScanOptions {
                vault: Some(d.path().join("v")),
                redact: Some(Operator::Label),
                ..ScanOptions::default()
            },
            ScanOptions {
                output_dir: Some(d.path().into()),
                ..ScanOptions::default()
            },
            ScanOptions {
                paths: vec![d.path().into()],
                redact: Some(Operator::Label),
                ..ScanOptions::default()
            },
        ];
        for opts in cases {
            let mut out = NoColor::new(Vec::new());
            let r = run(&engine, &opts, &mut out, &mut Vec::new(), &NoProgress);
            assert!(matches!(r, Err(ScanError::Usage(_))), "{opts:?}");
        }
    }
}
