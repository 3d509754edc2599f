// The bed daemon: owns a running bed. It starts (or adopts) the API server, builds the node
// network, cgroup subtrees and bpffs dirs, relays the API into every node namespace, registers the
// Node objects, and runs the kubelet, the controllers and (once it exists) the node agents. It
// exits on SIGTERM, leaving namespaces and cgroups for `down` to remove, so that one place knows
// how to clean up - including after a crash.
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Server } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
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
import { AgentSupervisor, agentCommand } from './agent-supervisor.js';
import { EndpointSliceController } from './controllers/endpointslice-controller.js';
import { BedKubeProxy } from './kube-proxy/bed-kube-proxy.js';
import type { BedLog } from './bed-log.js';

export interface DaemonOptions {
  stateDir: string;
  nodeCount: number;
  externalKubeconfig: string | null;
  controllers: boolean;
  agent: boolean;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
/** The agent's admin port (/readyz), as the chart's readiness probe uses it. */
const AGENT_ADMIN_PORT = 15020;
/** Loading bpf objects and syncing caches takes seconds on a loaded 2-core machine. */
const AGENT_READY_TIMEOUT_MS = 90_000;

export class BedDaemon {
  private readonly paths: BedPaths;
  private readonly prefix: string;
  private readonly nodes: NodePlan[];
  private readonly helpers = new Map<string, NodeHelper>();
  private readonly agents = new Map<string, AgentSupervisor>();
  private readonly agentPids = new Map<string, number | null>();
  private apiserver: ChildProcess | null = null;
  private relay: Server | null = null;
  private leaseKeeper: NodeLeaseKeeper | null = null;
  private kubelet: BedKubelet | null = null;
  private controller: EndpointSliceController | null = null;
  private kubeProxy: BedKubeProxy | null = null;
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
        logFile: join(this.paths.logsDir, `helper-${node.name}.log`),
        log: this.log,
      });
      await helper.start();
      this.helpers.set(node.name, helper);
    }

    this.log('node helpers started', { pids: [...this.helpers.values()].map((h) => h.pid) });
    const core = kubeConfig.makeApiClient(CoreV1Api);
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
      log: this.log,
    });
    await this.kubelet.start();
    this.log('kubelet watching pods');

    if (this.options.controllers) {
      this.controller = new EndpointSliceController(kubeConfig, (msg, fields) => this.log(msg, { subsys: 'endpointslice-controller', ...fields }));
      await this.controller.start();
      // kube-proxy on every node, so pods outside the mesh reach ClusterIPs as on a real node.
      this.kubeProxy = new BedKubeProxy({ kubeConfig, nodes: this.nodes, log: this.log });
      await this.kubeProxy.start();
    }
    await this.startAgents();
    this.record.phase = 'ready';
    await this.saveRecord();
    this.log('bed ready', { nodes: this.nodes.length, kubeconfig: this.paths.kubeconfig });
  }

  private async startApiServer(): Promise<KubeConfig> {
    if (this.options.externalKubeconfig) {
      await copyFile(this.options.externalKubeconfig, this.paths.kubeconfig);
    } else {
      const { child, info } = await startApiServerProcess(this.paths.apiserverDir, join(this.paths.logsDir, 'apiserver.log'));
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

  private async startAgents(): Promise<void> {
    if (!this.options.agent) return;
    const command = agentCommand();
    for (const node of this.nodes) {
      const supervisor = new AgentSupervisor({
        node,
        command,
        kubeconfig: this.paths.kubeconfig,
        logFile: join(this.paths.logsDir, `agent-${node.name}.log`),
        onPidChange: (pid) => {
          this.agentPids.set(node.name, pid);
          if (this.record.phase === 'ready') void this.saveRecord();
        },
        log: this.log,
      });
      await supervisor.start();
      this.agents.set(node.name, supervisor);
    }
    await Promise.all(this.nodes.map((node) => this.waitForAgentReady(node)));
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
    await writeJsonAtomic(this.paths.bedJson, this.record);
  }

  /** On a server the bed does not own, remove the Node objects it added (bounded: best effort). */
  private async unregisterNodes(): Promise<void> {
    const core = loadKubeConfig(this.paths.kubeconfig).makeApiClient(CoreV1Api);
    const all = Promise.all(this.nodes.map((node) => unregisterNode(core, node.name)));
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
    for (const agent of this.agents.values()) agent.stop();
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
