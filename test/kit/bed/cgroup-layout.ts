// How a real kubelet names pod and container cgroups, for both cgroup drivers. Pure functions:
// the kubelet creates these paths, `status` reports them and the agent (later) must find them.
//   systemd:  kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid with _>.slice/cri-containerd-<id>.scope
//   cgroupfs: kubepods/<qos>/pod<uid>/<id>
// Guaranteed pods sit directly under kubepods(.slice).
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { CgroupDriver } from './node-plan.js';

export type QosClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

interface ContainerResources {
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
}

/** The QoS class by the Kubernetes rules (cpu and memory only, which is what decides it). */
export function qosClassOf(containers: ContainerResources[]): QosClass {
  let anySet = false;
  let allGuaranteed = containers.length > 0;
  for (const container of containers) {
    const requests = container.resources?.requests ?? {};
    const limits = container.resources?.limits ?? {};
    for (const resource of ['cpu', 'memory']) {
      const request = requests[resource] ?? limits[resource]; // a limit alone defaults the request
      const limit = limits[resource];
      if (request !== undefined || limit !== undefined) anySet = true;
      if (limit === undefined || String(request) !== String(limit)) allGuaranteed = false;
    }
  }
  if (!anySet) return 'BestEffort';
  return allGuaranteed ? 'Guaranteed' : 'Burstable';
}

/** The node-level QoS parent directories a real node has before any pod runs. */
export function qosParentDirs(nodeCgroupRoot: string, driver: CgroupDriver): string[] {
  if (driver === 'systemd') {
    const top = join(nodeCgroupRoot, 'kubepods.slice');
    return [top, join(top, 'kubepods-burstable.slice'), join(top, 'kubepods-besteffort.slice')];
  }
  const top = join(nodeCgroupRoot, 'kubepods');
  return [top, join(top, 'burstable'), join(top, 'besteffort')];
}

export function podCgroupDir(nodeCgroupRoot: string, driver: CgroupDriver, podUid: string, qos: QosClass): string {
  const lowerQos = qos.toLowerCase();
  if (driver === 'systemd') {
    const uid = podUid.replace(/-/g, '_');
    const top = join(nodeCgroupRoot, 'kubepods.slice');
    return qos === 'Guaranteed'
      ? join(top, `kubepods-pod${uid}.slice`)
      : join(top, `kubepods-${lowerQos}.slice`, `kubepods-${lowerQos}-pod${uid}.slice`);
  }
  const top = join(nodeCgroupRoot, 'kubepods');
  return qos === 'Guaranteed' ? join(top, `pod${podUid}`) : join(top, lowerQos, `pod${podUid}`);
}

/** A containerd-style 64-hex container id, stable for one pod UID, container name and restart. */
export function containerId(podUid: string, containerName: string, restartCount: number): string {
  return createHash('sha256').update(`${podUid}/${containerName}/${restartCount}`).digest('hex');
}

export function containerCgroupDir(podDir: string, driver: CgroupDriver, id: string): string {
  return join(podDir, driver === 'systemd' ? `cri-containerd-${id}.scope` : id);
}
