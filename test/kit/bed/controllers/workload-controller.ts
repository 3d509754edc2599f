// The bed's DaemonSet and Deployment controller, enough to run a Helm chart's workloads:
//  - DaemonSet: one Pod per Ready node that matches the template's nodeSelector, named
//    <ds>-<5 random>, with spec.nodeName set, the template's labels plus controller-revision-hash,
//    and an ownerReference. A template change replaces pods node by node: RollingUpdate with
//    maxUnavailable (default 1: delete the old pod, create the new one once it is gone), or
//    with maxSurge (start the new pod beside the old one, delete the old one once the new one
//    is Ready; at most maxSurge nodes at a time). As the scheduler does, a surge pod is not
//    placed on a node where a pod of the DaemonSet already holds one of its host ports.
//  - Deployment: `replicas` Pods (no ReplicaSet) named <deploy>-<hash>-<5 random>, spread round
//    robin over eligible nodes; a template change creates the new pods first and deletes the old
//    ones once the new ones are Ready (Recreate: deletes first).
//  - Owner gone (or replaced by a new object of the same name): its pods are deleted with their
//    grace period, as the garbage collector's background deletion does.
//  - status: DaemonSet desired/current/ready/updated/available counts, Deployment
//    replicas/ready/available/updated, observedGeneration.
import { createHash, randomInt } from 'node:crypto';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1DaemonSet,
  type V1Deployment,
  type V1Node,
  type V1ObjectMeta,
  type V1OwnerReference,
  type V1Pod,
  type V1PodSpec,
  type V1PodTemplateSpec,
} from '@kubernetes/client-node';
import { KeyedWorkQueue } from './keyed-work-queue.js';
import { RestartingInformer } from '../../../../agent/src/k8s/restarting-informer.js';
import { retryOnConflict } from '../kube-client.js';
import { hasReadyCondition } from '../pod-conditions.js';

export type WorkloadControllerLog = (msg: string, fields?: object) => void;

export const DAEMONSET_HASH_LABEL = 'controller-revision-hash';
export const DEPLOYMENT_HASH_LABEL = 'pod-template-hash';
/** Kubernetes' alphabet for generated name suffixes (no vowels, no confusable characters). */
const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

type Kind = 'DaemonSet' | 'Deployment';

export function randomSuffix(length = 5): string {
  let suffix = '';
  for (let i = 0; i < length; i++) suffix += NAME_ALPHABET[randomInt(NAME_ALPHABET.length)];
  return suffix;
}

/** A stable hash of a pod template: pods carrying another hash are of an older template. */
export function templateHash(template: V1PodTemplateSpec | undefined): string {
  const digest = createHash('sha256').update(JSON.stringify(template ?? {})).digest();
  let hash = '';
  for (let i = 0; i < 10; i++) hash += NAME_ALPHABET[digest[i]! % NAME_ALPHABET.length];
  return hash;
}

/** Ready and not being deleted: counts toward a rollout's available pods. */
export function isPodReady(pod: V1Pod): boolean {
  return !pod.metadata?.deletionTimestamp && hasReadyCondition(pod);
}

function isNodeReady(node: V1Node): boolean {
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True') && node.spec?.unschedulable !== true;
}

function nodeMatches(node: V1Node, template: V1PodTemplateSpec | undefined): boolean {
  const labels = node.metadata?.labels ?? {};
  return Object.entries(template?.spec?.nodeSelector ?? {}).every(([key, value]) => labels[key] === value);
}

function controllerRef(meta: V1ObjectMeta | undefined): V1OwnerReference | undefined {
  return (meta?.ownerReferences ?? []).find((ref) => ref.controller === true);
}

function isNotFoundError(err: unknown): boolean {
  return err instanceof ApiException && err.code === 404;
}

/** maxUnavailable of a DaemonSet's rolling update as a node count (percentages of `nodes`, rounded down, at least 1). */
function maxUnavailable(ds: V1DaemonSet, nodes: number): number {
  const value = ds.spec?.updateStrategy?.rollingUpdate?.maxUnavailable;
  if (typeof value === 'number') return Math.max(value, 1);
  if (typeof value === 'string' && value.endsWith('%')) return Math.max(Math.floor((nodes * Number(value.slice(0, -1))) / 100), 1);
  return 1;
}

/** maxSurge of a DaemonSet's rolling update as a node count (percentages of `nodes` rounded up); 0 = no surge. */
function maxSurge(ds: V1DaemonSet, nodes: number): number {
  const value = ds.spec?.updateStrategy?.rollingUpdate?.maxSurge;
  if (typeof value === 'number') return Math.max(value, 0);
  if (typeof value === 'string' && value.endsWith('%')) return Math.ceil((nodes * Number(value.slice(0, -1))) / 100);
  return 0;
}

/** The host ports a pod (template) claims: what the scheduler's NodePorts filter compares. */
function hostPorts(spec: V1PodSpec | undefined): string[] {
  return (spec?.containers ?? []).flatMap((c) => (c.ports ?? []).filter((p) => (p.hostPort ?? 0) > 0 || spec?.hostNetwork).map((p) => `${p.protocol ?? 'TCP'}/${p.hostPort || p.containerPort}`));
}

export class WorkloadController {
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly daemonSets: RestartingInformer<V1DaemonSet>;
  private readonly deployments: RestartingInformer<V1Deployment>;
  private readonly pods: RestartingInformer<V1Pod>;
  private readonly nodes: RestartingInformer<V1Node>;
  private readonly queue: KeyedWorkQueue;
  /** Pods we created or deleted that the cache may not show yet, by owner key: name -> 'created' | 'deleted'. */
  private readonly pending = new Map<string, Map<string, 'created' | 'deleted'>>();
  private running = false;

  constructor(kubeConfig: KubeConfig, private readonly log: WorkloadControllerLog) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    const common = { kubeConfig, log };
    this.daemonSets = new RestartingInformer<V1DaemonSet>({ ...common, name: 'daemonsets', path: '/apis/apps/v1/daemonsets', list: () => this.apps.listDaemonSetForAllNamespaces() });
    this.deployments = new RestartingInformer<V1Deployment>({ ...common, name: 'deployments', path: '/apis/apps/v1/deployments', list: () => this.apps.listDeploymentForAllNamespaces() });
    this.pods = new RestartingInformer<V1Pod>({ ...common, name: 'pods', path: '/api/v1/pods', list: () => this.core.listPodForAllNamespaces() });
    this.nodes = new RestartingInformer<V1Node>({ ...common, name: 'nodes', path: '/api/v1/nodes', list: () => this.core.listNode() });
    this.queue = new KeyedWorkQueue((key) => this.reconcile(key), {
      workers: 2,
      onError: (key, err, retryInMs) => this.log('workload reconcile failed', { workload: key, err: err instanceof ApiException ? `HTTP ${err.code}: ${JSON.stringify(err.body).slice(0, 300)}` : String(err), retryInMs }),
    });
    for (const verb of ['add', 'update', 'delete'] as const) {
      this.daemonSets.on(verb, (ds) => this.enqueue('DaemonSet', ds.metadata));
      this.deployments.on(verb, (deploy) => this.enqueue('Deployment', deploy.metadata));
      this.pods.on(verb, (pod) => this.onPod(pod, verb === 'delete'));
      this.nodes.on(verb, () => this.enqueueAllDaemonSets());
    }
  }

  async start(): Promise<void> {
    await Promise.all([this.daemonSets.start(), this.deployments.start(), this.pods.start(), this.nodes.start()]);
    this.running = true;
    this.enqueueAllDaemonSets();
    for (const deploy of this.deployments.list()) this.enqueue('Deployment', deploy.metadata);
    // Pods whose owner vanished while no controller ran.
    for (const pod of this.pods.list()) this.onPod(pod, false);
    this.log('workload controller synced', { daemonSets: this.daemonSets.list().length, deployments: this.deployments.list().length });
  }

  async stop(): Promise<void> {
    this.running = false;
    this.queue.stop();
    await Promise.all([this.daemonSets.stop(), this.deployments.stop(), this.pods.stop(), this.nodes.stop()]);
    await this.queue.idle();
  }

  private enqueue(kind: Kind, meta: V1ObjectMeta | undefined): void {
    if (!this.running || !meta?.name) return;
    this.queue.add(`${kind}/${meta.namespace ?? 'default'}/${meta.name}`);
  }

  private enqueueAllDaemonSets(): void {
    for (const ds of this.daemonSets.list()) this.enqueue('DaemonSet', ds.metadata);
  }

  private onPod(pod: V1Pod, deleted: boolean): void {
    const ref = controllerRef(pod.metadata);
    if (!ref || (ref.kind !== 'DaemonSet' && ref.kind !== 'Deployment') || !ref.apiVersion.startsWith('apps/')) return;
    const key = `${ref.kind}/${pod.metadata?.namespace ?? 'default'}/${ref.name}`;
    const pending = this.pending.get(key);
    const name = pod.metadata?.name ?? '';
    // Our own write shows in the cache now: it no longer needs tracking. A graceful delete shows
    // first as an update carrying deletionTimestamp.
    const write = pending?.get(name);
    if (write === 'created' || (write === 'deleted' && (deleted || pod.metadata?.deletionTimestamp))) pending!.delete(name);
    this.enqueue(ref.kind as Kind, { name: ref.name, namespace: pod.metadata?.namespace });
  }

  /** The pods a workload owns, by its controller reference (name and kind; uid checked by the caller). */
  private ownedPods(kind: Kind, namespace: string, name: string): V1Pod[] {
    const key = `${kind}/${namespace}/${name}`;
    const pending = this.pending.get(key) ?? new Map<string, 'created' | 'deleted'>();
    return this.pods.list(namespace).filter((pod) => {
      const ref = controllerRef(pod.metadata);
      return ref?.kind === kind && ref.name === name && pending.get(pod.metadata?.name ?? '') !== 'deleted';
    });
  }

  /** True while a write of ours is not in the cache yet: acting now could double it. */
  private hasPendingWrites(key: string): boolean {
    return (this.pending.get(key)?.size ?? 0) > 0;
  }

  private async reconcile(key: string): Promise<void> {
    const [kind, namespace, name] = key.split('/') as [Kind, string, string];
    if (this.hasPendingWrites(key)) return; // the cache event of that write re-queues the key
    if (kind === 'DaemonSet') await this.reconcileDaemonSet(key, namespace, name);
    else await this.reconcileDeployment(key, namespace, name);
  }

  private async reconcileDaemonSet(key: string, namespace: string, name: string): Promise<void> {
    const ds = this.daemonSets.get(name, namespace);
    const pods = this.ownedPods('DaemonSet', namespace, name);
    const ownerUid = ds?.metadata?.uid;
    const strays = pods.filter((pod) => !ds || ds.metadata?.deletionTimestamp || controllerRef(pod.metadata)?.uid !== ownerUid);
    for (const pod of strays) await this.deletePod(key, pod, ds ? 'owner replaced' : 'owner deleted');
    if (!ds || ds.metadata?.deletionTimestamp) return;
    const ours = pods.filter((pod) => !strays.includes(pod));
    const hash = templateHash(ds.spec?.template);
    const eligible = this.nodes.list().filter((node) => isNodeReady(node) && nodeMatches(node, ds.spec?.template));
    const eligibleNames = new Set(eligible.map((node) => node.metadata!.name!));
    const live = ours.filter((pod) => !pod.metadata?.deletionTimestamp);

    for (const pod of live.filter((p) => !eligibleNames.has(p.spec?.nodeName ?? ''))) await this.deletePod(key, pod, 'node not eligible');
    const surge = maxSurge(ds, eligible.length);
    if (surge > 0) await this.surgeDaemonSet(key, ds, hash, eligible, ours, surge);
    else await this.replaceDaemonSetPods(key, ds, hash, eligible, ours);
    await this.writeDaemonSetStatus(ds, hash, eligible.length, ours);
  }

  /** maxUnavailable: a node's old pod goes first, within the budget; its replacement follows. */
  private async replaceDaemonSetPods(key: string, ds: V1DaemonSet, hash: string, eligible: V1Node[], ours: V1Pod[]): Promise<void> {
    const name = ds.metadata!.name!;
    // A node is unavailable while it has no Ready pod (one being replaced counts).
    let unavailable = eligible.filter((node) => !ours.some((p) => p.spec?.nodeName === node.metadata!.name && isPodReady(p))).length;
    const budget = maxUnavailable(ds, eligible.length);
    for (const node of eligible) {
      const nodeName = node.metadata!.name!;
      const onNode = ours.filter((p) => p.spec?.nodeName === nodeName);
      const current = onNode.filter((p) => !p.metadata?.deletionTimestamp && p.metadata?.labels?.[DAEMONSET_HASH_LABEL] === hash);
      const old = onNode.filter((p) => !p.metadata?.deletionTimestamp && p.metadata?.labels?.[DAEMONSET_HASH_LABEL] !== hash);
      for (const extra of current.slice(1)) await this.deletePod(key, extra, 'more than one pod on the node');
      if (onNode.length === 0) {
        await this.createPod(key, 'DaemonSet', ds, hash, nodeName, `${name}-${randomSuffix()}`);
        continue;
      }
      if (old.length > 0) {
        const nodeReady = onNode.some(isPodReady);
        // Replacing a Ready pod makes its node unavailable: only within the budget.
        if (nodeReady && unavailable >= budget) continue;
        for (const pod of old) await this.deletePod(key, pod, 'template changed');
        if (nodeReady) unavailable++;
      }
    }
  }

  /**
   * maxSurge: the new pod starts beside the old one (at most `surge` nodes at a time) and the
   * old one goes once the new one is Ready. As in Kubernetes, an old pod that is not Ready
   * gets its new pod at once, outside the budget, and still stays until the new one is Ready.
   */
  private async surgeDaemonSet(key: string, ds: V1DaemonSet, hash: string, eligible: V1Node[], ours: V1Pod[], surge: number): Promise<void> {
    const name = ds.metadata!.name!;
    const isCurrent = (p: V1Pod): boolean => p.metadata?.labels?.[DAEMONSET_HASH_LABEL] === hash;
    const live = ours.filter((p) => !p.metadata?.deletionTimestamp);
    let surging = eligible.filter((node) => {
      const onNode = live.filter((p) => p.spec?.nodeName === node.metadata!.name);
      return onNode.some(isCurrent) && onNode.some((p) => !isCurrent(p));
    }).length;
    const claimed = hostPorts(ds.spec?.template?.spec);
    for (const node of eligible) {
      const nodeName = node.metadata!.name!;
      const onNode = live.filter((p) => p.spec?.nodeName === nodeName);
      const current = onNode.filter(isCurrent);
      const old = onNode.filter((p) => !isCurrent(p));
      for (const extra of current.slice(1)) await this.deletePod(key, extra, 'more than one pod on the node');
      if (onNode.length === 0) {
        if (!ours.some((p) => p.spec?.nodeName === nodeName)) await this.createPod(key, 'DaemonSet', ds, hash, nodeName, `${name}-${randomSuffix()}`);
        continue;
      }
      if (old.length === 0) continue;
      if (current.length > 0) {
        if (current.some(isPodReady)) for (const pod of old) await this.deletePod(key, pod, 'replaced by a Ready pod (surge)');
        continue;
      }
      const outsideBudget = !old.some(isPodReady);
      if (!outsideBudget && surging >= surge) continue;
      const taken = old.flatMap((p) => hostPorts(p.spec)).filter((port) => claimed.includes(port));
      if (taken.length > 0) {
        this.log('DaemonSet surge pod not placed: host ports in use on the node (the scheduler\'s NodePorts filter)', { daemonSet: key, node: nodeName, ports: taken });
        continue;
      }
      await this.createPod(key, 'DaemonSet', ds, hash, nodeName, `${name}-${randomSuffix()}`);
      if (!outsideBudget) surging++;
    }
  }

  private async reconcileDeployment(key: string, namespace: string, name: string): Promise<void> {
    const deploy = this.deployments.get(name, namespace);
    const pods = this.ownedPods('Deployment', namespace, name);
    const ownerUid = deploy?.metadata?.uid;
    const strays = pods.filter((pod) => !deploy || deploy.metadata?.deletionTimestamp || controllerRef(pod.metadata)?.uid !== ownerUid);
    for (const pod of strays) await this.deletePod(key, pod, deploy ? 'owner replaced' : 'owner deleted');
    if (!deploy || deploy.metadata?.deletionTimestamp) return;
    const ours = pods.filter((pod) => !strays.includes(pod));
    const hash = templateHash(deploy.spec?.template);
    const replicas = deploy.spec?.replicas ?? 1;
    const live = ours.filter((pod) => !pod.metadata?.deletionTimestamp);
    const current = live.filter((p) => p.metadata?.labels?.[DEPLOYMENT_HASH_LABEL] === hash);
    const old = live.filter((p) => p.metadata?.labels?.[DEPLOYMENT_HASH_LABEL] !== hash);
    const recreate = deploy.spec?.strategy?.type === 'Recreate';

    if (recreate && old.length > 0) {
      for (const pod of old) await this.deletePod(key, pod, 'template changed (Recreate)');
    } else if (!(recreate && ours.some((p) => p.metadata?.deletionTimestamp))) {
      const eligible = this.nodes.list().filter((node) => isNodeReady(node) && nodeMatches(node, deploy.spec?.template));
      if (eligible.length === 0 && current.length < replicas) throw new Error(`no Ready node matches the pod template of Deployment ${namespace}/${name}`);
      for (let i = current.length; i < replicas; i++) {
        // Round robin: the eligible node with the fewest of this Deployment's pods.
        const counts = eligible.map((node) => ({ node: node.metadata!.name!, pods: live.filter((p) => p.spec?.nodeName === node.metadata!.name).length }));
        counts.sort((a, b) => a.pods - b.pods || a.node.localeCompare(b.node));
        const nodeName = counts[0]!.node;
        const created = await this.createPod(key, 'Deployment', deploy, hash, nodeName, `${name}-${hash}-${randomSuffix()}`);
        live.push(created);
      }
      for (const extra of current.slice(replicas)) await this.deletePod(key, extra, 'scaled down');
      // Surge first: old pods go once the new template's pods are all Ready.
      if (old.length > 0 && current.length >= replicas && current.slice(0, replicas).every(isPodReady)) {
        for (const pod of old) await this.deletePod(key, pod, 'template changed');
      }
    }
    await this.writeDeploymentStatus(deploy, hash, ours);
  }

  private async createPod(key: string, kind: Kind, owner: V1DaemonSet | V1Deployment, hash: string, nodeName: string, podName: string): Promise<V1Pod> {
    const template = owner.spec!.template;
    const namespace = owner.metadata!.namespace ?? 'default';
    const hashLabel = kind === 'DaemonSet' ? DAEMONSET_HASH_LABEL : DEPLOYMENT_HASH_LABEL;
    const body: V1Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: podName,
        namespace,
        labels: { ...(template.metadata?.labels ?? {}), [hashLabel]: hash },
        annotations: template.metadata?.annotations,
        ownerReferences: [{ apiVersion: 'apps/v1', kind, name: owner.metadata!.name!, uid: owner.metadata!.uid!, controller: true, blockOwnerDeletion: true }],
      },
      spec: { ...template.spec!, nodeName },
    };
    this.track(key, podName, 'created');
    try {
      const created = await this.core.createNamespacedPod({ namespace, body });
      this.log('workload pod created', { workload: key, pod: podName, node: nodeName });
      return created;
    } catch (err) {
      this.pending.get(key)?.delete(podName);
      throw err;
    }
  }

  private async deletePod(key: string, pod: V1Pod, reason: string): Promise<void> {
    const name = pod.metadata!.name!;
    this.track(key, name, 'deleted');
    try {
      // The pod's own grace period: the kubelet sends SIGTERM and waits, as on a real node.
      await this.core.deleteNamespacedPod({ name, namespace: pod.metadata!.namespace ?? 'default' });
      this.log('workload pod deleted', { workload: key, pod: name, reason });
    } catch (err) {
      this.pending.get(key)?.delete(name);
      if (!isNotFoundError(err)) throw err;
    }
  }

  /** Remembers a write until the cache shows it (a delete shows as an update with deletionTimestamp, or as a delete). */
  private track(key: string, podName: string, write: 'created' | 'deleted'): void {
    let pending = this.pending.get(key);
    if (!pending) this.pending.set(key, (pending = new Map()));
    pending.set(podName, write);
  }

  private async writeDaemonSetStatus(ds: V1DaemonSet, hash: string, desired: number, pods: V1Pod[]): Promise<void> {
    const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
    const status = {
      desiredNumberScheduled: desired,
      currentNumberScheduled: new Set(live.map((p) => p.spec?.nodeName)).size,
      numberMisscheduled: 0,
      numberReady: live.filter(isPodReady).length,
      numberAvailable: live.filter(isPodReady).length,
      numberUnavailable: Math.max(desired - live.filter(isPodReady).length, 0),
      updatedNumberScheduled: live.filter((p) => p.metadata?.labels?.[DAEMONSET_HASH_LABEL] === hash).length,
      observedGeneration: ds.metadata?.generation,
    };
    const previous = ds.status ?? {};
    if (Object.entries(status).every(([k, v]) => (previous as Record<string, unknown>)[k] === v || (v === 0 && (previous as Record<string, unknown>)[k] === undefined))) return;
    await retryOnConflict(async () => {
      const fresh = await this.apps.readNamespacedDaemonSet({ name: ds.metadata!.name!, namespace: ds.metadata!.namespace! });
      if (fresh.metadata?.uid !== ds.metadata?.uid) return;
      fresh.status = { ...fresh.status, ...status };
      await this.apps.replaceNamespacedDaemonSetStatus({ name: ds.metadata!.name!, namespace: ds.metadata!.namespace!, body: fresh });
    });
  }

  private async writeDeploymentStatus(deploy: V1Deployment, hash: string, pods: V1Pod[]): Promise<void> {
    const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
    const ready = live.filter(isPodReady).length;
    const status = {
      replicas: live.length,
      readyReplicas: ready,
      availableReplicas: ready,
      unavailableReplicas: Math.max((deploy.spec?.replicas ?? 1) - ready, 0),
      updatedReplicas: live.filter((p) => p.metadata?.labels?.[DEPLOYMENT_HASH_LABEL] === hash).length,
      observedGeneration: deploy.metadata?.generation,
    };
    const previous = deploy.status ?? {};
    if (Object.entries(status).every(([k, v]) => (previous as Record<string, unknown>)[k] === v || (v === 0 && (previous as Record<string, unknown>)[k] === undefined))) return;
    await retryOnConflict(async () => {
      const fresh = await this.apps.readNamespacedDeployment({ name: deploy.metadata!.name!, namespace: deploy.metadata!.namespace! });
      if (fresh.metadata?.uid !== deploy.metadata?.uid) return;
      fresh.status = { ...fresh.status, ...status };
      await this.apps.replaceNamespacedDeploymentStatus({ name: deploy.metadata!.name!, namespace: deploy.metadata!.namespace! , body: fresh });
    });
  }
}
