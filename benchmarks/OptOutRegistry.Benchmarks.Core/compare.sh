#!/usr/bin/env bash
# Before/after in one run: builds this benchmark at other commits (exported with `git archive`; the working tree is
# not touched) and at the working tree, then runs the matcher table with each in turn, <rounds> times.
#   benchmarks/OptOutRegistry.Benchmarks.Core/compare.sh "<commit> [commit...]" [rounds] [sizes...]
#   e.g. compare.sh 8721b74 2 1000000 10000000
# Rates are per CPU-second of the measuring thread; on a shared machine compare the two sides of the same round.
set -euo pipefail
read -r -a commits <<< "${1:?usage: compare.sh \"<commit> [commit...]\" [rounds] [sizes...]}"
rounds="${2:-1}"
shift $(( $# >= 2 ? 2 : 1 ))
sizes=("${@:-1000000}")
[[ -z "${sizes[0]}" ]] && sizes=(1000000)
. "$(dirname "$0")/build-sides.sh"
for ((round = 1; round <= rounds; round++)); do
  for side in "${sides[@]}"; do
    echo "== round $round, ${side%%:*}  $(date -u +%FT%TZ)  load $(cut -d' ' -f1-3 /proc/loadavg)"
    dotnet "${side#*:}/$project/$dll" --table "${sizes[@]}" | tail -n +4
  done
done
