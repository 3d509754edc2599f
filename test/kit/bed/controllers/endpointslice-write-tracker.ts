// Remembers the EndpointSlice writes the controller made until its informer cache shows them,
// like the real controller's endpointSliceTracker. Two uses:
//  - a reconcile against a cache that does not yet show our last write would create a duplicate
//    slice or fight over a stale resourceVersion, so it must wait (isStale);
//  - the watch event caused by our own write needs no reconcile (isOwnEvent), so the
//    controller never loops on its own writes (consumeOwnEvent).
import type { V1EndpointSlice } from '@kubernetes/client-node';

interface PendingWrite {
  /** The resourceVersion our write produced; undefined for a delete. */
  resourceVersion: string | undefined;
  atMs: number;
}

export class EndpointSliceWriteTracker {
  /** serviceKey -> slice uid -> pending write */
  private readonly pending = new Map<string, Map<string, PendingWrite>>();
  private readonly expireAfterMs: number;

  constructor(options: { expireAfterMs?: number } = {}) {
    this.expireAfterMs = options.expireAfterMs ?? 30_000;
  }

  recordWrite(serviceKey: string, written: V1EndpointSlice): void {
    const uid = written.metadata?.uid;
    if (!uid) throw new Error(`API server returned EndpointSlice ${written.metadata?.name} without a uid`);
    this.forService(serviceKey).set(uid, {
      resourceVersion: written.metadata?.resourceVersion,
      atMs: Date.now(),
    });
  }

  recordDelete(serviceKey: string, uid: string): void {
    this.forService(serviceKey).set(uid, { resourceVersion: undefined, atMs: Date.now() });
  }

  /**
   * True while `cached` (the informer's slices of this service) lacks one of our writes. Writes
   * the cache has caught up with are forgotten; so are writes older than expireAfterMs, which
   * the cache can skip when a relist jumps past them.
   */
  isStale(serviceKey: string, cached: readonly V1EndpointSlice[]): boolean {
    const writes = this.pending.get(serviceKey);
    if (!writes) return false;
    const byUid = new Map(cached.map((slice) => [slice.metadata?.uid, slice]));
    const now = Date.now();
    for (const [uid, write] of writes) {
      const seen = byUid.get(uid);
      const caughtUp =
        write.resourceVersion === undefined
          ? seen === undefined
          : seen !== undefined && notOlder(seen.metadata?.resourceVersion, write.resourceVersion);
      if (caughtUp || now - write.atMs > this.expireAfterMs) writes.delete(uid);
    }
    if (writes.size === 0) this.pending.delete(serviceKey);
    return writes.size > 0;
  }

  /**
   * Whether a watch event for this slice is exactly the result of one of our writes. Such a
   * write is then forgotten: the informer updates its cache before it calls handlers.
   */
  consumeOwnEvent(serviceKey: string, slice: V1EndpointSlice, deleted: boolean): boolean {
    const uid = slice.metadata?.uid;
    const writes = this.pending.get(serviceKey);
    const write = uid === undefined ? undefined : writes?.get(uid);
    if (!writes || !write || uid === undefined) return false;
    const own = deleted
      ? write.resourceVersion === undefined
      : write.resourceVersion === slice.metadata?.resourceVersion;
    if (!own) return false;
    writes.delete(uid);
    if (writes.size === 0) this.pending.delete(serviceKey);
    return true;
  }

  private forService(serviceKey: string): Map<string, PendingWrite> {
    let writes = this.pending.get(serviceKey);
    if (!writes) {
      writes = new Map();
      this.pending.set(serviceKey, writes);
    }
    return writes;
  }
}

/** resourceVersions are opaque, but every etcd-backed server (and ours) uses increasing integers. */
function notOlder(seen: string | undefined, written: string): boolean {
  if (seen === undefined) return false;
  if (/^\d+$/.test(seen) && /^\d+$/.test(written)) return BigInt(seen) >= BigInt(written);
  return seen === written;
}
