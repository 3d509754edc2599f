// Operations on cgroup v2 directories: create, list member pids, kill, remove. Removal walks the
// tree bottom-up because cgroup directories can only be rmdir'ed once empty of children.
import { mkdir, readFile, readdir, rmdir, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

function hasCode(err: unknown, ...codes: string[]): boolean {
  return codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

export async function ensureCgroup(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}

export async function cgroupExists(dir: string): Promise<boolean> {
  try {
    return (await stat(dir)).isDirectory();
  } catch (err) {
    if (hasCode(err, 'ENOENT')) return false;
    throw err;
  }
}

async function childDirs(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries.filter((e) => e.isDirectory()).map((e) => join(dir, e.name));
}

/** Pids directly in one cgroup (not its children). */
export async function cgroupOwnPids(dir: string): Promise<number[]> {
  try {
    const text = await readFile(join(dir, 'cgroup.procs'), 'utf8');
    return text.split('\n').filter(Boolean).map(Number);
  } catch (err) {
    if (hasCode(err, 'ENOENT', 'ENODEV')) return [];
    throw err;
  }
}

/** Every live pid in the cgroup and all its descendants. */
export async function cgroupTreePids(dir: string): Promise<number[]> {
  if (!(await cgroupExists(dir))) return [];
  const pids = await cgroupOwnPids(dir);
  let children: string[];
  try {
    children = await childDirs(dir);
  } catch (err) {
    if (hasCode(err, 'ENOENT')) return pids; // removed while we looked
    throw err;
  }
  for (const child of children) pids.push(...(await cgroupTreePids(child)));
  return pids.sort((a, b) => a - b);
}

/** Sends a signal to every process in the tree (pids that exited meanwhile are ignored). */
export async function signalCgroupTree(dir: string, signal: NodeJS.Signals): Promise<number> {
  const pids = await cgroupTreePids(dir);
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if (!hasCode(err, 'ESRCH')) throw err;
    }
  }
  return pids.length;
}

/** SIGKILLs everything in the tree at once through cgroup.kill (kernel >= 5.14). */
export async function killCgroupTree(dir: string): Promise<void> {
  if (!(await cgroupExists(dir))) return;
  try {
    await writeFile(join(dir, 'cgroup.kill'), '1');
  } catch (err) {
    if (hasCode(err, 'ENOENT')) {
      // No cgroup.kill (old kernel, or dir removed meanwhile): fall back to signalling pids.
      await signalCgroupTree(dir, 'SIGKILL');
      return;
    }
    throw err;
  }
}

/** Removes the directory tree bottom-up; missing directories are fine, busy ones are retried. */
export async function removeCgroupTree(dir: string, options: { timeoutMs?: number } = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    try {
      await removeTreeOnce(dir);
      return;
    } catch (err) {
      // EBUSY: killed processes are still exiting; wait for the kernel to empty the cgroup.
      if (!hasCode(err, 'EBUSY') || Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

async function removeTreeOnce(dir: string): Promise<void> {
  let children: string[];
  try {
    children = await childDirs(dir);
  } catch (err) {
    if (hasCode(err, 'ENOENT')) return;
    throw err;
  }
  for (const child of children) await removeTreeOnce(child);
  try {
    await rmdir(dir);
  } catch (err) {
    if (!hasCode(err, 'ENOENT')) throw err;
  }
}

/** Moves a process into a cgroup (only used for the bed's own processes). */
export async function moveIntoCgroup(dir: string, pid: number): Promise<void> {
  await writeFile(join(dir, 'cgroup.procs'), String(pid));
}

/** Waits until no process is left in the tree. */
export async function waitCgroupEmpty(dir: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await cgroupTreePids(dir)).length === 0) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return (await cgroupTreePids(dir)).length === 0;
}
