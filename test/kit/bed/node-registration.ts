// Registers the bed's nodes with the API server the way kubelet does: a Node object (labels,
// podCIDR, addresses, Ready condition) and a Lease in kube-node-lease renewed every few seconds.
import { CoreV1Api, CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Node, type V1Lease } from '@kubernetes/client-node';
import { isConflict, isNotFound, retryOnConflict } from './kube-client.js';
import type { NodePlan } from './node-plan.js';

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
const LEASE_DURATION_SECONDS = 40;
const LEASE_RENEW_MS = 10_000;
export const BED_PREFIX_ANNOTATION = 'weft.dev/bed-prefix';

export async function ensureNamespace(core: CoreV1Api, name: string): Promise<void> {
  try {
    await core.createNamespace({ body: { metadata: { name } } });
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
}

function nodeObject(node: NodePlan, prefix: string): V1Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: node.name,
      labels: {
        'kubernetes.io/hostname': node.name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'topology.kubernetes.io/zone': node.zone,
        'topology.kubernetes.io/region': 'weft-bed',
      },
      annotations: { [BED_PREFIX_ANNOTATION]: prefix },
    },
    spec: { podCIDR: node.podCIDR, podCIDRs: [node.podCIDR] },
  };
}

function nodeStatus(node: NodePlan): V1Node['status'] {
  const now = new Date();
  const condition = (type: string, status: string, reason: string, message: string) => ({
    type, status, reason, message, lastHeartbeatTime: now, lastTransitionTime: now,
  });
  return {
    addresses: [
      { type: 'InternalIP', address: node.ip },
      { type: 'Hostname', address: node.name },
    ],
    capacity: { cpu: '2', memory: '4Gi', pods: '110' },
    allocatable: { cpu: '2', memory: '4Gi', pods: '110' },
    conditions: [
      condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
      condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
      condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
      condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
    ],
    nodeInfo: {
      architecture: 'amd64',
      bootID: '',
      containerRuntimeVersion: 'weft-bed://1',
      kernelVersion: '',
      kubeProxyVersion: '',
      kubeletVersion: 'v1.26.0-weft-bed',
      machineID: '',
      operatingSystem: 'linux',
      osImage: 'weft test bed',
      systemUUID: '',
    },
  };
}

/** Creates (or updates) the Node object and writes its status through the status subresource. */
export async function registerNode(core: CoreV1Api, node: NodePlan, prefix: string): Promise<void> {
  const desired = nodeObject(node, prefix);
  try {
    await core.createNode({ body: desired });
  } catch (err) {
    if (!isConflict(err)) throw err;
    await retryOnConflict(async () => {
      const existing = await core.readNode({ name: node.name });
      existing.metadata = { ...existing.metadata, labels: { ...existing.metadata?.labels, ...desired.metadata!.labels }, annotations: { ...existing.metadata?.annotations, ...desired.metadata!.annotations } };
      existing.spec = { ...existing.spec, ...desired.spec };
      await core.replaceNode({ name: node.name, body: existing });
    });
  }
  await retryOnConflict(async () => {
    const current = await core.readNode({ name: node.name });
    current.status = nodeStatus(node);
    await core.replaceNodeStatus({ name: node.name, body: current });
  });
}

export async function unregisterNode(core: CoreV1Api, nodeName: string): Promise<void> {
  try {
    await core.deleteNode({ name: nodeName });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** Keeps each node's Lease fresh, as the kubelet's node lease controller does. */
export class NodeLeaseKeeper {
  private timer: NodeJS.Timeout | null = null;
  private readonly leases: CoordinationV1Api;

  constructor(kubeConfig: KubeConfig, private readonly nodeNames: string[], private readonly log: (msg: string, fields?: object) => void) {
    this.leases = kubeConfig.makeApiClient(CoordinationV1Api);
  }

  async start(): Promise<void> {
    await this.renewAll();
    this.timer = setInterval(() => {
      this.renewAll().catch((err: unknown) => this.log('node lease renewal failed', { err: String(err) }));
    }, LEASE_RENEW_MS);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async renewAll(): Promise<void> {
    for (const name of this.nodeNames) await this.renew(name);
  }

  private async renew(nodeName: string): Promise<void> {
    // MicroTime: six fractional digits (V1MicroTime serializes so; a Date's milliseconds are refused).
    const spec = { holderIdentity: nodeName, leaseDurationSeconds: LEASE_DURATION_SECONDS, renewTime: new V1MicroTime() };
    try {
      const lease = await this.leases.readNamespacedLease({ name: nodeName, namespace: NODE_LEASE_NAMESPACE });
      lease.spec = { ...lease.spec, ...spec };
      await this.leases.replaceNamespacedLease({ name: nodeName, namespace: NODE_LEASE_NAMESPACE, body: lease });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const body: V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: nodeName, namespace: NODE_LEASE_NAMESPACE, ownerReferences: [] },
        spec,
      };
      await this.leases.createNamespacedLease({ namespace: NODE_LEASE_NAMESPACE, body });
    }
  }
}
