#!/usr/bin/env node
// @grpc/grpc-js client for the interop tests: calls a server implementing optout.interop.v1.InteropTest.
//
//   node node_client.js --address 127.0.0.1:5000 --protos ../protos --std-protos ../../../src/OptOutRegistry.Grpc/Protos [--case NAME ...]
//
// Prints one JSON object per case: {"case": name, "ok": bool, "detail": str}. Exit code 0 when all cases pass.
// The cases mirror python_client.py, so two independent reference implementations check the same behaviour.
'use strict';

const crypto = require('crypto');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const descriptor = require('protobufjs/ext/descriptor');

const NON_ASCII = 'Ошибка: ü 日本 100% «done»';
const MiB = 1024 * 1024;

function parseArgs(argv) {
  const args = { cases: [] };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i];
    const value = argv[i + 1];
    if (value === undefined) {
      throw new Error(`${name} needs a value`);
    }
    i++;
    if (name === '--address') args.address = value;
    else if (name === '--protos') args.protos = path.resolve(value);
    else if (name === '--std-protos') args.stdProtos = path.resolve(value);
    else if (name === '--case') args.cases.push(value);
    else throw new Error(`unknown argument ${name}`);
  }
  for (const required of ['address', 'protos', 'stdProtos']) {
    if (!args[required]) throw new Error(`--${required.replace('stdProtos', 'std-protos')} is required`);
  }
  return args;
}

class CaseFailed extends Error {}

function expect(cond, message) {
  if (!cond) throw new CaseFailed(message);
}

function codeName(code) {
  return Object.keys(grpc.status).find((k) => grpc.status[k] === code) || String(code);
}

function expectCode(err, code) {
  expect(err && err.code === code, `expected ${codeName(code)}, got ${err ? codeName(err.code) : 'no error'} (${err && JSON.stringify(err.details)})`);
}

function deadline(ms) {
  return new Date(Date.now() + ms);
}

// Promisified unary call that also returns the response headers and the status (with trailers).
function unary(client, method, request, { metadata = new grpc.Metadata(), options = {} } = {}) {
  return new Promise((resolve) => {
    let headers = null;
    let result = null;
    const call = client[method](request, metadata, options, (err, response) => {
      result = { err, response };
    });
    call.on('metadata', (md) => { headers = md; });
    call.on('status', (status) => {
      // 'status' comes after the callback; wait a tick so both are in.
      setImmediate(() => resolve({ ...(result || {}), headers, status }));
    });
  });
}

function expectUnaryError(r, code) {
  expect(r.err, `expected ${codeName(code)}, the call returned ${JSON.stringify(r.response)}`);
  expectCode(r.err, code);
}

function collectStream(call) {
  return new Promise((resolve) => {
    const messages = [];
    let error = null;
    call.on('data', (m) => messages.push(m));
    call.on('error', (e) => { error = e; });
    call.on('status', (status) => setImmediate(() => resolve({ messages, error, status })));
  });
}

function load(args) {
  const options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [args.protos, args.stdProtos] };
  const interop = grpc.loadPackageDefinition(protoLoader.loadSync('interop_test.proto', options));
  const health = grpc.loadPackageDefinition(protoLoader.loadSync('grpc/health/v1/health.proto', options));
  const reflV1 = grpc.loadPackageDefinition(protoLoader.loadSync('grpc/reflection/v1/reflection.proto', options));
  const reflV1alpha = grpc.loadPackageDefinition(protoLoader.loadSync('grpc/reflection/v1alpha/reflection.proto', options));
  return {
    InteropTest: interop.optout.interop.v1.InteropTest,
    Health: health.grpc.health.v1.Health,
    Reflection: { v1: reflV1.grpc.reflection.v1.ServerReflection, v1alpha: reflV1alpha.grpc.reflection.v1alpha.ServerReflection },
  };
}

function buildCases(address, stubs) {
  const channelOptions = { 'grpc.max_receive_message_length': 8 * MiB, 'grpc.max_send_message_length': 8 * MiB };
  const insecure = grpc.credentials.createInsecure();
  const client = new stubs.InteropTest(address, insecure, channelOptions);
  const clients = [client];

  async function sleepOutcome(id) {
    const r = await unary(client, 'SleepOutcome', { id, wait_ms: 5000 }, { options: { deadline: deadline(10000) } });
    expect(!r.err, `SleepOutcome failed: ${r.err && r.err.message}`);
    return r.response;
  }

  return {
    async unary() {
      const r = await unary(client, 'UnaryEcho', { message: 'héllo', payload: Buffer.from([0, 1]) }, { options: { deadline: deadline(10000) } });
      expect(!r.err, `call failed: ${r.err && r.err.message}`);
      expect(r.response.message === 'héllo' && Buffer.compare(r.response.payload, Buffer.from([0, 1])) === 0, `echo mismatch: ${JSON.stringify(r.response)}`);
      expect(r.status.code === grpc.status.OK, `status ${codeName(r.status.code)}`);
    },

    async server_streaming() {
      const r = await collectStream(client.ServerStream({ count: 10, payload_size: 100, fail_after: -1, message: 'm' }, { deadline: deadline(10000) }));
      expect(!r.error, `stream failed: ${r.error && r.error.message}`);
      const got = r.messages.map((m) => m.message);
      expect(JSON.stringify(got) === JSON.stringify([...Array(10).keys()].map((i) => `m${i}`)), `stream mismatch: ${JSON.stringify(got)}`);
      expect(r.messages.every((m) => m.payload.length === 100), 'payload sizes mismatch');
    },

    async server_streaming_error() {
      // An error status after some messages arrives in the trailers (not trailers-only). grpc-js may drop messages
      // that are still queued when the error status arrives (grpc/grpc-node#2764, open), so only a prefix of the two
      // messages is required here; our own client checks that all of them arrive (ClientServerTests).
      const r = await collectStream(client.ServerStream({ count: 5, fail_after: 2, fail_code: grpc.status.ABORTED, message: 'ж' }, { deadline: deadline(10000) }));
      const got = r.messages.map((m) => m.message);
      expect(JSON.stringify(got) === JSON.stringify(['ж0', 'ж1'].slice(0, got.length)), `messages before the error: ${JSON.stringify(got)}`);
      expectCode(r.error, grpc.status.ABORTED);
      expect(r.error.details === 'failed after 2 messages: ж', `details mismatch: ${JSON.stringify(r.error.details)}`);
    },

    async client_streaming() {
      const summary = await new Promise((resolve, reject) => {
        const call = client.ClientStream({ deadline: deadline(10000) }, (err, s) => (err ? reject(err) : resolve(s)));
        for (let i = 0; i < 10; i++) call.write({ message: String(i), payload: Buffer.alloc(i, 0x78) });
        call.end();
      });
      expect(summary.count === 10 && summary.total_bytes === 45 && summary.joined === '0,1,2,3,4,5,6,7,8,9', `summary mismatch: ${JSON.stringify(summary)}`);
    },

    async bidi() {
      // Ping-pong: the next message is written only after the echo of the previous one arrived, so the server must
      // answer each message while the request stream is still open.
      const call = client.Bidi({ deadline: deadline(10000) });
      const received = [];
      const done = collectStream(call);
      await new Promise((resolve) => {
        let i = 0;
        call.on('data', (m) => {
          received.push(m.message);
          i++;
          if (i < 10) call.write({ message: `ping${i}` });
          else { call.end(); resolve(); }
        });
        call.on('error', resolve);
        call.write({ message: 'ping0' });
      });
      const r = await done;
      expect(!r.error, `bidi failed: ${r.error && r.error.message}`);
      expect(JSON.stringify(received) === JSON.stringify([...Array(10).keys()].map((i) => `ping${i}`)), `bidi mismatch: ${JSON.stringify(received)}`);
    },

    async deadline_exceeded() {
      const id = crypto.randomUUID();
      const started = Date.now();
      const r = await unary(client, 'Sleep', { ms: 10000, id }, { options: { deadline: deadline(300) } });
      expectUnaryError(r, grpc.status.DEADLINE_EXCEEDED);
      expect(Date.now() - started < 5000, `the deadline took ${Date.now() - started} ms to fire`);
      const outcome = await sleepOutcome(id);
      expect(outcome.seen && outcome.cancelled, `server handler was not cancelled: ${JSON.stringify(outcome)}`);
    },

    async cancellation() {
      const id = crypto.randomUUID();
      let call;
      const r = await new Promise((resolve) => {
        call = client.Sleep({ ms: 10000, id }, new grpc.Metadata(), { deadline: deadline(30000) }, (err, response) => resolve({ err, response }));
        setTimeout(() => call.cancel(), 300);
      });
      expectUnaryError(r, grpc.status.CANCELLED);
      const outcome = await sleepOutcome(id);
      expect(outcome.seen && outcome.cancelled, `server did not observe the cancellation: ${JSON.stringify(outcome)}`);
    },

    async error_non_ascii() {
      const r = await unary(client, 'Fail', { code: grpc.status.INVALID_ARGUMENT, message: NON_ASCII }, { options: { deadline: deadline(10000) } });
      expectUnaryError(r, grpc.status.INVALID_ARGUMENT);
      expect(r.err.details === NON_ASCII, `details mismatch: ${JSON.stringify(r.err.details)}`);
      const trailers = r.err.metadata;
      expect(trailers.get('fail-reason')[0] === 'requested', `trailer mismatch: ${JSON.stringify(trailers.getMap())}`);
      const bin = trailers.get('fail-detail-bin')[0];
      expect(Buffer.isBuffer(bin) && Buffer.compare(bin, Buffer.from([0, 1, 2, 255])) === 0, `binary trailer mismatch: ${JSON.stringify(bin)}`);
    },

    async trailers_only() {
      const r = await unary(client, 'Fail', { code: grpc.status.NOT_FOUND, message: 'no such work' }, { options: { deadline: deadline(10000) } });
      expectUnaryError(r, grpc.status.NOT_FOUND);
      expect(r.err.details === 'no such work', `details mismatch: ${JSON.stringify(r.err.details)}`);
      // Trailers-only: one HEADERS frame, so grpc-js reports no separate response headers before the status.
      expect(r.err.metadata.get('fail-reason')[0] === 'requested', 'trailer missing from a trailers-only response');
    },

    async status_codes() {
      // Every code a handler may return arrives unchanged, with its message (doc/statuscodes.md).
      for (let code = 1; code <= 16; code++) {
        const message = `code ${code}: ${NON_ASCII}`;
        const r = await unary(client, 'Fail', { code, message }, { options: { deadline: deadline(10000) } });
        expectUnaryError(r, code);
        expect(r.err.details === message, `code ${code}: details mismatch: ${JSON.stringify(r.err.details)}`);
      }
    },

    async unknown_exception() {
      const r = await unary(client, 'Throw', { message: 'x' }, { options: { deadline: deadline(10000) } });
      expectUnaryError(r, grpc.status.UNKNOWN);
      expect(!(r.err.details || '').includes('secret'), `internal detail leaked: ${JSON.stringify(r.err.details)}`);
    },

    async unimplemented() {
      const r = await unary(client, 'NotBound', {}, { options: { deadline: deadline(10000) } });
      expectUnaryError(r, grpc.status.UNIMPLEMENTED);
      const raw = new grpc.Client(address, insecure);
      clients.push(raw);
      const err = await new Promise((resolve) => {
        raw.makeUnaryRequest('/optout.interop.v1.NoSuchService/Call', (x) => x, (x) => x, Buffer.alloc(0),
          new grpc.Metadata(), { deadline: deadline(10000) }, (e) => resolve(e));
      });
      expectCode(err, grpc.status.UNIMPLEMENTED);
    },

    async large_3mib() {
      const payload = crypto.randomBytes(3 * MiB);
      const r = await unary(client, 'UnaryEcho', { payload }, { options: { deadline: deadline(30000) } });
      expect(!r.err, `call failed: ${r.err && r.err.message}`);
      expect(Buffer.compare(r.response.payload, payload) === 0, '3 MiB payload mismatch');
      // And a 3 MiB response to a small request, split across many DATA frames by the server.
      const big = await unary(client, 'UnaryEcho', { response_size: 3 * MiB }, { options: { deadline: deadline(30000) } });
      expect(!big.err && big.response.payload.length === 3 * MiB, `3 MiB response failed: ${big.err && big.err.message}`);
    },

    async over_limit() {
      // Our server's receive limit is 4 MiB: a 5 MiB request is RESOURCE_EXHAUSTED.
      const r = await unary(client, 'UnaryEcho', { payload: Buffer.alloc(5 * MiB) }, { options: { deadline: deadline(30000) } });
      expectUnaryError(r, grpc.status.RESOURCE_EXHAUSTED);
      // And grpc-js's own receive limit rejects a response above it (checked by the client on the length prefix).
      const small = new stubs.InteropTest(address, insecure, { 'grpc.max_receive_message_length': 1 * MiB });
      clients.push(small);
      const big = await unary(small, 'UnaryEcho', { response_size: 2 * MiB }, { options: { deadline: deadline(30000) } });
      expectUnaryError(big, grpc.status.RESOURCE_EXHAUSTED);
    },

    async gzip() {
      // grpc.default_compression_algorithm 2 = gzip: requests are compressed; our test server gzips its responses.
      const gz = new stubs.InteropTest(address, insecure, { ...channelOptions, 'grpc.default_compression_algorithm': 2 });
      clients.push(gz);
      const text = 'compressible '.repeat(20000);
      const r = await unary(gz, 'UnaryEcho', { message: text }, { options: { deadline: deadline(10000) } });
      expect(!r.err, `gzip call failed: ${r.err && r.err.message}`);
      expect(r.response.message === text, 'gzip echo mismatch');
      const encoding = r.headers && r.headers.get('grpc-encoding');
      expect(r.headers !== null, 'no response headers');
      const s = await collectStream(gz.ServerStream({ count: 3, payload_size: 5000, fail_after: -1, message: 'z' }, { deadline: deadline(10000) }));
      expect(!s.error, `gzip stream failed: ${s.error && s.error.message}`);
      expect(JSON.stringify(s.messages.map((m) => m.message)) === '["z0","z1","z2"]', `gzip stream mismatch (response encoding ${encoding})`);
    },

    async metadata() {
      const md = new grpc.Metadata();
      md.add('echo-text', 'plain');
      md.add('echo-data-bin', Buffer.from([0x00, 0xff, 0x10]));
      md.add('other-key', 'not echoed');
      const r = await unary(client, 'EchoMetadata', {}, { metadata: md, options: { deadline: deadline(10000) } });
      expect(!r.err, `call failed: ${r.err && r.err.message}`);
      const pairs = Object.fromEntries(r.response.pairs.map((p) => [p.key, p]));
      expect(pairs['echo-text'] && pairs['echo-text'].value === 'plain', `ascii metadata mismatch: ${JSON.stringify(pairs['echo-text'])}`);
      expect(pairs['echo-data-bin'] && Buffer.compare(pairs['echo-data-bin'].value_bytes, Buffer.from([0x00, 0xff, 0x10])) === 0, 'binary metadata mismatch');
      expect(pairs['other-key'] && pairs['other-key'].value === 'not echoed', 'plain metadata missing');
      expect(!pairs['grpc-timeout'] && !pairs['te'] && !pairs['content-type'], `protocol headers leaked into metadata: ${Object.keys(pairs)}`);
      const headerBin = r.headers.get('echo-data-bin')[0];
      expect(Buffer.isBuffer(headerBin) && Buffer.compare(headerBin, Buffer.from([0x00, 0xff, 0x10])) === 0, `binary response header mismatch: ${JSON.stringify(r.headers.getMap())}`);
      expect(r.status.metadata.get('echo-text')[0] === 'plain', `trailer mismatch: ${JSON.stringify(r.status.metadata.getMap())}`);
      expect(r.status.code === grpc.status.OK, 'status not OK');
    },

    async health() {
      const health = new stubs.Health(address, insecure);
      clients.push(health);
      for (const service of ['', 'optout.interop.v1.InteropTest']) {
        const r = await unary(health, 'Check', { service }, { options: { deadline: deadline(10000) } });
        expect(!r.err, `Check(${service}) failed: ${r.err && r.err.message}`);
        expect(r.response.status === 'SERVING', `${service || 'server'} not SERVING: ${JSON.stringify(r.response)}`);
      }
      const unknown = await unary(health, 'Check', { service: 'no.such.Service' }, { options: { deadline: deadline(10000) } });
      expectUnaryError(unknown, grpc.status.NOT_FOUND);
      // Watch streams the current status first.
      const watch = health.Watch({ service: '' }, { deadline: deadline(10000) });
      const first = await new Promise((resolve, reject) => {
        watch.on('data', resolve);
        watch.on('error', reject);
      });
      watch.cancel();
      expect(first.status === 'SERVING', `Watch: ${JSON.stringify(first)}`);
    },

    async reflection() {
      for (const version of ['v1', 'v1alpha']) {
        const refl = new stubs.Reflection[version](address, insecure);
        clients.push(refl);
        const call = refl.ServerReflectionInfo({ deadline: deadline(10000) });
        const done = collectStream(call);
        call.write({ list_services: '' });
        call.write({ file_containing_symbol: 'optout.interop.v1.InteropTest' });
        call.end();
        const r = await done;
        expect(!r.error, `${version}: ${r.error && r.error.message}`);
        const names = r.messages[0].list_services_response.service.map((s) => s.name);
        for (const expected of ['optout.interop.v1.InteropTest', 'grpc.health.v1.Health', 'grpc.reflection.v1alpha.ServerReflection']) {
          expect(names.includes(expected), `${version}: ${expected} not listed: ${names}`);
        }
        const files = r.messages[1].file_descriptor_response.file_descriptor_proto.map((raw) => descriptor.FileDescriptorProto.decode(raw).name);
        expect(files[0] === 'interop_test.proto', `${version}: wrong file: ${files}`);
        expect(files.includes('google/protobuf/timestamp.proto'), `${version}: dependency missing: ${files}`);
      }
    },

    close() {
      for (const c of clients) c.close();
    },
  };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const stubs = load(args);
  const cases = buildCases(args.address, stubs);
  let allOk = true;
  for (const [name, run] of Object.entries(cases)) {
    if (name === 'close' || (args.cases.length > 0 && !args.cases.includes(name))) continue;
    let result;
    try {
      await run();
      result = { case: name, ok: true, detail: '' };
    } catch (e) {
      result = { case: name, ok: false, detail: e instanceof CaseFailed ? e.message : `${e && e.stack}` };
    }
    allOk = allOk && result.ok;
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
  cases.close();
  process.exitCode = allOk ? 0 : 1;
}

main().catch((e) => {
  process.stderr.write(`${e && e.stack}\n`);
  process.exitCode = 2;
});
