#!/usr/bin/env bash
# --keep-cpus-awake, whole server, off and each method alternating, one server at a time (docs/latency.md, RESULTS.md).
# Usage: benchmarks/OptOutRegistry.Benchmarks.Hosting/keep-awake-ab.sh DATA_DIR QUERIES [ROUNDS]
#   MODES="off spin pm-qos"  the runs of a round, in order: off (no option), spin / pm-qos (--keep-cpus-awake WINDOW
#             --keep-cpus-awake-method METHOD); pm-qos needs root (write access to /dev/cpu_dma_latency)
#   DATA_DIR  a server data directory already seeded (e.g. by `Benchmarks.Check.dll seed --selectors 1000000`); it is
#             only read (the server is started on it and stopped)
#   QUERIES   one URL per line (the lean generator's --queries file)
#   WINDOW=1s the option's value in the "on" runs;  PORT=57731;  LEAN_SECONDS=10
# Per run it prints:
#   (a) the platform's lateness (`hiccups`: real-time thread per CPU, share of CPU time woken > 0.5 ms late; hypervisor
#       steal) while a trickle of 200 checks/s keeps the method active, and meanwhile each CPU's POLL idle time (ms; it is
#       the idle time while a request of 0 is held, so small when other work keeps the CPUs busy) and its entries into
#       deeper idle states (halts: 0 while the request of 0 is held, whatever the load);
#   (b) over 5 s with no checks, 2 s after the trickle: the keep-awake threads' CPU (0 when they park), each CPU's time in
#       the POLL idle state (ms; near 0 once the CPUs may halt again) and the CPU latency limit in force (us; reading
#       /dev/cpu_dma_latency, 2000000000 = no constraint);
#   (c) the lean generator at 10,000 checks/s: p50/p99, the generator's CPU per call, and the server's CPU and context
#       switches per call EXCLUDING the keep-awake threads: the process's utime+stime (/proc/PID/stat, which keeps the time
#       of threads that exited) minus the sum over /proc/PID/task/*/stat of the threads whose comm is keep-awake-N (they
#       live as long as the server; the pm-qos controller keep-awake-qos is one of them); switches are summed over live
#       threads, keep-awake ones left out; and the hypervisor steal over the run (/proc/stat, ms summed over CPUs).
# Wall-clock figures mean something only on a quiet machine; CPU and switch ratios of the alternating runs hold under load.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
data="${1:?data directory}"; queries="${2:?queries file}"; rounds="${3:-2}"
window="${WINDOW:-1s}"; port="${PORT:-57731}"; lean_seconds="${LEAN_SECONDS:-10}"; modes="${MODES:-off spin pm-qos}"
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
poll_ms() { cat /sys/devices/system/cpu/cpu[0-9]*/cpuidle/state0/time 2>/dev/null | awk '{printf "%s%d", (NR > 1 ? " " : ""), $1 / 1000}'; }
# Entries into idle states deeper than POLL (halts), per CPU: none while a latency request of 0 is held, whatever the load.
halts() { for c in /sys/devices/system/cpu/cpu[0-9]*/cpuidle; do cat "$c"/state[1-9]*/usage 2>/dev/null | awk '{s += $1} END {print s + 0}'; done | paste -sd' '; }
delta() { paste <(tr ' ' '\n' <<<"$1") <(tr ' ' '\n' <<<"$2") | awk '{printf "%s%d", (NR > 1 ? "/" : ""), $2 - $1}'; }
qos_limit() { python3 -c "import os, struct; f = os.open('/dev/cpu_dma_latency', os.O_RDONLY); print(struct.unpack('i', os.read(f, 4))[0])" 2>/dev/null || echo n/a; }
steal() { awk '$1 == "cpu" {print $9}' /proc/stat; }

for r in $(seq "$rounds"); do
  for mode in $modes; do
    extra=(); [ "$mode" != off ] && extra=(--keep-cpus-awake "$window" --keep-cpus-awake-method "$mode")
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
    pa0=$(poll_ms); ha0=$(halts); hic=$($bench hiccups --seconds 10 2>&1 | tail -1); pa1=$(poll_ms); ha1=$(halts)
    wait "$trickle" || true
    # (b)
    sleep 2; read -r ku0 ks0 _ < <(ka "$pid"); pl0=$(poll_ms); sleep 5; read -r ku1 ks1 _ < <(ka "$pid"); pl1=$(poll_ms); limit=$(qos_limit)
    # (c)
    read -r u0 s0 < <(all "$pid"); read -r ku2 ks2 kc2 < <(ka "$pid"); c0=$(switches "$pid"); st0=$(steal)
    out=$($bench lean --server "http://127.0.0.1:$port" --queries "$queries" --seconds "$lean_seconds" --rate 10000 2>&1 | head -1 || true)
    read -r u1 s1 < <(all "$pid"); read -r ku3 ks3 kc3 < <(ka "$pid"); c1=$(switches "$pid"); st1=$(steal)
    calls=$(echo "$out" | field calls)
    tick_us=$((1000000 / $(getconf CLK_TCK)))
    printf '%s %-6s | hiccups+trickle cpu_late_share=%s machine_stalled_share=%s late_over_1ms=%s steal_ms=%s poll_ms_per_cpu_in_10s=%s halts_per_cpu_in_10s=%s | idle keep-awake cpu_ms_in_5s=%s poll_ms_per_cpu_in_5s=%s qos_limit_us=%s | lean p50_ms=%s p99_ms=%s client_cpu_us=%s server_us_per_call_excl_keepawake=%s (sys %s) server_switches_per_call=%s keepawake_cpu_ms=%s steal_ms=%s load=%s\n' \
      "$(date -u +%T)" "$mode" "$(echo "$hic" | field cpu_late_share)" "$(echo "$hic" | field machine_stalled_share)" "$(echo "$hic" | field late_over_1ms)" "$(echo "$hic" | field steal_ms)" "$(delta "$pa0" "$pa1")" "$(delta "$ha0" "$ha1")" \
      $(( (ku1 - ku0 + ks1 - ks0) * tick_us / 1000 )) "$(delta "$pl0" "$pl1")" "$limit" "$(echo "$out" | field p50_ms)" "$(echo "$out" | field p99_ms)" "$(echo "$out" | field process_cpu_us_per_call)" \
      "$(calc "($u1 - $u0 + $s1 - $s0 - ($ku3 - $ku2 + $ks3 - $ks2)) * $tick_us / $calls")" "$(calc "($s1 - $s0 - ($ks3 - $ks2)) * $tick_us / $calls")" \
      "$(calc "($c1 - $c0 - ($kc3 - $kc2)) / $calls")" $(( (ku3 - ku2 + ks3 - ks2) * tick_us / 1000 )) $(( (st1 - st0) * tick_us / 1000 )) "$(cut -d' ' -f1 /proc/loadavg)"
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
    sleep 1
  done
done
