#!/usr/bin/env bash
# Warm-up benchmark (round eight): the first check of a fresh connection right after the server says it is ready, with
# --warm-up on vs off, JIT (IL only) and ReadyToRun builds published from this tree, measured alternating run by run
# (benchmarks/startup/RESULTS.md, round eight). "Ready" is the health service answering SERVING, polled as a load
# balancer would; each figure is from first_check.py.
# Usage: benchmarks/startup/warm-up.sh [RUNS]   (default 5 runs of every variant)
#   SMALL=1000          selectors of the small store, seeded once through the Registry service (Benchmarks.Check seed)
#   BIG_STORE=DIR       a data directory of a larger store (e.g. a 1 M-selector store seeded by Benchmarks.Check): copied
#                       into the run's temp directory, never written; its covered URL must be COVERED (below)
#   COVERED=URL         the covered URL (default: the Benchmarks.Check seeder's first, DISALLOWED for train-ai)
#   BUILDS="jit r2r"    which builds to measure
#   READY_BY=log        "ready" is the server's log line instead of health SERVING, and nothing calls the server before
#                       the first check (a caller without a load balancer's health probes; see first_check.py)
# Needs: the .NET 10 SDK, python3 with grpcio (Debian package python3-grpcio; PYTHON=... to choose the interpreter).
# Wall figures on a shared machine are noisy: compare the two sides run by run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
runs="${1:-5}"
small="${SMALL:-1000}"
read -r -a builds <<<"${BUILDS:-jit r2r}"
covered="${COVERED:-https://www.site0.example/gallery/0/image-0.jpg}"
port=57171
http_port=57172
work="$(mktemp -d)"
server_pid=
trap 'kill $server_pid 2>/dev/null || true; rm -rf "$work"' EXIT

# shellcheck source=benchmarks/startup/lib.sh
. "$here/lib.sh"
py="$(grpc_python)"
rid="$(publish_rid)"
echo "== publishing the server from this tree for $rid (framework-dependent, Release): ${builds[*]}"
for side in "${builds[@]}"; do
  publish_side "$side" Server "$rid" "$work/$side"
done

stores=(small)
echo "== seeding a store of $small url selectors"
dotnet build -c Release "$root/benchmarks/OptOutRegistry.Benchmarks.Check" -nologo -v q >/dev/null
dotnet "$work/${builds[-1]}/optout-server.dll" --urls "http://127.0.0.1:$port" --http-urls none --data-dir "$work/store-small" \
  --check-rate-limit-per-address 0 --Logging:LogLevel:Default=Warning >>"$work/seed.log" 2>&1 &
server_pid=$!
for _ in $(seq 600); do (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
dotnet "$root/benchmarks/OptOutRegistry.Benchmarks.Check/bin/Release/net10.0/OptOutRegistry.Benchmarks.Check.dll" seed \
  --server "http://127.0.0.1:$port" --selectors "$small" --queries "$work/queries-small.txt" >/dev/null
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
if [[ -n "${BIG_STORE:-}" ]]; then
  echo "== copying $BIG_STORE"
  mkdir -p "$work/store-big"
  cp "$BIG_STORE"/registry.db "$BIG_STORE"/search.db "$BIG_STORE"/transparency-signing-key.pem "$BIG_STORE"/admin-key "$work/store-big/"
  stores+=(big)
fi

results="$work/results.tsv"
echo "== ready -> first check of a fresh connection, alternating warm-up off / on per build"
for store in "${stores[@]}"; do
  for run in $(seq "$runs"); do
    for side in "${builds[@]}"; do
      for warm in off on; do
        line=$("$py" "$here/first_check.py" "$port" "$http_port" "$covered" -- dotnet "$work/$side/optout-server.dll" \
          --urls "http://127.0.0.1:$port" --http-urls "http://127.0.0.1:$http_port" --data-dir "$work/store-$store" \
          --check-rate-limit-per-address 0 --warm-up "$warm" \
          --Logging:LogLevel:Default=Warning --Logging:LogLevel:OptOutRegistry.Server.Warmup=Information --Logging:LogLevel:OptOutRegistry.Server.Matching=Information)
        printf '%s\t%s\twarm-up-%s\t%s\n' "$store" "$side" "$warm" "$line" | tee -a "$results"
        sleep 1
      done
    done
  done
done

echo "== medians (min-max) per store, build and warm-up"
"$py" - "$results" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    store, side, warm, *fields = line.rstrip('\n').split('\t')
    for field in fields:
        key, value = field.split('=')
        rows[(store, side, warm)][key].append(float(value))
for (store, side, warm), figures in rows.items():
    text = '\t'.join(f'{k}={statistics.median(v):g} ({min(v):g}-{max(v):g})' for k, v in figures.items())
    print(f'{store}\t{side}\t{warm}\tn={len(figures["ready_ms"])}\t{text}')
PY
