#!/usr/bin/env python3
"""python3-grpcio client for the interop tests: calls a server implementing optout.interop.v1.InteropTest.

    python3 python_client.py --address 127.0.0.1:5000 --protos protos --std-protos ../../src/OptOutRegistry.Grpc/Protos [--case NAME ...]

Prints one JSON object per case: {"case": name, "ok": bool, "detail": str}. Exit code 0 when all cases pass.
"""
import argparse
import json
import os
import sys
import threading
import time
import traceback
import uuid

import grpc

import interop_stubs

NON_ASCII = "Ошибка: ü 日本 100% «done»"


class CaseFailed(Exception):
    pass


def expect(cond, message):
    if not cond:
        raise CaseFailed(message)


def expect_code(err, code):
    expect(err.code() == code, "expected %s, got %s (%r)" % (code, err.code(), err.details()))


def run_cases(address, stubs, selected):
    pb2 = stubs.pb2
    options = [("grpc.max_receive_message_length", 8 * 1024 * 1024), ("grpc.max_send_message_length", 8 * 1024 * 1024)]
    channel = grpc.insecure_channel(address, options=options)
    stub = stubs.pb2_grpc.InteropTestStub(channel)

    def unary():
        r = stub.UnaryEcho(pb2.EchoRequest(message="hello", payload=b"\x00\x01"), timeout=10)
        expect(r.message == "hello" and r.payload == b"\x00\x01", "echo mismatch: %r" % r)

    def server_streaming():
        got = [r.message for r in stub.ServerStream(pb2.StreamRequest(count=10, payload_size=100, fail_after=-1, message="m"), timeout=10)]
        expect(got == ["m%d" % i for i in range(10)], "stream mismatch: %r" % got)

    def client_streaming():
        def gen():
            for i in range(10):
                yield pb2.EchoRequest(message=str(i), payload=b"x" * i)
        s = stub.ClientStream(gen(), timeout=10)
        expect(s.count == 10 and s.total_bytes == 45 and s.joined == ",".join(str(i) for i in range(10)), "summary mismatch: %r" % s)

    def bidi():
        lock = threading.Condition()
        outbox = []
        done = [False]

        def gen():
            for i in range(10):
                with lock:
                    outbox.append(i)
                yield pb2.EchoRequest(message="ping%d" % i)
                with lock:
                    # Ping-pong: wait for the echo before sending the next message.
                    lock.wait_for(lambda: len(received) > i or done[0], timeout=5)

        received = []
        for r in stub.Bidi(gen(), timeout=10):
            with lock:
                received.append(r.message)
                lock.notify_all()
        done[0] = True
        expect(received == ["ping%d" % i for i in range(10)], "bidi mismatch: %r" % received)

    def deadline_exceeded():
        sid = str(uuid.uuid4())
        try:
            # 1.5 s, not less: the handler must have started for there to be something to cancel, and a loaded test
            # host once took longer than 0.3 s to dispatch the call (outcome: not even seen).
            stub.Sleep(pb2.SleepRequest(ms=10000, id=sid), timeout=1.5)
            raise CaseFailed("Sleep returned despite the deadline")
        except grpc.RpcError as e:
            expect_code(e, grpc.StatusCode.DEADLINE_EXCEEDED)
        outcome = stub.SleepOutcome(pb2.OutcomeQuery(id=sid, wait_ms=5000), timeout=10)
        expect(outcome.seen and outcome.cancelled, "server handler was not cancelled: %r" % outcome)

    def cancellation():
        sid = str(uuid.uuid4())
        future = stub.Sleep.future(pb2.SleepRequest(ms=10000, id=sid), timeout=30)
        time.sleep(0.3)
        future.cancel()
        try:
            future.result()
            raise CaseFailed("cancelled call returned a result")
        except grpc.FutureCancelledError:
            pass
        outcome = stub.SleepOutcome(pb2.OutcomeQuery(id=sid, wait_ms=5000), timeout=10)
        expect(outcome.seen and outcome.cancelled, "server did not observe the cancellation: %r" % outcome)

    def error_non_ascii():
        try:
            stub.Fail(pb2.FailRequest(code=3, message=NON_ASCII), timeout=10)
            raise CaseFailed("Fail returned")
        except grpc.RpcError as e:
            expect_code(e, grpc.StatusCode.INVALID_ARGUMENT)
            expect(e.details() == NON_ASCII, "details mismatch: %r" % e.details())
            trailers = dict(e.trailing_metadata() or ())
            expect(trailers.get("fail-reason") == "requested", "trailers mismatch: %r" % (trailers,))
            expect(trailers.get("fail-detail-bin") == b"\x00\x01\x02\xff", "binary trailer mismatch: %r" % (trailers,))

    def trailers_only():
        call = stub.Fail.with_call
        try:
            call(pb2.FailRequest(code=5, message="no such work"), timeout=10)
            raise CaseFailed("Fail returned")
        except grpc.RpcError as e:
            expect_code(e, grpc.StatusCode.NOT_FOUND)
            expect(e.details() == "no such work", "details mismatch: %r" % e.details())

    def unknown_exception():
        try:
            stub.Throw(pb2.EchoRequest(message="x"), timeout=10)
            raise CaseFailed("Throw returned")
        except grpc.RpcError as e:
            expect_code(e, grpc.StatusCode.UNKNOWN)
            expect("secret" not in (e.details() or ""), "internal detail leaked: %r" % e.details())

    def unimplemented():
        try:
            stub.NotBound(pb2.EchoRequest(), timeout=10)
            raise CaseFailed("NotBound returned")
        except grpc.RpcError as e:
            expect_code(e, grpc.StatusCode.UNIMPLEMENTED)
        unknown = channel.unary_unary("/optout.interop.v1.NoSuchService/Call",
                                      request_serializer=pb2.EchoRequest.SerializeToString,
                                      response_deserializer=pb2.EchoResponse.FromString)
        try:
            unknown(pb2.EchoRequest(), timeout=10)
            raise CaseFailed("unknown service returned")
        except grpc.RpcError as e:
            expect_code(e, grpc.StatusCode.UNIMPLEMENTED)

    def large_3mib():
        payload = os.urandom(3 * 1024 * 1024)
        r = stub.UnaryEcho(pb2.EchoRequest(payload=payload), timeout=30)
        expect(r.payload == payload, "3 MiB payload mismatch")

    def over_limit():
        try:
            stub.UnaryEcho(pb2.EchoRequest(payload=b"\x00" * (5 * 1024 * 1024)), timeout=30)
            raise CaseFailed("5 MiB request was accepted")
        except grpc.RpcError as e:
            expect_code(e, grpc.StatusCode.RESOURCE_EXHAUSTED)

    def gzip():
        gz_channel = grpc.insecure_channel(address, options=options, compression=grpc.Compression.Gzip)
        gz_stub = stubs.pb2_grpc.InteropTestStub(gz_channel)
        text = "compressible " * 20000
        r = gz_stub.UnaryEcho(pb2.EchoRequest(message=text), timeout=10)
        expect(r.message == text, "gzip echo mismatch")
        got = [x.message for x in gz_stub.ServerStream(pb2.StreamRequest(count=3, payload_size=5000, fail_after=-1, message="z"), timeout=10)]
        expect(got == ["z0", "z1", "z2"], "gzip stream mismatch: %r" % got)
        gz_channel.close()

    def metadata():
        md = (("echo-text", "plain"), ("echo-data-bin", b"\x00\xff\x10"))
        r, call = stub.EchoMetadata.with_call(pb2.EchoRequest(), metadata=md, timeout=10)
        pairs = {p.key: p for p in r.pairs}
        expect(pairs["echo-text"].value == "plain", "ascii metadata mismatch: %r" % pairs.get("echo-text"))
        expect(pairs["echo-data-bin"].value_bytes == b"\x00\xff\x10", "binary metadata mismatch")
        initial = dict(call.initial_metadata())
        trailing = dict(call.trailing_metadata())
        expect(initial.get("echo-data-bin") == b"\x00\xff\x10", "binary response header mismatch: %r" % (initial,))
        expect(trailing.get("echo-text") == "plain", "trailer mismatch: %r" % (trailing,))

    def health():
        check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                    request_serializer=stubs.health.HealthCheckRequest.SerializeToString,
                                    response_deserializer=stubs.health.HealthCheckResponse.FromString)
        r = check(stubs.health.HealthCheckRequest(service=""), timeout=10)
        expect(r.status == stubs.health.HealthCheckResponse.SERVING, "server not SERVING: %r" % r)
        r = check(stubs.health.HealthCheckRequest(service="optout.interop.v1.InteropTest"), timeout=10)
        expect(r.status == stubs.health.HealthCheckResponse.SERVING, "service not SERVING: %r" % r)

    def reflection():
        from google.protobuf import descriptor_pb2
        for version, module in (("v1", stubs.reflection_v1), ("v1alpha", stubs.reflection_v1alpha)):
            info = channel.stream_stream("/grpc.reflection.%s.ServerReflection/ServerReflectionInfo" % version,
                                         request_serializer=module.ServerReflectionRequest.SerializeToString,
                                         response_deserializer=module.ServerReflectionResponse.FromString)
            requests = [module.ServerReflectionRequest(list_services=""),
                        module.ServerReflectionRequest(file_containing_symbol="optout.interop.v1.InteropTest")]
            responses = list(info(iter(requests), timeout=10))
            names = [s.name for s in responses[0].list_services_response.service]
            for expected in ("optout.interop.v1.InteropTest", "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"):
                expect(expected in names, "%s: %s not listed: %r" % (version, expected, names))
            files = []
            for raw in responses[1].file_descriptor_response.file_descriptor_proto:
                fd = descriptor_pb2.FileDescriptorProto()
                fd.ParseFromString(raw)
                files.append(fd.name)
            expect(files and files[0] == "interop_test.proto", "%s: wrong file: %r" % (version, files))
            expect("google/protobuf/timestamp.proto" in files, "%s: dependency missing: %r" % (version, files))

    cases = [unary, server_streaming, client_streaming, bidi, deadline_exceeded, cancellation, error_non_ascii,
             trailers_only, unknown_exception, unimplemented, large_3mib, over_limit, gzip, metadata, health, reflection]
    all_ok = True
    for case in cases:
        if selected and case.__name__ not in selected:
            continue
        try:
            case()
            result = {"case": case.__name__, "ok": True, "detail": ""}
        except CaseFailed as e:
            result = {"case": case.__name__, "ok": False, "detail": str(e)}
        except Exception as e:  # An unexpected error is a failed case, with its traceback.
            result = {"case": case.__name__, "ok": False, "detail": "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc())}
        all_ok = all_ok and result["ok"]
        print(json.dumps(result), flush=True)
    channel.close()
    return all_ok


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--protos", required=True)
    parser.add_argument("--std-protos", required=True)
    parser.add_argument("--case", action="append", default=[])
    args = parser.parse_args()
    stubs = interop_stubs.load(os.path.abspath(args.protos), os.path.abspath(args.std_protos))
    sys.exit(0 if run_cases(args.address, stubs, set(args.case)) else 1)


if __name__ == "__main__":
    main()
