#!/usr/bin/env bash
# Snapshot loads before/after in one run: builds this benchmark at the given commits (exported with `git archive`; the
# working tree is not touched) and at the working tree, then loads FILE once per process with each build in turn,
# alternating, <rounds> times, in each mode (mirror = RegistryMirror.LoadSnapshot as a replica does it; offline =
# OfflineChecker.Load, load + signature; verify = the read-and-verify pass alone).
#   benchmarks/OptOutRegistry.Benchmarks.Core/snapshot-load.sh FILE [rounds] ["<commit> [commit...]"] [modes...]
#   e.g. snapshot-load.sh registry.snap 3 e9910b7 mirror offline
# The commits must have the --snapshot-load mode (e9910b7 or later). Make FILE with `optout snapshot export --out FILE`
# against a server holding the registry to load. Figures are per process: on a shared machine compare the sides of a round.
set -euo pipefail
file="$(realpath "${1:?usage: snapshot-load.sh FILE [rounds] [\"<commit> ...\"] [modes...]}")"
rounds="${2:-3}"
read -r -a commits <<< "${3:-}"
shift $(( $# >= 3 ? 3 : $# ))
modes=("${@:-mirror}")
[[ -z "${modes[0]}" ]] && modes=(mirror)
. "$(dirname "$0")/build-sides.sh"
echo "snapshot $file ($(stat -c %s "$file") bytes), $(nproc) cores, $(date -u +%FT%TZ)"
for mode in "${modes[@]}"; do
  for ((round = 1; round <= rounds; round++)); do
    for side in "${sides[@]}"; do
      printf '%-28s load %-5s ' "${side%%:*}" "$(cut -d' ' -f1 /proc/loadavg)"
      dotnet "${side#*:}/$project/$dll" --snapshot-load "$file" "$mode"
    done
  done
done
