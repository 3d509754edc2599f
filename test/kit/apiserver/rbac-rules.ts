// Does one RBAC PolicyRule allow a request? The matching rules of rbac/v1 helpers (VerbMatches,
// APIGroupMatches, ResourceMatches, ResourceNameMatches, NonResourceURLMatches): `*` wildcards,
// `resource/subresource` and `*/subresource`, resourceNames that only apply to named requests,
// and non-resource URLs with a trailing `*` prefix match.
import type { RequestAttributes } from './authorization.js';

export interface PolicyRule {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

function list(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function verbMatches(rule: PolicyRule, verb: string): boolean {
  return list(rule.verbs).some((v) => v === '*' || v === verb);
}

function apiGroupMatches(rule: PolicyRule, group: string): boolean {
  return list(rule.apiGroups).some((g) => g === '*' || g === group);
}

function resourceMatches(rule: PolicyRule, combined: string, subresource: string): boolean {
  return list(rule.resources).some((r) => r === '*' || r === combined || (subresource !== '' && r === `*/${subresource}`));
}

function resourceNameMatches(rule: PolicyRule, name: string): boolean {
  const names = list(rule.resourceNames);
  return names.length === 0 || names.includes(name);
}

function nonResourceURLMatches(rule: PolicyRule, path: string): boolean {
  return list(rule.nonResourceURLs).some((u) => u === '*' || u === path || (u.endsWith('*') && path.startsWith(u.replace(/\*+$/, ''))));
}

export function ruleAllows(attributes: RequestAttributes, rule: PolicyRule): boolean {
  if (attributes.kind === 'non-resource') return verbMatches(rule, attributes.verb) && nonResourceURLMatches(rule, attributes.path);
  const subresource = attributes.subresource ?? '';
  const combined = subresource === '' ? attributes.resource : `${attributes.resource}/${subresource}`;
  return verbMatches(rule, attributes.verb)
    && apiGroupMatches(rule, attributes.group)
    && resourceMatches(rule, combined, subresource)
    && resourceNameMatches(rule, attributes.name ?? '');
}
