// `weft agent`: runs the node agent until SIGTERM/SIGINT.
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { loadAgentConfig, AGENT_OPTIONS } from '../config/agent-config.js';
import { ConfigError } from '../config/command-flags.js';
import { createLogger } from '../log/logger.js';
import { Agent } from '../agent.js';
import { UsageError } from './usage-error.js';
import { stopOnSignal } from './stop-on-signal.js';

/** bpf/build next to the compiled agent: dist/agent/src/cli -> repo root. */
const DEFAULT_OBJECT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'bpf', 'build');

export const AGENT_USAGE = `usage: weft agent [flags]\n${Object.values(AGENT_OPTIONS)
  .map((o) => `  ${o.flag.padEnd(18)} ${o.description} (env ${o.env}${'default' in o ? `, default ${o.default}` : ''})`)
  .join('\n')}`;

export async function runAgent(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${AGENT_USAGE}\n`);
    return 0;
  }
  let config;
  try {
    config = loadAgentConfig(argv, process.env, DEFAULT_OBJECT_DIR);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(`agent: ${err.message}`);
    throw err;
  }
  const log = createLogger(config.logLevel, { node: config.nodeName });
  const agent = new Agent(config, log);
  const stopped = stopOnSignal(log, () => agent.stop());
  try {
    await agent.start();
  } catch (err) {
    log.fatal({ err }, 'agent failed to start');
    await agent.stop().catch((stopErr: unknown) => log.error({ err: stopErr }, 'cleanup after a failed start failed'));
    return 1;
  }
  log.info({ nodeIp: config.nodeIp }, 'agent ready');
  return stopped;
}
