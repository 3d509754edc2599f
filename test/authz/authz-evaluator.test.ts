// The authorization decision, without a cluster: policies as the API server stores them, through
// validation, the per-workload table and the evaluator the proxy runs. Attacks included: path
// spellings, repeated headers, method case, forged sources, unevaluable rules (fail closed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildAuthzTable, type AuthzNamespace, type AuthzWorkload } from '../../agent/src/authz/authz-table.js';
import { evaluateAuthz, type AuthzRequest, type AuthzSource, type HttpFacts } from '../../agent/src/authz/authz-evaluator.js';
import { validatePolicy } from '../../agent/src/authz/policy-validation.js';
import type { PolicyKind } from '../../agent/src/authz/policy-definition.js';
import { normalizeRequestPath } from '../../agent/src/authz/request-path.js';
import { plaintextAllowList } from '../../agent/src/authz/plaintext-allow-list.js';

const namespaces: AuthzNamespace[] = [
  { name: 'prod', labels: { env: 'production' } },
  { name: 'dev', labels: { env: 'development' } },
  { name: 'shop', labels: {} },
];
const workloads: AuthzWorkload[] = [
  { uid: 'uid-1', ip: '10.0.0.1', namespace: 'dev', workload: 'api', labels: { app: 'api' } },
  { uid: 'uid-2', ip: '10.0.0.2', namespace: 'prod', workload: 'api', labels: { app: 'api' } },
  { uid: 'uid-3', ip: '10.0.0.3', namespace: 'shop', workload: 'orders', labels: { app: 'orders' } },
  { uid: 'uid-4', ip: '10.0.0.4', namespace: 'shop', workload: 'cart', labels: { app: 'cart' } },
];

function table(...objects: [PolicyKind, object][]) {
  return buildAuthzTable({
    policies: objects.map(([kind, object]) => validatePolicy(kind, object)),
    namespaces,
    workloads,
    serviceSelector: (ns, name) => (ns === 'shop' && name === 'orders' ? { app: 'orders' } : undefined),
  });
}

function mesh(namespace: string, serviceAccount: string): AuthzSource {
  return { kind: 'mesh', spiffeId: `spiffe://cluster.local/ns/${namespace}/sa/${serviceAccount}`, namespace, serviceAccount };
}

function http(method: string, target: string, headers: Record<string, string[]> = {}): HttpFacts {
  return { method, target, header: (name) => headers[name] ?? [], grpc: false };
}

function decide(t: ReturnType<typeof table>, ip: string, request: AuthzRequest) {
  return evaluateAuthz(t.byPodIp.get(ip), request);
}

const noProdToDev: [PolicyKind, object] = ['ClusterAuthorizationPolicy', {
  metadata: { name: 'no-prod-to-dev' },
  spec: { tier: 'Admin', priority: 10, action: 'DENY', subject: { namespaceSelector: { matchLabels: { env: 'development' } } },
    rules: [{ sources: [{ namespaceSelector: { matchLabels: { env: 'production' } } }] }] },
}];

const ordersReaders: [PolicyKind, object] = ['AuthorizationPolicy', {
  metadata: { name: 'orders-readers', namespace: 'shop' },
  spec: { targetRefs: [{ group: '', kind: 'Service', name: 'orders' }], action: 'ALLOW', enforcementLevel: 'Application',
    rules: [{ sources: [{ serviceAccount: { namespace: 'shop', name: 'frontend' } }], http: { methods: ['GET', 'HEAD'], paths: [{ type: 'PathPrefix', value: '/api' }] } }] },
}];

test('a cluster DENY by namespace labels: prod may not call dev, at connection time; dev->dev and dev->prod are allowed', () => {
  const t = table(noProdToDev);
  const denied = decide(t, '10.0.0.1', { source: mesh('prod', 'default'), port: 8080, http: 'pending' });
  assert.equal(denied.decision, 'deny');
  assert.equal(denied.policy, 'ClusterAuthorizationPolicy//no-prod-to-dev');
  assert.equal(decide(t, '10.0.0.1', { source: mesh('dev', 'default'), port: 8080, http: 'pending' }).decision, 'allow');
  assert.equal(decide(t, '10.0.0.2', { source: mesh('dev', 'default'), port: 8080, http: 'pending' }).decision, 'allow');
  assert.equal(t.byPodIp.has('10.0.0.2'), false, 'prod workloads are not subjects of the policy');
});

test('dry-run: enforced as allow, the would-be denial reported', () => {
  const [kind, object] = noProdToDev;
  const t = table([kind, { ...object, metadata: { name: 'no-prod-to-dev', annotations: { 'weft.io/dry-run': 'true' } } }]);
  const decision = decide(t, '10.0.0.1', { source: mesh('prod', 'default'), port: 8080, http: 'pending' });
  assert.equal(decision.decision, 'allow');
  assert.equal(decision.wouldBe?.decision, 'deny');
  assert.equal(decision.wouldBe?.policy, 'ClusterAuthorizationPolicy//no-prod-to-dev');
});

test('method level: only shop/frontend may GET|HEAD /api/* on orders; the connection waits for the request', () => {
  const t = table(ordersReaders);
  const frontend = mesh('shop', 'frontend');
  assert.equal(decide(t, '10.0.0.3', { source: frontend, port: 8080, http: 'pending' }).decision, 'pending');
  const cases: [AuthzSource, string, string, 'allow' | 'deny'][] = [
    [frontend, 'GET', '/api/x', 'allow'],
    [frontend, 'HEAD', '/api', 'allow'],
    [frontend, 'POST', '/api/x', 'deny'],
    [frontend, 'GET', '/healthz', 'deny'],
    [frontend, 'GET', '/apix', 'deny'],
    [frontend, 'get', '/api/x', 'deny'],
    [mesh('shop', 'batch'), 'GET', '/api/x', 'deny'],
    [mesh('other', 'frontend'), 'GET', '/api/x', 'deny'],
    // spellings of a path outside /api that try to look like it, and the reverse
    [frontend, 'GET', '/api/../admin', 'deny'],
    [frontend, 'GET', '/api/%2e%2e/admin', 'deny'],
    [frontend, 'GET', '/api%2fx', 'deny'],
    [frontend, 'GET', '/api\\x', 'deny'],
    [frontend, 'GET', '//api/x', 'allow'],
    [frontend, 'GET', '/%61pi/x?y=1', 'allow'],
  ];
  for (const [source, method, target, expected] of cases) {
    const decision = decide(t, '10.0.0.3', { source, port: 8080, http: http(method, target) });
    assert.equal(decision.decision, expected, `${source.kind === 'mesh' ? source.spiffeId : ''} ${method} ${target}`);
  }
  assert.equal(decide(t, '10.0.0.4', { source: mesh('shop', 'batch'), port: 8080, http: http('POST', '/x') }).decision, 'allow', 'cart is not selected');
  assert.equal(decide(t, '10.0.0.3', { source: frontend, port: 8080, http: 'not-http' }).decision, 'deny', 'an ALLOW with request conditions allows no opaque stream');
  assert.equal(decide(t, '10.0.0.3', { source: { kind: 'plaintext', ip: '10.9.9.9' }, port: 8080, http: http('GET', '/api/x') }).decision, 'deny');
});

test('a caller sees only the rules its sources match: the deciding rule is named as written, and callers sharing a narrowed policy do not mix', () => {
  const t = table(['AuthorizationPolicy', { metadata: { name: 'by-caller', namespace: 'shop' },
    spec: { action: 'ALLOW', rules: [
      { sources: [{ serviceAccount: { namespace: 'shop', name: 'frontend' } }], http: { paths: [{ type: 'Exact', value: '/front' }] } },
      { sources: [{ serviceAccount: { namespace: 'shop', name: 'batch' } }], http: { paths: [{ type: 'RegularExpression', value: '/jobs/[0-9]+' }, { type: 'PathPrefix', value: '/batch/' }] } },
      { http: { paths: [{ type: 'Exact', value: '/public' }] } },
      { sources: [{ serviceAccount: { namespace: 'shop', name: '*' } }], http: { paths: [{ type: 'PathPrefix', value: '/shared' }] } },
    ] } }]);
  const cases: [string, string, 'allow' | 'deny', number][] = [
    ['frontend', '/front', 'allow', 0],
    ['frontend', '/jobs/1', 'deny', -1],
    ['frontend', '/public', 'allow', 2],
    ['frontend', '/shared/x', 'allow', 3],
    ['batch', '/front', 'deny', -1],
    ['batch', '/jobs/12', 'allow', 1],
    ['batch', '/jobs/12x', 'deny', -1],
    ['batch', '/batch', 'allow', 1],
    ['batch', '/batchy', 'deny', -1],
    ['batch', '/public', 'allow', 2],
    ['batch', '/shared', 'allow', 3],
    ['other', '/shared', 'allow', 3],
    ['other', '/front', 'deny', -1],
  ];
  // Twice, so the second round runs on the callers' cached views.
  for (let round = 0; round < 2; round++) {
    for (const [sa, path, expected, rule] of cases) {
      const decision = decide(t, '10.0.0.3', { source: mesh('shop', sa), port: 8080, http: http('GET', path) });
      assert.equal(decision.decision, expected, `${sa} GET ${path}`);
      if (expected === 'allow') assert.equal(decision.rule, rule, `${sa} GET ${path}: deciding rule`);
    }
  }
  const trace: string[] = [];
  assert.equal(evaluateAuthz(t.byPodIp.get('10.0.0.3'), { source: mesh('shop', 'batch'), port: 8080, http: http('GET', '/jobs/3') }, trace).rule, 1, 'the traced (unnarrowed) evaluation names the same rule');
});

test('repeated headers: an ALLOW needs every value to match, a DENY any', () => {
  const allow = table(['AuthorizationPolicy', { metadata: { name: 'tenant', namespace: 'shop' },
    spec: { action: 'ALLOW', rules: [{ http: { headers: [{ name: 'X-Tenant', value: 'acme' }] } }] } }]);
  const ok = (t: ReturnType<typeof table>, values: string[]) => decide(t, '10.0.0.3', { source: mesh('shop', 'a'), port: 80, http: http('GET', '/', { 'x-tenant': values }) }).decision;
  assert.equal(ok(allow, ['acme']), 'allow');
  assert.equal(ok(allow, ['acme', 'evil']), 'deny');
  assert.equal(ok(allow, []), 'deny');
  const deny = table(['AuthorizationPolicy', { metadata: { name: 'no-evil', namespace: 'shop' },
    spec: { action: 'DENY', rules: [{ http: { headers: [{ name: 'x-tenant', value: 'evil' }] } }] } }]);
  assert.equal(ok(deny, ['acme', 'evil']), 'deny');
  assert.equal(ok(deny, ['acme']), 'allow');
});

test('a DENY with request conditions denies opaque streams to its targets (fail closed), and narrowing by port keeps other ports', () => {
  const t = table(['AuthorizationPolicy', { metadata: { name: 'no-delete', namespace: 'shop' },
    spec: { action: 'DENY', rules: [{ ports: [8080], http: { methods: ['DELETE'] } }] } }]);
  assert.equal(decide(t, '10.0.0.3', { source: mesh('shop', 'a'), port: 8080, http: 'not-http' }).decision, 'deny');
  assert.equal(decide(t, '10.0.0.3', { source: mesh('shop', 'a'), port: 9000, http: 'not-http' }).decision, 'allow');
  assert.equal(decide(t, '10.0.0.3', { source: mesh('shop', 'a'), port: 8080, http: http('GET', '/') }).decision, 'allow');
});

test('evaluation order: Admin ALLOW beats a namespace DENY; PASS hands over; Baseline applies only when no namespace ALLOW selects', () => {
  const adminAllow: [PolicyKind, object] = ['ClusterAuthorizationPolicy', { metadata: { name: 'oncall' },
    spec: { tier: 'Admin', priority: 1, action: 'ALLOW', subject: { namespaceSelector: {} }, rules: [{ sources: [{ spiffe: 'spiffe://cluster.local/ns/ops/sa/oncall' }] }] } }];
  const nsDeny: [PolicyKind, object] = ['AuthorizationPolicy', { metadata: { name: 'deny-all', namespace: 'shop' }, spec: { action: 'DENY' } }];
  const t = table(adminAllow, nsDeny);
  assert.equal(decide(t, '10.0.0.3', { source: mesh('ops', 'oncall'), port: 80, http: 'pending' }).decision, 'allow');
  assert.equal(decide(t, '10.0.0.3', { source: mesh('ops', 'other'), port: 80, http: 'pending' }).decision, 'deny');

  const pass: [PolicyKind, object] = ['ClusterAuthorizationPolicy', { metadata: { name: 'pass-shop' },
    spec: { tier: 'Admin', priority: 1, action: 'PASS', subject: { namespaceSelector: {} }, rules: [{ sources: [{ serviceAccount: { namespace: 'shop', name: '*' } }] }] } }];
  const adminDeny: [PolicyKind, object] = ['ClusterAuthorizationPolicy', { metadata: { name: 'deny-everyone' },
    spec: { tier: 'Admin', priority: 2, action: 'DENY', subject: { namespaceSelector: {} } } }];
  const t2 = table(pass, adminDeny);
  assert.equal(decide(t2, '10.0.0.3', { source: mesh('shop', 'x'), port: 80, http: 'pending' }).decision, 'allow', 'PASS skipped the rest of the Admin tier');
  assert.equal(decide(t2, '10.0.0.3', { source: mesh('prod', 'x'), port: 80, http: 'pending' }).decision, 'deny');

  const baselineDeny: [PolicyKind, object] = ['ClusterAuthorizationPolicy', { metadata: { name: 'baseline-deny' },
    spec: { tier: 'Baseline', action: 'DENY', subject: { namespaceSelector: {} } } }];
  const nsAllow: [PolicyKind, object] = ['AuthorizationPolicy', { metadata: { name: 'allow-shop', namespace: 'shop' },
    spec: { targetRefs: [{ group: '', kind: 'Pod', selector: { matchLabels: { app: 'orders' } } }], action: 'ALLOW', rules: [{ sources: [{ serviceAccount: { namespace: 'shop', name: '*' } }] }] } }];
  const t3 = table(baselineDeny, nsAllow);
  assert.equal(decide(t3, '10.0.0.3', { source: mesh('shop', 'x'), port: 80, http: 'pending' }).decision, 'allow', 'the namespace ALLOW decides before Baseline');
  assert.equal(decide(t3, '10.0.0.4', { source: mesh('shop', 'x'), port: 80, http: 'pending' }).decision, 'deny', 'no namespace policy selects cart: Baseline decides');
});

test('fail closed: a broken ALLOW rule allows nothing; a broken DENY rule denies everything; every problem names its field', () => {
  const badAllow = validatePolicy('AuthorizationPolicy', { metadata: { name: 'a', namespace: 'shop' },
    spec: { action: 'ALLOW', rules: [{ http: { paths: [{ type: 'RegularExpression', value: '(a' }] } }] } });
  assert.deepEqual(badAllow.problems.map((p) => p.field), ['spec.rules[0].http.paths[0].value']);
  const badDeny = validatePolicy('AuthorizationPolicy', { metadata: { name: 'd', namespace: 'shop' },
    spec: { action: 'DENY', targetRefs: [{ group: '', kind: 'Pod', selector: { matchLabels: { app: 'cart' } } }], rules: [{ sources: [{ ipBlock: { cidr: '10.0.0.0/33' } }] }] } });
  assert.deepEqual(badDeny.problems.map((p) => p.field), ['spec.rules[0].sources[0].ipBlock.cidr']);
  const t = buildAuthzTable({ policies: [badAllow, badDeny], namespaces, workloads, serviceSelector: () => undefined });
  assert.equal(decide(t, '10.0.0.3', { source: mesh('shop', 'a'), port: 80, http: http('GET', '/a') }).decision, 'deny', 'the broken ALLOW rule allows nothing');
  assert.equal(decide(t, '10.0.0.4', { source: mesh('shop', 'a'), port: 80, http: 'pending' }).decision, 'deny', 'the broken DENY denies everything');

  const network = validatePolicy('AuthorizationPolicy', { metadata: { name: 'n', namespace: 'shop' },
    spec: { action: 'ALLOW', enforcementLevel: 'Network', rules: [{ http: { methods: ['GET'] } }] } });
  assert.equal(network.problems[0]?.field, 'spec.rules[0].http');
  const lookaround = validatePolicy('AuthorizationPolicy', { metadata: { name: 'l', namespace: 'shop' },
    spec: { action: 'DENY', rules: [{ http: { headers: [{ name: 'x', type: 'RegularExpression', value: '(?=a)a' }] } }] } });
  assert.match(lookaround.problems[0]!.message, /RE2/);
  const action = validatePolicy('AuthorizationPolicy', { metadata: { name: 'x', namespace: 'shop' }, spec: { action: 'allow' } });
  assert.equal(action.problems[0]?.field, 'spec.action');
  const t2 = buildAuthzTable({ policies: [action], namespaces, workloads, serviceSelector: () => undefined });
  assert.equal(decide(t2, '10.0.0.4', { source: mesh('shop', 'a'), port: 80, http: 'pending' }).decision, 'deny', 'an unreadable action denies');
});

test('plaintext sources match only ipBlock and sourceless rules', () => {
  const t = table(['AuthorizationPolicy', { metadata: { name: 'ips', namespace: 'shop' },
    spec: { action: 'ALLOW', rules: [{ sources: [{ ipBlock: { cidr: '10.1.0.0/16', except: ['10.1.2.0/24'] } }] }] } }]);
  const plain = (ip: string) => decide(t, '10.0.0.3', { source: { kind: 'plaintext', ip }, port: 80, http: 'pending' }).decision;
  assert.equal(plain('10.1.1.1'), 'allow');
  assert.equal(plain('10.1.2.1'), 'deny');
  assert.equal(plain('10.2.0.1'), 'deny');
  assert.equal(decide(t, '10.0.0.3', { source: mesh('shop', 'a'), port: 80, http: 'pending' }).decision, 'deny', 'ipBlock never matches a mesh source');
});

test('request paths: one normal form, none for ambiguous spellings', () => {
  assert.equal(normalizeRequestPath('/a/./b/../c?x=/d'), '/a/c');
  assert.equal(normalizeRequestPath('//a///b'), '/a/b');
  assert.equal(normalizeRequestPath('/%7euser/%41'), '/~user/A');
  assert.equal(normalizeRequestPath('/a%20b'), '/a%20b');
  assert.equal(normalizeRequestPath('/../..'), '/');
  assert.equal(normalizeRequestPath('http://h:1/x/../y'), '/y');
  assert.equal(normalizeRequestPath('/a%2Fb'), undefined);
  assert.equal(normalizeRequestPath('/a%5cb'), undefined);
  assert.equal(normalizeRequestPath('/a%zz'), undefined);
});

test('plaintext the kernel must drop: pods an enforced ALLOW selects, or a DENY that can match a source without identity', () => {
  const guarded = (...objects: [PolicyKind, object][]) => [...table(...objects).plaintextGuardedUids].sort();
  assert.deepEqual(guarded(ordersReaders), ['uid-3'], 'the ALLOW selects orders only');
  assert.deepEqual(guarded(noProdToDev), [], 'a DENY whose sources all need a mesh identity never denies plaintext');
  assert.deepEqual(guarded(['AuthorizationPolicy', { metadata: { name: 'd', namespace: 'shop' }, spec: { action: 'DENY', rules: [{ ports: [9000] }] } }]), ['uid-3', 'uid-4']);
  assert.deepEqual(guarded(['AuthorizationPolicy', { metadata: { name: 'd', namespace: 'shop' }, spec: { action: 'DENY', rules: [{ sources: [{ ipBlock: { cidr: '10.9.0.0/16' } }] }] } }]), ['uid-3', 'uid-4']);
  const [kind, object] = ordersReaders;
  assert.deepEqual(guarded([kind, { ...object, metadata: { ...(object as { metadata: object }).metadata, annotations: { 'weft.io/dry-run': 'true' } } }]), [], 'dry-run enforces nothing');
});

test('the kernel\'s plaintext allow-list: each prefix decided by the evaluator on an address only it covers; ports or request conditions fail closed', () => {
  const list = (...objects: [PolicyKind, object][]) => {
    const t = table(...objects);
    const prefixes = plaintextAllowList(t.byPodIp.get('10.0.0.3')!);
    return prefixes?.map((p) => `${p.ip4}/${p.prefixLength} ${p.allow ? 'allow' : 'deny'}`);
  };
  assert.deepEqual(list(['AuthorizationPolicy', { metadata: { name: 'ips', namespace: 'shop' },
    spec: { action: 'ALLOW', targetRefs: [{ group: '', kind: 'Pod', selector: { matchLabels: { app: 'orders' } } }], rules: [{ sources: [{ ipBlock: { cidr: '10.1.0.0/16', except: ['10.1.2.0/24'] } }] }] } }]), [
    '0.0.0.0/0 deny', '10.1.0.0/16 allow', '10.1.2.0/24 deny',
  ]);
  assert.deepEqual(list(['AuthorizationPolicy', { metadata: { name: 'deny-some', namespace: 'shop' },
    spec: { action: 'DENY', rules: [{ sources: [{ ipBlock: { cidr: '192.168.0.0/24' } }] }] } }]), [
    '0.0.0.0/0 allow', '192.168.0.0/24 deny',
  ], 'a DENY of some addresses leaves the others allowed');
  assert.equal(list(['AuthorizationPolicy', { metadata: { name: 'ported', namespace: 'shop' },
    spec: { action: 'ALLOW', rules: [{ sources: [{ ipBlock: { cidr: '10.1.0.0/16' } }], ports: [8080] }] } }]), undefined, 'ports: no list, so no plaintext');
  assert.deepEqual(list(ordersReaders), ['0.0.0.0/0 deny'], 'an ALLOW without ipBlock takes no plaintext');
});
