#!/usr/bin/env bash
# The long reliability runs of issue 9 (the test project tests/OptOutRegistry.Reliability.Tests runs short versions):
#   1. crash, SQLite:     50 SIGKILLs of the real server, each followed by a restart and a full audit
#   2. crash, PostgreSQL: the same against a throw-away PostgreSQL server (Debian package 'postgresql')
#   3. soak:              10 minutes of mixed load (90% checks by batch and stream, 10% registrations/revocations)
# Each writes its Markdown report to benchmarks/Reliability/out/ and prints progress; the exit code is non-zero when
# any audit or soak bound failed. Takes about 30-40 minutes. Usage: benchmarks/Reliability/run.sh [kills] [soak minutes]
set -euo pipefail
cd "$(dirname "$0")/../.."

kills="${1:-50}"
minutes="${2:-10}"
out=benchmarks/Reliability/out
mkdir -p "$out"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

dotnet build tools/OptOutRegistry.Reliability -c Release -warnaserror -nologo -v quiet
tool=(dotnet tools/OptOutRegistry.Reliability/bin/Release/net10.0/optout-reliability.dll)

status=0
"${tool[@]}" crash --store sqlite --kills "$kills" --markdown "$out/crash-sqlite.md" || status=1
"${tool[@]}" crash --store postgres --kills "$kills" --markdown "$out/crash-postgres.md" || status=1
"${tool[@]}" soak --minutes "$minutes" --markdown "$out/soak.md" --json "$out/soak.json" || status=1
exit $status
