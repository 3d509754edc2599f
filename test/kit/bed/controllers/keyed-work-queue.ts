// A controller work queue in the style of client-go's workqueue: keys, not events, are queued,
// so a burst of changes to one Service collapses into one reconcile; a key is never processed by
// two workers at once (a change arriving mid-reconcile re-queues the key once it finishes); a
// failed key is retried with per-key exponential backoff.

export interface KeyedWorkQueueOptions {
  /** Keys processed in parallel (different keys only). */
  workers?: number;
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Called when processing a key failed; the key is retried after `retryInMs`. */
  onError: (key: string, err: unknown, retryInMs: number) => void;
}

export class KeyedWorkQueue {
  private readonly process: (key: string) => Promise<void>;
  private readonly workers: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly onError: KeyedWorkQueueOptions['onError'];
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly running = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  private idleWaiters: (() => void)[] = [];
  private stopped = false;

  constructor(process: (key: string) => Promise<void>, options: KeyedWorkQueueOptions) {
    this.process = process;
    this.workers = options.workers ?? 4;
    this.retryInitialMs = options.retryInitialMs ?? 50;
    this.retryMaxMs = options.retryMaxMs ?? 10_000;
    this.onError = options.onError;
    if (!Number.isInteger(this.workers) || this.workers < 1) {
      throw new Error(`work queue needs at least one worker, got ${this.workers}`);
    }
  }

  add(key: string): void {
    if (this.stopped) return;
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    // A fresh change supersedes a pending retry: process now, keep the failure count.
    const timer = this.retryTimers.get(key);
    if (timer) {
      clearTimeout(timer);
      this.retryTimers.delete(key);
    }
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  /** Resolves when no key is queued, running or waiting for a retry. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops queued keys and pending retries; running reconciles finish on their own. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.retryTimers.values()) clearTimeout(timer);
    this.retryTimers.clear();
    this.queue.length = 0;
    this.queued.clear();
    this.dirty.clear();
    this.notifyIfIdle();
  }

  private isIdle(): boolean {
    return this.queue.length === 0 && this.running.size === 0 && this.retryTimers.size === 0;
  }

  private pump(): void {
    while (!this.stopped && this.running.size < this.workers && this.queue.length > 0) {
      const key = this.queue.shift()!;
      this.queued.delete(key);
      this.running.add(key);
      void this.run(key);
    }
  }

  private async run(key: string): Promise<void> {
    try {
      await this.process(key);
      this.failures.delete(key);
    } catch (err) {
      const failures = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, failures);
      const retryInMs = Math.min(this.retryInitialMs * 2 ** (failures - 1), this.retryMaxMs);
      this.onError(key, err, retryInMs);
      if (!this.stopped && !this.dirty.has(key)) {
        this.retryTimers.set(
          key,
          setTimeout(() => {
            this.retryTimers.delete(key);
            this.add(key);
          }, retryInMs),
        );
      }
    } finally {
      this.running.delete(key);
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
      this.notifyIfIdle();
    }
  }

  private notifyIfIdle(): void {
    if (!this.isIdle()) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
