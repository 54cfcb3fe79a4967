#!/usr/bin/env python3
"""python3-grpcio server implementing optout.interop.v1.InteropTest, the reference our client is tested against.

    python3 python_server.py --protos protos --std-protos ../../src/OptOutRegistry.Grpc/Protos

Binds 127.0.0.1 on a free port, prints "PORT <n>" and serves until stdin closes.
"""
import argparse
import os
import sys
import threading
import time
from concurrent import futures

import grpc

import interop_stubs


def build_servicer(stubs):
    pb2 = stubs.pb2
    outcomes = {}
    outcomes_lock = threading.Lock()

    def outcome_slot(sid):
        with outcomes_lock:
            return outcomes.setdefault(sid, {"event": threading.Event(), "result": None})

    class Servicer(stubs.pb2_grpc.InteropTestServicer):
        def UnaryEcho(self, request, context):
            payload = b"\x00" * request.response_size if request.response_size > 0 else request.payload
            return pb2.EchoResponse(message=request.message, payload=payload)

        def ServerStream(self, request, context):
            for i in range(request.count):
                if request.fail_after >= 0 and i == request.fail_after:
                    context.abort(_status(request.fail_code), "failed after %d messages: %s" % (i, request.message))
                if request.delay_ms > 0:
                    time.sleep(request.delay_ms / 1000.0)
                yield pb2.EchoResponse(message="%s%d" % (request.message, i), payload=b"\x00" * request.payload_size)
            if request.fail_after >= 0 and request.fail_after == request.count:
                context.abort(_status(request.fail_code), "failed after %d messages: %s" % (request.count, request.message))

        def ClientStream(self, request_iterator, context):
            count, total, joined = 0, 0, []
            for r in request_iterator:
                count += 1
                total += len(r.payload)
                joined.append(r.message)
            return pb2.Summary(count=count, total_bytes=total, joined=",".join(joined))

        def Bidi(self, request_iterator, context):
            for r in request_iterator:
                yield pb2.EchoResponse(message=r.message, payload=r.payload)

        def Sleep(self, request, context):
            slot = outcome_slot(request.id)
            end = time.monotonic() + request.ms / 1000.0
            while time.monotonic() < end:
                if not context.is_active():
                    slot["result"] = pb2.OutcomeResult(seen=True, cancelled=True)
                    slot["event"].set()
                    return pb2.EchoResponse()
                time.sleep(0.01)
            slot["result"] = pb2.OutcomeResult(seen=True, completed=True)
            slot["event"].set()
            return pb2.EchoResponse(message="slept")

        def Fail(self, request, context):
            context.set_trailing_metadata((("fail-reason", "requested"), ("fail-detail-bin", b"\x00\x01\x02\xff")))
            context.abort(_status(request.code), request.message)

        def Throw(self, request, context):
            raise RuntimeError("secret internal detail " + request.message)

        def EchoMetadata(self, request, context):
            response = pb2.MetadataResponse()
            echo = []
            for key, value in context.invocation_metadata():
                if isinstance(value, bytes):
                    response.pairs.add(key=key, value_bytes=value)
                else:
                    response.pairs.add(key=key, value=value)
                if key.startswith("echo-"):
                    echo.append((key, value))
            context.send_initial_metadata(tuple(echo))
            context.set_trailing_metadata(tuple(echo))
            return response

        def SleepOutcome(self, request, context):
            slot = outcome_slot(request.id)
            if slot["event"].wait(request.wait_ms / 1000.0):
                return slot["result"]
            return pb2.OutcomeResult()

    return Servicer()


def _status(code):
    for s in grpc.StatusCode:
        if s.value[0] == code:
            return s
    return grpc.StatusCode.UNKNOWN


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--protos", required=True)
    parser.add_argument("--std-protos", required=True)
    args = parser.parse_args()
    stubs = interop_stubs.load(os.path.abspath(args.protos), os.path.abspath(args.std_protos))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), compression=grpc.Compression.Gzip)
    stubs.pb2_grpc.add_InteropTestServicer_to_server(build_servicer(stubs), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print("PORT %d" % port, flush=True)
    # Serve until the parent closes our stdin (or dies).
    sys.stdin.read()
    server.stop(grace=1).wait()


if __name__ == "__main__":
    main()
