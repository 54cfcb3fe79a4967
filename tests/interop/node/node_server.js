#!/usr/bin/env node
// @grpc/grpc-js server implementing optout.interop.v1.InteropTest: a second reference server for our client
// (the first is python_server.py, whose behaviour this mirrors).
//
//   node node_server.js --protos ../protos --std-protos ../../../src/OptOutRegistry.Grpc/Protos
//
// Binds 127.0.0.1 on a free port, prints "PORT <n>" and serves until stdin closes. Responses are gzip-compressed.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i] === '--protos') args.protos = path.resolve(argv[i + 1]);
    else if (argv[i] === '--std-protos') args.stdProtos = path.resolve(argv[i + 1]);
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!args.protos || !args.stdProtos) throw new Error('--protos and --std-protos are required');
  return args;
}

// Outcomes of Sleep calls by id, for SleepOutcome: { result, waiters }.
const outcomes = new Map();

function slot(id) {
  if (!outcomes.has(id)) outcomes.set(id, { result: null, waiters: [] });
  return outcomes.get(id);
}

function settle(id, result) {
  const s = slot(id);
  if (s.result) return;
  s.result = result;
  for (const wake of s.waiters.splice(0)) wake();
}

const implementation = {
  UnaryEcho(call, callback) {
    const r = call.request;
    const payload = r.response_size > 0 ? Buffer.alloc(r.response_size) : r.payload;
    callback(null, { message: r.message, payload });
  },

  async ServerStream(call) {
    const r = call.request;
    const fail = (i) => call.emit('error', { code: r.fail_code, details: `failed after ${i} messages: ${r.message}` });
    for (let i = 0; i < r.count; i++) {
      if (r.fail_after >= 0 && i === r.fail_after) {
        fail(i);
        return;
      }
      if (r.delay_ms > 0) await new Promise((resolve) => setTimeout(resolve, r.delay_ms));
      if (call.cancelled) return;
      call.write({ message: `${r.message}${i}`, payload: Buffer.alloc(r.payload_size) });
    }
    if (r.fail_after >= 0 && r.fail_after === r.count) {
      fail(r.count);
      return;
    }
    call.end();
  },

  ClientStream(call, callback) {
    let count = 0;
    let total = 0;
    const joined = [];
    call.on('data', (r) => {
      count++;
      total += r.payload.length;
      joined.push(r.message);
    });
    call.on('end', () => callback(null, { count, total_bytes: total, joined: joined.join(',') }));
  },

  Bidi(call) {
    call.on('data', (r) => call.write({ message: r.message, payload: r.payload }));
    call.on('end', () => call.end());
  },

  Sleep(call, callback) {
    const id = call.request.id;
    const timer = setTimeout(() => {
      settle(id, { seen: true, completed: true });
      callback(null, { message: 'slept' });
    }, call.request.ms);
    // 'cancelled' fires on the client's RST_STREAM and when the deadline passes.
    call.on('cancelled', () => {
      clearTimeout(timer);
      settle(id, { seen: true, cancelled: true });
    });
  },

  Fail(call, callback) {
    const trailers = new grpc.Metadata();
    trailers.add('fail-reason', 'requested');
    trailers.add('fail-detail-bin', Buffer.from([0, 1, 2, 255]));
    callback({ code: call.request.code, details: call.request.message, metadata: trailers });
  },

  Throw(call, callback) {
    callback(new Error(`secret internal detail ${call.request.message}`));
  },

  EchoMetadata(call, callback) {
    const pairs = [];
    const echo = new grpc.Metadata();
    for (const [key, values] of Object.entries(call.metadata.toJSON())) {
      for (const value of values) {
        pairs.push(Buffer.isBuffer(value) ? { key, value_bytes: value } : { key, value });
        if (key.startsWith('echo-')) echo.add(key, value);
      }
    }
    call.sendMetadata(echo);
    callback(null, { pairs }, echo.clone());
  },

  SleepOutcome(call, callback) {
    const s = slot(call.request.id);
    const reply = () => callback(null, s.result || {});
    if (s.result) {
      reply();
      return;
    }
    const timer = setTimeout(reply, call.request.wait_ms);
    s.waiters.push(() => {
      clearTimeout(timer);
      reply();
    });
  },
  // NotBound is left out on purpose: grpc-js answers UNIMPLEMENTED.
};

function main() {
  const args = parseArgs(process.argv.slice(2));
  const options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [args.protos, args.stdProtos] };
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync('interop_test.proto', options));
  // grpc.default_compression_algorithm 2 = gzip for responses; requests in any supported encoding are accepted.
  const server = new grpc.Server({ 'grpc.default_compression_algorithm': 2 });
  server.addService(pkg.optout.interop.v1.InteropTest.service, implementation);
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) {
      process.stderr.write(`${err.stack}\n`);
      process.exit(1);
    }
    process.stdout.write(`PORT ${port}\n`);
  });
  // Serve until the parent closes our stdin (or dies).
  process.stdin.resume();
  process.stdin.on('end', () => server.tryShutdown(() => process.exit(0)));
}

main();
