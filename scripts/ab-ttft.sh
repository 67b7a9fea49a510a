#!/usr/bin/env bash
# A/B time to first token of gateway binaries on this machine's noise: a mock upstream that sends
# a word every 20 ms; each round starts every binary afresh (in turn, the order reversed every
# other round) and runs `ttft` 30 streams direct to the mock and 30 through the gateway, back to
# back, so each binary's added time is read against a direct run made seconds before it.
# Prints per round and binary: added first event and added first content token (p50).
# Usage: scripts/ab-ttft.sh ROUNDS BIN...   (builds the mock; a round takes ~100 s per binary)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=$1; shift
out=bench-out/ab-ttft && rm -rf "$out" && mkdir -p "$out"
cargo build -q --release -p mock-upstream
T=target/release/ttft
pids=(); cleanup() { kill "${pids[@]}" 2>/dev/null || true; }; trap cleanup EXIT
target/release/mock-upstream 127.0.0.1:9142 20 2>/dev/null & pids+=($!)
printf '[upstream]\nurl = "http://127.0.0.1:9142/v1"\n' > "$out/guardline.toml"
sleep 0.3
p50() { # field of ttft's line: "first event" or "first content token"
  sed -n "s/.*$1 p50 \([0-9.]*\) ms.*/\1/p"
}
bins=("$@")
for r in $(seq 1 "$rounds"); do
  order=("${bins[@]}")
  if [ $((r % 2)) = 0 ]; then order=(); for ((i=${#bins[@]}-1; i>=0; i--)); do order+=("${bins[$i]}"); done; fi
  for bin in "${order[@]}"; do
    GUARDLINE_DATA_DIR="$out/data-$r-$(basename "$bin")" "$bin" serve --config "$out/guardline.toml" \
      --listen 127.0.0.1:9251 2>/dev/null & gw=$!
    for _ in $(seq 1 100); do curl -sf http://127.0.0.1:9251/healthz >/dev/null && break; sleep 0.1; done
    direct=$($T http://127.0.0.1:9142/v1/chat/completions 30 slow-mock)
    via=$($T http://127.0.0.1:9251/v1/chat/completions 30 slow-mock)
    kill -INT $gw; wait $gw 2>/dev/null || true
    python3 - "$r" "$bin" \
      "$(p50 'first event' <<<"$direct")" "$(p50 'first event' <<<"$via")" \
      "$(p50 'first content token' <<<"$direct")" "$(p50 'first content token' <<<"$via")" <<'PY'
import sys
r, b, de, ve, dt, vt = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:])
print(f"round {r} {b:<32} added first event p50 {ve - de:+.3f} ms | first content token p50 {vt - dt:+.3f} ms (direct {dt:.3f} ms)")
PY
  done
done
