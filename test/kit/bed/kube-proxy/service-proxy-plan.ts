// What kube-proxy must program for the cluster's Services, computed from the Service and
// EndpointSlice caches the way kube-proxy 1.26 reads them: one entry per ClusterIP port, whose
// backends are the ready endpoints of the Service's slices at the slice port with the same name
// and protocol (slices carry the resolved target port). Pure, so it is unit-tested without a bed.
import type { DiscoveryV1EndpointPort, V1EndpointSlice, V1Service } from '@kubernetes/client-node';

export const serviceNameLabel = 'kubernetes.io/service-name';

export type ProxiedProtocol = 'TCP' | 'UDP';

export interface ProxyBackend {
  ip: string;
  port: number;
}

export interface ProxiedServicePort {
  /** `<namespace>/<service>/<protocol>/<port>`: unique, and safe in nft chain names. */
  key: string;
  clusterIP: string;
  protocol: ProxiedProtocol;
  port: number;
  /** Sorted, deduplicated; empty means kube-proxy rejects connections to this port. */
  backends: ProxyBackend[];
}

export interface ServiceProxyPlan {
  ports: ProxiedServicePort[];
  /** Every ClusterIP with at least one proxied port: traffic to any other port is rejected. */
  clusterIPs: string[];
  /** Services left out and why (bad input the proxy cannot express), for the log. */
  skipped: { service: string; reason: string }[];
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/** DNS-1123 names (namespaces, services): the only characters that go into nft chain names. */
const DNS_NAME = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;

export function isIPv4(value: string | undefined): value is string {
  return typeof value === 'string' && IPV4.test(value);
}

export function planServiceProxy(services: readonly V1Service[], slices: readonly V1EndpointSlice[]): ServiceProxyPlan {
  const slicesByService = new Map<string, V1EndpointSlice[]>();
  for (const slice of slices) {
    const name = slice.metadata?.labels?.[serviceNameLabel];
    if (!name || !slice.metadata?.namespace || slice.addressType !== 'IPv4') continue;
    const key = `${slice.metadata.namespace}/${name}`;
    slicesByService.set(key, [...(slicesByService.get(key) ?? []), slice]);
  }

  const plan: ServiceProxyPlan = { ports: [], clusterIPs: [], skipped: [] };
  for (const service of services) {
    const namespace = service.metadata?.namespace ?? '';
    const name = service.metadata?.name ?? '';
    const id = `${namespace}/${name}`;
    const clusterIP = service.spec?.clusterIP;
    // Headless and ExternalName services have no virtual IP: nothing to proxy (as kube-proxy).
    if (service.spec?.type === 'ExternalName' || !clusterIP || clusterIP === 'None') continue;
    if (!isIPv4(clusterIP)) {
      plan.skipped.push({ service: id, reason: `clusterIP "${clusterIP}" is not IPv4 (the bed proxies IPv4 only)` });
      continue;
    }
    if (!DNS_NAME.test(namespace) || !DNS_NAME.test(name)) {
      plan.skipped.push({ service: id, reason: 'namespace or name is not a DNS-1123 name' });
      continue;
    }
    let proxied = false;
    for (const servicePort of service.spec?.ports ?? []) {
      const protocol = servicePort.protocol ?? 'TCP';
      if (protocol !== 'TCP' && protocol !== 'UDP') {
        plan.skipped.push({ service: id, reason: `protocol ${protocol} of port ${servicePort.port} is not proxied` });
        continue;
      }
      const backends = readyBackends(slicesByService.get(id) ?? [], servicePort.name ?? '', protocol);
      plan.ports.push({
        key: `${namespace}/${name}/${protocol.toLowerCase()}/${servicePort.port}`,
        clusterIP,
        protocol,
        port: servicePort.port,
        backends,
      });
      proxied = true;
    }
    if (proxied && !plan.clusterIPs.includes(clusterIP)) plan.clusterIPs.push(clusterIP);
  }
  plan.ports.sort((a, b) => a.key.localeCompare(b.key));
  plan.clusterIPs.sort();
  return plan;
}

/**
 * Ready endpoints (a missing `ready` means ready, per the API). When none is ready, kube-proxy
 * (ProxyTerminatingEndpoints, on by default since 1.26) falls back to endpoints that are still
 * serving while terminating, so connections drain instead of being refused.
 */
function readyBackends(slices: V1EndpointSlice[], portName: string, protocol: ProxiedProtocol): ProxyBackend[] {
  const ready: ProxyBackend[] = [];
  const servingTerminating: ProxyBackend[] = [];
  for (const slice of slices) {
    const slicePort = (slice.ports ?? []).find((p: DiscoveryV1EndpointPort) => (p.name ?? '') === portName && (p.protocol ?? 'TCP') === protocol);
    if (!slicePort || typeof slicePort.port !== 'number') continue;
    for (const endpoint of slice.endpoints ?? []) {
      const ip = endpoint.addresses?.[0];
      if (!isIPv4(ip)) continue;
      const conditions = endpoint.conditions ?? {};
      if (conditions.ready !== false) ready.push({ ip, port: slicePort.port });
      else if (conditions.serving === true && conditions.terminating === true) servingTerminating.push({ ip, port: slicePort.port });
    }
  }
  return dedupeSorted(ready.length > 0 ? ready : servingTerminating);
}

function dedupeSorted(backends: ProxyBackend[]): ProxyBackend[] {
  const byKey = new Map(backends.map((b) => [`${b.ip}:${b.port}`, b]));
  return [...byKey.values()].sort((a, b) => a.ip.localeCompare(b.ip) || a.port - b.port);
}
