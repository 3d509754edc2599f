// `weft convert istio` as a user runs it (the real binary): Istio policies in, Weft policies out
// that Weft accepts without a problem and that decide as the Istio ones did; everything that has
// no Weft form is listed, with where it was, and the exit code says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { validatePolicy } from '../../agent/src/authz/policy-validation.js';
import { repoRoot } from '../support/repo-root.js';

const weft = join(repoRoot, 'dist', 'agent', 'src', 'cli', 'main.js');
const istioFile = join(repoRoot, 'test', 'authz', 'testdata', 'istio-policies.yaml');
const examples = join(repoRoot, 'examples', 'authorization');

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [weft, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('converts what Weft can express, lists the rest, exits 1', async () => {
  const result = await run(['convert', 'istio', '-f', istioFile]);
  assert.equal(result.code, 1, result.stderr);
  const policies = parseAllDocuments(result.stdout).map((d) => d.toJS() as { kind: string; metadata: { name: string; namespace: string }; spec: any });
  assert.deepEqual(policies.map((p) => `${p.metadata.namespace}/${p.metadata.name}`), ['shop/orders-readers', 'dev/no-prod', 'shop/tenant-gate']);
  for (const policy of policies) assert.deepEqual(validatePolicy('AuthorizationPolicy', policy).problems, [], `${policy.metadata.name} is valid Weft`);
  assert.deepEqual(policies[0]!.spec, {
    targetRefs: [{ group: '', kind: 'Pod', selector: { matchLabels: { app: 'orders' } } }],
    action: 'ALLOW',
    rules: [{ sources: [{ spiffe: 'spiffe://cluster.local/ns/shop/sa/frontend' }], http: { methods: ['GET', 'HEAD'], paths: [{ type: 'PathPrefix', value: '/api' }] } }],
    enforcementLevel: 'Application',
  });
  assert.deepEqual(policies[2]!.spec.rules, [{ http: { headers: [{ name: 'x-tenant', type: 'Exact', value: 'evil' }] } }], 'the convertible DENY rule is kept');
  const lines = result.stderr.trim().split('\n');
  assert.ok(lines.some((l) => l.includes('shop/tenant-gate spec.rules[0].from[0].source.notPrincipals: negated sources have no Weft form')), result.stderr);
  assert.ok(lines.some((l) => l.includes('shop/tenant-gate spec.rules: 1 DENY rule(s) could not be converted: the converted policy denies less')), result.stderr);
  assert.ok(lines.some((l) => l.includes('shop/ext-authz spec.action: CUSTOM')), result.stderr);
});

test('the converted policies decide as the Istio ones: checked with weft policy explain', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-convert-'));
  try {
    await writeFile(join(dir, 'converted.yaml'), (await run(['convert', 'istio', '-f', istioFile])).stdout);
    const explain = async (args: string[]) => (await run(['policy', 'explain', ...args, '-f', join(examples, '00-namespaces.yaml'), '-f', join(examples, '10-services.yaml'), '-f', dir])).code;
    assert.equal(await explain(['--from', 'shop/frontend', '--to', 'orders.shop:80', '--method', 'GET', '--path', '/api/x']), 0);
    assert.equal(await explain(['--from', 'shop/frontend', '--to', 'orders.shop:80', '--method', 'POST', '--path', '/api/x']), 1);
    assert.equal(await explain(['--from', 'shop/batch', '--to', 'orders.shop:80', '--method', 'GET', '--path', '/api/x']), 1);
    assert.equal(await explain(['--from', 'prod/default', '--to', 'web.dev:80', '--method', 'GET']), 1, 'no-prod: namespace prod by its kubernetes.io/metadata.name label');
    assert.equal(await explain(['--from', 'dev/default', '--to', 'web.dev:80', '--method', 'GET']), 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bad usage exits 2 with a message', async () => {
  for (const [args, message] of [[['convert'], /needs a source/], [['convert', 'linkerd', '-f', istioFile], /istio only/], [['convert', 'istio'], /needs -f FILE/], [['convert', 'istio', '-f', '/nonexistent.yaml'], /cannot read/]] as const) {
    const result = await run([...args]);
    assert.equal(result.code, 2, result.stdout);
    assert.match(result.stderr, message);
  }
});
