// `up --from-chart`: installs the Weft Helm chart the way `helm install` would put it on a
// cluster - render with `helm template` (scripts/helm.sh), create the release namespace, apply the
// chart's crds/ first and then every rendered object with kubectl - so the bed runs exactly the
// RBAC, commands, flags, env and volumes the chart renders.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { runHostCommand } from './host-command.js';
import { repoRoot } from '../../support/repo-root.js';

export const CHART_DIR = join(repoRoot, 'charts', 'weft');
export const RELEASE_NAME = 'weft';
export const RELEASE_NAMESPACE = 'weft-system';
const HELM = join(repoRoot, 'scripts', 'helm.sh');
const KUBECTL_TIMEOUT_MS = 120_000;

export interface RenderedObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
}

/** `helm template <release> <chart> -n <ns> [-f values]`: the manifests, as one YAML stream. */
export async function renderChart(valuesFile: string | null, chartDir = CHART_DIR): Promise<string> {
  const args = ['template', RELEASE_NAME, chartDir, '-n', RELEASE_NAMESPACE];
  if (valuesFile) args.push('-f', valuesFile);
  return (await runHostCommand(HELM, args, { timeoutMs: 120_000 })).stdout;
}

/**
 * The objects of a YAML stream (empty documents, as helm leaves for disabled templates,
 * skipped); a document that is not an object with apiVersion, kind and metadata.name is an error.
 */
export function parseManifests<T extends RenderedObject = RenderedObject>(text: string): T[] {
  const objects: T[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors[0]!.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`rendered document is not an object: ${JSON.stringify(value).slice(0, 200)}`);
    const object = value as T;
    if (typeof object.apiVersion !== 'string' || typeof object.kind !== 'string' || typeof object.metadata?.name !== 'string') {
      throw new Error(`rendered object lacks apiVersion, kind or metadata.name: ${JSON.stringify(value).slice(0, 200)}`);
    }
    objects.push(object);
  }
  return objects;
}

async function kubectl(kubeconfig: string, args: string[], input?: string): Promise<string> {
  return (await runHostCommand('kubectl', ['--kubeconfig', kubeconfig, ...args], { timeoutMs: KUBECTL_TIMEOUT_MS, input })).stdout;
}

/** The chart's crds/*.yaml|yml|json files (helm installs them before the templates, never templated). */
async function crdFiles(chartDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(join(chartDir, 'crds'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names.filter((n) => /\.(ya?ml|json)$/.test(n)).sort().map((n) => join(chartDir, 'crds', n));
}

export interface ChartInstallOptions {
  kubeconfig: string;
  valuesFile: string | null;
  chartDir?: string;
  log: (msg: string, fields?: object) => void;
}

/**
 * The chart's CRDs, applied and Established, as helm installs them before the templates. Beds
 * that run the agents themselves (not from the chart) apply them too: the agents read Weft's
 * policies, and tests create them.
 */
export async function applyChartCrds(options: Pick<ChartInstallOptions, 'kubeconfig' | 'chartDir' | 'log'>): Promise<void> {
  const crds = await crdFiles(options.chartDir ?? CHART_DIR);
  if (crds.length === 0) return;
  await kubectl(options.kubeconfig, ['apply', ...crds.flatMap((file) => ['-f', file])]);
  await kubectl(options.kubeconfig, ['wait', '--for', 'condition=Established', '--timeout', '60s', ...crds.flatMap((file) => ['-f', file])]);
  options.log('chart CRDs applied', { files: crds });
}

/** Renders and applies the chart; returns the rendered objects (what to wait for). */
export async function installChart(options: ChartInstallOptions): Promise<RenderedObject[]> {
  const chartDir = options.chartDir ?? CHART_DIR;
  const manifests = await renderChart(options.valuesFile, chartDir);
  const objects = parseManifests(manifests);
  await kubectl(options.kubeconfig, ['create', 'namespace', RELEASE_NAMESPACE, '--dry-run=client', '-o', 'yaml'])
    .then((ns) => kubectl(options.kubeconfig, ['apply', '-f', '-'], ns));
  await applyChartCrds(options);
  await kubectl(options.kubeconfig, ['apply', '-f', '-'], manifests);
  options.log('chart applied', { objects: objects.map((o) => `${o.kind}/${o.metadata.name}`) });
  return objects;
}
