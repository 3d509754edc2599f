// What kube-controller-manager does for namespaces: a new namespace gets its `default`
// ServiceAccount and the `kube-root-ca.crt` ConfigMap with the API server's CA (the
// root-ca-cert-publisher; pods' API access volumes read it); a deleted (Terminating) namespace has all its objects deleted, and once it is
// empty its `kubernetes` finalizer is removed and the namespace itself goes.
import type { ObjectStore, StoreEvent } from './store.js';
import type { ResourceDescriptor, ResourceRegistry } from './resource-registry.js';
import { storageKeyOf } from './resource-registry.js';
import type { ResourceWriter } from './resource-writer.js';
import { ApiError } from './status-errors.js';
import { ReconcileQueue } from './reconcile-queue.js';
import type { KubeObject } from './kube-object.js';
import { ROOT_CA_CONFIG_MAP } from './service-account-admission.js';

const namespacesKey = storageKeyOf({ group: '', plural: 'namespaces' });

export class NamespaceLifecycle {
  private readonly queue: ReconcileQueue;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: ObjectStore,
    private readonly registry: ResourceRegistry,
    private readonly writer: ResourceWriter,
    log: (msg: string, fields?: object) => void,
    /** The API server's CA certificate, published to every namespace as `kube-root-ca.crt`. */
    private readonly rootCaPem?: string,
  ) {
    this.queue = new ReconcileQueue((ns) => this.reconcile(ns), log);
    this.unsubscribe = store.subscribe((event) => this.onEvent(event));
  }

  stop(): void {
    this.unsubscribe();
    this.queue.stop();
  }

  private onEvent(event: StoreEvent): void {
    if (event.resource === namespacesKey) {
      this.queue.add(event.object.metadata.name!);
      return;
    }
    const ns = event.object.metadata.namespace;
    if (event.type === 'DELETED' && ns !== undefined) {
      const namespace = this.store.get(namespacesKey, undefined, ns);
      if (namespace?.metadata.deletionTimestamp) this.queue.add(ns);
    }
  }

  private descriptor(group: string, plural: string): ResourceDescriptor {
    return this.registry.versionsOf(group, plural)[0]!;
  }

  /** One descriptor per stored namespaced resource (custom resources may have several versions). */
  private namespacedResources(): ResourceDescriptor[] {
    const seen = new Map<string, ResourceDescriptor>();
    for (const d of this.registry.all()) if (d.namespaced && !seen.has(storageKeyOf(d))) seen.set(storageKeyOf(d), d);
    return [...seen.values()];
  }

  private reconcile(name: string): void {
    const ns = this.store.get(namespacesKey, undefined, name);
    if (!ns) return;
    if (!ns.metadata.deletionTimestamp) {
      this.ensureDefaultServiceAccount(name);
      this.ensureRootCaConfigMap(name);
      return;
    }
    let remaining = 0;
    for (const d of this.namespacedResources()) {
      for (const obj of this.store.list(storageKeyOf(d), name)) {
        remaining++;
        if (obj.metadata.deletionTimestamp) continue; // already terminating (e.g. a pod its kubelet stops)
        this.writer.delete(d, name, obj.metadata.name!, {});
        if (!this.store.get(storageKeyOf(d), name, obj.metadata.name!)) remaining--;
      }
    }
    if (remaining > 0) return;
    const finalizers = ((ns.spec ?? {}) as { finalizers?: string[] }).finalizers ?? [];
    const nsDescriptor = this.descriptor('', 'namespaces');
    if (finalizers.includes('kubernetes')) {
      this.writer.update(nsDescriptor, undefined, name, {
        apiVersion: 'v1', kind: 'Namespace', metadata: { name }, spec: { finalizers: finalizers.filter((f) => f !== 'kubernetes') },
      }, { subresource: 'finalize' });
    }
    const current = this.store.get(namespacesKey, undefined, name)!;
    const left = ((current.spec ?? {}) as { finalizers?: string[] }).finalizers ?? [];
    if (left.length === 0 && (current.metadata.finalizers ?? []).length === 0) {
      this.store.delete(namespacesKey, undefined, name);
    }
  }

  private ensureDefaultServiceAccount(namespace: string): void {
    this.ensureObject(namespace, 'serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } });
  }

  private ensureRootCaConfigMap(namespace: string): void {
    if (this.rootCaPem === undefined) return;
    this.ensureObject(namespace, 'configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: ROOT_CA_CONFIG_MAP,
        annotations: { 'kubernetes.io/description': 'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.' },
      },
      data: { 'ca.crt': this.rootCaPem },
    });
  }

  private ensureObject(namespace: string, plural: string, object: KubeObject): void {
    const d = this.descriptor('', plural);
    if (this.store.get(storageKeyOf(d), namespace, object.metadata.name!)) return;
    try {
      this.writer.create(d, namespace, object);
    } catch (err) {
      // Lost a race with a client that created it, or the namespace began terminating: both fine.
      if (!(err instanceof ApiError) || (err.code !== 409 && err.code !== 403 && err.code !== 404)) throw err;
    }
  }
}
