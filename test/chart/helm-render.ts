// Runs `helm template` on charts/weft with the repository's helm (scripts/helm.sh) and parses
// what it renders into plain objects, so tests look at exactly what `helm install` would send.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../support/repo-root.js';
import { parseManifests } from '../kit/index.js';

export const chartDir = join(repoRoot, 'charts', 'weft');
const helmScript = join(repoRoot, 'scripts', 'helm.sh');

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export interface HelmResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RenderOptions {
  namespace?: string;
  releaseName?: string;
  /** Value files, relative to test/chart/values/ or absolute. */
  valueFiles?: string[];
  /** `--set` assignments such as `agent.logLevel=debug`. */
  set?: string[];
}

/** Runs scripts/helm.sh with these arguments (and extra environment); never throws on a non-zero exit. */
export function runHelm(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<HelmResult> {
  return new Promise((resolve, reject) => {
    const options = { cwd: repoRoot, maxBuffer: 32 * 1024 * 1024, env: { ...process.env, ...env } };
    execFile(helmScript, [...args], options, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        reject(new Error(`cannot run ${helmScript}: ${error.message}`));
        return;
      }
      resolve({ exitCode: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

export function templateArgs(options: RenderOptions = {}): string[] {
  const args = ['template', options.releaseName ?? 'weft', chartDir, '--namespace', options.namespace ?? 'weft-system'];
  for (const file of options.valueFiles ?? []) args.push('--values', file.startsWith('/') ? file : join(chartDir, '..', '..', 'test', 'chart', 'values', file));
  for (const assignment of options.set ?? []) args.push('--set', assignment);
  return args;
}

/** Renders the chart; a failing `helm template` is an error carrying helm's message. */
export async function renderChart(options: RenderOptions = {}): Promise<KubeObject[]> {
  const result = await runHelm(templateArgs(options));
  if (result.exitCode !== 0) throw new Error(`helm template failed (exit ${result.exitCode}): ${result.stderr}`);
  return parseManifests<KubeObject>(result.stdout);
}

export { parseManifests };

/** The one object of this kind and name; fails clearly when it is missing or repeated. */
export function findObject<T = any>(objects: readonly KubeObject[], kind: string, name: string): T {
  const matches = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  if (matches.length !== 1) {
    const present = objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ');
    throw new Error(`expected exactly one ${kind}/${name}, found ${matches.length} among: ${present}`);
  }
  return matches[0] as T;
}
