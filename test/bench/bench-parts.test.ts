// The benchmark's measuring parts against real tools: wrk with our report script against a
// loopback server, /proc CPU readings of this process, and the median.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { BENCH_BODY } from './bench-body.js';
import { median } from './median.js';
import { processCpu } from './process-cpu.js';
import { parseWrkReport, requestsPerSecond, totalErrors, wrkCommand } from './wrk-report.js';

const execFileAsync = promisify(execFile);

describe('wrk with the report script', () => {
  let server: Server;
  let served = 0;
  before(async () => {
    server = createServer((_req, res) => {
      served++;
      res.end(BENCH_BODY);
    });
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

  test('output without the report line is a clear error', () => {
    assert.throws(() => parseWrkReport('Running 1s test @ http://x/\nRequests/sec: 1.00\n'), /no "WEFT_BENCH_WRK" line/);
  });
});

describe('measuring helpers', () => {
  test('processCpu sees this process burn CPU', () => {
    const before = processCpu(process.pid);
    const until = Date.now() + 200;
    let spin = 0;
    while (Date.now() < until) spin++;
    const after = processCpu(process.pid);
    assert.ok(spin > 0);
    assert.ok(after.userSeconds + after.systemSeconds - before.userSeconds - before.systemSeconds >= 0.1, 'at least 0.1 s of CPU for 0.2 s of spinning');
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
