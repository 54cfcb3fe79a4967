#!/usr/bin/env bash
# Reruns every area's benchmark, each next to the peer it is compared with in the same run, and keeps the output.
#
# Usage: benchmarks/run-all.sh [--quick] [area ...]
#   --quick  smaller sizes and shorter runs (about 20 minutes in all instead of about two hours)
#   area     any of: core grpc signals fingerprints check storage filtering reliability (default: all)
#
# `set -e` does not apply inside a function called from `if`, so every step but the last of an area says `|| return 1`.
# Output: one log per area under benchmarks/results/<UTC date-time>/ (ignored by git) plus machine.txt saying what
# the machine was doing; copy the figures you quote into benchmarks/README.md with that date.
# Needs what .ci/run installs (postgresql, redis-server, liblucene8-java, nghttp2-client, python3-protego) plus a JDK
# (javac) for the Lucene peer and Node.js/npm for the DuckDB peer.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

quick=0
if [[ "${1:-}" == "--quick" ]]; then quick=1; shift; fi
areas=("$@")
if [[ ${#areas[@]} -eq 0 ]]; then
  areas=(core grpc signals fingerprints check storage filtering reliability)
fi

out="benchmarks/results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "cpus: $(nproc)   memory: $(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "dotnet: $(dotnet --version)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
} | tee "$out/machine.txt"

run_area() {
  local area="$1"
  case "$area" in
    core)
      if ((quick)); then benchmarks/OptOutRegistry.Benchmarks.Core/run.sh 1000000
      else benchmarks/OptOutRegistry.Benchmarks.Core/run.sh 1000000 10000000; fi ;;
    grpc)
      dotnet run -c Release --project benchmarks/OptOutRegistry.Benchmarks.Grpc -- --filter '*Framing*' --job short --inProcess || return 1
      if ((quick)); then benchmarks/OptOutRegistry.Benchmarks.Grpc/run-load.sh 3 1
      else benchmarks/OptOutRegistry.Benchmarks.Grpc/run-load.sh 5 3; fi ;;
    signals)
      benchmarks/OptOutRegistry.Benchmarks.Signals/run.sh 3 ;;
    fingerprints)
      dotnet run -c Release --project benchmarks/OptOutRegistry.Benchmarks.Fingerprints -- --quick ;;
    check)
      if ((quick)); then SECONDS_PER_RUN=5 benchmarks/OptOutRegistry.Benchmarks.Check/run.sh 200000
      else benchmarks/OptOutRegistry.Benchmarks.Check/run.sh 1000000; fi ;;
    storage)
      local count=1000000
      if ((quick)); then count=100000; fi
      dotnet run -c Release --project benchmarks/OptOutRegistry.Benchmarks.Storage -- scenario --store sqlite --count "$count" || return 1
      dotnet run -c Release --project benchmarks/OptOutRegistry.Benchmarks.Storage -- scenario --store postgres --count "$count" || return 1
      dotnet run -c Release --project benchmarks/OptOutRegistry.Benchmarks.Storage -- --filter '*MerkleBenchmarks*' --inProcess ;;
    filtering)
      benchmarks/OptOutRegistry.Benchmarks.Filtering/run.sh ;;
    reliability)
      # 50 SIGKILLs per store and a 10-minute soak (about 40 minutes); --quick: 10 kills per store, 2 minutes.
      if ((quick)); then benchmarks/Reliability/run.sh 10 2
      else benchmarks/Reliability/run.sh 50 10; fi ;;
    *)
      echo "unknown area '$area' (expected: core grpc signals fingerprints check storage filtering reliability)" >&2
      return 2 ;;
  esac
}

failed=()
for area in "${areas[@]}"; do
  echo
  echo "=== $area ($(date -u +%T), load $(cut -d' ' -f1 /proc/loadavg))"
  start=$SECONDS
  if run_area "$area" 2>&1 | tee "$out/$area.log"; then
    echo "=== $area done in $((SECONDS - start)) s"
  else
    echo "=== $area FAILED after $((SECONDS - start)) s (log: $out/$area.log)"
    failed+=("$area")
  fi
done

echo
echo "logs: $out"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "failed areas: ${failed[*]}" >&2
  exit 1
fi
