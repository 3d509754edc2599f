// All objects, the one global resourceVersion counter and the recent history of changes that
// watches resume from. Every write goes through here, synchronously, so a watcher that
// subscribes and reads a snapshot in the same tick never misses or repeats an event.
import type { KubeObject } from './kube-object.js';

export type StoreEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: StoreEventType;
  /** Storage key of the resource (group/plural). */
  resource: string;
  /** The object after the change (for DELETED: the last state, carrying the deletion's RV). */
  object: KubeObject;
  /** The object before the change (MODIFIED and DELETED). */
  previous?: KubeObject;
  resourceVersion: number;
}

export type StoreListener = (event: StoreEvent) => void;

export type ReplayResult =
  | { ok: true; events: StoreEvent[] }
  | { ok: false; oldestResumableRv: number };

function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

export class ObjectStore {
  private rv: number;
  private readonly buckets = new Map<string, Map<string, KubeObject>>();
  private history: StoreEvent[] = [];
  /** Watches from a resourceVersion below this missed dropped events and must get 410. */
  private oldestResumable: number;
  private readonly listeners = new Set<StoreListener>();

  constructor(
    private readonly windowSize: number,
    /** Told about a listener that threw; the write itself has happened and stands. */
    private readonly onListenerError: (err: unknown) => void = (err) => { throw err; },
    initialRv = 1,
  ) {
    if (!Number.isInteger(windowSize) || windowSize < 0) throw new Error(`watch window must be a non-negative integer, got ${windowSize}`);
    this.rv = initialRv;
    this.oldestResumable = initialRv;
  }

  get resourceVersion(): number {
    return this.rv;
  }

  get oldestResumableRv(): number {
    return this.oldestResumable;
  }

  /** The stored object (shared: callers must clone before changing it). */
  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.buckets.get(resource)?.get(objectKey(namespace, name));
  }

  /** Objects of a resource, in one namespace or all, sorted by namespace/name like etcd keys. */
  list(resource: string, namespace?: string): KubeObject[] {
    const bucket = this.buckets.get(resource);
    if (!bucket) return [];
    const keys = [...bucket.keys()].sort();
    const out: KubeObject[] = [];
    for (const key of keys) {
      const obj = bucket.get(key)!;
      if (namespace === undefined || obj.metadata.namespace === namespace) out.push(obj);
    }
    return out;
  }

  /** Stores a new object; sets its resourceVersion. The caller checked it does not exist. */
  create(resource: string, obj: KubeObject): KubeObject {
    const key = objectKey(obj.metadata.namespace, obj.metadata.name!);
    let bucket = this.buckets.get(resource);
    if (!bucket) {
      bucket = new Map();
      this.buckets.set(resource, bucket);
    }
    if (bucket.has(key)) throw new Error(`store: ${resource} ${key} already exists`);
    obj.metadata.resourceVersion = String(++this.rv);
    bucket.set(key, obj);
    this.record({ type: 'ADDED', resource, object: obj, resourceVersion: this.rv });
    return obj;
  }

  update(resource: string, obj: KubeObject): KubeObject {
    const key = objectKey(obj.metadata.namespace, obj.metadata.name!);
    const bucket = this.buckets.get(resource);
    const previous = bucket?.get(key);
    if (!bucket || !previous) throw new Error(`store: ${resource} ${key} does not exist`);
    obj.metadata.resourceVersion = String(++this.rv);
    bucket.set(key, obj);
    this.record({ type: 'MODIFIED', resource, object: obj, previous, resourceVersion: this.rv });
    return obj;
  }

  delete(resource: string, namespace: string | undefined, name: string): KubeObject {
    const key = objectKey(namespace, name);
    const bucket = this.buckets.get(resource);
    const previous = bucket?.get(key);
    if (!bucket || !previous) throw new Error(`store: ${resource} ${key} does not exist`);
    bucket.delete(key);
    const last: KubeObject = { ...previous, metadata: { ...previous.metadata, resourceVersion: String(++this.rv) } };
    this.record({ type: 'DELETED', resource, object: last, previous, resourceVersion: this.rv });
    return last;
  }

  /** Events after `rv`, or the oldest RV still resumable when some were already dropped. */
  eventsAfter(rv: number): ReplayResult {
    if (rv < this.oldestResumable) return { ok: false, oldestResumableRv: this.oldestResumable };
    return { ok: true, events: this.history.filter((e) => e.resourceVersion > rv) };
  }

  /**
   * Forgets all retained events. The counter moves on by one (resourceVersions are opaque and
   * may have gaps), so every resourceVersion a client holds now is too old: its next watch gets
   * 410 and it relists, as after an etcd compaction it slept through.
   */
  compact(): void {
    this.history = [];
    this.rv += 1;
    this.oldestResumable = this.rv;
  }

  subscribe(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private record(event: StoreEvent): void {
    this.history.push(event);
    if (this.history.length > this.windowSize) {
      // Drop in batches so trimming stays cheap; resumability is tracked exactly either way.
      const drop = this.history.length - this.windowSize;
      const dropped = this.history.splice(0, drop);
      this.oldestResumable = dropped[dropped.length - 1]!.resourceVersion;
    }
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }
}
