// The bed a benchmark run uses (one or two nodes), driven as a user drives it: the bed CLI with the run's
// own --state directory, kubectl with the bed's kubeconfig, commands run inside pods (`bed exec`).
// Every child process honours the run's AbortSignal, so Ctrl-C stops a round at once; `down`
// itself runs in its own process group so a second Ctrl-C cannot interrupt the cleanup.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import type { BedStatus } from '../kit/index.js';
import { parsePrometheusText, type Sample } from '../../agent/src/cli/prometheus-text.js';
import type { OutboundTunnels } from './mesh-counters.js';

const bedMain = fileURLToPath(new URL('../kit/bed/main.js', import.meta.url));

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  signal?: AbortSignal;
  timeoutMs: number;
  input?: string;
  detached?: boolean;
}

function runCommand(file: string, args: string[], options: RunOptions): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], signal: options.signal, detached: options.detached ?? false });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} ${args.join(' ')} did not finish within ${options.timeoutMs} ms; stderr: ${stderr}`));
    }, options.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

function okOrThrow(what: string, result: CommandResult): string {
  if (result.code !== 0) throw new Error(`${what} exited ${result.code}: ${result.stderr.trim()}${result.stdout.trim()}`);
  return result.stdout;
}

export interface AgentIdentities {
  certificates: { identity: string; serialNumber: string; notAfter: string }[];
  outboundTunnels: OutboundTunnels | null;
}

export class BenchBed {
  private constructor(
    private readonly dir: TempDir,
    private readonly signal: AbortSignal,
  ) {}

  /** A bed state directory of its own; nothing runs until up(). */
  static async create(signal: AbortSignal): Promise<BenchBed> {
    return new BenchBed(await makeTempDir('bench'), signal);
  }

  get state(): string {
    return this.dir.path;
  }

  get kubeconfig(): string {
    return join(this.dir.path, 'kubeconfig');
  }

  bed(args: string[], timeoutMs = 120_000, input?: string): Promise<CommandResult> {
    return runCommand(process.execPath, [bedMain, ...args.slice(0, 1), '--state', this.state, ...args.slice(1)], { signal: this.signal, timeoutMs, input });
  }

  async bedOk(args: string[], timeoutMs = 120_000): Promise<string> {
    return okOrThrow(`bed ${args.join(' ')}`, await this.bed(args, timeoutMs));
  }

  async up(nodes: number): Promise<void> {
    await this.bedOk(['up', '--nodes', String(nodes)], 240_000);
  }

  /**
   * Removes everything the bed created, then the state directory (kept if `down` failed, so it
   * can be run again by hand); safe after a failed or interrupted up.
   */
  async down(): Promise<void> {
    const result = await runCommand(process.execPath, [bedMain, 'down', '--state', this.state], { timeoutMs: 120_000, detached: true });
    okOrThrow('bed down', result);
    await this.dir.remove();
  }

  async kubectl(args: string[], input?: string): Promise<string> {
    const result = await runCommand('kubectl', ['--kubeconfig', this.kubeconfig, ...args], { signal: this.signal, timeoutMs: 60_000, input });
    return okOrThrow(`kubectl ${args.join(' ')}`, result);
  }

  async status(): Promise<BedStatus> {
    return JSON.parse(await this.bedOk(['status'])) as BedStatus;
  }

  /** Runs a command inside a pod (its network namespace and cgroup), as `kubectl exec` would. */
  exec(pod: string, namespace: string, command: string[], timeoutMs = 60_000): Promise<CommandResult> {
    return this.bed(['exec', pod, '-n', namespace, '--', ...command], timeoutMs);
  }

  /** Runs a command in a node's network namespace. */
  execOnNode(node: string, command: string[]): Promise<CommandResult> {
    return this.bed(['exec', '--node', node, '--', ...command]);
  }

  /** The node agent's metrics, scraped from inside the node as Prometheus would. */
  async metrics(node: { name: string; ip: string }): Promise<Sample[]> {
    const result = await this.execOnNode(node.name, ['curl', '-sf', '-m', '10', `http://${node.ip}:15020/metrics`]);
    return parsePrometheusText(okOrThrow(`scraping ${node.name}'s agent metrics`, result));
  }

  /**
   * The agent's /debug/identities: its workload certificates and its HBONE connector's session
   * counts. Debug endpoints answer on loopback only, so this asks 127.0.0.1 inside the node.
   */
  async identities(node: { name: string }): Promise<AgentIdentities> {
    const result = await this.execOnNode(node.name, ['curl', '-sf', '-m', '10', 'http://127.0.0.1:15020/debug/identities']);
    const text = okOrThrow(`reading ${node.name}'s /debug/identities`, result);
    const parsed = JSON.parse(text) as Partial<AgentIdentities>;
    if (!Array.isArray(parsed.certificates) || parsed.outboundTunnels === undefined) {
      throw new Error(`${node.name}'s /debug/identities lacks certificates or outboundTunnels: ${text.slice(0, 300)}`);
    }
    return parsed as AgentIdentities;
  }
}
