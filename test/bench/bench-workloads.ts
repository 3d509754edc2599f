// What a benchmark run deploys on its one-node bed, and the proof that the two paths are what
// they claim: the server pod and its Service in a namespace outside the mesh, a wrk client next
// to it (direct: pod IP, no proxy), and a wrk client in an enrolled namespace calling the
// Service's ClusterIP (meshed: connect4 redirect -> node proxy -> server). All on node-1.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { repoRoot } from '../support/repo-root.js';
import { waitFor } from '../support/wait-for.js';
import { sumMetric } from '../e2e/bed-fixture.js';
import { BENCH_BODY } from './bench-body.js';
import type { BenchBed } from './bench-bed.js';

const benchServer = join(repoRoot, 'dist', 'test', 'bench', 'bench-server.js');
const PLAIN_NS = 'bench-plain';
const MESH_NS = 'bench-mesh';
const SERVER_PORT = 8080;
const SERVICE_PORT = 80;
const NODE = 'node-1';

export interface BenchPath {
  name: 'direct' | 'meshed';
  pod: string;
  namespace: string;
  url: string;
}

export interface BenchTargets {
  node: { name: string; ip: string };
  agentPid: number;
  serverCgroup: string;
  direct: BenchPath;
  meshed: BenchPath;
}

function attachedWeftPrograms(cgroup: string): number {
  const out = execFileSync('bpftool', ['-j', 'cgroup', 'show', cgroup], { encoding: 'utf8' });
  const progs = JSON.parse(out.trim() || '[]') as { name: string }[];
  return progs.filter((p) => p.name.startsWith('weft_')).length;
}

export async function deployWorkloads(bed: BenchBed): Promise<BenchTargets> {
  const status = await bed.status();
  const node = status.nodes.find((n) => n.name === NODE);
  if (!node) throw new Error(`the bed has no ${NODE}: ${JSON.stringify(status.nodes)}`);
  await waitFor(async () => (await bed.execOnNode(NODE, ['curl', '-sf', '-m', '5', `http://${node.ip}:15020/readyz`])).code === 0,
    { timeoutMs: 120_000, intervalMs: 500, what: `${NODE}'s Weft agent to be ready (/readyz)` });

  await bed.kubectl(['create', 'namespace', PLAIN_NS]);
  await bed.kubectl(['create', 'namespace', MESH_NS]);
  await bed.kubectl(['label', 'namespace', MESH_NS, 'weft.io/mesh=enabled']);
  const service = {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'bench-server', namespace: PLAIN_NS },
    spec: { selector: { app: 'bench-server' }, ports: [{ name: 'http', port: SERVICE_PORT, targetPort: SERVER_PORT }] },
  };
  await bed.kubectl(['apply', '-f', '-'], stringifyYaml(service));
  await Promise.all([
    bed.bedOk(['run', 'bench-server', '-n', PLAIN_NS, '--node', NODE, '--labels', 'app=bench-server', '--port', String(SERVER_PORT), '--',
      process.execPath, benchServer, String(SERVER_PORT)]),
    bed.bedOk(['run', 'wrk-direct', '-n', PLAIN_NS, '--node', NODE, '--labels', 'app=wrk-direct', '--', 'sleep', 'infinity']),
    bed.bedOk(['run', 'wrk-meshed', '-n', MESH_NS, '--node', NODE, '--labels', 'app=wrk-meshed', '--', 'sleep', 'infinity']),
  ]);

  const pods = (await bed.status()).pods;
  const pod = (namespace: string, name: string) => {
    const found = pods.find((p) => p.namespace === namespace && p.name === name);
    if (!found) throw new Error(`pod ${namespace}/${name} is not in bed status`);
    return found;
  };
  const server = pod(PLAIN_NS, 'bench-server');
  const clusterIP = (await bed.kubectl(['get', 'service', 'bench-server', '-n', PLAIN_NS, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
  await waitFor(async () => {
    const out = await bed.kubectl(['get', 'endpointslices', '-n', PLAIN_NS, '-l', 'kubernetes.io/service-name=bench-server',
      '-o', 'jsonpath={.items[*].endpoints[*].addresses[*]}']);
    return out.trim() === server.ip;
  }, { timeoutMs: 60_000, intervalMs: 250, what: 'the EndpointSlice of bench-server listing the server pod' });
  const meshedCgroup = pod(MESH_NS, 'wrk-meshed').cgroup;
  await waitFor(() => attachedWeftPrograms(meshedCgroup) === 3, { timeoutMs: 60_000, intervalMs: 250, what: 'Weft programs attached to the meshed client' });

  const agentPid = (await bed.status()).nodes.find((n) => n.name === NODE)?.agentPid;
  if (!agentPid) throw new Error(`bed status shows no agent pid for ${NODE}`);
  return {
    node: { name: node.name, ip: node.ip },
    agentPid,
    serverCgroup: server.cgroup,
    direct: { name: 'direct', pod: 'wrk-direct', namespace: PLAIN_NS, url: `http://${server.ip}:${SERVER_PORT}/` },
    meshed: { name: 'meshed', pod: 'wrk-meshed', namespace: MESH_NS, url: `http://${clusterIP}:${SERVICE_PORT}/` },
  };
}

async function fetchBody(bed: BenchBed, path: BenchPath): Promise<string> {
  const result = await bed.exec(path.pod, path.namespace, ['curl', '-sf', '-m', '5', path.url]);
  if (result.code !== 0) throw new Error(`curl ${path.url} from ${path.namespace}/${path.pod} exited ${result.code}: ${result.stderr.trim()}`);
  if (result.stdout !== BENCH_BODY) throw new Error(`${path.url} answered ${JSON.stringify(result.stdout.slice(0, 120))}, not the bench server's body`);
  return result.stdout;
}

/** Proxied requests and connections the agent has counted so far. */
export async function proxyCounters(bed: BenchBed, targets: BenchTargets): Promise<{ requests: number; connections: number }> {
  const samples = await bed.metrics(targets.node);
  return { requests: sumMetric(samples, 'weft_requests_total'), connections: sumMetric(samples, 'weft_tcp_connections_opened_total') };
}

/**
 * Proves the meshed client really goes through the node proxy (its request counter moves by the
 * requests sent) and the direct client does not (no counter moves). Throws a clear error if not:
 * a benchmark of the wrong path is worse than none.
 */
export async function verifyPaths(bed: BenchBed, targets: BenchTargets): Promise<void> {
  const calls = 5;
  // The first calls may race the agent's view of the new Service; wait until one succeeds.
  await waitFor(() => fetchBody(bed, targets.meshed), { timeoutMs: 60_000, intervalMs: 500, what: `the meshed client to reach ${targets.meshed.url}` });

  const beforeMeshed = await proxyCounters(bed, targets);
  for (let i = 0; i < calls; i++) await fetchBody(bed, targets.meshed);
  const afterMeshed = await proxyCounters(bed, targets);
  const counted = afterMeshed.requests - beforeMeshed.requests;
  if (counted !== calls) {
    throw new Error(`the meshed path does not go through the Weft proxy: ${calls} requests from ${targets.meshed.namespace}/${targets.meshed.pod} `
      + `to ${targets.meshed.url}, but the agent's weft_requests_total moved by ${counted}`);
  }

  for (let i = 0; i < calls; i++) await fetchBody(bed, targets.direct);
  const afterDirect = await proxyCounters(bed, targets);
  if (afterDirect.requests !== afterMeshed.requests || afterDirect.connections !== afterMeshed.connections) {
    throw new Error(`the direct path is not direct: requests from ${targets.direct.namespace}/${targets.direct.pod} to ${targets.direct.url} `
      + `moved the agent's counters (requests ${afterMeshed.requests} -> ${afterDirect.requests}, connections ${afterMeshed.connections} -> ${afterDirect.connections})`);
  }
}
