#!/usr/bin/env bash
# Runs the Core benchmarks side by side in one go:
#   1. the matcher table (build time, memory per selector, URL checks/s covered/uncovered, B/check, write
#      visibility) next to HashSet<string> of raw URLs and the canonicaliser alone, for each size;
#   2. Java Lucene 8 (Debian liblucene8-java) exact TermQuery and TermsEnum.seekExact lookups of the same
#      canonical URL keys in an on-disk index, compiled here with javac;
#   3. with --bdn, the BenchmarkDotNet suite ([MemoryDiagnoser], short job) for the same sizes.
# Usage: ./run.sh [--bdn] [sizes...]     (default sizes: 1000000 10000000)
# Needs: .NET 10 SDK, a JDK (javac), liblucene8-java. Rates are single-thread, per CPU-second.
set -euo pipefail
cd "$(dirname "$0")"

BDN=0
if [[ "${1:-}" == "--bdn" ]]; then
  BDN=1
  shift
fi
SIZES=("${@:-}")
if [[ -z "${SIZES[0]}" ]]; then
  SIZES=(1000000 10000000)
fi

JARS=/usr/share/java
LUCENE_CP="$(ls "$JARS"/lucene-core-8*.jar | head -n1):$(ls "$JARS"/lucene-analyzers-common-8*.jar | head -n1)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

dotnet build -c Release -v q -nologo . >/dev/null
DLL=bin/Release/net10.0/OptOutRegistry.Benchmarks.Core.dll

echo "## Matcher (.NET), single thread"
dotnet "$DLL" --table "${SIZES[@]}"

echo
echo "## Lucene $(basename "${LUCENE_CP%%:*}" .jar), single thread, on-disk index ($WORK)"
javac -cp "$LUCENE_CP" -d "$WORK/classes" lucene/LuceneLookup.java
echo "| keys indexed | queries | build s | TermQuery lookups/s | TermsEnum.seekExact lookups/s | hits (TermQuery / seekExact) |"
echo "|---:|---:|---:|---:|---:|---:|"
for size in "${SIZES[@]}"; do
  dotnet "$DLL" --export "$WORK/data-$size" "$size"
  java -Xmx6g -cp "$LUCENE_CP:$WORK/classes" LuceneLookup "$WORK/data-$size/keys.txt" "$WORK/data-$size/queries.txt" "$WORK/lucene-$size"
  rm -rf "$WORK/lucene-$size" "$WORK/data-$size"
done

if [[ "$BDN" == 1 ]]; then
  echo
  echo "## BenchmarkDotNet"
  BENCH_SIZES="$(IFS=,; echo "${SIZES[*]}")" dotnet "$DLL" --filter '*MatcherBenchmarks*' --job short
fi
