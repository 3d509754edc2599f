// A client-node informer that keeps itself running. client-node's ListWatch relists on 410 Gone
// and re-watches when the server ends a watch cleanly, but on any other failure (connection reset,
// list refused, server briefly down) it emits 'error' and stops for good. Its README tells callers
// to restart it from the error handler; this wrapper does that, with exponential backoff, so
// controllers and tests share one correct implementation instead of ad-hoc setTimeouts.
import {
  ListWatch,
  Watch,
  type KubeConfig,
  type KubernetesObject,
  type ListPromise,
  type ObjectCache,
  type ObjectCallback,
} from '@kubernetes/client-node';

export type InformerLog = (msg: string, fields?: object) => void;

export interface RestartingInformerOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  /** Watch path, e.g. `/api/v1/pods` or `/apis/discovery.k8s.io/v1/endpointslices`. */
  path: string;
  /** Lists the same collection as `path`, with the same selectors. */
  list: ListPromise<T>;
  labelSelector?: string;
  fieldSelector?: string;
  /** Names this informer in log lines. */
  name: string;
  log: InformerLog;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

type ObjectVerb = 'add' | 'update' | 'delete' | 'change';

export class RestartingInformer<T extends KubernetesObject> implements ObjectCache<T> {
  private readonly informer: ListWatch<T>;
  private readonly name: string;
  private readonly log: InformerLog;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private backoffMs: number;
  private stopped = true;
  private attemptInFlight: Promise<void> | undefined;
  private attemptFailed = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private syncWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  private synced = false;
  /** How many times the informer was restarted after an error (tests and logs read it). */
  restarts = 0;

  constructor(options: RestartingInformerOptions<T>) {
    this.informer = new ListWatch<T>(
      options.path,
      new WatchClosedOnStop(options.kubeConfig, () => this.stopped),
      options.list,
      false,
      options.labelSelector,
      options.fieldSelector,
    );
    this.name = options.name;
    this.log = options.log;
    this.initialBackoffMs = options.initialBackoffMs ?? 100;
    this.maxBackoffMs = options.maxBackoffMs ?? 5_000;
    if (this.initialBackoffMs <= 0 || this.maxBackoffMs < this.initialBackoffMs) {
      throw new Error(
        `informer ${this.name}: backoff must satisfy 0 < initialBackoffMs <= maxBackoffMs`,
      );
    }
    this.backoffMs = this.initialBackoffMs;
    this.informer.on('error', (err) => this.onError(err));
  }

  on(verb: ObjectVerb, callback: ObjectCallback<T>): void {
    this.informer.on(verb, callback);
  }

  off(verb: ObjectVerb, callback: ObjectCallback<T>): void {
    this.informer.off(verb, callback);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  list(namespace?: string): ReadonlyArray<T> {
    return this.informer.list(namespace);
  }

  /** Whether the first list and watch have succeeded. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Starts listing and watching; resolves once the first list succeeded and the watch is open. */
  start(): Promise<void> {
    if (!this.stopped) throw new Error(`informer ${this.name} is already started`);
    this.stopped = false;
    const synced = new Promise<void>((resolve, reject) => {
      this.syncWaiters.push({ resolve, reject });
    });
    void this.attempt();
    return synced;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await this.informer.stop();
    // ListWatch only aborts a watch it has already opened: if a start is in flight, its watch
    // opens after this point, so stop again once that attempt has finished.
    if (this.attemptInFlight) {
      await this.attemptInFlight;
      await this.informer.stop();
    }
    for (const waiter of this.syncWaiters.splice(0)) {
      waiter.reject(new Error(`informer ${this.name} stopped before it synced`));
    }
  }

  private async attempt(): Promise<void> {
    this.restartTimer = undefined;
    if (this.stopped) return;
    this.attemptFailed = false;
    const started = this.informer.start().catch((err: unknown) => {
      // ListWatch reports failures through 'error'; a rejection here is a bug in its setup
      // (e.g. no current cluster) and is treated the same way.
      this.attemptFailed = true;
      this.log('informer start failed', { informer: this.name, err: errorText(err) });
    });
    this.attemptInFlight = started;
    await started;
    this.attemptInFlight = undefined;
    if (this.stopped) return;
    if (this.attemptFailed) {
      this.scheduleRestart();
      return;
    }
    this.backoffMs = this.initialBackoffMs;
    if (!this.synced) {
      this.synced = true;
      for (const waiter of this.syncWaiters.splice(0)) waiter.resolve();
    }
  }

  private onError(err: unknown): void {
    // Stopping aborts the watch, which ListWatch reports as an error: not a failure.
    if (this.stopped) return;
    this.log('informer failed, restarting', {
      informer: this.name,
      err: errorText(err),
      retryInMs: this.backoffMs,
    });
    if (this.attemptInFlight) {
      this.attemptFailed = true; // attempt() schedules the restart once start() returns
      return;
    }
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.stopped || this.restartTimer) return;
    const delayMs = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.maxBackoffMs);
    this.restarts += 1;
    this.restartTimer = setTimeout(() => void this.attempt(), delayMs);
  }
}

/**
 * ListWatch re-watches on its own after a clean close or a 410 relist; if stop() lands while such
 * a reconnect awaits its list or the watch response, ListWatch opens the watch anyway and keeps
 * it. This Watch aborts any watch that opens after stop, so a stopped informer holds no socket.
 */
class WatchClosedOnStop extends Watch {
  constructor(
    kubeConfig: KubeConfig,
    private readonly isStopped: () => boolean,
  ) {
    super(kubeConfig);
  }

  override async watch(...args: Parameters<Watch['watch']>): Promise<AbortController> {
    const controller = await super.watch(...args);
    if (this.isStopped()) controller.abort();
    return controller;
  }
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (err && typeof err === 'object') {
    const record = err as Record<string, unknown>;
    if (typeof record.message === 'string') return record.message;
    return JSON.stringify(err);
  }
  return String(err);
}
