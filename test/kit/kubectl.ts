// kubectl as the tests run it: the real binary against a kubeconfig, stdin when given, stdout
// back; a non-zero exit rejects with kubectl's stderr in the message.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export async function kubectl(kubeconfig: string, args: string[], input?: string, timeoutMs = 60_000): Promise<string> {
  const child = execFileAsync('kubectl', ['--kubeconfig', kubeconfig, ...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (input !== undefined) child.child.stdin?.end(input);
  return (await child).stdout;
}
