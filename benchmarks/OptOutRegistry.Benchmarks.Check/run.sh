#!/usr/bin/env bash
# Check-service load benchmark, side by side with Redis in ONE run (issue 7 item 7).
# Usage: benchmarks/OptOutRegistry.Benchmarks.Check/run.sh [SELECTORS]   (default 1000000)
#   SECONDS_PER_RUN=S  length of each timed mode (default 10)
#   BASE=DIR           a checkout of older code, already built (dotnet build -c Release
#                      benchmarks/OptOutRegistry.Benchmarks.Check in DIR): its server is seeded the same way and measured
#                      in the same run, mode by mode alternating with this tree's, by the same clients (before/after);
#                      its own unary generator is run too.
# Needs: dotnet 10 SDK, redis-server and redis-cli (Debian package redis-server), h2load (nghttp2-client), python3.
# Every mode prints the server's CPU time (utime+stime from /proc) and context switches next to its rate; clients print
# their own CPU. Unary latency at an offered 10,000 calls/s comes from three clients: `lean` (one thread, one HTTP/2
# connection, paced by ppoll, latency from each call's due time: the figure for issue 7's target), `unary` (our
# GrpcChannel) and `single` (the SDK's CheckUrlAsync), each run with nothing else attached. `lean+watch` repeats the lean
# run with an EventPipe watcher (a separate process, attached and settled before the run) to show what the server did
# meanwhile (server_gc: collections, pause total/max, bytes allocated per call; server_requests: Kestrel's own request
# time, headers parsed to response complete); the watcher costs CPU on the same cores, so its latencies are not quoted.
# h2load --rps 10000 runs too, as an independent C client: note that h2load's rate timer fires at most every 10 ms and
# sends the calls due meanwhile together (bursts of ~100), and it counts latency from each request's submission, so its
# percentiles describe 100-call bursts, not an even 10,000 calls/s (RESULTS.md, round five; the row prints how bunched
# its starts were).
#   LEAN_SECONDS=S     length of the `lean` rows, the figure for issue 7's p99 target (default 30)
# The platform: before anything starts, a hiccup meter (real-time thread per CPU sleeping 1 ms) measures how often the
# idle machine itself fails to run a thread on time, and for how long every CPU is stalled at once (the whole VM
# paused); the `lean` rows run the same meter and say how many of their calls over 2 ms were in flight during such a
# machine stall (of_them_in_machine_stalls) and the percentiles of the calls that were not (RESULTS.md, round six).
#   KEEP_AWAKE_VARIANT=0  skip the part that restarts this tree's server with --keep-cpus-awake 1s (docs/latency.md)
#                      and repeats the lean, lean-hedged and batch modes against it
#   KEEP_AWAKE_METHOD=auto  that server's --keep-cpus-awake-method: auto (pm-qos where /dev/cpu_dma_latency is writable,
#                      as for root here, else spin), pm-qos or spin
#   GC_VARIANT=0       skip the last part, which restarts this tree's server with .NET's default GC setting, DATAS on
#                      (DOTNET_GCDynamicAdaptationMode=1; the server project turns it off), and repeats the unary and
#                      batch modes against it
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
n="${1:-1000000}"
work="$(mktemp -d)"
grpc_port=57051
base_port=57052
redis_port=57379
seconds="${SECONDS_PER_RUN:-10}"
lean_seconds="${LEAN_SECONDS:-30}"
base="${BASE:-}"
trap 'kill ${server_pid:-} ${base_pid:-} ${redis_pid:-} 2>/dev/null || true; rm -rf "$work"' EXIT

dotnet build -c Release "$here" -v q -nologo >/dev/null
dotnet build -c Release "$root/src/OptOutRegistry.Cli" -v q -nologo >/dev/null || echo "(CLI Release build failed; using an existing optout.dll)"
bench="dotnet $here/bin/Release/net10.0/OptOutRegistry.Benchmarks.Check.dll"
server="$root/src/OptOutRegistry.Server/bin/Release/net10.0/optout-server.dll"
cli="$root/src/OptOutRegistry.Cli/bin/Release/net10.0/optout.dll"
[ -f "$cli" ] || cli="$root/src/OptOutRegistry.Cli/bin/Debug/net10.0/optout.dll"

# The server: per-address rate limit off (the load generator is one address), request logging off.
start_server() { # dll port data-dir
  dotnet "$1" --urls "http://127.0.0.1:$2" --http-urls none --data-dir "$3" \
    --check-rate-limit-per-address 0 --Logging:LogLevel:Default=Warning >"$3.log" 2>&1 &
}
wait_port() { for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.2; done; return 1; }
ticks=$(getconf CLK_TCK)
failures=0
# The server's CPU in clock ticks, without its --keep-cpus-awake threads (named keep-awake-N): they only take CPU time
# nothing else wanted, and counting it would hide what a call costs. Their own time is printed as keep_awake_seconds.
cpu_of() { echo $(( $(awk '{print $14 + $15}' "/proc/$1/stat") - $(keep_awake_of "$1") )); }
keep_awake_of() { # ticks of the keep-awake threads
  local sum=0 t
  for t in /proc/"$1"/task/*; do
    [[ "$(cat "$t/comm" 2>/dev/null)" == keep-awake-* ]] && sum=$((sum + $(sed 's/.*) //' "$t/stat" | awk '{print $12 + $13}')))
  done
  echo "$sum"
}
# Context switches of all the process's threads: on this VM a sleep/wake costs ~30 us of CPU, so switches per call are
# the mechanism behind CPU per call. Only live threads count: a pool thread that exits takes its count along.
# The keep-awake threads are left out here too: their switches are request threads preempting them.
switches_of() {
  local t sum=0
  for t in /proc/"$1"/task/*; do
    [[ "$(cat "$t/comm" 2>/dev/null)" == keep-awake-* ]] && continue
    sum=$((sum + $(awk '/ctxt_switches/ {s += $2} END {print s + 0}' "$t/status" 2>/dev/null || echo 0)))
  done
  echo "$sum"
}
# Runs a command and prints the CPU seconds and context switches of the server process meanwhile.
with_server_cpu() { # label pid command...
  local label="$1" pid="$2"; shift 2
  local before after switches_before switches_after awake_before awake_after
  before=$(cpu_of "$pid")
  awake_before=$(keep_awake_of "$pid")
  switches_before=$(switches_of "$pid")
  # A client that reports failed calls (the lean generator checks every grpc-status and verdict) exits non-zero: the
  # run goes on so the other rows are still measured, and the script's exit status says so at the end.
  "$@" || { echo "  FAILED (exit status $?): $label ${*:1:3}"; failures=$((failures + 1)); }
  after=$(cpu_of "$pid")
  awake_after=$(keep_awake_of "$pid")
  switches_after=$(switches_of "$pid")
  python3 -c "import sys; print(f'  server_cpu\t{sys.argv[1]}\tseconds={(int(sys.argv[3]) - int(sys.argv[2])) / int(sys.argv[4]):.2f}\tcontext_switches={max(0, int(sys.argv[6]) - int(sys.argv[5])) or \"n/a (threads exited)\"}' + (f'\tkeep_awake_seconds={(int(sys.argv[8]) - int(sys.argv[7])) / int(sys.argv[4]):.2f}' if sys.argv[8] != '0' else ''))" "$label" "$before" "$after" "$ticks" "$switches_before" "$switches_after" "$awake_before" "$awake_after"
}

echo "== the platform alone: hiccup meter on the idle machine, 10 s (lateness of a real-time thread per CPU sleeping 1 ms)"
$bench hiccups --seconds 10
echo "== the platform again with a SCHED_IDLE busy loop on each CPU (no vCPU halts; the difference is the host waking halted vCPUs late)"
$bench hiccups --seconds 10 --busy-cpus 1

start_server "$server" "$grpc_port" "$work/data"
server_pid=$!
wait_port "$grpc_port"
targets=("new:$grpc_port:$server_pid")
if [[ -n "$base" ]]; then
  start_server "$base/src/OptOutRegistry.Server/bin/Release/net10.0/optout-server.dll" "$base_port" "$work/base-data"
  base_pid=$!
  wait_port "$base_port"
  targets=("base:$base_port:$base_pid" "new:$grpc_port:$server_pid")
fi

for t in "${targets[@]}"; do
  IFS=: read -r label port pid <<<"$t"
  echo "== seeding $n url selectors through the Registry service ($label server)"
  $bench seed --server "http://127.0.0.1:$port" --selectors "$n" --queries "$work/queries.txt"
done
$bench encode --queries "$work/queries.txt" --out "$work"
sleep 2

h2() { # port body-file extra-args...
  local port="$1" body="$2"; shift 2
  /usr/bin/time -f "  h2load_cpu_seconds=%U+%S" h2load -t 1 -H 'content-type: application/grpc' -H 'te: trailers' -d "$body" "$@" \
    "http://127.0.0.1:$port/optout.v1.Check/CheckBatch" 2>&1 | grep -E "finished in|requests:|status codes|h2load_cpu" | sed 's/^/  /'
}

echo "== OptOutRegistry over loopback (client and server on this machine; each mode prints its server's CPU)"
watch_for() { # pid seconds: the server's GC and request figures while another client runs
  # The watcher attaches, lets the session settle 1 s and then records for the given seconds; the client starts after
  # 2.5 s so that attaching (which stalled a client for ~1 s when it happened as the schedule started) is over.
  $bench watch --pid "$1" --seconds "$2" &
  watch_pid=$!
  sleep 2.5
}

h2unary() { # port
  rm -f "$work/h2.log"
  h2 "$1" "$work/unary.bin" -c 1 -m 256 --rps 10000 -D "$seconds" --log-file "$work/h2.log"
  python3 - "$work/h2.log" <<'PY'
import sys, collections
rows = [line.split('\t') for line in open(sys.argv[1])]
lat = sorted(int(r[2]) / 1000 for r in rows)
ok = sum(1 for r in rows if r[1] == '200')
n = len(lat)
q = lambda p: lat[min(n - 1, int(n * p))]
starts = [int(r[0]) for r in rows]
span = (max(starts) - min(starts)) / 1e6
per_ms = collections.Counter(s // 1000 for s in starts)
print(f"  h2load-unary\tcalls={n}\thttp200={ok}\tachieved_per_s={n / span:.0f}\tp50_ms={q(0.5):.3f}\tp90_ms={q(0.9):.3f}\tp99_ms={q(0.99):.3f}\tp999_ms={q(0.999):.3f}\tmax_ms={lat[-1]:.3f}\tms_slots_with_starts={len(per_ms) / (span * 1000):.0%}\tmax_starts_in_1ms={max(per_ms.values())}")
PY
}

for mode in batch h2batch stream lean lean-hedged unary single lean+watch h2unary; do
  for t in "${targets[@]}"; do
    IFS=: read -r label port pid <<<"$t"
    url="http://127.0.0.1:$port"
    echo "-- $mode ($label server)"
    case "$mode" in
      batch)  with_server_cpu "$label" "$pid" $bench batch --server "$url" --queries "$work/queries.txt" --seconds "$seconds" --concurrency 4 ;;
      stream) with_server_cpu "$label" "$pid" $bench stream --server "$url" --queries "$work/queries.txt" --seconds "$seconds" ;;
      lean)
        # The lean open-loop generator (LeanLoad.cs): one URL per raw CheckBatch call, 10,000/s, after a 1 s warm-up,
        # with the hiccup meter running beside it.
        with_server_cpu "$label" "$pid" $bench lean --server "$url" --queries "$work/queries.txt" --seconds "$lean_seconds" --rate 10000 --hiccups 1 ;;
      lean-hedged)
        # The same calls over two connections, each call sent again on the other connection when it has no answer 1 ms
        # after it was sent (first answer wins, the other stream is reset; at most 0.1 hedges per call on average, like
        # the SDK's HedgingPolicy): a stall that holds one connection's thread is ridden out on the other.
        with_server_cpu "$label" "$pid" $bench lean --server "$url" --queries "$work/queries.txt" --seconds "$lean_seconds" --rate 10000 --hiccups 1 \
          --connections 2 --hedge-after-ms 1 ;;
      lean+watch)
        # The same with the server watched over EventPipe: the server's GC pauses, bytes and request times meanwhile.
        watch_for "$pid" $((seconds + 2))
        with_server_cpu "$label" "$pid" $bench lean --server "$url" --queries "$work/queries.txt" --seconds "$seconds" --rate 10000 --warmup 0
        wait "$watch_pid" ;;
      unary)
        # One URL per raw CheckBatch call through our GrpcChannel (CheckClient.CheckBatchAsync), open loop.
        with_server_cpu "$label" "$pid" $bench unary --server "$url" --queries "$work/queries.txt" --seconds "$seconds" --rate 10000
        if [[ -n "$base" ]]; then
          echo "   (the previous unary generator, same server)"
          with_server_cpu "$label" "$pid" dotnet "$base/benchmarks/OptOutRegistry.Benchmarks.Check/bin/Release/net10.0/OptOutRegistry.Benchmarks.Check.dll" \
            unary --server "$url" --queries "$work/queries.txt" --seconds "$seconds" --rate 10000
        fi ;;
      single)
        # The SDK's single check (CheckClient.CheckUrlAsync, default options: provenance on, adaptive batching).
        with_server_cpu "$label" "$pid" $bench single --server "$url" --queries "$work/queries.txt" --seconds "$seconds" --rate 10000 ;;
      h2batch)
        # h2load as the client (C, one thread): the same 1,000-URL request, 4 in flight on one connection. URLs/s = req/s x 1000.
        with_server_cpu "$label" "$pid" h2 "$port" "$work/batch.bin" -c 1 -m 4 -D "$seconds" --warm-up-time=1 ;;
      h2unary)
        # h2load's own rate mode, 10,000 requests/s on one connection; latencies from its per-request log (bursts: see the top).
        watch_for "$pid" $((seconds + 1))
        with_server_cpu "$label" "$pid" h2unary "$port"
        wait "$watch_pid" ;;
    esac
  done
done

echo "  server_rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status") (new server, DATAS off as built)"

# The CLI streaming every query from stdin through the same (default) server.
start=$(date +%s.%N)
dotnet "$cli" check --server "http://127.0.0.1:$grpc_port" --purpose train-ai - <"$work/queries.txt" >"$work/cli.out"
end=$(date +%s.%N)
lines=$(wc -l <"$work/cli.out")
python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'cli\tlines={sys.argv[3]}\tseconds={s:.2f}\turls_per_s={int(sys.argv[3])/s:.0f}')" "$start" "$end" "$lines"

restart_server() { # [extra server args...]: this tree's server on the same data, loaded and warmed up (environment passes through)
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
  dotnet "$server" --urls "http://127.0.0.1:$grpc_port" --http-urls none --data-dir "$work/data" \
    --check-rate-limit-per-address 0 --Logging:LogLevel:Default=Warning "$@" >"$work/data.log" 2>&1 &
  server_pid=$!
  wait_port "$grpc_port"
  url="http://127.0.0.1:$grpc_port"
  # The matcher loads from the store after the port opens: wait until half the queries are covered again.
  for _ in $(seq 120); do
    share=$($bench batch --server "$url" --queries "$work/queries.txt" --seconds 0.5 --concurrency 1 | sed -n 's/.*disallowed_share=\([0-9.]*\).*/\1/p')
    python3 -c "import sys; sys.exit(0 if float(sys.argv[1] or 0) >= 0.49 else 1)" "${share:-0}" && break
    sleep 1
  done
  $bench unary --server "$url" --queries "$work/queries.txt" --seconds 3 --rate 10000 >/dev/null # warm-up (JIT)
}

if [[ "${KEEP_AWAKE_VARIANT:-1}" != 0 ]]; then
  # The same server restarted with --keep-cpus-awake 1s (docs/latency.md): while checks arrive no vCPU halts, so the host
  # never has to wake one - pm-qos holds a CPU latency request of 0 (the idle loop polls), spin runs a SCHED_IDLE thread
  # per CPU. server_cpu leaves the keep-awake threads out and prints their own time as keep_awake_seconds.
  method="${KEEP_AWAKE_METHOD:-auto}"
  restart_server --keep-cpus-awake 1s --keep-cpus-awake-method "$method"
  echo "== the new server again, restarted with --keep-cpus-awake 1s --keep-cpus-awake-method $method"
  echo "-- lean (keep-cpus-awake)"
  with_server_cpu "keep-awake" "$server_pid" $bench lean --server "$url" --queries "$work/queries.txt" --seconds "$lean_seconds" --rate 10000 --hiccups 1
  echo "-- lean-hedged (keep-cpus-awake)"
  with_server_cpu "keep-awake" "$server_pid" $bench lean --server "$url" --queries "$work/queries.txt" --seconds "$lean_seconds" --rate 10000 --hiccups 1 \
    --connections 2 --hedge-after-ms 1
  echo "-- batch (keep-cpus-awake)"
  with_server_cpu "keep-awake" "$server_pid" $bench batch --server "$url" --queries "$work/queries.txt" --seconds "$seconds" --concurrency 4
fi

if [[ "${GC_VARIANT:-1}" != 0 ]]; then
  # The same server and data, restarted with DATAS (.NET's dynamic adaptation of Server GC) on, as .NET's default
  # would have it: DATAS keeps gen0 small, so a 10,000 calls/s unary run collects 7-41 times instead of 0-2
  # (RESULTS.md, round four). The batch mode shows the throughput side; server_rss_kb the memory side.
  DOTNET_GCDynamicAdaptationMode=1 restart_server
  echo "== the new server again, restarted with DOTNET_GCDynamicAdaptationMode=1 (DATAS on, .NET's default)"
  echo "-- h2batch (DATAS on)"
  with_server_cpu "datas-on" "$server_pid" h2 "$grpc_port" "$work/batch.bin" -c 1 -m 4 -D "$seconds" --warm-up-time=1
  echo "-- lean (DATAS on)"
  with_server_cpu "datas-on" "$server_pid" $bench lean --server "$url" --queries "$work/queries.txt" --seconds "$lean_seconds" --rate 10000 --hiccups 1
  echo "-- lean+watch (DATAS on)"
  watch_for "$server_pid" $((seconds + 2))
  with_server_cpu "datas-on" "$server_pid" $bench lean --server "$url" --queries "$work/queries.txt" --seconds "$seconds" --rate 10000 --warmup 0
  wait "$watch_pid"
  echo "-- single (DATAS on)"
  with_server_cpu "datas-on" "$server_pid" $bench single --server "$url" --queries "$work/queries.txt" --seconds "$seconds" --rate 10000
  echo "-- h2unary (DATAS on)"
  watch_for "$server_pid" $((seconds + 1))
  with_server_cpu "datas-on" "$server_pid" h2unary "$grpc_port"
  wait "$watch_pid"
  echo "  server_rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status") (DATAS on)"
fi


echo "== Redis $(redis-server --version | awk '{print $3}') on loopback: SADD the same URLs, pipelined SISMEMBER of the same queries"
redis-server --port "$redis_port" --save '' --appendonly no --daemonize no >"$work/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
python3 - "$n" "$work" <<'PY'
import sys
n, work = int(sys.argv[1]), sys.argv[2]
def covered(i): return f"https://www.site{i % 50000}.example/gallery/{i // 50000}/image-{i}.jpg"
def resp(*parts): return "*%d\r\n" % len(parts) + "".join("$%d\r\n%s\r\n" % (len(p.encode()), p) for p in parts)
with open(f"{work}/sadd.resp", "w") as f:
    for i in range(n): f.write(resp("SADD", "optout", covered(i)))
with open(f"{work}/queries.txt") as q, open(f"{work}/sismember.resp", "w") as f:
    for line in q: f.write(resp("SISMEMBER", "optout", line.rstrip("\n")))
PY
redis-cli -p "$redis_port" --pipe <"$work/sadd.resp" >/dev/null
before=$(cpu_of "$redis_pid")
start=$(date +%s.%N)
redis-cli -p "$redis_port" --pipe <"$work/sismember.resp" >"$work/redis.out"
end=$(date +%s.%N)
after=$(cpu_of "$redis_pid")
python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'redis\tsismember={sys.argv[3]}\tseconds={s:.2f}\tqueries_per_s={int(sys.argv[3])/s:.0f}\tserver_cpu_seconds={(int(sys.argv[5])-int(sys.argv[4]))/int(sys.argv[6]):.2f}')" "$start" "$end" "$n" "$before" "$after" "$ticks"
if [[ "$failures" != 0 ]]; then
  echo "$failures client run(s) failed: see FAILED above" >&2
  exit 1
fi
