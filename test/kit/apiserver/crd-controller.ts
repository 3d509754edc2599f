// What the apiextensions controllers do: serve a CRD's resources once it is created (marking it
// NamesAccepted and Established), and on deletion remove all its objects, then the CRD.
import type { ObjectStore, StoreEvent } from './store.js';
import type { ResourceRegistry } from './resource-registry.js';
import { storageKeyOf } from './resource-registry.js';
import type { ResourceWriter } from './resource-writer.js';
import type { KubeObject } from './kube-object.js';
import { deepClone, jsonEqual, kubeTimestamp } from './kube-object.js';
import { descriptorsForCrd } from './crd-spec.js';
import { ReconcileQueue } from './reconcile-queue.js';

const crdKey = storageKeyOf({ group: 'apiextensions.k8s.io', plural: 'customresourcedefinitions' });
const cleanupFinalizer = 'customresourcecleanup.apiextensions.k8s.io';

type Obj = Record<string, any>;

function condition(type: string, reason: string, message: string, previous: Obj[]): Obj {
  const old = previous.find((c) => c?.type === type && c?.status === 'True');
  return { type, status: 'True', lastTransitionTime: old?.lastTransitionTime ?? kubeTimestamp(), reason, message };
}

export class CrdController {
  private readonly queue: ReconcileQueue;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: ObjectStore,
    private readonly registry: ResourceRegistry,
    private readonly writer: ResourceWriter,
    log: (msg: string, fields?: object) => void,
  ) {
    this.queue = new ReconcileQueue((name) => this.reconcile(name), log);
    this.unsubscribe = store.subscribe((event) => this.onEvent(event));
  }

  stop(): void {
    this.unsubscribe();
    this.queue.stop();
  }

  private onEvent(event: StoreEvent): void {
    if (event.resource === crdKey) {
      const name = event.object.metadata.name!;
      if (event.type === 'DELETED') this.registry.removeCustom(name);
      // Served at once (no store write here), so the resources exist as soon as the CRD does.
      else if (!event.object.metadata.deletionTimestamp) this.registry.setCustom(name, descriptorsForCrd(event.object));
      this.queue.add(name);
      return;
    }
    if (event.type === 'DELETED') {
      // A custom resource went: a terminating CRD may now be empty.
      for (const crd of this.store.list(crdKey)) {
        if (crd.metadata.deletionTimestamp && storageKeyOf({ group: (crd.spec as Obj).group, plural: (crd.spec as Obj).names.plural }) === event.resource) {
          this.queue.add(crd.metadata.name!);
        }
      }
    }
  }

  private reconcile(name: string): void {
    const crd = this.store.get(crdKey, undefined, name);
    if (!crd) return;
    if (crd.metadata.deletionTimestamp) this.cleanUp(crd);
    else this.establish(crd);
  }

  private crdDescriptor() {
    return this.registry.find('apiextensions.k8s.io', 'v1', 'customresourcedefinitions')!;
  }

  private establish(crd: KubeObject): void {
    const spec = crd.spec as Obj;
    const status = (crd.status ?? {}) as Obj;
    const previous: Obj[] = Array.isArray(status.conditions) ? status.conditions : [];
    const names = spec.names as Obj;
    const storage = (spec.versions as Obj[]).find((v) => v.storage)?.name;
    const acceptedNames: Obj = { plural: names.plural, singular: names.singular, kind: names.kind, listKind: names.listKind };
    if (names.shortNames) acceptedNames.shortNames = names.shortNames;
    if (names.categories) acceptedNames.categories = names.categories;
    const stored: string[] = Array.isArray(status.storedVersions) ? status.storedVersions : [];
    const next = {
      conditions: [
        condition('NamesAccepted', 'NoConflicts', 'no conflicts found', previous),
        condition('Established', 'InitialNamesAccepted', 'the initial names have been accepted', previous),
      ],
      acceptedNames,
      storedVersions: storage && !stored.includes(storage) ? [...stored, storage] : stored,
    };
    if (jsonEqual(next, status)) return;
    const updated = deepClone(crd);
    updated.status = next;
    this.writer.update(this.crdDescriptor(), undefined, crd.metadata.name!, updated, { subresource: 'status' });
  }

  private cleanUp(crd: KubeObject): void {
    const name = crd.metadata.name!;
    const descriptors = this.registry.customOf(name);
    const spec = crd.spec as Obj;
    const key = storageKeyOf({ group: spec.group, plural: spec.names.plural });
    const d = descriptors[0];
    let remaining = 0;
    for (const obj of this.store.list(key)) {
      remaining++;
      if (d && !obj.metadata.deletionTimestamp) {
        this.writer.delete(d, obj.metadata.namespace, obj.metadata.name!, {});
        if (!this.store.get(key, obj.metadata.namespace, obj.metadata.name!)) remaining--;
      }
    }
    if (remaining > 0) return;
    // No objects left: stop serving, then let the CRD go by dropping the cleanup finalizer.
    this.registry.removeCustom(name);
    const updated = deepClone(crd);
    updated.metadata.finalizers = (crd.metadata.finalizers ?? []).filter((f) => f !== cleanupFinalizer);
    this.writer.update(this.crdDescriptor(), undefined, name, updated);
  }
}
