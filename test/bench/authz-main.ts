// `make bench-authz` (also run by `make bench`): the cost of authorization (issue 10).
//  1. Decision cost, in this process with the agent's own table builder and evaluator: 1 000
//     policies in the cluster (120 of them select the measured workload, with path, method and
//     header conditions; about ten of them concern any one caller, with a regular expression
//     each) and 10 000 source identities; the same run measures a workload no policy selects.
//     Aim: <= 2 us per request.
//  2. Propagation on a two-node bed: a DENY policy is created, then deleted, 20 times in all; a
//     prober in a client pod requests a backend on each node without pause and notes when the
//     answer changes. Measured: from the API server's answer to the create/delete until every
//     node's backend answers accordingly. Aim: p99 <= 100 ms.
// `--decision-only` measures the first part alone (no bed, no root).
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { stringify as stringifyYaml } from 'yaml';
import { buildAuthzTable, type AuthzWorkload } from '../../agent/src/authz/authz-table.js';
import { evaluateAuthz, type AuthzRequest } from '../../agent/src/authz/authz-evaluator.js';
import { validatePolicy } from '../../agent/src/authz/policy-validation.js';
import type { PolicyDefinition } from '../../agent/src/authz/policy-definition.js';
import { repoRoot } from '../support/repo-root.js';
import { waitFor } from '../support/wait-for.js';
import { BenchBed } from './bench-bed.js';

const DECISION_AIM_US = 2;
const PROPAGATION_P99_AIM_MS = 100;
const CHANGES = 20;
const NAMESPACE = 'authz-bench';

function log(message: string): void {
  process.stderr.write(`[bench-authz] ${message}\n`);
}

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * q) - 1)]!;
}

/** 1 000 policies over 100 namespaces; the measured workload (shop/orders) is selected by 100 namespace and 20 cluster policies. */
function policies(): PolicyDefinition[] {
  const out: PolicyDefinition[] = [];
  for (let n = 0; n < 88; n++) {
    for (let p = 0; p < 10; p++) {
      out.push(validatePolicy('AuthorizationPolicy', { metadata: { name: `p${p}`, namespace: `ns-${n}` }, spec: { action: p % 2 ? 'ALLOW' : 'DENY', rules: [{ sources: [{ serviceAccount: { namespace: `ns-${(n + p) % 100}`, name: `sa-${p}` } }] }] } }));
    }
  }
  for (let p = 0; p < 100; p++) {
    const deny = p < 50;
    out.push(validatePolicy('AuthorizationPolicy', { metadata: { name: `orders-${p}`, namespace: 'shop' }, spec: {
      action: deny ? 'DENY' : 'ALLOW',
      targetRefs: [{ group: '', kind: 'Pod', selector: { matchLabels: { app: 'orders' } } }],
      rules: [{
        sources: [{ serviceAccount: { namespace: `ns-${p}`, name: `sa-${p}` } }, { namespaceSelector: { matchLabels: { team: `t${p % 10}` } } }],
        http: { methods: ['GET', 'POST'], paths: [{ type: 'PathPrefix', value: `/api/v${p}` }, { type: 'RegularExpression', value: `/items/[0-9]+/p${p}` }], headers: [{ name: 'x-tenant', value: `tenant-${p}` }] },
      }],
    } }));
  }
  for (let p = 0; p < 20; p++) {
    out.push(validatePolicy('ClusterAuthorizationPolicy', { metadata: { name: `platform-${p}` }, spec: {
      tier: p < 10 ? 'Admin' : 'Baseline', priority: p, action: p % 3 === 0 ? 'PASS' : 'DENY',
      subject: { namespaceSelector: { matchLabels: { zone: 'z1' } } },
      rules: [{ sources: [{ namespaceSelector: { matchLabels: { env: `env-${p}` } } }] }],
    } }));
  }
  return out;
}

function decisionCost(): { perDecisionUs: number; baselineUs: number; tableBuildMs: number; policies: number; identities: number } {
  const defs = policies();
  const namespaces = [...Array.from({ length: 100 }, (_, n) => ({ name: `ns-${n}`, labels: { team: `t${n % 10}`, env: `env-${n % 30}`, zone: 'z1' } })), { name: 'shop', labels: { zone: 'z1' } }];
  const workloads: AuthzWorkload[] = Array.from({ length: 100 }, (_, i) => ({ uid: `u${i}`, ip: `10.1.0.${i + 1}`, namespace: i === 0 ? 'shop' : `ns-${i}`, workload: i === 0 ? 'orders' : `w${i}`, labels: { app: i === 0 ? 'orders' : `w${i}` } }));
  const started = performance.now();
  const table = buildAuthzTable({ policies: defs, namespaces, workloads, serviceSelector: () => undefined });
  const tableBuildMs = performance.now() - started;
  // Proxy workers receive the table inside the snapshot, structured-cloned: measure that copy.
  const orders = structuredClone(table.byPodIp.get('10.1.0.1')!);
  const identities = Array.from({ length: 10_000 }, (_, i) => ({ ns: `ns-${i % 100}`, sa: `sa-${i}` }));
  const requests: AuthzRequest[] = identities.map(({ ns, sa }, i) => ({
    source: { kind: 'mesh', spiffeId: `spiffe://cluster.local/ns/${ns}/sa/${sa}`, namespace: ns, serviceAccount: sa },
    port: 8080,
    http: { method: i % 3 ? 'GET' : 'POST', target: `/api/v${i % 120}/items/${i}`, grpc: false, header: (name) => (name === 'x-tenant' ? [`tenant-${i % 100}`] : []) },
  }));
  const run = (workload: typeof orders | undefined, rounds: number): number => {
    let denied = 0;
    const t0 = performance.now();
    for (let r = 0; r < rounds; r++) for (const request of requests) if (evaluateAuthz(workload, request).decision === 'deny') denied++;
    const us = ((performance.now() - t0) * 1000) / (rounds * requests.length);
    if (denied < 0) throw new Error('unreachable');
    return us;
  };
  run(orders, 2); // warm up: JIT, regular expressions compiled once
  run(undefined, 2);
  return { perDecisionUs: run(orders, 50), baselineUs: run(undefined, 50), tableBuildMs, policies: defs.length, identities: identities.length };
}

async function propagation(): Promise<{ latenciesMs: number[] }> {
  const controller = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => controller.abort(new Error(`interrupted by ${signal}`)));
  const bed = await BenchBed.create(controller.signal);
  const probeFile = join(bed.state, 'probe.log');
  const stopFile = join(bed.state, 'probe.stop');
  try {
    log(`bringing up a two-node bed (state ${bed.state})`);
    await bed.up(2);
    await bed.kubectl(['create', 'namespace', NAMESPACE]);
    await bed.kubectl(['label', 'namespace', NAMESPACE, 'weft.io/mesh=enabled']);
    const echo = join(repoRoot, 'dist', 'test', 'e2e', 'fixtures', 'echo-server.js');
    const urls: string[] = [];
    for (const node of ['node-1', 'node-2']) {
      await bed.bedOk(['run', `web-${node}`, '-n', NAMESPACE, '--node', node, '--labels', `app=web-${node}`, '--port', '8080', '--', process.execPath, echo, 'http', '8080', `web-${node}`], 120_000);
      await bed.kubectl(['apply', '-f', '-'], stringifyYaml({ apiVersion: 'v1', kind: 'Service', metadata: { name: `web-${node}`, namespace: NAMESPACE },
        spec: { selector: { app: `web-${node}` }, ports: [{ port: 80, targetPort: 8080, appProtocol: 'http' }] } }));
      urls.push(`http://${(await bed.kubectl(['-n', NAMESPACE, 'get', 'service', `web-${node}`, '-o', 'jsonpath={.spec.clusterIP}'])).trim()}/`);
    }
    await bed.bedOk(['run', 'prober', '-n', NAMESPACE, '--node', 'node-1', '--', 'sleep', 'infinity'], 120_000);
    for (const url of urls) {
      await waitFor(async () => (await bed.exec('prober', NAMESPACE, ['curl', '-sf', '-m', '5', url])).code === 0, { timeoutMs: 120_000, what: `${url} through the mesh` });
    }
    const prober = bed.exec('prober', NAMESPACE, [process.execPath, join(repoRoot, 'dist', 'test', 'e2e', 'fixtures', 'status-prober.js'), probeFile, stopFile, ...urls], 900_000);
    const lines = async (): Promise<{ at: number; url: string; status: number }[]> => {
      const text = await readFile(probeFile, 'utf8').catch(() => '');
      return text.trim().split('\n').filter((l) => l !== '' && !l.includes(' total ')).map((l) => {
        const [at, url, status] = l.split(' ');
        return { at: Number(at), url: url!, status: Number(status) };
      });
    };
    const statusNow = async (url: string): Promise<number | undefined> => (await lines()).filter((l) => l.url === url).at(-1)?.status;
    await waitFor(async () => (await Promise.all(urls.map(statusNow))).every((s) => s === 200), { timeoutMs: 30_000, what: 'the prober seeing 200 everywhere' });

    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(bed.kubeconfig);
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    const latenciesMs: number[] = [];
    for (let change = 0; change < CHANGES; change++) {
      const create = change % 2 === 0;
      const expected = create ? 403 : 200;
      const body = { apiVersion: 'weft.io/v1alpha1', kind: 'AuthorizationPolicy', metadata: { name: 'deny-all', namespace: NAMESPACE }, spec: { action: 'DENY' } };
      const from = (await lines()).length;
      if (create) await custom.createNamespacedCustomObject({ group: 'weft.io', version: 'v1alpha1', namespace: NAMESPACE, plural: 'authorizationpolicies', body });
      else await custom.deleteNamespacedCustomObject({ group: 'weft.io', version: 'v1alpha1', namespace: NAMESPACE, plural: 'authorizationpolicies', name: 'deny-all' });
      const acceptedAt = Date.now();
      const seenAt = await waitFor(async () => {
        const after = (await lines()).slice(from);
        const times = urls.map((url) => after.find((l) => l.url === url && l.status === expected)?.at);
        return times.every((t) => t !== undefined) && Math.max(...(times as number[]));
      }, { timeoutMs: 30_000, intervalMs: 20, what: `change ${change} enforced on both nodes` });
      latenciesMs.push(Math.max(0, seenAt - acceptedAt));
    }
    await writeFile(stopFile, '');
    await prober;
    return { latenciesMs };
  } finally {
    log('taking the bed down');
    await rm(stopFile, { force: true }).catch(() => undefined);
    await bed.down();
  }
}

async function main(): Promise<number> {
  log('decision cost (in process)');
  const cost = decisionCost();
  if (process.argv.includes('--decision-only')) {
    process.stdout.write(`decision: ${cost.perDecisionUs.toFixed(2)} us per request (no policy: ${cost.baselineUs.toFixed(3)} us); table for 100 workloads: ${cost.tableBuildMs.toFixed(1)} ms\n`);
    return 0;
  }
  const { latenciesMs } = await propagation();
  const p50 = percentile(latenciesMs, 0.5);
  const p99 = percentile(latenciesMs, 0.99);
  const result = { at: new Date().toISOString(), loadAverage: loadavg(), decision: cost, propagationMs: { changes: latenciesMs.length, p50, p99, all: latenciesMs } };
  const outDir = join(repoRoot, 'dist', 'bench');
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, `authz-${result.at.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write([
    `\nauthorization (load average ${loadavg().map((l) => l.toFixed(2)).join(' ')})`,
    `  decision: ${cost.perDecisionUs.toFixed(2)} us per request with ${cost.policies} policies (120 selecting the workload) and ${cost.identities} identities; `
      + `(a workload no policy selects: ${cost.baselineUs.toFixed(3)} us): `
      + `${cost.perDecisionUs <= DECISION_AIM_US ? 'MET' : 'NOT MET'} (aim <= ${DECISION_AIM_US} us); table for 100 workloads built in ${cost.tableBuildMs.toFixed(1)} ms`,
    `  a policy change enforced on every node (${latenciesMs.length} changes): p50 ${p50} ms, p99 ${p99} ms: ${p99 <= PROPAGATION_P99_AIM_MS ? 'MET' : 'NOT MET'} (aim p99 <= ${PROPAGATION_P99_AIM_MS} ms)`,
    `result: ${file}\n`,
  ].join('\n'));
  return 0;
}

main().then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`bench-authz: failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
