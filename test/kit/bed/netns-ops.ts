// Network namespace and veth operations, all through `ip -n`/`nsenter` so nothing is ever
// created in (or routed through) the root namespace: veths are created directly inside the
// namespaces they belong to.
import { stat } from 'node:fs/promises';
import { ip, ipIn, inNetns, HostCommandError } from './host-command.js';

export const NETNS_DIR = '/run/netns';

export async function createNetns(name: string): Promise<void> {
  await ip(['netns', 'add', name]);
  await ipIn(name, ['link', 'set', 'lo', 'up']);
}

/** Deletes a namespace; a namespace that is already gone is fine (down must be re-runnable). */
export async function deleteNetns(name: string): Promise<void> {
  try {
    await ip(['netns', 'del', name]);
  } catch (err) {
    if (err instanceof HostCommandError && /No such file or directory/.test(err.stderr)) return;
    throw err;
  }
}

export async function listNetns(): Promise<string[]> {
  const { stdout } = await ip(['netns', 'list']);
  // Lines look like "name (id: 3)" or just "name".
  return stdout.split('\n').map((line) => line.trim().split(/\s+/)[0]).filter((name): name is string => Boolean(name));
}

export async function netnsExists(name: string): Promise<boolean> {
  try {
    await stat(`${NETNS_DIR}/${name}`);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** The namespace's inode, which is how /proc/<pid>/ns/net identifies it ("net:[inode]"). */
export async function netnsInode(name: string): Promise<number> {
  return (await stat(`${NETNS_DIR}/${name}`)).ino;
}

/** Creates a veth pair whose ends live in two namespaces from the start. */
export async function createVethPair(netnsA: string, nameA: string, netnsB: string, nameB: string): Promise<void> {
  await ipIn(netnsA, ['link', 'add', nameA, 'type', 'veth', 'peer', 'name', nameB, 'netns', netnsB]);
}

export async function setLinkUp(netns: string, link: string): Promise<void> {
  await ipIn(netns, ['link', 'set', link, 'up']);
}

export async function addAddress(netns: string, link: string, cidr: string): Promise<void> {
  await ipIn(netns, ['addr', 'add', cidr, 'dev', link]);
}

export async function addRoute(netns: string, routeArgs: string[]): Promise<void> {
  await ipIn(netns, ['route', 'add', ...routeArgs]);
}

/** sysctl inside one namespace (net.* sysctls are per namespace, so the host is untouched). */
export async function setNetnsSysctl(netns: string, key: string, value: string): Promise<void> {
  await inNetns(netns, ['sysctl', '-q', '-w', `${key}=${value}`]);
}
