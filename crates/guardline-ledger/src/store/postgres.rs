//! PostgreSQL: one chain shared by any number of Guardline processes on any number of machines.
//! Each batch takes `LOCK TABLE … IN EXCLUSIVE MODE` (writers queue, readers do not), reads the
//! head inside that lock and inserts with one `UNNEST` statement, so there are no forks, gaps or
//! duplicates; the primary key on `seq` is the backstop.

use super::{
    checkpoint_due, db_err, receipts, seal_batch, sign_head, Backend, CheckpointPolicy, Filter,
};
use crate::checkpoint::Checkpoint;
use crate::record::{Draft, Record};
use crate::{Head, LedgerError, Receipt, Stats};
use ed25519_dalek::SigningKey;
use futures_util::stream::{BoxStream, StreamExt};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Row};
use std::str::FromStr;
use std::time::Duration;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS ledger_events (
        seq BIGINT PRIMARY KEY,
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
        seq BIGINT PRIMARY KEY,
        hash TEXT NOT NULL,
        time TEXT NOT NULL,
        key TEXT NOT NULL,
        signature TEXT NOT NULL
    )",
];

/// An arbitrary constant: the advisory lock that serialises schema creation across processes
/// starting at the same moment.
const SCHEMA_LOCK: i64 = 0x6775_6172_646c_696e;

pub struct PgStore {
    pool: PgPool,
    display: String,
}

impl PgStore {
    /// Connects to `url`; with `schema`, everything lives in that schema (created if missing).
    pub async fn open(
        url: &str,
        schema: Option<&str>,
        sync: crate::SyncMode,
    ) -> Result<PgStore, LedgerError> {
        let mut opts = PgConnectOptions::from_str(url)
            .map_err(|e| LedgerError::Storage(format!("bad PostgreSQL URL: {e}")))?
            .application_name("guardline");
        if let Some(s) = schema {
            if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') || s.is_empty() {
                return Err(LedgerError::Invalid(format!(
                    "schema `{s}` must be letters, digits and _"
                )));
            }
            opts = opts.options([("search_path", s)]);
        }
        if sync == crate::SyncMode::Normal {
            // The commit is in the server's memory when acknowledged; its WAL writer flushes it
            // within 3 × wal_writer_delay (600 ms by default). Our process dying loses nothing.
            opts = opts.options([("synchronous_commit", "off")]);
        }
        let display = format!(
            "postgres://{}:{}/{}{}",
            opts.get_host(),
            opts.get_port(),
            opts.get_database().unwrap_or(""),
            schema.map(|s| format!(" (schema {s})")).unwrap_or_default()
        );
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .map_err(|e| LedgerError::Storage(format!("cannot connect to {display}: {e}")))?;
        {
            let mut tx = pool.begin().await.map_err(db_err("schema"))?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(SCHEMA_LOCK)
                .execute(&mut *tx)
                .await
                .map_err(db_err("schema"))?;
            if let Some(s) = schema {
                let sql = format!("CREATE SCHEMA IF NOT EXISTS \"{s}\"");
                sqlx::query(&sql)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err("schema"))?;
            }
            for stmt in SCHEMA {
                sqlx::query(stmt)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err("schema"))?;
            }
            tx.commit().await.map_err(db_err("schema"))?;
        }
        Ok(PgStore { pool, display })
    }

    /// Drops the schema (tests clean up after themselves).
    pub async fn drop_schema(url: &str, schema: &str) -> Result<(), LedgerError> {
        let mut conn = PgConnection::connect(url)
            .await
            .map_err(db_err("connecting"))?;
        let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        sqlx::query(&sql)
            .execute(&mut conn)
            .await
            .map_err(db_err("dropping schema"))?;
        Ok(())
    }
}

fn record_from_row(row: PgRow) -> Result<Record, LedgerError> {
    let get = db_err("reading a record");
    Ok(Record {
        seq: row.try_get(0).map_err(&get)?,
        time: row.try_get(1).map_err(&get)?,
        kind: row.try_get(2).map_err(&get)?,
        tenant: row.try_get(3).map_err(&get)?,
        body: row.try_get(4).map_err(&get)?,
        body_sha256: row.try_get(5).map_err(&get)?,
        prev_hash: row.try_get(6).map_err(&get)?,
        hash: row.try_get(7).map_err(&get)?,
    })
}

async fn head_in(conn: &mut PgConnection) -> Result<Option<Head>, LedgerError> {
    let e = db_err("reading the head");
    let row = sqlx::query("SELECT seq, hash, time FROM ledger_events ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await
        .map_err(&e)?;
    row.map(|r| {
        Ok(Head {
            seq: r.try_get(0).map_err(&e)?,
            hash: r.try_get(1).map_err(&e)?,
            time: r.try_get(2).map_err(&e)?,
        })
    })
    .transpose()
}

async fn last_checkpoint(conn: &mut PgConnection) -> Result<Option<(i64, String)>, LedgerError> {
    let e = db_err("reading checkpoints");
    let row = sqlx::query("SELECT seq, time FROM ledger_checkpoints ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await
        .map_err(&e)?;
    row.map(|r| Ok((r.try_get(0).map_err(&e)?, r.try_get(1).map_err(&e)?)))
        .transpose()
}

async fn insert_checkpoint(conn: &mut PgConnection, cp: &Checkpoint) -> Result<(), LedgerError> {
    sqlx::query(
        "INSERT INTO ledger_checkpoints (seq, hash, time, key, signature) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (seq) DO NOTHING",
    )
    .bind(cp.seq)
    .bind(&cp.hash)
    .bind(&cp.time)
    .bind(&cp.key)
    .bind(&cp.signature)
    .execute(&mut *conn)
    .await
    .map_err(db_err("writing a checkpoint"))?;
    Ok(())
}

impl Backend for PgStore {
    /// The server's WAL writer flushes asynchronous commits on its own (`SyncMode::Normal` sets
    /// `synchronous_commit = off`); there is nothing to do here.
    async fn sync(&self) -> Result<(), LedgerError> {
        Ok(())
    }

    async fn append_batch(
        &self,
        batch: Vec<Draft>,
        policy: &CheckpointPolicy,
    ) -> Result<Vec<Receipt>, LedgerError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db_err("starting an append"))?;
        sqlx::query("LOCK TABLE ledger_events IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .map_err(db_err("locking the chain"))?;
        let head = head_in(&mut tx).await?;
        let records = seal_batch(head.as_ref(), batch);
        let col = |f: fn(&Record) -> String| records.iter().map(f).collect::<Vec<String>>();
        sqlx::query(
            "INSERT INTO ledger_events (seq, time, kind, tenant, body, body_sha256, prev_hash, hash)
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
                                  $6::text[], $7::text[], $8::text[])",
        )
        .bind(records.iter().map(|r| r.seq).collect::<Vec<i64>>())
        .bind(col(|r| r.time.clone()))
        .bind(col(|r| r.kind.clone()))
        .bind(col(|r| r.tenant.clone()))
        .bind(records.iter().map(|r| r.body.clone()).collect::<Vec<Option<String>>>())
        .bind(col(|r| r.body_sha256.clone()))
        .bind(col(|r| r.prev_hash.clone()))
        .bind(col(|r| r.hash.clone()))
        .execute(&mut *tx)
        .await
        .map_err(db_err("appending"))?;
        if let (Some(key), Some(last)) = (&policy.key, records.last()) {
            if checkpoint_due(policy, last_checkpoint(&mut tx).await?, last.seq) {
                insert_checkpoint(&mut tx, &sign_head(key, last)).await?;
            }
        }
        tx.commit().await.map_err(db_err("committing an append"))?;
        Ok(receipts(&records))
    }

    async fn head(&self) -> Result<Option<Head>, LedgerError> {
        let mut conn = self.pool.acquire().await.map_err(db_err("connecting"))?;
        head_in(&mut conn).await
    }

    fn records(&self, filter: Filter) -> BoxStream<'_, Result<Record, LedgerError>> {
        sqlx::query(
            "SELECT seq, time, kind, tenant, body, body_sha256, prev_hash, hash FROM ledger_events
             WHERE ($1::text IS NULL OR time >= $1) AND ($2::text IS NULL OR time < $2)
               AND ($3::text IS NULL OR kind = $3)
             ORDER BY seq",
        )
        .bind(filter.since)
        .bind(filter.until)
        .bind(filter.kind)
        .fetch(&self.pool)
        .map(|r| {
            r.map_err(db_err("reading records"))
                .and_then(record_from_row)
        })
        .boxed()
    }

    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, LedgerError> {
        let e = db_err("reading checkpoints");
        let rows = sqlx::query(
            "SELECT seq, hash, time, key, signature FROM ledger_checkpoints ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(&e)?;
        rows.into_iter()
            .map(|r| {
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
        let mut tx = self.pool.begin().await.map_err(db_err("checkpointing"))?;
        sqlx::query("LOCK TABLE ledger_events IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .map_err(db_err("locking the chain"))?;
        let Some(head) = head_in(&mut tx).await? else {
            return Ok(None);
        };
        if last_checkpoint(&mut tx)
            .await?
            .is_some_and(|(s, _)| s >= head.seq)
        {
            return Ok(None);
        }
        let cp = crate::checkpoint::sign(key, head.seq, &head.hash, &head.time);
        insert_checkpoint(&mut tx, &cp).await?;
        tx.commit().await.map_err(db_err("checkpointing"))?;
        Ok(Some(cp))
    }

    async fn prune_bodies(&self, before: &str) -> Result<u64, LedgerError> {
        let done = sqlx::query(
            "UPDATE ledger_events SET body = NULL WHERE time < $1 AND body IS NOT NULL",
        )
        .bind(before)
        .execute(&self.pool)
        .await
        .map_err(db_err("pruning"))?;
        Ok(done.rows_affected())
    }

    async fn stats(&self) -> Result<Stats, LedgerError> {
        let e = db_err("reading statistics");
        let row = sqlx::query(
            "SELECT COUNT(*), MIN(time), MAX(time),
                    COALESCE(SUM(CASE WHEN body IS NULL THEN 1 ELSE 0 END), 0)::bigint
             FROM ledger_events",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(&e)?;
        let kinds =
            sqlx::query("SELECT kind, COUNT(*) FROM ledger_events GROUP BY kind ORDER BY kind")
                .fetch_all(&self.pool)
                .await
                .map_err(&e)?;
        let cps = sqlx::query("SELECT COUNT(*), MAX(seq) FROM ledger_checkpoints")
            .fetch_one(&self.pool)
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
            storage: self.display.clone(),
        })
    }
}
