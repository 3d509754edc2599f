// `weft ca` as a process: flag handling like `weft agent`, and a full start against the in-repo
// API server, one certificate over gRPC/TLS, and a clean SIGTERM.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { repoRoot } from '../support/repo-root.js';
import { waitFor } from '../support/wait-for.js';
import { createWorkloadKeyAndCsr } from '../../agent/src/identity/workload-csr-builder.js';
import { CaTestCluster, CaTestClient } from './ca-test-cluster.js';

const weft = join(repoRoot, 'dist', 'agent', 'src', 'cli', 'main.js');

function runWeft(args: string[]) {
  return spawnSync(process.execPath, [weft, ...args], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH } });
}

test('weft ca --help lists the flags and exits 0', () => {
  const result = runWeft(['ca', '--help']);
  assert.equal(result.status, 0, result.stderr);
  for (const flag of ['--namespace', '--trust-domain', '--default-ttl', '--max-ttl', '--audience', '--agent-service-account', '--service-name', '--ip-san']) {
    assert.ok(result.stdout.includes(flag), `usage mentions ${flag}`);
  }
});

test('bad flags exit 2 with a message naming the flag', () => {
  const unknown = runWeft(['ca', '--frobnicate', 'x']);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /weft: ca: unknown flag --frobnicate/);
  const shortTtl = runWeft(['ca', '--default-ttl', '10s']);
  assert.equal(shortTtl.status, 2);
  assert.match(shortTtl.stderr, /--default-ttl .*at least 60s/);
});

describe('weft ca process', () => {
  let cluster: CaTestCluster;
  let child: ChildProcess | undefined;
  let exited: Promise<number | null> | undefined;
  const stdoutLines: string[] = [];

  before(async () => {
    cluster = await CaTestCluster.start();
    await cluster.namespace('weft-system');
    await cluster.namespace('shop');
    await cluster.serviceAccount('weft-system', 'weft-agent');
    await cluster.serviceAccount('shop', 'web');
    await cluster.pod('weft-system', 'weft-agent-abc', 'weft-agent', 'node-1');
    await cluster.pod('shop', 'web-1', 'web', 'node-1');
  });

  after(async () => {
    if (child?.exitCode === null) child.kill('SIGKILL');
    await exited;
    await cluster?.close();
  });

  test('serves certificates until SIGTERM, then exits 0', async () => {
    child = spawn(
      process.execPath,
      [weft, 'ca', '--kubeconfig', cluster.apiServer.kubeconfigPath, '--listen-host', '127.0.0.1', '--port', '0', '--ip-san', '127.0.0.1', '--default-ttl', '60s', '--max-ttl', '60s'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH } },
    );
    exited = new Promise((resolve) => child!.once('exit', (code) => resolve(code)));
    let buffered = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      stdoutLines.push(...lines);
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const ready = await waitFor(
      () => {
        if (child!.exitCode !== null) throw new Error(`weft ca exited ${child!.exitCode}: ${stderr}${stdoutLines.join('\n')}`);
        return stdoutLines.map((l) => JSON.parse(l) as { msg: string; port?: number }).find((l) => l.msg === 'ca ready');
      },
      { timeoutMs: 30_000, what: 'weft ca to log "ca ready"' },
    );
    const configMap = await cluster.core.readNamespacedConfigMap({ namespace: 'weft-system', name: 'weft-trust-bundle' });
    const client = new CaTestClient(ready.port!, configMap.data!['ca.crt']!);
    try {
      const token = await cluster.podBoundToken('weft-system', 'weft-agent', 'weft-agent-abc');
      const { csrPem } = await createWorkloadKeyAndCsr('spiffe://cluster.local/ns/shop/sa/web');
      const { response, error } = await client.call(csrPem, 0, token);
      assert.equal(error, undefined, error?.details);
      const leaf = new X509Certificate(response!.cert_chain[0]!);
      assert.equal(leaf.subjectAltName, 'URI:spiffe://cluster.local/ns/shop/sa/web');
      const lifetimeMs = Date.parse(leaf.validTo) - Date.now();
      assert.ok(lifetimeMs > 30_000 && lifetimeMs <= 60_000, `60 s lifetime, ${lifetimeMs} ms left`);
    } finally {
      client.close();
    }
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.ok(stdoutLines.some((l) => l.includes('"msg":"certificate issued"')));
    assert.ok(!stdoutLines.some((l) => l.includes('eyJ')), 'no token in the log');
  });
});
