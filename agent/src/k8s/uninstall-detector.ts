// Tells an uninstall from an upgrade or a restart when the agent is asked to stop. Both end the
// agent's pod with SIGTERM; only an uninstall (`helm uninstall` deletes the DaemonSet) should
// take redirection away from the node's pods, while an upgrade or a restart must leave it in
// place so traffic keeps its path. The agent watches its own DaemonSet from the start: helm
// deletes the DaemonSet first and the garbage collector deletes its pods after that, so the
// deletion is normally in the cache before SIGTERM arrives. If it is not, one GET settles it:
// 404 means the DaemonSet is gone, 401 means our service account is gone, and 403 after the
// watch had worked means our RBAC binding is gone (helm deletes both in the same uninstall; an
// upgrade never does). Anything else, or no DaemonSet owner at all, keeps redirection: removing
// it by mistake would drop enforced policy.
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1DaemonSet } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isApiStatus } from './api-status.js';
import { RestartingInformer } from './restarting-informer.js';

export class UninstallDetector {
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private daemonSet: string | undefined;
  private informer: RestartingInformer<V1DaemonSet> | undefined;
  private deletionSeen = false;
  /** The watch delivered the DaemonSet at least once: our RBAC allowed reading it. */
  private daemonSetSeen = false;

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
      this.daemonSet = pod.metadata?.ownerReferences?.find((ref) => ref.kind === 'DaemonSet' && ref.controller)?.name;
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
      this.daemonSetSeen = true;
      if (daemonSet.metadata?.deletionTimestamp) this.deletionSeen = true;
    };
    this.informer.on('add', note);
    this.informer.on('update', note);
    this.informer.on('delete', () => (this.deletionSeen = true));
    try {
      await this.informer.start();
    } catch (err) {
      this.log.warn({ err, daemonSet: `${namespace}/${this.daemonSet}` }, 'cannot watch the agent\'s DaemonSet; asking once at exit instead');
    }
  }

  /** True only when the DaemonSet is being deleted (uninstall). */
  async uninstalling(timeoutMs = 3000): Promise<boolean> {
    if (this.daemonSet === undefined) return false;
    const namespace = this.pod.namespace;
    // Every "uninstall" says why: taking redirection away is the one exit that changes the node.
    const uninstall = (reason: string): true => {
      this.log.info({ daemonSet: `${namespace}/${this.daemonSet}`, reason }, 'judged an uninstall');
      return true;
    };
    if (this.deletionSeen) return uninstall('the watch saw the DaemonSet deleted');
    try {
      const daemonSet = await withTimeout(this.apps.readNamespacedDaemonSet({ namespace, name: this.daemonSet }), timeoutMs);
      return daemonSet.metadata?.deletionTimestamp !== undefined && uninstall('the DaemonSet has a deletionTimestamp');
    } catch (err) {
      if (isApiStatus(err, 404)) return uninstall('GET of the DaemonSet: 404');
      if (isApiStatus(err, 401)) return uninstall('GET of the DaemonSet: 401 (our service account is gone)');
      if (isApiStatus(err, 403) && this.daemonSetSeen) return uninstall('GET of the DaemonSet: 403 after the watch had worked (our RBAC is gone)');
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
