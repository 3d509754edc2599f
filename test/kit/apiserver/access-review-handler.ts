// authorization.k8s.io/v1 reviews, answered by the server's authorizer: SelfSubjectAccessReview
// ("may I?", what `kubectl auth can-i` asks), SubjectAccessReview ("may this user?") and
// SelfSubjectRulesReview ("what may I do in this namespace?", `kubectl auth can-i --list`).
// Always 201 with the review and its status; nothing is stored.
import type { ResourceRequest, ServerParts } from './handler-context.js';
import type { UserInfo } from './authentication.js';
import type { Authorizer, RequestAttributes } from './authorization.js';
import { isPlainObject } from './kube-object.js';
import { sendJson } from './http-io.js';
import { statusErrors } from './status-errors.js';
import type { StatusCause } from './status-errors.js';
import { checkTypeMeta } from './type-meta.js';
import { readObjectBody } from './write-params.js';
import type { PolicyRule } from './rbac-rules.js';

const group = 'authorization.k8s.io';

/** An authorizer that can also list a user's rules (RBAC can). */
export interface RuleResolver {
  rulesFor(user: UserInfo, namespace: string): { rules: PolicyRule[]; errors: string[] };
}

function isRuleResolver(authorizer: Authorizer): authorizer is Authorizer & RuleResolver {
  return typeof (authorizer as Partial<RuleResolver>).rulesFor === 'function';
}

type Json = Record<string, any>;

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function invalid(kind: string, causes: StatusCause[]): never {
  const messages = causes.map((c) => `${c.field}: ${c.message}`);
  const message = `${kind}.${group} "" is invalid: ${messages.length === 1 ? messages[0] : `[${messages.join(', ')}]`}`;
  throw statusErrors.invalid(kind, group, '', message, causes);
}

/** The attributes a review asks about; exactly one of resource or non-resource attributes. */
function attributesOf(kind: string, spec: Json): RequestAttributes {
  const resource = spec.resourceAttributes;
  const nonResource = spec.nonResourceAttributes;
  if (isPlainObject(resource) && isPlainObject(nonResource)) {
    invalid(kind, [{ reason: 'FieldValueInvalid', message: 'Invalid value: "": cannot be specified in combination with resourceAttributes', field: 'spec.nonResourceAttributes' }]);
  }
  if (isPlainObject(resource)) {
    const r = resource as Json;
    const namespace = str(r.namespace);
    const name = str(r.name);
    const subresource = str(r.subresource);
    return {
      kind: 'resource', verb: str(r.verb), group: str(r.group), version: str(r.version), resource: str(r.resource),
      ...(subresource ? { subresource } : {}), ...(namespace ? { namespace } : {}), ...(name ? { name } : {}),
    };
  }
  if (isPlainObject(nonResource)) return { kind: 'non-resource', verb: str((nonResource as Json).verb), path: str((nonResource as Json).path) };
  invalid(kind, [{ reason: 'FieldValueInvalid', message: 'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified', field: 'spec.resourceAttributes' }]);
}

function userOf(spec: Json): UserInfo {
  const groups = Array.isArray(spec.groups) ? spec.groups.filter((g: unknown): g is string => typeof g === 'string') : [];
  if (str(spec.user) === '' && groups.length === 0) {
    invalid('SubjectAccessReview', [{ reason: 'FieldValueInvalid', message: 'Invalid value: "": at least one of user or group must be specified', field: 'spec.user' }]);
  }
  return { username: str(spec.user), groups, ...(str(spec.uid) ? { uid: str(spec.uid) } : {}), ...(isPlainObject(spec.extra) ? { extra: spec.extra as Record<string, string[]> } : {}) };
}

/** PolicyRules as a SelfSubjectRulesReview lists them (resource and non-resource apart). */
function splitRules(rules: PolicyRule[]): { resourceRules: object[]; nonResourceRules: object[] } {
  const resourceRules: object[] = [];
  const nonResourceRules: object[] = [];
  for (const rule of rules) {
    if (Array.isArray(rule.nonResourceURLs) && rule.nonResourceURLs.length > 0) {
      nonResourceRules.push({ verbs: rule.verbs ?? [], nonResourceURLs: rule.nonResourceURLs });
      continue;
    }
    const out: Json = { verbs: rule.verbs ?? [] };
    if (rule.apiGroups?.length) out.apiGroups = rule.apiGroups;
    if (rule.resources?.length) out.resources = rule.resources;
    if (rule.resourceNames?.length) out.resourceNames = rule.resourceNames;
    resourceRules.push(out);
  }
  return { resourceRules, nonResourceRules };
}

export async function handleAccessReview(parts: ServerParts, r: ResourceRequest, authorizer: Authorizer): Promise<void> {
  const kind = r.descriptor.kind;
  const body = checkTypeMeta(r.descriptor, await readObjectBody(parts, r, kind));
  const spec = (isPlainObject(body.spec) ? body.spec : {}) as Json;
  let status: Json;
  if (kind === 'SelfSubjectRulesReview') {
    const namespace = str(spec.namespace);
    if (!isRuleResolver(authorizer)) {
      status = { resourceRules: [], nonResourceRules: [], incomplete: true, evaluationError: 'the authorizer cannot list rules' };
    } else {
      const { rules, errors } = authorizer.rulesFor(r.user, namespace);
      status = { ...splitRules(rules), incomplete: errors.length > 0, ...(errors.length > 0 ? { evaluationError: errors.join(', ') } : {}) };
    }
  } else {
    const attributes = attributesOf(kind, spec);
    const user = kind === 'SubjectAccessReview' ? userOf(spec) : r.user;
    const decision = await authorizer.authorize(user, attributes);
    status = { allowed: decision.allowed, ...(decision.reason ? { reason: decision.reason } : {}) };
  }
  sendJson(r.res, 201, { kind, apiVersion: `${group}/v1`, metadata: { creationTimestamp: null }, spec, status });
}
