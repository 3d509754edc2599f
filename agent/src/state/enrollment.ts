// Who is in the mesh: a pod is enrolled when its namespace carries weft.io/mesh=enabled and the
// pod itself is not labelled weft.io/mesh=disabled, and it has not finished running.
import type { Namespace, Pod } from '../k8s/kube-types.js';

export const MESH_LABEL = 'weft.io/mesh';
export const MESH_ENABLED = 'enabled';
export const MESH_DISABLED = 'disabled';

/** Namespace label for strict mTLS: only mesh traffic reaches its enrolled pods. */
export const MTLS_LABEL = 'weft.io/mtls';
export const MTLS_STRICT = 'strict';

export function strictNamespaces(namespaces: readonly Namespace[]): Set<string> {
  const names = new Set<string>();
  for (const ns of namespaces) {
    if (ns.metadata?.labels?.[MTLS_LABEL] === MTLS_STRICT && ns.metadata.name) names.add(ns.metadata.name);
  }
  return names;
}

export function enrolledNamespaces(namespaces: readonly Namespace[]): Set<string> {
  const names = new Set<string>();
  for (const ns of namespaces) {
    if (ns.metadata?.labels?.[MESH_LABEL] === MESH_ENABLED && ns.metadata.name) names.add(ns.metadata.name);
  }
  return names;
}

export function isPodEnrolled(pod: Pod, enrolled: ReadonlySet<string>): boolean {
  if (!enrolled.has(pod.metadata?.namespace ?? '')) return false;
  if (pod.metadata?.labels?.[MESH_LABEL] === MESH_DISABLED) return false;
  const phase = pod.status?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed';
}
