// The proxy's UpstreamConnector in a mesh: it decides, per upstream connection, how to reach the
// endpoint. Mesh pods (enrolled) go through the HBONE tunnel to their node with the source
// workload's identity - pods on this node too, through this node's own HBONE server, so they get
// exactly the same identity checks, identity header and destination metrics without the traffic
// leaving the node. Pods outside the mesh and addresses that are no known pod go over plain TCP.
// Mesh traffic without a source identity (no certificate, or no CA configured) is refused
// (ERR_PROXY_NO_IDENTITY), never sent in plaintext.
import type { Logger } from 'pino';
import { WorkloadSpiffeIds } from '../identity/workload-spiffe-ids.js';
import { ProxyErrorCode } from '../proxy/error-codes.js';
import { ProxyError } from '../proxy/proxy-error.js';
import type { SourceWorkload } from '../proxy/source-workload.js';
import type { UpstreamConnectCallback, UpstreamConnector } from '../proxy/upstream-connector.js';
import type { UpstreamTarget } from '../proxy/upstream-target.js';
import type { HboneConnector } from './hbone-connector.js';
import type { SpiffeId } from './workload-credentials.js';

export interface MeshUpstreamConnectorOptions {
  /** Same-node and non-mesh destinations. */
  plain: UpstreamConnector;
  /** Undefined when the agent has no CA: every mesh destination is then refused. */
  hbone: HboneConnector | undefined;
  trustDomain: string;
  log: Logger;
}

export class MeshUpstreamConnector implements UpstreamConnector {
  private readonly options: MeshUpstreamConnectorOptions;
  private readonly log: Logger;
  /** Per pod and per source object, so connects do not rebuild the string. */
  private readonly identities: WorkloadSpiffeIds;

  constructor(options: MeshUpstreamConnectorOptions) {
    this.options = options;
    this.log = options.log.child({ subsys: 'hbone', direction: 'outbound' });
    this.identities = new WorkloadSpiffeIds(options.trustDomain);
  }

  connect(target: UpstreamTarget, source: SourceWorkload | null, callback: UpstreamConnectCallback): void {
    const pod = target.pod;
    if (pod === undefined || !pod.enrolled) {
      this.options.plain.connect(target, source, callback);
      return;
    }
    const destinationIdentity = this.identities.of(pod);
    const hbone = this.options.hbone;
    if (hbone === undefined) {
      this.log.warn(
        { code: ProxyErrorCode.NO_IDENTITY, upstream: target.key, destination: destinationIdentity },
        'this agent runs without a CA (--ca-address), so it has no workload identities; mesh connection refused',
      );
      callback(new ProxyError(ProxyErrorCode.NO_IDENTITY, `the agent has no CA, so no identity to reach ${destinationIdentity} with`), null);
      return;
    }
    if (source === null) {
      this.log.warn(
        { code: ProxyErrorCode.NO_IDENTITY, upstream: target.key, destination: destinationIdentity },
        'the source of a mesh connection is not a known pod; refused',
      );
      callback(
        new ProxyError(ProxyErrorCode.NO_IDENTITY, `the source of a connection to ${target.key} has no known identity`),
        null,
      );
      return;
    }
    const nodeIp = pod.hostIp;
    if (nodeIp === '') {
      this.log.warn(
        { code: ProxyErrorCode.TUNNEL_FAILED, upstream: target.key, node: pod.nodeName },
        'the address of the destination node is unknown; refused',
      );
      callback(new ProxyError(ProxyErrorCode.TUNNEL_FAILED, `the address of node ${pod.nodeName} is unknown`), null);
      return;
    }
    hbone.open(
      {
        sourceIdentity: this.identities.of(source),
        nodeIp,
        destinationIdentity,
        targetIp: target.ip,
        targetPort: target.port,
      },
      callback,
    );
  }
}
