#!/usr/bin/env bash
# Runs every test of OptOutRegistry: unit tests, corpora suites, the gRPC interop tests against python3-grpcio,
# the PostgreSQL conformance suite (the tests start their own server) and the end-to-end tests through the real server.
# Usage: scripts/test.sh [extra dotnet test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# Debian's python3-grpcio lives in the system interpreter; a python3 earlier on PATH (pyenv, venv) may lack it.
if [[ -z "${OPTOUT_TEST_PYTHON:-}" ]]; then
  for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import grpc, grpc_tools' >/dev/null 2>&1; then
      OPTOUT_TEST_PYTHON="$(command -v "$candidate")"
      break
    fi
  done
fi
export OPTOUT_TEST_PYTHON="${OPTOUT_TEST_PYTHON:-python3}"

dotnet build OptOutRegistry.sln -c Release -warnaserror -nologo -v quiet

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
# One test project at a time: the suites start real servers (Kestrel, PostgreSQL, python gRPC) and time-bound
# behaviour (deadlines, replication within 1 s) is measured; on two cores running them side by side only adds noise.
for project in $(find tests -name '*.Tests.csproj' | sort); do
  echo "::: $project"
  if ! dotnet test "$project" -c Release --no-build --nologo "$@" 2>&1 | tee -a "$log"; then
    status=1
  fi
done

# The plain closing line: totals over every project.
awk '/(Passed|Failed)!  - Failed:/ {
       for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) }
     }
     END { gsub(",", "", f); printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit $status
