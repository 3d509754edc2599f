// The outbound proxy end to end on loopback: real backends, real curl and Node clients, a
// hand-built MeshSnapshot and an original-destination table filled by the test (the bpf map
// in the real agent). Each client binds a reserved local port first, so the table knows the
// peer before the proxy asks.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import type { Registry } from 'prom-client';
import { OutboundProxy, type OriginalDestination } from '../../agent/src/proxy/outbound-proxy.js';
import { ProxyMetrics } from '../../agent/src/metrics/proxy-metrics.js';
import { createMetricsRegistry } from '../../agent/src/metrics/metrics-registry.js';
import type { MeshSnapshot } from '../../agent/src/state/mesh-snapshot.js';
import { makeTempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait-for.js';
import {
  BannerServer,
  EchoServer,
  HttpBackend,
  OriginalDestinations,
  buildSnapshot,
  fromReservedClientPort,
  pod,
  readUntil,
  reserveClientPort,
} from './proxy-harness.js';

const execFileAsync = promisify(execFile);

const WEB = { ip: '10.96.0.10', port: 80 };
const EMPTY = { ip: '10.96.0.11', port: 80 };
const REFUSED = { ip: '10.96.0.12', port: 80 };
const BANNER = { ip: '10.96.0.13', port: 25 };
const RAW = { ip: '10.96.0.14', port: 80 };
const EMPTY_TCP = { ip: '10.96.0.15', port: 80 };
const CLIENT_IP = '127.0.0.1';
const METERED_CLIENT_IP = '127.0.0.2';
const POD_BANNER_IP = '127.0.0.5';
const WEB_HTTP = { ip: '10.96.0.16', port: 80 };
const OUTSIDE_IP = '127.0.0.9';
const BUSY_CLIENT_IP = '127.0.0.3';
const DETECT_TIMEOUT_MS = 600;

describe('outbound proxy', () => {
  const backendA = new HttpBackend('backend-a');
  const backendB = new HttpBackend('backend-b');
  const banner = new BannerServer();
  const podBanner = new BannerServer();
  const echo = new EchoServer();
  const outsideEcho = new EchoServer();
  const destinations = new OriginalDestinations();
  let registry: Registry;
  let proxy: OutboundProxy;
  let proxyPort = 0;
  let refusedPort = 0;

  before(async () => {
    await Promise.all([backendA.start(), backendB.start(), banner.start(), echo.start(), podBanner.start(POD_BANNER_IP), outsideEcho.start(OUTSIDE_IP)]);
    refusedPort = await reserveClientPort(); // nothing listens there any more
    const client = pod(CLIENT_IP, 'demo', 'client');
    const metered = pod(METERED_CLIENT_IP, 'demo', 'metered-client');
    const webA = pod('10.244.1.10', 'demo', 'web', 'web-a');
    const webB = pod('10.244.1.11', 'demo', 'web', 'web-b');
    const snapshot: MeshSnapshot = buildSnapshot({
      pods: [client, metered, pod(POD_BANNER_IP, 'demo', 'banner-pod'), pod(BUSY_CLIENT_IP, 'demo', 'busy-client')],
      podCIDRs: ['10.244.0.0/16'],
      services: [
        {
          namespace: 'demo',
          name: 'web',
          ...WEB,
          clusterIP: WEB.ip,
          endpoints: [
            { ip: '127.0.0.1', port: backendA.port, pod: webA },
            { ip: '127.0.0.1', port: backendB.port, pod: webB },
          ],
        },
        {
          namespace: 'demo',
          name: 'web-http',
          clusterIP: WEB_HTTP.ip,
          port: WEB_HTTP.port,
          appProtocol: 'http',
          endpoints: [{ ip: '127.0.0.1', port: backendA.port, pod: webA }],
        },
        { namespace: 'demo', name: 'empty', clusterIP: EMPTY.ip, port: EMPTY.port, endpoints: [] },
        {
          namespace: 'demo',
          name: 'refused',
          clusterIP: REFUSED.ip,
          port: REFUSED.port,
          endpoints: [{ ip: '127.0.0.1', port: refusedPort }],
        },
        {
          namespace: 'demo',
          name: 'banner',
          clusterIP: BANNER.ip,
          port: BANNER.port,
          endpoints: [{ ip: '127.0.0.1', port: banner.port }],
        },
        {
          namespace: 'demo',
          name: 'raw',
          clusterIP: RAW.ip,
          port: RAW.port,
          appProtocol: 'tcp',
          endpoints: [{ ip: '127.0.0.1', port: echo.port }],
        },
        {
          namespace: 'demo',
          name: 'empty-tcp',
          clusterIP: EMPTY_TCP.ip,
          port: EMPTY_TCP.port,
          appProtocol: 'tcp',
          endpoints: [{ ip: '127.0.0.1', port: echo.port, ready: false }],
        },
      ],
    });
    registry = createMetricsRegistry();
    proxy = new OutboundProxy({
      host: '127.0.0.1',
      port: 0,
      currentSnapshot: () => snapshot,
      originalDestination: destinations.take,
      metrics: new ProxyMetrics(registry, { reporter: 'source' }),
      log: pino({ level: 'error' }),
      // Generous, so a client process slowed down by a loaded machine is still sniffed as HTTP.
      detectTimeoutMs: DETECT_TIMEOUT_MS,
    });
    await proxy.listen();
    proxyPort = proxy.address().port;
  });

  after(async () => {
    await proxy?.close();
    await Promise.all([backendA.stop(), backendB.stop(), banner.stop(), echo.stop(), podBanner.stop(), outsideEcho.stop()]);
  });

  /** Runs curl through the proxy as if the client had dialled `target`. */
  async function curl(
    target: OriginalDestination,
    path: string,
    extraArgs: string[] = [],
    sourceIp = CLIENT_IP,
  ): Promise<{ status: number; headers: string; body: string }> {
    const { stdout } = await fromReservedClientPort(sourceIp, (localPort) => {
      destinations.set(sourceIp, localPort, target);
      return execFileAsync(
        'curl',
        [
          '-sS', '-i', '--max-time', '20',
          '--interface', sourceIp, '--local-port', String(localPort),
          '-H', 'Host: web.demo',
          ...extraArgs,
          `http://127.0.0.1:${proxyPort}${path}`,
        ],
        { maxBuffer: 64 * 1024 * 1024 },
      );
    });
    const split = stdout.indexOf('\r\n\r\n');
    const headers = stdout.slice(0, split);
    return { status: Number(headers.split(' ')[1]), headers, body: stdout.slice(split + 4) };
  }

  /** A raw TCP client to the proxy, as if it had dialled `target`. */
  async function rawConnect(target: OriginalDestination): Promise<net.Socket> {
    const localPort = await reserveClientPort();
    destinations.set(CLIENT_IP, localPort, target);
    const socket = net.connect({ host: '127.0.0.1', port: proxyPort, localAddress: CLIENT_IP, localPort });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return socket;
  }

  /** Sum of the samples named `name` (histograms: `<metric>_count` etc.) whose labels include `labels`. */
  async function metricValue(name: string, labels: Record<string, string>): Promise<number> {
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name || name.startsWith(`${m.name}_`));
    assert.ok(metric, `metric ${name} is registered`);
    let sum = 0;
    for (const value of metric.values as Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>) {
      if (value.metricName !== undefined && value.metricName !== name) continue;
      if (Object.entries(labels).every(([k, v]) => String(value.labels[k]) === v)) sum += value.value;
    }
    return sum;
  }

  test('requests to a Service are round-robined over both backends and all succeed', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) {
      const response = await curl(WEB, '/hello');
      assert.equal(response.status, 200, response.headers);
      seen.push(response.body.trim());
    }
    assert.equal(seen.filter((b) => b === 'hello from backend-a').length, 3, seen.join(', '));
    assert.equal(seen.filter((b) => b === 'hello from backend-b').length, 3, seen.join(', '));
    for (let i = 1; i < seen.length; i++) assert.notEqual(seen[i], seen[i - 1], 'alternates per request');
  });

  test('upstream connections are kept alive and reused across requests and client connections', async () => {
    const acceptedBefore = backendA.acceptedSockets + backendB.acceptedSockets;
    const requestsBefore = backendA.requests + backendB.requests;
    // Ten requests over one keep-alive client connection, then four more curl connections.
    const localPort = await reserveClientPort();
    destinations.set(CLIENT_IP, localPort, WEB);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 10; i++) {
        const body = await new Promise<string>((resolve, reject) => {
          const req = http.request(
            { host: '127.0.0.1', port: proxyPort, path: '/hello', agent, localAddress: CLIENT_IP, localPort, headers: { host: 'web.demo' } },
            (res) => {
              let text = '';
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => (text += chunk));
              res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`status ${res.statusCode}`))));
            },
          );
          req.on('error', reject);
          req.end();
        });
        assert.match(body, /^hello from backend-[ab]\n$/);
      }
    } finally {
      agent.destroy();
    }
    for (let i = 0; i < 4; i++) assert.equal((await curl(WEB, '/hello')).status, 200);
    assert.equal(backendA.requests + backendB.requests - requestsBefore, 14);
    // Fourteen requests over five client connections: at most one new upstream connection per
    // backend (none when the previous test's pooled ones are still open).
    const accepted = backendA.acceptedSockets + backendB.acceptedSockets - acceptedBefore;
    assert.ok(accepted <= 2, `backends accepted ${accepted} new sockets for 14 requests`);
  });

  test('a 20 MB body streams both ways intact (upload with content-length, echoed back)', async () => {
    const size = 20 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024);
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31 + 7) & 0xff;
    const sentHash = createHash('sha256');
    const localPort = await reserveClientPort();
    destinations.set(CLIENT_IP, localPort, WEB);
    const { receivedBytes, receivedHash } = await new Promise<{ receivedBytes: number; receivedHash: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: proxyPort,
          method: 'POST',
          path: '/echo',
          agent: false,
          localAddress: CLIENT_IP,
          localPort,
          headers: { host: 'web.demo', 'content-length': String(size) },
        },
        (res) => {
          const hash = createHash('sha256');
          let bytes = 0;
          res.on('data', (data: Buffer) => {
            bytes += data.length;
            hash.update(data);
          });
          res.on('end', () => resolve({ receivedBytes: bytes, receivedHash: hash.digest('hex') }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      let written = 0;
      // Honour backpressure on the upload, so this also proves the proxy reads as it forwards.
      const writeMore = (): void => {
        while (written < size) {
          const piece = chunk.subarray(0, Math.min(chunk.length, size - written));
          written += piece.length;
          sentHash.update(piece);
          if (!req.write(piece)) {
            req.once('drain', writeMore);
            return;
          }
        }
        req.end();
      };
      writeMore();
    });
    assert.equal(receivedBytes, size);
    assert.equal(receivedHash, sentHash.digest('hex'));
  });

  test('a slow client holds back the upstream (backpressure), then gets every byte', async () => {
    const total = 96 * 1024 * 1024;
    const localPort = await reserveClientPort();
    destinations.set(CLIENT_IP, localPort, WEB);
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: proxyPort, path: `/big/${total}`, agent: false, localAddress: CLIENT_IP, localPort, headers: { host: 'web.demo' } },
        resolve,
      );
      req.on('error', reject);
      req.end();
    });
    res.pause();
    const backend = res.headers['x-backend'] === backendA.name ? backendA : backendB;
    // The backend blocks on 'drain' with its written count no longer moving: the proxy is not
    // buffering the response for the paused client.
    let last = -1;
    let stableRounds = 0;
    await waitFor(
      () => {
        const { written, waitingForDrain } = backend.big;
        stableRounds = waitingForDrain && written === last ? stableRounds + 1 : 0;
        last = written;
        return stableRounds >= 5;
      },
      { what: 'the backend to be held back by backpressure', timeoutMs: 20_000, intervalMs: 100 },
    );
    assert.ok(backend.big.written < total / 2, `backend wrote ${backend.big.written} of ${total} bytes to a paused client`);
    let received = 0;
    res.on('data', (data: Buffer) => (received += data.length));
    res.resume();
    await new Promise((resolve) => res.on('end', resolve));
    assert.equal(received, total);
    assert.ok(backend.big.done);
  });

  test('chunked request and chunked response pass through (curl)', async () => {
    const response = await curl(WEB, '/echo', ['-H', 'Transfer-Encoding: chunked', '--data-binary', 'chunked-payload']);
    assert.equal(response.status, 200);
    assert.equal(response.body, 'chunked-payload');
    assert.match(response.headers, /transfer-encoding: chunked/i, 'response to the client is chunked');
    const streamed = await curl(WEB, '/chunks');
    assert.equal(streamed.status, 200);
    assert.equal(streamed.body, 'first-second');
  });

  test('a chunked request streams: the echo of part one arrives before part two is sent', async () => {
    const localPort = await reserveClientPort();
    destinations.set(CLIENT_IP, localPort, WEB);
    const req = http.request({
      host: '127.0.0.1',
      port: proxyPort,
      method: 'POST',
      path: '/echo',
      agent: false,
      localAddress: CLIENT_IP,
      localPort,
      headers: { host: 'web.demo', 'transfer-encoding': 'chunked' },
    });
    const response = new Promise<http.IncomingMessage>((resolve, reject) => {
      req.on('response', resolve);
      req.on('error', reject);
    });
    req.write('part-one;');
    const res = await response;
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    let received = '';
    res.setEncoding('utf8');
    res.on('data', (text: string) => (received += text));
    await waitFor(() => received === 'part-one;', { what: 'the echo of part one', timeoutMs: 10_000 });
    req.end('part-two');
    await new Promise((resolve) => res.on('end', resolve));
    assert.equal(received, 'part-one;part-two');
    const backend = res.headers['x-backend'] === backendA.name ? backendA : backendB;
    assert.equal(backend.lastRequestHeaders['transfer-encoding'], 'chunked', 'the upstream got a chunked request');
  });

  test('pipelined requests on one connection are answered in order', async () => {
    const socket = await rawConnect(WEB);
    try {
      socket.write('GET /one HTTP/1.1\r\nHost: web.demo\r\n\r\nGET /two HTTP/1.1\r\nHost: web.demo\r\nConnection: close\r\n\r\n');
      const all = (await readUntil(socket, (b) => (b.toString('latin1').match(/hello from/g) ?? []).length === 2)).toString('latin1');
      assert.equal((all.match(/^HTTP\/1\.1 200 /gm) ?? []).length, 2, all);
    } finally {
      socket.destroy();
    }
  });

  test('Expect: 100-continue uploads (curl, 2 MB file) and HEAD requests work', async () => {
    const temp = await makeTempDir('proxy-upload');
    const dir = temp.path;
    try {
      const file = path.join(dir, 'upload.bin');
      await writeFile(file, Buffer.alloc(2 * 1024 * 1024, 0x62));
      await curl(WEB, '/echo', ['-H', 'Expect: 100-continue', '--data-binary', `@${file}`, '-o', path.join(dir, 'out.bin')]);
      const echoed = await readFile(path.join(dir, 'out.bin'));
      assert.match(echoed.subarray(0, 30).toString('latin1'), /^HTTP\/1\.1 100 Continue/, 'curl got the 100 Continue first');
      // -i writes the headers of both the 100 and the 200 into the output file, then the body.
      const bodyStart = echoed.indexOf('\r\n\r\n', echoed.indexOf('HTTP/1.1 200')) + 4;
      assert.equal(echoed.length - bodyStart, 2 * 1024 * 1024);
      assert.ok(echoed.subarray(bodyStart).every((byte) => byte === 0x62));
    } finally {
      await temp.remove();
    }
    const head = await curl(WEB, '/hello', ['-I']);
    assert.equal(head.status, 200);
    assert.match(head.headers, /x-backend: backend-[ab]/i);
  });

  test('an upgrade gets the 101 and then a raw bidirectional tunnel', async () => {
    const socket = await rawConnect(WEB);
    try {
      socket.write('GET /ws HTTP/1.1\r\nHost: web.demo\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
      const head = await readUntil(socket, (b) => b.includes('\r\n\r\n'));
      assert.match(head.toString('latin1'), /^HTTP\/1\.1 101 /);
      const echoed = readUntil(socket, (b) => b.toString('latin1').includes('ping-through-tunnel'));
      socket.write('ping-through-tunnel');
      assert.ok((await echoed).toString('latin1').endsWith('ping-through-tunnel'));
    } finally {
      socket.destroy();
    }
  });

  test('a server-speaks-first protocol works without the client sending first', async () => {
    const socket = await rawConnect(BANNER);
    try {
      const greeting = await readUntil(socket, (b) => b.toString('latin1') === banner.banner);
      assert.equal(greeting.toString('latin1'), banner.banner);
      const echoed = readUntil(socket, (b) => b.toString('latin1').endsWith('hello'));
      socket.write('hello');
      await echoed;
    } finally {
      socket.destroy();
    }
    await waitFor(
      async () =>
        (await metricValue('weft_tcp_sent_bytes_total', { destination_service: 'banner.demo.svc.cluster.local' })) >=
        banner.banner.length + 5,
      { what: 'tcp sent bytes for the banner service', timeoutMs: 10_000 },
    );
    assert.ok((await metricValue('weft_tcp_received_bytes_total', { destination_service: 'banner.demo.svc.cluster.local' })) >= 5);
  });

  test('a pod IP destination goes straight to that pod', async () => {
    const socket = await rawConnect({ ip: POD_BANNER_IP, port: podBanner.port });
    try {
      const greeting = await readUntil(socket, (b) => b.toString('latin1') === podBanner.banner);
      assert.equal(greeting.toString('latin1'), podBanner.banner);
    } finally {
      socket.destroy();
    }
    await waitFor(
      async () =>
        (await metricValue('weft_tcp_connections_closed_total', {
          destination_service: 'banner-pod',
          destination_workload: 'banner-pod',
        })) === 1,
      { what: 'the pod connection to be counted closed', timeoutMs: 10_000 },
    );
  });

  test('appProtocol tcp skips L7: HTTP bytes reach the echo server untouched', async () => {
    const requestsBefore = await metricValue('weft_requests_total', { destination_service: 'raw.demo.svc.cluster.local' });
    const socket = await rawConnect(RAW);
    const request = 'GET /not-parsed HTTP/1.1\r\nHost: raw\r\n\r\n';
    try {
      const echoed = readUntil(socket, (b) => b.length >= request.length);
      socket.write(request);
      // Through L7 this would have been answered with an HTTP status, not echoed.
      assert.equal((await echoed).toString('latin1'), request);
    } finally {
      socket.destroy();
    }
    assert.equal(await metricValue('weft_requests_total', { destination_service: 'raw.demo.svc.cluster.local' }), requestsBefore);
    assert.ok((await metricValue('weft_tcp_connections_opened_total', { destination_service: 'raw.demo.svc.cluster.local' })) >= 1);
  });

  test('appProtocol http goes to L7 without sniffing', async () => {
    const before = await metricValue('weft_requests_total', { destination_service: 'web-http.demo.svc.cluster.local' });
    const response = await curl(WEB_HTTP, '/hello');
    assert.equal(response.status, 200);
    assert.equal(response.body, 'hello from backend-a\n');
    assert.equal(await metricValue('weft_requests_total', { destination_service: 'web-http.demo.svc.cluster.local' }), before + 1);
  });

  test('a destination that is neither a Service nor a pod is passed through untouched', async () => {
    const socket = await rawConnect({ ip: OUTSIDE_IP, port: outsideEcho.port });
    const request = 'GET /untouched HTTP/1.1\r\nHost: outside\r\n\r\n';
    try {
      const echoed = readUntil(socket, (b) => b.length >= request.length);
      socket.write(request);
      assert.equal((await echoed).toString('latin1'), request);
    } finally {
      socket.destroy();
    }
    assert.ok((await metricValue('weft_tcp_connections_opened_total', { destination_service: 'unknown', source_workload: 'client' })) >= 1);
  });

  test('HTTP is still detected when the event loop was blocked past the detect timeout', async () => {
    const localPort = await reserveClientPort(BUSY_CLIENT_IP);
    destinations.set(BUSY_CLIENT_IP, localPort, WEB);
    const lookupsBefore = destinations.lookups;
    const socket = net.connect({ host: '127.0.0.1', port: proxyPort, localAddress: BUSY_CLIENT_IP, localPort });
    try {
      await waitFor(() => destinations.lookups > lookupsBefore, { what: 'the proxy to accept', timeoutMs: 10_000, intervalMs: 5 });
      const answer = readUntil(socket, (b) => b.includes('hello from'));
      // Send, then block this process (it hosts the proxy) well past detectTimeoutMs from the
      // check phase: the next loop turn runs the detect timer before the poll phase that would
      // deliver the request bytes already waiting in the proxy's socket.
      await new Promise<void>((resolve) =>
        setImmediate(() => {
          socket.write('GET /hello HTTP/1.1\r\nHost: web.demo\r\nConnection: close\r\n\r\n');
          const until = Date.now() + DETECT_TIMEOUT_MS * 2;
          while (Date.now() < until) {
            // busy wait on purpose: this is the blocked event loop
          }
          resolve();
        }),
      );
      assert.match((await answer).toString('latin1'), /^HTTP\/1\.1 200 /);
    } finally {
      socket.destroy();
    }
    // Counted as an HTTP request: it went through L7, not the opaque relay.
    assert.equal(await metricValue('weft_requests_total', { source_workload: 'busy-client', response_code: '200' }), 1);
  });

  test('no ready endpoints: 503 with x-weft-error over HTTP, a reset over opaque TCP', async () => {
    const response = await curl(EMPTY, '/hello');
    assert.equal(response.status, 503);
    assert.match(response.headers, /x-weft-error: ERR_PROXY_NO_ENDPOINTS/i);

    const rejectedBefore = await metricValue('weft_proxy_rejected_connections_total', { reason: 'ERR_PROXY_NO_ENDPOINTS' });
    const localPort = await reserveClientPort();
    destinations.set(CLIENT_IP, localPort, EMPTY_TCP);
    // The reset can even beat the connect callback, so the outcome is awaited without it.
    const socket = net.connect({ host: '127.0.0.1', port: proxyPort, localAddress: CLIENT_IP, localPort });
    const outcome = await new Promise<string>((resolve) => {
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      socket.on('close', () => resolve('closed'));
      socket.resume();
    });
    assert.equal(outcome, 'ECONNRESET');
    assert.equal(await metricValue('weft_proxy_rejected_connections_total', { reason: 'ERR_PROXY_NO_ENDPOINTS' }), rejectedBefore + 1);
  });

  test('a refused upstream: 502 with x-weft-error', async () => {
    const response = await curl(REFUSED, '/hello');
    assert.equal(response.status, 502);
    assert.match(response.headers, /x-weft-error: ERR_PROXY_UPSTREAM_REFUSED/i);
    assert.match(response.body, /ERR_PROXY_UPSTREAM_REFUSED/);
  });

  test('a malformed request gets 400 and the proxy keeps serving the next connection', async () => {
    const socket = await rawConnect(WEB);
    try {
      socket.write('GET / HTTP/1.1\r\nHost: web.demo\r\nthis is not a header\r\n\r\n');
      const answer = (await readUntil(socket, (b) => b.includes('\r\n\r\n'))).toString('latin1');
      assert.match(answer, /^HTTP\/1\.1 400 /);
      assert.match(answer, /x-weft-error: ERR_PROXY_MALFORMED_REQUEST/i);
    } finally {
      socket.destroy();
    }
    const next = await curl(WEB, '/hello');
    assert.equal(next.status, 200);
  });

  test('a connection without an original destination is reset and counted', async () => {
    const before = await metricValue('weft_proxy_rejected_connections_total', { reason: 'ERR_PROXY_NO_ORIGINAL_DESTINATION' });
    const socket = net.connect({ host: '127.0.0.1', port: proxyPort });
    const outcome = await new Promise<string>((resolve) => {
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      socket.on('close', () => resolve('closed'));
      socket.resume();
    });
    assert.equal(outcome, 'ECONNRESET');
    assert.equal(
      await metricValue('weft_proxy_rejected_connections_total', { reason: 'ERR_PROXY_NO_ORIGINAL_DESTINATION' }),
      before + 1,
    );
  });

  test('metrics: N requests give requests_total N and histogram count N with the Istio labels', async () => {
    const n = 5;
    for (let i = 0; i < n; i++) assert.equal((await curl(WEB, '/hello', [], METERED_CLIENT_IP)).status, 200);
    const labels = {
      reporter: 'source',
      source_workload: 'metered-client',
      source_namespace: 'demo',
      source_principal: 'unknown',
      destination_service: 'web.demo.svc.cluster.local',
      destination_workload: 'web',
      destination_namespace: 'demo',
      response_code: '200',
      request_protocol: 'http',
      grpc_response_status: '',
      connection_security_policy: 'unknown',
    };
    assert.equal(await metricValue('weft_requests_total', labels), n);
    assert.equal(await metricValue('weft_request_duration_seconds_count', labels), n);
    const tcpLabels = { source_workload: 'metered-client', destination_service: 'web.demo.svc.cluster.local' };
    assert.equal(await metricValue('weft_tcp_connections_opened_total', tcpLabels), n);
    await waitFor(async () => (await metricValue('weft_tcp_connections_closed_total', tcpLabels)) === n, {
      what: 'all metered connections counted closed',
      timeoutMs: 10_000,
    });
    assert.ok((await metricValue('weft_tcp_received_bytes_total', tcpLabels)) > n * 50, 'request bytes counted');
    assert.ok((await metricValue('weft_tcp_sent_bytes_total', tcpLabels)) > n * 50, 'response bytes counted');
    const text = await registry.metrics();
    assert.match(text, /^process_cpu_user_seconds_total /m, 'default process metrics are present');
    assert.equal(proxy.listening, true);
    assert.ok(proxy.stats().upstreamPools >= 2, 'one keep-alive pool per endpoint used');
  });

  test('close() ends open client connections and stops listening', async () => {
    const socket = await rawConnect(BANNER);
    await readUntil(socket, (b) => b.toString('latin1') === banner.banner);
    await waitFor(() => proxy.stats().openConnections >= 1, { what: 'the banner connection to be open' });
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.on('error', () => undefined); // a reset is as good as a FIN here
    await proxy.close();
    await closed;
    assert.equal(proxy.listening, false);
    assert.equal(proxy.stats().openConnections, 0);
  });
});
