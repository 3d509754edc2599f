// The objects every cluster starts with: the system namespaces (each then gets its default
// ServiceAccount from the namespace lifecycle controller).
import type { ResourceRegistry } from './resource-registry.js';
import type { ResourceWriter } from './resource-writer.js';

export const systemNamespaces = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export function bootstrapObjects(registry: ResourceRegistry, writer: ResourceWriter): void {
  const namespaces = registry.find('', 'v1', 'namespaces')!;
  for (const name of systemNamespaces) {
    writer.create(namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  }
}
