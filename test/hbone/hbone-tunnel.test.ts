// The HBONE tunnel on loopback with real TLS 1.3 and a test CA: client connector -> inbound
// server (node-2 at 127.0.0.2) -> real backends (pods at 127.0.0.x). Identity checks on both
// sides, pooling (handshakes counted at the server), and certificate rotation.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import pino from 'pino';
import { HboneConnector } from '../../agent/src/hbone/hbone-connector.js';
import { HboneInboundServer } from '../../agent/src/hbone/inbound-server.js';
import type { InboundTunnelEvent } from '../../agent/src/hbone/inbound-tunnel-accounting.js';
import { unobservedTunnel } from '../../agent/src/hbone/unobserved-tunnel.js';
import { sniForIdentity } from '../../agent/src/hbone/sni-identity.js';
import { WorkloadCredentialStore } from '../../agent/src/hbone/workload-credential-store.js';
import type { WorkloadCredentials } from '../../agent/src/hbone/workload-credentials.js';
import { ProxyErrorCode } from '../../agent/src/proxy/error-codes.js';
import { classifyProxyError } from '../../agent/src/proxy/error-responses.js';
import { EchoServer, HttpBackend } from '../proxy/proxy-harness.js';
import { waitFor } from '../support/wait-for.js';
import {
  IdentityEchoBackend,
  TRUST_DOMAIN,
  exchange,
  meshPod,
  nodeSnapshot,
  openTunnel,
  responseBodies,
  spiffeId,
} from './hbone-harness.js';
import { TestCa, selfSignedSvid } from './test-ca.js';

const NODE2_IP = '127.0.0.2';
const WEB_POD_IP = '127.0.0.3';
const REMOTE_POD_IP = '127.0.0.4'; // runs on node-3
const UNENROLLED_POD_IP = '127.0.0.5';
const DB_POD_IP = '127.0.0.6';
const ECHO_POD_IP = '127.0.0.7';
const UPGRADE_POD_IP = '127.0.0.11';
const CLIENT_ID = spiffeId('demo', 'client');
const WEB_ID = spiffeId('demo', 'web');
const DB_ID = spiffeId('demo', 'db');

const log = pino({ level: process.env.WEFT_TEST_LOG ?? 'silent' });

async function expectOpenFailure(connector: HboneConnector, request: Parameters<typeof openTunnel>[1]): Promise<{ code: string; message: string }> {
  try {
    const stream = await openTunnel(connector, request);
    stream.destroy();
  } catch (err) {
    return { code: classifyProxyError(err), message: (err as Error).message };
  }
  assert.fail(`the tunnel to ${request.targetIp}:${request.targetPort} should have been refused`);
}

/** Writes `text` and resolves with the next chunk read (the echo pod sends it back). */
function echoOnce(stream: Duplex, text: string): Promise<string> {
  const reply = new Promise<string>((resolve, reject) => {
    stream.once('data', (chunk: Buffer) => resolve(chunk.toString()));
    stream.once('error', reject);
  });
  stream.write(text);
  return reply;
}

describe('HBONE tunnel', () => {
  let ca: TestCa;
  let serverCredentials: WorkloadCredentialStore;
  let clientCredentials: WorkloadCredentialStore;
  let server: HboneInboundServer;
  let serverPort = 0;
  const backend = new IdentityEchoBackend();
  const echo = new EchoServer();
  const upgrading = new HttpBackend('upgrading');
  const tunnels: InboundTunnelEvent[] = [];
  /** Tunnels the server reported as ended (each opened one must end exactly once). */
  let endedTunnels = 0;
  const rejections: string[] = [];
  let handshakes = 0;
  /** Serial numbers of the client certificates the server accepted, in handshake order. */
  const clientSerials: string[] = [];
  const connectors: HboneConnector[] = [];
  const extraServers: HboneInboundServer[] = [];

  function connector(credentials: WorkloadCredentials = clientCredentials, options: { maxStreamsPerSession?: number; port?: number } = {}): HboneConnector {
    const created = new HboneConnector({ credentials, log, port: options.port ?? serverPort, connectTimeoutMs: 5_000, ...options });
    connectors.push(created);
    return created;
  }

  function request(targetIp: string, targetPort: number, overrides: Partial<Parameters<typeof openTunnel>[1]> = {}): Parameters<typeof openTunnel>[1] {
    return { sourceIdentity: CLIENT_ID, nodeIp: NODE2_IP, destinationIdentity: WEB_ID, targetIp, targetPort, ...overrides };
  }

  before(async () => {
    ca = await TestCa.create();
    serverCredentials = new WorkloadCredentialStore(TRUST_DOMAIN, ca.bundlePem);
    serverCredentials.setCertificate(WEB_ID, await ca.issue(WEB_ID));
    serverCredentials.setCertificate(DB_ID, await ca.issue(DB_ID));
    clientCredentials = new WorkloadCredentialStore(TRUST_DOMAIN, ca.bundlePem);
    clientCredentials.setCertificate(CLIENT_ID, await ca.issue(CLIENT_ID));
    await backend.start(WEB_POD_IP);
    await echo.start(ECHO_POD_IP);
    await upgrading.start(UPGRADE_POD_IP);
    const snapshot = nodeSnapshot('node-2', NODE2_IP, [
      meshPod(WEB_POD_IP, { serviceAccount: 'web', nodeName: 'node-2' }),
      meshPod(ECHO_POD_IP, { serviceAccount: 'web', nodeName: 'node-2' }),
      meshPod(UPGRADE_POD_IP, { serviceAccount: 'web', nodeName: 'node-2' }),
      meshPod(REMOTE_POD_IP, { serviceAccount: 'web', nodeName: 'node-3' }),
      meshPod(UNENROLLED_POD_IP, { serviceAccount: 'web', nodeName: 'node-2', enrolled: false }),
      meshPod(DB_POD_IP, { serviceAccount: 'db', nodeName: 'node-2' }),
    ]);
    server = new HboneInboundServer({
      host: NODE2_IP,
      port: 0,
      credentials: serverCredentials,
      currentSnapshot: () => snapshot,
      log,
      onTunnel: (event) => {
        tunnels.push(event);
        return { requests: unobservedTunnel(event).requests, ended: () => endedTunnels++ };
      },
      onPeerRejected: (reason, detail) => rejections.push(`${reason}: ${detail}`),
    });
    server.tlsServer.on('secureConnection', (socket: tls.TLSSocket) => {
      handshakes++;
      clientSerials.push(socket.getPeerX509Certificate()?.serialNumber.toLowerCase() ?? '');
    });
    await server.listen();
    serverPort = server.address().port;
  });

  after(async () => {
    await Promise.all(connectors.map((c) => c.close()));
    await Promise.all([server?.close(), ...extraServers.map((s) => s.close())]);
    await Promise.all([backend.stop(), echo.stop(), upgrading.stop()]);
  });

  test('a request through the tunnel reaches the backend, which sees the verified client identity (a forged one is stripped)', async () => {
    const before = tunnels.length;
    const stream = await openTunnel(connector(), request(WEB_POD_IP, backend.port));
    const raw = await exchange(
      stream,
      `GET /hello HTTP/1.1\r\nHost: web\r\nX-Weft-Peer-Identity: ${spiffeId('kube-system', 'admin')}\r\nConnection: close\r\n\r\n`,
    );
    assert.match(raw, /^HTTP\/1\.1 200 /);
    const [body] = responseBodies(raw);
    assert.deepEqual(body?.identities, [CLIENT_ID]);
    assert.deepEqual(tunnels.slice(before), [
      { sourceIdentity: CLIENT_ID, destinationIdentity: WEB_ID, targetIp: WEB_POD_IP, targetPort: backend.port, securityPolicy: 'mutual_tls' },
    ]);
  });

  test('pipelined requests with bodies (content-length and chunked) each carry the identity', async () => {
    const stream = await openTunnel(connector(), request(WEB_POD_IP, backend.port));
    const forged = 'x-weft-peer-identity: spiffe://cluster.local/ns/evil/sa/evil';
    // A body that looks like a request with a forged header must stay a body, untouched.
    const chunkData = `GET /x HTTP/1.1\r\n${forged}\r\n\r\n`;
    const raw = await exchange(
      stream,
      `POST /one HTTP/1.1\r\nHost: web\r\nContent-Length: 5\r\n${forged}\r\n\r\nhello` +
        `POST /two HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `${chunkData.length.toString(16)}\r\n${chunkData}\r\n0\r\n\r\n` +
        `GET /three HTTP/1.1\r\nHost: web\r\n${forged}\r\nConnection: close\r\n\r\n`,
    );
    const bodies = responseBodies(raw);
    assert.deepEqual(bodies.map((b) => b.url), ['/one', '/two', '/three']);
    for (const body of bodies) assert.deepEqual(body.identities, [CLIENT_ID], body.url);
    assert.equal(bodies[0]!.body, 'hello');
    assert.equal(bodies[1]!.body, chunkData);
  });

  test('an HTTP upgrade through the tunnel switches to an opaque byte stream after the 101', async () => {
    const stream = await openTunnel(connector(), request(UPGRADE_POD_IP, upgrading.port));
    let received = '';
    stream.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    stream.write('GET /ws HTTP/1.1\r\nHost: web\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
    await waitFor(() => received.includes('\r\n\r\n'), { timeoutMs: 5_000, what: 'the 101 response' });
    assert.match(received, /^HTTP\/1\.1 101 /);
    // After the switch, bytes that look like a request are not touched.
    const opaque = 'GET /not-http-anymore HTTP/1.1\r\nx-weft-peer-identity: mine\r\n\r\n';
    stream.write(opaque);
    await waitFor(() => received.endsWith(opaque), { timeoutMs: 5_000, what: 'the echoed bytes' });
    stream.destroy();
  });

  test('a large transfer both ways arrives intact (flow control and backpressure)', async () => {
    const stream = await openTunnel(connector(), request(ECHO_POD_IP, echo.port));
    const payload = randomBytes(16 * 1024 * 1024);
    const received = createHash('sha256');
    let receivedBytes = 0;
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (chunk: Buffer) => {
        received.update(chunk);
        receivedBytes += chunk.length;
      });
      stream.once('end', resolve);
      stream.once('error', reject);
    });
    stream.end(payload);
    await done;
    assert.equal(receivedBytes, payload.length);
    assert.equal(received.digest('hex'), createHash('sha256').update(payload).digest('hex'));
  });

  test('many connections, sequential and concurrent, share ONE TLS session (one handshake)', async () => {
    const pooled = connector();
    const handshakesBefore = handshakes;
    for (let i = 0; i < 5; i++) {
      const raw = await exchange(await openTunnel(pooled, request(WEB_POD_IP, backend.port)), `GET /seq/${i} HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n`);
      assert.equal(responseBodies(raw)[0]?.url, `/seq/${i}`);
    }
    const concurrent = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const stream = await openTunnel(pooled, request(WEB_POD_IP, backend.port));
        return responseBodies(await exchange(stream, `GET /par/${i} HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n`))[0]?.url;
      }),
    );
    assert.deepEqual(concurrent, Array.from({ length: 20 }, (_, i) => `/par/${i}`));
    assert.equal(handshakes - handshakesBefore, 1, 'one TLS handshake for 25 tunnelled connections');
    assert.deepEqual(pooled.stats(), { sessions: 1, sessionsOpened: 1 });
  });

  test('streams per session are bounded: a full session makes the pool open a second one', async () => {
    const bounded = connector(clientCredentials, { maxStreamsPerSession: 2 });
    const handshakesBefore = handshakes;
    const held = await Promise.all([0, 1, 2].map(() => openTunnel(bounded, request(ECHO_POD_IP, echo.port))));
    assert.equal(bounded.stats().sessionsOpened, 2);
    assert.equal(handshakes - handshakesBefore, 2);
    for (const stream of held) stream.destroy();
  });

  test('GOAWAY from the server: open streams finish, new streams go to a new session', async () => {
    const client = connector();
    const longLived = await openTunnel(client, request(ECHO_POD_IP, echo.port));
    assert.equal(await echoOnce(longLived, 'before goaway'), 'before goaway');
    server.goAway();
    await waitFor(() => client.stats().sessions === 0, { timeoutMs: 5_000, what: 'the session leaves the pool on GOAWAY' });
    const fresh = await openTunnel(client, request(ECHO_POD_IP, echo.port));
    assert.equal(await echoOnce(fresh, 'new session'), 'new session');
    assert.equal(client.stats().sessionsOpened, 2);
    assert.equal(await echoOnce(longLived, 'after goaway'), 'after goaway', 'the stream on the draining session still works');
    longLived.destroy();
    fresh.destroy();
  });

  function nodeServer(port: number): HboneInboundServer {
    const snapshot = nodeSnapshot('node-2', NODE2_IP, [meshPod(ECHO_POD_IP, { serviceAccount: 'web', nodeName: 'node-2' })]);
    const created = new HboneInboundServer({ host: NODE2_IP, port, credentials: serverCredentials, currentSnapshot: () => snapshot, log });
    extraServers.push(created);
    return created;
  }

  test('handover: a successor on the same port takes the new sessions while the old server drains its open streams', async () => {
    const old = nodeServer(0);
    await old.listen();
    const port = old.address().port;
    const successor = nodeServer(port);
    await successor.listen(); // SO_REUSEPORT: both listen on one port
    let successorSessions = 0;
    successor.tlsServer.on('secureConnection', () => successorSessions++);
    let oldSessions = 0;
    old.tlsServer.on('secureConnection', () => oldSessions++);

    // Until one tunnel lands on the old server (the kernel spreads connections over both).
    let onOld: Duplex | undefined;
    for (let i = 0; i < 50 && onOld === undefined; i++) {
      const probe = new HboneConnector({ credentials: clientCredentials, log, port });
      connectors.push(probe);
      const before = oldSessions;
      const stream = await openTunnel(probe, request(ECHO_POD_IP, echo.port));
      if (oldSessions > before) onOld = stream;
      else stream.destroy();
    }
    assert.ok(onOld, 'one of 50 sessions reached the old server');
    assert.equal(await echoOnce(onOld, 'before drain'), 'before drain');

    await old.stopAccepting();
    const drained = old.drain(10_000);
    const successorBefore = successorSessions;
    for (let i = 0; i < 5; i++) {
      const fresh = await openTunnel(connector(clientCredentials, { port }), request(ECHO_POD_IP, echo.port));
      assert.equal(await echoOnce(fresh, `new ${i}`), `new ${i}`);
      fresh.destroy();
    }
    assert.equal(successorSessions - successorBefore, 5, 'every new session after the drain began went to the successor');
    assert.equal(await echoOnce(onOld, 'during drain'), 'during drain', 'the open stream on the draining server still works');
    onOld.end();
    assert.equal(await drained, 0, 'the drain ended without cutting anything');
  });

  test('a peer whose agent is not listening yet (restarting) is tried again until it listens', async () => {
    const placeholder = net.createServer();
    await new Promise<void>((resolve) => placeholder.listen(0, NODE2_IP, resolve));
    const port = (placeholder.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => placeholder.close(() => resolve()));
    const client = connector(clientCredentials, { port });
    const opening = openTunnel(client, request(ECHO_POD_IP, echo.port));
    await waitFor(() => client.stats().sessionsOpened >= 2, { what: 'a refused connect tried again' });
    await nodeServer(port).listen();
    const stream = await opening;
    assert.equal(await echoOnce(stream, 'after restart'), 'after restart');
    stream.destroy();
  });

  test('draining without a successor: only the own node may open sessions; others are reset and retry', async () => {
    const draining = nodeServer(0);
    await draining.listen();
    const port = draining.address().port;
    // Loopback clients of 127.0.0.2 come from 127.0.0.1: that plays the server's own node.
    draining.acceptOnlyFrom('127.0.0.1');
    const own = await openTunnel(connector(clientCredentials, { port }), request(ECHO_POD_IP, echo.port));
    assert.equal(await echoOnce(own, 'own node'), 'own node');
    own.destroy();
    draining.acceptOnlyFrom('127.0.0.9');
    const other = new HboneConnector({ credentials: clientCredentials, log, port, refusedRetryWindowMs: 300 });
    connectors.push(other);
    const failure = await expectOpenFailure(other, request(ECHO_POD_IP, echo.port));
    assert.equal(failure.code, ProxyErrorCode.TUNNEL_FAILED, failure.message);
    assert.ok(other.stats().sessionsOpened >= 2, 'a reset before the session was up is tried again');
    await draining.stopAccepting();
  });

  test('a refused peer is given up after refusedRetryWindowMs', async () => {
    const placeholder = net.createServer();
    await new Promise<void>((resolve) => placeholder.listen(0, NODE2_IP, resolve));
    const port = (placeholder.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => placeholder.close(() => resolve()));
    const client = new HboneConnector({ credentials: clientCredentials, log, port, refusedRetryWindowMs: 300 });
    connectors.push(client);
    const failure = await expectOpenFailure(client, request(ECHO_POD_IP, echo.port));
    assert.equal(failure.code, ProxyErrorCode.TUNNEL_FAILED, failure.message);
    assert.match(failure.message, /ECONNREFUSED/);
    assert.ok(client.stats().sessionsOpened >= 2, 'it was tried more than once');
  });

  test('an idle session is closed after sessionIdleTimeoutMs', async () => {
    const client = new HboneConnector({ credentials: clientCredentials, log, port: serverPort, sessionIdleTimeoutMs: 200 });
    connectors.push(client);
    const stream = await openTunnel(client, request(ECHO_POD_IP, echo.port));
    assert.equal(await echoOnce(stream, 'x'), 'x');
    stream.end();
    await waitFor(() => client.stats().sessions === 0, { timeoutMs: 10_000, what: 'the idle session is closed' });
  });

  test('every tunnel is reported ended once, also one closed before its caller sent a byte', async () => {
    const openedBefore = tunnels.length;
    const endedBefore = endedTunnels;
    const silent = await openTunnel(connector(), request(ECHO_POD_IP, echo.port));
    silent.destroy();
    const spoken = await openTunnel(connector(), request(ECHO_POD_IP, echo.port));
    assert.equal(await echoOnce(spoken, 'x\n'), 'x\n');
    spoken.end();
    await waitFor(() => endedTunnels - endedBefore === 2, { timeoutMs: 5_000, what: 'both tunnels reported ended' });
    assert.equal(tunnels.length - openedBefore, 2);
  });

  test('a client that abandons its stream makes the server drop the pod connection', async () => {
    const podSockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      podSockets.add(socket);
      socket.on('close', () => podSockets.delete(socket));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, ECHO_POD_IP, resolve));
    try {
      const stream = await openTunnel(connector(), request(ECHO_POD_IP, (silent.address() as net.AddressInfo).port));
      await waitFor(() => podSockets.size === 1, { timeoutMs: 5_000, what: 'the pod connection' });
      stream.destroy();
      await waitFor(() => podSockets.size === 0, { timeoutMs: 5_000, what: 'the pod connection is closed' });
    } finally {
      for (const socket of podSockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  test('a node that accepts TCP on 15008 but never speaks TLS: the connect times out', async () => {
    const blackHole = net.createServer((socket) => socket.on('error', () => undefined));
    const held = new Set<net.Socket>();
    blackHole.on('connection', (socket) => held.add(socket));
    await new Promise<void>((resolve) => blackHole.listen(0, NODE2_IP, resolve));
    try {
      const client = new HboneConnector({ credentials: clientCredentials, log, port: (blackHole.address() as net.AddressInfo).port, connectTimeoutMs: 300 });
      connectors.push(client);
      const failure = await expectOpenFailure(client, request(WEB_POD_IP, backend.port));
      assert.equal(failure.code, ProxyErrorCode.UPSTREAM_CONNECT_TIMEOUT, failure.message);
      assert.match(failure.message, /15008/);
      await waitFor(() => client.stats().sessions === 0, { timeoutMs: 5_000, what: 'the stuck session leaves the pool' });
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => blackHole.close(() => resolve()));
    }
  });

  test('a client with a self-signed certificate carrying a valid-looking SPIFFE ID is rejected at the handshake', async () => {
    const impostor = new WorkloadCredentialStore(TRUST_DOMAIN, ca.bundlePem);
    impostor.setCertificate(CLIENT_ID, await selfSignedSvid(CLIENT_ID));
    const handshakesBefore = handshakes;
    const tunnelsBefore = tunnels.length;
    const rejectionsBefore = rejections.length;
    const failure = await expectOpenFailure(connector(impostor), request(WEB_POD_IP, backend.port));
    assert.equal(failure.code, ProxyErrorCode.TUNNEL_FAILED, failure.message);
    await waitFor(() => rejections.length > rejectionsBefore, { timeoutMs: 5_000, what: 'the server reports the failed handshake' });
    assert.equal(handshakes, handshakesBefore, 'no TLS session was established');
    assert.equal(tunnels.length, tunnelsBefore);
  });

  test('a client certificate from the right CA but another trust domain is refused', async () => {
    const otherDomainId = spiffeId('demo', 'client', 'other.example');
    const foreign = new WorkloadCredentialStore('other.example', ca.bundlePem);
    foreign.setCertificate(otherDomainId, await ca.issue(otherDomainId));
    const tunnelsBefore = tunnels.length;
    const rejectionsBefore = rejections.length;
    const failure = await expectOpenFailure(
      connector(foreign),
      request(WEB_POD_IP, backend.port, { sourceIdentity: otherDomainId }),
    );
    assert.equal(failure.code, ProxyErrorCode.TUNNEL_FAILED, failure.message);
    await waitFor(() => rejections.length > rejectionsBefore, { timeoutMs: 5_000, what: 'the server refuses the peer' });
    assert.match(rejections.at(-1)!, /^foreign_trust_domain: .*not in the trust domain cluster\.local/);
    assert.equal(tunnels.length, tunnelsBefore);
  });

  test('CONNECT to a pod that is not an enrolled pod of this node with the SNI identity gets 403', async () => {
    const client = connector();
    for (const [ip, why] of [
      [REMOTE_POD_IP, 'on another node'],
      [UNENROLLED_POD_IP, 'not enrolled'],
      [DB_POD_IP, 'runs as another identity than the one asked for'],
      ['127.0.0.99', 'unknown pod'],
    ] as const) {
      const failure = await expectOpenFailure(client, request(ip, 80));
      assert.equal(failure.code, ProxyErrorCode.TUNNEL_REJECTED, `${why}: ${failure.message}`);
      assert.match(failure.message, /403 \(ERR_PROXY_INBOUND_TARGET_FORBIDDEN\)/, why);
    }
  });

  test('a malformed CONNECT authority gets 400; a refused pod port gets 502 and the client sees the pod refused', async () => {
    const context = clientCredentials.secureContextFor(CLIENT_ID)!;
    const session = http2.connect(`https://${NODE2_IP}:${serverPort}`, {
      createConnection: () =>
        tls.connect({ host: NODE2_IP, port: serverPort, servername: sniForIdentity(WEB_ID), secureContext: context, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined }),
    });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const stream = session.request({ ':method': 'CONNECT', ':authority': 'web.demo:80' });
        stream.once('response', (headers) => resolve(Number(headers[':status'])));
        stream.once('error', reject);
      });
      assert.equal(status, 400);
    } finally {
      session.destroy();
    }
    const closedPort = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, WEB_POD_IP, () => {
        const port = (probe.address() as net.AddressInfo).port;
        probe.close(() => resolve(port));
      });
    });
    const failure = await expectOpenFailure(connector(), request(WEB_POD_IP, closedPort));
    assert.equal(failure.code, ProxyErrorCode.UPSTREAM_REFUSED, failure.message);
  });

  test('a destination node that presents another identity than the expected one is refused by the client', async () => {
    // A node that answers the SNI for "web" with the certificate of "db".
    const lying: WorkloadCredentials = {
      trustDomain: TRUST_DOMAIN,
      secureContextFor: (identity) => serverCredentials.secureContextFor(identity === WEB_ID ? DB_ID : identity),
      trustBundlePem: () => serverCredentials.trustBundlePem(),
      onChange: () => () => undefined,
    };
    const liar = new HboneInboundServer({
      host: NODE2_IP,
      port: 0,
      credentials: lying,
      currentSnapshot: () => nodeSnapshot('node-2', NODE2_IP, [meshPod(WEB_POD_IP, { serviceAccount: 'web', nodeName: 'node-2' })]),
      log,
    });
    extraServers.push(liar);
    await liar.listen();
    const requestsBefore = backend.requests;
    const failure = await expectOpenFailure(connector(clientCredentials, { port: liar.address().port }), request(WEB_POD_IP, backend.port));
    assert.equal(failure.code, ProxyErrorCode.PEER_IDENTITY_MISMATCH, failure.message);
    assert.match(failure.message, /presented spiffe:\/\/cluster\.local\/ns\/demo\/sa\/db, expected spiffe:\/\/cluster\.local\/ns\/demo\/sa\/web/);
    assert.equal(backend.requests, requestsBefore);
  });

  test('an identity the destination node holds no certificate for fails the handshake', async () => {
    const failure = await expectOpenFailure(connector(), request(WEB_POD_IP, backend.port, { destinationIdentity: spiffeId('demo', 'nobody') }));
    assert.equal(failure.code, ProxyErrorCode.TUNNEL_FAILED, failure.message);
  });

  test('no certificate for the source workload: refused with ERR_PROXY_NO_IDENTITY, nothing is sent', async () => {
    const handshakesBefore = handshakes;
    const failure = await expectOpenFailure(connector(), request(WEB_POD_IP, backend.port, { sourceIdentity: spiffeId('demo', 'uncertified') }));
    assert.equal(failure.code, ProxyErrorCode.NO_IDENTITY);
    assert.equal(handshakes, handshakesBefore);
  });

  test('server-side rotation: new handshakes present the new certificate of the destination identity', async () => {
    const servedSerial = async (): Promise<string> => {
      const socket = tls.connect({
        host: NODE2_IP,
        port: serverPort,
        servername: sniForIdentity(WEB_ID),
        secureContext: clientCredentials.secureContextFor(CLIENT_ID)!,
        ALPNProtocols: ['h2'],
        checkServerIdentity: () => undefined,
      });
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once('secureConnect', resolve);
          socket.once('error', reject);
        });
        return socket.getPeerX509Certificate()!.serialNumber.toLowerCase();
      } finally {
        socket.destroy();
      }
    };
    const rotated = await ca.issue(WEB_ID);
    assert.notEqual(await servedSerial(), rotated.serialNumber);
    serverCredentials.setCertificate(WEB_ID, rotated);
    assert.equal(await servedSerial(), rotated.serialNumber);
    // And the tunnel still works end to end with it.
    const raw = await exchange(await openTunnel(connector(), request(WEB_POD_IP, backend.port)), 'GET /after-rotation HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n');
    assert.deepEqual(responseBodies(raw)[0]?.identities, [CLIENT_ID]);
  });

  test('rotation: new sessions use the new certificate while a long-lived stream keeps working', async () => {
    const rotating = new WorkloadCredentialStore(TRUST_DOMAIN, ca.bundlePem);
    const first = await ca.issue(CLIENT_ID);
    rotating.setCertificate(CLIENT_ID, first);
    const client = connector(rotating);
    const longLived = await openTunnel(client, request(ECHO_POD_IP, echo.port));
    assert.equal(await echoOnce(longLived, 'before rotation'), 'before rotation');
    assert.equal(clientSerials.at(-1), first.serialNumber);

    const second = await ca.issue(CLIENT_ID);
    rotating.setCertificate(CLIENT_ID, second);
    const fresh = await openTunnel(client, request(ECHO_POD_IP, echo.port));
    assert.equal(await echoOnce(fresh, 'after rotation'), 'after rotation');
    assert.equal(clientSerials.at(-1), second.serialNumber, 'the new session presented the new certificate');
    assert.equal(client.stats().sessionsOpened, 2);
    assert.equal(await echoOnce(longLived, 'still alive'), 'still alive', 'the stream on the old session keeps working');
    longLived.destroy();
    fresh.destroy();
  });
});
