// `npm run bed -- <command>`: the test bed CLI (see USAGE in cli-args.ts and the README).
// Exit codes: 0 success, 1 failure, 2 bad command line; `exec` passes the command's code through.
import { USAGE, UsageError, parseCommandLine, stringFlag, type ParsedCommandLine } from './cli-args.js';
import { resolveStateDir } from './bed-paths.js';
import { describeApiError } from './api-error-text.js';
import { bedContext, type BedContext } from './commands/bed-context.js';

type Command = (ctx: BedContext, parsed: ParsedCommandLine) => Promise<number>;

// Commands load on demand: the Kubernetes client takes a second to import on a busy machine,
// and exec/status/down do not need it.
const COMMANDS: Record<string, () => Promise<Command>> = {
  up: async () => (await import('./commands/up.js')).upCommand,
  down: async () => (await import('./commands/down.js')).downCommand,
  status: async () => (await import('./commands/status.js')).statusCommand,
  run: async () => (await import('./commands/run.js')).runCommand,
  exec: async () => (await import('./commands/exec.js')).execCommand,
  delete: async () => (await import('./commands/delete.js')).deleteCommand,
  help: async () => async () => {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  },
};

async function main(argv: string[]): Promise<number> {
  let parsed: ParsedCommandLine;
  try {
    parsed = parseCommandLine(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`bed: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  try {
    const ctx = bedContext(resolveStateDir(stringFlag(parsed, 'state')));
    const command = await COMMANDS[parsed.command]!();
    return await command(ctx, parsed);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`bed ${parsed.command}: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`bed ${parsed.command}: ${describeApiError(err)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
