# Sourced by compare.sh and snapshot-load.sh (not run on its own): builds this benchmark at each commit in the array
# `commits` (exported with `git archive` into a temporary directory; the working tree is not touched) and at the working
# tree. Sets root, project, dll, work (removed on exit) and sides=("label:checkout" ...), the befores first.
root="$(git rev-parse --show-toplevel)"
project=benchmarks/OptOutRegistry.Benchmarks.Core
dll=bin/Release/net10.0/OptOutRegistry.Benchmarks.Core.dll
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
sides=()
for commit in "${commits[@]}"; do
  mkdir -p "$work/$commit"
  git -C "$root" archive "$commit" | tar -x -C "$work/$commit"
  dotnet build "$work/$commit/$project" -c Release -nologo -v q >/dev/null
  sides+=("before $commit:$work/$commit")
done
dotnet build "$root/$project" -c Release -nologo -v q >/dev/null
sides+=("after (working tree):$root")
