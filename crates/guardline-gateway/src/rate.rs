//! The per-key rate limit (`[server] rate_limit_per_key`, `rate_limit_burst`): counted in this
//! process, or, with `rate_limit_redis`, shared by every gateway that names the same Redis, so
//! that three replicas behind a load balancer allow a key its rate once, not three times.
//!
//! Both count the same way (GCRA: one request every `1/rate` seconds, up to `burst` at once).
//! The shared one keeps each key's theoretical arrival time in Redis and decides in one Lua
//! script, atomically, by the Redis server's clock, so the gateways' clocks do not matter.
//! When Redis does not answer, requests are refused (fail closed), never waved through.

use crate::shared_redis::{SharedRedis, TIMEOUT as SHARED_TIMEOUT};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

type Local = governor::DefaultKeyedRateLimiter<String>;

/// GCRA. KEYS[1]: the key's counter; ARGV[1]: the emission interval (µs); ARGV[2]: the burst
/// tolerance (µs, the interval times `burst - 1`). Returns 0 when the request is admitted, or
/// how many µs until it would be.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
if tat - now > tolerance then
  return math.max(1, tat - now - tolerance)
end
local new = tat + interval
redis.call('SET', KEYS[1], string.format('%d', new), 'PX', math.ceil((new - now) / 1000) + 1)
return 0
";

/// The decision on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Admit,
    /// Over the key's rate; the next request would be admitted after this long.
    Refuse(Duration),
    /// The shared counter cannot be reached (the message says where and why).
    Unavailable(String),
}

/// A rate limit per key, with its quota (requests per second, burst).
pub struct RateLimiter {
    pub quota: (u32, u32),
    kind: Kind,
}

enum Kind {
    Local(Local),
    Shared(Shared),
}

struct Shared {
    redis: SharedRedis,
    script: redis::Script,
    /// Emission interval and burst tolerance, in µs.
    interval_us: u64,
    tolerance_us: u64,
    /// Whether the last decision failed: failures and recoveries are logged once each.
    down: AtomicBool,
}

impl RateLimiter {
    /// A limiter for `rate` requests per second with bursts of `burst`, in this process.
    pub fn local(rate: NonZeroU32, burst: NonZeroU32) -> RateLimiter {
        RateLimiter {
            quota: (rate.get(), burst.get()),
            kind: Kind::Local(governor::RateLimiter::keyed(
                governor::Quota::per_second(rate).allow_burst(burst),
            )),
        }
    }

    /// The same, counted in the Redis at `url` (`redis://[user:password@]host[:port][/db]`).
    /// Nothing connects until the first request.
    pub fn shared(url: &str, rate: NonZeroU32, burst: NonZeroU32) -> Result<RateLimiter, String> {
        let redis = SharedRedis::open(url, "rate_limit_redis")?;
        let interval_us = 1_000_000 / u64::from(rate.get());
        Ok(RateLimiter {
            quota: (rate.get(), burst.get()),
            kind: Kind::Shared(Shared {
                redis,
                script: redis::Script::new(GCRA),
                interval_us,
                tolerance_us: interval_us * u64::from(burst.get() - 1),
                down: AtomicBool::new(false),
            }),
        })
    }

    /// Where the counts live: `local`, or the Redis (without credentials).
    pub fn store(&self) -> &str {
        match &self.kind {
            Kind::Local(_) => "local",
            Kind::Shared(s) => s.redis.shown(),
        }
    }

    /// Whether requests can be counted: always in process; Redis must answer a `PING`.
    pub async fn ready(&self) -> Result<(), String> {
        let Kind::Shared(s) = &self.kind else {
            return Ok(());
        };
        let pinged = tokio::time::timeout(SHARED_TIMEOUT, async {
            let mut conn = s.redis.connection().await?;
            redis::cmd("PING").query_async::<String>(&mut conn).await
        })
        .await;
        match pinged {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("{}: {e}", s.redis.shown())),
            Err(_) => Err(format!("{}: no answer", s.redis.shown())),
        }
    }

    /// Counts one request of `key`.
    pub async fn check(&self, key: &str) -> Verdict {
        match &self.kind {
            Kind::Local(l) => match l.check_key(&key.to_string()) {
                Ok(()) => Verdict::Admit,
                Err(not_until) => {
                    use governor::clock::Clock;
                    let now = governor::clock::DefaultClock::default().now();
                    Verdict::Refuse(not_until.wait_time_from(now))
                }
            },
            Kind::Shared(s) => s.check(key, self.quota).await,
        }
    }
}

impl Shared {
    async fn check(&self, key: &str, (rate, burst): (u32, u32)) -> Verdict {
        // The quota is part of the name: a new quota starts every key afresh, as it does locally,
        // and gateways briefly on different quotas during a rolling reload do not mix counts.
        let name = format!("guardline:rate:{rate}:{burst}:{key}");
        let decided = tokio::time::timeout(SHARED_TIMEOUT, async {
            let mut conn = self.redis.connection().await?;
            self.script
                .key(&name)
                .arg(self.interval_us)
                .arg(self.tolerance_us)
                .invoke_async::<i64>(&mut conn)
                .await
        })
        .await;
        let outcome = match decided {
            Ok(Ok(0)) => Ok(Verdict::Admit),
            Ok(Ok(wait_us)) => Ok(Verdict::Refuse(Duration::from_micros(
                wait_us.unsigned_abs(),
            ))),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!(
                "no answer within {} ms",
                SHARED_TIMEOUT.as_millis()
            )),
        };
        match outcome {
            Ok(v) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    tracing::info!(redis = %self.redis.shown(), "the shared rate limiter answers again");
                }
                v
            }
            Err(e) => {
                if !self.down.swap(true, Ordering::Relaxed) {
                    tracing::error!(redis = %self.redis.shown(), error = %e,
                        "the shared rate limiter does not answer: requests are refused until it does");
                }
                Verdict::Unavailable(format!("{}: {e}", self.redis.shown()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_passwords() {
        let one = NonZeroU32::new(1).unwrap();
        let l = RateLimiter::shared("redis://:pw@10.0.0.5:6380/3", one, one).unwrap();
        assert_eq!(l.store(), "redis://10.0.0.5:6380/3");
        let err = RateLimiter::shared("http://:pw@x", one, one).err().unwrap();
        assert!(!err.contains("pw"), "{err}");
    }

    #[tokio::test]
    async fn local_counts_a_burst_then_refuses() {
        let l = RateLimiter::local(NonZeroU32::new(1).unwrap(), NonZeroU32::new(2).unwrap());
        assert_eq!(l.check("k").await, Verdict::Admit);
        assert_eq!(l.check("k").await, Verdict::Admit);
        match l.check("k").await {
            Verdict::Refuse(wait) => assert!(wait <= Duration::from_secs(1), "{wait:?}"),
            v => panic!("{v:?}"),
        }
        assert_eq!(l.check("other").await, Verdict::Admit);
        assert_eq!(l.store(), "local");
    }

    #[tokio::test]
    async fn an_unreachable_redis_refuses_rather_than_admits() {
        // A port nothing listens on (bound, then closed).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let one = NonZeroU32::new(1).unwrap();
        let l = RateLimiter::shared(&format!("redis://127.0.0.1:{port}"), one, one).unwrap();
        match l.check("k").await {
            Verdict::Unavailable(why) => assert!(why.contains(&port.to_string()), "{why}"),
            v => panic!("{v:?}"),
        }
        assert!(l.ready().await.is_err());
    }
}
