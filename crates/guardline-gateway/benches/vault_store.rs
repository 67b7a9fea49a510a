//! What `[vault] keep` costs a Responses API call: keeping a request's tokens (one write) and
//! finding a continued response's (one read), in SQLite and, when one answers, Redis
//! (`GUARDLINE_TEST_REDIS`, default 127.0.0.1:6379; `skip` skips it). The baseline in the same
//! run is restoring the same tokens from the request's own vault, which every call does anyway.
//! Then what an erasure request (`guardline vault forget`) costs in a store of 10,000 responses.
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

    // An erasure request (`guardline vault forget`) finds a value's token in every scope: a scan
    // of the whole store. Each store is filled with SCOPES responses of 3 tokens (other values),
    // and the erased token is absent, so every iteration scans the same store.
    const SCOPES: usize = 10_000;
    let mut g = c.benchmark_group("vault_store_erase");
    g.sample_size(10);
    for (name, store) in &stores {
        for n in 0..SCOPES {
            let mut other = Vault::new();
            other.token(&key, &Kind::new("hk_id"), format!("Z{n:06}").as_bytes());
            other.token(&key, &Kind::new("hk_phone"), format!("9{n:07}").as_bytes());
            other.token(
                &key,
                &Kind::new("email"),
                format!("p{n}@example.com").as_bytes(),
            );
            rt.block_on(store.keep("bench", Scope::Response(&format!("fill_{n}")), &other))
                .unwrap();
        }
        let absent = vec!["HK_ID_0000000000".to_string()];
        g.bench_function(
            format!("{name}: erase one value from {SCOPES} responses (30,000+ entries)"),
            |b| b.iter(|| rt.block_on(store.erase(&absent)).unwrap()),
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
