// Per-node bpffs directories. bpffs is mounted at /sys/fs/bpf once per machine; each node gets
// <bpffs>/<bed prefix>/<node>/ so two nodes (or two beds) never share a pin path.
import { mkdir, readFile, rm } from 'node:fs/promises';
import { runHostCommand } from './host-command.js';
import { BPFFS_ROOT } from './bed-naming.js';

async function bpffsMounted(): Promise<boolean> {
  const mounts = await readFile('/proc/self/mounts', 'utf8');
  return mounts.split('\n').some((line) => {
    const [, mountPoint, type] = line.split(' ');
    return mountPoint === BPFFS_ROOT && type === 'bpf';
  });
}

export async function ensureBpffsMounted(): Promise<void> {
  if (await bpffsMounted()) return;
  await mkdir(BPFFS_ROOT, { recursive: true });
  await runHostCommand('mount', ['-t', 'bpf', 'bpf', BPFFS_ROOT]);
}

export async function createBpffsDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}

/** Removes a bed's bpffs directory with every pin in it (unlinking a pin releases it). */
export async function removeBpffsDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
