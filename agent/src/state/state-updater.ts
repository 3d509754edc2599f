// The single writer of the mesh snapshot. Cache changes arrive in bursts (a relist delivers
// hundreds of events); they are coalesced into one rebuild per tick, and the new snapshot is
// swapped in whole, so readers always see a consistent picture.
import type { Logger } from 'pino';
import type { ClusterCaches } from '../k8s/cluster-caches.js';
import { EMPTY_SNAPSHOT, type MeshSnapshot } from './mesh-snapshot.js';
import { buildSnapshot } from './snapshot-builder.js';

export type SnapshotListener = (snapshot: MeshSnapshot) => void;

export class StateUpdater {
  private snapshot: MeshSnapshot = EMPTY_SNAPSHOT;
  private scheduled = false;
  private readonly listeners: SnapshotListener[] = [];

  constructor(
    private readonly caches: ClusterCaches,
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
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.rebuild();
    });
  }

  rebuild(): void {
    const next = buildSnapshot({
      version: this.snapshot.version + 1,
      nodeName: this.nodeName,
      nodeIp: this.nodeIp,
      caches: this.caches,
    });
    this.snapshot = next;
    for (const listener of this.listeners) {
      try {
        listener(next);
      } catch (err) {
        // one consumer failing must not stop the others from seeing the new state
        this.log.error({ err, version: next.version }, 'snapshot consumer failed');
      }
    }
  }
}
