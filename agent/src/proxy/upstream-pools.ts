// Keep-alive HTTP/1.1 connection pools, one undici Pool per (source identity, target pool key),
// created on first use. Pools are kept apart per source workload identity because a pooled
// connection may be an HBONE tunnel opened with that workload's certificate: it must never carry
// another workload's requests; and per transport decision (UpstreamTarget.poolKey: plain or
// HBONE, which node, which destination identity), because a pool connects with the target it
// was created for: a snapshot that changes the decision gets a new pool, and the old one idles
// out. Every pool opens its sockets through the shared UpstreamConnector.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { Pool, type buildConnector } from 'undici';
import type { SourceWorkload } from './source-workload.js';
import type { UpstreamConnector } from './upstream-connector.js';
import type { UpstreamTarget } from './upstream-target.js';

export interface UpstreamPoolsOptions {
  connector: UpstreamConnector;
  /** Concurrent connections per endpoint; further requests queue in the pool. */
  maxConnectionsPerEndpoint: number;
  /** How long a response may take to start after the request was sent (504 after that). */
  responseHeadersTimeoutMs: number;
  /** Longest pause between two chunks of a response body (the response is cut after that). */
  responseBodyIdleTimeoutMs: number;
  /** A pool unused for between one and two of these periods is closed (endpoints come and go). */
  idlePoolSweepMs: number;
  log: Logger;
}

interface PoolEntry {
  readonly pool: Pool;
  /** The sweep epoch of the last use: a field write per request instead of reading a clock. */
  usedInEpoch: number;
}

/** Pools of requests whose source workload is unknown (they can only go over plain TCP). */
const NO_SOURCE_KEY = '';

export class UpstreamPools {
  /** source workload key -> endpoint key -> pool: two lookups per request, no string building. */
  private readonly entries = new Map<string, Map<string, PoolEntry>>();
  private count = 0;
  private epoch = 0;
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(private readonly options: UpstreamPoolsOptions) {
    this.sweepTimer = setInterval(this.sweepIdle, options.idlePoolSweepMs);
    this.sweepTimer.unref();
  }

  get(target: UpstreamTarget, source: SourceWorkload | null): Pool {
    const sourceKey = source === null ? NO_SOURCE_KEY : source.key;
    let bySource = this.entries.get(sourceKey);
    if (bySource === undefined) {
      bySource = new Map();
      this.entries.set(sourceKey, bySource);
    }
    let entry = bySource.get(target.poolKey);
    if (entry === undefined) {
      entry = { pool: this.create(target, source), usedInEpoch: this.epoch };
      bySource.set(target.poolKey, entry);
      this.count++;
    } else {
      entry.usedInEpoch = this.epoch;
    }
    return entry.pool;
  }

  get size(): number {
    return this.count;
  }

  /** Ends every upstream connection now, failing what is still in flight, and stops sweeping. */
  async destroyAll(): Promise<void> {
    clearInterval(this.sweepTimer);
    const pools: Pool[] = [];
    for (const bySource of this.entries.values()) for (const entry of bySource.values()) pools.push(entry.pool);
    this.entries.clear();
    this.count = 0;
    await Promise.all(pools.map((pool) => pool.destroy()));
  }

  /** Closes pools not used during the whole last sweep period and with nothing in flight. */
  private readonly sweepIdle = (): void => {
    const previous = this.epoch;
    this.epoch++;
    for (const [sourceKey, bySource] of this.entries) {
      for (const [key, entry] of bySource) {
        if (entry.usedInEpoch >= previous) continue;
        const stats = entry.pool.stats;
        if (stats.pending > 0 || stats.running > 0) continue;
        bySource.delete(key);
        this.count--;
        // close() lets anything queued finish; nothing is, so this only releases idle sockets.
        entry.pool.close().catch((err: unknown) => {
          this.options.log.warn({ err, upstream: key }, 'closing an idle upstream pool failed');
        });
      }
      if (bySource.size === 0) this.entries.delete(sourceKey);
    }
  };

  private create(target: UpstreamTarget, source: SourceWorkload | null): Pool {
    const connector = this.options.connector;
    const connect: buildConnector.connector = (_options, callback) => {
      connector.connect(target, source, (err, stream) => {
        if (err !== null) callback(err, null);
        // undici drives a net.Socket-like Duplex; an HBONE CONNECT stream has the surface it
        // uses (read/write/cork/destroy; ref/unref are optional).
        else callback(null, stream as Socket);
      });
    };
    return new Pool(`http://${target.ip}:${target.port}`, {
      connect,
      connections: this.options.maxConnectionsPerEndpoint,
      pipelining: 1,
      headersTimeout: this.options.responseHeadersTimeoutMs,
      bodyTimeout: this.options.responseBodyIdleTimeoutMs,
    });
  }
}
