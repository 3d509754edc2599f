// The bed's kubelet: one Pod watch per bed node (fieldSelector spec.nodeName=<node>, as a real
// kubelet watches), and a PodWorker per pod UID. Pods bound to other nodes are never seen.
import { CoreV1Api, ListWatch, Watch, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import type { NodePlan } from '../node-plan.js';
import type { NodeHelper } from '../node-helper-client.js';
import { isNotFound } from '../kube-client.js';
import { PodIpAllocator } from './pod-ip-allocator.js';
import { PodWorker } from './pod-worker.js';
import { RUN_BY_ANNOTATION } from '../mesh-system.js';

const DEFAULT_GRACE_PERIOD_SECONDS = 30;
const WATCH_RESTART_DELAY_MS = 1000;

export interface KubeletOptions {
  kubeConfig: KubeConfig;
  prefix: string;
  nodes: NodePlan[];
  helpers: Map<string, NodeHelper>;
  podsDir: string;
  podLogsDir: string;
  /** Pods' volume contents and the nodes' host-path directories. */
  volumesDir: string;
  /** The API server's CA certificate (ca.crt of every pod's API access volume); null: none. */
  /** Port of the API relay in each node namespace (127.0.0.1 and the node IP); null: none. */
  apiRelayPort: number | null;
  /** Told the pid of each container's main process when it starts, and null when it ends. */
  onContainerProcess?: (pod: V1Pod, container: string, pid: number | null) => void;
  log: (msg: string, fields?: object) => void;
}

export class BedKubelet {
  private readonly core: CoreV1Api;
  private readonly workers = new Map<string, PodWorker>(); // by pod UID
  private readonly watches: ListWatch<V1Pod>[] = [];
  private readonly allocators = new Map<string, PodIpAllocator>();
  private stopped = false;

  constructor(private readonly options: KubeletOptions) {
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    for (const node of options.nodes) this.allocators.set(node.name, new PodIpAllocator(node.podCIDR));
  }

  async start(): Promise<void> {
    for (const node of this.options.nodes) {
      const fieldSelector = `spec.nodeName=${node.name}`;
      const listFn = () => this.core.listPodForAllNamespaces({ fieldSelector });
      const watch = new ListWatch<V1Pod>('/api/v1/pods', new Watch(this.options.kubeConfig), listFn, false, undefined, fieldSelector);
      watch.on('add', (pod) => this.onPod(node, pod));
      watch.on('update', (pod) => this.onPod(node, pod));
      watch.on('delete', (pod) => this.onPodGone(pod));
      watch.on('error', (err) => {
        if (this.stopped) return;
        this.options.log('pod watch failed; restarting', { node: node.name, err: String(err) });
        setTimeout(() => {
          if (!this.stopped) watch.start().catch((e: unknown) => this.options.log('pod watch restart failed', { node: node.name, err: String(e) }));
        }, WATCH_RESTART_DELAY_MS);
      });
      await watch.start();
      this.watches.push(watch);
    }
  }

  /** Stops watching. Pod processes keep running; `down` removes them with everything else. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const watch of this.watches) await watch.stop();
  }

  private onPod(node: NodePlan, pod: V1Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid || pod.spec?.nodeName !== node.name) return;
    // The weft-system agent and CA pods stand for processes a bed supervisor already runs on the
    // node (agent-supervisor.ts, ca-supervisor.ts); running them here would start them twice.
    if (pod.metadata?.annotations?.[RUN_BY_ANNOTATION]) return;
    const existing = this.workers.get(uid);
    if (pod.metadata?.deletionTimestamp) {
      const grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_PERIOD_SECONDS;
      if (existing) {
        this.finish(existing, existing.terminate(grace, true));
      } else {
        // Marked for deletion before we ran it (or after a daemon restart): just finalize it.
        this.finalizeUnknownPod(pod);
      }
      return;
    }
    if (existing) return;
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') return; // finished before we saw it
    const worker = new PodWorker(pod, {
      core: this.core,
      prefix: this.options.prefix,
      node,
      helper: this.options.helpers.get(node.name)!,
      ipAllocator: this.allocators.get(node.name)!,
      podsDir: this.options.podsDir,
      podLogsDir: this.options.podLogsDir,
      volumesDir: this.options.volumesDir,
      apiRelayPort: this.options.apiRelayPort,
      onContainerProcess: this.options.onContainerProcess,
      log: this.options.log,
    });
    this.workers.set(uid, worker);
    this.options.log('starting pod', { pod: `${worker.namespace}/${worker.name}`, node: node.name, uid });
    worker.start().catch((err: unknown) => {
      // The worker stays registered (no retry loop on our own status writes); the pod stays
      // Pending with the reason in status.message until it is deleted, which cleans up as usual.
      this.options.log('pod start failed', { pod: `${worker.namespace}/${worker.name}`, err: String(err) });
      worker.reportStartFailure(err).catch((e: unknown) => this.options.log('reporting pod start failure failed', { pod: `${worker.namespace}/${worker.name}`, err: String(e) }));
    });
  }

  private onPodGone(pod: V1Pod): void {
    const uid = pod.metadata?.uid;
    const worker = uid ? this.workers.get(uid) : undefined;
    if (worker) this.finish(worker, worker.terminate(0, false));
  }

  private finish(worker: PodWorker, termination: Promise<void>): void {
    termination.then(
      () => this.workers.delete(worker.uid),
      (err: unknown) => this.options.log('pod termination failed', { pod: `${worker.namespace}/${worker.name}`, err: String(err) }),
    );
  }

  private finalizeUnknownPod(pod: V1Pod): void {
    const name = pod.metadata!.name!;
    const namespace = pod.metadata!.namespace ?? 'default';
    this.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0, body: { gracePeriodSeconds: 0 } }).catch((err: unknown) => {
      if (!isNotFound(err)) this.options.log('finalizing pod failed', { pod: `${namespace}/${name}`, err: String(err) });
    });
  }
}
