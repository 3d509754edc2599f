// Which connects this node's kernel refuses at connect() (bpf/include/weft_authz.h): for each
// identity of an enrolled pod here and each mesh destination, whether the destination's policies
// deny that identity on connection facts alone (source identity, destination workload, port).
// A Service address is refused only when every ready endpoint denies; a destination whose
// decision needs the request, or that has no policy, is left to the destination node (which
// enforces everything anyway: a source node is not trusted). Service ports that speak HTTP
// (appProtocol http, http2, h2c, grpc) are left to the destination too, so their callers get a
// 403 that says why instead of a failed connect. Pure: tested without a kernel.
import type { MeshSnapshot } from '../state/mesh-snapshot.js';
import type { AuthzTable } from './authz-table.js';
import { evaluateAuthz, type AuthzSource } from './authz-evaluator.js';

export interface ConnectDenyEntry {
  /** `${namespace}/${serviceAccount}` of the source pods. */
  source: string;
  ip4: string;
  port: number;
  /** The deciding policy's id (`default`: ALLOW policies select the destination and none matches). */
  policy: string;
}

const HTTP_APP_PROTOCOLS = new Set(['http', 'http2', 'h2c', 'kubernetes.io/h2c', 'grpc', 'kubernetes.io/http2']);

export function connectDenyEntries(snapshot: MeshSnapshot, authz: AuthzTable, trustDomain: string): ConnectDenyEntry[] {
  if (authz.byPodIp.size === 0) return [];
  const sources = new Map<string, AuthzSource>();
  for (const pod of snapshot.enrolledLocalPods) {
    const key = `${pod.namespace}/${pod.serviceAccount}`;
    if (!sources.has(key)) {
      sources.set(key, { kind: 'mesh', spiffeId: `spiffe://${trustDomain}/ns/${pod.namespace}/sa/${pod.serviceAccount}`, namespace: pod.namespace, serviceAccount: pod.serviceAccount });
    }
  }
  const entries = new Map<string, ConnectDenyEntry>();
  const add = (entry: ConnectDenyEntry): void => {
    entries.set(`${entry.source}|${entry.ip4}|${entry.port}`, entry);
  };
  for (const target of snapshot.servicesByAddress.values()) {
    if (target.port.appProtocol !== undefined && HTTP_APP_PROTOCOLS.has(target.port.appProtocol)) continue;
    const endpoints = target.service.endpointsByPort.get(target.port.port) ?? [];
    if (endpoints.length === 0) continue;
    for (const [sourceKey, source] of sources) {
      let policy: string | undefined;
      let allDeny = true;
      for (const endpoint of endpoints) {
        const workload = endpoint.pod?.enrolled ? authz.byPodIp.get(endpoint.ip) : undefined;
        const decision = workload === undefined ? undefined : evaluateAuthz(workload, { source, port: endpoint.port, http: 'pending' });
        if (decision?.decision !== 'deny') {
          allDeny = false;
          continue;
        }
        policy ??= decision.policy;
        // The pod itself, dialled directly on this port.
        add({ source: sourceKey, ip4: endpoint.ip, port: endpoint.port, policy: decision.policy });
      }
      if (allDeny && policy !== undefined) add({ source: sourceKey, ip4: target.service.clusterIP, port: target.port.port, policy });
    }
  }
  return [...entries.values()];
}
