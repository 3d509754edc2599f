// The RBAC rule matching of rbac/v1 helpers, case by case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ruleAllows } from './rbac-rules.js';
import type { RequestAttributes } from './authorization.js';

const pods = (verb: string, extra: Partial<Extract<RequestAttributes, { kind: 'resource' }>> = {}): RequestAttributes => ({
  kind: 'resource', verb, group: '', version: 'v1', resource: 'pods', namespace: 'ns', ...extra,
});

test('verbs, groups and resources match exactly or by *', () => {
  assert.ok(ruleAllows(pods('get'), { apiGroups: [''], resources: ['pods'], verbs: ['get'] }));
  assert.ok(!ruleAllows(pods('list'), { apiGroups: [''], resources: ['pods'], verbs: ['get'] }));
  assert.ok(!ruleAllows(pods('get'), { apiGroups: ['apps'], resources: ['pods'], verbs: ['get'] }));
  assert.ok(ruleAllows(pods('delete', { group: 'apps', resource: 'daemonsets' }), { apiGroups: ['*'], resources: ['*'], verbs: ['*'] }));
  assert.ok(!ruleAllows(pods('get'), { apiGroups: [''], resources: ['pods'] }), 'no verbs, nothing allowed');
});

test('subresources: pods does not cover pods/status; */status and * do', () => {
  const status = pods('get', { subresource: 'status', name: 'p' });
  assert.ok(!ruleAllows(status, { apiGroups: [''], resources: ['pods'], verbs: ['get'] }));
  assert.ok(ruleAllows(status, { apiGroups: [''], resources: ['pods/status'], verbs: ['get'] }));
  assert.ok(ruleAllows(status, { apiGroups: [''], resources: ['*/status'], verbs: ['get'] }));
  assert.ok(ruleAllows(status, { apiGroups: [''], resources: ['*'], verbs: ['get'] }));
  assert.ok(!ruleAllows(pods('get', { name: 'p' }), { apiGroups: [''], resources: ['*/status'], verbs: ['get'] }));
});

test('resourceNames allow only named requests of those names', () => {
  const rule = { apiGroups: [''], resources: ['pods'], resourceNames: ['a'], verbs: ['get', 'list'] };
  assert.ok(ruleAllows(pods('get', { name: 'a' }), rule));
  assert.ok(!ruleAllows(pods('get', { name: 'b' }), rule));
  assert.ok(!ruleAllows(pods('list'), rule));
});

test('non-resource URLs: exact, * and trailing-* prefixes; resource rules never match them', () => {
  const path = (p: string): RequestAttributes => ({ kind: 'non-resource', verb: 'get', path: p });
  assert.ok(ruleAllows(path('/version'), { nonResourceURLs: ['/version'], verbs: ['get'] }));
  assert.ok(ruleAllows(path('/apis/apps/v1'), { nonResourceURLs: ['/apis/*'], verbs: ['get'] }));
  assert.ok(!ruleAllows(path('/apis'), { nonResourceURLs: ['/apis/*'], verbs: ['get'] }));
  assert.ok(ruleAllows(path('/metrics'), { nonResourceURLs: ['*'], verbs: ['*'] }));
  assert.ok(!ruleAllows(path('/metrics'), { apiGroups: ['*'], resources: ['*'], verbs: ['*'] }));
  assert.ok(!ruleAllows(pods('get'), { nonResourceURLs: ['*'], verbs: ['*'] }));
});
