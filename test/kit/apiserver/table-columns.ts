// The columns `kubectl get` shows for each kind, computed server-side as real servers do
// (kubectl asks for a meta.k8s.io Table and prints its rows as given).
import type { KubeObject } from './kube-object.js';
import type { ResourceDescriptor } from './resource-registry.js';
import { ageOf } from './human-duration.js';

export interface ColumnDefinition {
  name: string;
  type: 'string' | 'integer' | 'date' | 'number' | 'boolean';
  format: string;
  description: string;
  /** 0 = always shown, 1 = only with -o wide. */
  priority: number;
}

type Cell = string | number | boolean;
interface Column extends ColumnDefinition {
  cell(obj: any): Cell;
}

const col = (name: string, cell: (obj: any) => Cell, options: Partial<ColumnDefinition> = {}): Column => ({
  name, type: 'string', format: '', description: name, priority: 0, ...options, cell,
});
const nameCol = col('Name', (o) => o.metadata?.name ?? '', { format: 'name', description: 'Name must be unique within a namespace.' });
const ageCol = col('Age', (o) => ageOf(o.metadata?.creationTimestamp), { description: 'CreationTimestamp is a timestamp representing the server time when this object was created.' });
const none = (v: unknown): string => (v === undefined || v === null || v === '' ? '<none>' : String(v));
const count = (v: unknown): number => (v && typeof v === 'object' ? Object.keys(v).length : 0);

function podStatus(pod: any): string {
  if (pod.metadata?.deletionTimestamp) return 'Terminating';
  return pod.status?.reason ?? pod.status?.phase ?? 'Unknown';
}

function podReady(pod: any): string {
  const total = (pod.spec?.containers ?? []).length;
  const ready = (pod.status?.containerStatuses ?? []).filter((c: any) => c?.ready).length;
  return `${ready}/${total}`;
}

function servicePorts(svc: any): string {
  const ports: any[] = svc.spec?.ports ?? [];
  if (ports.length === 0) return '<none>';
  return ports.map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`).join(',');
}

function nodeReady(node: any): string {
  const ready = (node.status?.conditions ?? []).find((c: any) => c?.type === 'Ready');
  const status = ready?.status === 'True' ? 'Ready' : ready ? 'NotReady' : 'Unknown';
  return node.spec?.unschedulable ? `${status},SchedulingDisabled` : status;
}

function nodeRoles(node: any): string {
  const roles = Object.keys(node.metadata?.labels ?? {}).filter((k) => k.startsWith('node-role.kubernetes.io/')).map((k) => k.slice('node-role.kubernetes.io/'.length));
  return roles.length > 0 ? roles.sort().join(',') : '<none>';
}

function nodeAddress(node: any, type: string): string {
  return none((node.status?.addresses ?? []).find((a: any) => a?.type === type)?.address);
}

function sliceEndpoints(slice: any): string {
  const addrs: string[] = (slice.endpoints ?? []).flatMap((e: any) => e?.addresses ?? []);
  if (addrs.length === 0) return '<unset>';
  return addrs.length > 3 ? `${addrs.slice(0, 3).join(',')} + ${addrs.length - 3} more...` : addrs.join(',');
}

function formatLabels(labels: unknown): string {
  const entries = Object.entries((labels && typeof labels === 'object' ? labels : {}) as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? '<none>' : entries.map(([k, v]) => `${k}=${String(v)}`).join(',');
}

/** metav1.FormatLabelSelector: "app=web,tier in (a,b)". */
function formatSelector(selector: any): string {
  if (!selector || typeof selector !== 'object') return '<none>';
  const parts = Object.entries(selector.matchLabels ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${String(v)}`);
  for (const r of selector.matchExpressions ?? []) {
    const op = String(r?.operator ?? '');
    const values = (r?.values ?? []).join(',');
    if (op === 'In') parts.push(`${r.key} in (${values})`);
    else if (op === 'NotIn') parts.push(`${r.key} notin (${values})`);
    else if (op === 'Exists') parts.push(String(r.key));
    else if (op === 'DoesNotExist') parts.push(`!${r.key}`);
  }
  return parts.length === 0 ? '<none>' : parts.join(',');
}

const templateContainers = (o: any): any[] => o.spec?.template?.spec?.containers ?? [];
const workloadWideColumns = [
  col('Containers', (o) => templateContainers(o).map((c) => c?.name ?? '').join(','), { priority: 1, description: 'Names of each container in the template.' }),
  col('Images', (o) => templateContainers(o).map((c) => c?.image ?? '').join(','), { priority: 1, description: 'Images referenced by each container in the template.' }),
  col('Selector', (o) => formatSelector(o.spec?.selector), { priority: 1, description: 'Label selector for pods.' }),
];

function subjectsOf(binding: any, kind: string): string {
  const subjects: any[] = Array.isArray(binding.subjects) ? binding.subjects : [];
  return subjects.filter((s) => s?.kind === kind).map((s) => (kind === 'ServiceAccount' ? `${s.namespace ?? ''}/${s.name ?? ''}` : String(s?.name ?? ''))).join(', ');
}

const bindingColumns: Column[] = [
  nameCol,
  col('Role', (b) => `${b.roleRef?.kind ?? ''}/${b.roleRef?.name ?? ''}`, { description: 'RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.' }),
  ageCol,
  col('Users', (b) => subjectsOf(b, 'User'), { priority: 1, description: 'Users in the roleBinding' }),
  col('Groups', (b) => subjectsOf(b, 'Group'), { priority: 1, description: 'Groups in the roleBinding' }),
  col('ServiceAccounts', (b) => subjectsOf(b, 'ServiceAccount'), { priority: 1, description: 'ServiceAccounts in the roleBinding' }),
];

const builtinColumns: Record<string, Column[]> = {
  DaemonSet: [
    nameCol,
    col('Desired', (d) => d.status?.desiredNumberScheduled ?? 0, { type: 'integer', description: 'The total number of nodes that should be running the daemon pod.' }),
    col('Current', (d) => d.status?.currentNumberScheduled ?? 0, { type: 'integer', description: 'The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.' }),
    col('Ready', (d) => d.status?.numberReady ?? 0, { type: 'integer', description: 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.' }),
    col('Up-to-date', (d) => d.status?.updatedNumberScheduled ?? 0, { type: 'integer', description: 'The total number of nodes that are running updated daemon pod' }),
    col('Available', (d) => d.status?.numberAvailable ?? 0, { type: 'integer', description: 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available.' }),
    col('Node Selector', (d) => formatLabels(d.spec?.template?.spec?.nodeSelector), { description: 'NodeSelector is a selector which must be true for the pod to fit on a node.' }),
    ageCol,
    ...workloadWideColumns,
  ],
  Deployment: [
    nameCol,
    col('Ready', (d) => `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 0}`, { description: 'Number of the pod with ready state' }),
    col('Up-to-date', (d) => d.status?.updatedReplicas ?? 0, { type: 'integer', description: 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.' }),
    col('Available', (d) => d.status?.availableReplicas ?? 0, { type: 'integer', description: 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.' }),
    ageCol,
    ...workloadWideColumns,
  ],
  RoleBinding: bindingColumns,
  ClusterRoleBinding: bindingColumns,
  Pod: [
    nameCol,
    col('Ready', podReady, { description: 'The aggregate readiness state of this pod for accepting traffic.' }),
    col('Status', podStatus, { description: 'The aggregate status of the containers in this pod.' }),
    col('Restarts', (p) => (p.status?.containerStatuses ?? []).reduce((n: number, c: any) => n + (c?.restartCount ?? 0), 0), { type: 'string', description: 'The number of times the containers in this pod have been restarted.' }),
    ageCol,
    col('IP', (p) => none(p.status?.podIP), { priority: 1, description: 'The IP address assigned to the pod' }),
    col('Node', (p) => none(p.spec?.nodeName), { priority: 1, description: 'The name of the node the pod is running on' }),
    col('Nominated Node', (p) => none(p.status?.nominatedNodeName), { priority: 1, description: 'The nominated node for the pod' }),
    col('Readiness Gates', (p) => none((p.spec?.readinessGates ?? []).map((g: any) => g.conditionType).join(',')), { priority: 1, description: 'Readiness gates' }),
  ],
  Service: [
    nameCol,
    col('Type', (s) => s.spec?.type ?? 'ClusterIP', { description: 'The type of the service.' }),
    col('Cluster-IP', (s) => none(s.spec?.clusterIP), { description: 'The cluster IP of the service.' }),
    col('External-IP', (s) => none((s.spec?.externalIPs ?? []).join(',') || s.spec?.externalName), { description: 'The external IPs of the service.' }),
    col('Port(s)', servicePorts, { description: 'The ports of the service.' }),
    ageCol,
    col('Selector', (s) => none(Object.entries(s.spec?.selector ?? {}).map(([k, v]) => `${k}=${v}`).join(',')), { priority: 1, description: 'The selector of the service.' }),
  ],
  Namespace: [nameCol, col('Status', (n) => n.status?.phase ?? 'Active', { description: 'The status of the namespace' }), ageCol],
  Node: [
    nameCol,
    col('Status', nodeReady, { description: 'The status of the node' }),
    col('Roles', nodeRoles, { description: 'The roles of the node' }),
    ageCol,
    col('Version', (n) => n.status?.nodeInfo?.kubeletVersion ?? '', { description: 'Kubelet Version reported by the node.' }),
    col('Internal-IP', (n) => nodeAddress(n, 'InternalIP'), { priority: 1, description: 'Internal IP of the node' }),
    col('External-IP', (n) => nodeAddress(n, 'ExternalIP'), { priority: 1, description: 'External IP of the node' }),
    col('OS-Image', (n) => none(n.status?.nodeInfo?.osImage), { priority: 1, description: 'OS image' }),
    col('Kernel-Version', (n) => none(n.status?.nodeInfo?.kernelVersion), { priority: 1, description: 'Kernel version' }),
    col('Container-Runtime', (n) => none(n.status?.nodeInfo?.containerRuntimeVersion), { priority: 1, description: 'Container runtime' }),
  ],
  ConfigMap: [nameCol, col('Data', (c) => count(c.data) + count(c.binaryData), { type: 'integer', description: 'Number of keys' }), ageCol],
  Secret: [nameCol, col('Type', (s) => s.type ?? 'Opaque', { description: 'The type of the secret' }), col('Data', (s) => count(s.data), { type: 'integer', description: 'Number of keys' }), ageCol],
  ServiceAccount: [nameCol, col('Secrets', (s) => (s.secrets ?? []).length, { type: 'integer', description: 'Number of secrets' }), ageCol],
  EndpointSlice: [
    nameCol,
    col('AddressType', (e) => e.addressType ?? '', { description: 'The IP protocol family' }),
    col('Ports', (e) => ((e.ports ?? []) as any[]).map((p) => String(p.port ?? '')).join(',') || '<unset>', { description: 'The ports' }),
    col('Endpoints', sliceEndpoints, { description: 'The endpoint addresses' }),
    ageCol,
  ],
  Lease: [nameCol, col('Holder', (l) => l.spec?.holderIdentity ?? '', { description: 'The holder of the lease' }), ageCol],
  Event: [
    col('Last Seen', (e) => ageOf(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp), { description: 'Time since last seen' }),
    col('Type', (e) => e.type ?? '', { description: 'Event type' }),
    col('Reason', (e) => e.reason ?? '', { description: 'Reason' }),
    col('Object', (e) => `${String(e.involvedObject?.kind ?? '').toLowerCase()}/${e.involvedObject?.name ?? ''}`, { description: 'Object' }),
    col('Message', (e) => e.message ?? '', { description: 'Message' }),
  ],
};

/**
 * Evaluates the JSONPaths CRD printer columns use: fields, indexes and equality filters
 * (".spec.size", ".status.items[0].name", '.status.conditions[?(@.type=="Ready")].status'). As
 * kube-apiserver does for a column, the first result is shown.
 */
function jsonPathValue(obj: any, path: string): unknown {
  let cur: unknown[] = [obj];
  const text = path.replace(/^\{/, '').replace(/\}$/, '');
  const steps = /\.([^.[\]]+)|\[(\d+)\]|\[\?\(@\.([A-Za-z0-9_]+)\s*==\s*(?:"([^"]*)"|'([^']*)')\)\]/gy;
  let step: RegExpExecArray | null;
  let consumed = 0;
  while ((step = steps.exec(text)) !== null) {
    consumed = steps.lastIndex;
    const [, field, index, filterKey, doubleQuoted, singleQuoted] = step;
    if (field !== undefined) cur = cur.map((c) => (c as any)?.[field]);
    else if (index !== undefined) cur = cur.map((c) => (Array.isArray(c) ? c[Number(index)] : undefined));
    else {
      const wanted = doubleQuoted ?? singleQuoted;
      cur = cur.flatMap((c) => (Array.isArray(c) ? c.filter((e) => (e as any)?.[filterKey!] === wanted) : []));
    }
  }
  if (consumed !== text.length) return undefined;
  return cur.find((v) => v !== undefined);
}

function customColumns(d: ResourceDescriptor): Column[] {
  const printer = d.custom?.printerColumns ?? [];
  const extra = printer.map((p) => col(p.name, (o) => {
    const v = jsonPathValue(o, p.jsonPath);
    if (p.type === 'date') return ageOf(v);
    if (v === undefined || v === null) return '';
    return typeof v === 'object' ? JSON.stringify(v) : (v as Cell);
  }, { type: p.type === 'date' ? 'date' : (p.type ?? 'string'), priority: p.priority ?? 0, description: p.description ?? '' }));
  return [nameCol, ...extra.filter((c) => c.name.toLowerCase() !== 'age'), ...(printer.some((p) => p.name.toLowerCase() === 'age') ? extra.filter((c) => c.name.toLowerCase() === 'age') : [ageCol])];
}

export function columnsFor(d: ResourceDescriptor): Column[] {
  if (d.custom) return customColumns(d);
  return builtinColumns[d.kind] ?? [nameCol, col('Created At', (o) => o.metadata?.creationTimestamp ?? '', { type: 'date', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.' })];
}

export function cellsFor(columns: Column[], obj: KubeObject): Cell[] {
  return columns.map((c) => c.cell(obj));
}

export function definitionsOf(columns: Column[]): ColumnDefinition[] {
  return columns.map(({ name, type, format, description, priority }) => ({ name, type, format, description, priority }));
}
