// `weft stat`: reads one node's /metrics twice, an interval apart, and prints per destination
// service (or source workload) the request rate, success rate and latency percentiles.
import { request } from 'node:http';
import { parsePrometheusText, type Sample } from './prometheus-text.js';
import { computeRequestStats, type GroupBy, type RequestStats } from './request-stats.js';
import { UsageError } from './usage-error.js';

export const STAT_USAGE = `usage: weft stat [--node-addr HOST:PORT] [--by service|workload] [--interval SECONDS] [--json]
  --node-addr   the node agent's admin address (default 127.0.0.1:15020)
  --by          group by destination service (default) or source workload
  --interval    seconds between the two scrapes used for the rate (default 1)
  --json        print JSON for scripts`;

export interface StatOptions {
  host: string;
  port: number;
  by: GroupBy;
  intervalMs: number;
  json: boolean;
}

export class StatError extends Error {}

export function parseStatArgs(argv: readonly string[]): StatOptions {
  const options: StatOptions = { host: '127.0.0.1', port: 15020, by: 'service', intervalMs: 1000, json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '--node-addr': {
        const addr = value();
        const colon = addr.lastIndexOf(':');
        const port = Number(addr.slice(colon + 1));
        if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
          throw new UsageError(`--node-addr must be HOST:PORT, got "${addr}"`);
        }
        options.host = addr.slice(0, colon).replace(/^\[|\]$/g, '');
        options.port = port;
        break;
      }
      case '--by': {
        const by = value();
        if (by !== 'service' && by !== 'workload') throw new UsageError(`--by must be service or workload, got "${by}"`);
        options.by = by;
        break;
      }
      case '--interval': {
        const seconds = Number(value());
        if (!(seconds > 0 && seconds <= 600)) throw new UsageError('--interval must be a number of seconds in (0, 600]');
        options.intervalMs = seconds * 1000;
        break;
      }
      case '--json':
        options.json = true;
        break;
      default:
        throw new UsageError(`unknown argument ${arg}`);
    }
  }
  return options;
}

function scrape(host: string, port: number): Promise<Sample[]> {
  const where = `${host}:${port}`;
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/metrics', timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        if (res.statusCode !== 200) {
          reject(new StatError(`${where} answered HTTP ${res.statusCode} on /metrics: not a Weft agent`));
          return;
        }
        try {
          const samples = parsePrometheusText(body);
          if (!samples.some((s) => s.name.startsWith('weft_'))) {
            reject(new StatError(`${where} serves metrics but none named weft_*: not a Weft agent`));
            return;
          }
          resolve(samples);
        } catch (err) {
          reject(new StatError(`${where} answered something that is not Prometheus metrics: not a Weft agent (${(err as Error).message})`));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new StatError(`${where} did not answer within 5 s`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof StatError) reject(err);
      else if (err.code === 'ECONNREFUSED') reject(new StatError(`nothing listens on ${where}: is the Weft agent running on that node?`));
      else reject(new StatError(`cannot reach ${where}: ${err.code ?? err.message}`));
    });
    req.end();
  });
}

function formatTable(stats: readonly RequestStats[], by: GroupBy): string {
  const header = [by === 'service' ? 'SERVICE' : 'WORKLOAD', 'REQUESTS', 'SUCCESS', 'RPS', 'LATENCY_P50', 'LATENCY_P99'];
  const ms = (v: number | null) => (v === null ? '-' : `${v < 10 ? v.toFixed(2) : v.toFixed(0)}ms`);
  const rows = stats.map((s) => [
    s.name,
    String(s.totalRequests),
    s.successRate === null ? '-' : `${(s.successRate * 100).toFixed(2)}%`,
    s.requestsPerSecond.toFixed(1),
    ms(s.p50Ms),
    ms(s.p99Ms),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  if (rows.length === 0) return `${line(header)}\n(no requests seen by this node yet)\n`;
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export async function runStat(argv: readonly string[], out: NodeJS.WritableStream): Promise<void> {
  const options = parseStatArgs(argv);
  const before = await scrape(options.host, options.port);
  await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  const after = await scrape(options.host, options.port);
  const stats = computeRequestStats(before, after, options.intervalMs / 1000, options.by);
  out.write(options.json ? JSON.stringify({ node: `${options.host}:${options.port}`, by: options.by, stats }, null, 2) + '\n' : formatTable(stats, options.by));
}
