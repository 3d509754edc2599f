// Issue "Authorization", proofs 1, 2, 4, 5 and 6 on a two-node bed with real traffic, with the
// namespaces and policies of examples/authorization applied as a user would: the
// ClusterAuthorizationPolicy keeps production from calling development (HTTP 403, opaque TCP
// reset, on the same node and across nodes; dev->dev and dev->prod keep working), dry-run counts
// the would-be denials without enforcing them, the method-level AuthorizationPolicy lets only
// shop/frontend GET|HEAD /api/* on orders, deleting a policy restores access, a policy the agent
// cannot apply denies instead of allowing, and `weft policy explain` against the bed's API
// server agrees with what the bed enforced, case by case.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { repoRoot } from '../support/repo-root.js';
import { waitFor } from '../support/wait-for.js';
import { BedFixture, sumMetric } from './bed-fixture.js';

// The examples' names: this bed is this file's own, so nothing else uses them.
const prod = 'prod';
const dev = 'dev';
const shop = 'shop';
const noProdToDev = 'no-prod-to-dev';
const CLUSTER_POLICY_ID = `ClusterAuthorizationPolicy//${noProdToDev}`;
const outside = 'outside';
const examples = join(repoRoot, 'examples', 'authorization');
const weft = join(repoRoot, 'dist', 'agent', 'src', 'cli', 'main.js');
let bed: BedFixture;
const ips: Record<string, string> = {};
let ordersPodIp = '';

async function apply(object: object): Promise<void> {
  await bed.kubectl(['apply', '-f', '-'], stringifyYaml(object));
}

/** `weft policy explain` against the bed's API server: its exit code (0 allowed, 1 denied) and output. */
function explain(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [weft, 'policy', 'explain', ...args, '--kubeconfig', bed.kubeconfig], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr });
    });
  });
}

/** Asserts that explain predicts the status the bed enforced (403 = deny, anything else = allow). */
async function explainAgrees(status: number, args: string[]): Promise<void> {
  const result = await explain(args);
  assert.equal(result.code, status === 403 ? 1 : 0, `weft policy explain ${args.join(' ')} disagrees with the enforced ${status}:\n${result.output}`);
}

/** One HTTP request from a client pod: status, the x-weft-error header ('' when none) and the body. */
async function request(client: string, ns: string, url: string, method = 'GET'): Promise<{ status: number; error: string; body: string }> {
  const methodArgs = method === 'HEAD' ? ['--head'] : ['-X', method];
  const result = await bed.exec(client, ns, ['curl', '-s', '-i', '--path-as-is', '-m', '5', ...methodArgs, url]);
  const split = result.stdout.indexOf('\r\n\r\n');
  const head = split < 0 ? result.stdout : result.stdout.slice(0, split);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  const error = /^x-weft-error: (\S+)/im.exec(head)?.[1] ?? '';
  return { status, error, body: split < 0 ? '' : result.stdout.slice(split + 4) };
}

/** Reads the banner of an opaque TCP service: the first line, or `error: <reason>` when the connection failed or was reset. */
async function banner(client: string, ns: string, ip: string, port: number): Promise<string> {
  const py = [
    'import socket, sys',
    'try:',
    `    s = socket.create_connection(("${ip}", ${port}), timeout=10)`,
    '    print(s.makefile("rb").readline().decode().strip())',
    'except OSError as e:',
    '    print("error: " + (e.strerror or type(e).__name__))',
  ].join('\n');
  return (await bed.exec(client, ns, ['python3', '-c', py])).stdout.trim();
}

async function service(ns: string, name: string, node: string, mode: 'http' | 'banner', port: number, targetPort: number): Promise<void> {
  await apply({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns },
    spec: { selector: { app: name }, ports: [{ name: 'main', port, targetPort, appProtocol: mode === 'http' ? 'http' : 'tcp' }] } });
  await bed.runEcho(name, ns, node, mode, targetPort, `app=${name}`);
  ips[`${ns}/${name}`] = (await bed.kubectl(['-n', ns, 'get', 'service', name, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
}

/** A pod behind one of the examples' Services (selector app=<name>, port 80 -> 8080). */
async function exampleService(ns: string, name: string, node: string): Promise<void> {
  await bed.runEcho(name, ns, node, 'http', 8080, `app=${name}`);
  ips[`${ns}/${name}`] = (await bed.kubectl(['-n', ns, 'get', 'service', name, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
}

function url(ns: string, name: string, path = '/'): string {
  return `http://${ips[`${ns}/${name}`]}${path}`;
}


before(async () => {
  bed = await BedFixture.up('e2e-authz');
  await bed.kubectl(['apply', '-f', join(examples, '00-namespaces.yaml'), '-f', join(examples, '10-services.yaml')]);
  await Promise.all([
    service(dev, 'web-local', 'node-1', 'http', 80, 8080),
    service(dev, 'web-remote', 'node-2', 'http', 80, 8080),
    service(dev, 'banner', 'node-2', 'banner', 7000, 7000),
    exampleService(prod, 'web', 'node-2'),
    exampleService(shop, 'orders', 'node-2'),
  ]);
  // A namespace outside the mesh: its pods speak plaintext.
  await bed.kubectl(['create', 'namespace', outside]);
  await Promise.all([
    bed.bedOk(['run', 'client', '-n', outside, '--node', 'node-1', '--', 'sleep', 'infinity']),
    bed.bedOk(['run', 'client', '-n', prod, '--node', 'node-1', '--', 'sleep', 'infinity']),
    bed.bedOk(['run', 'client', '-n', dev, '--node', 'node-1', '--', 'sleep', 'infinity']),
    bed.bedOk(['run', 'frontend', '-n', shop, '--node', 'node-1', '--service-account', 'frontend', '--', 'sleep', 'infinity']),
    bed.bedOk(['run', 'batch', '-n', shop, '--node', 'node-1', '--service-account', 'batch', '--', 'sleep', 'infinity']),
  ]);
  // Every path works before any policy: enrolled, endpoints known, certificates issued.
  for (const [client, ns, target] of [['client', prod, url(dev, 'web-local')], ['client', prod, url(dev, 'web-remote')], ['client', dev, url(prod, 'web')], ['frontend', shop, url(shop, 'orders')], ['batch', shop, url(shop, 'orders')]] as const) {
    await waitFor(async () => (await request(client, ns, target)).status === 200, { timeoutMs: 90_000, what: `${ns}/${client} -> ${target} through the mesh` });
  }
  await waitFor(async () => (await banner('client', prod, ips[`${dev}/banner`]!, 7000)).startsWith('HELLO'), { timeoutMs: 60_000, what: 'the banner through the mesh' });
  ordersPodIp = (await bed.status()).pods.find((p) => p.namespace === shop && p.name === 'orders')!.ip;
  await waitFor(async () => (await request('client', outside, `http://${ordersPodIp}:8080/api/x`)).status === 200, { timeoutMs: 30_000, what: 'plaintext reaching orders before any policy' });
});

after(async () => {
  await bed?.down();
});

test('production may not call development: HTTP 403 on the same node and across, TCP refused at connect() (EPERM, counted); dev->dev and dev->prod work', async () => {
  await bed.kubectl(['apply', '-f', join(examples, '20-no-prod-to-dev.yaml')]);
  await waitFor(async () => (await request('client', prod, url(dev, 'web-remote'))).status === 403, { timeoutMs: 30_000, what: 'the policy enforced on node-2' });
  await waitFor(async () => (await request('client', prod, url(dev, 'web-local'))).status === 403, { timeoutMs: 30_000, what: 'the policy enforced on node-1' });
  for (const target of ['web-local', 'web-remote']) {
    const denied = await request('client', prod, url(dev, target, '/x'));
    assert.equal(denied.status, 403, target);
    assert.equal(denied.error, 'ERR_AUTHZ_DENIED', target);
    assert.doesNotMatch(denied.body, new RegExp(noProdToDev), 'no policy names to the caller');
  }
  // A TCP Service whose policy decides on the connection alone: the source node's kernel refuses
  // the connect (EPERM) before a packet leaves the pod, and counts it.
  assert.equal(await banner('client', prod, ips[`${dev}/banner`]!, 7000), 'error: Operation not permitted', 'opaque TCP from prod is refused at connect()');
  assert.ok(sumMetric(await bed.metrics('node-1'), 'weft_authz_connect_denied_total', { policy: CLUSTER_POLICY_ID }) >= 1, 'the refused connect is counted on the source node');
  const devToDev = await request('client', dev, url(dev, 'web-remote'));
  assert.equal(devToDev.status, 200, 'dev -> dev');
  const devToProd = await request('client', dev, url(prod, 'web'));
  assert.equal(devToProd.status, 200, 'dev -> prod');
  await explainAgrees(403, ['--from', 'prod/default', '--to', 'web-remote.dev:80', '--method', 'GET', '--path', '/x']);
  await explainAgrees(403, ['--from', 'prod/default', '--to', 'banner.dev:7000']);
  await explainAgrees(devToDev.status, ['--from', 'dev/default', '--to', 'web-remote.dev:80', '--method', 'GET']);
  await explainAgrees(devToProd.status, ['--from', 'dev/default', '--to', 'web.prod:80', '--method', 'GET']);
  assert.ok(sumMetric(await bed.metrics('node-2'), 'weft_authz_decisions_total', { decision: 'deny', policy: CLUSTER_POLICY_ID, dry_run: 'false', reporter: 'destination' }) >= 2);
  assert.ok(sumMetric(await bed.metrics('node-1'), 'weft_authz_decisions_total', { decision: 'deny', policy: CLUSTER_POLICY_ID, dry_run: 'false' }) >= 1);
});

test('in dry-run the policy enforces nothing and counts what it would have denied', async () => {
  await bed.kubectl(['annotate', 'clusterauthorizationpolicy', noProdToDev, 'weft.io/dry-run=true']);
  await waitFor(async () => (await request('client', prod, url(dev, 'web-remote'))).status === 200, { timeoutMs: 30_000, what: 'the dry-run policy no longer enforced' });
  const wouldBe = async () => sumMetric(await bed.metrics('node-2'), 'weft_authz_decisions_total', { decision: 'deny', policy: CLUSTER_POLICY_ID, dry_run: 'true' });
  const before = await wouldBe();
  assert.equal((await request('client', prod, url(dev, 'web-remote'))).status, 200);
  assert.ok((await banner('client', prod, ips[`${dev}/banner`]!, 7000)).startsWith('HELLO'), 'opaque TCP allowed in dry-run');
  assert.ok((await wouldBe()) >= before + 2, 'the would-be denials of the request and the TCP connection are counted');
  const explained = await explain(['--from', 'prod/default', '--to', 'web-remote.dev:80', '--method', 'GET']);
  assert.equal(explained.code, 0, explained.output);
  assert.match(explained.output, /dry-run: +would be DENY by ClusterAuthorizationPolicy\/\/no-prod-to-dev/);
  await bed.kubectl(['delete', 'clusterauthorizationpolicy', noProdToDev]);
});

test('method level: only shop/frontend may GET|HEAD /api/* on orders; allowed requests carry the verified identity', async () => {
  await bed.kubectl(['apply', '-f', join(examples, '30-orders-readers.yaml')]);
  await waitFor(async () => (await request('batch', shop, url(shop, 'orders', '/api/x'))).status === 403, { timeoutMs: 30_000, what: 'the ALLOW policy enforced' });
  await waitFor(async () => (await bed.kubectl(['-n', shop, 'get', 'authorizationpolicy', 'orders-readers', '-o', 'jsonpath={.status.conditions[?(@.type=="Accepted")].status}'])).trim() === 'True',
    { timeoutMs: 30_000, what: 'orders-readers Accepted' });
  // Plaintext from outside the mesh never reaches the proxy: the kernel drops it at the pod. The
  // node itself (kubelet probes) still gets through.
  await waitFor(async () => (await request('client', outside, `http://${ordersPodIp}:8080/api/x`)).status === 0, { timeoutMs: 30_000, what: 'plaintext to orders dropped' });
  const probe = await bed.bed(['exec', '--node', 'node-2', '--', 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '5', `http://${ordersPodIp}:8080/healthz`]);
  assert.equal(probe.stdout.trim(), '200', 'a probe from the node passes');
  await explainAgrees(403, ['--from-ip', '10.244.1.99', '--to', 'orders.shop:80']);
  // An ipBlock rule for the outside client's address lets its plaintext in, and only its.
  const outsideIp = (await bed.status()).pods.find((p) => p.namespace === outside && p.name === 'client')!.ip;
  await apply({ apiVersion: 'weft.io/v1alpha1', kind: 'AuthorizationPolicy', metadata: { name: 'outside-client', namespace: shop },
    spec: { targetRefs: [{ group: '', kind: 'Service', name: 'orders' }], action: 'ALLOW', rules: [{ sources: [{ ipBlock: { cidr: `${outsideIp}/32` } }] }] } });
  await waitFor(async () => (await request('client', outside, `http://${ordersPodIp}:8080/api/x`)).status === 200, { timeoutMs: 30_000, what: 'plaintext from the ipBlock address allowed' });
  await explainAgrees(200, ['--from-ip', outsideIp, '--to', 'orders.shop:80']);
  await explainAgrees(403, ['--from-ip', '10.244.1.99', '--to', 'orders.shop:80']);
  await bed.kubectl(['-n', shop, 'delete', 'authorizationpolicy', 'outside-client']);
  await waitFor(async () => (await request('client', outside, `http://${ordersPodIp}:8080/api/x`)).status === 0, { timeoutMs: 30_000, what: 'plaintext dropped again' });
  const allowed = await request('frontend', shop, url(shop, 'orders', '/api/x'));
  assert.equal(allowed.status, 200);
  assert.equal((JSON.parse(allowed.body) as { headers: Record<string, string> }).headers['x-weft-peer-identity'], `spiffe://cluster.local/ns/${shop}/sa/frontend`);
  const cases: [string, string, string, number][] = [
    ['frontend', 'GET', '/api/x', 200],
    ['frontend', 'HEAD', '/api/x', 200],
    ['frontend', 'POST', '/api/x', 403],
    ['frontend', 'GET', '/healthz', 403],
    ['frontend', 'GET', '/api/../admin', 403],
    ['batch', 'GET', '/api/x', 403],
  ];
  for (const [client, method, path, expected] of cases) {
    const status = (await request(client, shop, url(shop, 'orders', path), method)).status;
    assert.equal(status, expected, `${client} ${method} ${path}`);
    await explainAgrees(status, ['--from', `${shop}/${client}`, '--to', 'orders.shop:80', '--method', method, '--path', path]);
  }
});

test('deleting the policy restores access', async () => {
  await bed.kubectl(['-n', shop, 'delete', 'authorizationpolicy', 'orders-readers']);
  await waitFor(async () => (await request('batch', shop, url(shop, 'orders', '/api/x'))).status === 200, { timeoutMs: 30_000, what: 'access restored' });
  await waitFor(async () => (await request('client', outside, `http://${ordersPodIp}:8080/api/x`)).status === 200, { timeoutMs: 30_000, what: 'plaintext to orders allowed again' });
  assert.equal((await request('frontend', shop, url(shop, 'orders', '/healthz'), 'POST')).status, 200);
});

test('bad input: the schema refuses what it can; a rule the agent cannot apply denies instead of allowing', async () => {
  const refused = await bed.kubectlResult(['apply', '-f', '-'], stringifyYaml({
    apiVersion: 'weft.io/v1alpha1', kind: 'AuthorizationPolicy', metadata: { name: 'bad-action', namespace: shop }, spec: { action: 'allow' } }));
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /spec\.action/);
  // A valid object the agent cannot apply (an invalid regular expression): the rule allows nothing.
  await apply({ apiVersion: 'weft.io/v1alpha1', kind: 'AuthorizationPolicy', metadata: { name: 'bad-regex', namespace: shop },
    spec: { targetRefs: [{ group: '', kind: 'Service', name: 'orders' }], action: 'ALLOW',
      rules: [{ http: { paths: [{ type: 'RegularExpression', value: '/api/(unclosed' }] } }] } });
  await waitFor(async () => (await request('frontend', shop, url(shop, 'orders', '/api/unclosed'))).status === 403, { timeoutMs: 30_000, what: 'the broken ALLOW rule allowing nothing' });
  // weft controller says so in the policy's status, naming the field.
  const accepted = await waitFor(async () => {
    const text = await bed.kubectl(['-n', shop, 'get', 'authorizationpolicy', 'bad-regex', '-o', 'jsonpath={.status.conditions[?(@.type=="Accepted")]}']);
    return text.trim() !== '' && (JSON.parse(text) as { status: string; reason: string; message: string });
  }, { timeoutMs: 30_000, what: 'the Accepted condition written' });
  assert.equal(accepted.status, 'False');
  assert.equal(accepted.reason, 'Invalid');
  assert.match(accepted.message, /spec\.rules\[0\]\.http\.paths\[0\]\.value: invalid regular expression/);
  await bed.kubectl(['-n', shop, 'delete', 'authorizationpolicy', 'bad-regex']);
});

test('agent restarts open no window: under the prod->dev policy, no request from prod is ever allowed while both agents are replaced', async () => {
  await bed.kubectl(['apply', '-f', join(examples, '20-no-prod-to-dev.yaml')]);
  const targets = [url(dev, 'web-local'), url(dev, 'web-remote')];
  for (const target of targets) {
    await waitFor(async () => (await request('client', prod, target)).status === 403, { timeoutMs: 30_000, what: `${target} denied` });
  }
  const probeFile = join(bed.state, 'restart-probe.log');
  const stopFile = join(bed.state, 'restart-probe.stop');
  const prober = bed.bed(['exec', 'client', '-n', prod, '--', process.execPath, join(repoRoot, 'dist', 'test', 'e2e', 'fixtures', 'status-prober.js'), probeFile, stopFile, ...targets], { timeoutMs: 600_000 });
  const seen = (): string[] => (existsSync(probeFile) ? readFileSync(probeFile, 'utf8').trim().split('\n') : []);
  await waitFor(() => targets.every((t) => seen().some((l) => l.endsWith(`${t} 403`))), { timeoutMs: 30_000, what: 'the prober seeing 403 from both nodes' });
  for (const node of ['node-1', 'node-2']) {
    const before = (await bed.status()).nodes.find((n) => n.name === node)!.agentPid!;
    process.kill(before, 'SIGTERM');
    await waitFor(async () => {
      const pid = (await bed.status()).nodes.find((n) => n.name === node)!.agentPid;
      return pid !== null && pid !== before;
    }, { timeoutMs: 60_000, what: `a new agent on ${node}` });
    await waitFor(async () => (await bed.bed(['exec', '--node', node, '--', 'curl', '-sf', '-m', '2', 'http://127.0.0.1:15020/readyz'])).code === 0, { timeoutMs: 60_000, what: `the new agent on ${node} ready` });
  }
  writeFileSync(stopFile, '');
  assert.equal((await prober).code, 0);
  const lines = seen();
  const total = Number(/ total (\d+)$/.exec(lines.at(-1) ?? '')?.[1] ?? 0);
  assert.ok(total > 100, `the prober kept asking through both restarts (${total} requests)`);
  assert.deepEqual(lines.filter((l) => / 200$/.test(l)), [], `no request was allowed:\n${lines.join('\n')}`);
  await bed.kubectl(['delete', 'clusterauthorizationpolicy', noProdToDev]);
});
