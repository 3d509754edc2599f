// Attacks on `x-weft-peer-identity`, the header a backend trusts to know who called: a caller
// at the end of a real mTLS tunnel tries to make a backend receive an identity other than its
// own verified SPIFFE ID. Every test asserts what the backend saw. The backends are real Node
// HTTP servers (llhttp, as most backends are); one declines upgrades with a 200 (no 'upgrade'
// listener, so Node answers the request and keeps parsing), one accepts them with a 101.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import http2, { type ClientHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import pino from 'pino';
import { HboneConnector } from '../../agent/src/hbone/hbone-connector.js';
import { HboneInboundServer } from '../../agent/src/hbone/inbound-server.js';
import { WorkloadCredentialStore } from '../../agent/src/hbone/workload-credential-store.js';
import { listen } from '../proxy/proxy-harness.js';
import { waitFor } from '../support/wait-for.js';
import { TRUST_DOMAIN, meshPod, nodeSnapshot, openTunnel, spiffeId } from './hbone-harness.js';
import { TestCa } from './test-ca.js';

const NODE_IP = '127.0.0.2';
const DECLINING_POD_IP = '127.0.0.21';
const ACCEPTING_POD_IP = '127.0.0.22';
const RAW_POD_IP = '127.0.0.23';
const CLIENT_ID = spiffeId('attack', 'client');
const POD_ID = spiffeId('attack', 'backend');
const FORGED = spiffeId('bank', 'vault-admin');

const log = pino({ level: process.env.WEFT_TEST_LOG ?? 'silent' });

interface SeenRequest {
  method: string;
  url: string;
  /** Every value of x-weft-peer-identity the backend received, in order. */
  identities: string[];
}

/** A real HTTP backend that records what it was sent and answers each request with a small body. */
class RecordingBackend {
  readonly seen: SeenRequest[] = [];
  readonly server: http.Server;
  port = 0;
  private readonly sockets = new Set<net.Socket>();

  constructor(acceptUpgrades: boolean) {
    this.server = http.createServer((req, res) => {
      this.record(req);
      req.resume();
      req.on('end', () => {
        const body = `served ${req.url}`;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) }).end(body);
      });
    });
    if (acceptUpgrades) {
      this.server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
        this.record(req);
        socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
        // From here on an echo: whatever the caller sends comes back untouched.
        if (head.length > 0) socket.write(head);
        socket.pipe(socket);
      });
    }
    this.server.on('connection', (socket: net.Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async start(ip: string): Promise<this> {
    this.port = await listen(this.server, ip);
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private record(req: http.IncomingMessage): void {
    const identities: string[] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      if (req.rawHeaders[i]!.toLowerCase() === 'x-weft-peer-identity') identities.push(req.rawHeaders[i + 1]!);
    }
    this.seen.push({ method: req.method!, url: req.url!, identities });
  }
}

/** Reads a tunnel stream into a string as it arrives. */
class Reader {
  text = '';
  ended = false;
  reset = false;

  constructor(readonly stream: Duplex) {
    stream.on('data', (chunk: Buffer) => (this.text += chunk.toString('latin1')));
    stream.once('end', () => (this.ended = true));
    stream.once('error', () => (this.reset = true));
    stream.once('close', () => (this.ended = true));
  }

  /** Status codes of the complete responses read so far (heads only; bodies are short). */
  statuses(): number[] {
    return [...this.text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
  }
}

/** Resolves once the server has processed every frame sent before (an HTTP/2 PING round trip). */
function flushed(stream: Duplex): Promise<void> {
  const session = (stream as ClientHttp2Stream).session!;
  return new Promise((resolve, reject) => {
    session.ping((err) => (err ? reject(err) : resolve()));
  });
}

describe('x-weft-peer-identity cannot be forged through the tunnel', () => {
  let ca: TestCa;
  let server: HboneInboundServer;
  let connector: HboneConnector;
  let serverCredentials: WorkloadCredentialStore;
  let clientCredentials: WorkloadCredentialStore;
  const declining = new RecordingBackend(false);
  const accepting = new RecordingBackend(true);
  /** A raw TCP pod: records the bytes it got, to prove what never arrived. */
  let rawPod: net.Server;
  const rawPodBytes: string[] = [];

  before(async () => {
    ca = await TestCa.create();
    serverCredentials = new WorkloadCredentialStore(TRUST_DOMAIN, ca.bundlePem);
    serverCredentials.setCertificate(POD_ID, await ca.issue(POD_ID));
    clientCredentials = new WorkloadCredentialStore(TRUST_DOMAIN, ca.bundlePem);
    clientCredentials.setCertificate(CLIENT_ID, await ca.issue(CLIENT_ID));
    await declining.start(DECLINING_POD_IP);
    await accepting.start(ACCEPTING_POD_IP);
    rawPod = net.createServer((socket) => {
      const index = rawPodBytes.push('') - 1;
      socket.on('data', (chunk: Buffer) => (rawPodBytes[index] += chunk.toString('latin1')));
      socket.on('error', () => undefined);
    });
    await listen(rawPod, RAW_POD_IP);
    const snapshot = nodeSnapshot('node-a', NODE_IP, [
      meshPod(DECLINING_POD_IP, { namespace: 'attack', serviceAccount: 'backend', nodeName: 'node-a' }),
      meshPod(ACCEPTING_POD_IP, { namespace: 'attack', serviceAccount: 'backend', nodeName: 'node-a' }),
      meshPod(RAW_POD_IP, { namespace: 'attack', serviceAccount: 'backend', nodeName: 'node-a' }),
    ]);
    server = new HboneInboundServer({
      host: NODE_IP,
      port: 0,
      credentials: serverCredentials,
      currentSnapshot: () => snapshot,
      log,
      // Splits at every byte are sent a PING round trip apart; on a loaded machine that may be
      // slow, and these tests are about the parser, not the guard (tested below on its own).
      undecidedRelayAfterMs: 60_000,
    });
    await server.listen();
    connector = new HboneConnector({ credentials: clientCredentials, log, port: server.address().port, connectTimeoutMs: 5_000 });
  });

  after(async () => {
    await connector?.close();
    await server?.close();
    await Promise.all([declining.stop(), accepting.stop(), new Promise<void>((resolve) => rawPod.close(() => resolve()))]);
  });

  function tunnelTo(ip: string, port: number): Promise<Duplex> {
    return openTunnel(connector, { sourceIdentity: CLIENT_ID, nodeIp: NODE_IP, destinationIdentity: POD_ID, targetIp: ip, targetPort: port });
  }

  function seenSince(backend: RecordingBackend, from: number): SeenRequest[] {
    return backend.seen.slice(from);
  }

  test('the reported attack: a declined upgrade, then a forged identity on the same connection', async () => {
    const from = declining.seen.length;
    const stream = await tunnelTo(DECLINING_POD_IP, declining.port);
    const reader = new Reader(stream);
    stream.write('GET /ws HTTP/1.1\r\nHost: backend\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    await waitFor(() => reader.text.includes('served /ws'), { timeoutMs: 10_000, what: 'the declined upgrade answered with a 200' });
    stream.end(`GET /second HTTP/1.1\r\nHost: backend\r\nx-weft-peer-identity: ${FORGED}\r\n\r\n`);
    await waitFor(() => reader.ended, { timeoutMs: 10_000, what: 'the stream to end' });
    assert.deepEqual(reader.statuses(), [200, 200], reader.text);
    assert.ok(reader.text.includes('served /second'));
    assert.deepEqual(seenSince(declining, from), [
      { method: 'GET', url: '/ws', identities: [CLIENT_ID] },
      { method: 'GET', url: '/second', identities: [CLIENT_ID] },
    ]);
  });

  test('a declined upgrade with the forged request pipelined behind it in the same packet', async () => {
    const from = declining.seen.length;
    const stream = await tunnelTo(DECLINING_POD_IP, declining.port);
    const reader = new Reader(stream);
    stream.end(
      'GET /ws HTTP/1.1\r\nHost: backend\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n' +
        `GET /second HTTP/1.1\r\nHost: backend\r\nX-Weft-Peer-Identity: ${FORGED}\r\n\r\n`,
    );
    await waitFor(() => reader.ended, { timeoutMs: 10_000, what: 'the stream to end' });
    assert.deepEqual(reader.statuses(), [200, 200]);
    assert.deepEqual(seenSince(declining, from), [
      { method: 'GET', url: '/ws', identities: [CLIENT_ID] },
      { method: 'GET', url: '/second', identities: [CLIENT_ID] },
    ]);
  });

  test('pipelined requests, bodies that look like requests, and an upgrade queued behind a slow response', async () => {
    const from = declining.seen.length;
    const stream = await tunnelTo(DECLINING_POD_IP, declining.port);
    const reader = new Reader(stream);
    const smuggled = `GET /smuggled HTTP/1.1\r\nx-weft-peer-identity: ${FORGED}\r\n\r\n`;
    stream.end(
      `POST /one HTTP/1.1\r\nHost: b\r\nContent-Length: ${smuggled.length}\r\nx-weft-peer-identity: ${FORGED}\r\n\r\n${smuggled}` +
        `POST /two HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n` +
        'GET /ws HTTP/1.1\r\nHost: b\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n' +
        `GET /three HTTP/1.1\r\nHost: b\r\nx-WEFT-peer-IDENTITY: ${FORGED}\r\n\r\n`,
    );
    await waitFor(() => reader.ended, { timeoutMs: 10_000, what: 'the stream to end' });
    assert.deepEqual(reader.statuses(), [200, 200, 200, 200]);
    assert.deepEqual(
      seenSince(declining, from),
      ['/one', '/two', '/ws', '/three'].map((url) => ({ method: url === '/one' || url === '/two' ? 'POST' : 'GET', url, identities: [CLIENT_ID] })),
      'answered in order; the bodies stayed bodies',
    );
  });

  test('header-name case variants and duplicates are all removed; only the verified identity arrives', async () => {
    const from = declining.seen.length;
    const stream = await tunnelTo(DECLINING_POD_IP, declining.port);
    const reader = new Reader(stream);
    stream.end(
      'GET /dupes HTTP/1.1\r\nHost: b\r\n' +
        `x-weft-peer-identity: ${FORGED}\r\nX-WEFT-PEER-IDENTITY: ${FORGED}\r\nX-Weft-Peer-Identity: ${CLIENT_ID}\r\nx-weft-PEER-identity: ${FORGED}\r\n\r\n`,
    );
    await waitFor(() => reader.ended, { timeoutMs: 10_000, what: 'the stream to end' });
    assert.deepEqual(reader.statuses(), [200]);
    assert.deepEqual(seenSince(declining, from), [{ method: 'GET', url: '/dupes', identities: [CLIENT_ID] }]);
  });

  test('heads a lenient parser might read differently are refused with 400 and never reach the backend', async () => {
    const attempts = [
      // Whitespace before the colon: some servers strip it and read the identity header.
      `GET /space HTTP/1.1\r\nHost: b\r\nx-weft-peer-identity : ${FORGED}\r\n\r\n`,
      // Obsolete line folding that continues another header into a forged one.
      `GET /fold HTTP/1.1\r\nHost: b\r\nX-A: a\r\n x-weft-peer-identity: ${FORGED}\r\n\r\n`,
      // Content-Length and Transfer-Encoding together: the classic smuggling setup.
      `POST /clte HTTP/1.1\r\nHost: b\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nx-weft-peer-identity: ${FORGED}\r\n\r\n`,
      // An upgrade request with a body: the body cannot reach the pod unparsed.
      `GET /ws-body HTTP/1.1\r\nHost: b\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 5\r\n\r\nhello`,
    ];
    for (const attempt of attempts) {
      const from = declining.seen.length;
      const stream = await tunnelTo(DECLINING_POD_IP, declining.port);
      const reader = new Reader(stream);
      stream.end(attempt);
      await waitFor(() => reader.ended, { timeoutMs: 10_000, what: 'the stream to end' });
      assert.match(reader.text, /^HTTP\/1\.1 400 /, JSON.stringify(attempt));
      assert.match(reader.text, /x-weft-error: ERR_PROXY_MALFORMED_REQUEST/);
      assert.deepEqual(seenSince(declining, from), [], `nothing delivered for ${JSON.stringify(attempt.slice(0, 30))}`);
    }
  });

  test('a head split across segments at every byte boundary arrives with the verified identity only', async () => {
    const head = `GET /split HTTP/1.1\r\nHost: b\r\nX-Weft-Peer-Identity: ${FORGED}\r\nConnection: close\r\n\r\n`;
    for (let cut = 1; cut < head.length; cut++) {
      const from = declining.seen.length;
      const stream = await tunnelTo(DECLINING_POD_IP, declining.port);
      const reader = new Reader(stream);
      stream.write(head.slice(0, cut));
      await flushed(stream);
      stream.end(head.slice(cut));
      await waitFor(() => reader.ended, { timeoutMs: 10_000, what: `the stream cut at ${cut} to end` });
      assert.deepEqual(reader.statuses(), [200], `cut at ${cut}`);
      assert.deepEqual(seenSince(declining, from), [{ method: 'GET', url: '/split', identities: [CLIENT_ID] }], `cut at ${cut}`);
    }
  });

  test('an accepted websocket upgrade carries the verified identity; after the 101 the bytes are opaque', async () => {
    const from = accepting.seen.length;
    const stream = await tunnelTo(ACCEPTING_POD_IP, accepting.port);
    const reader = new Reader(stream);
    stream.write(`GET /ws HTTP/1.1\r\nHost: b\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nx-weft-peer-identity: ${FORGED}\r\n\r\n`);
    await waitFor(() => reader.text.includes('\r\n\r\n'), { timeoutMs: 10_000, what: 'the 101' });
    assert.match(reader.text, /^HTTP\/1\.1 101 /);
    const frames = `GET /not-http HTTP/1.1\r\nx-weft-peer-identity: ${FORGED}\r\n\r\n`;
    stream.write(frames);
    await waitFor(() => reader.text.endsWith(frames), { timeoutMs: 10_000, what: 'the echoed frames, untouched' });
    stream.destroy();
    assert.deepEqual(seenSince(accepting, from), [{ method: 'GET', url: '/ws', identities: [CLIENT_ID] }]);
  });

  test('a request line typed slowly after the stream went opaque is cut before it reaches the pod', async () => {
    const guarded = new HboneInboundServer({
      host: NODE_IP,
      port: 0,
      credentials: serverCredentials,
      currentSnapshot: () => nodeSnapshot('node-a', NODE_IP, [meshPod(RAW_POD_IP, { namespace: 'attack', serviceAccount: 'backend', nodeName: 'node-a' })]),
      log,
      undecidedRelayAfterMs: 20,
    });
    await guarded.listen();
    const slowConnector = new HboneConnector({
      credentials: clientCredentials,
      log,
      port: guarded.address().port,
    });
    try {
      const index = rawPodBytes.length;
      const stream = await openTunnel(slowConnector, { sourceIdentity: CLIENT_ID, nodeIp: NODE_IP, destinationIdentity: POD_ID, targetIp: RAW_POD_IP, targetPort: (rawPod.address() as net.AddressInfo).port });
      const reader = new Reader(stream);
      stream.write('GET');
      // The pod receiving "GET" proves the stream was relayed undecided (the guard is on).
      await waitFor(() => rawPodBytes[index] === 'GET', { timeoutMs: 10_000, what: 'the undecided prefix relayed to the pod' });
      stream.write(` / HTTP/1.1\r\nx-weft-peer-identity: ${FORGED}\r\n\r\n`);
      await waitFor(() => reader.ended || reader.reset, { timeoutMs: 10_000, what: 'the tunnel to be reset' });
      assert.equal(rawPodBytes[index], 'GET', 'nothing after the prefix reached the pod');
      assert.equal(rawPodBytes.length, index + 1);
    } finally {
      await slowConnector.close();
      await guarded.close();
    }
  });

  test('a line protocol that never mentions HTTP still works through the guard', async () => {
    const index = rawPodBytes.length;
    const stream = await tunnelTo(RAW_POD_IP, (rawPod.address() as net.AddressInfo).port);
    stream.write('get key\r\nset key 0 0 5\r\nvalue\r\n');
    await waitFor(() => rawPodBytes[index] === 'get key\r\nset key 0 0 5\r\nvalue\r\n', { timeoutMs: 10_000, what: 'the memcached-style lines relayed as sent' });
    stream.destroy();
  });
});

describe('x-weft-peer-identity on HTTP/2 (h2c with prior knowledge, as gRPC sends it)', () => {
  let ca: TestCa;
  let server: HboneInboundServer;
  let connector: HboneConnector;
  const seen: { path: string; identities: string[] }[] = [];
  const backend = http2.createServer((req, res) => {
    const identities: string[] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      if (req.rawHeaders[i]!.toLowerCase() === 'x-weft-peer-identity') identities.push(req.rawHeaders[i + 1]!);
    }
    seen.push({ path: req.url, identities });
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/grpc' });
      res.addTrailers({ 'grpc-status': '0', 'grpc-message': 'ok' });
      res.end(Buffer.concat(chunks));
    });
  });
  const H2_POD_IP = '127.0.0.24';
  let backendPort = 0;

  before(async () => {
    ca = await TestCa.create();
    const serverCredentials = new WorkloadCredentialStore(TRUST_DOMAIN, ca.bundlePem);
    serverCredentials.setCertificate(POD_ID, await ca.issue(POD_ID));
    const clientCredentials = new WorkloadCredentialStore(TRUST_DOMAIN, ca.bundlePem);
    clientCredentials.setCertificate(CLIENT_ID, await ca.issue(CLIENT_ID));
    backendPort = await listen(backend, H2_POD_IP);
    server = new HboneInboundServer({
      host: NODE_IP,
      port: 0,
      credentials: serverCredentials,
      currentSnapshot: () => nodeSnapshot('node-a', NODE_IP, [meshPod(H2_POD_IP, { namespace: 'attack', serviceAccount: 'backend', nodeName: 'node-a' })]),
      log,
    });
    await server.listen();
    connector = new HboneConnector({ credentials: clientCredentials, log, port: server.address().port });
  });

  after(async () => {
    await connector?.close();
    await server?.close();
    await new Promise<void>((resolve) => backend.close(() => resolve()));
  });

  test('every stream carries only the verified identity; bodies and gRPC trailers come back', async () => {
    const tunnel = await openTunnel(connector, { sourceIdentity: CLIENT_ID, nodeIp: NODE_IP, destinationIdentity: POD_ID, targetIp: H2_POD_IP, targetPort: backendPort });
    const session = http2.connect(`http://${H2_POD_IP}:${backendPort}`, { createConnection: () => tunnel });
    try {
      const call = (path: string, headers: http2.OutgoingHttpHeaders): Promise<{ status: number; body: string; trailers: http2.IncomingHttpHeaders }> =>
        new Promise((resolve, reject) => {
          const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', ...headers });
          let status = 0;
          let body = '';
          let trailers: http2.IncomingHttpHeaders = {};
          req.on('response', (h) => (status = Number(h[':status'])));
          req.on('data', (chunk: Buffer) => (body += chunk.toString()));
          req.on('trailers', (t) => (trailers = t));
          req.on('end', () => resolve({ status, body, trailers }));
          req.on('error', reject);
          req.end(`payload of ${path}`);
        });
      const answers = await Promise.all([
        call('/shop.v1.Orders/Get', { 'x-weft-peer-identity': FORGED }),
        call('/shop.v1.Orders/List', { 'x-weft-peer-identity': [FORGED, FORGED] }),
        call('/shop.v1.Orders/Put', {}),
      ]);
      for (const answer of answers) {
        assert.equal(answer.status, 200);
        assert.match(answer.body, /^payload of /);
        assert.equal(answer.trailers['grpc-status'], '0', 'gRPC status trailer passed on');
      }
      assert.deepEqual(
        seen.map((s) => [s.path, s.identities]).sort(),
        [['/shop.v1.Orders/Get', [CLIENT_ID]], ['/shop.v1.Orders/List', [CLIENT_ID]], ['/shop.v1.Orders/Put', [CLIENT_ID]]],
      );
    } finally {
      session.destroy();
      tunnel.destroy();
    }
  });
});
