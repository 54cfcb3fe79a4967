#!/usr/bin/env bash
# Side-by-side robots.txt benchmark: this project's RobotsTxt against Python's Protego (Debian python3-protego,
# the parser Scrapy uses) on the same 200-line file, the same 1,000 URLs and the same agents, in one run.
# Usage: benchmarks/OptOutRegistry.Benchmarks.Signals/run.sh [seconds] [--bdn]
#   seconds  length of each checks/s measurement (default 3)
#   --bdn    also run the BenchmarkDotNet suite (parse, IsAllowed; allocations)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
seconds="${1:-3}"
cd "$here"
# Debian's python3-protego installs for the system interpreter; a pyenv/venv python3 on PATH may not see it.
py="${PYTHON:-python3}"
if ! "$py" -c 'import protego' 2>/dev/null; then py=/usr/bin/python3; fi
dotnet build -c Release -v quiet -nologo "$here" >/dev/null
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$py" "$here/protego_bench.py" "$here/robots-200.txt" "$here/paths.txt" "$seconds" | tee "$out/protego.txt"
dotnet run -c Release --no-build --project "$here" -- --quick "$seconds" | tee "$out/dotnet.txt"
"$py" - "$out/protego.txt" "$out/dotnet.txt" <<'PY'
import sys
vals = {}
for f in sys.argv[1:]:
    for line in open(f):
        k, v = line.strip().split("=", 1)
        vals[k] = v
ratio = float(vals["dotnet.checks_per_s"]) / float(vals["protego.checks_per_s"])
parse_ratio = float(vals["protego.parse_us"]) / float(vals["dotnet.parse_us"])
same = vals["dotnet.answers_sha256"] == vals["protego.answers_sha256"]
print(f"ratio.checks={ratio:.1f}x  ratio.parse={parse_ratio:.1f}x  same_answers={same} "
      f"(allowed: dotnet {vals['dotnet.allowed']}, protego {vals['protego.allowed']})")
PY
if [[ "${2:-}" == "--bdn" ]]; then
  dotnet run -c Release --no-build --project "$here" -- --filter '*'
fi
