// RBAC's escalation prevention, as kube-apiserver's policy-based RBAC storage does it: a user may
// write a Role/ClusterRole only with rules it already holds (or with verb `escalate` on it), and a
// binding only to a role whose rules it holds (or with verb `bind` on that role). Members of
// system:masters may do anything. Refusals are 403s worded as a real server words them.
import type { UserInfo } from './authentication.js';
import type { KubeObject } from './kube-object.js';
import { jsonEqual } from './kube-object.js';
import type { ResourceDescriptor } from './resource-registry.js';
import { statusErrors } from './status-errors.js';
import { privilegedGroup, type RbacAuthorizer, type RoleRef } from './rbac-authorizer.js';
import type { PolicyRule } from './rbac-rules.js';
import { rbacGroup } from './rbac-validation.js';

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** rbac/v1 BreakdownRule: one rule per group x resource x verb (x name), and per URL x verb. */
function breakdown(rule: PolicyRule): PolicyRule[] {
  const out: PolicyRule[] = [];
  const names = strings(rule.resourceNames);
  for (const group of strings(rule.apiGroups)) {
    for (const resource of strings(rule.resources)) {
      for (const verb of strings(rule.verbs)) {
        if (names.length === 0) out.push({ apiGroups: [group], resources: [resource], verbs: [verb] });
        else for (const name of names) out.push({ apiGroups: [group], resources: [resource], verbs: [verb], resourceNames: [name] });
      }
    }
  }
  for (const url of strings(rule.nonResourceURLs)) for (const verb of strings(rule.verbs)) out.push({ nonResourceURLs: [url], verbs: [verb] });
  return out;
}

const hasAll = (set: string[], wanted: string[]): boolean => wanted.every((w) => set.includes(w));

function resourceCoversAll(owner: string[], wanted: string[]): boolean {
  if (owner.includes('*') || hasAll(owner, wanted)) return true;
  return wanted.every((path) => owner.includes(path) || (path.includes('/') && owner.includes(`*/${path.split('/').slice(1).join('/')}`)));
}

function urlCovers(owner: string, wanted: string): boolean {
  return owner === wanted || (owner.endsWith('*') && wanted.startsWith(owner.replace(/\*+$/, '')));
}

/** rbac validation's ruleCovers: does one held rule cover one broken-down rule? */
function ruleCovers(owner: PolicyRule, sub: PolicyRule): boolean {
  const ownerVerbs = strings(owner.verbs);
  const ownerGroups = strings(owner.apiGroups);
  const ownerNames = strings(owner.resourceNames);
  const subNames = strings(sub.resourceNames);
  return (ownerVerbs.includes('*') || hasAll(ownerVerbs, strings(sub.verbs)))
    && (ownerGroups.includes('*') || hasAll(ownerGroups, strings(sub.apiGroups)))
    && resourceCoversAll(strings(owner.resources), strings(sub.resources))
    && strings(sub.nonResourceURLs).every((u) => strings(owner.nonResourceURLs).some((o) => urlCovers(o, u)))
    && (subNames.length === 0 ? ownerNames.length === 0 : ownerNames.length === 0 || hasAll(ownerNames, subNames));
}

/** Go's %q of a []string: ["a" "b"]. */
const goStrings = (values: string[]): string => `[${values.map((v) => JSON.stringify(v)).join(' ')}]`;

/** rbacv1helpers.CompactString: {APIGroups:["apps"], Resources:["deployments"], Verbs:["get"]}. */
function compactString(rule: PolicyRule): string {
  const parts: string[] = [];
  const add = (label: string, values: string[]): void => { if (values.length > 0) parts.push(`${label}:${goStrings(values)}`); };
  add('APIGroups', strings(rule.apiGroups));
  add('Resources', strings(rule.resources));
  add('NonResourceURLs', strings(rule.nonResourceURLs));
  add('ResourceNames', strings(rule.resourceNames));
  add('Verbs', strings(rule.verbs));
  return `{${parts.join(', ')}}`;
}

/** Fields the garbage collector changes; an update touching only these is never an escalation. */
function withoutGcFields(obj: KubeObject): object {
  const { ownerReferences: _o, finalizers: _f, resourceVersion: _r, managedFields: _m, ...meta } = obj.metadata;
  return { ...obj, metadata: meta };
}

export class RbacEscalationGuard {
  constructor(private readonly rbac: RbacAuthorizer) {}

  /** Throws the real 403 when `user` writing `obj` (over `existing`) would grant what it lacks. */
  admit(d: ResourceDescriptor, obj: KubeObject, existing: KubeObject | undefined, user: UserInfo): void {
    if (d.group !== rbacGroup || user.groups.includes(privilegedGroup)) return;
    if (existing !== undefined && jsonEqual(withoutGcFields(obj), withoutGcFields(existing))) return;
    const namespace = d.namespaced ? obj.metadata.namespace ?? '' : '';
    const name = obj.metadata.name ?? '';
    const ref = { group: rbacGroup, plural: d.plural };
    const allowed = (verb: string, resource: string, resourceName: string): boolean => this.rbac.authorize(user, {
      kind: 'resource', verb, group: rbacGroup, version: 'v1', resource, ...(namespace ? { namespace } : {}), ...(resourceName ? { name: resourceName } : {}),
    }).allowed;
    let rules: PolicyRule[];
    if (d.kind === 'Role' || d.kind === 'ClusterRole') {
      // The request's own name: empty on create, as RequestInfo has it.
      if (allowed('escalate', d.plural, existing ? name : '')) return;
      rules = Array.isArray((obj as Record<string, unknown>).rules) ? ((obj as Record<string, unknown>).rules as PolicyRule[]) : [];
    } else if (d.kind === 'RoleBinding' || d.kind === 'ClusterRoleBinding') {
      const roleRef = ((obj as Record<string, unknown>).roleRef ?? {}) as RoleRef & { apiGroup?: string };
      const roleResource = roleRef.kind === 'ClusterRole' ? 'clusterroles' : roleRef.kind === 'Role' ? 'roles' : undefined;
      if (roleResource !== undefined && allowed('bind', roleResource, roleRef.name ?? '')) return;
      const resolved = this.rbac.roleReferenceRules(roleRef, namespace);
      if ('error' in resolved) throw statusErrors.forbidden(ref, name, resolved.error);
      rules = resolved.rules;
    } else {
      return;
    }
    const held = this.rbac.rulesFor(user, namespace);
    const missing = rules.flatMap(breakdown).filter((sub) => !held.rules.some((owner) => ruleCovers(owner, sub)));
    if (missing.length === 0) return;
    const described = [...new Set(missing.map(compactString))].sort();
    let message = `user ${JSON.stringify(user.username)} (groups=${goStrings(user.groups)}) is attempting to grant RBAC permissions not currently held:\n${described.join('\n')}`;
    if (held.errors.length > 0) message += `; resolution errors: [${held.errors.join(' ')}]`;
    throw statusErrors.forbidden(ref, name, message);
  }
}
