// A simplified server-side apply (PATCH application/apply-patch+yaml, `kubectl apply
// --server-side`): creates the object when missing, otherwise merges the applied configuration
// into it (strategic merge for built-ins, merge patch for custom resources) and removes the
// fields this field manager applied last time but no longer does. Unlike the real thing there is
// no managedFields bookkeeping and no conflict detection between managers (as if --force-conflicts).
import type { KubeObject } from './kube-object.js';
import { deepClone, isPlainObject } from './kube-object.js';
import { applyJsonMergePatch, applyStrategicMergePatch, supportsStrategicMerge } from './patch.js';
import type { ResourceDescriptor } from './resource-registry.js';

/** Server-owned metadata that an applied configuration never controls. */
const ignoredMeta = ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'managedFields', 'selfLink'];

export function appliedConfiguration(obj: KubeObject): KubeObject {
  const out = deepClone(obj);
  for (const field of ignoredMeta) delete out.metadata[field];
  return out;
}

/** Removes from `target` the object keys that `previous` set and `current` no longer sets. */
function removeDropped(target: unknown, previous: unknown, current: unknown): void {
  if (!isPlainObject(target) || !isPlainObject(previous)) return;
  for (const key of Object.keys(previous)) {
    const cur = isPlainObject(current) ? current[key] : undefined;
    if (cur === undefined) delete target[key];
    else if (isPlainObject(previous[key]) && isPlainObject(cur)) removeDropped(target[key], previous[key], cur);
  }
}

export function mergeApplied(d: ResourceDescriptor, live: KubeObject, applied: KubeObject, previous: KubeObject | undefined): KubeObject {
  const merged = (!d.custom && supportsStrategicMerge(d.kind)
    ? applyStrategicMergePatch(live, applied, d.kind)
    : applyJsonMergePatch(live, applied)) as KubeObject;
  if (previous) removeDropped(merged, previous, applied);
  merged.metadata = { ...merged.metadata, name: live.metadata.name, namespace: live.metadata.namespace, resourceVersion: live.metadata.resourceVersion };
  return merged;
}

/** What each field manager applied last, per object uid (kept in memory, bounded). */
export class AppliedConfigurations {
  private readonly byKey = new Map<string, KubeObject>();

  constructor(private readonly limit = 10_000) {}

  get(uid: string, manager: string): KubeObject | undefined {
    return this.byKey.get(`${uid}/${manager}`);
  }

  set(uid: string, manager: string, applied: KubeObject): void {
    if (this.byKey.size >= this.limit) this.byKey.delete(this.byKey.keys().next().value!);
    this.byKey.set(`${uid}/${manager}`, applied);
  }
}
