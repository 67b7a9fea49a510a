//! Storage backends behind one trait. A backend appends a batch atomically: it takes its write
//! lock, reads the head *inside* the lock (another process may have appended since), chains the
//! batch, inserts it, signs a checkpoint when one is due, and commits durably. Everything else is
//! reading.

use crate::checkpoint::{self, Checkpoint};
use crate::record::{Draft, Record, GENESIS};
use crate::{Head, LedgerError, Receipt, Stats};
use ed25519_dalek::SigningKey;
use futures_util::stream::BoxStream;
use std::future::Future;
use std::time::Duration;

pub mod postgres;
pub mod sqlite;

/// When to sign the head.
#[derive(Clone)]
pub struct CheckpointPolicy {
    pub key: Option<SigningKey>,
    /// Sign once the head is this many events past the last checkpoint.
    pub every: i64,
    /// … or this long after it.
    pub interval: Duration,
}

/// What to read back.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Records with `time >= since` (RFC 3339 text, compared as text).
    pub since: Option<String>,
    /// Records with `time < until`.
    pub until: Option<String>,
    pub kind: Option<String>,
}

/// The operations every storage backend provides.
pub trait Backend: Send + Sync + 'static {
    fn append_batch(
        &self,
        batch: Vec<Draft>,
        policy: &CheckpointPolicy,
    ) -> impl Future<Output = Result<Vec<Receipt>, LedgerError>> + Send;
    fn head(&self) -> impl Future<Output = Result<Option<Head>, LedgerError>> + Send;
    /// Every record matching `filter`, in sequence order.
    fn records(&self, filter: Filter) -> BoxStream<'_, Result<Record, LedgerError>>;
    fn checkpoints(&self) -> impl Future<Output = Result<Vec<Checkpoint>, LedgerError>> + Send;
    /// Signs the current head now, unless it is already signed.
    fn checkpoint_now(
        &self,
        key: &SigningKey,
    ) -> impl Future<Output = Result<Option<Checkpoint>, LedgerError>> + Send;
    /// Drops the bodies of records older than `before`, keeping their digests (the chain still
    /// verifies). Returns how many bodies were dropped.
    fn prune_bodies(&self, before: &str) -> impl Future<Output = Result<u64, LedgerError>> + Send;
    fn stats(&self) -> impl Future<Output = Result<Stats, LedgerError>> + Send;
    /// Puts everything committed so far on stable storage (the background sync of
    /// [`crate::SyncMode::Normal`]).
    fn sync(&self) -> impl Future<Output = Result<(), LedgerError>> + Send;
}

/// The backend chosen at run time.
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

impl Store {
    /// Commits `batch` on the calling task if that can be done at once without an fsync (SQLite
    /// under `SyncMode::Normal` with its write lock free); otherwise hands it back.
    pub fn try_append_now(
        &self,
        batch: Vec<Draft>,
        policy: &CheckpointPolicy,
    ) -> Result<Result<Vec<Receipt>, LedgerError>, Vec<Draft>> {
        match self {
            Store::Sqlite(s) => s.try_append_now(batch, policy),
            Store::Postgres(_) => Err(batch),
        }
    }
}

impl Backend for Store {
    async fn append_batch(
        &self,
        batch: Vec<Draft>,
        policy: &CheckpointPolicy,
    ) -> Result<Vec<Receipt>, LedgerError> {
        match self {
            Store::Sqlite(s) => s.append_batch(batch, policy).await,
            Store::Postgres(s) => s.append_batch(batch, policy).await,
        }
    }
    async fn head(&self) -> Result<Option<Head>, LedgerError> {
        match self {
            Store::Sqlite(s) => s.head().await,
            Store::Postgres(s) => s.head().await,
        }
    }
    fn records(&self, filter: Filter) -> BoxStream<'_, Result<Record, LedgerError>> {
        match self {
            Store::Sqlite(s) => s.records(filter),
            Store::Postgres(s) => s.records(filter),
        }
    }
    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, LedgerError> {
        match self {
            Store::Sqlite(s) => s.checkpoints().await,
            Store::Postgres(s) => s.checkpoints().await,
        }
    }
    async fn checkpoint_now(&self, key: &SigningKey) -> Result<Option<Checkpoint>, LedgerError> {
        match self {
            Store::Sqlite(s) => s.checkpoint_now(key).await,
            Store::Postgres(s) => s.checkpoint_now(key).await,
        }
    }
    async fn prune_bodies(&self, before: &str) -> Result<u64, LedgerError> {
        match self {
            Store::Sqlite(s) => s.prune_bodies(before).await,
            Store::Postgres(s) => s.prune_bodies(before).await,
        }
    }
    async fn stats(&self) -> Result<Stats, LedgerError> {
        match self {
            Store::Sqlite(s) => s.stats().await,
            Store::Postgres(s) => s.stats().await,
        }
    }
    async fn sync(&self) -> Result<(), LedgerError> {
        match self {
            Store::Sqlite(s) => s.sync().await,
            Store::Postgres(s) => s.sync().await,
        }
    }
}

/// Chains a batch after `head`. Times never go backwards along the chain, even when several
/// nodes with slightly different clocks share it, so `--since`/`--until` slices are contiguous.
pub(crate) fn seal_batch(head: Option<&Head>, batch: Vec<Draft>) -> Vec<Record> {
    let mut now = crate::record::now();
    let (mut seq, mut prev) = match head {
        Some(h) => {
            if h.time > now {
                now = h.time.clone();
            }
            (h.seq, h.hash.clone())
        }
        None => (0, GENESIS.to_string()),
    };
    batch
        .into_iter()
        .map(|d| {
            seq += 1;
            let r = d.seal(seq, now.clone(), &prev);
            prev.clone_from(&r.hash);
            r
        })
        .collect()
}

/// Whether a checkpoint is due after the head moved to `head_seq`.
pub(crate) fn checkpoint_due(
    policy: &CheckpointPolicy,
    last: Option<(i64, String)>,
    head_seq: i64,
) -> bool {
    if policy.key.is_none() {
        return false;
    }
    match last {
        None => true,
        Some((seq, _)) if seq >= head_seq => false,
        Some((seq, time)) => {
            head_seq - seq >= policy.every
                || chrono::DateTime::parse_from_rfc3339(&time)
                    .map(|t| {
                        chrono::Utc::now().signed_duration_since(t)
                            >= chrono::Duration::from_std(policy.interval)
                                .unwrap_or(chrono::Duration::MAX)
                    })
                    .unwrap_or(true)
        }
    }
}

pub(crate) fn receipts(records: &[Record]) -> Vec<Receipt> {
    records
        .iter()
        .map(|r| Receipt {
            seq: r.seq,
            hash: r.hash.clone(),
            time: r.time.clone(),
        })
        .collect()
}

pub(crate) fn sign_head(key: &SigningKey, head: &Record) -> Checkpoint {
    checkpoint::sign(key, head.seq, &head.hash, &head.time)
}

pub(crate) fn db_err(what: &'static str) -> impl Fn(sqlx::Error) -> LedgerError {
    move |e| LedgerError::Storage(format!("{what}: {e}"))
}
