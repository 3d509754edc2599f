// `weft policy explain` as a user runs it in CI, offline on the examples' YAML files (the real
// binary, its exit code and output), and its refusals of bad flags. That it agrees with what the
// agents enforce is proven on the bed (test/e2e/authorization.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../support/repo-root.js';

const weft = join(repoRoot, 'dist', 'agent', 'src', 'cli', 'main.js');
const examples = join(repoRoot, 'examples', 'authorization');

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [weft, 'policy', 'explain', ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('the examples, offline: prod -> dev denied by the cluster policy, with the trace; dev -> dev allowed', async () => {
  const denied = await run(['--from', 'prod/default', '--to', 'web.dev:80', '-f', examples]);
  assert.equal(denied.code, 1, denied.stderr);
  assert.match(denied.stdout, /^decision: DENY$/m);
  assert.match(denied.stdout, /^by: +ClusterAuthorizationPolicy\/\/no-prod-to-dev rule 0/m);
  assert.match(denied.stdout, /^ {2}ClusterAuthorizationPolicy\/\/no-prod-to-dev: DENY matches \(rule 0\)$/m);
  const allowed = await run(['--from', 'dev/default', '--to', 'web.dev:80', '--method', 'GET', '-f', examples]);
  assert.equal(allowed.code, 0, allowed.stdout);
});

test('the examples, offline: method level on orders', async () => {
  const cases: [string, string, string, number][] = [
    ['shop/frontend', 'GET', '/api/orders/1', 0],
    ['shop/frontend', 'HEAD', '/api', 0],
    ['shop/frontend', 'POST', '/api/orders', 1],
    ['shop/frontend', 'GET', '/healthz', 1],
    ['shop/batch', 'GET', '/api/orders/1', 1],
  ];
  for (const [from, method, path, code] of cases) {
    const result = await run(['--from', from, '--to', 'orders.shop:80', '--method', method, '--path', path, '-f', examples]);
    assert.equal(result.code, code, `${from} ${method} ${path}:\n${result.stdout}${result.stderr}`);
  }
  const connection = await run(['--from', 'shop/frontend', '--to', 'orders.shop:80', '-f', examples]);
  assert.equal(connection.code, 1, 'a stream that is not HTTP gets nothing from an ALLOW with request conditions');
  assert.match(connection.stdout, /decide per HTTP request/);
});

test('a policy with a problem is shown with its field and enforced fail-closed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-explain-'));
  try {
    await writeFile(join(dir, 'bad.yaml'), [
      'apiVersion: weft.io/v1alpha1', 'kind: AuthorizationPolicy', 'metadata: {name: bad, namespace: shop}',
      'spec: {action: DENY, rules: [{sources: [{ipBlock: {cidr: 10.0.0.0/40}}]}]}',
    ].join('\n'));
    const result = await run(['--from', 'shop/frontend', '--to', 'orders.shop:80', '--method', 'GET', '--path', '/api', '-f', examples, '-f', dir]);
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stdout, /spec\.rules\[0\]\.sources\[0\]\.ipBlock\.cidr: not an IPv4 CIDR/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bad usage stops with a message naming the problem (exit 2)', async () => {
  for (const [args, message] of [
    [['--from', 'prod', '--to', 'web.dev:80', '-f', examples], /--from must be NAMESPACE\/SERVICEACCOUNT/],
    [['--from', 'prod/default', '--to', 'web:80', '-f', examples], /--to must be SERVICE\.NAMESPACE:PORT/],
    [['--from', 'prod/default', '--to', 'web.dev:80'], /either -f FILE_OR_DIR\.\.\. or --kubeconfig/],
    [['--from', 'prod/default', '--to', 'nope.dev:80', '-f', examples], /Service dev\/nope not found/],
    [['--from', 'prod/default', '--to', 'web.dev:80', '--bogus', '-f', examples], /unknown flag --bogus/],
  ] as const) {
    const result = await run([...args]);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stdout}`);
    assert.match(result.stderr, message);
  }
});
