// The authorization table of one snapshot: for every enrolled pod of this node (by IP), the
// policies that select it, already sorted into the evaluation order (Admin tier, namespace DENY,
// namespace ALLOW, Baseline tier; AUDIT apart), with namespace selectors of sources resolved to
// namespace names. Built on the control thread whenever the snapshot is rebuilt; workers get it
// inside the snapshot and evaluate requests without scanning unrelated policies.
import { matchesLabelSelector, type Labels } from '../k8s/label-selector.js';
import type { PolicyDefinition, RuleDefinition, SourceDefinition } from './policy-definition.js';

export type CompiledSource =
  | Exclude<SourceDefinition, { kind: 'namespaceSelector' }>
  | { kind: 'namespaces'; names: ReadonlySet<string> };

export interface CompiledRule extends Omit<RuleDefinition, 'sources'> {
  sources: CompiledSource[] | null;
}

export interface CompiledPolicy extends Omit<PolicyDefinition, 'rules' | 'problems' | 'subject' | 'targets'> {
  rules: CompiledRule[] | null;
  /** Fail closed: a broken policy, or a DENY/PASS policy with a broken rule, denies every request it covers. */
  denyAll: boolean;
  /** null: `rules[i]` is rule i as written; otherwise the rules were narrowed and `ruleIndex[i]` is rule i's index as written. */
  ruleIndex: number[] | null;
}

export interface WorkloadAuthz {
  namespace: string;
  workload: string;
  admin: CompiledPolicy[];
  deny: CompiledPolicy[];
  allow: CompiledPolicy[];
  baseline: CompiledPolicy[];
  audit: CompiledPolicy[];
  /** Some policy here is in dry-run: requests are evaluated a second time as if it were enforced. */
  dryRun: boolean;
}

export interface AuthzTable {
  byPodIp: ReadonlyMap<string, WorkloadAuthz>;
  /**
   * Pods (by uid) whose plaintext inbound connections some enforced policy would deny: an ALLOW
   * policy selects them, or a DENY/PASS policy has a rule that can match a source without a mesh
   * identity. Plaintext never reaches the node proxy, so the kernel drops it (the strict-mode
   * ingress program; connections from the node itself, kubelet probes, still pass). Fail closed:
   * ipBlock rules that would allow some plaintext sources are not honoured in the kernel yet.
   */
  plaintextGuardedUids: ReadonlySet<string>;
  /** Equal tables have equal fingerprints: an unchanged table is not sent to workers again. */
  fingerprint: string;
}

export const EMPTY_AUTHZ_TABLE: AuthzTable = Object.freeze({ byPodIp: new Map(), plaintextGuardedUids: new Set<string>(), fingerprint: '[]' });

export interface AuthzNamespace {
  name: string;
  labels: Labels;
}

export interface AuthzWorkload {
  uid: string;
  /** '' while the pod has no IP yet: it is then only considered for plaintextGuardedUids. */
  ip: string;
  namespace: string;
  workload: string;
  labels: Labels;
}

export interface AuthzTableInput {
  policies: readonly PolicyDefinition[];
  namespaces: readonly AuthzNamespace[];
  /** This node's enrolled pods. */
  workloads: readonly AuthzWorkload[];
  /** A Service's selector; undefined when the Service is unknown or has no selector. */
  serviceSelector(namespace: string, name: string): Labels | undefined;
}

export function buildAuthzTable(input: AuthzTableInput): AuthzTable {
  const compiled = input.policies.map((policy) => ({ policy, compiled: compilePolicy(policy, input.namespaces) }));
  const namespaceLabels = new Map(input.namespaces.map((ns) => [ns.name, ns.labels]));
  const byPodIp = new Map<string, WorkloadAuthz>();
  const plaintextGuardedUids = new Set<string>();
  for (const workload of input.workloads) {
    const entry: WorkloadAuthz = { namespace: workload.namespace, workload: workload.workload, admin: [], deny: [], allow: [], baseline: [], audit: [], dryRun: false };
    for (const { policy, compiled: c } of compiled) {
      if (!selects(policy, workload, namespaceLabels.get(workload.namespace) ?? {}, input)) continue;
      entry.dryRun ||= policy.dryRun;
      if (policy.action === 'AUDIT') entry.audit.push(c);
      else if (policy.kind === 'ClusterAuthorizationPolicy') (policy.tier === 'Baseline' ? entry.baseline : entry.admin).push(c);
      else (policy.action === 'DENY' ? entry.deny : entry.allow).push(c);
    }
    if (entry.admin.length + entry.deny.length + entry.allow.length + entry.baseline.length + entry.audit.length === 0) continue;
    entry.admin.sort(byPriority);
    entry.baseline.sort(byPriority);
    if (deniesSomePlaintext(entry)) plaintextGuardedUids.add(workload.uid);
    if (workload.ip !== '') byPodIp.set(workload.ip, entry);
  }
  const fingerprint = JSON.stringify([[...byPodIp], [...plaintextGuardedUids].sort()], (_key, value: unknown) => (value instanceof Set ? [...value].sort() : value));
  return { byPodIp, plaintextGuardedUids, fingerprint };
}

/** Whether an enforced policy of the workload could deny a source without a mesh identity. */
function deniesSomePlaintext(w: WorkloadAuthz): boolean {
  const enforced = (p: CompiledPolicy): boolean => !p.dryRun;
  const matchesPlaintext = (p: CompiledPolicy): boolean =>
    p.denyAll || p.rules === null || p.rules.some((r) => r.sources === null || r.sources.some((s) => s.kind === 'ipBlock'));
  if (w.allow.some(enforced)) return true;
  return [...w.admin, ...w.deny, ...w.baseline].some((p) => enforced(p) && (p.action !== 'ALLOW' || p.denyAll) && matchesPlaintext(p));
}

function byPriority(a: CompiledPolicy, b: CompiledPolicy): number {
  return a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** Whether `policy` covers `workload`. Broken targets cover the whole namespace (fail closed). */
function selects(policy: PolicyDefinition, workload: AuthzWorkload, namespaceLabels: Labels, input: AuthzTableInput): boolean {
  if (policy.kind === 'ClusterAuthorizationPolicy') {
    const subject = policy.subject!;
    return matchesLabelSelector(subject.namespaceSelector, namespaceLabels) &&
      (subject.podSelector === null || matchesLabelSelector(subject.podSelector, workload.labels));
  }
  if (policy.namespace !== workload.namespace) return false;
  if (policy.targets === null) return true;
  return policy.targets.some((target) => {
    if (target.kind === 'Pod') return matchesLabelSelector(target.selector, workload.labels);
    const selector = input.serviceSelector(policy.namespace, target.name);
    return selector !== undefined && Object.keys(selector).length > 0 && matchesLabelSelector({ matchLabels: { ...selector } }, workload.labels);
  });
}

/** Built field by field (no spread): every compiled policy and rule gets the same shape, which keeps the evaluator's property reads monomorphic. */
function compilePolicy(policy: PolicyDefinition, namespaces: readonly AuthzNamespace[]): CompiledPolicy {
  const denyLike = policy.action === 'DENY' || policy.action === 'PASS';
  const denyAll = policy.action !== 'AUDIT' && (policy.broken || (denyLike && (policy.rules ?? []).some((rule) => rule.broken)));
  return {
    id: policy.id,
    kind: policy.kind,
    namespace: policy.namespace,
    name: policy.name,
    action: policy.action,
    dryRun: policy.dryRun,
    tier: policy.tier,
    priority: policy.priority,
    broken: policy.broken,
    denyAll,
    rules: policy.rules === null ? null : policy.rules.map((rule) => ({
      sources: rule.sources === null ? null : rule.sources.map((s) => compileSource(s, namespaces)),
      ports: rule.ports,
      http: rule.http,
      grpc: rule.grpc,
      broken: rule.broken,
    })),
    ruleIndex: null,
  };
}

function compileSource(source: SourceDefinition, namespaces: readonly AuthzNamespace[]): CompiledSource {
  if (source.kind !== 'namespaceSelector') return source;
  return { kind: 'namespaces', names: new Set(namespaces.filter((ns) => matchesLabelSelector(source.selector, ns.labels)).map((ns) => ns.name)) };
}
