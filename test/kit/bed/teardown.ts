// Removes everything one bed created: its daemon and helper processes, pod processes, network
// namespaces (with their veths), cgroup tree, bpffs directory and runtime files. Works from
// bed.json when present and otherwise from the bed prefix alone, so it is safe after a crash and
// safe to run twice. Only names carrying this bed's prefix are touched.
import { rm } from 'node:fs/promises';
import { bedPaths } from './bed-paths.js';
import { bedBpffsRoot, bedCgroupRoot, bedPrefix } from './bed-naming.js';
import { readBedRecord } from './bed-state.js';
import { deleteNetns, listNetns, netnsInode } from './netns-ops.js';
import { killCgroupTree, removeCgroupTree, waitCgroupEmpty } from './cgroup-ops.js';
import { removeBpffsDir } from './bpffs.js';
import { isOurProcess, pidsInNetns, signalIfAlive, stopProcess } from './bed-processes.js';

const DAEMON_STOP_GRACE_MS = 15_000;

export interface TeardownReport {
  daemonStopped: boolean;
  netnsRemoved: string[];
  strayProcessesKilled: number;
}

export async function teardownBed(stateDir: string): Promise<TeardownReport> {
  const paths = bedPaths(stateDir);
  const prefix = bedPrefix(stateDir);
  const record = await readBedRecord(paths.bedJson);
  const report: TeardownReport = { daemonStopped: false, netnsRemoved: [], strayProcessesKilled: 0 };

  // 1. Let the daemon stop its children in order (API server, helpers, watches).
  if (record && (await isOurProcess(record.daemonPid, ['daemon-main.js', stateDir]))) {
    await stopProcess(record.daemonPid, DAEMON_STOP_GRACE_MS);
    report.daemonStopped = true;
  }
  if (record?.apiserverPid && (await isOurProcess(record.apiserverPid, ['apiserver', stateDir]))) {
    await stopProcess(record.apiserverPid, 5000);
  }

  // 2. Everything the bed started lives under its cgroup root: kill it all at once.
  const cgroupRoot = bedCgroupRoot(prefix);
  await killCgroupTree(cgroupRoot);
  await waitCgroupEmpty(cgroupRoot, 10_000);

  // 3. Processes that entered a bed namespace without joining a bed cgroup (exec --node).
  const ours = (await listNetns()).filter((name) => name.startsWith(`${prefix}-`));
  const inodes = new Set<number>();
  for (const name of ours) inodes.add(await netnsInode(name));
  for (const pid of await pidsInNetns(inodes)) {
    signalIfAlive(pid, 'SIGKILL');
    report.strayProcessesKilled++;
  }

  // 4. Namespaces (deleting a namespace deletes its veth ends and routes), cgroups, pins.
  for (const name of ours) {
    await deleteNetns(name);
    report.netnsRemoved.push(name);
  }
  await removeCgroupTree(cgroupRoot);
  await removeBpffsDir(bedBpffsRoot(prefix));

  // 5. Runtime files; logs stay for post-mortems.
  for (const path of [paths.bedJson, paths.podsDir, paths.runDir, paths.kubeconfig, paths.apiserverDir]) {
    await rm(path, { recursive: true, force: true });
  }
  return report;
}
