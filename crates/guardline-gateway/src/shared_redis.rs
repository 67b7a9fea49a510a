//! A Redis that several gateways share (the per-key rate limit, kept pseudonyms): opened from a
//! URL at start-up, connected on first use, shown without its password.

use std::time::Duration;
use tokio::sync::OnceCell;

/// How long connecting, or one answer, may take.
pub(crate) const TIMEOUT: Duration = Duration::from_millis(1000);

pub(crate) struct SharedRedis {
    client: redis::Client,
    /// `redis://host:port/db` (never the password), for messages and records.
    shown: String,
    conn: OnceCell<redis::aio::ConnectionManager>,
}

impl SharedRedis {
    /// The Redis at `url` (`redis://[user:password@]host[:port][/db]`); `what` names the setting
    /// in the error for a URL that does not parse. Nothing connects yet.
    pub(crate) fn open(url: &str, what: &str) -> Result<SharedRedis, String> {
        let client =
            redis::Client::open(url).map_err(|e| format!("{what} `{}`: {e}", redact_url(url)))?;
        let info = client.get_connection_info();
        let shown = format!("redis://{}/{}", info.addr, info.redis.db);
        Ok(SharedRedis {
            client,
            shown,
            conn: OnceCell::new(),
        })
    }

    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }

    /// The connection, made on first use (and again after a failed first attempt), with
    /// [`TIMEOUT`] to connect and for each answer.
    pub(crate) async fn connection(&self) -> redis::RedisResult<redis::aio::ConnectionManager> {
        let conn = self
            .conn
            .get_or_try_init(|| {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(TIMEOUT)
                    .set_response_timeout(TIMEOUT)
                    .set_number_of_retries(1)
                    .set_max_delay(200);
                redis::aio::ConnectionManager::new_with_config(self.client.clone(), config)
            })
            .await?;
        Ok(conn.clone())
    }
}

/// `url` with any password replaced, for messages.
pub(crate) fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_passwords() {
        assert_eq!(
            redact_url("redis://user:secret@cache:6380/2"),
            "redis://***@cache:6380/2"
        );
        assert_eq!(redact_url("redis://cache"), "redis://cache");
        let r = SharedRedis::open("redis://:pw@10.0.0.5:6380/3", "x").unwrap();
        assert_eq!(r.shown(), "redis://10.0.0.5:6380/3");
        let err = SharedRedis::open("http://:pw@x", "rate_limit_redis")
            .err()
            .unwrap();
        assert!(
            !err.contains("pw") && err.starts_with("rate_limit_redis"),
            "{err}"
        );
    }
}
