// Builds a Pod's status the way kubelet reports it, from what the bed knows about the pod's
// containers. Pure: the pod worker owns the state, the status writer sends the result.
import type { V1ContainerStatus, V1PodCondition, V1PodStatus } from '@kubernetes/client-node';
import type { QosClass } from '../cgroup-layout.js';

export interface ContainerState {
  name: string;
  image: string;
  containerId: string;
  restartCount: number;
  running: boolean;
  ready: boolean;
  startedAt: Date | null;
  exitCode: number | null;       // of the last run, once it ended
  signal: string | null;
  finishedAt: Date | null;
  lastTermination: { exitCode: number; startedAt: Date; finishedAt: Date; containerId: string } | null;
  failureMessage: string | null; // the container could not be started at all
}

export interface PodState {
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  hostIp: string;
  podIp: string;
  startTime: Date;
  qosClass: QosClass;
  containers: ContainerState[];
  conditionTimes: Map<string, { status: string; since: Date }>;
  message: string | null;
}

function terminatedReason(container: ContainerState): string {
  if (container.failureMessage) return 'StartError';
  return container.exitCode === 0 ? 'Completed' : 'Error';
}

function containerStatus(container: ContainerState): V1ContainerStatus {
  const status: V1ContainerStatus = {
    name: container.name,
    image: container.image,
    imageID: '',
    containerID: `containerd://${container.containerId}`,
    ready: container.ready,
    started: container.running,
    restartCount: container.restartCount,
    state: {},
  };
  if (container.running) {
    status.state = { running: { startedAt: container.startedAt ?? undefined } };
  } else if (container.finishedAt) {
    status.state = {
      terminated: {
        exitCode: container.exitCode ?? 128,
        signal: undefined,
        reason: terminatedReason(container),
        message: container.failureMessage ?? undefined,
        startedAt: container.startedAt ?? undefined,
        finishedAt: container.finishedAt,
        containerID: `containerd://${container.containerId}`,
      },
    };
  } else {
    status.state = { waiting: { reason: 'ContainerCreating' } };
  }
  if (container.lastTermination) {
    const last = container.lastTermination;
    status.lastState = {
      terminated: {
        exitCode: last.exitCode,
        reason: last.exitCode === 0 ? 'Completed' : 'Error',
        startedAt: last.startedAt,
        finishedAt: last.finishedAt,
        containerID: `containerd://${last.containerId}`,
      },
    };
  }
  return status;
}

/** Keeps lastTransitionTime stable while a condition's status does not change. */
function condition(state: PodState, type: string, isTrue: boolean, reason?: string): V1PodCondition {
  const status = isTrue ? 'True' : 'False';
  const previous = state.conditionTimes.get(type);
  if (!previous || previous.status !== status) state.conditionTimes.set(type, { status, since: new Date() });
  const since = state.conditionTimes.get(type)!.since;
  return { type, status, lastProbeTime: undefined, lastTransitionTime: since, reason: isTrue ? undefined : reason };
}

export function buildPodStatus(state: PodState): V1PodStatus {
  const allReady = state.phase === 'Running' && state.containers.every((c) => c.ready);
  const notReadyReason = state.phase === 'Running' ? 'ContainersNotReady' : 'PodCompleted';
  return {
    phase: state.phase,
    message: state.message ?? undefined,
    hostIP: state.hostIp,
    hostIPs: [{ ip: state.hostIp }],
    podIP: state.podIp,
    podIPs: [{ ip: state.podIp }],
    startTime: state.startTime,
    qosClass: state.qosClass,
    conditions: [
      condition(state, 'Initialized', true),
      condition(state, 'Ready', allReady, notReadyReason),
      condition(state, 'ContainersReady', allReady, notReadyReason),
      condition(state, 'PodScheduled', true),
    ],
    containerStatuses: state.containers.map(containerStatus),
  };
}
