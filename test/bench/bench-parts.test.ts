// The benchmark's measuring parts against real tools: wrk with our report script against a
// loopback server (keep-alive, and one connection per request with "Connection: close"), /proc
// CPU and TCP-open readings of this process, and the median.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_BODY } from './bench-body.js';
import { areaOf, summarise } from './cpu-profile-summary.js';
import { median } from './median.js';
import { processCpu } from './process-cpu.js';
import { tcpOpens } from './tcp-opens.js';
import { parseWrkReport, requestsPerSecond, totalErrors, wrkCommand } from './wrk-report.js';

const execFileAsync = promisify(execFile);

describe('wrk with the report script', () => {
  let server: Server;
  let served = 0;
  let connections = 0;
  before(async () => {
    server = createServer((_req, res) => {
      served++;
      res.end(BENCH_BODY);
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('reports exact request counts and ordered latency percentiles', async () => {
    const { port } = server.address() as AddressInfo;
    const [file, ...args] = wrkCommand(`http://127.0.0.1:${port}/`, { connections: 4, threads: 1, durationSeconds: 1 });
    const { stdout } = await execFileAsync(file!, args, { timeout: 30_000 });
    const report = parseWrkReport(stdout);
    assert.ok(report.requests > 0, 'wrk completed requests');
    // The server may have answered a few requests wrk had not finished reading when it stopped.
    assert.ok(served >= report.requests && served <= report.requests + 4, `server saw ${served}, wrk counted ${report.requests}`);
    assert.equal(totalErrors(report), 0);
    assert.ok(report.latencyUs.p50 > 0 && report.latencyUs.p50 <= report.latencyUs.p99 && report.latencyUs.p99 <= report.latencyUs.max);
    assert.ok(report.durationUs >= 900_000 && report.durationUs < 5_000_000, `duration ${report.durationUs} µs`);
    assert.ok(Math.abs(requestsPerSecond(report) - report.requests / (report.durationUs / 1e6)) < 1e-9);
  });

  test('with newConnections every request comes on a new connection', async () => {
    const { port } = server.address() as AddressInfo;
    const [servedBefore, connectionsBefore] = [served, connections];
    const [file, ...args] = wrkCommand(`http://127.0.0.1:${port}/`, { connections: 2, threads: 1, durationSeconds: 1, newConnections: true });
    assert.deepEqual(args.slice(args.indexOf('-H'), args.indexOf('-H') + 2), ['-H', 'Connection: close']);
    const { stdout } = await execFileAsync(file!, args, { timeout: 30_000 });
    const report = parseWrkReport(stdout);
    assert.ok(report.requests > 10, `wrk completed ${report.requests} requests`);
    assert.equal(totalErrors(report), 0);
    const [requestsServed, connectionsOpened] = [served - servedBefore, connections - connectionsBefore];
    // One request per connection (keep-alive would use 2 connections in all); when wrk stops, a
    // few connections may have been opened without a request on them yet.
    assert.ok(connectionsOpened >= requestsServed && connectionsOpened <= requestsServed + 6, `${connectionsOpened} connections for ${requestsServed} requests`);
    assert.ok(requestsServed >= report.requests, `server saw ${requestsServed}, wrk counted ${report.requests}`);
  });

  test('output without the report line is a clear error', () => {
    assert.throws(() => parseWrkReport('Running 1s test @ http://x/\nRequests/sec: 1.00\n'), /no "WEFT_BENCH_WRK" line/);
  });
});

describe('measuring helpers', () => {
  test('processCpu sees this process burn CPU, as process.cpuUsage does', () => {
    // Spin until Node itself reports 0.2 s of CPU (not 0.2 s of wall time: on a loaded machine
    // those differ), then both readings must agree to within /proc's tick resolution.
    const before = processCpu(process.pid);
    const usageBefore = process.cpuUsage();
    const giveUpAt = Date.now() + 20_000;
    let spin = 0;
    let used = 0;
    while (used < 0.2 && Date.now() < giveUpAt) {
      for (let i = 0; i < 100_000; i++) spin++;
      const usage = process.cpuUsage(usageBefore);
      used = (usage.user + usage.system) / 1e6;
    }
    const after = processCpu(process.pid);
    assert.ok(spin > 0 && used >= 0.2, `spun for ${used} s of CPU`);
    const seen = after.userSeconds + after.systemSeconds - before.userSeconds - before.systemSeconds;
    // Other threads of this process (GC, the test runner) may add a little on top.
    assert.ok(seen >= used - 0.03 && seen <= used + 0.2, `/proc saw ${seen} s, process.cpuUsage ${used} s`);
  });

  test('tcpOpens counts a connect and an accept in this network namespace', async () => {
    const listener = createTcpServer((socket) => socket.end());
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    try {
      const before = tcpOpens(process.pid);
      await new Promise<void>((resolve, reject) => {
        const socket = connect((listener.address() as AddressInfo).port, '127.0.0.1');
        socket.once('error', reject);
        socket.once('close', () => resolve());
        socket.resume();
      });
      const after = tcpOpens(process.pid);
      // Other processes of the machine may open connections meanwhile: at least ours are counted.
      assert.ok(after.activeOpens - before.activeOpens >= 1, `ActiveOpens ${before.activeOpens} -> ${after.activeOpens}`);
      assert.ok(after.passiveOpens - before.passiveOpens >= 1, `PassiveOpens ${before.passiveOpens} -> ${after.passiveOpens}`);
    } finally {
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    }
  });

  test('median takes the middle value, or the mean of the middle two', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([100, 1, 2]), 2, 'one outlier round does not move it');
    assert.throws(() => median([]), RangeError);
  });

  test('the benchmark body is the 100 bytes the issue asks for', () => {
    assert.equal(Buffer.byteLength(BENCH_BODY), 100);
  });
});

describe('CPU profile summary', () => {
  test('a real `node --cpu-prof` profile: the busy function is on top, areas add up to the sampled time', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-prof-'));
    try {
      const script = 'function spinForTheProfile(){const end=Date.now()+400;let x=0;while(Date.now()<end)x+=Math.sqrt(x+1);return x}spinForTheProfile()';
      await execFileAsync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '-e', script]);
      const [file] = await readdir(dir);
      assert.ok(file?.endsWith('.cpuprofile'), `a profile was written: ${file}`);
      const summary = summarise(JSON.parse(await readFile(join(dir, file), 'utf8')));
      const areaTotal = summary.byArea.reduce((sum, [, ms]) => sum + ms, 0);
      assert.ok(Math.abs(areaTotal - summary.totalMs) < 1, 'every sample is in one area');
      assert.ok(summary.totalMs >= 300, `about the 400 ms of work was sampled: ${summary.totalMs}`);
      const busiest = summary.topFunctions.find(([name]) => !name.startsWith('(')) ?? ['', 0];
      assert.match(busiest[0], /^spinForTheProfile /, `the spinning function has the most self time: ${JSON.stringify(summary.topFunctions.slice(0, 3))}`);
      assert.equal(areaOf({ functionName: 'x', url: 'file:///w/node_modules/@grpc/grpc-js/build/src/a.js', lineNumber: 0 }), '@grpc/grpc-js');
      assert.equal(areaOf({ functionName: 'x', url: 'file:///w/dist/agent/src/proxy/outbound-proxy.js', lineNumber: 0 }), 'weft');
      assert.equal(areaOf({ functionName: 'x', url: 'node:net', lineNumber: 0 }), 'node internals');
      assert.equal(areaOf({ functionName: '(garbage collector)', url: '', lineNumber: 0 }), '(garbage collector)');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
