// The Helm chart (charts/weft) rendered by the real helm: lint, schemas, the contract with the bed
// and the agent (/work/notes/chart-contract.md), least-privilege RBAC, refusal of bad values, and
// alerts and dashboards that only name metrics the agent exports.
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, parseDocument, type YAMLMap } from 'yaml';
import { repoRoot } from '../support/repo-root.js';
import { chartDir, findObject, renderChart, runHelm, templateArgs, type KubeObject } from './helm-render.js';
import { validateWithKubernetesModels } from './kube-models.js';
import { unknownFields } from './openapi-fields.js';
import { podTemplateViolations } from './pod-security-rules.js';
import { exportedMetrics, exportedSeriesNames } from './exported-metrics.js';
import { promqlGroupingLabels, promqlMetricNames } from './promql-metric-names.js';
import { MetricReferenceChecker } from './metric-references.js';

const NAMESPACE = 'weft-system';
const WRITE_VERBS = ['create', 'update', 'patch', 'delete', 'deletecollection', 'escalate', 'bind', 'impersonate', '*'];

interface Scenario {
  title: string;
  namespace: string;
  valueFiles?: string[];
}

const SCENARIOS: Scenario[] = [
  { title: 'default values', namespace: NAMESPACE },
  { title: 'monitoring all on', namespace: NAMESPACE, valueFiles: ['monitoring-on.yaml'] },
  { title: 'custom image, tag, resources, logLevel, certTtl 60s', namespace: NAMESPACE, valueFiles: ['custom.yaml'] },
  { title: 'another namespace, everything on', namespace: 'mesh-prod', valueFiles: ['monitoring-on.yaml', 'custom.yaml'] },
];

const rendered = new Map<string, KubeObject[]>();
function objectsOf(title: string): KubeObject[] {
  const objects = rendered.get(title);
  assert.ok(objects, `scenario "${title}" was not rendered`);
  return objects;
}

function container(podOwner: any, name: string): any {
  const found = podOwner.spec.template.spec.containers.find((c: { name: string }) => c.name === name);
  assert.ok(found, `no container ${name}`);
  return found;
}

function envMap(c: any): Map<string, any> {
  return new Map((c.env ?? []).map((e: { name: string }) => [e.name, e]));
}

/** Rules as comparable strings, one per (apiGroup, resource, resourceNames, verbs). */
function ruleSet(rules: any[]): string[] {
  const lines: string[] = [];
  for (const rule of rules) {
    for (const group of rule.apiGroups) {
      for (const resource of rule.resources) {
        const names = rule.resourceNames ? ` names=${[...rule.resourceNames].sort().join(',')}` : '';
        lines.push(`${group || 'core'}/${resource}${names}: ${[...rule.verbs].sort().join(',')}`);
      }
    }
  }
  return lines.sort();
}

before(async () => {
  await Promise.all(
    SCENARIOS.map(async (scenario) => {
      rendered.set(scenario.title, await renderChart({ namespace: scenario.namespace, valueFiles: scenario.valueFiles }));
    }),
  );
});

describe('helm lint', () => {
  test('passes --strict with default values and with every option on', async () => {
    for (const extra of [[], ['--values', join(repoRoot, 'test/chart/values/monitoring-on.yaml'), '--values', join(repoRoot, 'test/chart/values/custom.yaml')]]) {
      const result = await runHelm(['lint', '--strict', chartDir, '--namespace', NAMESPACE, ...extra]);
      assert.equal(result.exitCode, 0, `helm lint --strict ${extra.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
      assert.match(result.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });
});

describe('every rendered object is valid Kubernetes', () => {
  for (const scenario of SCENARIOS) {
    test(`${scenario.title}: kubernetes-models schemas, kube-apiserver 1.26 fields and pod rules`, async () => {
      const objects = objectsOf(scenario.title);
      assert.ok(objects.length >= 13, `only ${objects.length} objects rendered`);
      for (const object of objects) {
        await validateWithKubernetesModels(object);
        assert.deepEqual(unknownFields(object), [], `${object.kind}/${object.metadata.name} has fields kube-apiserver 1.26 does not know`);
        const template = (object as any).spec?.template?.spec;
        if (template) assert.deepEqual(podTemplateViolations(template, `${object.kind}/${object.metadata.name}`), []);
      }
    });

    test(`${scenario.title}: names unique, namespaced objects in the release namespace, standard labels`, () => {
      const objects = objectsOf(scenario.title);
      const clusterScoped = new Set(['ClusterRole', 'ClusterRoleBinding']);
      const keys = objects.map((o) => `${o.kind}/${o.metadata.name}`);
      assert.equal(new Set(keys).size, keys.length, `duplicate objects: ${keys.join(', ')}`);
      for (const object of objects) {
        const where = `${object.kind}/${object.metadata.name}`;
        if (clusterScoped.has(object.kind)) assert.equal(object.metadata.namespace, undefined, where);
        else assert.equal(object.metadata.namespace, scenario.namespace, where);
        const labels = object.metadata.labels ?? {};
        assert.equal(labels['app.kubernetes.io/name'], 'weft', where);
        assert.equal(labels['app.kubernetes.io/instance'], 'weft', where);
        assert.equal(labels['app.kubernetes.io/version'], '0.1.0', where);
        assert.equal(labels['app.kubernetes.io/managed-by'], 'Helm', where);
        assert.equal(labels['app.kubernetes.io/part-of'], 'weft', where);
        assert.equal(labels['helm.sh/chart'], 'weft-0.1.0', where);
      }
    });
  }

  test('the unknown-field check catches a misspelt field (so a pass above means something)', () => {
    const daemonSet = structuredClone(findObject<any>(objectsOf('default values'), 'DaemonSet', 'weft-agent'));
    daemonSet.spec.template.spec.containers[0].volumeMounts[0].mountPropagaton = 'HostToContainer';
    assert.deepEqual(unknownFields(daemonSet), ['DaemonSet.spec.template.spec.containers[0].volumeMounts[0].mountPropagaton']);
  });

  test('kube-apiserver would refuse Bidirectional propagation on the unprivileged agent (why the chart uses HostToContainer)', () => {
    const daemonSet = structuredClone(findObject<any>(objectsOf('default values'), 'DaemonSet', 'weft-agent'));
    const mounts = daemonSet.spec.template.spec.containers[0].volumeMounts;
    mounts.find((m: { name: string }) => m.name === 'bpffs').mountPropagation = 'Bidirectional';
    assert.deepEqual(podTemplateViolations(daemonSet.spec.template.spec, 'ds'), [
      'ds.containers[agent].volumeMounts[bpffs].mountPropagation: Bidirectional mount propagation is available only to privileged containers',
    ]);
  });
});

describe('default rendering (the contract)', () => {
  test('renders exactly the contract objects and nothing optional', () => {
    const keys = objectsOf('default values').map((o) => `${o.kind}/${o.metadata.name}`).sort();
    assert.deepEqual(keys, [
      'ClusterRole/weft-agent',
      'ClusterRole/weft-ca',
      'ClusterRole/weft-controller',
      'ClusterRoleBinding/weft-agent',
      'ClusterRoleBinding/weft-ca',
      'ClusterRoleBinding/weft-controller',
      'DaemonSet/weft-agent',
      'Deployment/weft-ca',
      'Deployment/weft-controller',
      'Role/weft-agent',
      'Role/weft-ca',
      'Role/weft-controller',
      'RoleBinding/weft-agent',
      'RoleBinding/weft-ca',
      'RoleBinding/weft-controller',
      'Service/weft-ca',
      'ServiceAccount/weft-agent',
      'ServiceAccount/weft-ca',
      'ServiceAccount/weft-controller',
    ]);
  });

  test('agent DaemonSet: host network, node-critical, every taint, surging one node at a time', () => {
    const ds = findObject<any>(objectsOf('default values'), 'DaemonSet', 'weft-agent');
    const pod = ds.spec.template.spec;
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
    assert.equal(pod.priorityClassName, 'system-node-critical');
    assert.deepEqual(pod.tolerations, [{ operator: 'Exists' }]);
    assert.equal(pod.serviceAccountName, 'weft-agent');
    assert.equal(pod.terminationGracePeriodSeconds, 30);
    assert.deepEqual(ds.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }, 'the new agent starts beside the old one');
    for (const [key, value] of Object.entries(ds.spec.selector.matchLabels)) {
      assert.equal(ds.spec.template.metadata.labels[key], value, `pod template lacks selector label ${key}`);
    }
    assert.equal(pod.initContainers, undefined, 'no init container by default');
  });

  test('agent container: command, args, the contract env, ports, probes on 15020, resources', () => {
    const ds = findObject<any>(objectsOf('default values'), 'DaemonSet', 'weft-agent');
    const agent = container(ds, 'agent');
    assert.equal(agent.image, 'ghcr.io/weft-mesh/weft:0.1.0');
    assert.equal(agent.imagePullPolicy, 'IfNotPresent');
    assert.deepEqual(agent.command, ['weft']);
    assert.deepEqual(agent.args, ['agent']);
    const env = envMap(agent);
    assert.deepEqual([...env.keys()].sort(), [
      'WEFT_BPFFS_DIR', 'WEFT_CA_ADDRESS', 'WEFT_CA_NAMESPACE', 'WEFT_CA_TOKEN_FILE', 'WEFT_CERT_TTL', 'WEFT_CGROUP_ROOT',
      'WEFT_DRAIN_TIMEOUT', 'WEFT_LOG_LEVEL', 'WEFT_NODE_IP', 'WEFT_NODE_NAME', 'WEFT_POD_NAME', 'WEFT_POD_NAMESPACE', 'WEFT_PROXY_WORKERS',
      'WEFT_TRUST_DOMAIN',
    ]);
    const fieldRef = (name: string) => env.get(name).valueFrom.fieldRef.fieldPath;
    assert.equal(fieldRef('WEFT_NODE_NAME'), 'spec.nodeName');
    assert.equal(fieldRef('WEFT_NODE_IP'), 'status.hostIP');
    assert.equal(fieldRef('WEFT_POD_NAME'), 'metadata.name');
    assert.equal(fieldRef('WEFT_POD_NAMESPACE'), 'metadata.namespace');
    const value = (name: string) => env.get(name).value;
    assert.equal(value('WEFT_CA_ADDRESS'), 'weft-ca.weft-system.svc:15012');
    assert.equal(value('WEFT_CA_TOKEN_FILE'), '/var/run/secrets/weft/ca-token/token');
    assert.equal(value('WEFT_CA_NAMESPACE'), 'weft-system');
    assert.equal(value('WEFT_TRUST_DOMAIN'), 'cluster.local');
    assert.equal(value('WEFT_CERT_TTL'), '24h');
    assert.equal(value('WEFT_PROXY_WORKERS'), 'auto', 'one proxy worker per CPU the agent may use, unless set');
    assert.equal(value('WEFT_CGROUP_ROOT'), '/sys/fs/cgroup');
    assert.equal(value('WEFT_BPFFS_DIR'), '/sys/fs/bpf/weft');
    assert.equal(value('WEFT_LOG_LEVEL'), 'info');
    assert.equal(value('WEFT_DRAIN_TIMEOUT'), '20s');
    assert.ok(Number(value('WEFT_DRAIN_TIMEOUT').slice(0, -1)) < ds.spec.template.spec.terminationGracePeriodSeconds, 'the drain ends before the kubelet kills');
    // Host-network ports would be host ports, and two pods with one host port never share a node.
    assert.equal(agent.ports, undefined, 'no declared ports: the surge agent must fit beside the old one');
    assert.deepEqual(agent.readinessProbe.httpGet, { path: '/readyz', port: 15020 });
    assert.deepEqual(agent.livenessProbe.httpGet, { path: '/healthz', port: 15020 });
    assert.ok(agent.livenessProbe.failureThreshold * agent.livenessProbe.periodSeconds >= 60, 'liveness tolerates at least a minute of silence');
    assert.ok(agent.livenessProbe.failureThreshold > agent.readinessProbe.failureThreshold);
    assert.ok(agent.resources.requests.cpu && agent.resources.requests.memory && agent.resources.limits.cpu && agent.resources.limits.memory);
  });

  test('agent security: not privileged, drop ALL, only BPF and NET_ADMIN added, root', () => {
    const agent = container(findObject<any>(objectsOf('default values'), 'DaemonSet', 'weft-agent'), 'agent');
    const security = agent.securityContext;
    assert.equal(security.privileged, false);
    assert.equal(security.runAsUser, 0);
    assert.deepEqual(security.capabilities.drop, ['ALL']);
    assert.deepEqual([...security.capabilities.add].sort(), ['BPF', 'NET_ADMIN']);
    assert.equal(security.readOnlyRootFilesystem, true);
  });

  test('agent mounts: bpffs (HostToContainer), cgroup read-only, the CA token projected for weft-ca', () => {
    const ds = findObject<any>(objectsOf('default values'), 'DaemonSet', 'weft-agent');
    const volumes = new Map<string, any>(ds.spec.template.spec.volumes.map((v: any) => [v.name, v]));
    const mounts = new Map<string, any>(container(ds, 'agent').volumeMounts.map((m: any) => [m.name, m]));
    assert.deepEqual([...mounts.keys()].sort(), ['bpffs', 'ca-token', 'cgroup']);
    assert.deepEqual(volumes.get('bpffs').hostPath, { path: '/sys/fs/bpf', type: 'DirectoryOrCreate' });
    assert.equal(mounts.get('bpffs').mountPath, '/sys/fs/bpf');
    assert.equal(mounts.get('bpffs').mountPropagation, 'HostToContainer');
    assert.equal(mounts.get('bpffs').readOnly, undefined, 'the agent pins into bpffs');
    assert.equal(volumes.get('cgroup').hostPath.path, '/sys/fs/cgroup');
    assert.deepEqual({ path: mounts.get('cgroup').mountPath, readOnly: mounts.get('cgroup').readOnly }, { path: '/sys/fs/cgroup', readOnly: true });
    assert.deepEqual(volumes.get('ca-token').projected.sources, [
      { serviceAccountToken: { audience: 'weft-ca', expirationSeconds: 3600, path: 'token' } },
    ]);
    assert.equal(mounts.get('ca-token').mountPath, '/var/run/secrets/weft/ca-token');
  });

  test('CA Deployment and Service: one replica, the contract args, port 15012 grpc, not on the host network', () => {
    const objects = objectsOf('default values');
    const deployment = findObject<any>(objects, 'Deployment', 'weft-ca');
    assert.equal(deployment.spec.replicas, 1);
    const pod = deployment.spec.template.spec;
    assert.notEqual(pod.hostNetwork, true);
    assert.equal(pod.serviceAccountName, 'weft-ca');
    const ca = container(deployment, 'ca');
    assert.equal(ca.image, 'ghcr.io/weft-mesh/weft:0.1.0');
    assert.deepEqual(ca.command, ['weft']);
    assert.deepEqual(ca.args, [
      'ca', '--service-name', 'weft-ca', '--trust-domain', 'cluster.local', '--default-ttl', '24h', '--max-ttl', '24h',
      '--agent-service-account', 'system:serviceaccount:weft-system:weft-agent',
    ]);
    assert.equal(envMap(ca).get('WEFT_CA_NAMESPACE').value, 'weft-system');
    assert.deepEqual(ca.ports, [{ name: 'grpc', containerPort: 15012, protocol: 'TCP' }]);
    assert.deepEqual(ca.readinessProbe.tcpSocket, { port: 15012 });
    assert.deepEqual(ca.securityContext.capabilities, { drop: ['ALL'] });
    assert.equal(ca.securityContext.allowPrivilegeEscalation, false);

    const service = findObject<any>(objects, 'Service', 'weft-ca');
    assert.equal(service.spec.type, 'ClusterIP');
    assert.deepEqual(service.spec.ports.map((p: any) => [p.name, p.port, p.targetPort]), [['grpc', 15012, 15012]]);
    for (const [key, value] of Object.entries(service.spec.selector)) {
      assert.equal(deployment.spec.template.metadata.labels[key], value, `the CA pod lacks the Service selector label ${key}`);
    }
    const agentPodLabels = findObject<any>(objects, 'DaemonSet', 'weft-agent').spec.template.metadata.labels;
    assert.ok(Object.entries(service.spec.selector).some(([k, v]) => agentPodLabels[k] !== v), 'the CA Service must not select agent pods');
  });
});

describe('RBAC: least privilege', () => {
  test('the agent ClusterRole grants exactly reads of the mesh inputs', () => {
    const role = findObject<any>(objectsOf('default values'), 'ClusterRole', 'weft-agent');
    assert.deepEqual(ruleSet(role.rules), [
      'core/namespaces: get,list,watch',
      'core/nodes: get,list,watch',
      'core/pods: get,list,watch',
      'core/services: get,list,watch',
      'discovery.k8s.io/endpointslices: get,list,watch',
      'gateway.networking.k8s.io/gateways: get,list,watch',
      'gateway.networking.k8s.io/httproutes: get,list,watch',
      'weft.io/authorizationpolicies: get,list,watch',
      'weft.io/clusterauthorizationpolicies: get,list,watch',
    ]);
  });

  test('the agent Role reads only the trust bundle and its own DaemonSet', () => {
    const role = findObject<any>(objectsOf('default values'), 'Role', 'weft-agent');
    assert.deepEqual(ruleSet(role.rules), [
      'apps/daemonsets names=weft-agent: get,list,watch',
      'core/configmaps names=weft-trust-bundle: get,list,watch',
    ]);
  });

  test('the agent has no write verb anywhere', () => {
    const objects = objectsOf('default values');
    for (const role of [findObject<any>(objects, 'ClusterRole', 'weft-agent'), findObject<any>(objects, 'Role', 'weft-agent')]) {
      for (const rule of role.rules) {
        const writes = rule.verbs.filter((verb: string) => WRITE_VERBS.includes(verb));
        assert.deepEqual(writes, [], `${role.kind}/weft-agent grants ${writes.join(',')} on ${rule.resources.join(',')}`);
        assert.ok(!rule.resources.includes('*') && !rule.apiGroups.includes('*'), 'no wildcards');
        assert.ok(!rule.resources.includes('secrets'), 'the agent never reads Secrets');
      }
    }
  });

  test('the controller: reads policies and Services, writes only the policies\' status, keeps only its own Lease', () => {
    const objects = objectsOf('default values');
    assert.deepEqual(ruleSet(findObject<any>(objects, 'ClusterRole', 'weft-controller').rules), [
      'core/services: get,list,watch',
      'weft.io/authorizationpolicies/status: update',
      'weft.io/authorizationpolicies: get,list,watch',
      'weft.io/clusterauthorizationpolicies/status: update',
      'weft.io/clusterauthorizationpolicies: get,list,watch',
    ]);
    assert.deepEqual(ruleSet(findObject<any>(objects, 'Role', 'weft-controller').rules), [
      'coordination.k8s.io/leases names=weft-controller: get,update',
      'coordination.k8s.io/leases: create',
    ]);
    const deployment = findObject<any>(objects, 'Deployment', 'weft-controller');
    assert.equal(deployment.spec.template.spec.serviceAccountName, 'weft-controller');
    assert.deepEqual(deployment.spec.template.spec.containers[0].args, ['controller']);
    assert.deepEqual(deployment.spec.template.spec.containers[0].securityContext.capabilities, { drop: ['ALL'] });
  });

  test('the CA: its own Secret and ConfigMap, TokenReview, pod reads; nothing more', () => {
    const objects = objectsOf('default values');
    assert.deepEqual(ruleSet(findObject<any>(objects, 'Role', 'weft-ca').rules), [
      'core/configmaps names=weft-trust-bundle: get,update',
      'core/configmaps: create',
      'core/secrets names=weft-ca: get',
      'core/secrets: create',
    ]);
    assert.deepEqual(ruleSet(findObject<any>(objects, 'ClusterRole', 'weft-ca').rules), [
      'authentication.k8s.io/tokenreviews: create',
      'core/pods: get,list',
    ]);
  });

  test('every informer the agent runs is granted list and watch (a new one without RBAC fails here)', () => {
    const objects = objectsOf('default values');
    const granted = new Set([
      ...ruleSet(findObject<any>(objects, 'ClusterRole', 'weft-agent').rules),
      ...ruleSet(findObject<any>(objects, 'Role', 'weft-agent').rules),
    ].filter((line) => /list/.test(line) && /watch/.test(line)).map((line) => line.split(/[: ]/)[0]));
    const sources = ['cluster-caches.ts', 'trust-bundle-watch.ts', 'uninstall-detector.ts'];
    const watched: string[] = [];
    for (const file of sources) {
      const text = readFileSync(join(repoRoot, 'agent', 'src', 'k8s', file), 'utf8');
      for (const [, path] of text.matchAll(/path:\s*[`']([^`']+)[`']/g)) {
        const segments = path!.split('/').filter(Boolean);
        const resource = segments.at(-1)!;
        const group = segments[0] === 'api' ? 'core' : segments[1]!;
        watched.push(`${group}/${resource}`);
      }
    }
    assert.ok(watched.length >= 7, `found only ${watched.join(', ')} in ${sources.join(', ')}`);
    for (const resource of watched) assert.ok(granted.has(resource), `the agent watches ${resource} but its RBAC does not grant list+watch`);
  });

  for (const scenario of [SCENARIOS[0]!, SCENARIOS[3]!]) {
    test(`${scenario.title}: bindings give each role to its own service account in ${scenario.namespace}`, () => {
      const objects = objectsOf(scenario.title);
      for (const name of ['weft-agent', 'weft-ca']) {
        for (const [bindingKind, roleKind] of [['ClusterRoleBinding', 'ClusterRole'], ['RoleBinding', 'Role']] as const) {
          const binding = findObject<any>(objects, bindingKind, name);
          assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name });
          assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name, namespace: scenario.namespace }]);
        }
      }
    });
  }
});

describe('values', () => {
  test('custom values reach both pods', () => {
    const objects = objectsOf('custom image, tag, resources, logLevel, certTtl 60s');
    const ds = findObject<any>(objects, 'DaemonSet', 'weft-agent');
    const agent = container(ds, 'agent');
    const ca = container(findObject<any>(objects, 'Deployment', 'weft-ca'), 'ca');
    for (const c of [agent, ca]) {
      assert.equal(c.image, 'registry.example.com:5000/mesh/weft:0.2.0-rc.1');
      assert.equal(c.imagePullPolicy, 'Always');
    }
    assert.deepEqual(ds.spec.template.spec.imagePullSecrets, [{ name: 'registry-credentials' }]);
    assert.deepEqual(agent.resources, { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '4', memory: '1Gi' } });
    const env = envMap(agent);
    assert.equal(env.get('WEFT_LOG_LEVEL').value, 'debug');
    assert.equal(env.get('WEFT_CERT_TTL').value, '60s');
    assert.equal(env.get('WEFT_TRUST_DOMAIN').value, 'mesh.example.com');
    assert.deepEqual([...agent.securityContext.capabilities.add].sort(), ['BPF', 'NET_ADMIN', 'SYS_RESOURCE']);
    assert.deepEqual(ds.spec.updateStrategy.rollingUpdate, { maxSurge: 0, maxUnavailable: '10%' });
    assert.deepEqual(ca.args.slice(3, 9), ['--trust-domain', 'mesh.example.com', '--default-ttl', '60s', '--max-ttl', '2h']);
    assert.equal(envMap(ca).get('WEFT_LOG_LEVEL').value, 'warn');
    const init = ds.spec.template.spec.initContainers;
    assert.equal(init.length, 1);
    assert.equal(init[0].name, 'mount-bpffs');
    assert.equal(init[0].securityContext.privileged, true);
    assert.equal(init[0].volumeMounts[0].mountPropagation, 'Bidirectional');
  });

  test('another namespace: the CA address, the accepted account and the trust bundle follow it', () => {
    const objects = objectsOf('another namespace, everything on');
    const env = envMap(container(findObject<any>(objects, 'DaemonSet', 'weft-agent'), 'agent'));
    assert.equal(env.get('WEFT_CA_ADDRESS').value, 'weft-ca.mesh-prod.svc:15012');
    assert.equal(env.get('WEFT_CA_NAMESPACE').value, 'mesh-prod');
    const ca = container(findObject<any>(objects, 'Deployment', 'weft-ca'), 'ca');
    assert.equal(ca.args.at(-1), 'system:serviceaccount:mesh-prod:weft-agent');
    assert.equal(envMap(ca).get('WEFT_CA_NAMESPACE').value, 'mesh-prod');
    assert.deepEqual(findObject<any>(objects, 'PodMonitor', 'weft-agent').spec.namespaceSelector, { matchNames: ['mesh-prod'] });
    const rules = findObject<any>(objects, 'PrometheusRule', 'weft').spec.groups.flatMap((g: any) => g.rules);
    const unavailable = rules.find((r: any) => r.alert === 'WeftAgentUnavailable');
    assert.match(unavailable.expr, /namespace="mesh-prod"/);
  });

  const BAD_VALUES: Array<{ set: string; names: string; why: RegExp }> = [
    { set: 'agent.logLevel=loud', names: 'agent.logLevel', why: /must be one of the following: "fatal", "error", "warn", "info", "debug", "trace"/ },
    { set: 'ca.logLevel=LOUD', names: 'ca.logLevel', why: /must be one of the following/ },
    { set: 'certTtl=1d', names: 'certTtl', why: /Does not match pattern/ },
    { set: 'unknownKey=1', names: 'unknownKey', why: /Additional property unknownKey is not allowed/ },
    { set: 'agent.logLevl=info', names: 'logLevl', why: /Additional property logLevl is not allowed/ },
    { set: 'trustDomain=Mesh.Example', names: 'trustDomain', why: /Does not match pattern/ },
    { set: 'image.pullPolicy=Sometimes', names: 'image.pullPolicy', why: /must be one of the following/ },
    { set: 'agent.extraCapabilities={NET_RAW}', names: 'agent.extraCapabilities', why: /must be one of the following: "SYS_RESOURCE", "SYS_ADMIN", "PERFMON"/ },
    { set: 'metrics.podMonitor.interval=often', names: 'metrics.podMonitor.interval', why: /Does not match pattern/ },
    { set: 'alerts.serverErrorRatio=5', names: 'alerts.serverErrorRatio', why: /Must be less than or equal to 1/ },
    { set: 'agent.resources.limits.cpu=lots', names: 'agent.resources.limits.cpu', why: /Does not match pattern/ },
    { set: 'agent.resources.limts.cpu=1', names: 'agent.resources', why: /Additional property limts is not allowed/ },
    { set: 'agent.maxUnavailable=1', names: 'agent.maxUnavailable', why: /exactly one must be non-zero/ },
    { set: 'agent.maxSurge=0', names: 'agent.maxSurge', why: /both 0/ },
    { set: 'agent.maxSurge=-1', names: 'agent.maxSurge', why: /Must be greater than or equal to 0/ },
    { set: 'agent.drainTimeout=30s', names: 'agent.drainTimeout', why: /must be shorter than agent.terminationGracePeriodSeconds/ },
    { set: 'agent.drainTimeout=1m', names: 'agent.drainTimeout', why: /Does not match pattern/ },
    { set: 'agent.proxyWorkers=0', names: 'agent.proxyWorkers', why: /Must validate one and only one schema|must be greater than or equal to 1|oneOf/i },
    { set: 'certTtl=30s', names: 'certTtl', why: /must be at least 60s/ },
    { set: 'ca.maxTtl=1h', names: 'ca.maxTtl', why: /must not be shorter than certTtl/ },
  ];
  for (const bad of BAD_VALUES) {
    test(`--set ${bad.set} fails helm template with a message naming ${bad.names}`, async () => {
      const result = await runHelm(templateArgs({ set: [bad.set] }));
      assert.notEqual(result.exitCode, 0, `helm template accepted ${bad.set}`);
      assert.ok(result.stderr.includes(bad.names), `the message does not name ${bad.names}:\n${result.stderr}`);
      assert.match(result.stderr, bad.why);
    });
  }

  test('Chart.yaml: Kubernetes older than 1.26 is refused, 1.26 accepted', async () => {
    const old = await runHelm([...templateArgs(), '--kube-version', '1.25.9']);
    assert.notEqual(old.exitCode, 0);
    assert.match(old.stderr, /chart requires kubeVersion: >=1\.26\.0-0/);
    const supported = await runHelm([...templateArgs(), '--kube-version', '1.26.0']);
    assert.equal(supported.exitCode, 0, supported.stderr);
  });

  test('values.yaml: every value has a comment, and the README documents it', () => {
    const document = parseDocument(readFileSync(join(chartDir, 'values.yaml'), 'utf8'));
    const readme = readFileSync(join(chartDir, 'README.md'), 'utf8');
    // Free-form maps whose keys are data (resource names, labels), not chart values.
    const dataMaps = new Set(['resources', 'nodeSelector', 'labels', 'annotations', 'podAnnotations', 'affinity']);
    const seen: string[] = [];
    const walk = (map: YAMLMap, prefix: string) => {
      map.items.forEach((pair, index) => {
        const key = String((pair.key as { value: unknown }).value);
        const path = prefix + key;
        seen.push(path);
        // The yaml parser gives a nested map's first comment to the map rather than its first key.
        const comment = (pair.key as { commentBefore?: string | null }).commentBefore ?? (index === 0 ? map.commentBefore : undefined);
        assert.ok(comment && comment.trim().length > 0, `values.yaml: ${path} has no comment above it`);
        if (isMap(pair.value) && !dataMaps.has(key)) walk(pair.value, `${path}.`);
        else assert.ok(readme.includes(`\`${path}\``), `the README's values table lacks \`${path}\``);
      });
    };
    assert.ok(isMap(document.contents));
    walk(document.contents, '');
    assert.ok(seen.length >= 30, `walked only ${seen.length} values`);
  });
});

describe('monitoring', () => {
  const exported = exportedSeriesNames();
  const checker = new MetricReferenceChecker();

  test('the metric names are read from agent/src/metrics (every `name: \'weft_` is found)', () => {
    const dir = join(repoRoot, 'agent', 'src', 'metrics');
    const sources = readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
    const declared = [...sources.matchAll(/name:\s*'(weft_[a-z0-9_]+)'/g)].map((m) => m[1]);
    assert.deepEqual(exportedMetrics().map((m) => m.name).sort(), [...new Set(declared)].sort());
    assert.ok(exported.has('weft_request_duration_seconds_bucket'), 'the request duration is a histogram');
    assert.ok(exported.has('weft_requests_total'));
  });

  test('the reference check catches a metric or a label the agent does not export', () => {
    const names = promqlMetricNames('sum by (destination_service) (rate(weft_request_total{response_code=~"5.."}[5m])) / on(x) weft_requests_total');
    assert.deepEqual(names.filter((n) => !exported.has(n)), ['weft_request_total']);
    assert.deepEqual(checker.problems('sum by (destination_svc) (rate(weft_requests_total{reporter="source", code="500"}[5m]))'), [
      'matches label code on weft_requests_total, which has no such label',
      'groups by destination_svc, which none of weft_requests_total carries',
    ]);
    assert.deepEqual(checker.problems('sum by (node, le) (rate(weft_request_duration_seconds_bucket{node=~"$node"}[$__rate_interval]))'), []);
  });

  test('PodMonitor scrapes the agents\' admin port', () => {
    const objects = objectsOf('monitoring all on');
    const monitor = findObject<any>(objects, 'PodMonitor', 'weft-agent');
    const ds = findObject<any>(objects, 'DaemonSet', 'weft-agent');
    for (const [key, value] of Object.entries(monitor.spec.selector.matchLabels)) {
      assert.equal(ds.spec.template.metadata.labels[key], value, `agent pods lack the PodMonitor selector label ${key}`);
    }
    const endpoint = monitor.spec.podMetricsEndpoints[0];
    assert.equal(endpoint.path, '/metrics');
    assert.equal(endpoint.interval, '15s');
    // The agent declares no ports: the target is the agent container's, its address the pod IP on 15020.
    assert.equal(endpoint.port, undefined);
    assert.deepEqual(endpoint.relabelings.slice(0, 2), [
      { sourceLabels: ['__meta_kubernetes_pod_container_name', '__meta_kubernetes_pod_container_init'], regex: 'agent;false', action: 'keep' },
      { sourceLabels: ['__meta_kubernetes_pod_ip'], regex: '(.+)', targetLabel: '__address__', replacement: '${1}:15020', action: 'replace' },
    ]);
    assert.ok(container(ds, 'agent'), 'the kept container name is the agent container');
    assert.equal(monitor.metadata.labels.release, 'prometheus');
  });

  test('PrometheusRule: the alerts that matter, reading only metrics the agent exports', () => {
    const rule = findObject<any>(objectsOf('monitoring all on'), 'PrometheusRule', 'weft');
    const rules: any[] = rule.spec.groups.flatMap((g: any) => g.rules);
    const byName = new Map(rules.map((r) => [r.alert, r]));
    const expected: Record<string, string> = {
      WeftAgentUnavailable: 'kube_daemonset_status_number_unavailable',
      WeftAgentScrapeDown: 'up',
      WeftHighServerErrorRatio: 'weft_requests_total',
      WeftCertificateExpiringSoon: 'weft_identity_cert_expiry_timestamp_seconds',
      WeftBpfAttachErrors: 'weft_bpf_attach_errors_total',
      WeftTlsHandshakeFailures: 'weft_tls_handshake_failures_total',
      WeftStrictDropsSpike: 'weft_strict_denied_total',
      WeftAuthzDenialsSpike: 'weft_authz_decisions_total',
      WeftCaRequestsFailing: 'weft_ca_requests_total',
    };
    assert.deepEqual([...byName.keys()].sort(), Object.keys(expected).sort());
    for (const [alert, metric] of Object.entries(expected)) {
      const r = byName.get(alert);
      assert.ok(promqlMetricNames(r.expr).includes(metric), `${alert} does not read ${metric}: ${r.expr}`);
      assert.deepEqual(checker.problems(r.expr), [], `${alert}: ${r.expr}`);
      // Annotations may only use labels the alert's series keep after aggregation.
      const kept = promqlGroupingLabels(r.expr);
      for (const [, label] of JSON.stringify(r.annotations).matchAll(/\$labels\.([a-z_]+)/g)) {
        assert.ok(kept.length === 0 || kept.includes(label!), `${alert}: annotation uses $labels.${label}, dropped by the aggregation`);
      }
      assert.match(r.for, /^[0-9]+[smh]$/, `${alert}: for`);
      assert.ok(['critical', 'warning'].includes(r.labels.severity), `${alert}: severity`);
      assert.ok(r.annotations.summary && r.annotations.description, `${alert}: annotations`);
      assert.equal(count(r.expr, '('), count(r.expr, ')'), `${alert}: unbalanced parentheses`);
    }
    assert.match(byName.get('WeftHighServerErrorRatio').expr, /\) > 0\.1\n/);
    assert.match(byName.get('WeftAgentScrapeDown').expr, /up\{job="weft-system\/weft-agent"\} == 0/);
    assert.equal(rule.metadata.labels.release, 'prometheus');
  });

  test('the certificate alert fires at a quarter of certTtl, at most 3h', async () => {
    const threshold = async (ttl: string) => {
      const objects = await renderChart({ set: ['alerts.enabled=true', `certTtl=${ttl}`] });
      const rules = findObject<any>(objects, 'PrometheusRule', 'weft').spec.groups.flatMap((g: any) => g.rules);
      return /< (\d+)$/.exec(rules.find((r: any) => r.alert === 'WeftCertificateExpiringSoon').expr.trim())?.[1];
    };
    assert.equal(await threshold('24h'), '10800');
    assert.equal(await threshold('2h'), '1800');
    assert.equal(await threshold('60s'), '15');
  });

  test('Grafana dashboard: labelled for the sidecar, valid JSON, queries of exported metrics only', () => {
    const configMap = findObject<any>(objectsOf('monitoring all on'), 'ConfigMap', 'weft-dashboards');
    assert.equal(configMap.metadata.labels.grafana_dashboard, '1');
    assert.equal(configMap.metadata.annotations.grafana_folder, 'Weft');
    const text = configMap.data['weft-overview.json'];
    assert.equal(text.trim(), readFileSync(join(chartDir, 'dashboards', 'weft-overview.json'), 'utf8').trim());
    const dashboard = JSON.parse(text);
    assert.equal(dashboard.uid, 'weft-overview');
    const expressions: string[] = dashboard.panels.flatMap((p: any) => p.targets.map((t: any) => t.expr));
    for (const variable of dashboard.templating.list.filter((v: any) => v.type === 'query')) {
      const match = /^label_values\(([a-z_:][a-z0-9_:]*), *([a-z_]+)\)$/.exec(variable.definition);
      assert.ok(match, `variable ${variable.name}: ${variable.definition}`);
      expressions.push(match[1]!);
      assert.ok(checker.labelsOf(match[1]!)?.has(match[2]!), `variable ${variable.name}: ${match[1]} has no label ${match[2]}`);
    }
    const read = new Set<string>();
    for (const expr of expressions) {
      assert.equal(count(expr, '('), count(expr, ')'), `unbalanced parentheses: ${expr}`);
      assert.deepEqual(checker.problems(expr), [], `dashboard query: ${expr}`);
      for (const name of promqlMetricNames(expr)) {
        assert.ok(exported.has(name), `dashboard query reads ${name}, which the agent does not export: ${expr}`);
        read.add(name);
      }
    }
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        const grouped = promqlGroupingLabels(target.expr);
        for (const [, label] of String(target.legendFormat).matchAll(/\{\{\s*([a-z_]+)\s*\}\}/g)) {
          assert.ok(grouped.includes(label!), `panel "${panel.title}": legend {{${label}}} is not among the query's by-labels`);
        }
      }
    }
    for (const needed of ['weft_requests_total', 'weft_request_duration_seconds_bucket', 'weft_tcp_connections_opened_total', 'weft_identity_cert_expiry_timestamp_seconds', 'weft_enrolled_pods']) {
      assert.ok(read.has(needed), `the dashboard shows nothing from ${needed}`);
    }
    assert.ok(expressions.some((e) => e.includes('histogram_quantile(0.5,')) && expressions.some((e) => e.includes('histogram_quantile(0.99,')), 'p50 and p99');
    const ids = dashboard.panels.map((p: any) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  });
});

function count(text: string, character: string): number {
  return text.split(character).length - 1;
}
