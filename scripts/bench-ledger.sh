#!/usr/bin/env bash
# Ledger benchmarks for BENCHMARKS.md: durable appends per second on SQLite (group commit against
# one commit per append, in the same run), verify speed on 1,000,000 records (library and the
# whole `guardline audit verify` process), and PostgreSQL with one and with two writer processes.
# Usage: scripts/bench-ledger.sh [POSTGRES_URL]   (default postgres://postgres@127.0.0.1:5432/test)
set -euo pipefail
cd "$(dirname "$0")/.."
pg=${1:-postgres://postgres@127.0.0.1:5432/test}
out=bench-out/ledger
rm -rf "$out" && mkdir -p "$out"
cargo build -q --release -p guardline
cargo build -q --release -p guardline-ledger --example ledger_bench
B=target/release/examples/ledger_bench
G=target/release/guardline
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); disk: $(df -h "$out" | awk 'NR==2 {print $1}')"
echo "date: $(date -u +%F)"
echo "== SQLite (WAL, synchronous=FULL: every acknowledged append is fsynced)"
$B append "$out/group.sqlite" 100000 64
$B append "$out/group256.sqlite" 100000 256
$B append "$out/single.sqlite" 5000 64 1
$B append "$out/one-task.sqlite" 2000 1
echo "== verify 1,000,000 records"
$B fill "$out/million.sqlite" 1000000
$B verify "$out/million.sqlite"
/usr/bin/time -f "guardline audit verify (whole process): %e s, peak RSS %M KB" \
  "$G" audit verify --ledger "$out/million.sqlite" > /dev/null
echo "== PostgreSQL ($pg)"
schema=bench_ledger_$$
psql "$pg" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" 2>/dev/null || true
$B append "$pg?schema=${schema}_1" 50000 64
$B append "$pg?schema=$schema" 1 1 > /dev/null   # create the schema before two writers race
start=$(date +%s.%N)
$B append "$pg?schema=$schema" 50000 64 & a=$!
$B append "$pg?schema=$schema" 50000 64 & b=$!
wait $a $b
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "two writer processes together: 100000 events in %.2f s, %.0f events/s\n", e-s, 100000/(e-s) }'
$B verify "$pg?schema=$schema"
psql "$pg" -qc "DROP SCHEMA $schema CASCADE; DROP SCHEMA ${schema}_1 CASCADE" || true
