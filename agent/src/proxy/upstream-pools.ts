// Keep-alive HTTP/1.1 connection pools, one undici Pool per endpoint (ip:port), created on
// first use. Every pool opens its sockets through the shared UpstreamConnector, so swapping
// plain TCP for HBONE later changes nothing here.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { Pool, type buildConnector } from 'undici';
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

export class UpstreamPools {
  private readonly entries = new Map<string, PoolEntry>();
  private epoch = 0;
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(private readonly options: UpstreamPoolsOptions) {
    this.sweepTimer = setInterval(this.sweepIdle, options.idlePoolSweepMs);
    this.sweepTimer.unref();
  }

  get(target: UpstreamTarget): Pool {
    let entry = this.entries.get(target.key);
    if (entry === undefined) {
      entry = { pool: this.create(target.ip, target.port), usedInEpoch: this.epoch };
      this.entries.set(target.key, entry);
    } else {
      entry.usedInEpoch = this.epoch;
    }
    return entry.pool;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Ends every upstream connection now, failing what is still in flight, and stops sweeping. */
  async destroyAll(): Promise<void> {
    clearInterval(this.sweepTimer);
    const pools = [...this.entries.values()].map((entry) => entry.pool);
    this.entries.clear();
    await Promise.all(pools.map((pool) => pool.destroy()));
  }

  /** Closes pools not used during the whole last sweep period and with nothing in flight. */
  private readonly sweepIdle = (): void => {
    const previous = this.epoch;
    this.epoch++;
    for (const [key, entry] of this.entries) {
      if (entry.usedInEpoch >= previous) continue;
      const stats = entry.pool.stats;
      if (stats.pending > 0 || stats.running > 0) continue;
      this.entries.delete(key);
      // close() lets anything queued finish; nothing is, so this only releases idle sockets.
      entry.pool.close().catch((err: unknown) => {
        this.options.log.warn({ err, upstream: key }, 'closing an idle upstream pool failed');
      });
    }
  };

  private create(ip: string, port: number): Pool {
    const connector = this.options.connector;
    const connect: buildConnector.connector = (_options, callback) => {
      connector.connect(ip, port, (err, stream) => {
        if (err !== null) callback(err, null);
        // undici drives a net.Socket-like Duplex; the HBONE connector will return a stream
        // with the same surface.
        else callback(null, stream as Socket);
      });
    };
    return new Pool(`http://${ip}:${port}`, {
      connect,
      connections: this.options.maxConnectionsPerEndpoint,
      pipelining: 1,
      headersTimeout: this.options.responseHeadersTimeoutMs,
      bodyTimeout: this.options.responseBodyIdleTimeoutMs,
    });
  }
}
