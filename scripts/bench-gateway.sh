#!/usr/bin/env bash
# Gateway benchmarks for BENCHMARKS.md: added latency of `guardline serve` (default policy, 4 KB
# chat requests holding personal data) against calling the mock upstream directly, at 1,000 req/s
# and at the highest rate this machine sustains; added time to first token when streaming; memory
# under load; and the floor: a bare proxy on the same HTTP stack (`bare-proxy`: forwards bytes, no
# checks, no ledger). Needs `oha` (cargo install oha). Usage: scripts/bench-gateway.sh [SECONDS]
# Environment: GUARDLINE_BIN (another guardline binary, e.g. a baseline build), LEDGER_SYNC
# (`full` or `normal`, written to [ledger] sync; unset: the default, normal), TTFT=0 (skip the
# time-to-first-token runs).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
out=bench-out/gateway
rm -rf "$out" && mkdir -p "$out/data"
command -v oha >/dev/null || { echo "needs oha: cargo install oha" >&2; exit 2; }
cargo build -q --release -p guardline -p mock-upstream
G=${GUARDLINE_BIN:-target/release/guardline}
M=target/release/mock-upstream
T=target/release/ttft
P=target/release/bare-proxy
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "date: $(date -u +%F); oha $(oha --version | awk '{print $2}')"

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT
$M 127.0.0.1:9100 0 2>/dev/null & pids+=($!)
$M 127.0.0.1:9101 20 2>/dev/null & pids+=($!)
# The floor: the same HTTP stack forwarding bytes, with no checks and no ledger.
$P 127.0.0.1:9300 http://127.0.0.1:9100/v1 2>/dev/null & pids+=($!)
cat > "$out/guardline.toml" <<TOML
[upstream]
url = "http://127.0.0.1:9100/v1"
[[routes]]
models = ["slow-*"]
url = "http://127.0.0.1:9101/v1"
TOML
if [ -n "${LEDGER_SYNC:-}" ]; then printf '[ledger]\nsync = "%s"\n' "$LEDGER_SYNC" >> "$out/guardline.toml"; fi
echo "guardline: $G, ledger sync: ${LEDGER_SYNC:-default}"
GUARDLINE_DATA_DIR="$out/data" $G serve --config "$out/guardline.toml" --listen 127.0.0.1:9200 2>"$out/serve.log" & gw=$!
pids+=($gw)
for _ in $(seq 1 50); do curl -sf http://127.0.0.1:9200/healthz >/dev/null && break; sleep 0.1; done

python3 scripts/gateway-request.py "$out/request.json"

load() { # label url rate|max
  local args=(-z "${secs}s" --no-tui --output-format json -m POST -H "content-type: application/json" -D "$out/request.json")
  if [ "$3" = max ]; then args+=(-c 32); else args+=(-q "$3" -c 64 --latency-correction); fi
  oha "${args[@]}" "$2" > "$out/oha.json"
  python3 - "$1" "$out/oha.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[2]))
p = r["latencyPercentiles"]; s = r["summary"]
codes = r.get("statusCodeDistribution", {})
print(f"{sys.argv[1]:<34} {s['requestsPerSec']:8.0f} req/s  p50 {p['p50']*1e3:7.3f} ms  p99 {p['p99']*1e3:7.3f} ms  success {s['successRate']*100:.1f}%  {codes}")
PY
}
echo "== added latency, 4 KB chat completions (non-streamed), ${secs} s each"
load "direct to mock, 1000 req/s" http://127.0.0.1:9100/v1/chat/completions 1000
load "through bare proxy, 1000 req/s" http://127.0.0.1:9300/v1/chat/completions 1000
load "through guardline, 1000 req/s" http://127.0.0.1:9200/v1/chat/completions 1000
load "direct to mock, max" http://127.0.0.1:9100/v1/chat/completions max
load "through bare proxy, max" http://127.0.0.1:9300/v1/chat/completions max
load "through guardline, max" http://127.0.0.1:9200/v1/chat/completions max
echo "guardline peak RSS after load: $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' /proc/$gw/status)"
if [ "${TTFT:-1}" != 0 ]; then
echo "== time to first token, streamed (mock sends a word every 20 ms)"
$T http://127.0.0.1:9101/v1/chat/completions 50 slow-mock
$T http://127.0.0.1:9200/v1/chat/completions 50 slow-mock
fi
echo "== ledger after the run"
GUARDLINE_DATA_DIR="$out/data" $G audit stats | head -3
