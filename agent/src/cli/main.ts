#!/usr/bin/env node
// `weft`: the command line. `weft agent` runs the node agent; `weft ca` the certificate authority;
// `weft stat` reads a node's metrics.
import { UsageError } from './usage-error.js';
import { POLICY_USAGE } from './policy-usage.js';
import { runStat, StatError, STAT_USAGE } from './stat-command.js';

const USAGE = `usage: weft <command> [flags]
commands:
  agent   run the node agent (see weft agent --help)
  ca      run the certificate authority (see weft ca --help)
  check   can this node run the agent? (kernel, BTF, cgroup v2, bpffs, capabilities, programs)
  controller  write the status of Weft's policies (one leader among its replicas)
  convert istio  Istio AuthorizationPolicies to Weft's (lists what cannot be converted)
  policy  explain what the authorization policies decide for one call
  stat    per-service request stats from one node's metrics
${STAT_USAGE}
${POLICY_USAGE}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'agent': {
      const { runAgent } = await import('./agent-command.js');
      return runAgent(rest);
    }
    case 'ca': {
      const { runCa } = await import('./ca-command.js');
      return runCa(rest);
    }
    case 'controller': {
      const { runController } = await import('./controller-command.js');
      return runController(rest);
    }
    case 'check': {
      const { runCheck } = await import('./check-command.js');
      return runCheck(rest, process.stdout);
    }
    case 'policy': {
      const { runPolicy } = await import('./policy-command.js');
      return runPolicy(rest, process.stdout);
    }
    case 'convert': {
      const { runConvert } = await import('./convert-command.js');
      return runConvert(rest, process.stdout, process.stderr);
    }
    case 'stat':
      await runStat(rest, process.stdout);
      return 0;
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`weft: ${err.message}\n${USAGE}\n`);
      process.exitCode = 2;
    } else if (err instanceof StatError) {
      process.stderr.write(`weft stat: ${err.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`weft: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
