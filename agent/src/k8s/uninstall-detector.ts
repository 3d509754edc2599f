// Tells an uninstall from an upgrade or a restart when the agent is asked to stop. Both end the
// agent's pod with SIGTERM; only an uninstall (`helm uninstall` deletes the DaemonSet) should
// take redirection away from the node's pods, while an upgrade or a restart must leave it in
// place so traffic keeps its path. The agent watches its own DaemonSet from the start: helm
// deletes the DaemonSet first and the garbage collector deletes its pods after that, so the
// deletion is normally in the cache before SIGTERM arrives. One GET at exit settles it either
// way: 404, or a DaemonSet with another uid than our pod's owner, means ours is gone; a
// deletionTimestamp means it is going. When the GET is refused (401: our token no longer
// authenticates; 403: our RBAC is gone), the watch decides: helm deletes the DaemonSet before
// the RBAC objects and the service account, so in an uninstall the watch has seen the deletion.
// A refusal alone is no proof: a force-deleted agent pod's token stops working too (it once
// removed redirection during a rollout, when the test API server dropped a terminating pod).
// Anything else, or no DaemonSet owner at all, keeps redirection: removing it by mistake would
// let traffic bypass the mesh and its policies until the next agent starts.
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1DaemonSet } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isApiStatus } from './api-status.js';
import { RestartingInformer } from './restarting-informer.js';

export class UninstallDetector {
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private daemonSet: string | undefined;
  /** The owner reference's uid: a DaemonSet of the same name with another uid is not ours. */
  private daemonSetUid: string | undefined;
  private informer: RestartingInformer<V1DaemonSet> | undefined;
  private deletionSeen = false;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly pod: { namespace: string; name: string },
    private readonly log: Logger,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
  }

  /** Finds the owning DaemonSet and watches it. Never throws: without it, redirection is kept. */
  async start(): Promise<void> {
    const { namespace, name } = this.pod;
    try {
      const pod = await this.core.readNamespacedPod({ namespace, name });
      const owner = pod.metadata?.ownerReferences?.find((ref) => ref.kind === 'DaemonSet' && ref.controller);
      this.daemonSet = owner?.name;
      this.daemonSetUid = owner?.uid;
    } catch (err) {
      this.log.warn({ err, pod: `${namespace}/${name}` }, 'cannot read the agent\'s own pod; redirection will be kept on exit');
      return;
    }
    if (this.daemonSet === undefined) {
      this.log.info({ pod: `${namespace}/${name}` }, 'the agent\'s pod has no DaemonSet owner; redirection will be kept on exit');
      return;
    }
    const fieldSelector = `metadata.name=${this.daemonSet}`;
    this.informer = new RestartingInformer<V1DaemonSet>({
      kubeConfig: this.kubeConfig,
      name: 'own-daemonset',
      log: (msg, fields) => this.log.warn(fields ?? {}, msg),
      path: `/apis/apps/v1/namespaces/${namespace}/daemonsets`,
      fieldSelector,
      list: () => this.apps.listNamespacedDaemonSet({ namespace, fieldSelector }),
    });
    const note = (daemonSet: V1DaemonSet) => {
      if (daemonSet.metadata?.deletionTimestamp) this.noteDeletion('the watch saw a deletionTimestamp', daemonSet);
    };
    this.informer.on('add', note);
    this.informer.on('update', note);
    this.informer.on('delete', (daemonSet) => this.noteDeletion('the watch saw the DaemonSet deleted', daemonSet));
    try {
      await this.informer.start();
    } catch (err) {
      this.log.warn({ err, daemonSet: `${namespace}/${this.daemonSet}` }, 'cannot watch the agent\'s DaemonSet; asking once at exit instead');
    }
  }

  /** Logged when seen (with the object's uid and resourceVersion), so a wrong judgement can be traced. */
  private noteDeletion(what: string, daemonSet: V1DaemonSet): void {
    if (this.deletionSeen) return;
    this.deletionSeen = true;
    const meta = daemonSet.metadata;
    this.log.info({ daemonSet: `${this.pod.namespace}/${this.daemonSet}`, uid: meta?.uid, resourceVersion: meta?.resourceVersion, ownerUid: this.daemonSetUid }, what);
  }

  /** True only when the DaemonSet is being deleted (uninstall). */
  async uninstalling(timeoutMs = 3000): Promise<boolean> {
    if (this.daemonSet === undefined) return false;
    const namespace = this.pod.namespace;
    // Every judgement says why: taking redirection away is the one exit that changes the node.
    const judged = (uninstall: boolean, reason: string): boolean => {
      this.log.info({ daemonSet: `${namespace}/${this.daemonSet}`, reason }, uninstall ? 'judged an uninstall' : 'judged a restart or an upgrade');
      return uninstall;
    };
    try {
      const daemonSet = await withTimeout(this.apps.readNamespacedDaemonSet({ namespace, name: this.daemonSet }), timeoutMs);
      const uid = daemonSet.metadata?.uid;
      if (this.daemonSetUid !== undefined && uid !== this.daemonSetUid) return judged(true, `GET of the DaemonSet: another uid (${uid}) than our owner's (${this.daemonSetUid})`);
      if (daemonSet.metadata?.deletionTimestamp !== undefined) return judged(true, 'GET of the DaemonSet: it has a deletionTimestamp');
      return judged(false, this.deletionSeen ? 'GET of the DaemonSet: present and not being deleted, although the watch had said so' : 'GET of the DaemonSet: present and not being deleted');
    } catch (err) {
      if (isApiStatus(err, 404)) return judged(true, 'GET of the DaemonSet: 404');
      if (this.deletionSeen) return judged(true, `the watch saw the DaemonSet deleted, and the GET was refused or unanswered (${String(err)})`);
      if (isApiStatus(err, 401) || isApiStatus(err, 403)) {
        return judged(false, `GET of the DaemonSet refused (${isApiStatus(err, 401) ? '401: our token no longer authenticates, e.g. the pod was force-deleted' : '403: our RBAC is gone'}), and the watch never saw the DaemonSet deleted`);
      }
      this.log.warn({ err, daemonSet: `${namespace}/${this.daemonSet}` }, 'cannot tell whether the agent is being uninstalled; keeping redirection');
      return false;
    }
  }

  async stop(): Promise<void> {
    await this.informer?.stop();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
