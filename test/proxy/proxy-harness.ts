// Builders for proxy tests: a hand-made MeshSnapshot, an originalDestination table the test
// fills (standing in for the bpf map), client ports reserved up front so the table can be
// filled before connecting, and small real servers (HTTP backends, a banner server, an echo).
import { EMPTY_AUTHZ_TABLE } from '../../agent/src/authz/authz-table.js';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import type { Endpoint, MeshService, MeshSnapshot, PodInfo, ServicePort } from '../../agent/src/state/mesh-snapshot.js';
import { serviceAddressKey } from '../../agent/src/state/mesh-snapshot.js';
import type { OriginalDestination } from '../../agent/src/proxy/outbound-proxy.js';

export function pod(ip: string, namespace: string, workload: string, name = `${workload}-0`): PodInfo {
  return {
    uid: `uid-${name}`,
    namespace,
    name,
    ip,
    nodeName: 'node-1',
    hostIp: '127.0.0.1',
    workload,
    serviceAccount: 'default',
    enrolled: true,
  };
}

export interface ServiceSpec {
  namespace: string;
  name: string;
  clusterIP: string;
  port: number;
  appProtocol?: string;
  endpoints: Array<{ ip: string; port: number; pod?: PodInfo; ready?: boolean }>;
}

export function buildSnapshot(spec: { pods: PodInfo[]; services: ServiceSpec[]; podCIDRs?: string[] }): MeshSnapshot {
  const servicesByAddress = new Map<string, { service: MeshService; port: ServicePort }>();
  for (const s of spec.services) {
    const port: ServicePort = { port: s.port, protocol: 'TCP', appProtocol: s.appProtocol };
    const endpoints: Endpoint[] = s.endpoints.map((e) => ({
      ip: e.ip,
      port: e.port,
      ready: e.ready ?? true,
      nodeName: 'node-1',
      pod: e.pod,
    }));
    const service: MeshService = {
      namespace: s.namespace,
      name: s.name,
      clusterIP: s.clusterIP,
      ports: [port],
      endpointsByPort: new Map([[s.port, endpoints]]),
    };
    servicesByAddress.set(serviceAddressKey(s.clusterIP, s.port), { service, port });
  }
  return Object.freeze({
    version: 1,
    nodeName: 'node-1',
    nodeIp: '127.0.0.1',
    servicesByAddress,
    podsByIp: new Map(spec.pods.map((p) => [p.ip, p])),
    podCIDRs: spec.podCIDRs ?? [],
    enrolledLocalPods: [],
    authz: EMPTY_AUTHZ_TABLE,
  });
}

/** Stands in for the bpf map: the test records where each client port "was going". */
export class OriginalDestinations {
  private readonly byPeer = new Map<string, OriginalDestination>();
  lookups = 0;

  set(peerIp: string, peerPort: number, destination: OriginalDestination): void {
    this.byPeer.set(`${peerIp}:${peerPort}`, destination);
  }

  /** Like the bpf lookup: answers once and deletes the entry. */
  readonly take = (peerIp: string, peerPort: number): OriginalDestination | undefined => {
    this.lookups++;
    const key = `${peerIp}:${peerPort}`;
    const destination = this.byPeer.get(key);
    this.byPeer.delete(key);
    return destination;
  };
}

/**
 * A free local port on `ip`, for a client to bind before connecting (so its peer port is known
 * in advance). Each call returns a different port: a reused one could still be in TIME_WAIT.
 */
const handedOut = new Set<number>();
export async function reserveClientPort(ip = '127.0.0.1'): Promise<number> {
  for (;;) {
    const server = net.createServer();
    server.listen(0, ip);
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/**
 * Runs a client that binds a reserved local port (reserveClientPort). Another process (tests
 * run in parallel) may take the port between the reservation and the client's bind: curl then
 * exits 45 (bind failed, EADDRINUSE), and the client runs again from a fresh port.
 */
export async function fromReservedClientPort<T>(ip: string, run: (localPort: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const localPort = await reserveClientPort(ip);
    try {
      return await run(localPort);
    } catch (err) {
      const bindConflict = (err as { code?: unknown }).code === 45 || /errno 98|EADDRINUSE/.test(String(err));
      if (!bindConflict || attempt >= 5) throw err;
    }
  }
}

export async function listen(server: net.Server, ip = '127.0.0.1'): Promise<number> {
  server.listen(0, ip);
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

export async function closeServer(server: net.Server): Promise<void> {
  if (!server.listening) return;
  (server as http.Server).closeAllConnections?.();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** An HTTP backend that names itself, echoes request bodies and counts accepted connections. */
export class HttpBackend {
  readonly server: http.Server;
  acceptedSockets = 0;
  requests = 0;
  lastRequestHeaders: http.IncomingHttpHeaders = {};
  /** Progress of the last /big response: bytes handed to res.write and whether it waits for 'drain'. */
  big = { written: 0, waitingForDrain: false, done: false };
  port = 0;
  private readonly sockets = new Set<net.Socket>();

  constructor(readonly name: string) {
    this.server = http.createServer((req, res) => {
      this.requests++;
      this.lastRequestHeaders = req.headers;
      if (req.url?.startsWith('/echo')) {
        res.writeHead(200, { 'x-backend': this.name, 'content-type': 'application/octet-stream' });
        req.pipe(res);
        return;
      }
      if (req.url?.startsWith('/big/')) {
        // /big/<bytes>: a large response written only as fast as the network takes it.
        const total = Number(req.url.slice('/big/'.length));
        const piece = Buffer.alloc(256 * 1024, 0x61);
        const big = { written: 0, waitingForDrain: false, done: false };
        this.big = big;
        res.writeHead(200, { 'x-backend': this.name, 'content-length': String(total) });
        const writeMore = (): void => {
          big.waitingForDrain = false;
          while (big.written < total) {
            const part = piece.subarray(0, Math.min(piece.length, total - big.written));
            big.written += part.length;
            if (!res.write(part)) {
              big.waitingForDrain = true;
              res.once('drain', writeMore);
              return;
            }
          }
          big.done = true;
          res.end();
        };
        writeMore();
        return;
      }
      if (req.url?.startsWith('/chunks')) {
        res.writeHead(200, { 'x-backend': this.name });
        res.write('first-');
        setImmediate(() => res.end('second'));
        return;
      }
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'x-backend': this.name, 'content-type': 'text/plain', connection: 'keep-alive' });
        res.end(`hello from ${this.name}\n`);
      });
    });
    this.server.on('connection', (socket: net.Socket) => {
      this.acceptedSockets++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    // A WebSocket-like upgrade: 101, then every byte is echoed.
    this.server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      this.requests++;
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
      if (head.length > 0) socket.write(head);
      socket.pipe(socket);
    });
  }

  async start(ip = '127.0.0.1'): Promise<this> {
    this.port = await listen(this.server, ip);
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await closeServer(this.server);
  }
}

/** A server-speaks-first TCP server: writes a banner on connect, then echoes. */
export class BannerServer {
  readonly banner = '220 weft-test banner ready\r\n';
  readonly server: net.Server;
  port = 0;
  private readonly sockets = new Set<net.Socket>();

  constructor() {
    this.server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      // A client reset is part of some tests; the server just drops that socket.
      socket.on('error', () => socket.destroy());
      socket.write(this.banner);
      socket.pipe(socket);
    });
  }

  async start(ip = '127.0.0.1'): Promise<this> {
    this.port = await listen(this.server, ip);
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await closeServer(this.server);
  }
}

/** A plain TCP echo server (client speaks first). */
export class EchoServer {
  readonly server: net.Server;
  port = 0;
  private readonly sockets = new Set<net.Socket>();

  constructor() {
    this.server = net.createServer({ allowHalfOpen: true }, (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      socket.pipe(socket);
    });
  }

  async start(ip = '127.0.0.1'): Promise<this> {
    this.port = await listen(this.server, ip);
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await closeServer(this.server);
  }
}

/** Reads from a socket until `predicate(all bytes so far)` holds; rejects on close/error/timeout. */
export function readUntil(socket: net.Socket, predicate: (bytes: Buffer) => boolean, timeoutMs = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let bytes = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error(`timed out; got ${JSON.stringify(bytes.toString('latin1'))}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      bytes = Buffer.concat([bytes, chunk]);
      if (predicate(bytes)) finish(null);
    };
    const onEnd = (): void => finish(predicate(bytes) ? null : new Error(`closed; got ${JSON.stringify(bytes.toString('latin1'))}`));
    const onError = (err: Error): void => finish(err);
    function finish(err: Error | null): void {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      if (err) reject(err);
      else resolve(bytes);
    }
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
  });
}
