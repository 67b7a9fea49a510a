//! Re-walking the chain: every record's digest, hash and link, every checkpoint's signature and
//! position, and an optional anchor kept outside the ledger.

use crate::checkpoint::{self, Checkpoint};
use crate::record::{record_hash, sha256_hex, GENESIS};
use crate::store::{Backend, Filter};
use crate::{Head, LedgerError};
use futures_util::StreamExt;
use std::collections::{BTreeMap, HashMap};

/// What to check beyond the chain itself.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// `(seq, hash)` recorded outside the ledger (`guardline audit head`): the chain must reach
    /// `seq` and have `hash` there, which catches truncation and rewrites up to that point.
    pub anchor: Option<(i64, String)>,
    /// Public keys (hex) whose checkpoints are trusted. When non-empty, a checkpoint signed by any
    /// other key is a failure; when empty, signers are reported but any valid signature passes.
    pub trusted_keys: Vec<String>,
    /// Stop collecting problems after this many (0: no limit). The walk still completes.
    pub max_problems: usize,
}

/// One thing wrong, at one sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub seq: i64,
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "seq {}: {}", self.seq, self.what)
    }
}

#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    pub events: i64,
    pub head: Option<Head>,
    pub pruned_bodies: i64,
    pub checkpoints: usize,
    /// Checkpoints per signer key (hex).
    pub signers: BTreeMap<String, usize>,
    pub anchor_checked: bool,
    /// Problems in sequence order; the first names the first bad record.
    pub problems: Vec<Problem>,
    /// How many problems there were in all (may exceed `problems.len()`).
    pub problems_total: usize,
}

impl VerifyReport {
    pub fn intact(&self) -> bool {
        self.problems_total == 0
    }
}

struct Collector {
    problems: Vec<Problem>,
    total: usize,
}

impl Collector {
    fn push(&mut self, seq: i64, what: String) {
        self.total += 1;
        // A chain rewritten from its start has a problem at every record; keep memory bounded.
        if self.problems.len() < 10_000 {
            self.problems.push(Problem { seq, what });
        }
    }
}

pub(crate) async fn verify<B: Backend>(
    store: &B,
    opts: &VerifyOptions,
) -> Result<VerifyReport, LedgerError> {
    let cps: Vec<Checkpoint> = store.checkpoints().await?;
    let by_seq: HashMap<i64, &Checkpoint> = cps.iter().map(|c| (c.seq, c)).collect();
    let mut out = Collector {
        problems: Vec::new(),
        total: 0,
    };
    let mut report = VerifyReport {
        checkpoints: cps.len(),
        ..Default::default()
    };

    let mut expected = 1i64;
    let mut prev = GENESIS.to_string();
    let mut last: Option<Head> = None;
    let mut records = store.records(Filter::default());
    while let Some(rec) = records.next().await {
        let rec = rec?;
        report.events += 1;
        let mut gap = false;
        if rec.seq != expected {
            gap = true;
            if rec.seq > expected {
                let what = if rec.seq - 1 == expected {
                    format!(
                        "missing: record {expected} was deleted (the next record is {})",
                        rec.seq
                    )
                } else {
                    format!(
                        "missing: records {expected}..{} were deleted (the next record is {})",
                        rec.seq - 1,
                        rec.seq
                    )
                };
                out.push(expected, what);
            } else {
                out.push(rec.seq, format!("out of order: expected {expected}"));
            }
        }
        if !gap && rec.prev_hash != prev {
            out.push(
                rec.seq,
                format!(
                    "broken link: prev_hash is {} but record {} hashes to {} (records were \
                     reordered, replaced or rewritten)",
                    short(&rec.prev_hash),
                    rec.seq - 1,
                    short(&prev)
                ),
            );
        }
        match &rec.body {
            Some(body) if sha256_hex(body.as_bytes()) != rec.body_sha256 => out.push(
                rec.seq,
                "body altered: its SHA-256 does not match body_sha256".into(),
            ),
            Some(_) => {}
            None => report.pruned_bodies += 1,
        }
        let computed = record_hash(
            &rec.prev_hash,
            rec.seq,
            &rec.time,
            &rec.kind,
            &rec.tenant,
            &rec.body_sha256,
        );
        if computed != rec.hash {
            out.push(
                rec.seq,
                "record altered: its hash does not match its contents (seq, time, kind, tenant, \
                 body_sha256, prev_hash or hash was changed)"
                    .into(),
            );
        }
        if let Some(cp) = by_seq.get(&rec.seq) {
            if cp.hash != rec.hash {
                out.push(
                    rec.seq,
                    format!(
                        "history rewritten: the checkpoint signed at this record says {} but the \
                         chain has {}",
                        short(&cp.hash),
                        short(&rec.hash)
                    ),
                );
            }
        }
        if let Some((aseq, ahash)) = &opts.anchor {
            if *aseq == rec.seq {
                report.anchor_checked = true;
                if !ahash.eq_ignore_ascii_case(&rec.hash) {
                    out.push(
                        rec.seq,
                        format!(
                            "does not match the anchor: expected {}, found {} (history was \
                             rewritten up to here)",
                            short(ahash),
                            short(&rec.hash)
                        ),
                    );
                }
            }
        }
        expected = rec.seq + 1;
        prev = rec.hash.clone();
        last = Some(Head {
            seq: rec.seq,
            hash: rec.hash,
            time: rec.time,
        });
    }
    let end = last.as_ref().map_or(0, |h| h.seq);

    for cp in &cps {
        if let Err(why) = checkpoint::verify(cp) {
            out.push(cp.seq, format!("checkpoint {why}"));
        }
        *report.signers.entry(cp.key.clone()).or_default() += 1;
        if !opts.trusted_keys.is_empty()
            && !opts
                .trusted_keys
                .iter()
                .any(|k| k.eq_ignore_ascii_case(&cp.key))
        {
            out.push(
                cp.seq,
                format!("checkpoint signed by an untrusted key {}", short(&cp.key)),
            );
        }
        if cp.seq > end {
            out.push(
                cp.seq,
                format!(
                    "truncated: a checkpoint was signed at record {} but the chain ends at {end}",
                    cp.seq
                ),
            );
        }
    }
    if let Some((aseq, _)) = &opts.anchor {
        if *aseq > end {
            out.push(
                *aseq,
                format!("truncated: the anchor is at record {aseq} but the chain ends at {end}"),
            );
        }
    }

    out.problems.sort_by_key(|p| p.seq);
    if opts.max_problems > 0 {
        out.problems.truncate(opts.max_problems);
    }
    report.problems = out.problems;
    report.problems_total = out.total;
    report.head = last;
    Ok(report)
}

fn short(hash: &str) -> String {
    hash.get(..16).unwrap_or(hash).to_string()
}
