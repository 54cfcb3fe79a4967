"""Readiness probe for benchmarks/startup/warm-up.sh: spawns a server command and measures, from the spawn (wall clock):
  ready_ms         grpc.health.v1 Health/Check (service "") answers SERVING, polled every 5 ms on one connection, as a
                   load balancer would (until then the server is loading, catching up or warming up)
  warmup_ms        the server's own log line "Warm-up: N requests ... in X ms" (absent with --warm-up off)
  cpu_s            the server's CPU seconds (utime+stime, /proc/PID/stat) at ready_ms
  first_grpc_ms    right after SERVING: one Check.CheckBatch of a covered URL on a fresh connection (new channel: TCP +
                   HTTP/2 set-up included), the call's own latency; it must answer DISALLOWED (verdict_ok=1)
  first_http_ms    then one POST /v1/check (JSON) on a fresh HTTP/1.1 connection, its own latency
  warm_grpc_ms     the same two calls again on fresh connections after 200 more calls: the warm server's figure
  warm_http_ms
With READY_BY=log in the environment, "ready" is instead the server's own log line — "Warm-up: " with the warm-up on,
"Matcher rebuilt from the store" with it off — and nothing calls the server before the first check: a caller that
does not go through a load balancer's health probes, so the first check also pays for the gRPC paths a health probe
would have compiled (the log categories OptOutRegistry.Server.Warmup and .Matching must log Information).
Then stops the server (SIGTERM). The client is grpcio with hand-encoded messages; its own first-call costs are paid
during the health polling, before ready_ms.
Usage: python3 first_check.py GRPC_PORT HTTP_PORT COVERED_URL -- SERVER_COMMAND...
"""
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

import grpc

from checkwire import check_batch_request, first_verdict

grpc_port, http_port, url = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
command = sys.argv[sys.argv.index('--') + 1:]
LIMIT_S = 180
request = check_batch_request(url)
json_body = json.dumps({'subjects': [{'url': url}], 'purpose': 'USAGE_CATEGORY_TRAIN_AI'})


def now_ms():
    return (time.monotonic() - t0) * 1000


def grpc_fresh():
    channel = grpc.insecure_channel(f'127.0.0.1:{grpc_port}', options=[('grpc.use_local_subchannel_pool', 1)])
    check = channel.unary_unary('/optout.v1.Check/CheckBatch')
    sent = time.monotonic()
    response = check(request, timeout=60)
    took = (time.monotonic() - sent) * 1000
    channel.close()
    return took, first_verdict(response)


def http_fresh():
    sent = time.monotonic()
    connection = http.client.HTTPConnection('127.0.0.1', http_port, timeout=60)
    connection.request('POST', '/v1/check', body=json_body, headers={'Content-Type': 'application/json'})
    response = connection.getresponse()
    body = response.read()
    took = (time.monotonic() - sent) * 1000
    connection.close()
    if response.status != 200 or b'DISALLOWED' not in body:
        raise SystemExit(f'/v1/check answered {response.status}: {body[:200]!r}')
    return took


log = tempfile.NamedTemporaryFile(prefix='first-check-', suffix='.log', delete=False)
t0 = time.monotonic()
server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
try:
    # The port first (as probe.py): a gRPC channel that failed to connect backs off for a second or more.
    while True:
        with socket.socket() as s:
            try:
                s.connect(('127.0.0.1', grpc_port))
                break
            except OSError:
                pass
        if server.poll() is not None or now_ms() > LIMIT_S * 1000:
            raise SystemExit('the server exited or never opened its port')
        time.sleep(0.001)
    health_channel = grpc.insecure_channel(f'127.0.0.1:{grpc_port}', options=[('grpc.use_local_subchannel_pool', 1)])
    health = health_channel.unary_unary('/grpc.health.v1.Health/Check')
    by_log = os.environ.get('READY_BY') == 'log'
    while True:
        if by_log:
            log.flush()
            with open(log.name) as f:
                text = f.read()
            if ('--warm-up off' in ' '.join(command) and 'Matcher rebuilt from the store' in text) or 'Warm-up: ' in text:
                break
        else:
            try:
                if health(b'', timeout=5) == b'\x08\x01':  # HealthCheckResponse { status: SERVING }
                    break
            except grpc.RpcError:
                pass
        if server.poll() is not None or now_ms() > LIMIT_S * 1000:
            raise SystemExit('the server exited or never said SERVING')
        time.sleep(0.005)
    ready_ms = now_ms()
    with open(f'/proc/{server.pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    first_grpc_ms, verdict = grpc_fresh()
    first_http_ms = http_fresh()
    channel = grpc.insecure_channel(f'127.0.0.1:{grpc_port}', options=[('grpc.use_local_subchannel_pool', 1)])
    check = channel.unary_unary('/optout.v1.Check/CheckBatch')
    for _ in range(200):
        check(request, timeout=60)
    channel.close()
    warm_grpc_ms, _ = grpc_fresh()
    warm_http_ms = http_fresh()
    health_channel.close()
    log.flush()
    with open(log.name) as f:
        found = re.search(r'Warm-up: \d+ requests to this server\'s own addresses in (\d+) ms', f.read())
    warmup = f'\twarmup_ms={found.group(1)}' if found else ''
    print(f'ready_ms={ready_ms:.0f}\tcpu_s={cpu_s:.2f}\tfirst_grpc_ms={first_grpc_ms:.1f}\tfirst_http_ms={first_http_ms:.1f}'
          f'\twarm_grpc_ms={warm_grpc_ms:.1f}\twarm_http_ms={warm_http_ms:.1f}\tverdict_ok={int(verdict == 3)}{warmup}')
finally:
    server.terminate()
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    log.close()
    os.unlink(log.name)
