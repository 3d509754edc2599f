// The agent's workload identities end to end: WorkloadIdentities reads the trust bundle from the
// in-repo API server (ConfigMap `weft-trust-bundle`), asks the real `weft ca` over gRPC/TLS for a
// certificate per enrolled local service account with a pod-bound token read from a file on disk,
// and hands TLS contexts to the credential store. The CA's node-scoped authorization is the real
// one: it checks the token with TokenReview and the pods in the API server.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Registry } from 'prom-client';
import type { ServiceClusterIpLookup } from '../../agent/src/identity/ca-address.js';
import { WorkloadIdentities } from '../../agent/src/identity/workload-identities.js';
import { TrustBundleWatch } from '../../agent/src/k8s/trust-bundle-watch.js';
import { IdentityMetrics } from '../../agent/src/metrics/identity-metrics.js';
import { createMetricsRegistry } from '../../agent/src/metrics/metrics-registry.js';
import { generateRootCa } from '../../agent/src/ca/root-ca.js';
import type { AgentCaConfig } from '../../agent/src/config/agent-config.js';
import type { LocalPodRef } from '../../agent/src/state/mesh-snapshot.js';
import { CaTestCluster, capturingLogger, type LogLine } from '../ca/ca-test-cluster.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { uniqueName } from '../support/unique-name.js';
import { waitFor } from '../support/wait-for.js';
import { AgentCaNamespace, certificatePresentedBy, sampleValue, snapshotWithPods } from './agent-identity-bed.js';
import type { ChildInput } from './workload-identities-child.js';

const NODE = 'node-1';
const OTHER_NODE = 'node-2';
const TRUST_DOMAIN = 'cluster.local';
const EXPIRY_METRIC = 'weft_identity_cert_expiry_timestamp_seconds';
const CA_REQUESTS_METRIC = 'weft_ca_requests_total';
const REQUEST_FAILED = 'certificate request failed; retrying';

function spiffeId(namespace: string, serviceAccount: string): string {
  return `spiffe://${TRUST_DOMAIN}/ns/${namespace}/sa/${serviceAccount}`;
}

function localPod(namespace: string, name: string, serviceAccount: string): LocalPodRef {
  return { uid: uniqueName('uid'), namespace, name, serviceAccount, strict: false, mtlsStrict: false };
}

function errMessage(line: LogLine): string {
  return (line.err as { message?: string } | undefined)?.message ?? '';
}

interface AgentUnderTest {
  identities: WorkloadIdentities;
  registry: Registry;
  lines: LogLine[];
  caRequests(result: 'ok' | 'error'): Promise<number>;
}

/** A free loopback port for a server that must start after its clients were configured. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('the agent\'s workload identities against weft ca and the in-repo API server', () => {
  let cluster: CaTestCluster;
  let tokenDir: TempDir;
  const caNamespaces: AgentCaNamespace[] = [];
  const agents: WorkloadIdentities[] = [];

  before(async () => {
    cluster = await CaTestCluster.start();
    tokenDir = await makeTempDir('identity-tokens');
  });

  after(async () => {
    for (const agent of agents) await agent.stop();
    for (const caNamespace of caNamespaces) await caNamespace.close();
    await cluster?.close();
    await tokenDir?.remove();
  });

  async function caNamespace(): Promise<AgentCaNamespace> {
    const created = await AgentCaNamespace.create(cluster, tokenDir.path);
    caNamespaces.push(created);
    return created;
  }

  /** A workload namespace whose service accounts each have one pod on the given node. */
  async function workloads(placement: Record<string, string>): Promise<string> {
    const namespace = uniqueName('shop');
    await cluster.namespace(namespace);
    for (const [serviceAccount, nodeName] of Object.entries(placement)) {
      await cluster.serviceAccount(namespace, serviceAccount);
      await cluster.pod(namespace, `${serviceAccount}-1`, serviceAccount, nodeName);
    }
    return namespace;
  }

  function agentFor(ca: AgentCaConfig, serviceClusterIp: ServiceClusterIpLookup = () => undefined): AgentUnderTest {
    const registry = createMetricsRegistry({ processMetrics: false });
    const { log, lines } = capturingLogger();
    const identities = new WorkloadIdentities({
      trustDomain: TRUST_DOMAIN,
      ca,
      trustBundle: new TrustBundleWatch(cluster.kubeConfig, ca.namespace, log),
      serviceClusterIp,
      metrics: new IdentityMetrics(registry),
      log,
    });
    agents.push(identities);
    return {
      identities,
      registry,
      lines,
      caRequests: async (result) => sampleValue(await registry.metrics(), CA_REQUESTS_METRIC, { result }) ?? 0,
    };
  }

  test('an enrolled local pod\'s service account gets a certificate, listed and in the metrics', async () => {
    const env = await caNamespace();
    await env.writeTokenFor(await env.agentPod(NODE));
    const caLog = capturingLogger();
    const ca = await env.startCa(caLog.log);
    const shop = await workloads({ web: NODE });
    const web = spiffeId(shop, 'web');
    const agent = agentFor(env.agentCaConfig(ca.port, 3600));

    await agent.identities.start();
    assert.equal(agent.identities.trustBundleLoaded, true);
    assert.equal(agent.identities.credentials.trustBundlePem(), ca.trustBundlePem, 'the bundle the CA published');
    assert.equal(agent.identities.credentials.secureContextFor(web), undefined, 'nothing before the snapshot asks for it');

    const askedAt = Date.now();
    agent.identities.update(snapshotWithPods(NODE, [localPod(shop, 'web-1', 'web')]));
    const context = await waitFor(() => agent.identities.credentials.secureContextFor(web), { timeoutMs: 30_000, what: `a TLS context for ${web}` });

    // The context really presents a certificate for the identity that chains to the trust bundle.
    const presented = await certificatePresentedBy(context, ca.trustBundlePem);
    assert.equal(presented.subjectAltName, `URI:${web}`);
    const notAfterMs = Date.parse(presented.validTo);
    const lifetimeMs = notAfterMs - askedAt;
    assert.ok(lifetimeMs > 3500_000 && lifetimeMs <= 3600_000 + 5_000, `asked for 3600 s, got ${lifetimeMs} ms`);
    assert.ok(caLog.lines.some((l) => l.msg === 'certificate issued' && l.spiffeId === web && l.node === NODE), 'the CA signed it for node-1\'s agent');

    assert.deepEqual(agent.identities.certificates(), [{ identity: web, serialNumber: presented.serialNumber, notAfter: new Date(notAfterMs).toISOString() }]);
    assert.equal(agent.identities.allCertificatesIssued(), true);
    const metrics = await agent.registry.metrics();
    assert.equal(sampleValue(metrics, EXPIRY_METRIC, { identity: web }), notAfterMs / 1000);
    assert.ok((sampleValue(metrics, CA_REQUESTS_METRIC, { result: 'ok' }) ?? 0) >= 1, metrics);
  });

  test('a CA address naming its Service is dialled at the ClusterIP from the cache and verified by the Service name', async () => {
    const env = await caNamespace();
    await env.writeTokenFor(await env.agentPod(NODE));
    const ca = await env.startCa(capturingLogger().log);
    const shop = await workloads({ web: NODE });
    const web = spiffeId(shop, 'web');
    const lookups: string[] = [];
    const agent = agentFor(
      { ...env.agentCaConfig(ca.port, 3600), address: `weft-ca.${env.namespace}.svc:${ca.port}` },
      (namespace, name) => {
        lookups.push(`${namespace}/${name}`);
        return '127.0.0.1'; // where this test's CA listens, as a ClusterIP would route
      },
    );
    await agent.identities.start();
    agent.identities.update(snapshotWithPods(NODE, [localPod(shop, 'web-1', 'web')]));
    await waitFor(() => agent.identities.credentials.secureContextFor(web), { timeoutMs: 30_000, what: `a certificate via the Service name for ${web}` });
    assert.ok(lookups.includes(`${env.namespace}/weft-ca`), `the Service was looked up: ${lookups.join(', ')}`);
  });

  test('a CA Service the cache does not know is an error result, retried, never a crash', async () => {
    const env = await caNamespace();
    await env.writeTokenFor(await env.agentPod(NODE));
    const ca = await env.startCa(capturingLogger().log);
    const shop = await workloads({ web: NODE });
    const agent = agentFor({ ...env.agentCaConfig(ca.port, 3600), address: `missing.${env.namespace}.svc.cluster.local:${ca.port}` });
    await agent.identities.start();
    agent.identities.update(snapshotWithPods(NODE, [localPod(shop, 'web-1', 'web')]));
    await waitFor(async () => (await agent.caRequests('error')) >= 2, { timeoutMs: 30_000, what: 'failed attempts counted and retried' });
    assert.ok(agent.lines.some((l) => /missing\.svc|Service .*missing/.test(JSON.stringify(l))), 'the log names the unknown Service');
    assert.equal(agent.identities.credentials.secureContextFor(spiffeId(shop, 'web')), undefined);
  });

  test('an identity whose pods run only on another node is refused by the CA and gets no context', async () => {
    const env = await caNamespace();
    await env.writeTokenFor(await env.agentPod(NODE));
    const ca = await env.startCa(capturingLogger().log);
    const shop = await workloads({ web: NODE, db: OTHER_NODE });
    const web = spiffeId(shop, 'web');
    const db = spiffeId(shop, 'db');
    const agent = agentFor(env.agentCaConfig(ca.port));
    await agent.identities.start();

    // The agent wrongly believes db-1 is local (a stale cache): the CA must say no.
    agent.identities.update(snapshotWithPods(NODE, [localPod(shop, 'web-1', 'web'), localPod(shop, 'db-1', 'db')]));
    await waitFor(async () => (await agent.caRequests('error')) >= 1, { timeoutMs: 30_000, what: 'a refused CA request' });
    const refusal = await waitFor(() => agent.lines.find((l) => l.msg === REQUEST_FAILED && l.identity === db), { what: 'the refusal in the log' });
    assert.match(errMessage(refusal), /PERMISSION_DENIED/);
    assert.match(errMessage(refusal), new RegExp(`no pod of service account ${shop}/db is scheduled on node ${NODE}`));

    // It keeps asking with backoff and keeps being refused.
    const refusedSoFar = await agent.caRequests('error');
    await waitFor(async () => (await agent.caRequests('error')) > refusedSoFar, { timeoutMs: 30_000, what: 'the retry, refused again' });

    // The refusal for db does not hold back web, which does run here.
    await waitFor(() => agent.identities.credentials.secureContextFor(web), { timeoutMs: 30_000, what: `a TLS context for ${web}` });
    assert.equal(agent.identities.credentials.secureContextFor(db), undefined);
    assert.deepEqual(agent.identities.certificates().map((c) => c.identity), [web]);
    assert.equal(agent.identities.allCertificatesIssued(), false, 'db still has none');
    const metrics = await agent.registry.metrics();
    assert.equal(sampleValue(metrics, EXPIRY_METRIC, { identity: db }), undefined);
    assert.ok(sampleValue(metrics, EXPIRY_METRIC, { identity: web }) !== undefined);
  });

  test('start() waits for the trust bundle ConfigMap and resolves once the CA publishes it', async () => {
    const env = await caNamespace();
    await env.writeTokenFor(await env.agentPod(NODE));
    const shop = await workloads({ web: NODE });
    const web = spiffeId(shop, 'web');
    const caPort = await freePort();
    const agent = agentFor(env.agentCaConfig(caPort));

    let settled: 'resolved' | Error | undefined;
    const started = agent.identities.start().then(
      () => void (settled = 'resolved'),
      (err: Error) => void (settled = err),
    );
    await waitFor(() => agent.lines.some((l) => l.msg.startsWith('waiting for the trust bundle')), { timeoutMs: 30_000, what: 'the wait for the trust bundle' });
    assert.equal(settled, undefined, 'start() must not resolve without a trust bundle');
    assert.equal(agent.identities.trustBundleLoaded, false);
    assert.throws(() => agent.identities.credentials, /not started/);

    const ca = await env.startCa(capturingLogger().log, caPort);
    await started;
    assert.equal(settled, 'resolved');
    assert.equal(agent.identities.trustBundleLoaded, true);
    assert.equal(agent.identities.credentials.trustBundlePem(), ca.trustBundlePem);

    agent.identities.update(snapshotWithPods(NODE, [localPod(shop, 'web-1', 'web')]));
    const context = await waitFor(() => agent.identities.credentials.secureContextFor(web), { timeoutMs: 30_000, what: `a TLS context for ${web}` });
    assert.equal((await certificatePresentedBy(context, ca.trustBundlePem)).subjectAltName, `URI:${web}`);
  });

  test('the token file is read for every request; an empty or missing file is an error, not a crash', async () => {
    const env = await caNamespace();
    const agentHere = await env.agentPod(NODE);
    const agentElsewhere = await env.agentPod(OTHER_NODE);
    await env.writeTokenFor(agentHere);
    const ca = await env.startCa(capturingLogger().log);
    const shop = await workloads({ web: NODE, api: NODE });
    const web = spiffeId(shop, 'web');
    const api = spiffeId(shop, 'api');
    const webPod = localPod(shop, 'web-1', 'web');
    const apiPod = localPod(shop, 'api-1', 'api');
    const agent = agentFor(env.agentCaConfig(ca.port));
    await agent.identities.start();
    const credentials = agent.identities.credentials;

    agent.identities.update(snapshotWithPods(NODE, [webPod]));
    const firstWeb = await certificatePresentedBy(
      await waitFor(() => credentials.secureContextFor(web), { timeoutMs: 30_000, what: `a TLS context for ${web}` }),
      ca.trustBundlePem,
    );

    // The file now holds node-2's agent token: had the first token been cached, api would be issued.
    await env.writeTokenFor(agentElsewhere);
    agent.identities.update(snapshotWithPods(NODE, [webPod, apiPod]));
    const refused = await waitFor(() => agent.lines.find((l) => l.msg === REQUEST_FAILED && l.identity === api), { timeoutMs: 30_000, what: 'api refused with node-2\'s token' });
    assert.match(errMessage(refused), new RegExp(`PERMISSION_DENIED.*scheduled on node ${OTHER_NODE}`));

    await writeFile(env.tokenFile, '');
    const empty = await waitFor(() => agent.lines.find((l) => l.msg === REQUEST_FAILED && /is empty/.test(errMessage(l))), { timeoutMs: 30_000, what: 'a request failing on the empty token file' });
    assert.equal(empty.identity, api);
    await rm(env.tokenFile);
    const missing = await waitFor(() => agent.lines.find((l) => l.msg === REQUEST_FAILED && /reading the CA token file .* failed/.test(errMessage(l))), { timeoutMs: 30_000, what: 'a request failing on the missing token file' });
    assert.match(errMessage(missing), /ENOENT/);
    assert.ok((await agent.caRequests('error')) >= 3, 'each failure counted as an error');
    assert.equal(credentials.secureContextFor(api), undefined);
    assert.ok(credentials.secureContextFor(web), 'web keeps its valid certificate meanwhile');

    // A fresh token of this node's agent: the next certificates are issued with it. Dropping and
    // re-adding the identities makes both ask again now instead of after the backoff.
    await env.writeTokenFor(agentHere);
    agent.identities.update(snapshotWithPods(NODE, []));
    assert.equal(credentials.secureContextFor(web), undefined, 'an identity without local pods loses its context');
    assert.deepEqual(agent.identities.certificates(), []);
    assert.equal(sampleValue(await agent.registry.metrics(), EXPIRY_METRIC, { identity: web }), undefined);
    agent.identities.update(snapshotWithPods(NODE, [webPod, apiPod]));
    const [secondWeb, firstApi] = await Promise.all(
      [web, api].map(async (identity) =>
        certificatePresentedBy(await waitFor(() => credentials.secureContextFor(identity), { timeoutMs: 30_000, what: `a TLS context for ${identity}` }), ca.trustBundlePem),
      ),
    );
    assert.equal(firstApi!.subjectAltName, `URI:${api}`);
    assert.notEqual(secondWeb!.serialNumber, firstWeb.serialNumber, 'web got a new certificate');
  });

  test('a new trust bundle reaches the credential store and every identity gets a new certificate', async () => {
    const env = await caNamespace();
    await env.writeTokenFor(await env.agentPod(NODE));
    const ca = await env.startCa(capturingLogger().log);
    const shop = await workloads({ web: NODE, api: NODE });
    const identities = [spiffeId(shop, 'web'), spiffeId(shop, 'api')];
    const agent = agentFor(env.agentCaConfig(ca.port));
    await agent.identities.start();
    const credentials = agent.identities.credentials;
    agent.identities.update(snapshotWithPods(NODE, [localPod(shop, 'web-1', 'web'), localPod(shop, 'api-1', 'api')]));
    const serialsBefore = new Map<string, string>();
    for (const identity of identities) {
      const context = await waitFor(() => credentials.secureContextFor(identity), { timeoutMs: 30_000, what: `a TLS context for ${identity}` });
      serialsBefore.set(identity, (await certificatePresentedBy(context, ca.trustBundlePem)).serialNumber);
    }
    const okBefore = await agent.caRequests('ok');

    // A second root joins the bundle (as when an issuer is being rolled); the CA's issuer stays.
    const secondRoot = await generateRootCa('second.example');
    const newBundle = `${ca.trustBundlePem.trimEnd()}\n${secondRoot.certificatePem}`;
    const configMap = await cluster.core.readNamespacedConfigMap({ namespace: env.namespace, name: 'weft-trust-bundle' });
    await cluster.core.replaceNamespacedConfigMap({
      namespace: env.namespace,
      name: 'weft-trust-bundle',
      body: { ...configMap, data: { ...configMap.data, 'ca.crt': newBundle } },
    });

    await waitFor(() => credentials.trustBundlePem() === newBundle, { timeoutMs: 30_000, what: 'the new bundle in the credential store' });
    for (const identity of identities) {
      const rotated = await waitFor(
        async () => {
          const context = credentials.secureContextFor(identity);
          if (context === undefined) return undefined;
          const presented = await certificatePresentedBy(context, newBundle);
          return presented.serialNumber !== serialsBefore.get(identity) && presented;
        },
        { timeoutMs: 30_000, intervalMs: 200, what: `a new certificate for ${identity} after the bundle change` },
      );
      assert.equal(rotated.subjectAltName, `URI:${identity}`);
      assert.equal(agent.identities.certificates().find((c) => c.identity === identity)?.serialNumber, rotated.serialNumber);
    }
    assert.ok((await agent.caRequests('ok')) >= okBefore + 2, 'both were issued again by the CA');
  });

  test('while the CA is down, requests fail and are retried; valid certificates stay; a restarted CA serves again', async () => {
    const env = await caNamespace();
    await env.writeTokenFor(await env.agentPod(NODE));
    const firstCa = await env.startCa(capturingLogger().log);
    const shop = await workloads({ web: NODE, api: NODE });
    const web = spiffeId(shop, 'web');
    const api = spiffeId(shop, 'api');
    const agent = agentFor(env.agentCaConfig(firstCa.port));
    await agent.identities.start();
    const credentials = agent.identities.credentials;
    agent.identities.update(snapshotWithPods(NODE, [localPod(shop, 'web-1', 'web')]));
    await waitFor(() => credentials.secureContextFor(web), { timeoutMs: 30_000, what: `a TLS context for ${web}` });

    await firstCa.close(1000);
    agent.identities.update(snapshotWithPods(NODE, [localPod(shop, 'web-1', 'web'), localPod(shop, 'api-1', 'api')]));
    const unavailable = await waitFor(() => agent.lines.find((l) => l.msg === REQUEST_FAILED && l.identity === api), { timeoutMs: 30_000, what: 'a failed request while the CA is down' });
    assert.match(errMessage(unavailable), /UNAVAILABLE/);
    const failedSoFar = await agent.caRequests('error');
    await waitFor(async () => (await agent.caRequests('error')) > failedSoFar, { timeoutMs: 30_000, what: 'a retry while the CA is down' });
    assert.ok(credentials.secureContextFor(web), 'web keeps its still-valid certificate');
    assert.equal(credentials.secureContextFor(api), undefined);

    // The same CA (same Secret, so the same issuer and bundle) back on the same address.
    const restarted = await env.startCa(capturingLogger().log, firstCa.port);
    assert.equal(restarted.trustBundlePem, firstCa.trustBundlePem);
    const context = await waitFor(() => credentials.secureContextFor(api), { timeoutMs: 60_000, what: `a TLS context for ${api} from the restarted CA` });
    assert.equal((await certificatePresentedBy(context, restarted.trustBundlePem)).subjectAltName, `URI:${api}`);
  });

  describe('stop() leaves nothing running: a process that used WorkloadIdentities exits by itself', () => {
    const childScript = fileURLToPath(new URL('./workload-identities-child.js', import.meta.url));
    /** How long after stop() the process may take to exit; a leftover 10 s timer would exceed it. */
    const EXIT_GRACE_MS = 5_000;

    async function runChild(input: ChildInput): Promise<{ events: Record<string, unknown>[] }> {
      const child = spawn(process.execPath, [childScript, JSON.stringify(input)], { stdio: ['ignore', 'pipe', 'pipe'] });
      const events: Record<string, unknown>[] = [];
      let stderr = '';
      let stdoutRest = '';
      let stoppedAt: number | undefined;
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        const lines = (stdoutRest + chunk).split('\n');
        stdoutRest = lines.pop() ?? '';
        for (const line of lines) {
          const event = JSON.parse(line) as Record<string, unknown>;
          events.push(event);
          if (event.event === 'stopped' || event.event === 'failed') stoppedAt = Date.now();
        }
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        await waitFor(() => stoppedAt !== undefined, { timeoutMs: 60_000, what: `the child (${input.mode}) to stop; stderr: ${stderr}` });
        const exitedInTime = await Promise.race([
          exited.then(() => true),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(false), EXIT_GRACE_MS).unref()),
        ]);
        const stopped = events.find((e) => e.event === 'stopped');
        assert.ok(exitedInTime, `the child did not exit within ${EXIT_GRACE_MS} ms of stop(); active right after stop(): ${JSON.stringify(stopped?.activeResources)}`);
        assert.equal(await exited, 0, `child failed: ${JSON.stringify(events)} ${stderr}`);
        return { events };
      } finally {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGKILL');
          await exited;
        }
      }
    }

    test('after issuing a certificate', async () => {
      const env = await caNamespace();
      await env.writeTokenFor(await env.agentPod(NODE));
      const ca = await env.startCa(capturingLogger().log);
      const shop = await workloads({ web: NODE });
      const web = spiffeId(shop, 'web');
      const { events } = await runChild({
        mode: 'issue',
        kubeconfigPath: cluster.apiServer.kubeconfigPath,
        ca: env.agentCaConfig(ca.port),
        nodeName: NODE,
        pod: localPod(shop, 'web-1', 'web'),
        identity: web,
      });
      const issued = events.find((e) => e.event === 'issued');
      assert.deepEqual((issued?.certificates as { identity: string }[]).map((c) => c.identity), [web]);
    });

    test('while start() still waits for the trust bundle', async () => {
      const env = await caNamespace(); // no CA runs here, so the ConfigMap never appears
      const shop = await workloads({ web: NODE });
      const { events } = await runChild({
        mode: 'waiting',
        kubeconfigPath: cluster.apiServer.kubeconfigPath,
        ca: env.agentCaConfig(await freePort()),
        nodeName: NODE,
        pod: localPod(shop, 'web-1', 'web'),
        identity: spiffeId(shop, 'web'),
      });
      assert.equal(events.find((e) => e.event === 'waiting')?.trustBundleLoaded, false);
      assert.match(String(events.find((e) => e.event === 'start settled')?.outcome), /^rejected: stopped while waiting for the trust bundle/);
    });
  });
});
