// A pod's sandbox, as a CNI plugin would build it: its own network namespace whose eth0 is one
// end of a veth pair; the other end stays in the node namespace. The pod gets a /32 address and
// a default route via the node IP (reachable on-link through eth0); the node gets a /32 route to
// the pod over the veth. Deleting the pod namespace removes both veth ends and the node route.
import { deleteNetns } from '../netns-ops.js';
import { ip, ipBatchIn } from '../host-command.js';

export interface PodSandboxSpec {
  podNetns: string;
  nodeNetns: string;
  nodeIp: string;
  hostVeth: string;
  podIp: string;
}

const POD_INTERFACE = 'eth0';

export async function createPodSandbox(spec: PodSandboxSpec): Promise<void> {
  try {
    await ip(['netns', 'add', spec.podNetns]);
    // Three processes instead of nine: pod start-up time matters to every test.
    await ipBatchIn(spec.nodeNetns, [
      ['link', 'add', spec.hostVeth, 'type', 'veth', 'peer', 'name', POD_INTERFACE, 'netns', spec.podNetns],
      ['link', 'set', spec.hostVeth, 'up'],
      ['route', 'add', `${spec.podIp}/32`, 'dev', spec.hostVeth, 'scope', 'link'],
    ]);
    await ipBatchIn(spec.podNetns, [
      ['link', 'set', 'lo', 'up'],
      ['addr', 'add', `${spec.podIp}/32`, 'dev', POD_INTERFACE],
      ['link', 'set', POD_INTERFACE, 'up'],
      ['route', 'add', spec.nodeIp, 'dev', POD_INTERFACE, 'scope', 'link'],
      ['route', 'add', 'default', 'via', spec.nodeIp, 'dev', POD_INTERFACE],
    ]);
  } catch (err) {
    // Leave nothing half-built behind; the original error is what the caller needs to see.
    await deleteNetns(spec.podNetns);
    throw err;
  }
}

export async function deletePodSandbox(podNetns: string): Promise<void> {
  await deleteNetns(podNetns);
}
