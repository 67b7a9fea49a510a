#!/usr/bin/env bash
# Instructions per exchange of `guardline serve` (default policy, the 4 KB chat request of
# scripts/bench-gateway.sh, non-streamed), counted by valgrind's callgrind: the same count for the
# same binary and request whatever else the machine is doing, so it compares binaries where
# wall-clock A/B runs drown in this VM's noise. It counts work, not waiting: a change that only
# saves a thread hand-off or a syscall's latency does not show here (use scripts/ab-gateway.sh).
# Each binary serves WARM exchanges first (lazy DFA caches, connection pool), then N counted ones,
# one at a time; prints the total per exchange and the gateway's own parts.
# STREAM=1 counts streamed replies instead: `ttft` against a mock that sends 62 events 20 ms apart,
# N+10 streams counted after 12 to warm; prints instructions per stream and its parts.
# Usage: scripts/profile-gateway.sh N BIN...   (needs valgrind and oha; builds the mock upstream)
set -euo pipefail
cd "$(dirname "$0")/.."
n=$1; shift
warm=${WARM:-100}
out=bench-out/profile && rm -rf "$out" && mkdir -p "$out"
command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 2; }
command -v oha >/dev/null || { echo "needs oha: cargo install oha" >&2; exit 2; }
stream=${STREAM:-0}
cargo build -q --release -p mock-upstream
python3 scripts/gateway-request.py "$out/request.json" >/dev/null
pids=(); cleanup() { kill "${pids[@]}" 2>/dev/null || true; }; trap cleanup EXIT
target/release/mock-upstream 127.0.0.1:9140 0 2>/dev/null & pids+=($!)
target/release/mock-upstream 127.0.0.1:9141 20 2>/dev/null & pids+=($!)
printf '[upstream]\nurl = "http://127.0.0.1:9140/v1"\n[[routes]]\nmodels = ["slow-*"]\nurl = "http://127.0.0.1:9141/v1"\n' > "$out/guardline.toml"
post() {
  if [ "$stream" = 1 ]; then # ttft runs 10 more than asked, to warm its connections
    target/release/ttft http://127.0.0.1:9240/v1/chat/completions "$(( $1 > 10 ? $1 - 10 : 1 ))" slow-mock >/dev/null && echo "100.00%"
  else
    oha -n "$1" -c 1 --no-tui -m POST -H "content-type: application/json" -D "$out/request.json" http://127.0.0.1:9240/v1/chat/completions | awk '/Success rate/ {print $3}'
  fi
}
if [ "$stream" = 1 ]; then warm=${WARM:-12}; fi
for bin in "$@"; do
  name=$(basename "$bin")
  GUARDLINE_DATA_DIR="$out/data-$name" valgrind --tool=callgrind --callgrind-out-file="$out/$name.cg" \
    "$bin" serve --config "$out/guardline.toml" --listen 127.0.0.1:9240 2>"$out/$name.log" & vg=$!
  for _ in $(seq 1 240); do curl -sf http://127.0.0.1:9240/healthz >/dev/null && break; sleep 0.5; done
  post "$warm" >/dev/null
  callgrind_control -z "$vg" >/dev/null 2>&1
  ok=$(post "$n")
  callgrind_control -d "$vg" >/dev/null 2>&1
  kill -INT "$vg"; wait "$vg" 2>/dev/null || true
  dump=$(ls "$out/$name.cg".* | sort -V | head -1)
  callgrind_annotate --inclusive=yes --threshold=100 --auto=no "$dump" > "$out/$name.txt" 2>/dev/null
  python3 - "$name" "$n" "$ok" "$out/$name.txt" "$stream" <<'PY'
import re, sys
name, n, ok, path, stream = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5] == "1"
cost = {}
total = 0
for line in open(path):
    if "PROGRAM TOTALS" in line:
        total = int(line.split()[0].replace(",", ""))
        continue
    m = re.match(r"\s*([\d,]+) .*?:(\S+)", line)
    if not m:
        continue
    c = int(m.group(1).replace(",", ""))
    cost[m.group(2)] = max(cost.get(m.group(2), 0), c)
if stream:
    n = max(n, 11)  # ttft ran max(N - 10, 1) + 10 streams
parts = [
    ("checks (request)", "guardline_gateway::guard::Guard::request"),
    ("checks (reply)", "guardline_gateway::guard::Guard::response"),
    ("scanning (both checks)", "guardline_detect::engine::Engine::scan_inner"),
    ("parsing the request", "guardline_gateway::server::parse_json"),
    ("upstream call", "guardline_gateway::upstream::Upstream::call::{{closure}}"),
    ("recording (ledger)", "guardline_gateway::server::commit::{{closure}}"),
]
if stream:
    parts[1:2] = [
        ("relayed events", "guardline_gateway::server::relay::Relay::event"),
        ("stream guard", "guardline_gateway::stream::StreamGuard::push"),
        ("SSE parsing", "eventsource_stream::event_stream::parse_event"),
    ]
    parts[-1] = ("recording (ledger)", "guardline_gateway::server::relay::append::{{closure}}")
unit = "stream" if stream else "exchange"
print(f"{name}: {total / n:,.0f} instructions per {unit} ({n} {unit}s, success {ok})")
for label, fn in parts:
    print(f"  {label:<24} {cost.get(fn, 0) / n:>10,.0f}")
PY
done
