// Pods are mostly immutable once created: a real server accepts spec changes only to container
// images, activeDeadlineSeconds, added tolerations and terminationGracePeriodSeconds. Anything
// else (nodeName included: binding is the scheduler's job) is refused with 422.
import type { KubeObject } from './kube-object.js';
import { jsonEqual } from './kube-object.js';
import type { FieldCause } from './schema-validation.js';

type Obj = Record<string, any>;

const forbiddenMessage = 'Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)';

/** The spec with the mutable fields replaced by the old values, for comparison. */
function masked(spec: Obj, old: Obj): Obj {
  const out: Obj = { ...spec };
  for (const list of ['containers', 'initContainers']) {
    if (Array.isArray(spec[list]) && Array.isArray(old[list]) && spec[list].length === old[list].length) {
      out[list] = spec[list].map((c: Obj, i: number) => ({ ...c, image: old[list][i]?.image }));
    }
  }
  out.activeDeadlineSeconds = old.activeDeadlineSeconds;
  out.terminationGracePeriodSeconds = old.terminationGracePeriodSeconds;
  const oldTolerations: unknown[] = Array.isArray(old.tolerations) ? old.tolerations : [];
  const newTolerations: unknown[] = Array.isArray(spec.tolerations) ? spec.tolerations : [];
  const keepsOld = oldTolerations.every((t) => newTolerations.some((n) => jsonEqual(n, t)));
  out.tolerations = keepsOld ? old.tolerations : spec.tolerations;
  return out;
}

export function validatePodUpdate(next: KubeObject, existing: KubeObject): FieldCause[] {
  const spec = (next.spec ?? {}) as Obj;
  const old = (existing.spec ?? {}) as Obj;
  if (jsonEqual(masked(spec, old), old)) return [];
  return [{ reason: 'FieldValueForbidden' as FieldCause['reason'], message: forbiddenMessage, field: 'spec' }];
}
