// Runs host tools (`ip`, `nsenter`, `sysctl`, ...) for the bed. Every failure names the exact
// command line and its stderr, so a broken bed says which step went wrong instead of "exit 1".
import { execFile } from 'node:child_process';

export class HostCommandError extends Error {
  constructor(
    readonly commandLine: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`command failed (exit ${exitCode ?? 'signal'}): ${commandLine}${stderr ? `: ${stderr.trim()}` : ''}`);
    this.name = 'HostCommandError';
  }
}

export interface HostCommandResult {
  stdout: string;
  stderr: string;
}

/** Runs `file args...` without a shell and resolves with its output; rejects with HostCommandError. */
export function runHostCommand(file: string, args: string[], options: { timeoutMs?: number; input?: string } = {}): Promise<HostCommandResult> {
  const commandLine = [file, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: options.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) {
          const code = typeof (error as NodeJS.ErrnoException & { code?: unknown }).code === 'number'
            ? ((error as unknown as { code: number }).code)
            : null;
          const detail = stderr || error.message;
          reject(new HostCommandError(commandLine, code, detail));
          return;
        }
        resolve({ stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** `ip ARGS...` in the root namespace (only used for netns bookkeeping, never for root links). */
export function ip(args: string[]): Promise<HostCommandResult> {
  return runHostCommand('ip', args);
}

/** `ip -n NETNS ARGS...`: an `ip` command inside the named network namespace. */
export function ipIn(netns: string, args: string[]): Promise<HostCommandResult> {
  return runHostCommand('ip', ['-n', netns, ...args]);
}

/**
 * Several `ip` commands in one namespace with one process (`ip -n NETNS -batch -`), which keeps
 * pod start-up fast; the error names every line of the batch.
 */
export async function ipBatchIn(netns: string, lines: string[][]): Promise<HostCommandResult> {
  const script = lines.map((words) => words.join(' ')).join('\n');
  try {
    return await runHostCommand('ip', ['-n', netns, '-batch', '-'], { input: `${script}\n` });
  } catch (err) {
    if (err instanceof HostCommandError) {
      throw new HostCommandError(`ip -n ${netns} -batch - <<< [${lines.map((l) => l.join(' ')).join('; ')}]`, err.exitCode, err.stderr);
    }
    throw err;
  }
}

/** Runs a command inside a network namespace with nsenter (not `ip netns exec`, which remounts /sys). */
export function inNetns(netns: string, command: string[]): Promise<HostCommandResult> {
  return runHostCommand('nsenter', [`--net=/run/netns/${netns}`, '--', ...command]);
}
