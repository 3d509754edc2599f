// An informer over a resource that may not exist in the cluster (a CRD not installed): when the
// first list answers 404, it counts as synced with nothing in it (no CRD, so no such object can
// exist), and it asks again every so often; once the list works it runs a RestartingInformer,
// whose initial list delivers every object as an 'add'. Without this, an agent in a cluster
// without Weft's policy CRDs would wait for them forever and never serve.
import type { KubernetesObject, ObjectCallback } from '@kubernetes/client-node';
import { isApiStatus } from './api-status.js';
import { RestartingInformer, type RestartingInformerOptions } from './restarting-informer.js';

type Verb = 'add' | 'update' | 'delete';

export interface OptionalResourceInformerOptions<T extends KubernetesObject> extends RestartingInformerOptions<T> {
  /** How often to ask again while the resource does not exist. */
  probeIntervalMs?: number;
}

export class OptionalResourceInformer<T extends KubernetesObject> {
  private inner: RestartingInformer<T> | undefined;
  private readonly callbacks: { verb: Verb; callback: ObjectCallback<T> }[] = [];
  private absent = false;
  private stopped = false;
  private probeTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: OptionalResourceInformerOptions<T>) {}

  on(verb: Verb, callback: ObjectCallback<T>): void {
    this.callbacks.push({ verb, callback });
    this.inner?.on(verb, callback);
  }

  list(): ReadonlyArray<T> {
    return this.inner?.list() ?? [];
  }

  get(name: string, namespace?: string): T | undefined {
    return this.inner?.get(name, namespace);
  }

  hasSynced(): boolean {
    return this.absent || (this.inner?.hasSynced() ?? false);
  }

  /** Resolves once listed (or found absent). Other list failures are retried by the inner informer. */
  async start(): Promise<void> {
    this.stopped = false;
    if (await this.exists()) await this.startInner();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    await this.inner?.stop();
  }

  /** False (and probing scheduled) when the list answers 404. */
  private async exists(): Promise<boolean> {
    try {
      await this.options.list();
      return true;
    } catch (err) {
      if (!isApiStatus(err, 404)) return true; // another failure: the inner informer retries it
      if (!this.absent) this.options.log(`${this.options.name}: the resource does not exist (CRD not installed); none counted until it does`);
      this.absent = true;
      this.probeTimer = setTimeout(() => void this.probe(), this.options.probeIntervalMs ?? 30_000);
      this.probeTimer.unref();
      return false;
    }
  }

  private async probe(): Promise<void> {
    if (this.stopped || !(await this.exists())) return;
    await this.startInner();
  }

  private async startInner(): Promise<void> {
    if (this.stopped || this.inner) return;
    const inner = new RestartingInformer<T>(this.options);
    for (const { verb, callback } of this.callbacks) inner.on(verb, callback);
    this.inner = inner;
    await inner.start();
    this.absent = false;
  }
}
