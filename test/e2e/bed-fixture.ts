// A two-node bed for end-to-end tests, driven the way users drive it: the bed CLI, kubectl
// with the bed's kubeconfig, and commands run inside pods and nodes. Each fixture has its own
// state directory (so its own namespaces, cgroups and pins) and is taken down in after().
// WEFT_E2E_BED_MODE picks how the bed runs Weft: `supervised` (default: the bed's own agent and CA
// supervisors) or `chart` (`up --from-chart`: the Helm chart's DaemonSet and Deployment, with its
// RBAC, flags and volumes), so the same tests prove the chart.
import { execFile } from 'node:child_process';
import { cp, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { bedOk, runBedCli, type CliResult } from '../kit/index.js';
import type { BedStatus } from '../kit/index.js';
import { parsePrometheusText, type Sample } from '../../agent/src/cli/prometheus-text.js';
import { repoRoot } from '../support/repo-root.js';

const execFileAsync = promisify(execFile);

export const echoServer = join(repoRoot, 'dist', 'test', 'e2e', 'fixtures', 'echo-server.js');
/** Sends raw requests over one connection from inside a pod (fixtures/raw-http-client.ts). */
export const rawHttpClient = join(repoRoot, 'dist', 'test', 'e2e', 'fixtures', 'raw-http-client.js');

export type E2eBedMode = 'supervised' | 'chart';

export function e2eBedMode(value = process.env.WEFT_E2E_BED_MODE): E2eBedMode {
  if (value === undefined || value === '' || value === 'supervised') return 'supervised';
  if (value === 'chart') return 'chart';
  throw new Error(`WEFT_E2E_BED_MODE must be "supervised" or "chart", got "${value}"`);
}

/**
 * `bed up` flags for chart mode: --from-chart, and the supervised flags the tests use turned into
 * chart values (--cert-ttl D -> certTtl: D), written next to the state dir.
 */
async function chartUpFlags(upFlags: readonly string[], valuesFile: string): Promise<string[]> {
  const values: string[] = [];
  for (let i = 0; i < upFlags.length; i++) {
    if (upFlags[i] === '--cert-ttl' && upFlags[i + 1] !== undefined) values.push(`certTtl: "${upFlags[++i]}"`);
    else throw new Error(`bed flag ${upFlags[i]} has no chart-mode equivalent (WEFT_E2E_BED_MODE=chart)`);
  }
  if (values.length === 0) return ['--from-chart'];
  await writeFile(valuesFile, `${values.join('\n')}\n`);
  return ['--from-chart', '--values', valuesFile];
}

export class BedFixture {
  private constructor(private readonly dir: TempDir) {}

  get state(): string {
    return this.dir.path;
  }

  get kubeconfig(): string {
    return join(this.dir.path, 'kubeconfig');
  }

  /** `upFlags` are extra `bed up` flags, e.g. ['--cert-ttl', '60s']. */
  static async up(prefix: string, nodes = 2, upFlags: readonly string[] = []): Promise<BedFixture> {
    const fixture = new BedFixture(await makeTempDir(prefix));
    try {
      const flags = e2eBedMode() === 'chart' ? await chartUpFlags(upFlags, join(fixture.state, 'chart-values.yaml')) : [...upFlags];
      await bedOk(fixture.state, ['up', '--nodes', String(nodes), ...flags], { timeoutMs: 300_000 });
    } catch (err) {
      // a half-built bed is still removed: its namespaces, cgroups and processes are ours
      await fixture.down();
      throw err;
    }
    return fixture;
  }

  /**
   * Takes the bed down and removes its state; with WEFT_E2E_KEEP_LOGS=DIR its logs are copied
   * there first (a rare failure can then be read after the fact).
   */
  async down(): Promise<void> {
    try {
      const keep = process.env.WEFT_E2E_KEEP_LOGS;
      if (keep) await cp(join(this.state, 'logs'), join(keep, basename(this.state)), { recursive: true }).catch(() => undefined);
      await bedOk(this.state, ['down'], { timeoutMs: 120_000 });
    } finally {
      await this.dir.remove();
    }
  }

  bed(args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
    return runBedCli(this.state, args, options);
  }

  bedOk(args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    return bedOk(this.state, args, options);
  }

  /** kubectl that reports a refusal instead of throwing: for tests of bad input. */
  async kubectlResult(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      return { code: 0, stdout: await this.kubectl(args, input), stderr: '' };
    } catch (err) {
      const failed = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof failed.code === 'number' ? failed.code : 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? String(err) };
    }
  }

  async kubectl(args: string[], input?: string): Promise<string> {
    const child = execFileAsync('kubectl', ['--kubeconfig', this.kubeconfig, ...args], { timeout: 60_000 });
    if (input !== undefined) child.child.stdin?.end(input);
    return (await child).stdout;
  }

  async status(): Promise<BedStatus> {
    return JSON.parse(await this.bedOk(['status'])) as BedStatus;
  }

  /** Runs a pod with the echo server and waits until it is Ready. */
  async runEcho(name: string, namespace: string, node: string, mode: 'http' | 'banner', port: number, labels: string): Promise<void> {
    await this.bedOk(['run', name, '-n', namespace, '--node', node, '--labels', labels, '--port', String(port), '--', process.execPath, echoServer, mode, String(port), name]);
  }

  /** Runs a pod in a pod (as `kubectl exec` would) and returns its result without throwing. */
  exec(pod: string, namespace: string, command: string[], input?: string): Promise<CliResult> {
    return this.bed(['exec', pod, '-n', namespace, '--', ...command], { input, timeoutMs: 60_000 });
  }

  /** The node agent's metrics, scraped from inside the node as Prometheus would. */
  async metrics(node: string): Promise<Sample[]> {
    const ip = (await this.status()).nodes.find((n) => n.name === node)!.ip;
    const text = await this.bedOk(['exec', '--node', node, '--', 'curl', '-sf', `http://${ip}:15020/metrics`]);
    return parsePrometheusText(text);
  }
}

/** Sum of a metric's samples whose labels include every given label. */
export function sumMetric(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) total += s.value;
  }
  return total;
}
