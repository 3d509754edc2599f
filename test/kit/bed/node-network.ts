// The bed's node network: one bridge namespace holding a Linux bridge, and per node a network
// namespace whose eth0 is a veth plugged into that bridge. Nodes route each other's pod CIDRs via
// the node IPs. There is no default route and no link to the root namespace, so nothing in the
// bed can reach the host's network or beyond.
import { bridgeNetnsName } from './bed-naming.js';
import { addAddress, addRoute, createNetns, createVethPair, setLinkUp, setNetnsSysctl } from './netns-ops.js';
import { ipIn } from './host-command.js';
import { NODE_NETWORK_PREFIX_LENGTH, type NodePlan } from './node-plan.js';

const BRIDGE_NAME = 'br0';
export const NODE_UPLINK = 'eth0';

export async function createBridgeNamespace(prefix: string): Promise<string> {
  const netns = bridgeNetnsName(prefix);
  await createNetns(netns);
  await ipIn(netns, ['link', 'add', BRIDGE_NAME, 'type', 'bridge']);
  await setLinkUp(netns, BRIDGE_NAME);
  await setNetnsSysctl(netns, 'net.ipv4.ip_forward', '1');
  return netns;
}

/** Creates one node's namespace, plugs it into the bridge and gives it its address. */
export async function createNodeNamespace(prefix: string, node: NodePlan): Promise<void> {
  const bridgeNetns = bridgeNetnsName(prefix);
  await createNetns(node.netns);
  await createVethPair(node.netns, NODE_UPLINK, bridgeNetns, node.bridgePort);
  await ipIn(bridgeNetns, ['link', 'set', node.bridgePort, 'master', BRIDGE_NAME]);
  await setLinkUp(bridgeNetns, node.bridgePort);
  await addAddress(node.netns, NODE_UPLINK, `${node.ip}/${NODE_NETWORK_PREFIX_LENGTH}`);
  await setLinkUp(node.netns, NODE_UPLINK);
  // Nodes forward between their pods and the node network (per-namespace sysctl).
  await setNetnsSysctl(node.netns, 'net.ipv4.ip_forward', '1');
}

/** Routes every other node's pod CIDR through that node's IP. */
export async function addPodCidrRoutes(nodes: NodePlan[]): Promise<void> {
  for (const node of nodes) {
    for (const peer of nodes) {
      if (peer.name === node.name) continue;
      await addRoute(node.netns, [peer.podCIDR, 'via', peer.ip, 'dev', NODE_UPLINK]);
    }
  }
}
