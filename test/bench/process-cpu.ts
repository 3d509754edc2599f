// CPU time consumed so far, read from the kernel: a process's utime+stime (/proc/PID/stat, in
// clock ticks) and a cgroup's usage_usec (cpu.stat, the whole tree). Differences of two readings
// give the CPU a round cost.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

let clockTicksPerSecond: number | undefined;

function ticksPerSecond(): number {
  if (clockTicksPerSecond === undefined) {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (!Number.isInteger(value) || value <= 0) throw new Error(`getconf CLK_TCK gave "${value}", not a tick rate`);
    clockTicksPerSecond = value;
  }
  return clockTicksPerSecond;
}

export interface ProcessCpu {
  userSeconds: number;
  systemSeconds: number;
}

/** utime and stime of one process (its threads included, children not), in seconds. */
export function processCpu(pid: number): ProcessCpu {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Fields 14 (utime) and 15 (stime) of proc(5); fields[0] here is field 3 (state).
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`/proc/${pid}/stat has no utime/stime: ${text}`);
  return { userSeconds: utime / ticksPerSecond(), systemSeconds: stime / ticksPerSecond() };
}

/** CPU used by every process that ever ran in a cgroup tree, in seconds. */
export function cgroupCpuSeconds(cgroupDir: string): number {
  const text = readFileSync(join(cgroupDir, 'cpu.stat'), 'utf8');
  const match = /^usage_usec (\d+)$/m.exec(text);
  if (!match) throw new Error(`${cgroupDir}/cpu.stat has no usage_usec line`);
  return Number(match[1]) / 1e6;
}
