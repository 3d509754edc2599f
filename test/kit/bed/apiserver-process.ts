// Starts the in-repo API server (its CLI, with the node IPs as extra certificate names) as a child process of the daemon and waits for the apiserver.json it writes once
// listening (see contracts.md).
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readJsonIfExists } from './bed-state.js';
import { waitFor } from '../../support/wait-for.js';

const apiserverMain = fileURLToPath(new URL('../apiserver/main.js', import.meta.url));
const START_TIMEOUT_MS = 60_000;

export interface ApiServerInfo {
  url: string;
  port: number;
  kubeconfig: string;
  pid: number;
}

export interface ApiServerProcess {
  child: ChildProcess;
  info: ApiServerInfo;
}

/** `extraSans`: addresses besides 127.0.0.1/localhost the serving certificate names (node IPs). */
export async function startApiServerProcess(stateDir: string, logFile: string, extraSans: string[] = []): Promise<ApiServerProcess> {
  await mkdir(stateDir, { recursive: true });
  const infoFile = join(stateDir, 'apiserver.json');
  const logFd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [apiserverMain, '--state', stateDir, '--listen', '127.0.0.1:0', ...extraSans.flatMap((san) => ['--extra-san', san])], {
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  let exited: string | null = null;
  child.once('exit', (code, signal) => {
    exited = `exit ${code ?? signal}`;
  });
  const info = await waitFor(async () => {
    if (exited) throw new Error(`API server exited during start-up (${exited}); see ${logFile}`);
    const written = await readJsonIfExists<ApiServerInfo>(infoFile);
    return written && written.pid === child.pid ? written : undefined;
  }, { timeoutMs: START_TIMEOUT_MS, intervalMs: 100, what: `the API server to write ${infoFile}` });
  if (exited) throw new Error(`API server exited during start-up (${exited}); see ${logFile}`);
  return { child, info };
}
