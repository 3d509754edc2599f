// The bed's on-disk records: bed.json (written by the daemon) and one record per running pod
// (written by the kubelet). CLI commands read them; writes are atomic (write + rename) so a
// reader never sees half a file.
import { readFile, writeFile, rename, readdir, rm, mkdir } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import type { NodePlan } from './node-plan.js';

export interface NodeRecord extends NodePlan {
  helperPid: number | null;   // the node helper (API relay + prober) inside the node netns
  agentPid: number | null;    // the node's agent; null while no agent runs
}

export interface CaRecord {
  pid: number | null;
  address: string;            // host:port, reachable from every node
  node: string;
}

export interface BedRecord {
  version: 1;
  phase: 'starting' | 'ready' | 'stopping';
  stateDir: string;
  prefix: string;
  daemonPid: number;
  apiserverPid: number | null;          // null when --kubeconfig named an external server
  externalKubeconfig: string | null;
  apiServerUrl: string;
  kubeconfig: string;
  controllers: boolean;
  agent: boolean;
  /** The bed's `weft ca`, or null with `up --no-ca`; pid is null while it restarts. */
  ca: CaRecord | null;
  certTtl: string;                      // `up --cert-ttl`, as given
  nodes: NodeRecord[];
  startedAt: string;
}

export interface PodRecord {
  namespace: string;
  name: string;
  uid: string;
  node: string;
  netns: string;
  hostVeth: string;
  ip: string;
  cgroup: string;             // the pod's cgroup directory (absolute)
  containerCgroups: Record<string, string>; // container name -> its cgroup directory
  logFile: string;
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(value, null, 2)}\n`);
  await rename(temporary, path);
}

function isMissingFile(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

export async function readJsonIfExists<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (err) {
    if (isMissingFile(err)) return null;
    throw err;
  }
}

export async function readBedRecord(bedJson: string): Promise<BedRecord | null> {
  return readJsonIfExists<BedRecord>(bedJson);
}

export function podRecordPath(podsDir: string, uid: string): string {
  return join(podsDir, `${uid}.json`);
}

export async function writePodRecord(podsDir: string, record: PodRecord): Promise<void> {
  await writeJsonAtomic(podRecordPath(podsDir, record.uid), record);
}

export async function removePodRecord(podsDir: string, uid: string): Promise<void> {
  await rm(podRecordPath(podsDir, uid), { force: true });
}

export async function readPodRecords(podsDir: string): Promise<PodRecord[]> {
  let names: string[];
  try {
    names = await readdir(podsDir);
  } catch (err) {
    if (isMissingFile(err)) return [];
    throw err;
  }
  const records: PodRecord[] = [];
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    const record = await readJsonIfExists<PodRecord>(join(podsDir, name));
    if (record) records.push(record);
  }
  return records.sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}
