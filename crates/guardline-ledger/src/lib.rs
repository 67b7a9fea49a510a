//! Guardline's evidence ledger: an append-only, hash-chained record of every exchange, evaluation
//! run, assessment and human attestation, with ed25519-signed checkpoints, so that nobody can
//! change or drop a past entry without [`Ledger::verify`] saying so and where.
//!
//! Storage is SQLite in the data directory by default and PostgreSQL when several processes or
//! machines share one chain; both sit behind [`store::Backend`]. Appends go through one writer
//! task per process that commits whatever has queued up as one transaction (group commit), so many
//! concurrent appenders are fast and an append is acknowledged only once it is durable.
//!
//! What it is not: a place for raw personal data. Bodies hold kinds, counts, keyed hashes and
//! references; the chain covers a body's digest, so retention can drop bodies
//! ([`Ledger::prune_bodies`]) and the chain still verifies. `FORMAT.md` beside this crate specifies
//! the record format for third-party verifiers.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub mod checkpoint;
pub mod record;
pub mod store;
mod verify;

pub use checkpoint::Checkpoint;
pub use ed25519_dalek::SigningKey;
pub use record::{NewEvent, Record};
pub use store::Filter;
pub use verify::{Problem, VerifyOptions, VerifyReport};

use record::Draft;
use store::{Backend, CheckpointPolicy, Store};

#[derive(Debug, Clone, thiserror::Error)]
pub enum LedgerError {
    #[error("{0}")]
    Invalid(String),
    #[error("ledger storage: {0}")]
    Storage(String),
    #[error("checkpoint key: {0}")]
    Key(String),
    #[error(
        "refusing to record personal data or secrets in the ledger ({0}): record kinds, counts \
         or keyed hashes instead (a policy that must retain content opens the ledger with \
         retain_content)"
    )]
    PersonalData(String),
    #[error("the ledger's writer has stopped")]
    Closed,
}

/// The last record of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
    pub time: String,
}

/// What an acknowledged append returns: where the event landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub seq: i64,
    pub hash: String,
    pub time: String,
}

#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub events: i64,
    pub first_time: Option<String>,
    pub last_time: Option<String>,
    pub pruned_bodies: i64,
    pub by_kind: Vec<(String, i64)>,
    pub checkpoints: i64,
    pub last_checkpoint: Option<i64>,
    pub head: Option<Head>,
    /// Where the ledger lives, for people (no password).
    pub storage: String,
}

/// Where the ledger lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    /// A PostgreSQL URL; `schema` (from a `schema=` query parameter) keeps several ledgers apart
    /// in one database.
    Postgres {
        url: String,
        schema: Option<String>,
    },
}

/// The ledger file inside a data directory.
pub const SQLITE_FILE: &str = "ledger.sqlite";

impl Location {
    /// `postgres://…` / `postgresql://…` (optionally `?schema=NAME`), `sqlite://PATH`,
    /// `sqlite:PATH`, or a plain file path.
    pub fn parse(spec: &str) -> Result<Location, LedgerError> {
        if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
            let (base, query) = spec.split_once('?').unwrap_or((spec, ""));
            let mut schema = None;
            let mut kept = Vec::new();
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                match pair.split_once('=') {
                    Some(("schema", v)) => schema = Some(v.to_string()),
                    _ => kept.push(pair),
                }
            }
            let url = if kept.is_empty() {
                base.to_string()
            } else {
                format!("{base}?{}", kept.join("&"))
            };
            return Ok(Location::Postgres { url, schema });
        }
        let path = spec
            .strip_prefix("sqlite://")
            .or_else(|| spec.strip_prefix("sqlite:"))
            .unwrap_or(spec);
        if path.is_empty() {
            return Err(LedgerError::Invalid("empty ledger location".into()));
        }
        if path.contains("://") {
            return Err(LedgerError::Invalid(format!(
                "unsupported ledger URL `{spec}`: use postgres://… or a SQLite file path"
            )));
        }
        Ok(Location::Sqlite(PathBuf::from(path)))
    }

    /// The default: `ledger.sqlite` in the data directory.
    pub fn in_data_dir(dir: &std::path::Path) -> Location {
        Location::Sqlite(dir.join(SQLITE_FILE))
    }
}

/// When an append counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// Each group commit is on stable storage (fsynced) before its appends are acknowledged:
    /// nothing acknowledged is lost, even to a power cut.
    #[default]
    Full,
    /// Each group commit is written to the operating system before its appends are
    /// acknowledged, and synced to disk in the background within about a second: a killed or
    /// crashed process loses nothing acknowledged (DESIGN §4); a power cut or kernel crash may
    /// lose the last second, and the chain stays intact (the store rolls back whole commits).
    Normal,
}

impl std::str::FromStr for SyncMode {
    type Err = String;
    fn from_str(s: &str) -> Result<SyncMode, String> {
        match s {
            "full" => Ok(SyncMode::Full),
            "normal" => Ok(SyncMode::Normal),
            _ => Err(format!("ledger sync `{s}` is not `full` or `normal`")),
        }
    }
}

/// How often the writer syncs the store in the background under [`SyncMode::Normal`] …
const BACKGROUND_SYNC: Duration = Duration::from_secs(1);
/// … and after how many records at the latest (which also bounds SQLite's write-ahead log).
const SYNC_EVERY: usize = 1000;

/// How appends are batched and checkpoints signed.
#[derive(Clone)]
pub struct Options {
    /// Signs checkpoints; `None` appends without signing (verification still checks any
    /// checkpoints that exist).
    pub checkpoint_key: Option<SigningKey>,
    /// Sign the head once it is this many events past the last checkpoint …
    pub checkpoint_every: i64,
    /// … or this long after it (checked when an append lands, and by a timer while the ledger
    /// is quiet).
    pub checkpoint_interval: Duration,
    /// The most events one group commit carries.
    pub max_batch: usize,
    /// When an append is acknowledged: after an fsync ([`SyncMode::Full`], the default) or once
    /// the operating system has it ([`SyncMode::Normal`]).
    pub sync: SyncMode,
    /// Let bodies carry personal data and secrets. Off by default: every body is scanned with the
    /// detection engine and refused if it holds any (privacy by default, DESIGN §4).
    pub retain_content: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            checkpoint_key: None,
            checkpoint_every: 1000,
            checkpoint_interval: Duration::from_secs(60),
            max_batch: 4096,
            sync: SyncMode::Full,
            retain_content: false,
        }
    }
}

struct Job {
    drafts: Vec<Draft>,
    reply: oneshot::Sender<Result<Vec<Receipt>, LedgerError>>,
}

struct Inner {
    store: Arc<Store>,
    jobs: mpsc::Sender<Job>,
    policy: CheckpointPolicy,
    /// Shared with the writer: records committed since its background sync began.
    unsynced: Arc<Unsynced>,
    key: Option<SigningKey>,
    /// Scans bodies for personal data and secrets unless content retention is on.
    guard: Option<guardline_detect::Engine>,
}

/// A handle on the ledger; cheap to clone, safe to share between tasks.
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

impl Ledger {
    /// Opens (creating if needed) the ledger at `location` and starts its writer task. Must be
    /// called inside a Tokio runtime.
    pub async fn open(location: &Location, options: Options) -> Result<Ledger, LedgerError> {
        let store = match location {
            Location::Sqlite(path) => {
                Store::Sqlite(store::sqlite::SqliteStore::open(path, options.sync).await?)
            }
            Location::Postgres { url, schema } => Store::Postgres(
                store::postgres::PgStore::open(url, schema.as_deref(), options.sync).await?,
            ),
        };
        let store = Arc::new(store);
        let (jobs, rx) = mpsc::channel(options.max_batch.max(1) * 4);
        let policy = CheckpointPolicy {
            key: options.checkpoint_key.clone(),
            every: options.checkpoint_every.max(1),
            interval: options.checkpoint_interval,
        };
        let guard = if options.retain_content {
            None
        } else {
            Some(privacy_guard()?)
        };
        let unsynced = Arc::new(Unsynced::default());
        tokio::spawn(writer(
            store.clone(),
            rx,
            policy.clone(),
            options.max_batch.max(1),
            options.sync,
            unsynced.clone(),
        ));
        Ok(Ledger {
            inner: Arc::new(Inner {
                store,
                jobs,
                policy,
                unsynced,
                key: options.checkpoint_key,
                guard,
            }),
        })
    }

    /// Appends one event; returns once it is committed (durably so under [`SyncMode::Full`]).
    pub async fn append(&self, event: NewEvent) -> Result<Receipt, LedgerError> {
        let mut r = self.append_many(vec![event]).await?;
        r.pop().ok_or(LedgerError::Closed)
    }

    /// Appends several events as consecutive records, atomically.
    pub async fn append_many(&self, events: Vec<NewEvent>) -> Result<Vec<Receipt>, LedgerError> {
        let drafts = events
            .into_iter()
            .map(Draft::new)
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(engine) = &self.inner.guard {
            for d in &drafts {
                check_privacy(engine, d.body())?;
            }
        }
        self.submit(drafts).await
    }

    async fn submit(&self, mut drafts: Vec<Draft>) -> Result<Vec<Receipt>, LedgerError> {
        // With nothing queued, commit right here when the store can do it without waiting
        // (SQLite under SyncMode::Normal): one exchange's record then costs no task hand-offs.
        // Under load the queue is not empty, and the writer's group commits take over.
        let jobs = &self.inner.jobs;
        if !drafts.is_empty() && jobs.capacity() == jobs.max_capacity() {
            match self.inner.store.try_append_now(drafts, &self.inner.policy) {
                Ok(result) => {
                    if let Ok(r) = &result {
                        self.inner.unsynced.add(r.len());
                    }
                    return result;
                }
                Err(d) => drafts = d,
            }
        }
        let (reply, rx) = oneshot::channel();
        self.inner
            .jobs
            .send(Job { drafts, reply })
            .await
            .map_err(|_| LedgerError::Closed)?;
        rx.await.map_err(|_| LedgerError::Closed)?
    }

    pub async fn head(&self) -> Result<Option<Head>, LedgerError> {
        self.inner.store.head().await
    }

    /// Re-walks the chain and the checkpoints.
    pub async fn verify(&self, options: &VerifyOptions) -> Result<VerifyReport, LedgerError> {
        verify::verify(&*self.inner.store, options).await
    }

    /// Records matching `filter`, in sequence order.
    pub fn records(
        &self,
        filter: Filter,
    ) -> futures_util::stream::BoxStream<'_, Result<Record, LedgerError>> {
        self.inner.store.records(filter)
    }

    pub async fn checkpoints(&self) -> Result<Vec<Checkpoint>, LedgerError> {
        self.inner.store.checkpoints().await
    }

    /// Drops the bodies of records older than `before` (RFC 3339), keeping their digests.
    pub async fn prune_bodies(&self, before: &str) -> Result<u64, LedgerError> {
        self.inner.store.prune_bodies(before).await
    }

    pub async fn stats(&self) -> Result<Stats, LedgerError> {
        self.inner.store.stats().await
    }

    /// Waits for every append queued before this call, then signs the head if it is not signed
    /// yet. Call before a clean shutdown.
    pub async fn close(&self) -> Result<Option<Checkpoint>, LedgerError> {
        self.submit(Vec::new()).await?;
        match &self.inner.key {
            Some(key) => self.inner.store.checkpoint_now(key).await,
            None => Ok(None),
        }
    }
}

/// The engine that keeps personal data and secrets out of bodies: every kind except injection
/// phrasing (an evaluation run may name its attack techniques) and IP addresses (records name
/// the servers they talk to, `10.0.0.5:8000`; client addresses are never recorded).
fn privacy_guard() -> Result<guardline_detect::Engine, LedgerError> {
    guardline_detect::Engine::new(guardline_detect::EngineConfig {
        exclude_kinds: vec!["injection.*".into(), "ip_address".into()],
        ..Default::default()
    })
    .map_err(|e| LedgerError::Invalid(format!("privacy guard: {e}")))
}

fn check_privacy(engine: &guardline_detect::Engine, body: &str) -> Result<(), LedgerError> {
    let findings = engine.scan(body.as_bytes());
    if findings.is_empty() {
        return Ok(());
    }
    let mut kinds: Vec<String> = findings.iter().map(|f| f.kind.to_string()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    Err(LedgerError::PersonalData(kinds.join(", ")))
}

/// The group-commit loop: take one job, sweep up whatever else has queued (up to `max_batch`
/// events), commit them in one transaction, answer everyone. Between jobs, sign the head every
/// `interval` if it moved, so a quiet ledger still gets its checkpoint.
async fn writer(
    store: Arc<Store>,
    mut rx: mpsc::Receiver<Job>,
    policy: CheckpointPolicy,
    max_batch: usize,
    sync: SyncMode,
    unsynced: Arc<Unsynced>,
) {
    let mut tick = tokio::time::interval(policy.interval.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate
    let mut sync_tick = tokio::time::interval(BACKGROUND_SYNC);
    sync_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    sync_tick.tick().await;
    let mut bg = BackgroundSync {
        store: store.clone(),
        running: None,
        unsynced,
    };
    loop {
        let first = tokio::select! {
            job = rx.recv() => match job {
                Some(job) => job,
                None => break,
            },
            _ = tick.tick() => {
                if let Some(key) = &policy.key {
                    // Best effort: a failure here is retried at the next tick, and verification
                    // does not depend on any one checkpoint.
                    let _ = store.checkpoint_now(key).await;
                }
                continue;
            }
            _ = sync_tick.tick(), if bg.unsynced.get() > 0 => {
                bg.start();
                continue;
            }
            _ = bg.unsynced.full.notified() => {
                bg.start();
                continue;
            }
        };
        let mut n = first.drafts.len();
        let mut jobs = vec![first];
        while n < max_batch {
            match rx.try_recv() {
                Ok(job) => {
                    n += job.drafts.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let mut sizes = Vec::with_capacity(jobs.len());
        let mut replies = Vec::with_capacity(jobs.len());
        let mut drafts = Vec::with_capacity(n);
        for job in jobs {
            sizes.push(job.drafts.len());
            replies.push(job.reply);
            drafts.extend(job.drafts);
        }
        let result = if drafts.is_empty() {
            Ok(Vec::new())
        } else {
            store.append_batch(drafts, &policy).await
        };
        match result {
            Ok(receipts) => {
                if sync == SyncMode::Normal {
                    bg.unsynced.add(receipts.len());
                }
                let mut it = receipts.into_iter();
                for (size, reply) in sizes.into_iter().zip(replies) {
                    let _ = reply.send(Ok(it.by_ref().take(size).collect()));
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
        if bg.unsynced.get() >= SYNC_EVERY {
            bg.start();
        }
    }
    bg.finish().await;
}

/// Records committed since the background sync last began, counted by the writer and by
/// appends committed in place; `full` wakes the writer once `SYNC_EVERY` have piled up.
#[derive(Default)]
struct Unsynced {
    n: std::sync::atomic::AtomicUsize,
    full: tokio::sync::Notify,
}

impl Unsynced {
    fn add(&self, k: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        let before = self.n.fetch_add(k, Relaxed);
        if before < SYNC_EVERY && before + k >= SYNC_EVERY {
            self.full.notify_one();
        }
    }
    fn get(&self) -> usize {
        self.n.load(std::sync::atomic::Ordering::Relaxed)
    }
    /// Takes the count (a sync is starting).
    fn take(&self) -> usize {
        self.n.swap(0, std::sync::atomic::Ordering::Relaxed)
    }
}

/// The background sync of [`SyncMode::Normal`]: one at a time, in a task of its own, so the
/// writer goes on committing while a checkpoint's fsyncs run (they were the gateway's p99).
struct BackgroundSync {
    store: Arc<Store>,
    running: Option<tokio::task::JoinHandle<bool>>,
    /// Records committed since the running (or last) sync began.
    unsynced: Arc<Unsynced>,
}

impl BackgroundSync {
    /// Collects a finished sync; a failed one leaves work to do, so the next tick retries.
    fn reap(&mut self) {
        use futures_util::FutureExt;
        if let Some(h) = self.running.as_mut().filter(|h| h.is_finished()) {
            let ok = h.now_or_never().and_then(Result::ok).unwrap_or(false);
            if !ok && self.unsynced.get() == 0 {
                self.unsynced.add(1);
            }
            self.running = None;
        }
    }

    /// Starts a sync unless one is running or there is nothing to sync.
    fn start(&mut self) {
        self.reap();
        if self.running.is_some() || self.unsynced.take() == 0 {
            return;
        }
        let store = self.store.clone();
        self.running = Some(tokio::spawn(async move { store.sync().await.is_ok() }));
    }

    /// On close: waits for a running sync, then syncs whatever came after it.
    async fn finish(mut self) {
        let mut pending = false;
        if let Some(h) = self.running.take() {
            pending = !h.await.unwrap_or(false);
        }
        if pending || self.unsynced.take() > 0 {
            let _ = self.store.sync().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        assert_eq!(
            Location::parse("postgres://u@h:5432/db?schema=s1&sslmode=disable").unwrap(),
            Location::Postgres {
                url: "postgres://u@h:5432/db?sslmode=disable".into(),
                schema: Some("s1".into())
            }
        );
        assert_eq!(
            Location::parse("sqlite:///tmp/x.db").unwrap(),
            Location::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            Location::parse("ledger.sqlite").unwrap(),
            Location::Sqlite("ledger.sqlite".into())
        );
        assert!(Location::parse("mysql://x").is_err());
        assert!(Location::parse("").is_err());
    }
}
