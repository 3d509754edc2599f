// Defaults the real API server fills in on create (see ../shared/k8s-golden/create-pod.json):
// Kubernetes' defaulting functions plus the admission plugins every cluster runs
// (DefaultTolerationSeconds, ServiceAccount, Priority).
import type { KubeObject } from './kube-object.js';
import { isPlainObject } from './kube-object.js';

type Obj = Record<string, any>;

function imagePullPolicyFor(image: unknown): string {
  if (typeof image !== 'string') return 'IfNotPresent';
  const lastSegment = image.split('/').pop() ?? '';
  if (image.includes('@')) return 'IfNotPresent';
  const tag = lastSegment.includes(':') ? lastSegment.split(':').pop() : undefined;
  return tag === undefined || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultContainer(c: Obj): void {
  if (!isPlainObject(c)) return;
  c.resources ??= {};
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  c.imagePullPolicy ??= imagePullPolicyFor(c.image);
  if (Array.isArray(c.ports)) for (const p of c.ports) if (isPlainObject(p)) p.protocol ??= 'TCP';
}

function qosClassOf(spec: Obj): string {
  const containers: Obj[] = [...(spec.containers ?? []), ...(spec.initContainers ?? [])].filter(isPlainObject);
  let anySet = false;
  let allGuaranteed = containers.length > 0;
  for (const c of containers) {
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    if (Object.keys(req).length > 0 || Object.keys(lim).length > 0) anySet = true;
    for (const r of ['cpu', 'memory']) {
      if (lim[r] === undefined || (req[r] !== undefined && req[r] !== lim[r])) allGuaranteed = false;
    }
  }
  if (!anySet) return 'BestEffort';
  return allGuaranteed ? 'Guaranteed' : 'Burstable';
}

function defaultPod(pod: Obj): void {
  const spec: Obj = isPlainObject(pod.spec) ? pod.spec : (pod.spec = {});
  for (const list of ['containers', 'initContainers']) if (Array.isArray(spec[list])) spec[list].forEach(defaultContainer);
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.serviceAccountName ??= spec.serviceAccount ?? 'default';
  spec.serviceAccount = spec.serviceAccountName;
  spec.securityContext ??= {};
  spec.schedulerName ??= 'default-scheduler';
  const tolerations: Obj[] = Array.isArray(spec.tolerations) ? spec.tolerations : [];
  for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
    if (!tolerations.some((t) => t?.key === key && t?.effect === 'NoExecute')) {
      tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 });
    }
  }
  spec.tolerations = tolerations;
  spec.priority ??= 0;
  spec.enableServiceLinks ??= true;
  spec.preemptionPolicy ??= 'PreemptLowerPriority';
  const status: Obj = isPlainObject(pod.status) ? pod.status : (pod.status = {});
  status.phase ??= 'Pending';
  status.qosClass = qosClassOf(spec);
}

function defaultService(svc: Obj): void {
  const spec: Obj = isPlainObject(svc.spec) ? svc.spec : (svc.spec = {});
  spec.type ??= 'ClusterIP';
  spec.sessionAffinity ??= 'None';
  if (Array.isArray(spec.ports)) {
    for (const p of spec.ports) {
      if (!isPlainObject(p)) continue;
      const port = p as Obj;
      port.protocol ??= 'TCP';
      port.targetPort ??= port.port;
    }
  }
  if (spec.type === 'ExternalName') {
    // ExternalName services get no IPs and no traffic policies.
    svc.status ??= { loadBalancer: {} };
    return;
  }
  if (spec.clusterIP !== 'None') {
    spec.ipFamilies ??= ['IPv4'];
    spec.ipFamilyPolicy ??= 'SingleStack';
  }
  spec.internalTrafficPolicy ??= 'Cluster';
  svc.status ??= { loadBalancer: {} };
}

function defaultNamespace(ns: Obj): void {
  ns.metadata.labels = { ...(ns.metadata.labels ?? {}), 'kubernetes.io/metadata.name': ns.metadata.name };
  const spec: Obj = isPlainObject(ns.spec) ? ns.spec : (ns.spec = {});
  spec.finalizers ??= ['kubernetes'];
  ns.status = { phase: 'Active' };
}

function defaultSecret(secret: Obj): void {
  secret.type ??= 'Opaque';
  // stringData is write-only: it is merged into data and never stored.
  if (isPlainObject(secret.stringData)) {
    const data: Obj = isPlainObject(secret.data) ? secret.data : {};
    for (const [k, v] of Object.entries(secret.stringData)) data[k] = Buffer.from(String(v)).toString('base64');
    secret.data = data;
  }
  delete secret.stringData;
}

function defaultEndpointSlice(slice: Obj): void {
  if (Array.isArray(slice.ports)) for (const p of slice.ports) if (isPlainObject(p)) (p as Obj).protocol ??= 'TCP';
  if (Array.isArray(slice.endpoints)) for (const e of slice.endpoints) if (isPlainObject(e)) (e as Obj).conditions ??= {};
}

function defaultCrd(crd: Obj): void {
  const spec: Obj = isPlainObject(crd.spec) ? crd.spec : (crd.spec = {});
  spec.conversion ??= { strategy: 'None' };
  if (isPlainObject(spec.names)) {
    const names = spec.names as Obj;
    if (typeof names.plural === 'string') names.singular ??= typeof names.kind === 'string' ? names.kind.toLowerCase() : names.plural;
    if (typeof names.kind === 'string') names.listKind ??= `${names.kind}List`;
  }
}

/** SetDefaults_PodSpec for a pod template (no admission runs on templates, so fewer than a Pod gets). */
function defaultPodTemplate(template: Obj): void {
  const meta: Obj = isPlainObject(template.metadata) ? template.metadata : (template.metadata = {});
  // Real servers print the template's zero creationTimestamp as null.
  if (!('creationTimestamp' in meta)) meta.creationTimestamp = null;
  const spec: Obj = isPlainObject(template.spec) ? template.spec : (template.spec = {});
  for (const list of ['containers', 'initContainers']) {
    if (!Array.isArray(spec[list])) continue;
    spec[list].forEach(defaultContainer);
    // With the host's network, a container port is a host port (defaultHostNetworkPorts).
    if (spec.hostNetwork === true) for (const c of spec[list]) for (const p of (isPlainObject(c) && Array.isArray(c.ports) ? c.ports : [])) if (isPlainObject(p) && !p.hostPort) (p as Obj).hostPort = (p as Obj).containerPort;
  }
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.securityContext ??= {};
  spec.schedulerName ??= 'default-scheduler';
}

function defaultDaemonSet(ds: Obj): void {
  const spec: Obj = isPlainObject(ds.spec) ? ds.spec : (ds.spec = {});
  const strategy: Obj = isPlainObject(spec.updateStrategy) ? spec.updateStrategy : (spec.updateStrategy = {});
  strategy.type ??= 'RollingUpdate';
  if (strategy.type === 'RollingUpdate') {
    const rolling: Obj = isPlainObject(strategy.rollingUpdate) ? strategy.rollingUpdate : (strategy.rollingUpdate = {});
    rolling.maxUnavailable ??= 1;
    rolling.maxSurge ??= 0;
  }
  spec.revisionHistoryLimit ??= 10;
  defaultPodTemplate(isPlainObject(spec.template) ? spec.template : (spec.template = {}));
}

function defaultDeployment(deploy: Obj): void {
  const spec: Obj = isPlainObject(deploy.spec) ? deploy.spec : (deploy.spec = {});
  spec.replicas ??= 1;
  const strategy: Obj = isPlainObject(spec.strategy) ? spec.strategy : (spec.strategy = {});
  strategy.type ??= 'RollingUpdate';
  if (strategy.type === 'RollingUpdate') {
    const rolling: Obj = isPlainObject(strategy.rollingUpdate) ? strategy.rollingUpdate : (strategy.rollingUpdate = {});
    rolling.maxUnavailable ??= '25%';
    rolling.maxSurge ??= '25%';
  }
  spec.revisionHistoryLimit ??= 10;
  spec.progressDeadlineSeconds ??= 600;
  defaultPodTemplate(isPlainObject(spec.template) ? spec.template : (spec.template = {}));
}

/** roleRef.apiGroup and User/Group subjects default to the RBAC group (SetDefaults_Subject). */
function defaultBinding(binding: Obj): void {
  // roleRef is a struct, not a pointer, in Go: it is always there to default.
  const roleRef: Obj = isPlainObject(binding.roleRef) ? binding.roleRef : (binding.roleRef = {});
  roleRef.apiGroup ||= 'rbac.authorization.k8s.io';
  if (!Array.isArray(binding.subjects)) return;
  for (const subject of binding.subjects) {
    if (!isPlainObject(subject) || (typeof subject.apiGroup === 'string' && subject.apiGroup !== '')) continue;
    if (subject.kind === 'User' || subject.kind === 'Group') subject.apiGroup = 'rbac.authorization.k8s.io';
  }
}

const byKind: Record<string, (obj: Obj) => void> = {
  Pod: defaultPod,
  Service: defaultService,
  Namespace: defaultNamespace,
  Secret: defaultSecret,
  EndpointSlice: defaultEndpointSlice,
  CustomResourceDefinition: defaultCrd,
  // Status is the controllers' to write: a create starts from the empty status (PrepareForCreate).
  DaemonSet: (ds) => { defaultDaemonSet(ds); ds.status = { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 }; },
  Deployment: (deploy) => { defaultDeployment(deploy); deploy.status = {}; },
  RoleBinding: defaultBinding,
  ClusterRoleBinding: defaultBinding,
};

/** Defaults a real server applies whenever it decodes the kind, updates included. */
const onEveryWrite: Record<string, (obj: Obj) => void> = {
  DaemonSet: defaultDaemonSet,
  Deployment: defaultDeployment,
  RoleBinding: defaultBinding,
  ClusterRoleBinding: defaultBinding,
};

/** Fills create-time defaults in place. */
export function applyCreateDefaults(kind: string, obj: KubeObject): void {
  byKind[kind]?.(obj as Obj);
}

/** Defaults re-applied on every update (fields clients may drop but the server keeps filled). */
export function applyUpdateDefaults(kind: string, obj: KubeObject): void {
  onEveryWrite[kind]?.(obj as Obj);
  if (kind === 'Secret') defaultSecret(obj as Obj);
  if (kind === 'EndpointSlice') defaultEndpointSlice(obj as Obj);
  if (kind === 'Service' && isPlainObject(obj.spec) && Array.isArray((obj.spec as Obj).ports)) {
    for (const p of (obj.spec as Obj).ports) if (isPlainObject(p)) { (p as Obj).protocol ??= 'TCP'; (p as Obj).targetPort ??= (p as Obj).port; }
  }
}
