"""Start-up probe for benchmarks/startup/run.sh: spawns a server command and measures, from the spawn (wall clock):
  port_ms        the gRPC port accepts a TCP connection
  first_ms       the first Check.CheckBatch call is answered (any verdict; first_call_ms: that call's own latency)
  loaded_ms      a covered URL answers DISALLOWED: the server has built its matcher from the store (until then it
                 answers from an empty matcher)
  next100_*      latency of the 100 calls after that, one at a time
  cpu_s, rss_mb  the server's CPU seconds (utime+stime, /proc/PID/stat) and resident memory at loaded_ms
Then stops the server (SIGTERM). The client is grpcio with the request encoded by hand (no generated code), created and
connected only after the port opens, so its own start-up is outside the figures except in first_call_ms (a few ms).
Usage: python3 probe.py PORT COVERED_URL -- SERVER_COMMAND...
"""
import os
import socket
import subprocess
import sys
import time

import grpc

from checkwire import check_batch_request, first_verdict

port, url = int(sys.argv[1]), sys.argv[2]
command = sys.argv[sys.argv.index('--') + 1:]
LIMIT_MS = 180_000
request = check_batch_request(url)


def elapsed_ms():
    return (time.monotonic() - t0) * 1000


t0 = time.monotonic()
server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    while True:
        with socket.socket() as s:
            try:
                s.connect(('127.0.0.1', port))
                break
            except OSError:
                pass
        if server.poll() is not None or elapsed_ms() > LIMIT_MS:
            raise SystemExit('the server exited or never opened its port')
        time.sleep(0.001)
    port_ms = elapsed_ms()
    channel = grpc.insecure_channel(f'127.0.0.1:{port}')
    check = channel.unary_unary('/optout.v1.Check/CheckBatch')
    first_ms = first_call_ms = None
    while True:
        sent = elapsed_ms()
        try:
            response = check(request, timeout=60)
        except grpc.RpcError as error:
            if elapsed_ms() > LIMIT_MS:
                raise SystemExit(f'no answer: {error}')
            time.sleep(0.002)
            continue
        now = elapsed_ms()
        if first_ms is None:
            first_ms, first_call_ms = now, now - sent
        if first_verdict(response) == 3:  # VERDICT_DISALLOWED
            loaded_ms = now
            break
        if now > LIMIT_MS:
            raise SystemExit('the covered URL never answered DISALLOWED')
        time.sleep(0.005)
    with open(f'/proc/{server.pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    with open(f'/proc/{server.pid}/status') as f:
        rss_mb = next(int(line.split()[1]) for line in f if line.startswith('VmRSS')) / 1024
    latencies = []
    for _ in range(100):
        sent = time.monotonic()
        check(request, timeout=60)
        latencies.append((time.monotonic() - sent) * 1000)
    latencies.sort()
    channel.close()
    print(f'port_ms={port_ms:.0f}\tfirst_ms={first_ms:.0f}\tfirst_call_ms={first_call_ms:.1f}\tloaded_ms={loaded_ms:.0f}'
          f'\tcpu_s={cpu_s:.2f}\trss_mb={rss_mb:.0f}\tnext100_p50_ms={latencies[50]:.2f}\tnext100_max_ms={latencies[-1]:.2f}')
finally:
    server.terminate()
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
