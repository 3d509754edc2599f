// The weft-system objects a cluster with the Weft chart installed has: the namespace, the
// ServiceAccounts weft-agent and weft-ca, one agent Pod per node (as the DaemonSet would create)
// and the CA Pod on node-1. The bed runs these processes itself (agent-supervisor.ts,
// ca-supervisor.ts), so the Pods carry RUN_BY_ANNOTATION and the bed's kubelet leaves them
// alone; the daemon writes their status the way a kubelet would for a hostNetwork pod. They exist
// because the CA authenticates agents by tokens bound to their Pod and reads its spec.nodeName.
import type { CoreV1Api, V1Pod, V1PodStatus } from '@kubernetes/client-node';
import { isConflict, isNotFound, retryOnConflict } from './kube-client.js';
import { ensureNamespace } from './node-registration.js';
import type { NodePlan } from './node-plan.js';

export const MESH_NAMESPACE = 'weft-system';
export const AGENT_SERVICE_ACCOUNT = 'weft-agent';
export const CA_SERVICE_ACCOUNT = 'weft-ca';
export const CA_POD_NAME = 'weft-ca-0';
/** Pods whose process a bed supervisor runs; the bed kubelet must not run them a second time. */
export const RUN_BY_ANNOTATION = 'bed.weft.io/run-by';
const HOST_IMAGE = 'weft-bed/host';

export function agentPodName(nodeName: string): string {
  return `weft-agent-${nodeName}`;
}

/** A Pod object's identity, as a TokenRequest boundObjectRef needs it. */
export interface PodRef {
  name: string;
  uid: string;
}

interface HostNetworkPodSpec {
  name: string;
  node: NodePlan;
  serviceAccount: string;
  app: string;
  container: string;
  command: string[];
  runBy: string;
}

function hostNetworkPod(spec: HostNetworkPodSpec): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: spec.name,
      namespace: MESH_NAMESPACE,
      labels: { 'app.kubernetes.io/name': spec.app, 'app.kubernetes.io/part-of': 'weft' },
      annotations: { [RUN_BY_ANNOTATION]: spec.runBy },
    },
    spec: {
      nodeName: spec.node.name,
      hostNetwork: true,
      serviceAccountName: spec.serviceAccount,
      restartPolicy: 'Always',
      containers: [{ name: spec.container, image: HOST_IMAGE, command: spec.command }],
    },
  };
}

async function ensureServiceAccount(core: CoreV1Api, name: string): Promise<void> {
  try {
    await core.createNamespacedServiceAccount({ namespace: MESH_NAMESPACE, body: { metadata: { name, namespace: MESH_NAMESPACE } } });
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
}

/**
 * Creates the pod afresh: one left over on an external server (a previous bed) has a stale status
 * and uid, and tokens must be bound to this bed's pod.
 */
async function recreatePod(core: CoreV1Api, pod: V1Pod): Promise<PodRef> {
  const name = pod.metadata!.name!;
  try {
    const created = await core.createNamespacedPod({ namespace: MESH_NAMESPACE, body: pod });
    return { name, uid: created.metadata!.uid! };
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
  await deletePodNow(core, name);
  const created = await core.createNamespacedPod({ namespace: MESH_NAMESPACE, body: pod });
  return { name, uid: created.metadata!.uid! };
}

/** Deletes with grace 0: no kubelet runs these pods, so nobody else would finalize a graceful delete. */
async function deletePodNow(core: CoreV1Api, name: string): Promise<void> {
  try {
    await core.deleteNamespacedPod({ name, namespace: MESH_NAMESPACE, gracePeriodSeconds: 0, body: { gracePeriodSeconds: 0 } });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

export interface MeshSystemPods {
  agents: Map<string, PodRef>;   // by node name
  ca: PodRef | null;
}

export interface MeshSystemPlan {
  nodes: NodePlan[];
  agentCommand: string[];
  /** The CA's node and command, or null with `up --no-ca`. */
  ca: { node: NodePlan; command: string[] } | null;
}

/** Ensures namespace and ServiceAccounts and (re)creates the agent pods and the CA pod. */
export async function ensureMeshSystem(core: CoreV1Api, plan: MeshSystemPlan): Promise<MeshSystemPods> {
  await ensureNamespace(core, MESH_NAMESPACE);
  await ensureServiceAccount(core, AGENT_SERVICE_ACCOUNT);
  await ensureServiceAccount(core, CA_SERVICE_ACCOUNT);
  const agents = new Map<string, PodRef>();
  for (const node of plan.nodes) {
    agents.set(node.name, await recreatePod(core, hostNetworkPod({
      name: agentPodName(node.name), node, serviceAccount: AGENT_SERVICE_ACCOUNT, app: 'weft-agent', container: 'agent', command: plan.agentCommand, runBy: 'agent-supervisor',
    })));
  }
  let ca: PodRef | null = null;
  if (plan.ca) {
    ca = await recreatePod(core, hostNetworkPod({
      name: CA_POD_NAME, node: plan.ca.node, serviceAccount: CA_SERVICE_ACCOUNT, app: 'weft-ca', container: 'ca', command: plan.ca.command, runBy: 'ca-supervisor',
    }));
  }
  return { agents, ca };
}

/** Removes the pods (on an external server the bed leaves; namespace and accounts stay, as after a chart uninstall keeps the namespace). */
export async function removeMeshSystemPods(core: CoreV1Api, pods: MeshSystemPods): Promise<void> {
  for (const ref of [...pods.agents.values(), ...(pods.ca ? [pods.ca] : [])]) await deletePodNow(core, ref.name);
}

function runningStatus(node: NodePlan, container: string, startedAt: Date): V1PodStatus {
  const now = new Date();
  const condition = (type: string) => ({ type, status: 'True', lastTransitionTime: now });
  return {
    phase: 'Running',
    hostIP: node.ip,
    hostIPs: [{ ip: node.ip }],
    // hostNetwork: the pod's IP is the node's.
    podIP: node.ip,
    podIPs: [{ ip: node.ip }],
    startTime: startedAt,
    qosClass: 'BestEffort',
    conditions: [condition('Initialized'), condition('Ready'), condition('ContainersReady'), condition('PodScheduled')],
    containerStatuses: [{
      name: container,
      image: HOST_IMAGE,
      imageID: '',
      ready: true,
      started: true,
      restartCount: 0,
      state: { running: { startedAt } },
    }],
  };
}

/** Marks a supervised pod Running and Ready through the status subresource, as kubelet would once its process is ready. */
export async function markPodRunning(core: CoreV1Api, ref: PodRef, node: NodePlan, container: string, startedAt: Date): Promise<void> {
  await retryOnConflict(async () => {
    const pod = await core.readNamespacedPod({ name: ref.name, namespace: MESH_NAMESPACE });
    if (pod.metadata?.uid !== ref.uid) throw new Error(`pod ${MESH_NAMESPACE}/${ref.name} was replaced (uid ${pod.metadata?.uid}, expected ${ref.uid})`);
    pod.status = runningStatus(node, container, startedAt);
    await core.replaceNamespacedPodStatus({ name: ref.name, namespace: MESH_NAMESPACE, body: pod });
  });
}
