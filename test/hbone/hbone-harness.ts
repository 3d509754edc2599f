// Small builders for HBONE tests: pods on named nodes, a snapshot of one node's view, a promise
// around HboneConnector.open, and a raw HTTP/1.1 exchange over a tunnel stream.
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { HboneConnector, HboneTunnelRequest } from '../../agent/src/hbone/hbone-connector.js';
import { EMPTY_AUTHZ_TABLE, type AuthzTable } from '../../agent/src/authz/authz-table.js';
import type { MeshSnapshot, PodInfo } from '../../agent/src/state/mesh-snapshot.js';
import { listen } from '../proxy/proxy-harness.js';

export const TRUST_DOMAIN = 'cluster.local';

export function spiffeId(namespace: string, serviceAccount: string, trustDomain = TRUST_DOMAIN): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

export function meshPod(
  ip: string,
  spec: { namespace?: string; serviceAccount: string; nodeName: string; hostIp?: string; enrolled?: boolean; name?: string },
): PodInfo {
  const name = spec.name ?? `${spec.serviceAccount}-${ip.replaceAll('.', '-')}`;
  return {
    uid: `uid-${name}`,
    namespace: spec.namespace ?? 'demo',
    name,
    ip,
    nodeName: spec.nodeName,
    hostIp: spec.hostIp ?? '',
    workload: spec.serviceAccount,
    serviceAccount: spec.serviceAccount,
    enrolled: spec.enrolled ?? true,
  };
}

/** `authz`: the node's authorization table (default: no policy). */
export function nodeSnapshot(nodeName: string, nodeIp: string, pods: PodInfo[], authz: AuthzTable = EMPTY_AUTHZ_TABLE): MeshSnapshot {
  return Object.freeze({
    version: 1,
    nodeName,
    nodeIp,
    servicesByAddress: new Map(),
    podsByIp: new Map(pods.map((p) => [p.ip, p])),
    podCIDRs: [],
    enrolledLocalPods: [],
    authz,
  });
}

export function openTunnel(connector: HboneConnector, request: HboneTunnelRequest): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    connector.open(request, (err, stream) => (err !== null || stream === null ? reject(err) : resolve(stream)));
  });
}

/** Writes `request` (raw bytes) and reads until the far side ends the stream. */
export function exchange(stream: Duplex, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    stream.once('error', reject);
    stream.write(request, 'latin1');
  });
}

/** An HTTP backend that answers each request with the `x-weft-peer-identity` values it got (JSON). */
export class IdentityEchoBackend {
  readonly server = http.createServer((req, res) => {
    this.requests++;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.stringify({
        url: req.url,
        identities: req.headersDistinct['x-weft-peer-identity'] ?? [],
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  requests = 0;
  port = 0;
  private readonly sockets = new Set<net.Socket>();

  async start(ip: string): Promise<this> {
    this.server.on('connection', (socket: net.Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.port = await listen(this.server, ip);
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The JSON bodies of every response in a raw HTTP/1.1 byte stream (content-length framed). */
export function responseBodies(raw: string): Array<{ url: string; identities: string[]; body: string }> {
  const bodies: Array<{ url: string; identities: string[]; body: string }> = [];
  let rest = raw;
  while (rest.length > 0) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd < 0) break;
    const head = rest.slice(0, headEnd);
    const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
    bodies.push(JSON.parse(rest.slice(headEnd + 4, headEnd + 4 + length)));
    rest = rest.slice(headEnd + 4 + length);
  }
  return bodies;
}
