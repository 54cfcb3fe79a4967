#!/usr/bin/env bash
# Check-service load benchmark, side by side with Redis in ONE run (issue 7 item 7).
# Usage: benchmarks/OptOutRegistry.Benchmarks.Check/run.sh [SELECTORS]   (default 1000000)
# Needs: dotnet 10 SDK, redis-server and redis-cli (Debian package redis-server), python3.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
n="${1:-1000000}"
work="$(mktemp -d)"
grpc_port=57051
redis_port=57379
seconds="${SECONDS_PER_RUN:-10}"
trap 'kill ${server_pid:-} ${redis_pid:-} 2>/dev/null || true; rm -rf "$work"' EXIT

dotnet build -c Release "$here" -v q -nologo >/dev/null
dotnet build -c Release "$root/src/OptOutRegistry.Cli" -v q -nologo >/dev/null || echo "(CLI Release build failed; using an existing optout.dll)"
bench="dotnet $here/bin/Release/net10.0/OptOutRegistry.Benchmarks.Check.dll"
server="$root/src/OptOutRegistry.Server/bin/Release/net10.0/optout-server.dll"
cli="$root/src/OptOutRegistry.Cli/bin/Release/net10.0/optout.dll"
[ -f "$cli" ] || cli="$root/src/OptOutRegistry.Cli/bin/Debug/net10.0/optout.dll"

# The server: per-address rate limit off (the load generator is one address), request logging off.
dotnet "$server" --urls "http://127.0.0.1:$grpc_port" --http-urls none --data-dir "$work/data" \
  --check-rate-limit-per-address 0 --Logging:LogLevel:Default=Warning >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$grpc_port) 2>/dev/null && break; sleep 0.2; done

echo "== seeding $n url selectors through the Registry service"
$bench seed --server "http://127.0.0.1:$grpc_port" --selectors "$n" --queries "$work/queries.txt"
sleep 2

echo "== OptOutRegistry over loopback (client and server on this machine)"
$bench batch  --server "http://127.0.0.1:$grpc_port" --queries "$work/queries.txt" --seconds "$seconds" --concurrency 4
$bench stream --server "http://127.0.0.1:$grpc_port" --queries "$work/queries.txt" --seconds "$seconds"
$bench unary  --server "http://127.0.0.1:$grpc_port" --queries "$work/queries.txt" --seconds "$seconds" --rate 10000
start=$(date +%s.%N)
dotnet "$cli" check --server "http://127.0.0.1:$grpc_port" --purpose train-ai - <"$work/queries.txt" >"$work/cli.out"
end=$(date +%s.%N)
lines=$(wc -l <"$work/cli.out")
python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'cli\tlines={sys.argv[3]}\tseconds={s:.2f}\turls_per_s={int(sys.argv[3])/s:.0f}')" "$start" "$end" "$lines"

echo "== Redis $(redis-server --version | awk '{print $3}') on loopback: SADD the same URLs, pipelined SISMEMBER of the same queries"
redis-server --port "$redis_port" --save '' --appendonly no --daemonize no >"$work/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
python3 - "$n" "$work" <<'PY'
import sys
n, work = int(sys.argv[1]), sys.argv[2]
def covered(i): return f"https://www.site{i % 50000}.example/gallery/{i // 50000}/image-{i}.jpg"
def resp(*parts): return "*%d\r\n" % len(parts) + "".join("$%d\r\n%s\r\n" % (len(p.encode()), p) for p in parts)
with open(f"{work}/sadd.resp", "w") as f:
    for i in range(n): f.write(resp("SADD", "optout", covered(i)))
with open(f"{work}/queries.txt") as q, open(f"{work}/sismember.resp", "w") as f:
    for line in q: f.write(resp("SISMEMBER", "optout", line.rstrip("\n")))
PY
redis-cli -p "$redis_port" --pipe <"$work/sadd.resp" >/dev/null
start=$(date +%s.%N)
redis-cli -p "$redis_port" --pipe <"$work/sismember.resp" >"$work/redis.out"
end=$(date +%s.%N)
python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'redis\tsismember={sys.argv[3]}\tseconds={s:.2f}\tqueries_per_s={int(sys.argv[3])/s:.0f}')" "$start" "$end" "$n"
