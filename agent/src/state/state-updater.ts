// The single writer of the mesh snapshot. Cache changes arrive in bursts (a relist delivers
// hundreds of events); they are coalesced into one rebuild per tick, and the new snapshot is
// swapped in whole, so readers always see a consistent picture.
//
// Nothing is published until every informer has listed: a snapshot built from half-listed
// caches (namespaces known, pods not yet) would look like "no enrolled pods, no services" to
// the BPF map sync and the enrollment reconciler, which would then delete map entries and
// detach the links a previous agent left pinned.
import type { Logger } from 'pino';
import type { ClusterCaches } from '../k8s/cluster-caches.js';
import { EMPTY_SNAPSHOT, type MeshSnapshot } from './mesh-snapshot.js';
import { buildSnapshot } from './snapshot-builder.js';
import { reuseUnchanged } from './snapshot-reuse.js';
import { epochMs } from '../metrics/snapshot-metrics.js';

/** `changedAtMs`: when the oldest change in this snapshot was seen (epochMs), for freshness metrics. */
export type SnapshotListener = (snapshot: MeshSnapshot, changedAtMs: number) => void;

/** The caches a snapshot is built from, and whether every one of them has listed once. */
export interface SyncedClusterCaches extends ClusterCaches {
  synced(): boolean;
}

export class StateUpdater {
  private snapshot: MeshSnapshot = EMPTY_SNAPSHOT;
  private scheduled = false;
  /** When the first change not yet in a published snapshot was seen (epochMs). */
  private changedSince: number | undefined;
  private readonly listeners: SnapshotListener[] = [];

  constructor(
    private readonly caches: SyncedClusterCaches,
    private readonly nodeName: string,
    private readonly nodeIp: string,
    private readonly log: Logger,
  ) {}

  /** The snapshot the data path reads; cheap enough to call per connection. */
  readonly current = (): MeshSnapshot => this.snapshot;

  onPublish(listener: SnapshotListener): void {
    this.listeners.push(listener);
  }

  /** Asks for a rebuild; many calls in one tick give one rebuild. */
  invalidate(): void {
    this.changedSince ??= epochMs();
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.rebuild();
    });
  }

  /**
   * Builds and publishes a snapshot of the caches now; does nothing (and says so) while some
   * informer has not listed yet: the caller publishes once they all have (ClusterWatch.start).
   */
  rebuild(): boolean {
    if (!this.caches.synced()) return false;
    const built = buildSnapshot({
      version: this.snapshot.version + 1,
      nodeName: this.nodeName,
      nodeIp: this.nodeIp,
      caches: this.caches,
    });
    // Unchanged pods and Services stay the same objects: per-object caches survive, and the
    // workers are sent only what changed.
    const next = reuseUnchanged(built, this.snapshot);
    this.snapshot = next;
    const changedAtMs = this.changedSince ?? epochMs();
    this.changedSince = undefined;
    for (const listener of this.listeners) {
      try {
        listener(next, changedAtMs);
      } catch (err) {
        // one consumer failing must not stop the others from seeing the new state
        this.log.error({ err, version: next.version }, 'snapshot consumer failed');
      }
    }
    return true;
  }
}
