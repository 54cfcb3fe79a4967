#!/usr/bin/env bash
# Publishes the server and the CLI the way the Docker image does (Dockerfile), without Docker:
#   scripts/publish.sh [OUT]            restore + publish into OUT/server and OUT/cli (default OUT: ./publish)
#   scripts/publish.sh restore          restore only (the Dockerfile's first step, so a failing package source is told
#                                       apart from a failing build)
#   scripts/publish.sh publish OUT      publish only, from an earlier restore (the Dockerfile's second step)
# Framework-dependent (the image's base is the ASP.NET Core runtime; here: the installed .NET 10 runtime), Release,
# ReadyToRun: the assemblies carry native code for one platform next to their IL, so a process starts without waiting
# for the JIT (the projects set PublishReadyToRun; benchmarks/startup/RESULTS.md has the measurements).
# ReadyToRun code is platform-specific, so the publish names a runtime identifier: RID=linux-arm64 (etc.) to choose;
# else TARGETARCH as Docker sets it (amd64, arm64) on Linux; else the SDK's own platform, which is what a plain
# `dotnet publish` of either project picks.
# Run: OUT/server/optout-server (or `dotnet OUT/server/optout-server.dll`) and OUT/cli/optout (or `dotnet OUT/cli/optout.dll`).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
step=all
case "${1:-}" in
  restore) step=restore ;;
  publish) step=publish; shift ;;
esac
out="${1:-publish}"
server="$root/src/OptOutRegistry.Server/OptOutRegistry.Server.csproj"
cli="$root/src/OptOutRegistry.Cli/OptOutRegistry.Cli.csproj"

rid="${RID:-}"
if [[ -z "$rid" && -n "${TARGETARCH:-}" ]]; then
  case "$TARGETARCH" in
    amd64) rid=linux-x64 ;;
    arm64) rid=linux-arm64 ;;
    arm) rid=linux-arm ;;
    *) echo "publish.sh: TARGETARCH '$TARGETARCH' has no .NET runtime identifier here; set RID" >&2; exit 2 ;;
  esac
fi
if [[ -z "$rid" ]]; then
  # The identifier the SDK itself infers for a ReadyToRun publish (Microsoft.NET.RuntimeIdentifierInference.targets).
  rid="$(dotnet msbuild "$server" -nologo -getProperty:NETCoreSdkPortableRuntimeIdentifier)"
fi

# The same global properties for restore and publish: the publish's --no-restore needs a restore for this RID with
# ReadyToRun on (it brings the crossgen2 compiler package).
props=(-r "$rid" -p:SelfContained=false -p:PublishReadyToRun=true -nologo)
if [[ "$step" != publish ]]; then
  dotnet restore "$server" "${props[@]}"
  dotnet restore "$cli" "${props[@]}"
fi
if [[ "$step" != restore ]]; then
  dotnet publish "$server" -c Release --no-restore "${props[@]}" -o "$out/server"
  dotnet publish "$cli" -c Release --no-restore "${props[@]}" -o "$out/cli"
  echo "published for $rid (ReadyToRun, framework-dependent): $out/server/optout-server.dll, $out/cli/optout.dll"
fi
