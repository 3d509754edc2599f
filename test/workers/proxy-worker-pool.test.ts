// The proxy workers as the agent runs them: N worker threads listening on one port with
// SO_REUSEPORT, the original destinations read from a real weft_peer_dst map (filled here as
// the sockops program fills it), snapshots sent from this (control) thread. Asserted: the
// kernel spreads connections over every worker, the node's /metrics page shows one series
// summed across workers, a published snapshot reaches every worker, a worker that dies is
// replaced and serves again, and closing the listeners leaves nothing on the port.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { RedirectPrograms } from '../../agent/src/bpf/redirect-programs.js';
import { origDstCodec, peerKeyCodec } from '../../agent/src/bpf/abi.js';
import * as libbpf from '../../native/src/libbpf.js';
import { createMetricsRegistry } from '../../agent/src/metrics/metrics-registry.js';
import { NodeMetricsPage } from '../../agent/src/metrics/node-metrics-page.js';
import { epochMs } from '../../agent/src/metrics/snapshot-metrics.js';
import { listenerCount, otherListenerCount } from '../../agent/src/net/listening-sockets.js';
import type { MeshSnapshot } from '../../agent/src/state/mesh-snapshot.js';
import { ProxyWorkerPool } from '../../agent/src/workers/proxy-worker-pool.js';
import type { WorkerMetrics } from '../../agent/src/workers/worker-protocol.js';
import { repoRoot } from '../support/repo-root.js';
import { uniqueName } from '../support/unique-name.js';
import { waitFor } from '../support/wait-for.js';
import { HttpBackend, buildSnapshot, closeServer, fromReservedClientPort, listen } from '../proxy/proxy-harness.js';

const CLIENT_IP = '127.0.0.1';
const WORKERS = 2;
/** With the kernel's 4-tuple hash, the chance that this many connections all land on one of two workers is 2^-39. */
const CONNECTIONS = 40;
const WEB = { ip: '10.96.7.10', port: 80 };
/** A loopback "ClusterIP": before the snapshot names it, the proxy dials it as-is, and nothing listens there. */
const LATER = { ip: '127.0.7.11', port: 80 };
const log = pino({ level: process.env.WEFT_TEST_LOG ?? 'silent' });

async function freePort(): Promise<number> {
  const server = net.createServer();
  const port = await listen(server);
  await closeServer(server);
  return port;
}

/** The summed value of one counter in one worker's registry, over series matching `labels`. */
function workerCounter(metrics: WorkerMetrics, name: string, labels: Record<string, string>): number {
  // A histogram's _count is one of its values (metricName), not a metric of its own.
  const metric = metrics.find((m) => m.name === name || (name.endsWith('_count') && m.name === name.slice(0, -'_count'.length)));
  return (metric?.values ?? [])
    .filter((v) => !('metricName' in v) || v.metricName === undefined || v.metricName === name)
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}

describe('proxy worker pool', () => {
  const pinDir = join('/sys/fs/bpf', uniqueName('wt-pool'));
  const backend = new HttpBackend('pool-backend');
  const laterBackend = new HttpBackend('pool-later');
  let programs: RedirectPrograms;
  let pool: ProxyWorkerPool;
  let port = 0;
  let snapshot: MeshSnapshot;
  let restarts = 0;
  const key = new Uint8Array(peerKeyCodec.size);
  const value = new Uint8Array(origDstCodec.size);

  /** What sockops records for a redirected connection: its original destination, by client address. */
  function recordOriginalDestination(clientPort: number, destination: { ip: string; port: number }): void {
    peerKeyCodec.encode({ ip4: CLIENT_IP, port: clientPort }, key);
    origDstCodec.encode({ ip4: destination.ip, port: destination.port }, value);
    libbpf.mapUpdate(programs.mapFds.weft_peer_dst, key, value);
  }

  /** One request on its own connection, as a client whose connect was redirected to the pool. */
  function request(destination: { ip: string; port: number }): Promise<{ status: number; body: string }> {
    return fromReservedClientPort(CLIENT_IP, (localPort) => {
      recordOriginalDestination(localPort, destination);
      return new Promise((resolve, reject) => {
        const req = http.request(
          { host: CLIENT_IP, port, localAddress: CLIENT_IP, localPort, path: '/', agent: false, headers: { host: `${destination.ip}` } },
          (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject).end();
      });
    });
  }

  before(async () => {
    await backend.start();
    await laterBackend.start();
    programs = RedirectPrograms.load({
      objectDir: join(repoRoot, 'bpf', 'build'),
      pinDir,
      config: { agentCgroupId: 0n, proxyIp4: CLIENT_IP, proxyPort: 15001 },
    });
    snapshot = buildSnapshot({
      pods: [],
      services: [{ namespace: 'shop', name: 'web', clusterIP: WEB.ip, port: WEB.port, endpoints: [{ ip: '127.0.0.1', port: backend.port }] }],
    });
    port = await freePort();
    pool = new ProxyWorkerPool({
      count: WORKERS,
      settings: {
        nodeName: 'node-1',
        nodeIp: CLIENT_IP,
        outboundPort: port,
        hbonePort: 15008,
        trustDomain: 'cluster.local',
        peerDstMapFd: programs.mapFds.weft_peer_dst,
        logLevel: process.env.WEFT_TEST_LOG ?? 'silent',
      },
      currentSnapshot: () => snapshot,
      currentCredentials: () => null,
      log,
      onWorkerRestart: () => restarts++,
    });
    await pool.start();
    await pool.listen();
  });

  after(async () => {
    await pool?.close();
    programs?.close();
    if (existsSync(pinDir)) RedirectPrograms.removeAll(pinDir);
    await backend.stop();
    await laterBackend.stop();
  });

  test('every worker listens on the shared port, and none of those listeners counts as another process\'s', () => {
    assert.equal(pool.size, WORKERS);
    assert.equal(pool.listening, true);
    assert.equal(listenerCount(CLIENT_IP, port), WORKERS, 'one SO_REUSEPORT listener per worker');
    assert.equal(otherListenerCount(CLIENT_IP, port), 0, 'the workers are threads of this process: no successor is seen');
  });

  test('the kernel spreads connections over every worker; /metrics shows one series summed across them', async () => {
    for (let i = 0; i < CONNECTIONS; i++) {
      const answer = await request(WEB);
      assert.equal(answer.status, 200);
      assert.equal(answer.body, 'hello from pool-backend\n');
    }
    const labels = { destination_service: 'web.shop.svc.cluster.local', response_code: '200', reporter: 'source' };
    const perWorker = (await pool.metrics()).map((metrics) => workerCounter(metrics, 'weft_requests_total', labels));
    assert.equal(perWorker.length, WORKERS);
    assert.ok(perWorker.every((n) => n > 0), `every worker served some of the ${CONNECTIONS} connections: ${perWorker.join(', ')}`);
    assert.equal(perWorker.reduce((a, b) => a + b, 0), CONNECTIONS);

    const page = await new NodeMetricsPage(createMetricsRegistry({ processMetrics: false }), () => pool.metrics()).metrics();
    const series = page.split('\n').filter((line) => line.startsWith('weft_requests_total{') && line.includes('destination_service="web.shop.svc.cluster.local"'));
    assert.equal(series.length, 1, `one series, not one per worker: ${series.join(' | ')}`);
    assert.match(series[0]!, new RegExp(` ${CONNECTIONS}$`), 'its value is the sum over the workers');
    assert.equal(page.split('\n').filter((line) => line.startsWith('# TYPE weft_requests_total ')).length, 1, 'the metric is declared once');
  });

  test('a published snapshot reaches every worker', async () => {
    await assert.rejects(request(LATER), /ECONNRESET|socket hang up/,
      'an address the snapshot does not know is no Service yet: relayed as opaque TCP to where nobody listens, so reset');
    snapshot = buildSnapshot({
      pods: [],
      services: [
        { namespace: 'shop', name: 'web', clusterIP: WEB.ip, port: WEB.port, endpoints: [{ ip: '127.0.0.1', port: backend.port }] },
        { namespace: 'shop', name: 'later', clusterIP: LATER.ip, port: LATER.port, endpoints: [{ ip: '127.0.0.1', port: laterBackend.port }] },
      ],
    });
    pool.publish(snapshot, epochMs());
    // Messages to a worker arrive in order, so an answered call means the snapshot arrived.
    const arrivals = (await pool.metrics()).map((metrics) => workerCounter(metrics, 'weft_snapshot_propagation_seconds_count', {}));
    assert.deepEqual(arrivals, Array(WORKERS).fill(1), 'every worker received the snapshot once and timed its arrival');
    for (let i = 0; i < CONNECTIONS; i++) {
      const answer = await request(LATER);
      assert.equal(answer.status, 200, `connection ${i} was routed by the new snapshot`);
      assert.equal(answer.body, 'hello from pool-later\n');
    }
    const labels = { destination_service: 'later.shop.svc.cluster.local', response_code: '200' };
    const perWorker = (await pool.metrics()).map((metrics) => workerCounter(metrics, 'weft_requests_total', labels));
    assert.ok(perWorker.every((n) => n > 0), `every worker routed the new Service: ${perWorker.join(', ')}`);
  });

  test('a worker handed a delta for another base asks for the whole snapshot and keeps routing', async () => {
    const worker = pool.workerThreads()[1]!;
    const arrivalsBefore = workerCounter((await pool.metrics())[1]!, 'weft_snapshot_propagation_seconds_count', {});
    // A delta whose base this worker never had (as if a message had been lost): it must not apply it.
    const bogus = { baseVersion: 987_654, version: 987_655, nodeName: 'node-1', nodeIp: CLIENT_IP, podsSet: [], podsDeleted: [], servicesSet: [], servicesDeleted: [...snapshot.servicesByAddress.keys()], podCIDRs: null, enrolledLocalPods: null };
    worker.postMessage({ type: 'snapshot-delta', delta: bogus, changedAtMs: epochMs() });
    await waitFor(async () => workerCounter((await pool.metrics())[1]!, 'weft_snapshot_propagation_seconds_count', {}) === arrivalsBefore + 1,
      { what: 'the worker receiving the whole snapshot it asked for' });
    for (let i = 0; i < CONNECTIONS; i++) {
      const answer = await request(LATER);
      assert.equal(answer.status, 200, `connection ${i}: the Service is still known (the bogus delta deleted nothing)`);
    }
  });

  test('a worker that dies is replaced, listens again, and every connection is served meanwhile by the others', async () => {
    const victim = pool.workerThreads()[0]!;
    await victim.terminate();
    await waitFor(() => restarts === 1 && pool.workerThreads()[0] !== victim, { what: 'the pool replacing the dead worker' });
    await waitFor(() => listenerCount(CLIENT_IP, port) === WORKERS, { what: 'the replacement listening' });
    const served: number[] = [];
    for (let i = 0; i < CONNECTIONS; i++) {
      const answer = await request(WEB);
      served.push(answer.status);
    }
    assert.ok(served.every((status) => status === 200), `every request after the restart succeeded: ${served.join(',')}`);
    const perWorker = (await pool.metrics()).map((metrics) => workerCounter(metrics, 'weft_requests_total', { destination_service: 'web.shop.svc.cluster.local' }));
    assert.ok(perWorker[0]! > 0, `the replacement serves (its own count starts at zero): ${perWorker.join(', ')}`);
  });

  test('stopAccepting closes every worker\'s listener; draining idle workers cuts nothing', async () => {
    await pool.stopAccepting();
    assert.equal(pool.listening, false);
    await waitFor(() => listenerCount(CLIENT_IP, port) === 0, { what: 'no listener left on the port' });
    assert.deepEqual(await pool.drain(1_000), { clientsCut: 0, sessionsCut: 0 });
  });
});
