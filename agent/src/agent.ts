// The node agent. Its main thread is the control thread: config, the cluster watch, the state
// updater (the one writer of snapshots), the eBPF programs and maps, the workload identities
// and the admin server. The data path (outbound proxy, HBONE server and client) runs in proxy
// worker threads (workers/) that read the snapshots and credentials this thread sends them.
// Shut down in reverse order; pinned programs and maps stay in place on exit, so redirection
// survives an agent restart or upgrade.
import type { Logger } from 'pino';
import type { AgentConfig } from './config/agent-config.js';
import { loadKubeConfig } from './k8s/kube-config.js';
import { ClusterWatch } from './k8s/cluster-caches.js';
import { StateUpdater } from './state/state-updater.js';
import { EMPTY_SNAPSHOT } from './state/mesh-snapshot.js';
import { RedirectPrograms } from './bpf/redirect-programs.js';
import { PodCgroupFinder } from './bpf/pod-cgroup-finder.js';
import { EnrollmentReconciler } from './bpf/enrollment-reconciler.js';
import { CgroupAppearanceWatch } from './bpf/cgroup-appearance-watch.js';
import { syncMeshMaps } from './bpf/mesh-map-sync.js';
import { ownCgroupId } from './bpf/own-cgroup.js';
import { createMetricsRegistry } from './metrics/metrics-registry.js';
import { AgentMetrics } from './metrics/agent-metrics.js';
import { UninstallDetector } from './k8s/uninstall-detector.js';
import { ConnectDenySync } from './bpf/connect-deny-sync.js';
import { PlaintextAllowSync } from './bpf/plaintext-allow-sync.js';
import { AdminServer } from './metrics/admin-server.js';
import { IdentityMetrics } from './metrics/identity-metrics.js';
import { TrustBundleWatch } from './k8s/trust-bundle-watch.js';
import { WorkloadIdentities } from './identity/workload-identities.js';
import { NodeMetricsPage } from './metrics/node-metrics-page.js';
import { ProxyWorkerPool } from './workers/proxy-worker-pool.js';
import { enableListenerMigration } from './net/shared-listener.js';
import { handOverAndDrain } from './lifecycle/handover.js';
import { newerAgentPod } from './lifecycle/newer-agent-pod.js';

/** The longest a starting agent waits for its pods' certificates before it listens anyway. */
const CERTIFICATES_BEFORE_LISTEN_MS = 15_000;

export class Agent {
  private programs?: RedirectPrograms;
  private watch?: ClusterWatch;
  private workers?: ProxyWorkerPool;
  private admin?: AdminServer;
  private identities?: WorkloadIdentities;
  private uninstallDetector?: UninstallDetector;
  private cgroupWatch?: CgroupAppearanceWatch;

  constructor(private readonly config: AgentConfig, private readonly log: Logger) {}

  async start(): Promise<void> {
    const { config, log } = this;
    const registry = createMetricsRegistry();
    const agentMetrics = new AgentMetrics(registry);
    const identityMetrics = new IdentityMetrics(registry);

    const migration = enableListenerMigration();
    if (migration !== null) {
      log.warn({ subsys: 'lifecycle', err: migration }, 'net.ipv4.tcp_migrate_req not set: connections queued on this agent\'s listeners when it stops are reset instead of moving to its successor');
    }
    this.programs = RedirectPrograms.load({
      objectDir: config.bpfObjectDir,
      pinDir: config.bpffsDir,
      config: { agentCgroupId: ownCgroupId(), proxyIp4: config.nodeIp, proxyPort: config.outboundPort },
    });
    log.info({ subsys: 'bpf', pinDir: config.bpffsDir }, 'programs loaded');
    const programs = this.programs;
    agentMetrics.countStrictDropsFrom(() => programs.strictDrops());

    const kubeConfig = loadKubeConfig(config.kubeconfig);
    this.watch = new ClusterWatch(kubeConfig, config.nodeName, log.child({ subsys: 'k8s' }));
    const state = new StateUpdater(this.watch, config.nodeName, config.nodeIp, log.child({ subsys: 'state' }));
    const podCgroups = new PodCgroupFinder(config.cgroupRoot);
    const connectDenies = new ConnectDenySync(programs, podCgroups, config.trustDomain, log.child({ subsys: 'authz' }));
    const plaintextAllows = new PlaintextAllowSync(programs, podCgroups);
    agentMetrics.countConnectDenialsFrom(() => connectDenies.denials());
    const enrollment = new EnrollmentReconciler(
      programs,
      podCgroups,
      log.child({ subsys: 'enrollment' }),
      () => agentMetrics.bpfAttachErrors.inc(),
    );
    // While a newer agent pod runs beside this one (a surge upgrade), that one owns the kernel
    // side: this agent neither answers readiness nor touches links and maps any more (it would
    // move pods back to its own programs, and after an upgrade that changed the map layout,
    // onto maps nobody updates once it exits). It still proxies what it holds until it stops.
    const replaced = (): boolean => config.pod !== undefined && this.watch !== undefined && newerAgentPod(this.watch.localPods(), config.pod) !== undefined;
    const reconcileEnrollment = (): void => {
      // Only ever after the first publication (the watch starts on a pending pod), never on
      // the empty placeholder, which would look like "no pod is enrolled".
      const snapshot = state.current();
      if (snapshot === EMPTY_SNAPSHOT || replaced()) return;
      const result = enrollment.reconcile(snapshot);
      try {
        connectDenies.sync(snapshot);
      } catch (err) {
        // The destinations still enforce every policy: a failed write loses only the early refusal.
        log.error({ subsys: 'authz', err }, 'writing the connect-time authorization maps failed');
      }
      try {
        plaintextAllows.sync(snapshot);
      } catch (err) {
        // Fails closed: a pod's denies are written before its allows, and a pod without a
        // written index takes no plaintext.
        log.error({ subsys: 'authz', err }, 'writing the plaintext allow-lists failed');
      }
      agentMetrics.enrolledPods.set(result.attached);
      cgroupWatch.update(result.pending);
      if (!staleMapPinsChecked && result.pending === 0 && result.errors === 0) {
        // Every link runs this build's programs now: maps pinned by a build with another
        // layout serve nobody any more.
        staleMapPinsChecked = true;
        const removed = programs.removeStaleMapPins();
        if (removed.length > 0) log.info({ subsys: 'bpf', removed, layout: programs.mapLayout }, 'map pins of an earlier layout removed');
      }
    };
    let staleMapPinsChecked = false;
    const cgroupWatch = new CgroupAppearanceWatch({
      root: config.cgroupRoot,
      onPodCgroupAppeared: reconcileEnrollment,
      log: log.child({ subsys: 'enrollment' }),
    });
    this.cgroupWatch = cgroupWatch;
    // Two consumers, so a failed map write (logged by the updater) never skips enrollment.
    state.onPublish((snapshot) => {
      if (!replaced()) syncMeshMaps(snapshot, programs.mapFds.weft_svc, programs.mapFds.weft_pod_cidr);
    });
    state.onPublish(reconcileEnrollment);
    if (config.ca) {
      this.identities = new WorkloadIdentities({
        trustDomain: config.trustDomain,
        ca: config.ca,
        trustBundle: new TrustBundleWatch(kubeConfig, config.ca.namespace, log.child({ subsys: 'identity' })),
        serviceClusterIp: (namespace, name) => this.watch?.serviceClusterIp(namespace, name),
        metrics: identityMetrics,
        log,
      });
      const identities = this.identities;
      state.onPublish((snapshot) => identities.update(snapshot));
    } else {
      log.warn({ subsys: 'identity' }, 'no --ca-address: no workload certificates, so traffic to mesh pods is refused');
    }
    this.watch.onChange(() => state.invalidate());

    // Admin first, so /healthz answers and /readyz says what is missing while the rest starts.
    this.admin = new AdminServer({
      hosts: [config.nodeIp, '127.0.0.1'],
      port: config.adminPort,
      registry: new NodeMetricsPage(registry, () => this.workers?.metrics() ?? Promise.resolve([])),
      readiness: {
        informersSynced: () => this.watch?.synced() ?? false,
        programsLoaded: () => this.programs !== undefined,
        proxyListening: () => this.workers?.listening ?? false,
        // The kubelet probes every agent pod of a node on the same host-network port: while a
        // newer agent pod exists here (a surge upgrade), this one answers "not ready" for all,
        // so the new pod is judged Ready only by its own agent.
        ...(config.pod ? { notBeingReplaced: () => !replaced() } : {}),
        ...(config.ca
          ? {
              trustBundleLoaded: () => this.identities?.trustBundleLoaded ?? false,
              workloadCertificates: () => this.identities?.allCertificatesIssued() ?? false,
              // Each worker opens its HBONE listener before its proxy listener.
              hboneListening: () => this.workers?.listening ?? false,
            }
          : {}),
      },
      debug: {
        '/debug/snapshot': (_req, res) => {
          const snapshot = state.current();
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
            version: snapshot.version,
            services: [...snapshot.servicesByAddress.keys()],
            pods: snapshot.podsByIp.size,
            podCIDRs: snapshot.podCIDRs,
            enrolledLocalPods: snapshot.enrolledLocalPods,
          }, null, 2));
        },
        '/debug/identities': (_req, res) => {
          void (async () => {
            let stats: Awaited<ReturnType<ProxyWorkerPool['stats']>> | undefined;
            try {
              stats = await this.workers?.stats();
            } catch (err) {
              // A worker failed to answer: say so instead of showing its tunnels as absent.
              log.warn({ subsys: 'worker', err }, 'reading the proxy workers\' tunnel stats failed');
              res.writeHead(503, { 'content-type': 'text/plain' }).end('the proxy workers did not answer; see the agent log\n');
              return;
            }
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
              trustDomain: config.trustDomain,
              ca: config.ca?.address ?? null,
              certificates: this.identities?.certificates() ?? [],
              // Summed over the proxy workers.
              outboundTunnels: stats?.outboundTunnels ?? null,
              inboundSessions: stats?.inboundSessions ?? [],
            }, null, 2));
          })();
        },
      },
      log,
    });
    await this.admin.listen();

    await this.watch.start();
    if (config.pod) {
      this.uninstallDetector = new UninstallDetector(kubeConfig, config.pod, log.child({ subsys: 'lifecycle' }));
      void this.uninstallDetector.start();
    }
    state.rebuild();
    log.info({ subsys: 'k8s' }, 'cluster caches synced');

    if (this.identities) await this.issueCertificates(this.identities, state);

    const identities = this.identities;
    const workers = new ProxyWorkerPool({
      count: config.proxyWorkers,
      settings: {
        nodeName: config.nodeName,
        nodeIp: config.nodeIp,
        outboundPort: config.outboundPort,
        hbonePort: config.hbonePort,
        trustDomain: config.trustDomain,
        peerDstMapFd: programs.mapFds.weft_peer_dst,
        logLevel: config.logLevel,
      },
      currentSnapshot: state.current,
      currentCredentials: () => identities?.credentials.snapshot() ?? null,
      log,
      onWorkerRestart: () => agentMetrics.proxyWorkerRestarts.inc(),
    });
    this.workers = workers;
    state.onPublish((snapshot, changedAtMs) => workers.publish(snapshot, changedAtMs));
    identities?.credentials.onChange(() => workers.credentialsChanged());
    await workers.start();
    await workers.listen();
    log.info({ subsys: 'proxy', workers: workers.size, outboundPort: config.outboundPort, hbonePort: config.hbonePort }, 'proxy workers listening');
    // Listening now: connects held while no agent listened (a predecessor left) may complete.
    programs.holdProxySyns(false);
  }

  /**
   * The mTLS side: certificates for the pods already enrolled are asked for now; the workers
   * listen once the enrolled pods' identities can be spoken for (the ports are shared with the
   * agent this one replaces, or new connects are held until it listens).
   */
  private async issueCertificates(identities: WorkloadIdentities, state: StateUpdater): Promise<void> {
    const { log } = this;
    await identities.start();
    identities.update(state.current());
    if (!(await identities.whenCertificatesIssued(CERTIFICATES_BEFORE_LISTEN_MS))) {
      log.warn({ subsys: 'identity', waitedMs: CERTIFICATES_BEFORE_LISTEN_MS }, 'listening before every enrolled pod has a certificate: their mesh traffic is refused until it arrives');
    }
  }

  /**
   * Stops serving. Pinned programs stay attached (an upgrade or restart keeps redirection),
   * unless the agent's DaemonSet is being deleted: then this is an uninstall, and every program
   * and pin goes, so the node's pods talk directly again.
   *
   * Otherwise the agent hands over to its successor and drains (lifecycle/handover.ts).
   */
  async stop(): Promise<void> {
    const uninstalling = (await this.uninstallDetector?.uninstalling()) ?? false;
    this.cgroupWatch?.stop();
    if (!uninstalling && this.programs !== undefined && this.workers !== undefined) {
      await handOverAndDrain({
        nodeIp: this.config.nodeIp,
        outboundPort: this.config.outboundPort,
        drainTimeoutSeconds: this.config.drainTimeoutSeconds,
        programs: this.programs,
        dataPath: this.workers,
        admin: this.admin,
        log: this.log,
      });
    }
    await this.workers?.close();
    await this.identities?.stop();
    await this.admin?.close();
    await this.uninstallDetector?.stop();
    await this.watch?.stop();
    this.programs?.close();
    if (uninstalling) {
      RedirectPrograms.removeAll(this.config.bpffsDir);
      this.log.info({ subsys: 'lifecycle', pinDir: this.config.bpffsDir }, 'the DaemonSet is being deleted (uninstall): redirection removed from every pod of this node');
    } else {
      this.log.info({ subsys: 'lifecycle' }, 'stopping; redirection stays in place for the next agent');
    }
  }
}
