// The objects every cluster starts with: the system namespaces (each then gets its default
// ServiceAccount from the namespace lifecycle controller) and the bootstrap RBAC policy.
import type { ResourceRegistry } from './resource-registry.js';
import type { ResourceWriter } from './resource-writer.js';
import { bootstrapClusterRoleBindings, bootstrapClusterRoles } from './rbac-bootstrap-policy.js';

export const systemNamespaces = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export function bootstrapObjects(registry: ResourceRegistry, writer: ResourceWriter): void {
  const namespaces = registry.find('', 'v1', 'namespaces')!;
  for (const name of systemNamespaces) {
    writer.create(namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  }
  const clusterRoles = registry.find('rbac.authorization.k8s.io', 'v1', 'clusterroles')!;
  for (const role of bootstrapClusterRoles) writer.create(clusterRoles, undefined, role);
  const clusterRoleBindings = registry.find('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings')!;
  for (const binding of bootstrapClusterRoleBindings) writer.create(clusterRoleBindings, undefined, binding);
}
