// Malformed input at both ends of the data plane: the outbound proxy (15001) and the HBONE
// server (15008, over a real mTLS session). A seeded generator mutates valid HTTP/1 requests
// (flipped and inserted bytes, broken framing, bad chunk sizes, conflicting lengths, oversized
// heads), throws raw garbage and garbage after the HTTP/2 preface, and opens CONNECT streams
// with invalid authorities. Every case must end in an HTTP answer or a closed stream within a
// few seconds; afterwards a connection opened before the storm still works, and the heap
// (after a full GC) has not grown. The budget is small in `make test`; `make fuzz` runs
// WEFT_FUZZ_CASES cases per target (seed WEFT_FUZZ_SEED, printed for reproduction).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pino from 'pino';
import { HboneConnector } from '../../agent/src/hbone/hbone-connector.js';
import { HboneInboundServer } from '../../agent/src/hbone/inbound-server.js';
import { sniForIdentity } from '../../agent/src/hbone/sni-identity.js';
import { WorkloadCredentialStore } from '../../agent/src/hbone/workload-credential-store.js';
import { createMetricsRegistry } from '../../agent/src/metrics/metrics-registry.js';
import { ProxyMetrics } from '../../agent/src/metrics/proxy-metrics.js';
import { OutboundProxy } from '../../agent/src/proxy/outbound-proxy.js';
import { TRUST_DOMAIN, meshPod, nodeSnapshot, openTunnel, spiffeId } from '../hbone/hbone-harness.js';
import { TestCa } from '../hbone/test-ca.js';
import { HttpBackend, buildSnapshot, pod } from '../proxy/proxy-harness.js';
import { malformedCase, mulberry32, type FuzzCase } from './malformed-cases.js';

const CASES = Number(process.env.WEFT_FUZZ_CASES ?? 150);
const SEED = Number(process.env.WEFT_FUZZ_SEED ?? Date.now() % 1_000_000);
const CASE_TIMEOUT_MS = 10_000;
/** Generous: the point is "no leak per case", which would show as megabytes per thousand. */
const HEAP_GROWTH_LIMIT_BYTES = 24 * 1024 * 1024;
const NODE_IP = '127.0.0.2';
const BACKEND_IP = '127.0.0.41';
const VIP = { ip: '10.96.0.41', port: 80 };
const CLIENT_ID = spiffeId('fuzz', 'client');
const POD_ID = spiffeId('fuzz', 'backend');

const log = pino({ level: process.env.WEFT_TEST_LOG ?? 'silent' });

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

type Outcome = { kind: 'answered'; status: number } | { kind: 'closed' } | { kind: 'hung'; received: string };

/** Writes a case to a fresh stream and waits for the answer or the close. */
function runCase(stream: Duplex, fuzz: FuzzCase): Promise<Outcome> {
  return new Promise((resolve) => {
    let received = '';
    let settled = false;
    const settle = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Ended, not reset: nghttp2 (Node 20 cannot tune it) ends a whole session with
      // INTERNAL_ERROR after 1,000 stream resets at over 33 a second, which would turn this
      // test into one of that limit. A real caller's FIN is an END_STREAM too.
      if (outcome.kind === 'hung') stream.destroy();
      else stream.end();
      resolve(outcome);
    };
    const timer = setTimeout(() => settle({ kind: 'hung', received }), CASE_TIMEOUT_MS);
    stream.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3}) /.exec(received);
      if (status) settle({ kind: 'answered', status: Number(status[1]) });
      else if (received.length >= 12) settle({ kind: 'answered', status: -1 });
    });
    stream.on('error', () => settle({ kind: 'closed' }));
    stream.on('close', () => settle(received === '' ? { kind: 'closed' } : { kind: 'answered', status: -1 }));
    for (const piece of fuzz.pieces) stream.write(piece);
    // A caller that stops sending: the far side must answer or close on its own (half-close
    // only, so an answer can still come back).
    if (fuzz.halfClose) stream.end();
  });
}

function describeFailure(fuzz: FuzzCase, outcome: Outcome): string {
  return `seed ${SEED} case ${fuzz.index} (${fuzz.kind}): ${JSON.stringify(outcome)}; sent ${JSON.stringify(Buffer.concat(fuzz.pieces).toString('latin1').slice(0, 300))}`;
}

/** Keep-alive requests on one connection opened before the storm: it must outlive it. */
class ControlConnection {
  private received = '';
  private constructor(private readonly stream: Duplex) {
    stream.on('data', (chunk: Buffer) => (this.received += chunk.toString('latin1')));
  }

  static async open(stream: Duplex): Promise<ControlConnection> {
    const control = new ControlConnection(stream);
    await control.request('/before');
    return control;
  }

  async request(path: string): Promise<void> {
    const from = this.received.length;
    this.stream.write(`GET ${path} HTTP/1.1\r\nHost: fuzz\r\n\r\n`);
    const deadline = Date.now() + CASE_TIMEOUT_MS;
    while (!/\r\n\r\n/.test(this.received.slice(from))) {
      if (Date.now() > deadline) assert.fail(`the control connection did not answer ${path}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.match(this.received.slice(from), /^HTTP\/1\.1 200 /, `control request ${path}`);
  }

  close(): void {
    this.stream.destroy();
  }
}

describe(`malformed input (seed ${SEED}, ${CASES} cases per target)`, () => {
  const backend = new HttpBackend('fuzz');
  let proxy: OutboundProxy;
  let inbound: HboneInboundServer;
  let connector: HboneConnector;
  let clientCredentials: WorkloadCredentialStore;

  before(async () => {
    await backend.start(BACKEND_IP);
    proxy = new OutboundProxy({
      host: '127.0.0.1',
      port: 0,
      currentSnapshot: () =>
        buildSnapshot({
          pods: [pod(BACKEND_IP, 'fuzz', 'backend')],
          services: [{ namespace: 'fuzz', name: 'backend', clusterIP: VIP.ip, port: VIP.port, endpoints: [{ ip: BACKEND_IP, port: backend.port }] }],
        }),
      originalDestination: () => VIP,
      metrics: new ProxyMetrics(createMetricsRegistry({ processMetrics: false }), { reporter: 'source' }),
      log,
      detectTimeoutMs: 2_000,
      clientIdleTimeoutMs: CASE_TIMEOUT_MS / 2,
    });
    await proxy.listen();
    const ca = await TestCa.create();
    const serverCredentials = new WorkloadCredentialStore(TRUST_DOMAIN, ca.bundlePem);
    serverCredentials.setCertificate(POD_ID, await ca.issue(POD_ID));
    clientCredentials = new WorkloadCredentialStore(TRUST_DOMAIN, ca.bundlePem);
    clientCredentials.setCertificate(CLIENT_ID, await ca.issue(CLIENT_ID));
    inbound = new HboneInboundServer({
      host: NODE_IP,
      port: 0,
      credentials: serverCredentials,
      currentSnapshot: () => nodeSnapshot('node-f', NODE_IP, [meshPod(BACKEND_IP, { namespace: 'fuzz', serviceAccount: 'backend', nodeName: 'node-f' })]),
      log,
      httpIdleTimeoutMs: CASE_TIMEOUT_MS / 2,
    });
    await inbound.listen();
    connector = new HboneConnector({ credentials: clientCredentials, log, port: inbound.address().port });
  });

  after(async () => {
    await connector?.close();
    await inbound?.close();
    await proxy?.close();
    await backend.stop();
  });

  const tunnel = (): Promise<Duplex> =>
    openTunnel(connector, { sourceIdentity: CLIENT_ID, nodeIp: NODE_IP, destinationIdentity: POD_ID, targetIp: BACKEND_IP, targetPort: backend.port });
  const proxyConnection = async (): Promise<Duplex> => {
    const socket = net.connect({ host: '127.0.0.1', port: proxy.address().port });
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return socket;
  };

  for (const [target, open] of [['the outbound proxy', proxyConnection], ['the HBONE server', tunnel]] as const) {
    test(`${target}: every malformed case is answered or closed; a connection from before still works; the heap does not grow`, async () => {
      const control = await ControlConnection.open(await open());
      const random = mulberry32(SEED);
      // A first round warms pools and caches, so the heap is compared over steady state.
      for (let i = 0; i < 20; i++) await runCase(await open(), malformedCase(random, i));
      const heapBefore = heapAfterGc();
      const failures: string[] = [];
      for (let i = 0; i < CASES; i++) {
        const fuzz = malformedCase(random, i);
        const outcome = await runCase(await open(), fuzz);
        if (outcome.kind === 'hung') failures.push(describeFailure(fuzz, outcome));
        // Asked again every 20 cases: it keeps serving throughout, and it never sits idle past
        // the server's keep-alive timeout (5 s), which would close it legitimately on a slow run.
        if (i % 20 === 19) await control.request(`/during-${i}`);
      }
      assert.deepEqual(failures, [], 'no case left hanging');
      await control.request('/after');
      control.close();
      const growth = heapAfterGc() - heapBefore;
      assert.ok(growth < HEAP_GROWTH_LIMIT_BYTES, `heap grew by ${(growth / 1024 / 1024).toFixed(1)} MiB over ${CASES} cases`);
    });
  }

  test('the HBONE server: CONNECT streams with invalid authorities are refused (400, or never sent) and the session keeps serving', async () => {
    const random = mulberry32(SEED + 1);
    const port = inbound.address().port;
    const session = http2.connect(`https://${NODE_IP}:${port}`, {
      createConnection: () =>
        tls.connect({
          host: NODE_IP,
          port,
          servername: sniForIdentity(POD_ID),
          secureContext: clientCredentials.secureContextFor(CLIENT_ID)!,
          minVersion: 'TLSv1.3',
          ALPNProtocols: ['h2'],
          // This test is about the server's answers, not about checking its certificate.
          rejectUnauthorized: false,
        }),
    });
    session.on('error', () => undefined);
    try {
      const alphabet = 'abc:[]%.0123456789/@ \t-';
      for (let i = 0; i < Math.min(CASES, 200); i++) {
        let authority = '';
        const length = Math.floor(random() * 24);
        for (let j = 0; j < length; j++) authority += alphabet[Math.floor(random() * alphabet.length)];
        if (/^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/.test(authority)) continue; // a well-formed one by chance
        const status = await new Promise<number>((resolve) => {
          let stream: http2.ClientHttp2Stream;
          try {
            stream = session.request({ ':method': 'CONNECT', ':authority': authority }, { endStream: false });
          } catch {
            resolve(-2); // refused by the client library itself (not sent)
            return;
          }
          stream.on('response', (headers) => resolve(Number(headers[':status'])));
          stream.on('error', () => resolve(-1));
          stream.on('close', () => resolve(-1));
        });
        assert.ok(status === 400 || status === 403 || status < 0, `authority ${JSON.stringify(authority)}: ${status}`);
      }
      // The same session still tunnels a well-formed request.
      const stream = await tunnel();
      const control = await ControlConnection.open(stream);
      control.close();
    } finally {
      session.destroy();
    }
  });
});
