#!/usr/bin/env bash
# Load run for the gRPC transport (issue 2 item 8). Starts ONE Kestrel h2c server that serves, side by side,
# our gRPC layer (/optout.interop.v1.InteropTest/UnaryEcho, /Bidi) and a bare Kestrel endpoint doing the same
# protobuf work without it (/bare/UnaryEcho, /bare/Bidi); drives both with h2load (Debian: nghttp2-client),
# alternating ours/bare ROUNDS times, then measures our own client, on its own HTTP/2 transport (the default) and on
# HttpClient, against a bare HttpClient client the same way.
#
# Besides req/s it reports the server's CPU time per request (utime+stime from /proc/<pid>/stat), which stays
# meaningful when the machine is shared and wall-clock throughput is noisy.
#
# Usage: benchmarks/OptOutRegistry.Benchmarks.Grpc/run-load.sh [seconds-per-run] [rounds]
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER_RUN="${1:-5}"
ROUNDS="${2:-3}"
PORT="${PORT:-5199}"
WORK="$(mktemp -d)"
trap 'kill "$SERVER_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

command -v h2load >/dev/null || { echo "h2load not found: apt-get install nghttp2-client" >&2; exit 1; }
dotnet build -c Release -v quiet -nologo . >/dev/null
BIN="bin/Release/net10.0/OptOutRegistry.Benchmarks.Grpc"
"$BIN" bodies "$WORK" >/dev/null
"$BIN" server "$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 50); do grep -q listening "$WORK/server.log" 2>/dev/null && break; sleep 0.2; done
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }

# run <label> <path> <body> <h2load args...>: prints req/s and server CPU microseconds per request.
run() {
  local label="$1" path="$2" body="$3"; shift 3
  local before after out rps done_reqs
  before=$(cpu_ticks)
  out=$(h2load "$@" -D "$SECONDS_PER_RUN" --warm-up-time 1 -d "$body" \
        -H 'content-type: application/grpc' -H 'te: trailers' "http://127.0.0.1:$PORT$path" 2>&1)
  after=$(cpu_ticks)
  rps=$(echo "$out" | sed -n 's/^finished in .*s, \([0-9.]*\) req\/s.*/\1/p')
  done_reqs=$(echo "$out" | sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p')
  echo "$out" | grep -q ' 0 failed' || { echo "h2load reported failures for $label:"; echo "$out"; }
  awk -v l="$label" -v r="$rps" -v n="$done_reqs" -v b="$before" -v a="$after" -v t="$CLK_TCK" \
    'BEGIN { printf "%-34s %10.0f req/s   server CPU %6.1f us/req\n", l, r, (n > 0 ? (a - b) / t * 1e6 / n : 0) }'
}

echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  cores: $(nproc)  load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
  echo "--- round $round"
  run "ours unary -c 4 -m 32"  /optout.interop.v1.InteropTest/UnaryEcho "$WORK/unary.bin" -c 4 -m 32
  run "bare unary -c 4 -m 32"  /bare/UnaryEcho "$WORK/unary.bin" -c 4 -m 32
  run "ours unary -c 1 -m 1"   /optout.interop.v1.InteropTest/UnaryEcho "$WORK/unary.bin" -c 1 -m 1
  run "bare unary -c 1 -m 1"   /bare/UnaryEcho "$WORK/unary.bin" -c 1 -m 1
  # Each bidi request carries 100 messages and gets 100 back: messages/s = 100 x req/s.
  run "ours bidi x100 -c 4 -m 8" /optout.interop.v1.InteropTest/Bidi "$WORK/bidi.bin" -c 4 -m 8
  run "bare bidi x100 -c 4 -m 8" /bare/Bidi "$WORK/bidi.bin" -c 4 -m 8
done
# Our client (own HTTP/2 transport, then HttpClient) against a bare HttpClient doing the same work (/bare/* endpoints),
# alternating in one process: calls/s, the client's own CPU time per call and bytes allocated per call, with the ratios.
echo "--- clients: ours on own HTTP/2, ours on HttpClient (our layer) vs bare HttpClient (/bare endpoints), same server"
"$BIN" client-unary "http://127.0.0.1:$PORT" 128 "$SECONDS_PER_RUN" 4 "$ROUNDS"
"$BIN" client-unary "http://127.0.0.1:$PORT" 16 "$SECONDS_PER_RUN" 2 "$ROUNDS"
"$BIN" client-unary "http://127.0.0.1:$PORT" 1 "$SECONDS_PER_RUN" 1 "$ROUNDS"
"$BIN" client-bidi "http://127.0.0.1:$PORT" 4 "$SECONDS_PER_RUN" "$ROUNDS"
