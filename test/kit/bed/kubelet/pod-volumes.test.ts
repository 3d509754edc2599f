// PodVolumes against a stand-in API client: where host paths land on a node, what a projected
// volume writes (the API server's kube-api-access volume included), that its token is bound to
// the pod with the volume's audience and is rewritten once 80% of its lifetime has passed, the
// binds each container gets, and that a ConfigMap that appears late is waited for.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { ApiException } from '@kubernetes/client-node';
import { PodVolumes, nodeHostPath } from './pod-volumes.js';
import { SERVICE_ACCOUNT_MOUNT_PATH } from '../../apiserver/service-account-admission.js';
import { planNodes, type NodePlan } from '../node-plan.js';
import { makeTempDir, type TempDir } from '../../../support/temp-dir.js';
import { waitFor } from '../../../support/wait-for.js';

let dir: TempDir;
/** A node whose bpffs dir and cgroup root are plain directories of the test (nothing on the host). */
let node: NodePlan;
let volumes: PodVolumes | undefined;

interface TokenRequestSeen { name: string; namespace: string; audiences: string[]; expirationSeconds: number; boundPod: string }

/** ConfigMaps the fake API does not have (yet): reading one is a 404. Counts the reads of each. */
const missingConfigMaps = new Set<string>();
const configMapReads = new Map<string, number>();

/** Answers TokenRequests with numbered tokens that live `lifetimeMs`, and ConfigMaps (kube-root-ca.crt holds 'CA PEM'). */
function fakeCore(lifetimeMs: number, seen: TokenRequestSeen[]): CoreV1Api {
  return {
    createNamespacedServiceAccountToken: async (request: { name: string; namespace: string; body: { spec: { audiences: string[]; expirationSeconds: number; boundObjectRef: { name: string; uid: string } } } }) => {
      const spec = request.body.spec;
      seen.push({ name: request.name, namespace: request.namespace, audiences: spec.audiences, expirationSeconds: spec.expirationSeconds, boundPod: `${spec.boundObjectRef.name}/${spec.boundObjectRef.uid}` });
      return { status: { token: `token-${seen.length}`, expirationTimestamp: new Date(Date.now() + lifetimeMs) } };
    },
    readNamespacedConfigMap: async ({ name }: { name: string }) => {
      configMapReads.set(name, (configMapReads.get(name) ?? 0) + 1);
      if (missingConfigMaps.has(name)) throw new ApiException(404, 'Not Found', { reason: 'NotFound' }, {});
      return name === 'kube-root-ca.crt' ? { data: { 'ca.crt': 'CA PEM' } } : { data: { 'settings.yaml': `from ${name}` } };
    },
  } as unknown as CoreV1Api;
}

const pod: V1Pod = {
  metadata: { name: 'agent-x', namespace: 'weft-system', uid: 'uid-1' },
  spec: {
    serviceAccountName: 'weft-agent',
    containers: [{
      name: 'agent',
      volumeMounts: [
        { name: 'ca-token', mountPath: '/var/run/secrets/weft/ca-token', readOnly: true },
        { name: 'bpffs', mountPath: '/sys/fs/bpf' },
        { name: 'config', mountPath: '/etc/weft' },
        // As the API server's ServiceAccount admission adds it.
        { name: 'kube-api-access-x7k2p', mountPath: SERVICE_ACCOUNT_MOUNT_PATH, readOnly: true },
      ],
    }],
    volumes: [
      { name: 'ca-token', projected: { sources: [{ serviceAccountToken: { audience: 'weft-ca', expirationSeconds: 3600, path: 'token' } }] } },
      { name: 'bpffs', hostPath: { path: '/sys/fs/bpf', type: 'DirectoryOrCreate' } },
      { name: 'config', configMap: { name: 'weft-config' } },
      {
        name: 'kube-api-access-x7k2p',
        projected: {
          defaultMode: 420,
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
          ],
        },
      },
    ],
  },
};

before(async () => {
  dir = await makeTempDir('pod-volumes');
  node = { ...planNodes(dir.path, 1)[0]!, bpffsDir: join(dir.path, 'node-bpffs'), cgroupRoot: join(dir.path, 'node-cgroup') };
});

after(async () => {
  volumes?.stop();
  await dir?.remove();
});

test('host paths are the node\'s own', () => {
  assert.equal(nodeHostPath(node, '/hp', '/sys/fs/bpf'), node.bpffsDir);
  assert.equal(nodeHostPath(node, '/hp', '/sys/fs/bpf/weft'), join(node.bpffsDir, 'weft'));
  assert.equal(nodeHostPath(node, '/hp', '/sys/fs/cgroup/'), node.cgroupRoot);
  assert.equal(nodeHostPath(node, '/hp', '/var/lib/weft'), '/hp/var/lib/weft');
  assert.equal(nodeHostPath(node, '/hp', '/sys/fs/bpfish'), '/hp/sys/fs/bpfish', 'only whole path components match');
});

test('a projected token is bound to the pod, has the volume\'s audience and is refreshed at 80% of its life', async () => {
  const seen: TokenRequestSeen[] = [];
  volumes = new PodVolumes(pod, { core: fakeCore(2000, seen), node, podDir: join(dir.path, 'pod'), nodeHostPathDir: join(dir.path, 'hostpath'), log: () => {} });
  await volumes.prepare();
  const mounts = await volumes.mountsFor(pod.spec!.containers[0]!);
  const tokenMount = mounts.find((m) => m.target === '/var/run/secrets/weft/ca-token')!;
  assert.equal(tokenMount.readOnly, true);
  assert.deepEqual(seen[0], { name: 'weft-agent', namespace: 'weft-system', audiences: ['weft-ca'], expirationSeconds: 3600, boundPod: 'agent-x/uid-1' });
  assert.deepEqual(seen[1]?.audiences, [], 'the API access token carries the API server\'s own audiences');
  const first = await readFile(join(tokenMount.source, 'token'), 'utf8');
  assert.equal(first, 'token-1');
  // 2 s lifetime: rewritten after about 1.6 s.
  const started = Date.now();
  await waitFor(async () => (await readFile(join(tokenMount.source, 'token'), 'utf8')) !== first, { timeoutMs: 10_000, what: 'the token rewritten' });
  assert.ok(Date.now() - started >= 1000, 'not before most of its lifetime passed');

  assert.equal(mounts.find((m) => m.target === '/sys/fs/bpf')!.source, node.bpffsDir);
  const config = mounts.find((m) => m.target === '/etc/weft')!;
  assert.equal(await readFile(join(config.source, 'settings.yaml'), 'utf8'), 'from weft-config');
  const apiAccess = mounts.find((m) => m.target === SERVICE_ACCOUNT_MOUNT_PATH)!;
  assert.equal(await readFile(join(apiAccess.source, 'ca.crt'), 'utf8'), 'CA PEM');
  assert.equal(await readFile(join(apiAccess.source, 'namespace'), 'utf8'), 'weft-system');
  assert.equal(apiAccess.readOnly, true);
  volumes.stop();
});

test('the kubelet adds no volume the pod does not name; an unknown volume name is an error', async () => {
  const quiet: V1Pod = { ...pod, spec: { ...pod.spec!, volumes: [], containers: [{ name: 'c' }] } };
  const plain = new PodVolumes(quiet, { core: fakeCore(60_000, []), node, podDir: join(dir.path, 'quiet'), nodeHostPathDir: join(dir.path, 'hostpath'), log: () => {} });
  await plain.prepare();
  assert.deepEqual(await plain.mountsFor({ name: 'c' }), []);
  await assert.rejects(plain.mountsFor({ name: 'c', volumeMounts: [{ name: 'missing', mountPath: '/x' }] }), /names no volume/);
  await plain.remove();
});

test('a ConfigMap that does not exist yet is waited for, as kubelet retries, not a failed pod', async () => {
  missingConfigMaps.add('kube-root-ca.crt');
  const late = new PodVolumes(pod, { core: fakeCore(60_000, []), node, podDir: join(dir.path, 'late'), nodeHostPathDir: join(dir.path, 'hostpath'), log: () => {} });
  try {
    const before = configMapReads.get('kube-root-ca.crt') ?? 0;
    let settled = false;
    const preparing = late.prepare().finally(() => (settled = true));
    // It asked, found nothing, and asked again: still waiting.
    await waitFor(() => (configMapReads.get('kube-root-ca.crt') ?? 0) >= before + 2, { what: 'the kubelet asking again for the missing ConfigMap' });
    assert.equal(settled, false, 'the volume is not ready while its ConfigMap is missing');
    missingConfigMaps.delete('kube-root-ca.crt');
    await preparing;
    const apiAccess = (await late.mountsFor(pod.spec!.containers[0]!)).find((m) => m.target === SERVICE_ACCOUNT_MOUNT_PATH)!;
    assert.equal(await readFile(join(apiAccess.source, 'ca.crt'), 'utf8'), 'CA PEM');
  } finally {
    missingConfigMaps.clear();
    late.stop();
    await late.remove();
  }
});
