// The proxy's UpstreamConnector in a mesh: it decides, per upstream connection, how to reach the
// endpoint. Mesh pods (enrolled) on another node go through the HBONE tunnel to that node with
// the source workload's identity; pods on this node, pods outside the mesh and addresses that
// are no known pod go over plain TCP. Cross-node mesh traffic without a source identity is
// refused (ERR_PROXY_NO_IDENTITY), never sent in plaintext.
import type { Logger } from 'pino';
import { formatWorkloadSpiffeId } from '../identity/spiffe-id.js';
import { ProxyErrorCode } from '../proxy/error-codes.js';
import { ProxyError } from '../proxy/proxy-error.js';
import type { SourceWorkload } from '../proxy/source-workload.js';
import type { UpstreamConnectCallback, UpstreamConnector } from '../proxy/upstream-connector.js';
import type { UpstreamTarget } from '../proxy/upstream-target.js';
import type { MeshSnapshot, PodInfo } from '../state/mesh-snapshot.js';
import type { HboneConnector } from './hbone-connector.js';
import type { SpiffeId } from './workload-credentials.js';

export interface MeshUpstreamConnectorOptions {
  /** Same-node and non-mesh destinations. */
  plain: UpstreamConnector;
  hbone: HboneConnector;
  trustDomain: string;
  currentSnapshot: () => MeshSnapshot;
  /**
   * The IP of the node a pod runs on (its status.hostIP). The snapshot's PodInfo does not carry
   * it yet, so the agent passes a lookup; undefined means unknown (the connection is refused).
   */
  nodeIpOf: (pod: PodInfo) => string | undefined;
  log: Logger;
}

export class MeshUpstreamConnector implements UpstreamConnector {
  private readonly options: MeshUpstreamConnectorOptions;
  private readonly log: Logger;
  /** `<ns>/<sa>` -> SPIFFE ID, so connects do not rebuild the string. */
  private readonly identities = new Map<string, SpiffeId>();

  constructor(options: MeshUpstreamConnectorOptions) {
    this.options = options;
    this.log = options.log.child({ subsys: 'hbone', direction: 'outbound' });
  }

  connect(target: UpstreamTarget, source: SourceWorkload | null, callback: UpstreamConnectCallback): void {
    const pod = target.pod;
    if (pod === undefined || !pod.enrolled || pod.nodeName === this.options.currentSnapshot().nodeName) {
      this.options.plain.connect(target, source, callback);
      return;
    }
    const destinationIdentity = this.identityOf(pod.namespace, pod.serviceAccount);
    if (source === null) {
      this.log.warn(
        { code: ProxyErrorCode.NO_IDENTITY, upstream: target.key, destination: destinationIdentity },
        'the source of a cross-node mesh connection is not a known pod; refused',
      );
      callback(
        new ProxyError(ProxyErrorCode.NO_IDENTITY, `the source of a connection to ${target.key} has no known identity`),
        null,
      );
      return;
    }
    const nodeIp = this.options.nodeIpOf(pod);
    if (nodeIp === undefined) {
      this.log.warn(
        { code: ProxyErrorCode.TUNNEL_FAILED, upstream: target.key, node: pod.nodeName },
        'the address of the destination node is unknown; refused',
      );
      callback(new ProxyError(ProxyErrorCode.TUNNEL_FAILED, `the address of node ${pod.nodeName} is unknown`), null);
      return;
    }
    this.options.hbone.open(
      {
        sourceIdentity: this.identityOf(source.namespace, source.serviceAccount),
        nodeIp,
        destinationIdentity,
        targetIp: target.ip,
        targetPort: target.port,
      },
      callback,
    );
  }

  private identityOf(namespace: string, serviceAccount: string): SpiffeId {
    const key = `${namespace}/${serviceAccount}`;
    let identity = this.identities.get(key);
    if (identity === undefined) {
      identity = formatWorkloadSpiffeId({ trustDomain: this.options.trustDomain, namespace, serviceAccount });
      this.identities.set(key, identity);
    }
    return identity;
  }
}
