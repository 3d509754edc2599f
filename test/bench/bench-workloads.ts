// What a benchmark run deploys, and the proof that the two paths are what they claim. The wrk
// clients run on node-1; the server pod runs on node-2 (placement "cross-node", the default) or
// next to the clients on node-1 ("same-node"), in an enrolled namespace so that meshed traffic
// to it takes the HBONE mTLS tunnel:
//   direct: unenrolled client (bench-plain) -> server pod IP, no mesh on the way;
//   meshed: enrolled client (bench-mesh) -> Service ClusterIP -> connect4 redirect -> node-1
//           proxy -> HTTP/2 CONNECT over mutual TLS to the server node's :15008 -> server pod.
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { repoRoot } from '../support/repo-root.js';
import { waitFor } from '../support/wait-for.js';
import { BENCH_BODY } from './bench-body.js';
import type { BenchBed } from './bench-bed.js';
import type { BenchPlacement } from './bench-options.js';
import { meshCountersFrom, type MeshCounters } from './mesh-counters.js';
import { REDIRECT_PROGRAMS } from '../../agent/src/bpf/redirect-programs.js';
import { attachedWeftPrograms } from '../support/attached-programs.js';

const benchServer = join(repoRoot, 'dist', 'test', 'bench', 'bench-server.js');
const PLAIN_NS = 'bench-plain';
const MESH_NS = 'bench-mesh';
const CLIENT_SA = 'bench-client';
const SERVER_SA = 'bench-server';
export const SERVER_WORKLOAD = 'bench-server';
const SERVER_PORT = 8080;
const SERVICE_PORT = 80;
const CLIENT_NODE = 'node-1';

export interface BenchPath {
  name: 'direct' | 'meshed';
  pod: string;
  namespace: string;
  url: string;
  /** A process in the client pod, whose /proc/PID/net/snmp counts the pod's TCP connects. */
  pid: number;
}

export interface BenchNode {
  name: string;
  ip: string;
  agentPid: number;
}

export interface BenchTargets {
  placement: BenchPlacement;
  /** Runs both wrk clients and the proxy of the meshed path. */
  clientNode: BenchNode;
  /** Runs the server pod and the HBONE server that delivers to it (the client node for same-node). */
  serverNode: BenchNode;
  serverCgroup: string;
  serverPid: number;
  /** SPIFFE IDs from the agents' certificates. */
  clientIdentity: string;
  serverIdentity: string;
  direct: BenchPath;
  meshed: BenchPath;
}

export function serverNodeName(placement: BenchPlacement): string {
  return placement === 'cross-node' ? 'node-2' : CLIENT_NODE;
}

async function certificateIdentity(bed: BenchBed, node: BenchNode, suffix: string): Promise<string> {
  let found: string | undefined;
  await waitFor(async () => {
    found = (await bed.identities(node)).certificates.map((c) => c.identity).find((id) => id.endsWith(suffix));
    return found !== undefined;
  }, { timeoutMs: 60_000, intervalMs: 500, what: `${node.name}'s agent to hold a certificate for *${suffix}` });
  return found!;
}

export async function deployWorkloads(bed: BenchBed, placement: BenchPlacement): Promise<BenchTargets> {
  const status = await bed.status();
  const node = (name: string): BenchNode => {
    const found = status.nodes.find((n) => n.name === name);
    if (!found) throw new Error(`the bed has no ${name}: ${JSON.stringify(status.nodes)}`);
    if (found.agentPid === null) throw new Error(`bed status shows no agent pid for ${name}`);
    return { name: found.name, ip: found.ip, agentPid: found.agentPid };
  };
  const clientNode = node(CLIENT_NODE);
  const serverNode = node(serverNodeName(placement));
  for (const n of new Set([clientNode, serverNode])) {
    await waitFor(async () => (await bed.execOnNode(n.name, ['curl', '-sf', '-m', '5', `http://${n.ip}:15020/readyz`])).code === 0,
      { timeoutMs: 120_000, intervalMs: 500, what: `${n.name}'s Weft agent to be ready (/readyz)` });
  }

  await bed.kubectl(['create', 'namespace', PLAIN_NS]);
  await bed.kubectl(['create', 'namespace', MESH_NS]);
  await bed.kubectl(['label', 'namespace', MESH_NS, 'weft.io/mesh=enabled']);
  // Their own service accounts give client and server distinct identities (the pod's token, and
  // so its certificate, names the account, which must exist).
  for (const account of [CLIENT_SA, SERVER_SA]) await bed.kubectl(['create', 'serviceaccount', account, '-n', MESH_NS]);
  const service = {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'bench-server', namespace: MESH_NS },
    spec: { selector: { app: 'bench-server' }, ports: [{ name: 'http', port: SERVICE_PORT, targetPort: SERVER_PORT }] },
  };
  await bed.kubectl(['apply', '-f', '-'], stringifyYaml(service));
  await Promise.all([
    bed.bedOk(['run', 'bench-server', '-n', MESH_NS, '--node', serverNode.name, '--labels', 'app=bench-server', '--service-account', SERVER_SA,
      '--port', String(SERVER_PORT), '--', process.execPath, benchServer, String(SERVER_PORT)]),
    bed.bedOk(['run', 'wrk-direct', '-n', PLAIN_NS, '--node', CLIENT_NODE, '--labels', 'app=wrk-direct', '--', 'sleep', 'infinity']),
    bed.bedOk(['run', 'wrk-meshed', '-n', MESH_NS, '--node', CLIENT_NODE, '--labels', 'app=wrk-meshed', '--service-account', CLIENT_SA,
      '--', 'sleep', 'infinity']),
  ]);
  // Every "Connection: close" request leaves a TIME_WAIT socket in the client pod; with the
  // kernel default (reuse only towards loopback) connect() then spends its time searching for a
  // free port once tens of thousands of them pile up towards one address, and the round measures
  // that search. Reusing them (safe with TCP timestamps) is the usual setting for such clients;
  // both client pods get it, in their own network namespaces only.
  for (const [pod, namespace] of [['wrk-direct', PLAIN_NS], ['wrk-meshed', MESH_NS]] as const) {
    const result = await bed.exec(pod, namespace, ['sysctl', '-q', '-w', 'net.ipv4.tcp_tw_reuse=1']);
    if (result.code !== 0) throw new Error(`setting tcp_tw_reuse in ${namespace}/${pod} exited ${result.code}: ${result.stderr.trim()}`);
  }

  const pods = (await bed.status()).pods;
  const pod = (namespace: string, name: string) => {
    const found = pods.find((p) => p.namespace === namespace && p.name === name);
    if (!found) throw new Error(`pod ${namespace}/${name} is not in bed status`);
    if (found.pids.length === 0) throw new Error(`pod ${namespace}/${name} has no running process`);
    return found;
  };
  const server = pod(MESH_NS, 'bench-server');
  const clusterIP = (await bed.kubectl(['get', 'service', 'bench-server', '-n', MESH_NS, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
  await waitFor(async () => {
    const out = await bed.kubectl(['get', 'endpointslices', '-n', MESH_NS, '-l', 'kubernetes.io/service-name=bench-server',
      '-o', 'jsonpath={.items[*].endpoints[*].addresses[*]}']);
    return out.trim() === server.ip;
  }, { timeoutMs: 60_000, intervalMs: 250, what: 'the EndpointSlice of bench-server listing the server pod' });
  const meshedClient = pod(MESH_NS, 'wrk-meshed');
  await waitFor(() => attachedWeftPrograms(meshedClient.cgroup).length === REDIRECT_PROGRAMS.filter((p) => !p.strictOnly).length, { timeoutMs: 60_000, intervalMs: 250, what: 'Weft programs attached to the meshed client' });

  return {
    placement,
    clientNode,
    serverNode,
    serverCgroup: server.cgroup,
    serverPid: server.pids[0]!,
    clientIdentity: await certificateIdentity(bed, clientNode, `/ns/${MESH_NS}/sa/${CLIENT_SA}`),
    serverIdentity: await certificateIdentity(bed, serverNode, `/ns/${MESH_NS}/sa/${SERVER_SA}`),
    direct: { name: 'direct', pod: 'wrk-direct', namespace: PLAIN_NS, url: `http://${server.ip}:${SERVER_PORT}/`, pid: pod(PLAIN_NS, 'wrk-direct').pids[0]! },
    meshed: { name: 'meshed', pod: 'wrk-meshed', namespace: MESH_NS, url: `http://${clusterIP}:${SERVICE_PORT}/`, pid: meshedClient.pids[0]! },
  };
}

async function fetchBody(bed: BenchBed, path: BenchPath): Promise<string> {
  const result = await bed.exec(path.pod, path.namespace, ['curl', '-sf', '-m', '5', path.url]);
  if (result.code !== 0) throw new Error(`curl ${path.url} from ${path.namespace}/${path.pod} exited ${result.code}: ${result.stderr.trim()}`);
  if (result.stdout !== BENCH_BODY) throw new Error(`${path.url} answered ${JSON.stringify(result.stdout.slice(0, 120))}, not the bench server's body`);
  return result.stdout;
}

/**
 * The counters that tell the paths apart, read from both agents: the client node proxy's request
 * and connection counts, the server node HBONE server's tunnelled connections from the meshed
 * client's identity, and the client node's TLS sessions (handshakes) opened so far.
 */
export async function readMeshCounters(bed: BenchBed, targets: BenchTargets): Promise<MeshCounters> {
  const [clientSamples, serverSamples, identities] = await Promise.all([
    bed.metrics(targets.clientNode),
    targets.serverNode.name === targets.clientNode.name ? null : bed.metrics(targets.serverNode),
    bed.identities(targets.clientNode),
  ]);
  return meshCountersFrom({
    clientNodeSamples: clientSamples,
    serverNodeSamples: serverSamples ?? clientSamples,
    outboundTunnels: identities.outboundTunnels,
    clientIdentity: targets.clientIdentity,
    serverWorkload: SERVER_WORKLOAD,
  });
}

/**
 * Waits until every tunnelled connection the server node's HBONE server delivered has ended (the
 * proxy closes idle pooled upstream connections after a few seconds), so that its byte counters,
 * written when a connection ends, are complete; returns the counters then.
 */
export async function settledMeshCounters(bed: BenchBed, targets: BenchTargets): Promise<MeshCounters> {
  let counters: MeshCounters | undefined;
  await waitFor(async () => {
    counters = await readMeshCounters(bed, targets);
    return counters.tunnelledOpened === counters.tunnelledClosed;
  }, { timeoutMs: 60_000, intervalMs: 500, what: `${targets.serverNode.name}'s tunnelled connections to ${SERVER_WORKLOAD} to end (pooled upstreams idling out)` });
  return counters!;
}

/**
 * Proves, before measuring, that the meshed client goes through the node proxy AND the HBONE
 * tunnel (5 requests move the proxy's request count by 5, the server node's HBONE server opens a
 * mutual-TLS connection from the client's identity and carries the 5 responses back), and that
 * the direct client touches neither. Throws a clear error if not: a benchmark of the wrong path
 * is worse than none.
 */
export async function verifyPaths(bed: BenchBed, targets: BenchTargets): Promise<void> {
  const calls = 5;
  // The first calls may race the agent's view of the new Service; wait until one succeeds.
  await waitFor(() => fetchBody(bed, targets.meshed), { timeoutMs: 60_000, intervalMs: 500, what: `the meshed client to reach ${targets.meshed.url}` });

  const before = await settledMeshCounters(bed, targets);
  if (before.tunnelSessionsOpened === null) {
    throw new Error(`${targets.clientNode.name}'s agent has no HBONE connector (/debug/identities outboundTunnels is null): the bed runs without weft ca`);
  }
  for (let i = 0; i < calls; i++) await fetchBody(bed, targets.meshed);
  const afterMeshed = await settledMeshCounters(bed, targets);
  const counted = afterMeshed.proxyRequests - before.proxyRequests;
  if (counted !== calls) {
    throw new Error(`the meshed path does not go through the Weft proxy: ${calls} requests from ${targets.meshed.namespace}/${targets.meshed.pod} `
      + `to ${targets.meshed.url}, but ${targets.clientNode.name}'s weft_requests_total moved by ${counted}`);
  }
  const tunnelled = afterMeshed.tunnelledOpened - before.tunnelledOpened;
  const bytesBack = afterMeshed.tunnelledSentBytes - before.tunnelledSentBytes;
  if (tunnelled < 1 || bytesBack < calls * Buffer.byteLength(BENCH_BODY)) {
    throw new Error(`the meshed path does not go through HBONE: after ${calls} requests ${targets.serverNode.name}'s `
      + `weft_tcp_connections_opened_total{reporter="destination",source_principal="${targets.clientIdentity}"} moved by ${tunnelled} `
      + `and its HBONE server sent ${bytesBack} bytes back (at least ${calls * Buffer.byteLength(BENCH_BODY)} expected)`);
  }

  for (let i = 0; i < calls; i++) await fetchBody(bed, targets.direct);
  const afterDirect = await readMeshCounters(bed, targets);
  if (afterDirect.proxyRequests !== afterMeshed.proxyRequests || afterDirect.proxyConnections !== afterMeshed.proxyConnections
    || afterDirect.tunnelledOpened !== afterMeshed.tunnelledOpened) {
    throw new Error(`the direct path is not direct: requests from ${targets.direct.namespace}/${targets.direct.pod} to ${targets.direct.url} `
      + `moved the agents' counters (${JSON.stringify(afterMeshed)} -> ${JSON.stringify(afterDirect)})`);
  }
}
