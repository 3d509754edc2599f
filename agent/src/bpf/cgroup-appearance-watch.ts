// Enrolled pods whose cgroup does not exist yet (the agent sees the Pod before kubelet has
// created its sandbox) are attached the moment the directory appears: while anything is
// pending, an inotify watch on the cgroup root reports new pod directories, and only the
// enrollment is reconciled again (no snapshot rebuild). A slow timer backs the watch up, for a
// root that does not exist yet or an inotify limit reached; it is the only polling left.
import { existsSync, watch, type FSWatcher } from 'node:fs';
import type { Logger } from 'pino';
import { POD_CGROUP_DIR } from './pod-cgroup-finder.js';

export interface CgroupAppearanceWatchOptions {
  /** The cgroup root the pod cgroups live under (PodCgroupFinder's root). */
  root: string;
  /** Reconcile enrollment again; called at most once per tick. */
  onPodCgroupAppeared: () => void;
  log: Logger;
  /** The backstop period while something is pending. */
  fallbackMs?: number;
}

export class CgroupAppearanceWatch {
  private watcher: FSWatcher | null = null;
  private fallback: NodeJS.Timeout | null = null;
  private scheduled = false;
  private readonly fallbackMs: number;

  constructor(private readonly options: CgroupAppearanceWatchOptions) {
    this.fallbackMs = options.fallbackMs ?? 10_000;
  }

  /** Tells how many enrolled pods still wait for their cgroup; watches only while some do. */
  update(pending: number): void {
    if (pending > 0) this.start();
    else this.stop();
  }

  stop(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.fallback !== null) clearInterval(this.fallback);
    this.fallback = null;
  }

  private start(): void {
    if (this.fallback === null) {
      this.fallback = setInterval(this.schedule, this.fallbackMs);
      this.fallback.unref();
    }
    if (this.watcher !== null || !existsSync(this.options.root)) return;
    try {
      this.watcher = watch(this.options.root, { recursive: true, persistent: false }, this.onEvent);
      this.watcher.on('error', this.onWatchError);
    } catch (err) {
      this.onWatchError(err as Error);
    }
  }

  private readonly onEvent = (_event: string, name: string | Buffer | null): void => {
    if (name === null) return;
    const path = typeof name === 'string' ? name : name.toString();
    if (POD_CGROUP_DIR.test(path)) this.schedule();
  };

  private readonly onWatchError = (err: Error): void => {
    // ENOSPC (inotify limits) and a root removed under us end the watch; the timer carries on.
    this.options.log.warn({ err, root: this.options.root }, 'watching the cgroup root failed; pending pods are retried every few seconds instead');
    this.watcher?.close();
    this.watcher = null;
  };

  private readonly schedule = (): void => {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      try {
        this.options.onPodCgroupAppeared();
      } catch (err) {
        // Outside the state updater's consumer loop nothing else catches: an unreadable cgroup
        // tree must be logged, never end the agent; the next event or the backstop tries again.
        this.options.log.error({ err, root: this.options.root }, 'reconciling enrollment after a cgroup appeared failed');
      }
    });
  };
}
