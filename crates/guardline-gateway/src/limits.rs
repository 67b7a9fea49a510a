//! The `[server]` limits a running gateway enforces — body size, requests in flight, requests per
//! second per key — and their change on reload (SIGHUP) without a restart.
//!
//! Requests in flight are counted exactly across a change: a larger limit admits more at once,
//! a smaller one admits nothing new until the requests in flight are under it. Permits that are
//! out when the limit shrinks are taken out of circulation as they come back ([`Slot`]'s drop), so
//! no second semaphore runs beside the first.

use crate::config::ServerConfig;
use crate::rate::RateLimiter;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Requests in flight, with a limit that can change while permits are out.
pub struct Slots {
    semaphore: Arc<Semaphore>,
    /// The limit in force; changed under this lock only.
    size: Mutex<usize>,
    /// Permits still to take out of circulation after the limit shrank while they were out.
    debt: AtomicUsize,
}

/// One request's place among those in flight; given back (or retired, after a shrink) on drop.
pub struct Slot {
    permit: Option<OwnedSemaphorePermit>,
    slots: Arc<Slots>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(p) = self.permit.take() {
            if self.slots.take_debt(1) == 1 {
                p.forget();
            }
        }
    }
}

impl Slots {
    pub fn new(size: usize) -> Arc<Slots> {
        let size = size.max(1);
        Arc::new(Slots {
            semaphore: Arc::new(Semaphore::new(size)),
            size: Mutex::new(size),
            debt: AtomicUsize::new(0),
        })
    }

    /// Waits for a place; `None` once the slots are closed.
    pub async fn acquire(self: &Arc<Self>) -> Option<Slot> {
        let permit = self.semaphore.clone().acquire_owned().await.ok()?;
        Some(Slot {
            permit: Some(permit),
            slots: self.clone(),
        })
    }

    /// The limit in force.
    pub fn size(&self) -> usize {
        *self.size.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Requests in flight now (for tests and metrics; a snapshot).
    pub fn in_flight(&self) -> usize {
        let size = self.size.lock().unwrap_or_else(|e| e.into_inner());
        (*size + self.debt.load(Ordering::Acquire))
            .saturating_sub(self.semaphore.available_permits())
    }

    /// Takes up to `n` from the debt; returns how many it took.
    fn take_debt(&self, n: usize) -> usize {
        let mut taken = 0;
        let _ = self
            .debt
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| {
                taken = d.min(n);
                (taken > 0).then_some(d - taken)
            });
        taken
    }

    /// Changes the limit. Growing adds places at once (first cancelling any shrink still being
    /// paid off); shrinking retires free places at once and the rest as requests finish.
    pub fn resize(&self, new: usize) {
        let new = new.max(1);
        let mut size = self.size.lock().unwrap_or_else(|e| e.into_inner());
        if new > *size {
            let grow = new - *size;
            let cancelled = self.take_debt(grow);
            self.semaphore.add_permits(grow - cancelled);
        } else if new < *size {
            let shrink = *size - new;
            let retired = self.semaphore.forget_permits(shrink);
            self.debt.fetch_add(shrink - retired, Ordering::AcqRel);
            // A permit given back between the two steps above is free now; retire it too.
            loop {
                let owed = self.debt.load(Ordering::Acquire);
                if owed == 0 {
                    break;
                }
                let freed = self.semaphore.forget_permits(owed);
                if freed == 0 {
                    break;
                }
                // What was retired here is no longer owed (a drop may have paid part of it
                // meanwhile: then more was retired than owed, and that surplus is given back).
                let paid = self.take_debt(freed);
                if paid < freed {
                    self.semaphore.add_permits(freed - paid);
                }
            }
        }
        *size = new;
    }
}

/// The `[server]` limits in force: replaced whole on reload, except the parts that carry state
/// (the slots, and the rate limiter when its quota is unchanged).
pub struct Limits {
    pub body_limit: usize,
    pub slots: Arc<Slots>,
    pub limiter: Option<Arc<RateLimiter>>,
}

impl Limits {
    /// `Err` only for a `rate_limit_redis` URL that does not parse (config loading refuses
    /// those first).
    pub fn new(server: &ServerConfig) -> Result<Limits, String> {
        Ok(Limits {
            body_limit: server.body_limit,
            slots: Slots::new(server.concurrency),
            limiter: limiter(server, None)?,
        })
    }

    /// The limits `server` asks for, keeping what can be kept: the same slots (resized), and the
    /// rate limiter's buckets when the quota did not change. A new quota starts every key with a
    /// full burst.
    pub fn reloaded(&self, server: &ServerConfig) -> Result<Limits, String> {
        let limiter = limiter(server, self.limiter.as_ref())?;
        self.slots.resize(server.concurrency);
        Ok(Limits {
            body_limit: server.body_limit,
            slots: self.slots.clone(),
            limiter,
        })
    }

    /// What the start and reload records show.
    pub fn summary(&self) -> serde_json::Value {
        let (rate, burst) = self.limiter.as_ref().map(|l| l.quota).unwrap_or((0, 0));
        serde_json::json!({
            "body_limit": self.body_limit,
            "concurrency": self.slots.size(),
            "rate_limit_per_key": rate,
            "rate_limit_burst": burst,
            "rate_limit_store": self.limiter.as_ref().map(|l| l.store()),
        })
    }
}

fn limiter(
    server: &ServerConfig,
    old: Option<&Arc<RateLimiter>>,
) -> Result<Option<Arc<RateLimiter>>, String> {
    let Some(rps) = NonZeroU32::new(server.rate_limit_per_key) else {
        return Ok(None);
    };
    let burst = NonZeroU32::new(server.rate_limit_burst).unwrap_or(rps);
    let new = match &server.rate_limit_redis {
        Some(url) => RateLimiter::shared(url, rps, burst)?,
        None => RateLimiter::local(rps, burst),
    };
    // The same quota in the same place keeps its counts (and its Redis connection).
    if let Some(l) = old {
        if l.quota == new.quota && l.store() == new.store() {
            return Ok(Some(l.clone()));
        }
    }
    Ok(Some(Arc::new(new)))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn take(slots: &Arc<Slots>, n: usize) -> Vec<Slot> {
        let mut v = Vec::new();
        for _ in 0..n {
            v.push(slots.acquire().await.expect("open"));
        }
        v
    }

    fn admits(slots: &Arc<Slots>) -> bool {
        slots.semaphore.available_permits() > 0
    }

    #[tokio::test]
    async fn a_smaller_limit_admits_nothing_new_until_in_flight_is_under_it() {
        let slots = Slots::new(4);
        let mut held = take(&slots, 3).await;
        slots.resize(2);
        assert_eq!(slots.size(), 2);
        assert_eq!(slots.in_flight(), 3);
        assert!(!admits(&slots), "3 in flight, limit 2");
        held.pop();
        assert!(!admits(&slots), "2 in flight, limit 2");
        held.pop();
        assert!(admits(&slots), "1 in flight, limit 2");
        let more = take(&slots, 1).await;
        assert!(!admits(&slots));
        drop(more);
        drop(held);
        assert_eq!(
            slots.semaphore.available_permits(),
            2,
            "exactly the new limit"
        );
    }

    #[tokio::test]
    async fn growing_again_cancels_a_shrink_still_being_paid() {
        let slots = Slots::new(4);
        let held = take(&slots, 4).await;
        slots.resize(1); // owes 3
        slots.resize(3); // owes 1
        assert_eq!(slots.size(), 3);
        drop(held);
        assert_eq!(slots.semaphore.available_permits(), 3);
        slots.resize(6);
        assert_eq!(slots.semaphore.available_permits(), 6);
        assert_eq!(slots.in_flight(), 0);
    }

    #[tokio::test]
    async fn waiting_requests_get_the_places_a_larger_limit_adds() {
        let slots = Slots::new(1);
        let _held = take(&slots, 1).await;
        let waiting = tokio::spawn({
            let s = slots.clone();
            async move { s.acquire().await.is_some() }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        slots.resize(2);
        assert!(waiting.await.unwrap());
    }

    #[tokio::test]
    async fn the_rate_limiter_keeps_its_buckets_unless_the_quota_changes() {
        use crate::rate::Verdict;
        let mut server = ServerConfig {
            rate_limit_per_key: 1,
            ..ServerConfig::default()
        };
        let limits = Limits::new(&server).unwrap();
        let l = limits.limiter.as_ref().unwrap();
        assert_eq!(l.check("k").await, Verdict::Admit);
        assert!(
            matches!(l.check("k").await, Verdict::Refuse(_)),
            "burst of 1 spent"
        );
        let same = limits.reloaded(&server).unwrap();
        let l = same.limiter.as_ref().unwrap();
        assert!(
            matches!(l.check("k").await, Verdict::Refuse(_)),
            "still spent"
        );
        server.rate_limit_per_key = 5;
        let faster = same.reloaded(&server).unwrap();
        let l = faster.limiter.as_ref().unwrap();
        assert_eq!(l.quota, (5, 5));
        assert_eq!(l.check("k").await, Verdict::Admit);
        // Moving the counts to Redis is a new limiter, as is a bad URL an error (nothing changes).
        server.rate_limit_redis = Some("redis://127.0.0.1:1/0".into());
        let shared = faster.reloaded(&server).unwrap();
        assert_eq!(
            shared.summary()["rate_limit_store"],
            "redis://127.0.0.1:1/0"
        );
        server.rate_limit_redis = Some("nonsense://".into());
        assert!(shared.reloaded(&server).is_err());
        server.rate_limit_redis = None;
        server.rate_limit_per_key = 0;
        assert!(faster.reloaded(&server).unwrap().limiter.is_none());
        assert_eq!(faster.summary()["rate_limit_per_key"], 5);
        assert_eq!(faster.summary()["rate_limit_store"], "local");
    }
}
