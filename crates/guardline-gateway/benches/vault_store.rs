//! What `[vault] keep` costs a Responses API call: keeping a request's tokens (one write) and
//! finding a continued response's (one read), in SQLite and, when one answers, Redis
//! (`GUARDLINE_TEST_REDIS`, default 127.0.0.1:6379; `skip` skips it). The baseline in the same
//! run is restoring the same tokens from the request's own vault, which every call does anyway.
//!
//! `cargo bench -p guardline-gateway --bench vault_store`

use criterion::{criterion_group, criterion_main, Criterion};
use guardline_detect::{Key, Kind, Vault};
use guardline_gateway::vault_store::{Scope, VaultStore};
use std::time::Duration;

fn vault(key: &Key) -> Vault {
    let mut v = Vault::new();
    v.token(key, &Kind::new("hk_id"), b"A123456(3)");
    v.token(key, &Kind::new("hk_phone"), b"+852 9123 4567");
    v.token(key, &Kind::new("email"), b"chan@example.com");
    v
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let key = Key::from_bytes([5; 32]);
    let v = vault(&key);
    let text: String = v.iter().map(|(t, _)| format!("{t} ")).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut stores = vec![(
        "sqlite",
        VaultStore::sqlite(
            &dir.path().join("v.sqlite"),
            &key,
            Duration::from_secs(3600),
        )
        .unwrap(),
    )];
    let url =
        std::env::var("GUARDLINE_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into());
    if url != "skip" {
        let r = VaultStore::redis(&url, &key, Duration::from_secs(600)).unwrap();
        if rt
            .block_on(r.keep("bench", Scope::Response("resp_0"), &v))
            .is_ok()
        {
            stores.push(("redis", r));
        }
    }
    let mut g = c.benchmark_group("vault_store");
    g.bench_function("baseline: restore 3 tokens from the request's vault", |b| {
        b.iter(|| v.restore_str(&text))
    });
    for (name, store) in &stores {
        let mut n = 0u64;
        g.bench_function(format!("{name}: keep 3 tokens (a new response)"), |b| {
            b.iter(|| {
                n += 1;
                let id = format!("resp_{n}");
                rt.block_on(store.keep("bench", Scope::Response(&id), &v))
                    .unwrap()
            })
        });
        rt.block_on(store.keep("bench", Scope::Response("resp_x"), &v))
            .unwrap();
        g.bench_function(
            format!("{name}: load 3 tokens and restore (a continued response)"),
            |b| {
                b.iter(|| {
                    let mut later = Vault::new();
                    rt.block_on(store.load("bench", Scope::Response("resp_x"), &mut later))
                        .unwrap();
                    later.restore_str(&text)
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
