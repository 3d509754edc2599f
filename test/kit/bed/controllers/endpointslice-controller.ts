// The bed's stand-in for kube-controller-manager's EndpointSlice controller: for every Service
// with a selector it keeps EndpointSlices listing the matching pods, with the fields a mesh agent
// reads (addresses, ready/serving/terminating, nodeName, zone, targetRef, resolved ports).
//
// Shape: informers (Services, Pods, Nodes, our own EndpointSlices) feed a work queue keyed by
// Service; one reconcile per key at a time computes the desired slices from the caches and
// writes only the differences. Our own writes are tracked so their watch events cause no work
// and a reconcile never runs against a cache that does not yet show them.
import {
  ApiException,
  CoreV1Api,
  DiscoveryV1Api,
  type KubeConfig,
  type V1EndpointSlice,
  type V1Node,
  type V1Pod,
  type V1Service,
} from '@kubernetes/client-node';
import {
  controllerName,
  desiredEndpointSlices,
  managedByLabel,
  selectorMatches,
  serviceNameLabel,
  serviceWantsSlices,
  sliceMatches,
  slicePortKey,
  zoneLabel,
  type DesiredSlice,
} from './endpointslice-desired.js';
import { EndpointSliceWriteTracker } from './endpointslice-write-tracker.js';
import { KeyedWorkQueue } from './keyed-work-queue.js';
import { RestartingInformer } from '../../../../agent/src/k8s/restarting-informer.js';

export type ControllerLog = (msg: string, fields?: object) => void;

export interface EndpointSliceControllerOptions {
  /** Parallel reconciles (of different Services). */
  workers?: number;
  informerInitialBackoffMs?: number;
  informerMaxBackoffMs?: number;
}

/** The cache does not yet show one of our writes: retry shortly, this is not a failure. */
class StaleCacheError extends Error {}

export class EndpointSliceController {
  private readonly discoveryApi: DiscoveryV1Api;
  private readonly log: ControllerLog;
  private readonly services: RestartingInformer<V1Service>;
  private readonly pods: RestartingInformer<V1Pod>;
  private readonly nodes: RestartingInformer<V1Node>;
  private readonly slices: RestartingInformer<V1EndpointSlice>;
  private readonly queue: KeyedWorkQueue;
  private readonly tracker = new EndpointSliceWriteTracker();
  /** Keys whose reconcile waits for the cache to show our writes; their own events re-queue them. */
  private readonly waitingForCache = new Set<string>();
  /** Last zone seen per node, recorded from the first list on. */
  private readonly nodeZones = new Map<string, string | undefined>();
  /** Events are ignored until every cache is synced; start() then enqueues everything once. */
  private running = false;
  private started = false;

  constructor(kubeConfig: KubeConfig, log: ControllerLog, options: EndpointSliceControllerOptions = {}) {
    this.log = log;
    const coreApi = kubeConfig.makeApiClient(CoreV1Api);
    this.discoveryApi = kubeConfig.makeApiClient(DiscoveryV1Api);
    const informerOptions = {
      kubeConfig,
      log,
      initialBackoffMs: options.informerInitialBackoffMs,
      maxBackoffMs: options.informerMaxBackoffMs,
    };
    this.services = new RestartingInformer<V1Service>({
      ...informerOptions,
      name: 'services',
      path: '/api/v1/services',
      list: () => coreApi.listServiceForAllNamespaces(),
    });
    this.pods = new RestartingInformer<V1Pod>({
      ...informerOptions,
      name: 'pods',
      path: '/api/v1/pods',
      list: () => coreApi.listPodForAllNamespaces(),
    });
    this.nodes = new RestartingInformer<V1Node>({
      ...informerOptions,
      name: 'nodes',
      path: '/api/v1/nodes',
      list: () => coreApi.listNode(),
    });
    const managedSelector = `${managedByLabel}=${controllerName}`;
    this.slices = new RestartingInformer<V1EndpointSlice>({
      ...informerOptions,
      name: 'endpointslices',
      path: '/apis/discovery.k8s.io/v1/endpointslices',
      labelSelector: managedSelector,
      list: () => this.discoveryApi.listEndpointSliceForAllNamespaces({ labelSelector: managedSelector }),
    });
    this.queue = new KeyedWorkQueue((key) => this.reconcile(key), {
      workers: options.workers ?? 4,
      onError: (key, err, retryInMs) => {
        if (err instanceof StaleCacheError) return;
        this.log('endpointslice reconcile failed', { service: key, err: describeError(err), retryInMs });
      },
    });

    this.services.on('change', (service) => this.enqueue(service.metadata?.namespace, service.metadata?.name));
    this.pods.on('change', (pod) => this.onPodChange(pod));
    this.nodes.on('add', (node) => this.onNodeChange(node, false));
    this.nodes.on('update', (node) => this.onNodeChange(node, false));
    this.nodes.on('delete', (node) => this.onNodeChange(node, true));
    this.slices.on('add', (slice) => this.onSliceChange(slice, false));
    this.slices.on('update', (slice) => this.onSliceChange(slice, false));
    this.slices.on('delete', (slice) => this.onSliceChange(slice, true));
  }

  /** Resolves once the informers synced and every Service's slices were reconciled. */
  async start(): Promise<void> {
    if (this.started) throw new Error('EndpointSliceController was already started');
    this.started = true;
    await Promise.all([this.services.start(), this.pods.start(), this.nodes.start(), this.slices.start()]);
    this.running = true;
    for (const service of this.services.list()) {
      this.enqueue(service.metadata?.namespace, service.metadata?.name);
    }
    // Slices whose Service vanished while we were not watching.
    for (const slice of this.slices.list()) {
      this.enqueue(slice.metadata?.namespace, slice.metadata?.labels?.[serviceNameLabel]);
    }
    await this.queue.idle();
    this.log('endpointslice controller synced', { services: this.services.list().length });
  }

  async stop(): Promise<void> {
    this.running = false;
    this.queue.stop();
    await Promise.all([this.services.stop(), this.pods.stop(), this.nodes.stop(), this.slices.stop()]);
    await this.queue.idle();
  }

  private enqueue(namespace: string | undefined, name: string | undefined): void {
    if (!this.running || !namespace || !name) return;
    this.queue.add(`${namespace}/${name}`);
  }

  /**
   * The informer hands us only the new pod, so a label change that takes a pod out of a
   * Service is found through the slices that still list it.
   */
  private onPodChange(pod: V1Pod): void {
    const namespace = pod.metadata?.namespace;
    const podName = pod.metadata?.name;
    for (const service of this.services.list(namespace)) {
      if (selectorMatches(service.spec?.selector, pod.metadata?.labels)) {
        this.enqueue(namespace, service.metadata?.name);
      }
    }
    for (const slice of this.slices.list(namespace)) {
      if ((slice.endpoints ?? []).some((e) => e.targetRef?.name === podName)) {
        this.enqueue(namespace, slice.metadata?.labels?.[serviceNameLabel]);
      }
    }
  }

  /**
   * A node's zone label shows up in the endpoints of its pods. Nodes change often (status,
   * heartbeats), so only a changed zone causes work.
   */
  private onNodeChange(node: V1Node, deleted: boolean): void {
    const nodeName = node.metadata?.name;
    if (!nodeName) return;
    const zone = deleted ? undefined : node.metadata?.labels?.[zoneLabel];
    const known = this.nodeZones.has(nodeName);
    if (known && this.nodeZones.get(nodeName) === zone && !deleted) return;
    if (deleted) this.nodeZones.delete(nodeName);
    else this.nodeZones.set(nodeName, zone);
    for (const slice of this.slices.list()) {
      if ((slice.endpoints ?? []).some((e) => e.nodeName === nodeName)) {
        this.enqueue(slice.metadata?.namespace, slice.metadata?.labels?.[serviceNameLabel]);
      }
    }
    for (const pod of this.pods.list()) {
      if (pod.spec?.nodeName === nodeName) this.onPodChange(pod);
    }
  }

  /** Someone else changed or deleted one of our slices: put it back. Our own writes need nothing. */
  private onSliceChange(slice: V1EndpointSlice, deleted: boolean): void {
    const namespace = slice.metadata?.namespace;
    const serviceName = slice.metadata?.labels?.[serviceNameLabel];
    if (!namespace || !serviceName) return;
    const key = `${namespace}/${serviceName}`;
    if (this.tracker.consumeOwnEvent(key, slice, deleted) && !this.waitingForCache.has(key)) return;
    this.enqueue(namespace, serviceName);
  }

  private async reconcile(key: string): Promise<void> {
    const slash = key.indexOf('/');
    const namespace = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const owned = this.slices
      .list(namespace)
      .filter((slice) => slice.metadata?.labels?.[serviceNameLabel] === name);
    if (this.tracker.isStale(key, owned)) {
      this.waitingForCache.add(key);
      throw new StaleCacheError(`cache behind our writes for ${key}`);
    }
    this.waitingForCache.delete(key);

    const service = this.services.get(name, namespace);
    if (!service || !serviceWantsSlices(service)) {
      for (const slice of owned) await this.deleteSlice(key, slice, service ? 'no selector' : 'service gone');
      return;
    }

    const serviceUid = service.metadata?.uid;
    const reusable = new Map<string, V1EndpointSlice[]>();
    const obsolete: V1EndpointSlice[] = [];
    for (const slice of owned) {
      const ownedByThisService = (slice.metadata?.ownerReferences ?? []).some(
        (ref) => ref.controller === true && ref.kind === 'Service' && ref.uid === serviceUid,
      );
      if (!ownedByThisService) {
        obsolete.push(slice); // left by an earlier Service of the same name
        continue;
      }
      const portKey = slicePortKey(slice);
      reusable.set(portKey, [...(reusable.get(portKey) ?? []), slice]);
    }

    const desired = desiredEndpointSlices(service, this.pods.list(namespace), (node) => this.nodes.get(node));
    const toCreate: DesiredSlice[] = [];
    const toUpdate: { existing: V1EndpointSlice; want: DesiredSlice }[] = [];
    for (const want of desired) {
      const candidates = reusable.get(want.portKey) ?? [];
      const matchIndex = candidates.findIndex((slice) => sliceMatches(slice, want));
      if (matchIndex >= 0) {
        candidates.splice(matchIndex, 1);
        continue;
      }
      const existing = candidates.shift();
      if (existing) toUpdate.push({ existing, want });
      else toCreate.push(want);
    }
    // As the real reconciler's finalize(): a slice we would delete (e.g. the empty placeholder)
    // is rewritten instead of creating a new one, so there are fewer writes and never two
    // slices for one port set in between.
    const leftovers = [...reusable.values()].flat();
    while (toCreate.length > 0 && leftovers.length > 0) {
      toUpdate.push({ existing: leftovers.shift()!, want: toCreate.pop()! });
    }
    for (const want of toCreate) await this.createSlice(key, service, want);
    for (const { existing, want } of toUpdate) await this.updateSlice(key, existing, want);
    // Deletes go last, as in the real controller, so endpoints never vanish between writes.
    for (const slice of [...leftovers, ...obsolete]) await this.deleteSlice(key, slice, 'not needed');
  }

  private async createSlice(key: string, service: V1Service, want: DesiredSlice): Promise<void> {
    const namespace = service.metadata!.namespace!;
    const created = await this.discoveryApi.createNamespacedEndpointSlice({
      namespace,
      body: {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          generateName: `${service.metadata!.name}-`,
          namespace,
          labels: want.labels,
          ownerReferences: want.ownerReferences,
        },
        addressType: want.addressType,
        endpoints: want.endpoints,
        ports: want.ports,
      },
    });
    this.tracker.recordWrite(key, created);
    this.log('endpointslice created', {
      service: key,
      slice: created.metadata?.name,
      endpoints: want.endpoints.length,
    });
  }

  private async updateSlice(key: string, existing: V1EndpointSlice, want: DesiredSlice): Promise<void> {
    const meta = existing.metadata!;
    // Only fields we own plus the identity the server needs; resourceVersion makes a concurrent
    // change fail with 409, and the retry then works from the newer cache.
    const updated = await this.discoveryApi.replaceNamespacedEndpointSlice({
      name: meta.name!,
      namespace: meta.namespace!,
      body: {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: meta.name,
          namespace: meta.namespace,
          uid: meta.uid,
          resourceVersion: meta.resourceVersion,
          generateName: meta.generateName,
          annotations: meta.annotations,
          finalizers: meta.finalizers,
          labels: want.labels,
          ownerReferences: want.ownerReferences,
        },
        addressType: want.addressType,
        endpoints: want.endpoints,
        ports: want.ports,
      },
    });
    this.tracker.recordWrite(key, updated);
    this.log('endpointslice updated', { service: key, slice: meta.name, endpoints: want.endpoints.length });
  }

  private async deleteSlice(key: string, slice: V1EndpointSlice, reason: string): Promise<void> {
    const meta = slice.metadata!;
    try {
      await this.discoveryApi.deleteNamespacedEndpointSlice({ name: meta.name!, namespace: meta.namespace! });
    } catch (err) {
      // Already gone (someone else deleted it): the desired state holds.
      if (!(err instanceof ApiException && err.code === 404)) throw err;
    }
    if (meta.uid) this.tracker.recordDelete(key, meta.uid);
    this.log('endpointslice deleted', { service: key, slice: meta.name, reason });
  }
}

function describeError(err: unknown): string {
  if (err instanceof ApiException) {
    const body: unknown = err.body;
    const message =
      typeof body === 'string' ? body : body && typeof body === 'object' ? JSON.stringify(body) : '';
    return `HTTP ${err.code}: ${message.slice(0, 300)}`;
  }
  return err instanceof Error ? err.message : String(err);
}
