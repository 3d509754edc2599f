// ClusterIP admission for Services: allocate from the service CIDR on create (or claim the
// address asked for; `None` = headless), keep addresses immutable, release them on delete.
import type { KubeObject } from './kube-object.js';
import { isPlainObject } from './kube-object.js';
import type { ResourceDescriptor } from './resource-registry.js';
import { statusErrors } from './status-errors.js';
import { invalidMessage } from './object-validation.js';
import type { FieldCause } from './schema-validation.js';
import { ClusterIpError } from './cluster-ip-allocator.js';
import type { ClusterIpAllocator } from './cluster-ip-allocator.js';

export function isCoreService(d: ResourceDescriptor): boolean {
  return d.kind === 'Service' && d.group === '';
}

function serviceIps(obj: KubeObject): string[] {
  const spec = (obj.spec ?? {}) as Record<string, any>;
  const ips: string[] = Array.isArray(spec.clusterIPs) ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
  return ips.filter((ip) => ip !== 'None');
}

export class ServiceIpAdmission {
  constructor(private readonly clusterIps: ClusterIpAllocator) {}

  /** Allocates (or claims the requested) ClusterIP on create; returns what it took. */
  allocate(obj: KubeObject): string[] {
    const spec = (isPlainObject(obj.spec) ? obj.spec : (obj.spec = {})) as Record<string, any>;
    if (spec.type === 'ExternalName') return [];
    const requested: string | undefined = spec.clusterIP || (Array.isArray(spec.clusterIPs) ? spec.clusterIPs[0] : undefined);
    if (requested === 'None') {
      spec.clusterIP = 'None';
      spec.clusterIPs = ['None'];
      return [];
    }
    try {
      if (requested) {
        this.clusterIps.claim(requested);
      }
      const ip = requested || this.clusterIps.allocate();
      spec.clusterIP = ip;
      spec.clusterIPs = [ip];
      return [ip];
    } catch (err) {
      if (!(err instanceof ClusterIpError)) throw err;
      const value = requested ?? '';
      const cause: FieldCause = { reason: 'FieldValueInvalid', message: `Invalid value: []string{"${value}"}: failed to allocate IP ${value}: ${err.message}`, field: 'spec.clusterIPs' };
      throw statusErrors.invalid('Service', '', obj.metadata.name ?? '', invalidMessage('Service', obj.metadata.name ?? '', [cause]), [cause]);
    }
  }

  /** ClusterIPs never change once set; an update that omits them keeps the old ones. */
  keepOnUpdate(next: KubeObject, existing: KubeObject): void {
    const oldSpec = (existing.spec ?? {}) as Record<string, any>;
    const spec = (isPlainObject(next.spec) ? next.spec : (next.spec = {})) as Record<string, any>;
    if (spec.clusterIP === undefined || spec.clusterIP === '') spec.clusterIP = oldSpec.clusterIP;
    if (spec.clusterIPs === undefined) spec.clusterIPs = oldSpec.clusterIPs;
    if (spec.clusterIP !== oldSpec.clusterIP) {
      const cause: FieldCause = { reason: 'FieldValueInvalid', message: `Invalid value: "${spec.clusterIP}": field is immutable`, field: 'spec.clusterIP' };
      throw statusErrors.invalid('Service', '', next.metadata.name ?? '', invalidMessage('Service', next.metadata.name ?? '', [cause]), [cause]);
    }
  }

  release(ips: string[]): void {
    for (const ip of ips) this.clusterIps.release(ip);
  }

  releaseOf(obj: KubeObject): void {
    this.release(serviceIps(obj));
  }
}
