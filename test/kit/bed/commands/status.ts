// `status`: the running bed as JSON:
// {"ca":{pid,address,node}|null,"nodes":[{name,netns,ip,podCIDR,zone,agentPid}],"pods":[{namespace,name,node,ip,cgroup,pids}]}
import { type ParsedCommandLine, positionals } from '../cli-args.js';
import { readPodRecords } from '../bed-state.js';
import { cgroupTreePids } from '../cgroup-ops.js';
import { requireRunningBed, type BedContext } from './bed-context.js';

export interface BedStatus {
  ca: { pid: number | null; address: string; node: string } | null;   // null with `up --no-ca`
  nodes: { name: string; netns: string; ip: string; podCIDR: string; zone: string; agentPid: number | null }[];
  pods: { namespace: string; name: string; node: string; ip: string; cgroup: string; pids: number[] }[];
}

export async function collectStatus(ctx: BedContext): Promise<BedStatus> {
  const record = await requireRunningBed(ctx);
  const pods: BedStatus['pods'] = [];
  for (const pod of await readPodRecords(ctx.paths.podsDir)) {
    pods.push({ namespace: pod.namespace, name: pod.name, node: pod.node, ip: pod.ip, cgroup: pod.cgroup, pids: await cgroupTreePids(pod.cgroup) });
  }
  return {
    ca: record.ca ? { pid: record.ca.pid, address: record.ca.address, node: record.ca.node } : null,
    nodes: record.nodes.map((n) => ({ name: n.name, netns: n.netns, ip: n.ip, podCIDR: n.podCIDR, zone: n.zone, agentPid: n.agentPid })),
    pods,
  };
}

export async function statusCommand(ctx: BedContext, parsed: ParsedCommandLine): Promise<number> {
  positionals(parsed, []);
  process.stdout.write(`${JSON.stringify(await collectStatus(ctx))}\n`);
  return 0;
}
