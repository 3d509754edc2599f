// The admin endpoints on :15020: /metrics (Prometheus text), /healthz (the process answers),
// /readyz (informers synced, programs loaded, proxy listening). Served on the node IP and on
// loopback. Scrapes render from the registry off the proxy's data path.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

export interface ReadinessCheck {
  name: string;
  ready(): boolean;
}

export interface AdminServerOptions {
  hosts: readonly string[];
  port: number;
  registry: Registry;
  checks: readonly ReadinessCheck[];
}

export class AdminServer {
  private readonly servers: Server[] = [];

  constructor(private readonly options: AdminServerOptions) {}

  async listen(): Promise<void> {
    for (const host of new Set(this.options.hosts)) {
      const server = createServer((req, res) => void this.handle(req, res));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.options.port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      this.servers.push(server);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    switch (path) {
      case '/metrics': {
        try {
          const body = await this.options.registry.metrics();
          res.writeHead(200, { 'content-type': this.options.registry.contentType }).end(body);
        } catch (err) {
          res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(err as Error).message}\n`);
        }
        return;
      }
      case '/healthz':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      case '/readyz': {
        const failing = this.options.checks.filter((check) => !check.ready()).map((check) => check.name);
        if (failing.length === 0) res.writeHead(200, { 'content-type': 'text/plain' }).end('ready\n');
        else res.writeHead(503, { 'content-type': 'text/plain' }).end(`not ready: ${failing.join(', ')}\n`);
        return;
      }
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /healthz, /readyz\n');
    }
  }

  async close(): Promise<void> {
    await Promise.all(
      this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    );
    this.servers.length = 0;
  }
}
