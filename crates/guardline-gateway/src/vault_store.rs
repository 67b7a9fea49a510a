//! Pseudonyms kept between requests (`[vault] keep = true`), so that replies which refer to
//! earlier calls come back restored: a Responses API call continuing from `previous_response_id`
//! or a `conversation`, a stored response retrieved later, a conversation's items listed.
//!
//! Chat requests carry their whole history, so a request's own values restore its reply (the
//! default, which keeps nothing). The Responses and Conversations APIs keep the history upstream,
//! where it holds only tokens; without this store those come back as tokens.
//!
//! What is kept: for each stored response and each conversation (its *scope*, always within one
//! tenant), the tokens its requests made, each with its kind and its value sealed with AES-256-GCM
//! under a key derived from the gateway's pseudonym key (a fresh nonce per value; the scope, token
//! and kind are bound in as associated data, so a value cannot be moved to another scope or
//! token). Scopes are named by a keyed hash of tenant and id, so neither appears in the store. A
//! response continuing another inherits its tokens, so one lookup restores a whole chain. Entries
//! expire `keep_days` after their scope was last written; deleting a response or a conversation
//! through the gateway deletes its entries.
//!
//! Where: SQLite (`vault.sqlite` in the data directory, mode 0600) for one gateway, or a Redis
//! that several gateways share (one hash per scope, with the expiry on the key).
//!
//! A store that cannot be reached costs restoration, never safety: tokens then stay tokens (the
//! upstream never saw the values either way), and the failure is logged and counted.

use guardline_detect::{Key, Kind, Vault};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::shared_redis::{SharedRedis, TIMEOUT};

/// At most this many tokens are restored for one scope (a bound on what one lookup costs).
pub const MAX_TOKENS: usize = 10_000;

/// What a kept set of tokens belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// A stored response (`resp_…`).
    Response(&'a str),
    /// A conversation (`conv_…`).
    Conversation(&'a str),
}

pub struct VaultStore {
    backend: Backend,
    cipher: LessSafeKey,
    /// Keys the scope names.
    scope_key: [u8; 32],
    ttl: Duration,
    /// Where (`sqlite:PATH` or `redis://host:port/db`, never a password).
    shown: String,
}

enum Backend {
    Sqlite {
        conn: Arc<Mutex<rusqlite::Connection>>,
        /// When expired entries were last purged (seconds since the epoch).
        purged: AtomicU64,
    },
    Redis(SharedRedis),
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS kept_tokens (
    scope TEXT NOT NULL,
    token TEXT NOT NULL,
    kind TEXT NOT NULL,
    sealed BLOB NOT NULL,
    expires INTEGER NOT NULL,
    PRIMARY KEY (scope, token)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kept_tokens_expires ON kept_tokens (expires);";

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl VaultStore {
    fn with(backend: Backend, key: &Key, ttl: Duration, shown: String) -> VaultStore {
        let seal = blake3::derive_key("guardline 2026-11 kept pseudonyms: seal", key.as_bytes());
        let scope_key =
            blake3::derive_key("guardline 2026-11 kept pseudonyms: scope", key.as_bytes());
        VaultStore {
            backend,
            cipher: LessSafeKey::new(
                UnboundKey::new(&AES_256_GCM, &seal).expect("a 32-byte AES-256 key"),
            ),
            scope_key,
            ttl,
            shown,
        }
    }

    /// The store in the SQLite file at `path` (made, mode 0600, if missing).
    pub fn sqlite(path: &Path, key: &Key, ttl: Duration) -> Result<VaultStore, String> {
        let e = |e: rusqlite::Error| format!("cannot open {}: {e}", path.display());
        let conn = rusqlite::Connection::open(path).map_err(e)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| format!("cannot restrict {}: {e}", path.display()))?;
        }
        conn.busy_timeout(TIMEOUT).map_err(e)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(e)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(e)?;
        conn.execute_batch(SCHEMA).map_err(e)?;
        let backend = Backend::Sqlite {
            conn: Arc::new(Mutex::new(conn)),
            purged: AtomicU64::new(0),
        };
        let shown = format!("sqlite:{}", path.display());
        Ok(VaultStore::with(backend, key, ttl, shown))
    }

    /// The store in the Redis at `url`, shared by every gateway that names it (and has the same
    /// pseudonym key). Nothing connects until it is first used.
    pub fn redis(url: &str, key: &Key, ttl: Duration) -> Result<VaultStore, String> {
        let redis = SharedRedis::open(url, "[vault] redis")?;
        let shown = redis.shown().to_string();
        Ok(VaultStore::with(Backend::Redis(redis), key, ttl, shown))
    }

    /// Where the tokens are kept, without credentials.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// How long a scope's tokens are kept after it was last written.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A scope's name in the store: a keyed hash of tenant, kind and id.
    fn scope_name(&self, tenant: &str, scope: Scope<'_>) -> String {
        let (kind, id) = match scope {
            Scope::Response(id) => ("response", id),
            Scope::Conversation(id) => ("conversation", id),
        };
        let mut h = blake3::Hasher::new_keyed(&self.scope_key);
        for part in [tenant, kind, id] {
            h.update(&(part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.finalize().to_hex()[..32].to_string()
    }

    /// What is bound to a sealed value: the scope, the token and its kind.
    fn aad(scope: &str, token: &str, kind: &str) -> Vec<u8> {
        let mut a = Vec::with_capacity(scope.len() + token.len() + kind.len() + 2);
        a.extend_from_slice(scope.as_bytes());
        a.push(0);
        a.extend_from_slice(token.as_bytes());
        a.push(0);
        a.extend_from_slice(kind.as_bytes());
        a
    }

    fn seal(&self, scope: &str, token: &str, kind: &str, value: &[u8]) -> Result<Vec<u8>, String> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| format!("no randomness for a nonce: {e}"))?;
        let mut out = value.to_vec();
        self.cipher
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(Self::aad(scope, token, kind)),
                &mut out,
            )
            .map_err(|_| "sealing a value failed".to_string())?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&out);
        Ok(sealed)
    }

    /// The value sealed in `sealed`, or `None` if it was altered, moved, or sealed under
    /// another key.
    fn open(&self, scope: &str, token: &str, kind: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut body = body.to_vec();
        let plain = self
            .cipher
            .open_in_place(nonce, Aad::from(Self::aad(scope, token, kind)), &mut body)
            .ok()?;
        Some(plain.to_vec())
    }

    /// Keeps every token of `vault` under `scope` (adding to what the scope holds), and starts
    /// the scope's expiry afresh.
    pub async fn keep(&self, tenant: &str, scope: Scope<'_>, vault: &Vault) -> Result<(), String> {
        if vault.is_empty() {
            return Ok(());
        }
        let name = self.scope_name(tenant, scope);
        let mut rows = Vec::with_capacity(vault.len());
        for (kind, token, raw) in vault.entries() {
            let sealed = self.seal(&name, token, kind.as_str(), raw)?;
            rows.push((token.to_string(), kind.as_str().to_string(), sealed));
        }
        match &self.backend {
            Backend::Sqlite { purged, .. } => {
                let now = now_secs();
                let expires = now + self.ttl.as_secs();
                let purge = {
                    let last = purged.load(Ordering::Relaxed);
                    now >= last + 60 && purged.swap(now, Ordering::Relaxed) == last
                };
                self.on_sqlite(move |c| {
                    let tx = c.transaction()?;
                    {
                        let mut put = tx.prepare_cached(
                            "INSERT INTO kept_tokens (scope, token, kind, sealed, expires)
                             VALUES (?1, ?2, ?3, ?4, ?5)
                             ON CONFLICT (scope, token) DO UPDATE SET expires = excluded.expires",
                        )?;
                        for (token, kind, sealed) in &rows {
                            put.execute(rusqlite::params![name, token, kind, sealed, expires])?;
                        }
                        tx.execute(
                            "UPDATE kept_tokens SET expires = ?2 WHERE scope = ?1",
                            rusqlite::params![name, expires],
                        )?;
                        if purge {
                            tx.execute("DELETE FROM kept_tokens WHERE expires <= ?1", [now])?;
                        }
                    }
                    tx.commit()
                })
                .await
            }
            Backend::Redis(_) => {
                let key = redis_key(&name);
                let mut pipe = redis::pipe();
                pipe.atomic();
                for (token, kind, sealed) in &rows {
                    let mut v = kind.as_bytes().to_vec();
                    v.push(0);
                    v.extend_from_slice(sealed);
                    // Entries already kept keep their seal (HSETNX): an entry is never replaced.
                    pipe.cmd("HSETNX").arg(&key).arg(token).arg(v).ignore();
                }
                pipe.cmd("PEXPIRE")
                    .arg(&key)
                    .arg(self.ttl.as_millis() as u64)
                    .ignore();
                let mut conn = self.connection().await?;
                timed(pipe.query_async::<()>(&mut conn)).await
            }
        }
    }

    /// Adds the tokens kept under `scope` to `vault`; how many were added.
    pub async fn load(
        &self,
        tenant: &str,
        scope: Scope<'_>,
        vault: &mut Vault,
    ) -> Result<usize, String> {
        let name = self.scope_name(tenant, scope);
        let rows: Vec<(String, String, Vec<u8>)> = match &self.backend {
            Backend::Sqlite { .. } => {
                let scope = name.clone();
                self.on_sqlite(move |c| {
                    let mut st = c.prepare_cached(
                        "SELECT token, kind, sealed FROM kept_tokens
                         WHERE scope = ?1 AND expires > ?2 LIMIT ?3",
                    )?;
                    let rows = st.query_map(
                        rusqlite::params![scope, now_secs(), MAX_TOKENS as i64],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )?;
                    rows.collect()
                })
                .await?
            }
            Backend::Redis(_) => {
                let mut conn = self.connection().await?;
                let all: Vec<(String, Vec<u8>)> = timed(
                    redis::cmd("HGETALL")
                        .arg(redis_key(&name))
                        .query_async::<Vec<(String, Vec<u8>)>>(&mut conn),
                )
                .await?;
                all.into_iter()
                    .take(MAX_TOKENS)
                    .filter_map(|(token, v)| {
                        let at = v.iter().position(|b| *b == 0)?;
                        let kind = String::from_utf8(v[..at].to_vec()).ok()?;
                        Some((token, kind, v[at + 1..].to_vec()))
                    })
                    .collect()
            }
        };
        let before = vault.len();
        for (token, kind, sealed) in rows {
            // An entry that does not open (altered, or sealed under another key) is skipped.
            if let Some(raw) = self.open(&name, &token, &kind, &sealed) {
                vault.learn(&Kind::new(&kind), &token, &raw);
            }
        }
        Ok(vault.len() - before)
    }

    /// Deletes what is kept under `scope` (the response or conversation was deleted).
    pub async fn forget(&self, tenant: &str, scope: Scope<'_>) -> Result<(), String> {
        let name = self.scope_name(tenant, scope);
        match &self.backend {
            Backend::Sqlite { .. } => {
                self.on_sqlite(move |c| {
                    c.execute("DELETE FROM kept_tokens WHERE scope = ?1", [name])
                        .map(|_| ())
                })
                .await
            }
            Backend::Redis(_) => {
                let mut conn = self.connection().await?;
                timed(
                    redis::cmd("DEL")
                        .arg(redis_key(&name))
                        .query_async::<()>(&mut conn),
                )
                .await
            }
        }
    }

    /// Deletes every kept entry that holds one of `tokens`, in every scope of every tenant: a
    /// data subject's request to erase a value (`guardline vault forget`). Returns how many
    /// entries went. In SQLite the freed pages are overwritten (`secure_delete`) and the WAL is
    /// checkpointed and truncated (fully once no reader holds it), so the sealed value does not
    /// linger in the files either.
    pub async fn erase(&self, tokens: &[String]) -> Result<u64, String> {
        if tokens.is_empty() {
            return Ok(0);
        }
        match &self.backend {
            Backend::Sqlite { .. } => {
                let tokens = tokens.to_vec();
                self.on_sqlite(move |c| {
                    c.pragma_update(None, "secure_delete", "ON")?;
                    let tx = c.transaction()?;
                    let mut n = 0u64;
                    {
                        let mut del =
                            tx.prepare_cached("DELETE FROM kept_tokens WHERE token = ?1")?;
                        for t in &tokens {
                            n += del.execute([t])? as u64;
                        }
                    }
                    tx.commit()?;
                    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
                    Ok(n)
                })
                .await
            }
            Backend::Redis(_) => {
                let mut conn = self.connection().await?;
                let pattern = format!("{REDIS_PREFIX}*");
                let (mut cursor, mut n) = (0u64, 0u64);
                loop {
                    let (next, keys): (u64, Vec<String>) = timed(
                        redis::cmd("SCAN")
                            .arg(cursor)
                            .arg("MATCH")
                            .arg(&pattern)
                            .arg("COUNT")
                            .arg(1000)
                            .query_async(&mut conn),
                    )
                    .await?;
                    if !keys.is_empty() {
                        let mut pipe = redis::pipe();
                        for k in &keys {
                            pipe.cmd("HDEL").arg(k).arg(tokens);
                        }
                        let gone: Vec<u64> = timed(pipe.query_async(&mut conn)).await?;
                        n += gone.iter().sum::<u64>();
                    }
                    if next == 0 {
                        return Ok(n);
                    }
                    cursor = next;
                }
            }
        }
    }

    /// Runs `f` on the SQLite connection, on a blocking thread.
    async fn on_sqlite<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, String> {
        let Backend::Sqlite { conn, .. } = &self.backend else {
            return Err("not a SQLite store".into());
        };
        let conn = conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic mid-transaction rolled it back, so the connection is still sound.
            let mut c = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut c)
        })
        .await
        .map_err(|e| format!("the vault store failed: {e}"))?
        .map_err(|e| format!("the vault store: {e}"))
    }

    async fn connection(&self) -> Result<redis::aio::ConnectionManager, String> {
        let Backend::Redis(redis) = &self.backend else {
            return Err("not a Redis store".into());
        };
        tokio::time::timeout(TIMEOUT, redis.connection())
            .await
            .map_err(|_| format!("{}: no answer within {TIMEOUT:?}", self.shown))?
            .map_err(|e| format!("{}: {e}", self.shown))
    }
}

/// A scope's hash in Redis.
fn redis_key(scope_name: &str) -> String {
    format!("{REDIS_PREFIX}{scope_name}")
}

const REDIS_PREFIX: &str = "guardline:vault:";

async fn timed<T>(
    f: impl std::future::Future<Output = Result<T, redis::RedisError>>,
) -> Result<T, String> {
    tokio::time::timeout(TIMEOUT, f)
        .await
        .map_err(|_| format!("the vault store: no answer within {TIMEOUT:?}"))?
        .map_err(|e| format!("the vault store: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(key: &Key) -> (Vault, Vec<String>) {
        let mut v = Vault::new();
        let t = vec![
            v.token(key, &Kind::new("hk_id"), b"A123456(3)"),
            v.token(key, &Kind::new("hk_phone"), b"+852 9123 4567"),
        ];
        (v, t)
    }

    async fn round_trip(store: &VaultStore, key: &Key) {
        let (v, t) = vault(key);
        let scope = Scope::Response("resp_1");
        store.keep("bank", scope, &v).await.unwrap();
        let mut later = Vault::new();
        assert_eq!(store.load("bank", scope, &mut later).await.unwrap(), 2);
        assert_eq!(
            later.restore_str(&format!("{} {}", t[0], t[1])),
            "A123456(3) +852 9123 4567"
        );
        // Another tenant, another id, another kind of scope: nothing.
        for (tenant, s) in [
            ("hospital", scope),
            ("bank", Scope::Response("resp_2")),
            ("bank", Scope::Conversation("resp_1")),
        ] {
            let mut other = Vault::new();
            assert_eq!(store.load(tenant, s, &mut other).await.unwrap(), 0);
        }
        // Keeping more adds to the scope.
        let mut more = Vault::new();
        more.token(key, &Kind::new("email"), b"chan@example.com");
        store.keep("bank", scope, &more).await.unwrap();
        let mut all = Vault::new();
        assert_eq!(store.load("bank", scope, &mut all).await.unwrap(), 3);
        store.forget("bank", scope).await.unwrap();
        let mut none = Vault::new();
        assert_eq!(store.load("bank", scope, &mut none).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn sqlite_keeps_sealed_values_per_tenant_and_scope() {
        let dir = tempfile::tempdir().unwrap();
        let key = Key::from_bytes([7; 32]);
        let path = dir.path().join("vault.sqlite");
        let store = VaultStore::sqlite(&path, &key, Duration::from_secs(3600)).unwrap();
        round_trip(&store, &key).await;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Nothing in the file is a value, a tenant or an id.
        let (v, _) = vault(&key);
        store
            .keep("bank", Scope::Response("resp_9"), &v)
            .await
            .unwrap();
        drop(store);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        drop(conn);
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for clear in ["A123456", "9123", "bank", "resp_9"] {
            assert!(!text.contains(clear), "{clear} is in the file");
        }
        // Another key opens nothing (and a value moved to another token does not open either).
        let other =
            VaultStore::sqlite(&path, &Key::from_bytes([8; 32]), Duration::from_secs(60)).unwrap();
        let mut none = Vault::new();
        assert_eq!(
            other
                .load("bank", Scope::Response("resp_9"), &mut none)
                .await
                .unwrap(),
            0
        );
        let store = VaultStore::sqlite(&path, &key, Duration::from_secs(60)).unwrap();
        let name = store.scope_name("bank", Scope::Response("resp_9"));
        let sealed = store
            .seal(&name, "HK_ID_a", "hk_id", b"A123456(3)")
            .unwrap();
        assert!(store.open(&name, "HK_ID_b", "hk_id", &sealed).is_none());
        assert!(store.open(&name, "HK_ID_a", "email", &sealed).is_none());
        assert_eq!(
            store.open(&name, "HK_ID_a", "hk_id", &sealed).as_deref(),
            Some(&b"A123456(3)"[..])
        );
        assert!(store
            .open(&name, "HK_ID_a", "hk_id", &sealed[..5])
            .is_none());
    }

    /// One value kept in two tenants' scopes: erasing its token removes it from both and
    /// leaves every other value where it was.
    async fn erase_everywhere(store: &VaultStore, key: &Key) {
        let (v, t) = vault(key);
        let scopes = [
            ("bank", Scope::Response("resp_e1")),
            ("clinic", Scope::Conversation("conv_e1")),
        ];
        for (tenant, scope) in scopes {
            store.keep(tenant, scope, &v).await.unwrap();
        }
        assert_eq!(store.erase(&[t[0].clone()]).await.unwrap(), 2);
        assert_eq!(store.erase(&[t[0].clone()]).await.unwrap(), 0);
        for (tenant, scope) in scopes {
            let mut later = Vault::new();
            assert_eq!(store.load(tenant, scope, &mut later).await.unwrap(), 1);
            assert_eq!(
                later.restore_str(&format!("{} {}", t[0], t[1])),
                format!("{} +852 9123 4567", t[0])
            );
        }
        assert_eq!(store.erase(&[]).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn sqlite_erases_a_value_everywhere() {
        let dir = tempfile::tempdir().unwrap();
        let key = Key::from_bytes([8; 32]);
        let path = dir.path().join("v.sqlite");
        let store = VaultStore::sqlite(&path, &key, Duration::from_secs(60)).unwrap();
        erase_everywhere(&store, &key).await;
    }

    #[tokio::test]
    async fn expired_entries_are_not_restored() {
        let dir = tempfile::tempdir().unwrap();
        let key = Key::from_bytes([7; 32]);
        let store = VaultStore::sqlite(&dir.path().join("v.sqlite"), &key, Duration::ZERO).unwrap();
        let (v, _) = vault(&key);
        store
            .keep("t", Scope::Conversation("conv_1"), &v)
            .await
            .unwrap();
        let mut later = Vault::new();
        assert_eq!(
            store
                .load("t", Scope::Conversation("conv_1"), &mut later)
                .await
                .unwrap(),
            0
        );
    }

    /// Against the Redis in `GUARDLINE_TEST_REDIS` (default 127.0.0.1:6379; `skip` skips).
    #[tokio::test]
    async fn redis_keeps_the_same() {
        let url = std::env::var("GUARDLINE_TEST_REDIS")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into());
        if url == "skip" {
            return;
        }
        let key = Key::from_bytes(*blake3::hash(&now_secs().to_le_bytes()).as_bytes());
        let store = VaultStore::redis(&url, &key, Duration::from_secs(60)).unwrap();
        assert!(!store.shown().contains('@'));
        round_trip(&store, &key).await;
        // Its own key, so its tokens are not those of a test running beside it.
        let key =
            Key::from_bytes(*blake3::hash(format!("erase {}", now_secs()).as_bytes()).as_bytes());
        let store = VaultStore::redis(&url, &key, Duration::from_secs(60)).unwrap();
        erase_everywhere(&store, &key).await;
        let down =
            VaultStore::redis("redis://127.0.0.1:1/0", &key, Duration::from_secs(1)).unwrap();
        let (v, _) = vault(&key);
        assert!(down.keep("t", Scope::Response("r"), &v).await.is_err());
        assert!(down
            .load("t", Scope::Response("r"), &mut Vault::new())
            .await
            .is_err());
    }
}
