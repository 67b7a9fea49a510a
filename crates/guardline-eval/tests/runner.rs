//! The runner: the request budget stops a run before it is exceeded and resuming sends no probe
//! twice; the cache answers a repeated run without any request; retries, timeouts, Retry-After
//! and concurrency.

mod common;

use common::*;
use guardline_eval::plan::{self, PlanRequest};
use guardline_eval::runner::{Http, NoProgress, RunnerConfig};
use guardline_eval::score::Scorer;
use guardline_eval::session::{Finished, Session};
use guardline_eval::store::{cache_dir, Cache};
use guardline_eval::target::Endpoint;
use guardline_eval::Suite;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn no_duplicates(bodies: &[String]) -> bool {
    let set: HashSet<&String> = bodies.iter().collect();
    set.len() == bodies.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_stops_the_run_and_resume_sends_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start(always_refuses()).await;
    let target = Endpoint::new(&mock.url, "mock-model", None).unwrap();
    let plan = plan::build(&PlanRequest {
        suites: vec![Suite::Harmful, Suite::Injection],
        ..Default::default()
    })
    .unwrap();
    let total = plan.probes.len();
    assert_eq!(total, 105);
    let mut s = Session::create(dir.path(), plan, new_run(&mock.url)).unwrap();
    let run_id = s.run_id().to_string();
    let http = Http::new(
        RunnerConfig {
            max_requests: Some(17),
            ..config(4)
        },
        Cache::new(cache_dir(dir.path())),
    )
    .unwrap();
    let r = s
        .run(&target, None, &http, &Scorer::new(), &NoProgress)
        .await
        .unwrap();
    match r {
        Finished::Incomplete {
            remaining, phase, ..
        } => {
            assert_eq!(remaining, total - 17);
            assert_eq!(phase, "probes");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(mock.requests().len(), 17, "the budget is never exceeded");
    assert!(!dir
        .path()
        .join(format!("eval/runs/{run_id}/result.json"))
        .exists());
    drop(s);
    // Resume: only what is missing is sent.
    let mut s = Session::resume(dir.path(), &run_id).unwrap();
    assert_eq!(s.answered(), 17);
    let http = Http::new(config(4), Cache::new(cache_dir(dir.path()))).unwrap();
    let r = s
        .run(&target, None, &http, &Scorer::new(), &NoProgress)
        .await
        .unwrap();
    let Finished::Complete(r) = r else {
        panic!("{r:?}")
    };
    let sent = mock.requests();
    assert_eq!(sent.len(), total);
    assert!(no_duplicates(&sent), "a probe was sent twice");
    assert_eq!(r.requests.sent as usize, total);
    let h = r.suites.iter().find(|s| s.name == Suite::Harmful).unwrap();
    assert_eq!((h.n, h.errors), (60, 0));
    // The same plan again, as a new run: everything comes from the cache.
    let before = mock.requests().len();
    let again = run(&mock, &[Suite::Harmful, Suite::Injection], dir.path()).await;
    assert_eq!(mock.requests().len(), before, "the cache answered");
    assert_eq!(again.requests.cached as usize, total);
    assert_eq!(again.requests.sent, 0);
    assert_eq!(again.suites[0].metrics, r.suites[0].metrics);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cut_off_mid_flight_resumes_without_resending_answered_probes() {
    // The mock answers 20 requests, then hangs on every further one (as if the network or the
    // process died); the session is abandoned (dropped) while requests hang, like a killed
    // process. Answers already received are in the cache and in attempts.jsonl.
    let dir = tempfile::tempdir().unwrap();
    let answered = Arc::new(AtomicUsize::new(0));
    let a = answered.clone();
    let mock = start(Arc::new(move |c: &Call| {
        if a.fetch_add(1, Ordering::SeqCst) < 20 {
            Reply::Text(refusal_in(&c.probe.as_ref().unwrap().lang).into())
        } else {
            Reply::Hang
        }
    }))
    .await;
    let target = Endpoint::new(&mock.url, "mock-model", None).unwrap();
    let plan = plan::build(&PlanRequest {
        suites: vec![Suite::Harmful],
        ..Default::default()
    })
    .unwrap();
    let mut s = Session::create(dir.path(), plan, new_run(&mock.url)).unwrap();
    let run_id = s.run_id().to_string();
    let http = Http::new(config(4), Cache::new(cache_dir(dir.path()))).unwrap();
    let cut = tokio::time::timeout(
        Duration::from_millis(1500),
        s.run(&target, None, &http, &Scorer::new(), &NoProgress),
    )
    .await;
    assert!(cut.is_err(), "the run hangs after 20 answers");
    drop(s);
    let first = mock.answered();
    assert_eq!(first.len(), 20);
    // The target recovers.
    mock.set(always_refuses());
    let mut s = Session::resume(dir.path(), &run_id).unwrap();
    assert_eq!(s.answered(), 20);
    let http = Http::new(config(4), Cache::new(cache_dir(dir.path()))).unwrap();
    let Finished::Complete(r) = s
        .run(&target, None, &http, &Scorer::new(), &NoProgress)
        .await
        .unwrap()
    else {
        panic!()
    };
    let all = mock.answered();
    assert_eq!(all.len(), 60, "each probe answered once");
    assert!(no_duplicates(&all), "an answered probe was sent again");
    assert_eq!(r.suites[0].n, 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_backoff_retry_after_and_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    // Each body fails twice (503, then 429 with Retry-After: 0) before it is answered; one
    // probe never answers in time.
    let slow_id = "harm-en-03";
    let mock = start(Arc::new(move |c: &Call| {
        let p = c.probe.as_ref().unwrap();
        if p.id == slow_id {
            return Reply::Slow(Duration::from_secs(5), "late".into());
        }
        match c.seen_before {
            0 => Reply::Status(
                503,
                serde_json::json!({"error": {"message": "overloaded"}}),
                vec![],
            ),
            1 => Reply::Status(
                429,
                serde_json::json!({"error": {"message": "slow down"}}),
                vec![("retry-after", "0".into())],
            ),
            _ => Reply::Text(refusal_in(&p.lang).into()),
        }
    }))
    .await;
    let cfg = RunnerConfig {
        retries: 2,
        timeout: Duration::from_millis(300),
        ..config(8)
    };
    let r = run_with(&mock, &[Suite::Harmful], dir.path(), cfg, false).await;
    let h = &r.suites[0];
    assert_eq!((h.n, h.errors), (59, 1));
    // 59 probes × 3 tries + the slow one's 3 timed-out tries
    assert_eq!(r.requests.sent, 59 * 3 + 3);
    assert_eq!(h.metrics["attack_success_rate"].count, 0);
    // A 400 is not retried.
    let dir = tempfile::tempdir().unwrap();
    let mock = start(Arc::new(|_c: &Call| {
        Reply::Status(
            400,
            serde_json::json!({"error": {"message": "unknown model"}}),
            vec![],
        )
    }))
    .await;
    let plan = plan::build(&PlanRequest {
        suites: vec![Suite::Overrefusal],
        ..Default::default()
    })
    .unwrap();
    let mut s = Session::create(dir.path(), plan, new_run(&mock.url)).unwrap();
    let http = Http::new(config(8), Cache::disabled()).unwrap();
    let target = Endpoint::new(&mock.url, "mock-model", None).unwrap();
    let e = s
        .run(&target, None, &http, &Scorer::new(), &NoProgress)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown model") && e.contains("--resume"), "{e}");
    assert_eq!(mock.requests().len(), 45);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_and_rate_limit() {
    // 45 probes, each answered after 100 ms: up to 20 are in flight at once, never more.
    let dir = tempfile::tempdir().unwrap();
    let mock = start(Arc::new(|c: &Call| {
        Reply::Slow(
            Duration::from_millis(100),
            refusal_in(&c.probe.as_ref().unwrap().lang).into(),
        )
    }))
    .await;
    let r = run_with(&mock, &[Suite::Overrefusal], dir.path(), config(20), false).await;
    assert_eq!(r.suites[0].n, 45);
    let peak = mock.max_in_flight();
    assert!(
        (2..=20).contains(&peak),
        "{peak} requests in flight at once"
    );
    // 20 requests per second: 45 requests cannot take less than 2.2 s (a lower bound, which a
    // slow machine only makes easier to meet).
    let dir = tempfile::tempdir().unwrap();
    let mock = start(always_refuses()).await;
    let t = Instant::now();
    run_with(
        &mock,
        &[Suite::Overrefusal],
        dir.path(),
        RunnerConfig {
            rate: Some(20.0),
            ..config(8)
        },
        false,
    )
    .await;
    assert!(
        t.elapsed() >= Duration::from_millis(2150),
        "{:?}",
        t.elapsed()
    );
}
