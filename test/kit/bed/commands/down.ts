// `down`: removes everything the bed with this state dir created. Safe to run twice, after a
// crash, or when no bed ever ran.
import { type ParsedCommandLine, positionals } from '../cli-args.js';
import { teardownBed } from '../teardown.js';
import type { BedContext } from './bed-context.js';

export async function downCommand(ctx: BedContext, parsed: ParsedCommandLine): Promise<number> {
  positionals(parsed, []);
  const report = await teardownBed(ctx.stateDir);
  process.stdout.write(`bed at ${ctx.stateDir} is down (${report.netnsRemoved.length} network namespaces removed)\n`);
  return 0;
}
