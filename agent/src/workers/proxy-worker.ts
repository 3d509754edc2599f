// One proxy worker: the data path of the node (outbound proxy, HBONE server and client) on its
// own thread and event loop. It listens on the node's proxy and HBONE ports beside the other
// workers (SO_REUSEPORT: the kernel spreads new connections over the group, no user-space
// accept hop) and reads only what the control thread sends it: a snapshot, then deltas of it
// (snapshot-delta.ts), and credential sets. It never watches the API server and never loads
// programs; the one map it touches is weft_peer_dst, reading and deleting the entry of each
// connection it accepted (see worker-protocol.ts, ProxyWorkerInit.peerDstMapFd).
import type { Logger } from 'pino';
import { OriginalDestinationTable } from '../bpf/original-destination.js';
import { HboneConnector } from '../hbone/hbone-connector.js';
import { HboneInboundServer } from '../hbone/inbound-server.js';
import { InboundAuthorizer } from '../authz/inbound-authorizer.js';
import { InboundTunnelMetrics } from '../hbone/inbound-tunnel-metrics.js';
import { AuthzMetrics } from '../metrics/authz-metrics.js';
import { MeshUpstreamConnector } from '../hbone/mesh-upstream-connector.js';
import { WorkloadCredentialStore, type CredentialsSnapshot } from '../hbone/workload-credential-store.js';
import { HandshakeMetrics } from '../metrics/handshake-metrics.js';
import { createMetricsRegistry } from '../metrics/metrics-registry.js';
import { ProxyMetrics } from '../metrics/proxy-metrics.js';
import { SnapshotMetrics } from '../metrics/snapshot-metrics.js';
import { OUTBOUND_PROXY_DEFAULTS, OutboundProxy } from '../proxy/outbound-proxy.js';
import { PlainTcpConnector } from '../proxy/upstream-connector.js';
import type { MeshSnapshot } from '../state/mesh-snapshot.js';
import { applySnapshotDelta, type SnapshotDelta } from './snapshot-delta.js';
import type { DrainResult, ProxyWorkerInit, WorkerCallName, WorkerCalls, WorkerStats } from './worker-protocol.js';

export class ProxyWorker {
  private snapshot: MeshSnapshot;
  private readonly registry = createMetricsRegistry({ processMetrics: false });
  private readonly credentials: WorkloadCredentialStore | undefined;
  private readonly hboneServer: HboneInboundServer | undefined;
  private readonly hboneConnector: HboneConnector | undefined;
  private readonly proxy: OutboundProxy;
  private readonly snapshotMetrics = new SnapshotMetrics(this.registry);

  constructor(init: ProxyWorkerInit, log: Logger) {
    this.snapshot = init.snapshot;
    const currentSnapshot = (): MeshSnapshot => this.snapshot;
    const sourceMetrics = new ProxyMetrics(this.registry, { reporter: 'source' });
    const handshakes = new HandshakeMetrics(this.registry);
    if (init.credentials !== null) {
      this.credentials = new WorkloadCredentialStore(init.trustDomain, init.credentials.trustBundlePem);
      this.credentials.applySnapshot(init.credentials);
      const destinationMetrics = new ProxyMetrics(sourceMetrics, { reporter: 'destination', connectionSecurityPolicy: 'mutual_tls' });
      this.hboneServer = new HboneInboundServer({
        host: init.nodeIp,
        port: init.hbonePort,
        credentials: this.credentials,
        currentSnapshot,
        log,
        authorizer: new InboundAuthorizer(currentSnapshot, new AuthzMetrics(this.registry), log),
        onTunnel: new InboundTunnelMetrics(destinationMetrics, currentSnapshot).onTunnel,
        onPeerRejected: (reason) => handshakes.handshakeFailed('inbound', reason),
      });
      this.hboneConnector = new HboneConnector({
        credentials: this.credentials,
        log,
        port: init.hbonePort,
        onHandshakeFailure: (reason) => handshakes.handshakeFailed('outbound', reason),
      });
    }
    const originalDestinations = new OriginalDestinationTable(init.peerDstMapFd);
    this.proxy = new OutboundProxy({
      host: init.nodeIp,
      port: init.outboundPort,
      currentSnapshot,
      originalDestination: (ip, port) => originalDestinations.take(ip, port),
      metrics: sourceMetrics,
      log,
      trustDomain: init.credentials !== null ? init.trustDomain : undefined,
      connector: new MeshUpstreamConnector({
        plain: new PlainTcpConnector({ connectTimeoutMs: OUTBOUND_PROXY_DEFAULTS.connectTimeoutMs }),
        hbone: this.hboneConnector,
        trustDomain: init.trustDomain,
        log,
      }),
    });
  }

  useSnapshot(snapshot: MeshSnapshot, changedAtMs: number): void {
    this.snapshot = snapshot;
    this.snapshotMetrics.arrived(changedAtMs);
  }

  /** Applies what changed; false when this worker's snapshot is not the delta's base (it needs a whole one). */
  applyDelta(delta: SnapshotDelta, changedAtMs: number): boolean {
    if (delta.baseVersion !== this.snapshot.version) return false;
    this.useSnapshot(applySnapshotDelta(this.snapshot, delta), changedAtMs);
    return true;
  }

  useCredentials(credentials: CredentialsSnapshot): void {
    this.credentials?.applySnapshot(credentials);
  }

  /** Answers one call from the control thread (worker-protocol.ts). */
  call(name: WorkerCallName, arg: unknown): Promise<unknown> {
    const handler = this.handlers[name] as ((arg: unknown) => Promise<unknown>) | undefined;
    if (handler === undefined) return Promise.reject(new Error(`unknown worker call ${String(name)}`));
    return handler(arg);
  }

  private readonly handlers: { [N in WorkerCallName]: (arg: WorkerCalls[N]['arg']) => Promise<WorkerCalls[N]['result']> } = {
    listen: async () => {
      await this.hboneServer?.listen();
      await this.proxy.listen();
      return null;
    },
    stopAccepting: async () => {
      await Promise.all([this.proxy.stopAccepting(), this.hboneServer?.stopAccepting()]);
      return null;
    },
    acceptOnlyFrom: async (address) => {
      this.hboneServer?.acceptOnlyFrom(address);
      return null;
    },
    drain: (timeoutMs) => this.drain(timeoutMs),
    close: async () => {
      await this.close();
      return null;
    },
    metrics: () => this.registry.getMetricsAsJSON(),
    stats: async () => this.stats(),
  };

  private async drain(timeoutMs: number): Promise<DrainResult> {
    const [clientsCut, sessionsCut] = await Promise.all([this.proxy.drain(timeoutMs), this.hboneServer?.drain(timeoutMs) ?? 0]);
    return { clientsCut, sessionsCut };
  }

  private stats(): WorkerStats {
    return {
      outboundTunnels: this.hboneConnector?.stats() ?? null,
      inboundSessions: this.hboneServer?.openSessions() ?? [],
    };
  }

  private async close(): Promise<void> {
    await this.proxy.close();
    await this.hboneConnector?.close();
    await this.hboneServer?.close();
  }
}
