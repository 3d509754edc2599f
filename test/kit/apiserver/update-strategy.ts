// How an update combines the stored object with what the client sent: server-owned metadata
// stays, subresources change only their part (status, finalize), and generation moves when the
// content that generation tracks changed.
import type { KubeObject } from './kube-object.js';
import { deepClone, isPlainObject, jsonEqual } from './kube-object.js';
import type { ResourceDescriptor } from './resource-registry.js';

export function mergeForUpdate(d: ResourceDescriptor, existing: KubeObject, incoming: KubeObject, subresource: string | undefined): KubeObject {
  const hasStatusSubresource = d.subresources.includes('status');
  if (subresource === 'status') {
    // Status writes change status only (metadata and spec stay), as real status strategies do.
    const next = deepClone(existing);
    if (incoming.status === undefined) delete next.status;
    else next.status = incoming.status;
    return next;
  }
  if (subresource === 'finalize') {
    const next = deepClone(existing);
    const spec = isPlainObject(incoming.spec) ? incoming.spec : {};
    next.spec = { ...((next.spec ?? {}) as object), finalizers: Array.isArray(spec.finalizers) ? spec.finalizers : [] };
    return next;
  }
  const next = incoming;
  const meta = next.metadata;
  const old = existing.metadata;
  meta.name = old.name;
  if (d.namespaced) meta.namespace = old.namespace;
  else delete meta.namespace;
  meta.uid = old.uid;
  meta.creationTimestamp = old.creationTimestamp;
  if (old.generation !== undefined) meta.generation = old.generation;
  else delete meta.generation;
  delete meta.managedFields;
  delete meta.selfLink;
  if (old.deletionTimestamp !== undefined) meta.deletionTimestamp = old.deletionTimestamp;
  else delete meta.deletionTimestamp;
  if (old.deletionGracePeriodSeconds !== undefined) meta.deletionGracePeriodSeconds = old.deletionGracePeriodSeconds;
  else delete meta.deletionGracePeriodSeconds;
  meta.resourceVersion = old.resourceVersion;
  if (hasStatusSubresource) {
    if (existing.status === undefined) delete next.status;
    else next.status = deepClone(existing.status);
  }
  if (d.kind === 'Namespace' && d.group === '') {
    // Namespace spec.finalizers change only through the finalize subresource.
    next.spec = deepClone(existing.spec);
  }
  if (d.kind === 'Secret' && next.type === undefined) next.type = existing.type;
  return next;
}

export function bumpGeneration(d: ResourceDescriptor, next: KubeObject, existing: KubeObject): void {
  if (d.generation === 'never' || existing.metadata.generation === undefined) return;
  let changed: boolean;
  if (d.generation === 'spec') {
    changed = !jsonEqual(next.spec, existing.spec);
  } else if (d.generation === 'spec-or-annotations') {
    changed = !jsonEqual(next.spec, existing.spec) || !jsonEqual(next.metadata.annotations ?? {}, existing.metadata.annotations ?? {});
  } else {
    const hasStatus = d.subresources.includes('status');
    const strip = (o: KubeObject): object => {
      const { metadata: _m, status, ...rest } = o;
      return hasStatus ? rest : { ...rest, status };
    };
    changed = !jsonEqual(strip(next), strip(existing));
  }
  next.metadata.generation = existing.metadata.generation + (changed ? 1 : 0);
}
