// What the proxy knows about one accepted client connection: who sent it, where it was going,
// and which connection-level metrics it feeds. Byte counters are taken from the socket's own
// totals (no per-chunk work) when it closes and at every scrape while it is open.
import type { Socket } from 'node:net';
import type { SourceLabels, TrafficMetrics } from '../metrics/proxy-metrics.js';
import type { ConnectionRoute } from './route-table.js';
import type { SourceWorkload } from './source-workload.js';

export class ClientConnection {
  private traffic: TrafficMetrics | null = null;
  private reportedReadBytes = 0;
  private reportedWrittenBytes = 0;
  /** Set once the protocol is known. */
  kind: 'http' | 'tcp' | 'undecided' = 'undecided';
  /** HTTP requests received and not yet answered in full (an upgrade counts until the end). */
  requestsInFlight = 0;
  /** socket.bytesRead when a drain last looked, and since when it has not changed. */
  private drainSeenBytes = -1;
  private drainQuietSinceMs = 0;

  constructor(
    readonly socket: Socket,
    readonly source: SourceLabels,
    readonly route: ConnectionRoute,
    /** Who opened the connection, for identity across nodes (null: not a known pod). */
    readonly sourceWorkload: SourceWorkload | null,
  ) {}

  /** Counts the connection as proxied (opened) under the given labels. */
  opened(traffic: TrafficMetrics): void {
    this.traffic = traffic;
    traffic.connectionOpened();
  }

  flushBytes(): void {
    if (this.traffic === null) return;
    const read = this.socket.bytesRead;
    const written = this.socket.bytesWritten;
    this.traffic.addBytes(written - this.reportedWrittenBytes, read - this.reportedReadBytes);
    this.reportedReadBytes = read;
    this.reportedWrittenBytes = written;
  }

  /**
   * For a drain: true when this HTTP connection has no request in flight and has received
   * nothing for quietMs (so no request is on its way that closing could cut).
   */
  idleFor(quietMs: number, nowMs: number): boolean {
    const read = this.socket.bytesRead;
    if (read !== this.drainSeenBytes || this.requestsInFlight > 0) {
      this.drainSeenBytes = read;
      this.drainQuietSinceMs = nowMs;
      return false;
    }
    return nowMs - this.drainQuietSinceMs >= quietMs;
  }

  closed(): void {
    if (this.traffic === null) return;
    this.flushBytes();
    this.traffic.connectionClosed();
    this.traffic = null;
  }
}
