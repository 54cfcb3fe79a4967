"""The Check.CheckBatch messages the start-up probes (probe.py, first_check.py) send and read, encoded by hand so the
probes need only grpcio, not generated code (protos/optout/v1/check.proto)."""


def varint(n):
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def length_delimited(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def check_batch_request(url):
    # CheckBatchRequest { subjects: [{ url }], purpose: USAGE_CATEGORY_TRAIN_AI (2) }
    return length_delimited(1, length_delimited(1, url.encode())) + bytes([0x10, 2])


def first_verdict(response):
    # CheckBatchResponse.results[0] (field 1, length-delimited) -> CheckResult.verdict (field 1, varint).
    if not response or response[0] != 0x0A:
        raise SystemExit(f'unexpected response {response[:16]!r}')
    i = 1
    while response[i] & 0x80:
        i += 1
    if response[i + 1] != 0x08:
        raise SystemExit(f'unexpected result {response[:16]!r}')
    return response[i + 2]
