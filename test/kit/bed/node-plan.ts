// The fixed shape of a bed's nodes: addresses, pod CIDRs, zones and cgroup drivers. Pure, so the
// daemon, `status` and the tests agree on it without asking each other.
import { bedPrefix, nodeNetnsName, nodeCgroupRoot, nodeBpffsDir } from './bed-naming.js';

export type CgroupDriver = 'systemd' | 'cgroupfs';

export interface NodePlan {
  name: string;          // node-<index>
  index: number;         // 1-based
  netns: string;         // name under /run/netns
  ip: string;            // InternalIP, on the bed's private node network
  podCIDR: string;       // 10.244.<index>.0/24
  zone: 'zone-a' | 'zone-b';
  cgroupDriver: CgroupDriver;
  cgroupRoot: string;    // the node's own cgroup v2 subtree (its "/sys/fs/cgroup")
  bpffsDir: string;      // the node's own bpffs directory
  bridgePort: string;    // the node's veth end inside the bridge namespace
}

export const NODE_NETWORK_PREFIX = '10.240.0';
export const NODE_NETWORK_PREFIX_LENGTH = 24;
export const MAX_NODES = 200;

export function planNodes(stateDir: string, count: number): NodePlan[] {
  if (!Number.isInteger(count) || count < 1 || count > MAX_NODES) {
    throw new RangeError(`node count must be an integer from 1 to ${MAX_NODES}, got ${count}`);
  }
  const prefix = bedPrefix(stateDir);
  const nodes: NodePlan[] = [];
  for (let index = 1; index <= count; index++) {
    const name = `node-${index}`;
    nodes.push({
      name,
      index,
      netns: nodeNetnsName(prefix, name),
      ip: `${NODE_NETWORK_PREFIX}.${10 + index}`,
      podCIDR: `10.244.${index}.0/24`,
      zone: index % 2 === 1 ? 'zone-a' : 'zone-b',
      // Alternate drivers so the agent must handle both layouts real clusters use.
      cgroupDriver: index % 2 === 1 ? 'systemd' : 'cgroupfs',
      cgroupRoot: nodeCgroupRoot(prefix, name),
      bpffsDir: nodeBpffsDir(prefix, name),
      bridgePort: `vn${index}`,
    });
  }
  return nodes;
}
