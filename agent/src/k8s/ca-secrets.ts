// The CA's objects in its namespace: the `weft-ca` Secret (issuer `ca.crt` + `ca.key`) and the
// `weft-trust-bundle` ConfigMap (`ca.crt`) that agents read. Create races are reported as
// `'exists'` so the caller can read the winner's object instead of overwriting it.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { isApiStatus } from './api-status.js';

export const CA_SECRET_NAME = 'weft-ca';
export const TRUST_BUNDLE_CONFIGMAP_NAME = 'weft-trust-bundle';
export const CA_CERT_KEY = 'ca.crt';
export const CA_KEY_KEY = 'ca.key';

export interface IssuerMaterial {
  certificatePem: string;
  keyPem: string;
}

export class CaObjectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaObjectError';
  }
}

export class CaSecrets {
  private readonly core: CoreV1Api;

  constructor(
    kubeConfig: KubeConfig,
    readonly namespace: string,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  /** The issuer from the Secret, or undefined when the Secret does not exist. */
  async readIssuer(): Promise<IssuerMaterial | undefined> {
    let secret;
    try {
      secret = await this.core.readNamespacedSecret({ name: CA_SECRET_NAME, namespace: this.namespace });
    } catch (err) {
      if (isApiStatus(err, 404)) return undefined;
      throw err;
    }
    const where = `Secret ${this.namespace}/${CA_SECRET_NAME}`;
    const certificate = secret.data?.[CA_CERT_KEY];
    const key = secret.data?.[CA_KEY_KEY];
    if (!certificate || !key) throw new CaObjectError(`${where} lacks key ${!certificate ? CA_CERT_KEY : CA_KEY_KEY}; it needs both ${CA_CERT_KEY} and ${CA_KEY_KEY} (PEM)`);
    return {
      certificatePem: Buffer.from(certificate, 'base64').toString('utf8'),
      keyPem: Buffer.from(key, 'base64').toString('utf8'),
    };
  }

  /** Creates the Secret; `'exists'` when another CA replica created it first. */
  async createIssuer(material: IssuerMaterial): Promise<'created' | 'exists'> {
    try {
      await this.core.createNamespacedSecret({
        namespace: this.namespace,
        body: {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: CA_SECRET_NAME, namespace: this.namespace, labels: { 'app.kubernetes.io/part-of': 'weft' } },
          type: 'Opaque',
          data: {
            [CA_CERT_KEY]: Buffer.from(material.certificatePem).toString('base64'),
            [CA_KEY_KEY]: Buffer.from(material.keyPem).toString('base64'),
          },
        },
      });
      return 'created';
    } catch (err) {
      if (isApiStatus(err, 409)) return 'exists';
      throw err;
    }
  }

  async readTrustBundle(): Promise<string | undefined> {
    try {
      const configMap = await this.core.readNamespacedConfigMap({ name: TRUST_BUNDLE_CONFIGMAP_NAME, namespace: this.namespace });
      return configMap.data?.[CA_CERT_KEY] ?? '';
    } catch (err) {
      if (isApiStatus(err, 404)) return undefined;
      throw err;
    }
  }

  /** Makes the ConfigMap hold exactly `bundlePem`; returns what it had to do. */
  async publishTrustBundle(bundlePem: string): Promise<'unchanged' | 'created' | 'updated'> {
    // Each 409 means another writer got in between our read and write; a few rounds settle it.
    for (let attempt = 1; attempt <= 5; attempt++) {
      let existing;
      try {
        existing = await this.core.readNamespacedConfigMap({ name: TRUST_BUNDLE_CONFIGMAP_NAME, namespace: this.namespace });
      } catch (err) {
        if (!isApiStatus(err, 404)) throw err;
      }
      if (existing?.data?.[CA_CERT_KEY] === bundlePem) return 'unchanged';
      try {
        if (!existing) {
          await this.core.createNamespacedConfigMap({
            namespace: this.namespace,
            body: {
              apiVersion: 'v1',
              kind: 'ConfigMap',
              metadata: { name: TRUST_BUNDLE_CONFIGMAP_NAME, namespace: this.namespace, labels: { 'app.kubernetes.io/part-of': 'weft' } },
              data: { [CA_CERT_KEY]: bundlePem },
            },
          });
          return 'created';
        }
        // Replace with the read resourceVersion: a concurrent writer makes this a 409, and we
        // read again rather than overwrite what it wrote blindly.
        await this.core.replaceNamespacedConfigMap({
          name: TRUST_BUNDLE_CONFIGMAP_NAME,
          namespace: this.namespace,
          body: { ...existing, data: { ...existing.data, [CA_CERT_KEY]: bundlePem } },
        });
        return 'updated';
      } catch (err) {
        if (!isApiStatus(err, 409)) throw err;
      }
    }
    throw new CaObjectError(`ConfigMap ${this.namespace}/${TRUST_BUNDLE_CONFIGMAP_NAME} kept changing under us (5 conflicts); is another writer fighting over it?`);
  }
}
