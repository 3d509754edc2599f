// Sends Pod status through the status subresource (PUT .../pods/NAME/status), re-reading the
// pod on 409 Conflict. Writes for one pod are coalesced: while a write is in flight, later
// changes are folded into one follow-up write carrying the newest status.
import type { CoreV1Api, V1PodStatus } from '@kubernetes/client-node';
import { isNotFound, retryOnConflict } from '../kube-client.js';

export class PodStatusWriter {
  private inFlight: Promise<void> | null = null;
  private dirty = false;

  constructor(
    private readonly core: CoreV1Api,
    private readonly namespace: string,
    private readonly name: string,
    private readonly uid: string,
    private readonly buildStatus: () => V1PodStatus,
    private readonly log: (msg: string, fields?: object) => void,
  ) {}

  /** Asks for a write of the current status; resolves once a write that includes it is done. */
  request(): Promise<void> {
    this.dirty = true;
    if (!this.inFlight) {
      this.inFlight = this.drain().finally(() => {
        this.inFlight = null;
      });
    }
    return this.inFlight;
  }

  private async drain(): Promise<void> {
    while (this.dirty) {
      this.dirty = false;
      try {
        await this.writeOnce();
      } catch (err) {
        this.log('pod status write failed', { pod: `${this.namespace}/${this.name}`, err: String(err) });
      }
    }
  }

  private async writeOnce(): Promise<void> {
    await retryOnConflict(async () => {
      let pod;
      try {
        pod = await this.core.readNamespacedPod({ name: this.name, namespace: this.namespace });
      } catch (err) {
        if (isNotFound(err)) return; // deleted meanwhile: nothing to report to
        throw err;
      }
      if (pod.metadata?.uid !== this.uid) return; // a new pod with the same name: not ours
      pod.status = this.buildStatus();
      await this.core.replaceNamespacedPodStatus({ name: this.name, namespace: this.namespace, body: pod });
    });
  }
}
