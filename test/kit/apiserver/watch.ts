// Watch streams: newline-delimited JSON events (ADDED/MODIFIED/DELETED, BOOKMARK when asked),
// starting from the current state (no or "0" resourceVersion) or resuming from history (a given
// resourceVersion), and an ERROR event with a 410 Expired Status when that history is gone -
// exactly what informers handle by relisting.
import type { ServerResponse } from 'node:http';
import type { KubeObject } from './kube-object.js';
import type { ResourceDescriptor } from './resource-registry.js';
import { apiVersionOf, storageKeyOf } from './resource-registry.js';
import type { ObjectStore, StoreEvent } from './store.js';
import type { ObjectFilter } from './list-query.js';
import { statusErrors } from './status-errors.js';

export interface WatchRequest {
  descriptor: ResourceDescriptor;
  filter: ObjectFilter;
  /** The resourceVersion query parameter ('' when absent). */
  resourceVersion: string;
  allowBookmarks: boolean;
  timeoutSeconds?: number;
  /** Set when the client asked for Tables: each event's object becomes a one-row Table. */
  asTable?: (obj: KubeObject) => object;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** The empty object of a kind that bookmarks carry (a Pod's has spec/status, like real ones). */
function bookmarkObject(d: ResourceDescriptor, rv: number): object {
  const base: Record<string, unknown> = { kind: d.kind, apiVersion: apiVersionOf(d), metadata: { resourceVersion: String(rv), creationTimestamp: null } };
  if (d.kind === 'Pod' && d.group === '') {
    base.spec = { containers: null };
    base.status = {};
  }
  return base;
}

/** Objects are stored under one version; a watch of another version sees its own apiVersion. */
function asVersion(d: ResourceDescriptor, obj: KubeObject): KubeObject {
  const apiVersion = apiVersionOf(d);
  return obj.apiVersion === apiVersion ? obj : { ...obj, apiVersion };
}

/** Per-watch timing state, driven by the hub's one shared clock. */
interface OpenWatch {
  deadlineMs: number;
  nextBookmarkMs: number;
  /** Sends a bookmark; undefined when the client did not allow them. */
  bookmark?: () => void;
  finish: () => void;
}

export class WatchHub {
  private readonly open = new Map<ServerResponse, OpenWatch>();
  /** One coarse clock for all watches' bookmarks and timeouts, running only while any is open. */
  private clock: NodeJS.Timeout | undefined;
  private readonly tickMs: number;

  constructor(private readonly store: ObjectStore, private readonly bookmarkIntervalMs: number, private readonly defaultTimeoutSeconds: number) {
    this.tickMs = Math.max(50, Math.min(1000, bookmarkIntervalMs > 0 ? bookmarkIntervalMs : 1000));
  }

  get openCount(): number {
    return this.open.size;
  }

  private tick(): void {
    const now = Date.now();
    for (const watch of [...this.open.values()]) {
      if (now >= watch.deadlineMs) {
        watch.bookmark?.();
        watch.finish();
      } else if (watch.bookmark && now >= watch.nextBookmarkMs) {
        watch.bookmark();
        watch.nextBookmarkMs = now + this.bookmarkIntervalMs;
      }
    }
    if (this.open.size === 0) this.stopClock();
  }

  private startClock(): void {
    if (this.clock) return;
    this.clock = setInterval(() => this.tick(), this.tickMs);
    this.clock.unref();
  }

  private stopClock(): void {
    if (this.clock) clearInterval(this.clock);
    this.clock = undefined;
  }

  serve(res: ServerResponse, w: WatchRequest): void {
    const d = w.descriptor;
    const resourceKey = storageKeyOf(d);
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked',
    });
    // Send the headers now: clients wait for them before reading events that may be far off.
    res.flushHeaders();
    let lastRv = this.store.resourceVersion;
    const write = (type: WatchEventType, object: object): void => {
      const shown = w.asTable && type !== 'BOOKMARK' && type !== 'ERROR' ? w.asTable(object as KubeObject) : object;
      res.write(`${JSON.stringify({ type, object: shown })}\n`);
    };
    const deliver = (event: StoreEvent): void => {
      if (event.resource !== resourceKey) return;
      lastRv = event.resourceVersion;
      const now = w.filter(event.object);
      const before = event.previous !== undefined && event.type !== 'ADDED' && w.filter(event.previous);
      if (event.type === 'ADDED') {
        if (now) write('ADDED', asVersion(d, event.object));
      } else if (event.type === 'DELETED') {
        if (before || now) write('DELETED', asVersion(d, event.object));
      } else if (now && before) {
        write('MODIFIED', asVersion(d, event.object));
      } else if (now) {
        write('ADDED', asVersion(d, event.object));
      } else if (before) {
        // The object stopped matching the selector: to this watcher it is gone.
        const gone = { ...event.previous!, metadata: { ...event.previous!.metadata, resourceVersion: event.object.metadata.resourceVersion } };
        write('DELETED', asVersion(d, gone));
      }
    };

    const rvText = w.resourceVersion;
    let backlog: StoreEvent[] = [];
    if (rvText === '' || rvText === '0') {
      // Start from the current state: synthetic ADDED events for what exists now.
      for (const obj of this.store.list(resourceKey)) if (w.filter(obj)) write('ADDED', asVersion(d, obj));
    } else {
      const from = Number(rvText);
      if (!Number.isInteger(from) || from < 0) {
        this.finishWithError(res, statusErrors.badRequest(`invalid resource version "${rvText}"`).toStatus());
        return;
      }
      const replay = this.store.eventsAfter(from);
      if (!replay.ok) {
        const expired = statusErrors.expired(`too old resource version: ${from} (${replay.oldestResumableRv})`).toStatus();
        this.finishWithError(res, expired);
        return;
      }
      backlog = replay.events;
    }
    for (const event of backlog) deliver(event);
    const unsubscribe = this.store.subscribe(deliver);

    const finish = (): void => {
      unsubscribe();
      this.open.delete(res);
      if (!res.writableEnded) res.end();
    };
    const now = Date.now();
    this.open.set(res, {
      deadlineMs: now + (w.timeoutSeconds ?? this.defaultTimeoutSeconds) * 1000,
      nextBookmarkMs: now + this.bookmarkIntervalMs,
      bookmark: w.allowBookmarks && this.bookmarkIntervalMs > 0 ? () => write('BOOKMARK', bookmarkObject(d, lastRv)) : undefined,
      finish,
    });
    this.startClock();
    // The response closes when the client goes away (or we end it); that ends the watch.
    res.on('close', finish);
    res.on('error', finish);
  }

  private finishWithError(res: ServerResponse, status: object): void {
    this.open.delete(res);
    res.end(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
  }

  /** Ends every open watch (server shutdown, forced relists in tests). */
  closeAll(): void {
    for (const watch of [...this.open.values()]) watch.finish();
    this.stopClock();
  }
}
