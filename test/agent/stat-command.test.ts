// `weft stat` run as users run it (the CLI binary) against real HTTP servers on loopback.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { repoRoot } from '../support/repo-root.js';

const cli = join(repoRoot, 'dist', 'agent', 'src', 'cli', 'main.js');
const servers: Server[] = [];
after(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));

async function serve(body: () => string, status = 200): Promise<number> {
  const server = createServer((_req, res) => res.writeHead(status, { 'content-type': 'text/plain' }).end(body()));
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

function weft(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

test('prints per-service rate, success and latency from two scrapes', async () => {
  let scrapes = 0;
  const labels = 'reporter="source",source_workload="client",source_namespace="demo",destination_service="web.demo.svc.cluster.local",response_code="200"';
  const port = await serve(() => {
    const n = scrapes++ === 0 ? 10 : 30;
    return `weft_requests_total{${labels}} ${n}\nweft_request_duration_seconds_bucket{${labels},le="0.001"} 0\nweft_request_duration_seconds_bucket{${labels},le="0.002"} ${n}\nweft_request_duration_seconds_bucket{${labels},le="+Inf"} ${n}\n`;
  });
  const json = await weft(['stat', '--node-addr', `127.0.0.1:${port}`, '--interval', '0.2', '--json']);
  assert.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as { stats: { name: string; totalRequests: number; requestsPerSecond: number; successRate: number; p50Ms: number }[] };
  assert.equal(parsed.stats.length, 1);
  assert.equal(parsed.stats[0]!.name, 'web.demo.svc.cluster.local');
  assert.equal(parsed.stats[0]!.totalRequests, 30);
  assert.equal(parsed.stats[0]!.requestsPerSecond, 100);
  assert.equal(parsed.stats[0]!.successRate, 1);
  assert.equal(parsed.stats[0]!.p50Ms, 1.5);
  const table = await weft(['stat', '--node-addr', `127.0.0.1:${port}`, '--interval', '0.2']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^SERVICE\s+REQUESTS\s+SUCCESS\s+RPS\s+LATENCY_P50\s+LATENCY_P99\nweb\.demo\.svc\.cluster\.local\s+30\s+100\.00%/);
});

test('says clearly when nothing answers or the answer is not a Weft agent', async () => {
  const closed = createServer();
  closed.listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const deadPort = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  const refused = await weft(['stat', '--node-addr', `127.0.0.1:${deadPort}`]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /nothing listens on 127\.0\.0\.1:\d+: is the Weft agent running/);

  const other = await serve(() => 'go_goroutines 12\n');
  const notWeft = await weft(['stat', '--node-addr', `127.0.0.1:${other}`]);
  assert.equal(notWeft.code, 1);
  assert.match(notWeft.stderr, /none named weft_\*: not a Weft agent/);

  const html = await serve(() => '<html><body>hello</body></html>');
  const notMetrics = await weft(['stat', '--node-addr', `127.0.0.1:${html}`]);
  assert.equal(notMetrics.code, 1);
  assert.match(notMetrics.stderr, /not Prometheus metrics: not a Weft agent/);

  const missing = await serve(() => 'nope', 404);
  assert.match((await weft(['stat', '--node-addr', `127.0.0.1:${missing}`])).stderr, /HTTP 404/);
});

test('bad flags stop with a message and exit code 2', async () => {
  const bad = await weft(['stat', '--by', 'colour']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--by must be service or workload, got "colour"/);
  assert.equal((await weft(['stat', '--node-addr', 'nohost'])).code, 2);
  assert.equal((await weft(['frob'])).code, 2);
});
