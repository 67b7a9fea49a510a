//! Where a run lives, so it can be resumed and compared:
//!
//! ```text
//! DATA_DIR/eval/runs/RUN_ID/manifest.json   target, model, suites and versions, settings
//!                          /probes.jsonl    the exact probes (the sample drawn, rendered)
//!                          /attempts.jsonl  one line per attempt: answer, verdict, timing
//!                          /judge.jsonl     the judge's verdicts (with --judge)
//!                          /result.json     metrics, once the run is complete
//! DATA_DIR/eval/cache/ab/abcdef….json       answers keyed by SHA-256(endpoint ‖ request body)
//! ```
//!
//! An attempt line is appended (one `write`) as soon as its answer arrives; the answer is in the
//! cache before that. A run killed at any point therefore resumes without sending any probe whose
//! answer it already had.

use crate::probe::Probe;
use crate::score::Verdict;
use crate::target::{Outcome, Sampling};
use crate::{Error, Result, Suite};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EndpointSpec {
    /// Without credentials.
    pub url: String,
    pub model: String,
    /// The environment variable the key came from (the key itself is never stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SuitePlan {
    pub suite: Suite,
    pub version: String,
    /// `catalog` or the data sets' file names.
    pub sources: Vec<String>,
    /// Probes in the run (after `--limit`).
    pub n: usize,
    /// Probes available before sampling.
    pub available: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub run_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    pub target: EndpointSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<EndpointSpec>,
    pub sampling: Sampling,
    pub suites: Vec<SuitePlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    pub seed: u64,
    pub started: String,
    pub guardline_version: String,
}

/// One line of `attempts.jsonl`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Attempt {
    pub probe: String,
    pub suite: Suite,
    pub lang: String,
    pub time: String,
    /// `ok` (an answer or a block) or `error` (no answer after the retries).
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Answered from the cache: nothing was sent.
    pub cached: bool,
    /// HTTP requests made for it (0 when cached).
    pub tries: u32,
    pub latency_ms: u64,
    /// The cache key: SHA-256 of the endpoint and the request body.
    pub request_sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
}

impl Attempt {
    pub fn is_ok(&self) -> bool {
        self.status == "ok" && self.outcome.is_some()
    }
}

/// A run ID: 16 lower-case hex digits (also what keeps a run ID from naming another path).
pub fn new_run_id() -> String {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b = (t as u64 ^ u64::from(std::process::id()).rotate_left(32)).to_be_bytes();
    }
    hex::encode(b)
}

pub fn check_run_id(id: &str) -> Result<()> {
    if id.len() == 16
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "`{id}` is not a run ID (16 hex digits, as `guardline eval runs` lists them)"
        )))
    }
}

pub fn runs_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("eval").join("runs")
}

pub fn cache_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("eval").join("cache")
}

/// A run's directory, opened for appending attempts.
pub struct RunStore {
    pub dir: PathBuf,
    attempts: File,
    _lock: Lock,
}

impl RunStore {
    /// Creates the directory of a new run with its manifest and probes.
    pub fn create(data_dir: &Path, manifest: &Manifest, probes: &[Probe]) -> Result<RunStore> {
        check_run_id(&manifest.run_id)?;
        let dir = runs_dir(data_dir).join(&manifest.run_id);
        fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let lock = Lock::take(&dir)?;
        write_atomic(&dir.join("manifest.json"), &to_json_pretty(manifest)?)?;
        let mut text = String::new();
        for p in probes {
            text.push_str(&serde_json::to_string(p).map_err(|e| Error::Invalid(e.to_string()))?);
            text.push('\n');
        }
        write_atomic(&dir.join("probes.jsonl"), text.as_bytes())?;
        let attempts = open_append(&dir.join("attempts.jsonl"))?;
        Ok(RunStore {
            dir,
            attempts,
            _lock: lock,
        })
    }

    /// Opens an existing run to resume it.
    pub fn open(
        data_dir: &Path,
        run_id: &str,
    ) -> Result<(RunStore, Manifest, Vec<Probe>, Vec<Attempt>)> {
        let (dir, manifest, probes, attempts) = read_run(data_dir, run_id)?;
        let lock = Lock::take(&dir)?;
        let attempts_file = open_append(&dir.join("attempts.jsonl"))?;
        Ok((
            RunStore {
                dir,
                attempts: attempts_file,
                _lock: lock,
            },
            manifest,
            probes,
            attempts,
        ))
    }

    /// Appends one attempt as one write, so a kill leaves at most a torn last line (ignored when
    /// the run is read back).
    pub fn append(&mut self, attempt: &Attempt) -> Result<()> {
        let mut line = serde_json::to_vec(attempt).map_err(|e| Error::Invalid(e.to_string()))?;
        line.push(b'\n');
        self.attempts
            .write_all(&line)
            .map_err(|e| Error::io("cannot append to attempts.jsonl", e))
    }

    pub fn append_judge(&self, line: &serde_json::Value) -> Result<()> {
        let mut f = open_append(&self.dir.join("judge.jsonl"))?;
        let mut b = serde_json::to_vec(line).map_err(|e| Error::Invalid(e.to_string()))?;
        b.push(b'\n');
        f.write_all(&b)
            .map_err(|e| Error::io("cannot append to judge.jsonl", e))
    }

    pub fn sync(&self) -> Result<()> {
        self.attempts
            .sync_all()
            .map_err(|e| Error::io("cannot sync attempts.jsonl", e))
    }

    pub fn write_result(&self, result: &crate::report::RunResult) -> Result<()> {
        write_atomic(&self.dir.join("result.json"), &to_json_pretty(result)?)
    }
}

/// Reads a run without locking it.
pub fn read_run(
    data_dir: &Path,
    run_id: &str,
) -> Result<(PathBuf, Manifest, Vec<Probe>, Vec<Attempt>)> {
    check_run_id(run_id)?;
    let dir = runs_dir(data_dir).join(run_id);
    if !dir.is_dir() {
        return Err(Error::Invalid(format!(
            "no run {run_id} in {} (give --data-dir if it was made elsewhere)",
            runs_dir(data_dir).display()
        )));
    }
    let path = dir.join("manifest.json");
    let text =
        fs::read(&path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| Error::data(path.display().to_string(), e.to_string()))?;
    let probes = read_jsonl::<Probe>(&dir.join("probes.jsonl"), false)?;
    let attempts_path = dir.join("attempts.jsonl");
    let attempts = if attempts_path.exists() {
        read_jsonl::<Attempt>(&attempts_path, true)?
    } else {
        Vec::new()
    };
    Ok((dir, manifest, probes, attempts))
}

/// Reads a JSONL file; with `tolerate_torn_tail`, a last line without its newline that does not
/// parse (a write cut by a kill) is dropped.
fn read_jsonl<T: serde::de::DeserializeOwned>(
    path: &Path,
    tolerate_torn_tail: bool,
) -> Result<Vec<T>> {
    let f =
        File::open(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let mut out = Vec::new();
    let mut reader = BufReader::new(f);
    let mut buf = Vec::new();
    let mut n = 0;
    loop {
        buf.clear();
        let got = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        if got == 0 {
            break;
        }
        n += 1;
        let complete = buf.last() == Some(&b'\n');
        let line = String::from_utf8_lossy(&buf);
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<T>(line.trim_end()) {
            Ok(v) => out.push(v),
            Err(_) if tolerate_torn_tail && !complete => break,
            Err(e) => {
                return Err(Error::data(
                    format!("{}:{n}", path.display()),
                    e.to_string(),
                ))
            }
        }
    }
    Ok(out)
}

/// Runs in the data directory, newest first: (run ID, manifest, complete).
pub fn list_runs(data_dir: &Path) -> Result<Vec<(String, Manifest, bool)>> {
    let dir = runs_dir(data_dir);
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(out);
    };
    for e in entries.flatten() {
        let id = e.file_name().to_string_lossy().into_owned();
        if check_run_id(&id).is_err() {
            continue;
        }
        let Ok(text) = fs::read(e.path().join("manifest.json")) else {
            continue;
        };
        let Ok(m) = serde_json::from_slice::<Manifest>(&text) else {
            continue;
        };
        let complete = e.path().join("result.json").exists();
        out.push((id, m, complete));
    }
    out.sort_by(|a, b| b.1.started.cmp(&a.1.started));
    Ok(out)
}

/// The answer cache: content-addressed, shared by all runs in a data directory.
#[derive(Clone, Debug)]
pub struct Cache {
    dir: Option<PathBuf>,
}

#[derive(Serialize, Deserialize)]
struct CacheEntry {
    outcome: Outcome,
    time: String,
}

impl Cache {
    pub fn new(dir: PathBuf) -> Cache {
        Cache { dir: Some(dir) }
    }
    /// A cache that never hits and stores nothing (`--no-cache`).
    pub fn disabled() -> Cache {
        Cache { dir: None }
    }

    /// SHA-256 of the endpoint and the request body: the same question to the same endpoint
    /// and model with the same settings is the same key. The endpoint is part of the key so that
    /// a model measured directly and through a gateway never share answers.
    pub fn key(endpoint_url: &str, body: &serde_json::Value) -> String {
        let mut h = Sha256::new();
        h.update(endpoint_url.as_bytes());
        h.update(b"\n");
        h.update(body.to_string().as_bytes());
        hex::encode(h.finalize())
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        if key.len() < 3 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(dir.join(&key[..2]).join(format!("{key}.json")))
    }

    pub fn get(&self, key: &str) -> Option<Outcome> {
        let path = self.path(key)?;
        let text = fs::read(path).ok()?;
        serde_json::from_slice::<CacheEntry>(&text)
            .ok()
            .map(|e| e.outcome)
    }

    pub fn put(&self, key: &str, outcome: &Outcome) -> Result<()> {
        let Some(path) = self.path(key) else {
            return Ok(());
        };
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("cannot create {}", parent.display()), e))?;
        }
        let entry = CacheEntry {
            outcome: outcome.clone(),
            time: now(),
        };
        let bytes = serde_json::to_vec(&entry).map_err(|e| Error::Invalid(e.to_string()))?;
        write_atomic(&path, &bytes)
    }
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn to_json_pretty<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    let mut b = serde_json::to_vec_pretty(v).map_err(|e| Error::Invalid(e.to_string()))?;
    b.push(b'\n');
    Ok(b)
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))
}

/// Write to a temporary file beside `path`, then rename: readers see the old or the new file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, bytes).map_err(|e| Error::io(format!("cannot write {}", tmp.display()), e))?;
    fs::rename(&tmp, path).map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}

/// One process at a time per run: `lock` holds the owner's process ID. A lock left by a process
/// that is gone (killed) is taken over.
struct Lock {
    path: PathBuf,
}

impl Lock {
    fn take(dir: &Path) -> Result<Lock> {
        let path = dir.join("lock");
        if let Ok(text) = fs::read_to_string(&path) {
            if let Ok(pid) = text.trim().parse::<u32>() {
                if pid != std::process::id() && process_alive(pid) {
                    return Err(Error::Invalid(format!(
                        "run {} is in use by process {pid}",
                        dir.file_name().unwrap_or_default().to_string_lossy()
                    )));
                }
            }
        }
        fs::write(&path, std::process::id().to_string())
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
        Ok(Lock { path })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids() {
        let id = new_run_id();
        assert!(check_run_id(&id).is_ok(), "{id}");
        assert_ne!(id, new_run_id());
        for bad in ["../../etc", "ABCDEF0123456789", "abc", ""] {
            assert!(check_run_id(bad).is_err());
        }
    }

    #[test]
    fn cache_round_trip_and_keys() {
        let dir = tempfile::tempdir().unwrap();
        let c = Cache::new(dir.path().to_path_buf());
        let body = serde_json::json!({"model": "m", "messages": []});
        let k1 = Cache::key("http://a/v1/chat/completions", &body);
        let k2 = Cache::key("http://b/v1/chat/completions", &body);
        assert_ne!(k1, k2);
        assert_eq!(c.get(&k1), None);
        let o = Outcome::Answer {
            text: "x".into(),
            finish_reason: None,
        };
        c.put(&k1, &o).unwrap();
        assert_eq!(c.get(&k1), Some(o));
        assert_eq!(Cache::disabled().get(&k1), None);
    }

    #[test]
    fn a_torn_last_line_is_dropped_a_bad_middle_line_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.jsonl");
        fs::write(&p, "{\"a\":1}\n{\"a\":2}\n{\"a\":").unwrap();
        let v: Vec<serde_json::Value> = read_jsonl(&p, true).unwrap();
        assert_eq!(v.len(), 2);
        fs::write(&p, "{\"a\":1}\nnope\n{\"a\":2}\n").unwrap();
        let e = read_jsonl::<serde_json::Value>(&p, true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("a.jsonl:2"), "{e}");
    }
}
