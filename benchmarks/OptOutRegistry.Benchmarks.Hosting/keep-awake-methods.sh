#!/usr/bin/env bash
# The keep-awake mechanisms without a server, alternating, one at a time (docs/latency.md, RESULTS.md): for each of
#   none    nothing (the CPUs halt when idle, as by default)
#   pm-qos  a CPU latency request of 0 us held on /dev/cpu_dma_latency (the server's --keep-cpus-awake-method pm-qos)
#   pause   a SCHED_IDLE thread per CPU running Thread.SpinWait(1024) slices (the server's --keep-cpus-awake-method spin)
#   plain   the same threads running a managed loop of volatile reads without PAUSE (not used by the server)
# it runs the `hiccups` meter (Benchmarks.Check.dll: a real-time thread per CPU sleeping 1 ms, the share of each CPU's
# time it was woken more than 0.5 ms late, machine-wide stalls, hypervisor steal) beside the mechanism, and then the
# mechanism alone with a gen-0 collection every 20 ms (how long a GC takes to stop the spinners).
# Each line also gives the POLL idle state's time per CPU over the run (/sys/devices/system/cpu/cpuN/cpuidle).
# Usage: benchmarks/OptOutRegistry.Benchmarks.Hosting/keep-awake-methods.sh [ROUNDS] [SECONDS]   (2 rounds of 10 s)
# Needs root for pm-qos (the device is crw------- root). Wall-clock figures mean something only on a quiet machine.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
rounds="${1:-2}"; seconds="${2:-10}"
dotnet build -c Release "$root/benchmarks/OptOutRegistry.Benchmarks.Check" -v q -nologo >/dev/null
dotnet build -c Release "$here" -v q -nologo >/dev/null
bench="dotnet $root/benchmarks/OptOutRegistry.Benchmarks.Check/bin/Release/net10.0/OptOutRegistry.Benchmarks.Check.dll"
probe="dotnet $here/bin/Release/net10.0/OptOutRegistry.Benchmarks.Hosting.dll keep-awake"
tmp="$(mktemp)"; trap 'rm -f "$tmp"' EXIT
field() { tr '\t' '\n' | awk -F= -v k="$1" '$1 == k {print $2}'; }
poll_us() { cat /sys/devices/system/cpu/cpu[0-9]*/cpuidle/state0/time 2>/dev/null | paste -sd' '; }
for r in $(seq "$rounds"); do
  for method in none pm-qos pause plain; do
    $probe --method "$method" --seconds "$((seconds + 3))" >"$tmp" 2>&1 &
    holder=$!
    sleep 1.5
    p0=$(poll_us)
    hic=$($bench hiccups --seconds "$seconds" 2>&1 | tail -1)
    p1=$(poll_us)
    wait "$holder" || true
    held=$(tail -1 "$tmp")
    gc=$($probe --method "$method" --seconds 3 --gc-probe 1 2>&1 | tail -1)
    poll=$(paste <(tr ' ' '\n' <<<"$p0") <(tr ' ' '\n' <<<"$p1") | awk '{printf "%s%.0f", (NR > 1 ? "/" : ""), ($2 - $1) / 1000}')
    printf '%s %-6s | cpu_late_share=%s machine_stalled_share=%s late_over_1ms=%s max_late_ms=%s steal_ms=%s | poll_ms_per_cpu=%s | probe_cpu_s=%s gaps_over_200us=%s gap_ms=%s | gc_p50_ms=%s gc_p99_ms=%s gc_max_ms=%s | load=%s\n' \
      "$(date -u +%T)" "$method" "$(echo "$hic" | field cpu_late_share)" "$(echo "$hic" | field machine_stalled_share)" "$(echo "$hic" | field late_over_1ms)" \
      "$(echo "$hic" | field max_late_ms)" "$(echo "$hic" | field steal_ms)" "$poll" "$(echo "$held" | field process_cpu_s)" \
      "$(echo "$held" | field gaps_over_200us)" "$(echo "$held" | field gap_ms)" "$(echo "$gc" | field gc_p50_ms)" "$(echo "$gc" | field gc_p99_ms)" \
      "$(echo "$gc" | field gc_max_ms)" "$(cut -d' ' -f1 /proc/loadavg)"
  done
done
