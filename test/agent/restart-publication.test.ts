// An agent restart on a node with 50 enrolled pods and 50 Services: the new agent's informers
// list one collection at a time, and a snapshot built in between (namespaces known, pods or
// Services not yet) would make the map sync delete Service entries and the reconciler detach
// the links the previous agent pinned. The state pipeline is wired as agent.ts wires it, with
// the real API server, real BPF maps and links on real cgroups, and the maps and links are
// read after every publication - the only moments they can change.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import * as libbpf from '../../native/src/libbpf.js';
import { svcKeyCodec } from '../../agent/src/bpf/abi.js';
import { EnrollmentReconciler } from '../../agent/src/bpf/enrollment-reconciler.js';
import { syncMeshMaps } from '../../agent/src/bpf/mesh-map-sync.js';
import { cgroup2MountPoint, ownCgroupId } from '../../agent/src/bpf/own-cgroup.js';
import { PodCgroupFinder } from '../../agent/src/bpf/pod-cgroup-finder.js';
import { RedirectPrograms } from '../../agent/src/bpf/redirect-programs.js';
import { ClusterWatch } from '../../agent/src/k8s/cluster-caches.js';
import { StateUpdater } from '../../agent/src/state/state-updater.js';
import { removeCgroupTree } from '../kit/index.js';
import { startApiServer, type ApiServerHandle } from '../kit/index.js';
import { repoRoot } from '../support/repo-root.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { uniqueName } from '../support/unique-name.js';

const NODE = 'restart-node';
const NODE_IP = '10.201.0.1';
const COUNT = 50;
const log = pino({ level: process.env.WEFT_TEST_LOG ?? 'silent' });

let stateDir: TempDir;
let server: ApiServerHandle;
let kubeConfig: KubeConfig;
const name = uniqueName('restart-pub');
const cgroupRoot = join(cgroup2MountPoint(), name);
const pinDir = join('/sys/fs/bpf', name);

interface Observation {
  version: number;
  serviceEntries: number;
  linkedPods: number;
}

function countKeys(fd: number, size: number): number {
  let count = 0;
  let key: Uint8Array | null = null;
  for (;;) {
    const next = new Uint8Array(size);
    if (!libbpf.mapNextKey(fd, key, next)) return count;
    count++;
    key = next;
  }
}

/** One agent's state pipeline, in agent.ts's order: consumers first, then the watch starts. */
async function startAgentState(observations: Observation[]): Promise<{ stop(): Promise<void> }> {
  const programs = RedirectPrograms.load({
    objectDir: join(repoRoot, 'bpf', 'build'),
    pinDir,
    config: { agentCgroupId: ownCgroupId(), proxyIp4: NODE_IP, proxyPort: 15001 },
  });
  const watch = new ClusterWatch(kubeConfig, NODE, log);
  const state = new StateUpdater(watch, NODE, NODE_IP, log);
  const enrollment = new EnrollmentReconciler(programs, new PodCgroupFinder(cgroupRoot), log, () => {
    throw new Error('attaching programs failed');
  });
  state.onPublish((snapshot) => syncMeshMaps(snapshot, programs.mapFds.weft_svc, programs.mapFds.weft_pod_cidr));
  state.onPublish((snapshot) => enrollment.reconcile(snapshot));
  state.onPublish((snapshot) => {
    observations.push({
      version: snapshot.version,
      serviceEntries: countKeys(programs.mapFds.weft_svc, svcKeyCodec.size),
      linkedPods: programs.attachedOwners().length,
    });
  });
  watch.onChange(() => state.invalidate());
  await watch.start();
  assert.equal(state.rebuild(), true, 'the first snapshot is published once every informer has listed');
  return {
    async stop() {
      await watch.stop();
      programs.close();
    },
  };
}

before(async () => {
  stateDir = await makeTempDir('restart-publication');
  server = await startApiServer({ stateDir: stateDir.path });
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(server.kubeconfigPath);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name, labels: { 'weft.io/mesh': 'enabled' } } } });
  for (let i = 0; i < COUNT; i++) {
    await core.createNamespacedService({
      namespace: name,
      body: { metadata: { name: `svc-${i}` }, spec: { selector: { app: `app-${i}` }, ports: [{ port: 80, targetPort: 8080 }] } },
    });
    const pod = await core.createNamespacedPod({
      namespace: name,
      body: { metadata: { name: `pod-${i}`, labels: { app: `app-${i}` } }, spec: { nodeName: NODE, containers: [{ name: 'app', image: 'app' }] } },
    });
    // Where kubelet's cgroupfs driver puts a BestEffort pod.
    mkdirSync(join(cgroupRoot, 'kubepods', 'besteffort', `pod${pod.metadata!.uid}`), { recursive: true });
  }
});

after(async () => {
  try {
    RedirectPrograms.removeAll(pinDir);
  } finally {
    await removeCgroupTree(cgroupRoot);
    rmSync(pinDir, { recursive: true, force: true });
    await server?.close();
    await stateDir?.remove();
  }
});

test('a restarted agent never deletes a Service map entry nor detaches a pinned link while its informers list', async () => {
  const first: Observation[] = [];
  const previous = await startAgentState(first);
  await previous.stop();
  assert.deepEqual(first.at(-1) && { ...first.at(-1)!, version: 0 }, { version: 0, serviceEntries: COUNT, linkedPods: COUNT }, 'the previous agent left the full world pinned');

  const second: Observation[] = [];
  const restarted = await startAgentState(second);
  try {
    assert.ok(second.length >= 1);
    for (const observation of second) {
      assert.deepEqual({ ...observation, version: 0 }, { version: 0, serviceEntries: COUNT, linkedPods: COUNT }, `after snapshot ${observation.version}`);
    }
  } finally {
    await restarted.stop();
  }
});
