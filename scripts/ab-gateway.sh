#!/usr/bin/env bash
# A/B comparison of gateway binaries at 1,000 req/s on this machine's noise: the binaries take
# turns, ROUNDS times, each for SECONDS, against one mock upstream; every turn prints oha's p50/p99
# and the gateway's own share from its /metrics histograms (time added in process, ledger append),
# beside what a bare proxy on the same HTTP stack adds (`bare-proxy`: the floor).
# Usage: scripts/ab-gateway.sh SECONDS ROUNDS BIN...   (needs oha; run scripts/bench-gateway.sh once
# first, or any build of target/release/mock-upstream)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=$1 rounds=$2; shift 2
out=bench-out/ab && rm -rf "$out" && mkdir -p "$out"
M=target/release/mock-upstream
python3 scripts/gateway-request.py "$out/request.json" >/dev/null
pids=(); cleanup() { kill "${pids[@]}" 2>/dev/null || true; }; trap cleanup EXIT
$M 127.0.0.1:9110 0 2>/dev/null & pids+=($!)
# The floor: the same HTTP stack forwarding bytes, with no checks and no ledger.
target/release/bare-proxy 127.0.0.1:9310 http://127.0.0.1:9110/v1 2>/dev/null & pids+=($!)
sleep 0.3
q() { # quantile from a prometheus histogram: metric-name q
  python3 -c '
import sys, re
name, q = sys.argv[1], float(sys.argv[2])
b = [(float("inf") if m.group(1) == "+Inf" else float(m.group(1)), float(m.group(2)))
     for m in (re.search(r"le=\"([^\"]+)\".* (\S+)$", l) for l in sys.stdin if l.startswith(name + "_bucket")) if m]
tot = b[-1][1]; lo_le, lo_c = 0.0, 0.0
for le, c in b:
    if c >= q * tot:
        f = (q * tot - lo_c) / max(c - lo_c, 1e-9)
        print(f"{(lo_le + f * (le - lo_le)) * 1e3:.3f}"); break
    lo_le, lo_c = le, c' "$1" "$2"
}
for r in $(seq 1 "$rounds"); do
  for bin in "$@"; do
    rm -rf "$out/data"
    GUARDLINE_DATA_DIR="$out/data" $bin serve --upstream http://127.0.0.1:9110/v1 --listen 127.0.0.1:9210 2>"$out/serve.log" & gw=$!
    for _ in $(seq 1 50); do curl -sf http://127.0.0.1:9210/healthz >/dev/null && break; sleep 0.1; done
    oha -z "${secs}s" --no-tui --output-format json -m POST -H "content-type: application/json" -D "$out/request.json" -q 1000 -c 64 --latency-correction http://127.0.0.1:9110/v1/chat/completions > "$out/direct.json"
    oha -z "${secs}s" --no-tui --output-format json -m POST -H "content-type: application/json" -D "$out/request.json" -q 1000 -c 64 --latency-correction http://127.0.0.1:9310/v1/chat/completions > "$out/bare.json"
    oha -z "${secs}s" --no-tui --output-format json -m POST -H "content-type: application/json" -D "$out/request.json" -q 1000 -c 64 --latency-correction http://127.0.0.1:9210/v1/chat/completions > "$out/gw.json"
    curl -s http://127.0.0.1:9210/metrics > "$out/metrics.txt"
    kill $gw; wait $gw 2>/dev/null || true
    python3 - "$r" "$bin" "$out/direct.json" "$out/gw.json" "$out/bare.json" \
      "$(q guardline_added_seconds 0.5 < "$out/metrics.txt")" "$(q guardline_added_seconds 0.99 < "$out/metrics.txt")" \
      "$(q guardline_ledger_append_seconds 0.5 < "$out/metrics.txt")" <<'PY'
import json, sys
r, b, d, g, f = sys.argv[1:6]
d, g, f = (json.load(open(x))["latencyPercentiles"] for x in (d, g, f))
print(f"round {r} {b:<32} added p50 {(g['p50']-d['p50'])*1e3:6.3f} p99 {(g['p99']-d['p99'])*1e3:6.3f} ms"
      f" | bare proxy p50 {(f['p50']-d['p50'])*1e3:6.3f} p99 {(f['p99']-d['p99'])*1e3:6.3f} ms"
      f" | in process p50 {sys.argv[6]} p99 {sys.argv[7]} ms, ledger p50 {sys.argv[8]} ms")
PY
  done
done
