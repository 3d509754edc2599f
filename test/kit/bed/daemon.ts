// The bed daemon: owns a running bed. It starts (or adopts) the API server, builds the node
// network, cgroup subtrees and bpffs dirs, relays the API into every node namespace, registers the
// Node objects and the weft-system objects, and runs the kubelet, the controllers, the Weft CA
// (on node-1) and the node agents with their CA tokens - or, with `up --from-chart`, installs the
// Weft Helm chart instead and lets its DaemonSet and Deployment run through the workload
// controller and the kubelet, as on a real cluster. It exits on SIGTERM, leaving namespaces and cgroups for `down` to remove, so that one place knows
// how to clean up - including after a crash.
import { copyFile, mkdir, rename, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Server } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { bedPaths, type BedPaths } from './bed-paths.js';
import { bedPrefix, bedSystemCgroup } from './bed-naming.js';
import { writeJsonAtomic, type BedRecord, type NodeRecord } from './bed-state.js';
import { planNodes, type NodePlan } from './node-plan.js';
import { ensureCgroup, moveIntoCgroup } from './cgroup-ops.js';
import { qosParentDirs } from './cgroup-layout.js';
import { createBpffsDir, ensureBpffsMounted } from './bpffs.js';
import { addPodCidrRoutes, createBridgeNamespace, createNodeNamespace } from './node-network.js';
import { startApiServerProcess } from './apiserver-process.js';
import { startApiRelay } from './api-relay.js';
import { NodeHelper } from './node-helper-client.js';
import { ensureNamespace, NODE_LEASE_NAMESPACE, NodeLeaseKeeper, registerNode, unregisterNode } from './node-registration.js';
import { loadKubeConfig } from './kube-client.js';
import { BedKubelet } from './kubelet/kubelet.js';
import { AgentSupervisor, agentCommand, weftCli, type AgentCaSettings } from './agent-supervisor.js';
import { NodeProcessSupervisor } from './node-process-supervisor.js';
import { CaSupervisor, CA_NAMESPACE, CA_PORT, TRUST_BUNDLE_CONFIGMAP, TRUST_DOMAIN, caAddress, caCommand } from './ca-supervisor.js';
import { ensureMeshSystem, markPodRunning, removeMeshSystemPods, type MeshSystemPods } from './mesh-system.js';
import { AgentCaTokens, agentCaTokenFile } from './agent-ca-token.js';
import { isNotFound } from './kube-client.js';
import { EndpointSliceController } from './controllers/endpointslice-controller.js';
import { BedKubeProxy } from './kube-proxy/bed-kube-proxy.js';
import { WorkloadController } from './controllers/workload-controller.js';
import { applyChartCrds, installChart, RELEASE_NAMESPACE, type RenderedObject } from './chart-install.js';
import type { BedLog } from './bed-log.js';

export interface DaemonOptions {
  stateDir: string;
  nodeCount: number;
  externalKubeconfig: string | null;
  controllers: boolean;
  agent: boolean;
  ca: boolean;
  /** Workload certificate lifetime (`up --cert-ttl`), already validated. */
  certTtl: string;
  /** `up --from-chart [--values FILE]`: install charts/weft instead of the supervised agents and CA. */
  fromChart: { valuesFile: string | null } | null;
}

/** The chart's workloads (chart-contract.md): whose container pids `status` reports. */
const CHART_AGENT = { kind: 'DaemonSet', name: 'weft-agent', container: 'agent' };
const CHART_CA = { kind: 'Deployment', name: 'weft-ca', container: 'ca' };
/** Rendering, CA start-up and every agent's first sync on a loaded 2-core machine. */
const CHART_READY_TIMEOUT_MS = 180_000;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
/** The agent's admin port (/readyz), as the chart's readiness probe uses it. */
const AGENT_ADMIN_PORT = 15020;
/** Loading bpf objects and syncing caches takes seconds on a loaded 2-core machine. */
const AGENT_READY_TIMEOUT_MS = 90_000;
/** The CA creates its issuer Secret and trust bundle at start; both take a few API round trips. */
const CA_READY_TIMEOUT_MS = 60_000;

export class BedDaemon {
  private readonly paths: BedPaths;
  private readonly prefix: string;
  private readonly nodes: NodePlan[];
  private readonly helpers = new Map<string, NodeHelper>();
  private readonly agents = new Map<string, AgentSupervisor>();
  private readonly agentPids = new Map<string, number | null>();
  /** With --from-chart: the uid of the agent pod whose pid agentPids holds, per node. */
  private readonly agentPodOfNode = new Map<string, string>();
  private caPodUid = '';
  private apiserver: ChildProcess | null = null;
  private relay: Server | null = null;
  private leaseKeeper: NodeLeaseKeeper | null = null;
  private kubelet: BedKubelet | null = null;
  private controller: EndpointSliceController | null = null;
  private kubeProxy: BedKubeProxy | null = null;
  private ca: CaSupervisor | null = null;
  /** `weft controller` (policy status), as the chart's Deployment runs it. */
  private policyStatusWriter: NodeProcessSupervisor | null = null;
  private caPid: number | null = null;
  private meshPods: MeshSystemPods | null = null;
  private caTokens: AgentCaTokens | null = null;
  private core: CoreV1Api | null = null;
  private workloads: WorkloadController | null = null;
  private record: BedRecord;

  constructor(private readonly options: DaemonOptions, private readonly log: BedLog) {
    this.paths = bedPaths(options.stateDir);
    this.prefix = bedPrefix(options.stateDir);
    this.nodes = planNodes(options.stateDir, options.nodeCount);
    this.record = {
      version: 1,
      phase: 'starting',
      stateDir: options.stateDir,
      prefix: this.prefix,
      daemonPid: process.pid,
      apiserverPid: null,
      externalKubeconfig: options.externalKubeconfig,
      apiServerUrl: '',
      kubeconfig: this.paths.kubeconfig,
      controllers: options.controllers,
      agent: options.agent,
      ca: options.fromChart
        ? { pid: null, address: `weft-ca.${RELEASE_NAMESPACE}.svc:${CA_PORT}`, node: '' }
        : options.ca ? { pid: null, address: caAddress(this.caNode), node: this.caNode.name } : null,
      certTtl: options.certTtl,
      nodes: this.nodes.map((node) => ({ ...node, helperPid: null, agentPid: null })),
      startedAt: new Date().toISOString(),
    };
  }

  async start(): Promise<void> {
    for (const dir of [this.paths.logsDir, this.paths.podLogsDir, this.paths.podsDir, this.paths.runDir]) {
      await mkdir(dir, { recursive: true });
    }
    // The daemon and every helper it starts live in one cgroup, so `down` can kill them all.
    const systemCgroup = bedSystemCgroup(this.prefix);
    await ensureCgroup(systemCgroup);
    await moveIntoCgroup(systemCgroup, process.pid);
    await this.saveRecord();

    const kubeConfig = await this.startApiServer();
    this.log('API server available', { server: this.record.apiServerUrl });
    await this.buildNodes();
    this.log('node network built', { nodes: this.nodes.map((n) => n.netns) });
    const relayPort = await this.startRelay(kubeConfig);
    for (const node of this.nodes) {
      const helper = new NodeHelper({
        netns: node.netns,
        relayPort,
        relaySocket: this.paths.relaySocket,
        // Pods in their own namespaces reach the API server at <node IP>:<relay port>.
        relayHosts: [node.ip],
        logFile: join(this.paths.logsDir, `helper-${node.name}.log`),
        log: this.log,
      });
      await helper.start();
      this.helpers.set(node.name, helper);
    }

    this.log('node helpers started', { pids: [...this.helpers.values()].map((h) => h.pid) });
    const core = kubeConfig.makeApiClient(CoreV1Api);
    this.core = core;
    for (const node of this.nodes) await registerNode(core, node, this.prefix);
    await ensureNamespace(core, NODE_LEASE_NAMESPACE);
    this.leaseKeeper = new NodeLeaseKeeper(kubeConfig, this.nodes.map((n) => n.name), this.log);
    await this.leaseKeeper.start();
    this.log('nodes registered');

    this.kubelet = new BedKubelet({
      kubeConfig,
      prefix: this.prefix,
      nodes: this.nodes,
      helpers: this.helpers,
      podsDir: this.paths.podsDir,
      podLogsDir: this.paths.podLogsDir,
      volumesDir: join(this.paths.runDir, 'kubelet'),
      apiRelayPort: relayPort,
      onContainerProcess: (pod, container, pid) => this.onContainerProcess(pod, container, pid),
      log: this.log,
    });
    await this.kubelet.start();
    this.log('kubelet watching pods');

    // --no-controllers leaves the EndpointSlices to another control plane's controller manager
    // (`up --kubeconfig`); kube-proxy is a node component and runs on every node either way, so
    // pods outside the mesh reach ClusterIPs as on a real node.
    if (this.options.controllers) {
      this.controller = new EndpointSliceController(kubeConfig, (msg, fields) => this.log(msg, { subsys: 'endpointslice-controller', ...fields }));
      await this.controller.start();
    }
    this.kubeProxy = new BedKubeProxy({ kubeConfig, nodes: this.nodes, log: this.log });
    await this.kubeProxy.start();
    if (this.options.fromChart) {
      await this.installChart(kubeConfig, this.options.fromChart.valuesFile);
    } else {
      await applyChartCrds({ kubeconfig: this.paths.kubeconfig, log: this.log });
      await this.startMeshSystem(core);
      await this.startAgents();
    }
    this.record.phase = 'ready';
    await this.saveRecord();
    this.log('bed ready', { nodes: this.nodes.length, kubeconfig: this.paths.kubeconfig });
  }

  private async startApiServer(): Promise<KubeConfig> {
    if (this.options.externalKubeconfig) {
      await copyFile(this.options.externalKubeconfig, this.paths.kubeconfig);
    } else {
      // The certificate names the node IPs: pods reach the API server there (node helper relay).
      const { child, info } = await startApiServerProcess(this.paths.apiserverDir, join(this.paths.logsDir, 'apiserver.log'), this.nodes.map((n) => n.ip));
      this.apiserver = child;
      this.record.apiserverPid = child.pid ?? null;
      child.once('exit', (code, signal) => {
        if (this.record.phase !== 'stopping') this.log('API server exited unexpectedly', { code, signal });
      });
      await copyFile(info.kubeconfig, this.paths.kubeconfig);
    }
    const kubeConfig = loadKubeConfig(this.paths.kubeconfig);
    const server = kubeConfig.getCurrentCluster()?.server;
    if (!server) throw new Error(`kubeconfig ${this.paths.kubeconfig} has no current cluster with a server URL`);
    this.record.apiServerUrl = server;
    await this.saveRecord();
    return kubeConfig;
  }

  private async buildNodes(): Promise<void> {
    await ensureBpffsMounted();
    await createBridgeNamespace(this.prefix);
    for (const node of this.nodes) {
      await createNodeNamespace(this.prefix, node);
      for (const dir of qosParentDirs(node.cgroupRoot, node.cgroupDriver)) await ensureCgroup(dir);
      await createBpffsDir(node.bpffsDir);
    }
    await addPodCidrRoutes(this.nodes);
  }

  /**
   * Agents in node namespaces reach the API server at the kubeconfig's own URL when it is on the
   * root loopback: 127.0.0.1:<port> inside each node is relayed to it. Other URLs get no relay
   * (nodes have no route off the machine by design).
   */
  private async startRelay(kubeConfig: KubeConfig): Promise<number | null> {
    const url = new URL(kubeConfig.getCurrentCluster()!.server);
    if (!LOOPBACK_HOSTS.has(url.hostname)) {
      this.log('API server is not on loopback; nodes cannot reach it', { server: url.href });
      return null;
    }
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const targetHost = url.hostname === 'localhost' ? '127.0.0.1' : url.hostname.replace(/^\[|\]$/g, '');
    this.relay = await startApiRelay(this.paths.relaySocket, targetHost, port);
    return port;
  }

  /** The chart's agent and CA containers are what `status` reports as agentPid and ca.pid. */
  private onContainerProcess(pod: V1Pod, container: string, pid: number | null): void {
    if (!this.options.fromChart || pod.metadata?.namespace !== RELEASE_NAMESPACE) return;
    const owner = (pod.metadata.ownerReferences ?? []).find((ref) => ref.controller === true);
    const nodeName = pod.spec?.nodeName ?? '';
    if (owner?.kind === CHART_AGENT.kind && owner.name === CHART_AGENT.name && container === CHART_AGENT.container) {
      // A replaced pod's late exit must not clear the pid of its successor.
      if (pid === null && this.agentPodOfNode.get(nodeName) !== pod.metadata.uid) return;
      this.agentPodOfNode.set(nodeName, pod.metadata.uid ?? '');
      this.agentPids.set(nodeName, pid);
      if (pid !== null) this.linkLog(`agent-${nodeName}.log`, pod);
    } else if (owner?.kind === CHART_CA.kind && owner.name === CHART_CA.name && container === CHART_CA.container && this.record.ca) {
      if (pid === null && this.caPodUid !== pod.metadata.uid) return;
      this.caPodUid = pod.metadata.uid ?? '';
      this.caPid = pid;
      this.record.ca.node = nodeName;
      if (pid !== null) this.linkLog('ca.log', pod);
    } else {
      return;
    }
    if (this.record.phase === 'ready') void this.saveRecord();
  }

  /**
   * logs/agent-<node>.log and logs/ca.log, where the supervised agents and CA log, point at the
   * current chart pod's log (logs/pods/<ns>_<pod>.log), so both modes are read the same way.
   */
  private linkLog(name: string, pod: V1Pod): void {
    const link = join(this.paths.logsDir, name);
    const temporary = `${link}.${process.pid}.tmp`;
    const target = join('pods', `${pod.metadata!.namespace}_${pod.metadata!.name}.log`);
    symlink(target, temporary)
      .then(() => rename(temporary, link))
      .catch((err: unknown) => this.log('linking a chart pod log failed', { link, target, err: String(err) }));
  }

  /**
   * Installs the chart and waits, as `helm install --wait` does, until every DaemonSet has a
   * Ready pod on every eligible node and every Deployment has its Ready replicas (the readiness
   * probes of the rendered spec decide), and the agent and CA processes are known.
   */
  private async installChart(kubeConfig: KubeConfig, valuesFile: string | null): Promise<void> {
    this.workloads = new WorkloadController(kubeConfig, (msg, fields) => this.log(msg, { subsys: 'workload-controller', ...fields }));
    await this.workloads.start();
    const objects = await installChart({ kubeconfig: this.paths.kubeconfig, valuesFile, log: this.log });
    await this.waitForChartReady(kubeConfig, objects);
    this.log('chart workloads ready', { agentPids: Object.fromEntries(this.agentPids), caPid: this.caPid });
  }

  private async waitForChartReady(kubeConfig: KubeConfig, objects: RenderedObject[]): Promise<void> {
    const apps = kubeConfig.makeApiClient(AppsV1Api);
    const deadline = Date.now() + CHART_READY_TIMEOUT_MS;
    let waitingFor: string[] = [];
    while (Date.now() < deadline) {
      waitingFor = [];
      for (const object of objects) {
        const namespace = object.metadata.namespace ?? RELEASE_NAMESPACE;
        const name = object.metadata.name;
        if (object.kind === 'DaemonSet') {
          const status = (await apps.readNamespacedDaemonSet({ name, namespace })).status;
          const desired = status?.desiredNumberScheduled ?? 0;
          if (desired === 0 || (status?.numberReady ?? 0) < desired || (status?.updatedNumberScheduled ?? 0) < desired) {
            waitingFor.push(`DaemonSet ${namespace}/${name} (${status?.numberReady ?? 0}/${desired} ready)`);
          }
        } else if (object.kind === 'Deployment') {
          const deploy = await apps.readNamespacedDeployment({ name, namespace });
          const want = deploy.spec?.replicas ?? 1;
          if ((deploy.status?.readyReplicas ?? 0) < want) waitingFor.push(`Deployment ${namespace}/${name} (${deploy.status?.readyReplicas ?? 0}/${want} ready)`);
        }
      }
      const missingAgents = this.nodes.filter((n) => !this.agentPids.get(n.name)).map((n) => n.name);
      if (missingAgents.length > 0) waitingFor.push(`agent processes on ${missingAgents.join(', ')}`);
      if (this.caPid === null) waitingFor.push('the CA process');
      if (waitingFor.length === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`the chart's workloads were not ready within ${CHART_READY_TIMEOUT_MS} ms; waiting for: ${waitingFor.join('; ')}; see ${this.paths.podLogsDir}/${RELEASE_NAMESPACE}_*.log`);
  }

  /** The CA runs on node-1, as the chart's single CA replica would be scheduled somewhere. */
  private get caNode(): NodePlan {
    return this.nodes[0]!;
  }

  /**
   * The weft-system objects, the CA (ready before any agent starts, as agents need it at once)
   * and the agents' CA tokens (written before any agent starts, as a projected volume is).
   */
  private async startMeshSystem(core: CoreV1Api): Promise<void> {
    this.meshPods = await ensureMeshSystem(core, {
      nodes: this.nodes,
      agentCommand: agentCommand(),
      ca: this.options.ca ? { node: this.caNode, command: caCommand(this.caNode, this.options.certTtl) } : null,
    });
    this.log('weft-system objects created', { agentPods: [...this.meshPods.agents.values()].map((p) => p.name), caPod: this.meshPods.ca?.name ?? null });
    if (this.options.ca) await this.startCa(core);
    await this.startPolicyStatusWriter();
    this.caTokens = new AgentCaTokens({ core, runDir: this.paths.runDir, pods: this.meshPods.agents, log: this.log });
    await this.caTokens.start();
  }

  private async startCa(core: CoreV1Api): Promise<void> {
    const node = this.caNode;
    this.ca = new CaSupervisor({
      node,
      kubeconfig: this.paths.kubeconfig,
      certTtl: this.options.certTtl,
      logFile: join(this.paths.logsDir, 'ca.log'),
      onPidChange: (pid) => {
        this.caPid = pid;
        if (this.record.phase === 'ready') void this.saveRecord();
      },
      log: this.log,
    });
    const startedAt = new Date();
    await this.ca.start();
    await this.waitForCaReady(core);
    await markPodRunning(core, this.meshPods!.ca!, node, 'ca', startedAt);
    this.log('ca ready', { address: caAddress(node), pid: this.caPid });
  }

  /** `weft controller` on node-1 with the bed kubeconfig; its status writes are what tests read. */
  private async startPolicyStatusWriter(): Promise<void> {
    const node = this.caNode;
    this.policyStatusWriter = new NodeProcessSupervisor({
      role: 'controller',
      node,
      cgroupDir: join(node.cgroupRoot, 'weft-controller'),
      command: [process.execPath, weftCli, 'controller', '--namespace', CA_NAMESPACE, '--identity', `weft-controller-${node.name}`, '--health-host', node.ip],
      env: { KUBECONFIG: this.paths.kubeconfig },
      logFile: join(this.paths.logsDir, 'controller.log'),
      onPidChange: () => undefined,
      log: this.log,
    });
    await this.policyStatusWriter.start();
  }

  /** Ready = accepts TCP on the node IP (probed from inside node-1) and has published its trust bundle. */
  private async waitForCaReady(core: CoreV1Api): Promise<void> {
    const node = this.caNode;
    const helper = this.helpers.get(node.name);
    if (!helper) throw new Error(`no node helper for ${node.name}`);
    const deadline = Date.now() + CA_READY_TIMEOUT_MS;
    let last = '';
    while (Date.now() < deadline) {
      const answer = await helper.probe({ kind: 'tcp', host: node.ip, port: CA_PORT, timeoutMs: 1000 });
      if (!answer.ok) {
        last = `no TCP answer on ${caAddress(node)}: ${answer.detail ?? ''}`;
      } else {
        try {
          await core.readNamespacedConfigMap({ name: TRUST_BUNDLE_CONFIGMAP, namespace: CA_NAMESPACE });
          return;
        } catch (err) {
          if (!isNotFound(err)) throw err;
          last = `ConfigMap ${CA_NAMESPACE}/${TRUST_BUNDLE_CONFIGMAP} does not exist yet`;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`the CA was not ready within ${CA_READY_TIMEOUT_MS} ms (${last}); see ${join(this.paths.logsDir, 'ca.log')}`);
  }

  /** What each agent is told about the CA; null without one. */
  private agentCaSettings(node: NodePlan): AgentCaSettings | null {
    if (!this.options.ca) return null;
    return {
      address: caAddress(this.caNode),
      tokenFile: agentCaTokenFile(this.paths.runDir, node.name),
      trustDomain: TRUST_DOMAIN,
      namespace: CA_NAMESPACE,
      certTtl: this.options.certTtl,
    };
  }

  private async startAgents(): Promise<void> {
    if (!this.options.agent) return;
    const command = agentCommand();
    const startedAt = new Map<string, Date>();
    for (const node of this.nodes) {
      const supervisor = new AgentSupervisor({
        node,
        command,
        kubeconfig: this.paths.kubeconfig,
        ca: this.agentCaSettings(node),
        logFile: join(this.paths.logsDir, `agent-${node.name}.log`),
        onPidChange: (pid) => {
          this.agentPids.set(node.name, pid);
          if (this.record.phase === 'ready') void this.saveRecord();
        },
        log: this.log,
      });
      startedAt.set(node.name, new Date());
      await supervisor.start();
      this.agents.set(node.name, supervisor);
    }
    await Promise.all(this.nodes.map(async (node) => {
      await this.waitForAgentReady(node);
      // As kubelet reports a DaemonSet pod once its readiness probe passes.
      await markPodRunning(this.core!, this.meshPods!.agents.get(node.name)!, node, 'agent', startedAt.get(node.name)!);
    }));
  }

  /** `up` returns only once every agent answers /readyz on its node, as a DaemonSet rollout would. */
  private async waitForAgentReady(node: NodePlan): Promise<void> {
    const helper = this.helpers.get(node.name);
    if (!helper) throw new Error(`no node helper for ${node.name}`);
    const deadline = Date.now() + AGENT_READY_TIMEOUT_MS;
    let last = '';
    while (Date.now() < deadline) {
      const answer = await helper.probe({ kind: 'http', host: node.ip, port: AGENT_ADMIN_PORT, path: '/readyz', timeoutMs: 1000 });
      if (answer.ok) return;
      last = answer.detail ?? '';
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`the agent on ${node.name} was not ready within ${AGENT_READY_TIMEOUT_MS} ms (${last}); see ${join(this.paths.logsDir, `agent-${node.name}.log`)}`);
  }

  private async saveRecord(): Promise<void> {
    this.record.nodes = this.nodes.map((node): NodeRecord => ({
      ...node,
      helperPid: this.helpers.get(node.name)?.pid ?? null,
      agentPid: this.agentPids.get(node.name) ?? null,
    }));
    if (this.record.ca) this.record.ca.pid = this.caPid;
    await writeJsonAtomic(this.paths.bedJson, this.record);
  }

  /** On a server the bed does not own, remove the Node objects and weft-system pods it added (bounded: best effort). */
  private async unregisterNodes(): Promise<void> {
    const core = loadKubeConfig(this.paths.kubeconfig).makeApiClient(CoreV1Api);
    const meshPods = this.meshPods;
    const all = Promise.all([
      ...this.nodes.map((node) => unregisterNode(core, node.name)),
      ...(meshPods ? [removeMeshSystemPods(core, meshPods)] : []),
    ]);
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 5000).unref());
    try {
      if ((await Promise.race([all, timeout])) === 'timeout') this.log('removing Node objects timed out');
    } catch (err) {
      this.log('removing Node objects failed', { err: String(err) });
    }
  }

  /** Stops the daemon's own activity; namespaces, cgroups and pods are left to `down`. */
  async stop(): Promise<void> {
    this.record.phase = 'stopping';
    await this.saveRecord();
    // Agents first, then the CA they depend on.
    await Promise.all([...this.agents.values()].map((agent) => agent.stop()));
    this.caTokens?.stop();
    if (this.policyStatusWriter) await this.policyStatusWriter.stop();
    if (this.ca) await this.ca.stop();
    if (this.workloads) await this.workloads.stop();
    if (this.kubeProxy) await this.kubeProxy.stop();
    if (this.controller) await this.controller.stop();
    if (this.kubelet) await this.kubelet.stop();
    this.leaseKeeper?.stop();
    if (this.options.externalKubeconfig) await this.unregisterNodes();
    for (const helper of this.helpers.values()) await helper.stop();
    this.relay?.close();
    if (this.apiserver && this.apiserver.exitCode === null) {
      const exited = new Promise((resolve) => this.apiserver!.once('exit', resolve));
      this.apiserver.kill('SIGTERM');
      await exited;
    }
  }
}
