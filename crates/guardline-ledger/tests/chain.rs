//! The ledger's proof: tampering of every kind is caught and named, concurrent appenders (tasks
//! and processes) neither lose nor fork, and an acknowledged append survives `kill -9`. Every test
//! runs on SQLite and on the real PostgreSQL server (`GUARDLINE_TEST_POSTGRES`, default
//! `postgres://postgres@127.0.0.1:5432/test`; set it to `skip` only where no server exists).

use futures_util::StreamExt;
use guardline_ledger::record::{record_hash, sha256_hex};
use guardline_ledger::{
    checkpoint, Filter, Ledger, LedgerError, Location, NewEvent, Options, Record, VerifyOptions,
};
use serde_json::json;
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const CHILD_ENV: &str = "GUARDLINE_LEDGER_TEST_CHILD";

fn pg_url() -> Option<String> {
    match std::env::var("GUARDLINE_TEST_POSTGRES") {
        Ok(v) if v == "skip" => None,
        Ok(v) => Some(v),
        Err(_) => Some("postgres://postgres@127.0.0.1:5432/test".into()),
    }
}

/// One test's ledger location, plus raw SQL access to play the attacker.
struct Db {
    spec: String,
    location: Location,
    pg: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

static SCHEMAS: AtomicUsize = AtomicUsize::new(0);

impl Db {
    fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        Db {
            spec: path.display().to_string(),
            location: Location::Sqlite(path),
            pg: None,
            _dir: Some(dir),
        }
    }

    async fn postgres(test: &str) -> Option<Db> {
        let url = pg_url()?;
        let schema = format!(
            "glt_{}_{}_{}",
            test,
            std::process::id(),
            SCHEMAS.fetch_add(1, Ordering::Relaxed)
        );
        guardline_ledger::store::postgres::PgStore::drop_schema(&url, &schema)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL at {url} is needed for this test ({e}); set \
                     GUARDLINE_TEST_POSTGRES to its URL, or to `skip`"
                )
            });
        Some(Db {
            spec: format!("{url}?schema={schema}"),
            location: Location::Postgres {
                url: url.clone(),
                schema: Some(schema.clone()),
            },
            pg: Some((url, schema)),
            _dir: None,
        })
    }

    async fn open(&self, options: Options) -> Ledger {
        Ledger::open(&self.location, options).await.unwrap()
    }

    /// Runs SQL behind the ledger's back.
    async fn exec(&self, sql: &str) {
        use sqlx::Connection;
        match (&self.location, &self.pg) {
            (Location::Sqlite(path), _) => {
                let mut c =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                        .await
                        .unwrap();
                sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
            }
            (_, Some((url, schema))) => {
                let mut c = sqlx::PgConnection::connect(url).await.unwrap();
                let sql = format!("SET search_path TO {schema}; {sql}");
                sqlx::raw_sql(&sql).execute(&mut c).await.unwrap();
            }
            _ => unreachable!(),
        }
    }

    async fn cleanup(self) {
        if let Some((url, schema)) = &self.pg {
            guardline_ledger::store::postgres::PgStore::drop_schema(url, schema)
                .await
                .unwrap();
        }
    }
}

fn event(i: usize) -> NewEvent {
    NewEvent::new(
        "exchange",
        json!({"request": i, "findings": {"hk_id": i % 3}, "decision": "transform"}),
    )
    .tenant(if i.is_multiple_of(2) { "acme" } else { "beta" })
}

async fn fill(ledger: &Ledger, n: usize) -> Vec<guardline_ledger::Receipt> {
    ledger
        .append_many((0..n).map(event).collect())
        .await
        .unwrap()
}

async fn all(ledger: &Ledger) -> Vec<Record> {
    ledger
        .records(Filter::default())
        .map(|r| r.unwrap())
        .collect()
        .await
}

async fn first_problem(ledger: &Ledger, opts: &VerifyOptions) -> (i64, String) {
    let report = ledger.verify(opts).await.unwrap();
    assert!(!report.intact(), "tampering went unnoticed");
    let p = &report.problems[0];
    (p.seq, p.what.clone())
}

fn key() -> guardline_ledger::SigningKey {
    guardline_ledger::SigningKey::from_bytes(&[7u8; 32])
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::Db::sqlite()).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = super::Db::postgres(stringify!($name)).await {
                    super::$name(db).await
                }
            }
        }
    )*};
}

on_both!(
    appends_chain_and_verify,
    editing_any_field_is_named,
    deleting_and_reordering_are_caught,
    truncation_is_caught_with_an_anchor_or_a_checkpoint,
    rewriting_history_breaks_the_signed_checkpoints,
    checkpoint_signatures_and_trust,
    pruning_bodies_keeps_the_chain_verifiable,
    many_tasks_append_without_loss_or_fork,
    two_processes_share_one_chain,
    kill_9_loses_no_acknowledged_append,
    kill_9_loses_nothing_with_normal_sync,
    export_filters_by_kind_and_time,
);

async fn appends_chain_and_verify(db: Db) {
    let ledger = db.open(Options::default()).await;
    assert!(ledger.head().await.unwrap().is_none());
    let empty = ledger.verify(&VerifyOptions::default()).await.unwrap();
    assert!(empty.intact() && empty.events == 0);
    let receipts = fill(&ledger, 50).await;
    assert_eq!(
        receipts.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=50).collect::<Vec<_>>()
    );
    let head = ledger.head().await.unwrap().unwrap();
    assert_eq!((head.seq, &head.hash), (50, &receipts[49].hash));
    let records = all(&ledger).await;
    assert_eq!(records[0].prev_hash, guardline_ledger::record::GENESIS);
    for w in records.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].hash);
        assert!(w[1].time >= w[0].time);
    }
    // Bodies are canonical JSON with sorted keys.
    assert!(records[0]
        .body
        .as_deref()
        .unwrap()
        .starts_with("{\"decision\""));
    let report = ledger.verify(&VerifyOptions::default()).await.unwrap();
    assert!(report.intact(), "{:?}", report.problems);
    assert_eq!(report.events, 50);
    // Invalid events are refused before they reach the chain.
    assert!(matches!(
        ledger.append(NewEvent::new("bad kind!", json!({}))).await,
        Err(LedgerError::Invalid(_))
    ));
    assert_eq!(ledger.head().await.unwrap().unwrap().seq, 50);
    // Personal data and secrets are refused unless the ledger retains content on purpose.
    for leak in [
        json!({"prompt": "my HKID is A123456(3)"}),
        json!({"note": "call +852 9123 4567"}),
        json!({"upstream_key": "ghp_R8x2kLm9Qw3Zt7Yb1Nc5Vd6Hf4Js0Ga2PeUq"}),
    ] {
        let err = ledger
            .append(NewEvent::new("exchange", leak.clone()))
            .await
            .unwrap_err();
        assert!(matches!(err, LedgerError::PersonalData(_)), "{leak}: {err}");
    }
    assert_eq!(ledger.head().await.unwrap().unwrap().seq, 50);
    let retaining = db
        .open(Options {
            retain_content: true,
            ..Default::default()
        })
        .await;
    retaining
        .append(NewEvent::new(
            "exchange",
            json!({"prompt": "my HKID is A123456(3)"}),
        ))
        .await
        .unwrap();
    db.cleanup().await;
}

async fn editing_any_field_is_named(db: Db) {
    let ledger = db.open(Options::default()).await;
    fill(&ledger, 20).await;
    let originals = all(&ledger).await;
    let r7 = &originals[6];
    let edits = [
        ("time", "'2020-01-01T00:00:00.000000Z'"),
        ("kind", "'eval_run'"),
        ("tenant", "'mallory'"),
        ("body", "'{\"decision\":\"allow\"}'"),
        ("body_sha256", "'00'"),
        ("prev_hash", "'11'"),
        ("hash", "'22'"),
    ];
    for (field, value) in edits {
        db.exec(&format!(
            "UPDATE ledger_events SET {field} = {value} WHERE seq = 7"
        ))
        .await;
        let (seq, what) = first_problem(&ledger, &VerifyOptions::default()).await;
        assert_eq!(seq, 7, "editing {field}: {what}");
        // Put it back and the chain verifies again.
        let original = match field {
            "time" => &r7.time,
            "kind" => &r7.kind,
            "tenant" => &r7.tenant,
            "body" => r7.body.as_ref().unwrap(),
            "body_sha256" => &r7.body_sha256,
            "prev_hash" => &r7.prev_hash,
            _ => &r7.hash,
        };
        db.exec(&format!(
            "UPDATE ledger_events SET {field} = '{}' WHERE seq = 7",
            original.replace('\'', "''")
        ))
        .await;
        assert!(ledger
            .verify(&VerifyOptions::default())
            .await
            .unwrap()
            .intact());
    }
    // Renumbering a record leaves a hole where it was.
    db.exec("UPDATE ledger_events SET seq = 1000 WHERE seq = 7")
        .await;
    let (seq, what) = first_problem(&ledger, &VerifyOptions::default()).await;
    assert_eq!(seq, 7, "{what}");
    assert!(what.contains("missing"), "{what}");
    db.cleanup().await;
}

async fn deleting_and_reordering_are_caught(db: Db) {
    let ledger = db.open(Options::default()).await;
    fill(&ledger, 20).await;
    db.exec("DELETE FROM ledger_events WHERE seq IN (5, 6)")
        .await;
    let (seq, what) = first_problem(&ledger, &VerifyOptions::default()).await;
    assert_eq!(seq, 5, "{what}");
    assert!(what.contains("5..6"), "{what}");
    let on_pg = db.pg.is_some();
    db.cleanup().await;

    let db = match on_pg {
        false => Db::sqlite(),
        true => Db::postgres("reorder").await.unwrap(),
    };
    let ledger = db.open(Options::default()).await;
    fill(&ledger, 20).await;
    // Swap records 3 and 4 wholesale (every column but seq).
    db.exec(
        "UPDATE ledger_events SET seq = -3 WHERE seq = 3;
         UPDATE ledger_events SET seq = 3 WHERE seq = 4;
         UPDATE ledger_events SET seq = 4 WHERE seq = -3;",
    )
    .await;
    let (seq, what) = first_problem(&ledger, &VerifyOptions::default()).await;
    assert_eq!(seq, 3, "{what}");
    db.cleanup().await;
}

async fn truncation_is_caught_with_an_anchor_or_a_checkpoint(db: Db) {
    let ledger = db.open(Options::default()).await;
    fill(&ledger, 20).await;
    let head = ledger.head().await.unwrap().unwrap();
    db.exec("DELETE FROM ledger_events WHERE seq > 17").await;
    // Without an anchor or checkpoint a cut tail is indistinguishable from a shorter chain…
    assert!(ledger
        .verify(&VerifyOptions::default())
        .await
        .unwrap()
        .intact());
    // … with the anchor taken before the cut, it is caught.
    let opts = VerifyOptions {
        anchor: Some((head.seq, head.hash.clone())),
        ..Default::default()
    };
    let (seq, what) = first_problem(&ledger, &opts).await;
    assert_eq!(seq, 20);
    assert!(what.contains("truncated"), "{what}");
    let on_pg = db.pg.is_some();
    db.cleanup().await;

    // A signed checkpoint beyond the cut catches it without an anchor.
    let db = match on_pg {
        false => Db::sqlite(),
        true => Db::postgres("trunc_cp").await.unwrap(),
    };
    let ledger = db
        .open(Options {
            checkpoint_key: Some(key()),
            checkpoint_every: 10,
            ..Default::default()
        })
        .await;
    for i in 0..25 {
        ledger.append(event(i)).await.unwrap();
    }
    ledger.close().await.unwrap();
    db.exec("DELETE FROM ledger_events WHERE seq > 22").await;
    let (_, what) = first_problem(&ledger, &VerifyOptions::default()).await;
    assert!(what.contains("truncated"), "{what}");
    db.cleanup().await;
}

async fn rewriting_history_breaks_the_signed_checkpoints(db: Db) {
    let ledger = db
        .open(Options {
            checkpoint_key: Some(key()),
            checkpoint_every: 10,
            ..Default::default()
        })
        .await;
    for i in 0..30 {
        ledger.append(event(i)).await.unwrap();
    }
    ledger.close().await.unwrap();
    let anchor = ledger.head().await.unwrap().unwrap();
    let cps = ledger.checkpoints().await.unwrap();
    assert!(cps.len() >= 3, "{cps:?}");
    assert!(ledger
        .verify(&VerifyOptions::default())
        .await
        .unwrap()
        .intact());

    // An attacker who knows the format edits record 12 and recomputes every hash after it.
    let records = all(&ledger).await;
    let body = "{\"decision\":\"allow\"}";
    let mut prev = records[10].hash.clone();
    let mut sql = String::new();
    for r in &records[11..] {
        let digest = if r.seq == 12 {
            sha256_hex(body.as_bytes())
        } else {
            r.body_sha256.clone()
        };
        let hash = record_hash(&prev, r.seq, &r.time, &r.kind, &r.tenant, &digest);
        if r.seq == 12 {
            sql += &format!("UPDATE ledger_events SET body = '{body}' WHERE seq = 12;");
        }
        sql += &format!(
            "UPDATE ledger_events SET body_sha256 = '{digest}', prev_hash = '{prev}', hash = '{hash}' WHERE seq = {};",
            r.seq
        );
        prev = hash;
    }
    db.exec(&sql).await;
    // Record by record the chain is consistent again; the first checkpoint after the edit is not.
    let report = ledger.verify(&VerifyOptions::default()).await.unwrap();
    assert!(!report.intact());
    let first_cp_after = cps
        .iter()
        .map(|c| c.seq)
        .filter(|&s| s >= 12)
        .min()
        .unwrap();
    assert_eq!(report.problems[0].seq, first_cp_after);
    assert!(report.problems[0].what.contains("history rewritten"));
    // So does the anchor, even with the checkpoints deleted too.
    db.exec("DELETE FROM ledger_checkpoints").await;
    assert!(ledger
        .verify(&VerifyOptions::default())
        .await
        .unwrap()
        .intact());
    let opts = VerifyOptions {
        anchor: Some((anchor.seq, anchor.hash)),
        ..Default::default()
    };
    let (seq, what) = first_problem(&ledger, &opts).await;
    assert_eq!(seq, 30);
    assert!(what.contains("anchor"), "{what}");
    db.cleanup().await;
}

async fn checkpoint_signatures_and_trust(db: Db) {
    let ledger = db
        .open(Options {
            checkpoint_key: Some(key()),
            checkpoint_every: 5,
            ..Default::default()
        })
        .await;
    for i in 0..12 {
        ledger.append(event(i)).await.unwrap();
    }
    ledger.close().await.unwrap();
    let me = checkpoint::public_hex(&key());
    let report = ledger
        .verify(&VerifyOptions {
            trusted_keys: vec![me.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(report.intact(), "{:?}", report.problems);
    assert_eq!(report.signers.get(&me), Some(&report.checkpoints));
    // Trusting someone else makes our checkpoints suspect.
    let other = checkpoint::public_hex(&guardline_ledger::SigningKey::from_bytes(&[9u8; 32]));
    let (_, what) = first_problem(
        &ledger,
        &VerifyOptions {
            trusted_keys: vec![other],
            ..Default::default()
        },
    )
    .await;
    assert!(what.contains("untrusted"), "{what}");
    // A quiet ledger still gets its head signed by the timer.
    let quiet = db
        .open(Options {
            checkpoint_key: Some(key()),
            checkpoint_every: 1_000_000,
            checkpoint_interval: Duration::from_secs(1),
            ..Default::default()
        })
        .await;
    quiet.append(event(99)).await.unwrap();
    let head = quiet.head().await.unwrap().unwrap().seq;
    // The last checkpoint (at close, just now) is well under a second old: not due on append.
    assert!(!quiet
        .checkpoints()
        .await
        .unwrap()
        .iter()
        .any(|c| c.seq == head));
    let mut signed = false;
    for _ in 0..150 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if quiet
            .checkpoints()
            .await
            .unwrap()
            .iter()
            .any(|c| c.seq == head)
        {
            signed = true;
            break;
        }
    }
    assert!(signed, "the timer never signed head {head}");
    // A forged signature is caught.
    let seq = ledger.checkpoints().await.unwrap()[0].seq;
    db.exec(&format!(
        "UPDATE ledger_checkpoints SET signature = '{}' WHERE seq = {seq}",
        "ab".repeat(64)
    ))
    .await;
    let (bad, what) = first_problem(&ledger, &VerifyOptions::default()).await;
    assert_eq!(bad, seq);
    assert!(what.contains("signature"), "{what}");
    db.cleanup().await;
}

async fn pruning_bodies_keeps_the_chain_verifiable(db: Db) {
    let ledger = db.open(Options::default()).await;
    fill(&ledger, 10).await;
    let cut = ledger.head().await.unwrap().unwrap().time;
    tokio::time::sleep(Duration::from_millis(5)).await;
    fill(&ledger, 5).await;
    // Everything strictly older than the 10th record's time: the first batch shares one time,
    // so prune with a bound just after it.
    let pruned = ledger.prune_bodies(&format!("{cut}~")).await.unwrap();
    assert_eq!(pruned, 10);
    let records = all(&ledger).await;
    assert!(records[..10].iter().all(|r| r.body.is_none()));
    assert!(records[10..].iter().all(|r| r.body.is_some()));
    let report = ledger.verify(&VerifyOptions::default()).await.unwrap();
    assert!(report.intact(), "{:?}", report.problems);
    assert_eq!(report.pruned_bodies, 10);
    assert_eq!(ledger.stats().await.unwrap().pruned_bodies, 10);
    db.cleanup().await;
}

/// Under both sync modes: with `Normal` an append commits in place when nothing is queued and
/// joins the writer's group commit otherwise, so both paths race here (with checkpoints signed
/// along the way).
async fn many_tasks_append_without_loss_or_fork(db: Db) {
    let mut base = 0;
    for sync in [
        guardline_ledger::SyncMode::Full,
        guardline_ledger::SyncMode::Normal,
    ] {
        let ledger = db
            .open(Options {
                sync,
                checkpoint_key: Some(key()),
                checkpoint_every: 50,
                ..Options::default()
            })
            .await;
        let mut tasks = Vec::new();
        for t in 0..32 {
            let ledger = ledger.clone();
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                for i in 0..60 {
                    got.push(ledger.append(event(t * 1000 + i)).await.unwrap().seq);
                }
                got
            }));
        }
        let mut seqs = Vec::new();
        for t in tasks {
            let mine = t.await.unwrap();
            // One task's appends land in the order it made them.
            assert!(mine.windows(2).all(|w| w[0] < w[1]), "{sync:?}: {mine:?}");
            seqs.extend(mine);
        }
        seqs.sort_unstable();
        assert_eq!(
            seqs,
            (base + 1..=base + 32 * 60).collect::<Vec<i64>>(),
            "{sync:?}"
        );
        base += 32 * 60;
        let report = ledger.verify(&VerifyOptions::default()).await.unwrap();
        assert!(report.intact(), "{sync:?}: {:?}", report.problems);
        assert_eq!(report.events, base);
        // A checkpoint every 50 events or so (a batch of up to 32 can overshoot).
        assert!(ledger.checkpoints().await.unwrap().len() as i64 >= base / 100);
        ledger.close().await.unwrap();
    }
    db.cleanup().await;
}

/// Starts this test binary again as an appender (see [`child`]).
fn spawn_child(spec: &str, mode: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{mode} {spec}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn acks(line: &str) -> Option<(i64, String)> {
    // libtest may print `test child ... ` in front of the first line.
    let rest = &line[line.find("ACK ")? + 4..];
    let (seq, hash) = rest.split_once(' ')?;
    Some((seq.parse().ok()?, hash.trim().to_string()))
}

async fn two_processes_share_one_chain(db: Db) {
    // Create the store first so both children find it.
    drop(db.open(Options::default()).await);
    // One appends with an fsync per commit, the other with background sync: same file, one chain.
    let children: Vec<_> = ["burst", "burst-normal"]
        .into_iter()
        .map(|mode| spawn_child(&db.spec, mode))
        .collect();
    let mut seen = HashSet::new();
    let mut total = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        for (seq, _) in String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(acks)
        {
            assert!(seen.insert(seq), "seq {seq} acknowledged twice");
            total += 1;
        }
    }
    assert_eq!(total, 2 * 8 * 150);
    let ledger = db.open(Options::default()).await;
    let report = ledger.verify(&VerifyOptions::default()).await.unwrap();
    assert!(report.intact(), "{:?}", report.problems);
    assert_eq!(report.events, total as i64);
    db.cleanup().await;
}

async fn kill_9_loses_no_acknowledged_append(db: Db) {
    killed_appender_loses_nothing(db, "forever").await
}

/// `SyncMode::Normal` acknowledges before the fsync; a killed process still loses nothing.
async fn kill_9_loses_nothing_with_normal_sync(db: Db) {
    killed_appender_loses_nothing(db, "forever-normal").await
}

async fn killed_appender_loses_nothing(db: Db, mode: &str) {
    drop(db.open(Options::default()).await);
    let mut child = spawn_child(&db.spec, mode);
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut acked = Vec::new();
    let mut line = String::new();
    while acked.len() < 1500 {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "child stopped early"
        );
        acked.extend(acks(&line));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Whatever the child managed to print before it died was acknowledged too.
    for line in reader.lines() {
        acked.extend(line.ok().as_deref().and_then(acks));
    }
    let ledger = db.open(Options::default()).await;
    let records = all(&ledger).await;
    let by_seq: std::collections::HashMap<i64, &str> =
        records.iter().map(|r| (r.seq, r.hash.as_str())).collect();
    for (seq, hash) in &acked {
        assert_eq!(
            by_seq.get(seq),
            Some(&hash.as_str()),
            "acknowledged seq {seq} lost"
        );
    }
    let report = ledger.verify(&VerifyOptions::default()).await.unwrap();
    assert!(report.intact(), "{:?}", report.problems);
    // And the chain goes on from where it was cut.
    let next = ledger.append(event(0)).await.unwrap();
    assert_eq!(next.seq, records.len() as i64 + 1);
    db.cleanup().await;
}

async fn export_filters_by_kind_and_time(db: Db) {
    let ledger = db.open(Options::default()).await;
    fill(&ledger, 4).await;
    let mid = guardline_ledger::record::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    ledger
        .append(NewEvent::new("attestation", json!({"control": "PDP-01"})))
        .await
        .unwrap();
    let only = |f: Filter| {
        let ledger = ledger.clone();
        async move {
            ledger
                .records(f)
                .map(|r| r.unwrap().seq)
                .collect::<Vec<_>>()
                .await
        }
    };
    let kind = only(Filter {
        kind: Some("attestation".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(kind, vec![5]);
    let since = only(Filter {
        since: Some(mid.clone()),
        ..Default::default()
    })
    .await;
    assert_eq!(since, vec![5]);
    let until = only(Filter {
        until: Some(mid),
        ..Default::default()
    })
    .await;
    assert_eq!(until, vec![1, 2, 3, 4]);
    let stats = ledger.stats().await.unwrap();
    assert_eq!(stats.events, 5);
    assert_eq!(
        stats.by_kind,
        vec![("attestation".into(), 1), ("exchange".into(), 4)]
    );
    db.cleanup().await;
}

/// Not a test on its own: the body of the appender processes the tests above start. Does nothing
/// unless the environment says which ledger to append to.
#[test]
fn child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (mode, spec) = spec.split_once(' ').unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let location = Location::parse(spec).unwrap();
        let sync = if mode.ends_with("-normal") {
            guardline_ledger::SyncMode::Normal
        } else {
            guardline_ledger::SyncMode::Full
        };
        let options = Options {
            sync,
            ..Options::default()
        };
        let ledger = Ledger::open(&location, options).await.unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(i64, String)>();
        let per_task = if mode.starts_with("burst") {
            150
        } else {
            usize::MAX
        };
        let mut tasks = Vec::new();
        for t in 0..8 {
            let ledger = ledger.clone();
            let tx = tx.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..per_task {
                    let r = ledger.append(event(t * 100_000 + i)).await.unwrap();
                    if tx.send((r.seq, r.hash)).is_err() {
                        return;
                    }
                }
            }));
        }
        drop(tx);
        // One printer, so acknowledgement lines never interleave.
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        while let Some((seq, hash)) = rx.recv().await {
            writeln!(out, "ACK {seq} {hash}").unwrap();
            out.flush().unwrap();
        }
    });
}
