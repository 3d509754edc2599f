// The agent's admin port (:15020 on the node IP and on loopback): `/metrics` (Prometheus text
// from the agent's own Registry), `/healthz` (the process answers), `/readyz` (every readiness
// check passes: informers synced, programs loaded, proxy listening, ...) and `/debug/*`, which
// answers only on loopback. It is a separate server from the proxy so a scrape never queues
// behind proxied traffic in the same parser.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { MetricsPage } from './node-metrics-page.js';
import { listenShared } from '../net/shared-listener.js';

export type ReadinessCheck = () => boolean;
export type DebugHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface AdminServerOptions {
  /** Addresses to listen on, e.g. [nodeIp, '127.0.0.1']; duplicates are ignored. */
  hosts: readonly string[];
  /** 15020 in the agent; 0 picks a free port (tests; all hosts then get the same port). */
  port: number;
  /** What /metrics renders (a prom-client Registry is one). */
  registry: MetricsPage;
  /** Named checks; /readyz is 200 only when all return true, else 503 listing the failing ones. */
  readiness: Readonly<Record<string, ReadinessCheck>>;
  /** Handlers under /debug/ by path (e.g. '/debug/snapshot'); loopback clients only. */
  debug?: Readonly<Record<string, DebugHandler>>;
  log: Logger;
}

export class AdminServer {
  private readonly servers: http.Server[] = [];
  private readonly hosts: string[];
  private readonly log: Logger;
  private boundPort = 0;

  constructor(private readonly options: AdminServerOptions) {
    if (options.hosts.length === 0) throw new Error('AdminServer needs at least one host to listen on');
    this.hosts = [...new Set(options.hosts)];
    this.log = options.log.child({ subsys: 'admin' });
  }

  get port(): number {
    return this.boundPort;
  }

  async listen(): Promise<void> {
    let port = this.options.port;
    for (const host of this.hosts) {
      const server = http.createServer(this.onRequest);
      // Shared with a successor agent during a handover, so its probes answer from the start.
      await listenShared(server, host, port);
      this.servers.push(server);
      // With port 0 the first bind picks the port; the other addresses reuse it.
      port = (server.address() as AddressInfo).port;
      this.boundPort = port;
      this.log.info({ host, port }, 'admin server listening');
    }
  }

  async close(): Promise<void> {
    const servers = this.servers.splice(0);
    await Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve, reject) => {
            server.closeAllConnections();
            server.close((err) => (err ? reject(err) : resolve()));
          }),
      ),
    );
  }

  private readonly onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      reply(res, 405, 'only GET and HEAD are served here\n', { allow: 'GET, HEAD' });
      return;
    }
    if (path === '/metrics') {
      this.serveMetrics(res);
    } else if (path === '/healthz') {
      reply(res, 200, 'ok\n');
    } else if (path === '/readyz') {
      this.serveReadiness(res);
    } else if (path.startsWith('/debug/')) {
      this.serveDebug(path, req, res);
    } else {
      reply(res, 404, 'not found; try /metrics, /healthz or /readyz\n');
    }
  };

  private serveMetrics(res: http.ServerResponse): void {
    this.options.registry.metrics().then(
      (text) => reply(res, 200, text, { 'content-type': this.options.registry.contentType }),
      (err: unknown) => {
        this.log.error({ err }, 'rendering metrics failed');
        reply(res, 500, 'rendering metrics failed; see the agent log\n');
      },
    );
  }

  private serveReadiness(res: http.ServerResponse): void {
    const failing: string[] = [];
    for (const [name, check] of Object.entries(this.options.readiness)) {
      let ok: boolean;
      try {
        ok = check();
      } catch (err) {
        this.log.warn({ err, check: name }, 'readiness check threw; counted as not ready');
        ok = false;
      }
      if (!ok) failing.push(name);
    }
    if (failing.length === 0) reply(res, 200, 'ready\n');
    else reply(res, 503, `not ready: ${failing.join(', ')}\n`);
  }

  private serveDebug(path: string, req: http.IncomingMessage, res: http.ServerResponse): void {
    if (!isLoopback(req.socket.localAddress)) {
      reply(res, 404, 'debug endpoints answer on loopback only\n');
      return;
    }
    const handler = this.options.debug?.[path];
    if (handler === undefined) {
      reply(res, 404, `no debug endpoint ${path}\n`);
      return;
    }
    handler(req, res);
  }
}

function reply(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    ...headers,
    'content-length': Buffer.byteLength(body),
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.');
}
