// The ServiceAccount admission plugin (on by default in kube-apiserver): a new Pod gets the
// in-cluster API access volume - a projected `kube-api-access-<5 random>` volume of a bound
// service-account token (3607 s), the `kube-root-ca.crt` ConfigMap's ca.crt and the namespace -
// mounted read-only at /var/run/secrets/kubernetes.io/serviceaccount in every container and init
// container, unless the pod or its ServiceAccount sets automountServiceAccountToken: false or a
// container already mounts that path. (serviceAccountName defaulting to `default` is in
// defaults.ts; the `kube-root-ca.crt` ConfigMap itself comes from namespace-lifecycle.ts, as
// kube-controller-manager's root-ca-cert-publisher does.)
import type { UserInfo } from './authentication.js';
import type { KubeObject } from './kube-object.js';
import { isPlainObject } from './kube-object.js';
import type { ResourceDescriptor } from './resource-registry.js';
import { storageKeyOf } from './resource-registry.js';
import { randomSuffix, type WriteAdmission } from './resource-writer.js';
import type { ObjectStore } from './store.js';

export const SERVICE_ACCOUNT_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
export const ROOT_CA_CONFIG_MAP = 'kube-root-ca.crt';
/** kube-apiserver's token lifetime for this volume (3607 s: never mistaken for a default). */
const API_ACCESS_TOKEN_SECONDS = 3607;
const serviceAccountsKey = storageKeyOf({ group: '', plural: 'serviceaccounts' });

type Obj = Record<string, any>;

export class ServiceAccountAdmission implements WriteAdmission {
  constructor(private readonly store: ObjectStore) {}

  admit(d: ResourceDescriptor, obj: KubeObject, existing: KubeObject | undefined, _user: UserInfo): void {
    if (existing !== undefined || d.group !== '' || d.kind !== 'Pod' || !isPlainObject(obj.spec)) return;
    const spec = obj.spec as Obj;
    if (spec.automountServiceAccountToken === false) return;
    const account = this.store.get(serviceAccountsKey, obj.metadata.namespace, spec.serviceAccountName ?? 'default');
    if (spec.automountServiceAccountToken === undefined && (account as Obj | undefined)?.automountServiceAccountToken === false) return;
    const containers: Obj[] = [...(Array.isArray(spec.containers) ? spec.containers : []), ...(Array.isArray(spec.initContainers) ? spec.initContainers : [])];
    const mountsPath = (c: Obj): boolean => (Array.isArray(c.volumeMounts) ? c.volumeMounts : []).some((m: Obj) => m?.mountPath === SERVICE_ACCOUNT_MOUNT_PATH);
    if (containers.some(mountsPath)) return;
    const name = `kube-api-access-${randomSuffix()}`;
    spec.volumes = [...(Array.isArray(spec.volumes) ? spec.volumes : []), apiAccessVolume(name)];
    for (const container of containers) {
      container.volumeMounts = [...(Array.isArray(container.volumeMounts) ? container.volumeMounts : []), { name, readOnly: true, mountPath: SERVICE_ACCOUNT_MOUNT_PATH }];
    }
  }
}

function apiAccessVolume(name: string): Obj {
  return {
    name,
    projected: {
      defaultMode: 0o644,
      sources: [
        { serviceAccountToken: { expirationSeconds: API_ACCESS_TOKEN_SECONDS, path: 'token' } },
        { configMap: { name: ROOT_CA_CONFIG_MAP, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
      ],
    },
  };
}
