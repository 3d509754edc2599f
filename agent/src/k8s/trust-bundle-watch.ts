// Watches the `weft-trust-bundle` ConfigMap that `weft ca` publishes (key `ca.crt`) and hands
// each new bundle to a listener: the agent verifies peers and the CA against it, and rotates
// every certificate when it changes (a new issuer). A deleted ConfigMap or one without PEM is
// logged and ignored: the last good bundle stays in force, so peers keep being verified.
import { CoreV1Api, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { RestartingInformer } from './restarting-informer.js';
import { CA_CERT_KEY as TRUST_BUNDLE_KEY, TRUST_BUNDLE_CONFIGMAP_NAME } from './ca-secrets.js';

export class TrustBundleWatch {
  private readonly informer: RestartingInformer<V1ConfigMap>;
  private current: string | undefined;
  private readonly listeners: Array<(bundlePem: string) => void> = [];

  constructor(kubeConfig: KubeConfig, readonly namespace: string, private readonly log: Logger) {
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const fieldSelector = `metadata.name=${TRUST_BUNDLE_CONFIGMAP_NAME}`;
    this.informer = new RestartingInformer<V1ConfigMap>({
      kubeConfig,
      name: 'trust-bundle',
      log: (msg, fields) => log.warn(fields ?? {}, msg),
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      fieldSelector,
      list: () => core.listNamespacedConfigMap({ namespace, fieldSelector }),
    });
    this.informer.on('add', this.onConfigMap);
    this.informer.on('update', this.onConfigMap);
    this.informer.on('delete', () => {
      log.warn({ configMap: this.where() }, 'the trust bundle ConfigMap was deleted; keeping the last bundle');
    });
  }

  /** The last good bundle (PEM), undefined until one was seen. */
  bundle(): string | undefined {
    return this.current;
  }

  onBundle(listener: (bundlePem: string) => void): void {
    this.listeners.push(listener);
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }

  private where(): string {
    return `${this.namespace}/${TRUST_BUNDLE_CONFIGMAP_NAME}`;
  }

  private readonly onConfigMap = (configMap: V1ConfigMap): void => {
    const pem = configMap.data?.[TRUST_BUNDLE_KEY];
    if (pem === undefined || !pem.includes('-----BEGIN CERTIFICATE-----')) {
      this.log.error({ configMap: this.where(), key: TRUST_BUNDLE_KEY }, 'the trust bundle ConfigMap holds no PEM certificate; keeping the last bundle');
      return;
    }
    if (pem === this.current) return;
    this.current = pem;
    this.log.info({ configMap: this.where() }, 'trust bundle loaded');
    for (const listener of this.listeners) listener(pem);
  };
}
