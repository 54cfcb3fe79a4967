#!/usr/bin/env bash
# --keep-cpus-awake, whole server, off and on alternating, one server at a time (docs/latency.md, RESULTS.md).
# Usage: benchmarks/OptOutRegistry.Benchmarks.Hosting/keep-awake-ab.sh DATA_DIR QUERIES [ROUNDS]
#   DATA_DIR  a server data directory already seeded (e.g. by `Benchmarks.Check.dll seed --selectors 1000000`); it is
#             only read (the server is started on it and stopped)
#   QUERIES   one URL per line (the lean generator's --queries file)
#   WINDOW=1s the option's value in the "on" runs;  PORT=57731;  LEAN_SECONDS=10
# Per run it prints:
#   (a) the platform's lateness (`hiccups`: real-time thread per CPU, share of CPU time woken > 0.5 ms late) while a
#       trickle of 200 checks/s keeps the keep-awake threads spinning;
#   (b) the keep-awake threads' CPU over 5 s with no checks, 2 s after the trickle (0 when they park);
#   (c) the lean generator at 10,000 checks/s: p50/p99, the generator's CPU per call, and the server's CPU and context
#       switches per call EXCLUDING the keep-awake threads: the process's utime+stime (/proc/PID/stat, which keeps the time
#       of threads that exited) minus the sum over /proc/PID/task/*/stat of the threads whose comm is keep-awake-N (they
#       live as long as the server); switches are summed over live threads, keep-awake ones left out.
# Wall-clock figures mean something only on a quiet machine; CPU and switch ratios of the alternating runs hold under load.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
data="${1:?data directory}"; queries="${2:?queries file}"; rounds="${3:-2}"
window="${WINDOW:-1s}"; port="${PORT:-57731}"; lean_seconds="${LEAN_SECONDS:-10}"
dotnet build -c Release "$root/src/OptOutRegistry.Server" -v q -nologo >/dev/null
dotnet build -c Release "$root/benchmarks/OptOutRegistry.Benchmarks.Check" -v q -nologo >/dev/null
server="$root/src/OptOutRegistry.Server/bin/Release/net10.0/optout-server.dll"
bench="dotnet $root/benchmarks/OptOutRegistry.Benchmarks.Check/bin/Release/net10.0/OptOutRegistry.Benchmarks.Check.dll"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null || true' EXIT

ka() { # user sys switches of the keep-awake threads
  local u=0 s=0 c=0 a b n t
  for t in /proc/"$1"/task/*; do
    case "$(cat "$t/comm" 2>/dev/null)" in
      keep-awake-*) read -r a b < <(awk '{print $14, $15}' "$t/stat"); n=$(awk '/ctxt_switches/ {s += $2} END {print s}' "$t/status")
                    u=$((u + a)); s=$((s + b)); c=$((c + n));;
    esac
  done
  echo "$u $s $c"
}
all() { awk '{print $14, $15}' "/proc/$1/stat"; }
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {print s}'; }
field() { tr '\t' '\n' | awk -F= -v k="$1" '$1 == k {print $2}'; }
calc() { python3 -c "print(round($1, 2))"; }

for r in $(seq "$rounds"); do
  for mode in off on; do
    extra=(); [ "$mode" = on ] && extra=(--keep-cpus-awake "$window")
    dotnet "$server" --urls "http://127.0.0.1:$port" --http-urls none --data-dir "$data" --check-rate-limit-per-address 0 \
      --Logging:LogLevel:Default=Warning "${extra[@]}" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 300); do (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.2; done
    $bench lean --server "http://127.0.0.1:$port" --queries "$queries" --seconds 3 --rate 10000 >/dev/null 2>&1 || true # warm-up (its exit status: see the measured run)
    sleep 1
    # (a)
    $bench lean --server "http://127.0.0.1:$port" --queries "$queries" --seconds 12 --rate 200 >/dev/null 2>&1 &
    trickle=$!
    sleep 1
    hic=$($bench hiccups --seconds 10 2>&1 | tail -1)
    wait "$trickle" || true
    # (b)
    sleep 2; read -r ku0 ks0 _ < <(ka "$pid"); sleep 5; read -r ku1 ks1 _ < <(ka "$pid")
    # (c)
    read -r u0 s0 < <(all "$pid"); read -r ku2 ks2 kc2 < <(ka "$pid"); c0=$(switches "$pid")
    out=$($bench lean --server "http://127.0.0.1:$port" --queries "$queries" --seconds "$lean_seconds" --rate 10000 2>&1 | head -1 || true)
    read -r u1 s1 < <(all "$pid"); read -r ku3 ks3 kc3 < <(ka "$pid"); c1=$(switches "$pid")
    calls=$(echo "$out" | field calls)
    tick_us=$((1000000 / $(getconf CLK_TCK)))
    printf '%s %-3s | hiccups+trickle cpu_late_share=%s machine_stalled_share=%s late_over_1ms=%s | idle keep-awake cpu_ms_in_5s=%s | lean p50_ms=%s p99_ms=%s client_cpu_us=%s server_us_per_call_excl_keepawake=%s (sys %s) server_switches_per_call=%s keepawake_cpu_ms=%s load=%s\n' \
      "$(date -u +%T)" "$mode" "$(echo "$hic" | field cpu_late_share)" "$(echo "$hic" | field machine_stalled_share)" "$(echo "$hic" | field late_over_1ms)" \
      $(( (ku1 - ku0 + ks1 - ks0) * tick_us / 1000 )) "$(echo "$out" | field p50_ms)" "$(echo "$out" | field p99_ms)" "$(echo "$out" | field process_cpu_us_per_call)" \
      "$(calc "($u1 - $u0 + $s1 - $s0 - ($ku3 - $ku2 + $ks3 - $ks2)) * $tick_us / $calls")" "$(calc "($s1 - $s0 - ($ks3 - $ks2)) * $tick_us / $calls")" \
      "$(calc "($c1 - $c0 - ($kc3 - $kc2)) / $calls")" $(( (ku3 - ku2 + ks3 - ks2) * tick_us / 1000 )) "$(cut -d' ' -f1 /proc/loadavg)"
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
    sleep 1
  done
done
