// `weft ca` in-process against the in-repo API server with real TokenRequest/TokenReview, called
// by a real grpc-js client over TLS that trusts only the published trust bundle.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { startCaServer, type RunningCa } from '../../agent/src/ca/ca-server.js';
import { loadCaConfig, type CaConfig } from '../../agent/src/config/ca-config.js';
import { createCaKubeClients, type CaKubeClients } from '../../agent/src/k8s/ca-kube-clients.js';
import { createWorkloadKeyAndCsr } from '../../agent/src/identity/workload-csr-builder.js';
import { CaTestCluster, CaTestClient, capturingLogger } from './ca-test-cluster.js';
import { CaClient, CaCallError } from '../../agent/src/identity/ca-client.js';
import { makeTempDir } from '../support/temp-dir.js';
import { opensslIntermediate } from './csr-fixtures.js';

const AGENT_NS = 'weft-system';

/** The Kubernetes clients are passed to startCaServer directly, so the config's kubeconfig is unused. */
function caConfig(namespace: string): CaConfig {
  return loadCaConfig(['--namespace', namespace, '--listen-host', '127.0.0.1', '--port', '0', '--ip-san', '127.0.0.1', '--default-ttl', '1h', '--max-ttl', '2h'], { KUBECONFIG: '/unused' });
}

function verifyWithOpenssl(trustBundlePem: string, chainPem: string[]): string {
  const dir = join('/tmp', `weft-ca-verify-${process.pid}-${Math.random().toString(16).slice(2)}`);
  execFileSync('mkdir', ['-p', dir]);
  try {
    writeFileSync(join(dir, 'bundle.pem'), trustBundlePem);
    writeFileSync(join(dir, 'leaf.pem'), chainPem[0]!);
    writeFileSync(join(dir, 'chain.pem'), chainPem.slice(1).join(''));
    return execFileSync('openssl', ['verify', '-CAfile', 'bundle.pem', '-untrusted', 'chain.pem', '-purpose', 'sslserver', 'leaf.pem'], { cwd: dir, encoding: 'utf8' });
  } finally {
    execFileSync('rm', ['-rf', dir]);
  }
}

describe('weft ca', () => {
  let cluster: CaTestCluster;
  let ca: RunningCa | undefined;
  let client: CaTestClient;
  const captured = capturingLogger();
  let node1AgentToken: string;
  let otherAccountToken: string;
  let trustBundle: string;
  let kube: CaKubeClients;

  before(async () => {
    cluster = await CaTestCluster.start();
    kube = createCaKubeClients(cluster.kubeConfig);
    await cluster.namespace(AGENT_NS);
    await cluster.namespace('shop');
    await cluster.serviceAccount(AGENT_NS, 'weft-agent');
    await cluster.serviceAccount(AGENT_NS, 'intruder');
    for (const sa of ['web', 'db', 'batch']) await cluster.serviceAccount('shop', sa);
    await cluster.pod(AGENT_NS, 'weft-agent-node-1', 'weft-agent', 'node-1');
    await cluster.pod(AGENT_NS, 'intruder-node-1', 'intruder', 'node-1');
    await cluster.pod('shop', 'web-1', 'web', 'node-1');
    await cluster.pod('shop', 'db-1', 'db', 'node-2');
    await cluster.pod('shop', 'batch-1', 'batch', 'node-1');
    await cluster.setPodPhase('shop', 'batch-1', 'Succeeded');
    node1AgentToken = await cluster.podBoundToken(AGENT_NS, 'weft-agent', 'weft-agent-node-1');
    otherAccountToken = await cluster.podBoundToken(AGENT_NS, 'intruder', 'intruder-node-1');
    ca = await startCaServer(caConfig(AGENT_NS), kube, captured.log);
    const configMap = await cluster.core.readNamespacedConfigMap({ namespace: AGENT_NS, name: 'weft-trust-bundle' });
    trustBundle = configMap.data!['ca.crt']!;
    client = new CaTestClient(ca.port, trustBundle);
  });

  after(async () => {
    client?.close();
    await ca?.close(1000);
    await cluster?.close();
  });

  test('node-1\'s agent gets a certificate for a service account with a pod on node-1', async () => {
    const { csrPem } = await createWorkloadKeyAndCsr('spiffe://cluster.local/ns/shop/sa/web');
    const before = Date.now();
    const { response, error } = await client.call(csrPem, 3600, node1AgentToken);
    assert.equal(error, undefined, error?.details);
    const chain = response!.cert_chain;
    assert.equal(chain.length, 2, 'leaf and the root');
    const leaf = new X509Certificate(chain[0]!);
    assert.equal(leaf.subjectAltName, 'URI:spiffe://cluster.local/ns/shop/sa/web');
    const lifetimeMs = Date.parse(leaf.validTo) - before;
    assert.ok(lifetimeMs > 3590_000 && lifetimeMs <= 3600_000 + 5_000, `lifetime ${lifetimeMs} ms`);
    const root = new X509Certificate(trustBundle);
    assert.ok(leaf.checkIssued(root) && leaf.verify(root.publicKey), 'chains to the published trust bundle');
    assert.match(verifyWithOpenssl(trustBundle, chain), /leaf\.pem: OK/);
    assert.ok(captured.lines.some((l) => l.msg === 'certificate issued' && l.node === 'node-1' && l.spiffeId === 'spiffe://cluster.local/ns/shop/sa/web'));
  });

  test('issued certificates work for mutual TLS 1.3 between two workloads, verified by the trust bundle', async () => {
    await cluster.serviceAccount('shop', 'api');
    await cluster.pod('shop', 'api-1', 'api', 'node-1');
    const issue = async (spiffeId: string) => {
      const { csrPem, privateKeyPem } = await createWorkloadKeyAndCsr(spiffeId);
      const { response, error } = await client.call(csrPem, 600, node1AgentToken);
      assert.equal(error, undefined, error?.details);
      return { cert: response!.cert_chain.join(''), key: privateKeyPem };
    };
    const web = await issue('spiffe://cluster.local/ns/shop/sa/web');
    const api = await issue('spiffe://cluster.local/ns/shop/sa/api');
    const server = tls.createServer({ ...api, ca: trustBundle, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (socket) => {
      socket.end(`hello ${socket.getPeerCertificate().subjectaltname}`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const reply = await new Promise<{ text: string; serverSan: string; protocol: string | null }>((resolve, reject) => {
        const socket = tls.connect({
          host: '127.0.0.1',
          port: (server.address() as AddressInfo).port,
          ...web,
          ca: trustBundle,
          // Peers are checked by SPIFFE ID, not host name (what the agent's HBONE client does).
          checkServerIdentity: () => undefined,
        });
        let text = '';
        socket.setEncoding('utf8').on('data', (d: string) => (text += d));
        socket.on('end', () => resolve({ text, serverSan: socket.getPeerCertificate().subjectaltname ?? '', protocol: socket.getProtocol() }));
        socket.on('error', reject);
      });
      assert.equal(reply.protocol, 'TLSv1.3');
      assert.equal(reply.text, 'hello URI:spiffe://cluster.local/ns/shop/sa/web');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('the CA serves TLS with its Service DNS names and the flagged IP', async () => {
    const san = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: ca!.port, ca: trustBundle, ALPNProtocols: ['h2'] }, () => {
        resolve(socket.getPeerCertificate().subjectaltname ?? '');
        socket.destroy();
      });
      socket.on('error', reject);
    });
    for (const name of ['DNS:weft-ca', 'DNS:weft-ca.weft-system.svc', 'DNS:weft-ca.weft-system.svc.cluster.local', 'IP Address:127.0.0.1']) {
      assert.ok(san.includes(name), `${name} in ${san}`);
    }
  });

  test('an agent client reaching the CA by Service name verifies it; a wrong name fails as retryable', async () => {
    const { csrPem } = await createWorkloadKeyAndCsr('spiffe://cluster.local/ns/shop/sa/web');
    const byName = new CaClient({ address: `127.0.0.1:${ca!.port}`, trustBundlePem: trustBundle, serverName: 'weft-ca.weft-system.svc' });
    const wrongName = new CaClient({ address: `127.0.0.1:${ca!.port}`, trustBundlePem: trustBundle, serverName: 'evil.example' });
    try {
      const chain = await byName.createCertificate({ csrPem, validitySeconds: 600, token: node1AgentToken });
      assert.equal(new X509Certificate(chain[0]!).subjectAltName, 'URI:spiffe://cluster.local/ns/shop/sa/web');
      await assert.rejects(
        wrongName.createCertificate({ csrPem, validitySeconds: 600, token: node1AgentToken, timeoutMs: 5000 }),
        (err: unknown) => err instanceof CaCallError && err.code === grpc.status.UNAVAILABLE && err.retryable,
      );
    } finally {
      byName.close();
      wrongName.close();
    }
  });

  test('the lifetime is capped at --max-ttl and defaults when 0 is asked', async () => {
    const { csrPem } = await createWorkloadKeyAndCsr('spiffe://cluster.local/ns/shop/sa/web');
    const before = Date.now();
    const capped = await client.call(csrPem, 30 * 86_400, node1AgentToken);
    const cappedMs = Date.parse(new X509Certificate(capped.response!.cert_chain[0]!).validTo) - before;
    assert.ok(cappedMs > 7190_000 && cappedMs <= 7205_000, `capped lifetime ${cappedMs} ms`);
    const defaulted = await client.call(csrPem, 0, node1AgentToken);
    const defaultMs = Date.parse(new X509Certificate(defaulted.response!.cert_chain[0]!).validTo) - before;
    assert.ok(defaultMs > 3590_000 && defaultMs <= 3605_000, `default lifetime ${defaultMs} ms`);
    const tooShort = await client.call(csrPem, 5, node1AgentToken);
    assert.equal(tooShort.error?.code, grpc.status.INVALID_ARGUMENT);
  });

  test('an identity whose pods run only on node-2 is refused to node-1 with a reason', async () => {
    const { csrPem } = await createWorkloadKeyAndCsr('spiffe://cluster.local/ns/shop/sa/db');
    const { response, error } = await client.call(csrPem, 3600, node1AgentToken);
    assert.equal(response, undefined);
    assert.equal(error?.code, grpc.status.PERMISSION_DENIED);
    assert.match(error!.details, /no pod of service account shop\/db is scheduled on node node-1/);
    const logged = captured.lines.find((l) => l.msg === 'certificate refused' && typeof l.reason === 'string' && l.reason.includes('shop/db'));
    assert.ok(logged, 'the refusal is logged');
    assert.equal(logged.node, 'node-1');
    assert.equal(logged.refusal, 'permission-denied');
  });

  test('an identity whose only pod on the node has finished is refused', async () => {
    const { csrPem } = await createWorkloadKeyAndCsr('spiffe://cluster.local/ns/shop/sa/batch');
    const { error } = await client.call(csrPem, 3600, node1AgentToken);
    assert.equal(error?.code, grpc.status.PERMISSION_DENIED);
    assert.match(error!.details, /have all finished \(batch-1\)/);
  });

  test('a token of another service account on the same node is refused', async () => {
    const { csrPem } = await createWorkloadKeyAndCsr('spiffe://cluster.local/ns/shop/sa/web');
    const { error } = await client.call(csrPem, 3600, otherAccountToken);
    assert.equal(error?.code, grpc.status.PERMISSION_DENIED);
    assert.match(error!.details, /system:serviceaccount:weft-system:intruder.* is not the Weft agent/);
  });

  test('missing, forged and wrong-audience tokens are unauthenticated', async () => {
    const { csrPem } = await createWorkloadKeyAndCsr('spiffe://cluster.local/ns/shop/sa/web');
    const missing = await client.call(csrPem, 3600, undefined);
    assert.equal(missing.error?.code, grpc.status.UNAUTHENTICATED);
    assert.match(missing.error!.details, /no authorization metadata/);
    const [header, payload] = node1AgentToken.split('.');
    const forged = await client.call(csrPem, 3600, `${header}.${payload}.${Buffer.from('not the signature').toString('base64url')}`);
    assert.equal(forged.error?.code, grpc.status.UNAUTHENTICATED);
    assert.match(forged.error!.details, /token rejected by the API server/);
    const apiAudienceToken = await cluster.podBoundToken(AGENT_NS, 'weft-agent', 'weft-agent-node-1', 'https://kubernetes.default.svc.cluster.local');
    const wrongAudience = await client.call(csrPem, 3600, apiAudienceToken);
    assert.equal(wrongAudience.error?.code, grpc.status.UNAUTHENTICATED);
  });

  test('a malformed CSR is an invalid argument, and the CA keeps serving afterwards', async () => {
    const garbage = await client.call('-----BEGIN CERTIFICATE REQUEST-----\nMIIBAAAA\n-----END CERTIFICATE REQUEST-----\n', 3600, node1AgentToken);
    assert.equal(garbage.error?.code, grpc.status.INVALID_ARGUMENT);
    assert.match(garbage.error!.details, /csr cannot be parsed/);
    const notPem = await client.call('hello', 3600, node1AgentToken);
    assert.equal(notPem.error?.code, grpc.status.INVALID_ARGUMENT);
    const { csrPem } = await createWorkloadKeyAndCsr('spiffe://cluster.local/ns/shop/sa/web');
    const afterwards = await client.call(csrPem, 600, node1AgentToken);
    assert.equal(afterwards.error, undefined, afterwards.error?.details);
    assert.equal(new X509Certificate(afterwards.response!.cert_chain[0]!).subjectAltName, 'URI:spiffe://cluster.local/ns/shop/sa/web');
  });

  test('a token bound to a deleted agent pod stops working', async () => {
    await cluster.pod(AGENT_NS, 'weft-agent-short', 'weft-agent', 'node-1');
    const token = await cluster.podBoundToken(AGENT_NS, 'weft-agent', 'weft-agent-short');
    const { csrPem } = await createWorkloadKeyAndCsr('spiffe://cluster.local/ns/shop/sa/web');
    assert.equal((await client.call(csrPem, 600, token)).error, undefined);
    await cluster.core.deleteNamespacedPod({ namespace: AGENT_NS, name: 'weft-agent-short', gracePeriodSeconds: 0 });
    const { error } = await client.call(csrPem, 600, token);
    assert.equal(error?.code, grpc.status.UNAUTHENTICATED);
  });

  test('the root is created once and reused by a restarted CA, which republishes a stale bundle', async () => {
    const secretBefore = await cluster.core.readNamespacedSecret({ namespace: AGENT_NS, name: 'weft-ca' });
    await ca!.close(1000);
    client.close();
    // A stale bundle (someone edited it while the CA was down) is put right at start.
    const stale = await cluster.core.readNamespacedConfigMap({ namespace: AGENT_NS, name: 'weft-trust-bundle' });
    await cluster.core.replaceNamespacedConfigMap({ namespace: AGENT_NS, name: 'weft-trust-bundle', body: { ...stale, data: { 'ca.crt': 'stale' } } });
    ca = await startCaServer(caConfig(AGENT_NS), kube, captured.log);
    const republished = await cluster.core.readNamespacedConfigMap({ namespace: AGENT_NS, name: 'weft-trust-bundle' });
    assert.equal(republished.data!['ca.crt'], trustBundle);
    client = new CaTestClient(ca.port, trustBundle);
    const secretAfter = await cluster.core.readNamespacedSecret({ namespace: AGENT_NS, name: 'weft-ca' });
    assert.equal(secretAfter.metadata!.resourceVersion, secretBefore.metadata!.resourceVersion, 'the Secret was not rewritten');
    assert.equal(ca.trustBundlePem, trustBundle);
    const { csrPem } = await createWorkloadKeyAndCsr('spiffe://cluster.local/ns/shop/sa/web');
    const { response, error } = await client.call(csrPem, 600, node1AgentToken);
    assert.equal(error, undefined, error?.details);
    assert.match(verifyWithOpenssl(trustBundle, response!.cert_chain), /OK/);
  });

  test('two CAs starting at once on an empty namespace end up with one root', async () => {
    await cluster.namespace('race');
    const [a, b] = await Promise.all([
      startCaServer(caConfig('race'), kube, captured.log),
      startCaServer(caConfig('race'), kube, captured.log),
    ]);
    try {
      assert.equal(a.trustBundlePem, b.trustBundlePem);
      const configMap = await cluster.core.readNamespacedConfigMap({ namespace: 'race', name: 'weft-trust-bundle' });
      assert.equal(configMap.data!['ca.crt'], a.trustBundlePem);
      const secret = await cluster.core.readNamespacedSecret({ namespace: 'race', name: 'weft-ca' });
      assert.equal(Buffer.from(secret.data!['ca.crt']!, 'base64').toString(), a.trustBundlePem);
      const generated = captured.lines.filter((l) => l.msg === 'generated a new root CA' && l.secret === 'Secret race/weft-ca');
      assert.equal(generated.length, 1, 'exactly one CA wrote a root; the other used it');
    } finally {
      await a.close(1000);
      await b.close(1000);
    }
  });

  test('a user-supplied intermediate in the Secret is used as is and sent in the chain', async () => {
    await cluster.namespace('byo');
    const dir = await makeTempDir('ca-byo');
    let byoCa: RunningCa | undefined;
    let byoClient: CaTestClient | undefined;
    try {
      const user = opensslIntermediate(dir.path);
      const intermediate = user.intermediatePem;
      const userRoot = user.rootPem;
      await cluster.core.createNamespacedSecret({
        namespace: 'byo',
        body: {
          metadata: { name: 'weft-ca' },
          data: { 'ca.crt': Buffer.from(intermediate + userRoot).toString('base64'), 'ca.key': Buffer.from(user.intermediateKeyPem).toString('base64') },
        },
      });
      // The agents' service account lives in weft-system (flag default); only the Secret's namespace differs.
      byoCa = await startCaServer(caConfig('byo'), kube, captured.log);
      const configMap = await cluster.core.readNamespacedConfigMap({ namespace: 'byo', name: 'weft-trust-bundle' });
      assert.equal(configMap.data!['ca.crt']!.trim(), userRoot.trim(), 'the user\'s root is the trust bundle');
      byoClient = new CaTestClient(byoCa.port, userRoot);
      const { csrPem } = await createWorkloadKeyAndCsr('spiffe://cluster.local/ns/shop/sa/web');
      const { response, error } = await byoClient.call(csrPem, 600, node1AgentToken);
      assert.equal(error, undefined, error?.details);
      const chain = response!.cert_chain;
      assert.equal(chain.length, 3, 'leaf, intermediate, root');
      assert.equal(chain[1]!.trim(), intermediate.trim());
      assert.match(new X509Certificate(chain[0]!).issuer, /CN=Acme mesh intermediate/);
      assert.match(verifyWithOpenssl(userRoot, chain), /OK/);
      const secret = await cluster.core.readNamespacedSecret({ namespace: 'byo', name: 'weft-ca' });
      assert.equal(Buffer.from(secret.data!['ca.key']!, 'base64').toString(), user.intermediateKeyPem, 'the user\'s Secret is left as it was');
    } finally {
      byoClient?.close();
      await byoCa?.close(1000);
      await dir.remove();
    }
  });
});
