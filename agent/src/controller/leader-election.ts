// Leader election over a coordination.k8s.io Lease, as client-go's leaderelection does: the
// holder renews `renewTime` every few seconds; another candidate takes the Lease only once it has
// not been renewed for `leaseDurationSeconds`. Writes are guarded by resourceVersion, so two
// candidates racing for an expired Lease cannot both win. Used by `weft controller`, so that of
// several replicas exactly one writes policy status.
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isApiStatus } from '../k8s/api-status.js';

export interface LeaderElectionOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  /** This candidate (the pod name). */
  identity: string;
  leaseDurationSeconds?: number;
  /** How often the leader renews and a follower retries. */
  retryPeriodMs?: number;
  log: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

export class LeaderElector {
  private readonly leases: CoordinationV1Api;
  private readonly durationSeconds: number;
  private readonly retryMs: number;
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private stopped = false;
  private attempt: Promise<void> | undefined;

  constructor(private readonly options: LeaderElectionOptions) {
    this.leases = options.kubeConfig.makeApiClient(CoordinationV1Api);
    this.durationSeconds = options.leaseDurationSeconds ?? 15;
    this.retryMs = options.retryPeriodMs ?? 2000;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.stopped = false;
    this.tick();
  }

  /** Stops; a leader gives the Lease up at once (holder cleared), so a successor need not wait it out. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.attempt;
    if (!this.leading) return;
    this.setLeading(false);
    try {
      const lease = await this.leases.readNamespacedLease({ namespace: this.options.namespace, name: this.options.name });
      if (lease.spec?.holderIdentity === this.options.identity) {
        lease.spec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: new V1MicroTime() };
        await this.leases.replaceNamespacedLease({ namespace: this.options.namespace, name: this.options.name, body: lease });
      }
    } catch (err) {
      this.options.log.warn({ err }, 'releasing the leader Lease failed; another replica takes over once it expires');
    }
  }

  private tick(): void {
    if (this.stopped) return;
    this.attempt = this.tryAcquireOrRenew().then(
      (leading) => this.setLeading(leading),
      (err: unknown) => {
        this.options.log.warn({ err }, 'leader election: cannot read or write the Lease');
        // A leader that cannot renew for a whole lease duration must assume another took over.
        if (this.leading && Date.now() - this.lastRenewMs > this.durationSeconds * 1000) this.setLeading(false);
      },
    ).finally(() => {
      this.attempt = undefined;
      if (!this.stopped) this.timer = setTimeout(() => this.tick(), this.retryMs);
    });
  }

  private lastRenewMs = 0;

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.options;
    const spec = { holderIdentity: identity, leaseDurationSeconds: this.durationSeconds, renewTime: new V1MicroTime() };
    let lease: V1Lease;
    try {
      lease = await this.leases.readNamespacedLease({ namespace, name });
    } catch (err) {
      if (!isApiStatus(err, 404)) throw err;
      try {
        await this.leases.createNamespacedLease({ namespace, body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: { ...spec, acquireTime: new V1MicroTime() } } });
      } catch (createErr) {
        if (isApiStatus(createErr, 409)) return false; // another candidate created it first
        throw createErr;
      }
      this.lastRenewMs = Date.now();
      return true;
    }
    const holder = lease.spec?.holderIdentity ?? '';
    const renewedMs = lease.spec?.renewTime ? new Date(lease.spec.renewTime as unknown as string | Date).getTime() : 0;
    const durationMs = (lease.spec?.leaseDurationSeconds ?? this.durationSeconds) * 1000;
    const expired = holder === '' || Date.now() - renewedMs > durationMs;
    if (holder !== identity && !expired) return false;
    lease.spec = { ...lease.spec, ...spec, ...(holder !== identity ? { acquireTime: new V1MicroTime(), leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1 } : {}) };
    try {
      await this.leases.replaceNamespacedLease({ namespace, name, body: lease });
    } catch (err) {
      if (isApiStatus(err, 409)) return false; // someone else wrote it meanwhile
      throw err;
    }
    this.lastRenewMs = Date.now();
    return true;
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    this.options.log.info({ lease: `${this.options.namespace}/${this.options.name}`, identity: this.options.identity }, leading ? 'became the leader' : 'stopped leading');
    if (leading) this.options.onStartedLeading();
    else this.options.onStoppedLeading();
  }
}
