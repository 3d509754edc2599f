// Where the CA is: `--ca-address` is host:port. A host that names a Service the Kubernetes way
// (`<name>.<namespace>.svc`, optionally followed by the cluster domain) is resolved to the
// Service's ClusterIP from the agent's own Service cache, not DNS: the agent runs with the host's
// network and must not depend on cluster DNS being up (DNS pods may themselves wait for the
// mesh). The TLS server name stays the host as written, which the CA's certificate carries.

export interface CaTarget {
  /** What gRPC dials: ip:port or host:port. */
  address: string;
  /** The name to verify in the CA's certificate; undefined means the dialled host. */
  serverName?: string;
}

const SERVICE_HOST = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(\.[a-z0-9.-]+)?$/;

/** A Service's ClusterIP from the cache, undefined when unknown or headless. */
export type ServiceClusterIpLookup = (namespace: string, name: string) => string | undefined;

export function resolveCaAddress(address: string, serverName: string | undefined, lookup: ServiceClusterIpLookup): CaTarget {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon);
  const port = address.slice(colon + 1);
  const service = SERVICE_HOST.exec(host);
  if (service === null) return { address, serverName };
  const [, name, , namespace] = service;
  const clusterIp = lookup(namespace!, name!);
  if (clusterIp === undefined) {
    throw new Error(`the CA Service ${namespace}/${name} (from --ca-address ${address}) is not known or has no ClusterIP`);
  }
  return { address: `${clusterIp}:${port}`, serverName: serverName ?? host };
}
