// The control thread's side of the proxy workers: starts N of them, sends each snapshot and
// credential change to all, forwards the lifecycle (listen, hand over, drain, close) and
// collects their metrics and stats. A worker that dies (an uncaught error on its thread) is
// replaced with the current state and, when the pool serves, listens again at once; the
// others keep serving meanwhile (their listeners stay in the SO_REUSEPORT group).
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { CredentialsSnapshot } from '../hbone/workload-credential-store.js';
import type { MeshSnapshot } from '../state/mesh-snapshot.js';
import { epochMs } from '../metrics/snapshot-metrics.js';
import { snapshotDelta } from './snapshot-delta.js';
import type {
  ControlMessage,
  DrainResult,
  ProxyWorkerInit,
  WorkerCallName,
  WorkerCalls,
  WorkerMessage,
  WorkerMetrics,
  WorkerStats,
} from './worker-protocol.js';

const WORKER_ENTRY = new URL('./proxy-worker-main.js', import.meta.url);
/** A worker that dies sooner than this after it started is restarted with a growing delay (no crash loop at full speed). */
const STABLE_WORKER_MS = 10_000;
const MAX_RESTART_DELAY_MS = 10_000;

/** Start data shared by every worker; the pool adds the index, snapshot and credentials. */
export type ProxyWorkerSettings = Omit<ProxyWorkerInit, 'index' | 'snapshot' | 'credentials'>;

export interface ProxyWorkerPoolOptions {
  count: number;
  settings: ProxyWorkerSettings;
  currentSnapshot: () => MeshSnapshot;
  /** The current credentials, or null without a CA. */
  currentCredentials: () => CredentialsSnapshot | null;
  log: Logger;
  /** Called when a worker died and was replaced. */
  onWorkerRestart?: () => void;
}

type Phase = 'starting' | 'serving' | 'stopping';

interface PendingCall {
  resolve: (result: unknown) => void;
  reject: (err: Error) => void;
}

class WorkerHandle {
  readonly startedAt = performance.now();
  private nextId = 1;
  /** The thread is gone: calls fail at once (a message to it would never be answered). */
  exited = false;
  private readonly pending = new Map<number, PendingCall>();
  readonly ready: Promise<void>;

  constructor(
    readonly index: number,
    readonly thread: Worker,
    /** Restarts in a row of this slot, each sooner than STABLE_WORKER_MS after its start. */
    readonly quickRestarts: number,
  ) {
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (message: WorkerMessage): void => {
        if (message.type === 'ready') resolve();
      };
      thread.once('message', onMessage);
      thread.once('error', reject);
      thread.once('exit', (code) => reject(new Error(`proxy worker ${index} exited with code ${code} before it was ready`)));
    });
    thread.on('message', this.onMessage);
    thread.once('exit', () => {
      this.exited = true;
      this.failPending(new Error(`proxy worker ${index} exited`));
    });
    // Rejections of `ready` are awaited by start(); this avoids an unhandled one for restarts.
    this.ready.catch(() => undefined);
  }

  post(message: ControlMessage): void {
    this.thread.postMessage(message);
  }

  call<N extends WorkerCallName>(name: N, arg: WorkerCalls[N]['arg']): Promise<WorkerCalls[N]['result']> {
    if (this.exited) return Promise.reject(new Error(`proxy worker ${this.index} exited`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (result: unknown) => void, reject });
      this.post({ type: 'call', id, name, arg });
    });
  }

  private readonly onMessage = (message: WorkerMessage): void => {
    if (message.type !== 'reply' && message.type !== 'failed') return;
    const pending = this.pending.get(message.id);
    if (pending === undefined) return;
    this.pending.delete(message.id);
    if (message.type === 'reply') pending.resolve(message.result);
    else pending.reject(new Error(`proxy worker ${this.index}: ${message.message}`));
  };

  private failPending(err: Error): void {
    for (const pending of this.pending.values()) pending.reject(err);
    this.pending.clear();
  }
}

export class ProxyWorkerPool {
  private readonly workers: WorkerHandle[] = [];
  private phase: Phase = 'starting';
  private listeningNow = false;
  private credentialsScheduled = false;
  /** The snapshot every worker holds or has been sent; deltas are computed from it, new workers start with it. */
  private sent: MeshSnapshot;

  constructor(private readonly options: ProxyWorkerPoolOptions) {
    this.sent = options.currentSnapshot();
    if (!Number.isInteger(options.count) || options.count < 1) {
      throw new Error(`the number of proxy workers must be a positive integer, got ${options.count}`);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /** The worker threads now serving (diagnostics; tests end one to see it replaced). */
  workerThreads(): readonly Worker[] {
    return this.workers.map((worker) => worker.thread);
  }

  /** Every worker's proxy (and HBONE) listener is open. */
  get listening(): boolean {
    return this.listeningNow;
  }

  /** Starts the workers with the current snapshot and credentials; resolves once each is ready. */
  async start(): Promise<void> {
    for (let index = 0; index < this.options.count; index++) this.workers.push(this.spawn(index, 0));
    await Promise.all(this.workers.map((worker) => worker.ready));
  }

  /** Every worker opens its listeners (the kernel spreads new connections over them). */
  async listen(): Promise<void> {
    await this.callAll('listen', null);
    this.phase = 'serving';
    this.listeningNow = true;
  }

  /**
   * Sends every worker what changed from the last snapshot sent to `snapshot` (one delta,
   * cloned once per worker); `changedAtMs` (epochMs) dates the change it carries.
   */
  publish(snapshot: MeshSnapshot, changedAtMs: number): void {
    const delta = snapshotDelta(this.sent, snapshot);
    this.sent = snapshot;
    for (const worker of this.workers) worker.post({ type: 'snapshot-delta', delta, changedAtMs });
  }

  /** Sends the current credentials to every worker; many changes in one tick send once. */
  credentialsChanged(): void {
    if (this.credentialsScheduled) return;
    this.credentialsScheduled = true;
    setImmediate(() => {
      this.credentialsScheduled = false;
      const credentials = this.options.currentCredentials();
      if (credentials === null) return;
      for (const worker of this.workers) worker.post({ type: 'credentials', credentials });
    });
  }

  async stopAccepting(): Promise<void> {
    this.phase = 'stopping';
    this.listeningNow = false;
    await this.callAll('stopAccepting', null);
  }

  acceptOnlyFrom(address: string): Promise<void> {
    return this.callAll('acceptOnlyFrom', address).then(() => undefined);
  }

  /** Drains every worker for up to timeoutMs; resolves with what was cut, summed. */
  async drain(timeoutMs: number): Promise<DrainResult> {
    this.phase = 'stopping';
    const results = await this.callAll('drain', timeoutMs);
    this.listeningNow = false;
    return results.reduce((sum, r) => ({ clientsCut: sum.clientsCut + r.clientsCut, sessionsCut: sum.sessionsCut + r.sessionsCut }), { clientsCut: 0, sessionsCut: 0 });
  }

  /**
   * Every worker's metrics as prom-client JSON, to be summed (node-metrics-page.ts). A worker
   * that fails to answer (it just died) is left out of this scrape rather than failing it.
   */
  async metrics(): Promise<WorkerMetrics[]> {
    const answers = await Promise.allSettled(this.workers.filter((worker) => !worker.exited).map((worker) => worker.call('metrics', null)));
    return answers.flatMap((answer) => (answer.status === 'fulfilled' ? [answer.value] : []));
  }

  async stats(): Promise<WorkerStats> {
    const all = await this.callAll('stats', null);
    const tunnels = all.map((s) => s.outboundTunnels).filter((t) => t !== null);
    return {
      outboundTunnels: tunnels.length === 0
        ? null
        : { sessions: tunnels.reduce((n, t) => n + t.sessions, 0), sessionsOpened: tunnels.reduce((n, t) => n + t.sessionsOpened, 0) },
      inboundSessions: all.flatMap((s) => s.inboundSessions),
    };
  }

  /** Closes every worker's listeners and connections and ends the threads. */
  async close(): Promise<void> {
    this.phase = 'stopping';
    this.listeningNow = false;
    const workers = this.workers.splice(0);
    await Promise.all(workers.map(async (worker) => {
      await worker.call('close', null).catch((err: unknown) => this.options.log.warn({ subsys: 'worker', worker: worker.index, err }, 'closing a proxy worker failed'));
      await worker.thread.terminate();
    }));
  }

  /**
   * Calls every live worker and resolves with their answers. A worker that dies meanwhile has
   * nothing left to listen, drain or close, so its failure is left out; any other failure rejects.
   */
  private async callAll<N extends WorkerCallName>(name: N, arg: WorkerCalls[N]['arg']): Promise<WorkerCalls[N]['result'][]> {
    const live = this.workers.filter((worker) => !worker.exited);
    const answers = await Promise.allSettled(live.map((worker) => worker.call(name, arg)));
    const results: WorkerCalls[N]['result'][] = [];
    answers.forEach((answer, i) => {
      if (answer.status === 'fulfilled') results.push(answer.value);
      else if (!live[i]!.exited) throw answer.reason;
    });
    return results;
  }

  private spawn(index: number, quickRestarts: number): WorkerHandle {
    const { settings } = this.options;
    const init: ProxyWorkerInit = {
      ...settings,
      index,
      snapshot: this.sent,
      credentials: this.options.currentCredentials(),
    };
    const worker = new WorkerHandle(index, new Worker(WORKER_ENTRY, { workerData: init, name: `weft-proxy-${index}` }), quickRestarts);
    worker.thread.on('message', (message: WorkerMessage) => {
      if (message.type === 'resync') worker.post({ type: 'snapshot', snapshot: this.sent, changedAtMs: epochMs() });
    });
    worker.thread.on('error', (err) => this.options.log.error({ subsys: 'worker', worker: index, err }, 'proxy worker failed'));
    worker.thread.once('exit', (code) => this.onExit(worker, code));
    return worker;
  }

  private onExit(worker: WorkerHandle, code: number): void {
    const slot = this.workers.indexOf(worker);
    // Gone on purpose (close), or the pool is stopping: nothing to replace.
    if (slot < 0 || this.phase === 'stopping') return;
    const quick = performance.now() - worker.startedAt < STABLE_WORKER_MS ? worker.quickRestarts + 1 : 0;
    const delayMs = quick <= 1 ? 0 : Math.min(100 * 2 ** (quick - 1), MAX_RESTART_DELAY_MS);
    this.options.log.error({ subsys: 'worker', worker: worker.index, code, delayMs }, 'proxy worker exited; starting a new one');
    this.options.onWorkerRestart?.();
    setTimeout(() => {
      // The slot may have been emptied by close() meanwhile.
      if (this.workers[slot] !== worker || this.phase === 'stopping') return;
      const replacement = this.spawn(worker.index, quick);
      this.workers[slot] = replacement;
      if (this.phase !== 'serving') return;
      replacement.ready
        .then(() => replacement.call('listen', null))
        .catch((err: unknown) => this.options.log.error({ subsys: 'worker', worker: worker.index, err }, 'the replacement proxy worker did not start'));
    }, delayMs);
  }
}
