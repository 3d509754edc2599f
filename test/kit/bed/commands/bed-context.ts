// What every command needs: the resolved state dir, its paths and (for commands that talk to a
// running bed) the bed record and a kubeconfig.
import { bedPaths, type BedPaths } from '../bed-paths.js';
import { readBedRecord, type BedRecord } from '../bed-state.js';
import { isOurProcess } from '../bed-processes.js';

export class BedNotRunningError extends Error {}

export interface BedContext {
  stateDir: string;
  paths: BedPaths;
}

export function bedContext(stateDir: string): BedContext {
  return { stateDir, paths: bedPaths(stateDir) };
}

/** The running bed's record; a clear error when there is none or its daemon is gone. */
export async function requireRunningBed(ctx: BedContext): Promise<BedRecord> {
  const record = await readBedRecord(ctx.paths.bedJson);
  if (!record) throw new BedNotRunningError(`no bed is running with state ${ctx.stateDir} (start one with: npm run bed -- up --state ${ctx.stateDir})`);
  if (!(await isOurProcess(record.daemonPid, ['daemon-main.js', ctx.stateDir]))) {
    throw new BedNotRunningError(`the bed daemon for ${ctx.stateDir} (pid ${record.daemonPid}) is not running; run "down" to clean up, then "up"`);
  }
  if (record.phase !== 'ready') throw new BedNotRunningError(`the bed at ${ctx.stateDir} is ${record.phase}, not ready`);
  return record;
}
