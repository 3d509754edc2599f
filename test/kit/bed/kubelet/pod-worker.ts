// Everything kubelet does for one pod on one node: build the sandbox (netns + cgroups; a
// hostNetwork pod runs in the node's namespace with the node IP), prepare its volumes, run the
// containers (each in its own mount namespace with the volumes bound), restart them per
// restartPolicy, probe readiness and liveness, report status, and on deletion stop the processes
// (SIGTERM, then SIGKILL after the grace period), remove the sandbox and volumes and finalize the
// Pod object with gracePeriodSeconds=0.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { constants } from 'node:os';
import type { CoreV1Api, V1Container, V1Pod } from '@kubernetes/client-node';
import { containerCgroupDir, containerId, podCgroupDir, qosClassOf } from '../cgroup-layout.js';
import { ensureCgroup, killCgroupTree, removeCgroupTree, signalCgroupTree, waitCgroupEmpty } from '../cgroup-ops.js';
import { podHostVethName, podNetnsName } from '../bed-naming.js';
import { removePodRecord, writePodRecord, type PodRecord } from '../bed-state.js';
import type { NodePlan } from '../node-plan.js';
import type { NodeHelper } from '../node-helper-client.js';
import { isNotFound } from '../kube-client.js';
import { createPodSandbox, deletePodSandbox } from './pod-sandbox.js';
import { containerCapabilities, withCapabilities } from './container-capabilities.js';
import { startContainerProcess } from './container-process.js';
import { containerEnv, type ApiEndpoint } from './container-env.js';
import { PodVolumes } from './pod-volumes.js';
import { LivenessProber, livenessCheck, type LivenessCheck } from './liveness-prober.js';
import type { ContainerMount } from './container-mounts.js';
import { passesReadiness, readinessChecks, type ReadinessCheck } from './readiness-prober.js';
import { buildPodStatus, type ContainerState, type PodState } from './pod-status.js';
import { PodStatusWriter } from './pod-status-writer.js';
import type { PodIpAllocator } from './pod-ip-allocator.js';

/** Grace periods are honoured up to this bound so `delete` and `down` stay quick. */
export const MAX_GRACE_PERIOD_SECONDS = 10;
const PROBE_INTERVAL_NOT_READY_MS = 300;
const PROBE_INTERVAL_READY_MS = 5000;
const MAX_RESTART_BACKOFF_MS = 10_000;

export interface PodWorkerContext {
  core: CoreV1Api;
  prefix: string;
  node: NodePlan;
  helper: NodeHelper;
  ipAllocator: PodIpAllocator;
  podsDir: string;
  podLogsDir: string;
  /** Where pods' volume contents go (<dir>/<uid>/) and node host paths (<dir>/hostpath/<node>/). */
  volumesDir: string;
  /** The API server's CA certificate for the in-cluster API access volume; null: none. */
  /** Port of the node's API relay (127.0.0.1 in the node namespace, and the node IP); null: none. */
  apiRelayPort: number | null;
  /** Told the pid of each container's main process when it starts, and null when it ends. */
  onContainerProcess?: (pod: V1Pod, container: string, pid: number | null) => void;
  log: (msg: string, fields?: object) => void;
}

interface RunningContainer {
  spec: V1Container;
  state: ContainerState;
  checks: ReadinessCheck[];
  cgroupDir: string;
  process: ChildProcess | null;
  mounts: ContainerMount[];
  liveness: LivenessCheck | null;
  livenessProber: LivenessProber | null;
}

export class PodWorker {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  private readonly podNetns: string;
  private readonly hostVeth: string;
  private readonly podCgroup: string;
  private readonly logFile: string;
  private readonly hostNetwork: boolean;
  private readonly volumes: PodVolumes;
  private podIp = '';
  private state: PodState | null = null;
  private containers: RunningContainer[] = [];
  private statusWriter: PodStatusWriter;
  private probeTimer: NodeJS.Timeout | null = null;
  private started: Promise<void> | null = null;
  private termination: Promise<void> | null = null;
  private terminating = false;

  constructor(private readonly pod: V1Pod, private readonly ctx: PodWorkerContext) {
    this.uid = pod.metadata!.uid!;
    this.namespace = pod.metadata!.namespace ?? 'default';
    this.name = pod.metadata!.name!;
    this.hostNetwork = pod.spec?.hostNetwork === true;
    // A hostNetwork pod shares the node's namespace: no sandbox, no veth, the node IP.
    this.podNetns = this.hostNetwork ? ctx.node.netns : podNetnsName(ctx.prefix, this.uid);
    this.hostVeth = this.hostNetwork ? '' : podHostVethName(this.uid);
    this.volumes = new PodVolumes(pod, {
      core: ctx.core,
      node: ctx.node,
      podDir: join(ctx.volumesDir, this.uid),
      nodeHostPathDir: join(ctx.volumesDir, 'hostpath', ctx.node.name),
      log: ctx.log,
    });
    const qos = qosClassOf(pod.spec?.containers ?? []);
    this.podCgroup = podCgroupDir(ctx.node.cgroupRoot, ctx.node.cgroupDriver, this.uid, qos);
    this.logFile = join(ctx.podLogsDir, `${this.namespace}_${this.name}.log`);
    this.statusWriter = new PodStatusWriter(ctx.core, this.namespace, this.name, this.uid, () => buildPodStatus(this.state!), ctx.log);
  }

  private get podKey(): string {
    return `${this.namespace}/${this.name}`;
  }

  start(): Promise<void> {
    this.started ??= this.startOnce();
    return this.started;
  }

  private async startOnce(): Promise<void> {
    const spec = this.pod.spec!;
    this.podIp = this.hostNetwork ? this.ctx.node.ip : this.ctx.ipAllocator.allocate(this.uid);
    this.state = {
      phase: 'Pending',
      hostIp: this.ctx.node.ip,
      podIp: this.podIp,
      startTime: new Date(),
      qosClass: qosClassOf(spec.containers ?? []),
      containers: [],
      conditionTimes: new Map(),
      message: null,
    };
    if (!this.hostNetwork) {
      await createPodSandbox({ podNetns: this.podNetns, nodeNetns: this.ctx.node.netns, nodeIp: this.ctx.node.ip, hostVeth: this.hostVeth, podIp: this.podIp });
    }
    await ensureCgroup(this.podCgroup);
    await this.volumes.prepare();
    for (const containerSpec of spec.containers ?? []) {
      const id = containerId(this.uid, containerSpec.name, 0);
      const container: RunningContainer = {
        spec: containerSpec,
        checks: readinessChecks(containerSpec),
        cgroupDir: containerCgroupDir(this.podCgroup, this.ctx.node.cgroupDriver, id),
        process: null,
        mounts: await this.volumes.mountsFor(containerSpec),
        liveness: livenessCheck(containerSpec),
        livenessProber: null,
        state: {
          name: containerSpec.name,
          image: containerSpec.image ?? 'weft-bed/host',
          containerId: id,
          restartCount: 0,
          running: false,
          ready: false,
          startedAt: null,
          exitCode: null,
          signal: null,
          finishedAt: null,
          lastTermination: null,
          failureMessage: null,
        },
      };
      await ensureCgroup(container.cgroupDir);
      this.containers.push(container);
      this.state.containers.push(container.state);
    }
    await writePodRecord(this.ctx.podsDir, this.record());
    this.state.phase = 'Running';
    for (const container of this.containers) this.runContainer(container);
    this.updatePhase();
    await this.statusWriter.request();
    this.scheduleProbe(0);
  }

  /** Puts the reason a pod could not start into its status (it stays Pending). */
  async reportStartFailure(err: unknown): Promise<void> {
    if (!this.state) return;
    this.state.phase = 'Pending';
    this.state.message = `the test bed could not start this pod: ${err instanceof Error ? err.message : String(err)}`;
    await this.statusWriter.request();
  }

  private record(): PodRecord {
    return {
      namespace: this.namespace,
      name: this.name,
      uid: this.uid,
      node: this.ctx.node.name,
      netns: this.podNetns,
      hostVeth: this.hostVeth,
      ip: this.podIp,
      cgroup: this.podCgroup,
      containerCgroups: Object.fromEntries(this.containers.map((c) => [c.spec.name, c.cgroupDir])),
      logFile: this.logFile,
    };
  }

  private runContainer(container: RunningContainer): void {
    const given = [...(container.spec.command ?? []), ...(container.spec.args ?? [])];
    const command = given.length === 0 ? given : withCapabilities(given, containerCapabilities(container.spec.securityContext));
    const state = container.state;
    let child: ChildProcess;
    try {
      child = startContainerProcess({
        command,
        cgroupDir: container.cgroupDir,
        nodeCgroupRoot: this.ctx.node.cgroupRoot,
        netns: this.podNetns,
        logFile: this.logFile,
        env: containerEnv(this.pod, container.spec, this.podIp, this.ctx.node.ip, this.apiEndpoint()),
        workingDir: container.spec.workingDir ?? '/',
        mounts: container.mounts,
        mountStageDir: this.volumes.stageDir,
      });
    } catch (err) {
      this.containerEnded(container, 128, null, err instanceof Error ? err.message : String(err));
      return;
    }
    container.process = child;
    state.running = true;
    state.ready = false;
    state.startedAt = new Date();
    state.finishedAt = null;
    state.exitCode = null;
    state.failureMessage = null;
    this.ctx.log('container started', { pod: this.podKey, container: container.spec.name, pid: child.pid });
    this.ctx.onContainerProcess?.(this.pod, container.spec.name, child.pid ?? null);
    if (container.liveness) {
      const cgroupDir = container.cgroupDir;
      container.livenessProber = new LivenessProber(container.liveness, this.ctx.helper, this.podIp, (detail) => {
        // As kubelet: a container that fails its liveness probe is killed, then restarted per restartPolicy.
        this.ctx.log('liveness probe failed; killing the container', { pod: this.podKey, container: container.spec.name, detail });
        killCgroupTree(cgroupDir).catch((err: unknown) => this.ctx.log('killing a dead container failed', { pod: this.podKey, err: String(err) }));
      });
      container.livenessProber.start();
    }
    let ended = false;
    child.once('error', (err) => {
      if (ended) return;
      ended = true;
      this.containerEnded(container, 128, null, err.message);
    });
    child.once('exit', (code, signal) => {
      if (ended) return;
      ended = true;
      this.containerEnded(container, code, signal, null);
    });
  }

  private containerEnded(container: RunningContainer, code: number | null, signal: NodeJS.Signals | null, failure: string | null): void {
    const state = container.state;
    if (container.process) this.ctx.onContainerProcess?.(this.pod, container.spec.name, null);
    container.livenessProber?.stop();
    container.livenessProber = null;
    container.process = null;
    state.running = false;
    state.ready = false;
    state.exitCode = code ?? 128 + (signal ? signalNumber(signal) : 0);
    state.signal = signal;
    state.finishedAt = new Date();
    state.failureMessage = failure;
    this.ctx.log('container exited', { pod: this.podKey, container: container.spec.name, exitCode: state.exitCode, signal, failure });
    if (this.terminating) return;
    // When a container's main process ends, a runtime kills what it left behind (its PID
    // namespace dies); do the same so background children and exec sessions do not linger.
    killCgroupTree(container.cgroupDir).catch((err: unknown) => this.ctx.log('killing leftover container processes failed', { pod: this.podKey, err: String(err) }));
    const policy = this.pod.spec?.restartPolicy ?? 'Always';
    if (policy === 'Always' || (policy === 'OnFailure' && state.exitCode !== 0)) {
      this.scheduleRestart(container);
    }
    this.updatePhase();
    void this.statusWriter.request();
  }

  /** Where this pod reaches the API server: the relay on 127.0.0.1 in the node namespace, else on the node IP. */
  private apiEndpoint(): ApiEndpoint | null {
    if (this.ctx.apiRelayPort === null) return null;
    return { host: this.hostNetwork ? '127.0.0.1' : this.ctx.node.ip, port: this.ctx.apiRelayPort };
  }

  private scheduleRestart(container: RunningContainer): void {
    const state = container.state;
    const delayMs = Math.min(MAX_RESTART_BACKOFF_MS, 1000 * 2 ** state.restartCount);
    setTimeout(() => {
      if (this.terminating) return;
      this.restartContainer(container).catch((err: unknown) => {
        this.ctx.log('container restart failed', { pod: this.podKey, container: container.spec.name, err: String(err) });
      });
    }, delayMs).unref();
  }

  private async restartContainer(container: RunningContainer): Promise<void> {
    const state = container.state;
    state.lastTermination = { exitCode: state.exitCode ?? 0, startedAt: state.startedAt ?? new Date(), finishedAt: state.finishedAt ?? new Date(), containerId: state.containerId };
    state.restartCount += 1;
    // A restarted container is a new container: new id, new cgroup, as with a real runtime.
    await removeCgroupTree(container.cgroupDir);
    state.containerId = containerId(this.uid, container.spec.name, state.restartCount);
    container.cgroupDir = containerCgroupDir(this.podCgroup, this.ctx.node.cgroupDriver, state.containerId);
    await ensureCgroup(container.cgroupDir);
    await writePodRecord(this.ctx.podsDir, this.record());
    this.runContainer(container);
    this.updatePhase();
    await this.statusWriter.request();
    this.scheduleProbe(0);
  }

  /** Kubelet's phase rules: Running while any container runs or will be restarted. */
  private updatePhase(): void {
    const state = this.state!;
    const policy = this.pod.spec?.restartPolicy ?? 'Always';
    const anyRunning = state.containers.some((c) => c.running);
    if (anyRunning || policy === 'Always') {
      state.phase = 'Running';
      return;
    }
    const allSucceeded = state.containers.every((c) => c.exitCode === 0);
    if (policy === 'OnFailure' && !allSucceeded) {
      state.phase = 'Running';
      return;
    }
    state.phase = allSucceeded ? 'Succeeded' : 'Failed';
  }

  private scheduleProbe(delayMs: number): void {
    if (this.terminating) return;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      this.probeOnce().catch((err: unknown) => this.ctx.log('readiness probe failed to run', { pod: this.podKey, err: String(err) }));
    }, delayMs);
  }

  private async probeOnce(): Promise<void> {
    let changed = false;
    for (const container of this.containers) {
      const ready = container.state.running && (await passesReadiness(this.ctx.helper, this.podIp, container.checks));
      if (this.terminating) return;
      if (ready !== container.state.ready) {
        container.state.ready = ready;
        changed = true;
      }
    }
    if (changed) await this.statusWriter.request();
    const allReady = this.containers.every((c) => c.state.ready);
    const anyRunning = this.containers.some((c) => c.state.running);
    if (anyRunning) this.scheduleProbe(allReady ? PROBE_INTERVAL_READY_MS : PROBE_INTERVAL_NOT_READY_MS);
  }

  /**
   * Stops the pod and removes its sandbox. `finalizeObject` deletes the Pod object with
   * gracePeriodSeconds=0 afterwards (false when the object is already gone).
   */
  terminate(gracePeriodSeconds: number, finalizeObject: boolean): Promise<void> {
    this.termination ??= this.terminateOnce(gracePeriodSeconds, finalizeObject);
    return this.termination;
  }

  private async terminateOnce(gracePeriodSeconds: number, finalizeObject: boolean): Promise<void> {
    this.terminating = true;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    for (const container of this.containers) container.livenessProber?.stop();
    if (this.started) {
      try {
        await this.started;
      } catch (err) {
        // The start already failed and was logged; termination still cleans whatever exists.
        this.ctx.log('terminating a pod whose start failed', { pod: this.podKey, err: String(err) });
      }
    }
    const graceMs = Math.min(Math.max(gracePeriodSeconds, 0), MAX_GRACE_PERIOD_SECONDS) * 1000;
    await signalCgroupTree(this.podCgroup, 'SIGTERM');
    if (!(await waitCgroupEmpty(this.podCgroup, graceMs))) {
      await killCgroupTree(this.podCgroup);
      await waitCgroupEmpty(this.podCgroup, 5000);
    }
    await removeCgroupTree(this.podCgroup);
    this.volumes.stop();
    if (!this.hostNetwork) {
      await deletePodSandbox(this.podNetns);
      this.ctx.ipAllocator.release(this.uid);
    }
    await this.volumes.remove();
    await removePodRecord(this.ctx.podsDir, this.uid);
    this.ctx.log('pod stopped and sandbox removed', { pod: this.podKey });
    if (finalizeObject) {
      try {
        await this.ctx.core.deleteNamespacedPod({
          name: this.name,
          namespace: this.namespace,
          gracePeriodSeconds: 0,
          body: { gracePeriodSeconds: 0 },
        });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  return constants.signals[signal] ?? 0;
}
