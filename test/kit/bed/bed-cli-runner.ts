// Test helper: runs the bed CLI (the compiled dist/test/kit/bed/main.js, as `npm run bed` does after
// its tsc step) with a given --state, capturing output and the exit code.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bedMain = fileURLToPath(new URL('./main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runBedCli(stateDir: string, args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bedMain, ...args.slice(0, 1), '--state', stateDir, ...args.slice(1)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bed ${args.join(' ')} did not finish within ${options.timeoutMs ?? 180_000} ms; stderr: ${stderr}`));
    }, options.timeoutMs ?? 180_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Like runBedCli but fails with the CLI's stderr unless it exits 0. */
export async function bedOk(stateDir: string, args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const result = await runBedCli(stateDir, args, options);
  if (result.code !== 0) throw new Error(`bed ${args.join(' ')} exited ${result.code}: ${result.stderr}${result.stdout}`);
  return result.stdout;
}
