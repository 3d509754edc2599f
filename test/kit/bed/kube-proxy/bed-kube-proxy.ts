// The bed's kube-proxy (nftables mode), one per node as a real cluster runs it, so that pods
// outside the Weft mesh reach Service ClusterIPs the way they would on a real node: through
// DNAT rules in the node's network namespace, not through Weft. One set of Service and
// EndpointSlice informers feeds every node; each node's rules are rendered from the caches and
// applied as one nft transaction in that node's namespace (`nsenter --net ... nft -f -`). Bursts
// of changes collapse into one apply per node (a keyed work queue), and an unchanged ruleset is
// not re-applied. Only node namespaces are touched, never the root namespace; removing a node
// namespace (bed `down`) removes its table and routes with it.
import { CoreV1Api, DiscoveryV1Api, type KubeConfig, type V1EndpointSlice, type V1Service } from '@kubernetes/client-node';
import { runHostCommand } from '../host-command.js';
import { NETNS_DIR } from '../netns-ops.js';
import { KeyedWorkQueue } from '../controllers/keyed-work-queue.js';
import { RestartingInformer } from '../../../../agent/src/k8s/restarting-informer.js';
import type { NodePlan } from '../node-plan.js';
import { planServiceProxy } from './service-proxy-plan.js';
import { renderNodeRuleset } from './nft-ruleset.js';
import { ensureServiceLink, syncServiceRoutes } from './service-ip-routes.js';

export type KubeProxyLog = (msg: string, fields?: object) => void;

export interface BedKubeProxyOptions {
  kubeConfig: KubeConfig;
  nodes: readonly NodePlan[];
  log: KubeProxyLog;
}

/** Loads the ruleset inside one node namespace; nft reads the whole file as one transaction. */
async function applyRuleset(netns: string, script: string): Promise<void> {
  await runHostCommand('nsenter', [`--net=${NETNS_DIR}/${netns}`, '--', 'nft', '-f', '-'], { input: script });
}

/** Fails start-up with a clear message instead of retrying a missing tool forever. */
async function requireNft(): Promise<void> {
  try {
    await runHostCommand('nft', ['--version']);
  } catch (err) {
    throw new Error(`the bed's kube-proxy needs the nft binary (Debian package nftables): ${err instanceof Error ? err.message : String(err)}`);
  }
}

export class BedKubeProxy {
  private readonly nodes: Map<string, NodePlan>;
  private readonly log: KubeProxyLog;
  private readonly services: RestartingInformer<V1Service>;
  private readonly slices: RestartingInformer<V1EndpointSlice>;
  private readonly queue: KeyedWorkQueue;
  /** The script last applied per node: an identical render is skipped. */
  private readonly applied = new Map<string, string>();
  /** The ClusterIPs routed per node after the last apply. */
  private readonly routed = new Map<string, string[]>();
  private running = false;
  private started = false;

  constructor(options: BedKubeProxyOptions) {
    this.nodes = new Map(options.nodes.map((node) => [node.name, node]));
    this.log = (msg, fields) => options.log(msg, { subsys: 'kube-proxy', ...fields });
    const core = options.kubeConfig.makeApiClient(CoreV1Api);
    const discovery = options.kubeConfig.makeApiClient(DiscoveryV1Api);
    this.services = new RestartingInformer<V1Service>({
      kubeConfig: options.kubeConfig,
      log: this.log,
      name: 'kube-proxy-services',
      path: '/api/v1/services',
      list: () => core.listServiceForAllNamespaces(),
    });
    this.slices = new RestartingInformer<V1EndpointSlice>({
      kubeConfig: options.kubeConfig,
      log: this.log,
      name: 'kube-proxy-endpointslices',
      path: '/apis/discovery.k8s.io/v1/endpointslices',
      list: () => discovery.listEndpointSliceForAllNamespaces(),
    });
    this.queue = new KeyedWorkQueue((nodeName) => this.syncNode(nodeName), {
      workers: Math.max(1, this.nodes.size),
      onError: (nodeName, err, retryInMs) =>
        this.log('kube-proxy sync failed', { node: nodeName, err: err instanceof Error ? err.message : String(err), retryInMs }),
    });
    // Every node's rules depend on all Services and slices: any change re-renders every node.
    this.services.on('change', () => this.syncAll());
    this.slices.on('change', () => this.syncAll());
  }

  /** Resolves once the caches synced and every node has its first ruleset. */
  async start(): Promise<void> {
    if (this.started) throw new Error('BedKubeProxy was already started');
    this.started = true;
    await requireNft();
    for (const node of this.nodes.values()) await ensureServiceLink(node.netns);
    await Promise.all([this.services.start(), this.slices.start()]);
    this.running = true;
    this.syncAll();
    await this.queue.idle();
    this.log('kube-proxy synced', { nodes: [...this.nodes.keys()], services: this.services.list().length });
  }

  /** Stops watching; the rules stay in place (as when kube-proxy exits) until `down` removes the namespaces. */
  async stop(): Promise<void> {
    this.running = false;
    this.queue.stop();
    await Promise.all([this.services.stop(), this.slices.stop()]);
    await this.queue.idle();
  }

  private syncAll(): void {
    if (!this.running) return;
    for (const name of this.nodes.keys()) this.queue.add(name);
  }

  private async syncNode(nodeName: string): Promise<void> {
    const node = this.nodes.get(nodeName);
    if (!node) throw new Error(`kube-proxy: unknown node ${nodeName}`);
    const plan = planServiceProxy(this.services.list(), this.slices.list());
    const script = renderNodeRuleset({ nodeIP: node.ip, plan });
    if (this.applied.get(nodeName) === script) return;
    // New ClusterIPs get their route before their rules, stale routes go after: a node-local
    // connect() always finds a route while its Service exists.
    await syncServiceRoutes(node.netns, node.ip, [...new Set([...plan.clusterIPs, ...(this.routed.get(nodeName) ?? [])])]);
    await applyRuleset(node.netns, script);
    await syncServiceRoutes(node.netns, node.ip, plan.clusterIPs);
    this.applied.set(nodeName, script);
    this.routed.set(nodeName, plan.clusterIPs);
    for (const skipped of plan.skipped) this.log('service not proxied', { node: nodeName, ...skipped });
    this.log('kube-proxy rules applied', {
      node: nodeName,
      servicePorts: plan.ports.length,
      withoutEndpoints: plan.ports.filter((p) => p.backends.length === 0).length,
    });
  }
}
