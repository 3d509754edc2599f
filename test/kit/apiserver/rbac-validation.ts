// Validation of rbac.authorization.k8s.io/v1 objects as a real 1.26 server words it
// (pkg/apis/rbac/validation): every rule needs verbs; resource rules need apiGroups and
// resources; only ClusterRoles may name non-resource URLs; a binding's roleRef must name a Role
// or ClusterRole and cannot change; subjects are ServiceAccounts, Users or Groups.
import { childPath, fieldErrors, goQuote, indexPath, type FieldCause } from './field-errors.js';
import { validateObjectMeta } from './object-validation.js';
import { isDNS1123Subdomain, isValidPathSegmentName } from './name-validation.js';

type Json = Record<string, any>;

export const rbacGroup = 'rbac.authorization.k8s.io';

function asObject(value: unknown): Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {};
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function nonEmpty(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0;
}

function validatePolicyRule(raw: unknown, namespaced: boolean, path: string): FieldCause[] {
  const rule = asObject(raw);
  const causes: FieldCause[] = [];
  if (!nonEmpty(rule['verbs'])) causes.push(fieldErrors.required(childPath(path, 'verbs'), 'verbs must contain at least one value'));
  if (nonEmpty(rule['nonResourceURLs'])) {
    const urls = rule['nonResourceURLs'];
    if (namespaced) causes.push(fieldErrors.invalid(childPath(path, 'nonResourceURLs'), urls, 'namespaced rules cannot apply to non-resource URLs'));
    if (nonEmpty(rule['apiGroups']) || nonEmpty(rule['resources']) || nonEmpty(rule['resourceNames'])) {
      causes.push(fieldErrors.invalid(childPath(path, 'nonResourceURLs'), urls, 'rules cannot apply to both regular resources and non-resource URLs'));
    }
    return causes;
  }
  if (!nonEmpty(rule['apiGroups'])) causes.push(fieldErrors.required(childPath(path, 'apiGroups'), 'resource rules must supply at least one api group'));
  if (!nonEmpty(rule['resources'])) causes.push(fieldErrors.required(childPath(path, 'resources'), 'resource rules must supply at least one resource'));
  return causes;
}

function validateRules(obj: Json, namespaced: boolean): FieldCause[] {
  return asArray(obj['rules']).flatMap((rule, i) => validatePolicyRule(rule, namespaced, indexPath('rules', i)));
}

function validateSubject(raw: unknown, namespaced: boolean, path: string): FieldCause[] {
  const subject = asObject(raw);
  const causes: FieldCause[] = [];
  const name = typeof subject['name'] === 'string' ? subject['name'] : '';
  const apiGroup = typeof subject['apiGroup'] === 'string' ? subject['apiGroup'] : '';
  if (name === '') causes.push(fieldErrors.required(childPath(path, 'name')));
  switch (subject['kind']) {
    case 'ServiceAccount':
      if (name !== '') for (const msg of isDNS1123Subdomain(name)) causes.push(fieldErrors.invalid(childPath(path, 'name'), name, msg));
      if (apiGroup !== '') causes.push(fieldErrors.notSupported(childPath(path, 'apiGroup'), apiGroup, ['']));
      if (!namespaced && (typeof subject['namespace'] !== 'string' || subject['namespace'] === '')) causes.push(fieldErrors.required(childPath(path, 'namespace')));
      break;
    case 'User':
    case 'Group':
      if (apiGroup !== rbacGroup) causes.push(fieldErrors.notSupported(childPath(path, 'apiGroup'), apiGroup, [rbacGroup]));
      break;
    default:
      causes.push(fieldErrors.notSupported(childPath(path, 'kind'), subject['kind'] ?? '', ['ServiceAccount', 'User', 'Group']));
  }
  return causes;
}

/** Go's %#v of an rbac.RoleRef, as the "cannot change roleRef" error prints it. */
function goRoleRef(ref: Json): string {
  return `rbac.RoleRef{APIGroup:${goQuote(String(ref['apiGroup'] ?? ''))}, Kind:${goQuote(String(ref['kind'] ?? ''))}, Name:${goQuote(String(ref['name'] ?? ''))}}`;
}

function validateBinding(obj: Json, existing: Json | undefined, namespaced: boolean): FieldCause[] {
  const causes = validateObjectMeta(obj, 'path');
  const ref = asObject(obj['roleRef']);
  const apiGroup = ref['apiGroup'] ?? '';
  if (apiGroup !== rbacGroup) causes.push(fieldErrors.notSupported('roleRef.apiGroup', apiGroup, [rbacGroup]));
  const kinds = namespaced ? ['Role', 'ClusterRole'] : ['ClusterRole'];
  if (!kinds.includes(ref['kind'])) causes.push(fieldErrors.notSupported('roleRef.kind', ref['kind'] ?? '', kinds));
  const name = ref['name'];
  if (typeof name !== 'string' || name === '') causes.push(fieldErrors.required('roleRef.name'));
  else for (const msg of isValidPathSegmentName(name)) causes.push(fieldErrors.invalid('roleRef.name', name, msg));
  asArray(obj['subjects']).forEach((subject, i) => causes.push(...validateSubject(subject, namespaced, indexPath('subjects', i))));
  if (existing !== undefined) {
    const before = asObject(existing['roleRef']);
    const same = ['apiGroup', 'kind', 'name'].every((k) => (before[k] ?? '') === (ref[k] ?? ''));
    if (!same) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${goRoleRef(ref)}: cannot change roleRef`, field: 'roleRef' });
  }
  return causes;
}

/** Field errors of an RBAC object (kind Role, ClusterRole, RoleBinding or ClusterRoleBinding). */
export function validateRbacObject(kind: string, obj: Json, existing: Json | undefined): FieldCause[] {
  switch (kind) {
    case 'Role': return [...validateObjectMeta(obj, 'path'), ...validateRules(obj, true)];
    case 'ClusterRole': return [...validateObjectMeta(obj, 'path'), ...validateRules(obj, false)];
    case 'RoleBinding': return validateBinding(obj, existing, true);
    case 'ClusterRoleBinding': return validateBinding(obj, existing, false);
    default: throw new Error(`not an RBAC kind: ${kind}`);
  }
}
