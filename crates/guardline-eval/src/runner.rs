//! Sends probes: concurrency, a rate limit, retries with exponential backoff (honouring
//! `Retry-After`), per-request timeouts, the answer cache, and a request budget that stops the
//! run before it would be exceeded. Every attempt is appended to the run's `attempts.jsonl` as
//! it completes, so a run can be killed at any point and resumed.

use crate::probe::Probe;
use crate::score::Scorer;
use crate::store::{now, Attempt, Cache, RunStore};
use crate::target::{interpret, request_body, Endpoint, Failure, Outcome, Sampling};
use crate::Result;
use futures_util::StreamExt;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How the runner talks to endpoints.
#[derive(Clone, Debug)]
pub struct RunnerConfig {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Requests per second across the run (`None`: as fast as the endpoint answers).
    pub rate: Option<f64>,
    /// Extra tries after a failure that may pass (timeouts, connection errors, 429, 5xx).
    pub retries: u32,
    /// The first retry's delay; each further retry doubles it (with jitter, capped at 30 s).
    pub backoff: Duration,
    /// Per request.
    pub timeout: Duration,
    /// The most HTTP requests this invocation may send (retries and judge calls included).
    pub max_requests: Option<u64>,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            concurrency: 8,
            rate: None,
            retries: 3,
            backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(60),
            max_requests: None,
        }
    }
}

/// Progress reports, for a bar or a log. All methods default to nothing.
pub trait Progress: Send + Sync {
    fn start(&self, _phase: &str, _total: u64, _done: u64) {}
    fn advance(&self, _cached: bool, _ok: bool) {}
    fn finish(&self) {}
}

pub struct NoProgress;
impl Progress for NoProgress {}

/// Spaces requests evenly: each takes the next free slot.
struct RateLimiter {
    interval: Duration,
    next: Mutex<Instant>,
}

impl RateLimiter {
    async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
    }
}

/// The HTTP side of a run: shared by the target and the judge, so the budget, the rate limit
/// and the cache cover both.
pub struct Http {
    client: reqwest::Client,
    config: RunnerConfig,
    limiter: Option<RateLimiter>,
    remaining: Option<AtomicU64>,
    exhausted: AtomicBool,
    sent: AtomicU64,
    cache: Cache,
}

/// A request that produced an answer (or a block).
#[derive(Clone, Debug)]
pub struct Answered {
    pub outcome: Outcome,
    pub cached: bool,
    pub tries: u32,
    pub latency: Duration,
}

#[derive(Clone, Debug)]
pub enum AskError {
    /// The request budget is spent; nothing was sent for this probe (or no more retries).
    Budget {
        tries: u32,
    },
    Failed {
        failure: Failure,
        tries: u32,
    },
}

impl Http {
    pub fn new(config: RunnerConfig, cache: Cache) -> Result<Http> {
        // reqwest is built without a default crypto provider (the workspace shares ring).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(config.concurrency.max(1))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| crate::Error::Invalid(format!("cannot build the HTTP client: {e}")))?;
        let limiter = config.rate.filter(|r| *r > 0.0).map(|r| RateLimiter {
            interval: Duration::from_secs_f64(1.0 / r),
            next: Mutex::new(Instant::now()),
        });
        Ok(Http {
            client,
            remaining: config.max_requests.map(AtomicU64::new),
            limiter,
            config,
            exhausted: AtomicBool::new(false),
            sent: AtomicU64::new(0),
            cache,
        })
    }

    pub fn config(&self) -> &RunnerConfig {
        &self.config
    }

    /// HTTP requests sent so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Whether a request was refused for lack of budget.
    pub fn budget_exhausted(&self) -> bool {
        self.exhausted.load(Ordering::Relaxed)
    }

    fn take_budget(&self) -> bool {
        let Some(rem) = &self.remaining else {
            return true;
        };
        let ok = rem
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| r.checked_sub(1))
            .is_ok();
        if !ok {
            self.exhausted.store(true, Ordering::Relaxed);
        }
        ok
    }

    /// The answer to `body` at `endpoint`: from the cache, or by sending it (with retries).
    pub async fn ask(
        &self,
        endpoint: &Endpoint,
        body: &Value,
        key: &str,
    ) -> Result<Answered, AskError> {
        let started = Instant::now();
        if let Some(outcome) = self.cache.get(key) {
            return Ok(Answered {
                outcome,
                cached: true,
                tries: 0,
                latency: started.elapsed(),
            });
        }
        let mut tries = 0;
        loop {
            if !self.take_budget() {
                return Err(AskError::Budget { tries });
            }
            if let Some(l) = &self.limiter {
                l.wait().await;
            }
            tries += 1;
            self.sent.fetch_add(1, Ordering::Relaxed);
            match self.send(endpoint, body).await {
                Ok(outcome) => {
                    // The cache is written before the attempt is logged: a kill in between loses
                    // nothing, the resumed run finds the answer here.
                    let _ = self.cache.put(key, &outcome);
                    return Ok(Answered {
                        outcome,
                        cached: false,
                        tries,
                        latency: started.elapsed(),
                    });
                }
                Err(f) if f.retryable && tries <= self.config.retries => {
                    let delay = backoff(self.config.backoff, tries, key, f.retry_after);
                    tokio::time::sleep(delay).await;
                }
                Err(failure) => return Err(AskError::Failed { failure, tries }),
            }
        }
    }

    async fn send(&self, endpoint: &Endpoint, body: &Value) -> Result<Outcome, Failure> {
        let mut req = self
            .client
            .post(endpoint.url.clone())
            .json(body)
            .timeout(self.config.timeout);
        if let Some(k) = &endpoint.api_key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await.map_err(|e| transport(&e))?;
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let decision = header("x-guardline-decision");
        let retry_after = header("retry-after");
        let bytes = resp.bytes().await.map_err(|e| transport(&e))?;
        interpret(status, decision.as_deref(), retry_after.as_deref(), &bytes)
    }
}

fn transport(e: &reqwest::Error) -> Failure {
    let what = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        "request failed".to_string()
    };
    // reqwest's messages can include the URL; the cause chain says why.
    let mut cause = String::new();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        cause = s.to_string();
        src = s.source();
    }
    Failure {
        message: if cause.is_empty() {
            what
        } else {
            format!("{what}: {cause}")
        },
        retryable: true,
        retry_after: None,
    }
}

/// `base · 2^(try-1)` plus up to 50% jitter (derived from the request, so reruns are
/// reproducible), at least what `Retry-After` asked for, at most 30 s (60 s for Retry-After).
fn backoff(base: Duration, tries: u32, key: &str, retry_after: Option<f64>) -> Duration {
    let exp = base.saturating_mul(1u32 << (tries - 1).min(10));
    let jitter_unit = u8::from_str_radix(key.get(..2).unwrap_or("80"), 16).unwrap_or(128);
    let d = exp + exp.mul_f64(f64::from(jitter_unit) / 255.0 * 0.5);
    let d = d.min(Duration::from_secs(30));
    match retry_after {
        Some(s) if s.is_finite() && s > 0.0 => d.max(Duration::from_secs_f64(s.min(60.0))),
        _ => d,
    }
}

/// What sending the probes did.
#[derive(Clone, Debug, Default)]
pub struct SendStats {
    /// The attempts appended to the run, in the order they completed.
    pub attempts: Vec<Attempt>,
    pub answered: u64,
    pub cached: u64,
    pub errors: u64,
    /// Probes not attempted because the budget ran out.
    pub unsent: u64,
}

/// Sends `todo` to the target, appending each attempt to the run as it completes.
pub async fn send_probes(
    http: &Http,
    target: &Endpoint,
    sampling: &Sampling,
    scorer: &Scorer,
    todo: &[Probe],
    store: &mut RunStore,
    progress: &dyn Progress,
) -> Result<SendStats> {
    let target_url = target.display_url();
    let concurrency = http.config().concurrency.max(1);
    let mut results = futures_util::stream::iter(todo.iter())
        .map(|probe| {
            let body = request_body(&target.model, &probe.messages, sampling);
            let key = Cache::key(&target_url, &body);
            async move {
                let r = http.ask(target, &body, &key).await;
                (probe, key, r)
            }
        })
        .buffer_unordered(concurrency);
    let mut stats = SendStats::default();
    while let Some((probe, key, r)) = results.next().await {
        let (status, outcome, error, cached, tries, latency) = match r {
            Ok(a) => ("ok", Some(a.outcome), None, a.cached, a.tries, a.latency),
            Err(AskError::Budget { tries: 0 }) => {
                stats.unsent += 1;
                continue;
            }
            Err(AskError::Budget { tries }) => (
                "error",
                None,
                Some("request budget spent during retries".to_string()),
                false,
                tries,
                Duration::ZERO,
            ),
            Err(AskError::Failed { failure, tries }) => (
                "error",
                None,
                Some(failure.message),
                false,
                tries,
                Duration::ZERO,
            ),
        };
        let verdict = outcome.as_ref().map(|o| scorer.score(probe, o));
        let attempt = Attempt {
            probe: probe.id.clone(),
            suite: probe.suite,
            lang: probe.lang.clone(),
            time: now(),
            status: status.into(),
            outcome,
            error,
            cached,
            tries,
            latency_ms: latency.as_millis() as u64,
            request_sha256: key,
            verdict,
        };
        store.append(&attempt)?;
        let ok = attempt.is_ok();
        if ok {
            stats.answered += 1;
            if cached {
                stats.cached += 1;
            }
        } else {
            stats.errors += 1;
        }
        stats.attempts.push(attempt);
        progress.advance(cached, ok);
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let b = Duration::from_millis(100);
        let k = "00";
        assert_eq!(backoff(b, 1, k, None), Duration::from_millis(100));
        assert_eq!(backoff(b, 2, k, None), Duration::from_millis(200));
        assert_eq!(backoff(b, 3, k, None), Duration::from_millis(400));
        assert_eq!(backoff(b, 30, k, None), Duration::from_secs(30));
        assert!(backoff(b, 1, "ff", None) > Duration::from_millis(140));
        assert_eq!(backoff(b, 1, k, Some(2.0)), Duration::from_secs(2));
        assert_eq!(backoff(b, 1, k, Some(1e9)), Duration::from_secs(60));
        assert_eq!(backoff(b, 1, k, Some(f64::NAN)), Duration::from_millis(100));
    }

    #[test]
    fn the_budget_is_never_exceeded() {
        let http = Http::new(
            RunnerConfig {
                max_requests: Some(2),
                ..RunnerConfig::default()
            },
            Cache::disabled(),
        )
        .unwrap();
        assert!(http.take_budget());
        assert!(http.take_budget());
        assert!(!http.take_budget());
        assert!(http.budget_exhausted());
    }
}
