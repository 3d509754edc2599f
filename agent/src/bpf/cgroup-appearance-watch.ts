// Enrolled pods whose cgroup does not exist yet (the agent sees the Pod before kubelet has
// created its sandbox) are attached the moment the directory appears: while anything is
// pending, inotify watches on the cgroup root and the kubepods directories under it report new
// pod directories, and only the enrollment is reconciled again (no snapshot rebuild). A slow
// timer backs the watch up, for a root that does not exist yet or an inotify limit reached; it
// is the only polling left.
// Directories only, never a recursive watch: Node's recursive watch on Linux also watches
// every file, and a cgroup tree holds files (cgroup.kill) that an agent without
// CAP_DAC_OVERRIDE may not read, which failed the whole watch in the chart's container.
import { existsSync, readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
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

/** Pod cgroups sit at most two directories below the root (kubepods/<qos>/pod<uid>). */
const MAX_PARENT_DEPTH = 2;

export class CgroupAppearanceWatch {
  /** One watch per directory that may get pod (or QoS) directories: root, kubepods*, QoS dirs. */
  private readonly watchers = new Map<string, FSWatcher>();
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
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
    if (this.fallback !== null) clearInterval(this.fallback);
    this.fallback = null;
  }

  private start(): void {
    if (this.fallback === null) {
      this.fallback = setInterval(this.schedule, this.fallbackMs);
      this.fallback.unref();
    }
    if (this.watchers.size > 0 || !existsSync(this.options.root)) return;
    this.watchDirectory(this.options.root, 0);
  }

  /** Watches dir and, below the depth bound, the directories in it that can hold pod cgroups. */
  private watchDirectory(dir: string, depth: number): void {
    if (this.watchers.has(dir)) return;
    try {
      const watcher = watch(dir, { persistent: false }, (_event, name) => this.onEvent(dir, depth, name));
      watcher.on('error', (err) => this.onWatchError(err, dir));
      this.watchers.set(dir, watcher);
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) this.considerDirectory(dir, depth, entry.name);
      }
    } catch (err) {
      this.onWatchError(err as Error, dir);
    }
  }

  /** A pod directory asks for a reconcile; a kubepods or QoS directory gets its own watch. */
  private considerDirectory(parent: string, depth: number, name: string): boolean {
    if (POD_CGROUP_DIR.test(name)) return true;
    const mayHoldPods = depth === 0 ? name.startsWith('kubepods') : depth < MAX_PARENT_DEPTH;
    if (mayHoldPods) this.watchDirectory(join(parent, name), depth + 1);
    return false;
  }

  private onEvent(dir: string, depth: number, name: string | Buffer | null): void {
    if (name === null) return;
    const entry = typeof name === 'string' ? name : name.toString();
    // Interface files (cgroup.events, memory.current, ...) change all the time; of the names
    // with a dot, only systemd's *.slice are directories.
    if ((entry.includes('.') && !entry.endsWith('.slice')) || !isDirectory(join(dir, entry))) return;
    // A new QoS or kubepods directory may already hold pods when its watch starts: reconcile too.
    if (this.considerDirectory(dir, depth, entry) || depth < MAX_PARENT_DEPTH) this.schedule();
  }

  private onWatchError(err: Error, dir: string): void {
    // ENOSPC (inotify limits) and a directory removed under us end that watch; the timer carries on.
    this.options.log.warn({ err, dir }, 'watching a cgroup directory failed; pending pods are retried every few seconds instead');
    this.watchers.get(dir)?.close();
    this.watchers.delete(dir);
  }

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

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // gone again
  }
}
