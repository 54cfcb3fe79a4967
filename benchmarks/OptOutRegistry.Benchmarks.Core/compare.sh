#!/usr/bin/env bash
# Before/after in one run: builds this benchmark at another commit (exported with `git archive`; the working tree is
# not touched) and at the working tree, then runs the matcher table with each, alternating old/new <rounds> times.
#   benchmarks/OptOutRegistry.Benchmarks.Core/compare.sh <commit> [rounds] [sizes...]
#   e.g. compare.sh 8721b74 2 1000000 10000000
# Rates are per CPU-second of the measuring thread; on a shared machine compare the two sides of the same round.
set -euo pipefail
before="${1:?usage: compare.sh <commit> [rounds] [sizes...]}"
rounds="${2:-1}"
shift $(( $# >= 2 ? 2 : 1 ))
sizes=("${@:-1000000}")
[[ -z "${sizes[0]}" ]] && sizes=(1000000)
root="$(git rev-parse --show-toplevel)"
project=benchmarks/OptOutRegistry.Benchmarks.Core
dll=bin/Release/net10.0/OptOutRegistry.Benchmarks.Core.dll
old="$(mktemp -d)"
trap 'rm -rf "$old"' EXIT
git -C "$root" archive "$before" | tar -x -C "$old"
dotnet build "$old/$project" -c Release -nologo -v q >/dev/null
dotnet build "$root/$project" -c Release -nologo -v q >/dev/null
for ((round = 1; round <= rounds; round++)); do
  for side in "before $before:$old" "after (working tree):$root"; do
    echo "== round $round, ${side%%:*}  $(date -u +%FT%TZ)  load $(cut -d' ' -f1-3 /proc/loadavg)"
    dotnet "${side#*:}/$project/$dll" --table "${sizes[@]}" | tail -n +4
  done
done
