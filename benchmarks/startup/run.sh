#!/usr/bin/env bash
# Start-up benchmark: the published server and CLI, IL only (JIT) vs ReadyToRun, both published from this tree in this
# run and measured alternating, run by run (benchmarks/startup/RESULTS.md).
# Usage: benchmarks/startup/run.sh [RUNS]   (default 5 runs of every row)
#   SELECTORS="1000 1000000"  the stores the server rows start on: one data directory per size, seeded once through the
#                             Registry service (Benchmarks.Check seed: url selectors, 1,000 per reservation)
#   BIG_RUNS=3                runs of the `optout check -` row (the largest store's query file on stdin: as many URLs as
#                             selectors, half covered)
# Rows, each a new process per run:
#   server  from spawn to: port open, first answered CheckBatch (and that call's latency), matcher loaded (a covered URL
#           answers DISALLOWED), with the server's CPU and RSS then and the latency of the next 100 calls (probe.py).
#           Variants: jit (IL only), r2r (ReadyToRun, as published), r2r-nopgo (ReadyToRun with DOTNET_TieredPGO=0).
#   cli     `optout check URL` and `optout check -` against one running server (ReadyToRun build, largest store,
#           loaded), wall/user/system seconds and max RSS from /usr/bin/time. Variants: jit (IL only, as the CLI
#           project sets it: tiered compilation off), r2r (ReadyToRun, tiering off), r2r-tc1 (ReadyToRun with
#           DOTNET_TieredCompilation=1).
#   steady  (STEADY_RUNS, default 3; 0 skips) the server's CPU per 1,000 URLs of batch checks and per unary call at
#           10,000/s after warm-up, jit vs r2r, a new server per run (wall figures: see Benchmarks.Check/run.sh).
# Needs: the .NET 10 SDK, python3 with grpcio (Debian package python3-grpcio; PYTHON=... to choose the interpreter),
# /usr/bin/time. Wall figures on a shared machine are noisy: compare the sides' CPU and the ratios, run by run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
runs="${1:-5}"
big_runs="${BIG_RUNS:-3}"
read -r -a sizes <<<"${SELECTORS:-1000 1000000}"
port=57161
work="$(mktemp -d)"
server_pid=
trap 'kill $server_pid 2>/dev/null || true; rm -rf "$work"' EXIT

# shellcheck source=benchmarks/startup/lib.sh
. "$here/lib.sh"
py="$(grpc_python)"
rid="$(publish_rid)"
echo "== publishing both sides from this tree for $rid (framework-dependent, Release): IL only and ReadyToRun"
for side in jit r2r; do
  for project in Server Cli; do
    publish_side "$side" "$project" "$rid" "$work/$side/$project"
  done
  echo "  $side: $(du -sh "$work/$side/Server" | cut -f1) server, $(du -sh "$work/$side/Cli" | cut -f1) cli"
done
dotnet build -c Release "$root/benchmarks/OptOutRegistry.Benchmarks.Check" -nologo -v q >/dev/null
bench="dotnet $root/benchmarks/OptOutRegistry.Benchmarks.Check/bin/Release/net10.0/OptOutRegistry.Benchmarks.Check.dll"

wait_port() { for _ in $(seq 600); do (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
start_server() { # dll data-dir [env...]
  local dll="$1" data="$2"; shift 2
  env "$@" dotnet "$dll" --urls "http://127.0.0.1:$port" --http-urls none --data-dir "$data" \
    --check-rate-limit-per-address 0 --Logging:LogLevel:Default=Warning >>"$work/server.log" 2>&1 &
  server_pid=$!
  wait_port
}
stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=; }

for n in "${sizes[@]}"; do
  echo "== seeding a store of $n url selectors"
  start_server "$work/r2r/Server/optout-server.dll" "$work/store-$n"
  $bench seed --server "http://127.0.0.1:$port" --selectors "$n" --queries "$work/queries-$n.txt"
  stop_server
done
# The seeder's first covered URL (Seed.Covered(0)): in every store, disallowed for train-ai.
covered="https://www.site0.example/gallery/0/image-0.jpg"

results="$work/results.tsv"
echo "== server start-up: spawn -> port open -> first answer -> matcher loaded (ms), alternating jit / r2r / r2r-nopgo"
for n in "${sizes[@]}"; do
  for run in $(seq "$runs"); do
    for variant in jit r2r r2r-nopgo; do
      side=${variant%%-*}
      envs=(); [[ "$variant" == r2r-nopgo ]] && envs=(DOTNET_TieredPGO=0)
      line=$(env "${envs[@]}" "$py" "$here/probe.py" "$port" "$covered" -- dotnet "$work/$side/Server/optout-server.dll" \
        --urls "http://127.0.0.1:$port" --http-urls none --data-dir "$work/store-$n" --check-rate-limit-per-address 0 \
        --Logging:LogLevel:Default=Warning)
      printf 'server\t%s\t%s\t%s\n' "$n" "$variant" "$line" | tee -a "$results"
      sleep 1
    done
  done
done

largest="${sizes[-1]}"
echo "== CLI against one loaded server (ReadyToRun, $largest selectors), alternating jit / r2r / r2r-tc1"
start_server "$work/r2r/Server/optout-server.dll" "$work/store-$largest"
until dotnet "$work/r2r/Cli/optout.dll" check --server "http://127.0.0.1:$port" --purpose train-ai "$covered" 2>/dev/null | grep -q DISALLOWED; do
  sleep 0.5
done
cli_run() { # variant row input-file
  local variant="$1" row="$2" input="$3" side envs=()
  side=${variant%%-*}
  [[ "$variant" == r2r-tc1 ]] && envs=(DOTNET_TieredCompilation=1)
  local args=(check --server "http://127.0.0.1:$port" --purpose train-ai)
  if [[ "$row" == single ]]; then args+=("https://example.com/a"); else args+=(-); fi
  local times
  times=$( { env "${envs[@]}" /usr/bin/time -f '%e %U %S %M' dotnet "$work/$side/Cli/optout.dll" "${args[@]}" <"$input" >"$work/cli.out"; } 2>&1 | tail -1)
  read -r wall user sys rss <<<"$times"
  printf 'cli\t%s\t%s\twall_s=%s\tuser_s=%s\tsys_s=%s\tmax_rss_mb=%s\tlines=%s\n' "$row" "$variant" "$wall" "$user" "$sys" \
    "$((rss / 1024))" "$(wc -l <"$work/cli.out")" | tee -a "$results"
}
for run in $(seq "$runs"); do
  for variant in jit r2r r2r-tc1; do cli_run "$variant" single /dev/null; done
done
for run in $(seq "$big_runs"); do
  for variant in jit r2r r2r-tc1; do cli_run "$variant" "check-$largest" "$work/queries-$largest.txt"; done
done
stop_server

# Steady state: ReadyToRun must not cost the running server anything (tiering re-jits hot code). Per run and side: a
# new server on the largest store, loaded, warmed by a 3 s batch run; then the server's CPU over an 8 s batch run
# (1,000 URLs per call, 4 in flight) and an 8 s lean unary run at 10,000 calls/s (Benchmarks.Check).
steady_runs="${STEADY_RUNS:-3}"
ticks=$(getconf CLK_TCK)
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }
field() { sed -n "s/.*[[:space:]]$1=\([0-9.]*\).*/\1/p" | head -1; }
[[ "$steady_runs" != 0 ]] && echo "== steady state on the $largest-selector store: server CPU per 1,000 batch URLs and per unary call, alternating jit / r2r"
for run in $(seq "$steady_runs"); do
  for side in jit r2r; do
    start_server "$work/$side/Server/optout-server.dll" "$work/store-$largest"
    until dotnet "$work/r2r/Cli/optout.dll" check --server "http://127.0.0.1:$port" --purpose train-ai "$covered" 2>/dev/null | grep -q DISALLOWED; do
      sleep 0.5
    done
    url="http://127.0.0.1:$port"
    $bench batch --server "$url" --queries "$work/queries-$largest.txt" --seconds 3 --concurrency 4 >/dev/null
    before=$(cpu_of "$server_pid")
    out=$($bench batch --server "$url" --queries "$work/queries-$largest.txt" --seconds 8 --concurrency 4 | tail -1)
    after=$(cpu_of "$server_pid")
    urls=$(field urls <<<"$out"); rate=$(field urls_per_s <<<"$out")
    batch_cpu=$(python3 -c "import sys; print(f'{(int(sys.argv[2]) - int(sys.argv[1])) / int(sys.argv[3]) / int(sys.argv[4]) * 1e9:.0f}')" "$before" "$after" "$ticks" "$urls")
    before=$(cpu_of "$server_pid")
    out=$($bench lean --server "$url" --queries "$work/queries-$largest.txt" --seconds 8 --rate 10000 | grep -m1 '^lean')
    after=$(cpu_of "$server_pid")
    calls=$(field calls <<<"$out")
    unary_cpu=$(python3 -c "import sys; print(f'{(int(sys.argv[2]) - int(sys.argv[1])) / int(sys.argv[3]) / int(sys.argv[4]) * 1e6:.1f}')" "$before" "$after" "$ticks" "$calls")
    printf 'steady	%s	%s	batch_urls_per_s=%s	batch_server_cpu_us_per_1000=%s	unary_server_cpu_us_per_call=%s	unary_p50_ms=%s	unary_p99_ms=%s
' \
      "$largest" "$side" "$rate" "$batch_cpu" "$unary_cpu" "$(field p50_ms <<<"$out")" "$(field p99_ms <<<"$out")" | tee -a "$results"
    stop_server
  done
done

echo "== medians (min-max) per row and variant"
"$py" - "$results" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    kind, row, variant, *fields = line.rstrip('\n').split('\t')
    for field in fields:
        key, value = field.split('=')
        rows[(kind, row, variant)][key].append(float(value))
for (kind, row, variant), figures in rows.items():
    keys = [k for k in figures if k not in ('lines', 'next100_max_ms')]
    fmt = lambda x: f'{x:.0f}' if abs(x) >= 1000 else f'{x:g}'
    text = '\t'.join(f'{k}={fmt(statistics.median(v))} ({fmt(min(v))}-{fmt(max(v))})' for k, v in ((k, figures[k]) for k in keys))
    print(f'{kind}\t{row}\t{variant}\tn={len(next(iter(figures.values())))}\t{text}')
PY
