#!/usr/bin/env bash
# Side by side in ONE run: DuckDB's exact-URL anti-join (2 threads) and optout filter on the same 1M JSON Lines records
# and the same 1M registered URLs (as a URL list for DuckDB, as a signed snapshot for optout), then ISCC Text-Code.
# Usage: benchmarks/OptOutRegistry.Benchmarks.Filtering/run.sh [DIR] [RECORDS] [SELECTORS]
# BASE=/path/to/optout-filter-bench.dll (an older build of this project) adds that build's in-process run to the same
# run, next to this one, for before/after ratios on the same machine state.
# Needs node + npm (the DuckDB peer is installed into duckdb/node_modules at the version package.json pins).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dir="${1:-${TMPDIR:-/tmp}/optout-filter-bench}"
records="${2:-1000000}"
selectors="${3:-1000000}"

dotnet build -c Release -v q -nologo "$here" >/dev/null
dotnet build -c Release -v q -nologo "$root/src/OptOutRegistry.Cli" >/dev/null
bench="$here/bin/Release/net10.0/optout-filter-bench.dll"
optout="$root/src/OptOutRegistry.Cli/bin/Release/net10.0/optout.dll"
# The DuckDB peer, pinned to an exact version in package.json. No lock file: a lock without registry addresses cannot
# list @duckdb's per-platform binding packages in a form `npm ci` accepts, and registry addresses stay out of the repo.
if [ ! -d "$here/duckdb/node_modules/@duckdb/node-api" ]; then
  (cd "$here/duckdb" && npm install --no-package-lock --no-audit --no-fund >/dev/null)
fi
if [ ! -f "$dir/records.jsonl" ] || [ "$(wc -l < "$dir/records.jsonl")" != "$records" ]; then
  dotnet "$bench" generate "$dir" "$records" "$selectors" 100 0
  dotnet "$bench" generate "$dir/text" 100000 1000 100 2000
fi
cat "$dir/records.jsonl" "$dir/blocked-urls.txt" > /dev/null   # both sides read from the page cache

echo "== DuckDB anti-join (2 threads), in-process query time"
duck=$(node "$here/duckdb/antijoin.mjs" "$dir/records.jsonl" "$dir/blocked-urls.txt" "$dir/duckdb-kept.jsonl" 2)
echo "$duck"
echo "== optout filter, in process (snapshot load timed apart), 2 workers and 1 worker"
ours=$(dotnet "$bench" run "$dir" records.jsonl 2)
echo "$ours"
dotnet "$bench" run "$dir" records.jsonl 1
if [ -n "${BASE:-}" ]; then
  echo "== BASE build ($BASE), same data, 2 workers, then this build again"
  dotnet "$BASE" run "$dir" records.jsonl 2 | sed 's/^/base /'
  dotnet "$bench" run "$dir" records.jsonl 2
fi
echo "== whole processes (start-up, snapshot load and JIT included)"
/usr/bin/time -f "duckdb-process wall_s=%e cpu_s=%U+%S max_rss_kb=%M" node "$here/duckdb/antijoin.mjs" "$dir/records.jsonl" "$dir/blocked-urls.txt" "$dir/duckdb-kept.jsonl" 2 >/dev/null
/usr/bin/time -f "optout-process wall_s=%e cpu_s=%U+%S max_rss_kb=%M" dotnet "$optout" filter --input "$dir/records.jsonl" --kept "$dir/cli-kept.jsonl" --removed "$dir/cli-removed.jsonl" --snapshot "$dir/registry.snapshot" 2>&1 | grep -v '^$'
echo "== text: ISCC Text-Code alone, and optout filter --text-field on 100k records of 2,000 bytes"
dotnet "$bench" text 16
dotnet "$bench" run "$dir/text" records-text.jsonl 2 text
if [ -n "${BASE:-}" ]; then
  dotnet "$BASE" run "$dir/text" records-text.jsonl 2 text | sed 's/^/base /'
fi

d=$(sed -n 's/.*records_per_s=\([0-9]*\).*/\1/p' <<<"$duck")
o=$(sed -n 's/.*records_per_s=\([0-9]*\).*/\1/p' <<<"$ours")
dk=$(sed -n 's/.* kept=\([0-9]*\).*/\1/p' <<<"$duck")
ok=$(sed -n 's/.* kept=\([0-9]*\).*/\1/p' <<<"$ours")
echo "== summary: optout ${o} records/s, DuckDB ${d} records/s, ratio optout/DuckDB = $(awk "BEGIN{printf \"%.2f\", $o/$d}"); kept: optout ${ok}, DuckDB ${dk}$([ "$ok" = "$dk" ] && echo ' (same)' || echo ' (DIFFERENT)')"
