// The RBAC objects a real kube-apiserver creates at start (its rbac/bootstrap-roles post-start
// hook), limited to the ones that matter here: cluster-admin for system:masters, discovery and
// health for every authenticated user, self-reviews, and a `view` role for read-only access to
// the resources this server serves (real `view` is aggregated from more roles; this is flat).
import type { KubeObject } from './kube-object.js';
import { rbacGroup } from './rbac-validation.js';
import type { PolicyRule } from './rbac-rules.js';

const bootstrapMeta = (name: string): KubeObject['metadata'] => ({
  name,
  labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' },
  annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' },
});

function clusterRole(name: string, rules: PolicyRule[]): KubeObject {
  return { apiVersion: `${rbacGroup}/v1`, kind: 'ClusterRole', metadata: bootstrapMeta(name), rules } as KubeObject;
}

function groupBinding(name: string, groups: string[]): KubeObject {
  return {
    apiVersion: `${rbacGroup}/v1`,
    kind: 'ClusterRoleBinding',
    metadata: bootstrapMeta(name),
    roleRef: { apiGroup: rbacGroup, kind: 'ClusterRole', name },
    subjects: groups.map((group) => ({ apiGroup: rbacGroup, kind: 'Group', name: group })),
  } as KubeObject;
}

const read = ['get', 'list', 'watch'];

export const bootstrapClusterRoles: KubeObject[] = [
  clusterRole('cluster-admin', [
    { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
    { nonResourceURLs: ['*'], verbs: ['*'] },
  ]),
  clusterRole('system:discovery', [{
    nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'],
    verbs: ['get'],
  }]),
  clusterRole('system:basic-user', [{ apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'], verbs: ['create'] }]),
  clusterRole('system:public-info-viewer', [{ nonResourceURLs: ['/healthz', '/livez', '/readyz', '/version', '/version/'], verbs: ['get'] }]),
  clusterRole('view', [
    { apiGroups: [''], resources: ['configmaps', 'endpoints', 'events', 'namespaces', 'namespaces/status', 'pods', 'pods/log', 'pods/status', 'serviceaccounts', 'services', 'services/status'], verbs: read },
    { apiGroups: ['apps'], resources: ['daemonsets', 'daemonsets/status', 'deployments', 'deployments/status'], verbs: read },
    { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: read },
  ]),
];

export const bootstrapClusterRoleBindings: KubeObject[] = [
  groupBinding('cluster-admin', ['system:masters']),
  groupBinding('system:discovery', ['system:authenticated']),
  groupBinding('system:basic-user', ['system:authenticated']),
  groupBinding('system:public-info-viewer', ['system:authenticated', 'system:unauthenticated']),
];
