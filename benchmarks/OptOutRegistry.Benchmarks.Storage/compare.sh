#!/usr/bin/env bash
# Before/after in one run: builds this benchmark at another commit (exported with `git archive`, the working tree is
# not touched) and at the working tree, then runs the same scenario with each, one after the other.
#   benchmarks/OptOutRegistry.Benchmarks.Storage/compare.sh <commit> [scenario options, e.g. --store sqlite --count 300000]
# Compare the "per CPU-second" figures: on a shared machine wall time mostly measures the neighbours.
set -euo pipefail
before="${1:?usage: compare.sh <commit> [scenario options]}"
shift
root="$(git rev-parse --show-toplevel)"
project=benchmarks/OptOutRegistry.Benchmarks.Storage
dll=bin/Release/net10.0/OptOutRegistry.Benchmarks.Storage.dll
old="$(mktemp -d)"
trap 'rm -rf "$old"' EXIT
git -C "$root" archive "$before" | tar -x -C "$old"
dotnet build "$old/$project" -c Release -nologo -v q >/dev/null
dotnet build "$root/$project" -c Release -nologo -v q >/dev/null
for side in "before $before:$old" "after (working tree):$root"; do
  echo "== ${side%%:*}  $(date -u +%FT%TZ)  load $(cut -d' ' -f1-3 /proc/loadavg)"
  dotnet "${side#*:}/$project/$dll" scenario "$@"
done
