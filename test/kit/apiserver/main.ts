// CLI: node dist/test/kit/apiserver/main.js --state DIR [--listen HOST:PORT] [--service-cidr CIDR]
// [--watch-window N] [--extra-san ADDR ...]. Writes DIR/apiserver.json once listening, prints it
// on stdout, and exits 0 on SIGTERM/SIGINT. --extra-san adds names/addresses to the serving
// certificate (the bed adds its node IPs, where pods reach the API server through a relay).
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startApiServer } from './server.js';

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: main.js --state DIR [--listen HOST:PORT] [--service-cidr CIDR] [--watch-window N] [--extra-san ADDR ...]\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        state: { type: 'string' },
        listen: { type: 'string' },
        'service-cidr': { type: 'string' },
        'watch-window': { type: 'string' },
        'extra-san': { type: 'string', multiple: true },
      },
      strict: true,
    }));
  } catch (err) {
    usage((err as Error).message);
  }
  if (!values.state) usage('--state DIR is required');
  let host = '127.0.0.1';
  let port = 0;
  if (values.listen) {
    const m = /^(.*):(\d+)$/.exec(values.listen);
    if (!m) usage(`--listen must be HOST:PORT, got "${values.listen}"`);
    host = m[1]!.replace(/^\[(.*)\]$/, '$1');
    port = Number(m[2]);
  }
  let watchWindow: number | undefined;
  if (values['watch-window'] !== undefined) {
    watchWindow = Number(values['watch-window']);
    if (!Number.isInteger(watchWindow) || watchWindow < 0) usage(`--watch-window must be a non-negative integer, got "${values['watch-window']}"`);
  }
  const stateDir = resolve(values.state);
  const server = await startApiServer({
    stateDir,
    host,
    port,
    serviceCIDR: values['service-cidr'],
    watchWindow,
    extraSubjectAltNames: values['extra-san'] ?? [],
  });
  const info = { url: server.url, port: server.port, kubeconfig: server.kubeconfigPath, pid: process.pid };
  await writeFile(join(stateDir, 'apiserver.json'), `${JSON.stringify(info)}\n`);
  process.stdout.write(`${JSON.stringify(info)}\n`);
  const stop = (): void => {
    server.close().then(() => process.exit(0), (err: unknown) => {
      process.stderr.write(`shutdown failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`apiserver failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
