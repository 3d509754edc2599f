// `make bench-scale`: the agent at scale (issue 9, section 5). A one-node bed with 100 enrolled
// pods and 100 selector-less Services whose EndpointSlices hold 10 000 endpoints
// in all (synthetic API objects: the addresses are never dialled). Measured on the node's
// agent: its resident memory (VmRSS, VmHWM: the control thread and every proxy worker, one
// process) and how long a cluster change takes to reach every proxy worker
// (weft_snapshot_propagation_seconds, observed by each worker), over a series of EndpointSlice
// changes made one at a time. Aims: RSS <= 150 MB, propagation p99 <= 100 ms.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { stringify as stringifyYaml } from 'yaml';
import type { Sample } from '../../agent/src/cli/prometheus-text.js';
import { repoRoot } from '../support/repo-root.js';
import { waitFor } from '../support/wait-for.js';
import { BenchBed } from './bench-bed.js';

const NAMESPACE = 'scale-mesh';
const PODS = 100;
const SERVICES = 100;
const ENDPOINTS_PER_SERVICE = 100;
const CHANGES = 50;
const RSS_AIM_MB = 150;
const PROPAGATION_P99_AIM_MS = 100;

function log(message: string): void {
  process.stderr.write(`[bench-scale] ${message}\n`);
}

/** Endpoint j of Service i: 10.250.<i>.<j>, an address no one uses (never dialled: nothing is sent to it). */
function endpointSlice(i: number, readyUpTo: number): object {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `scale-${i}-a`,
      namespace: NAMESPACE,
      labels: { 'kubernetes.io/service-name': `scale-${i}`, 'endpointslice.kubernetes.io/managed-by': 'bench-scale.weft.io' },
    },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: Array.from({ length: ENDPOINTS_PER_SERVICE }, (_, j) => ({
      addresses: [`10.250.${i}.${j + 1}`],
      conditions: { ready: j < readyUpTo },
    })),
  };
}

function service(i: number): object {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `scale-${i}`, namespace: NAMESPACE },
    spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  };
}

function sum(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);
}

/** The upper bound of the histogram bucket holding quantile q of the observations between two scrapes. */
function bucketQuantile(before: Sample[], after: Sample[], name: string, q: number): { upperBoundMs: number; count: number } {
  const buckets = after
    .filter((s) => s.name === `${name}_bucket`)
    .map((s) => ({ le: s.labels['le']!, count: s.value - sum(before, `${name}_bucket`, { le: s.labels['le']! }) }))
    .sort((a, b) => Number(a.le === '+Inf' ? Infinity : a.le) - Number(b.le === '+Inf' ? Infinity : b.le));
  const total = buckets.at(-1)?.count ?? 0;
  const wanted = Math.ceil(total * q);
  const holding = buckets.find((b) => b.count >= wanted);
  return { upperBoundMs: holding === undefined || holding.le === '+Inf' ? Infinity : Number(holding.le) * 1000, count: total };
}

async function memoryOf(pid: number): Promise<{ rssMb: number; peakMb: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

async function main(): Promise<number> {
  const controller = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => controller.abort(new Error(`interrupted by ${signal}`)));
  const bed = await BenchBed.create(controller.signal);
  let exitCode = 0;
  try {
    log(`bringing up a one-node bed (state ${bed.state})`);
    await bed.up(1);
    const node = (await bed.status()).nodes[0]!;
    await bed.kubectl(['create', 'namespace', NAMESPACE]);
    await bed.kubectl(['label', 'namespace', NAMESPACE, 'weft.io/mesh=enabled']);

    log(`${PODS} enrolled pods (sleepers, started ten at a time)`);
    for (let start = 0; start < PODS; start += 10) {
      await Promise.all(Array.from({ length: Math.min(10, PODS - start) }, (_, k) =>
        bed.bedOk(['run', `sleeper-${start + k}`, '-n', NAMESPACE, '--node', node.name, '--labels', 'app=sleepers', '--', 'sleep', 'infinity'], 300_000)));
    }
    await waitFor(async () => sum(await bed.metrics(node), 'weft_enrolled_pods') === PODS,
      { timeoutMs: 600_000, intervalMs: 2_000, what: `${PODS} pods enrolled by the agent` });

    log(`${SERVICES} Services with ${ENDPOINTS_PER_SERVICE} endpoints each (${SERVICES * ENDPOINTS_PER_SERVICE} in all)`);
    const objects = Array.from({ length: SERVICES }, (_, i) => [service(i), endpointSlice(i, ENDPOINTS_PER_SERVICE)]).flat();
    for (let start = 0; start < objects.length; start += 50) {
      await bed.kubectl(['apply', '-f', '-'], objects.slice(start, start + 50).map((o) => stringifyYaml(o)).join('---\n'));
    }
    const snapshotServices = async (): Promise<number> => {
      const result = await bed.execOnNode(node.name, ['curl', '-sf', '-m', '10', 'http://127.0.0.1:15020/debug/snapshot']);
      return (JSON.parse(result.stdout) as { services: string[] }).services.filter((s) => s.startsWith('10.')).length;
    };
    await waitFor(async () => (await snapshotServices()) >= SERVICES, { timeoutMs: 300_000, intervalMs: 2_000, what: 'every Service in the agent\'s snapshot' });

    log(`${CHANGES} EndpointSlice changes, one at a time, each awaited on every worker`);
    const workers = async (): Promise<number> => {
      // Each worker observes every snapshot once: the first publication's observations tell how many there are.
      const samples = await bed.metrics(node);
      return sum(samples, 'weft_snapshot_propagation_seconds_count');
    };
    const before = await bed.metrics(node);
    let arrivals = sum(before, 'weft_snapshot_propagation_seconds_count');
    for (let change = 0; change < CHANGES; change++) {
      const i = change % SERVICES;
      await bed.kubectl(['apply', '-f', '-'], stringifyYaml(endpointSlice(i, ENDPOINTS_PER_SERVICE - 1 - (change % 2))));
      const seen = arrivals;
      arrivals = await waitFor(async () => {
        const now = await workers();
        return now > seen && now;
      }, { timeoutMs: 30_000, intervalMs: 50, what: `change ${change} reaching the workers` });
    }
    const after = await bed.metrics(node);
    const p50 = bucketQuantile(before, after, 'weft_snapshot_propagation_seconds', 0.5);
    const p99 = bucketQuantile(before, after, 'weft_snapshot_propagation_seconds', 0.99);
    const meanMs = ((sum(after, 'weft_snapshot_propagation_seconds_sum') - sum(before, 'weft_snapshot_propagation_seconds_sum')) / p99.count) * 1000;
    const memory = await memoryOf(node.agentPid!);

    const result = {
      at: new Date().toISOString(), loadAverage: loadavg(),
      pods: PODS, services: SERVICES, endpoints: SERVICES * ENDPOINTS_PER_SERVICE, changes: CHANGES,
      observations: p99.count, propagationMs: { mean: meanMs, p50UpperBound: p50.upperBoundMs, p99UpperBound: p99.upperBoundMs },
      agentMemoryMb: memory,
    };
    const outDir = join(repoRoot, 'dist', 'bench');
    await mkdir(outDir, { recursive: true });
    const file = join(outDir, `scale-${result.at.replace(/[:.]/g, '-')}.json`);
    await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write([
      `\nthe agent with ${PODS} enrolled pods, ${SERVICES} Services and ${SERVICES * ENDPOINTS_PER_SERVICE} endpoints (load average ${loadavg().map((l) => l.toFixed(2)).join(' ')})`,
      `  resident memory: ${memory.rssMb.toFixed(0)} MB now, ${memory.peakMb.toFixed(0)} MB peak: ${memory.peakMb <= RSS_AIM_MB ? 'MET' : 'NOT MET'} (aim <= ${RSS_AIM_MB} MB)`,
      `  a change reaching a worker (${p99.count} arrivals of ${CHANGES} changes): mean ${meanMs.toFixed(1)} ms, p50 <= ${p50.upperBoundMs} ms, p99 <= ${p99.upperBoundMs} ms: `
        + `${p99.upperBoundMs <= PROPAGATION_P99_AIM_MS ? 'MET' : 'NOT MET'} (aim p99 <= ${PROPAGATION_P99_AIM_MS} ms)`,
      `result: ${file}\n`,
    ].join('\n'));
  } catch (err) {
    exitCode = 1;
    process.stderr.write(`bench-scale: failed: ${(err as Error).stack ?? String(err)}\n`);
  } finally {
    log('taking the bed down');
    try {
      await bed.down();
    } catch (err) {
      process.stderr.write(`bench-scale: bed down failed: ${(err as Error).message}; run: node dist/test/kit/bed/main.js down --state ${bed.state}\n`);
      exitCode = exitCode || 1;
    }
  }
  return exitCode;
}

main().then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`bench-scale: ${String(err)}\n`);
  process.exit(1);
});
