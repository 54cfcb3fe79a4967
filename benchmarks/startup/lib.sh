# Shared by run.sh and warm-up.sh (sourced; needs $root, the repository root).

# The python3 that has grpcio (Debian package python3-grpcio), $PYTHON first; exits with the script's name otherwise.
grpc_python() {
  local candidate
  for candidate in ${PYTHON:-} python3 /usr/bin/python3; do
    if "$candidate" -c 'import grpc' 2>/dev/null; then echo "$candidate"; return; fi
  done
  echo "$(basename "$0"): no python3 with grpcio (Debian package python3-grpcio); set PYTHON" >&2
  exit 2
}

# This machine's runtime identifier, for framework-dependent publishes with ReadyToRun.
publish_rid() {
  dotnet msbuild "$root/src/OptOutRegistry.Server/OptOutRegistry.Server.csproj" -nologo -getProperty:NETCoreSdkPortableRuntimeIdentifier
}

# publish_side SIDE PROJECT RID OUT: publishes src/OptOutRegistry.PROJECT (Release, framework-dependent) into OUT,
# IL only for SIDE jit, ReadyToRun for SIDE r2r.
publish_side() {
  local r2r=false
  [[ "$1" == r2r ]] && r2r=true
  dotnet publish "$root/src/OptOutRegistry.$2" -c Release -r "$3" -p:SelfContained=false -p:PublishReadyToRun=$r2r \
    -o "$4" -nologo -v q >/dev/null
}
