// The outbound proxy with the mesh connector: a client pod on node-1 calls a Service whose
// endpoint runs on node-2; the proxy carries it through the HBONE tunnel to node-2's inbound
// server and on to the backend (real curl, real TLS on loopback). Same-node endpoints go through
// node-1's own HBONE server; a source without a certificate is refused with ERR_PROXY_NO_IDENTITY.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import pino from 'pino';
import { HboneConnector } from '../../agent/src/hbone/hbone-connector.js';
import { HboneInboundServer } from '../../agent/src/hbone/inbound-server.js';
import { MeshUpstreamConnector } from '../../agent/src/hbone/mesh-upstream-connector.js';
import { WorkloadCredentialStore } from '../../agent/src/hbone/workload-credential-store.js';
import { createMetricsRegistry } from '../../agent/src/metrics/metrics-registry.js';
import { ProxyMetrics } from '../../agent/src/metrics/proxy-metrics.js';
import { OutboundProxy, type OriginalDestination } from '../../agent/src/proxy/outbound-proxy.js';
import { PlainTcpConnector } from '../../agent/src/proxy/upstream-connector.js';
import type { MeshSnapshot } from '../../agent/src/state/mesh-snapshot.js';
import { EchoServer, OriginalDestinations, buildSnapshot, fromReservedClientPort, readUntil, reserveClientPort } from '../proxy/proxy-harness.js';
import { IdentityEchoBackend, TRUST_DOMAIN, meshPod, nodeSnapshot, spiffeId } from './hbone-harness.js';
import { TestCa } from './test-ca.js';

const execFileAsync = promisify(execFile);

const NODE1_IP = '127.0.0.4';
const NODE2_IP = '127.0.0.2';
const CLIENT_IP = '127.0.0.1';
const UNCERTIFIED_CLIENT_IP = '127.0.0.10';
const REMOTE_WEB_IP = '127.0.0.3';
const REMOTE_ECHO_IP = '127.0.0.7';
const LOCAL_WEB_IP = '127.0.0.8';
const WEB_VIP = { ip: '10.96.0.10', port: 80 };
const LOCAL_VIP = { ip: '10.96.0.11', port: 80 };
const SWAP_WEB_IP = '127.0.0.12';
const SWAP_VIP = { ip: '10.96.0.12', port: 80 };
const CLIENT_ID = spiffeId('demo', 'client');
const WEB_ID = spiffeId('demo', 'web');

const log = pino({ level: process.env.WEFT_TEST_LOG ?? 'silent' });

describe('outbound proxy through HBONE', () => {
  const remoteWeb = new IdentityEchoBackend();
  const localWeb = new IdentityEchoBackend();
  const remoteEcho = new EchoServer();
  const swapWeb = new IdentityEchoBackend();
  /** What node-1's proxy sees; a test swaps it as the state updater would. */
  let node1Current: MeshSnapshot;
  let swapSnapshots: { plain: MeshSnapshot; enrolled: MeshSnapshot };
  const destinations = new OriginalDestinations();
  let inbound: HboneInboundServer;
  let node1Inbound: HboneInboundServer;
  let hbone: HboneConnector;
  let proxy: OutboundProxy;
  let proxyPort = 0;
  let handshakes = 0;
  let node1Handshakes = 0;

  before(async () => {
    await Promise.all([remoteWeb.start(REMOTE_WEB_IP), localWeb.start(LOCAL_WEB_IP), remoteEcho.start(REMOTE_ECHO_IP), swapWeb.start(SWAP_WEB_IP)]);
    const ca = await TestCa.create();
    const node1Credentials = new WorkloadCredentialStore(TRUST_DOMAIN, ca.bundlePem);
    node1Credentials.setCertificate(CLIENT_ID, await ca.issue(CLIENT_ID));
    node1Credentials.setCertificate(WEB_ID, await ca.issue(WEB_ID));
    const node2Credentials = new WorkloadCredentialStore(TRUST_DOMAIN, ca.bundlePem);
    node2Credentials.setCertificate(WEB_ID, await ca.issue(WEB_ID));

    const client = meshPod(CLIENT_IP, { serviceAccount: 'client', nodeName: 'node-1' });
    const uncertified = meshPod(UNCERTIFIED_CLIENT_IP, { serviceAccount: 'uncertified', nodeName: 'node-1' });
    const web = meshPod(REMOTE_WEB_IP, { serviceAccount: 'web', nodeName: 'node-2', hostIp: NODE2_IP });
    const echoPod = meshPod(REMOTE_ECHO_IP, { serviceAccount: 'web', nodeName: 'node-2', hostIp: NODE2_IP });
    const localPod = meshPod(LOCAL_WEB_IP, { serviceAccount: 'web', nodeName: 'node-1', hostIp: NODE1_IP });
    // The swap endpoint: first a pod outside the mesh, then (same IP) an enrolled one.
    const swapPlain = meshPod(SWAP_WEB_IP, { serviceAccount: 'web', nodeName: 'node-2', hostIp: NODE2_IP, enrolled: false });
    const swapEnrolled = meshPod(SWAP_WEB_IP, { serviceAccount: 'web', nodeName: 'node-2', hostIp: NODE2_IP });
    const node1View = (swapPod: typeof swapPlain): MeshSnapshot => ({
      ...buildSnapshot({
        pods: [client, uncertified, web, echoPod, localPod, swapPod],
        services: [
          { namespace: 'demo', name: 'web', clusterIP: WEB_VIP.ip, port: WEB_VIP.port, endpoints: [{ ip: REMOTE_WEB_IP, port: remoteWeb.port, pod: web }] },
          { namespace: 'demo', name: 'local', clusterIP: LOCAL_VIP.ip, port: LOCAL_VIP.port, endpoints: [{ ip: LOCAL_WEB_IP, port: localWeb.port, pod: localPod }] },
          { namespace: 'demo', name: 'swap', clusterIP: SWAP_VIP.ip, port: SWAP_VIP.port, endpoints: [{ ip: SWAP_WEB_IP, port: swapWeb.port, pod: swapPod }] },
        ],
      }),
      nodeName: 'node-1',
    });
    const node1Snapshot = node1View(swapPlain);
    swapSnapshots = { plain: node1Snapshot, enrolled: node1View(swapEnrolled) };
    node1Current = node1Snapshot;
    const node2Snapshot = nodeSnapshot('node-2', NODE2_IP, [web, echoPod, swapEnrolled]);

    inbound = new HboneInboundServer({ host: NODE2_IP, port: 0, credentials: node2Credentials, currentSnapshot: () => node2Snapshot, log });
    inbound.tlsServer.on('secureConnection', () => handshakes++);
    await inbound.listen();
    // Node-1's own HBONE server, on the same port as node-2's (one port per mesh, as 15008).
    node1Inbound = new HboneInboundServer({
      host: NODE1_IP,
      port: inbound.address().port,
      credentials: node1Credentials,
      currentSnapshot: () => node1Snapshot,
      log,
    });
    node1Inbound.tlsServer.on('secureConnection', () => node1Handshakes++);
    await node1Inbound.listen();
    hbone = new HboneConnector({ credentials: node1Credentials, log, port: inbound.address().port });
    proxy = new OutboundProxy({
      host: '127.0.0.1',
      port: 0,
      currentSnapshot: () => node1Current,
      originalDestination: destinations.take,
      metrics: new ProxyMetrics(createMetricsRegistry({ processMetrics: false }), { reporter: 'source' }),
      log,
      connector: new MeshUpstreamConnector({
        plain: new PlainTcpConnector({ connectTimeoutMs: 5_000 }),
        hbone,
        trustDomain: TRUST_DOMAIN,
        log,
      }),
    });
    await proxy.listen();
    proxyPort = proxy.address().port;
  });

  after(async () => {
    await proxy?.close();
    await hbone?.close();
    await inbound?.close();
    await node1Inbound?.close();
    await Promise.all([remoteWeb.stop(), localWeb.stop(), remoteEcho.stop(), swapWeb.stop()]);
  });

  async function curl(target: OriginalDestination, path: string, sourceIp = CLIENT_IP): Promise<{ status: number; headers: string; body: string }> {
    const { stdout } = await fromReservedClientPort(sourceIp, (localPort) => {
      destinations.set(sourceIp, localPort, target);
      return execFileAsync('curl', [
        '-sS', '-i', '--max-time', '20',
        '--interface', sourceIp, '--local-port', String(localPort),
        '-H', 'Host: web.demo',
        '-H', `x-weft-peer-identity: ${spiffeId('kube-system', 'forged')}`,
        `http://127.0.0.1:${proxyPort}${path}`,
      ]);
    });
    const split = stdout.indexOf('\r\n\r\n');
    const headers = stdout.slice(0, split);
    return { status: Number(headers.split(' ')[1]), headers, body: stdout.slice(split + 4) };
  }

  test('HTTP to a Service endpoint on another node goes through the tunnel; the backend sees the client identity; one handshake', async () => {
    const handshakesBefore = handshakes;
    for (let i = 0; i < 5; i++) {
      const response = await curl(WEB_VIP, `/cross/${i}`);
      assert.equal(response.status, 200, response.headers);
      const body = JSON.parse(response.body) as { url: string; identities: string[] };
      assert.equal(body.url, `/cross/${i}`);
      assert.deepEqual(body.identities, [CLIENT_ID]);
    }
    assert.equal(handshakes - handshakesBefore, 1, 'requests reuse one tunnel session');
  });

  test('a snapshot that enrols an endpoint moves its requests into the tunnel at once (no pooled plaintext connection reused)', async () => {
    try {
      const before = await curl(SWAP_VIP, '/before');
      assert.equal(before.status, 200, before.headers);
      assert.deepEqual(
        (JSON.parse(before.body) as { identities: string[] }).identities,
        [spiffeId('kube-system', 'forged')],
        "outside the mesh: plain TCP, the client's own header passed on, no verified identity",
      );
      node1Current = swapSnapshots.enrolled;
      const after = await curl(SWAP_VIP, '/after');
      assert.equal(after.status, 200, after.headers);
      assert.deepEqual((JSON.parse(after.body) as { identities: string[] }).identities, [CLIENT_ID], 'enrolled: through HBONE with the verified identity');
    } finally {
      node1Current = swapSnapshots.plain;
    }
  });

  test('opaque TCP to a pod on another node is relayed through the tunnel', async () => {
    const localPort = await reserveClientPort(CLIENT_IP);
    destinations.set(CLIENT_IP, localPort, { ip: REMOTE_ECHO_IP, port: remoteEcho.port });
    const socket = net.connect({ host: '127.0.0.1', port: proxyPort, localAddress: CLIENT_IP, localPort });
    try {
      socket.write('\x00\x01binary hello');
      const echoed = await readUntil(socket, (bytes) => bytes.includes('binary hello'));
      assert.equal(echoed.toString('latin1'), '\x00\x01binary hello');
    } finally {
      socket.destroy();
    }
  });

  test('a Service endpoint on the same node goes through this node\'s own HBONE server and sees the client identity', async () => {
    const handshakesBefore = handshakes;
    const node1HandshakesBefore = node1Handshakes;
    const response = await curl(LOCAL_VIP, '/local');
    assert.equal(response.status, 200, response.headers);
    const body = JSON.parse(response.body) as { url: string; identities: string[] };
    assert.equal(body.url, '/local');
    assert.deepEqual(body.identities, [CLIENT_ID], 'the forged header is replaced by the verified identity');
    assert.equal(handshakes, handshakesBefore, 'nothing went to node-2');
    assert.equal(node1Handshakes - node1HandshakesBefore, 1, 'one session to the own node');
  });

  test('a source workload without a certificate is refused with 503 ERR_PROXY_NO_IDENTITY, never sent in plaintext', async () => {
    const requestsBefore = remoteWeb.requests;
    const response = await curl(WEB_VIP, '/refused', UNCERTIFIED_CLIENT_IP);
    assert.equal(response.status, 503, response.headers);
    assert.match(response.headers, /x-weft-error: ERR_PROXY_NO_IDENTITY/);
    assert.equal(remoteWeb.requests, requestsBefore);
  });
});
