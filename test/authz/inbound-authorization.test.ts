// Authorization where identity is proven, over real mTLS tunnels on loopback: the HBONE server
// with policies in its snapshot, callers with real certificates, real Node backends that record
// what reached them. Attacks: pipelining, a path spelled to dodge a prefix, a declined upgrade
// followed by a denied request, request heads split over packets, HTTP/2 and gRPC, and an opaque stream to a workload that only HTTP requests may reach.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { buildAuthzTable } from '../../agent/src/authz/authz-table.js';
import { InboundAuthorizer } from '../../agent/src/authz/inbound-authorizer.js';
import { validatePolicy } from '../../agent/src/authz/policy-validation.js';
import { HboneConnector } from '../../agent/src/hbone/hbone-connector.js';
import { HboneInboundServer } from '../../agent/src/hbone/inbound-server.js';
import { WorkloadCredentialStore } from '../../agent/src/hbone/workload-credential-store.js';
import { AuthzMetrics } from '../../agent/src/metrics/authz-metrics.js';
import { ProxyErrorCode } from '../../agent/src/proxy/error-codes.js';
import { classifyProxyError } from '../../agent/src/proxy/error-responses.js';
import { listen } from '../proxy/proxy-harness.js';
import { waitFor } from '../support/wait-for.js';
import { TRUST_DOMAIN, meshPod, nodeSnapshot, openTunnel, spiffeId } from '../hbone/hbone-harness.js';
import { TestCa } from '../hbone/test-ca.js';

const NODE_IP = '127.0.0.51';
const ORDERS_IP = '127.0.0.52';
const VAULT_IP = '127.0.0.53';
const H2_IP = '127.0.0.54';
const FRONTEND = spiffeId('shop', 'frontend');
const BATCH = spiffeId('shop', 'batch');
const ORDERS = spiffeId('shop', 'orders');

const log = pino({ level: process.env.WEFT_TEST_LOG ?? 'silent' });

/** Records the requests that reached it, with the identity header it got. */
function recordingServer(seen: string[]): http.Server {
  return http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers['x-weft-peer-identity']}`);
    req.resume();
    req.on('end', () => res.end(`served ${req.url}`));
  });
}

function collect(stream: Duplex): { text: () => string; done: Promise<{ reset: boolean }> } {
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  const done = new Promise<{ reset: boolean }>((resolve) => {
    stream.once('error', () => resolve({ reset: true }));
    stream.once('close', () => resolve({ reset: false }));
  });
  return { text: () => text, done };
}

function statuses(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}

describe('authorization at the destination node, over real tunnels', () => {
  let ca: TestCa;
  let server: HboneInboundServer;
  const connectors = new Map<string, HboneConnector>();
  const registry = new Registry();
  const ordersSeen: string[] = [];
  const h2Seen: string[] = [];
  const ordersServer = recordingServer(ordersSeen);
  let ordersPort = 0;
  let vaultPort = 0;
  let h2Port = 0;
  const vaultBytes: string[] = [];
  const vault = net.createServer((socket) => {
    const i = vaultBytes.push('') - 1;
    socket.on('data', (chunk: Buffer) => (vaultBytes[i] += chunk.toString('latin1')));
    socket.on('error', () => undefined);
  });
  const h2Server = http2.createServer();
  h2Server.on('stream', (stream, headers) => {
    h2Seen.push(`${headers[':method']} ${headers[':path']} ${headers['x-weft-peer-identity']}`);
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });

  before(async () => {
    ca = await TestCa.create();
    const serverCredentials = new WorkloadCredentialStore(TRUST_DOMAIN, ca.bundlePem);
    serverCredentials.setCertificate(ORDERS, await ca.issue(ORDERS));
    ordersPort = await listen(ordersServer, ORDERS_IP);
    vaultPort = await listen(vault, VAULT_IP);
    h2Port = await listen(h2Server, H2_IP);
    const pods = [
      meshPod(ORDERS_IP, { namespace: 'shop', serviceAccount: 'orders', nodeName: 'node-a', name: 'orders' }),
      meshPod(VAULT_IP, { namespace: 'shop', serviceAccount: 'orders', nodeName: 'node-a', name: 'vault' }),
      meshPod(H2_IP, { namespace: 'shop', serviceAccount: 'orders', nodeName: 'node-a', name: 'grpc' }),
    ];
    const authz = buildAuthzTable({
      policies: [
        // Only the frontend may GET|HEAD /api/* on orders and on the gRPC pod; the gRPC pod also takes shop.v1.Orders/Get.
        validatePolicy('AuthorizationPolicy', { metadata: { name: 'orders-readers', namespace: 'shop' }, spec: {
          action: 'ALLOW', targetRefs: [{ group: '', kind: 'Pod', selector: { matchLabels: { app: 'orders' } } }],
          rules: [
            { sources: [{ serviceAccount: { namespace: 'shop', name: 'frontend' } }], http: { methods: ['GET', 'HEAD'], paths: [{ type: 'PathPrefix', value: '/api' }] } },
            { sources: [{ serviceAccount: { namespace: 'shop', name: 'frontend' } }], grpc: [{ service: 'shop.v1.Orders', method: 'Get' }] },
          ] } }),
        // Nobody but the frontend reaches the vault, by connection.
        validatePolicy('AuthorizationPolicy', { metadata: { name: 'vault', namespace: 'shop' }, spec: {
          action: 'DENY', targetRefs: [{ group: '', kind: 'Pod', selector: { matchLabels: { app: 'vault' } } }],
          rules: [{ sources: [{ serviceAccount: { namespace: 'shop', name: 'batch' } }] }] } }),
      ],
      namespaces: [{ name: 'shop', labels: {} }],
      workloads: [
        { uid: ORDERS_IP, ip: ORDERS_IP, namespace: 'shop', workload: 'orders', labels: { app: 'orders' } },
        { uid: H2_IP, ip: H2_IP, namespace: 'shop', workload: 'orders', labels: { app: 'orders' } },
        { uid: VAULT_IP, ip: VAULT_IP, namespace: 'shop', workload: 'vault', labels: { app: 'vault' } },
      ],
      serviceSelector: () => undefined,
    });
    const snapshot = nodeSnapshot('node-a', NODE_IP, pods, authz);
    server = new HboneInboundServer({
      host: NODE_IP,
      port: 0,
      credentials: serverCredentials,
      currentSnapshot: () => snapshot,
      log,
      authorizer: new InboundAuthorizer(() => snapshot, new AuthzMetrics(registry), log),
      undecidedRelayAfterMs: 60_000,
    });
    await server.listen();
    for (const id of [FRONTEND, BATCH]) {
      const credentials = new WorkloadCredentialStore(TRUST_DOMAIN, ca.bundlePem);
      credentials.setCertificate(id, await ca.issue(id));
      connectors.set(id, new HboneConnector({ credentials, log, port: server.address().port, connectTimeoutMs: 5_000 }));
    }
  });

  after(async () => {
    for (const connector of connectors.values()) await connector.close();
    await server?.close();
    await Promise.all([ordersServer, vault, h2Server].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });

  function tunnel(source: string, ip: string, port: number): Promise<Duplex> {
    return openTunnel(connectors.get(source)!, { sourceIdentity: source, nodeIp: NODE_IP, destinationIdentity: ORDERS, targetIp: ip, targetPort: port });
  }

  async function counted(decision: string, policy: string, source: string): Promise<number> {
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'weft_authz_decisions_total');
    return (metric?.values ?? [])
      .filter((v) => v.labels.decision === decision && v.labels.policy === policy && v.labels.source_principal === source && v.labels.dry_run === 'false')
      .reduce((sum, v) => sum + v.value, 0);
  }

  test('a connection a DENY policy refuses never reaches the pod: the CONNECT is answered ERR_AUTHZ_DENIED and counted', async () => {
    const before = vaultBytes.length;
    const denied = await tunnel(BATCH, VAULT_IP, vaultPort).then(() => null, (err: unknown) => err);
    assert.equal(classifyProxyError(denied), ProxyErrorCode.AUTHZ_DENIED, String(denied));
    assert.equal(vaultBytes.length, before, 'the vault pod was never dialled');
    assert.equal(await counted('deny', 'AuthorizationPolicy/shop/vault', BATCH), 1);
    const allowed = await tunnel(FRONTEND, VAULT_IP, vaultPort);
    allowed.end('hello');
    await waitFor(() => vaultBytes.slice(before).includes('hello'), { timeoutMs: 10_000, what: 'the frontend reaching the vault' });
  });

  test('pipelined requests are decided one by one, a dodging path spelling included; only allowed ones reach the pod', async () => {
    const from = ordersSeen.length;
    const stream = await tunnel(FRONTEND, ORDERS_IP, ordersPort);
    const out = collect(stream);
    stream.end([
      'GET /api/a HTTP/1.1\r\nHost: o\r\n\r\n',
      'POST /api/b HTTP/1.1\r\nHost: o\r\nContent-Length: 3\r\n\r\nabc',
      'GET /api/../admin HTTP/1.1\r\nHost: o\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: o\r\n\r\n',
      'HEAD /api HTTP/1.1\r\nHost: o\r\n\r\n',
    ].join(''));
    await out.done;
    assert.deepEqual(statuses(out.text()), [200, 403, 403, 403, 200], out.text());
    assert.match(out.text(), /x-weft-error: ERR_AUTHZ_DENIED/i);
    assert.doesNotMatch(out.text(), /orders-readers/, 'no policy names to the caller');
    assert.deepEqual(ordersSeen.slice(from), [`GET /api/a ${FRONTEND}`, `HEAD /api ${FRONTEND}`]);
  });

  test('another source is refused at CONNECT: no ALLOW rule can match it, whatever it would send', async () => {
    const denied = await tunnel(BATCH, ORDERS_IP, ordersPort).then(() => null, (err: unknown) => err);
    assert.equal(classifyProxyError(denied), ProxyErrorCode.AUTHZ_DENIED, String(denied));
  });

  test('requests split over packets at any point of the head are decided on the whole request', async () => {
    const from = ordersSeen.length;
    const requests = ['POST /api/a HTTP/1.1\r\nHost: o\r\nContent-Length: 0\r\n\r\n', 'GET /api/a HTTP/1.1\r\nHost: o\r\n\r\n'];
    for (const head of requests) {
      for (const at of [1, 3, 6, 12, head.length - 2]) {
        const stream = await tunnel(FRONTEND, ORDERS_IP, ordersPort);
        const out = collect(stream);
        stream.write(head.slice(0, at));
        await new Promise<void>((resolve) => setImmediate(resolve));
        stream.end(head.slice(at));
        await out.done;
        assert.deepEqual(statuses(out.text()), [head.startsWith('POST') ? 403 : 200], `split at ${at}: ${out.text()}`);
      }
    }
    assert.deepEqual(ordersSeen.slice(from), Array(5).fill(`GET /api/a ${FRONTEND}`));
  });

  test('a declined upgrade returns the stream to the parser: the next request is still decided', async () => {
    const from = ordersSeen.length;
    const stream = await tunnel(FRONTEND, ORDERS_IP, ordersPort);
    const out = collect(stream);
    stream.write('GET /api/ws HTTP/1.1\r\nHost: o\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    await waitFor(() => out.text().includes('served /api/ws'), { timeoutMs: 10_000, what: 'the declined upgrade answered' });
    stream.end('DELETE /api/x HTTP/1.1\r\nHost: o\r\n\r\n');
    await out.done;
    assert.deepEqual(statuses(out.text()), [200, 403], out.text());
    assert.deepEqual(ordersSeen.slice(from), [`GET /api/ws ${FRONTEND}`]);
  });

  test('an opaque stream to a workload only HTTP requests may reach is reset, and the pod gets no byte', async () => {
    const from = ordersSeen.length;
    const deniesBefore = await counted('deny', 'default', FRONTEND);
    const stream = await tunnel(FRONTEND, ORDERS_IP, ordersPort);
    const out = collect(stream);
    stream.write('\x16\x03\x01 not http at all\r\n');
    const result = await out.done;
    assert.equal(result.reset, true, 'the caller sees a reset');
    assert.equal(out.text(), '');
    assert.deepEqual(ordersSeen.slice(from), []);
    assert.equal(await counted('deny', 'default', FRONTEND), deniesBefore + 1, 'counted as the ALLOW policies\' default deny');
  });

  test('HTTP/2 and gRPC: a denied call gets 403, a denied gRPC call PERMISSION_DENIED (Trailers-Only); allowed calls reach the pod', async () => {
    const from = h2Seen.length;
    const stream = await tunnel(FRONTEND, H2_IP, h2Port);
    const session = http2.connect(`http://${H2_IP}:${h2Port}`, { createConnection: () => stream });
    const call = (headers: http2.OutgoingHttpHeaders): Promise<http2.IncomingHttpHeaders> => new Promise((resolve, reject) => {
      const req = session.request(headers, { endStream: true });
      req.on('response', (h) => {
        req.resume();
        req.on('end', () => resolve(h));
      });
      req.on('error', reject);
    });
    try {
      assert.equal((await call({ ':method': 'GET', ':path': '/api/x' }))[':status'], 200);
      const denied = await call({ ':method': 'POST', ':path': '/api/x' });
      assert.equal(denied[':status'], 403);
      assert.equal(denied['x-weft-error'], ProxyErrorCode.AUTHZ_DENIED);
      const grpcDenied = await call({ ':method': 'POST', ':path': '/shop.v1.Orders/Delete', 'content-type': 'application/grpc' });
      assert.equal(grpcDenied[':status'], 200);
      assert.equal(grpcDenied['grpc-status'], '7');
      const grpcAllowed = await call({ ':method': 'POST', ':path': '/shop.v1.Orders/Get', 'content-type': 'application/grpc' });
      assert.equal(grpcAllowed['grpc-status'], undefined, 'reached the pod, which answers plain 200');
    } finally {
      session.close();
    }
    assert.deepEqual(h2Seen.slice(from), [`GET /api/x ${FRONTEND}`, `POST /shop.v1.Orders/Get ${FRONTEND}`]);
  });
});
