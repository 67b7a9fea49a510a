//! SQLite: one file in the data directory, WAL, and `BEGIN IMMEDIATE` per batch so several
//! processes on one machine can share the file without forking the chain. With [`SyncMode::Full`] a
//! commit is fsynced before the append is acknowledged (power loss included); with
//! [`SyncMode::Normal`] it is in the operating system's hands (a killed process loses nothing, a power
//! cut may lose the last moments) and the writer syncs the log in the background.
//!
//! Appends, checkpoints and pruning go through one `rusqlite` connection on a blocking thread, a
//! whole batch per hop (begin, read the head, insert, sign, commit); through sqlx's driver each
//! statement was a round trip to its worker thread. Reads use sqlx's pool or `rusqlite` in
//! batches.

use super::{
    checkpoint_due, db_err, receipts, seal_batch, sign_head, Backend, CheckpointPolicy, Filter,
};
use crate::checkpoint::Checkpoint;
use crate::record::{Draft, Record};
use crate::{Head, LedgerError, Receipt, Stats, SyncMode};
use ed25519_dalek::SigningKey;
use futures_util::stream::{BoxStream, StreamExt};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::Row;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS ledger_events (
        seq INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        kind TEXT NOT NULL,
        tenant TEXT NOT NULL,
        body TEXT,
        body_sha256 TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS ledger_events_time ON ledger_events (time)",
    "CREATE TABLE IF NOT EXISTS ledger_checkpoints (
        seq INTEGER PRIMARY KEY,
        hash TEXT NOT NULL,
        time TEXT NOT NULL,
        key TEXT NOT NULL,
        signature TEXT NOT NULL
    )",
];

pub struct SqliteStore {
    path: PathBuf,
    /// The connection appends go through (one writer per process; the file lock orders
    /// processes), used on blocking threads only.
    writer: Arc<Mutex<Connection>>,
    /// Under [`SyncMode::Normal`]: a second connection for the background sync, so that a
    /// checkpoint's fsyncs never hold up a commit (WAL lets a checkpoint run beside a writer).
    syncer: Option<Arc<Mutex<Connection>>>,
    readers: SqlitePool,
    sync: SyncMode,
}

/// How long a writer waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

fn lite_err(what: &'static str) -> impl Fn(rusqlite::Error) -> LedgerError {
    move |e| LedgerError::Storage(format!("{what}: {e}"))
}

fn open_writer(path: &Path, sync: SyncMode) -> Result<Connection, LedgerError> {
    let e =
        |e: rusqlite::Error| LedgerError::Storage(format!("cannot open {}: {e}", path.display()));
    let mut conn = Connection::open(path).map_err(e)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(e)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(e)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(LedgerError::Storage(format!(
            "cannot open {}: the file system refused write-ahead logging (journal mode {mode})",
            path.display()
        )));
    }
    let level = match sync {
        SyncMode::Full => "FULL",
        SyncMode::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", level).map_err(e)?;
    if sync == SyncMode::Normal {
        // Checkpoints (which fsync) run in the background sync, on their own connection and a
        // blocking thread, never inside a commit; the writer also starts one after every
        // `SYNC_EVERY` records, so the log stays small under load.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(e)?;
        conn.pragma_update(None, "journal_size_limit", 64 << 20)
            .map_err(e)?;
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(lite_err("schema"))?;
    for stmt in SCHEMA {
        tx.execute(stmt, []).map_err(lite_err("schema"))?;
    }
    tx.commit().map_err(lite_err("schema"))?;
    Ok(conn)
}

/// The background sync's connection (after [`open_writer`] made the file, its schema and WAL).
fn open_syncer(path: &Path) -> Result<Connection, LedgerError> {
    let e =
        |e: rusqlite::Error| LedgerError::Storage(format!("cannot open {}: {e}", path.display()));
    let conn = Connection::open(path).map_err(e)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(e)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(e)?;
    Ok(conn)
}

impl SqliteStore {
    pub async fn open(path: &Path, sync: SyncMode) -> Result<SqliteStore, LedgerError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                LedgerError::Storage(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let p = path.to_path_buf();
        let (writer, syncer) = tokio::task::spawn_blocking(move || {
            let writer = open_writer(&p, sync)?;
            let syncer = match sync {
                SyncMode::Normal => Some(open_syncer(&p)?),
                SyncMode::Full => None,
            };
            Ok::<_, LedgerError>((writer, syncer))
        })
        .await
        .map_err(|e| LedgerError::Storage(format!("opening the ledger: {e}")))??;
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(30))
            .read_only(true);
        let readers = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(opts)
            .await
            .map_err(|e| LedgerError::Storage(format!("cannot open {}: {e}", path.display())))?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            writer: Arc::new(Mutex::new(writer)),
            syncer: syncer.map(|c| Arc::new(Mutex::new(c))),
            readers,
            sync,
        })
    }

    /// Runs `f` on the writer connection on a blocking thread.
    async fn with_writer<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, LedgerError> + Send + 'static,
    ) -> Result<T, LedgerError> {
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || {
            // A panic mid-transaction rolled it back when the transaction dropped, so the
            // connection is still sound.
            let mut conn = writer.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|e| LedgerError::Storage(format!("the ledger writer failed: {e}")))?
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Commits `batch` right here, on the calling task, if the write lock is free at once
    /// ([`SyncMode::Normal`] only). Without an fsync a commit is some SQLite work and one
    /// write(): done in place it saves the thread hand-offs of the blocking pool (and, called
    /// from [`crate::Ledger::append`], those of the writer task too). Hands the batch back when
    /// the lock is taken (another process, a prune, a checkpoint) or under [`SyncMode::Full`],
    /// whose fsync must not stall an async worker.
    pub(crate) fn try_append_now(
        &self,
        batch: Vec<Draft>,
        policy: &CheckpointPolicy,
    ) -> Result<Result<Vec<Receipt>, LedgerError>, Vec<Draft>> {
        if self.sync != SyncMode::Normal {
            return Err(batch);
        }
        let Ok(mut guard) = self.writer.try_lock() else {
            return Err(batch);
        };
        let conn = &mut *guard;
        let _ = conn.busy_timeout(Duration::ZERO);
        let outcome = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => Ok(append_tx(tx, batch, policy)),
            Err(_) => Err(batch),
        };
        let _ = conn.busy_timeout(BUSY_TIMEOUT);
        outcome
    }
}

const BATCH: usize = 2048;

/// A column as text whatever someone stored in it: a tampered file may hold a BLOB, invalid UTF-8
/// or a number where text belongs, and verification must report that record, not stop with an
/// error. Lossy conversion changes the bytes, so the record's digests then fail, as they should.
fn lenient_text(row: &rusqlite::Row<'_>, i: usize) -> Result<Option<String>, LedgerError> {
    use rusqlite::types::ValueRef;
    let v = row
        .get_ref(i)
        .map_err(|e| LedgerError::Storage(format!("reading records: {e}")))?;
    Ok(match v {
        ValueRef::Null => None,
        // Valid UTF-8 (every untampered record) is checked by `from_utf8`'s ASCII fast path;
        // `from_utf8_lossy` walks every text in chunks, 10 % of a verification's work.
        ValueRef::Text(b) | ValueRef::Blob(b) => Some(match std::str::from_utf8(b) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(b).into_owned(),
        }),
        ValueRef::Integer(n) => Some(n.to_string()),
        ValueRef::Real(x) => Some(x.to_string()),
    })
}

fn read_records(
    path: &Path,
    filter: &Filter,
    tx: &tokio::sync::mpsc::Sender<Result<Vec<Record>, LedgerError>>,
) -> Result<(), LedgerError> {
    use rusqlite::{Connection, OpenFlags};
    let e = |e: rusqlite::Error| LedgerError::Storage(format!("reading records: {e}"));
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(e)?;
    conn.busy_timeout(Duration::from_secs(30)).map_err(e)?;
    let mut stmt = conn
        .prepare(
            "SELECT seq, time, kind, tenant, body, body_sha256, prev_hash, hash FROM ledger_events
             WHERE (?1 IS NULL OR time >= ?1) AND (?2 IS NULL OR time < ?2)
               AND (?3 IS NULL OR kind = ?3)
             ORDER BY seq",
        )
        .map_err(e)?;
    let mut rows = stmt
        .query(rusqlite::params![filter.since, filter.until, filter.kind])
        .map_err(e)?;
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(row) = rows.next().map_err(e)? {
        let text = |i: usize| -> Result<Option<String>, LedgerError> { lenient_text(row, i) };
        let required = |i: usize| text(i).map(Option::unwrap_or_default);
        batch.push(Record {
            seq: row.get(0).map_err(e)?,
            time: required(1)?,
            kind: required(2)?,
            tenant: required(3)?,
            body: text(4)?,
            body_sha256: required(5)?,
            prev_hash: required(6)?,
            hash: required(7)?,
        });
        if batch.len() == BATCH
            && tx
                .blocking_send(Ok(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))))
                .is_err()
        {
            return Ok(()); // the reader went away
        }
    }
    if !batch.is_empty() {
        let _ = tx.blocking_send(Ok(batch));
    }
    Ok(())
}

fn head_in(conn: &Connection) -> Result<Option<Head>, LedgerError> {
    conn.prepare_cached("SELECT seq, hash, time FROM ledger_events ORDER BY seq DESC LIMIT 1")
        .and_then(|mut st| {
            st.query_row([], |r| {
                Ok(Head {
                    seq: r.get(0)?,
                    hash: r.get(1)?,
                    time: r.get(2)?,
                })
            })
            .optional()
        })
        .map_err(lite_err("reading the head"))
}

fn last_checkpoint(conn: &Connection) -> Result<Option<(i64, String)>, LedgerError> {
    conn.prepare_cached("SELECT seq, time FROM ledger_checkpoints ORDER BY seq DESC LIMIT 1")
        .and_then(|mut st| st.query_row([], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .map_err(lite_err("reading checkpoints"))
}

fn insert_checkpoint(conn: &Connection, cp: &Checkpoint) -> Result<(), LedgerError> {
    conn.prepare_cached(
        "INSERT INTO ledger_checkpoints (seq, hash, time, key, signature) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (seq) DO NOTHING",
    )
    .and_then(|mut st| st.execute(params![cp.seq, cp.hash, cp.time, cp.key, cp.signature]))
    .map_err(lite_err("writing a checkpoint"))?;
    Ok(())
}

fn append_in(
    conn: &mut Connection,
    batch: Vec<Draft>,
    policy: &CheckpointPolicy,
) -> Result<Vec<Receipt>, LedgerError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(lite_err("starting an append"))?;
    append_tx(tx, batch, policy)
}

/// Chains, inserts, signs when due and commits, inside a transaction that holds the write lock.
fn append_tx(
    tx: rusqlite::Transaction<'_>,
    batch: Vec<Draft>,
    policy: &CheckpointPolicy,
) -> Result<Vec<Receipt>, LedgerError> {
    let head = head_in(&tx)?;
    let records = seal_batch(head.as_ref(), batch);
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO ledger_events (seq, time, kind, tenant, body, body_sha256, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(lite_err("appending"))?;
        for r in &records {
            insert
                .execute(params![
                    r.seq,
                    r.time,
                    r.kind,
                    r.tenant,
                    r.body,
                    r.body_sha256,
                    r.prev_hash,
                    r.hash
                ])
                .map_err(lite_err("appending"))?;
        }
    }
    if let (Some(key), Some(last)) = (&policy.key, records.last()) {
        if checkpoint_due(policy, last_checkpoint(&tx)?, last.seq) {
            insert_checkpoint(&tx, &sign_head(key, last))?;
        }
    }
    tx.commit().map_err(lite_err("committing an append"))?;
    Ok(receipts(&records))
}

impl Backend for SqliteStore {
    async fn append_batch(
        &self,
        mut batch: Vec<Draft>,
        policy: &CheckpointPolicy,
    ) -> Result<Vec<Receipt>, LedgerError> {
        // On the ledger's writer task, in place when it can be (`try_append_now`).
        match self.try_append_now(batch, policy) {
            Ok(result) => return result,
            Err(b) => batch = b,
        }
        let policy = policy.clone();
        self.with_writer(move |conn| append_in(conn, batch, &policy))
            .await
    }

    async fn head(&self) -> Result<Option<Head>, LedgerError> {
        let row =
            sqlx::query("SELECT seq, hash, time FROM ledger_events ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&self.readers)
                .await
                .map_err(db_err("reading the head"))?;
        row.map(|r| {
            Ok(Head {
                seq: r.try_get(0).map_err(db_err("reading the head"))?,
                hash: r.try_get(1).map_err(db_err("reading the head"))?,
                time: r.try_get(2).map_err(db_err("reading the head"))?,
            })
        })
        .transpose()
    }

    /// Read with `rusqlite` on a blocking thread, handing records over in batches: sqlx's SQLite
    /// driver crosses threads once per row, which made verifying a million records take 9 s
    /// instead of about 2.
    fn records(&self, filter: Filter) -> BoxStream<'_, Result<Record, LedgerError>> {
        let path = self.path.clone();
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<Record>, LedgerError>>(4);
        tokio::task::spawn_blocking(move || {
            if let Err(e) = read_records(&path, &filter, &tx) {
                let _ = tx.blocking_send(Err(e));
            }
        });
        futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|batch| (batch, rx))
        })
        .flat_map(|batch| {
            futures_util::stream::iter(match batch {
                Ok(records) => records.into_iter().map(Ok).collect::<Vec<_>>(),
                Err(e) => vec![Err(e)],
            })
        })
        .boxed()
    }

    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, LedgerError> {
        let rows = sqlx::query(
            "SELECT seq, hash, time, key, signature FROM ledger_checkpoints ORDER BY seq",
        )
        .fetch_all(&self.readers)
        .await
        .map_err(db_err("reading checkpoints"))?;
        rows.into_iter()
            .map(|r| {
                let e = db_err("reading checkpoints");
                Ok(Checkpoint {
                    seq: r.try_get(0).map_err(&e)?,
                    hash: r.try_get(1).map_err(&e)?,
                    time: r.try_get(2).map_err(&e)?,
                    key: r.try_get(3).map_err(&e)?,
                    signature: r.try_get(4).map_err(&e)?,
                })
            })
            .collect()
    }

    async fn checkpoint_now(&self, key: &SigningKey) -> Result<Option<Checkpoint>, LedgerError> {
        let key = key.clone();
        self.with_writer(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(lite_err("checkpointing"))?;
            let Some(head) = head_in(&tx)? else {
                return Ok(None);
            };
            if last_checkpoint(&tx)?.is_some_and(|(s, _)| s >= head.seq) {
                return Ok(None);
            }
            let cp = crate::checkpoint::sign(&key, head.seq, &head.hash, &head.time);
            insert_checkpoint(&tx, &cp)?;
            tx.commit().map_err(lite_err("checkpointing"))?;
            Ok(Some(cp))
        })
        .await
    }

    async fn prune_bodies(&self, before: &str) -> Result<u64, LedgerError> {
        let before = before.to_string();
        self.with_writer(move |conn| {
            conn.execute(
                "UPDATE ledger_events SET body = NULL WHERE time < ?1 AND body IS NOT NULL",
                params![before],
            )
            .map(|n| n as u64)
            .map_err(lite_err("pruning"))
        })
        .await
    }

    async fn stats(&self) -> Result<Stats, LedgerError> {
        let e = db_err("reading statistics");
        let row = sqlx::query(
            "SELECT COUNT(*), MIN(time), MAX(time), COALESCE(SUM(body IS NULL), 0) FROM ledger_events",
        )
        .fetch_one(&self.readers)
        .await
        .map_err(&e)?;
        let kinds =
            sqlx::query("SELECT kind, COUNT(*) FROM ledger_events GROUP BY kind ORDER BY kind")
                .fetch_all(&self.readers)
                .await
                .map_err(&e)?;
        let cps = sqlx::query("SELECT COUNT(*), MAX(seq) FROM ledger_checkpoints")
            .fetch_one(&self.readers)
            .await
            .map_err(&e)?;
        Ok(Stats {
            events: row.try_get(0).map_err(&e)?,
            first_time: row.try_get(1).map_err(&e)?,
            last_time: row.try_get(2).map_err(&e)?,
            pruned_bodies: row.try_get(3).map_err(&e)?,
            by_kind: kinds
                .into_iter()
                .map(|r| Ok((r.try_get(0).map_err(&e)?, r.try_get(1).map_err(&e)?)))
                .collect::<Result<_, LedgerError>>()?,
            checkpoints: cps.try_get(0).map_err(&e)?,
            last_checkpoint: cps.try_get(1).map_err(&e)?,
            head: self.head().await?,
            storage: format!("sqlite:{}", self.path.display()),
        })
    }

    /// Moves the write-ahead log into the database and syncs both (with [`SyncMode::Normal`], this
    /// bounds what a power cut can take).
    /// Runs on its own connection where there is one: commits go on meanwhile.
    async fn sync(&self) -> Result<(), LedgerError> {
        let checkpoint = |conn: &mut Connection| {
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                .map_err(lite_err("syncing"))
        };
        let Some(syncer) = self.syncer.clone() else {
            return self.with_writer(checkpoint).await;
        };
        tokio::task::spawn_blocking(move || {
            let mut conn = syncer.lock().unwrap_or_else(|p| p.into_inner());
            checkpoint(&mut conn)
        })
        .await
        .map_err(|e| LedgerError::Storage(format!("the ledger sync failed: {e}")))?
    }
}
