// Finding and stopping the bed's processes safely. A pid recorded in bed.json is only signalled
// after /proc/<pid>/cmdline shows it is still the process we started (pids get reused after a
// crash or reboot); processes inside the bed's namespaces are found by namespace inode.
import { readdir, readFile, readlink } from 'node:fs/promises';
import { readFileSync } from 'node:fs';

function hasCode(err: unknown, ...codes: string[]): boolean {
  return codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

export async function processCommandLine(pid: number): Promise<string[] | null> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter(Boolean);
  } catch (err) {
    if (hasCode(err, 'ENOENT', 'ESRCH')) return null;
    throw err;
  }
}

/**
 * True while the process exists and is not a zombie. Zombies count as gone: on this kind of
 * machine PID 1 may reap orphans late, and a zombie holds no resources.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (hasCode(err, 'ESRCH')) return false;
    throw err;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3 (after the parenthesised command name) is the state letter.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch (err) {
    if (hasCode(err, 'ENOENT', 'ESRCH')) return false;
    throw err;
  }
}

/** True while `pid` runs a command line containing every one of `markers`. */
export async function isOurProcess(pid: number, markers: string[]): Promise<boolean> {
  const commandLine = await processCommandLine(pid);
  if (!commandLine) return false;
  const text = commandLine.join(' ');
  return markers.every((marker) => text.includes(marker));
}

export function signalIfAlive(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if (!hasCode(err, 'ESRCH')) throw err;
  }
}

/** SIGTERM, then SIGKILL after `graceMs` if it still runs; resolves once it is gone. */
export async function stopProcess(pid: number, graceMs: number): Promise<void> {
  signalIfAlive(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  if (isAlive(pid)) signalIfAlive(pid, 'SIGKILL');
  const killDeadline = Date.now() + 5000;
  while (isAlive(pid) && Date.now() < killDeadline) await new Promise((resolve) => setTimeout(resolve, 20));
}

/** Pids whose network namespace is one of `inodes` (matches /proc/<pid>/ns/net = "net:[inode]"). */
export async function pidsInNetns(inodes: Set<number>): Promise<number[]> {
  if (inodes.size === 0) return [];
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let link: string;
    try {
      link = await readlink(`/proc/${entry}/ns/net`);
    } catch (err) {
      if (hasCode(err, 'ENOENT', 'ESRCH', 'EACCES')) continue; // exited meanwhile, or a kernel thread
      throw err;
    }
    const inode = Number(/net:\[(\d+)\]/.exec(link)?.[1]);
    if (inodes.has(inode)) found.push(Number(entry));
  }
  return found;
}
